#!/bin/sh
# generate.sh: generation speed of 64-packet flows, default sampler and --fast,
# with the default (small) model, in one invocation.
# usage: sh bench/generate.sh [FLOWS]   (BUILD=dir; MODEL=file to use a trained model)
# Bars (engine issue): >= 50 flows/s default, >= 200 flows/s fast.
# Speed does not depend on what the weights are, so without MODEL a model is
# trained for a few steps on a dataset made here from the shared corpus.
set -eu
BUILD=${BUILD:-build}
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
    "$BUILD/netsynth" train --data "$tmp/train.ds" --steps 5 --eval-every 0 --ckpt-every 0 -q -o "$tmp/m.nsm"
    model="$tmp/m.nsm"
fi
echo "machine: $(nproc) cores; load $(cut -d' ' -f1-3 /proc/loadavg); model $model"
for mode in default fast; do
    extra=""
    [ "$mode" = fast ] && extra="--fast"
    line=$("$BUILD/netsynth" generate --model "$model" --prompt "" -n "$n" --length 64 $extra \
        -o "$tmp/out.ds" 2>&1 | grep '^generated')
    rate=$(echo "$line" | sed -n 's/.* \([0-9.]*\) flows\/s.*/\1/p')
    bar=50
    [ "$mode" = fast ] && bar=200
    echo "$mode: $n flows of 64 packets: $rate flows/s (bar $bar)"
done
