/* rr.c - round robin: request k goes to instance k mod N. O(1). */
#include "route_simple.h"

static uint32_t rr_pick(void *state, const struct route_request *r, const struct route_view *v)
{
	struct route_simple *s = state;

	(void)r;
	return (uint32_t)(s->next++ % v->n);
}

const struct route_ops route_rr = {
	.name = "rr",
	.doc = "round robin",
	.defaults = "",
	.create = route_simple_create,
	.destroy = route_simple_destroy,
	.pick = rr_pick,
};
