#!/usr/bin/env python3
"""empty_acks.py: how often a TCP flow's side sends an empty ACK having got
nothing from its peer since its previous segment (BENCHMARK.md, "Empty ACK
runs acknowledge segment by segment (session 10)").

usage: empty_acks.py DS [DS ...]

Over the first 16 packets of every TCP flow of at least 3, segments past the
third that carry no SYN, FIN or RST are counted; one is such an ACK when it
has no payload, its side has sent before, and the peer sent no payload, SYN
or FIN since. Printed: the share in all and for the ten largest classes
(label device), and what came before it (its side's previous segment: A an
empty ACK, D data, C SYN/FIN/RST; the peer's segments before that, up to 3;
whether its acknowledgement number is new). Real stacks that acknowledge
segment by segment send runs of them (A, 2+, new); repair's "nothing new"
rule (repair.c, redundant_ack) acts on the rest.

Reads datasets through the Python module (python/netsynth; numpy:
/usr/bin/python3 on the project machine).
"""
import collections
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "python"))
import numpy as np  # noqa: E402

import netsynth as ns  # noqa: E402
from field_values import PACKETS, model_fields, row_values  # noqa: E402

FIELDS = {name: (col, width) for name, col, width in model_fields()}


def field(bits, name):
    col, width = FIELDS[name]
    return row_values(bits, col, width)


def main(argv):
    if not argv or argv[0].startswith("-"):
        sys.stderr.write(__doc__)
        return 2
    for path in argv:
        ds = ns.load_dataset(path)
        bits, d = ds.bits, ds.dir.astype(int)
        tl, ihl, doff, l6 = (field(bits, f) for f in ("ipv4_tl", "ipv4_hl", "tcp_doff", "ipv6_len"))
        syn, fin, rst, ackn = (field(bits, f) for f in ("tcp_syn", "tcp_fin", "tcp_rst", "tcp_ackn"))
        pay = np.where(tl >= 0, tl - 4 * np.maximum(ihl, 5), l6) - 4 * np.maximum(doff, 5)
        dev = ds.label("device")
        total, hits = collections.Counter(), collections.Counter()
        before = collections.Counter()
        for f in range(len(ds)):
            a, n = int(ds.first[f]), min(int(ds.lengths[f]), PACKETS)
            if n < 3 or doff[a] < 0:
                continue
            toks = []
            for i in range(a, a + n):
                kind = "X" if doff[i] < 0 else "C" if syn[i] > 0 or fin[i] > 0 or rst[i] > 0 else \
                       "D" if pay[i] > 0 else "A"
                toks.append((d[i], kind, i))
            for k in range(3, len(toks)):
                x, kind, i = toks[k]
                if kind in "XC":
                    continue
                total[dev[f]] += 1
                if kind != "A":
                    continue
                j, peer = k - 1, 0
                while j >= 0 and toks[j][0] != x:
                    peer += toks[j][1] in "DC"
                    j -= 1
                if j < 0 or peer:
                    continue
                hits[dev[f]] += 1
                jj, peer2 = j - 1, 0
                while jj >= 0 and toks[jj][0] != x:
                    peer2 += toks[jj][1] in "DC"
                    jj -= 1
                new = "new" if ackn[i] != ackn[toks[j][2]] else "same"
                before[(toks[j][1], min(peer2, 3), new)] += 1
        n_all, h_all = sum(total.values()), sum(hits.values())
        print("%s: %d of %d segments (%.3f)" % (path, h_all, n_all, h_all / max(n_all, 1)))
        print("  " + " ".join("%s:%.2f" % (c, hits[c] / total[c]) for c, _ in total.most_common(10)))
        for key, c in before.most_common(8):
            print("  after %s, peer's %d before it, %s ack: %d (%.2f)" % (key[0], key[1], key[2], c, c / max(h_all, 1)))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
