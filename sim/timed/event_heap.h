/*
 * event_heap.h - the discrete-event queue: a binary min-heap of (time, class, id).
 *
 * Ties are broken deterministically: at equal time a lower class runs first (iteration
 * ends before arrivals, so with a zero-cost model a request completes before the next
 * arrival at the same instant, as cache mode orders them), then a lower id (instance
 * number or trace row). No two live events share (class, id), so the order is total and
 * independent of insertion order. push/pop are O(log n).
 */
#ifndef KV_EVENT_HEAP_H
#define KV_EVENT_HEAP_H

#include <stddef.h>
#include <stdint.h>

enum { EV_ITER_END = 0, EV_ARRIVAL = 1 };

struct event {
	double t_s;
	uint32_t cls;
	uint32_t id;
};

struct event_heap {
	struct event *ev;
	size_t n, cap;
};

static inline int event_before(const struct event *a, const struct event *b)
{
	if (a->t_s != b->t_s)
		return a->t_s < b->t_s;
	if (a->cls != b->cls)
		return a->cls < b->cls;
	return a->id < b->id;
}

/* Returns 0, or -1 when out of memory. */
int event_push(struct event_heap *h, double t_s, uint32_t cls, uint32_t id);
/* Removes the earliest event into *out; returns 0, or -1 when empty. */
int event_pop(struct event_heap *h, struct event *out);
void event_heap_free(struct event_heap *h);

#endif
