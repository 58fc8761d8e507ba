/*
 * runner.h - runs the jobs of a sweep plan as child processes, N at a time, with resumable,
 * atomic results.
 *
 * Results of job ID live in DIR/ID/:
 *   result.csv  the job's stdout, present only when the job exited 0 (renamed into place
 *               last, so its presence means "done"; a rerun skips the job)
 *   stderr.txt  the job's stderr of that run
 *   run.txt     provenance: job number, command, host, exit status, wall seconds
 *   failed      present only when the last run failed: exit code or signal, command, host,
 *               then the job's stderr; a rerun retries the job and removes it on success
 * Every file is written to ".tmp.HOST.PID.NAME" in the same folder and renamed, so a killed
 * runner leaves no half-written result; its leftovers are removed by the next run on the same
 * host once their PID is gone. Children get SIGKILL when the runner dies (PR_SET_PDEATHSIG).
 * A runner holds an flock on DIR/ID/.lock while job ID runs: runners sharing a results folder
 * (two `sweep run` at once, a resubmitted Slurm task) pass over a job another one runs, and
 * at the end wait for it; a job that failed in another runner during this run is counted as
 * failed, not run again.
 */
#ifndef KV_SWEEP_RUNNER_H
#define KV_SWEEP_RUNNER_H

#include "plan.h"

struct sweep_run_opts {
	const char *dir;           /* results folder (created) */
	int jobs;                  /* children at once, >= 1 */
	const unsigned char *only; /* NULL: every job; else sel[i] for job i (1..n) */
	const char *exe;           /* program to run for "kvsim" (e.g. "/proc/self/exe") */
	int progress;              /* a progress line on stderr */
};

struct sweep_run_stats {
	size_t selected, skipped, ran, ok, failed;
	size_t failed_other; /* of failed: run and failed by another runner during this run */
};

/* Runs the selected jobs that are not done. Returns KV_OK when the runner itself worked
 * (job failures are counted in st->failed and recorded on disk), else a status. */
int sweep_run(const struct sweep_plan *p, const struct sweep_run_opts *o,
	      struct sweep_run_stats *st, struct kv_err *err);

/* The file NAME of job j under dir into buf. */
void sweep_job_path(const char *dir, const struct sweep_job *j, const char *name, char *buf,
		    size_t len);

/* Is job j done (DIR/ID/result.csv exists)? */
int sweep_job_done(const char *dir, const struct sweep_job *j);

#endif
