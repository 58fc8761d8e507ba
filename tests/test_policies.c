/*
 * test_policies.c - the eviction policy suite: a conformance suite run over EVERY registered
 * policy (capacity, prefix closure, the infinite-cache ceiling, determinism, Belady as an
 * upper bound), on small fixtures, a generated multi-turn trace and the real Mooncake traces,
 * then hand-computed fixtures per policy (the computation is written beside each assertion).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cache.h"
#include "cache_pin.h"
#include "cache_sweep.h"
#include "capacity.h"
#include "registry.h"
#include "test_util.h"

#define RECT(id, par, ts, len, type, turn, ids) \
	"{\"chat_id\":" #id ",\"parent_chat_id\":" #par ",\"timestamp\":" #ts \
	",\"input_length\":" #len ",\"output_length\":1,\"type\":\"" type "\",\"turn\":" #turn \
	",\"hash_ids\":" ids "}\n"
#define REC(id, par, ts, len, turn, ids) RECT(id, par, ts, len, "text", turn, ids)

/* DESIGN.md section 3 worked example */
#define EXAMPLE REC(0, -1, 0, 40, 1, "[1,2,3]") REC(1, -1, 1, 48, 1, "[1,2,4]") \
	REC(2, -1, 2, 20, 1, "[5,2]") REC(3, 0, 3, 60, 2, "[1,2,3,6]")

#define MAX_REQ 64

/* ---------------------------------------------------------------- helpers */

static struct kv_trace *load(const char *name, const char *jsonl)
{
	struct kv_err err;
	int rc;
	struct kv_trace *t = tu_load_str(name, jsonl, NULL, &rc, &err);

	if (rc)
		fprintf(stderr, "\n%s: %s\n", name, err.msg);
	return t;
}

/* The node of block k of request r. */
static uint32_t node(const struct kv_trace *t, size_t r, uint32_t k)
{
	return trace_req_nodes(t, r)[k];
}

/* Runs policy `spec` at `cap` blocks over the trace. Checks after every request that the
 * resident blocks fit and the request's resident blocks have resident parents, and runs the
 * full cache_check every `check_every` requests and at the end. hits[] (if given) gets the
 * per-request hits of the first MAX_REQ requests. Returns the cache (caller destroys). */
static enum kv_hit_rule hit_rule = KV_HIT_PREFIX; /* of run_checked */

static struct kv_cache *run_checked(const struct kv_trace *t, const char *spec, uint64_t cap,
				    size_t check_every, uint32_t *hits)
{
	const struct evict_ops *ops;
	struct kv_params p;
	struct kv_cache *c;
	struct kv_err err;
	int bad = 0;

	CU_ASSERT_EQUAL_FATAL(evict_resolve(spec, &ops, &p, &err), KV_OK);
	CU_ASSERT_EQUAL_FATAL(cache_create(&c, t, ops, &p, cap, hit_rule, &err), KV_OK);
	for (size_t r = 0; r < t->nreq; r++) {
		const uint32_t *nd = trace_req_nodes(t, r);
		uint32_t h = cache_run_request(c, (uint32_t)r, t->req[r].ts_s);

		if (hits && r < MAX_REQ)
			hits[r] = h;
		if (cap != KV_CAPACITY_INF && c->resident > cap)
			bad = 1;
		for (uint32_t k = 1; k < t->req[r].nblocks; k++)
			if (c->blocks[nd[k]].resident && !c->blocks[nd[k - 1]].resident)
				bad = 1;
		if ((r + 1) % check_every == 0 || r + 1 == t->nreq) {
			if (cache_check(c, &err)) {
				fprintf(stderr, "\n%s at %llu blocks, request %zu: %s\n", spec,
					(unsigned long long)cap, r, err.msg);
				bad = 1;
			}
		}
		if (bad) {
			fprintf(stderr, "\n%s at %llu blocks: invariant broken at request %zu\n", spec,
				(unsigned long long)cap, r);
			break;
		}
	}
	CU_ASSERT_FALSE(bad);
	return c;
}

static struct kv_cache_stats run_stats(const struct kv_trace *t, const char *spec, uint64_t cap,
				       size_t check_every)
{
	struct kv_cache *c = run_checked(t, spec, cap, check_every, NULL);
	struct kv_cache_stats st = c->st;

	cache_destroy(c);
	return st;
}

/* A generated multi-turn trace in the Bailian schema (deterministic LCG): roots of three
 * types that start from one of four shared "system prompts" of 1-3 blocks, and follow-ups
 * that re-send their parent's prompt minus its last (partial) block plus new blocks, with
 * the turn incremented. Exercises categories, sessions and shared prefixes. */
static char *gen_multiturn(int nreq, uint32_t seed)
{
	static const char *types[] = {"text", "api", "search"};
	size_t cap = 1 << 20, off = 0;
	char *out = malloc(cap);
	uint64_t *ids[512];
	int nids[512], turn[512], type[512];
	uint64_t next_id = 1000, x = seed;
	double ts = 0;

	CU_ASSERT_FATAL(nreq <= 512 && out != NULL);
#define RND(n) ((x = x * 6364136223846793005ULL + 1442695040888963407ULL), (int)((x >> 33) % (n)))
	for (int r = 0; r < nreq; r++) {
		int parent = r > 0 && RND(10) < 6 ? RND(r) : -1, n = 0;

		ids[r] = malloc(64 * sizeof(uint64_t));
		if (parent >= 0 && nids[parent] < 40) {
			for (int k = 0; k + 1 < nids[parent]; k++)
				ids[r][n++] = ids[parent][k];
			turn[r] = turn[parent] + 1;
			type[r] = type[parent];
		} else {
			int sys = RND(4);

			parent = -1;
			for (int k = 0; k <= sys % 3; k++)
				ids[r][n++] = (uint64_t)(sys * 10 + k + 1);
			turn[r] = 1;
			type[r] = RND(3);
		}
		for (int k = RND(4) + 1; k > 0; k--)
			ids[r][n++] = next_id++;
		nids[r] = n;
		ts += RND(4) * 0.5;
		off += (size_t)snprintf(out + off, cap - off,
					"{\"chat_id\":%d,\"parent_chat_id\":%d,\"timestamp\":%.3f,"
					"\"input_length\":%d,\"output_length\":5,\"type\":\"%s\","
					"\"turn\":%d,\"hash_ids\":[",
					r, parent, ts, 16 * n - RND(16), types[type[r]], turn[r]);
		for (int k = 0; k < n; k++)
			off += (size_t)snprintf(out + off, cap - off, "%s%llu", k ? "," : "",
						(unsigned long long)ids[r][k]);
		off += (size_t)snprintf(out + off, cap - off, "]}\n");
	}
	for (int r = 0; r < nreq; r++)
		free(ids[r]);
	return out;
}

/* Non-default parameters that change a policy's code path, checked like the defaults. */
static const char *const variants[] = {"lfu:aging=1", "s3fifo:small=0.25,ghost=0",
				       "s3fifo:move=2", "session:timeout_s=0",
				       "wa:window_s=60,lookahead_s=30,turns=2"};
#define NVARIANTS ((int)(sizeof(variants) / sizeof(variants[0])))

/* The conformance checks of every registered policy (and the variants above) on one trace, at the given capacities
 * (the last one may be KV_CAPACITY_INF; it is added anyway): capacity and prefix closure
 * (inside run_checked), determinism, the ceiling at infinite capacity, and Belady's block
 * hit ratio >= every policy's at every capacity. */
static void conformance(const struct kv_trace *t, const uint64_t *caps, int ncap,
			size_t check_every, int twice_all)
{
	struct kv_ceiling ceil;
	uint64_t bel[16];
	int nreg = 0;

	while (evict_registry[nreg])
		nreg++;
	CU_ASSERT_FATAL(ncap <= 16);
	CU_ASSERT_EQUAL_FATAL(cache_ceiling(t, KV_HIT_PREFIX, &ceil), 0);
	for (int j = 0; j < ncap; j++)
		bel[j] = run_stats(t, "belady", caps[j], check_every).hit_blocks;
	for (int i = 0; i < nreg + NVARIANTS; i++) {
		const char *name = i < nreg ? evict_registry[i]->name : variants[i - nreg];
		struct kv_cache_stats inf, st, st2;

		/* infinite capacity: no eviction, exactly the ceiling */
		inf = run_stats(t, name, KV_CAPACITY_INF, check_every);
		CU_ASSERT_EQUAL(inf.hit_blocks, ceil.hit_blocks);
		CU_ASSERT_EQUAL(inf.hit_tokens, ceil.hit_tokens);
		CU_ASSERT_EQUAL(inf.blocks, ceil.blocks);
		CU_ASSERT_EQUAL(inf.evictions, 0);
		for (int j = 0; j < ncap; j++) {
			st = run_stats(t, name, caps[j], check_every);
			if (st.hit_blocks > bel[j])
				fprintf(stderr, "\n%s beats belady at %llu blocks: %llu > %llu hits\n",
					name, (unsigned long long)caps[j],
					(unsigned long long)st.hit_blocks, (unsigned long long)bel[j]);
			CU_ASSERT(st.hit_blocks <= bel[j]);
			CU_ASSERT(st.hit_blocks <= ceil.hit_blocks);
			if (twice_all || j == 0) { /* deterministic: a second run, the same numbers */
				st2 = run_stats(t, name, caps[j], check_every);
				CU_ASSERT_EQUAL(memcmp(&st, &st2, sizeof(st)), 0);
			}
		}
	}
}


/* Random small traces: NREQ requests over a small id alphabet (so chains share prefixes,
 * repeat and branch), sessions with parents, two types and several turns. Deterministic. */
static char *gen_random(int nreq, uint32_t seed)
{
	static const char *types[] = {"text", "api"};
	size_t cap = 1 << 16, off = 0;
	char *out = malloc(cap);
	uint64_t x = seed;
	double ts = 0;

	CU_ASSERT_FATAL(out != NULL);
	for (int r = 0; r < nreq; r++) {
		int n = RND(5) + 1, parent = -1, len, type, turn;

		if (r > 0 && RND(3) == 0)
			parent = RND(r);
		len = 16 * n - RND(16);
		type = RND(2);
		turn = RND(4) + 1;
		ts += RND(3) * 0.5;
		off += (size_t)snprintf(out + off, cap - off,
					"{\"chat_id\":%d,\"parent_chat_id\":%d,\"timestamp\":%.1f,"
					"\"input_length\":%d,\"output_length\":1,\"type\":\"%s\","
					"\"turn\":%d,\"hash_ids\":[",
					r, parent, ts, len, types[type], turn);
		for (int k = 0; k < n; k++) {
			int id = k == 0 ? RND(3) + 1 : RND(4) + 1;

			off += (size_t)snprintf(out + off, cap - off, "%s%d", k ? "," : "", id);
		}
		off += (size_t)snprintf(out + off, cap - off, "]}\n");
	}
	return out;
}

/* Belady is an upper bound at EVERY capacity, not just the tested ones: 300 random traces
 * of 24 requests, every policy (and variant) at every capacity 1..distinct nodes, with the
 * capacity and closure invariants checked after every request. (The proof: with prefix
 * closure, a policy's prefix hits are at most its membership hits; the state after a
 * request is any set of <= C blocks out of (state before) + (the request's blocks), and
 * keeping the C with the earliest next use maximises membership hits - the exchange
 * argument of MIN. Belady's sets are prefix-closed, so its prefix hits equal them.) */
static void belady_bound_random(enum kv_hit_rule rule)
{
	int nreg = 0, fails = 0;

	hit_rule = rule;
	while (evict_registry[nreg])
		nreg++;
	for (uint32_t seed = 1; seed <= 150 && fails < 5; seed++) {
		char *text = gen_random(24, seed);
		struct kv_trace *t = load("rnd.jsonl", text);

		CU_ASSERT_PTR_NOT_NULL_FATAL(t);
		for (uint64_t cap = 1; cap <= t->nnodes; cap++) {
			uint64_t bel = run_stats(t, "belady", cap, 1).hit_blocks;

			for (int i = 0; i < nreg + NVARIANTS; i++) {
				const char *name = i < nreg ? evict_registry[i]->name
							    : variants[i - nreg];
				uint64_t h = run_stats(t, name, cap, 1).hit_blocks;

				if (h > bel && fails++ < 5)
					fprintf(stderr, "\nseed %u: %s beats belady at %llu blocks: "
						"%llu > %llu\n", seed, name, (unsigned long long)cap,
						(unsigned long long)h, (unsigned long long)bel);
				CU_ASSERT(h <= bel);
			}
		}
		trace_free(t);
		free(text);
	}
	hit_rule = KV_HIT_PREFIX;
}

static void test_belady_bound_random(void)
{
	belady_bound_random(KV_HIT_PREFIX);
}

/* The same with the vllm hit rule (at most floor((L-1)/B) blocks hit). Before the fix
 * Belady counted every looked-up block as a use, and LRU beat it (seed 5, 1 block). */
static void test_belady_bound_random_vllm(void)
{
	belady_bound_random(KV_HIT_VLLM);
}

/* ---------------------------------------------------------------- conformance */

static void test_conformance_fixtures(void)
{
	static const uint64_t caps[] = {1, 2, 3, 4, 5, 8};
	static const char *fixtures[] = {
		EXAMPLE,
		/* closure: a parent inserted long before its children */
		REC(0, -1, 0, 16, 1, "[1]") REC(1, -1, 1, 48, 1, "[1,2,3]") REC(2, -1, 2, 16, 1, "[4]")
		REC(3, -1, 3, 48, 1, "[1,2,3]") REC(4, -1, 4, 32, 1, "[1,5]"),
		/* the same prompt again and again, and a long one wider than small caches */
		REC(0, -1, 0, 48, 1, "[1,2,3]") REC(1, -1, 0, 48, 1, "[1,2,3]")
		REC(2, -1, 1, 160, 1, "[1,2,3,4,5,6,7,8,9,10]") REC(3, -1, 2, 48, 1, "[1,2,3]"),
	};

	for (size_t f = 0; f < sizeof(fixtures) / sizeof(fixtures[0]); f++) {
		struct kv_trace *t = load("conf.jsonl", fixtures[f]);

		CU_ASSERT_PTR_NOT_NULL_FATAL(t);
		conformance(t, caps, 6, 1, 1);
		trace_free(t);
	}
}

static void test_conformance_generated(void)
{
	static const uint64_t caps[] = {3, 8, 20, 50, 120, 300};
	char *text = gen_multiturn(400, 7);
	struct kv_trace *t = load("gen.jsonl", text);

	CU_ASSERT_PTR_NOT_NULL_FATAL(t);
	/* the generator makes what it should: follow-ups, several types */
	CU_ASSERT(t->ntypes >= 4); /* "" + text, api, search */
	conformance(t, caps, 6, 1, 1);
	trace_free(t);
	free(text);
}

static void conformance_real(const char *file)
{
	const char *p = tu_real_trace(file);
	struct kv_trace *t;
	struct kv_err err;
	uint64_t caps[4];
	static const double pct[4] = {1, 5, 10, 25};

	if (!p || tu_unit_only())
		return;
	CU_ASSERT_EQUAL_FATAL(trace_load(p, NULL, &t, &err), KV_OK);
	for (int j = 0; j < 4; j++) /* DESIGN.md: pct of the distinct nodes, rounded down */
		caps[j] = (uint64_t)(t->nnodes * pct[j] / 100);
	conformance(t, caps, 4, 500, 0);
	trace_free(t);
}

static void test_conformance_real_conversation(void)
{
	conformance_real("mooncake_fast25_conversation_trace.jsonl.gz");
}

static void test_conformance_real_synthetic(void)
{
	conformance_real("mooncake_fast25_synthetic_trace.jsonl.gz");
}

/* cache_job_run() lets a helper thread initialise the block array while the run goes
 * (cache_create_run); with the threshold lowered to one block, every policy and variant
 * must give exactly the statistics of a cache initialised up front, under both hit rules. */
static void background_init_same(const struct kv_trace *t)
{
	int nreg = 0;
	size_t saved = cache_init_thread_min;

	while (evict_registry[nreg])
		nreg++;
	cache_init_thread_min = 1;
	for (int rule = KV_HIT_PREFIX; rule <= KV_HIT_VLLM; rule++)
		for (int i = 0; i < nreg + NVARIANTS; i++) {
			const char *name = i < nreg ? evict_registry[i]->name : variants[i - nreg];
			struct cache_job job = {0};
			struct cache_job_result res;
			struct kv_cache_stats want;
			struct kv_err err;

			hit_rule = (enum kv_hit_rule)rule;
			want = run_stats(t, name, t->nnodes / 10 + 1, SIZE_MAX);
			CU_ASSERT_EQUAL_FATAL(evict_resolve(name, &job.ops, &job.params, &err),
					      KV_OK);
			job.capacity_blocks = t->nnodes / 10 + 1;
			CU_ASSERT_EQUAL_FATAL(cache_job_run(t, &job, hit_rule, &res), KV_OK);
			CU_ASSERT(want.hit_blocks > 0);
			if (memcmp(&want, &res.st, sizeof(want))) {
				fprintf(stderr, "\n%s (%s rule): background init changes "
					"the result\n", name, cache_hit_rule_name(hit_rule));
				CU_FAIL("background init changes a result");
			}
		}
	hit_rule = KV_HIT_PREFIX;
	cache_init_thread_min = saved;
}

static void test_background_init(void)
{
	char *text = gen_multiturn(400, 11);
	struct kv_trace *t = load("bg.jsonl", text);
	const char *p = tu_real_trace("mooncake_fast25_conversation_trace.jsonl.gz");
	struct kv_err err;

	CU_ASSERT_PTR_NOT_NULL_FATAL(t);
	background_init_same(t);
	trace_free(t);
	free(text);
	if (!p || tu_unit_only())
		return;
	CU_ASSERT_EQUAL_FATAL(trace_load(p, NULL, &t, &err), KV_OK);
	background_init_same(t);
	trace_free(t);
}

/* Without session fields every request is its own root, so session must equal LRU; with one
 * (type, turn) category wa must equal LRU too (their file headers say why). */
static void test_mooncake_equals_lru(void)
{
	const char *p = tu_real_trace("mooncake_fast25_synthetic_trace.jsonl.gz");
	struct kv_trace *t;
	struct kv_err err;

	if (!p || tu_unit_only())
		return;
	CU_ASSERT_EQUAL_FATAL(trace_load(p, NULL, &t, &err), KV_OK);
	for (int j = 1; j <= 3; j++) {
		uint64_t cap = t->nnodes * j / 20;
		struct kv_cache_stats lru = run_stats(t, "lru", cap, 1000000);
		struct kv_cache_stats ss = run_stats(t, "session", cap, 1000000);
		struct kv_cache_stats wa = run_stats(t, "wa", cap, 1000000);

		CU_ASSERT_EQUAL(memcmp(&lru, &ss, sizeof(lru)), 0);
		CU_ASSERT_EQUAL(memcmp(&lru, &wa, sizeof(lru)), 0);
	}
	trace_free(t);
}

static void test_every_policy_documented(void)
{
	struct kv_params p;
	struct kv_err err;
	const struct evict_ops *ops;

	for (int i = 0; evict_registry[i]; i++) {
		CU_ASSERT_PTR_NOT_NULL(evict_registry[i]->doc);
		CU_ASSERT(strlen(evict_registry[i]->doc) > 10);
		CU_ASSERT_PTR_NOT_NULL(evict_registry[i]->defaults);
	}
	/* a typo in a parameter is an error, not a silent default */
	CU_ASSERT_EQUAL(evict_resolve("s3fifo:smal=0.2", &ops, &p, &err), KV_EINPUT);
	/* bad values fail in create() with KV_EINPUT */
	{
		struct kv_trace *t = load("doc.jsonl", EXAMPLE);
		struct kv_cache *c = NULL;
		static const char *bad[] = {"lfu:aging=2", "s3fifo:small=1.5", "wa:turns=0",
					    "s3fifo:move=0", "s3fifo:move=4", "s3fifo:ghost=-1",
					    "wa:lookahead_s=-1", "session:quantile=0",
					    "session:timeout_s=soon"};

		CU_ASSERT_PTR_NOT_NULL_FATAL(t);
		for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
			CU_ASSERT_EQUAL_FATAL(evict_resolve(bad[i], &ops, &p, &err), KV_OK);
			CU_ASSERT_EQUAL(cache_create(&c, t, ops, &p, 4, KV_HIT_PREFIX, &err),
					KV_EINPUT);
			/* and evict_check, without a trace, says so before any load */
			CU_ASSERT_EQUAL(evict_check(bad[i], &err), KV_EINPUT);
		}
		trace_free(t);
	}
	/* every policy with its defaults passes the check; unknown names and keys fail it */
	for (int i = 0; evict_registry[i]; i++)
		CU_ASSERT_EQUAL(evict_check(evict_registry[i]->name, &err), KV_OK);
	CU_ASSERT_EQUAL(evict_check("nosuch", &err), KV_EINPUT);
	CU_ASSERT_EQUAL(evict_check("s3fifo:smal=0.2", &err), KV_EINPUT);
}

/* ---------------------------------------------------------------- per-policy fixtures */

static void expect_hits(const uint32_t *got, const uint32_t *want, size_t n)
{
	for (size_t r = 0; r < n; r++) {
		if (got[r] != want[r])
			fprintf(stderr, "\nrequest %zu: %u hits, expected %u\n", r, got[r], want[r]);
		CU_ASSERT_EQUAL(got[r], want[r]);
	}
}

static void test_fifo_closure(void)
{
	/* capacity 3; a=(1), b=(a,2), x=(7), y=(8). FIFO lists run oldest first.
	 * r0 [1]:   a inserted                          -> [a]
	 * r1 [1,2]: a hits (1); b inserted, a hit does not move -> [a b]
	 * r2 [7]:   x                                   -> [a b x]
	 * r3 [8]:   y makes 4 > 3; the oldest is a, the PARENT of b: closure evicts b then a
	 *           (2 evictions)                       -> [x y]
	 * r4 [1,2]: 0 hits; b inserted [x y b], a inserted, 4 > 3 evicts x -> [y b a]
	 * hits 0,1,0,0,0 = 1 of 7 blocks; evictions 3; inserts 2+0... = a,b,x,y,b,a = 6. */
	struct kv_trace *t = load("fifo.jsonl", REC(0, -1, 0, 16, 1, "[1]")
				  REC(1, -1, 1, 32, 1, "[1,2]") REC(2, -1, 2, 16, 1, "[7]")
				  REC(3, -1, 3, 16, 1, "[8]") REC(4, -1, 4, 32, 1, "[1,2]"));
	static const uint32_t want[] = {0, 1, 0, 0, 0};
	uint32_t hits[MAX_REQ];
	struct kv_cache *c;

	CU_ASSERT_PTR_NOT_NULL_FATAL(t);
	c = run_checked(t, "fifo", 3, 1, hits);
	expect_hits(hits, want, 5);
	CU_ASSERT_EQUAL(c->st.hit_blocks, 1);
	CU_ASSERT_EQUAL(c->st.evictions, 3);
	CU_ASSERT_EQUAL(c->st.inserts, 6);
	CU_ASSERT_FALSE(c->blocks[node(t, 2, 0)].resident); /* x */
	CU_ASSERT_TRUE(c->blocks[node(t, 3, 0)].resident);  /* y */
	CU_ASSERT_TRUE(c->blocks[node(t, 4, 1)].resident);  /* b */
	cache_destroy(c);
	/* LRU on the same trace keeps a: r3 evicts only b (a was touched after it in r1, tail
	 * first), so r4 hits a: 2 hits in all. */
	c = run_checked(t, "lru", 3, 1, hits);
	CU_ASSERT_EQUAL(hits[4], 1);
	CU_ASSERT_EQUAL(c->st.hit_blocks, 2);
	cache_destroy(c);
	trace_free(t);
}

#define FREQ_TRACE \
	REC(0, -1, 0, 16, 1, "[1]") REC(1, -1, 1, 16, 1, "[1]") REC(2, -1, 2, 16, 1, "[1]") \
	REC(3, -1, 3, 16, 1, "[2]") REC(4, -1, 4, 16, 1, "[2]") REC(5, -1, 5, 16, 1, "[3]") \
	REC(6, -1, 6, 16, 1, "[4]") REC(7, -1, 7, 16, 1, "[4]") REC(8, -1, 8, 16, 1, "[5]") \
	REC(9, -1, 9, 16, 1, "[1]")

static void test_lfu(void)
{
	/* capacity 2; one-block requests a=1, b=2, c=3, d=4, e=5:  a a a b b c d d e a
	 * LFU evicts before it inserts: the block being inserted is never the victim.
	 * plain LFU (count, ties to least recent):
	 *   r0-r2: a count 1,2,3 (r1, r2 hit); r3-r4: b count 1,2 (r4 hits)
	 *   r5 c: the victim is the lowest of a (3), b (2): b; {a, c}
	 *   r6 d: c (1) goes; {a, d}. r7 d hits (2). r8 e: d (2) goes; {a, e}. r9 a hits.
	 *   hits 0 1 1 0 1 0 0 1 0 1 = 5; evictions b, c, d = 3
	 * LFU-DA (aging=1, K = count + L, L = K of the last victim; a new block gets 1 + L
	 * with the L of the eviction made for it):
	 *   a K 1,2,3; b K 1,2; r5 c: b (K 2 < 3) goes, L=2, c K=3
	 *   r6 d: a and c tie at K 3: a is less recent (r2) -> a goes, L=3, d K=4
	 *   r7 d hits: count 2, K=2+3=5. r8 e: c (K 3) goes, L=3, e K=4
	 *   r9 a misses: e (K 4 < d's 5) goes, L=4, a K=5.
	 *   hits 0 1 1 0 1 0 0 1 0 0 = 4; evictions b, a, c, e = 4; left {d, a}
	 * (Before the fix the incoming block competed: plain LFU evicted c, d, d and e at once
	 * and r7 missed.) */
	struct kv_trace *t = load("lfu.jsonl", FREQ_TRACE);
	static const uint32_t want0[] = {0, 1, 1, 0, 1, 0, 0, 1, 0, 1};
	static const uint32_t want1[] = {0, 1, 1, 0, 1, 0, 0, 1, 0, 0};
	uint32_t hits[MAX_REQ];
	struct kv_cache *c;

	CU_ASSERT_PTR_NOT_NULL_FATAL(t);
	c = run_checked(t, "lfu", 2, 1, hits);
	expect_hits(hits, want0, 10);
	CU_ASSERT_EQUAL(c->st.evictions, 3);
	CU_ASSERT_TRUE(c->blocks[node(t, 8, 0)].resident); /* e */
	cache_destroy(c);
	c = run_checked(t, "lfu:aging=1", 2, 1, hits);
	expect_hits(hits, want1, 10);
	CU_ASSERT_EQUAL(c->st.evictions, 4);
	CU_ASSERT_TRUE(c->blocks[node(t, 9, 0)].resident);
	CU_ASSERT_TRUE(c->blocks[node(t, 7, 0)].resident);
	cache_destroy(c);
	trace_free(t);
}

static void test_sieve(void)
{
	/* capacity 2; a=1, b=2, c=3, d=4:  a a b b c d a
	 * SIEVE evicts before it inserts: the block being inserted is not a candidate, and the
	 * hand wraps where the list ended before it.
	 * r1 sets a's visited bit, r3 b's. r4 c: the hand starts at the oldest: a visited ->
	 * cleared, b visited -> cleared, the end (c is the incoming block) -> wrap: a is
	 * unvisited now and is evicted; the hand moves to b. [b c]
	 * r5 d: the hand at b (cleared): b is evicted, the hand moves to c. [c d]
	 * r6 a misses: the hand at c (unvisited): c is evicted. [d a]
	 * hits 0 1 0 1 0 0 0 = 2; evictions a, b, c = 3.
	 * LFU instead keeps b (count 2): r4 evicts a (count 2, less recent than b), r5 c (1),
	 * r6 d (1): left {b, a}. (Before the fix, r4 evicted the incoming c.) */
	struct kv_trace *t = load("sieve.jsonl", REC(0, -1, 0, 16, 1, "[1]")
				  REC(1, -1, 1, 16, 1, "[1]") REC(2, -1, 2, 16, 1, "[2]")
				  REC(3, -1, 3, 16, 1, "[2]") REC(4, -1, 4, 16, 1, "[3]")
				  REC(5, -1, 5, 16, 1, "[4]") REC(6, -1, 6, 16, 1, "[1]"));
	static const uint32_t want[] = {0, 1, 0, 1, 0, 0, 0};
	uint32_t hits[MAX_REQ];
	struct kv_cache *c;

	CU_ASSERT_PTR_NOT_NULL_FATAL(t);
	c = run_checked(t, "sieve", 2, 1, hits);
	expect_hits(hits, want, 7);
	CU_ASSERT_EQUAL(c->st.evictions, 3);
	CU_ASSERT_TRUE(c->blocks[node(t, 5, 0)].resident);  /* d */
	CU_ASSERT_TRUE(c->blocks[node(t, 6, 0)].resident);  /* a */
	CU_ASSERT_FALSE(c->blocks[node(t, 3, 0)].resident); /* b */
	CU_ASSERT_FALSE(c->blocks[node(t, 4, 0)].resident); /* c */
	cache_destroy(c);
	c = run_checked(t, "lfu", 2, 1, hits);
	CU_ASSERT_TRUE(c->blocks[node(t, 3, 0)].resident);  /* b */
	CU_ASSERT_FALSE(c->blocks[node(t, 5, 0)].resident); /* d */
	cache_destroy(c);
	trace_free(t);
}

static void test_arc(void)
{
	/* capacity c = 2, p = 0; a=1, b=2, c=3:  a a b c b a b a
	 * r0 a -> T1 [a]. r1 a hits -> T2 [a]. r2 b -> T1 [b].
	 * r3 c -> T1 [b c], 3 > 2: REPLACE with |T1| = 1 (c not counted) > p = 0: T1's oldest b
	 *    is evicted -> B1 [b]. Resident {a, c}.
	 * r4 b misses, found in B1: p = min(0 + max(1, |B2|/|B1| = 0), 2) = 1; b -> T2 [a b].
	 *    REPLACE: |T1| = 1 (c), not > p = 1, miss not from B2 -> T2's oldest a is evicted
	 *    -> B2 [a]. Resident {c, b}.
	 * r5 a misses, found in B2: p = max(1 - max(1, |B1|/|B2| = 0), 0) = 0; a -> T2 [b a].
	 *    REPLACE: |T1| = 1 > p = 0 -> c evicted -> B1 [c]. Resident {b, a}.
	 * r6 b hits, r7 a hits.   hits 0 1 0 0 0 0 1 1 = 3; evictions b, a, c = 3.
	 * (LRU: r3 evicts a, r4 b hits, r5 a evicts c, r6 r7 hit: 4.) */
	struct kv_trace *t = load("arc.jsonl", REC(0, -1, 0, 16, 1, "[1]")
				  REC(1, -1, 1, 16, 1, "[1]") REC(2, -1, 2, 16, 1, "[2]")
				  REC(3, -1, 3, 16, 1, "[3]") REC(4, -1, 4, 16, 1, "[2]")
				  REC(5, -1, 5, 16, 1, "[1]") REC(6, -1, 6, 16, 1, "[2]")
				  REC(7, -1, 7, 16, 1, "[1]"));
	static const uint32_t want[] = {0, 1, 0, 0, 0, 0, 1, 1};
	uint32_t hits[MAX_REQ];
	struct kv_cache *c;
	uint32_t a, b, cc;

	CU_ASSERT_PTR_NOT_NULL_FATAL(t);
	a = node(t, 0, 0), b = node(t, 2, 0), cc = node(t, 3, 0);
	c = run_checked(t, "arc", 2, 1, hits);
	expect_hits(hits, want, 8);
	CU_ASSERT_EQUAL(c->st.evictions, 3);
	CU_ASSERT_TRUE(c->blocks[a].resident && c->blocks[b].resident);
	CU_ASSERT_FALSE(c->blocks[cc].resident);
	cache_destroy(c);
	c = run_checked(t, "lru", 2, 1, hits);
	CU_ASSERT_EQUAL(c->st.hit_blocks, 4);
	cache_destroy(c);
	trace_free(t);
}

static void test_arc_directory(void)
{
	/* ARC case IV(a): when |T1| + |B1| = c, only B1 loses an entry (or, B1 being empty,
	 * T1's LRU is dropped without a ghost); B2 is trimmed only in case IV(b).
	 * c = 2; a..e = 1..5:  a b b d a c e e b c c b   (d=4, c=3)
	 * r0 a, r1 b -> T1 [a b]; r2 b hits -> T2 [b], T1 [a].
	 * r3 d: |T1|+|B1| = 1 < 2, directory 2 >= c: REPLACE, |T1| = 1 > p = 0: a -> B1.
	 *    T1 [d] T2 [b] B1 [a].
	 * r4 a (B1): p = 0 + max(1, 0/1) = 1; REPLACE: |T1| = 1 not > 1: b -> B2; a -> T2.
	 *    T1 [d] T2 [a] B1 [] B2 [b].
	 * r5 c: |T1|+|B1| = 1, directory 3: REPLACE: |T1| = 1 not > 1: a -> B2 [b a]. T1 [d c].
	 * r6 e: |T1|+|B1| = 2 = c and |T1| = c: T1's LRU d is dropped, NOT a ghost, and B2
	 *    keeps b (the directory holds 2c - 1 + 1 entries). T1 [c e].
	 * r7 e hits -> T2 [e], T1 [c].
	 * r8 b (B2): p = max(0, 1 - max(1, 0/2)) = 0; REPLACE (from B2): |T1| = 1 > 0: c -> B1.
	 *    T2 [e b], B1 [c], B2 [a].
	 * r9 c (B1): p = 0 + max(1, 1/1) = 1; REPLACE: |T1| = 0: e -> B2. T2 [b c].
	 * r10 c hits, r11 b hits.   hits 0 0 1 0 0 0 0 1 0 0 1 1 = 4.
	 * (Trimming B2 at r6 as well forgot b: r8 missed into T1, and the run hit 5.) */
	struct kv_trace *t = load("arc2.jsonl", REC(0, -1, 0, 16, 1, "[1]")
				  REC(1, -1, 1, 16, 1, "[2]") REC(2, -1, 2, 16, 1, "[2]")
				  REC(3, -1, 3, 16, 1, "[4]") REC(4, -1, 4, 16, 1, "[1]")
				  REC(5, -1, 5, 16, 1, "[3]") REC(6, -1, 6, 16, 1, "[5]")
				  REC(7, -1, 7, 16, 1, "[5]") REC(8, -1, 8, 16, 1, "[2]")
				  REC(9, -1, 9, 16, 1, "[3]") REC(10, -1, 10, 16, 1, "[3]")
				  REC(11, -1, 11, 16, 1, "[2]"));
	static const uint32_t want[] = {0, 0, 1, 0, 0, 0, 0, 1, 0, 0, 1, 1};
	uint32_t hits[MAX_REQ];
	struct kv_cache *c;

	CU_ASSERT_PTR_NOT_NULL_FATAL(t);
	c = run_checked(t, "arc", 2, 1, hits);
	expect_hits(hits, want, 12);
	CU_ASSERT_TRUE(c->blocks[node(t, 1, 0)].resident); /* b */
	CU_ASSERT_TRUE(c->blocks[node(t, 5, 0)].resident); /* c */
	cache_destroy(c);
	trace_free(t);
}

static void test_s3fifo(void)
{
	/* capacity 4 with small=0.25 (S holds 1 block: ceil(0.25*4)) and ghost=1 (G: 4).
	 * a=1, b=2, c=3, d=4, e=5, f=6, g=7:  a b a c d e b c f g a
	 * r0-r4: S [a b c d], a's count 1 (r2 hits).
	 * r5 e: S [a b c d e], 5 > 4: |S| >= 1, S's oldest a was used: it moves to M (count 0);
	 *    S's oldest b is unused: evicted -> G [b]. S [c d e], M [a].
	 * r6 b misses, in G -> inserted into M [a b]; S's oldest c evicted -> G [c].
	 * r7 c misses, in G -> M [a b c]; S's oldest d evicted -> G [d]. S [e].
	 * r8 f: S [e f]; e evicted -> G [d e]. r9 g: S [f g]; f evicted -> G [d e f].
	 * r10 a hits (in M).  hits 0 0 1 0 0 0 0 0 0 0 1 = 2; resident {a, b, c, g}. */
	struct kv_trace *t = load("s3.jsonl", REC(0, -1, 0, 16, 1, "[1]")
				  REC(1, -1, 1, 16, 1, "[2]") REC(2, -1, 2, 16, 1, "[1]")
				  REC(3, -1, 3, 16, 1, "[3]") REC(4, -1, 4, 16, 1, "[4]")
				  REC(5, -1, 5, 16, 1, "[5]") REC(6, -1, 6, 16, 1, "[2]")
				  REC(7, -1, 7, 16, 1, "[3]") REC(8, -1, 8, 16, 1, "[6]")
				  REC(9, -1, 9, 16, 1, "[7]") REC(10, -1, 10, 16, 1, "[1]"));
	static const uint32_t want[] = {0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1};
	uint32_t hits[MAX_REQ];
	struct kv_cache *c;

	CU_ASSERT_PTR_NOT_NULL_FATAL(t);
	c = run_checked(t, "s3fifo:small=0.25,ghost=1", 4, 1, hits);
	expect_hits(hits, want, 11);
	CU_ASSERT_EQUAL(c->st.evictions, 5); /* b c d e f */
	CU_ASSERT_TRUE(c->blocks[node(t, 1, 0)].resident);  /* b, back through the ghost */
	CU_ASSERT_TRUE(c->blocks[node(t, 3, 0)].resident);  /* c */
	CU_ASSERT_TRUE(c->blocks[node(t, 9, 0)].resident);  /* g */
	CU_ASSERT_FALSE(c->blocks[node(t, 8, 0)].resident); /* f */
	cache_destroy(c);
	/* without a ghost queue b and c re-enter S and the one-hit blocks push them out:
	 * r6 b -> S [c d e b], c evicted; r7 c -> S [d e b c], d evicted; r8 f: e evicted;
	 * r9 g: b evicted; r10 a still hits (in M): resident {a, c, f, g}. */
	c = run_checked(t, "s3fifo:small=0.25,ghost=0", 4, 1, hits);
	expect_hits(hits, want, 11);
	CU_ASSERT_FALSE(c->blocks[node(t, 1, 0)].resident); /* b */
	CU_ASSERT_TRUE(c->blocks[node(t, 8, 0)].resident);  /* f */
	cache_destroy(c);
	trace_free(t);
}

static void test_s3fifo_incoming(void)
{
	/* The paper evicts before it inserts, so the block being inserted is not in |S|.
	 * Capacity 2, defaults: S = ceil(0.1 * 2) = 1 block, G = ceil(0.9 * 2) = 2, move = 1.
	 * a=1, b=2, c=3, d=4:  a a b c b d d
	 * r0 a: S [a]. r1 a hits (count 1). r2 b: S [a b].
	 * r3 c: S [a b c], 3 > 2; |S| without c = 2 >= 1: a was hit -> M [a] (count 0); |S| = 1
	 *    >= 1: b unused -> evicted, G [b]. S [c].
	 * r4 b: in G -> M [a b]; |S| = 1 (c) >= 1 -> c evicted, G [c]. S [].
	 * r5 d: S [d]; |S| without d = 0 < 1 -> evict from M: a (count 0). S [d], M [b].
	 * r6 d hits.  hits 0 1 0 0 0 0 1 = 2.
	 * (Counting d in |S|, r5 evicted the new d at once and r6 missed: 1 hit.) */
	static const char *trace = REC(0, -1, 0, 16, 1, "[1]") REC(1, -1, 1, 16, 1, "[1]")
		REC(2, -1, 2, 16, 1, "[2]") REC(3, -1, 3, 16, 1, "[3]") REC(4, -1, 4, 16, 1, "[2]")
		REC(5, -1, 5, 16, 1, "[4]") REC(6, -1, 6, 16, 1, "[4]");
	struct kv_trace *t = load("s3i.jsonl", trace);
	static const uint32_t want[] = {0, 1, 0, 0, 0, 0, 1};
	/* move=2 (Algorithm 1 / libCacheSim): a hit once is not moved at r3: it is evicted,
	 * G [a], S [b c]. r4 b hits (count 1). r5 d: S [b c d], |S| = 2: b (1 hit < 2) is
	 * evicted. r6 d hits.  hits 0 1 0 0 1 0 1 = 3. */
	static const uint32_t want2[] = {0, 1, 0, 0, 1, 0, 1};
	uint32_t hits[MAX_REQ];
	struct kv_cache *c;

	CU_ASSERT_PTR_NOT_NULL_FATAL(t);
	c = run_checked(t, "s3fifo", 2, 1, hits);
	expect_hits(hits, want, 7);
	CU_ASSERT_FALSE(c->blocks[node(t, 0, 0)].resident); /* a */
	cache_destroy(c);
	c = run_checked(t, "s3fifo:move=2", 2, 1, hits);
	expect_hits(hits, want2, 7);
	CU_ASSERT_FALSE(c->blocks[node(t, 0, 0)].resident); /* a */
	CU_ASSERT_FALSE(c->blocks[node(t, 2, 0)].resident); /* b */
	cache_destroy(c);
	trace_free(t);
}

static void test_belady(void)
{
	/* capacity 2; a=(1), b=(a,2), x=(5):  r0 [1,2]  r1 [5]  r2 [1,2]  r3 [5]
	 * next uses: a and b at r0 -> r2; x at r1 -> r3; everything at r2/r3 -> never.
	 * r1: x is inserted with next use r3, farther than a and b (r2): the INCOMING x is the
	 *     victim, the cache declines it (1 eviction), a and b stay.
	 * r2: a, b hit (2) - which shows x was declined. r3: x misses and is inserted; a, b and
	 *     x are all never used again: the tie goes to the deeper b (1 eviction).
	 * hits 0 0 2 0 = 2; inserts b a x x = 4; evictions 2; left {a, x}. */
	struct kv_trace *t = load("bel.jsonl", REC(0, -1, 0, 32, 1, "[1,2]")
				  REC(1, -1, 1, 16, 1, "[5]") REC(2, -1, 2, 32, 1, "[1,2]")
				  REC(3, -1, 3, 16, 1, "[5]"));
	static const uint32_t want[] = {0, 0, 2, 0};
	uint32_t hits[MAX_REQ];
	struct kv_cache *c;

	CU_ASSERT_PTR_NOT_NULL_FATAL(t);
	c = run_checked(t, "belady", 2, 1, hits);
	expect_hits(hits, want, 4);
	CU_ASSERT_EQUAL(c->st.evictions, 2);
	CU_ASSERT_EQUAL(c->st.inserts, 4);
	CU_ASSERT_FALSE(c->blocks[node(t, 0, 1)].resident); /* b */
	CU_ASSERT_TRUE(c->blocks[node(t, 0, 0)].resident);  /* a */
	CU_ASSERT_TRUE(c->blocks[node(t, 1, 0)].resident);  /* x */
	cache_destroy(c);
	/* LRU: r1 evicts b (touched before a, tail first) -> [a x]; r2 hits a (1), inserting b
	 * makes a (its parent, least recent) the victim: closure evicts b and a, then a comes
	 * back -> [x a]; r3 hits x (1): 2 hits, but 1 + 2 = 3 evictions to Belady's 2. */
	c = run_checked(t, "lru", 2, 1, hits);
	CU_ASSERT_EQUAL(c->st.hit_blocks, 2);
	CU_ASSERT_EQUAL(c->st.evictions, 3);
	cache_destroy(c);
	trace_free(t);

	/* DESIGN.md worked example: Belady at capacity 4 reaches 5/12 blocks, the ceiling.
	 * r1 [1,2,4]: d is never used again. r2 [5,2]: f and e are never used again either;
	 * inserting f evicts d, inserting e evicts f (never-used blocks go first), so a, b, c
	 * stay and r3 hits a, b, c = 3: 0 + 2 + 0 + 3 = 5. */
	t = load("ex.jsonl", EXAMPLE);
	CU_ASSERT_PTR_NOT_NULL_FATAL(t);
	c = run_checked(t, "belady", 4, 1, hits);
	CU_ASSERT_EQUAL(c->st.hit_blocks, 5);
	CU_ASSERT_EQUAL(hits[3], 3);
	cache_destroy(c);
	trace_free(t);
}

static void test_belady_vllm(void)
{
	/* vllm hit rule, B = 16, capacity 1: a=(1), x=(2).
	 * r0 [1] L=16: a is touched (1 full block); r1 [2] L=16: x; r2 [1] L=16: a again, but
	 * at most floor(15/16) = 0 blocks can hit; r3 [2,5] L=32: x can hit (floor(31/16) = 1).
	 * So r2 is no use of a: at r1 Belady keeps x (next use r3) and declines a's
	 * re-insertion at r2 (never used again): r3 hits x (1). Counting r2 as a use of a, it
	 * declined x at r1 instead and r3 missed (0), no better than LRU. */
	struct kv_trace *t = load("belv.jsonl", REC(0, -1, 0, 16, 1, "[1]")
				  REC(1, -1, 1, 16, 1, "[2]") REC(2, -1, 2, 16, 1, "[1]")
				  REC(3, -1, 3, 32, 1, "[2,5]"));
	static const uint32_t want[] = {0, 0, 0, 1};
	uint32_t hits[MAX_REQ];
	struct kv_cache *c;

	CU_ASSERT_PTR_NOT_NULL_FATAL(t);
	hit_rule = KV_HIT_VLLM;
	c = run_checked(t, "belady", 1, 1, hits);
	expect_hits(hits, want, 4);
	cache_destroy(c);
	hit_rule = KV_HIT_PREFIX;
	trace_free(t);
}

static void test_session(void)
{
	/* (1) an ended session gives up its blocks before a live, older one.
	 * r0 chat 1 root t=0 [1,2] (a, b); r1 chat 2 root t=1 [5] (x);
	 * r2 chat 3 child of 2 t=2 turn 2 [5,6] (x, w); r3 chat 4 root t=3 [7] (y);
	 * r4 chat 5 child of 1 t=4 turn 2 [1,2,3].
	 * Estimated time-outs: gaps r2-r1 = 1 and r4-r0 = 4, both of (text, turn 1) parents,
	 * fewer than 20, so T(text, 1) = the 0.95-quantile of all gaps {1, 4} = 4 (rank
	 * ceil(0.95*2) = 2); (text, turn 2) requests never get a follow-up: T = 0.
	 * Capacity 4: after r2 {a, b} owned by session 1 (turn 1, t=0), {x, w} by session 2
	 * (turn 2, t=2). r3 inserts y: nothing superseded; session 2 (idle 1 >= 0) has ended,
	 * session 1 (idle 3 < 4) is live: session 2's oldest block w goes. r4 hits a, b (2).
	 * LRU instead evicts b (least recent) at r3 and r4 hits a only (1). */
	struct kv_trace *t = load("ss1.jsonl", REC(1, -1, 0, 32, 1, "[1,2]")
				  REC(2, -1, 1, 16, 1, "[5]") REC(3, 2, 2, 32, 2, "[5,6]")
				  REC(4, -1, 3, 16, 1, "[7]") REC(5, 1, 4, 48, 2, "[1,2,3]"));
	static const uint32_t want1[] = {0, 0, 1, 0, 2};
	static const uint32_t want2[] = {0, 0, 2, 0, 1};
	uint32_t hits[MAX_REQ];
	struct kv_cache *c;

	CU_ASSERT_PTR_NOT_NULL_FATAL(t);
	c = run_checked(t, "session", 4, 1, hits);
	expect_hits(hits, want1, 5);
	CU_ASSERT_FALSE(c->blocks[node(t, 2, 1)].resident); /* w */
	cache_destroy(c);
	c = run_checked(t, "lru", 4, 1, hits);
	CU_ASSERT_EQUAL(hits[4], 1);
	cache_destroy(c);
	/* timeout_s=0.5 makes both sessions ended at r3 (idle >= 0.5): the one idle longest
	 * (session 1, t=0) loses its oldest block b, as LRU does: r4 hits 1. */
	c = run_checked(t, "session:timeout_s=0.5", 4, 1, hits);
	CU_ASSERT_EQUAL(hits[4], 1);
	cache_destroy(c);
	trace_free(t);

	/* (2) superseded blocks go first. r0 chat 10 root t=0 [8] (z); r1 chat 1 root t=1
	 * [1,2,3] (a, b, c); r2 chat 2 child of 1 t=2 turn 2 [1,2,4] (a, b, d): it re-sends
	 * its parent's prompt without the last block c, so c is superseded once r2 is done;
	 * r3 chat 3 root t=3 [9] (x); r4 chat 11 child of 10 t=3.5 turn 2 [8,5].
	 * Capacity 5: after r2 {z, a, b, c, d}; r3 inserts x and the superseded c goes first
	 * (LRU would evict z, the least recent). r4 hits z (1); LRU's r4 hits nothing. */
	t = load("ss2.jsonl", REC(10, -1, 0, 16, 1, "[8]") REC(1, -1, 1, 48, 1, "[1,2,3]")
		 REC(2, 1, 2, 48, 2, "[1,2,4]") REC(3, -1, 3, 16, 1, "[9]")
		 REC(11, 10, 3.5, 32, 2, "[8,5]"));
	CU_ASSERT_PTR_NOT_NULL_FATAL(t);
	c = run_checked(t, "session", 5, 1, hits);
	expect_hits(hits, want2, 5);
	CU_ASSERT_FALSE(c->blocks[node(t, 1, 2)].resident); /* c */
	cache_destroy(c);
	c = run_checked(t, "lru", 5, 1, hits);
	CU_ASSERT_EQUAL(hits[4], 0);
	cache_destroy(c);
	trace_free(t);
	/* (3) a block two sessions looked up (a shared prefix) outlives ended sessions' own
	 * blocks. One-turn sessions: r0 [1,2] (a, b); r1 [1,3]: a is looked up by a second
	 * session and becomes shared, c; r2 [4] d; r3 [5] e; r4 [6] f; r5 [7] g; r6 [1,8].
	 * With timeout_s=0 every session has ended at once, so the oldest session's own blocks
	 * go first: r3 evicts b, r4 c, r5 d; a stays and r6 hits it (1). Without follow-ups in
	 * the trace the default time-out is infinite and session is LRU: r5 evicts a (least
	 * recent after b, c went), r6 hits nothing. */
	t = load("ss3.jsonl", REC(1, -1, 0, 32, 1, "[1,2]") REC(2, -1, 1, 32, 1, "[1,3]")
		 REC(3, -1, 2, 16, 1, "[4]") REC(4, -1, 3, 16, 1, "[5]")
		 REC(5, -1, 4, 16, 1, "[6]") REC(6, -1, 5, 16, 1, "[7]")
		 REC(7, -1, 6, 32, 1, "[1,8]"));
	CU_ASSERT_PTR_NOT_NULL_FATAL(t);
	c = run_checked(t, "session:timeout_s=0", 4, 1, hits);
	CU_ASSERT_EQUAL(hits[6], 1);
	CU_ASSERT_FALSE(c->blocks[node(t, 0, 1)].resident); /* b */
	CU_ASSERT_FALSE(c->blocks[node(t, 1, 1)].resident); /* c */
	cache_destroy(c);
	c = run_checked(t, "session", 4, 1, hits);
	CU_ASSERT_EQUAL(hits[6], 0);
	cache_destroy(c);
	c = run_checked(t, "lru", 4, 1, hits);
	CU_ASSERT_EQUAL(hits[6], 0);
	cache_destroy(c);
	trace_free(t);
}

static void test_wa(void)
{
	/* (1) learned categories beat recency. Categories are (type, turn): text and api.
	 * window 1000 s (all in one window). a=1, b=2, c=3, d=4.
	 * r0 text t=0 [1] a; r1 text t=1 [1] a reused after 1 s; r2 api t=2 [2] b;
	 * r3 text t=3 [3] c; r4 api t=4 [4] d: 4 > 3 blocks.
	 * text: touches 3 (a, a, c), reuses 1 with dt 1 s: p = 1/3, lambda = 1/s; its head a
	 * (idle 3 s) scores 1/3 e^-3 (1 - e^-L) > 0. api: no reuse yet, score 0: its head b
	 * is evicted (LRU would evict a, the least recent). r5 text t=5 [1]: a hits.
	 * hits 0 1 0 0 0 1. */
	struct kv_trace *t = load("wa1.jsonl", RECT(0, -1, 0, 16, "text", 1, "[1]")
				  RECT(1, -1, 1, 16, "text", 1, "[1]")
				  RECT(2, -1, 2, 16, "api", 1, "[2]")
				  RECT(3, -1, 3, 16, "text", 1, "[3]")
				  RECT(4, -1, 4, 16, "api", 1, "[4]")
				  RECT(5, -1, 5, 16, "text", 1, "[1]"));
	static const uint32_t want[] = {0, 1, 0, 0, 0, 1};
	uint32_t hits[MAX_REQ];
	struct kv_cache *c;

	CU_ASSERT_PTR_NOT_NULL_FATAL(t);
	c = run_checked(t, "wa:window_s=1000", 3, 1, hits);
	expect_hits(hits, want, 6);
	CU_ASSERT_FALSE(c->blocks[node(t, 2, 0)].resident); /* b */
	cache_destroy(c);
	c = run_checked(t, "lru", 3, 1, hits);
	CU_ASSERT_EQUAL(hits[5], 0);
	cache_destroy(c);
	trace_free(t);

	/* (2) ties go to the deeper block. r0 api t=0 [3] x; r1 text t=1 [1,2] (a, b);
	 * r2 api t=2 [4] y: 4 > 3. No reuse seen: both heads score 0; api's head x has depth
	 * 0, text's head b (touched before a, tail first) depth 1: b is evicted, x stays. */
	t = load("wa2.jsonl", RECT(0, -1, 0, 16, "api", 1, "[3]")
		 RECT(1, -1, 1, 32, "text", 1, "[1,2]") RECT(2, -1, 2, 16, "api", 1, "[4]"));
	CU_ASSERT_PTR_NOT_NULL_FATAL(t);
	c = run_checked(t, "wa", 3, 1, hits);
	CU_ASSERT_FALSE(c->blocks[node(t, 1, 1)].resident); /* b */
	CU_ASSERT_TRUE(c->blocks[node(t, 0, 0)].resident);  /* x */
	cache_destroy(c);
	trace_free(t);
}

static void test_pin_is_a_hit(void)
{
	/* Timed mode pins a running request's blocks (on_remove with refcnt > 0) and unpins
	 * them at completion (on_insert): for the policies that keep history, that round trip
	 * must count as a use, not as an eviction and a new block. Capacity 2; a=1, b=2, c=3.
	 * r0 inserts a; a is pinned and unpinned (a request used it); r1 inserts b; r2 inserts
	 * c: 3 > 2.
	 *   lfu: the request that pinned a was counted when it touched a (admission), so the
	 *        unpin gives a back with its count unchanged, 1, as timed mode's consistency
	 *        with cache mode needs: a, b, c all count 1 and a, the least recent, goes;
	 *   sieve: a visited: the hand clears it and stops at b;
	 *   arc: a comes back into T2 (a hit, not a ghost hit); T1 [b c], |T1| = 1 without c
	 *        > p = 0: T1's oldest b goes.
	 * Treated as evict + insert, a would be the oldest, unused block and go instead
	 * (lfu, sieve), or come back from ghost B1 with p = 1 and go from T2 (arc). */
	struct kv_trace *t = load("pin.jsonl", REC(0, -1, 0, 16, 1, "[1]")
				  REC(1, -1, 1, 16, 1, "[2]") REC(2, -1, 2, 16, 1, "[3]"));
	static const char *pols[] = {"lfu", "sieve", "arc"};
	struct kv_err err;

	CU_ASSERT_PTR_NOT_NULL_FATAL(t);
	for (int i = 0; i < 3; i++) {
		const struct evict_ops *ops;
		struct kv_params p;
		struct kv_cache *c;
		uint32_t a = node(t, 0, 0);
		struct kv_access acc = {&t->req[0], 0, 0, t->req[0].blk_off, 0.5};

		CU_ASSERT_EQUAL_FATAL(evict_resolve(pols[i], &ops, &p, &err), KV_OK);
		CU_ASSERT_EQUAL_FATAL(cache_create(&c, t, ops, &p, 2, KV_HIT_PREFIX, &err), KV_OK);
		cache_run_request(c, 0, 0);
		cache_pin(c, a);
		cache_unpin(c, a, &acc);
		cache_run_request(c, 1, 1);
		cache_run_request(c, 2, 2);
		int lfu = !strcmp(pols[i], "lfu");

		if (c->blocks[a].resident == lfu)
			fprintf(stderr, "\n%s: unexpected victim after an unpin\n", pols[i]);
		CU_ASSERT_EQUAL(c->blocks[a].resident, !lfu);
		CU_ASSERT_EQUAL(c->blocks[node(t, 1, 0)].resident, lfu);
		CU_ASSERT_EQUAL(cache_check(c, &err), 0);
		cache_destroy(c);
	}
	trace_free(t);
}

int suite_policies(void)
{
	CU_pSuite s = CU_add_suite("policies", NULL, NULL);

	return !s ||
	       !CU_add_test(s, "every policy documented, bad parameters rejected",
			    test_every_policy_documented) ||
	       !CU_add_test(s, "conformance: fixtures", test_conformance_fixtures) ||
	       !CU_add_test(s, "conformance: generated multi-turn", test_conformance_generated) ||
	       !CU_add_test(s, "belady bound: random traces, every capacity",
			    test_belady_bound_random) ||
	       !CU_add_test(s, "belady bound: the same with the vllm hit rule",
			    test_belady_bound_random_vllm) ||
	       !CU_add_test(s, "belady with the vllm hit rule", test_belady_vllm) ||
	       !CU_add_test(s, "conformance: real conversation trace",
			    test_conformance_real_conversation) ||
	       !CU_add_test(s, "conformance: real synthetic trace",
			    test_conformance_real_synthetic) ||
	       !CU_add_test(s, "session and wa are LRU on Mooncake", test_mooncake_equals_lru) ||
	       !CU_add_test(s, "a block array initialised in the background: same results",
			    test_background_init) ||
	       !CU_add_test(s, "fifo evicts a parent (closure)", test_fifo_closure) ||
	       !CU_add_test(s, "lfu and lfu-da", test_lfu) ||
	       !CU_add_test(s, "sieve", test_sieve) ||
	       !CU_add_test(s, "arc", test_arc) ||
	       !CU_add_test(s, "arc: case IV directory trimming", test_arc_directory) ||
	       !CU_add_test(s, "s3fifo and its ghost queue", test_s3fifo) ||
	       !CU_add_test(s, "s3fifo: the incoming block is not in |S|; move=2",
			    test_s3fifo_incoming) ||
	       !CU_add_test(s, "belady declines the incoming block", test_belady) ||
	       !CU_add_test(s, "session", test_session) ||
	       !CU_add_test(s, "wa", test_wa) ||
	       !CU_add_test(s, "timed mode: an unpin is a use", test_pin_is_a_hit);
}
