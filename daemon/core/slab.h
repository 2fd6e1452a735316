/*
 * slab: fixed-size objects carved from large aligned blocks.
 *
 * The core keeps one object per future and call, possibly millions of
 * them for months. malloc adds an 8-byte header to each, rounds it to
 * 16 bytes, and interleaves them with the short-lived allocations of requests, so the
 * holes those leave are hard to give back. A slab packs the objects
 * with no header, reuses freed slots first, and unmaps a block once it
 * holds no object (keeping one empty block, so that an allocation and a
 * free at a block's edge do not map and unmap it each time).
 *
 * Under AddressSanitizer or valgrind every object comes from calloc
 * instead, so that those tools see each one.
 */
#ifndef LOOPD_CORE_SLAB_H
#define LOOPD_CORE_SLAB_H

#include <sys/queue.h>
#include <stddef.h>

struct slab_block;
TAILQ_HEAD(slab_block_list, slab_block);

struct slab {
	size_t size;			/* object size, rounded up to 8 */
	size_t per_block;		/* objects in a block */
	struct slab_block_list partial;	/* blocks with a free slot */
	struct slab_block_list full;
	struct slab_block *spare;	/* one empty block kept mapped */
	size_t blocks;			/* blocks mapped, the spare included */
	size_t live;			/* objects allocated */
	int bypass;			/* use calloc/free (sanitizers) */
};

/* An empty slab of objects of size bytes (at most a few KiB, aligned to
 * at most 8); needs no memory until the first allocation. */
void slab_init(struct slab *s, size_t size);
/* Unmap every block (objects still allocated go with them). */
void slab_destroy(struct slab *s);
/* A zeroed object, or NULL on ENOMEM. */
void *slab_alloc(struct slab *s);
/* Give back an object from slab_alloc; accepts NULL. */
void slab_free(struct slab *s, void *p);
/* Blocks mapped (each SLAB_BLOCK bytes), for tests and metrics. */
size_t slab_blocks(const struct slab *s);

#define SLAB_BLOCK ((size_t)256 * 1024)

#endif
