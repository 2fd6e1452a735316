/*
 * waitset: waiting for N futures against a rule and a deadline, the way
 * asyncio.wait, asyncio.gather and `await fut` wait. A long-poll on one
 * future is a waitset of one (ALL_COMPLETED); POST /v1/wait is a waitset
 * with its return_when; POST /v1/gather is GATHER, or ALL_COMPLETED with
 * return_exceptions. The HTTP layer decodes, calls waitset_start once,
 * and encodes what the waitset reports; the rules are here.
 *
 * Cost: starting is O(N) (every id looked up, then one waiter per
 * pending future), done a slice a loop turn when N is large (issue 13:
 * 10,000 ids took one turn of 16-22 ms); each future that settles costs
 * O(1) per waitset (counters, never a rescan); the end (ready, deadline)
 * is O(N) once, sliced too when N is large. A waitset ends once: fn is
 * called at most once, on a later loop turn than the change that made it
 * ready, and - with a durability hook - only once the store's commit
 * holding that change is over, so no one hears of a result that a crash
 * could still take back.
 */
#ifndef LOOPD_CORE_WAITSET_H
#define LOOPD_CORE_WAITSET_H

#include <stddef.h>
#include <stdint.h>

#include "daemon/core/error.h"

struct event_base;
struct future;
struct waitset;

/* When a waitset is ready (asyncio's names). */
enum waitset_rule {
	WAITSET_ALL_COMPLETED,		/* every future is done */
	WAITSET_FIRST_COMPLETED,	/* one future is done */
	WAITSET_FIRST_EXCEPTION,	/* every one is done, or one finished with
					 * an exception (a cancellation is not one) */
	WAITSET_GATHER,			/* every one is done, or one raised: an
					 * exception or a cancellation */
};

/* Caps from the configuration. */
struct waitset_limits {
	size_t max_waiters;		/* waitsets waiting at once; 0 = no cap */
	int64_t max_wait;		/* the longest deadline, microseconds */
};

/* Called once when a started waitset ends (ready or past its deadline). */
typedef void (*waitset_fn)(struct waitset *ws, void *arg);

/* A new waitset for up to cap futures. NULL on ENOMEM. */
struct waitset *waitset_new(enum waitset_rule rule, size_t cap);
/* Stop waiting (fn is not called) and free ws. Accepts NULL. */
void waitset_free(struct waitset *ws);
/* Append f (the same future may come twice). 0, or -1 when ws is full
 * or already started. */
int waitset_add(struct waitset *ws, struct future *f);
/* Append the id of a future that is looked up when ws starts: call says
 * whether the id named a call (a future of the other kind does not
 * match). 0, or -1 when ws is full or already started. */
int waitset_add_id(struct waitset *ws, uint64_t id, int call);

/* Start waiting on base for at most timeout microseconds (< 0: none
 * given; either way capped at lim->max_wait), counted from now. First
 * every id added by waitset_add_id is looked up, then, unless the answer
 * is due (the rule holds, or timeout is 0 or has passed), a waiter is
 * registered on each pending future. That is done now when it fits in a
 * slice (WAITSET_START_SLICE lookups and registrations, about half a
 * millisecond; more than WAITSET_START_SLICE ids never start now), else a
 * slice a loop turn, timers and I/O running between (futures settled
 * meanwhile are counted). Returns 1 when it was all done now and the answer is due
 * now (nothing is registered); 0 when waiting (fn will be called, and may
 * find an error: waitset_error); -1 with err when it was all done now and
 * failed (CORE_ENOTFOUND: an id names nothing, waitset_missing says which;
 * CORE_EFULL: max_waiters reached; CORE_ENOMEM). */
int waitset_start(struct waitset *ws, struct event_base *base, int64_t timeout,
    const struct waitset_limits *lim, waitset_fn fn, void *arg, struct core_error *err);
#define WAITSET_START_SLICE 1024
/* Whether ws is still looking up its ids or registering its waiters. */
int waitset_starting(const struct waitset *ws);
/* 0 if ws has an answer to give; -1 with err if it ended with an error
 * instead (as waitset_start's, found on a later turn). */
int waitset_error(const struct waitset *ws, struct core_error *err);
/* With CORE_ENOTFOUND: the first id, in the order given, that names no
 * future (or one of the other kind). */
size_t waitset_missing(const struct waitset *ws);
/* Stop waiting now (shutdown wants an answer at once): fn will not be
 * called; ws still reports the futures' states. A waitset still looking
 * up its ids looks up the rest now (waitset_error may then report one
 * missing). */
void waitset_stop(struct waitset *ws);

/* Whether the rule holds (as of the last change ws was told of, or of
 * now once it has ended or been stopped). */
int waitset_ready(const struct waitset *ws);
/* Whether it ended at its deadline with the rule not holding. */
int waitset_timed_out(const struct waitset *ws);
/* The number of futures, and the i-th one's id in the order given. */
size_t waitset_size(const struct waitset *ws);
uint64_t waitset_id(const struct waitset *ws, size_t i);
/* The i-th future as it stands now; NULL if retention forgot it (it was
 * done). */
struct future *waitset_future(const struct waitset *ws, size_t i);
/* Whether the i-th future is done (a forgotten one was): now, or - for a
 * waitset of more than WAITSET_START_SLICE that ended and was answered
 * - as its end found it (the end looks each one up, a slice a turn, so
 * that the answer need not). */
int waitset_done(const struct waitset *ws, size_t i);
/* The first future in the order given whose outcome the rule treats as a
 * failure (GATHER: an exception or a cancellation; otherwise an
 * exception), or waitset_size() if none. */
size_t waitset_failure(const struct waitset *ws);

/* Waitsets started and not yet ended or stopped. */
size_t waitset_count(void);

/* Durability: pending() gives the number of the store commit that will
 * make the current state durable (0: it is). With it set, a waitset that
 * ends waits for waitset_commit_done() of that number before fn runs.
 * NULL: nothing to wait for. */
void waitset_set_durability(uint64_t (*pending)(void));
/* The store's commit number seq is over (ok = 0: it failed; the store
 * then answers for the state, and waiters are told what memory holds).
 * The waitsets it releases end in order, a slice a loop turn: at most
 * WAITSET_SLICE (and about half a millisecond) now, the rest on the
 * next turns. */
void waitset_commit_done(int ok, uint64_t seq);
#define WAITSET_SLICE 512
/* How many waitsets the last slice ended (for tests). */
size_t waitset_last_slice(void);

#endif
