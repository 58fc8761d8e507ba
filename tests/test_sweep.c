/*
 * test_sweep.c - `kvsim sweep`: plan lines and job ids, quoting, a local run against the
 * single-process `kvsim sim`, GNU parallel, a runner killed with SIGKILL and rerun, a failing
 * job, and a 24-task Slurm job array on a throwaway local Slurm (tests/sweep/slurm-local.sh;
 * skipped with the reason when slurmctld cannot run here).
 *
 * The shared fixture: two traces (DESIGN.md's worked example, and a 2,000-request trace
 * generated below) x lru x 12 capacities = 24 jobs.
 */
#include <errno.h>
#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "merge.h"
#include "outfile.h"
#include "plan.h"
#include "runner.h"
#include "test_util.h"

#define CAPS "1,2,3,4,5,6,8,12,16,64,10%,inf"
#define NCAPS 12
#define NJOBS 24
#define SLURM_LIMIT_S 120
/* analysis/report.h's header, written out independently */
#define REPORT_CSV_HEADER_FOR_TEST                                                          \
	"trace,policy,capacity,capacity_blocks,requests,blocks,hit_blocks,block_hit_ratio,"  \
	"tokens,hit_tokens,token_hit_ratio,evictions,inserts,hit_rule,block_size,"           \
	"kv_bytes_per_token,capacity_bytes"

static const char *bin(void)
{
	return getenv("KVSIM_BIN") ? getenv("KVSIM_BIN") : "bin/kvsim";
}

/* A Bailian trace of n requests in 16 conversations sharing a 4-block system prompt: request
 * r of conversation c carries the prompt, c's history (3 blocks per earlier turn, at most 40)
 * and 2 fresh blocks; the last block is partial. Deterministic (LCG). */
static const char *gen_trace(const char *name, int n)
{
	size_t cap = (size_t)n * 600 + 64, o = 0;
	char *buf = malloc(cap);
	int turns[16] = {0};
	uint64_t x = 12345;
	const char *p;

	for (int r = 0; r < n; r++) {
		int c, hist, nb;

		x = x * 6364136223846793005ull + 1442695040888963407ull;
		c = (int)((x >> 33) % 16);
		hist = turns[c] * 3 < 40 ? turns[c] * 3 : 40;
		turns[c]++;
		nb = 4 + hist + 2;
		o += (size_t)snprintf(buf + o, cap - o,
				      "{\"chat_id\":%d,\"parent_chat_id\":-1,\"timestamp\":%.1f,"
				      "\"input_length\":%d,\"output_length\":8,\"type\":\"text\","
				      "\"turn\":1,\"hash_ids\":[1,2,3,4",
				      r, r * 0.5, nb * 16 - (int)((x >> 20) % 15));
		for (int k = 0; k < hist; k++)
			o += (size_t)snprintf(buf + o, cap - o, ",%d", 1000 + c * 1000 + k);
		o += (size_t)snprintf(buf + o, cap - o, ",%d,%d]}\n", 1000000 + 2 * r,
				      1000001 + 2 * r);
	}
	p = tu_write(name, buf);
	free(buf);
	return p;
}

/* The fixture: traces, plan, and the reference table from `sweep run --jobs 2`. */
static struct {
	char ex[4096], gen[4096], plan[4096];
	char *table; /* merged table of the local run */
} fx;

/* Runs a shell command line; returns its exit status; stdout/stderr go to files read back
 * into *out / *err when not NULL. */
static int sh(const char *cmd, char **out, char **err)
{
	char full[16384], po[4096], pe[4096];
	int st;

	snprintf(po, sizeof(po), "%s", tu_path("sh.out"));
	snprintf(pe, sizeof(pe), "%s", tu_path("sh.err"));
	snprintf(full, sizeof(full), "%s >'%s' 2>'%s' </dev/null", cmd, po, pe);
	st = system(full);
	if (out)
		*out = tu_slurp(po, NULL);
	if (err)
		*err = tu_slurp(pe, NULL);
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + (WIFSIGNALED(st) ? WTERMSIG(st) : 0);
}

/* `kvsim sweep merge DIR` into a string (NULL when it fails). */
static char *merge_table(const char *dir)
{
	const char *args[] = {"sweep", "merge", dir, "--plan", fx.plan, NULL};
	char *out, *err;
	int rc = tu_run(args, NULL, &out, &err);

	if (rc) {
		fprintf(stderr, "\nmerge %s exit %d: %s\n", dir, rc, err);
		free(out);
		out = NULL;
	}
	free(err);
	return out;
}

static int count_lines(const char *s)
{
	int n = 0;

	for (; s && *s; s++)
		n += *s == '\n';
	return n;
}

static int setup(void)
{
	char *data = tu_slurp("tests/fixtures/design-example.jsonl", NULL);
	const char *args[] = {"sweep", "plan", "--trace", fx.ex, "--trace", fx.gen, "-p", "lru",
			      "-c", CAPS, "-o", fx.plan, NULL};
	const char *run[] = {"sweep", "run", fx.plan, "--jobs", "2", "--results",
			     tu_path("res-local"), NULL};
	char *out, *err;

	if (!data)
		return -1;
	snprintf(fx.ex, sizeof(fx.ex), "%s", tu_write("example.jsonl", data));
	free(data);
	snprintf(fx.gen, sizeof(fx.gen), "%s", gen_trace("generated.jsonl", 2000));
	snprintf(fx.plan, sizeof(fx.plan), "%s", tu_path("plan.tsv"));
	if (tu_run(args, NULL, &out, &err)) {
		fprintf(stderr, "\nsweep plan failed: %s\n", err);
		return -1;
	}
	free(out);
	free(err);
	if (tu_run(run, NULL, &out, &err)) {
		fprintf(stderr, "\nsweep run failed: %s\n", err);
		return -1;
	}
	free(out);
	free(err);
	fx.table = merge_table(tu_path("res-local"));
	return fx.table ? 0 : -1;
}

static int teardown(void)
{
	free(fx.table);
	return 0;
}

/* --- unit: quoting, splitting, ids, selections ------------------------------------------ */

static void test_quote_split(void)
{
	const char *words[] = {"kvsim", "--policy", "a b", "it's", "10%", "", "x\"y"};
	char line[512] = "", **argv;
	struct kv_err err;
	int argc;

	for (size_t i = 0; i < 7; i++)
		CU_ASSERT_EQUAL(sweep_quote_word(words[i], line, sizeof(line)), 0);
	/* plain words stay bare; others single-quoted, ' as '\'' */
	CU_ASSERT_STRING_EQUAL(line, "kvsim --policy 'a b' 'it'\\''s' 10% '' 'x\"y'");
	CU_ASSERT_EQUAL_FATAL(sweep_split_words(line, &argv, &argc, &err), 0);
	CU_ASSERT_EQUAL_FATAL(argc, 7);
	for (int i = 0; i < 7; i++)
		CU_ASSERT_STRING_EQUAL(argv[i], words[i]);
	CU_ASSERT_PTR_NULL(argv[7]);
	for (int i = 0; i < argc; i++)
		free(argv[i]);
	free(argv);
	/* double quotes with escapes, backslash outside quotes */
	CU_ASSERT_EQUAL_FATAL(sweep_split_words("a \"b \\\"c\\\"\" d\\ e", &argv, &argc, &err), 0);
	CU_ASSERT_EQUAL_FATAL(argc, 3);
	CU_ASSERT_STRING_EQUAL(argv[1], "b \"c\"");
	CU_ASSERT_STRING_EQUAL(argv[2], "d e");
	for (int i = 0; i < argc; i++)
		free(argv[i]);
	free(argv);
	/* shell syntax the runner cannot honour is refused, not run literally */
	CU_ASSERT_EQUAL(sweep_split_words("kvsim sim $HOME", &argv, &argc, &err), KV_EINPUT);
	CU_ASSERT_EQUAL(sweep_split_words("kvsim sim > x", &argv, &argc, &err), KV_EINPUT);
	CU_ASSERT_EQUAL(sweep_split_words("kvsim \"$(id)\"", &argv, &argc, &err), KV_EINPUT);
	CU_ASSERT_EQUAL(sweep_split_words("kvsim 'open", &argv, &argc, &err), KV_EINPUT);
	CU_ASSERT_EQUAL(sweep_split_words("   ", &argv, &argc, &err), KV_EINPUT);
}

static void test_job_id(void)
{
	char *a[] = {"kvsim", "sim", "--capacity", "4", "/x/a.jsonl"};
	char *b[] = {"kvsim", "sim", "--capacity", "4", "/elsewhere/b.jsonl"};
	char *c[] = {"kvsim", "sim", "--capacity", "5", "/x/a.jsonl"};
	char ia[17], ib[17], ic[17], id[17];

	sweep_job_id("0123456789abcdef", a, 5, 4, ia);
	sweep_job_id("0123456789abcdef", b, 5, 4, ib);
	sweep_job_id("0123456789abcdef", c, 5, 4, ic);
	sweep_job_id("0123456789abcdee", a, 5, 4, id);
	CU_ASSERT_EQUAL(strlen(ia), 16);
	CU_ASSERT_STRING_EQUAL(ia, ib);     /* the trace path is not part of the id */
	CU_ASSERT_STRING_NOT_EQUAL(ia, ic); /* an option is */
	CU_ASSERT_STRING_NOT_EQUAL(ia, id); /* and so is the trace's content */
}

static void test_selection(void)
{
	unsigned char *sel;
	struct kv_err err;
	char buf[64];
	FILE *f;

	CU_ASSERT_EQUAL_FATAL(sweep_parse_selection("1-3,5,9-10", 10, &sel, &err), 0);
	/* jobs 1,2,3,5,9,10 */
	CU_ASSERT(sel[1] && sel[2] && sel[3] && !sel[4] && sel[5] && !sel[8] && sel[9] && sel[10]);
	f = fmemopen(buf, sizeof(buf), "w");
	sweep_print_ranges(f, sel, 10);
	fclose(f);
	CU_ASSERT_STRING_EQUAL(buf, "1-3,5,9-10");
	free(sel);
	CU_ASSERT_EQUAL(sweep_parse_selection("11", 10, &sel, &err), KV_EINPUT);
	CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "past the plan's last job (10)"));
	CU_ASSERT_EQUAL(sweep_parse_selection("0", 10, &sel, &err), KV_EINPUT);
	CU_ASSERT_EQUAL(sweep_parse_selection("3-1", 10, &sel, &err), KV_EINPUT);
	CU_ASSERT_EQUAL(sweep_parse_selection("2,", 10, &sel, &err), KV_EINPUT);
}

static void test_csv_record(void)
{
	const char *t = "a,\"b,\"\"c\"\"\",,d\r\nx\n";
	const char *f[8];
	size_t l[8], pos = 0;

	CU_ASSERT_EQUAL_FATAL(sweep_csv_record(t, &pos, f, l, 8), 4);
	CU_ASSERT_EQUAL(l[1], 9); /* "b,""c""" kept raw: 9 bytes, quotes included */
	CU_ASSERT_EQUAL(strncmp(f[1], "\"b,\"\"c\"\"\"", l[1]), 0);
	CU_ASSERT_EQUAL(l[2], 0);
	CU_ASSERT_EQUAL(l[3], 1);
	CU_ASSERT_EQUAL(sweep_csv_record(t, &pos, f, l, 8), 1);
	CU_ASSERT_EQUAL(sweep_csv_record(t, &pos, f, l, 8), 0);
	pos = 0;
	CU_ASSERT_EQUAL(sweep_csv_record("\"open", &pos, f, l, 8), -1);
}

/* Timed results carry more columns (router,instances,rate_scale,ttft_*): merge keeps the
 * core columns first, takes the sweep parameters from the plan and appends the others. */
static void test_merge_extra_columns(void)
{
	char *traces[] = {"/t/a.jsonl"}, *sums[] = {"00000000000000aa"}, *pols[] = {"lru"};
	char *caps[] = {"4"}, *routers[] = {"rr", "p:a=1,b=2"}, *inst[] = {"2"};
	struct sweep_axes ax = {traces, 1, sums, pols, 1, caps, 1, routers, 2, inst, 1, NULL, 0,
				NULL, 0};
	const char *dir = tu_path("res-timed");
	const char *core = "/t/a.jsonl,lru,4,4,10,20,5,0.250000,320,80,0.250000,3,15,prefix,16,"
			   "57344,3670016";
	struct sweep_merge_stats st;
	struct sweep_plan p;
	struct kv_err err;
	char path[4400], csv[2048], *buf = NULL, want[1024];
	size_t len = 0;
	FILE *f;

	CU_ASSERT_EQUAL_FATAL(sweep_plan_build(&ax, &p, &err), 0);
	CU_ASSERT_EQUAL_FATAL(p.n, 2);
	CU_ASSERT_STRING_EQUAL(p.job[1].command, "kvsim sim --policy lru --capacity 4 --format csv "
				"--timed --router p:a=1,b=2 --instances 2 /t/a.jsonl");
	sweep_job_path(dir, &p.job[0], NULL, path, sizeof(path));
	CU_ASSERT_EQUAL_FATAL(make_dirs(path, &err), 0);
	sweep_job_path(dir, &p.job[0], "result.csv", path, sizeof(path));
	snprintf(csv, sizeof(csv), "%s,router,instances,rate_scale,ttft_mean_s\n%s,rr,2,,0.25\n",
		 REPORT_CSV_HEADER_FOR_TEST, core);
	f = fopen(path, "w");
	fputs(csv, f);
	fclose(f);
	/* job 2 not run yet */
	f = open_memstream(&buf, &len);
	CU_ASSERT_EQUAL_FATAL(sweep_merge(&p, dir, f, NULL, &st, &err), 0);
	fclose(f);
	CU_ASSERT_EQUAL(st.done, 1);
	CU_ASSERT_EQUAL(st.missing, 1);
	CU_ASSERT(!st.todo[1] && st.todo[2]);
	snprintf(want, sizeof(want), "%s,job,job_id,router,instances,rate_scale,ttft_mean_s",
		 REPORT_CSV_HEADER_FOR_TEST);
	CU_ASSERT_STRING_EQUAL(tu_line(buf, 0), want);
	snprintf(want, sizeof(want), "%s,1,%s,rr,2,,0.25", core, p.job[0].id);
	CU_ASSERT_STRING_EQUAL(tu_line(buf, 1), want);
	CU_ASSERT_STRING_EQUAL(tu_line(buf, 2), "");
	free(buf);
	free(st.todo);
	/* job 2 done without the extra column: its router is CSV-quoted, ttft empty */
	sweep_job_path(dir, &p.job[1], NULL, path, sizeof(path));
	CU_ASSERT_EQUAL_FATAL(make_dirs(path, &err), 0);
	sweep_job_path(dir, &p.job[1], "result.csv", path, sizeof(path));
	snprintf(csv, sizeof(csv), "%s\n%s\n", REPORT_CSV_HEADER_FOR_TEST, core);
	f = fopen(path, "w");
	fputs(csv, f);
	fclose(f);
	buf = NULL;
	f = open_memstream(&buf, &len);
	CU_ASSERT_EQUAL_FATAL(sweep_merge(&p, dir, f, NULL, &st, &err), 0);
	fclose(f);
	CU_ASSERT_EQUAL(st.done, 2);
	snprintf(want, sizeof(want), "%s,2,%s,\"p:a=1,b=2\",2,,", core, p.job[1].id);
	CU_ASSERT_STRING_EQUAL(tu_line(buf, 2), want);
	free(buf);
	free(st.todo);
	/* a result that is not one row counts as failed */
	f = fopen(path, "w");
	fputs("trace,policy\n", f);
	fclose(f);
	CU_ASSERT_EQUAL_FATAL(sweep_merge(&p, dir, NULL, NULL, &st, &err), 0);
	CU_ASSERT_EQUAL(st.failed, 1);
	free(st.todo);
	sweep_plan_free(&p);
}

/* --- plan ------------------------------------------------------------------------------ */

static void test_plan_lines(void)
{
	char *plan = tu_slurp(fx.plan, NULL), line[8192];
	struct sweep_plan p;
	struct kv_err err;

	CU_ASSERT_PTR_NOT_NULL_FATAL(plan);
	/* 2 comment lines + 2 traces x 1 policy x 12 capacities */
	CU_ASSERT_EQUAL(count_lines(plan), 2 + NJOBS);
	CU_ASSERT_EQUAL(strncmp(plan, SWEEP_PLAN_MAGIC, strlen(SWEEP_PLAN_MAGIC)), 0);
	CU_ASSERT_EQUAL_FATAL(sweep_plan_read(fx.plan, &p, &err), 0);
	CU_ASSERT_EQUAL_FATAL(p.n, NJOBS);
	/* traces outermost, then capacities in the order given */
	CU_ASSERT_STRING_EQUAL(p.job[0].trace, fx.ex);
	CU_ASSERT_STRING_EQUAL(p.job[0].capacity, "1");
	CU_ASSERT_STRING_EQUAL(p.job[10].capacity, "10%");
	CU_ASSERT_STRING_EQUAL(p.job[12].trace, fx.gen);
	CU_ASSERT_STRING_EQUAL(p.job[23].capacity, "inf");
	CU_ASSERT_STRING_EQUAL(p.job[12].router, "");
	snprintf(line, sizeof(line), "kvsim sim --policy lru --capacity 10%% --format csv %s",
		 fx.ex);
	CU_ASSERT_STRING_EQUAL(p.job[10].command, line);
	/* the checksum column is the trace's content checksum */
	{
		struct kv_load_opts lo = {0};
		struct kv_trace *t;
		char hex[17];

		CU_ASSERT_EQUAL_FATAL(trace_load(fx.gen, &lo, &t, &err), 0);
		snprintf(hex, sizeof(hex), "%016llx", (unsigned long long)trace_checksum(t));
		trace_free(t);
		CU_ASSERT_STRING_EQUAL(p.job[12].checksum, hex);
	}
	sweep_plan_free(&p);
	free(plan);
}

static void test_plan_stable_ids_and_timed(void)
{
	char *data = tu_slurp(fx.ex, NULL), *out, *err;
	const char *copy = tu_write("example-copy.jsonl", data);
	const char *a1[] = {"sweep", "plan", fx.ex, "-p", "lru", "-c", "4", NULL};
	const char *a2[] = {"sweep", "plan", copy, "-c", "4", "--policy", "lru", NULL};
	const char *timed[] = {"sweep", "plan", fx.ex, "-p", "lru", "-c", "4,inf", "--router",
			       "rr,p:a=1,b=2", "--instances", "2", "--rate-scale", "0.5",
			       "--", "--hit-rule", "vllm", NULL};
	char id1[17], id2[17];

	free(data);
	CU_ASSERT_EQUAL_FATAL(tu_run(a1, NULL, &out, &err), 0);
	snprintf(id1, sizeof(id1), "%s", tu_line(out, 2) + 2); /* "1\t<id>..." */
	free(out);
	free(err);
	CU_ASSERT_EQUAL_FATAL(tu_run(a2, NULL, &out, &err), 0);
	snprintf(id2, sizeof(id2), "%s", tu_line(out, 2) + 2);
	free(out);
	free(err);
	/* same content, same options, another path: same id */
	CU_ASSERT_STRING_EQUAL(id1, id2);

	CU_ASSERT_EQUAL_FATAL(tu_run(timed, NULL, &out, &err), 0);
	/* 2 capacities x 2 routers x 1 x 1 = 4 jobs; capacity outer, router inner */
	CU_ASSERT_EQUAL(count_lines(out), 2 + 4);
	CU_ASSERT_PTR_NOT_NULL(strstr(tu_line(out, 3), "\tlru\t4\tp:a=1,b=2\t2\t0.5\tkvsim sim "
					"--policy lru --capacity 4 --format csv --timed --router "
					"p:a=1,b=2 --instances 2 --rate-scale 0.5 --hit-rule vllm "));
	CU_ASSERT_PTR_NOT_NULL(strstr(tu_line(out, 4), "\tinf\trr\t"));
	free(out);
	free(err);
}

static void test_plan_usage_errors(void)
{
	static const struct {
		const char *args[10];
		const char *frag;
	} cases[] = {
		{{"sweep", "plan", "-p", "nosuch", "-c", "4", NULL}, "unknown eviction policy"},
		/* a bad value fails the plan, not every job of it */
		{{"sweep", "plan", "-p", "wa:window_s=0", "-c", "4", NULL}, "window_s=0 is not"},
		{{"sweep", "plan", "-p", "lru", "-c", "12XB", NULL}, "capacity '12XB'"},
		{{"sweep", "plan", "-p", "lru", "-c", "4", "--instances", "0", NULL}, "--instances"},
		{{"sweep", "plan", "-p", "lru", "-c", "4", "--rate-scale", "-1", NULL}, "--rate-scale"},
		{{"sweep", "plan", "-c", "4", NULL}, "at least one trace, --policy"},
		{{"sweep", "plan", "-p", "lru", "-c", "4,4", NULL}, "are the same job"},
		{{"sweep", "bogus", NULL}, "unknown step 'bogus'"},
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const char *args[12];
		char *out, *err;
		int n = 0;

		while (cases[i].args[n])
			args[n] = cases[i].args[n], n++;
		if (strcmp(args[1], "bogus") && strcmp(args[2], "-c"))
			args[n++] = fx.ex;
		args[n] = NULL;
		CU_ASSERT_EQUAL(tu_run(args, NULL, &out, &err), 2);
		if (!strstr(err, cases[i].frag)) {
			fprintf(stderr, "\ncase %zu: stderr '%s' lacks '%s'\n", i, err, cases[i].frag);
			CU_FAIL("wrong message");
		}
		CU_ASSERT_STRING_EQUAL(out, "");
		free(out);
		free(err);
	}
}

/* --- run and merge --------------------------------------------------------------------- */

/* The first 17 (core) columns of every line. */
static char *core_columns(const char *table)
{
	char *o = malloc(strlen(table) + 1), *w = o;

	for (const char *p = table; *p;) {
		int commas = 0;

		for (; *p && *p != '\n'; p++) {
			if (*p == ',' && ++commas == 17)
				while (p[1] && p[1] != '\n')
					p++;
			else
				*w++ = *p;
		}
		if (*p == '\n')
			*w++ = *p++;
	}
	*w = 0;
	return o;
}

static void test_local_equals_single_process(void)
{
	const char *s1[] = {"-p", "lru", "-c", CAPS, "--format", "csv", fx.ex, NULL};
	const char *s2[] = {"-p", "lru", "-c", CAPS, "--format", "csv", fx.gen, NULL};
	char *o1, *o2, *want, *core;
	size_t len;

	CU_ASSERT_PTR_NOT_NULL_FATAL(fx.table);
	CU_ASSERT_EQUAL(count_lines(fx.table), 1 + NJOBS);
	CU_ASSERT_EQUAL_FATAL(tu_run(s1, NULL, &o1, NULL), 0);
	CU_ASSERT_EQUAL_FATAL(tu_run(s2, NULL, &o2, NULL), 0);
	/* one process: the header, then its rows; the second run's rows without its header */
	len = strlen(o1) + strlen(o2) + 1;
	want = malloc(len);
	snprintf(want, len, "%s%s", o1, strchr(o2, '\n') + 1);
	core = core_columns(fx.table);
	CU_ASSERT_STRING_EQUAL(core, want);
	/* DESIGN.md worked example at 4 blocks (job 4): 4/12 hit blocks, 64/168 tokens */
	CU_ASSERT_STRING_EQUAL(tu_csv(fx.table, 3, "capacity"), "4");
	CU_ASSERT_STRING_EQUAL(tu_csv(fx.table, 3, "hit_blocks"), "4");
	CU_ASSERT_STRING_EQUAL(tu_csv(fx.table, 3, "hit_tokens"), "64");
	CU_ASSERT_STRING_EQUAL(tu_csv(fx.table, 3, "job"), "4");
	CU_ASSERT_STRING_EQUAL(tu_csv(fx.table, 11, "capacity"), "inf");
	CU_ASSERT_STRING_EQUAL(tu_csv(fx.table, 11, "hit_blocks"), "5"); /* 5/12 */
	CU_ASSERT_EQUAL(strlen(tu_csv(fx.table, 23, "job_id")), 16);
	free(o1);
	free(o2);
	free(want);
	free(core);
}

static void test_rerun_skips_done(void)
{
	const char *run[] = {"sweep", "run", fx.plan, "--results", tu_path("res-local"), NULL};
	char *out, *err;

	CU_ASSERT_EQUAL(tu_run(run, NULL, &out, &err), 0);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "24 of 24 jobs selected: 24 already done, 0 ran"));
	free(out);
	free(err);
}

static void test_gnu_parallel(void)
{
	char cmd[8192], *out, *err, *table;
	int rc;

	if (system("command -v parallel >/dev/null 2>&1")) {
		CU_FAIL("GNU parallel is not installed (scripts/install-deps.sh installs it)");
		return;
	}
	snprintf(cmd, sizeof(cmd),
		 "parallel --will-cite -j 2 '%s' sweep run '%s' --results '%s' --only {} ::: "
		 "$(seq %d)", bin(), fx.plan, tu_path("res-parallel"), NJOBS);
	rc = sh(cmd, &out, &err);
	CU_ASSERT_EQUAL(rc, 0);
	if (rc)
		fprintf(stderr, "\nparallel: %s\n", err);
	table = merge_table(tu_path("res-parallel"));
	CU_ASSERT_PTR_NOT_NULL_FATAL(table);
	CU_ASSERT_STRING_EQUAL(table, fx.table);
	free(table);
	free(out);
	free(err);
}

/* Names of the done jobs' result files under dir, with their inode numbers. */
static int list_done(const char *dir, char names[][64], ino_t *inos, int max)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	int n = 0;

	if (!d)
		return 0;
	while ((e = readdir(d)) && n < max) {
		char p[4400];
		struct stat st;

		snprintf(p, sizeof(p), "%s/%s/result.csv", dir, e->d_name);
		if (e->d_name[0] != '.' && !stat(p, &st)) {
			snprintf(names[n], 64, "%s", e->d_name);
			inos[n++] = st.st_ino;
		}
	}
	closedir(d);
	return n;
}

/* Counts files whose name starts with ".tmp." in the job folders of dir. */
static int count_tmp(const char *dir)
{
	DIR *d = opendir(dir), *jd;
	struct dirent *e, *f;
	int n = 0;

	while (d && (e = readdir(d))) {
		char p[4400];

		snprintf(p, sizeof(p), "%s/%s", dir, e->d_name);
		if (e->d_name[0] == '.' || !(jd = opendir(p)))
			continue;
		while ((f = readdir(jd)))
			n += !strncmp(f->d_name, ".tmp.", 5);
		closedir(jd);
	}
	if (d)
		closedir(d);
	return n;
}

static void test_kill_and_resume(void)
{
	const char *dir = tu_path("res-killed");
	const char *run[] = {"sweep", "run", fx.plan, "--results", dir, NULL};
	char names[NJOBS][64], names2[NJOBS][64], *out, *err, *table, want[128];
	ino_t inos[NJOBS], inos2[NJOBS];
	int done = 0, done2, status;
	pid_t pid = fork();

	CU_ASSERT_FATAL(pid >= 0);
	if (pid == 0) {
		int fd = open("/dev/null", 1);
		dup2(fd, 2);
		execl(bin(), "kvsim", "sweep", "run", fx.plan, "--results", dir, "--jobs", "1",
		      (char *)NULL);
		_exit(127);
	}
	/* kill the runner (SIGKILL) as soon as its first job is done; at most 10 s */
	for (int i = 0; i < 100000 && done == 0; i++) {
		struct timespec ts = {0, 100000};

		done = list_done(dir, names, inos, NJOBS);
		if (!done)
			nanosleep(&ts, NULL);
	}
	kill(pid, SIGKILL);
	waitpid(pid, &status, 0);
	CU_ASSERT(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
	done = list_done(dir, names, inos, NJOBS);
	/* part-way: at least one job done, not all 24 */
	CU_ASSERT(done >= 1 && done < NJOBS);
	if (done >= NJOBS)
		return;
	/* merge now lists the rest as missing and writes no table */
	{
		const char *m[] = {"sweep", "merge", dir, NULL};
		CU_ASSERT_EQUAL(tu_run(m, NULL, &out, &err), 1);
		CU_ASSERT_STRING_EQUAL(out, "");
		snprintf(want, sizeof(want), "%d done, %d missing, 0 failed", done, NJOBS - done);
		CU_ASSERT_PTR_NOT_NULL(strstr(err, want));
		free(out);
		free(err);
	}
	/* rerun: runs exactly the 24 - done others, touches none of the done results */
	CU_ASSERT_EQUAL_FATAL(tu_run(run, NULL, &out, &err), 0);
	snprintf(want, sizeof(want), "%d already done, %d ran (%d ok, 0 failed)", done,
		 NJOBS - done, NJOBS - done);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, want));
	free(out);
	free(err);
	done2 = list_done(dir, names2, inos2, NJOBS);
	CU_ASSERT_EQUAL(done2, NJOBS);
	for (int i = 0; i < done; i++)
		for (int k = 0; k < done2; k++)
			if (!strcmp(names[i], names2[k]))
				CU_ASSERT_EQUAL(inos[i], inos2[k]); /* not rewritten */
	/* the killed runner's temporary files are gone */
	CU_ASSERT_EQUAL(count_tmp(dir), 0);
	table = merge_table(dir);
	CU_ASSERT_PTR_NOT_NULL_FATAL(table);
	CU_ASSERT_STRING_EQUAL(table, fx.table);
	free(table);
}

static void test_failed_job(void)
{
	const char *plan = tu_path("plan-fail.tsv"), *dir = tu_path("res-fail");
	const char *pa[] = {"sweep", "plan", fx.ex, "-p", "lru", "-c", "4,0,inf", "-o", plan,
			    NULL};
	const char *part[] = {"sweep", "run", plan, "--results", dir, "--only", "1", NULL};
	const char *run[] = {"sweep", "run", plan, "--results", dir, NULL};
	const char *m[] = {"sweep", "merge", dir, NULL};
	const char *ma[] = {"sweep", "merge", dir, "--allow-missing", NULL};
	const char *todo[] = {"sweep", "merge", dir, "--todo", NULL};
	char *out, *err, path[4400];
	struct sweep_plan p;
	struct kv_err kerr;

	CU_ASSERT_EQUAL_FATAL(tu_run(pa, NULL, &out, &err), 0);
	free(out);
	free(err);
	/* only job 1 run: 2 and 3 are missing */
	CU_ASSERT_EQUAL(tu_run(part, NULL, &out, &err), 0);
	free(out);
	free(err);
	CU_ASSERT_EQUAL(tu_run(todo, NULL, &out, &err), 0);
	CU_ASSERT_STRING_EQUAL(out, "2-3\n");
	free(out);
	free(err);
	/* all: job 2 (capacity 0 blocks) fails with exit 2, the others succeed */
	CU_ASSERT_EQUAL(tu_run(run, NULL, &out, &err), 1);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "1 already done, 2 ran (1 ok, 1 failed)"));
	free(out);
	free(err);
	CU_ASSERT_EQUAL_FATAL(sweep_plan_read(plan, &p, &kerr), 0);
	sweep_job_path(dir, &p.job[1], "failed", path, sizeof(path));
	out = tu_slurp(path, NULL);
	CU_ASSERT_PTR_NOT_NULL_FATAL(out);
	CU_ASSERT_STRING_EQUAL(tu_line(out, 0), "exit 2");
	CU_ASSERT_PTR_NOT_NULL(strstr(out, "holds less than one block"));
	free(out);
	CU_ASSERT_FALSE(sweep_job_done(dir, &p.job[1]));
	sweep_plan_free(&p);
	CU_ASSERT_EQUAL(tu_run(m, NULL, &out, &err), 1);
	CU_ASSERT_STRING_EQUAL(out, "");
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "failed  job 2"));
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "exit 2: kvsim sim: --capacity: capacity '0' holds less"));
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "3 jobs: 2 done, 0 missing, 1 failed"));
	free(out);
	free(err);
	CU_ASSERT_EQUAL(tu_run(ma, NULL, &out, &err), 0);
	CU_ASSERT_EQUAL(count_lines(out), 1 + 2); /* header + jobs 1 and 3 */
	CU_ASSERT_STRING_EQUAL(tu_csv(out, 1, "job"), "3");
	free(out);
	free(err);
	CU_ASSERT_EQUAL(tu_run(todo, NULL, &out, &err), 0);
	CU_ASSERT_STRING_EQUAL(out, "2\n");
	free(out);
	free(err);
}

static void test_bad_plan_file(void)
{
	const char *bad = tu_write("bad-plan.tsv", SWEEP_PLAN_MAGIC "\n"
				   "1\t0123456789abcdef\t/t\t0123456789abcdef\tlru\t4\t\t\t\t"
				   "kvsim sim $(rm -rf /)\n");
	const char *notplan = tu_write("not-plan.tsv", "hello\n");
	const char *a1[] = {"sweep", "run", bad, "--results", tu_path("res-bad"), NULL};
	const char *a2[] = {"sweep", "run", notplan, NULL};
	char *out, *err;

	CU_ASSERT_EQUAL(tu_run(a1, NULL, &out, &err), 2);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, ":2: command: unquoted '$' is shell syntax"));
	free(out);
	free(err);
	CU_ASSERT_EQUAL(tu_run(a2, NULL, &out, &err), 2);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, ":1: not a kvsim sweep plan"));
	free(out);
	free(err);
}

static int exists_in(const char *dir, const char *id, const char *name)
{
	char path[4400];

	snprintf(path, sizeof(path), "%s/%s/%s", dir, id, name);
	return access(path, F_OK) == 0;
}

/* Takes job id's lock as another runner would (flock on DIR/ID/.lock); returns the fd. */
static int hold_lock(const char *dir, const char *id)
{
	char path[4400];
	int fd;

	snprintf(path, sizeof(path), "%s/%s", dir, id);
	mkdir(path, 0777);
	snprintf(path, sizeof(path), "%s/%s/.lock", dir, id);
	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0666);
	if (fd >= 0 && flock(fd, LOCK_EX | LOCK_NB)) {
		close(fd);
		fd = -1;
	}
	return fd;
}

/* Two runners on one results folder: while another runner holds jobs 1 and 3, `sweep run
 * --only 1-3` runs job 2 only and waits; when the other runner finishes job 1 (result.csv)
 * and fails job 3 (failed), neither is run again: job 1 counts as done, job 3 as failed
 * (exit 1). Without the lock both runners ran every job. */
static void test_concurrent_runners(void)
{
	const char *dir = tu_path("res-conc"), *errpath = tu_path("conc-err.txt");
	struct sweep_plan p;
	struct kv_err kerr;
	char src[4400], dst[4400], *csv, *err;
	int fd1, fd3, status = 0, alive = 1;
	pid_t pid, w = 0;

	CU_ASSERT_EQUAL_FATAL(sweep_plan_read(fx.plan, &p, &kerr), 0);
	mkdir(dir, 0777);
	fd1 = hold_lock(dir, p.job[0].id);
	fd3 = hold_lock(dir, p.job[2].id);
	CU_ASSERT_FATAL(fd1 >= 0 && fd3 >= 0);
	pid = fork();
	CU_ASSERT_FATAL(pid >= 0);
	if (pid == 0) {
		int fd = open(errpath, O_WRONLY | O_CREAT | O_TRUNC, 0666);
		dup2(fd, 2);
		execl(bin(), "kvsim", "sweep", "run", fx.plan, "--results", dir, "--jobs", "1",
		      "--only", "1-3", (char *)NULL);
		_exit(127);
	}
	/* job 2 gets done (at most 10 s); jobs 1 and 3 are not started while held */
	for (int i = 0; i < 100 && !exists_in(dir, p.job[1].id, "result.csv"); i++)
		usleep(100000);
	usleep(300000);
	CU_ASSERT(exists_in(dir, p.job[1].id, "result.csv"));
	CU_ASSERT(!exists_in(dir, p.job[0].id, "run.txt"));
	CU_ASSERT(!exists_in(dir, p.job[2].id, "run.txt"));
	CU_ASSERT_EQUAL(waitpid(pid, &status, WNOHANG), 0); /* still waiting for 1 and 3 */
	/* the other runner finishes: job 1 done (its result copied from the local sweep), job 3
	 * failed; then it lets go */
	snprintf(src, sizeof(src), "%s/%s/result.csv", tu_path("res-local"), p.job[0].id);
	snprintf(dst, sizeof(dst), "%s/%s/result.csv", dir, p.job[0].id);
	csv = tu_slurp(src, NULL);
	CU_ASSERT_PTR_NOT_NULL_FATAL(csv);
	tu_write_bytes("conc-result.tmp", csv, strlen(csv));
	CU_ASSERT_EQUAL(rename(tu_path("conc-result.tmp"), dst), 0);
	free(csv);
	snprintf(dst, sizeof(dst), "%s/%s/failed", dir, p.job[2].id);
	tu_write_bytes("conc-failed.tmp", "exit 2\n", 7);
	CU_ASSERT_EQUAL(rename(tu_path("conc-failed.tmp"), dst), 0);
	close(fd1);
	close(fd3);
	for (int i = 0; i < 100 && alive; i++) {
		w = waitpid(pid, &status, WNOHANG);
		alive = w == 0;
		if (alive)
			usleep(100000);
	}
	if (alive) {
		kill(pid, SIGKILL);
		waitpid(pid, &status, 0);
	}
	CU_ASSERT(!alive && WIFEXITED(status) && WEXITSTATUS(status) == 1);
	err = tu_slurp(errpath, NULL);
	CU_ASSERT_PTR_NOT_NULL_FATAL(err);
	/* 3 selected: job 1 done by the other, job 2 ran here, job 3 failed in the other */
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "3 of 24 jobs selected: 1 already done, 1 ran (1 ok, "
					   "0 failed), 1 failed in another runner"));
	CU_ASSERT(!exists_in(dir, p.job[0].id, "run.txt"));
	CU_ASSERT(!exists_in(dir, p.job[2].id, "run.txt"));
	free(err);
	sweep_plan_free(&p);
}

/* A result.csv damaged after its rename (a crash before the data reached the disk, a bad
 * copy): merge lists it as failed, also when the row is cut inside its last field (as many
 * fields as the header), and a rerun runs the job again instead of skipping it as done. */
static void test_damaged_results_rerun(void)
{
	const char *dir = tu_path("res-dmg");
	const char *run[] = {"sweep", "run", fx.plan, "--results", dir, "--only", "1,2", NULL};
	const char *merge[] = {"sweep", "merge", dir, "--allow-missing", NULL};
	struct sweep_plan p;
	struct kv_err kerr;
	char path[4400], *csv, *out, *err;
	size_t len;

	CU_ASSERT_EQUAL_FATAL(sweep_plan_read(fx.plan, &p, &kerr), 0);
	CU_ASSERT_EQUAL_FATAL(tu_run(run, NULL, &out, &err), 0);
	free(out);
	free(err);
	/* job 1: the last 3 bytes lost (newline and two digits of capacity_bytes) */
	snprintf(path, sizeof(path), "%s/%s/result.csv", dir, p.job[0].id);
	csv = tu_slurp(path, &len);
	CU_ASSERT_FATAL(csv && len > 3);
	CU_ASSERT_EQUAL(truncate(path, (off_t)(len - 3)), 0);
	free(csv);
	/* job 2: only the header line */
	snprintf(path, sizeof(path), "%s/%s/result.csv", dir, p.job[1].id);
	csv = tu_slurp(path, &len);
	CU_ASSERT_FATAL(csv && strchr(csv, '\n'));
	CU_ASSERT_EQUAL(truncate(path, (off_t)(strchr(csv, '\n') - csv + 1)), 0);
	free(csv);
	CU_ASSERT_EQUAL(tu_run(merge, NULL, &out, &err), 0);
	/* 24 jobs: 22 never run (missing), jobs 1 and 2 damaged (failed) */
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "24 jobs: 0 done, 22 missing, 2 failed"));
	free(out);
	free(err);
	CU_ASSERT_EQUAL(tu_run(run, NULL, &out, &err), 0);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "0 already done, 2 ran (2 ok, 0 failed)"));
	free(out);
	free(err);
	CU_ASSERT_EQUAL(tu_run(merge, NULL, &out, &err), 0);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "24 jobs: 2 done, 22 missing, 0 failed"));
	free(out);
	free(err);
	sweep_plan_free(&p);
}

/* Runs `sweep run PLAN` on a plan text; returns the exit status, *err its stderr. */
static int run_plan_text(const char *name, const char *text, char **err)
{
	const char *path = tu_write(name, text);
	const char *args[] = {"sweep", "run", path, "--results", tu_path("res-bad2"), "--only",
			      "1", NULL};
	char *out;
	int rc = tu_run(args, NULL, &out, err);

	free(out);
	return rc;
}

/* Plan files damaged the ways hand edits and interrupted copies damage them: each is refused
 * with PLAN:LINE and exit 2 before any job runs. Line 3 is job 1 (two comment lines first). */
static void test_damaged_plan_files(void)
{
	char *plan = tu_slurp(fx.plan, NULL), *text, *err, *p, *q;
	size_t len;

	CU_ASSERT_PTR_NOT_NULL_FATAL(plan);
	len = strlen(plan);
	text = malloc(len * 2 + 256);
	CU_ASSERT_PTR_NOT_NULL_FATAL(text);

	/* truncated: the copy stopped 5 bytes before the end, inside job 24's command (line 26) */
	memcpy(text, plan, len - 5);
	text[len - 5] = 0;
	CU_ASSERT_EQUAL(run_plan_text("trunc.tsv", text, &err), 2);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "trunc.tsv:26: the last line has no newline"));
	free(err);

	/* edited command: job 1 (capacity 1) made capacity 7 without a new id; the id would
	 * otherwise hold a capacity-7 result that merge reports as capacity 1 */
	strcpy(text, plan);
	p = strstr(text, "--capacity 1 ");
	CU_ASSERT_PTR_NOT_NULL_FATAL(p);
	p[11] = '7';
	CU_ASSERT_EQUAL(run_plan_text("edited.tsv", text, &err), 2);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "edited.tsv:3: job id "));
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "does not match the command"));
	free(err);

	/* command naming another file than the trace column */
	strcpy(text, plan);
	p = strstr(text, "\n1\t");
	q = p ? strchr(p + 1, '\n') : NULL;
	CU_ASSERT_PTR_NOT_NULL_FATAL(q);
	memmove(q + 2, q, strlen(q) + 1);
	memcpy(q, "XX", 2); /* the trace path of job 1's command gets a suffix */
	CU_ASSERT_EQUAL(run_plan_text("othertrace.tsv", text, &err), 2);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "othertrace.tsv:3: the command's last word is not "
					   "the trace"));
	free(err);

	/* duplicate: job 1's line appended again as job 25 (line 27) */
	p = strstr(plan, "\n1\t");
	q = strchr(p + 1, '\n');
	snprintf(text, len * 2 + 256, "%s25%.*s", plan, (int)(q - (p + 2) + 1), p + 2);
	CU_ASSERT_EQUAL(run_plan_text("dup.tsv", text, &err), 2);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "dup.tsv:27: jobs 1 and 25 are the same job"));
	free(err);

	/* a line with a column missing (job 2's policy column removed: line 4) */
	strcpy(text, plan);
	p = strstr(text, "\n2\t");
	CU_ASSERT_PTR_NOT_NULL_FATAL(p);
	q = strstr(p, "\tlru\t");
	memmove(q, q + 4, strlen(q + 4) + 1);
	CU_ASSERT_EQUAL(run_plan_text("cols.tsv", text, &err), 2);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "cols.tsv:4: 9 columns"));
	free(err);
	free(text);
	free(plan);
}

/* --- Slurm ----------------------------------------------------------------------------- */

static void test_slurm_array(void)
{
	const char *dir = tu_path("res-slurm"), *work = tu_path("slurm");
	char cmd[8192], *out, *err, *table;
	time_t t0 = time(NULL);
	int rc;

	mkdir(work, 0700);
	/* submit the array, then poll squeue (sbatch --wait backs off to long sleeps) */
	snprintf(cmd, sizeof(cmd),
		 "KVSIM='%s' tests/sweep/slurm-local.sh '%s' %d sh -c 'id=$(sbatch --parsable "
		 "--array=1-%d%%8 -o \"$1/task-%%a.out\" scripts/slurm/sweep.sbatch \"$2\" "
		 "\"$3\") || exit 1; while [ -n \"$(squeue -h -j \"$id\" -o %%i)\" ]; do "
		 "sleep 0.5; done' sh '%s' '%s' '%s'",
		 bin(), work, SLURM_LIMIT_S, NJOBS, work, fx.plan, dir);
	rc = sh(cmd, &out, &err);
	if (rc == 77) {
		fprintf(stderr, "\nSKIP: Slurm array test: %s", err);
		free(out);
		free(err);
		return;
	}
	if (rc)
		fprintf(stderr, "\nslurm-local.sh exit %d after %lds: %s\n", rc,
			(long)(time(NULL) - t0), err);
	CU_ASSERT_EQUAL(rc, 0);
	CU_ASSERT(time(NULL) - t0 <= SLURM_LIMIT_S + 15); /* bounded, daemons stopped */
	table = merge_table(dir);
	CU_ASSERT_PTR_NOT_NULL_FATAL(table);
	CU_ASSERT_STRING_EQUAL(table, fx.table);
	free(table);
	free(out);
	free(err);
}

/* Processes whose command line mentions `needle` (scans /proc). O(processes). */
static int count_procs_with(const char *needle)
{
	DIR *d = opendir("/proc");
	struct dirent *e;
	int n = 0;

	while (d && (e = readdir(d))) {
		char path[300], buf[4096];
		size_t len;
		FILE *f;

		if (e->d_name[0] < '0' || e->d_name[0] > '9')
			continue;
		snprintf(path, sizeof(path), "/proc/%s/cmdline", e->d_name);
		if (!(f = fopen(path, "r")))
			continue;
		len = fread(buf, 1, sizeof(buf) - 1, f);
		fclose(f);
		for (size_t i = 0; i < len; i++)
			if (!buf[i])
				buf[i] = ' ';
		buf[len] = 0;
		n += strstr(buf, needle) != NULL;
	}
	if (d)
		closedir(d);
	return n;
}

/* The local Slurm stops everything it started when the command fails with a job still
 * running: the job's processes (slurmstepd, the script, its sleep) outlive the daemons
 * unless the job is cancelled first. */
static void test_slurm_cleanup_on_failure(void)
{
	const char *work = tu_path("slurm-fail");
	char cmd[4096], needle[600], *out, *err;
	int rc;

	mkdir(work, 0700);
	snprintf(cmd, sizeof(cmd),
		 "tests/sweep/slurm-local.sh '%s' 60 sh -c 'sbatch -o \"$1/job.out\" --wrap "
		 "\"sleep 45\" || exit 1; until squeue -h -o %%t | grep -q R; do sleep 0.2; "
		 "done; exit 5' sh '%s'",
		 work, work);
	rc = sh(cmd, &out, &err);
	free(out);
	if (rc == 77) {
		fprintf(stderr, "\nSKIP: Slurm clean-up test: %s", err);
		free(err);
		return;
	}
	CU_ASSERT_EQUAL(rc, 5); /* the command's own status */
	if (rc != 5)
		fprintf(stderr, "\nslurm-local.sh exit %d: %s\n", rc, err);
	free(err);
	snprintf(needle, sizeof(needle), "%s/spool/", work);
	CU_ASSERT_EQUAL(count_procs_with(needle), 0); /* no job script left running */
	snprintf(needle, sizeof(needle), "%s/slurm.conf", work);
	CU_ASSERT_EQUAL(count_procs_with(needle), 0); /* nor a daemon */
}

int suite_sweep(void)
{
	CU_pSuite u, s;

	u = CU_add_suite("sweep_unit", NULL, NULL);
	if (!u || !CU_add_test(u, "command quoting and splitting", test_quote_split) ||
	    !CU_add_test(u, "job ids", test_job_id) ||
	    !CU_add_test(u, "--only selections and ranges", test_selection) ||
	    !CU_add_test(u, "raw CSV records", test_csv_record) ||
	    !CU_add_test(u, "merge: timed columns, quoting, missing", test_merge_extra_columns))
		return -1;
	if (tu_unit_only())
		return 0;
	s = CU_add_suite("sweep", setup, teardown);
	return !s || !CU_add_test(s, "plan lines", test_plan_lines) ||
	       !CU_add_test(s, "stable ids; timed jobs", test_plan_stable_ids_and_timed) ||
	       !CU_add_test(s, "plan usage errors", test_plan_usage_errors) ||
	       !CU_add_test(s, "run --jobs 2 equals one kvsim sim", test_local_equals_single_process) ||
	       !CU_add_test(s, "rerun skips done jobs", test_rerun_skips_done) ||
	       !CU_add_test(s, "GNU parallel -j 2 gives the same table", test_gnu_parallel) ||
	       !CU_add_test(s, "SIGKILL part-way, rerun, same table", test_kill_and_resume) ||
	       !CU_add_test(s, "two runners on one folder run each job once", test_concurrent_runners) ||
	       !CU_add_test(s, "damaged results are failed and rerun", test_damaged_results_rerun) ||
	       !CU_add_test(s, "a failing job is recorded and merged", test_failed_job) ||
	       !CU_add_test(s, "bad plan files", test_bad_plan_file) ||
	       !CU_add_test(s, "damaged plan files: FILE:LINE, exit 2", test_damaged_plan_files) ||
	       !CU_add_test(s, "Slurm job array of 24 tasks", test_slurm_array) ||
	       !CU_add_test(s, "local Slurm cleans up after a failure", test_slurm_cleanup_on_failure);
}
