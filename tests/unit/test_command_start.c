/*
 * Unit test of when a command counts as started (issue 15: a schedule
 * firing every second, lateness p99 <= 1 ms). A call's `started` is the
 * instant loopd began starting its action, taken before the process is
 * spawned: the spawn is the command's cost (in its duration), not
 * lateness. This binary interposes posix_spawnp with one that takes
 * SLOW_SPAWN longer, runs a call through the real action layer and
 * command executor, and checks that `started` was taken before the spawn
 * began and that the slow spawn is not in its lateness.
 */
#include <dlfcn.h>
#include <spawn.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/event.h>

#include "daemon/action/action.h"
#include "daemon/config.h"
#include "daemon/core/clock.h"
#include "daemon/core/future.h"
#include "daemon/core/sched.h"
#include "tests/unit/check.h"
#include "tests/unit/evbase.h"

#define MS 1000LL
#define SLOW_SPAWN (30 * MS)

static struct {
	int64_t spawn_entered;	/* loop time posix_spawnp was entered */
	int spawns;
} spy;

typedef int (*spawnp_fn)(pid_t *, const char *, const posix_spawn_file_actions_t *,
    const posix_spawnattr_t *, char *const[], char *const[]);

/* The executor's posix_spawnp: note when it is entered, take SLOW_SPAWN
 * longer (as a loaded machine or a large process may), then spawn. */
int
posix_spawnp(pid_t *pid, const char *file, const posix_spawn_file_actions_t *fa,
    const posix_spawnattr_t *attr, char *const argv[], char *const envp[])
{
	spawnp_fn real = (spawnp_fn)dlsym(RTLD_NEXT, "posix_spawnp");
	struct timespec ts = { 0, SLOW_SPAWN * 1000 };

	spy.spawn_entered = clock_loop_now();
	spy.spawns++;
	while (nanosleep(&ts, &ts) == -1)
		;
	return real(pid, file, fa, attr, argv, envp);
}

/* The loop's guard timer: nothing to do, it only ends a turn. */
static void
guard_cb(evutil_socket_t fd, short what, void *arg)
{
}

/* Run the loop until c is done or ms pass. */
static void
run_until_done(struct event_base *base, struct future *c, int64_t ms)
{
	int64_t deadline = clock_loop_now() + ms * MS;
	struct timeval tv = { 0, 5000 };
	struct event *guard = evtimer_new(base, guard_cb, NULL);

	while (!future_done(c) && clock_loop_now() < deadline) {
		evtimer_add(guard, &tv);
		event_base_loop(base, EVLOOP_ONCE);
	}
	event_free(guard);
}

/* A call's started is taken before its process is spawned. */
static void
test_started_before_spawn(void)
{
	struct event_base *base = evbase_new(0);
	struct future_limits fl = { 0, 3600 * CLOCK_US_PER_S, 0 };
	struct sched_actions ops;
	struct core_error err = { CORE_OK, "" };
	struct config cfg;
	struct future *c;
	int existed;
	int64_t lateness;
	struct sched_call_params p = {
		.trigger = TRIGGER_AFTER, .when = 20 * MS,
		.spec = strdup("{\"command\":{\"argv\":[\"/bin/true\"]}}"),
	};

	memset(&ops, 0, sizeof(ops));
	if (base == NULL || config_defaults(&cfg) == -1)
		exit(2);
	clock_start(-1, 0);
	if (future_init(base, &fl) == -1 || action_init(base, &cfg, &ops) == -1 ||
	    sched_init(base, &ops, 86400 * CLOCK_US_PER_S) == -1)
		exit(2);
	sched_recover(0);
	c = sched_call(&p, &existed, &err);
	if (!CHECK(c != NULL))
		return;
	run_until_done(base, c, 10000);
	if (CHECK(future_done(c)) && CHECK(spy.spawns == 1) && CHECK(c->started != 0)) {
		lateness = c->started - c->due;
		CHECK(c->started <= spy.spawn_entered);
		CHECK(lateness >= 0);
		/* The slow spawn is not lateness (a loaded machine may still
		 * wake us late, but not by the spawn's whole cost too). */
		if (!CHECK(c->started < spy.spawn_entered + SLOW_SPAWN))
			fprintf(stderr, "  started %lld, spawn entered %lld\n",
			    (long long)c->started, (long long)spy.spawn_entered);
		CHECK(c->finished - c->started >= SLOW_SPAWN);
		CHECK(!c->has_exception);
	}
	action_shutdown();
	sched_shutdown();
	future_shutdown();
	config_free(&cfg);
	event_base_free(base);
}

int
main(void)
{
	test_started_before_spawn();
	return check_summary();
}
