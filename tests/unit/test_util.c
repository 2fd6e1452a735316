/*
 * test_util: daemon/util: string vectors, capped buffers, the listen
 * address grammar and secret files.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "daemon/util/addr.h"
#include "daemon/util/outbuf.h"
#include "daemon/util/secret.h"
#include "daemon/util/strv.h"
#include "tests/unit/check.h"

/* Push, length, copy, free (NULL too); a NULL string fails the push. */
static void
test_strv(void)
{
	char **v = NULL, **c = NULL;
	size_t n = 0;

	CHECK_INT_EQ(strv_len(NULL), 0);
	CHECK_INT_EQ(strv_push(&v, &n, strdup("a")), 0);
	CHECK_INT_EQ(strv_push(&v, &n, strdup("bc")), 0);
	CHECK_INT_EQ(strv_push(&v, &n, NULL), -1);
	CHECK_INT_EQ(n, 2);
	CHECK_INT_EQ(strv_len(v), 2);
	CHECK(v[2] == NULL);
	CHECK_INT_EQ(strv_copy(v, &c), 0);
	if (CHECK(c != NULL)) {
		CHECK_STR_EQ(c[0], "a");
		CHECK_STR_EQ(c[1], "bc");
		CHECK(c[2] == NULL);
		CHECK(c[0] != v[0]);
	}
	strv_free(c);
	CHECK_INT_EQ(strv_copy(NULL, &c), 0);
	CHECK(c == NULL);
	strv_free(v);
	strv_free(NULL);
}

/* Bytes past the cap are dropped and the buffer says so. */
static void
test_outbuf(void)
{
	struct outbuf b = { NULL, 0, 0 };

	CHECK_INT_EQ(outbuf_append(&b, "", 0, 5), 0);
	CHECK(b.data == NULL && !b.truncated);
	CHECK_INT_EQ(outbuf_append(&b, "abc", 3, 5), 0);
	CHECK_INT_EQ(b.len, 3);
	CHECK(!b.truncated);
	CHECK_INT_EQ(outbuf_append(&b, "defg", 4, 5), 0);
	CHECK_INT_EQ(b.len, 5);
	CHECK(b.truncated);
	CHECK_STR_EQ(b.data, "abcde");
	CHECK_INT_EQ(outbuf_append(&b, "x", 1, 5), 0);
	CHECK_STR_EQ(b.data, "abcde");
	outbuf_free(&b);
	CHECK(b.data == NULL && b.len == 0 && !b.truncated);
	/* A cap of 0 keeps nothing. */
	CHECK_INT_EQ(outbuf_append(&b, "x", 1, 0), 0);
	CHECK(b.data == NULL && b.truncated);
	outbuf_free(NULL);
}

/* The grammar config and the listeners share. */
static void
test_addr(void)
{
	struct addr_listen a;
	const char *why = NULL;
	char longpath[200];

	CHECK_INT_EQ(addr_parse_listen("127.0.0.1:7700", &a, &why), 0);
	CHECK(!a.is_unix);
	CHECK_STR_EQ(a.host, "127.0.0.1");
	CHECK_STR_EQ(a.port, "7700");
	CHECK_INT_EQ(addr_parse_listen("[::1]:0", &a, &why), 0);
	CHECK_STR_EQ(a.host, "::1");
	CHECK_STR_EQ(a.port, "0");
	CHECK_INT_EQ(addr_parse_listen("localhost:65535", &a, &why), 0);
	CHECK_STR_EQ(a.host, "localhost");
	CHECK_INT_EQ(addr_parse_listen("unix:/run/loopd/loopd.sock", &a, &why), 0);
	CHECK(a.is_unix);
	CHECK_STR_EQ(a.path, "/run/loopd/loopd.sock");
	CHECK_INT_EQ(addr_parse_listen("0.0.0.0:65536", &a, &why), -1);
	CHECK(why != NULL && strstr(why, "HOST:PORT") != NULL);
	CHECK_INT_EQ(addr_parse_listen(":80", &a, &why), -1);
	CHECK_INT_EQ(addr_parse_listen("host", &a, &why), -1);
	CHECK_INT_EQ(addr_parse_listen("host:", &a, &why), -1);
	CHECK_INT_EQ(addr_parse_listen("host:8a", &a, &why), -1);
	CHECK_INT_EQ(addr_parse_listen("host:+8", &a, &why), -1);
	CHECK_INT_EQ(addr_parse_listen("host:000080", &a, &why), -1);
	CHECK_INT_EQ(addr_parse_listen("[::1]80", &a, &why), -1);
	CHECK_INT_EQ(addr_parse_listen("[::1:80", &a, &why), -1);
	CHECK_INT_EQ(addr_parse_listen("unix:relative", &a, &why), -1);
	CHECK(strstr(why, "absolute") != NULL);
	memset(longpath, 'a', sizeof(longpath) - 1);
	longpath[sizeof(longpath) - 1] = '\0';
	memcpy(longpath, "unix:/", 6);
	CHECK_INT_EQ(addr_parse_listen(longpath, &a, &why), -1);
}

/* A file read bounded, its first line, the whole of it. */
static void
test_secret(void)
{
	char path[] = "/tmp/test_util_XXXXXX", buf[8], *all;
	size_t len = 0;
	int fd = mkstemp(path);

	if (!CHECK(fd != -1))
		return;
	CHECK(write(fd, "secret\r\nmore\n", 13) == 13);
	close(fd);
	CHECK_INT_EQ(secret_read(path, buf, sizeof(buf)), 7);
	CHECK_INT_EQ(secret_first_line(buf), 6);
	CHECK_STR_EQ(buf, "secret");
	all = secret_read_all(path, 100, &len);
	CHECK(all != NULL && len == 13 && strcmp(all, "secret\r\nmore\n") == 0);
	free(all);
	errno = 0;
	CHECK(secret_read_all(path, 5, NULL) == NULL && errno == EFBIG);
	CHECK(truncate(path, 0) == 0);
	errno = 0;
	CHECK(secret_read_all(path, 5, NULL) == NULL && errno == ENODATA);
	CHECK_INT_EQ(secret_read(path, buf, sizeof(buf)), 0);
	CHECK_STR_EQ(buf, "");
	unlink(path);
	errno = 0;
	CHECK_INT_EQ(secret_read(path, buf, sizeof(buf)), -1);
	CHECK_INT_EQ(errno, ENOENT);
}

int
main(void)
{
	test_strv();
	test_outbuf();
	test_addr();
	test_secret();
	return check_summary();
}
