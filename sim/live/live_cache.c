/*
 * live_cache.c - the emulated engine's prefix cache (see live_cache.h).
 *
 * The chain table is open addressing with linear probing and backward-shift deletion,
 * sized to at least twice the node count, so lookups are O(1) expected and nothing is
 * allocated per request. The eviction policy is wrapped by a thin ops table that forwards
 * every call and notes the blocks removed, so their node numbers join the free queue once
 * the request's touch is over (a block evicted and re-inserted within one touch is kept).
 */
#include "live_cache.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "capacity.h"
#include "registry.h"
#include "synth.h"

struct slot {
	uint64_t key;    /* chain key of the block (chain_key) */
	uint32_t node;   /* KV_NO_NODE: empty */
};

struct live_cache {
	struct kv_trace tr;       /* synthetic: node_parent/depth of nnodes slots; node_hash
				   * holds each node's chain key */
	struct kv_cache *cache;
	char policy_spec[256];
	uint64_t capacity_blocks;
	uint32_t max_request_tokens;
	uint32_t block_size;
	uint32_t max_blocks;      /* full blocks of the longest request */
	struct slot *tab;         /* chain key -> node, for resident and remembered blocks */
	uint64_t mask;
	uint32_t *fq_prev, *fq_next; /* free queue: unused node numbers, oldest first */
	uint32_t fq_head, fq_tail, nfree;
	uint8_t *in_free, *in_tab;
	uint32_t *pending;        /* removed during the current touch, to recycle after it */
	uint32_t npending;
	uint8_t *in_pending;
	uint32_t *scratch;        /* nodes of the current request */
};

/* ---- the policy wrapper ---- */

struct wrap {
	const struct evict_ops *inner;
	void *st;
	struct live_cache *owner;
};

static int wrap_create(void **state, const struct evict_env *env, const struct kv_params *p,
		       struct kv_err *err)
{
	struct wrap *w = calloc(1, sizeof(*w));
	int rc;

	if (!w)
		return kv_fail(err, KV_ERUNTIME, "out of memory");
	w->inner = evict_find(p->name);
	if (!w->inner) {
		free(w);
		return kv_fail(err, KV_EINPUT, "unknown eviction policy '%s'", p->name);
	}
	if ((rc = w->inner->create(&w->st, env, p, err))) {
		free(w);
		return rc;
	}
	*state = w;
	return KV_OK;
}

static void wrap_destroy(void *state)
{
	struct wrap *w = state;

	w->inner->destroy(w->st);
	free(w);
}

static void wrap_insert(void *state, uint32_t n, const struct kv_access *a)
{
	struct wrap *w = state;

	w->inner->on_insert(w->st, n, a);
}

static void wrap_hit(void *state, uint32_t n, const struct kv_access *a)
{
	struct wrap *w = state;

	w->inner->on_hit(w->st, n, a);
}

static uint32_t wrap_victim(void *state)
{
	struct wrap *w = state;

	return w->inner->victim(w->st);
}

static void wrap_remove(void *state, uint32_t n)
{
	struct wrap *w = state;
	struct live_cache *lc = w->owner;

	w->inner->on_remove(w->st, n);
	if (!lc->in_pending[n]) {
		lc->in_pending[n] = 1;
		lc->pending[lc->npending++] = n;
	}
}

static const struct evict_ops wrap_ops = {
	.name = "live-wrap",
	.doc = "forwards to the user's policy and notes removals",
	.defaults = "",
	.create = wrap_create,
	.destroy = wrap_destroy,
	.on_insert = wrap_insert,
	.on_hit = wrap_hit,
	.victim = wrap_victim,
	.on_remove = wrap_remove,
};

/* ---- the chain table ---- */

/* Block i's identity: a 64-bit hash of block i-1's identity and block i's ids, as vLLM
 * chains its block hashes. O(1). */
static uint64_t chain_key(uint64_t prev, uint64_t block)
{
	return synth_mix64(prev ^ synth_mix64(block + 0x636861696e000000ull));
}

static uint64_t slot_of(const struct live_cache *lc, uint64_t key)
{
	return synth_mix64(key) & lc->mask;
}

static uint32_t tab_find(const struct live_cache *lc, uint64_t key)
{
	for (uint64_t i = slot_of(lc, key);; i = (i + 1) & lc->mask) {
		const struct slot *sl = &lc->tab[i];

		if (sl->node == KV_NO_NODE)
			return KV_NO_NODE;
		if (sl->key == key)
			return sl->node;
	}
}

static void tab_add(struct live_cache *lc, uint64_t key, uint32_t node)
{
	uint64_t i = slot_of(lc, key);

	while (lc->tab[i].node != KV_NO_NODE)
		i = (i + 1) & lc->mask;
	lc->tab[i].key = key;
	lc->tab[i].node = node;
}

/* Deletes a present key with backward shift, so probe chains stay unbroken. */
static void tab_del(struct live_cache *lc, uint64_t key)
{
	uint64_t i = slot_of(lc, key);

	while (lc->tab[i].node == KV_NO_NODE || lc->tab[i].key != key)
		i = (i + 1) & lc->mask;
	for (uint64_t j = (i + 1) & lc->mask;; j = (j + 1) & lc->mask) {
		uint64_t home;

		if (lc->tab[j].node == KV_NO_NODE)
			break;
		home = slot_of(lc, lc->tab[j].key);
		/* move j back to i unless its home lies cyclically in (i, j] */
		if ((j > i && (home <= i || home > j)) || (j < i && (home <= i && home > j))) {
			lc->tab[i] = lc->tab[j];
			i = j;
		}
	}
	lc->tab[i].node = KV_NO_NODE;
}

/* ---- the free queue: unused node numbers, the longest unused first ---- */

static void fq_push(struct live_cache *lc, uint32_t n)
{
	lc->fq_next[n] = KV_NO_NODE;
	lc->fq_prev[n] = lc->fq_tail;
	if (lc->fq_tail != KV_NO_NODE)
		lc->fq_next[lc->fq_tail] = n;
	else
		lc->fq_head = n;
	lc->fq_tail = n;
	lc->in_free[n] = 1;
	lc->nfree++;
}

static void fq_del(struct live_cache *lc, uint32_t n)
{
	if (lc->fq_prev[n] != KV_NO_NODE)
		lc->fq_next[lc->fq_prev[n]] = lc->fq_next[n];
	else
		lc->fq_head = lc->fq_next[n];
	if (lc->fq_next[n] != KV_NO_NODE)
		lc->fq_prev[lc->fq_next[n]] = lc->fq_prev[n];
	else
		lc->fq_tail = lc->fq_prev[n];
	lc->in_free[n] = 0;
	lc->nfree--;
}

static uint64_t block_hash(const uint32_t *ids, uint32_t n)
{
	uint64_t h = 0xcbf29ce484222325ull;

	for (uint32_t i = 0; i < n; i++)
		h = (h ^ ids[i]) * 0x100000001b3ull;
	return synth_mix64(h);
}

static void fini(struct live_cache *lc);

/* Builds everything inside *lc (zeroed); on failure what was built is freed. */
static int init(struct live_cache *lc, const char *policy_spec, uint32_t block_size,
		uint64_t capacity_blocks, uint32_t max_request_tokens, struct kv_err *err)
{
	const struct evict_ops *ops;
	struct kv_params params;
	uint64_t nodes, tabsize = 16;
	int rc;

	if ((rc = evict_resolve(policy_spec, &ops, &params, err)))
		return rc;
	if (ops->reads & EVICT_READS_FUTURE)
		return kv_fail(err, KV_EINPUT, "policy '%s' needs the future of a trace; serve "
			       "sees requests one at a time", ops->name);
	if (capacity_blocks == KV_CAPACITY_INF || capacity_blocks > (1u << 29))
		return kv_fail(err, KV_EINPUT, "serve needs a finite capacity of at most 2^29 "
			       "blocks");
	if (!block_size || !max_request_tokens)
		return kv_fail(err, KV_EINPUT, "block size and max request length must be > 0");
	if (strlen(policy_spec) >= sizeof(lc->policy_spec))
		return kv_fail(err, KV_EINPUT, "policy spec too long");
	snprintf(lc->policy_spec, sizeof(lc->policy_spec), "%s", policy_spec);
	lc->capacity_blocks = capacity_blocks;
	lc->max_request_tokens = max_request_tokens;
	lc->block_size = block_size;
	lc->max_blocks = max_request_tokens / block_size;
	/* resident blocks, one request's new blocks, and as many evicted blocks again as the
	 * capacity whose numbers (and so the policy's history of them) are kept */
	nodes = 2 * capacity_blocks + lc->max_blocks + 1;
	while (tabsize < 2 * nodes)
		tabsize *= 2;
	lc->mask = tabsize - 1;
	lc->tr.block_size = block_size;
	lc->tr.nnodes = (uint32_t)nodes;
	lc->tr.node_parent = malloc(nodes * sizeof(uint32_t));
	lc->tr.node_depth = calloc(nodes, sizeof(uint32_t));
	lc->tr.node_hash = calloc(nodes, sizeof(uint64_t));
	lc->tr.ntypes = 1;
	lc->tab = malloc(tabsize * sizeof(*lc->tab));
	lc->fq_prev = malloc(nodes * sizeof(uint32_t));
	lc->fq_next = malloc(nodes * sizeof(uint32_t));
	lc->in_free = calloc(nodes, 1);
	lc->in_tab = calloc(nodes, 1);
	lc->pending = malloc(nodes * sizeof(uint32_t));
	lc->in_pending = calloc(nodes, 1);
	lc->scratch = malloc(((size_t)lc->max_blocks + 1) * sizeof(uint32_t));
	if (!lc->tr.node_parent || !lc->tr.node_depth || !lc->tr.node_hash || !lc->tab ||
	    !lc->fq_prev || !lc->fq_next || !lc->in_free || !lc->in_tab || !lc->pending ||
	    !lc->in_pending || !lc->scratch) {
		fini(lc);
		return kv_fail(err, KV_ERUNTIME, "out of memory for %llu blocks",
			       (unsigned long long)nodes);
	}
	for (uint64_t i = 0; i < tabsize; i++)
		lc->tab[i].node = KV_NO_NODE;
	lc->fq_head = lc->fq_tail = KV_NO_NODE;
	for (uint64_t i = 0; i < nodes; i++) {
		lc->tr.node_parent[i] = KV_NO_NODE;
		fq_push(lc, (uint32_t)i);
	}
	if ((rc = cache_create(&lc->cache, &lc->tr, &wrap_ops, &params, capacity_blocks,
			       KV_HIT_VLLM, err))) {
		fini(lc);
		return rc;
	}
	((struct wrap *)lc->cache->policy)->owner = lc;
	return KV_OK;
}

int live_cache_create(struct live_cache **out, const char *policy_spec, uint32_t block_size,
		      uint64_t capacity_blocks, uint32_t max_request_tokens, struct kv_err *err)
{
	struct live_cache *lc = calloc(1, sizeof(*lc));
	int rc;

	*out = NULL;
	if (!lc)
		return kv_fail(err, KV_ERUNTIME, "out of memory");
	if ((rc = init(lc, policy_spec, block_size, capacity_blocks, max_request_tokens, err))) {
		free(lc);
		return rc;
	}
	*out = lc;
	return KV_OK;
}

/* Frees everything inside *lc and zeroes it. */
static void fini(struct live_cache *lc)
{
	cache_destroy(lc->cache);
	free(lc->tr.node_parent);
	free(lc->tr.node_depth);
	free(lc->tr.node_hash);
	free(lc->tab);
	free(lc->fq_prev);
	free(lc->fq_next);
	free(lc->in_free);
	free(lc->in_tab);
	free(lc->pending);
	free(lc->in_pending);
	free(lc->scratch);
	memset(lc, 0, sizeof(*lc));
}

void live_cache_destroy(struct live_cache *lc)
{
	if (!lc)
		return;
	fini(lc);
	free(lc);
}

/* Queues the node numbers of blocks evicted during the last touch (and not re-inserted)
 * as free; their chain keys stay findable until the number is reused. O(evicted). */
static void recycle(struct live_cache *lc)
{
	for (uint32_t i = 0; i < lc->npending; i++) {
		uint32_t n = lc->pending[i];

		lc->in_pending[n] = 0;
		if (!lc->cache->blocks[n].resident && !lc->in_free[n])
			fq_push(lc, n);
	}
	lc->npending = 0;
}

uint32_t live_cache_request(struct live_cache *lc, const uint32_t *ids, uint32_t ntok,
			    double now_s)
{
	struct kv_cache *c = lc->cache;
	uint32_t B = lc->block_size;
	uint32_t nfull = ntok / B, max_hits = ntok ? (ntok - 1) / B : 0, hits;
	uint32_t parent = KV_NO_NODE;
	uint64_t key = 0x6b7673696d6b6579ull;
	struct kv_request q = {0};
	struct kv_access a;

	if (!c)
		return 0; /* a reset ran out of memory */
	if (nfull > lc->max_blocks)
		nfull = lc->max_blocks; /* callers reject longer prompts first */
	for (uint32_t i = 0; i < nfull; i++) {
		uint32_t n;

		key = chain_key(key, block_hash(ids + (size_t)i * B, B));
		n = tab_find(lc, key);
		if (n == KV_NO_NODE) {
			/* resident <= capacity between requests, so nfree > max_blocks */
			n = lc->fq_head;
			fq_del(lc, n);
			if (lc->in_tab[n])
				tab_del(lc, lc->tr.node_hash[n]);
			lc->tr.node_hash[n] = key;
			tab_add(lc, key, n);
			lc->in_tab[n] = 1;
		} else if (lc->in_free[n]) {
			fq_del(lc, n); /* an evicted block comes back under its old number */
		}
		lc->tr.node_parent[n] = parent;
		lc->tr.node_depth[n] = i;
		lc->scratch[i] = parent = n;
	}
	hits = cache_prefix_hits(c, lc->scratch, nfull);
	if (hits > max_hits)
		hits = max_hits;
	q.ts_s = now_s;
	q.chat_id = (int64_t)c->st.requests;
	q.parent_chat_id = -1;
	q.nblocks = (ntok + B - 1) / B;
	q.input_tokens = ntok;
	q.parent_row = KV_NO_ROW;
	a.req = &q;
	a.row = 0;
	a.pos = 0;
	a.seq = 0;
	a.now_s = now_s;
	cache_touch(c, lc->scratch, nfull, &a);
	/* a new block inserted and evicted again within the touch went through on_remove;
	 * any node of this request still not resident is queued as free below */
	recycle(lc);
	c->st.requests++;
	c->st.blocks += q.nblocks;
	c->st.hit_blocks += hits;
	c->st.tokens += ntok;
	c->st.hit_tokens += (uint64_t)hits * B;
	return hits * B;
}

int live_cache_reset(struct live_cache *lc, struct kv_err *err)
{
	struct kv_cache_stats st = lc->cache->st;
	char spec[sizeof(lc->policy_spec)];
	uint64_t cap = lc->capacity_blocks;
	uint32_t bs = lc->block_size, max_tok = lc->max_request_tokens;
	int rc;

	/* a fresh table, cache and policy (no history), the counters kept; built in place
	 * because the cache and the policy point into *lc */
	snprintf(spec, sizeof(spec), "%s", lc->policy_spec);
	fini(lc);
	if ((rc = init(lc, spec, bs, cap, max_tok, err)))
		return rc; /* out of memory: lc->cache is NULL, requests get no hits */
	lc->cache->st = st;
	return KV_OK;
}

/* (After a reset that ran out of memory there is no cache: zeros.) */
const struct kv_cache_stats *live_cache_stats(const struct live_cache *lc)
{
	static const struct kv_cache_stats none;

	return lc->cache ? &lc->cache->st : &none;
}

uint64_t live_cache_resident(const struct live_cache *lc)
{
	return lc->cache ? lc->cache->resident : 0;
}

uint64_t live_cache_capacity(const struct live_cache *lc)
{
	return lc->cache ? lc->cache->capacity : 1;
}

int live_cache_check(const struct live_cache *lc, struct kv_err *err)
{
	uint64_t resident = 0;
	int rc;

	if ((rc = cache_check(lc->cache, err)))
		return rc;
	for (uint32_t n = 0; n < lc->tr.nnodes; n++) {
		if (!lc->cache->blocks[n].resident)
			continue;
		/* a resident node is not free and is found by its chain key */
		if (lc->in_free[n])
			return kv_fail(err, KV_ERUNTIME, "node %u is resident but free", n);
		if (!lc->in_tab[n] || tab_find(lc, lc->tr.node_hash[n]) != n)
			return kv_fail(err, KV_ERUNTIME, "node %u is not found by its chain key", n);
		resident++;
	}
	if (resident + lc->nfree != lc->tr.nnodes)
		return kv_fail(err, KV_ERUNTIME, "%llu resident + %u free != %u nodes",
			       (unsigned long long)resident, lc->nfree, lc->tr.nnodes);
	return 0;
}
