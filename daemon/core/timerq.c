/*
 * timerq: binary heap with back-indexes.
 */
#include "daemon/core/timerq.h"

#include <assert.h>
#include <stdlib.h>

/* Whether slot a sorts before slot b. */
static int
slot_less(const struct timerq *q, const struct timerq_slot *a, const struct timerq_slot *b)
{
	return a->due < b->due || (a->due == b->due && q->seq(a->node) < q->seq(b->node));
}

/* Put slot s at index i and tell its node. */
static void
slot_set(struct timerq *q, uint32_t i, struct timerq_slot s)
{
	q->v[i] = s;
	s.node->idx = i;
}

/* Move the slot at i up until its parent is smaller. */
static void
sift_up(struct timerq *q, uint32_t i)
{
	struct timerq_slot s = q->v[i];

	while (i > 0) {
		uint32_t parent = (i - 1) / 2;
		if (!slot_less(q, &s, &q->v[parent]))
			break;
		slot_set(q, i, q->v[parent]);
		i = parent;
	}
	slot_set(q, i, s);
}

/* Move the slot at i down until both children are larger. */
static void
sift_down(struct timerq *q, uint32_t i)
{
	struct timerq_slot s = q->v[i];

	for (;;) {
		uint32_t c = 2 * i + 1;
		if (c >= q->n)
			break;
		if (c + 1 < q->n && slot_less(q, &q->v[c + 1], &q->v[c]))
			c++;
		if (!slot_less(q, &q->v[c], &s))
			break;
		slot_set(q, i, q->v[c]);
		i = c;
	}
	slot_set(q, i, s);
}

void
timerq_init(struct timerq *q, timerq_seq_fn seq)
{
	q->v = NULL;
	q->n = q->cap = 0;
	q->seq = seq;
}

void
timerq_free(struct timerq *q)
{
	if (q == NULL)
		return;
	free(q->v);
	q->v = NULL;
	q->n = q->cap = 0;
}

void
timerq_node_init(struct timerq_node *node)
{
	node->idx = TIMERQ_NONE;
}

int
timerq_push(struct timerq *q, struct timerq_node *node, int64_t due)
{
	assert(node->idx == TIMERQ_NONE);
	if (q->n == q->cap) {
		uint32_t cap = q->cap ? q->cap * 2 : 64;
		struct timerq_slot *v;

		if (cap <= q->cap || cap >= TIMERQ_NONE)
			return -1;
		if ((v = realloc(q->v, (size_t)cap * sizeof(*v))) == NULL)
			return -1;
		q->v = v;
		q->cap = cap;
	}
	q->v[q->n] = (struct timerq_slot){ due, node };
	node->idx = q->n++;
	sift_up(q, node->idx);
	return 0;
}

void
timerq_remove(struct timerq *q, struct timerq_node *node)
{
	uint32_t i = node->idx;

	if (i == TIMERQ_NONE)
		return;
	assert(i < q->n && q->v[i].node == node);
	node->idx = TIMERQ_NONE;
	if (i == --q->n)
		return;
	slot_set(q, i, q->v[q->n]);
	if (i > 0 && slot_less(q, &q->v[i], &q->v[(i - 1) / 2]))
		sift_up(q, i);
	else
		sift_down(q, i);
}

struct timerq_node *
timerq_peek(const struct timerq *q, int64_t *due)
{
	if (q->n == 0)
		return NULL;
	if (due != NULL)
		*due = q->v[0].due;
	return q->v[0].node;
}

struct timerq_node *
timerq_pop(struct timerq *q)
{
	struct timerq_node *node = timerq_peek(q, NULL);

	if (node != NULL)
		timerq_remove(q, node);
	return node;
}

int
timerq_queued(const struct timerq_node *node)
{
	return node->idx != TIMERQ_NONE;
}

void
timerq_update(struct timerq *q, struct timerq_node *node, int64_t due)
{
	uint32_t i = node->idx;

	assert(i < q->n);
	q->v[i].due = due;
	sift_up(q, i);
	sift_down(q, node->idx);
}

void
timerq_rekey(struct timerq *q, int64_t (*fn)(struct timerq_node *, int64_t, void *),
    void *arg)
{
	for (uint32_t i = 0; i < q->n; i++)
		q->v[i].due = fn(q->v[i].node, q->v[i].due, arg);
	for (uint32_t i = q->n / 2; i-- > 0;)
		sift_down(q, i);
}

size_t
timerq_len(const struct timerq *q)
{
	return q->n;
}

