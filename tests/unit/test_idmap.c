/*
 * Unit tests for daemon/core/idmap: put/get/del, growth, and backward-shift
 * deletion checked against a plain array under random operations.
 */
#include <stdlib.h>

#include "daemon/core/idmap.h"
#include "tests/unit/check.h"

/* A distinct fake pointer for key k (never dereferenced). */
static void *
val_of(uint64_t k)
{
	return (void *)(uintptr_t)(k * 8 + 8);
}

/* Whether one table of m is consistent: empty slots hold no value, every
 * member is found by a lookup (so no hole lies inside its probe run: a
 * wrong backward shift shows up here) and lives in no other table. Adds
 * its members to *n. */
static int
one_table_ok(const struct idmap *m, const struct idmap_slot *v, size_t mask,
    const struct idmap_slot *other, size_t other_mask, size_t *n)
{
	for (size_t i = 0; i <= mask; i++) {
		if (v[i].key == 0) {
			if (v[i].val != NULL)
				return 0;
			continue;
		}
		(*n)++;
		if (idmap_get(m, v[i].key) != v[i].val)
			return 0;
		for (size_t j = 0; other != NULL && j <= other_mask; j++)
			if (other[j].key == v[i].key)
				return 0;
	}
	return 1;
}

/* Whether the map is consistent: both tables (while growing), and the
 * count of members. */
static int
table_ok(const struct idmap *m)
{
	size_t n = 0, n_old = 0;

	if (m->v == NULL)
		return m->n == 0 && m->old == NULL;
	if (!one_table_ok(m, m->v, m->mask, m->old, m->old_mask, &n))
		return 0;
	if (m->old != NULL) {
		if (!one_table_ok(m, m->old, m->old_mask, NULL, 0, &n_old) || n_old != m->old_n)
			return 0;
		for (size_t i = 0; i < m->old_i && i <= m->old_mask; i++)
			if (m->old[i].key != 0)
				return 0;	/* slots below old_i are empty */
	}
	return n + n_old == m->n;
}

static void
test_basic(void)
{
	struct idmap m;
	int x, y;

	idmap_init(&m);
	CHECK(idmap_get(&m, 1) == NULL);
	CHECK(idmap_del(&m, 1) == NULL);
	CHECK(idmap_get(&m, 0) == NULL);
	CHECK(idmap_del(&m, 0) == NULL);
	CHECK_INT_EQ(idmap_len(&m), 0);

	CHECK_INT_EQ(idmap_put(&m, 7, &x), 0);
	CHECK(idmap_get(&m, 7) == &x);
	CHECK(idmap_get(&m, 8) == NULL);
	CHECK(idmap_get(&m, 0) == NULL);
	CHECK_INT_EQ(idmap_len(&m), 1);

	/* Replace keeps the count. */
	CHECK_INT_EQ(idmap_put(&m, 7, &y), 0);
	CHECK(idmap_get(&m, 7) == &y);
	CHECK_INT_EQ(idmap_len(&m), 1);

	CHECK_INT_EQ(idmap_put(&m, UINT64_MAX, &x), 0);
	CHECK(idmap_get(&m, UINT64_MAX) == &x);

	CHECK(idmap_del(&m, 7) == &y);
	CHECK(idmap_get(&m, 7) == NULL);
	CHECK(idmap_del(&m, 7) == NULL);
	CHECK_INT_EQ(idmap_len(&m), 1);
	CHECK(idmap_del(&m, UINT64_MAX) == &x);
	CHECK_INT_EQ(idmap_len(&m), 0);
	CHECK(table_ok(&m));

	idmap_free(&m);
	idmap_free(NULL);
	CHECK(idmap_get(&m, 7) == NULL);	/* usable again after free */
	CHECK_INT_EQ(idmap_put(&m, 9, &x), 0);
	CHECK(idmap_get(&m, 9) == &x);
	idmap_free(&m);
}

static void
test_growth(void)
{
	enum { N = 100000 };
	struct idmap m;
	size_t last_cap = 0, grows = 0;
	int ok = 1;

	idmap_init(&m);
	/* Sequential ids, as the daemon hands them out. */
	for (uint64_t k = 1; k <= N; k++) {
		if (idmap_put(&m, k, val_of(k)) != 0)
			ok = 0;
		if (m.mask + 1 != last_cap) {
			grows++;
			last_cap = m.mask + 1;
			/* A power of two, at most 3/4 full. */
			if ((last_cap & (last_cap - 1)) != 0 || m.n * 4 > last_cap * 3)
				ok = 0;
			for (uint64_t j = 1; j <= k; j++)
				if (idmap_get(&m, j) != val_of(j))
					ok = 0;
		}
	}
	CHECK(ok);
	CHECK(grows > 5);
	CHECK_INT_EQ(idmap_len(&m), N);
	CHECK(m.n * 4 <= (m.mask + 1) * 3);
	ok = 1;
	for (uint64_t k = 1; k <= N; k++)
		if (idmap_get(&m, k) != val_of(k))
			ok = 0;
	CHECK(ok);
	CHECK(idmap_get(&m, N + 1) == NULL);
	CHECK(table_ok(&m));

	/* Delete every other one; the rest are still found. */
	ok = 1;
	for (uint64_t k = 2; k <= N; k += 2)
		if (idmap_del(&m, k) != val_of(k))
			ok = 0;
	for (uint64_t k = 1; k <= N; k++)
		if (idmap_get(&m, k) != (k % 2 ? val_of(k) : NULL))
			ok = 0;
	CHECK(ok);
	CHECK_INT_EQ(idmap_len(&m), N / 2);
	CHECK(table_ok(&m));
	idmap_free(&m);
}

/* Keys that collide: many keys whose probe runs overlap and wrap around
 * the end of the table, then deleted in an order that exercises every
 * case of the backward shift. The table is 64 slots; 47 keys keep it
 * from growing. */
static void
test_dense_deletes(void)
{
	enum { K = 47 };
	uint64_t keys[K];
	struct idmap m;
	int ok = 1;

	check_srand(11);
	for (int round = 0; round < 200; round++) {
		idmap_init(&m);
		for (size_t i = 0; i < K; i++) {
			keys[i] = check_rand(UINT64_MAX - 1) + 1;
			if (idmap_get(&m, keys[i]) != NULL) {
				keys[i] = 0;	/* a repeat: skip it */
				continue;
			}
			idmap_put(&m, keys[i], val_of(i));
		}
		if (m.mask != 63)
			ok = 0;
		/* Delete in a random order, checking everything each step. */
		for (size_t left = K; left > 0; left--) {
			size_t j = (size_t)check_rand(left);
			uint64_t k = keys[j];
			keys[j] = keys[left - 1];
			keys[left - 1] = k;
			if (k == 0)
				continue;
			if (idmap_del(&m, k) == NULL || idmap_get(&m, k) != NULL)
				ok = 0;
			for (size_t i = 0; i < left - 1; i++)
				if (keys[i] != 0 && idmap_get(&m, keys[i]) == NULL)
					ok = 0;
			if (!table_ok(&m))
				ok = 0;
		}
		if (idmap_len(&m) != 0)
			ok = 0;
		idmap_free(&m);
	}
	CHECK(ok);
}

/* Random put/replace/del/get against a reference array indexed by key. */
static void
test_random_vs_reference(void)
{
	enum { KEYS = 3000, OPS = 400000 };
	void **ref = calloc(KEYS + 1, sizeof(*ref));
	struct idmap m;
	size_t n = 0;
	int ok = 1, ok_table = 1;

	if (!CHECK(ref != NULL))
		return;
	check_srand(12);
	idmap_init(&m);
	for (long op = 0; op < OPS; op++) {
		/* Keys 1..KEYS, spread over the 64-bit space a little so both
		 * small and large ids appear. */
		uint64_t r = check_rand(KEYS) + 1;
		uint64_t key = r % 3 == 0 ? r << 40 | r : r;
		size_t slot = (size_t)r;
		void *v;

		switch (check_rand(10)) {
		case 0: case 1: case 2: case 3:
			v = val_of(op + 1);
			if (idmap_put(&m, key, v) != 0)
				ok = 0;
			if (ref[slot] == NULL)
				n++;
			ref[slot] = v;
			break;
		case 4: case 5: case 6:
			if (idmap_del(&m, key) != ref[slot])
				ok = 0;
			if (ref[slot] != NULL)
				n--;
			ref[slot] = NULL;
			break;
		default:
			if (idmap_get(&m, key) != ref[slot])
				ok = 0;
			break;
		}
		if (idmap_len(&m) != n)
			ok = 0;
		if (op % 20000 == 0) {
			if (!table_ok(&m))
				ok_table = 0;
			for (uint64_t k = 1; k <= KEYS; k++)
				if (idmap_get(&m, k % 3 == 0 ? k << 40 | k : k) != ref[k])
					ok = 0;
		}
	}
	CHECK(ok);
	CHECK(ok_table);
	/* Empty it completely, then reuse. */
	ok = 1;
	for (uint64_t k = 1; k <= KEYS; k++)
		if (idmap_del(&m, k % 3 == 0 ? k << 40 | k : k) != ref[k])
			ok = 0;
	CHECK(ok);
	CHECK_INT_EQ(idmap_len(&m), 0);
	for (size_t i = 0; m.v != NULL && i <= m.mask; i++)
		if (m.v[i].key != 0)
			ok = 0;
	CHECK(ok);
	idmap_free(&m);
	free(ref);
}

/* Growing moves the members a few slots per put or delete, never all at
 * once; lookups, replacements and deletes find members in either table
 * meanwhile, and the old table goes once it is empty (issue 13: a
 * rehash of 100,000 members held the loop for 17 ms). */
static void
test_incremental_growth(void)
{
	enum { KEYS = 20000 };
	void **ref = calloc(KEYS + 1, sizeof(*ref));
	struct idmap m;
	size_t cap, moved_max = 0, n = 0, growths = 0, during = 0;
	int ok = 1, ok_table = 1;

	if (!CHECK(ref != NULL))
		return;
	check_srand(13);
	idmap_init(&m);
	for (uint64_t k = 1; k <= KEYS; k++) {
		size_t before_i = m.old_i, before_cap = m.mask + 1;
		struct idmap_slot *before_old = m.old;

		if (idmap_put(&m, k, val_of(k)) != 0)
			ok = 0;
		ref[k] = val_of(k);
		n++;
		cap = m.mask + 1;
		if (cap != before_cap && before_cap > 1) {
			growths++;
			/* The table just filled is kept, nearly whole. */
			if (m.old == NULL || m.old_n + 16 < n / 2)
				ok = 0;
		} else if (before_old != NULL && m.old == before_old && m.old_i - before_i > moved_max)
			moved_max = m.old_i - before_i;
		if (m.old != NULL) {
			/* Meanwhile: delete, replace and look up keys of either
			 * table, checking all of it now and then. */
			uint64_t r = check_rand(k) + 1;

			during++;
			if (check_rand(4) == 0) {
				if (idmap_del(&m, r) != ref[r])
					ok = 0;
				if (ref[r] != NULL)
					n--;
				ref[r] = NULL;
			} else if (check_rand(3) == 0) {
				if (ref[r] == NULL)
					n++;
				ref[r] = val_of(r + KEYS);
				if (idmap_put(&m, r, ref[r]) != 0)
					ok = 0;
			} else if (idmap_get(&m, r) != ref[r])
				ok = 0;
			if (during % 97 == 0 && !table_ok(&m))
				ok_table = 0;
		}
		if (idmap_len(&m) != n)
			ok = 0;
	}
	CHECK(ok);
	CHECK(ok_table);
	CHECK(growths >= 8);
	CHECK(during > KEYS / 10);	/* about 1/8 of the puts */
	CHECK(moved_max > 0 && moved_max <= 8);
	ok = 1;
	for (uint64_t k = 1; k <= KEYS; k++)
		if (idmap_get(&m, k) != ref[k])
			ok = 0;
	CHECK(ok);
	CHECK(table_ok(&m));
	/* idmap_step finishes a growth with no put or delete, a bounded
	 * number of slots a call. */
	{
		struct idmap g;
		uint64_t k = 1;
		size_t steps = 0;

		idmap_init(&g);
		while (!idmap_growing(&g) || g.mask < 1023) {
			idmap_put(&g, k, val_of(k));
			k++;
		}
		CHECK(idmap_growing(&g));
		while (idmap_step(&g, 16) && steps < 100000) {
			steps++;
			if (!table_ok(&g))
				ok_table = 0;
		}
		CHECK(!idmap_growing(&g) && g.old == NULL);
		CHECK(steps >= g.mask / 2 / 16 - 2);	/* 16 slots a step, no more */
		CHECK(ok_table);
		for (uint64_t j = 1; j < k; j++)
			if (idmap_get(&g, j) != val_of(j))
				ok = 0;
		CHECK(ok);
		CHECK(table_ok(&g));
		idmap_free(&g);
	}
	/* Deletes finish the move too; then the old table is gone. */
	for (uint64_t k = 1; k <= KEYS; k++)
		idmap_del(&m, k);
	CHECK(m.old == NULL);
	CHECK_INT_EQ(idmap_len(&m), 0);
	CHECK(table_ok(&m));
	idmap_free(&m);
	free(ref);
}

static void
test_hash_bytes(void)
{
	/* FNV-1a 64 reference values. */
	CHECK(idmap_hash_bytes("", 0) == 0xcbf29ce484222325ULL);
	CHECK(idmap_hash_bytes("a", 1) == 0xaf63dc4c8601ec8cULL);
	CHECK(idmap_hash_bytes("foobar", 6) == 0x85944171f73967e8ULL);
	CHECK(idmap_hash_bytes("ab", 2) != idmap_hash_bytes("ba", 2));
}

int
main(void)
{
	test_basic();
	test_growth();
	test_dense_deletes();
	test_random_vs_reference();
	test_incremental_growth();
	test_hash_bytes();
	return check_summary();
}
