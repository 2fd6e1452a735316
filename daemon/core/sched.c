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
#include "daemon/log.h"

#define FUTURE_OF(node) \
	((struct future *)((char *)(node) - offsetof(struct future, tq)))

static struct {
	struct event_base *base;
	struct sched_actions actions;
	int64_t horizon;
	struct timerq timers;		/* timed calls and future timeouts */
	struct future_list ready;	/* calls to start, in order */
	size_t ready_len;
	struct event *ready_ev;		/* "run on the next turn" */
	struct event *timer_ev;		/* the earliest deadline */
	int clock_fd;			/* tells us when the wall clock is set */
	struct event *clock_ev;
	size_t dispatched;
	int paused;			/* draining: start nothing more */
	struct sched_stats stats;
} ss;

const int64_t sched_lateness_bounds[SCHED_LATENESS_BUCKETS] = {
	100, 250, 500, 1000, 2500, 5000, 10000, 25000, 50000, 100000, 250000,
	1000000, 10000000, 60000000,
};

static void sched_run_cb(evutil_socket_t, short, void *);
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
	return timerfd_settime(ss.clock_fd, TFD_TIMER_ABSTIME | TFD_TIMER_CANCEL_ON_SET,
	    &its, NULL);
}

int
sched_init(struct event_base *base, const struct sched_actions *actions, int64_t horizon)
{
	memset(&ss, 0, sizeof(ss));
	ss.base = base;
	ss.actions = *actions;
	ss.horizon = horizon;
	timerq_init(&ss.timers, sched_seq);
	TAILQ_INIT(&ss.ready);
	ss.ready_ev = event_new(base, -1, 0, sched_run_cb, NULL);
	ss.timer_ev = evtimer_new(base, sched_run_cb, NULL);
	ss.clock_fd = timerfd_create(CLOCK_REALTIME, TFD_NONBLOCK | TFD_CLOEXEC);
	if (ss.ready_ev == NULL || ss.timer_ev == NULL || ss.clock_fd == -1 ||
	    sched_watch_clock() == -1)
		return -1;
	ss.clock_ev = event_new(base, ss.clock_fd, EV_READ | EV_PERSIST, sched_clock_cb, NULL);
	if (ss.clock_ev == NULL || event_add(ss.clock_ev, NULL) == -1)
		return -1;
	return 0;
}

void
sched_shutdown(void)
{
	if (ss.ready_ev != NULL)
		event_free(ss.ready_ev);
	if (ss.timer_ev != NULL)
		event_free(ss.timer_ev);
	if (ss.clock_ev != NULL)
		event_free(ss.clock_ev);
	if (ss.clock_fd > 0)
		close(ss.clock_fd);
	timerq_free(&ss.timers);
	memset(&ss, 0, sizeof(ss));
}

void
sched_set_horizon(int64_t horizon)
{
	ss.horizon = horizon;
}

void
sched_ready_push(struct future *call)
{
	if (call->phase == CALL_WAITING)
		call->due = clock_loop_now();	/* its future is done: due now */
	call->phase = CALL_SCHEDULED;
	future_touch(call);
	TAILQ_INSERT_TAIL(&ss.ready, call, link);
	ss.ready_len++;
	event_active(ss.ready_ev, 0, 0);
}

int
sched_arm_timeout(struct future *f)
{
	if (timerq_push(&ss.timers, &f->tq, f->due) == -1)
		return -1;
	sched_arm();
	return 0;
}

void
sched_forget(struct future *f)
{
	if (timerq_queued(&f->tq)) {
		timerq_remove(&ss.timers, &f->tq);
		sched_arm();
	}
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
		c->due = now + (p->when <= ss.horizon ? p->when : ss.horizon + 1);
		break;
	case TRIGGER_AT:
		c->due = p->when;
		break;
	case TRIGGER_AT_UNIX:
		c->due = now + (p->when - unix_now);
		break;
	}
	ahead = c->due - now;
	if (ahead > ss.horizon)
		return core_error_set(err, CORE_EINVAL,
		    "%s: deadline is beyond the horizon of %lld seconds",
		    call_trigger_name(p->trigger), (long long)(ss.horizon / CLOCK_US_PER_S));
	c->due_unix = p->trigger == TRIGGER_AT_UNIX ? p->when : unix_now + ahead;
	return 0;
}

struct future *
sched_call(struct sched_call_params *p, int *existed, struct core_error *err)
{
	struct future *c, *target = NULL;
	int64_t now = clock_loop_now();

	*existed = 0;
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
	if (p->trigger == TRIGGER_ON_DONE && (target = future_find(p->target)) == NULL) {
		core_error_set(err, CORE_ENOTFOUND, "on_done: no such future");
		return NULL;
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
		if (timerq_push(&ss.timers, &c->tq, c->due) == -1) {
			core_error_set(err, CORE_ENOMEM, "out of memory");
			p->spec = c->spec;	/* not taken after all */
			c->spec = NULL;
			goto fail;
		}
		sched_arm();
		break;
	}
	ss.stats.scheduled++;
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
		ss.actions.abort(ss.actions.arg, c);
		return 1;
	}
	if (c->phase == CALL_WAITING) {
		if ((target = future_find(future_target(c))) != NULL)
			TAILQ_REMOVE(&target->x->callbacks, c, link);
	} else if (!timerq_queued(&c->tq)) {
		TAILQ_REMOVE(&ss.ready, c, link);
		ss.ready_len--;
	}
	future_settle(c, FUTURE_CANCELLED, NULL, 0);
	ss.stats.cancelled++;
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
	ss.stats.lateness[i]++;
	ss.stats.lateness_sum += (double)late / 1e6;
	ss.stats.started++;
}

void
sched_started(struct future *c)
{
	if (c->started == 0) {
		c->started = clock_loop_now();
		sched_count_start(c);
	}
	c->phase = CALL_RUNNING;
	c->attempts++;
	future_touch(c);
}

/* Place one restored pending call. */
static void
sched_recover_call(struct future *c, int64_t now, int64_t unix_now)
{
	struct future *target;

	if (c->phase == CALL_RUNNING) {
		/* Its action had started when the daemon stopped. */
		if (!ss.actions.interrupted(ss.actions.arg, c))
			return;
		c->phase = CALL_SCHEDULED;
		c->cancel_requested = 0;
		future_touch(c);
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
	if (timerq_push(&ss.timers, &c->tq, c->due) == -1)
		sched_ready_push(c);		/* out of memory: run it now */
}

void
sched_recover(void)
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
			sched_recover_call(f, now, unix_now);
		else if (f->due != 0 && timerq_push(&ss.timers, &f->tq, f->due) == -1)
			future_settle(f, FUTURE_CANCELLED, NULL, 0);
	}
	sched_arm();
}

void
sched_finish(struct future *c, char *outcome, int is_exception)
{
	if (c->dispatched) {
		c->dispatched = 0;
		ss.dispatched--;
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
		ss.stats.cancelled++;
	} else {
		future_settle(c, FUTURE_FINISHED, outcome, is_exception);
		if (is_exception)
			ss.stats.finished_exception++;
		else
			ss.stats.finished_result++;
	}
}

const struct sched_stats *
sched_stats(void)
{
	return &ss.stats;
}

void
sched_pause(void)
{
	ss.paused = 1;
	evtimer_del(ss.timer_ev);
}

size_t
sched_count_dispatched(void)
{
	return ss.dispatched;
}

/* Arm the one timer for the earliest deadline, or run next turn if the
 * ready FIFO has work. */
static void
sched_arm(void)
{
	int64_t due, left;
	struct timeval tv;

	if (ss.timer_ev == NULL || ss.paused)
		return;
	if (timerq_peek(&ss.timers, &due) == NULL) {
		evtimer_del(ss.timer_ev);
		return;
	}
	left = due - clock_loop_now();
	if (left <= 0) {
		evtimer_del(ss.timer_ev);
		event_active(ss.ready_ev, 0, 0);
		return;
	}
	tv = clock_timeval(left);
	event_base_update_cache_time(ss.base);	/* tv counts from now */
	evtimer_add(ss.timer_ev, &tv);
}

/* One loop turn of the scheduler: due timers join the ready FIFO behind
 * what is already there, then every call that was ready is started. */
static void
sched_run_cb(evutil_socket_t fd, short what, void *arg)
{
	int64_t now = clock_loop_now(), due;
	struct timerq_node *node;
	struct future *f;
	size_t n;

	if (ss.paused)
		return;
	while ((node = timerq_peek(&ss.timers, &due)) != NULL && due <= now) {
		timerq_remove(&ss.timers, node);
		f = FUTURE_OF(node);
		if (f->kind == FUTURE_PLAIN) {
			future_settle(f, FUTURE_CANCELLED, NULL, 0);	/* its timeout */
			continue;
		}
		if (f->trigger == TRIGGER_AT_UNIX) {
			/* The wall clock drifted (slewed) against ours: wait
			 * for the wall time itself, never start early. */
			int64_t left = f->due_unix - clock_unix_now();
			if (left > 0) {
				f->due = now + left;
				if (timerq_push(&ss.timers, &f->tq, f->due) == 0)
					continue;
			}
		}
		sched_ready_push(f);
	}

	for (n = ss.ready_len; n > 0 && (f = TAILQ_FIRST(&ss.ready)) != NULL; n--) {
		TAILQ_REMOVE(&ss.ready, f, link);
		ss.ready_len--;
		f->dispatched = 1;
		ss.dispatched++;
		/* Read its spec back from the store once, for the action and
		 * its retries; if that fails the action layer says so. */
		future_spec_hold(f);
		ss.actions.start(ss.actions.arg, f);
	}
	if (!TAILQ_EMPTY(&ss.ready))
		event_active(ss.ready_ev, 0, 0);
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
	return f->due;
}

/* The wall clock was set. Rare, so one O(n) pass over the heap is fine. */
static void
sched_clock_cb(evutil_socket_t fd, short what, void *arg)
{
	uint64_t ticks;
	int64_t delta;

	if (read(ss.clock_fd, &ticks, sizeof(ticks)) != -1 || errno != ECANCELED)
		return;
	delta = clock_loop_now() - clock_unix_now();
	timerq_rekey(&ss.timers, sched_rekey, &delta);
	if (sched_watch_clock() == -1)
		log_warn("timerfd_settime");
	log_info("wall clock was set; at_unix calls re-timed");
	sched_arm();
}
