# stack_distance.gp - CDF of LRU stack distance from stack_distance_cdf.csv (kvsim analyze):
# per request type among reuses (columns 6..), and the LRU block hit ratio at capacity
# distance+1 among all accesses (column 4). ARG2 = the CSV.
BASE = ARG1
load ARG0[1:strlen(ARG0)-strlen("stack_distance.gp")]."common.gp"
set title "LRU stack distance of block accesses"
set xlabel "C: cache capacity (blocks, log scale); a reuse hits in LRU iff its stack distance < C"
set ylabel "fraction"
stats ARG2 using 1 nooutput
N = STATS_columns
set logscale x
set format x "%.0s%c"
set yrange [0:1]
@PNG
# per-type columns (7..N), then "all" (6) in black, then the LRU hit ratio (4), dashed
plot for [i=7:N] ARG2 using ($1 + 1):i with steps ls (i-6) \
          title sprintf("%s: reuses with stack distance < C", columnhead(i)), \
     ARG2 using ($1 + 1):6 with steps lc rgb "black" lw 3 \
          title sprintf("%s: reuses with stack distance < C", columnhead(6)), \
     ARG2 using ($1 + 1):4 with lines lc rgb "#555555" lw 2.5 dt (8,4) \
          title "LRU block hit ratio at capacity C (all accesses)"
@SVG
replot
unset output
