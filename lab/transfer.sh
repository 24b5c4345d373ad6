#!/bin/sh
# lab/transfer.sh: condition transfer on the lab corpus (lab/README.md).
#
# Trains on every training capture except one held-out (app, rtt) pair, e.g. web at
# 200ms (both losses), then generates that pair and two controls (the same app at a
# seen rtt, another app at the held-out rtt, both seen in training) and measures, with
# lab/condition.sh, whether the generated flows carry the asked condition: the median
# SYN -> SYN/ACK time within 20% of the rtt, and retransmissions for loss=1%. The real
# test captures of each pair are measured alongside, as the reference.
#
#   lab/transfer.sh [-o DIR] [--app web] [--rtt 200ms] [--seen-rtt 10ms] [--other-app ssh]
#                   [--steps 1500] [--threads 1] [-n 200]
# NETSYNTH_BIN: the program (default build/netsynth).
set -eu
bin=${NETSYNTH_BIN:-build/netsynth}
here=$(cd "$(dirname "$0")" && pwd)
corpus=$here/corpus
out=transfer-out app=web rtt=200ms seen=10ms other=ssh steps=1500 threads=1 n=200
while [ $# -gt 0 ]; do
    case $1 in
    -o) out=$2 ;; --app) app=$2 ;; --rtt) rtt=$2 ;; --seen-rtt) seen=$2 ;; --other-app) other=$2 ;;
    --steps) steps=$2 ;; --threads) threads=$2 ;; -n) n=$2 ;; --corpus) corpus=$2 ;;
    *) sed -n '2,15p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2 ;;
    esac
    shift 2
done
mkdir -p "$out"
table=$out/labels-heldout.tsv
# The held-out pair's training rows go; its test rows stay (they are the reference, and
# the vocabulary comes from the whole table, so every token stays known).
awk -F'\t' -v OFS='\t' -v d="$corpus" -v a="$app" -v r="$rtt" \
    'NR == 1 { print; next } !($2 == a && $3 == r && $5 == "train") { $1 = d "/" $1; print }' \
    "$corpus/labels.tsv" >"$table"
echo "== train on everything but $app at $rtt ($(($(wc -l <"$table") - 1)) captures)"
"$bin" dataset --labels "$table" --label app,rtt,loss --split train --packets 16 -o "$out/train.ds"
"$bin" train --data "$out/train.ds" --config small --steps "$steps" --threads "$threads" \
    --log-every 250 --eval-every 500 --ckpt-every 0 -o "$out/model.nsm"
echo "== generate $n flows per pair"
for pair in "$app $rtt" "$app $seen" "$other $rtt"; do
    set -- $pair
    for loss in 0% 1%; do
        f="$out/gen-$1-$2-loss${loss%\%}.pcap"
        "$bin" generate --model "$out/model.nsm" --prompt "app=$1 rtt=$2 loss=$loss" -n "$n" \
            --threads "$threads" -q -o "$f"
    done
done
echo "== measured (generated: gen-*; the real test captures of each pair: real-*)"
{
    printf 'path\tapp\trtt\tloss\n'
    for f in "$out"/gen-*.pcap; do
        # gen-APP-RTT-lossL.pcap; APP may hold a dash (iperf-tcp)
        b=$(basename "$f" .pcap); l=${b##*-loss}; rest=${b%-loss*}; r=${rest##*-}; a=${rest#gen-}; a=${a%-*}
        printf '%s\tgen:%s\t%s\t%s%%\n' "$f" "$a" "$r" "$l"
    done
    awk -F'\t' -v OFS='\t' -v d="$corpus" -v a="$app" -v o="$other" -v r="$rtt" -v s="$seen" \
        'NR > 1 && $5 == "test" && (($2 == a && ($3 == r || $3 == s)) || ($2 == o && $3 == r)) {
            print d "/" $1, "real:" $2, $3, $4 }' "$corpus/labels.tsv"
} >"$out/measure.tsv"
sh "$here/condition.sh" --table "$out/measure.tsv" --by app | tee "$out/transfer.txt"
echo "transfer: held out $app at $rtt; results in $out/transfer.txt"
