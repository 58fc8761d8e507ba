#!/bin/sh
# fig.sh - renders one paper figure as OUT.png and OUT.svg with gnuplot.
#
#   scripts/figures/fig.sh FIGURE OUT INPUT...
#
# FIGURE and its inputs (CSV files written by kvsim; see docs/analysis.md):
#   hit_ratio        SWEEP.csv [MRC.csv]   `kvsim sim --format csv` rows (policies x capacities,
#                                          Belady and inf rows drawn specially) and the optional
#                                          `kvsim mrc --format csv` curve
#   reuse_time       reuse_time_cdf.csv    from `kvsim analyze`
#   stack_distance   stack_distance_cdf.csv
#   turns            sessions_turns.csv
#   gap              sessions_gap_cdf.csv
#   arrivals         workload_arrivals.csv
#   lengths          workload_lengths_cdf.csv
#   ttft             REQUESTS.csv...       per-request CSVs of timed runs (`kvsim sim
#   load_share       REQUESTS.csv...       --requests`): one series per router
# A series is named by the CSV's router column (plus /policy@capacity when a file holds
# several); without that column, by the file name without .csv, or its folder's name when
# the file is called requests.csv.
#
# An input without data rows skips the figure with a note on stderr (exit 0, nothing
# written). A missing gnuplot is an error naming the Debian package. The figure is written
# to temporary files and renamed, so a failed run never leaves a half-written figure.
set -eu

die() { echo "fig.sh: $*" >&2; exit 1; }
skip() { echo "figures: skipping $fig ($*)" >&2; exit 0; }

command -v gnuplot >/dev/null 2>&1 ||
	die "gnuplot is not installed: install the Debian package gnuplot-nox (scripts/install-deps.sh, or apt-get install gnuplot-nox)"

[ $# -ge 2 ] || die "usage: fig.sh FIGURE OUT [INPUT...]"
fig=$1 out=$2
shift 2
dir=$(dirname "$0")

# rows INPUT: data rows (lines after the header) of a CSV; 0 when missing.
rows() { [ -f "$1" ] && awk 'NR > 1 && NF' "$1" | wc -l || echo 0; }

need() {
	for f in "$@"; do
		[ -f "$f" ] || skip "$f is missing"
		[ "$(rows "$f")" -gt 0 ] || case $fig in
			turns | gap) skip "$f has no data rows: the trace has no session fields" ;;
			*) skip "$f has no data rows" ;;
			esac
	done
}

router_name() {
	b=$(basename "$1" .csv)
	if [ "$b" = requests ]; then basename "$(dirname "$1")"; else echo "$b"; fi
}

# work in a hidden folder beside the output, so that the final renames are atomic
mkdir -p "$(dirname "$out")"
tmp=$(mktemp -d "$(dirname "$out")/.fig.XXXXXX")
trap 'rm -rf "$tmp"' EXIT INT TERM
base=$tmp/$(basename "$out")

# CSV with a header -> the named columns, TAB-separated; handles quoted fields.
# Usage: csvcols FILE col1 col2 ...   (?col: optional, empty when the CSV lacks it)
csvcols() {
	f=$1
	shift
	awk -v want="$*" '
	function split_csv(line, out,    n, i, c, q, field) {
		n = 0; field = ""; q = 0
		for (i = 1; i <= length(line); i++) {
			c = substr(line, i, 1)
			if (q) {
				if (c == "\"") {
					if (substr(line, i + 1, 1) == "\"") { field = field c; i++ }
					else q = 0
				} else field = field c
			} else if (c == "\"") q = 1
			else if (c == ",") { out[++n] = field; field = "" }
			else field = field c
		}
		out[++n] = field
		return n
	}
	{ sub(/\r$/, "") }
	NR == 1 {
		n = split_csv($0, h)
		m = split(want, w, " ")
		for (j = 1; j <= m; j++) {
			idx[j] = 0
			opt = substr(w[j], 1, 1) == "?"
			name = opt ? substr(w[j], 2) : w[j]
			for (i = 1; i <= n; i++) if (h[i] == name) idx[j] = i
			if (!idx[j] && !opt) { printf "fig.sh: %s has no column %s\n", FILENAME, name > "/dev/stderr"; exit 3 }
		}
		next
	}
	NF {
		split_csv($0, v)
		line = ""
		for (j = 1; j <= m; j++) { x = idx[j] ? v[idx[j]] : ""; gsub(/[\t ]/, "_", x); line = line (j > 1 ? "\t" : "") x }
		print line
	}' "$f"
}

# gp SCRIPT ARGS...: gnuplot -c SCRIPT BASE ARGS... (the script writes BASE.png, BASE.svg)
gp() {
	s=$1
	shift
	gnuplot -c "$dir/$s" "$base" "$@" 2>"$tmp/gnuplot.err" ||
		{ cat "$tmp/gnuplot.err" >&2; die "gnuplot failed on $s"; }
}

case $fig in
hit_ratio)
	[ $# -gt 0 ] || skip "no sweep CSV"
	sweep=$1 mrc=${2:-}
	need "$sweep"
	csvcols "$sweep" policy capacity_blocks block_hit_ratio >"$tmp/rows.tsv"
	# one gnuplot data block per policy (first-appearance order), Belady in its own file;
	# the infinite-capacity rows (empty capacity_blocks) give the ceiling
	awk -F'\t' -v blocks="$tmp/policies.dat" -v belady="$tmp/belady.dat" '
		$2 == "" { if ($3 + 0 > ceil) ceil = $3 + 0; hasceil = 1; next }
		$1 ~ /^belady/ { print $2 "\t" $3 > belady; nb++; next }
		!($1 in seen) { seen[$1] = ++np; name[np] = $1 }
		{ rows[seen[$1]] = rows[seen[$1]] $2 "\t" $3 "\n" }
		END {
			for (i = 1; i <= np; i++) {
				printf "%s%s\tblock_hit_ratio\n%s", (i > 1 ? "\n\n" : ""), name[i], rows[i] > blocks
			}
			printf "%s %d %d\n", (hasceil ? ceil : "NaN"), np, nb
		}' "$tmp/rows.tsv" >"$tmp/meta"
	read -r ceil np nb <"$tmp/meta"
	[ "$np" -gt 0 ] || [ "$nb" -gt 0 ] || skip "$sweep has no finite capacities"
	mrcfile=""
	if [ -n "$mrc" ]; then
		if [ "$(rows "$mrc")" -gt 0 ]; then
			csvcols "$mrc" capacity_blocks block_hit_ratio >"$tmp/mrc.tsv"
			mrcfile=$tmp/mrc.tsv
		else
			echo "figures: $fig: no miss-ratio curve ($mrc missing or empty), drawn without it" >&2
		fi
	fi
	[ "$np" -gt 0 ] || : >"$tmp/policies.dat"
	[ "$nb" -gt 0 ] || : >"$tmp/belady.dat"
	gp hit_ratio.gp "$tmp/policies.dat" "$np" "$tmp/belady.dat" "$nb" "$ceil" "$mrcfile"
	;;
reuse_time | stack_distance | turns | gap | arrivals | lengths)
	[ $# -gt 0 ] || skip "no input CSV"
	need "$1"
	gp "$fig.gp" "$1"
	;;
ttft | load_share)
	[ $# -gt 0 ] || skip "no per-request CSVs from a timed run"
	# one series per (file, router[, policy@capacity when a file holds several]): the
	# timed mode writes one CSV for all its routers, with router, policy, capacity columns
	for f in "$@"; do
		need "$f"
		csvcols "$f" '?router' '?policy' '?capacity' ttft_s instance
	done >/dev/null
	i=0
	for f in "$@"; do
		i=$((i + 1))
		csvcols "$f" '?router' '?policy' '?capacity' ttft_s instance |
			awk -F'\t' -v dflt="$(router_name "$f")" -v dir="$tmp" -v fi="$i" '
			{ r[NR] = ($1 == "" ? dflt : $1); pc[NR] = $2 "@" $3; t[NR] = $4; in_[NR] = $5
			  if (!(pc[NR] in seen)) { seen[pc[NR]] = 1; npc++ } }
			END {
				for (k = 1; k <= NR; k++) {
					name = r[k] (npc > 1 ? "/" pc[k] : "")
					if (!(name in id)) { id[name] = ++ns; print name > (dir "/names." fi) }
					print t[k] > (dir "/s" fi "_" id[name] ".tsv")
					print in_[k] > (dir "/s" fi "_" id[name] ".inst")
				}
			}'
	done
	# series files s<file>_<n> in order, with their titles
	spec="" titles=""
	i=0
	for f in "$@"; do
		i=$((i + 1))
		n=0
		while IFS= read -r title; do
			n=$((n + 1))
			spec="$spec s${i}_$n"
			titles="$titles $(printf '%s' "$title" | tr -c 'A-Za-z0-9_.:@%+=/\n-' '_')"
		done <"$tmp/names.$i"
	done
	if [ "$fig" = ttft ]; then
		gp ttft.gp "$tmp" "$spec" "$titles"
	else
		# wide table: instance, then each series' share of requests
		(cd "$tmp" && awk -v names="$spec" -v titles="$titles" '
			BEGIN { n = split(names, nm, " "); split(titles, tl, " ") }
			{ k = FILENAME; sub(/\.inst$/, "", k); c[k, $1]++; tot[k]++; if (!($1 in seen)) { seen[$1] = 1; inst[++ni] = $1 } }
			END {
				printf "instance"; for (j = 1; j <= n; j++) printf "\t%s", tl[j]; printf "\n"
				for (i = 1; i <= ni; i++) {
					printf "%s", inst[i]
					for (j = 1; j <= n; j++) printf "\t%.6f", tot[nm[j]] ? c[nm[j], inst[i]] / tot[nm[j]] : 0
					printf "\n"
				}
			}' $(for s in $spec; do echo "$s.inst"; done) | sort -t'	' -k1,1n >"$tmp/share.body")
		# keep the header first after the numeric sort
		grep '^instance' "$tmp/share.body" >"$tmp/share.tsv"
		grep -v '^instance' "$tmp/share.body" >>"$tmp/share.tsv"
		gp load_share.gp "$tmp/share.tsv"
	fi
	;;
*)
	die "unknown figure '$fig'"
	;;
esac

[ -s "$base.png" ] && [ -s "$base.svg" ] || die "gnuplot wrote no $fig figure"
mv -f "$base.png" "$out.png"
mv -f "$base.svg" "$out.svg"
echo "  FIG     $out.png $out.svg" >&2
