/*
 * idmap: open-addressing hash of uint64 -> pointer. Load stays <= 3/4.
 */
#include "daemon/core/idmap.h"

#include <assert.h>
#include <stdlib.h>

/* Mix the bits of a key (ids are sequential; spread them). */
static size_t
idmap_hash(uint64_t k)
{
	k ^= k >> 33;
	k *= 0xff51afd7ed558ccdULL;
	k ^= k >> 33;
	k *= 0xc4ceb9fe1a85ec53ULL;
	k ^= k >> 33;
	return (size_t)k;
}

void
idmap_init(struct idmap *m)
{
	m->v = NULL;
	m->n = 0;
	m->mask = 0;
}

void
idmap_free(struct idmap *m)
{
	if (m == NULL)
		return;
	free(m->v);
	idmap_init(m);
}

/* Index of key's slot, or of the empty slot where it would go. */
static size_t
idmap_find(const struct idmap *m, uint64_t key)
{
	size_t i = idmap_hash(key) & m->mask;

	while (m->v[i].key != 0 && m->v[i].key != key)
		i = (i + 1) & m->mask;
	return i;
}

/* Rehash into a table of cap slots. */
static int
idmap_grow(struct idmap *m, size_t cap)
{
	struct idmap old = *m;

	if ((m->v = calloc(cap, sizeof(*m->v))) == NULL) {
		*m = old;
		return -1;
	}
	m->mask = cap - 1;
	for (size_t i = 0; old.v != NULL && i <= old.mask; i++)
		if (old.v[i].key != 0)
			m->v[idmap_find(m, old.v[i].key)] = old.v[i];
	free(old.v);
	return 0;
}

void *
idmap_get(const struct idmap *m, uint64_t key)
{
	if (m->v == NULL || key == 0)
		return NULL;
	return m->v[idmap_find(m, key)].val;
}

int
idmap_put(struct idmap *m, uint64_t key, void *val)
{
	size_t i;

	assert(key != 0);
	if (m->v == NULL || (m->n + 1) * 4 > (m->mask + 1) * 3)
		if (idmap_grow(m, m->v == NULL ? 64 : (m->mask + 1) * 2) == -1)
			return -1;
	i = idmap_find(m, key);
	if (m->v[i].key == 0)
		m->n++;
	m->v[i].key = key;
	m->v[i].val = val;
	return 0;
}

void *
idmap_del(struct idmap *m, uint64_t key)
{
	size_t i, j;
	void *val;

	if (m->v == NULL || key == 0)
		return NULL;
	i = idmap_find(m, key);
	if (m->v[i].key == 0)
		return NULL;
	val = m->v[i].val;
	m->n--;
	/* Backward shift: pull later members of the probe run into the hole
	 * when their home slot does not lie between the hole and them. */
	for (j = (i + 1) & m->mask; m->v[j].key != 0; j = (j + 1) & m->mask) {
		size_t home = idmap_hash(m->v[j].key) & m->mask;
		if (((j - home) & m->mask) >= ((j - i) & m->mask)) {
			m->v[i] = m->v[j];
			i = j;
		}
	}
	m->v[i].key = 0;
	m->v[i].val = NULL;
	return val;
}

size_t
idmap_len(const struct idmap *m)
{
	return m->n;
}

uint64_t
idmap_hash_bytes(const void *p, size_t len)
{
	const unsigned char *b = p;
	uint64_t h = 0xcbf29ce484222325ULL;

	for (size_t i = 0; i < len; i++) {
		h ^= b[i];
		h *= 0x100000001b3ULL;
	}
	return h;
}
