/*
 * fuzz_trace_load.c - libFuzzer target: the whole trace loader (sim/core/trace_load.c and,
 * through the magic bytes, the .kvt loader) on arbitrary file contents.
 *
 * The first input byte picks the load options (bit 0 --lenient, bit 1 --sort, bits 2-3 the
 * format: auto, bailian, mooncake, kvt; bits 4-5 the block size: default, 1, 16, 512; bit 6:
 * load on one thread and again on three - parse, intern, inflate - however small the file,
 * and compare: the same result or the same error); the rest is the file, written to an in-memory file (memfd) so that the real path-based entry
 * point runs: plain or gzip JSONL, or .kvt when it starts with the KVT magic.
 * Checked on success: the invariants everything downstream relies on (trace_invariants.h).
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

#include "trace.h"
#include "trace_invariants.h"

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
	trace_load_outcome(path, rc, t, &err);
	close(fd);
	return 0;
}
