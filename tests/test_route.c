/*
 * test_route.c - each router's choice on a constructed cluster state, computed by hand.
 *
 * The state (3 instances; the request has 160 input tokens = 10 blocks of 16):
 *   inst  hit blocks/tokens  queued prefill  running  waiting  kv used  cached  cap  tokens
 *   0     0 / 0              0               2        1        10       50      100  3000
 *   1     6 / 96             500             4        0        40       90      100  5000
 *   2     2 / 32             100             1        2        20       30      100  1000
 */
#include <string.h>

#include "route_registry.h"
#include "test_util.h"

static const struct route_inst state[3] = {
	{0, 0, 0, 2, 1, 10, 50, 100, 3000},
	{6, 96, 500, 4, 0, 40, 90, 100, 5000},
	{2, 32, 100, 1, 2, 20, 30, 100, 1000},
};
static const struct route_request req = {0, 7, 160, 10, 10, 16};
static const struct route_view view = {3, state, 0, 256};

/* The router's pick with the given spec on the state above. */
static uint32_t pick(const char *spec)
{
	const struct route_ops *ops;
	struct kv_params p;
	struct kv_err err;
	void *st;
	uint32_t i;

	CU_ASSERT_EQUAL_FATAL(route_resolve(spec, &ops, &p, &err), KV_OK);
	CU_ASSERT_EQUAL_FATAL(ops->create(&st, &p, 3, 1, &err), KV_OK);
	i = ops->pick(st, &req, &view);
	ops->destroy(st);
	return i;
}

static void test_load_routers(void)
{
	const struct route_ops *rr = route_find("rr");
	void *st;
	struct kv_err err;

	/* rr: 0, 1, 2, 0 */
	CU_ASSERT_PTR_NOT_NULL_FATAL(rr);
	CU_ASSERT_EQUAL_FATAL(rr->create(&st, NULL, 3, 1, &err), KV_OK);
	CU_ASSERT_EQUAL(rr->pick(st, &req, &view), 0);
	CU_ASSERT_EQUAL(rr->pick(st, &req, &view), 1);
	CU_ASSERT_EQUAL(rr->pick(st, &req, &view), 2);
	CU_ASSERT_EQUAL(rr->pick(st, &req, &view), 0);
	rr->destroy(st);
	/* least-requests: 4w + r = 6, 4, 9 -> 1 */
	CU_ASSERT_EQUAL(pick("least-requests"), 1);
	/* least-tokens: 3000, 5000, 1000 -> 2 */
	CU_ASSERT_EQUAL(pick("least-tokens"), 2);
}

static void test_random_routers(void)
{
	const struct route_ops *ops = route_find("random"), *p2c = route_find("p2c");
	int count[3] = {0}, p2c_count[3] = {0};
	struct kv_params p;
	struct kv_err err;
	void *st;

	CU_ASSERT_EQUAL_FATAL(route_resolve("random", &ops, &p, &err), KV_OK);
	CU_ASSERT_EQUAL_FATAL(ops->create(&st, &p, 3, 42, &err), KV_OK);
	for (int k = 0; k < 3000; k++)
		count[ops->pick(st, &req, &view)]++;
	ops->destroy(st);
	/* uniform: 1000 each; 5 standard deviations (sqrt(3000 x 1/3 x 2/3) = 25.8) = 129 */
	for (int i = 0; i < 3; i++)
		CU_ASSERT(count[i] > 1000 - 129 && count[i] < 1000 + 129);
	/* p2c on running + waiting = 3, 4, 3: instance 1 is worse than both others, so it
	 * never wins a pair; 0 and 2 each win the pairs they are in */
	CU_ASSERT_EQUAL_FATAL(route_resolve("p2c", &p2c, &p, &err), KV_OK);
	CU_ASSERT_EQUAL_FATAL(p2c->create(&st, &p, 3, 42, &err), KV_OK);
	for (int k = 0; k < 300; k++)
		p2c_count[p2c->pick(st, &req, &view)]++;
	p2c->destroy(st);
	CU_ASSERT_EQUAL(p2c_count[1], 0);
	CU_ASSERT(p2c_count[0] > 0 && p2c_count[2] > 0);
}

static void test_session(void)
{
	const struct route_ops *ops = route_find("session");
	struct route_inst moved[3];
	struct route_view v2 = view;
	struct route_request other = req;
	struct kv_err err;
	void *st;

	CU_ASSERT_EQUAL_FATAL(ops->create(&st, NULL, 3, 1, &err), KV_OK);
	/* a new session goes to the least-requests instance: 1 */
	CU_ASSERT_EQUAL(ops->pick(st, &req, &view), 1);
	ops->on_dispatch(st, &req, 1);
	/* instance 1 becomes the busiest (4w + r = 4 x 9 + 4 = 40): the session stays */
	memcpy(moved, state, sizeof(moved));
	moved[1].waiting = 9;
	v2.inst = moved;
	CU_ASSERT_EQUAL(ops->pick(st, &req, &v2), 1);
	/* another session goes to the least loaded now: 0 (6 < 9 < 40) */
	other.session = 8;
	CU_ASSERT_EQUAL(ops->pick(st, &other, &v2), 0);
	ops->destroy(st);
}

static void test_cache_routers(void)
{
	/* cache-aware: loads (r + w) 3, 4, 3 are balanced (4 - 3 = 1 < 64); the longest
	 * match is instance 1 (96 tokens), rate 96/160 = 0.6 > 0.3 -> 1 */
	CU_ASSERT_EQUAL(pick("cache-aware"), 1);
	/* match rate 0.6 below a 0.7 threshold: the most free cache = fewest cached blocks
	 * (50, 90, 30) -> 2 */
	CU_ASSERT_EQUAL(pick("cache-aware:cache_threshold=0.7"), 2);
	/* thresholds 0 and 1: 4 - 3 > 0 and 4 > 1 x 3 is imbalanced -> shortest queue, the
	 * first of the two with load 3 -> 0 */
	CU_ASSERT_EQUAL(pick("cache-aware:balance_abs_threshold=0,balance_rel_threshold=1"), 0);
	/* AND of the two imbalance thresholds (sgl-router: max - min > abs && max > rel x
	 * min): abs 0 alone (4 - 3 > 0, but 4 <= 1.5 x 3) and rel 1 alone (4 > 3, but 1 <= 64)
	 * are balanced -> the longest match, 1; with OR both would give the shortest queue 0 */
	CU_ASSERT_EQUAL(pick("cache-aware:balance_abs_threshold=0"), 1);
	CU_ASSERT_EQUAL(pick("cache-aware:balance_rel_threshold=1"), 1);
	{
		/* full caches: equal free cache (100 cached each) and no match -> the
		 * least-loaded of the tie, loads 3, 2, 5 -> 1 (the lowest index, 0, before the
		 * review); equal matches (32 tokens, rate 0.2 above a 0.1 threshold) likewise */
		static const struct route_inst full[3] = {
			{2, 32, 0, 2, 1, 100, 100, 100, 3000},
			{2, 32, 0, 1, 1, 100, 100, 100, 3000},
			{2, 32, 0, 4, 1, 100, 100, 100, 3000},
		};
		static const struct route_view fv = {3, full, 0, 256};
		const struct route_ops *ops;
		struct kv_params p;
		struct kv_err err;
		void *st;

		CU_ASSERT_EQUAL_FATAL(route_resolve("cache-aware", &ops, &p, &err), KV_OK);
		CU_ASSERT_EQUAL_FATAL(ops->create(&st, &p, 3, 1, &err), KV_OK);
		CU_ASSERT_EQUAL(ops->pick(st, &req, &fv), 1); /* 0.2 <= 0.3: most free cache */
		ops->destroy(st);
		CU_ASSERT_EQUAL_FATAL(route_resolve("cache-aware:cache_threshold=0.1", &ops, &p,
						    &err), KV_OK);
		CU_ASSERT_EQUAL_FATAL(ops->create(&st, &p, 3, 1, &err), KV_OK);
		CU_ASSERT_EQUAL(ops->pick(st, &req, &fv), 1); /* 0.2 > 0.1: longest match */
		ops->destroy(st);
	}
	/* dynamo (weight 1): (queued + uncached) / 16 + used + 10 request blocks
	 *   0: (0 + 160)/16 + 10 + 10 = 30; 1: (500 + 64)/16 + 40 + 10 = 85.25;
	 *   2: (100 + 128)/16 + 20 + 10 = 44.25 -> 0 */
	CU_ASSERT_EQUAL(pick("dynamo"), 0);
	/* weight 10: 0: 100 + 20 = 120; 1: 352.5 + 50 = 402.5; 2: 142.5 + 30 = 172.5 -> 0;
	 * weight 0: decode blocks only 20, 50, 30 -> 0 */
	CU_ASSERT_EQUAL(pick("dynamo:overlap_weight=0"), 0);
	/* the weight decides on a 2-instance state: A nothing cached, idle; B the whole
	 * request cached (10 blocks, 160 tokens) but 30 blocks in use.
	 *   A: w x 160/16 + (0 + 10) = 10 w + 10;  B: w x 0 + (30 + 10) = 40
	 *   w = 1: 20 < 40 -> A;  w = 4: 50 > 40 -> B;  w = 3: 40 = 40, tie -> A */
	{
		static const struct route_inst two[2] = {
			{0, 0, 0, 0, 0, 0, 0, 100, 0},
			{10, 160, 0, 0, 0, 30, 40, 100, 0},
		};
		static const struct route_view v2 = {2, two, 0, 256};
		static const char *const specs[3] = {"dynamo", "dynamo:overlap_weight=4",
						      "dynamo:overlap_weight=3"};
		static const uint32_t want[3] = {0, 1, 0};

		for (int k = 0; k < 3; k++) {
			const struct route_ops *ops;
			struct kv_params p;
			struct kv_err err;
			void *st;

			CU_ASSERT_EQUAL_FATAL(route_resolve(specs[k], &ops, &p, &err), KV_OK);
			CU_ASSERT_EQUAL_FATAL(ops->create(&st, &p, 2, 1, &err), KV_OK);
			CU_ASSERT_EQUAL(ops->pick(st, &req, &v2), want[k]);
			ops->destroy(st);
		}
	}
	/* lmetric: (queued + uncached) x (running + 1)
	 *   0: 160 x 3 = 480; 1: 564 x 5 = 2820; 2: 228 x 2 = 456 -> 2 */
	CU_ASSERT_EQUAL(pick("lmetric"), 2);
	/* llm-d: prefix 0, 0.6, 0.2; queue (waiting 1, 0, 2; min 0 max 2) 0.5, 1, 0;
	 * kv 0.9, 0.6, 0.8; 3p + 2q + 2k = 2.8, 5.0, 2.2 -> 1 */
	CU_ASSERT_EQUAL(pick("llm-d"), 1);
	/* prefix weight 0: 2.8, 3.2, 1.6 -> 1; queue weight 0 and kv 1: 0 + 0.9, 1.8 + 0.6,
	 * 0.6 + 0.8 -> 1; prefix 0, queue 0: kv 0.9, 0.6, 0.8 -> 0 */
	CU_ASSERT_EQUAL(pick("llm-d:prefix=0,queue=0"), 0);
	/* aibrix: loads 3, 4, 3, max - min = 1 <= 8; mean 10/3, std sqrt(34/3 - 100/9) =
	 * 0.471, limit 3.805: instance 1 (4) is out; best match of 0 (0) and 2 (2) -> 2 */
	CU_ASSERT_EQUAL(pick("aibrix"), 2);
	/* imbalance_abs 0: 1 > 0 -> fewest running + waiting, first of 0 and 2 -> 0 */
	CU_ASSERT_EQUAL(pick("aibrix:imbalance_abs=0"), 0);
	/* bailian, no jitter: bs max 4, tokens max 5000:
	 *   0: 0.33 (0 + 0.5 + 0.4) = 0.297; 1: 0.33 (0.6 + 0 + 0) = 0.198;
	 *   2: 0.33 (0.2 + 0.75 + 0.8) = 0.5775 -> 2 */
	CU_ASSERT_EQUAL(pick("bailian:jitter=0"), 2);
	/* hit weight 3: 0: 0.297; 1: 1.8; 2: 0.6 + 0.5115 = 1.1115 -> 1 */
	CU_ASSERT_EQUAL(pick("bailian:jitter=0,hit=3"), 1);
	/* with the default 10% jitter instance 2 (0.5775) still beats 0 (<= 0.297) */
	CU_ASSERT_EQUAL(pick("bailian"), 2);
}

static void test_registry(void)
{
	static const char *const names[] = {"rr", "random", "least-requests", "least-tokens",
					    "p2c", "session", "cache-aware", "dynamo", "lmetric",
					    "llm-d", "aibrix", "bailian"};
	const struct route_ops *ops;
	struct kv_params p;
	struct kv_err err;

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		CU_ASSERT_PTR_NOT_NULL(route_find(names[i]));
	CU_ASSERT_EQUAL(route_resolve("nope", &ops, &p, &err), KV_EINPUT);
	CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "lmetric"));
	CU_ASSERT_EQUAL(route_resolve("cache-aware:cache_treshold=1", &ops, &p, &err), KV_EINPUT);
}

int suite_route(void)
{
	CU_pSuite s = CU_add_suite("route", NULL, NULL);

	return !s || !CU_add_test(s, "load-based routers", test_load_routers) ||
	       !CU_add_test(s, "random and p2c", test_random_routers) ||
	       !CU_add_test(s, "sticky sessions", test_session) ||
	       !CU_add_test(s, "cache-aware routers", test_cache_routers) ||
	       !CU_add_test(s, "registry", test_registry);
}
