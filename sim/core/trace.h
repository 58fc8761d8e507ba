/*
 * trace.h - the in-memory trace every command works on.
 *
 * Readers (JSONL of the Bailian or Mooncake schema, plain or gzip, or the binary .kvt cache)
 * produce one struct kv_trace: a request array in arrival order (timestamp, then file order)
 * and one contiguous array of block accesses, already interned into chain nodes
 * (DESIGN.md section 3): node n stands for the whole prefix ending in its block, so two
 * requests share node n iff they share every block up to and including it. Nothing
 * downstream reads JSON again.
 *
 * Memory: 4 bytes per block access (node[]), 12 bytes per distinct node (parent, raw hash
 * id), 64 bytes per request; 4 more bytes per node once a user asks for the depths.
 */
#ifndef KV_TRACE_H
#define KV_TRACE_H

#include <stddef.h>
#include <stdint.h>

#include "error.h"

#define KV_NO_NODE UINT32_MAX /* parent of a first block; "no node" */
#define KV_NO_ROW (-1)

/* Limits, also listed by --help. */
#define KV_MAX_LINE_BYTES (256u << 20)      /* one JSONL record */
#define KV_MAX_BLOCKS_PER_REQUEST (1u << 24) /* hash_ids entries in one record */
#define KV_MAX_REQUESTS ((size_t)INT32_MAX)  /* records in one trace */
#define KV_MAX_NODES (UINT32_MAX - 1)        /* distinct chain nodes */
#define KV_MAX_TYPES 250                     /* distinct "type" strings */
#define KV_MAX_TYPE_NAME 63

enum kv_trace_format { KV_FMT_AUTO = 0, KV_FMT_BAILIAN, KV_FMT_MOONCAKE, KV_FMT_KVT };

struct kv_request {
	double ts_s;              /* arrival, seconds (Mooncake ms are converted) */
	int64_t chat_id;          /* Bailian chat_id; the row number when the format has none */
	int64_t parent_chat_id;   /* -1 for a root or when the format has none */
	uint64_t blk_off;         /* first block access in trace->node[] */
	uint32_t nblocks;         /* = ceil(input_tokens / block_size) */
	uint32_t input_tokens;
	uint32_t output_tokens;
	int32_t turn;             /* Bailian turn (1 = first); 0 when absent */
	int32_t parent_row;       /* row of the parent request, KV_NO_ROW if root or missing */
	uint32_t line;            /* 1-based line in the source file (0 for .kvt) */
	uint16_t type;            /* index into trace->type_names */
	uint16_t reserved;
};

/* Counts of records skipped by --lenient, by reason. */
struct kv_skip_stats {
	uint64_t total;
	int nreasons;
	struct {
		char reason[160]; /* the message without " (at byte N)"; "other reasons" in r[15] */
		uint64_t count;
		uint64_t first_line;
	} r[16];
};

struct kv_trace {
	char *path;                   /* as given ("-" for stdin) */
	enum kv_trace_format format;  /* of the source: bailian or mooncake (kvt keeps it) */
	uint32_t block_size;          /* tokens per block */
	uint64_t source_bytes;        /* bytes read from the source (uncompressed) */

	struct kv_request *req;       /* nreq requests in arrival order */
	size_t nreq;

	uint32_t *node;               /* nblk block accesses: chain node of each */
	uint64_t nblk;
	uint64_t input_tokens;        /* sum of input_tokens */

	uint32_t nnodes;              /* distinct chain nodes, numbered 0..nnodes-1 in */
	uint32_t *node_parent;        /*   first-appearance order; parent or KV_NO_NODE */
	uint32_t *node_depth;         /* 0 for a first block; NULL until trace_node_depth() */
	uint64_t *node_hash;          /* the raw hash id of the node's own block */

	int ntypes;                   /* type_names[0] is "" (no type) */
	char type_names[KV_MAX_TYPES][KV_MAX_TYPE_NAME + 1];

	struct kv_skip_stats skipped; /* --lenient */
};

struct kv_load_opts {
	enum kv_trace_format format;  /* KV_FMT_AUTO detects from the first record */
	uint32_t block_size;          /* 0: the format's default (bailian 16, mooncake 512) */
	int lenient;                  /* skip bad records and count them instead of failing */
	int sort;                     /* accept timestamps going backwards; stable-sort by time */
	int threads;                  /* 0: two threads but for a small file; 1: one; 2: two */
};

/* Loads a trace from a JSONL file (plain or gzip), "-" for stdin, or a .kvt file.
 * On bad input returns KV_EINPUT with "FILE:LINE: what is wrong" in err. */
int trace_load(const char *path, const struct kv_load_opts *opts, struct kv_trace **out,
	       struct kv_err *err);

void trace_free(struct kv_trace *t);

/* The block accesses of request r. */
static inline const uint32_t *trace_req_nodes(const struct kv_trace *t, size_t r)
{
	return t->node + t->req[r].blk_off;
}

/* Tokens of the first `hits` blocks of a request: B each, the partial last block counting
 * input_tokens - B*(n-1). */
static inline uint64_t trace_hit_tokens(const struct kv_trace *t, const struct kv_request *r,
					uint32_t hits)
{
	uint64_t tok = (uint64_t)hits * t->block_size;
	return tok < r->input_tokens ? tok : r->input_tokens;
}

/* The infinite-cache ceiling of a trace, as cache_ceiling() (cache.h) counts it. */
struct kv_ceiling {
	uint64_t hit_blocks, blocks, hit_tokens, tokens;
};

/* Depth of every node (0 for a first block), computed on first use from node_parent (a
 * parent is numbered before its children) and kept in the trace. Safe to call from several
 * threads at once. NULL when out of memory. O(nodes) once, then O(1). */
const uint32_t *trace_node_depth(const struct kv_trace *t);

/* Name of a format ("bailian", "mooncake", "kvt"). */
const char *trace_format_name(enum kv_trace_format f);
int trace_format_parse(const char *s, enum kv_trace_format *out);

/* 64-bit content checksum of the parsed trace (requests and chain), stable across the JSONL
 * and .kvt forms of the same trace. O(size). */
uint64_t trace_checksum(const struct kv_trace *t);

#endif
