/*
 * evict_list.h - an intrusive doubly linked list of nodes through the policy area.
 *
 * A list threads blocks by node index: pol.u32[slot] = prev, pol.u32[slot + 1] = next, so a
 * policy with several lists (ARC, S3-FIFO, per-category LRUs) gives each its own slot pair
 * when a block can be on two at once, or reuses slot 0 when a block is on one at a time.
 * Everything is O(1). Head = oldest.
 */
#ifndef KV_EVICT_LIST_H
#define KV_EVICT_LIST_H

#include <stdint.h>

#include "block.h"
#include "trace.h"

struct evict_list {
	uint32_t head, tail;
	uint64_t len;
};

static inline void evict_list_init(struct evict_list *l)
{
	l->head = l->tail = KV_NO_NODE;
	l->len = 0;
}

static inline void evict_list_push_tail(struct evict_list *l, struct kv_block *b, uint32_t n,
					int slot)
{
	b[n].pol.u32[slot] = l->tail;
	b[n].pol.u32[slot + 1] = KV_NO_NODE;
	if (l->tail != KV_NO_NODE)
		b[l->tail].pol.u32[slot + 1] = n;
	else
		l->head = n;
	l->tail = n;
	l->len++;
}

static inline void evict_list_push_head(struct evict_list *l, struct kv_block *b, uint32_t n,
					int slot)
{
	b[n].pol.u32[slot] = KV_NO_NODE;
	b[n].pol.u32[slot + 1] = l->head;
	if (l->head != KV_NO_NODE)
		b[l->head].pol.u32[slot] = n;
	else
		l->tail = n;
	l->head = n;
	l->len++;
}

static inline void evict_list_del(struct evict_list *l, struct kv_block *b, uint32_t n,
				  int slot)
{
	uint32_t prev = b[n].pol.u32[slot], next = b[n].pol.u32[slot + 1];

	if (prev != KV_NO_NODE)
		b[prev].pol.u32[slot + 1] = next;
	else
		l->head = next;
	if (next != KV_NO_NODE)
		b[next].pol.u32[slot] = prev;
	else
		l->tail = prev;
	l->len--;
}

static inline void evict_list_move_tail(struct evict_list *l, struct kv_block *b, uint32_t n,
					int slot)
{
	if (l->tail == n)
		return;
	evict_list_del(l, b, n, slot);
	evict_list_push_tail(l, b, n, slot);
}

static inline uint32_t evict_list_next(const struct kv_block *b, uint32_t n, int slot)
{
	return b[n].pol.u32[slot + 1];
}

static inline uint32_t evict_list_prev(const struct kv_block *b, uint32_t n, int slot)
{
	return b[n].pol.u32[slot];
}

#endif
