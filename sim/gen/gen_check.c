/*
 * gen_check.c - `kvsim gen --check` (see gen_check.h): generate, load with the trace reader,
 * measure, compare with the profile's "targets".
 *
 * Same-session vs cross-session hits (infinite cache): a hit block counts as same-session
 * when its chain node was first brought in by a request of the same session (the requests
 * under one root), else cross-session: a child's hit on a shared system prompt is a
 * cross-session hit, its hit on the session's own earlier messages a same-session one.
 */
#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cache_sweep.h"
#include "gen_check.h"
#include "registry.h"

enum tol_kind { TOL_REL10, TOL_REL20, TOL_ABS03 };

struct check_ctx {
	FILE *f;
	double tol_scale;
	double count_scale;
	int failed, rows;
};

/* Prints one row; a target of 0 with a relative tolerance must be met exactly. */
static void row(struct check_ctx *c, const char *name, double target, double got,
		enum tol_kind k, int is_ratio)
{
	double tol = (k == TOL_REL10 ? 0.10 : k == TOL_REL20 ? 0.20 : 0.03) * c->tol_scale;
	double err = k == TOL_ABS03 ? fabs(got - target)
		     : target != 0 ? fabs(got - target) / fabs(target) : fabs(got);
	int pass = err <= tol + 1e-12;
	char tb[32];

	if (k == TOL_ABS03)
		snprintf(tb, sizeof(tb), "+-%.3f", tol);
	else
		snprintf(tb, sizeof(tb), "+-%.0f%%", tol * 100);
	if (is_ratio)
		fprintf(c->f, "%-28s %14.4f %14.4f %10s  %s\n", name, target, got, tb,
			pass ? "PASS" : "FAIL");
	else
		fprintf(c->f, "%-28s %14.1f %14.1f %10s  %s\n", name, target, got, tb,
			pass ? "PASS" : "FAIL");
	c->rows++;
	c->failed += !pass;
}

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return (x > y) - (x < y);
}

static int cmp_dbl(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return (x > y) - (x < y);
}

/* Nearest-rank percentile of a sorted array. */
static double pct_u32(const uint32_t *v, size_t n, double q)
{
	size_t k = (size_t)ceil(q * (double)n);

	return n ? v[k ? k - 1 : 0] : 0;
}

static double pct_dbl(const double *v, size_t n, double q)
{
	size_t k = (size_t)ceil(q * (double)n);

	return n ? v[k ? k - 1 : 0] : 0;
}

static double tnum(const json_t *o, const char *key)
{
	const json_t *v = json_object_get(o, key);

	return json_is_number(v) ? json_number_value(v) : NAN;
}

/* mean/p50/p99 rows of a token-length column. */
static int length_rows(struct check_ctx *c, const struct kv_trace *t, const json_t *tg,
		       const char *name, int output)
{
	uint32_t *v;
	double sum = 0, x;
	char label[64];

	if (!tg)
		return KV_OK;
	v = malloc((t->nreq ? t->nreq : 1) * sizeof(*v));
	if (!v)
		return KV_ERUNTIME;
	for (size_t i = 0; i < t->nreq; i++) {
		v[i] = output ? t->req[i].output_tokens : t->req[i].input_tokens;
		sum += v[i];
	}
	qsort(v, t->nreq, sizeof(*v), cmp_u32);
	if (!isnan(x = tnum(tg, "mean"))) {
		snprintf(label, sizeof(label), "%s mean", name);
		row(c, label, x, t->nreq ? sum / (double)t->nreq : 0, TOL_REL10, 0);
	}
	if (!isnan(x = tnum(tg, "p50"))) {
		snprintf(label, sizeof(label), "%s p50", name);
		row(c, label, x, pct_u32(v, t->nreq, 0.50), TOL_REL20, 0);
	}
	if (!isnan(x = tnum(tg, "p99"))) {
		snprintf(label, sizeof(label), "%s p99", name);
		row(c, label, x, pct_u32(v, t->nreq, 0.99), TOL_REL20, 0);
	}
	free(v);
	return KV_OK;
}

static int turn_bucket(int turn)
{
	return turn <= 1 ? 0 : turn == 2 ? 1 : turn <= 5 ? 2 : turn <= 10 ? 3 : 4;
}

/* Infinite-cache pass: per-type ceilings and same/cross-session hit shares. A session is
 * the tree of requests under one root (parent links); a hit block is same-session when the
 * request that first brought its node into the cache belongs to the same session. O(blocks). */
struct hit_split {
	uint64_t hits, same, cross;
	uint64_t type_hits[KV_MAX_TYPES], type_blocks[KV_MAX_TYPES];
};

static int infinite_pass(const struct kv_trace *t, struct hit_split *hs)
{
	uint32_t *first = malloc((t->nnodes ? t->nnodes : 1) * sizeof(*first));
	uint32_t *sess = malloc((t->nreq ? t->nreq : 1) * sizeof(*sess));

	if (!first || !sess) {
		free(first);
		free(sess);
		return KV_ERUNTIME;
	}
	memset(hs, 0, sizeof(*hs));
	for (uint32_t i = 0; i < t->nnodes; i++)
		first[i] = UINT32_MAX;
	for (size_t r = 0; r < t->nreq; r++) {
		const struct kv_request *q = &t->req[r];
		const uint32_t *nodes = trace_req_nodes(t, r);
		uint32_t h = 0;

		/* parents come first in arrival order */
		sess[r] = q->parent_row != KV_NO_ROW && (size_t)q->parent_row < r
				  ? sess[q->parent_row] : (uint32_t)r;
		while (h < q->nblocks && first[nodes[h]] != UINT32_MAX)
			h++;
		for (uint32_t i = 0; i < h; i++) {
			if (first[nodes[i]] == sess[r])
				hs->same++;
			else
				hs->cross++;
		}
		hs->hits += h;
		hs->type_hits[q->type] += h;
		hs->type_blocks[q->type] += q->nblocks;
		for (uint32_t i = h; i < q->nblocks; i++)
			if (first[nodes[i]] == UINT32_MAX)
				first[nodes[i]] = sess[r];
	}
	free(first);
	free(sess);
	return KV_OK;
}

/* LRU block hit ratio at pct% of the distinct nodes. */
static int lru_point(const struct kv_trace *t, const char *pct, double *out, struct kv_err *err)
{
	struct cache_job job = {0};
	struct cache_job_result res = {0};
	char spec[32];
	int rc;

	if ((rc = evict_resolve("lru", &job.ops, &job.params, err)))
		return rc;
	snprintf(job.policy, sizeof(job.policy), "lru");
	snprintf(spec, sizeof(spec), "%s%%", pct);
	if ((rc = kv_capacity_parse(spec, &job.cap, err)) ||
	    (rc = kv_capacity_blocks(&job.cap, t->block_size, 1, t->nnodes, &job.capacity_blocks,
				     err)))
		return rc;
	if ((rc = cache_job_run(t, &job, KV_HIT_PREFIX, &res))) {
		*err = res.err;
		return rc;
	}
	*out = res.st.blocks ? (double)res.st.hit_blocks / (double)res.st.blocks : 0;
	return KV_OK;
}

static int type_index(const struct kv_trace *t, const char *name)
{
	for (int i = 0; i < t->ntypes; i++)
		if (!strcmp(t->type_names[i], name))
			return i;
	return -1;
}

/* Informational lines: ids that recur after different prefixes. */
static int id_recurrence(const struct kv_trace *t, FILE *f)
{
	uint64_t *h = malloc((t->nnodes ? t->nnodes : 1) * sizeof(*h));
	uint64_t ids = 0, multi = 0;

	if (!h)
		return KV_ERUNTIME;
	memcpy(h, t->node_hash, t->nnodes * sizeof(*h));
	qsort(h, t->nnodes, sizeof(*h), cmp_u64);
	for (uint32_t i = 0; i < t->nnodes;) {
		uint32_t j = i;

		while (j < t->nnodes && h[j] == h[i])
			j++;
		ids++;
		multi += j - i > 1;
		i = j;
	}
	fprintf(f, "# distinct ids %" PRIu64 ", distinct chain nodes %u (%.1f%% more); ids that "
		   "follow more than one prefix: %.2f%%\n", ids, t->nnodes,
		ids ? 100.0 * ((double)t->nnodes / (double)ids - 1) : 0,
		ids ? 100.0 * (double)multi / (double)ids : 0);
	free(h);
	return KV_OK;
}

static int measure(const struct gen_profile *p, const struct kv_trace *t, struct check_ctx *c,
		   struct kv_err *err)
{
	const json_t *tg = p->targets, *o, *v;
	struct hit_split *hs = NULL;
	struct kv_ceiling ceil;
	const char *key;
	uint64_t turns[5] = {0}, with_parent = 0;
	double *gaps = NULL, x;
	size_t ngaps = 0;
	char label[96];
	int rc = KV_ERUNTIME;

	if (!isnan(x = tnum(tg, "requests")))
		row(c, "requests", x * c->count_scale, (double)t->nreq, TOL_REL10, 0);
	if (length_rows(c, t, json_object_get(tg, "input_tokens"), "input tokens", 0) ||
	    length_rows(c, t, json_object_get(tg, "output_tokens"), "output tokens", 1))
		goto oom;
	gaps = malloc((t->nreq ? t->nreq : 1) * sizeof(*gaps));
	hs = malloc(sizeof(*hs));
	if (!gaps || !hs)
		goto oom;
	for (size_t i = 0; i < t->nreq; i++) {
		const struct kv_request *q = &t->req[i];

		with_parent += q->parent_chat_id >= 0;
		turns[turn_bucket(q->turn)]++;
		if (q->parent_row != KV_NO_ROW)
			gaps[ngaps++] = q->ts_s - t->req[q->parent_row].ts_s;
	}
	if (!isnan(x = tnum(tg, "with_parent_share")))
		row(c, "share with a parent", x,
		    t->nreq ? (double)with_parent / (double)t->nreq : 0, TOL_REL10, 1);
	if ((o = json_object_get(tg, "turns"))) {
		static const char *const names[5] = {"1", "2", "3-5", "6-10", ">10"};

		for (int b = 0; b < 5; b++)
			if (!isnan(x = tnum(o, names[b]))) {
				snprintf(label, sizeof(label), "turn %s", names[b]);
				row(c, label, x * c->count_scale, (double)turns[b], TOL_REL10, 0);
			}
	}
	if ((o = json_object_get(tg, "types")))
		json_object_foreach((json_t *)o, key, v) {
			int ti = type_index(t, key);
			uint64_t n = 0;

			for (size_t i = 0; ti >= 0 && i < t->nreq; i++)
				n += t->req[i].type == ti;
			snprintf(label, sizeof(label), "type %s", key);
			row(c, label, json_number_value(v) * c->count_scale, (double)n, TOL_REL10, 0);
		}
	if ((o = json_object_get(tg, "gap_s"))) {
		qsort(gaps, ngaps, sizeof(*gaps), cmp_dbl);
		if (!isnan(x = tnum(o, "p50")))
			row(c, "parent->child gap p50 (s)", x, pct_dbl(gaps, ngaps, 0.5), TOL_REL20, 0);
		if (!isnan(x = tnum(o, "p90")))
			row(c, "parent->child gap p90 (s)", x, pct_dbl(gaps, ngaps, 0.9), TOL_REL20, 0);
	}
	if (!isnan(x = tnum(tg, "block_accesses")))
		row(c, "block accesses", x * c->count_scale, (double)t->nblk, TOL_REL10, 0);
	if (!isnan(x = tnum(tg, "distinct_nodes")))
		row(c, "distinct chain nodes", x * c->count_scale, (double)t->nnodes, TOL_REL10, 0);
	if (cache_ceiling(t, KV_HIT_PREFIX, &ceil) || infinite_pass(t, hs))
		goto oom;
	if (!isnan(x = tnum(tg, "ceiling")))
		row(c, "ceiling (infinite cache)", x,
		    ceil.blocks ? (double)ceil.hit_blocks / (double)ceil.blocks : 0, TOL_ABS03, 1);
	if ((o = json_object_get(tg, "lru")))
		json_object_foreach((json_t *)o, key, v) {
			double got;

			if ((rc = lru_point(t, key, &got, err)))
				goto out;
			snprintf(label, sizeof(label), "LRU at %s%% of nodes", key);
			row(c, label, json_number_value(v), got, TOL_ABS03, 1);
		}
	if (!isnan(x = tnum(tg, "same_session_share")))
		row(c, "hits same session", x, hs->hits ? (double)hs->same / (double)hs->hits : 0,
		    TOL_ABS03, 1);
	if (!isnan(x = tnum(tg, "cross_session_share")))
		row(c, "hits across sessions", x, hs->hits ? (double)hs->cross / (double)hs->hits : 0,
		    TOL_ABS03, 1);
	if ((o = json_object_get(tg, "ceiling_by_type")))
		json_object_foreach((json_t *)o, key, v) {
			int ti = type_index(t, key);

			snprintf(label, sizeof(label), "ceiling %s", key);
			row(c, label, json_number_value(v),
			    ti >= 0 && hs->type_blocks[ti]
				    ? (double)hs->type_hits[ti] / (double)hs->type_blocks[ti] : 0,
			    TOL_ABS03, 1);
		}
	if (id_recurrence(t, c->f))
		goto oom;
	rc = KV_OK;
	goto out;
oom:
	rc = kv_fail(err, KV_ERUNTIME, "out of memory");
out:
	free(gaps);
	free(hs);
	return rc;
}

int gen_check_run(const struct gen_profile *p, const struct gen_check_opts *o, FILE *f,
		  int *failed, struct kv_err *err)
{
	struct check_ctx c = {f, o->tol_scale > 0 ? o->tol_scale : 1, 1, 0, 0};
	struct kv_load_opts lo = {KV_FMT_BAILIAN, p->block_size, 0, 0};
	struct kv_trace *t = NULL;
	struct gen_stats st;
	double dur = o->gen.duration_s > 0 ? o->gen.duration_s : p->duration_s;
	char tmp[4096];
	const char *path = o->keep_path;
	int rc;

	*failed = 0;
	if (!p->targets)
		return kv_fail(err, KV_EINPUT, "%s: the profile has no \"targets\" to check", p->path);
	if (!path) {
		const char *dir = getenv("TMPDIR");
		int fd;

		snprintf(tmp, sizeof(tmp), "%s/kvsim-gen-check-XXXXXX", dir && *dir ? dir : "/tmp");
		fd = mkstemp(tmp);
		if (fd < 0)
			return kv_fail(err, KV_ERUNTIME, "%s: cannot create a temporary file", tmp);
		close(fd);
		path = tmp;
	}
	rc = gen_write_jsonl(p, &o->gen, path, &st, err);
	if (!rc)
		rc = trace_load(path, &lo, &t, err);
	if (!o->keep_path)
		unlink(path);
	if (rc)
		return rc;
	c.count_scale = dur / p->duration_s * (o->gen.rate_scale > 0 ? o->gen.rate_scale : 1);
	fprintf(f, "# kvsim gen --check --profile %s --duration %g --rate-scale %g --seed %" PRIu64
		   ": counts scaled by %.4f\n", p->name, dur,
		o->gen.rate_scale > 0 ? o->gen.rate_scale : 1, o->gen.seed, c.count_scale);
	fprintf(f, "%-28s %14s %14s %10s  %s\n", "metric", "target", "generated", "tolerance",
		"result");
	rc = measure(p, t, &c, err);
	fprintf(f, "# generator held at most %" PRIu64 " live sessions (%" PRIu64 " ids)\n",
		st.live_sessions_max, st.live_ids_max);
	fprintf(f, "# %d of %d rows pass\n", c.rows - c.failed, c.rows);
	*failed = c.failed;
	trace_free(t);
	return rc;
}
