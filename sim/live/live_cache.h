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
 * The core indexes block records by node and needs a trace for chain parents: this module
 * owns a synthetic trace whose node arrays hold 2 x capacity + the longest request's
 * blocks. A block's identity is its chain key (a 64-bit hash over the whole prefix, as
 * vLLM's block hashes), mapped to a node number. Evicted blocks keep their number and key
 * in a free queue and get them back when they return, until the number is the oldest free
 * one and is reused; so policies with a history of evicted blocks (ARC's and S3-FIFO's
 * ghosts) see the same identities as in cache mode as long as that history is shorter than
 * the capacity. Policies see no requests in the synthetic trace: ones that read the
 * trace's future (Belady) are refused, and ones that classify requests by type and turn
 * (wa) see a single class.
 *
 * Memory: about 230 bytes per block of capacity (two nodes of 40-byte block record, chain
 * arrays, free queue and flags, and 2-4 16-byte table slots each).
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

/* Empties the cache and forgets the policy's history: a fresh table, cache and policy with
 * the same settings, counters kept (POST /reset_prefix_cache). O(capacity). */
int live_cache_reset(struct live_cache *lc, struct kv_err *err);

/* Counters and occupancy for /metrics. */
const struct kv_cache_stats *live_cache_stats(const struct live_cache *lc);
uint64_t live_cache_resident(const struct live_cache *lc);
uint64_t live_cache_capacity(const struct live_cache *lc);

/* Checks the core invariants and the table (tests). */
int live_cache_check(const struct live_cache *lc, struct kv_err *err);

#endif
