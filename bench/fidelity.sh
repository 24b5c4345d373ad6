#!/bin/sh
# bench/fidelity.sh: the whole pipeline on the IoT Sentinel corpus, judged by
# `netsynth eval`, its results written into BENCHMARK.md's "Fidelity" section:
#   1. dataset of the train split (defaults: first 64 packets of each flow)
#   2. train (the default config and steps)
#   3. generate like-for-like: as many flows per label combination as the
#      train split has (`generate --like train.ds -o DIR`)
#   4. eval: real = the corpus's labels.tsv (train on its train split, test
#      on its test split), synthetic = DIR/labels.tsv, --like; both sides are
#      capture tables, so tshark's compliance counts are in too
# With the defaults this takes about an hour of both cores. To try it:
#   FIDELITY_CONFIG=tiny FIDELITY_STEPS=20 FIDELITY_MD=/tmp/b.md sh bench/fidelity.sh
# Environment: NETSYNTH_BIN (build/netsynth), NETSYNTH_SHARED (../shared),
# FIDELITY_CONFIG (train's default), FIDELITY_STEPS (train's default),
# FIDELITY_GEN_STEPS (sampler steps; generate's default), FIDELITY_TREES
# (100), FIDELITY_MD (BENCHMARK.md; the section is replaced or appended),
# FIDELITY_OUT (keep every output there; default a temporary folder).
set -eu
BIN=${NETSYNTH_BIN:-build/netsynth}
SHARED=${NETSYNTH_SHARED:-../shared}
DATA=$SHARED/data/iot-sentinel
MD=${FIDELITY_MD:-BENCHMARK.md}
TREES=${FIDELITY_TREES:-100}
if [ -n "${FIDELITY_OUT:-}" ]; then
    out=$FIDELITY_OUT
    mkdir -p "$out"
else
    out=$(mktemp -d /tmp/netsynth-bench-fidelity.XXXXXX)
    trap 'rm -rf "$out"' EXIT INT TERM
fi
[ -f "$DATA/labels.tsv" ] || { echo "fidelity: no corpus at $DATA (set NETSYNTH_SHARED)" >&2; exit 1; }
[ -f "$MD" ] || { echo "fidelity: $MD does not exist" >&2; exit 1; }

train_opts=""
[ -n "${FIDELITY_CONFIG:-}" ] && train_opts="$train_opts --config $FIDELITY_CONFIG"
[ -n "${FIDELITY_STEPS:-}" ] && train_opts="$train_opts --steps $FIDELITY_STEPS"
gen_opts=""
[ -n "${FIDELITY_GEN_STEPS:-}" ] && gen_opts="--steps $FIDELITY_GEN_STEPS"

now() { date +%s; }
stage() { # name, command...
    name=$1; shift
    echo "== $name: $*" >&2
    t0=$(now)
    "$@"
    echo "$name $(( $(now) - t0 ))" >>"$out/times"
}
: >"$out/times"
start=$(now)
stage dataset "$BIN" dataset --labels "$DATA/labels.tsv" --label device,device_type --split train -o "$out/train.ds"
# shellcheck disable=SC2086
stage train "$BIN" train --data "$out/train.ds" -o "$out/model.nsm" $train_opts --log-every 500 --ckpt-every 0
# shellcheck disable=SC2086
stage generate "$BIN" generate --model "$out/model.nsm" --like "$out/train.ds" -o "$out/synth" $gen_opts -q
stage eval sh -c "\"\$0\" eval --real \"\$1\" --synth \"\$2\" --like --label device,device_type --trees $TREES \
    --json \"\$3\" --html \"\$4\" >\"\$5\"" "$BIN" "$DATA/labels.tsv" "$out/synth/labels.tsv" "$out/report.json" \
    "$out/report.html" "$out/eval.txt"
total=$(( $(now) - start ))
cat "$out/eval.txt"

secs() { awk -v s="$1" '$1 == s {print $2}' "$out/times"; }
{
    echo "## Fidelity"
    echo
    echo "\`sh bench/fidelity.sh\` ($(date -u +%Y-%m-%d), $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | sed 's/.*: //'))."
    echo "The IoT Sentinel corpus: dataset of the train split -> \`netsynth train\`"
    echo "(${FIDELITY_CONFIG:-default} config, ${FIDELITY_STEPS:-default} steps) -> \`netsynth generate --like train.ds\`"
    echo "(sampler steps: ${FIDELITY_GEN_STEPS:-default}) -> \`netsynth eval --real labels.tsv --synth synth/labels.tsv --like\`"
    echo "(random forest, $TREES trees, first 16 packets; real = train split -> test split)."
    echo "Wall seconds: dataset $(secs dataset), train $(secs train), generate $(secs generate), eval $(secs eval);"
    echo "total $total. Load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)."
    echo
    echo "| label | features | classes | real acc | real F1 | TSTR acc | TSTR F1 | TRTS acc | TRTS F1 |"
    echo "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
    awk 'NR > 3 && NF == 9 { printf "| %s | %s | %s | %s | %s | %s | %s | %s | %s |\n", $1, $2, $3, $4, $5, $6, $7, $8, $9 }
         NR > 3 && NF == 0 { exit }' "$out/eval.txt"
    echo
    echo "Distances (the 10 worst fields), memorisation, compliance and coverage, as eval prints them:"
    echo
    echo '```'
    sed -n '/^distances/,$p' "$out/eval.txt"
    echo
    sed -n '/^coverage/,/^$/p' "$out/eval.txt" | sed '/^$/d'
    echo '```'
    echo
} >"$out/section.md"

# Replace the section (up to the next "## " heading) or append it.
awk -v sec="$out/section.md" '
    function put() { while ((getline l < sec) > 0) print l; done = 1 }
    /^## Fidelity$/ { put(); skip = 1; next }
    skip && /^## / { skip = 0 }
    !skip { print }
    END { if (!done) { print ""; put() } }' "$MD" >"$out/md.new"
cp "$out/md.new" "$MD.tmp.$$" && mv "$MD.tmp.$$" "$MD"
echo "fidelity: wrote the section into $MD (outputs in $out)" >&2
