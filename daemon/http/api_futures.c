/*
 * api_futures: /v1/futures routes, including the long-poll
 * GET /v1/futures/{id}?wait=S (a waitset of one, daemon/core/waitset).
 */
#include <stdlib.h>
#include <string.h>

#include "daemon/config.h"
#include "daemon/core/clock.h"
#include "daemon/core/sched.h"
#include "daemon/core/waitset.h"
#include "daemon/http/api.h"
#include "daemon/view.h"
#include "proto/codec.h"

/* A held long-poll: a waitset of one. */
struct api_poll {
	struct http_req *r;
	struct waitset *ws;
};

/* The encoding of the last done future answered to a long-poll. A done
 * future never changes, so the thousands of waiters one result wakes share
 * one encoding instead of making one each. */
static struct {
	uint64_t id;
	char *text;
} done_cache;

/* Answer a long-poll with the object as it stands now. */
static void
poll_answer(struct http_req *r, const struct waitset *ws)
{
	struct future *f = waitset_future(ws, 0);

	if (f == NULL) {
		http_reply_problem(r, 404, NULL, "the future was forgotten (retention)");
		return;
	}
	if (!future_done(f)) {
		api_reply_object(r, 200, f);
		return;
	}
	if (done_cache.id != f->id || done_cache.text == NULL) {
		free(done_cache.text);
		done_cache.text = view_text(f);
		done_cache.id = f->id;
	}
	http_reply_text(r, 200, "application/json",
	    done_cache.text ? strdup(done_cache.text) : NULL);
}

/* The future is done, or the wait is over: answer and resume. */
static void
poll_ended(struct waitset *ws, void *arg)
{
	struct api_poll *p = arg;

	poll_answer(p->r, ws);
	http_resume(p->r);
}

/* Shutdown wants an answer now. */
static void
poll_expire(struct http_req *r)
{
	struct api_poll *p = http_hold_arg(r);

	waitset_stop(p->ws);
	poll_answer(r, p->ws);
}

/* Free p. Accepts NULL. */
static void
poll_free(struct api_poll *p)
{
	if (p == NULL)
		return;
	waitset_free(p->ws);
	free(p);
}

/* The request is over: drop the waitset. */
static void
poll_cleanup(struct http_req *r)
{
	poll_free(http_hold_take(r));
}

/* GET /v1/futures/{id}[?wait=S] */
void
api_futures_show(struct http_req *r, struct api_args *a)
{
	static const char *const known[] = { "wait", NULL };
	struct core_error err = { CORE_OK, "" };
	struct waitset_limits lim;
	struct future *f;
	struct api_poll *p;
	double wait = 0;
	int64_t us;
	const char *bad;
	int rc;

	if ((bad = http_query_unknown(r, known)) != NULL) {
		http_reply_problem(r, 400, NULL, "%.64s: unknown query parameter", bad);
		return;
	}
	if ((f = api_find(r, a->id, 0)) == NULL || api_query_seconds(r, "wait", &wait) == -1)
		return;
	if (wait == 0 || future_done(f)) {
		api_reply_object(r, 200, f);
		return;
	}
	if ((p = calloc(1, sizeof(*p))) == NULL ||
	    (p->ws = waitset_new(WAITSET_ALL_COMPLETED, 1)) == NULL) {
		free(p);
		http_reply_problem(r, 503, NULL, "out of memory");
		return;
	}
	p->r = r;
	waitset_add(p->ws, f);
	/* Too long a wait is capped at max_wait, not refused. */
	us = clock_from_seconds(wait);
	lim = (struct waitset_limits){ api_cfg->max_waiters, api_cfg->max_wait };
	rc = waitset_start(p->ws, api_base, us > 0 ? us : us == 0 ? 1 : -1, &lim,
	    poll_ended, p, &err);
	if (rc == 0) {
		http_hold(r, p, poll_expire, poll_cleanup);
		return;
	}
	if (rc == -1)
		api_core_error(r, &err);
	else
		api_reply_object(r, 200, f);
	poll_free(p);
}

/* POST /v1/futures */
void
api_futures_create(struct http_req *r, struct api_args *a)
{
	struct proto_future_req req;
	struct proto_error perr = { "" };
	struct core_error err = { CORE_OK, "" };
	struct future *f;
	json_t *body;

	if (api_body(r, 0, &body) == -1)
		return;
	if (proto_decode_future(body, &req, &perr) == -1)
		http_reply_problem(r, 400, NULL, "%s", perr.detail);
	else if ((f = future_new(req.name, clock_from_seconds(req.timeout), &err)) == NULL)
		api_core_error(r, &err);
	else {
		http_set_created(r);
		api_reply_object(r, 201, f);
	}
	json_decref(body);
}

/* Settle f with text (consumed) and reply. */
static void
settle(struct http_req *r, struct future *f, char *text, int is_exc)
{
	struct core_error err = { CORE_OK, "" };
	int rc;

	if (text == NULL) {
		http_reply_problem(r, 503, NULL, "out of memory");
		return;
	}
	rc = is_exc ? future_set_exception(f, text, &err) : future_set_result(f, text, &err);
	if (rc == -1)
		api_core_error(r, &err);
	else
		api_reply_object(r, 200, f);
}

/* POST /v1/futures/{id}/result */
void
api_futures_result(struct http_req *r, struct api_args *a)
{
	struct proto_error perr = { "" };
	struct future *f;
	json_t *body, *result;

	if ((f = api_find(r, a->id, 0)) == NULL || api_body(r, 1, &body) == -1)
		return;
	if (proto_decode_result(body, &result, &perr) == -1)
		http_reply_problem(r, 400, NULL, "%s", perr.detail);
	else
		settle(r, f, proto_dump(result), 0);
	json_decref(body);
}

/* POST /v1/futures/{id}/exception */
void
api_futures_exception(struct http_req *r, struct api_args *a)
{
	struct proto_exception_req req;
	struct proto_error perr = { "" };
	struct future *f;
	json_t *body, *exc;

	if ((f = api_find(r, a->id, 0)) == NULL || api_body(r, 1, &body) == -1)
		return;
	if (proto_decode_exception(body, &req, &perr) == -1)
		http_reply_problem(r, 400, NULL, "%s", perr.detail);
	else {
		exc = json_pack("{s:s, s:s}", "type", req.type, "message", req.message);
		settle(r, f, exc ? proto_dump(exc) : NULL, 1);
		json_decref(exc);
	}
	json_decref(body);
}

/* POST /v1/futures/{id}/cancel */
void
api_futures_cancel(struct http_req *r, struct api_args *a)
{
	struct future *f = api_find(r, a->id, 0);

	if (f != NULL)
		http_reply_json(r, 200, json_pack("{s:b}", "cancelled", future_cancel(f)));
}

/* DELETE /v1/futures/{id}/callbacks/{cid} */
void
api_callbacks_remove(struct http_req *r, struct api_args *a)
{
	struct future *f = api_find(r, a->id, 0);
	char kind;
	unsigned long long cid;
	int n;

	if (f == NULL)
		return;
	cid = proto_id_parse(a->sub, &kind);
	if (cid == 0 || kind != 'c' || (n = sched_remove_callback(f, cid)) == -1) {
		http_reply_problem(r, 404, NULL, "no such callback on %s: %.40s", a->id, a->sub);
		return;
	}
	http_reply_json(r, 200, json_pack("{s:i}", "removed", n));
}
