#!/bin/sh
# bench-live.sh [RATE] [SECONDS] [MAX_INFLIGHT] - replay throughput, dispatch lateness and memory against
# `kvsim serve --cost zero` on this machine (loopback).
#
# Generates a synthetic trace (gen-live-trace.py: Poisson arrivals at RATE requests/s,
# outputs of 1-4 tokens), starts the server on a free port, replays the trace, samples the
# resident memory of both processes every 5 s, and prints the replay's throughput, failures,
# lateness percentiles (overall and per 5-second window, to tell steady state from
# stalls of a shared machine) and the memory samples. Defaults: 2500 requests/s for 60 s,
# 256 requests in flight at most (replay's default). KEEP=1 keeps the run's folder.
set -eu
RATE=${1:-2500}
SECONDS_=${2:-60}
INFLIGHT=${3:-256}
BIN=${KVSIM_BIN:-bin/kvsim}
DIR=$(mktemp -d "${TMPDIR:-/tmp}/kvsim-bench-live.XXXXXX")
trap 'kill $SERVE_PID 2>/dev/null || true; [ "${KEEP:-0}" = 1 ] && echo "kept $DIR" >&2 || rm -rf "$DIR"' EXIT INT TERM

python3 "$(dirname "$0")/gen-live-trace.py" "$RATE" "$SECONDS_" > "$DIR/trace.jsonl"
echo "trace: $(wc -l < "$DIR/trace.jsonl") requests over ${SECONDS_} s (target $RATE/s)" >&2

"$BIN" serve --port 0 --port-file "$DIR/port" --cost zero --capacity 20000blocks \
	--max-model-len 4096 --vocab 32000 2> "$DIR/serve.err" &
SERVE_PID=$!
i=0
while [ ! -s "$DIR/port" ] && [ $i -lt 100 ]; do sleep 0.05; i=$((i + 1)); done
URL="http://127.0.0.1:$(cat "$DIR/port")"

"$BIN" replay --url "$URL" --capacity 20000blocks --max-inflight "$INFLIGHT" -o "$DIR/out.jsonl" \
	--summary "$DIR/summary.json" "$DIR/trace.jsonl" > /dev/null 2> "$DIR/replay.err" &
REPLAY_PID=$!
echo "t_s replay_rss_kib serve_rss_kib" > "$DIR/rss.txt"
t=0
while kill -0 $REPLAY_PID 2>/dev/null; do
	r=$(awk '/VmRSS/ {print $2}' /proc/$REPLAY_PID/status 2>/dev/null || echo -)
	s=$(awk '/VmRSS/ {print $2}' /proc/$SERVE_PID/status 2>/dev/null || echo -)
	echo "$t $r $s" >> "$DIR/rss.txt"
	sleep 5
	t=$((t + 5))
done
wait $REPLAY_PID || echo "replay exited with $?" >&2
python3 - "$DIR/summary.json" "$DIR/out.jsonl" <<'PY'
import json, sys
s = json.load(open(sys.argv[1]))
lines = sum(1 for _ in open(sys.argv[2]))
print(f"requests {s['requests']}  recorded {lines}  sent {s['sent']}  succeeded {s['succeeded']}  failed {s['failed']}")
print(f"duration {s['duration_s']:.2f} s  throughput {s['throughput_rps']:.0f} requests/s  max in flight {s['max_in_flight']}  delayed by the in-flight cap {s['delayed_by_max_inflight']}")
l = s['lateness_ms']
print(f"dispatch lateness ms: p50 {l['p50']:.3f}  p90 {l['p90']:.3f}  p99 {l['p99']:.3f}  max {l['max']:.3f}")
e = s['e2e_ms']
print(f"e2e ms: p50 {e['p50']:.3f}  p99 {e['p99']:.3f}   ttft p99 {s['ttft_ms']['p99']:.3f}")
win = {}
for line in open(sys.argv[2]):
    r = json.loads(line)
    if r["lateness_ms"] is not None:
        win.setdefault(int(r["scheduled_s"] // 5) * 5, []).append(r["lateness_ms"])
print("window_s  requests  lateness_p50_ms  lateness_p99_ms")
for w in sorted(win):
    v = sorted(win[w])
    print(f"{w:8d}  {len(v):8d}  {v[len(v) // 2]:15.3f}  {v[min(len(v) - 1, int(len(v) * 0.99))]:15.3f}")
print(f"token hit ratio: measured {s['token_hit_ratio']['measured']}  predicted {s['token_hit_ratio']['predicted_same_requests']}")
PY
cat "$DIR/rss.txt"
