/*
 * mrc.h - the one-pass miss-ratio curve of the prefix-LRU cache (`kvsim mrc`).
 *
 * Gives, for many capacities at once, exactly the block and token hits that
 * `kvsim sim --policy lru` gives at each of them, at about the cost of one LRU run.
 *
 * Method. Accesses are numbered in the cache core's order (requests in order, each request's
 * cacheable blocks from LAST to FIRST). A Fenwick tree over access times marks each node's
 * latest access, so the stack distance of a node (distinct nodes touched since its latest
 * access) is one prefix count. Before a request is touched, its block i is resident in an
 * LRU of C blocks iff the running maximum of the distances of blocks 0..i is below C.
 *
 * Prefix closure. The cache core evicts a victim together with its resident descendants. With
 * tail-first touching, a node's parent is always more recent than the node, so this only
 * happens inside a request: when inserting block k+1 makes block k (still resident, not yet
 * touched) the LRU victim, the core also evicts blocks k+1.. just touched, where a plain LRU
 * stack would keep them. For a request whose m touched blocks have distances D_k, this
 * happens at exactly the capacities C = D_k - k + m - 1 (k <= m-2, block k seen before);
 * from then on that capacity's state is not the LRU stack's (it is not even monotone in C).
 * mrc detects these events for the capacities it reports and follows the cache core exactly
 * at such a capacity (a replay in the stack's own terms: resident = latest access at time
 * >= T, minus the few nodes evicted by closure) until its state is again the stack's top C
 * (checked in O(log) per request), then continues from the stack. See
 * docs/mrc-kvt-bench.md.
 *
 * Memory: 4 bytes per node (latest access), about 1/4 byte per access (live bitmap, counts
 * and a time -> request index), and a small set per capacity while it replays.
 */
#ifndef KV_MRC_H
#define KV_MRC_H

#include <stdint.h>

#include "cache.h"
#include "capacity.h"
#include "trace.h"

struct mrc_point {
	uint64_t capacity_blocks;  /* KV_CAPACITY_INF for inf */
	uint64_t hit_blocks, hit_tokens;
	uint64_t replay_requests;  /* requests replayed at this capacity (prefix closure) */
	uint32_t replays;          /* prefix-closure events that started a replay */
	uint32_t skipped;          /* events not followed (the observer's follow() said no):
				    * then hit_blocks/hit_tokens are not the core's */
};

struct mrc_stats {
	uint64_t requests, blocks, tokens;
	uint64_t replay_requests;  /* total over points */
	uint32_t max_parallel_replays;
};

/* Fills hit_blocks/hit_tokens of every point (any order, duplicates allowed). */
int mrc_run(const struct kv_trace *t, enum kv_hit_rule rule, struct mrc_point *pts,
	    size_t npts, struct mrc_stats *st, struct kv_err *err);

/* What mrc_run_observed() tells a caller that wants the stack distances themselves (`kvsim
 * analyze`) while it runs. */
struct mrc_observer {
	/* Request r before its lookup: dist[i] = stack distance of its block i (distinct
	 * nodes touched since that block's latest access) for its first `seen` cacheable
	 * blocks, which are those touched before (they form a prefix). */
	void (*request)(void *ctx, size_t r, const uint64_t *dist, uint32_t seen);
	/* Asked when prefix closure makes the core at capacity c leave the stack: 0 = do not
	 * follow c, now or later (it costs nothing more; c's point then reports skipped > 0
	 * and hits that are not the core's). NULL: follow every capacity. */
	int (*follow)(void *ctx, uint64_t capacity_blocks);
	void *ctx;
};

/* mrc_run() reporting to obs (NULL: exactly mrc_run()). */
int mrc_run_observed(const struct kv_trace *t, enum kv_hit_rule rule, struct mrc_point *pts,
		     size_t npts, const struct mrc_observer *obs, struct mrc_stats *st,
		     struct kv_err *err);

/* n capacities spaced evenly in log scale from 1 block to the trace's distinct nodes
 * (rounded, duplicates dropped, the last one = all distinct nodes). Returns the count. */
size_t mrc_log_points(uint64_t nnodes, size_t n, uint64_t *out);

#endif
