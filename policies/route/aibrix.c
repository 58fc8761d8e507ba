/*
 * aibrix.c - AIBrix's prefix-cache router (vllm-project/aibrix, gateway routing
 * "prefix-cache"): if max running - min running > imbalance_abs (AIBrix default 8), the
 * instance with the fewest running requests; otherwise, among instances whose running
 * count is at most mean + std_factor x standard deviation (AIBrix default factor 1), the
 * best prefix match (hit blocks), fewest running requests and then lowest index on ties.
 * "running" here is running + waiting, what the gateway counts as in flight. O(N).
 */
#include <math.h>

#include "route_simple.h"

struct aibrix {
	double imbalance_abs, std_factor;
};

static int aibrix_create(void **state, const struct kv_params *p, uint32_t n, uint64_t seed,
			 struct kv_err *err)
{
	struct aibrix *s = calloc(1, sizeof(*s));
	int rc;

	(void)n;
	(void)seed;
	if (!s)
		return kv_fail(err, KV_ERUNTIME, "out of memory");
	if ((rc = kv_param_double(p, "imbalance_abs", 0, 1e12, &s->imbalance_abs, err)) ||
	    (rc = kv_param_double(p, "std_factor", 0, 1e6, &s->std_factor, err))) {
		free(s);
		return rc;
	}
	*state = s;
	return KV_OK;
}

static uint32_t aibrix_pick(void *state, const struct route_request *r,
			    const struct route_view *v)
{
	const struct aibrix *s = state;
	double sum = 0, sq = 0, mean, sd, lim;
	uint32_t lo = 0, hi = 0, best = UINT32_MAX;

	(void)r;
	for (uint32_t i = 0; i < v->n; i++) {
		double l = (double)v->inst[i].running + v->inst[i].waiting;

		sum += l;
		sq += l * l;
		if (l < (double)v->inst[lo].running + v->inst[lo].waiting)
			lo = i;
		if (l > (double)v->inst[hi].running + v->inst[hi].waiting)
			hi = i;
	}
	if ((double)v->inst[hi].running + v->inst[hi].waiting -
		    ((double)v->inst[lo].running + v->inst[lo].waiting) > s->imbalance_abs)
		return lo;
	mean = sum / v->n;
	sd = sqrt(fmax(0, sq / v->n - mean * mean));
	lim = mean + s->std_factor * sd + 1e-9;
	for (uint32_t i = 0; i < v->n; i++) {
		const struct route_inst *x = &v->inst[i];

		if ((double)x->running + x->waiting > lim)
			continue;
		if (best == UINT32_MAX || x->hit_blocks > v->inst[best].hit_blocks ||
		    (x->hit_blocks == v->inst[best].hit_blocks &&
		     x->running + x->waiting < v->inst[best].running + v->inst[best].waiting))
			best = i;
	}
	return best == UINT32_MAX ? lo : best;
}

const struct route_ops route_aibrix = {
	.name = "aibrix",
	.doc = "AIBrix prefix-cache: least running if imbalanced, else best prefix match among "
	       "instances under mean + std",
	.defaults = "imbalance_abs=8,std_factor=1",
	.create = aibrix_create,
	.destroy = free,
	.pick = aibrix_pick,
};
