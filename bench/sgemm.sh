#!/bin/sh
# sgemm.sh: build bench/sgemm.c against $BUILD/libnetsynth.a and print the
# GFLOP/s table (Prescott default vs chosen kernel vs built-in, 1 and 2 threads).
# usage: sh bench/sgemm.sh [--quick]        (BUILD=dir, default build)
set -e
BUILD=${BUILD:-build}
[ -f "$BUILD/libnetsynth.a" ] || make BUILD="$BUILD" "$BUILD/libnetsynth.a"
mkdir -p "$BUILD/bench"
${CC:-cc} -std=c11 -O2 -D_DEFAULT_SOURCE -fopenmp -Iinclude bench/sgemm.c "$BUILD/libnetsynth.a" \
    -o "$BUILD/bench/sgemm" -ldl -lm
nproc | sed 's/^/cores: /'
grep -m1 "model name" /proc/cpuinfo || true
echo "load average (other work on these cores skews the 2-thread numbers): $(cut -d" " -f1-3 /proc/loadavg)"
exec "$BUILD/bench/sgemm" "$@"
