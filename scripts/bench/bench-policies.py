#!/usr/bin/env python3
"""bench-policies.py - speed of every eviction policy in cache mode, and of a parallel sweep.

For each policy, runs `kvsim --policy P,P,P --capacity CAP -f json TRACE` (three runs of
the same job in one process, the trace parsed once) and reports the wall time of the first
run (cold memory) and the best of the last two (warm) as kvsim reports them; and, because
the machine is shared, the CPU time of one run: (CPU of a process doing 1 + R runs - CPU of
a process doing 1 run) / R, from getrusage, which other processes' load does not inflate.
Then times a 5-policy x 4-capacity sweep run one job per process (20 processes, parse
excluded by subtracting each process's load_s) and in one process with -j 1 and -j 2 (wall
time minus load_s). Prints CSV on stdout.

usage: scripts/bench/bench-policies.py [--bin bin/kvsim] [--capacity 10%] TRACE
"""
import argparse
import json
import resource
import subprocess
import sys
import time

POLICIES = ["lru", "fifo", "lfu", "arc", "s3fifo", "sieve", "session", "wa", "belady"]
SWEEP_POLICIES = "lru,s3fifo,session,wa,belady"
SWEEP_CAPS = "1%,5%,10%,25%"


def kvsim(binary, args):
    out = subprocess.run([binary] + args + ["-f", "json"], check=True,
                         stdout=subprocess.PIPE).stdout
    return json.loads(out)


def cpu_of(binary, args):
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    s = kvsim(binary, args)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime), s


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", default="bin/kvsim")
    ap.add_argument("--capacity", default="10%")
    ap.add_argument("--repeat", type=int, default=4)
    ap.add_argument("trace")
    a = ap.parse_args()

    print("what,policy,capacity,block_accesses,first_run_s,warm_run_s,cpu_run_s,"
          "cpu_accesses_per_s,cpu_vs_lru")
    lru_cpu = None
    for p in POLICIES:
        s = kvsim(a.bin, ["--policy", ",".join([p] * 3), "--capacity", a.capacity, a.trace])
        runs = s["timing"]["run_s"]
        nblk = s["results"][0]["blocks"]
        warm = min(runs[1:])
        c1, _ = cpu_of(a.bin, ["--policy", p, "--capacity", a.capacity, a.trace])
        cn, _ = cpu_of(a.bin, ["--policy", ",".join([p] * (1 + a.repeat)), "--capacity",
                               a.capacity, a.trace])
        cpu = max(cn - c1, 1e-9) / a.repeat
        if p == "lru":
            lru_cpu = cpu
        print("policy,%s,%s,%d,%.6f,%.6f,%.6f,%.0f,%.2f" % (p, a.capacity, nblk, runs[0], warm,
                                                           cpu, nblk / cpu, cpu / lru_cpu))
    one_by_one = 0.0
    for p in SWEEP_POLICIES.split(","):
        for c in SWEEP_CAPS.split(","):
            t0 = time.monotonic()
            s = kvsim(a.bin, ["--policy", p, "--capacity", c, a.trace])
            one_by_one += time.monotonic() - t0 - s["timing"]["load_s"]
    print("sweep-20-processes,%s,%s,,,%.6f,,," % (SWEEP_POLICIES.replace(",", "+"),
                                                SWEEP_CAPS.replace(",", "+"), one_by_one))
    for j in (1, 2):
        t0 = time.monotonic()
        s = kvsim(a.bin, ["--policy", SWEEP_POLICIES, "--capacity", SWEEP_CAPS, "-j", str(j),
                          a.trace])
        wall = time.monotonic() - t0
        sum_runs = sum(s["timing"]["run_s"])
        print("sweep-j%d,%s,%s,%d,%.6f,%.6f,,wall_s=%.3f load_s=%.3f"
              % (j, SWEEP_POLICIES.replace(",", "+"), SWEEP_CAPS.replace(",", "+"),
                 s["results"][0]["blocks"], sum_runs, wall - s["timing"]["load_s"], wall,
                 s["timing"]["load_s"]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
