/*
 * gen_dist.h - the distributions a generator profile names, parsed from JSON, and a
 * Zipf sampler for popularity-skewed pools.
 *
 * A distribution is a JSON object with one kind key, or a "mix" of weighted components,
 * an optional "shift" added to every draw, and optional "min"/"max" clamps:
 *   {"lognormal": {"median": 375, "sigma": 0.6}, "min": 1, "max": 32000}
 *   {"mix": [{"w": 0.8, "lognormal": {"median": 300, "sigma": 0.5}},
 *            {"w": 0.2, "exponential": {"mean": 2000}}], "min": 1}
 *   {"const": 4}        {"uniform": [10, 20]}
 */
#ifndef KV_GEN_DIST_H
#define KV_GEN_DIST_H

#include <stdint.h>

#include <jansson.h>

#include "error.h"
#include "gen_rng.h"

#define GEN_DIST_MAX_COMPONENTS 8

enum gen_dist_kind { GEN_CONST, GEN_LOGNORMAL, GEN_UNIFORM, GEN_EXPONENTIAL };

struct gen_dist {
	int ncomp;
	struct {
		double w_cum;            /* cumulative weight, normalised to end at 1 */
		enum gen_dist_kind kind;
		double a, b;             /* const: a; lognormal: median a, sigma b; uniform: [a, b);
					    exponential: mean a */
	} comp[GEN_DIST_MAX_COMPONENTS];
	double shift;                    /* added to every draw (before the clamps) */
	double min, max;                 /* clamps */
};

/* Parses a distribution; `where` names it in messages ("FILE: types[0].output_tokens"). */
int gen_dist_parse(const json_t *j, const char *where, struct gen_dist *d, struct kv_err *err);

/* One draw plus shift, clamped to [min, max]. O(components). */
double gen_dist_sample(const struct gen_dist *d, struct gen_rng *r);

/* The value at quantile u in (0, 1) of the component chosen by quantile c in [0, 1) (plus
 * shift, clamped). Used to spread the lengths of pool entries evenly over the distribution
 * instead of drawing them. O(components). */
double gen_dist_quantile(const struct gen_dist *d, double c, double u);

/* The value for one uniform u in [0, 1): the component whose share of [0, 1) (by weight, in
 * order) holds u, at u's relative position within that share. For one component this is the
 * quantile at u; for a mix it is a draw of the mix whenever u is uniform, and it keeps the
 * spread of u (evenly spread u give each component its share and an even spread within it).
 * O(components). */
double gen_dist_at(const struct gen_dist *d, double u);

/* Zipf popularity over ranks 0..n-1: P(k) proportional to 1/(k+1)^s. */
struct gen_zipf {
	uint32_t n;
	double *cdf;
};

int gen_zipf_init(struct gen_zipf *z, uint32_t n, double s);
void gen_zipf_free(struct gen_zipf *z);
/* A rank. O(log n). */
uint32_t gen_zipf_sample(const struct gen_zipf *z, struct gen_rng *r);

#endif
