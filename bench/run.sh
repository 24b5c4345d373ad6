#!/bin/sh
# make bench: every benchmark, one after the other (each prints its own ratios).
set -u
for b in sgemm encode dataset train generate forest_vs_sklearn; do
    echo "==== bench/$b.sh"
    NETSYNTH_BIN=${NETSYNTH_BIN:-${BUILD:-build}/netsynth} sh "bench/$b.sh" || echo "bench/$b.sh failed"
done
