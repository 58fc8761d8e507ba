/*
 * cluster.c - the timed engine: event loop, instances, admission, batching, routing
 * (see timed.h and DESIGN.md section 4).
 *
 * Events: an arrival (class 1, id = trace row) routes a request to an instance and wakes
 * it; an iteration end (class 0, id = instance) advances every request in the batch and
 * starts the next iteration. An idle instance with work starts an iteration at once.
 *
 * One iteration (vLLM v1 scheduler order): running requests first, in admission order,
 * each taking its next prefill chunk or one decode token within max_num_batched_tokens;
 * then waiting requests in FIFO order while the batch has room (max_num_seqs) and tokens
 * left. Admission = the KV pool can hold the request's blocks: blocks it does not already
 * pin must fit in capacity minus the blocks pinned by running requests (evicting cached
 * blocks as the policy says); otherwise the queue waits (head-of-line, as vLLM). At
 * admission the request's prefix hit is counted and its blocks are touched exactly as in
 * cache mode (tail-first), then pinned until completion and released tail-first. A
 * request larger than the whole pool can never be pinned: it runs alone (when nothing is
 * running) with its blocks cached as in cache mode, unpinned.
 *
 * Costs: O(log events) per event, O(batch) per iteration, O(instances x hit) per routing.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cache_pin.h"
#include "capacity.h"
#include "event_heap.h"
#include "registry.h"
#include "timed.h"

enum { RS_NONE = 0, RS_PENDING, RS_WAITING, RS_RUNNING, RS_DONE };

struct rstate {
	int32_t res;              /* index in res->req, -1 outside the window */
	uint8_t state;
	uint8_t oversized;        /* larger than the pool: runs unpinned */
	uint8_t chunk_prefill;    /* this iteration's chunk is prefill (else decode) */
	uint32_t cacheable;       /* blocks the hit rule caches */
	uint32_t pinned;          /* leading blocks pinned */
	uint32_t anon;            /* output KV blocks held (--preemption) */
	uint32_t anon_over;       /* of which over-committed (beyond the pool) */
	uint32_t generated;       /* output tokens produced */
	uint64_t chunk;           /* tokens scheduled this iteration */
	uint64_t prefill_total, prefill_done, ctx0;
	uint64_t est_prefill;     /* counted in queued_prefill while waiting */
	uint32_t first_child, next_sib; /* closed loop: children in the window */
};

struct inst {
	struct kv_cache *cache;
	struct kv_cache *approx;  /* router-side index (--router-view approx) */
	uint64_t pool;            /* capacity, blocks */
	uint64_t anon_total;      /* output blocks held within the pool */
	uint32_t *wq;             /* waiting rows: ring buffer */
	size_t wq_head, wq_len, wq_cap;
	uint32_t *run;            /* running rows, admission order */
	uint32_t nrun;
	uint32_t nover;           /* running requests larger than the pool (0 or 1) */
	int busy;
	uint64_t queued_prefill, total_tokens;
};

struct sim {
	const struct kv_trace *t;
	const struct timed_config *cfg;
	struct timed_result *res;
	struct rstate *rs;
	struct inst *inst;
	struct route_inst *view;
	void *router;
	struct event_heap heap;
	uint32_t *order;          /* rows in the window, arrival order */
	size_t norder, cursor;
	int oom;
};

static double wall_now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

static struct timed_req *rq(struct sim *s, uint32_t row)
{
	return &s->res->req[s->rs[row].res];
}

/* --- waiting queue (ring buffer; preempted requests go back to the front) --- */

static int wq_grow(struct inst *I)
{
	size_t cap = I->wq_cap ? 2 * I->wq_cap : 16;
	uint32_t *q = malloc(cap * sizeof(*q));

	if (!q)
		return -1;
	for (size_t k = 0; k < I->wq_len; k++)
		q[k] = I->wq[(I->wq_head + k) % I->wq_cap];
	free(I->wq);
	I->wq = q;
	I->wq_cap = cap;
	I->wq_head = 0;
	return 0;
}

static int wq_push_back(struct inst *I, uint32_t row)
{
	if (I->wq_len == I->wq_cap && wq_grow(I))
		return -1;
	I->wq[(I->wq_head + I->wq_len++) % I->wq_cap] = row;
	return 0;
}

static int wq_push_front(struct inst *I, uint32_t row)
{
	if (I->wq_len == I->wq_cap && wq_grow(I))
		return -1;
	I->wq_head = (I->wq_head + I->wq_cap - 1) % I->wq_cap;
	I->wq[I->wq_head] = row;
	I->wq_len++;
	return 0;
}

static uint32_t wq_front(const struct inst *I)
{
	return I->wq[I->wq_head];
}

static void wq_pop_front(struct inst *I)
{
	I->wq_head = (I->wq_head + 1) % I->wq_cap;
	I->wq_len--;
}

/* --- KV pool --- */

/* Output KV blocks a request needs beyond its cached blocks to hold input + generated
 * tokens (--preemption only). */
static uint32_t anon_needed(const struct sim *s, uint32_t row)
{
	const struct kv_request *q = &s->t->req[row];
	uint64_t B = s->t->block_size;
	uint64_t total = ((uint64_t)q->input_tokens + s->rs[row].generated + B - 1) / B;

	return total > s->rs[row].cacheable ? (uint32_t)(total - s->rs[row].cacheable) : 0;
}

/* The cached part of the pool: its size minus the output blocks held. */
static void set_cache_capacity(struct inst *I)
{
	struct kv_cache *c = I->cache;

	if (I->pool == KV_CAPACITY_INF)
		return;
	c->capacity = I->pool > I->anon_total ? I->pool - I->anon_total : 0;
	while (c->resident > c->capacity)
		if (!cache_evict_one(c))
			break;
}

/* Takes n output blocks out of the cached part of the pool, evicting as needed (the
 * caller checked that they fit). */
static void take_anon(struct inst *I, struct rstate *r, uint32_t n)
{
	r->anon += n;
	I->anon_total += n;
	set_cache_capacity(I);
}

static void release_blocks(struct sim *s, struct inst *I, uint32_t row, double now)
{
	const struct kv_request *q = &s->t->req[row];
	struct rstate *r = &s->rs[row];
	struct kv_access a = {q, row, 0, q->blk_off, now};

	cache_unpin_prefix(I->cache, trace_req_nodes(s->t, row), r->pinned, &a);
	r->pinned = 0;
	if (r->oversized) {
		I->nover--;
		r->oversized = 0;
	}
	I->anon_total -= r->anon - r->anon_over;
	r->anon = r->anon_over = 0;
	set_cache_capacity(I);
}

/* Admits the request at the head of the queue if the pool can hold it. Returns 1 if
 * admitted. O(blocks). */
static int admit(struct sim *s, struct inst *I, uint32_t row, double now)
{
	const struct kv_trace *t = s->t;
	const struct kv_request *q = &t->req[row];
	const uint32_t *nodes = trace_req_nodes(t, row);
	struct rstate *r = &s->rs[row];
	struct kv_cache *c = I->cache;
	struct kv_access a = {q, row, 0, q->blk_off, now};
	uint32_t cacheable, max_hits, hits, anon = 0;
	uint64_t hit_tok, work;

	if (I->nover)
		return 0; /* a request larger than the pool runs alone */
	cache_rule_limits(s->cfg->hit_rule, t->block_size, q, &cacheable, &max_hits);
	r->cacheable = cacheable;
	r->oversized = 0;
	if (s->cfg->preemption)
		anon = anon_needed(s, row);
	if (I->pool != KV_CAPACITY_INF) {
		if ((uint64_t)cacheable + anon > I->pool) {
			if (I->nrun)
				return 0;
			r->oversized = 1;
			I->nover++;
			anon = 0;
		} else if (c->pinned + cache_unpinned_count(c, nodes, cacheable) + anon >
			   c->capacity) {
			return 0;
		}
	}
	hits = cache_prefix_hits(c, nodes, cacheable);
	if (hits > max_hits)
		hits = max_hits;
	hit_tok = trace_hit_tokens(t, q, hits);
	if (rq(s, row)->start_s < 0) {
		struct timed_req *x = rq(s, row);

		x->start_s = now;
		x->hit_blocks = hits;
		x->hit_tokens = hit_tok;
		c->st.requests++;
		c->st.blocks += q->nblocks;
		c->st.hit_blocks += hits;
		c->st.tokens += q->input_tokens;
		c->st.hit_tokens += hit_tok;
	}
	cache_touch(c, nodes, cacheable, &a);
	if (!r->oversized)
		r->pinned = cache_pin_prefix(c, nodes, cacheable);
	if (anon)
		take_anon(I, r, anon);
	/* the whole prompt (and, after a preemption, the output so far) minus the hit; a
	 * full hit still computes one token to sample from */
	work = (uint64_t)q->input_tokens + r->generated;
	r->prefill_total = work > hit_tok ? work - hit_tok : 1;
	r->ctx0 = work - r->prefill_total;
	r->prefill_done = 0;
	I->queued_prefill -= r->est_prefill;
	I->queued_prefill += r->prefill_total;
	r->est_prefill = 0;
	r->state = RS_RUNNING;
	I->run[I->nrun++] = row;
	return 1;
}

/* Preempts running request k (recompute): its blocks are released (they stay cached)
 * and it goes back to the front of the queue. */
static void preempt(struct sim *s, struct inst *I, uint32_t k, double now)
{
	uint32_t row = I->run[k];
	struct rstate *r = &s->rs[row];

	release_blocks(s, I, row, now);
	I->queued_prefill -= r->prefill_total - r->prefill_done;
	r->est_prefill = (uint64_t)s->t->req[row].input_tokens + r->generated;
	I->queued_prefill += r->est_prefill;
	r->state = RS_WAITING;
	r->chunk = 0;
	memmove(&I->run[k], &I->run[k + 1], (I->nrun - k - 1) * sizeof(*I->run));
	I->nrun--;
	if (wq_push_front(I, row))
		s->oom = 1;
	rq(s, row)->preemptions++;
	s->res->preemptions++;
}

/* Makes room for one more output block of running request k; may preempt the newest
 * running requests (vLLM v1 preempts from the end of the running list), k included.
 * Returns 1 if k still runs. */
static int grow_one(struct sim *s, struct inst *I, uint32_t k, double now)
{
	struct kv_cache *c = I->cache;
	struct rstate *r = &s->rs[I->run[k]];

	for (;;) {
		if (c->capacity == KV_CAPACITY_INF || c->pinned + 1 <= c->capacity) {
			take_anon(I, r, 1);
			return 1;
		}
		if (I->nrun - 1 == k) {
			if (k == 0) { /* alone and still too big: over-commit, never loop */
				r->anon++;
				r->anon_over++;
				return 1;
			}
			preempt(s, I, k, now);
			return 0;
		}
		preempt(s, I, I->nrun - 1, now);
	}
}

/* Adds request r's next chunk (prefill) to the batch shape; returns tokens taken. */
static uint64_t add_prefill(struct rstate *r, uint64_t budget, struct kv_batch_shape *b)
{
	uint64_t c = r->prefill_total - r->prefill_done;

	if (c > budget)
		c = budget;
	r->chunk = c;
	r->chunk_prefill = 1;
	b->prefill_tokens += c;
	b->prefill_attn_pairs += cost_chunk_pairs(r->ctx0 + r->prefill_done, c);
	return c;
}

/* Starts an iteration on an idle instance if it has work. O(batch). */
static void inst_step(struct sim *s, uint32_t i, double now)
{
	struct inst *I = &s->inst[i];
	uint64_t budget = s->cfg->max_batched_tokens;
	struct kv_batch_shape b = {0};
	int any = 0;
	double d;

	if (I->busy)
		return;
	for (uint32_t k = 0; k < I->nrun; k++) {
		uint32_t row = I->run[k];
		struct rstate *r = &s->rs[row];

		r->chunk = 0;
		if (!budget)
			continue;
		if (r->prefill_done < r->prefill_total) {
			budget -= add_prefill(r, budget, &b);
		} else {
			if (s->cfg->preemption && !r->oversized && anon_needed(s, row) > r->anon &&
			    !grow_one(s, I, k, now))
				break; /* k itself was preempted: it was the last */
			r->chunk = 1;
			r->chunk_prefill = 0;
			b.decode_seqs++;
			b.decode_ctx_tokens += (uint64_t)s->t->req[row].input_tokens + r->generated;
			budget--;
		}
		any = 1;
	}
	while (I->wq_len && I->nrun < s->cfg->max_num_seqs && budget) {
		uint32_t row = wq_front(I);

		if (!admit(s, I, row, now))
			break;
		wq_pop_front(I);
		budget -= add_prefill(&s->rs[row], budget, &b);
		any = 1;
	}
	if (!any)
		return;
	d = cost_iteration_s(s->cfg->cost, &b);
	I->busy = 1;
	s->res->inst[i].iterations++;
	s->res->inst[i].busy_s += d;
	s->res->iterations++;
	if (event_push(&s->heap, now + d, EV_ITER_END, i))
		s->oom = 1;
}

static void push_arrival(struct sim *s, uint32_t row, double t_s)
{
	s->rs[row].state = RS_PENDING;
	rq(s, row)->arrival_s = t_s;
	if (event_push(&s->heap, t_s, EV_ARRIVAL, row))
		s->oom = 1;
}

/* The next open-loop arrival (closed loop: the next root). */
static void next_arrival(struct sim *s)
{
	const struct kv_trace *t = s->t;

	while (s->cursor < s->norder) {
		uint32_t row = s->order[s->cursor++];
		int32_t p = t->req[row].parent_row;

		if (s->cfg->closed && p != KV_NO_ROW && s->rs[p].res >= 0)
			continue; /* released by its parent */
		push_arrival(s, row, (t->req[row].ts_s - s->cfg->begin_s) / s->cfg->rate_scale);
		return;
	}
}

static void complete(struct sim *s, uint32_t i, uint32_t row, double now,
		     const struct route_request *rr)
{
	const struct kv_trace *t = s->t;
	const struct kv_request *q = &t->req[row];
	struct inst *I = &s->inst[i];
	struct rstate *r = &s->rs[row];

	release_blocks(s, I, row, now);
	r->state = RS_DONE;
	rq(s, row)->end_s = now;
	I->total_tokens -= (uint64_t)q->input_tokens + q->output_tokens;
	s->res->completed++;
	s->res->output_tokens += q->output_tokens ? q->output_tokens : 1;
	if (now > s->res->last_end_s)
		s->res->last_end_s = now;
	if (s->cfg->route->on_complete)
		s->cfg->route->on_complete(s->router, rr, i);
	if (s->cfg->closed)
		for (uint32_t ch = r->first_child; ch != UINT32_MAX; ch = s->rs[ch].next_sib)
			push_arrival(s, ch, now + (t->req[ch].ts_s - q->ts_s) / s->cfg->rate_scale);
}

static void route_request_of(const struct sim *s, uint32_t row, struct route_request *rr)
{
	const struct kv_trace *t = s->t;
	const struct kv_request *q = &t->req[row];
	uint32_t cacheable, max_hits;
	int32_t root = (int32_t)row;

	while (t->req[root].parent_row != KV_NO_ROW)
		root = t->req[root].parent_row;
	cache_rule_limits(s->cfg->hit_rule, t->block_size, q, &cacheable, &max_hits);
	rr->row = row;
	rr->session = t->req[root].chat_id;
	rr->input_tokens = q->input_tokens;
	rr->output_tokens = q->output_tokens;
	rr->blocks = cacheable;
	rr->block_size = t->block_size;
}

static void on_iter_end(struct sim *s, uint32_t i, double now)
{
	struct inst *I = &s->inst[i];
	uint32_t keep = 0;

	I->busy = 0;
	for (uint32_t k = 0; k < I->nrun; k++) {
		uint32_t row = I->run[k];
		struct rstate *r = &s->rs[row];
		uint32_t out = s->t->req[row].output_tokens ? s->t->req[row].output_tokens : 1;

		if (r->chunk && r->chunk_prefill) {
			r->prefill_done += r->chunk;
			I->queued_prefill -= r->chunk;
			/* the chunk that completes the prefill samples a token: the first one, or
			 * after a recompute preemption the next one (vLLM v1 recomputes prompt +
			 * output so far and samples at its end) */
			if (r->prefill_done == r->prefill_total) {
				if (r->generated == 0)
					rq(s, row)->first_token_s = now;
				r->generated++;
			}
		} else if (r->chunk) {
			r->generated++;
		}
		r->chunk = 0;
		if (r->prefill_done == r->prefill_total && r->generated >= out) {
			struct route_request rr;

			route_request_of(s, row, &rr);
			complete(s, i, row, now, &rr);
			continue;
		}
		I->run[keep++] = row;
	}
	I->nrun = keep;
	inst_step(s, i, now);
}

static void on_arrival(struct sim *s, uint32_t row, double now)
{
	const struct kv_trace *t = s->t;
	const struct kv_request *q = &t->req[row];
	const uint32_t *nodes = trace_req_nodes(t, row);
	struct route_request rr;
	struct route_view v = {s->cfg->instances, s->view, now, s->cfg->max_num_seqs};
	uint32_t cacheable, max_hits, pick;
	struct inst *I;

	route_request_of(s, row, &rr);
	cache_rule_limits(s->cfg->hit_rule, t->block_size, q, &cacheable, &max_hits);
	for (uint32_t i = 0; i < s->cfg->instances; i++) {
		struct inst *x = &s->inst[i];
		struct route_inst *w = &s->view[i];
		uint32_t h = cache_prefix_hits(x->approx ? x->approx : x->cache, nodes, cacheable);

		if (h > max_hits)
			h = max_hits;
		w->hit_blocks = h;
		w->hit_tokens = trace_hit_tokens(t, q, h);
		w->queued_prefill_tokens = x->queued_prefill;
		w->running = x->nrun;
		w->waiting = (uint32_t)x->wq_len;
		w->kv_used_blocks = x->cache->pinned + x->anon_total;
		w->kv_cached_blocks = x->approx ? x->approx->resident : x->cache->resident;
		w->kv_capacity_blocks = x->pool;
		w->total_tokens = x->total_tokens;
	}
	pick = s->cfg->route->pick(s->router, &rr, &v);
	if (pick >= s->cfg->instances)
		pick = 0;
	if (s->cfg->route->on_dispatch)
		s->cfg->route->on_dispatch(s->router, &rr, pick);
	I = &s->inst[pick];
	if (I->approx) {
		struct kv_access a = {q, row, 0, q->blk_off, now};

		cache_touch(I->approx, nodes, cacheable, &a);
	}
	s->rs[row].est_prefill = route_uncached_tokens(&rr, &s->view[pick]);
	I->queued_prefill += s->rs[row].est_prefill;
	I->total_tokens += (uint64_t)q->input_tokens + q->output_tokens;
	s->rs[row].state = RS_WAITING;
	rq(s, row)->instance = (int32_t)pick;
	s->res->inst[pick].routed++;
	if (wq_push_back(I, row))
		s->oom = 1;
	inst_step(s, pick, now);
}

static void sim_free(struct sim *s)
{
	if (s->inst)
		for (uint32_t i = 0; i < s->cfg->instances; i++) {
			cache_destroy(s->inst[i].cache);
			cache_destroy(s->inst[i].approx);
			free(s->inst[i].wq);
			free(s->inst[i].run);
		}
	free(s->inst);
	if (s->router)
		s->cfg->route->destroy(s->router);
	free(s->rs);
	free(s->view);
	free(s->order);
	event_heap_free(&s->heap);
}

double timed_block_table_bytes(const struct kv_trace *t, const struct timed_config *cfg)
{
	return (double)cfg->instances * (cfg->approx_view ? 2 : 1) * ((double)t->nnodes + 1) *
	       sizeof(struct kv_block);
}

/* Physical memory of the machine in bytes, 0 if unknown. O(1). */
static double phys_mem_bytes(void)
{
	long pages = sysconf(_SC_PHYS_PAGES), size = sysconf(_SC_PAGESIZE);

	return pages > 0 && size > 0 ? (double)pages * (double)size : 0;
}

static int sim_init(struct sim *s, struct kv_err *err)
{
	const struct kv_trace *t = s->t;
	const struct timed_config *cfg = s->cfg;
	struct timed_result *res = s->res;
	const struct evict_ops *lru = evict_find("lru");
	double need_b = timed_block_table_bytes(t, cfg), phys_b = phys_mem_bytes();
	int rc;

	if (phys_b > 0 && need_b > phys_b)
		return kv_fail(err, KV_EINPUT, "%u instances x %u chain nodes need %.1f GB of block "
			       "tables%s, more than this machine's %.1f GB of memory; use fewer "
			       "instances", cfg->instances, t->nnodes, need_b / 1e9,
			       cfg->approx_view ? " (approx index included)" : "", phys_b / 1e9);
	s->rs = calloc(t->nreq ? t->nreq : 1, sizeof(*s->rs));
	s->order = malloc((t->nreq ? t->nreq : 1) * sizeof(*s->order));
	s->inst = calloc(cfg->instances, sizeof(*s->inst));
	s->view = calloc(cfg->instances, sizeof(*s->view));
	res->inst = calloc(cfg->instances, sizeof(*res->inst));
	res->ninst = cfg->instances;
	if (!s->rs || !s->order || !s->inst || !s->view || !res->inst)
		return kv_fail(err, KV_ERUNTIME, "out of memory");
	for (size_t r = 0; r < t->nreq; r++) {
		double ts = t->req[r].ts_s;

		s->rs[r].res = -1;
		s->rs[r].first_child = s->rs[r].next_sib = UINT32_MAX;
		if (ts >= cfg->begin_s && ts < cfg->end_s) {
			/* an arrival time that overflows would turn every latency into NaN */
			if (!isfinite((ts - cfg->begin_s) / cfg->rate_scale))
				return kv_fail(err, KV_EINPUT, "request %zu: arrival time (%g - %g) / "
					       "%g is not a finite number of seconds; check --begin "
					       "and --rate-scale", r, ts, cfg->begin_s,
					       cfg->rate_scale);
			s->order[s->norder++] = (uint32_t)r;
		}
	}
	res->req = calloc(s->norder ? s->norder : 1, sizeof(*res->req));
	if (!res->req)
		return kv_fail(err, KV_ERUNTIME, "out of memory");
	res->nreq = s->norder;
	for (size_t k = 0; k < s->norder; k++) {
		uint32_t row = s->order[k];
		struct timed_req *x = &res->req[k];

		s->rs[row].res = (int32_t)k;
		*x = (struct timed_req){row, -1, -1, -1, -1, -1, 0, 0, 0};
	}
	/* closed loop: children lists, in reverse so that siblings release in row order */
	for (size_t k = s->norder; k-- > 0;) {
		uint32_t row = s->order[k];
		int32_t p = t->req[row].parent_row;

		if (p != KV_NO_ROW && s->rs[p].res >= 0) {
			s->rs[row].next_sib = s->rs[p].first_child;
			s->rs[p].first_child = row;
		}
	}
	for (uint32_t i = 0; i < cfg->instances; i++) {
		struct inst *I = &s->inst[i];

		I->pool = cfg->capacity_blocks;
		if ((rc = cache_create(&I->cache, t, cfg->evict, cfg->evict_params,
				       cfg->capacity_blocks, cfg->hit_rule, err)))
			return rc;
		if (cfg->approx_view &&
		    (rc = cache_create(&I->approx, t, lru, NULL,
				       cfg->approx_blocks ? cfg->approx_blocks : cfg->capacity_blocks,
				       cfg->hit_rule, err)))
			return rc;
		I->run = malloc(((size_t)cfg->max_num_seqs + 1) * sizeof(*I->run));
		if (!I->run)
			return kv_fail(err, KV_ERUNTIME, "out of memory");
	}
	if ((rc = cfg->route->create(&s->router, cfg->route_params, cfg->instances, cfg->seed,
				     err)))
		return rc;
	return KV_OK;
}

int timed_run(const struct kv_trace *t, const struct timed_config *cfg,
	      struct timed_result *res, struct kv_err *err)
{
	struct sim s = {.t = t, .cfg = cfg, .res = res};
	double w0 = wall_now_s();
	struct event e;
	int rc;

	memset(res, 0, sizeof(*res));
	if (!cfg->instances || !cfg->max_num_seqs || cfg->max_num_seqs > TIMED_MAX_SEQS ||
	    !cfg->max_batched_tokens || !(cfg->rate_scale > 0))
		return kv_fail(err, KV_EINPUT, "bad timed configuration (instances, max_num_seqs "
			       "in [1, %u], max_num_batched_tokens, rate_scale > 0)", TIMED_MAX_SEQS);
	if ((rc = sim_init(&s, err)))
		goto out;
	next_arrival(&s);
	while (!event_pop(&s.heap, &e)) {
		res->events++;
		if (e.cls == EV_ITER_END) {
			on_iter_end(&s, e.id, e.t_s);
		} else {
			int32_t p = t->req[e.id].parent_row;

			/* one cursor arrival is in the heap at a time; a closed-loop child was
			 * pushed by its parent instead */
			if (!cfg->closed || p == KV_NO_ROW || s.rs[p].res < 0)
				next_arrival(&s);
			on_arrival(&s, e.id, e.t_s);
		}
		if (s.oom) {
			rc = kv_fail(err, KV_ERUNTIME, "out of memory");
			goto out;
		}
	}
	/* every request ran to completion and gave all its blocks back */
	for (uint32_t i = 0; i < cfg->instances; i++) {
		const struct inst *I = &s.inst[i];

		if (I->cache->pinned || I->anon_total || I->nrun || I->nover || I->wq_len ||
		    I->busy || (I->pool != KV_CAPACITY_INF && I->cache->capacity != I->pool)) {
			rc = kv_fail(err, KV_ERUNTIME, "internal error: instance %u ends with %llu "
				     "pinned blocks, %u running, %zu waiting", i,
				     (unsigned long long)I->cache->pinned, I->nrun, I->wq_len);
			goto out;
		}
	}
	if (res->completed != res->nreq) {
		rc = kv_fail(err, KV_ERUNTIME, "internal error: %llu of %zu requests completed",
			     (unsigned long long)res->completed, res->nreq);
		goto out;
	}
	res->first_arrival_s = res->nreq ? INFINITY : 0;
	for (size_t k = 0; k < res->nreq; k++)
		if (res->req[k].arrival_s >= 0 && res->req[k].arrival_s < res->first_arrival_s)
			res->first_arrival_s = res->req[k].arrival_s;
	for (uint32_t i = 0; i < cfg->instances; i++) {
		const struct kv_cache_stats *c = &s.inst[i].cache->st;

		res->inst[i].st = *c;
		res->st.requests += c->requests;
		res->st.blocks += c->blocks;
		res->st.hit_blocks += c->hit_blocks;
		res->st.tokens += c->tokens;
		res->st.hit_tokens += c->hit_tokens;
		res->st.inserts += c->inserts;
		res->st.evictions += c->evictions;
	}
	rc = KV_OK;
out:
	sim_free(&s);
	res->wall_s = wall_now_s() - w0;
	return rc;
}

void timed_result_free(struct timed_result *res)
{
	free(res->req);
	free(res->inst);
	res->req = NULL;
	res->inst = NULL;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* Nearest-rank percentile of sorted v[0..n): v[ceil(p n) - 1]. */
static double pct(const double *v, uint64_t n, double p)
{
	uint64_t k = (uint64_t)ceil(p * (double)n);

	return n ? v[k ? k - 1 : 0] : 0;
}

static void dist(double *v, uint64_t n, struct timed_dist *d)
{
	double sum = 0;

	qsort(v, n, sizeof(*v), cmp_double);
	for (uint64_t k = 0; k < n; k++)
		sum += v[k];
	d->n = n;
	d->mean = n ? sum / (double)n : 0;
	d->p50 = pct(v, n, 0.50);
	d->p90 = pct(v, n, 0.90);
	d->p99 = pct(v, n, 0.99);
}

int timed_summarize(const struct timed_result *res, const struct kv_trace *t,
		    struct timed_summary *out)
{
	double *v = malloc((res->nreq ? res->nreq : 1) * sizeof(*v));
	uint64_t n;
	double span;

	memset(out, 0, sizeof(*out));
	if (!v)
		return KV_ERUNTIME;
#define COLLECT(field, expr, cond)                                    \
	n = 0;                                                        \
	for (size_t k = 0; k < res->nreq; k++) {                      \
		const struct timed_req *x = &res->req[k];             \
		if (x->end_s >= 0 && (cond))                          \
			v[n++] = (expr);                              \
	}                                                             \
	dist(v, n, &out->field);
	COLLECT(ttft, x->first_token_s - x->arrival_s, 1)
	COLLECT(tpot, (x->end_s - x->first_token_s) / (t->req[x->row].output_tokens - 1),
		t->req[x->row].output_tokens > 1)
	COLLECT(e2e, x->end_s - x->arrival_s, 1)
	COLLECT(queue, x->start_s - x->arrival_s, 1)
#undef COLLECT
	span = res->last_end_s - res->first_arrival_s;
	out->throughput_rps = span > 0 ? (double)res->completed / span : 0;
	out->output_tps = span > 0 ? (double)res->output_tokens / span : 0;
	free(v);
	return KV_OK;
}
