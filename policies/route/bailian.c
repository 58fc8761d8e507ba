/*
 * bailian.c - the scheduler described for Alibaba Bailian (the definition):
 *   score = 0.33 x hit% + 0.33 x (1 - bs / max bs) + 0.33 x (1 - tokens / max tokens)
 * with hit% = hit blocks / request blocks, bs = running requests (batch size), tokens =
 * outstanding tokens, maxima over the instances (a term is 1 when its maximum is 0).
 * "Random-weighted maximum", our reading: each score is multiplied by a random weight
 * drawn uniformly from [1 - jitter, 1] and the largest product wins, so near-ties are
 * broken at random while a clearly better instance still wins (jitter 0.1 by default;
 * jitter=0 is the plain maximum, lowest index on ties). O(N).
 */
#include "route_simple.h"

struct bailian {
	double w_hit, w_bs, w_tok, jitter;
	uint64_t rng;
};

static int bailian_create(void **state, const struct kv_params *p, uint32_t n, uint64_t seed,
			  struct kv_err *err)
{
	struct bailian *s = calloc(1, sizeof(*s));
	int rc;

	(void)n;
	if (!s)
		return kv_fail(err, KV_ERUNTIME, "out of memory");
	s->rng = seed;
	if ((rc = kv_param_double(p, "hit", 0, 1e6, &s->w_hit, err)) ||
	    (rc = kv_param_double(p, "bs", 0, 1e6, &s->w_bs, err)) ||
	    (rc = kv_param_double(p, "tokens", 0, 1e6, &s->w_tok, err)) ||
	    (rc = kv_param_double(p, "jitter", 0, 1, &s->jitter, err))) {
		free(s);
		return rc;
	}
	*state = s;
	return KV_OK;
}

static uint32_t bailian_pick(void *state, const struct route_request *r,
			     const struct route_view *v)
{
	struct bailian *s = state;
	uint32_t bs_max = 0, best = 0;
	uint64_t tok_max = 0;
	double bsc = -1;

	for (uint32_t i = 0; i < v->n; i++) {
		if (v->inst[i].running > bs_max)
			bs_max = v->inst[i].running;
		if (v->inst[i].total_tokens > tok_max)
			tok_max = v->inst[i].total_tokens;
	}
	for (uint32_t i = 0; i < v->n; i++) {
		const struct route_inst *x = &v->inst[i];
		double hit = r->blocks ? (double)x->hit_blocks / r->blocks : 0;
		double bs = bs_max ? 1 - (double)x->running / bs_max : 1;
		double tok = tok_max ? 1 - (double)x->total_tokens / (double)tok_max : 1;
		double sc = s->w_hit * hit + s->w_bs * bs + s->w_tok * tok;

		if (s->jitter > 0)
			sc *= 1 - s->jitter * route_rand01(&s->rng);
		if (sc > bsc)
			bsc = sc, best = i;
	}
	return best;
}

const struct route_ops route_bailian = {
	.name = "bailian",
	.doc = "Bailian: random-weighted max of 0.33 hit% + 0.33 (1 - bs/max) + 0.33 "
	       "(1 - tokens/max)",
	.defaults = "hit=0.33,bs=0.33,tokens=0.33,jitter=0.1",
	.create = bailian_create,
	.destroy = free,
	.pick = bailian_pick,
};
