#!/bin/sh
# bench-core.sh - `make bench`: the core benchmark of issue 2 (and the mrc/.kvt figures of
# issue 3) on a large trace, against the targets.
#
#   scripts/bench/bench-core.sh [bin/kvsim]
#
# Builds build/bench/conv-xN.jsonl: the Mooncake conversation trace of $KVSIM_TRACES repeated
# N times (BENCH_COPIES, default 20: 5.77M block accesses, 76 MB of plain JSONL) with disjoint
# ids, then runs scripts/bench/bench-core.c (parse, LRU at 1%/10%/50%/inf, .kvt write, mrc
# vs one LRU run; then, in a fresh process like the parse, the .kvt load; then the record parser
# alone on the file in memory, for information) and measures the peak RSS of a `kvsim sim` run
# with /usr/bin/time, and `kvsim analyze` against one `kvsim sim` run (issue 5: at most 3x).
# Every figure is given in wall time (what a user of the 2-core machine waits for: the loader
# parses and interns on two threads, and a cache run initialises its block array on a second
# one) and in process CPU time (all threads: the work done, which gives no credit for the
# second thread). A verdict names the one that misses its target. Wall times suffer on a
# shared machine: measure on an idle one.
set -eu

BIN=${1:-bin/kvsim}
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
BUILD=${BUILD:-build/release}
OUT=$ROOT/build/bench
COPIES=${BENCH_COPIES:-20}
TRACES=${KVSIM_TRACES:-$ROOT/../shared/traces}
SRC=$TRACES/mooncake_fast25_conversation_trace.jsonl.gz
BIG=$OUT/conv-x$COPIES.jsonl
CC=${CC:-cc}

cd "$ROOT"
if [ ! -r "$SRC" ]; then
	echo "bench: $SRC not found; set KVSIM_TRACES to the folder of the real traces" >&2
	exit 2
fi
mkdir -p "$OUT"
$CC -O2 -Wall -Wextra -o "$OUT/repeat-trace" scripts/bench/repeat-trace.c
if [ ! -s "$BIG" ]; then
	echo "bench: building $BIG ($COPIES copies of the conversation trace)" >&2
	gzip -dc "$SRC" | "$OUT/repeat-trace" "$COPIES" > "$BIG.tmp.$$"
	mv "$BIG.tmp.$$" "$BIG"
fi
INC=$(find sim policies analysis -type d | sed 's/^/-I/' | tr '\n' ' ')
OBJS=$(find "$BUILD/sim" "$BUILD/policies" "$BUILD/analysis" -name '*.o' ! -path '*/sim/main.o' |
       LC_ALL=C sort | tr '\n' ' ')
# shellcheck disable=SC2086
$CC -std=gnu11 -O2 -g -Wall -Wextra -pthread $INC -o "$OUT/bench-core" scripts/bench/bench-core.c \
	$OBJS -lz -ljansson -lcurl -levent -lm -pthread

# The loads (JSONL parse, .kvt) are timed in fresh processes: once after 3 s idle ("first"),
# then RUNS times back to back, whose median is the figure checked against the target. Why
# both: on a VM that hands freed memory back to its host (virtio-balloon free page
# reporting, seen on the 2-core Firecracker VMs this was built on), memory freed more than
# about 2 s earlier costs a host page fault per page when touched again, which made the first
# load after a pause up to 2x slower than the next ones; on a machine that keeps its memory,
# every run is like the back-to-back ones. The first run's figure is printed for information.
RUNS=${BENCH_RUNS:-5}
medians() { # "name value unit" lines of several runs -> the median of each name
	awk '{ v[$1, ++n[$1]] = $2; u[$1] = $3 } END {
		for (k in n) {
			for (i = 1; i <= n[k]; i++) s[i] = v[k, i]
			for (i = 2; i <= n[k]; i++)
				for (j = i; j > 1 && s[j - 1] > s[j]; j--) { x = s[j]; s[j] = s[j - 1]; s[j - 1] = x }
			print k, (n[k] % 2 ? s[(n[k] + 1) / 2] : (s[n[k] / 2] + s[n[k] / 2 + 1]) / 2), u[k]
		}
	}'
}
load_runs() { # mode prefix: the first run after idle as PREFIX_first_*, then the median
	sleep 3
	"$OUT/bench-core" "$BIG" "$OUT/conv-x$COPIES.kvt" "$1" | sed -n "s/^$2_/$2_first_/p"
	i=0
	while [ $i -lt "$RUNS" ]; do
		"$OUT/bench-core" "$BIG" "$OUT/conv-x$COPIES.kvt" "$1"
		i=$((i + 1))
	done | medians
}
echo "== kvsim core benchmark: $BIG ($(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg))"
[ -s "$OUT/conv-x$COPIES.kvt" ] || "$OUT/bench-core" "$BIG" "$OUT/conv-x$COPIES.kvt" > /dev/null
load_runs parse parse > "$OUT/bench.txt"
# the LRU runs, .kvt write and mrc: medians of 3 back-to-back processes (the first LRU run of
# each pays the first touch of its block array, so it too depends on what ran before)
for i in 1 2 3; do
	"$OUT/bench-core" "$BIG" "$OUT/conv-x$COPIES.kvt"
done | grep -v '^parse_\|^trace_' | medians >> "$OUT/bench.txt"
load_runs kvt kvt_load >> "$OUT/bench.txt"
"$OUT/bench-core" "$BIG" "$OUT/conv-x$COPIES.kvt" records >> "$OUT/bench.txt"
/usr/bin/time -f '%M' -o "$OUT/rss.txt" "$BIN" sim --capacity 1%,10%,50% --format csv "$BIG" > /dev/null
/usr/bin/time -f '%M' -o "$OUT/rss-mrc.txt" "$BIN" mrc --format csv "$BIG" > /dev/null
# issue 5: `kvsim analyze` against one LRU simulation (`kvsim sim --capacity 10%`), both end
# to end (wall, from a fresh process each) and without the load (the analysis passes of
# analyze's timing against sim's sim_s)
json_sum() { # the sum of the numbers of the given "key_s": lines of a kvsim JSON summary
	sed -n "s/^ *\"\($2\)\": \([0-9.e+-]*\),*$/\2/p" "$1" | awk '{ s += $1 } END { printf "%.4f", s }'
}
t0=$(date +%s.%N)
"$BIN" analyze -o "$OUT/analyze" -f json "$BIG" > "$OUT/analyze.json" 2>/dev/null
t1=$(date +%s.%N)
"$BIN" sim --capacity 10% -f json "$BIG" > "$OUT/sim10.json"
t2=$(date +%s.%N)
{
	echo "analyze_e2e $(awk "BEGIN { print $t1 - $t0 }") s"
	echo "sim10_e2e $(awk "BEGIN { print $t2 - $t1 }") s"
	echo "analyze_passes $(json_sum "$OUT/analyze.json" 'workload_s\|sessions_s\|reuse_s\|skew_s') s"
	echo "sim10_sim $(json_sum "$OUT/sim10.json" 'sim_s') s"
} >> "$OUT/bench.txt"
echo "sim_peak_rss $(cat "$OUT/rss.txt") KiB" >> "$OUT/bench.txt"
echo "mrc_peak_rss $(cat "$OUT/rss-mrc.txt") KiB" >> "$OUT/bench.txt"

awk '
function v(k) { return val[k] }
function verdict(ok) { return ok ? "ok" : "MISSED" }
function verdict2(okw, okc) {
	return okw && okc ? "ok" : okw ? "ok in wall, MISSED in cpu" : okc ? "ok in cpu, MISSED in wall" : "MISSED"
}
{ val[$1] = $2 }
END {
	n = v("trace_nodes"); a = v("trace_accesses")
	printf "trace: %d requests, %d block accesses, %d distinct nodes, %.1f MB\n",
		v("trace_requests"), a, n, v("trace_bytes") / 1e6
	printf "%-34s %12s %12s   %-26s %s\n", "figure", "wall", "cpu", "target", "verdict"
	printf "%-34s %9.1f MB/s %7.1f MB/s   %-26s %s\n", "parse (plain JSONL), median of " runs,
		v("parse_rate_wall"), v("parse_rate_cpu"), ">= 400 MB/s",
		verdict2(v("parse_rate_wall") >= 400, v("parse_rate_cpu") >= 400)
	printf "%-34s %9.1f MB/s %7.1f MB/s   %-26s %s\n", "parse, first run after 3 s idle",
		v("parse_first_rate_wall"), v("parse_first_rate_cpu"), "(information)", ""
	printf "%-34s %9.1f MB/s %12s   %-26s %s\n", "record parser alone (no interning)",
		v("records_rate"), "", "(information)", ""
	split("1pct 10pct 50pct inf", caps, " ")
	for (i = 1; i <= 4; i++) {
		c = caps[i]
		printf "%-34s %7.1f M/s %8.1f M/s   %-26s %s\n",
			"LRU " c " (hit " sprintf("%.4f", v("lru_" c "_block_hit_ratio")) ")" (i == 1 ? " first" : ""),
			v("lru_" c "_rate_wall"), v("lru_" c "_rate_cpu"), ">= 30M block accesses/s",
			verdict2(v("lru_" c "_rate_wall") >= 30, v("lru_" c "_rate_cpu") >= 30)
	}
	printf "%-34s %10.3f s %10.3f s   %-26s %s\n", ".kvt load, median (vs the parse)",
		v("kvt_load_wall"), v("kvt_load_cpu"), sprintf("<= %.3f s (5x faster)", v("parse_wall") / 5),
		verdict2(v("kvt_load_wall") * 5 <= v("parse_wall") && v("kvt_checksum_equal") == 1,
			 v("kvt_load_cpu") * 5 <= v("parse_cpu") && v("kvt_checksum_equal") == 1)
	printf "%-34s %10.3f s %10.3f s   %-26s %s\n", ".kvt load, first run after idle",
		v("kvt_load_first_wall"), v("kvt_load_first_cpu"),
		sprintf("(vs %.3f s first parse)", v("parse_first_wall")), ""
	printf "%-34s %10.3f s %10.3f s   %-26s %s\n", "mrc, " v("mrc_points") " points (vs mean LRU)",
		v("mrc_wall"), v("mrc_cpu"), sprintf("<= %.3f s (2x LRU)", 2 * v("lru_mean_wall")),
		verdict2(v("mrc_wall") <= 2 * v("lru_mean_wall"), v("mrc_cpu") <= 2 * v("lru_mean_cpu"))
	printf "%-34s %10.3f s %12s   %-26s %s\n", "analyze, end to end (vs sim 10%)",
		v("analyze_e2e"), "", sprintf("<= %.3f s (3x sim)", 3 * v("sim10_e2e")),
		verdict(v("analyze_e2e") <= 3 * v("sim10_e2e"))
	printf "%-34s %10.3f s %12s   %-26s %s\n", "analyze, passes only (vs sim_s)",
		v("analyze_passes"), "", sprintf("<= %.3f s (3x sim_s)", 3 * v("sim10_sim")),
		verdict(v("analyze_passes") <= 3 * v("sim10_sim"))
	budget = (64 * n + 4 * a) / 1024
	printf "%-34s %9.1f MiB %13s   %-26s %s\n", "peak RSS, kvsim sim", v("sim_peak_rss") / 1024, "",
		sprintf("<= %.1f MiB", budget / 1024), verdict(v("sim_peak_rss") <= budget)
	printf "%-34s %9.1f MiB\n", "peak RSS, kvsim mrc", v("mrc_peak_rss") / 1024
	printf "(mrc replayed %d request x capacity pairs for prefix closure)\n",
		v("mrc_replay_requests")
}' runs="$RUNS" "$OUT/bench.txt"
echo "raw figures: $OUT/bench.txt"
