#!/bin/sh
# make-large-trace.sh - a large benchmark trace: the Mooncake conversation trace repeated N
# times with disjoint block ids and shifted timestamps.
#
#   scripts/bench/make-large-trace.sh [N] [OUT]     (default N=18 -> 5.19M block accesses,
#                                                   OUT=/tmp/kvsim-large-conversation.jsonl)
#
# Copy k (0-based) adds k * 10^9 to every hash id (the source ids are far below that, so
# copies share no block) and k * (last timestamp + 1000) ms to every timestamp (arrival
# order is kept). The source is read from $KVSIM_TRACES (default ../shared/traces).
set -eu
n=${1:-18}
out=${2:-/tmp/kvsim-large-conversation.jsonl}
src=${KVSIM_TRACES:-$(dirname "$0")/../../../shared/traces}/mooncake_fast25_conversation_trace.jsonl.gz
[ -r "$src" ] || { echo "make-large-trace.sh: cannot read $src (set KVSIM_TRACES)" >&2; exit 1; }
last=$(gzip -dc "$src" | tail -n 1 | sed 's/.*"timestamp": *\([0-9]*\).*/\1/')
step=$((last + 1000))
k=0
: >"$out.tmp"
while [ "$k" -lt "$n" ]; do
	gzip -dc "$src" | perl -pe "
		s/(\"timestamp\":\s*)(\d+)/\$1.(\$2 + $k * $step)/e;
		s/(\"hash_ids\":\s*\[)([^\]]*)/\$1.join(', ', map { \$_ + $k * 1000000000 } split(m{,\s*}, \$2))/e;
	" >>"$out.tmp"
	k=$((k + 1))
done
mv -f "$out.tmp" "$out"
echo "$out: $n copies of $src" >&2
