#!/bin/sh
# bench/coverage.sh: the coverage issue's measurements on the IoT Sentinel
# corpus (BENCHMARK.md, "Coverage"): LoRA adapters for devices the base never
# saw, and prompts of (device, service) pairs the base never saw together.
#
#   sh bench/coverage.sh WORKDIR [REFERENCE_MODEL]
#
# WORKDIR gets every file. The base is trained there (STEPS, default 20000:
# about 40 minutes on 2 cores) unless WORKDIR/base.nsm exists. REFERENCE_MODEL
# is a model trained with the left-out devices from the start, on a dataset of
# labels device,device_type (BENCHMARK.md "Fidelity" trains one); without it
# that comparison is skipped. Environment: NETSYNTH (the binary), NETSYNTH_SHARED
# (../shared), STEPS, FT_STEPS (fine-tuning steps), THREADS.
set -eu
W=${1:?usage: sh bench/coverage.sh WORKDIR [REFERENCE_MODEL]}
REF=${2:-}
N=${NETSYNTH:-$(pwd)/build/netsynth}
S=${NETSYNTH_SHARED:-$(pwd)/../shared}/data/iot-sentinel
STEPS=${STEPS:-20000}
FT_STEPS=${FT_STEPS:-1500}
T=${THREADS:-2}
NEW="D-LinkCam EdimaxPlug1101W EdnetGateway TP-LinkPlugHS100 WeMoSwitch"
PAIRS="device=D-LinkHomeHub,service=HTTP device=WeMoLink,service=DNS device=HueBridge,service=NTP
device=WeMoInsightSwitch,service=TLS device=D-LinkSwitch,service=NTP"
[ -d "$S" ] || { echo "coverage.sh: $S is absent (set NETSYNTH_SHARED)" >&2; exit 2; }
mkdir -p "$W"
cd "$W"

# Data: devices, types and nDPI services; what the base never sees.
for split in train test; do
    [ -f svc-$split.ds ] || "$N" dataset --labels "$S/labels.tsv" --label device,device_type \
        --flows "$S/flow-services.tsv" --flow-label ndpi_proto --split $split -o svc-$split.ds
done
leave_out=""
only_new=""
for d in $NEW; do leave_out="$leave_out --exclude device=$d"; only_new="$only_new --only device=$d"; done
only_pairs=""
for p in $PAIRS; do leave_out="$leave_out --exclude $p"; only_pairs="$only_pairs --only $p"; done
"$N" subset -q --data svc-train.ds $leave_out -o base-train.ds
"$N" subset -q --data svc-test.ds $leave_out -o seen-test.ds
"$N" subset -q --data svc-train.ds $only_pairs -o pairs-train.ds
"$N" subset -q --data svc-test.ds $only_pairs -o pairs-test.ds
"$N" subset -q --data svc-train.ds $only_new -o new-train.ds
"$N" subset -q --data svc-test.ds $only_new -o new-test.ds

[ -f base.nsm ] || "$N" train --data base-train.ds -o base.nsm --config small --steps "$STEPS" --threads "$T" \
    --log-every 500 2>base-train.log

# 1. LoRA: an adapter per left-out device from 100 of its training flows,
# then as many flows as the real train split has of it, of the services
# those 100 have (a service none of them has is a token neither the base nor
# the adapter learned, and generate refuses it).
printf 'path\tdevice\tdevice_type\tservice\n' >lora-synth.tsv
for d in $NEW; do
    "$N" subset -q --data svc-train.ds --only device=$d --per-class 100 -o ft-$d.ds
    learned=$("$N" inspect ft-$d.ds | sed -n '/^service:/,/^[^ ]/p' |
        awk -v d=$d 'NF >= 3 && $3 == "flows" && $2 > 0 { printf " --only device=%s,service=%s", d, $1 }')
    "$N" subset -q --data svc-train.ds $learned -o like-$d.ds
    start=$(date +%s)
    "$N" finetune -q --model base.nsm --data ft-$d.ds -o $d.lora --steps "$FT_STEPS" --threads "$T"
    echo "finetune $d: $(( $(date +%s) - start )) s, adapter $(stat -L -c %s $d.lora) bytes, base $(stat -L -c %s base.nsm) bytes"
    rm -rf synth-$d
    "$N" generate -q --model base.nsm --lora $d.lora --like like-$d.ds -o synth-$d --threads "$T"
    tail -n +2 synth-$d/labels.tsv | sed "s|^|synth-$d/|" >>lora-synth.tsv
done
echo "== LoRA: the five left-out devices, synthetic train / real test (5 classes)"
"$N" eval --real new-train.ds --real-test new-test.ds --synth lora-synth.tsv --label device --no-netflow \
    --no-compliance --json lora-eval.json | sed -n 1,4p
if [ -n "$REF" ]; then
    rm -rf ref-synth
    [ -f dt-train.ds ] || "$N" dataset --labels "$S/labels.tsv" --label device,device_type --split train -o dt-train.ds
    "$N" subset -q --data dt-train.ds $only_new -o ref-like.ds
    "$N" generate -q --model "$REF" --like ref-like.ds -o ref-synth --threads "$T"
    echo "== reference: a model trained with them from the start ($REF)"
    "$N" eval --real new-train.ds --real-test new-test.ds --synth ref-synth/synthetic.ds --label device \
        --no-netflow --json ref-eval.json | sed -n 1,4p
fi

# 2. Held-out pairs: prompts of every attribute of the pairs' real train
# flows, guidance 3 for the rows and the lengths (PAIRS_OPTS); judged by
# forests trained on all real train flows. The bar's ratio (both attributes
# recognised in the generated pairs, against real test flows of seen pairs)
# moves by a few points with the forest's seed and the generation's, so it is
# averaged over three of each.
PAIRS_OPTS=${PAIRS_OPTS:---guidance 3 --length-guidance 3}
echo "== held-out pairs (generate $PAIRS_OPTS): accuracy of real forests, real test flows of seen pairs (real) and generated pairs (TRTS)"
for s in 1 2 3; do
    rm -rf pairs-synth$s
    "$N" generate -q --model base.nsm --like pairs-train.ds -o pairs-synth$s --threads "$T" --seed $s $PAIRS_OPTS
    for f in 0 1 2; do
        "$N" eval --real svc-train.ds --real-test seen-test.ds --synth pairs-synth$s/synthetic.ds \
            --label device,service --no-netflow --seed $f --json pairs-eval-$s-$f.json >pairs-eval-$s-$f.txt
    done
done
cat pairs-eval-1-0.txt | sed -n 1,6p
# "all at once" lines: real acc in field 5, TRTS acc in field 7; per label, TRTS acc in field 8.
cat pairs-eval-?-?.txt | awk '
    $1 == "device" && $2 == "nprint" { d += $8 }
    $1 == "service" && $2 == "nprint" { v += $8 }
    $1 == "all" && $3 == "once" { n++; r = $7 / $5; sum += r; if (n == 1 || r < lo) lo = r; if (r > hi) hi = r }
    END { printf "over %d runs (3 generation x 3 forest seeds): device %.3f, service %.3f; both at once %.3f of the real rate (%.3f to %.3f; bar 0.70)\n", n, d / n, v / n, sum / n, lo, hi }'
echo "== the same forests on real test flows of the held-out pairs"
"$N" eval --real svc-train.ds --real-test pairs-test.ds --label device,service --no-netflow | sed -n 1,6p
# How much of a held-out pair's device shows in traits the device has in its
# other services: forests trained on real flows without the pairs (what the
# base saw of them), on the real and the generated flows of the pairs.
pairs_out=""
for p in $PAIRS; do pairs_out="$pairs_out --exclude $p"; done
"$N" subset -q --data svc-train.ds $pairs_out -o nopairs-train.ds
echo "== forests trained without the pairs: real test flows of the pairs (real), generated pairs (TRTS)"
"$N" eval --real nopairs-train.ds --real-test pairs-test.ds --synth pairs-synth1/synthetic.ds --label device,service \
    --no-netflow | sed -n 1,6p
