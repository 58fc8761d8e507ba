/*
 * cmd_sim.c - `kvsim sim` (the default command): cache-mode hit ratios for every
 * (policy, capacity) pair given, on one parse of the trace.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "cache_sweep.h"
#include "cmd.h"
#include "cmd_sim_timed.h"
#include "model.h"
#include "outfile.h"
#include "registry.h"
#include "report.h"

struct sim_args {
	struct trace_args ta;
	struct cache_args ca;
};

static void sim_help(void)
{
	printf(
"usage: kvsim [sim] [OPTIONS] [TRACE]\n\n"
"Replays a trace against a prefix cache (DESIGN.md section 3) and prints hit ratios for\n"
"every policy x capacity given. Without a trace it runs on the bundled default trace.\n\n"
"options:\n"
"  -p, --policy LIST       eviction policies, comma-separated, each NAME[:key=value,...]\n"
"                          (default lru); known:\n");
	for (int i = 0; evict_registry[i]; i++)
		printf("                            %-9s %s%s%s%s\n", evict_registry[i]->name,
		       evict_registry[i]->doc, *evict_registry[i]->defaults ? " [" : "",
		       evict_registry[i]->defaults, *evict_registry[i]->defaults ? "]" : "");
	printf(
"  -c, --capacity LIST     capacities, comma-separated (default 1%%,5%%,10%%,25%%,50%%,inf):\n"
"                          64GiB or 500MB (bytes, via the model's KV bytes per token),\n"
"                          4096blocks, 1Mtokens (k/M/G = 10^3/10^6/10^9), 10%% (of the\n"
"                          trace's distinct chain nodes, rounded down, at least 1), inf,\n"
"                          or a plain integer (blocks)\n"
"  --model NAME            KV bytes per token from a model preset (default qwen2.5-7b):\n"
"                          %s\n"
"  --kv-bytes-per-token N  override the model's KV bytes per token\n"
"  --hit-rule R            prefix (default: every block, partial last included, can hit)\n"
"                          or vllm (only full blocks cached; at most floor((L-1)/B) hit)\n"
"  -f, --format F          text (default), csv or json\n"
"  -o, --out DIR           also write DIR/summary.json and DIR/results.csv\n"
"  -j, --jobs N            run the pairs on N threads (default 1); output order is fixed\n"
"  --timed                 timed cluster simulation (see `kvsim sim --timed --help`)\n"
TRACE_OPTIONS_HELP
"\nexamples:\n"
"  kvsim --policy lru --capacity 64GiB trace.jsonl\n"
"  kvsim --capacity 1%%,5%%,10%%,inf --format csv trace.jsonl.gz > hits.csv\n"
"  kvsim --hit-rule vllm --capacity 4096blocks --out results/run1 trace.jsonl\n",
	       kv_model_names());
}

static int parse_args(int argc, char **argv, struct sim_args *a)
{
	static const struct option longopts[] = {
		TRACE_LONG_OPTIONS,
		CACHE_LONG_OPTIONS,
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	int opt;

	optind = 1;
	while ((opt = getopt_long(argc, argv, CACHE_SHORT_OPTIONS "h", longopts, NULL)) != -1) {
		int r = trace_args_option(&a->ta, opt, optarg, "sim");

		if (!r)
			r = cache_args_option(&a->ca, opt, optarg, "sim");
		if (r < 0)
			return KV_EINPUT;
		if (r > 0)
			continue;
		if (opt == 'h') {
			sim_help();
			exit(0);
		}
		return usage_error("sim", "unknown option");
	}
	if (trace_args_positional(&a->ta, argc, argv, "sim"))
		return KV_EINPUT;
	return KV_OK;
}

/* Builds the job list: policies (outer) x capacities (inner). */
static int build_jobs(struct sim_args *a, const struct kv_trace *t, uint64_t kv_bpt,
		      struct cache_job **jobs_out, size_t *njobs)
{
	char *pbuf = strdup(a->ca.policies), *cbuf = strdup(a->ca.capacities);
	int maxp = kv_specs_bound(a->ca.policies), maxc = kv_specs_bound(a->ca.capacities);
	char **pols = calloc((size_t)maxp, sizeof(*pols));
	char **caps = calloc((size_t)maxc, sizeof(*caps));
	int np, nc, rc = KV_OK;
	struct cache_job *jobs = NULL;
	struct kv_err err = {{0}};
	size_t n = 0;

	if (!pbuf || !cbuf || !pols || !caps) {
		rc = KV_ERUNTIME;
		goto out;
	}
	np = kv_split_specs(pbuf, pols, maxp);
	nc = kv_split_specs(cbuf, caps, maxc);
	if (np <= 0 || nc <= 0) {
		rc = usage_error("sim", "give at least one policy and one capacity");
		goto out;
	}
	jobs = calloc((size_t)np * (size_t)nc, sizeof(*jobs));
	if (!jobs) {
		rc = KV_ERUNTIME;
		goto out;
	}
	for (int i = 0; i < np; i++) {
		const struct evict_ops *ops;
		struct kv_params params;

		if ((rc = evict_resolve(pols[i], &ops, &params, &err))) {
			fprintf(stderr, "kvsim sim: --policy: %s\n", err.msg);
			goto out;
		}
		for (int j = 0; j < nc; j++) {
			struct cache_job *jb = &jobs[n++];

			jb->ops = ops;
			jb->params = params;
			kv_params_format(&params, jb->policy, sizeof(jb->policy));
			if ((rc = kv_capacity_parse(caps[j], &jb->cap, &err)) ||
			    (rc = kv_capacity_blocks(&jb->cap, t->block_size, kv_bpt, t->nnodes,
						     &jb->capacity_blocks, &err))) {
				fprintf(stderr, "kvsim sim: --capacity: %s\n", err.msg);
				goto out;
			}
		}
	}
out:
	free(pols);
	free(caps);
	free(pbuf);
	free(cbuf);
	if (rc) {
		free(jobs);
		return rc;
	}
	*jobs_out = jobs;
	*njobs = n;
	return KV_OK;
}

static json_t *summary_json(const struct sim_args *a, const struct kv_trace *t,
			    const struct kv_ceiling *ceil, uint64_t kv_bpt,
			    const struct cache_job *jobs, const struct cache_job_result *res,
			    size_t n, double load_s)
{
	json_t *rows = json_array(), *timing = json_array(), *cpu = json_array();
	struct report_row row;
	double sim_s = 0;

	for (size_t i = 0; i < n; i++) {
		row = (struct report_row){t->path, jobs[i].policy, jobs[i].cap.text,
					  jobs[i].capacity_blocks, res[i].st, a->ca.hit_rule,
					  t->block_size, kv_bpt};
		json_array_append_new(rows, report_json_row(&row));
		json_array_append_new(timing, json_real(res[i].wall_s));
		json_array_append_new(cpu, json_real(res[i].cpu_s));
		sim_s += res[i].wall_s;
	}
	return json_pack("{s:s, s:s, s:{s:s, s:s, s:s, s:s, s:I, s:s, s:i}, s:o, s:o, "
			 "s:{s:f, s:f, s:o, s:o}}",
			 "kvsim_version", KVSIM_VERSION, "command", "sim", "config", "policy",
			 a->ca.policies, "capacity", a->ca.capacities, "hit_rule",
			 cache_hit_rule_name(a->ca.hit_rule), "model",
			 a->ca.kv_bpt_override ? "custom" : a->ca.model, "kv_bytes_per_token",
			 (json_int_t)kv_bpt, "trace_format", trace_format_name(t->format),
			 "lenient", a->ta.load.lenient, "trace", report_json_trace(t, ceil),
			 "results", rows, "timing", "load_s", load_s, "sim_s", sim_s, "run_s",
			 timing, "run_cpu_s", cpu);
}

static void print_text(FILE *f, const struct sim_args *a, const struct kv_trace *t,
		       const struct kv_ceiling *ceil, uint64_t kv_bpt,
		       const struct cache_job *jobs, const struct cache_job_result *res,
		       size_t n)
{
	char b1[32], b2[32], b3[32], b4[32];
	int wp = 16, wc = 12;

	fprintf(f, "trace     %s\n", t->path);
	fprintf(f, "          %s, %u tokens/block, %s requests, %s block accesses, %s distinct "
		   "chain nodes, %s input tokens\n",
		trace_format_name(t->format), t->block_size, fmt_count(t->nreq, b1, sizeof(b1)),
		fmt_count(t->nblk, b2, sizeof(b2)), fmt_count(t->nnodes, b3, sizeof(b3)),
		fmt_count(t->input_tokens, b4, sizeof(b4)));
	fprintf(f, "ceiling   block hit ratio %.4f, token hit ratio %.4f (infinite cache)\n",
		report_ratio(ceil->hit_blocks, ceil->blocks),
		report_ratio(ceil->hit_tokens, ceil->tokens));
	fprintf(f, "model     %s: %" PRIu64 " KV bytes/token, %s per block; hit rule %s\n\n",
		a->ca.kv_bpt_override ? "custom" : a->ca.model, kv_bpt,
		fmt_bytes((double)kv_bpt * t->block_size, b1, sizeof(b1)),
		cache_hit_rule_name(a->ca.hit_rule));
	/* the first two columns as wide as their longest entry (a policy spec with parameters,
	 * s3fifo:small=0.2,ghost=0, pushed the rest out of line) */
	for (size_t i = 0; i < n; i++) {
		if ((int)strlen(jobs[i].policy) > wp)
			wp = (int)strlen(jobs[i].policy);
		if ((int)strlen(jobs[i].cap.text) > wc)
			wc = (int)strlen(jobs[i].cap.text);
	}
	fprintf(f, "%-*s %-*s %14s %12s %10s %10s %14s\n", wp, "policy", wc, "capacity",
		"blocks", "bytes", "block_hit", "token_hit", "evictions");
	for (size_t i = 0; i < n; i++) {
		const struct kv_cache_stats *s = &res[i].st;
		int inf = jobs[i].capacity_blocks == KV_CAPACITY_INF;

		fprintf(f, "%-*s %-*s %14s %12s %10.4f %10.4f %14s\n", wp, jobs[i].policy, wc,
			jobs[i].cap.text,
			inf ? "inf" : fmt_count(jobs[i].capacity_blocks, b1, sizeof(b1)),
			inf ? "inf"
			    : fmt_bytes((double)jobs[i].capacity_blocks * t->block_size * kv_bpt, b2,
					sizeof(b2)),
			report_ratio(s->hit_blocks, s->blocks), report_ratio(s->hit_tokens, s->tokens),
			fmt_count(s->evictions, b3, sizeof(b3)));
	}
}

static void print_csv(FILE *f, const struct sim_args *a, const struct kv_trace *t,
		      uint64_t kv_bpt, const struct cache_job *jobs,
		      const struct cache_job_result *res, size_t n)
{
	fprintf(f, "%s\n", REPORT_CSV_HEADER);
	for (size_t i = 0; i < n; i++) {
		struct report_row row = {t->path, jobs[i].policy, jobs[i].cap.text,
					 jobs[i].capacity_blocks, res[i].st, a->ca.hit_rule,
					 t->block_size, kv_bpt};
		report_csv_row(f, &row);
	}
}

/* Writes DIR/summary.json and DIR/results.csv, each atomically. */
static int write_out_dir(const char *dir, json_t *summary, const struct sim_args *a,
			 const struct kv_trace *t, uint64_t kv_bpt, const struct cache_job *jobs,
			 const struct cache_job_result *res, size_t n)
{
	struct kv_err err = {{0}};
	struct kv_outfile of;
	char path[4096];
	int rc;

	if ((rc = make_dirs(dir, &err)))
		goto fail;
	snprintf(path, sizeof(path), "%s/results.csv", dir);
	if ((rc = outfile_open(&of, path, &err)))
		goto fail;
	print_csv(of.f, a, t, kv_bpt, jobs, res, n);
	if ((rc = outfile_commit(&of, &err)))
		goto fail;
	snprintf(path, sizeof(path), "%s/summary.json", dir);
	if ((rc = outfile_open(&of, path, &err)))
		goto fail;
	json_dumpf(summary, of.f, JSON_INDENT(2) | JSON_REAL_PRECISION(10));
	fputc('\n', of.f);
	if ((rc = outfile_commit(&of, &err)))
		goto fail;
	return KV_OK;
fail:
	fprintf(stderr, "kvsim sim: --out: %s\n", err.msg);
	return rc;
}

static int sim_main(int argc, char **argv)
{
	struct sim_args a = {.ca = {.policies = "lru", .capacities = "1%,5%,10%,25%,50%,inf",
				    .model = "qwen2.5-7b", .threads = 1}};
	struct kv_trace *t = NULL;
	struct cache_job *jobs = NULL;
	struct cache_job_result *res = NULL;
	struct kv_ceiling ceil;
	struct cache_sweep_opts so;
	json_t *summary = NULL;
	uint64_t kv_bpt;
	size_t n = 0;
	double t0;
	int rc;

	if (sim_timed_wanted(argc, argv))
		return sim_timed_main(argc, argv);
	if ((rc = parse_args(argc, argv, &a)))
		return rc;
	if (kv_bytes_per_token_arg(a.ca.model, a.ca.kv_bpt_override, &kv_bpt, "sim"))
		return KV_EINPUT;
	if ((rc = check_policies("sim", a.ca.policies)) ||
	    (rc = check_capacities("sim", a.ca.capacities)))
		return rc;
	t0 = kv_now_s();
	if ((rc = trace_args_load(&a.ta, &t)))
		return rc;
	t0 = kv_now_s() - t0;
	if ((rc = build_jobs(&a, t, kv_bpt, &jobs, &n)))
		goto out;
	res = calloc(n, sizeof(*res));
	if (!res || cache_ceiling(t, a.ca.hit_rule, &ceil)) {
		fprintf(stderr, "kvsim sim: out of memory\n");
		rc = KV_ERUNTIME;
		goto out;
	}
	so = (struct cache_sweep_opts){a.ca.hit_rule, a.ca.threads, stderr_is_tty() && n > 1};
	if ((rc = cache_sweep_run(t, jobs, n, &so, res))) {
		for (size_t i = 0; i < n; i++)
			if (res[i].rc) {
				fprintf(stderr, "kvsim sim: %s at %s: %s\n", jobs[i].policy,
					jobs[i].cap.text, res[i].err.msg);
				break;
			}
		goto out;
	}
	/* the summary (and the trace checksum it holds) only when someone reads it */
	if (a.ca.out_dir || a.ca.format == KV_OUT_JSON)
		summary = summary_json(&a, t, &ceil, kv_bpt, jobs, res, n, t0);
	if (a.ca.out_dir && (rc = write_out_dir(a.ca.out_dir, summary, &a, t, kv_bpt, jobs, res, n)))
		goto out;
	if (a.ca.format == KV_OUT_CSV) {
		print_csv(stdout, &a, t, kv_bpt, jobs, res, n);
	} else if (a.ca.format == KV_OUT_JSON) {
		json_dumpf(summary, stdout, JSON_INDENT(2) | JSON_REAL_PRECISION(10));
		putchar('\n');
	} else {
		print_text(stdout, &a, t, &ceil, kv_bpt, jobs, res, n);
	}
	if (fflush(stdout) || ferror(stdout)) {
		fprintf(stderr, "kvsim sim: writing the results failed\n");
		rc = KV_ERUNTIME;
	}
out:
	json_decref(summary);
	free(res);
	free(jobs);
	trace_free(t);
	return rc;
}

const struct kv_cmd cmd_sim = {"sim", "cache-mode hit ratios for policies x capacities (default)",
			       sim_main};
