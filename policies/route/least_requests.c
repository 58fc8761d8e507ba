/*
 * least_requests.c - the vLLM router's load balancing: the instance with the least
 * 4 x waiting + running requests (source: vllm-project/router, the definition);
 * lowest index on ties. O(N).
 */
#include "route_simple.h"

static uint32_t lr_pick(void *state, const struct route_request *r, const struct route_view *v)
{
	(void)state;
	(void)r;
	return route_least_requests(v);
}

const struct route_ops route_least_requests_ops = {
	.name = "least-requests",
	.doc = "vLLM router: min 4 x waiting + running",
	.defaults = "",
	.create = route_simple_create,
	.destroy = route_simple_destroy,
	.pick = lr_pick,
};
