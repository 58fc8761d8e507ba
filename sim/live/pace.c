/* pace.c - iteration time of the emulated engine (see pace.h). */
#include "pace.h"

#include <stdlib.h>
#include <string.h>

#include "params.h"

struct pace {
	int zero;
	double fixed_s;          /* > 0 for fixed:iter_ms */
	struct kv_cost *cost;
};

int pace_create(struct pace **out, const char *spec, const char *gpu, const char *model,
		struct kv_err *err)
{
	struct pace *p = calloc(1, sizeof(*p));
	int rc;

	*out = NULL;
	if (!p)
		return kv_fail(err, KV_ERUNTIME, "out of memory");
	if (!strcmp(spec, "zero")) {
		p->zero = 1;
	} else if (!strncmp(spec, "fixed", 5) && (!spec[5] || spec[5] == ':')) {
		struct kv_params pp;
		double ms;

		if ((rc = kv_params_split(spec, &pp, err)) ||
		    (rc = kv_params_resolve(&pp, "iter_ms=10", err)) ||
		    (rc = kv_param_double(&pp, "iter_ms", 0, 1e6, &ms, err))) {
			free(p);
			return rc;
		}
		p->fixed_s = ms / 1000.0;
		p->zero = ms == 0;
	} else {
		if ((rc = cost_create(&p->cost, spec, gpu, model, err))) {
			free(p);
			return rc;
		}
	}
	*out = p;
	return KV_OK;
}

void pace_destroy(struct pace *p)
{
	if (!p)
		return;
	if (p->cost)
		cost_destroy(p->cost);
	free(p);
}

int pace_is_zero(const struct pace *p)
{
	return p->zero;
}

double pace_iteration_s(const struct pace *p, const struct kv_batch_shape *b)
{
	if (p->zero)
		return 0;
	if (p->cost)
		return cost_iteration_s(p->cost, b);
	return p->fixed_s;
}

const char *pace_help(void)
{
	return "zero, fixed:iter_ms=X, or a cost model:\n"
	       "                          roofline (with --gpu and --model) or\n"
	       "                          linear:base_ms=..,prefill_ms_per_token=..,\n"
	       "                          decode_ms_per_seq=..,kv_ms_per_token=..";
}
