/*
 * evict_ops.h - the eviction policy interface (DESIGN.md section 7).
 *
 * A policy is one const struct evict_ops in its own file under policies/evict/, listed in
 * policies/evict/registry.c. The cache core calls it; a policy never calls back into the
 * engine. It keeps per-block state in kv_block.pol and may read the trace (requests, chain
 * parents and depths) through its environment.
 *
 * Contract, for the blocks the policy tracks (resident and not pinned):
 *   on_insert(n)  n became resident (a miss was filled), or was unpinned in timed mode;
 *   on_hit(n)     n was touched while resident;
 *   victim()      choose a tracked block to evict, KV_NO_NODE if none; the policy must NOT
 *                 forget it here: the core calls on_remove() for it, and for each resident
 *                 descendant it evicts with it (prefix closure);
 *   on_remove(n)  n is no longer tracked (evicted, or pinned in timed mode).
 * Within one request the core touches blocks from the LAST to the FIRST. A newly inserted
 * block may be returned by victim() at once (a policy that declines to cache it, as Belady
 * does).
 */
#ifndef KV_EVICT_OPS_H
#define KV_EVICT_OPS_H

#include <stdint.h>

#include "block.h"
#include "error.h"
#include "params.h"
#include "trace.h"

/* What the core knows about the access that calls a policy. */
struct kv_access {
	const struct kv_request *req; /* the request touching the block; NULL when none */
	uint32_t row;                 /* its row in the trace */
	uint32_t pos;                 /* the block's position in the request, 0 = first */
	uint64_t seq;                 /* index of this access in trace->node[] */
	double now_s;                 /* simulated time (the request's arrival in cache mode) */
};

struct evict_env {
	struct kv_block *blocks;        /* indexed by node */
	const struct kv_trace *trace;   /* read-only */
	uint64_t capacity_blocks;       /* KV_CAPACITY_INF (UINT64_MAX) for no limit */
	int hit_rule;                   /* the cache's enum kv_hit_rule (cache.h) */
};

/* What a policy reads of the trace beyond the block accesses (evict_ops.reads): what an
 * online engine (kvsim serve, which sees token ids one request at a time) cannot give it. */
#define EVICT_READS_FUTURE 1u        /* later requests (Belady) */
#define EVICT_READS_CONVERSATIONS 2u /* chat ids, parents, types, turns */

struct evict_ops {
	const char *name;
	const char *doc;      /* one line for --help */
	const char *defaults; /* "key=value,..." with every parameter it takes, or "" */
	int (*create)(void **state, const struct evict_env *env, const struct kv_params *params,
		      struct kv_err *err);
	void (*destroy)(void *state);
	void (*on_insert)(void *state, uint32_t node, const struct kv_access *a);
	void (*on_hit)(void *state, uint32_t node, const struct kv_access *a);
	uint32_t (*victim)(void *state);
	void (*on_remove)(void *state, uint32_t node);
	unsigned reads;       /* EVICT_READS_* flags, 0 for none */
};

#endif
