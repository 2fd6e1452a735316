/*
 * jsonbuf: JSON text written into a growing buffer (see jsonbuf.h).
 */
#include "proto/jsonbuf.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Deeper values than the decoder accepts are refused, not recursed into. */
#define MAX_DEPTH 4096

void
jsonbuf_init(struct jsonbuf *b)
{
	b->p = NULL;
	b->len = b->cap = 0;
	b->failed = 0;
}

void
jsonbuf_free(struct jsonbuf *b)
{
	free(b->p);
	jsonbuf_init(b);
}

char *
jsonbuf_finish(struct jsonbuf *b)
{
	char *text;

	jsonbuf_char(b, '\0');
	text = b->failed ? NULL : b->p;
	if (text == NULL)
		free(b->p);
	jsonbuf_init(b);
	return text;
}

char *
jsonbuf_finish_fit(struct jsonbuf *b)
{
	size_t len = b->len + 1, cap = b->cap;
	char *text = jsonbuf_finish(b), *fit;

	/* A copy, not realloc: shrinking in place would leave a small hole
	 * after every kept text, which later allocations rarely fill. */
	if (text != NULL && len < cap && (fit = malloc(len)) != NULL) {
		memcpy(fit, text, len);
		free(text);
		text = fit;
	}
	return text;
}

void
jsonbuf_fail(struct jsonbuf *b)
{
	b->failed = 1;
}

/* Room for n more bytes: 1, or 0 once failed. */
static int
jsonbuf_room(struct jsonbuf *b, size_t n)
{
	size_t cap;
	char *p;

	if (b->failed)
		return 0;
	if (b->cap - b->len >= n)
		return 1;
	/* 512 at first: a call's object (a POST's reply, about 270 bytes)
	 * then takes one allocation, not two. */
	cap = b->cap ? b->cap : 512;
	while (cap - b->len < n) {
		if (cap > SIZE_MAX / 2) {
			b->failed = 1;
			return 0;
		}
		cap *= 2;
	}
	if ((p = realloc(b->p, cap)) == NULL) {
		b->failed = 1;
		return 0;
	}
	b->p = p;
	b->cap = cap;
	return 1;
}

void
jsonbuf_raw(struct jsonbuf *b, const char *s, size_t n)
{
	if (n > 0 && (b->cap - b->len >= n || jsonbuf_room(b, n))) {
		memcpy(b->p + b->len, s, n);
		b->len += n;
	}
}

void
jsonbuf_char_grow(struct jsonbuf *b, char c)
{
	if (jsonbuf_room(b, 1))
		b->p[b->len++] = c;
}

void
jsonbuf_string(struct jsonbuf *b, const char *s, size_t n)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t run = 0;

	jsonbuf_char(b, '"');
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		char esc[6] = { '\\', 0 };
		size_t en = 2;

		if (c >= 0x20 && c != '"' && c != '\\')
			continue;
		jsonbuf_raw(b, s + run, i - run);
		run = i + 1;
		switch (c) {
		case '"': esc[1] = '"'; break;
		case '\\': esc[1] = '\\'; break;
		case '\b': esc[1] = 'b'; break;
		case '\f': esc[1] = 'f'; break;
		case '\n': esc[1] = 'n'; break;
		case '\r': esc[1] = 'r'; break;
		case '\t': esc[1] = 't'; break;
		default:
			memcpy(esc, "\\u00", 4);
			esc[4] = hex[c >> 4];
			esc[5] = hex[c & 15];
			en = 6;
		}
		jsonbuf_raw(b, esc, en);
	}
	jsonbuf_raw(b, s + run, n - run);
	jsonbuf_char(b, '"');
}

void
jsonbuf_key(struct jsonbuf *b, const char *key)
{
	jsonbuf_char(b, '"');
	jsonbuf_raw(b, key, strlen(key));
	jsonbuf_raw(b, "\":", 2);
}

/* Decimal digits of v into the end of buf; returns where they start. */
static char *
digits(char *end, unsigned long long v)
{
	do {
		*--end = (char)('0' + v % 10);
		v /= 10;
	} while (v != 0);
	return end;
}

void
jsonbuf_int(struct jsonbuf *b, long long v)
{
	char buf[24], *s;
	unsigned long long u = v < 0 ? 0ULL - (unsigned long long)v : (unsigned long long)v;

	s = digits(buf + sizeof(buf), u);
	if (v < 0)
		*--s = '-';
	jsonbuf_raw(b, s, (size_t)(buf + sizeof(buf) - s));
}

void
jsonbuf_seconds(struct jsonbuf *b, int64_t us)
{
	char buf[32], *end = buf + sizeof(buf), *s;
	unsigned long long u = us < 0 ? 0ULL - (unsigned long long)us : (unsigned long long)us;
	unsigned frac = (unsigned)(u % 1000000);
	int n = 6;

	/* The fraction without trailing zeros, at least one digit. */
	while (n > 1 && frac % 10 == 0) {
		frac /= 10;
		n--;
	}
	s = end;
	for (int i = 0; i < n; i++) {
		*--s = (char)('0' + frac % 10);
		frac /= 10;
	}
	*--s = '.';
	s = digits(s, u / 1000000);
	if (us < 0)
		*--s = '-';
	jsonbuf_raw(b, s, (size_t)(end - s));
}

void
jsonbuf_real(struct jsonbuf *b, double v)
{
	char buf[64], *e;
	double us = v * 1e6, r = nearbyint(us);
	int n;

	/* Whole microseconds (all times are) below 2^32 s: their decimal
	 * text reads back as v exactly, and needs no printf. */
	if (fabs(v) < 4294967296.0 && r / 1e6 == v && (v != 0 || !signbit(v))) {
		jsonbuf_seconds(b, (int64_t)r);
		return;
	}
	/* jansson's own form: %.16g, ".0" when it looks like an integer,
	 * no '+' and no leading zeros in the exponent. */
	n = snprintf(buf, sizeof(buf), "%.16g", v);
	if (n < 0 || (size_t)n >= sizeof(buf) || !isfinite(v)) {
		b->failed = 1;
		return;
	}
	if (strpbrk(buf, ".e") == NULL)
		memcpy(buf + n, ".0", 3);
	if ((e = strchr(buf, 'e')) != NULL) {
		char *from = e + 1, *to = e + 1;

		if (*from == '-')
			from = ++to;
		else if (*from == '+')
			from++;
		while (*from == '0' && from[1] != '\0')
			from++;
		memmove(to, from, strlen(from) + 1);
	}
	jsonbuf_raw(b, buf, strlen(buf));
}

/* An object member, for sorting. */
struct member {
	const char *key;
	size_t len;
	json_t *value;
};

/* Byte order of keys, a prefix first. */
static int
member_cmp(const void *a, const void *b)
{
	const struct member *x = a, *y = b;
	int c = memcmp(x->key, y->key, x->len < y->len ? x->len : y->len);

	return c != 0 ? c : (x->len > y->len) - (x->len < y->len);
}

static int value_write(struct jsonbuf *b, const json_t *v, int sort, int depth);

/* An object, in insertion order or sorted. */
static int
object_write(struct jsonbuf *b, const json_t *o, int sort, int depth)
{
	size_t n = json_object_size(o), i = 0;
	struct member small[4], *m = small;	/* most objects are small */
	void *it;

	if (n > sizeof(small) / sizeof(small[0]) && (m = calloc(n, sizeof(*m))) == NULL) {
		b->failed = 1;
		return -1;
	}
	/* json_object_iter() takes a non-const object, but only reads it. */
	for (it = json_object_iter((json_t *)(uintptr_t)o); it != NULL && i < n;
	    it = json_object_iter_next((json_t *)(uintptr_t)o, it), i++) {
		m[i].key = json_object_iter_key(it);
		m[i].len = json_object_iter_key_len(it);
		m[i].value = json_object_iter_value(it);
	}
	if (sort && n > 1)
		qsort(m, n, sizeof(*m), member_cmp);
	jsonbuf_char(b, '{');
	for (i = 0; i < n && !b->failed; i++) {
		if (i > 0)
			jsonbuf_char(b, ',');
		jsonbuf_string(b, m[i].key, m[i].len);
		jsonbuf_char(b, ':');
		value_write(b, m[i].value, sort, depth + 1);
	}
	jsonbuf_char(b, '}');
	if (m != small)
		free(m);
	return b->failed ? -1 : 0;
}

/* Any value. */
static int
value_write(struct jsonbuf *b, const json_t *v, int sort, int depth)
{
	if (v == NULL || depth > MAX_DEPTH) {
		b->failed = 1;
		return -1;
	}
	switch (json_typeof(v)) {
	case JSON_OBJECT:
		return object_write(b, v, sort, depth);
	case JSON_ARRAY:
		jsonbuf_char(b, '[');
		for (size_t i = 0; i < json_array_size(v) && !b->failed; i++) {
			if (i > 0)
				jsonbuf_char(b, ',');
			value_write(b, json_array_get(v, i), sort, depth + 1);
		}
		jsonbuf_char(b, ']');
		break;
	case JSON_STRING:
		jsonbuf_string(b, json_string_value(v), json_string_length(v));
		break;
	case JSON_INTEGER:
		jsonbuf_int(b, (long long)json_integer_value(v));
		break;
	case JSON_REAL:
		jsonbuf_real(b, json_real_value(v));
		break;
	case JSON_TRUE:
		jsonbuf_raw(b, "true", 4);
		break;
	case JSON_FALSE:
		jsonbuf_raw(b, "false", 5);
		break;
	case JSON_NULL:
		jsonbuf_raw(b, "null", 4);
		break;
	}
	return b->failed ? -1 : 0;
}

int
jsonbuf_value(struct jsonbuf *b, const json_t *v, int sort)
{
	return value_write(b, v, sort, 0);
}
