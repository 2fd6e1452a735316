/*
 * action: between the scheduler and the executors. Dispatches a call to
 * its kind (the table below) with its spec decoded once (outcome.c),
 * answers the scheduler's questions (abort, interrupted, claimed) and
 * takes the config. The command policy is cmdpolicy's.
 */
#include "daemon/action/action.h"

#include <stdlib.h>
#include <string.h>

#include "daemon/action/kind.h"
#include "daemon/action/outcome.h"
#include "daemon/action/runlog.h"
#include "daemon/config.h"
#include "daemon/core/error.h"
#include "daemon/core/idmap.h"
#include "daemon/core/sched.h"
#include "daemon/log.h"

/* The kinds of action. */
static const struct action_kind *const kinds[] = {
	&action_command_kind,
	&action_webhook_kind,
};
#define N_KINDS (sizeof(kinds) / sizeof(kinds[0]))

/* The kind that runs spec's action, or NULL. */
static const struct action_kind *
kind_of(const struct proto_spec *spec)
{
	for (size_t i = 0; i < N_KINDS; i++)
		if (kinds[i]->action == spec->action)
			return kinds[i];
	return NULL;
}

/* The digest is taken after the kind's rewrite (the program resolved),
 * as it was when the handler admitted the request. */
int
action_admit(void *arg, struct proto_call_req *req, char **spec, uint64_t *digest,
    struct core_error *err)
{
	json_t *canon = NULL;
	char *canon_text = NULL;
	int rc = -1;

	for (size_t i = 0; i < N_KINDS; i++)
		if (kinds[i]->action == req->action && kinds[i]->admit != NULL &&
		    kinds[i]->admit(req, err) == -1)
			return -1;
	if (digest != NULL) {
		if ((canon = proto_call_canonical(req)) == NULL ||
		    (canon_text = proto_dump(canon)) == NULL)
			goto nomem;
		*digest = idmap_hash_bytes(canon_text, strlen(canon_text));
	}
	if ((*spec = proto_call_spec_text(req)) == NULL)
		goto nomem;
	rc = 0;
	goto out;
nomem:
	core_error_set(err, CORE_ENOMEM, "out of memory");
out:
	free(canon_text);
	json_decref(canon);
	return rc;
}

/* Run call c's action (again): its run's spec, decoded on the first
 * attempt, goes to its kind. */
static void
action_run(struct future *c)
{
	struct outcome_run *run = outcome_begin(c);
	const struct action_kind *k = run != NULL ? kind_of(&run->spec) : NULL;

	if (run == NULL) {
		outcome_fail(c, "InternalError", "out of memory");
		return;
	}
	/* A start is logged once the text was read (and is JSON). */
	if (run->spec.root != NULL)
		runlog_start(c, &run->what);
	if (run->decoded && k != NULL)
		k->start(c, &run->spec);
	else
		outcome_fail(c, k != NULL ? k->fail_type : "InternalError", run->why);
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
	struct outcome_run *run = outcome_begin(c);
	int rerun = run == NULL || run->spec.action != PROTO_COMMAND || run->spec.rerun;

	/* The call is dispatched again later, or ends here: either way this
	 * run (recovery's) is not the one that goes on. */
	if (rerun) {
		outcome_forget(c->id);
		return 1;
	}
	outcome_fail(c, "Interrupted", "loopd stopped while the command was running or "
	    "starting; it was not run again (on_restart: fail)");
	return 0;
}

/* sched_actions.abort: stop call c's action. An executor that ends it
 * here (an aborted request) or a waiting retry settles it now; otherwise
 * the executor reports its end itself. */
static void
action_abort(void *arg, struct future *c)
{
	int ended = outcome_retry_cancel(c->id);

	for (size_t i = 0; !ended && i < N_KINDS; i++)
		ended = kinds[i]->abort(c->id);
	if (ended)
		outcome_cancelled(c);
}

/* sched_actions.claimed: the claim of a call that waits in an executor's
 * queue holds again. */
static void
action_claimed(void *arg, struct future *c)
{
	for (size_t i = 0; i < N_KINDS; i++)
		if (kinds[i]->claimed != NULL)
			kinds[i]->claimed();
}

/* Take the retry defaults and the run log's rate from the config. */
static void
action_policy(const struct config *cfg)
{
	outcome_configure(cfg->retry_backoff, cfg->retry_max_backoff);
	log_run_set_rate((unsigned)cfg->log_runs_per_second);
}

int
action_init(struct event_base *base, const struct config *cfg, struct sched_actions *ops)
{
	if (outcome_init(base, action_run) == -1)
		return -1;
	action_policy(cfg);
	if (runlog_init(base) == -1)
		return -1;
	ops->admit = action_admit;
	ops->start = action_start;
	ops->abort = action_abort;
	ops->interrupted = action_interrupted;
	ops->claimed = action_claimed;
	ops->arg = NULL;
	for (size_t i = 0; i < N_KINDS; i++)
		if (kinds[i]->init(base, cfg) == -1)
			return -1;
	return 0;
}

int
action_configure(const struct config *cfg)
{
	int rc = 0;

	action_policy(cfg);
	for (size_t i = 0; i < N_KINDS; i++)
		if (kinds[i]->configure(cfg) == -1)
			rc = -1;
	return rc;
}

void
action_shutdown(void)
{
	for (size_t i = 0; i < N_KINDS; i++)
		kinds[i]->shutdown();
	outcome_shutdown();
	runlog_shutdown();
}
