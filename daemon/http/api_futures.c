/*
 * api_futures: /v1/futures routes, including the long-poll
 * GET /v1/futures/{id}?wait=S.
 */
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "daemon/config.h"
#include "daemon/core/clock.h"
#include "daemon/core/sched.h"
#include "daemon/http/api.h"
#include "daemon/view.h"
#include "proto/codec.h"

/* A long-poll on one future: a waiter and a deadline. */
struct poll {
	struct http_req *r;
	uint64_t id;
	struct waiter w;
	struct event *timer;
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
poll_answer(struct http_req *r)
{
	struct poll *p = r->hold;
	struct future *f = future_find(p->id);

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
poll_wake(struct waiter *w, void *arg)
{
	struct poll *p = arg;

	waiter_remove(&p->w);
	evtimer_del(p->timer);
	poll_answer(p->r);
	http_resume(p->r);
}

/* The wait's deadline passed. */
static void
poll_timeout_cb(evutil_socket_t fd, short what, void *arg)
{
	struct poll *p = arg;

	poll_wake(&p->w, p);
}

/* The request is over: drop the waiter and the timer. */
static void
poll_cleanup(struct http_req *r)
{
	struct poll *p = r->hold;

	waiter_remove(&p->w);
	if (p->timer != NULL)
		event_free(p->timer);
	free(p);
	r->hold = NULL;
}

/* GET /v1/futures/{id}[?wait=S] */
void
api_futures_show(struct http_req *r, struct api_args *a)
{
	static const char *const known[] = { "wait", NULL };
	struct future *f;
	struct poll *p;
	double wait = 0;
	int64_t us;
	struct timeval tv;
	const char *bad;

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
	if (api_cfg->max_waiters != 0 && http_held() >= api_cfg->max_waiters) {
		http_reply_problem(r, 429, NULL, "too many waiters (max_waiters = %llu)",
		    (unsigned long long)api_cfg->max_waiters);
		return;
	}
	us = clock_from_seconds(wait);
	if (us < 0 || us > api_cfg->max_wait)
		us = api_cfg->max_wait;		/* documented: capped, not refused */
	if ((p = calloc(1, sizeof(*p))) == NULL ||
	    (p->timer = evtimer_new(api_base, poll_timeout_cb, p)) == NULL) {
		free(p);
		http_reply_problem(r, 503, NULL, "out of memory");
		return;
	}
	p->r = r;
	p->id = f->id;
	if (future_wait(f, &p->w, poll_wake, p) == -1) {
		event_free(p->timer);
		free(p);
		http_reply_problem(r, 503, NULL, "out of memory");
		return;
	}
	tv = clock_timeval(us);
	evtimer_add(p->timer, &tv);
	http_hold(r, p, poll_answer, poll_cleanup);
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
	else
		api_reply_object(r, 201, f);
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
