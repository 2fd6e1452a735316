/*
 * idmap: open-addressing hash of uint64 -> pointer. Load stays <= 3/4.
 */
#include "daemon/core/idmap.h"

#include <assert.h>
#include <stdint.h>
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

/* Slots of the old table moved by each put or delete while growing:
 * the next growth comes at least 3/4 of the old capacity of puts later,
 * by when 8 slots a put have emptied it six times over. */
#define MIGRATE_STEP 8

void
idmap_init(struct idmap *m)
{
	m->v = m->old = NULL;
	m->n = m->mask = 0;
	m->old_n = m->old_mask = m->old_i = 0;
}

void
idmap_free(struct idmap *m)
{
	if (m == NULL)
		return;
	free(m->v);
	free(m->old);
	idmap_init(m);
}

/* Index of key's slot in table v, or of the empty slot where it would go. */
static size_t
slot_find(const struct idmap_slot *v, size_t mask, uint64_t key)
{
	size_t i = idmap_hash(key) & mask;

	while (v[i].key != 0 && v[i].key != key)
		i = (i + 1) & mask;
	return i;
}

/* Empty slot i of table v. Backward shift: pull later members of the
 * probe run into the hole when their home slot does not lie between the
 * hole and them. */
static void
slot_clear(struct idmap_slot *v, size_t mask, size_t i)
{
	size_t j;

	for (j = (i + 1) & mask; v[j].key != 0; j = (j + 1) & mask) {
		size_t home = idmap_hash(v[j].key) & mask;
		if (((j - home) & mask) >= ((j - i) & mask)) {
			v[i] = v[j];
			i = j;
		}
	}
	v[i].key = 0;
	v[i].val = NULL;
}

/* Move up to `slots` slots of the old table into the new one (all of
 * them: SIZE_MAX), freeing it once it is empty. A slot is emptied before
 * moving on: the backward shift may pull the next member of its run into
 * it. Slots below old_i stay empty, so no run wraps into them. */
static void
migrate(struct idmap *m, size_t slots)
{
	while (m->old != NULL && slots-- > 0) {
		if (m->old_i > m->old_mask || m->old_n == 0) {
			free(m->old);
			m->old = NULL;
			m->old_n = m->old_mask = m->old_i = 0;
			break;
		}
		while (m->old[m->old_i].key != 0) {
			struct idmap_slot e = m->old[m->old_i];

			slot_clear(m->old, m->old_mask, m->old_i);
			m->old_n--;
			m->v[slot_find(m->v, m->mask, e.key)] = e;
		}
		m->old_i++;
	}
}

/* Start moving into a table of cap slots (the one before must be empty
 * by then: it is emptied first if not). */
static int
idmap_grow(struct idmap *m, size_t cap)
{
	struct idmap_slot *v;

	migrate(m, SIZE_MAX);
	if ((v = calloc(cap, sizeof(*v))) == NULL)
		return -1;
	if (m->v != NULL && m->n > 0) {
		m->old = m->v;
		m->old_n = m->n;
		m->old_mask = m->mask;
		m->old_i = 0;
	} else
		free(m->v);
	m->v = v;
	m->mask = cap - 1;
	return 0;
}

void *
idmap_get(const struct idmap *m, uint64_t key)
{
	size_t i;

	if (m->v == NULL || key == 0)
		return NULL;
	i = slot_find(m->v, m->mask, key);
	if (m->v[i].key == key)
		return m->v[i].val;
	if (m->old != NULL && m->old_n > 0) {
		i = slot_find(m->old, m->old_mask, key);
		if (m->old[i].key == key)
			return m->old[i].val;
	}
	return NULL;
}

/* Remove key from the old table, if it is there. Its value, or NULL. */
static void *
old_del(struct idmap *m, uint64_t key)
{
	size_t i;
	void *val;

	if (m->old == NULL || m->old_n == 0)
		return NULL;
	i = slot_find(m->old, m->old_mask, key);
	if (m->old[i].key != key)
		return NULL;
	val = m->old[i].val;
	slot_clear(m->old, m->old_mask, i);
	m->old_n--;
	m->n--;
	return val;
}

int
idmap_put(struct idmap *m, uint64_t key, void *val)
{
	size_t i;

	assert(key != 0);
	if (m->v == NULL || (m->n + 1) * 4 > (m->mask + 1) * 3)
		if (idmap_grow(m, m->v == NULL ? 64 : (m->mask + 1) * 2) == -1)
			return -1;
	migrate(m, MIGRATE_STEP);
	i = slot_find(m->v, m->mask, key);
	if (m->v[i].key == 0) {
		old_del(m, key);	/* a member lives in one table */
		m->n++;
	}
	m->v[i].key = key;
	m->v[i].val = val;
	return 0;
}

void *
idmap_del(struct idmap *m, uint64_t key)
{
	size_t i;
	void *val;

	if (m->v == NULL || key == 0)
		return NULL;
	migrate(m, MIGRATE_STEP);
	i = slot_find(m->v, m->mask, key);
	if (m->v[i].key == 0)
		return old_del(m, key);
	val = m->v[i].val;
	slot_clear(m->v, m->mask, i);
	m->n--;
	return val;
}

int
idmap_growing(const struct idmap *m)
{
	return m->old != NULL;
}

int
idmap_step(struct idmap *m, size_t slots)
{
	migrate(m, slots);
	if (m->old != NULL && m->old_n == 0)
		migrate(m, 1);		/* empty: free it now */
	return m->old != NULL;
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
