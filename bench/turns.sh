#!/bin/sh
# turns.sh OUT: what the trace model's turn maps (version 5) do to a saved set of generated rows, without
# sampling again (BENCHMARK.md, "Turn gaps (session 10)"). For the lab demo model (LAB, default
# /work/lab-demo7: model.nsm, train.ds, synth/synthetic.ds) and the IoT 20k model (IOT, default
# /work/iot-20k), the seed-1 rows are written as pcaps by bench/rerepair with the trace model learned again
# (-l), with the turn maps left out (-T 3: a version 4 model's plan), turns only (-T 2), and both (-T 0);
# then: lab app nPrint and rtt NetFlow TSTR / TRTS on 4 forest seeds (eval, 50 trees, as make demo), IoT
# eval as session 9's seeds.sh, and per-class KS of log inter-arrival times split by gap kind
# (bench/timing_parts.py; /usr/bin/python3 for numpy). Build first: make, then
#   cc -std=c11 -O2 -fopenmp -Iinclude bench/rerepair.c build/libnetsynth.a -o build/rerepair \
#      -lpcap -lpng -lz -ldl -lm
set -eu
out=${1:?usage: turns.sh OUT}
B=build/netsynth R=build/rerepair LAB=${LAB:-/work/lab-demo7} IOT=${IOT:-/work/iot-20k}
mkdir -p "$out"
for t in 3 2 0; do
    nice -n 5 $R -l -s 1 -T $t $LAB/model.nsm $LAB/train.ds $LAB/synth/synthetic.ds "$out/lab-T$t" 2>/dev/null
    for s in 0 1 2 3; do
        nice -n 5 $B eval --real lab/corpus/labels.tsv --synth "$out/lab-T$t/labels.tsv" --label app,rtt --like \
            --trees 50 --no-compliance --no-trace -j 2 --seed $s 2>&1 |
            awk -v t=$t -v s=$s '/^app +nprint/{a=$6" / "$8} /^rtt +netflow/{r=$6" / "$8}
                END{print "lab -T " t " forest seed " s ": app nPrint " a ", rtt NetFlow " r}'
    done
    nice -n 5 $R -l -s 1 -T $t $IOT/model.nsm $IOT/train.ds $IOT/synth/synthetic.ds "$out/iot-T$t" 2>/dev/null
    nice -n 5 $B dataset --labels "$out/iot-T$t/labels.tsv" --label device,device_type -o "$out/iot-T$t/p.ds" -q
    nice -n 5 $B eval --real $IOT/train.ds --real-test $IOT/test.ds --synth "$out/iot-T$t/p.ds" \
        --label device,device_type --no-trace --no-compliance -j 2 > "$out/iot-T$t.eval.txt" 2>&1
    echo "iot -T $t:" && sed -n '/^device /p' "$out/iot-T$t.eval.txt"
done
/usr/bin/python3 bench/timing_parts.py device $IOT/test.ds $IOT/train.ds "$out/iot-T3/p.ds" "$out/iot-T2/p.ds" \
    "$out/iot-T0/p.ds" > "$out/iot-parts.txt"
awk 'NR > 1 { f = $2; if (f == "p.ds") { i++; f = i <= 31 ? "-T 3" : i <= 62 ? "-T 2" : "-T 0" }
     n[f]++; o[f] += $3 > 0.10; t[f] += $3 }
     END { for (k in n) printf "iot %-8s classes with KS over 0.10: %d of %d, mean KS %.3f\n", k, o[k], n[k], t[k] / n[k] }' \
    "$out/iot-parts.txt"
