/*
 * test_load_pipe.c - the two-stage loader (parse, then intern on a second thread; gzip
 * inflated on a third, gz_ahead.h) and the reserved arrays of plain files give the same
 * trace, and the same errors, as one thread, on inputs large enough to fill several batches
 * and with a record longer than a batch.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include <uthash.h>
#include <zlib.h>

#include "load_pipe.h"
#include "test_util.h"
#include "trace.h"

#define NREC 20000     /* more than two batches of 8192 records */
#define GIANT_AT 10000 /* a record of GIANT_IDS ids: longer than a batch (65,536 ids) */
#define GIANT_IDS 300000
#define BAD_EVERY 997  /* with bad lines: every 997th line is not JSON */

struct buf {
	char *p;
	size_t n, cap;
};

static void put(struct buf *b, const char *s)
{
	size_t k = strlen(s);

	if (b->n + k + 1 > b->cap) {
		b->cap = (b->n + k + 1) * 2;
		b->p = realloc(b->p, b->cap);
		CU_ASSERT_PTR_NOT_NULL_FATAL(b->p);
	}
	memcpy(b->p + b->n, s, k + 1);
	b->n += k;
}

struct prefix {
	uint64_t h;
	UT_hash_handle hh;
};

/* The record's ids: a shared head (one of 50, 1 to 40 ids), then r % 13 ids of its own;
 * record GIANT_AT has GIANT_IDS ids. */
static size_t record_ids(int r, uint64_t *ids)
{
	size_t n = 0;
	int t = r % 50;

	if (r == GIANT_AT) {
		for (size_t j = 0; j < GIANT_IDS; j++)
			ids[n++] = 5000000 + j;
		return n;
	}
	for (int j = 0; j < 1 + (t * 7) % 40; j++)
		ids[n++] = (uint64_t)t * 1000 + (uint64_t)j;
	for (int j = 0; j < r % 13; j++)
		ids[n++] = 1000000 + (uint64_t)r * 100 + (uint64_t)j;
	return n;
}

/* The JSONL text (its last line without a newline), the number of good records, and the
 * distinct prefixes counted by hashing each whole prefix (independent of the interning). */
static char *make_trace(int bad, size_t *nrec, size_t *nblk, size_t *nprefix, size_t *nbad)
{
	struct buf b = {0};
	uint64_t *ids = malloc(GIANT_IDS * sizeof(*ids));
	struct prefix *set = NULL, *e, *tmp;
	char s[160];
	int line = 0;

	CU_ASSERT_PTR_NOT_NULL_FATAL(ids);
	*nrec = *nblk = *nbad = 0;
	for (int r = 0; r < NREC; r++) {
		size_t n = record_ids(r, ids);
		uint64_t h = 1469598103934665603ull;

		if (bad && (line + 1) % BAD_EVERY == 0) { /* line numbers count from 1 */
			put(&b, "\n{\"chat_id\": oops");
			line++;
			(*nbad)++;
		}
		snprintf(s, sizeof(s), "%s{\"chat_id\":%d,\"parent_chat_id\":-1,\"timestamp\":%d.5,"
			 "\"input_length\":%zu,\"output_length\":7,\"type\":\"text\",\"turn\":1,"
			 "\"hash_ids\":[", line++ ? "\n" : "", r, r / 10, n * 16);
		put(&b, s);
		for (size_t j = 0; j < n; j++) {
			snprintf(s, sizeof(s), j ? ",%llu" : "%llu", (unsigned long long)ids[j]);
			put(&b, s);
			/* FNV-style hash of the whole prefix ids[0..j] */
			h = (h ^ ids[j]) * 1099511628211ull;
			h ^= h >> 29;
			HASH_FIND(hh, set, &h, sizeof(h), e);
			if (!e) {
				e = malloc(sizeof(*e));
				CU_ASSERT_PTR_NOT_NULL_FATAL(e);
				e->h = h;
				HASH_ADD(hh, set, h, sizeof(e->h), e);
			}
		}
		put(&b, "]}");
		(*nrec)++;
		*nblk += n;
	}
	*nprefix = HASH_COUNT(set);
	HASH_ITER(hh, set, e, tmp) {
		HASH_DEL(set, e);
		free(e);
	}
	free(ids);
	return b.p;
}

static const char *write_gz(const char *name, const char *text)
{
	const char *path = tu_path(name);
	gzFile gz = gzopen(path, "wb1");

	CU_ASSERT_PTR_NOT_NULL_FATAL(gz);
	CU_ASSERT_EQUAL(gzwrite(gz, text, (unsigned)strlen(text)), (int)strlen(text));
	gzclose(gz);
	return path;
}

static struct kv_trace *load(const char *path, int threads, int lenient)
{
	struct kv_load_opts o = {.threads = threads, .lenient = lenient};
	struct kv_trace *t = NULL;
	struct kv_err err;

	if (trace_load(path, &o, &t, &err) != KV_OK) {
		fprintf(stderr, "\n%s\n", err.msg);
		CU_FAIL_FATAL("load failed");
	}
	return t;
}

static void same_trace(const struct kv_trace *a, const struct kv_trace *b)
{
	CU_ASSERT_EQUAL_FATAL(a->nreq, b->nreq);
	CU_ASSERT_EQUAL_FATAL(a->nblk, b->nblk);
	CU_ASSERT_EQUAL_FATAL(a->nnodes, b->nnodes);
	CU_ASSERT_EQUAL(a->source_bytes, b->source_bytes);
	CU_ASSERT_EQUAL(memcmp(a->node, b->node, a->nblk * 4), 0);
	CU_ASSERT_EQUAL(memcmp(a->node_parent, b->node_parent, (size_t)a->nnodes * 4), 0);
	CU_ASSERT_EQUAL(memcmp(a->node_hash, b->node_hash, (size_t)a->nnodes * 8), 0);
	CU_ASSERT_EQUAL(memcmp(a->req, b->req, a->nreq * sizeof(*a->req)), 0);
	CU_ASSERT_EQUAL(trace_checksum(a), trace_checksum(b));
}

/* Each access's node carries the access's own id, and its parent is the previous access's
 * node: the interning kept every chain. */
static void chains_hold(const struct kv_trace *t)
{
	uint64_t *ids = malloc(GIANT_IDS * sizeof(*ids));
	size_t bad = 0;

	CU_ASSERT_PTR_NOT_NULL_FATAL(ids);
	for (size_t r = 0; r < t->nreq; r++) {
		const uint32_t *nodes = trace_req_nodes(t, r);
		size_t n = record_ids(t->req[r].chat_id, ids);

		CU_ASSERT_EQUAL_FATAL(t->req[r].nblocks, n);
		for (size_t j = 0; j < n; j++)
			bad += t->node_hash[nodes[j]] != ids[j] ||
			       t->node_parent[nodes[j]] != (j ? nodes[j - 1] : KV_NO_NODE);
	}
	CU_ASSERT_EQUAL(bad, 0);
	free(ids);
}

static void test_threads_and_mapping_agree(void)
{
	size_t nrec, nblk, nprefix, nbad;
	char *text = make_trace(0, &nrec, &nblk, &nprefix, &nbad);
	const char *plain = tu_write("pipe.jsonl", text), *gz = write_gz("pipe.jsonl.gz", text);
	struct kv_trace *one = load(plain, 1, 0), *two = load(plain, 2, 0);
	struct kv_trace *gz1 = load(gz, 1, 0), *gz2 = load(gz, 2, 0);

	CU_ASSERT_EQUAL(one->nreq, nrec);
	CU_ASSERT_EQUAL(one->nblk, nblk);
	CU_ASSERT_EQUAL(one->nnodes, nprefix);
	CU_ASSERT_EQUAL(one->source_bytes, strlen(text));
	chains_hold(one);
	same_trace(one, two);
	same_trace(one, gz1);
	same_trace(one, gz2);
	trace_free(one);
	trace_free(two);
	trace_free(gz1);
	trace_free(gz2);
	free(text);
}

static void test_lenient_across_batches(void)
{
	size_t nrec, nblk, nprefix, nbad;
	char *text = make_trace(1, &nrec, &nblk, &nprefix, &nbad);
	const char *plain = tu_write("pipe-bad.jsonl", text);
	struct kv_trace *one = load(plain, 1, 1), *two = load(plain, 2, 1);

	CU_ASSERT(nbad > 10);
	CU_ASSERT_EQUAL(two->skipped.total, nbad);
	CU_ASSERT_EQUAL(two->nreq, nrec);
	CU_ASSERT_EQUAL(two->nnodes, nprefix);
	same_trace(one, two);
	trace_free(one);
	trace_free(two);
	free(text);
}

/* A bad record after several batches were handed over: the same FILE:LINE either way. */
static void test_error_line_after_batches(void)
{
	size_t nrec, nblk, nprefix, nbad;
	char *text = make_trace(1, &nrec, &nblk, &nprefix, &nbad);
	const char *plain = tu_write("pipe-err.jsonl", text);
	const char *gz = write_gz("pipe-err.jsonl.gz", text);
	const char *paths[] = {plain, plain, gz, gz};
	char want[64];

	for (int i = 0; i < 4; i++) {
		struct kv_load_opts o = {.threads = 1 + i % 2};
		struct kv_trace *t = NULL;
		struct kv_err err;

		CU_ASSERT_EQUAL(trace_load(paths[i], &o, &t, &err), KV_EINPUT);
		CU_ASSERT_PTR_NULL(t);
		snprintf(want, sizeof(want), ":%d: ", BAD_EVERY); /* the first bad line */
		CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, want));
	}
	free(text);
}

static int hook_unlocked_calls;

static void slow_hook(int where)
{
	if (where == LOAD_PIPE_HOOK_UNLOCKED) {
		hook_unlocked_calls++;
		usleep(1500000); /* the interning thread empties the ring meanwhile */
	} else {
		usleep(300000); /* a slow interning thread: the ring fills */
	}
}

/* The loader's thread populates arrays ahead with the ring's lock released while the ring
 * is full; if the interning thread empties the ring meanwhile and waits for more, the
 * loader must look again instead of waiting too. That wait for ever was seen once, under
 * load (`gen --check` stuck in hand_over and interning_thread); here the hook stretches the
 * window. Loaded in a child process, given 60 s. */
static void test_no_wait_for_ever(void)
{
	size_t nrec, nblk, nprefix, nbad;
	char *text = make_trace(0, &nrec, &nblk, &nprefix, &nbad);
	const char *plain = tu_write("pipe-hook.jsonl", text);
	pid_t pid;
	int status = 0, waited = 0;

	CU_ASSERT_FATAL(nblk > 6 * 65536); /* more batches (of 65,536 ids) than the ring holds */
	pid = fork();
	CU_ASSERT_FATAL(pid >= 0);
	if (pid == 0) {
		struct kv_load_opts o = {.threads = 2};
		struct kv_trace *t = NULL;
		struct kv_err err;
		int rc;

		load_pipe_test_hook = slow_hook;
		if (trace_load(plain, &o, &t, &err) != KV_OK || t->nreq != nrec ||
		    t->nnodes != nprefix)
			rc = 2;
		else
			rc = hook_unlocked_calls > 0 ? 0 : 3; /* 3: the window never opened */
		trace_free(t);
		free(text);
		_exit(rc);
	}
	while (waitpid(pid, &status, WNOHANG) == 0 && waited < 600) {
		usleep(100000);
		waited++;
	}
	if (waited == 600) {
		kill(pid, SIGKILL);
		waitpid(pid, &status, 0);
		CU_FAIL("the load waited for ever");
	} else {
		CU_ASSERT(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	}
	free(text);
}

static char *read_all(const char *path, size_t *n)
{
	FILE *f = fopen(path, "rb");
	char *p = malloc(64u << 20);

	CU_ASSERT_PTR_NOT_NULL_FATAL(f);
	CU_ASSERT_PTR_NOT_NULL_FATAL(p);
	*n = fread(p, 1, 64u << 20, f);
	fclose(f);
	return p;
}

/* A gzip stream cut short, or damaged, after many inflated chunks: the same error at the
 * same line whether it is inflated on the loader's thread or on its own (gz_ahead.h). */
static void test_gzip_errors_after_chunks(void)
{
	size_t nrec, nblk, nprefix, nbad, n;
	char *text = make_trace(0, &nrec, &nblk, &nprefix, &nbad);
	char *gz = read_all(write_gz("pipe-src.jsonl.gz", text), &n), msg[2][512];
	const char *cut, *bent;

	CU_ASSERT_FATAL(strlen(text) > (4u << 20)); /* more than 16 chunks of 256 KiB */
	CU_ASSERT_FATAL(n > 100000);
	cut = tu_write_bytes("pipe-cut.jsonl.gz", gz, n * 3 / 5);
	for (size_t i = n / 2; i < n / 2 + 64; i++)
		gz[i] ^= 0x5a;
	bent = tu_write_bytes("pipe-bent.jsonl.gz", gz, n);
	for (int f = 0; f < 2; f++) {
		for (int threads = 1; threads <= 2; threads++) {
			struct kv_load_opts o = {.threads = threads, .lenient = 1};
			struct kv_trace *t = NULL;
			struct kv_err err;

			CU_ASSERT_EQUAL(trace_load(f ? bent : cut, &o, &t, &err), KV_EINPUT);
			CU_ASSERT_PTR_NULL(t);
			snprintf(msg[threads - 1], sizeof(msg[0]), "%s", err.msg);
		}
		CU_ASSERT_STRING_EQUAL(msg[0], msg[1]);
		CU_ASSERT_PTR_NOT_NULL(strstr(msg[1], f ? ": bad gzip data: "
						      : ": bad gzip data: unexpected end of file"));
		/* not at the start: the lines before the damage were read */
		CU_ASSERT_PTR_NOT_NULL_FATAL(strstr(msg[1], ".gz:"));
		CU_ASSERT(atol(strstr(msg[1], ".gz:") + 4) > 1000);
	}
	free(gz);
	free(text);
}

int suite_load_pipe(void)
{
	CU_pSuite s = CU_add_suite("load pipe", NULL, NULL);

	return !s || !CU_add_test(s, "one thread, two threads, plain and gzip agree",
				  test_threads_and_mapping_agree) ||
	       !CU_add_test(s, "--lenient across batches", test_lenient_across_batches) ||
	       !CU_add_test(s, "an error after batches: same FILE:LINE",
			    test_error_line_after_batches) ||
	       !CU_add_test(s, "gzip cut short or damaged: same error, either thread",
			    test_gzip_errors_after_chunks) ||
	       !CU_add_test(s, "the loader never waits for ever on the ring",
			    test_no_wait_for_ever);
}
