/* synth.c - token synthesis (see synth.h). */
#include "synth.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

int synth_init(struct synth *s, uint64_t seed, uint32_t vocab, const char *specials,
	       struct kv_err *err)
{
	const char *p = specials ? specials : "";

	memset(s, 0, sizeof(*s));
	s->seed = seed;
	s->vocab = vocab;
	if (vocab < 2)
		return kv_fail(err, KV_EINPUT, "--vocab must be at least 2");
	while (*p) {
		char *end;
		unsigned long v;

		errno = 0;
		v = strtoul(p, &end, 10);
		if (end == p || errno || v >= vocab || (*end && *end != ','))
			return kv_fail(err, KV_EINPUT, "--special-ids: '%s' is not a list of ids "
				       "in [0, %u)", specials, vocab);
		if (s->nspecial == SYNTH_MAX_SPECIAL)
			return kv_fail(err, KV_EINPUT, "--special-ids: more than %d ids",
				       SYNTH_MAX_SPECIAL);
		s->special[s->nspecial++] = (uint32_t)v;
		p = *end ? end + 1 : end;
	}
	qsort(s->special, s->nspecial, sizeof(s->special[0]), cmp_u32);
	/* deduplicate */
	uint32_t k = 0;
	for (uint32_t i = 0; i < s->nspecial; i++)
		if (!k || s->special[k - 1] != s->special[i])
			s->special[k++] = s->special[i];
	s->nspecial = k;
	if (s->nspecial + 1 >= vocab)
		return kv_fail(err, KV_EINPUT, "--special-ids leave fewer than 2 ids to draw");
	return KV_OK;
}

void synth_block(const struct synth *s, uint64_t hash_id, uint32_t *out, uint32_t n)
{
	uint64_t state = synth_mix64(s->seed ^ synth_mix64(hash_id ^ 0x6b7673696d000000ull));
	uint64_t range = s->vocab - s->nspecial;

	for (uint32_t i = 0; i < n; i++) {
		uint64_t x = synth_mix64(state + i);
		uint32_t v = (uint32_t)(((unsigned __int128)x * range) >> 64);

		/* map [0, range) onto [0, vocab) minus the sorted specials */
		for (uint32_t j = 0; j < s->nspecial && s->special[j] <= v; j++)
			v++;
		out[i] = v;
	}
}

void synth_request(const struct synth *s, const struct kv_trace *t, size_t r, uint32_t *out)
{
	const struct kv_request *q = &t->req[r];
	const uint32_t *nodes = trace_req_nodes(t, r);
	uint32_t B = t->block_size, left = q->input_tokens;

	for (uint32_t i = 0; i < q->nblocks && left; i++) {
		uint32_t n = left < B ? left : B;

		synth_block(s, t->node_hash[nodes[i]], out + (size_t)i * B, n);
		left -= n;
	}
}
