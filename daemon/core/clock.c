/*
 * clock: loop time = monotonic time + an offset fixed at start.
 */
#include "daemon/core/clock.h"

#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <time.h>

static int64_t loop_offset;
static int64_t boot_key;		/* read once */
static int64_t next_due = INT64_MAX;	/* clock_set_next_due */

/* Read one clock in microseconds. */
static int64_t
clock_read(clockid_t id)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return (int64_t)ts.tv_sec * CLOCK_US_PER_S + ts.tv_nsec / 1000;
}

int64_t
clock_boot_key(void)
{
	FILE *f;
	int c, n = 0;
	int64_t k = 0;

	if (boot_key != 0)
		return boot_key;
	/* 15 hex digits of the kernel's random boot id: positive, and a
	 * collision between two boots is a 1 in 2^60 chance. */
	if ((f = fopen("/proc/sys/kernel/random/boot_id", "re")) == NULL)
		return 0;
	while (n < 15 && (c = fgetc(f)) != EOF && c != '\n')
		if (isxdigit(c)) {
			k = k * 16 + (isdigit(c) ? c - '0' : tolower(c) - 'a' + 10);
			n++;
		}
	fclose(f);
	return boot_key = n == 15 ? k : 0;
}

int64_t
clock_boot_now(void)
{
	return clock_read(CLOCK_BOOTTIME);
}

void
clock_anchor_now(struct clock_anchor *a)
{
	a->loop = clock_loop_now();
	a->unix_us = clock_unix_now();
	a->boot = clock_boot_now();
	a->boot_key = clock_boot_key();
}

void
clock_resume(const struct clock_anchor *a)
{
	int64_t mono = clock_read(CLOCK_MONOTONIC), target = mono, since;

	if (a->loop >= 0) {
		int64_t key = clock_boot_key(), boot = clock_boot_now();
		if (a->boot_key != 0 && a->boot_key == key && boot >= a->boot)
			since = boot - a->boot;		/* exact, whatever the wall clock did */
		else {
			/* Another boot: the wall clock is all there is. Set back,
			 * it must still not take loop time below what the last
			 * run may have handed out after its anchor. */
			since = clock_read(CLOCK_REALTIME) - a->unix_us;
			if (since < CLOCK_RUN_PAST_ANCHOR_US)
				since = CLOCK_RUN_PAST_ANCHOR_US;
		}
		target = a->loop + since;
	}
	loop_offset = target - mono;
}

void
clock_start(int64_t anchor_loop, int64_t anchor_unix)
{
	struct clock_anchor a = { anchor_loop, anchor_unix, 0, 0 };

	clock_resume(&a);
}

int64_t
clock_loop_now(void)
{
	return clock_read(CLOCK_MONOTONIC) + loop_offset;
}

void
clock_set_next_due(int64_t at)
{
	next_due = at;
}

int64_t
clock_slice_end(int64_t budget)
{
	int64_t now = clock_loop_now(), end = now + budget;

	if (next_due < end)
		end = next_due > now ? next_due : now;
	return end;
}

int64_t
clock_unix_now(void)
{
	return clock_read(CLOCK_REALTIME);
}

double
clock_to_seconds(int64_t us)
{
	return (double)us / 1e6;
}

int64_t
clock_from_seconds(double s)
{
	if (!isfinite(s) || s < 0 || s > 1.0e12)
		return -1;
	return (int64_t)llround(s * 1e6);
}

struct timeval
clock_timeval(int64_t us)
{
	struct timeval tv;

	if (us < 0)
		us = 0;
	tv.tv_sec = (time_t)(us / CLOCK_US_PER_S);
	tv.tv_usec = (suseconds_t)(us % CLOCK_US_PER_S);
	return tv;
}
