/*
 * repeat-trace.c - benchmark helper: writes a Mooncake JSONL trace COPIES times to stdout,
 * each copy with disjoint hash ids (id + k * (max id + 1)) and shifted timestamps
 * (ts + k * (last ts + 1)), so the copies never share a block and time never goes back.
 *
 *   repeat-trace COPIES < conversation.jsonl > big.jsonl
 *
 * Reads the whole input into memory (the inputs are a few MB). Lines must carry
 * "timestamp" and "hash_ids" as written by Mooncake; other keys are copied as they are.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char *slurp(size_t *len)
{
	size_t cap = 1 << 20, n = 0, r;
	char *b = malloc(cap);

	while (b && (r = fread(b + n, 1, cap - n, stdin)) > 0) {
		n += r;
		if (n == cap && !(b = realloc(b, cap *= 2)))
			return NULL;
	}
	*len = n;
	return b;
}

/* Copies line [p, e) with ids and timestamp shifted. */
static void emit(const char *p, const char *e, unsigned long long id_off,
		 unsigned long long ts_off)
{
	const char *ts = strstr(p, "\"timestamp\":"), *ids = strstr(p, "\"hash_ids\":");

	if (!ts || !ids || ts > e || ids > e) {
		fwrite(p, 1, (size_t)(e - p), stdout);
		return;
	}
	ts += 12;
	while (*ts == ' ')
		ts++;
	fwrite(p, 1, (size_t)(ts - p), stdout);
	printf("%llu", strtoull(ts, NULL, 10) + ts_off);
	while (*ts >= '0' && *ts <= '9')
		ts++;
	fwrite(ts, 1, (size_t)(ids + 11 - ts), stdout);
	for (p = ids + 11; p < e;) {
		if (*p >= '0' && *p <= '9') {
			char *q;
			printf("%llu", strtoull(p, &q, 10) + id_off);
			p = q;
		} else {
			putchar(*p++);
		}
	}
}

int main(int argc, char **argv)
{
	size_t len = 0;
	char *buf = slurp(&len), *p, *nl;
	unsigned long long max_id = 0, last_ts = 0;
	int copies = argc > 1 ? atoi(argv[1]) : 0;

	if (!buf || copies < 1) {
		fprintf(stderr, "usage: repeat-trace COPIES < trace.jsonl > out.jsonl\n");
		return 2;
	}
	for (p = buf; p < buf + len; p++) /* the largest number anywhere bounds the ids */
		if (*p >= '0' && *p <= '9' && (p == buf || p[-1] < '0' || p[-1] > '9')) {
			unsigned long long v = strtoull(p, NULL, 10);
			if (v > max_id)
				max_id = v;
		}
	for (p = buf; (nl = memchr(p, '\n', (size_t)(buf + len - p))); p = nl + 1) {
		const char *ts = strstr(p, "\"timestamp\":");
		if (ts && ts < nl)
			last_ts = strtoull(ts + 12, NULL, 10);
	}
	for (int k = 0; k < copies; k++)
		for (p = buf; (nl = memchr(p, '\n', (size_t)(buf + len - p))); p = nl + 1)
			emit(p, nl + 1, (unsigned long long)k * (max_id + 1),
			     (unsigned long long)k * (last_ts + 1));
	return fflush(stdout) ? 1 : 0;
}
