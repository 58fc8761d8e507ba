/*
 * analyze_out.c - the outputs of `kvsim analyze`: CSV tables and summary.json in a folder
 * (each file written atomically), and the readable digest. Column meanings are listed in
 * docs/analysis.md; every CSV has a header line and fixed columns except the per-type
 * columns of the reuse tables (one per request type, only when the trace has several).
 */
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "analyze.h"
#include "outfile.h"
#include "report.h"

static const char *const relation_names[AN_REL_N] = {"all", "all_but_last", "shorter", "none"};

/* Types that get their own column in the reuse tables: every used type, when there are at
 * least two. Returns the count; idx[] gets the type indices. */
static int typed_columns(const struct analysis *a, int *idx)
{
	int n = 0;

	for (int i = 0; i < a->ntypes; i++)
		if (a->wl.type_requests[i])
			idx[n++] = i;
	return n >= 2 ? n : 0;
}

static void type_header(FILE *f, const struct analysis *a, const int *idx, int n)
{
	fputs(",all", f);
	for (int i = 0; i < n; i++) {
		fputc(',', f);
		csv_str(f, an_type_name(a->t, idx[i]));
	}
	fputc('\n', f);
}

/* ---- workload ---- */

static void w_arrivals(FILE *f, const struct analysis *a)
{
	const struct an_workload *w = &a->wl;

	fputs("window_start_s,window_end_s,requests,arrival_rate_per_s,input_tokens,blocks\n", f);
	for (size_t i = 0; i < w->nwindows; i++) {
		double lo_s, hi_s;

		an_window_bounds(w, i, &lo_s, &hi_s);
		fprintf(f, "%.3f,%.3f,%" PRIu64 ",%.6f,%" PRIu64 ",%" PRIu64 "\n", lo_s, hi_s,
			w->win_requests[i], an_window_rate(w, i), w->win_tokens[i], w->win_blocks[i]);
	}
}

static void w_lengths(FILE *f, const struct analysis *a)
{
	const struct an_workload *w = &a->wl;

	fputs("cdf,input_tokens,output_tokens\n", f);
	if (!w->requests)
		return;
	for (int i = 0; i <= DIST_GRID; i++) {
		double p = 100.0 * i / DIST_GRID;

		fprintf(f, "%.3f,%.0f,%.0f\n", (double)i / DIST_GRID,
			dist_percentile_u32(w->input_sorted, w->requests, p),
			dist_percentile_u32(w->output_sorted, w->requests, p));
	}
}

static void w_types(FILE *f, const struct analysis *a)
{
	const struct an_workload *w = &a->wl;

	fputs("type,requests,request_share,blocks,input_tokens,output_tokens,mean_input_tokens,"
	      "mean_output_tokens\n", f);
	for (int i = 0; i < a->ntypes; i++) {
		uint64_t n = w->type_requests[i];

		if (!n)
			continue;
		csv_str(f, an_type_name(a->t, i));
		fprintf(f, ",%" PRIu64 ",%.6f,%" PRIu64 ",%" PRIu64 ",%" PRIu64 ",%.3f,%.3f\n", n,
			report_ratio(n, w->requests), w->type_blocks[i], w->type_input[i],
			w->type_output[i], (double)w->type_input[i] / (double)n,
			(double)w->type_output[i] / (double)n);
	}
}

/* ---- sessions ---- */

static void w_turns(FILE *f, const struct analysis *a)
{
	const struct an_sessions *s = &a->ss;
	uint64_t cum = 0;

	fputs("turns,sessions,share,cdf\n", f);
	if (!s->available)
		return;
	for (uint32_t k = 1; k <= s->max_turns; k++) {
		if (!s->turns_hist[k])
			continue;
		cum += s->turns_hist[k];
		fprintf(f, "%u,%" PRIu64 ",%.6f,%.6f\n", k, s->turns_hist[k],
			report_ratio(s->turns_hist[k], s->sessions), report_ratio(cum, s->sessions));
	}
}

static void w_rpt(FILE *f, const struct analysis *a)
{
	const struct an_sessions *s = &a->ss;

	fputs("requests,turn_groups,share\n", f);
	if (!s->available)
		return;
	for (uint32_t k = 1; k <= s->max_rpt; k++)
		if (s->rpt_hist[k])
			fprintf(f, "%u,%" PRIu64 ",%.6f\n", k, s->rpt_hist[k],
				report_ratio(s->rpt_hist[k], s->turn_groups));
}

static void w_gaps(FILE *f, const struct analysis *a)
{
	const struct an_sessions *s = &a->ss;

	fputs("cdf,gap_s\n", f);
	if (!s->available || !s->ngaps)
		return;
	for (int i = 0; i <= DIST_GRID; i++)
		fprintf(f, "%.3f,%.3f\n", (double)i / DIST_GRID,
			dist_percentile_f64(s->gap_sorted, s->ngaps, 100.0 * i / DIST_GRID));
}

static void w_relations(FILE *f, const struct analysis *a)
{
	const struct an_sessions *s = &a->ss;

	fputs("relation,children,share\n", f);
	if (!s->available)
		return;
	for (int i = 0; i < AN_REL_N; i++)
		fprintf(f, "%s,%" PRIu64 ",%.6f\n", relation_names[i], s->relation[i],
			report_ratio(s->relation[i], s->children));
}

static void w_by_turn(FILE *f, const struct analysis *a)
{
	const struct an_sessions *s = &a->ss;

	fputs("turn,requests,mean_input_tokens,children,mean_growth_tokens\n", f);
	if (!s->available)
		return;
	for (uint32_t k = 1; k < s->nturns; k++)
		if (s->turn_requests[k])
			fprintf(f, "%u,%" PRIu64 ",%.3f,%" PRIu64 ",%.3f\n", k, s->turn_requests[k],
				(double)s->turn_input[k] / (double)s->turn_requests[k],
				s->turn_children[k],
				s->turn_children[k] ? (double)s->turn_growth[k] /
							      (double)s->turn_children[k]
						    : 0.0);
}

/* ---- reuse ---- */

/* Histogram table of a family of loghists (all + per type); scale converts to output units. */
static void w_hist(FILE *f, const struct analysis *a, const struct loghist *h, const char *lo,
		   const char *hi, double scale, const char *fmt)
{
	int idx[KV_MAX_TYPES], n = typed_columns(a, idx), all = a->ntypes;

	fprintf(f, "%s,%s", lo, hi);
	type_header(f, a, idx, n);
	for (unsigned b = 0; b < LOGHIST_BUCKETS; b++) {
		if (!h[all].n[b])
			continue;
		fprintf(f, fmt, (double)loghist_lo(b) * scale);
		fputc(',', f);
		fprintf(f, fmt, (double)loghist_hi(b) * scale);
		fprintf(f, ",%" PRIu64, h[all].n[b]);
		for (int i = 0; i < n; i++)
			fprintf(f, ",%" PRIu64, h[idx[i]].n[b]);
		fputc('\n', f);
	}
}

static void w_time_hist(FILE *f, const struct analysis *a)
{
	w_hist(f, a, a->ru.time_ms, "reuse_time_lo_s", "reuse_time_hi_s", 1e-3, "%.3f");
}

static void w_dist_hist(FILE *f, const struct analysis *a)
{
	w_hist(f, a, a->ru.dist, "stack_distance_lo_blocks", "stack_distance_hi_blocks", 1, "%.0f");
}

static void w_time_cdf(FILE *f, const struct analysis *a)
{
	const struct loghist *h = a->ru.time_ms;
	int idx[KV_MAX_TYPES], n = typed_columns(a, idx), all = a->ntypes;
	uint64_t cum[KV_MAX_TYPES + 1] = {0};

	fputs("reuse_time_s", f);
	type_header(f, a, idx, n);
	for (unsigned b = 0; b < LOGHIST_BUCKETS; b++) {
		if (!h[all].n[b])
			continue;
		cum[all] += h[all].n[b];
		fprintf(f, "%.3f,%.6f", (double)loghist_hi(b) * 1e-3, report_ratio(cum[all], h[all].total));
		for (int i = 0; i < n; i++) {
			cum[idx[i]] += h[idx[i]].n[b];
			fprintf(f, ",%.6f", report_ratio(cum[idx[i]], h[idx[i]].total));
		}
		fputc('\n', f);
	}
}

static void w_dist_cdf(FILE *f, const struct analysis *a)
{
	const struct an_reuse *ru = &a->ru;
	const struct loghist *h = ru->dist;
	int idx[KV_MAX_TYPES], n = typed_columns(a, idx), all = a->ntypes;
	uint64_t cum[KV_MAX_TYPES + 1] = {0};
	size_t k = 0;

	fputs("stack_distance_blocks,lru_capacity_blocks,lru_hits,lru_block_hit_ratio,"
	      "lru_token_hit_ratio", f);
	type_header(f, a, idx, n);
	for (unsigned b = 0; b < LOGHIST_BUCKETS; b++) {
		if (!h[all].n[b])
			continue;
		const struct mrc_point *lru = &ru->lru[k++]; /* capacity loghist_hi(b) + 1 */

		cum[all] += h[all].n[b];
		fprintf(f, "%" PRIu64 ",%" PRIu64 ",%" PRIu64 ",%.6f,%.6f,%.6f", loghist_hi(b),
			lru->capacity_blocks, lru->hit_blocks, report_ratio(lru->hit_blocks, ru->accesses),
			report_ratio(lru->hit_tokens, ru->tokens), report_ratio(cum[all], h[all].total));
		for (int i = 0; i < n; i++) {
			cum[idx[i]] += h[idx[i]].n[b];
			fprintf(f, ",%.6f", report_ratio(cum[idx[i]], h[idx[i]].total));
		}
		fputc('\n', f);
	}
}

static void w_skew(FILE *f, const struct analysis *a)
{
	const struct an_skew *sk = &a->sk;

	fputs("top_node_fraction,top_nodes,reuse_share\n", f);
	for (int i = 0; i < sk->npoints; i++)
		fprintf(f, "%g,%" PRIu64 ",%.6f\n", an_skew_points[i], sk->top_nodes[i],
			sk->top_share[i]);
}

/* ---- ceilings ---- */

static void ceil_row(FILE *f, const struct an_ceiling *c)
{
	fprintf(f, ",%" PRIu64 ",%" PRIu64 ",%" PRIu64 ",%.6f,%" PRIu64 ",%" PRIu64 ",%.6f\n",
		c->requests, c->blocks, c->hit_blocks, report_ratio(c->hit_blocks, c->blocks),
		c->tokens, c->hit_tokens, report_ratio(c->hit_tokens, c->tokens));
}

#define CEIL_COLS "requests,blocks,hit_blocks,block_hit_ratio,tokens,hit_tokens,token_hit_ratio\n"

static void w_ceil_type(FILE *f, const struct analysis *a)
{
	fputs("type," CEIL_COLS "all", f);
	ceil_row(f, &a->ru.all);
	for (int i = 0; i < a->ntypes; i++) {
		if (!a->ru.type[i].requests)
			continue;
		csv_str(f, an_type_name(a->t, i));
		ceil_row(f, &a->ru.type[i]);
	}
}

static void w_ceil_turn(FILE *f, const struct analysis *a)
{
	fputs("turn," CEIL_COLS, f);
	for (uint32_t k = 1; k < a->ru.nturns; k++) {
		if (!a->ru.turn[k].requests)
			continue;
		fprintf(f, "%u", k);
		ceil_row(f, &a->ru.turn[k]);
	}
}

static const struct {
	const char *name;
	void (*write)(FILE *f, const struct analysis *a);
} tables[] = {
	{"workload_arrivals.csv", w_arrivals},
	{"workload_lengths_cdf.csv", w_lengths},
	{"workload_types.csv", w_types},
	{"sessions_turns.csv", w_turns},
	{"sessions_requests_per_turn.csv", w_rpt},
	{"sessions_gap_cdf.csv", w_gaps},
	{"sessions_relations.csv", w_relations},
	{"sessions_by_turn.csv", w_by_turn},
	{"reuse_time_hist.csv", w_time_hist},
	{"reuse_time_cdf.csv", w_time_cdf},
	{"stack_distance_hist.csv", w_dist_hist},
	{"stack_distance_cdf.csv", w_dist_cdf},
	{"skew.csv", w_skew},
	{"ceiling_by_type.csv", w_ceil_type},
	{"ceiling_by_turn.csv", w_ceil_turn},
};

/* ---- summary.json ---- */

static json_t *dist_json(const struct dist_summary *d)
{
	return json_pack("{s:I, s:f, s:f, s:f, s:f, s:f}", "n", (json_int_t)d->n, "mean", d->mean,
			 "p50", d->p50, "p90", d->p90, "p99", d->p99, "max", d->max);
}

static json_t *loghist_json(const struct loghist *h, double scale)
{
	return json_pack("{s:I, s:f, s:f, s:f, s:f}", "n", (json_int_t)h->total, "p50",
			 (double)loghist_percentile(h, 50) * scale, "p90",
			 (double)loghist_percentile(h, 90) * scale, "p99",
			 (double)loghist_percentile(h, 99) * scale, "max", (double)h->max * scale);
}

static json_t *ceil_json(const struct an_ceiling *c)
{
	return json_pack("{s:I, s:I, s:I, s:f, s:I, s:I, s:f}", "requests",
			 (json_int_t)c->requests, "blocks", (json_int_t)c->blocks, "hit_blocks",
			 (json_int_t)c->hit_blocks, "block_hit_ratio",
			 report_ratio(c->hit_blocks, c->blocks), "tokens", (json_int_t)c->tokens,
			 "hit_tokens", (json_int_t)c->hit_tokens, "token_hit_ratio",
			 report_ratio(c->hit_tokens, c->tokens));
}

/* Nearest-rank percentile of a value -> count histogram h[0..max]. */
static uint32_t count_percentile(const uint64_t *h, uint32_t max, uint64_t total, double p)
{
	uint64_t rank = (uint64_t)ceil(p / 100.0 * (double)total - 1e-9), cum = 0;

	if (rank < 1)
		rank = 1;
	for (uint32_t k = 0; k <= max; k++) {
		cum += h[k];
		if (cum >= rank)
			return k;
	}
	return max;
}

static json_t *count_json(const uint64_t *h, uint32_t max, uint64_t total)
{
	double sum = 0;

	for (uint32_t k = 0; k <= max; k++)
		sum += (double)k * (double)h[k];
	return json_pack("{s:f, s:i, s:i, s:i, s:i}", "mean", total ? sum / (double)total : 0.0,
			 "p50", (int)count_percentile(h, max, total, 50), "p90",
			 (int)count_percentile(h, max, total, 90), "p99",
			 (int)count_percentile(h, max, total, 99), "max", (int)max);
}

static json_t *sessions_json(const struct analysis *a)
{
	const struct an_sessions *s = &a->ss;
	json_t *rel, *by_turn;

	if (!s->available)
		return json_pack("{s:b}", "available", 0);
	rel = json_object();
	for (int i = 0; i < AN_REL_N; i++)
		json_object_set_new(rel, relation_names[i], json_integer((json_int_t)s->relation[i]));
	by_turn = json_array();
	for (uint32_t k = 1; k < s->nturns; k++)
		if (s->turn_requests[k])
			json_array_append_new(
				by_turn,
				json_pack("{s:i, s:I, s:f, s:I, s:f}", "turn", (int)k, "requests",
					  (json_int_t)s->turn_requests[k], "mean_input_tokens",
					  (double)s->turn_input[k] / (double)s->turn_requests[k],
					  "children", (json_int_t)s->turn_children[k],
					  "mean_growth_tokens",
					  s->turn_children[k] ? (double)s->turn_growth[k] /
								(double)s->turn_children[k]
							      : 0.0));
	return json_pack("{s:b, s:I, s:I, s:I, s:I, s:o, s:o, s:o, s:o, s:f, s:o}", "available", 1,
			 "sessions", (json_int_t)s->sessions, "children", (json_int_t)s->children,
			 "orphans", (json_int_t)s->orphans, "turn_groups",
			 (json_int_t)s->turn_groups, "turns_per_session",
			 count_json(s->turns_hist, s->max_turns, s->sessions), "requests_per_turn",
			 count_json(s->rpt_hist, s->max_rpt, s->turn_groups), "parent_child_gap_s",
			 dist_json(&s->gap), "child_relation", rel, "mean_common_blocks",
			 s->children ? (double)s->common_blocks / (double)s->children : 0.0,
			 "by_turn", by_turn);
}

static json_t *reuse_json(const struct analysis *a)
{
	const struct an_reuse *ru = &a->ru;
	json_t *by_type = json_object();
	uint64_t hits = ru->same_session + ru->cross_session;

	for (int i = 0; i < a->ntypes; i++)
		if (a->wl.type_requests[i])
			json_object_set_new(
				by_type, an_type_name(a->t, i),
				json_pack("{s:o, s:o}", "reuse_time_s",
					  loghist_json(&ru->time_ms[i], 1e-3),
					  "stack_distance_blocks", loghist_json(&ru->dist[i], 1)));
	return json_pack(
		"{s:I, s:I, s:I, s:o, s:o, s:o, s:o}", "accesses", (json_int_t)ru->accesses,
		"reuses", (json_int_t)ru->reuses, "cold", (json_int_t)ru->cold, "reuse_time_s",
		loghist_json(&ru->time_ms[a->ntypes], 1e-3), "stack_distance_blocks",
		loghist_json(&ru->dist[a->ntypes], 1), "by_type", by_type, "hit_sessions",
		a->ss.available
			? json_pack("{s:I, s:I, s:I, s:f, s:f}", "same_session",
				    (json_int_t)ru->same_session, "from_parent",
				    (json_int_t)ru->from_parent, "cross_session",
				    (json_int_t)ru->cross_session, "same_session_share",
				    report_ratio(ru->same_session, hits), "from_parent_share",
				    report_ratio(ru->from_parent, hits))
			: json_null());
}

static json_t *skew_json(const struct analysis *a)
{
	const struct an_skew *sk = &a->sk;
	json_t *top = json_array();

	for (int i = 0; i < sk->npoints; i++)
		json_array_append_new(top, json_pack("{s:f, s:I, s:f}", "node_fraction",
						     an_skew_points[i], "nodes",
						     (json_int_t)sk->top_nodes[i], "reuse_share",
						     sk->top_share[i]));
	return json_pack("{s:I, s:I, s:f, s:I, s:I, s:f, s:f, s:o}", "nodes", (json_int_t)sk->nodes,
			 "reused_nodes", (json_int_t)sk->reused_nodes, "reused_fraction",
			 report_ratio(sk->reused_nodes, sk->nodes), "reuses",
			 (json_int_t)sk->reuses, "max_accesses_per_node",
			 (json_int_t)sk->max_accesses, "top1pct_reuse_share", sk->top_share[1],
			 "top10pct_reuse_share", sk->top_share[3], "top", top);
}

static json_t *ceiling_json(const struct analysis *a)
{
	json_t *c = ceil_json(&a->ru.all), *bt = json_object(), *bn = json_array();

	for (int i = 0; i < a->ntypes; i++)
		if (a->ru.type[i].requests)
			json_object_set_new(bt, an_type_name(a->t, i), ceil_json(&a->ru.type[i]));
	for (uint32_t k = 1; k < a->ru.nturns; k++) {
		json_t *row;

		if (!a->ru.turn[k].requests)
			continue;
		row = ceil_json(&a->ru.turn[k]);
		json_object_set_new(row, "turn", json_integer(k));
		json_array_append_new(bn, row);
	}
	json_object_set_new(c, "by_type", bt);
	json_object_set_new(c, "by_turn", bn);
	return c;
}

json_t *analyze_summary_json(const struct analysis *a)
{
	const struct an_workload *w = &a->wl;
	const struct kv_ceiling kc = {a->ru.all.hit_blocks, a->ru.all.blocks, a->ru.all.hit_tokens,
				      a->ru.all.tokens};
	json_t *types = json_object();

	for (int i = 0; i < a->ntypes; i++)
		if (w->type_requests[i])
			json_object_set_new(types, an_type_name(a->t, i),
					    json_pack("{s:I, s:f}", "requests",
						      (json_int_t)w->type_requests[i], "share",
						      report_ratio(w->type_requests[i], w->requests)));
	return json_pack(
		"{s:s, s:s, s:{s:f}, s:o, s:{s:I, s:f, s:f, s:f, s:o, s:o, s:o}, s:o, s:o, s:o, s:o, "
		"s:{s:f, s:f, s:f, s:f}}",
		"kvsim_version", KVSIM_VERSION, "command", "analyze", "config", "window_s",
		w->window_s, "trace", report_json_trace(a->t, &kc), "workload", "requests",
		(json_int_t)w->requests, "first_arrival_s", w->first_s, "span_s", w->span_s,
		"mean_rate_per_s", w->rate_per_s, "input_tokens", dist_json(&w->input),
		"output_tokens", dist_json(&w->output), "types", types, "sessions",
		sessions_json(a), "reuse", reuse_json(a), "skew", skew_json(a), "ceiling",
		ceiling_json(a), "timing", "workload_s", a->timing_s[0], "sessions_s",
		a->timing_s[1], "reuse_s", a->timing_s[2], "skew_s", a->timing_s[3]);
}

int analyze_write_dir(const struct analysis *a, const char *dir, struct kv_err *err)
{
	struct kv_outfile of;
	char path[4096];
	json_t *js;
	int rc;

	if ((rc = make_dirs(dir, err)))
		return rc;
	for (size_t i = 0; i < sizeof(tables) / sizeof(tables[0]); i++) {
		snprintf(path, sizeof(path), "%s/%s", dir, tables[i].name);
		if ((rc = outfile_open(&of, path, err)))
			return rc;
		tables[i].write(of.f, a);
		if ((rc = outfile_commit(&of, err)))
			return rc;
	}
	snprintf(path, sizeof(path), "%s/summary.json", dir);
	if ((rc = outfile_open(&of, path, err)))
		return rc;
	js = analyze_summary_json(a);
	if (!js) {
		outfile_abort(&of);
		return kv_fail(err, KV_ERUNTIME, "out of memory");
	}
	json_dumpf(js, of.f, JSON_INDENT(2) | JSON_REAL_PRECISION(10));
	fputc('\n', of.f);
	json_decref(js);
	return outfile_commit(&of, err);
}

/* ---- digest ---- */

static void print_dist(FILE *f, const char *name, const struct dist_summary *d, const char *unit)
{
	fprintf(f, "           %-14s mean %.1f  p50 %g  p90 %g  p99 %g  max %g %s\n", name, d->mean,
		d->p50, d->p90, d->p99, d->max, unit);
}

static void print_loghist(FILE *f, const char *name, const struct loghist *h, double scale,
			  const char *unit)
{
	fprintf(f, "           %-14s p50 %g  p90 %g  p99 %g  max %g %s (%" PRIu64 " reuses)\n",
		name, (double)loghist_percentile(h, 50) * scale,
		(double)loghist_percentile(h, 90) * scale, (double)loghist_percentile(h, 99) * scale,
		(double)h->max * scale, unit, h->total);
}

void analyze_print_digest(FILE *f, const struct analysis *a)
{
	const struct kv_trace *t = a->t;
	const struct an_workload *w = &a->wl;
	const struct an_sessions *s = &a->ss;
	const struct an_reuse *ru = &a->ru;
	const struct an_skew *sk = &a->sk;
	char b1[32], b2[32], b3[32], b4[32];
	uint64_t hits = ru->same_session + ru->cross_session;
	double peak = 0;
	int idx[KV_MAX_TYPES], nt = typed_columns(a, idx);

	for (size_t i = 0; i < w->nwindows; i++)
		if (an_window_rate(w, i) > peak)
			peak = an_window_rate(w, i);
	fprintf(f, "trace      %s\n", t->path);
	fprintf(f, "           %s, %u tokens/block, %s requests, %s block accesses, %s chain nodes\n",
		trace_format_name(t->format), t->block_size, fmt_count(t->nreq, b1, sizeof(b1)),
		fmt_count(t->nblk, b2, sizeof(b2)), fmt_count(t->nnodes, b3, sizeof(b3)));
	fprintf(f, "workload   span %.1f s from %.3f s, %.3f requests/s; per %g s window: peak "
		   "%.3f requests/s\n",
		w->span_s, w->first_s, w->rate_per_s, w->window_s, peak);
	print_dist(f, "input", &w->input, "tokens");
	print_dist(f, "output", &w->output, "tokens");
	fprintf(f, "           %-14s", "types");
	for (int i = 0; i < a->ntypes; i++)
		if (w->type_requests[i])
			fprintf(f, " %s %.1f%%", an_type_name(t, i),
				100 * report_ratio(w->type_requests[i], w->requests));
	fputc('\n', f);
	if (s->available) {
		/* orphans start sessions; they are not among the children */
		fprintf(f, "sessions   %s sessions (%s starting at an orphan, whose parent is not in "
			   "the file), %s children, %s (session, turn) groups\n",
			fmt_count(s->sessions, b1, sizeof(b1)), fmt_count(s->orphans, b3, sizeof(b3)),
			fmt_count(s->children, b2, sizeof(b2)), fmt_count(s->turn_groups, b4, sizeof(b4)));
		fprintf(f, "           turns/session  p50 %u  p90 %u  max %u; requests/turn max %u\n",
			count_percentile(s->turns_hist, s->max_turns, s->sessions, 50),
			count_percentile(s->turns_hist, s->max_turns, s->sessions, 90), s->max_turns,
			s->max_rpt);
		print_dist(f, "parent gap", &s->gap, "s");
		fprintf(f, "           child vs parent all %.1f%%, all but last %.1f%%, shorter %.1f%%, "
			   "none %.1f%%\n",
			100 * report_ratio(s->relation[0], s->children),
			100 * report_ratio(s->relation[1], s->children),
			100 * report_ratio(s->relation[2], s->children),
			100 * report_ratio(s->relation[3], s->children));
	} else {
		fprintf(f, "sessions   not available (the trace has no session fields)\n");
	}
	fprintf(f, "reuse      %s of %s block accesses reuse a chain node, %s cold\n",
		fmt_count(ru->reuses, b1, sizeof(b1)), fmt_count(ru->accesses, b2, sizeof(b2)),
		fmt_count(ru->cold, b3, sizeof(b3)));
	print_loghist(f, "reuse time", &ru->time_ms[a->ntypes], 1e-3, "s");
	for (int i = 0; i < nt; i++) {
		char name[80];

		snprintf(name, sizeof(name), "  %s", an_type_name(t, idx[i]));
		print_loghist(f, name, &ru->time_ms[idx[i]], 1e-3, "s");
	}
	print_loghist(f, "stack distance", &ru->dist[a->ntypes], 1, "blocks");
	for (int i = 0; i < nt; i++) {
		char name[80];

		snprintf(name, sizeof(name), "  %s", an_type_name(t, idx[i]));
		print_loghist(f, name, &ru->dist[idx[i]], 1, "blocks");
	}
	fprintf(f, "skew       %.1f%% of chain nodes are ever reused; the top 1%% of nodes take "
		   "%.1f%% of reuses, the top 10%% %.1f%%\n",
		100 * report_ratio(sk->reused_nodes, sk->nodes), 100 * sk->top_share[1],
		100 * sk->top_share[3]);
	if (s->available)
		fprintf(f, "hits       from the same session %.1f%% (from the parent %.1f%%), from "
			   "other sessions %.1f%%\n",
			100 * report_ratio(ru->same_session, hits),
			100 * report_ratio(ru->from_parent, hits),
			100 * report_ratio(ru->cross_session, hits));
	fprintf(f, "ceiling    block hit ratio %.6f, token hit ratio %.6f (infinite cache)\n",
		report_ratio(ru->all.hit_blocks, ru->all.blocks),
		report_ratio(ru->all.hit_tokens, ru->all.tokens));
	for (int i = 0; i < nt; i++)
		fprintf(f, "           %-14s block %.4f  token %.4f\n", an_type_name(t, idx[i]),
			report_ratio(ru->type[idx[i]].hit_blocks, ru->type[idx[i]].blocks),
			report_ratio(ru->type[idx[i]].hit_tokens, ru->type[idx[i]].tokens));
	for (uint32_t k = 1, shown = 0; k < ru->nturns && shown < 8; k++) {
		char name[32];

		if (!ru->turn[k].requests)
			continue;
		snprintf(name, sizeof(name), "turn %u%s", k, k == AN_MAX_TURN ? "+" : "");
		fprintf(f, "           %-14s block %.4f  token %.4f  (%" PRIu64 " requests)\n", name,
			report_ratio(ru->turn[k].hit_blocks, ru->turn[k].blocks),
			report_ratio(ru->turn[k].hit_tokens, ru->turn[k].tokens), ru->turn[k].requests);
		shown++;
	}
}
