/*
 * mrc.c - one-pass prefix-LRU miss-ratio curve (see mrc.h for the method).
 *
 * Cost per block access: one Fenwick point update to clear its previous access and one to
 * mark the new one (O(log(accesses/64))), plus one prefix count per block whose previous
 * access is not adjacent to its parent's (a prefix reused from one earlier request needs
 * one count for the whole run). Capacities replaying through the cache core cost what the
 * core costs, only while they replay.
 */
#include "mrc.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "registry.h"

#define NO_TIME UINT32_MAX

/* The set of latest-access times: a bitmap plus a Fenwick tree of per-word counts. */
struct live {
	uint64_t *bits;
	uint32_t *fw;    /* 1-based Fenwick tree over words */
	size_t nwords;
	uint64_t total;  /* set bits = distinct nodes seen */
};

static void live_add(struct live *L, uint64_t t, int delta)
{
	size_t w = (size_t)(t >> 6);

	if (delta > 0)
		L->bits[w] |= 1ull << (t & 63);
	else
		L->bits[w] &= ~(1ull << (t & 63));
	for (size_t i = w + 1; i <= L->nwords; i += i & (0 - i))
		L->fw[i] += (uint32_t)delta;
	L->total += (uint64_t)(int64_t)delta;
}

/* Set bits at times <= t. O(log words). */
static uint64_t live_count_le(const struct live *L, uint64_t t)
{
	size_t w = (size_t)(t >> 6);
	uint64_t s = 0, mask = (t & 63) == 63 ? ~0ull : (2ull << (t & 63)) - 1;

	for (size_t i = w; i > 0; i -= i & (0 - i))
		s += L->fw[i];
	return s + (uint64_t)__builtin_popcountll(L->bits[w] & mask);
}

struct replay {
	struct kv_cache *c;  /* NULL: this capacity follows the stack */
};

struct mrc {
	const struct kv_trace *t;
	enum kv_hit_rule rule;
	struct live L;
	uint32_t *last;      /* node -> latest access time, NO_TIME if never */
	uint64_t *base;      /* request -> time of its first touch; base[nreq] = end */
	uint64_t *caps;      /* distinct finite capacities, ascending */
	size_t ncaps;
	uint64_t *bkt_blk, *bkt_tok;       /* by bucket: hits of blocks whose running max
					    * distance falls between caps */
	int64_t *adj_blk, *adj_tok;        /* per cap: core replay minus stack */
	uint64_t *replay_req;
	uint32_t *replays;
	struct replay *rp;
	struct kv_cache **pool;            /* idle caches for reuse */
	size_t npool, nactive;
	uint32_t *scratch;                 /* rebuild: nodes oldest first */
	uint64_t *D, *M;                   /* per block of the current request */
	size_t dm_cap;
	struct mrc_stats st;
};

/* Node touched at time tm (binary search over request bases). */
static uint32_t node_at(const struct mrc *x, uint64_t tm)
{
	size_t lo = 0, hi = x->t->nreq; /* base[lo] <= tm < base[hi] */
	uint32_t m, mh;

	while (hi - lo > 1) {
		size_t mid = lo + (hi - lo) / 2;
		if (x->base[mid] <= tm)
			lo = mid;
		else
			hi = mid;
	}
	cache_rule_limits(x->rule, x->t->block_size, &x->t->req[lo], &m, &mh);
	return trace_req_nodes(x->t, lo)[m - 1 - (tm - x->base[lo])];
}

/* A cache core at capacity caps[j] holding the stack's top C nodes (before the request
 * starting at time now), in recency order. O(C log requests + span/64). */
static int start_replay(struct mrc *x, size_t j, uint64_t now, struct kv_err *err)
{
	uint64_t cap = x->caps[j], want = x->L.total < cap ? x->L.total : cap, n = 0;
	struct kv_cache *c;
	struct kv_access a = {NULL, 0, 0, 0, 0.0};
	int rc;

	if (x->npool) {
		c = x->pool[--x->npool];
		c->capacity = cap;
	} else if ((rc = cache_create(&c, x->t, evict_find("lru"), NULL, cap, x->rule, err))) {
		return rc;
	}
	memset(&c->st, 0, sizeof(c->st));
	for (size_t w = (size_t)((now + 63) >> 6); w-- > 0 && n < want;) {
		uint64_t b = x->L.bits[w];

		while (b && n < want) {
			int hi = 63 - __builtin_clzll(b);
			b &= ~(1ull << hi);
			if (((uint64_t)w << 6 | (uint64_t)hi) < now)
				x->scratch[n++] = node_at(x, (uint64_t)w << 6 | (uint64_t)hi);
		}
	}
	while (n-- > 0) /* oldest first: the LRU list ends up in recency order */
		cache_touch(c, &x->scratch[n], 1, &a);
	x->rp[j].c = c;
	x->replays[j]++;
	x->nactive++;
	if (x->nactive > x->st.max_parallel_replays)
		x->st.max_parallel_replays = (uint32_t)x->nactive;
	return KV_OK;
}

/* Is the replaying cache's state the stack's top C again? O(log). */
static int converged(const struct mrc *x, const struct kv_cache *c)
{
	uint64_t want = x->L.total < c->capacity ? x->L.total : c->capacity;
	uint32_t head;

	if (c->resident != want)
		return 0;
	if (!want)
		return 1;
	head = c->ops->victim(c->policy); /* LRU: the list head, no side effect */
	return x->L.total - (live_count_le(&x->L, x->last[head]) - 1) == c->resident;
}

static void stop_replay(struct mrc *x, size_t j)
{
	struct kv_cache *c = x->rp[j].c;

	while (c->resident && cache_evict_one(c)) /* empty it for reuse: O(resident) */
		;
	x->pool[x->npool++] = c;
	x->rp[j].c = NULL;
	x->nactive--;
}

static size_t cap_index(const struct mrc *x, uint64_t cap)
{
	size_t lo = 0, hi = x->ncaps;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (x->caps[mid] < cap)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo; /* first index with caps[i] >= cap */
}

/* Hits of the current request at capacity cap by the stack: leading blocks with running
 * max below cap, at most lim. */
static uint32_t stack_hits(const struct mrc *x, uint32_t seen, uint32_t lim, uint64_t cap)
{
	uint32_t lo = 0, hi = seen < lim ? seen : lim;

	while (lo < hi) {
		uint32_t mid = lo + (hi - lo) / 2;
		if (x->M[mid] < cap)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

static int one_request(struct mrc *x, size_t r, struct kv_err *err)
{
	const struct kv_trace *t = x->t;
	const struct kv_request *q = &t->req[r];
	const uint32_t *nodes = trace_req_nodes(t, r);
	uint64_t now = x->base[r];
	uint32_t m, mh, seen = 0, lim;
	size_t b = 0;
	int rc;

	cache_rule_limits(x->rule, t->block_size, q, &m, &mh);
	if (m > x->dm_cap) {
		size_t cap = (size_t)m * 2;
		uint64_t *d = realloc(x->D, cap * 8), *mm;
		if (!d)
			return kv_fail(err, KV_ERUNTIME, "out of memory");
		x->D = d;
		if (!(mm = realloc(x->M, cap * 8)))
			return kv_fail(err, KV_ERUNTIME, "out of memory");
		x->M = mm;
		x->dm_cap = cap;
	}
	/* 1. stack distances before the request; seen blocks form a prefix */
	for (; seen < m; seen++) {
		uint32_t lt = x->last[nodes[seen]];
		uint64_t d;

		if (lt == NO_TIME)
			break;
		if (seen && lt + 1 == x->last[nodes[seen - 1]])
			d = x->D[seen - 1] + 1; /* adjacent to the parent's access: one more */
		else
			d = x->L.total - live_count_le(&x->L, lt);
		x->D[seen] = d;
		x->M[seen] = seen && x->M[seen - 1] > d ? x->M[seen - 1] : d;
	}
	/* 2. the stack's hits, into buckets between capacities */
	lim = seen < mh ? seen : mh;
	for (uint32_t i = 0; i < lim; i++) {
		uint64_t tok = i + 1 < q->nblocks ? t->block_size
				 : q->input_tokens - (uint64_t)t->block_size * (q->nblocks - 1);

		while (b < x->ncaps && x->caps[b] <= x->M[i])
			b++;
		x->bkt_blk[b]++;
		x->bkt_tok[b] += tok;
	}
	/* 3. prefix-closure events at capacities that follow the stack */
	for (uint32_t k = 0; k + 1 < m && k < seen; k++) {
		uint64_t c;
		size_t j;

		if (k + 1 < seen && k + 2 < m && x->D[k + 1] - (k + 1) == x->D[k] - k)
			continue; /* the same capacity as the next block's */
		c = x->D[k] - k + m - 1;
		j = cap_index(x, c);
		if (j < x->ncaps && x->caps[j] == c && !x->rp[j].c &&
		    (rc = start_replay(x, j, now, err)))
			return rc;
	}
	/* 4. replaying capacities run the request through the cache core */
	if (x->nactive)
		for (size_t j = 0; j < x->ncaps; j++) {
			struct kv_cache *c = x->rp[j].c;
			uint64_t hb, ht;
			uint32_t sh;

			if (!c)
				continue;
			hb = c->st.hit_blocks;
			ht = c->st.hit_tokens;
			cache_run_request(c, (uint32_t)r, q->ts_s);
			sh = stack_hits(x, seen, mh, x->caps[j]);
			x->adj_blk[j] += (int64_t)(c->st.hit_blocks - hb) - (int64_t)sh;
			x->adj_tok[j] += (int64_t)(c->st.hit_tokens - ht) -
					 (int64_t)trace_hit_tokens(t, q, sh);
			x->replay_req[j]++;
		}
	/* 5. the request's touches, last block first */
	for (uint32_t i = 0; i < m; i++) {
		uint32_t *lt = &x->last[nodes[i]];
		uint64_t tm = now + (m - 1 - i);

		if (*lt != NO_TIME)
			live_add(&x->L, *lt, -1);
		live_add(&x->L, tm, +1);
		*lt = (uint32_t)tm;
	}
	/* 6. replays whose state is the stack's again go back to the stack */
	if (x->nactive)
		for (size_t j = 0; j < x->ncaps; j++)
			if (x->rp[j].c && converged(x, x->rp[j].c))
				stop_replay(x, j);
	x->st.requests++;
	x->st.blocks += q->nblocks;
	x->st.tokens += q->input_tokens;
	return KV_OK;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static void mrc_free(struct mrc *x)
{
	if (x->rp)
		for (size_t j = 0; j < x->ncaps; j++)
			cache_destroy(x->rp[j].c);
	if (x->pool)
		for (size_t i = 0; i < x->npool; i++)
			cache_destroy(x->pool[i]);
	free(x->L.bits);
	free(x->L.fw);
	free(x->last);
	free(x->base);
	free(x->caps);
	free(x->bkt_blk);
	free(x->bkt_tok);
	free(x->adj_blk);
	free(x->adj_tok);
	free(x->replay_req);
	free(x->replays);
	free(x->rp);
	free(x->pool);
	free(x->scratch);
	free(x->D);
	free(x->M);
}

int mrc_run(const struct kv_trace *t, enum kv_hit_rule rule, struct mrc_point *pts,
	    size_t npts, struct mrc_stats *st, struct kv_err *err)
{
	struct mrc x;
	uint64_t total = 0;
	size_t nc = 0;
	int rc = KV_OK;

	memset(&x, 0, sizeof(x));
	x.t = t;
	x.rule = rule;
	/* times: requests in order, each request's touched blocks consecutive */
	x.base = malloc((t->nreq + 1) * sizeof(*x.base));
	x.caps = malloc((npts + 1) * sizeof(*x.caps));
	if (!x.base || !x.caps)
		goto oom;
	for (size_t r = 0; r < t->nreq; r++) {
		uint32_t m, mh;

		x.base[r] = total;
		cache_rule_limits(rule, t->block_size, &t->req[r], &m, &mh);
		total += m;
	}
	x.base[t->nreq] = total;
	if (total >= NO_TIME)
		return kv_fail(err, KV_EINPUT, "%s: mrc handles at most %u block accesses", t->path,
			       NO_TIME - 1);
	for (size_t i = 0; i < npts; i++)
		if (pts[i].capacity_blocks != KV_CAPACITY_INF)
			x.caps[nc++] = pts[i].capacity_blocks;
	qsort(x.caps, nc, sizeof(*x.caps), cmp_u64);
	for (size_t i = 0; i < nc; i++)
		if (!x.ncaps || x.caps[x.ncaps - 1] != x.caps[i])
			x.caps[x.ncaps++] = x.caps[i];
	x.L.nwords = (size_t)(total >> 6) + 1;
	x.L.bits = calloc(x.L.nwords, 8);
	x.L.fw = calloc(x.L.nwords + 1, 4);
	x.last = malloc(((size_t)t->nnodes + 1) * sizeof(*x.last));
	x.bkt_blk = calloc(x.ncaps + 1, 8);
	x.bkt_tok = calloc(x.ncaps + 1, 8);
	x.adj_blk = calloc(x.ncaps + 1, 8);
	x.adj_tok = calloc(x.ncaps + 1, 8);
	x.replay_req = calloc(x.ncaps + 1, 8);
	x.replays = calloc(x.ncaps + 1, 4);
	x.rp = calloc(x.ncaps + 1, sizeof(*x.rp));
	x.pool = calloc(x.ncaps + 1, sizeof(*x.pool));
	x.scratch = malloc(((size_t)t->nnodes + 1) * sizeof(*x.scratch));
	if (!x.L.bits || !x.L.fw || !x.last || !x.bkt_blk || !x.bkt_tok || !x.adj_blk ||
	    !x.adj_tok || !x.replay_req || !x.replays || !x.rp || !x.pool || !x.scratch)
		goto oom;
	memset(x.last, 0xff, ((size_t)t->nnodes + 1) * sizeof(*x.last));
	for (size_t r = 0; r < t->nreq && !rc; r++)
		rc = one_request(&x, r, err);
	if (!rc) {
		uint64_t hb = 0, ht = 0;
		size_t j = 0;

		/* cumulative buckets: bucket b counts at caps[b..] */
		for (; j < x.ncaps; j++) {
			hb += x.bkt_blk[j];
			ht += x.bkt_tok[j];
			x.bkt_blk[j] = hb;
			x.bkt_tok[j] = ht;
		}
		hb += x.bkt_blk[x.ncaps]; /* the infinite capacity also counts the last bucket */
		ht += x.bkt_tok[x.ncaps];
		for (size_t i = 0; i < npts; i++) {
			struct mrc_point *p = &pts[i];

			if (p->capacity_blocks == KV_CAPACITY_INF) {
				p->hit_blocks = hb;
				p->hit_tokens = ht;
				p->replay_requests = 0;
				p->replays = 0;
				continue;
			}
			j = cap_index(&x, p->capacity_blocks);
			p->hit_blocks = (uint64_t)((int64_t)x.bkt_blk[j] + x.adj_blk[j]);
			p->hit_tokens = (uint64_t)((int64_t)x.bkt_tok[j] + x.adj_tok[j]);
			p->replay_requests = x.replay_req[j];
			p->replays = x.replays[j];
		}
		for (j = 0; j < x.ncaps; j++)
			x.st.replay_requests += x.replay_req[j];
		if (st)
			*st = x.st;
	}
	mrc_free(&x);
	return rc;
oom:
	mrc_free(&x);
	return kv_fail(err, KV_ERUNTIME, "out of memory");
}

size_t mrc_log_points(uint64_t nnodes, size_t n, uint64_t *out)
{
	size_t k = 0;

	if (!nnodes || !n)
		return 0;
	for (size_t i = 0; i < n; i++) {
		double f = n == 1 ? 1.0 : (double)i / (double)(n - 1);
		uint64_t c = (uint64_t)llround(exp(f * log((double)nnodes)));

		if (c < 1)
			c = 1;
		if (c > nnodes || i + 1 == n)
			c = nnodes;
		if (!k || out[k - 1] != c)
			out[k++] = c;
	}
	return k;
}
