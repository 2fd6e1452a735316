/*
 * outbuf: bytes kept up to a cap (a child's stdout and stderr, a webhook
 * reply's body). What goes past the cap is dropped and the buffer says it
 * was truncated; the data is always NUL-terminated when there is any.
 */
#ifndef LOOPD_UTIL_OUTBUF_H
#define LOOPD_UTIL_OUTBUF_H

#include <stddef.h>

struct outbuf {
	char *data;		/* NULL until something is kept */
	size_t len;
	int truncated;		/* something was dropped */
};

/* Keep what of [p, p+len) fits under cap bytes in all. 0, or -1 if
 * memory ran out (nothing kept of it; truncated is set). */
int outbuf_append(struct outbuf *b, const void *p, size_t len, size_t cap);
/* Free the data and empty b. Accepts NULL. */
void outbuf_free(struct outbuf *b);

#endif
