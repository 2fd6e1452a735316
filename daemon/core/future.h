/*
 * future: the objects clients name by id. A plain future is settled by
 * clients; a call is a future settled by the loop with its action's
 * outcome. Results and exceptions are opaque text to the core (the HTTP
 * layer stores JSON there); the core only enforces the state rules of
 * asyncio.Future:
 *
 *   PENDING --set_result--> FINISHED (result)
 *   PENDING --set_exception--> FINISHED (exception)
 *   PENDING --cancel--> CANCELLED
 *
 * When a future becomes done its done-callbacks (calls waiting on it) are
 * put on the ready queue in registration order, and its waiters are woken
 * on the next loop turn, never inside the call that settled it.
 */
#ifndef LOOPD_CORE_FUTURE_H
#define LOOPD_CORE_FUTURE_H

#include <sys/queue.h>
#include <stddef.h>
#include <stdint.h>

#include "daemon/core/error.h"
#include "daemon/core/timerq.h"

struct event_base;

enum future_kind { FUTURE_PLAIN, FUTURE_CALL };
enum future_state { FUTURE_PENDING, FUTURE_FINISHED, FUTURE_CANCELLED };
enum call_phase { CALL_SCHEDULED, CALL_WAITING, CALL_RUNNING, CALL_DONE };
enum call_trigger {
	TRIGGER_SOON, TRIGGER_AFTER, TRIGGER_AT, TRIGGER_AT_UNIX, TRIGGER_ON_DONE,
};

struct future;

/* Someone waiting for a future to be done (an HTTP long-poll, a wait set).
 * The owner allocates it and keeps it alive until woken or removed. */
struct waiter {
	TAILQ_ENTRY(waiter) link;
	struct future *f;	/* registered on; NULL when idle */
	uint64_t woken;		/* on the wake list: its generation; else 0 */
	void (*fn)(struct waiter *w, void *arg);
	void *arg;
};
TAILQ_HEAD(waiter_list, waiter);
TAILQ_HEAD(future_list, future);

/* What most objects never use, allocated on first use: a name, an
 * idempotency key, an on_done call's target, and what waits for the
 * object (done-callbacks, waiters). A pending call that has none of them
 * carries a NULL pointer instead (issue 7: memory per pending call). */
struct future_ext {
	char *name;
	char *idem_key;			/* call: idempotency key, if any */
	uint64_t idem_digest;		/* call: digest of the request body */
	uint64_t target;		/* on_done: the future awaited */
	uint8_t target_kind;		/* on_done: the awaited object's kind */
	uint64_t schedule;		/* an occurrence: its schedule (schedule.h) */
	int64_t scheduled_for;		/* ... and its nominal Unix time */
	struct future_list callbacks;	/* calls to start once done */
	struct waiter_list waiters;	/* registered; once done, being called */
	/* Done with waiters: its place on the wake queue (fn NULL), where
	 * they are called in turn, still on the list above. */
	struct waiter wake;
};

struct future {
	uint64_t id;
	int64_t created;		/* loop time */
	int64_t finished;		/* loop time when done */
	int64_t due;			/* call: due loop time; future: timeout deadline */
	int64_t due_unix;		/* call: due wall time */
	int64_t started;		/* call: loop time started, 0 before */
	uint32_t attempts;
	struct timerq_node tq;
	uint8_t kind;			/* enum future_kind */
	uint8_t state;			/* enum future_state */
	uint8_t phase;			/* enum call_phase */
	uint8_t trigger;		/* enum call_trigger */
	uint8_t owner;			/* quota key it was made under, 0: none */
	unsigned int has_exception : 1;
	unsigned int dispatched : 1;	/* handed to the action layer */
	unsigned int cancel_requested : 1;
	unsigned int late : 1;		/* started late after a restart */
	unsigned int dirty : 1;		/* changed since the store last saw it */
	unsigned int stored : 1;	/* the store holds a row for it */
	unsigned int claimed : 1;	/* call: claimed to start (sched_claim) */
	unsigned int claim_held : 1;	/* call: ... and the claim is durable */
	char *spec;			/* call: its action, opaque to the core;
					 * NULL while it waits in the store (read
					 * it with future_spec) */
	char *outcome;			/* done: result or exception; a pending
					 * call being retried: its last error */
	struct future_ext *x;		/* NULL until a rare field is set */
	/* One link for the list the object is on at the time: the ready
	 * FIFO, its target's callbacks, or the retention FIFO once done. */
	TAILQ_ENTRY(future) link;
	TAILQ_ENTRY(future) all;	/* every object, in id order */
};

/* Where durable changes go (the store). changed() is told the id of an
 * object whose durable state changed (or that was forgotten: it is then
 * no longer found), at most once until the store calls
 * future_mark_saving(). load_spec() reads a stored call's spec back: a
 * new string, or NULL (out of memory, I/O error). With load_spec, the spec
 * of a stored call waiting for its time or its future is freed from
 * memory (it may wait for months; most are never looked at before they
 * run) and read back when it is needed; the store must then keep a stored
 * spec when an object is written again with a NULL one. */
struct future_persist {
	void (*changed)(uint64_t id, void *arg);
	/* A call was claimed (sched_claim): its claim travels with its row
	 * through changed(), and the store answers with sched_claimed()
	 * once it is durable. */
	char *(*load_spec)(uint64_t id, void *arg);
	/* Commit soon, even with nothing changed: the scheduler waits for
	 * a fresh lease (sched_set_lease). Optional. */
	void (*renew)(void *arg);
	void *arg;
};

/* Limits the core enforces. */
struct future_limits {
	size_t max_pending;		/* pending futures and calls; 0 = no cap */
	int64_t retention;		/* how long done objects are kept */
	size_t max_pending_per_owner;	/* pending, made under one quota key; 0 = no cap */
};

/* Set up the object table on base. 0 or -1. */
int future_init(struct event_base *base, const struct future_limits *limits);
/* Free every object and stop the core's events. */
void future_shutdown(void);
/* Quota keys: who makes objects, for max_pending_per_owner. The caller
 * (the HTTP layer: a token) names one before it makes objects, 0 after;
 * 0 is no key (no per-owner cap). Keys are not stored. */
#define FUTURE_MAX_OWNERS 256
void future_set_owner(unsigned owner);
/* Pending objects made under a quota key. */
size_t future_count_pending_owner(unsigned owner);
/* Change limits (on reload). */
void future_set_limits(const struct future_limits *limits);

/* Send durable changes to p (NULL: nowhere). */
void future_set_persist(const struct future_persist *p);
/* Whether changes go to a store (else they are "durable" at once). */
int future_persisted(void);
/* Ask the store for a commit that renews its lease. */
void future_renew(void);
/* Tell the store that f changed. */
void future_touch(struct future *f);
/* Tell the store that the object with this id (a schedule, which shares
 * the id space) changed; the caller keeps its own dirty bit. */
void future_touch_id(uint64_t id);
/* The store has taken f's state for a commit: a later change is told
 * again. */
void future_mark_saving(struct future *f);
/* That commit succeeded: the store holds a row for f (a waiting call's
 * spec may then leave memory). */
void future_mark_clean(struct future *f);
/* Whether call f's spec may leave memory, the store keeping it: a
 * pending call waiting for its future or for its time (in the timer
 * queue), not claimed or handed to the action layer. The one rule:
 * future_mark_clean applies it to a live call, and the store asks it of
 * each row it loads (loading = 1) before it reads the row's spec. */
int future_spec_evictable(const struct future *f, int loading);
/* A call's spec: f->spec, or a copy read back from the store, returned
 * in *tmp too for the caller to free (*tmp is NULL otherwise). NULL if it
 * cannot be read, or f has none (a plain future). */
const char *future_spec(const struct future *f, char **tmp);
/* Keep a call's spec in memory until it is done (it is starting: its
 * action, retries and result need it). 0, or -1 if it cannot be read. */
int future_spec_hold(struct future *f);
/* Re-create an object from the store: the fields of t and of tx (its
 * out-of-line ones: name, idempotency key and digest, target) are copied
 * and their strings taken. Objects must come in id order. The scheduler
 * then places pending ones (sched_recover). NULL on ENOMEM. */
struct future *future_restore(struct future *t, struct future_ext *tx);
/* Forget a done object now (used when the store could not save it). */
void future_drop(struct future *f);

/* f's name, or NULL. */
const char *future_name(const struct future *f);
/* A call's idempotency key, or NULL. */
const char *future_idem_key(const struct future *f);
/* The digest recorded with the idempotency key (0 without one). */
uint64_t future_idem_digest(const struct future *f);
/* An on_done call: the id of the future it awaits (0 for other objects),
 * and that future's kind. */
uint64_t future_target(const struct future *f);
enum future_kind future_target_kind(const struct future *f);

/* The object with this id, or NULL. */
struct future *future_find(uint64_t id);
/* A new pending plain future; timeout > 0 cancels it after that long. */
struct future *future_new(const char *name, int64_t timeout, struct core_error *err);
/* Allocate and register an object of kind; used by the scheduler. */
struct future *future_alloc(enum future_kind kind, const char *name, struct core_error *err);
/* Drop an object that was just allocated and never became visible. */
void future_discard(struct future *f);
/* The call holding idempotency key, or NULL. */
struct future *future_idem_find(const char *key);
/* The occurrence call of schedule for nominal time t, or NULL: one per
 * (schedule, nominal time), as the store's UNIQUE index wants. */
struct future *future_occurrence_find(uint64_t schedule, int64_t t);
/* Make call f the occurrence of schedule for nominal time t. 0, or -1
 * with CORE_ESTATE if that occurrence has a call already, CORE_ENOMEM. */
int future_occurrence_set(struct future *f, uint64_t schedule, int64_t t,
    struct core_error *err);
/* Record f's idempotency key and request digest. 0 or -1 (ENOMEM). */
int future_idem_set(struct future *f, const char *key, uint64_t digest);
/* Set the result (ownership of value passes). -1 with CORE_ESTATE if done. */
int future_set_result(struct future *f, char *value, struct core_error *err);
/* Set an exception (ownership passes). -1 with CORE_ESTATE if done. */
int future_set_exception(struct future *f, char *exc, struct core_error *err);
/* Cancel: 1 if it was pending and is now cancelled, 0 if already done.
 * For a call, use sched_cancel instead. */
int future_cancel(struct future *f);
/* Whether f is done (finished or cancelled). */
int future_done(const struct future *f);

/* Register w to be called once f is done (on a later loop turn). If f is
 * already done, w is woken on the next turn. 0, or -1 on ENOMEM (w stays
 * idle). */
int future_wait(struct future *f, struct waiter *w, void (*fn)(struct waiter *, void *),
    void *arg);
/* Take w off whatever list it is on; safe on an idle waiter. */
void waiter_remove(struct waiter *w);

/* Counts for status and limits. */
size_t future_count_pending(void);
size_t future_count_pending_kind(enum future_kind kind);
size_t future_count_all(void);
/* Walk objects in id order starting after id `after` (0: from the start). */
struct future *future_first_after(uint64_t after);
struct future *future_next(struct future *f);
/* Walk objects in reverse id order starting before id `before` (0: from
 * the newest). */
struct future *future_last_before(uint64_t before);
struct future *future_prev(struct future *f);

/* The id the next object will get; the store raises it at start. */
uint64_t future_peek_next_id(void);
void future_set_next_id(uint64_t id);

/* Names for the wire. */
const char *future_state_name(enum future_state s);
const char *call_phase_name(enum call_phase p);
const char *call_trigger_name(enum call_trigger t);
/* Parse state/phase names; -1 if unknown. */
int future_state_parse(const char *s);
int call_phase_parse(const char *s);

/* Internal to the core: f's out-of-line fields, allocated (zeroed) on
 * first use; NULL on ENOMEM. */
struct future_ext *future_ext(struct future *f);
/* Internal to the core: settle f (done transition), with is_exc telling
 * which of result/exception value is; value may be NULL for cancel. */
void future_settle(struct future *f, enum future_state state, char *value, int is_exc);

#endif
