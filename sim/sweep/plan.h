/*
 * plan.h - a sweep plan: the cross product of traces x policies x capacities (x routers x
 * instances x rate scales) as one job per line of a TSV file.
 *
 * Each job carries a stable id (16 hex digits) derived from the trace's content checksum
 * (trace_checksum) and every word of its command except the trace path, so the same job gets
 * the same id whatever folder the trace sits in, and results stay valid across re-plans. The
 * command is the exact `kvsim ...` line, shell-quoted, so it can be pasted into a shell; the
 * runner splits it back into words (sweep_split_words) and executes it as the same binary.
 *
 * File format (UTF-8, tab-separated, '#' lines are comments):
 *   # kvsim sweep plan v1 ...
 *   #job  job_id  trace  trace_checksum  policy  capacity  router  instances  rate_scale  command
 *   1     9f3c...  /abs/a.jsonl  0123...  lru  4  (empty when not swept)  kvsim sim ...
 * Jobs are numbered 1..N in file order (the `job` column must say so): job i is Slurm array
 * task i and `kvsim sweep run --only i`.
 */
#ifndef KV_SWEEP_PLAN_H
#define KV_SWEEP_PLAN_H

#include <stdint.h>
#include <stdio.h>

#include "error.h"

#define SWEEP_PLAN_MAGIC "# kvsim sweep plan v1"
#define SWEEP_PLAN_COLUMNS \
	"job\tjob_id\ttrace\ttrace_checksum\tpolicy\tcapacity\trouter\tinstances\trate_scale\tcommand"
#define SWEEP_ID_LEN 16
#define SWEEP_MAX_JOBS 10000000

struct sweep_job {
	size_t index;              /* 1-based job number */
	size_t lineno;             /* line in the plan file it was read from (0: built) */
	char id[SWEEP_ID_LEN + 1]; /* 16 lowercase hex digits */
	char *trace;               /* path as in the command */
	char checksum[17];         /* trace_checksum in hex */
	char *policy, *capacity;   /* as in the command */
	char *router, *instances, *rate_scale; /* "" when the sweep has no such axis */
	char *command;             /* shell-quoted command line, first word "kvsim" */
	int argc;                  /* the command split into words (argv[argc] == NULL) */
	char **argv;
};

struct sweep_plan {
	struct sweep_job *job;
	size_t n;
};

/* The axes of a sweep, each a list of values (n = 0: axis absent, except traces, policies
 * and capacities which need at least one). `base` holds the words that go into every command
 * after the swept options and before the trace (load options, user extras). */
struct sweep_axes {
	char **traces;  size_t ntraces;   /* absolute paths */
	char **checksums;                 /* hex, one per trace */
	char **policies; size_t npolicies;
	char **capacities; size_t ncapacities;
	char **routers; size_t nrouters;
	char **instances; size_t ninstances;
	char **rate_scales; size_t nrate_scales;
	char **base; size_t nbase;
};

/* Builds the cross product (traces outermost, rate scales innermost). O(jobs). */
int sweep_plan_build(const struct sweep_axes *ax, struct sweep_plan *out, struct kv_err *err);

/* Writes the plan as TSV. Fails on a value holding a tab or newline. */
int sweep_plan_write(FILE *f, const struct sweep_plan *p, struct kv_err *err);

/* Reads a plan file ("PATH:LINE: what is wrong" on bad input). */
int sweep_plan_read(const char *path, struct sweep_plan *out, struct kv_err *err);

void sweep_plan_free(struct sweep_plan *p);

/* The id of a job: a 64-bit hash of the checksum and the command words other than the trace
 * path (word trace_word), as 16 hex digits into id[17]. O(command length). */
void sweep_job_id(const char *checksum, char *const *argv, int argc, int trace_word,
		  char id[SWEEP_ID_LEN + 1]);

/* Appends one word to buf, single-quoted when it holds anything but [A-Za-z0-9_@%+=:,./-].
 * Returns 0, or -1 when buf is too small. */
int sweep_quote_word(const char *word, char *buf, size_t len);

/* Splits a command line into words: blanks separate words; '...' quotes literally; "..."
 * quotes with \" \\ \$ \` escapes; a backslash outside quotes escapes the next character.
 * Refuses shell syntax it cannot honour ($, `, |, ;, &, <, >, (, ), unquoted globs, and $ or
 * ` inside double quotes). The words are allocated (NULL-terminated array). */
int sweep_split_words(const char *s, char ***argv_out, int *argc_out, struct kv_err *err);

/* Parses a job selection "3", "1-5,9" into a bitmap of n+1 bytes (index 1..n). */
int sweep_parse_selection(const char *s, size_t n, unsigned char **sel_out, struct kv_err *err);

/* Writes the 1-based job numbers set in sel as "1-3,7" (Slurm --array syntax). */
void sweep_print_ranges(FILE *f, const unsigned char *sel, size_t n);

#endif
