/*
 * gen_profile.h - a generator profile: the parameters of one synthetic workload, read from a
 * JSON data file (traces/profiles/NAME.json; docs/gen.md describes every key).
 *
 * The model (gen.h): sessions arrive as a bursty Poisson process; each session has a type,
 * a first request made of shared heads (system prompts, API templates: pools with Zipf
 * popularity) plus the user's message, and follow-up turns that carry the whole previous
 * context (all of the parent's blocks but its last, the kept part of the parent's output,
 * the new message). Block ids are content ids: fresh per unique block, fixed per head entry,
 * and with a small probability drawn from a pool of common blocks that recur after different
 * prefixes.
 */
#ifndef KV_GEN_PROFILE_H
#define KV_GEN_PROFILE_H

#include <stdint.h>

#include <jansson.h>

#include "error.h"
#include "gen_dist.h"

#define GEN_MAX_TYPES 16
#define GEN_MAX_POOLS 16
#define GEN_MAX_HEADS 4      /* head levels per type */
#define GEN_MAX_CONTINUE 64  /* continuation probabilities listed per type */

/* A pool of shared heads: `size` entries, popularity Zipf(zipf), each entry's length in
 * blocks drawn once from `blocks`. */
struct gen_pool_conf {
	char name[64];
	uint32_t size;
	double zipf;
	struct gen_dist blocks;
};

struct gen_type_conf {
	char name[64];
	double weight;                 /* share of sessions */
	int nheads;
	int heads_exclusive;           /* 1: at most one head, heads[i] with chance prob */
	struct {
		int pool;              /* index into profile pools */
		double prob;           /* chance that a session's first request has this head
					  (levels in order, or one of them when exclusive) */
	} heads[GEN_MAX_HEADS];
	struct gen_dist message_tokens;  /* the user's part of a first request */
	struct gen_dist followup_tokens; /* the new message of a follow-up turn */
	struct gen_dist output_tokens;
	double output_kept;            /* share of the parent's output in the child's input */
	int ncontinue;
	double cont[GEN_MAX_CONTINUE]; /* P(turn t+1 | turn t), index t-1; the last repeats */
	int max_turns;
	struct gen_dist gap_s;         /* parent -> child arrival gap */
};

struct gen_profile {
	char name[64];
	char path[1024];
	double duration_s;             /* the span the targets describe */
	uint32_t block_size;
	double sessions_per_s;
	double burst_window_s;         /* arrival rate is constant within a window ... */
	double burst_sigma;            /* ... times a lognormal factor with mean 1 */
	uint32_t max_input_tokens;     /* a session ends when its context would exceed this */
	double common_prob;            /* a fresh block takes a common id with this chance */
	uint32_t common_pool;
	double common_zipf;
	int npools;
	struct gen_pool_conf pools[GEN_MAX_POOLS];
	int ntypes;
	struct gen_type_conf types[GEN_MAX_TYPES];
	json_t *targets;               /* calibration targets for --check (may be NULL) */
};

/* Loads a profile: NAME (a bundled profile: traces/profiles/NAME.json beside the executable's
 * tree, in the installed share folder, or under the current directory) or a path to a JSON
 * file. Bad input gives KV_EINPUT with "FILE: key: what is wrong". */
int gen_profile_load(const char *name_or_path, struct gen_profile **out, struct kv_err *err);
void gen_profile_free(struct gen_profile *p);

/* Resolves a bundled profile name to a path (static buffer); NULL when not found. */
const char *gen_profile_find(const char *name);

#endif
