/*
 * events: a bounded ring of small change events (a call created, started,
 * finished or cancelled; a future created or settled; a schedule changed)
 * for the live event stream (GET /v1/events) and the web console.
 *
 * The core emits one event per transition, with a snapshot of the fields
 * that changed. An event is *published* - visible to readers - only once
 * the store's commit holding the change is over (the same durability hook
 * as waitset's), so a console never shows a state that a crash could
 * take back. Sequence numbers grow by one per event; the first is the
 * wall-clock time of start-up in microseconds, so the numbers of a later
 * run of the daemon are higher than any of an earlier one and a reader
 * reconnecting after a restart is told it missed events (see
 * events_since). The ring keeps the newest EVENTS_RING_DEFAULT (or the
 * configured number of) events; a reader that fell further behind starts
 * again from a fresh listing.
 */
#ifndef LOOPD_CORE_EVENTS_H
#define LOOPD_CORE_EVENTS_H

#include <stddef.h>
#include <stdint.h>

#define EVENTS_RING_DEFAULT 4096

struct future;

enum events_kind {
	EVENTS_CALL_CREATED, EVENTS_CALL_STARTED, EVENTS_CALL_FINISHED,
	EVENTS_CALL_CANCELLED, EVENTS_FUTURE_CREATED, EVENTS_FUTURE_SETTLED,
	EVENTS_SCHEDULE_CHANGED,
};

/* One change: the object's id and a snapshot of its changed fields. */
struct events_event {
	uint64_t seq;
	uint64_t id;			/* the object */
	uint64_t commit;		/* published once this commit is over */
	int64_t at;			/* wall-clock time of the change (us) */
	int64_t due_unix;		/* call: when it is due (wall clock, us) */
	uint32_t attempts;
	uint8_t kind;			/* enum events_kind */
	uint8_t state;			/* enum future_state */
	uint8_t phase;			/* enum call_phase */
	uint8_t has_exception;
	uint8_t late;
	uint8_t gone;			/* its creation was never stored: skip */
};

/* Set up a ring of cap events (0: EVENTS_RING_DEFAULT), numbered from
 * first_seq. 0 or -1 (ENOMEM). */
int events_init(size_t cap, uint64_t first_seq);
/* Free the ring. */
void events_shutdown(void);
/* pending() gives the store commit that makes the current state durable
 * (0: it is); NULL publishes events at once. */
void events_set_durability(uint64_t (*pending)(void));
/* fn runs whenever events are published (from the loop). */
void events_set_listener(void (*fn)(void *arg), void *arg);
/* Record a transition of f (a no-op before events_init). */
void events_emit(enum events_kind kind, const struct future *f);
/* Record a change of schedule id (for the schedules module). */
void events_emit_id(enum events_kind kind, uint64_t id);
/* The store's commit seq is over: publish what it made durable. */
void events_commit_done(int ok, uint64_t seq);

/* Where a reader that has seen last (0: nothing yet) goes on: 0 and
 * *next = the first event to read, or -1 if events it has not seen left
 * the ring (or it names a number this daemon never gave): it must start
 * again from a listing, and reads from *next. */
int events_since(uint64_t last, uint64_t *next);
/* The published event numbered seq, or NULL (not yet published, or
 * gone from the ring). */
const struct events_event *events_get(uint64_t seq);
/* The number the next published event will have. */
uint64_t events_next_seq(void);
/* The number of events emitted so far, and published so far. */
void events_counts(uint64_t *emitted, uint64_t *published);
/* The kind's name on the wire ("call.created", ...). */
const char *events_kind_name(enum events_kind kind);

#endif
