/*
 * model.h - model presets: the architecture numbers the KV-size and cost models need.
 *
 * KV bytes per token = 2 (K and V) x layers x kv_heads x head_dim x dtype bytes
 * (DESIGN.md section 3). The other fields feed the roofline cost model. Values are from each
 * model's published config.json (Hugging Face model cards).
 */
#ifndef KV_MODEL_H
#define KV_MODEL_H

#include <stdint.h>

struct kv_model {
	const char *name;
	uint32_t layers;
	uint32_t hidden;
	uint32_t heads;            /* query heads */
	uint32_t kv_heads;
	uint32_t head_dim;
	uint32_t intermediate;     /* dense MLP width, or one expert's width for MoE */
	uint32_t experts;          /* 0 for a dense model */
	uint32_t experts_active;   /* experts per token (MoE) */
	uint32_t vocab;
	uint32_t dtype_bytes;      /* weights and KV cache */
	double params_total;       /* parameters, all experts */
	double params_active;      /* parameters used per token */
};

/* The preset table, terminated by a NULL name. */
extern const struct kv_model kv_models[];

const struct kv_model *kv_model_find(const char *name);

/* 2 x layers x kv_heads x head_dim x dtype_bytes. */
uint64_t kv_model_kv_bytes_per_token(const struct kv_model *m);

/* "qwen2.5-7b, qwen2.5-72b, ..." for --help and error messages. */
const char *kv_model_names(void);

#endif
