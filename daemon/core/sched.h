/*
 * sched: when calls start. A `soon` FIFO and one timer queue ordered by
 * (due, acceptance sequence) give asyncio's guarantees:
 *
 *  1. soon calls start in the order accepted;
 *  2. timed calls start in due order, ties in the order accepted;
 *  3. a soon call accepted before a timed call falls due starts first;
 *  4. done-callbacks start in registration order once their future is done.
 *
 * Each loop turn moves the timers that are due onto the ready FIFO, behind
 * what is already there, then hands the ready calls to the action layer.
 * Exactly one libevent timer is armed, for the earliest deadline; a timer
 * that fires early (libevent rounds) is re-armed, so nothing starts early.
 */
#ifndef LOOPD_CORE_SCHED_H
#define LOOPD_CORE_SCHED_H

#include "daemon/core/future.h"

/* How calls are run: the action layer. start() must later call
 * sched_started() once the action really begins and sched_finish() when it
 * ends; abort() asks it to stop one it was given (queued or running). */
struct proto_call_req;	/* a decoded action: the core only hands it on */
struct core_error;

struct sched_actions {
	/* Admission of an action (sched_call, schedules): its policy (a
	 * refusal sets err), then its spec text in *spec and, when digest is
	 * not NULL, the digest of what the request means (idempotency). 0 or
	 * -1. */
	int (*admit)(void *arg, struct proto_call_req *req, char **spec, uint64_t *digest,
	    struct core_error *err);
	void (*start)(void *arg, struct future *call);
	void (*abort)(void *arg, struct future *call);
	/* After a restart, for a call whose action had started: finish it
	 * (sched_finish) or return 1 to run it again. */
	int (*interrupted)(void *arg, struct future *call);
	/* Optional: the claim of a dispatched call that let it lapse while
	 * waiting in an executor's queue (sched_unclaim) holds again. */
	void (*claimed)(void *arg, struct future *call);
	void *arg;
};

struct sched_call_params {
	enum call_trigger trigger;
	int64_t when;		/* after: delay; at: loop time; at_unix: wall time */
	uint64_t target;	/* on_done: the future to wait for, */
	char target_kind;	/* ... 'c' a call, 'f' a plain future, 0 either */
	const char *target_text;	/* ... as the request named it */
	struct future *target_future;	/* ... or found already (callbacks) */
	const char *name;
	struct proto_call_req *req;	/* the action, admitted by sched_call */
	char *spec;		/* or its spec, admitted; the call takes it on success */
	const char *idem_key;	/* optional */
	uint64_t idem_digest;	/* digest of the request, with idem_key */
	uint64_t schedule;	/* an occurrence of this schedule, or 0 */
	int64_t scheduled_for;	/* ... its nominal Unix time */
};

/* Start the scheduler on base. horizon caps how far ahead a deadline may
 * be. 0 or -1. */
int sched_init(struct event_base *base, const struct sched_actions *actions,
    int64_t horizon);
/* Stop the scheduler's events (objects belong to future_shutdown). */
void sched_shutdown(void);
void sched_set_horizon(int64_t horizon);

/* Admit req's action (a call's, or a schedule's calls'): the action
 * layer's admit (struct sched_actions). 0 or -1 with err set. */
int sched_admit(struct proto_call_req *req, char **spec, uint64_t *digest,
    struct core_error *err);

/* Accept a call: its action admitted (p->req; or p->spec, admitted
 * already), its on_done target looked up once, its limits. Returns it (a
 * new one, or with *existed = 1 the earlier call with the same
 * idempotency key and digest), or NULL with err set. */
struct future *sched_call(struct sched_call_params *p, int *existed,
    struct core_error *err);
/* Optional: asked before a ready call that is a schedule's occurrence
 * starts; nonzero means it is not started now (the gate ended it, or made
 * it wait for another call). The schedule module's overlap policy. */
void sched_set_gate(int (*gate)(struct future *call));
/* Optional: told after the wall clock was set and at_unix calls re-timed
 * (schedules check their marks). */
void sched_set_clock_hook(void (*fn)(void));
/* Cancel a call: 1 if it will end cancelled, 0 if it was already done. */
int sched_cancel(struct future *call);
/* Remove done-callback cid from target: 1 if removed (and cancelled), 0 if
 * it had started or is done; -1 if cid is not a callback of target. */
int sched_remove_callback(struct future *target, uint64_t cid);
/* The action layer reports that call's action has begun (now, or at loop
 * time at: the instant it began starting it, before a process was spawned;
 * docs/API.md, "started"). */
void sched_started(struct future *call);
void sched_started_at(struct future *call, int64_t at);
/* The action layer reports the outcome (ownership of outcome passes). */
void sched_finish(struct future *call, char *outcome, int is_exception);

/* After future_restore of every stored object: put pending calls and
 * timeouts back in place. Calls that fell due while the daemon was down
 * are marked late and run at once, in due order. A call that was claimed
 * and due by lease_end (when the last run's lease on starting calls ran
 * out) may have started: it is handled as interrupted. */
void sched_recover(int64_t lease_end);

/*
 * The claim (issue 12: run once). No action starts before the fact that
 * it may have started is durable. A call is claimed when it joins the
 * ready FIFO (soon calls and done-callbacks: in the same commit that
 * accepts them or settles their future) or, for timed calls, once its due
 * time is within the claim window; the claim is written with the call's
 * row, and the store reports it durable with sched_claimed(), passing the
 * spec it read back in the same transaction, off the loop thread. The
 * ready FIFO starts its head only once its claim holds.
 *
 * The store also grants a lease: every durable commit lets calls start
 * until its loop time plus the store's lease, and nothing starts past it.
 * After a crash, a claimed call due by the last lease's end may have
 * started; any other claim simply lapses.
 */
#define SCHED_CLAIM_AHEAD_DEFAULT 1000000	/* microseconds */
/* Claim timed calls this long before they are due. */
void sched_set_claim_ahead(int64_t ahead);
/* The store renewed its lease: calls may start until loop time end. */
void sched_set_lease(int64_t end);
/* The store made call c's claim durable; spec is c's spec read back with
 * it, or NULL (ownership passes). */
void sched_claimed(struct future *c, char *spec);
/* A dispatched call waits in an executor's queue, not started: its claim
 * lapses, so a crash meanwhile does not count it as possibly started. */
void sched_unclaim(struct future *c);
/* Before such a call starts: 1 if its claim holds; else it is claimed
 * again and 0 (actions.claimed is told when it holds). */
int sched_claim_dispatched(struct future *c);

/* Lateness histogram bounds (started - due), microseconds. */
#define SCHED_LATENESS_BUCKETS 14
extern const int64_t sched_lateness_bounds[SCHED_LATENESS_BUCKETS];

struct sched_stats {
	uint64_t scheduled;		/* calls accepted */
	uint64_t started;		/* calls whose action began */
	uint64_t finished_result;
	uint64_t finished_exception;
	uint64_t cancelled;
	uint64_t lateness[SCHED_LATENESS_BUCKETS + 1];	/* last: +Inf */
	double lateness_sum;		/* seconds */
};
/* Counters since start. */
const struct sched_stats *sched_stats(void);

/* Start no more calls (draining for shutdown); those due stay pending. */
void sched_pause(void);

/* Calls handed to the action layer and not finished. */
size_t sched_count_dispatched(void);

/* Core-internal: put a call on the ready FIFO; (un)arm a plain future's
 * timeout; forget a call's scheduling state before it is freed. */
void sched_ready_push(struct future *call);
int sched_arm_timeout(struct future *f);
void sched_forget(struct future *f);

#endif
