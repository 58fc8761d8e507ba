/* gen_dist.c - profile distributions and the Zipf sampler (see gen_dist.h). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "gen_dist.h"

static int num(const json_t *j, double *out)
{
	if (!json_is_number(j))
		return -1;
	*out = json_number_value(j);
	return isfinite(*out) ? 0 : -1;
}

/* Parses one component (an object holding one kind key) into d->comp[i]; i < 0 for a
 * distribution that is not a mix (its one component is comp[0]). */
static int parse_component(const json_t *o, const char *where, struct gen_dist *d, int i,
			   struct kv_err *err)
{
	static const char *const kinds[] = {"const", "lognormal", "uniform", "exponential"};
	const char *key;
	const json_t *v;
	json_t *m;
	double a = 0, b = 0;
	int nkinds = 0;

	/* exactly one kind, and no key the reader would ignore (a misspelt "sigma" would
	 * otherwise be an error only by luck, a misspelt "max" never) */
	json_object_foreach((json_t *)o, key, m) {
		/* the clamps and the shift apply to the whole distribution; "w" to a component */
		int known = i < 0 ? (!strcmp(key, "min") || !strcmp(key, "max") ||
				     !strcmp(key, "shift"))
				  : !strcmp(key, "w");

		for (int k = 0; k < 4; k++)
			if (!strcmp(key, kinds[k])) {
				known = 1;
				nkinds++;
			}
		if (!known)
			return kv_fail(err, KV_EINPUT, "%s: unknown key \"%s\"", where, key);
	}
	if (nkinds > 1)
		return kv_fail(err, KV_EINPUT, "%s: a distribution has one kind, not %d", where,
			       nkinds);
	if ((v = json_object_get(o, "lognormal")) && json_is_object(v))
		json_object_foreach((json_t *)v, key, m)
			if (strcmp(key, "median") && strcmp(key, "sigma"))
				return kv_fail(err, KV_EINPUT, "%s: lognormal: unknown key \"%s\"",
					       where, key);
	if ((v = json_object_get(o, "exponential")) && json_is_object(v))
		json_object_foreach((json_t *)v, key, m)
			if (strcmp(key, "mean"))
				return kv_fail(err, KV_EINPUT, "%s: exponential: unknown key \"%s\"",
					       where, key);
	if (i < 0)
		i = 0;
	if ((v = json_object_get(o, "const"))) {
		if (num(v, &a))
			return kv_fail(err, KV_EINPUT, "%s: const must be a number", where);
		d->comp[i].kind = GEN_CONST;
	} else if ((v = json_object_get(o, "lognormal"))) {
		if (num(json_object_get(v, "median"), &a) || num(json_object_get(v, "sigma"), &b) ||
		    a <= 0 || b < 0)
			return kv_fail(err, KV_EINPUT, "%s: lognormal needs median > 0 and sigma >= 0",
				       where);
		d->comp[i].kind = GEN_LOGNORMAL;
	} else if ((v = json_object_get(o, "uniform"))) {
		if (json_array_size(v) != 2 || num(json_array_get(v, 0), &a) ||
		    num(json_array_get(v, 1), &b) || b < a)
			return kv_fail(err, KV_EINPUT, "%s: uniform needs [lo, hi] with lo <= hi",
				       where);
		d->comp[i].kind = GEN_UNIFORM;
	} else if ((v = json_object_get(o, "exponential"))) {
		if (num(json_object_get(v, "mean"), &a) || a <= 0)
			return kv_fail(err, KV_EINPUT, "%s: exponential needs mean > 0", where);
		d->comp[i].kind = GEN_EXPONENTIAL;
	} else {
		return kv_fail(err, KV_EINPUT,
			       "%s: a distribution needs one of const, lognormal, uniform, "
			       "exponential or mix", where);
	}
	d->comp[i].a = a;
	d->comp[i].b = b;
	return KV_OK;
}

int gen_dist_parse(const json_t *j, const char *where, struct gen_dist *d, struct kv_err *err)
{
	const json_t *mix, *v;
	double wsum = 0;
	int rc;

	memset(d, 0, sizeof(*d));
	d->min = -INFINITY;
	d->max = INFINITY;
	if (!json_is_object(j))
		return kv_fail(err, KV_EINPUT, "%s: missing or not an object", where);
	if ((v = json_object_get(j, "min")) && num(v, &d->min))
		return kv_fail(err, KV_EINPUT, "%s: min must be a number", where);
	if ((v = json_object_get(j, "max")) && num(v, &d->max))
		return kv_fail(err, KV_EINPUT, "%s: max must be a number", where);
	if ((v = json_object_get(j, "shift")) && num(v, &d->shift))
		return kv_fail(err, KV_EINPUT, "%s: shift must be a number", where);
	if (d->max < d->min)
		return kv_fail(err, KV_EINPUT, "%s: max < min", where);
	mix = json_object_get(j, "mix");
	if (!mix) {
		d->ncomp = 1;
		d->comp[0].w_cum = 1;
		return parse_component(j, where, d, -1, err);
	}
	{
		const char *key;
		json_t *m;

		json_object_foreach((json_t *)j, key, m)
			if (strcmp(key, "mix") && strcmp(key, "min") && strcmp(key, "max") &&
			    strcmp(key, "shift"))
				return kv_fail(err, KV_EINPUT, "%s: unknown key \"%s\" beside mix",
					       where, key);
	}
	if (!json_is_array(mix) || !json_array_size(mix) ||
	    json_array_size(mix) > GEN_DIST_MAX_COMPONENTS)
		return kv_fail(err, KV_EINPUT, "%s: mix must be an array of 1 to %d components",
			       where, GEN_DIST_MAX_COMPONENTS);
	d->ncomp = (int)json_array_size(mix);
	for (int i = 0; i < d->ncomp; i++) {
		const json_t *c = json_array_get(mix, (size_t)i);
		double w;

		if (!json_is_object(c) || num(json_object_get(c, "w"), &w) || w < 0)
			return kv_fail(err, KV_EINPUT, "%s: mix[%d] needs a weight w >= 0", where, i);
		if ((rc = parse_component(c, where, d, i, err)))
			return rc;
		wsum += w;
		d->comp[i].w_cum = wsum;
	}
	if (wsum <= 0)
		return kv_fail(err, KV_EINPUT, "%s: mix weights sum to 0", where);
	for (int i = 0; i < d->ncomp; i++)
		d->comp[i].w_cum /= wsum;
	d->comp[d->ncomp - 1].w_cum = 1;
	return KV_OK;
}

double gen_dist_sample(const struct gen_dist *d, struct gen_rng *r)
{
	int i = 0;
	double x;

	if (d->ncomp > 1) {
		double u = gen_rng_uniform(r);

		while (i < d->ncomp - 1 && u >= d->comp[i].w_cum)
			i++;
	}
	switch (d->comp[i].kind) {
	case GEN_CONST:
		x = d->comp[i].a;
		break;
	case GEN_LOGNORMAL:
		x = d->comp[i].a * exp(d->comp[i].b * gen_rng_normal(r));
		break;
	case GEN_UNIFORM:
		x = d->comp[i].a + (d->comp[i].b - d->comp[i].a) * gen_rng_uniform(r);
		break;
	default:
		x = d->comp[i].a * gen_rng_exp(r);
		break;
	}
	x += d->shift;
	if (x < d->min)
		x = d->min;
	if (x > d->max)
		x = d->max;
	return x;
}

int gen_zipf_init(struct gen_zipf *z, uint32_t n, double s)
{
	double sum = 0;

	z->n = n;
	z->cdf = malloc((size_t)n * sizeof(*z->cdf));
	if (!z->cdf)
		return KV_ERUNTIME;
	for (uint32_t k = 0; k < n; k++) {
		sum += pow((double)k + 1.0, -s);
		z->cdf[k] = sum;
	}
	for (uint32_t k = 0; k < n; k++)
		z->cdf[k] /= sum;
	return KV_OK;
}

void gen_zipf_free(struct gen_zipf *z)
{
	free(z->cdf);
	z->cdf = NULL;
}

uint32_t gen_zipf_sample(const struct gen_zipf *z, struct gen_rng *r)
{
	double u = gen_rng_uniform(r);
	uint32_t lo = 0, hi = z->n - 1;

	while (lo < hi) {
		uint32_t mid = lo + (hi - lo) / 2;

		if (z->cdf[mid] > u)
			hi = mid;
		else
			lo = mid + 1;
	}
	return lo;
}

/* Inverse of the standard normal CDF (Acklam's rational approximation, relative error below
 * 1.2e-9). */
static double inv_normal(double p)
{
	static const double a[] = {-3.969683028665376e+01, 2.209460984245205e+02,
				   -2.759285104469687e+02, 1.383577518672690e+02,
				   -3.066479806614716e+01, 2.506628277459239e+00};
	static const double b[] = {-5.447609879822406e+01, 1.615858368580409e+02,
				   -1.556989798598866e+02, 6.680131188771972e+01,
				   -1.328068155288572e+01};
	static const double c[] = {-7.784894002430293e-03, -3.223964580411365e-01,
				   -2.400758277161838e+00, -2.549671010243740e+00,
				   4.374664141464968e+00, 2.938163982698783e+00};
	static const double d[] = {7.784695709041462e-03, 3.224671290700398e-01,
				   2.445134137142996e+00, 3.754408661907416e+00};
	double q, r;

	if (p < 0.02425) {
		q = sqrt(-2 * log(p));
		return (((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5]) /
		       ((((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1);
	}
	if (p > 1 - 0.02425) {
		q = sqrt(-2 * log(1 - p));
		return -(((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5]) /
		       ((((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1);
	}
	q = p - 0.5;
	r = q * q;
	return (((((a[0] * r + a[1]) * r + a[2]) * r + a[3]) * r + a[4]) * r + a[5]) * q /
	       (((((b[0] * r + b[1]) * r + b[2]) * r + b[3]) * r + b[4]) * r + 1);
}

double gen_dist_quantile(const struct gen_dist *d, double c, double u)
{
	int i = 0;
	double x;

	if (u <= 0)
		u = 1e-9;
	if (u >= 1)
		u = 1 - 1e-9;
	while (i < d->ncomp - 1 && c >= d->comp[i].w_cum)
		i++;
	switch (d->comp[i].kind) {
	case GEN_CONST:
		x = d->comp[i].a;
		break;
	case GEN_LOGNORMAL:
		x = d->comp[i].a * exp(d->comp[i].b * inv_normal(u));
		break;
	case GEN_UNIFORM:
		x = d->comp[i].a + (d->comp[i].b - d->comp[i].a) * u;
		break;
	default:
		x = -d->comp[i].a * log(1 - u);
		break;
	}
	x += d->shift;
	if (x < d->min)
		x = d->min;
	if (x > d->max)
		x = d->max;
	return x;
}

double gen_dist_at(const struct gen_dist *d, double u)
{
	double lo = 0;
	int i = 0;

	while (i < d->ncomp - 1 && u >= d->comp[i].w_cum)
		lo = d->comp[i++].w_cum;
	/* the same comparisons in gen_dist_quantile pick component i again */
	return gen_dist_quantile(d, u, (u - lo) / (d->comp[i].w_cum - lo));
}
