"""netflow_rank.py REAL_FEAT SYNTH_FEAT [LABEL]: which single NetFlow feature costs the whole-flow forest most.

REAL_FEAT, SYNTH_FEAT as bench/netflow_gap.py takes them (`netsynth eval --dump-features`). netflow_gap.py swaps
feature groups from the nearest real flow; this ranks the 20 features one at a time, three ways:
  KS      per class, real test vs synthetic (two-sample KS statistic), averaged over classes weighted by their
          real test flows; "imp" the real forest's importance, "imp*KS" their product;
  qmap    each synthetic flow's value of that feature alone mapped, per class, to the real train value of the
          same quantile (a marginal fix: what a per-class distribution in the plan could reach);
  nn      that feature alone taken from the nearest real train flow of the class on the other 19 (log scale)
          (a joint fix: the flow's own structure);
each with the TSTR and TRTS of scikit-learn's forest (100 trees, seed 0, as eval's). Then the TRTS misreads:
the synthetic flows the real forest reads wrong, per feature the share of them whose value lies outside the
class's real train 5-95% range, against the share of the rightly read ones. Run with /usr/bin/python3.
BENCHMARK.md, "Whole flows on the medium model (session 12)"."""
import sys

import numpy as np
from sklearn.ensemble import RandomForestClassifier
from sklearn.neighbors import NearestNeighbors

NAMES = ["proto", "duration_s", "packets_fwd", "packets_bwd", "bytes_fwd", "bytes_bwd", "size_mean", "size_std",
         "size_min", "size_max", "iat_mean_s", "iat_std_s", "tcp_cwr", "tcp_ece", "tcp_urg", "tcp_ack", "tcp_psh",
         "tcp_rst", "tcp_syn", "tcp_fin"]
R, S = sys.argv[1], sys.argv[2]
lab = sys.argv[3] if len(sys.argv) > 3 else "device"
Xr, yr = np.load(R + "/train_netflow.npy"), np.load(R + "/train_" + lab + ".npy")
Xt, yt = np.load(R + "/test_netflow.npy"), np.load(R + "/test_" + lab + ".npy")
Xs, ys = np.load(S + "/train_netflow.npy"), np.load(S + "/train_" + lab + ".npy")
if open(R + "/" + lab + "_classes.txt").read() != open(S + "/" + lab + "_classes.txt").read():
    sys.exit("netflow_rank: %s and %s number the %s classes differently" % (R, S, lab))


def forest(X, y):
    return RandomForestClassifier(100, random_state=0, n_jobs=2).fit(X, y)


def ks(a, b):
    if len(a) == 0 or len(b) == 0:
        return np.nan
    v = np.union1d(a, b)
    fa = np.searchsorted(np.sort(a), v, side="right") / len(a)
    fb = np.searchsorted(np.sort(b), v, side="right") / len(b)
    return np.abs(fa - fb).max()


mr, ms = forest(Xr, yr), forest(Xs, ys)
base_tstr, base_trts = (ms.predict(Xt) == yt).mean(), (mr.predict(Xs) == ys).mean()
print("%s: real %.3f TSTR %.3f TRTS %.3f" % (lab, (mr.predict(Xt) == yt).mean(), base_tstr, base_trts))
cls = np.unique(yt)
w = np.array([(yt == c).sum() for c in cls], float)
log = lambda X: np.sign(X) * np.log1p(np.abs(X) * 1000)
nn = {}
for c in np.unique(ys):
    a = np.where(yr == c)[0]
    nn[c] = a
rows = []
for j in range(Xs.shape[1]):
    k = np.array([ks(Xt[yt == c, j], Xs[ys == c, j]) for c in cls])
    m = ~np.isnan(k)
    kw = (k[m] * w[m]).sum() / w[m].sum()
    if np.all(Xs[:, j] == Xs[0, j]) and np.all(Xr[:, j] == Xs[0, j]):
        rows.append((j, kw, mr.feature_importances_[j], np.nan, np.nan, np.nan, np.nan))
        continue
    Q, N = Xs.copy(), Xs.copy()
    rest = [i for i in range(Xs.shape[1]) if i != j]
    for c in np.unique(ys):
        a, b = np.where(yr == c)[0], np.where(ys == c)[0]
        if len(a) == 0:
            continue
        r = np.argsort(np.argsort(Xs[b, j], kind="stable"), kind="stable")
        Q[b, j] = np.quantile(Xr[a, j], (r + 0.5) / len(b), method="inverted_cdf")
        _, i = NearestNeighbors(n_neighbors=1).fit(log(Xr[a][:, rest])).kneighbors(log(Xs[b][:, rest]))
        N[b, j] = Xr[a[i[:, 0]], j]
    rows.append((j, kw, mr.feature_importances_[j], (forest(Q, ys).predict(Xt) == yt).mean(),
                 (mr.predict(Q) == ys).mean(), (forest(N, ys).predict(Xt) == yt).mean(), (mr.predict(N) == ys).mean()))
print("%-12s %6s %6s %7s  %-13s  %-13s" % ("feature", "KS", "imp", "imp*KS", "qmap TSTR/TRTS", "nn TSTR/TRTS"))
for j, kw, imp, qt, qr, nt, nr in sorted(rows, key=lambda r: -(r[2] * r[1])):
    print("%-12s %6.3f %6.3f %7.4f  %+.3f %+.3f  %+.3f %+.3f" % (NAMES[j], kw, imp, imp * kw, qt - base_tstr,
                                                            qr - base_trts, nt - base_tstr, nr - base_trts))
ok = mr.predict(Xs) == ys
print("TRTS misreads: %d of %d synthetic flows; per feature, share outside the class's real 5-95%%: misread / read right"
      % ((~ok).sum(), len(ys)))
out = np.zeros((len(ys), Xs.shape[1]), bool)
for c in np.unique(ys):
    a, b = np.where(yr == c)[0], np.where(ys == c)[0]
    if len(a) == 0:
        continue
    lo, hi = np.quantile(Xr[a], 0.05, axis=0), np.quantile(Xr[a], 0.95, axis=0)
    out[b] = (Xs[b] < lo) | (Xs[b] > hi)
for j in np.argsort(-(out[~ok].mean(0) - out[ok].mean(0))):
    if out[~ok, j].mean() > 0.005:
        print("  %-12s %.3f / %.3f" % (NAMES[j], out[~ok, j].mean(), out[ok, j].mean()))
