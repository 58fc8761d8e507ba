# arrivals.gp - arrivals over time: requests/s in each window of workload_arrivals.csv
# (kvsim analyze). ARG2 = the CSV.
BASE = ARG1
load ARG0[1:strlen(ARG0)-strlen("arrivals.gp")]."common.gp"
set title "Request arrivals over time"
set xlabel "time since the first arrival (min)"
set ylabel "arrival rate (requests/s)"
set yrange [0:*]
set xrange [0:*]
set autoscale xfixmax
set key inside right top
first = 0
stats ARG2 using 1 nooutput
first = STATS_min
@PNG
# one box per window, drawn over its real extent (the last window runs to the last arrival)
set style fill solid 0.35 border lc rgb "#1f77b4"
set boxwidth 1 absolute
plot ARG2 using ((($1 + $2) / 2 - first) / 60):4:(($2 - $1) / 60) with boxes ls 1 \
	title "requests/s per window"
@SVG
replot
unset output
