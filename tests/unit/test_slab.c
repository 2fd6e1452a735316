/*
 * Unit tests for daemon/core/slab: objects are zeroed, distinct and keep
 * their contents; freed slots are reused; emptied blocks go back to the
 * system (one kept); random alloc/free checked against a shadow array.
 * The slab's own blocks are tested even where sanitizers make the daemon
 * bypass them.
 */
#include <stdint.h>
#include <stdlib.h>

#include "daemon/core/slab.h"
#include "tests/unit/check.h"

#define OBJ 120		/* like struct future */
#define N 20000

/* Whether the n bytes at p are all zero. */
static int
all_zero(const unsigned char *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (p[i] != 0)
			return 0;
	return 1;
}

/* Fill an object with a pattern of k. */
static void
fill(unsigned char *p, size_t k)
{
	for (size_t i = 0; i < OBJ; i++)
		p[i] = (unsigned char)(k * 31 + i);
}

/* Whether the object still holds the pattern of k. */
static int
holds(const unsigned char *p, size_t k)
{
	for (size_t i = 0; i < OBJ; i++)
		if (p[i] != (unsigned char)(k * 31 + i))
			return 0;
	return 1;
}

/* Many objects: zeroed, 8-aligned, packed into few blocks; all freed,
 * one block stays; allocated again, they are zero again. */
static void
test_fill_and_empty(int bypass)
{
	static unsigned char *p[N];
	struct slab s;
	size_t bad = 0, per;

	slab_init(&s, OBJ);
	s.bypass = bypass;
	per = s.per_block;
	/* A small header, then as many objects as fit. */
	CHECK(s.size == OBJ && per * OBJ <= SLAB_BLOCK && (per + 1) * OBJ + 128 > SLAB_BLOCK);
	for (size_t r = 0; r < 2; r++) {
		for (size_t i = 0; i < N; i++) {
			if ((p[i] = slab_alloc(&s)) == NULL || !all_zero(p[i], OBJ) ||
			    ((uintptr_t)p[i] & 7) != 0)
				bad++;
			else
				fill(p[i], i);
		}
		CHECK_INT_EQ(bad, 0);
		CHECK_INT_EQ(s.live, N);
		if (!bypass)
			CHECK_INT_EQ(slab_blocks(&s), (N + per - 1) / per);
		for (size_t i = 0; i < N; i++)
			if (!holds(p[i], i))
				bad++;
		CHECK_INT_EQ(bad, 0);
		for (size_t i = 0; i < N; i++)
			slab_free(&s, p[i]);
		CHECK_INT_EQ(s.live, 0);
		CHECK_INT_EQ(slab_blocks(&s), bypass ? 0 : 1);
	}
	slab_free(&s, NULL);
	slab_destroy(&s);
	CHECK_INT_EQ(slab_blocks(&s), 0);
}

/* Random allocs and frees: every live object keeps its contents, freed
 * slots are reused before new blocks are mapped. */
static void
test_random(void)
{
	static unsigned char *p[N];
	struct slab s;
	size_t bad = 0, live = 0, peak = 0;

	srandom(7);
	slab_init(&s, OBJ);
	s.bypass = 0;
	for (long step = 0; step < 400000; step++) {
		size_t i = (size_t)random() % N;

		if (p[i] == NULL) {
			if ((p[i] = slab_alloc(&s)) == NULL || !all_zero(p[i], OBJ))
				bad++;
			else {
				fill(p[i], i);
				live++;
			}
		} else {
			if (!holds(p[i], i))
				bad++;
			slab_free(&s, p[i]);
			p[i] = NULL;
			live--;
		}
		if (live > peak)
			peak = live;
	}
	CHECK_INT_EQ(bad, 0);
	CHECK_INT_EQ(s.live, live);
	/* Never more blocks than the peak needed, plus the spare. */
	CHECK(slab_blocks(&s) <= (peak + s.per_block - 1) / s.per_block + 1);
	for (size_t i = 0; i < N; i++)
		if (p[i] != NULL) {
			if (!holds(p[i], i))
				bad++;
			slab_free(&s, p[i]);
		}
	CHECK_INT_EQ(bad, 0);
	CHECK_INT_EQ(slab_blocks(&s), 1);
	slab_destroy(&s);
}

/* Objects smaller than a pointer still get room for the free list; odd
 * sizes are rounded up to 8. */
static void
test_sizes(void)
{
	struct slab s;
	void *a, *b;

	slab_init(&s, 1);
	CHECK(s.size == sizeof(void *));
	slab_destroy(&s);
	slab_init(&s, 13);
	s.bypass = 0;
	CHECK(s.size == 16);
	a = slab_alloc(&s);
	b = slab_alloc(&s);
	CHECK(a != NULL && b != NULL && (char *)b - (char *)a == 16);
	slab_free(&s, a);
	CHECK(slab_alloc(&s) == a);	/* a freed slot is reused first */
	slab_destroy(&s);
}

int
main(void)
{
	test_fill_and_empty(0);
	test_fill_and_empty(1);
	test_random();
	test_sizes();
	return check_summary();
}
