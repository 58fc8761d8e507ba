/*
 * gen_check.h - `kvsim gen --check`: generates a trace from a profile, measures it with the
 * same code kvsim uses (the trace reader, the cache core's LRU) and prints each calibration
 * target of the profile next to the generated value, with its tolerance and PASS/FAIL.
 *
 * Tolerances: counts and means within 10% (relative), percentiles within 20%, hit ratios
 * (ceilings, LRU points, same/cross-session shares) within 0.03 absolute; all multiplied by
 * tol_scale. Counts are scaled by duration / the profile's duration x rate scale when a
 * shorter or thinner trace is checked.
 */
#ifndef KV_GEN_CHECK_H
#define KV_GEN_CHECK_H

#include <stdio.h>

#include "gen.h"

struct gen_check_opts {
	struct gen_opts gen;
	double tol_scale;      /* multiplies every tolerance (1 = the issue's) */
	const char *keep_path; /* also keep the generated trace here (NULL: a temporary file) */
};

/* Runs the check and prints the table on f. *failed gets the number of failing rows.
 * O(generated blocks x LRU points). */
int gen_check_run(const struct gen_profile *p, const struct gen_check_opts *o, FILE *f,
		  int *failed, struct kv_err *err);

#endif
