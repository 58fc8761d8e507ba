/* report.c - CSV and JSON writers for cache-mode results (see report.h). */
#include "report.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "capacity.h"

const char *fmt_count(uint64_t v, char *buf, size_t len)
{
	char tmp[32];
	int n = snprintf(tmp, sizeof(tmp), "%" PRIu64, v), o = 0;

	for (int i = 0; i < n && (size_t)o + 2 < len; i++) {
		if (i && (n - i) % 3 == 0)
			buf[o++] = ',';
		buf[o++] = tmp[i];
	}
	buf[o] = 0;
	return buf;
}

const char *fmt_bytes(double b, char *buf, size_t len)
{
	static const char *u[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB"};
	int i = 0;

	while (b >= 1024 && i < 5)
		b /= 1024, i++;
	snprintf(buf, len, i ? "%.1f %s" : "%.0f %s", b, u[i]);
	return buf;
}

void csv_str(FILE *f, const char *s)
{
	if (!strpbrk(s, ",\"\n\r")) {
		fputs(s, f);
		return;
	}
	fputc('"', f);
	for (; *s; s++) {
		if (*s == '"')
			fputc('"', f);
		fputc(*s, f);
	}
	fputc('"', f);
}

/* capacity_blocks x block_size x KV bytes per token: up to 10^18 blocks x 2^20 tokens x
 * 2^32 bytes, beyond 2^64, so in 128 bits. */
static unsigned __int128 capacity_bytes(const struct report_row *r)
{
	return (unsigned __int128)r->capacity_blocks * r->block_size * r->kv_bytes_per_token;
}

/* Writes v in decimal. */
static void put_u128(FILE *f, unsigned __int128 v)
{
	char buf[48];
	int i = (int)sizeof(buf);

	buf[--i] = 0;
	do {
		buf[--i] = (char)('0' + (int)(v % 10));
		v /= 10;
	} while (v);
	fputs(buf + i, f);
}

void report_csv_row(FILE *f, const struct report_row *r)
{
	const struct kv_cache_stats *s = &r->st;
	int inf = r->capacity_blocks == KV_CAPACITY_INF;

	csv_str(f, r->trace);
	fputc(',', f);
	csv_str(f, r->policy);
	fputc(',', f);
	csv_str(f, r->capacity);
	fputc(',', f);
	if (!inf)
		fprintf(f, "%" PRIu64, r->capacity_blocks);
	fprintf(f, ",%" PRIu64 ",%" PRIu64 ",%" PRIu64 ",%.6f,%" PRIu64 ",%" PRIu64
		   ",%.6f,%" PRIu64 ",%" PRIu64 ",%s,%u,%" PRIu64 ",",
		s->requests, s->blocks, s->hit_blocks, report_ratio(s->hit_blocks, s->blocks),
		s->tokens, s->hit_tokens, report_ratio(s->hit_tokens, s->tokens), s->evictions,
		s->inserts, cache_hit_rule_name(r->hit_rule), r->block_size,
		r->kv_bytes_per_token);
	if (!inf)
		put_u128(f, capacity_bytes(r));
	fputc('\n', f);
}

json_t *report_json_row(const struct report_row *r)
{
	const struct kv_cache_stats *s = &r->st;
	int inf = r->capacity_blocks == KV_CAPACITY_INF;
	unsigned __int128 bytes = inf ? 0 : capacity_bytes(r);
	/* a JSON integer is 64-bit signed in jansson: larger byte counts as a real */
	json_t *bytes_json = inf ? json_null()
			   : bytes <= (unsigned __int128)INT64_MAX
				   ? json_integer((json_int_t)bytes)
				   : json_real((double)bytes);

	return json_pack(
		"{s:s, s:s, s:s, s:o, s:I, s:I, s:I, s:f, s:I, s:I, s:f, s:I, s:I, s:s, s:i, s:I, "
		"s:o}",
		"trace", r->trace, "policy", r->policy, "capacity", r->capacity,
		"capacity_blocks", inf ? json_null() : json_integer((json_int_t)r->capacity_blocks),
		"requests", (json_int_t)s->requests, "blocks", (json_int_t)s->blocks,
		"hit_blocks", (json_int_t)s->hit_blocks, "block_hit_ratio",
		report_ratio(s->hit_blocks, s->blocks), "tokens", (json_int_t)s->tokens,
		"hit_tokens", (json_int_t)s->hit_tokens, "token_hit_ratio",
		report_ratio(s->hit_tokens, s->tokens), "evictions", (json_int_t)s->evictions,
		"inserts", (json_int_t)s->inserts, "hit_rule", cache_hit_rule_name(r->hit_rule),
		"block_size", (int)r->block_size, "kv_bytes_per_token",
		(json_int_t)r->kv_bytes_per_token, "capacity_bytes",
		bytes_json);
}

json_t *report_json_trace(const struct kv_trace *t, const struct kv_ceiling *c)
{
	json_t *skipped = json_object();
	char sum[32];

	for (int i = 0; i < t->skipped.nreasons; i++)
		json_object_set_new(skipped, t->skipped.r[i].reason,
				    json_integer((json_int_t)t->skipped.r[i].count));
	snprintf(sum, sizeof(sum), "%016" PRIx64, trace_checksum(t));
	return json_pack(
		"{s:s, s:s, s:i, s:I, s:I, s:I, s:I, s:I, s:f, s:s, s:I, s:o, s:{s:I, s:I, s:f, s:I, "
		"s:I, s:f}}",
		"path", t->path, "format", trace_format_name(t->format), "block_size",
		(int)t->block_size, "source_bytes", (json_int_t)t->source_bytes, "requests",
		(json_int_t)t->nreq, "blocks", (json_int_t)t->nblk, "distinct_nodes",
		(json_int_t)t->nnodes, "input_tokens", (json_int_t)t->input_tokens, "span_s",
		t->nreq ? t->req[t->nreq - 1].ts_s - t->req[0].ts_s : 0.0, "checksum", sum,
		"skipped_records", (json_int_t)t->skipped.total, "skipped_by_reason", skipped,
		"ceiling", "hit_blocks", (json_int_t)c->hit_blocks, "blocks", (json_int_t)c->blocks,
		"block_hit_ratio", report_ratio(c->hit_blocks, c->blocks), "hit_tokens",
		(json_int_t)c->hit_tokens, "tokens", (json_int_t)c->tokens, "token_hit_ratio",
		report_ratio(c->hit_tokens, c->tokens));
}
