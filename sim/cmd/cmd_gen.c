/*
 * cmd_gen.c - `kvsim gen`: writes a synthetic Bailian trace from a profile, or with
 * --check measures one against the profile's calibration targets (sim/gen/).
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd.h"
#include "gen.h"
#include "gen_check.h"

enum { OPT_PROFILE = 2000, OPT_DURATION, OPT_RATE_SCALE, OPT_SEED, OPT_CHECK, OPT_TOL_SCALE,
       OPT_KEEP };

static void gen_help(void)
{
	printf(
"usage: kvsim gen --profile P [--duration S] [--rate-scale X] [--seed N] -o FILE[.gz]\n"
"       kvsim gen --check --profile P [--duration S] [--rate-scale X] [--seed N]\n"
"                 [--tol-scale X] [--keep FILE]\n\n"
"Generates a synthetic trace in the Bailian JSONL schema (DESIGN.md section 2) whose\n"
"statistics follow a profile: sessions with follow-up turns that reuse their context,\n"
"shared heads with skewed popularity, per-type lengths, bursty arrivals (docs/gen.md).\n\n"
"options:\n"
"  -p, --profile P         to-c, to-b, thinking, coder (bundled, traces/profiles/P.json)\n"
"                          or a profile JSON file\n"
"  -d, --duration S        seconds of trace (default: the profile's span, 7200 for the\n"
"                          bundled ones)\n"
"  -r, --rate-scale X      multiply the session arrival rate by X (default 1)\n"
"  -s, --seed N            random seed (default 1); same seed, same bytes\n"
"  -o, --out FILE          output file; .gz is gzip (deterministic bytes); - is stdout\n"
"  --check                 generate and print each calibration target of the profile\n"
"                          next to the generated value, tolerance and PASS/FAIL (exit 1\n"
"                          when a row fails); counts are scaled to --duration\n"
"  --tol-scale X           multiply every --check tolerance by X (default 1)\n"
"  --keep FILE             with --check, also keep the generated trace in FILE\n\n"
"examples:\n"
"  kvsim gen --profile to-c --duration 600 -o to-c-10min.jsonl.gz\n"
"  kvsim gen --profile to-b --rate-scale 2 --seed 7 -o to-b-2x.jsonl\n"
"  kvsim gen --check --profile coder\n");
}

static int gen_main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{"profile", required_argument, NULL, 'p'},
		{"duration", required_argument, NULL, 'd'},
		{"rate-scale", required_argument, NULL, 'r'},
		{"seed", required_argument, NULL, 's'},
		{"out", required_argument, NULL, 'o'},
		{"check", no_argument, NULL, OPT_CHECK},
		{"tol-scale", required_argument, NULL, OPT_TOL_SCALE},
		{"keep", required_argument, NULL, OPT_KEEP},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	struct gen_check_opts co = {{0, 1, 1}, 1, NULL};
	const char *profile = NULL, *out = NULL;
	struct gen_profile *p = NULL;
	struct kv_err err = {{0}};
	struct gen_stats st;
	int opt, check = 0, failed = 0, rc;
	double t0;

	optind = 1;
	while ((opt = getopt_long(argc, argv, "p:d:r:s:o:h", longopts, NULL)) != -1) {
		switch (opt) {
		case 'p':
			profile = optarg;
			break;
		case 'd':
			if (parse_double_arg(optarg, 0.001, 1e8, &co.gen.duration_s))
				return usage_error("gen", "--duration: '%s' is not a number of seconds "
						   "in [0.001, 1e8]", optarg);
			break;
		case 'r':
			if (parse_double_arg(optarg, 1e-6, 1e6, &co.gen.rate_scale))
				return usage_error("gen", "--rate-scale: '%s' is not a number in "
						   "[1e-6, 1e6]", optarg);
			break;
		case 's':
			if (parse_u64_arg(optarg, 0, UINT64_MAX, &co.gen.seed))
				return usage_error("gen", "--seed: '%s' is not a non-negative integer",
						   optarg);
			break;
		case 'o':
			out = optarg;
			break;
		case OPT_CHECK:
			check = 1;
			break;
		case OPT_TOL_SCALE:
			if (parse_double_arg(optarg, 0.01, 100, &co.tol_scale))
				return usage_error("gen", "--tol-scale: '%s' is not a number in "
						   "[0.01, 100]", optarg);
			break;
		case OPT_KEEP:
			co.keep_path = optarg;
			break;
		case 'h':
			gen_help();
			return 0;
		default:
			return usage_error("gen", "unknown option");
		}
	}
	if (optind < argc)
		return usage_error("gen", "unexpected argument '%s'", argv[optind]);
	if (!profile)
		return usage_error("gen", "give a --profile (to-c, to-b, thinking, coder or a file)");
	if (!check && !out)
		return usage_error("gen", "give an output file with -o (or --check)");
	if (!check && co.keep_path)
		return usage_error("gen", "--keep goes with --check (without it, -o is the trace)");
	if (check && out)
		return usage_error("gen", "--check writes no trace; use --keep FILE to keep it");
	if ((rc = gen_profile_load(profile, &p, &err))) {
		fprintf(stderr, "kvsim gen: %s\n", err.msg);
		return rc;
	}
	t0 = kv_now_s();
	if (check) {
		rc = gen_check_run(p, &co, stdout, &failed, &err);
		if (!rc && failed) {
			fprintf(stderr, "kvsim gen: --check: %d row(s) out of tolerance\n", failed);
			rc = KV_ERUNTIME;
		}
	} else {
		rc = gen_write_jsonl(p, &co.gen, out, &st, &err);
		if (!rc && stderr_is_tty())
			fprintf(stderr, "kvsim gen: %" PRIu64 " requests, %" PRIu64 " blocks, at most "
				"%" PRIu64 " live sessions, %.1f s\n", st.requests, st.blocks,
				st.live_sessions_max, kv_now_s() - t0);
	}
	if (rc && err.msg[0])
		fprintf(stderr, "kvsim gen: %s\n", err.msg);
	gen_profile_free(p);
	return rc;
}

const struct kv_cmd cmd_gen = {"gen", "generate a synthetic Bailian trace from a profile",
			       gen_main};
