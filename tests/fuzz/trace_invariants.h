/*
 * trace_invariants.h - what every loaded trace must satisfy, checked by the fuzz targets that
 * load traces (fuzz_trace_load.c, fuzz_kvt.c): aborts on a violation.
 *   - at least one request; requests are in arrival order (non-decreasing ts_s);
 *   - their blocks lie inside node[] and add up to nblk; nblocks = ceil(input_tokens / B);
 *   - every node index < nnodes; a request's first block has depth 0 and no parent, block i
 *     has depth i and the previous block as parent (the chain);
 *   - parent_row, when set, points at an earlier request with that chat id;
 *   - cache_ceiling() counts hits <= blocks.
 * trace_load_outcome() checks what a load of `path` gave: those invariants on success, a
 * message that starts with "path:" and no trace on failure.
 */
#ifndef KV_FUZZ_TRACE_INVARIANTS_H
#define KV_FUZZ_TRACE_INVARIANTS_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cache.h"
#include "trace.h"

static void trace_invariants(const struct kv_trace *t)
{
	uint64_t off = 0;
	struct kv_ceiling c;

	if (!t->nreq || !t->block_size)
		abort();
	const uint32_t *depth = trace_node_depth(t);

	if (!depth)
		abort();
	for (size_t r = 0; r < t->nreq; r++) {
		const struct kv_request *q = &t->req[r];
		const uint32_t *nodes = trace_req_nodes(t, r);

		if (r && q->ts_s < t->req[r - 1].ts_s)
			abort();
		if (q->blk_off + q->nblocks > t->nblk)
			abort();
		if ((uint64_t)q->nblocks != ((uint64_t)q->input_tokens + t->block_size - 1) /
						    t->block_size)
			abort();
		for (uint32_t i = 0; i < q->nblocks; i++) {
			uint32_t n = nodes[i];
			if (n >= t->nnodes || depth[n] != i ||
			    t->node_parent[n] != (i ? nodes[i - 1] : KV_NO_NODE))
				abort();
		}
		if (q->parent_row != KV_NO_ROW &&
		    (q->parent_row < 0 || (size_t)q->parent_row >= r ||
		     t->req[q->parent_row].chat_id != q->parent_chat_id))
			abort();
		off += q->nblocks;
	}
	if (off != t->nblk)
		abort();
	if (cache_ceiling(t, KV_HIT_PREFIX, &c) == KV_OK && (c.hit_blocks > c.blocks || c.hit_tokens > c.tokens))
		abort();
}

/* Checks, then frees, what trace_load(path) gave: rc, the trace t, the error err. */
static void trace_load_outcome(const char *path, int rc, struct kv_trace *t,
			       const struct kv_err *err)
{
	if (rc == KV_OK) {
		trace_invariants(t);
		trace_free(t);
	} else if (strncmp(err->msg, path, strlen(path)) || err->msg[strlen(path)] != ':') {
		fprintf(stderr, "error without the path: '%s'\n", err->msg);
		abort();
	} else if (t) {
		abort();
	}
}

#endif
