/*
 * session.c - a session-aware policy: keep what a live conversation's next turn will reuse,
 * give up what ended conversations and superseded turns left behind.
 *
 * A session is a conversation: a root request (parent_chat_id -1) and every request that
 * descends from it through parent_chat_id. Each resident block is owned by the session of
 * the request that touched it last, except blocks that two sessions have touched (shared
 * prefixes: system prompts, common documents), which are kept apart. Eviction order:
 *   1. superseded blocks, least recently touched first: blocks of a session that its newest
 *      request did not touch. A follow-up turn re-sends its parent's prompt, so what it
 *      leaves out (the parent's partial last block, an abandoned branch) is not what the
 *      next turn will ask for;
 *   2. blocks of ended sessions, the session idle longest first: a session has ended when
 *      the time since its newest request reaches the time-out T(c) of that request's
 *      (type, turn) category c (turns >= 4 share one);
 *   3. then by recency, as LRU: the oldest block of the least recently active live
 *      session, or the least recently touched shared block if it is older (same request:
 *      the deeper block, as tail-first touch makes LRU do).
 * Within a session the least recently touched block goes first (a request's tail before
 * its head).
 * T(c) is estimated from the trace in create(), not a constant: the `quantile` (default
 * 0.95) of the parent -> child gaps (child arrival - parent arrival) of the category's
 * parents, or of all parents when the category has fewer than 20 such gaps; 0 for a
 * category whose requests never get a follow-up while others do (a single-turn API call
 * ends at once). timeout_s=SECONDS overrides every T(c). Without session fields (Mooncake:
 * every request is its own root, no gaps) nothing is superseded or ends and the policy is
 * exactly LRU.
 *
 * Per block: pol.u32[0..1] links of the list it is on (its session's block list, the shared
 * list or the superseded list, each oldest first), pol.u32[2] the session that touched it
 * last, pol.u32[3] the row of the request that touched it last; flags bit 0 = on the
 * superseded list, bit 1 = shared (looked up by a second session since its insertion), bit 2
 * = pinned (timed mode: taken out while a request runs; its unpin counts as a touch). Per session (a table indexed by
 * session, not by node): its block list, newest request and time, links in its category's
 * session list (oldest activity first; a session is listed iff it owns blocks).
 * Per access O(1); a finished request moves its session's untouched blocks to the superseded
 * list, O(1) each; victim O(categories).
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "evict_list.h"
#include "evict_ops.h"

#define SS_COLD 1u
#define SS_SHARED 2u
#define SS_PINNED 4u /* taken out by a pin (timed mode) */
#define SS_TURNS 4          /* turn buckets: 0 (none), 1, 2, 3, 4+ */
#define SS_MIN_SAMPLES 20   /* gaps needed for a per-category time-out */

struct ss_session {
	struct evict_list blocks;
	double last_s;        /* arrival of its newest request */
	uint32_t latest_row;  /* UINT32_MAX before its first request */
	uint32_t prev, next;  /* in its category's session list */
	int cat;              /* category of its newest request */
	int listed;
};

struct ss_cat {
	uint32_t head, tail;  /* sessions, oldest activity first */
	double timeout_s;     /* T(c); INFINITY without any gap in the trace */
};

struct session {
	struct kv_block *b;
	const struct kv_trace *t;
	const uint32_t *depth; /* of every node (trace_node_depth) */
	uint32_t *sess_of;    /* per request row */
	int *cat_of_key;      /* (type, turn bucket) -> dense category */
	int ncat;
	struct ss_cat *cat;
	struct ss_session *s;
	uint32_t nsess;
	double *gaps_s;       /* all gaps, grouped by the parent's category */
	double *all_s;        /* all gaps, sorted */
	struct evict_list cold;
	struct evict_list shared; /* blocks touched by two sessions or more, least recent first */
	uint32_t cur_row, cur_sess;
	uint64_t cur_old;     /* blocks of cur_sess owned by its older requests, untouched yet */
	double now_s;
};

static inline int turn_bucket(int32_t turn)
{
	return turn <= 0 ? 0 : turn < SS_TURNS ? turn : SS_TURNS;
}

static inline int cat_of_req(const struct session *x, const struct kv_request *q)
{
	return x->cat_of_key[q->type * (SS_TURNS + 1) + turn_bucket(q->turn)];
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* Index of the q-quantile in a sorted array of n > 0 values: rank ceil(q n). */
static size_t quantile_rank(size_t n, double q)
{
	size_t k = (size_t)ceil(q * (double)n);

	return k ? (k > n ? n - 1 : k - 1) : 0;
}

static void ss_destroy(void *state)
{
	struct session *x = state;

	free(x->sess_of);
	free(x->cat_of_key);
	free(x->cat);
	free(x->s);
	free(x->gaps_s);
	free(x->all_s);
	free(x);
}

/* Sessions, categories, p(c), the gap distributions and T(c) from the trace.
 * O(requests log requests). */
static int estimate(struct session *x, double q, double timeout_s, struct kv_err *err)
{
	const struct kv_trace *t = x->t;
	size_t nkeys = (size_t)(t->ntypes > 0 ? t->ntypes : 1) * (SS_TURNS + 1);
	size_t *ngaps = NULL, *nreq = NULL, *nchild = NULL, *start = NULL, nall = 0;
	uint8_t *has_child = NULL;
	int rc = KV_OK;

	x->sess_of = malloc((t->nreq + 1) * sizeof(*x->sess_of));
	x->cat_of_key = malloc(nkeys * sizeof(*x->cat_of_key));
	has_child = calloc(t->nreq + 1, 1);
	if (!x->sess_of || !x->cat_of_key || !has_child)
		goto oom;
	for (size_t k = 0; k < nkeys; k++)
		x->cat_of_key[k] = -1;
	for (size_t r = 0; r < t->nreq; r++) {
		const struct kv_request *rq = &t->req[r];
		size_t k = (size_t)rq->type * (SS_TURNS + 1) + (size_t)turn_bucket(rq->turn);
		int32_t pr = rq->parent_row;

		if (x->cat_of_key[k] < 0)
			x->cat_of_key[k] = x->ncat++;
		if (pr != KV_NO_ROW && pr >= 0 && (size_t)pr < r) {
			x->sess_of[r] = x->sess_of[pr];
			has_child[pr] = 1;
		} else {
			x->sess_of[r] = x->nsess++;
		}
	}
	x->cat = calloc((size_t)x->ncat + 1, sizeof(*x->cat));
	x->s = calloc((size_t)x->nsess + 1, sizeof(*x->s));
	ngaps = calloc((size_t)x->ncat + 1, sizeof(*ngaps));
	start = calloc((size_t)x->ncat + 1, sizeof(*start));
	nreq = calloc((size_t)x->ncat + 1, sizeof(*nreq));
	nchild = calloc((size_t)x->ncat + 1, sizeof(*nchild));
	x->gaps_s = malloc((t->nreq + 1) * sizeof(*x->gaps_s));
	x->all_s = malloc((t->nreq + 1) * sizeof(*x->all_s));
	if (!x->cat || !x->s || !ngaps || !start || !nreq || !nchild || !x->gaps_s || !x->all_s)
		goto oom;
	for (uint32_t i = 0; i < x->nsess; i++) {
		evict_list_init(&x->s[i].blocks);
		x->s[i].latest_row = UINT32_MAX;
	}
	for (size_t r = 0; r < t->nreq; r++) {
		int c = cat_of_req(x, &t->req[r]);
		int32_t pr = t->req[r].parent_row;

		nreq[c]++;
		nchild[c] += has_child[r];
		if (pr != KV_NO_ROW && pr >= 0 && (size_t)pr < r)
			ngaps[cat_of_req(x, &t->req[pr])]++;
	}
	for (int c = 1; c < x->ncat; c++)
		start[c] = start[c - 1] + ngaps[c - 1];
	memset(ngaps, 0, ((size_t)x->ncat + 1) * sizeof(*ngaps));
	for (size_t r = 0; r < t->nreq; r++) {
		int32_t pr = t->req[r].parent_row;
		double gap_s;
		int c;

		if (pr == KV_NO_ROW || pr < 0 || (size_t)pr >= r)
			continue;
		gap_s = t->req[r].ts_s - t->req[pr].ts_s;
		c = cat_of_req(x, &t->req[pr]);
		x->gaps_s[start[c] + ngaps[c]++] = gap_s;
		x->all_s[nall++] = gap_s;
	}
	qsort(x->all_s, nall, sizeof(double), cmp_double);
	for (int c = 0; c < x->ncat; c++) {
		struct ss_cat *k = &x->cat[c];

		k->head = k->tail = UINT32_MAX;
		if (timeout_s >= 0) {
			k->timeout_s = timeout_s;
		} else if (!nall) {
			k->timeout_s = INFINITY; /* no session structure at all */
		} else if (!nchild[c]) {
			k->timeout_s = 0;        /* never followed up */
		} else if (ngaps[c] >= SS_MIN_SAMPLES) {
			qsort(x->gaps_s + start[c], ngaps[c], sizeof(double), cmp_double);
			k->timeout_s = x->gaps_s[start[c] + quantile_rank(ngaps[c], q)];
		} else {
			k->timeout_s = x->all_s[quantile_rank(nall, q)];
		}
	}
	goto out;
oom:
	rc = kv_fail(err, KV_ERUNTIME, "out of memory");
out:
	free(ngaps);
	free(start);
	free(nreq);
	free(nchild);
	free(has_child);
	return rc;
}

static int ss_create(void **state, const struct evict_env *env, const struct kv_params *p,
		     struct kv_err *err)
{
	struct session *x = calloc(1, sizeof(*x));
	const char *ts;
	double q, timeout_s = -1;
	int rc;

	if (!x)
		return kv_fail(err, KV_ERUNTIME, "out of memory");
	if ((rc = kv_param_double(p, "quantile", 0.01, 1, &q, err)))
		goto fail;
	ts = kv_param_str(p, "timeout_s");
	if (!(ts && !strcmp(ts, "auto")) &&
	    (rc = kv_param_double(p, "timeout_s", 0, 1e12, &timeout_s, err)))
		goto fail;
	x->b = env->blocks;
	x->t = env->trace;
	if (!(x->depth = trace_node_depth(x->t))) {
		rc = kv_fail(err, KV_ERUNTIME, "out of memory");
		goto fail;
	}
	evict_list_init(&x->cold);
	evict_list_init(&x->shared);
	x->cur_row = x->cur_sess = UINT32_MAX;
	if ((rc = estimate(x, q, timeout_s, err)))
		goto fail;
	*state = x;
	return KV_OK;
fail:
	ss_destroy(x);
	return rc;
}

static void unlist(struct session *x, uint32_t si)
{
	struct ss_session *s = &x->s[si];
	struct ss_cat *c = &x->cat[s->cat];

	if (!s->listed)
		return;
	if (s->prev != UINT32_MAX)
		x->s[s->prev].next = s->next;
	else
		c->head = s->next;
	if (s->next != UINT32_MAX)
		x->s[s->next].prev = s->prev;
	else
		c->tail = s->prev;
	s->listed = 0;
}

/* Lists session si as the most recently active of its category. O(1). */
static void list_newest(struct session *x, uint32_t si)
{
	struct ss_session *s = &x->s[si];
	struct ss_cat *c = &x->cat[s->cat];

	unlist(x, si);
	s->prev = c->tail;
	s->next = UINT32_MAX;
	if (c->tail != UINT32_MAX)
		x->s[c->tail].next = si;
	else
		c->head = si;
	c->tail = si;
	s->listed = 1;
}

/* The previous request is done: its session's blocks it did not touch are superseded.
 * O(those blocks). */
static void finish_request(struct session *x)
{
	struct ss_session *s;

	if (x->cur_sess == UINT32_MAX)
		return;
	s = &x->s[x->cur_sess];
	while (x->cur_old > 0 && s->blocks.len) {
		uint32_t n = s->blocks.head;

		evict_list_del(&s->blocks, x->b, n, 0);
		x->b[n].flags |= SS_COLD;
		evict_list_push_tail(&x->cold, x->b, n, 0);
		x->cur_old--;
	}
	x->cur_old = 0;
	if (!s->blocks.len)
		unlist(x, x->cur_sess);
}

/* First touch of request row: its session becomes the newest of its category. */
static void start_request(struct session *x, uint32_t row, double now_s)
{
	const struct kv_request *q = &x->t->req[row];
	uint32_t si = x->sess_of[row];
	struct ss_session *s = &x->s[si];

	finish_request(x);
	x->cur_row = row;
	x->cur_sess = si;
	x->cur_old = s->blocks.len;
	unlist(x, si);
	s->latest_row = row;
	s->last_s = now_s;
	s->cat = cat_of_req(x, q);
	if (s->blocks.len)
		list_newest(x, si);
}

/* Takes n off the list it is on. O(1). */
static void detach(struct session *x, uint32_t n)
{
	struct kv_block *b = &x->b[n];
	uint32_t si;

	if (b->flags & SS_COLD) {
		evict_list_del(&x->cold, x->b, n, 0);
		b->flags &= (uint8_t)~SS_COLD;
		return;
	}
	if (b->flags & SS_SHARED) {
		evict_list_del(&x->shared, x->b, n, 0);
		return;
	}
	si = b->pol.u32[2];
	evict_list_del(&x->s[si].blocks, x->b, n, 0);
	if (si == x->cur_sess && b->pol.u32[3] != x->cur_row && x->cur_old)
		x->cur_old--; /* an old block of the running request's session */
	if (!x->s[si].blocks.len)
		unlist(x, si);
}

static void touch(struct session *x, uint32_t n, const struct kv_access *a)
{
	struct kv_block *b = &x->b[n];
	uint32_t si;

	x->now_s = a->now_s;
	if (!a->req || a->row >= x->t->nreq) { /* no request: treat as superseded */
		b->flags |= SS_COLD;
		evict_list_push_tail(&x->cold, x->b, n, 0);
		return;
	}
	if (a->row != x->cur_row)
		start_request(x, a->row, a->now_s);
	si = x->cur_sess;
	b->pol.u32[2] = si;
	b->pol.u32[3] = a->row;
	if (b->flags & SS_SHARED) {
		evict_list_push_tail(&x->shared, x->b, n, 0);
		return;
	}
	if (!x->s[si].listed)
		list_newest(x, si);
	evict_list_push_tail(&x->s[si].blocks, x->b, n, 0);
	b->pol.u32[3] = a->row;
}

static void mark_shared(struct session *x, uint32_t n, const struct kv_access *a)
{
	if (a->req && a->row < x->t->nreq && x->b[n].pol.u32[2] != x->sess_of[a->row])
		x->b[n].flags |= SS_SHARED; /* reused across sessions */
}

static void ss_insert(void *state, uint32_t n, const struct kv_access *a)
{
	struct session *x = state;

	if (x->b[n].flags & SS_PINNED) { /* unpinned: a touch by the request that used it */
		x->b[n].flags &= (uint8_t)~SS_PINNED;
		mark_shared(x, n, a);
	} else {
		x->b[n].flags = 0;
	}
	touch(x, n, a);
}

static void ss_hit(void *state, uint32_t n, const struct kv_access *a)
{
	struct session *x = state;

	if (a->req && a->row != x->cur_row && a->row < x->t->nreq)
		start_request(x, a->row, a->now_s); /* before detach counts old blocks */
	detach(x, n);
	mark_shared(x, n, a);
	touch(x, n, a);
}

/* O(categories). */
static uint32_t ss_victim(void *state)
{
	struct session *x = state;
	uint32_t ended = UINT32_MAX, oldest = UINT32_MAX;

	if (x->cold.len)
		return x->cold.head;
	for (int c = 0; c < x->ncat; c++) { /* the head is the category's longest idle */
		uint32_t si = x->cat[c].head;

		if (si == UINT32_MAX)
			continue;
		if (x->now_s - x->s[si].last_s >= x->cat[c].timeout_s &&
		    (ended == UINT32_MAX || x->s[si].last_s < x->s[ended].last_s))
			ended = si;
		if (oldest == UINT32_MAX || x->s[si].latest_row < x->s[oldest].latest_row)
			oldest = si;
	}
	if (ended != UINT32_MAX)
		return x->s[ended].blocks.head;
	if (x->shared.len && oldest != UINT32_MAX) { /* the less recent of the two, as LRU */
		uint32_t h = x->shared.head, p = x->s[oldest].blocks.head;
		uint32_t hr = x->b[h].pol.u32[3], pr = x->b[p].pol.u32[3];

		if (hr < pr || (hr == pr && x->depth[h] > x->depth[p]))
			return h;
		return p;
	}
	return oldest != UINT32_MAX ? x->s[oldest].blocks.head : x->shared.head;
}

static void ss_remove(void *state, uint32_t n)
{
	struct session *x = state;

	detach(x, n);
	if (x->b[n].refcnt) /* pinned (timed mode), not evicted */
		x->b[n].flags |= SS_PINNED;
}

const struct evict_ops evict_session = {
	.name = "session",
	.doc = "session-aware: superseded turns, then ended sessions (time-outs from the trace), then LRU",
	.defaults = "timeout_s=auto,quantile=0.95",
	.reads = EVICT_READS_CONVERSATIONS,
	.create = ss_create,
	.destroy = ss_destroy,
	.on_insert = ss_insert,
	.on_hit = ss_hit,
	.victim = ss_victim,
	.on_remove = ss_remove,
};
