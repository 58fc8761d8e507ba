/*
 * cache.c - the cache core (see cache.h).
 *
 * Per block touch: O(1) plus the policy's cost; per eviction: O(size of the evicted
 * subtree), which is 1 for a policy that picks leaves. The hot loop allocates nothing.
 */
#include "cache.h"

#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bigmem.h"
#include "capacity.h"

const char *cache_hit_rule_name(enum kv_hit_rule r)
{
	return r == KV_HIT_VLLM ? "vllm" : "prefix";
}

int cache_hit_rule_parse(const char *s, enum kv_hit_rule *out)
{
	if (!strcmp(s, "prefix"))
		*out = KV_HIT_PREFIX;
	else if (!strcmp(s, "vllm"))
		*out = KV_HIT_VLLM;
	else
		return -1;
	return 0;
}

/*
 * Block arrays of destroyed caches, kept for the next cache_create: a sweep runs many caches
 * over one trace, and on a virtual machine the first touch of a fresh 40-byte-per-node array
 * costs more than the run itself (page zeroing). At most BLOCK_POOL_MAX arrays are kept
 * (one per worker thread of a typical sweep); they stay reachable until exit.
 */
#define BLOCK_POOL_MAX 4

static struct {
	pthread_mutex_t lock;
	struct kv_block *b[BLOCK_POOL_MAX];
	size_t n[BLOCK_POOL_MAX]; /* entries each holds */
	int count;
} block_pool = {PTHREAD_MUTEX_INITIALIZER, {NULL}, {0}, 0};

/* An array of at least n blocks, from the pool when one is big enough, else fresh and (with
 * populate) with its pages populated. O(1) + malloc. */
static struct kv_block *blocks_get(size_t n, int populate)
{
	struct kv_block *b = NULL;

	pthread_mutex_lock(&block_pool.lock);
	for (int i = 0; i < block_pool.count; i++)
		if (block_pool.n[i] >= n) {
			b = block_pool.b[i];
			block_pool.count--;
			block_pool.b[i] = block_pool.b[block_pool.count];
			block_pool.n[i] = block_pool.n[block_pool.count];
			break;
		}
	pthread_mutex_unlock(&block_pool.lock);
	if (b)
		return b;
	return populate ? kv_big_alloc(n * sizeof(*b)) : kv_big_realloc(NULL, n * sizeof(*b));
}

static void init_blocks(struct kv_block *b, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		b[i].first_child = b[i].next_sib = b[i].prev_sib = KV_NO_NODE;
		b[i].refcnt = 0;
		b[i].resident = 0;
		b[i].flags = 0;
		memset(&b[i].pol, 0, sizeof(b[i].pol));
	}
}

size_t cache_init_thread_min = 1u << 20;
#define INIT_CHUNK (1u << 14)      /* blocks initialised between two marks (640 KiB) */

/* The array is initialised in chunks, claimed in order by the helper thread and, when the
 * run needs a chunk not done yet, by the run's thread too (rather than waiting idle). */
struct block_init {
	pthread_t thread;
	struct kv_block *blocks;
	size_t n, nchunks;
	size_t next;    /* the next chunk to claim (atomic) */
	uint8_t *done;  /* per chunk: initialised (atomic, release/acquire) */
	size_t ready;   /* the run's thread: chunks [0, ready) are done */
};

/* Claims and initialises one chunk; 0 when none is left to claim. */
static int init_one(struct block_init *bi)
{
	size_t k = __atomic_fetch_add(&bi->next, 1, __ATOMIC_RELAXED), i, e;

	if (k >= bi->nchunks)
		return 0;
	i = k * INIT_CHUNK;
	e = i + INIT_CHUNK < bi->n ? i + INIT_CHUNK : bi->n;
	kv_big_prefault(bi->blocks, i * sizeof(*bi->blocks), e * sizeof(*bi->blocks));
	init_blocks(bi->blocks + i, e - i);
	__atomic_store_n(&bi->done[k], 1, __ATOMIC_RELEASE);
	return 1;
}

static void *init_thread(void *arg)
{
	while (init_one(arg))
		;
	return NULL;
}

static void init_join(struct kv_cache *c)
{
	pthread_join(c->init->thread, NULL);
	free(c->init->done);
	free(c->init);
	c->init = NULL;
	c->ready = SIZE_MAX;
}

void cache_wait_ready(struct kv_cache *c, size_t node)
{
	struct block_init *bi = c->init;

	if (!bi || node < c->ready)
		return;
	while (bi->ready * INIT_CHUNK <= node) {
		if (__atomic_load_n(&bi->done[bi->ready], __ATOMIC_ACQUIRE))
			bi->ready++;
		else if (!init_one(bi)) /* help; when all are claimed, the helper finishes */
			sched_yield();
	}
	c->ready = bi->ready * INIT_CHUNK < bi->n ? bi->ready * INIT_CHUNK : bi->n;
	if (bi->ready == bi->nchunks)
		init_join(c);
}

static void blocks_put(struct kv_block *b, size_t n)
{
	pthread_mutex_lock(&block_pool.lock);
	if (block_pool.count < BLOCK_POOL_MAX) {
		block_pool.b[block_pool.count] = b;
		block_pool.n[block_pool.count++] = n;
		b = NULL;
	}
	pthread_mutex_unlock(&block_pool.lock);
	free(b);
}

static int create(struct kv_cache **out, const struct kv_trace *t, const struct evict_ops *ops,
		  const struct kv_params *params, uint64_t capacity_blocks, enum kv_hit_rule rule,
		  int background, struct kv_err *err)
{
	struct kv_cache *c = calloc(1, sizeof(*c));
	struct kv_params defaults;
	struct evict_env env;
	int rc;

	*out = NULL;
	if (!c)
		return kv_fail(err, KV_ERUNTIME, "out of memory");
	background = background && t->nnodes >= cache_init_thread_min;
	c->blocks = blocks_get((size_t)t->nnodes + 1, !background);
	if (!c->blocks) {
		free(c);
		return kv_fail(err, KV_ERUNTIME, "out of memory for %u blocks", t->nnodes);
	}
	if (background && (c->init = calloc(1, sizeof(*c->init)))) {
		struct block_init *bi = c->init;

		bi->blocks = c->blocks;
		bi->n = t->nnodes;
		bi->nchunks = (bi->n + INIT_CHUNK - 1) / INIT_CHUNK;
		if (!(bi->done = calloc(bi->nchunks, 1)) ||
		    pthread_create(&bi->thread, NULL, init_thread, bi)) {
			free(bi->done);
			free(bi);
			c->init = NULL;
		}
	}
	if (!c->init) {
		init_blocks(c->blocks, t->nnodes);
		c->ready = SIZE_MAX;
	}
	c->trace = t;
	c->ops = ops;
	c->capacity = capacity_blocks ? capacity_blocks : 1;
	c->hit_rule = rule;
	if (!params) {
		memset(&defaults, 0, sizeof(defaults));
		snprintf(defaults.name, sizeof(defaults.name), "%s", ops->name);
		if ((rc = kv_params_resolve(&defaults, ops->defaults, err)))
			goto fail;
		params = &defaults;
	}
	env.blocks = c->blocks;
	env.trace = t;
	env.capacity_blocks = capacity_blocks;
	env.hit_rule = rule;
	if ((rc = ops->create(&c->policy, &env, params, err)))
		goto fail;
	*out = c;
	return KV_OK;
fail:
	if (c->init)
		init_join(c);
	blocks_put(c->blocks, (size_t)t->nnodes + 1);
	free(c);
	return rc;
}

int cache_create(struct kv_cache **out, const struct kv_trace *t, const struct evict_ops *ops,
		 const struct kv_params *params, uint64_t capacity_blocks,
		 enum kv_hit_rule rule, struct kv_err *err)
{
	return create(out, t, ops, params, capacity_blocks, rule, 0, err);
}

int cache_create_run(struct kv_cache **out, const struct kv_trace *t,
		     const struct evict_ops *ops, const struct kv_params *params,
		     uint64_t capacity_blocks, enum kv_hit_rule rule, struct kv_err *err)
{
	return create(out, t, ops, params, capacity_blocks, rule, 1, err);
}

void cache_destroy(struct kv_cache *c)
{
	if (!c)
		return;
	if (c->init)
		init_join(c);
	if (c->policy)
		c->ops->destroy(c->policy);
	blocks_put(c->blocks, (size_t)c->trace->nnodes + 1);
	free(c);
}

static void link_child(struct kv_cache *c, uint32_t n)
{
	uint32_t p = c->trace->node_parent[n];
	struct kv_block *b = &c->blocks[n];

	if (p == KV_NO_NODE)
		return;
	b->prev_sib = KV_NO_NODE;
	b->next_sib = c->blocks[p].first_child;
	if (b->next_sib != KV_NO_NODE)
		c->blocks[b->next_sib].prev_sib = n;
	c->blocks[p].first_child = n;
}

static void unlink_child(struct kv_cache *c, uint32_t n)
{
	uint32_t p = c->trace->node_parent[n];
	struct kv_block *b = &c->blocks[n];

	if (p == KV_NO_NODE)
		return;
	if (b->prev_sib != KV_NO_NODE)
		c->blocks[b->prev_sib].next_sib = b->next_sib;
	else
		c->blocks[p].first_child = b->next_sib;
	if (b->next_sib != KV_NO_NODE)
		c->blocks[b->next_sib].prev_sib = b->prev_sib;
	b->next_sib = b->prev_sib = KV_NO_NODE;
}

static void remove_block(struct kv_cache *c, uint32_t n)
{
	c->ops->on_remove(c->policy, n);
	unlink_child(c, n);
	c->blocks[n].resident = 0;
	c->resident--;
	c->st.evictions++;
}

/* Evicts v and every resident descendant, deepest first. O(subtree). */
static uint64_t evict_subtree(struct kv_cache *c, uint32_t v)
{
	uint64_t n = 0;
	uint32_t x = v;

	for (;;) {
		while (c->blocks[x].first_child != KV_NO_NODE)
			x = c->blocks[x].first_child;
		remove_block(c, x);
		n++;
		if (x == v)
			return n;
		x = c->trace->node_parent[x];
	}
}

uint64_t cache_evict_one(struct kv_cache *c)
{
	uint32_t v = c->ops->victim(c->policy);

	if (v == KV_NO_NODE)
		return 0;
	return evict_subtree(c, v);
}

void cache_touch(struct kv_cache *c, const uint32_t *nodes, uint32_t n, struct kv_access *a)
{
	uint64_t seq0 = a->seq;

	for (uint32_t i = n; i-- > 0;) {
		uint32_t node = nodes[i];
		struct kv_block *b = &c->blocks[node];

		a->pos = i;
		a->seq = seq0 + i;
		if (b->resident) {
			if (!b->refcnt)
				c->ops->on_hit(c->policy, node, a);
			continue;
		}
		b->resident = 1;
		c->resident++;
		c->st.inserts++;
		link_child(c, node);
		c->ops->on_insert(c->policy, node, a);
		while (c->resident > c->capacity)
			if (!cache_evict_one(c))
				break; /* everything left is pinned */
	}
	a->seq = seq0;
}

void cache_rule_limits(enum kv_hit_rule rule, uint32_t block_size, const struct kv_request *q,
		       uint32_t *cacheable, uint32_t *max_hits)
{
	if (rule == KV_HIT_VLLM) {
		*cacheable = q->input_tokens / block_size;
		*max_hits = q->input_tokens ? (q->input_tokens - 1) / block_size : 0;
	} else {
		*cacheable = q->nblocks;
		*max_hits = q->nblocks;
	}
}

int cache_ceiling(const struct kv_trace *t, enum kv_hit_rule rule, struct kv_ceiling *out)
{
	uint8_t *seen = calloc((size_t)t->nnodes / 8 + 1, 1);

	memset(out, 0, sizeof(*out));
	if (!seen)
		return KV_ERUNTIME;
	for (size_t r = 0; r < t->nreq; r++) {
		const struct kv_request *q = &t->req[r];
		const uint32_t *nodes = trace_req_nodes(t, r);
		uint32_t cacheable, max_hits, hits = 0;

		cache_rule_limits(rule, t->block_size, q, &cacheable, &max_hits);
		while (hits < cacheable && (seen[nodes[hits] >> 3] >> (nodes[hits] & 7) & 1))
			hits++;
		for (uint32_t i = hits; i < cacheable; i++)
			seen[nodes[i] >> 3] |= (uint8_t)(1u << (nodes[i] & 7));
		if (hits > max_hits)
			hits = max_hits;
		out->hit_blocks += hits;
		out->blocks += q->nblocks;
		out->hit_tokens += trace_hit_tokens(t, q, hits);
		out->tokens += q->input_tokens;
	}
	free(seen);
	return KV_OK;
}

uint32_t cache_run_request(struct kv_cache *c, uint32_t row, double now_s)
{
	const struct kv_trace *t = c->trace;
	const struct kv_request *q = &t->req[row];
	const uint32_t *nodes = trace_req_nodes(t, row);
	struct kv_access a = {q, row, 0, q->blk_off, now_s};
	uint32_t cacheable, max_hits, hits;

	cache_rule_limits(c->hit_rule, t->block_size, q, &cacheable, &max_hits);
	if (cacheable && nodes[cacheable - 1] >= c->ready)
		cache_wait_ready(c, nodes[cacheable - 1]); /* the request's highest node */
	hits = cache_prefix_hits(c, nodes, cacheable);
	if (hits > max_hits)
		hits = max_hits;
	cache_touch(c, nodes, cacheable, &a);
	c->st.requests++;
	c->st.blocks += q->nblocks;
	c->st.hit_blocks += hits;
	c->st.tokens += q->input_tokens;
	c->st.hit_tokens += trace_hit_tokens(t, q, hits);
	return hits;
}

int cache_check(const struct kv_cache *c, struct kv_err *err)
{
	const struct kv_trace *t = c->trace;
	uint64_t resident = 0;

	if (t->nnodes)
		cache_wait_ready((struct kv_cache *)c, t->nnodes - 1);
	for (uint32_t n = 0; n < t->nnodes; n++) {
		const struct kv_block *b = &c->blocks[n];
		uint32_t p = t->node_parent[n];

		if (!b->resident)
			continue;
		resident++;
		if (p != KV_NO_NODE && !c->blocks[p].resident)
			return kv_fail(err, KV_ERUNTIME, "node %u is resident but its parent %u is "
				       "not (prefix closure broken)", n, p);
		for (uint32_t ch = b->first_child; ch != KV_NO_NODE; ch = c->blocks[ch].next_sib)
			if (t->node_parent[ch] != n || !c->blocks[ch].resident)
				return kv_fail(err, KV_ERUNTIME, "child list of node %u is corrupt", n);
	}
	if (resident != c->resident)
		return kv_fail(err, KV_ERUNTIME, "resident count %llu, but %llu blocks are resident",
			       (unsigned long long)c->resident, (unsigned long long)resident);
	if (c->capacity != KV_CAPACITY_INF && resident > c->capacity)
		return kv_fail(err, KV_ERUNTIME, "%llu resident blocks exceed the capacity %llu",
			       (unsigned long long)resident, (unsigned long long)c->capacity);
	return 0;
}
