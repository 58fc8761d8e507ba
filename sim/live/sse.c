/* sse.c - incremental server-sent events parser (see sse.h). */
#include "sse.h"

#include <stdlib.h>
#include <string.h>

void sse_init(struct sse_parser *p, sse_event_fn fn, void *ctx)
{
	memset(p, 0, sizeof(*p));
	p->fn = fn;
	p->ctx = ctx;
}

void sse_reset(struct sse_parser *p)
{
	p->line_len = p->data_len = 0;
	p->has_data = p->after_cr = 0;
}

void sse_free(struct sse_parser *p)
{
	free(p->line);
	free(p->data);
	p->line = p->data = NULL;
}

static int grow(char **buf, size_t *cap, size_t need)
{
	size_t c = *cap ? *cap : 256;
	char *b;

	if (need <= *cap)
		return 0;
	while (c < need)
		c *= 2;
	if (!(b = realloc(*buf, c)))
		return -1;
	*buf = b;
	*cap = c;
	return 0;
}

static int dispatch(struct sse_parser *p)
{
	int rc;

	if (!p->has_data)
		return 0;
	if (grow(&p->data, &p->data_cap, p->data_len + 1))
		return -1;
	p->data[p->data_len] = 0;
	rc = p->fn(p->ctx, p->data, p->data_len);
	p->data_len = 0;
	p->has_data = 0;
	return rc;
}

/* One complete line (without its terminator). */
static int on_line(struct sse_parser *p, const char *s, size_t n)
{
	const char *v;
	size_t vn;

	if (n == 0)
		return dispatch(p);
	if (s[0] == ':')
		return 0;
	if (n < 4 || memcmp(s, "data", 4) || (n > 4 && s[4] != ':'))
		return 0; /* event:, id:, retry: and unknown fields */
	v = s + 4;
	vn = n - 4;
	if (vn) {
		v++;
		vn--;
		if (vn && *v == ' ') {
			v++;
			vn--;
		}
	}
	if (grow(&p->data, &p->data_cap, p->data_len + vn + 2))
		return -1;
	if (p->has_data)
		p->data[p->data_len++] = '\n';
	memcpy(p->data + p->data_len, v, vn);
	p->data_len += vn;
	p->has_data = 1;
	return 0;
}

int sse_feed(struct sse_parser *p, const char *buf, size_t n)
{
	size_t i = 0;
	int rc;

	while (i < n) {
		size_t j = i;

		if (p->after_cr && buf[i] == '\n') {
			p->after_cr = 0;
			i++;
			continue;
		}
		p->after_cr = 0;
		while (j < n && buf[j] != '\n' && buf[j] != '\r')
			j++;
		if (j == n) { /* unterminated: keep for the next chunk */
			if (grow(&p->line, &p->line_cap, p->line_len + (n - i)))
				return -1;
			memcpy(p->line + p->line_len, buf + i, n - i);
			p->line_len += n - i;
			return 0;
		}
		if (p->line_len) {
			if (grow(&p->line, &p->line_cap, p->line_len + (j - i)))
				return -1;
			memcpy(p->line + p->line_len, buf + i, j - i);
			p->line_len += j - i;
			rc = on_line(p, p->line, p->line_len);
			p->line_len = 0;
		} else {
			rc = on_line(p, buf + i, j - i);
		}
		if (rc)
			return rc;
		p->after_cr = buf[j] == '\r';
		i = j + 1;
	}
	return 0;
}

int sse_finish(struct sse_parser *p)
{
	int rc = 0;

	if (p->line_len) {
		rc = on_line(p, p->line, p->line_len);
		p->line_len = 0;
	}
	if (!rc)
		rc = dispatch(p);
	return rc;
}
