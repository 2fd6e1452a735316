/*
 * command: run argv as a child process, no shell, on the event loop.
 *
 * Children are spawned with posix_spawn (vfork-like: a daemon holding a
 * large heap must not fork), each in its own process group so a timeout or
 * cancel can signal the whole group: SIGTERM, then SIGKILL after a grace
 * period. stdout and stderr are captured up to a cap. SIGCHLD arrives
 * through libevent and the reaper never blocks. At most `max_running`
 * children run at once; the rest wait in start order. A spawn that fails
 * for want of a resource (EMFILE, ENFILE, EAGAIN, ENOMEM) is tried again
 * with backoff, for about two minutes, before it is reported.
 *
 * A child is done when it has been reaped and both output pipes reached
 * EOF (or, if a grandchild keeps them open, a short drain period passed).
 */
#ifndef LOOPD_EXEC_COMMAND_H
#define LOOPD_EXEC_COMMAND_H

#include <stddef.h>
#include <stdint.h>

#include "daemon/util/outbuf.h"

struct event_base;

struct command_spec {
	char **argv;		/* NULL-terminated, argv[0] looked up in PATH */
	char **env;		/* NULL-terminated "K=V" added to loopd's own */
	char *cwd;		/* NULL: loopd's */
	char *stdin_data;	/* NULL: /dev/null */
	size_t stdin_len;
	int64_t timeout;	/* microseconds; 0: none */
};


struct command_result {
	int spawn_error;	/* errno of a failed spawn, else 0 */
	int exit_code;		/* -1 if killed by a signal */
	int signal;		/* the signal that killed it, else 0 */
	int timed_out;
	int aborted;
	int64_t duration;	/* microseconds */
	struct outbuf out, err;
};

struct command_limits {
	size_t max_running;
	size_t max_output;	/* bytes kept per stream */
	int64_t kill_grace;	/* microseconds from SIGTERM to SIGKILL */
};

/* Called when the child really starts (at: the loop time just before it
 * was spawned), and once when it is done; the result is only valid during
 * the call. may_start (optional) is asked
 * before a command that waited for a slot starts: 0 means not yet (it
 * keeps its place; command_kick() asks again). */
struct command_hooks {
	int (*may_start)(uint64_t id, void *arg);
	void (*started)(uint64_t id, int64_t at, void *arg);
	void (*done)(uint64_t id, struct command_result *res, void *arg);
	void *arg;
};

/* Set up SIGCHLD handling on base. 0 or -1. */
int command_init(struct event_base *base, const struct command_limits *limits,
    const struct command_hooks *hooks);
/* Kill every child's process group and free everything. */
void command_shutdown(void);
void command_set_limits(const struct command_limits *limits);
/* Run spec for id (taking ownership of spec), now or when a slot frees. A
 * spawn failure is reported through hooks.done like any other outcome.
 * Returns 1 if it waits for a slot, else 0. */
int command_run(uint64_t id, struct command_spec *spec);
/* Start what waits for a slot, if may_start now agrees. */
void command_kick(void);
/* Stop id's command: a queued one ends at once (aborted), a running one
 * gets SIGTERM then SIGKILL; either way done() reports it. 1 if id was
 * known, 0 otherwise. */
int command_abort(uint64_t id);
/* Free a spec and everything it owns. Accepts NULL. */
void command_spec_free(struct command_spec *spec);
/* Children running, and commands waiting for a slot. */
size_t command_running(void);
size_t command_queued(void);

#endif
