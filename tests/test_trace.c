/* test_trace.c - loading, chain interning, and every kind of bad input. */
#include <string.h>
#include <stdlib.h>
#include <zlib.h>

#include "test_util.h"
#include "cache.h"
#include "trace.h"

#define EX_R0 "{\"chat_id\":0,\"parent_chat_id\":-1,\"timestamp\":0.0,\"input_length\":40,\"output_length\":10,\"type\":\"text\",\"turn\":1,\"hash_ids\":[1,2,3]}\n"
#define EX_R1 "{\"chat_id\":1,\"parent_chat_id\":-1,\"timestamp\":1.0,\"input_length\":48,\"output_length\":10,\"type\":\"text\",\"turn\":1,\"hash_ids\":[1,2,4]}\n"
#define EX_R2 "{\"chat_id\":2,\"parent_chat_id\":-1,\"timestamp\":2.0,\"input_length\":20,\"output_length\":10,\"type\":\"search\",\"turn\":1,\"hash_ids\":[5,2]}\n"
#define EX_R3 "{\"chat_id\":3,\"parent_chat_id\":0,\"timestamp\":3.0,\"input_length\":60,\"output_length\":10,\"type\":\"text\",\"turn\":2,\"hash_ids\":[1,2,3,6]}\n"
#define EXAMPLE EX_R0 EX_R1 EX_R2 EX_R3

static void test_example_interning(void)
{
	struct kv_err err;
	int rc;
	struct kv_trace *t = tu_load_str("ex.jsonl", EXAMPLE, NULL, &rc, &err);

	CU_ASSERT_EQUAL_FATAL(rc, KV_OK);
	CU_ASSERT_EQUAL(t->format, KV_FMT_BAILIAN);
	CU_ASSERT_EQUAL(t->block_size, 16);
	CU_ASSERT_EQUAL(t->nreq, 4);
	CU_ASSERT_EQUAL(t->nblk, 12);
	CU_ASSERT_EQUAL(t->input_tokens, 168);
	/* nodes a=(ROOT,1) b=(a,2) c=(b,3) d=(b,4) e=(ROOT,5) f=(e,2) g=(c,6): 7 distinct */
	CU_ASSERT_EQUAL_FATAL(t->nnodes, 7);
	const uint32_t *r0 = trace_req_nodes(t, 0), *r1 = trace_req_nodes(t, 1);
	const uint32_t *r2 = trace_req_nodes(t, 2), *r3 = trace_req_nodes(t, 3);
	CU_ASSERT_EQUAL(r1[0], r0[0]); /* a */
	CU_ASSERT_EQUAL(r1[1], r0[1]); /* b */
	CU_ASSERT_NOT_EQUAL(r1[2], r0[2]); /* d != c */
	CU_ASSERT_NOT_EQUAL(r2[1], r0[1]); /* f is not b although both are id 2 */
	CU_ASSERT_EQUAL(t->node_hash[r2[1]], 2);
	CU_ASSERT_EQUAL(t->node_parent[r2[1]], r2[0]);
	CU_ASSERT_EQUAL(t->node_parent[r0[0]], KV_NO_NODE);
	CU_ASSERT_EQUAL(trace_node_depth(t)[r3[3]], 3);
	CU_ASSERT_EQUAL(r3[2], r0[2]); /* c shared by r0 and r3 */
	CU_ASSERT_EQUAL(t->req[3].parent_row, 0);
	CU_ASSERT_EQUAL(t->req[0].parent_row, KV_NO_ROW);
	CU_ASSERT_STRING_EQUAL(t->type_names[t->req[2].type], "search");
	CU_ASSERT_EQUAL(t->req[3].turn, 2);

	/* ceiling: r1 hits a,b (32 tokens); r3 hits a,b,c (48): 5/12 blocks, 80/168 tokens */
	struct kv_ceiling c;
	CU_ASSERT_EQUAL(cache_ceiling(t, KV_HIT_PREFIX, &c), 0);
	CU_ASSERT_EQUAL(c.hit_blocks, 5);
	CU_ASSERT_EQUAL(c.blocks, 12);
	CU_ASSERT_EQUAL(c.hit_tokens, 80);
	CU_ASSERT_EQUAL(c.tokens, 168);
	trace_free(t);
}

static void test_gzip_and_same_result(void)
{
	const char *p = tu_path("ex.jsonl.gz");
	gzFile gz = gzopen(p, "wb");
	struct kv_trace *t1, *t2;
	struct kv_err err;
	int rc;

	CU_ASSERT_PTR_NOT_NULL_FATAL(gz);
	gzputs(gz, EXAMPLE);
	gzclose(gz);
	CU_ASSERT_EQUAL_FATAL(trace_load(p, NULL, &t1, &err), KV_OK);
	t2 = tu_load_str("ex2.jsonl", EXAMPLE, NULL, &rc, &err);
	CU_ASSERT_EQUAL_FATAL(rc, KV_OK);
	CU_ASSERT_EQUAL(t1->nnodes, t2->nnodes);
	CU_ASSERT_EQUAL(trace_checksum(t1), trace_checksum(t2));
	CU_ASSERT_EQUAL(t1->source_bytes, strlen(EXAMPLE));
	trace_free(t1);
	trace_free(t2);
}

static void test_mooncake(void)
{
	struct kv_err err;
	int rc;
	/* 6758 tokens / 512 -> 14 blocks would be needed; use short records */
	struct kv_trace *t = tu_load_str(
		"mc.jsonl",
		"{\"timestamp\": 0, \"input_length\": 600, \"output_length\": 5, \"hash_ids\": [0, 1]}\n"
		"{\"timestamp\": 1500, \"input_length\": 512, \"output_length\": 5, \"hash_ids\": [0]}\n"
		"{\"timestamp\": 1500, \"input_length\": 1025, \"output_length\": 5, \"hash_ids\": [0, 1, 2]}",
		NULL, &rc, &err);

	CU_ASSERT_EQUAL_FATAL(rc, KV_OK);
	CU_ASSERT_EQUAL(t->format, KV_FMT_MOONCAKE);
	CU_ASSERT_EQUAL(t->block_size, 512);
	CU_ASSERT_EQUAL(t->nreq, 3); /* last line has no newline */
	CU_ASSERT_EQUAL(t->req[1].ts_s, 1.5); /* ms -> s */
	CU_ASSERT_EQUAL(t->req[2].chat_id, 2); /* row number */
	CU_ASSERT_EQUAL(t->nnodes, 3);
	trace_free(t);
}

static void test_sort_option(void)
{
	struct kv_load_opts o = {.sort = 1};
	struct kv_err err;
	int rc;
	struct kv_trace *t = tu_load_str("unsorted.jsonl", EX_R1 EX_R0, &o, &rc, &err);

	CU_ASSERT_EQUAL_FATAL(rc, KV_OK);
	CU_ASSERT_EQUAL(t->req[0].chat_id, 0); /* sorted by time */
	CU_ASSERT_EQUAL(t->req[0].line, 2);
	trace_free(t);
	t = tu_load_str("unsorted2.jsonl", EX_R1 EX_R0, NULL, &rc, &err);
	CU_ASSERT_EQUAL(rc, KV_EINPUT);
	CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "unsorted2.jsonl:2: timestamp 0 goes backwards"));
}

struct bad {
	const char *content;
	const char *fragment; /* expected after "PATH:" */
};

static void test_bad_inputs(void)
{
	static const struct bad cases[] = {
		{EX_R0 "{\"chat_id\":1,\"parent_chat_id\":-1,\"timestamp\":1,\"input_length\":48,"
		       "\"output_length\":1,\"type\":\"text\",\"turn\":1,\"hash_ids\":[1,2]}\n",
		 "2: hash_ids has 2 entries but input_length 48 needs ceil(48/16) = 3"},
		{EX_R0 "{\"chat_id\":1,\"parent_chat_id\":-1,\"timestamp\":1,\"input_length\":-4,"
		       "\"output_length\":1,\"type\":\"text\",\"turn\":1,\"hash_ids\":[]}\n",
		 "2: input_length -4 is out of range"},
		{EX_R0 "{\"chat_id\":1,\"parent_chat_id\":-1,\"timestamp\":1,\"input_length\":4,"
		       "\"output_length\":1,\"type\":\"text\",\"hash_ids\":[3]}\n",
		 "2: missing field \"turn\""},
		{EX_R0 "{\"chat_id\":\"1\"}\n", "2: \"chat_id\" must be an integer"},
		{EX_R0 "\n\n{broken\n", "4: object key expected"},
		{EX_R0 EX_R0, "2: chat_id 0 already used on line 1"},
		{EX_R1 EX_R0, "2: timestamp 0 goes backwards"},
		{"", "1: no records in the trace"},
		{"  \n\n", "2: no records in the trace"},
		{EX_R0 "{\"chat_id\":9,\"parent_chat_id\":9,\"timestamp\":5,\"input_length\":1,"
		       "\"output_length\":1,\"type\":\"text\",\"turn\":1,\"hash_ids\":[3]}\n",
		 "2: chat_id 9 is its own parent"},
	};
	char name[32];

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct kv_err err;
		char want[512];
		int rc;
		struct kv_trace *t;

		snprintf(name, sizeof(name), "bad%zu.jsonl", i);
		t = tu_load_str(name, cases[i].content, NULL, &rc, &err);
		CU_ASSERT_PTR_NULL(t);
		CU_ASSERT_EQUAL(rc, KV_EINPUT);
		snprintf(want, sizeof(want), "%s:%s", tu_path(name), cases[i].fragment);
		if (strncmp(err.msg, want, strlen(want))) {
			fprintf(stderr, "\ncase %zu: got '%s'\n  expected prefix '%s'\n", i, err.msg,
				want);
			CU_FAIL("wrong error");
		}
		trace_free(t);
	}
}

static void test_truncated_gzip(void)
{
	const char *p = tu_path("trunc.jsonl.gz");
	gzFile gz = gzopen(p, "wb");
	size_t len;
	char *data;
	struct kv_trace *t;
	struct kv_err err;

	for (int i = 0; i < 200; i++)
		gzprintf(gz, "{\"timestamp\": %d, \"input_length\": 10, \"output_length\": 1, "
			     "\"hash_ids\": [%d]}\n", i, i);
	gzclose(gz);
	data = tu_slurp(p, &len);
	tu_write_bytes("trunc.jsonl.gz", data, len / 2); /* cut in the middle */
	free(data);
	CU_ASSERT_EQUAL(trace_load(p, NULL, &t, &err), KV_EINPUT);
	CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "bad gzip data"));
	CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "trunc.jsonl.gz:"));
}

static void test_paths(void)
{
	struct kv_trace *t;
	struct kv_err err;

	CU_ASSERT_EQUAL(trace_load("/nonexistent/x.jsonl", NULL, &t, &err), KV_EINPUT);
	CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "No such file"));
	CU_ASSERT_EQUAL(trace_load("/tmp", NULL, &t, &err), KV_EINPUT);
	CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "is a directory"));
}

static void test_lenient(void)
{
	struct kv_load_opts o = {.lenient = 1};
	struct kv_err err;
	int rc;
	struct kv_trace *t = tu_load_str(
		"len.jsonl",
		EX_R0 "garbage\n" EX_R0 "{\"chat_id\":\"x\"}\n" EX_R1 "also garbage\n", &o, &rc, &err);

	CU_ASSERT_EQUAL_FATAL(rc, KV_OK);
	CU_ASSERT_EQUAL(t->nreq, 2);
	CU_ASSERT_EQUAL(t->skipped.total, 4);
	/* reasons: "a record must be a JSON object" x2, duplicate chat_id x1, mistyped x1 */
	CU_ASSERT_EQUAL(t->skipped.nreasons, 3);
	CU_ASSERT_EQUAL(t->skipped.r[0].count, 2);
	CU_ASSERT_EQUAL(t->skipped.r[0].first_line, 2);
	trace_free(t);
}

/* --lenient counts by the kind of reason, numbers aside: a Mooncake trace whose first record
 * is at 100 s, then 19 records at 1..19 s, each going backwards (a skipped record does not
 * move the last timestamp) with its own values in the message, then one at -5e3: two kinds,
 * 19 "timestamp 1000 goes backwards ..." (the first one's message, in the file's ms) first
 * on line 2, and 1 "negative timestamp -5000" on line 21 (each backwards record was a reason of its own, and the
 * 16 slots filled up). */
static void test_lenient_reason_kinds(void)
{
	struct kv_load_opts o = {.lenient = 1};
	struct kv_err err;
	char text[4096];
	size_t off = 0;
	int rc;

	off += (size_t)snprintf(text + off, sizeof(text) - off,
				"{\"timestamp\":100000,\"input_length\":512,\"output_length\":1,"
				"\"hash_ids\":[0]}\n");
	for (int k = 1; k <= 19; k++)
		off += (size_t)snprintf(text + off, sizeof(text) - off,
					"{\"timestamp\":%d,\"input_length\":512,"
					"\"output_length\":1,\"hash_ids\":[%d]}\n",
					k * 1000, k);
	snprintf(text + off, sizeof(text) - off, "{\"timestamp\":-5e3,\"input_length\":512,"
		 "\"output_length\":1,\"hash_ids\":[99]}\n");
	struct kv_trace *t = tu_load_str("back.jsonl", text, &o, &rc, &err);

	CU_ASSERT_EQUAL_FATAL(rc, KV_OK);
	CU_ASSERT_EQUAL(t->nreq, 1);
	CU_ASSERT_EQUAL(t->skipped.total, 20);
	CU_ASSERT_EQUAL_FATAL(t->skipped.nreasons, 2);
	CU_ASSERT_EQUAL(t->skipped.r[0].count, 19);
	CU_ASSERT_EQUAL(t->skipped.r[0].first_line, 2);
	CU_ASSERT_EQUAL(strncmp(t->skipped.r[0].reason, "timestamp 1000 goes backwards", 29), 0);
	CU_ASSERT_EQUAL(t->skipped.r[1].count, 1);
	CU_ASSERT_EQUAL(t->skipped.r[1].first_line, 21);
	CU_ASSERT_STRING_EQUAL(t->skipped.r[1].reason, "negative timestamp -5000");
	trace_free(t);
}

/* More kinds of reason than kv_skip_stats has slots: after a valid record, 19 bad ones (lines
 * 2-20): a duplicate key for each of the 8 keys, then each key with a value of the wrong
 * type, then 3 more. Kinds in order of first appearance: lines 2-16 give 15 kinds (line 9,
 * {"type":1,"type":1}, fails as "type must be a string", the same kind as line 17,
 * {"type":1}); lines 18-20 are 3 more kinds, counted under "other reasons" in the last
 * slot, first on line 18 (before, the 16th kind's text counted them all). Every reason is
 * whole: the messages end in "found a string" where a key's value was "x". */
static void test_lenient_many_reasons(void)
{
	static const char *const keys[] = {"timestamp", "input_length", "output_length",
					   "hash_ids", "chat_id", "parent_chat_id", "turn", "type"};
	struct kv_load_opts o = {.lenient = 1};
	struct kv_err err;
	char text[4096];
	size_t off = 0;
	int rc;

	off += (size_t)snprintf(text + off, sizeof(text) - off, "%s", EX_R0);
	for (int k = 0; k < 8; k++)
		off += (size_t)snprintf(text + off, sizeof(text) - off, "{\"%s\":1,\"%s\":1}\n",
					keys[k], keys[k]);
	for (int k = 0; k < 8; k++)
		off += (size_t)snprintf(text + off, sizeof(text) - off, "{\"%s\":%s}\n", keys[k],
					k == 7 ? "1" : "\"x\"");
	snprintf(text + off, sizeof(text) - off, "garbage\n[1]\n{\"hash_ids\":[-1]}\n");
	struct kv_trace *t = tu_load_str("many.jsonl", text, &o, &rc, &err);

	CU_ASSERT_EQUAL_FATAL(rc, KV_OK);
	CU_ASSERT_EQUAL(t->nreq, 1);
	CU_ASSERT_EQUAL(t->skipped.total, 19);
	CU_ASSERT_EQUAL_FATAL(t->skipped.nreasons, 16);
	for (int i = 0; i < 15; i++)
		CU_ASSERT_EQUAL(t->skipped.r[i].count, i == 7 ? 2 : 1);
	CU_ASSERT_EQUAL(t->skipped.r[0].first_line, 2);
	CU_ASSERT_STRING_EQUAL(t->skipped.r[0].reason, "duplicate key \"timestamp\"");
	CU_ASSERT_EQUAL(t->skipped.r[14].first_line, 16);
	CU_ASSERT_STRING_EQUAL(t->skipped.r[14].reason,
			       "\"turn\" must be an integer, found a string");
	CU_ASSERT_STRING_EQUAL(t->skipped.r[15].reason, "other reasons");
	CU_ASSERT_EQUAL(t->skipped.r[15].count, 3);
	CU_ASSERT_EQUAL(t->skipped.r[15].first_line, 18);
	trace_free(t);
}

static void test_block_size_override(void)
{
	struct kv_load_opts o = {.block_size = 32};
	struct kv_err err;
	int rc;
	/* 40 tokens at 32 per block -> 2 blocks; the 16-token reading (3 ids) is now wrong */
	struct kv_trace *t = tu_load_str("bs.jsonl", EX_R0, &o, &rc, &err);

	CU_ASSERT_EQUAL(rc, KV_EINPUT);
	CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "needs ceil(40/32) = 2"));
	trace_free(t);
}

int suite_trace(void)
{
	CU_pSuite s = CU_add_suite("trace", NULL, NULL);

	return !s || !CU_add_test(s, "design example and interning", test_example_interning) ||
	       !CU_add_test(s, "gzip reads the same", test_gzip_and_same_result) ||
	       !CU_add_test(s, "mooncake format", test_mooncake) ||
	       !CU_add_test(s, "--sort", test_sort_option) ||
	       !CU_add_test(s, "bad inputs give FILE:LINE", test_bad_inputs) ||
	       !CU_add_test(s, "truncated gzip", test_truncated_gzip) ||
	       !CU_add_test(s, "missing file and directory", test_paths) ||
	       !CU_add_test(s, "--lenient counts by reason", test_lenient) ||
	       !CU_add_test(s, "--lenient: whole reasons, the rest as other", test_lenient_many_reasons) ||
	       !CU_add_test(s, "--lenient: by kind, numbers aside", test_lenient_reason_kinds) ||
	       !CU_add_test(s, "--block-size", test_block_size_override);
}
