/* model.c - the model preset table (see model.h). */
#include "model.h"

#include <stdio.h>
#include <string.h>

/* Sources: config.json of Qwen/Qwen2.5-7B-Instruct, Qwen/Qwen2.5-72B-Instruct,
 * Qwen/Qwen2.5-32B-Instruct, Qwen/Qwen3-8B, Qwen/Qwen3-30B-A3B, meta-llama/Meta-Llama-3-8B,
 * meta-llama/Meta-Llama-3-70B. Parameter counts from the model cards. */
const struct kv_model kv_models[] = {
	/* name          layers hidden heads kv  hd  inter   exp act vocab  dt total   active */
	{"qwen2.5-7b",   28, 3584, 28, 4, 128, 18944, 0, 0, 152064, 2, 7.62e9, 7.62e9},
	{"qwen2.5-32b",  64, 5120, 40, 8, 128, 27648, 0, 0, 152064, 2, 32.8e9, 32.8e9},
	{"qwen2.5-72b",  80, 8192, 64, 8, 128, 29568, 0, 0, 152064, 2, 72.7e9, 72.7e9},
	{"qwen3-8b",     36, 4096, 32, 8, 128, 12288, 0, 0, 151936, 2, 8.19e9, 8.19e9},
	{"qwen3-30b-a3b", 48, 2048, 32, 4, 128, 768, 128, 8, 151936, 2, 30.5e9, 3.3e9},
	{"llama3-8b",    32, 4096, 32, 8, 128, 14336, 0, 0, 128256, 2, 8.03e9, 8.03e9},
	{"llama3-70b",   80, 8192, 64, 8, 128, 28672, 0, 0, 128256, 2, 70.6e9, 70.6e9},
	{NULL, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0},
};

const struct kv_model *kv_model_find(const char *name)
{
	for (const struct kv_model *m = kv_models; m->name; m++)
		if (!strcmp(m->name, name))
			return m;
	return NULL;
}

uint64_t kv_model_kv_bytes_per_token(const struct kv_model *m)
{
	return 2ull * m->layers * m->kv_heads * m->head_dim * m->dtype_bytes;
}

const char *kv_model_names(void)
{
	static char buf[512];
	size_t off = 0;

	if (buf[0])
		return buf;
	for (const struct kv_model *m = kv_models; m->name && off < sizeof(buf); m++)
		off += (size_t)snprintf(buf + off, sizeof(buf) - off, "%s%s",
					m == kv_models ? "" : ", ", m->name);
	return buf;
}
