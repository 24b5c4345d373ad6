#!/bin/sh
# control.sh: the control branch measured on the IoT corpus. Trains a branch
# for a trained model (or takes CTL), generates one flow per test flow from
# that flow's control map, and prints the share of packets whose protocol and
# direction (and size bucket, TCP flags) match the map: in the generated rows
# (before repair) and in the written pcaps read back as flows (after repair,
# what the user gets), by the branch alone (--control-soft), at
# --control-scale 2, and as generate runs by default (the branch plus the
# exact clamp of protocol, direction and flags), and by the clamp without the
# branch; then the same for the maps' own real flows through repair
# (the most repair lets any generator reach), and the diversity of the fields
# the map does not fix against unconditioned samples of the same prompt.
#
# usage: sh bench/control.sh
#   MODEL (default /tmp/ns/run1/small.nsm), TRAIN (/tmp/ns/train.ds),
#   TEST (/tmp/ns/test.ds), OUT (/tmp/control/bench), STEPS (4000), BATCH (32),
#   CTL (a trained branch: skip training), PROMPT (""), LORA (an adapter of
#   MODEL to merge while generating), BUILD (build)
set -e
BUILD=${BUILD:-build}
MODEL=${MODEL:-/tmp/ns/run1/small.nsm}
TRAIN=${TRAIN:-/tmp/ns/train.ds}
TEST=${TEST:-/tmp/ns/test.ds}
OUT=${OUT:-/tmp/control/bench}
STEPS=${STEPS:-4000}
BATCH=${BATCH:-32}
PROMPT=${PROMPT:-}
LORA=${LORA:-}
NS="nice -n 5 $BUILD/netsynth"
[ -x "$BUILD/netsynth" ] && [ -f "$BUILD/libnetsynth.a" ] || make BUILD="$BUILD" "$BUILD/netsynth" "$BUILD/libnetsynth.a"
mkdir -p "$BUILD/bench" "$OUT"
${CC:-cc} -std=c11 -O2 -D_DEFAULT_SOURCE -fopenmp -Iinclude bench/control_eval.c "$BUILD/libnetsynth.a" \
    -o "$BUILD/bench/control_eval" -lpcap -lpng -lz -ldl -lm
grep -m1 "model name" /proc/cpuinfo || true
echo "load average: $(cut -d" " -f1-3 /proc/loadavg) (other work on these cores slows the timings)"

if [ -z "$CTL" ]; then
    CTL=$OUT/ctl.nsc
    t0=$(date +%s)
    $NS train-control --model "$MODEL" --data "$TRAIN" -o "$CTL" --steps "$STEPS" --batch "$BATCH" --threads 1 \
        2>&1 | tail -n 1
    echo "train-control: $STEPS steps of $BATCH flows in $(($(date +%s) - t0)) s wall (1 thread)"
fi
N=$($BUILD/netsynth inspect "$TEST" | sed -n 's/^flows \([0-9]*\),.*/\1/p')
echo "control maps: the $N flows of $TEST; prompt '${PROMPT}'"

gen() { # name, extra options...
    name=$1
    shift
    t0=$(date +%s)
    $NS generate --model "$MODEL" ${LORA:+--lora "$LORA"} --prompt "$PROMPT" --threads 1 -q "$@" -o "$OUT/$name.ds"
    echo "generate $name: $N flows in $(($(date +%s) - t0)) s wall"
}
gen_pcap() { # name, extra options...
    name=$1
    shift
    rm -rf "$OUT/$name-pcap"
    mkdir -p "$OUT/$name-pcap"
    $NS generate --model "$MODEL" ${LORA:+--lora "$LORA"} --prompt "$PROMPT" --threads 1 -q --per-flow "$@" -o "$OUT/$name-pcap/f.pcap"
}
C="--controlnet $CTL --control $TEST"
gen branch $C --control-soft
gen_pcap branch $C --control-soft
gen scale2 $C --control-soft --control-scale 2
gen_pcap scale2 $C --control-soft --control-scale 2
gen hard $C
gen_pcap hard $C
gen clamp-only $C --control-scale 0
gen base-alone $C --control-soft --control-scale 0
gen unconditioned -n "$N"

E="$BUILD/bench/control_eval $TEST 64"
echo "== the branch alone (--control-soft)"
$E "$OUT/branch.ds" "$OUT/branch-pcap/f" "$N"
echo "== the branch alone at --control-scale 2"
$E "$OUT/scale2.ds" "$OUT/scale2-pcap/f" "$N"
echo "== the default: the branch, protocol, direction and flags also clamped"
$E "$OUT/hard.ds" "$OUT/hard-pcap/f" "$N"
echo "== the clamp without the branch (--control-scale 0)"
$E "$OUT/clamp-only.ds"
echo "== the base alone (--control-soft --control-scale 0: the maps' lengths only)"
$E "$OUT/base-alone.ds"
echo "== the ceiling after repair"
mkdir -p "$OUT/ceiling"
$E "$OUT/hard.ds" --ceiling "$TEST" "$OUT/ceiling" -- real-test="$TEST" branch="$OUT/branch.ds" \
    scale2="$OUT/scale2.ds" hard="$OUT/hard.ds" clamp-only="$OUT/clamp-only.ds" base-alone="$OUT/base-alone.ds" \
    unconditioned="$OUT/unconditioned.ds" |
    sed 1d
