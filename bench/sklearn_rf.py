#!/usr/bin/env python3
"""scikit-learn's RandomForestClassifier on the features `netsynth eval
--dump-features DIR` wrote, side by side with netsynth's own forest (the JSON
of `netsynth eval --json`). Needs python3-sklearn (Debian)."""
import argparse
import json
import os
import time

import numpy as np
from sklearn.ensemble import RandomForestClassifier
from sklearn.metrics import accuracy_score, f1_score


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("dir", help="folder of train_*.npy / test_*.npy")
    ap.add_argument("--labels", default="device,device_type")
    ap.add_argument("--features", default="nprint,netflow")
    ap.add_argument("--trees", type=int, default=100)
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--ours", help="netsynth eval --json output to compare with")
    a = ap.parse_args()

    ours = {}
    if a.ours:
        for lv in json.load(open(a.ours))["levels"]:
            for r in lv["results"]:
                if r["run"] == "real":
                    ours[(lv["label"], r["features"])] = r

    print(f"{'label':<12} {'features':<8} {'n_train':>7} {'n_test':>6}   "
          f"{'sk acc':>6} {'sk F1':>6} {'sk fit s':>8}   {'ns acc':>6} {'ns F1':>6} {'ns fit s':>8}   {'acc diff':>8}")
    for feat in a.features.split(","):
        xtr = np.load(os.path.join(a.dir, f"train_{feat}.npy"))
        xte = np.load(os.path.join(a.dir, f"test_{feat}.npy"))
        for label in a.labels.split(","):
            ytr = np.load(os.path.join(a.dir, f"train_{label}.npy"))
            yte = np.load(os.path.join(a.dir, f"test_{label}.npy"))
            mtr, mte = ytr >= 0, yte >= 0
            rf = RandomForestClassifier(n_estimators=a.trees, random_state=a.seed, n_jobs=a.jobs)
            t0 = time.perf_counter()
            rf.fit(xtr[mtr], ytr[mtr])
            fit_s = time.perf_counter() - t0
            pred = rf.predict(xte[mte])
            acc = accuracy_score(yte[mte], pred)
            f1 = f1_score(yte[mte], pred, average="macro")
            line = (f"{label:<12} {feat:<8} {int(mtr.sum()):>7} {int(mte.sum()):>6}   "
                    f"{acc:>6.3f} {f1:>6.3f} {fit_s:>8.1f}")
            o = ours.get((label, feat))
            if o:
                line += (f"   {o['accuracy']:>6.3f} {o['macro_f1']:>6.3f} {o['train_s']:>8.1f}"
                         f"   {o['accuracy'] - acc:>+8.3f}")
            print(line, flush=True)


if __name__ == "__main__":
    main()
