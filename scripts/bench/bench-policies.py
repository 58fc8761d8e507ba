#!/usr/bin/env python3
"""bench-policies.py - speed of every eviction policy in cache mode, and of a parallel sweep.

For each policy, runs `kvsim --policy P,P,...  --capacity CAP -f json TRACE` (1 + R runs of
the same job in one process, the trace parsed once) and reports, from kvsim's timing
metadata, the wall and CPU time of the first run (cold memory) and the best of the other R
(warm), and block accesses per second of warm CPU time (CPU time of the running thread is
not inflated by other processes on a shared machine; wall time is).
Then times the 5-policy x 4-capacity sweep of issue 3 three ways: 20 processes one by one,
one process with -j 1, one process with -j 2 (wall time minus trace parsing, each).
Prints CSV on stdout.

usage: scripts/bench/bench-policies.py [--bin bin/kvsim] [--capacity 10%] [--repeat R]
                                      [--no-processes] TRACE
"""
import argparse
import json
import subprocess
import sys
import time

POLICIES = ["lru", "fifo", "lfu", "arc", "s3fifo", "sieve", "session", "wa", "belady"]
SWEEP_POLICIES = "lru,s3fifo,session,wa,belady"
SWEEP_CAPS = "1%,5%,10%,25%"


def kvsim(binary, args):
    t0 = time.monotonic()
    out = subprocess.run([binary] + args + ["-f", "json"], check=True,
                         stdout=subprocess.PIPE).stdout
    s = json.loads(out)
    return s, time.monotonic() - t0 - s["timing"]["load_s"]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", default="bin/kvsim")
    ap.add_argument("--capacity", default="10%")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--no-processes", action="store_true",
                    help="skip the 20-process sweep (slow on a large trace: 20 parses)")
    ap.add_argument("trace")
    a = ap.parse_args()

    print("what,policy,capacity,block_accesses,first_wall_s,first_cpu_s,warm_wall_s,"
          "warm_cpu_s,warm_cpu_accesses_per_s,warm_cpu_vs_lru")
    lru_cpu = None
    for p in POLICIES:
        s, _ = kvsim(a.bin, ["--policy", ",".join([p] * (1 + a.repeat)), "--capacity",
                             a.capacity, a.trace])
        wall, cpu = s["timing"]["run_s"], s["timing"]["run_cpu_s"]
        nblk = s["results"][0]["blocks"]
        warm_cpu = min(cpu[1:])
        if p == "lru":
            lru_cpu = warm_cpu
        print("policy,%s,%s,%d,%.6f,%.6f,%.6f,%.6f,%.0f,%.2f"
              % (p, a.capacity, nblk, wall[0], cpu[0], min(wall[1:]), warm_cpu,
                 nblk / warm_cpu, warm_cpu / lru_cpu))
    one_by_one = cpu_sum = 0.0
    for p in [] if a.no_processes else SWEEP_POLICIES.split(","):
        for c in SWEEP_CAPS.split(","):
            s, w = kvsim(a.bin, ["--policy", p, "--capacity", c, a.trace])
            one_by_one += w
            cpu_sum += s["timing"]["run_cpu_s"][0]
    if not a.no_processes:
        print("sweep-20-processes,%s,%s,,,,%.6f,%.6f,,"
              % (SWEEP_POLICIES.replace(",", "+"), SWEEP_CAPS.replace(",", "+"), one_by_one,
                 cpu_sum))
    for j in (1, 2):
        s, w = kvsim(a.bin, ["--policy", SWEEP_POLICIES, "--capacity", SWEEP_CAPS, "-j", str(j),
                             a.trace])
        print("sweep-j%d,%s,%s,,,,%.6f,%.6f,,"
              % (j, SWEEP_POLICIES.replace(",", "+"), SWEEP_CAPS.replace(",", "+"), w,
                 sum(s["timing"]["run_cpu_s"])))
    return 0


if __name__ == "__main__":
    sys.exit(main())
