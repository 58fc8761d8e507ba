/*
 * fuzz_kvt.c - libFuzzer target: the .kvt section decoders (sim/core/trace_kvt.c) past the
 * CRCs.
 *
 * fuzz_trace_load reaches the .kvt loader too, but there almost every mutation stops at a
 * CRC or in zlib. Here the input is a .kvt in raw form: the 72-byte header (its CRC is
 * recomputed), then sections, each a u32 id, a u32 length and that many raw bytes (the
 * length is cut to what is left). The target writes each as a zlib stream (of stored
 * blocks: fast) with its CRC and lengths, so the decoders see the mutated raw bytes; the
 * file goes to an in-memory file (memfd) and through trace_load(). Checked on success:
 * trace_invariants.h; on failure: a message that starts with the path. Seeds
 * (corpus/kvt/): converted traces in this form.
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
#include <zlib.h>

#include "trace.h"
#include "trace_invariants.h"

static void kvt_put_le(unsigned char *p, uint64_t v, int n)
{
	for (int i = 0; i < n; i++)
		p[i] = (unsigned char)(v >> (8 * i));
}

/* A zlib stream of stored (uncompressed) deflate blocks: what the reader inflates, without
 * the cost of deflate's state in every run. Returns its length: at most len + 6 + 5 per
 * 65,535 bytes. */
static size_t kvt_stored(unsigned char *out, const unsigned char *in, size_t len)
{
	size_t n = 2;
	uint32_t adler = (uint32_t)adler32(1, in, (uInt)len);

	out[0] = 0x78; /* deflate, 32 KiB window */
	out[1] = 0x01; /* no dictionary; (0x78 << 8 | 0x01) % 31 == 0 */
	do {
		size_t k = len > 65535 ? 65535 : len;

		out[n] = len == k; /* BFINAL on the last block, BTYPE 00: stored */
		kvt_put_le(out + n + 1, k, 2);
		kvt_put_le(out + n + 3, ~k & 0xffff, 2);
		memcpy(out + n + 5, in, k);
		n += 5 + k;
		in += k;
		len -= k;
	} while (len);
	for (int i = 3; i >= 0; i--)
		out[n++] = (unsigned char)(adler >> (8 * i));
	return n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	size_t cap = 72 + 64, n = size < 72 ? size : 72, at = n;
	unsigned char *out;
	struct kv_trace *t = NULL;
	struct kv_err err = {{0}};
	char path[64];
	int fd, rc;

	/* every section grows by at most its zlib bound plus a 24-byte header */
	for (size_t i = 72; i + 8 <= size;) {
		size_t len = data[i + 4] | data[i + 5] << 8 | (size_t)data[i + 6] << 16 |
			     (size_t)data[i + 7] << 24;

		if (len > size - i - 8)
			len = size - i - 8;
		cap += 24 + 6 + len + 5 * (len / 65535 + 1);
		i += 8 + len;
	}
	if (!(out = malloc(cap)))
		abort();
	memcpy(out, data, n);
	if (n == 72)
		kvt_put_le(out + 68, (uint32_t)crc32(0, out, 68), 4);
	for (size_t i = 72; i + 8 <= size;) {
		size_t len = data[i + 4] | data[i + 5] << 8 | (size_t)data[i + 6] << 16 |
			     (size_t)data[i + 7] << 24;
		size_t clen;

		if (len > size - i - 8)
			len = size - i - 8;
		clen = kvt_stored(out + at + 24, data + i + 8, len);
		memcpy(out + at, data + i, 4); /* id */
		kvt_put_le(out + at + 4, (uint32_t)crc32(0, out + at + 24, (uInt)clen), 4);
		kvt_put_le(out + at + 8, len, 4);
		kvt_put_le(out + at + 12, 0, 4);
		kvt_put_le(out + at + 16, clen, 4);
		kvt_put_le(out + at + 20, 0, 4);
		at += 24 + clen;
		i += 8 + len;
	}
	fd = memfd_create("kvt", 0);
	if (fd < 0 || write(fd, out, at) != (ssize_t)at)
		abort();
	free(out);
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	rc = trace_load(path, NULL, &t, &err);
	trace_load_outcome(path, rc, t, &err);
	close(fd);
	return 0;
}
