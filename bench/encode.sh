#!/bin/sh
# bench/encode.sh: speed of `netsynth encode -4 -t -u -i -F -1 -O 4` on all
# 550 IoT Sentinel captures merged into one pcap, 1 and 2 threads, median of
# 3 runs each, against nPrint's 20,000 packets/s (single-threaded); then the
# same with -p 32 (256 payload bit columns more per row) against the run
# without, measured here, as a ratio of times and of output sizes.
#
# nPrint itself is not installed here, so its figure is the reference number,
# not a measurement of this run. Each run writes a fresh file in /tmp through
# -W (temp file, fsync, rename); `sync` runs before each so that one run's
# dirty pages do not slow the next. A second line per thread count writes to
# /dev/null: the encoder alone, without the disk.
set -eu
BIN=${NETSYNTH_BIN:-build/netsynth}
SHARED=${NETSYNTH_SHARED:-../shared}
NPRINT_PPS=20000
FLAGS="-4 -t -u -i -F -1 -O 4"
tmp=$(mktemp -d /tmp/netsynth-bench-encode.XXXXXX)
trap 'rm -rf "$tmp"' EXIT INT TERM

mergecap -F pcap -w "$tmp/all.pcap" "$SHARED"/data/iot-sentinel/pcaps/*/*.pcap
packets=$(tcpdump -r "$tmp/all.pcap" 2>/dev/null | wc -l)
echo "merged capture: $packets packets, $(du -m "$tmp/all.pcap" | cut -f1) MB"
echo "nPrint reference: $NPRINT_PPS packets/s single-threaded (nPrint is not installed here; not measured)"

now() { date +%s.%N; }
median3() { printf '%s\n' "$@" | sort -g | sed -n 2p; }

# run threads out label extra-flags: prints a line, leaves the median in $m
run() {
    times=""
    for i in 1 2 3; do
        rm -f "$2"
        sync
        t0=$(now)
        # shellcheck disable=SC2086
        if [ "$2" = /dev/null ]; then
            "$BIN" encode -P "$tmp/all.pcap" $FLAGS $4 -j "$1" >/dev/null 2>&1
        else
            "$BIN" encode -P "$tmp/all.pcap" $FLAGS $4 -j "$1" -W "$2" 2>/dev/null
        fi
        t1=$(now)
        times="$times $(echo "$t1 - $t0" | bc -l)"
    done
    # shellcheck disable=SC2086
    m=$(median3 $times)
    pps=$(echo "$packets / $m" | bc)
    ratio=$(echo "scale=1; $pps / $NPRINT_PPS" | bc)
    printf '%d thread(s), %-8s %-22s median %6.3f s  %9d packets/s  %5sx nPrint\n' "$1" "$4" "$3" "$m" "$pps" "$ratio"
}

for threads in 1 2; do
    run "$threads" "$tmp/out.csv" "to a file in /tmp:" ""
    base_file=$m
    size=$(du -m "$tmp/out.csv" | cut -f1)
    run "$threads" /dev/null "to /dev/null:" ""
    base_null=$m
    run "$threads" "$tmp/p32.csv" "to a file in /tmp:" "-p 32"
    p32_file=$m
    size32=$(du -m "$tmp/p32.csv" | cut -f1)
    run "$threads" /dev/null "to /dev/null:" "-p 32"
    p32_null=$m
    printf '%d thread(s), -p 32 / without: time %s to a file, %s to /dev/null; output %s MB / %s MB\n' "$threads" \
        "$(echo "scale=2; $p32_file / $base_file" | bc)" "$(echo "scale=2; $p32_null / $base_null" | bc)" "$size32" "$size"
done
