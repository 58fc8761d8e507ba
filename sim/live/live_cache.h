/*
 * live_cache.h - the emulated engine's prefix cache: token ids in, cached tokens out.
 *
 * serve sees token ids, not trace nodes, so it keeps its own chain-hash -> node table that
 * grows and shrinks at run time, and runs the unchanged cache core and eviction policies
 * over it with vLLM's rules (DESIGN.md sections 3 and 5): ids are cut into block_size
 * blocks, only full blocks are cached, block i is keyed by (node of block i-1, hash of its
 * ids), at most floor((L-1)/B) blocks hit (the last token is always recomputed), and each
 * request is counted then touched tail-first exactly as cache mode does. Sequential
 * requests therefore get exactly the hits cache_run_request predicts for the trace.
 *
 * The core indexes block records by node, and needs a trace for chain parents: this module
 * owns a synthetic trace whose node arrays are sized capacity + the longest request, and
 * recycles the node numbers of evicted blocks (an evicted block has no resident
 * descendants, so no chain key still points at it). Policies see no requests in that trace,
 * so policies that read the future from it (Belady) cannot run here.
 *
 * Memory: about 100-130 bytes per block of capacity (40-byte block record, chain arrays,
 * free and pending stacks, a chain table of 2-4 16-byte slots per node).
 */
#ifndef KV_LIVE_CACHE_H
#define KV_LIVE_CACHE_H

#include <stdint.h>

#include "cache.h"

struct live_cache;

/* capacity_blocks must be finite; max_request_tokens bounds one prompt. */
int live_cache_create(struct live_cache **out, const char *policy_spec, uint32_t block_size,
		      uint64_t capacity_blocks, uint32_t max_request_tokens, struct kv_err *err);
void live_cache_destroy(struct live_cache *lc);

/* Counts the prefix hit of a prompt of ntok ids under the vLLM rules, then touches its
 * full blocks. Returns the cached tokens (hit blocks x B). O(ntok) plus evictions. */
uint32_t live_cache_request(struct live_cache *lc, const uint32_t *ids, uint32_t ntok,
			    double now_s);

/* Evicts every cached block (POST /reset_prefix_cache). O(resident). */
void live_cache_reset(struct live_cache *lc);

/* Counters and occupancy for /metrics. */
const struct kv_cache_stats *live_cache_stats(const struct live_cache *lc);
uint64_t live_cache_resident(const struct live_cache *lc);
uint64_t live_cache_capacity(const struct live_cache *lc);

/* Checks the core invariants and the table (tests). */
int live_cache_check(const struct live_cache *lc, struct kv_err *err);

#endif
