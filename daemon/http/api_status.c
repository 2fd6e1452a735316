/*
 * api_status: GET /v1/status - what `loopctl status` shows: the version,
 * uptime, where loopd listens and keeps its state, whether the store can
 * be written, and how much is pending and running.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "daemon/exec/command.h"
#include "daemon/exec/webhook.h"
#include "daemon/config.h"
#include "daemon/core/clock.h"
#include "daemon/core/future.h"
#include "daemon/core/query.h"
#include "daemon/core/sched.h"
#include "daemon/http/api.h"
#include "daemon/http/auth.h"
#include "daemon/store/store.h"

/* When the process started (monotonic), for the uptime. */
static struct timespec status_started;

/* Note the start time before main runs. */
static void __attribute__((constructor))
status_mark_start(void)
{
	clock_gettime(CLOCK_MONOTONIC, &status_started);
}

/* Seconds since the process started. */
static double
status_uptime(void)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (double)(now.tv_sec - status_started.tv_sec) +
	    (double)(now.tv_nsec - status_started.tv_nsec) / 1e9;
}

/* http_foreach_listener: add a URL to the array. */
static void
status_listener(const char *url, void *arg)
{
	json_array_append_new(arg, json_string(url));
}

/* What this request may do: its token's name and scopes (after the
 * console setting; the web console shows only the buttons they allow). */
static json_t *
status_token(struct http_req *r)
{
	char buf[160], *p, *next;
	json_t *scopes = json_array();

	auth_scopes_format(http_scopes(r), buf, sizeof(buf));
	for (p = buf; *p != '\0'; p = next) {
		next = p + strcspn(p, ",");
		if (*next == ',')
			*next++ = '\0';
		json_array_append_new(scopes, json_string(p));
	}
	return json_pack("{s:s?, s:o}", "name", http_token_name(r), "scopes", scopes);
}

/* GET /v1/status */
void
api_status(struct http_req *r, struct api_args *a)
{
	json_t *listen = json_array(), *o;
	const char *fault = store_fault();
	size_t phases[4];

	http_foreach_listener(status_listener, listen);
	query_count_pending_calls(phases);
	o = json_pack("{s:s, s:i, s:f, s:f, s:f, s:o, s:s?, s:{s:b, s:s?}, "
	    "s:{s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:{s:I, s:I, s:I}}}",
	    "version", LOOPD_VERSION, "pid", (json_int_t)getpid(),
	    "uptime", status_uptime(),
	    "loop_time", clock_to_seconds(clock_loop_now()),
	    "unix_time", clock_to_seconds(clock_unix_now()),
	    "listen", listen, "state_dir", api_cfg->state_dir,
	    "store", "writable", store_writable(), "fault",
	    store_writable() ? NULL : fault,
	    "counts",
	    "pending_calls", (json_int_t)future_count_pending_kind(FUTURE_CALL),
	    "pending_futures", (json_int_t)future_count_pending_kind(FUTURE_PLAIN),
	    "objects", (json_int_t)future_count_all(),
	    "running_calls", (json_int_t)sched_count_dispatched(),
	    "running_commands", (json_int_t)command_running(),
	    "queued_commands", (json_int_t)command_queued(),
	    "running_webhooks", (json_int_t)webhook_running(),
	    "queued_webhooks", (json_int_t)(webhook_queued() + webhook_host_queued()),
	    "held_requests", (json_int_t)http_held(),
	    "pending_calls_by_phase",
	    "scheduled", (json_int_t)phases[CALL_SCHEDULED],
	    "waiting", (json_int_t)phases[CALL_WAITING],
	    "running", (json_int_t)phases[CALL_RUNNING]);
	if (o != NULL)
		json_object_set_new(o, "token", status_token(r));
	if (o == NULL)
		http_reply_problem(r, 503, NULL, "out of memory");
	else
		http_reply_json(r, 200, o);
}
