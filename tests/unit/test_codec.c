/*
 * Unit tests for proto/codec: golden request cases plus a few direct
 * checks of ids, problems and canonical forms.
 *
 * A golden case is a folder tests/golden/SUITE/CASE/ holding `input` (a
 * request body, byte for byte) and either `output` (what the suite's
 * decoder makes of it, as compact key-sorted JSON, plus a newline) or
 * `error` (the error detail exactly, plus a newline). With GOLDEN_UPDATE=1
 * the expected files are (re)written from what the code does now; review
 * every one by hand against API.md before committing it.
 *
 * Suites:
 *   calls/      POST /v1/calls: proto_decode_call(trigger allowed), output
 *               proto_call_canonical()
 *   callbacks/  POST /v1/futures/{id}/callbacks: proto_decode_call(no
 *               trigger), output proto_call_canonical()
 *   futures/    POST /v1/futures (an empty input is no body)
 *   exception/  POST /v1/futures/{id}/exception
 *   result/     POST /v1/futures/{id}/result
 *   wait/       POST /v1/wait
 *   gather/     POST /v1/gather
 *   schedules/  POST /v1/schedules: proto_decode_schedule, output
 *               proto_schedule_canonical()
 */
#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "proto/codec.h"
#include "tests/unit/check.h"

#define GOLDEN_DIR "tests/golden"
#define MAX_DEPTH 64

/* Decode body (NULL: no body) and describe the outcome: the decoded
 * request as JSON on success, else the error detail in err. */
typedef json_t *(*golden_fn)(json_t *body, struct proto_error *err);

/* A JSON string, or null for NULL. */
static json_t *
str_or_null(const char *s)
{
	return s != NULL ? json_string(s) : json_null();
}

static json_t *
golden_call(json_t *body, struct proto_error *err)
{
	struct proto_call_req req;

	if (proto_decode_call(body, 1, &req, err) == -1)
		return NULL;
	return proto_call_canonical(&req);
}

static json_t *
golden_callback(json_t *body, struct proto_error *err)
{
	struct proto_call_req req;

	if (proto_decode_call(body, 0, &req, err) == -1)
		return NULL;
	return proto_call_canonical(&req);
}

static json_t *
golden_future(json_t *body, struct proto_error *err)
{
	struct proto_future_req req;

	if (proto_decode_future(body, &req, err) == -1)
		return NULL;
	return json_pack("{s:o, s:f}", "name", str_or_null(req.name), "timeout", req.timeout);
}

static json_t *
golden_exception(json_t *body, struct proto_error *err)
{
	struct proto_exception_req req;

	if (proto_decode_exception(body, &req, err) == -1)
		return NULL;
	return json_pack("{s:s, s:s}", "type", req.type, "message", req.message);
}

static json_t *
golden_result(json_t *body, struct proto_error *err)
{
	json_t *result;

	if (proto_decode_result(body, &result, err) == -1)
		return NULL;
	return json_pack("{s:O}", "result", result);
}

/* The timeout of a wait request: null when none was given. */
static json_t *
wait_timeout(const struct proto_wait_req *req)
{
	return req->timeout < 0 ? json_null() : json_real(req->timeout);
}

static json_t *
golden_wait(json_t *body, struct proto_error *err)
{
	static const char *names[] = { "ALL_COMPLETED", "FIRST_COMPLETED", "FIRST_EXCEPTION" };
	struct proto_wait_req req;

	if (proto_decode_wait(body, 0, &req, err) == -1)
		return NULL;
	return json_pack("{s:O, s:o, s:s}", "futures", req.futures, "timeout",
	    wait_timeout(&req), "return_when", names[req.return_when]);
}

static json_t *
golden_gather(json_t *body, struct proto_error *err)
{
	struct proto_wait_req req;

	if (proto_decode_wait(body, 1, &req, err) == -1)
		return NULL;
	return json_pack("{s:O, s:o, s:b}", "futures", req.futures, "timeout",
	    wait_timeout(&req), "return_exceptions", req.return_exceptions);
}

static json_t *
golden_schedule(json_t *body, struct proto_error *err)
{
	struct proto_schedule_req req;
	json_t *out = NULL;

	if (proto_decode_schedule(body, &req, err) == 0)
		out = proto_schedule_canonical(&req);
	proto_schedule_req_free(&req);
	return out;
}

static const struct suite {
	const char *name;
	golden_fn fn;
	int body_optional;	/* an empty input means no body at all */
	size_t min_cases;	/* guards against a suite that went missing */
} suites[] = {
	{ "calls", golden_call, 0, 40 },
	{ "callbacks", golden_callback, 0, 3 },
	{ "futures", golden_future, 1, 3 },
	{ "exception", golden_exception, 0, 3 },
	{ "result", golden_result, 0, 2 },
	{ "wait", golden_wait, 0, 3 },
	{ "gather", golden_gather, 0, 3 },
	{ "schedules", golden_schedule, 0, 12 },
};

/* Read a whole file into a NUL-terminated buffer; NULL if it cannot be
 * read (errno tells why). */
static char *
slurp(const char *path, size_t *len)
{
	FILE *fp = fopen(path, "rb");
	char *buf = NULL, *nbuf;
	size_t cap = 0, n = 0, r;

	if (fp == NULL)
		return NULL;
	do {
		if (cap - n < 4096) {
			cap = cap ? cap * 2 : 8192;
			if ((nbuf = realloc(buf, cap + 1)) == NULL) {
				free(buf);
				fclose(fp);
				return NULL;
			}
			buf = nbuf;
		}
		r = fread(buf + n, 1, cap - n, fp);
		n += r;
	} while (r > 0);
	if (ferror(fp)) {
		free(buf);
		buf = NULL;
	} else
		buf[n] = '\0';
	fclose(fp);
	if (len != NULL)
		*len = n;
	return buf;
}

/* Write text to path; 0 or -1. */
static int
spew(const char *path, const char *text)
{
	FILE *fp = fopen(path, "wb");
	int ok;

	if (fp == NULL)
		return -1;
	ok = fputs(text, fp) >= 0;
	return fclose(fp) == 0 && ok ? 0 : -1;
}

/* What the decoder makes of input: "output" or "error" in *kind and the
 * text with its newline (malloc'd). */
static char *
golden_run(const struct suite *s, const char *input, size_t len, const char **kind)
{
	struct proto_error err = { "" };
	json_t *body = NULL, *out = NULL;
	char *dump = NULL, *text = NULL;

	if (!(s->body_optional && len == 0) &&
	    (body = proto_parse(input, len, MAX_DEPTH, &err)) == NULL)
		goto done;
	out = s->fn(body, &err);
	if (out != NULL)
		dump = proto_dump(out);
done:
	*kind = dump != NULL ? "output" : "error";
	if (dump == NULL && out != NULL)
		err = (struct proto_error){ "(encoding failed)" };
	if (asprintf(&text, "%s\n", dump != NULL ? dump : err.detail) == -1)
		text = NULL;
	free(dump);
	json_decref(out);
	json_decref(body);
	return text;
}

/* Compare one case with its expected file (or rewrite it). */
static void
golden_case(const struct suite *s, const char *dir, int update)
{
	char path[640], other[640];
	char *input, *got, *want;
	const char *kind, *not_kind;
	size_t len;

	snprintf(path, sizeof(path), "%s/input", dir);
	if ((input = slurp(path, &len)) == NULL) {
		check_result(0, path, 0, "reading the input");
		return;
	}
	if ((got = golden_run(s, input, len, &kind)) == NULL) {
		check_result(0, path, 0, "out of memory");
		free(input);
		return;
	}
	not_kind = strcmp(kind, "output") == 0 ? "error" : "output";
	snprintf(path, sizeof(path), "%s/%s", dir, kind);
	snprintf(other, sizeof(other), "%s/%s", dir, not_kind);

	if (update) {
		want = slurp(path, NULL);
		if (want == NULL || strcmp(want, got) != 0 || access(other, F_OK) == 0)
			printf("golden: wrote %s\n", path);
		if (spew(path, got) == -1 || (unlink(other) == -1 && errno != ENOENT))
			check_result(0, path, 0, "writing the expected file");
		else
			check_result(1, path, 0, "");
		free(want);
	} else if ((want = slurp(path, NULL)) != NULL) {
		if (!check_result(strcmp(want, got) == 0, path, 0, "golden case"))
			fprintf(stderr, "  want %s: %s  got %s:  %s", kind, want, kind, got);
		free(want);
	} else {
		/* The other kind was expected (or nothing at all). */
		want = slurp(other, NULL);
		check_result(0, dir, 0, "golden case");
		fprintf(stderr, "  want %s: %s%s  got %s: %s", not_kind,
		    want != NULL ? want : "(no expected file)", want != NULL ? "" : "\n",
		    kind, got);
		free(want);
	}
	free(got);
	free(input);
}

static int
name_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Run every case of one suite, in name order. */
static void
golden_suite(const struct suite *s, int update)
{
	char dir[256], path[600];
	char **names = NULL, **nn;
	size_t n = 0;
	struct dirent *de;
	DIR *d;

	snprintf(dir, sizeof(dir), "%s/%s", GOLDEN_DIR, s->name);
	if ((d = opendir(dir)) == NULL) {
		check_result(0, dir, 0, "opening the suite");
		return;
	}
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		if ((nn = realloc(names, (n + 1) * sizeof(*names))) == NULL ||
		    (nn[n] = strdup(de->d_name)) == NULL) {
			names = nn != NULL ? nn : names;
			break;
		}
		names = nn;
		n++;
	}
	closedir(d);
	qsort(names, n, sizeof(*names), name_cmp);
	for (size_t i = 0; i < n; i++) {
		snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
		golden_case(s, path, update);
		free(names[i]);
	}
	free(names);
	if (n < s->min_cases) {
		check_result(0, dir, 0, "enough cases");
		fprintf(stderr, "  %zu cases, want at least %zu\n", n, s->min_cases);
	}
	printf("golden %s: %zu cases\n", s->name, n);
}

/* Decode a call body given as text; the canonical dump, or NULL. */
static char *
canonical_of(const char *text)
{
	struct proto_error err = { "" };
	struct proto_call_req req;
	json_t *body = proto_parse(text, strlen(text), MAX_DEPTH, &err), *c = NULL;
	char *dump = NULL;

	if (body != NULL && proto_decode_call(body, 1, &req, &err) == 0 &&
	    (c = proto_call_canonical(&req)) != NULL)
		dump = proto_dump(c);
	json_decref(c);
	json_decref(body);
	return dump;
}

/* Requests that mean the same have the same canonical form, and ones
 * that do not, do not. */
static void
test_canonical(void)
{
	static const char *same[][2] = {
		{ "{\"soon\":true,\"command\":{\"argv\":[\"a\"]}}",
		  "{\"command\":{\"argv\":[\"a\"]},\"soon\":true}" },
		{ "{\"soon\":true,\"command\":{\"argv\":[\"a\"]}}",
		  "{\"soon\":true,\"command\":{\"argv\":[\"a\"]},\"args\":[],\"on_restart\":\"fail\"}" },
		{ "{\"after\":1,\"webhook\":{\"url\":\"http://h/\"}}",
		  "{\"after\":1.0,\"webhook\":{\"url\":\"http://h/\",\"method\":\"POST\"}}" },
		{ "{\"soon\":true,\"command\":{\"argv\":[\"a\"],\"env\":{\"A\":\"1\",\"B\":\"2\"}}}",
		  "{\"soon\":true,\"command\":{\"env\":{\"B\":\"2\",\"A\":\"1\"},\"argv\":[\"a\"]}}" },
		/* 1 and 1.0 are the same JSON number: the trigger's is
		 * normalized, so must the action's and retry's be. */
		{ "{\"soon\":true,\"command\":{\"argv\":[\"a\"],\"timeout\":1}}",
		  "{\"soon\":true,\"command\":{\"argv\":[\"a\"],\"timeout\":1.0}}" },
		{ "{\"soon\":true,\"webhook\":{\"url\":\"http://h/\"},\"retry\":{\"backoff\":2}}",
		  "{\"soon\":true,\"webhook\":{\"url\":\"http://h/\"},\"retry\":{\"backoff\":2.0}}" },
		/* The key names the request; it is not part of what it means. */
		{ "{\"soon\":true,\"command\":{\"argv\":[\"a\"]},\"idempotency_key\":\"k\"}",
		  "{\"soon\":true,\"command\":{\"argv\":[\"a\"]}}" },
	};
	static const char *differ[][2] = {
		{ "{\"soon\":true,\"command\":{\"argv\":[\"a\"]}}",
		  "{\"soon\":true,\"command\":{\"argv\":[\"b\"]}}" },
		{ "{\"after\":1,\"command\":{\"argv\":[\"a\"]}}",
		  "{\"at\":1,\"command\":{\"argv\":[\"a\"]}}" },
		{ "{\"soon\":true,\"command\":{\"argv\":[\"a\"]}}",
		  "{\"soon\":true,\"command\":{\"argv\":[\"a\"]},\"args\":[1]}" },
		{ "{\"soon\":true,\"command\":{\"argv\":[\"a\"]}}",
		  "{\"soon\":true,\"command\":{\"argv\":[\"a\"]},\"name\":\"n\"}" },
		{ "{\"soon\":true,\"command\":{\"argv\":[\"a\"]}}",
		  "{\"soon\":true,\"command\":{\"argv\":[\"a\"]},\"on_restart\":\"rerun\"}" },
		{ "{\"soon\":true,\"webhook\":{\"url\":\"http://h/\"}}",
		  "{\"soon\":true,\"webhook\":{\"url\":\"http://h/\",\"method\":\"PUT\"}}" },
	};

	for (size_t i = 0; i < sizeof(same) / sizeof(same[0]); i++) {
		char *a = canonical_of(same[i][0]), *b = canonical_of(same[i][1]);
		if (CHECK(a != NULL && b != NULL) && !CHECK_STR_EQ(a, b))
			fprintf(stderr, "  from %s\n   and %s\n", same[i][0], same[i][1]);
		free(a);
		free(b);
	}
	for (size_t i = 0; i < sizeof(differ) / sizeof(differ[0]); i++) {
		char *a = canonical_of(differ[i][0]), *b = canonical_of(differ[i][1]);
		if (CHECK(a != NULL && b != NULL) && !CHECK(strcmp(a, b) != 0))
			fprintf(stderr, "  both: %s\n", a);
		free(a);
		free(b);
	}
}

/* The spec keeps the action, args, retry and on_restart, and no trigger. */
static void
test_spec(void)
{
	const char *text = "{\"at\":5,\"name\":\"n\",\"webhook\":{\"url\":\"https://h/x\"},"
	    "\"retry\":{\"attempts\":3},\"args\":[1]}";
	struct proto_error err = { "" };
	struct proto_call_req req;
	json_t *body = proto_parse(text, strlen(text), MAX_DEPTH, &err), *spec;
	char *dump, *stext;

	if (!CHECK(body != NULL && proto_decode_call(body, 1, &req, &err) == 0)) {
		fprintf(stderr, "  %s\n", err.detail);
		json_decref(body);
		return;
	}
	CHECK_INT_EQ(req.trigger, PROTO_AT);
	CHECK(req.when == 5.0);
	CHECK_INT_EQ(req.action, PROTO_WEBHOOK);
	CHECK_INT_EQ(req.retry.attempts, 3);
	CHECK_STR_EQ(req.on_restart, "fail");
	CHECK_STR_EQ(req.name, "n");
	spec = proto_call_spec(&req);
	dump = spec ? proto_dump(spec) : NULL;
	CHECK_STR_EQ(dump, "{\"args\":[1],\"on_restart\":\"fail\",\"retry\":{\"attempts\":3},"
	    "\"webhook\":{\"method\":\"POST\",\"url\":\"https://h/x\"}}");
	stext = proto_call_spec_text(&req);
	CHECK_STR_EQ(stext, dump);
	free(stext);
	/* The spec is a copy: the request body is untouched. */
	CHECK(json_object_get(json_object_get(body, "webhook"), "method") == NULL);
	free(dump);
	json_decref(spec);
	json_decref(body);
}

/* A command's spec text, written directly, is the dump of its spec. */
static void
test_spec_text(void)
{
	static const char *const bodies[] = {
		"{\"soon\":true,\"command\":{\"argv\":[\"true\"]}}",
		"{\"after\":1,\"command\":{\"argv\":[\"a\",\"\\u00e9\\n\"],\"env\":{\"Z\":\"1\","
		    "\"A\":\"2\"},\"timeout\":2.5,\"cwd\":\"/\"},\"args\":[{\"b\":1,\"a\":[1.5]}],"
		    "\"retry\":{\"attempts\":2,\"backoff\":0.5},\"on_restart\":\"fail\"}",
		"{\"at\":3,\"command\":{\"stdin\":\"x\",\"argv\":[\"/bin/echo\",\"\"]}}",
	};
	for (size_t i = 0; i < sizeof(bodies) / sizeof(bodies[0]); i++) {
		struct proto_error err = { "" };
		struct proto_call_req req;
		json_t *body = proto_parse(bodies[i], strlen(bodies[i]), MAX_DEPTH, &err), *spec;
		char *want, *got;

		if (!CHECK(body != NULL && proto_decode_call(body, 1, &req, &err) == 0)) {
			fprintf(stderr, "  %s: %s\n", bodies[i], err.detail);
			json_decref(body);
			continue;
		}
		spec = proto_call_spec(&req);
		want = spec ? proto_dump(spec) : NULL;
		got = proto_call_spec_text(&req);
		CHECK(want != NULL);
		CHECK_STR_EQ(got, want);
		free(want);
		free(got);
		json_decref(spec);
		json_decref(body);
	}
}

static void
test_ids(void)
{
	char buf[32], kind = '?';

	CHECK_STR_EQ(proto_id_format(0xff, 'c', buf), "c_00000000000000ff");
	CHECK_STR_EQ(proto_id_format(UINT64_MAX, 'f', buf), "f_ffffffffffffffff");
	CHECK(proto_id_parse("c_00000000000000ff", &kind) == 0xff);
	CHECK(kind == 'c');
	CHECK(proto_id_parse("f_ffffffffffffffff", &kind) == UINT64_MAX);
	CHECK(kind == 'f');
	CHECK(proto_id_parse("f_0123456789abcdef", NULL) == 0x0123456789abcdefULL);
	kind = '?';
	CHECK(proto_id_parse("f_0000000000000000", &kind) == 0);
	CHECK(proto_id_parse("F_00000000000000ff", &kind) == 0);
	CHECK(proto_id_parse("x_00000000000000ff", &kind) == 0);
	CHECK(proto_id_parse("c_00000000000000FF", &kind) == 0);
	CHECK(proto_id_parse("c_0000000000000ff", &kind) == 0);
	CHECK(proto_id_parse("c_000000000000000ff", &kind) == 0);
	CHECK(proto_id_parse("c-00000000000000ff", &kind) == 0);
	CHECK(proto_id_parse("c_00000000000000fg", &kind) == 0);
	CHECK(proto_id_parse("", &kind) == 0);
	CHECK(proto_id_parse(NULL, &kind) == 0);
}

static void
test_problem(void)
{
	json_t *p = proto_problem(409, NULL, "future is already finished");
	char *dump = p ? proto_dump(p) : NULL;

	CHECK_STR_EQ(dump, "{\"detail\":\"future is already finished\",\"status\":409,"
	    "\"title\":\"Conflict\",\"type\":\"InvalidStateError\"}");
	free(dump);
	json_decref(p);
	p = proto_problem(400, "BadRequest", NULL);
	CHECK(p != NULL && strcmp(json_string_value(json_object_get(p, "detail")), "") == 0);
	json_decref(p);
	CHECK_STR_EQ(proto_problem_type(404), "NotFound");
	CHECK_STR_EQ(proto_problem_type(405), "MethodNotAllowed");
	CHECK_STR_EQ(proto_problem_type(413), "PayloadTooLarge");
	CHECK_STR_EQ(proto_problem_type(422), "IdempotencyMismatch");
	CHECK_STR_EQ(proto_problem_type(429), "TooManyRequests");
	CHECK_STR_EQ(proto_problem_type(503), "Unavailable");
}

/* The depth limit counts objects and arrays, and a limit of 0 means none. */
static void
test_depth(void)
{
	struct proto_error err = { "" };
	char buf[2 * 200 + 1];
	json_t *v;

	for (size_t d = 1; d <= 200; d++) {
		memset(buf, '[', d);
		memset(buf + d, ']', d);
		buf[2 * d] = '\0';
		err.detail[0] = '\0';
		v = proto_parse(buf, 2 * d, 64, &err);
		if (!CHECK((v != NULL) == (d <= 64)))
			fprintf(stderr, "  depth %zu: %s\n", d, err.detail);
		json_decref(v);
	}
	v = proto_parse(buf, 400, 0, &err);
	CHECK(v != NULL);
	json_decref(v);
	err.detail[0] = '\0';
	v = proto_parse("{\"a\":1}", 7, 1, &err);
	CHECK(v != NULL);
	json_decref(v);
	v = proto_parse("{\"a\":[]}", 8, 1, &err);
	CHECK(v == NULL);
	CHECK_STR_EQ(err.detail, "body: nested deeper than 1 levels");
}

int
main(void)
{
	const char *u = getenv("GOLDEN_UPDATE");
	int update = u != NULL && strcmp(u, "1") == 0;

	for (size_t i = 0; i < sizeof(suites) / sizeof(suites[0]); i++)
		golden_suite(&suites[i], update);
	test_canonical();
	test_spec();
	test_spec_text();
	test_ids();
	test_problem();
	test_depth();
	return check_summary();
}
