/*
 * p2c.c - power of two choices (Mitzenmacher 2001): two distinct instances drawn at
 * random, the one with fewer running + waiting requests wins (the first drawn on ties).
 * O(1).
 */
#include "route_simple.h"

static uint32_t p2c_pick(void *state, const struct route_request *r, const struct route_view *v)
{
	struct route_simple *s = state;
	uint32_t a, b;

	(void)r;
	if (v->n == 1)
		return 0;
	a = (uint32_t)(route_rand(&s->rng) % v->n);
	b = (uint32_t)(route_rand(&s->rng) % (v->n - 1));
	if (b >= a)
		b++;
	return v->inst[b].running + v->inst[b].waiting < v->inst[a].running + v->inst[a].waiting
		       ? b : a;
}

const struct route_ops route_p2c = {
	.name = "p2c",
	.doc = "power of two choices on running + waiting",
	.defaults = "",
	.create = route_simple_create,
	.destroy = route_simple_destroy,
	.pick = p2c_pick,
};
