/* dist.c - exact summaries of sorted arrays and log-linear histograms (see dist.h). */
#include "dist.h"

#include <math.h>
#include <stdlib.h>

uint64_t loghist_lo(unsigned b)
{
	unsigned e, sub;

	if (b < LOGHIST_EXACT)
		return b;
	e = (b - LOGHIST_EXACT) / LOGHIST_SUB + 6u;
	sub = (b - LOGHIST_EXACT) % LOGHIST_SUB;
	return (uint64_t)(LOGHIST_SUB + sub) << (e - LOGHIST_SUB_BITS);
}

uint64_t loghist_hi(unsigned b)
{
	if (b < LOGHIST_EXACT)
		return b;
	if (b == LOGHIST_BUCKETS - 1)
		return UINT64_MAX;
	return loghist_lo(b + 1) - 1;
}

/* Rank ceil(p/100 * n), at least 1. */
static uint64_t nearest_rank(uint64_t n, double p)
{
	double r = ceil(p / 100.0 * (double)n - 1e-9);

	if (r < 1)
		return 1;
	if (r > (double)n)
		return n;
	return (uint64_t)r;
}

uint64_t loghist_percentile(const struct loghist *h, double p)
{
	uint64_t rank, cum = 0;

	if (!h->total)
		return 0;
	rank = nearest_rank(h->total, p);
	for (unsigned b = 0; b < LOGHIST_BUCKETS; b++) {
		cum += h->n[b];
		if (cum >= rank) {
			uint64_t hi = loghist_hi(b);
			return hi < h->max ? hi : h->max;
		}
	}
	return h->max;
}

double dist_percentile_u32(const uint32_t *v, size_t n, double p)
{
	return n ? v[nearest_rank(n, p) - 1] : 0.0;
}

double dist_percentile_f64(const double *v, size_t n, double p)
{
	return n ? v[nearest_rank(n, p) - 1] : 0.0;
}

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return (x > y) - (x < y);
}

static int cmp_f64(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

void dist_summarise_u32(uint32_t *v, size_t n, struct dist_summary *s)
{
	double sum = 0;

	qsort(v, n, sizeof(*v), cmp_u32);
	for (size_t i = 0; i < n; i++)
		sum += v[i];
	*s = (struct dist_summary){n, n ? sum / (double)n : 0, dist_percentile_u32(v, n, 50),
				   dist_percentile_u32(v, n, 90), dist_percentile_u32(v, n, 99),
				   n ? v[n - 1] : 0};
}

void dist_summarise_f64(double *v, size_t n, struct dist_summary *s)
{
	double sum = 0;

	qsort(v, n, sizeof(*v), cmp_f64);
	for (size_t i = 0; i < n; i++)
		sum += v[i];
	*s = (struct dist_summary){n, n ? sum / (double)n : 0, dist_percentile_f64(v, n, 50),
				   dist_percentile_f64(v, n, 90), dist_percentile_f64(v, n, 99),
				   n ? v[n - 1] : 0};
}
