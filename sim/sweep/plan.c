/* plan.c - sweep plans: cross product, TSV form, job ids, command quoting (see plan.h). */
#include "plan.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

/* FNV-1a over bytes, finished with the splitmix64 finaliser so that close inputs spread. */
static uint64_t fnv_add(uint64_t h, const void *p, size_t n)
{
	const unsigned char *s = p;

	for (size_t i = 0; i < n; i++)
		h = (h ^ s[i]) * 0x100000001b3ull;
	return h;
}

static uint64_t finish(uint64_t h)
{
	h ^= h >> 30;
	h *= 0xbf58476d1ce4e5b9ull;
	h ^= h >> 27;
	h *= 0x94d049bb133111ebull;
	return h ^ (h >> 31);
}

void sweep_job_id(const char *checksum, char *const *argv, int argc, int trace_word,
		  char id[SWEEP_ID_LEN + 1])
{
	uint64_t h = 0xcbf29ce484222325ull;

	h = fnv_add(h, "kvsim-sweep-v1", 15);
	h = fnv_add(h, checksum, strlen(checksum) + 1);
	for (int i = 0; i < argc; i++)
		if (i != trace_word)
			h = fnv_add(h, argv[i], strlen(argv[i]) + 1);
	snprintf(id, SWEEP_ID_LEN + 1, "%016" PRIx64, finish(h));
}

static int safe_char(int c)
{
	return isalnum(c) || strchr("_@%+=:,./-", c);
}

int sweep_quote_word(const char *w, char *buf, size_t len)
{
	size_t o = strlen(buf);
	int plain = *w != 0;

	for (const char *p = w; *p; p++)
		if (!safe_char((unsigned char)*p))
			plain = 0;
#define PUT(c)                       \
	do {                         \
		if (o + 2 > len)     \
			return -1;   \
		buf[o++] = (c);      \
	} while (0)
	if (o)
		PUT(' ');
	if (plain) {
		for (const char *p = w; *p; p++)
			PUT(*p);
	} else {
		PUT('\'');
		for (const char *p = w; *p; p++) {
			if (*p == '\'') { /* close, escaped quote, reopen: '\'' */
				PUT('\'');
				PUT('\\');
				PUT('\'');
			}
			PUT(*p);
		}
		PUT('\'');
	}
#undef PUT
	buf[o] = 0;
	return 0;
}

struct words {
	char **v;
	int n, cap;
};

static int words_add(struct words *w, const char *s, size_t n)
{
	if (w->n + 2 > w->cap) {
		int cap = w->cap ? w->cap * 2 : 16;
		char **v = realloc(w->v, (size_t)cap * sizeof(*v));
		if (!v)
			return -1;
		w->v = v, w->cap = cap;
	}
	if (!(w->v[w->n] = strndup(s, n)))
		return -1;
	w->v[++w->n] = NULL;
	return 0;
}

static void words_free(char **v)
{
	for (char **p = v; p && *p; p++)
		free(*p);
	free(v);
}

int sweep_split_words(const char *s, char ***argv_out, int *argc_out, struct kv_err *err)
{
	struct words w = {0};
	size_t len = strlen(s), o = 0;
	char *cur = malloc(len + 1);
	int in_word = 0, rc = KV_OK;

	if (!cur)
		return kv_fail(err, KV_ERUNTIME, "out of memory");
	for (const char *p = s;; p++) {
		if (!*p || *p == ' ' || *p == '\t') {
			if (in_word && words_add(&w, cur, o)) {
				rc = kv_fail(err, KV_ERUNTIME, "out of memory");
				goto out;
			}
			in_word = 0, o = 0;
			if (!*p)
				break;
			continue;
		}
		in_word = 1;
		if (*p == '\'') {
			const char *e = strchr(p + 1, '\'');
			if (!e) {
				rc = kv_fail(err, KV_EINPUT, "unterminated ' quote");
				goto out;
			}
			memcpy(cur + o, p + 1, (size_t)(e - p - 1));
			o += (size_t)(e - p - 1);
			p = e;
		} else if (*p == '"') {
			for (p++; *p && *p != '"'; p++) {
				if (*p == '$' || *p == '`') {
					rc = kv_fail(err, KV_EINPUT, "'%c' inside \"...\" is shell "
						     "expansion, which kvsim does not run", *p);
					goto out;
				}
				if (*p == '\\' && p[1] && strchr("\"\\$`", p[1]))
					p++;
				cur[o++] = *p;
			}
			if (!*p) {
				rc = kv_fail(err, KV_EINPUT, "unterminated \" quote");
				goto out;
			}
		} else if (*p == '\\') {
			if (!p[1]) {
				rc = kv_fail(err, KV_EINPUT, "a trailing backslash");
				goto out;
			}
			cur[o++] = *++p;
		} else if (strchr("$`|;&<>()*?[]{}~#!", *p)) {
			rc = kv_fail(err, KV_EINPUT, "unquoted '%c' is shell syntax, which kvsim does "
				     "not run (quote it)", *p);
			goto out;
		} else {
			cur[o++] = *p;
		}
	}
	if (!w.n) {
		rc = kv_fail(err, KV_EINPUT, "empty command");
		goto out;
	}
	*argv_out = w.v;
	*argc_out = w.n;
	w.v = NULL;
out:
	free(cur);
	words_free(w.v);
	return rc;
}

static int cmp_id(const void *a, const void *b)
{
	const struct sweep_job *const *x = a, *const *y = b;

	return strcmp((*x)->id, (*y)->id);
}

/* Two jobs with one id would share a result folder: refuse. O(n log n). */
static int check_unique_ids(const struct sweep_plan *p, const char *where, struct kv_err *err)
{
	const struct sweep_job **v = malloc((p->n + 1) * sizeof(*v));
	int rc = KV_OK;

	if (!v)
		return kv_fail(err, KV_ERUNTIME, "out of memory");
	for (size_t i = 0; i < p->n; i++)
		v[i] = &p->job[i];
	qsort(v, p->n, sizeof(*v), cmp_id);
	for (size_t i = 1; i < p->n; i++)
		if (!strcmp(v[i]->id, v[i - 1]->id)) {
			const struct sweep_job *x = v[i - 1]->index < v[i]->index ? v[i - 1] : v[i];
			const struct sweep_job *y = x == v[i] ? v[i - 1] : v[i];

			if (y->lineno) /* read from a file: name the line of the later one */
				rc = kv_fail(err, KV_EINPUT, "%s:%zu: jobs %zu and %zu are the same "
					     "job (id %s): a trace or value given twice?", where,
					     y->lineno, x->index, y->index, y->id);
			else
				rc = kv_fail(err, KV_EINPUT, "%s: jobs %zu and %zu are the same job "
					     "(id %s): a trace or value given twice?", where,
					     x->index, y->index, y->id);
			break;
		}
	free(v);
	return rc;
}

static char *xstrdup(const char *s, int *oom)
{
	char *d = strdup(s ? s : "");

	if (!d)
		*oom = 1;
	return d;
}

/* Fills job j's fields and command from one point of the cross product. */
static int make_job(const struct sweep_axes *ax, size_t t, size_t p, size_t c, const char *r,
		    const char *in, const char *rs, struct sweep_job *j, struct kv_err *err)
{
	struct words w = {0};
	size_t len = 64;
	int oom = 0;

#define ADD(s) oom |= words_add(&w, (s), strlen(s))
	ADD("kvsim");
	ADD("sim");
	ADD("--policy");
	ADD(ax->policies[p]);
	ADD("--capacity");
	ADD(ax->capacities[c]);
	ADD("--format");
	ADD("csv");
	if (r || in || rs) {
		ADD("--timed");
		if (r) {
			ADD("--router");
			ADD(r);
		}
		if (in) {
			ADD("--instances");
			ADD(in);
		}
		if (rs) {
			ADD("--rate-scale");
			ADD(rs);
		}
	}
	for (size_t i = 0; i < ax->nbase; i++)
		ADD(ax->base[i]);
	ADD(ax->traces[t]);
#undef ADD
	if (oom) {
		words_free(w.v);
		return kv_fail(err, KV_ERUNTIME, "out of memory");
	}
	j->argv = w.v;
	j->argc = w.n;
	for (int i = 0; i < w.n; i++)
		len += 4 * strlen(w.v[i]) + 3;
	j->command = calloc(1, len);
	if (!j->command)
		return kv_fail(err, KV_ERUNTIME, "out of memory");
	for (int i = 0; i < w.n; i++)
		sweep_quote_word(w.v[i], j->command, len); /* len bounds the worst case */
	snprintf(j->checksum, sizeof(j->checksum), "%s", ax->checksums[t]);
	sweep_job_id(j->checksum, j->argv, j->argc, j->argc - 1, j->id);
	j->trace = xstrdup(ax->traces[t], &oom);
	j->policy = xstrdup(ax->policies[p], &oom);
	j->capacity = xstrdup(ax->capacities[c], &oom);
	j->router = xstrdup(r, &oom);
	j->instances = xstrdup(in, &oom);
	j->rate_scale = xstrdup(rs, &oom);
	return oom ? kv_fail(err, KV_ERUNTIME, "out of memory") : KV_OK;
}

int sweep_plan_build(const struct sweep_axes *ax, struct sweep_plan *out, struct kv_err *err)
{
	size_t nr = ax->nrouters ? ax->nrouters : 1, ni = ax->ninstances ? ax->ninstances : 1;
	size_t ns = ax->nrate_scales ? ax->nrate_scales : 1;
	double total = (double)ax->ntraces * ax->npolicies * ax->ncapacities * nr * ni * ns;
	struct sweep_plan p = {0};
	int rc = KV_OK;

	if (!ax->ntraces || !ax->npolicies || !ax->ncapacities)
		return kv_fail(err, KV_EINPUT, "a sweep needs at least one trace, policy and "
			       "capacity");
	if (total > SWEEP_MAX_JOBS)
		return kv_fail(err, KV_EINPUT, "%.0f jobs is more than the %d a plan holds",
			       total, SWEEP_MAX_JOBS);
	p.job = calloc((size_t)total, sizeof(*p.job));
	if (!p.job)
		return kv_fail(err, KV_ERUNTIME, "out of memory");
	for (size_t t = 0; t < ax->ntraces; t++)
		for (size_t po = 0; po < ax->npolicies; po++)
			for (size_t c = 0; c < ax->ncapacities; c++)
				for (size_t r = 0; r < nr; r++)
					for (size_t i = 0; i < ni; i++)
						for (size_t s = 0; s < ns; s++) {
							struct sweep_job *j = &p.job[p.n];

							j->index = ++p.n;
							rc = make_job(ax, t, po, c,
								      ax->nrouters ? ax->routers[r] : NULL,
								      ax->ninstances ? ax->instances[i] : NULL,
								      ax->nrate_scales ? ax->rate_scales[s] : NULL,
								      j, err);
							if (rc)
								goto fail;
						}
	if ((rc = check_unique_ids(&p, "plan", err)))
		goto fail;
	*out = p;
	return KV_OK;
fail:
	sweep_plan_free(&p);
	return rc;
}

static int tsv_safe(const char *s)
{
	return !strpbrk(s, "\t\n\r");
}

int sweep_plan_write(FILE *f, const struct sweep_plan *p, struct kv_err *err)
{
	fprintf(f, "%s: one job per line; job i is Slurm array task i "
		   "(kvsim sweep run PLAN --only i)\n#%s\n", SWEEP_PLAN_MAGIC, SWEEP_PLAN_COLUMNS);
	for (size_t i = 0; i < p->n; i++) {
		const struct sweep_job *j = &p->job[i];
		const char *v[] = {j->trace, j->policy, j->capacity, j->router, j->instances,
				   j->rate_scale, j->command};

		for (size_t k = 0; k < sizeof(v) / sizeof(v[0]); k++)
			if (!tsv_safe(v[k]))
				return kv_fail(err, KV_EINPUT, "job %zu: '%s' holds a tab or newline, "
					       "which a plan line cannot", j->index, v[k]);
		fprintf(f, "%zu\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", j->index, j->id, j->trace,
			j->checksum, j->policy, j->capacity, j->router, j->instances, j->rate_scale,
			j->command);
	}
	return KV_OK;
}

static int is_hex(const char *s, size_t n)
{
	if (strlen(s) != n)
		return 0;
	for (; *s; s++)
		if (!isdigit((unsigned char)*s) && !(*s >= 'a' && *s <= 'f'))
			return 0;
	return 1;
}

/* Parses one data line (modified in place) into job j. */
static int parse_line(char *line, const char *path, size_t lineno, size_t want_index,
		      struct sweep_job *j, struct kv_err *err)
{
	char *f[10];
	int n = 0, oom = 0, rc;
	char *p = line, *end;
	unsigned long long idx;

	while (n < 10) {
		f[n++] = p;
		if (n == 10)
			break;
		p = strchr(p, '\t');
		if (!p)
			return kv_fail(err, KV_EINPUT, "%s:%zu: %d columns, a plan line has 10 (%s)",
				       path, lineno, n, SWEEP_PLAN_COLUMNS);
		*p++ = 0;
	}
	if (strchr(f[9], '\t'))
		return kv_fail(err, KV_EINPUT, "%s:%zu: more than 10 columns", path, lineno);
	errno = 0;
	idx = strtoull(f[0], &end, 10);
	if (*end || errno || !*f[0] || idx != want_index)
		return kv_fail(err, KV_EINPUT, "%s:%zu: job number '%s', expected %zu (jobs are "
			       "numbered 1..N in file order)", path, lineno, f[0], want_index);
	if (!is_hex(f[1], SWEEP_ID_LEN))
		return kv_fail(err, KV_EINPUT, "%s:%zu: job id '%s' is not 16 hex digits", path,
			       lineno, f[1]);
	if (!is_hex(f[3], 16))
		return kv_fail(err, KV_EINPUT, "%s:%zu: trace checksum '%s' is not 16 hex digits",
			       path, lineno, f[3]);
	j->index = want_index;
	j->lineno = lineno;
	memcpy(j->id, f[1], SWEEP_ID_LEN + 1);
	memcpy(j->checksum, f[3], 17);
	j->trace = xstrdup(f[2], &oom);
	j->policy = xstrdup(f[4], &oom);
	j->capacity = xstrdup(f[5], &oom);
	j->router = xstrdup(f[6], &oom);
	j->instances = xstrdup(f[7], &oom);
	j->rate_scale = xstrdup(f[8], &oom);
	j->command = xstrdup(f[9], &oom);
	if (oom)
		return kv_fail(err, KV_ERUNTIME, "out of memory");
	if ((rc = sweep_split_words(j->command, &j->argv, &j->argc, err))) {
		kv_err_prefix(err, "%s:%zu: command", path, lineno);
		return rc;
	}
	if (strcmp(j->argv[0], "kvsim"))
		return kv_fail(err, KV_EINPUT, "%s:%zu: the command starts with '%s', not kvsim",
			       path, lineno, j->argv[0]);
	/* Results are keyed by the id: a command edited without its id would reuse (or leave
	 * behind) the result of a different job under that id. */
	if (j->argc < 2 || strcmp(j->argv[j->argc - 1], j->trace))
		return kv_fail(err, KV_EINPUT, "%s:%zu: the command's last word is not the trace "
			       "of the trace column (%s)", path, lineno, j->trace);
	{
		char want[SWEEP_ID_LEN + 1];

		sweep_job_id(j->checksum, j->argv, j->argc, j->argc - 1, want);
		if (strcmp(want, j->id))
			return kv_fail(err, KV_EINPUT, "%s:%zu: job id %s does not match the command "
				       "(its id is %s): the command or the checksum was edited; "
				       "put %s in the job_id column to keep the edit, or re-plan",
				       path, lineno, j->id, want, want);
	}
	return KV_OK;
}

int sweep_plan_read(const char *path, struct sweep_plan *out, struct kv_err *err)
{
	FILE *f = fopen(path, "r");
	struct sweep_plan p = {0};
	size_t cap = 0, lineno = 0, n;
	char *line = NULL;
	size_t linecap = 0;
	ssize_t len;
	int rc = KV_OK, magic = 0;

	if (!f)
		return kv_fail(err, KV_EINPUT, "%s: %s", path, strerror(errno));
	while ((len = getline(&line, &linecap, f)) >= 0) {
		lineno++;
		if (len > 0 && line[len - 1] != '\n' && line[0] != '#') {
			/* sweep plan ends every line with a newline: this one was cut short */
			rc = kv_fail(err, KV_EINPUT, "%s:%zu: the last line has no newline at its "
				     "end (a truncated plan file?)", path, lineno);
			goto out;
		}
		while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
			line[--len] = 0;
		if (lineno == 1 && !strncmp(line, SWEEP_PLAN_MAGIC, strlen(SWEEP_PLAN_MAGIC)))
			magic = 1;
		if (!len || line[0] == '#')
			continue;
		if (!magic) {
			rc = kv_fail(err, KV_EINPUT, "%s:1: not a kvsim sweep plan (it does not start "
				     "with '%s'; make one with `kvsim sweep plan`)", path,
				     SWEEP_PLAN_MAGIC);
			goto out;
		}
		if (p.n == cap) {
			size_t nc = cap ? cap * 2 : 64;
			struct sweep_job *v = realloc(p.job, nc * sizeof(*v));
			if (!v || p.n >= SWEEP_MAX_JOBS) {
				rc = kv_fail(err, v ? KV_EINPUT : KV_ERUNTIME, "%s:%zu: %s", path,
					     lineno, v ? "too many jobs" : "out of memory");
				if (v)
					p.job = v;
				goto out;
			}
			memset(v + cap, 0, (nc - cap) * sizeof(*v));
			p.job = v, cap = nc;
		}
		n = p.n++;
		if ((rc = parse_line(line, path, lineno, n + 1, &p.job[n], err)))
			goto out;
	}
	if (ferror(f)) {
		rc = kv_fail(err, KV_ERUNTIME, "%s: read error", path);
		goto out;
	}
	if (!magic)
		rc = kv_fail(err, KV_EINPUT, "%s: not a kvsim sweep plan (empty)", path);
	else if (!p.n)
		rc = kv_fail(err, KV_EINPUT, "%s: the plan has no jobs", path);
	else
		rc = check_unique_ids(&p, path, err);
out:
	free(line);
	fclose(f);
	if (rc)
		sweep_plan_free(&p);
	else
		*out = p;
	return rc;
}

void sweep_plan_free(struct sweep_plan *p)
{
	for (size_t i = 0; i < p->n; i++) {
		struct sweep_job *j = &p->job[i];

		free(j->trace);
		free(j->policy);
		free(j->capacity);
		free(j->router);
		free(j->instances);
		free(j->rate_scale);
		free(j->command);
		words_free(j->argv);
	}
	free(p->job);
	p->job = NULL;
	p->n = 0;
}

int sweep_parse_selection(const char *s, size_t n, unsigned char **sel_out, struct kv_err *err)
{
	unsigned char *sel = calloc(n + 1, 1);
	const char *p = s;

	if (!sel)
		return kv_fail(err, KV_ERUNTIME, "out of memory");
	while (*p) {
		unsigned long long a, b;
		char *end;

		errno = 0;
		if (!isdigit((unsigned char)*p))
			goto bad;
		a = b = strtoull(p, &end, 10);
		if (*end == '-') {
			if (!isdigit((unsigned char)end[1]))
				goto bad;
			b = strtoull(end + 1, &end, 10);
		}
		if (errno || a < 1 || b < a || (*end && (*end != ',' || !end[1])))
			goto bad;
		if (b > n) {
			free(sel);
			return kv_fail(err, KV_EINPUT, "--only '%s': job %llu is past the plan's "
				       "last job (%zu)", s, b, n);
		}
		memset(sel + a, 1, (size_t)(b - a + 1));
		p = *end ? end + 1 : end;
	}
	*sel_out = sel;
	return KV_OK;
bad:
	free(sel);
	return kv_fail(err, KV_EINPUT, "--only '%s' is not a list of job numbers and ranges "
		       "like 3 or 1-5,9", s);
}

void sweep_print_ranges(FILE *f, const unsigned char *sel, size_t n)
{
	int first = 1;

	for (size_t i = 1; i <= n; i++) {
		size_t e = i;

		if (!sel[i])
			continue;
		while (e + 1 <= n && sel[e + 1])
			e++;
		fprintf(f, first ? "%zu" : ",%zu", i);
		if (e > i)
			fprintf(f, "-%zu", e);
		first = 0;
		i = e;
	}
}
