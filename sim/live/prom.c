/* prom.c - Prometheus text format reader (see prom.h). */
#include "prom.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static int name_char(char c, int first)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == ':' ||
	       (!first && c >= '0' && c <= '9');
}

/* Parses one sample line [s, e); returns 1 and fills value if its name is `name`. */
static int sample(const char *s, const char *e, const char *name, size_t nlen, double *value)
{
	const char *n0;
	char num[64];
	size_t k = 0;
	char *end;

	while (s < e && (*s == ' ' || *s == '\t'))
		s++;
	if (s == e || *s == '#' || !name_char(*s, 1))
		return 0;
	n0 = s;
	while (s < e && name_char(*s, 0))
		s++;
	if ((size_t)(s - n0) != nlen || memcmp(n0, name, nlen))
		return 0;
	if (s < e && *s == '{') { /* labels; values are quoted and may hold '}' or '\"' */
		int quoted = 0;

		for (s++; s < e; s++) {
			if (quoted && *s == '\\')
				s++;
			else if (*s == '"')
				quoted = !quoted;
			else if (!quoted && *s == '}')
				break;
		}
		if (s >= e)
			return 0;
		s++;
	}
	if (s == e || (*s != ' ' && *s != '\t'))
		return 0;
	while (s < e && (*s == ' ' || *s == '\t'))
		s++;
	while (s < e && *s != ' ' && *s != '\t' && *s != '\r' && k + 1 < sizeof(num))
		num[k++] = *s++;
	num[k] = 0;
	if (!k)
		return 0;
	*value = strtod(num, &end);
	return *end == 0;
}

int prom_sum(const char *text, const char *name, double *out)
{
	size_t nlen = strlen(name);
	int found = 0;
	double sum = 0, v;

	while (text && *text) {
		const char *e = strchr(text, '\n');

		if (!e)
			e = text + strlen(text);
		if (sample(text, e, name, nlen, &v) && !isnan(v)) {
			sum += v;
			found++;
		}
		text = *e ? e + 1 : e;
	}
	*out = sum;
	return found;
}
