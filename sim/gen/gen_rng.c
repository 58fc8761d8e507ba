/* gen_rng.c - xoshiro256** and the variates the generator draws (see gen_rng.h). */
#include <math.h>

#include "gen_rng.h"

static uint64_t splitmix64(uint64_t *x)
{
	uint64_t z = (*x += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

void gen_rng_seed(struct gen_rng *r, uint64_t seed, uint64_t stream)
{
	uint64_t x = seed ^ (stream * 0xd1b54a32d192ed03ull);

	for (int i = 0; i < 4; i++)
		r->s[i] = splitmix64(&x);
}

static inline uint64_t rotl(uint64_t x, int k)
{
	return (x << k) | (x >> (64 - k));
}

uint64_t gen_rng_u64(struct gen_rng *r)
{
	uint64_t *s = r->s;
	uint64_t res = rotl(s[1] * 5, 7) * 9;
	uint64_t t = s[1] << 17;

	s[2] ^= s[0];
	s[3] ^= s[1];
	s[1] ^= s[2];
	s[0] ^= s[3];
	s[2] ^= t;
	s[3] = rotl(s[3], 45);
	return res;
}

double gen_rng_uniform(struct gen_rng *r)
{
	return (double)(gen_rng_u64(r) >> 11) * 0x1.0p-53;
}

uint64_t gen_rng_below(struct gen_rng *r, uint64_t n)
{
	return (uint64_t)(((unsigned __int128)gen_rng_u64(r) * n) >> 64);
}

double gen_rng_normal(struct gen_rng *r)
{
	double u1 = 1.0 - gen_rng_uniform(r); /* (0, 1] */
	double u2 = gen_rng_uniform(r);

	return sqrt(-2.0 * log(u1)) * cos(2.0 * M_PI * u2);
}

double gen_rng_exp(struct gen_rng *r)
{
	return -log(1.0 - gen_rng_uniform(r));
}
