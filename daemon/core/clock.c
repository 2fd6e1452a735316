/*
 * clock: loop time = monotonic time + an offset fixed at start.
 */
#include "daemon/core/clock.h"

#include <math.h>
#include <time.h>

static int64_t loop_offset;

/* Read one clock in microseconds. */
static int64_t
clock_read(clockid_t id)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return (int64_t)ts.tv_sec * CLOCK_US_PER_S + ts.tv_nsec / 1000;
}

void
clock_start(int64_t anchor_loop, int64_t anchor_unix)
{
	int64_t mono = clock_read(CLOCK_MONOTONIC), target = mono;

	if (anchor_loop >= 0) {
		int64_t down = clock_read(CLOCK_REALTIME) - anchor_unix;

		/* A wall clock stepped back while we were down must not take
		 * loop time back with it. */
		target = anchor_loop + (down > 0 ? down : 0);
	}
	loop_offset = target - mono;
}

int64_t
clock_loop_now(void)
{
	return clock_read(CLOCK_MONOTONIC) + loop_offset;
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
