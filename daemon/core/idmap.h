/*
 * idmap: a hash table from 64-bit ids to pointers (open addressing,
 * linear probing, backward-shift deletion). Key 0 is reserved.
 *
 * Growing does not rehash every member at once: the full table becomes
 * `old`, and each later put or delete moves a few of its slots into the
 * new one (a lookup tries both). Rehashing 100,000 members in one go held
 * the loop for 17 ms on this machine, a million for ten times that
 * (issue 13: no work that grows with the input in one turn).
 */
#ifndef LOOPD_CORE_IDMAP_H
#define LOOPD_CORE_IDMAP_H

#include <stddef.h>
#include <stdint.h>

struct idmap_slot {
	uint64_t key;
	void *val;
};

struct idmap {
	struct idmap_slot *v;
	size_t n, mask;		/* members in all; mask = capacity - 1 */
	struct idmap_slot *old;	/* the table being emptied into v, or NULL */
	size_t old_n, old_mask;	/* its members and capacity - 1 */
	size_t old_i;		/* slots below this one are empty */
};

/* An empty map. */
void idmap_init(struct idmap *m);
/* Free the table (not the values). Accepts NULL. */
void idmap_free(struct idmap *m);
/* The value for key, or NULL. */
void *idmap_get(const struct idmap *m, uint64_t key);
/* Insert or replace. 0, or -1 on ENOMEM (map unchanged). */
int idmap_put(struct idmap *m, uint64_t key, void *val);
/* Remove key; returns its value or NULL. */
void *idmap_del(struct idmap *m, uint64_t key);
/* A 64-bit hash of bytes (FNV-1a), for keys that are not ids. */
uint64_t idmap_hash_bytes(const void *p, size_t len);
/* Number of entries. */
size_t idmap_len(const struct idmap *m);
/* Whether a growth is still moving members into the new table. */
int idmap_growing(const struct idmap *m);
/* Move up to `slots` slots of a growth now. 1 if some remain. Puts and
 * deletes move the rest only while they come: an owner whose map may
 * stop changing calls this in its idle turns, so that the old table is
 * freed and lookups try one table again. */
int idmap_step(struct idmap *m, size_t slots);

#endif
