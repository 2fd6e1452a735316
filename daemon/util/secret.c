/*
 * secret: small secret files read once, the same way.
 */
#include "daemon/util/secret.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

ssize_t
secret_read(const char *path, char *buf, size_t size)
{
	size_t got = 0;
	ssize_t n = 0;
	int fd, e;

	if (size == 0) {
		errno = EINVAL;
		return -1;
	}
	buf[0] = '\0';
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		return -1;
	while (got < size - 1 && ((n = read(fd, buf + got, size - 1 - got)) > 0 ||
	    (n == -1 && errno == EINTR)))
		if (n > 0)
			got += (size_t)n;
	e = errno;
	close(fd);
	if (n == -1) {
		explicit_bzero(buf, got);
		buf[0] = '\0';
		errno = e;
		return -1;
	}
	buf[got] = '\0';
	return (ssize_t)got;
}

size_t
secret_first_line(char *buf)
{
	size_t n = strcspn(buf, "\r\n");

	buf[n] = '\0';
	return n;
}

char *
secret_read_all(const char *path, size_t max, size_t *len)
{
	char *buf = NULL, *b;
	size_t cap = 0, got = 0;
	ssize_t n;
	int fd, e = 0;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		return NULL;
	for (;;) {
		if (got + 4097 > cap) {
			if ((b = malloc(cap + 8192)) == NULL) {
				e = ENOMEM;
				break;
			}
			if (buf != NULL) {
				memcpy(b, buf, got);
				explicit_bzero(buf, cap);
				free(buf);
			}
			buf = b;
			cap += 8192;
		}
		if ((n = read(fd, buf + got, 4096)) == -1 && errno == EINTR)
			continue;
		if (n == -1) {
			e = errno;
			break;
		}
		if (n == 0)
			break;
		got += (size_t)n;
		if (got > max) {
			e = EFBIG;
			break;
		}
	}
	close(fd);
	if (e == 0 && got == 0)
		e = ENODATA;
	if (e != 0) {
		if (buf != NULL)
			explicit_bzero(buf, cap);
		free(buf);
		errno = e;
		return NULL;
	}
	buf[got] = '\0';
	if (len != NULL)
		*len = got;
	return buf;
}
