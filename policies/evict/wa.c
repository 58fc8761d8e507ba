/*
 * wa.c - the workload-aware policy of "KVCache Cache in the Wild" (Wang et al., USENIX
 * ATC'25).
 *
 * Blocks are grouped into categories by the (type, turn) of the request that touched them
 * last; turns >= `turns` share one category and a request without a turn (turn 0) has its
 * own. Each category has one LRU queue. For each category the policy learns online, over a
 * sliding window of the last `window_s` seconds of trace time (kept in 16 buckets):
 *   - the reuse probability p = reuses / touches: a touch of a block starts a "lifetime"
 *     in the toucher's category; the next touch of the same chain node, resident or not,
 *     is a reuse of that lifetime's category, with reuse time dt;
 *   - the rate lambda of an exponential reuse-time model, 1 / mean(dt) (maximum likelihood).
 * The victim is the head (least recent block) of the queue whose
 *       score = p * exp(-lambda * t) * (1 - exp(-lambda * L))
 * is lowest, t being the head's idle time: the chance that the block is reused within the
 * look-ahead window L. Ties (e.g. categories with no reuse seen yet, score 0) go to the
 * deeper block, then to the lower category. L is `lookahead_s`, or with lookahead_s=auto
 * (the default) an exponential running average (weight 0.01) of the idle time of the blocks
 * evicted so far, i.e. about how long a block kept now can expect to stay.
 * On a trace without type and turn (Mooncake) there is one category and wa is exactly LRU.
 *
 * Per block: pol.u32[0..1] queue links, pol.u32[2] category of the last touch, pol.f64[2]
 * time of the last touch (kept after eviction so that a reuse of an evicted node is still
 * observed); flags bit 0 = seen before. Per access O(1) (plus a window roll every
 * window_s/16 seconds, O(categories)); victim O(categories).
 *
 * Parameters: window_s (default 600), lookahead_s (auto or seconds), turns (default 4).
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "evict_list.h"
#include "evict_ops.h"

#define WA_BUCKETS 16
#define WA_SEEN 1u

struct wa_stat {
	double touches, reuses, dt_sum_s;
};

struct wa_cat {
	struct evict_list lru;
	struct wa_stat bucket[WA_BUCKETS];
	struct wa_stat win; /* sum over the buckets */
};

struct wa {
	struct kv_block *b;
	const uint32_t *depth;
	int turns, ncat;
	int *cat_of;        /* (type, turn bucket) -> dense category, -1 if absent */
	struct wa_cat *cat;
	double window_s, bucket_s, now_s;
	int64_t cur_bucket; /* floor(now / bucket_s) of the newest bucket */
	double lookahead_s; /* current L */
	int auto_l;
	uint64_t nvictims;
	uint32_t victim;    /* the last block victim() chose, until it is removed */
};

static inline int turn_bucket(const struct wa *w, int32_t turn)
{
	return turn <= 0 ? 0 : turn < w->turns ? turn : w->turns;
}

static inline int cat_index(const struct wa *w, const struct kv_request *q)
{
	return w->cat_of[q->type * (w->turns + 1) + turn_bucket(w, q->turn)];
}

static void wa_destroy(void *state)
{
	struct wa *w = state;

	free(w->cat_of);
	free(w->cat);
	free(w);
}

static int wa_create(void **state, const struct evict_env *env, const struct kv_params *p,
		     struct kv_err *err)
{
	const struct kv_trace *t = env->trace;
	struct wa *w = calloc(1, sizeof(*w));
	const char *ls;
	long turns;
	size_t nkeys;
	int rc;

	if (!w)
		return kv_fail(err, KV_ERUNTIME, "out of memory");
	if ((rc = kv_param_double(p, "window_s", 1e-3, 1e12, &w->window_s, err)) ||
	    (rc = kv_param_long(p, "turns", 1, 1000, &turns, err)))
		goto fail;
	w->turns = (int)turns;
	ls = kv_param_str(p, "lookahead_s");
	w->auto_l = ls && !strcmp(ls, "auto");
	if (!w->auto_l && (rc = kv_param_double(p, "lookahead_s", 0, 1e12, &w->lookahead_s, err)))
		goto fail;
	if (w->auto_l)
		w->lookahead_s = w->window_s / WA_BUCKETS;
	w->bucket_s = w->window_s / WA_BUCKETS;
	w->b = env->blocks;
	if (!(w->depth = trace_node_depth(t))) {
		rc = kv_fail(err, KV_ERUNTIME, "out of memory");
		goto fail;
	}
	nkeys = (size_t)(t->ntypes > 0 ? t->ntypes : 1) * (size_t)(w->turns + 1);
	w->cat_of = malloc(nkeys * sizeof(*w->cat_of));
	if (!w->cat_of) {
		rc = kv_fail(err, KV_ERUNTIME, "out of memory");
		goto fail;
	}
	for (size_t i = 0; i < nkeys; i++)
		w->cat_of[i] = -1;
	for (size_t r = 0; r < t->nreq; r++) {
		size_t k = (size_t)t->req[r].type * (size_t)(w->turns + 1) +
			   (size_t)turn_bucket(w, t->req[r].turn);

		if (w->cat_of[k] < 0)
			w->cat_of[k] = w->ncat++;
	}
	w->cat = calloc(w->ncat > 0 ? (size_t)w->ncat : 1, sizeof(*w->cat));
	if (!w->cat) {
		rc = kv_fail(err, KV_ERUNTIME, "out of memory");
		goto fail;
	}
	for (int c = 0; c < w->ncat; c++)
		evict_list_init(&w->cat[c].lru);
	w->cur_bucket = INT64_MIN;
	w->victim = KV_NO_NODE;
	*state = w;
	return KV_OK;
fail:
	wa_destroy(w);
	return rc;
}

/* Advances the window to time now_s, clearing buckets that fell out of it.
 * O(categories x buckets cleared), at most once per bucket_s of trace time. */
static void roll(struct wa *w, double now_s)
{
	int64_t b = (int64_t)floor(now_s / w->bucket_s);

	w->now_s = now_s;
	if (b <= w->cur_bucket)
		return;
	if (w->cur_bucket == INT64_MIN || b - w->cur_bucket >= WA_BUCKETS) {
		for (int c = 0; c < w->ncat; c++) {
			memset(w->cat[c].bucket, 0, sizeof(w->cat[c].bucket));
			memset(&w->cat[c].win, 0, sizeof(w->cat[c].win));
		}
	} else {
		for (int64_t k = w->cur_bucket + 1; k <= b; k++) {
			int slot = (int)(((k % WA_BUCKETS) + WA_BUCKETS) % WA_BUCKETS);

			for (int c = 0; c < w->ncat; c++) {
				struct wa_stat *s = &w->cat[c].bucket[slot], *win = &w->cat[c].win;

				win->touches -= s->touches;
				win->reuses -= s->reuses;
				win->dt_sum_s -= s->dt_sum_s;
				memset(s, 0, sizeof(*s));
			}
		}
	}
	w->cur_bucket = b;
}

/* Records the touch of n by a request of category c: closes the previous lifetime of n as
 * a reuse, starts a new one. O(1). */
static void observe(struct wa *w, uint32_t n, int c, double now_s)
{
	struct kv_block *b = &w->b[n];
	int slot;

	roll(w, now_s);
	slot = (int)(((w->cur_bucket % WA_BUCKETS) + WA_BUCKETS) % WA_BUCKETS);
	if (b->flags & WA_SEEN) {
		struct wa_cat *pc = &w->cat[b->pol.u32[2]];
		double dt = now_s - b->pol.f64[2];

		if (dt < 0)
			dt = 0;
		pc->bucket[slot].reuses += 1;
		pc->bucket[slot].dt_sum_s += dt;
		pc->win.reuses += 1;
		pc->win.dt_sum_s += dt;
	}
	w->cat[c].bucket[slot].touches += 1;
	w->cat[c].win.touches += 1;
	b->flags |= WA_SEEN;
	b->pol.u32[2] = (uint32_t)c;
	b->pol.f64[2] = now_s;
}

static void wa_insert(void *state, uint32_t n, const struct kv_access *a)
{
	struct wa *w = state;
	int c = a->req ? cat_index(w, a->req) : 0;

	observe(w, n, c, a->now_s);
	evict_list_push_tail(&w->cat[c].lru, w->b, n, 0);
}

static void wa_hit(void *state, uint32_t n, const struct kv_access *a)
{
	struct wa *w = state;
	int c = a->req ? cat_index(w, a->req) : 0;

	evict_list_del(&w->cat[w->b[n].pol.u32[2]].lru, w->b, n, 0);
	observe(w, n, c, a->now_s);
	evict_list_push_tail(&w->cat[c].lru, w->b, n, 0);
}

/* The chance that a block of category c idle for t_s seconds is reused within L. */
static double score(const struct wa *w, const struct wa_cat *c, double t_s)
{
	const struct wa_stat *s = &c->win;
	double p, lambda;

	if (s->reuses <= 0 || s->touches <= 0)
		return 0;
	p = s->reuses / s->touches;
	if (p > 1)
		p = 1;
	lambda = s->reuses / (s->dt_sum_s > 1e-9 ? s->dt_sum_s : 1e-9);
	return p * exp(-lambda * t_s) * (1 - exp(-lambda * w->lookahead_s));
}

/* O(categories). */
static uint32_t wa_victim(void *state)
{
	struct wa *w = state;
	uint32_t best = KV_NO_NODE;
	double best_score = 0;
	int nonempty = 0;

	for (int c = 0; c < w->ncat; c++)
		nonempty += w->cat[c].lru.len > 0;
	for (int c = 0; c < w->ncat; c++) {
		uint32_t h = w->cat[c].lru.head;
		double sc;

		if (h == KV_NO_NODE)
			continue;
		if (nonempty == 1) {
			best = h;
			break;
		}
		sc = score(w, &w->cat[c], w->now_s - w->b[h].pol.f64[2]);
		if (best == KV_NO_NODE || sc < best_score ||
		    (sc == best_score && w->depth[h] > w->depth[best])) {
			best = h;
			best_score = sc;
		}
	}
	w->victim = best;
	return best;
}

static void wa_remove(void *state, uint32_t n)
{
	struct wa *w = state;

	evict_list_del(&w->cat[w->b[n].pol.u32[2]].lru, w->b, n, 0);
	if (n == w->victim && w->auto_l) { /* L follows the idle time of the victims */
		double idle_s = w->now_s - w->b[n].pol.f64[2];

		w->nvictims++;
		w->lookahead_s = w->nvictims == 1 ? idle_s : 0.99 * w->lookahead_s + 0.01 * idle_s;
		w->victim = KV_NO_NODE;
	}
}

const struct evict_ops evict_wa = {
	.name = "wa",
	.doc = "workload-aware (ATC'25): per-(type, turn) LRUs, evict the lowest p*e^-lt*(1-e^-lL)",
	.defaults = "window_s=600,lookahead_s=auto,turns=4",
	.reads = EVICT_READS_CONVERSATIONS,
	.create = wa_create,
	.destroy = wa_destroy,
	.on_insert = wa_insert,
	.on_hit = wa_hit,
	.victim = wa_victim,
	.on_remove = wa_remove,
};
