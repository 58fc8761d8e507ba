/* event_heap.c - binary min-heap of events (see event_heap.h). */
#include "event_heap.h"

#include <stdlib.h>

int event_push(struct event_heap *h, double t_s, uint32_t cls, uint32_t id)
{
	struct event e = {t_s, cls, id};
	size_t i;

	if (h->n == h->cap) {
		size_t cap = h->cap ? 2 * h->cap : 64;
		struct event *ev = realloc(h->ev, cap * sizeof(*ev));

		if (!ev)
			return -1;
		h->ev = ev;
		h->cap = cap;
	}
	i = h->n++;
	while (i > 0) {
		size_t p = (i - 1) / 2;

		if (!event_before(&e, &h->ev[p]))
			break;
		h->ev[i] = h->ev[p];
		i = p;
	}
	h->ev[i] = e;
	return 0;
}

int event_pop(struct event_heap *h, struct event *out)
{
	struct event last;
	size_t i = 0;

	if (!h->n)
		return -1;
	*out = h->ev[0];
	last = h->ev[--h->n];
	for (;;) {
		size_t l = 2 * i + 1, m = i;

		if (l >= h->n)
			break;
		m = l;
		if (l + 1 < h->n && event_before(&h->ev[l + 1], &h->ev[l]))
			m = l + 1;
		if (!event_before(&h->ev[m], &last))
			break;
		h->ev[i] = h->ev[m];
		i = m;
	}
	if (h->n)
		h->ev[i] = last;
	return 0;
}

void event_heap_free(struct event_heap *h)
{
	free(h->ev);
	h->ev = NULL;
	h->n = h->cap = 0;
}
