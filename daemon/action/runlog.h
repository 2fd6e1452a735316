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
struct proto_spec;

/* What a run runs, as its records say it: kind "command" and argv[0], or
 * "webhook" and the URL's host ("?" for what is not known). Taken once,
 * when the call is dispatched. */
struct runlog_action {
	char kind[16];
	char what[256];
};

/* Records kept for GET /v1/logs. */
#define RUNLOG_CAP 4096

/* Set up the ring on base (a timer tells suppressed lines). 0 or -1. */
int runlog_init(struct event_base *base);
/* Free the ring. */
void runlog_shutdown(void);

/* Describe spec (decoded: its fields were; else only its kind is known). */
void runlog_describe(const struct proto_spec *spec, int decoded, struct runlog_action *out);
/* An attempt of call c, which runs what (NULL: not known), is starting. */
void runlog_start(const struct future *c, const struct runlog_action *what);
/* Call c ended: o is its result or exception (borrowed; NULL if it ended
 * cancelled). */
void runlog_end(const struct future *c, const struct runlog_action *what, const json_t *o,
    int is_exc);
/* An attempt of call c failed with failure and is tried again after
 * delay_us. */
void runlog_retry(const struct future *c, const struct runlog_action *what,
    const json_t *failure, int64_t delay_us);

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
