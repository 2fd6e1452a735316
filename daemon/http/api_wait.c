/*
 * api_wait: POST /v1/wait and POST /v1/gather, held the way asyncio.wait
 * and asyncio.gather would hold them. One waiter per listed future; each
 * wake-up re-checks the condition; the deadline is the request's timeout,
 * capped by max_wait (the reply then says what is still pending).
 */
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "daemon/config.h"
#include "daemon/core/clock.h"
#include "daemon/core/future.h"
#include "daemon/http/api.h"
#include "daemon/view.h"
#include "proto/codec.h"

#define WAIT_MAX_FUTURES 10000

struct waitset {
	struct http_req *r;
	int gather;
	int return_exceptions;
	enum proto_return_when when;
	size_t n;
	uint64_t *ids;
	char (*names)[20];		/* ids as given */
	struct waiter *w;
	struct event *timer;
	int timed_out;
};

/* The exception a done future raises when awaited, or NULL (a result). */
static json_t *
raised(const struct future *f)
{
	if (f->state == FUTURE_CANCELLED)
		return json_pack("{s:s, s:s}", "type", "CancelledError", "message",
		    "the future was cancelled");
	if (f->has_exception)
		return view_load(f->outcome);
	return NULL;
}

/* Whether f ended with an exception (not a cancellation, as asyncio). */
static int
failed(const struct future *f)
{
	return f->state == FUTURE_FINISHED && f->has_exception;
}

/* The reply, if ws is ready now (or must answer anyway); NULL otherwise. */
static json_t *
waitset_reply(struct waitset *ws, int force)
{
	json_t *done = json_array(), *pending = json_array(), *results = json_array(), *o;
	size_t n_done = 0, first_fail = ws->n;
	int ready;

	for (size_t i = 0; i < ws->n; i++) {
		struct future *f = future_find(ws->ids[i]);
		/* A future forgotten while we waited was done. */
		int d = f == NULL || future_done(f);

		json_array_append_new(d ? done : pending, json_string(ws->names[i]));
		n_done += d;
		if (f != NULL && d && first_fail == ws->n &&
		    (ws->gather ? f->state == FUTURE_CANCELLED || failed(f) : failed(f)))
			first_fail = i;
	}
	if (ws->gather)
		ready = n_done == ws->n || (!ws->return_exceptions && first_fail < ws->n);
	else if (ws->when == PROTO_FIRST_COMPLETED)
		ready = n_done > 0;
	else if (ws->when == PROTO_FIRST_EXCEPTION)
		ready = n_done == ws->n || first_fail < ws->n;
	else
		ready = n_done == ws->n;
	if (!ready && !force) {
		json_decref(done);
		json_decref(pending);
		json_decref(results);
		return NULL;
	}

	if (!ws->gather) {
		json_decref(results);
		return json_pack("{s:o, s:o}", "done", done, "pending", pending);
	}
	if (!ready) {
		json_decref(results);
		return json_pack("{s:b, s:o, s:o}", "timed_out", 1, "done", done,
		    "pending", pending);
	}
	json_decref(done);
	json_decref(pending);
	if (!ws->return_exceptions && first_fail < ws->n) {
		struct future *f = future_find(ws->ids[first_fail]);
		json_decref(results);
		return json_pack("{s:o, s:s}", "exception", raised(f), "future",
		    ws->names[first_fail]);
	}
	for (size_t i = 0; i < ws->n; i++) {
		struct future *f = future_find(ws->ids[i]);
		if (f == NULL)
			o = json_pack("{s:s, s:s}", "type", "NotFound", "message",
			    "the future was forgotten (retention)");
		else if ((o = raised(f)) == NULL)
			o = view_load(f->outcome);
		json_array_append_new(results, o ? o : json_null());
	}
	return json_pack("{s:o}", "results", results);
}

/* Reply with ws's answer. */
static void
waitset_answer(struct http_req *r)
{
	struct waitset *ws = r->hold;
	json_t *o = waitset_reply(ws, 1);

	if (o == NULL)
		http_reply_problem(r, 503, NULL, "out of memory");
	else
		http_reply_json(r, 200, o);
}

/* Drop every registration of ws. */
static void
waitset_detach(struct waitset *ws)
{
	for (size_t i = 0; i < ws->n; i++)
		waiter_remove(&ws->w[i]);
	if (ws->timer != NULL)
		evtimer_del(ws->timer);
}

/* One of the futures is done: answer if the condition now holds. */
static void
waitset_wake(struct waiter *w, void *arg)
{
	struct waitset *ws = arg;
	json_t *o = waitset_reply(ws, 0);

	if (o == NULL)
		return;
	waitset_detach(ws);
	http_reply_json(ws->r, 200, o);
	http_resume(ws->r);
}

/* The deadline passed. */
static void
waitset_timeout_cb(evutil_socket_t fd, short what, void *arg)
{
	struct waitset *ws = arg;

	waitset_detach(ws);
	waitset_answer(ws->r);
	http_resume(ws->r);
}

/* Free ws. Accepts NULL. */
static void
waitset_free(struct waitset *ws)
{
	if (ws == NULL)
		return;
	waitset_detach(ws);
	if (ws->timer != NULL)
		event_free(ws->timer);
	free(ws->ids);
	free(ws->names);
	free(ws->w);
	free(ws);
}

/* The request is over. */
static void
waitset_cleanup(struct http_req *r)
{
	waitset_free(r->hold);
	r->hold = NULL;
}

/* Shared body of /v1/wait and /v1/gather. */
static void
api_waitset(struct http_req *r, int gather)
{
	struct proto_wait_req req;
	struct proto_error perr = { "" };
	struct waitset *ws = NULL;
	json_t *body, *o, *id;
	int64_t us;
	size_t i;

	if (api_body(r, 1, &body) == -1)
		return;
	if (proto_decode_wait(body, gather, &req, &perr) == -1) {
		http_reply_problem(r, 400, NULL, "%s", perr.detail);
		goto out;
	}
	if (json_array_size(req.futures) > WAIT_MAX_FUTURES) {
		http_reply_problem(r, 400, NULL, "futures: at most %d ids", WAIT_MAX_FUTURES);
		goto out;
	}
	if ((ws = calloc(1, sizeof(*ws))) == NULL ||
	    (ws->ids = calloc(json_array_size(req.futures), sizeof(*ws->ids))) == NULL ||
	    (ws->names = calloc(json_array_size(req.futures), sizeof(*ws->names))) == NULL ||
	    (ws->w = calloc(json_array_size(req.futures), sizeof(*ws->w))) == NULL) {
		http_reply_problem(r, 503, NULL, "out of memory");
		goto out;
	}
	ws->r = r;
	ws->gather = gather;
	ws->return_exceptions = req.return_exceptions;
	ws->when = req.return_when;
	json_array_foreach(req.futures, i, id) {
		struct future *f = api_find(r, json_string_value(id), 0);
		if (f == NULL)
			goto out;
		ws->ids[ws->n] = f->id;
		snprintf(ws->names[ws->n++], sizeof(ws->names[0]), "%s", json_string_value(id));
	}
	if ((o = waitset_reply(ws, req.timeout == 0)) != NULL) {
		http_reply_json(r, 200, o);
		goto out;
	}
	if (api_cfg->max_waiters != 0 && http_held() >= api_cfg->max_waiters) {
		http_reply_problem(r, 429, NULL, "too many waiters (max_waiters = %llu)",
		    (unsigned long long)api_cfg->max_waiters);
		goto out;
	}
	us = req.timeout < 0 ? api_cfg->max_wait : clock_from_seconds(req.timeout);
	if (us < 0 || us > api_cfg->max_wait)
		us = api_cfg->max_wait;
	if ((ws->timer = evtimer_new(api_base, waitset_timeout_cb, ws)) == NULL) {
		http_reply_problem(r, 503, NULL, "out of memory");
		goto out;
	}
	{
		struct timeval tv = clock_timeval(us);
		evtimer_add(ws->timer, &tv);
	}
	for (i = 0; i < ws->n; i++) {
		struct future *f = future_find(ws->ids[i]);
		if (!future_done(f) && future_wait(f, &ws->w[i], waitset_wake, ws) == -1) {
			http_reply_problem(r, 503, NULL, "out of memory");
			goto out;
		}
	}
	http_hold(r, ws, waitset_answer, waitset_cleanup);
	ws = NULL;
out:
	waitset_free(ws);
	json_decref(body);
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
