/*
 * fifo.c - first in, first out.
 *
 * One intrusive list through the block records (pol.u32[0] = prev, pol.u32[1] = next) in
 * insertion order, oldest at the head; a hit changes nothing. Every operation is O(1).
 * Because a block is not moved on a hit, the oldest block is often a parent whose children
 * were inserted by later requests: the core then evicts the whole subtree (prefix closure),
 * which is what makes FIFO lose to LRU on prefix caches. Within one request the tail is
 * inserted first (tail-first touch), so a request's tail leaves before its head.
 * Timed mode: a block pinned by a running request leaves the list (on_remove) and re-enters
 * at the newest end when unpinned, like a new block.
 * No parameters.
 */
#include <stdlib.h>

#include "evict_list.h"
#include "evict_ops.h"

struct fifo {
	struct kv_block *b;
	struct evict_list list;
};

static int fifo_create(void **state, const struct evict_env *env, const struct kv_params *p,
		       struct kv_err *err)
{
	struct fifo *f = calloc(1, sizeof(*f));

	(void)p;
	if (!f)
		return kv_fail(err, KV_ERUNTIME, "out of memory");
	f->b = env->blocks;
	evict_list_init(&f->list);
	*state = f;
	return KV_OK;
}

static void fifo_destroy(void *state)
{
	free(state);
}

static void fifo_insert(void *state, uint32_t n, const struct kv_access *a)
{
	struct fifo *f = state;

	(void)a;
	evict_list_push_tail(&f->list, f->b, n, 0);
}

static void fifo_hit(void *state, uint32_t n, const struct kv_access *a)
{
	(void)state, (void)n, (void)a;
}

static uint32_t fifo_victim(void *state)
{
	return ((struct fifo *)state)->list.head;
}

static void fifo_remove(void *state, uint32_t n)
{
	struct fifo *f = state;

	evict_list_del(&f->list, f->b, n, 0);
}

const struct evict_ops evict_fifo = {
	.name = "fifo",
	.doc = "first in, first out (a hit does not move a block)",
	.defaults = "",
	.create = fifo_create,
	.destroy = fifo_destroy,
	.on_insert = fifo_insert,
	.on_hit = fifo_hit,
	.victim = fifo_victim,
	.on_remove = fifo_remove,
};
