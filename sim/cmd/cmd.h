/*
 * cmd.h - subcommands. Each lives in its own cmd_*.c exporting one const struct kv_cmd,
 * listed in cmd_table.c (adding a subcommand: one file, one row).
 *
 * A command's main() returns the process exit status: 0 ok, 1 runtime failure, 2 bad input
 * or usage. Only commands print.
 */
#ifndef KV_CMD_H
#define KV_CMD_H

#include <getopt.h>
#include <stdint.h>

#include "cache.h"
#include "capacity.h"
#include "trace.h"

struct kv_cmd {
	const char *name;
	const char *summary; /* one line for `kvsim --help` */
	int (*main)(int argc, char **argv);
};

extern const struct kv_cmd *const kv_cmds[];

#define KVSIM_DEFAULT_TRACE "traces/sample/to-c-10min.jsonl.gz"

/* The options every command that reads a trace takes. */
struct trace_args {
	const char *path;            /* --trace or the positional argument */
	struct kv_load_opts load;
};

/* Long option ids shared by trace-reading commands (values above 256 are not chars). */
enum {
	OPT_TRACE = 1000,
	OPT_TRACE_FORMAT,
	OPT_BLOCK_SIZE,
	OPT_LENIENT,
	OPT_SORT,
	OPT_COMMON_END,
};

#define TRACE_LONG_OPTIONS                                                      \
	{"trace", required_argument, NULL, OPT_TRACE},                          \
	{"trace-format", required_argument, NULL, OPT_TRACE_FORMAT},            \
	{"block-size", required_argument, NULL, OPT_BLOCK_SIZE},                \
	{"lenient", no_argument, NULL, OPT_LENIENT},                            \
	{"sort", no_argument, NULL, OPT_SORT}

#define TRACE_OPTIONS_HELP                                                                 \
	"  --trace FILE            trace file (or as the positional argument); JSONL plain or\n" \
	"                          gzip, '-' for stdin, or a .kvt from `kvsim convert`\n"       \
	"  --trace-format F        auto (default), bailian or mooncake\n"                       \
	"  --block-size N          tokens per block (default: bailian 16, mooncake 512)\n"      \
	"  --lenient               skip bad records (counted by reason) instead of failing\n"  \
	"  --sort                  accept timestamps going backwards: stable-sort by time\n"  \
	"limits: 256 MiB per JSONL line, 2^24 blocks per request, 2^31-1 records,\n"          \
	"  2^32-2 chain nodes, 250 distinct \"type\" strings (\"\" included), JSON nesting\n"    \
	"  depth 64 inside a record. Loading takes about 4 B per block access + 48 B per\n"   \
	"  distinct chain node + 64 B per request; a trace beyond the memory the process\n"  \
	"  may use (e.g. under `ulimit -v`) fails with \"out of memory\", exit status 1.\n"

/* What loading a trace costs in memory (trace.h and intern.h sizes), for --help and the
 * out-of-memory hint. */
#define KV_TRACE_MEMORY_HELP \
	"4 B per block access + 48 B per distinct chain node + 64 B per request"

/* Output formats of commands that print results. */
enum kv_out_format { KV_OUT_TEXT = 0, KV_OUT_CSV, KV_OUT_JSON };

/* The options every command that runs a cache takes (sim, timed sim). */
struct cache_args {
	char *policies;            /* -p, --policy LIST */
	char *capacities;          /* -c, --capacity LIST */
	const char *model;         /* --model (KV bytes per token preset) */
	uint64_t kv_bpt_override;  /* --kv-bytes-per-token, 0 = from the model */
	enum kv_hit_rule hit_rule; /* --hit-rule */
	int format;                /* -f, --format: enum kv_out_format */
	const char *out_dir;       /* -o, --out DIR */
	int threads;               /* -j, --jobs N */
};

enum {
	OPT_CACHE_MODEL = OPT_COMMON_END + 1,
	OPT_CACHE_KV_BPT,
	OPT_CACHE_HIT_RULE,
	OPT_CACHE_END,
};

#define CACHE_SHORT_OPTIONS "p:c:f:o:j:"
#define CACHE_LONG_OPTIONS                                                      \
	{"policy", required_argument, NULL, 'p'},                               \
	{"capacity", required_argument, NULL, 'c'},                             \
	{"model", required_argument, NULL, OPT_CACHE_MODEL},                    \
	{"kv-bytes-per-token", required_argument, NULL, OPT_CACHE_KV_BPT},      \
	{"hit-rule", required_argument, NULL, OPT_CACHE_HIT_RULE},              \
	{"format", required_argument, NULL, 'f'},                               \
	{"out", required_argument, NULL, 'o'},                                  \
	{"jobs", required_argument, NULL, 'j'}

/* Handles a cache option (same contract as trace_args_option). */
int cache_args_option(struct cache_args *ca, int opt, const char *arg, const char *cmd);

/* Handles a shared option; returns 1 if handled, 0 if not, -1 on a bad value (message
 * printed). */
int trace_args_option(struct trace_args *ta, int opt, const char *arg, const char *cmd);

/* Takes the positional trace argument (at most one) after getopt. Returns -1 (message
 * printed) on extra arguments. */
int trace_args_positional(struct trace_args *ta, int argc, char **argv, const char *cmd);

/* Resolves the default trace when none was given (relative to the executable's tree, then
 * the current directory) and loads it; prints errors and skip counts. Returns an exit
 * status. */
int trace_args_load(struct trace_args *ta, struct kv_trace **out);

/* Prints "kvsim CMD: message" on stderr and returns 2. */
int usage_error(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Calls fn(cmd, item, ctx) on each item of a comma-separated spec list (kv_split_specs)
 * until one returns non-zero, which it returns. */
int each_spec(const char *cmd, const char *list,
	      int (*fn)(const char *cmd, const char *item, void *ctx), void *ctx);

/* Checks every policy of a --policy list (names, parameters and their values, see
 * evict_check) before any trace is loaded. Returns KV_OK or KV_EINPUT (reported). */
int check_policies(const char *cmd, const char *list);

/* The same for the syntax of a --capacity list (blocks need the trace: later). */
int check_capacities(const char *cmd, const char *list);

/* Parses a non-negative integer option value in [lo, hi]. */
int parse_u64_arg(const char *s, uint64_t lo, uint64_t hi, uint64_t *out);
int parse_double_arg(const char *s, double lo, double hi, double *out);

/* Resolves --model / --kv-bytes-per-token into bytes per token. Returns -1 with a message
 * printed when the model is unknown. */
int kv_bytes_per_token_arg(const char *model, uint64_t override, uint64_t *out,
			   const char *cmd);

/* Wall clock for timing reports (monotonic seconds). */
double kv_now_s(void);

/* Is stderr a terminal (progress output only then)? */
int stderr_is_tty(void);

#endif
