/*
 * record.h - the purpose-built parser for one JSONL trace record.
 *
 * The hot path of trace loading: it reads one line's JSON object straight into a struct
 * kv_record with no allocation per record (hash ids go into a caller-owned growable array).
 * It accepts exactly the JSON grammar (RFC 8259): any key order, whitespace, string escapes
 * and UTF-8 are checked, and unknown keys are skipped with a validating skipper, so that
 * whatever it accepts is valid JSON. It is fuzzed differentially against jansson
 * (tests/fuzz/). Semantic checks (required fields, ranges, block counts) are the loader's.
 */
#ifndef KV_RECORD_H
#define KV_RECORD_H

#include <stddef.h>
#include <stdint.h>

enum kv_rec_field {
	KV_F_TIMESTAMP = 1 << 0,
	KV_F_INPUT_LENGTH = 1 << 1,
	KV_F_OUTPUT_LENGTH = 1 << 2,
	KV_F_HASH_IDS = 1 << 3,
	KV_F_CHAT_ID = 1 << 4,
	KV_F_PARENT_CHAT_ID = 1 << 5,
	KV_F_TURN = 1 << 6,
	KV_F_TYPE = 1 << 7,
};

#define KV_REC_TYPE_MAX 63
#define KV_REC_MAX_DEPTH 64 /* nesting of skipped values */

struct kv_record {
	unsigned fields;        /* enum kv_rec_field bits present */
	double timestamp;
	int64_t input_length, output_length, chat_id, parent_chat_id, turn;
	uint64_t *ids;          /* hash_ids; grown by the parser with realloc */
	size_t nids, ids_cap;
	int fixed_ids;          /* ids is a buffer of ids_cap entries not to be grown: a record
				 * with more makes the parse return -3 */
	size_t max_ids;         /* more entries is an error */
	char type[KV_REC_TYPE_MAX + 1];
};

/* Parses one record from [p, end). Returns 0, or -1 with a message in msg (no file/line:
 * the caller adds them), -2 on out of memory, -3 when rec->fixed_ids and the record has
 * more ids than the buffer holds. */
int kv_record_parse(const char *p, const char *end, struct kv_record *rec, char *msg,
		    size_t msglen);

#endif
