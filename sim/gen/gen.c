/*
 * gen.c - the synthetic trace generator (see gen.h and gen_profile.h for the model).
 *
 * State: the root-arrival process (next arrival time, current burst window), a binary heap
 * of live sessions keyed by the time of their next turn, the head pools (first id and length
 * of each entry used so far), the common-id pool, per type the number of sessions so far
 * (the index into its low-discrepancy sequence of planned session lengths), and per type and
 * length class the gap sequences (gen.h). Ids are handed out from one counter in first-use
 * order, like the remapped content hashes of the public traces.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <zlib.h>

#include "gen.h"
#include "outfile.h"

struct gen_session {
	int64_t last_chat_id;      /* the request the next turn continues */
	int type;
	int turn;                  /* turn of the last request */
	int planned_turns;         /* turns it runs unless the context or the trace ends first */
	int len_class;             /* gen_length_class(planned_turns): its gap sequences */
	uint32_t input_tokens, output_tokens;
	uint64_t *ids;             /* the last request's ids */
	uint32_t nids, cap;
	double next_ts;            /* arrival of the next turn */
	uint64_t seq;              /* tie-break: scheduling order */
};

struct gen_pool {
	struct gen_zipf zipf;
	uint64_t *first_id;        /* per entry: first id + 1, 0 while unused */
	uint32_t *nblocks;
};

/* floor(log2 T) for T <= max_turns <= 10^6 < 2^20 */
#define GEN_LEN_CLASSES 20

/* The gap sequences of one type and length class, one per depth (index depth - 1), grown
 * as deeper turns are reached: at most max_turns - 1 of them, whatever the duration. */
struct gen_gap_seqs {
	double *shift;             /* per depth: the sequence's start, drawn from rng */
	uint64_t *drawn;           /* per depth: gaps drawn so far (the next index n) */
	uint32_t len;              /* depths allocated; shifts drawn in depth order */
	struct gen_rng rng;        /* this group's own stream: shifts do not depend on order */
};

struct gen {
	const struct gen_profile *p;
	struct gen_opts o;
	struct gen_rng rng;
	double type_cum[GEN_MAX_TYPES];
	double turns_u0[GEN_MAX_TYPES];      /* per type: start of its session-length sequence */
	uint64_t type_sessions[GEN_MAX_TYPES]; /* per type: sessions started so far */
	struct gen_gap_seqs gaps[GEN_MAX_TYPES][GEN_LEN_CLASSES];

	double next_root_s;
	double window_end_s, window_rate;

	struct gen_session **heap;  /* min-heap on (next_ts, seq) */
	size_t nheap, heap_cap;
	struct gen_session *done;   /* emitted last and not continued: freed on the next call */
	uint64_t seq;

	struct gen_pool pools[GEN_MAX_POOLS];
	struct gen_zipf common_zipf;
	uint64_t *common_id;        /* per entry: id + 1, 0 while unused */

	uint64_t next_id;
	int64_t next_chat_id;
	uint64_t live_ids;
	struct gen_stats st;
};

static int heap_less(const struct gen_session *a, const struct gen_session *b)
{
	return a->next_ts < b->next_ts || (a->next_ts == b->next_ts && a->seq < b->seq);
}

/* O(log n). */
static int heap_push(struct gen *g, struct gen_session *s)
{
	size_t i;

	if (g->nheap == g->heap_cap) {
		size_t cap = g->heap_cap ? 2 * g->heap_cap : 256;
		struct gen_session **h = realloc(g->heap, cap * sizeof(*h));

		if (!h)
			return KV_ERUNTIME;
		g->heap = h;
		g->heap_cap = cap;
	}
	s->seq = g->seq++;
	i = g->nheap++;
	while (i > 0 && heap_less(s, g->heap[(i - 1) / 2])) {
		g->heap[i] = g->heap[(i - 1) / 2];
		i = (i - 1) / 2;
	}
	g->heap[i] = s;
	return KV_OK;
}

/* O(log n). */
static struct gen_session *heap_pop(struct gen *g)
{
	struct gen_session *top = g->heap[0], *last = g->heap[--g->nheap];
	size_t i = 0;

	for (;;) {
		size_t c = 2 * i + 1;

		if (c >= g->nheap)
			break;
		if (c + 1 < g->nheap && heap_less(g->heap[c + 1], g->heap[c]))
			c++;
		if (!heap_less(g->heap[c], last))
			break;
		g->heap[i] = g->heap[c];
		i = c;
	}
	if (g->nheap)
		g->heap[i] = last;
	return top;
}

static void session_free(struct gen *g, struct gen_session *s)
{
	if (!s)
		return;
	g->live_ids -= s->cap;
	free(s->ids);
	free(s);
}

static int session_reserve(struct gen *g, struct gen_session *s, uint32_t n)
{
	uint64_t *ids;
	uint32_t cap;

	if (n <= s->cap)
		return KV_OK;
	cap = s->cap ? s->cap : 16;
	while (cap < n)
		cap *= 2;
	ids = realloc(s->ids, (size_t)cap * sizeof(*ids));
	if (!ids)
		return KV_ERUNTIME;
	g->live_ids += cap - s->cap;
	s->ids = ids;
	s->cap = cap;
	return KV_OK;
}

/* The id of a block of new content: fresh, or with probability common_prob one of the
 * common blocks (which then recurs after a different prefix). */
static uint64_t fresh_id(struct gen *g)
{
	if (g->p->common_prob > 0 && gen_rng_uniform(&g->rng) < g->p->common_prob) {
		uint32_t k = gen_zipf_sample(&g->common_zipf, &g->rng);

		if (!g->common_id[k])
			g->common_id[k] = ++g->next_id;
		return g->common_id[k] - 1;
	}
	return g->next_id++;
}

/* Starts the next burst window: a lognormal rate factor with mean 1. */
static void next_window(struct gen *g)
{
	double sg = g->p->burst_sigma;
	double f = exp(sg * gen_rng_normal(&g->rng) - 0.5 * sg * sg);

	g->window_end_s += g->p->burst_window_s;
	g->window_rate = g->p->sessions_per_s * g->o.rate_scale * f;
}

/* Advances next_root_s by one arrival of the piecewise-constant-rate Poisson process. */
static void next_root(struct gen *g)
{
	double t = g->next_root_s;

	for (;;) {
		double dt = g->window_rate > 0 ? gen_rng_exp(&g->rng) / g->window_rate : INFINITY;

		if (t + dt < g->window_end_s) {
			g->next_root_s = t + dt;
			return;
		}
		t = g->window_end_s;
		if (t >= g->o.duration_s) {
			g->next_root_s = INFINITY;
			return;
		}
		next_window(g);
	}
}

static uint32_t tokens(double x)
{
	if (x < 1)
		return 1;
	if (x > 1e9)
		return 1000000000u;
	return (uint32_t)llround(x);
}

static uint32_t ceil_div(uint32_t a, uint32_t b)
{
	return a / b + (a % b != 0);
}

/* Length of pool entry k (by popularity rank): the entries' lengths are spread evenly over
 * the distribution by a low-discrepancy sequence (golden ratio and sqrt 2 multiples), not
 * drawn, so that the few hottest heads, which carry much of the cross-session reuse, do
 * not swing in size from seed to seed. O(1). */
static uint32_t entry_blocks(const struct gen_dist *d, uint32_t k)
{
	double u = fmod((k + 1) * 0.6180339887498949, 1.0);
	double c = fmod((k + 1) * 0.4142135623730951, 1.0);

	return tokens(gen_dist_quantile(d, c, u));
}

/* A first request: heads, then the user's message. */
static int build_root(struct gen *g, struct gen_session *s)
{
	const struct gen_type_conf *t = &g->p->types[s->type];
	uint32_t B = g->p->block_size, head_blocks = 0, msg, n;
	double u = t->heads_exclusive ? gen_rng_uniform(&g->rng) : 0;
	int rc;

	for (int h = 0; h < t->nheads; h++) {
		struct gen_pool *pl = &g->pools[t->heads[h].pool];
		uint32_t k, nb;

		if (t->heads_exclusive) {
			/* one head at most: the one whose probability interval holds u */
			u -= t->heads[h].prob;
			if (u >= 0)
				continue;
			u = INFINITY;
		} else if (gen_rng_uniform(&g->rng) >= t->heads[h].prob) {
			continue;
		}
		k = gen_zipf_sample(&pl->zipf, &g->rng);
		if (!pl->first_id[k]) {
			pl->nblocks[k] = entry_blocks(&g->p->pools[t->heads[h].pool].blocks, k);
			pl->first_id[k] = g->next_id + 1;
			g->next_id += pl->nblocks[k];
		}
		nb = pl->nblocks[k];
		if ((uint64_t)(head_blocks + (uint64_t)nb) * B >= g->p->max_input_tokens)
			break; /* heads alone would fill the context: keep the ones so far */
		if ((rc = session_reserve(g, s, head_blocks + nb)))
			return rc;
		for (uint32_t i = 0; i < nb; i++)
			s->ids[head_blocks + i] = pl->first_id[k] - 1 + i;
		head_blocks += nb;
	}
	msg = tokens(gen_dist_sample(&t->message_tokens, &g->rng));
	if ((uint64_t)head_blocks * B + msg > g->p->max_input_tokens)
		msg = g->p->max_input_tokens - head_blocks * B; /* >= 1: heads stop below it */
	s->input_tokens = head_blocks * B + msg;
	n = ceil_div(s->input_tokens, B);
	if ((rc = session_reserve(g, s, n)))
		return rc;
	for (uint32_t i = head_blocks; i < n; i++)
		s->ids[i] = fresh_id(g);
	s->nids = n;
	return KV_OK;
}

/* A follow-up turn: all the parent's blocks but the last (whose padding the first output
 * token fills), then the kept output and the new message in new blocks. Returns 1 when the
 * context would exceed the profile's limit (the session ends instead). */
static int build_child(struct gen *g, struct gen_session *s, int *too_long)
{
	const struct gen_type_conf *t = &g->p->types[s->type];
	uint32_t B = g->p->block_size, keep, n;
	uint64_t len;
	int rc;

	len = (uint64_t)s->input_tokens + (uint64_t)llround(s->output_tokens * t->output_kept) +
	      tokens(gen_dist_sample(&t->followup_tokens, &g->rng));
	*too_long = len > g->p->max_input_tokens;
	if (*too_long)
		return KV_OK;
	s->input_tokens = (uint32_t)len;
	n = ceil_div(s->input_tokens, B);
	keep = s->nids ? s->nids - 1 : 0;
	if ((rc = session_reserve(g, s, n)))
		return rc;
	for (uint32_t i = keep; i < n; i++)
		s->ids[i] = fresh_id(g);
	s->nids = n;
	return KV_OK;
}

int gen_planned_turns(const struct gen_type_conf *t, double u)
{
	double surv = 1; /* P(T >= turn + 1) once multiplied by continue[turn - 1] */
	int turn = 1;

	if (!t->ncontinue)
		return 1;
	while (turn < t->max_turns) {
		surv *= t->cont[turn - 1 < t->ncontinue ? turn - 1 : t->ncontinue - 1];
		if (u >= surv)
			break;
		turn++;
	}
	return turn;
}

/* frac(shift + n x GEN_TURNS_ALPHA), shift in [0, 1). O(1). */
static double weyl(double shift, uint64_t n)
{
	return fmod(shift + fmod((double)n * GEN_TURNS_ALPHA, 1.0), 1.0);
}

double gen_turns_quantile(double u0, uint64_t k)
{
	double v = weyl(u0, k / 2);

	return k % 2 && v > 0 ? 1 - v : v;
}

int gen_length_class(int turns)
{
	int c = 0;

	while (turns > 1) {
		turns /= 2;
		c++;
	}
	return c;
}

/* Plans the length of a new session s of type i: the type's k-th quantile (k = sessions of
 * that type so far) through the inverse CDF of the continue chain. O(T). */
static void plan_turns(struct gen *g, int i, struct gen_session *s)
{
	double u = gen_turns_quantile(g->turns_u0[i], g->type_sessions[i]++);
	int c;

	s->planned_turns = gen_planned_turns(&g->p->types[i], u);
	c = gen_length_class(s->planned_turns);
	s->len_class = c < GEN_LEN_CLASSES ? c : GEN_LEN_CLASSES - 1;
}

/* Makes room for depth `depth` (1 <= depth <= max_depth) in q, drawing the new sequences'
 * shifts; doubles up to max_depth. O(depth). */
static int gap_seqs_grow(struct gen_gap_seqs *q, uint32_t depth, uint32_t max_depth)
{
	uint32_t len = q->len ? 2 * q->len : 8;
	double *shift;
	uint64_t *drawn;

	if (len > max_depth)
		len = max_depth;
	if (len < depth)
		len = depth;
	shift = realloc(q->shift, len * sizeof(*shift));
	if (!shift)
		return KV_ERUNTIME;
	q->shift = shift;
	drawn = realloc(q->drawn, len * sizeof(*drawn));
	if (!drawn)
		return KV_ERUNTIME;
	q->drawn = drawn;
	for (uint32_t d = q->len; d < len; d++) {
		shift[d] = gen_rng_uniform(&q->rng);
		drawn[d] = 0;
	}
	q->len = len;
	return KV_OK;
}

/* The gap after turn s->turn of session s: the next point of its group's sequence at that
 * depth, through gap_s (gen.h). O(1), or O(depth) when the depth is new to the group. */
static int next_gap(struct gen *g, struct gen_session *s, double *gap)
{
	struct gen_gap_seqs *q = &g->gaps[s->type][s->len_class];
	uint32_t d = (uint32_t)s->turn - 1;

	if (d >= q->len &&
	    gap_seqs_grow(q, d + 1, (uint32_t)g->p->types[s->type].max_turns - 1))
		return KV_ERUNTIME;
	*gap = gen_dist_at(&g->p->types[s->type].gap_s, weyl(q->shift[d], q->drawn[d]++));
	return KV_OK;
}

/* Picks a session type by weight. */
static int pick_type(struct gen *g)
{
	double u = gen_rng_uniform(&g->rng);
	int i = 0;

	while (i < g->p->ntypes - 1 && u >= g->type_cum[i])
		i++;
	return i;
}

/* After emitting a request: schedules the session's next turn, or marks it done. */
static int schedule_next(struct gen *g, struct gen_session *s, double now_s)
{
	double gap;

	if (s->turn >= s->planned_turns)
		goto done;
	if (next_gap(g, s, &gap)) {
		g->done = s;
		return KV_ERUNTIME;
	}
	if (gap < 0.001)
		gap = 0.001;
	s->next_ts = now_s + gap;
	if (s->next_ts >= g->o.duration_s)
		goto done;
	if (heap_push(g, s)) {
		g->done = s; /* freed on the next call or by gen_destroy */
		return KV_ERUNTIME;
	}
	return KV_OK;
done:
	g->done = s;
	return KV_OK;
}

int gen_next(struct gen *g, struct gen_record *rec, int *done)
{
	struct gen_session *s;
	double now;
	int rc, too_long = 0;

	session_free(g, g->done);
	g->done = NULL;
	*done = 0;
	for (;;) {
		if (g->nheap && g->heap[0]->next_ts < g->next_root_s) {
			s = heap_pop(g);
			now = s->next_ts;
			if ((rc = build_child(g, s, &too_long))) {
				session_free(g, s);
				return rc;
			}
			if (too_long) {
				session_free(g, s);
				continue;
			}
			rec->parent_chat_id = s->last_chat_id;
			s->turn++;
			break;
		}
		if (g->next_root_s >= g->o.duration_s) {
			*done = 1;
			return KV_OK;
		}
		now = g->next_root_s;
		next_root(g);
		s = calloc(1, sizeof(*s));
		if (!s)
			return KV_ERUNTIME;
		s->type = pick_type(g);
		s->turn = 1;
		plan_turns(g, s->type, s);
		if ((rc = build_root(g, s))) {
			session_free(g, s);
			return rc;
		}
		rec->parent_chat_id = -1;
		break;
	}
	s->output_tokens = tokens(gen_dist_sample(&g->p->types[s->type].output_tokens, &g->rng));
	s->last_chat_id = g->next_chat_id++;
	rec->chat_id = s->last_chat_id;
	rec->ts_ms = llround(now * 1000.0);
	rec->input_tokens = s->input_tokens;
	rec->output_tokens = s->output_tokens;
	rec->type = s->type;
	rec->turn = s->turn;
	rec->ids = s->ids;
	rec->nids = s->nids;
	g->st.requests++;
	g->st.blocks += s->nids;
	if ((rc = schedule_next(g, s, now)))
		return rc;
	if (g->nheap + 1 > g->st.live_sessions_max)
		g->st.live_sessions_max = g->nheap + 1;
	if (g->live_ids > g->st.live_ids_max)
		g->st.live_ids_max = g->live_ids;
	return KV_OK;
}

int gen_create(const struct gen_profile *p, const struct gen_opts *o, struct gen **out,
	       struct kv_err *err)
{
	struct gen *g = calloc(1, sizeof(*g));
	double wsum = 0, acc = 0;

	*out = NULL;
	if (!g)
		return kv_fail(err, KV_ERUNTIME, "out of memory");
	g->p = p;
	g->o = *o;
	if (g->o.duration_s <= 0)
		g->o.duration_s = p->duration_s;
	if (g->o.rate_scale <= 0)
		g->o.rate_scale = 1;
	gen_rng_seed(&g->rng, o->seed, 0);
	/* the session-length sequences start at seed-dependent points, from their own stream
	 * so that the main stream's draws do not depend on them */
	{
		struct gen_rng tr;

		gen_rng_seed(&tr, o->seed, 1);
		for (int i = 0; i < p->ntypes; i++)
			g->turns_u0[i] = gen_rng_uniform(&tr);
	}
	for (int i = 0; i < p->ntypes; i++)
		for (int c = 0; c < GEN_LEN_CLASSES; c++)
			gen_rng_seed(&g->gaps[i][c].rng, o->seed,
				     2 + (uint64_t)i * GEN_LEN_CLASSES + (uint64_t)c);
	for (int i = 0; i < p->ntypes; i++)
		wsum += p->types[i].weight;
	for (int i = 0; i < p->ntypes; i++) {
		acc += p->types[i].weight;
		g->type_cum[i] = acc / wsum;
	}
	for (int i = 0; i < p->npools; i++) {
		struct gen_pool *pl = &g->pools[i];

		if (gen_zipf_init(&pl->zipf, p->pools[i].size, p->pools[i].zipf))
			goto oom;
		pl->first_id = calloc(p->pools[i].size, sizeof(*pl->first_id));
		pl->nblocks = calloc(p->pools[i].size, sizeof(*pl->nblocks));
		if (!pl->first_id || !pl->nblocks)
			goto oom;
	}
	if (gen_zipf_init(&g->common_zipf, p->common_pool, p->common_zipf))
		goto oom;
	g->common_id = calloc(p->common_pool, sizeof(*g->common_id));
	if (!g->common_id)
		goto oom;
	g->window_end_s = 0;
	next_window(g);
	g->next_root_s = 0;
	next_root(g);
	*out = g;
	return KV_OK;
oom:
	gen_destroy(g);
	return kv_fail(err, KV_ERUNTIME, "out of memory");
}

void gen_destroy(struct gen *g)
{
	if (!g)
		return;
	session_free(g, g->done);
	for (size_t i = 0; i < g->nheap; i++)
		session_free(g, g->heap[i]);
	free(g->heap);
	for (int i = 0; i < GEN_MAX_POOLS; i++) {
		gen_zipf_free(&g->pools[i].zipf);
		free(g->pools[i].first_id);
		free(g->pools[i].nblocks);
	}
	gen_zipf_free(&g->common_zipf);
	free(g->common_id);
	for (int i = 0; i < GEN_MAX_TYPES; i++)
		for (int c = 0; c < GEN_LEN_CLASSES; c++) {
			free(g->gaps[i][c].shift);
			free(g->gaps[i][c].drawn);
		}
	free(g);
}

const struct gen_stats *gen_get_stats(const struct gen *g)
{
	return &g->st;
}

/* Output: plain or gzip (deflate with the gzip wrapper and no header fields, so mtime is 0
 * and the bytes depend only on the data). */
struct sink {
	FILE *f;
	int gz;
	z_stream z;
	unsigned char zbuf[1 << 16];
};

static int sink_write(struct sink *k, const void *data, size_t len, int finish)
{
	if (!k->gz)
		return fwrite(data, 1, len, k->f) == len ? KV_OK : KV_ERUNTIME;
	k->z.next_in = (unsigned char *)data;
	k->z.avail_in = (uInt)len;
	for (;;) {
		int zr;
		size_t have;

		k->z.next_out = k->zbuf;
		k->z.avail_out = sizeof(k->zbuf);
		zr = deflate(&k->z, finish ? Z_FINISH : Z_NO_FLUSH);
		if (zr == Z_STREAM_ERROR)
			return KV_ERUNTIME;
		have = sizeof(k->zbuf) - k->z.avail_out;
		if (have && fwrite(k->zbuf, 1, have, k->f) != have)
			return KV_ERUNTIME;
		if (finish ? zr == Z_STREAM_END : k->z.avail_in == 0 && k->z.avail_out != 0)
			return KV_OK;
	}
}

/* Appends the decimal digits of v. */
static char *put_u64(char *p, uint64_t v)
{
	char tmp[24];
	int n = 0;

	do {
		tmp[n++] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	while (n)
		*p++ = tmp[--n];
	return p;
}

static char *put_i64(char *p, int64_t v)
{
	if (v < 0) {
		*p++ = '-';
		return put_u64(p, (uint64_t)(-(v + 1)) + 1);
	}
	return put_u64(p, (uint64_t)v);
}

/* Formats one record as a Bailian JSONL line into buf (at least 256 + 21 * nids bytes). */
static size_t format_record(char *buf, const struct gen_profile *p, const struct gen_record *r)
{
	char *q = buf;

	q += sprintf(q, "{\"chat_id\":");
	q = put_i64(q, r->chat_id);
	q += sprintf(q, ",\"parent_chat_id\":");
	q = put_i64(q, r->parent_chat_id);
	q += sprintf(q, ",\"timestamp\":");
	q = put_i64(q, r->ts_ms / 1000);
	q += sprintf(q, ".%03d,\"input_length\":", (int)(r->ts_ms % 1000));
	q = put_u64(q, r->input_tokens);
	q += sprintf(q, ",\"output_length\":");
	q = put_u64(q, r->output_tokens);
	q += sprintf(q, ",\"type\":\"%s\",\"turn\":", p->types[r->type].name);
	q = put_u64(q, (uint64_t)r->turn);
	q += sprintf(q, ",\"hash_ids\":[");
	for (uint32_t i = 0; i < r->nids; i++) {
		if (i)
			*q++ = ',';
		q = put_u64(q, r->ids[i]);
	}
	q += sprintf(q, "]}\n");
	return (size_t)(q - buf);
}

static int has_suffix(const char *s, const char *suf)
{
	size_t n = strlen(s), m = strlen(suf);

	return n >= m && !strcmp(s + n - m, suf);
}

int gen_write_jsonl(const struct gen_profile *p, const struct gen_opts *o, const char *path,
		    struct gen_stats *st, struct kv_err *err)
{
	struct kv_outfile of;
	struct sink *k = NULL;
	struct gen *g = NULL;
	struct gen_record rec;
	char *buf = NULL;
	size_t bufcap = 0;
	int to_stdout = !strcmp(path, "-"), done = 0, rc, zinit = 0;

	if ((rc = gen_create(p, o, &g, err)))
		return rc;
	k = calloc(1, sizeof(*k));
	if (!k) {
		gen_destroy(g);
		return kv_fail(err, KV_ERUNTIME, "out of memory");
	}
	if (to_stdout) {
		k->f = stdout;
	} else {
		if ((rc = outfile_open(&of, path, err)))
			goto out;
		k->f = of.f;
	}
	k->gz = !to_stdout && has_suffix(path, ".gz");
	if (k->gz) {
		if (deflateInit2(&k->z, 6, Z_DEFLATED, 15 + 16, 9, Z_DEFAULT_STRATEGY) != Z_OK) {
			rc = kv_fail(err, KV_ERUNTIME, "zlib: cannot start deflate");
			goto fail;
		}
		zinit = 1;
	}
	for (;;) {
		size_t need, len;

		if ((rc = gen_next(g, &rec, &done))) {
			kv_fail(err, rc, "out of memory");
			goto fail;
		}
		if (done)
			break;
		need = 256 + 21 * (size_t)rec.nids;
		if (need > bufcap) {
			char *nb = realloc(buf, need);

			if (!nb) {
				rc = kv_fail(err, KV_ERUNTIME, "out of memory");
				goto fail;
			}
			buf = nb;
			bufcap = need;
		}
		len = format_record(buf, p, &rec);
		if ((rc = sink_write(k, buf, len, 0))) {
			kv_fail(err, rc, "%s: write failed", path);
			goto fail;
		}
	}
	if (k->gz && (rc = sink_write(k, "", 0, 1))) {
		kv_fail(err, rc, "%s: write failed", path);
		goto fail;
	}
	if (to_stdout) {
		if (fflush(stdout) || ferror(stdout))
			rc = kv_fail(err, KV_ERUNTIME, "writing to stdout failed");
	} else {
		rc = outfile_commit(&of, err);
	}
	goto out;
fail:
	if (!to_stdout)
		outfile_abort(&of);
out:
	if (st && g)
		*st = g->st;
	if (zinit)
		deflateEnd(&k->z);
	free(k);
	free(buf);
	gen_destroy(g);
	return rc;
}
