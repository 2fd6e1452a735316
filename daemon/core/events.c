/*
 * events: the ring. Events [oldest, next) are in it; those below
 * `published` are visible. Events are emitted in order and the commit
 * numbers they wait for never go down, so publishing is a walk from
 * `published` while the commit awaited is over.
 */
#include "daemon/core/events.h"

#include <stdlib.h>

#include "daemon/core/clock.h"
#include "daemon/core/future.h"

static struct {
	struct events_event *ring;
	size_t cap;
	uint64_t first;			/* the number of the first event ever */
	uint64_t next;			/* the number the next emit gets */
	uint64_t published;		/* events below it are visible */
	uint64_t (*pending)(void);
	void (*listener)(void *);
	void *listener_arg;
	int failed;			/* a commit failed since the last publish */
} events;

static const char *const kind_names[] = {
	"call.created", "call.started", "call.finished", "call.cancelled",
	"future.created", "future.settled", "schedule.changed",
};

const char *
events_kind_name(enum events_kind kind)
{
	return (size_t)kind < sizeof(kind_names) / sizeof(kind_names[0]) ?
	    kind_names[kind] : "unknown";
}

int
events_init(size_t cap, uint64_t first_seq)
{
	events_shutdown();
	events.cap = cap ? cap : EVENTS_RING_DEFAULT;
	if ((events.ring = calloc(events.cap, sizeof(*events.ring))) == NULL) {
		events.cap = 0;
		return -1;
	}
	events.first = events.next = events.published = first_seq ? first_seq : 1;
	return 0;
}

void
events_shutdown(void)
{
	free(events.ring);
	events.ring = NULL;
	events.cap = 0;
}

void
events_set_durability(uint64_t (*pending)(void))
{
	events.pending = pending;
}

void
events_set_listener(void (*fn)(void *), void *arg)
{
	events.listener = fn;
	events.listener_arg = arg;
}

/* The oldest event still in the ring. */
static uint64_t
events_oldest(void)
{
	return events.next - events.first > events.cap ? events.next - events.cap : events.first;
}

/* Publish events up to (not including) end and tell the listener. */
static void
events_publish(uint64_t end)
{
	if (end <= events.published)
		return;
	if (events.failed) {
		/* A failed commit dropped objects that were never stored:
		 * their creation did not happen after all. */
		for (uint64_t s = events.published < events_oldest() ? events_oldest() :
		    events.published; s < end; s++) {
			struct events_event *e = &events.ring[s % events.cap];
			if (e->kind != EVENTS_SCHEDULE_CHANGED && future_find(e->id) == NULL)
				e->gone = 1;
		}
		events.failed = 0;
	}
	events.published = end;
	if (events.listener != NULL)
		events.listener(events.listener_arg);
}

/* Append an event for object id; fill from f when given. */
static void
events_push(enum events_kind kind, uint64_t id, const struct future *f)
{
	struct events_event *e;
	uint64_t commit;

	if (events.ring == NULL)
		return;
	commit = events.pending != NULL ? events.pending() : 0;
	e = &events.ring[events.next % events.cap];
	*e = (struct events_event){ .seq = events.next, .id = id, .commit = commit,
	    .at = clock_unix_now(), .kind = (uint8_t)kind };
	if (f != NULL) {
		e->due_unix = f->due_unix;
		e->attempts = f->attempts;
		e->state = f->state;
		e->phase = f->phase;
		e->has_exception = f->has_exception;
		e->late = f->late;
	}
	events.next++;
	/* Nothing waits for a commit (no store, or all durable): visible
	 * now. Else it waits, and so does everything after it. */
	if (commit == 0 && events.published == events.next - 1)
		events_publish(events.next);
}

void
events_emit(enum events_kind kind, const struct future *f)
{
	events_push(kind, f->id, f);
}

void
events_emit_id(enum events_kind kind, uint64_t id)
{
	events_push(kind, id, NULL);
}

void
events_commit_done(int ok, uint64_t seq)
{
	uint64_t s;

	if (events.ring == NULL)
		return;
	if (!ok) {
		/* The store writes the surviving changes again; their events
		 * wait for that commit. */
		events.failed = 1;
		return;
	}
	s = events.published < events_oldest() ? events_oldest() : events.published;
	while (s < events.next && events.ring[s % events.cap].commit <= seq)
		s++;
	events_publish(s);
}

int
events_since(uint64_t last, uint64_t *next)
{
	uint64_t oldest = events_oldest();

	if (last == 0) {
		*next = events.published;
		return 0;
	}
	if (last + 1 >= events.first && last < events.published && last + 1 >= oldest) {
		*next = last + 1;
		return 0;
	}
	*next = events.published;
	return -1;
}

const struct events_event *
events_get(uint64_t seq)
{
	if (events.ring == NULL || seq >= events.published || seq < events_oldest())
		return NULL;
	return &events.ring[seq % events.cap];
}

uint64_t
events_next_seq(void)
{
	return events.published;
}

void
events_counts(uint64_t *emitted, uint64_t *published)
{
	*emitted = events.next - events.first;
	*published = events.published - events.first;
}
