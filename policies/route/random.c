/* random.c - uniform random instance from a seeded PRNG (--seed). O(1). */
#include "route_simple.h"

static uint32_t random_pick(void *state, const struct route_request *r,
			    const struct route_view *v)
{
	struct route_simple *s = state;

	(void)r;
	return (uint32_t)(route_rand(&s->rng) % v->n);
}

const struct route_ops route_random = {
	.name = "random",
	.doc = "uniform random (seeded by --seed)",
	.defaults = "",
	.create = route_simple_create,
	.destroy = route_simple_destroy,
	.pick = random_pick,
};
