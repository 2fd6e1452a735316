/*
 * cmdpolicy: what a command may be made of, checked on everything that
 * makes it, not only argv[0]: whether commands run at all, which programs
 * (command_allow, each resolved to an absolute path so that neither the
 * working directory nor PATH in the request chooses the file), which
 * working directories (command_cwd_allow), which environment variables
 * (command_env_allow / command_env_deny; LOOP_CALL_* and LOOP_FUTURE_*
 * are loopd's own), and how
 * large argv, env and stdin may be. The same check runs when a call is
 * accepted (refusals are 403 or 400) and again when it starts (a reload
 * may have changed the policy: a refusal is a SpawnError then).
 *
 * Also the timeout cap (command_max_timeout), a setting rather than a
 * check; the resource limits are exec/rlimits'.
 */
#ifndef LOOPD_ACTION_CMDPOLICY_H
#define LOOPD_ACTION_CMDPOLICY_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <jansson.h>

struct config;
struct proto_command;

/* Why a command is refused: the HTTP status (403: the policy says no;
 * 400: too large or malformed) and a detail naming the field. */
struct cmdpolicy_refusal {
	int status;
	char detail[512];
};

/* Take the policy from the config (copied). 0 or -1 (ENOMEM: the old
 * policy is kept). */
int cmdpolicy_set(const struct config *cfg);
/* Check command pc with the call's args (NULL: none) against the policy.
 * 0, with *argv0 the absolute path to run when command_allow is set (the
 * caller frees it) or NULL otherwise; or -1 with *ref filled. */
int cmdpolicy_check(const struct proto_command *pc, const json_t *args, char **argv0,
    struct cmdpolicy_refusal *ref);
/* Whether name is one of loopd's own variables (LOOP_CALL_*,
 * LOOP_FUTURE_*), which a request can neither set nor override. */
int cmdpolicy_env_reserved(const char *name);
/* The timeout to run a command with (microseconds, 0: none) given the
 * one it asked for: capped by command_max_timeout. */
int64_t cmdpolicy_timeout(int64_t asked);
/* Free the policy. */
void cmdpolicy_free(void);

#endif
