/*
 * action_command: a call's command: its spec turned into argv, environment
 * and stdin for the executor, and the executor's outcome turned into the
 * result or exception of API.md §3.
 */
#include <sys/stat.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "daemon/action/cmdpolicy.h"
#include "daemon/action/kind.h"
#include "daemon/action/outcome.h"
#include "daemon/exec/command.h"
#include "daemon/config.h"
#include "daemon/core/clock.h"
#include "daemon/core/error.h"
#include "daemon/core/sched.h"
#include "daemon/log.h"
#include "daemon/util/strv.h"
#include "daemon/view.h"
#include "proto/codec.h"
#include "proto/spec.h"

/* "K=V" */
static char *
env_entry(const char *k, const char *v)
{
	char *s;

	return asprintf(&s, "%s=%s", k, v) == -1 ? NULL : s;
}

/* Build the executor's spec for call c from its decoded spec. NULL with
 * *why set when it cannot run (it may point into a static buffer, valid
 * until the next call). */
static struct command_spec *
command_from_spec(struct future *c, const struct proto_spec *spec, const char **why)
{
	static char refusal[sizeof(((struct cmdpolicy_refusal *)0)->detail)];
	struct cmdpolicy_refusal ref;
	char *argv0 = NULL;
	struct command_spec *cs;
	const struct proto_command *pc = &spec->command;
	json_t *a;
	struct future *target = NULL;
	size_t i, argc = 0, envc = 0;
	const char *k;
	char id[20];

	*why = "out of memory";
	if ((cs = calloc(1, sizeof(*cs))) == NULL)
		goto fail;
	/* The policy again: a reload may have changed it since acceptance. */
	if (cmdpolicy_check(pc, spec->args, &argv0, &ref) == -1) {
		snprintf(refusal, sizeof(refusal), "%s", ref.detail);
		*why = refusal;
		goto fail;
	}
	*why = "out of memory";
	json_array_foreach(pc->argv, i, a)
		if (strv_push(&cs->argv, &argc, i == 0 && argv0 != NULL ? argv0 :
		    strdup(json_string_value(a))) == -1) {
			argv0 = NULL;
			goto fail;
		}
	argv0 = NULL;
	json_array_foreach(spec->args, i, a)
		if (strv_push(&cs->argv, &argc, json_is_string(a) ?
		    strdup(json_string_value(a)) :
		    proto_encode(a)) == -1)
			goto fail;
	/* loopd's own LOOP_CALL_ID and LOOP_FUTURE_* come last and are never
	 * the request's (the check above refuses them; skipping them here
	 * keeps it so whatever the policy says). */
	if (pc->env != NULL)
		json_object_foreach(pc->env, k, a)
			if (!cmdpolicy_env_reserved(k) && strv_push(&cs->env, &envc,
			    env_entry(k, json_string_value(a))) == -1)
				goto fail;
	if (strv_push(&cs->env, &envc, env_entry("LOOP_CALL_ID", view_id(c, id))) == -1)
		goto fail;
	if (c->trigger == TRIGGER_ON_DONE && (target = future_find(future_target(c))) != NULL) {
		if (strv_push(&cs->env, &envc, env_entry("LOOP_FUTURE_ID", view_id(target, id))) == -1 ||
		    strv_push(&cs->env, &envc, env_entry("LOOP_FUTURE_STATE",
		    future_state_name(target->state))) == -1)
			goto fail;
		/* Its view, written as text once. */
		if (pc->stdin_data == NULL && (cs->stdin_data = view_text(target)) != NULL)
			cs->stdin_len = strlen(cs->stdin_data);
	}
	if (pc->cwd != NULL && (cs->cwd = strdup(pc->cwd)) == NULL)
		goto fail;
	if (pc->stdin_data != NULL) {
		if ((cs->stdin_data = malloc(pc->stdin_len + 1)) == NULL)
			goto fail;
		memcpy(cs->stdin_data, pc->stdin_data, pc->stdin_len + 1);
		cs->stdin_len = pc->stdin_len;
	}
	cs->timeout = cmdpolicy_timeout(clock_from_seconds(pc->timeout));
	return cs;
fail:
	free(argv0);
	command_spec_free(cs);
	return NULL;
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
		json_object_set_new(o, "stdout", outcome_utf8(res->out.data ? res->out.data : "",
		    res->out.len));
		json_object_set_new(o, "stderr", outcome_utf8(res->err.data ? res->err.data : "",
		    res->err.len));
		if (res->out.truncated)
			json_object_set_new(o, "stdout_truncated", json_true());
		if (res->err.truncated)
			json_object_set_new(o, "stderr_truncated", json_true());
		json_object_set_new(o, "duration", json_real(clock_to_seconds(res->duration)));
	}
	return o;
}

/* What a failed spawn of call c was trying to do, for its message: the
 * working directory if that is what is missing, else running argv[0]. */
static void
spawn_step(struct future *c, char *buf, size_t len)
{
	struct outcome_run *run = outcome_find(c->id);
	const struct proto_command *pc = run != NULL && run->decoded ? &run->spec.command : NULL;
	const char *cwd = pc != NULL ? pc->cwd : NULL;
	const char *a0 = pc != NULL ? json_string_value(json_array_get(pc->argv, 0)) : NULL;
	struct stat sb;

	if (cwd != NULL && (stat(cwd, &sb) == -1 || !S_ISDIR(sb.st_mode)))
		snprintf(buf, len, "change to directory %s", cwd);
	else
		snprintf(buf, len, "run %s", a0 ? a0 : "the command");
}

/* The executor asks whether id, which waited for a slot, may start now:
 * once its claim holds again (issue 12: it let its claim lapse while it
 * waited, so a crash meanwhile does not count it as started). */
static int
command_may_start_hook(uint64_t id, void *arg)
{
	struct future *c = future_find(id);

	return c == NULL || sched_claim_dispatched(c);
}

/* The executor started id's process; it began at loop time at, before
 * the spawn (the spawn's cost is the command's, not lateness). */
static void
command_started_hook(uint64_t id, int64_t at, void *arg)
{
	struct future *c = future_find(id);

	if (c != NULL)
		sched_started_at(c, at);
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
	 * mend itself. Commands have no retries unless the call asks. */
	if (is_exc && o != NULL && res->spawn_error == 0 && outcome_retry(c, o, 1, -1)) {
		json_decref(o);
		return;
	}
	outcome_finish(id, o, is_exc);
}

/* action_kind.start */
static void
command_start(struct future *c, const struct proto_spec *spec)
{
	struct command_spec *cs;
	const char *why;

	if ((cs = command_from_spec(c, spec, &why)) == NULL) {
		outcome_fail(c, "SpawnError", why);
		return;
	}
	if (command_run(c->id, cs) == 1 && c->phase != CALL_RUNNING)
		sched_unclaim(c);	/* it waits for a slot: not started */
}

/* action_kind.claimed */
static void
command_claimed(void)
{
	command_kick();
}

/* The executor limits from the config. */
static struct command_limits
command_limits_of(const struct config *cfg)
{
	return (struct command_limits){ cfg->max_commands, cfg->max_output, cfg->kill_grace };
}

/* action_kind.init */
static int
command_kind_init(struct event_base *base, const struct config *cfg)
{
	struct command_hooks hooks = { command_may_start_hook, command_started_hook,
	    command_done_hook, NULL };
	struct command_limits limits = command_limits_of(cfg);

	if (cmdpolicy_set(cfg) == -1)
		return -1;
	return command_init(base, &limits, &hooks);
}

/* action_kind.configure */
static int
command_configure(const struct config *cfg)
{
	struct command_limits limits = command_limits_of(cfg);

	if (cmdpolicy_set(cfg) == -1)
		log_warnx("reload: out of memory; keeping the old command policy");
	command_set_limits(&limits);
	return 0;
}

/* action_kind.admit: the command policy; the program it runs, resolved,
 * replaces argv[0] in the request. */
static int
command_admit(struct proto_call_req *req, struct core_error *err)
{
	struct cmdpolicy_refusal ref;
	char *argv0 = NULL;
	json_t *s;

	if (cmdpolicy_check(&req->command, req->args, &argv0, &ref) == -1)
		return core_error_set(err, ref.status == 403 ? CORE_EDENIED : CORE_EINVAL, "%s",
		    ref.detail);
	if (argv0 != NULL && ((s = json_string(argv0)) == NULL ||
	    json_array_set_new(req->command.argv, 0, s) == -1)) {
		free(argv0);
		return core_error_set(err, CORE_ENOMEM, "out of memory");
	}
	free(argv0);
	return 0;
}

/* action_kind.abort: the executor reports the end of what it stops. */
static int
command_kind_abort(uint64_t id)
{
	command_abort(id);
	return 0;
}

/* action_kind.shutdown */
static void
command_kind_shutdown(void)
{
	command_shutdown();
	cmdpolicy_free();
}

const struct action_kind action_command_kind = {
	.action = PROTO_COMMAND,
	.fail_type = "SpawnError",
	.init = command_kind_init,
	.configure = command_configure,
	.admit = command_admit,
	.start = command_start,
	.abort = command_kind_abort,
	.claimed = command_claimed,
	.shutdown = command_kind_shutdown,
};
