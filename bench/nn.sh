#!/bin/sh
# nn.sh: build bench/nn.c against $BUILD/libnetsynth.a and time every nn.h
# kernel at a training step's shapes. usage: sh bench/nn.sh [B T d NH layers]
set -e
BUILD=${BUILD:-build}
[ -f "$BUILD/libnetsynth.a" ] || make BUILD="$BUILD" "$BUILD/libnetsynth.a"
mkdir -p "$BUILD/bench"
${CC:-cc} -std=c11 -O2 -D_DEFAULT_SOURCE -fopenmp -Iinclude bench/nn.c "$BUILD/libnetsynth.a" \
    -o "$BUILD/bench/nn" -ldl -lm
echo "load average (other work on these cores skews the numbers): $(cut -d" " -f1-3 /proc/loadavg)"
exec "$BUILD/bench/nn" "$@"
