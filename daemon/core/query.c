/*
 * query: a walk of the object table in id order, filtered, one page long.
 */
#include "daemon/core/query.h"

#include <string.h>

#include "daemon/core/future.h"

void
query_init(struct query *q)
{
	q->kind = q->state = q->phase = -1;
	q->name = NULL;
	q->page_size = QUERY_PAGE_DEFAULT;
	q->after = 0;
}

int
query_match(const struct query *q, const struct future *f)
{
	const char *name;

	if ((q->kind >= 0 && f->kind != q->kind) || (q->state >= 0 && f->state != q->state) ||
	    (q->phase >= 0 && f->phase != q->phase))
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
	for (f = future_first_after(q->after); f != NULL; f = future_next(f)) {
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
