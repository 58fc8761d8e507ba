/* cache_pin.c - pinning blocks of running requests (see cache_pin.h). */
#include "cache_pin.h"

void cache_pin(struct kv_cache *c, uint32_t n)
{
	struct kv_block *b = &c->blocks[n];

	if (b->refcnt++ == 0) {
		c->ops->on_remove(c->policy, n);
		c->pinned++;
	}
}

void cache_unpin(struct kv_cache *c, uint32_t n, const struct kv_access *a)
{
	struct kv_block *b = &c->blocks[n];

	if (b->refcnt && --b->refcnt == 0) {
		c->pinned--;
		c->ops->on_insert(c->policy, n, a);
	}
}

uint32_t cache_pin_prefix(struct kv_cache *c, const uint32_t *nodes, uint32_t n)
{
	uint32_t i = 0;

	while (i < n && c->blocks[nodes[i]].resident && c->blocks[nodes[i]].refcnt < UINT16_MAX)
		cache_pin(c, nodes[i++]);
	return i;
}

void cache_unpin_prefix(struct kv_cache *c, const uint32_t *nodes, uint32_t n,
			struct kv_access *a)
{
	uint64_t seq0 = a->seq;

	for (uint32_t i = n; i-- > 0;) {
		a->pos = i;
		a->seq = seq0 + i;
		cache_unpin(c, nodes[i], a);
	}
	a->seq = seq0;
}

uint32_t cache_unpinned_count(const struct kv_cache *c, const uint32_t *nodes, uint32_t n)
{
	uint32_t k = 0;

	for (uint32_t i = 0; i < n; i++)
		k += c->blocks[nodes[i]].refcnt == 0;
	return k;
}

int cache_pin_check(const struct kv_cache *c, struct kv_err *err)
{
	const struct kv_trace *t = c->trace;
	uint64_t pinned = 0;

	for (uint32_t n = 0; n < t->nnodes; n++) {
		const struct kv_block *b = &c->blocks[n];
		uint32_t p = t->node_parent[n];

		if (!b->refcnt)
			continue;
		pinned++;
		if (!b->resident)
			return kv_fail(err, KV_ERUNTIME, "node %u is pinned but not resident", n);
		if (p != KV_NO_NODE && !c->blocks[p].refcnt)
			return kv_fail(err, KV_ERUNTIME, "node %u is pinned but its parent %u is not",
				       n, p);
	}
	if (pinned != c->pinned)
		return kv_fail(err, KV_ERUNTIME, "pinned count %llu, but %llu blocks are pinned",
			       (unsigned long long)c->pinned, (unsigned long long)pinned);
	return 0;
}
