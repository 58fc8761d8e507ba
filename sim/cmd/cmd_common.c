/* cmd_common.c - option handling shared by the subcommands (see cmd.h). */
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "cmd.h"
#include "datapath.h"
#include "model.h"
#include "record.h"
#include "registry.h"

/* The limits TRACE_OPTIONS_HELP states in words. */
_Static_assert(KV_MAX_LINE_BYTES == 256u << 20, "TRACE_OPTIONS_HELP: line limit");
_Static_assert(KV_MAX_BLOCKS_PER_REQUEST == 1u << 24, "TRACE_OPTIONS_HELP: blocks limit");
_Static_assert(KV_MAX_REQUESTS == 2147483647, "TRACE_OPTIONS_HELP: record limit");
_Static_assert(KV_MAX_NODES == 4294967294u, "TRACE_OPTIONS_HELP: node limit");
_Static_assert(KV_MAX_TYPES == 250, "TRACE_OPTIONS_HELP: type limit");
_Static_assert(KV_REC_MAX_DEPTH == 64, "TRACE_OPTIONS_HELP: depth limit");

int usage_error(const char *cmd, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "kvsim %s: ", cmd);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\n(see `kvsim %s --help`)\n", cmd);
	return KV_EINPUT;
}

int each_spec(const char *cmd, const char *list,
	      int (*fn)(const char *cmd, const char *item, void *ctx), void *ctx)
{
	int max = kv_specs_bound(list), n, rc = KV_OK;
	char *buf = strdup(list), **items = calloc((size_t)max, sizeof(*items));

	if (!buf || !items) {
		free(buf);
		free(items);
		fprintf(stderr, "kvsim %s: out of memory\n", cmd);
		return KV_ERUNTIME;
	}
	n = kv_split_specs(buf, items, max);
	for (int i = 0; i < n && !rc; i++)
		rc = fn(cmd, items[i], ctx);
	free(items);
	free(buf);
	return rc;
}

static int policy_ok(const char *cmd, const char *item, void *ctx)
{
	struct kv_err err;

	(void)ctx;
	return evict_check(item, &err) ? usage_error(cmd, "--policy %s: %s", item, err.msg) : 0;
}

int check_policies(const char *cmd, const char *list)
{
	return each_spec(cmd, list, policy_ok, NULL);
}

static int capacity_ok(const char *cmd, const char *item, void *ctx)
{
	struct kv_capacity cap;
	struct kv_err err;

	(void)ctx;
	return kv_capacity_parse(item, &cap, &err) ? usage_error(cmd, "--capacity: %s", err.msg)
						    : 0;
}

int check_capacities(const char *cmd, const char *list)
{
	return each_spec(cmd, list, capacity_ok, NULL);
}

int parse_u64_arg(const char *s, uint64_t lo, uint64_t hi, uint64_t *out)
{
	char *end;
	unsigned long long v;

	if (!s || *s < '0' || *s > '9')
		return -1;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (*end || errno || v < lo || v > hi)
		return -1;
	*out = v;
	return 0;
}

int parse_double_arg(const char *s, double lo, double hi, double *out)
{
	char *end;
	double v;

	if (!s || !*s)
		return -1;
	errno = 0;
	v = strtod(s, &end);
	if (*end || errno || !isfinite(v) || v < lo || v > hi)
		return -1;
	*out = v;
	return 0;
}

int trace_args_option(struct trace_args *ta, int opt, const char *arg, const char *cmd)
{
	uint64_t v;

	switch (opt) {
	case OPT_TRACE:
		if (ta->path) {
			usage_error(cmd, "more than one trace given");
			return -1;
		}
		ta->path = arg;
		return 1;
	case OPT_TRACE_FORMAT:
		if (trace_format_parse(arg, &ta->load.format)) {
			usage_error(cmd, "--trace-format: '%s' is not auto, bailian or mooncake", arg);
			return -1;
		}
		return 1;
	case OPT_BLOCK_SIZE:
		if (parse_u64_arg(arg, 1, 1u << 20, &v)) {
			usage_error(cmd, "--block-size: '%s' is not an integer in [1, 1048576]", arg);
			return -1;
		}
		ta->load.block_size = (uint32_t)v;
		return 1;
	case OPT_LENIENT:
		ta->load.lenient = 1;
		return 1;
	case OPT_SORT:
		ta->load.sort = 1;
		return 1;
	}
	return 0;
}

int cache_args_option(struct cache_args *ca, int opt, const char *arg, const char *cmd)
{
	uint64_t v;

	switch (opt) {
	case 'p':
		ca->policies = (char *)arg;
		return 1;
	case 'c':
		ca->capacities = (char *)arg;
		return 1;
	case OPT_CACHE_MODEL:
		ca->model = arg;
		return 1;
	case OPT_CACHE_KV_BPT:
		if (parse_u64_arg(arg, 1, UINT32_MAX, &ca->kv_bpt_override)) {
			usage_error(cmd, "--kv-bytes-per-token: '%s' is not a positive integer", arg);
			return -1;
		}
		return 1;
	case OPT_CACHE_HIT_RULE:
		if (cache_hit_rule_parse(arg, &ca->hit_rule)) {
			usage_error(cmd, "--hit-rule: '%s' is not prefix or vllm", arg);
			return -1;
		}
		return 1;
	case 'f':
		if (!strcmp(arg, "text"))
			ca->format = KV_OUT_TEXT;
		else if (!strcmp(arg, "csv"))
			ca->format = KV_OUT_CSV;
		else if (!strcmp(arg, "json"))
			ca->format = KV_OUT_JSON;
		else {
			usage_error(cmd, "--format: '%s' is not text, csv or json", arg);
			return -1;
		}
		return 1;
	case 'o':
		ca->out_dir = arg;
		return 1;
	case 'j':
		if (parse_u64_arg(arg, 1, 64, &v)) {
			usage_error(cmd, "--jobs: '%s' is not an integer in [1, 64]", arg);
			return -1;
		}
		ca->threads = (int)v;
		return 1;
	}
	return 0;
}

int trace_args_positional(struct trace_args *ta, int argc, char **argv, const char *cmd)
{
	if (optind < argc) {
		if (ta->path) {
			usage_error(cmd, "more than one trace given ('%s' and '%s')", ta->path,
				    argv[optind]);
			return -1;
		}
		ta->path = argv[optind++];
	}
	if (optind < argc) {
		usage_error(cmd, "unexpected argument '%s'", argv[optind]);
		return -1;
	}
	return 0;
}

/* The bundled default trace (see datapath.h for where it is looked up). */
static const char *default_trace(void)
{
	static char buf[PATH_MAX + 64];

	kv_data_path(KVSIM_DEFAULT_TRACE, buf, sizeof(buf));
	return buf;
}

int trace_args_load(struct trace_args *ta, struct kv_trace **out)
{
	struct kv_err err = {{0}};
	int rc;

	if (!ta->path) {
		ta->path = default_trace();
		if (stderr_is_tty())
			fprintf(stderr, "kvsim: no trace given, using the bundled %s\n", ta->path);
	}
	rc = trace_load(ta->path, &ta->load, out, &err);
	if (rc) {
		struct rlimit rl;

		fprintf(stderr, "%s\n", err.msg);
		if (rc == KV_ERUNTIME && strstr(err.msg, "out of memory")) {
			char lim[64] = "unlimited";

			if (!getrlimit(RLIMIT_AS, &rl) && rl.rlim_cur != RLIM_INFINITY)
				snprintf(lim, sizeof(lim), "%llu MiB",
					 (unsigned long long)(rl.rlim_cur >> 20));
			fprintf(stderr, "kvsim: the trace needs more memory than this process may use "
				"(address-space limit: %s); loading takes about %s (see --help)\n",
				lim, KV_TRACE_MEMORY_HELP);
		}
		return rc;
	}
	if ((*out)->skipped.total) {
		const struct kv_skip_stats *s = &(*out)->skipped;
		fprintf(stderr, "kvsim: --lenient skipped %llu bad records:\n",
			(unsigned long long)s->total);
		for (int i = 0; i < s->nreasons; i++)
			fprintf(stderr, "  %8llu  %s (first on line %llu)\n",
				(unsigned long long)s->r[i].count, s->r[i].reason,
				(unsigned long long)s->r[i].first_line);
	}
	return KV_OK;
}

int kv_bytes_per_token_arg(const char *model, uint64_t override, uint64_t *out,
			   const char *cmd)
{
	const struct kv_model *m;

	if (override) {
		*out = override;
		return 0;
	}
	m = kv_model_find(model);
	if (!m) {
		usage_error(cmd, "unknown --model '%s' (known: %s; or give --kv-bytes-per-token)",
			    model, kv_model_names());
		return -1;
	}
	*out = kv_model_kv_bytes_per_token(m);
	return 0;
}

double kv_now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

int stderr_is_tty(void)
{
	return isatty(2);
}
