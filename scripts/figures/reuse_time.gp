# reuse_time.gp - CDF of block reuse time by request type from reuse_time_cdf.csv
# (kvsim analyze: reuse_time_s, then all and one column per type). ARG2 = the CSV.
BASE = ARG1
load ARG0[1:strlen(ARG0)-strlen("reuse_time.gp")]."common.gp"
set title "Block reuse time"
set xlabel "reuse time: seconds since the chain node's last access (log scale; 0 s drawn at 1 ms)"
set ylabel "fraction of reuses (CDF)"
stats ARG2 using 1 nooutput
N = STATS_columns
set logscale x
set yrange [0:1]
@PNG
# the per-type columns (3..N) first, then "all" on top in black
plot for [i=3:N] ARG2 using ($1 > 0 ? $1 : 0.001):i with steps ls (i-2) title columnheader(i), \
     ARG2 using ($1 > 0 ? $1 : 0.001):2 with steps lc rgb "black" lw 3 title columnheader(2)
@SVG
replot
unset output
