# gap.gp - CDF of the parent -> child arrival gap from sessions_gap_cdf.csv
# (kvsim analyze: cdf,gap_s). ARG2 = the CSV.
BASE = ARG1
load ARG0[1:strlen(ARG0)-strlen("gap.gp")]."common.gp"
set title "Parent → child arrival gap"
set xlabel "gap between a parent's and its child's arrival (s, log scale)"
set ylabel "fraction of children (CDF)"
set logscale x
set yrange [0:1]
set key inside right bottom
@PNG
plot ARG2 using ($2 > 0.001 ? $2 : 0.001):1 with steps ls 1 title "parent → child gap"
@SVG
replot
unset output
