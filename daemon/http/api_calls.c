/*
 * api_calls: POST/GET /v1/calls, GET/DELETE /v1/calls/{id}, and the
 * shared path by which a request body becomes a call (also used for
 * done-callbacks).
 */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/config.h"
#include "daemon/core/clock.h"
#include "daemon/core/idmap.h"
#include "daemon/core/query.h"
#include "daemon/core/sched.h"
#include "daemon/http/api.h"
#include "daemon/http/auth.h"
#include "daemon/view.h"
#include "proto/codec.h"
#include "proto/jsonbuf.h"

/* Turn a decoded request into a call: the token's scope here, then one
 * core call (admission, the on_done target, limits). target is the
 * awaited future of a done-callback (the request has no trigger then).
 * Replies in every case. */
static void
call_accept(struct http_req *r, struct proto_call_req *req, struct future *target)
{
	struct sched_call_params p = { 0 };
	struct core_error err = { CORE_OK, "" };
	const char *hdr = http_header(r, "Idempotency-Key");
	struct future *c;
	char kind = 0;
	int existed;

	if (api_action_scope(r, req) == -1)
		return;
	if (hdr != NULL) {
		if (req->idempotency_key != NULL && strcmp(hdr, req->idempotency_key) != 0) {
			http_reply_problem(r, 400, NULL, "idempotency_key: differs from the "
			    "Idempotency-Key header");
			return;
		}
		if (*hdr == '\0' || strlen(hdr) > 256) {
			http_reply_problem(r, 400, NULL, "Idempotency-Key: must be 1 to 256 bytes");
			return;
		}
		req->idempotency_key = hdr;
	}

	switch (req->trigger) {
	case PROTO_SOON: p.trigger = TRIGGER_SOON; break;
	case PROTO_AFTER: p.trigger = TRIGGER_AFTER; break;
	case PROTO_AT: p.trigger = TRIGGER_AT; break;
	case PROTO_AT_UNIX: p.trigger = TRIGGER_AT_UNIX; break;
	default: p.trigger = TRIGGER_ON_DONE; break;
	}
	if (req->trigger == PROTO_AFTER)
		p.when = clock_from_seconds(req->when);
	else if (req->trigger == PROTO_AT || req->trigger == PROTO_AT_UNIX)
		p.when = (int64_t)llround(req->when * 1e6);	/* to the nearest microsecond */
	if (target != NULL)
		p.target_future = target;
	else if (req->trigger == PROTO_ON_DONE) {
		p.target = proto_id_parse(req->on_done, &kind);
		p.target_kind = kind == 'c' ? 'c' : 'f';
		p.target_text = req->on_done;
	}
	p.name = req->name;
	p.idem_key = req->idempotency_key;
	p.req = req;
	if ((c = sched_call(&p, &existed, &err)) == NULL)
		api_core_error(r, &err);
	else {
		if (!existed)
			http_set_created(r);
		api_reply_object(r, existed ? 200 : 201, c);
	}
	free(p.spec);
}

/* POST /v1/calls */
void
api_calls_create(struct http_req *r, struct api_args *a)
{
	struct proto_call_req req;
	struct proto_error perr = { "" };
	json_t *body;

	if (api_body(r, 1, &body) == -1)
		return;
	if (proto_decode_call(body, 1, &req, &perr) == -1)
		http_reply_problem(r, 400, NULL, "%s", perr.detail);
	else
		call_accept(r, &req, NULL);
	json_decref(body);
}

/* POST /v1/futures/{id}/callbacks */
void
api_callbacks_add(struct http_req *r, struct api_args *a)
{
	struct proto_call_req req;
	struct proto_error perr = { "" };
	struct future *f;
	json_t *body;

	if ((f = api_find(r, a->id, 0)) == NULL || api_body(r, 1, &body) == -1)
		return;
	if (proto_decode_call(body, 0, &req, &perr) == -1)
		http_reply_problem(r, 400, NULL, "%s", perr.detail);
	else {
		req.trigger = PROTO_ON_DONE;
		call_accept(r, &req, f);
	}
	json_decref(body);
}

/* GET /v1/calls/{id} */
void
api_calls_show(struct http_req *r, struct api_args *a)
{
	struct future *c = api_find(r, a->id, 1);

	if (c != NULL)
		api_reply_object(r, 200, c);
}

/* DELETE /v1/calls/{id} */
void
api_calls_cancel(struct http_req *r, struct api_args *a)
{
	struct future *c = api_find(r, a->id, 1);

	if (c != NULL)
		http_reply_json(r, 200, json_pack("{s:b}", "cancelled", sched_cancel(c)));
}

/* GET /v1/calls or /v1/futures: a page of objects of kind. */
static void
list_reply(struct http_req *r, enum future_kind kind)
{
	static const char *const known[] = {
		"state", "phase", "outcome", "name", "since", "order", "page_size",
		"page_token", NULL,
	};
	static const char *const known_futures[] = {
		"state", "name", "page_size", "page_token", NULL,
	};
	const char *state = http_query(r, "state"), *phase = http_query(r, "phase");
	const char *outcome = http_query(r, "outcome"), *order = http_query(r, "order");
	double since = -1;
	const char *size = http_query(r, "page_size"), *token = http_query(r, "page_token");
	const char *bad;
	struct core_error err = { CORE_OK, "" };
	struct query q;
	struct query_page *page;
	struct jsonbuf b;
	char *end, *text, id[20];
	unsigned long long n;

	if ((bad = http_query_unknown(r, kind == FUTURE_CALL ? known : known_futures)) != NULL) {
		http_reply_problem(r, 400, NULL, "%.64s: unknown query parameter", bad);
		return;
	}
	query_init(&q);
	q.kind = kind;
	q.name = http_query(r, "name");
	if (state != NULL && (q.state = future_state_parse(state)) == -1) {
		http_reply_problem(r, 400, NULL, "state: must be pending, finished or cancelled");
		return;
	}
	if (phase != NULL && (q.phase = call_phase_parse(phase)) == -1) {
		http_reply_problem(r, 400, NULL,
		    "phase: must be scheduled, waiting, running or done");
		return;
	}
	if (outcome != NULL && (q.outcome = query_outcome_parse(outcome)) == -1) {
		http_reply_problem(r, 400, NULL, "outcome: must be ok, failed or cancelled");
		return;
	}
	if (order != NULL && strcmp(order, "asc") != 0 && strcmp(order, "desc") != 0) {
		http_reply_problem(r, 400, NULL, "order: must be asc or desc");
		return;
	}
	q.desc = order != NULL && strcmp(order, "desc") == 0;
	if (api_query_seconds(r, "since", &since) == -1)
		return;
	if (since >= 0 && (q.since = clock_from_seconds(since)) < 0) {
		http_reply_problem(r, 400, NULL, "since: too far in the future");
		return;
	}
	if (size != NULL) {
		errno = 0;
		n = strtoull(size, &end, 10);
		if (*size == '\0' || *end != '\0' || errno != 0 || n < 1 || n > QUERY_PAGE_MAX) {
			http_reply_problem(r, 400, NULL, "page_size: must be from 1 to %d",
			    QUERY_PAGE_MAX);
			return;
		}
		q.page_size = (size_t)n;
	}
	if (token != NULL && *token != '\0') {
		errno = 0;
		q.after = strtoull(token, &end, 16);
		if (*end != '\0' || errno != 0 || strlen(token) != 16) {
			http_reply_problem(r, 400, NULL, "page_token: not a token from this list");
			return;
		}
	}
	if ((page = malloc(sizeof(*page))) == NULL) {
		http_reply_problem(r, 503, NULL, "out of memory");
		return;
	}
	if (query_run(&q, page, &err) == -1) {
		api_core_error(r, &err);
		free(page);
		return;
	}
	jsonbuf_init(&b);
	jsonbuf_raw(&b, "{\"items\":[", 10);
	for (size_t i = 0; i < page->n; i++) {
		if (i > 0)
			jsonbuf_char(&b, ',');
		view_write(&b, page->items[i]);
	}
	snprintf(id, sizeof(id), "%016llx", (unsigned long long)page->next_after);
	jsonbuf_raw(&b, "],\"next_page_token\":", 20);
	jsonbuf_string(&b, page->next_after ? id : "", page->next_after ? strlen(id) : 0);
	jsonbuf_char(&b, '}');
	free(page);
	if ((text = jsonbuf_finish(&b)) == NULL)
		http_reply_problem(r, 503, NULL, "out of memory, or the store cannot be read");
	else
		http_reply_text(r, 200, "application/json", text);
}

/* GET /v1/calls?state=&phase=&name=&page_size=&page_token= */
void
api_calls_list(struct http_req *r, struct api_args *a)
{
	list_reply(r, FUTURE_CALL);
}

/* GET /v1/futures?state=&name=&page_size=&page_token= (plain futures) */
void
api_futures_list(struct http_req *r, struct api_args *a)
{
	list_reply(r, FUTURE_PLAIN);
}

int
api_action_scope(struct http_req *r, const struct proto_call_req *req)
{
	/* The route let in a token with either calls scope: which one it
	 * needs is the action's. */
	return api_need_scope(r, req->action == PROTO_COMMAND ? AUTH_CALLS_COMMAND :
	    AUTH_CALLS_WEBHOOK, req->action == PROTO_COMMAND ? "make calls that run "
	    "commands" : "make calls that send webhooks");
}
