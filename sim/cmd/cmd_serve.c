/*
 * cmd_serve.c - `kvsim serve`: the emulated OpenAI-compatible engine (sim/live/serve.h).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "capacity.h"
#include "cmd.h"
#include "model.h"
#include "pace.h"
#include "registry.h"
#include "serve.h"

#define DEFAULT_COST "roofline"

enum {
	OPT_HOST = OPT_COMMON_END + 1,
	OPT_PORT,
	OPT_PORT_FILE,
	OPT_MODEL,
	OPT_SERVED,
	OPT_GPU,
	OPT_KV_BPT,
	OPT_MAX_LEN,
	OPT_MAX_SEQS,
	OPT_VOCAB,
	OPT_COST,
	OPT_FAIL,
	OPT_STALL,
	OPT_STALL_S,
	OPT_DROP,
	OPT_SEED,
	OPT_IDLE_TIMEOUT,
};

static void serve_help(void)
{
	printf(
"usage: kvsim serve [OPTIONS]\n\n"
"An emulated OpenAI-compatible engine on kvsim's cache core: POST /v1/completions (token-id\n"
"or text prompt, streaming or not), POST /v1/chat/completions, GET /v1/models, GET /health,\n"
"POST /reset_prefix_cache, GET /metrics (vLLM metric names). Prompts are cut into blocks,\n"
"chain-hashed and cached with vLLM's rules (full blocks only, the last token recomputed);\n"
"usage.prompt_tokens_details.cached_tokens reports the hit. Runs until SIGINT/SIGTERM.\n\n"
"options:\n"
"  --host ADDR             bind address (default 127.0.0.1)\n"
"  --port P                port (default 8000; 0 = any free port)\n"
"  --port-file FILE        write the bound port to FILE once listening\n"
"  --model NAME            model preset (KV bytes, cost model; default qwen2.5-7b):\n"
"                          %s\n"
"  --served-model-name S   the model name clients must send (default: --model)\n"
"  -c, --capacity C        KV cache capacity (default 64GiB): bytes, Nblocks, Ntokens\n"
"                          or a plain integer (blocks); must be finite\n"
"  --kv-bytes-per-token N  override the model's KV bytes per token\n"
"  -p, --policy P          eviction policy NAME[:k=v,...] (default lru)\n"
"  --block-size N          tokens per block (default 16)\n"
"  --max-model-len N       most prompt + output tokens of a request (default 131072)\n"
"  --max-num-seqs N        requests running together (default 256)\n"
"  --vocab N               token ids accepted are [0, N) (default 151936)\n"
"  --gpu NAME              GPU preset for the cost model (default h200)\n"
"  --cost SPEC             iteration time: %s\n"
"                          (default %s)\n"
"  --fail-rate P           answer this share of completions with an injected 500\n"
"  --stall-rate P          hold this share for --stall-s seconds before serving them\n"
"  --stall-s S             stall length (default 5)\n"
"  --drop-connection-rate P  close this share of connections without an answer\n"
"  --seed N                fault-injection seed (default 0)\n"
"  --idle-timeout S        close connections idle this long (default 60; a slow or\n"
"                          stalled client's half request counts as idle)\n"
"\nexamples:\n"
"  kvsim serve --port 8000 --capacity 4096blocks --cost zero\n"
"  kvsim serve --port 0 --port-file /tmp/port --fail-rate 0.01\n",
	       kv_model_names(), pace_help(), DEFAULT_COST);
}

static int prob_arg(const char *s, double *out, const char *name)
{
	if (parse_double_arg(s, 0, 1, out))
		return usage_error("serve", "%s: '%s' is not a probability in [0, 1]", name, s);
	return 0;
}

static int serve_main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{"host", required_argument, NULL, OPT_HOST},
		{"port", required_argument, NULL, OPT_PORT},
		{"port-file", required_argument, NULL, OPT_PORT_FILE},
		{"model", required_argument, NULL, OPT_MODEL},
		{"served-model-name", required_argument, NULL, OPT_SERVED},
		{"capacity", required_argument, NULL, 'c'},
		{"kv-bytes-per-token", required_argument, NULL, OPT_KV_BPT},
		{"policy", required_argument, NULL, 'p'},
		{"block-size", required_argument, NULL, OPT_BLOCK_SIZE},
		{"max-model-len", required_argument, NULL, OPT_MAX_LEN},
		{"max-num-seqs", required_argument, NULL, OPT_MAX_SEQS},
		{"vocab", required_argument, NULL, OPT_VOCAB},
		{"gpu", required_argument, NULL, OPT_GPU},
		{"cost", required_argument, NULL, OPT_COST},
		{"fail-rate", required_argument, NULL, OPT_FAIL},
		{"stall-rate", required_argument, NULL, OPT_STALL},
		{"stall-s", required_argument, NULL, OPT_STALL_S},
		{"drop-connection-rate", required_argument, NULL, OPT_DROP},
		{"seed", required_argument, NULL, OPT_SEED},
		{"idle-timeout", required_argument, NULL, OPT_IDLE_TIMEOUT},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	struct serve_opts o = {
		.host = "127.0.0.1", .port = 8000, .model = "qwen2.5-7b", .gpu = "h200",
		.policy = "lru", .block_size = 16, .max_model_len = 131072, .max_num_seqs = 256,
		.vocab = 151936, .cost = DEFAULT_COST, .stall_s = 5,
		.idle_timeout_s = 60,
	};
	const char *cap_text = "64GiB";
	uint64_t v, kv_bpt_override = 0, kv_bpt;
	struct kv_capacity cap;
	struct kv_err err = {{0}};
	int opt, rc;

	optind = 1;
	while ((opt = getopt_long(argc, argv, "c:p:h", longopts, NULL)) != -1) {
		switch (opt) {
		case OPT_HOST:
			o.host = optarg;
			break;
		case OPT_PORT:
			if (parse_u64_arg(optarg, 0, 65535, &v))
				return usage_error("serve", "--port: '%s' is not in [0, 65535]", optarg);
			o.port = (int)v;
			break;
		case OPT_PORT_FILE:
			o.port_file = optarg;
			break;
		case OPT_MODEL:
			o.model = optarg;
			break;
		case OPT_SERVED:
			o.served_name = optarg;
			break;
		case 'c':
			cap_text = optarg;
			break;
		case OPT_KV_BPT:
			if (parse_u64_arg(optarg, 1, UINT32_MAX, &kv_bpt_override))
				return usage_error("serve", "--kv-bytes-per-token: '%s' is not a "
						   "positive integer", optarg);
			break;
		case 'p':
			o.policy = optarg;
			break;
		case OPT_BLOCK_SIZE:
			if (parse_u64_arg(optarg, 1, 1u << 20, &v))
				return usage_error("serve", "--block-size: '%s' is not in [1, 2^20]",
						   optarg);
			o.block_size = (uint32_t)v;
			break;
		case OPT_MAX_LEN:
			if (parse_u64_arg(optarg, 2, 1u << 26, &v))
				return usage_error("serve", "--max-model-len: '%s' is not in [2, 2^26]",
						   optarg);
			o.max_model_len = (uint32_t)v;
			break;
		case OPT_MAX_SEQS:
			if (parse_u64_arg(optarg, 1, 1u << 20, &v))
				return usage_error("serve", "--max-num-seqs: '%s' is not in [1, 2^20]",
						   optarg);
			o.max_num_seqs = (uint32_t)v;
			break;
		case OPT_VOCAB:
			if (parse_u64_arg(optarg, 2, UINT32_MAX, &v))
				return usage_error("serve", "--vocab: '%s' is not in [2, 2^32)", optarg);
			o.vocab = (uint32_t)v;
			break;
		case OPT_GPU:
			o.gpu = optarg;
			break;
		case OPT_COST:
			o.cost = optarg;
			break;
		case OPT_FAIL:
			if ((rc = prob_arg(optarg, &o.fail_rate, "--fail-rate")))
				return rc;
			break;
		case OPT_STALL:
			if ((rc = prob_arg(optarg, &o.stall_rate, "--stall-rate")))
				return rc;
			break;
		case OPT_DROP:
			if ((rc = prob_arg(optarg, &o.drop_rate, "--drop-connection-rate")))
				return rc;
			break;
		case OPT_STALL_S:
			if (parse_double_arg(optarg, 0, 86400, &o.stall_s))
				return usage_error("serve", "--stall-s: '%s' is not in [0, 86400]",
						   optarg);
			break;
		case OPT_SEED:
			if (parse_u64_arg(optarg, 0, UINT64_MAX, &o.seed))
				return usage_error("serve", "--seed: '%s' is not an integer", optarg);
			break;
		case OPT_IDLE_TIMEOUT:
			if (parse_u64_arg(optarg, 1, 86400, &v))
				return usage_error("serve", "--idle-timeout: '%s' is not an integer in "
						   "[1, 86400]", optarg);
			o.idle_timeout_s = (int)v;
			break;
		case 'h':
			serve_help();
			return 0;
		default:
			return usage_error("serve", "unknown option");
		}
	}
	if (optind < argc)
		return usage_error("serve", "unexpected argument '%s'", argv[optind]);
	if (!o.served_name)
		o.served_name = o.model;
	if (strchr(o.served_name, '"') || strchr(o.served_name, '\\'))
		return usage_error("serve", "--served-model-name: quotes and backslashes are not "
				   "allowed");
	if (kv_bytes_per_token_arg(o.model, kv_bpt_override, &kv_bpt, "serve"))
		return KV_EINPUT;
	if ((rc = kv_capacity_parse(cap_text, &cap, &err)) ||
	    (rc = kv_capacity_blocks(&cap, o.block_size, kv_bpt, 0, &o.capacity_blocks, &err)))
		return usage_error("serve", "--capacity: %s", err.msg);
	if ((rc = serve_run(&o, &err))) {
		fprintf(stderr, "kvsim serve: %s\n", err.msg);
		return rc;
	}
	return 0;
}

const struct kv_cmd cmd_serve = {
	.name = "serve",
	.summary = "an emulated OpenAI-compatible engine on the cache core (for replay/tests)",
	.main = serve_main,
};
