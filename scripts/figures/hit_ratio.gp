# hit_ratio.gp - block hit ratio vs cache capacity per eviction policy, with Belady, the
# infinite-cache ceiling and the one-pass LRU miss-ratio curve. Prepared by fig.sh from a
# `kvsim sim --format csv` sweep and `kvsim mrc --format csv`:
#   ARG2 policies.dat: one TAB-separated block per policy (header: name), rows capacity, ratio
#   ARG3 number of policy blocks; ARG4 belady.dat (rows capacity, ratio); ARG5 its row count
#   ARG6 infinite-cache block hit ratio ("NaN" when the sweep has no inf row)
#   ARG7 mrc.tsv (capacity, ratio) or ""
BASE = ARG1
load ARG0[1:strlen(ARG0)-strlen("hit_ratio.gp")]."common.gp"
set datafile separator tab
NP = int(ARG3)
NB = int(ARG5)
CEIL = real(ARG6)
set title "Block hit ratio vs cache capacity"
set xlabel "cache capacity (blocks, log scale)"
set ylabel "block hit ratio"
set logscale x
set format x "%.0s%c"
set yrange [0:*]
set key outside right top width -1
# the plot command, built from the parts that have data
P = ""
if (NP > 0) { P = "for [i=0:NP-1] ARG2 index i using 1:2 with linespoints ls (i+1) title columnheader(1)" }
if (NB > 0) { P = P.(strlen(P) ? ", " : "")."ARG4 using 1:2 with linespoints lc rgb 'black' lw 2.5 dt 2 pt 6 ps 1 title 'belady (optimal)'" }
if (CEIL == CEIL) { P = P.(strlen(P) ? ", " : "")."CEIL with lines lc rgb '#555555' lw 2 dt 3 title 'infinite cache'" }
if (strlen(ARG7) > 0) { P = P.(strlen(P) ? ", " : "")."ARG7 using 1:2 with lines lc rgb '#7f7f7f' lw 1.5 title 'LRU MRC (one pass)'" }
@PNG
eval "plot ".P
@SVG
replot
unset output
