/*
 * fuzz_sse.c - libFuzzer target: replay's server-sent-events parser (sim/live/sse.c).
 *
 * Byte 0 seeds the chunking; the rest is a byte stream from a server. It is fed once whole
 * and once cut into chunks of 1..16 bytes (sizes from a PRNG seeded by byte 0), each time
 * followed by sse_finish(). Checked: both give exactly the same events (count, lengths and
 * bytes) - the events must not depend on where the network cut the stream - every event's
 * data is NUL-terminated at its length, and nothing leaks (LSan).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sse.h"

struct events {
	char *buf; /* each event as its length (8 bytes) then its bytes */
	size_t n, cap;
	int count;
};

static int on_event(void *ctx, const char *data, size_t len)
{
	struct events *e = ctx;

	if (data[len] != 0)
		abort();
	if (e->n + len + 8 > e->cap) {
		e->cap = (e->n + len + 8) * 2;
		e->buf = realloc(e->buf, e->cap);
		if (!e->buf)
			abort();
	}
	memcpy(e->buf + e->n, &len, 8);
	memcpy(e->buf + e->n + 8, data, len);
	e->n += len + 8;
	e->count++;
	return 0;
}

static void run(const char *s, size_t n, unsigned seed, struct events *e)
{
	struct sse_parser p;
	uint32_t x = seed * 2654435761u + 1;

	sse_init(&p, on_event, e);
	for (size_t off = 0; off < n;) {
		size_t k = n - off;

		if (seed != 256) {
			x = x * 1664525u + 1013904223u;
			if (k > 1 + (x >> 28))
				k = 1 + (x >> 28);
		}
		if (sse_feed(&p, s + off, k))
			abort();
		off += k;
	}
	if (sse_finish(&p))
		abort();
	sse_free(&p);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct events whole = {0}, chunked = {0};

	if (!size)
		return 0;
	run((const char *)data + 1, size - 1, 256, &whole);
	run((const char *)data + 1, size - 1, data[0], &chunked);
	if (whole.count != chunked.count || whole.n != chunked.n ||
	    (whole.n && memcmp(whole.buf, chunked.buf, whole.n))) {
		fprintf(stderr, "sse: %d events whole, %d chunked (seed %u)\n", whole.count,
			chunked.count, data[0]);
		abort();
	}
	free(whole.buf);
	free(chunked.buf);
	return 0;
}
