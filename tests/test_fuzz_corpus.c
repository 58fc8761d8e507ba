/*
 * test_fuzz_corpus.c - the fuzz targets as unit tests, and regression tests for the bugs
 * fuzzing found.
 *
 * Every file under tests/fuzz/corpus/NAME/ (the seeds plus every crash fuzzing found, added
 * with its fix) is replayed through the same checks the libFuzzer target NAME runs
 * (tests/fuzz/fuzz_NAME.c, included here with its entry point renamed), so `make test` and
 * the ASan build of `make check` exercise them without clang. A failed check aborts the
 * test binary with the target's message. The regression tests below each name the input
 * that broke the core before its fix.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <stdlib.h>
#include <string.h>

#include "test_util.h"

#define LLVMFuzzerTestOneInput fuzz_one_record
#include "fuzz/fuzz_record.c"
#undef LLVMFuzzerTestOneInput
#undef DIE
#define LLVMFuzzerTestOneInput fuzz_one_capacity
#include "fuzz/fuzz_capacity.c"
#undef LLVMFuzzerTestOneInput
#define LLVMFuzzerTestOneInput fuzz_one_params
#include "fuzz/fuzz_params.c"
#undef LLVMFuzzerTestOneInput
#define LLVMFuzzerTestOneInput fuzz_one_trace_load
#include "fuzz/fuzz_trace_load.c"
#undef LLVMFuzzerTestOneInput
#define LLVMFuzzerTestOneInput fuzz_one_kvt
#include "fuzz/fuzz_kvt.c"
#undef LLVMFuzzerTestOneInput
#define LLVMFuzzerTestOneInput fuzz_one_sweep
#include "fuzz/fuzz_sweep.c"
#undef LLVMFuzzerTestOneInput
#define LLVMFuzzerTestOneInput fuzz_one_sse
#include "fuzz/fuzz_sse.c"
#undef LLVMFuzzerTestOneInput
#undef MAX_LEN
#define LLVMFuzzerTestOneInput fuzz_one_serve_request
#include "fuzz/fuzz_serve_request.c"
#undef LLVMFuzzerTestOneInput
#define LLVMFuzzerTestOneInput fuzz_one_stream_event
#define count stream_event_count
#include "fuzz/fuzz_stream_event.c"
#undef count
#undef LLVMFuzzerTestOneInput

static const struct {
	const char *name;
	int (*one)(const uint8_t *, size_t);
} targets[] = {
	{"record", fuzz_one_record},
	{"capacity", fuzz_one_capacity},
	{"params", fuzz_one_params},
	{"trace_load", fuzz_one_trace_load},
	{"kvt", fuzz_one_kvt},
	{"sweep", fuzz_one_sweep},
	{"sse", fuzz_one_sse},
	{"serve_request", fuzz_one_serve_request},
	{"stream_event", fuzz_one_stream_event},
};

static void test_replay_corpus(void)
{
	for (size_t i = 0; i < sizeof(targets) / sizeof(targets[0]); i++) {
		char dir[256];
		DIR *d;
		struct dirent *e;
		int n = 0;

		snprintf(dir, sizeof(dir), "tests/fuzz/corpus/%s", targets[i].name);
		d = opendir(dir);
		CU_ASSERT_PTR_NOT_NULL_FATAL(d);
		while ((e = readdir(d))) {
			char path[600];
			size_t len;
			char *data;

			if (e->d_name[0] == '.')
				continue;
			snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
			data = tu_slurp(path, &len);
			CU_ASSERT_PTR_NOT_NULL_FATAL(data);
			CU_ASSERT_EQUAL(targets[i].one((const uint8_t *)data, len), 0);
			free(data);
			n++;
		}
		closedir(d);
		CU_ASSERT(n >= 5); /* every target has a real seed corpus */
	}
}

/* fuzz_capacity found: strtod() reads hex floats, so "0XE99" was accepted as 3,737 blocks
 * and "0x1p3GiB" as 8 GiB. The documented grammar is decimal only. */
static void test_capacity_hex_rejected(void)
{
	static const char *const bad[] = {"0XE99", "0x10", "0x1p3GiB", "0x.8%"};
	struct kv_capacity c;
	struct kv_err err = {{0}};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		CU_ASSERT_EQUAL(kv_capacity_parse(bad[i], &c, &err), KV_EINPUT);
		CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "not understood"));
	}
	/* decimal exponents stay fine: 1e3 blocks = 1,000 */
	CU_ASSERT_EQUAL_FATAL(kv_capacity_parse("1e3", &c, &err), KV_OK);
	CU_ASSERT_EQUAL(c.amount, 1000.0);
}

static int parse_rec(const char *s, struct kv_record *r, char *m)
{
	r->max_ids = 100;
	return kv_record_parse(s, s + strlen(s), r, m, 512);
}

/* The record differential found: "-0" is the JSON integer 0 (jansson reads it so), but
 * hash_ids refused it as negative. */
static void test_record_minus_zero_id(void)
{
	struct kv_record r = {0};
	char m[512];

	CU_ASSERT_EQUAL(parse_rec("{\"hash_ids\":[5,-0,7]}", &r, m), 0);
	CU_ASSERT_EQUAL(r.nids, 3);
	CU_ASSERT_EQUAL(r.ids[1], 0); /* -0 = 0 */
	CU_ASSERT_EQUAL(r.ids[2], 7);
	/* still refused: real negatives, "-01", "-0.0", a lone "-" */
	CU_ASSERT_EQUAL(parse_rec("{\"hash_ids\":[-1]}", &r, m), -1);
	CU_ASSERT_PTR_NOT_NULL(strstr(m, "non-negative"));
	CU_ASSERT_EQUAL(parse_rec("{\"hash_ids\":[-01]}", &r, m), -1);
	CU_ASSERT_EQUAL(parse_rec("{\"hash_ids\":[-0.0]}", &r, m), -1);
	CU_ASSERT_EQUAL(parse_rec("{\"hash_ids\":[-]}", &r, m), -1);
	free(r.ids);
}

/* The record differential found: a timestamp written with more than 127 characters (valid
 * JSON, e.g. 0.000...0001 with 150 zeros) was refused as "too many digits". */
static void test_record_long_timestamp(void)
{
	struct kv_record r = {0};
	char m[512], s[400];

	/* 1 followed by 200 zero decimals and "e2": 1.000... x 10^2 = 100 exactly */
	snprintf(s, sizeof(s), "{\"timestamp\":1.%0200de2}", 0);
	CU_ASSERT_EQUAL_FATAL(parse_rec(s, &r, m), 0);
	CU_ASSERT_EQUAL(r.timestamp, 100.0);
	/* 150 zeros then 1: 1e-151, which strtod rounds to the same double */
	snprintf(s, sizeof(s), "{\"timestamp\":0.%0150d1}", 0);
	CU_ASSERT_EQUAL_FATAL(parse_rec(s, &r, m), 0);
	CU_ASSERT_EQUAL(r.timestamp, 1e-151);
	free(r.ids);
}

/* Found while building tests/bad: with --lenient, a bad FIRST line left the format
 * undetected and the block size 0, so the next record divided by zero (SIGFPE). */
static void test_lenient_bad_first_line(void)
{
	struct kv_load_opts o = {.lenient = 1};
	struct kv_err err = {{0}};
	struct kv_trace *t;
	int rc;

	t = tu_load_str("lenient-first.jsonl",
			"garbage\n"
			"{\"timestamp\": 1, \"input_length\": 600, \"output_length\": 5, "
			"\"hash_ids\": [1,2]}\n",
			&o, &rc, &err);
	CU_ASSERT_EQUAL_FATAL(rc, KV_OK);
	CU_ASSERT_EQUAL(t->nreq, 1);
	CU_ASSERT_EQUAL(t->format, KV_FMT_MOONCAKE); /* no chat_id: Mooncake */
	CU_ASSERT_EQUAL(t->block_size, 512);         /* Mooncake's default */
	CU_ASSERT_EQUAL(t->req[0].nblocks, 2);       /* ceil(600/512) = 2 */
	CU_ASSERT_EQUAL(t->skipped.total, 1);
	trace_free(t);
}

int suite_fuzz_corpus(void)
{
	CU_pSuite s = CU_add_suite("fuzz_corpus", NULL, NULL);

	return !s || !CU_add_test(s, "replay tests/fuzz/corpus", test_replay_corpus) ||
	       !CU_add_test(s, "capacity: hex floats rejected", test_capacity_hex_rejected) ||
	       !CU_add_test(s, "record: -0 in hash_ids", test_record_minus_zero_id) ||
	       !CU_add_test(s, "record: long timestamp", test_record_long_timestamp) ||
	       !CU_add_test(s, "loader: --lenient with a bad first line",
			    test_lenient_bad_first_line);
}
