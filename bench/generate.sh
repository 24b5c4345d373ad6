#!/bin/sh
# generate.sh: generation speed of 64-packet flows, default sampler and --fast,
# with the default (medium) model, in one invocation.
# usage: sh bench/generate.sh [FLOWS]   (BUILD=dir; MODEL=file to use a trained model;
#        CONFIG=name to train that config instead of the default, e.g. CONFIG=small;
#        BASE=path/to/another/netsynth to time it too, alternating with this build,
#        and print the ratio; ROUNDS=n runs of each, the median reported)
# Bars (engine issue): >= 50 flows/s default, >= 200 flows/s fast.
# Speed does not depend on what the weights are, so without MODEL a model is
# trained for a few steps on a dataset made here from the shared corpus.
# The machine may be shared: compare only numbers of one invocation.
set -eu
BUILD=${BUILD:-build}
BASE=${BASE:-}
ROUNDS=${ROUNDS:-1}
n=${1:-256}
shared=${NETSYNTH_SHARED:-../shared}
data="$shared/data/iot-sentinel"
[ -x "$BUILD/netsynth" ] || make BUILD="$BUILD" "$BUILD/netsynth"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
model=${MODEL:-}
if [ -z "$model" ]; then
    if [ ! -f "$data/labels.tsv" ]; then
        echo "generate bench: skipped: needs MODEL=file or the corpus at $data"
        exit 0
    fi
    "$BUILD/netsynth" dataset --labels "$data/labels.tsv" --label device,device_type --split train \
        -o "$tmp/train.ds" 2>/dev/null
    "$BUILD/netsynth" train --data "$tmp/train.ds" --steps 5 --eval-every 0 --ckpt-every 0 -q \
        ${CONFIG:+--config "$CONFIG"} -o "$tmp/m.nsm"
    model="$tmp/m.nsm"
fi
echo "machine: $(nproc) cores; load $(cut -d' ' -f1-3 /proc/loadavg); model $model"
# rate BINARY MODE: one run's flows/s
rate() {
    extra=""
    [ "$2" = fast ] && extra="--fast"
    "$1" generate --model "$model" --prompt "" -n "$n" --length 64 $extra -o "$tmp/out.ds" 2>&1 |
        sed -n 's/^generated.* \([0-9.]*\) flows\/s.*/\1/p'
}
median() { tr ' ' '\n' | grep . | sort -g | awk '{v[NR] = $1} END {print v[int((NR + 1) / 2)]}'; }
for mode in default fast; do
    bar=50
    [ "$mode" = fast ] && bar=200
    new="" base=""
    r=0
    while [ "$r" -lt "$ROUNDS" ]; do
        [ -n "$BASE" ] && base="$base $(rate "$BASE" "$mode")"
        new="$new $(rate "$BUILD/netsynth" "$mode")"
        r=$((r + 1))
    done
    a=$(echo "$new" | median)
    if [ -n "$BASE" ]; then
        b=$(echo "$base" | median)
        echo "$mode: $n flows of 64 packets: $a flows/s (bar $bar); BASE $b flows/s; ratio" \
            "$(awk -v a="$a" -v b="$b" 'BEGIN {printf "%.2f", a / b}') (runs: this$new; BASE$base)"
    else
        echo "$mode: $n flows of 64 packets: $a flows/s (bar $bar)"
    fi
done
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"
