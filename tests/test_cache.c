/* test_cache.c - the cache core and LRU on fixtures computed by hand. */
#include <string.h>

#include "cache.h"
#include "capacity.h"
#include "registry.h"
#include "test_util.h"

#define REC(id, par, ts, len, turn, ids) \
	"{\"chat_id\":" #id ",\"parent_chat_id\":" #par ",\"timestamp\":" #ts \
	",\"input_length\":" #len ",\"output_length\":1,\"type\":\"text\",\"turn\":" #turn \
	",\"hash_ids\":" ids "}\n"

/* DESIGN.md section 3 worked example */
#define EXAMPLE REC(0, -1, 0, 40, 1, "[1,2,3]") REC(1, -1, 1, 48, 1, "[1,2,4]") \
	REC(2, -1, 2, 20, 1, "[5,2]") REC(3, 0, 3, 60, 2, "[1,2,3,6]")

static struct kv_cache *run(struct kv_trace *t, const char *policy, uint64_t cap,
			    enum kv_hit_rule rule, uint32_t *hits)
{
	const struct evict_ops *ops;
	struct kv_params p;
	struct kv_cache *c;
	struct kv_err err;

	CU_ASSERT_EQUAL_FATAL(evict_resolve(policy, &ops, &p, &err), KV_OK);
	CU_ASSERT_EQUAL_FATAL(cache_create(&c, t, ops, &p, cap, rule, &err), KV_OK);
	for (uint32_t r = 0; r < t->nreq; r++) {
		uint32_t h = cache_run_request(c, r, t->req[r].ts_s);
		if (hits)
			hits[r] = h;
		CU_ASSERT_EQUAL(cache_check(c, &err), 0);
	}
	return c;
}

static void test_design_example_lru(void)
{
	struct kv_err err;
	int rc;
	struct kv_trace *t = tu_load_str("ex.jsonl", EXAMPLE, NULL, &rc, &err);
	uint32_t hits[4];
	struct kv_cache *c;

	CU_ASSERT_EQUAL_FATAL(rc, KV_OK);
	/* capacity 4 (DESIGN.md): r0 0 hits; r1 a,b (2); r2 0, touching f evicts c and e
	 * evicts d; r3 a,b hit, c was evicted (2). 4/12 blocks, 64/168 tokens. */
	c = run(t, "lru", 4, KV_HIT_PREFIX, hits);
	CU_ASSERT_EQUAL(hits[0], 0);
	CU_ASSERT_EQUAL(hits[1], 2);
	CU_ASSERT_EQUAL(hits[2], 0);
	CU_ASSERT_EQUAL(hits[3], 2);
	CU_ASSERT_EQUAL(c->st.hit_blocks, 4);
	CU_ASSERT_EQUAL(c->st.blocks, 12);
	CU_ASSERT_EQUAL(c->st.hit_tokens, 64);
	CU_ASSERT_EQUAL(c->st.tokens, 168);
	/* r3 touches g,c,b,a with [b a f e] resident: g evicts b, c evicts a, b evicts f,
	 * a evicts e -> 2 + 4 = 6 evictions; inserts 3 + 1 + 2 + 4 = 10; left [g c b a]. */
	CU_ASSERT_EQUAL(c->st.evictions, 6);
	CU_ASSERT_EQUAL(c->st.inserts, 10);
	CU_ASSERT_EQUAL(c->resident, 4);
	const uint32_t *r3 = trace_req_nodes(t, 3);
	for (int i = 0; i < 4; i++)
		CU_ASSERT_TRUE(c->blocks[r3[i]].resident);
	cache_destroy(c);

	/* infinite capacity: 5/12 and 80/168, no evictions */
	c = run(t, "lru", KV_CAPACITY_INF, KV_HIT_PREFIX, hits);
	CU_ASSERT_EQUAL(c->st.hit_blocks, 5);
	CU_ASSERT_EQUAL(c->st.hit_tokens, 80);
	CU_ASSERT_EQUAL(c->st.evictions, 0);
	CU_ASSERT_EQUAL(hits[3], 3);
	cache_destroy(c);
	trace_free(t);
}

static void test_tail_first(void)
{
	struct kv_err err;
	int rc;
	/* capacity 2, the same 3-block prompt twice. Tail-first touch c,b,a leaves [b a]
	 * (a evicted c), so the second request hits a,b = 2 blocks. A head-first touch would
	 * leave [b c] and hit nothing. */
	struct kv_trace *t = tu_load_str(
		"tail.jsonl", REC(0, -1, 0, 48, 1, "[1,2,3]") REC(1, -1, 1, 48, 1, "[1,2,3]"), NULL,
		&rc, &err);
	uint32_t hits[2];
	struct kv_cache *c;

	CU_ASSERT_EQUAL_FATAL(rc, KV_OK);
	c = run(t, "lru", 2, KV_HIT_PREFIX, hits);
	CU_ASSERT_EQUAL(hits[1], 2);
	CU_ASSERT_EQUAL(c->st.hit_tokens, 32);
	/* r0: c, b inserted, a evicts c (1 eviction) -> [b a]. r1 hits a,b; touching c
	 * inserts it -> [b a c], over capacity: the LRU head b is a parent of the just-inserted
	 * c, so closure evicts c and b (2 more); then b is inserted again, a hits -> [b a]. */
	CU_ASSERT_EQUAL(c->st.evictions, 3);
	CU_ASSERT_EQUAL(c->st.inserts, 5);
	CU_ASSERT_EQUAL(c->resident, 2);
	cache_destroy(c);
	trace_free(t);
}

static void test_vllm_rule(void)
{
	struct kv_err err;
	int rc;
	/* 32 tokens = 2 full blocks, twice. prefix rule: r1 hits 2 blocks (32 tokens).
	 * vllm rule: at most floor((32-1)/16) = 1 block hits (the last token is recomputed):
	 * 16 tokens. A 40-token prompt caches only 2 full blocks: the partial third never
	 * hits, so r3 (same 40 tokens) hits floor(39/16) = 2 blocks under vllm, 3 under prefix. */
	struct kv_trace *t = tu_load_str(
		"vllm.jsonl",
		REC(0, -1, 0, 32, 1, "[1,2]") REC(1, -1, 1, 32, 1, "[1,2]")
		REC(2, -1, 2, 40, 1, "[7,8,9]") REC(3, -1, 3, 40, 1, "[7,8,9]"),
		NULL, &rc, &err);
	uint32_t hits[4];
	struct kv_cache *c;

	CU_ASSERT_EQUAL_FATAL(rc, KV_OK);
	c = run(t, "lru", KV_CAPACITY_INF, KV_HIT_PREFIX, hits);
	CU_ASSERT_EQUAL(hits[1], 2);
	CU_ASSERT_EQUAL(hits[3], 3);
	CU_ASSERT_EQUAL(c->st.hit_tokens, 32 + 40);
	cache_destroy(c);
	c = run(t, "lru", KV_CAPACITY_INF, KV_HIT_VLLM, hits);
	CU_ASSERT_EQUAL(hits[1], 1);
	CU_ASSERT_EQUAL(hits[3], 2);
	CU_ASSERT_EQUAL(c->st.hit_tokens, 16 + 32);
	CU_ASSERT_EQUAL(c->resident, 2 + 2); /* only full blocks were ever inserted */
	cache_destroy(c);
	trace_free(t);
}

/* A test-only policy that evicts the OLDEST INSERTED block, which may be a parent: it
 * exercises prefix closure. pol.u64[0] = insertion sequence. */
struct oldest {
	struct kv_block *b;
	uint32_t n;
	uint64_t seq;
};

static int old_create(void **st, const struct evict_env *env, const struct kv_params *p,
		      struct kv_err *err)
{
	static struct oldest o;
	(void)p, (void)err;
	o.b = env->blocks;
	o.n = env->trace->nnodes;
	o.seq = 0;
	*st = &o;
	return 0;
}
static void old_destroy(void *st) { (void)st; }
static void old_insert(void *st, uint32_t n, const struct kv_access *a)
{
	struct oldest *o = st;
	(void)a;
	o->b[n].pol.u64[0] = ++o->seq;
	o->b[n].flags = 1;
}
static void old_hit(void *st, uint32_t n, const struct kv_access *a) { (void)st, (void)n, (void)a; }
static uint32_t old_victim(void *st)
{
	struct oldest *o = st;
	uint32_t best = KV_NO_NODE;
	for (uint32_t i = 0; i < o->n; i++)
		if (o->b[i].flags && (best == KV_NO_NODE || o->b[i].pol.u64[0] < o->b[best].pol.u64[0]))
			best = i;
	return best;
}
static void old_remove(void *st, uint32_t n)
{
	struct oldest *o = st;
	o->b[n].flags = 0;
}
static const struct evict_ops oldest_ops = {"oldest", "test", "", old_create, old_destroy,
					     old_insert, old_hit, old_victim, old_remove};

static void test_prefix_closure(void)
{
	struct kv_err err;
	int rc;
	/* capacity 3. r0 [1]: a. r1 [1,2,3]: c, b inserted, a hits -> {a,c,b}. r2 [4]: d makes
	 * 4 > 3; the oldest inserted is a, a parent: closure evicts c (grandchild), b and a
	 * = 3 evictions, leaving {d}. r3 [1,2,3] then hits nothing. */
	struct kv_trace *t = tu_load_str(
		"closure.jsonl",
		REC(0, -1, 0, 16, 1, "[1]") REC(1, -1, 1, 48, 1, "[1,2,3]") REC(2, -1, 2, 16, 1, "[4]")
		REC(3, -1, 3, 48, 1, "[1,2,3]"),
		NULL, &rc, &err);
	struct kv_cache *c;
	uint32_t hits[4];

	CU_ASSERT_EQUAL_FATAL(rc, KV_OK);
	CU_ASSERT_EQUAL_FATAL(cache_create(&c, t, &oldest_ops, NULL, 3, KV_HIT_PREFIX, &err), 0);
	for (uint32_t r = 0; r < 3; r++) {
		hits[r] = cache_run_request(c, r, 0);
		CU_ASSERT_EQUAL(cache_check(c, &err), 0);
	}
	CU_ASSERT_EQUAL(hits[1], 1);
	CU_ASSERT_EQUAL(c->st.evictions, 3);
	CU_ASSERT_EQUAL(c->resident, 1);
	hits[3] = cache_run_request(c, 3, 0);
	CU_ASSERT_EQUAL(hits[3], 0);
	CU_ASSERT_EQUAL(cache_check(c, &err), 0);
	cache_destroy(c);
	trace_free(t);
}

int suite_cache(void)
{
	CU_pSuite s = CU_add_suite("cache", NULL, NULL);

	return !s || !CU_add_test(s, "DESIGN.md worked example (LRU)", test_design_example_lru) ||
	       !CU_add_test(s, "tail-first touch", test_tail_first) ||
	       !CU_add_test(s, "vllm hit rule", test_vllm_rule) ||
	       !CU_add_test(s, "prefix closure", test_prefix_closure);
}
