/* test_cli.c - bin/kvsim end to end: output contract, exit codes, the real traces. */
#include <stdlib.h>
#include <string.h>

#include "test_util.h"

static const char *example(void)
{
	static char path[4096];

	if (!path[0])
		snprintf(path, sizeof(path), "%s",
			 tu_fixture("tests/fixtures/design-example.jsonl", "design-example.jsonl"));
	return path;
}

static void test_csv_contract(void)
{
	const char *args[] = {"--policy", "lru", "--capacity", "4,inf", "--format", "csv",
			      example(), NULL};
	char *out, *err;

	CU_ASSERT_EQUAL_FATAL(tu_run(args, NULL, &out, &err), 0);
	CU_ASSERT_EQUAL(strncmp(tu_line(out, 0),
				"trace,policy,capacity,capacity_blocks,requests,blocks,hit_blocks,"
				"block_hit_ratio,tokens,hit_tokens,token_hit_ratio,evictions", 120), 0);
	/* DESIGN.md worked example: 4/12 = 0.333333, 64/168 = 0.380952, 6 evictions */
	CU_ASSERT_STRING_EQUAL(tu_csv(out, 0, "capacity_blocks"), "4");
	CU_ASSERT_STRING_EQUAL(tu_csv(out, 0, "requests"), "4");
	CU_ASSERT_STRING_EQUAL(tu_csv(out, 0, "blocks"), "12");
	CU_ASSERT_STRING_EQUAL(tu_csv(out, 0, "hit_blocks"), "4");
	CU_ASSERT_STRING_EQUAL(tu_csv(out, 0, "block_hit_ratio"), "0.333333");
	CU_ASSERT_STRING_EQUAL(tu_csv(out, 0, "tokens"), "168");
	CU_ASSERT_STRING_EQUAL(tu_csv(out, 0, "hit_tokens"), "64");
	CU_ASSERT_STRING_EQUAL(tu_csv(out, 0, "token_hit_ratio"), "0.380952");
	CU_ASSERT_STRING_EQUAL(tu_csv(out, 0, "evictions"), "6");
	/* infinite: 5/12 = 0.416667, 80/168 = 0.476190; capacity_blocks empty */
	CU_ASSERT_STRING_EQUAL(tu_csv(out, 1, "capacity"), "inf");
	CU_ASSERT_STRING_EQUAL(tu_csv(out, 1, "capacity_blocks"), "");
	CU_ASSERT_STRING_EQUAL(tu_csv(out, 1, "block_hit_ratio"), "0.416667");
	CU_ASSERT_STRING_EQUAL(tu_csv(out, 1, "token_hit_ratio"), "0.476190");
	CU_ASSERT_STRING_EQUAL(tu_line(out, 3), ""); /* exactly two rows */
	free(out);
	free(err);
}

static void test_text_and_out_dir(void)
{
	const char *dir = tu_path("out/run1");
	const char *args[] = {"sim", "--trace", example(), "-c", "64GiB", "--out", dir, NULL};
	char *out, *err, *json, *csv;
	char p[4200];

	CU_ASSERT_EQUAL_FATAL(tu_run(args, NULL, &out, &err), 0);
	/* 64 GiB / 917,504 B per block = 74,898 blocks; the ceiling 5/12 = 0.4167 */
	CU_ASSERT_PTR_NOT_NULL(strstr(out, "74,898"));
	CU_ASSERT_PTR_NOT_NULL(strstr(out, "64.0 GiB"));
	CU_ASSERT_PTR_NOT_NULL(strstr(out, "block hit ratio 0.4167"));
	snprintf(p, sizeof(p), "%s/summary.json", dir);
	json = tu_slurp(p, NULL);
	CU_ASSERT_PTR_NOT_NULL_FATAL(json);
	CU_ASSERT_PTR_NOT_NULL(strstr(json, "\"kvsim_version\""));
	CU_ASSERT_PTR_NOT_NULL(strstr(json, "\"distinct_nodes\": 7"));
	CU_ASSERT_PTR_NOT_NULL(strstr(json, "\"capacity_blocks\": 74898"));
	snprintf(p, sizeof(p), "%s/results.csv", dir);
	csv = tu_slurp(p, NULL);
	CU_ASSERT_PTR_NOT_NULL_FATAL(csv);
	CU_ASSERT_STRING_EQUAL(tu_csv(csv, 0, "hit_blocks"), "5");
	free(json);
	free(csv);
	free(out);
	free(err);
}

static void test_stdin_and_deterministic(void)
{
	const char *a1[] = {"-c", "3,5", "-f", "csv", "-", NULL};
	const char *a2[] = {"-c", "3,5", "-f", "csv", "-j", "2", "-", NULL};
	char *data = tu_slurp("tests/fixtures/design-example.jsonl", NULL);
	char *o1, *o2;

	CU_ASSERT_EQUAL_FATAL(tu_run(a1, data, &o1, NULL), 0);
	CU_ASSERT_EQUAL_FATAL(tu_run(a2, data, &o2, NULL), 0);
	CU_ASSERT_STRING_EQUAL(o1, o2);
	CU_ASSERT_STRING_EQUAL(tu_csv(o1, 0, "trace"), "-");
	free(o1);
	free(o2);
	free(data);
}

struct usage_case {
	const char *args[8];
	const char *fragment;
};

static void test_exit_codes(void)
{
	static const struct usage_case cases[] = {
		{{"--capacity", "12XB", NULL}, "capacity '12XB' is not understood"},
		{{"--policy", "nosuch", NULL}, "unknown eviction policy 'nosuch'"},
		{{"--policy", "lru:x=1", NULL}, "'lru' has no parameter 'x'"},
		{{"--format", "xml", NULL}, "--format"},
		{{"--model", "gpt-9", "-c", "1GiB", NULL}, "unknown --model 'gpt-9'"},
		{{"--bogus", NULL}, "unrecognized option"},
		{{"/nonexistent.jsonl", NULL}, "/nonexistent.jsonl: No such file"},
		{{"--out", "/dev/null", NULL}, "/dev/null: Not a directory"}, /* exit 1 before */
		{{"analyse", NULL}, "unknown command 'analyse'"}, /* "unexpected argument" before */
		/* a bad policy value is reported before the trace is read (it came after) */
		{{"--policy", "lru,wa:window_s=0", "/nonexistent.jsonl", NULL},
		 "--policy wa:window_s=0: wa: window_s=0 is not a number"},
		{{"--timed", "--policy", "s3fifo:small=2", "/nonexistent.jsonl", NULL},
		 "small=2 is not a number in [0, 1]"},
		{{"--router", "cache-aware:cache_threshold=2", "/nonexistent.jsonl", NULL},
		 "--router cache-aware:cache_threshold=2: cache-aware: cache_threshold=2 is not"},
		{{"--capacity", "12XB", "/nonexistent.jsonl", NULL}, "capacity '12XB'"},
		{{"--timed", "--capacity", "1%,12XB", "/nonexistent.jsonl", NULL}, "capacity '12XB'"},
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const char *args[10];
		char *out, *err;
		int n = 0;

		while (cases[i].args[n])
			args[n] = cases[i].args[n], n++;
		if (strcmp(args[n - 1], "/nonexistent.jsonl"))
			args[n++] = example();
		args[n] = NULL;
		CU_ASSERT_EQUAL(tu_run(args, NULL, &out, &err), 2);
		if (!strstr(err, cases[i].fragment)) {
			fprintf(stderr, "\ncase %zu: stderr '%s' lacks '%s'\n", i, err,
				cases[i].fragment);
			CU_FAIL("wrong message");
		}
		CU_ASSERT_STRING_EQUAL(out, ""); /* nothing half-written on stdout */
		free(out);
		free(err);
	}
}

static void test_bad_trace_file_line(void)
{
	const char *p = tu_write("bad.jsonl", "{\"timestamp\": 0, \"input_length\": 10, "
					      "\"output_length\": 1, \"hash_ids\": [1]}\n"
					      "{\"timestamp\": 5, \"input_length\": 10}\n");
	const char *args[] = {p, NULL};
	const char *lenient[] = {"--lenient", "-f", "csv", p, NULL};
	char *out, *err, want[4200];

	CU_ASSERT_EQUAL(tu_run(args, NULL, &out, &err), 2);
	snprintf(want, sizeof(want), "%s:2: missing field \"output_length\"", p);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, want));
	free(out);
	free(err);
	CU_ASSERT_EQUAL(tu_run(lenient, NULL, &out, &err), 0);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "--lenient skipped 1 bad records"));
	CU_ASSERT_STRING_EQUAL(tu_csv(out, 0, "requests"), "1");
	free(out);
	free(err);
}

static void test_help_version(void)
{
	const char *v[] = {"--version", NULL}, *h[] = {"--help", NULL}, *sh[] = {"sim", "--help", NULL};
	char *out;

	CU_ASSERT_EQUAL(tu_run(v, NULL, &out, NULL), 0);
	CU_ASSERT_EQUAL(strncmp(out, "kvsim ", 6), 0);
	free(out);
	CU_ASSERT_EQUAL(tu_run(h, NULL, &out, NULL), 0);
	CU_ASSERT_PTR_NOT_NULL(strstr(out, "sim"));
	free(out);
	CU_ASSERT_EQUAL(tu_run(sh, NULL, &out, NULL), 0);
	CU_ASSERT_PTR_NOT_NULL(strstr(out, "--capacity"));
	CU_ASSERT_PTR_NOT_NULL(strstr(out, "example"));
	free(out);
}

/* The known figures of ../shared/traces/README.md, to 4 decimals. */
static void test_real_conversation_ceiling(void)
{
	const char *p = tu_real_trace("mooncake_fast25_conversation_trace.jsonl.gz");
	const char *args[] = {"--capacity", "inf", "--format", "json", p, NULL};
	char *out, *err;

	if (!p)
		return;
	CU_ASSERT_EQUAL_FATAL(tu_run(args, NULL, &out, &err), 0);
	CU_ASSERT_PTR_NOT_NULL(strstr(out, "\"requests\": 12031"));
	CU_ASSERT_PTR_NOT_NULL(strstr(out, "\"blocks\": 288500"));
	CU_ASSERT_PTR_NOT_NULL(strstr(out, "\"distinct_nodes\": 182790"));
	free(out);
	free(err);
	{
		const char *a2[] = {"--capacity", "inf", "--format", "csv", p, NULL};
		double bh, th;

		CU_ASSERT_EQUAL_FATAL(tu_run(a2, NULL, &out, &err), 0);
		bh = atof(tu_csv(out, 0, "block_hit_ratio"));
		th = atof(tu_csv(out, 0, "token_hit_ratio"));
		CU_ASSERT_DOUBLE_EQUAL(bh, 0.3664, 0.00005);
		CU_ASSERT_DOUBLE_EQUAL(th, 0.3736, 0.00005);
		free(out);
		free(err);
	}
}

static void test_real_synthetic_ceiling(void)
{
	const char *p = tu_real_trace("mooncake_fast25_synthetic_trace.jsonl.gz");
	const char *args[] = {"--capacity", "inf", "--format", "csv", p, NULL};
	char *out, *err;

	if (!p)
		return;
	CU_ASSERT_EQUAL_FATAL(tu_run(args, NULL, &out, &err), 0);
	CU_ASSERT_STRING_EQUAL(tu_csv(out, 0, "requests"), "3993");
	CU_ASSERT_STRING_EQUAL(tu_csv(out, 0, "blocks"), "121877");
	CU_ASSERT_DOUBLE_EQUAL(atof(tu_csv(out, 0, "block_hit_ratio")), 0.6396, 0.00005);
	/* 43,924 distinct blocks: the ceiling misses each exactly once */
	CU_ASSERT_EQUAL(atoll(tu_csv(out, 0, "blocks")) - atoll(tu_csv(out, 0, "hit_blocks")),
			43924);
	free(out);
	free(err);
}

/*
 * capacity_bytes = capacity_blocks x block_size x KV bytes per token. 10^15 blocks of the
 * example (16 tokens, 57,344 B/token) are 10^15 x 917,504 = 917,504,000,000,000,000,000 B,
 * beyond 2^64 (about 1.8e19): it must be printed exactly in the CSV (not wrapped modulo
 * 2^64) and never as a negative number in JSON.
 */
static void test_capacity_bytes_large(void)
{
	const char *ac[] = {"-c", "1000000000000000blocks", "-f", "csv", example(), NULL};
	const char *aj[] = {"-c", "1000000000000000blocks", "-f", "json", example(), NULL};
	char *out, *err, *p;

	CU_ASSERT_EQUAL_FATAL(tu_run(ac, NULL, &out, &err), 0);
	CU_ASSERT_STRING_EQUAL(tu_csv(out, 0, "capacity_blocks"), "1000000000000000");
	CU_ASSERT_STRING_EQUAL(tu_csv(out, 0, "capacity_bytes"), "917504000000000000000");
	free(out);
	free(err);
	CU_ASSERT_EQUAL_FATAL(tu_run(aj, NULL, &out, &err), 0);
	p = strstr(out, "\"capacity_bytes\": ");
	CU_ASSERT_PTR_NOT_NULL_FATAL(p);
	p += strlen("\"capacity_bytes\": ");
	CU_ASSERT_NOT_EQUAL(*p, '-');
	CU_ASSERT_DOUBLE_EQUAL(atof(p), 9.17504e20, 1e15);
	free(out);
	free(err);
}

/*
 * The printed ceiling follows --hit-rule: with vllm, the worked example at infinite capacity
 * caches only full blocks: r0 (L=40) caches a,b (c is partial); r1 (L=48) hits a,b (at most
 * floor(47/16) = 2) and caches d; r2 (L=20) caches e; r3 (L=60) hits a,b, c was never cached.
 * 4/12 = 0.3333 blocks and 64/168 = 0.3810 tokens, which is also the inf row; the prefix
 * rule's ceiling 5/12 = 0.4167 is not reachable under this rule.
 */
static void test_ceiling_follows_hit_rule(void)
{
	const char *at[] = {"--hit-rule", "vllm", "-c", "inf", example(), NULL};
	const char *aj[] = {"--hit-rule", "vllm", "-c", "inf", "-f", "json", example(), NULL};
	char *out, *err, *p;

	CU_ASSERT_EQUAL_FATAL(tu_run(at, NULL, &out, &err), 0);
	CU_ASSERT_PTR_NOT_NULL(strstr(out, "ceiling   block hit ratio 0.3333, token hit ratio 0.3810"));
	free(out);
	free(err);
	CU_ASSERT_EQUAL_FATAL(tu_run(aj, NULL, &out, &err), 0);
	p = strstr(out, "\"ceiling\"");
	CU_ASSERT_PTR_NOT_NULL_FATAL(p);
	/* the first counts after "ceiling" are the ceiling's own (the rows come later) */
	CU_ASSERT_EQUAL(strncmp(strstr(p, "\"hit_blocks\": "), "\"hit_blocks\": 4,", 16), 0);
	CU_ASSERT_EQUAL(strncmp(strstr(p, "\"hit_tokens\": "), "\"hit_tokens\": 64,", 17), 0);
	free(out);
	free(err);
	{
		/* timed mode prints the same ceiling (it showed the prefix rule's 5/12) */
		const char *tt[] = {"--timed", "--cost", "zero", "--hit-rule", "vllm", "-c", "inf",
				    example(), NULL};

		CU_ASSERT_EQUAL_FATAL(tu_run(tt, NULL, &out, &err), 0);
		CU_ASSERT_PTR_NOT_NULL(strstr(out, "ceiling block hit ratio 0.3333"));
		CU_ASSERT_PTR_NULL(strstr(out, "0.4167"));
		free(out);
		free(err);
	}
}

/* More than 64 capacities in one run (a miss-ratio curve by hand): capacities 1..100 on the
 * worked example give 100 rows; from 7 blocks (every distinct node) on, no eviction, so
 * row 100 is the ceiling 5/12, and row 4 is DESIGN.md's 4/12. */
static void test_many_capacities(void)
{
	char caps[512] = "";
	const char *args[] = {"-c", caps, "-f", "csv", example(), NULL};
	char *out, *err;

	for (int i = 1; i <= 100; i++)
		snprintf(caps + strlen(caps), sizeof(caps) - strlen(caps), "%s%d", i > 1 ? "," : "", i);
	CU_ASSERT_EQUAL_FATAL(tu_run(args, NULL, &out, &err), 0);
	CU_ASSERT_STRING_EQUAL(tu_csv(out, 3, "hit_blocks"), "4");
	CU_ASSERT_STRING_EQUAL(tu_csv(out, 99, "capacity_blocks"), "100");
	CU_ASSERT_STRING_EQUAL(tu_csv(out, 99, "hit_blocks"), "5");
	CU_ASSERT_STRING_EQUAL(tu_line(out, 101), ""); /* header + 100 rows */
	free(out);
	free(err);
	{
		/* timed mode too (it stopped at 64 items per list); with --cost zero its hits
		 * are the cache mode's */
		const char *tt[] = {"--timed", "--cost", "zero", "-c", caps, "-f", "csv",
				    example(), NULL};

		CU_ASSERT_EQUAL_FATAL(tu_run(tt, NULL, &out, &err), 0);
		CU_ASSERT_STRING_EQUAL(tu_csv(out, 3, "hit_blocks"), "4");
		CU_ASSERT_STRING_EQUAL(tu_csv(out, 99, "capacity_blocks"), "100");
		CU_ASSERT_STRING_EQUAL(tu_csv(out, 99, "hit_blocks"), "5");
		CU_ASSERT_STRING_EQUAL(tu_line(out, 101), "");
		free(out);
		free(err);
	}
}

/* The text table stays aligned with a long policy spec: header and rows have the same
 * length (every column has a fixed width, the first two as wide as their longest entry;
 * "s3fifo:small=0.2,ghost=0" overflowed the 16-wide policy column). */
static void test_text_alignment(void)
{
	const char *args[] = {"--policy", "lru,s3fifo:small=0.2,ghost=0", "-c", "2,inf", example(),
			      NULL};
	char *out, *err, *p;
	size_t len = 0;
	int rows = 0;

	CU_ASSERT_EQUAL_FATAL(tu_run(args, NULL, &out, &err), 0);
	p = strstr(out, "\npolicy ");
	CU_ASSERT_PTR_NOT_NULL_FATAL(p);
	for (p++; *p && *p != '\n';) {
		size_t n = strcspn(p, "\n");

		if (!len)
			len = n;
		CU_ASSERT_EQUAL(n, len);
		rows++;
		p += n + (p[n] == '\n');
	}
	CU_ASSERT_EQUAL(rows, 5); /* header + 2 policies x 2 capacities */
	free(out);
	free(err);
}

int suite_cli(void)
{
	CU_pSuite s;

	if (tu_unit_only())
		return 0;
	s = CU_add_suite("cli", NULL, NULL);
	return !s || !CU_add_test(s, "CSV contract on the worked example", test_csv_contract) ||
	       !CU_add_test(s, "text output and --out", test_text_and_out_dir) ||
	       !CU_add_test(s, "stdin, -j 2 gives the same bytes", test_stdin_and_deterministic) ||
	       !CU_add_test(s, "usage errors exit 2", test_exit_codes) ||
	       !CU_add_test(s, "bad trace FILE:LINE and --lenient", test_bad_trace_file_line) ||
	       !CU_add_test(s, "--help and --version", test_help_version) ||
	       !CU_add_test(s, "capacity_bytes beyond 2^64", test_capacity_bytes_large) ||
	       !CU_add_test(s, "more than 64 capacities", test_many_capacities) ||
	       !CU_add_test(s, "text table aligned with long specs", test_text_alignment) ||
	       !CU_add_test(s, "the ceiling follows --hit-rule", test_ceiling_follows_hit_rule) ||
	       !CU_add_test(s, "real trace: conversation ceiling", test_real_conversation_ceiling) ||
	       !CU_add_test(s, "real trace: synthetic ceiling", test_real_synthetic_ceiling);
}
