#!/bin/sh
# train.sh: training throughput against this machine's sgemm peak, both measured
# in this one invocation, and the peak memory of default training.
# usage: sh bench/train.sh [STEPS]     (BUILD=dir; NETSYNTH_SHARED=dir with data/iot-sentinel)
# The bar (engine issue): matrix-product GFLOP/s of training >= 30% of the sgemm peak
# (square 2048, 2 threads, the kernel netsynth chooses); peak memory < 4 GB.
set -eu
BUILD=${BUILD:-build}
steps=${1:-300}
shared=${NETSYNTH_SHARED:-../shared}
data="$shared/data/iot-sentinel"
if [ ! -f "$data/labels.tsv" ]; then
    echo "train bench: skipped: needs the IoT Sentinel corpus at $data (set NETSYNTH_SHARED)"
    exit 0
fi
[ -x "$BUILD/netsynth" ] || make BUILD="$BUILD" "$BUILD/netsynth"
[ -f "$BUILD/libnetsynth.a" ] || make BUILD="$BUILD" "$BUILD/libnetsynth.a"
mkdir -p "$BUILD/bench"
${CC:-cc} -std=c11 -O2 -D_DEFAULT_SOURCE -fopenmp -Iinclude bench/sgemm.c "$BUILD/libnetsynth.a" \
    -o "$BUILD/bench/sgemm" -ldl -lm
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'); load $(cut -d' ' -f1-3 /proc/loadavg)"
# Peak: the square 2048 product (shape 1) at 2 threads.
peak=$(OMP_WAIT_POLICY=passive "$BUILD/bench/sgemm" --one | awk '$1 == 1 && $2 == 2 { print $3 }')
echo "sgemm peak (2048^3, 2 threads): $peak GFLOP/s"
"$BUILD/netsynth" dataset --labels "$data/labels.tsv" --label device,device_type --split train \
    -o "$tmp/train.ds" 2>/dev/null
for config in small base; do
    /usr/bin/time -v "$BUILD/netsynth" train --data "$tmp/train.ds" --config "$config" --steps "$steps" \
        --eval-every 0 --ckpt-every 0 --log-every 0 -o "$tmp/m.nsm" 2>"$tmp/log" || { cat "$tmp/log"; exit 1; }
    line=$(grep '^trained' "$tmp/log")
    flows=$(echo "$line" | sed -n 's/.*(\([0-9.]*\) flows\/s.*/\1/p')
    gflops=$(echo "$line" | sed -n 's/.*, \([0-9.]*\) GFLOP\/s.*/\1/p')
    rss=$(awk '/Maximum resident set size/ { printf "%.0f", $6 / 1024 }' "$tmp/log")
    awk -v c="$config" -v f="$flows" -v g="$gflops" -v p="$peak" -v r="$rss" -v s="$steps" 'BEGIN {
        printf "%-6s %5d steps: %6.0f flows/s, %6.1f GFLOP/s = %4.1f%% of peak (bar 30%%), peak RSS %d MB (bar 4096)\n",
               c, s, f, g, 100 * g / p, r }'
done
