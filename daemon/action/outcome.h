/*
 * outcome: what the kinds of action share to carry a call's run to its
 * end. A run holds the call's spec, decoded once from the stored text
 * when the call is dispatched, and what the run log says it runs; it is
 * kept until the call ends, through its retries (with backoff, API.md
 * §3). Settling turns a result or exception into the call's outcome.
 * Not for use outside daemon/action/.
 */
#ifndef LOOPD_ACTION_OUTCOME_H
#define LOOPD_ACTION_OUTCOME_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "daemon/action/runlog.h"
#include "proto/spec.h"

struct event_base;
struct future;

/* A call's run, from its dispatch to its end. */
struct outcome_run {
	uint64_t id;
	int decoded;			/* spec holds the decoded stored spec */
	char why[PROTO_DETAIL_MAX];	/* else why not */
	struct proto_spec spec;		/* its action (spec.action set even when
					 * the rest could not be decoded) */
	struct runlog_action what;	/* what the run log says it runs */
};

/* Set up; rerun runs a call's action again when its retry is due. 0 or -1. */
int outcome_init(struct event_base *base, void (*rerun)(struct future *c));
/* The default backoff of a retry policy (microseconds). */
void outcome_configure(int64_t backoff, int64_t max_backoff);
/* Forget every run and waiting retry. */
void outcome_shutdown(void);

/* Call c's run: made when it is dispatched (its stored spec decoded),
 * the same one afterwards. NULL only when memory runs out. */
struct outcome_run *outcome_begin(struct future *c);
/* The run of call id, or NULL. */
struct outcome_run *outcome_find(uint64_t id);
/* Forget call id's run (it is not going on). */
void outcome_forget(uint64_t id);

/* Finish call id with JSON value o (consumed); its run ends. */
void outcome_finish(uint64_t id, json_t *o, int is_exc);
/* Fail call c with an exception of type and message. */
void outcome_fail(struct future *c, const char *type, const char *msg);
/* Call c ended cancelled without its executor's report (a waiting retry
 * or an aborted request): logged, settled. */
void outcome_cancelled(struct future *c);
/* If c's retry policy (or default_attempts when it has none) allows
 * another attempt after this failure, keep the failure as its last error
 * and arm the retry (after delay_us, or the backoff when delay_us < 0);
 * returns 1 if so. */
int outcome_retry(struct future *c, const json_t *failure, int default_attempts,
    int64_t delay_us);
/* The delay before attempt n + 1 (n >= 1), in microseconds: between half
 * and all of backoff * 2^(n-1) seconds, capped at max_backoff (API.md §3);
 * r (uniform over 32 bits) picks where: 0 half, 2^32 - 1 nearly all. */
int64_t outcome_backoff(double backoff, double max_backoff, uint32_t n, uint32_t r);
/* Stop a waiting retry of id; 1 if there was one. */
int outcome_retry_cancel(uint64_t id);

/* Invalid UTF-8 replaced by U+FFFD: a JSON string; NULL on ENOMEM. */
json_t *outcome_utf8(const char *b, size_t len);

#endif
