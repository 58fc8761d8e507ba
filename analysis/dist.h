/*
 * dist.h - distributions for the analysis: exact summaries of sorted arrays and log-linear
 * histograms of non-negative integers.
 *
 * Percentiles are nearest-rank: the p-th percentile of n sorted values is value
 * ceil(p/100 * n) (1-based), so it is always one of the values.
 *
 * A loghist counts integers exactly below LOGHIST_EXACT and, above, in LOGHIST_SUB buckets per
 * power of two (each bucket spans at most 1/32 of its lower bound). The count of values <= a
 * bucket's upper bound is exact, so a CDF read at bucket bounds is exact; only a percentile
 * falling inside a bucket is reported as that bucket's upper bound.
 */
#ifndef KV_DIST_H
#define KV_DIST_H

#include <stddef.h>
#include <stdint.h>

#define LOGHIST_EXACT 64u
#define LOGHIST_SUB_BITS 5u
#define LOGHIST_SUB (1u << LOGHIST_SUB_BITS)
#define LOGHIST_BUCKETS (LOGHIST_EXACT + (64u - 6u) * LOGHIST_SUB)

struct loghist {
	uint64_t n[LOGHIST_BUCKETS];
	uint64_t total;   /* sum of the weights added */
	uint64_t max;     /* largest value added */
};

/* Bucket of value v. O(1). */
static inline unsigned loghist_bucket(uint64_t v)
{
	unsigned e;

	if (v < LOGHIST_EXACT)
		return (unsigned)v;
	e = 63u - (unsigned)__builtin_clzll(v); /* >= 6 */
	return LOGHIST_EXACT + (e - 6u) * LOGHIST_SUB +
	       (unsigned)((v >> (e - LOGHIST_SUB_BITS)) & (LOGHIST_SUB - 1));
}

static inline void loghist_add(struct loghist *h, uint64_t v, uint64_t weight)
{
	h->n[loghist_bucket(v)] += weight;
	h->total += weight;
	if (v > h->max)
		h->max = v;
}

/* Smallest and largest value of bucket b. */
uint64_t loghist_lo(unsigned b);
uint64_t loghist_hi(unsigned b);

/* Nearest-rank percentile (upper bound of the bucket holding it); 0 when empty. O(buckets). */
uint64_t loghist_percentile(const struct loghist *h, double p);

struct dist_summary {
	size_t n;
	double mean, p50, p90, p99, max;
};

/* Nearest-rank percentile of n ascending values. */
double dist_percentile_u32(const uint32_t *sorted, size_t n, double p);
double dist_percentile_f64(const double *sorted, size_t n, double p);

/* Sorts v in place and summarises it. O(n log n). */
void dist_summarise_u32(uint32_t *v, size_t n, struct dist_summary *s);
void dist_summarise_f64(double *v, size_t n, struct dist_summary *s);

/* Points of the CDF quantile grid written to the *_cdf.csv tables: q = i / DIST_GRID. */
#define DIST_GRID 1000

#endif
