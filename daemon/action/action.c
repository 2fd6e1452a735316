/*
 * action: between the scheduler and the executors. Decodes a call's spec
 * to choose its executor, retries failures with backoff, and settles calls
 * with their outcome (API.md §3). The command policy is cmdpolicy's.
 */
#include "daemon/action/action.h"

#include <sys/queue.h>
#include <sys/random.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>
#include <jansson.h>

#include "daemon/action/action_int.h"
#include "daemon/action/runlog.h"
#include "daemon/config.h"
#include "daemon/core/clock.h"
#include "daemon/core/sched.h"
#include "daemon/log.h"
#include "daemon/view.h"
#include "proto/codec.h"

/* A call waiting to try its action again. */
struct retry {
	TAILQ_ENTRY(retry) link;
	uint64_t id;
	struct event *ev;
};

static struct {
	struct event_base *base;
	int64_t backoff;		/* defaults for a retry policy */
	int64_t max_backoff;
	TAILQ_HEAD(, retry) retries;
} as;

json_t *
action_utf8_string(const char *b, size_t len)
{
	char *out = malloc(len * 3 + 1);
	size_t o = 0, i = 0;
	json_t *s;

	if (out == NULL)
		return NULL;
	while (i < len) {
		unsigned char c = (unsigned char)b[i];
		size_t n = c < 0x80 ? 1 : (c & 0xe0) == 0xc0 ? 2 : (c & 0xf0) == 0xe0 ? 3 :
		    (c & 0xf8) == 0xf0 ? 4 : 0;
		int ok = n > 0 && i + n <= len;
		uint32_t cp = n == 1 ? c : n == 2 ? c & 0x1f : n == 3 ? c & 0x0f : c & 0x07;

		for (size_t j = 1; ok && j < n; j++) {
			ok = ((unsigned char)b[i + j] & 0xc0) == 0x80;
			cp = (cp << 6) | ((unsigned char)b[i + j] & 0x3f);
		}
		/* No overlong forms, surrogates or values past U+10FFFF. */
		if (ok && ((n == 2 && cp < 0x80) || (n == 3 && cp < 0x800) ||
		    (n == 4 && (cp < 0x10000 || cp > 0x10ffff)) || (cp >= 0xd800 && cp <= 0xdfff)))
			ok = 0;
		if (ok) {
			memcpy(out + o, b + i, n);
			o += n;
			i += n;
		} else {
			memcpy(out + o, "\xef\xbf\xbd", 3);
			o += 3;
			i++;
		}
	}
	s = json_stringn(out, o);
	free(out);
	return s;
}

json_t *
action_spec(const struct future *c)
{
	char *tmp;
	json_t *spec = view_load(future_spec(c, &tmp));

	free(tmp);
	return spec;
}

void
action_finish(uint64_t id, json_t *o, int is_exc)
{
	struct future *c = future_find(id);
	char *text = o ? proto_encode(o) : NULL;

	if (c != NULL && !future_done(c))
		runlog_end(c, c->cancel_requested ? NULL : o, is_exc);
	json_decref(o);
	if (c == NULL) {
		free(text);
		return;
	}
	if (text == NULL) {
		/* Out of memory while encoding: the call still ends. */
		text = strdup("{\"type\":\"InternalError\",\"message\":\"out of memory\"}");
		is_exc = 1;
	}
	sched_finish(c, text, is_exc);
}

void
action_fail(struct future *c, const char *type, const char *msg)
{
	action_finish(c->id, json_pack("{s:s, s:s}", "type", type, "message", msg), 1);
}

/* The delay before attempt n + 1 (n >= 1): between half and all of
 * backoff * 2^(n-1), capped at max_backoff (API.md §3). */
static int64_t
retry_delay(double backoff, double max_backoff, uint32_t n)
{
	double d = backoff * pow(2, n > 60 ? 60 : (double)n - 1);
	uint32_t r;

	if (d > max_backoff)
		d = max_backoff;
	if (getrandom(&r, sizeof(r), GRND_NONBLOCK) != sizeof(r))
		r = (uint32_t)random();
	return (int64_t)(d * 1e6 * (0.5 + 0.5 * (r / 4294967296.0)));
}

/* Run call c's action (again), parsing its stored spec once for the
 * executor's glue. */
static void
action_run(struct future *c)
{
	json_t *spec = action_spec(c);

	if (spec == NULL)
		action_fail(c, "InternalError",
		    "the call's action could not be read back from the store");
	else {
		runlog_start(c, spec);
		if (json_object_get(spec, "command") != NULL)
			action_command_start(c, spec);
		else
			action_webhook_start(c, spec);
	}
	json_decref(spec);
}

/* A retry's backoff is over: try again. */
static void
retry_cb(evutil_socket_t fd, short what, void *arg)
{
	struct retry *rt = arg;
	struct future *c = future_find(rt->id);

	TAILQ_REMOVE(&as.retries, rt, link);
	event_free(rt->ev);
	free(rt);
	if (c != NULL && !future_done(c))
		action_run(c);
}

int
action_retry(struct future *c, const json_t *failure, int default_attempts, int64_t delay_us)
{
	json_t *spec = action_spec(c), *retry = json_object_get(spec, "retry"), *v;
	json_int_t attempts = default_attempts;
	double backoff = (double)as.backoff / 1e6, max_backoff = (double)as.max_backoff / 1e6;
	struct retry *rt = NULL;
	struct timeval tv;
	char *text = NULL;

	if ((v = json_object_get(retry, "attempts")) != NULL)
		attempts = json_integer_value(v);
	if (c->cancel_requested || (json_int_t)c->attempts >= attempts)
		goto no;
	if ((v = json_object_get(retry, "backoff")) != NULL)
		backoff = json_number_value(v);
	if ((v = json_object_get(retry, "max_backoff")) != NULL)
		max_backoff = json_number_value(v);
	if ((text = proto_encode(failure)) == NULL || (rt = calloc(1, sizeof(*rt))) == NULL ||
	    (rt->ev = evtimer_new(as.base, retry_cb, rt)) == NULL)
		goto no;
	rt->id = c->id;
	free(c->outcome);
	c->outcome = text;
	future_touch(c);
	if (delay_us < 0)
		delay_us = retry_delay(backoff, max_backoff, c->attempts);
	runlog_retry(c, failure, delay_us);
	tv = clock_timeval(delay_us);
	evtimer_add(rt->ev, &tv);
	TAILQ_INSERT_TAIL(&as.retries, rt, link);
	json_decref(spec);
	return 1;
no:
	free(text);
	free(rt);
	json_decref(spec);
	return 0;
}

/* Stop a retry that is waiting; 1 if there was one. */
static int
retry_cancel(uint64_t id)
{
	struct retry *rt;

	TAILQ_FOREACH(rt, &as.retries, link)
		if (rt->id == id)
			break;
	if (rt == NULL)
		return 0;
	TAILQ_REMOVE(&as.retries, rt, link);
	event_free(rt->ev);
	free(rt);
	return 1;
}

/* sched_actions.start: run call c's action. */
static void
action_start(void *arg, struct future *c)
{
	action_run(c);
}

/* sched_actions.interrupted: call c had started when the daemon stopped.
 * A webhook is sent again (receivers dedupe on webhook-id); a command is
 * finished with Interrupted unless it asked to be re-run. */
static int
action_interrupted(void *arg, struct future *c)
{
	json_t *spec = action_spec(c);
	int command = json_object_get(spec, "command") != NULL;
	const char *on_restart = json_string_value(json_object_get(spec, "on_restart"));
	int rerun = !command || (on_restart != NULL && strcmp(on_restart, "rerun") == 0);

	json_decref(spec);
	if (rerun)
		return 1;
	action_fail(c, "Interrupted", "loopd stopped while the command was running or "
	    "starting; it was not run again (on_restart: fail)");
	return 0;
}

/* sched_actions.abort: stop call c's action. The executor reports a
 * command's end itself; an aborted request or a waiting retry ends here. */
static void
action_abort(void *arg, struct future *c)
{
	if (retry_cancel(c->id) || action_webhook_abort(c->id)) {
		if (!future_done(c))
			runlog_end(c, NULL, 0);
		sched_finish(c, NULL, 0);	/* cancel_requested: ends cancelled */
	} else
		action_command_abort(c->id);
}

/* sched_actions.claimed: the claim of a call that waits in an executor's
 * queue holds again (only commands let theirs lapse there). */
static void
action_claimed(void *arg, struct future *c)
{
	action_command_claimed();
}

/* Take the policy and retry defaults from the config. */
static void
action_policy(const struct config *cfg)
{
	as.backoff = cfg->retry_backoff;
	as.max_backoff = cfg->retry_max_backoff;
	log_run_set_rate((unsigned)cfg->log_runs_per_second);
}

int
action_init(struct event_base *base, const struct config *cfg, struct sched_actions *ops)
{
	as.base = base;
	TAILQ_INIT(&as.retries);
	action_policy(cfg);
	if (runlog_init(base) == -1)
		return -1;
	ops->start = action_start;
	ops->abort = action_abort;
	ops->interrupted = action_interrupted;
	ops->claimed = action_claimed;
	ops->arg = NULL;
	if (action_command_init(base, cfg) == -1 || action_webhook_init(base, cfg) == -1)
		return -1;
	return 0;
}

int
action_configure(const struct config *cfg)
{
	action_policy(cfg);
	action_command_configure(cfg);
	return action_webhook_configure(cfg);
}

void
action_shutdown(void)
{
	struct retry *rt;

	while ((rt = TAILQ_FIRST(&as.retries)) != NULL)
		retry_cancel(rt->id);
	action_command_shutdown();
	action_webhook_shutdown();
	runlog_shutdown();
}
