# ttft.gp - CDF of time to first token per router from the per-request CSVs of timed runs.
# Prepared by fig.sh: ARG2 a folder holding NAME.tsv (one ttft_s value per line) for each
# series NAME listed in ARG3 (space-separated), titled by the same word of ARG4.
BASE = ARG1
load ARG0[1:strlen(ARG0)-strlen("ttft.gp")]."common.gp"
set datafile separator tab
DIR = ARG2
NAMES = ARG3
TITLES = ARG4
set title "Time to first token by router"
set xlabel "TTFT (s, log scale)"
set ylabel "fraction of requests (CDF)"
set logscale x
set yrange [0:1]
set key inside right bottom
@PNG
plot for [i=1:words(NAMES)] DIR."/".word(NAMES, i).".tsv" \
     using ($1 > 1e-6 ? $1 : 1e-6):(1) smooth cnormal with lines ls i title word(TITLES, i)
@SVG
replot
unset output
