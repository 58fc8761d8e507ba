/*
 * cmd_replay.c - `kvsim replay` (and, through replay_command(), `kvsim validate`): replays
 * a trace against a live OpenAI-compatible server (sim/live/replay.h).
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>
#include <jansson.h>

#include "cmd.h"
#include "model.h"
#include "outfile.h"
#include "registry.h"
#include "replay.h"

enum {
	OPT_URL = OPT_COMMON_END + 1,
	OPT_METRICS_URL,
	OPT_MODEL,
	OPT_KV_MODEL,
	OPT_KV_BPT,
	OPT_CHAT,
	OPT_RATE_SCALE,
	OPT_BEGIN,
	OPT_END,
	OPT_SAMPLE,
	OPT_MAX_INFLIGHT,
	OPT_TIMEOUT,
	OPT_GRACE,
	OPT_SEQUENTIAL,
	OPT_OUTPUT_ONE,
	OPT_API_KEY,
	OPT_SUMMARY,
	OPT_SEED,
	OPT_VOCAB,
	OPT_SPECIAL,
	OPT_HIT_RULE,
	OPT_VALIDATE,
	OPT_RESET,
	OPT_NO_RESET,
};

static volatile sig_atomic_t stop_flag;

static void on_stop(int sig)
{
	(void)sig;
	stop_flag = stop_flag < 2 ? stop_flag + 1 : 2;
}

static void replay_help(const char *cmd)
{
	printf(
"usage: kvsim %s --url http://HOST:PORT [OPTIONS] [TRACE]\n\n", cmd);
	if (!strcmp(cmd, "validate"))
		printf(
"Replays the trace sequentially with one output token each and compares every request's\n"
"usage.prompt_tokens_details.cached_tokens with the simulator's prediction under the same\n"
"capacity, policy and hit rule. Prints the share of exact matches and the first\n"
"mismatches; exits 1 if any request differs (or failed). The server's prefix cache is\n"
"reset first (POST /reset_prefix_cache) unless --no-reset.\n\n");
	else
		printf(
"Sends every request at t0 + (timestamp - first timestamp) / rate-scale as a streamed\n"
"POST /v1/completions whose prompt is token ids synthesised per hash id, records every\n"
"request (failures included) and prints a JSON summary on stdout.\n\n");
	printf(
"options:\n"
"  --url URL               the server (required), e.g. http://127.0.0.1:8000\n"
"  --metrics-url URL       Prometheus endpoint scraped before/during/after (default\n"
"                          URL/metrics; '' disables)\n"
"  --model NAME            model name sent in each request (default qwen2.5-7b)\n"
"  --chat                  use /v1/chat/completions with a text prompt (servers without\n"
"                          token-id prompts; block-exact prefix sharing is lost)\n"
"  --rate-scale X          divide inter-arrival times by X (default 1)\n"
"  --begin S, --end S      only requests in [first + S, first + E) seconds\n"
"  --sample-sessions F     keep this fraction of whole conversations (seeded)\n"
"  --max-inflight N        concurrent requests at most (default 256)\n"
"  --timeout S             per-request timeout (default 600)\n"
"  --grace S               after SIGINT/SIGTERM, wait this long for in-flight requests\n"
"                          (default 2); the rest are recorded as cancelled\n"
"  --sequential            one request at a time, in order, ignoring timestamps\n"
"  --output-one            max_tokens = 1 for every request\n"
"  --api-key KEY           bearer token (default $OPENAI_API_KEY)\n"
"  -o, --out FILE.jsonl    one line per request, written as it completes\n"
"  --summary FILE.json     the summary, also written to a file\n"
"  --seed N                token synthesis seed (default 0); also session sampling\n"
"  --vocab N               token ids drawn from [0, N) (default 32000)\n"
"  --special-ids LIST      ids never drawn (default 0,1,2)\n"
"prediction (the simulator's hit tokens per request):\n"
"  -p, --policy P          eviction policy (default lru)\n"
"  -c, --capacity C        server KV capacity (default 64GiB; as in `kvsim sim`)\n"
"  --kv-model NAME         preset for byte capacities (default: --model if it is a\n"
"                          preset, else qwen2.5-7b)\n"
"  --kv-bytes-per-token N  override the preset's KV bytes per token\n"
"  --hit-rule R            vllm (default) or prefix\n"
"  --validate              validation mode (= `kvsim validate`)\n"
"  --reset-cache / --no-reset  POST /reset_prefix_cache first (validate: on)\n"
TRACE_OPTIONS_HELP
"\nexamples:\n"
"  kvsim serve --port 8000 --capacity 4096blocks &\n"
"  kvsim replay --url http://127.0.0.1:8000 --capacity 4096blocks -o run.jsonl trace.jsonl\n"
"  kvsim validate --url http://127.0.0.1:8000 --capacity 4096blocks trace.jsonl\n");
}

static void print_validation(const struct replay_summary *s)
{
	printf("validate: %llu requests compared, %llu exact (%.2f%%), %llu differ\n",
	       (unsigned long long)s->compared, (unsigned long long)s->exact,
	       s->compared ? 100.0 * (double)s->exact / (double)s->compared : 0.0,
	       (unsigned long long)s->mismatches);
	for (int i = 0; i < s->nfirst; i++) {
		const struct replay_mismatch *m = &s->first[i];

		if (m->measured < 0)
			printf("  row %u (chat_id %lld): no cached_tokens (request failed or not "
			       "reported), predicted %llu\n", m->row, (long long)m->chat_id,
			       (unsigned long long)m->predicted);
		else
			printf("  row %u (chat_id %lld): cached_tokens %lld, predicted %llu\n", m->row,
			       (long long)m->chat_id, (long long)m->measured,
			       (unsigned long long)m->predicted);
	}
}

int replay_command(int argc, char **argv, int validate);
int replay_command(int argc, char **argv, int validate)
{
	static const struct option longopts[] = {
		TRACE_LONG_OPTIONS,
		{"url", required_argument, NULL, OPT_URL},
		{"metrics-url", required_argument, NULL, OPT_METRICS_URL},
		{"model", required_argument, NULL, OPT_MODEL},
		{"kv-model", required_argument, NULL, OPT_KV_MODEL},
		{"kv-bytes-per-token", required_argument, NULL, OPT_KV_BPT},
		{"chat", no_argument, NULL, OPT_CHAT},
		{"rate-scale", required_argument, NULL, OPT_RATE_SCALE},
		{"begin", required_argument, NULL, OPT_BEGIN},
		{"end", required_argument, NULL, OPT_END},
		{"sample-sessions", required_argument, NULL, OPT_SAMPLE},
		{"max-inflight", required_argument, NULL, OPT_MAX_INFLIGHT},
		{"timeout", required_argument, NULL, OPT_TIMEOUT},
		{"grace", required_argument, NULL, OPT_GRACE},
		{"sequential", no_argument, NULL, OPT_SEQUENTIAL},
		{"output-one", no_argument, NULL, OPT_OUTPUT_ONE},
		{"api-key", required_argument, NULL, OPT_API_KEY},
		{"out", required_argument, NULL, 'o'},
		{"summary", required_argument, NULL, OPT_SUMMARY},
		{"seed", required_argument, NULL, OPT_SEED},
		{"vocab", required_argument, NULL, OPT_VOCAB},
		{"special-ids", required_argument, NULL, OPT_SPECIAL},
		{"policy", required_argument, NULL, 'p'},
		{"capacity", required_argument, NULL, 'c'},
		{"hit-rule", required_argument, NULL, OPT_HIT_RULE},
		{"validate", no_argument, NULL, OPT_VALIDATE},
		{"reset-cache", no_argument, NULL, OPT_RESET},
		{"no-reset", no_argument, NULL, OPT_NO_RESET},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	const char *cmd = validate ? "validate" : "replay";
	struct trace_args ta = {0};
	struct replay_opts o = {
		.model = "qwen2.5-7b", .rate_scale = 1, .end_s = -1, .sample_sessions = 1,
		.max_inflight = 256, .timeout_s = 600, .grace_s = 2, .vocab = 32000,
		.special_ids = "0,1,2", .policy = "lru", .hit_rule = KV_HIT_VLLM,
		.api_key = getenv("OPENAI_API_KEY"),
	};
	const char *cap_text = "64GiB", *kv_model = NULL, *summary_path = NULL;
	char metrics_buf[2100], url_buf[2048];
	uint64_t v, kv_bpt_override = 0, kv_bpt;
	int opt, rc, reset = -1;
	struct kv_trace *t = NULL;
	struct kv_capacity cap;
	struct kv_err err = {{0}};
	struct replay_summary sum;
	struct sigaction sa, old_int, old_term;

	optind = 1;
	while ((opt = getopt_long(argc, argv, "o:p:c:h", longopts, NULL)) != -1) {
		int r = trace_args_option(&ta, opt, optarg, cmd);

		if (r < 0)
			return KV_EINPUT;
		if (r > 0)
			continue;
		switch (opt) {
		case OPT_URL:
			o.url = optarg;
			break;
		case OPT_METRICS_URL:
			o.metrics_url = optarg;
			break;
		case OPT_MODEL:
			o.model = optarg;
			break;
		case OPT_KV_MODEL:
			kv_model = optarg;
			break;
		case OPT_KV_BPT:
			if (parse_u64_arg(optarg, 1, UINT32_MAX, &kv_bpt_override))
				return usage_error(cmd, "--kv-bytes-per-token: '%s' is not a positive "
						   "integer", optarg);
			break;
		case OPT_CHAT:
			o.chat = 1;
			break;
		case OPT_RATE_SCALE:
			if (parse_double_arg(optarg, 1e-9, 1e9, &o.rate_scale))
				return usage_error(cmd, "--rate-scale: '%s' is not a positive number",
						   optarg);
			break;
		case OPT_BEGIN:
			if (parse_double_arg(optarg, 0, 1e12, &o.begin_s))
				return usage_error(cmd, "--begin: '%s' is not seconds >= 0", optarg);
			break;
		case OPT_END:
			if (parse_double_arg(optarg, 0, 1e12, &o.end_s))
				return usage_error(cmd, "--end: '%s' is not seconds >= 0", optarg);
			break;
		case OPT_SAMPLE:
			if (parse_double_arg(optarg, 1e-12, 1, &o.sample_sessions))
				return usage_error(cmd, "--sample-sessions: '%s' is not in (0, 1]",
						   optarg);
			break;
		case OPT_MAX_INFLIGHT:
			if (parse_u64_arg(optarg, 1, 65536, &v))
				return usage_error(cmd, "--max-inflight: '%s' is not in [1, 65536]",
						   optarg);
			o.max_inflight = (uint32_t)v;
			break;
		case OPT_TIMEOUT:
			if (parse_double_arg(optarg, 0.001, 1e6, &o.timeout_s))
				return usage_error(cmd, "--timeout: '%s' is not seconds > 0", optarg);
			break;
		case OPT_GRACE:
			if (parse_double_arg(optarg, 0, 3600, &o.grace_s))
				return usage_error(cmd, "--grace: '%s' is not seconds in [0, 3600]",
						   optarg);
			break;
		case OPT_SEQUENTIAL:
			o.sequential = 1;
			break;
		case OPT_OUTPUT_ONE:
			o.output_one = 1;
			break;
		case OPT_API_KEY:
			o.api_key = optarg;
			break;
		case 'o':
			o.out_path = optarg;
			break;
		case OPT_SUMMARY:
			summary_path = optarg;
			break;
		case OPT_SEED:
			if (parse_u64_arg(optarg, 0, UINT64_MAX, &o.seed))
				return usage_error(cmd, "--seed: '%s' is not an integer", optarg);
			break;
		case OPT_VOCAB:
			if (parse_u64_arg(optarg, 2, UINT32_MAX, &v))
				return usage_error(cmd, "--vocab: '%s' is not in [2, 2^32)", optarg);
			o.vocab = (uint32_t)v;
			break;
		case OPT_SPECIAL:
			o.special_ids = optarg;
			break;
		case 'p':
			o.policy = optarg;
			break;
		case 'c':
			cap_text = optarg;
			break;
		case OPT_HIT_RULE:
			if (cache_hit_rule_parse(optarg, &o.hit_rule))
				return usage_error(cmd, "--hit-rule: '%s' is not vllm or prefix", optarg);
			break;
		case OPT_VALIDATE:
			validate = 1;
			break;
		case OPT_RESET:
			reset = 1;
			break;
		case OPT_NO_RESET:
			reset = 0;
			break;
		case 'h':
			replay_help(cmd);
			return 0;
		default:
			return usage_error(cmd, "unknown option");
		}
	}
	if (trace_args_positional(&ta, argc, argv, cmd))
		return KV_EINPUT;
	if (o.end_s >= 0 && o.end_s <= o.begin_s)
		return usage_error(cmd, "--end must be after --begin");
	if (!o.url || strncmp(o.url, "http", 4) || strlen(o.url) >= sizeof(url_buf))
		return usage_error(cmd, "--url http://HOST:PORT is required");
	snprintf(url_buf, sizeof(url_buf), "%s", o.url);
	while (strlen(url_buf) > 8 && url_buf[strlen(url_buf) - 1] == '/')
		url_buf[strlen(url_buf) - 1] = 0; /* URL/v1/... without a double slash */
	o.url = url_buf;
	if (strchr(o.model, '"') || strchr(o.model, '\\'))
		return usage_error(cmd, "--model: quotes and backslashes are not allowed");
	if (validate) {
		o.sequential = 1;
		o.output_one = 1;
		o.validate = 1;
	}
	o.reset_cache = reset >= 0 ? reset : validate;
	if (!o.metrics_url) {
		snprintf(metrics_buf, sizeof(metrics_buf), "%s/metrics", o.url);
		o.metrics_url = metrics_buf;
	}
	if (!kv_model)
		kv_model = kv_model_find(o.model) ? o.model : "qwen2.5-7b";
	if (kv_bytes_per_token_arg(kv_model, kv_bpt_override, &kv_bpt, cmd))
		return KV_EINPUT;
	if ((rc = kv_capacity_parse(cap_text, &cap, &err)))
		return usage_error(cmd, "--capacity: %s", err.msg);
	if ((rc = check_policies(cmd, o.policy)))
		return rc;
	if ((rc = trace_args_load(&ta, &t)))
		return rc;
	if ((rc = kv_capacity_blocks(&cap, t->block_size, kv_bpt, t->nnodes, &o.capacity_blocks,
				     &err))) {
		trace_free(t);
		return usage_error(cmd, "--capacity: %s", err.msg);
	}
	fprintf(stderr, "kvsim %s: trace of %zu requests, capacity %llu blocks of %u tokens "
		"(prediction)\n", cmd, t->nreq, (unsigned long long)o.capacity_blocks, t->block_size);
	{
		/* a server sees token ids only (kvsim serve runs every request on its own), so a
		 * prediction from the trace's conversations may differ from any server's hits */
		const struct evict_ops *ops;
		struct kv_params params;

		if (!evict_resolve(o.policy, &ops, &params, &err) &&
		    (ops->reads & EVICT_READS_CONVERSATIONS))
			fprintf(stderr, "kvsim %s: warning: policy '%s' uses the trace's "
				"conversations, which a server never sees (token ids only): the "
				"prediction may differ from the server's hits%s\n", cmd, ops->name,
				validate ? " and validation may report mismatches" : "");
	}

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_stop;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, &old_int);
	sigaction(SIGTERM, &sa, &old_term);
	signal(SIGPIPE, SIG_IGN);
	curl_global_init(CURL_GLOBAL_DEFAULT);
	rc = replay_run(t, &o, &stop_flag, &sum, &err);
	sigaction(SIGINT, &old_int, NULL);
	sigaction(SIGTERM, &old_term, NULL);
	if (rc) {
		fprintf(stderr, "kvsim %s: %s\n", cmd, err.msg);
		goto out;
	}
	json_object_set_new(sum.json, "interrupted", json_boolean(stop_flag != 0));
	if (summary_path) {
		struct kv_outfile of;

		if ((rc = outfile_open(&of, summary_path, &err)) == 0) {
			json_dumpf(sum.json, of.f, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
			fputc('\n', of.f);
			rc = outfile_commit(&of, &err);
		}
		if (rc)
			fprintf(stderr, "kvsim %s: %s\n", cmd, err.msg);
	}
	if (validate) {
		print_validation(&sum);
		if (!rc && (sum.mismatches || !sum.compared))
			rc = KV_ERUNTIME;
	} else {
		json_dumpf(sum.json, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
		putchar('\n');
	}
	replay_summary_free(&sum);
out:
	curl_global_cleanup();
	trace_free(t);
	return rc;
}

static int replay_main(int argc, char **argv)
{
	return replay_command(argc, argv, 0);
}

const struct kv_cmd cmd_replay = {
	.name = "replay",
	.summary = "replay a trace against a live OpenAI-compatible server (vLLM, SGLang, serve)",
	.main = replay_main,
};
