/*
 * fuzz_capacity.c - libFuzzer target: the capacity parser and resolver
 * (sim/core/capacity.c).
 *
 * The input (up to the first NUL) is a capacity as a user would type it. Checked:
 *   - an accepted capacity is "inf"/"infinite"/"unlimited" (any case) or a plain decimal
 *     number (digits, '.', an exponent) followed by exactly one known unit suffix - no hex
 *     floats, no signs, no spaces, no "nan" (an independent scanner decides the grammar);
 *   - a rejected one leaves a message;
 *   - resolving an accepted one to blocks, for a few block sizes, KV bytes per token and
 *     node counts, either fails with a message or gives at least one block, "inf" giving
 *     KV_CAPACITY_INF and nothing else giving it; a percentage never exceeds the node count.
 * UBSan catches float->integer conversions out of range.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "capacity.h"

static const char *const suffixes[] = {
	"KiB", "MiB", "GiB", "TiB", "KB", "MB", "GB", "TB", "B", "ktokens", "Ktokens",
	"Mtokens", "Gtokens", "tokens", "kblocks", "Kblocks", "Mblocks", "blocks", "%", "",
};

/* The documented grammar, scanned independently of strtod. */
static int grammar_ok(const char *s)
{
	const char *p = s;
	int digits = 0;

	if (!strcasecmp(s, "inf") || !strcasecmp(s, "infinite") || !strcasecmp(s, "unlimited"))
		return 1;
	while (*p >= '0' && *p <= '9')
		p++, digits++;
	if (*p == '.')
		for (p++; *p >= '0' && *p <= '9'; p++)
			digits++;
	if (!digits)
		return 0;
	if (*p == 'e' || *p == 'E') {
		const char *q = p + 1;
		if (*q == '+' || *q == '-')
			q++;
		if (*q >= '0' && *q <= '9') { /* else the 'e' belongs to no suffix: rejected */
			while (*q >= '0' && *q <= '9')
				q++;
			p = q;
		}
	}
	for (size_t i = 0; i < sizeof(suffixes) / sizeof(suffixes[0]); i++)
		if (!strcmp(p, suffixes[i]))
			return 1;
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char s[128];
	struct kv_capacity c;
	struct kv_err err = {{0}};
	static const uint32_t bs[] = {1, 16, 512, 1u << 20};
	static const uint64_t bpt[] = {0, 1, 57344, UINT32_MAX};
	static const uint64_t nodes[] = {0, 1, 182790, UINT32_MAX};
	size_t n = size < sizeof(s) - 1 ? size : sizeof(s) - 1;

	memcpy(s, data, n);
	s[n] = 0;
	if (kv_capacity_parse(s, &c, &err)) {
		if (!err.msg[0])
			abort();
		return 0;
	}
	if (!grammar_ok(s)) {
		fprintf(stderr, "accepted '%s', outside the documented grammar\n", s);
		abort();
	}
	for (size_t i = 0; i < 4; i++)
		for (size_t j = 0; j < 4; j++)
			for (size_t k = 0; k < 4; k++) {
				uint64_t blocks = 0;

				err.msg[0] = 0;
				if (kv_capacity_blocks(&c, bs[i], bpt[j], nodes[k], &blocks, &err)) {
					if (!err.msg[0])
						abort();
					continue;
				}
				if ((c.unit == KV_CAP_INF) != (blocks == KV_CAPACITY_INF) || blocks < 1)
					abort();
				if (c.unit == KV_CAP_PERCENT && blocks > (nodes[k] ? nodes[k] : 1))
					abort();
			}
	return 0;
}
