/*
 * auth: token file handling and a constant-time comparison.
 */
#include "daemon/http/auth.h"

#include <sys/random.h>
#include <sys/stat.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "daemon/log.h"

#define TOKEN_BYTES 32
#define TOKEN_MAX 1024

static char *token;
static size_t token_len;

/* Write a new random token to path (mode 0600, never replacing a file). */
static int
auth_create(const char *path)
{
	unsigned char raw[TOKEN_BYTES];
	char hex[2 * TOKEN_BYTES + 2];
	int fd;
	ssize_t n;

	if (getrandom(raw, sizeof(raw), 0) != (ssize_t)sizeof(raw)) {
		log_warn("getrandom");
		return -1;
	}
	for (size_t i = 0; i < TOKEN_BYTES; i++)
		snprintf(hex + 2 * i, 3, "%02x", raw[i]);
	hex[2 * TOKEN_BYTES] = '\n';
	hex[2 * TOKEN_BYTES + 1] = '\0';
	if ((fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600)) == -1) {
		log_warn("create token file %s", path);
		return -1;
	}
	n = write(fd, hex, 2 * TOKEN_BYTES + 1);
	if (n != 2 * TOKEN_BYTES + 1 || fsync(fd) == -1) {
		log_warn("write token file %s", path);
		close(fd);
		unlink(path);
		return -1;
	}
	close(fd);
	log_info("created a new API token in %s (loopctl finds it there)", path);
	return 0;
}

int
auth_load(const char *path, int create)
{
	char buf[TOKEN_MAX + 2];
	ssize_t n;
	int fd;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1 && errno == ENOENT && create) {
		if (auth_create(path) == -1)
			return -1;
		fd = open(path, O_RDONLY | O_CLOEXEC);
	}
	if (fd == -1) {
		log_warn("token file %s", path);
		return -1;
	}
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n < 0) {
		log_warn("read token file %s", path);
		return -1;
	}
	buf[n] = '\0';
	buf[strcspn(buf, "\r\n")] = '\0';
	if (strlen(buf) < 16 || strlen(buf) > TOKEN_MAX || strpbrk(buf, " \t") != NULL) {
		log_warnx("token file %s: expected one line of 16 to %d characters", path,
		    TOKEN_MAX);
		return -1;
	}
	auth_free();
	if ((token = strdup(buf)) == NULL)
		return -1;
	token_len = strlen(token);
	return 0;
}

int
auth_check(const char *header)
{
	const char *given;
	size_t len;
	unsigned char diff = 0;

	if (header == NULL || token == NULL || strncasecmp(header, "Bearer ", 7) != 0)
		return 0;
	given = header + 7;
	len = strlen(given);
	/* Touch every byte of the token whatever the given length, so the
	 * time taken says nothing about where they differ. */
	for (size_t i = 0; i < token_len; i++)
		diff |= (unsigned char)token[i] ^ (unsigned char)(i < len ? given[i] : 0);
	return diff == 0 && len == token_len;
}

void
auth_free(void)
{
	if (token != NULL) {
		explicit_bzero(token, token_len);
		free(token);
	}
	token = NULL;
	token_len = 0;
}
