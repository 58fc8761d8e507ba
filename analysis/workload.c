/*
 * workload.c - the workload pass of `kvsim analyze`: request count, span, arrivals per time
 * window, input and output length distributions, type mix. One pass over req[] plus two
 * sorts of the lengths. O(requests log requests).
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "analyze.h"

#define MAX_WINDOWS 100000000u

int an_workload_run(struct analysis *a, double window_s, struct kv_err *err)
{
	const struct kv_trace *t = a->t;
	struct an_workload *w = &a->wl;
	double nwin;

	w->requests = t->nreq;
	w->window_s = window_s;
	if (!t->nreq)
		return KV_OK;
	w->first_s = t->req[0].ts_s;
	w->span_s = t->req[t->nreq - 1].ts_s - w->first_s;
	w->rate_per_s = w->span_s > 0 ? (double)t->nreq / w->span_s : 0;
	/* whole windows from the first arrival; the remainder (less than a window) joins the
	 * last one, so no window is a sliver whose rate would be a spurious dip or spike */
	nwin = floor(w->span_s / window_s);
	if (nwin < 1)
		nwin = 1;
	if (nwin > MAX_WINDOWS)
		return kv_fail(err, KV_EINPUT,
			       "--window %g s gives more than %u windows over a %.0f s trace",
			       window_s, MAX_WINDOWS, w->span_s);
	w->nwindows = (size_t)nwin;
	w->win_requests = calloc(w->nwindows, sizeof(uint64_t));
	w->win_tokens = calloc(w->nwindows, sizeof(uint64_t));
	w->win_blocks = calloc(w->nwindows, sizeof(uint64_t));
	w->input_sorted = malloc(t->nreq * sizeof(uint32_t));
	w->output_sorted = malloc(t->nreq * sizeof(uint32_t));
	if (!w->win_requests || !w->win_tokens || !w->win_blocks || !w->input_sorted ||
	    !w->output_sorted)
		return kv_fail(err, KV_ERUNTIME, "out of memory");
	for (size_t r = 0; r < t->nreq; r++) {
		const struct kv_request *q = &t->req[r];
		size_t win = (size_t)((q->ts_s - w->first_s) / window_s);

		if (win >= w->nwindows)
			win = w->nwindows - 1;
		w->win_requests[win]++;
		w->win_tokens[win] += q->input_tokens;
		w->win_blocks[win] += q->nblocks;
		w->input_sorted[r] = q->input_tokens;
		w->output_sorted[r] = q->output_tokens;
		w->type_requests[q->type]++;
		w->type_blocks[q->type] += q->nblocks;
		w->type_input[q->type] += q->input_tokens;
		w->type_output[q->type] += q->output_tokens;
	}
	dist_summarise_u32(w->input_sorted, t->nreq, &w->input);
	dist_summarise_u32(w->output_sorted, t->nreq, &w->output);
	return KV_OK;
}

void an_window_bounds(const struct an_workload *w, size_t i, double *start_s, double *end_s)
{
	*start_s = w->first_s + (double)i * w->window_s;
	*end_s = i + 1 < w->nwindows ? *start_s + w->window_s : w->first_s + w->span_s;
}

double an_window_rate(const struct an_workload *w, size_t i)
{
	double a, b;

	an_window_bounds(w, i, &a, &b);
	return b > a ? (double)w->win_requests[i] / (b - a) : 0;
}
