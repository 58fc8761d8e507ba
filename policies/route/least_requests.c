/*
 * least_requests.c - vLLM's request load balancing: the instance with the least
 * 4 x waiting + running requests. Source: vLLM v1's data-parallel load balancer
 * (vllm/v1/engine/core_client.py, DPLBAsyncMPClient.get_core_engine_for_request:
 * score = waiting * 4 + running, the first minimum from the client's start index, 0 for a
 * single front end); lowest index on ties. vLLM also bumps the chosen engine's waiting
 * count locally between its 100 ms stats updates; the simulator's counts are exact, so
 * that is not needed. O(N).
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
	.doc = "vLLM (v1 data-parallel balancer): min 4 x waiting + running",
	.defaults = "",
	.create = route_simple_create,
	.destroy = route_simple_destroy,
	.pick = lr_pick,
};
