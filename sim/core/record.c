/*
 * record.c - one JSONL trace record -> struct kv_record (see record.h).
 *
 * A small recursive-descent parser over a byte range. Numbers: integers are read digit by
 * digit with overflow checks; the timestamp uses the exact fast path (mantissa < 2^53 and
 * a power of ten <= 1e22 divide to the correctly rounded double) and strtod otherwise, so it
 * returns the same double as any correctly rounding parser (jansson uses strtod).
 */
#include "record.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct cur {
	const char *p, *end, *start;
	char *msg;
	size_t msglen;
	int oom;  /* 1: out of memory; 2: a fixed ids buffer is full */
};

static int fail(struct cur *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int fail(struct cur *c, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (!c->msg[0]) {
		va_start(ap, fmt);
		n = vsnprintf(c->msg, c->msglen, fmt, ap);
		va_end(ap);
		if (n >= 0 && (size_t)n < c->msglen)
			snprintf(c->msg + n, c->msglen - (size_t)n, " (at byte %zu)",
				 (size_t)(c->p - c->start) + 1);
	}
	return -1;
}

static inline void skip_ws(struct cur *c)
{
	while (c->p < c->end && (*c->p == ' ' || *c->p == '\t' || *c->p == '\n' || *c->p == '\r'))
		c->p++;
}

static const char *describe(struct cur *c)
{
	if (c->p >= c->end)
		return "end of line";
	switch (*c->p) {
	case '\0':
		return "a NUL byte";
	case '"':
		return "a string";
	case '[':
		return "an array";
	case '{':
		return "an object";
	case 't':
	case 'f':
		return "a boolean";
	case 'n':
		return "null";
	default:
		return "an unexpected character";
	}
}

/* Length of a valid UTF-8 sequence starting at p (lead byte >= 0x80), or 0. */
static int utf8_len(const unsigned char *p, const unsigned char *end)
{
	unsigned c = p[0];
	int n;
	unsigned min;
	uint32_t cp;

	if (c >= 0xc2 && c <= 0xdf)
		n = 2, cp = c & 0x1f, min = 0x80;
	else if (c >= 0xe0 && c <= 0xef)
		n = 3, cp = c & 0x0f, min = 0x800;
	else if (c >= 0xf0 && c <= 0xf4)
		n = 4, cp = c & 0x07, min = 0x10000;
	else
		return 0;
	if (end - p < n)
		return 0;
	for (int i = 1; i < n; i++) {
		if ((p[i] & 0xc0) != 0x80)
			return 0;
		cp = (cp << 6) | (p[i] & 0x3f);
	}
	if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return n;
}

static int hexval(char ch)
{
	if (ch >= '0' && ch <= '9')
		return ch - '0';
	if (ch >= 'a' && ch <= 'f')
		return ch - 'a' + 10;
	if (ch >= 'A' && ch <= 'F')
		return ch - 'A' + 10;
	return -1;
}

static int read_hex4(struct cur *c, uint32_t *out)
{
	uint32_t v = 0;

	if (c->end - c->p < 4)
		return fail(c, "truncated \\u escape");
	for (int i = 0; i < 4; i++) {
		int h = hexval(c->p[i]);
		if (h < 0)
			return fail(c, "bad \\u escape");
		v = v << 4 | (uint32_t)h;
	}
	c->p += 4;
	*out = v;
	return 0;
}

static size_t put_utf8(char *o, uint32_t cp)
{
	if (cp < 0x80) {
		o[0] = (char)cp;
		return 1;
	}
	if (cp < 0x800) {
		o[0] = (char)(0xc0 | cp >> 6);
		o[1] = (char)(0x80 | (cp & 0x3f));
		return 2;
	}
	if (cp < 0x10000) {
		o[0] = (char)(0xe0 | cp >> 12);
		o[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
		o[2] = (char)(0x80 | (cp & 0x3f));
		return 3;
	}
	o[0] = (char)(0xf0 | cp >> 18);
	o[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
	o[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
	o[3] = (char)(0x80 | (cp & 0x3f));
	return 4;
}

/*
 * Parses a string at c->p (which is '"'). Decoded bytes go to out (up to cap-1 bytes, NUL
 * terminated, *len set; *too_long set when it did not fit); out may be NULL to validate only.
 * A decoded NUL (\u0000) sets *has_nul.
 */
static int parse_string(struct cur *c, char *out, size_t cap, size_t *len, int *too_long,
			int *has_nul)
{
	size_t n = 0;

	c->p++; /* opening quote */
	for (;;) {
		const unsigned char *u;
		char tmp[4];
		size_t k = 0;
		const char *s = c->p;

		/* a run of plain ASCII (no quote, backslash or control char): one copy */
		while (s < c->end && (unsigned char)*s >= 0x20 && (unsigned char)*s < 0x80 &&
		       *s != '"' && *s != '\\')
			s++;
		if (s > c->p) {
			size_t run = (size_t)(s - c->p), fit = 0;

			if (out) {
				fit = n + 1 < cap ? cap - 1 - n : 0; /* as byte by byte below */
				if (fit > run)
					fit = run;
				memcpy(out + n, c->p, fit);
				n += fit;
				if (fit < run && too_long)
					*too_long = 1;
			}
			c->p = s;
		}
		if (c->p >= c->end)
			return fail(c, "unterminated string");
		u = (const unsigned char *)c->p;
		if (*u == '"') {
			c->p++;
			break;
		}
		if (*u < 0x20)
			return fail(c, "control character 0x%02x in a string", *u);
		if (*u == '\\') {
			uint32_t cp;

			if (c->end - c->p < 2)
				return fail(c, "unterminated string");
			c->p++;
			switch (*c->p++) {
			case '"': tmp[k++] = '"'; break;
			case '\\': tmp[k++] = '\\'; break;
			case '/': tmp[k++] = '/'; break;
			case 'b': tmp[k++] = '\b'; break;
			case 'f': tmp[k++] = '\f'; break;
			case 'n': tmp[k++] = '\n'; break;
			case 'r': tmp[k++] = '\r'; break;
			case 't': tmp[k++] = '\t'; break;
			case 'u':
				if (read_hex4(c, &cp))
					return -1;
				if (cp >= 0xd800 && cp <= 0xdbff) {
					uint32_t lo;

					if (c->end - c->p < 2 || c->p[0] != '\\' || c->p[1] != 'u')
						return fail(c, "unpaired UTF-16 surrogate in \\u escape");
					c->p += 2;
					if (read_hex4(c, &lo))
						return -1;
					if (lo < 0xdc00 || lo > 0xdfff)
						return fail(c, "unpaired UTF-16 surrogate in \\u escape");
					cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
				} else if (cp >= 0xdc00 && cp <= 0xdfff) {
					return fail(c, "unpaired UTF-16 surrogate in \\u escape");
				}
				if (cp == 0 && has_nul)
					*has_nul = 1;
				k = put_utf8(tmp, cp);
				break;
			default:
				c->p--;
				return fail(c, "bad escape '\\%c' in a string", *c->p);
			}
		} else if (*u < 0x80) {
			tmp[k++] = (char)*u;
			c->p++;
		} else {
			int m = utf8_len(u, (const unsigned char *)c->end);
			if (!m)
				return fail(c, "invalid UTF-8 in a string");
			memcpy(tmp, u, (size_t)m);
			k = (size_t)m;
			c->p += m;
		}
		if (out) {
			if (n + k < cap) {
				memcpy(out + n, tmp, k);
				n += k;
			} else if (too_long) {
				*too_long = 1;
			}
		}
	}
	if (out) {
		out[n < cap ? n : cap - 1] = 0;
		if (len)
			*len = n;
	}
	return 0;
}

/* Validates a JSON number at c->p and sets is_int (no fraction, no exponent). */
static int scan_number(struct cur *c, int *is_int)
{
	const char *p = c->p;

	*is_int = 1;
	if (p < c->end && *p == '-')
		p++;
	if (p >= c->end || *p < '0' || *p > '9')
		return fail(c, "expected a number, found %s", describe(c));
	if (*p == '0') {
		p++;
		if (p < c->end && *p >= '0' && *p <= '9')
			return fail(c, "leading zero in a number");
	} else {
		while (p < c->end && *p >= '0' && *p <= '9')
			p++;
	}
	if (p < c->end && *p == '.') {
		*is_int = 0;
		p++;
		if (p >= c->end || *p < '0' || *p > '9')
			return fail(c, "digit expected after '.'");
		while (p < c->end && *p >= '0' && *p <= '9')
			p++;
	}
	if (p < c->end && (*p == 'e' || *p == 'E')) {
		*is_int = 0;
		p++;
		if (p < c->end && (*p == '+' || *p == '-'))
			p++;
		if (p >= c->end || *p < '0' || *p > '9')
			return fail(c, "digit expected in exponent");
		while (p < c->end && *p >= '0' && *p <= '9')
			p++;
	}
	c->p = p;
	return 0;
}

/* Validating skip of any JSON value. */
static int skip_value(struct cur *c, int depth)
{
	int is_int;

	if (depth > KV_REC_MAX_DEPTH)
		return fail(c, "values nested deeper than %d", KV_REC_MAX_DEPTH);
	if (c->p >= c->end)
		return fail(c, "value expected, found end of line");
	switch (*c->p) {
	case '"':
		return parse_string(c, NULL, 0, NULL, NULL, NULL);
	case '{':
		c->p++;
		skip_ws(c);
		if (c->p < c->end && *c->p == '}') {
			c->p++;
			return 0;
		}
		for (;;) {
			skip_ws(c);
			if (c->p >= c->end || *c->p != '"')
				return fail(c, "object key expected, found %s", describe(c));
			if (parse_string(c, NULL, 0, NULL, NULL, NULL))
				return -1;
			skip_ws(c);
			if (c->p >= c->end || *c->p != ':')
				return fail(c, "':' expected");
			c->p++;
			skip_ws(c);
			if (skip_value(c, depth + 1))
				return -1;
			skip_ws(c);
			if (c->p < c->end && *c->p == ',') {
				c->p++;
				continue;
			}
			if (c->p < c->end && *c->p == '}') {
				c->p++;
				return 0;
			}
			return fail(c, "',' or '}' expected, found %s", describe(c));
		}
	case '[':
		c->p++;
		skip_ws(c);
		if (c->p < c->end && *c->p == ']') {
			c->p++;
			return 0;
		}
		for (;;) {
			skip_ws(c);
			if (skip_value(c, depth + 1))
				return -1;
			skip_ws(c);
			if (c->p < c->end && *c->p == ',') {
				c->p++;
				continue;
			}
			if (c->p < c->end && *c->p == ']') {
				c->p++;
				return 0;
			}
			return fail(c, "',' or ']' expected, found %s", describe(c));
		}
	case 't':
		if (c->end - c->p >= 4 && !memcmp(c->p, "true", 4)) {
			c->p += 4;
			return 0;
		}
		break;
	case 'f':
		if (c->end - c->p >= 5 && !memcmp(c->p, "false", 5)) {
			c->p += 5;
			return 0;
		}
		break;
	case 'n':
		if (c->end - c->p >= 4 && !memcmp(c->p, "null", 4)) {
			c->p += 4;
			return 0;
		}
		break;
	default:
		if (*c->p == '-' || (*c->p >= '0' && *c->p <= '9'))
			return scan_number(c, &is_int);
	}
	return fail(c, "invalid value (%s)", describe(c));
}

/* An integer field: a JSON number with no fraction or exponent that fits in int64. */
static int parse_int(struct cur *c, const char *key, int64_t *out)
{
	const char *start = c->p;
	int neg = 0, is_int;
	uint64_t v = 0;

	if (c->p >= c->end || (*c->p != '-' && (*c->p < '0' || *c->p > '9')))
		return fail(c, "\"%s\" must be an integer, found %s", key, describe(c));
	if (scan_number(c, &is_int))
		return -1;
	if (!is_int) {
		c->p = start;
		return fail(c, "\"%s\" must be an integer", key);
	}
	if (*start == '-')
		neg = 1, start++;
	for (const char *p = start; p < c->p; p++) {
		unsigned d = (unsigned)(*p - '0');
		if (v > (UINT64_MAX - d) / 10)
			goto range;
		v = v * 10 + d;
	}
	if (neg ? v > (uint64_t)INT64_MAX + 1 : v > (uint64_t)INT64_MAX)
		goto range;
	*out = neg ? (int64_t)(0 - v) : (int64_t)v;
	return 0;
range:
	c->p = start;
	return fail(c, "\"%s\" is out of the 64-bit integer range", key);
}

static const double pow10_exact[] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,
				     1e8,  1e9,  1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
				     1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};

static int parse_double(struct cur *c, const char *key, double *out)
{
	const char *start = c->p, *p;
	uint64_t m = 0;
	int digits = 0, frac = 0, neg = 0, is_int;
	char buf[128], *num;
	size_t n;

	if (c->p >= c->end || (*c->p != '-' && (*c->p < '0' || *c->p > '9')))
		return fail(c, "\"%s\" must be a number, found %s", key, describe(c));
	if (scan_number(c, &is_int))
		return -1;
	p = start;
	if (*p == '-')
		neg = 1, p++;
	for (; p < c->p && *p >= '0' && *p <= '9'; p++, digits++)
		m = m * 10 + (uint64_t)(*p - '0');
	if (p < c->p && *p == '.')
		for (p++; p < c->p && *p >= '0' && *p <= '9'; p++, digits++, frac++)
			m = m * 10 + (uint64_t)(*p - '0');
	if (p == c->p && digits <= 15 && frac <= 22) {
		/* Clinger's fast path: m and 10^frac are exact doubles, one rounding. */
		double x = (double)m / pow10_exact[frac];
		*out = neg ? -x : x;
		return 0;
	}
	n = (size_t)(c->p - start);
	/* strtod needs a terminated copy; a number longer than buf (valid JSON) gets a heap one */
	num = n < sizeof(buf) ? buf : malloc(n + 1);
	if (!num) {
		c->oom = 1;
		return fail(c, "out of memory");
	}
	memcpy(num, start, n);
	num[n] = 0;
	errno = 0;
	*out = strtod(num, NULL);
	if (num != buf)
		free(num);
	if (!isfinite(*out)) {
		c->p = start;
		return fail(c, "\"%s\" is out of range", key);
	}
	return 0;
}

static int parse_ids(struct cur *c, struct kv_record *rec)
{
	const char *p, *end = c->end;

	if (c->p >= c->end || *c->p != '[')
		return fail(c, "\"hash_ids\" must be an array of integers, found %s", describe(c));
	c->p++;
	rec->nids = 0;
	skip_ws(c);
	if (c->p < end && *c->p == ']') {
		c->p++;
		return 0;
	}
	p = c->p;
	for (;;) {
		uint64_t v;
		const char *d;

		while (p < end && (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n'))
			p++;
		d = p;
		if (p >= end || *p < '0' || *p > '9') {
			if (end - p >= 2 && p[0] == '-' && p[1] == '0') {
				d = ++p; /* "-0" is the integer 0 (off the hot path) */
			} else {
				c->p = p;
				if (p < end && *p == '-')
					return fail(c, "\"hash_ids\" entries must be non-negative "
						    "integers");
				return fail(c, "\"hash_ids\" entries must be integers, found %s",
					    describe(c));
			}
		}
		v = (uint64_t)(*p++ - '0');
		if (v == 0 && p < end && *p >= '0' && *p <= '9') {
			c->p = p;
			return fail(c, "leading zero in a number");
		}
		while (p < end && *p >= '0' && *p <= '9') {
			if (p - d >= 19) { /* a 20th digit: beyond 2^64 */
				c->p = d;
				return fail(c, "a \"hash_ids\" entry is out of the 64-bit range");
			}
			v = v * 10 + (uint64_t)(*p++ - '0');
		}
		if (v > (uint64_t)INT64_MAX) {
			c->p = d;
			return fail(c, "a \"hash_ids\" entry is out of the 64-bit range");
		}
		if (p < end && (*p == '.' || *p == 'e' || *p == 'E')) {
			c->p = d;
			return fail(c, "\"hash_ids\" entries must be integers");
		}
		if (rec->nids == rec->ids_cap) {
			size_t cap = rec->ids_cap ? rec->ids_cap * 2 : 1024;
			uint64_t *ids;

			if (rec->nids >= rec->max_ids) {
				c->p = d;
				return fail(c, "\"hash_ids\" has more than %zu entries", rec->max_ids);
			}
			if (rec->fixed_ids) {
				c->oom = 2;
				return fail(c, "no room for more hash ids");
			}
			ids = realloc(rec->ids, cap * sizeof(*ids));
			if (!ids) {
				c->oom = 1;
				return fail(c, "out of memory");
			}
			rec->ids = ids;
			rec->ids_cap = cap;
		}
		rec->ids[rec->nids++] = v;
		while (p < end && (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n'))
			p++;
		if (p < end && *p == ',') {
			p++;
			continue;
		}
		if (p < end && *p == ']') {
			c->p = p + 1;
			if (rec->nids > rec->max_ids)
				return fail(c, "\"hash_ids\" has more than %zu entries", rec->max_ids);
			return 0;
		}
		c->p = p;
		return fail(c, "',' or ']' expected in \"hash_ids\", found %s", describe(c));
	}
}

/* The field of the key k[0..n) (decoded), or 0 for a key kvsim does not read. Each
 * comparison has a constant length, which the compiler turns into a few loads. */
static unsigned key_field(const char *k, size_t n, const char **name)
{
#define KEY(s, f)                                                                          \
	if (n == sizeof(s) - 1 && !memcmp(k, s, sizeof(s) - 1)) {                          \
		*name = s;                                                                 \
		return f;                                                                  \
	}
	KEY("hash_ids", KV_F_HASH_IDS)
	KEY("timestamp", KV_F_TIMESTAMP)
	KEY("input_length", KV_F_INPUT_LENGTH)
	KEY("output_length", KV_F_OUTPUT_LENGTH)
	KEY("chat_id", KV_F_CHAT_ID)
	KEY("parent_chat_id", KV_F_PARENT_CHAT_ID)
	KEY("turn", KV_F_TURN)
	KEY("type", KV_F_TYPE)
#undef KEY
	return 0;
}

static int parse_member(struct cur *c, struct kv_record *rec)
{
	const char *kname = NULL, *kstart = c->p, *q = c->p + 1;
	unsigned field = 0;

	/* A key of plain ASCII (no escape, control or non-ASCII byte: every key of a real
	 * trace) is matched where it lies; any other goes through parse_string, decoded. */
	while (q < c->end && *q != '"' && *q != '\\' && (unsigned char)*q >= 0x20 &&
	       (unsigned char)*q < 0x80)
		q++;
	if (q < c->end && *q == '"') {
		field = key_field(c->p + 1, (size_t)(q - c->p - 1), &kname);
		c->p = q + 1;
	} else {
		char key[32];
		size_t klen = 0;
		int too_long = 0, has_nul = 0;

		if (parse_string(c, key, sizeof(key), &klen, &too_long, &has_nul))
			return -1;
		if (!too_long && !has_nul)
			field = key_field(key, klen, &kname);
	}
	skip_ws(c);
	if (c->p >= c->end || *c->p != ':')
		return fail(c, "':' expected after a key");
	c->p++;
	skip_ws(c);
	if (!field)
		return skip_value(c, 1);
	if (rec->fields & field) {
		c->p = kstart;
		return fail(c, "duplicate key \"%s\"", kname);
	}
	rec->fields |= field;
	switch (field) {
	case KV_F_TIMESTAMP:
		return parse_double(c, kname, &rec->timestamp);
	case KV_F_INPUT_LENGTH:
		return parse_int(c, kname, &rec->input_length);
	case KV_F_OUTPUT_LENGTH:
		return parse_int(c, kname, &rec->output_length);
	case KV_F_CHAT_ID:
		return parse_int(c, kname, &rec->chat_id);
	case KV_F_PARENT_CHAT_ID:
		return parse_int(c, kname, &rec->parent_chat_id);
	case KV_F_TURN:
		return parse_int(c, kname, &rec->turn);
	case KV_F_HASH_IDS:
		return parse_ids(c, rec);
	case KV_F_TYPE: {
		int too_long = 0, has_nul = 0;

		if (c->p >= c->end || *c->p != '"')
			return fail(c, "\"type\" must be a string, found %s", describe(c));
		if (parse_string(c, rec->type, sizeof(rec->type), NULL, &too_long, &has_nul))
			return -1;
		if (too_long)
			return fail(c, "\"type\" is longer than %d bytes", KV_REC_TYPE_MAX);
		if (has_nul)
			return fail(c, "\"type\" contains a NUL character");
		return 0;
	}
	}
	return 0;
}

int kv_record_parse(const char *p, const char *end, struct kv_record *rec, char *msg,
		    size_t msglen)
{
	struct cur c = {p, end, p, msg, msglen, 0};

	msg[0] = 0;
	rec->fields = 0;
	rec->nids = 0;
	rec->type[0] = 0;
	if (end - p >= 3 && !memcmp(p, "\xef\xbb\xbf", 3))
		return fail(&c, "UTF-8 byte order mark before the record (not allowed in JSON)");
	skip_ws(&c);
	if (c.p >= end || *c.p != '{')
		return fail(&c, "a record must be a JSON object, found %s", describe(&c));
	c.p++;
	skip_ws(&c);
	if (c.p < end && *c.p == '}') {
		c.p++;
	} else {
		for (;;) {
			skip_ws(&c);
			if (c.p >= end || *c.p != '"')
				return fail(&c, "object key expected, found %s", describe(&c));
			if (parse_member(&c, rec))
				return c.oom == 2 ? -3 : c.oom ? -2 : -1;
			skip_ws(&c);
			if (c.p < end && *c.p == ',') {
				c.p++;
				continue;
			}
			if (c.p < end && *c.p == '}') {
				c.p++;
				break;
			}
			return fail(&c, "',' or '}' expected, found %s", describe(&c));
		}
	}
	skip_ws(&c);
	if (c.p < end)
		return fail(&c, "text after the record (%s)", describe(&c));
	return 0;
}
