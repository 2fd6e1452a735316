/*
 * test_jsonfast: the quick parser against json_loadb. Whatever it
 * accepts, jansson must accept, as the same value (type by type, members
 * in the same order); what it refuses it leaves to jansson. Fixed cases,
 * then random texts made of JSON pieces, valid and not.
 */
#include <stdlib.h>

#include "check.h"
#include "proto/jsonfast.h"

#define FLAGS (JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL)

/* Whether a and b are the same value: same types (an integer is not a
 * real), same members in the same order. */
static int
same(const json_t *a, const json_t *b)
{
	char *x = json_dumps(a, JSON_COMPACT | JSON_ENCODE_ANY | JSON_REAL_PRECISION(17));
	char *y = json_dumps(b, JSON_COMPACT | JSON_ENCODE_ANY | JSON_REAL_PRECISION(17));
	int ok = x != NULL && y != NULL && strcmp(x, y) == 0 && json_equal(a, b);

	free(x);
	free(y);
	return ok;
}

/* Parse s both ways: 1 if the quick parser took it (and agreed with
 * jansson), 0 if it left it to jansson; a failed CHECK if they differ. */
static int
both(const char *s, size_t len)
{
	json_error_t je;
	size_t depth = 99;
	json_t *fast = jsonfast_parse(s, len, &depth);
	json_t *slow = json_loadb(s, len, FLAGS, &je);
	int took = fast != NULL;

	if (fast != NULL) {
		if (!CHECK(slow != NULL && same(fast, slow)))
			fprintf(stderr, "  text: %.*s\n", (int)len, s);
		CHECK(depth <= 32);
	}
	json_decref(fast);
	json_decref(slow);
	return took;
}

/* Fixed cases: what the quick parser takes, and what it leaves. */
static void
test_cases(void)
{
	static const char *const taken[] = {
		"{}", "[]", " {\"a\":1} ", "\t\r\n{ \"a\" : 1 , \"b\" : [ ] }\n",
		"{\"after\":3600,\"command\":{\"argv\":[\"true\"]}}",
		"{\"a\":-0}", "{\"a\":0}", "{\"a\":-12}", "{\"a\":123456789012345678}",
		"{\"a\":-123456789012345678}", "{\"a\":1.5}", "{\"a\":-0.0}", "{\"a\":1e3}",
		"{\"a\":1E+3}", "{\"a\":1e-3}", "{\"a\":0.1}", "{\"a\":1e-400}",
		"{\"a\":true,\"b\":false,\"c\":null}", "[1,[2,[3,{}]]]", "{\"\":\"\"}",
		"{\"z\":1,\"a\":2,\"m\":3}", "[\"a b/c\"]",
	};
	static const char *const left[] = {
		"", " ", "1", "\"a\"", "null", "{", "}", "{\"a\"}", "{\"a\":}", "{\"a\":1,}",
		"[1,]", "[,1]", "{\"a\":1}x", "{\"a\":1}{}", "{\"a\":01}", "{\"a\":1.}",
		"{\"a\":.5}", "{\"a\":-}", "{\"a\":1e}", "{\"a\":+1}", "{\"a\":1234567890123456789}",
		"{\"a\":1e400}", "{\"a\":-1e400}", "{\"a\":tru}", "{\"a\":nul}", "{\"a\":True}",
		"{\"a\":\"\\n\"}", "{\"a\":\"\\u0000\"}", "{\"a\":\"\xc3\xa9\"}",
		"{\"a\":\"\x01\"}", "{\"a\":\"x}", "{\"a\":1,\"a\":2}", "{a:1}", "{'a':1}",
		"[1 2]", "{\"a\" 1}", "\xef\xbb\xbf{}", "{\"a\":NaN}", "{\"a\":Infinity}",
	};
	char deep[200];
	size_t n = 0;

	for (size_t i = 0; i < sizeof(taken) / sizeof(taken[0]); i++)
		if (!CHECK(both(taken[i], strlen(taken[i])) == 1))
			fprintf(stderr, "  not taken: %s\n", taken[i]);
	for (size_t i = 0; i < sizeof(left) / sizeof(left[0]); i++)
		if (!CHECK(both(left[i], strlen(left[i])) == 0))
			fprintf(stderr, "  taken: %s\n", left[i]);
	/* A NUL byte inside, or after the value. */
	CHECK(both("{\"a\":\"\0\"}", 8) == 0);
	CHECK(both("{}\0", 3) == 0);
	/* Depth: 32 levels taken (and counted), 33 left to jansson. */
	for (int i = 0; i < 32; i++)
		deep[n++] = '[';
	for (int i = 0; i < 32; i++)
		deep[n++] = ']';
	{
		size_t depth = 0;
		json_t *v = jsonfast_parse(deep, n, &depth);
		CHECK(v != NULL);
		CHECK_INT_EQ(depth, 32);
		json_decref(v);
	}
	memmove(deep + 1, deep, n);
	deep[0] = '[';
	deep[++n] = ']';
	CHECK(both(deep, n + 1) == 0);
	{
		size_t depth = 0;
		json_t *v = jsonfast_parse("{\"a\":[{}],\"b\":{\"c\":[[1]]}}", 26, &depth);
		CHECK(v != NULL);
		CHECK_INT_EQ(depth, 4);
		json_decref(v);
	}
}

/* Append a random value (depth d) to buf at *n: plain, with white
 * space, numbers of every form, now and then an escape, a byte over
 * 0x7f or a duplicate key. */
static void
gen(char *buf, size_t cap, size_t *n, int d)
{
	static const char *const scalars[] = {
		"0", "-0", "7", "-12", "3600", "1.5", "-0.25", "1e3", "2E-2", "1.5e+10",
		"123456789012345678", "1234567890123456789", "1e400", "true", "false", "null",
		"\"\"", "\"a\"", "\"argv x/y\"", "\"\\n\"", "\"\xc3\xa9\"", "\"\\u0041\"",
	};
	static const char *const keys[] = { "\"a\"", "\"b\"", "\"after\"", "\"\"", "\"k\\t\"" };
	static const char *const ws[] = { "", "", "", " ", "\n", "\t ", "\r\n" };
	size_t k = check_rand(4);
	const char *p;

#define PUT(s) do { const char *s_ = (s); size_t l_ = strlen(s_); \
	if (*n + l_ < cap) { memcpy(buf + *n, s_, l_); *n += l_; } } while (0)
	PUT(ws[check_rand(7)]);
	if (d >= 3 || check_rand(3) == 0) {
		p = scalars[check_rand(sizeof(scalars) / sizeof(scalars[0]))];
		PUT(p);
	} else if (check_rand(2) == 0) {
		PUT("{");
		for (size_t i = 0; i < k; i++) {
			if (i > 0)
				PUT(",");
			PUT(ws[check_rand(7)]);
			PUT(keys[check_rand(sizeof(keys) / sizeof(keys[0]))]);
			PUT(ws[check_rand(7)]);
			PUT(":");
			gen(buf, cap, n, d + 1);
		}
		PUT("}");
	} else {
		PUT("[");
		for (size_t i = 0; i < k; i++) {
			if (i > 0)
				PUT(",");
			gen(buf, cap, n, d + 1);
		}
		PUT("]");
	}
	PUT(ws[check_rand(7)]);
#undef PUT
}

/* Random texts: valid values, and the same with a byte changed, dropped
 * or added; the quick parser must never take one jansson refuses or
 * reads otherwise. */
static void
test_random(void)
{
	static const char bytes[] = "{}[],:\" 0123456789.eE+-\\atn\x01\x80";
	char buf[512];
	unsigned long taken = 0, tried = 0;

	for (int round = 0; round < 100000; round++) {
		size_t n = 1;
		buf[0] = check_rand(2) ? '{' : '[';
		if (buf[0] == '{') {
			size_t k = check_rand(4);
			for (size_t i = 0; i < k; i++) {
				if (i > 0)
					buf[n++] = ',';
				buf[n++] = '"';
				buf[n++] = (char)('a' + check_rand(3));
				buf[n++] = '"';
				buf[n++] = ':';
				gen(buf, sizeof(buf) - 8, &n, 1);
			}
			buf[n++] = '}';
		} else {
			gen(buf, sizeof(buf) - 8, &n, 1);
			buf[n++] = ']';
		}
		switch (check_rand(4)) {
		case 0:		/* change a byte */
			buf[check_rand(n)] = bytes[check_rand(sizeof(bytes) - 1)];
			break;
		case 1:		/* drop one */
			if (n > 1) {
				size_t at = check_rand(n);
				memmove(buf + at, buf + at + 1, n - at - 1);
				n--;
			}
			break;
		case 2:		/* add one */
			{
				size_t at = check_rand(n + 1);
				memmove(buf + at + 1, buf + at, n - at);
				buf[at] = bytes[check_rand(sizeof(bytes) - 1)];
				n++;
			}
			break;
		default:
			break;
		}
		tried++;
		taken += (unsigned long)both(buf, n);
	}
	CHECK(taken > tried / 20);	/* many valid ones were made and taken */
	CHECK(taken < tried);		/* and some were left */
}

int
main(void)
{
	test_cases();
	test_random();
	return check_summary();
}
