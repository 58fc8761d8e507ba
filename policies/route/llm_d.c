/*
 * llm_d.c - llm-d's inference scheduler with its default weighted scorers
 * (llm-d-inference-scheduler: prefix-cache-scorer 3, queue-scorer 2, kv-cache-utilization
 * scorer 2). Each scorer gives a score in [0, 1]:
 *   prefix = hit blocks / request blocks
 *   queue  = (max waiting - waiting) / (max waiting - min waiting), 1 when all are equal
 *   kv     = 1 - used blocks / capacity
 * and the instance with the highest weighted sum wins (lowest index on ties). O(N).
 */
#include "route_simple.h"

struct llm_d {
	double w_prefix, w_queue, w_kv;
};

static int llmd_create(void **state, const struct kv_params *p, uint32_t n, uint64_t seed,
		       struct kv_err *err)
{
	struct llm_d *s = calloc(1, sizeof(*s));
	int rc;

	(void)n;
	(void)seed;
	if (!s)
		return kv_fail(err, KV_ERUNTIME, "out of memory");
	if ((rc = kv_param_double(p, "prefix", 0, 1e6, &s->w_prefix, err)) ||
	    (rc = kv_param_double(p, "queue", 0, 1e6, &s->w_queue, err)) ||
	    (rc = kv_param_double(p, "kv", 0, 1e6, &s->w_kv, err))) {
		free(s);
		return rc;
	}
	*state = s;
	return KV_OK;
}

static uint32_t llmd_pick(void *state, const struct route_request *r, const struct route_view *v)
{
	const struct llm_d *s = state;
	uint32_t wmin = v->inst[0].waiting, wmax = wmin, best = 0;
	double bs = -1;

	for (uint32_t i = 1; i < v->n; i++) {
		if (v->inst[i].waiting < wmin)
			wmin = v->inst[i].waiting;
		if (v->inst[i].waiting > wmax)
			wmax = v->inst[i].waiting;
	}
	for (uint32_t i = 0; i < v->n; i++) {
		const struct route_inst *x = &v->inst[i];
		double prefix = r->blocks ? (double)x->hit_blocks / r->blocks : 0;
		double queue = wmax > wmin ? (double)(wmax - x->waiting) / (wmax - wmin) : 1;
		double kv = x->kv_capacity_blocks
				    ? 1 - (double)x->kv_used_blocks / (double)x->kv_capacity_blocks
				    : 0;
		double sc = s->w_prefix * prefix + s->w_queue * queue + s->w_kv * kv;

		if (sc > bs)
			bs = sc, best = i;
	}
	return best;
}

const struct route_ops route_llm_d = {
	.name = "llm-d",
	.doc = "llm-d scheduler: weighted scorers prefix 3, queue 2, KV utilisation 2",
	.defaults = "prefix=3,queue=2,kv=2",
	.create = llmd_create,
	.destroy = free,
	.pick = llmd_pick,
};
