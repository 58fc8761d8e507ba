/* latency.c - scheduling hints for the live event loops (see latency.h). */
#define _GNU_SOURCE
#include "latency.h"

#include <stdint.h>
#include <string.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

/* The kernel's struct sched_attr (not in glibc's headers before 2.41). */
struct kv_sched_attr {
	uint32_t size;
	uint32_t sched_policy;
	uint64_t sched_flags;
	int32_t sched_nice;
	uint32_t sched_priority;
	uint64_t sched_runtime;  /* SCHED_OTHER on 6.12+: the time slice, ns */
	uint64_t sched_deadline;
	uint64_t sched_period;
	uint32_t sched_util_min;
	uint32_t sched_util_max;
};

void latency_hint(void)
{
#ifdef SYS_sched_setattr
	struct kv_sched_attr a, cur;
	const char *env = getenv("KVSIM_SLICE_NS");
	uint64_t slice_ns = env ? strtoull(env, NULL, 10) : 100000; /* 0.1 ms; 0: leave it */

	memset(&cur, 0, sizeof(cur));
	if (syscall(SYS_sched_getattr, 0, &cur, sizeof(cur), 0) == 0 && cur.sched_policy == 0) {
		memset(&a, 0, sizeof(a));
		a.size = sizeof(a);
		a.sched_policy = 0;          /* SCHED_OTHER, as before */
		a.sched_nice = cur.sched_nice; /* unchanged */
		a.sched_runtime = slice_ns;
		if (!slice_ns)
			return;
		if (syscall(SYS_sched_setattr, 0, &a, 0)) {
			/* older kernels: nothing to do */
		}
	}
#endif
	/* 10 us; all five arguments (valgrind flagged the unset ones) */
	prctl(PR_SET_TIMERSLACK, 10000UL, 0UL, 0UL, 0UL);
}
