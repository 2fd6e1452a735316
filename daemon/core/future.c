/*
 * future: the object table, asyncio's state rules, waiters and retention.
 */
#include "daemon/core/future.h"

#include <assert.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "daemon/core/clock.h"
#include "daemon/core/events.h"
#include "daemon/core/idmap.h"
#include "daemon/core/names.h"
#include "daemon/core/sched.h"
#include "daemon/core/slab.h"

/* Objects freed per retention step: small, so the loop never stalls. */
#define RETENTION_BATCH 512

static struct {
	struct event_base *base;
	struct future_limits limits;
	struct slab slab;		/* struct future */
	struct idmap ids;
	struct idmap idem;		/* hash of idempotency key -> call */
	struct idmap occ;		/* hash of (schedule, nominal time) -> call */
	struct future_list all;		/* every object, id order */
	struct future_list done;	/* done objects, finish order */
	struct waiter_list wake;	/* waiters to call next turn */
	struct event *wake_ev;
	struct event *retain_ev;
	struct event *tidy_ev;		/* finishes the id maps' growth (future_tidy_cb) */
	struct future_persist persist;
	uint64_t next_id;
	uint64_t wake_gen;		/* generation of waiters queued now */
	size_t pending_kind[2];		/* pending objects, by enum future_kind */
	unsigned admit_owner;		/* quota key of objects made now */
	size_t owner_pending[FUTURE_MAX_OWNERS];	/* pending objects, by quota key */
} futures;

static void future_wake_cb(evutil_socket_t, short, void *);
static void future_retain_cb(evutil_socket_t, short, void *);
static void future_tidy_cb(evutil_socket_t, short, void *);
static void future_retain_arm(void);

int
future_init(struct event_base *base, const struct future_limits *limits)
{
	memset(&futures, 0, sizeof(futures));
	futures.base = base;
	futures.limits = *limits;
	futures.next_id = 1;
	futures.wake_gen = 1;
	slab_init(&futures.slab, sizeof(struct future));
	idmap_init(&futures.ids);
	idmap_init(&futures.idem);
	idmap_init(&futures.occ);
	TAILQ_INIT(&futures.all);
	TAILQ_INIT(&futures.done);
	TAILQ_INIT(&futures.wake);
	futures.wake_ev = event_new(base, -1, 0, future_wake_cb, NULL);
	futures.retain_ev = evtimer_new(base, future_retain_cb, NULL);
	futures.tidy_ev = evtimer_new(base, future_tidy_cb, NULL);
	if (futures.wake_ev == NULL || futures.retain_ev == NULL || futures.tidy_ev == NULL)
		return -1;
	return 0;
}

/* Waiters called per loop turn when a result wakes many (issue 13: ten
 * thousand long-polls on one future took 3 ms in one turn): WAKE_SLICE_US
 * at most, the clock read every WAKE_CHECK waiters. */
#define WAKE_SLICE_US 500
#define WAKE_CHECK 32

/* Slots of a growing id map moved per idle turn (about 50 us). */
#define TIDY_SLOTS 4096

/* Finish the growth of the id maps a slice a turn: with no more puts or
 * deletes (a million pending calls just waiting), the old table would
 * stay, 16 bytes a slot, and every lookup would try both tables. */
static void
future_tidy_cb(evutil_socket_t fd, short what, void *arg)
{
	static const struct timeval zero = { 0, 0 };
	int more = idmap_step(&futures.ids, TIDY_SLOTS);

	more |= idmap_step(&futures.idem, TIDY_SLOTS);
	more |= idmap_step(&futures.occ, TIDY_SLOTS);
	if (more)
		evtimer_add(futures.tidy_ev, &zero);
}

/* Put key in one of the maps of futures, and finish its growth in idle
 * turns if it just grew. */
static int
futures_put(struct idmap *m, uint64_t key, struct future *f)
{
	static const struct timeval zero = { 0, 0 };

	if (idmap_put(m, key, f) == -1)
		return -1;
	if (idmap_growing(m) && futures.tidy_ev != NULL &&
	    !evtimer_pending(futures.tidy_ev, NULL))
		evtimer_add(futures.tidy_ev, &zero);
	return 0;
}

void
future_set_owner(unsigned owner)
{
	futures.admit_owner = owner < FUTURE_MAX_OWNERS ? owner : 0;
}

size_t
future_count_pending_owner(unsigned owner)
{
	return owner < FUTURE_MAX_OWNERS ? futures.owner_pending[owner] : 0;
}

void
future_set_limits(const struct future_limits *limits)
{
	futures.limits = *limits;
	future_retain_arm();
}

/* Free one object's memory. */
static void
future_free(struct future *f)
{
	if (f->x != NULL) {
		free(f->x->name);
		free(f->x->idem_key);
		free(f->x);
	}
	free(f->spec);
	free(f->outcome);
	slab_free(&futures.slab, f);
}

struct future_ext *
future_ext(struct future *f)
{
	if (f->x == NULL && (f->x = calloc(1, sizeof(*f->x))) != NULL) {
		TAILQ_INIT(&f->x->callbacks);
		TAILQ_INIT(&f->x->waiters);
	}
	return f->x;
}

const char *
future_name(const struct future *f)
{
	return f->x != NULL ? f->x->name : NULL;
}

const char *
future_idem_key(const struct future *f)
{
	return f->x != NULL ? f->x->idem_key : NULL;
}

uint64_t
future_idem_digest(const struct future *f)
{
	return f->x != NULL ? f->x->idem_digest : 0;
}

uint64_t
future_target(const struct future *f)
{
	return f->x != NULL ? f->x->target : 0;
}

enum future_kind
future_target_kind(const struct future *f)
{
	return f->x != NULL ? f->x->target_kind : FUTURE_PLAIN;
}

void
future_shutdown(void)
{
	struct future *f;

	while ((f = TAILQ_FIRST(&futures.all)) != NULL) {
		TAILQ_REMOVE(&futures.all, f, all);
		future_free(f);
	}
	slab_destroy(&futures.slab);
	idmap_free(&futures.ids);
	idmap_free(&futures.idem);
	idmap_free(&futures.occ);
	if (futures.wake_ev != NULL)
		event_free(futures.wake_ev);
	if (futures.retain_ev != NULL)
		event_free(futures.retain_ev);
	if (futures.tidy_ev != NULL)
		event_free(futures.tidy_ev);
	futures.wake_ev = futures.retain_ev = futures.tidy_ev = NULL;
}

/* Key of an idempotency key in futures.idem (never 0). */
static uint64_t
idem_hash(const char *key)
{
	return idmap_hash_bytes(key, strlen(key)) | 1;
}

/* Key of an occurrence (schedule, nominal time) in futures.occ (never 0). */
static uint64_t
occ_hash(uint64_t schedule, int64_t t)
{
	uint64_t k[2] = { schedule, (uint64_t)t };

	return idmap_hash_bytes(k, sizeof(k)) | 1;
}

int
future_persisted(void)
{
	return futures.persist.changed != NULL;
}

void
future_renew(void)
{
	if (futures.persist.renew != NULL)
		futures.persist.renew(futures.persist.arg);
}

void
future_set_persist(const struct future_persist *p)
{
	if (p != NULL)
		futures.persist = *p;
	else
		memset(&futures.persist, 0, sizeof(futures.persist));
}

void
future_touch(struct future *f)
{
	if (f->dirty || futures.persist.changed == NULL)
		return;
	f->dirty = 1;
	futures.persist.changed(f->id, futures.persist.arg);
}

void
future_touch_id(uint64_t id)
{
	if (futures.persist.changed != NULL)
		futures.persist.changed(id, futures.persist.arg);
}

int
future_spec_evictable(const struct future *f, int loading)
{
	/* Calls claimed to start soon, on the ready FIFO or handed to the
	 * action layer need theirs. At load nothing is claimed, queued or
	 * dispatched yet: a stored claim is settled by recovery, which reads
	 * the spec back if it needs it. */
	return f->kind == FUTURE_CALL && f->state == FUTURE_PENDING &&
	    (loading || (!f->dispatched && !f->claimed)) && (f->phase == CALL_WAITING ||
	    (f->phase == CALL_SCHEDULED && (loading || timerq_queued(&f->tq))));
}

void
future_mark_saving(struct future *f)
{
	f->dirty = 0;
}

void
future_mark_clean(struct future *f)
{
	f->stored = 1;
	if (f->spec != NULL && futures.persist.load_spec != NULL && future_spec_evictable(f, 0)) {
		free(f->spec);
		f->spec = NULL;
	}
}

const char *
future_spec(const struct future *f, char **tmp)
{
	*tmp = NULL;
	if (f->spec != NULL || f->kind != FUTURE_CALL || !f->stored ||
	    futures.persist.load_spec == NULL)
		return f->spec;
	*tmp = futures.persist.load_spec(f->id, futures.persist.arg);
	return *tmp;
}

int
future_spec_hold(struct future *f)
{
	char *tmp;

	if (future_spec(f, &tmp) == NULL)
		return -1;
	if (tmp != NULL)
		f->spec = tmp;
	return 0;
}

struct future *
future_find(uint64_t id)
{
	return idmap_get(&futures.ids, id);
}

struct future *
future_alloc(enum future_kind kind, const char *name, struct core_error *err)
{
	struct future *f;

	if (futures.limits.max_pending != 0 && future_count_pending() >= futures.limits.max_pending) {
		core_error_set(err, CORE_EFULL, "too many pending objects (max_pending = %zu)",
		    futures.limits.max_pending);
		return NULL;
	}
	if (futures.admit_owner != 0 && futures.limits.max_pending_per_owner != 0 &&
	    futures.owner_pending[futures.admit_owner] >= futures.limits.max_pending_per_owner) {
		core_error_set(err, CORE_EFULL, "too many pending objects for this client "
		    "(max_pending_per_token = %zu)", futures.limits.max_pending_per_owner);
		return NULL;
	}
	if ((f = slab_alloc(&futures.slab)) == NULL ||
	    (name != NULL && (future_ext(f) == NULL || (f->x->name = strdup(name)) == NULL)) ||
	    futures_put(&futures.ids, futures.next_id, f) == -1) {
		if (f != NULL)
			future_free(f);
		core_error_set(err, CORE_ENOMEM, "out of memory");
		return NULL;
	}
	f->id = futures.next_id++;
	f->kind = (uint8_t)kind;
	f->state = FUTURE_PENDING;
	f->created = clock_loop_now();
	f->owner = (uint8_t)futures.admit_owner;
	timerq_node_init(&f->tq);
	TAILQ_INSERT_TAIL(&futures.all, f, all);
	futures.pending_kind[kind]++;
	futures.owner_pending[f->owner]++;
	future_touch(f);
	return f;
}

/* Order of the retention FIFO: by finish time. */
static void
future_retain_insert(struct future *f)
{
	struct future *at = TAILQ_LAST(&futures.done, future_list);

	/* Restored objects arrive in id order, not finish order: walk back
	 * to keep the FIFO sorted (cheap: they are mostly in order). */
	while (at != NULL && at->finished > f->finished)
		at = TAILQ_PREV(at, future_list, link);
	if (at == NULL)
		TAILQ_INSERT_HEAD(&futures.done, f, link);
	else
		TAILQ_INSERT_AFTER(&futures.done, at, f, link);
}

struct future *
future_restore(struct future *t, struct future_ext *tx)
{
	struct future *f = slab_alloc(&futures.slab), *target;
	int ext = tx->name != NULL || tx->idem_key != NULL || tx->target != 0 ||
	    tx->schedule != 0;

	/* A waiting call joins its target's callbacks (sched_recover): make
	 * room for the list now, while running out of memory can still
	 * stop start-up. */
	target = t->kind == FUTURE_CALL && t->state == FUTURE_PENDING &&
	    t->phase == CALL_WAITING ? future_find(tx->target) : NULL;
	if (f == NULL || (target != NULL && future_ext(target) == NULL) ||
	    futures_put(&futures.ids, t->id, f) == -1) {
		slab_free(&futures.slab, f);
		return NULL;
	}
	*f = *t;
	f->x = NULL;
	f->owner = 0;			/* quota keys do not outlive a run */
	if (ext && future_ext(f) == NULL) {
		idmap_del(&futures.ids, t->id);
		slab_free(&futures.slab, f);
		return NULL;
	}
	if (ext) {
		f->x->name = tx->name;
		f->x->idem_key = tx->idem_key;
		f->x->idem_digest = tx->idem_digest;
		f->x->target = tx->target;
		f->x->target_kind = tx->target_kind;
		f->x->schedule = tx->schedule;
		f->x->scheduled_for = tx->scheduled_for;
	}
	memset(t, 0, sizeof(*t));
	memset(tx, 0, sizeof(*tx));
	f->dirty = 0;
	f->stored = 1;
	timerq_node_init(&f->tq);
	if (future_idem_key(f) != NULL)
		futures_put(&futures.idem, idem_hash(f->x->idem_key), f);
	/* The store's UNIQUE index holds one row per occurrence; a hash
	 * collision (never seen) leaves this one out of the index. */
	if (f->x != NULL && f->x->schedule != 0 &&
	    idmap_get(&futures.occ, occ_hash(f->x->schedule, f->x->scheduled_for)) == NULL)
		futures_put(&futures.occ, occ_hash(f->x->schedule, f->x->scheduled_for), f);
	TAILQ_INSERT_TAIL(&futures.all, f, all);
	if (f->id >= futures.next_id)
		futures.next_id = f->id + 1;
	if (future_done(f)) {
		future_retain_insert(f);
		if (TAILQ_FIRST(&futures.done) == f)
			future_retain_arm();
	} else {
			futures.pending_kind[f->kind]++;
			futures.owner_pending[0]++;
	}
	return f;
}

struct future *
future_new(const char *name, int64_t timeout, struct core_error *err)
{
	struct future *f;

	if (timeout < 0) {
		core_error_set(err, CORE_EINVAL, "timeout: must be a number >= 0");
		return NULL;
	}
	if ((f = future_alloc(FUTURE_PLAIN, name, err)) == NULL)
		return NULL;
	if (timeout > 0) {
		f->due = f->created + timeout;
		if (sched_arm_timeout(f) == -1) {
			future_settle(f, FUTURE_CANCELLED, NULL, 0);
			core_error_set(err, CORE_ENOMEM, "out of memory");
			return NULL;
		}
	}
	events_emit(EVENTS_FUTURE_CREATED, f);
	return f;
}

int
future_done(const struct future *f)
{
	return f->state != FUTURE_PENDING;
}

void
future_settle(struct future *f, enum future_state state, char *value, int is_exc)
{
	struct future *cb;

	assert(f->state == FUTURE_PENDING && state != FUTURE_PENDING);
	f->state = (uint8_t)state;
	f->finished = clock_loop_now();
	free(f->outcome);		/* a pending call's last error, if any */
	f->outcome = value;
	f->has_exception = value != NULL && is_exc;
	if (f->kind == FUTURE_CALL)
		f->phase = CALL_DONE;
	sched_forget(f);
	futures.pending_kind[f->kind]--;
	futures.owner_pending[f->owner]--;
	future_touch(f);
	events_emit(f->kind != FUTURE_CALL ? EVENTS_FUTURE_SETTLED : state == FUTURE_CANCELLED ?
	    EVENTS_CALL_CANCELLED : EVENTS_CALL_FINISHED, f);

	/* Done-callbacks go onto the ready queue in registration order. */
	while (f->x != NULL && (cb = TAILQ_FIRST(&f->x->callbacks)) != NULL) {
		TAILQ_REMOVE(&f->x->callbacks, cb, link);
		sched_ready_push(cb);
	}
	/* Waiters are called from next turn, in order, each detached just
	 * before (so it may wait again). They stay on the list: the future
	 * takes its place on the wake queue as one entry, x->wake, whatever
	 * their number (issue 18: moving 10,000 one by one held the
	 * resolving request for 2.45 ms). */
	if (f->x != NULL && !TAILQ_EMPTY(&f->x->waiters)) {
		f->x->wake.woken = futures.wake_gen;
		TAILQ_INSERT_TAIL(&futures.wake, &f->x->wake, link);
	}
	if (!TAILQ_EMPTY(&futures.wake))
		event_active(futures.wake_ev, 0, 0);

	future_retain_insert(f);
	if (TAILQ_FIRST(&futures.done) == f)
		future_retain_arm();
}

/* Shared body of set_result and set_exception. */
static int
future_set(struct future *f, char *value, int is_exc, struct core_error *err)
{
	if (future_done(f)) {
		free(value);
		return core_error_set(err, CORE_ESTATE, "%s %c_%016llx is already %s",
		    f->kind == FUTURE_CALL ? "call" : "future", f->kind == FUTURE_CALL ? 'c' : 'f',
		    (unsigned long long)f->id, future_state_name(f->state));
	}
	if (f->kind == FUTURE_CALL) {
		free(value);
		return core_error_set(err, CORE_ESTATE,
		    "a call is settled by its action, not by a client");
	}
	future_settle(f, FUTURE_FINISHED, value, is_exc);
	return 0;
}

int
future_set_result(struct future *f, char *value, struct core_error *err)
{
	return future_set(f, value, 0, err);
}

int
future_set_exception(struct future *f, char *exc, struct core_error *err)
{
	return future_set(f, exc, 1, err);
}

int
future_cancel(struct future *f)
{
	if (future_done(f))
		return 0;
	if (f->kind == FUTURE_CALL)
		return sched_cancel(f);
	future_settle(f, FUTURE_CANCELLED, NULL, 0);
	return 1;
}

int
future_wait(struct future *f, struct waiter *w, void (*fn)(struct waiter *, void *),
    void *arg)
{
	assert(w->f == NULL && !w->woken);
	w->fn = fn;
	w->arg = arg;
	if (future_done(f)) {
		w->woken = futures.wake_gen;
		TAILQ_INSERT_TAIL(&futures.wake, w, link);
		event_active(futures.wake_ev, 0, 0);
		return 0;
	}
	if (future_ext(f) == NULL)
		return -1;
	w->f = f;
	TAILQ_INSERT_TAIL(&f->x->waiters, w, link);
	return 0;
}

void
waiter_remove(struct waiter *w)
{
	if (w->f != NULL) {
		TAILQ_REMOVE(&w->f->x->waiters, w, link);
		w->f = NULL;
	} else if (w->woken) {
		TAILQ_REMOVE(&futures.wake, w, link);
		w->woken = 0;
	}
}

/* Call the waiters of futures that became done. A waiter queued by one of
 * these callbacks carries a later generation and waits for the next turn;
 * a callback may remove any other waiter, queued or not. */
static void
future_wake_cb(evutil_socket_t fd, short what, void *arg)
{
	static const struct timeval zero = { 0, 0 };
	uint64_t gen = futures.wake_gen++;
	int64_t until = clock_slice_end(WAKE_SLICE_US);
	struct waiter *w;
	size_t n = 0;

	while ((w = TAILQ_FIRST(&futures.wake)) != NULL && w->woken <= gen) {
		if (n > 0 && n % WAKE_CHECK == 0 && clock_loop_now() > until) {
			/* A zero timer, not event_active: timers and I/O
			 * first (libevent runs what a callback activates in
			 * the same pass). */
			evtimer_add(futures.wake_ev, &zero);
			return;
		}
		if (w->fn == NULL) {
			/* A done future's entry: its next waiter, or off the
			 * queue once none is left. */
			struct future_ext *x = (struct future_ext *)(void *)((char *)w -
			    offsetof(struct future_ext, wake));
			struct waiter *v = TAILQ_FIRST(&x->waiters);

			if (v == NULL) {
				TAILQ_REMOVE(&futures.wake, w, link);
				w->woken = 0;
				continue;
			}
			TAILQ_REMOVE(&x->waiters, v, link);
			v->f = NULL;
			w = v;
		} else {
			TAILQ_REMOVE(&futures.wake, w, link);
			w->woken = 0;
		}
		w->fn(w, w->arg);
		n++;
	}
	if (!TAILQ_EMPTY(&futures.wake))
		event_active(futures.wake_ev, 0, 0);
}

/* Arm the retention timer for the oldest done object. */
static void
future_retain_arm(void)
{
	struct future *f = TAILQ_FIRST(&futures.done);
	int64_t left;
	struct timeval tv;

	if (f == NULL || futures.retain_ev == NULL)
		return;
	left = f->finished + futures.limits.retention - clock_loop_now();
	tv = clock_timeval(left);
	evtimer_add(futures.retain_ev, &tv);
}

struct future *
future_idem_find(const char *key)
{
	struct future *f = idmap_get(&futures.idem, idem_hash(key));

	return f != NULL && strcmp(f->x->idem_key, key) == 0 ? f : NULL;
}

struct future *
future_occurrence_find(uint64_t schedule, int64_t t)
{
	struct future *f = idmap_get(&futures.occ, occ_hash(schedule, t));

	return f != NULL && f->x->schedule == schedule && f->x->scheduled_for == t ? f : NULL;
}

int
future_occurrence_set(struct future *f, uint64_t schedule, int64_t t,
    struct core_error *err)
{
	uint64_t key = occ_hash(schedule, t);

	/* Taken, or (never seen) another occurrence with the same hash:
	 * either way not made, so the store's UNIQUE index is never hit. */
	if (idmap_get(&futures.occ, key) != NULL)
		return core_error_set(err, CORE_ESTATE,
		    "schedule s_%016llx has a call for %lld.%06lld already",
		    (unsigned long long)schedule, (long long)(t / CLOCK_US_PER_S),
		    (long long)(t % CLOCK_US_PER_S));
	if (future_ext(f) == NULL || futures_put(&futures.occ, key, f) == -1)
		return core_error_set(err, CORE_ENOMEM, "out of memory");
	f->x->schedule = schedule;
	f->x->scheduled_for = t;
	return 0;
}

int
future_idem_set(struct future *f, const char *key, uint64_t digest)
{
	if (future_ext(f) == NULL || (f->x->idem_key = strdup(key)) == NULL)
		return -1;
	if (futures_put(&futures.idem, idem_hash(key), f) == -1) {
		free(f->x->idem_key);
		f->x->idem_key = NULL;
		return -1;
	}
	f->x->idem_digest = digest;
	return 0;
}

/* Remove an object from the indexes and free it. Its waiters not called
 * yet take its place on the wake queue, one by one. */
static void
future_unlink(struct future *f)
{
	uint64_t id = f->id;
	int dirty = f->dirty;
	struct waiter *w;

	if (f->x != NULL && f->x->wake.woken) {
		while ((w = TAILQ_FIRST(&f->x->waiters)) != NULL) {
			TAILQ_REMOVE(&f->x->waiters, w, link);
			w->f = NULL;
			w->woken = f->x->wake.woken;
			TAILQ_INSERT_BEFORE(&f->x->wake, w, link);
		}
		TAILQ_REMOVE(&futures.wake, &f->x->wake, link);
	}

	TAILQ_REMOVE(&futures.all, f, all);
	idmap_del(&futures.ids, f->id);
	if (future_idem_key(f) != NULL && idmap_get(&futures.idem, idem_hash(f->x->idem_key)) == f)
		idmap_del(&futures.idem, idem_hash(f->x->idem_key));
	if (f->x != NULL && f->x->schedule != 0 &&
	    idmap_get(&futures.occ, occ_hash(f->x->schedule, f->x->scheduled_for)) == f)
		idmap_del(&futures.occ, occ_hash(f->x->schedule, f->x->scheduled_for));
	future_free(f);
	/* The store learns of a forgotten object by not finding it. */
	if (!dirty && futures.persist.changed != NULL)
		futures.persist.changed(id, futures.persist.arg);
}

void
future_discard(struct future *f)
{
	assert(f->state == FUTURE_PENDING && (f->x == NULL || TAILQ_EMPTY(&f->x->waiters)));
	futures.pending_kind[f->kind]--;
	futures.owner_pending[f->owner]--;
	future_unlink(f);
}

void
future_drop(struct future *f)
{
	future_cancel(f);
	if (!future_done(f))
		return;		/* its action is being stopped; retention forgets it */
	TAILQ_REMOVE(&futures.done, f, link);
	future_unlink(f);
}

/* Forget a done object past retention. */
static void
future_forget(struct future *f)
{
	TAILQ_REMOVE(&futures.done, f, link);
	future_unlink(f);
}

/* Forget done objects past retention, a batch at a time. */
static void
future_retain_cb(evutil_socket_t fd, short what, void *arg)
{
	int64_t now = clock_loop_now();
	struct future *f;
	int n = 0;

	while ((f = TAILQ_FIRST(&futures.done)) != NULL && n++ < RETENTION_BATCH &&
	    f->finished + futures.limits.retention <= now)
		future_forget(f);
	future_retain_arm();
}

size_t
future_count_pending(void)
{
	return futures.pending_kind[FUTURE_PLAIN] + futures.pending_kind[FUTURE_CALL];
}

size_t
future_count_pending_kind(enum future_kind kind)
{
	return futures.pending_kind[kind];
}

size_t
future_count_all(void)
{
	return idmap_len(&futures.ids);
}

struct future *
future_first_after(uint64_t after)
{
	struct future *f = after ? future_find(after) : NULL;

	if (f != NULL)
		return TAILQ_NEXT(f, all);
	/* The marker object is gone: scan for the first later id. */
	TAILQ_FOREACH(f, &futures.all, all)
		if (f->id > after)
			break;
	return f;
}

struct future *
future_next(struct future *f)
{
	return TAILQ_NEXT(f, all);
}

struct future *
future_last_before(uint64_t before)
{
	struct future *f = before ? future_find(before) : NULL;

	if (before == 0)
		return TAILQ_LAST(&futures.all, future_list);
	if (f != NULL)
		return TAILQ_PREV(f, future_list, all);
	/* The marker object is gone: scan back for the last earlier id. */
	TAILQ_FOREACH_REVERSE(f, &futures.all, future_list, all)
		if (f->id < before)
			break;
	return f;
}

struct future *
future_prev(struct future *f)
{
	return TAILQ_PREV(f, future_list, all);
}

uint64_t
future_peek_next_id(void)
{
	return futures.next_id;
}

void
future_set_next_id(uint64_t id)
{
	if (id > futures.next_id)
		futures.next_id = id;
}

static const char *const state_names[] = { "pending", "finished", "cancelled" };
static const char *const phase_names[] = { "scheduled", "waiting", "running", "done" };
static const char *trigger_names[] = { "soon", "after", "at", "at_unix", "on_done" };

const char *
future_state_name(enum future_state s)
{
	return state_names[s];
}

const char *
call_phase_name(enum call_phase p)
{
	return phase_names[p];
}

const char *
call_trigger_name(enum call_trigger t)
{
	return trigger_names[t];
}

int
future_state_parse(const char *s)
{
	return names_index(state_names, 3, s);
}

int
call_phase_parse(const char *s)
{
	return names_index(phase_names, 4, s);
}
