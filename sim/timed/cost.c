/*
 * cost.c - iteration cost models (see cost.h).
 *
 * Roofline (per iteration, summed over components; each component is bound either by
 * FLOPs or by bytes moved, whichever takes longer):
 *   T        = prefill_tokens + decode_seqs                 tokens through the layers
 *   linear   = layers x smax(2 x P_lin x T / (F x e_lin),  W_lin x dtype / (BW x e_w))
 *              smax(a, b) = (a^4 + b^4)^(1/4), a smooth maximum: within 1.5% of max(a, b)
 *              unless the bounds are within a factor 2 of each other, where it adds up to
 *              19% (at a = b), as the measured linear layers do at 256 tokens (0.198 ms
 *              where both bounds give ~0.156 ms)
 *              P_lin  = active linear parameters of one layer
 *                     = hidden x (heads + 2 kv_heads) x head_dim  (q, k, v projections)
 *                     + heads x head_dim x hidden                 (o projection)
 *                     + 3 x hidden x intermediate x (experts_active or 1)  (gated MLP)
 *              W_lin  = weights read once per iteration; for a MoE layer the expected
 *                       number of distinct experts touched by T tokens, E x (1-(1-k/E)^T)
 *   attention = layers x max(floor, prefill + decode)
 *              prefill = 4 x heads x head_dim x prefill_attn_pairs / (F x e_attn)
 *                        (QK^T and PV, 2 FLOPs per multiply-add, per query-key pair)
 *              decode  = max(KV bytes per layer x decode_ctx_tokens / (BW x e_kv),
 *                            4 x heads x head_dim x decode_ctx_tokens / (F x e_attn))
 *   lm_head  = smax(2 x hidden x vocab x S / (F x e_lin), hidden x vocab x dtype / (BW x e_w))
 *              S = decode_seqs + (1 if any prefill): logits only for sampled positions
 *   total    = linear + attention + lm_head + overhead
 * Hardware numbers F (dense BF16 FLOP/s) and BW (HBM bytes/s) are the vendors' datasheet
 * peaks (sources in the table). The efficiency constants come from the kernel timings
 * measured on an H200 for Qwen2.5-7B (../shared/calibration/h200-qwen2.5-7b-components.csv):
 *   e_lin  = 0.78  linear layers at 1K-4K tokens reach ~772 TFLOP/s of 989
 *   e_w    = 0.62  linear layers at <= 128 tokens read their 466 MB in 0.156 ms (~3.0 TB/s
 *                  of 4.8)
 *   e_attn = 0.55  causal prefill attention at 4K-16K tokens: 469-653 TFLOP/s
 *   e_kv   = 0.90  decode attention at large batch x context: 4.2-4.5 TB/s of 4.8
 *   floor  = 30 us one attention kernel per layer never takes less (0.031-0.033 ms
 *                  measured at small sizes)
 * and are applied to every GPU preset (the H100 copy/matmul measurements in the README, 0.9
 * of bandwidth and 0.79 of peak FLOPs, agree). No framework overhead by default (the
 * measurements have none); set roofline:overhead_ms=.. to add a fixed per-iteration cost.
 */
#include "cost.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model.h"
#include "params.h"

/* Datasheet peaks: dense (no sparsity) BF16 tensor FLOP/s, HBM bandwidth, memory size. */
static const struct kv_gpu gpus[] = {
	{"h100", 989.4e12, 3.35e12, 80e9, "NVIDIA H100 SXM5 80GB datasheet: 989 TFLOPS BF16 "
	 "dense, 3.35 TB/s HBM3"},
	{"h200", 989.4e12, 4.8e12, 141e9, "NVIDIA H200 SXM datasheet: 989 TFLOPS BF16 dense, "
	 "4.8 TB/s HBM3e, 141 GB"},
	{"a100", 312e12, 2.039e12, 80e9, "NVIDIA A100 SXM4 80GB datasheet: 312 TFLOPS BF16 "
	 "dense, 2,039 GB/s HBM2e"},
	{"h20", 148e12, 4.0e12, 96e9, "NVIDIA H20 (HGX H20) spec sheet: 148 TFLOPS BF16 dense, "
	 "4.0 TB/s HBM3, 96 GB"},
	{NULL, 0, 0, 0, NULL},
};

#define ROOFLINE_DEFAULTS "e_lin=0.78,e_w=0.62,e_attn=0.55,e_kv=0.90,floor_us=30,overhead_ms=0"

enum cost_kind { COST_ZERO, COST_LINEAR, COST_ROOFLINE };

struct kv_cost {
	enum cost_kind kind;
	char spec[256];
	/* linear, seconds */
	double base_s, prefill_s_per_tok, decode_s_per_seq, kv_s_per_tok;
	/* roofline */
	double flops, bw;
	double e_lin, e_w, e_attn, e_kv, floor_s, overhead_s;
	double layers, heads_x_hd, kv_bytes_per_layer_token;
	double lin_active_params;   /* per layer */
	double lin_dense_params;    /* per layer: attention projections (always read) */
	double expert_params;       /* per layer, one expert (0 for a dense model) */
	double experts, experts_active;
	double lm_params;           /* hidden x vocab */
	double dtype;
};

const char *cost_gpu_names(void)
{
	static char buf[256];
	size_t off = 0;

	if (buf[0])
		return buf;
	for (const struct kv_gpu *g = gpus; g->name && off < sizeof(buf); g++)
		off += (size_t)snprintf(buf + off, sizeof(buf) - off, "%s%s", g == gpus ? "" : ", ",
					g->name);
	return buf;
}

const struct kv_gpu *cost_gpu_find(const char *name)
{
	for (const struct kv_gpu *g = gpus; g->name; g++)
		if (name && !strcmp(g->name, name))
			return g;
	return NULL;
}

double cost_model_weight_bytes(const char *model)
{
	const struct kv_model *m = kv_model_find(model ? model : "");

	return m ? m->params_total * m->dtype_bytes : 0;
}

const char *cost_spec(const struct kv_cost *c)
{
	return c->spec;
}

const char *cost_roofline_defaults(void)
{
	return ROOFLINE_DEFAULTS;
}

static int create_linear(struct kv_cost *c, struct kv_params *p, struct kv_err *err)
{
	double v[4];
	static const char *keys[4] = {"base_ms", "prefill_ms_per_token", "decode_ms_per_seq",
				      "kv_ms_per_token"};
	int rc;

	if ((rc = kv_params_resolve(p, "base_ms=0,prefill_ms_per_token=0,decode_ms_per_seq=0,"
				    "kv_ms_per_token=0", err)))
		return rc;
	for (int i = 0; i < 4; i++)
		if ((rc = kv_param_double(p, keys[i], 0, 1e9, &v[i], err)))
			return rc;
	c->kind = COST_LINEAR;
	c->base_s = v[0] * 1e-3;
	c->prefill_s_per_tok = v[1] * 1e-3;
	c->decode_s_per_seq = v[2] * 1e-3;
	c->kv_s_per_tok = v[3] * 1e-3;
	return KV_OK;
}

static int create_roofline(struct kv_cost *c, struct kv_params *p, const char *gpu,
			   const char *model, struct kv_err *err)
{
	const struct kv_gpu *g = cost_gpu_find(gpu);
	const struct kv_model *m = model ? kv_model_find(model) : NULL;
	double hd, attn, mlp_one;
	int rc;

	if (!gpu || !model)
		return kv_fail(err, KV_EINPUT, "the roofline cost model needs a GPU preset (%s) "
			       "and a model preset (%s)", cost_gpu_names(), kv_model_names());
	if (!g)
		return kv_fail(err, KV_EINPUT, "unknown GPU '%s' (known: %s)", gpu,
			       cost_gpu_names());
	if (!m)
		return kv_fail(err, KV_EINPUT, "unknown model '%s' (known: %s)", model,
			       kv_model_names());
	if ((rc = kv_params_resolve(p, ROOFLINE_DEFAULTS, err)) ||
	    (rc = kv_param_double(p, "e_lin", 1e-3, 1, &c->e_lin, err)) ||
	    (rc = kv_param_double(p, "e_w", 1e-3, 1, &c->e_w, err)) ||
	    (rc = kv_param_double(p, "e_attn", 1e-3, 1, &c->e_attn, err)) ||
	    (rc = kv_param_double(p, "e_kv", 1e-3, 1, &c->e_kv, err)) ||
	    (rc = kv_param_double(p, "floor_us", 0, 1e6, &c->floor_s, err)) ||
	    (rc = kv_param_double(p, "overhead_ms", 0, 1e6, &c->overhead_s, err)))
		return rc;
	c->floor_s *= 1e-6;
	c->overhead_s *= 1e-3;
	c->kind = COST_ROOFLINE;
	c->flops = g->bf16_flops;
	c->bw = g->hbm_bytes_per_s;
	hd = m->head_dim;
	attn = (double)m->hidden * (m->heads + 2.0 * m->kv_heads) * hd +
	       (double)m->heads * hd * m->hidden;
	mlp_one = 3.0 * m->hidden * m->intermediate;
	c->layers = m->layers;
	c->heads_x_hd = m->heads * hd;
	c->kv_bytes_per_layer_token = 2.0 * m->kv_heads * hd * m->dtype_bytes;
	c->lin_dense_params = attn;
	c->experts = m->experts;
	c->experts_active = m->experts ? m->experts_active : 1;
	c->expert_params = m->experts ? mlp_one : 0;
	c->lin_active_params = attn + mlp_one * c->experts_active;
	if (!m->experts)
		c->lin_dense_params += mlp_one;
	c->lm_params = (double)m->hidden * m->vocab;
	c->dtype = m->dtype_bytes;
	return KV_OK;
}

int cost_create(struct kv_cost **out, const char *spec, const char *gpu, const char *model,
		struct kv_err *err)
{
	struct kv_cost *c = calloc(1, sizeof(*c));
	struct kv_params p;
	int rc;

	*out = NULL;
	if (!c)
		return kv_fail(err, KV_ERUNTIME, "out of memory");
	if (!spec || !*spec)
		spec = "roofline";
	if ((rc = kv_params_split(spec, &p, err)))
		goto fail;
	if (!strcmp(p.name, "zero")) {
		if (p.n) {
			rc = kv_fail(err, KV_EINPUT, "cost 'zero' takes no parameters");
			goto fail;
		}
		c->kind = COST_ZERO;
	} else if (!strcmp(p.name, "linear")) {
		rc = create_linear(c, &p, err);
	} else if (!strcmp(p.name, "roofline")) {
		rc = create_roofline(c, &p, gpu, model, err);
	} else {
		rc = kv_fail(err, KV_EINPUT, "unknown cost model '%s' (known: roofline, zero, "
			     "linear:base_ms=..,prefill_ms_per_token=..,decode_ms_per_seq=..,"
			     "kv_ms_per_token=..)", p.name);
	}
	if (rc)
		goto fail;
	snprintf(c->spec, sizeof(c->spec), "%s", spec);
	*out = c;
	return KV_OK;
fail:
	free(c);
	return rc;
}

void cost_destroy(struct kv_cost *c)
{
	free(c);
}

/* Smooth maximum: the p = 4 norm of two non-negative bounds. */
static double smax(double a, double b)
{
	double m = fmax(a, b), x, y;

	if (m <= 0)
		return 0;
	x = a / m;
	y = b / m;
	return m * sqrt(sqrt(x * x * x * x + y * y * y * y));
}

static double roofline_s(const struct kv_cost *c, const struct kv_batch_shape *b)
{
	double tok = (double)b->prefill_tokens + b->decode_seqs;
	double seqs = (double)b->decode_seqs + (b->prefill_tokens ? 1 : 0);
	double lin_w, lin, pf, dec, attn, lm;

	if (tok <= 0)
		return 0;
	/* weights read: dense part always, plus the distinct experts the tokens touch */
	lin_w = c->lin_dense_params;
	if (c->experts > 0)
		lin_w += c->expert_params * c->experts *
			 (1 - pow(1 - c->experts_active / c->experts, tok));
	lin = smax(2 * c->lin_active_params * tok / (c->flops * c->e_lin),
		   lin_w * c->dtype / (c->bw * c->e_w));
	pf = 4 * c->heads_x_hd * b->prefill_attn_pairs / (c->flops * c->e_attn);
	dec = fmax(c->kv_bytes_per_layer_token * (double)b->decode_ctx_tokens / (c->bw * c->e_kv),
		   4 * c->heads_x_hd * (double)b->decode_ctx_tokens / (c->flops * c->e_attn));
	attn = fmax(c->floor_s, pf + dec);
	lm = smax(2 * c->lm_params * seqs / (c->flops * c->e_lin),
		  c->lm_params * c->dtype / (c->bw * c->e_w));
	return c->layers * (lin + attn) + lm + c->overhead_s;
}

double cost_iteration_s(const struct kv_cost *c, const struct kv_batch_shape *b)
{
	switch (c->kind) {
	case COST_ZERO:
		return 0;
	case COST_LINEAR:
		if (!b->prefill_tokens && !b->decode_seqs)
			return 0;
		return c->base_s + c->prefill_s_per_tok * (double)b->prefill_tokens +
		       c->decode_s_per_seq * b->decode_seqs +
		       c->kv_s_per_tok * (double)b->decode_ctx_tokens;
	case COST_ROOFLINE:
		return roofline_s(c, b);
	}
	return 0;
}
