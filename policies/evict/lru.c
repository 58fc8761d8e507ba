/*
 * lru.c - least recently used.
 *
 * One intrusive doubly linked list through the block records (pol.u32[0] = prev,
 * pol.u32[1] = next), least recent at the head. Every operation is O(1). With the core's
 * tail-first touch a parent is always more recent than its children, so the victim is
 * always a leaf and LRU evicts a request's tail before its head, as vLLM does.
 */
#include <stdlib.h>

#include "evict_ops.h"
#include "evict_list.h"

struct lru {
	struct kv_block *b;
	struct evict_list list;
};

static int lru_create(void **state, const struct evict_env *env, const struct kv_params *p,
		      struct kv_err *err)
{
	struct lru *l = calloc(1, sizeof(*l));

	(void)p;
	if (!l)
		return kv_fail(err, KV_ERUNTIME, "out of memory");
	l->b = env->blocks;
	evict_list_init(&l->list);
	*state = l;
	return KV_OK;
}

static void lru_destroy(void *state)
{
	free(state);
}

static void lru_insert(void *state, uint32_t n, const struct kv_access *a)
{
	struct lru *l = state;

	(void)a;
	evict_list_push_tail(&l->list, l->b, n, 0);
}

static void lru_hit(void *state, uint32_t n, const struct kv_access *a)
{
	struct lru *l = state;

	(void)a;
	evict_list_move_tail(&l->list, l->b, n, 0);
}

static uint32_t lru_victim(void *state)
{
	return ((struct lru *)state)->list.head;
}

static void lru_remove(void *state, uint32_t n)
{
	struct lru *l = state;

	evict_list_del(&l->list, l->b, n, 0);
}

const struct evict_ops evict_lru = {
	.name = "lru",
	.doc = "least recently used (evicts a request's tail before its head)",
	.defaults = "",
	.create = lru_create,
	.destroy = lru_destroy,
	.on_insert = lru_insert,
	.on_hit = lru_hit,
	.victim = lru_victim,
	.on_remove = lru_remove,
};
