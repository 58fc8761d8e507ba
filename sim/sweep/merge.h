/*
 * merge.h - one table from the results of a sweep.
 *
 * Columns: the core CSV columns of analysis/report.h (REPORT_CSV_HEADER, taken by name from
 * each job's result.csv, bytes as written), then the sweep's own: job, job_id, router,
 * instances, rate_scale (from the plan), then any other column some job's result has (for
 * example the latency columns of timed jobs), in order of first appearance, empty where a job
 * lacks it. One row per done job, in plan order.
 */
#ifndef KV_SWEEP_MERGE_H
#define KV_SWEEP_MERGE_H

#include <stdio.h>

#include "plan.h"

enum sweep_job_state { SWEEP_MISSING = 0, SWEEP_DONE, SWEEP_FAILED };

struct sweep_merge_stats {
	size_t done, missing, failed;
	unsigned char *todo; /* todo[i] = 1 when job i (1..n) is missing or failed; caller frees */
};

/* Writes the table of done jobs to out; lists each missing and failed job on report (one
 * line each: state, job number, id, parameters, and for a failure its exit status and last
 * stderr line). A done job whose result is not a one-row CSV with the core columns counts as
 * failed. Returns KV_OK unless the runner itself fails (I/O). */
int sweep_merge(const struct sweep_plan *p, const char *dir, FILE *out, FILE *report,
		struct sweep_merge_stats *st, struct kv_err *err);

/* Splits CSV text into the raw fields of its next record (quotes kept, so that fields can
 * be written back byte for byte). *pos advances past the record. Returns the number of
 * fields, 0 at the end of the text, -1 on an unterminated quote or more than max fields. */
int sweep_csv_record(const char *text, size_t *pos, const char **fields, size_t *lens,
		     int max);

/* Is text a whole result (a header and one row of as many fields, ending with a newline)?
 * A damaged result.csv (a crash between write and rename without the data on disk) is not,
 * and `sweep run` runs its job again. O(length). */
int sweep_result_complete(const char *text);

#endif
