#!/bin/sh
# demo_seeds.sh DEMO_OUT WORK [SEED ...]: the app and rtt forests of a lab `make demo` output again
# with other forest seeds (default 1 2), as BENCHMARK.md "Lab timing (session 8)" did: the
# synthetic captures and the real splits (lab/corpus, whole flows, --payload 0) as datasets,
# then eval --real train --real-test test --synth; one line per seed: app nPrint TSTR / TRTS,
# app NetFlow TSTR, rtt NetFlow TSTR / TRTS. Files go to WORK (the real datasets, built once,
# the synthetic one and each seed's report). Run from the repository root; NETSYNTH_BIN as demo.sh.
set -eu
bin=${NETSYNTH_BIN:-build/netsynth}
out=$1 work=$2
shift 2
real=$work
mkdir -p "$work"
for split in train test; do
    [ -f "$real/real-$split.ds" ] || "$bin" dataset --labels lab/corpus/labels.tsv --label app,rtt,loss \
        --split $split --payload 0 -o "$real/real-$split.ds" >/dev/null
done
"$bin" dataset --labels "$out/synth/labels.tsv" --label app,rtt,loss --payload 0 -o "$work/s.ds" >/dev/null
for seed in ${*:-1 2}; do
    "$bin" eval --real "$real/real-train.ds" --real-test "$real/real-test.ds" --synth "$work/s.ds" --label app,rtt \
        --trees 50 --seed "$seed" --no-compliance --no-trace -q --json "$work/seed$seed.json" >/dev/null
    /usr/bin/python3 - "$work/seed$seed.json" "$seed" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
acc = {(L["label"], x["features"], x["run"]): x["accuracy"] for L in r["levels"] for x in L["results"]}
print("seed %s: app nPrint %.3f / %.3f, app NetFlow %.3f, rtt NetFlow %.3f / %.3f" % (
    sys.argv[2], acc["app", "nprint", "TSTR"], acc["app", "nprint", "TRTS"], acc["app", "netflow", "TSTR"],
    acc["rtt", "netflow", "TSTR"], acc["rtt", "netflow", "TRTS"]))
PY
done
