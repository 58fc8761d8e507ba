/*
 * cmd_analyze.c - `kvsim analyze TRACE [--out DIR]`: characterises a trace (workload,
 * sessions and turns, reuse time and stack distance, skew, infinite-cache ceilings), writes
 * CSV tables and summary.json under DIR and prints a digest. See docs/analysis.md.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "analyze.h"
#include "cmd.h"

enum { FMT_TEXT, FMT_JSON };

enum {
	OPT_WINDOW = OPT_COMMON_END + 1,
};

static void analyze_help(void)
{
	printf(
"usage: kvsim analyze [OPTIONS] [TRACE]\n\n"
"Characterises a trace: workload (arrivals, lengths, types), sessions and turns (Bailian),\n"
"reuse time and LRU stack distance of every block access (overall and by request type),\n"
"skew, and the infinite-cache ceilings (overall, per type, per turn). Writes CSV tables and\n"
"summary.json under DIR and prints a digest on stdout. Definitions: docs/analysis.md.\n\n"
"options:\n"
"  -o, --out DIR           output folder (default results/analyze/<trace name>)\n"
"  --window S              arrival-rate window in seconds (default 60)\n"
"  -f, --format F          stdout: text digest (default) or json (the summary.json)\n"
TRACE_OPTIONS_HELP
"\nexamples:\n"
"  kvsim analyze trace.jsonl.gz\n"
"  kvsim analyze --out results/analyze/conv --window 300 conversation_trace.jsonl.gz\n");
}

/* results/analyze/<name>: the trace's file name without folders and .gz/.jsonl/.json/.kvt. */
static void default_out(const char *path, char *buf, size_t len)
{
	static const char *const ext[] = {".gz", ".jsonl", ".json", ".kvt"};
	const char *base = strrchr(path, '/');
	char name[1024];

	snprintf(name, sizeof(name), "%s", base ? base + 1 : path);
	if (!strcmp(name, "-") || !name[0])
		snprintf(name, sizeof(name), "stdin");
	for (size_t i = 0; i < sizeof(ext) / sizeof(ext[0]); i++) {
		size_t n = strlen(name), e = strlen(ext[i]);

		if (n > e && !strcmp(name + n - e, ext[i]))
			name[n - e] = 0;
	}
	snprintf(buf, len, "results/analyze/%s", name);
}

static int analyze_main(int argc, char **argv)
{
	static const struct option longopts[] = {
		TRACE_LONG_OPTIONS,
		{"out", required_argument, NULL, 'o'},
		{"window", required_argument, NULL, OPT_WINDOW},
		{"format", required_argument, NULL, 'f'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	struct trace_args ta = {0};
	struct analyze_opts ao = {.window_s = 60};
	struct analysis an;
	struct kv_trace *t = NULL;
	struct kv_err err = {{0}};
	const char *out_dir = NULL;
	char dir[1200];
	int opt, fmt = FMT_TEXT, rc;
	double t0, load_s, run_s;

	memset(&an, 0, sizeof(an));
	optind = 1;
	while ((opt = getopt_long(argc, argv, "o:f:h", longopts, NULL)) != -1) {
		int r = trace_args_option(&ta, opt, optarg, "analyze");

		if (r < 0)
			return KV_EINPUT;
		if (r > 0)
			continue;
		switch (opt) {
		case 'o':
			out_dir = optarg;
			break;
		case OPT_WINDOW:
			if (parse_double_arg(optarg, 1e-3, 1e9, &ao.window_s))
				return usage_error("analyze", "--window: '%s' is not a number of "
							      "seconds in [0.001, 1e9]", optarg);
			break;
		case 'f':
			if (!strcmp(optarg, "text"))
				fmt = FMT_TEXT;
			else if (!strcmp(optarg, "json"))
				fmt = FMT_JSON;
			else
				return usage_error("analyze", "--format: '%s' is not text or json",
						   optarg);
			break;
		case 'h':
			analyze_help();
			return KV_OK;
		default:
			return usage_error("analyze", "unknown option");
		}
	}
	if (trace_args_positional(&ta, argc, argv, "analyze"))
		return KV_EINPUT;
	t0 = kv_now_s();
	if ((rc = trace_args_load(&ta, &t)))
		return rc;
	load_s = kv_now_s() - t0;
	if (!out_dir) {
		default_out(t->path, dir, sizeof(dir));
		out_dir = dir;
	}
	t0 = kv_now_s();
	if ((rc = analyze_run(t, &ao, &an, &err))) {
		fprintf(stderr, "kvsim analyze: %s\n", err.msg);
		goto out;
	}
	run_s = kv_now_s() - t0;
	if ((rc = analyze_write_dir(&an, out_dir, &err))) {
		fprintf(stderr, "kvsim analyze: --out: %s\n", err.msg);
		goto out;
	}
	if (fmt == FMT_JSON) {
		json_t *js = analyze_summary_json(&an);

		json_dumpf(js, stdout, JSON_INDENT(2) | JSON_REAL_PRECISION(10));
		putchar('\n');
		json_decref(js);
	} else {
		analyze_print_digest(stdout, &an);
		printf("output     %s (CSV tables and summary.json)\n", out_dir);
	}
	fprintf(stderr, "kvsim analyze: load %.3f s, analysis %.3f s\n", load_s, run_s);
	if (fflush(stdout) || ferror(stdout)) {
		fprintf(stderr, "kvsim analyze: writing the digest failed\n");
		rc = KV_ERUNTIME;
	}
out:
	analyze_free(&an);
	trace_free(t);
	return rc;
}

const struct kv_cmd cmd_analyze = {"analyze", "trace characterisation: reuse, sessions, skew, "
					      "ceilings (CSV + summary.json)", analyze_main};
