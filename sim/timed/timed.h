/*
 * timed.h - the timed cluster simulation (DESIGN.md section 4): a discrete-event engine
 * driving N serving instances behind a router.
 *
 * Each instance has one KV pool (a struct kv_cache of capacity_blocks) holding the pinned
 * blocks of its running requests and evictable cached blocks ordered by the eviction
 * policy; continuous batching with max_num_seqs and max_num_batched_tokens (chunked
 * prefill); iteration times from a cost model (cost.h). timed_run() replays a trace (or a
 * time window of it) and fills one result per request and the aggregate statistics.
 */
#ifndef KV_TIMED_H
#define KV_TIMED_H

#include <stdint.h>

#include "cache.h"
#include "cost.h"
#include "evict_ops.h"
#include "params.h"
#include "route_ops.h"
#include "trace.h"

#define TIMED_MAX_SEQS 65535u /* pin counts are 16 bits */

struct timed_config {
	uint32_t instances;
	uint32_t max_num_seqs;          /* per instance, 1..TIMED_MAX_SEQS */
	uint64_t max_batched_tokens;    /* per iteration; UINT64_MAX for no limit */
	uint64_t capacity_blocks;       /* per instance; KV_CAPACITY_INF for no limit */
	const struct evict_ops *evict;
	const struct kv_params *evict_params;
	enum kv_hit_rule hit_rule;
	const struct kv_cost *cost;
	const struct route_ops *route;
	const struct kv_params *route_params;
	int approx_view;                /* router sees an LRU index of its own decisions */
	uint64_t approx_blocks;         /* its size per instance (0: capacity_blocks) */
	double rate_scale;              /* arrival = (ts - begin_s) / rate_scale */
	double begin_s, end_s;          /* trace time window [begin, end) */
	int closed;                     /* closed-loop sessions */
	int preemption;                 /* output KV grows in the pool; recompute preemption */
	uint64_t seed;
};

/* One request's timeline; times in simulated seconds, -1 when it never happened. */
struct timed_req {
	uint32_t row;
	int32_t instance;
	double arrival_s, start_s, first_token_s, end_s;
	uint32_t hit_blocks;            /* at (first) admission */
	uint64_t hit_tokens;
	uint32_t preemptions;
};

struct timed_inst_stats {
	struct kv_cache_stats st;       /* its hits and evictions */
	uint64_t routed;                /* requests the router sent there */
	uint64_t iterations;
	double busy_s;                  /* time spent in iterations */
};

struct timed_result {
	struct timed_req *req;          /* nreq requests in the window, arrival order */
	size_t nreq;
	struct kv_cache_stats st;       /* summed over instances */
	struct timed_inst_stats *inst;  /* cfg->instances rows */
	uint32_t ninst;
	uint64_t events, iterations, preemptions, completed;
	double first_arrival_s, last_end_s;
	uint64_t output_tokens;
	double wall_s;                  /* wall-clock time of the run (metadata) */
};

/* Runs the simulation. The result is owned by the caller (timed_result_free). */
int timed_run(const struct kv_trace *t, const struct timed_config *cfg,
	      struct timed_result *res, struct kv_err *err);
void timed_result_free(struct timed_result *res);

/* Bytes of the per-instance block tables timed_run allocates (one record per chain node per
 * instance, twice with the approx index); timed_run refuses a configuration needing more
 * than the machine's physical memory. O(1). */
double timed_block_table_bytes(const struct kv_trace *t, const struct timed_config *cfg);

/* Latency summary of a result: mean and nearest-rank percentiles. */
struct timed_dist {
	double mean, p50, p90, p99;
	uint64_t n;
};
struct timed_summary {
	struct timed_dist ttft, tpot, e2e, queue;
	double throughput_rps;          /* completed / (last end - first arrival) */
	double output_tps;              /* output tokens / same span */
};
int timed_summarize(const struct timed_result *res, const struct kv_trace *t,
		    struct timed_summary *out);

#endif
