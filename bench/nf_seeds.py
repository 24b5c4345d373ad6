#!/usr/bin/env python3
"""nf_seeds.py: whole-flow NetFlow forests, TSTR and TRTS on 3 forest seeds (BENCHMARK.md, "Turn maps per
server port (session 10)"): eval's own forest is one seed, and the turn maps move these by 0.01-0.03.

usage: nf_seeds.py REAL.feat LABEL SYNTH.feat [SYNTH.feat ...]

Each .feat is a `netsynth eval --dump-features` directory: REAL.feat of --real train.ds --real-test test.ds,
each SYNTH.feat of --real p.ds (the synthetic dataset) --real-test test.ds. scikit-learn (/usr/bin/python3)."""
import sys

import numpy as np
from sklearn.ensemble import RandomForestClassifier as RF


def load(d, side, kind):
    return np.load("%s/%s_%s.npy" % (d, side, kind))


def main():
    if len(sys.argv) < 4:
        sys.exit(__doc__)
    real, lab = sys.argv[1], sys.argv[2]
    Xr, yr, Xt, yt = load(real, "train", "netflow"), load(real, "train", lab), load(real, "test", "netflow"), load(real, "test", lab)
    for s in sys.argv[3:]:
        Xs, ys = load(s, "train", "netflow"), load(s, "train", lab)
        a, b = [], []
        for seed in range(3):
            def fit(X, y):
                return RF(100, random_state=seed, n_jobs=2).fit(X, y)
            a.append((fit(Xs, ys).predict(Xt) == yt).mean())
            b.append((fit(Xr, yr).predict(Xs) == ys).mean())
        print("%-12s %s TSTR %.3f (%.3f-%.3f) TRTS %.3f (%.3f-%.3f)" % (s, lab, np.mean(a), min(a), max(a), np.mean(b), min(b), max(b)))


if __name__ == "__main__":
    main()
