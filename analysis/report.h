/*
 * report.h - the cache-mode output contract: CSV rows, summary.json, and the text table.
 *
 * The first CSV columns are fixed (later tools parse them):
 *   trace,policy,capacity,capacity_blocks,requests,blocks,hit_blocks,block_hit_ratio,
 *   tokens,hit_tokens,token_hit_ratio,evictions
 * then: inserts,hit_rule,block_size,kv_bytes_per_token,capacity_bytes.
 * capacity_blocks and capacity_bytes are empty for an infinite capacity. Ratios have 6
 * decimals.
 */
#ifndef KV_REPORT_H
#define KV_REPORT_H

#include <stdint.h>
#include <stdio.h>

#include <jansson.h>

#include "cache.h"
#include "trace.h"

#define REPORT_CSV_HEADER                                                                \
	"trace,policy,capacity,capacity_blocks,requests,blocks,hit_blocks,block_hit_ratio," \
	"tokens,hit_tokens,token_hit_ratio,evictions,inserts,hit_rule,block_size,"          \
	"kv_bytes_per_token,capacity_bytes"

struct report_row {
	const char *trace;
	const char *policy;
	const char *capacity;         /* as given */
	uint64_t capacity_blocks;     /* KV_CAPACITY_INF for inf */
	struct kv_cache_stats st;
	enum kv_hit_rule hit_rule;
	uint32_t block_size;
	uint64_t kv_bytes_per_token;
};

static inline double report_ratio(uint64_t num, uint64_t den)
{
	return den ? (double)num / (double)den : 0.0;
}

void report_csv_row(FILE *f, const struct report_row *r);

/* Writes one CSV field, quoted (RFC 4180) when it holds a comma, quote or line break. */
void csv_str(FILE *f, const char *s);

/* The row as a JSON object with the CSV's keys. */
json_t *report_json_row(const struct report_row *r);

/* The trace's description for summary.json. */
json_t *report_json_trace(const struct kv_trace *t, const struct kv_ceiling *ceil);

/* "1,234,567" into buf. */
const char *fmt_count(uint64_t v, char *buf, size_t len);
/* "64.0 GiB" into buf. */
const char *fmt_bytes(double bytes, char *buf, size_t len);

#endif
