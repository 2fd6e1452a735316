/*
 * Unit tests for the store's work per loop turn (issue 13: no loop
 * stalls). A commit of many rows is real (SQLite in a temporary state
 * directory, the writer thread); what is checked is how much of it the
 * loop takes care of in one turn, never how long a turn took:
 *
 *  - a finished commit's rows are marked stored at most STORE_DONE_SLICE
 *    a turn (a 100,000-row commit was one turn of 30-47 ms before);
 *  - its replies (the commit callback) wait for the last of them.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include "daemon/core/clock.h"
#include "daemon/core/future.h"
#include "daemon/core/sched.h"
#include "daemon/core/schedule.h"
#include "daemon/log.h"
#include "daemon/store/store.h"
#include "tests/unit/check.h"
#include "tests/unit/evbase.h"

#define SEC CLOCK_US_PER_S
#define N_FUTURES (3 * STORE_DONE_SLICE + 100)

static struct {
	struct event_base *base;
	struct event *guard;
	char dir[64];
	uint64_t ids[N_FUTURES];
	int commits_ok;			/* commit callbacks with ok = 1 */
	int early;			/* ... called before every row was stored */
	size_t n;			/* futures made */
} fx;

static void
guard_cb(evutil_socket_t fd, short what, void *arg)
{
}

/* How many of the futures made are marked stored. */
static size_t
count_stored(void)
{
	size_t k = 0;

	for (size_t i = 0; i < fx.n; i++) {
		struct future *f = future_find(fx.ids[i]);
		if (f != NULL && f->stored)
			k++;
	}
	return k;
}

/* The store's commit callback: replies made before it may go now. */
static void
commit_cb(int ok, uint64_t seq, void *arg)
{
	if (!ok)
		return;
	fx.commits_ok++;
	if (fx.n > 0 && count_stored() != fx.n && store_pending() == 0)
		fx.early = 1;
}

static void
fake_start(void *arg, struct future *c)
{
	sched_started(c);
	sched_finish(c, strdup("{}"), 0);
}

static void
fake_abort(void *arg, struct future *c)
{
	sched_finish(c, NULL, 0);
}

static int
fake_interrupted(void *arg, struct future *c)
{
	return 0;
}

/* A core with a store in a fresh temporary directory, as main() wires it. */
static int
setup(void)
{
	struct future_limits fl = { 1000000, 3600 * SEC, 0 };
	struct sched_actions ops = {
		.start = fake_start, .abort = fake_abort, .interrupted = fake_interrupted,
	};
	struct clock_anchor anchor;

	memset(&fx, 0, sizeof(fx));
	snprintf(fx.dir, sizeof(fx.dir), "/tmp/loopd-unit-store-XXXXXX");
	if (mkdtemp(fx.dir) == NULL || (fx.base = evbase_new(2)) == NULL) {
		fprintf(stderr, "cannot make a state directory or an event base\n");
		return -1;
	}
	if (store_open(fx.dir, &anchor) == -1)
		return -1;
	clock_resume(&anchor);
	if (future_init(fx.base, &fl) == -1 ||
	    schedule_init(NULL, &(struct schedule_limits){ 10, SEC }) == -1 ||
	    store_load() == -1 || sched_init(fx.base, &ops, 3650LL * 86400 * SEC) == -1 ||
	    store_start(fx.base, commit_cb, NULL) == -1 ||
	    (fx.guard = evtimer_new(fx.base, guard_cb, NULL)) == NULL) {
		fprintf(stderr, "cannot start the core and the store\n");
		return -1;
	}
	sched_recover(store_lease_end());
	return 0;
}

/* Stop it all, in the daemon's order, and remove the directory. */
static void
teardown(void)
{
	char cmd[128];

	store_close();
	schedule_shutdown();
	sched_shutdown();
	future_shutdown();
	if (fx.guard != NULL)
		event_free(fx.guard);
	event_base_free(fx.base);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", fx.dir);
	if (system(cmd) != 0)
		fprintf(stderr, "cannot remove %s\n", fx.dir);
}

/* One loop turn, blocking at most ms milliseconds. */
static void
turn(int64_t ms)
{
	struct timeval tv = clock_timeval(ms * 1000);

	evtimer_add(fx.guard, &tv);
	event_base_loop(fx.base, EVLOOP_ONCE);
	evtimer_del(fx.guard);
}

/* A commit of N_FUTURES new objects: they are marked stored a slice a
 * turn, never more than STORE_DONE_SLICE in one, and the commit's
 * callback comes only once all are. */
static void
test_commit_done_in_slices(void)
{
	struct core_error err = { CORE_OK, "" };
	size_t before = 0, most = 0, turns_storing = 0, now;
	int64_t deadline;

	if (!CHECK(setup() == 0))
		return;
	deadline = clock_loop_now() + 30 * SEC;
	for (size_t i = 0; i < N_FUTURES; i++) {
		struct future *f = future_new(NULL, 0, &err);
		if (f == NULL) {
			CHECK(f != NULL);
			goto out;
		}
		fx.ids[fx.n++] = f->id;
	}
	CHECK(store_pending() != 0);
	while ((now = count_stored()) < N_FUTURES && clock_loop_now() < deadline) {
		turn(100);
		now = count_stored();
		if (now - before > most)
			most = now - before;
		if (now > before)
			turns_storing++;
		before = now;
	}
	CHECK_INT_EQ(count_stored(), N_FUTURES);
	if (!CHECK(most > 0 && most <= STORE_DONE_SLICE))
		fprintf(stderr, "  %zu rows marked stored in one turn (slice %d)\n", most,
		    STORE_DONE_SLICE);
	CHECK(turns_storing >= (N_FUTURES + STORE_DONE_SLICE - 1) / STORE_DONE_SLICE);
	CHECK(store_stats()->done_rows_max <= STORE_DONE_SLICE);
	CHECK(store_stats()->done_slices >= turns_storing);
	/* The commit is reported once the last slice is done. */
	while (store_pending() != 0 && clock_loop_now() < deadline)
		turn(100);
	CHECK(store_pending() == 0);
	CHECK(fx.commits_ok >= 1);
	CHECK(!fx.early);
out:
	teardown();
}

/* store_flush (drain, shutdown) takes care of a whole commit at once. */
static void
test_flush_completes_at_once(void)
{
	struct core_error err = { CORE_OK, "" };

	if (!CHECK(setup() == 0))
		return;
	for (size_t i = 0; i < N_FUTURES; i++) {
		struct future *f = future_new(NULL, 0, &err);
		if (f == NULL) {
			CHECK(f != NULL);
			goto out;
		}
		fx.ids[fx.n++] = f->id;
	}
	store_flush();
	CHECK_INT_EQ(count_stored(), N_FUTURES);
	CHECK(store_pending() == 0);
out:
	teardown();
}

int
main(void)
{
	log_set_level(LOG_LEVEL_WARN);	/* no "schema migrated" lines */
	test_commit_done_in_slices();
	test_flush_completes_at_once();
	return check_summary();
}
