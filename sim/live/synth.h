/*
 * synth.h - token synthesis for live replay (DESIGN.md section 5).
 *
 * Each hash id of a trace maps to block_size token ids drawn from a PRNG seeded by
 * (seed, hash id), uniform over [0, vocab) minus a list of special ids, so equal ids give
 * equal tokens and a live engine sees the trace's exact prefix sharing with no tokenizer.
 * A request's partial last block takes the first input_length - B*(n-1) ids of its block.
 */
#ifndef KV_LIVE_SYNTH_H
#define KV_LIVE_SYNTH_H

#include <stddef.h>
#include <stdint.h>

#include "error.h"
#include "trace.h"

#define SYNTH_MAX_SPECIAL 64

struct synth {
	uint64_t seed;
	uint32_t vocab;                      /* ids are drawn from [0, vocab) */
	uint32_t nspecial;                   /* minus these (sorted, distinct, < vocab) */
	uint32_t special[SYNTH_MAX_SPECIAL];
};

/* Sets up a synthesiser; specials is "1,2,3" or "" (parsed, sorted, deduplicated). Fails with
 * KV_EINPUT when an id is out of [0, vocab) or nothing is left to draw. */
int synth_init(struct synth *s, uint64_t seed, uint32_t vocab, const char *specials,
	       struct kv_err *err);

/* Writes the first n ids (n <= block size) of hash id h's block into out. O(n x specials). */
void synth_block(const struct synth *s, uint64_t hash_id, uint32_t *out, uint32_t n);

/* Writes request r's input_tokens ids into out (sized input_tokens). O(input tokens). */
void synth_request(const struct synth *s, const struct kv_trace *t, size_t r, uint32_t *out);

/* splitmix64 finaliser: a well-mixed 64-bit hash of x. O(1). */
static inline uint64_t synth_mix64(uint64_t x)
{
	x += 0x9e3779b97f4a7c15ull;
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
	return x ^ (x >> 31);
}

#endif
