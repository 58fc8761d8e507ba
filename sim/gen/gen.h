/*
 * gen.h - the synthetic trace generator: a stream of Bailian records drawn from a profile
 * (gen_profile.h describes the model).
 *
 * Streaming: the generator keeps only the live sessions (those with a follow-up turn still
 * to come) and the head pools, never the emitted records, so memory does not grow with the
 * duration. Events (session arrivals, follow-up turns) are processed in time order, so
 * timestamps come out non-decreasing. Deterministic for a given profile, options and seed.
 */
#ifndef KV_GEN_H
#define KV_GEN_H

#include <stdint.h>

#include "error.h"
#include "gen_profile.h"

struct gen_opts {
	double duration_s;   /* <= 0: the profile's duration */
	double rate_scale;   /* multiplies the session arrival rate (1 = as profiled) */
	uint64_t seed;
};

/* One generated request; ids stay valid until the next gen_next call. */
struct gen_record {
	int64_t chat_id, parent_chat_id;  /* parent -1 for a first turn */
	int64_t ts_ms;                    /* milliseconds since the start */
	uint32_t input_tokens, output_tokens;
	int type;                         /* index into the profile's types */
	int turn;                         /* 1 = first */
	const uint64_t *ids;              /* ceil(input_tokens / block_size) content ids */
	uint32_t nids;
};

struct gen_stats {
	uint64_t requests, blocks;
	uint64_t live_sessions_max;       /* the most sessions held at once */
	uint64_t live_ids_max;            /* the most block ids held at once */
};

struct gen;

int gen_create(const struct gen_profile *p, const struct gen_opts *o, struct gen **out,
	       struct kv_err *err);
void gen_destroy(struct gen *g);

/* The next record in time order into *rec, or *done = 1 at the end. Returns KV_OK or
 * KV_ERUNTIME (out of memory). O(log live sessions + blocks of the record). */
int gen_next(struct gen *g, struct gen_record *rec, int *done);

const struct gen_stats *gen_get_stats(const struct gen *g);

/* Generates the whole trace into a file (".gz" suffix: gzip with a fixed header, so the
 * bytes depend only on the inputs; "-": stdout), written atomically. */
int gen_write_jsonl(const struct gen_profile *p, const struct gen_opts *o, const char *path,
		    struct gen_stats *st, struct kv_err *err);

#endif
