#!/bin/sh
# mpi.sh: data-parallel training and sharded generation on 1 and 2 MPI ranks
# of this machine (one thread each), measured in this one invocation, with the
# ratios against the 1-rank run (BENCHMARK.md, MPI).
# usage: sh bench/mpi.sh [STEPS]   (BUILD=dir; NETSYNTH_SHARED=dir with data/iot-sentinel;
#                                   MPIRUN="mpirun --allow-run-as-root --oversubscribe")
# Per config (tiny, small; global batch 32): steps/s, the all-reduce's share of a
# step and the gradient bytes per step: all summed after the backward pass, the
# blocks' sums started during it (the default), and that in 1 MiB buckets;
# then generate -n 400 (tiny model): flows/s and what gathering to rank 0 cost.
# Every netsynth process (the 1-rank baseline too) runs in a session of its own
# (setsid -w): Linux's autogroup scheduling otherwise gives all the processes of
# one session, however many, the CPU share of one on a busy machine, and N ranks
# could not run faster than one process (BENCHMARK.md, MPI).
set -eu
BUILD=${BUILD:-build}
steps=${1:-40}
shared=${NETSYNTH_SHARED:-../shared}
data="$shared/data/iot-sentinel"
mpirun=${MPIRUN:-mpirun --allow-run-as-root --oversubscribe}
if [ ! -f "$data/labels.tsv" ]; then
    echo "mpi bench: skipped: needs the IoT Sentinel corpus at $data (set NETSYNTH_SHARED)"
    exit 0
fi
if ! command -v ${mpirun%% *} >/dev/null 2>&1; then
    echo "mpi bench: skipped: no ${mpirun%% *} (install openmpi-bin libopenmpi-dev, then make)"
    exit 0
fi
[ -x "$BUILD/netsynth" ] || make BUILD="$BUILD" "$BUILD/netsynth"
bin=$(realpath "$BUILD/netsynth")
own=""
command -v setsid >/dev/null 2>&1 && own="setsid -w"
echo "each process in its own session: ${own:-no (no setsid)}"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'); load $(cut -d' ' -f1-3 /proc/loadavg)"
echo "mpi: $(${mpirun%% *} --version 2>/dev/null | head -n 1)"
"$bin" dataset --labels "$data/labels.tsv" --label device,device_type --split train --packets 64 \
    -o "$tmp/train.ds" >/dev/null 2>&1
export OMP_WAIT_POLICY=passive

# train RANKS CONFIG BUCKET_MB OVERLAP: "steps/s share_pct mib_per_step" (share and bytes: - on 1 rank)
train() {
    launch=""
    [ "$1" -gt 1 ] && launch="$mpirun -x NETSYNTH_MPI_BUCKET_MB -x NETSYNTH_MPI_OVERLAP -x OMP_WAIT_POLICY -np $1"
    NETSYNTH_MPI_BUCKET_MB=$3 NETSYNTH_MPI_OVERLAP=$4 $launch $own "$bin" train --data "$tmp/train.ds" --config "$2" --steps "$steps" \
        --batch 32 --threads 1 --eval-every 0 --ckpt-every 0 --log-every "$steps" --log "$tmp/log.jsonl" \
        -o "$tmp/m-$2.nsm" >"$tmp/out" 2>&1 || { cat "$tmp/out"; exit 1; }
    elapsed=$(sed -n 's/.*"elapsed_s": \([0-9.]*\).*/\1/p' "$tmp/log.jsonl" | tail -n 1)
    line=$(grep 'processes; all-reduce' "$tmp/out" || true)
    share=$(echo "$line" | sed -n 's/.*step (\([0-9.]*\)%).*/\1/p')
    mib=$(echo "$line" | sed -n 's/.*all-reduce of \([0-9.]*\) MiB.*/\1/p')
    rm -f "$tmp/log.jsonl"
    awk -v s="$steps" -v e="$elapsed" -v sh="${share:--}" -v m="${mib:--}" 'BEGIN { printf "%.3f %s %s", s / e, sh, m }'
}

for config in tiny small; do
    set -- $(train 1 $config 0 1); base=$1
    printf '%-5s 1 rank                     : %7.2f steps/s (1.00x)\n' $config "$1"
    for way in "0 0 after the backward" "0 1 overlapped" "1 1 overlapped, 1 MiB"; do
        set -- $way
        bucket=$1 overlap=$2; shift 2; label="$*"
        set -- $(train 2 $config $bucket $overlap)
        awk -v c=$config -v l="$label" -v r="$1" -v b="$base" -v sh="$2" -v m="$3" 'BEGIN {
            printf "%-5s 2 ranks, %-18s: %7.2f steps/s (%.2fx); all-reduce %s%% of a step, %s MiB of gradient per step\n",
                   c, l, r, r / b, sh, m }'
    done
done

# Generation: one process, then 2 ranks gathering to rank 0 (byte-identical: compared).
gen() {
    launch=""
    [ "$1" -gt 1 ] && launch="$mpirun -x OMP_WAIT_POLICY -np $1"
    $launch $own "$bin" generate --model "$tmp/m-tiny.nsm" -n 400 --seed 7 -j 1 -o "$tmp/g$1.pcap" >"$tmp/out" 2>&1 ||
        { cat "$tmp/out"; exit 1; }
}
t0=$(date +%s.%N); gen 1; t1=$(date +%s.%N); gen 2; t2=$(date +%s.%N)
cmp -s "$tmp/g1.pcap" "$tmp/g2.pcap" && same="byte-identical" || same="DIFFERENT"
gline=$(grep 'gathered' "$tmp/out" | sed 's/^generate: //')
awk -v a="$t0" -v b="$t1" -v c="$t2" -v s="$same" -v g="$gline" 'BEGIN {
    printf "generate -n 400 (tiny): 1 rank %.2f s, 2 ranks %.2f s (%.2fx, wall clock with start-up); outputs %s\n",
           b - a, c - b, (b - a) / (c - b), s
    printf "  %s\n", g }'
