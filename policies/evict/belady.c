/*
 * belady.c - Belady's MIN, the offline optimum for this cache.
 *
 * create() scans the trace backwards once and stores, for every block access i (an index
 * into trace->node[], which is what kv_access.seq holds in cache mode), next_req[i] = the
 * index of the next request that looks the same chain node up in a lookup that can hit (with
 * the vllm hit rule: not beyond its max_hits), or UINT32_MAX if none. When a
 * block is touched its key becomes that next use; the victim is the resident block whose
 * next use is farthest, ties to the deeper block, then to the higher node number. The
 * incoming block competes too: if it is the one used last, victim() returns it and the
 * cache declines to keep it.
 *
 * A parent is looked up by every request that looks its child up, so a parent's next use is
 * never later than a resident child's; with ties going to the deeper block, the victim is
 * always a leaf and the resident set stays prefix-closed without help from the core.
 *
 * Blocks touched for the last time (no next use) are never hit again, so which of them goes
 * first cannot change a hit: they wait on a separate "dead" list (flags bit 0, links
 * pol.u32[0..1]) and go first, oldest first. Within a request that is deepest first
 * (tail-first touch), and a dead block's resident children are dead and older, so the
 * victim is still a leaf. This keeps the many blocks that are never reused out of the heap.
 * A binary max-heap of {next use << 32 | depth, node} holds the other resident blocks,
 * pol.u32[0] a block's position in it. Memory: 4 bytes per block access (next_req, the one side table,
 * inherent to an offline policy) and 16 bytes per resident block. create() is O(accesses);
 * insert, hit and remove are O(log resident), victim O(1).
 * No parameters.
 */
#include <stdlib.h>

#include "cache.h"
#include "evict_list.h"
#include "evict_ops.h"

#define BEL_DEAD 1u /* flags: never used again, on the dead list */

struct bel_ent {
	uint64_t key; /* next use << 32 | depth: larger = better victim */
	uint32_t node;
};

struct belady {
	struct kv_block *b;
	struct evict_list dead; /* resident blocks never used again, in touch order */
	const uint32_t *depth;
	uint32_t *next_req; /* per block access */
	struct bel_ent *heap;
	size_t n, cap;
};

/* Fills next_req[] with one backward pass; a temporary per-node array holds the next
 * request seen so far. Only a lookup that can hit is a use: with the vllm hit rule block k
 * of a request is one iff k < max_hits (cache_rule_limits); counting the others would make
 * Belady keep blocks for lookups that cannot hit, and lose to LRU. O(accesses + nodes). */
static int compute_next(struct belady *s, const struct kv_trace *t, enum kv_hit_rule rule,
			struct kv_err *err)
{
	uint32_t *next_of = malloc(((size_t)t->nnodes + 1) * sizeof(*next_of));

	s->next_req = malloc(((size_t)t->nblk + 1) * sizeof(*s->next_req));
	if (!next_of || !s->next_req) {
		free(next_of);
		return kv_fail(err, KV_ERUNTIME, "out of memory for Belady's next-use table");
	}
	for (uint32_t i = 0; i < t->nnodes; i++)
		next_of[i] = UINT32_MAX;
	for (size_t r = t->nreq; r-- > 0;) {
		const struct kv_request *q = &t->req[r];
		uint32_t cacheable, max_hits;

		cache_rule_limits(rule, t->block_size, q, &cacheable, &max_hits);
		for (uint32_t k = 0; k < q->nblocks; k++) {
			uint64_t i = q->blk_off + k;
			uint32_t node = t->node[i];

			s->next_req[i] = next_of[node];
			if (k < max_hits)
				next_of[node] = (uint32_t)r;
		}
	}
	free(next_of);
	return KV_OK;
}

static int bel_create(void **state, const struct evict_env *env, const struct kv_params *p,
		      struct kv_err *err)
{
	struct belady *s = calloc(1, sizeof(*s));
	const struct kv_trace *t = env->trace;
	int rc;

	(void)p;
	if (!s)
		return kv_fail(err, KV_ERUNTIME, "out of memory");
	if (t->nreq >= UINT32_MAX) {
		free(s);
		return kv_fail(err, KV_EINPUT, "belady: more than %u requests", UINT32_MAX - 1);
	}
	s->b = env->blocks;
	if (!(s->depth = trace_node_depth(t))) {
		free(s);
		return kv_fail(err, KV_ERUNTIME, "out of memory");
	}
	evict_list_init(&s->dead);
	if ((rc = compute_next(s, t, (enum kv_hit_rule)env->hit_rule, err))) {
		free(s);
		return rc;
	}
	s->cap = env->capacity_blocks < t->nnodes ? env->capacity_blocks + 2 : (size_t)t->nnodes + 2;
	s->heap = malloc(s->cap * sizeof(*s->heap));
	if (!s->heap) {
		free(s->next_req);
		free(s);
		return kv_fail(err, KV_ERUNTIME, "out of memory");
	}
	*state = s;
	return KV_OK;
}

static void bel_destroy(void *state)
{
	struct belady *s = state;

	free(s->heap);
	free(s->next_req);
	free(s);
}

static inline int ent_more(const struct bel_ent *x, const struct bel_ent *y)
{
	return x->key > y->key || (x->key == y->key && x->node > y->node);
}

static inline void place(struct belady *s, size_t i, struct bel_ent e)
{
	s->heap[i] = e;
	s->b[e.node].pol.u32[0] = (uint32_t)i;
}

static void sift_up(struct belady *s, size_t i)
{
	struct bel_ent e = s->heap[i];

	while (i > 0) {
		size_t p = (i - 1) / 2;

		if (!ent_more(&e, &s->heap[p]))
			break;
		place(s, i, s->heap[p]);
		i = p;
	}
	place(s, i, e);
}

static void sift_down(struct belady *s, size_t i)
{
	struct bel_ent e = s->heap[i];

	for (;;) {
		size_t c = 2 * i + 1;

		if (c >= s->n)
			break;
		if (c + 1 < s->n && ent_more(&s->heap[c + 1], &s->heap[c]))
			c++;
		if (!ent_more(&s->heap[c], &e))
			break;
		place(s, i, s->heap[c]);
		i = c;
	}
	place(s, i, e);
}

static inline uint64_t key_of(const struct belady *s, uint32_t n, const struct kv_access *a)
{
	return (uint64_t)s->next_req[a->seq] << 32 | s->depth[n];
}

/* A block touched for the last time: onto the dead list. O(1). */
static inline int to_dead(struct belady *s, uint32_t n, const struct kv_access *a)
{
	if (s->next_req[a->seq] != UINT32_MAX)
		return 0;
	s->b[n].flags = BEL_DEAD;
	evict_list_push_tail(&s->dead, s->b, n, 0);
	return 1;
}

static void heap_del(struct belady *s, size_t i);

static void bel_insert(void *state, uint32_t n, const struct kv_access *a)
{
	struct belady *s = state;
	struct bel_ent e = {key_of(s, n, a), n};

	s->b[n].flags = 0;
	if (to_dead(s, n, a))
		return;
	if (s->n == s->cap) { /* more than capacity + 2 tracked: cannot happen in the core */
		struct bel_ent *h = realloc(s->heap, 2 * s->cap * sizeof(*h));
		if (!h)
			abort();
		s->heap = h;
		s->cap *= 2;
	}
	place(s, s->n++, e);
	sift_up(s, s->n - 1);
}

static void bel_hit(void *state, uint32_t n, const struct kv_access *a)
{
	struct belady *s = state;
	size_t i = s->b[n].pol.u32[0];

	if (s->b[n].flags & BEL_DEAD) /* cannot happen: a dead block is never looked up */
		return;
	if (s->next_req[a->seq] == UINT32_MAX) {
		heap_del(s, i);
		to_dead(s, n, a);
		return;
	}
	s->heap[i].key = key_of(s, n, a); /* the next use only moves later */
	sift_up(s, i);
}

static uint32_t bel_victim(void *state)
{
	struct belady *s = state;

	if (s->dead.len)
		return s->dead.head;
	return s->n ? s->heap[0].node : KV_NO_NODE;
}

static void bel_remove(void *state, uint32_t n)
{
	struct belady *s = state;

	if (s->b[n].flags & BEL_DEAD) {
		evict_list_del(&s->dead, s->b, n, 0);
		s->b[n].flags = 0;
		return;
	}
	heap_del(s, s->b[n].pol.u32[0]);
}

/* Removes heap entry i. O(log resident). */
static void heap_del(struct belady *s, size_t i)
{
	if (i == --s->n)
		return;
	place(s, i, s->heap[s->n]);
	if (i > 0 && ent_more(&s->heap[i], &s->heap[(i - 1) / 2]))
		sift_up(s, i);
	else
		sift_down(s, i);
}

const struct evict_ops evict_belady = {
	.name = "belady",
	.doc = "Belady's MIN (offline optimum): evict the block used farthest in the future",
	.defaults = "",
	.reads = EVICT_READS_FUTURE,
	.create = bel_create,
	.destroy = bel_destroy,
	.on_insert = bel_insert,
	.on_hit = bel_hit,
	.victim = bel_victim,
	.on_remove = bel_remove,
};
