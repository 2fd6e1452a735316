/*
 * jsonfast: a quick parse of the plain request bodies most clients send
 * (ASCII strings without escapes, small numbers), into the same jansson
 * values json_loadb makes of them. jansson reads a body a byte at a time
 * through a stream with UTF-8 checks, about 200 instructions a byte; this
 * is a few. Anything else (an escape, a byte over 0x7f, a long number,
 * deep nesting, a duplicate key, any error) returns NULL without a word,
 * and the caller parses the body again with jansson, which then decides
 * and words its errors as before: this parser only ever accepts what
 * jansson accepts, as jansson would (tests/unit/test_jsonfast.c compares
 * the two).
 */
#include "proto/jsonfast.h"

#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* Deeper bodies go to jansson (the request limit is checked after). */
#define JSONFAST_DEPTH 32
/* Longer numbers too (an integer of 18 digits cannot overflow). */
#define JSONFAST_DIGITS 18

struct jf {
	const char *p, *end;
	size_t depth, max_depth;
};

static json_t *jf_value(struct jf *f);

const char *
jsonfast_ws(const char *p, const char *end)
{
	while (p < end && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r'))
		p++;
	return p;
}

const char *
jsonfast_plain_string(const char *p, const char *end, const char **s, size_t *n)
{
	const char *q;

	if (p == end || *p != '"')
		return NULL;
	for (q = p + 1; q < end; q++) {
		unsigned char c = (unsigned char)*q;
		if (c == '"') {
			*s = p + 1;
			*n = (size_t)(q - *s);
			return q + 1;
		}
		if (c < 0x20 || c >= 0x80 || c == '\\')
			return NULL;
	}
	return NULL;
}

/* Skip JSON white space (what jansson skips). */
static void
jf_ws(struct jf *f)
{
	f->p = jsonfast_ws(f->p, f->end);
}

/* A string without escapes or bytes over 0x7f: its bytes (between the
 * quotes) in *s and *n. 0, or -1 for anything else. */
static int
jf_string(struct jf *f, const char **s, size_t *n)
{
	const char *q = jsonfast_plain_string(f->p, f->end, s, n);

	if (q == NULL)
		return -1;
	f->p = q;
	return 0;
}

/* A number, jansson's grammar: an integer when it has no fraction and
 * no exponent, a real otherwise. */
static json_t *
jf_number(struct jf *f)
{
	const char *p = f->p, *digits;
	char buf[64];
	int is_int = 1;
	double d;

	if (p < f->end && *p == '-')
		p++;
	digits = p;
	if (p < f->end && *p == '0')
		p++;
	else if (p < f->end && *p >= '1' && *p <= '9')
		while (p < f->end && *p >= '0' && *p <= '9')
			p++;
	else
		return NULL;
	if (p < f->end && *p == '.') {
		is_int = 0;
		if (++p >= f->end || *p < '0' || *p > '9')
			return NULL;
		while (p < f->end && *p >= '0' && *p <= '9')
			p++;
	}
	if (p < f->end && (*p == 'e' || *p == 'E')) {
		is_int = 0;
		if (++p < f->end && (*p == '+' || *p == '-'))
			p++;
		if (p >= f->end || *p < '0' || *p > '9')
			return NULL;
		while (p < f->end && *p >= '0' && *p <= '9')
			p++;
	}
	if (is_int) {
		json_int_t v = 0;
		if (p - digits > JSONFAST_DIGITS)
			return NULL;
		for (const char *q = digits; q < p; q++)
			v = v * 10 + (*q - '0');
		v = *f->p == '-' ? -v : v;
		f->p = p;
		return json_integer(v);
	}
	if ((size_t)(p - f->p) >= sizeof(buf))
		return NULL;
	memcpy(buf, f->p, (size_t)(p - f->p));
	buf[p - f->p] = '\0';
	errno = 0;
	d = strtod(buf, NULL);
	if (errno == ERANGE && (d == HUGE_VAL || d == -HUGE_VAL))
		return NULL;	/* jansson: "real number overflow" */
	f->p = p;
	return json_real(d);
}

/* An object; f->p is at its '{'. */
static json_t *
jf_object(struct jf *f)
{
	json_t *o = json_object(), *v;
	const char *k;
	size_t kn;

	if (o == NULL)
		return NULL;
	f->p++;
	jf_ws(f);
	if (f->p < f->end && *f->p == '}') {
		f->p++;
		return o;
	}
	for (;;) {
		if (f->p >= f->end || *f->p != '"' || jf_string(f, &k, &kn) == -1)
			break;
		jf_ws(f);
		if (f->p >= f->end || *f->p != ':')
			break;
		f->p++;
		jf_ws(f);
		if (json_object_getn(o, k, kn) != NULL || (v = jf_value(f)) == NULL)
			break;
		if (json_object_setn_new_nocheck(o, k, kn, v) == -1)
			break;
		jf_ws(f);
		if (f->p < f->end && *f->p == '}') {
			f->p++;
			return o;
		}
		if (f->p >= f->end || *f->p != ',')
			break;
		f->p++;
		jf_ws(f);
	}
	json_decref(o);
	return NULL;
}

/* An array; f->p is at its '['. */
static json_t *
jf_array(struct jf *f)
{
	json_t *a = json_array(), *v;

	if (a == NULL)
		return NULL;
	f->p++;
	jf_ws(f);
	if (f->p < f->end && *f->p == ']') {
		f->p++;
		return a;
	}
	for (;;) {
		if ((v = jf_value(f)) == NULL || json_array_append_new(a, v) == -1)
			break;
		jf_ws(f);
		if (f->p < f->end && *f->p == ']') {
			f->p++;
			return a;
		}
		if (f->p >= f->end || *f->p != ',')
			break;
		f->p++;
		jf_ws(f);
	}
	json_decref(a);
	return NULL;
}

/* A literal word (true, false, null). */
static int
jf_word(struct jf *f, const char *w, size_t n)
{
	if ((size_t)(f->end - f->p) < n || memcmp(f->p, w, n) != 0)
		return -1;
	f->p += n;
	return 0;
}

/* Any value; f->p is at its first byte. */
static json_t *
jf_value(struct jf *f)
{
	const char *s;
	size_t n;
	json_t *v;

	if (f->p >= f->end)
		return NULL;
	switch (*f->p) {
	case '{':
	case '[':
		if (++f->depth > JSONFAST_DEPTH)
			return NULL;
		if (f->depth > f->max_depth)
			f->max_depth = f->depth;
		v = *f->p == '{' ? jf_object(f) : jf_array(f);
		f->depth--;
		return v;
	case '"':
		return jf_string(f, &s, &n) == -1 ? NULL : json_stringn_nocheck(s, n);
	case 't':
		return jf_word(f, "true", 4) == -1 ? NULL : json_true();
	case 'f':
		return jf_word(f, "false", 5) == -1 ? NULL : json_false();
	case 'n':
		return jf_word(f, "null", 4) == -1 ? NULL : json_null();
	default:
		return jf_number(f);
	}
}

json_t *
jsonfast_parse(const char *s, size_t len, size_t *depth)
{
	struct jf f = { s, s + len, 0, 0 };
	json_t *v;

	jf_ws(&f);
	if (f.p >= f.end || (*f.p != '{' && *f.p != '['))
		return NULL;
	if ((v = jf_value(&f)) == NULL)
		return NULL;
	jf_ws(&f);
	if (f.p != f.end) {
		json_decref(v);
		return NULL;
	}
	*depth = f.max_depth;
	return v;
}
