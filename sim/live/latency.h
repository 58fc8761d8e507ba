/*
 * latency.h - scheduling hints for the live event loops (replay's dispatcher, serve).
 *
 * Both loops sleep most of the time and must react within a fraction of a millisecond when
 * a deadline or a packet comes. On a shared machine the kernel's default time slice (about
 * 3 ms under EEVDF) decides how long a woken task waits for a busy CPU. latency_hint() asks
 * for a short slice (Linux 6.12+ takes sched_attr.sched_runtime as the slice of a normal
 * task) and a small timer slack. It changes neither the priority nor the share of CPU a
 * task gets, only how soon it runs after waking; it is silently ignored where unsupported.
 * On this project's shared 2-core machine it cut replay's p50 dispatch lateness from about
 * 4 ms to under 2 ms and its p99 several-fold (docs/live.md). KVSIM_SLICE_NS overrides the
 * slice (default 100000; 0 leaves the scheduler alone).
 */
#ifndef KV_LIVE_LATENCY_H
#define KV_LIVE_LATENCY_H

void latency_hint(void);

#endif
