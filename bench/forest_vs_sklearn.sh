#!/bin/sh
# Our random forest against scikit-learn's RandomForestClassifier(n_estimators=100,
# random_state=0, n_jobs=2) on the same features of the IoT Sentinel corpus:
# first 16 packets as nPrint bits (addresses and ports blanked) and NetFlow
# statistics, trained on the train split, tested on the test split, for device
# and device_type. Prints both test accuracies, macro-F1 and training times.
# Needs python3-sklearn (apt-get install -y python3-sklearn).
#
# usage: sh bench/forest_vs_sklearn.sh   (NETSYNTH_BIN, NETSYNTH_SHARED, THREADS, PYTHON override)
set -eu
bin=${NETSYNTH_BIN:-build/netsynth}
shared=${NETSYNTH_SHARED:-../shared}
threads=${THREADS:-2}
python=${PYTHON:-/usr/bin/python3}  # Debian's, where python3-sklearn lives
corpus=$shared/data/iot-sentinel
[ -f "$corpus/labels.tsv" ] || { echo "no corpus at $corpus (set NETSYNTH_SHARED)" >&2; exit 1; }
"$python" -c 'import sklearn' 2>/dev/null || { echo "needs python3-sklearn" >&2; exit 1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

for split in train test; do
    "$bin" dataset --labels "$corpus/labels.tsv" --label device,device_type --split $split \
        --packets 16 -o "$tmp/$split.ds" >/dev/null
done
mkdir "$tmp/features"
"$bin" eval --real "$tmp/train.ds" --real-test "$tmp/test.ds" --packets 16 --dump-features "$tmp/features"

echo "== netsynth eval (real->real), $threads threads"
start=$(date +%s)
"$bin" eval --real "$tmp/train.ds" --real-test "$tmp/test.ds" --packets 16 --trees 100 --seed 0 \
    --threads "$threads" --json "$tmp/ours.json"
echo "   ($(( $(date +%s) - start )) s wall, features included)"

echo "== scikit-learn $("$python" -c 'import sklearn; print(sklearn.__version__)'), n_jobs=$threads, vs netsynth (ns)"
OMP_NUM_THREADS=$threads "$python" "$(dirname "$0")/sklearn_rf.py" "$tmp/features" --jobs "$threads" --ours "$tmp/ours.json"
