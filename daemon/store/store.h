/*
 * store: the embedded durable store (SQLite in the state directory).
 *
 * Every object the core marks changed is written at the end of the loop
 * turn, all of a turn's changes in one transaction (group commit), with
 * synchronous=FULL: a reply that acknowledges a change is held until its
 * commit returns, so a 2xx means "on disk". The loop-time anchor and the
 * next id go into the same transaction.
 *
 * The commits run on a writer thread of their own: the loop snapshots
 * the changed objects' rows, hands them over and goes on serving while
 * SQLite writes and waits for fsync. Changes made meanwhile form the next
 * batch, handed over as soon as the writer is free. The log is copied
 * into the database file by a third thread (checkpoint.h), so a commit
 * does not wait for that either.
 *
 * Faults: a full disk or a read-only store makes the store unwritable
 * (writes get 503, reads go on) and the commit is retried every second;
 * an fsync failure stops the daemon rather than acknowledge what may not
 * be stored; a store that cannot be opened stops start-up.
 */
#ifndef LOOPD_STORE_STORE_H
#define LOOPD_STORE_STORE_H

#include <stddef.h>
#include <stdint.h>

#include "daemon/core/clock.h"

struct event_base;

/* Called after each commit attempt, for commit number seq: ok = 1 when
 * everything in it is stored. */
typedef void (*store_commit_fn)(int ok, uint64_t seq, void *arg);

/* The lease a durable commit grants (sched.h): calls may start until its
 * loop time plus 100 ms plus three times the slowest recent commit (at
 * most 2 s), and that end is stored with it. After a crash, a claimed call
 * due by the last stored end may have started. It adapts because two
 * commits back to back must fit in it or starts wait: a fixed 100 ms held
 * up bursts of 20,000 webhooks a second on a loaded machine (p99 420 ms),
 * while a fixed 500 ms made every call claimed and due within 500 ms of a
 * crash end Interrupted. */
#define STORE_LEASE_MIN_US 100000
#define STORE_LEASE_MAX_US 2000000

/* Open (creating or migrating) STATE_DIR/loopd.db and lock it against a
 * second daemon. Sets the loop-time anchor (loop -1: none yet). 0 or -1. */
int store_open(const char *state_dir, struct clock_anchor *anchor);
/* The end of the last run's lease (loop time), for sched_recover: what
 * the store holds, or, for a store written before leases were stored,
 * its anchor plus the longest lease. Valid after store_open. */
int64_t store_lease_end(void);
/* Load every stored object into the core (future_restore), in id order.
 * Returns the count, or -1. */
long store_load(void);
/* Start writing changes: hooks the core and arms the commit event. */
int store_start(struct event_base *base, store_commit_fn fn, void *arg);
/* Commit what is pending now (as at the end of a loop turn). */
void store_flush(void);
/* Commit what is pending now and close. */
void store_close(void);
/* The number of the commit that will make the current state durable,
 * or 0 if it is already (a reply made now waits for that commit). While
 * the store is faulted, replies are not held for the retries (writes are
 * refused with 503 then, and reads need not wait). */
uint64_t store_pending(void);
/* A finished commit's rows are taken care of (objects marked stored,
 * claims handed to the scheduler) this many per loop turn, the rest on
 * later turns: replies and the lease wait for the last slice. */
#define STORE_DONE_SLICE 2048
/* Work done so far, for tests: the most rows of a finished commit taken
 * care of in one loop turn, and the number of such turns. */
struct store_stats {
	size_t done_rows_max;
	uint64_t done_slices;
};
const struct store_stats *store_stats(void);
/* Whether the store accepts writes (no disk-full or read-only fault). */
int store_writable(void);
/* Why it does not, for error messages. */
const char *store_fault(void);

#endif
