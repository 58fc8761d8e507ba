/*
 * cmd_sweep.c - `kvsim sweep plan|run|merge`: sweeps beyond one process.
 *
 * plan writes the cross product of the given axes as a TSV plan (sim/sweep/plan.h); run
 * executes a plan's jobs as child processes of this same binary with resumable atomic results
 * (sim/sweep/runner.h), so Slurm array tasks and GNU parallel can each run `--only i`; merge
 * gathers the results into one CSV table in plan order (sim/sweep/merge.h).
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cmd.h"
#include "merge.h"
#include "outfile.h"
#include "plan.h"
#include "registry.h"
#include "runner.h"

#define MAX_AXIS 4096

/* A growing list of strings (owned). */
struct strv {
	char **v;
	size_t n, cap;
};

static int strv_add(struct strv *s, const char *x)
{
	if (s->n == s->cap) {
		size_t cap = s->cap ? s->cap * 2 : 16;
		char **v = realloc(s->v, cap * sizeof(*v));
		if (!v)
			return -1;
		s->v = v, s->cap = cap;
	}
	return (s->v[s->n] = strdup(x)) ? (s->n++, 0) : -1;
}

static void strv_free(struct strv *s)
{
	for (size_t i = 0; i < s->n; i++)
		free(s->v[i]);
	free(s->v);
}

/* Reads a whole stream (caller frees); NULL on failure. */
static char *read_all(FILE *f, size_t *len)
{
	size_t cap = 65536, n = 0, r;
	char *buf = malloc(cap), *nb;

	while (buf && (r = fread(buf + n, 1, cap - n, f)) > 0) {
		n += r;
		if (n == cap) {
			nb = realloc(buf, cap *= 2);
			if (!nb)
				free(buf);
			buf = nb;
		}
	}
	if (buf && ferror(f)) {
		free(buf);
		buf = NULL;
	}
	*len = n;
	return buf;
}

/* Appends the items of a comma-separated list (spec-aware, see kv_split_specs). */
static int add_list(struct strv *s, const char *list, const char *opt)
{
	char *buf = strdup(list), *items[MAX_AXIS];
	int n = buf ? kv_split_specs(buf, items, MAX_AXIS) : -1;
	int rc = 0;

	if (n <= 0)
		rc = usage_error("sweep plan", "%s: give 1 to %d comma-separated values", opt,
				 MAX_AXIS);
	for (int i = 0; !rc && i < n; i++)
		if (!*items[i])
			rc = usage_error("sweep plan", "%s: an empty value in '%s'", opt, list);
		else if (strv_add(s, items[i]))
			rc = KV_ERUNTIME;
	free(buf);
	return rc;
}

static void plan_help(void)
{
	printf(
"usage: kvsim sweep plan [OPTIONS] [TRACE...] [-- SIM_OPTION...]\n\n"
"Writes the cross product traces x policies x capacities (x routers x instances x rate\n"
"scales) as a plan: one job per line with a stable job id (from the trace's content\n"
"checksum and the job's options) and the exact kvsim command that runs it.\n\n"
"options:\n"
"  --trace FILE            a trace (repeatable; or as positional arguments); stored as\n"
"                          an absolute path\n"
"  -p, --policy LIST       eviction policies, comma-separated, NAME[:key=value,...]\n"
"  -c, --capacity LIST     capacities, comma-separated (see `kvsim sim --help`)\n"
"  --router LIST           timed jobs: routing policies\n"
"  --instances LIST        timed jobs: instance counts\n"
"  --rate-scale LIST       timed jobs: arrival rate scales\n"
"                          (any of these three makes every job `kvsim sim --timed ...`)\n"
"  --trace-format F, --block-size N, --lenient, --sort\n"
"                          how to read the traces; passed on to every job\n"
"  -o, --out FILE          write the plan to FILE (atomically) instead of stdout\n"
"  -- SIM_OPTION...        further `kvsim sim` options for every job (part of the job id),\n"
"                          e.g. -- --hit-rule vllm --model qwen2.5-7b\n\n"
"Each job runs `kvsim sim --policy P --capacity C --format csv [--timed --router R\n"
"--instances N --rate-scale X] [OPTIONS] TRACE`. Options may be repeated; lists append.\n\n"
"example:\n"
"  kvsim sweep plan --trace a.jsonl --trace b.jsonl -p lru -c 1%%,10%%,inf -o plan.tsv\n");
}

static int plan_main(int argc, char **argv)
{
	enum { O_ROUTER = OPT_COMMON_END + 1, O_INSTANCES, O_RATE, O_HELP };
	static const struct option longopts[] = {
		TRACE_LONG_OPTIONS,
		{"policy", required_argument, NULL, 'p'},
		{"capacity", required_argument, NULL, 'c'},
		{"router", required_argument, NULL, O_ROUTER},
		{"instances", required_argument, NULL, O_INSTANCES},
		{"rate-scale", required_argument, NULL, O_RATE},
		{"out", required_argument, NULL, 'o'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	struct strv traces = {0}, sums = {0}, pols = {0}, caps = {0}, routers = {0}, inst = {0},
		    rates = {0}, base = {0};
	struct kv_load_opts load = {0};
	struct sweep_plan plan = {0};
	struct kv_err err = {{0}};
	struct kv_outfile of;
	const char *out = NULL;
	int opt, rc = KV_OK;
	uint64_t u;
	double d;
	int nopt = argc;

	/* the words after "--" are sim options for every job, not ours */
	for (int i = 1; i < argc; i++)
		if (!strcmp(argv[i], "--")) {
			nopt = i;
			break;
		}
	optind = 1;
	while ((opt = getopt_long(nopt, argv, "p:c:o:h", longopts, NULL)) != -1) {
		switch (opt) {
		case OPT_TRACE:
			if (strv_add(&traces, optarg))
				rc = KV_ERUNTIME;
			break;
		case OPT_TRACE_FORMAT:
			if (trace_format_parse(optarg, &load.format)) {
				rc = usage_error("sweep plan", "--trace-format: '%s' is not auto, "
						 "bailian or mooncake", optarg);
				break;
			}
			if (strv_add(&base, "--trace-format") || strv_add(&base, optarg))
				rc = KV_ERUNTIME;
			break;
		case OPT_BLOCK_SIZE:
			if (parse_u64_arg(optarg, 1, 1u << 20, &u)) {
				rc = usage_error("sweep plan", "--block-size: '%s' is not an integer "
						 "in [1, 1048576]", optarg);
				break;
			}
			load.block_size = (uint32_t)u;
			if (strv_add(&base, "--block-size") || strv_add(&base, optarg))
				rc = KV_ERUNTIME;
			break;
		case OPT_LENIENT:
			load.lenient = 1;
			if (strv_add(&base, "--lenient"))
				rc = KV_ERUNTIME;
			break;
		case OPT_SORT:
			load.sort = 1;
			if (strv_add(&base, "--sort"))
				rc = KV_ERUNTIME;
			break;
		case 'p':
			rc = add_list(&pols, optarg, "--policy");
			break;
		case 'c':
			rc = add_list(&caps, optarg, "--capacity");
			break;
		case O_ROUTER:
			rc = add_list(&routers, optarg, "--router");
			break;
		case O_INSTANCES:
			rc = add_list(&inst, optarg, "--instances");
			break;
		case O_RATE:
			rc = add_list(&rates, optarg, "--rate-scale");
			break;
		case 'o':
			out = optarg;
			break;
		case 'h':
			plan_help();
			rc = -1;
			break;
		default:
			rc = usage_error("sweep plan", "unknown option");
		}
		if (rc)
			goto out;
	}
	for (; !rc && optind < nopt; optind++)
		if (strv_add(&traces, argv[optind]))
			rc = KV_ERUNTIME;
	for (int i = nopt + 1; !rc && i < argc; i++)
		if (strv_add(&base, argv[i]))
			rc = KV_ERUNTIME;
	if (rc)
		goto out;
	if (!traces.n || !pols.n || !caps.n) {
		rc = usage_error("sweep plan", "give at least one trace, --policy and --capacity");
		goto out;
	}
	/* canonical policy specs; capacity, instance and rate syntax checked now, not per job */
	for (size_t i = 0; i < pols.n; i++) {
		const struct evict_ops *ops;
		struct kv_params params;
		char canon[256];

		if (evict_resolve(pols.v[i], &ops, &params, &err) || evict_check(pols.v[i], &err)) {
			rc = usage_error("sweep plan", "--policy: %s", err.msg);
			goto out;
		}
		kv_params_format(&params, canon, sizeof(canon));
		free(pols.v[i]);
		if (!(pols.v[i] = strdup(canon))) {
			rc = KV_ERUNTIME;
			goto out;
		}
	}
	for (size_t i = 0; i < caps.n; i++) {
		struct kv_capacity cap;

		if (kv_capacity_parse(caps.v[i], &cap, &err)) {
			rc = usage_error("sweep plan", "--capacity: %s", err.msg);
			goto out;
		}
	}
	for (size_t i = 0; i < inst.n; i++)
		if (parse_u64_arg(inst.v[i], 1, 1u << 20, &u)) {
			rc = usage_error("sweep plan", "--instances: '%s' is not a positive integer",
					 inst.v[i]);
			goto out;
		}
	for (size_t i = 0; i < rates.n; i++)
		if (parse_double_arg(rates.v[i], 0, 1e9, &d) || d <= 0) {
			rc = usage_error("sweep plan", "--rate-scale: '%s' is not a positive number",
					 rates.v[i]);
			goto out;
		}
	/* absolute trace paths and content checksums */
	for (size_t i = 0; i < traces.n; i++) {
		char abs[PATH_MAX], hex[17];
		struct kv_trace *t = NULL;

		if (!strcmp(traces.v[i], "-")) {
			rc = usage_error("sweep plan", "a sweep cannot read its trace from stdin");
			goto out;
		}
		if ((rc = trace_load(traces.v[i], &load, &t, &err))) {
			fprintf(stderr, "kvsim sweep plan: %s\n", err.msg);
			goto out;
		}
		snprintf(hex, sizeof(hex), "%016llx", (unsigned long long)trace_checksum(t));
		trace_free(t);
		if (!realpath(traces.v[i], abs)) {
			rc = usage_error("sweep plan", "%s: cannot resolve the path", traces.v[i]);
			goto out;
		}
		free(traces.v[i]);
		if (!(traces.v[i] = strdup(abs)) || strv_add(&sums, hex)) {
			rc = KV_ERUNTIME;
			goto out;
		}
	}
	{
		struct sweep_axes ax = {traces.v, traces.n, sums.v, pols.v, pols.n, caps.v, caps.n,
					routers.v, routers.n, inst.v, inst.n, rates.v, rates.n,
					base.v, base.n};

		if ((rc = sweep_plan_build(&ax, &plan, &err))) {
			fprintf(stderr, "kvsim sweep plan: %s\n", err.msg);
			goto out;
		}
	}
	if (out) {
		if ((rc = outfile_open(&of, out, &err)))
			goto fail;
		if ((rc = sweep_plan_write(of.f, &plan, &err))) {
			outfile_abort(&of);
			goto fail;
		}
		if ((rc = outfile_commit(&of, &err)))
			goto fail;
		fprintf(stderr, "kvsim sweep plan: %zu jobs -> %s\n", plan.n, out);
	} else {
		if ((rc = sweep_plan_write(stdout, &plan, &err)))
			goto fail;
		if (fflush(stdout) || ferror(stdout)) {
			rc = kv_fail(&err, KV_ERUNTIME, "writing the plan failed");
			goto fail;
		}
	}
	goto out;
fail:
	fprintf(stderr, "kvsim sweep plan: %s\n", err.msg);
out:
	if (rc == KV_ERUNTIME && !err.msg[0])
		fprintf(stderr, "kvsim sweep plan: out of memory\n");
	sweep_plan_free(&plan);
	strv_free(&traces);
	strv_free(&sums);
	strv_free(&pols);
	strv_free(&caps);
	strv_free(&routers);
	strv_free(&inst);
	strv_free(&rates);
	strv_free(&base);
	return rc < 0 ? 0 : rc;
}

static void run_help(void)
{
	printf(
"usage: kvsim sweep run PLAN [OPTIONS]\n\n"
"Runs the jobs of a plan as child processes of this kvsim binary, N at a time. Job ID\n"
"writes DIR/ID/result.csv (renamed into place only when the job exits 0); a job already\n"
"done is skipped, so a rerun resumes an interrupted sweep; a failed job leaves\n"
"DIR/ID/failed (exit status and stderr) and is retried by the next run.\n\n"
"options:\n"
"  -j, --jobs N            jobs at once (default: the number of CPUs)\n"
"  -r, --results DIR       results folder (default results/sweep); the plan is copied to\n"
"                          DIR/plan.tsv for `kvsim sweep merge`\n"
"  --only LIST             run only these job numbers: 3, or 1-5,9 (Slurm array task i\n"
"                          runs --only i)\n\n"
"exit status: 0 when every selected job is done, 1 when one failed (or the runner\n"
"failed), 2 on bad usage or a bad plan.\n\n"
"examples:\n"
"  kvsim sweep run plan.tsv --jobs 8 --results results/fig3\n"
"  parallel -j 4 kvsim sweep run plan.tsv --results results/fig3 --only {} ::: $(seq 24)\n");
}

/* Copies the plan file to DIR/plan.tsv unless an identical copy is there: many array tasks
 * start at once, often on shared storage, so the copy goes through a temporary name unique to
 * this host and process and is skipped when there is nothing to change. O(plan size). */
static int copy_plan(const char *plan_path, const char *dir, struct kv_err *err)
{
	char dst[4200], tmp[4400], hostname[128] = "host";
	size_t n1, n2;
	char *src = NULL, *cur = NULL;
	FILE *f;
	int rc = KV_OK;

	snprintf(dst, sizeof(dst), "%s/plan.tsv", dir);
	if (!(f = fopen(plan_path, "rb")))
		return kv_fail(err, KV_ERUNTIME, "%s: cannot read", plan_path);
	src = read_all(f, &n1);
	fclose(f);
	if ((f = fopen(dst, "rb"))) {
		cur = read_all(f, &n2);
		fclose(f);
	}
	if (!src) {
		rc = kv_fail(err, KV_ERUNTIME, "%s: cannot read", plan_path);
		goto out;
	}
	if (cur && n1 == n2 && !memcmp(src, cur, n1))
		goto out;
	gethostname(hostname, sizeof(hostname) - 1);
	snprintf(tmp, sizeof(tmp), "%s/.plan.tsv.tmp.%s.%ld", dir, hostname, (long)getpid());
	if (!(f = fopen(tmp, "wb"))) {
		rc = kv_fail(err, KV_ERUNTIME, "%s: cannot write", tmp);
		goto out;
	}
	if ((fwrite(src, 1, n1, f) != n1) | fclose(f) || rename(tmp, dst)) {
		unlink(tmp);
		rc = kv_fail(err, KV_ERUNTIME, "%s: cannot write", dst);
	}
out:
	free(src);
	free(cur);
	return rc;
}

static int run_main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{"jobs", required_argument, NULL, 'j'},
		{"results", required_argument, NULL, 'r'},
		{"only", required_argument, NULL, 'O'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
	struct sweep_run_opts o = {.dir = "results/sweep", .jobs = ncpu > 0 ? (int)ncpu : 1,
				   .exe = "/proc/self/exe"};
	struct sweep_run_stats st;
	struct sweep_plan plan = {0};
	struct kv_err err = {{0}};
	unsigned char *only = NULL;
	const char *only_arg = NULL, *plan_path;
	int opt, rc;
	uint64_t v;

	optind = 1;
	while ((opt = getopt_long(argc, argv, "j:r:h", longopts, NULL)) != -1) {
		switch (opt) {
		case 'j':
			if (parse_u64_arg(optarg, 1, 1024, &v))
				return usage_error("sweep run", "--jobs: '%s' is not an integer in "
						   "[1, 1024]", optarg);
			o.jobs = (int)v;
			break;
		case 'r':
			o.dir = optarg;
			break;
		case 'O':
			only_arg = optarg;
			break;
		case 'h':
			run_help();
			return 0;
		default:
			return usage_error("sweep run", "unknown option");
		}
	}
	if (optind + 1 != argc)
		return usage_error("sweep run", "give exactly one plan file");
	plan_path = argv[optind];
	if ((rc = sweep_plan_read(plan_path, &plan, &err))) {
		fprintf(stderr, "kvsim sweep run: %s\n", err.msg);
		return rc;
	}
	if (only_arg && (rc = sweep_parse_selection(only_arg, plan.n, &only, &err))) {
		fprintf(stderr, "kvsim sweep run: %s\n", err.msg);
		goto out;
	}
	o.only = only;
	o.progress = stderr_is_tty();
	/* this binary: its path from /proc/self/exe (which tools like valgrind report as the
	 * program they run), or /proc/self/exe itself when the file was replaced or deleted */
	{
		static char exe[PATH_MAX];
		ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);

		if (n > 0) {
			exe[n] = 0;
			if (!access(exe, X_OK) && !strstr(exe, " (deleted)"))
				o.exe = exe;
		}
	}
	if ((rc = make_dirs(o.dir, &err)) || (rc = copy_plan(plan_path, o.dir, &err)) ||
	    (rc = sweep_run(&plan, &o, &st, &err))) {
		fprintf(stderr, "kvsim sweep run: %s\n", err.msg);
		rc = KV_ERUNTIME;
		goto out;
	}
	fprintf(stderr, "kvsim sweep run: %zu of %zu jobs selected: %zu already done, %zu ran "
			"(%zu ok, %zu failed)",
		st.selected, plan.n, st.skipped, st.ran, st.ok, st.failed - st.failed_other);
	if (st.failed_other)
		fprintf(stderr, ", %zu failed in another runner", st.failed_other);
	fputc('\n', stderr);
	if (st.failed) {
		fprintf(stderr, "kvsim sweep run: see DIR/ID/failed, or `kvsim sweep merge %s`\n",
			o.dir);
		rc = KV_ERUNTIME;
	}
out:
	free(only);
	sweep_plan_free(&plan);
	return rc;
}

static void merge_help(void)
{
	printf(
"usage: kvsim sweep merge DIR [OPTIONS] > table.csv\n\n"
"Writes one CSV row per job in plan order: the core columns of `kvsim sim --format csv`,\n"
"then job,job_id,router,instances,rate_scale, then any further column the results have\n"
"(e.g. the latency columns of timed jobs). Missing and failed jobs are listed on stderr;\n"
"then the exit status is 1 and nothing is written, unless --allow-missing.\n\n"
"options:\n"
"  --plan FILE             the plan (default DIR/plan.tsv, the last plan run into DIR)\n"
"  --allow-missing         write the rows of the done jobs and exit 0 even if some are\n"
"                          missing or failed\n"
"  --todo                  print the numbers of the jobs not done (missing or failed) as a\n"
"                          Slurm array list (\"3,7-9\"; empty when all are done) instead\n"
"  -o, --out FILE          write the table to FILE (atomically) instead of stdout\n\n"
"examples:\n"
"  kvsim sweep merge results/fig3 > fig3.csv\n"
"  sbatch --array=$(kvsim sweep merge results/fig3 --todo) scripts/slurm/sweep.sbatch \\\n"
"      plan.tsv results/fig3\n");
}

static int merge_main(int argc, char **argv)
{
	enum { O_PLAN = 1, O_ALLOW, O_TODO };
	static const struct option longopts[] = {
		{"plan", required_argument, NULL, O_PLAN},
		{"allow-missing", no_argument, NULL, O_ALLOW},
		{"todo", no_argument, NULL, O_TODO},
		{"out", required_argument, NULL, 'o'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	struct sweep_merge_stats st = {0};
	struct sweep_plan plan = {0};
	struct kv_err err = {{0}};
	struct kv_outfile of;
	const char *plan_path = NULL, *dir, *out = NULL;
	char defplan[4200];
	int opt, rc, allow = 0, todo = 0;

	optind = 1;
	while ((opt = getopt_long(argc, argv, "o:h", longopts, NULL)) != -1) {
		switch (opt) {
		case O_PLAN:
			plan_path = optarg;
			break;
		case O_ALLOW:
			allow = 1;
			break;
		case O_TODO:
			todo = 1;
			break;
		case 'o':
			out = optarg;
			break;
		case 'h':
			merge_help();
			return 0;
		default:
			return usage_error("sweep merge", "unknown option");
		}
	}
	if (optind + 1 != argc)
		return usage_error("sweep merge", "give exactly one results folder");
	dir = argv[optind];
	if (!plan_path) {
		snprintf(defplan, sizeof(defplan), "%s/plan.tsv", dir);
		plan_path = defplan;
	}
	if ((rc = sweep_plan_read(plan_path, &plan, &err))) {
		fprintf(stderr, "kvsim sweep merge: %s\n", err.msg);
		return rc;
	}
	/* first pass: states only (nothing on stdout until we know the table is whole) */
	if ((rc = sweep_merge(&plan, dir, NULL, todo ? NULL : stderr, &st, &err)))
		goto fail;
	fprintf(stderr, "kvsim sweep merge: %zu jobs: %zu done, %zu missing, %zu failed\n",
		plan.n, st.done, st.missing, st.failed);
	if (todo) {
		sweep_print_ranges(stdout, st.todo, plan.n);
		putchar('\n');
		goto out;
	}
	if ((st.missing || st.failed) && !allow) {
		fprintf(stderr, "kvsim sweep merge: no table written (--allow-missing writes the "
				"done rows; --todo lists what to rerun)\n");
		rc = KV_ERUNTIME;
		goto out;
	}
	free(st.todo);
	st.todo = NULL;
	if (out) {
		if ((rc = outfile_open(&of, out, &err)))
			goto fail;
		if ((rc = sweep_merge(&plan, dir, of.f, NULL, &st, &err))) {
			outfile_abort(&of);
			goto fail;
		}
		if ((rc = outfile_commit(&of, &err)))
			goto fail;
	} else {
		if ((rc = sweep_merge(&plan, dir, stdout, NULL, &st, &err)))
			goto fail;
		if (fflush(stdout) || ferror(stdout)) {
			rc = kv_fail(&err, KV_ERUNTIME, "writing the table failed");
			goto fail;
		}
	}
	goto out;
fail:
	fprintf(stderr, "kvsim sweep merge: %s\n", err.msg);
out:
	free(st.todo);
	sweep_plan_free(&plan);
	return rc;
}

static void sweep_help(void)
{
	printf(
"usage: kvsim sweep plan|run|merge ...\n\n"
"Sweeps beyond one process: plan a cross product of jobs, run them locally, under Slurm\n"
"job arrays or GNU parallel, and merge the results into one table.\n\n"
"  kvsim sweep plan --trace T -p lru -c 1%%,10%%,inf -o plan.tsv\n"
"  kvsim sweep run plan.tsv --jobs 8 --results results/s1      (or: --only i per task)\n"
"  kvsim sweep merge results/s1 > table.csv\n\n"
"`kvsim sweep plan|run|merge --help` documents each step; docs/sweep.md shows Slurm and\n"
"GNU parallel.\n");
}

static int sweep_main(int argc, char **argv)
{
	if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
		sweep_help();
		return argc < 2 ? KV_EINPUT : 0;
	}
	if (!strcmp(argv[1], "plan"))
		return plan_main(argc - 1, argv + 1);
	if (!strcmp(argv[1], "run"))
		return run_main(argc - 1, argv + 1);
	if (!strcmp(argv[1], "merge"))
		return merge_main(argc - 1, argv + 1);
	return usage_error("sweep", "unknown step '%s' (plan, run or merge)", argv[1]);
}

const struct kv_cmd cmd_sweep = {"sweep", "plan, run (locally, Slurm, GNU parallel) and merge "
					  "sweeps of many jobs", sweep_main};
