/*
 * mrc.c - one-pass prefix-LRU miss-ratio curve (see mrc.h for the method).
 *
 * Cost per request: Fenwick updates (O(log(accesses/64))) for each 64-time word its blocks'
 * previous and new accesses fall in, plus one prefix count per block whose previous access
 * is not adjacent to its parent's (a prefix reused from one earlier request needs one count
 * for the whole run). A capacity that replays (prefix closure) costs about what the cache
 * core costs per block, only while it replays.
 */
#include "mrc.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "bigmem.h"

#define NO_TIME UINT32_MAX

/* The set of latest-access times: a bitmap plus a Fenwick tree of per-word counts. */
struct live {
	uint64_t *bits;
	uint32_t *fw;    /* 1-based Fenwick tree over words */
	size_t nwords;
	uint64_t total;  /* set bits = distinct nodes seen */
};

/* Adds delta to the count of word w (its bits already changed). O(log words). */
static void live_word_add(struct live *L, size_t w, int delta)
{
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

/* A small set of node ids (open addressing, linear probing, backward-shift deletion). */
struct nodeset {
	uint32_t *k;   /* NO_TIME = empty */
	size_t mask, n;
};

static inline size_t ns_hash(uint32_t x, size_t mask)
{
	return (size_t)((x * 0x9e3779b97f4a7c15ull) >> 20) & mask;
}

static int ns_has(const struct nodeset *s, uint32_t x)
{
	if (!s->n)
		return 0;
	for (size_t h = ns_hash(x, s->mask); s->k[h] != NO_TIME; h = (h + 1) & s->mask)
		if (s->k[h] == x)
			return 1;
	return 0;
}

static int ns_add(struct nodeset *s, uint32_t x)
{
	size_t h;

	if ((s->n + 1) * 2 > s->mask + 1 || !s->k) {
		size_t cap = s->k ? (s->mask + 1) * 2 : 64;
		uint32_t *old = s->k, *k = malloc(cap * sizeof(*k));
		size_t oldcap = s->k ? s->mask + 1 : 0;

		if (!k)
			return -1;
		memset(k, 0xff, cap * sizeof(*k));
		s->k = k;
		s->mask = cap - 1;
		s->n = 0;
		for (size_t i = 0; i < oldcap; i++)
			if (old[i] != NO_TIME)
				ns_add(s, old[i]);
		free(old);
	}
	for (h = ns_hash(x, s->mask); s->k[h] != NO_TIME; h = (h + 1) & s->mask)
		if (s->k[h] == x)
			return 0;
	s->k[h] = x;
	s->n++;
	return 0;
}

static void ns_del(struct nodeset *s, uint32_t x)
{
	size_t h, j;

	if (!s->n)
		return;
	for (h = ns_hash(x, s->mask); s->k[h] != x; h = (h + 1) & s->mask)
		if (s->k[h] == NO_TIME)
			return;
	s->k[h] = NO_TIME;
	s->n--;
	for (j = (h + 1) & s->mask; s->k[j] != NO_TIME; j = (j + 1) & s->mask) {
		size_t home = ns_hash(s->k[j], s->mask);
		/* move k[j] into the hole when its home is not in (h, j] (cyclically) */
		if ((j > h && (home <= h || home > j)) || (j < h && home <= h && home > j)) {
			s->k[h] = s->k[j];
			s->k[j] = NO_TIME;
			h = j;
		}
	}
}

/*
 * The cache core's LRU at one capacity C while it differs from the stack, in O(1) memory
 * beyond a small set: the resident nodes are those whose latest access is at time >= T,
 * except the "phantoms" (nodes touched in a request, then evicted with their parent by
 * prefix closure, so recent but not resident). The LRU victim is the node of the oldest
 * live time >= T that is not a phantom.
 */
struct replay {
	int active;
	uint64_t T;          /* resident: latest access >= T and not a phantom */
	uint64_t count;      /* resident nodes */
	struct nodeset ph;   /* phantoms */
	uint32_t skipped;    /* events the observer declined to follow */
};

struct mrc {
	const struct kv_trace *t;
	const uint32_t *depth; /* the trace's node depths, fetched at the first replay */
	enum kv_hit_rule rule;
	const struct mrc_observer *obs; /* or NULL */
	struct live L;
	uint32_t *last;      /* node -> latest access time, NO_TIME if never */
	uint64_t *base;      /* request -> time of its first touch; base[nreq] = end */
	uint64_t *caps;      /* distinct finite capacities, ascending */
	size_t ncaps;
	uint64_t *bkt_blk, *bkt_tok;       /* by bucket: hits of blocks whose running max
					    * distance falls between caps */
	int64_t *adj_blk, *adj_tok;        /* per cap: replay minus stack */
	uint64_t *replay_req;
	uint32_t *replays;
	struct replay *rp;
	size_t *active;                    /* the nactive replaying capacities, any order */
	size_t nactive;
	uint32_t *word_req;                /* 64-time word -> first request touching in it */
	uint8_t *rs;                       /* per block of the current request, in a replay */
	uint64_t *D, *M;                   /* per block of the current request */
	size_t dm_cap;
	struct mrc_stats st;
};

/* The node touched at time tm: the request from the word index, then a step or two.
 * O(1) for requests of a few blocks. */
static uint32_t node_at(const struct mrc *x, uint64_t tm)
{
	size_t r = x->word_req[tm >> 6];

	while (x->base[r + 1] <= tm)
		r++;
	return trace_req_nodes(x->t, r)[x->base[r + 1] - 1 - tm];
}

/* Smallest time tm with count_le(tm) >= k (1 <= k <= total). O(log words). */
static uint64_t live_select(const struct live *L, uint64_t k)
{
	size_t pos = 0, step = 1;
	uint64_t b;

	while (step * 2 <= L->nwords)
		step *= 2;
	for (; step; step /= 2) /* Fenwick descent: pos = words whose total is < k */
		if (pos + step <= L->nwords && L->fw[pos + step] < k) {
			pos += step;
			k -= L->fw[pos];
		}
	b = L->bits[pos];
	while (--k) /* drop the k-1 lowest set bits */
		b &= b - 1;
	return (uint64_t)pos << 6 | (uint64_t)__builtin_ctzll(b);
}

/* First live time >= from and < to, or `to`. Amortised O(1) per call as T only grows. */
static uint64_t live_next(const struct live *L, uint64_t from, uint64_t to)
{
	size_t w = (size_t)(from >> 6);
	uint64_t b;

	if (from >= to)
		return to;
	b = L->bits[w] & (~0ull << (from & 63));
	while (!b) {
		if (((uint64_t)++w << 6) >= to)
			return to;
		b = L->bits[w];
	}
	from = (uint64_t)w << 6 | (uint64_t)__builtin_ctzll(b);
	return from < to ? from : to;
}

/* Starts following the core at capacity caps[j] from the stack's state before the request
 * starting at `now`: the top min(C, seen) nodes. O(log). */
static void start_replay(struct mrc *x, size_t j)
{
	struct replay *p = &x->rp[j];
	uint64_t cap = x->caps[j];

	p->active = 1;
	p->count = x->L.total < cap ? x->L.total : cap;
	p->T = x->L.total <= cap ? 0 : live_select(&x->L, x->L.total - cap + 1);
	p->ph.n = 0;
	if (p->ph.k)
		memset(p->ph.k, 0xff, (p->ph.mask + 1) * sizeof(*p->ph.k));
	x->replays[j]++;
	x->active[x->nactive++] = j;
	if (x->nactive > x->st.max_parallel_replays)
		x->st.max_parallel_replays = (uint32_t)x->nactive;
}

static inline int resident(const struct mrc *x, const struct replay *p, uint32_t node)
{
	uint32_t lt = x->last[node];

	return lt != NO_TIME && lt >= p->T && !ns_has(&p->ph, node);
}

/*
 * Request r (m touched blocks, first touch at time now) through the core at capacity
 * caps[j]: returns its prefix hits (before the hit rule's limit). Mirrors cache_touch():
 * blocks from last to first, a miss inserted, then while over capacity the LRU victim is
 * evicted with its resident descendants, which (see mrc.h) can only be the blocks of this
 * request just touched, when the victim is the parent of the block just inserted.
 * rs[i] = block i of the request is resident. O(m + evictions + phantoms dropped).
 */
static int replay_request(struct mrc *x, size_t j, const uint32_t *nodes, uint32_t m,
			  uint64_t now, uint32_t *hits)
{
	struct replay *p = &x->rp[j];
	const uint32_t *depth = x->depth ? x->depth : (x->depth = trace_node_depth(x->t));
	uint64_t cap = x->caps[j];
	uint8_t *rs = x->rs;
	uint32_t h = 0;

	if (!depth)
		return -1;
	while (h < m && resident(x, p, nodes[h]))
		h++;
	*hits = h;
	for (uint32_t i = m; i-- > 0;) {
		uint32_t node = nodes[i];

		if (resident(x, p, node)) {
			rs[i] = 1;
			continue;
		}
		rs[i] = 1;
		p->count++;
		ns_del(&p->ph, node);
		while (p->count > cap) {
			uint64_t tm = live_next(&x->L, p->T, now);
			uint32_t y, d;

			if (tm == now) { /* no older node left: the earliest touched of this request */
				uint32_t k = m - 1 - (uint32_t)(p->T > now ? p->T - now : 0);
				while (k > i && !rs[k])
					k--;
				rs[k] = 0;
				p->count--;
				p->T = now + (m - 1 - k) + 1;
				continue;
			}
			p->T = tm + 1;
			y = node_at(x, tm);
			d = depth[y];
			if (d < m && nodes[d] == y && d >= i)
				continue; /* touched in this request: this old time is stale */
			if (ns_has(&p->ph, y)) {
				ns_del(&p->ph, y); /* a phantom falls below T: it was not resident */
				continue;
			}
			p->count--; /* evict y */
			if (i && y == nodes[i - 1]) /* closure: the chain just touched goes too */
				for (uint32_t k = i; k < m && rs[k]; k++) {
					rs[k] = 0;
					p->count--;
					if (ns_add(&p->ph, nodes[k]))
						return -1;
				}
		}
	}
	return 0;
}

/* After the request's touches: is the state the stack's top C again? Drops phantoms that
 * fell below T. O(phantoms + log). */
static int converged(struct mrc *x, size_t j)
{
	struct replay *p = &x->rp[j];
	uint64_t want = x->L.total < x->caps[j] ? x->L.total : x->caps[j];

	if (p->ph.n)
		for (size_t i = 0; i <= p->ph.mask; i++) {
			uint32_t n = p->ph.k[i];
			if (n != NO_TIME && x->last[n] >= p->T)
				return 0;
		}
	if (p->count != want)
		return 0;
	return x->L.total - (p->T ? live_count_le(&x->L, p->T - 1) : 0) == want;
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
		free(x->rs);
		if (!(x->rs = malloc(cap)))
			return kv_fail(err, KV_ERUNTIME, "out of memory");
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
	if (x->obs && x->obs->request)
		x->obs->request(x->obs->ctx, r, x->D, seen);
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
		struct replay *p;
		uint64_t c;
		size_t j;

		if (k + 1 < seen && k + 2 < m && x->D[k + 1] - (k + 1) == x->D[k] - k)
			continue; /* the same capacity as the next block's */
		c = x->D[k] - k + m - 1;
		j = cap_index(x, c);
		if (j == x->ncaps || x->caps[j] != c || x->rp[j].active)
			continue;
		p = &x->rp[j];
		if (p->skipped || (x->obs && x->obs->follow && !x->obs->follow(x->obs->ctx, c)))
			p->skipped++;
		else
			start_replay(x, j);
	}
	/* 4. replaying capacities follow the core through the request */
	for (size_t a = 0; a < x->nactive; a++) {
		size_t j = x->active[a];
		uint32_t h, sh, ch;

		if (replay_request(x, j, nodes, m, now, &h))
			return kv_fail(err, KV_ERUNTIME, "out of memory");
		ch = h < mh ? h : mh;
		sh = stack_hits(x, seen, mh, x->caps[j]);
		x->adj_blk[j] += (int64_t)ch - (int64_t)sh;
		x->adj_tok[j] += (int64_t)trace_hit_tokens(t, q, ch) -
				 (int64_t)trace_hit_tokens(t, q, sh);
		x->replay_req[j]++;
	}
	/* 5. the request's touches: clear each block's previous time, mark the new ones
	 * (now .. now+m-1). Fenwick updates are batched per 64-time word: a prefix reused
	 * from one earlier request clears a run of consecutive times. */
	{
		size_t w = SIZE_MAX;
		int delta = 0;

		for (uint32_t i = 0; i < m; i++) {
			uint32_t lt = x->last[nodes[i]];

			if (lt == NO_TIME)
				continue;
			if ((lt >> 6) != w) {
				if (delta)
					live_word_add(&x->L, w, delta);
				w = lt >> 6;
				delta = 0;
			}
			x->L.bits[w] &= ~(1ull << (lt & 63));
			delta--;
		}
		if (delta)
			live_word_add(&x->L, w, delta);
		w = SIZE_MAX;
		delta = 0;
		for (uint32_t i = 0; i < m; i++) {
			uint64_t tm = now + (m - 1 - i);

			if ((tm >> 6) != w) {
				if (delta)
					live_word_add(&x->L, w, delta);
				w = (size_t)(tm >> 6);
				delta = 0;
			}
			x->L.bits[w] |= 1ull << (tm & 63);
			delta++;
			x->last[nodes[i]] = (uint32_t)tm;
		}
		if (delta)
			live_word_add(&x->L, w, delta);
	}
	/* 6. replays whose state is the stack's again go back to the stack */
	for (size_t a = 0; a < x->nactive;) {
		size_t j = x->active[a];

		if (converged(x, j)) {
			x->rp[j].active = 0;
			x->active[a] = x->active[--x->nactive];
		} else {
			a++;
		}
	}
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
			free(x->rp[j].ph.k);
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
	free(x->active);
	free(x->word_req);
	free(x->rs);
	free(x->D);
	free(x->M);
}

int mrc_run(const struct kv_trace *t, enum kv_hit_rule rule, struct mrc_point *pts,
	    size_t npts, struct mrc_stats *st, struct kv_err *err)
{
	return mrc_run_observed(t, rule, pts, npts, NULL, st, err);
}

int mrc_run_observed(const struct kv_trace *t, enum kv_hit_rule rule, struct mrc_point *pts,
		     size_t npts, const struct mrc_observer *obs, struct mrc_stats *st,
		     struct kv_err *err)
{
	struct mrc x;
	uint64_t total = 0;
	size_t nc = 0;
	int rc = KV_OK;

	memset(&x, 0, sizeof(x));
	x.t = t;
	x.rule = rule;
	x.obs = obs;
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
	x.L.bits = kv_big_alloc(x.L.nwords * 8);
	x.L.fw = kv_big_alloc((x.L.nwords + 1) * 4);
	x.last = kv_big_alloc(((size_t)t->nnodes + 1) * sizeof(*x.last));
	x.bkt_blk = calloc(x.ncaps + 1, 8);
	x.bkt_tok = calloc(x.ncaps + 1, 8);
	x.adj_blk = calloc(x.ncaps + 1, 8);
	x.adj_tok = calloc(x.ncaps + 1, 8);
	x.replay_req = calloc(x.ncaps + 1, 8);
	x.replays = calloc(x.ncaps + 1, 4);
	x.rp = calloc(x.ncaps + 1, sizeof(*x.rp));
	x.active = malloc((x.ncaps + 1) * sizeof(*x.active));
	x.word_req = malloc(((size_t)(total >> 6) + 1) * sizeof(*x.word_req));
	if (!x.L.bits || !x.L.fw || !x.last || !x.bkt_blk || !x.bkt_tok || !x.adj_blk ||
	    !x.adj_tok || !x.replay_req || !x.replays || !x.rp || !x.active || !x.word_req)
		goto oom;
	memset(x.L.bits, 0, x.L.nwords * 8);
	memset(x.L.fw, 0, (x.L.nwords + 1) * 4);
	memset(x.last, 0xff, ((size_t)t->nnodes + 1) * sizeof(*x.last));
	for (size_t r = t->nreq, w = (size_t)(total >> 6) + 1; r-- > 0;)
		while (w > 0 && ((uint64_t)(w - 1) << 6) >= x.base[r])
			x.word_req[--w] = (uint32_t)r; /* the request holding the word's first time */
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
				p->skipped = 0;
				continue;
			}
			j = cap_index(&x, p->capacity_blocks);
			p->hit_blocks = (uint64_t)((int64_t)x.bkt_blk[j] + x.adj_blk[j]);
			p->hit_tokens = (uint64_t)((int64_t)x.bkt_tok[j] + x.adj_tok[j]);
			p->replay_requests = x.replay_req[j];
			p->replays = x.replays[j];
			p->skipped = x.rp[j].skipped;
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
