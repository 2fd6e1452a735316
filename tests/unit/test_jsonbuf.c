/*
 * test_jsonbuf: the JSON writer against jansson's own json_dumps.
 *
 * For every value without reals the text must be byte for byte what
 * json_dumps(JSON_COMPACT | JSON_ENCODE_ANY, with and without
 * JSON_SORT_KEYS) writes; so must reals, except whole microseconds (all
 * times), which take a short exact form that reads back as the same
 * double.
 */
#include <math.h>
#include <stdlib.h>

#include "check.h"
#include "proto/jsonbuf.h"

#define JANSSON_FLAGS (JSON_COMPACT | JSON_ENCODE_ANY | JSON_REAL_PRECISION(16))

/* v written by jsonbuf (sorted or not). */
static char *
write_value(const json_t *v, int sort)
{
	struct jsonbuf b;

	jsonbuf_init(&b);
	jsonbuf_value(&b, v, sort);
	return jsonbuf_finish(&b);
}

/* A random string: printable text, escapes, control bytes, UTF-8, NUL. */
static json_t *
random_string(void)
{
	static const char *const parts[] = {
		"a", "key", "\"", "\\", "/", "\n", "\r", "\t", "\b", "\f", "\x01", "\x1f",
		"\x7f", "é", "€", "😀", " ", "{}", "[]", ":", ",",
	};
	char buf[128];
	size_t n = 0, k = check_rand(8);

	for (size_t i = 0; i < k; i++) {
		const char *p = parts[check_rand(sizeof(parts) / sizeof(parts[0]))];
		size_t len = strlen(p);
		if (n + len + 1 >= sizeof(buf))
			break;
		memcpy(buf + n, p, len);
		n += len;
		if (check_rand(10) == 0)
			buf[n++] = '\0';	/* JSON_ALLOW_NUL strings */
	}
	return json_stringn(buf, n);
}

/* A random value without reals, depth-limited. */
static json_t *
random_value(int depth)
{
	unsigned k = (unsigned)check_rand(depth > 3 ? 5 : 7);
	json_t *v;

	switch (k) {
	case 0: return json_null();
	case 1: return json_boolean(check_rand(2));
	case 2: return json_integer((json_int_t)(check_rand(UINT64_MAX) -
	    (check_rand(2) ? 0 : (uint64_t)INT64_MAX)));	/* unsigned: wraps, no UB */
	case 3: return json_integer((json_int_t)check_rand(2000) - 1000);
	case 4: return random_string();
	case 5:
		v = json_array();
		for (uint64_t i = check_rand(5); i > 0; i--)
			json_array_append_new(v, random_value(depth + 1));
		return v;
	default:
		v = json_object();
		for (uint64_t i = check_rand(6); i > 0; i--) {
			json_t *key = random_string();
			json_object_setn_new(v, json_string_value(key), json_string_length(key),
			    random_value(depth + 1));
			json_decref(key);
		}
		return v;
	}
}

/* Values without reals: the same bytes as json_dumps. */
static void
test_same_as_jansson(void)
{
	for (int i = 0; i < 3000; i++) {
		json_t *v = random_value(0);
		for (int sort = 0; sort < 2; sort++) {
			char *want = json_dumps(v, JANSSON_FLAGS | (sort ? JSON_SORT_KEYS : 0));
			char *got = write_value(v, sort);
			if (!CHECK_STR_EQ(got, want))
				fprintf(stderr, "  (value %d, sort %d)\n", i, sort);
			free(want);
			free(got);
		}
		json_decref(v);
	}
}

/* A real: whole microseconds below 2^32 s read back as the same double
 * (and stay reals); any other real is written as jansson writes it. */
static void
check_real(double d)
{
	json_t *v = json_real(d), *back;
	char *text = write_value(v, 0), *want = json_dumps(v, JANSSON_FLAGS);
	double us = d * 1e6;

	if (!CHECK(text != NULL))
		goto out;
	if (fabs(d) < 4294967296.0 && nearbyint(us) / 1e6 == d && (d != 0 || !signbit(d))) {
		back = json_loads(text, JSON_DECODE_ANY, NULL);
		if (!CHECK(json_is_real(back)) || !CHECK(json_real_value(back) == d))
			fprintf(stderr, "  %.17g written as %s\n", d, text);
		json_decref(back);
	} else
		CHECK_STR_EQ(text, want);
out:
	free(want);
	free(text);
	json_decref(v);
}

static void
test_reals(void)
{
	static const double fixed[] = {
		0.0, -0.0, 1.0, -1.0, 0.5, 0.1, 1e-7, 1.5e-5, 123456789.123456, 1e20, -1e20,
		1e300, 5e-324, 4294967295.999999, 4294967296.0, 9007199254740993.0,
		1795000000.000001, 3600.0, 0.000001, 2.5e-6, 1.0 / 3.0, 2.0 / 3.0,
	};
	for (size_t i = 0; i < sizeof(fixed) / sizeof(fixed[0]); i++)
		check_real(fixed[i]);
	for (int i = 0; i < 20000; i++) {
		int64_t us = (int64_t)check_rand(4000000000000000ULL) - 2000000000000000LL;
		check_real((double)us / 1e6);
		check_real(ldexp((double)check_rand(1ULL << 53), (int)check_rand(200) - 100));
	}
}

/* Whole microseconds: the short exact form jsonbuf_seconds writes. */
static void
test_seconds(void)
{
	static const struct {
		int64_t us;
		const char *text;
	} cases[] = {
		{ 0, "0.0" }, { 1, "0.000001" }, { 1500000, "1.5" }, { 3600000000, "3600.0" },
		{ -2500, "-0.0025" }, { 1795212345123456, "1795212345.123456" },
		{ 10, "0.00001" },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct jsonbuf b;
		json_t *v = json_real((double)cases[i].us / 1e6);
		char *text, *real;

		jsonbuf_init(&b);
		jsonbuf_seconds(&b, cases[i].us);
		text = jsonbuf_finish(&b);
		CHECK_STR_EQ(text, cases[i].text);
		real = write_value(v, 0);
		CHECK_STR_EQ(real, cases[i].text);	/* jsonbuf_real's fast path */
		free(text);
		free(real);
		json_decref(v);
	}
}

/* Growing past the first allocation, and the pieces the view uses. */
static void
test_growth(void)
{
	struct jsonbuf b;
	char *text;
	size_t n = 0;

	jsonbuf_init(&b);
	jsonbuf_char(&b, '[');
	for (int i = 0; i < 10000; i++) {
		if (i > 0)
			jsonbuf_char(&b, ',');
		jsonbuf_int(&b, i);
	}
	jsonbuf_char(&b, ']');
	text = jsonbuf_finish(&b);
	if (CHECK(text != NULL)) {
		json_t *v = json_loads(text, 0, NULL);
		CHECK_INT_EQ(json_array_size(v), 10000);
		CHECK_INT_EQ(json_integer_value(json_array_get(v, 9999)), 9999);
		n = strlen(text);
		json_decref(v);
	}
	CHECK(n > 10000 * 4);
	free(text);
	CHECK(b.p == NULL && b.len == 0);

	jsonbuf_init(&b);
	jsonbuf_char(&b, '{');
	jsonbuf_key(&b, "k");
	jsonbuf_int(&b, INT64_MIN);
	jsonbuf_raw(&b, "}", 1);
	text = jsonbuf_finish(&b);
	CHECK_STR_EQ(text, "{\"k\":-9223372036854775808}");
	free(text);

	jsonbuf_init(&b);	/* freeing an unfinished buffer */
	jsonbuf_raw(&b, "[1,2", 4);
	jsonbuf_free(&b);
	CHECK(b.p == NULL);
}

int
main(void)
{
	test_same_as_jansson();
	test_reals();
	test_seconds();
	test_growth();
	return check_summary();
}
