/*
 * lmetric.c - LMetric (OSDI'26): min over instances of
 *   (queued prefill tokens + this request's uncached tokens) x (batch size + 1)
 * i.e. the prefill work ahead of the request times how many sequences share the GPU;
 * batch size = running requests. Lowest index on ties. O(N).
 */
#include "route_simple.h"

static double route_lmetric_score(const struct route_request *r,
				  const struct route_inst *i)
{
	return ((double)i->queued_prefill_tokens + route_uncached_tokens(r, i)) *
	       ((double)i->running + 1);
}

static uint32_t lmetric_pick(void *state, const struct route_request *r,
			     const struct route_view *v)
{
	uint32_t best = 0;
	double bs = route_lmetric_score(r, &v->inst[0]);

	(void)state;
	for (uint32_t i = 1; i < v->n; i++) {
		double s = route_lmetric_score(r, &v->inst[i]);

		if (s < bs)
			bs = s, best = i;
	}
	return best;
}

const struct route_ops route_lmetric = {
	.name = "lmetric",
	.doc = "LMetric (OSDI'26): min (queued prefill + uncached tokens) x (batch size + 1)",
	.defaults = "",
	.create = route_simple_create,
	.destroy = route_simple_destroy,
	.pick = lmetric_pick,
};
