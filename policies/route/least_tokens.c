/*
 * least_tokens.c - the instance with the fewest outstanding tokens (input + output of its
 * unfinished requests); lowest index on ties. O(N).
 */
#include "route_simple.h"

static uint32_t lt_pick(void *state, const struct route_request *r, const struct route_view *v)
{
	uint32_t best = 0;

	(void)state;
	(void)r;
	for (uint32_t i = 1; i < v->n; i++)
		if (v->inst[i].total_tokens < v->inst[best].total_tokens)
			best = i;
	return best;
}

const struct route_ops route_least_tokens = {
	.name = "least-tokens",
	.doc = "min outstanding input + output tokens",
	.defaults = "",
	.create = route_simple_create,
	.destroy = route_simple_destroy,
	.pick = lt_pick,
};
