/*
 * intern.h - chain interning: (parent node, hash id) -> dense node index.
 *
 * The hot path of loading: one lookup per block access. A purpose-built open-addressing
 * table (linear probing, power-of-two size, load factor at most 1/2, 16-byte slots) rather
 * than uthash: no allocation per entry and about 32 bytes per distinct node; bench/ shows the
 * difference. Used only while loading, then freed.
 */
#ifndef KV_INTERN_H
#define KV_INTERN_H

#include <stddef.h>
#include <stdint.h>

struct kv_intern;

struct kv_intern *intern_create(size_t expected_nodes);
void intern_destroy(struct kv_intern *in);

/* Returns the node for (parent, id); when absent, inserts it as node `next` and sets
 * *added. Returns KV_NO_NODE (UINT32_MAX) when out of memory. O(1) expected. */
uint32_t intern_get(struct kv_intern *in, uint32_t parent, uint64_t id, uint32_t next,
		    int *added);

#endif
