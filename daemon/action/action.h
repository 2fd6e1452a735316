/*
 * action: how the scheduler's calls are carried out. Decodes a call's
 * spec, hands commands to the executor and
 * turns their outcomes into the result or exception of API.md §3.
 */
#ifndef LOOPD_ACTION_ACTION_H
#define LOOPD_ACTION_ACTION_H

#include <stddef.h>
#include <stdint.h>

struct config;
struct core_error;
struct event_base;
struct proto_call_req;
struct sched_actions;

/* Set up the executors; fills *ops for sched_init. 0 or -1. */
int action_init(struct event_base *base, const struct config *cfg, struct sched_actions *ops);
/* sched_actions.admit, which action_init puts in *ops: a request's action
 * admitted by its kind (the command policy, with the policy action_init
 * or action_configure set), then its spec text and, if digest is not
 * NULL, the digest of what the request means. 0, or -1 with err set. */
int action_admit(void *arg, struct proto_call_req *req, char **spec, uint64_t *digest,
    struct core_error *err);
/* Apply a (re)loaded config: policy and limits. 0, or -1 if a file it
 * names (the signing secret) cannot be read; the old one is kept then. */
int action_configure(const struct config *cfg);
/* Stop everything still running. */
void action_shutdown(void);

#endif
