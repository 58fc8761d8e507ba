/*
 * cmd_sim_timed.c - `kvsim sim --timed`: the timed cluster simulation (DESIGN.md section 4)
 * for every router x policy x capacity given, on one parse of the trace.
 *
 * Outputs: a text summary per run (hit ratios total and per instance, TTFT/TPOT/E2E/queue
 * mean and percentiles, throughput, load share), or one CSV row per run (the cache-mode
 * columns of report.h first, then the timed columns), or JSON; --out DIR writes
 * DIR/summary.json and DIR/results.csv; --requests FILE.csv one row per request and run.
 */
#include <inttypes.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "capacity.h"
#include "cmd.h"
#include "cmd_sim_timed.h"
#include "cost.h"
#include "model.h"
#include "outfile.h"
#include "registry.h"
#include "report.h"
#include "route_registry.h"
#include "timed.h"

#define MAX_RUNS 4096 /* routers x policies x capacities */

#define TIMED_CSV_COLUMNS                                                                  \
	"router,instances,rate_scale,ttft_mean_s,ttft_p50_s,ttft_p99_s,tpot_mean_s,tpot_p99_s," \
	"e2e_mean_s,queue_mean_s,throughput_rps,ttft_p90_s,tpot_p50_s,e2e_p50_s,e2e_p99_s,"     \
	"queue_p50_s,queue_p99_s,output_tokens_per_s,completed,preemptions,iterations,"         \
	"sim_span_s,router_view,cost,gpu,model,max_num_seqs,max_num_batched_tokens,sessions"

#define REQUESTS_CSV_HEADER                                                               \
	"row,chat_id,instance,arrival_s,start_s,first_token_s,end_s,input_tokens,hit_tokens," \
	"queue_s,ttft_s,tpot_s,e2e_s,output_tokens,hit_blocks,blocks,preemptions,router,"     \
	"policy,capacity"

struct targs {
	struct trace_args ta;
	struct cache_args ca;
	char *routers;
	const char *gpu, *cost, *requests_csv;
	int approx, closed, preemption;
	uint64_t instances, max_seqs, max_tokens, approx_blocks, seed;
	double rate_scale, begin_s, end_s;
	int have_begin;
};

enum {
	OPT_TIMED = OPT_CACHE_END + 1,
	OPT_INSTANCES,
	OPT_ROUTER,
	OPT_ROUTER_VIEW,
	OPT_APPROX_BLOCKS,
	OPT_GPU,
	OPT_COST,
	OPT_MAX_SEQS,
	OPT_MAX_TOKENS,
	OPT_RATE_SCALE,
	OPT_BEGIN,
	OPT_END,
	OPT_SESSIONS,
	OPT_REQUESTS,
	OPT_PREEMPTION,
	OPT_SEED,
};

/* Options only timed mode has: any of them implies --timed. */
static const char *const timed_only[] = {
	"--timed", "--instances", "--router", "--router-view", "--approx-blocks", "--gpu",
	"--cost", "--max-num-seqs", "--max-num-batched-tokens", "--rate-scale", "--begin",
	"--end", "--sessions", "--requests", "--preemption", "--seed", NULL,
};

int sim_timed_wanted(int argc, char **argv)
{
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--"))
			return 0;
		for (int k = 0; timed_only[k]; k++) {
			size_t n = strlen(timed_only[k]);

			if (!strncmp(argv[i], timed_only[k], n) && (!argv[i][n] || argv[i][n] == '='))
				return 1;
		}
	}
	return 0;
}

static void timed_help(void)
{
	printf(
"usage: kvsim sim --timed [OPTIONS] [TRACE]\n\n"
"Simulates a cluster of serving instances in time (DESIGN.md section 4): arrivals, routing,\n"
"continuous batching with chunked prefill, a KV pool per instance (pinned blocks of running\n"
"requests + cached blocks ordered by the eviction policy), iteration times from a cost\n"
"model. Prints hit ratios and TTFT/TPOT/E2E/queueing for every router x policy x capacity.\n"
"Implied by --instances or any option below except the cache ones.\n\n"
"cluster:\n"
"  --instances N           serving instances (default 1)\n"
"  --router LIST           routing policies, comma-separated, NAME[:key=value,...]\n"
"                          (default rr); known:\n");
	for (int i = 0; route_registry[i]; i++) {
		printf("                            %-14s %s\n", route_registry[i]->name,
		       route_registry[i]->doc);
		if (*route_registry[i]->defaults)
			printf("                            %-14s [%s]\n", "",
			       route_registry[i]->defaults);
	}
	printf(
"  --router-view V         exact (default: routers read the instances' caches) or approx\n"
"                          (a router-side LRU index built from its own decisions only)\n"
"  --approx-blocks N       size of the approx index per instance (default: --capacity)\n"
"  --seed N                seed of the random routers (default 1)\n"
"instances:\n"
"  --gpu NAME              GPU preset for the roofline and the default capacity (default\n"
"                          h200): %s\n"
"  --model NAME            model preset (default qwen2.5-7b): %s\n"
"  --cost SPEC             roofline (default), zero, or linear:base_ms=..,\n"
"                          prefill_ms_per_token=..,decode_ms_per_seq=..,kv_ms_per_token=..\n"
"                          (roofline:key=value overrides %s)\n"
"  --max-num-seqs N        running requests per instance (default 256, at most %u)\n"
"  --max-num-batched-tokens N  tokens per iteration (default 8192; 'inf' for no limit)\n"
"  --preemption            output tokens' KV grows in the pool; when a block cannot be\n"
"                          had, the newest running request is preempted (recompute)\n"
"  -p, --policy LIST       eviction policies (default lru): ",
	       cost_gpu_names(), kv_model_names(), cost_roofline_defaults(), TIMED_MAX_SEQS);
	for (int i = 0; evict_registry[i]; i++)
		printf("%s%s", i ? ", " : "", evict_registry[i]->name);
	printf("\n"
"  -c, --capacity LIST     KV pool per instance, comma-separated, as in cache mode (64GiB,\n"
"                          4096blocks, 1Mtokens, 10%%, inf, N blocks); default: 90%% of the\n"
"                          GPU's memory minus the model's weights\n"
"  --kv-bytes-per-token N  override the model's KV bytes per token\n"
"  --hit-rule R            prefix (default) or vllm\n"
"load:\n"
"  --rate-scale X          compress inter-arrival times by X (default 1)\n"
"  --begin S, --end S      only requests with begin <= timestamp < end (trace seconds);\n"
"                          simulated time 0 is --begin (default: the first request)\n"
"  --sessions M            open (default: trace timestamps) or closed (a child is released\n"
"                          at its parent's completion + its original gap to the parent)\n"
"output:\n"
"  -f, --format F          text (default), csv (one row per run) or json\n"
"  -o, --out DIR           also write DIR/summary.json and DIR/results.csv\n"
"  -j, --jobs N            run the runs on N threads (default 1); output is the same\n"
"  --requests FILE.csv     one row per request and run:\n"
"                          " REQUESTS_CSV_HEADER "\n"
TRACE_OPTIONS_HELP
"\nexamples:\n"
"  kvsim sim --instances 8 --router random,cache-aware,lmetric --rate-scale 4 trace.jsonl\n"
"  kvsim sim --timed --cost zero --max-num-batched-tokens inf --capacity 4096 trace.jsonl\n");
}

static int parse_args(int argc, char **argv, struct targs *a)
{
	static const struct option longopts[] = {
		TRACE_LONG_OPTIONS,
		CACHE_LONG_OPTIONS,
		{"timed", no_argument, NULL, OPT_TIMED},
		{"instances", required_argument, NULL, OPT_INSTANCES},
		{"router", required_argument, NULL, OPT_ROUTER},
		{"router-view", required_argument, NULL, OPT_ROUTER_VIEW},
		{"approx-blocks", required_argument, NULL, OPT_APPROX_BLOCKS},
		{"gpu", required_argument, NULL, OPT_GPU},
		{"cost", required_argument, NULL, OPT_COST},
		{"max-num-seqs", required_argument, NULL, OPT_MAX_SEQS},
		{"max-num-batched-tokens", required_argument, NULL, OPT_MAX_TOKENS},
		{"rate-scale", required_argument, NULL, OPT_RATE_SCALE},
		{"begin", required_argument, NULL, OPT_BEGIN},
		{"end", required_argument, NULL, OPT_END},
		{"sessions", required_argument, NULL, OPT_SESSIONS},
		{"requests", required_argument, NULL, OPT_REQUESTS},
		{"preemption", no_argument, NULL, OPT_PREEMPTION},
		{"seed", required_argument, NULL, OPT_SEED},
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
		switch (opt) {
		case OPT_TIMED:
			break;
		case OPT_INSTANCES:
			if (parse_u64_arg(optarg, 1, 65536, &a->instances))
				return usage_error("sim", "--instances: '%s' is not an integer in "
						   "[1, 65536]", optarg);
			break;
		case OPT_ROUTER:
			a->routers = optarg;
			break;
		case OPT_ROUTER_VIEW:
			if (!strcmp(optarg, "exact"))
				a->approx = 0;
			else if (!strcmp(optarg, "approx"))
				a->approx = 1;
			else
				return usage_error("sim", "--router-view: '%s' is not exact or approx",
						   optarg);
			break;
		case OPT_APPROX_BLOCKS:
			if (parse_u64_arg(optarg, 1, UINT32_MAX, &a->approx_blocks))
				return usage_error("sim", "--approx-blocks: '%s' is not a positive "
						   "integer", optarg);
			break;
		case OPT_GPU:
			a->gpu = optarg;
			break;
		case OPT_COST:
			a->cost = optarg;
			break;
		case OPT_MAX_SEQS:
			if (parse_u64_arg(optarg, 1, TIMED_MAX_SEQS, &a->max_seqs))
				return usage_error("sim", "--max-num-seqs: '%s' is not an integer in "
						   "[1, %u]", optarg, TIMED_MAX_SEQS);
			break;
		case OPT_MAX_TOKENS:
			if (!strcmp(optarg, "inf"))
				a->max_tokens = UINT64_MAX;
			else if (parse_u64_arg(optarg, 1, UINT64_MAX / 2, &a->max_tokens))
				return usage_error("sim", "--max-num-batched-tokens: '%s' is not a "
						   "positive integer or inf", optarg);
			break;
		case OPT_RATE_SCALE:
			if (parse_double_arg(optarg, 1e-9, 1e9, &a->rate_scale))
				return usage_error("sim", "--rate-scale: '%s' is not a positive number",
						   optarg);
			break;
		case OPT_BEGIN:
			if (parse_double_arg(optarg, -1e300, 1e300, &a->begin_s))
				return usage_error("sim", "--begin: '%s' is not a number", optarg);
			a->have_begin = 1;
			break;
		case OPT_END:
			if (parse_double_arg(optarg, -1e300, 1e300, &a->end_s))
				return usage_error("sim", "--end: '%s' is not a number", optarg);
			break;
		case OPT_SESSIONS:
			if (!strcmp(optarg, "open"))
				a->closed = 0;
			else if (!strcmp(optarg, "closed"))
				a->closed = 1;
			else
				return usage_error("sim", "--sessions: '%s' is not open or closed",
						   optarg);
			break;
		case OPT_REQUESTS:
			a->requests_csv = optarg;
			break;
		case OPT_PREEMPTION:
			a->preemption = 1;
			break;
		case OPT_SEED:
			if (parse_u64_arg(optarg, 0, UINT64_MAX, &a->seed))
				return usage_error("sim", "--seed: '%s' is not a non-negative integer",
						   optarg);
			break;
		case 'h':
			timed_help();
			exit(0);
		default:
			return usage_error("sim", "unknown option");
		}
	}
	if (trace_args_positional(&a->ta, argc, argv, "sim"))
		return KV_EINPUT;
	if (a->have_begin && a->end_s <= a->begin_s)
		return usage_error("sim", "--end must be after --begin");
	return KV_OK;
}

/* A router of the list, created and destroyed (its parameters checked) before any trace is
 * loaded. */
static int router_ok(const char *cmd, const char *item, void *ctx)
{
	const struct targs *a = ctx;
	const struct route_ops *ops;
	struct kv_params params;
	struct kv_err err;
	void *state;
	int rc;

	if (!(rc = route_resolve(item, &ops, &params, &err)) &&
	    !(rc = ops->create(&state, &params, (uint32_t)a->instances, a->seed, &err)))
		ops->destroy(state);
	return rc ? usage_error(cmd, "--router %s: %s", item, err.msg) : 0;
}

/* The first request arriving at or after x. O(log requests): arrivals are sorted. */
static size_t first_arrival_from(const struct kv_trace *t, double x)
{
	size_t lo = 0, hi = t->nreq;

	while (lo < hi) {
		size_t m = lo + (hi - lo) / 2;

		if (t->req[m].ts_s < x)
			lo = m + 1;
		else
			hi = m;
	}
	return lo;
}

/* Requests arriving in [begin, end). */
static size_t window_count(const struct kv_trace *t, double begin, double end)
{
	size_t a = first_arrival_from(t, begin), b = first_arrival_from(t, end);

	return b > a ? b - a : 0;
}

/* One run: a router, a policy and a capacity. */
struct trun {
	const struct route_ops *route;
	struct kv_params route_params;
	char router[256];
	const struct evict_ops *evict;
	struct kv_params evict_params;
	char policy[256];
	struct kv_capacity cap;
	uint64_t capacity_blocks;
	struct timed_config cfg;
	struct timed_result res;
	struct timed_summary sum;
	int rc;
	struct kv_err err;
};

/* Runs are independent (own instances and router over the shared read-only trace and
 * cost model): -j N runs them on N threads; results stay in run order. */
struct run_pool {
	const struct kv_trace *t;
	struct trun *runs;
	size_t n;
	atomic_size_t next, done;
	int progress;
};

static void *run_worker(void *arg)
{
	struct run_pool *p = arg;
	size_t i;

	while ((i = atomic_fetch_add(&p->next, 1)) < p->n) {
		struct trun *r = &p->runs[i];

		r->rc = timed_run(p->t, &r->cfg, &r->res, &r->err);
		if (!r->rc && (r->rc = timed_summarize(&r->res, p->t, &r->sum)))
			snprintf(r->err.msg, sizeof(r->err.msg), "out of memory");
		if (p->progress)
			fprintf(stderr, "\rkvsim: %zu/%zu runs done", atomic_fetch_add(&p->done, 1) + 1,
				p->n);
	}
	return NULL;
}

static void run_all(const struct kv_trace *t, struct trun *runs, size_t n, int threads)
{
	struct run_pool p = {.t = t, .runs = runs, .n = n, .progress = stderr_is_tty() && n > 1};
	pthread_t tid[64];
	int started = 0;

	atomic_init(&p.next, 0);
	atomic_init(&p.done, 0);
	if ((size_t)threads > n)
		threads = (int)n;
	for (int i = 1; i < threads && i < 64; i++)
		if (!pthread_create(&tid[started], NULL, run_worker, &p))
			started++;
	run_worker(&p);
	for (int i = 0; i < started; i++)
		pthread_join(tid[i], NULL);
	if (p.progress)
		fputc('\n', stderr);
}

/* Default capacity per instance: 90% of the GPU's memory (vLLM's default
 * gpu_memory_utilization) minus the model's weights, in blocks. */
static int default_capacity(const struct targs *a, const struct kv_trace *t, uint64_t kv_bpt,
			    struct kv_capacity *cap, uint64_t *blocks)
{
	const struct kv_gpu *g = cost_gpu_find(a->gpu);
	double free_b = g ? 0.9 * g->mem_bytes - cost_model_weight_bytes(a->ca.model) : 0;
	double b = free_b / ((double)kv_bpt * t->block_size);

	if (!(b >= 1))
		return usage_error("sim", "the model does not fit on the GPU; give --capacity");
	*blocks = (uint64_t)b;
	memset(cap, 0, sizeof(*cap));
	snprintf(cap->text, sizeof(cap->text), "gpu:%s", a->gpu);
	cap->unit = KV_CAP_BLOCKS;
	cap->amount = (double)*blocks;
	return 0;
}

static int build_runs(struct targs *a, const struct kv_trace *t, uint64_t kv_bpt,
		      struct trun **out, size_t *nout)
{
	char *rbuf = strdup(a->routers), *pbuf = strdup(a->ca.policies);
	char *cbuf = a->ca.capacities ? strdup(a->ca.capacities) : NULL;
	int maxr = kv_specs_bound(a->routers), maxp = kv_specs_bound(a->ca.policies);
	int maxc = a->ca.capacities ? kv_specs_bound(a->ca.capacities) : 1;
	char **rs = calloc((size_t)maxr, sizeof(*rs)), **ps = calloc((size_t)maxp, sizeof(*ps));
	char **cs = calloc((size_t)maxc, sizeof(*cs));
	int nr, np, nc = 1, rc = KV_OK;
	struct trun *runs = NULL;
	struct kv_err err = {{0}};
	size_t n = 0;

	if (!rbuf || !pbuf || (a->ca.capacities && !cbuf) || !rs || !ps || !cs) {
		rc = KV_ERUNTIME;
		goto out;
	}
	nr = kv_split_specs(rbuf, rs, maxr);
	np = kv_split_specs(pbuf, ps, maxp);
	if (cbuf)
		nc = kv_split_specs(cbuf, cs, maxc);
	if (nr <= 0 || np <= 0 || nc <= 0) {
		rc = usage_error("sim", "give at least one router, policy and capacity");
		goto out;
	}
	if ((uint64_t)nr * (uint64_t)np * (uint64_t)nc > MAX_RUNS) {
		rc = usage_error("sim", "%d routers x %d policies x %d capacities is more than %d "
				 "timed runs", nr, np, nc, MAX_RUNS);
		goto out;
	}
	runs = calloc((size_t)(nr * np * nc), sizeof(*runs));
	if (!runs) {
		rc = KV_ERUNTIME;
		goto out;
	}
	for (int i = 0; i < nr; i++)
		for (int j = 0; j < np; j++)
			for (int k = 0; k < nc; k++) {
				struct trun *r = &runs[n++];

				if ((rc = route_resolve(rs[i], &r->route, &r->route_params, &err))) {
					fprintf(stderr, "kvsim sim: --router: %s\n", err.msg);
					goto out;
				}
				kv_params_format(&r->route_params, r->router, sizeof(r->router));
				if ((rc = evict_resolve(ps[j], &r->evict, &r->evict_params, &err))) {
					fprintf(stderr, "kvsim sim: --policy: %s\n", err.msg);
					goto out;
				}
				kv_params_format(&r->evict_params, r->policy, sizeof(r->policy));
				if (!cbuf) {
					if ((rc = default_capacity(a, t, kv_bpt, &r->cap,
								   &r->capacity_blocks)))
						goto out;
				} else if ((rc = kv_capacity_parse(cs[k], &r->cap, &err)) ||
					   (rc = kv_capacity_blocks(&r->cap, t->block_size, kv_bpt,
								    t->nnodes, &r->capacity_blocks,
								    &err))) {
					fprintf(stderr, "kvsim sim: --capacity: %s\n", err.msg);
					goto out;
				}
			}
out:
	free(rs);
	free(ps);
	free(cs);
	free(rbuf);
	free(pbuf);
	free(cbuf);
	if (rc) {
		free(runs);
		return rc;
	}
	*out = runs;
	*nout = n;
	return KV_OK;
}

static struct report_row core_row(const struct targs *a, const struct kv_trace *t,
				  uint64_t kv_bpt, const struct trun *r)
{
	return (struct report_row){t->path, r->policy, r->cap.text, r->capacity_blocks,
				   r->res.st, a->ca.hit_rule, t->block_size, kv_bpt};
}

/* One CSV row: the core columns (report.h), then TIMED_CSV_COLUMNS. */
static int print_csv_row(FILE *f, const struct targs *a, const struct kv_trace *t,
			 uint64_t kv_bpt, const struct trun *r)
{
	struct report_row row = core_row(a, t, kv_bpt, r);
	const struct timed_summary *s = &r->sum;
	char *buf = NULL;
	size_t len = 0;
	FILE *m = open_memstream(&buf, &len);

	if (!m)
		return KV_ERUNTIME;
	report_csv_row(m, &row);
	fclose(m);
	if (len && buf[len - 1] == '\n')
		buf[--len] = 0;
	fprintf(f, "%s,", buf);
	csv_str(f, r->router);
	fprintf(f, ",%" PRIu64 ",%g,%.6f,%.6f,%.6f,%.6f,%.6f,%.6f,%.6f,%.6f,%.6f,%.6f,%.6f,"
		   "%.6f,%.6f,%.6f,%.3f,%" PRIu64 ",%" PRIu64 ",%" PRIu64 ",%.6f,%s,",
		a->instances, a->rate_scale, s->ttft.mean, s->ttft.p50, s->ttft.p99,
		s->tpot.mean, s->tpot.p99, s->e2e.mean, s->queue.mean, s->throughput_rps,
		s->ttft.p90, s->tpot.p50, s->e2e.p50, s->e2e.p99, s->queue.p50, s->queue.p99,
		s->output_tps, r->res.completed, r->res.preemptions, r->res.iterations,
		r->res.last_end_s - r->res.first_arrival_s, a->approx ? "approx" : "exact");
	csv_str(f, a->cost);
	fputc(',', f);
	csv_str(f, a->gpu);
	fputc(',', f);
	csv_str(f, a->ca.kv_bpt_override ? "custom" : a->ca.model);
	fprintf(f, ",%" PRIu64 ",", a->max_seqs);
	if (a->max_tokens == UINT64_MAX)
		fputs("inf", f);
	else
		fprintf(f, "%" PRIu64, a->max_tokens);
	fprintf(f, ",%s\n", a->closed ? "closed" : "open");
	free(buf);
	return KV_OK;
}

static void print_csv(FILE *f, const struct targs *a, const struct kv_trace *t,
		      uint64_t kv_bpt, const struct trun *runs, size_t n)
{
	fprintf(f, "%s,%s\n", REPORT_CSV_HEADER, TIMED_CSV_COLUMNS);
	for (size_t i = 0; i < n; i++)
		print_csv_row(f, a, t, kv_bpt, &runs[i]);
}

static json_t *dist_json(const struct timed_dist *d)
{
	return json_pack("{s:f, s:f, s:f, s:f, s:I}", "mean", d->mean, "p50", d->p50, "p90",
			 d->p90, "p99", d->p99, "n", (json_int_t)d->n);
}

static json_t *run_json(const struct targs *a, const struct kv_trace *t, uint64_t kv_bpt,
			const struct trun *r)
{
	struct report_row row = core_row(a, t, kv_bpt, r);
	json_t *o = report_json_row(&row), *inst = json_array();
	const struct timed_summary *s = &r->sum;

	for (uint32_t i = 0; i < r->res.ninst; i++) {
		const struct timed_inst_stats *x = &r->res.inst[i];

		json_array_append_new(
			inst, json_pack("{s:i, s:I, s:f, s:I, s:I, s:f, s:f, s:I, s:I, s:f}",
					"instance", (int)i, "requests", (json_int_t)x->st.requests,
					"load_share",
					report_ratio(x->routed, r->res.nreq), "hit_blocks",
					(json_int_t)x->st.hit_blocks, "blocks",
					(json_int_t)x->st.blocks, "block_hit_ratio",
					report_ratio(x->st.hit_blocks, x->st.blocks),
					"token_hit_ratio",
					report_ratio(x->st.hit_tokens, x->st.tokens), "evictions",
					(json_int_t)x->st.evictions, "iterations",
					(json_int_t)x->iterations, "busy_s", x->busy_s));
	}
	json_object_set_new(o, "router", json_string(r->router));
	json_object_set_new(o, "instances", json_integer((json_int_t)a->instances));
	json_object_set_new(o, "rate_scale", json_real(a->rate_scale));
	json_object_set_new(o, "ttft_s", dist_json(&s->ttft));
	json_object_set_new(o, "tpot_s", dist_json(&s->tpot));
	json_object_set_new(o, "e2e_s", dist_json(&s->e2e));
	json_object_set_new(o, "queue_s", dist_json(&s->queue));
	json_object_set_new(o, "throughput_rps", json_real(s->throughput_rps));
	json_object_set_new(o, "output_tokens_per_s", json_real(s->output_tps));
	json_object_set_new(o, "completed", json_integer((json_int_t)r->res.completed));
	json_object_set_new(o, "preemptions", json_integer((json_int_t)r->res.preemptions));
	json_object_set_new(o, "iterations", json_integer((json_int_t)r->res.iterations));
	json_object_set_new(o, "events", json_integer((json_int_t)r->res.events));
	json_object_set_new(o, "sim_span_s",
			    json_real(r->res.last_end_s - r->res.first_arrival_s));
	json_object_set_new(o, "per_instance", inst);
	return o;
}

static json_t *summary_json(const struct targs *a, const struct kv_trace *t,
			    const struct kv_ceiling *ceil, uint64_t kv_bpt,
			    const struct trun *runs, size_t n, double load_s)
{
	json_t *rows = json_array(), *timing = json_array();
	double sim_s = 0;

	for (size_t i = 0; i < n; i++) {
		json_array_append_new(rows, run_json(a, t, kv_bpt, &runs[i]));
		json_array_append_new(timing, json_pack("{s:f, s:I, s:f}", "wall_s",
							runs[i].res.wall_s, "events",
							(json_int_t)runs[i].res.events,
							"events_per_s",
							runs[i].res.wall_s > 0
								? runs[i].res.events / runs[i].res.wall_s
								: 0.0));
		sim_s += runs[i].res.wall_s;
	}
	return json_pack(
		"{s:s, s:s, s:s, s:{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:I, s:s, s:I, s:I, s:o, "
		"s:f, s:f, s:f, s:s, s:b, s:I}, s:o, s:o, s:{s:f, s:f, s:o}}",
		"kvsim_version", KVSIM_VERSION, "command", "sim", "mode", "timed", "config",
		"router", a->routers, "router_view", a->approx ? "approx" : "exact", "policy",
		a->ca.policies, "capacity", a->ca.capacities ? a->ca.capacities : "gpu", "hit_rule",
		cache_hit_rule_name(a->ca.hit_rule), "model", a->ca.kv_bpt_override ? "custom" : a->ca.model,
		"gpu", a->gpu, "kv_bytes_per_token", (json_int_t)kv_bpt, "cost", a->cost,
		"instances", (json_int_t)a->instances, "max_num_seqs", (json_int_t)a->max_seqs,
		"max_num_batched_tokens", a->max_tokens == UINT64_MAX
						    ? json_string("inf")
						    : json_integer((json_int_t)a->max_tokens),
		"rate_scale", a->rate_scale, "begin_s", a->begin_s, "end_s",
		isinf(a->end_s) ? -1.0 : a->end_s, "sessions", a->closed ? "closed" : "open",
		"preemption", a->preemption, "seed", (json_int_t)a->seed, "trace",
		report_json_trace(t, ceil), "results", rows, "timing", "load_s", load_s, "sim_s",
		sim_s, "run", timing);
}

static void print_dist(FILE *f, const char *name, const struct timed_dist *d)
{
	fprintf(f, "  %-8s %10.4f %10.4f %10.4f %10.4f\n", name, d->mean, d->p50, d->p90, d->p99);
}

static void print_text(FILE *f, const struct targs *a, const struct kv_trace *t,
		       const struct kv_ceiling *ceil, uint64_t kv_bpt, const struct trun *runs,
		       size_t n)
{
	char b1[32], b2[32], b3[32];

	fprintf(f, "trace     %s\n", t->path);
	fprintf(f, "          %s, %u tokens/block, %s requests, %s distinct chain nodes; "
		   "ceiling block hit ratio %.4f\n",
		trace_format_name(t->format), t->block_size, fmt_count(t->nreq, b1, sizeof(b1)),
		fmt_count(t->nnodes, b2, sizeof(b2)), report_ratio(ceil->hit_blocks, ceil->blocks));
	fprintf(f, "cluster   %" PRIu64 " instances, max %" PRIu64 " seqs, ", a->instances,
		a->max_seqs);
	if (a->max_tokens == UINT64_MAX)
		fprintf(f, "no token limit");
	else
		fprintf(f, "%" PRIu64 " tokens per iteration", a->max_tokens);
	fprintf(f, "; cost %s on %s, model %s (%" PRIu64 " KV B/token); rate x%g, sessions %s%s\n",
		a->cost, a->gpu, a->ca.kv_bpt_override ? "custom" : a->ca.model, kv_bpt, a->rate_scale,
		a->closed ? "closed" : "open", a->preemption ? ", preemption" : "");
	for (size_t i = 0; i < n; i++) {
		const struct trun *r = &runs[i];
		const struct kv_cache_stats *s = &r->res.st;
		int inf = r->capacity_blocks == KV_CAPACITY_INF;

		fprintf(f, "\nrun %zu/%zu  router %s (%s view), policy %s, capacity %s = %s blocks "
			   "per instance\n", i + 1, n, r->router, a->approx ? "approx" : "exact",
			r->policy, r->cap.text,
			inf ? "inf" : fmt_count(r->capacity_blocks, b1, sizeof(b1)));
		fprintf(f, "  hits     block %.4f  token %.4f  (%s requests, %s evictions)\n",
			report_ratio(s->hit_blocks, s->blocks), report_ratio(s->hit_tokens, s->tokens),
			fmt_count(s->requests, b2, sizeof(b2)),
			fmt_count(s->evictions, b3, sizeof(b3)));
		fprintf(f, "  per instance: block hit ratio / load share\n   ");
		for (uint32_t k = 0; k < r->res.ninst; k++)
			fprintf(f, " %u:%.3f/%.3f", k,
				report_ratio(r->res.inst[k].st.hit_blocks, r->res.inst[k].st.blocks),
				report_ratio(r->res.inst[k].routed, r->res.nreq));
		fprintf(f, "\n  %-8s %10s %10s %10s %10s   (seconds)\n", "", "mean", "p50", "p90",
			"p99");
		print_dist(f, "ttft", &r->sum.ttft);
		print_dist(f, "tpot", &r->sum.tpot);
		print_dist(f, "e2e", &r->sum.e2e);
		print_dist(f, "queue", &r->sum.queue);
		fprintf(f, "  throughput %.3f req/s, %.1f output tokens/s over %.1f s simulated; "
			   "%" PRIu64 " preemptions\n",
			r->sum.throughput_rps, r->sum.output_tps,
			r->res.last_end_s - r->res.first_arrival_s, r->res.preemptions);
		fprintf(f, "  engine   %s events, %s iterations\n",
			fmt_count(r->res.events, b1, sizeof(b1)),
			fmt_count(r->res.iterations, b2, sizeof(b2)));
	}
}

/* Wall-clock figures go to stderr (and the "timing" part of summary.json), so that stdout
 * is the same bytes for the same input. */
static void print_timing(const struct trun *runs, size_t n)
{
	char b1[32];

	for (size_t i = 0; i < n; i++)
		fprintf(stderr, "kvsim: run %zu/%zu (%s, %s, %s): %s events in %.3f s wall "
			"(%.0f events/s)\n", i + 1, n, runs[i].router, runs[i].policy,
			runs[i].cap.text, fmt_count(runs[i].res.events, b1, sizeof(b1)),
			runs[i].res.wall_s,
			runs[i].res.wall_s > 0 ? runs[i].res.events / runs[i].res.wall_s : 0.0);
}

static void csv_time(FILE *f, double v)
{
	if (v < 0)
		fputs(",", f);
	else
		fprintf(f, ",%.6f", v);
}

static int write_requests(const char *path, const struct kv_trace *t, const struct trun *runs,
			  size_t n)
{
	struct kv_err err = {{0}};
	struct kv_outfile of;
	int rc;

	if ((rc = outfile_open(&of, path, &err))) {
		fprintf(stderr, "kvsim sim: --requests: %s\n", err.msg);
		return rc;
	}
	fprintf(of.f, "%s\n", REQUESTS_CSV_HEADER);
	for (size_t i = 0; i < n; i++)
		for (size_t k = 0; k < runs[i].res.nreq; k++) {
			const struct timed_req *x = &runs[i].res.req[k];
			const struct kv_request *q = &t->req[x->row];
			int done = x->end_s >= 0;

			fprintf(of.f, "%u,%" PRId64 ",%d", x->row, q->chat_id, x->instance);
			csv_time(of.f, x->arrival_s);
			csv_time(of.f, x->start_s);
			csv_time(of.f, x->first_token_s);
			csv_time(of.f, x->end_s);
			fprintf(of.f, ",%u,%" PRIu64, q->input_tokens, x->hit_tokens);
			csv_time(of.f, done ? x->start_s - x->arrival_s : -1);
			csv_time(of.f, done ? x->first_token_s - x->arrival_s : -1);
			/* TPOT is undefined for one output token: empty, as the summary skips it */
			csv_time(of.f, done && q->output_tokens > 1
					       ? (x->end_s - x->first_token_s) / (q->output_tokens - 1)
					       : -1);
			csv_time(of.f, done ? x->end_s - x->arrival_s : -1);
			fprintf(of.f, ",%u,%u,%u,%u,", q->output_tokens, x->hit_blocks,
				q->nblocks, x->preemptions);
			csv_str(of.f, runs[i].router);
			fputc(',', of.f);
			csv_str(of.f, runs[i].policy);
			fputc(',', of.f);
			csv_str(of.f, runs[i].cap.text);
			fputc('\n', of.f);
		}
	if ((rc = outfile_commit(&of, &err)))
		fprintf(stderr, "kvsim sim: --requests: %s\n", err.msg);
	return rc;
}

static int write_out_dir(const char *dir, json_t *summary, const struct targs *a,
			 const struct kv_trace *t, uint64_t kv_bpt, const struct trun *runs,
			 size_t n)
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
	print_csv(of.f, a, t, kv_bpt, runs, n);
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

int sim_timed_main(int argc, char **argv)
{
	struct targs a = {.ca = {.policies = "lru", .model = "qwen2.5-7b", .threads = 1},
			  .routers = "rr",
			  .gpu = "h200", .cost = "roofline", .instances = 1, .max_seqs = 256,
			  .max_tokens = 8192, .rate_scale = 1, .end_s = INFINITY, .seed = 1};
	struct kv_trace *t = NULL;
	struct kv_cost *cost = NULL;
	struct trun *runs = NULL;
	struct kv_ceiling ceil;
	struct kv_err err = {{0}};
	json_t *summary = NULL;
	uint64_t kv_bpt;
	size_t n = 0;
	double t0;
	int rc;

	if ((rc = parse_args(argc, argv, &a)))
		return rc;
	if (kv_bytes_per_token_arg(a.ca.model, a.ca.kv_bpt_override, &kv_bpt, "sim"))
		return KV_EINPUT;
	if (!cost_gpu_find(a.gpu))
		return usage_error("sim", "unknown --gpu '%s' (known: %s)", a.gpu,
				   cost_gpu_names());
	if ((rc = cost_create(&cost, a.cost, a.gpu, a.ca.model, &err))) {
		fprintf(stderr, "kvsim sim: --cost: %s\n", err.msg);
		return rc;
	}
	if ((rc = check_policies("sim", a.ca.policies)) ||
	    (rc = each_spec("sim", a.routers, router_ok, &a)) ||
	    (a.ca.capacities && (rc = check_capacities("sim", a.ca.capacities))))
		goto out;
	t0 = kv_now_s();
	if ((rc = trace_args_load(&a.ta, &t)))
		goto out;
	t0 = kv_now_s() - t0;
	if (!a.have_begin)
		a.begin_s = t->nreq ? t->req[0].ts_s : 0;
	if (t->nreq && !window_count(t, a.begin_s, a.end_s)) {
		fprintf(stderr, "kvsim sim: --begin/--end select no request: the trace's requests "
			"arrive from %.3f to %.3f s\n", t->req[0].ts_s, t->req[t->nreq - 1].ts_s);
		rc = KV_EINPUT;
		goto out;
	}
	if ((rc = build_runs(&a, t, kv_bpt, &runs, &n)))
		goto out;
	if (cache_ceiling(t, a.ca.hit_rule, &ceil)) {
		rc = KV_ERUNTIME;
		fprintf(stderr, "kvsim sim: out of memory\n");
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		struct trun *r = &runs[i];

		r->cfg = (struct timed_config){
			.instances = (uint32_t)a.instances,
			.max_num_seqs = (uint32_t)a.max_seqs,
			.max_batched_tokens = a.max_tokens,
			.capacity_blocks = r->capacity_blocks,
			.evict = r->evict,
			.evict_params = &r->evict_params,
			.hit_rule = a.ca.hit_rule,
			.cost = cost,
			.route = r->route,
			.route_params = &r->route_params,
			.approx_view = a.approx,
			.approx_blocks = a.approx_blocks,
			.rate_scale = a.rate_scale,
			.begin_s = a.begin_s,
			.end_s = a.end_s,
			.closed = a.closed,
			.preemption = a.preemption,
			.seed = a.seed,
		};
	}
	run_all(t, runs, n, a.ca.threads);
	for (size_t i = 0; i < n; i++)
		if ((rc = runs[i].rc)) {
			fprintf(stderr, "kvsim sim: %s / %s / %s: %s\n", runs[i].router,
				runs[i].policy, runs[i].cap.text, runs[i].err.msg);
			goto out;
		}
	summary = summary_json(&a, t, &ceil, kv_bpt, runs, n, t0);
	if (a.ca.out_dir && (rc = write_out_dir(a.ca.out_dir, summary, &a, t, kv_bpt, runs, n)))
		goto out;
	if (a.requests_csv && (rc = write_requests(a.requests_csv, t, runs, n)))
		goto out;
	if (a.ca.format == KV_OUT_CSV) {
		print_csv(stdout, &a, t, kv_bpt, runs, n);
	} else if (a.ca.format == KV_OUT_JSON) {
		json_dumpf(summary, stdout, JSON_INDENT(2) | JSON_REAL_PRECISION(10));
		putchar('\n');
	} else {
		print_text(stdout, &a, t, &ceil, kv_bpt, runs, n);
		fflush(stdout);
		print_timing(runs, n);
	}
	if (fflush(stdout) || ferror(stdout)) {
		fprintf(stderr, "kvsim sim: writing the results failed\n");
		rc = KV_ERUNTIME;
	}
out:
	json_decref(summary);
	for (size_t i = 0; i < n; i++)
		timed_result_free(&runs[i].res);
	free(runs);
	cost_destroy(cost);
	trace_free(t);
	return rc;
}
