/*
 * action: between the scheduler and the executors.
 */
#include "daemon/action/action.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sys/queue.h>
#include <sys/stat.h>
#include <sys/random.h>
#include <math.h>

#include <event2/event.h>
#include <jansson.h>

#include "daemon/action/command.h"
#include "daemon/config.h"
#include "daemon/core/clock.h"
#include "daemon/core/sched.h"
#include "daemon/view.h"
#include "daemon/log.h"
#include "proto/codec.h"

/* A call waiting to try its action again. */
struct retry {
	TAILQ_ENTRY(retry) link;
	uint64_t id;
	struct event *ev;
};

static struct {
	struct event_base *base;
	int commands;
	char **allow;
	int64_t backoff;		/* defaults for a retry policy */
	int64_t max_backoff;
	TAILQ_HEAD(, retry) retries;
} as;

/* Copy a NULL-terminated list. */
static char **
strv_dup(char **v)
{
	size_t n = 0;
	char **c;

	while (v != NULL && v[n] != NULL)
		n++;
	if (v == NULL || (c = calloc(n + 1, sizeof(*c))) == NULL)
		return NULL;
	for (size_t i = 0; i < n; i++)
		if ((c[i] = strdup(v[i])) == NULL) {
			while (i > 0)
				free(c[--i]);
			free(c);
			return NULL;
		}
	return c;
}

/* Free a NULL-terminated list. */
static void
strv_free(char **v)
{
	for (size_t i = 0; v != NULL && v[i] != NULL; i++)
		free(v[i]);
	free(v);
}

int
action_command_allowed(const char *argv0, const char **why)
{
	if (!as.commands) {
		*why = "commands are switched off on this daemon (commands = off)";
		return 0;
	}
	if (as.allow == NULL)
		return 1;
	for (size_t i = 0; as.allow[i] != NULL; i++)
		if (strcmp(as.allow[i], argv0) == 0)
			return 1;
	*why = "this executable is not in command_allow";
	return 0;
}

/* Append s to a NULL-terminated vector of n entries. */
static int
strv_push(char ***v, size_t *n, char *s)
{
	char **nv;

	if (s == NULL || (nv = realloc(*v, (*n + 2) * sizeof(**v))) == NULL) {
		free(s);
		return -1;
	}
	nv[(*n)++] = s;
	nv[*n] = NULL;
	*v = nv;
	return 0;
}

/* "K=V" */
static char *
env_entry(const char *k, const char *v)
{
	char *s;

	return asprintf(&s, "%s=%s", k, v) == -1 ? NULL : s;
}

/* Build the executor's spec for call c from its stored spec. NULL with
 * *why set when it cannot run. */
static struct command_spec *
command_from_spec(struct future *c, const char **why)
{
	struct command_spec *cs;
	struct proto_command pc;
	struct proto_error perr = { "" };
	json_t *spec = view_load(c->spec), *args, *a, *target_json = NULL;
	struct future *target = NULL;
	size_t i, argc = 0, envc = 0;
	const char *k;
	char id[20];

	*why = "out of memory";
	if ((cs = calloc(1, sizeof(*cs))) == NULL || spec == NULL)
		goto fail;
	if (proto_decode_command(json_object_get(spec, "command"), &pc, &perr) == -1) {
		*why = "the stored command is invalid";
		goto fail;
	}
	if (!action_command_allowed(json_string_value(json_array_get(pc.argv, 0)), why))
		goto fail;
	*why = "out of memory";
	json_array_foreach(pc.argv, i, a)
		if (strv_push(&cs->argv, &argc, strdup(json_string_value(a))) == -1)
			goto fail;
	args = json_object_get(spec, "args");
	json_array_foreach(args, i, a)
		if (strv_push(&cs->argv, &argc, json_is_string(a) ?
		    strdup(json_string_value(a)) :
		    proto_encode(a)) == -1)
			goto fail;
	if (pc.env != NULL)
		json_object_foreach(pc.env, k, a)
			if (strv_push(&cs->env, &envc, env_entry(k, json_string_value(a))) == -1)
				goto fail;
	if (strv_push(&cs->env, &envc, env_entry("LOOP_CALL_ID", view_id(c, id))) == -1)
		goto fail;
	if (c->trigger == TRIGGER_ON_DONE && (target = future_find(c->target)) != NULL) {
		if (strv_push(&cs->env, &envc, env_entry("LOOP_FUTURE_ID", view_id(target, id))) == -1 ||
		    strv_push(&cs->env, &envc, env_entry("LOOP_FUTURE_STATE",
		    future_state_name(target->state))) == -1)
			goto fail;
		if (pc.stdin_data == NULL && (target_json = view_object(target)) != NULL) {
			cs->stdin_data = proto_encode(target_json);
			cs->stdin_len = cs->stdin_data ? strlen(cs->stdin_data) : 0;
		}
	}
	if (pc.cwd != NULL && (cs->cwd = strdup(pc.cwd)) == NULL)
		goto fail;
	if (pc.stdin_data != NULL) {
		if ((cs->stdin_data = malloc(pc.stdin_len + 1)) == NULL)
			goto fail;
		memcpy(cs->stdin_data, pc.stdin_data, pc.stdin_len + 1);
		cs->stdin_len = pc.stdin_len;
	}
	cs->timeout = clock_from_seconds(pc.timeout);
	json_decref(target_json);
	json_decref(spec);
	return cs;
fail:
	json_decref(target_json);
	json_decref(spec);
	command_spec_free(cs);
	return NULL;
}

/* Replace invalid UTF-8 in b with U+FFFD so it can be a JSON string. */
static json_t *
utf8_string(const char *b, size_t len)
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

/* The result or exception object of a command outcome; step says what a
 * failed spawn was doing. */
static json_t *
command_outcome(const struct command_result *res, const char *step, int *is_exc)
{
	json_t *o = json_object();
	char msg[1024];
	const char *type = NULL;

	if (o == NULL)
		return NULL;
	*is_exc = 1;
	if (res->spawn_error != 0) {
		type = "SpawnError";
		snprintf(msg, sizeof(msg), "cannot %s: %s", step, strerror(res->spawn_error));
	} else if (res->timed_out) {
		type = "TimeoutError";
		snprintf(msg, sizeof(msg), "timed out; %s", res->signal ?
		    "terminated by a signal" : "exited after SIGTERM");
	} else if (res->signal != 0) {
		type = "CommandFailed";
		snprintf(msg, sizeof(msg), "killed by signal %d (SIG%s)", res->signal,
		    sigabbrev_np(res->signal) ? sigabbrev_np(res->signal) : "?");
	} else if (res->exit_code != 0) {
		type = "CommandFailed";
		snprintf(msg, sizeof(msg), "exited with status %d", res->exit_code);
	} else
		*is_exc = 0;
	if (type != NULL) {
		json_object_set_new(o, "type", json_string(type));
		json_object_set_new(o, "message", json_string(msg));
	}
	if (res->spawn_error == 0) {
		json_object_set_new(o, "exit_code", res->signal ? json_null() :
		    json_integer(res->exit_code));
		if (res->signal)
			json_object_set_new(o, "signal", json_integer(res->signal));
		json_object_set_new(o, "stdout", utf8_string(res->out.data ? res->out.data : "",
		    res->out.len));
		json_object_set_new(o, "stderr", utf8_string(res->err.data ? res->err.data : "",
		    res->err.len));
		if (res->out.truncated)
			json_object_set_new(o, "stdout_truncated", json_true());
		if (res->err.truncated)
			json_object_set_new(o, "stderr_truncated", json_true());
		json_object_set_new(o, "duration", json_real(clock_to_seconds(res->duration)));
	}
	return o;
}

/* Finish call id with JSON value o (consumed). */
static void
action_finish(uint64_t id, json_t *o, int is_exc)
{
	struct future *c = future_find(id);
	char *text = o ? proto_encode(o) : NULL;

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

/* Fail call c before its action could start. */
static void
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

/* Run call c's command (again). */
static void
action_run_command(struct future *c)
{
	struct command_spec *cs;
	const char *why;

	if ((cs = command_from_spec(c, &why)) == NULL) {
		action_fail(c, "SpawnError", why);
		return;
	}
	command_run(c->id, cs);
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
		action_run_command(c);
}

/* If c's retry policy allows another attempt after this failure, keep
 * the failure as its last error and arm the retry; 1 if so. */
static int
action_retry(struct future *c, const json_t *failure)
{
	json_t *spec = view_load(c->spec), *retry = json_object_get(spec, "retry"), *v;
	json_int_t attempts = json_integer_value(json_object_get(retry, "attempts"));
	double backoff = (double)as.backoff / 1e6, max_backoff = (double)as.max_backoff / 1e6;
	struct retry *rt = NULL;
	struct timeval tv;
	char *text = NULL;

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
	tv = clock_timeval(retry_delay(backoff, max_backoff, c->attempts));
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

/* The executor started id's process. */
static void
command_started_hook(uint64_t id, void *arg)
{
	struct future *c = future_find(id);

	if (c != NULL)
		sched_started(c);
}

/* What a failed spawn of call c was trying to do, for its message: the
 * working directory if that is what is missing, else running argv[0]. */
static void
spawn_step(struct future *c, char *buf, size_t len)
{
	json_t *spec = view_load(c->spec), *cmd = json_object_get(spec, "command");
	const char *cwd = json_string_value(json_object_get(cmd, "cwd"));
	const char *a0 = json_string_value(json_array_get(json_object_get(cmd, "argv"), 0));
	struct stat sb;

	if (cwd != NULL && (stat(cwd, &sb) == -1 || !S_ISDIR(sb.st_mode)))
		snprintf(buf, len, "change to directory %s", cwd);
	else
		snprintf(buf, len, "run %s", a0 ? a0 : "the command");
	json_decref(spec);
}

/* id's process is done. */
static void
command_done_hook(uint64_t id, struct command_result *res, void *arg)
{
	struct future *c = future_find(id);
	int is_exc = 1;
	json_t *o;
	char step[600] = "";

	if (c == NULL)
		return;
	if (res->spawn_error != 0)
		spawn_step(c, step, sizeof(step));
	o = command_outcome(res, step, &is_exc);
	/* A failure or a timeout may be tried again; a spawn error will not
	 * mend itself. */
	if (is_exc && o != NULL && res->spawn_error == 0 && action_retry(c, o)) {
		json_decref(o);
		return;
	}
	action_finish(id, o, is_exc);
}

/* sched_actions.start: run call c's action. */
static void
action_start(void *arg, struct future *c)
{
	json_t *spec = view_load(c->spec);
	int is_command = json_object_get(spec, "command") != NULL;
	json_decref(spec);
	if (!is_command) {
		action_fail(c, "WebhookFailed", "webhooks are not available in this build");
		return;
	}
	action_run_command(c);
}

/* sched_actions.interrupted: call c had started when the daemon stopped.
 * A webhook is sent again (receivers dedupe on webhook-id); a command is
 * finished with Interrupted unless it asked to be re-run. */
static int
action_interrupted(void *arg, struct future *c)
{
	json_t *spec = view_load(c->spec);
	int command = json_object_get(spec, "command") != NULL;
	const char *on_restart = json_string_value(json_object_get(spec, "on_restart"));
	int rerun = !command || (on_restart != NULL && strcmp(on_restart, "rerun") == 0);

	json_decref(spec);
	if (rerun)
		return 1;
	action_fail(c, "Interrupted", "loopd stopped while the command was running; "
	    "it was not run again (on_restart: fail)");
	return 0;
}

/* sched_actions.abort: stop call c's action. */
static void
action_abort(void *arg, struct future *c)
{
	if (retry_cancel(c->id))
		sched_finish(c, NULL, 0);	/* ends cancelled */
	else
		command_abort(c->id);
}

/* The executor limits from the config. */
static struct command_limits
command_limits_of(const struct config *cfg)
{
	return (struct command_limits){ cfg->max_commands, cfg->max_output, cfg->kill_grace };
}

/* Take the command policy from the config. */
static void
action_policy(const struct config *cfg)
{
	as.commands = cfg->commands;
	as.backoff = cfg->retry_backoff;
	as.max_backoff = cfg->retry_max_backoff;
	strv_free(as.allow);
	as.allow = strv_dup(cfg->command_allow);
}

int
action_init(struct event_base *base, const struct config *cfg, struct sched_actions *ops)
{
	struct command_hooks hooks = { command_started_hook, command_done_hook, NULL };
	struct command_limits limits = command_limits_of(cfg);

	as.base = base;
	TAILQ_INIT(&as.retries);
	action_policy(cfg);
	ops->start = action_start;
	ops->abort = action_abort;
	ops->interrupted = action_interrupted;
	ops->arg = NULL;
	return command_init(base, &limits, &hooks);
}

void
action_configure(const struct config *cfg)
{
	struct command_limits limits = command_limits_of(cfg);

	action_policy(cfg);
	command_set_limits(&limits);
}

void
action_shutdown(void)
{
	struct retry *rt;

	while ((rt = TAILQ_FIRST(&as.retries)) != NULL)
		retry_cancel(rt->id);
	command_shutdown();
	strv_free(as.allow);
	as.allow = NULL;
}
