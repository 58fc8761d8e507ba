/*
 * test_main.c - runs every CUnit suite. Adding a suite: a tests/test_*.c exporting
 * `int suite_NAME(void)` and one row in the table below.
 */
#include <CUnit/Basic.h>
#include <stdio.h>
#include <string.h>

#include "test_util.h"

#define SUITES(X)   \
	X(params)   \
	X(capacity) \
	X(record)   \
	X(trace)    \
	X(load_pipe) \
	X(cache)    \
	X(mrc)      \
	X(kvt)      \
	X(policies) \
	X(timed)    \
	X(route)    \
	X(cli)      \
	X(sweep)       \
	X(analyze)     \
	X(gen)         \
	X(live)        \
	X(fuzz_corpus) \
	X(bad)         \
	X(determinism)

#define DECLARE(name) int suite_##name(void);
SUITES(DECLARE)

static const struct {
	const char *name;
	tu_suite_fn fn;
} suites[] = {
#define ROW(name) {#name, suite_##name},
	SUITES(ROW)
};

int main(int argc, char **argv)
{
	unsigned failed;

	if (CU_initialize_registry() != CUE_SUCCESS)
		return 1;
	for (size_t i = 0; i < sizeof(suites) / sizeof(suites[0]); i++) {
		if (argc > 1 && strcmp(argv[1], suites[i].name))
			continue;
		if (suites[i].fn()) {
			fprintf(stderr, "cannot register suite %s\n", suites[i].name);
			return 1;
		}
	}
	CU_basic_set_mode(CU_BRM_NORMAL);
	CU_basic_run_tests();
	failed = CU_get_number_of_failures() + CU_get_number_of_tests_failed();
	printf("\n%u passed, %u failed\n",
	       CU_get_number_of_tests_run() - CU_get_number_of_tests_failed(),
	       CU_get_number_of_tests_failed());
	CU_cleanup_registry();
	return failed ? 1 : 0;
}
