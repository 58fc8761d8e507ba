/*
 * trace_load.c - JSONL traces (Bailian or Mooncake schema, plain or gzip, or stdin) into a
 * struct kv_trace.
 *
 * One streaming pass: the file is read in 256 KiB chunks through zlib (which passes plain
 * files through; a gzip stream is inflated on a thread of its own, gz_ahead.h), each line
 * is parsed by record.c and checked, and its hash ids go to the interning stage
 * (load_pipe.h), which runs on a second thread for any input but a small file, so the raw
 * ids are never held for the whole trace. Every problem is reported as
 * "FILE:LINE: what is wrong"; with --lenient the record is skipped and counted by reason
 * instead.
 */
#include "trace.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <uthash.h>
#include <zlib.h>

#include "bigmem.h"
#include "gz_ahead.h"
#include "load_pipe.h"
#include "record.h"
#include "trace_kvt.h"

#define CHUNK (1u << 20) /* the line buffer's first size */
_Static_assert(CHUNK / 2 >= GZ_READ_BYTES, "read_lines() reads GZ_READ_BYTES at a time");
#define SMALL_FILE_BYTES (256u << 10) /* smaller regular files load on one thread */

struct chat_entry {
	int64_t chat_id;
	int32_t row;
	uint32_t line;
	UT_hash_handle hh;
};

struct loader {
	const char *path;
	const struct kv_load_opts *opts;
	struct kv_trace *t;
	struct load_pipe *pipe;
	int pipe_failed;             /* the interning stopped the load */
	struct kv_record rec;
	size_t req_cap, req_pop;     /* capacity, and elements populated ahead (bigmem.h) */
	double last_ts;
	struct chat_entry *chats;
	struct chat_entry *chat_pool;
	size_t chat_pool_n, chat_pool_cap;
	struct kv_err *err;
};

const char *trace_format_name(enum kv_trace_format f)
{
	switch (f) {
	case KV_FMT_BAILIAN: return "bailian";
	case KV_FMT_MOONCAKE: return "mooncake";
	case KV_FMT_KVT: return "kvt";
	default: return "auto";
	}
}

int trace_format_parse(const char *s, enum kv_trace_format *out)
{
	if (!strcmp(s, "bailian") || !strcmp(s, "qwen"))
		*out = KV_FMT_BAILIAN;
	else if (!strcmp(s, "mooncake"))
		*out = KV_FMT_MOONCAKE;
	else if (!strcmp(s, "auto"))
		*out = KV_FMT_AUTO;
	else
		return -1;
	return 0;
}

void trace_free(struct kv_trace *t)
{
	if (!t)
		return;
	free(t->path);
	free(t->req);
	free(t->node);
	free(t->node_parent);
	free(t->node_depth);
	free(t->node_hash);
	free(t);
}

static void *grow_array(void *p, size_t elem, size_t *cap, size_t need)
{
	size_t n = *cap ? *cap : 1024;
	void *q;

	while (n < need)
		n *= 2;
	q = kv_big_realloc(p, n * elem);
	if (q)
		*cap = n;
	return q;
}

/* The kind of a skip reason: the message without its position, each number in it written
 * "N", so that "timestamp 3000 goes backwards ..." and the same with other values are one
 * kind. */
static void reason_kind(const char *reason, char *key, size_t cap)
{
	const char *at = strstr(reason, " (at byte");
	const char *end = at ? at : reason + strlen(reason);
	size_t o = 0;

	for (const char *p = reason; p < end && o + 1 < cap;) {
		int sign = *p == '-' && p + 1 < end && p[1] >= '0' && p[1] <= '9';

		if ((*p >= '0' && *p <= '9') || sign) {
			p += sign;
			while (p < end && ((*p >= '0' && *p <= '9') || *p == '.'))
				p++;
			if (p < end && (*p == 'e' || *p == 'E') && p + 1 < end &&
			    ((p[1] >= '0' && p[1] <= '9') || p[1] == '+' || p[1] == '-')) {
				for (p += 2; p < end && *p >= '0' && *p <= '9'; p++)
					;
			}
			key[o++] = 'N';
		} else {
			key[o++] = *p++;
		}
	}
	key[o] = 0;
}

/* Records a skipped record under --lenient, by the kind of its reason (reason_kind), under
 * the full message of the first record of that kind (the values in it are that record's).
 * The first distinct kinds get a slot each, all slots but the last; the last, labelled
 * "other reasons", counts every kind after them. O(slots x message length). */
static void count_skip(struct kv_skip_stats *s, const char *reason, uint64_t line)
{
	const int last = (int)(sizeof(s->r) / sizeof(s->r[0])) - 1;
	char key[sizeof(s->r[0].reason)], kind[sizeof(s->r[0].reason)];
	char other[sizeof(s->r[0].reason)];
	const char *at = strstr(reason, " (at byte");
	int i;

	/* the message as it would be stored, and its kind */
	snprintf(key, sizeof(key), "%.*s", (int)(at ? (size_t)(at - reason) : strlen(reason)),
		 reason);
	reason_kind(key, kind, sizeof(kind));
	s->total++;
	for (i = 0; i < s->nreasons && i < last; i++) {
		reason_kind(s->r[i].reason, other, sizeof(other));
		if (!strcmp(other, kind))
			break;
	}
	if (i == s->nreasons || i == last) {
		i = s->nreasons < last ? s->nreasons : last;
		if (i == s->nreasons) {
			s->nreasons++;
			snprintf(s->r[i].reason, sizeof(s->r[i].reason), "%s",
				 i == last ? "other reasons" : key);
			s->r[i].first_line = line;
		}
	}
	s->r[i].count++;
}

static int type_index(struct kv_trace *t, const char *name, uint16_t *out)
{
	for (int i = 0; i < t->ntypes; i++)
		if (!strcmp(t->type_names[i], name)) {
			*out = (uint16_t)i;
			return 0;
		}
	if (t->ntypes == KV_MAX_TYPES)
		return -1;
	strcpy(t->type_names[t->ntypes], name);
	*out = (uint16_t)t->ntypes++;
	return 0;
}

/* Arrival in seconds: Mooncake timestamps are milliseconds. */
static double record_ts_s(const struct kv_trace *t, const struct kv_record *r)
{
	return t->format == KV_FMT_MOONCAKE ? r->timestamp / 1000.0 : r->timestamp;
}

/* Semantic checks of one parsed record; fills msg and returns -1 when it is bad. */
static int check_record(struct loader *L, char *msg, size_t len)
{
	const struct kv_record *r = &L->rec;
	enum kv_trace_format f = L->t->format;
	uint32_t B = L->t->block_size;
	static const struct {
		unsigned bit;
		const char *name;
	} need[] = {
		{KV_F_TIMESTAMP, "timestamp"}, {KV_F_INPUT_LENGTH, "input_length"},
		{KV_F_OUTPUT_LENGTH, "output_length"}, {KV_F_HASH_IDS, "hash_ids"},
		{KV_F_CHAT_ID, "chat_id"}, {KV_F_PARENT_CHAT_ID, "parent_chat_id"},
		{KV_F_TURN, "turn"}, {KV_F_TYPE, "type"},
	};
	size_t nneed = f == KV_FMT_BAILIAN ? 8 : 4;
	uint64_t want;

	for (size_t i = 0; i < nneed; i++)
		if (!(r->fields & need[i].bit)) {
			snprintf(msg, len, "missing field \"%s\"", need[i].name);
			return -1;
		}
	if (r->timestamp < 0) {
		snprintf(msg, len, "negative timestamp %g", r->timestamp);
		return -1;
	}
	if (r->input_length < 0 || r->input_length > UINT32_MAX) {
		snprintf(msg, len, "input_length %lld is out of range [0, %u]",
			 (long long)r->input_length, UINT32_MAX);
		return -1;
	}
	if (r->output_length < 0 || r->output_length > UINT32_MAX) {
		snprintf(msg, len, "output_length %lld is out of range [0, %u]",
			 (long long)r->output_length, UINT32_MAX);
		return -1;
	}
	want = ((uint64_t)r->input_length + B - 1) / B;
	if (r->nids != want) {
		snprintf(msg, len,
			 "hash_ids has %zu entries but input_length %lld needs ceil(%lld/%u) = %llu "
			 "(wrong --block-size?)",
			 r->nids, (long long)r->input_length, (long long)r->input_length, B,
			 (unsigned long long)want);
		return -1;
	}
	if (f == KV_FMT_BAILIAN) {
		if (r->turn < 0 || r->turn > INT32_MAX) {
			snprintf(msg, len, "turn %lld is out of range", (long long)r->turn);
			return -1;
		}
		if (r->parent_chat_id < -1) {
			snprintf(msg, len, "parent_chat_id %lld is negative (use -1 for a root)",
				 (long long)r->parent_chat_id);
			return -1;
		}
		if (r->parent_chat_id >= 0 && r->parent_chat_id == r->chat_id) {
			snprintf(msg, len, "chat_id %lld is its own parent", (long long)r->chat_id);
			return -1;
		}
	}
	if (L->t->nreq && record_ts_s(L->t, r) < L->last_ts && !L->opts->sort) {
		snprintf(msg, len, "timestamp %.17g goes backwards (the previous record's is "
			 "later; pass --sort to sort the trace by time)", r->timestamp);
		return -1;
	}
	return 0;
}

/* Appends the checked record: fills a kv_request and hands its ids to the interning. */
static int add_record(struct loader *L, uint64_t line, char *msg, size_t len)
{
	struct kv_trace *t = L->t;
	struct kv_record *r = &L->rec;
	struct kv_request *q;
	uint64_t blk_off;
	uint16_t type = 0;
	struct chat_entry *ce = NULL;

	if (t->format == KV_FMT_BAILIAN) {
		HASH_FIND(hh, L->chats, &r->chat_id, sizeof(r->chat_id), ce);
		if (ce) {
			snprintf(msg, len, "chat_id %lld already used on line %u",
				 (long long)r->chat_id, ce->line);
			return -1;
		}
		if (type_index(t, r->type, &type)) {
			snprintf(msg, len, "more than %d distinct \"type\" values", KV_MAX_TYPES);
			return -1;
		}
	}
	if (t->nreq == KV_MAX_REQUESTS) {
		snprintf(msg, len, "trace is too large (limits: %zu records, %u chain nodes)",
			 KV_MAX_REQUESTS, KV_MAX_NODES);
		return -1;
	}
	if (t->nreq == L->req_cap && !(t->req = grow_array(t->req, sizeof(*t->req), &L->req_cap,
							    t->nreq + 1)))
		return -2;
	kv_big_prefault_to(t->req, sizeof(*t->req), &L->req_pop, t->nreq + 1, L->req_cap);
	if (load_pipe_commit(L->pipe, (uint32_t)r->nids, line, &blk_off)) {
		snprintf(msg, len, "the file grew while it was read (more hash ids than its size "
			 "at the start allows)");
		return -4; /* fatal, even with --lenient */
	}
	q = &t->req[t->nreq];
	memset(q, 0, sizeof(*q));
	q->ts_s = record_ts_s(t, r);
	q->blk_off = blk_off;
	q->nblocks = (uint32_t)r->nids;
	q->input_tokens = (uint32_t)r->input_length;
	q->output_tokens = (uint32_t)r->output_length;
	q->line = line > UINT32_MAX ? UINT32_MAX : (uint32_t)line;
	q->type = type;
	q->parent_row = KV_NO_ROW;
	if (t->format == KV_FMT_BAILIAN) {
		q->chat_id = r->chat_id;
		q->parent_chat_id = r->parent_chat_id;
		q->turn = (int32_t)r->turn;
		if (L->chat_pool_n == L->chat_pool_cap) {
			/* Entries are linked into the hash by address: allocate in slabs that
			 * never move. */
			struct chat_entry *slab = malloc(4096 * sizeof(*slab));
			if (!slab)
				return -2;
			/* slab[0].hh.next threads the slabs for freeing */
			slab[0].row = -2;
			slab[0].hh.next = L->chat_pool;
			L->chat_pool = slab;
			L->chat_pool_n = 1;
			L->chat_pool_cap = 4096;
		}
		ce = &L->chat_pool[L->chat_pool_n++];
		ce->chat_id = r->chat_id;
		ce->row = (int32_t)t->nreq;
		ce->line = q->line;
		HASH_ADD(hh, L->chats, chat_id, sizeof(ce->chat_id), ce);
	} else {
		q->chat_id = (int64_t)t->nreq;
		q->parent_chat_id = -1;
	}
	if (q->ts_s > L->last_ts || t->nreq == 0)
		L->last_ts = q->ts_s;
	t->input_tokens += q->input_tokens;
	t->nreq++;
	return 0;
}

static int detect_format(struct loader *L)
{
	struct kv_trace *t = L->t;

	if (t->format == KV_FMT_AUTO)
		t->format = (L->rec.fields & KV_F_CHAT_ID) ? KV_FMT_BAILIAN : KV_FMT_MOONCAKE;
	if (!t->block_size)
		t->block_size = t->format == KV_FMT_BAILIAN ? 16 : 512;
	return 0;
}

static int handle_line(struct loader *L, const char *p, const char *end, uint64_t line)
{
	char msg[512];
	const char *q;
	int rc;

	for (q = p; q < end && (*q == ' ' || *q == '\t' || *q == '\r'); q++)
		;
	if (q == end)
		return 0; /* blank line */
	for (;;) { /* the ids go straight into the interning's batch */
		if (!(L->rec.ids = load_pipe_space(L->pipe, &L->rec.ids_cap)))
			break;
		if ((rc = kv_record_parse(p, end, &L->rec, msg, sizeof(msg))) != -3)
			break;
		if (load_pipe_more(L->pipe, line)) {
			L->rec.ids = NULL;
			break;
		}
	}
	if (!L->rec.ids) {
		L->pipe_failed = 1; /* load_pipe_finish() gives the message */
		return KV_ERUNTIME;
	}
	if (rc == -2)
		return kv_fail(L->err, KV_ERUNTIME, "%s:%llu: out of memory", L->path,
			       (unsigned long long)line);
	if (rc == 0) {
		/* on the first record that parses (with --lenient, earlier lines may have been
		 * skipped: the block size must still be set before check_record divides by it) */
		if (L->t->format == KV_FMT_AUTO || !L->t->block_size)
			detect_format(L);
		rc = check_record(L, msg, sizeof(msg));
		if (rc == 0)
			rc = add_record(L, line, msg, sizeof(msg));
		if (rc == -2)
			return kv_fail(L->err, KV_ERUNTIME, "%s:%llu: out of memory", L->path,
				       (unsigned long long)line);
		if (rc == -4)
			return kv_fail(L->err, KV_EINPUT, "%s:%llu: %s", L->path,
				       (unsigned long long)line, msg);
	}
	if (rc == 0)
		return 0;
	if (L->opts->lenient) {
		count_skip(&L->t->skipped, msg, line);
		return 0;
	}
	return kv_fail(L->err, KV_EINPUT, "%s:%llu: %s", L->path, (unsigned long long)line, msg);
}

static int stable_by_time(const void *a, const void *b)
{
	const struct kv_request *x = a, *y = b;

	if (x->ts_s != y->ts_s)
		return x->ts_s < y->ts_s ? -1 : 1;
	return x->line < y->line ? -1 : x->line > y->line; /* file order */
}

/* After reading: sort when asked, resolve parent rows (a parent must arrive earlier). */
static int finish(struct loader *L)
{
	struct kv_trace *t = L->t;
	struct chat_entry *ce;

	if (L->opts->sort)
		qsort(t->req, t->nreq, sizeof(*t->req), stable_by_time);
	if (t->format != KV_FMT_BAILIAN)
		return 0;
	/* rows may have moved: refresh the map, then resolve */
	for (size_t i = 0; i < t->nreq; i++) {
		HASH_FIND(hh, L->chats, &t->req[i].chat_id, sizeof(int64_t), ce);
		if (ce)
			ce->row = (int32_t)i;
	}
	for (size_t i = 0; i < t->nreq; i++) {
		struct kv_request *q = &t->req[i];

		if (q->parent_chat_id < 0)
			continue;
		HASH_FIND(hh, L->chats, &q->parent_chat_id, sizeof(int64_t), ce);
		if (ce && (size_t)ce->row < i)
			q->parent_row = ce->row;
	}
	return 0;
}

static void loader_free(struct loader *L)
{
	struct chat_entry *slab = L->chat_pool;

	if (L->pipe) {
		struct kv_err ignored;
		load_pipe_finish(L->pipe, 1, L->path, &ignored);
	}
	HASH_CLEAR(hh, L->chats);
	while (slab) {
		struct chat_entry *next = slab[0].hh.next;
		free(slab);
		slab = next;
	}
}

static int no_records(struct loader *L, uint64_t line)
{
	return kv_fail(L->err, KV_EINPUT, "%s:%llu: no records in the trace%s", L->path,
		       (unsigned long long)line + (line == 0),
		       L->t->skipped.total ? " (all were skipped as bad)" : "");
}

/* Reads the whole stream line by line, through ga when given (gz_ahead.h). */
static int read_lines(struct loader *L, gzFile gz, struct gz_ahead *ga)
{
	size_t cap = CHUNK, len = 0;
	char *buf = malloc(cap + 1);
	uint64_t line = 0;
	int rc = KV_OK, eof = 0;

	if (!buf)
		return kv_fail(L->err, KV_ERUNTIME, "%s: out of memory", L->path);
	while (!eof || len) {
		char *p = buf, *nl, *end;

		if (!eof) {
			int n;
			char msg[300];

			if (cap - len < CHUNK / 2 && len >= cap / 2) {
				/* a long line: grow, up to the limit */
				char *nb;
				if (cap >= KV_MAX_LINE_BYTES) {
					rc = kv_fail(L->err, KV_EINPUT, "%s:%llu: line is longer than "
						     "the limit of %u bytes", L->path,
						     (unsigned long long)line + 1, KV_MAX_LINE_BYTES);
					break;
				}
				nb = realloc(buf, cap * 2 + 1);
				if (!nb) {
					rc = kv_fail(L->err, KV_ERUNTIME, "%s: out of memory", L->path);
					break;
				}
				buf = nb, p = buf;
				cap *= 2;
			}
			/* cap - len >= CHUNK / 2 >= GZ_READ_BYTES here */
			n = ga ? gz_ahead_read(ga, buf + len, cap - len, msg, sizeof(msg))
			       : gzread(gz, buf + len, GZ_READ_BYTES);
			if (ga ? n < 0 : gz_read_error(gz, n, msg, sizeof(msg)) != 0) {
				rc = kv_fail(L->err, KV_EINPUT, "%s:%llu: %s", L->path,
					     (unsigned long long)line + 1, msg);
				break;
			}
			if (n == 0) {
				eof = 1;
				if (len && buf[len - 1] != '\n')
					buf[len++] = '\n'; /* last line without newline */
			}
			L->t->source_bytes += (uint64_t)n;
			len += (size_t)n;
		}
		end = buf + len;
		while ((nl = memchr(p, '\n', (size_t)(end - p)))) {
			line++;
			if ((rc = handle_line(L, p, nl, line)))
				goto out;
			p = nl + 1;
		}
		if (eof && p < end) /* cannot happen: a newline was added */
			break;
		len = (size_t)(end - p);
		memmove(buf, p, len);
		if (eof && !len)
			break;
		if (len > KV_MAX_LINE_BYTES) {
			rc = kv_fail(L->err, KV_EINPUT, "%s:%llu: line is longer than the limit of %u "
				     "bytes", L->path, (unsigned long long)line + 1, KV_MAX_LINE_BYTES);
			break;
		}
	}
out:
	free(buf);
	if (!rc && L->t->nreq == 0)
		rc = no_records(L, line);
	return rc;
}

int trace_load(const char *path, const struct kv_load_opts *opts, struct kv_trace **out,
	       struct kv_err *err)
{
	struct kv_load_opts defaults = {0};
	struct loader L;
	struct kv_trace *t;
	gzFile gz;
	struct gz_ahead *ga = NULL;
	int fd, rc;
	unsigned char magic[4];
	int threaded = 1; /* unless a small regular file */
	size_t plain_size = 0; /* of a plain (not gzip) regular file: bounds its ids */

	if (!opts)
		opts = &defaults;
	*out = NULL;
	if (strcmp(path, "-")) {
		struct stat st;

		if (stat(path, &st))
			return kv_fail(err, KV_EINPUT, "%s: %s", path, strerror(errno));
		if (S_ISDIR(st.st_mode))
			return kv_fail(err, KV_EINPUT, "%s: is a directory, not a trace file", path);
		fd = open(path, O_RDONLY);
		if (fd < 0)
			return kv_fail(err, KV_EINPUT, "%s: %s", path, strerror(errno));
		threaded = !S_ISREG(st.st_mode) || st.st_size >= SMALL_FILE_BYTES;
		if (S_ISREG(st.st_mode) && st.st_size >= 2 && (uint64_t)st.st_size <= SIZE_MAX &&
		    pread(fd, magic, 2, 0) == 2 && !(magic[0] == 0x1f && magic[1] == 0x8b))
			plain_size = (size_t)st.st_size;
		if (pread(fd, magic, 4, 0) == 4 && !memcmp(magic, KVT_MAGIC, 4)) {
			close(fd);
			return trace_load_kvt(path, opts, out, err);
		}
	} else {
		fd = dup(0);
		if (fd < 0)
			return kv_fail(err, KV_ERUNTIME, "-: %s", strerror(errno));
	}
	if (opts->format == KV_FMT_KVT) {
		close(fd);
		return kv_fail(err, KV_EINPUT, "%s: not a .kvt file (bad magic)", path);
	}
	if (!(gz = gzdopen(fd, "rb"))) {
		close(fd);
		return kv_fail(err, KV_ERUNTIME, "%s: cannot open: out of memory", path);
	}
	gzbuffer(gz, GZ_READ_BYTES / 2); /* reads of GZ_READ_BYTES then bypass zlib's buffer */
	memset(&L, 0, sizeof(L));
	t = calloc(1, sizeof(*t));
	if (opts->threads)
		threaded = opts->threads > 1;
	if (!t || !(t->path = strdup(path)) ||
	    load_pipe_start(&L.pipe, t, threaded, plain_size / 2)) {
		gzclose(gz);
		trace_free(t);
		loader_free(&L);
		return kv_fail(err, KV_ERUNTIME, "%s: out of memory", path);
	}
	t->format = opts->format;
	t->block_size = opts->block_size;
	t->ntypes = 1; /* type_names[0] = "" */
	L.path = path;
	L.opts = opts;
	L.t = t;
	L.err = err;
	L.rec.max_ids = KV_MAX_BLOCKS_PER_REQUEST;
	L.rec.fixed_ids = 1; /* a buffer of the interning (load_pipe_space) */
	/* a gzip stream (gzdirect() peeks at its header) is inflated on a thread of its own */
	if (threaded && !gzdirect(gz))
		ga = gz_ahead_start(gz); /* NULL: read it directly */
	rc = read_lines(&L, gz, ga);
	gz_ahead_stop(ga);
	gzclose(gz);
	if (!rc || L.pipe_failed) {
		rc = load_pipe_finish(L.pipe, 0, path, err);
	} else { /* the reader's error stands */
		struct kv_err ignored;
		load_pipe_finish(L.pipe, 1, path, &ignored);
	}
	L.pipe = NULL;
	/* give back what was populated ahead and not used (bigmem.h) */
	kv_big_trim(t->req, t->nreq * sizeof(*t->req), L.req_pop * sizeof(*t->req));
	if (!rc)
		rc = finish(&L);
	loader_free(&L);
	if (rc) {
		trace_free(t);
		return rc;
	}
	*out = t;
	return KV_OK;
}

const uint32_t *trace_node_depth(const struct kv_trace *t)
{
	/* the field is a cache, filled at most once: the trace's content does not change */
	uint32_t **slot = (uint32_t **)&t->node_depth;
	uint32_t *d = __atomic_load_n(slot, __ATOMIC_ACQUIRE), *none = NULL;

	if (d)
		return d;
	if (!(d = kv_big_alloc(((size_t)t->nnodes + 1) * sizeof(*d))))
		return NULL;
	for (uint32_t n = 0; n < t->nnodes; n++)
		d[n] = t->node_parent[n] == KV_NO_NODE ? 0 : d[t->node_parent[n]] + 1;
	if (!__atomic_compare_exchange_n(slot, &none, d, 0, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE)) {
		free(d); /* another thread was first */
		d = none;
	}
	return d;
}

static uint64_t mix(uint64_t h, uint64_t v)
{
	h ^= v + 0x9e3779b97f4a7c15ull + (h << 6) + (h >> 2);
	return h * 0xff51afd7ed558ccdull;
}

uint64_t trace_checksum(const struct kv_trace *t)
{
	uint64_t h = mix(0, t->block_size);

	for (size_t r = 0; r < t->nreq; r++) {
		const struct kv_request *q = &t->req[r];
		uint64_t ts;

		memcpy(&ts, &q->ts_s, sizeof(ts));
		h = mix(h, ts);
		h = mix(h, (uint64_t)q->chat_id);
		h = mix(h, (uint64_t)q->parent_chat_id);
		h = mix(h, ((uint64_t)q->input_tokens << 32) | q->output_tokens);
		h = mix(h, ((uint64_t)(uint32_t)q->turn << 32) | q->type);
		for (uint32_t i = 0; i < q->nblocks; i++)
			h = mix(h, t->node_hash[trace_req_nodes(t, r)[i]]);
	}
	return h;
}
