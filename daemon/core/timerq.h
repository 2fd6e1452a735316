/*
 * timerq: a binary min-heap of deadlines ordered by (due, seq).
 *
 * The owner embeds a struct timerq_node and keeps it alive while queued;
 * the node records its heap slot, so removal is O(log n) with no search.
 * Due times are copied into the heap array itself so sifting touches one
 * contiguous array rather than chasing owner pointers. The tie-breaking
 * sequence is the owner's (the scheduler uses the object's id): it is
 * read through a callback only when two due times are equal, which keeps
 * a slot at 16 bytes instead of 24 (issue 7: a million pending calls).
 */
#ifndef LOOPD_CORE_TIMERQ_H
#define LOOPD_CORE_TIMERQ_H

#include <stddef.h>
#include <stdint.h>

#define TIMERQ_NONE UINT32_MAX

struct timerq_node {
	uint32_t idx;		/* heap slot, or TIMERQ_NONE */
};

struct timerq_slot {
	int64_t due;
	struct timerq_node *node;
};

/* A node's sequence, which orders nodes with the same due time. */
typedef uint64_t (*timerq_seq_fn)(const struct timerq_node *node);

struct timerq {
	struct timerq_slot *v;
	uint32_t n, cap;
	timerq_seq_fn seq;
};

/* An empty queue ordered by (due, seq(node)); needs no allocation until
 * the first push. A node's sequence must not change while it is queued. */
void timerq_init(struct timerq *q, timerq_seq_fn seq);
/* Free the array (not the owners). Accepts NULL. */
void timerq_free(struct timerq *q);
/* Mark a node as not queued. */
void timerq_node_init(struct timerq_node *node);
/* Queue node at due. The node must not be queued. 0, or -1 on ENOMEM. */
int timerq_push(struct timerq *q, struct timerq_node *node, int64_t due);
/* Remove node if queued; a no-op otherwise. */
void timerq_remove(struct timerq *q, struct timerq_node *node);
/* The earliest node, its due time in *due; NULL when empty. */
struct timerq_node *timerq_peek(const struct timerq *q, int64_t *due);
/* Remove and return the earliest node; NULL when empty. */
struct timerq_node *timerq_pop(struct timerq *q);
/* Whether node is queued. */
int timerq_queued(const struct timerq_node *node);
/* Change a queued node's due time. */
void timerq_update(struct timerq *q, struct timerq_node *node, int64_t due);
/* Give every node a new due time fn(node, old due, arg), then restore the
 * heap order in O(n). */
void timerq_rekey(struct timerq *q, int64_t (*fn)(struct timerq_node *, int64_t, void *),
    void *arg);
/* Number of queued nodes. */
size_t timerq_len(const struct timerq *q);

#endif
