#!/usr/bin/env python3
"""timing_rows.py: per class, the timing of dataset rows (BENCHMARK.md,
"Timing on the IoT corpus (session 6)").

usage: timing_rows.py LABEL REF.ds OTHER.ds [OTHER.ds ...]

Reads netsynth dataset files through the Python module (python/netsynth;
numpy: /usr/bin/python3 on the project machine): real ones (`netsynth
dataset`) and generated rows before repair (`generate -o x.ds`, or the
synthetic.ds that `generate -o DIR` writes beside its pcaps). Several OTHER
files are pooled (per-class prompts written one file each). Per class of
LABEL, the measures of `netsynth eval`'s trace section, taken on rows
instead of packets, so that rows and the pcaps made of them can be told
apart:
  - handshake RTT: from the client's latest SYN (no ACK) to the server's
    first SYN/ACK after it, the median of the flows that have one, and how
    many flows had one ("hs");
  - the inter-arrival times of each flow's first 16 rows (every row after
    the first): their median and the KS distance of their pooled sample
    against REF's (the same distance for log times: KS depends on order).
On real datasets these reproduce eval's trace numbers for the captures;
where a generated class's rows and its pcaps differ, the difference was
made after sampling (repair, the trace plan).
"""
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "python"))
import numpy as np  # noqa: E402

import netsynth  # noqa: E402
from timing_parts import ks  # noqa: E402

WINDOW = 16
# The TCP flag columns of a model row (nprint.h: NS_NP_COL_TCP_SYN, _ACKF).
SYN, ACK = 910, 907


def measure(path, label):
    d = netsynth.load_dataset(path)
    bits, lab = d.bits, d.label(label)
    out = {}
    for i in range(len(d)):
        f, n = int(d.first[i]), int(d.lengths[i])
        c = out.setdefault(lab[i], {"rtt": [], "iat": [], "flows": 0})
        c["flows"] += 1
        iat = d.iat_ns[f:f + n] / 1e9
        c["iat"].extend(iat[1:min(n, WINDOW)])
        rtt = handshake_gap(d, bits, f, n)
        if rtt is not None:
            c["rtt"].append(rtt)
    return out


def handshake_gap(d, bits, f, n):
    """Seconds from the client's last SYN to the server's SYN-ACK in the flow of rows f..f+n of d, or None."""
    iat = d.iat_ns[f:f + n] / 1e9
    t, syn = 0.0, None
    for k in range(n):
        t += iat[k] if k else 0.0
        s, a, back = bits[f + k, SYN] == 1, bits[f + k, ACK] == 1, d.dir[f + k] == 1
        if s and not a and not back:
            syn = t
        elif s and a and back and syn is not None:
            return t - syn
    return None


def pooled(paths, label):
    out = {}
    for p in paths:
        for k, v in measure(p, label).items():
            c = out.setdefault(k, {"rtt": [], "iat": [], "flows": 0})
            c["rtt"] += v["rtt"]
            c["iat"] += v["iat"]
            c["flows"] += v["flows"]
    for c in out.values():
        c["iat"] = np.sort(np.asarray(c["iat"], float))
    return out


def ms(v):
    return "%9.1f" % (np.median(v) * 1e3) if len(v) else "        -"


def main():
    if len(sys.argv) < 4:
        sys.exit(__doc__)
    label, ref_path, others = sys.argv[1], sys.argv[2], sys.argv[3:]
    ref, syn = pooled([ref_path], label), pooled(others, label)
    print("%-20s %6s %5s %9s %9s | %6s %5s %9s %9s %6s" %
          (label, "flows", "hs", "RTT ms", "IAT ms", "flows", "hs", "RTT ms", "IAT ms", "KS"))
    for cls in sorted(set(ref) & set(syn)):
        r, s = ref[cls], syn[cls]
        print("%-20s %6d %5d %s %s | %6d %5d %s %s %6.3f" %
              (cls, r["flows"], len(r["rtt"]), ms(r["rtt"]), ms(r["iat"]), s["flows"], len(s["rtt"]), ms(s["rtt"]),
               ms(s["iat"]), ks(r["iat"], s["iat"])))


if __name__ == "__main__":
    main()
