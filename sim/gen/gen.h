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

/*
 * Session lengths. A session's number of turns T is planned when it starts, as the inverse
 * CDF of the continue chain at a quantile u in [0, 1): P(T >= t + 1 | T >= t) =
 * continue[t - 1] (the last value repeats), T <= max_turns, and T >= t + 1 exactly when
 * u < P(T >= t + 1) = continue[0] x ... x continue[t - 1]. The quantiles of a type's
 * sessions are not drawn: the k-th session of the type (k from 0) takes
 * u_k = frac(u_0 + k x GEN_TURNS_ALPHA), with u_0 drawn from the seed. Any F consecutive
 * points of that sequence, F a Fibonacci number, put N x P +- less than 3 points into any
 * interval of quantiles of length P (docs/gen.md gives the argument); a run of any other
 * length splits into a few Fibonacci runs. So the number of sessions that reach a deep
 * turn does not depend on a few lucky draws, as it does when each session draws its own.
 */
#define GEN_TURNS_ALPHA 0.6180339887498949 /* golden ratio - 1 */

/* T for quantile u: the largest T <= max_turns with u < P(T' >= T). O(T). */
int gen_planned_turns(const struct gen_type_conf *t, double u);

/* u_k = frac(u0 + k x GEN_TURNS_ALPHA). O(1). */
double gen_turns_quantile(double u0, uint64_t k);

/* Generates the whole trace into a file (".gz" suffix: gzip with a fixed header, so the
 * bytes depend only on the inputs; "-": stdout), written atomically. */
int gen_write_jsonl(const struct gen_profile *p, const struct gen_opts *o, const char *path,
		    struct gen_stats *st, struct kv_err *err);

#endif
