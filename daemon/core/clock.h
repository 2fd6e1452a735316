/*
 * clock: loop time and wall time, in microseconds.
 *
 * Loop time follows CLOCK_MONOTONIC and never goes backwards, not even
 * across restarts: given the anchor stored by the last run (a loop time,
 * the wall time and boot time it was taken at, and which boot), it
 * continues from there plus the time that passed since. Within one boot
 * that time is read on CLOCK_BOOTTIME, so whatever the wall clock did
 * does not matter; after a reboot it is the wall time that passed, but
 * at least CLOCK_RUN_PAST_ANCHOR_US (the last run may have gone on that
 * long after its last anchor: a wall clock set back must not take loop
 * time back below what it handed out).
 */
#ifndef LOOPD_CORE_CLOCK_H
#define LOOPD_CORE_CLOCK_H

#include <stdint.h>
#include <sys/time.h>

#define CLOCK_US_PER_S 1000000LL

/* How long a run may go on past its last stored anchor: the store
 * refreshes it more often than that (store.c, ANCHOR_US). */
#define CLOCK_RUN_PAST_ANCHOR_US (3 * CLOCK_US_PER_S)

/* Where loop time stood, to continue from after a restart. */
struct clock_anchor {
	int64_t loop;			/* loop time; < 0: none */
	int64_t unix_us;		/* wall time then */
	int64_t boot;			/* CLOCK_BOOTTIME then */
	int64_t boot_key;		/* which boot (from the kernel's boot_id); 0: unknown */
};

/* Start the loop clock. With no anchor (anchor_loop < 0) loop time is the
 * system's monotonic clock. Same as clock_resume with no boot known. */
void clock_start(int64_t anchor_loop, int64_t anchor_unix);
/* Start the loop clock from an anchor (see above). */
void clock_resume(const struct clock_anchor *a);
/* The anchor of this moment. */
void clock_anchor_now(struct clock_anchor *a);
/* This boot's key (0 if the kernel does not say). */
int64_t clock_boot_key(void);
/* CLOCK_BOOTTIME in microseconds. */
int64_t clock_boot_now(void);
/* Loop time now. */
int64_t clock_loop_now(void);
/* Wall time now (Unix epoch). */
int64_t clock_unix_now(void);
/* Tell the clock the loop time of the next timer that must not wait for
 * bulk work (the scheduler's next timeout); INT64_MAX: none. */
void clock_set_next_due(int64_t at);
/* When a slice of bulk work starting now ends: after budget us, or as
 * soon as the next timer set by clock_set_next_due falls due, whichever
 * is first (issue 13: a timeout waits for no slice). Every loop that
 * does work a slice a turn takes its end from here. */
int64_t clock_slice_end(int64_t budget);
/* Seconds as a double, for the wire. */
double clock_to_seconds(int64_t us);
/* A relative duration as a timeval for libevent; negatives become 0. */
struct timeval clock_timeval(int64_t us);
/* Seconds to microseconds; -1 if negative, not finite or out of range. */
int64_t clock_from_seconds(double s);

#endif
