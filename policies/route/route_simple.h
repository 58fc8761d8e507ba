/*
 * route_simple.h - the state most routers need: instance count, a seeded PRNG and a
 * counter. Included by router files only (not a policy: it has no ops table).
 */
#ifndef KV_ROUTE_SIMPLE_H
#define KV_ROUTE_SIMPLE_H

#include <stdlib.h>

#include "route_ops.h"

struct route_simple {
	uint32_t n;
	uint64_t rng;
	uint64_t next;
	struct kv_params p;
};

static inline int route_simple_create(void **state, const struct kv_params *params,
				      uint32_t instances, uint64_t seed, struct kv_err *err)
{
	struct route_simple *s = calloc(1, sizeof(*s));

	if (!s)
		return kv_fail(err, KV_ERUNTIME, "out of memory");
	s->n = instances;
	s->rng = seed;
	if (params)
		s->p = *params;
	*state = s;
	return KV_OK;
}

static inline void route_simple_destroy(void *state)
{
	free(state);
}

/* vLLM router load: 4 x waiting + running. */
static inline uint64_t route_vllm_load(const struct route_inst *i)
{
	return 4ull * i->waiting + i->running;
}

/* Index of the minimum of 4 x waiting + running, lowest index on ties. O(n). */
static inline uint32_t route_least_requests(const struct route_view *v)
{
	uint32_t best = 0;

	for (uint32_t i = 1; i < v->n; i++)
		if (route_vllm_load(&v->inst[i]) < route_vllm_load(&v->inst[best]))
			best = i;
	return best;
}

#endif
