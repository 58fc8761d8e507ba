/* capacity.c - parsing and resolving capacities (see capacity.h). */
#include "capacity.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

struct unit {
	const char *suffix;
	enum kv_cap_unit unit;
	double scale;
};

/* Longest suffixes first where one ends another ("GiB" before "B"). */
static const struct unit units[] = {
	{"KiB", KV_CAP_BYTES, 1024.0},
	{"MiB", KV_CAP_BYTES, 1048576.0},
	{"GiB", KV_CAP_BYTES, 1073741824.0},
	{"TiB", KV_CAP_BYTES, 1099511627776.0},
	{"KB", KV_CAP_BYTES, 1e3},
	{"MB", KV_CAP_BYTES, 1e6},
	{"GB", KV_CAP_BYTES, 1e9},
	{"TB", KV_CAP_BYTES, 1e12},
	{"B", KV_CAP_BYTES, 1.0},
	{"ktokens", KV_CAP_TOKENS, 1e3},
	{"Ktokens", KV_CAP_TOKENS, 1e3},
	{"Mtokens", KV_CAP_TOKENS, 1e6},
	{"Gtokens", KV_CAP_TOKENS, 1e9},
	{"tokens", KV_CAP_TOKENS, 1.0},
	{"kblocks", KV_CAP_BLOCKS, 1e3},
	{"Kblocks", KV_CAP_BLOCKS, 1e3},
	{"Mblocks", KV_CAP_BLOCKS, 1e6},
	{"blocks", KV_CAP_BLOCKS, 1.0},
	{"%", KV_CAP_PERCENT, 1.0},
	{"", KV_CAP_BLOCKS, 1.0},
};

int kv_capacity_parse(const char *s, struct kv_capacity *out, struct kv_err *err)
{
	char *end;
	double x;
	size_t i;

	memset(out, 0, sizeof(*out));
	if (strlen(s) >= sizeof(out->text))
		return kv_fail(err, KV_EINPUT, "capacity '%.40s...' is too long", s);
	strcpy(out->text, s);
	if (!strcasecmp(s, "inf") || !strcasecmp(s, "infinite") || !strcasecmp(s, "unlimited")) {
		out->unit = KV_CAP_INF;
		return KV_OK;
	}
	if (!(*s >= '0' && *s <= '9') && *s != '.')
		goto bad;
	errno = 0;
	x = strtod(s, &end);
	if (end == s || errno || !isfinite(x) || x < 0)
		goto bad;
	/* decimal only: strtod() also reads hex floats ("0x1p3") */
	if (strspn(s, "0123456789.eE+-") != (size_t)(end - s))
		goto bad;
	for (i = 0; i < sizeof(units) / sizeof(units[0]); i++)
		if (!strcmp(end, units[i].suffix))
			break;
	if (i == sizeof(units) / sizeof(units[0]))
		goto bad;
	if (units[i].unit == KV_CAP_BLOCKS && x * units[i].scale != floor(x * units[i].scale))
		return kv_fail(err, KV_EINPUT, "capacity '%s': a block count must be whole", s);
	if (units[i].unit == KV_CAP_PERCENT && x > 100)
		return kv_fail(err, KV_EINPUT, "capacity '%s': a percentage is at most 100%%", s);
	out->unit = units[i].unit;
	out->amount = x * units[i].scale;
	if (out->amount > 1e18)
		return kv_fail(err, KV_EINPUT, "capacity '%s' is too large (use 'inf')", s);
	return KV_OK;
bad:
	return kv_fail(err, KV_EINPUT,
		       "capacity '%s' is not understood (examples: 64GiB, 500MB, 4096blocks, "
		       "1Mtokens, 10%%, inf, 4096)", s);
}

int kv_capacity_blocks(const struct kv_capacity *c, uint32_t block_size,
		       uint64_t kv_bytes_per_token, uint64_t distinct_nodes, uint64_t *blocks,
		       struct kv_err *err)
{
	double b = 0;

	switch (c->unit) {
	case KV_CAP_INF:
		*blocks = KV_CAPACITY_INF;
		return KV_OK;
	case KV_CAP_BLOCKS:
		b = c->amount;
		break;
	case KV_CAP_TOKENS:
		b = (double)((uint64_t)c->amount / block_size);
		break;
	case KV_CAP_BYTES:
		if (!kv_bytes_per_token)
			return kv_fail(err, KV_EINPUT, "capacity '%s' in bytes needs the KV bytes per "
				       "token (--model or --kv-bytes-per-token)", c->text);
		if (c->amount == floor(c->amount)) /* exact for whole byte counts */
			b = (double)((uint64_t)c->amount / (kv_bytes_per_token * block_size));
		else
			b = floor(c->amount / ((double)kv_bytes_per_token * block_size));
		break;
	case KV_CAP_PERCENT:
		/* Integer arithmetic where the percentage is whole, so 10% of 182,790 is
		 * exactly 18,279 with no floating-point rounding at the boundary. */
		if (c->amount == floor(c->amount))
			b = (double)(distinct_nodes * (uint64_t)c->amount / 100);
		else
			b = floor(c->amount * (double)distinct_nodes / 100.0);
		if (b < 1)
			b = 1;
		break;
	}
	if (b < 1)
		return kv_fail(err, KV_EINPUT, "capacity '%s' holds less than one block", c->text);
	*blocks = (uint64_t)b;
	return KV_OK;
}
