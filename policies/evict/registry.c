/* registry.c - the eviction policy table (see registry.h). */
#include "registry.h"

#include <stdio.h>
#include <stdlib.h>
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

int evict_check(const char *spec, struct kv_err *err)
{
	const struct evict_ops *ops;
	struct kv_params params;
	struct kv_trace *t;
	struct kv_request req = {.chat_id = 0, .parent_chat_id = -1, .nblocks = 1,
				 .input_tokens = 16, .output_tokens = 1, .turn = 1,
				 .parent_row = KV_NO_ROW, .line = 1};
	uint32_t node = 0, parent = KV_NO_NODE;
	uint64_t hash = 1;
	struct kv_block block = {.first_child = KV_NO_NODE, .next_sib = KV_NO_NODE,
				 .prev_sib = KV_NO_NODE};
	struct evict_env env = {&block, NULL, 1, 0};
	void *state;
	int rc;

	if ((rc = evict_resolve(spec, &ops, &params, err)))
		return rc;
	if (!(t = calloc(1, sizeof(*t))))
		return kv_fail(err, KV_ERUNTIME, "out of memory");
	t->block_size = 16;
	t->req = &req;
	t->nreq = 1;
	t->node = &node;
	t->nblk = 1;
	t->input_tokens = 16;
	t->nnodes = 1;
	t->node_parent = &parent;
	t->node_hash = &hash;
	t->ntypes = 1;
	env.trace = t;
	if (!(rc = ops->create(&state, &env, &params, err)))
		ops->destroy(state);
	free(t->node_depth); /* if the policy asked for depths */
	free(t);
	return rc;
}
