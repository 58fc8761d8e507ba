/*
 * test_util.h - helpers shared by the CUnit suites: fixture files, running bin/kvsim,
 * finding the real traces.
 */
#ifndef KV_TEST_UTIL_H
#define KV_TEST_UTIL_H

#include <CUnit/CUnit.h>
#include <stddef.h>

#include "trace.h"

/* A suite registers itself with CU_add_suite/CU_add_test and returns 0 (or -1). */
typedef int (*tu_suite_fn)(void);

/* Writes content to a file in the test's temporary folder and returns its path (owned by
 * the helper, valid until exit). */
const char *tu_write(const char *name, const char *content);
/* Same, for binary content of a given length. */
const char *tu_write_bytes(const char *name, const void *content, size_t len);
/* A path in the temporary folder (not created). */
const char *tu_path(const char *name);

/* Runs bin/kvsim (KVSIM_BIN) with args (NULL-terminated, without argv[0]) and optional stdin
 * data; returns the exit status (or 128+signal) and the captured output (caller frees). */
int tu_run(const char *const *args, const char *stdin_data, char **out, char **err);

/* Loads a trace from a string; returns NULL and fills err on failure. */
struct kv_trace *tu_load_str(const char *name, const char *jsonl, const struct kv_load_opts *o,
			     int *rc, struct kv_err *err);

/* Path of a real trace under $KVSIM_TRACES. When KVSIM_TRACES is set and the file is
 * missing, records a test failure; when unset, prints how to get the traces once. Returns
 * NULL when unavailable. */
const char *tu_real_trace(const char *file);

/* 1 when only in-process unit tests should run (valgrind). */
int tu_unit_only(void);

/* Copies a checked-in fixture (path relative to the repository) into the temporary folder
 * as `name` and returns the copy's path; a missing fixture fails the test. */
const char *tu_fixture(const char *fixture, const char *name);

/* Reads a whole file (caller frees); NULL if missing. */
char *tu_slurp(const char *path, size_t *len);

/* The n-th (0-based) line of text, copied into a static buffer. */
const char *tu_line(const char *text, int n);

/* The value of CSV column `col` (by header name) in data row `row` (0-based) of CSV text
 * with a header line; static buffer, "" when absent. */
const char *tu_csv(const char *csv, int row, const char *col);

#endif
