#!/bin/sh
# turn_ports.sh OUT: the IoT 20k model's seed-1 rows written by this build (bench/rerepair -l -s 1) and judged as
# BENCHMARK.md "Turn maps per server port (session 10)" does: whole-flow device NetFlow forests on 3 seeds
# (bench/nf_seeds.py), classes whose inter-arrival KS against real test passes 0.10 and the mean KS of turns and
# same-side gaps (bench/timing_parts.py), handshake medians more than 10% off real train's (bench/timing_rows.py).
# Build first: make, then
#   cc -std=c11 -O2 -fopenmp -Iinclude bench/rerepair.c build/libnetsynth.a -o build/rerepair -lpcap -lpng -lz -ldl -lm
set -eu
out=${1:?usage: turn_ports.sh OUT}
B=build/netsynth R=build/rerepair I=${IOT:-/work/iot-20k} PY=/usr/bin/python3
mkdir -p "$out"
nice -n 5 $R -l -s 1 $I/model.nsm $I/train.ds $I/synth/synthetic.ds "$out/pcaps" > "$out/rerepair.log" 2>&1
nice -n 5 $B dataset --labels "$out/pcaps/labels.tsv" --label device,device_type -o "$out/p.ds" -q
[ -d "$out/real.feat" ] || nice -n 5 $B eval --real $I/train.ds --real-test $I/test.ds --label device,device_type \
    --dump-features "$out/real.feat" -q
nice -n 5 $B eval --real "$out/p.ds" --real-test $I/test.ds --label device,device_type --dump-features "$out/p.feat" -q
nice -n 5 $PY bench/nf_seeds.py "$out/real.feat" device "$out/p.feat"
nice -n 5 $PY bench/timing_parts.py device $I/test.ds "$out/p.ds" > "$out/parts.txt"
nice -n 5 $PY bench/timing_rows.py device $I/train.ds "$out/p.ds" > "$out/rows.txt"
awk 'NR > 1 { n++; o += $3 > 0.10; t += $3
              for (i = 4; i <= NF; i++) { if ($i == "turn" && $(i + 1) != "nan") { tu += $(i + 1); nt++ }
                                          if ($i == "same" && $(i + 1) != "nan") { sa += $(i + 1); ns++ } } }
     END { printf "classes with KS over 0.10: %d of %d, mean KS %.3f (turns %.3f, same-side %.3f)\n",
           o, n, t / n, tu / nt, sa / ns }' "$out/parts.txt"
awk 'NR > 1 && $4 != "-" && $9 != "-" { n++; d = $9 / $4 - 1; if (d > 0.1 || d < -0.1) o++ }
     END { printf "handshake medians more than 10%% off real train: %d of %d\n", o, n }' "$out/rows.txt"
