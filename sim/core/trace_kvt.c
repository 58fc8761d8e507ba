/*
 * trace_kvt.c - the binary trace cache (see trace_kvt.h).
 *
 * Layout, little-endian:
 *   header, 72 bytes: magic "KVT\x01", u32 version (KVT_VERSION), u32 block_size,
 *     u32 format, u64 requests, u64 block accesses, u32 nodes, u32 types,
 *     u64 input tokens, u64 source bytes, u64 trace_checksum(), u32 sections,
 *     u32 CRC-32 of the 68 bytes before it;
 *   then `sections` sections, each: u32 id, u32 CRC-32 of the stored (compressed) bytes,
 *     u64 raw length, u64 stored length, then the raw bytes compressed with zlib. The CRC
 *     of the stored bytes catches every flipped byte (version 1 had the CRC of the raw
 *     bytes, which let a few flips in Huffman code lengths of unused symbols load silently).
 * Sections, raw form (varint: LEB128; zz: zigzag). Version 2 stored 46 bytes per request and
 * a varint per access, per parent and per hash id: 21 MB raw for the bench trace, 2.0 MB now.
 *   REQ    u8 timestamp scale, then 8 columns, each a varint byte length and then one varint
 *          per request (a column of length 0: every value is 0):
 *            ts: scale k <= 9: zz(ticks - previous ticks), ts = ticks / 10^k exactly (k is
 *                the smallest that gives every timestamp back bit for bit); scale 255: the
 *                f64 bits XOR the previous request's;
 *            zz(chat_id - previous chat_id - 1);
 *            zz(parent_chat_id - the parent row's chat_id), or zz(parent_chat_id + 1)
 *                for a request without a parent row;
 *            input tokens; output tokens; zz(turn); row - parent_row (0: none); type.
 *          A request's blocks are ceil(input tokens / block size), its offset their sum.
 *   NODE   the block accesses, per request: a varint d << 1 | runs; when d > 0, the request
 *          starts with a copy of the first blocks of request (row - d), given by a varint:
 *          c << 1 for all its blocks but the last c, or m << 1 | 1 for its first m (the
 *          smaller of c and m; a prefix already seen is copied from the latest request that
 *          has it); then
 *            runs 0: a varint f: f new nodes H, H+1, ... (H: 1 + the largest node so far);
 *            runs 1: a varint k and k runs of consecutive nodes, each a varint len << 1 |
 *                jump, and for a jump a zz varint of its start - H (otherwise it starts at
 *                H). Only when nodes are not numbered in order of first access (--sort).
 *   HASH   per node, zz(hash id - previous node's hash id - 1) (before node 0: -1); a 0 is
 *          followed by a varint k: k more nodes continue the +1 steps.
 *   TYPES  types x 64 bytes, NUL-padded type names.
 * Parents are not stored: every node is a block of some request (the writer checks it), so
 * a node's parent is the block before it there; the accesses give them all, and a copied
 * prefix is a chain already checked. Depths are computed on demand from the parents.
 *
 * Loading: two workers take the sections in turn (the NODE section, the largest, first, on
 * the calling thread; the second worker populates its parent array before it starts); a
 * file under 64 KiB loads on one thread.
 * Everything is checked (lengths, the CRC of every section, ranges, every request's chain,
 * block counts against input tokens), so a corrupt file gives "FILE:BYTE: what is wrong"
 * rather than a wrong result. The trace arrays are reserved for the header's counts but at
 * most 64 elements per file byte (which is all a header alone can make the loader populate)
 * and grown beyond that only as decoded data fills them, never past the header's counts,
 * which the data must match exactly.
 * The header's trace_checksum() of the source identifies the trace (the tests check a
 * loaded .kvt gives the same); it is not recomputed on load. Cost: one inflate and one
 * decode pass per section, O(size). Records skipped by --lenient at conversion are not
 * stored (the .kvt has none).
 */
#include "trace_kvt.h"

#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <zlib.h>

#include "bigmem.h"
#include "outfile.h"

#define KVT_VERSION 3
#define HDR_BYTES 72
#define SEC_HDR_BYTES 24
#define RAW_PAD 32      /* zero bytes after a raw section: a varint read never leaves it */
#define REQ_COLS 8
#define TS_BITS 255     /* timestamp scale: the f64 bits */
#define KVT_THREADED_BYTES (64u << 10) /* a smaller file loads on one thread */

enum { SEC_REQ = 1, SEC_NODE, SEC_HASH, SEC_TYPES, SEC_COUNT = 4 };

static const char *const sec_name[] = {"", "requests", "block accesses", "hash ids", "types"};

static const double pow10_tab[10] = {1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9};

/* ---- little-endian byte buffers ---- */

struct wbuf {
	unsigned char *p;
	size_t n, cap;
	int oom;
	int big; /* a section over 4 GiB (the reader's limit) */
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
	if (k && !wb_need(b, k)) {
		memcpy(b->p + b->n, s, k);
		b->n += k;
	}
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
	if (raw->n > UINT32_MAX || clen > UINT32_MAX) {
		out->big = 1;
		return;
	}
	if (out->oom || raw->oom || wb_need(out, clen))
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

/* The smallest decimal scale k that gives every timestamp back bit for bit as
 * (double)ticks / 10^k (as the reader computes it), or TS_BITS. O(requests x 10). */
static int ts_scale(const struct kv_trace *t)
{
	for (int k = 0; k < 10; k++) {
		size_t r;

		for (r = 0; r < t->nreq; r++) {
			double ts = t->req[r].ts_s, x = ts * pow10_tab[k], back;

			if (!(fabs(x) < 9007199254740992.0)) /* 2^53; also NaN */
				break;
			back = (double)llround(x) / pow10_tab[k];
			if (memcmp(&back, &ts, sizeof(ts)))
				break;
		}
		if (r == t->nreq)
			return k;
	}
	return TS_BITS;
}

static void put_requests(struct wbuf *out, const struct kv_trace *t)
{
	struct wbuf col[REQ_COLS] = {{0}}, raw = {0};
	int scale = ts_scale(t);
	uint64_t ticks = 0, bits = 0;
	int64_t chat = -1;

	for (size_t r = 0; r < t->nreq; r++) {
		const struct kv_request *q = &t->req[r];
		uint64_t v;

		if (scale == TS_BITS) {
			memcpy(&v, &q->ts_s, 8);
			wb_varint(&col[0], v ^ bits);
			bits = v;
		} else {
			v = (uint64_t)llround(q->ts_s * pow10_tab[scale]);
			wb_varint(&col[0], zigzag((int64_t)(v - ticks)));
			ticks = v;
		}
		wb_varint(&col[1], zigzag((int64_t)((uint64_t)q->chat_id - (uint64_t)chat - 1)));
		chat = q->chat_id;
		if (q->parent_row >= 0)
			wb_varint(&col[2], zigzag((int64_t)((uint64_t)q->parent_chat_id -
				(uint64_t)t->req[q->parent_row].chat_id)));
		else
			wb_varint(&col[2], zigzag((int64_t)((uint64_t)q->parent_chat_id + 1)));
		wb_varint(&col[3], q->input_tokens);
		wb_varint(&col[4], q->output_tokens);
		wb_varint(&col[5], zigzag(q->turn));
		wb_varint(&col[6], q->parent_row >= 0 ? r - (size_t)q->parent_row : 0);
		wb_varint(&col[7], q->type);
	}
	wb_bytes(&raw, (unsigned char[]){(unsigned char)scale}, 1);
	for (int c = 0; c < REQ_COLS; c++) {
		/* a column of one zero byte per request is stored as empty */
		int zero = col[c].n == t->nreq;

		for (size_t i = 0; zero && i < col[c].n; i++)
			zero = !col[c].p[i];
		wb_varint(&raw, zero ? 0 : col[c].n);
		if (!zero)
			wb_bytes(&raw, col[c].p, col[c].n);
		raw.oom |= col[c].oom;
		free(col[c].p);
	}
	put_section(out, SEC_REQ, &raw);
	out->oom |= raw.oom;
	free(raw.p);
}

/* The accesses (format above). For each request, the prefix of nodes already accessed is
 * copied from the latest request that has its last node (at the same depth: a node's chain
 * is its prefix); in a trace numbered in order of first access the rest are new nodes from
 * H on. Checks what the reader relies on: every node is some request's block, and its
 * parent is the block before it there. O(accesses). */
static int put_accesses(struct wbuf *out, const struct kv_trace *t)
{
	struct wbuf raw = {0};
	uint32_t *latest = calloc((size_t)t->nnodes + 1, 4); /* request + 1 of its latest access */
	uint64_t high = 0, nseen = 0;

	if (!latest) {
		out->oom = 1;
		return 0;
	}
	for (size_t r = 0; r < t->nreq; r++) {
		const uint32_t *nodes = trace_req_nodes(t, r);
		uint32_t nb = t->req[r].nblocks, m = 0, fresh = 1;

		for (uint32_t i = 0; i < nb; i++)
			if (nodes[i] >= t->nnodes ||
			    t->node_parent[nodes[i]] != (i ? nodes[i - 1] : KV_NO_NODE)) {
				free(latest);
				free(raw.p);
				return -1;
			}
		while (m < nb && latest[nodes[m]])
			m++;
		for (uint32_t i = m; i < nb; i++)
			fresh &= nodes[i] == high + (i - m);
		if (m) {
			size_t j = latest[nodes[m - 1]] - 1;

			uint32_t c = t->req[j].nblocks - m; /* its blocks left out */

			wb_varint(&raw, (r - j) << 1 | !fresh);
			wb_varint(&raw, c < m ? (uint64_t)c << 1 : (uint64_t)m << 1 | 1);
		} else {
			wb_varint(&raw, !fresh);
		}
		if (fresh) {
			wb_varint(&raw, nb - m);
			high += nb - m;
		} else {
			uint64_t k = 0;

			for (uint32_t i = m; i < nb; i++)
				k += i == m || nodes[i] != nodes[i - 1] + 1;
			wb_varint(&raw, k);
			for (uint32_t i = m; i < nb;) {
				uint64_t s = nodes[i], len = 1;

				while (i + len < nb && nodes[i + len] == s + len)
					len++;
				wb_varint(&raw, len << 1 | (s != high));
				if (s != high)
					wb_varint(&raw, zigzag((int64_t)(s - high)));
				if (s + len > high)
					high = s + len;
				i += (uint32_t)len;
			}
		}
		for (uint32_t i = 0; i < nb; i++) {
			nseen += !latest[nodes[i]];
			latest[nodes[i]] = (uint32_t)r + 1;
		}
	}
	free(latest);
	if (nseen != t->nnodes) {
		free(raw.p);
		return -1;
	}
	put_section(out, SEC_NODE, &raw);
	out->oom |= raw.oom;
	free(raw.p);
	return 0;
}

static void put_hashes(struct wbuf *out, const struct kv_trace *t)
{
	struct wbuf raw = {0};
	uint64_t prev = UINT64_MAX;

	for (uint32_t n = 0; n < t->nnodes;) {
		uint64_t d = t->node_hash[n] - prev - 1, k = 0;

		wb_varint(&raw, zigzag((int64_t)d));
		if (!d) {
			while (n + 1 + k < t->nnodes && t->node_hash[n + 1 + k] == t->node_hash[n + k] + 1)
				k++;
			wb_varint(&raw, k);
		}
		prev = t->node_hash[n + k];
		n += (uint32_t)k + 1;
	}
	put_section(out, SEC_HASH, &raw);
	out->oom |= raw.oom;
	free(raw.p);
}

int trace_save_kvt(const struct kv_trace *t, const char *path, struct kv_err *err)
{
	struct wbuf out = {0}, raw = {0};
	struct kv_outfile of;
	int rc;

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

	put_requests(&out, t);
	if (put_accesses(&out, t)) {
		free(out.p);
		return kv_fail(err, KV_ERUNTIME, "%s: internal error: a node that no request "
			       "accesses, or whose parent is not the block before it", path);
	}
	put_hashes(&out, t);
	for (int i = 0; i < t->ntypes; i++) {
		char name[64] = {0};
		strncpy(name, t->type_names[i], sizeof(name) - 1);
		wb_bytes(&raw, name, 64);
	}
	put_section(&out, SEC_TYPES, &raw);
	free(raw.p);
	if (out.big) {
		free(out.p);
		return kv_fail(err, KV_EINPUT, "%s: trace too large for .kvt version %d (a "
			       "section over 4 GiB)", path, KVT_VERSION);
	}
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
	const unsigned char *p; /* raw section, RAW_PAD zero bytes after its end */
	size_t n;
	uint64_t file_off;      /* of the section, for messages */
	int sec;
	struct kv_err *err;
};

static int bad(struct rd *r, const char *what)
{
	return kv_fail(r->err, KV_EINPUT, "%s:%llu: corrupt .kvt: %s in section %d (%s)",
		       r->path, (unsigned long long)r->file_off, what, r->sec, sec_name[r->sec]);
}

/* Reads a varint at *pp (at most `end`) and moves past it. The buffer has RAW_PAD readable
 * bytes after its end and a read takes at most 10, so it never leaves the buffer; the caller
 * checks that *pp did not pass `end` before it reads again. A varint longer than 10 bytes
 * leaves *pp at end + 1. */
static inline uint64_t gv(const unsigned char **pp, const unsigned char *end)
{
	const unsigned char *p = *pp;
	uint64_t v = *p++;

	if (v >= 0x80) {
		uint64_t x;
		int s = 7;

		v &= 0x7f;
		do {
			x = *p++;
			v |= (x & 0x7f) << s;
			s += 7;
		} while (x >= 0x80 && s < 70);
		if (x >= 0x80)
			p = end + 1; /* too long */
	}
	*pp = p;
	return v;
}

/* An output array filled as data is decoded: reserved at first for `guess` elements (at
 * most 64 per file byte) or the header's count, whichever is smaller, grown (mremap: no
 * copy) when the data needs more, never past `max`, the header's count; populated a step
 * ahead of use by the thread that fills it (but for the parents, see trace_load_kvt()).
 * Memory follows what the data fills, never a header field alone. */
struct grow {
	void *p;
	size_t elem, cap, pop, max, guess;
};

static int grow_slow(struct grow *g, size_t need)
{
	if (need > g->max)
		return -1;
	if (need > g->cap) {
		size_t cap = g->cap ? 2 * g->cap : g->guess;
		void *q;

		if (cap < need)
			cap = need;
		if (cap > g->max)
			cap = g->max;
		if (cap > SIZE_MAX / g->elem || !(q = kv_big_realloc(g->p, cap * g->elem)))
			return -1;
		g->p = q;
		g->cap = cap;
	}
	kv_big_prefault_to(g->p, g->elem, &g->pop, need, g->cap);
	return 0;
}

/* Makes elements [0, need) usable. O(1) but for a step of populating. */
static inline int grow(struct grow *g, size_t need)
{
	return need <= g->pop ? 0 : grow_slow(g, need);
}

enum { ARR_REQ, ARR_NODE, ARR_PARENT, ARR_HASH, ARR_OFF, ARR_N };

/* A load's sections, decoded by one or two workers that take them in turn (the largest
 * first), and the arrays they fill. */
struct load {
	struct kv_trace *t;
	const char *path;
	const unsigned char *buf;
	const struct sec *sec;
	int ntasks;
	size_t next;               /* the next section to take (atomic); every section is
				    * decoded, so that the first bad one in file order is
				    * reported whichever thread finds what first */
	struct {
		int id, rc;
		struct kv_err err;
	} task[SEC_COUNT];
	struct grow arr[ARR_N];    /* ARR_OFF: each request's first access, from NODE */
	int runs;                  /* derive_parents() must give the parents */
	void *prefault;            /* populated by the second worker before it takes a section */
	size_t prefault_bytes;
};

static int oom(struct rd *r)
{
	return kv_fail(r->err, KV_ERUNTIME, "%s: out of memory", r->path);
}

static int decode_requests(struct kv_trace *t, struct rd *r, struct grow *g)
{
	const unsigned char *p = r->p, *end = r->p + r->n, *cur[REQ_COLS], *cend[REQ_COLS];
	uint64_t off = 0, ticks = 0, bits = 0, chat = UINT64_MAX;
	unsigned scale;
	int used = 0; /* bit c: column c is stored */
	int shift = t->block_size & (t->block_size - 1) ? -1 : __builtin_ctz(t->block_size);

	if (!r->n)
		return bad(r, "wrong length");
	scale = *p++;
	if (scale > 9 && scale != TS_BITS)
		return bad(r, "an unknown timestamp scale");
	for (int c = 0; c < REQ_COLS; c++) {
		uint64_t len;

		if (p >= end)
			return bad(r, "a missing column");
		len = gv(&p, end);
		if (p > end || len > (uint64_t)(end - p))
			return bad(r, "a column longer than its section");
		cur[c] = p;
		cend[c] = p + len;
		p += len;
		used |= (len != 0) << c;
	}
	if (p != end)
		return bad(r, "trailing bytes");
	for (size_t i = 0; i < t->nreq; i++) {
		struct kv_request *req, *q;
		uint64_t v[REQ_COLS];
		int over = 0;

		if (grow(g, i + 1))
			return oom(r);
		req = g->p;
		q = &req[i];
		memset(q, 0, sizeof(*q));
		for (int c = 0; c < REQ_COLS; c++) {
			v[c] = used >> c & 1 ? gv(&cur[c], cend[c]) : 0;
			over |= cur[c] > cend[c];
		}
		if (over)
			return bad(r, "a truncated column");
		if (scale == TS_BITS) {
			bits ^= v[0];
			memcpy(&q->ts_s, &bits, 8);
		} else {
			ticks += (uint64_t)unzigzag(v[0]);
			q->ts_s = (double)(int64_t)ticks / pow10_tab[scale];
		}
		chat += 1 + (uint64_t)unzigzag(v[1]);
		q->chat_id = (int64_t)chat;
		if (v[6] > i)
			return bad(r, "an inconsistent request");
		q->parent_row = v[6] ? (int32_t)(i - v[6]) : KV_NO_ROW;
		q->parent_chat_id = (int64_t)((q->parent_row >= 0 ? (uint64_t)req[q->parent_row].chat_id
								: UINT64_MAX) + (uint64_t)unzigzag(v[2]));
		if (v[3] > UINT32_MAX || v[4] > UINT32_MAX || v[5] > UINT32_MAX ||
		    v[7] >= (uint64_t)t->ntypes)
			return bad(r, "an inconsistent request");
		q->input_tokens = (uint32_t)v[3];
		q->output_tokens = (uint32_t)v[4];
		q->turn = (int32_t)unzigzag(v[5]);
		q->type = (uint16_t)v[7];
		q->nblocks = (uint32_t)(shift >= 0 ? ((uint64_t)q->input_tokens + t->block_size - 1) >> shift
					      : ((uint64_t)q->input_tokens + t->block_size - 1) / t->block_size);
		q->blk_off = off;
		off += q->nblocks;
		if ((i && q->ts_s < req[i - 1].ts_s) || q->ts_s != q->ts_s)
			return bad(r, "an inconsistent request");
		t->input_tokens -= q->input_tokens; /* checked to reach 0 by the caller */
	}
	for (int c = 0; c < REQ_COLS; c++)
		if (cur[c] != cend[c])
			return bad(r, "trailing bytes");
	if (off != t->nblk)
		return bad(r, "block counts that do not add up");
	return 0;
}

static int chain_broken(struct rd *r, uint64_t req)
{
	char what[80];

	snprintf(what, sizeof(what), "request %llu breaking its block chain",
		 (unsigned long long)req);
	return bad(r, what);
}

/* Parents from the accesses when the runs did not introduce nodes in order (a trace
 * converted with --sort): each node's parent is the block before it in every request
 * that has it. O(accesses). */
static int derive_parents(struct kv_trace *t, struct rd *r, struct grow *a)
{
	const uint32_t *node = a[ARR_NODE].p;
	const uint64_t *off = a[ARR_OFF].p;
	uint64_t *seen, assigned = 0;
	uint32_t *par;

	if (grow(&a[ARR_PARENT], t->nnodes) || !(seen = calloc((size_t)t->nnodes / 64 + 1, 8)))
		return oom(r);
	par = a[ARR_PARENT].p;
	for (size_t q = 0; q < t->nreq; q++) {
		uint32_t last = KV_NO_NODE;

		for (uint64_t k = off[q]; k < off[q + 1]; k++) {
			uint32_t n = node[k];

			if (seen[n / 64] >> (n % 64) & 1) {
				if (par[n] != last) {
					free(seen);
					return chain_broken(r, q);
				}
			} else {
				seen[n / 64] |= 1ull << (n % 64);
				par[n] = last;
				assigned++;
			}
			last = n;
		}
	}
	free(seen);
	return assigned == t->nnodes ? 0 : bad(r, "a node that no request accesses");
}

/* Writes a run of len nodes from s as the next accesses. O(len). */
static int put_run(struct kv_trace *t, struct rd *r, struct grow *a, uint64_t *i, uint64_t s,
		   uint64_t len, uint64_t *high)
{
	uint32_t *node;

	if (s >= t->nnodes || len > t->nnodes - s)
		return bad(r, "a node out of range");
	if (len > t->nblk - *i)
		return bad(r, "block counts that do not add up");
	if (grow(&a[ARR_NODE], *i + len))
		return oom(r);
	node = (uint32_t *)a[ARR_NODE].p + *i;
	for (uint64_t j = 0; j < len; j++)
		node[j] = (uint32_t)(s + j);
	*i += len;
	if (s + len > *high)
		*high = s + len;
	return 0;
}

/* The parents of new nodes s .. s+len-1 after `last`: each node's predecessor, the first's
 * `last`. O(len). */
static int new_parents(struct rd *r, struct grow *g, uint64_t s, uint64_t len, uint32_t last)
{
	uint32_t *par;

	if (grow(g, s + len))
		return oom(r);
	par = g->p;
	par[s] = last;
	for (uint64_t n = s + 1; n < s + len; n++)
		par[n] = (uint32_t)(n - 1);
	return 0;
}

/* The accesses (format above) into node[], each request's offset into off[] (nreq + 1
 * entries), and the parents. A copy repeats a prefix of a request already checked, so
 * it needs no parent; new nodes get theirs. A request given as runs (nodes not numbered in
 * order of first access) sets *runs: then derive_parents() gives the parents, after both
 * threads are done. O(accesses). */
static int decode_accesses(struct kv_trace *t, struct rd *r, struct grow *a, int *runs)
{
	const unsigned char *p = r->p, *end = r->p + r->n;
	uint64_t i = 0, high = 0;
	int rc;

	if (grow(&a[ARR_OFF], 1))
		return oom(r);
	((uint64_t *)a[ARR_OFF].p)[0] = 0;
	for (size_t q = 0; q < t->nreq; q++) {
		uint32_t last = KV_NO_NODE;
		uint64_t h, k = 1, *off;

		if (p >= end)
			return bad(r, "fewer requests than the header's");
		h = gv(&p, end);
		if (p > end)
			return bad(r, "a truncated request");
		if (grow(&a[ARR_OFF], q + 2))
			return oom(r);
		off = a[ARR_OFF].p;
		if (h >> 1) {
			uint64_t d = h >> 1, x = gv(&p, end), from, n, m = x >> 1;
			uint32_t *node;

			if (p > end)
				return bad(r, "a truncated request");
			if (d > q)
				return bad(r, "a copy from before the first request");
			from = off[q - d];
			n = off[q - d + 1] - from;
			if (x & 1 ? !m || m > n : m >= n)
				return bad(r, "a copy longer than its request");
			if (!(x & 1))
				m = n - m;
			if (m > t->nblk - i)
				return bad(r, "block counts that do not add up");
			if (grow(&a[ARR_NODE], i + m))
				return oom(r);
			node = a[ARR_NODE].p;
			memcpy(node + i, node + from, m * 4);
			i += m;
			last = node[i - 1];
		}
		if (h & 1) {
			k = gv(&p, end);
			if (p > end)
				return bad(r, "a truncated request");
		}
		for (uint64_t n = 0; n < k; n++) {
			uint64_t len = gv(&p, end), s = high;

			if (p > end)
				return bad(r, "a truncated request");
			if (h & 1) { /* a run: len << 1 | jump */
				if (len & 1)
					s = high + (uint64_t)unzigzag(gv(&p, end));
				len >>= 1;
				if (p > end || !len)
					return bad(r, "a bad run");
				*runs = 1;
			} else if (!len) { /* no new nodes */
				break;
			}
			if ((rc = put_run(t, r, a, &i, s, len, &high)))
				return rc;
			if (!*runs && (rc = new_parents(r, &a[ARR_PARENT], s, len, last)))
				return rc;
			last = (uint32_t)(s + len - 1);
		}
		off[q + 1] = i;
	}
	if (p != end)
		return bad(r, "trailing bytes");
	if (i != t->nblk)
		return bad(r, "block counts that do not add up");
	/* new nodes are numbered from 0 on: all have their parents when they reach nnodes */
	return *runs || high == t->nnodes ? 0 : bad(r, "a node that no request accesses");
}

static int decode_hashes(struct kv_trace *t, struct rd *r, struct grow *g)
{
	const unsigned char *p = r->p, *end = r->p + r->n;
	uint64_t prev = UINT64_MAX, n = 0;

	while (p < end) {
		uint64_t v = gv(&p, end), k = 0;
		uint64_t *h;

		if (!v && p <= end)
			k = gv(&p, end);
		if (p > end)
			return bad(r, "a truncated varint");
		if (n >= t->nnodes || k > t->nnodes - n - 1)
			return bad(r, "more nodes than the header's");
		if (grow(g, n + k + 1))
			return oom(r);
		h = (uint64_t *)g->p + n;
		if (v) {
			prev += 1 + (uint64_t)unzigzag(v);
			h[0] = prev;
		} else {
			for (uint64_t j = 0; j <= k; j++)
				h[j] = prev + 1 + j;
			prev += k + 1;
		}
		n += k + 1;
	}
	if (p != end)
		return bad(r, "a truncated varint");
	return n == t->nnodes ? 0 : bad(r, "fewer nodes than the header's");
}

static int decode_types(struct kv_trace *t, struct rd *r)
{
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

static int decode(struct load *L, int id, struct rd *r)
{
	struct kv_trace *t = L->t;
	struct grow *a = L->arr;

	switch (id) {
	case SEC_REQ: return decode_requests(t, r, &a[ARR_REQ]);
	case SEC_NODE: return decode_accesses(t, r, a, &L->runs);
	case SEC_HASH: return decode_hashes(t, r, &a[ARR_HASH]);
	case SEC_TYPES: return decode_types(t, r);
	}
	return 0;
}

struct sec {
	uint64_t at, rawlen, clen;
	uint32_t crc;
};

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

/* One worker: section k, then the next ones not taken, each inflated and decoded into one
 * reused buffer (a failed section stops only itself). O(the sections' size). */
static void work(struct load *L, size_t k)
{
	unsigned char *raw = NULL;
	uint64_t rawcap = 0;

	for (; k < (size_t)L->ntasks; k = __atomic_fetch_add(&L->next, 1, __ATOMIC_RELAXED)) {
		int id = L->task[k].id, *rc = &L->task[k].rc;
		const struct sec *s = &L->sec[id];
		struct rd r = {L->path, NULL, 0, s->at, id, &L->task[k].err};
		size_t got = 0;

		if ((uint32_t)crc32(0, L->buf + s->at + SEC_HDR_BYTES, (uInt)s->clen) != s->crc) {
			*rc = bad(&r, "data that does not decompress or match its CRC");
		} else if (s->rawlen + RAW_PAD > rawcap) {
			unsigned char *nr = kv_big_realloc(raw, (size_t)s->rawlen + RAW_PAD);

			if (nr) {
				raw = nr;
				kv_big_prefault(raw, (size_t)rawcap, (size_t)s->rawlen + RAW_PAD);
				rawcap = s->rawlen + RAW_PAD;
			} else {
				*rc = oom(&r);
			}
		}
		if (!*rc && (inflate_section(raw, (size_t)s->rawlen, L->buf + s->at + SEC_HDR_BYTES,
					     (size_t)s->clen, &got) || got != s->rawlen))
			*rc = bad(&r, "data that does not decompress or match its CRC");
		if (!*rc) {
			memset(raw + got, 0, RAW_PAD);
			r.p = raw;
			r.n = got;
			*rc = decode(L, id, &r);
		}
	}
	free(raw);
}

static void *decode_worker(void *arg)
{
	struct load *L = arg;

	kv_big_prefault(L->prefault, 0, L->prefault_bytes);
	work(L, __atomic_fetch_add(&L->next, 1, __ATOMIC_RELAXED));
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
	uint64_t *off = NULL;
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
	    t->nblk / t->nreq > UINT32_MAX || nsec != SEC_COUNT) {
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
	for (uint32_t s = 0; s < nsec; s++) {
		uint32_t id;

		if (len - at < SEC_HDR_BYTES) {
			rc = kv_fail(err, KV_EINPUT, "%s:%zu: truncated .kvt: section %u of %u is "
				     "missing", path, at, s + 1, nsec);
			goto fail;
		}
		id = rd_u32(buf + at);
		if (id < 1 || id > SEC_COUNT || (seen & (1 << id)) ||
		    rd_u64(buf + at + 8) > UINT32_MAX || rd_u64(buf + at + 16) > UINT32_MAX) {
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
	/* The sections are independent: two workers take them in turn, the accesses (the
	 * largest) first, and each fills (and pays the first touch of) the arrays of the
	 * sections it takes. */
	{
		static const int order[SEC_COUNT] = {SEC_NODE, SEC_REQ, SEC_HASH, SEC_TYPES};
		struct load L = {t, path, buf, sec, SEC_COUNT, 0, {{0}}, {{0}}, 0, NULL, 0};
		size_t guess = len < SIZE_MAX / 64 ? 64 * len : SIZE_MAX;
		const uint64_t max[ARR_N] = {t->nreq, t->nblk, t->nnodes, t->nnodes, t->nreq + 1};
		static const size_t elem[ARR_N] = {sizeof(struct kv_request), 4, 4, 8, 8};
		pthread_t tid;
		int threaded = opts && opts->threads ? opts->threads > 1 : len >= KVT_THREADED_BYTES;
		struct kv_err *first = NULL;
		uint64_t first_at = UINT64_MAX;

		for (int k = 0; k < SEC_COUNT; k++)
			L.task[k].id = order[k];
		for (int k = 0; k < ARR_N; k++) {
			struct grow g = {NULL, elem[k], 0, 0, max[k] < SIZE_MAX ? (size_t)max[k] :
				SIZE_MAX, 0};

			g.guess = guess < g.max ? guess : g.max;
			L.arr[k] = g;
		}
		/* The accesses take longest: the second worker first populates their parent array
		 * (when the header's count is within the first reservation, the whole array is
		 * reserved now: it never moves), while this thread, which takes them before the
		 * second worker exists (a new thread took 1-3 ms to start on the other core
		 * here), checks and inflates them. Tried and dropped: both workers populating
		 * node[] and the parents in chunks claimed in turn, and filling the parents
		 * (5 ms more CPU per load, no faster). */
		if (threaded && L.arr[ARR_PARENT].max <= L.arr[ARR_PARENT].guess) {
			struct grow *g = &L.arr[ARR_PARENT];

			if ((g->p = kv_big_realloc(NULL, g->max * g->elem))) {
				g->cap = g->pop = g->max;
				L.prefault = g->p;
				L.prefault_bytes = g->max * g->elem;
			}
		}
		L.next = 1;
		threaded = threaded && !pthread_create(&tid, NULL, decode_worker, &L);
		work(&L, 0);
		if (threaded)
			pthread_join(tid, NULL);
		for (int k = 0; k < SEC_COUNT; k++) /* the first bad section in file order */
			if (L.task[k].rc && sec[L.task[k].id].at < first_at) {
				first = &L.task[k].err;
				first_at = sec[L.task[k].id].at;
				rc = L.task[k].rc;
			}
		if (!first && L.runs) {
			struct rd r = {path, NULL, 0, sec[SEC_NODE].at, SEC_NODE, err};

			if ((rc = derive_parents(t, &r, L.arr)))
				first = err;
		}
		for (int k = 0; k < ARR_N && !first; k++) /* an empty array is not NULL */
			if (!L.arr[k].p && !(L.arr[k].p = malloc(1))) {
				rc = kv_fail(err, KV_ERUNTIME, "%s: out of memory", path);
				first = err;
			}
		t->req = L.arr[ARR_REQ].p;
		t->node = L.arr[ARR_NODE].p;
		t->node_parent = L.arr[ARR_PARENT].p;
		t->node_hash = L.arr[ARR_HASH].p;
		off = L.arr[ARR_OFF].p;
		if (first) {
			if (first != err)
				*err = *first;
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
	/* the accesses give each request as many blocks as its input tokens need */
	for (size_t r = 0; r < t->nreq; r++)
		if (off[r + 1] - off[r] != t->req[r].nblocks) {
			rc = kv_fail(err, KV_EINPUT, "%s:%llu: corrupt .kvt: request %zu has %llu "
				     "blocks in section %d (%s), %u by its input tokens", path,
				     (unsigned long long)sec[SEC_NODE].at, r,
				     (unsigned long long)(off[r + 1] - off[r]), SEC_NODE,
				     sec_name[SEC_NODE], t->req[r].nblocks);
			goto fail;
		}
	(void)checksum; /* trace_checksum() of the source; the sections carry their own CRCs */
	free(off);
	free(buf);
	*out = t;
	return KV_OK;
fail:
	free(off);
	free(buf);
	trace_free(t);
	return rc;
}
