/*
 * cache.h - the cache core: a prefix-closed block cache driven by an eviction policy.
 *
 * Semantics (DESIGN.md section 3, binding): a request's prefix hit is the number of its
 * leading blocks that are resident; then all its blocks are touched from last to first,
 * misses inserted, and whenever resident blocks exceed capacity the policy's victim is
 * evicted together with its resident descendants (prefix closure).
 */
#ifndef KV_CACHE_H
#define KV_CACHE_H

#include <stdint.h>

#include "block.h"
#include "evict_ops.h"
#include "params.h"
#include "trace.h"

enum kv_hit_rule {
	KV_HIT_PREFIX = 0, /* every block, the partial last one included, is cached and can hit */
	KV_HIT_VLLM,       /* only full blocks are cached; at most floor((L-1)/B) blocks hit */
};

struct kv_cache_stats {
	uint64_t requests;
	uint64_t blocks, hit_blocks;  /* all blocks of the requests run, and prefix hits */
	uint64_t tokens, hit_tokens;
	uint64_t inserts, evictions;  /* evictions include descendants evicted by closure */
};

struct kv_cache {
	struct kv_block *blocks;
	const struct kv_trace *trace;
	const struct evict_ops *ops;
	void *policy;
	uint64_t capacity;           /* blocks; KV_CAPACITY_INF for none */
	uint64_t resident;           /* resident blocks, pinned included */
	uint64_t pinned;             /* blocks with refcnt > 0 (timed mode, cache_pin.h); 0 in
	                              * cache mode */
	enum kv_hit_rule hit_rule;
	struct kv_cache_stats st;
	size_t ready;                /* blocks [0, ready) are initialised (see cache_create_run) */
	struct block_init *init;     /* the thread initialising the rest, or NULL */
};

/* Creates an empty cache over the trace's chain nodes with the given policy (params already
 * resolved against ops->defaults, or NULL for the defaults). */
int cache_create(struct kv_cache **out, const struct kv_trace *t, const struct evict_ops *ops,
		 const struct kv_params *params, uint64_t capacity_blocks,
		 enum kv_hit_rule rule, struct kv_err *err);
void cache_destroy(struct kv_cache *c);

/* The same, for a cache-mode run that calls only cache_run_request() with the trace's rows
 * in order: a helper thread initialises a large block array while the run starts, and
 * cache_run_request(), reaching a block not initialised yet, initialises chunks itself. The run never reaches past
 * the helper's mark (a trace numbers a parent before its children, so a request's last
 * block has its highest node, and a block the run has not touched was never a victim).
 * On a virtual machine the first touch of the array costs as much as an LRU run. */
int cache_create_run(struct kv_cache **out, const struct kv_trace *t,
		     const struct evict_ops *ops, const struct kv_params *params,
		     uint64_t capacity_blocks, enum kv_hit_rule rule, struct kv_err *err);

/* Blocks below which cache_create_run() initialises on the spot (1 Mi; tests lower it). */
extern size_t cache_init_thread_min;

/* Returns once blocks [0, node] are initialised (initialising chunks on this thread
 * meanwhile). O(1) once they are. */
void cache_wait_ready(struct kv_cache *c, size_t node);

/* Number of leading resident blocks of nodes[0..n). O(hits). */
static inline uint32_t cache_prefix_hits(const struct kv_cache *c, const uint32_t *nodes,
					 uint32_t n)
{
	uint32_t h = 0;

	while (h < n && c->blocks[nodes[h]].resident)
		h++;
	return h;
}

/* Touches nodes[0..n) from last to first (hits refresh, misses insert and may evict).
 * `a` describes the request; its pos and seq are filled per block. O(n) plus evictions.
 * A pinned block (refcnt > 0, timed mode only) is not tracked by the policy: touching it
 * does not call on_hit. */
void cache_touch(struct kv_cache *c, const uint32_t *nodes, uint32_t n, struct kv_access *a);

/* Cache mode: one request of the trace (row r) at time now_s: counts its prefix hit under
 * the cache's hit rule, touches its blocks, updates c->st. Returns the hit blocks. */
uint32_t cache_run_request(struct kv_cache *c, uint32_t row, double now_s);

/* Blocks of a request that can be cached, and the most that can hit, under a hit rule. */
void cache_rule_limits(enum kv_hit_rule rule, uint32_t block_size, const struct kv_request *q,
		       uint32_t *cacheable, uint32_t *max_hits);

/* The infinite-cache ceiling under a hit rule: a cacheable block hits iff an earlier request
 * cached its node (at most max_hits per request, see cache_rule_limits). With KV_HIT_PREFIX
 * every block is cacheable: a block hits iff its node was accessed by an earlier request
 * (the seen nodes are prefix-closed, so these are the leading blocks). It is what every
 * policy gives at capacity inf. O(blocks). */
int cache_ceiling(const struct kv_trace *t, enum kv_hit_rule rule, struct kv_ceiling *out);

/* Evicts one victim chosen by the policy (with its resident descendants). Returns the
 * blocks evicted, 0 when the policy has nothing to evict. */
uint64_t cache_evict_one(struct kv_cache *c);

/* Checks the invariants (for tests): resident count, capacity, prefix closure, child lists.
 * Returns 0 or -1 with a message. O(nodes). */
int cache_check(const struct kv_cache *c, struct kv_err *err);

const char *cache_hit_rule_name(enum kv_hit_rule r);
int cache_hit_rule_parse(const char *s, enum kv_hit_rule *out);

#endif
