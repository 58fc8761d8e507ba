/*
 * dynamo.c - NVIDIA Dynamo's KV router cost (docs.nvidia.com/dynamo, "Router Design": KV
 * router at temperature 0): min over instances of
 *   overlap_weight x prefill_blocks + decode_blocks
 * with prefill_blocks = (queued prefill tokens + this request's uncached tokens) / block
 * size ("potential new prefill blocks") and decode_blocks = blocks held by running requests
 * + this request's blocks ("potential decode blocks"). overlap_weight defaults to 1.0 as in
 * Dynamo. Lowest index on ties. O(N).
 */
#include "route_simple.h"

struct dynamo {
	double w;
};

static int dynamo_create(void **state, const struct kv_params *p, uint32_t n, uint64_t seed,
			 struct kv_err *err)
{
	struct dynamo *s = calloc(1, sizeof(*s));
	int rc;

	(void)n;
	(void)seed;
	if (!s)
		return kv_fail(err, KV_ERUNTIME, "out of memory");
	if ((rc = kv_param_double(p, "overlap_weight", 0, 1e6, &s->w, err))) {
		free(s);
		return rc;
	}
	*state = s;
	return KV_OK;
}

/* The cost of sending r to instance i. */
static double route_dynamo_cost(double w, const struct route_request *r,
				const struct route_inst *i)
{
	double prefill = ((double)i->queued_prefill_tokens + route_uncached_tokens(r, i)) /
			 (r->block_size ? r->block_size : 1);
	double decode = (double)i->kv_used_blocks + r->blocks;

	return w * prefill + decode;
}

static uint32_t dynamo_pick(void *state, const struct route_request *r,
			    const struct route_view *v)
{
	const struct dynamo *s = state;
	uint32_t best = 0;
	double bc = route_dynamo_cost(s->w, r, &v->inst[0]);

	for (uint32_t i = 1; i < v->n; i++) {
		double c = route_dynamo_cost(s->w, r, &v->inst[i]);

		if (c < bc)
			bc = c, best = i;
	}
	return best;
}

const struct route_ops route_dynamo = {
	.name = "dynamo",
	.doc = "NVIDIA Dynamo KV router: min overlap_weight x prefill blocks + decode blocks",
	.defaults = "overlap_weight=1.0",
	.create = dynamo_create,
	.destroy = free,
	.pick = dynamo_pick,
};
