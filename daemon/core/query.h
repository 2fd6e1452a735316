/*
 * query: listing objects - a filter, then a page in id order (oldest
 * first, or newest first with desc). The HTTP
 * layer decodes GET /v1/calls's parameters into a struct query, asks for
 * one page, and encodes the objects it gets; the page rules (default and
 * largest size, where the next page starts, whether there is one) are
 * here. A page token is the id of the last object listed: the next page
 * starts after it (before it, newest first), even once that object is
 * forgotten.
 */
#ifndef LOOPD_CORE_QUERY_H
#define LOOPD_CORE_QUERY_H

#include <stddef.h>
#include <stdint.h>

#include "daemon/core/error.h"

#define QUERY_PAGE_DEFAULT 100
#define QUERY_PAGE_MAX 1000

struct future;

/* How a done object ended. */
enum query_outcome {
	QUERY_ANY_OUTCOME,	/* no filter */
	QUERY_OK,		/* finished with a result */
	QUERY_FAILED,		/* finished with an exception */
	QUERY_CANCELLED,
};

/* What to list; -1 (or NULL) matches anything; the fields after `after`
 * are 0 for anything. */
struct query {
	int kind;		/* enum future_kind */
	int state;		/* enum future_state */
	int phase;		/* enum call_phase */
	const char *name;	/* exact name */
	size_t page_size;	/* 0: QUERY_PAGE_DEFAULT */
	uint64_t after;		/* the page token: list ids after this one, or
				 * before it with desc (0: from the start) */
	int outcome;		/* enum query_outcome */
	int64_t since;		/* created at or after this loop time */
	int desc;		/* newest first */
};

/* One page: the objects, and where the next page starts (0: no more). */
struct query_page {
	struct future *items[QUERY_PAGE_MAX];
	size_t n;
	uint64_t next_after;
};

/* A query matching everything, of the default page size. */
void query_init(struct query *q);
/* Parse "ok", "failed" or "cancelled" (a QUERY_ outcome); -1 if unknown. */
int query_outcome_parse(const char *s);
/* Whether f matches q's filter. */
int query_match(const struct query *q, const struct future *f);
/* Count the pending calls by phase into by_phase (indexed by enum
 * call_phase): a walk of every object, for status. */
void query_count_pending_calls(size_t by_phase[4]);
/* Fill page with the first objects after q->after (before it with desc)
 * that match. 0, or -1
 * with CORE_EINVAL when the page size is out of range. */
int query_run(const struct query *q, struct query_page *page, struct core_error *err);

#endif
