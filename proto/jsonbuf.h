/*
 * jsonbuf: JSON text written into a growing buffer. It is the encoder of
 * every reply and stored value: jansson's json_dumps formats each real
 * with snprintf and builds its output through callbacks, which made it
 * the largest cost of a POST /v1/calls; this writes the same compact
 * text, with times (whole microseconds) formatted exactly and cheaply.
 *
 * A write that runs out of memory marks the buffer failed; later writes
 * do nothing and jsonbuf_finish() returns NULL, so callers check once.
 */
#ifndef LOOPD_PROTO_JSONBUF_H
#define LOOPD_PROTO_JSONBUF_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

struct jsonbuf {
	char *p;
	size_t len, cap;
	int failed;
};

/* An empty buffer (no allocation yet). */
void jsonbuf_init(struct jsonbuf *b);
/* Free what b holds (b may be finished or failed). */
void jsonbuf_free(struct jsonbuf *b);
/* The NUL-terminated text (the caller frees it), or NULL if a write
 * failed; b is empty afterwards. */
char *jsonbuf_finish(struct jsonbuf *b);
/* The same, in an allocation of the text's own size: for text that is
 * kept (a doubling buffer leaves up to half of itself unused). */
char *jsonbuf_finish_fit(struct jsonbuf *b);

/* Mark b failed (a part of the text could not be had): later writes do
 * nothing and jsonbuf_finish() returns NULL. */
void jsonbuf_fail(struct jsonbuf *b);
/* Append raw bytes (already JSON). */
void jsonbuf_raw(struct jsonbuf *b, const char *s, size_t n);
/* Append one character (the slow path grows the buffer). */
void jsonbuf_char_grow(struct jsonbuf *b, char c);
static inline void
jsonbuf_char(struct jsonbuf *b, char c)
{
	if (b->len < b->cap)
		b->p[b->len++] = c;
	else
		jsonbuf_char_grow(b, c);
}
/* Append s (n bytes, may hold NUL) as a quoted JSON string. */
void jsonbuf_string(struct jsonbuf *b, const char *s, size_t n);
/* Append "key": (key NUL-terminated, not escaped: a literal of ours). */
void jsonbuf_key(struct jsonbuf *b, const char *key);
/* Append an integer. */
void jsonbuf_int(struct jsonbuf *b, long long v);
/* Append a real as jansson does with JSON_REAL_PRECISION(16) ("2.0",
 * "1e20"), but the shortest exact text for whole microseconds. */
void jsonbuf_real(struct jsonbuf *b, double v);
/* Append us microseconds as seconds, exactly ("1.5", "3600.0"). */
void jsonbuf_seconds(struct jsonbuf *b, int64_t us);
/* Append v compactly; sort: object keys in byte order (the canonical
 * form). -1 (b failed) on ENOMEM or a value jansson could not dump. */
int jsonbuf_value(struct jsonbuf *b, const json_t *v, int sort);

#endif
