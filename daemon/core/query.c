/*
 * query: a walk of the object table in id order (or the reverse),
 * filtered, one page long. Objects are created in id order and loop time
 * never goes back, so `created` grows with the id: a newest-first walk
 * stops at the first object older than `since`.
 */
#include "daemon/core/query.h"

#include <string.h>

#include "daemon/core/future.h"

void
query_init(struct query *q)
{
	q->kind = q->state = q->phase = -1;
	q->name = NULL;
	q->outcome = QUERY_ANY_OUTCOME;
	q->since = 0;
	q->desc = 0;
	q->page_size = QUERY_PAGE_DEFAULT;
	q->after = 0;
}

int
query_outcome_parse(const char *s)
{
	static const char *names[] = { "ok", "failed", "cancelled" };

	for (int i = 0; i < 3; i++)
		if (strcmp(s, names[i]) == 0)
			return QUERY_OK + i;
	return -1;
}

/* How done object f ended (QUERY_ANY_OUTCOME while it is pending). */
static int
query_outcome_of(const struct future *f)
{
	if (f->state == FUTURE_CANCELLED)
		return QUERY_CANCELLED;
	if (f->state == FUTURE_FINISHED)
		return f->has_exception ? QUERY_FAILED : QUERY_OK;
	return QUERY_ANY_OUTCOME;
}

int
query_match(const struct query *q, const struct future *f)
{
	const char *name;

	if ((q->kind >= 0 && f->kind != q->kind) || (q->state >= 0 && f->state != q->state) ||
	    (q->phase >= 0 && f->phase != q->phase) ||
	    (q->outcome != QUERY_ANY_OUTCOME && query_outcome_of(f) != q->outcome) ||
	    f->created < q->since)
		return 0;
	if (q->name == NULL)
		return 1;
	return (name = future_name(f)) != NULL && strcmp(name, q->name) == 0;
}

int
query_run(const struct query *q, struct query_page *page, struct core_error *err)
{
	size_t size = q->page_size ? q->page_size : QUERY_PAGE_DEFAULT;
	struct future *f;

	page->n = 0;
	page->next_after = 0;
	if (size > QUERY_PAGE_MAX)
		return core_error_set(err, CORE_EINVAL, "page_size: must be from 1 to %d",
		    QUERY_PAGE_MAX);
	for (f = q->desc ? future_last_before(q->after) : future_first_after(q->after);
	    f != NULL; f = q->desc ? future_prev(f) : future_next(f)) {
		if (q->desc && f->created < q->since)
			break;		/* all the rest are older */
		if (!query_match(q, f))
			continue;
		if (page->n == size) {
			/* One more exists: the next page starts after the last. */
			page->next_after = page->items[page->n - 1]->id;
			break;
		}
		page->items[page->n++] = f;
	}
	return 0;
}

void
query_count_pending_calls(size_t by_phase[4])
{
	struct future *f;

	memset(by_phase, 0, 4 * sizeof(by_phase[0]));
	for (f = future_first_after(0); f != NULL; f = future_next(f))
		if (f->kind == FUTURE_CALL && f->state == FUTURE_PENDING && f->phase < 4)
			by_phase[f->phase]++;
}
