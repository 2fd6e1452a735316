/*
 * Unit tests for daemon/core/timerq: the heap behind every deadline. The
 * heap is checked structurally after each kind of change (parent before
 * child, every node's back-index right) and by what pop returns.
 */
#include <stdlib.h>
#include <time.h>

#include "daemon/core/timerq.h"
#include "tests/unit/check.h"

struct item {
	struct timerq_node tq;
	int64_t due;
	uint64_t seq;
	int removed;
};

#define ITEM_OF(node) ((struct item *)(void *)(node))

/* The queue's tie-break: the item's own sequence. */
static uint64_t
item_seq(const struct timerq_node *node)
{
	return ((const struct item *)(const void *)node)->seq;
}

/* Whether (due a, seq a) sorts before (due b, seq b). */
static int
key_less(int64_t da, uint64_t sa, int64_t db, uint64_t sb)
{
	return da < db || (da == db && sa < sb);
}

/* Whether q is a valid heap whose slots and back-indexes agree. */
static int
heap_ok(const struct timerq *q)
{
	for (uint32_t i = 0; i < q->n; i++) {
		const struct timerq_slot *s = &q->v[i];

		if (s->node == NULL || s->node->idx != i)
			return 0;
		if (i > 0) {
			const struct timerq_slot *p = &q->v[(i - 1) / 2];
			if (key_less(s->due, ITEM_OF(s->node)->seq, p->due,
			    ITEM_OF(p->node)->seq))
				return 0;
		}
	}
	return 1;
}

/* Pop everything; whether it came out in strictly increasing (due, seq)
 * order, matching each item's own key, and count it in *n. */
static int
drain_sorted(struct timerq *q, size_t *n)
{
	struct timerq_node *node;
	int64_t due, last_due = INT64_MIN;
	uint64_t last_seq = 0;
	int ok = 1, first = 1;

	*n = 0;
	while (timerq_peek(q, &due) != NULL) {
		node = timerq_pop(q);
		struct item *it = ITEM_OF(node);
		if (it->due != due || it->removed || timerq_queued(node))
			ok = 0;
		if (!first && !key_less(last_due, last_seq, it->due, it->seq))
			ok = 0;
		first = 0;
		last_due = it->due;
		last_seq = it->seq;
		(*n)++;
	}
	return ok;
}

/* Push item it at (due, seq). */
static int
push(struct timerq *q, struct item *it, int64_t due, uint64_t seq)
{
	it->due = due;
	it->seq = seq;
	it->removed = 0;
	return timerq_push(q, &it->tq, due);
}

static void
test_empty(void)
{
	struct timerq q;
	struct timerq_node node;
	int64_t due = 42;

	CHECK(sizeof(struct timerq_slot) == 16);	/* issue 7: memory per call */
	timerq_init(&q, item_seq);
	timerq_node_init(&node);
	CHECK(timerq_peek(&q, &due) == NULL);
	CHECK_INT_EQ(due, 42);
	CHECK(timerq_pop(&q) == NULL);
	CHECK_INT_EQ(timerq_len(&q), 0);
	CHECK(!timerq_queued(&node));
	timerq_remove(&q, &node);	/* not queued: a no-op */
	CHECK_INT_EQ(timerq_len(&q), 0);
	timerq_free(&q);
	timerq_free(NULL);
	CHECK(q.v == NULL && q.n == 0);
}

static void
test_order(void)
{
	static const int64_t dues[] = { 50, 10, 40, 30, 20, 0, -5, 70, 60, 10 };
	static const int64_t want[] = { -5, 0, 10, 10, 20, 30, 40, 50, 60, 70 };
	struct item it[10];
	struct timerq q;
	int64_t due;

	timerq_init(&q, item_seq);
	for (size_t i = 0; i < 10; i++) {
		timerq_node_init(&it[i].tq);
		CHECK_INT_EQ(push(&q, &it[i], dues[i], i + 1), 0);
		CHECK(timerq_queued(&it[i].tq));
	}
	CHECK(heap_ok(&q));
	CHECK_INT_EQ(timerq_len(&q), 10);
	CHECK(timerq_peek(&q, &due) == &it[6].tq);
	CHECK_INT_EQ(due, -5);
	for (size_t i = 0; i < 10; i++) {
		struct timerq_node *node = timerq_pop(&q);
		if (!CHECK(node != NULL))
			break;
		CHECK_INT_EQ(ITEM_OF(node)->due, want[i]);
		CHECK(!timerq_queued(node));
		/* The two 10s leave in seq order: it[1] before it[9]. */
		if (i == 2)
			CHECK(node == &it[1].tq);
		if (i == 3)
			CHECK(node == &it[9].tq);
	}
	CHECK(timerq_pop(&q) == NULL);
	timerq_free(&q);
}

static void
test_ties(void)
{
	struct item it[6];
	struct timerq q;
	/* (due, seq), pushed in an order that is neither. */
	static const int64_t dues[] = { 5, 5, 4, 5, 4, 5 };
	static const uint64_t seqs[] = { 30, 10, 90, 20, 91, 11 };
	static const size_t want[] = { 2, 4, 1, 5, 3, 0 };

	timerq_init(&q, item_seq);
	for (size_t i = 0; i < 6; i++) {
		timerq_node_init(&it[i].tq);
		push(&q, &it[i], dues[i], seqs[i]);
	}
	for (size_t i = 0; i < 6; i++)
		CHECK(timerq_pop(&q) == &it[want[i]].tq);

	/* All equal dues: pure seq order, whatever the push order. */
	for (size_t i = 0; i < 6; i++)
		push(&q, &it[i], 7, 6 - i);
	for (size_t i = 0; i < 6; i++)
		CHECK(timerq_pop(&q) == &it[5 - i].tq);
	timerq_free(&q);
}

static void
test_remove(void)
{
	enum { N = 200 };
	struct item it[N];
	struct timerq q;
	size_t n, left = N;
	int ok = 1;

	check_srand(1);
	timerq_init(&q, item_seq);
	for (size_t i = 0; i < N; i++) {
		timerq_node_init(&it[i].tq);
		push(&q, &it[i], (int64_t)check_rand(50), i);
	}
	CHECK(heap_ok(&q));

	/* The head. */
	struct item *head = ITEM_OF(timerq_peek(&q, NULL));
	timerq_remove(&q, &head->tq);
	head->removed = 1;
	left--;
	CHECK(!timerq_queued(&head->tq));
	CHECK(heap_ok(&q));
	timerq_remove(&q, &head->tq);	/* twice: a no-op */
	CHECK_INT_EQ(timerq_len(&q), left);

	/* The tail: the last slot. */
	struct item *tail = ITEM_OF(q.v[q.n - 1].node);
	timerq_remove(&q, &tail->tq);
	tail->removed = 1;
	left--;
	CHECK(heap_ok(&q));

	/* Middle slots, including ones whose replacement must sift up (the
	 * last slot is moved into the hole and can be smaller than the
	 * hole's parent when it lives in another subtree). */
	for (int k = 0; k < 60; k++) {
		struct item *m = ITEM_OF(q.v[1 + check_rand(q.n - 2)].node);
		timerq_remove(&q, &m->tq);
		m->removed = 1;
		left--;
		if (!heap_ok(&q))
			ok = 0;
	}
	CHECK(ok);
	CHECK_INT_EQ(timerq_len(&q), left);
	CHECK(drain_sorted(&q, &n));
	CHECK_INT_EQ(n, left);
	timerq_free(&q);
}

/* The case that needs sift_up on removal: a hole deep in the right
 * subtree filled by the last slot of the left subtree, which is smaller
 * than the hole's parent. */
static void
test_remove_sift_up(void)
{
	/* Heap by construction (already ordered pushes keep positions):
	 *        0
	 *     1     100
	 *   2   3  101 102
	 *  4 5 6 7
	 * Removing 101 moves 7 (last slot) under 100: it must rise. */
	static const int64_t dues[] = { 0, 1, 100, 2, 3, 101, 102, 4, 5, 6, 7 };
	struct item it[11];
	struct timerq q;
	size_t n;

	timerq_init(&q, item_seq);
	for (size_t i = 0; i < 11; i++) {
		timerq_node_init(&it[i].tq);
		push(&q, &it[i], dues[i], i);
	}
	CHECK(heap_ok(&q));
	CHECK_INT_EQ(it[5].tq.idx, 5);
	timerq_remove(&q, &it[5].tq);
	it[5].removed = 1;
	CHECK(heap_ok(&q));
	CHECK(drain_sorted(&q, &n));
	CHECK_INT_EQ(n, 10);
	timerq_free(&q);
}

static void
test_update(void)
{
	enum { N = 100 };
	struct item it[N];
	struct timerq q;
	size_t n;
	int ok = 1;

	check_srand(2);
	timerq_init(&q, item_seq);
	for (size_t i = 0; i < N; i++) {
		timerq_node_init(&it[i].tq);
		push(&q, &it[i], (int64_t)check_rand(1000), i);
	}
	/* Earlier, later, equal to another's: the heap stays a heap. */
	for (int k = 0; k < 500; k++) {
		struct item *m = &it[check_rand(N)];
		m->due = (int64_t)check_rand(1000) - 500;
		timerq_update(&q, &m->tq, m->due);
		if (!heap_ok(&q))
			ok = 0;
	}
	CHECK(ok);
	/* An update keeps the seq: moving it[90] to it[10]'s due puts it
	 * after it[10], moving it[3] there puts it before. */
	timerq_update(&q, &it[10].tq, -1000);
	it[10].due = -1000;
	timerq_update(&q, &it[90].tq, -1000);
	it[90].due = -1000;
	timerq_update(&q, &it[3].tq, -1000);
	it[3].due = -1000;
	CHECK(timerq_pop(&q) == &it[3].tq);
	CHECK(timerq_pop(&q) == &it[10].tq);
	CHECK(timerq_pop(&q) == &it[90].tq);
	it[3].removed = it[10].removed = it[90].removed = 1;
	CHECK(drain_sorted(&q, &n));
	CHECK_INT_EQ(n, N - 3);
	timerq_free(&q);
}

/* rekey callback: map a due through a scrambling function. */
static int64_t
rekey_scramble(struct timerq_node *node, int64_t due, void *arg)
{
	int *calls = arg;
	struct item *it = ITEM_OF(node);

	(*calls)++;
	it->due = (due * 7919) % 1009 - (int64_t)(it->seq % 3);
	return it->due;
}

static void
test_rekey(void)
{
	enum { N = 1000 };
	struct item *it = calloc(N, sizeof(*it));
	struct timerq q;
	size_t n;
	int calls = 0;

	if (!CHECK(it != NULL))
		return;
	check_srand(3);
	timerq_init(&q, item_seq);
	for (size_t i = 0; i < N; i++) {
		timerq_node_init(&it[i].tq);
		push(&q, &it[i], (int64_t)check_rand(100000), i);
	}
	timerq_rekey(&q, rekey_scramble, &calls);
	CHECK_INT_EQ(calls, N);
	CHECK(heap_ok(&q));
	CHECK(drain_sorted(&q, &n));
	CHECK_INT_EQ(n, N);

	/* On an empty queue the function is never called. */
	calls = 0;
	timerq_rekey(&q, rekey_scramble, &calls);
	CHECK_INT_EQ(calls, 0);
	timerq_free(&q);
	free(it);
}

/* qsort order for item pointers. */
static int
item_cmp(const void *a, const void *b)
{
	const struct item *x = *(struct item *const *)a, *y = *(struct item *const *)b;

	return key_less(x->due, x->seq, y->due, y->seq) ? -1 :
	    key_less(y->due, y->seq, x->due, x->seq) ? 1 : 0;
}

/* Push random keys, pop them all, compare with qsort's order. */
static void
test_vs_sorted(void)
{
	enum { N = 5000 };
	struct item *it = calloc(N, sizeof(*it));
	struct item **ref = calloc(N, sizeof(*ref));
	struct timerq q;
	int ok = 1;

	if (!CHECK(it != NULL && ref != NULL))
		goto out;
	check_srand(4);
	timerq_init(&q, item_seq);
	for (size_t size = 1; size <= N; size = size * 3 + 1) {
		for (size_t i = 0; i < size; i++) {
			timerq_node_init(&it[i].tq);
			/* A small range of dues, so ties are common; seqs
			 * random but unique. */
			push(&q, &it[i], (int64_t)check_rand(size / 4 + 1),
			    check_rand(1u << 30) * N + i);
			ref[i] = &it[i];
		}
		qsort(ref, size, sizeof(*ref), item_cmp);
		for (size_t i = 0; i < size; i++)
			if (timerq_pop(&q) != &ref[i]->tq)
				ok = 0;
		if (timerq_len(&q) != 0)
			ok = 0;
	}
	CHECK(ok);
	timerq_free(&q);
out:
	free(it);
	free(ref);
}

/* Random pushes, removes, updates and pops against a plain array that
 * finds the minimum by scanning. */
static void
test_random_ops(void)
{
	enum { N = 300, OPS = 60000 };
	struct item it[N];
	struct timerq q;
	uint64_t seq = 0;
	size_t queued = 0;
	int ok = 1;

	check_srand(5);
	timerq_init(&q, item_seq);
	for (size_t i = 0; i < N; i++) {
		timerq_node_init(&it[i].tq);
		it[i].removed = 1;	/* here: "not queued" */
	}
	for (int op = 0; op < OPS && ok; op++) {
		struct item *m = &it[check_rand(N)];
		switch (check_rand(4)) {
		case 0:
		case 1:
			if (m->removed) {
				if (push(&q, m, (int64_t)check_rand(200), seq++) != 0)
					ok = 0;
				queued++;
			} else {
				timerq_remove(&q, &m->tq);
				m->removed = 1;
				queued--;
			}
			break;
		case 2:
			if (!m->removed) {
				m->due = (int64_t)check_rand(200);
				timerq_update(&q, &m->tq, m->due);
			}
			break;
		default: {
			struct item *min = NULL;
			for (size_t i = 0; i < N; i++)
				if (!it[i].removed && (min == NULL ||
				    key_less(it[i].due, it[i].seq, min->due, min->seq)))
					min = &it[i];
			struct timerq_node *node = timerq_pop(&q);
			if (node != (min ? &min->tq : NULL))
				ok = 0;
			if (min != NULL) {
				min->removed = 1;
				queued--;
			}
			break;
		}
		}
		if (timerq_len(&q) != queued || (op % 97 == 0 && !heap_ok(&q)))
			ok = 0;
		for (size_t i = 0; i < N && op % 101 == 0; i++)
			if (timerq_queued(&it[i].tq) != !it[i].removed)
				ok = 0;
	}
	CHECK(ok);
	timerq_free(&q);
}

/*
 * Seconds of this process's CPU time. The bound below is about the work
 * (O(log n) per operation, not O(n)), so it is measured in CPU time: on a
 * loaded machine the wall clock also counts the time other processes had
 * the CPU, and the bound failed for that alone.
 */
static double
now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* A million entries: push them, remove 300,000 at random, pop the rest. */
static void
test_million(void)
{
	enum { N = 1000000, DEL = 300000 };
	struct item *it = calloc(N, sizeof(*it));
	uint32_t *perm = calloc(N, sizeof(*perm));
	struct timerq q;
	int pushed = 1;
	size_t n;
	double t0, t;

	if (!CHECK(it != NULL && perm != NULL))
		goto out;
	check_srand(6);
	for (uint32_t i = 0; i < N; i++)
		perm[i] = i;
	for (uint32_t i = N - 1; i > 0; i--) {
		uint32_t j = (uint32_t)check_rand(i + 1), x = perm[i];
		perm[i] = perm[j];
		perm[j] = x;
	}

	t0 = now_s();
	timerq_init(&q, item_seq);
	for (uint32_t i = 0; i < N; i++) {
		timerq_node_init(&it[i].tq);
		/* Dues within ~17 minutes in microseconds: some ties. */
		if (push(&q, &it[i], (int64_t)check_rand(1000000000), i) != 0)
			pushed = 0;
	}
	CHECK(pushed);
	CHECK_INT_EQ(timerq_len(&q), N);
	for (uint32_t k = 0; k < DEL; k++) {
		timerq_remove(&q, &it[perm[k]].tq);
		it[perm[k]].removed = 1;
	}
	CHECK_INT_EQ(timerq_len(&q), N - DEL);
	CHECK(heap_ok(&q));
	CHECK(drain_sorted(&q, &n));
	CHECK_INT_EQ(n, N - DEL);
	t = now_s() - t0;
	printf("timerq: 1,000,000 pushes, 300,000 removals, 700,000 pops in %.3f s of CPU\n", t);
#if defined(__OPTIMIZE__) && !defined(__SANITIZE_ADDRESS__)
	CHECK(t < 2.0);
#endif
	timerq_free(&q);
out:
	free(it);
	free(perm);
}

int
main(void)
{
	test_empty();
	test_order();
	test_ties();
	test_remove();
	test_remove_sift_up();
	test_update();
	test_rekey();
	test_vs_sorted();
	test_random_ops();
	test_million();
	return check_summary();
}
