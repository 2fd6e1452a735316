/*
 * api_wait: POST /v1/wait and POST /v1/gather. The rules (asyncio.wait's
 * return_when, gather's first failure, the deadline capped by max_wait)
 * are the core's waitset; this file decodes the request, starts one, and
 * encodes what it reports: {done, pending}, {results}, {exception,
 * future}, or a gather cut short {timed_out, done, pending}.
 *
 * A body of many ids costs no long loop turn (issue 13): it is read in
 * one pass without a JSON tree (proto/waitbody; bodies of another shape
 * go through jansson), the ids are kept as numbers (every id decoded is
 * proto_id_format's, so it is written back as given), and the waitset
 * looks them up and registers its waiters a slice a turn. An unknown id
 * found on a later turn is still a 404, before any waiter is registered.
 */
#include <stdlib.h>
#include <string.h>

#include "daemon/config.h"
#include "daemon/core/clock.h"
#include "daemon/core/future.h"
#include "daemon/core/waitset.h"
#include "daemon/http/api.h"
#include "proto/codec.h"
#include "proto/jsonbuf.h"
#include "proto/waitbody.h"

#define WAIT_MAX_FUTURES 10000

/* A held /v1/wait or /v1/gather: the waitset and the ids' kinds. */
struct api_waiting {
	struct http_req *r;
	struct waitset *ws;
	int gather;
	int return_exceptions;
	char *kind;			/* per id: 'c' or 'f' */
};

/* The i-th id as given. */
static const char *
name_of(const struct api_waiting *aw, size_t i, char buf[20])
{
	return proto_id_format(waitset_id(aw->ws, i), aw->kind[i], buf);
}

/* Append the i-th id as given, quoted. */
static void
put_id(struct jsonbuf *b, const struct api_waiting *aw, size_t i)
{
	char buf[20];

	jsonbuf_char(b, '"');
	jsonbuf_raw(b, name_of(aw, i, buf), 18);
	jsonbuf_char(b, '"');
}

/* Append a literal. */
static void
put_raw(struct jsonbuf *b, const char *s)
{
	jsonbuf_raw(b, s, strlen(s));
}

/* Append what a done future gives when awaited: its result, or the
 * exception it raises (the stored text as it is, as in its view). */
static void
put_outcome(struct jsonbuf *b, const struct future *f)
{
	if (f == NULL)
		put_raw(b, "{\"type\":\"NotFound\",\"message\":\"the future was forgotten "
		    "(retention)\"}");
	else if (f->state == FUTURE_CANCELLED)
		put_raw(b, "{\"type\":\"CancelledError\",\"message\":\"the future was "
		    "cancelled\"}");
	else
		put_raw(b, f->outcome != NULL ? f->outcome : "null");
}

/* {"done": [...], "pending": [...]}, "timed_out" first for a gather.
 * Written as text into one allocation of its size (a tree of 10,000
 * strings and its dump took milliseconds, issue 13; so do the page
 * faults of a buffer that doubles). NULL on ENOMEM. */
static char *
encode_split(const struct api_waiting *aw)
{
	static const char mid[] = "],\"pending\":[", end[] = "]}";
	const char *head = aw->gather ? "{\"timed_out\":true,\"done\":[" : "{\"done\":[";
	size_t n = waitset_size(aw->ws), len = strlen(head);
	char *text = malloc(len + n * 21 + sizeof(mid) + sizeof(end)), *p, buf[20];

	if (text == NULL)
		return NULL;
	memcpy(text, head, len);
	p = text + len;
	for (int want = 1; want >= 0; want--) {
		char *first = p;
		for (size_t i = 0; i < n; i++) {
			if ((waitset_done(aw->ws, i) != 0) != want)
				continue;
			if (p != first)
				*p++ = ',';
			*p++ = '"';
			memcpy(p, name_of(aw, i, buf), 18);
			p += 18;
			*p++ = '"';
		}
		memcpy(p, want ? mid : end, want ? sizeof(mid) - 1 : sizeof(end));
		p += want ? sizeof(mid) - 1 : sizeof(end) - 1;
	}
	*p = '\0';
	return text;
}

/* A gather's answer: the first failure, or every result in order. NULL
 * on ENOMEM. */
static char *
encode_gather(const struct api_waiting *aw)
{
	size_t n = waitset_size(aw->ws);
	size_t fail = aw->return_exceptions ? n : waitset_failure(aw->ws);
	struct jsonbuf b;

	jsonbuf_init(&b);
	if (fail < n) {
		put_raw(&b, "{\"exception\":");
		put_outcome(&b, waitset_future(aw->ws, fail));
		put_raw(&b, ",\"future\":");
		put_id(&b, aw, fail);
		jsonbuf_char(&b, '}');
		return jsonbuf_finish(&b);
	}
	put_raw(&b, "{\"results\":[");
	for (size_t i = 0; i < n; i++) {
		if (i > 0)
			jsonbuf_char(&b, ',');
		put_outcome(&b, waitset_future(aw->ws, i));
	}
	put_raw(&b, "]}");
	return jsonbuf_finish(&b);
}

/* Reply with the waitset's error: an unknown id is a 404 naming it. */
static void
refuse(struct http_req *r, const struct api_waiting *aw, const struct core_error *err)
{
	char buf[20];

	if (err->code == CORE_ENOTFOUND)
		http_reply_problem(r, 404, NULL, "no such future: %s",
		    name_of(aw, waitset_missing(aw->ws), buf));
	else
		api_core_error(r, err);
}

/* Reply with what the waitset reports now (or its error). */
static void
answer(struct http_req *r, const struct api_waiting *aw)
{
	struct core_error err = { CORE_OK, "" };
	char *text;

	if (waitset_error(aw->ws, &err) == -1) {
		refuse(r, aw, &err);
		return;
	}
	text = aw->gather && waitset_ready(aw->ws) ? encode_gather(aw) : encode_split(aw);
	if (text == NULL)
		http_reply_problem(r, 503, NULL, "out of memory");
	else
		http_reply_text(r, 200, "application/json", text);
}

/* The waitset ended: answer and resume. */
static void
ended(struct waitset *ws, void *arg)
{
	struct api_waiting *aw = arg;

	answer(aw->r, aw);
	http_resume(aw->r);
}

/* Shutdown wants an answer now. */
static void
expire(struct http_req *r)
{
	struct api_waiting *aw = http_hold_arg(r);

	waitset_stop(aw->ws);
	answer(r, aw);
}

/* Free aw. Accepts NULL. */
static void
waiting_free(struct api_waiting *aw)
{
	if (aw == NULL)
		return;
	waitset_free(aw->ws);
	free(aw->kind);
	free(aw);
}

/* The request is over. */
static void
cleanup(struct http_req *r)
{
	waiting_free(http_hold_take(r));
}

/* The rule of a decoded request. */
static enum waitset_rule
rule_of(const struct proto_wait_req *req, int gather)
{
	if (gather)
		return req->return_exceptions ? WAITSET_ALL_COMPLETED : WAITSET_GATHER;
	if (req->return_when == PROTO_FIRST_COMPLETED)
		return WAITSET_FIRST_COMPLETED;
	if (req->return_when == PROTO_FIRST_EXCEPTION)
		return WAITSET_FIRST_EXCEPTION;
	return WAITSET_ALL_COMPLETED;
}

/* The request's timeout in microseconds: -1 when none was given (or too
 * large: the core caps it), 0 only when it is 0. */
static int64_t
timeout_of(double s)
{
	int64_t us;

	if (s == 0)
		return 0;
	if (s < 0 || (us = clock_from_seconds(s)) < 0)
		return -1;
	return us > 0 ? us : 1;
}

/* The request's ids and members: the short way when the body is plain,
 * else jansson's. -1 after replying 400 (or 503). */
static int
decode(struct http_req *r, int gather, struct proto_wait_req *req, struct proto_wait_ids *ids)
{
	struct proto_error perr = { "" };
	size_t len, i, n;
	const char *body = http_body(r, &len);
	json_t *json, *id;
	int rc = -1;

	switch (proto_wait_scan(body, len, gather, http_limits()->max_json_depth,
	    WAIT_MAX_FUTURES, req, ids, &perr)) {
	case 1:
		return 0;
	case -1:
		http_reply_problem(r, 400, NULL, "%s", perr.detail);
		return -1;
	default:
		break;
	}
	if (api_body(r, 1, &json) == -1)
		return -1;
	if (proto_decode_wait(json, gather, req, &perr) == -1)
		http_reply_problem(r, 400, NULL, "%s", perr.detail);
	else if ((n = json_array_size(req->futures)) > WAIT_MAX_FUTURES)
		http_reply_problem(r, 400, NULL, "futures: at most %d ids", WAIT_MAX_FUTURES);
	else if ((ids->id = calloc(n, sizeof(*ids->id))) == NULL ||
	    (ids->kind = calloc(n, 1)) == NULL)
		http_reply_problem(r, 503, NULL, "out of memory");
	else {
		json_array_foreach(req->futures, i, id)
			ids->id[i] = proto_id_parse(json_string_value(id), &ids->kind[i]);
		ids->n = n;
		rc = 0;
	}
	req->futures = NULL;
	if (rc == -1)
		proto_wait_ids_free(ids);
	json_decref(json);
	return rc;
}

/* Shared body of /v1/wait and /v1/gather: decode, one waitset, encode. */
static void
api_waitset(struct http_req *r, int gather)
{
	struct proto_wait_req req;
	struct proto_wait_ids ids = { 0, NULL, NULL };
	struct core_error err = { CORE_OK, "" };
	struct waitset_limits lim;
	struct api_waiting *aw = NULL;
	int rc;

	if (decode(r, gather, &req, &ids) == -1)
		return;
	if ((aw = calloc(1, sizeof(*aw))) == NULL ||
	    (aw->ws = waitset_new(rule_of(&req, gather), ids.n)) == NULL) {
		http_reply_problem(r, 503, NULL, "out of memory");
		goto out;
	}
	aw->r = r;
	aw->gather = gather;
	aw->return_exceptions = req.return_exceptions;
	aw->kind = ids.kind;
	ids.kind = NULL;
	for (size_t i = 0; i < ids.n; i++)
		waitset_add_id(aw->ws, ids.id[i], aw->kind[i] == 'c');
	lim = (struct waitset_limits){ api_cfg->max_waiters, api_cfg->max_wait };
	rc = waitset_start(aw->ws, api_base, timeout_of(req.timeout), &lim, ended, aw, &err);
	if (rc == -1)
		refuse(r, aw, &err);
	else if (rc == 1)
		answer(r, aw);
	else {
		http_hold(r, aw, expire, cleanup);
		aw = NULL;
	}
out:
	waiting_free(aw);
	proto_wait_ids_free(&ids);
}

/* POST /v1/wait */
void
api_wait(struct http_req *r, struct api_args *a)
{
	api_waitset(r, 0);
}

/* POST /v1/gather */
void
api_gather(struct http_req *r, struct api_args *a)
{
	api_waitset(r, 1);
}
