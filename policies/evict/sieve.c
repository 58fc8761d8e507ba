/*
 * sieve.c - SIEVE (Zhang et al., NSDI'24).
 *
 * One FIFO list in insertion order (pol.u32[0..1], oldest at the head) with a visited bit
 * per block (flags bit 0) and a hand. A hit only sets the visited bit. To choose a victim
 * the hand walks from where it stopped towards newer blocks (wrapping to the oldest),
 * clearing visited bits, and stops at the first unvisited block. The hand stays on the
 * victim; when the core removes it (on_remove) the hand moves to the next newer block, so
 * the scan resumes there. New blocks go to the newest end, behind the hand. SIEVE evicts
 * before it inserts, the core after: the block being inserted is not a candidate, and the
 * hand wraps (to the oldest) where the paper's list ended, just before it.
 * Timed mode: a block pinned by a running request leaves the list and comes back at unpin
 * at the newest end, visited (flags bit 1 marks it meanwhile).
 * Amortised O(1) per access: each visited bit is set by one hit and cleared once.
 * No parameters.
 */
#include <stdlib.h>

#include "evict_list.h"
#include "evict_ops.h"

#define SIEVE_VISITED 1u
#define SIEVE_PINNED 2u /* taken out by a pin (timed mode) */

struct sieve {
	struct kv_block *b;
	struct evict_list list;
	uint32_t hand;     /* next block to examine, KV_NO_NODE = start at the oldest */
	uint32_t incoming; /* the block inserted last, until the next insert or hit */
};

static int sieve_create(void **state, const struct evict_env *env, const struct kv_params *p,
			struct kv_err *err)
{
	struct sieve *s = calloc(1, sizeof(*s));

	(void)p;
	if (!s)
		return kv_fail(err, KV_ERUNTIME, "out of memory");
	s->b = env->blocks;
	evict_list_init(&s->list);
	s->hand = KV_NO_NODE;
	s->incoming = KV_NO_NODE;
	*state = s;
	return KV_OK;
}

static void sieve_destroy(void *state)
{
	free(state);
}

static void sieve_insert(void *state, uint32_t n, const struct kv_access *a)
{
	struct sieve *s = state;

	(void)a;
	/* unpinned (timed mode): the running request used it, so it comes back visited */
	s->b[n].flags = s->b[n].flags & SIEVE_PINNED ? SIEVE_VISITED : 0;
	s->incoming = s->b[n].flags ? KV_NO_NODE : n;
	evict_list_push_tail(&s->list, s->b, n, 0);
}

static void sieve_hit(void *state, uint32_t n, const struct kv_access *a)
{
	struct sieve *s = state;

	(void)a;
	s->incoming = KV_NO_NODE;
	s->b[n].flags |= SIEVE_VISITED;
}

/* O(visited blocks passed), amortised O(1). The block being inserted is not a candidate
 * (SIEVE evicts before it inserts): the hand wraps at it, unless it is the only block. */
static uint32_t sieve_victim(void *state)
{
	struct sieve *s = state;
	uint32_t h = s->hand;

	if (!s->list.len)
		return KV_NO_NODE;
	if (s->list.len == 1)
		return s->list.head;
	for (;;) {
		if (h == KV_NO_NODE || h == s->incoming)
			h = s->list.head;
		if (!(s->b[h].flags & SIEVE_VISITED))
			break;
		s->b[h].flags &= (uint8_t)~SIEVE_VISITED;
		h = evict_list_next(s->b, h, 0);
	}
	s->hand = h;
	return h;
}

static void sieve_remove(void *state, uint32_t n)
{
	struct sieve *s = state;

	if (s->hand == n) {
		s->hand = evict_list_next(s->b, n, 0);
		if (s->hand == s->incoming) /* the paper's hand would pass the newest end */
			s->hand = KV_NO_NODE;
	}
	if (n == s->incoming)
		s->incoming = KV_NO_NODE;
	evict_list_del(&s->list, s->b, n, 0);
	s->b[n].flags = s->b[n].refcnt ? SIEVE_PINNED : 0;
}

const struct evict_ops evict_sieve = {
	.name = "sieve",
	.doc = "SIEVE: FIFO with a visited bit and a moving hand (NSDI'24)",
	.defaults = "",
	.create = sieve_create,
	.destroy = sieve_destroy,
	.on_insert = sieve_insert,
	.on_hit = sieve_hit,
	.victim = sieve_victim,
	.on_remove = sieve_remove,
};
