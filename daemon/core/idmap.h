/*
 * idmap: a hash table from 64-bit ids to pointers (open addressing,
 * linear probing, backward-shift deletion). Key 0 is reserved.
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
	size_t n, mask;		/* mask = capacity - 1 */
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

#endif
