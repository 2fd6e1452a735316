/*
 * api: the route handlers (thin: decode, one call into the core, encode)
 * and the helpers they share.
 */
#ifndef LOOPD_HTTP_API_H
#define LOOPD_HTTP_API_H

#include <jansson.h>

#include "daemon/core/error.h"
#include "daemon/http/server.h"

struct future;
struct config;

/* Captured path segments ("*" in a route pattern). */
struct api_args {
	const char *id;
	const char *sub;
};

struct event_base;

/* The loop and config the handlers use (limits, policy); again on reload. */
void api_configure(struct event_base *base, const struct config *cfg);
extern const struct config *api_cfg;
extern struct event_base *api_base;

/* Route a request: auth, 404/405, then the handler. */
void api_dispatch(struct http_req *r);

/* 0 if the request's token has one of scope (auth.h), else -1 after
 * replying 403 naming what it may not do (`what`) and the scope needed. */
int api_need_scope(struct http_req *r, unsigned scope, const char *what);
/* Parse the body as JSON. required = 0 allows an empty body (*out = NULL).
 * -1 after replying 400. */
int api_body(struct http_req *r, int required, json_t **out);
/* Look up an id from the path: calls_only restricts to calls. NULL after
 * replying 404. */
struct future *api_find(struct http_req *r, const char *id, int calls_only);
/* Reply with the status a core error maps to. */
void api_core_error(struct http_req *r, const struct core_error *err);
/* Reply with an object's JSON. */
void api_reply_object(struct http_req *r, int status, const struct future *f);
/* Parse a query value as seconds >= 0; -1 after replying 400. */
int api_query_seconds(struct http_req *r, const char *name, double *out);

void api_time(struct http_req *r, struct api_args *a);
void api_healthz(struct http_req *r, struct api_args *a);
void api_calls_create(struct http_req *r, struct api_args *a);
void api_calls_list(struct http_req *r, struct api_args *a);
void api_calls_show(struct http_req *r, struct api_args *a);
void api_calls_cancel(struct http_req *r, struct api_args *a);
void api_futures_create(struct http_req *r, struct api_args *a);
void api_futures_show(struct http_req *r, struct api_args *a);
void api_futures_result(struct http_req *r, struct api_args *a);
void api_futures_exception(struct http_req *r, struct api_args *a);
void api_futures_cancel(struct http_req *r, struct api_args *a);
void api_callbacks_add(struct http_req *r, struct api_args *a);
void api_callbacks_remove(struct http_req *r, struct api_args *a);
void api_openapi(struct http_req *r, struct api_args *a);
void api_metrics(struct http_req *r, struct api_args *a);
void api_wait(struct http_req *r, struct api_args *a);
void api_gather(struct http_req *r, struct api_args *a);
void api_futures_list(struct http_req *r, struct api_args *a);
void api_events(struct http_req *r, struct api_args *a);
void api_ui(struct http_req *r, struct api_args *a);
/* Event streams: open now, opened and refused (max_event_streams) so far. */
void api_events_counts(size_t *open, uint64_t *opened, uint64_t *refused);
/* Free the event streams' timer (at exit). */
void api_events_shutdown(void);
void api_logs(struct http_req *r, struct api_args *a);
void api_status(struct http_req *r, struct api_args *a);

struct proto_call_req;
/* Whether this client's token may have a call's action run: the calls
 * scope of its kind (the policy is the core's admission). -1 after
 * replying. */
int api_action_scope(struct http_req *r, const struct proto_call_req *req);
void api_schedules_create(struct http_req *r, struct api_args *a);
void api_schedules_list(struct http_req *r, struct api_args *a);
void api_schedules_show(struct http_req *r, struct api_args *a);
void api_schedules_patch(struct http_req *r, struct api_args *a);
void api_schedules_delete(struct http_req *r, struct api_args *a);
void api_schedules_pause(struct http_req *r, struct api_args *a);
void api_schedules_resume(struct http_req *r, struct api_args *a);
void api_schedules_trigger(struct http_req *r, struct api_args *a);
void api_schedules_backfill(struct http_req *r, struct api_args *a);

#endif
