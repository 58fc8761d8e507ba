/*
 * test_analyze.c - `kvsim analyze` (the analysis folder): every statistic on hand-computed fixtures,
 * the ceiling and the stack-distance LRU curve against `kvsim sim` on the real trace, and the
 * gnuplot figures rendered from the fixture CSVs of tests/fixtures/figures/.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>

#include <jansson.h>

#include "analyze.h"
#include "test_util.h"

/* DESIGN.md worked example: r0 [1,2,3] L=40 text; r1 [1,2,4] L=48 text; r2 [5,2] L=20 search;
 * r3 [1,2,3,6] L=60 text, child of r0. Nodes a=(1) b=(a,2) c=(b,3) d=(b,4) e=(5) f=(e,2)
 * g=(c,6). Arrivals 0,1,2,3 s. */
static struct kv_trace *load_example(void)
{
	char *data = tu_slurp("tests/fixtures/design-example.jsonl", NULL);
	struct kv_err err = {{0}};
	struct kv_trace *t;
	int rc;

	CU_ASSERT_PTR_NOT_NULL_FATAL(data);
	t = tu_load_str("example.jsonl", data, NULL, &rc, &err);
	free(data);
	CU_ASSERT_PTR_NOT_NULL_FATAL(t);
	return t;
}

/* A session tree with one child of every relation, an orphan and two requests in one turn
 * (B = 16). Nodes: a=(1) b=(a,2) c=(b,3) d=(c,4) e=(b,7) f=(e,8) g=(a,9) h=(5) i=(h,6) j=(20).
 *   r0 chat 10 root      t=0   turn 1 [1,2,3]   L=40  a b c
 *   r1 chat 11 parent 10 t=5   turn 2 [1,2,3,4] L=60  a b c d  (starts with all of r0)
 *   r2 chat 12 parent 10 t=7   turn 2 [1,2,7,8] L=64  a b e f  (all of r0 but the last)
 *   r3 chat 13 parent 11 t=65  turn 3 [1,9]     L=20  a g      (shorter: 1 of r1's 4)
 *   r4 chat 14 parent 12 t=70  turn 3 [5,6]     L=30  h i      (none)
 *   r5 chat 15 parent 99 t=130 turn 2 [1,2]     L=32  a b      (parent not in the file)
 *   r6 chat 16 root      t=131 turn 1 [20]      L=16  j        type search */
static const char *tree_jsonl =
	"{\"chat_id\":10,\"parent_chat_id\":-1,\"timestamp\":0,\"input_length\":40,\"output_length\":5,\"type\":\"text\",\"turn\":1,\"hash_ids\":[1,2,3]}\n"
	"{\"chat_id\":11,\"parent_chat_id\":10,\"timestamp\":5,\"input_length\":60,\"output_length\":5,\"type\":\"text\",\"turn\":2,\"hash_ids\":[1,2,3,4]}\n"
	"{\"chat_id\":12,\"parent_chat_id\":10,\"timestamp\":7,\"input_length\":64,\"output_length\":5,\"type\":\"text\",\"turn\":2,\"hash_ids\":[1,2,7,8]}\n"
	"{\"chat_id\":13,\"parent_chat_id\":11,\"timestamp\":65,\"input_length\":20,\"output_length\":5,\"type\":\"text\",\"turn\":3,\"hash_ids\":[1,9]}\n"
	"{\"chat_id\":14,\"parent_chat_id\":12,\"timestamp\":70,\"input_length\":30,\"output_length\":5,\"type\":\"text\",\"turn\":3,\"hash_ids\":[5,6]}\n"
	"{\"chat_id\":15,\"parent_chat_id\":99,\"timestamp\":130,\"input_length\":32,\"output_length\":7,\"type\":\"text\",\"turn\":2,\"hash_ids\":[1,2]}\n"
	"{\"chat_id\":16,\"parent_chat_id\":-1,\"timestamp\":131,\"input_length\":16,\"output_length\":9,\"type\":\"search\",\"turn\":1,\"hash_ids\":[20]}\n";

static struct kv_trace *load_tree(void)
{
	struct kv_err err = {{0}};
	struct kv_trace *t;
	int rc;

	t = tu_load_str("tree.jsonl", tree_jsonl, NULL, &rc, &err);
	CU_ASSERT_PTR_NOT_NULL_FATAL(t);
	return t;
}

static int type_index(const struct kv_trace *t, const char *name)
{
	for (int i = 0; i < t->ntypes; i++)
		if (!strcmp(t->type_names[i], name))
			return i;
	CU_FAIL("type not found");
	return 0;
}

static void test_loghist(void)
{
	struct loghist *h = calloc(1, sizeof(*h));
	uint64_t v;

	/* bucket bounds tile the integers: lo(b) <= v <= hi(b), hi(b) + 1 = lo(b + 1) */
	for (unsigned b = 0; b + 1 < LOGHIST_BUCKETS; b++)
		if (loghist_hi(b) + 1 != loghist_lo(b + 1)) {
			CU_FAIL("buckets do not tile");
			break;
		}
	for (v = 0; v < 100000; v = v * 5 / 4 + 1) {
		unsigned b = loghist_bucket(v);

		CU_ASSERT(loghist_lo(b) <= v && v <= loghist_hi(b));
		/* a bucket spans at most 1/32 of its lower bound above 64 */
		if (v >= 64)
			CU_ASSERT(loghist_hi(b) - loghist_lo(b) + 1 <= loghist_lo(b) / 32);
	}
	CU_ASSERT_EQUAL(loghist_bucket(63), 63);     /* exact below 64 */
	CU_ASSERT_EQUAL(loghist_lo(loghist_bucket(64)), 64);
	CU_ASSERT_EQUAL(loghist_hi(loghist_bucket(64)), 65); /* 64..127 in steps of 2 */
	CU_ASSERT_EQUAL(loghist_lo(loghist_bucket(UINT64_MAX)), 63ull << 58);
	/* values 1,2,3,4,100: nearest-rank p50 = 3rd = 3; p90 = 5th = 100, reported as its
	 * bucket's upper bound capped by the max: 100 */
	loghist_add(h, 1, 1);
	loghist_add(h, 2, 1);
	loghist_add(h, 3, 1);
	loghist_add(h, 4, 1);
	loghist_add(h, 100, 1);
	CU_ASSERT_EQUAL(loghist_percentile(h, 50), 3);
	CU_ASSERT_EQUAL(loghist_percentile(h, 90), 100);
	CU_ASSERT_EQUAL(h->total, 5);
	free(h);
}

static void test_dist_summary(void)
{
	uint32_t v[] = {64, 16, 40, 20, 32, 60, 30};
	struct dist_summary s;

	dist_summarise_u32(v, 7, &s);
	/* sorted 16 20 30 32 40 60 64; p50 rank ceil(3.5) = 4 -> 32; p90 rank ceil(6.3) = 7 -> 64;
	 * p99 -> 64; mean 262/7 */
	CU_ASSERT_EQUAL(v[0], 16);
	CU_ASSERT_DOUBLE_EQUAL(s.p50, 32, 0);
	CU_ASSERT_DOUBLE_EQUAL(s.p90, 64, 0);
	CU_ASSERT_DOUBLE_EQUAL(s.mean, 262.0 / 7, 1e-9);
	CU_ASSERT_DOUBLE_EQUAL(s.max, 64, 0);
	/* rank ceil(0.1 * 7) = 1 -> 16 */
	CU_ASSERT_DOUBLE_EQUAL(dist_percentile_u32(v, 7, 10), 16, 0);
}

static void test_example_reuse(void)
{
	struct kv_trace *t = load_example();
	struct analysis a;
	struct kv_err err = {{0}};
	const struct loghist *tm, *sd;
	int text, search;

	CU_ASSERT_EQUAL_FATAL(analyze_run(t, NULL, &a, &err), 0);
	tm = &a.ru.time_ms[a.ntypes];
	sd = &a.ru.dist[a.ntypes];
	text = type_index(t, "text");
	search = type_index(t, "search");
	/* reuses: r1 a,b (last touched by r0 at 0 s: 1 s each); r3 a,b (last r1 at 1 s: 2 s),
	 * c (last r0 at 0 s: 3 s). 12 accesses, 5 reuses, 7 cold. */
	CU_ASSERT_EQUAL(a.ru.accesses, 12);
	CU_ASSERT_EQUAL(a.ru.reuses, 5);
	CU_ASSERT_EQUAL(a.ru.cold, 7);
	CU_ASSERT_EQUAL(tm->n[loghist_bucket(1000)], 2);
	CU_ASSERT_EQUAL(tm->n[loghist_bucket(2000)], 2);
	CU_ASSERT_EQUAL(tm->n[loghist_bucket(3000)], 1);
	CU_ASSERT_EQUAL(tm->max, 3000);
	/* stack distances (LRU stack depth at the request's lookup; touches run tail-first):
	 * r1: stack after r0 is a b c (most recent first): a 0, b 1.
	 * r3: after r1 (d b a touched -> a b d c) and r2 (f e -> e f a b d c): a 2, b 3, c 5. */
	CU_ASSERT_EQUAL(sd->n[0], 1);
	CU_ASSERT_EQUAL(sd->n[1], 1);
	CU_ASSERT_EQUAL(sd->n[2], 1);
	CU_ASSERT_EQUAL(sd->n[3], 1);
	CU_ASSERT_EQUAL(sd->n[4], 0);
	CU_ASSERT_EQUAL(sd->n[5], 1);
	/* LRU at capacity 4 hits the accesses with distance < 4: 4 hits (DESIGN.md: 4/12) */
	CU_ASSERT_EQUAL(sd->n[0] + sd->n[1] + sd->n[2] + sd->n[3], 4);
	/* by type: all 5 reuses are by text requests, none by search */
	CU_ASSERT_EQUAL(a.ru.time_ms[text].total, 5);
	CU_ASSERT_EQUAL(a.ru.dist[text].total, 5);
	CU_ASSERT_EQUAL(a.ru.time_ms[search].total, 0);
	/* the LRU columns: the cache core's LRU at capacity d + 1 of every distance d with a
	 * reuse (d = 0, 1, 2, 3, 5), as `kvsim sim -c 1,2,3,4,6` gives: 1, 2, 3, 4 (DESIGN.md:
	 * 4/12, 64 tokens) and 5 hits (the ceiling, 80 tokens); no closure here, so these are
	 * also the counts of reuses with distance < C */
	CU_ASSERT_EQUAL_FATAL(a.ru.nlru, 5);
	CU_ASSERT_EQUAL(a.ru.lru[0].capacity_blocks, 1);
	CU_ASSERT_EQUAL(a.ru.lru[0].hit_blocks, 1);
	CU_ASSERT_EQUAL(a.ru.lru[2].capacity_blocks, 3);
	CU_ASSERT_EQUAL(a.ru.lru[2].hit_blocks, 3);
	CU_ASSERT_EQUAL(a.ru.lru[3].capacity_blocks, 4);
	CU_ASSERT_EQUAL(a.ru.lru[3].hit_blocks, 4);
	CU_ASSERT_EQUAL(a.ru.lru[3].hit_tokens, 64);
	CU_ASSERT_EQUAL(a.ru.lru[4].capacity_blocks, 6);
	CU_ASSERT_EQUAL(a.ru.lru[4].hit_blocks, 5);
	CU_ASSERT_EQUAL(a.ru.lru[4].hit_tokens, 80);
	analyze_free(&a);
	trace_free(t);
}

static void test_example_ceilings_skew_sessions(void)
{
	struct kv_trace *t = load_example();
	struct analysis a;
	struct kv_err err = {{0}};
	int text, search;

	CU_ASSERT_EQUAL_FATAL(analyze_run(t, NULL, &a, &err), 0);
	text = type_index(t, "text");
	search = type_index(t, "search");
	/* ceiling: 5/12 blocks, 80/168 tokens (DESIGN.md) */
	CU_ASSERT_EQUAL(a.ru.all.hit_blocks, 5);
	CU_ASSERT_EQUAL(a.ru.all.blocks, 12);
	CU_ASSERT_EQUAL(a.ru.all.hit_tokens, 80);
	CU_ASSERT_EQUAL(a.ru.all.tokens, 168);
	/* text: r0 0/3, r1 2/3, r3 3/4 -> 5/10 blocks; tokens 0+32+48 = 80 of 40+48+60 = 148 */
	CU_ASSERT_EQUAL(a.ru.type[text].hit_blocks, 5);
	CU_ASSERT_EQUAL(a.ru.type[text].blocks, 10);
	CU_ASSERT_EQUAL(a.ru.type[text].hit_tokens, 80);
	CU_ASSERT_EQUAL(a.ru.type[text].tokens, 148);
	/* search: r2 0/2 blocks, 0/20 tokens */
	CU_ASSERT_EQUAL(a.ru.type[search].hit_blocks, 0);
	CU_ASSERT_EQUAL(a.ru.type[search].blocks, 2);
	CU_ASSERT_EQUAL(a.ru.type[search].tokens, 20);
	/* per turn: turn 1 = r0 r1 r2: 2/8 blocks; turn 2 = r3: 3/4 */
	CU_ASSERT_EQUAL(a.ru.turn[1].hit_blocks, 2);
	CU_ASSERT_EQUAL(a.ru.turn[1].blocks, 8);
	CU_ASSERT_EQUAL(a.ru.turn[2].hit_blocks, 3);
	CU_ASSERT_EQUAL(a.ru.turn[2].blocks, 4);
	/* skew: accesses a 3, b 3, c 2, d e f g 1 -> reuses 2,2,1 = 5 over 7 nodes; 3 reused;
	 * top 1% = ceil(0.07) = 1 node: 2/5; top 10% = ceil(0.7) = 1: 2/5; top 20% = 2: 4/5 */
	CU_ASSERT_EQUAL(a.sk.nodes, 7);
	CU_ASSERT_EQUAL(a.sk.reused_nodes, 3);
	CU_ASSERT_EQUAL(a.sk.reuses, 5);
	CU_ASSERT_DOUBLE_EQUAL(a.sk.top_share[1], 0.4, 1e-12);
	CU_ASSERT_DOUBLE_EQUAL(a.sk.top_share[3], 0.4, 1e-12);
	CU_ASSERT_DOUBLE_EQUAL(a.sk.top_share[4], 0.8, 1e-12);
	/* sessions: roots r0 r1 r2; r3 child of r0 starting with all of it; gap 3 s.
	 * hit sources: r1 a,b last touched by r0 (other session); r3 a,b by r1 (other), c by
	 * r0 = its parent (same session). */
	CU_ASSERT_EQUAL(a.ss.sessions, 3);
	CU_ASSERT_EQUAL(a.ss.children, 1);
	CU_ASSERT_EQUAL(a.ss.relation[AN_REL_ALL], 1);
	CU_ASSERT_DOUBLE_EQUAL(a.ss.gap.p50, 3.0, 1e-9);
	CU_ASSERT_EQUAL(a.ru.same_session, 1);
	CU_ASSERT_EQUAL(a.ru.from_parent, 1);
	CU_ASSERT_EQUAL(a.ru.cross_session, 4);
	analyze_free(&a);
	trace_free(t);
}

static void test_tree_sessions(void)
{
	struct kv_trace *t = load_tree();
	struct analysis a;
	struct kv_err err = {{0}};

	CU_ASSERT_EQUAL_FATAL(analyze_run(t, NULL, &a, &err), 0);
	CU_ASSERT(a.ss.available);
	/* roots r0, r5 (orphan: parent 99 missing), r6; children r1..r4 */
	CU_ASSERT_EQUAL(a.ss.sessions, 3);
	CU_ASSERT_EQUAL(a.ss.children, 4);
	CU_ASSERT_EQUAL(a.ss.orphans, 1);
	/* relations: r1 all (3 of 3), r2 all but last (2 of 3), r3 shorter (1 of 4), r4 none;
	 * shared blocks 3+2+1+0 = 6 */
	CU_ASSERT_EQUAL(a.ss.relation[AN_REL_ALL], 1);
	CU_ASSERT_EQUAL(a.ss.relation[AN_REL_ALL_BUT_LAST], 1);
	CU_ASSERT_EQUAL(a.ss.relation[AN_REL_SHORTER], 1);
	CU_ASSERT_EQUAL(a.ss.relation[AN_REL_NONE], 1);
	CU_ASSERT_EQUAL(a.ss.common_blocks, 6);
	/* turns per session: r0's session has turns {1,2,3}; r5 {2}; r6 {1} -> 1:2, 3:1 */
	CU_ASSERT_EQUAL(a.ss.max_turns, 3);
	CU_ASSERT_EQUAL(a.ss.turns_hist[1], 2);
	CU_ASSERT_EQUAL(a.ss.turns_hist[2], 0);
	CU_ASSERT_EQUAL(a.ss.turns_hist[3], 1);
	/* (session, turn) groups: (r0,1) 1, (r0,2) 2, (r0,3) 2, (r5,2) 1, (r6,1) 1 */
	CU_ASSERT_EQUAL(a.ss.turn_groups, 5);
	CU_ASSERT_EQUAL(a.ss.rpt_hist[1], 3);
	CU_ASSERT_EQUAL(a.ss.rpt_hist[2], 2);
	/* gaps 5 (r1-r0), 7 (r2-r0), 60 (r3-r1), 63 (r4-r2): p50 rank 2 = 7, p90 rank 4 = 63 */
	CU_ASSERT_EQUAL(a.ss.ngaps, 4);
	CU_ASSERT_DOUBLE_EQUAL(a.ss.gap.p50, 7, 1e-9);
	CU_ASSERT_DOUBLE_EQUAL(a.ss.gap.p90, 63, 1e-9);
	CU_ASSERT_DOUBLE_EQUAL(a.ss.gap.mean, 33.75, 1e-9);
	/* growth: turn 2 children r1 (+20), r2 (+24); turn 3 r3 (20-60 = -40), r4 (30-64 = -34);
	 * turn 2 has 3 requests (r5 is an orphan, not a child) */
	CU_ASSERT_EQUAL(a.ss.turn_requests[2], 3);
	CU_ASSERT_EQUAL(a.ss.turn_children[2], 2);
	CU_ASSERT_EQUAL(a.ss.turn_growth[2], 44);
	CU_ASSERT_EQUAL(a.ss.turn_growth[3], -74);
	/* workload: span 131 s = 2 whole 60 s windows + 11 s, which joins the last window (a
	 * separate 11 s window counted over 60 s showed a false drop at the trace's end):
	 * [0, 60) r0-r2, [60, 131] r3-r6; rates 3/60 and 4/71 requests/s */
	CU_ASSERT_EQUAL(a.wl.nwindows, 2);
	CU_ASSERT_EQUAL(a.wl.win_requests[0], 3);
	CU_ASSERT_EQUAL(a.wl.win_requests[1], 4);
	{
		double lo_s, hi_s;

		an_window_bounds(&a.wl, 1, &lo_s, &hi_s);
		CU_ASSERT_DOUBLE_EQUAL(lo_s, 60, 1e-9);
		CU_ASSERT_DOUBLE_EQUAL(hi_s, 131, 1e-9);
		CU_ASSERT_DOUBLE_EQUAL(an_window_rate(&a.wl, 0), 3.0 / 60, 1e-12);
		CU_ASSERT_DOUBLE_EQUAL(an_window_rate(&a.wl, 1), 4.0 / 71, 1e-12);
	}
	CU_ASSERT_DOUBLE_EQUAL(a.wl.span_s, 131, 1e-9);
	/* input 16 20 30 32 40 60 64: p50 32, p90 64; output 5x5,7,9: p50 5, max 9 */
	CU_ASSERT_DOUBLE_EQUAL(a.wl.input.p50, 32, 0);
	CU_ASSERT_DOUBLE_EQUAL(a.wl.input.p90, 64, 0);
	CU_ASSERT_DOUBLE_EQUAL(a.wl.output.p50, 5, 0);
	CU_ASSERT_DOUBLE_EQUAL(a.wl.output.max, 9, 0);
	CU_ASSERT_EQUAL(a.wl.type_requests[type_index(t, "search")], 1);
	analyze_free(&a);
	trace_free(t);
}

static void test_tree_reuse(void)
{
	struct kv_trace *t = load_tree();
	struct analysis a;
	struct kv_err err = {{0}};
	const struct loghist *tm, *sd;
	int text = type_index(t, "text"), search = type_index(t, "search");

	CU_ASSERT_EQUAL_FATAL(analyze_run(t, NULL, &a, &err), 0);
	tm = &a.ru.time_ms[a.ntypes];
	sd = &a.ru.dist[a.ntypes];
	/* Touch times (tail-first): r0 c0 b1 a2; r1 d3 c4 b5 a6; r2 f7 e8 b9 a10; r3 g11 a12;
	 * r4 i13 h14; r5 b15 a16; r6 j17.
	 * r1: a b c reused after 5 s from r0 (its parent), distances a 0, b 1, c 2.
	 * r2: a b after 2 s from r1 (same session, not the parent), distances 0, 1.
	 * r3: a after 58 s from r2 (same session, not the parent), distance 0.
	 * r4: h cold. r5: a after 65 s from r3, distance 2 (i h); b after 123 s from r2,
	 * distance 4 (a g i h); both from another session (r5 is its own root). r6 cold. */
	CU_ASSERT_EQUAL(a.ru.accesses, 18);
	CU_ASSERT_EQUAL(a.ru.reuses, 8);
	CU_ASSERT_EQUAL(tm->n[loghist_bucket(5000)], 3);
	CU_ASSERT_EQUAL(tm->n[loghist_bucket(2000)], 2);
	CU_ASSERT_EQUAL(tm->n[loghist_bucket(58000)], 1);
	CU_ASSERT_EQUAL(tm->n[loghist_bucket(65000)], 1);
	CU_ASSERT_EQUAL(tm->n[loghist_bucket(123000)], 1);
	CU_ASSERT_EQUAL(sd->n[0], 3);
	CU_ASSERT_EQUAL(sd->n[1], 2);
	CU_ASSERT_EQUAL(sd->n[2], 2);
	CU_ASSERT_EQUAL(sd->n[3], 0);
	CU_ASSERT_EQUAL(sd->n[4], 1);
	CU_ASSERT_EQUAL(a.ru.same_session, 6);
	CU_ASSERT_EQUAL(a.ru.from_parent, 3);
	CU_ASSERT_EQUAL(a.ru.cross_session, 2);
	CU_ASSERT_EQUAL(a.ru.dist[text].total, 8);
	CU_ASSERT_EQUAL(a.ru.dist[search].total, 0);
	/* ceilings by type: text 8/17 blocks; tokens r1 48 + r2 32 + r3 16 + r5 32 = 128 of
	 * 40+60+64+20+30+32 = 246; search 0/1 block, 0/16 tokens */
	CU_ASSERT_EQUAL(a.ru.type[text].hit_blocks, 8);
	CU_ASSERT_EQUAL(a.ru.type[text].blocks, 17);
	CU_ASSERT_EQUAL(a.ru.type[text].hit_tokens, 128);
	CU_ASSERT_EQUAL(a.ru.type[text].tokens, 246);
	CU_ASSERT_EQUAL(a.ru.type[search].blocks, 1);
	CU_ASSERT_EQUAL(a.ru.type[search].hit_blocks, 0);
	/* by turn: 1 = r0 r6 0/4; 2 = r1 r2 r5 7/10 blocks, 112/156 tokens; 3 = r3 r4 1/4 */
	CU_ASSERT_EQUAL(a.ru.turn[1].hit_blocks, 0);
	CU_ASSERT_EQUAL(a.ru.turn[1].blocks, 4);
	CU_ASSERT_EQUAL(a.ru.turn[2].hit_blocks, 7);
	CU_ASSERT_EQUAL(a.ru.turn[2].blocks, 10);
	CU_ASSERT_EQUAL(a.ru.turn[2].hit_tokens, 112);
	CU_ASSERT_EQUAL(a.ru.turn[2].tokens, 156);
	CU_ASSERT_EQUAL(a.ru.turn[3].hit_blocks, 1);
	/* skew: reuses a 4, b 3, c 1, others 0 -> 8 over 10 nodes, 3 reused; top 1% and 10%
	 * = 1 node: 4/8; top 20% = 2 nodes: 7/8 */
	CU_ASSERT_EQUAL(a.sk.reused_nodes, 3);
	CU_ASSERT_EQUAL(a.sk.nodes, 10);
	CU_ASSERT_DOUBLE_EQUAL(a.sk.top_share[1], 0.5, 1e-12);
	CU_ASSERT_DOUBLE_EQUAL(a.sk.top_share[3], 0.5, 1e-12);
	CU_ASSERT_DOUBLE_EQUAL(a.sk.top_share[4], 0.875, 1e-12);
	analyze_free(&a);
	trace_free(t);
}

/* A Mooncake trace (no session fields, no types): sessions are reported unavailable, the
 * summary says so (under `make check` / valgrind this also catches a leaked JSON object,
 * the bug this test was written for), and the ceiling still holds.
 * Blocks (512 tokens): r0 [1,2] t=0 s; r1 [1,3] t=1 s. */
static void test_mooncake_no_sessions(void)
{
	const char *jsonl =
		"{\"timestamp\": 0, \"input_length\": 1000, \"output_length\": 5, \"hash_ids\": [1, 2]}\n"
		"{\"timestamp\": 1000, \"input_length\": 600, \"output_length\": 5, \"hash_ids\": [1, 3]}\n";
	struct kv_err err = {{0}};
	struct analysis a;
	struct kv_trace *t;
	json_t *js, *ss;
	int rc;

	t = tu_load_str("mc.jsonl", jsonl, NULL, &rc, &err);
	CU_ASSERT_PTR_NOT_NULL_FATAL(t);
	CU_ASSERT_EQUAL_FATAL(analyze_run(t, NULL, &a, &err), 0);
	CU_ASSERT_FALSE(a.ss.available);
	/* r1: node (1) reused after 1 s at distance 0 (a touched last in r0); ceiling 1/4
	 * blocks, 512/1600 tokens */
	CU_ASSERT_EQUAL(a.ru.reuses, 1);
	CU_ASSERT_EQUAL(a.ru.dist[a.ntypes].n[0], 1);
	CU_ASSERT_EQUAL(a.ru.time_ms[a.ntypes].n[loghist_bucket(1000)], 1);
	CU_ASSERT_EQUAL(a.ru.all.hit_tokens, 512);
	CU_ASSERT_EQUAL(a.ru.all.tokens, 1600);
	CU_ASSERT_EQUAL(a.ru.same_session + a.ru.cross_session, 0);
	js = analyze_summary_json(&a);
	CU_ASSERT_PTR_NOT_NULL_FATAL(js);
	ss = json_object_get(js, "sessions");
	CU_ASSERT(json_is_false(json_object_get(ss, "available")));
	CU_ASSERT(json_is_null(json_object_get(json_object_get(js, "reuse"), "hit_sessions")));
	json_decref(js);
	analyze_free(&a);
	trace_free(t);
}

/* The stack-distance LRU column against `kvsim sim --policy lru` on the tree fixture:
 * hits at capacity C = accesses with distance < C: C=1: 3, C=2: 5, C=3: 7, C=5: 8. */
static void test_tree_lru_vs_sim(void)
{
	const char *p = tu_write("tree.jsonl", tree_jsonl);
	const char *args[] = {"-c", "1,2,3,5", "-f", "csv", p, NULL};
	char *out, *err;

	CU_ASSERT_EQUAL_FATAL(tu_run(args, NULL, &out, &err), 0);
	CU_ASSERT_STRING_EQUAL(tu_csv(out, 0, "hit_blocks"), "3");
	CU_ASSERT_STRING_EQUAL(tu_csv(out, 1, "hit_blocks"), "5");
	CU_ASSERT_STRING_EQUAL(tu_csv(out, 2, "hit_blocks"), "7");
	CU_ASSERT_STRING_EQUAL(tu_csv(out, 3, "hit_blocks"), "8");
	free(out);
	free(err);
}

/*
 * Prefix closure makes the cache core's LRU differ from the LRU stack, so the LRU columns of
 * stack_distance_cdf.csv cannot be read off the stack distances (Mooncake, B = 512).
 * Nodes a=(2) b=(a,3) c=(a,2) d=(c,3).
 *   r0 [2,3]   a b     r1 [2,2,3] a c d     r2 [2,2] a c
 * Stack distances of the reuses: r1 a 0; r2 a 0, c 1 (r1 touched d, c, a). Rows: d=0
 * (capacity 1) and d=1 (capacity 2).
 * LRU, C=1: r0 leaves [a]; r1 hits a, d evicts a (d hangs under c, not a), c evicts d, a
 * evicts c -> [a]; r2 hits a: 2 hits (1024 of 3584 tokens).
 * LRU, C=2: r0 leaves [b a]; r1 hits a; d evicts b -> [a d]; c evicts a, which takes c (and
 * d) with it (closure) -> []; a -> [a]; r2 hits a, c is gone: 2 hits, not the stack's 3
 * (a stack of 2 would hold a, c).
 * The closure event at capacity 2 (r1) comes before any reuse at distance 1 (r2), so the
 * reuse pass declines to follow it and runs capacity 2 again (reuse.c): this covers that.
 */
static void test_cli_lru_columns_closure(void)
{
	const char *p = tu_write("closure-an.jsonl",
		"{\"timestamp\":0,\"input_length\":1024,\"output_length\":1,\"hash_ids\":[2,3]}\n"
		"{\"timestamp\":1,\"input_length\":1536,\"output_length\":1,\"hash_ids\":[2,2,3]}\n"
		"{\"timestamp\":2,\"input_length\":1024,\"output_length\":1,\"hash_ids\":[2,2]}\n");
	const char *dir = tu_path("an-closure");
	const char *args[] = {"analyze", "--out", dir, p, NULL};
	const char *sargs[] = {"-c", "1,2", "-f", "csv", p, NULL};
	char *out, *err, *csv, *sim, path[4200];

	CU_ASSERT_EQUAL_FATAL(tu_run(args, NULL, &out, &err), 0);
	free(out);
	free(err);
	snprintf(path, sizeof(path), "%s/stack_distance_cdf.csv", dir);
	csv = tu_slurp(path, NULL);
	CU_ASSERT_PTR_NOT_NULL_FATAL(csv);
	CU_ASSERT_STRING_EQUAL(tu_csv(csv, 0, "lru_capacity_blocks"), "1");
	CU_ASSERT_STRING_EQUAL(tu_csv(csv, 0, "lru_hits"), "2");
	CU_ASSERT_STRING_EQUAL(tu_csv(csv, 1, "lru_capacity_blocks"), "2");
	CU_ASSERT_STRING_EQUAL(tu_csv(csv, 1, "lru_hits"), "2");
	CU_ASSERT_STRING_EQUAL(tu_csv(csv, 1, "lru_block_hit_ratio"), "0.285714"); /* 2/7 */
	CU_ASSERT_STRING_EQUAL(tu_csv(csv, 1, "lru_token_hit_ratio"), "0.285714"); /* 1024/3584 */
	/* the distance CDF itself is unchanged: 1 of 3 reuses has distance 1 */
	CU_ASSERT_STRING_EQUAL(tu_csv(csv, 0, "all"), "0.666667");
	CU_ASSERT_STRING_EQUAL(tu_csv(csv, 1, "all"), "1.000000");
	/* and the simulator agrees with the hand computation */
	CU_ASSERT_EQUAL_FATAL(tu_run(sargs, NULL, &sim, &err), 0);
	CU_ASSERT_STRING_EQUAL(tu_csv(sim, 0, "hit_blocks"), "2");
	CU_ASSERT_STRING_EQUAL(tu_csv(sim, 1, "hit_blocks"), "2");
	free(sim);
	free(err);
	free(csv);
}

static void test_cli_outputs(void)
{
	const char *dir = tu_path("an-tree");
	const char *p = tu_write("tree2.jsonl", tree_jsonl);
	const char *args[] = {"analyze", "--out", dir, p, NULL};
	static const char *const files[] = {
		"summary.json", "workload_arrivals.csv", "workload_lengths_cdf.csv",
		"workload_types.csv", "sessions_turns.csv", "sessions_requests_per_turn.csv",
		"sessions_gap_cdf.csv", "sessions_relations.csv", "sessions_by_turn.csv",
		"reuse_time_hist.csv", "reuse_time_cdf.csv", "stack_distance_hist.csv",
		"stack_distance_cdf.csv", "skew.csv", "ceiling_by_type.csv", "ceiling_by_turn.csv"};
	char *out, *err, *csv, path[4300];

	CU_ASSERT_EQUAL_FATAL(tu_run(args, NULL, &out, &err), 0);
	/* ceiling 8/18 = 0.444444; text+search columns; same session 6 of 8 hits */
	CU_ASSERT_PTR_NOT_NULL(strstr(out, "block hit ratio 0.444444"));
	CU_ASSERT_PTR_NOT_NULL(strstr(out, "from the same session 75.0%"));
	/* sessions r0, r5 (an orphan), r6; children r1-r4, the orphan not among them (the
	 * digest used to print "4 children (1 with the parent missing)") */
	CU_ASSERT_PTR_NOT_NULL(strstr(out, "3 sessions (1 starting at an orphan, whose parent is "
					   "not in the file), 4 children,"));
	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		struct stat st;

		snprintf(path, sizeof(path), "%s/%s", dir, files[i]);
		CU_ASSERT(stat(path, &st) == 0 && st.st_size > 0);
	}
	snprintf(path, sizeof(path), "%s/stack_distance_cdf.csv", dir);
	csv = tu_slurp(path, NULL);
	CU_ASSERT_PTR_NOT_NULL_FATAL(csv);
	/* distances 0:3 1:2 2:2 4:1 -> rows 0,1,2,4; at distance <= 1 LRU(2) hits 5 of 18;
	 * among text reuses 5/8 */
	CU_ASSERT_STRING_EQUAL(tu_csv(csv, 1, "stack_distance_blocks"), "1");
	CU_ASSERT_STRING_EQUAL(tu_csv(csv, 1, "lru_hits"), "5");
	CU_ASSERT_STRING_EQUAL(tu_csv(csv, 1, "lru_block_hit_ratio"), "0.277778");
	CU_ASSERT_STRING_EQUAL(tu_csv(csv, 1, "text"), "0.625000");
	CU_ASSERT_STRING_EQUAL(tu_csv(csv, 3, "stack_distance_blocks"), "4");
	CU_ASSERT_STRING_EQUAL(tu_csv(csv, 3, "all"), "1.000000");
	free(csv);
	snprintf(path, sizeof(path), "%s/sessions_relations.csv", dir);
	csv = tu_slurp(path, NULL);
	CU_ASSERT_PTR_NOT_NULL_FATAL(csv);
	CU_ASSERT_STRING_EQUAL(tu_csv(csv, 1, "relation"), "all_but_last");
	CU_ASSERT_STRING_EQUAL(tu_csv(csv, 1, "share"), "0.250000");
	free(csv);
	free(out);
	free(err);
	{
		const char *bad[] = {"analyze", "--window", "0", p, NULL};

		CU_ASSERT_EQUAL(tu_run(bad, NULL, &out, &err), 2);
		CU_ASSERT_PTR_NOT_NULL(strstr(err, "--window"));
		free(out);
		free(err);
	}
}

/* Same input, same output bytes (CSV tables); --format json is the summary with the
 * expected ceiling (8/18 = 0.444444...). */
static void test_cli_deterministic_json(void)
{
	static const char *const files[] = {"stack_distance_cdf.csv", "reuse_time_hist.csv",
					    "sessions_turns.csv", "ceiling_by_turn.csv", "skew.csv"};
	const char *p = tu_write("tree4.jsonl", tree_jsonl);
	const char *d1 = tu_path("det1"), *d2 = tu_path("det2");
	const char *a1[] = {"analyze", "-o", d1, p, NULL};
	const char *a2[] = {"analyze", "-o", d2, "--format", "json", p, NULL};
	char *out, *err, path[4400];
	json_t *js;
	json_error_t jerr;

	CU_ASSERT_EQUAL_FATAL(tu_run(a1, NULL, &out, &err), 0);
	free(out);
	free(err);
	CU_ASSERT_EQUAL_FATAL(tu_run(a2, NULL, &out, &err), 0);
	js = json_loads(out, 0, &jerr);
	CU_ASSERT_PTR_NOT_NULL_FATAL(js);
	CU_ASSERT_DOUBLE_EQUAL(json_real_value(json_object_get(json_object_get(js, "ceiling"),
								"block_hit_ratio")),
			       8.0 / 18, 1e-9);
	CU_ASSERT_EQUAL(json_integer_value(json_object_get(json_object_get(js, "sessions"),
							   "orphans")), 1);
	/* turn 2 children r1 (+20) and r2 (+24): mean growth 22 tokens */
	CU_ASSERT_DOUBLE_EQUAL(
		json_real_value(json_object_get(
			json_array_get(json_object_get(json_object_get(js, "sessions"), "by_turn"), 1),
			"mean_growth_tokens")),
		22.0, 1e-9);
	json_decref(js);
	free(out);
	free(err);
	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		char *x, *y;

		snprintf(path, sizeof(path), "%s/%s", d1, files[i]);
		x = tu_slurp(path, NULL);
		snprintf(path, sizeof(path), "%s/%s", d2, files[i]);
		y = tu_slurp(path, NULL);
		CU_ASSERT_PTR_NOT_NULL_FATAL(x);
		CU_ASSERT_PTR_NOT_NULL_FATAL(y);
		CU_ASSERT_STRING_EQUAL(x, y);
		free(x);
		free(y);
	}
}

/* On the real conversation trace: the ceiling printed by analyze equals `sim --capacity
 * inf`, and the LRU column of stack_distance_cdf.csv equals `sim --policy lru` at several
 * of its capacities. */
static void test_real_ceiling_and_lru(void)
{
	const char *p = tu_real_trace("mooncake_fast25_conversation_trace.jsonl.gz");
	const char *dir = tu_path("an-conv");
	char *out, *err, *sim, *csv, want[128], caps[256] = "", path[4300];
	int rows[] = {20, 80, 160, 240}, n = 0;

	if (!p)
		return;
	{
		const char *args[] = {"analyze", "--out", dir, p, NULL};
		const char *sargs[] = {"--capacity", "inf", "--format", "csv", p, NULL};

		CU_ASSERT_EQUAL_FATAL(tu_run(args, NULL, &out, &err), 0);
		free(err);
		CU_ASSERT_EQUAL_FATAL(tu_run(sargs, NULL, &sim, &err), 0);
		free(err);
	}
	/* tu_csv returns a static buffer: one call per snprintf */
	n = snprintf(want, sizeof(want), "block hit ratio %s, ", tu_csv(sim, 0, "block_hit_ratio"));
	snprintf(want + n, sizeof(want) - (size_t)n, "token hit ratio %s",
		 tu_csv(sim, 0, "token_hit_ratio"));
	n = 0;
	CU_ASSERT_PTR_NOT_NULL(strstr(out, want));
	free(out);
	free(sim);

	snprintf(path, sizeof(path), "%s/stack_distance_cdf.csv", dir);
	csv = tu_slurp(path, NULL);
	CU_ASSERT_PTR_NOT_NULL_FATAL(csv);
	for (int i = 0; i < 4; i++) {
		const char *c = tu_csv(csv, rows[i], "lru_capacity_blocks");

		CU_ASSERT_FATAL(*c);
		n += snprintf(caps + n, sizeof(caps) - (size_t)n, "%s%s", i ? "," : "", c);
	}
	{
		const char *sargs[] = {"--policy", "lru", "--capacity", caps, "--format", "csv", p,
				       NULL};

		CU_ASSERT_EQUAL_FATAL(tu_run(sargs, NULL, &sim, &err), 0);
		free(err);
	}
	for (int i = 0; i < 4; i++) {
		char lru_hits[32];

		snprintf(lru_hits, sizeof(lru_hits), "%s", tu_csv(csv, rows[i], "lru_hits"));
		CU_ASSERT_STRING_EQUAL(tu_csv(sim, i, "hit_blocks"), lru_hits);
		snprintf(lru_hits, sizeof(lru_hits), "%s", tu_csv(csv, rows[i], "lru_token_hit_ratio"));
		CU_ASSERT_STRING_EQUAL(tu_csv(sim, i, "token_hit_ratio"), lru_hits);
	}
	free(sim);
	free(csv);
}

/* Runs a shell command with output to a file in the test folder; returns the exit status
 * and the output (caller frees). */
static int sh(const char *cmd, char **out)
{
	const char *log = tu_path("sh.log");
	char *full = malloc(strlen(cmd) + 4400);
	int st;

	sprintf(full, "(%s) >'%s' 2>&1", cmd, log);
	st = system(full);
	free(full);
	*out = tu_slurp(log, NULL);
	if (!*out)
		*out = strdup("");
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128;
}

static const char *const figure_names[] = {"hit_ratio", "reuse_time", "stack_distance", "turns",
					   "gap", "arrivals", "lengths", "ttft", "load_share"};
#define NFIG (sizeof(figure_names) / sizeof(figure_names[0]))

/* 1 when path is a non-empty PNG (magic bytes) or SVG (an <svg element). */
static int is_figure(const char *path, int png)
{
	size_t len = 0;
	char *data = tu_slurp(path, &len);
	int ok;

	if (!data)
		return 0;
	if (png)
		ok = len > 8 && !memcmp(data, "\x89PNG\r\n\x1a\n", 8);
	else
		ok = len > 100 && strstr(data, "<svg") && strstr(data, "</svg>");
	free(data);
	return ok;
}

static time_t mtime_of(const char *path)
{
	struct stat st;

	return stat(path, &st) ? 0 : st.st_mtime;
}

/* `make figures` on the checked-in fixture CSVs (copied to the test folder) renders every
 * figure as PNG and SVG; a second run redraws nothing; a changed CSV redraws its figure only. */
static void test_figures_from_fixtures(void)
{
	const char *work = tu_path("figfix"), *figs = tu_path("figs");
	char cmd[8192], path[4400], *out;
	time_t before[NFIG];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s' && cp -r tests/fixtures/figures '%s'", work, work);
	CU_ASSERT_EQUAL_FATAL(sh(cmd, &out), 0);
	free(out);
	snprintf(cmd, sizeof(cmd),
		 "make -s -f scripts/figures/figures.mk KVSIM=%s TRACE= FIG_DIR='%s' AN_DIR='%s/analyze' "
		 "SWEEP_CSV='%s/sweep.csv' MRC_CSV='%s/mrc.csv' "
		 "TIMED_CSVS='%s/timed/rr/requests.csv %s/timed/cache-aware/requests.csv "
		 "%s/timed/runs.csv' figures",
		 getenv("KVSIM_BIN") ? getenv("KVSIM_BIN") : "bin/kvsim", figs, work, work, work, work,
		 work, work);
	if (sh(cmd, &out)) {
		fprintf(stderr, "\n%s\n", out);
		CU_FAIL("make figures failed");
	}
	/* one FIG line per figure */
	for (size_t i = 0; i < NFIG; i++) {
		snprintf(path, sizeof(path), "%s/%s.png", figs, figure_names[i]);
		if (!is_figure(path, 1))
			fprintf(stderr, "\nnot a PNG: %s\n", path);
		CU_ASSERT(is_figure(path, 1));
		before[i] = mtime_of(path);
		snprintf(path, sizeof(path), "%s/%s.svg", figs, figure_names[i]);
		CU_ASSERT(is_figure(path, 0));
	}
	CU_ASSERT_PTR_NOT_NULL(strstr(out, "FIG"));
	free(out);
	/* series: rr and cache-aware by folder name; least-requests and lmetric from the router
	 * column of runs.csv (the timed mode's one CSV for several routers) */
	for (int k = 0; k < 2; k++) {
		static const char *const series[] = {"<title>rr</title>", "<title>cache-aware</title>",
						     "<title>least-requests</title>",
						     "<title>lmetric</title>"};
		char *svg;

		snprintf(path, sizeof(path), "%s/%s.svg", figs, k ? "load_share" : "ttft");
		svg = tu_slurp(path, NULL);
		CU_ASSERT_PTR_NOT_NULL_FATAL(svg);
		for (int j = 0; j < 4; j++)
			CU_ASSERT_PTR_NOT_NULL(strstr(svg, series[j]));
		free(svg);
	}
	/* nothing changed: nothing redrawn (make prints no FIG line) */
	CU_ASSERT_EQUAL(sh(cmd, &out), 0);
	CU_ASSERT_PTR_NULL(strstr(out, "FIG"));
	free(out);
	/* a newer arrivals CSV redraws the arrivals figure and no other */
	snprintf(path, sizeof(path), "touch -d '+2 seconds' '%s/analyze/workload_arrivals.csv'", work);
	CU_ASSERT_EQUAL(sh(path, &out), 0);
	free(out);
	CU_ASSERT_EQUAL(sh(cmd, &out), 0);
	CU_ASSERT_PTR_NOT_NULL(strstr(out, "arrivals.png"));
	CU_ASSERT_PTR_NULL(strstr(out, "hit_ratio.png"));
	free(out);
	snprintf(path, sizeof(path), "%s/hit_ratio.png", figs);
	CU_ASSERT_EQUAL(mtime_of(path), before[0]);
}

/* Without gnuplot on PATH both the driver and the make target name the package. */
static void test_figures_without_gnuplot(void)
{
	char *out;

	CU_ASSERT_EQUAL(sh("env PATH=/nonexistent /bin/sh scripts/figures/fig.sh arrivals /tmp/x "
			   "tests/fixtures/figures/analyze/workload_arrivals.csv", &out), 1);
	CU_ASSERT_PTR_NOT_NULL(strstr(out, "gnuplot-nox"));
	free(out);
	CU_ASSERT_NOT_EQUAL(sh("env PATH=/nonexistent /usr/bin/make -s -f "
			       "scripts/figures/figures.mk KVSIM=/bin/false gnuplot-check", &out), 0);
	CU_ASSERT_PTR_NOT_NULL(strstr(out, "gnuplot-nox"));
	free(out);
}

/* A figure whose CSV has no rows (a trace without sessions) is skipped with a note. */
static void test_figure_skip_note(void)
{
	const char *csv = tu_write("empty_turns.csv", "turns,sessions,share,cdf\n");
	char cmd[4400], *out;

	snprintf(cmd, sizeof(cmd), "scripts/figures/fig.sh turns '%s' '%s'", tu_path("skipped"),
		 csv);
	CU_ASSERT_EQUAL(sh(cmd, &out), 0);
	CU_ASSERT_PTR_NOT_NULL(strstr(out, "skipping turns"));
	CU_ASSERT_PTR_NOT_NULL(strstr(out, "no session fields"));
	free(out);
	snprintf(cmd, sizeof(cmd), "%s.png", tu_path("skipped"));
	CU_ASSERT_EQUAL(mtime_of(cmd), 0);
}

/* The fixture CSVs keep the headers that `kvsim analyze` writes. */
static void test_figure_fixture_headers(void)
{
	static const char *const files[] = {"reuse_time_cdf.csv", "stack_distance_cdf.csv",
					    "sessions_turns.csv", "sessions_gap_cdf.csv",
					    "workload_arrivals.csv", "workload_lengths_cdf.csv"};
	const char *dir = tu_path("an-hdr");
	const char *p = tu_write("tree3.jsonl", tree_jsonl);
	const char *args[] = {"analyze", "--out", dir, p, NULL};
	char *out, *err, path[4400];

	CU_ASSERT_EQUAL_FATAL(tu_run(args, NULL, &out, &err), 0);
	free(out);
	free(err);
	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		char *a, *b, ha[512];

		snprintf(path, sizeof(path), "%s/%s", dir, files[i]);
		a = tu_slurp(path, NULL);
		snprintf(path, sizeof(path), "tests/fixtures/figures/analyze/%s", files[i]);
		b = tu_slurp(path, NULL);
		CU_ASSERT_PTR_NOT_NULL_FATAL(a);
		CU_ASSERT_PTR_NOT_NULL_FATAL(b);
		snprintf(ha, sizeof(ha), "%s", tu_line(a, 0));
		CU_ASSERT_STRING_EQUAL(ha, tu_line(b, 0));
		free(a);
		free(b);
	}
}

int suite_analyze(void)
{
	CU_pSuite s = CU_add_suite("analyze", NULL, NULL);

	if (!s)
		return -1;
	if (!CU_add_test(s, "loghist buckets and percentiles", test_loghist) ||
	    !CU_add_test(s, "exact summaries", test_dist_summary) ||
	    !CU_add_test(s, "example: reuse time, stack distance", test_example_reuse) ||
	    !CU_add_test(s, "example: ceilings, skew, sessions", test_example_ceilings_skew_sessions) ||
	    !CU_add_test(s, "tree: sessions, turns, relations", test_tree_sessions) ||
	    !CU_add_test(s, "tree: reuse, ceilings by type and turn", test_tree_reuse) ||
	    !CU_add_test(s, "mooncake: no sessions", test_mooncake_no_sessions) ||
	    (!tu_unit_only() && !CU_add_test(s, "tree: LRU via sim", test_tree_lru_vs_sim)) ||
	    (!tu_unit_only() && !CU_add_test(s, "cli outputs", test_cli_outputs)) ||
	    (!tu_unit_only() &&
	     !CU_add_test(s, "cli LRU columns under prefix closure", test_cli_lru_columns_closure)) ||
	    (!tu_unit_only() && !CU_add_test(s, "cli deterministic, json", test_cli_deterministic_json)) ||
	    (!tu_unit_only() &&
	     !CU_add_test(s, "real trace: ceiling and LRU", test_real_ceiling_and_lru)) ||
	    (!tu_unit_only() && !CU_add_test(s, "figures from fixtures", test_figures_from_fixtures)) ||
	    (!tu_unit_only() && !CU_add_test(s, "figures without gnuplot", test_figures_without_gnuplot)) ||
	    (!tu_unit_only() && !CU_add_test(s, "figure skip note", test_figure_skip_note)) ||
	    (!tu_unit_only() && !CU_add_test(s, "figure fixture headers", test_figure_fixture_headers)))
		return -1;
	return 0;
}
