#!/usr/bin/env python3
"""host_bars.py: issue 14's per-class trace bars from `netsynth eval --json`'s
trace section (medians over each class's captures): flow starts per second,
client and server hosts per capture (and their sum), flows per client host
(median), client ports per client host; real train, real test and synthetic
side by side, and how many classes have the synthetic median within 20% of
real's (train: a like-for-like copy's own captures; test: the issue's check).

With --packets 16 (eval's default) in place of 1, the issue's other bars too:
handshake RTT median within 10% of real, KS of log inter-arrival times
against real train at most 0.10, TCP timestamps going backwards or jumping
in no packet, PSH without payload no more (as a share of TCP packets) than
real (BENCHMARK.md, "Arrivals and capture spans (session 14)").

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
    timing(lv)


def timing(lv):
    """The bars inside flows; skipped when eval kept 1 packet a flow (no inter-arrival times)."""
    rows = [c for c in lv["classes"] if c.get("train") and c.get("synth") and c["synth"].get("captures")]
    if not any(c.get("ks_iat_synth") is not None for c in rows):
        return
    f = lambda v, d=3: "-" if v is None else f"{v:.{d}g}"
    print()
    print("class".ljust(20), f"{'RTT ms train test synth':>24s} {'KS test synth':>14s} {'TS bad':>7s}"
          f" {'PSH0 train test synth':>24s}")
    met = {"rtt": [0, 0], "ks": [0, 0], "ts": [0, 0], "psh": [0, 0]}
    for c in rows:
        tr, te, sy = c["train"], c.get("test") or {}, c["synth"]
        rt = [x.get("rtt_s", {}).get("median") for x in (tr, te, sy)]
        rt = [None if v is None else v * 1e3 for v in rt]
        cells = []
        if rt[0] is not None:
            ok = rt[2] is not None and abs(rt[2] / rt[0] - 1) <= 0.1
            met["rtt"][0] += 1
            met["rtt"][1] += ok
            cells.append(f"{f(rt[0]):>7s} {f(rt[1]):>7s} {f(rt[2]) + ('' if ok else '*'):>8s}")
        else:
            cells.append(f"{'-':>24s}")
        ks, kt = c.get("ks_iat_synth"), c.get("ks_iat_test")
        if ks is not None:
            met["ks"][0] += 1
            met["ks"][1] += ks <= 0.10
        cells.append(f"{f(kt, 2):>6s} {f(ks, 2) + ('' if ks is None or ks <= 0.10 else '*'):>7s}")
        bad = sy.get("ts_backwards", 0) + sy.get("ts_jumps", 0) if sy.get("ts_packets") else None
        if bad is not None:
            met["ts"][0] += 1
            met["ts"][1] += bad == 0
        cells.append(f"{'-' if bad is None else str(bad) + ('' if bad == 0 else '*'):>7s}")
        ps = [x.get("psh_empty_share") for x in (tr, te, sy)]
        if ps[0] is not None and ps[2] is not None:
            ok = ps[2] <= ps[0]
            met["psh"][0] += 1
            met["psh"][1] += ok
            cells.append(f"{f(ps[0], 2):>7s} {f(ps[1], 2):>7s} {f(ps[2], 2) + ('' if ok else '*'):>8s}")
        print(c["class"][:20].ljust(20), " ".join(cells))
    print("classes meeting the bar (of those it applies to; * misses):")
    for k, what in (("rtt", "handshake RTT median within 10% of train"), ("ks", "KS of inter-arrival times <= 0.10"),
                    ("ts", "no TSval backwards or jumping"), ("psh", "PSH without payload <= train's share")):
        print(f"  {what:42s} {met[k][1]:3d} of {met[k][0]}")


main()
