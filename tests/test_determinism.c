/*
 * test_determinism.c - the same command twice gives byte-identical results.
 *
 * For every registered eviction policy (evict_registry, so policies added later are covered
 * with no edit here), `kvsim sim` runs on a generated trace with shared prefixes, several
 * capacities, with -j 1 and -j 2, twice each, in CSV and JSON. CSV must be byte-identical
 * across all four runs; JSON must be byte-identical once the "timing" object (wall-clock
 * seconds, the only metadata allowed to vary) is removed. Timed mode does the same for every
 * registered router (route_registry) at once, on 3 instances, with its per-request CSV
 * (--requests) compared too.
 * Skipped under valgrind (KVSIM_UNIT_ONLY), like the other CLI suites.
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "registry.h"
#include "route_registry.h"
#include "test_util.h"

/* A Bailian trace of 3,000 requests over 200 sessions: each request extends a session's
 * prefix, so caches of any size see hits, misses and evictions. Deterministic LCG. */
static const char *det_trace(void)
{
	static const char *path;
	FILE *f;
	uint64_t x = 12345;
	int len[200] = {0};

	if (path)
		return path;
	path = tu_path("determinism.jsonl");
	f = fopen(path, "w");
	CU_ASSERT_PTR_NOT_NULL_FATAL(f);
	for (int r = 0; r < 3000; r++) {
		int s, add, n;

		x = x * 6364136223846793005ull + 1442695040888963407ull;
		s = (int)((x >> 33) % 200);
		add = 1 + (int)((x >> 20) % 6);
		len[s] = len[s] + add > 60 ? add : len[s] + add;
		n = len[s];
		fprintf(f, "{\"chat_id\":%d,\"parent_chat_id\":-1,\"timestamp\":%.3f,"
			   "\"input_length\":%d,\"output_length\":5,\"type\":\"text\",\"turn\":1,"
			   "\"hash_ids\":[",
			r, r * 0.25, n * 16 - (int)(x % 7));
		for (int i = 0; i < n; i++)
			fprintf(f, i ? ",%d" : "%d", s % 50 * 1000 + i); /* sessions share ids */
		fprintf(f, "]}\n");
	}
	CU_ASSERT_EQUAL_FATAL(fclose(f), 0);
	return path;
}

static char *run(const char *policy, const char *fmt, const char *jobs)
{
	const char *args[] = {"sim", "--policy", policy, "--capacity", "1%,7%,30%,100blocks,inf",
			      "--format", fmt, "--jobs", jobs, det_trace(), NULL};
	char *out = NULL, *err = NULL;
	int rc = tu_run(args, NULL, &out, &err);

	if (rc != 0)
		fprintf(stderr, "\n%s %s -j %s: exit %d: %s\n", policy, fmt, jobs, rc, err);
	CU_ASSERT_EQUAL(rc, 0);
	free(err);
	return out;
}

/* JSON text without the wall-clock "timing" object, re-dumped with sorted keys. */
static char *without_timing(const char *text)
{
	json_error_t e;
	json_t *j = json_loads(text, 0, &e);
	char *s;

	CU_ASSERT_PTR_NOT_NULL_FATAL(j);
	CU_ASSERT_PTR_NOT_NULL(json_object_get(j, "timing")); /* it is there to remove */
	json_object_del(j, "timing");
	s = json_dumps(j, JSON_SORT_KEYS | JSON_INDENT(1) | JSON_REAL_PRECISION(17));
	json_decref(j);
	return s;
}

static void test_same_bytes(void)
{
	int npol = 0;

	if (tu_unit_only())
		return;
	for (int i = 0; evict_registry[i]; i++, npol++) {
		const char *pol = evict_registry[i]->name;
		char *csv[4], *js[4];

		for (int k = 0; k < 4; k++) {
			const char *jobs = k < 2 ? "1" : "2";
			char *raw = run(pol, "json", jobs);

			csv[k] = run(pol, "csv", jobs);
			js[k] = raw ? without_timing(raw) : NULL;
			free(raw);
		}
		CU_ASSERT_PTR_NOT_NULL_FATAL(csv[0]);
		/* header + 5 capacity rows */
		CU_ASSERT_STRING_EQUAL(tu_line(csv[0], 6), "");
		CU_ASSERT_STRING_NOT_EQUAL(tu_line(csv[0], 5), "");
		for (int k = 1; k < 4; k++) {
			if (strcmp(csv[0], csv[k]) || strcmp(js[0], js[k]))
				fprintf(stderr, "\npolicy %s: run %d (-j %s) differs from run 0\n", pol,
					k, k < 2 ? "1" : "2");
			CU_ASSERT_STRING_EQUAL(csv[0], csv[k]);
			CU_ASSERT_STRING_EQUAL(js[0], js[k]);
		}
		for (int k = 0; k < 4; k++) {
			free(csv[k]);
			free(js[k]);
		}
	}
	CU_ASSERT(npol >= 1);
}

/* kvsim sim --timed with every router, -j 1 / -j 2; the per-request CSV goes to reqfile. */
static char *run_timed(const char *routers, const char *fmt, const char *jobs, const char *reqfile)
{
	const char *args[] = {"sim", "--timed", "--instances", "3", "--router", routers,
			      "--capacity", "300blocks,inf", "--end", "250", "--format", fmt,
			      "--jobs", jobs, "--requests", reqfile, det_trace(), NULL};
	char *out = NULL, *err = NULL;
	int rc = tu_run(args, NULL, &out, &err);

	if (rc != 0)
		fprintf(stderr, "\ntimed %s -j %s: exit %d: %s\n", fmt, jobs, rc, err);
	CU_ASSERT_EQUAL(rc, 0);
	free(err);
	return out;
}

static void test_timed_same_bytes(void)
{
	char routers[1024] = "", *csv[4], *js[4], *req[4];
	size_t off = 0;
	int nr = 0;

	if (tu_unit_only())
		return;
	for (int i = 0; route_registry[i]; i++, nr++)
		off += (size_t)snprintf(routers + off, sizeof(routers) - off, "%s%s", i ? "," : "",
					route_registry[i]->name);
	CU_ASSERT_FATAL(nr >= 1);
	for (int k = 0; k < 4; k++) {
		const char *jobs = k < 2 ? "1" : "2";
		char name[32];
		char *raw;

		snprintf(name, sizeof(name), "requests-%d.csv", k);
		csv[k] = run_timed(routers, "csv", jobs, tu_path(name));
		req[k] = tu_slurp(tu_path(name), NULL);
		raw = run_timed(routers, "json", jobs, tu_path("requests-json.csv"));
		js[k] = raw ? without_timing(raw) : NULL;
		free(raw);
		CU_ASSERT_PTR_NOT_NULL_FATAL(csv[k]);
		CU_ASSERT_PTR_NOT_NULL_FATAL(req[k]);
		CU_ASSERT_PTR_NOT_NULL_FATAL(js[k]);
	}
	/* one row per router x capacity (2) after the header */
	CU_ASSERT_STRING_NOT_EQUAL(tu_line(csv[0], 2 * nr), "");
	CU_ASSERT_STRING_EQUAL(tu_line(csv[0], 2 * nr + 1), "");
	for (int k = 1; k < 4; k++) {
		if (strcmp(csv[0], csv[k]) || strcmp(js[0], js[k]) || strcmp(req[0], req[k]))
			fprintf(stderr, "\ntimed run %d (-j %s) differs from run 0\n", k,
				k < 2 ? "1" : "2");
		CU_ASSERT_STRING_EQUAL(csv[0], csv[k]);
		CU_ASSERT_STRING_EQUAL(js[0], js[k]);
		CU_ASSERT_STRING_EQUAL(req[0], req[k]);
	}
	for (int k = 0; k < 4; k++) {
		free(csv[k]);
		free(js[k]);
		free(req[k]);
	}
}

int suite_determinism(void)
{
	CU_pSuite s = CU_add_suite("determinism", NULL, NULL);

	return !s || !CU_add_test(s, "same command, same bytes (every policy, -j 1 and -j 2)",
				  test_same_bytes) ||
	       !CU_add_test(s, "timed: same bytes for every router (-j 1 and -j 2)",
			    test_timed_same_bytes);
}
