/*
 * trace_kvt.c - the binary trace cache (see trace_kvt.h).
 *
 * Layout, little-endian:
 *   header, 72 bytes: magic "KVT\x01", u32 version (KVT_VERSION), u32 block_size,
 *     u32 format, u64 requests, u64 block accesses, u32 nodes, u32 types,
 *     u64 input tokens, u64 source bytes, u64 trace_checksum(), u32 sections,
 *     u32 CRC-32 of the 68 bytes before it;
 *   then `sections` sections, each: u32 id, u32 CRC-32 of the stored (compressed) bytes,
 *     u64 raw length, u64 stored length, then the raw bytes compressed with zlib (whose
 *     Adler-32 trailer covers the raw bytes). Version 1 had the CRC of the raw bytes, which
 *     let a few flipped bits of a compressed stream (in Huffman code lengths of unused
 *     symbols) load silently; the CRC of the stored bytes catches every flipped byte.
 * Sections (raw form):
 *   REQ    per request 46 bytes: f64 ts_s, i64 chat_id, i64 parent_chat_id, u32 blocks,
 *          u32 input tokens, u32 output tokens, i32 turn, i32 parent_row, u16 type;
 *   NODE   the block accesses, each as the zigzag varint of node - previous node;
 *   PARENT per node, varint of node - parent (0 for a first block);
 *   HASH   per node, zigzag varint of hash id - previous node's hash id;
 *   TYPES  types x 64 bytes, NUL-padded type names.
 * Depths are recomputed from the parents. Everything is checked on load (lengths, the CRC of
 * every section, ranges, every request's chain), so a corrupt file gives "FILE:BYTE: what is
 * wrong" rather than a wrong result. The header's trace_checksum() of the source identifies
 * the trace (the tests check a loaded .kvt gives the same); it is not recomputed on load. Loading costs one inflate and
 * one decode pass per section: O(size), several times faster than parsing JSONL.
 * Records skipped by --lenient at conversion are not stored (the .kvt has none).
 */
#include "trace_kvt.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <zlib.h>

#include "bigmem.h"
#include "outfile.h"

#define KVT_VERSION 2
#define HDR_BYTES 72
#define SEC_HDR_BYTES 24
#define REQ_BYTES 46

enum { SEC_REQ = 1, SEC_NODE, SEC_PARENT, SEC_HASH, SEC_TYPES, SEC_COUNT = 5 };

static const char *const sec_name[] = {"", "requests", "block accesses", "parents",
				       "hash ids", "types"};

/* ---- little-endian byte buffers ---- */

struct wbuf {
	unsigned char *p;
	size_t n, cap;
	int oom;
};

static int wb_need(struct wbuf *b, size_t k)
{
	if (b->n + k <= b->cap)
		return 0;
	size_t cap = b->cap ? b->cap : 1 << 16;
	while (cap < b->n + k)
		cap *= 2;
	unsigned char *q = kv_big_realloc(b->p, cap);
	if (!q) {
		b->oom = 1;
		return -1;
	}
	b->p = q;
	b->cap = cap;
	return 0;
}

static void wb_bytes(struct wbuf *b, const void *s, size_t k)
{
	if (!wb_need(b, k)) {
		memcpy(b->p + b->n, s, k);
		b->n += k;
	}
}

static void wb_u16(struct wbuf *b, uint16_t v)
{
	unsigned char s[2] = {(unsigned char)v, (unsigned char)(v >> 8)};
	wb_bytes(b, s, 2);
}

static void wb_u32(struct wbuf *b, uint32_t v)
{
	unsigned char s[4];
	for (int i = 0; i < 4; i++)
		s[i] = (unsigned char)(v >> (8 * i));
	wb_bytes(b, s, 4);
}

static void wb_u64(struct wbuf *b, uint64_t v)
{
	unsigned char s[8];
	for (int i = 0; i < 8; i++)
		s[i] = (unsigned char)(v >> (8 * i));
	wb_bytes(b, s, 8);
}

static void wb_varint(struct wbuf *b, uint64_t v)
{
	if (wb_need(b, 10))
		return;
	while (v >= 0x80) {
		b->p[b->n++] = (unsigned char)(v | 0x80);
		v >>= 7;
	}
	b->p[b->n++] = (unsigned char)v;
}

static uint64_t zigzag(int64_t v)
{
	return ((uint64_t)v << 1) ^ (uint64_t)(v >> 63);
}

static int64_t unzigzag(uint64_t v)
{
	return (int64_t)(v >> 1) ^ -(int64_t)(v & 1);
}

static uint32_t rd_u32(const unsigned char *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t rd_u64(const unsigned char *p)
{
	return (uint64_t)rd_u32(p) | (uint64_t)rd_u32(p + 4) << 32;
}

/* ---- writing ---- */

static void put_section(struct wbuf *out, uint32_t id, const struct wbuf *raw)
{
	uLongf clen = compressBound((uLong)raw->n);
	size_t at = out->n;

	wb_u32(out, id);
	wb_u32(out, 0); /* CRC-32 of the stored bytes, filled below */
	wb_u64(out, raw->n);
	wb_u64(out, 0); /* stored length, filled below */
	if (out->oom || wb_need(out, clen))
		return;
	if (compress2(out->p + out->n, &clen, raw->p ? raw->p : (const Bytef *)"", (uLong)raw->n,
		      6) != Z_OK) {
		out->oom = 1;
		return;
	}
	{
		uint32_t crc = (uint32_t)crc32(0, out->p + out->n, (uInt)clen);

		for (int i = 0; i < 4; i++)
			out->p[at + 4 + i] = (unsigned char)(crc >> (8 * i));
	}
	out->n += clen;
	for (int i = 0; i < 8; i++)
		out->p[at + 16 + i] = (unsigned char)((uint64_t)clen >> (8 * i));
}

int trace_save_kvt(const struct kv_trace *t, const char *path, struct kv_err *err)
{
	struct wbuf out = {0}, raw = {0};
	struct kv_outfile of;
	int rc;

	if (t->nreq * (uint64_t)REQ_BYTES > UINT32_MAX || t->nblk * 10 > UINT32_MAX ||
	    (uint64_t)t->nnodes * 10 > UINT32_MAX)
		return kv_fail(err, KV_EINPUT, "%s: trace too large for .kvt version %d (a "
			       "section over 4 GiB)", path, KVT_VERSION);
	wb_bytes(&out, KVT_MAGIC, 4);
	wb_u32(&out, KVT_VERSION);
	wb_u32(&out, t->block_size);
	wb_u32(&out, (uint32_t)t->format);
	wb_u64(&out, t->nreq);
	wb_u64(&out, t->nblk);
	wb_u32(&out, t->nnodes);
	wb_u32(&out, (uint32_t)t->ntypes);
	wb_u64(&out, t->input_tokens);
	wb_u64(&out, t->source_bytes);
	wb_u64(&out, trace_checksum(t));
	wb_u32(&out, SEC_COUNT);
	if (!out.oom)
		wb_u32(&out, (uint32_t)crc32(0, out.p, HDR_BYTES - 4));

	for (size_t r = 0; r < t->nreq; r++) {
		const struct kv_request *q = &t->req[r];
		uint64_t ts;

		memcpy(&ts, &q->ts_s, 8);
		wb_u64(&raw, ts);
		wb_u64(&raw, (uint64_t)q->chat_id);
		wb_u64(&raw, (uint64_t)q->parent_chat_id);
		wb_u32(&raw, q->nblocks);
		wb_u32(&raw, q->input_tokens);
		wb_u32(&raw, q->output_tokens);
		wb_u32(&raw, (uint32_t)q->turn);
		wb_u32(&raw, (uint32_t)q->parent_row);
		wb_u16(&raw, q->type);
	}
	put_section(&out, SEC_REQ, &raw);
	raw.n = 0;
	/* accesses in request order (the requests' blk_off may not be increasing after --sort) */
	{
		uint32_t prev = 0;
		for (size_t r = 0; r < t->nreq; r++) {
			const uint32_t *nodes = trace_req_nodes(t, r);
			for (uint32_t i = 0; i < t->req[r].nblocks; i++) {
				wb_varint(&raw, zigzag((int64_t)nodes[i] - (int64_t)prev));
				prev = nodes[i];
			}
		}
	}
	put_section(&out, SEC_NODE, &raw);
	raw.n = 0;
	for (uint32_t n = 0; n < t->nnodes; n++)
		wb_varint(&raw, t->node_parent[n] == KV_NO_NODE ? 0 : n - t->node_parent[n]);
	put_section(&out, SEC_PARENT, &raw);
	raw.n = 0;
	for (uint32_t n = 0; n < t->nnodes; n++)
		wb_varint(&raw, zigzag((int64_t)(t->node_hash[n] - (n ? t->node_hash[n - 1] : 0))));
	put_section(&out, SEC_HASH, &raw);
	raw.n = 0;
	for (int i = 0; i < t->ntypes; i++) {
		char name[64] = {0};
		strncpy(name, t->type_names[i], sizeof(name) - 1);
		wb_bytes(&raw, name, 64);
	}
	put_section(&out, SEC_TYPES, &raw);
	free(raw.p);
	if (out.oom || raw.oom) {
		free(out.p);
		return kv_fail(err, KV_ERUNTIME, "%s: out of memory", path);
	}
	if ((rc = outfile_open(&of, path, err))) {
		free(out.p);
		return rc;
	}
	if (fwrite(out.p, 1, out.n, of.f) != out.n) {
		outfile_abort(&of);
		free(out.p);
		return kv_fail(err, KV_ERUNTIME, "%s: %s", path, strerror(errno));
	}
	free(out.p);
	return outfile_commit(&of, err);
}

/* ---- reading ---- */

struct rd {
	const char *path;
	const unsigned char *p; /* raw section */
	size_t n, at;
	uint64_t file_off;      /* of the section, for messages */
	int sec;
	struct kv_err *err;
};

static int bad(struct rd *r, const char *what)
{
	return kv_fail(r->err, KV_EINPUT, "%s:%llu: corrupt .kvt: %s in section %d (%s)",
		       r->path, (unsigned long long)r->file_off, what, r->sec, sec_name[r->sec]);
}

static inline int rd_varint(struct rd *r, uint64_t *v)
{
	uint64_t x = 0;
	int s = 0;

	while (r->at < r->n) {
		unsigned char c = r->p[r->at++];
		x |= (uint64_t)(c & 0x7f) << s;
		if (!(c & 0x80)) {
			*v = x;
			return 0;
		}
		s += 7;
		if (s > 63)
			return -1;
	}
	return -1;
}

static int decode(struct kv_trace *t, int id, struct rd *r)
{
	switch (id) {
	case SEC_REQ: {
		uint64_t off = 0;

		if (r->n != t->nreq * REQ_BYTES)
			return bad(r, "wrong length");
		for (size_t i = 0; i < t->nreq; i++) {
			const unsigned char *p = r->p + i * REQ_BYTES;
			struct kv_request *q = &t->req[i];
			uint64_t ts = rd_u64(p);

			memset(q, 0, sizeof(*q));
			memcpy(&q->ts_s, &ts, 8);
			q->chat_id = (int64_t)rd_u64(p + 8);
			q->parent_chat_id = (int64_t)rd_u64(p + 16);
			q->nblocks = rd_u32(p + 24);
			q->input_tokens = rd_u32(p + 28);
			q->output_tokens = rd_u32(p + 32);
			q->turn = (int32_t)rd_u32(p + 36);
			q->parent_row = (int32_t)rd_u32(p + 40);
			q->type = (uint16_t)(p[44] | p[45] << 8);
			q->blk_off = off;
			off += q->nblocks;
			if (q->type >= t->ntypes || q->parent_row >= (int32_t)i ||
			    q->parent_row < KV_NO_ROW ||
			    q->nblocks != ((uint64_t)q->input_tokens + t->block_size - 1) / t->block_size ||
			    (i && q->ts_s < t->req[i - 1].ts_s) || q->ts_s != q->ts_s)
				return bad(r, "an inconsistent request");
			t->input_tokens -= q->input_tokens; /* checked to reach 0 by the caller */
		}
		if (off != t->nblk)
			return bad(r, "block counts that do not add up");
		return 0;
	}
	case SEC_NODE: {
		uint32_t prev = 0;

		for (uint64_t i = 0; i < t->nblk; i++) {
			uint64_t v;
			int64_t n;

			if (rd_varint(r, &v))
				return bad(r, "a truncated varint");
			n = (int64_t)prev + unzigzag(v);
			if (n < 0 || n >= t->nnodes)
				return bad(r, "a node out of range");
			t->node[i] = prev = (uint32_t)n;
		}
		return r->at == r->n ? 0 : bad(r, "trailing bytes");
	}
	case SEC_PARENT:
		for (uint32_t n = 0; n < t->nnodes; n++) {
			uint64_t v;

			if (rd_varint(r, &v) || v > n)
				return bad(r, "a parent out of range");
			t->node_parent[n] = v ? n - (uint32_t)v : KV_NO_NODE;
		}
		return r->at == r->n ? 0 : bad(r, "trailing bytes");
	case SEC_HASH: {
		uint64_t prev = 0;

		for (uint32_t n = 0; n < t->nnodes; n++) {
			uint64_t v;

			if (rd_varint(r, &v))
				return bad(r, "a truncated varint");
			t->node_hash[n] = prev = prev + (uint64_t)unzigzag(v);
		}
		return r->at == r->n ? 0 : bad(r, "trailing bytes");
	}
	case SEC_TYPES:
		if (r->n != (size_t)t->ntypes * 64)
			return bad(r, "wrong length");
		for (int i = 0; i < t->ntypes; i++) {
			if (memchr(r->p + i * 64, 0, 64) == NULL)
				return bad(r, "an unterminated type name");
			memcpy(t->type_names[i], r->p + i * 64, KV_MAX_TYPE_NAME + 1);
			t->type_names[i][KV_MAX_TYPE_NAME] = 0;
		}
		return 0;
	}
	return 0;
}

struct sec {
	uint64_t at, rawlen, clen;
	uint32_t crc;
};

/* A set of sections one thread decodes. */
struct group {
	struct kv_trace *t;
	const char *path;
	const unsigned char *buf;
	const struct sec *sec;
	const int *ids;
	int n;
	int rc;
	struct kv_err err;
	uint64_t at; /* file offset of the failing section */
};

/* Populates the trace array that section `id` decodes into, on the decoding thread: the
 * two threads then pay the first touch of their own arrays at the same time. */
static void populate_target(struct kv_trace *t, int id)
{
	switch (id) {
	case SEC_REQ: kv_big_prefault(t->req, 0, t->nreq * sizeof(*t->req)); break;
	case SEC_NODE: kv_big_prefault(t->node, 0, t->nblk * sizeof(*t->node)); break;
	case SEC_PARENT: kv_big_prefault(t->node_parent, 0, (size_t)t->nnodes * 4); break;
	case SEC_HASH: kv_big_prefault(t->node_hash, 0, (size_t)t->nnodes * 8); break;
	default: break;
	}
}

/* Inflates one section's zlib stream (compress()'s format: a 2-byte header, deflate data,
 * an Adler-32) into out. The Adler-32 is not computed: the section's CRC-32, checked
 * before, already covers every stored byte, and the raw length is checked after. Returns
 * 0 with *got bytes, or -1 when the stream is not valid. O(len). */
static int inflate_section(unsigned char *out, size_t cap, const unsigned char *in, size_t len,
			   size_t *got)
{
	z_stream z;
	int zr;

	memset(&z, 0, sizeof(z));
	if (len < 2 || (in[0] & 0x0f) != Z_DEFLATED || (in[0] << 8 | in[1]) % 31 || in[1] & 0x20)
		return -1; /* not a zlib header, or one asking for a preset dictionary */
	if (inflateInit2(&z, -15) != Z_OK) /* raw deflate: the header is read above */
		return -1;
	z.next_in = (unsigned char *)in + 2;
	z.avail_in = (uInt)(len - 2);
	z.next_out = out;
	z.avail_out = (uInt)cap;
	zr = inflate(&z, Z_FINISH);
	*got = cap - z.avail_out;
	inflateEnd(&z);
	return zr == Z_STREAM_END ? 0 : -1;
}

/* Inflates and decodes the group's sections with one reused buffer. O(their size). */
static void *decode_group(void *arg)
{
	struct group *g = arg;
	unsigned char *raw = NULL;
	uint64_t rawcap = 0;

	for (int i = 0; i < g->n && !g->rc; i++) {
		int id = g->ids[i];
		const struct sec *s = &g->sec[id];
		struct rd r = {g->path, NULL, 0, 0, s->at, id, &g->err};
		size_t got;

		g->at = s->at;
		if ((uint32_t)crc32(0, g->buf + s->at + SEC_HDR_BYTES, (uInt)s->clen) != s->crc) {
			g->rc = bad(&r, "data that does not decompress or match its CRC");
			break;
		}
		if (s->rawlen + 1 > rawcap) {
			unsigned char *nr = kv_big_realloc(raw, (size_t)s->rawlen + 1);
			if (!nr) {
				g->rc = kv_fail(&g->err, KV_ERUNTIME, "%s: out of memory", g->path);
				break;
			}
			raw = nr;
			kv_big_prefault(raw, (size_t)rawcap, (size_t)s->rawlen + 1);
			rawcap = s->rawlen + 1;
		}
		populate_target(g->t, id);
		if (inflate_section(raw, (size_t)s->rawlen, g->buf + s->at + SEC_HDR_BYTES,
				    (size_t)s->clen, &got) || got != s->rawlen) {
			g->rc = bad(&r, "data that does not decompress or match its CRC");
			break;
		}
		r.p = raw;
		r.n = (size_t)s->rawlen;
		g->rc = decode(g->t, id, &r);
	}
	free(raw);
	return NULL;
}

static unsigned char *read_file(const char *path, size_t *len, int *rc, struct kv_err *err)
{
	FILE *f = fopen(path, "rb");
	struct stat st;
	unsigned char *buf;

	if (!f) {
		*rc = kv_fail(err, KV_EINPUT, "%s: %s", path, strerror(errno));
		return NULL;
	}
	if (fstat(fileno(f), &st) || !(buf = kv_big_alloc((size_t)st.st_size + 1))) {
		fclose(f);
		*rc = kv_fail(err, KV_ERUNTIME, "%s: out of memory", path);
		return NULL;
	}
	*len = fread(buf, 1, (size_t)st.st_size, f);
	if (ferror(f)) {
		fclose(f);
		free(buf);
		*rc = kv_fail(err, KV_EINPUT, "%s: %s", path, strerror(errno));
		return NULL;
	}
	fclose(f);
	return buf;
}

int trace_load_kvt(const char *path, const struct kv_load_opts *opts, struct kv_trace **out,
		   struct kv_err *err)
{
	size_t len = 0, at = HDR_BYTES;
	int seen = 0, rc = KV_EINPUT;
	unsigned char *buf = read_file(path, &len, &rc, err);
	struct sec sec[SEC_COUNT + 1];
	struct kv_trace *t = NULL;
	uint64_t checksum, input_tokens;
	uint32_t nsec, version;

	*out = NULL;
	if (!buf)
		return rc;
	if (len < HDR_BYTES || memcmp(buf, KVT_MAGIC, 4)) {
		rc = kv_fail(err, KV_EINPUT, "%s:0: not a .kvt file or truncated header (%zu bytes)",
			     path, len);
		goto fail;
	}
	if ((version = rd_u32(buf + 4)) != KVT_VERSION) {
		rc = kv_fail(err, KV_EINPUT, "%s:4: .kvt version %u, this kvsim reads version %d "
			     "(convert the trace again)", path, version, KVT_VERSION);
		goto fail;
	}
	if (rd_u32(buf + 68) != (uint32_t)crc32(0, buf, HDR_BYTES - 4)) {
		rc = kv_fail(err, KV_EINPUT, "%s:68: corrupt .kvt: header checksum mismatch", path);
		goto fail;
	}
	if (!(t = calloc(1, sizeof(*t))) || !(t->path = strdup(path))) {
		rc = kv_fail(err, KV_ERUNTIME, "%s: out of memory", path);
		goto fail;
	}
	t->block_size = rd_u32(buf + 8);
	t->format = (enum kv_trace_format)rd_u32(buf + 12);
	t->nreq = (size_t)rd_u64(buf + 16);
	t->nblk = rd_u64(buf + 24);
	t->nnodes = rd_u32(buf + 32);
	t->ntypes = (int)rd_u32(buf + 36);
	t->input_tokens = input_tokens = rd_u64(buf + 40);
	t->source_bytes = rd_u64(buf + 48);
	checksum = rd_u64(buf + 56);
	nsec = rd_u32(buf + 64);
	if (!t->block_size || (t->format != KV_FMT_BAILIAN && t->format != KV_FMT_MOONCAKE) ||
	    t->ntypes < 1 || t->ntypes > KV_MAX_TYPES || t->nnodes > KV_MAX_NODES ||
	    t->nnodes > t->nblk || t->nreq > KV_MAX_REQUESTS || !t->nreq ||
	    t->nblk > (uint64_t)len * 64 || t->nreq > len || nsec != SEC_COUNT) {
		rc = kv_fail(err, KV_EINPUT, "%s:8: corrupt .kvt: impossible header values", path);
		goto fail;
	}
	if (opts && opts->block_size && opts->block_size != t->block_size) {
		rc = kv_fail(err, KV_EINPUT, "%s:8: the .kvt was converted with --block-size %u, "
			     "not %u", path, t->block_size, opts->block_size);
		goto fail;
	}
	if (opts && (opts->format == KV_FMT_BAILIAN || opts->format == KV_FMT_MOONCAKE) &&
	    opts->format != t->format) {
		rc = kv_fail(err, KV_EINPUT, "%s:8: the .kvt was converted from a %s trace, not %s",
			     path, trace_format_name(t->format), trace_format_name(opts->format));
		goto fail;
	}
	/* populated by the thread that decodes into them (decode_group) */
	t->req = kv_big_realloc(NULL, t->nreq * sizeof(*t->req));
	t->node = kv_big_realloc(NULL, t->nblk * sizeof(*t->node));
	t->node_parent = kv_big_realloc(NULL, (size_t)t->nnodes * 4);
	t->node_hash = kv_big_realloc(NULL, (size_t)t->nnodes * 8);
	if (!t->req || !t->node || !t->node_parent || !t->node_hash) {
		rc = kv_fail(err, KV_ERUNTIME, "%s: out of memory", path);
		goto fail;
	}
	for (uint32_t s = 0; s < nsec; s++) {
		uint32_t id;

		if (len - at < SEC_HDR_BYTES) {
			rc = kv_fail(err, KV_EINPUT, "%s:%zu: truncated .kvt: section %u of %u is "
				     "missing", path, at, s + 1, nsec);
			goto fail;
		}
		id = rd_u32(buf + at);
		if (id < 1 || id > SEC_COUNT || (seen & (1 << id)) ||
		    rd_u64(buf + at + 8) > UINT32_MAX) {
			rc = kv_fail(err, KV_EINPUT, "%s:%zu: corrupt .kvt: bad section header", path,
				     at);
			goto fail;
		}
		seen |= 1 << id;
		sec[id].at = at;
		sec[id].crc = rd_u32(buf + at + 4);
		sec[id].rawlen = rd_u64(buf + at + 8);
		sec[id].clen = rd_u64(buf + at + 16);
		/* deflate expands at most about 1032:1: a larger raw length is corrupt, and
		 * must be refused before it sizes an allocation */
		if (sec[id].rawlen > sec[id].clen * 1032 + 1024) {
			rc = kv_fail(err, KV_EINPUT, "%s:%zu: corrupt .kvt: section %u (%s) claims "
				     "%llu bytes from %llu compressed", path, at, id, sec_name[id],
				     (unsigned long long)sec[id].rawlen,
				     (unsigned long long)sec[id].clen);
			goto fail;
		}
		if (sec[id].clen > len - at - SEC_HDR_BYTES) {
			rc = kv_fail(err, KV_EINPUT, "%s:%zu: truncated .kvt: section %u (%s) needs "
				     "%llu bytes, the file has %zu", path, at, id, sec_name[id],
				     (unsigned long long)sec[id].clen, len - at - SEC_HDR_BYTES);
			goto fail;
		}
		at += SEC_HDR_BYTES + sec[id].clen;
	}
	/* Two groups of independent sections decode on two threads: each fills its own arrays
	 * (and pays the first touch of their memory). */
	{
		static const int ga[] = {SEC_TYPES, SEC_REQ, SEC_NODE}, gb[] = {SEC_PARENT, SEC_HASH};
		struct group a = {t, path, buf, sec, ga, 3, 0, {{0}}};
		struct group b = {t, path, buf, sec, gb, 2, 0, {{0}}};
		pthread_t tid;
		int threaded = !pthread_create(&tid, NULL, decode_group, &b);

		decode_group(&a);
		if (threaded)
			pthread_join(tid, NULL);
		else
			decode_group(&b);
		if (a.rc || b.rc) { /* report the first bad section in file order */
			struct group *g = !b.rc || (a.rc && a.at < b.at) ? &a : &b;
			*err = g->err;
			rc = g->rc;
			goto fail;
		}
	}
	if (at != len) {
		rc = kv_fail(err, KV_EINPUT, "%s:%zu: corrupt .kvt: %zu bytes after the last "
			     "section", path, at, len - at);
		goto fail;
	}
	if (t->input_tokens != 0) {
		rc = kv_fail(err, KV_EINPUT, "%s:40: corrupt .kvt: input token count mismatch", path);
		goto fail;
	}
	t->input_tokens = input_tokens;
	/* every request's blocks must form one chain from ROOT */
	for (size_t r = 0; r < t->nreq; r++) {
		const uint32_t *nodes = trace_req_nodes(t, r);
		for (uint32_t i = 0; i < t->req[r].nblocks; i++)
			if (t->node_parent[nodes[i]] != (i ? nodes[i - 1] : KV_NO_NODE)) {
				rc = kv_fail(err, KV_EINPUT, "%s:%zu: corrupt .kvt: request %zu breaks "
					     "its block chain", path, (size_t)HDR_BYTES, r);
				goto fail;
			}
	}
	(void)checksum; /* trace_checksum() of the source; the sections carry their own CRCs */
	free(buf);
	*out = t;
	return KV_OK;
fail:
	free(buf);
	trace_free(t);
	return rc;
}
