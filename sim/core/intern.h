/*
 * intern.h - chain interning: (parent node, hash id) -> dense node index.
 *
 * The hot path of loading: one lookup per block access. Purpose-built (intern.c): a child
 * list per parent node, walked with no cache miss along a repeated chain, and an
 * open-addressing table for ROOT and parents with many children; no allocation per entry,
 * about 16 bytes per distinct node. `make bench` shows the difference against one hash probe
 * per block. Used only while loading, then freed.
 */
#ifndef KV_INTERN_H
#define KV_INTERN_H

#include <stddef.h>
#include <stdint.h>

struct kv_intern;

struct kv_intern *intern_create(size_t expected_nodes);
void intern_destroy(struct kv_intern *in);

/* Returns the node for (parent, id); when absent, inserts it as node `next` and sets
 * *added. Nodes must be numbered 0, 1, 2, ... in the order they are added. Returns
 * KV_NO_NODE (UINT32_MAX) when out of memory. O(1) expected. */
uint32_t intern_get(struct kv_intern *in, uint32_t parent, uint64_t id, uint32_t next,
		    int *added);

/* Reserves the per-node arrays for max_nodes nodes up front (address space only; untouched
 * pages cost no memory), so that they never move. The table then leaves populating them to
 * its user, through intern_prefault(), which may run on another thread while this one
 * interns. Returns 0, or -1 (the arrays grow as needed and the table populates them). */
int intern_reserve(struct kv_intern *in, size_t max_nodes);

/* A reserved table: populates the per-node arrays for nodes [from, to). Thread-safe. */
void intern_prefault(struct kv_intern *in, size_t from, size_t to);

/* Hands over the array of the hash ids of nodes 0..next-1 (node -> id), which the caller
 * then owns (free()); the table must not be used afterwards except to destroy it. The loader
 * uses it as trace->node_hash instead of keeping a copy. *populated receives how many
 * entries were populated ahead (bigmem.h), at most the array's capacity (0 for a reserved
 * table: its user knows). */
uint64_t *intern_take_ids(struct kv_intern *in, size_t *populated);

#endif
