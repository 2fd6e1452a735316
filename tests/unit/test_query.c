/*
 * Unit tests for daemon/core/query: listing objects by kind, state, phase
 * and name, a page at a time in id order, with no HTTP. The objects are
 * plain futures and calls due in an hour (nothing starts).
 */
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "daemon/core/clock.h"
#include "daemon/core/future.h"
#include "daemon/core/query.h"
#include "daemon/core/sched.h"
#include "tests/unit/check.h"
#include "tests/unit/evbase.h"

#define SEC CLOCK_US_PER_S

static struct event_base *base;

/* The action layer is not needed: nothing falls due. */
static void
no_start(void *arg, struct future *c)
{
}

/* A fresh core. */
static void
setup(void)
{
	struct future_limits fl = { 0, 3600 * SEC, 0 };
	struct sched_actions ops = { .start = no_start };

	if ((base = evbase_new(0)) == NULL) {
		fprintf(stderr, "cannot make an event base\n");
		exit(2);
	}
	clock_start(-1, 0);
	if (future_init(base, &fl) == -1 || sched_init(base, &ops, 24 * 3600 * SEC) == -1) {
		fprintf(stderr, "cannot start the core\n");
		exit(2);
	}
}

static void
teardown(void)
{
	sched_shutdown();
	future_shutdown();
	event_base_free(base);
}

/* A call named name, due in an hour. */
static struct future *
call(const char *name)
{
	struct core_error err = { CORE_OK, "" };
	struct sched_call_params p = {
		.trigger = TRIGGER_AFTER, .when = 3600 * SEC, .name = name,
		.spec = strdup("{\"command\":{\"argv\":[\"true\"]}}"),
	};
	int existed;
	struct future *c = sched_call(&p, &existed, &err);

	free(p.spec);
	if (c == NULL) {
		fprintf(stderr, "sched_call: %s\n", err.msg);
		exit(2);
	}
	return c;
}

/* A plain future named name. */
static struct future *
plain(const char *name)
{
	struct core_error err = { CORE_OK, "" };
	struct future *f = future_new(name, 0, &err);

	if (f == NULL)
		exit(2);
	return f;
}

/* Run q; the ids listed go to ids[], their count is returned. */
static size_t
run(const struct query *q, uint64_t *ids, uint64_t *next)
{
	static struct query_page page;
	struct core_error err = { CORE_OK, "" };

	if (!CHECK(query_run(q, &page, &err) == 0))
		return 0;
	for (size_t i = 0; i < page.n; i++)
		ids[i] = page.items[i]->id;
	*next = page.next_after;
	return page.n;
}

/* Filters: kind, state, phase, name; all of them at once. */
static void
test_filters(void)
{
	struct future *c1, *c2, *c3, *f1;
	struct query q;
	uint64_t ids[16], next;

	setup();
	c1 = call("a");
	f1 = plain("a");
	c2 = call("b");
	c3 = call(NULL);
	CHECK(sched_cancel(c2) == 1);

	query_init(&q);
	CHECK_INT_EQ(run(&q, ids, &next), 4);
	CHECK(ids[0] == c1->id && ids[1] == f1->id && ids[2] == c2->id && ids[3] == c3->id);
	CHECK_INT_EQ(next, 0);

	q.kind = FUTURE_CALL;
	CHECK_INT_EQ(run(&q, ids, &next), 3);
	CHECK(ids[0] == c1->id && ids[1] == c2->id && ids[2] == c3->id);

	q.state = FUTURE_CANCELLED;
	CHECK_INT_EQ(run(&q, ids, &next), 1);
	CHECK(ids[0] == c2->id);

	query_init(&q);
	q.phase = CALL_SCHEDULED;
	CHECK_INT_EQ(run(&q, ids, &next), 3);	/* a plain future's phase is 0 too */
	q.kind = FUTURE_CALL;
	CHECK_INT_EQ(run(&q, ids, &next), 2);
	CHECK(ids[0] == c1->id && ids[1] == c3->id);

	query_init(&q);
	q.name = "a";
	CHECK_INT_EQ(run(&q, ids, &next), 2);
	q.kind = FUTURE_CALL;
	CHECK_INT_EQ(run(&q, ids, &next), 1);
	CHECK(ids[0] == c1->id);
	q.name = "zz";
	CHECK_INT_EQ(run(&q, ids, &next), 0);
	CHECK_INT_EQ(next, 0);
	CHECK(query_match(&(struct query){ -1, -1, -1, NULL, 0, 0, 0, 0, 0 }, c3));
	teardown();
}

/* Pages: in id order, a next page only when one more matches, starting
 * after the last even when it is gone; sizes 1..QUERY_PAGE_MAX. */
static void
test_paging(void)
{
	struct core_error err = { CORE_OK, "" };
	static struct query_page page;
	struct future *cs[25];
	struct query q;
	uint64_t ids[QUERY_PAGE_MAX], next, seen = 0, prev = 0;
	size_t n, total = 0;

	setup();
	for (int i = 0; i < 25; i++) {
		cs[i] = call(i % 2 ? "odd" : "even");
		plain(NULL);
	}
	query_init(&q);
	q.kind = FUTURE_CALL;
	q.page_size = 10;
	do {
		n = run(&q, ids, &next);
		for (size_t i = 0; i < n; i++) {
			CHECK(ids[i] > prev);
			prev = ids[i];
		}
		total += n;
		seen++;
		CHECK(next == 0 || next == ids[n - 1]);
		q.after = next;
	} while (next != 0);
	CHECK_INT_EQ(total, 25);
	CHECK_INT_EQ(seen, 3);

	/* Exactly a page left: no next page. */
	q.after = cs[14]->id;
	CHECK_INT_EQ(run(&q, ids, &next), 10);
	CHECK_INT_EQ(next, 0);

	/* The last object listed is gone: the next page starts after it. */
	q.page_size = 2;
	q.after = 0;
	CHECK_INT_EQ(run(&q, ids, &next), 2);
	CHECK(sched_cancel(cs[1]) == 1);
	future_drop(cs[1]);
	CHECK(future_find(next) == NULL);
	q.after = next;
	CHECK_INT_EQ(run(&q, ids, &next), 2);
	CHECK(ids[0] == cs[2]->id && ids[1] == cs[3]->id);

	/* Default and largest sizes. */
	query_init(&q);
	CHECK_INT_EQ(q.page_size, QUERY_PAGE_DEFAULT);
	q.page_size = QUERY_PAGE_MAX + 1;
	CHECK(query_run(&q, &page, &err) == -1);
	CHECK_INT_EQ(err.code, CORE_EINVAL);
	CHECK_STR_EQ(err.msg, "page_size: must be from 1 to 1000");
	q.page_size = 0;
	CHECK(query_run(&q, &page, &(struct core_error){ CORE_OK, "" }) == 0);
	CHECK_INT_EQ(page.n, 49);		/* under the default of 100 */
	teardown();
}

/* Newest first: pages in reverse id order, the token is the last listed
 * (the next page starts before it, even once it is gone). */
static void
test_desc(void)
{
	struct future *cs[7];
	struct query q;
	uint64_t ids[16], next, prev = UINT64_MAX;
	size_t n, total = 0;

	setup();
	for (int i = 0; i < 7; i++)
		cs[i] = call(NULL);
	query_init(&q);
	q.desc = 1;
	q.page_size = 3;
	do {
		n = run(&q, ids, &next);
		for (size_t i = 0; i < n; i++) {
			CHECK(ids[i] < prev);
			prev = ids[i];
		}
		total += n;
		CHECK(next == 0 || next == ids[n - 1]);
		q.after = next;
	} while (next != 0);
	CHECK_INT_EQ(total, 7);
	CHECK(prev == cs[0]->id);

	/* The first page is the newest. */
	q.after = 0;
	CHECK_INT_EQ(run(&q, ids, &next), 3);
	CHECK(ids[0] == cs[6]->id && ids[2] == cs[4]->id);
	CHECK(next == cs[4]->id);
	/* Its marker forgotten: the next page starts before it. */
	CHECK(sched_cancel(cs[4]) == 1);
	future_drop(cs[4]);
	q.after = next;
	CHECK_INT_EQ(run(&q, ids, &next), 3);
	CHECK(ids[0] == cs[3]->id && ids[2] == cs[1]->id);
	teardown();
}

/* Outcome and since: failed (finished with an exception), ok,
 * cancelled; created at or after a loop time, also newest first. */
static void
test_outcome_since(void)
{
	struct core_error err = { CORE_OK, "" };
	struct future *ok, *bad, *gone, *waiting;
	struct query q;
	uint64_t ids[16], next;
	size_t n;

	setup();
	ok = plain("x");	/* only futures are settled by hand */
	bad = plain("x");
	gone = call("x");
	waiting = call("x");
	CHECK(future_set_result(ok, strdup("1"), &err) == 0);
	CHECK(future_set_exception(bad, strdup("{\"type\":\"E\"}"), &err) == 0);
	CHECK(sched_cancel(gone) == 1);

	CHECK_INT_EQ(query_outcome_parse("failed"), QUERY_FAILED);
	CHECK_INT_EQ(query_outcome_parse("ok"), QUERY_OK);
	CHECK_INT_EQ(query_outcome_parse("cancelled"), QUERY_CANCELLED);
	CHECK_INT_EQ(query_outcome_parse("pending"), -1);
	query_init(&q);
	q.outcome = QUERY_FAILED;
	CHECK_INT_EQ(run(&q, ids, &next), 1);
	CHECK(ids[0] == bad->id);
	q.outcome = QUERY_OK;
	CHECK_INT_EQ(run(&q, ids, &next), 1);
	CHECK(ids[0] == ok->id);
	q.outcome = QUERY_CANCELLED;
	CHECK_INT_EQ(run(&q, ids, &next), 1);
	CHECK(ids[0] == gone->id);

	/* since: created at or after; newest first stops at the first
	 * older one. */
	query_init(&q);
	q.since = gone->created;
	n = run(&q, ids, &next);
	CHECK(n >= 2 && ids[n - 1] == waiting->id && ids[n - 2] == gone->id);
	q.since = waiting->created + 1;
	CHECK_INT_EQ(run(&q, ids, &next), 0);
	q.desc = 1;
	CHECK_INT_EQ(run(&q, ids, &next), 0);
	q.since = 0;
	CHECK_INT_EQ(run(&q, ids, &next), 4);
	CHECK(ids[0] == waiting->id);
	teardown();
}

int
main(void)
{
	test_filters();
	test_paging();
	test_desc();
	test_outcome_since();
	return check_summary();
}
