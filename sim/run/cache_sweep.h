/*
 * cache_sweep.h - cache mode over many (policy, capacity) pairs on one loaded trace.
 *
 * Each job builds its own cache over the shared read-only trace, so jobs run on worker
 * threads (-j N) with no locking; results come back in job order whatever the thread count.
 */
#ifndef KV_CACHE_SWEEP_H
#define KV_CACHE_SWEEP_H

#include "cache.h"
#include "capacity.h"
#include "evict_ops.h"
#include "params.h"

struct cache_job {
	const struct evict_ops *ops;
	struct kv_params params;     /* resolved */
	char policy[256];            /* canonical spec for output: "name[:k=v,...]" */
	struct kv_capacity cap;
	uint64_t capacity_blocks;    /* resolved; KV_CAPACITY_INF for inf */
};

struct cache_job_result {
	struct kv_cache_stats st;
	double wall_s;
	double cpu_s;  /* CPU time of the thread that ran the job (not inflated by other load) */
	int rc;
	struct kv_err err;
};

struct cache_sweep_opts {
	enum kv_hit_rule hit_rule;
	int threads;   /* >= 1 */
	int progress;  /* print a progress line on stderr */
};

/* Runs one job. */
int cache_job_run(const struct kv_trace *t, const struct cache_job *job,
		  enum kv_hit_rule rule, struct cache_job_result *res);

/* Runs all jobs; returns the first failing job's status (all results are filled). */
int cache_sweep_run(const struct kv_trace *t, const struct cache_job *jobs, size_t n,
		    const struct cache_sweep_opts *o, struct cache_job_result *res);

#endif
