/* route_registry.c - the routing policy table (see route_registry.h). */
#include "route_registry.h"

#include <stdio.h>
#include <string.h>

extern const struct route_ops route_rr, route_random, route_least_requests_ops,
	route_least_tokens, route_p2c, route_session, route_cache_aware, route_dynamo,
	route_lmetric, route_llm_d, route_aibrix, route_bailian;

const struct route_ops *const route_registry[] = {
	&route_rr,
	&route_random,
	&route_least_requests_ops,
	&route_least_tokens,
	&route_p2c,
	&route_session,
	&route_cache_aware,
	&route_dynamo,
	&route_lmetric,
	&route_llm_d,
	&route_aibrix,
	&route_bailian,
	NULL,
};

const struct route_ops *route_find(const char *name)
{
	for (int i = 0; route_registry[i]; i++)
		if (!strcmp(route_registry[i]->name, name))
			return route_registry[i];
	return NULL;
}

int route_resolve(const char *spec, const struct route_ops **ops, struct kv_params *params,
		  struct kv_err *err)
{
	char names[512];
	size_t off = 0;
	int rc;

	if ((rc = kv_params_split(spec, params, err)))
		return rc;
	*ops = route_find(params->name);
	if (!*ops) {
		for (int i = 0; route_registry[i] && off < sizeof(names); i++)
			off += (size_t)snprintf(names + off, sizeof(names) - off, "%s%s",
						i ? ", " : "", route_registry[i]->name);
		return kv_fail(err, KV_EINPUT, "unknown router '%s' (known: %s)", params->name,
			       names);
	}
	return kv_params_resolve(params, (*ops)->defaults, err);
}
