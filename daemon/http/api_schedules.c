/*
 * api_schedules: /v1/schedules and /v1/schedules/{id}[/pause|resume|
 * trigger|backfill] (API.md section 10). Each handler decodes, makes one
 * call into the core (daemon/core/schedule), and encodes.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/config.h"
#include "daemon/core/clock.h"
#include "daemon/core/schedule.h"
#include "daemon/http/api.h"
#include "daemon/view.h"
#include "proto/codec.h"
#include "recur/next.h"

#define NEXT_SHOWN 5

/* "s_" + 16 hex digits: the number, or 0. */
static uint64_t
schedule_id_parse(const char *s)
{
	char buf[24];
	char kind;

	if (s == NULL || s[0] != 's' || strlen(s) != 18)
		return 0;
	snprintf(buf, sizeof(buf), "c%s", s + 1);
	return proto_id_parse(buf, &kind);
}

/* Format a schedule id. */
static char *
schedule_id_format(uint64_t id, char *buf)
{
	return proto_id_format(id, 's', buf);
}

/* The schedule named in the path, or NULL after a 404. */
static struct schedule *
schedule_lookup(struct http_req *r, const char *id)
{
	uint64_t n = schedule_id_parse(id);
	struct schedule *s = n ? schedule_find(n) : NULL;

	if (s == NULL)
		http_reply_problem(r, 404, NULL, "no such schedule: %.40s", id);
	return s;
}

/* Unix microseconds as seconds (a JSON real). */
static json_t *
unix_json(int64_t us)
{
	return json_real((double)us / 1e6);
}

/* Local ISO 8601 time with the offset in force at t. */
static json_t *
local_json(const struct schedule *s, int64_t t)
{
	int32_t off = schedule_utoff(s, t);
	int64_t secs = (t >= 0 ? t / RECUR_US : (t - RECUR_US + 1) / RECUR_US) + off;
	int64_t days = secs >= 0 ? secs / 86400 : (secs - 86399) / 86400, rem = secs - days * 86400;
	int64_t y, us = t - (t >= 0 ? t / RECUR_US : (t - RECUR_US + 1) / RECUR_US) * RECUR_US;
	int m, d, aoff = off < 0 ? -off : off;
	char buf[64], frac[16] = "";

	tz_civil_from_days(days, &y, &m, &d);
	if (us != 0)
		snprintf(frac, sizeof(frac), ".%06lld", (long long)us);
	snprintf(buf, sizeof(buf), "%04lld-%02d-%02dT%02d:%02d:%02d%s%c%02d:%02d", (long long)y,
	    m, d, (int)(rem / 3600), (int)(rem / 60 % 60), (int)(rem % 60), frac,
	    off < 0 ? '-' : '+', aoff / 3600, aoff / 60 % 60);
	return json_string(buf);
}

/* The spec's value: every as a number when it is one. */
static json_t *
spec_json(const struct schedule *s)
{
	char *end;
	double d;

	if (s->kind == RECUR_EVERY) {
		d = strtod(s->spec_text, &end);
		if (*end == '\0' && end != s->spec_text)
			return d == floor(d) && fabs(d) < 1e15 ? json_integer((json_int_t)d) :
			    json_real(d);
	}
	return json_string(s->spec_text);
}

/* Set on o the members that define s, as a request gives them (the
 * schedule object and the PATCH base share them; tz is each one's). */
static void
definition_set(json_t *o, const struct schedule *s)
{
	json_object_set_new(o, recur_kind_name(s->kind), spec_json(s));
	if (s->name != NULL)
		json_object_set_new(o, "name", json_string(s->name));
	if (s->start != 0)
		json_object_set_new(o, "start", unix_json(s->start));
	if (s->end != 0)
		json_object_set_new(o, "end", unix_json(s->end));
	if (s->count != 0)
		json_object_set_new(o, "count", json_integer((json_int_t)s->count));
	json_object_set_new(o, "catchup", json_string(schedule_catchup_name(s->catchup)));
	json_object_set_new(o, "catchup_window", unix_json(s->catchup_window));
	json_object_set_new(o, "overlap", json_string(schedule_overlap_name(s->overlap)));
	json_object_set_new(o, "jitter", unix_json(s->jitter));
	json_object_set_new(o, "pause_on_failure", json_boolean(s->pause_on_failure));
}

/* The schedule object: its definition, state, next fire times and recent
 * occurrences. NULL on ENOMEM. */
static json_t *
schedule_json(const struct schedule *s)
{
	json_t *o, *action, *next, *recent, *v;
	const char *key;
	int64_t times[NEXT_SHOWN], now = clock_unix_now();
	char id[24];
	int n;

	if ((o = json_object()) == NULL)
		return NULL;
	json_object_set_new(o, "id", json_string(schedule_id_format(s->id, id)));
	json_object_set_new(o, "kind", json_string("schedule"));
	json_object_set_new(o, "state", json_string(schedule_state_name(s->state)));
	definition_set(o, s);
	json_object_set_new(o, "tz", json_string(s->tz ? s->tz : "UTC"));
	json_object_set_new(o, "fired", json_integer((json_int_t)s->fired));
	json_object_set_new(o, "created", unix_json(s->created));
	json_object_set_new(o, "evaluated_up_to", unix_json(s->mark));
	/* The action's members, as a call shows them. */
	if ((action = view_load(s->action)) != NULL) {
		json_object_foreach(action, key, v)
			json_object_set(o, key, v);
		json_decref(action);
	}
	next = json_array();
	n = schedule_next_times(s, s->start > now ? s->start : now, times, NEXT_SHOWN);
	/* The occurrence made ahead counts as fired already. */
	if (s->state == SCHEDULE_ACTIVE && s->pending != 0 && n < NEXT_SHOWN) {
		struct schedule tmp = *s;
		tmp.fired = tmp.fired > 0 ? tmp.fired - 1 : 0;
		n = schedule_next_times(&tmp, s->start > now ? s->start : now, times, NEXT_SHOWN);
	}
	for (int i = 0; i < n; i++)
		json_array_append_new(next, json_pack("{s:o, s:o}", "unix",
		    unix_json(times[i]), "local", local_json(s, times[i])));
	json_object_set_new(o, "next", next);
	recent = json_array();
	for (unsigned int i = s->n_recent > SCHEDULE_RECENT ? s->n_recent - SCHEDULE_RECENT :
	    0; i < s->n_recent; i++) {
		struct future *c = future_find(s->recent[i % SCHEDULE_RECENT]);
		json_t *e;

		if (c == NULL)
			continue;
		e = json_pack("{s:s, s:o, s:s, s:s}", "call", proto_id_format(c->id, 'c', id),
		    "scheduled_for", unix_json(future_scheduled_for(c)),
		    "state", future_state_name(c->state), "phase", call_phase_name(c->phase));
		if (e == NULL)
			continue;
		if (c->started != 0)
			json_object_set_new(e, "lateness", json_real((double)(c->started -
			    c->due) / 1e6));
		if (c->state == FUTURE_FINISHED)
			json_object_set_new(e, "outcome", json_string(c->has_exception ?
			    "exception" : "result"));
		if (c->late)
			json_object_set_new(e, "late", json_true());
		json_array_append_new(recent, e);
	}
	json_object_set_new(o, "recent", recent);
	return o;
}

/* Reply with a schedule's object. */
static void
reply_schedule(struct http_req *r, int status, const struct schedule *s)
{
	json_t *o = schedule_json(s);

	if (o == NULL)
		http_reply_problem(r, 503, NULL, "out of memory");
	else
		http_reply_json(r, status, o);
}

/* Decode a full schedule body into req and params; p borrows from req
 * (and body), which live until the core call (the core admits p->call).
 * Replies and returns -1 on a bad request; req is freed either way by
 * schedule_req_done. */
static int
schedule_params_of(struct http_req *r, json_t *body, struct proto_schedule_req *req,
    struct schedule_params *p)
{
	struct proto_error perr = { "" };

	memset(p, 0, sizeof(*p));
	if (proto_decode_schedule(body, req, &perr) == -1) {
		http_reply_problem(r, 400, NULL, "%s", perr.detail);
		return -1;
	}
	if (api_action_scope(r, &req->call) == -1)
		return -1;
	p->kind = recur_kind_from_name(req->kind);
	p->spec = req->spec;
	p->tz = req->tz;
	p->name = req->call.name;
	p->start = req->has_start ? (int64_t)llround(req->start * 1e6) : 0;
	p->end = req->has_end ? (int64_t)llround(req->end * 1e6) : 0;
	p->count = req->count;
	p->catchup = req->catchup ? schedule_catchup_parse(req->catchup) : CATCHUP_SKIP;
	p->catchup_window = req->has_window ? (int64_t)llround(req->catchup_window * 1e6) : -1;
	p->overlap = req->overlap ? schedule_overlap_parse(req->overlap) : OVERLAP_SKIP;
	p->pause_on_failure = req->pause_on_failure == 1;
	p->jitter = req->has_jitter ? (int64_t)llround(req->jitter * 1e6) : 0;
	p->call = &req->call;
	return 0;
}

/* After the core call: free the request and the action text the core
 * admitted but did not take. */
static void
schedule_req_done(struct proto_schedule_req *req, struct schedule_params *p)
{
	free(p->action);
	proto_schedule_req_free(req);
}

/* POST /v1/schedules */
void
api_schedules_create(struct http_req *r, struct api_args *a)
{
	struct core_error err = { CORE_OK, "" };
	struct proto_schedule_req req;
	struct schedule_params p;
	struct schedule *s;
	json_t *body;

	if (api_body(r, 1, &body) == -1)
		return;
	if (schedule_params_of(r, body, &req, &p) == 0) {
		if ((s = schedule_create(&p, &err)) == NULL)
			api_core_error(r, &err);
		else {
			http_set_created(r);
			reply_schedule(r, 201, s);
		}
	}
	schedule_req_done(&req, &p);
	json_decref(body);
}

/* GET /v1/schedules: filters state and name, pages like /v1/calls. */
void
api_schedules_list(struct http_req *r, struct api_args *a)
{
	static const char *const known[] = { "state", "name", "page_size", "page_token",
	    NULL };
	const char *state = http_query(r, "state"), *name = http_query(r, "name");
	const char *size = http_query(r, "page_size"), *token = http_query(r, "page_token");
	const char *bad;
	unsigned long long page = 100, after = 0;
	struct schedule *s;
	json_t *items, *o;
	char *end, tok[24];
	size_t n = 0;
	int st = -1;

	if ((bad = http_query_unknown(r, known)) != NULL) {
		http_reply_problem(r, 400, NULL, "%.64s: unknown query parameter", bad);
		return;
	}
	if (state != NULL && (st = strcmp(state, "active") == 0 ? SCHEDULE_ACTIVE :
	    strcmp(state, "paused") == 0 ? SCHEDULE_PAUSED : -1) == -1) {
		http_reply_problem(r, 400, NULL, "state: must be active or paused");
		return;
	}
	if (size != NULL) {
		errno = 0;
		page = strtoull(size, &end, 10);
		if (*size == '\0' || *end != '\0' || errno != 0 || page < 1 || page > 1000) {
			http_reply_problem(r, 400, NULL, "page_size: must be from 1 to 1000");
			return;
		}
	}
	if (token != NULL && *token != '\0') {
		errno = 0;
		after = strtoull(token, &end, 16);
		if (*end != '\0' || errno != 0 || strlen(token) != 16) {
			http_reply_problem(r, 400, NULL, "page_token: not a token from this list");
			return;
		}
	}
	if ((items = json_array()) == NULL) {
		http_reply_problem(r, 503, NULL, "out of memory");
		return;
	}
	*tok = '\0';
	for (s = schedule_first_after(after); s != NULL; s = schedule_next(s)) {
		if ((st != -1 && s->state != st) || (name != NULL && (s->name == NULL ||
		    strcmp(s->name, name) != 0)))
			continue;
		if (n == page) {
			snprintf(tok, sizeof(tok), "%016llx", (unsigned long long)after);
			break;
		}
		if ((o = schedule_json(s)) != NULL)
			json_array_append_new(items, o);
		after = s->id;
		n++;
	}
	http_reply_json(r, 200, json_pack("{s:o, s:s}", "items", items, "next_page_token",
	    tok));
}

/* GET /v1/schedules/{id} */
void
api_schedules_show(struct http_req *r, struct api_args *a)
{
	struct schedule *s = schedule_lookup(r, a->id);

	if (s != NULL)
		reply_schedule(r, 200, s);
}

/* The definition of s as a request body (for PATCH to merge onto). */
static json_t *
schedule_definition(const struct schedule *s)
{
	json_t *o = view_load(s->action);

	if (o == NULL)
		return NULL;
	definition_set(o, s);
	if (s->tz != NULL)
		json_object_set_new(o, "tz", json_string(s->tz));
	return o;
}

/* A change to s succeeded. If s is not stored yet, the change goes with
 * the commit that creates it: should that commit fail, s is undone, and
 * the change's reply must be a 503 like the creation's (nothing
 * happened), not a 200 released by a later commit. */
static void
schedule_reply_changed(struct http_req *r, const struct schedule *s)
{
	if (s->unsaved != 0)
		http_set_created(r);
}

/* PATCH /v1/schedules/{id}: the members given replace the schedule's
 * (null removes an optional one); a new spec or action replaces the old
 * one whole. */
void
api_schedules_patch(struct http_req *r, struct api_args *a)
{
	static const char *const groups[][3] = {
		{ "every", "cron", "calendar" }, { "command", "webhook", NULL },
	};
	struct core_error err = { CORE_OK, "" };
	struct schedule *s = schedule_lookup(r, a->id);
	struct proto_schedule_req req;
	struct schedule_params p;
	json_t *body, *def, *v;
	const char *key;

	if (s == NULL || api_body(r, 1, &body) == -1)
		return;
	if (!json_is_object(body)) {
		json_decref(body);
		http_reply_problem(r, 400, NULL, "body: must be an object");
		return;
	}
	if ((def = schedule_definition(s)) == NULL) {
		json_decref(body);
		http_reply_problem(r, 503, NULL, "out of memory");
		return;
	}
	json_object_foreach(body, key, v) {
		for (size_t g = 0; g < 2; g++)
			for (size_t i = 0; i < 3 && groups[g][i] != NULL; i++)
				if (strcmp(key, groups[g][i]) == 0)
					for (size_t j = 0; j < 3 && groups[g][j] != NULL; j++)
						json_object_del(def, groups[g][j]);
		if (strcmp(key, "every") == 0 && json_object_get(body, "tz") == NULL)
			json_object_del(def, "tz");
		if (json_is_null(v))
			json_object_del(def, key);
		else
			json_object_set(def, key, v);
	}
	json_decref(body);
	if (schedule_params_of(r, def, &req, &p) == 0) {
		if (schedule_replace(s, &p, &err) == -1)
			api_core_error(r, &err);
		else {
			schedule_reply_changed(r, s);
			reply_schedule(r, 200, s);
		}
	}
	schedule_req_done(&req, &p);
	json_decref(def);
}

/* DELETE /v1/schedules/{id}: the last view, then it is gone. */
void
api_schedules_delete(struct http_req *r, struct api_args *a)
{
	struct schedule *s = schedule_lookup(r, a->id);
	json_t *o;

	if (s == NULL)
		return;
	if ((o = schedule_json(s)) == NULL) {
		http_reply_problem(r, 503, NULL, "out of memory");
		return;
	}
	schedule_delete(s);
	json_object_set_new(o, "state", json_string("deleted"));
	json_object_set_new(o, "next", json_array());
	http_reply_json(r, 200, o);
}

/* Apply one state change (pause, resume) to the schedule named in a. */
static void
schedule_change(struct http_req *r, struct api_args *a,
    int (*change)(struct schedule *, struct core_error *))
{
	struct core_error err = { CORE_OK, "" };
	struct schedule *s = schedule_lookup(r, a->id);

	if (s == NULL)
		return;
	if (change(s, &err) == -1)
		api_core_error(r, &err);
	else {
		schedule_reply_changed(r, s);
		reply_schedule(r, 200, s);
	}
}

/* POST /v1/schedules/{id}/pause */
void
api_schedules_pause(struct http_req *r, struct api_args *a)
{
	schedule_change(r, a, schedule_pause);
}

/* POST /v1/schedules/{id}/resume */
void
api_schedules_resume(struct http_req *r, struct api_args *a)
{
	schedule_change(r, a, schedule_resume);
}

/* POST /v1/schedules/{id}/trigger: one occurrence now; the call. */
void
api_schedules_trigger(struct http_req *r, struct api_args *a)
{
	struct core_error err = { CORE_OK, "" };
	struct schedule *s = schedule_lookup(r, a->id);
	struct future *c;

	if (s == NULL)
		return;
	if ((c = schedule_trigger(s, &err)) == NULL)
		api_core_error(r, &err);
	else {
		http_set_created(r);
		api_reply_object(r, 201, c);
	}
}

/* POST /v1/schedules/{id}/backfill {"from": T, "to": T} */
void
api_schedules_backfill(struct http_req *r, struct api_args *a)
{
	struct core_error err = { CORE_OK, "" };
	struct schedule *s = schedule_lookup(r, a->id);
	json_t *body, *o;
	const char *key;
	double t[2];
	int n;

	if (s == NULL || api_body(r, 1, &body) == -1)
		return;
	for (int i = 0; i < 2; i++) {
		json_t *v = json_is_object(body) ? json_object_get(body, i ? "to" : "from") : NULL;
		key = i ? "to" : "from";
		if (v == NULL || !(json_is_number(v) || (json_is_string(v) &&
		    proto_time_parse(json_string_value(v), &t[i]) == 0))) {
			json_decref(body);
			http_reply_problem(r, 400, NULL, "%s: must be an RFC 3339 time or Unix "
			    "seconds", key);
			return;
		}
		if (json_is_number(v))
			t[i] = json_number_value(v);
		if (!isfinite(t[i]) || t[i] < 0 || t[i] > 253402300799.0) {
			json_decref(body);
			http_reply_problem(r, 400, NULL, "%s: out of range", key);
			return;
		}
	}
	if (json_object_size(body) != 2) {
		json_decref(body);
		http_reply_problem(r, 400, NULL, "body: only from and to may be given");
		return;
	}
	json_decref(body);
	if ((n = schedule_backfill(s, (int64_t)llround(t[0] * 1e6), (int64_t)llround(t[1] *
	    1e6), &err)) == -1) {
		api_core_error(r, &err);
		return;
	}
	/* Calls made: a failed commit drops them, so its reply is a 503. */
	if (n > 0)
		http_set_created(r);
	if ((o = schedule_json(s)) == NULL) {
		http_reply_problem(r, 503, NULL, "out of memory");
		return;
	}
	http_reply_json(r, 200, json_pack("{s:i, s:o}", "backfilled", n, "schedule", o));
}
