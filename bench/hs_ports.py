#!/usr/bin/env python3
"""hs_ports.py: handshake gaps per class and server port (BENCHMARK.md, "Handshakes in the class's shares
(session 11)").

usage: hs_ports.py LABEL CLASS REF.ds OTHER.ds [OTHER.ds ...]

For the flows of CLASS (a value of LABEL) in each file: per server port, how many TCP handshakes, the median
server gap (the client's last SYN to the SYN-ACK, as timing_rows.py) and the handshake bins they fall in
(tmodel.h's NS_TM_HS_PER_DECADE = 16 bins a decade from 1e-5 s), so that a synthetic class's median can be
read against what the trace model learned of REF (train.ds): which port, which bins. /usr/bin/python3 (numpy).
"""
import math
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "python"))
import numpy as np  # noqa: E402

import netsynth  # noqa: E402

SYN, ACK = 910, 907


def hs_bin(s):
    x = (math.log10(max(s, 1e-5)) + 5) * 16
    return max(0, min(95, int(x)))


def gaps(path, label, cls):
    d = netsynth.load_dataset(path)
    lab = d.label(label)
    bits = d.bits
    out = {}
    for i in np.nonzero(lab == cls)[0]:
        if d.flows["proto"][i] != 6:
            continue
        f, n = int(d.first[i]), int(d.lengths[i])
        iat = d.iat_ns[f:f + n] / 1e9
        t, syn = 0.0, None
        for k in range(n):
            t += iat[k] if k else 0.0
            s, a, back = bits[f + k, SYN] == 1, bits[f + k, ACK] == 1, d.dir[f + k] == 1
            if s and not a and not back:
                syn = t
            elif s and a and back and syn is not None:
                out.setdefault(int(d.flows["server_port"][i]), []).append(t - syn)
                break
    return out


def main():
    if len(sys.argv) < 5:
        sys.exit(__doc__)
    label, cls, paths = sys.argv[1], sys.argv[2], sys.argv[3:]
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
