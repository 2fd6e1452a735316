/*
 * test_clock: loop time continues from the stored anchor and never steps
 * back across a restart, whatever the wall clock did meanwhile.
 */
#include <stdlib.h>

#include "daemon/core/clock.h"
#include "tests/unit/check.h"

#define SEC CLOCK_US_PER_S

/* A restart within one boot: the time since the anchor is read on the boot
 * clock, so a wall clock set back (or forward) changes nothing. */
static void
test_same_boot_ignores_the_wall_clock(void)
{
	struct clock_anchor a;
	int64_t before;

	if (!CHECK(clock_boot_key() != 0))
		return;
	clock_start(-1, 0);
	clock_anchor_now(&a);
	/* The last run went on 1.5 s past its anchor (it may have handed
	 * out loop times up to a.loop + 1.5 s), then the wall clock was set
	 * back an hour. Before the fix loop time restarted at a.loop. */
	a.boot -= 3 * SEC / 2;
	a.unix_us += 3600 * SEC;
	before = a.loop + 3 * SEC / 2;
	clock_resume(&a);
	CHECK(clock_loop_now() >= before);
	CHECK(clock_loop_now() < before + SEC);
	/* Set forward an hour: no jump either. */
	a.unix_us -= 7200 * SEC;
	clock_resume(&a);
	CHECK(clock_loop_now() >= before);
	CHECK(clock_loop_now() < before + SEC);
}

/* After a reboot the wall clock is all there is; set back, loop time still
 * goes on from at least as far as the last run may have gone. */
static void
test_other_boot(void)
{
	struct clock_anchor a;
	int64_t now;

	clock_start(-1, 0);
	clock_anchor_now(&a);
	a.boot_key = a.boot_key == 1 ? 2 : 1;
	/* Down 100 s by the wall clock. */
	a.unix_us -= 100 * SEC;
	clock_resume(&a);
	now = clock_loop_now();
	CHECK(now >= a.loop + 100 * SEC && now < a.loop + 101 * SEC);
	/* The wall clock was set back a day while down. */
	a.unix_us += 100 * SEC + 86400 * SEC;
	clock_resume(&a);
	now = clock_loop_now();
	CHECK(now >= a.loop + CLOCK_RUN_PAST_ANCHOR_US);
	CHECK(now < a.loop + CLOCK_RUN_PAST_ANCHOR_US + SEC);
	/* Unknown boot (an anchor from before boot keys): the same rule. */
	a.boot_key = 0;
	clock_resume(&a);
	CHECK(clock_loop_now() >= a.loop + CLOCK_RUN_PAST_ANCHOR_US);
}

/* Loop time never goes back while running, and no anchor means the
 * monotonic clock. */
static void
test_monotonic(void)
{
	int64_t last;

	clock_start(-1, 0);
	last = clock_loop_now();
	for (int i = 0; i < 100000; i++) {
		int64_t t = clock_loop_now();
		if (!CHECK(t >= last))
			break;
		last = t;
	}
}

/* A slice ends after its budget, or when the next due timer falls due,
 * whichever is first; never before now. */
static void
test_slice_end(void)
{
	int64_t before, end;

	clock_start(-1, 0);
	clock_set_next_due(INT64_MAX);
	before = clock_loop_now();
	end = clock_slice_end(2000);
	CHECK(end >= before + 2000 && end <= clock_loop_now() + 2000);
	clock_set_next_due(before + 100000);
	CHECK_INT_EQ(clock_slice_end(200000), before + 100000);
	clock_set_next_due(before - 1000);	/* already due: ends now */
	before = clock_loop_now();
	end = clock_slice_end(2000);
	CHECK(end >= before && end <= clock_loop_now());
	clock_set_next_due(INT64_MAX);
}

int
main(void)
{
	test_same_boot_ignores_the_wall_clock();
	test_other_boot();
	test_monotonic();
	test_slice_end();
	return check_summary();
}
