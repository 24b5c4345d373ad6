#!/usr/bin/env python3
"""host_bars.py: issue 14's per-class trace bars from `netsynth eval --json`'s
trace section (medians over each class's captures): flow starts per second,
client and server hosts per capture (and their sum), flows per client host
(median), client ports per client host; real train, real test and synthetic
side by side, and how many classes have the synthetic median within 20% of
real's (train: a like-for-like copy's own captures; test: the issue's check).

usage: /usr/bin/python3 bench/host_bars.py R.json [LABEL]
R.json: netsynth eval --real LABELS.tsv (a table with a split column) --synth
DIR/labels.tsv --label device --no-netflow --trees 1 --packets 1
--no-compliance --no-applayer --json R.json (BENCHMARK.md, "Hosts and ports
per capture (session 13)")."""
import json
import sys

BARS = [("flow_starts_per_s", "rate"), ("client_hosts", "cli"), ("server_hosts", "srv"), ("hosts", "hosts"),
        ("flows_per_client_median", "fpc"), ("client_ports_per_client", "ports")]


def value(side, key):
    if key == "hosts":
        a, b = side.get("client_hosts"), side.get("server_hosts")
        return None if a is None or b is None else a + b
    return side.get(key)


def within(s, r):
    return s is not None and r is not None and r > 0 and abs(s / r - 1) <= 0.2


def main():
    r = json.load(open(sys.argv[1]))
    label = sys.argv[2] if len(sys.argv) > 2 else None
    levels = r["trace"]["levels"]
    lv = next(L for L in levels if label is None or L["label"] == label)
    print("class".ljust(20), " ".join(f"{n:>17s}" for _, n in BARS))
    print("".ljust(20), " ".join(f"{'train test synth':>17s}" for _ in BARS))
    met = {k: [0, 0] for k, _ in BARS}
    n = 0
    for c in lv["classes"]:
        tr, te, sy = c.get("train"), c.get("test"), c.get("synth")
        if not tr or not sy or not sy.get("captures"):
            continue
        n += 1
        cells = []
        for k, _ in BARS:
            a, b, s = value(tr, k), value(te, k) if te else None, value(sy, k)
            met[k][0] += within(s, a)
            met[k][1] += within(s, b)
            f = lambda v: "-" if v is None else f"{v:.3g}"
            mark = "" if within(s, a) else "*"
            cells.append(f"{f(a):>5s} {f(b):>5s} {f(s) + mark:>6s}")
        print(c["class"][:20].ljust(20), " ".join(cells))
    print(f"classes within 20% (of {n}; * misses train):")
    for k, name in BARS:
        print(f"  {name:6s} of train {met[k][0]:3d}   of test {met[k][1]:3d}")


main()
