/* intern.c - open-addressing table for chain interning (see intern.h). */
#include "intern.h"

#include <stdlib.h>

#include "trace.h"

struct slot {
	uint64_t id;
	uint32_t parent;
	uint32_t node; /* KV_NO_NODE = empty */
};

struct kv_intern {
	struct slot *slots;
	size_t mask;
	size_t used;
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
	struct slot *s = malloc(n * sizeof(*s));

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
	while (n < expected_nodes * 2)
		n *= 2;
	in->slots = alloc_slots(n);
	if (!in->slots) {
		free(in);
		return NULL;
	}
	in->mask = n - 1;
	return in;
}

void intern_destroy(struct kv_intern *in)
{
	if (!in)
		return;
	free(in->slots);
	free(in);
}

static int grow(struct kv_intern *in)
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

uint32_t intern_get(struct kv_intern *in, uint32_t parent, uint64_t id, uint32_t next,
		    int *added)
{
	size_t h;

	*added = 0;
	for (h = slot_hash(parent, id) & in->mask; in->slots[h].node != KV_NO_NODE;
	     h = (h + 1) & in->mask)
		if (in->slots[h].id == id && in->slots[h].parent == parent)
			return in->slots[h].node;
	if ((in->used + 1) * 2 > in->mask + 1) {
		if (grow(in))
			return KV_NO_NODE;
		for (h = slot_hash(parent, id) & in->mask; in->slots[h].node != KV_NO_NODE;
		     h = (h + 1) & in->mask)
			;
	}
	in->slots[h].id = id;
	in->slots[h].parent = parent;
	in->slots[h].node = next;
	in->used++;
	*added = 1;
	return next;
}
