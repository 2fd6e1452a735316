/*
 * routes: the route table, authentication, and helpers shared by the
 * handlers.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/config.h"
#include "daemon/core/clock.h"
#include "daemon/core/future.h"
#include "daemon/http/api.h"
#include "daemon/http/auth.h"
#include "daemon/store/store.h"
#include "daemon/view.h"
#include "proto/codec.h"

#define MAX_SEGMENTS 8

const struct config *api_cfg;
struct event_base *api_base;

struct route {
	const char *method;
	const char *pattern;		/* "*" matches one segment */
	void (*fn)(struct http_req *, struct api_args *);
	unsigned scope;			/* a token needs one of these (auth.h);
					 * AUTH_NONE: open to anyone */
};

static const struct route routes[] = {
	{ "GET", "/healthz", api_healthz, AUTH_NONE },
	{ "GET", "/openapi.json", api_openapi, AUTH_NONE },
	{ "GET", "/metrics", api_metrics, AUTH_METRICS },
	{ "GET", "/v1/time", api_time, AUTH_READ },
	/* Which calls scope: the handler checks the action's kind. */
	{ "POST", "/v1/calls", api_calls_create, AUTH_CALLS },
	{ "GET", "/v1/calls", api_calls_list, AUTH_READ },
	{ "GET", "/v1/calls/*", api_calls_show, AUTH_READ },
	{ "DELETE", "/v1/calls/*", api_calls_cancel, AUTH_CALLS },
	{ "POST", "/v1/futures", api_futures_create, AUTH_FUTURES },
	{ "GET", "/v1/futures", api_futures_list, AUTH_READ },
	{ "GET", "/v1/events", api_events, AUTH_READ },
	{ "GET", "/v1/futures/*", api_futures_show, AUTH_READ },
	{ "POST", "/v1/futures/*/result", api_futures_result, AUTH_FUTURES },
	{ "POST", "/v1/futures/*/exception", api_futures_exception, AUTH_FUTURES },
	{ "POST", "/v1/futures/*/cancel", api_futures_cancel, AUTH_FUTURES },
	{ "POST", "/v1/futures/*/callbacks", api_callbacks_add, AUTH_CALLS },
	{ "DELETE", "/v1/futures/*/callbacks/*", api_callbacks_remove, AUTH_CALLS },
	{ "POST", "/v1/wait", api_wait, AUTH_READ },
	{ "POST", "/v1/gather", api_gather, AUTH_READ },
	{ "GET", "/v1/logs", api_logs, AUTH_READ },
	{ "GET", "/v1/status", api_status, AUTH_READ },
	/* A schedule's action is a call's: the handler checks its kind. */
	{ "POST", "/v1/schedules", api_schedules_create, AUTH_CALLS },
	{ "GET", "/v1/schedules", api_schedules_list, AUTH_READ },
	{ "GET", "/v1/schedules/*", api_schedules_show, AUTH_READ },
	{ "PATCH", "/v1/schedules/*", api_schedules_patch, AUTH_CALLS },
	{ "DELETE", "/v1/schedules/*", api_schedules_delete, AUTH_CALLS },
	{ "POST", "/v1/schedules/*/pause", api_schedules_pause, AUTH_CALLS },
	{ "POST", "/v1/schedules/*/resume", api_schedules_resume, AUTH_CALLS },
	{ "POST", "/v1/schedules/*/trigger", api_schedules_trigger, AUTH_CALLS },
	{ "POST", "/v1/schedules/*/backfill", api_schedules_backfill, AUTH_CALLS },
};
#define NROUTES (sizeof(routes) / sizeof(routes[0]))

void
api_configure(struct event_base *base, const struct config *cfg)
{
	api_base = base;
	api_cfg = cfg;
}

/* Split path into segments (in place). Returns the count, or -1 if it is
 * not a clean absolute path. */
static int
split_path(char *path, char **seg)
{
	int n = 0;

	if (*path != '/')
		return -1;
	for (char *p = path + 1;; ) {
		char *slash = strchr(p, '/');
		if (n == MAX_SEGMENTS || *p == '\0' || slash == p)
			return *p == '\0' && n == 0 ? 0 : -1;
		seg[n++] = p;
		if (slash == NULL)
			return n;
		*slash = '\0';
		p = slash + 1;
	}
}

/* The routes' patterns split into segments, once (route_split). */
static struct {
	char buf[128];
	char *seg[MAX_SEGMENTS];
	int n;				/* -1: never matches */
} split_routes[NROUTES];

/* Split every route's pattern, the first time a request needs them:
 * matching then splits only the request's path (the patterns were 8
 * splits of a GET's dispatch, about 1,200 instructions). */
static void
route_split(void)
{
	static int done;

	if (done)
		return;
	for (size_t i = 0; i < NROUTES; i++) {
		size_t len = strlen(routes[i].pattern);
		split_routes[i].n = -1;
		if (len < sizeof(split_routes[i].buf)) {
			memcpy(split_routes[i].buf, routes[i].pattern, len + 1);
			split_routes[i].n = split_path(split_routes[i].buf, split_routes[i].seg);
		}
	}
	done = 1;
}

/* Whether route i's pattern matches the segments; fills the captures. */
static int
route_match(size_t i, char **seg, int n, struct api_args *a)
{
	char **pseg = split_routes[i].seg;
	int stars = 0;

	if (split_routes[i].n != n)
		return 0;
	for (int k = 0; k < n; k++) {
		if (pseg[k][0] == '*' && pseg[k][1] == '\0') {
			if (stars++ == 0)
				a->id = seg[k];
			else
				a->sub = seg[k];
		} else if (strcmp(pseg[k], seg[k]) != 0)
			return 0;
	}
	return 1;
}

/* Who is asking: every scope on a Unix socket (its mode guards it) or
 * with auth = off; a token's scopes and quota key; or nobody (0). */
static int
who_of(struct http_req *r)
{
	struct auth_who who = { 0, 0, NULL };

	if (!api_cfg->auth || http_is_local_socket(r)) {
		http_set_who(r, AUTH_ALL, 0, NULL);
		return 1;
	}
	if (!auth_check(http_header(r, "Authorization"), &who))
		return 0;
	/* An admin token (the default one) has no share: the operator can
	 * always get in, up to max_pending. */
	http_set_who(r, who.scopes, (who.scopes & AUTH_ADMIN) ? 0 : who.owner, who.name);
	return 1;
}

/* Whether r comes from a browser page (or says it comes from the console)
 * while console != on. A page cannot remove Origin (sent with every
 * request but a GET or HEAD) nor Sec-Fetch-Site (sent by current browsers
 * with every request): they are forbidden header names that only the
 * browser sets. And loopd answers no CORS preflight, so the only page
 * that can send a write with a token is its own console. Other clients
 * (loopctl, scripts) send none of them. */
static int
console_limited(struct http_req *r)
{
	return config_console(api_cfg) != CONFIG_CONSOLE_ON &&
	    (http_header(r, "Origin") != NULL || http_header(r, "Sec-Fetch-Site") != NULL ||
	    http_header(r, "Loop-Console") != NULL);
}

int
api_need_scope(struct http_req *r, unsigned scope, const char *what)
{
	const char *name = http_token_name(r);
	char need[128];

	if (scope == AUTH_NONE || (http_scopes(r) & scope) != 0)
		return 0;
	if (console_limited(r)) {
		http_reply_problem(r, 403, NULL, "the console is read-only here (console = %s): "
		    "a browser may not %s", api_cfg->console, what);
		return -1;
	}
	auth_scopes_format(scope, need, sizeof(need));
	http_reply_problem(r, 403, NULL, "the token %s%s%s may not %s: it needs the scope %s",
	    name ? "\"" : "", name ? name : "", name ? "\"" : "", what, scope == AUTH_CALLS ? "calls-webhook or "
	    "calls-command" : scope == AUTH_METRICS ? "read or metrics" : need);
	return -1;
}

void
api_dispatch(struct http_req *r)
{
	char path[1024], *seg[MAX_SEGMENTS], what[256], allow[64] = "";
	const char *method = http_method(r), *rpath = http_path(r);
	size_t cap = sizeof(allow);
	int n, known = who_of(r);

	/* /v1 is behind a token, whatever the path (an unknown one too);
	 * other routes name their scope in the table. */
	if (!known && strncmp(rpath, "/v1/", 4) == 0) {
		http_reply_problem(r, 401, NULL, "Authorization: a valid bearer token is required");
		http_set_auth_challenge(r);
		return;
	}
	/* console = read-only (or off): what a browser page sends is served
	 * with the read scope only, whatever its token may do. */
	if (console_limited(r))
		http_set_who(r, http_scopes(r) & (AUTH_READ | AUTH_METRICS), http_owner(r),
		    http_token_name(r));
	if (strcmp(rpath, "/ui") == 0 || strncmp(rpath, "/ui/", 4) == 0) {
		http_set_route(r, "/ui/");
		api_ui(r, NULL);
		return;
	}
	if (strcmp(method, "GET") != 0 && strncmp(rpath, "/v1/", 4) == 0 &&
	    !store_writable()) {
		http_reply_problem(r, 503, NULL, "changes cannot be saved now: %s; reads "
		    "still work", store_fault());
		return;
	}
	route_split();
	if (strlen(rpath) >= sizeof(path) ||
	    (n = split_path(strcpy(path, rpath), seg)) < 0) {
		http_reply_problem(r, 404, NULL, "no such route: %.200s", rpath);
		return;
	}
	for (size_t i = 0; i < NROUTES; i++) {
		struct api_args m = { NULL, NULL };
		unsigned scope = routes[i].scope;
		if (!route_match(i, seg, n, &m))
			continue;
		http_set_route(r, routes[i].pattern);
		if (strcmp(routes[i].method, method) == 0) {
			/* /metrics tells how busy loopd is and what it runs:
			 * open everywhere only with metrics_auth = off. */
			if (scope == AUTH_METRICS && !api_cfg->metrics_auth)
				scope = AUTH_NONE;
			if (scope != AUTH_NONE && !known) {
				http_reply_problem(r, 401, NULL, "Authorization: a valid bearer "
				    "token is required");
				http_set_auth_challenge(r);
				return;
			}
			/* The words of a refusal only when there is one. */
			if (scope != AUTH_NONE && (http_scopes(r) & scope) == 0) {
				snprintf(what, sizeof(what), "%s %s", method,
				    routes[i].pattern);
				if (api_need_scope(r, scope, what) == -1)
					return;
			}
			/* Objects made now count against the token's share. */
			future_set_owner(http_owner(r));
			routes[i].fn(r, &m);
			future_set_owner(0);
			return;
		}
		if (strstr(allow, routes[i].method) == NULL)
			snprintf(allow + strlen(allow), cap - strlen(allow), "%s%s",
			    *allow ? ", " : "", routes[i].method);
	}
	if (*allow != '\0') {
		http_set_allow(r, allow);
		http_reply_problem(r, 405, NULL, "%s is not allowed on %.200s (allowed: %s)",
		    method, rpath, allow);
		return;
	}
	http_reply_problem(r, 404, NULL, "no such route: %.200s", rpath);
}

int
api_body(struct http_req *r, int required, json_t **out)
{
	struct proto_error err = { "" };

	size_t len;
	const char *body = http_body(r, &len);

	*out = NULL;
	if (len == 0 && !required)
		return 0;
	if ((*out = proto_parse(body ? body : "", len,
	    http_limits()->max_json_depth, &err)) == NULL) {
		http_reply_problem(r, 400, NULL, "%s", err.detail);
		return -1;
	}
	return 0;
}

struct future *
api_find(struct http_req *r, const char *id, int calls_only)
{
	char kind;
	unsigned long long n = proto_id_parse(id, &kind);
	struct future *f = n ? future_find(n) : NULL;

	/* The prefix must fit the object: c_ for calls, f_ for futures. */
	if (f != NULL && (kind == 'c') != (f->kind == FUTURE_CALL))
		f = NULL;
	if (f != NULL && calls_only && f->kind != FUTURE_CALL)
		f = NULL;
	if (f == NULL)
		http_reply_problem(r, 404, NULL, "no such %s: %.40s", calls_only ? "call" :
		    "future", id);
	return f;
}

void
api_core_error(struct http_req *r, const struct core_error *err)
{
	static const int status[] = {
		[CORE_OK] = 500, [CORE_EINVAL] = 400, [CORE_EDENIED] = 403, [CORE_ENOTFOUND] = 404,
		[CORE_ESTATE] = 409, [CORE_EMISMATCH] = 422, [CORE_EFULL] = 429,
		[CORE_ENOMEM] = 503,
	};
	http_reply_problem(r, status[err->code], NULL, "%s", err->msg);
}

void
api_reply_object(struct http_req *r, int status, const struct future *f)
{
	char *text = view_text(f);

	if (text == NULL) {
		http_reply_problem(r, 503, NULL, "out of memory, or the store cannot be read");
		return;
	}
	http_reply_text(r, status, "application/json", text);
}

int
api_query_seconds(struct http_req *r, const char *name, double *out)
{
	const char *v = http_query(r, name);
	char *end;
	double d;

	if (v == NULL)
		return 0;
	d = strtod(v, &end);
	if (*v == '\0' || *end != '\0' || !isfinite(d) || d < 0) {
		http_reply_problem(r, 400, NULL, "%s: must be a number of seconds >= 0", name);
		return -1;
	}
	*out = d;
	return 0;
}

/* GET /healthz */
void
api_healthz(struct http_req *r, struct api_args *a)
{
	http_reply_json(r, 200, json_pack("{s:s}", "status", "ok"));
}

/* GET /v1/time */
void
api_time(struct http_req *r, struct api_args *a)
{
	http_reply_json(r, 200, json_pack("{s:f, s:f}",
	    "loop_time", clock_to_seconds(clock_loop_now()),
	    "unix_time", clock_to_seconds(clock_unix_now())));
}
