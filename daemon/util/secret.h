/*
 * secret: reading small secret files (the API token, the webhook signing
 * secret, a TLS key) the same way everywhere: close-on-exec, bounded,
 * and the caller's copy wiped once used (explicit_bzero).
 */
#ifndef LOOPD_UTIL_SECRET_H
#define LOOPD_UTIL_SECRET_H

#include <stddef.h>
#include <sys/types.h>

/* Read at most size - 1 bytes of path into buf, NUL-terminated. The
 * number of bytes read, or -1 with errno set (buf then empty). */
ssize_t secret_read(const char *path, char *buf, size_t size);
/* The first line of buf: cut at the first CR or LF. Its length. */
size_t secret_first_line(char *buf);
/* The whole of path in a malloc'd, NUL-terminated buffer of *len bytes
 * (len may be NULL); NULL with errno set: EFBIG past max bytes, ENODATA
 * when empty. */
char *secret_read_all(const char *path, size_t max, size_t *len);

#endif
