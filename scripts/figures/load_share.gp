# load_share.gp - share of requests routed to each instance, one bar per router, from the
# per-request CSVs of timed runs. Prepared by fig.sh: ARG2 a TAB-separated table with a
# header (instance, then one column per router) and one row per instance.
BASE = ARG1
load ARG0[1:strlen(ARG0)-strlen("load_share.gp")]."common.gp"
set datafile separator tab
set title "Per-instance load share by router"
set xlabel "instance"
set ylabel "share of requests"
set yrange [0:*]
set style data histograms
set style histogram clustered gap 1
set style fill solid 0.8 border -1
set boxwidth 0.9
set grid noxtics
stats ARG2 using 2 nooutput
N = STATS_columns
@PNG
plot for [i=2:N] ARG2 using i:xtic(1) ls (i-1) title columnheader(i)
@SVG
replot
unset output
