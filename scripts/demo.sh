#!/bin/sh
# make demo: dataset -> train -> generate like-for-like -> evaluate, in a few minutes on 2 cores.
# NETSYNTH_DATA: a corpus folder with labels.tsv. Default: the lab corpus that ships with
#   the project (lab/corpus, made by lab/capture.sh), so a fresh clone needs nothing else;
#   NETSYNTH_DATA=../shared/data/iot-sentinel runs it on the IoT Sentinel corpus.
# DEMO_LABELS: comma-separated label columns (default: every column of the table but
#   path and split: device,device_type for IoT Sentinel, app,rtt,loss for the lab corpus).
# DEMO_STEPS: training steps (default 3000). DEMO_OUT: where results go (default demo-out).
# DEMO_WHOLE: 1 builds the datasets of whole flows and trains a 16-packet window on them,
#   so that windows inside the long flows are trained, with train --continuation-share
#   DEMO_CONT_SHARE when set (train's default otherwise). Default 0: datasets cut at 16
#   packets (README, "make demo"; BENCHMARK.md "Whole-flow demo: the continuation share
#   (session 9)" measures both).
# DEMO_PAYLOAD: payload bytes kept per packet (dataset --payload and eval --payload). Default
#   0, headers only, also for the lab corpus, which lab/capture.sh records with headers and
#   at least 64 payload bytes: DEMO_PAYLOAD=32 learns and writes content, which the report's
#   application-layer table (nDPI and tshark per class, when installed) shows, but costs the
#   header nPrint classifier at the demo's 3,000 steps (BENCHMARK.md "The lab corpus with
#   payload (session 11)": app nPrint TSTR 0.862 -> 0.763 over three forest seeds).
set -eu
bin=${NETSYNTH_BIN:-build/netsynth}
data=${NETSYNTH_DATA:-lab/corpus}
out=${DEMO_OUT:-demo-out}
steps=${DEMO_STEPS:-3000}
if [ ! -f "$data/labels.tsv" ]; then
    echo "demo: no corpus at $data (no labels.tsv). Point NETSYNTH_DATA at a folder with labels.tsv" >&2
    echo "demo: and captures, or leave it unset for the lab corpus in lab/corpus." >&2
    exit 1
fi
labels=${DEMO_LABELS:-$(head -n 1 "$data/labels.tsv" | tr -d '\r' | tr '\t' '\n' |
    grep -v -x -e path -e split | paste -s -d , -)}
if [ -z "$labels" ]; then
    echo "demo: $data/labels.tsv has no label columns (only path and split)" >&2
    exit 1
fi
payload=${DEMO_PAYLOAD:-}
[ -z "$payload" ] && [ "$data" = lab/corpus ] && payload=0
payload_opt=${payload:+--payload $payload}
whole=${DEMO_WHOLE:-0}
cont=${DEMO_CONT_SHARE:-}
if [ "$whole" = 1 ]; then
    cut_opt= train_opt="--packets 16${cont:+ --continuation-share $cont}" kept="whole flows"
else
    cut_opt="--packets 16" train_opt= kept="first 16 packets of each flow"
fi
mkdir -p "$out"
start=$(date +%s)
echo "== 1/4 datasets from $data, labels $labels ($kept)"
"$bin" dataset --labels "$data/labels.tsv" --label "$labels" --split train $cut_opt $payload_opt -o "$out/train.ds"
"$bin" dataset --labels "$data/labels.tsv" --label "$labels" --split test $cut_opt $payload_opt -o "$out/test.ds"
echo "== 2/4 train a small model for $steps steps"
# With cut datasets train warns that they keep 16 packets a flow: longer flows are generated
# whole but each window past the first restarts. Whole-flow datasets (DEMO_WHOLE=1) fix that
# and cost the first 16 packets' fidelity at the demo's 3,000 steps at every continuation
# share measured (BENCHMARK.md "Lab timing (session 8)", "Whole-flow demo: the continuation
# share (session 9)").
"$bin" train --data "$out/train.ds" --config small --steps "$steps" --log-every 250 --eval-every 500 \
    --ckpt-every 0 $train_opt -o "$out/model.nsm"
echo "== 3/4 generate as many flows per class as the real training split has"
"$bin" generate --model "$out/model.nsm" --like "$out/train.ds" -o "$out/synth" -q
echo "== 4/4 evaluate the synthetic captures against the real ones (TSTR: train synthetic, test real)"
"$bin" eval --real "$data/labels.tsv" --synth "$out/synth/labels.tsv" --label "$labels" --like --trees 50 $payload_opt \
    --model "$out/model.nsm" --json "$out/report.json" --html "$out/report.html"
echo "demo: done in $(( $(date +%s) - start )) s; synthetic captures in $out/synth/, report in $out/report.html"
