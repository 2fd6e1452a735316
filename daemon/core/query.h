/*
 * query: listing objects - a filter, then a page in id order. The HTTP
 * layer decodes GET /v1/calls's parameters into a struct query, asks for
 * one page, and encodes the objects it gets; the page rules (default and
 * largest size, where the next page starts, whether there is one) are
 * here. A page token is the id of the last object listed: the next page
 * starts after it, even once that object is forgotten.
 */
#ifndef LOOPD_CORE_QUERY_H
#define LOOPD_CORE_QUERY_H

#include <stddef.h>
#include <stdint.h>

#include "daemon/core/error.h"

#define QUERY_PAGE_DEFAULT 100
#define QUERY_PAGE_MAX 1000

struct future;

/* What to list; -1 (or NULL) matches anything. */
struct query {
	int kind;		/* enum future_kind */
	int state;		/* enum future_state */
	int phase;		/* enum call_phase */
	const char *name;	/* exact name */
	size_t page_size;	/* 0: QUERY_PAGE_DEFAULT */
	uint64_t after;		/* list ids after this one (0: from the start) */
};

/* One page: the objects, and where the next page starts (0: no more). */
struct query_page {
	struct future *items[QUERY_PAGE_MAX];
	size_t n;
	uint64_t next_after;
};

/* A query matching everything, of the default page size. */
void query_init(struct query *q);
/* Whether f matches q's filter. */
int query_match(const struct query *q, const struct future *f);
/* Fill page with the first objects after q->after that match. 0, or -1
 * with CORE_EINVAL when the page size is out of range. */
int query_run(const struct query *q, struct query_page *page, struct core_error *err);

#endif
