#!/usr/bin/env python3
"""timing_parts.py: per class, where the inter-arrival KS distance of
generated rows or pcaps comes from (BENCHMARK.md, "Timing per class
(session 9)").

usage: timing_parts.py LABEL REF.ds OTHER.ds [OTHER.ds ...]

Reads netsynth dataset files through the Python module (python/netsynth;
numpy: /usr/bin/python3 on the project machine): REF is usually the real
test split; each OTHER is compared with it on its own (the real train split
for the floor, the model's rows `synthetic.ds`, a `dataset` of the pcaps
written from them). The gaps of each flow's first 16 rows (every row after
the first, as `netsynth eval`'s trace section takes them) are split by what
they lead to:
  hs    the handshake: a row with SYN, or the row after a SYN-ACK;
  turn  a row sent by the other side than the row before it
        (request -> response, and ACKs of the peer's data);
  same  a row sent by the same side as the row before it (bursts, and
        the gaps of one-way flows: beacons, streams, idle timers).
Per class and OTHER: the KS distance of all log gaps against REF's, then
per kind its KS distance and its share of the gaps (OTHER:REF). A kind's
share that differs is a mix the model (or repair, when the rows agree and
the pcaps do not) got wrong; a kind's KS distance is its values.
"""
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "python"))
import numpy as np  # noqa: E402

import netsynth  # noqa: E402

WINDOW = 16
# The TCP flag columns of a model row (nprint.h: NS_NP_COL_TCP_SYN, _ACKF).
SYN, ACK = 910, 907
KINDS = ("hs", "turn", "same")


def gaps(path, label):
    d = netsynth.load_dataset(path)
    bits, lab = d.bits, d.label(label)
    out = {}
    for i in range(len(d)):
        f, n = int(d.first[i]), min(int(d.lengths[i]), WINDOW)
        c = out.setdefault(lab[i], {k: [] for k in ("all",) + KINDS})
        for k in range(1, n):
            g = np.log(d.iat_ns[f + k] / 1e9 + 1e-6)
            c["all"].append(g)
            after_synack = bits[f + k - 1, SYN] == 1 and bits[f + k - 1, ACK] == 1
            if bits[f + k, SYN] == 1 or after_synack:
                c["hs"].append(g)
            elif d.dir[f + k] != d.dir[f + k - 1]:
                c["turn"].append(g)
            else:
                c["same"].append(g)
    return out


def ks(a, b):
    if not len(a) or not len(b):
        return float("nan")
    a, b = np.sort(a), np.sort(b)
    x = np.concatenate([a, b])
    return float(np.max(np.abs(np.searchsorted(a, x, "right") / len(a) - np.searchsorted(b, x, "right") / len(b))))


def main():
    if len(sys.argv) < 4:
        sys.exit(__doc__)
    label, ref_path, others = sys.argv[1], sys.argv[2], sys.argv[3:]
    ref = gaps(ref_path, label)
    print("%-20s %-14s %6s  %s" % (label, "vs " + os.path.basename(ref_path), "KS", "  ".join(
        "%-4s KS share" % k for k in KINDS)))
    for other_path in others:
        other = gaps(other_path, label)
        for cls in sorted(set(ref) & set(other)):
            r, o = ref[cls], other[cls]
            if not r["all"] or not o["all"]:
                continue
            parts = []
            for k in KINDS:
                parts.append("%-4s %5.3f %.2f:%.2f" % (k, ks(o[k], r[k]), len(o[k]) / len(o["all"]),
                                                       len(r[k]) / len(r["all"])))
            print("%-20s %-14s %6.3f  %s" % (cls, os.path.basename(other_path)[:14], ks(o["all"], r["all"]),
                                             "  ".join(parts)))


if __name__ == "__main__":
    main()
