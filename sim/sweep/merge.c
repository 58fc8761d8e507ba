/* merge.c - merges the per-job results of a sweep into one CSV table (see merge.h). */
#include "merge.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "report.h"
#include "runner.h"

#define MAX_COLS 256

static const char *const sweep_cols[] = {"job", "job_id", "router", "instances", "rate_scale"};
#define NSWEEP (sizeof(sweep_cols) / sizeof(sweep_cols[0]))

int sweep_csv_record(const char *text, size_t *pos, const char **fields, size_t *lens, int max)
{
	size_t i = *pos;
	int n = 0;

	if (!text[i])
		return 0;
	for (;;) {
		size_t start = i;
		int quoted = text[i] == '"';

		if (quoted) {
			for (i++;; i++) {
				if (!text[i])
					return -1;
				if (text[i] == '"') {
					if (text[i + 1] == '"') {
						i++;
						continue;
					}
					i++;
					break;
				}
			}
		}
		while (text[i] && text[i] != ',' && text[i] != '\n' && text[i] != '\r')
			i++;
		if (n == max)
			return -1;
		fields[n] = text + start;
		lens[n++] = i - start;
		if (text[i] == ',') {
			i++;
			continue;
		}
		if (text[i] == '\r')
			i++;
		if (text[i] == '\n')
			i++;
		break;
	}
	*pos = i;
	return n;
}

struct result {
	enum sweep_job_state state;
	char *text;                   /* result.csv of a done job */
	char why[512];                /* for a failure: the exit status and last stderr line */
};

/* The header and single row of a result, as raw fields pointing into its text. */
struct parsed {
	const char *hdr[MAX_COLS], *row[MAX_COLS];
	size_t hlen[MAX_COLS], rlen[MAX_COLS];
	int nh, nr;
};

/* Parses text; returns 0 when it is a header and exactly one row of as many fields. */
static int parse_result(const char *text, struct parsed *r)
{
	size_t pos = 0;

	r->nh = sweep_csv_record(text, &pos, r->hdr, r->hlen, MAX_COLS);
	r->nr = r->nh > 0 ? sweep_csv_record(text, &pos, r->row, r->rlen, MAX_COLS) : -1;
	/* the row must end with its newline: a row cut inside its last field has as many
	 * fields as the header */
	return r->nh <= 0 || r->nr != r->nh || text[pos] || pos < 1 || text[pos - 1] != '\n'
		       ? -1 : 0;
}

int sweep_result_complete(const char *text)
{
	struct parsed *pr = malloc(sizeof(*pr));
	int ok = pr && !parse_result(text, pr);

	free(pr);
	return ok;
}

struct cols {
	char *name[MAX_COLS];
	int n;
};

static int cols_find(const struct cols *c, const char *s, size_t len)
{
	for (int i = 0; i < c->n; i++)
		if (strlen(c->name[i]) == len && !memcmp(c->name[i], s, len))
			return i;
	return -1;
}

static int cols_add(struct cols *c, const char *s, size_t len)
{
	if (cols_find(c, s, len) >= 0)
		return 0;
	if (c->n == MAX_COLS || !(c->name[c->n] = strndup(s, len)))
		return -1;
	c->n++;
	return 0;
}

static int is_core_or_sweep(const struct cols *core, const char *s, size_t len)
{
	if (cols_find(core, s, len) >= 0)
		return 1;
	for (size_t i = 0; i < NSWEEP; i++)
		if (strlen(sweep_cols[i]) == len && !memcmp(sweep_cols[i], s, len))
			return 1;
	return 0;
}

/* "exit 2: <last stderr line>" from a failed record. */
static void failure_reason(const char *text, char *why, size_t len)
{
	const char *nl = strchr(text, '\n'), *st = strstr(text, "\nstderr\n"), *last = NULL;
	size_t hl = nl ? (size_t)(nl - text) : strlen(text);

	if (st) {
		for (const char *p = st + 8; *p;) {
			const char *e = strchr(p, '\n');
			size_t l = e ? (size_t)(e - p) : strlen(p);

			if (l)
				last = p;
			p = e ? e + 1 : p + l;
		}
	}
	if (last) {
		const char *e = strchr(last, '\n');
		snprintf(why, len, "%.*s: %.*s", (int)hl, text,
			 (int)(e ? (size_t)(e - last) : strlen(last)), last);
	} else {
		snprintf(why, len, "%.*s (no stderr)", (int)hl, text);
	}
}

/* Loads job j's state and result. */
static int load_result(const char *dir, const struct sweep_job *j, const struct cols *core,
		       struct result *r, struct parsed *pr, struct kv_err *err)
{
	char path[4400];

	sweep_job_path(dir, j, "result.csv", path, sizeof(path));
	if (access(path, F_OK) == 0) {
		FILE *f = fopen(path, "rb");
		long size;

		if (!f || fseek(f, 0, SEEK_END) || (size = ftell(f)) < 0 || fseek(f, 0, SEEK_SET) ||
		    !(r->text = malloc((size_t)size + 1)) ||
		    fread(r->text, 1, (size_t)size, f) != (size_t)size) {
			int e = errno;
			if (f)
				fclose(f);
			return kv_fail(err, KV_ERUNTIME, "%s: %s", path, strerror(e));
		}
		fclose(f);
		r->text[size] = 0;
		r->state = SWEEP_FAILED;
		if (parse_result(r->text, pr)) {
			snprintf(r->why, sizeof(r->why), "result.csv is not a header and one row of as "
				 "many columns");
			return KV_OK;
		}
		for (int c = 0; c < core->n; c++) {
			int found = 0;
			for (int k = 0; k < pr->nh && !found; k++)
				found = strlen(core->name[c]) == pr->hlen[k] &&
					!memcmp(core->name[c], pr->hdr[k], pr->hlen[k]);
			if (!found) {
				snprintf(r->why, sizeof(r->why), "result.csv lacks the column %s",
					 core->name[c]);
				return KV_OK;
			}
		}
		r->state = SWEEP_DONE;
		return KV_OK;
	}
	sweep_job_path(dir, j, "failed", path, sizeof(path));
	if (access(path, F_OK) == 0) {
		FILE *f = fopen(path, "rb");
		char buf[65536 + 8192];
		size_t n = f ? fread(buf, 1, sizeof(buf) - 1, f) : 0;

		if (f)
			fclose(f);
		buf[n] = 0;
		r->state = SWEEP_FAILED;
		failure_reason(buf, r->why, sizeof(r->why));
		return KV_OK;
	}
	r->state = SWEEP_MISSING;
	return KV_OK;
}

static void put_field(FILE *out, const struct parsed *r, const char *name)
{
	size_t len = strlen(name);

	for (int k = 0; k < r->nh; k++)
		if (r->hlen[k] == len && !memcmp(r->hdr[k], name, len)) {
			fwrite(r->row[k], 1, r->rlen[k], out);
			return;
		}
}

int sweep_merge(const struct sweep_plan *p, const char *dir, FILE *out, FILE *report,
		struct sweep_merge_stats *st, struct kv_err *err)
{
	struct result *res = calloc(p->n, sizeof(*res));
	struct cols core = {0}, extra = {0};
	struct parsed *pr = malloc(sizeof(*pr));
	const char *hdr = REPORT_CSV_HEADER;
	int rc = KV_OK;

	memset(st, 0, sizeof(*st));
	st->todo = calloc(p->n + 1, 1);
	if (!res || !st->todo || !pr) {
		rc = kv_fail(err, KV_ERUNTIME, "out of memory");
		goto out;
	}
	for (const char *s = hdr;;) {
		const char *e = strchr(s, ',');
		size_t l = e ? (size_t)(e - s) : strlen(s);

		if (cols_add(&core, s, l)) {
			rc = kv_fail(err, KV_ERUNTIME, "out of memory");
			goto out;
		}
		if (!e)
			break;
		s = e + 1;
	}
	for (size_t i = 0; i < p->n; i++) {
		const struct sweep_job *j = &p->job[i];
		struct result *r = &res[i];

		if ((rc = load_result(dir, j, &core, r, pr, err)))
			goto out;
		if (r->state == SWEEP_DONE) {
			st->done++;
			for (int k = 0; k < pr->nh; k++)
				if (!is_core_or_sweep(&core, pr->hdr[k], pr->hlen[k]) &&
				    cols_add(&extra, pr->hdr[k], pr->hlen[k])) {
					rc = kv_fail(err, KV_ERUNTIME, "more than %d columns", MAX_COLS);
					goto out;
				}
			continue;
		}
		st->todo[j->index] = 1;
		if (r->state == SWEEP_FAILED)
			st->failed++;
		else
			st->missing++;
		if (report) {
			fprintf(report, "%-7s job %zu  id %s  trace %s  policy %s  capacity %s",
				r->state == SWEEP_FAILED ? "failed" : "missing", j->index, j->id,
				j->trace, j->policy, j->capacity);
			if (*j->router)
				fprintf(report, "  router %s", j->router);
			if (*j->instances)
				fprintf(report, "  instances %s", j->instances);
			if (*j->rate_scale)
				fprintf(report, "  rate_scale %s", j->rate_scale);
			if (r->state == SWEEP_FAILED)
				fprintf(report, "\n        %s", r->why);
			fputc('\n', report);
		}
	}
	if (!out)
		goto out;
	fprintf(out, "%s", hdr);
	for (size_t i = 0; i < NSWEEP; i++)
		fprintf(out, ",%s", sweep_cols[i]);
	for (int c = 0; c < extra.n; c++)
		fprintf(out, ",%s", extra.name[c]);
	fputc('\n', out);
	for (size_t i = 0; i < p->n; i++) {
		const struct sweep_job *j = &p->job[i];
		const struct result *r = &res[i];

		if (r->state != SWEEP_DONE)
			continue;
		parse_result(r->text, pr); /* parsed fine when loaded */
		for (int c = 0; c < core.n; c++) {
			if (c)
				fputc(',', out);
			put_field(out, pr, core.name[c]);
		}
		fprintf(out, ",%zu,%s,", j->index, j->id);
		csv_str(out, j->router);
		fputc(',', out);
		csv_str(out, j->instances);
		fputc(',', out);
		csv_str(out, j->rate_scale);
		for (int c = 0; c < extra.n; c++) {
			fputc(',', out);
			put_field(out, pr, extra.name[c]);
		}
		fputc('\n', out);
	}
out:
	for (size_t i = 0; res && i < p->n; i++)
		free(res[i].text);
	free(res);
	free(pr);
	for (int c = 0; c < core.n; c++)
		free(core.name[c]);
	for (int c = 0; c < extra.n; c++)
		free(extra.name[c]);
	return rc;
}
