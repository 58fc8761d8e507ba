/*
 * capacity.h - cache capacities as users write them, resolved to blocks.
 *
 * Forms (DESIGN.md section 3): "64GiB" / "500MB" (bytes, binary or decimal units, converted
 * with the KV bytes per token of a model), "4096blocks", "1Mtokens" (k/M/G are decimal:
 * 1M = 1,000,000), "10%" (of the trace's distinct chain nodes, rounded down, at least 1),
 * "inf" (never evicts), or a plain integer (blocks).
 */
#ifndef KV_CAPACITY_H
#define KV_CAPACITY_H

#include <stdint.h>

#include "error.h"

#define KV_CAPACITY_INF UINT64_MAX

enum kv_cap_unit { KV_CAP_BLOCKS, KV_CAP_TOKENS, KV_CAP_BYTES, KV_CAP_PERCENT, KV_CAP_INF };

struct kv_capacity {
	char text[64];         /* as the user wrote it */
	enum kv_cap_unit unit;
	double amount;         /* in the unit: blocks, tokens, bytes or percent */
};

/* Parses one capacity. */
int kv_capacity_parse(const char *s, struct kv_capacity *out, struct kv_err *err);

/* Resolves to blocks: block_size tokens per block, kv_bytes_per_token bytes per token,
 * distinct_nodes for percentages. Returns KV_CAPACITY_INF for "inf". Fails when the result is
 * zero blocks (too small to hold one block). */
int kv_capacity_blocks(const struct kv_capacity *c, uint32_t block_size,
		       uint64_t kv_bytes_per_token, uint64_t distinct_nodes, uint64_t *blocks,
		       struct kv_err *err);

#endif
