/*
 * runlog: every run of a call's action, logged. One line per start and
 * per end of an attempt (call id, name, what it runs, lateness; exit or
 * HTTP status, duration, attempts, the error), written through log_run
 * (rate-limited; the journal's fields under systemd) and kept in a
 * bounded ring of recent records that GET /v1/logs serves. Records are
 * JSON objects with a sequence number "seq" that grows across restarts
 * (it starts at the daemon's start time in microseconds).
 */
#ifndef LOOPD_ACTION_RUNLOG_H
#define LOOPD_ACTION_RUNLOG_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

struct event_base;
struct future;

/* Records kept for GET /v1/logs. */
#define RUNLOG_CAP 4096

/* Set up the ring on base (a timer tells suppressed lines). 0 or -1. */
int runlog_init(struct event_base *base);
/* Free the ring. */
void runlog_shutdown(void);

/* An attempt of call c is starting; spec is its parsed spec (borrowed). */
void runlog_start(const struct future *c, const json_t *spec);
/* Call c ended: o is its result or exception (borrowed; NULL if it ended
 * cancelled). */
void runlog_end(const struct future *c, const json_t *o, int is_exc);
/* An attempt of call c failed with failure and is tried again after
 * delay_us. */
void runlog_retry(const struct future *c, const json_t *failure, int64_t delay_us);

/* The sequence numbers of the oldest and newest records kept (0 when
 * there are none). */
uint64_t runlog_first(void);
uint64_t runlog_last(void);
/* Call fn with the text of each record whose seq is > after, oldest
 * first, at most max of them; if after is past the newest record (a
 * number from an earlier run), from the oldest. Returns how many. */
size_t runlog_after(uint64_t after, size_t max, void (*fn)(const char *text, void *arg),
    void *arg);
/* Call fn(arg) after each new record (one listener: the HTTP layer). */
void runlog_set_notify(void (*fn)(void *arg), void *arg);

#endif
