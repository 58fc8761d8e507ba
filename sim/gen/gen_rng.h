/*
 * gen_rng.h - the generator's pseudo-random numbers: xoshiro256** seeded through splitmix64,
 * plus the few variates the trace model draws (uniform, normal, exponential).
 *
 * Deterministic: the same seed gives the same sequence on every run of the same build.
 */
#ifndef KV_GEN_RNG_H
#define KV_GEN_RNG_H

#include <stdint.h>

struct gen_rng {
	uint64_t s[4];
};

/* Seeds the state from one 64-bit value (and a stream number, so that independent streams
 * can be derived from one user seed). O(1). */
void gen_rng_seed(struct gen_rng *r, uint64_t seed, uint64_t stream);

uint64_t gen_rng_u64(struct gen_rng *r);

/* Uniform in [0, 1) with 53 random bits. */
double gen_rng_uniform(struct gen_rng *r);

/* Uniform integer in [0, n), n > 0 (Lemire's multiply-shift; bias below 2^-32 for n < 2^32). */
uint64_t gen_rng_below(struct gen_rng *r, uint64_t n);

/* Standard normal (Box-Muller, one value per call). */
double gen_rng_normal(struct gen_rng *r);

/* Exponential with mean 1. */
double gen_rng_exp(struct gen_rng *r);

#endif
