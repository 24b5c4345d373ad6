#!/usr/bin/env python3
"""hs_ports.py: handshake gaps per class and server port (BENCHMARK.md, "Handshakes in the class's shares
(session 11)").

usage: hs_ports.py LABEL CLASS REF.ds OTHER.ds [OTHER.ds ...]
       hs_ports.py LABEL - REF.ds OTHER.ds    (every class: the medians per class and per server port)

For the flows of CLASS (a value of LABEL) in each file: per server port, how many TCP handshakes, the median
server gap (the client's last SYN to the SYN-ACK, as timing_rows.py) and the handshake bins they fall in
(tmodel.h's NS_TM_HS_PER_DECADE = 16 bins a decade from 1e-5 s), so that a synthetic class's median can be
read against what the trace model learned of REF (train.ds): which port, which bins. With CLASS "-", per
class and per server port with 8 handshakes in both files, the medians and those more than 10% off REF's,
and per class the share of handshakes under the class's median of REF (a class whose median lies between
two modes moves by a mode's width where that share moves by one flow). /usr/bin/python3 (numpy).
"""
import math
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "python"))
import numpy as np  # noqa: E402

import netsynth  # noqa: E402
from timing_rows import handshake_gap  # noqa: E402



def hs_bin(s):
    x = (math.log10(max(s, 1e-5)) + 5) * 16
    return max(0, min(95, int(x)))


def gaps(path, label, cls):
    d = netsynth.load_dataset(path)
    lab = d.label(label)
    bits = d.bits
    out = {}
    for i in (np.arange(len(d)) if cls is None else np.nonzero(lab == cls)[0]):
        if d.flows["proto"][i] != 6:
            continue
        gap = handshake_gap(d, bits, int(d.first[i]), int(d.lengths[i]))
        if gap is not None:
            key = int(d.flows["server_port"][i]) if cls is not None else (lab[i], int(d.flows["server_port"][i]))
            out.setdefault(key, []).append(gap)
    return out


def every_class(label, ref_path, other_path):
    ref, other = gaps(ref_path, label, None), gaps(other_path, label, None)
    classes = sorted({c for c, _ in ref} & {c for c, _ in other})
    off_c = off_p = n_p = 0
    print("%-20s %6s %9s %9s %6s %6s | per port (n real/other, medians ms) more than 10%% off" %
          (label, "hs", "real ms", "other ms", "under", "under"))
    for c in classes:
        r = np.concatenate([v for (k, _), v in ref.items() if k == c])
        o = np.concatenate([v for (k, _), v in other.items() if k == c])
        m = np.median(r)
        bad = []
        for (k, p), v in ref.items():
            w = other.get((k, p), [])
            if k != c or len(v) < 8 or len(w) < 8:
                continue
            n_p += 1
            if abs(np.median(w) / np.median(v) - 1) > 0.1:
                off_p += 1
                bad.append("%d (%d/%d, %.2f -> %.2f)" % (p, len(v), len(w), np.median(v) * 1e3, np.median(w) * 1e3))
        off = abs(np.median(o) / m - 1) > 0.1
        off_c += off
        print("%-20s %6d %9.2f %9.2f %6.3f %6.3f | %s%s" % (c, len(r), m * 1e3, np.median(o) * 1e3, np.mean(r < m),
                                                          np.mean(o < m), "class off; " if off else "", " ".join(bad)))
    print("classes off by more than 10%%: %d of %d; ports: %d of %d" % (off_c, len(classes), off_p, n_p))


def main():
    if len(sys.argv) < 5:
        sys.exit(__doc__)
    label, cls, paths = sys.argv[1], sys.argv[2], sys.argv[3:]
    if cls == "-":
        return every_class(label, paths[0], paths[1])
    for p in paths:
        g = gaps(p, label, cls)
        allg = [x for v in g.values() for x in v]
        print("%s  %s: %d handshakes, median %.2f ms" % (p, cls, len(allg), np.median(allg) * 1e3 if allg else -1))
        for port, v in sorted(g.items(), key=lambda kv: -len(kv[1])):
            bins = {}
            for x in v:
                bins[hs_bin(x)] = bins.get(hs_bin(x), 0) + 1
            print("  port %5d  n %4d  median %8.2f ms  bins %s" %
                  (port, len(v), np.median(v) * 1e3, " ".join("%d:%d" % kv for kv in sorted(bins.items()))))


if __name__ == "__main__":
    main()
