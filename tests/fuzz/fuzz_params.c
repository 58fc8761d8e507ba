/*
 * fuzz_params.c - libFuzzer target: "name:key=value,..." policy/router specs
 * (sim/core/params.c).
 *
 * The input (up to the first NUL) is a --policy argument. Checked:
 *   - kv_split_specs only cuts at commas: the items joined with ',' give the input back,
 *     and there are at most `max` of them;
 *   - an accepted spec has a non-empty name without ':' and non-empty keys without '=' or
 *     ','; kv_params_format() of it parses back to the same name and pairs (round trip);
 *   - resolving against declared defaults either fails with a message or yields exactly the
 *     declared keys, user values winning; the typed getters never crash on any value.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "params.h"

static void check_split_specs(const char *s)
{
	char buf[1024], joined[1024];
	char *items[8];
	size_t off = 0;
	int n;

	snprintf(buf, sizeof(buf), "%s", s);
	n = kv_split_specs(buf, items, 8);
	if (n < -1 || n > 8)
		abort();
	if (n <= 0)
		return;
	for (int i = 0; i < n; i++)
		off += (size_t)snprintf(joined + off, sizeof(joined) - off, "%s%s", i ? "," : "",
					items[i]);
	if (strcmp(joined, s)) {
		fprintf(stderr, "split_specs lost text: '%s' -> '%s'\n", s, joined);
		abort();
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char s[1024], fmt[4096];
	struct kv_params p, q;
	struct kv_err err = {{0}};
	size_t n = size < sizeof(s) - 1 ? size : sizeof(s) - 1;
	double d;
	long l;

	memcpy(s, data, n);
	s[n] = 0;
	check_split_specs(s);
	if (kv_params_split(s, &p, &err)) {
		if (!err.msg[0])
			abort();
		return 0;
	}
	if (!p.name[0] || strchr(p.name, ':') || p.n < 0 || p.n > KV_PARAMS_MAX)
		abort();
	for (int i = 0; i < p.n; i++)
		if (!p.p[i].key[0] || !p.p[i].value[0] || strchr(p.p[i].key, '=') ||
		    strchr(p.p[i].key, ',') || strchr(p.p[i].value, ',') || !p.p[i].set_by_user)
			abort();
	kv_params_format(&p, fmt, sizeof(fmt));
	if (kv_params_split(fmt, &q, &err) || strcmp(p.name, q.name) || p.n != q.n) {
		fprintf(stderr, "round trip: '%s' -> '%s'\n", s, fmt);
		abort();
	}
	for (int i = 0; i < p.n; i++)
		if (strcmp(p.p[i].key, q.p[i].key) || strcmp(p.p[i].value, q.p[i].value))
			abort();
	err.msg[0] = 0;
	if (kv_params_resolve(&p, "small=0.1,ghost=1,mode=lru", &err)) {
		if (!err.msg[0])
			abort();
		return 0;
	}
	if (p.n != 3)
		abort();
	for (int i = 0; i < q.n; i++) /* user values win */
		if (strcmp(kv_param_str(&p, q.p[i].key), q.p[i].value))
			abort();
	kv_param_double(&p, "small", 0, 1, &d, &err);
	kv_param_long(&p, "ghost", 0, 1000000, &l, &err);
	kv_param_long(&p, "small", -1, 1, &l, &err);
	kv_param_double(&p, "mode", 0, 1, &d, &err);
	return 0;
}
