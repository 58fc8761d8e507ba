/*
 * lfu.c - least frequently used, with optional dynamic aging (LFU-DA).
 *
 * Each resident block has a use count (1 at insertion, +1 per hit, pol.u32[3]) and a
 * priority  K = count + aging * L,  where L is the priority of the last block evicted as a
 * victim (LFU-DA, Arlitt et al. 2000). aging=0 (the default) is plain LFU; aging=1 is
 * LFU-DA, which lets once-popular blocks age out. The victim is the block with the lowest
 * K, ties to the least recently touched (so a request's tail, touched first, goes before its
 * head, and a child, never used more often than its parent while both are resident, goes
 * before the parent). LFU evicts before it inserts, the core after: the block being
 * inserted is not a candidate (unless it is the only block).
 *
 * Structure (the O(1) LFU of Shah, Mitra and Matani, 2010): a list of priority buckets in
 * increasing K, each with the blocks of that K in touch order (pol.u32[0..1] links,
 * pol.u32[2] = the bucket). A touch moves a block to the bucket of its new K, found by
 * walking forward from its old bucket (one step for aging=0; L never decreases, so the walk
 * stays short for aging=1). Buckets come from a pool of capacity + 2. Victim O(1), insert and
 * hit O(1) amortised (O(distinct K passed)).
 *
 * LFU-DA sets a new block's K from the L of the eviction made for it: the core inserts
 * first, so the block is re-keyed to 1 + L when its victim is removed.
 * Timed mode: a block pinned by a running request (on_remove with refcnt > 0) keeps its
 * count and comes back at unpin (on_insert) with it, unchanged.
 *
 * Parameters: aging (0 or 1, default 0): weight of L in K.
 */
#include <stdlib.h>

#include "evict_list.h"
#include "evict_ops.h"

struct lfu_bucket {
	uint64_t k;
	struct evict_list blocks;
	uint32_t prev, next; /* neighbouring buckets, lower and higher K */
};

struct lfu {
	struct kv_block *b;
	struct lfu_bucket *bk;
	uint32_t nbk, free_bk;  /* pool size; head of the free list (through next) */
	uint32_t first;         /* lowest-K bucket */
	uint64_t aging, last_k; /* last_k = L */
	uint32_t incoming;      /* the block inserted last, until the next insert or hit */
	uint32_t victim;        /* the last block victim() chose, until it is removed */
	uint32_t victim_done;   /* inside on_remove: the victim being removed */
};

#define NO_BK UINT32_MAX
#define LFU_PINNED 1u /* flags: taken out by a pin (timed mode), not evicted */

static int lfu_create(void **state, const struct evict_env *env, const struct kv_params *p,
		      struct kv_err *err)
{
	struct lfu *l = calloc(1, sizeof(*l));
	long aging;
	int rc;

	if (!l)
		return kv_fail(err, KV_ERUNTIME, "out of memory");
	if ((rc = kv_param_long(p, "aging", 0, 1, &aging, err))) {
		free(l);
		return rc;
	}
	l->aging = (uint64_t)aging;
	l->b = env->blocks;
	l->nbk = env->capacity_blocks < env->trace->nnodes ? (uint32_t)env->capacity_blocks + 2
							   : env->trace->nnodes + 2;
	l->bk = malloc((size_t)l->nbk * sizeof(*l->bk));
	if (!l->bk) {
		free(l);
		return kv_fail(err, KV_ERUNTIME, "out of memory");
	}
	for (uint32_t i = 0; i < l->nbk; i++)
		l->bk[i].next = i + 1 < l->nbk ? i + 1 : NO_BK;
	l->free_bk = 0;
	l->first = NO_BK;
	l->incoming = l->victim = l->victim_done = KV_NO_NODE;
	*state = l;
	return KV_OK;
}

static void lfu_destroy(void *state)
{
	struct lfu *l = state;

	free(l->bk);
	free(l);
}

/* A new bucket for key k after bucket `after` (NO_BK: at the front). O(1). */
static uint32_t bucket_new(struct lfu *l, uint64_t k, uint32_t after)
{
	uint32_t i = l->free_bk;
	struct lfu_bucket *x = &l->bk[i];

	l->free_bk = x->next;
	x->k = k;
	evict_list_init(&x->blocks);
	x->prev = after;
	x->next = after == NO_BK ? l->first : l->bk[after].next;
	if (x->next != NO_BK)
		l->bk[x->next].prev = i;
	if (after == NO_BK)
		l->first = i;
	else
		l->bk[after].next = i;
	return i;
}

static void bucket_free_if_empty(struct lfu *l, uint32_t i)
{
	struct lfu_bucket *x = &l->bk[i];

	if (x->blocks.len)
		return;
	if (x->prev != NO_BK)
		l->bk[x->prev].next = x->next;
	else
		l->first = x->next;
	if (x->next != NO_BK)
		l->bk[x->next].prev = x->prev;
	x->next = l->free_bk;
	l->free_bk = i;
}

/* Puts n at the most recent end of the bucket for key k, searching forward from bucket
 * `from` (NO_BK: from the lowest). O(buckets passed). */
static void place(struct lfu *l, uint32_t n, uint64_t k, uint32_t from)
{
	uint32_t prev = from == NO_BK ? NO_BK : l->bk[from].prev;
	uint32_t i = from == NO_BK ? l->first : from;

	while (i != NO_BK && l->bk[i].k < k) {
		prev = i;
		i = l->bk[i].next;
	}
	if (i == NO_BK || l->bk[i].k != k)
		i = bucket_new(l, k, prev);
	evict_list_push_tail(&l->bk[i].blocks, l->b, n, 0);
	l->b[n].pol.u32[2] = i;
}

static void lfu_insert(void *state, uint32_t n, const struct kv_access *a)
{
	struct lfu *l = state;

	(void)a;
	l->incoming = KV_NO_NODE;
	if (l->b[n].flags & LFU_PINNED) {
		/* unpinned: back with its count; the running request's use was already counted
		 * when it was admitted (touched), so counting it again here would make timed
		 * mode differ from cache mode */
		uint32_t count = l->b[n].pol.u32[3];

		l->b[n].flags &= (uint8_t)~LFU_PINNED;
		place(l, n, count + l->aging * l->last_k, NO_BK);
		return;
	}
	l->b[n].pol.u32[3] = 1;
	place(l, n, 1 + l->aging * l->last_k, NO_BK);
	l->incoming = n;
}

static void lfu_hit(void *state, uint32_t n, const struct kv_access *a)
{
	struct lfu *l = state;
	uint32_t i = l->b[n].pol.u32[2];
	uint32_t count = ++l->b[n].pol.u32[3];

	(void)a;
	l->incoming = KV_NO_NODE;
	evict_list_del(&l->bk[i].blocks, l->b, n, 0);
	place(l, n, count + l->aging * l->last_k, i); /* K only grows */
	bucket_free_if_empty(l, i);
}

/* The least recent block of the lowest K, the block being inserted excluded (LFU evicts
 * before it inserts; it is the newest of its bucket, so it is the head only when alone
 * there): then the next bucket's head. O(1). */
static uint32_t lfu_victim(void *state)
{
	struct lfu *l = state;
	uint32_t i = l->first, v;

	if (i == NO_BK)
		return KV_NO_NODE;
	v = l->bk[i].blocks.head;
	if (v == l->incoming && l->bk[i].next != NO_BK)
		v = l->bk[l->bk[i].next].blocks.head;
	l->victim = v;
	return v;
}

static void lfu_remove(void *state, uint32_t n)
{
	struct lfu *l = state;
	uint32_t i = l->b[n].pol.u32[2];

	if (n == l->incoming)
		l->incoming = KV_NO_NODE;
	if (l->b[n].refcnt) /* pinned (timed mode): it comes back with its count */
		l->b[n].flags |= LFU_PINNED;
	else if (n == l->victim) { /* the victim (removed after its descendants) */
		l->last_k = l->bk[i].k;
		l->victim = KV_NO_NODE;
		l->victim_done = n;
	}
	evict_list_del(&l->bk[i].blocks, l->b, n, 0);
	bucket_free_if_empty(l, i);
	if (l->aging && n == l->victim_done && l->incoming != KV_NO_NODE &&
	    l->b[l->incoming].pol.u32[3] == 1) {
		/* LFU-DA evicts, then inserts with K = 1 + the new L: re-key the incoming block
		 * (K grows, so L never decreases and hits only move blocks forward) */
		uint32_t in = l->incoming, j = l->b[in].pol.u32[2];

		evict_list_del(&l->bk[j].blocks, l->b, in, 0);
		place(l, in, 1 + l->last_k, j);
		bucket_free_if_empty(l, j);
	}
	l->victim_done = KV_NO_NODE;
}

const struct evict_ops evict_lfu = {
	.name = "lfu",
	.doc = "least frequently used, ties to least recent; aging=1 is LFU-DA",
	.defaults = "aging=0",
	.create = lfu_create,
	.destroy = lfu_destroy,
	.on_insert = lfu_insert,
	.on_hit = lfu_hit,
	.victim = lfu_victim,
	.on_remove = lfu_remove,
};
