/*
 * Unit tests for the command executor (daemon/exec/command) on a real
 * event loop: a child's stdout and stderr captured apart, its exit code,
 * stdin, environment and working directory, the output cap, a timeout
 * (SIGTERM to its process group), an abort, a program that cannot be
 * spawned, and the cap on children running at once. The loop is driven in
 * bounded turns until each outcome arrives; nothing sleeps.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "daemon/core/clock.h"
#include "daemon/exec/command.h"
#include "daemon/util/strv.h"
#include "tests/unit/check.h"
#include "tests/unit/evbase.h"

#define MS 1000LL
#define SEC 1000000LL
#define IDS 8

/* What the hooks saw, per id. */
static struct {
	int started, done, out_truncated;
	struct command_result res;
	char *out, *err;
} seen[IDS];
static struct event_base *base;
static int started_total, running_max;
static int done_when_3_started = -1;	/* of ids 1 and 2 (test_max_running) */

/* hooks.started */
static void
on_started(uint64_t id, int64_t at, void *arg)
{
	seen[id].started++;
	started_total++;
	if (id == 3)
		done_when_3_started = seen[1].done + seen[2].done;
	if ((int)command_running() > running_max)
		running_max = (int)command_running();
}

/* hooks.done: keep a copy of the result (only valid during the call). */
static void
on_done(uint64_t id, struct command_result *res, void *arg)
{
	seen[id].done++;
	seen[id].res = *res;
	seen[id].out_truncated = res->out.truncated;
	seen[id].out = res->out.data != NULL ? strdup(res->out.data) : strdup("");
	seen[id].err = res->err.data != NULL ? strdup(res->err.data) : strdup("");
	memset(&seen[id].res.out, 0, sizeof(seen[id].res.out));
	memset(&seen[id].res.err, 0, sizeof(seen[id].res.err));
}

/* One turn of the loop, waiting 20 ms at most. */
static void
turn(void)
{
	struct timeval tv = { 0, 20000 };

	event_base_loopexit(base, &tv);
	event_base_loop(base, EVLOOP_ONCE);
}

/* Run the loop until id is done or ms pass; whether it is done. */
static int
run_until_done(uint64_t id, int64_t ms)
{
	int64_t deadline = clock_loop_now() + ms * MS;

	while (!seen[id].done && clock_loop_now() < deadline)
		turn();
	return seen[id].done;
}

/* A spec running /bin/sh -c SCRIPT (timeout in microseconds, 0: none). */
static struct command_spec *
sh(const char *script, int64_t timeout)
{
	struct command_spec *s = calloc(1, sizeof(*s));
	char **argv = NULL;
	size_t n = 0;

	if (s == NULL || strv_push(&argv, &n, strdup("sh")) == -1 ||
	    strv_push(&argv, &n, strdup("-c")) == -1 ||
	    strv_push(&argv, &n, strdup(script)) == -1)
		exit(2);
	s->argv = argv;
	s->timeout = timeout;
	return s;
}

/* Forget what the hooks saw. */
static void
reset(void)
{
	for (int i = 0; i < IDS; i++) {
		free(seen[i].out);
		free(seen[i].err);
	}
	memset(seen, 0, sizeof(seen));
	started_total = running_max = 0;
	done_when_3_started = -1;
}

/* stdout and stderr apart, the exit code, stdin, env and cwd. */
static void
test_output_and_exit(void)
{
	struct command_spec *s = sh("echo out; echo err >&2; cat; printf '%s' \"$K\"; "
	    "echo; pwd; exit 3", 0);
	char **env = NULL;
	size_t n = 0;

	strv_push(&env, &n, strdup("K=V w"));
	s->env = env;
	s->cwd = strdup("/");
	s->stdin_data = strdup("in\n");
	s->stdin_len = 3;
	CHECK_INT_EQ(command_run(1, s), 0);
	if (!CHECK(run_until_done(1, 10000)))
		return;
	CHECK_INT_EQ(seen[1].started, 1);
	CHECK_INT_EQ(seen[1].done, 1);
	CHECK_INT_EQ(seen[1].res.spawn_error, 0);
	CHECK_INT_EQ(seen[1].res.exit_code, 3);
	CHECK_INT_EQ(seen[1].res.signal, 0);
	CHECK(!seen[1].res.timed_out && !seen[1].res.aborted);
	CHECK_STR_EQ(seen[1].out, "out\nin\nV w\n/\n");
	CHECK_STR_EQ(seen[1].err, "err\n");
	CHECK(seen[1].res.duration >= 0);
	CHECK_INT_EQ(command_running(), 0);
}

/* Output past the cap is dropped and said so. */
static void
test_output_cap(void)
{
	CHECK_INT_EQ(command_run(2, sh("i=0; while [ $i -lt 300 ]; do echo 0123456789; "
	    "i=$((i+1)); done", 0)), 0);
	if (!CHECK(run_until_done(2, 10000)))
		return;
	CHECK_INT_EQ(seen[2].res.exit_code, 0);
	CHECK_INT_EQ(strlen(seen[2].out), 1024);
	CHECK(seen[2].out_truncated);
}

/* A timeout: SIGTERM to the group, reported as timed out. */
static void
test_timeout(void)
{
	int64_t t0 = clock_loop_now();

	CHECK_INT_EQ(command_run(3, sh("sleep 30", 200 * MS)), 0);
	if (!CHECK(run_until_done(3, 10000)))
		return;
	CHECK(seen[3].res.timed_out);
	CHECK_INT_EQ(seen[3].res.exit_code, -1);
	CHECK_INT_EQ(seen[3].res.signal, SIGTERM);
	CHECK(clock_loop_now() - t0 >= 200 * MS);
	CHECK(clock_loop_now() - t0 < 10 * SEC);
}

/* An abort ends a running command (and says 1: it was known). */
static void
test_abort(void)
{
	CHECK_INT_EQ(command_run(4, sh("sleep 30", 0)), 0);
	for (int i = 0; i < 500 && !seen[4].started; i++)
		turn();
	CHECK_INT_EQ(seen[4].started, 1);
	CHECK_INT_EQ(command_abort(4), 1);
	if (!CHECK(run_until_done(4, 10000)))
		return;
	CHECK(seen[4].res.aborted);
	CHECK_INT_EQ(seen[4].res.exit_code, -1);
	CHECK_INT_EQ(command_abort(4), 0);	/* gone */
	CHECK_INT_EQ(command_abort(7), 0);	/* never known */
}

/* A program that does not exist: a spawn error, reported through done. */
static void
test_spawn_error(void)
{
	struct command_spec *s = calloc(1, sizeof(*s));
	char **argv = NULL;
	size_t n = 0;

	strv_push(&argv, &n, strdup("/nonexistent/loopd-test-program"));
	s->argv = argv;
	CHECK_INT_EQ(command_run(5, s), 0);
	if (!CHECK(run_until_done(5, 10000)))
		return;
	CHECK_INT_EQ(seen[5].res.spawn_error, ENOENT);
	CHECK_INT_EQ(seen[5].started, 0);
}

/* At most max_running (2) at once: the third waits for a slot, in order. */
static void
test_max_running(void)
{
	CHECK_INT_EQ(command_run(1, sh("sleep 0.2", 0)), 0);
	CHECK_INT_EQ(command_run(2, sh("sleep 0.2", 0)), 0);
	CHECK_INT_EQ(command_run(3, sh("exit 7", 0)), 1);	/* waits */
	CHECK_INT_EQ(command_queued(), 1);
	if (!CHECK(run_until_done(3, 10000)))
		return;
	CHECK_INT_EQ(seen[3].res.exit_code, 7);
	/* It started once a slot freed: one of the first two had ended. */
	CHECK(done_when_3_started >= 1);
	CHECK(run_until_done(1, 10000) && run_until_done(2, 10000));
	CHECK_INT_EQ(running_max, 2);
	CHECK_INT_EQ(command_queued(), 0);
}

int
main(void)
{
	struct command_limits lim = { 2, 1024, 500 * MS };
	struct command_hooks hooks = { NULL, on_started, on_done, NULL };

	signal(SIGPIPE, SIG_IGN);
	/* Precise timers: test_timeout's lower bound sees a coarse clock. */
	if ((base = evbase_new(0)) == NULL)
		return 2;
	clock_start(-1, 0);
	if (command_init(base, &lim, &hooks) == -1)
		return 2;
	test_output_and_exit();
	reset();
	test_output_cap();
	reset();
	test_timeout();
	reset();
	test_abort();
	reset();
	test_spawn_error();
	reset();
	test_max_running();
	reset();
	command_shutdown();
	event_base_free(base);
	return check_summary();
}
