/*
 * intern.c - chain interning (see intern.h).
 *
 * Two structures, chosen per parent node:
 *  - a child list per parent (first_child[], next_sib[], most recently used first), for the
 *    common parent with a handful of children. Walking it reads the children's ids, which
 *    sit next to each other in memory because a chain's nodes are numbered consecutively,
 *    so a repeated prefix costs no cache miss, unlike a hash probe per block;
 *  - an open-addressing table (linear probing, power-of-two size, load at most 1/2) keyed by
 *    (parent, id), for ROOT and for any parent whose list grew past LIST_MAX children.
 *    first_child[p] == HASHED marks such a parent.
 * 16 bytes per node for the lists and ids, plus 16-byte slots for the hashed children.
 */
#include "intern.h"

#include <stdlib.h>

#include "bigmem.h"
#include "trace.h"

#define HASHED (UINT32_MAX - 1) /* first_child mark: children are in the table */
#define LIST_MAX 8

struct slot {
	uint64_t id;
	uint32_t parent;
	uint32_t node; /* KV_NO_NODE = empty */
};

struct kv_intern {
	struct slot *slots;
	size_t mask, used;
	uint32_t *first_child, *next_sib;
	uint64_t *id;
	size_t cap; /* nodes the arrays hold */
	size_t pop; /* nodes populated ahead (bigmem.h) */
	int reserved; /* intern_reserve(): the arrays never move, and their user populates them
		       * (intern_prefault) */
	uint64_t root_id;   /* the last first block looked up, and its node: most requests of */
	uint32_t root_node; /* a trace start with the same block (KV_NO_NODE: none yet) */
};

static inline size_t slot_hash(uint32_t parent, uint64_t id)
{
	/* splitmix64 finaliser over both halves of the key */
	uint64_t x = id ^ ((uint64_t)parent * 0x9e3779b97f4a7c15ull);
	x ^= x >> 30;
	x *= 0xbf58476d1ce4e5b9ull;
	x ^= x >> 27;
	x *= 0x94d049bb133111ebull;
	x ^= x >> 31;
	return (size_t)x;
}

static struct slot *alloc_slots(size_t n)
{
	struct slot *s = kv_big_alloc(n * sizeof(*s));

	if (s)
		for (size_t i = 0; i < n; i++)
			s[i].node = KV_NO_NODE;
	return s;
}

struct kv_intern *intern_create(size_t expected_nodes)
{
	struct kv_intern *in = calloc(1, sizeof(*in));
	size_t n = 1024;

	if (!in)
		return NULL;
	while (n < expected_nodes / 4)
		n *= 2;
	in->slots = alloc_slots(n);
	if (!in->slots) {
		free(in);
		return NULL;
	}
	in->mask = n - 1;
	in->root_node = KV_NO_NODE;
	return in;
}

void intern_destroy(struct kv_intern *in)
{
	if (!in)
		return;
	free(in->slots);
	free(in->first_child);
	free(in->next_sib);
	free(in->id);
	free(in);
}

static int grow_table(struct kv_intern *in)
{
	size_t n = (in->mask + 1) * 2;
	struct slot *s = alloc_slots(n);

	if (!s)
		return -1;
	for (size_t i = 0; i <= in->mask; i++) {
		struct slot *o = &in->slots[i];
		size_t h;

		if (o->node == KV_NO_NODE)
			continue;
		for (h = slot_hash(o->parent, o->id) & (n - 1); s[h].node != KV_NO_NODE;
		     h = (h + 1) & (n - 1))
			;
		s[h] = *o;
	}
	free(in->slots);
	in->slots = s;
	in->mask = n - 1;
	return 0;
}

/* Inserts a key known to be absent. */
static int table_put(struct kv_intern *in, uint32_t parent, uint64_t id, uint32_t node)
{
	size_t h;

	if ((in->used + 1) * 2 > in->mask + 1 && grow_table(in))
		return -1;
	for (h = slot_hash(parent, id) & in->mask; in->slots[h].node != KV_NO_NODE;
	     h = (h + 1) & in->mask)
		;
	in->slots[h].id = id;
	in->slots[h].parent = parent;
	in->slots[h].node = node;
	in->used++;
	return 0;
}

static uint32_t table_get(const struct kv_intern *in, uint32_t parent, uint64_t id)
{
	for (size_t h = slot_hash(parent, id) & in->mask; in->slots[h].node != KV_NO_NODE;
	     h = (h + 1) & in->mask)
		if (in->slots[h].id == id && in->slots[h].parent == parent)
			return in->slots[h].node;
	return KV_NO_NODE;
}

/* Makes room for node `next` and initialises it. */
static int new_node(struct kv_intern *in, uint32_t next, uint64_t id)
{
	if (next >= in->cap) {
		size_t cap = in->cap ? in->cap * 2 : 1u << 16;
		void *a;

		if (in->reserved) /* cannot happen: the caller's bound holds */
			return -1;
		if (!(a = kv_big_realloc(in->first_child, cap * 4)))
			return -1;
		in->first_child = a;
		if (!(a = kv_big_realloc(in->next_sib, cap * 4)))
			return -1;
		in->next_sib = a;
		if (!(a = kv_big_realloc(in->id, cap * 8)))
			return -1;
		in->id = a;
		in->cap = cap;
	}
	if (next >= in->pop && !in->reserved) {
		size_t d1 = in->pop, d2 = in->pop;
		kv_big_prefault_to(in->first_child, 4, &d1, (size_t)next + 1, in->cap);
		kv_big_prefault_to(in->next_sib, 4, &d2, (size_t)next + 1, in->cap);
		kv_big_prefault_to(in->id, 8, &in->pop, (size_t)next + 1, in->cap);
	}
	in->first_child[next] = KV_NO_NODE;
	in->next_sib[next] = KV_NO_NODE;
	in->id[next] = id;
	return 0;
}

/* Moves parent p's children from its list into the table. O(LIST_MAX). */
static int to_table(struct kv_intern *in, uint32_t p)
{
	for (uint32_t c = in->first_child[p]; c != KV_NO_NODE; c = in->next_sib[c])
		if (table_put(in, p, in->id[c], c))
			return -1;
	in->first_child[p] = HASHED;
	return 0;
}

uint32_t intern_get(struct kv_intern *in, uint32_t parent, uint64_t id, uint32_t next,
		    int *added)
{
	uint32_t fc, c, prev = KV_NO_NODE;
	int len = 0;

	*added = 0;
	if (parent == KV_NO_NODE && in->root_node != KV_NO_NODE && in->root_id == id)
		return in->root_node;
	fc = parent == KV_NO_NODE ? HASHED : in->first_child[parent];
	if (fc != HASHED) {
		for (c = fc; c != KV_NO_NODE; prev = c, c = in->next_sib[c], len++)
			if (in->id[c] == id) {
				if (prev != KV_NO_NODE) { /* move to front */
					in->next_sib[prev] = in->next_sib[c];
					in->next_sib[c] = fc;
					in->first_child[parent] = c;
				}
				return c;
			}
		if (new_node(in, next, id))
			return KV_NO_NODE;
		if (len < LIST_MAX) {
			in->next_sib[next] = fc;
			in->first_child[parent] = next;
		} else if (to_table(in, parent) || table_put(in, parent, id, next)) {
			return KV_NO_NODE;
		}
		*added = 1;
		return next;
	}
	if ((c = table_get(in, parent, id)) == KV_NO_NODE) {
		if (new_node(in, next, id) || table_put(in, parent, id, next))
			return KV_NO_NODE;
		*added = 1;
		c = next;
	}
	if (parent == KV_NO_NODE) {
		in->root_id = id;
		in->root_node = c;
	}
	return c;
}

int intern_reserve(struct kv_intern *in, size_t max_nodes)
{
	uint32_t *fc, *ns;
	uint64_t *id;

	if (in->cap || max_nodes > SIZE_MAX / 8)
		return -1;
	fc = kv_big_realloc(NULL, max_nodes * 4);
	ns = kv_big_realloc(NULL, max_nodes * 4);
	id = kv_big_realloc(NULL, max_nodes * 8);
	if (!fc || !ns || !id) {
		free(fc);
		free(ns);
		free(id);
		return -1;
	}
	in->first_child = fc;
	in->next_sib = ns;
	in->id = id;
	in->cap = max_nodes;
	in->reserved = 1;
	return 0;
}

void intern_prefault(struct kv_intern *in, size_t from, size_t to)
{
	if (to > in->cap)
		to = in->cap;
	if (from >= to)
		return;
	kv_big_prefault(in->first_child, from * 4, to * 4);
	kv_big_prefault(in->next_sib, from * 4, to * 4);
	kv_big_prefault(in->id, from * 8, to * 8);
}

uint64_t *intern_take_ids(struct kv_intern *in, size_t *populated)
{
	uint64_t *ids = in->id;

	*populated = in->pop;
	in->id = NULL;
	in->cap = in->pop = 0;
	return ids;
}
