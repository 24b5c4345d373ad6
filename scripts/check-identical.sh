#!/bin/sh
# check-identical.sh BASE_BIN NEW_BIN: run the same small pipeline with two netsynth
# binaries and compare every file they write, byte for byte. For refactors that must not
# change behaviour: a dataset from the lab corpus, a tiny model (200 steps), generation
# with --like, --fix (pcap and CSV), --control (a briefly trained control branch) and
# --lora (a briefly finetuned adapter for a class the base never saw), repair reports,
# and an eval report (features, distances). One thread and fixed seeds throughout, so
# that the outputs are a function of the code alone. About two minutes on two cores.
# Prints one line per file (same / DIFFERS / missing) and exits 1 on any difference.
# CHECK_KEEP=1 keeps the work folder; CHECK_DATA picks another corpus (labels.tsv
# with an app column and a train/test split).
set -eu
if [ $# -ne 2 ] || [ ! -x "$1" ] || [ ! -x "$2" ]; then
    echo "usage: $0 BASE_BIN NEW_BIN (two netsynth executables)" >&2
    exit 2
fi
here=$(cd "$(dirname "$0")/.." && pwd)
data=${CHECK_DATA:-$here/lab/corpus}

# pipeline BIN DIR: every output lands in DIR; logs in DIR.log (not compared: they hold times).
pipeline() {
    b=$1 d=$2
    mkdir -p "$d"
    t="--threads 1"
    "$b" dataset --labels "$data/labels.tsv" --label app --split train --packets 16 -o "$d/train.ds"
    "$b" dataset --labels "$data/labels.tsv" --label app --split test --packets 16 -o "$d/test.ds"
    # The base never sees ntp; the adapter teaches it.
    "$b" subset --data "$d/train.ds" --exclude app=ntp -o "$d/base.ds" -q
    "$b" subset --data "$d/train.ds" --only app=ntp -o "$d/ntp.ds" -q
    "$b" subset --data "$d/test.ds" --exclude app=ntp -o "$d/like.ds" -q
    "$b" train --data "$d/base.ds" --config tiny --steps 200 --batch 32 --seed 1 $t \
        --log-every 100 --eval-every 100 --ckpt-every 0 -q -o "$d/model.nsm"
    "$b" generate --model "$d/model.nsm" --like "$d/like.ds" --steps 4 --seed 3 $t -q \
        --repair-report "$d/like-repair.json" -o "$d/like"
    "$b" generate --model "$d/model.nsm" --prompt app=web -n 40 --steps 4 --seed 4 $t -q \
        --fix tcp_dprt=8080 --fix ipv4_ttl=61 --repair-report "$d/fix-repair.json" -o "$d/fix.pcap"
    "$b" generate --model "$d/model.nsm" --prompt app=dns -n 40 --steps 4 --seed 5 $t -q \
        --fix proto=udp --fix udp_dport=53 -o "$d/fix.csv"
    "$b" generate --model "$d/model.nsm" --prompt app=ssh -n 20 --steps 4 --seed 6 $t -q -o "$d/gen.ds"
    "$b" train-control --model "$d/model.nsm" --data "$d/base.ds" --steps 60 --batch 16 --seed 1 $t -q \
        -o "$d/control.nsc"
    "$b" generate --model "$d/model.nsm" --controlnet "$d/control.nsc" --control "$d/test.ds" -n 12 \
        --steps 4 --seed 7 $t -q --repair-report "$d/control-repair.json" -o "$d/control.pcap"
    "$b" finetune --model "$d/model.nsm" --data "$d/ntp.ds" --steps 60 --batch 16 --seed 1 $t -q \
        -o "$d/ntp.lora"
    "$b" generate --model "$d/model.nsm" --lora "$d/ntp.lora" --prompt app=ntp -n 40 --steps 4 --seed 8 \
        $t -q --repair-report "$d/lora-repair.json" -o "$d/lora.pcap"
    "$b" eval --real "$d/train.ds" --real-test "$d/test.ds" --synth "$d/like/synthetic.ds" --label app \
        --trees 20 --seed 1 $t --json "$d/eval.json"
    # The nPrint module itself: capture -> CSV (model layers; every layer with the flow
    # index), CSV -> packets, CSV -> image -> CSV.
    pcap=$data/$(awk -F '\t' 'NR == 2 { print $1 }' "$data/labels.tsv")
    "$b" encode -P "$pcap" -4 -t -u -i -R -j 1 -W "$d/encode.csv"
    "$b" encode -P "$pcap" -e -4 -6 -t -u -i -O 4 -j 1 -W "$d/encode-all.csv"
    "$b" decode -i "$d/encode.csv" -o "$d/decode.pcap"
    "$b" render -i "$d/encode-all.csv" -o "$d/encode-all.png"
    "$b" unrender "$d/encode-all.png" -o "$d/unrender.csv"
    "$b" render --data "$d/like/synthetic.ds" -n 3 -o "$d/render"
    for png in "$d"/render/*.png; do "$b" unrender "$png" -o "${png%.png}.csv"; done
}

if [ "${CHECK_PIPELINE:-}" ]; then   # the inner run: a process of its own, so that set -e holds
    pipeline "$1" "$CHECK_PIPELINE"
    exit 0
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/check-identical.XXXXXX")
[ "${CHECK_KEEP:-0}" = 1 ] || trap 'rm -rf "$work"' EXIT

# Both sides run in the same folder ($work/run), since outputs record paths (a generated
# dataset names its model, the eval report its command line).
for side in base new; do
    if [ $side = base ]; then bin=$1; else bin=$2; fi
    if ! CHECK_PIPELINE="$work/run" "$0" "$bin" "$bin" > "$work/$side.log" 2>&1; then
        echo "check-identical: the pipeline failed with $bin:" >&2
        tail -n 20 "$work/$side.log" >&2
        exit 1
    fi
    mv "$work/run" "$work/$side"
done

# What legitimately differs between two runs is masked before comparing: the elapsed
# training time in a checkpoint's state block (slot 20, see modelfile.c) and the CRC over
# it; the timings in the eval report.
masked() {
    case $1 in
    *.ckpt)
        cp "$1" "$1.masked"
        state=$(od -An -t u8 -j 128 -N 8 "$1" | tr -d ' ')
        dd if=/dev/zero of="$1.masked" bs=1 seek=$((state + 160)) count=8 conv=notrunc 2>/dev/null
        dd if=/dev/zero of="$1.masked" bs=1 seek=144 count=4 conv=notrunc 2>/dev/null
        echo "$1.masked" ;;
    */eval.json)
        sed -E 's/"(seconds|[a-z]+_s|classifier|distances|memorisation|compliance)": [0-9.]+/"\1": T/g' \
            "$1" > "$1.masked"
        echo "$1.masked" ;;
    *) echo "$1" ;;
    esac
}

status=0
for f in $( (cd "$work/base" && find . -type f; cd "$work/new" && find . -type f) | sort -u); do
    f=${f#./}
    if [ ! -f "$work/base/$f" ] || [ ! -f "$work/new/$f" ]; then
        echo "missing   $f"
        status=1
        continue
    fi
    a=$(masked "$work/base/$f") b=$(masked "$work/new/$f")
    note=
    [ "$a" = "$work/base/$f" ] || note=", times masked"
    if cmp -s "$a" "$b"; then
        echo "same      $f ($(wc -c < "$work/base/$f") bytes$note)"
    else
        echo "DIFFERS   $f"
        status=1
    fi
done
if [ $status = 0 ]; then echo "check-identical: every file identical"; else echo "check-identical: outputs differ"; fi
exit $status
