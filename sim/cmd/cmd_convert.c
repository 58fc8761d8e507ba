/*
 * cmd_convert.c - `kvsim convert IN OUT.kvt`: parses a trace once and stores the parsed,
 * interned form (sim/core/trace_kvt.h), which every command then loads several times
 * faster than the JSONL, with identical results.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd.h"
#include "trace_kvt.h"

static void convert_help(void)
{
	printf(
"usage: kvsim convert [OPTIONS] IN OUT.kvt\n\n"
"Parses the trace IN (JSONL plain or gzip, '-' for stdin, or a .kvt) and writes its parsed,\n"
"interned form to OUT.kvt (written to a temporary file and renamed when complete). Every\n"
"command accepts the .kvt wherever it accepts a trace and gives the same results; records\n"
"skipped with --lenient are reported now and not stored.\n\n"
"options:\n"
TRACE_OPTIONS_HELP
"\nexample:\n"
"  kvsim convert traces/conversation.jsonl.gz /tmp/conversation.kvt\n"
"  kvsim sim --capacity 1%%,10%% /tmp/conversation.kvt\n");
}

static int convert_main(int argc, char **argv)
{
	static const struct option longopts[] = {
		TRACE_LONG_OPTIONS,
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	struct trace_args ta = {0};
	struct kv_trace *t = NULL;
	struct kv_err err = {{0}};
	const char *out;
	double t0;
	int opt, rc;

	optind = 1;
	while ((opt = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		int r = trace_args_option(&ta, opt, optarg, "convert");

		if (r < 0)
			return KV_EINPUT;
		if (r > 0)
			continue;
		if (opt == 'h') {
			convert_help();
			return 0;
		}
		return usage_error("convert", "unknown option");
	}
	if (argc - optind != 2 - (ta.path != NULL))
		return usage_error("convert", "give the input trace and the output .kvt");
	if (!ta.path)
		ta.path = argv[optind++];
	out = argv[optind];
	t0 = kv_now_s();
	if ((rc = trace_args_load(&ta, &t)))
		return rc;
	t0 = kv_now_s() - t0;
	if ((rc = trace_save_kvt(t, out, &err)))
		fprintf(stderr, "kvsim convert: %s\n", err.msg);
	else if (stderr_is_tty())
		fprintf(stderr, "kvsim convert: %zu requests, %" PRIu64 " block accesses, %u nodes "
			"(parsed in %.3f s) -> %s\n", t->nreq, t->nblk, t->nnodes, t0, out);
	trace_free(t);
	return rc;
}

const struct kv_cmd cmd_convert = {"convert", "store a parsed trace as a binary .kvt",
				   convert_main};
