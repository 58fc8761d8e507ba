/*
 * reuse.c - the block-access pass of `kvsim analyze`: reuse time, stack distance, the
 * infinite-cache ceilings (overall, per type, per turn), and which session a hit comes from.
 *
 * Accesses are taken in cache-mode order (DESIGN.md section 3): requests in arrival order;
 * all blocks of a request are looked up at its arrival, before any of them is touched; then
 * they are touched from last to first. For a block access whose node was touched before:
 *   reuse time     = arrival of this request - arrival of the last request that touched it;
 *   stack distance = distinct nodes touched after its last touch and before this request,
 *                    i.e. its 0-based depth in an LRU stack at this request's lookup.
 * Under tail-first touch a parent node is always more recent than its children, so an LRU
 * cache of C blocks never needs a closure eviction and holds exactly the top C of that stack:
 * the access hits in LRU at capacity C iff its stack distance < C.
 *
 * Stack distances use a Fenwick tree over touch times holding a 1 at the latest touch of
 * every node: distance = (distinct nodes so far) - (ones at times <= its last touch).
 * O(blocks log blocks) time, 4 bytes per block access plus 12 bytes per node.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "analyze.h"

#define NEVER UINT32_MAX

/* Fenwick tree over 1-based positions 1..n. */
struct fenwick {
	int32_t *v;
	uint32_t n;
};

static inline void fw_add(struct fenwick *f, uint32_t i, int32_t d)
{
	for (; i <= f->n; i += i & -i)
		f->v[i] += d;
}

/* Sum of positions 1..i. O(log n). */
static inline uint32_t fw_prefix(const struct fenwick *f, uint32_t i)
{
	int64_t s = 0;

	for (; i; i -= i & -i)
		s += f->v[i];
	return (uint32_t)s;
}

static void ceil_add(struct an_ceiling *c, const struct kv_trace *t, const struct kv_request *q,
		     uint32_t hits)
{
	c->requests++;
	c->blocks += q->nblocks;
	c->hit_blocks += hits;
	c->tokens += q->input_tokens;
	c->hit_tokens += trace_hit_tokens(t, q, hits);
}

int an_reuse_run(struct analysis *a, struct kv_err *err)
{
	const struct kv_trace *t = a->t;
	struct an_reuse *ru = &a->ru;
	const struct an_sessions *ss = &a->ss;
	uint32_t *last_t = NULL, *last_row = NULL;
	struct fenwick fw = {0};
	uint32_t now = 0, distinct = 0;
	int all = a->ntypes;

	if (t->nblk >= UINT32_MAX)
		return kv_fail(err, KV_EINPUT, "%s: %llu block accesses; analyze handles at most %u",
			       t->path, (unsigned long long)t->nblk, UINT32_MAX - 1);
	ru->time_ms = calloc((size_t)a->ntypes + 1, sizeof(struct loghist));
	ru->dist = calloc((size_t)a->ntypes + 1, sizeof(struct loghist));
	ru->accesses_per_node = calloc((size_t)t->nnodes + 1, sizeof(uint32_t));
	last_t = malloc(((size_t)t->nnodes + 1) * sizeof(uint32_t));
	last_row = malloc(((size_t)t->nnodes + 1) * sizeof(uint32_t));
	fw.n = (uint32_t)t->nblk;
	fw.v = calloc((size_t)fw.n + 1, sizeof(int32_t));
	if (!ru->time_ms || !ru->dist || !ru->accesses_per_node || !last_t || !last_row || !fw.v) {
		free(last_t);
		free(last_row);
		free(fw.v);
		return kv_fail(err, KV_ERUNTIME, "out of memory");
	}
	memset(last_t, 0xff, ((size_t)t->nnodes + 1) * sizeof(uint32_t));

	for (size_t r = 0; r < t->nreq; r++) {
		const struct kv_request *q = &t->req[r];
		const uint32_t *nodes = trace_req_nodes(t, r);
		struct loghist *tm = &ru->time_ms[q->type], *sd = &ru->dist[q->type];
		uint32_t hits = 0;

		/* Lookup: every block against the state before this request. The set of
		 * touched nodes is prefix-closed, so the seen blocks are the leading ones. */
		for (uint32_t i = 0; i < q->nblocks; i++) {
			uint32_t x = nodes[i], d, prev;
			double gap_ms;
			uint64_t rt_ms;

			if (last_t[x] == NEVER)
				break;
			prev = last_row[x];
			d = distinct - fw_prefix(&fw, last_t[x] + 1);
			gap_ms = (q->ts_s - t->req[prev].ts_s) * 1000.0;
			rt_ms = gap_ms > 0 ? (uint64_t)llround(gap_ms) : 0;
			loghist_add(tm, rt_ms, 1);
			loghist_add(&ru->time_ms[all], rt_ms, 1);
			loghist_add(sd, d, 1);
			loghist_add(&ru->dist[all], d, 1);
			if (ss->available) {
				if (ss->root[prev] != ss->root[r])
					ru->cross_session++;
				else {
					ru->same_session++;
					ru->from_parent += (int32_t)prev == q->parent_row;
				}
			}
			hits++;
		}
		ru->accesses += q->nblocks;
		ru->reuses += hits;
		ceil_add(&ru->all, t, q, hits);
		ceil_add(&ru->type[q->type], t, q, hits);
		if (ss->available)
			ceil_add(&ru->turn[ss->turn[r]], t, q, hits);

		/* Touch: last block first. */
		for (uint32_t i = q->nblocks; i-- > 0;) {
			uint32_t x = nodes[i];

			if (last_t[x] == NEVER)
				distinct++;
			else
				fw_add(&fw, last_t[x] + 1, -1);
			last_t[x] = now++;
			fw_add(&fw, last_t[x] + 1, 1);
			last_row[x] = (uint32_t)r;
			ru->accesses_per_node[x]++;
		}
	}
	ru->cold = ru->accesses - ru->reuses;
	ru->tokens = ru->all.tokens;
	ru->nturns = ss->available ? ss->nturns : 0;
	free(last_t);
	free(last_row);
	free(fw.v);
	return KV_OK;
}
