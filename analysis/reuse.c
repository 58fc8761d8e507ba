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
 * An LRU stack of C blocks holds exactly the accesses at distance < C; the cache core's LRU
 * differs from it where prefix closure evicts blocks just touched (mrc.h).
 *
 * Stack distances come from mrc_run_observed() (mrc.c: under the prefix hit rule it numbers
 * the same accesses in the same order and reports the same distance before each lookup),
 * which computes, in the same pass, the cache core's LRU hits at capacity hi + 1 of every
 * distance bucket: capacities are fixed before the pass, so it is given every bucket that
 * a distance could fall in (lo < distinct nodes) and asked to follow prefix closure only at
 * the capacities whose bucket holds a reuse so far (following costs replay work at each);
 * the few capacities whose bucket filled after such an event are run again with mrc_run().
 * O(blocks log blocks) time, 8 bytes per node plus mrc's (4 per node, 1/4 per access).
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "analyze.h"

static void ceil_add(struct an_ceiling *c, const struct kv_trace *t, const struct kv_request *q,
		     uint32_t hits)
{
	c->requests++;
	c->blocks += q->nblocks;
	c->hit_blocks += hits;
	c->tokens += q->input_tokens;
	c->hit_tokens += trace_hit_tokens(t, q, hits);
}

/* The pass's state while mrc_run_observed() runs. */
struct reuse_pass {
	struct analysis *a;
	uint32_t *last_row; /* node -> the last request that touched it */
};

/* Request r: its reuses (the `seen` leading blocks, at distances dist[]) against the state
 * before it, then its touches. */
static void reuse_request(void *ctx, size_t r, const uint64_t *dist, uint32_t seen)
{
	struct reuse_pass *rp = ctx;
	struct analysis *a = rp->a;
	const struct kv_trace *t = a->t;
	struct an_reuse *ru = &a->ru;
	const struct an_sessions *ss = &a->ss;
	const struct kv_request *q = &t->req[r];
	const uint32_t *nodes = trace_req_nodes(t, r);
	struct loghist *tm = &ru->time_ms[q->type], *sd = &ru->dist[q->type];
	int all = a->ntypes;

	for (uint32_t i = 0; i < seen; i++) {
		uint32_t prev = rp->last_row[nodes[i]];
		double gap_ms = (q->ts_s - t->req[prev].ts_s) * 1000.0;
		uint64_t rt_ms = gap_ms > 0 ? (uint64_t)llround(gap_ms) : 0;

		loghist_add(tm, rt_ms, 1);
		loghist_add(&ru->time_ms[all], rt_ms, 1);
		loghist_add(sd, dist[i], 1);
		loghist_add(&ru->dist[all], dist[i], 1);
		if (ss->available) {
			if (ss->root[prev] != ss->root[r])
				ru->cross_session++;
			else {
				ru->same_session++;
				ru->from_parent += (int32_t)prev == q->parent_row;
			}
		}
	}
	ru->accesses += q->nblocks;
	ru->reuses += seen;
	ceil_add(&ru->all, t, q, seen);
	ceil_add(&ru->type[q->type], t, q, seen);
	if (ss->available)
		ceil_add(&ru->turn[ss->turn[r]], t, q, seen);
	for (uint32_t i = 0; i < q->nblocks; i++) {
		rp->last_row[nodes[i]] = (uint32_t)r;
		ru->accesses_per_node[nodes[i]]++;
	}
}

/* Follow prefix closure at capacity c = hi + 1 of a bucket only once it holds a reuse. */
static int reuse_follow(void *ctx, uint64_t c)
{
	const struct analysis *a = ((const struct reuse_pass *)ctx)->a;

	return a->ru.dist[a->ntypes].n[loghist_bucket(c - 1)] != 0;
}

/* Keeps the points of the buckets that hold a reuse (in bucket order) in ru->lru, and runs
 * again those whose hits are not the core's (a skipped closure event). */
static int keep_lru_rows(struct analysis *a, struct mrc_point *pts, size_t npts,
			 struct kv_err *err)
{
	struct an_reuse *ru = &a->ru;
	const struct loghist *h = &ru->dist[a->ntypes];
	struct mrc_point *redo;
	size_t nredo = 0, k = 0;
	int rc;

	for (size_t b = 0; b < npts; b++)
		if (h->n[b]) {
			pts[ru->nlru++] = pts[b];
			nredo += pts[b].skipped != 0;
		}
	if (!nredo)
		return KV_OK;
	if (!(redo = calloc(nredo, sizeof(*redo))))
		return kv_fail(err, KV_ERUNTIME, "out of memory");
	for (size_t i = 0; i < ru->nlru; i++)
		if (pts[i].skipped)
			redo[k++].capacity_blocks = pts[i].capacity_blocks;
	rc = mrc_run(a->t, KV_HIT_PREFIX, redo, nredo, NULL, err);
	for (size_t i = 0, j = 0; !rc && i < ru->nlru; i++)
		if (pts[i].skipped)
			pts[i] = redo[j++];
	free(redo);
	return rc;
}

int an_reuse_run(struct analysis *a, struct kv_err *err)
{
	const struct kv_trace *t = a->t;
	struct an_reuse *ru = &a->ru;
	const struct an_sessions *ss = &a->ss;
	struct reuse_pass rp = {a, NULL};
	const struct mrc_observer obs = {reuse_request, reuse_follow, &rp};
	size_t npts = 0;
	int rc;

	if (t->nblk >= UINT32_MAX)
		return kv_fail(err, KV_EINPUT, "%s: %llu block accesses; analyze handles at most %u",
			       t->path, (unsigned long long)t->nblk, UINT32_MAX - 1);
	ru->time_ms = calloc((size_t)a->ntypes + 1, sizeof(struct loghist));
	ru->dist = calloc((size_t)a->ntypes + 1, sizeof(struct loghist));
	ru->accesses_per_node = calloc((size_t)t->nnodes + 1, sizeof(uint32_t));
	ru->lru = calloc(LOGHIST_BUCKETS, sizeof(*ru->lru));
	rp.last_row = malloc(((size_t)t->nnodes + 1) * sizeof(uint32_t));
	if (!ru->time_ms || !ru->dist || !ru->accesses_per_node || !ru->lru || !rp.last_row) {
		free(rp.last_row);
		return kv_fail(err, KV_ERUNTIME, "out of memory");
	}
	/* every bucket a distance (< distinct nodes) can fall in */
	while (npts < LOGHIST_BUCKETS && loghist_lo((unsigned)npts) < t->nnodes) {
		ru->lru[npts].capacity_blocks = loghist_hi((unsigned)npts) + 1;
		npts++;
	}
	rc = mrc_run_observed(t, KV_HIT_PREFIX, ru->lru, npts, &obs, NULL, err);
	free(rp.last_row);
	if (rc || (rc = keep_lru_rows(a, ru->lru, npts, err)))
		return rc;
	ru->cold = ru->accesses - ru->reuses;
	ru->tokens = ru->all.tokens;
	ru->nturns = ss->available ? ss->nturns : 0;
	return KV_OK;
}
