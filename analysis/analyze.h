/*
 * analyze.h - trace characterisation (`kvsim analyze`): workload, sessions and turns, block
 * reuse (reuse time, stack distance), skew, and infinite-cache ceilings.
 *
 * analyze_run() fills one struct analysis from the in-memory trace in a constant number of
 * passes: one over req[] for the workload (workload.c), one over req[] for sessions
 * (sessions.c), one over the block accesses in cache-mode order for reuse, ceilings and
 * session hits (reuse.c), and one over the chain nodes for skew (skew.c). The writers
 * (analyze_out.c) turn it into CSV tables, summary.json and a text digest. docs/analysis.md
 * defines every statistic precisely.
 */
#ifndef KV_ANALYZE_H
#define KV_ANALYZE_H

#include <stdint.h>
#include <stdio.h>

#include <jansson.h>

#include "dist.h"
#include "mrc.h"
#include "error.h"
#include "trace.h"

#define AN_MAX_TURN 1024 /* turns above this are grouped into the last row */

struct analyze_opts {
	double window_s; /* arrival-rate window (default 60 s) */
};

/* Hit/total counters of the infinite-cache ceiling for one group of requests. */
struct an_ceiling {
	uint64_t requests, blocks, hit_blocks, tokens, hit_tokens;
};

struct an_workload {
	size_t requests;
	double first_s, span_s, rate_per_s;        /* span = last - first arrival */
	double window_s;
	size_t nwindows;                           /* floor(span / window_s), at least 1: window w
						      covers [first + w*window_s, +window_s); the
						      last one runs to the last arrival (included),
						      between 1 and 2 windows long */
	uint64_t *win_requests, *win_tokens, *win_blocks;
	struct dist_summary input, output;         /* tokens */
	uint32_t *input_sorted, *output_sorted;    /* requests values, ascending */
	/* per type: requests, blocks, input and output tokens */
	uint64_t type_requests[KV_MAX_TYPES], type_blocks[KV_MAX_TYPES];
	uint64_t type_input[KV_MAX_TYPES], type_output[KV_MAX_TYPES];
};

enum an_relation { AN_REL_ALL, AN_REL_ALL_BUT_LAST, AN_REL_SHORTER, AN_REL_NONE, AN_REL_N };

struct an_sessions {
	int available;            /* the trace has session fields (Bailian) */
	int32_t *root;            /* session root row of every request */
	uint16_t *turn;           /* turn of every request: the Bailian turn field, else the
				     depth in the parent tree (1 = root); capped at AN_MAX_TURN */
	uint64_t sessions;        /* requests without a parent in the file */
	uint64_t children;        /* requests whose parent is in the file */
	uint64_t orphans;         /* parent_chat_id != -1 but the parent is not in the file */
	/* turns per session and requests per (session, turn): value -> count */
	uint64_t *turns_hist;     /* [0..max_turns] */
	uint32_t max_turns;
	uint64_t *rpt_hist;       /* requests per turn [0..max_rpt] */
	uint32_t max_rpt;
	uint64_t turn_groups;     /* distinct (session, turn) pairs */
	/* parent -> child arrival gaps, ascending */
	double *gap_sorted;
	size_t ngaps;
	struct dist_summary gap;
	uint64_t relation[AN_REL_N];
	uint64_t common_blocks;   /* sum over children of the blocks shared with the parent */
	/* per turn (index = turn, AN_MAX_TURN holds every larger turn) */
	uint32_t nturns;          /* rows used: 1 + largest turn index seen */
	uint64_t turn_requests[AN_MAX_TURN + 1], turn_input[AN_MAX_TURN + 1];
	uint64_t turn_children[AN_MAX_TURN + 1];
	int64_t turn_growth[AN_MAX_TURN + 1];     /* sum of child - parent input tokens */
};

struct an_reuse {
	/* histograms per type index (0..ntypes-1), then index ntypes for all types */
	struct loghist *time_ms;      /* reuse time in ms, [ntypes + 1] */
	struct loghist *dist;         /* stack distance in blocks, [ntypes + 1] */
	/* the cache core's LRU (`kvsim sim --policy lru`) at capacity hi + 1 of every bucket of
	 * dist[ntypes] that holds a reuse, in bucket order: prefix closure makes it differ from
	 * "distance < capacity", so it comes from mrc (the pass that gives the distances) */
	struct mrc_point *lru;
	size_t nlru;
	uint64_t accesses, reuses, cold;
	uint64_t tokens;
	struct an_ceiling all;
	struct an_ceiling type[KV_MAX_TYPES];
	struct an_ceiling turn[AN_MAX_TURN + 1];
	uint32_t nturns;
	uint64_t same_session, from_parent, cross_session;
	uint32_t *accesses_per_node;  /* [nnodes], freed after skew */
};

struct an_skew {
	uint64_t nodes, reused_nodes, reuses;
	uint32_t max_accesses;
	/* share of reuses due to the top x of nodes, x in an_skew_points[] */
	double top_share[16];
	uint64_t top_nodes[16];
	int npoints;
};

extern const double an_skew_points[];

struct analysis {
	const struct kv_trace *t;
	int ntypes;
	struct an_workload wl;
	struct an_sessions ss;
	struct an_reuse ru;
	struct an_skew sk;
	double timing_s[4];           /* wall clock of the 4 passes (metadata) */
};

/* Runs every pass. O(blocks log blocks) for stack distances, O(requests log requests) for
 * the exact length and gap distributions, O(nodes) otherwise. */
int analyze_run(const struct kv_trace *t, const struct analyze_opts *o, struct analysis *a,
		struct kv_err *err);
void analyze_free(struct analysis *a);

/* The passes, in the order analyze_run calls them (sessions before reuse: the reuse pass
 * needs the session roots). */
int an_workload_run(struct analysis *a, double window_s, struct kv_err *err);
int an_sessions_run(struct analysis *a, struct kv_err *err);
int an_reuse_run(struct analysis *a, struct kv_err *err);
int an_skew_run(struct analysis *a, struct kv_err *err);

/* Window i of the arrivals table: its bounds (the last one ends at the last arrival) and
 * its arrival rate (requests / its length; 0 for a zero-length trace). O(1). */
void an_window_bounds(const struct an_workload *w, size_t i, double *start_s, double *end_s);
double an_window_rate(const struct an_workload *w, size_t i);

/* Name of type index i for output ("untyped" for the empty type). */
const char *an_type_name(const struct kv_trace *t, int i);

/* Writers (analyze_out.c). */
int analyze_write_dir(const struct analysis *a, const char *dir, struct kv_err *err);
json_t *analyze_summary_json(const struct analysis *a);
void analyze_print_digest(FILE *f, const struct analysis *a);

#endif
