#!/bin/sh
# fetch-traces.sh - downloads the public traces kvsim calibrates against and checks their
# sha256: the four Qwen Bailian files (Git LFS objects of alibaba-edu/qwen-bailian-usagetraces-anon,
# Apache-2.0, 28-132 MB each) and the Mooncake FAST'25 traces (kvcache-ai/Mooncake, Apache-2.0).
#
# usage: scripts/fetch-traces.sh [--dry-run|--verify] [--only bailian|mooncake] [--force] [DIR]
#   DIR        where to put the files (default traces/public, git-ignored)
#   --dry-run  print what would be downloaded (URL, file, sha256) and download nothing
#   --verify   only check the files already in DIR (missing or wrong ones fail), no network
#   --only S   only one source
#   --force    download again even when a file with the right checksum is present
# Exit status: 0 all files present and checked, 1 a download or checksum failed, 2 usage.
set -u

BAILIAN_URL=https://media.githubusercontent.com/media/alibaba-edu/qwen-bailian-usagetraces-anon/main
MOONCAKE_URL=https://raw.githubusercontent.com/kvcache-ai/Mooncake/main/FAST25-release/traces

# source|file|url|sha256 of the downloaded (uncompressed) file
FILES="bailian|qwen_traceA_blksz_16.jsonl|$BAILIAN_URL/qwen_traceA_blksz_16.jsonl|07cedc9ed8aff301994ac68ed4aede8123b7603673575eeba9dd677de663db17
bailian|qwen_traceB_blksz_16.jsonl|$BAILIAN_URL/qwen_traceB_blksz_16.jsonl|68e3f98e2d601d60d0abf4b89bc8a3654372abab7b1cde6373a13d0054379d59
bailian|qwen_thinking_blksz_16.jsonl|$BAILIAN_URL/qwen_thinking_blksz_16.jsonl|41ac36d9d1b54d084eeb6b05e9d142ba9d02f8bf79cfc9fff418d8ab7cdee906
bailian|qwen_coder_blksz_16.jsonl|$BAILIAN_URL/qwen_coder_blksz_16.jsonl|3d74974cebb7bccb69b1ca6ea210a44d9a3033443c0271ed015327284dea1aff
mooncake|mooncake_fast25_conversation_trace.jsonl|$MOONCAKE_URL/conversation_trace.jsonl|b8cbb061a85206d729d91cdc2981f43c9e0d99209dce588d3af5f7934408b9df
mooncake|mooncake_fast25_synthetic_trace.jsonl|$MOONCAKE_URL/synthetic_trace.jsonl|bd070915a98fc0ed264d7cfef2ce746002eb3076a695ec31ba2674c0111ec131"
# The Mooncake sha256 values are those of the uncompressed files, computed from the copies in
# ../shared/traces (gzipped there); a "-" would mean "not checked".

usage() {
	sed -n '2,13s/^# \{0,1\}//p' "$0" >&2
	exit 2
}

dry=0 verify=0 only= force=0 dir=
while [ $# -gt 0 ]; do
	case "$1" in
	--dry-run) dry=1 ;;
	--verify) verify=1 ;;
	--force) force=1 ;;
	--only)
		[ $# -ge 2 ] || usage
		case "$2" in bailian|mooncake) only=$2 ;; *) echo "fetch-traces.sh: --only takes bailian or mooncake" >&2; exit 2 ;; esac
		shift ;;
	-h|--help) sed -n '2,13s/^# \{0,1\}//p' "$0"; exit 0 ;;
	-*) echo "fetch-traces.sh: unknown option '$1'" >&2; usage ;;
	*)
		[ -z "$dir" ] || { echo "fetch-traces.sh: more than one DIR given" >&2; exit 2; }
		dir=$1 ;;
	esac
	shift
done
[ -n "$dir" ] || dir=traces/public

if command -v curl >/dev/null 2>&1; then
	fetch() { curl -fL --retry 3 -o "$2" "$1"; }
elif command -v wget >/dev/null 2>&1; then
	fetch() { wget -q -O "$2" "$1"; }
else
	[ "$dry" = 1 ] || [ "$verify" = 1 ] || { echo "fetch-traces.sh: needs curl or wget" >&2; exit 1; }
fi

sum() { sha256sum "$1" | cut -c1-64; }

[ "$dry" = 1 ] || [ "$verify" = 1 ] || mkdir -p "$dir" || exit 1
failed=0
while IFS='|' read -r src file url sha; do
	[ -z "$only" ] || [ "$only" = "$src" ] || continue
	out=$dir/$file
	if [ "$dry" = 1 ]; then
		echo "$url -> $out (sha256 ${sha#-})"
		[ "$sha" != - ] || echo "  (no published sha256: not checked)"
		continue
	fi
	if [ "$force" = 0 ] && [ -f "$out" ] && { [ "$sha" = - ] || [ "$(sum "$out")" = "$sha" ]; }; then
		echo "ok       $out (already present)"
		continue
	fi
	if [ "$verify" = 1 ]; then
		echo "FAILED   $out: missing or its sha256 is not $sha" >&2
		failed=1
		continue
	fi
	echo "fetching $url" >&2
	if ! fetch "$url" "$out.part"; then
		echo "FAILED   $out: download failed" >&2
		rm -f "$out.part"
		failed=1
		continue
	fi
	if [ "$sha" != - ] && [ "$(sum "$out.part")" != "$sha" ]; then
		echo "FAILED   $out: sha256 $(sum "$out.part") is not $sha (kept as $out.bad)" >&2
		mv -f "$out.part" "$out.bad"
		failed=1
		continue
	fi
	mv -f "$out.part" "$out"
	[ "$sha" != - ] && echo "ok       $out (sha256 checked)" || echo "ok       $out (sha256 unchecked)"
done <<END
$FILES
END
exit $failed
