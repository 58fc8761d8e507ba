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
 * sessions are not drawn. They come in antithetic pairs from a golden-ratio sequence: the
 * sessions 2j and 2j + 1 of the type (counted from 0) take v_j = frac(u_0 + j x
 * GEN_TURNS_ALPHA) and its reflection 1 - v_j, with u_0 drawn from the seed. Any F
 * consecutive points v_j, F a Fibonacci number, put F x P +- less than 3 points into any
 * interval of quantiles of length P (docs/gen.md gives the argument), and so do their
 * reflections; a run of any other length splits into a few Fibonacci runs. So the number
 * of sessions that reach a deep turn does not depend on a few lucky draws, as it does when
 * each session draws its own. The reflection is for the deepest sessions: the seed's shift
 * moves all the v_j near 0 (the longest sessions) the same way, so their lengths would rise
 * and fall together from seed to seed; the reflected points near 0 move the other way.
 */
#define GEN_TURNS_ALPHA 0.6180339887498949 /* golden ratio - 1 */

/* T for quantile u: the largest T <= max_turns with u < P(T' >= T). O(T). */
int gen_planned_turns(const struct gen_type_conf *t, double u);

/* The quantile of session k: v = frac(u0 + floor(k / 2) x GEN_TURNS_ALPHA) for even k,
 * 1 - v for odd k (0 stays 0). O(1). */
double gen_turns_quantile(double u0, uint64_t k);

/*
 * Gaps. The gap before turn i + 1 is not drawn either. Sessions are grouped by type and by
 * the class floor(log2 T) of their planned length (T = 2-3, 4-7, 8-15, ...), and each group
 * has one golden-ratio sequence per depth i: the n-th gap drawn at depth i in the group (n
 * from 0) is gap_s at u = frac(s + n x GEN_TURNS_ALPHA) (gen_dist_at), where the shift s of
 * that sequence is drawn from the seed. So among the sessions of similar length, as many
 * get a long think time at each depth as the distribution says, and whether their deep
 * turns fall before the end of the trace depends less on which of them drew the long gaps.
 * Each session's gaps are still independent draws of gap_s, independent of its start and
 * length: n is decided by arrivals, lengths and shallower gaps, which never read s, and s
 * is uniform, so u is uniform and independent of everything before it.
 */

/* floor(log2 turns): the group of a session's gap sequences. O(log turns). */
int gen_length_class(int turns);

/* Generates the whole trace into a file (".gz" suffix: gzip with a fixed header, so the
 * bytes depend only on the inputs; "-": stdout), written atomically. */
int gen_write_jsonl(const struct gen_profile *p, const struct gen_opts *o, const char *path,
		    struct gen_stats *st, struct kv_err *err);

#endif
