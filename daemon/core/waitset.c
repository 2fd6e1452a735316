/*
 * waitset: N futures, a rule, a deadline; counters instead of rescans.
 *
 * Each pending future gets a waiter. When one wakes, its outcome is
 * counted (done, finished with an exception, cancelled) and the rule is
 * a comparison of counters: a result that wakes three waitsets of ten
 * thousand futures costs three increments, not thirty thousand lookups
 * (issue 13: such rescans cut the resolve rate from 2,419/s to 177/s).
 * The futures are looked at one by one only when the waitset ends (to
 * count afresh at a deadline, to find the first failure for the
 * encoder), once per waitset.
 *
 * Starting is two passes over the ids, a slice a loop turn when there
 * are many (issue 13: 10,000 ids held the loop 16-22 ms in one turn):
 * CHECK looks every id up (an unknown one ends it, before any waiter is
 * registered) and counts those done, which tells whether the answer is
 * due already; REGISTER counts afresh, putting a waiter on each pending
 * future. A future settled between slices is counted either way: before
 * its turn it is found done, after it its waiter wakes. The futures are
 * looked up by id on each pass, never kept as pointers across turns
 * (retention may free a done one). The end of a large waitset (ENDING)
 * is sliced the same way: each waiter dropped, each future looked at
 * once (counted afresh at a deadline), what it found kept for the encoder.
 */
#include "daemon/core/waitset.h"

#include <sys/queue.h>
#include <stdlib.h>

#include <event2/event.h>

#include "daemon/core/clock.h"
#include "daemon/core/future.h"

enum waitset_phase {
	WAITSET_NEW,			/* futures being added */
	WAITSET_CHECK,			/* started: ids being looked up */
	WAITSET_REGISTER,		/* checked: waiters being registered */
	WAITSET_WAITING,		/* waiters and a deadline registered */
	WAITSET_ENDING,			/* large and ended: futures being looked at */
	WAITSET_COMMIT,			/* ended; waiting for the store's commit */
	WAITSET_ENDED,			/* fn called, or answered at once */
	WAITSET_STOPPED,		/* stopped: fn never called */
};

/* What an id must name (waitset_add_id). */
enum waitset_want { WANT_ANY, WANT_CALL, WANT_FUTURE };

struct waitset {
	enum waitset_rule rule;
	enum waitset_phase phase;
	enum core_code error;		/* ended with an error instead of an answer
					 * (its words: waitset_error) */
	unsigned timed_out:1;
	unsigned answer_now:1;		/* CHECK: timeout 0, answer once checked */
	unsigned late:1;		/* CHECK: the deadline passed meanwhile */
	unsigned counted:1;		/* in waitsets.n_waiting */
	unsigned end_deadline:1;	/* ENDING: at the deadline */
	unsigned end_recount:1;		/* ENDING: count afresh */
	unsigned queued:1;		/* on waitsets.starting */
	size_t n, cap;
	uint64_t *ids;
	uint8_t *want;			/* per id: enum waitset_want (after ids) */
	struct waiter *w;		/* one per future, from REGISTER */
	size_t n_done, n_exc, n_cancelled;
	struct event *timer;
	waitset_fn fn;
	void *arg;
	size_t next;			/* CHECK, REGISTER: the next id */
	size_t max_waiters;
	uint8_t *snap;			/* each future done, as ENDING found it */
	size_t missing;			/* CORE_ENOTFOUND: which id */
	uint64_t commit_seq;		/* WAITSET_COMMIT: the commit awaited */
	TAILQ_ENTRY(waitset) commit_link;
	TAILQ_ENTRY(waitset) start_link;
};
TAILQ_HEAD(waitset_list, waitset);

/* Waking the waitsets whose commit is over goes a slice a loop turn:
 * at most WAITSET_SLICE of them, and no more once SLICE_US have passed
 * (the clock read every SLICE_CHECK), the rest on the next turn. A result
 * that ends ten thousand long-polls took 6-8 ms in one callback, and any
 * timer due then waited for all of it (issue 18). */
#define SLICE_US 500
#define SLICE_CHECK 32

static struct {
	uint64_t (*pending)(void);
	struct waitset_list commit;	/* ended, waiting for a commit, FIFO */
	size_t n_waiting;		/* WAITING or COMMIT */
	uint64_t done_seq;		/* the last commit over: waitsets up to it fire */
	struct event *slice_ev;		/* the next slice of fires (zero timer) */
	size_t last_slice;		/* waitsets fired by the last slice */
	struct waitset_list starting;	/* CHECK, REGISTER or ENDING, not done now, FIFO */
	struct event *start_ev;		/* their next slice (zero timer) */
} waitsets = { NULL, TAILQ_HEAD_INITIALIZER(waitsets.commit), 0, 0, NULL, 0,
    TAILQ_HEAD_INITIALIZER(waitsets.starting), NULL };

struct waitset *
waitset_new(enum waitset_rule rule, size_t cap)
{
	struct waitset *ws = calloc(1, sizeof(*ws));
	size_t n = cap ? cap : 1;

	/* The ids and what each must be, in one allocation (a long-poll's
	 * waitset of one fits the allocator's smallest block). */
	if (ws == NULL || (ws->ids = calloc(n, sizeof(*ws->ids) + sizeof(*ws->want))) == NULL) {
		free(ws);
		return NULL;
	}
	ws->want = (uint8_t *)(ws->ids + n);
	ws->rule = rule;
	ws->cap = cap;
	return ws;
}

int
waitset_add(struct waitset *ws, struct future *f)
{
	if (ws->phase != WAITSET_NEW || ws->n == ws->cap)
		return -1;
	ws->want[ws->n] = WANT_ANY;
	ws->ids[ws->n++] = f->id;
	return 0;
}

int
waitset_add_id(struct waitset *ws, uint64_t id, int call)
{
	if (ws->phase != WAITSET_NEW || ws->n == ws->cap)
		return -1;
	ws->want[ws->n] = call ? WANT_CALL : WANT_FUTURE;
	ws->ids[ws->n++] = id;
	return 0;
}

/* Count one done future's outcome (NULL: forgotten, so done). */
static void
waitset_count_one(struct waitset *ws, const struct future *f)
{
	ws->n_done++;
	if (f != NULL && f->state == FUTURE_FINISHED && f->has_exception)
		ws->n_exc++;
	else if (f != NULL && f->state == FUTURE_CANCELLED)
		ws->n_cancelled++;
}

/* Count every future afresh. */
static void
waitset_recount(struct waitset *ws)
{
	ws->n_done = ws->n_exc = ws->n_cancelled = 0;
	for (size_t i = 0; i < ws->n; i++) {
		struct future *f = future_find(ws->ids[i]);
		if (f == NULL || future_done(f))
			waitset_count_one(ws, f);
	}
}

int
waitset_ready(const struct waitset *ws)
{
	switch (ws->rule) {
	case WAITSET_FIRST_COMPLETED:
		return ws->n_done > 0;
	case WAITSET_FIRST_EXCEPTION:
		return ws->n_done == ws->n || ws->n_exc > 0;
	case WAITSET_GATHER:
		return ws->n_done == ws->n || ws->n_exc + ws->n_cancelled > 0;
	case WAITSET_ALL_COMPLETED:
	default:
		return ws->n_done == ws->n;
	}
}

/* Drop the waiters, the deadline, and the place in the start queue. */
static void
waitset_detach(struct waitset *ws)
{
	if (ws->w != NULL)
		for (size_t i = 0; i < ws->n; i++)
			waiter_remove(&ws->w[i]);
	if (ws->timer != NULL)
		evtimer_del(ws->timer);
	if (ws->queued) {
		TAILQ_REMOVE(&waitsets.starting, ws, start_link);
		ws->queued = 0;
	}
}

/* No longer one of the waitsets waiting. */
static void
waitset_uncount(struct waitset *ws)
{
	if (ws->counted) {
		waitsets.n_waiting--;
		ws->counted = 0;
	}
}

/* Tell the owner: the waitset has ended. */
static void
waitset_fire(struct waitset *ws)
{
	ws->phase = WAITSET_ENDED;
	waitset_uncount(ws);
	ws->fn(ws, ws->arg);		/* may free ws */
}

/* Report now what is true now (a deadline, a timeout of 0). */
static void
waitset_recount_at(struct waitset *ws, int at_deadline)
{
	/* Futures settled this turn have not woken their waiters yet:
	 * count what is true now. */
	waitset_recount(ws);
	if (at_deadline)
		ws->timed_out = !waitset_ready(ws);
}

/* The answer is due: tell the owner, once what is reported is durable. */
static void
waitset_finish(struct waitset *ws)
{
	uint64_t seq;

	if (waitsets.pending != NULL && (seq = waitsets.pending()) != 0) {
		ws->phase = WAITSET_COMMIT;
		ws->commit_seq = seq;
		TAILQ_INSERT_TAIL(&waitsets.commit, ws, commit_link);
		return;
	}
	waitset_fire(ws);
}

static void waitset_start_cb(evutil_socket_t fd, short what, void *arg);

/* Put ws at the end of the queue of sliced work, the next slice due. 0,
 * or -1 on ENOMEM. */
static int
waitset_enqueue(struct waitset *ws, struct event_base *base)
{
	struct timeval zero = { 0, 0 };

	if (waitsets.start_ev == NULL &&
	    (waitsets.start_ev = evtimer_new(base, waitset_start_cb, NULL)) == NULL)
		return -1;
	if (ws->queued)
		TAILQ_REMOVE(&waitsets.starting, ws, start_link);
	TAILQ_INSERT_TAIL(&waitsets.starting, ws, start_link);
	ws->queued = 1;
	evtimer_add(waitsets.start_ev, &zero);
	return 0;
}

/* The rule holds or the deadline passed (at_deadline), or the answer is
 * due once checked (recount: the counts are stale): end, once what is
 * reported is durable. A large waitset drops its waiters and looks at
 * its futures a slice a turn (ENDING). */
static void
waitset_end(struct waitset *ws, int at_deadline, int recount)
{
	if (ws->n > WAITSET_START_SLICE && ws->timer != NULL &&
	    (ws->snap != NULL || (ws->snap = malloc(ws->n)) != NULL) &&
	    waitset_enqueue(ws, event_get_base(ws->timer)) == 0) {
		evtimer_del(ws->timer);
		ws->phase = WAITSET_ENDING;
		ws->end_deadline = at_deadline;
		ws->end_recount = recount || at_deadline;
		ws->next = 0;
		if (ws->end_recount)
			ws->n_done = ws->n_exc = ws->n_cancelled = 0;
		return;
	}
	waitset_detach(ws);
	if (recount || at_deadline)
		waitset_recount_at(ws, at_deadline);
	waitset_finish(ws);
}

/* ENDING: drop the i-th waiter, note (and count afresh) its future. */
static void
waitset_end_one(struct waitset *ws, size_t i)
{
	struct future *f = future_find(ws->ids[i]);

	if (ws->w != NULL)
		waiter_remove(&ws->w[i]);
	ws->snap[i] = f == NULL || future_done(f);
	if (ws->end_recount && ws->snap[i])
		waitset_count_one(ws, f);
}

/* One of the futures is done. */
static void
waitset_wake(struct waiter *w, void *arg)
{
	struct waitset *ws = arg;

	if (ws->phase == WAITSET_ENDING)
		return;			/* ended: the end looks at it */
	waitset_count_one(ws, future_find(ws->ids[w - ws->w]));
	if (waitset_ready(ws))
		waitset_end(ws, 0, 0);
}

/* The deadline passed. */
static void
waitset_deadline_cb(evutil_socket_t fd, short what, void *arg)
{
	struct waitset *ws = arg;

	if (ws->phase == WAITSET_CHECK)
		ws->late = 1;		/* the ids are checked first: not yet */
	else
		waitset_end(ws, 1, 1);
}

/* Record an error instead of an answer: CORE_EFULL or CORE_ENOMEM. Only
 * its code is kept (a long-poll's waitset is small): waitset_error writes
 * its words. */
static void
waitset_fail(struct waitset *ws, enum core_code code)
{
	if (ws->error == CORE_OK)
		ws->error = code;
}

/* Record that the id at ws->missing names nothing. */
static void
waitset_fail_missing(struct waitset *ws)
{
	waitset_fail(ws, CORE_ENOTFOUND);
}

/* Whether the i-th id names a future of the kind wanted (and count it if
 * it is done). */
static int
waitset_check_one(struct waitset *ws, size_t i)
{
	struct future *f = future_find(ws->ids[i]);

	if (f == NULL || (ws->want[i] == WANT_CALL && f->kind != FUTURE_CALL) ||
	    (ws->want[i] == WANT_FUTURE && f->kind == FUTURE_CALL)) {
		/* A WANT_ANY future was given as a pointer: forgotten since,
		 * so done. */
		if (f == NULL && ws->want[i] == WANT_ANY) {
			waitset_count_one(ws, NULL);
			return 1;
		}
		ws->missing = i;
		return 0;
	}
	if (future_done(f))
		waitset_count_one(ws, f);
	return 1;
}

/* Register the i-th id's waiter, or count it if it is done. 0, or -1 on
 * ENOMEM. */
static int
waitset_register_one(struct waitset *ws, size_t i)
{
	struct future *f = future_find(ws->ids[i]);

	if (f == NULL || future_done(f)) {
		waitset_count_one(ws, f);
		return 0;
	}
	return future_wait(f, &ws->w[i], waitset_wake, ws);
}

/* How a step of a start ended. */
enum waitset_step {
	STEP_MORE,			/* the slice is used up: more next turn */
	STEP_WAITING,			/* every waiter registered, waiting */
	STEP_ANSWER,			/* the answer is due (ids checked, counted) */
	STEP_FAILED,			/* ws->error says why */
	STEP_ENDED,			/* ENDING is over */
};

/* Check, then register, ids until *items reaches WAITSET_START_SLICE or
 * the clock until (read every SLICE_CHECK). */
static enum waitset_step
waitset_step(struct waitset *ws, size_t *items, int64_t until)
{
	for (;;) {
		if (ws->next < ws->n) {
			if (*items == WAITSET_START_SLICE || (*items > 0 &&
			    *items % SLICE_CHECK == 0 && clock_loop_now() > until))
				return STEP_MORE;
			(*items)++;
			if (ws->phase == WAITSET_ENDING) {
				waitset_end_one(ws, ws->next++);
				continue;
			}
			if (ws->phase == WAITSET_CHECK && !waitset_check_one(ws, ws->next)) {
				waitset_fail_missing(ws);
				return STEP_FAILED;
			}
			if (ws->phase == WAITSET_REGISTER &&
			    waitset_register_one(ws, ws->next) == -1) {
				waitset_fail(ws, CORE_ENOMEM);
				return STEP_FAILED;
			}
			ws->next++;
			if (ws->phase == WAITSET_REGISTER && waitset_ready(ws))
				return STEP_ANSWER;	/* on a later turn: settled meanwhile */
			continue;
		}
		/* The answer (fn) on a slice of its own: its encoding is
		 * O(N) too. */
		if (ws->phase == WAITSET_ENDING)
			return *items > 0 ? STEP_MORE : STEP_ENDED;
		if (ws->phase == WAITSET_REGISTER)
			return STEP_WAITING;
		/* Checked: the answer is due, or waiters go on. */
		if (ws->answer_now || ws->late || waitset_ready(ws))
			return STEP_ANSWER;
		if (ws->max_waiters != 0 && waitsets.n_waiting >= ws->max_waiters) {
			waitset_fail(ws, CORE_EFULL);
			return STEP_FAILED;
		}
		if ((ws->w = calloc(ws->n ? ws->n : 1, sizeof(*ws->w))) == NULL) {
			waitset_fail(ws, CORE_ENOMEM);
			return STEP_FAILED;
		}
		ws->phase = WAITSET_REGISTER;
		ws->counted = 1;
		waitsets.n_waiting++;
		ws->n_done = ws->n_exc = ws->n_cancelled = 0;
		ws->next = 0;
	}
}

/* A step ended on a later turn than the start: act on it. */
static void
waitset_step_done(struct waitset *ws, enum waitset_step step)
{
	switch (step) {
	case STEP_MORE:
		break;
	case STEP_WAITING:
		ws->phase = WAITSET_WAITING;
		if (ws->queued) {
			TAILQ_REMOVE(&waitsets.starting, ws, start_link);
			ws->queued = 0;
		}
		break;
	case STEP_ANSWER:
		/* The counts of a check span turns: count afresh. */
		waitset_end(ws, ws->phase == WAITSET_CHECK && ws->late,
		    ws->phase == WAITSET_CHECK);
		break;
	case STEP_ENDED:
		if (ws->end_deadline)
			ws->timed_out = !waitset_ready(ws);
		TAILQ_REMOVE(&waitsets.starting, ws, start_link);
		ws->queued = 0;
		waitset_finish(ws);
		break;
	case STEP_FAILED:
		waitset_detach(ws);
		waitset_fire(ws);
		break;
	}
}

/* Nothing left on queue q: drop its slice timer *ev (its base may go
 * next). */
static void
waitset_queue_idle(struct waitset_list *q, struct event **ev)
{
	if (TAILQ_EMPTY(q) && *ev != NULL) {
		event_free(*ev);
		*ev = NULL;
	}
}

/* Nothing left to start. */
static void
waitset_start_idle(void)
{
	waitset_queue_idle(&waitsets.starting, &waitsets.start_ev);
}

/* The next slice of the waitsets starting, in the order they started,
 * on a zero timer (timers and I/O run between slices). */
static void
waitset_start_cb(evutil_socket_t fd, short what, void *arg)
{
	struct timeval zero = { 0, 0 };
	int64_t until = clock_slice_end(SLICE_US);
	size_t items = 0;
	struct waitset *ws;
	enum waitset_step step;

	while ((ws = TAILQ_FIRST(&waitsets.starting)) != NULL) {
		step = waitset_step(ws, &items, until);
		waitset_step_done(ws, step);	/* may free ws, or others */
		/* One answer a slice: encoding it is O(N) too. */
		if (step == STEP_MORE || step == STEP_ENDED || clock_loop_now() > until)
			break;
	}
	if (TAILQ_EMPTY(&waitsets.starting))
		waitset_start_idle();
	else
		evtimer_add(waitsets.start_ev, &zero);
}

int
waitset_start(struct waitset *ws, struct event_base *base, int64_t timeout,
    const struct waitset_limits *lim, waitset_fn fn, void *arg, struct core_error *err)
{
	struct timeval tv;
	size_t items = 0;
	enum waitset_step step;

	if (ws->phase != WAITSET_NEW)
		return core_error_set(err, CORE_EINVAL, "the waitset was started already");
	if ((ws->timer = evtimer_new(base, waitset_deadline_cb, ws)) == NULL)
		return core_error_set(err, CORE_ENOMEM, "out of memory");
	ws->fn = fn;
	ws->arg = arg;
	ws->max_waiters = lim->max_waiters;
	ws->answer_now = timeout == 0;
	ws->phase = WAITSET_CHECK;
	ws->next = 0;
	ws->n_done = ws->n_exc = ws->n_cancelled = 0;
	if (!ws->answer_now) {
		if (timeout < 0 || timeout > lim->max_wait)
			timeout = lim->max_wait;	/* capped, not refused */
		tv = clock_timeval(timeout);
		evtimer_add(ws->timer, &tv);
	}
	/* A small waitset is started (or answered) before this returns, as
	 * it always was; a large one has its first slice on the next turn
	 * (this one decoded the request). */
	step = ws->n > WAITSET_START_SLICE ? STEP_MORE :
	    waitset_step(ws, &items, clock_slice_end(SLICE_US));
	switch (step) {
	case STEP_WAITING:
		ws->phase = WAITSET_WAITING;
		return 0;
	case STEP_ANSWER:
		waitset_detach(ws);
		waitset_uncount(ws);
		ws->phase = WAITSET_ENDED;
		return 1;
	case STEP_FAILED:
		waitset_detach(ws);
		waitset_uncount(ws);
		ws->phase = WAITSET_ENDED;
		return waitset_error(ws, err);
	case STEP_MORE:
	default:
		break;
	}
	if (waitset_enqueue(ws, base) == -1) {
		waitset_detach(ws);
		waitset_uncount(ws);
		ws->phase = WAITSET_ENDED;
		return core_error_set(err, CORE_ENOMEM, "out of memory");
	}
	return 0;
}

int
waitset_starting(const struct waitset *ws)
{
	return ws->phase == WAITSET_CHECK || ws->phase == WAITSET_REGISTER;
}

int
waitset_error(const struct waitset *ws, struct core_error *err)
{
	struct core_error none = { CORE_OK, "" };

	if (ws->error == CORE_OK)
		return 0;
	if (err == NULL)
		err = &none;
	if (ws->error == CORE_EFULL)
		return core_error_set(err, CORE_EFULL, "too many waiters (max_waiters = %zu)",
		    ws->max_waiters);
	if (ws->error == CORE_ENOTFOUND)
		return core_error_set(err, CORE_ENOTFOUND, "no such %s (futures[%zu])",
		    ws->want[ws->missing] == WANT_CALL ? "call" : "future", ws->missing);
	return core_error_set(err, ws->error, "out of memory");
}

size_t
waitset_missing(const struct waitset *ws)
{
	return ws->missing;
}

/* Nothing left to fire. */
static void
waitset_slice_idle(void)
{
	waitset_queue_idle(&waitsets.commit, &waitsets.slice_ev);
}

/* Stop: no waiter, no deadline, no slice, fn never called. */
static void
waitset_halt(struct waitset *ws)
{
	if (ws->phase == WAITSET_NEW || ws->phase == WAITSET_ENDED ||
	    ws->phase == WAITSET_STOPPED)
		return;
	waitset_detach(ws);
	if (ws->phase == WAITSET_COMMIT) {
		TAILQ_REMOVE(&waitsets.commit, ws, commit_link);
		waitset_slice_idle();
	}
	waitset_start_idle();
	waitset_uncount(ws);
	ws->phase = WAITSET_STOPPED;
}

void
waitset_stop(struct waitset *ws)
{
	/* An unknown id is still an error to report: check the rest now. */
	if (ws->phase == WAITSET_CHECK)
		while (ws->next < ws->n && waitset_check_one(ws, ws->next))
			ws->next++;
	if (ws->phase == WAITSET_CHECK && ws->next < ws->n)
		waitset_fail_missing(ws);
	waitset_halt(ws);
	waitset_recount(ws);
}

void
waitset_free(struct waitset *ws)
{
	if (ws == NULL)
		return;
	waitset_halt(ws);
	if (ws->timer != NULL)
		event_free(ws->timer);
	free(ws->w);
	free(ws->snap);
	free(ws->ids);			/* and want */
	free(ws);
}

int
waitset_timed_out(const struct waitset *ws)
{
	return ws->timed_out;
}

size_t
waitset_size(const struct waitset *ws)
{
	return ws->n;
}

uint64_t
waitset_id(const struct waitset *ws, size_t i)
{
	return ws->ids[i];
}

struct future *
waitset_future(const struct waitset *ws, size_t i)
{
	return future_find(ws->ids[i]);
}

int
waitset_done(const struct waitset *ws, size_t i)
{
	struct future *f;

	if (ws->snap != NULL && ws->phase == WAITSET_ENDED)
		return ws->snap[i];
	f = future_find(ws->ids[i]);
	return f == NULL || future_done(f);
}

size_t
waitset_failure(const struct waitset *ws)
{
	for (size_t i = 0; i < ws->n; i++) {
		struct future *f = future_find(ws->ids[i]);
		if (f == NULL)
			continue;
		if ((f->state == FUTURE_FINISHED && f->has_exception) ||
		    (ws->rule == WAITSET_GATHER && f->state == FUTURE_CANCELLED))
			return i;
	}
	return ws->n;
}

size_t
waitset_count(void)
{
	return waitsets.n_waiting;
}

void
waitset_set_durability(uint64_t (*pending)(void))
{
	waitsets.pending = pending;
	waitsets.done_seq = 0;		/* a new store numbers afresh */
}

static void waitset_slice_cb(evutil_socket_t fd, short what, void *arg);

/* Fire a slice of the waitsets whose commit is over, in the order they
 * ended; if some are left, the next slice on a zero timer (not
 * event_active: libevent would run it in this same pass, before timers
 * and I/O). */
static void
waitset_slice(void)
{
	struct waitset *ws;
	struct event_base *base;
	struct timeval zero = { 0, 0 };
	int64_t until = clock_slice_end(SLICE_US);
	size_t n = 0;

	while ((ws = TAILQ_FIRST(&waitsets.commit)) != NULL &&
	    ws->commit_seq <= waitsets.done_seq) {
		if (n == WAITSET_SLICE ||
		    (n > 0 && n % SLICE_CHECK == 0 && clock_loop_now() > until))
			break;
		TAILQ_REMOVE(&waitsets.commit, ws, commit_link);
		n++;
		waitset_fire(ws);	/* may free ws, or stop others */
	}
	waitsets.last_slice = n;
	ws = TAILQ_FIRST(&waitsets.commit);
	if (ws == NULL || ws->commit_seq > waitsets.done_seq) {
		waitset_slice_idle();
		return;
	}
	if (waitsets.slice_ev == NULL) {
		base = event_get_base(ws->timer);
		if ((waitsets.slice_ev = evtimer_new(base, waitset_slice_cb, NULL)) == NULL) {
			/* Out of memory: fire the rest now rather than never. */
			while ((ws = TAILQ_FIRST(&waitsets.commit)) != NULL &&
			    ws->commit_seq <= waitsets.done_seq) {
				TAILQ_REMOVE(&waitsets.commit, ws, commit_link);
				waitset_fire(ws);
			}
			return;
		}
	}
	evtimer_add(waitsets.slice_ev, &zero);
}

/* The next slice's turn. */
static void
waitset_slice_cb(evutil_socket_t fd, short what, void *arg)
{
	waitset_slice();
}

void
waitset_commit_done(int ok, uint64_t seq)
{
	/* Commits end in order, and waitsets joined in order: those up to
	 * seq fire, the first slice now, the rest on later turns. */
	if (seq > waitsets.done_seq)
		waitsets.done_seq = seq;
	waitset_slice();
}

size_t
waitset_last_slice(void)
{
	return waitsets.last_slice;
}
