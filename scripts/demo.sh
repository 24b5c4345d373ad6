#!/bin/sh
# make demo: dataset -> train -> generate like-for-like -> evaluate, in a few minutes on 2 cores.
# NETSYNTH_DATA: a corpus folder with labels.tsv (default ../shared/data/iot-sentinel).
# DEMO_STEPS: training steps (default 1500). DEMO_OUT: where results go (default demo-out).
set -eu
bin=${NETSYNTH_BIN:-build/netsynth}
data=${NETSYNTH_DATA:-../shared/data/iot-sentinel}
out=${DEMO_OUT:-demo-out}
steps=${DEMO_STEPS:-1500}
if [ ! -f "$data/labels.tsv" ]; then
    echo "demo: no corpus at $data (no labels.tsv). Point NETSYNTH_DATA at a folder with labels.tsv" >&2
    echo "demo: and captures; the built-in lab corpus is still to come (see README)." >&2
    exit 1
fi
mkdir -p "$out"
start=$(date +%s)
echo "== 1/4 datasets from $data (first 16 packets of each flow)"
"$bin" dataset --labels "$data/labels.tsv" --label device,device_type --split train --packets 16 -o "$out/train.ds"
"$bin" dataset --labels "$data/labels.tsv" --label device,device_type --split test --packets 16 -o "$out/test.ds"
echo "== 2/4 train a small model for $steps steps"
"$bin" train --data "$out/train.ds" --config small --steps "$steps" --log-every 250 --eval-every 500 \
    --ckpt-every 0 -o "$out/model.nsm"
echo "== 3/4 generate as many flows per device as the real training split has"
"$bin" generate --model "$out/model.nsm" --like "$out/train.ds" -o "$out/synth" -q
echo "== 4/4 evaluate: random forest, real vs synthetic (TSTR: train synthetic, test real)"
"$bin" eval --real "$out/train.ds" --real-test "$out/test.ds" --synth "$out/synth/synthetic.ds" \
    --label device,device_type --trees 50 --json "$out/report.json"
echo "demo: done in $(( $(date +%s) - start )) s; synthetic captures in $out/synth/, report in $out/report.json"
