#!/usr/bin/env python3
"""gap_ports.py: where a class's inter-arrival KS distance comes from, by server port and gap kind
(BENCHMARK.md, "Inter-arrival KS by port (session 11)").

usage: gap_ports.py LABEL CLASS REF.ds OTHER.ds [OTHER.ds ...]

The gaps of each flow's first 16 rows (timing_parts.py's: every row after the first), of the flows of CLASS,
split by server port and protocol and by kind (hs, turn, same; "first" is the gap before a flow's second
row when it is a same-side one: a one-way flow's first repeat). Per group: the gaps' count and share of the
class's, their median (ms) and the KS distance of the log gaps against REF's same group, for REF and each
OTHER. A group whose share differs is the model's mix of services; one whose KS is large, its values.
/usr/bin/python3 (numpy).
"""
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "python"))
import numpy as np  # noqa: E402

import netsynth  # noqa: E402
from timing_parts import ks  # noqa: E402

WINDOW = 16
SYN, ACK = 910, 907


def gaps(path, label, cls):
    d = netsynth.load_dataset(path)
    bits, lab = d.bits, d.label(label)
    out = {}
    for i in np.nonzero(lab == cls)[0]:
        f, n = int(d.first[i]), min(int(d.lengths[i]), WINDOW)
        port = "%d/%s" % (d.flows["server_port"][i], {6: "tcp", 17: "udp"}.get(int(d.flows["proto"][i]), "o"))
        for k in range(1, n):
            g = np.log10(d.iat_ns[f + k] / 1e9 + 1e-6)
            if bits[f + k, SYN] == 1 or (bits[f + k - 1, SYN] == 1 and bits[f + k - 1, ACK] == 1):
                kind = "hs"
            elif d.dir[f + k] != d.dir[f + k - 1]:
                kind = "turn"
            else:
                kind = "first" if k == 1 else "same"
            out.setdefault((port, kind), []).append(g)
    return out


def main():
    if len(sys.argv) < 5:
        sys.exit(__doc__)
    label, cls, ref_path, others = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4:]
    ref = gaps(ref_path, label, cls)
    sets = [ref] + [gaps(p, label, cls) for p in others]
    tot = [sum(len(v) for v in s.values()) for s in sets]
    allr = np.concatenate(list(ref.values())) if ref else np.zeros(0)
    print("%s: %s gaps; KS of all: %s" % (cls, " / ".join(str(t) for t in tot), " ".join(
        "%.3f" % ks(np.concatenate(list(s.values())), allr) for s in sets[1:])))
    keys = sorted(set().union(*sets), key=lambda k: -max(len(s.get(k, [])) / max(t, 1) for s, t in zip(sets, tot)))
    for key in keys[:14]:
        cells = []
        for s, t in zip(sets, tot):
            v = s.get(key, [])
            med = "%9.2f" % (10 ** np.median(v) * 1e3) if len(v) else "        -"
            cells.append("%5d %.2f %s %5.3f" % (len(v), len(v) / max(t, 1), med, ks(v, ref.get(key, []))))
        print("  %-11s %-5s | %s" % (key[0], key[1], " | ".join(cells)))


if __name__ == "__main__":
    main()
