/*
 * serve.h - the emulated OpenAI-compatible engine (`kvsim serve`, DESIGN.md section 5).
 *
 * One libevent evhttp loop serves /v1/completions (token-id or text prompts, streaming or
 * not), /v1/chat/completions, /v1/models, /health, /reset_prefix_cache and /metrics
 * (Prometheus text with vLLM's metric names). Prompts go through live_cache (vLLM's
 * prefix-cache rules on the project's cache core and policies); tokens are paced by
 * continuous batching iterations whose length comes from pace.h. Faults (5xx, stalls,
 * dropped connections) are injected from a seeded PRNG, per request in arrival order.
 */
#ifndef KV_LIVE_SERVE_H
#define KV_LIVE_SERVE_H

#include <stdint.h>

#include "error.h"

struct serve_opts {
	const char *host;          /* bind address (default 127.0.0.1) */
	int port;                  /* 0: any free port */
	const char *port_file;     /* write the bound port here (atomically) when listening */
	const char *served_name;   /* model name in the API */
	const char *model;         /* model preset (cost model, KV bytes) */
	const char *gpu;
	const char *policy;
	uint64_t capacity_blocks;
	uint32_t block_size;
	uint32_t max_model_len;    /* prompt + max_tokens, tokens */
	uint32_t max_num_seqs;     /* running requests per iteration */
	uint32_t vocab;            /* token ids accepted: [0, vocab) */
	const char *cost;          /* pace spec */
	double fail_rate, stall_rate, drop_rate, stall_s;
	int idle_timeout_s;        /* close connections idle (no request bytes, no answer
				    * pending) this long; bounds slow and abandoned clients */
	uint64_t seed;
};

/* Parses a completion (chat = 0) or chat completion (chat = 1) request body exactly as the
 * server does, without a server: the token ids go to ids[0..o->max_model_len]. Returns the
 * prompt length, or -1 with msg set for a request the server answers with 4xx. no_fast = 1
 * skips the token-id fast path (its result must equal the full JSON parse). For tests and
 * the fuzz target. O(body). */
long serve_parse_request(const struct serve_opts *o, const char *raw, size_t len, int chat,
			 int no_fast, uint32_t *ids, long long *max_tokens, char *msg,
			 size_t msglen);

/* Runs until SIGINT or SIGTERM. Returns a status; err says what failed. */
int serve_run(const struct serve_opts *o, struct kv_err *err);

#endif
