/*
 * sse.h - an incremental parser for server-sent events (text/event-stream), as OpenAI-
 * compatible servers stream completions.
 *
 * Bytes are fed in whatever chunks the network delivers; lines may be split anywhere and end
 * in \n, \r\n or \r. "data:" fields (with or without the space after the colon) are joined
 * with \n and dispatched on a blank line; comments (":...") and other fields are ignored.
 */
#ifndef KV_LIVE_SSE_H
#define KV_LIVE_SSE_H

#include <stddef.h>

/* Called once per event with its data (NUL-terminated, len bytes). Return non-zero to stop. */
typedef int (*sse_event_fn)(void *ctx, const char *data, size_t len);

struct sse_parser {
	char *line;          /* the current, unterminated line */
	size_t line_len, line_cap;
	char *data;          /* data of the current event */
	size_t data_len, data_cap;
	int has_data;
	int after_cr;        /* the last byte fed was \r (a following \n belongs to it) */
	sse_event_fn fn;
	void *ctx;
};

void sse_init(struct sse_parser *p, sse_event_fn fn, void *ctx);
/* Forgets any partial line and event (reuse for a new stream), keeping the buffers. */
void sse_reset(struct sse_parser *p);
void sse_free(struct sse_parser *p);

/* Feeds n bytes. Returns 0, -1 when out of memory, or the callback's non-zero value.
 * O(n) amortised. */
int sse_feed(struct sse_parser *p, const char *buf, size_t n);

/* End of stream: dispatches a pending event that lacked its blank line. */
int sse_finish(struct sse_parser *p);

#endif
