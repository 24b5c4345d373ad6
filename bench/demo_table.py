#!/usr/bin/env python3
"""demo_table.py: one row per `make demo` output folder of the lab corpus
(BENCHMARK.md, "Whole-flow demo: the continuation share (session 9)").

usage: demo_table.py DEMO_OUT [DEMO_OUT ...]

From each folder's report.json: app nPrint TSTR / TRTS, app and rtt NetFlow
TSTR / TRTS, the handshake RTT median per rtt class (synthetic against real
train, and how many synthetic flows had a handshake), ntp's and the worst
app's inter-arrival KS. From its synth/synthetic.ds (rows before repair,
through the Python module; numpy: /usr/bin/python3): the share of rows 16,
28, 40, ... (the first new row of each window past the first, window 16 with
4 rows held) of TCP flows longer than 16 rows that follow a gap over half
the flow's RTT class, and the same share of the other rows past 16, as
session 8 measured it ("Lab timing (session 8)": real 25.2%).
"""
import json
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "python"))
import netsynth  # noqa: E402

RTT = {"10ms": 0.010, "50ms": 0.050, "200ms": 0.200}


def window_gaps(path):
    d = netsynth.load_dataset(path)
    rtt, proto = d.label("rtt"), d.flows["proto"]
    hit = tot = other_hit = other_tot = 0
    for i in range(len(d)):
        n, f = int(d.lengths[i]), int(d.first[i])
        if n <= 16 or proto[i] != 6:
            continue
        gaps, thr = d.iat_ns[f:f + n] / 1e9, 0.5 * RTT[rtt[i]]
        starts = set(range(16, n, 12))
        for k in range(16, n):
            if k in starts:
                tot, hit = tot + 1, hit + (gaps[k] > thr)
            else:
                other_tot, other_hit = other_tot + 1, other_hit + (gaps[k] > thr)
    return 100.0 * hit / max(tot, 1), 100.0 * other_hit / max(other_tot, 1), tot


def forest(report, label, features, run):
    for level in report["levels"]:
        if level["label"] == label:
            for r in level["results"]:
                if r["features"] == features and r["run"] == run:
                    return r["accuracy"]
    return float("nan")


def main():
    print("| demo | gap > RTT/2 at rows 16, 28, .. (other rows) | app nPrint TSTR / TRTS | app NetFlow TSTR "
          "| rtt NetFlow TSTR / TRTS | handshake RTT ms per rtt class, synth (real train; synth flows with one) "
          "| ntp KS | worst app KS |")
    print("| --- | ---: | --- | ---: | --- | --- | ---: | --- |")
    for out in sys.argv[1:]:
        r = json.load(open(os.path.join(out, "report.json")))
        g, other, _ = window_gaps(os.path.join(out, "synth", "synthetic.ds"))
        hs = []
        ks = {}
        for level in r["trace"]["levels"]:
            for c in level["classes"]:
                if level["label"] == "rtt":
                    s, t = c["synth"]["rtt_s"], c["train"]["rtt_s"]
                    hs.append("%s %.1f (%.1f; %d)" % (c["class"], 1e3 * s["median"], 1e3 * t["median"], s["n"]))
                if level["label"] == "app":
                    ks[c["class"]] = c["ks_iat_synth"]
        worst = max(ks, key=ks.get)
        print("| %s | %.1f%% (%.1f%%) | %.3f / %.3f | %.3f | %.3f / %.3f | %s | %.3f | %s %.3f |" %
              (os.path.basename(out.rstrip("/")), g, other, forest(r, "app", "nprint", "TSTR"),
               forest(r, "app", "nprint", "TRTS"), forest(r, "app", "netflow", "TSTR"),
               forest(r, "rtt", "netflow", "TSTR"), forest(r, "rtt", "netflow", "TRTS"), ", ".join(hs),
               ks.get("ntp", float("nan")), worst, ks[worst]))


if __name__ == "__main__":
    main()
