/*
 * slab: blocks of SLAB_BLOCK bytes, aligned to their size, so an object's
 * block is found by masking its address. A block starts with its header;
 * free slots are linked through their first word.
 */
#include "daemon/core/slab.h"

#include <sys/mman.h>
#include <assert.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* Bypass the blocks under AddressSanitizer (clang: __has_feature, gcc:
 * __SANITIZE_ADDRESS__) and valgrind: they check each malloc'd object,
 * and their leak checkers look for pointers (a future's strings) only in
 * malloc'd memory, not in our mappings. */
#if defined(__has_feature)
#if __has_feature(address_sanitizer)
#define SLAB_BYPASS() 1
#endif
#endif
#if defined(SLAB_BYPASS)
#elif defined(__SANITIZE_ADDRESS__)
#define SLAB_BYPASS() 1
#elif defined(__has_include)
#if __has_include(<valgrind/valgrind.h>)
#include <valgrind/valgrind.h>
#define SLAB_BYPASS() (RUNNING_ON_VALGRIND != 0)
#endif
#endif
#ifndef SLAB_BYPASS
#define SLAB_BYPASS() 0
#endif

struct slab_block {
	TAILQ_ENTRY(slab_block) link;	/* on partial or full */
	void *free;			/* freed slots */
	size_t fresh;			/* slots [fresh, per_block) never used */
	size_t live;			/* objects allocated from it */
	int on_full;
};

/* Bytes before the first slot. */
#define SLAB_HEAD ((sizeof(struct slab_block) + 15) & ~(size_t)15)

void
slab_init(struct slab *s, size_t size)
{
	memset(s, 0, sizeof(*s));
	if (size < sizeof(void *))
		size = sizeof(void *);
	s->size = (size + 7) & ~(size_t)7;
	s->per_block = (SLAB_BLOCK - SLAB_HEAD) / s->size;
	assert(s->per_block > 0);
	TAILQ_INIT(&s->partial);
	TAILQ_INIT(&s->full);
	s->bypass = SLAB_BYPASS();
}

/* Map a block aligned to its size: map twice the size, then unmap the
 * misaligned head and the tail. */
static struct slab_block *
slab_block_new(struct slab *s)
{
	char *p, *a;
	size_t head;

	p = mmap(NULL, 2 * SLAB_BLOCK, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
	    -1, 0);
	if (p == MAP_FAILED)
		return NULL;
	a = (char *)(((uintptr_t)p + SLAB_BLOCK - 1) & ~(uintptr_t)(SLAB_BLOCK - 1));
	head = (size_t)(a - p);
	if (head > 0)
		munmap(p, head);
	munmap(a + SLAB_BLOCK, SLAB_BLOCK - head);
	s->blocks++;
	return (struct slab_block *)a;	/* fresh pages read as zero */
}

/* Unmap a block. */
static void
slab_block_unmap(struct slab *s, struct slab_block *b)
{
	munmap(b, SLAB_BLOCK);
	s->blocks--;
}

void
slab_destroy(struct slab *s)
{
	struct slab_block *b;

	while ((b = TAILQ_FIRST(&s->partial)) != NULL) {
		TAILQ_REMOVE(&s->partial, b, link);
		slab_block_unmap(s, b);
	}
	while ((b = TAILQ_FIRST(&s->full)) != NULL) {
		TAILQ_REMOVE(&s->full, b, link);
		slab_block_unmap(s, b);
	}
	if (s->spare != NULL)
		slab_block_unmap(s, s->spare);
	s->spare = NULL;
	s->live = 0;
}

void *
slab_alloc(struct slab *s)
{
	struct slab_block *b;
	void *p;

	if (s->bypass) {
		if ((p = calloc(1, s->size)) != NULL)
			s->live++;
		return p;
	}
	if ((b = TAILQ_FIRST(&s->partial)) == NULL) {
		if ((b = s->spare) != NULL)
			s->spare = NULL;
		else if ((b = slab_block_new(s)) == NULL)
			return NULL;
		memset(b, 0, sizeof(*b));
		TAILQ_INSERT_HEAD(&s->partial, b, link);
	}
	if (b->free != NULL) {
		p = b->free;
		memcpy(&b->free, p, sizeof(void *));
		memset(p, 0, s->size);
	} else
		p = (char *)b + SLAB_HEAD + b->fresh++ * s->size;	/* still zero */
	b->live++;
	s->live++;
	if (b->free == NULL && b->fresh == s->per_block) {
		TAILQ_REMOVE(&s->partial, b, link);
		TAILQ_INSERT_TAIL(&s->full, b, link);
		b->on_full = 1;
	}
	return p;
}

void
slab_free(struct slab *s, void *p)
{
	struct slab_block *b;

	if (p == NULL)
		return;
	s->live--;
	if (s->bypass) {
		free(p);
		return;
	}
	b = (struct slab_block *)((uintptr_t)p & ~(uintptr_t)(SLAB_BLOCK - 1));
	assert(b->live > 0);
	memcpy(p, &b->free, sizeof(void *));
	b->free = p;
	if (b->on_full) {
		/* Behind the blocks already partial: new objects fill those
		 * first, so that sparse blocks can empty and go. */
		TAILQ_REMOVE(&s->full, b, link);
		TAILQ_INSERT_TAIL(&s->partial, b, link);
		b->on_full = 0;
	}
	if (--b->live > 0)
		return;
	TAILQ_REMOVE(&s->partial, b, link);
	if (s->spare == NULL) {
		/* Kept, its pages given back: they read as zero again. */
		madvise(b, SLAB_BLOCK, MADV_DONTNEED);
		s->spare = b;
	} else
		slab_block_unmap(s, b);
}

size_t
slab_blocks(const struct slab *s)
{
	return s->blocks;
}
