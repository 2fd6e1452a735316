/*
 * outbuf: a byte buffer with a cap.
 */
#include "daemon/util/outbuf.h"

#include <stdlib.h>
#include <string.h>

int
outbuf_append(struct outbuf *b, const void *p, size_t len, size_t cap)
{
	size_t take = len;
	char *d;

	if (b->len >= cap)
		take = 0;
	else if (take > cap - b->len)
		take = cap - b->len;
	if (take < len)
		b->truncated = 1;
	if (take == 0)
		return 0;
	if ((d = realloc(b->data, b->len + take + 1)) == NULL) {
		b->truncated = 1;
		return -1;
	}
	memcpy(d + b->len, p, take);
	b->data = d;
	b->len += take;
	d[b->len] = '\0';
	return 0;
}

void
outbuf_free(struct outbuf *b)
{
	if (b == NULL)
		return;
	free(b->data);
	b->data = NULL;
	b->len = 0;
	b->truncated = 0;
}
