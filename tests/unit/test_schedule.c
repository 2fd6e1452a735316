/*
 * Unit tests for daemon/core/schedule, driven directly on a libevent loop
 * with a fake action layer (as test_sched.c): occurrences as calls, the
 * overlap gate, catch-up after downtime, a mark in the future, jitter,
 * pause/resume, limits, and fire times across daylight saving with the
 * system's zone files (through recur/).
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/event.h>

#include "daemon/core/clock.h"
#include "daemon/core/future.h"
#include "daemon/core/sched.h"
#include "daemon/core/schedule.h"
#include "tests/unit/check.h"
#include "tests/unit/evbase.h"

#define MS 1000LL
#define SEC CLOCK_US_PER_S
#define MAX_LOG 256

static struct {
	struct event_base *base;
	struct event *guard;
	int hold;			/* leave started calls running */
	struct future *started[MAX_LOG];
	size_t n;
} fx;

static void
fake_start(void *arg, struct future *c)
{
	sched_started(c);
	if (fx.n < MAX_LOG)
		fx.started[fx.n++] = c;
	if (!fx.hold)
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
	return 1;
}

static void
guard_cb(evutil_socket_t fd, short what, void *arg)
{
}

/* A fresh core with schedules. */
static void
setup(void)
{
	struct future_limits fl = { 0, 3600 * SEC, 0 };
	struct schedule_limits sl = { 4, 1 * SEC };
	struct sched_actions ops = {
		.start = fake_start, .abort = fake_abort, .interrupted = fake_interrupted,
	};

	memset(&fx, 0, sizeof(fx));
	if ((fx.base = evbase_new(0)) == NULL)
		exit(2);
	clock_start(-1, 0);
	if (future_init(fx.base, &fl) == -1 || schedule_init(NULL, &sl) == -1 ||
	    sched_init(fx.base, &ops, 3653 * 86400 * SEC) == -1 ||
	    (fx.guard = evtimer_new(fx.base, guard_cb, NULL)) == NULL)
		exit(2);
	sched_recover(0);
	schedule_recover();
}

static void
teardown(void)
{
	event_free(fx.guard);
	schedule_shutdown();
	sched_shutdown();
	future_shutdown();
	event_base_free(fx.base);
}

/* Run the loop for ms milliseconds. */
static void
run_for(int64_t ms)
{
	int64_t deadline = clock_loop_now() + ms * MS, left;

	while ((left = deadline - clock_loop_now()) > 0) {
		struct timeval tv = clock_timeval(left);

		evtimer_add(fx.guard, &tv);
		event_base_loop(fx.base, EVLOOP_ONCE);
	}
	evtimer_del(fx.guard);
}

/* Run the loop until n calls have started, or ms milliseconds pass (a
 * loaded machine needs more than the usual few). */
static void
run_until_started(size_t n, int64_t ms)
{
	int64_t deadline = clock_loop_now() + ms * MS;

	while (fx.n < n && clock_loop_now() < deadline)
		run_for(5);
}

/* Parameters of a command schedule of kind on spec. */
static struct schedule_params
params(enum recur_kind kind, const char *spec, const char *tz)
{
	struct schedule_params p = {
		.kind = kind, .spec = spec, .tz = tz, .name = "s",
		.action = strdup("{\"command\":{\"argv\":[\"true\"]}}"),
		.catchup_window = -1,
	};
	return p;
}

/* Create a schedule that must be accepted. */
static struct schedule *
make(struct schedule_params *p)
{
	struct core_error err = { CORE_OK, "" };
	struct schedule *s = schedule_create(p, &err);

	if (!CHECK(s != NULL))
		fprintf(stderr, "  %s\n", err.msg);
	free(p->action);
	return s;
}

/* The calls of schedule id, in id order, into v; returns how many. */
static size_t
calls_of(uint64_t id, struct future **v, size_t max)
{
	size_t n = 0;

	for (struct future *f = future_first_after(0); f != NULL; f = future_next(f))
		if (future_schedule(f) == id && n < max)
			v[n++] = f;
	return n;
}

static void
test_every_makes_calls(void)
{
	struct schedule_params p = params(RECUR_EVERY, "1", NULL);
	struct future *v[16];
	struct schedule *s;
	size_t n;

	setup();
	s = make(&p);
	if (s == NULL)
		return teardown();
	/* One call made ahead, for the next whole second. */
	CHECK_INT_EQ(calls_of(s->id, v, 16), 1);
	CHECK(future_scheduled_for(v[0]) % SEC == 0);
	CHECK(v[0]->trigger == TRIGGER_AT_UNIX && v[0]->due_unix == future_scheduled_for(v[0]));
	run_for(2300);
	n = calls_of(s->id, v, 16);
	CHECK(fx.n >= 2);
	/* Consecutive seconds, each once; the one ahead is pending. */
	for (size_t i = 1; i < n; i++)
		CHECK_INT_EQ(future_scheduled_for(v[i]) - future_scheduled_for(v[i - 1]), SEC);
	CHECK(!future_done(v[n - 1]) && v[n - 1]->started == 0);
	CHECK_INT_EQ(s->mark, future_scheduled_for(v[n - 1]));
	teardown();
}

static void
test_bad_specs(void)
{
	struct core_error err = { CORE_OK, "" };
	struct schedule_params p;

	setup();
	p = params(RECUR_CRON, "* * * * *", "Nowhere/Atlantis");
	CHECK(schedule_create(&p, &err) == NULL && strncmp(err.msg, "tz:", 3) == 0);
	free(p.action);
	p = params(RECUR_CRON, "0 0 30 2 *", NULL);
	err = (struct core_error){ CORE_OK, "" };
	CHECK(schedule_create(&p, &err) == NULL && strstr(err.msg, "never") != NULL);
	free(p.action);
	p = params(RECUR_EVERY, "500ms", NULL);
	err = (struct core_error){ CORE_OK, "" };
	CHECK(schedule_create(&p, &err) == NULL && strstr(err.msg, "minimum") != NULL);
	free(p.action);
	p = params(RECUR_CALENDAR, "bogus", NULL);
	err = (struct core_error){ CORE_OK, "" };
	CHECK(schedule_create(&p, &err) == NULL && strncmp(err.msg, "calendar:", 9) == 0);
	free(p.action);
	/* The cap (4). */
	for (int i = 0; i < 4; i++) {
		p = params(RECUR_EVERY, "3600", NULL);
		make(&p);
	}
	p = params(RECUR_EVERY, "3600", NULL);
	err = (struct core_error){ CORE_OK, "" };
	CHECK(schedule_create(&p, &err) == NULL && err.code == CORE_EFULL);
	free(p.action);
	teardown();
}

static void
test_dst_berlin(void)
{
	struct schedule_params p = params(RECUR_CRON, "30 2 * * *", "Europe/Berlin");
	struct schedule *s;
	int64_t t[3];

	setup();
	p.start = 1806062400LL * SEC;		/* 2027-03-26T12:00:00Z */
	if ((s = make(&p)) == NULL)
		return teardown();
	CHECK_INT_EQ(schedule_next_times(s, p.start, t, 3), 3);
	CHECK_INT_EQ(t[0], 1806111000LL * SEC);	/* 27th 02:30 CET */
	CHECK_INT_EQ(t[1], 1806195600LL * SEC);	/* 28th: the gap ends at 03:00 CEST */
	CHECK_INT_EQ(t[2], 1806280200LL * SEC);	/* 29th 02:30 CEST */
	CHECK_INT_EQ(schedule_utoff(s, t[1]), 7200);
	/* Fall back: 02:30 happens twice on 2027-10-31; the first pass. */
	CHECK_INT_EQ(schedule_next_times(s, 1824897600LL * SEC, t, 2), 2);
	CHECK_INT_EQ(t[0], 1824942600LL * SEC);	/* 00:30Z, +02:00 */
	CHECK_INT_EQ(t[1], 1825032600LL * SEC);	/* Nov 1st 01:30Z, +01:00 */
	teardown();
}

static void
test_overlap_skip_and_buffer(void)
{
	struct schedule_params p = params(RECUR_EVERY, "1", NULL);
	struct future *v[16];
	struct schedule *s;
	size_t n;

	setup();
	fx.hold = 1;
	if ((s = make(&p)) == NULL)
		return teardown();
	run_for(2300);
	/* The first runs on; the next one(s) were skipped, ended cancelled. */
	CHECK_INT_EQ(fx.n, 1);
	n = calls_of(s->id, v, 16);
	CHECK(n >= 3);
	CHECK(v[1]->state == FUTURE_CANCELLED && v[1]->started == 0);
	sched_finish(fx.started[0], strdup("{}"), 0);
	teardown();

	setup();
	fx.hold = 1;
	p = params(RECUR_EVERY, "1", NULL);
	p.overlap = OVERLAP_BUFFER_ONE;
	if ((s = make(&p)) == NULL)
		return teardown();
	run_for(3300);
	CHECK_INT_EQ(fx.n, 1);
	n = calls_of(s->id, v, 16);
	/* One waits for the running one (its done-callback), later ones
	 * are dropped. */
	CHECK(v[1]->phase == CALL_WAITING && future_target(v[1]) == v[0]->id);
	CHECK(n >= 4 && v[2]->state == FUTURE_CANCELLED);
	sched_finish(fx.started[0], strdup("{}"), 0);
	run_for(50);
	CHECK_INT_EQ(fx.n, 2);
	CHECK(fx.n == 2 && fx.started[1] == v[1]);
	sched_finish(fx.started[1], strdup("{}"), 0);
	teardown();
}

static void
test_catchup_after_downtime(void)
{
	struct core_error err = { CORE_OK, "" };
	struct schedule_params p;
	struct future *v[64];
	struct schedule *s;
	int64_t now;
	size_t n;

	for (int policy = CATCHUP_SKIP; policy <= CATCHUP_ALL; policy++) {
		setup();
		now = clock_unix_now();
		p = params(RECUR_EVERY, "1", NULL);
		p.catchup = (enum schedule_catchup)policy;
		p.catchup_window = 0;
		/* As loaded from the store: evaluated up to 10 s ago. */
		s = schedule_restore(future_peek_next_id(), SCHEDULE_ACTIVE, &p, now - 20 * SEC,
		    now - 10 * SEC, 5, &err);
		free(p.action);
		if (!CHECK(s != NULL))
			return teardown();
		schedule_recover();
		n = calls_of(s->id, v, 64);
		/* skip: only the next one; latest: one more; all: ~10 more,
		 * chained one after another. */
		if (policy == CATCHUP_SKIP)
			CHECK_INT_EQ(n, 1);
		else if (policy == CATCHUP_LATEST)
			CHECK_INT_EQ(n, 2);
		else {
			CHECK(n >= 10 && n <= 12);
			for (size_t i = 1; i + 1 < n; i++)
				CHECK(v[i]->trigger == TRIGGER_ON_DONE &&
				    future_target(v[i]) == v[i - 1]->id);
		}
		CHECK(s->mark > now);
		run_until_started(n - 1, 2000);
		CHECK_INT_EQ(fx.n, n - 1);
		teardown();
	}
}

static void
test_mark_in_future(void)
{
	struct core_error err = { CORE_OK, "" };
	struct schedule_params p;
	struct future *v[4];
	struct schedule *s;
	int64_t now;

	setup();
	now = clock_unix_now();
	p = params(RECUR_EVERY, "60", NULL);
	/* The clock was set back an hour: the mark is not trusted. */
	s = schedule_restore(future_peek_next_id(), SCHEDULE_ACTIVE, &p, now, now + 3600 * SEC,
	    1, &err);
	free(p.action);
	if (!CHECK(s != NULL))
		return teardown();
	schedule_recover();
	CHECK_INT_EQ(calls_of(s->id, v, 4), 1);
	CHECK(future_scheduled_for(v[0]) > now && future_scheduled_for(v[0]) <= now + 60 * SEC);
	teardown();
}

static void
test_jitter_pause_resume(void)
{
	struct core_error err = { CORE_OK, "" };
	struct schedule_params p = params(RECUR_EVERY, "10", NULL);
	struct future *v[8];
	struct schedule *s;
	int64_t delay;

	setup();
	p.jitter = 60 * SEC;		/* capped below the next occurrence */
	if ((s = make(&p)) == NULL)
		return teardown();
	CHECK_INT_EQ(calls_of(s->id, v, 8), 1);
	delay = v[0]->due_unix - future_scheduled_for(v[0]);
	CHECK(delay >= 0 && delay < 10 * SEC);
	CHECK(schedule_pause(s, &err) == 0 && v[0]->state == FUTURE_CANCELLED);
	CHECK(schedule_pause(s, &err) == -1 && err.code == CORE_ESTATE);
	err = (struct core_error){ CORE_OK, "" };
	CHECK(schedule_resume(s, &err) == 0);
	CHECK_INT_EQ(calls_of(s->id, v, 8), 2);
	CHECK(!future_done(v[1]) && future_scheduled_for(v[1]) > future_scheduled_for(v[0]));
	/* The same schedule and time always get the same delay. */
	{
		int64_t d1 = v[1]->due_unix - future_scheduled_for(v[1]);
		CHECK(d1 >= 0 && d1 < 10 * SEC);
	}
	CHECK(schedule_trigger(s, &err) != NULL);
	CHECK_INT_EQ(calls_of(s->id, v, 8), 3);
	schedule_delete(s);
	CHECK(v[1]->state == FUTURE_CANCELLED);
	teardown();
}

/* Process CPU time, microseconds (a loaded machine does not count). */
static int64_t
cpu_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return (int64_t)ts.tv_sec * SEC + ts.tv_nsec / 1000;
}

/* One call per (schedule, nominal time), whoever makes it: the core
 * refuses a second (the store's UNIQUE index would fault the store), and
 * a catch-up skips the times a backfill made (it made them again, a
 * UNIQUE conflict in the store). Trigger and backfill find a schedule's
 * calls by the occurrence index, not by a pass over every object. */
static void
test_one_call_per_occurrence(void)
{
	struct core_error err = { CORE_OK, "" };
	struct schedule_params p;
	struct future *v[256], *c;
	struct schedule *s;
	int64_t now, mark, t0, took;
	size_t n;
	int existed;

	setup();
	now = clock_unix_now();
	mark = (now / SEC - 150) * SEC;
	p = params(RECUR_EVERY, "1", NULL);
	p.catchup = CATCHUP_ALL;
	p.catchup_window = 3600 * SEC;
	s = schedule_restore(future_peek_next_id(), SCHEDULE_PAUSED, &p, mark, mark, 1, &err);
	free(p.action);
	if (!CHECK(s != NULL))
		return teardown();
	schedule_recover();
	/* 200,000 other objects: a pass over them all per nominal time
	 * took 200-500 ms of CPU for a backfill of 100. */
	for (int i = 0; i < 200000; i++)
		if (future_new(NULL, 0, &err) == NULL)
			break;
	t0 = cpu_us();
	CHECK_INT_EQ(schedule_backfill(s, mark + SEC, mark + 100 * SEC, &err), 100);
	CHECK(schedule_trigger(s, &err) != NULL);
	took = cpu_us() - t0;
	if (!CHECK(took < 20000))
		fprintf(stderr, "  backfill and trigger took %lld us of CPU\n", (long long)took);
	/* The core refuses a second call for a nominal time. */
	{
		struct sched_call_params cp = {
			.trigger = TRIGGER_SOON, .spec = strdup("{}"),
			.schedule = s->id, .scheduled_for = mark + 5 * SEC,
		};
		err = (struct core_error){ CORE_OK, "" };
		c = sched_call(&cp, &existed, &err);
		CHECK(c == NULL && err.code == CORE_ESTATE);
		free(cp.spec);
	}
	/* Resumed with catchup all: the missed times the backfill made are
	 * not made again. */
	err = (struct core_error){ CORE_OK, "" };
	CHECK(schedule_resume(s, &err) == 0);
	n = calls_of(s->id, v, 256);
	CHECK(n > 150);
	for (size_t i = 0; i < n; i++)
		for (size_t j = i + 1; j < n; j++)
			if (!CHECK(future_scheduled_for(v[i]) != future_scheduled_for(v[j])))
				fprintf(stderr, "  %lld made twice\n",
				    (long long)future_scheduled_for(v[i]));
	teardown();
}

/* The store's fake commit number for what changed (test_failed_commit). */
static uint64_t fake_seq;

static uint64_t
fake_pending(void)
{
	return fake_seq;
}

/* A failed commit: a schedule created in it is undone (its 201 became a
 * 503); one created in a commit that succeeded is kept; a stored
 * schedule whose call made ahead the store dropped (never stored) makes
 * it again for the same nominal time. */
static void
test_failed_commit(void)
{
	struct schedule_params p = params(RECUR_EVERY, "10", NULL);
	struct schedule *a, *b;
	struct future *v[16], *c;
	uint64_t ida, idb;
	int64_t nominal;
	uint64_t fired;

	setup();
	schedule_set_durability(fake_pending);
	fake_seq = 7;
	a = make(&p);
	p = params(RECUR_EVERY, "10", NULL);
	fake_seq = 8;
	b = make(&p);
	if (a == NULL || b == NULL)
		return teardown();
	ida = a->id;
	idb = b->id;
	schedule_commit_done(1, 7);		/* a stored */
	CHECK(schedule_find(ida) == a);
	/* b's commit fails: its call made ahead was dropped by the store. */
	if (CHECK_INT_EQ(calls_of(idb, v, 16), 1))
		future_drop(v[0]);
	schedule_commit_done(0, 8);
	CHECK(schedule_find(idb) == NULL);
	CHECK_INT_EQ(schedule_count(), 1);
	run_for(20);
	CHECK_INT_EQ(calls_of(idb, v, 16), 0);
	/* a's call made ahead dropped by a later failed commit: made again
	 * for the same nominal time, not skipped. */
	if (!CHECK_INT_EQ(calls_of(ida, v, 16), 1))
		return teardown();
	nominal = future_scheduled_for(v[0]);
	fired = a->fired;
	future_drop(v[0]);
	run_for(20);
	if (CHECK_INT_EQ(calls_of(ida, v, 16), 1)) {
		c = v[0];
		CHECK_INT_EQ(future_scheduled_for(c), nominal);
		CHECK(!future_done(c) && a->pending == c->id);
		CHECK_INT_EQ(a->fired, fired);
		CHECK_INT_EQ(a->mark, nominal);
	}
	schedule_set_durability(NULL);
	teardown();
}

int
main(void)
{
	test_every_makes_calls();
	test_bad_specs();
	test_dst_berlin();
	test_overlap_skip_and_buffer();
	test_catchup_after_downtime();
	test_mark_in_future();
	test_jitter_pause_resume();
	test_failed_commit();
	test_one_call_per_occurrence();
	return check_summary();
}
