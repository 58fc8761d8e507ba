# lengths.gp - CDFs of input and output lengths from workload_lengths_cdf.csv
# (kvsim analyze: columns cdf,input_tokens,output_tokens). ARG2 = the CSV.
BASE = ARG1
load ARG0[1:strlen(ARG0)-strlen("lengths.gp")]."common.gp"
set title "Request lengths"
set xlabel "length (tokens, log scale)"
set ylabel "fraction of requests (CDF)"
set logscale x
set format x "%.0s%c"
set yrange [0:1]
set key inside right bottom
@PNG
plot ARG2 using ($2 > 0 ? $2 : 1):1 with steps ls 1 title "input (prompt) tokens", \
     ARG2 using ($3 > 0 ? $3 : 1):1 with steps ls 2 title "output tokens"
@SVG
replot
unset output
