/*
 * sched: the ready FIFO, the timer queue and the one armed timer.
 */
#include "daemon/core/sched.h"

#include <sys/timerfd.h>
#include <assert.h>
#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include "daemon/core/clock.h"
#include "daemon/core/events.h"
#include "daemon/log.h"

/* Work done per loop turn when much falls due at once (issue 12: a burst
 * never blocks the loop; issue 13: timers due meanwhile are not held up):
 * at most SLICE_CLAIMS calls claimed or moved between queues, and
 * SLICE_US in all for moving and starting, the clock read every
 * ADVANCE_CHECK moves and every START_CHECK starts. Moving 2,048 nodes of
 * a 100,000-call heap took up to 13 ms of CPU in one turn on a loaded
 * machine before the moves counted against the time too. */
#define SLICE_CLAIMS 2048
#define SLICE_US 2000
#define ADVANCE_CHECK 64
#define START_CHECK 4
/* Ask the store to renew its lease before a claimed call is due, if the
 * lease would not cover it: RENEW_AHEAD ahead at first, then halfway
 * between the slowest recent renewal (asked later, it comes after the
 * due time) and the shortest reach of recent leases past their asking
 * (asked earlier, its lease ends before the due time: the store's lease
 * is 100 ms plus three times its slowest commit, from the commit's
 * start). A fixed 100 ms let a loaded machine's slow commit hold a
 * schedule's occurrence past its due time (issue 15). At most
 * RENEW_AHEAD_MAX, at least RENEW_MIN. */
#define RENEW_AHEAD 100000
#define RENEW_AHEAD_MAX 1000000
#define RENEW_MIN 10000

#define FUTURE_OF(node) \
	((struct future *)((char *)(node) - offsetof(struct future, tq)))

static struct {
	struct event_base *base;
	struct sched_actions actions;
	int64_t horizon;
	int64_t claim_ahead;		/* claim timed calls this long before due */
	int64_t lease_end;		/* calls may start until this loop time */
	int renew_asked;		/* the store was asked to renew it */
	int64_t renew_at;		/* ... at this loop time */
	int64_t renew_slow;		/* the slowest recent renewal */
	int64_t renew_reach;		/* the shortest recent lease, from its asking */
	struct timerq timers;		/* timed calls not yet claimed, by due */
	struct timerq armed;		/* claimed timed calls, by due */
	struct timerq timeouts;		/* plain futures' timeouts */
	struct future_list ready;	/* calls to start, in order */
	size_t ready_len;
	struct event *ready_ev;		/* "run on the next turn" */
	struct event *timer_ev;		/* the earliest deadline */
	struct event *slice_ev;		/* the next slice, after I/O */
	struct event *timeout_ev;	/* plain futures' timeouts: priority 0 */
	int64_t timeout_at;		/* ... armed for this loop time, or 0 */
	int clock_fd;			/* tells us when the wall clock is set */
	struct event *clock_ev;
	size_t dispatched;
	int paused;			/* draining: start nothing more */
	struct sched_stats stats;
	int (*gate)(struct future *);	/* schedule occurrences' overlap */
	void (*clock_hook)(void);	/* after a wall-clock step */
} sched;

const int64_t sched_lateness_bounds[SCHED_LATENESS_BUCKETS] = {
	100, 250, 500, 1000, 2500, 5000, 10000, 25000, 50000, 100000, 250000,
	1000000, 10000000, 60000000,
};

static void sched_run_cb(evutil_socket_t, short, void *);
static void sched_timeout_cb(evutil_socket_t, short, void *);
static void sched_clock_cb(evutil_socket_t, short, void *);
static void sched_arm(void);

/* The timer queue's tie-break: the acceptance order, which is id order. */
static uint64_t
sched_seq(const struct timerq_node *node)
{
	return ((const struct future *)(const void *)((const char *)node -
	    offsetof(struct future, tq)))->id;
}

/* Ask the kernel to report wall-clock steps on clock_fd: an absolute
 * CLOCK_REALTIME timer with CANCEL_ON_SET fails its read with ECANCELED
 * whenever the clock is set. */
static int
sched_watch_clock(void)
{
	struct itimerspec its;

	memset(&its, 0, sizeof(its));
	its.it_value.tv_sec = (time_t)(clock_unix_now() / CLOCK_US_PER_S) +
	    (time_t)100 * 366 * 86400;
	return timerfd_settime(sched.clock_fd, TFD_TIMER_ABSTIME | TFD_TIMER_CANCEL_ON_SET,
	    &its, NULL);
}

int
sched_init(struct event_base *base, const struct sched_actions *actions, int64_t horizon)
{
	memset(&sched, 0, sizeof(sched));
	sched.base = base;
	sched.actions = *actions;
	sched.horizon = horizon;
	sched.claim_ahead = SCHED_CLAIM_AHEAD_DEFAULT;
	sched.lease_end = INT64_MAX;	/* no store: nothing to wait for */
	timerq_init(&sched.timers, sched_seq);
	timerq_init(&sched.armed, sched_seq);
	timerq_init(&sched.timeouts, sched_seq);
	TAILQ_INIT(&sched.ready);
	sched.ready_ev = event_new(base, -1, 0, sched_run_cb, NULL);
	sched.timer_ev = evtimer_new(base, sched_run_cb, NULL);
	sched.slice_ev = evtimer_new(base, sched_run_cb, NULL);
	/* Timeouts are timers like no other work here: they run ahead of
	 * every slice of bulk work (priority 0), so that a burst of calls
	 * falling due does not make them late (issue 13). */
	sched.timeout_ev = evtimer_new(base, sched_timeout_cb, NULL);
	sched.clock_fd = timerfd_create(CLOCK_REALTIME, TFD_NONBLOCK | TFD_CLOEXEC);
	if (sched.ready_ev == NULL || sched.timer_ev == NULL || sched.slice_ev == NULL ||
	    sched.timeout_ev == NULL || event_priority_set(sched.timeout_ev, 0) == -1 ||
	    sched.clock_fd == -1 ||
	    sched_watch_clock() == -1)
		return -1;
	sched.clock_ev = event_new(base, sched.clock_fd, EV_READ | EV_PERSIST, sched_clock_cb, NULL);
	if (sched.clock_ev == NULL || event_add(sched.clock_ev, NULL) == -1)
		return -1;
	return 0;
}

void
sched_shutdown(void)
{
	if (sched.ready_ev != NULL)
		event_free(sched.ready_ev);
	if (sched.timer_ev != NULL)
		event_free(sched.timer_ev);
	if (sched.slice_ev != NULL)
		event_free(sched.slice_ev);
	if (sched.timeout_ev != NULL)
		event_free(sched.timeout_ev);
	if (sched.clock_ev != NULL)
		event_free(sched.clock_ev);
	if (sched.clock_fd > 0)
		close(sched.clock_fd);
	timerq_free(&sched.timers);
	timerq_free(&sched.armed);
	timerq_free(&sched.timeouts);
	memset(&sched, 0, sizeof(sched));
}

void
sched_set_horizon(int64_t horizon)
{
	sched.horizon = horizon;
}

void
sched_set_gate(int (*gate)(struct future *))
{
	sched.gate = gate;
}

void
sched_set_clock_hook(void (*fn)(void))
{
	sched.clock_hook = fn;
}

void
sched_set_claim_ahead(int64_t ahead)
{
	sched.claim_ahead = ahead >= 0 ? ahead : 0;
	sched_arm();
}

void
sched_set_lease(int64_t end)
{
	if (end <= sched.lease_end && sched.lease_end != INT64_MAX)
		return;
	if (sched.renew_asked) {
		/* The slowest recent renewal: up at once, down by an eighth. */
		int64_t took = clock_loop_now() - sched.renew_at, reach = end - sched.renew_at;
		sched.renew_slow = took > sched.renew_slow ? took :
		    sched.renew_slow - (sched.renew_slow - took) / 8;
		/* ... and the shortest reach: down at once, up by an eighth. */
		sched.renew_reach = sched.renew_reach == 0 || reach < sched.renew_reach ? reach :
		    sched.renew_reach + (reach - sched.renew_reach) / 8;
	}
	sched.lease_end = end;
	sched.renew_asked = 0;
	if (!TAILQ_EMPTY(&sched.ready))
		event_active(sched.ready_ev, 0, 0);
	sched_arm();
}

/* Ask the store for a commit that renews the lease, once. */
static void
sched_renew(void)
{
	if (sched.renew_asked)
		return;
	sched.renew_asked = 1;
	sched.renew_at = clock_loop_now();
	future_renew();
}

/* How long before a claimed call is due to ask for a renewal. */
static int64_t
sched_renew_ahead(void)
{
	int64_t ahead = sched.renew_reach > 0 ? (sched.renew_slow + sched.renew_reach) / 2 :
	    RENEW_AHEAD + 2 * sched.renew_slow;

	if (ahead < RENEW_MIN)
		ahead = RENEW_MIN;
	return ahead < RENEW_AHEAD_MAX ? ahead : RENEW_AHEAD_MAX;
}

/* The queue a future's timer node is on (or would be): plain futures'
 * timeouts, claimed timed calls, or timed calls not yet claimed. */
static struct timerq *
sched_queue(const struct future *f)
{
	if (f->kind == FUTURE_PLAIN)
		return &sched.timeouts;
	return f->claimed ? &sched.armed : &sched.timers;
}

/* Claim call c to start: the claim is written with its row, and c may
 * start only once that is durable (sched_claimed). Without a store the
 * claim holds at once. */
static void
sched_claim(struct future *c)
{
	if (c->claimed)
		return;
	c->claimed = 1;
	if (future_persisted())
		future_touch(c);
	else
		c->claim_held = 1;
}

void
sched_claimed(struct future *c, char *spec)
{
	if (!future_done(c) && c->spec == NULL && spec != NULL) {
		c->spec = spec;		/* loaded with the claim, off the loop */
		spec = NULL;
	}
	free(spec);
	if (future_done(c) || !c->claimed || c->claim_held)
		return;
	c->claim_held = 1;
	if (c->dispatched && sched.actions.claimed != NULL)
		sched.actions.claimed(sched.actions.arg, c);
	else if (!TAILQ_EMPTY(&sched.ready))
		event_active(sched.ready_ev, 0, 0);
}

void
sched_unclaim(struct future *c)
{
	if (!c->claimed)
		return;
	c->claimed = c->claim_held = 0;
	future_touch(c);
}

int
sched_claim_dispatched(struct future *c)
{
	sched_claim(c);
	return c->claim_held;
}

void
sched_ready_push(struct future *call)
{
	if (call->phase == CALL_WAITING)
		call->due = clock_loop_now();	/* its future is done: due now */
	call->phase = CALL_SCHEDULED;
	sched_claim(call);
	future_touch(call);
	TAILQ_INSERT_TAIL(&sched.ready, call, link);
	sched.ready_len++;
	event_active(sched.ready_ev, 0, 0);
}

int
sched_arm_timeout(struct future *f)
{
	if (timerq_push(&sched.timeouts, &f->tq, f->due) == -1)
		return -1;
	sched_arm();
	return 0;
}

void
sched_forget(struct future *f)
{
	if (timerq_queued(&f->tq)) {
		timerq_remove(sched_queue(f), &f->tq);
		sched_arm();
	}
}

/* Queue a timed call: claimed at once if it is due within the claim
 * window, so the claim's commit lands before its time. 0 or -1. */
static int
sched_timer_push(struct future *c, int64_t now)
{
	if (c->due - now <= sched.claim_ahead)
		sched_claim(c);
	return timerq_push(sched_queue(c), &c->tq, c->due);
}

/* Work out a timed call's due loop time; -1 with err set if it is out of
 * range. */
static int
sched_due(struct sched_call_params *p, int64_t now, struct future *c,
    struct core_error *err)
{
	int64_t unix_now = clock_unix_now(), ahead;

	switch (p->trigger) {
	case TRIGGER_SOON:
	case TRIGGER_ON_DONE:
		c->due = now;
		break;
	case TRIGGER_AFTER:
		if (p->when < 0)
			return core_error_set(err, CORE_EINVAL, "after: must be >= 0");
		c->due = now + (p->when <= sched.horizon ? p->when : sched.horizon + 1);
		break;
	case TRIGGER_AT:
		c->due = p->when;
		break;
	case TRIGGER_AT_UNIX:
		c->due = now + (p->when - unix_now);
		break;
	}
	ahead = c->due - now;
	if (ahead > sched.horizon)
		return core_error_set(err, CORE_EINVAL,
		    "%s: deadline is beyond the horizon of %lld seconds",
		    call_trigger_name(p->trigger), (long long)(sched.horizon / CLOCK_US_PER_S));
	c->due_unix = p->trigger == TRIGGER_AT_UNIX ? p->when : unix_now + ahead;
	return 0;
}

int
sched_admit(struct proto_call_req *req, char **spec, uint64_t *digest, struct core_error *err)
{
	if (sched.actions.admit == NULL)
		return core_error_set(err, CORE_EDENIED, "no action can be admitted");
	return sched.actions.admit(sched.actions.arg, req, spec, digest, err);
}

/* The future a done-callback waits for, looked up once. NULL with err
 * set. */
static struct future *
sched_target(const struct sched_call_params *p, struct core_error *err)
{
	struct future *t = p->target_future;

	if (t == NULL && (t = future_find(p->target)) != NULL && p->target_kind != 0 &&
	    (t->kind == FUTURE_CALL) != (p->target_kind == 'c'))
		t = NULL;
	if (t == NULL)
		core_error_set(err, CORE_ENOTFOUND, "on_done: no such future%s%s",
		    p->target_text != NULL ? ": " : "", p->target_text != NULL ?
		    p->target_text : "");
	return t;
}

struct future *
sched_call(struct sched_call_params *p, int *existed, struct core_error *err)
{
	struct future *c, *target = NULL;
	int64_t now = clock_loop_now();

	*existed = 0;
	/* The action first (a policy's refusal), then its target. */
	if (p->req != NULL && p->spec == NULL && sched_admit(p->req, &p->spec,
	    p->idem_key != NULL ? &p->idem_digest : NULL, err) == -1)
		return NULL;
	if (p->trigger == TRIGGER_ON_DONE && (target = sched_target(p, err)) == NULL)
		return NULL;
	if (p->idem_key != NULL && (c = future_idem_find(p->idem_key)) != NULL) {
		if (c->x->idem_digest != p->idem_digest) {
			core_error_set(err, CORE_EMISMATCH,
			    "idempotency key reused with a different request (first: %016llx)",
			    (unsigned long long)c->id);
			return NULL;
		}
		*existed = 1;
		return c;
	}
	/* The target's list of callbacks, before anything is changed. */
	if (target != NULL && !future_done(target) && future_ext(target) == NULL) {
		core_error_set(err, CORE_ENOMEM, "out of memory");
		return NULL;
	}
	if ((c = future_alloc(FUTURE_CALL, p->name, err)) == NULL)
		return NULL;
	c->trigger = (uint8_t)p->trigger;
	if (sched_due(p, now, c, err) == -1)
		goto fail;
	if ((p->idem_key != NULL && future_idem_set(c, p->idem_key, p->idem_digest) == -1) ||
	    (target != NULL && future_ext(c) == NULL)) {
		core_error_set(err, CORE_ENOMEM, "out of memory");
		goto fail;
	}
	/* One call per occurrence (the store's UNIQUE index). */
	if (p->schedule != 0 &&
	    future_occurrence_set(c, p->schedule, p->scheduled_for, err) == -1)
		goto fail;
	c->spec = p->spec;
	p->spec = NULL;

	switch (p->trigger) {
	case TRIGGER_SOON:
		sched_ready_push(c);
		break;
	case TRIGGER_ON_DONE:
		assert(target != NULL);
		c->x->target = target->id;
		c->x->target_kind = target->kind;
		if (future_done(target))
			sched_ready_push(c);
		else {
			c->phase = CALL_WAITING;
			TAILQ_INSERT_TAIL(&target->x->callbacks, c, link);
		}
		break;
	default:
		c->phase = CALL_SCHEDULED;
		if (sched_timer_push(c, now) == -1) {
			core_error_set(err, CORE_ENOMEM, "out of memory");
			p->spec = c->spec;	/* not taken after all */
			c->spec = NULL;
			goto fail;
		}
		sched_arm();
		break;
	}
	sched.stats.scheduled++;
	events_emit(EVENTS_CALL_CREATED, c);
	return c;
fail:
	future_discard(c);
	return NULL;
}

int
sched_cancel(struct future *c)
{
	struct future *target;

	if (future_done(c))
		return 0;
	if (c->dispatched) {
		/* The action layer ends it and reports through sched_finish;
		 * the outcome is then recorded as cancelled. */
		c->cancel_requested = 1;
		future_touch(c);
		sched.actions.abort(sched.actions.arg, c);
		return 1;
	}
	/* A call claimed but not started never starts: its claim lapses
	 * with the cancellation that is stored in its place. */
	if (c->phase == CALL_WAITING) {
		if ((target = future_find(future_target(c))) != NULL)
			TAILQ_REMOVE(&target->x->callbacks, c, link);
	} else if (!timerq_queued(&c->tq)) {
		TAILQ_REMOVE(&sched.ready, c, link);
		sched.ready_len--;
	}
	future_settle(c, FUTURE_CANCELLED, NULL, 0);
	sched.stats.cancelled++;
	return 1;
}

int
sched_remove_callback(struct future *target, uint64_t cid)
{
	struct future *c = future_find(cid);

	if (c == NULL || c->kind != FUTURE_CALL || c->trigger != TRIGGER_ON_DONE ||
	    future_target(c) != target->id)
		return -1;
	if (future_done(c) || c->dispatched)
		return 0;
	return sched_cancel(c);
}

/* Count a first start and its lateness. */
static void
sched_count_start(const struct future *c)
{
	int64_t late = c->started - c->due;
	size_t i = 0;

	if (late < 0)
		late = 0;
	while (i < SCHED_LATENESS_BUCKETS && late > sched_lateness_bounds[i])
		i++;
	sched.stats.lateness[i]++;
	sched.stats.lateness_sum += (double)late / 1e6;
	sched.stats.started++;
}

void
sched_started(struct future *c)
{
	sched_started_at(c, clock_loop_now());
}

void
sched_started_at(struct future *c, int64_t at)
{
	if (c->started == 0) {
		c->started = at;
		sched_count_start(c);
	}
	c->phase = CALL_RUNNING;
	c->attempts++;
	future_touch(c);
	events_emit(EVENTS_CALL_STARTED, c);
}

/* Place one restored pending call. lease_end bounds when the last run
 * could still start calls: a call claimed and due by then may have
 * started (its start is written one commit later), one due after it
 * cannot have. */
static void
sched_recover_call(struct future *c, int64_t now, int64_t unix_now, int64_t lease_end)
{
	struct future *target;
	int was_claimed = c->claimed, maybe_started = c->phase == CALL_RUNNING ||
	    (c->claimed && c->phase == CALL_SCHEDULED && c->due <= lease_end);

	/* Claims are this run's to make again. */
	c->claimed = c->claim_held = 0;
	if (maybe_started) {
		if (!sched.actions.interrupted(sched.actions.arg, c))
			return;
		c->phase = CALL_SCHEDULED;
		c->cancel_requested = 0;
		future_touch(c);
	} else if (was_claimed) {
		future_touch(c);		/* the stored claim lapses */
	}
	if (c->phase == CALL_WAITING) {
		/* future_restore made room for the list on the target. */
		target = future_find(future_target(c));
		if (target != NULL && !future_done(target)) {
			assert(target->x != NULL);
			TAILQ_INSERT_TAIL(&target->x->callbacks, c, link);
			return;
		}
		sched_ready_push(c);		/* its future finished meanwhile */
		return;
	}
	if (c->cancel_requested) {
		future_settle(c, FUTURE_CANCELLED, NULL, 0);
		return;
	}
	if (c->trigger == TRIGGER_AT_UNIX)
		c->due = now + (c->due_unix - unix_now);
	if (c->due < now && c->started == 0) {
		c->late = 1;
		future_touch(c);
	}
	if (sched_timer_push(c, now) == -1)
		sched_ready_push(c);		/* out of memory: run it now */
}

void
sched_recover(int64_t lease_end)
{
	int64_t now = clock_loop_now(), unix_now = clock_unix_now();
	struct future *f, *next;

	/* Objects come in id order: callbacks rejoin their futures in
	 * registration order, ties in due time keep acceptance order. */
	for (f = future_first_after(0); f != NULL; f = next) {
		next = future_next(f);
		if (future_done(f))
			continue;
		if (f->kind == FUTURE_CALL)
			sched_recover_call(f, now, unix_now, lease_end);
		else if (f->due != 0 && timerq_push(&sched.timeouts, &f->tq, f->due) == -1)
			future_settle(f, FUTURE_CANCELLED, NULL, 0);
	}
	sched_arm();
}

void
sched_finish(struct future *c, char *outcome, int is_exception)
{
	if (c->dispatched) {
		c->dispatched = 0;
		sched.dispatched--;
	}
	if (future_done(c)) {
		free(outcome);
		return;
	}
	if (c->cancel_requested) {
		/* Task.cancel() said True: the call ends cancelled, whatever
		 * its action managed to do meanwhile. */
		free(outcome);
		future_settle(c, FUTURE_CANCELLED, NULL, 0);
		sched.stats.cancelled++;
	} else {
		future_settle(c, FUTURE_FINISHED, outcome, is_exception);
		if (is_exception)
			sched.stats.finished_exception++;
		else
			sched.stats.finished_result++;
	}
}

const struct sched_stats *
sched_stats(void)
{
	return &sched.stats;
}

void
sched_pause(void)
{
	struct timerq_node *node;
	struct future *f;

	sched.paused = 1;
	evtimer_del(sched.timer_ev);
	evtimer_del(sched.timeout_ev);
	sched.timeout_at = 0;
	clock_set_next_due(INT64_MAX);
	/* Nothing more starts: the claims of calls not started lapse, so the
	 * next run does not take them for possibly started. */
	TAILQ_FOREACH(f, &sched.ready, link)
		sched_unclaim(f);
	while ((node = timerq_pop(&sched.armed)) != NULL) {
		f = FUTURE_OF(node);
		sched_unclaim(f);
		if (timerq_push(&sched.timers, node, f->due) == -1)
			sched_ready_push(f);
	}
}

size_t
sched_count_dispatched(void)
{
	return sched.dispatched;
}

/* The earliest of the queues' deadlines, each as when it must be acted
 * on: a call not yet claimed at its due time less the claim window. 0 if
 * none is queued, with *at set otherwise. */
static int
sched_next_deadline(int64_t *at)
{
	int64_t due, best = INT64_MAX;

	if (timerq_peek(&sched.timers, &due) != NULL)
		best = due - sched.claim_ahead;
	if (timerq_peek(&sched.armed, &due) != NULL) {
		if (due > sched.lease_end && !sched.renew_asked)
			due -= sched_renew_ahead();	/* renew the lease first */
		if (due < best)
			best = due;
	}
	*at = best;
	return best != INT64_MAX;
}

/* Arm the timeouts' timer for the earliest of them (once for each
 * earliest time). */
static void
sched_arm_timeouts(void)
{
	int64_t due, left;
	struct timeval tv;

	if (timerq_peek(&sched.timeouts, &due) == NULL) {
		if (sched.timeout_at != 0)
			evtimer_del(sched.timeout_ev);
		sched.timeout_at = 0;
		clock_set_next_due(INT64_MAX);
		return;
	}
	if (due == sched.timeout_at && evtimer_pending(sched.timeout_ev, NULL))
		return;
	sched.timeout_at = due;
	clock_set_next_due(due);	/* slices of bulk work end by then */
	left = due - clock_loop_now();
	tv = clock_timeval(left > 0 ? left : 0);
	event_base_update_cache_time(sched.base);	/* tv counts from now */
	evtimer_add(sched.timeout_ev, &tv);
}

/* Arm the one timer for the earliest deadline, or run next turn if one
 * has passed; and the timeouts' timer. */
static void
sched_arm(void)
{
	int64_t at, left;
	struct timeval tv;

	if (sched.timer_ev == NULL || sched.paused)
		return;
	sched_arm_timeouts();
	if (!sched_next_deadline(&at)) {
		evtimer_del(sched.timer_ev);
		return;
	}
	left = at - clock_loop_now();
	if (left <= 0) {
		evtimer_del(sched.timer_ev);
		event_active(sched.ready_ev, 0, 0);
		return;
	}
	tv = clock_timeval(left);
	event_base_update_cache_time(sched.base);	/* tv counts from now */
	evtimer_add(sched.timer_ev, &tv);
}

/* Whether a slice that must end by until has used its time, checked
 * every check-th step (n counts the steps). */
static int
sched_slice_over(int n, int check, int64_t until)
{
	return n > 0 && n % check == 0 && clock_loop_now() > until;
}

/* Plain futures' timeouts that are due cancel their futures, a slice a
 * turn (SLICE_CLAIMS, SLICE_US): ahead of the bulk work (priority 0). */
static void
sched_timeout_cb(evutil_socket_t fd, short what, void *arg)
{
	int64_t now = clock_loop_now(), until = now + SLICE_US, due;
	struct timerq_node *node;
	int n = 0;

	if (sched.paused)
		return;
	sched.timeout_at = 0;
	while ((node = timerq_peek(&sched.timeouts, &due)) != NULL && due <= now) {
		timerq_remove(&sched.timeouts, node);
		future_settle(FUTURE_OF(node), FUTURE_CANCELLED, NULL, 0);
		if (++n == SLICE_CLAIMS || sched_slice_over(n, ADVANCE_CHECK, until))
			break;
	}
	sched_arm_timeouts();
}

/* Move what the clock has reached between the queues, at most budget
 * nodes and until loop time until: calls within the claim window are
 * claimed, claimed calls that are due join the ready FIFO. Returns the
 * budget left (0 when time ran out too). */
static int
sched_advance(int64_t now, int budget, int64_t until)
{
	struct timerq_node *node;
	struct future *f;
	int64_t due, left;
	int n = 0;

	while (budget > 0 && (node = timerq_peek(&sched.timers, &due)) != NULL &&
	    due - sched.claim_ahead <= now) {
		timerq_remove(&sched.timers, node);
		f = FUTURE_OF(node);
		sched_claim(f);
		if (timerq_push(&sched.armed, node, f->due) == -1) {
			sched_ready_push(f);	/* out of memory: on the FIFO now */
			continue;
		}
		budget--;
		if (sched_slice_over(++n, ADVANCE_CHECK, until))
			return 0;
	}
	if (timerq_peek(&sched.armed, &due) != NULL && due > sched.lease_end &&
	    due - sched_renew_ahead() <= now)
		sched_renew();
	while (budget > 0 && (node = timerq_peek(&sched.armed, &due)) != NULL && due <= now) {
		timerq_remove(&sched.armed, node);
		f = FUTURE_OF(node);
		budget--;
		if (sched_slice_over(++n, ADVANCE_CHECK, until))
			budget = 0;	/* this one still moves */
		if (f->trigger == TRIGGER_AT_UNIX &&
		    (left = f->due_unix - clock_unix_now()) > 0) {
			/* The wall clock drifted (slewed) against ours: wait
			 * for the wall time itself, never start early. */
			f->due = now + left;
			if (timerq_push(&sched.armed, node, f->due) == 0)
				continue;
		}
		sched_ready_push(f);
	}
	return budget;
}

/* One loop turn of the scheduler: due timers join the ready FIFO behind
 * what is already there, then the ready calls whose claims are durable
 * start, in order, for a slice of time. */
static void
sched_run_cb(evutil_socket_t fd, short what, void *arg)
{
	int64_t now = clock_loop_now(), until = clock_slice_end(SLICE_US);
	struct future *f;
	int more = 0;
	size_t n;

	if (sched.paused)
		return;
	more = sched_advance(now, SLICE_CLAIMS, until) == 0;

	/* The head waits for its claim (and the FIFO behind it, so order
	 * holds); nothing starts past the store's lease, which a commit
	 * renews. Not even a call due within it when the loop woke late: the
	 * lease is the owner's fence (with several nodes, another may own
	 * the call once it has passed). */
	for (n = 0; (f = TAILQ_FIRST(&sched.ready)) != NULL && f->claim_held &&
	    now <= sched.lease_end; n++) {
		if (n > 0 && n % START_CHECK == 0 && (now = clock_loop_now()) > until) {
			more = 1;
			break;
		}
		TAILQ_REMOVE(&sched.ready, f, link);
		sched.ready_len--;
		if (sched.gate != NULL && f->x != NULL && f->x->schedule != 0 && sched.gate(f))
			continue;
		f->dispatched = 1;
		sched.dispatched++;
		/* Its spec came with the claim; read it back from the store
		 * only if that failed. The action layer reports a failure. */
		future_spec_hold(f);
		sched.actions.start(sched.actions.arg, f);
	}
	if (f != NULL && f->claim_held && now > sched.lease_end)
		sched_renew();		/* a commit renews the lease */
	if (more) {
		/* A zero timer, not event_active: libevent runs what is made
		 * active inside a callback in the same pass, before any I/O. */
		struct timeval zero = { 0, 0 };
		evtimer_add(sched.slice_ev, &zero);
	}
	sched_arm();
}

/* New loop deadline of a timer after a wall-clock step: at_unix calls
 * keep their wall time, everything else keeps its loop time. */
static int64_t
sched_rekey(struct timerq_node *node, int64_t due, void *arg)
{
	const int64_t *delta = arg;	/* loop now - wall now */
	struct future *f = FUTURE_OF(node);

	if (f->kind != FUTURE_CALL || f->trigger != TRIGGER_AT_UNIX)
		return due;
	f->due = f->due_unix + *delta;
	if (f->claimed)
		future_touch(f);	/* recovery judges a claim by its due */
	return f->due;
}

/* The wall clock was set. Rare, so one O(n) pass over the heap is fine. */
static void
sched_clock_cb(evutil_socket_t fd, short what, void *arg)
{
	uint64_t ticks;
	int64_t delta;

	if (read(sched.clock_fd, &ticks, sizeof(ticks)) != -1 || errno != ECANCELED)
		return;
	delta = clock_loop_now() - clock_unix_now();
	timerq_rekey(&sched.timers, sched_rekey, &delta);
	timerq_rekey(&sched.armed, sched_rekey, &delta);
	if (sched_watch_clock() == -1)
		log_warn("timerfd_settime");
	log_info("wall clock was set; at_unix calls re-timed");
	if (sched.clock_hook != NULL)
		sched.clock_hook();
	sched_arm();
}
