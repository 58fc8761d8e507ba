/*
 * arc.c - ARC, the adaptive replacement cache (Megiddo and Modha, FAST'03).
 *
 * Resident blocks are in T1 (seen once recently) or T2 (seen at least twice); evicted nodes
 * are remembered in the ghost lists B1 (evicted from T1) and B2 (evicted from T2). The
 * target size p of T1 adapts: a miss on a node in B1 grows p by max(1, |B2|/|B1|), a miss
 * on a node in B2 shrinks it by max(1, |B1|/|B2|); such a node enters T2, any other missing
 * node enters T1. A hit moves a block to the most recent end of T2. The victim follows
 * ARC's REPLACE: the oldest block of T1 if |T1| > p (or |T1| = p and the miss came from B2),
 * else the oldest of T2, where |T1| does not count the block being inserted (ARC replaces
 * before it inserts). The ghost lists keep |T1| + |B1| <= c and the four lists <= 2c by
 * forgetting their oldest entries as the paper's case IV does: when |T1| + |B1| = c only B1
 * loses one (or, B1 being empty, T1's victim is not remembered), else B2 when the
 * directory is full. Blocks evicted by prefix closure become ghosts like the victim.
 *
 * Per block: pol.u32[0..1] links of the one list the node is on (ghost nodes are not
 * resident and use their own block records), flags = the list (1 T1, 2 T2, 3 B1, 4 B2).
 * Timed mode: a block pinned by a running request (on_remove with refcnt > 0) leaves
 * without becoming a ghost (flags 5) and comes back at unpin as a hit, into T2.
 * Every operation is O(1). No parameters.
 */
#include <stdlib.h>

#include "capacity.h"
#include "evict_list.h"
#include "evict_ops.h"

enum { L_NONE = 0, L_T1 = 1, L_T2 = 2, L_B1 = 3, L_B2 = 4, L_PINNED = 5 };

struct arc {
	struct kv_block *b;
	struct evict_list l[5]; /* indexed by L_* (l[0] unused) */
	uint64_t c;
	double p;               /* target size of T1, real as in the paper (0..c) */
	uint32_t incoming;      /* the block inserted last, until the next insert */
	int from_b2;            /* it was a ghost in B2 */
};

static int arc_create(void **state, const struct evict_env *env, const struct kv_params *prm,
		      struct kv_err *err)
{
	struct arc *a = calloc(1, sizeof(*a));

	(void)prm;
	if (!a)
		return kv_fail(err, KV_ERUNTIME, "out of memory");
	a->b = env->blocks;
	for (int i = 0; i < 5; i++)
		evict_list_init(&a->l[i]);
	a->c = env->capacity_blocks == KV_CAPACITY_INF ? (uint64_t)env->trace->nnodes + 1
						       : env->capacity_blocks;
	if (!a->c)
		a->c = 1;
	a->incoming = KV_NO_NODE;
	*state = a;
	return KV_OK;
}

static void arc_destroy(void *state)
{
	free(state);
}

static void move_to(struct arc *a, uint32_t n, int to)
{
	int from = a->b[n].flags;

	if (from != L_NONE)
		evict_list_del(&a->l[from], a->b, n, 0);
	a->b[n].flags = (uint8_t)to;
	if (to != L_NONE)
		evict_list_push_tail(&a->l[to], a->b, n, 0);
}

static void forget_oldest(struct arc *a, int ghost)
{
	if (a->l[ghost].len)
		move_to(a, a->l[ghost].head, L_NONE);
}

/* Trims the ghost lists to ARC's directory bounds. O(1) amortised. */
static void trim_ghosts(struct arc *a)
{
	while (a->l[L_T1].len + a->l[L_B1].len > a->c && a->l[L_B1].len)
		forget_oldest(a, L_B1);
	while (a->l[L_T1].len + a->l[L_T2].len + a->l[L_B1].len + a->l[L_B2].len > 2 * a->c) {
		if (a->l[L_B2].len)
			forget_oldest(a, L_B2);
		else if (a->l[L_B1].len)
			forget_oldest(a, L_B1);
		else
			break;
	}
}

static void arc_insert(void *state, uint32_t n, const struct kv_access *acc)
{
	struct arc *a = state;
	int from = a->b[n].flags;
	uint64_t b1 = a->l[L_B1].len, b2 = a->l[L_B2].len;

	(void)acc;
	a->from_b2 = 0;
	if (from == L_PINNED) { /* unpinned: the running request used it, a hit */
		a->b[n].flags = L_NONE;
		move_to(a, n, L_T2);
		a->incoming = KV_NO_NODE;
		return;
	}
	if (from == L_B1) {
		double d = b1 >= b2 ? 1 : (double)b2 / (double)b1;
		a->p = a->p + d > (double)a->c ? (double)a->c : a->p + d;
		move_to(a, n, L_T2);
	} else if (from == L_B2) {
		double d = b2 >= b1 ? 1 : (double)b1 / (double)b2;
		a->p = a->p > d ? a->p - d : 0;
		a->from_b2 = 1;
		move_to(a, n, L_T2);
	} else {
		/* ARC case IV, n already counted in T1: if |T1| + |B1| was c, forget B1's oldest
		 * (when B1 is empty, |T1| was c and REPLACE's T1 victim is forgotten at removal);
		 * otherwise, if the directory held 2c, forget B2's oldest. */
		move_to(a, n, L_T1);
		if (a->l[L_T1].len + a->l[L_B1].len > a->c)
			forget_oldest(a, L_B1);
		else
			trim_ghosts(a);
	}
	a->incoming = n;
}

static void arc_hit(void *state, uint32_t n, const struct kv_access *acc)
{
	struct arc *a = state;

	(void)acc;
	move_to(a, n, L_T2);
	a->incoming = KV_NO_NODE; /* the next victim() is not for a miss */
}

static uint32_t arc_victim(void *state)
{
	struct arc *a = state;
	uint64_t t1 = a->l[L_T1].len;
	int take_t1;

	if (a->incoming != KV_NO_NODE && a->b[a->incoming].flags == L_T1)
		t1--; /* REPLACE runs before the missing block enters T1 */
	take_t1 = t1 >= 1 && ((double)t1 > a->p || (a->from_b2 && (double)t1 == a->p));
	if (!take_t1 && !a->l[L_T2].len)
		take_t1 = 1;
	if (take_t1 && !a->l[L_T1].len)
		take_t1 = 0;
	return take_t1 ? a->l[L_T1].head : a->l[L_T2].head;
}

static void arc_remove(void *state, uint32_t n)
{
	struct arc *a = state;
	int from = a->b[n].flags;

	if (n == a->incoming)
		a->incoming = KV_NO_NODE;
	if (a->b[n].refcnt) { /* pinned (timed mode): not an eviction, no ghost */
		move_to(a, n, L_NONE);
		a->b[n].flags = L_PINNED;
		return;
	}
	move_to(a, n, from == L_T1 ? L_B1 : from == L_T2 ? L_B2 : L_NONE);
	trim_ghosts(a);
}

const struct evict_ops evict_arc = {
	.name = "arc",
	.doc = "ARC: adaptive recency/frequency lists with ghosts (FAST'03)",
	.defaults = "",
	.create = arc_create,
	.destroy = arc_destroy,
	.on_insert = arc_insert,
	.on_hit = arc_hit,
	.victim = arc_victim,
	.on_remove = arc_remove,
};
