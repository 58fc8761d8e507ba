/*
 * fuzz_record.c - libFuzzer target: the JSONL record parser (sim/core/record.c), checked
 * differentially against jansson.
 *
 * For every input line both parsers run. jansson (JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL)
 * decides whether the bytes are a *valid record*:
 *   - one JSON object (RFC 8259; jansson's grammar), nothing after it but whitespace;
 *   - every known key, if present, has its schema type:
 *       timestamp                                  any JSON number (integer or real);
 *       input_length output_length chat_id
 *       parent_chat_id turn                        a JSON *integer* (no fraction, no
 *                                                  exponent: 5.0 and 1e2 are reals) in int64;
 *       hash_ids                                   an array of integers in [0, 2^63-1];
 *       type                                       a string of at most 63 bytes, no NUL;
 *   - no known key appears twice at the top level (duplicates of unknown or nested keys are
 *     legal JSON - RFC 8259 says names SHOULD be unique - and the record parser does not
 *     look inside skipped values, so they do not make a record invalid);
 *   - no value is nested deeper than KV_REC_MAX_DEPTH (the record parser's documented
 *     limit; jansson's is 2048).
 * The target asserts: kv_record_parse accepts <=> the input is a valid record, and when it
 * accepts, the set of fields and every value equal jansson's (timestamps compared as
 * doubles: both round correctly, jansson via strtod).
 *
 * Inputs where jansson cannot give an answer are not compared: a number beyond jansson's
 * range (json_error_numeric_overflow: an integer outside int64 or a real beyond DBL_MAX in
 * an *unknown* key is valid JSON the record parser skips, jansson refuses the document) and a
 * \u0000 in an object key (jansson refuses those keys even with JSON_ALLOW_NUL). The record
 * parser must still not crash or leak on them (ASan/UBSan/LSan run on every input).
 * A raw NUL byte is decided without jansson (its reader drops some NULs): never valid.
 */
#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "record.h"

static const struct {
	const char *name;
	unsigned bit;
	char kind; /* n number, i integer, a id array, s string */
} known[] = {
	{"timestamp", KV_F_TIMESTAMP, 'n'},       {"input_length", KV_F_INPUT_LENGTH, 'i'},
	{"output_length", KV_F_OUTPUT_LENGTH, 'i'}, {"hash_ids", KV_F_HASH_IDS, 'a'},
	{"chat_id", KV_F_CHAT_ID, 'i'},           {"parent_chat_id", KV_F_PARENT_CHAT_ID, 'i'},
	{"turn", KV_F_TURN, 'i'},                 {"type", KV_F_TYPE, 's'},
};
#define NKNOWN (sizeof(known) / sizeof(known[0]))

#define DIE(...)                                                                          \
	do {                                                                              \
		fprintf(stderr, "fuzz_record: " __VA_ARGS__);                             \
		fprintf(stderr, "\n  input (%zu bytes): %.*s\n  record parser: %s\n", size, \
			(int)(size < 400 ? size : 400), (const char *)data,                \
			rc ? msg : "accepted");                                           \
		abort();                                                                  \
	} while (0)

/* Deepest nesting below v (v itself at depth d). */
static int max_depth(json_t *v, int d)
{
	int m = d;

	if (json_is_object(v)) {
		const char *k;
		json_t *x;
		json_object_foreach(v, k, x) {
			int e = max_depth(x, d + 1);
			if (e > m)
				m = e;
		}
	} else if (json_is_array(v)) {
		size_t i;
		json_t *x;
		json_array_foreach(v, i, x) {
			int e = max_depth(x, d + 1);
			if (e > m)
				m = e;
		}
	}
	return m;
}

/*
 * The input is known to be valid JSON (jansson parsed it without the duplicate check):
 * counts how often each known key occurs as a member of the top-level object. An
 * independent scanner: strings are tracked with their escapes, keys decoded by jansson.
 */
static int known_key_duplicated(const char *s, size_t n)
{
	int depth = 0, count[NKNOWN] = {0};

	for (size_t i = 0; i < n; i++) {
		char ch = s[i];

		if (ch == '{' || ch == '[') {
			depth++;
		} else if (ch == '}' || ch == ']') {
			depth--;
		} else if (ch == '"') {
			size_t j = i + 1, k;
			while (s[j] != '"')
				j += s[j] == '\\' ? 2 : 1;
			/* a key is a string followed by ':' */
			for (k = j + 1; k < n && strchr(" \t\r\n", s[k]); k++)
				;
			if (depth == 1 && k < n && s[k] == ':') {
				json_t *key = json_loadb(s + i, j + 1 - i, JSON_DECODE_ANY | JSON_ALLOW_NUL,
							 NULL);
				for (size_t f = 0; key && f < NKNOWN; f++)
					if (json_string_length(key) == strlen(known[f].name) &&
					    !memcmp(json_string_value(key), known[f].name,
						    strlen(known[f].name)) &&
					    ++count[f] > 1) {
						json_decref(key);
						return 1;
					}
				json_decref(key);
			}
			i = j;
		}
	}
	return 0;
}

/* Is obj (without duplicate known keys) a valid record? Sets *why. */
static int valid_record(json_t *obj, const char **why)
{
	for (size_t f = 0; f < NKNOWN; f++) {
		json_t *v = json_object_get(obj, known[f].name);
		size_t i;
		json_t *x;

		if (!v)
			continue;
		switch (known[f].kind) {
		case 'n':
			if (!json_is_number(v))
				return *why = "timestamp not a number", 0;
			break;
		case 'i':
			if (!json_is_integer(v))
				return *why = "integer field not a JSON integer", 0;
			break;
		case 'a':
			if (!json_is_array(v))
				return *why = "hash_ids not an array", 0;
			json_array_foreach(v, i, x) {
				if (!json_is_integer(x) || json_integer_value(x) < 0)
					return *why = "hash_ids entry not a non-negative integer", 0;
			}
			break;
		case 's':
			if (!json_is_string(v))
				return *why = "type not a string", 0;
			if (json_string_length(v) > KV_REC_TYPE_MAX)
				return *why = "type too long", 0;
			if (memchr(json_string_value(v), 0, json_string_length(v)))
				return *why = "type has a NUL", 0;
			break;
		}
	}
	if (max_depth(obj, 0) > KV_REC_MAX_DEPTH)
		return *why = "nested too deep", 0;
	return 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct kv_record rec;
	char msg[512];
	json_error_t jerr;
	json_t *obj;
	const char *why = "";
	int rc, valid;

	rec.max_ids = 1u << 20;
	rc = kv_record_parse((const char *)data, (const char *)data + size, &rec, msg,
			     sizeof(msg));
	if (rc == -2)
		DIE("out of memory on a fuzz input");
	if (rc && !msg[0])
		DIE("rejected without a message");

	if (memchr(data, 0, size)) {
		/* a raw NUL byte is never valid JSON (not whitespace, and a control character in
		 * a string), but jansson's reader skips some: decide without it */
		if (!rc)
			DIE("accepted a raw NUL byte");
		return 0;
	}
	obj = json_loadb((const char *)data, size, JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL, &jerr);
	if (!obj && json_error_code(&jerr) == json_error_duplicate_key) {
		/* legal JSON with a repeated name: invalid only if a known top-level key repeats */
		obj = json_loadb((const char *)data, size, JSON_ALLOW_NUL, &jerr);
		if (obj && known_key_duplicated((const char *)data, size)) {
			json_decref(obj);
			if (!rc)
				DIE("accepted a record with a duplicated known key");
			return 0;
		}
	}
	if (!obj) {
		enum json_error_code code = json_error_code(&jerr);

		if (code == json_error_numeric_overflow || code == json_error_null_byte_in_key)
			return 0; /* jansson cannot judge these (see the top of the file) */
		if (!rc)
			DIE("accepted what jansson rejects: %s", jerr.text);
		return 0;
	}
	valid = json_is_object(obj) && valid_record(obj, &why);
	if (!json_is_object(obj))
		why = "not an object";
	if (valid != !rc) {
		json_decref(obj);
		if (valid)
			DIE("rejected a valid record");
		DIE("accepted an invalid record (%s)", why);
	}
	if (valid) {
		unsigned fields = 0;

		for (size_t f = 0; f < NKNOWN; f++) {
			json_t *v = json_object_get(obj, known[f].name);
			if (!v)
				continue;
			fields |= known[f].bit;
			switch (known[f].bit) {
			case KV_F_TIMESTAMP:
				if (json_number_value(v) != rec.timestamp)
					DIE("timestamp %.17g != jansson %.17g", rec.timestamp,
					    json_number_value(v));
				break;
#define INT_FIELD(bit, member)                                                                \
	case bit:                                                                             \
		if (json_integer_value(v) != rec.member)                                      \
			DIE(#member " %lld != jansson %lld", (long long)rec.member,           \
			    (long long)json_integer_value(v));                                \
		break;
				INT_FIELD(KV_F_INPUT_LENGTH, input_length)
				INT_FIELD(KV_F_OUTPUT_LENGTH, output_length)
				INT_FIELD(KV_F_CHAT_ID, chat_id)
				INT_FIELD(KV_F_PARENT_CHAT_ID, parent_chat_id)
				INT_FIELD(KV_F_TURN, turn)
			case KV_F_HASH_IDS:
				if (json_array_size(v) != rec.nids)
					DIE("%zu hash ids != jansson %zu", rec.nids, json_array_size(v));
				for (size_t i = 0; i < rec.nids; i++)
					if ((uint64_t)json_integer_value(json_array_get(v, i)) != rec.ids[i])
						DIE("hash id %zu differs", i);
				break;
			case KV_F_TYPE:
				if (strlen(rec.type) != json_string_length(v) ||
				    strcmp(rec.type, json_string_value(v)))
					DIE("type '%s' != jansson '%s'", rec.type, json_string_value(v));
				break;
			}
		}
		if (fields != rec.fields)
			DIE("fields 0x%x != jansson 0x%x", rec.fields, fields);
	}
	json_decref(obj);
	return 0;
}
