/*
 * Unit tests for the store's rows (daemon/store/store.c) in a temporary state
 * directory: a call row with every column set to something other than
 * its default, a plain future, and a schedule row with every column set,
 * written, the store closed and the core shut down, then the store opened
 * again and loaded into a fresh core: every column comes back as it went.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

#include "daemon/core/clock.h"
#include "daemon/core/future.h"
#include "daemon/core/sched.h"
#include "daemon/core/schedule.h"
#include "daemon/store/store.h"
#include "tests/unit/check.h"
#include "tests/unit/evbase.h"

#define SEC 1000000LL
#define CALL_ID 0x100001ULL
#define PLAIN_ID 0x100002ULL

static struct event_base *base;
static int64_t sched_start;	/* a day from now, whole seconds (Unix µs) */
static int64_t plain_created, plain_due;
static char dir[] = "/tmp/loopd-test-store-XXXXXX";

/* sched_actions: nothing starts here (the pending objects are not due). */
static void
fake_start(void *arg, struct future *c)
{
}

/* sched_actions.abort */
static void
fake_abort(void *arg, struct future *c)
{
}

/* sched_actions.interrupted: finish it. */
static int
fake_interrupted(void *arg, struct future *c)
{
	return 0;
}

/* store_commit_fn */
static void
commit_cb(int ok, uint64_t seq, void *arg)
{
}

/* The daemon's start-up order (daemon/main.c): open, resume the clock,
 * the core, load, start writing, recover. Returns what store_load said. */
static long
up(void)
{
	struct clock_anchor anchor;
	struct future_limits fl = { 0, 3600 * SEC, 0 };
	struct schedule_limits sl = { 0, 1 * SEC };
	struct sched_actions ops = {
		.start = fake_start, .abort = fake_abort, .interrupted = fake_interrupted,
	};
	long n;

	if (store_open(dir, &anchor) == -1 || (base = evbase_new(2)) == NULL)
		exit(2);
	clock_resume(&anchor);
	if (future_init(base, &fl) == -1 || schedule_init(NULL, &sl) == -1)
		exit(2);
	n = store_load();
	if (sched_init(base, &ops, 3653 * 86400 * SEC) == -1 ||
	    store_start(base, commit_cb, NULL) == -1)
		exit(2);
	sched_recover(store_lease_end());
	schedule_recover();
	return n;
}

/* Close the store (its final commit) and shut the core down. */
static void
down(void)
{
	store_close();
	schedule_shutdown();
	sched_shutdown();
	future_shutdown();
	event_base_free(base);
}

/* The schedule's definition: every field other than its default. */
static struct schedule_params
sched_params(void)
{
	struct schedule_params p = {
		.kind = RECUR_CRON, .spec = "15 4 * * 1-5", .tz = "Europe/Paris",
		.name = "nightly", .action = strdup("{\"command\":{\"argv\":[\"true\"]}}"),
		.start = sched_start, .end = sched_start + 365 * 86400 * SEC, .count = 42,
		.catchup = CATCHUP_ALL, .catchup_window = 3600 * SEC,
		.overlap = OVERLAP_BUFFER_ALL, .pause_on_failure = 1, .jitter = 7 * SEC,
	};
	return p;
}

/* Write the objects; returns the schedule's id. */
static uint64_t
write_objects(void)
{
	struct schedule_params p = sched_params();
	struct core_error err = { CORE_OK, "" };
	struct schedule *s;
	struct future t, *f;
	struct future_ext tx;
	uint64_t sid;

	CHECK_INT_EQ(up(), 0);
	if (!CHECK((s = schedule_create(&p, &err)) != NULL)) {
		fprintf(stderr, "  %s\n", err.msg);
		exit(1);
	}
	CHECK_INT_EQ(schedule_pause(s, &err), 0);
	sid = s->id;

	/* A finished call: every column of its row set. */
	memset(&t, 0, sizeof(t));
	memset(&tx, 0, sizeof(tx));
	t.id = CALL_ID;
	t.kind = FUTURE_CALL;
	t.state = FUTURE_FINISHED;
	t.phase = CALL_DONE;
	t.trigger = TRIGGER_AT_UNIX;
	t.has_exception = 1;
	t.late = 1;
	t.cancel_requested = 1;
	t.attempts = 3;
	t.created = 1111;
	t.finished = 5555;
	t.due = 2222;
	t.due_unix = 1700000000123456LL;
	t.started = 3333;
	t.spec = strdup("{\"command\":{\"argv\":[\"echo\",\"\\u00e9\"]}}");
	t.outcome = strdup("{\"type\":\"CommandFailed\",\"message\":\"exit 3\"}");
	tx.name = strdup("a name");
	tx.idem_key = strdup("key-1");
	tx.idem_digest = 0xfeedface12345678ULL;	/* past INT64_MAX */
	tx.target = 0x77;
	tx.target_kind = FUTURE_CALL;
	tx.schedule = sid;
	tx.scheduled_for = 1700000000LL * SEC;
	if (!CHECK((f = future_restore(&t, &tx)) != NULL))
		exit(1);
	/* Made here, not read from this store: written whole (a spec is
	 * written once, with the object's first row). */
	f->stored = 0;
	future_touch(f);

	/* A pending plain future with a deadline and a name. */
	memset(&t, 0, sizeof(t));
	memset(&tx, 0, sizeof(tx));
	t.id = PLAIN_ID;
	t.kind = FUTURE_PLAIN;
	t.state = FUTURE_PENDING;
	t.created = plain_created = clock_loop_now();
	t.due = plain_due = plain_created + 3600 * SEC;
	tx.name = strdup("plain");
	if (!CHECK((f = future_restore(&t, &tx)) != NULL))
		exit(1);
	f->stored = 0;
	future_touch(f);
	down();
	return sid;
}

/* Read them back into a fresh core: every column as written. */
static void
read_objects(uint64_t sid)
{
	struct schedule_params p = sched_params();
	struct schedule *s;
	struct future *f;
	long n = up();

	/* The two objects, the schedule, and the call it made ahead. */
	CHECK(n >= 3);
	if (CHECK((f = future_find(CALL_ID)) != NULL)) {
		char *tmp = NULL;
		const char *spec = future_spec(f, &tmp);

		CHECK_INT_EQ(f->kind, FUTURE_CALL);
		CHECK_INT_EQ(f->state, FUTURE_FINISHED);
		CHECK_INT_EQ(f->phase, CALL_DONE);
		CHECK_INT_EQ(f->trigger, TRIGGER_AT_UNIX);
		CHECK_INT_EQ(f->has_exception, 1);
		CHECK_INT_EQ(f->late, 1);
		CHECK_INT_EQ(f->cancel_requested, 1);
		CHECK_INT_EQ(f->attempts, 3);
		CHECK_INT_EQ(f->created, 1111);
		CHECK_INT_EQ(f->finished, 5555);
		CHECK_INT_EQ(f->due, 2222);
		CHECK_INT_EQ(f->due_unix, 1700000000123456LL);
		CHECK_INT_EQ(f->started, 3333);
		CHECK_STR_EQ(spec != NULL ? spec : "(null)",
		    "{\"command\":{\"argv\":[\"echo\",\"\\u00e9\"]}}");
		free(tmp);
		CHECK_STR_EQ(f->outcome != NULL ? f->outcome : "(null)",
		    "{\"type\":\"CommandFailed\",\"message\":\"exit 3\"}");
		if (CHECK(f->x != NULL)) {
			CHECK_STR_EQ(f->x->name != NULL ? f->x->name : "(null)", "a name");
			CHECK_STR_EQ(f->x->idem_key != NULL ? f->x->idem_key : "(null)",
			    "key-1");
			CHECK(f->x->idem_digest == 0xfeedface12345678ULL);
			CHECK(f->x->target == 0x77);
			CHECK_INT_EQ(f->x->target_kind, FUTURE_CALL);
			CHECK(f->x->schedule == sid);
			CHECK_INT_EQ(f->x->scheduled_for, 1700000000LL * SEC);
		}
	}
	if (CHECK((f = future_find(PLAIN_ID)) != NULL)) {
		CHECK_INT_EQ(f->kind, FUTURE_PLAIN);
		CHECK_INT_EQ(f->state, FUTURE_PENDING);
		CHECK_STR_EQ(future_name(f) != NULL ? future_name(f) : "(null)", "plain");
		CHECK_INT_EQ(f->created, plain_created);
		CHECK_INT_EQ(f->due, plain_due);
	}
	if (CHECK((s = schedule_find(sid)) != NULL)) {
		CHECK_INT_EQ(s->state, SCHEDULE_PAUSED);
		CHECK_INT_EQ(s->spec.kind, p.kind);
		CHECK_STR_EQ(s->spec_text, p.spec);
		CHECK_STR_EQ(s->tz != NULL ? s->tz : "(null)", p.tz);
		CHECK_STR_EQ(s->name != NULL ? s->name : "(null)", p.name);
		CHECK_STR_EQ(s->action, p.action);
		CHECK_INT_EQ(s->start, p.start);
		CHECK_INT_EQ(s->end, p.end);
		CHECK_INT_EQ(s->count, p.count);
		CHECK_INT_EQ(s->catchup, p.catchup);
		CHECK_INT_EQ(s->catchup_window, p.catchup_window);
		CHECK_INT_EQ(s->overlap, p.overlap);
		CHECK_INT_EQ(s->pause_on_failure, p.pause_on_failure);
		CHECK_INT_EQ(s->jitter, p.jitter);
		CHECK(s->created > 0);
	}
	free(p.action);
	down();
}

int
main(void)
{
	char cmd[128];
	uint64_t sid;

	if (mkdtemp(dir) == NULL)
		return 2;
	sched_start = ((int64_t)time(NULL) + 86400) * SEC;
	sid = write_objects();
	read_objects(sid);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	if (system(cmd) != 0)
		fprintf(stderr, "test_store_rows: could not remove %s\n", dir);
	return check_summary();
}
