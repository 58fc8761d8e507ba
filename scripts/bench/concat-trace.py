#!/usr/bin/env python3
"""concat-trace.py - a larger benchmark trace: COPIES copies of a Mooncake JSONL trace, one
after the other in time, with disjoint hash ids (copy k adds k * (max id + 1) to every id
and k * (last timestamp + 1000) to every timestamp), so copies share no block.

usage: scripts/bench/concat-trace.py IN.jsonl[.gz] OUT.jsonl[.gz] COPIES
"""
import gzip
import json
import sys


def opener(path, mode):
    return gzip.open(path, mode + "t") if path.endswith(".gz") else open(path, mode)


def main():
    if len(sys.argv) != 4:
        sys.stderr.write(__doc__)
        return 2
    src, dst, copies = sys.argv[1], sys.argv[2], int(sys.argv[3])
    with opener(src, "r") as f:
        recs = [json.loads(line) for line in f if line.strip()]
    max_id = max(max(r["hash_ids"], default=0) for r in recs)
    span = max(r["timestamp"] for r in recs) + 1000
    with opener(dst, "w") as out:
        for k in range(copies):
            for r in recs:
                q = dict(r)
                q["timestamp"] = r["timestamp"] + k * span
                q["hash_ids"] = [h + k * (max_id + 1) for h in r["hash_ids"]]
                out.write(json.dumps(q, separators=(",", ":")) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
