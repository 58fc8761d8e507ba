/*
 * test_mrc.c - `kvsim mrc` and analysis/mrc.c: hand-computed fixtures (the DESIGN.md worked
 * example and a prefix-closure case where the cache core is not an LRU stack), and equality
 * with the cache core (`kvsim sim --policy lru`) at many capacities on fixtures and on the
 * real traces.
 */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "cache.h"
#include "capacity.h"
#include "mrc.h"
#include "registry.h"
#include "test_util.h"

#define MC(ts, n, ids) \
	"{\"timestamp\":" #ts ",\"input_length\":" #n ",\"output_length\":1,\"hash_ids\":" ids "}\n"

/*
 * Prefix closure makes the core's LRU differ from an LRU stack (Mooncake, 512-token blocks).
 * y=(9) a=(1) b=(a,2) x=(7) z=(8) c=(b,3) d=(c,4). After r0..r3 (tail-first touches y; b,a;
 * x; z) the recency order, oldest first, is y b a x z.
 */
#define CLOSURE MC(0, 512, "[9]") MC(1, 1024, "[1,2]") MC(2, 512, "[7]") MC(3, 512, "[8]") \
	MC(4, 2048, "[1,2,3,4]") MC(5, 2048, "[1,2,3,4]")

/* Hits of the cache core at one capacity (the independent reference). */
static void core_hits(const struct kv_trace *t, uint64_t cap, enum kv_hit_rule rule,
		      uint64_t *hb, uint64_t *ht)
{
	struct kv_cache *c;
	struct kv_err err;

	CU_ASSERT_EQUAL_FATAL(cache_create(&c, t, evict_find("lru"), NULL, cap, rule, &err), 0);
	for (uint32_t r = 0; r < t->nreq; r++)
		cache_run_request(c, r, t->req[r].ts_s);
	*hb = c->st.hit_blocks;
	*ht = c->st.hit_tokens;
	cache_destroy(c);
}

static void test_closure_fixture(void)
{
	struct kv_err err;
	int rc;
	struct kv_trace *t = tu_load_str("closure.jsonl", CLOSURE, NULL, &rc, &err);
	struct mrc_point p[5] = {{.capacity_blocks = 4}, {.capacity_blocks = 5},
				 {.capacity_blocks = 6}, {.capacity_blocks = 7},
				 {.capacity_blocks = KV_CAPACITY_INF}};
	struct mrc_stats st;

	CU_ASSERT_EQUAL_FATAL(rc, KV_OK);
	CU_ASSERT_EQUAL_FATAL(mrc_run(t, KV_HIT_PREFIX, p, 5, &st, &err), KV_OK);
	CU_ASSERT_EQUAL(st.blocks, 13); /* 1+2+1+1+4+4 */
	/* C=4: before r4 [b a x z] (y evicted); r4 hits a,b (2); d evicts b, c evicts a, b
	 * evicts x, a evicts z -> [d c b a]; r5 hits 4. 6 of 13. */
	CU_ASSERT_EQUAL(p[0].hit_blocks, 6);
	CU_ASSERT_EQUAL(p[0].hit_tokens, 6 * 512);
	/* C=5: before r4 [y b a x z]; r4 hits 2; d evicts y; c is linked under the resident b
	 * and evicts b, which takes c and d with it (closure) -> [a x z]; b re-inserted, a hit
	 * -> [x z b a]; r5 hits a,b only. 4 of 13 (an LRU stack would keep c,d: 6). */
	CU_ASSERT_EQUAL(p[1].hit_blocks, 4);
	CU_ASSERT_EQUAL(p[1].hit_tokens, 4 * 512);
	CU_ASSERT(p[1].replays >= 1);
	/* C=6: c evicts y and nothing else; r5 hits 4. 6 of 13; the same at 7 and inf. */
	CU_ASSERT_EQUAL(p[2].hit_blocks, 6);
	CU_ASSERT_EQUAL(p[3].hit_blocks, 6);
	CU_ASSERT_EQUAL(p[4].hit_blocks, 6);
	trace_free(t);
}

/* What an observer of mrc_run_observed() saw. */
struct seen_log {
	uint64_t dist[16];
	uint32_t ndist, seen[8];
	uint64_t asked[4];
	uint32_t nasked;
	int follow;
};

static void log_request(void *ctx, size_t r, const uint64_t *dist, uint32_t seen)
{
	struct seen_log *l = ctx;

	l->seen[r] = seen;
	for (uint32_t i = 0; i < seen; i++)
		l->dist[l->ndist++] = dist[i];
}

static int log_follow(void *ctx, uint64_t c)
{
	struct seen_log *l = ctx;

	l->asked[l->nasked++] = c;
	return l->follow;
}

/*
 * The observer on the prefix-closure fixture. Times: r0 y@0; r1 b@1 a@2; r2 x@3; r3 z@4.
 * r4 [a b c d]: a (latest 2; x, z since) 2, b (latest 1; a, x, z) 3; c, d never seen.
 * Touches d@5 c@6 b@7 a@8, so r5 [a b c d]: 0, 1, 2, 3.
 * Closure events (mrc.h: C = D_k - k + m - 1, m = 4): r4 k=0 and k=1 both give 2 - 0 + 3 =
 * 3 - 1 + 3 = 5; r5 k=0..2 give 0 + 3 = 3 (not a point). So follow() is asked once, about
 * 5; declined, C=5 reports the LRU stack's hits: r4 2 (running max 3 < 5), r5 4: 6, where
 * the core has 4 (test_closure_fixture).
 */
static void test_observer(void)
{
	struct kv_err err;
	int rc;
	struct kv_trace *t = tu_load_str("closure-obs.jsonl", CLOSURE, NULL, &rc, &err);
	static const uint64_t want[6] = {2, 3, 0, 1, 2, 3};

	CU_ASSERT_EQUAL_FATAL(rc, KV_OK);
	for (int follow = 0; follow < 2; follow++) {
		struct seen_log l = {.follow = follow};
		const struct mrc_observer obs = {log_request, log_follow, &l};
		struct mrc_point p[3] = {{.capacity_blocks = 4}, {.capacity_blocks = 5},
					 {.capacity_blocks = 6}};

		CU_ASSERT_EQUAL_FATAL(mrc_run_observed(t, KV_HIT_PREFIX, p, 3, &obs, NULL, &err),
				      KV_OK);
		CU_ASSERT_EQUAL(l.seen[0] + l.seen[1] + l.seen[2] + l.seen[3], 0);
		CU_ASSERT_EQUAL(l.seen[4], 2);
		CU_ASSERT_EQUAL(l.seen[5], 4);
		CU_ASSERT_EQUAL_FATAL(l.ndist, 6);
		for (int i = 0; i < 6; i++)
			CU_ASSERT_EQUAL(l.dist[i], want[i]);
		CU_ASSERT_EQUAL_FATAL(l.nasked, 1);
		CU_ASSERT_EQUAL(l.asked[0], 5);
		CU_ASSERT_EQUAL(p[0].hit_blocks, 6);
		CU_ASSERT_EQUAL(p[2].hit_blocks, 6);
		CU_ASSERT_EQUAL(p[0].skipped + p[2].skipped, 0);
		if (follow) { /* followed: the core's 4, as mrc_run gives */
			CU_ASSERT_EQUAL(p[1].hit_blocks, 4);
			CU_ASSERT_EQUAL(p[1].skipped, 0);
			CU_ASSERT_EQUAL(p[1].replays, 1);
		} else {        /* declined: the stack's 6, flagged */
			CU_ASSERT_EQUAL(p[1].hit_blocks, 6);
			CU_ASSERT_EQUAL(p[1].hit_tokens, 6 * 512);
			CU_ASSERT_EQUAL(p[1].skipped, 1);
			CU_ASSERT_EQUAL(p[1].replays, 0);
		}
	}
	trace_free(t);
}

static void test_design_example(void)
{
	char *data = tu_slurp("tests/fixtures/design-example.jsonl", NULL);
	struct kv_err err;
	int rc;
	struct kv_trace *t;
	struct mrc_point p[8];

	CU_ASSERT_PTR_NOT_NULL_FATAL(data);
	t = tu_load_str("de.jsonl", data, NULL, &rc, &err);
	free(data);
	CU_ASSERT_EQUAL_FATAL(rc, KV_OK);
	memset(p, 0, sizeof(p));
	for (int i = 0; i < 7; i++)
		p[i].capacity_blocks = (uint64_t)i + 1;
	p[7].capacity_blocks = KV_CAPACITY_INF;
	CU_ASSERT_EQUAL_FATAL(mrc_run(t, KV_HIT_PREFIX, p, 8, NULL, &err), KV_OK);
	/* DESIGN.md: capacity 4 -> 4 blocks, 64 tokens; infinite -> 5 blocks, 80 tokens */
	CU_ASSERT_EQUAL(p[3].hit_blocks, 4);
	CU_ASSERT_EQUAL(p[3].hit_tokens, 64);
	CU_ASSERT_EQUAL(p[7].hit_blocks, 5);
	CU_ASSERT_EQUAL(p[7].hit_tokens, 80);
	for (int rule = 0; rule < 2; rule++) {
		CU_ASSERT_EQUAL_FATAL(mrc_run(t, (enum kv_hit_rule)rule, p, 8, NULL, &err), KV_OK);
		for (int i = 0; i < 8; i++) {
			uint64_t hb, ht;
			core_hits(t, p[i].capacity_blocks, (enum kv_hit_rule)rule, &hb, &ht);
			CU_ASSERT_EQUAL(p[i].hit_blocks, hb);
			CU_ASSERT_EQUAL(p[i].hit_tokens, ht);
		}
	}
	trace_free(t);
}

/* Random small traces with shared prefixes: every capacity 1..nodes equals the core. */
static void test_random_fixtures(void)
{
	uint64_t seed = 42;
	char *buf = malloc(1 << 20);

	for (int trial = 0; trial < 30; trial++) {
		size_t o = 0;
		struct kv_trace *t;
		struct kv_err err;
		int rc, bad = 0;
		struct mrc_point p[64];

		for (int r = 0; r < 60; r++) {
			int n, first;

			seed = seed * 6364136223846793005ull + 1442695040888963407ull;
			n = 1 + (int)((seed >> 33) % 6);
			first = (int)((seed >> 40) % 4);
			o += (size_t)snprintf(buf + o, 4096, "{\"timestamp\":%d,\"input_length\":%d,"
					      "\"output_length\":1,\"hash_ids\":[", r,
					      n * 512 - (int)((seed >> 20) % 500));
			for (int i = 0; i < n; i++) {
				/* ids from a small alphabet: chains share and branch often */
				int id = i == 0 ? first : (int)((seed >> (i * 5 % 30)) % 3) + i * 10;
				o += (size_t)snprintf(buf + o, 64, "%s%d", i ? "," : "", id);
			}
			o += (size_t)snprintf(buf + o, 8, "]}\n");
		}
		t = tu_load_str("rand.jsonl", buf, NULL, &rc, &err);
		CU_ASSERT_EQUAL_FATAL(rc, KV_OK);
		memset(p, 0, sizeof(p));
		for (int i = 0; i < 63; i++)
			p[i].capacity_blocks = (uint64_t)i + 1;
		p[63].capacity_blocks = KV_CAPACITY_INF;
		for (int rule = 0; rule < 2; rule++) {
			CU_ASSERT_EQUAL_FATAL(mrc_run(t, (enum kv_hit_rule)rule, p, 64, NULL, &err), 0);
			for (int i = 0; i < 64; i++) {
				uint64_t hb, ht;
				core_hits(t, p[i].capacity_blocks, (enum kv_hit_rule)rule, &hb, &ht);
				if (p[i].hit_blocks != hb || p[i].hit_tokens != ht)
					bad++;
			}
		}
		CU_ASSERT_EQUAL(bad, 0);
		trace_free(t);
	}
	free(buf);
}

/* `kvsim mrc --points` against `kvsim sim --capacity` with the same list: hit blocks and
 * tokens of every row equal, and the CSV columns and order as specified. */
static void compare_cli(const char *trace, const char *caps, const char *rule)
{
	const char *ma[] = {"mrc", "--points", caps, "--hit-rule", rule, "-f", "json", trace, NULL};
	const char *ca[] = {"mrc", "--points", caps, "--hit-rule", rule, "-f", "csv", trace, NULL};
	const char *sa[] = {"sim", "-c", caps, "--hit-rule", rule, "-f", "csv", "-j", "2", trace,
			    NULL};
	char *mo, *co, *so;
	json_t *doc, *pts;
	json_error_t je;
	size_t n;

	CU_ASSERT_EQUAL_FATAL(tu_run(ma, NULL, &mo, NULL), 0);
	CU_ASSERT_EQUAL_FATAL(tu_run(ca, NULL, &co, NULL), 0);
	CU_ASSERT_EQUAL_FATAL(tu_run(sa, NULL, &so, NULL), 0);
	doc = json_loads(mo, 0, &je);
	CU_ASSERT_PTR_NOT_NULL_FATAL(doc);
	pts = json_object_get(doc, "points");
	n = json_array_size(pts);
	CU_ASSERT(n >= 30);
	CU_ASSERT_STRING_EQUAL(tu_line(co, 0), "capacity_blocks,block_hit_ratio,token_hit_ratio");
	for (size_t i = 0; i < n; i++) {
		json_t *p = json_array_get(pts, i);
		long long hb = json_integer_value(json_object_get(p, "hit_blocks"));
		long long ht = json_integer_value(json_object_get(p, "hit_tokens"));
		char csvrow[128], c1[32], c2[32], c3[32];

		if (hb != atoll(tu_csv(so, (int)i, "hit_blocks")) ||
		    ht != atoll(tu_csv(so, (int)i, "hit_tokens"))) {
			fprintf(stderr, "\n%s %s at %s: mrc %lld/%lld, sim %s/%s\n", trace, rule,
				tu_csv(so, (int)i, "capacity"), hb, ht,
				tu_csv(so, (int)i, "hit_blocks"), tu_csv(so, (int)i, "hit_tokens"));
			CU_FAIL("mrc differs from sim --policy lru");
		}
		/* the CSV row carries the same capacity and ratios as sim's, in the same order */
		snprintf(c1, sizeof(c1), "%s", tu_csv(so, (int)i, "capacity_blocks"));
		snprintf(c2, sizeof(c2), "%s", tu_csv(so, (int)i, "block_hit_ratio"));
		snprintf(c3, sizeof(c3), "%s", tu_csv(so, (int)i, "token_hit_ratio"));
		snprintf(csvrow, sizeof(csvrow), "%s,%s,%s", c1, c2, c3);
		CU_ASSERT_STRING_EQUAL(tu_line(co, (int)i + 1), csvrow);
	}
	json_decref(doc);
	free(mo);
	free(co);
	free(so);
}

/* 31 capacities from 1 block to beyond the distinct nodes, plus percentages and inf, in an
 * unsorted order. */
#define CAPS "1,2,3,5,8,13,21,34,55,89,144,233,377,610,987,1597,2584,4181,6765,10946," \
	"17711,28657,46368,75025,121393,196418,1%,0.5%,10%,50%,2GiB,inf"

static void test_real_traces(void)
{
	const char *conv = tu_real_trace("mooncake_fast25_conversation_trace.jsonl.gz");
	const char *syn = tu_real_trace("mooncake_fast25_synthetic_trace.jsonl.gz");

	if (conv) {
		compare_cli(conv, CAPS, "prefix");
		compare_cli(conv, CAPS, "vllm");
	}
	if (syn)
		compare_cli(syn, CAPS, "prefix");
}

static void test_cli_fixture_and_errors(void)
{
	const char *p = tu_write("closure.jsonl", CLOSURE);
	const char *a[] = {"mrc", "--points", "5,4,inf", "-f", "csv", p, NULL};
	const char *lp[] = {"mrc", "--log-points", "4", "-f", "csv", p, NULL};
	const char *both[] = {"mrc", "--points", "4", "--log-points", "3", p, NULL};
	const char *badcap[] = {"mrc", "--points", "4,12XB", p, NULL};
	char *out, *err;

	CU_ASSERT_EQUAL_FATAL(tu_run(a, NULL, &out, NULL), 0);
	/* rows in the order given: 5 -> 4/13, 4 -> 6/13, inf -> 6/13 (see the fixture) */
	CU_ASSERT_STRING_EQUAL(tu_line(out, 1), "5,0.307692,0.307692");
	CU_ASSERT_STRING_EQUAL(tu_line(out, 2), "4,0.461538,0.461538");
	CU_ASSERT_STRING_EQUAL(tu_line(out, 3), ",0.461538,0.461538");
	free(out);
	CU_ASSERT_EQUAL_FATAL(tu_run(lp, NULL, &out, NULL), 0);
	/* 7 distinct nodes, 4 log points: 7^(0,1/3,2/3,1) = 1, 1.91, 3.66, 7 -> 1,2,4,7 */
	CU_ASSERT_STRING_EQUAL(tu_csv(out, 0, "capacity_blocks"), "1");
	CU_ASSERT_STRING_EQUAL(tu_csv(out, 1, "capacity_blocks"), "2");
	CU_ASSERT_STRING_EQUAL(tu_csv(out, 2, "capacity_blocks"), "4");
	CU_ASSERT_STRING_EQUAL(tu_csv(out, 3, "capacity_blocks"), "7");
	free(out);
	CU_ASSERT_EQUAL(tu_run(both, NULL, &out, &err), 2);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "not both"));
	free(out);
	free(err);
	CU_ASSERT_EQUAL(tu_run(badcap, NULL, &out, &err), 2);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "12XB"));
	CU_ASSERT_STRING_EQUAL(out, "");
	free(out);
	free(err);
}

int suite_mrc(void)
{
	CU_pSuite s = CU_add_suite("mrc", NULL, NULL);

	if (!s || !CU_add_test(s, "prefix-closure fixture (hand-computed)", test_closure_fixture) ||
	    !CU_add_test(s, "DESIGN.md example, both hit rules", test_design_example) ||
	    !CU_add_test(s, "observer: distances, declined capacities", test_observer) ||
	    !CU_add_test(s, "random fixtures equal the core at every capacity",
			 test_random_fixtures))
		return -1;
	if (tu_unit_only())
		return 0;
	return !CU_add_test(s, "CLI fixture, order, errors", test_cli_fixture_and_errors) ||
	       !CU_add_test(s, "real traces: mrc equals sim --policy lru", test_real_traces);
}
