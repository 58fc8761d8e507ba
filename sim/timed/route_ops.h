/*
 * route_ops.h - the routing policy interface (DESIGN.md section 7).
 *
 * A router is one const struct route_ops in its own file under policies/route/, listed in
 * policies/route/route_registry.c. For each arriving request the cluster fills a view with
 * one row per instance and calls pick(); a router never calls back into the engine. The
 * view's prefix hits come from the instances' caches (--router-view exact) or from a
 * router-side LRU index of the router's own past decisions (approx).
 */
#ifndef KV_ROUTE_OPS_H
#define KV_ROUTE_OPS_H

#include <stdint.h>

#include "error.h"
#include "params.h"

/* What a router sees of one instance when a request arrives. */
struct route_inst {
	uint32_t hit_blocks;           /* this request's prefix hit there (exact or approx) */
	uint64_t hit_tokens;
	uint64_t queued_prefill_tokens; /* prefill tokens not computed yet: waiting requests
					  * (input minus their hit at routing time) plus the
					  * remaining chunks of running prefills */
	uint32_t running;              /* requests in the running batch */
	uint32_t waiting;              /* requests queued, not admitted */
	uint64_t kv_used_blocks;       /* pool blocks held by running requests (pinned) */
	uint64_t kv_cached_blocks;     /* resident blocks (pinned included); the approx
					  * index's size under --router-view approx */
	uint64_t kv_capacity_blocks;   /* pool size */
	uint64_t total_tokens;         /* input + output tokens of its unfinished requests */
};

struct route_request {
	uint32_t row;                  /* trace row */
	int64_t session;               /* chat id of the conversation root (the row's own
					  * chat id for a root or a trace without sessions) */
	uint32_t input_tokens;
	uint32_t output_tokens;
	uint32_t blocks;               /* blocks that can hit (the hit rule's cacheable) */
	uint32_t block_size;
};

struct route_view {
	uint32_t n;                    /* instances */
	const struct route_inst *inst; /* n rows */
	double now_s;
	uint32_t max_num_seqs;         /* per instance */
};

struct route_ops {
	const char *name;
	const char *doc;      /* one line for --help, with the source of its rule */
	const char *defaults; /* "key=value,..." of every parameter, or "" */
	int (*create)(void **state, const struct kv_params *params, uint32_t instances,
		      uint64_t seed, struct kv_err *err);
	void (*destroy)(void *state);
	/* Returns the chosen instance in [0, v->n). */
	uint32_t (*pick)(void *state, const struct route_request *r, const struct route_view *v);
	void (*on_dispatch)(void *state, const struct route_request *r, uint32_t inst); /* opt */
	void (*on_complete)(void *state, const struct route_request *r, uint32_t inst); /* opt */
};

/* Deterministic PRNG for routers (splitmix64). */
static inline uint64_t route_rand(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

/* Uniform double in [0, 1). */
static inline double route_rand01(uint64_t *s)
{
	return (double)(route_rand(s) >> 11) * 0x1.0p-53;
}

/* Tokens of this request not cached at instance i. */
static inline uint64_t route_uncached_tokens(const struct route_request *r,
					     const struct route_inst *i)
{
	return r->input_tokens > i->hit_tokens ? r->input_tokens - i->hit_tokens : 0;
}

#endif
