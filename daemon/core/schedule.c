/*
 * schedule: recurring schedules that make calls (see schedule.h).
 */
#include "daemon/core/schedule.h"

#include <stdlib.h>
#include <string.h>

#include "daemon/core/clock.h"
#include "daemon/core/events.h"
#include "daemon/core/idmap.h"
#include "daemon/core/names.h"
#include "daemon/core/sched.h"
#include "daemon/log.h"
#include "recur/next.h"

TAILQ_HEAD(schedule_list, schedule);
TAILQ_HEAD(schedule_unsaved, schedule);

static struct {
	struct tz_cache *zones;
	struct schedule_limits limits;
	struct schedule_list all;
	struct schedule_unsaved unsaved;	/* created, not yet stored, by commit */
	struct idmap ids;
	uint64_t (*pending)(void);	/* the store's commit for what changed */
	int ready;
} schedules;

static int schedule_gate(struct future *c);
static void schedule_make_next(struct schedule *s);
static void schedule_catch_up(struct schedule *s, uint64_t after);
static void schedule_clock_set(void);

static const char *const state_names[] = { "active", "paused" };
static const char *const catchup_names[] = { "skip", "latest", "all" };
static const char *const overlap_names[] = {
	"skip", "buffer_one", "buffer_all", "cancel_other", "allow_all",
};

const char *
schedule_state_name(enum schedule_state s)
{
	return state_names[s];
}

const char *
schedule_catchup_name(enum schedule_catchup c)
{
	return catchup_names[c];
}

const char *
schedule_overlap_name(enum schedule_overlap o)
{
	return overlap_names[o];
}

int
schedule_catchup_parse(const char *s)
{
	return names_index(catchup_names, 3, s);
}

int
schedule_overlap_parse(const char *s)
{
	return names_index(overlap_names, 5, s);
}

uint64_t
future_schedule(const struct future *f)
{
	return f->x != NULL ? f->x->schedule : 0;
}

int64_t
future_scheduled_for(const struct future *f)
{
	return f->x != NULL ? f->x->scheduled_for : 0;
}

int
schedule_init(const char *zoneinfo, const struct schedule_limits *limits)
{
	memset(&schedules, 0, sizeof(schedules));
	TAILQ_INIT(&schedules.all);
	TAILQ_INIT(&schedules.unsaved);
	idmap_init(&schedules.ids);
	schedules.limits = *limits;
	if ((schedules.zones = tz_cache_new(zoneinfo)) == NULL)
		return -1;
	sched_set_gate(schedule_gate);
	schedules.ready = 1;
	return 0;
}

/* Free one schedule's memory. */
static void
schedule_free(struct schedule *s)
{
	if (s == NULL)
		return;
	if (s->unsaved != 0)
		TAILQ_REMOVE(&schedules.unsaved, s, unsaved_link);
	waiter_remove(&s->w_pending);
	waiter_remove(&s->w_run);
	free(s->spec_text);
	free(s->tz);
	free(s->name);
	free(s->action);
	free(s);
}

void
schedule_shutdown(void)
{
	struct schedule *s;

	if (!schedules.ready)
		return;
	while ((s = TAILQ_FIRST(&schedules.all)) != NULL) {
		TAILQ_REMOVE(&schedules.all, s, all);
		/* The futures may be gone already: forget the waiters. */
		memset(&s->w_pending, 0, sizeof(s->w_pending));
		memset(&s->w_run, 0, sizeof(s->w_run));
		s->unsaved = 0;
		schedule_free(s);
	}
	idmap_free(&schedules.ids);
	tz_cache_free(schedules.zones);
	sched_set_gate(NULL);
	memset(&schedules, 0, sizeof(schedules));
}

void
schedule_set_limits(const struct schedule_limits *limits)
{
	schedules.limits = *limits;
}

int
schedule_reload_zones(char *err, size_t errlen)
{
	return tz_cache_reload(schedules.zones, err, errlen) == 0 ? 0 : -1;
}

/* Tell the store, and the event stream (once it is stored), that a
 * schedule changed: at most one schedule.changed per commit. */
static void
schedule_touch(struct schedule *s)
{
	if (s->dirty)
		return;
	s->dirty = 1;
	future_touch_id(s->id);
	events_emit_id(EVENTS_SCHEDULE_CHANGED, s->id);
}

void
schedule_mark_saving(struct schedule *s)
{
	s->dirty = 0;
}

void
schedule_set_durability(uint64_t (*pending)(void))
{
	schedules.pending = pending;
}

void
schedule_commit_done(int ok, uint64_t seq)
{
	struct schedule *s;

	while ((s = TAILQ_FIRST(&schedules.unsaved)) != NULL && s->unsaved <= seq) {
		TAILQ_REMOVE(&schedules.unsaved, s, unsaved_link);
		s->unsaved = 0;
		if (ok)
			continue;
		/* Its row was in the failed commit, with the call made
		 * ahead (which the store dropped): it never existed. */
		log_info("schedule s_%016llx: not created (the store could not save it)",
		    (unsigned long long)s->id);
		schedule_delete(s);
	}
}

struct schedule *
schedule_find(uint64_t id)
{
	struct schedule *s = idmap_get(&schedules.ids, id);

	return s != NULL && !s->gone ? s : NULL;
}

struct schedule *
schedule_first_after(uint64_t after)
{
	struct schedule *s;

	TAILQ_FOREACH(s, &schedules.all, all)
		if (s->id > after)
			return s;
	return NULL;
}

struct schedule *
schedule_next(struct schedule *s)
{
	return TAILQ_NEXT(s, all);
}

size_t
schedule_count(void)
{
	return idmap_len(&schedules.ids);
}

int32_t
schedule_utoff(const struct schedule *s, int64_t t)
{
	return s->zone != NULL ? tz_offset(s->zone, t / RECUR_US -
	    (t % RECUR_US < 0 ? 1 : 0)) : 0;
}

/* The first fire time strictly after t within the bounds (ignoring the
 * count), into *out; 0, or -1 if none. */
static int
schedule_fire_after(const struct schedule *s, int64_t t, int64_t *out)
{
	if (s->start != 0 && t < s->start - 1)
		t = s->start - 1;
	if (recur_next(&s->spec, s->zone, t, out) == -1)
		return -1;
	return s->end != 0 && *out > s->end ? -1 : 0;
}

int
schedule_next_times(const struct schedule *s, int64_t from, int64_t *out, int n)
{
	int64_t t = from - 1;
	int i;

	for (i = 0; i < n; i++) {
		if (s->count != 0 && s->fired + (uint64_t)i >= s->count)
			break;
		if (schedule_fire_after(s, t, &out[i]) == -1)
			break;
		t = out[i];
	}
	return i;
}

/* Check and fill a schedule's definition from p (spec, zone, policies);
 * the action is taken only on success. 0, or -1 with err naming the
 * field. */
static int
schedule_define(struct schedule *s, struct schedule_params *p, struct core_error *err)
{
	struct recur_spec spec;
	const struct tz_zone *zone = NULL;
	const char *field = recur_kind_name(p->kind);
	char why[256];
	char *spec_text = NULL, *tz = NULL, *name = NULL;
	int64_t first;

	/* The calls' action first, admitted like a call's (a policy's
	 * refusal). */
	if (p->action == NULL && (p->call == NULL ||
	    sched_admit(p->call, &p->action, NULL, err) == -1))
		return p->call == NULL ? core_error_set(err, CORE_EINVAL, "no action") : -1;
	if (p->spec == NULL || recur_parse(p->kind, p->spec, &spec, why, sizeof(why)) == -1)
		return p->spec != NULL && strncmp(why, field, strlen(field)) == 0 &&
		    why[strlen(field)] == ':' ? core_error_set(err, CORE_EINVAL, "%s", why) :
		    core_error_set(err, CORE_EINVAL, "%s: %s", field,
		    p->spec == NULL ? "missing" : why);
	if (p->kind != RECUR_EVERY && p->tz != NULL && strcmp(p->tz, "UTC") != 0 &&
	    (zone = tz_cache_get(schedules.zones, p->tz, why, sizeof(why))) == NULL)
		return core_error_set(err, CORE_EINVAL, "tz: %s", why);
	if (p->kind == RECUR_EVERY && spec.u.every.period < schedules.limits.min_interval)
		return core_error_set(err, CORE_EINVAL,
		    "every: %s is shorter than the minimum interval of %.6g s", p->spec,
		    (double)schedules.limits.min_interval / 1e6);
	if (p->start != 0 && p->end != 0 && p->end < p->start)
		return core_error_set(err, CORE_EINVAL, "end: before start");
	if (p->jitter < 0)
		return core_error_set(err, CORE_EINVAL, "jitter: must be >= 0");
	{
		struct schedule probe = *s;

		probe.spec = spec;
		probe.zone = zone;
		probe.start = p->start;
		probe.end = p->end;
		if (schedule_fire_after(&probe, p->start != 0 ? p->start - 1 :
		    clock_unix_now(), &first) == -1)
			return core_error_set(err, CORE_EINVAL, "%s: never fires%s", field,
			    p->end != 0 ? " before end" : "");
	}
	if ((p->tz != NULL && (tz = strdup(p->tz)) == NULL) ||
	    (spec_text = strdup(p->spec)) == NULL ||
	    (p->name != NULL && (name = strdup(p->name)) == NULL)) {
		free(tz);
		free(spec_text);
		return core_error_set(err, CORE_ENOMEM, "out of memory");
	}
	free(s->spec_text);
	free(s->tz);
	free(s->name);
	free(s->action);
	s->spec = spec;
	s->zone = zone;
	s->kind = (uint8_t)p->kind;
	s->spec_text = spec_text;
	s->tz = tz;
	s->name = name;
	s->action = p->action;
	p->action = NULL;
	s->start = p->start;
	s->end = p->end;
	s->count = p->count;
	s->catchup = (uint8_t)p->catchup;
	s->catchup_window = p->catchup_window >= 0 ? p->catchup_window :
	    SCHEDULE_WINDOW_DEFAULT;
	s->overlap = (uint8_t)p->overlap;
	s->pause_on_failure = p->pause_on_failure != 0;
	s->jitter = p->jitter;
	return 0;
}

/* Allocate a schedule with id and register it. */
static struct schedule *
schedule_alloc(uint64_t id)
{
	struct schedule *s = calloc(1, sizeof(*s));

	if (s == NULL || idmap_put(&schedules.ids, id, s) == -1) {
		free(s);
		return NULL;
	}
	s->id = id;
	TAILQ_INSERT_TAIL(&schedules.all, s, all);
	return s;
}

/* Remember an occurrence in the ring of recent ones. */
static void
schedule_remember(struct schedule *s, uint64_t call)
{
	s->recent[s->n_recent % SCHEDULE_RECENT] = call;
	s->n_recent++;
}

/* A deterministic delay in [0, max] for nominal time t. */
static int64_t
schedule_jitter(const struct schedule *s, int64_t t, int64_t max)
{
	uint64_t k[2] = { s->id, (uint64_t)t };
	uint64_t h;

	if (max <= 0)
		return 0;
	h = idmap_hash_bytes(k, sizeof(k));
	return (int64_t)(h % ((uint64_t)max + 1));
}

/* Make a call for nominal time t: trigger at_unix at t + delay, soon
 * (delay < 0), or a done-callback of after (non-zero). NULL on error. */
static struct future *
schedule_call(struct schedule *s, int64_t t, int64_t delay, uint64_t after,
    struct core_error *err)
{
	struct sched_call_params p = { 0 };
	struct future *c;
	int existed;

	if (after != 0) {
		p.trigger = TRIGGER_ON_DONE;
		p.target = after;
	} else if (delay >= 0) {
		p.trigger = TRIGGER_AT_UNIX;
		p.when = t + delay;
	} else
		p.trigger = TRIGGER_SOON;
	p.name = s->name;
	p.schedule = s->id;
	p.scheduled_for = t;
	if ((p.spec = strdup(s->action)) == NULL) {
		core_error_set(err, CORE_ENOMEM, "out of memory");
		return NULL;
	}
	c = sched_call(&p, &existed, err);
	free(p.spec);
	if (c != NULL)
		schedule_remember(s, c->id);
	return c;
}

/* Whether nominal time t has a call already (made before the mark was
 * reset after the clock was set back, or by a trigger or a backfill): the
 * occurrence index, O(1). */
static int
schedule_taken(const struct schedule *s, int64_t t)
{
	return future_occurrence_find(s->id, t) != NULL;
}

/* A waiter fired: the call made ahead ended before starting, or the
 * running one ended. */
static void schedule_woken(struct waiter *w, void *arg);

/* Make the next occurrence ahead if the schedule is active and has none. */
static void
schedule_make_next(struct schedule *s)
{
	struct core_error err = { CORE_OK, "" };
	struct future *c;
	int64_t t, after, delay;

	if (s->gone || s->state != SCHEDULE_ACTIVE)
		return;
	if (s->pending != 0 && (c = future_find(s->pending)) != NULL && !future_done(c) &&
	    c->started == 0)
		return;
	s->pending = 0;
	/* Far behind (the wall clock jumped ahead, the machine slept): the
	 * missed ones follow catchup, not one call each at once. */
	if (schedule_fire_after(s, s->mark, &t) == 0 &&
	    t < clock_unix_now() - s->catchup_window)
		schedule_catch_up(s, 0);
	for (t = s->mark; ; ) {
		if (s->count != 0 && s->fired >= s->count)
			return;
		if (schedule_fire_after(s, t, &t) == -1)
			return;
		if (!schedule_taken(s, t))
			break;
	}
	delay = 0;
	if (s->jitter > 0) {
		int64_t max = s->jitter;
		if (schedule_fire_after(s, t, &after) == 0 && after - t - 1 < max)
			max = after - t - 1;
		delay = schedule_jitter(s, t, max);
	}
	if ((c = schedule_call(s, t, delay, 0, &err)) == NULL) {
		log_warnx("schedule s_%016llx: cannot make the occurrence at %lld: %s",
		    (unsigned long long)s->id, (long long)(t / RECUR_US), err.msg);
		return;
	}
	s->pending_mark = s->mark;
	s->pending_for = t;
	s->mark = t;
	s->fired++;
	s->pending = c->id;
	schedule_touch(s);
	waiter_remove(&s->w_pending);
	future_wait(c, &s->w_pending, schedule_woken, s);
}

/* Follow the running occurrence c: pause_on_failure needs its end. */
static void
schedule_follow(struct schedule *s, struct future *c)
{
	s->last_started = c->id;
	waiter_remove(&s->w_run);
	future_wait(c, &s->w_run, schedule_woken, s);
}

static void
schedule_woken(struct waiter *w, void *arg)
{
	struct schedule *s = arg;
	struct core_error err = { CORE_OK, "" };
	struct future *c;

	if (w == &s->w_run) {
		c = future_find(s->last_started);
		if (c != NULL && s->pause_on_failure && c->state == FUTURE_FINISHED &&
		    c->has_exception && s->state == SCHEDULE_ACTIVE) {
			log_info("schedule s_%016llx: paused after a failure of c_%016llx",
			    (unsigned long long)s->id, (unsigned long long)c->id);
			schedule_pause(s, &err);
		}
		return;
	}
	c = s->pending != 0 ? future_find(s->pending) : NULL;
	if (c == NULL && s->pending != 0 && s->mark == s->pending_for) {
		/* It vanished before it was done: a failed commit dropped it,
		 * never stored. Its nominal time was not consumed: make it
		 * again (the store's retry writes it). */
		s->mark = s->pending_mark;
		if (s->fired > 0)
			s->fired--;
		s->pending = 0;
	}
	if (c == NULL || future_done(c))
		schedule_make_next(s);
}

/* sched's gate: the overlap policy, when a schedule's occurrence is about
 * to start. Nonzero: not started now. */
static int
schedule_gate(struct future *c)
{
	struct schedule *s = schedule_find(c->x->schedule);
	struct future *run;
	int regular = c->trigger == TRIGGER_AT_UNIX, n;

	if (s == NULL)
		return 0;
	if (c->id == s->pending)
		s->pending = 0;
	run = s->last_started != 0 ? future_find(s->last_started) : NULL;
	if (run == c || (run != NULL && future_done(run)))
		run = NULL;
	if (run == NULL || !regular || s->overlap == OVERLAP_ALLOW_ALL) {
		schedule_follow(s, c);
		schedule_make_next(s);
		return 0;
	}
	switch (s->overlap) {
	case OVERLAP_CANCEL_OTHER:
		sched_cancel(run);
		schedule_follow(s, c);
		schedule_make_next(s);
		return 0;
	case OVERLAP_BUFFER_ONE:
	case OVERLAP_BUFFER_ALL:
		/* Already one waiting (buffer_one), or the cap (buffer_all)? */
		n = 0;
		for (struct future *b = run->x != NULL ? TAILQ_FIRST(&run->x->callbacks) :
		    NULL; b != NULL; b = TAILQ_NEXT(b, link))
			if (future_schedule(b) == s->id)
				n++;
		if (n < (s->overlap == OVERLAP_BUFFER_ONE ? 1 : SCHEDULE_CATCHUP_CAP) &&
		    future_ext(run) != NULL) {
			/* Wait for the running one, as its done-callback. */
			sched_unclaim(c);
			c->phase = CALL_WAITING;
			c->x->target = run->id;
			c->x->target_kind = FUTURE_CALL;
			TAILQ_INSERT_TAIL(&run->x->callbacks, c, link);
			future_touch(c);
			schedule_make_next(s);
			return 1;
		}
		/* No room to wait: skipped. */
		future_settle(c, FUTURE_CANCELLED, NULL, 0);
		schedule_make_next(s);
		return 1;
	default:
		future_settle(c, FUTURE_CANCELLED, NULL, 0);
		schedule_make_next(s);
		return 1;
	}
}

struct schedule *
schedule_create(struct schedule_params *p, struct core_error *err)
{
	struct schedule tmp, *s;
	uint64_t id;

	if (schedules.limits.max_schedules != 0 && schedule_count() >= schedules.limits.max_schedules) {
		core_error_set(err, CORE_EFULL, "too many schedules (max_schedules = %zu)",
		    schedules.limits.max_schedules);
		return NULL;
	}
	memset(&tmp, 0, sizeof(tmp));
	if (schedule_define(&tmp, p, err) == -1)
		return NULL;
	id = future_peek_next_id();
	if ((s = schedule_alloc(id)) == NULL) {
		free(tmp.spec_text);
		free(tmp.tz);
		free(tmp.name);
		p->action = tmp.action;		/* not taken after all */
		core_error_set(err, CORE_ENOMEM, "out of memory");
		return NULL;
	}
	future_set_next_id(id + 1);
	tmp.id = id;
	tmp.all = s->all;
	*s = tmp;
	s->created = clock_unix_now();
	s->state = SCHEDULE_ACTIVE;
	/* From now on (or from start): nothing before it is missed. */
	s->mark = clock_unix_now();
	schedule_touch(s);
	schedule_make_next(s);
	/* Kept only once stored (schedule_commit_done). */
	if (schedules.pending != NULL && (s->unsaved = schedules.pending()) != 0)
		TAILQ_INSERT_TAIL(&schedules.unsaved, s, unsaved_link);
	return s;
}

/* Cancel the call made ahead, if it has not started (its nominal time is
 * then consumed: it stays the mark). */
static void
schedule_drop_pending(struct schedule *s)
{
	struct future *c;

	waiter_remove(&s->w_pending);
	if (s->pending != 0 && (c = future_find(s->pending)) != NULL && !future_done(c) &&
	    c->started == 0 && !c->dispatched)
		sched_cancel(c);
	s->pending = 0;
}

int
schedule_replace(struct schedule *s, struct schedule_params *p, struct core_error *err)
{
	struct schedule tmp = *s;

	/* Validate into a copy, so a refusal changes nothing. */
	tmp.spec_text = tmp.tz = tmp.name = tmp.action = NULL;
	if (schedule_define(&tmp, p, err) == -1)
		return -1;
	schedule_drop_pending(s);
	free(s->spec_text);
	free(s->tz);
	free(s->name);
	free(s->action);
	s->spec = tmp.spec;
	s->zone = tmp.zone;
	s->kind = tmp.kind;
	s->spec_text = tmp.spec_text;
	s->tz = tmp.tz;
	s->name = tmp.name;
	s->action = tmp.action;
	s->start = tmp.start;
	s->end = tmp.end;
	s->count = tmp.count;
	s->catchup = tmp.catchup;
	s->catchup_window = tmp.catchup_window;
	s->overlap = tmp.overlap;
	s->pause_on_failure = tmp.pause_on_failure;
	s->jitter = tmp.jitter;
	if (s->mark < clock_unix_now())
		s->mark = clock_unix_now();
	schedule_touch(s);
	schedule_make_next(s);
	return 0;
}

void
schedule_delete(struct schedule *s)
{
	schedule_drop_pending(s);
	waiter_remove(&s->w_run);
	TAILQ_REMOVE(&schedules.all, s, all);
	idmap_del(&schedules.ids, s->id);
	/* The store learns of it by not finding it. */
	future_touch_id(s->id);
	events_emit_id(EVENTS_SCHEDULE_CHANGED, s->id);
	schedule_free(s);
}

int
schedule_pause(struct schedule *s, struct core_error *err)
{
	if (s->state == SCHEDULE_PAUSED)
		return core_error_set(err, CORE_ESTATE, "the schedule is paused already");
	schedule_drop_pending(s);
	s->state = SCHEDULE_PAUSED;
	schedule_touch(s);
	return 0;
}

/* The missed occurrences after the mark up to now, per the policy: a
 * chain of calls, each a done-callback of the one before (after: the
 * first one's, 0 for soon). The mark moves to now. */
static void
schedule_catch_up(struct schedule *s, uint64_t after)
{
	struct core_error err = { CORE_OK, "" };
	int64_t now = clock_unix_now(), t = s->mark, *ring, old_last = 0;
	size_t n = 0, head = 0, i, olds = 0, iter = 0;
	struct future *c;

	if ((ring = calloc(SCHEDULE_CATCHUP_CAP, sizeof(*ring))) == NULL)
		return;
	/* The most recent SCHEDULE_CATCHUP_CAP missed times, in a ring. */
	while (iter++ < 10000000 && schedule_fire_after(s, t, &t) == 0 && t <= now) {
		if (s->count != 0 && s->fired >= s->count)
			break;
		if (schedule_taken(s, t))
			continue;
		if (t < now - s->catchup_window) {
			olds++;
			old_last = t;
			if (s->catchup != CATCHUP_ALL)
				continue;
		}
		ring[(head + n) % SCHEDULE_CATCHUP_CAP] = t;
		if (n < SCHEDULE_CATCHUP_CAP)
			n++;
		else
			head = (head + 1) % SCHEDULE_CATCHUP_CAP;
	}
	if (s->catchup == CATCHUP_LATEST && olds > 0) {
		/* The latest old one goes before those within the window. */
		if (n == SCHEDULE_CATCHUP_CAP)
			head = (head + 1) % SCHEDULE_CATCHUP_CAP, n--;
		head = (head + SCHEDULE_CATCHUP_CAP - 1) % SCHEDULE_CATCHUP_CAP;
		ring[head] = old_last;
		n++;
	}
	if (olds > 0 || n > 0)
		log_info("schedule s_%016llx: %zu occurrences missed, %zu to run (catchup %s)",
		    (unsigned long long)s->id, olds + n - (s->catchup == CATCHUP_ALL ? olds :
		    s->catchup == CATCHUP_LATEST && olds ? 1 : 0), n,
		    catchup_names[s->catchup]);
	for (i = 0; i < n; i++) {
		t = ring[(head + i) % SCHEDULE_CATCHUP_CAP];
		if ((c = schedule_call(s, t, -1, after, &err)) == NULL) {
			log_warnx("schedule s_%016llx: catch-up: %s", (unsigned long long)s->id,
			    err.msg);
			break;
		}
		after = c->id;
		s->fired++;
	}
	free(ring);
	if (s->mark < now)
		s->mark = now;
	schedule_touch(s);
}

int
schedule_resume(struct schedule *s, struct core_error *err)
{
	if (s->state == SCHEDULE_ACTIVE)
		return core_error_set(err, CORE_ESTATE, "the schedule is active already");
	s->state = SCHEDULE_ACTIVE;
	schedule_catch_up(s, 0);
	schedule_make_next(s);
	return 0;
}

struct future *
schedule_trigger(struct schedule *s, struct core_error *err)
{
	int64_t t = clock_unix_now();
	struct future *c;

	/* A nominal time of its own: never one the spec may fire at. */
	while (schedule_taken(s, t) || (s->pending != 0 && t == s->mark))
		t++;
	if ((c = schedule_call(s, t, -1, 0, err)) == NULL)
		return NULL;
	schedule_touch(s);
	return c;
}

int
schedule_backfill(struct schedule *s, int64_t from, int64_t to, struct core_error *err)
{
	int64_t t = from - 1, now = clock_unix_now();
	uint64_t after = 0;
	struct future *c;
	int n = 0;

	if (to > now)
		return core_error_set(err, CORE_EINVAL, "to: must not be in the future");
	if (from > to)
		return core_error_set(err, CORE_EINVAL, "from: must be before to");
	while (recur_next(&s->spec, s->zone, t, &t) == 0 && t <= to) {
		if (schedule_taken(s, t) || (s->pending != 0 && t == s->mark))
			continue;
		if (n == SCHEDULE_CATCHUP_CAP)
			return n > 0 ? n : core_error_set(err, CORE_EINVAL,
			    "to: more than %d occurrences", SCHEDULE_CATCHUP_CAP);
		if ((c = schedule_call(s, t, -1, after, err)) == NULL)
			return n > 0 ? n : -1;
		after = c->id;
		n++;
	}
	schedule_touch(s);
	return n;
}

struct schedule *
schedule_restore(uint64_t id, enum schedule_state state, struct schedule_params *p,
    int64_t created, int64_t mark, uint64_t fired, struct core_error *err)
{
	struct schedule tmp, *s;

	memset(&tmp, 0, sizeof(tmp));
	if (state > SCHEDULE_PAUSED || (unsigned)p->catchup > CATCHUP_ALL ||
	    (unsigned)p->overlap > OVERLAP_ALLOW_ALL) {
		core_error_set(err, CORE_EINVAL, "damaged row");
		return NULL;
	}
	/* A stored spec is taken as it is (the minimum may have risen). */
	{
		int64_t min = schedules.limits.min_interval;
		schedules.limits.min_interval = 0;
		if (schedule_define(&tmp, p, err) == -1) {
			schedules.limits.min_interval = min;
			return NULL;
		}
		schedules.limits.min_interval = min;
	}
	if ((s = schedule_alloc(id)) == NULL) {
		free(tmp.spec_text);
		free(tmp.tz);
		free(tmp.name);
		free(tmp.action);
		core_error_set(err, CORE_ENOMEM, "out of memory");
		return NULL;
	}
	tmp.id = id;
	tmp.all = s->all;
	*s = tmp;
	s->state = (uint8_t)state;
	s->created = created;
	s->mark = mark;
	s->fired = fired;
	if (id >= future_peek_next_id())
		future_set_next_id(id + 1);
	return s;
}

/* The wall clock was set while running: a schedule whose call made
 * ahead is now beyond its next fire time (the clock went back) starts
 * again from now, skipping nominal times that already have a call. (A
 * clock that went ahead is handled when the call made ahead starts.) */
static void
schedule_clock_set(void)
{
	int64_t now = clock_unix_now(), nt;
	struct schedule *s;

	TAILQ_FOREACH(s, &schedules.all, all) {
		if (s->state == SCHEDULE_ACTIVE && schedule_fire_after(s, now, &nt) == 0 &&
		    s->mark > nt) {
			log_warnx("schedule s_%016llx: the clock was set back; going on from now",
			    (unsigned long long)s->id);
			schedule_drop_pending(s);
			s->mark = now;
			schedule_touch(s);
			schedule_make_next(s);
		}
	}
}

void
schedule_recover(void)
{
	int64_t now = clock_unix_now(), nt;
	struct schedule *s;
	struct future *f, *p;

	/* sched_init (after schedule_init) cleared them. */
	sched_set_gate(schedule_gate);
	sched_set_clock_hook(schedule_clock_set);
	/* Each schedule's calls: recent ones, the one made ahead, the one
	 * running. */
	for (f = future_first_after(0); f != NULL; f = future_next(f)) {
		if (future_schedule(f) == 0 || (s = schedule_find(future_schedule(f))) == NULL)
			continue;
		schedule_remember(s, f->id);
		if (!future_done(f) && f->started == 0 && f->trigger == TRIGGER_AT_UNIX &&
		    future_scheduled_for(f) == s->mark && f->phase == CALL_SCHEDULED)
			s->pending = f->id;
		if (!future_done(f) && f->started != 0)
			schedule_follow(s, f);
	}
	TAILQ_FOREACH(s, &schedules.all, all) {
		p = s->pending != 0 ? future_find(s->pending) : NULL;
		if (s->state != SCHEDULE_ACTIVE)
			continue;
		if (schedule_fire_after(s, now, &nt) == 0 && s->mark > nt) {
			/* The mark is ahead of the spec's next fire time: the
			 * clock was set back. Restart from now; nominal times
			 * already made are not made again. */
			log_warnx("schedule s_%016llx: evaluated up to %lld, beyond its next "
			    "fire time %lld: the clock was set back; going on from now",
			    (unsigned long long)s->id, (long long)(s->mark / RECUR_US),
			    (long long)(nt / RECUR_US));
			schedule_drop_pending(s);
			s->mark = now;
			schedule_touch(s);
		} else if (p != NULL && s->mark <= now) {
			/* The call made ahead fell due while down: a missed
			 * occurrence like the rest. Within the window, or the
			 * latest, it runs (it is already there); else it ends. */
			int64_t m = s->mark, last = m, t = m;
			int keep;

			while (schedule_fire_after(s, t, &t) == 0 && t <= now)
				last = t;
			keep = m >= now - s->catchup_window || s->catchup == CATCHUP_ALL ||
			    (s->catchup == CATCHUP_LATEST && last == m);
			waiter_remove(&s->w_pending);
			s->pending = 0;
			if (!keep)
				sched_cancel(p);
			schedule_catch_up(s, keep ? p->id : 0);
		} else if (s->mark <= now) {
			schedule_catch_up(s, 0);
		}
		if (p != NULL && s->pending == p->id)
			future_wait(p, &s->w_pending, schedule_woken, s);
		schedule_make_next(s);
	}
}
