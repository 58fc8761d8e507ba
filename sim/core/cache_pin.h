/*
 * cache_pin.h - pinning blocks of running requests (timed mode, DESIGN.md section 4).
 *
 * A running request pins its blocks from admission to completion. A pinned block
 * (kv_block.refcnt > 0) is taken out of the eviction policy with on_remove when its count
 * goes 0 -> 1 and given back with on_insert when it returns to 0, so victim() can never
 * return it. A request pins its whole cached prefix (block 0 up to some k), so every ancestor
 * of a pinned block is pinned too and prefix closure, which evicts a victim's descendants,
 * never reaches a pinned block. Cache mode never pins: these functions are not called there.
 */
#ifndef KV_CACHE_PIN_H
#define KV_CACHE_PIN_H

#include <stdint.h>

#include "cache.h"

/* Pins resident node n. O(1) plus on_remove. */
void cache_pin(struct kv_cache *c, uint32_t n);

/* Unpins node n; when no request holds it any more it goes back to the policy (on_insert
 * with access a). O(1) plus on_insert. */
void cache_unpin(struct kv_cache *c, uint32_t n, const struct kv_access *a);

/* Pins the leading resident blocks of nodes[0..n) and returns how many were pinned.
 * O(pinned). */
uint32_t cache_pin_prefix(struct kv_cache *c, const uint32_t *nodes, uint32_t n);

/* Unpins nodes[0..n) from the LAST to the FIRST (tail-first release, so an LRU keeps the
 * head of a request longer than its tail, as vLLM frees blocks in reverse order). a->pos is
 * set per block. O(n). */
void cache_unpin_prefix(struct kv_cache *c, const uint32_t *nodes, uint32_t n,
			struct kv_access *a);

/* Blocks among nodes[0..n) that are not pinned now: what admitting a request that pins
 * them all adds to c->pinned. O(n). */
uint32_t cache_unpinned_count(const struct kv_cache *c, const uint32_t *nodes, uint32_t n);

/* Checks the pinning invariants (for tests): every pinned block is resident, its parent is
 * pinned, and c->pinned counts them. O(nodes). */
int cache_pin_check(const struct kv_cache *c, struct kv_err *err);

#endif
