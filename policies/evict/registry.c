/* registry.c - the eviction policy table (see registry.h). */
#include "registry.h"

#include <stdio.h>
#include <string.h>

extern const struct evict_ops evict_lru;
extern const struct evict_ops evict_fifo;
extern const struct evict_ops evict_lfu;
extern const struct evict_ops evict_arc;
extern const struct evict_ops evict_s3fifo;
extern const struct evict_ops evict_sieve;
extern const struct evict_ops evict_session;
extern const struct evict_ops evict_wa;
extern const struct evict_ops evict_belady;

const struct evict_ops *const evict_registry[] = {
	&evict_lru,
	&evict_fifo,
	&evict_lfu,
	&evict_arc,
	&evict_s3fifo,
	&evict_sieve,
	&evict_session,
	&evict_wa,
	&evict_belady,
	NULL,
};

const struct evict_ops *evict_find(const char *name)
{
	for (int i = 0; evict_registry[i]; i++)
		if (!strcmp(evict_registry[i]->name, name))
			return evict_registry[i];
	return NULL;
}

int evict_resolve(const char *spec, const struct evict_ops **ops, struct kv_params *params,
		  struct kv_err *err)
{
	char names[512];
	size_t off = 0;
	int rc;

	if ((rc = kv_params_split(spec, params, err)))
		return rc;
	*ops = evict_find(params->name);
	if (!*ops) {
		for (int i = 0; evict_registry[i] && off < sizeof(names); i++)
			off += (size_t)snprintf(names + off, sizeof(names) - off, "%s%s",
						i ? ", " : "", evict_registry[i]->name);
		return kv_fail(err, KV_EINPUT, "unknown eviction policy '%s' (known: %s)",
			       params->name, names);
	}
	return kv_params_resolve(params, (*ops)->defaults, err);
}
