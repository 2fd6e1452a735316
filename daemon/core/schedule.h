/*
 * schedule: recurring schedules (API.md section 10). A schedule holds a
 * parsed recur spec and its zone, bounds, policies and an opaque action
 * (the spec text of the calls it makes), and materialises each
 * occurrence as an ordinary call (sched_call) carrying the schedule's id
 * and the occurrence's nominal time (future_ext.schedule, .scheduled_for).
 *
 *  - Ids: "s_" + 16 hex digits, taken from the same counter as calls and
 *    futures (future_peek_next_id), so one id names one object and the
 *    store's dirty list and next_id serve both.
 *  - One occurrence ahead: an active schedule keeps exactly one call for
 *    its next nominal time (an at_unix call, due at nominal + jitter), and
 *    makes the following one as soon as that call starts, is held back by
 *    the overlap policy, or ends before starting. The store's claim (sched.h)
 *    makes each call run once; the mark (the last nominal time made) only
 *    moves forward, and the store's UNIQUE (schedule, scheduled_for) index
 *    refuses a second call for one nominal time.
 *  - Overlap is decided at start (sched_set_gate): with a previous
 *    occurrence still running, skip ends the new one cancelled, buffer_one
 *    and buffer_all make it wait for the running one (a done-callback of
 *    it, so it survives a restart), cancel_other cancels the running one,
 *    allow_all starts it. Trigger, backfill and catch-up calls are exempt.
 *  - Missed occurrences (downtime, a pause, a wall-clock jump): found at
 *    start (schedule_recover) and on resume from the mark. Those at most
 *    catchup_window late run anyway; older ones follow catchup: skip none,
 *    latest the most recent one, all the most recent SCHEDULE_CATCHUP_CAP.
 *    They run one after another (each a done-callback of the one before),
 *    never as a burst. A mark beyond the spec's next fire time (the clock
 *    was set back) is not trusted: the schedule restarts from now,
 *    skipping nominal times that already have a call.
 *  - Jitter: nominal + h(id, nominal) mod (jitter + 1), capped below the
 *    next nominal time.
 *  - An occurrence cancelled before it starts (a pause, an edit, a user)
 *    consumes its nominal time: it is not made again.
 *  - A failed commit (a full disk, a read-only store): a schedule created
 *    in it was never stored, and its creator's 201 became a 503, so it is
 *    undone (schedule_commit_done). The call made ahead of a stored
 *    schedule, dropped by the store for the same reason, is made again
 *    for the same nominal time.
 */
#ifndef LOOPD_CORE_SCHEDULE_H
#define LOOPD_CORE_SCHEDULE_H

#include <sys/queue.h>
#include <stdint.h>

#include "daemon/core/error.h"
#include "daemon/core/future.h"
#include "recur/spec.h"
#include "recur/tzfile.h"

#define SCHEDULE_RECENT		10	/* occurrences a schedule remembers */
#define SCHEDULE_CATCHUP_CAP	100	/* missed occurrences run at most */
#define SCHEDULE_WINDOW_DEFAULT	60000000	/* catchup_window, microseconds */

enum schedule_state { SCHEDULE_ACTIVE, SCHEDULE_PAUSED };
enum schedule_catchup { CATCHUP_SKIP, CATCHUP_LATEST, CATCHUP_ALL };
enum schedule_overlap {
	OVERLAP_SKIP, OVERLAP_BUFFER_ONE, OVERLAP_BUFFER_ALL, OVERLAP_CANCEL_OTHER,
	OVERLAP_ALLOW_ALL,
};

struct proto_call_req;

/* What a schedule is made of (create, replace, restore). Strings are
 * borrowed except action, which the schedule takes on success. A request
 * gives call instead, admitted into action like a call's (sched_admit);
 * the caller frees action if the schedule did not take it. */
struct schedule_params {
	enum recur_kind kind;
	const char *spec;		/* the spec text */
	const char *tz;			/* NULL: UTC */
	const char *name;		/* or NULL */
	char *action;			/* the calls' spec text, opaque */
	struct proto_call_req *call;	/* or the action to admit into it */
	int64_t start, end;		/* Unix microseconds; 0: none */
	uint64_t count;			/* occurrences at most; 0: no limit */
	enum schedule_catchup catchup;
	int64_t catchup_window;		/* microseconds; < 0: the default */
	enum schedule_overlap overlap;
	int pause_on_failure;
	int64_t jitter;			/* microseconds */
};

struct schedule {
	uint64_t id;
	TAILQ_ENTRY(schedule) all;	/* every schedule, in id order */
	struct recur_spec spec;
	const struct tz_zone *zone;	/* NULL for every and UTC */
	char *spec_text, *tz, *name, *action;
	int64_t start, end, catchup_window, jitter;
	int64_t created;		/* Unix microseconds */
	int64_t mark;			/* the last nominal time made; 0: none */
	uint64_t count, fired;
	uint64_t pending;		/* the call made ahead, not started */
	uint64_t last_started;		/* the occurrence started last */
	uint64_t recent[SCHEDULE_RECENT];	/* a ring of occurrence ids */
	unsigned int n_recent;
	uint8_t kind, state, catchup, overlap, pause_on_failure;
	unsigned int dirty : 1;
	unsigned int gone : 1;
	uint64_t unsaved;		/* created, not yet stored: the commit
					 * that holds it (0: stored) */
	TAILQ_ENTRY(schedule) unsaved_link;
	int64_t pending_for, pending_mark;	/* the call made ahead: its
						 * nominal time; the mark before */
	struct waiter w_pending, w_run;
};

/* Limits (config max_schedules, schedule_min_interval). */
struct schedule_limits {
	size_t max_schedules;		/* 0: no cap */
	int64_t min_interval;		/* microseconds */
};

/* Set up the module: zones come from zoneinfo (NULL: the system's). It
 * installs the scheduler's gate. 0 or -1. */
int schedule_init(const char *zoneinfo, const struct schedule_limits *limits);
/* Free every schedule and the zone cache. */
void schedule_shutdown(void);
void schedule_set_limits(const struct schedule_limits *limits);
/* Read zone files again (a reload); -1 if one failed (it keeps its data). */
int schedule_reload_zones(char *err, size_t errlen);

/* Create a schedule (active) and make its first occurrence. NULL with err
 * naming the field (CORE_EINVAL), CORE_EFULL at the cap. */
struct schedule *schedule_create(struct schedule_params *p, struct core_error *err);
/* Replace a schedule's definition (PATCH): the call made ahead is
 * cancelled and the next one made from now under the new definition. */
int schedule_replace(struct schedule *s, struct schedule_params *p,
    struct core_error *err);
/* Delete: the call made ahead is cancelled; past occurrences stay. */
void schedule_delete(struct schedule *s);
/* Pause (the call made ahead is cancelled) and resume (missed
 * occurrences per catchup). 0, or -1 with CORE_ESTATE if already so. */
int schedule_pause(struct schedule *s, struct core_error *err);
int schedule_resume(struct schedule *s, struct core_error *err);
/* Run one occurrence now (nominal time: now). The call, or NULL. */
struct future *schedule_trigger(struct schedule *s, struct core_error *err);
/* Run the occurrences whose nominal times are in [from, to] (Unix
 * microseconds, to <= now) that have no call yet, one after another;
 * at most SCHEDULE_CATCHUP_CAP. Returns how many, or -1. */
int schedule_backfill(struct schedule *s, int64_t from, int64_t to,
    struct core_error *err);

/* The first n fire times at or after from (Unix microseconds), within the
 * bounds and the count; returns how many. */
int schedule_next_times(const struct schedule *s, int64_t from, int64_t *out, int n);
/* The zone's offset (seconds east) at Unix microseconds t. */
int32_t schedule_utoff(const struct schedule *s, int64_t t);

struct schedule *schedule_find(uint64_t id);
struct schedule *schedule_first_after(uint64_t after);
struct schedule *schedule_next(struct schedule *s);
size_t schedule_count(void);

/* The store: a schedule's row was taken for a commit / committed. */
void schedule_mark_saving(struct schedule *s);
/* How durability is known (after schedule_init): pending() gives the
 * number of the store's commit that will hold what changed so far, 0 if
 * that is durable already. */
void schedule_set_durability(uint64_t (*pending)(void));
/* The store's commit seq is over (in order). ok: the schedules created
 * for it are stored. Else those never stored are undone, as if never
 * created (their creators' 201 became a 503: nothing happened). */
void schedule_commit_done(int ok, uint64_t seq);
/* Re-create a schedule from the store (before schedule_recover); its
 * action is taken. NULL on a damaged row (err says why). */
struct schedule *schedule_restore(uint64_t id, enum schedule_state state,
    struct schedule_params *p, int64_t created, int64_t mark, uint64_t fired,
    struct core_error *err);
/* After sched_init and sched_recover: install the scheduler's gate, find
 * each schedule's calls again, apply the missed-run policy, make the next
 * occurrences. */
void schedule_recover(void);

/* An occurrence call's schedule id and nominal time (0 if none). */
uint64_t future_schedule(const struct future *f);
int64_t future_scheduled_for(const struct future *f);

const char *schedule_state_name(enum schedule_state s);
const char *schedule_catchup_name(enum schedule_catchup c);
const char *schedule_overlap_name(enum schedule_overlap o);
int schedule_catchup_parse(const char *s);
int schedule_overlap_parse(const char *s);

#endif
