#!/bin/sh
# longflow.sh: one flow of LEN packets (default 100,000) generated to a pcap,
# its peak RSS and time, and the rate of long flows in packets/s beside
# short ones' in flows/s (the same number of packets as 64-packet flows).
# usage: sh bench/longflow.sh [LEN]   (BUILD=dir; MODEL=file to use a trained
#        model; BASE=path/to/another/netsynth: the same runs with it first,
#        "before" beside this build's "after", in this one invocation)
# The length is forced (generate --length LEN): whole-flow length heads
# rarely draw 100,000 packets, and speed and memory do not depend on the
# weights, so without MODEL a tiny model is trained for 50 steps on the lab
# corpus (lab/corpus: whole flows, up to 256 packets), whose window is 64.
# The machine may be shared: compare only numbers of one invocation.
set -eu
BUILD=${BUILD:-build}
BASE=${BASE:-}
len=${1:-100000}
[ -x "$BUILD/netsynth" ] || make BUILD="$BUILD" "$BUILD/netsynth"
[ -x /usr/bin/time ] || { echo "longflow bench: skipped: needs /usr/bin/time (GNU time)"; exit 0; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
model=${MODEL:-}
if [ -z "$model" ]; then
    "$BUILD/netsynth" dataset --labels lab/corpus/labels.tsv --label app --split train -o "$tmp/train.ds" 2>/dev/null
    "$BUILD/netsynth" train --data "$tmp/train.ds" --config tiny --steps 50 --eval-every 0 --ckpt-every 0 -q \
        -o "$tmp/m.nsm"
    model="$tmp/m.nsm"
fi
short=$(( (len + 63) / 64 ))
echo "machine: $(nproc) cores; load $(cut -d' ' -f1-3 /proc/loadavg); model $model; -j 2"
# run BINARY NAME N LENGTH: seconds, peak RSS and packets of one generate run
run() {
    /usr/bin/time -f "%e %M" -o "$tmp/time" "$1" generate --model "$model" --prompt "" -n "$3" --length "$4" \
        --seed 1 -j 2 -o "$tmp/$2.pcap" 2>"$tmp/err"
    pkts=$(sed -n 's/^generated [0-9]* flows (\([0-9]*\) packets).*/\1/p' "$tmp/err")
    set -- "$2" "$3" "$4" $(cat "$tmp/time")
    awk -v who="$1" -v n="$2" -v l="$3" -v s="$4" -v kb="$5" -v p="${pkts:-0}" 'BEGIN {
        printf "%-12s %6d flows x %6d packets: %7.2f s, peak RSS %6.1f MB, %8.0f packets/s, %8.1f flows/s\n",
               who, n, l, s, kb / 1024, p / s, n / s }'
}
for bin in ${BASE:+"$BASE"} "$BUILD/netsynth"; do
    who=after
    [ "$bin" = "$BASE" ] && who=before
    run "$bin" "$who-long" 1 "$len"
    run "$bin" "$who-short" "$short" 64
done
if [ -n "$BASE" ]; then
    cmp -s "$tmp/before-short.pcap" "$tmp/after-short.pcap" && same=identical || same=different
    echo "short flows' pcaps of before and after: $same"
fi
