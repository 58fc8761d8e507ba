/*
 * cmd_mrc.c - `kvsim mrc`: the prefix-LRU block and token hit ratio at many capacities in
 * one pass over the trace (analysis/mrc.h), equal to `kvsim sim --policy lru` at each.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "cmd.h"
#include "model.h"
#include "mrc.h"
#include "report.h"

#define MAX_POINTS 4096

enum { FMT_TEXT, FMT_CSV, FMT_JSON };

enum {
	OPT_POINTS = OPT_COMMON_END + 1,
	OPT_LOG_POINTS,
	OPT_MODEL,
	OPT_KV_BPT,
	OPT_HIT_RULE,
};

struct mrc_args {
	struct trace_args ta;
	char *points;
	uint64_t log_points;
	const char *model;
	uint64_t kv_bpt_override;
	enum kv_hit_rule hit_rule;
	int format;
};

static void mrc_help(void)
{
	printf(
"usage: kvsim mrc [OPTIONS] [TRACE]\n\n"
"The prefix-LRU miss-ratio curve: block and token hit ratios at many capacities from one\n"
"pass over the trace (stack distances), equal at every capacity to\n"
"`kvsim sim --policy lru --capacity C`.\n\n"
"options:\n"
"  --points LIST           capacities, comma-separated, in the syntax of --capacity of\n"
"                          `kvsim sim` (64GiB, 4096blocks, 1Mtokens, 10%%, inf, or blocks);\n"
"                          rows come out in the order given\n"
"  --log-points N          N capacities evenly spaced in log scale from 1 block to the\n"
"                          trace's distinct chain nodes (default 30 when --points is absent)\n"
"  --model NAME            KV bytes per token for byte capacities (default qwen2.5-7b):\n"
"                          %s\n"
"  --kv-bytes-per-token N  override the model's KV bytes per token\n"
"  --hit-rule R            prefix (default) or vllm, as for `kvsim sim`\n"
"  -f, --format F          text (default), csv (capacity_blocks,block_hit_ratio,\n"
"                          token_hit_ratio; capacity_blocks empty for inf) or json\n"
TRACE_OPTIONS_HELP
"\nexamples:\n"
"  kvsim mrc --log-points 50 --format csv trace.jsonl.gz > mrc.csv\n"
"  kvsim mrc --points 1%%,2%%,5%%,10%%,64GiB,inf trace.kvt\n",
	       kv_model_names());
}

static int parse_args(int argc, char **argv, struct mrc_args *a)
{
	static const struct option longopts[] = {
		TRACE_LONG_OPTIONS,
		{"points", required_argument, NULL, OPT_POINTS},
		{"log-points", required_argument, NULL, OPT_LOG_POINTS},
		{"model", required_argument, NULL, OPT_MODEL},
		{"kv-bytes-per-token", required_argument, NULL, OPT_KV_BPT},
		{"hit-rule", required_argument, NULL, OPT_HIT_RULE},
		{"format", required_argument, NULL, 'f'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	int opt;

	optind = 1;
	while ((opt = getopt_long(argc, argv, "f:h", longopts, NULL)) != -1) {
		int r = trace_args_option(&a->ta, opt, optarg, "mrc");

		if (r < 0)
			return KV_EINPUT;
		if (r > 0)
			continue;
		switch (opt) {
		case OPT_POINTS:
			a->points = optarg;
			break;
		case OPT_LOG_POINTS:
			if (parse_u64_arg(optarg, 1, MAX_POINTS, &a->log_points))
				return usage_error("mrc", "--log-points: '%s' is not an integer in "
						   "[1, %d]", optarg, MAX_POINTS);
			break;
		case OPT_MODEL:
			a->model = optarg;
			break;
		case OPT_KV_BPT:
			if (parse_u64_arg(optarg, 1, UINT32_MAX, &a->kv_bpt_override))
				return usage_error("mrc", "--kv-bytes-per-token: '%s' is not a "
						   "positive integer", optarg);
			break;
		case OPT_HIT_RULE:
			if (cache_hit_rule_parse(optarg, &a->hit_rule))
				return usage_error("mrc", "--hit-rule: '%s' is not prefix or vllm",
						   optarg);
			break;
		case 'f':
			if (!strcmp(optarg, "text"))
				a->format = FMT_TEXT;
			else if (!strcmp(optarg, "csv"))
				a->format = FMT_CSV;
			else if (!strcmp(optarg, "json"))
				a->format = FMT_JSON;
			else
				return usage_error("mrc", "--format: '%s' is not text, csv or json",
						   optarg);
			break;
		case 'h':
			mrc_help();
			exit(0);
		default:
			return usage_error("mrc", "unknown option");
		}
	}
	if (a->points && a->log_points)
		return usage_error("mrc", "give --points or --log-points, not both");
	if (trace_args_positional(&a->ta, argc, argv, "mrc"))
		return KV_EINPUT;
	return KV_OK;
}

/* Resolves the points: labels (as given) and capacities in blocks. */
static int build_points(struct mrc_args *a, const struct kv_trace *t, uint64_t kv_bpt,
			struct mrc_point **pts_out, char (**labels_out)[64], size_t *n_out)
{
	struct mrc_point *pts = calloc(MAX_POINTS, sizeof(*pts));
	char (*labels)[64] = calloc(MAX_POINTS, sizeof(*labels));
	struct kv_err err = {{0}};
	size_t n = 0;
	int rc = KV_OK;

	if (!pts || !labels) {
		rc = KV_ERUNTIME;
		goto out;
	}
	if (a->points) {
		char *buf = strdup(a->points), *items[MAX_POINTS];
		int k = buf ? kv_split_specs(buf, items, MAX_POINTS) : -1;

		if (k <= 0) {
			free(buf);
			rc = usage_error("mrc", "--points: give 1 to %d capacities", MAX_POINTS);
			goto out;
		}
		for (int i = 0; i < k && !rc; i++) {
			struct kv_capacity cap;

			if ((rc = kv_capacity_parse(items[i], &cap, &err)) ||
			    (rc = kv_capacity_blocks(&cap, t->block_size, kv_bpt, t->nnodes,
						     &pts[n].capacity_blocks, &err))) {
				fprintf(stderr, "kvsim mrc: --points: %s\n", err.msg);
				break;
			}
			snprintf(labels[n++], 64, "%s", cap.text);
		}
		free(buf);
	} else {
		uint64_t caps[MAX_POINTS];
		size_t k = mrc_log_points(t->nnodes, a->log_points ? a->log_points : 30, caps);

		for (size_t i = 0; i < k; i++) {
			pts[n].capacity_blocks = caps[i];
			snprintf(labels[n++], 64, "%" PRIu64, caps[i]);
		}
	}
out:
	if (rc) {
		free(pts);
		free(labels);
		return rc;
	}
	*pts_out = pts;
	*labels_out = labels;
	*n_out = n;
	return KV_OK;
}

static int mrc_main(int argc, char **argv)
{
	struct mrc_args a = {.model = "qwen2.5-7b"};
	struct kv_trace *t = NULL;
	struct mrc_point *pts = NULL;
	char (*labels)[64] = NULL;
	struct mrc_stats st;
	struct kv_err err = {{0}};
	uint64_t kv_bpt;
	size_t n = 0;
	double t_load, t_mrc;
	int rc;

	if ((rc = parse_args(argc, argv, &a)))
		return rc;
	if (kv_bytes_per_token_arg(a.model, a.kv_bpt_override, &kv_bpt, "mrc"))
		return KV_EINPUT;
	t_load = kv_now_s();
	if ((rc = trace_args_load(&a.ta, &t)))
		return rc;
	t_load = kv_now_s() - t_load;
	if ((rc = build_points(&a, t, kv_bpt, &pts, &labels, &n)))
		goto out;
	t_mrc = kv_now_s();
	if ((rc = mrc_run(t, a.hit_rule, pts, n, &st, &err))) {
		fprintf(stderr, "kvsim mrc: %s\n", err.msg);
		goto out;
	}
	t_mrc = kv_now_s() - t_mrc;
	if (a.format == FMT_CSV) {
		printf("capacity_blocks,block_hit_ratio,token_hit_ratio\n");
		for (size_t i = 0; i < n; i++) {
			if (pts[i].capacity_blocks != KV_CAPACITY_INF)
				printf("%" PRIu64, pts[i].capacity_blocks);
			printf(",%.6f,%.6f\n", report_ratio(pts[i].hit_blocks, st.blocks),
			       report_ratio(pts[i].hit_tokens, st.tokens));
		}
	} else if (a.format == FMT_JSON) {
		json_t *rows = json_array(), *doc;

		for (size_t i = 0; i < n; i++) {
			int inf = pts[i].capacity_blocks == KV_CAPACITY_INF;
			json_array_append_new(
				rows,
				json_pack("{s:s, s:o, s:I, s:I, s:f, s:I, s:I, s:f, s:I, s:i}", "capacity",
					  labels[i], "capacity_blocks",
					  inf ? json_null()
					      : json_integer((json_int_t)pts[i].capacity_blocks),
					  "blocks", (json_int_t)st.blocks, "hit_blocks",
					  (json_int_t)pts[i].hit_blocks, "block_hit_ratio",
					  report_ratio(pts[i].hit_blocks, st.blocks), "tokens",
					  (json_int_t)st.tokens, "hit_tokens",
					  (json_int_t)pts[i].hit_tokens, "token_hit_ratio",
					  report_ratio(pts[i].hit_tokens, st.tokens), "replay_requests",
					  (json_int_t)pts[i].replay_requests, "replays",
					  (int)pts[i].replays));
		}
		doc = json_pack("{s:s, s:s, s:s, s:I, s:I, s:I, s:o, s:{s:f, s:f}}", "kvsim_version",
				KVSIM_VERSION, "command", "mrc", "trace", t->path, "requests",
				(json_int_t)st.requests, "distinct_nodes", (json_int_t)t->nnodes,
				"replay_requests", (json_int_t)st.replay_requests, "points", rows,
				"timing", "load_s", t_load, "mrc_s", t_mrc);
		json_object_set_new(doc, "hit_rule", json_string(cache_hit_rule_name(a.hit_rule)));
		json_dumpf(doc, stdout, JSON_INDENT(2) | JSON_REAL_PRECISION(10));
		putchar('\n');
		json_decref(doc);
	} else {
		char b1[32], b2[32], b3[32];

		printf("trace     %s\n", t->path);
		printf("          %s requests, %s block accesses, %s distinct chain nodes; LRU, hit "
		       "rule %s\n\n", fmt_count(t->nreq, b1, sizeof(b1)),
		       fmt_count(t->nblk, b2, sizeof(b2)), fmt_count(t->nnodes, b3, sizeof(b3)),
		       cache_hit_rule_name(a.hit_rule));
		printf("%-12s %14s %10s %10s\n", "capacity", "blocks", "block_hit", "token_hit");
		for (size_t i = 0; i < n; i++)
			printf("%-12s %14s %10.4f %10.4f\n", labels[i],
			       pts[i].capacity_blocks == KV_CAPACITY_INF
				       ? "inf"
				       : fmt_count(pts[i].capacity_blocks, b1, sizeof(b1)),
			       report_ratio(pts[i].hit_blocks, st.blocks),
			       report_ratio(pts[i].hit_tokens, st.tokens));
	}
	if (fflush(stdout) || ferror(stdout)) {
		fprintf(stderr, "kvsim mrc: writing the results failed\n");
		rc = KV_ERUNTIME;
	}
	if (stderr_is_tty())
		fprintf(stderr, "kvsim mrc: load %.3f s, curve %.3f s (%" PRIu64 " request x capacity "
			"pairs replayed for prefix closure)\n", t_load, t_mrc,
			st.replay_requests);
out:
	free(pts);
	free(labels);
	trace_free(t);
	return rc;
}

const struct kv_cmd cmd_mrc = {"mrc", "prefix-LRU hit ratio at many capacities in one pass",
			       mrc_main};
