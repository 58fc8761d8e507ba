/*
 * test_kvt.c - the binary trace (.kvt) and `kvsim convert`: a round trip keeps every field,
 * every command gives the same results on the .kvt as on the JSONL (real traces), and a
 * corrupt, truncated or wrong-version file is refused with FILE:OFFSET and exit code 2.
 */
#include <stdlib.h>
#include <string.h>

#include "trace_kvt.h"
#include "test_util.h"

static void test_round_trip(void)
{
	char *data = tu_slurp("tests/fixtures/design-example.jsonl", NULL);
	struct kv_err err;
	int rc;
	struct kv_trace *a, *b;
	const char *p = tu_path("rt.kvt");

	CU_ASSERT_PTR_NOT_NULL_FATAL(data);
	a = tu_load_str("rt.jsonl", data, NULL, &rc, &err);
	free(data);
	CU_ASSERT_EQUAL_FATAL(rc, KV_OK);
	CU_ASSERT_EQUAL_FATAL(trace_save_kvt(a, p, &err), KV_OK);
	CU_ASSERT_EQUAL_FATAL(trace_load(p, NULL, &b, &err), KV_OK);
	/* the worked example: 4 requests, 12 blocks, 7 nodes (a..g), 168 tokens, B = 16 */
	CU_ASSERT_EQUAL(b->nreq, 4);
	CU_ASSERT_EQUAL(b->nblk, 12);
	CU_ASSERT_EQUAL(b->nnodes, 7);
	CU_ASSERT_EQUAL(b->input_tokens, 168);
	CU_ASSERT_EQUAL(b->block_size, 16);
	CU_ASSERT_EQUAL(b->format, KV_FMT_BAILIAN);
	CU_ASSERT_EQUAL(trace_checksum(a), trace_checksum(b));
	CU_ASSERT_EQUAL(memcmp(a->node, b->node, 12 * 4), 0);
	CU_ASSERT_EQUAL(memcmp(a->node_parent, b->node_parent, 7 * 4), 0);
	CU_ASSERT_EQUAL(memcmp(trace_node_depth(a), trace_node_depth(b), 7 * 4), 0);
	CU_ASSERT_EQUAL(memcmp(a->node_hash, b->node_hash, 7 * 8), 0);
	for (size_t r = 0; r < 4; r++) {
		CU_ASSERT_EQUAL(a->req[r].ts_s, b->req[r].ts_s);
		CU_ASSERT_EQUAL(a->req[r].chat_id, b->req[r].chat_id);
		CU_ASSERT_EQUAL(a->req[r].parent_row, b->req[r].parent_row);
		CU_ASSERT_EQUAL(a->req[r].turn, b->req[r].turn);
		CU_ASSERT_STRING_EQUAL(a->type_names[a->req[r].type], b->type_names[b->req[r].type]);
	}
	/* r3 is the child of r0 (row 0); r2 is of type "search" */
	CU_ASSERT_EQUAL(b->req[3].parent_row, 0);
	CU_ASSERT_STRING_EQUAL(b->type_names[b->req[2].type], "search");
	trace_free(a);
	trace_free(b);
	{
		/* options that contradict the .kvt are errors, never silently ignored:
		 * --trace-format mooncake (the file was bailian), --block-size 512 (16) */
		struct kv_load_opts fmt = {.format = KV_FMT_MOONCAKE};
		struct kv_load_opts same = {.format = KV_FMT_BAILIAN, .block_size = 16};
		struct kv_load_opts bs = {.block_size = 512};

		CU_ASSERT_EQUAL(trace_load(p, &fmt, &b, &err), KV_EINPUT);
		CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "converted from a bailian trace, "
					      "not mooncake"));
		CU_ASSERT_EQUAL(trace_load(p, &bs, &b, &err), KV_EINPUT);
		CU_ASSERT_EQUAL_FATAL(trace_load(p, &same, &b, &err), KV_OK);
		trace_free(b);
	}
}

/* Drops the trace column (the file name differs). */
static char *strip_trace_column(const char *csv)
{
	char *o = malloc(strlen(csv) + 1), *w = o;

	for (const char *p = csv; *p;) {
		const char *nl = strchr(p, '\n'), *comma = strchr(p, ',');
		size_t n;

		if (!nl)
			nl = p + strlen(p);
		if (comma && comma < nl)
			p = comma + 1;
		n = (size_t)(nl - p) + (*nl == '\n');
		memcpy(w, p, n);
		w += n;
		p += n;
	}
	*w = 0;
	return o;
}

static void same_results(const char *jsonl, const char *name)
{
	const char *kvt = tu_path(name);
	const char *conv[] = {"convert", jsonl, kvt, NULL};
	const char *caps = "1,10,100,0.5%,1%,5%,10%,25%,50%,64GiB,inf";
	const char *s1[] = {"sim", "-c", caps, "-f", "csv", jsonl, NULL};
	const char *s2[] = {"sim", "-c", caps, "-f", "csv", kvt, NULL};
	const char *v1[] = {"sim", "-c", caps, "--hit-rule", "vllm", "-f", "csv", jsonl, NULL};
	const char *v2[] = {"sim", "-c", caps, "--hit-rule", "vllm", "-f", "csv", kvt, NULL};
	const char *m1[] = {"mrc", "--points", caps, "-f", "csv", jsonl, NULL};
	const char *m2[] = {"mrc", "--points", caps, "-f", "csv", kvt, NULL};
	const char *const *pairs[3][2] = {{s1, s2}, {v1, v2}, {m1, m2}};
	struct kv_trace *a, *b;
	struct kv_err err;
	char *o1, *o2;

	CU_ASSERT_EQUAL_FATAL(tu_run(conv, NULL, &o1, NULL), 0);
	free(o1);
	for (int i = 0; i < 3; i++) {
		char *x, *y;

		CU_ASSERT_EQUAL_FATAL(tu_run(pairs[i][0], NULL, &o1, NULL), 0);
		CU_ASSERT_EQUAL_FATAL(tu_run(pairs[i][1], NULL, &o2, NULL), 0);
		x = i < 2 ? strip_trace_column(o1) : strdup(o1);
		y = i < 2 ? strip_trace_column(o2) : strdup(o2);
		CU_ASSERT(strlen(x) > 100);
		CU_ASSERT_STRING_EQUAL(x, y);
		free(x);
		free(y);
		free(o1);
		free(o2);
	}
	CU_ASSERT_EQUAL_FATAL(trace_load(jsonl, NULL, &a, &err), KV_OK);
	CU_ASSERT_EQUAL_FATAL(trace_load(kvt, NULL, &b, &err), KV_OK);
	CU_ASSERT_EQUAL(trace_checksum(a), trace_checksum(b));
	CU_ASSERT_EQUAL(a->nnodes, b->nnodes);
	CU_ASSERT_EQUAL(a->source_bytes, b->source_bytes);
	trace_free(a);
	trace_free(b);
}

static void test_real_traces_same_results(void)
{
	const char *conv = tu_real_trace("mooncake_fast25_conversation_trace.jsonl.gz");
	const char *syn = tu_real_trace("mooncake_fast25_synthetic_trace.jsonl.gz");

	if (conv)
		same_results(conv, "conv.kvt");
	if (syn)
		same_results(syn, "syn.kvt");
}

/* Writes a damaged copy of a good .kvt and checks kvsim refuses it: exit 2, nothing on
 * stdout, "PATH:" and the fragment on stderr. */
static void refuse(const char *name, const unsigned char *data, size_t len, const char *frag)
{
	const char *p = tu_write_bytes(name, data, len);
	const char *args[] = {"sim", "-c", "4", p, NULL};
	char *out, *err, want[4200];

	CU_ASSERT_EQUAL(tu_run(args, NULL, &out, &err), 2);
	CU_ASSERT_STRING_EQUAL(out, "");
	snprintf(want, sizeof(want), "%s:", p);
	CU_ASSERT_EQUAL(strncmp(err, want, strlen(want)), 0);
	if (!strstr(err, frag)) {
		fprintf(stderr, "\n%s: stderr '%s' lacks '%s'\n", name, err, frag);
		CU_FAIL("wrong message");
	}
	free(out);
	free(err);
}

static void test_bad_files(void)
{
	const char *good = tu_path("good.kvt");
	const char *conv[] = {"convert", "tests/fixtures/design-example.jsonl", good, NULL};
	unsigned char *d, *x;
	size_t len;
	char *o;

	CU_ASSERT_EQUAL_FATAL(tu_run(conv, NULL, &o, NULL), 0);
	free(o);
	d = (unsigned char *)tu_slurp(good, &len);
	CU_ASSERT_PTR_NOT_NULL_FATAL(d);
	CU_ASSERT_FATAL(len > 100);
	CU_ASSERT_EQUAL(memcmp(d, KVT_MAGIC, 4), 0);
	x = malloc(len);
	/* a flipped byte in the last section's compressed data */
	memcpy(x, d, len);
	x[len - 3] ^= 0x55;
	refuse("flip.kvt", x, len, "corrupt .kvt");
	/* a flipped byte in the hash-id section (decoded on the second thread): walk the
	 * section headers (id u32, crc u32, raw u64, stored u64) from byte 72 */
	{
		size_t at = 72, found = 0;

		while (at + 24 <= len) {
			uint32_t id = d[at] | d[at + 1] << 8;
			size_t clen = (size_t)d[at + 16] | (size_t)d[at + 17] << 8;

			if (id == 4)
				found = at + 24 + clen / 2;
			at += 24 + clen;
		}
		CU_ASSERT_FATAL(found > 0);
		memcpy(x, d, len);
		x[found] ^= 0x55;
		refuse("fliphash.kvt", x, len, "section 4 (hash ids)");
	}
	/* truncated in the middle of the sections */
	refuse("trunc.kvt", d, len - 10, "truncated .kvt");
	/* only the magic */
	refuse("magic.kvt", d, 4, "truncated header");
	/* version 3 (bytes 4..7, little-endian) */
	memcpy(x, d, len);
	x[4] = 3;
	refuse("v3.kvt", x, len, ".kvt version 3");
	/* version 1 (CRC of the raw bytes) is refused, not misread */
	memcpy(x, d, len);
	x[4] = 1;
	refuse("v1.kvt", x, len, ".kvt version 1");
	/* a header field changed (requests count): the header CRC catches it */
	memcpy(x, d, len);
	x[16] ^= 1;
	refuse("hdr.kvt", x, len, "header checksum");
	/* bytes after the last section */
	x = realloc(x, len + 5);
	memcpy(x, d, len);
	memset(x + len, 0, 5);
	refuse("tail.kvt", x, len + 5, "after the last section");
	free(x);
	free(d);
}

static void test_convert_usage(void)
{
	const char *a[] = {"convert", "tests/fixtures/design-example.jsonl", NULL};
	const char *b[] = {"convert", "/nonexistent.jsonl", "/tmp/x.kvt", NULL};
	char *out, *err;

	CU_ASSERT_EQUAL(tu_run(a, NULL, &out, &err), 2);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "give the input trace and the output .kvt"));
	free(out);
	free(err);
	CU_ASSERT_EQUAL(tu_run(b, NULL, &out, &err), 2);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "/nonexistent.jsonl: No such file"));
	free(out);
	free(err);
}

/* Flipping the lowest bit of any byte of a small .kvt is refused with KV_EINPUT (in process: one load per
 * flip). Review: with version 1's CRC of the raw bytes, 9 of the 2,248 one-bit flips (xor 1,
 * every byte) of a 30-request file, in Huffman code lengths of unused symbols, loaded. */
static void test_every_flip(void)
{
	const char *good = tu_path("flipall.kvt"), *bad = tu_path("flipall-bad.kvt");
	/* the first 30 requests of traces/sample/to-b-10min.jsonl.gz */
	const char *conv[] = {"convert", "tests/fixtures/to-b-head30.jsonl", good, NULL};
	unsigned char *d, *x;
	size_t len, loaded = 0, refused = 0;
	char *o;

	CU_ASSERT_EQUAL_FATAL(tu_run(conv, NULL, &o, NULL), 0);
	free(o);
	d = (unsigned char *)tu_slurp(good, &len);
	CU_ASSERT_PTR_NOT_NULL_FATAL(d);
	x = malloc(len);
	CU_ASSERT_PTR_NOT_NULL_FATAL(x);
	for (size_t at = 0; at < len; at++)
		for (int bit = 0; bit < 1; bit++) {
			struct kv_trace *t = NULL;
			struct kv_err err;
			int rc;

			memcpy(x, d, len);
			x[at] ^= (unsigned char)(1u << bit);
			tu_write_bytes("flipall-bad.kvt", x, len);
			rc = trace_load_kvt(bad, NULL, &t, &err);
			if (rc == KV_EINPUT)
				refused++;
			else
				loaded++;
			trace_free(t);
		}
	/* every one of the len flips is refused */
	CU_ASSERT_EQUAL(loaded, 0);
	CU_ASSERT_EQUAL(refused, len);
	free(x);
	free(d);
}

int suite_kvt(void)
{
	CU_pSuite s = CU_add_suite("kvt", NULL, NULL);

	if (!s || !CU_add_test(s, "round trip keeps every field", test_round_trip) ||
	    !CU_add_test(s, "a flipped bit anywhere is refused", test_every_flip))
		return -1;
	if (tu_unit_only())
		return 0;
	return !CU_add_test(s, "corrupt, truncated, wrong version: exit 2", test_bad_files) ||
	       !CU_add_test(s, "convert usage errors", test_convert_usage) ||
	       !CU_add_test(s, "real traces: same results from .kvt", test_real_traces_same_results);
}
