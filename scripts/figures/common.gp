# common.gp - the shared look of kvsim's figures, loaded by every figure script.
#
# A figure script is called as `gnuplot -c SCRIPT.gp BASE ARGS...`; it sets BASE = ARG1 (ARGn
# are empty inside a loaded file), loads this file, sets
# its axes and data, then runs `@PNG; plot ...; @SVG; replot` to write BASE.png (pngcairo)
# and BASE.svg with the same content.
set encoding utf8
set datafile separator comma
set datafile missing ""
set key inside left top vertical Left reverse noenhanced samplen 2.5 spacing 1.2 box lc rgb "#bbbbbb" opaque
set grid xtics ytics mxtics lc rgb "#dddddd" lw 1 dt 1
set border 3 lw 1.2
set tics nomirror out scale 0.6
set title font ",15"
set offsets graph 0.02, graph 0.02, graph 0.02, 0
set style line 1 lc rgb "#1f77b4" lw 2.2 pt 7 ps 0.8
set style line 2 lc rgb "#ff7f0e" lw 2.2 pt 5 ps 0.8
set style line 3 lc rgb "#2ca02c" lw 2.2 pt 9 ps 0.9
set style line 4 lc rgb "#d62728" lw 2.2 pt 11 ps 0.9
set style line 5 lc rgb "#9467bd" lw 2.2 pt 13 ps 0.9
set style line 6 lc rgb "#8c564b" lw 2.2 pt 3 ps 0.9
set style line 7 lc rgb "#e377c2" lw 2.2 pt 15 ps 0.9
set style line 8 lc rgb "#17becf" lw 2.2 pt 1 ps 0.9
set style increment user
set linetype cycle 8
FONT = "DejaVu Sans,13"
PNG = "set terminal pngcairo enhanced size 1100,680 font FONT linewidth 1; set output BASE.'.png'"
SVG = "set terminal svg enhanced size 1100,680 dynamic font FONT linewidth 1; set output BASE.'.svg'"
