/*
 * cost.h - iteration cost models: how long one engine iteration (one forward pass over a
 * continuous batch) takes (DESIGN.md section 4).
 *
 * Specs:
 *   roofline   (default) analytic per-component roofline from a GPU preset (--gpu) and a
 *              model preset (model.h); optional "roofline:overhead_ms=..,..." overrides of
 *              its efficiency constants (cost_roofline_defaults()).
 *   zero       every iteration takes 0 s (instantaneous service).
 *   linear:base_ms=..,prefill_ms_per_token=..,decode_ms_per_seq=..,kv_ms_per_token=..
 *              a fitted model: base + a*prefill_tokens + b*decode_seqs + c*decode_ctx_tokens.
 * Formulas, constants and their sources are in cost.c and docs/timed.md. This interface is
 * shared with the emulated backend (kvsim serve); keep it stable.
 */
#ifndef KV_COST_H
#define KV_COST_H

#include <stdint.h>

#include "error.h"

struct kv_cost; /* opaque */

/* spec: "roofline" (default; needs gpu + model presets), "zero", or
 * "linear:base_ms=..,prefill_ms_per_token=..,decode_ms_per_seq=..,kv_ms_per_token=.." */
int cost_create(struct kv_cost **out, const char *spec, const char *gpu, const char *model,
		struct kv_err *err);
void cost_destroy(struct kv_cost *c);

struct kv_batch_shape {
	uint64_t prefill_tokens;     /* new tokens computed this iteration (all chunks) */
	double prefill_attn_pairs;   /* sum over prefill chunks of query x key pairs */
	uint32_t decode_seqs;        /* sequences decoding one token this iteration */
	uint64_t decode_ctx_tokens;  /* sum of their context lengths (KV bytes read) */
};

/* Seconds one iteration of this shape takes. O(1). An empty shape takes 0 s. */
double cost_iteration_s(const struct kv_cost *c, const struct kv_batch_shape *b);

const char *cost_gpu_names(void); /* for --help */

/* --- additions beyond the shared interface --- */

/* Query x key pairs of a causal prefill chunk of `chunk` new tokens after `ctx` tokens
 * already in the KV cache: chunk*ctx + chunk*(chunk+1)/2. */
static inline double cost_chunk_pairs(uint64_t ctx, uint64_t chunk)
{
	return (double)chunk * (double)ctx + (double)chunk * ((double)chunk + 1) / 2;
}

/* A GPU preset: peak dense BF16 FLOP/s, HBM bytes/s and memory size, with sources. */
struct kv_gpu {
	const char *name;
	double bf16_flops;
	double hbm_bytes_per_s;
	double mem_bytes;
	const char *source;
};
const struct kv_gpu *cost_gpu_find(const char *name);

/* Model weight bytes (all parameters x dtype bytes) of a model preset; 0 if unknown. */
double cost_model_weight_bytes(const char *model);

/* The spec's canonical name ("roofline", "zero", "linear:...") for output. */
const char *cost_spec(const struct kv_cost *c);

/* The roofline's tunable constants with their defaults ("key=value,..."). */
const char *cost_roofline_defaults(void);

#endif
