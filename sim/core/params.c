/* params.c - parsing and checking "name:key=value,..." specs (see params.h). */
#include "params.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int copy_token(char *dst, const char *src, size_t n, const char *what, struct kv_err *err)
{
	if (n == 0)
		return kv_fail(err, KV_EINPUT, "empty %s", what);
	if (n >= KV_PARAM_NAME_MAX)
		return kv_fail(err, KV_EINPUT, "%s '%.*s' is too long", what, (int)n, src);
	memcpy(dst, src, n);
	dst[n] = 0;
	return KV_OK;
}

static int add_pairs(struct kv_params *pp, const char *s, int by_user, struct kv_err *err)
{
	while (s && *s) {
		const char *end = strchr(s, ',');
		const char *eq;
		size_t n = end ? (size_t)(end - s) : strlen(s);
		struct kv_param *p;
		int i, rc;

		eq = memchr(s, '=', n);
		if (!eq)
			return kv_fail(err, KV_EINPUT, "parameter '%.*s' of '%s' is not key=value",
				       (int)n, s, pp->name);
		for (i = 0; i < pp->n; i++)
			if (strlen(pp->p[i].key) == (size_t)(eq - s) &&
			    !memcmp(pp->p[i].key, s, (size_t)(eq - s)))
				break;
		if (i == pp->n) {
			if (pp->n == KV_PARAMS_MAX)
				return kv_fail(err, KV_EINPUT, "too many parameters for '%s'", pp->name);
			pp->n++;
		} else if (by_user && pp->p[i].set_by_user) {
			return kv_fail(err, KV_EINPUT, "parameter '%s' of '%s' given twice",
				       pp->p[i].key, pp->name);
		}
		p = &pp->p[i];
		if ((rc = copy_token(p->key, s, (size_t)(eq - s), "parameter name", err)))
			return rc;
		if ((rc = copy_token(p->value, eq + 1, n - (size_t)(eq - s) - 1, "parameter value", err)))
			return rc;
		p->set_by_user = by_user;
		s = end ? end + 1 : NULL;
	}
	return KV_OK;
}

int kv_params_split(const char *spec, struct kv_params *out, struct kv_err *err)
{
	const char *colon = strchr(spec, ':');
	size_t n = colon ? (size_t)(colon - spec) : strlen(spec);
	int rc;

	memset(out, 0, sizeof(*out));
	if ((rc = copy_token(out->name, spec, n, "name", err)))
		return rc;
	if (colon && !colon[1])
		return kv_fail(err, KV_EINPUT, "'%s': nothing after ':'", spec);
	return colon ? add_pairs(out, colon + 1, 1, err) : KV_OK;
}

int kv_params_resolve(struct kv_params *pp, const char *defaults, struct kv_err *err)
{
	struct kv_params d;
	int i, j, rc;

	memset(&d, 0, sizeof(d));
	memcpy(d.name, pp->name, sizeof(d.name));
	if ((rc = add_pairs(&d, defaults, 0, err)))
		return rc;
	for (i = 0; i < pp->n; i++) {
		for (j = 0; j < d.n; j++)
			if (!strcmp(d.p[j].key, pp->p[i].key))
				break;
		if (j == d.n)
			return kv_fail(err, KV_EINPUT, "'%s' has no parameter '%s' (it has: %s)",
				       pp->name, pp->p[i].key, defaults && *defaults ? defaults : "none");
		d.p[j] = pp->p[i];
	}
	*pp = d;
	return KV_OK;
}

const char *kv_param_str(const struct kv_params *pp, const char *key)
{
	for (int i = 0; i < pp->n; i++)
		if (!strcmp(pp->p[i].key, key))
			return pp->p[i].value;
	return NULL;
}

int kv_param_double(const struct kv_params *pp, const char *key, double lo, double hi,
		    double *out, struct kv_err *err)
{
	const char *v = kv_param_str(pp, key);
	char *end;
	double x;

	if (!v)
		return kv_fail(err, KV_EINPUT, "'%s' has no parameter '%s'", pp->name, key);
	errno = 0;
	x = strtod(v, &end);
	if (end == v || *end || errno || !isfinite(x) || x < lo || x > hi)
		return kv_fail(err, KV_EINPUT, "%s: %s=%s is not a number in [%g, %g]", pp->name,
			       key, v, lo, hi);
	*out = x;
	return KV_OK;
}

int kv_param_long(const struct kv_params *pp, const char *key, long lo, long hi, long *out,
		  struct kv_err *err)
{
	const char *v = kv_param_str(pp, key);
	char *end;
	long x;

	if (!v)
		return kv_fail(err, KV_EINPUT, "'%s' has no parameter '%s'", pp->name, key);
	errno = 0;
	x = strtol(v, &end, 10);
	if (end == v || *end || errno || x < lo || x > hi)
		return kv_fail(err, KV_EINPUT, "%s: %s=%s is not an integer in [%ld, %ld]",
			       pp->name, key, v, lo, hi);
	*out = x;
	return KV_OK;
}

void kv_params_format(const struct kv_params *pp, char *buf, size_t len)
{
	size_t off = (size_t)snprintf(buf, len, "%s", pp->name);
	char sep = ':';

	for (int i = 0; i < pp->n && off < len; i++) {
		if (!pp->p[i].set_by_user)
			continue;
		off += (size_t)snprintf(buf + off, len - off, "%c%s=%s", sep, pp->p[i].key,
					pp->p[i].value);
		sep = ',';
	}
}

int kv_split_specs(char *s, char **items, int max)
{
	int n = 0, in_params = 0;
	char *p = s;

	if (!*s)
		return 0;
	items[n++] = s;
	in_params = strchr(s, ':') && (!strchr(s, ',') || strchr(s, ':') < strchr(s, ','));
	while ((p = strchr(p, ','))) {
		char *next = p + 1, *stop = strchr(next, ',');
		size_t len = stop ? (size_t)(stop - next) : strlen(next);
		int has_eq = memchr(next, '=', len) != NULL, has_colon = memchr(next, ':', len) != NULL;

		/* "k=v" after an item with parameters continues it; anything else starts one */
		if (!(in_params && has_eq && !has_colon)) {
			if (n == max)
				return -1;
			*p = 0;
			items[n++] = next;
			in_params = has_colon;
		}
		p = next;
	}
	return n;
}

int kv_specs_bound(const char *s)
{
	int n = 1;

	for (; *s; s++)
		n += *s == ',';
	return n;
}
