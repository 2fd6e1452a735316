/*
 * Unit tests for proto/waitbody: the one-pass read of a wait or gather
 * body must say what proto_parse + proto_decode_wait say, whenever it
 * says anything. Every case (hand-written ones, then thousands of random
 * mutations of real bodies) goes both ways and the answers are compared:
 * the same ids in order, the same timeout and rule, or the same 400
 * detail. Plain bodies must take the short way.
 */
#include <stdlib.h>
#include <string.h>

#include "proto/codec.h"
#include "proto/waitbody.h"
#include "tests/unit/check.h"

#define MAX_IDS 10000

static unsigned long n_short, n_long;

/* Both ways on one body; the short way's answer must be the long way's. */
static int
same_answer(const char *body, size_t len, int gather, size_t max_depth)
{
	struct proto_wait_req a, b;
	struct proto_wait_ids ids;
	struct proto_error ea = { "" }, eb = { "" };
	json_t *v;
	int ra, rb, ok = 1;

	ra = proto_wait_scan(body, len, gather, max_depth, MAX_IDS, &a, &ids, &ea);
	if (ra == 0) {
		n_long++;
		return CHECK(ids.n == 0 && ids.id == NULL);
	}
	n_short++;
	if ((v = proto_parse(body, len, max_depth, &eb)) == NULL)
		rb = -1;
	else {
		rb = proto_decode_wait(v, gather, &b, &eb);
		if (rb == 0 && json_array_size(b.futures) > MAX_IDS)
			rb = -2;
	}
	if (ra == -1) {
		ok = CHECK(rb == -1) && check_str_eq(ea.detail, eb.detail, __FILE__, __LINE__,
		    "the same detail");
	} else if ((ok = CHECK(rb == 0))) {
		ok = CHECK(a.futures == NULL) && CHECK(a.timeout == b.timeout) &&
		    CHECK(a.return_when == b.return_when) &&
		    CHECK(a.return_exceptions == b.return_exceptions) &&
		    CHECK(ids.n == json_array_size(b.futures));
		for (size_t i = 0; ok && i < ids.n; i++) {
			char kind, buf[20];
			const char *s = json_string_value(json_array_get(b.futures, i));
			unsigned long long n = proto_id_parse(s, &kind);
			ok = CHECK(n == ids.id[i] && kind == ids.kind[i]) &&
			    check_str_eq(proto_id_format(ids.id[i], ids.kind[i], buf), s,
			    __FILE__, __LINE__, "the id as given");
		}
	}
	if (!ok)
		fprintf(stderr, "  body (%zu bytes): %.*s\n", len, (int)(len > 300 ? 300 : len),
		    body);
	json_decref(v);
	proto_wait_ids_free(&ids);
	return ok;
}

/* A text body both ways, and how the short way took it. */
static int
scan_rc(const char *body, int gather)
{
	struct proto_wait_req a;
	struct proto_wait_ids ids;
	struct proto_error e = { "" };
	int rc = proto_wait_scan(body, strlen(body), gather, 64, MAX_IDS, &a, &ids, &e);

	proto_wait_ids_free(&ids);
	same_answer(body, strlen(body), gather, 64);
	return rc;
}

/* Plain bodies take the short way, with the ids and the members. */
static void
test_plain(void)
{
	struct proto_wait_req req;
	struct proto_wait_ids ids;
	struct proto_error err = { "" };
	const char *body = " {\"futures\" : [ \"f_00000000000000a1\",\"c_00000000000000b2\" ,"
	    "\"f_00000000000000a1\"], \"timeout\": 2.5,\n\"return_when\":\"FIRST_COMPLETED\"}\r\n";

	if (!CHECK(proto_wait_scan(body, strlen(body), 0, 64, MAX_IDS, &req, &ids, &err) == 1))
		return;
	CHECK(ids.n == 3 && ids.id[0] == 0xa1 && ids.kind[0] == 'f' && ids.id[1] == 0xb2 &&
	    ids.kind[1] == 'c' && ids.id[2] == 0xa1);
	CHECK(req.timeout == 2.5 && req.return_when == PROTO_FIRST_COMPLETED &&
	    req.futures == NULL);
	proto_wait_ids_free(&ids);
	proto_wait_ids_free(&ids);	/* twice is harmless */
	proto_wait_ids_free(NULL);

	CHECK(scan_rc("{\"futures\":[\"f_0000000000000001\"]}", 0) == 1);
	CHECK(scan_rc("{\"futures\":[\"f_0000000000000001\"],\"return_exceptions\":true,"
	    "\"timeout\":0}", 1) == 1);
	CHECK(scan_rc("{\"timeout\":null,\"futures\":[\"f_0000000000000001\"]}", 1) == -1);
}

/* Refusals the short way can give, each with the long way's detail. */
static void
test_refused(void)
{
	static const char *const bodies[] = {
		"{}",
		"{\"futures\":[]}",
		"{\"futures\":\"f_0000000000000001\"}",
		"{\"futures\":[\"f_0000000000000001\"],\"timeout\":-1}",
		"{\"futures\":[\"f_0000000000000001\"],\"timeout\":\"1\"}",
		"{\"futures\":[\"f_0000000000000001\"],\"return_when\":\"SOMETIME\"}",
		"{\"futures\":[\"f_0000000000000001\"],\"return_when\":1}",
		"{\"futures\":[\"f_0000000000000001\"],\"return_exceptions\":true}",
		"{\"futures\":[\"f_0000000000000001\"],\"bogus\":1,\"other\":2}",
		"{\"bogus\":1,\"futures\":[]}",
		"{\"futures\":[],\"bogus\":1}",
		"{\"timeout\":\"x\",\"bogus\":1}",
		"{\"futures\":[\"f_0000000000000001\"],\"timeout\":1e300}",
		"{\"futures\":7}",
	};

	for (size_t i = 0; i < sizeof(bodies) / sizeof(bodies[0]); i++)
		CHECK(scan_rc(bodies[i], 0) == -1);
	CHECK(scan_rc("{\"futures\":[\"f_0000000000000001\"],\"return_when\":\"ALL_COMPLETED\"}",
	    1) == -1);
}

/* What the short way leaves to the long one. */
static void
test_long_way(void)
{
	static const char *const bodies[] = {
		"",
		"   ",
		"[]",
		"{\"futures\":[\"f_0000000000000000\"]}",		/* id 0 */
		"{\"futures\":[\"F_0000000000000001\"]}",
		"{\"futures\":[\"f_000000000000000A\"]}",
		"{\"futures\":[\"f_00000000000000011\"]}",
		"{\"futures\":[\"f_000000000000001\"]}",
		"{\"futures\":[\"f\\u005f0000000000000001\"]}",	/* an escape */
		"{\"futures\":[\"f_0000000000000001\",]}",
		"{\"futures\":[\"f_0000000000000001\"]",
		"{\"futures\":[\"f_0000000000000001\"]} x",
		"{\"futures\":[\"f_0000000000000001\"],}",
		"{\"futures\":[1]}",
		"{\"futures\":[\"f_0000000000000001\"],\"futures\":[]}",	/* duplicate */
		"{\"timeout\":1,\"timeout\":2}",
		"{\"futures\":[\"f_0000000000000001\"],\"timeout\":01}",
		"{\"futures\":[\"f_0000000000000001\"],\"timeout\":1e309}",
		"{\"futures\":[\"f_0000000000000001\"],\"timeout\":-}",
		"{\"futures\":[\"f_0000000000000001\"],\"timeout\":truex}",
		"{\"futures\":[\"f_0000000000000001\"],\"timeout\":{}}",
		"{\"futures\":[\"f_0000000000000001\"],\"x\":[]}",
		"{\"futures\":[\"f_0000000000000001\"],\"x\":\"caf\xc3\xa9\"}",
		"{\"caf\xc3\xa9\":1}",
		"{\"futures\":[\"f_0000000000000001\"],\"x\":\"a\\nb\"}",
		"\xef\xbb\xbf{\"futures\":[\"f_0000000000000001\"]}",
		"{\"a\":1,\"b\":2,\"c\":3,\"d\":4,\"e\":5,\"f\":6,\"g\":7,\"h\":8,\"i\":9}",
		"{\"futures\":[\"f_0000000000000001\"]}\v",
	};

	for (size_t i = 0; i < sizeof(bodies) / sizeof(bodies[0]); i++)
		CHECK(scan_rc(bodies[i], 0) == 0);
	/* A NUL in the body, and a cap of one level. */
	CHECK(same_answer("{\"futures\":[\"f_0000000000000001\"]}\0", 35, 0, 64));
	{
		struct proto_wait_req req;
		struct proto_wait_ids ids;
		struct proto_error err = { "" };
		const char *b = "{\"futures\":[\"f_0000000000000001\"]}";
		CHECK(proto_wait_scan(b, strlen(b), 0, 1, MAX_IDS, &req, &ids, &err) == 0);
		CHECK(proto_wait_scan(b, strlen(b), 0, 2, 0, &req, &ids, &err) == 0);
		CHECK(proto_wait_scan(NULL, 0, 0, 2, 10, &req, &ids, &err) == 0);
	}
}

/* 10,000 ids (the cap) the short way; one more is the long way's. */
static void
test_many(void)
{
	size_t cap = 32 + (MAX_IDS + 1) * 22, len;
	char *b = malloc(cap);
	struct proto_wait_req req;
	struct proto_wait_ids ids;
	struct proto_error err = { "" };

	if (!CHECK(b != NULL))
		return;
	for (int extra = 0; extra < 2; extra++) {
		len = (size_t)sprintf(b, "{\"futures\":[");
		for (int i = 0; i < MAX_IDS + extra; i++)
			len += (size_t)sprintf(b + len, "%s\"f_%016x\"", i ? "," : "", 0x1000 + i);
		len += (size_t)sprintf(b + len, "],\"timeout\":60}");
		CHECK(proto_wait_scan(b, len, 0, 64, MAX_IDS, &req, &ids, &err) == (extra ? 0 : 1));
		CHECK(ids.n == (extra ? 0 : MAX_IDS));
		if (!extra)
			CHECK(ids.id[MAX_IDS - 1] == 0x1000 + MAX_IDS - 1);
		proto_wait_ids_free(&ids);
	}
	free(b);
}


/* Random mutations of real bodies: whatever the bytes, the short way
 * answers as the long way or leaves it to it. */
static void
test_mutations(void)
{
	static const char *const seeds[] = {
		"{\"futures\": [\"f_00000000000000a1\", \"c_00000000000000b2\"], \"timeout\": 1.5, "
		    "\"return_when\": \"FIRST_EXCEPTION\"}",
		"{\"return_exceptions\": false, \"futures\": [\"f_0000000000000001\"], "
		    "\"timeout\": 0}",
		"{\"futures\":[\"c_00000000000000ff\"],\"return_when\":\"ALL_COMPLETED\"}",
	};
	static const char alphabet[] = "{}[],:\" \t\n\\ef_c0123456789.-+eEtruflsn\x01\x7f\xc3";
	char buf[512];
	unsigned long bad = check_failed;

	for (int round = 0; round < 30000 && check_failed == bad; round++) {
		const char *seed = seeds[(unsigned)check_rand(3)];
		size_t len = strlen(seed);
		int edits = 1 + (int)(unsigned)check_rand(3);

		memcpy(buf, seed, len);
		while (edits-- > 0) {
			size_t at = (unsigned)check_rand((unsigned)len + 1);
			char c = alphabet[(unsigned)check_rand(sizeof(alphabet) - 1)];
			switch ((unsigned)check_rand(3)) {
			case 0:		/* replace */
				if (at < len)
					buf[at] = c;
				break;
			case 1:		/* insert */
				if (len + 1 < sizeof(buf)) {
					memmove(buf + at + 1, buf + at, len - at);
					buf[at] = c;
					len++;
				}
				break;
			default:	/* delete */
				if (at < len) {
					memmove(buf + at, buf + at + 1, len - at - 1);
					len--;
				}
				break;
			}
		}
		same_answer(buf, len, (int)(unsigned)check_rand(2), 64);
	}
	/* Both ways were taken often. */
	CHECK(n_short > 3000 && n_long > 3000);
}

int
main(void)
{
	test_plain();
	test_refused();
	test_long_way();
	test_many();
	test_mutations();
	return check_summary();
}
