/*
 * fuzz_trace_load.c - libFuzzer target: the whole trace loader (sim/core/trace_load.c and,
 * through the magic bytes, the .kvt loader) on arbitrary file contents.
 *
 * The first input byte picks the load options (bit 0 --lenient, bit 1 --sort, bits 2-3 the
 * format: auto, bailian, mooncake, kvt; bits 4-5 the block size: default, 1, 16, 512; bit 6:
 * load on one thread and again on three - parse, intern, inflate - however small the file,
 * and compare: the same result or the same error); the rest is the file, written to an in-memory file (memfd) so that the real path-based entry
 * point runs: plain or gzip JSONL, or .kvt when it starts with the KVT magic.
 * Checked on success - the invariants everything downstream relies on:
 *   - at least one request; requests are in arrival order (non-decreasing ts_s);
 *   - their blocks lie inside node[] and add up to nblk; nblocks = ceil(input_tokens / B);
 *   - every node index < nnodes; a request's first block has depth 0 and no parent, block i
 *     has depth i and the previous block as parent (the chain);
 *   - parent_row, when set, points at an earlier request with that chat id;
 *   - cache_ceiling() counts hits <= blocks.
 * On failure: a message that starts with the path ("FILE:LINE: ..." or "FILE: ...").
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "cache.h"
#include "trace.h"
#include "trace_kvt.h"

static void check(const struct kv_trace *t)
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

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const enum kv_trace_format fmts[] = {KV_FMT_AUTO, KV_FMT_BAILIAN, KV_FMT_MOONCAKE,
						     KV_FMT_KVT};
	static const uint32_t bss[] = {0, 1, 16, 512};
	struct kv_load_opts o = {0};
	struct kv_trace *t = NULL;
	struct kv_err err = {{0}};
	char path[64];
	int fd, rc;

	if (!size)
		return 0;
	o.lenient = data[0] & 1;
	o.sort = (data[0] >> 1) & 1;
	o.format = fmts[(data[0] >> 2) & 3];
	o.block_size = bss[(data[0] >> 4) & 3];
	fd = memfd_create("trace", 0);
	if (fd < 0)
		abort();
	if (size > 1 && write(fd, data + 1, size - 1) != (ssize_t)(size - 1))
		abort();
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	o.threads = (data[0] >> 6) & 1; /* 0: as the file's size decides */
	rc = trace_load(path, &o, &t, &err);
	if (o.threads) {
		struct kv_trace *t2 = NULL;
		struct kv_err err2 = {{0}};

		o.threads = 2;
		if (trace_load(path, &o, &t2, &err2) != rc || strcmp(err.msg, err2.msg) ||
		    (rc == KV_OK && (t2->nnodes != t->nnodes ||
				     trace_checksum(t2) != trace_checksum(t)))) {
			fprintf(stderr, "one thread and three differ: '%s' / '%s'\n", err.msg,
				err2.msg);
			abort();
		}
		trace_free(t2);
	}
	if (rc == KV_OK) {
		check(t);
		trace_free(t);
	} else if (strncmp(err.msg, path, strlen(path)) || err.msg[strlen(path)] != ':') {
		fprintf(stderr, "error without the path: '%s'\n", err.msg);
		abort();
	} else if (t) {
		abort();
	}
	close(fd);
	return 0;
}
