/*
 * s3fifo.c - S3-FIFO (Yang et al., SOSP'23): a small FIFO, a main FIFO and a ghost FIFO.
 *
 * New blocks enter the small queue S, or the main queue M when their node is still in the
 * ghost queue G (it was evicted from S recently). A hit increments a 2-bit use count (at
 * most 3). To choose a victim:
 *   - if S holds at least `small` x capacity blocks (or M is empty): look at the oldest
 *     block of S; if it was hit at least `move` times since insertion it moves to M (count
 *     cleared) and the next oldest is looked at, otherwise it is the victim (it goes to G
 *     when the core removes it). If S runs out, M chooses;
 *   - otherwise look at the oldest block of M; if its count is non-zero it is reinserted at
 *     the newest end with count - 1, otherwise it is the victim.
 * The paper evicts BEFORE it inserts; the core inserts first, so the block being inserted
 * (kept in `incoming` until the next insert or hit) is not counted in |S|: otherwise S
 * would hold one block less than `small` x capacity, and with a one-block S (capacities
 * below 10 at the default share) every new block would be evicted at once.
 * G remembers at most `ghost` x capacity evicted nodes (oldest forgotten first); ghost nodes
 * are not resident and are threaded through their own (otherwise unused) block records.
 * Blocks evicted by prefix closure leave like the victim: to G if they were in S.
 *
 * Per block: pol.u32[0..1] list links (a node is on one of S, M, G at a time), flags bits
 * 0-1 the queue (1 S, 2 M, 3 G), bits 2-3 the use count, bit 4 pinned. Timed mode: a block
 * pinned by a running request (on_remove with refcnt > 0) leaves its queue without a ghost
 * and comes back at unpin to the newest end of the same queue, its count + 1.
 * Amortised O(1) per access.
 *
 * Parameters: small (0..1, default 0.1): share of the capacity for S;
 *             ghost (0..4, default 0.9): entries of G as a share of the capacity (0: none);
 *             move (1..3, default 1): hits in S that move a block to M. The paper's prose
 *             says "accessed more than once" (the insertion plus a hit); its Algorithm 1
 *             (freq > 1 with freq 0 at insertion) and libCacheSim's default
 *             (move-to-main-threshold=2) need two hits: move=2.
 */
#include <math.h>
#include <stdlib.h>

#include "capacity.h"
#include "evict_list.h"
#include "evict_ops.h"

enum { Q_NONE = 0, Q_SMALL = 1, Q_MAIN = 2, Q_GHOST = 3 };
#define S3_PINNED 16u /* flags: taken out by a pin (timed mode), queue and count kept */

struct s3fifo {
	struct kv_block *b;
	struct evict_list q[4]; /* indexed by Q_* (q[0] unused) */
	uint64_t small_blocks, ghost_blocks;
	unsigned move;     /* hits in S that move a block to M */
	uint32_t incoming; /* the block inserted last, until the next insert or hit */
};

static inline int queue_of(const struct kv_block *b)
{
	return b->flags & 3;
}

static inline unsigned count_of(const struct kv_block *b)
{
	return (b->flags >> 2) & 3;
}

static inline void set_state(struct kv_block *b, int q, unsigned count)
{
	b->flags = (uint8_t)((b->flags & ~15u) | (unsigned)q | (count << 2));
}

static int s3_create(void **state, const struct evict_env *env, const struct kv_params *p,
		     struct kv_err *err)
{
	struct s3fifo *s = calloc(1, sizeof(*s));
	double small, ghost, cap;
	long move;
	int rc;

	if (!s)
		return kv_fail(err, KV_ERUNTIME, "out of memory");
	if ((rc = kv_param_double(p, "small", 0, 1, &small, err)) ||
	    (rc = kv_param_double(p, "ghost", 0, 4, &ghost, err)) ||
	    (rc = kv_param_long(p, "move", 1, 3, &move, err))) {
		free(s);
		return rc;
	}
	s->b = env->blocks;
	for (int i = 0; i < 4; i++)
		evict_list_init(&s->q[i]);
	cap = env->capacity_blocks == KV_CAPACITY_INF ? (double)env->trace->nnodes
						      : (double)env->capacity_blocks;
	s->small_blocks = (uint64_t)ceil(small * cap);
	s->ghost_blocks = (uint64_t)ceil(ghost * cap);
	s->move = (unsigned)move;
	s->incoming = KV_NO_NODE;
	*state = s;
	return KV_OK;
}

static void s3_destroy(void *state)
{
	free(state);
}

static void s3_insert(void *state, uint32_t n, const struct kv_access *a)
{
	struct s3fifo *s = state;
	struct kv_block *b = &s->b[n];
	int q = Q_SMALL;

	(void)a;
	s->incoming = KV_NO_NODE;
	if (b->flags & S3_PINNED) { /* unpinned: back to its queue, used once more */
		unsigned c = count_of(b);

		b->flags &= (uint8_t)~S3_PINNED;
		q = queue_of(b);
		set_state(b, q, c < 3 ? c + 1 : 3);
		evict_list_push_tail(&s->q[q], s->b, n, 0);
		return;
	}
	if (queue_of(b) == Q_GHOST) {
		evict_list_del(&s->q[Q_GHOST], s->b, n, 0);
		q = Q_MAIN;
	}
	set_state(b, q, 0);
	evict_list_push_tail(&s->q[q], s->b, n, 0);
	s->incoming = n;
}

static void s3_hit(void *state, uint32_t n, const struct kv_access *a)
{
	struct s3fifo *s = state;
	struct kv_block *b = &s->b[n];
	unsigned c = count_of(b);

	(void)a;
	s->incoming = KV_NO_NODE; /* the next victim() is not for an insert */
	if (c < 3)
		set_state(b, queue_of(b), c + 1);
}

/* The victim by the paper's rules, the block being inserted (`in`) already out of M. */
static uint32_t choose(struct s3fifo *s, uint32_t in, int in_q)
{
	struct kv_block *b = s->b;
	uint64_t s_len = s->q[Q_SMALL].len - (in_q == Q_SMALL);
	uint32_t h;

	if (s_len && (s_len >= s->small_blocks || !s->q[Q_MAIN].len)) {
		while (s->q[Q_SMALL].len && (h = s->q[Q_SMALL].head) != in) {
			if (count_of(&b[h]) < s->move)
				return h;
			evict_list_del(&s->q[Q_SMALL], b, h, 0);
			set_state(&b[h], Q_MAIN, 0);
			evict_list_push_tail(&s->q[Q_MAIN], b, h, 0);
		}
	}
	if (!s->q[Q_MAIN].len) /* nothing but the incoming block (or nothing at all) */
		return in;
	for (;;) {
		h = s->q[Q_MAIN].head;
		if (!count_of(&b[h]))
			return h;
		set_state(&b[h], Q_MAIN, count_of(&b[h]) - 1);
		evict_list_move_tail(&s->q[Q_MAIN], b, h, 0);
	}
}

/* Chooses the queue as the paper does (S when |S| >= small x capacity, or M is empty), then
 * stays with it: in S, hit blocks move to M until an unhit one is found (the victim), as in
 * the paper's evictS and libCacheSim; if S runs out, M's clock chooses. The paper evicts
 * before it inserts: the block being inserted counts in neither |S| nor |M|, is never the
 * victim unless it is the only block, and, when it entered M (from G), it is taken out of
 * M while the clock runs and put back as M's newest. Amortised O(1) (each move consumes a
 * hit or empties S by one). */
static uint32_t s3_victim(void *state)
{
	struct s3fifo *s = state;
	uint32_t in = s->incoming, v;
	int in_q = in != KV_NO_NODE ? queue_of(&s->b[in]) : Q_NONE;

	if (in_q == Q_MAIN)
		evict_list_del(&s->q[Q_MAIN], s->b, in, 0);
	v = choose(s, in, in_q);
	if (in_q == Q_MAIN)
		evict_list_push_tail(&s->q[Q_MAIN], s->b, in, 0);
	return v;
}

static void s3_remove(void *state, uint32_t n)
{
	struct s3fifo *s = state;
	struct kv_block *b = &s->b[n];
	int q = queue_of(b);

	if (n == s->incoming)
		s->incoming = KV_NO_NODE;
	evict_list_del(&s->q[q], s->b, n, 0);
	if (b->refcnt) { /* pinned (timed mode): not an eviction */
		b->flags |= S3_PINNED;
		return;
	}
	if (q == Q_SMALL && s->ghost_blocks) {
		set_state(b, Q_GHOST, 0);
		evict_list_push_tail(&s->q[Q_GHOST], s->b, n, 0);
		if (s->q[Q_GHOST].len > s->ghost_blocks) {
			uint32_t old = s->q[Q_GHOST].head;

			evict_list_del(&s->q[Q_GHOST], s->b, old, 0);
			set_state(&s->b[old], Q_NONE, 0);
		}
	} else {
		set_state(b, Q_NONE, 0);
	}
}

const struct evict_ops evict_s3fifo = {
	.name = "s3fifo",
	.doc = "S3-FIFO: small + main FIFO with a ghost queue (SOSP'23)",
	.defaults = "small=0.1,ghost=0.9,move=1",
	.create = s3_create,
	.destroy = s3_destroy,
	.on_insert = s3_insert,
	.on_hit = s3_hit,
	.victim = s3_victim,
	.on_remove = s3_remove,
};
