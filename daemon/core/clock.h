/*
 * clock: loop time and wall time, in microseconds.
 *
 * Loop time follows CLOCK_MONOTONIC and never goes backwards, not even
 * across restarts: given the anchor stored by the last run (a loop time and
 * the wall time it was taken at), it continues from there plus the wall
 * time that passed while the daemon was down.
 */
#ifndef LOOPD_CORE_CLOCK_H
#define LOOPD_CORE_CLOCK_H

#include <stdint.h>
#include <sys/time.h>

#define CLOCK_US_PER_S 1000000LL

/* Start the loop clock. With no anchor (anchor_loop < 0) loop time is the
 * system's monotonic clock. */
void clock_start(int64_t anchor_loop, int64_t anchor_unix);
/* Loop time now. */
int64_t clock_loop_now(void);
/* Wall time now (Unix epoch). */
int64_t clock_unix_now(void);
/* Seconds as a double, for the wire. */
double clock_to_seconds(int64_t us);
/* A relative duration as a timeval for libevent; negatives become 0. */
struct timeval clock_timeval(int64_t us);
/* Seconds to microseconds; -1 if negative, not finite or out of range. */
int64_t clock_from_seconds(double s);

#endif
