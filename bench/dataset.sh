#!/bin/sh
# bench/dataset.sh: time to build the dataset file of the whole IoT Sentinel
# corpus (550 captures, 193,421 packets; whole flows, the default since dataset
# version 2) with the usual options, median of 3
# runs, against the 2 s bar. Runs once with OMP_NUM_THREADS=1 as well, so the
# parallel speed-up is measured in the same run. Loading the file back
# (`netsynth inspect`, a single read plus full validation) is timed too.
set -eu
BIN=${NETSYNTH_BIN:-build/netsynth}
SHARED=${NETSYNTH_SHARED:-../shared}
BAR=2.0
DATA=$SHARED/data/iot-sentinel
tmp=$(mktemp -d /tmp/netsynth-bench-dataset.XXXXXX)
trap 'rm -rf "$tmp"' EXIT INT TERM

now() { date +%s.%N; }
median3() { printf '%s\n' "$@" | sort -g | sed -n 2p; }

build() { # threads
    times=""
    for i in 1 2 3; do
        rm -f "$tmp/ds"
        sync
        t0=$(now)
        OMP_NUM_THREADS=$1 "$BIN" dataset --labels "$DATA/labels.tsv" --label device,device_type \
            --flows "$DATA/flow-services.tsv" --flow-label ndpi_proto -o "$tmp/ds" >"$tmp/summary"
        t1=$(now)
        times="$times $(echo "$t1 - $t0" | bc -l)"
    done
    # shellcheck disable=SC2086
    median3 $times
}

two=$(build 2)
one=$(build 1)
sed 's/^[^:]*: //' "$tmp/summary"
echo "file: $(du -k "$tmp/ds" | cut -f1) KiB, $(nproc) cores"
t0=$(now); "$BIN" inspect "$tmp/ds" >/dev/null; t1=$(now)
printf 'load + validate + summarise (inspect): %.3f s\n' "$(echo "$t1 - $t0" | bc -l)"
if [ -x /usr/bin/time ]; then   # CPU time does not grow with other processes' load
    /usr/bin/time -f '%U %S' -o "$tmp/cpu" "$BIN" dataset --labels "$DATA/labels.tsv" --label device,device_type \
        --flows "$DATA/flow-services.tsv" --flow-label ndpi_proto -o "$tmp/ds" >/dev/null
    read -r user sys <"$tmp/cpu"
    printf 'CPU time of one 2-thread build: %.2f s user + %.2f s system; load average now %s\n' "$user" "$sys" \
        "$(cut -d' ' -f1 /proc/loadavg)"
fi
printf '1 thread:  median %.3f s\n' "$one"
printf '2 threads: median %.3f s  (%.2fx the 1-thread time)  bar %.1f s: %s (%.2fx under)\n' "$two" \
    "$(echo "$one / $two" | bc -l)" "$BAR" "$(echo "$two < $BAR" | bc | sed 's/1/PASS/;s/0/FAIL/')" \
    "$(echo "$BAR / $two" | bc -l)"
