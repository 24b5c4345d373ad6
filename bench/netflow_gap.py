"""netflow_gap.py REAL_FEAT SYNTH_FEAT [LABEL]: where the NetFlow-feature forest loses synthetic flows.

REAL_FEAT: `netsynth eval --real train.ds --real-test test.ds --dump-features REAL_FEAT`; SYNTH_FEAT: the same
with the synthetic dataset as --real (its train_* files are the synthetic flows). A scikit-learn forest (100
trees, as eval's) on the 20 NetFlow features (whole flows): TSTR and TRTS; per class, the real test flows
real->real and TSTR read right and what TSTR misreads them as; then, per feature group, the synthetic flows
with that group taken from their nearest real flow of the same class (on the other features, log scale):
how much of the gap that group's mismatch is. BENCHMARK.md, "Whole flows as NetFlow sees them (session 8)".
Run with /usr/bin/python3 (numpy, scikit-learn)."""
import sys

import numpy as np
from sklearn.ensemble import RandomForestClassifier
from sklearn.neighbors import NearestNeighbors

R, S = sys.argv[1], sys.argv[2]
lab = sys.argv[3] if len(sys.argv) > 3 else "device"
Xr, yr = np.load(R + "/train_netflow.npy"), np.load(R + "/train_" + lab + ".npy")
Xt, yt = np.load(R + "/test_netflow.npy"), np.load(R + "/test_" + lab + ".npy")
Xs, ys = np.load(S + "/train_netflow.npy"), np.load(S + "/train_" + lab + ".npy")
cls = open(R + "/" + lab + "_classes.txt").read().split()


def forest(X, y):
    return RandomForestClassifier(100, random_state=0, n_jobs=2).fit(X, y)


mr, ms = forest(Xr, yr), forest(Xs, ys)
prt, pst, prs = mr.predict(Xt), ms.predict(Xt), mr.predict(Xs)
print("real %.3f TSTR %.3f TRTS %.3f" % ((prt == yt).mean(), (pst == yt).mean(), (prs == ys).mean()))
rows = []
for c in range(len(cls)):
    t = yt == c
    if not t.any():
        continue
    wrong = np.bincount(pst[t], minlength=len(cls))
    wrong[c] = 0
    rows.append(((prt[t] == c).sum() - (pst[t] == c).sum(), cls[c], t.sum(), (prt[t] == c).sum(), (pst[t] == c).sum(),
                 cls[wrong.argmax()] if wrong.sum() else "-"))
print("%-20s %5s %5s %5s %5s  %s" % ("class", "test", "real", "TSTR", "lost", "TSTR misreads as"))
for lost, name, n, real, tstr, other in sorted(rows, reverse=True):
    print("%-20s %5d %5d %5d %5d  %s" % (name, n, real, tstr, lost, other))
groups = {"duration+iat": [1, 10, 11], "bytes+sizes": [4, 5, 6, 7, 8, 9], "packets": [2, 3], "flags": list(range(12, 20))}
log = lambda X: np.sign(X) * np.log1p(np.abs(X) * 1000)
for g, ix in groups.items():
    rest = [j for j in range(Xs.shape[1]) if j not in ix]
    X = Xs.copy()
    for c in np.unique(ys):
        a, b = np.where(yr == c)[0], np.where(ys == c)[0]
        if len(a) == 0:
            continue
        _, j = NearestNeighbors(n_neighbors=1).fit(log(Xr[a][:, rest])).kneighbors(log(Xs[b][:, rest]))
        X[np.ix_(b, ix)] = Xr[a[j[:, 0]]][:, ix]
    print("%-13s from real: TSTR %.3f TRTS %.3f" % (g, (forest(X, ys).predict(Xt) == yt).mean(), (mr.predict(X) == ys).mean()))
