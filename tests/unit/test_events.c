/*
 * Unit tests for daemon/core/events: the hooks in the core emit one event
 * per transition; events wait for the store's commit (a fake durability
 * hook) and are published in order; a failed commit publishes nothing
 * and an object it dropped is marked gone; where a reader goes on
 * (events_since): nothing seen, caught up, behind but in the ring, past
 * the ring, an id from an earlier run or a later one.
 */
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "daemon/core/clock.h"
#include "daemon/core/events.h"
#include "daemon/core/future.h"
#include "daemon/core/sched.h"
#include "tests/unit/check.h"
#include "tests/unit/evbase.h"

#define FIRST 1000000
#define CAP 8

static struct {
	struct event_base *base;
	uint64_t pending;		/* the fake store's next commit (0: durable) */
	int woken;			/* listener calls */
} fx;

static void
no_start(void *arg, struct future *c)
{
}

static uint64_t
fake_pending(void)
{
	return fx.pending;
}

static void
listener(void *arg)
{
	fx.woken++;
}

/* The kind of the published event seq, or -1. */
static int
kind_of(uint64_t seq)
{
	const struct events_event *e = events_get(seq);

	return e ? e->kind : -1;
}

static void
test_hooks_and_durability(void)
{
	struct core_error err = { CORE_OK, "" };
	struct future *f;
	uint64_t next;

	fx.pending = 7;
	f = future_new(NULL, 0, &err);
	if (!CHECK(f != NULL))
		return;
	CHECK_INT_EQ(events_next_seq(), FIRST);	/* waits for commit 7 */
	CHECK(events_get(FIRST) == NULL);
	CHECK_INT_EQ(fx.woken, 0);
	events_commit_done(1, 6);
	CHECK_INT_EQ(events_next_seq(), FIRST);
	events_commit_done(1, 7);
	CHECK_INT_EQ(events_next_seq(), FIRST + 1);
	CHECK_INT_EQ(kind_of(FIRST), EVENTS_FUTURE_CREATED);
	CHECK_INT_EQ(events_get(FIRST)->id, f->id);
	CHECK_INT_EQ(fx.woken, 1);

	fx.pending = 8;
	CHECK_INT_EQ(future_set_result(f, strdup("1"), &err), 0);
	fx.pending = 9;
	CHECK_INT_EQ(future_cancel(future_new(NULL, 0, &err)), 1);
	/* A failed commit publishes nothing; the retry does. */
	events_commit_done(0, 8);
	CHECK_INT_EQ(events_next_seq(), FIRST + 1);
	events_commit_done(1, 9);
	CHECK_INT_EQ(events_next_seq(), FIRST + 4);
	CHECK_INT_EQ(kind_of(FIRST + 1), EVENTS_FUTURE_SETTLED);
	CHECK_INT_EQ(events_get(FIRST + 1)->state, FUTURE_FINISHED);
	CHECK_INT_EQ(kind_of(FIRST + 2), EVENTS_FUTURE_CREATED);
	CHECK_INT_EQ(kind_of(FIRST + 3), EVENTS_FUTURE_SETTLED);
	CHECK_INT_EQ(events_get(FIRST + 3)->state, FUTURE_CANCELLED);
	CHECK(!events_get(FIRST + 3)->gone);

	/* Nothing to wait for: published at once. */
	fx.pending = 0;
	events_emit_id(EVENTS_SCHEDULE_CHANGED, 42);
	CHECK_INT_EQ(events_next_seq(), FIRST + 5);
	CHECK_INT_EQ(events_get(FIRST + 4)->id, 42);

	/* Where readers go on. */
	CHECK_INT_EQ(events_since(0, &next), 0);
	CHECK_INT_EQ(next, FIRST + 5);
	CHECK_INT_EQ(events_since(FIRST + 4, &next), 0);
	CHECK_INT_EQ(next, FIRST + 5);
	CHECK_INT_EQ(events_since(FIRST + 1, &next), 0);
	CHECK_INT_EQ(next, FIRST + 2);
	CHECK_INT_EQ(events_since(FIRST - 1, &next), 0);	/* saw the hello only */
	CHECK_INT_EQ(next, FIRST);
	CHECK_INT_EQ(events_since(17, &next), -1);		/* an earlier run */
	CHECK_INT_EQ(next, FIRST + 5);
	CHECK_INT_EQ(events_since(FIRST + 100, &next), -1);	/* never given */

	/* Past the ring: the oldest are gone. */
	for (int i = 0; i < CAP; i++)
		events_emit_id(EVENTS_SCHEDULE_CHANGED, (uint64_t)i);
	CHECK_INT_EQ(events_next_seq(), FIRST + 5 + CAP);
	CHECK(events_get(FIRST + 4) == NULL);
	CHECK(events_get(FIRST + 5) != NULL);
	CHECK_INT_EQ(events_since(FIRST + 2, &next), -1);
	CHECK_INT_EQ(events_since(FIRST + 4, &next), 0);
	CHECK_INT_EQ(next, FIRST + 5);
}

/* A call's life: created, started, finished - and cancelled. */
static void
test_call_events(void)
{
	struct core_error err = { CORE_OK, "" };
	struct sched_call_params p = { 0 };
	struct future *c;
	uint64_t start = events_next_seq();
	int existed;

	p.trigger = TRIGGER_AFTER;
	p.when = 3600 * CLOCK_US_PER_S;
	p.spec = strdup("{}");
	c = sched_call(&p, &existed, &err);
	free(p.spec);
	if (!CHECK(c != NULL)) {
		fprintf(stderr, "sched_call: %s\n", err.msg);
		return;
	}
	CHECK_INT_EQ(kind_of(start), EVENTS_CALL_CREATED);
	CHECK_INT_EQ(events_get(start)->phase, CALL_SCHEDULED);
	sched_started(c);
	CHECK_INT_EQ(kind_of(start + 1), EVENTS_CALL_STARTED);
	CHECK_INT_EQ(events_get(start + 1)->attempts, 1);
	sched_finish(c, strdup("{\"exit_code\":1}"), 1);
	CHECK_INT_EQ(kind_of(start + 2), EVENTS_CALL_FINISHED);
	CHECK_INT_EQ(events_get(start + 2)->has_exception, 1);
	p.spec = strdup("{}");
	c = sched_call(&p, &existed, &err);
	free(p.spec);
	if (!CHECK(c != NULL)) {
		fprintf(stderr, "sched_call: %s\n", err.msg);
		return;
	}
	CHECK_INT_EQ(sched_cancel(c), 1);
	CHECK_INT_EQ(kind_of(start + 4), EVENTS_CALL_CANCELLED);
	CHECK_STR_EQ(events_kind_name(EVENTS_CALL_CANCELLED), "call.cancelled");
}

int
main(void)
{
	struct future_limits fl = { 0, 3600 * CLOCK_US_PER_S, 0 };
	struct sched_actions ops = { .start = no_start };

	if ((fx.base = evbase_new(0)) == NULL)
		return 2;
	clock_start(-1, 0);
	if (future_init(fx.base, &fl) == -1 || sched_init(fx.base, &ops, 86400 * CLOCK_US_PER_S) == -1 ||
	    events_init(CAP, FIRST) == -1)
		return 2;
	events_set_durability(fake_pending);
	events_set_listener(listener, NULL);
	test_hooks_and_durability();
	test_call_events();
	events_shutdown();
	sched_shutdown();
	future_shutdown();
	event_base_free(fx.base);
	return check_summary();
}
