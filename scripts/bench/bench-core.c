/*
 * bench-core.c - the core benchmark behind `make bench` (scripts/bench/bench-core.sh builds
 * it against the project's objects).
 *
 *   bench-core TRACE.jsonl OUT.kvt          parse, LRU runs, write OUT.kvt, mrc
 *   bench-core TRACE.jsonl OUT.kvt parse    parse only
 *   bench-core TRACE.jsonl OUT.kvt kvt      load OUT.kvt only
 *   bench-core TRACE.jsonl OUT.kvt records  the record parser alone, on the file in memory
 *
 * Measures JSONL parse speed, LRU block accesses per second at a few capacities, .kvt write
 * speed (and that both forms give the same checksum), `mrc` time against one LRU run, and
 * .kvt load speed. The parse and the .kvt load are each timed first thing in a fresh
 * process, so that both pay the same first touch of their memory. Each figure is given as wall time and as
 * the process's CPU time (all threads): on a shared machine the CPU time is the steadier
 * one, and it gives no credit for running on two threads.
 * Prints "name value unit" lines on stdout for the script to compare against the targets.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cache_sweep.h"
#include "record.h"
#include "mrc.h"
#include "registry.h"
#include "trace.h"
#include "trace_kvt.h"

struct clk {
	double wall, cpu;
};

static struct clk now(void)
{
	struct timespec a, b;

	clock_gettime(CLOCK_MONOTONIC, &a);
	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &b); /* all threads */
	return (struct clk){a.tv_sec + a.tv_nsec * 1e-9, b.tv_sec + b.tv_nsec * 1e-9};
}

static struct clk since(struct clk t0)
{
	struct clk t = now();

	return (struct clk){t.wall - t0.wall, t.cpu - t0.cpu};
}

static int lru_run(const struct kv_trace *t, uint64_t cap, const char *label, struct clk *out)
{
	struct cache_job job;
	struct cache_job_result res;
	struct kv_err err = {{0}};
	struct clk t0;

	memset(&job, 0, sizeof(job));
	job.ops = evict_find("lru");
	if (evict_resolve("lru", &job.ops, &job.params, &err))
		return fprintf(stderr, "%s\n", err.msg), 1;
	job.capacity_blocks = cap;
	t0 = now();
	if (cache_job_run(t, &job, KV_HIT_PREFIX, &res))
		return fprintf(stderr, "%s\n", res.err.msg), 1;
	*out = since(t0);
	printf("lru_%s_wall %.4f s\nlru_%s_cpu %.4f s\nlru_%s_rate_wall %.2f Maccesses/s\n"
	       "lru_%s_rate_cpu %.2f Maccesses/s\nlru_%s_block_hit_ratio %.6f ratio\n",
	       label, out->wall, label, out->cpu, label, t->nblk / out->wall / 1e6, label,
	       t->nblk / out->cpu / 1e6, label, (double)res.st.hit_blocks / (double)res.st.blocks);
	return 0;
}

/* The record parser alone (kv_record_parse over every line of the file, read into memory
 * first; no interning, no trace arrays): best of 3 passes. Shows how a load's time splits
 * between parsing and the rest. */
static int records_only(const char *path)
{
	FILE *f = fopen(path, "rb");
	char *buf = NULL, msg[256];
	long n;
	struct kv_record rec;
	double best = 1e300;
	uint64_t ids = 0;

	if (!f || fseek(f, 0, SEEK_END) || (n = ftell(f)) <= 0 || fseek(f, 0, SEEK_SET) ||
	    !(buf = malloc((size_t)n)) || fread(buf, 1, (size_t)n, f) != (size_t)n)
		return fprintf(stderr, "%s: cannot read\n", path), 2;
	fclose(f);
	memset(&rec, 0, sizeof(rec));
	rec.max_ids = KV_MAX_BLOCKS_PER_REQUEST;
	for (int pass = 0; pass < 3; pass++) {
		struct clk c = now();

		ids = 0;
		for (char *p = buf, *end = buf + n; p < end;) {
			char *e = memchr(p, '\n', (size_t)(end - p));

			if (!e)
				e = end;
			if (e > p && kv_record_parse(p, e, &rec, msg, sizeof(msg)))
				return fprintf(stderr, "%s: %s\n", path, msg), 2;
			ids += rec.nids;
			p = e + 1;
		}
		c = since(c);
		if (c.wall < best)
			best = c.wall;
	}
	printf("records_ids %" PRIu64 " n\nrecords_wall %.4f s\nrecords_rate %.1f MB/s\n", ids,
	       best, n / best / 1e6);
	free(rec.ids);
	free(buf);
	return 0;
}

int main(int argc, char **argv)
{
	struct kv_trace *t, *k;
	struct kv_err err = {{0}};
	struct clk c, lru[4], sum = {0, 0};
	static const struct {
		const char *label;
		double pct;
	} caps[] = {{"1pct", 1}, {"10pct", 10}, {"50pct", 50}, {"inf", -1}};
	struct mrc_point pts[64];
	uint64_t lp[64];
	size_t np;
	struct mrc_stats ms;

	if (argc != 3 && argc != 4) {
		fprintf(stderr, "usage: bench-core TRACE.jsonl OUT.kvt [parse|kvt|mrc|records]\n");
		return 2;
	}
	if (argc == 4 && !strcmp(argv[3], "records"))
		return records_only(argv[1]);
	if (argc == 4 && !strcmp(argv[3], "kvt")) {
		c = now();
		if (trace_load(argv[2], NULL, &t, &err))
			return fprintf(stderr, "%s\n", err.msg), 2;
		c = since(c);
		printf("kvt_load_wall %.4f s\nkvt_load_cpu %.4f s\n", c.wall, c.cpu);
		return trace_free(t), 0;
	}
	c = now();
	if (trace_load(argv[1], NULL, &t, &err))
		return fprintf(stderr, "%s\n", err.msg), 2;
	c = since(c);
	printf("trace_bytes %" PRIu64 " B\ntrace_requests %zu n\ntrace_accesses %" PRIu64
	       " n\ntrace_nodes %u n\n", t->source_bytes, t->nreq, t->nblk, t->nnodes);
	printf("parse_wall %.4f s\nparse_cpu %.4f s\nparse_rate_wall %.1f MB/s\n"
	       "parse_rate_cpu %.1f MB/s\n", c.wall, c.cpu, t->source_bytes / c.wall / 1e6,
	       t->source_bytes / c.cpu / 1e6);
	if (argc == 4 && !strcmp(argv[3], "parse"))
		return trace_free(t), 0; /* for profiling one phase */
	for (int i = 0; i < 4 && !(argc == 4 && !strcmp(argv[3], "mrc")); i++) {
		uint64_t cap = caps[i].pct < 0 ? KV_CAPACITY_INF
					       : (uint64_t)(t->nnodes * caps[i].pct / 100);
		if (lru_run(t, cap, caps[i].label, &lru[i]))
			return 1;
		if (i) { /* the first run also pays the first touch of the block array */
			sum.wall += lru[i].wall / 3;
			sum.cpu += lru[i].cpu / 3;
		}
	}
	c = now();
	if (trace_save_kvt(t, argv[2], &err))
		return fprintf(stderr, "%s\n", err.msg), 1;
	c = since(c);
	printf("kvt_write_wall %.4f s\n", c.wall);
	if (trace_load(argv[2], NULL, &k, &err))
		return fprintf(stderr, "%s\n", err.msg), 1;
	printf("kvt_checksum_equal %d bool\n", trace_checksum(k) == trace_checksum(t));
	trace_free(k);
	np = mrc_log_points(t->nnodes, 30, lp);
	memset(pts, 0, sizeof(pts));
	for (size_t i = 0; i < np; i++)
		pts[i].capacity_blocks = lp[i];
	c = now();
	if (mrc_run(t, KV_HIT_PREFIX, pts, np, &ms, &err))
		return fprintf(stderr, "%s\n", err.msg), 1;
	c = since(c);
	printf("mrc_points %zu n\nmrc_wall %.4f s\nmrc_cpu %.4f s\nmrc_replay_requests %" PRIu64
	       " n\nlru_mean_wall %.4f s\nlru_mean_cpu %.4f s\nmrc_vs_lru_cpu %.2f x\n", np,
	       c.wall, c.cpu, ms.replay_requests, sum.wall, sum.cpu, c.cpu / sum.cpu);
	trace_free(t);
	return 0;
}
