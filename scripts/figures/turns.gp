# turns.gp - turns per session from sessions_turns.csv (kvsim analyze: turns,sessions,
# share,cdf): the share of sessions with each number of turns (bars, log scale) and its CDF
# (line, right axis). ARG2 = the CSV.
BASE = ARG1
load ARG0[1:strlen(ARG0)-strlen("turns.gp")]."common.gp"
stats ARG2 using 1 nooutput
XMAX = STATS_max
stats ARG2 using 3 nooutput
YMIN = STATS_min
set title "Turns per session"
set xlabel "turns in the session"
set ylabel "share of sessions (log scale)"
set logscale y
set ytics ("0.0001" 1e-4, "0.001" 1e-3, "0.01" 0.01, "0.02" 0.02, "0.05" 0.05, "0.1" 0.1, "0.2" 0.2, "0.5" 0.5, "1" 1)
set yrange [YMIN / 2 : 1]
set xrange [0.4 : XMAX + 0.6]
if (XMAX <= 20) { set xtics 1 }
set y2range [0:1]
set y2tics 0.2
set y2label "CDF of sessions"
set style fill solid 0.7 border -1
set boxwidth 0.8 absolute
set key inside right center
@PNG
plot ARG2 using 1:3 with boxes ls 1 title "share of sessions", \
     ARG2 using 1:4 with steps ls 2 axes x1y2 title "CDF (right axis)"
@SVG
replot
unset output
