/*
 * Unit tests for daemon/core/waitset, driven directly on a libevent loop:
 * no HTTP, no JSON. What /v1/wait, /v1/gather and a long-poll promise is
 * checked here on plain futures: the rules, deadlines (and max_wait),
 * max_waiters, a waitset dropped or stopped before it ends, the order in
 * which waitsets end, the wait for the store's commit, that a settle
 * costs a waitset O(1) (three waitsets of 10,000 futures), and that a
 * waitset of 10,000 ids starts, and ends, a slice a turn.
 *
 * The loop is driven with EVLOOP_ONCE in bounded loops (a guard timer),
 * so a test that waits for something that never happens fails instead of
 * hanging.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/event.h>

#include "daemon/core/clock.h"
#include "daemon/core/future.h"
#include "daemon/core/sched.h"
#include "daemon/core/waitset.h"
#include "tests/unit/check.h"
#include "tests/unit/evbase.h"

#define MS 1000LL
#define SEC CLOCK_US_PER_S
#define BIG 10000

/* One waitset's end, as its owner saw it. */
struct seen {
	int fired;		/* times fn was called */
	int order;		/* the rank of its end among all ends */
	int64_t at;		/* loop time of the end */
};

static struct {
	struct event_base *base;
	struct event *guard;
	int ends;		/* ends so far */
	uint64_t pending;	/* the fake store's commit in progress (0: none) */
	struct waitset_limits lim;
} fx;

static void
guard_cb(evutil_socket_t fd, short what, void *arg)
{
}

/* The owner's fn: count the end. */
static void
on_end(struct waitset *ws, void *arg)
{
	struct seen *s = arg;

	s->fired++;
	s->order = ++fx.ends;
	s->at = clock_loop_now();
}

/* The action layer is not needed: plain futures only. */
static void
no_start(void *arg, struct future *c)
{
}

/* The fake store's durability hook. */
static uint64_t
fake_pending(void)
{
	return fx.pending;
}

/* A fresh core: base, clock, futures, scheduler. */
static void
setup(void)
{
	struct future_limits fl = { 0, 3600 * SEC, 0 };
	struct sched_actions ops = { .start = no_start };

	memset(&fx, 0, sizeof(fx));
	fx.lim = (struct waitset_limits){ 0, 60 * SEC };
	if ((fx.base = evbase_new(0)) == NULL) {
		fprintf(stderr, "cannot make an event base\n");
		exit(2);
	}
	clock_start(-1, 0);
	if (future_init(fx.base, &fl) == -1 || sched_init(fx.base, &ops, 0) == -1 ||
	    (fx.guard = evtimer_new(fx.base, guard_cb, NULL)) == NULL) {
		fprintf(stderr, "cannot start the core\n");
		exit(2);
	}
	waitset_set_durability(NULL);
}

/* Tear it all down, in the daemon's order. */
static void
teardown(void)
{
	CHECK_INT_EQ(waitset_count(), 0);
	waitset_set_durability(NULL);
	event_free(fx.guard);
	sched_shutdown();
	future_shutdown();
	event_base_free(fx.base);
}

/* Run loop turns until *fired >= want or ms pass. Returns whether it did. */
static int
run_until_fired(const struct seen *s, int want, int64_t ms)
{
	int64_t deadline = clock_loop_now() + ms * MS, left;

	while (s->fired < want && (left = deadline - clock_loop_now()) > 0) {
		struct timeval tv = clock_timeval(left);

		evtimer_add(fx.guard, &tv);
		event_base_loop(fx.base, EVLOOP_ONCE);
	}
	evtimer_del(fx.guard);
	return s->fired >= want;
}

/* Run n loop turns (each bounded to 20 ms). */
static void
run_turns(int n)
{
	struct timeval tv = clock_timeval(20 * MS);

	while (n-- > 0) {
		evtimer_add(fx.guard, &tv);
		event_base_loop(fx.base, EVLOOP_ONCE);
	}
	evtimer_del(fx.guard);
}

/* A pending plain future. */
static struct future *
fut(void)
{
	struct core_error err = { CORE_OK, "" };
	struct future *f = future_new(NULL, 0, &err);

	if (f == NULL) {
		fprintf(stderr, "future_new: %s\n", err.msg);
		exit(2);
	}
	return f;
}

static void
set_result(struct future *f)
{
	struct core_error err = { CORE_OK, "" };

	CHECK(future_set_result(f, strdup("1"), &err) == 0);
}

static void
set_exception(struct future *f)
{
	struct core_error err = { CORE_OK, "" };

	CHECK(future_set_exception(f, strdup("{\"type\":\"E\"}"), &err) == 0);
}

/* A waitset over fs[0..n) with rule, started with timeout; rc in *rc. */
static struct waitset *
start(enum waitset_rule rule, struct future **fs, size_t n, int64_t timeout,
    struct seen *s, int *rc)
{
	struct core_error err = { CORE_OK, "" };
	struct waitset *ws = waitset_new(rule, n);

	if (!CHECK(ws != NULL))
		exit(2);
	for (size_t i = 0; i < n; i++)
		CHECK(waitset_add(ws, fs[i]) == 0);
	*rc = waitset_start(ws, fx.base, timeout, &fx.lim, on_end, s, &err);
	return ws;
}

/* A long-poll is a waitset of one: it ends on a later turn than the
 * settle, with the rule holding. */
static void
test_long_poll(void)
{
	struct seen s = { 0 };
	struct future *f;
	struct waitset *ws;
	int rc;

	setup();
	f = fut();
	ws = start(WAITSET_ALL_COMPLETED, &f, 1, 10 * SEC, &s, &rc);
	CHECK_INT_EQ(rc, 0);
	CHECK_INT_EQ(waitset_count(), 1);
	run_turns(2);
	CHECK_INT_EQ(s.fired, 0);
	set_result(f);
	CHECK_INT_EQ(s.fired, 0);		/* never inside the settle */
	CHECK(run_until_fired(&s, 1, 1000));
	CHECK(waitset_ready(ws) && !waitset_timed_out(ws));
	CHECK(waitset_future(ws, 0) == f && waitset_done(ws, 0));
	CHECK_INT_EQ(waitset_count(), 0);
	run_turns(2);
	CHECK_INT_EQ(s.fired, 1);		/* once */
	waitset_free(ws);

	/* Done already, or a timeout of 0: the answer is due now and nothing
	 * is registered. */
	ws = start(WAITSET_ALL_COMPLETED, &f, 1, 10 * SEC, &s, &rc);
	CHECK_INT_EQ(rc, 1);
	CHECK(waitset_ready(ws));
	CHECK_INT_EQ(waitset_count(), 0);
	waitset_free(ws);
	f = fut();
	ws = start(WAITSET_ALL_COMPLETED, &f, 1, 0, &s, &rc);
	CHECK_INT_EQ(rc, 1);
	CHECK(!waitset_ready(ws) && !waitset_done(ws, 0));
	waitset_free(ws);
	run_turns(2);
	CHECK_INT_EQ(s.fired, 1);
	teardown();
}

/* The deadline: the timeout given, or max_wait when none is given or it
 * is longer. */
static void
test_deadline(void)
{
	struct seen s1 = { 0 }, s2 = { 0 }, s3 = { 0 };
	struct future *f;
	struct waitset *w1, *w2, *w3;
	int64_t t0;
	int rc;

	setup();
	fx.lim.max_wait = 80 * MS;
	f = fut();
	t0 = clock_loop_now();
	w1 = start(WAITSET_ALL_COMPLETED, &f, 1, 30 * MS, &s1, &rc);
	CHECK_INT_EQ(rc, 0);
	w2 = start(WAITSET_ALL_COMPLETED, &f, 1, -1, &s2, &rc);
	CHECK_INT_EQ(rc, 0);
	w3 = start(WAITSET_GATHER, &f, 1, 3600 * SEC, &s3, &rc);
	CHECK_INT_EQ(rc, 0);
	CHECK(run_until_fired(&s1, 1, 1000));
	CHECK(s1.at - t0 >= 30 * MS);
	CHECK(waitset_timed_out(w1) && !waitset_ready(w1) && !waitset_done(w1, 0));
	CHECK_INT_EQ(s2.fired, 0);
	CHECK(run_until_fired(&s2, 1, 1000) && run_until_fired(&s3, 1, 1000));
	CHECK(s2.at - t0 >= 80 * MS && s3.at - t0 >= 80 * MS);
	CHECK(s3.at - t0 < 2 * SEC);		/* capped, not an hour */
	CHECK(waitset_timed_out(w2) && waitset_timed_out(w3));
	waitset_free(w1);
	waitset_free(w2);
	waitset_free(w3);

	/* A future settled on the turn the deadline passes counts: the end
	 * looks at the futures, not only at the wake-ups it has had. */
	{
		struct seen s = { 0 };
		struct waitset *ws = start(WAITSET_ALL_COMPLETED, &f, 1, 5 * SEC, &s, &rc);
		set_result(f);
		waitset_stop(ws);
		CHECK(waitset_ready(ws) && !waitset_timed_out(ws));
		waitset_free(ws);
		run_turns(2);
		CHECK_INT_EQ(s.fired, 0);
	}
	teardown();
}

/* asyncio.wait's three return_when rules. */
static void
test_wait_rules(void)
{
	struct future *fs[3];
	struct seen s_all = { 0 }, s_first = { 0 }, s_exc = { 0 };
	struct waitset *all, *first, *exc;
	int rc;

	setup();
	for (int i = 0; i < 3; i++)
		fs[i] = fut();
	all = start(WAITSET_ALL_COMPLETED, fs, 3, 10 * SEC, &s_all, &rc);
	first = start(WAITSET_FIRST_COMPLETED, fs, 3, 10 * SEC, &s_first, &rc);
	exc = start(WAITSET_FIRST_EXCEPTION, fs, 3, 10 * SEC, &s_exc, &rc);
	CHECK_INT_EQ(waitset_count(), 3);

	set_result(fs[1]);
	CHECK(run_until_fired(&s_first, 1, 1000));
	CHECK(waitset_done(first, 1) && !waitset_done(first, 0) && !waitset_done(first, 2));
	CHECK_INT_EQ(waitset_failure(first), 3);
	run_turns(2);
	CHECK_INT_EQ(s_all.fired + s_exc.fired, 0);

	/* A cancellation is not an exception for FIRST_EXCEPTION. */
	CHECK(future_cancel(fs[2]) == 1);
	run_turns(3);
	CHECK_INT_EQ(s_all.fired + s_exc.fired, 0);
	set_exception(fs[0]);
	CHECK(run_until_fired(&s_exc, 1, 1000) && run_until_fired(&s_all, 1, 1000));
	CHECK_INT_EQ(waitset_failure(exc), 0);
	CHECK(waitset_ready(all) && !waitset_timed_out(all));
	waitset_free(all);
	waitset_free(first);
	waitset_free(exc);

	/* FIRST_EXCEPTION ends before all are done when one raises. */
	{
		struct seen s = { 0 };
		struct waitset *ws;
		for (int i = 0; i < 3; i++)
			fs[i] = fut();
		ws = start(WAITSET_FIRST_EXCEPTION, fs, 3, 10 * SEC, &s, &rc);
		set_exception(fs[2]);
		CHECK(run_until_fired(&s, 1, 1000));
		CHECK(!waitset_done(ws, 0) && waitset_done(ws, 2));
		CHECK_INT_EQ(waitset_failure(ws), 2);
		waitset_free(ws);
		future_cancel(fs[0]);
		future_cancel(fs[1]);
	}
	teardown();
}

/* gather: ends at the first exception or cancellation; the failure
 * reported is the first in the order given, even when a later one failed
 * first; with return_exceptions it is ALL_COMPLETED. */
static void
test_gather(void)
{
	struct future *fs[4];
	struct seen s = { 0 }, s_all = { 0 };
	struct waitset *ws, *all;
	int rc;

	setup();
	for (int i = 0; i < 4; i++)
		fs[i] = fut();
	ws = start(WAITSET_GATHER, fs, 4, 10 * SEC, &s, &rc);
	all = start(WAITSET_ALL_COMPLETED, fs, 4, 10 * SEC, &s_all, &rc);
	set_result(fs[0]);
	run_turns(3);
	CHECK_INT_EQ(s.fired, 0);
	/* Two failures in one turn: the earlier in the list is reported. */
	set_exception(fs[3]);
	CHECK(future_cancel(fs[1]) == 1);
	CHECK(run_until_fired(&s, 1, 1000));
	CHECK_INT_EQ(waitset_failure(ws), 1);
	CHECK(!waitset_done(ws, 2));
	CHECK_INT_EQ(s_all.fired, 0);
	set_result(fs[2]);
	CHECK(run_until_fired(&s_all, 1, 1000));
	/* ALL_COMPLETED reports exceptions, not cancellations, as failures;
	 * the encoder of return_exceptions ignores them anyway. */
	CHECK_INT_EQ(waitset_failure(all), 3);
	waitset_free(ws);
	waitset_free(all);

	/* All results: no failure. The same future twice counts twice. */
	{
		struct future *g[3];
		struct seen s2 = { 0 };
		g[0] = g[2] = fut();
		g[1] = fut();
		ws = start(WAITSET_GATHER, g, 3, 10 * SEC, &s2, &rc);
		set_result(g[0]);
		run_turns(3);
		CHECK_INT_EQ(s2.fired, 0);
		set_result(g[1]);
		CHECK(run_until_fired(&s2, 1, 1000));
		CHECK_INT_EQ(waitset_failure(ws), 3);
		CHECK(waitset_id(ws, 0) == waitset_id(ws, 2));
		waitset_free(ws);
	}
	teardown();
}

/* A waitset dropped (the client went away) or stopped (shutdown) before
 * it ends is never called, and leaves nothing behind on its futures. */
static void
test_cancellation(void)
{
	struct future *fs[2];
	struct seen s1 = { 0 }, s2 = { 0 };
	struct waitset *w1, *w2;
	int rc;

	setup();
	fs[0] = fut();
	fs[1] = fut();
	w1 = start(WAITSET_ALL_COMPLETED, fs, 2, 50 * MS, &s1, &rc);
	w2 = start(WAITSET_FIRST_COMPLETED, fs, 2, 50 * MS, &s2, &rc);
	set_result(fs[0]);		/* w2's waiter is queued to wake */
	waitset_free(w1);
	waitset_stop(w2);
	CHECK_INT_EQ(waitset_count(), 0);
	CHECK(waitset_ready(w2) && waitset_done(w2, 0));
	set_result(fs[1]);
	run_turns(3);
	{
		struct seen never = { 0 };
		run_until_fired(&never, 1, 100);	/* past both deadlines */
	}
	CHECK_INT_EQ(s1.fired + s2.fired, 0);
	waitset_free(w2);
	waitset_free(NULL);
	teardown();
}

/* max_waiters counts waitsets waiting; one that ended makes room. */
static void
test_max_waiters(void)
{
	struct core_error err = { CORE_OK, "" };
	struct future *f;
	struct seen s1 = { 0 }, s2 = { 0 };
	struct waitset *w1, *w2;
	int rc;

	setup();
	fx.lim.max_waiters = 1;
	f = fut();
	w1 = start(WAITSET_ALL_COMPLETED, &f, 1, 10 * SEC, &s1, &rc);
	CHECK_INT_EQ(rc, 0);
	w2 = waitset_new(WAITSET_ALL_COMPLETED, 1);
	CHECK(w2 != NULL && waitset_add(w2, f) == 0);
	CHECK(waitset_add(w2, f) == -1);			/* full */
	CHECK_INT_EQ(waitset_start(w2, fx.base, 10 * SEC, &fx.lim, on_end, &s2, &err), -1);
	CHECK_INT_EQ(err.code, CORE_EFULL);
	CHECK_STR_EQ(err.msg, "too many waiters (max_waiters = 1)");
	waitset_free(w2);
	set_result(f);
	CHECK(run_until_fired(&s1, 1, 1000));
	CHECK_INT_EQ(waitset_count(), 0);
	waitset_free(w1);
	teardown();
}

/* Waitsets on one future end in the order they started. */
static void
test_order(void)
{
	struct future *f;
	struct seen s[5];
	struct waitset *ws[5];
	int rc;

	setup();
	memset(s, 0, sizeof(s));
	f = fut();
	for (int i = 0; i < 5; i++)
		ws[i] = start(i % 2 ? WAITSET_GATHER : WAITSET_ALL_COMPLETED, &f, 1, 10 * SEC,
		    &s[i], &rc);
	set_result(f);
	CHECK(run_until_fired(&s[4], 1, 1000));
	for (int i = 0; i < 5; i++) {
		CHECK_INT_EQ(s[i].order, i + 1);
		waitset_free(ws[i]);
	}
	teardown();
}

/* A settle is heard of only once the commit holding it is over; so is a
 * deadline (the answer reports states). Commits release in order. */
static void
test_durability(void)
{
	struct future *f, *g;
	struct seen s1 = { 0 }, s2 = { 0 }, s3 = { 0 };
	struct waitset *w1, *w2, *w3;
	int rc;

	setup();
	waitset_set_durability(fake_pending);
	f = fut();
	g = fut();
	w1 = start(WAITSET_ALL_COMPLETED, &f, 1, 10 * SEC, &s1, &rc);
	w2 = start(WAITSET_ALL_COMPLETED, &g, 1, 10 * SEC, &s2, &rc);
	fx.pending = 7;			/* the settle is in commit 7 */
	set_result(f);
	run_turns(3);
	CHECK_INT_EQ(s1.fired, 0);
	CHECK_INT_EQ(waitset_count(), 2);	/* still held */
	waitset_commit_done(1, 6);
	CHECK_INT_EQ(s1.fired, 0);
	fx.pending = 8;
	w3 = start(WAITSET_ALL_COMPLETED, &g, 1, 20 * MS, &s3, &rc);
	{
		struct seen never = { 0 };
		run_until_fired(&never, 1, 60);	/* w3's deadline passes */
	}
	CHECK_INT_EQ(s3.fired, 0);
	waitset_commit_done(1, 7);
	CHECK_INT_EQ(s1.fired, 1);
	CHECK_INT_EQ(s3.fired, 0);
	fx.pending = 0;
	waitset_commit_done(0, 8);	/* a failed commit releases too */
	CHECK_INT_EQ(s3.fired, 1);
	CHECK(waitset_timed_out(w3));
	/* Nothing in flight: the end is heard at once. */
	set_result(g);
	CHECK(run_until_fired(&s2, 1, 1000));
	/* A waitset waiting for a commit can be dropped. */
	{
		struct seen s4 = { 0 };
		struct future *h = fut();
		struct waitset *w4 = start(WAITSET_ALL_COMPLETED, &h, 1, 10 * SEC, &s4, &rc);
		fx.pending = 9;
		set_result(h);
		run_turns(3);
		CHECK_INT_EQ(waitset_count(), 1);
		waitset_free(w4);
		CHECK_INT_EQ(waitset_count(), 0);
		waitset_commit_done(1, 9);
		CHECK_INT_EQ(s4.fired, 0);
	}
	waitset_free(w1);
	waitset_free(w2);
	waitset_free(w3);
	teardown();
}

/* Ten thousand long-polls on one future, released by one commit, end a
 * slice a turn: no turn ends more than WAITSET_SLICE of them (one callback
 * ended all 10,000, 6-8 ms, and timers due then waited: issue 18), they
 * end in the order they started, and a timer due meanwhile runs between
 * slices. */
static void
test_commit_slices(void)
{
	static struct seen s[BIG];
	static struct waitset *ws[BIG];
	struct seen tick = { 0 };
	struct event *timer;
	struct timeval zero = { 0, 0 };
	struct future *f;
	size_t most = 0, turns = 0, before;
	int rc, in_order = 1;

	setup();
	memset(s, 0, sizeof(s));
	waitset_set_durability(fake_pending);
	f = fut();
	for (int i = 0; i < BIG; i++) {
		ws[i] = start(WAITSET_ALL_COMPLETED, &f, 1, 60 * SEC, &s[i], &rc);
		CHECK_INT_EQ(rc, 0);
	}
	fx.pending = 3;
	set_result(f);
	/* The waiters wake (a slice a turn, in the order they waited): all
	 * wait for commit 3. */
	for (int t = 0; !waitset_ready(ws[BIG - 1]) && t < BIG; t++)
		run_turns(1);
	CHECK_INT_EQ(fx.ends, 0);
	CHECK_INT_EQ(waitset_count(), BIG);
	fx.pending = 0;
	timer = evtimer_new(fx.base, guard_cb, NULL);
	waitset_commit_done(1, 3);
	most = waitset_last_slice();
	turns = 1;
	CHECK(fx.ends > 0);		/* the first slice goes at once */
	evtimer_add(timer, &zero);	/* due now: it must not wait for them all */
	while (fx.ends < BIG && turns < 10 * BIG) {
		before = (size_t)fx.ends;
		run_turns(1);
		if ((size_t)fx.ends - before > most)
			most = (size_t)fx.ends - before;
		if (!evtimer_pending(timer, NULL))
			tick.fired++;
		if (tick.fired == 1 && tick.at == 0)
			tick.at = fx.ends;	/* ends before the timer ran */
		turns++;
	}
	CHECK_INT_EQ(fx.ends, BIG);
	for (int i = 0; i < BIG; i++) {
		in_order &= s[i].fired == 1 && s[i].order == i + 1;
		waitset_free(ws[i]);
	}
	CHECK(in_order);
	printf("waitset: %d long-polls ended in %zu turns, at most %zu a turn; a due "
	    "timer ran after %lld of them\n", BIG, turns, most, (long long)tick.at);
	CHECK(most <= WAITSET_SLICE);
	CHECK(turns >= BIG / WAITSET_SLICE);
	CHECK(tick.at > 0 && tick.at < BIG);
	event_free(timer);
	teardown();
}

static struct event *tick_ev;
static int ticks;

/* A zero timer that re-arms itself: it runs once each loop turn. */
static void
tick_cb(evutil_socket_t fd, short what, void *arg)
{
	struct timeval zero = { 0, 0 };

	ticks++;
	evtimer_add(tick_ev, &zero);
}

/* Start the ticker. */
static void
tick_start(void)
{
	struct timeval zero = { 0, 0 };

	ticks = 0;
	if ((tick_ev = evtimer_new(fx.base, tick_cb, NULL)) == NULL)
		exit(2);
	evtimer_add(tick_ev, &zero);
}

/* A waitset over fs[0..n) by id (as /v1/wait gives them), started with
 * rule and timeout; rc in *rc, an immediate error in *err. */
static struct waitset *
start_ids(enum waitset_rule rule, struct future **fs, size_t n, int64_t timeout,
    struct seen *s, int *rc, struct core_error *err)
{
	struct waitset *ws = waitset_new(rule, n);

	if (!CHECK(ws != NULL))
		exit(2);
	for (size_t i = 0; i < n; i++)
		CHECK(waitset_add_id(ws, fs[i]->id, fs[i]->kind == FUTURE_CALL) == 0);
	*rc = waitset_start(ws, fx.base, timeout, &fx.lim, on_end, s, err);
	return ws;
}

/* Run turns while ws is starting (at most max); the turns it took. */
static int
run_while_starting(const struct waitset *ws, int max)
{
	int turns = 0;

	while (waitset_starting(ws) && turns < max) {
		run_turns(1);
		turns++;
	}
	return turns;
}

/* A waitset of 10,000 ids starts a slice a turn (one turn of 16-22 ms
 * held every timer back: issue 13): each id is looked up, then a waiter
 * registered, at most WAITSET_START_SLICE a turn, a timer due meanwhile
 * runs on every turn between, and futures settled between slices - in
 * the lookups, before and after their waiter - are all counted. */
static void
test_start_slices(void)
{
	static struct future *fs[BIG];
	struct core_error err = { CORE_OK, "" };
	struct seen s = { 0 };
	struct waitset *ws;
	int rc, turns = 0, check_turns, ticks0;

	setup();
	for (int i = 0; i < BIG; i++)
		fs[i] = fut();
	tick_start();
	ws = start_ids(WAITSET_ALL_COMPLETED, fs, BIG, 60 * SEC, &s, &rc, &err);
	CHECK_INT_EQ(rc, 0);
	CHECK(waitset_starting(ws));
	CHECK_INT_EQ(waitset_count(), 0);	/* looking up: no waiter yet */
	set_result(fs[BIG / 2]);		/* settled while its id waits a lookup */
	ticks0 = ticks;
	while (waitset_starting(ws) && waitset_count() == 0 && turns < 1000) {
		run_turns(1);
		turns++;
	}
	check_turns = turns;
	/* The lookups took turns of their own, the ticker ran on each. */
	CHECK(check_turns >= BIG / WAITSET_START_SLICE - 1);
	CHECK(ticks - ticks0 >= check_turns);
	CHECK_INT_EQ(waitset_count(), 1);	/* registering */
	set_result(fs[0]);			/* its waiter is registered now */
	set_result(fs[BIG - 1]);		/* its waiter is not, yet */
	ticks0 = ticks;
	turns = run_while_starting(ws, 1000);
	CHECK(turns >= BIG / WAITSET_START_SLICE - 2);
	CHECK(ticks - ticks0 >= turns);
	printf("waitset: %d ids checked in %d turns, registered in %d more; the ticker "
	    "ran every turn\n", BIG, check_turns, turns);
	CHECK(!waitset_starting(ws) && !waitset_ready(ws));
	CHECK_INT_EQ(s.fired, 0);
	for (int i = 1; i < BIG - 1; i++)
		if (i != BIG / 2)
			set_result(fs[i]);
	CHECK(run_until_fired(&s, 1, 5000));	/* no settle was lost */
	CHECK(waitset_ready(ws) && !waitset_timed_out(ws));
	CHECK_INT_EQ(waitset_error(ws, &err), 0);
	waitset_free(ws);
	event_free(tick_ev);
	teardown();
}

/* An unknown id (or one of the other kind) is found before any waiter
 * is registered, whether the check takes turns or not; a deadline that
 * passes meanwhile does not hide it. */
static void
test_start_unknown(void)
{
	static struct future *fs[BIG];
	struct core_error err = { CORE_OK, "" };
	struct seen s = { 0 };
	struct future *gone;
	struct waitset *ws;

	setup();
	for (int i = 0; i < BIG; i++)
		fs[i] = fut();
	/* Small: at once. */
	ws = waitset_new(WAITSET_ALL_COMPLETED, 3);
	waitset_add_id(ws, fs[0]->id, 0);
	waitset_add_id(ws, fs[1]->id, 1);	/* named as a call: it is not */
	waitset_add_id(ws, fs[2]->id, 0);
	CHECK_INT_EQ(waitset_start(ws, fx.base, 10 * SEC, &fx.lim, on_end, &s, &err), -1);
	CHECK_INT_EQ(err.code, CORE_ENOTFOUND);
	CHECK_INT_EQ(waitset_missing(ws), 1);
	CHECK_INT_EQ(waitset_count(), 0);
	waitset_free(ws);

	/* Large, the unknown id near the end, a deadline of 1 us. */
	ws = waitset_new(WAITSET_FIRST_COMPLETED, BIG);
	for (int i = 0; i < BIG; i++)
		waitset_add_id(ws, i == BIG - 3 ? fs[BIG - 1]->id + 1000 : fs[i]->id, 0);
	set_result(fs[5]);
	CHECK_INT_EQ(waitset_start(ws, fx.base, 1, &fx.lim, on_end, &s, &err), 0);
	while (s.fired == 0 && waitset_starting(ws)) {
		CHECK_INT_EQ(waitset_count(), 0);
		run_turns(1);
	}
	CHECK(run_until_fired(&s, 1, 1000));
	CHECK_INT_EQ(waitset_error(ws, &err), -1);
	CHECK_INT_EQ(err.code, CORE_ENOTFOUND);
	CHECK_INT_EQ(waitset_missing(ws), BIG - 3);
	CHECK_INT_EQ(waitset_count(), 0);
	waitset_free(ws);

	/* Shutdown while looking up: the rest is looked up at once. */
	memset(&s, 0, sizeof(s));
	ws = waitset_new(WAITSET_ALL_COMPLETED, BIG);
	gone = fs[BIG - 1];
	for (int i = 0; i < BIG; i++)
		waitset_add_id(ws, i == BIG - 1 ? gone->id : fs[i]->id, i == BIG - 1);
	CHECK_INT_EQ(waitset_start(ws, fx.base, 10 * SEC, &fx.lim, on_end, &s, &err), 0);
	CHECK(waitset_starting(ws));
	waitset_stop(ws);
	CHECK(!waitset_starting(ws));
	CHECK_INT_EQ(waitset_error(ws, &err), -1);
	CHECK_INT_EQ(waitset_missing(ws), BIG - 1);
	run_turns(3);
	CHECK_INT_EQ(s.fired, 0);
	waitset_free(ws);
	teardown();
}

/* The answer due once the ids are checked: a timeout of 0, a deadline
 * that passed while checking (from the start, not from the end of the
 * check), a rule that holds already; max_waiters; and FIRST_COMPLETED
 * ending part-way through the registration. */
static void
test_start_answers(void)
{
	static struct future *fs[BIG];
	struct core_error err = { CORE_OK, "" };
	struct seen s = { 0 }, s2 = { 0 };
	struct waitset *ws, *w2;
	int rc;

	setup();
	for (int i = 0; i < BIG; i++)
		fs[i] = fut();
	set_result(fs[BIG - 1]);

	/* timeout 0: the state, not timed out, nothing registered. */
	ws = start_ids(WAITSET_ALL_COMPLETED, fs, BIG, 0, &s, &rc, &err);
	CHECK_INT_EQ(rc, 0);
	while (s.fired == 0 && waitset_starting(ws)) {
		CHECK_INT_EQ(waitset_count(), 0);
		run_turns(1);
	}
	CHECK(run_until_fired(&s, 1, 1000));
	CHECK(!waitset_ready(ws) && !waitset_timed_out(ws) && waitset_done(ws, BIG - 1));
	CHECK_INT_EQ(waitset_error(ws, &err), 0);
	waitset_free(ws);

	/* A 1 us deadline passes while checking: timed out, nothing
	 * registered. */
	memset(&s, 0, sizeof(s));
	ws = start_ids(WAITSET_ALL_COMPLETED, fs, BIG, 1, &s, &rc, &err);
	CHECK_INT_EQ(rc, 0);
	while (s.fired == 0 && waitset_starting(ws)) {
		CHECK_INT_EQ(waitset_count(), 0);
		run_turns(1);
	}
	CHECK(run_until_fired(&s, 1, 1000));
	CHECK(waitset_timed_out(ws) && !waitset_ready(ws));
	waitset_free(ws);

	/* FIRST_COMPLETED with one done already: the answer, no waiter. */
	memset(&s, 0, sizeof(s));
	ws = start_ids(WAITSET_FIRST_COMPLETED, fs, BIG, 10 * SEC, &s, &rc, &err);
	CHECK_INT_EQ(rc, 0);
	CHECK(run_until_fired(&s, 1, 1000));
	CHECK(waitset_ready(ws) && !waitset_timed_out(ws));
	CHECK_INT_EQ(waitset_count(), 0);
	waitset_free(ws);

	/* FIRST_COMPLETED, one settled while registering: it ends then. */
	memset(&s, 0, sizeof(s));
	ws = start_ids(WAITSET_FIRST_COMPLETED, fs, BIG - 1, 10 * SEC, &s, &rc, &err);
	while (waitset_starting(ws) && waitset_count() == 0)
		run_turns(1);
	CHECK(waitset_starting(ws));
	set_result(fs[BIG - 2]);	/* not registered yet: found done */
	CHECK(run_until_fired(&s, 1, 1000));
	CHECK(waitset_ready(ws) && waitset_done(ws, BIG - 2) && !waitset_done(ws, 0));
	CHECK_INT_EQ(waitset_count(), 0);
	waitset_free(ws);

	/* max_waiters: refused once checked. */
	fx.lim.max_waiters = 1;
	memset(&s, 0, sizeof(s));
	w2 = start(WAITSET_ALL_COMPLETED, fs, 1, 10 * SEC, &s2, &rc);
	CHECK_INT_EQ(rc, 0);
	ws = start_ids(WAITSET_ALL_COMPLETED, fs, BIG - 2, 10 * SEC, &s, &rc, &err);
	CHECK_INT_EQ(rc, 0);
	CHECK(run_until_fired(&s, 1, 1000));
	CHECK_INT_EQ(waitset_error(ws, &err), -1);
	CHECK_INT_EQ(err.code, CORE_EFULL);
	CHECK_STR_EQ(err.msg, "too many waiters (max_waiters = 1)");
	CHECK_INT_EQ(waitset_count(), 1);
	waitset_free(ws);
	waitset_free(w2);
	teardown();
}

/* A waitset dropped (the client hung up) or stopped while starting
 * leaves nothing behind: no waiter, no slice, no call. */
static void
test_start_dropped(void)
{
	static struct future *fs[BIG];
	struct core_error err = { CORE_OK, "" };
	struct seen s[4];
	struct waitset *ws[4];
	int rc;

	setup();
	memset(s, 0, sizeof(s));
	for (int i = 0; i < BIG; i++)
		fs[i] = fut();
	for (int i = 0; i < 4; i++)
		ws[i] = start_ids(WAITSET_ALL_COMPLETED, fs, BIG, 50 * MS, &s[i], &rc, &err);
	waitset_free(ws[0]);			/* while checking */
	while (waitset_count() == 0)
		run_turns(1);
	waitset_free(ws[1]);			/* while registering */
	waitset_stop(ws[2]);
	CHECK(!waitset_starting(ws[2]) && !waitset_ready(ws[2]));
	CHECK_INT_EQ(waitset_error(ws[2], &err), 0);
	run_while_starting(ws[3], 1000);
	waitset_free(ws[3]);			/* waiting */
	CHECK_INT_EQ(waitset_count(), 0);
	for (int i = 0; i < BIG; i++)
		set_result(fs[i]);
	{
		struct seen never = { 0 };
		run_until_fired(&never, 1, 100);	/* past the deadlines */
	}
	for (int i = 0; i < 4; i++)
		CHECK_INT_EQ(s[i].fired, 0);
	waitset_free(ws[2]);
	teardown();
}

/* The end of a waitset of 10,000 (ready, or its deadline) drops its
 * waiters and looks at its futures a slice a turn too, timers running
 * between; what it found is what the encoder reports; a waitset dropped
 * while ending leaves nothing behind. */
static void
test_end_slices(void)
{
	static struct future *fs[BIG];
	struct core_error err = { CORE_OK, "" };
	struct seen s = { 0 }, s2 = { 0 };
	struct waitset *ws, *w2;
	int rc, turns = 0, ticks0, done = 0;

	setup();
	for (int i = 0; i < BIG; i++)
		fs[i] = fut();
	tick_start();
	ws = start_ids(WAITSET_ALL_COMPLETED, fs, BIG, 40 * MS, &s, &rc, &err);
	w2 = start_ids(WAITSET_ALL_COMPLETED, fs, BIG, 60 * SEC, &s2, &rc, &err);
	run_while_starting(ws, 1000);
	run_while_starting(w2, 1000);
	for (int i = 0; i < BIG; i += 2)
		set_result(fs[i]);
	run_turns(1);
	/* The deadline passes: the end takes turns, the ticker runs on each. */
	while (s.fired == 0 && turns < 100000) {
		ticks0 = ticks;
		run_turns(1);
		if (ticks > ticks0)
			turns++;
	}
	CHECK_INT_EQ(s.fired, 1);
	CHECK(turns >= BIG / WAITSET_START_SLICE);
	CHECK(waitset_timed_out(ws) && !waitset_ready(ws));
	for (int i = 0; i < BIG; i++)
		done += waitset_done(ws, i) == !(i % 2);
	CHECK_INT_EQ(done, BIG);
	CHECK_INT_EQ(waitset_count(), 1);
	waitset_free(ws);

	/* Ready: every future settled; a settle while ending is harmless. */
	for (int i = 1; i < BIG - 1; i += 2)
		set_result(fs[i]);
	for (turns = 0; waitset_count() == 1 && turns < 1000 && s2.fired == 0; turns++)
		run_turns(1);
	CHECK_INT_EQ(s2.fired, 0);		/* one is pending */
	set_result(fs[BIG - 1]);
	run_turns(2);				/* woken: ending */
	CHECK_INT_EQ(s2.fired, 0);
	CHECK(run_until_fired(&s2, 1, 5000));
	CHECK(waitset_ready(w2) && !waitset_timed_out(w2) && waitset_done(w2, BIG - 1));
	CHECK_INT_EQ(waitset_count(), 0);
	waitset_free(w2);

	/* Dropped while ending. */
	memset(&s, 0, sizeof(s));
	for (int i = 0; i < BIG; i++)
		fs[i] = fut();
	ws = start_ids(WAITSET_FIRST_COMPLETED, fs, BIG, 60 * SEC, &s, &rc, &err);
	run_while_starting(ws, 1000);
	set_result(fs[0]);
	run_turns(2);
	CHECK(s.fired == 0 && waitset_count() == 1);
	waitset_free(ws);
	CHECK_INT_EQ(waitset_count(), 0);
	run_turns(30);
	CHECK_INT_EQ(s.fired, 0);
	for (int i = 1; i < BIG; i++)
		future_cancel(fs[i]);
	event_free(tick_ev);
	teardown();
}

/* Milliseconds of this process's CPU time since t0 (taken with
 * CLOCK_PROCESS_CPUTIME_ID): the bounds below are about the work done, and
 * the wall clock would also count the time other processes had the CPU on
 * a loaded machine. */
static double
ms_since(const struct timespec *t0)
{
	struct timespec t1;

	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t1);
	return (double)(t1.tv_sec - t0->tv_sec) * 1e3 + (double)(t1.tv_nsec - t0->tv_nsec) / 1e6;
}

/* Three waitsets of 10,000 futures while each future is settled on a
 * turn of its own: each settle costs each waitset a counter, so the
 * whole run takes milliseconds (rescans took 3 x 10,000 x 10,000 looks). */
static void
test_scale(void)
{
	static struct future *fs[BIG];
	struct seen s[3];
	struct waitset *ws[3];
	struct timespec t0;
	double first_ms = 0, start_ms, settle_ms;
	struct core_error err = { CORE_OK, "" };
	int bad = 0;
	int rc;

	setup();
	memset(s, 0, sizeof(s));
	for (int i = 0; i < BIG; i++)
		fs[i] = fut();
	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t0);
	for (int i = 0; i < 3; i++) {
		ws[i] = waitset_new(WAITSET_ALL_COMPLETED, BIG);
		for (int j = 0; j < BIG; j++)
			waitset_add(ws[i], fs[j]);
		rc = waitset_start(ws[i], fx.base, 60 * SEC, &fx.lim, on_end, &s[i], &err);
		if (i == 0)
			first_ms = ms_since(&t0);
		CHECK_INT_EQ(rc, 0);
	}
	start_ms = ms_since(&t0) / 3;
	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t0);
	for (int i = 0; i < BIG; i++) {
		bad += future_set_result(fs[i], strdup("1"), &err) != 0;
		event_base_loop(fx.base, EVLOOP_NONBLOCK);
	}
	CHECK(run_until_fired(&s[2], 1, 5000));
	settle_ms = ms_since(&t0);
	CHECK(s[0].fired == 1 && s[1].fired == 1);
	CHECK_INT_EQ(bad, 0);
	printf("waitset: start of %d futures %.2f ms (first %.2f); %d settles with 3 "
	    "waiting %.1f ms (CPU time)\n", BIG, start_ms, first_ms, BIG, settle_ms);
	/* Generous bounds (sanitizers, a loaded machine): rescans take
	 * seconds here. */
	CHECK(start_ms < 50);
	CHECK(settle_ms < 1000);
	for (int i = 0; i < 3; i++)
		waitset_free(ws[i]);
	teardown();
}

int
main(void)
{
	test_long_poll();
	test_deadline();
	test_wait_rules();
	test_gather();
	test_cancellation();
	test_max_waiters();
	test_order();
	test_durability();
	test_commit_slices();
	test_start_slices();
	test_start_unknown();
	test_start_answers();
	test_start_dropped();
	test_end_slices();
	test_scale();
	return check_summary();
}
