/*
 * analyze.c - runs the passes of `kvsim analyze` in order and owns their memory (see
 * analyze.h).
 */
#include "analyze.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

static double wall_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

const char *an_type_name(const struct kv_trace *t, int i)
{
	return t->type_names[i][0] ? t->type_names[i] : "untyped";
}

int analyze_run(const struct kv_trace *t, const struct analyze_opts *o, struct analysis *a,
		struct kv_err *err)
{
	int (*const pass[4])(struct analysis *, struct kv_err *) = {
		NULL, an_sessions_run, an_reuse_run, an_skew_run};
	double t0;
	int rc;

	memset(a, 0, sizeof(*a));
	a->t = t;
	a->ntypes = t->ntypes > 0 ? t->ntypes : 1;
	t0 = wall_s();
	if ((rc = an_workload_run(a, o && o->window_s > 0 ? o->window_s : 60.0, err)))
		return rc;
	a->timing_s[0] = wall_s() - t0;
	for (int i = 1; i < 4; i++) {
		t0 = wall_s();
		if ((rc = pass[i](a, err)))
			return rc;
		a->timing_s[i] = wall_s() - t0;
	}
	free(a->ru.accesses_per_node);
	a->ru.accesses_per_node = NULL;
	return KV_OK;
}

void analyze_free(struct analysis *a)
{
	free(a->wl.win_requests);
	free(a->wl.win_tokens);
	free(a->wl.win_blocks);
	free(a->wl.input_sorted);
	free(a->wl.output_sorted);
	free(a->ss.root);
	free(a->ss.turn);
	free(a->ss.gap_sorted);
	free(a->ss.turns_hist);
	free(a->ss.rpt_hist);
	free(a->ru.time_ms);
	free(a->ru.dist);
	free(a->ru.lru);
	free(a->ru.accesses_per_node);
	memset(a, 0, sizeof(*a));
}
