/*
 * action: how the scheduler's calls are carried out. Decodes a call's
 * spec, hands commands to the executor and
 * turns their outcomes into the result or exception of API.md §3.
 */
#ifndef LOOPD_ACTION_ACTION_H
#define LOOPD_ACTION_ACTION_H

#include <stddef.h>

struct event_base;
struct config;
struct sched_actions;

/* Set up the executors; fills *ops for sched_init. 0 or -1. */
int action_init(struct event_base *base, const struct config *cfg, struct sched_actions *ops);
/* Apply a (re)loaded config: policy and limits. 0, or -1 if a file it
 * names (the signing secret) cannot be read; the old one is kept then. */
int action_configure(const struct config *cfg);
/* Stop everything still running. */
void action_shutdown(void);

#endif
