#!/usr/bin/env python3
"""trace_table.py: per class, what captures look like above their flows, real
against generated (BENCHMARK.md, "Traces: hosts, ports, arrivals").

usage: trace_table.py LABEL REAL_TABLE REAL_SPLIT SYNTH_TABLE [SYNTH_TABLE2 ...]

Each table is a labels.tsv (a `path` column relative to the table, label
columns; REAL_SPLIT keeps the rows whose `split` column has that value).
Packets are read with tshark. A flow is the packets of one 5-tuple (ICMP:
addresses and protocol), either direction; its client sent its first packet.
Per capture: the median gap between flow starts, flows / (last packet - first
packet) as flow starts per second,
distinct client and server addresses, flows per client host (median over the
capture's clients, and the largest), distinct client ports per client host
(TCP and UDP flows). Per class: the median over its captures. Python's
standard library only; tshark must be on PATH.
"""
import csv
import os
import statistics
import subprocess
import sys


def capture_stats(path):
    out = subprocess.run(
        ["tshark", "-r", path, "-T", "fields", "-E", "separator=\t", "-e", "frame.time_epoch", "-e", "ip.src",
         "-e", "ip.dst", "-e", "ip.proto", "-e", "tcp.srcport", "-e", "tcp.dstport", "-e", "udp.srcport",
         "-e", "udp.dstport"], capture_output=True, text=True, check=True).stdout
    flows = {}
    starts = []
    first = last = None
    for line in out.splitlines():
        f = line.split("\t")
        if len(f) < 8 or not f[1]:
            continue
        t = float(f[0])
        src, dst, proto = f[1].split(",")[0], f[2].split(",")[0], f[3].split(",")[0]
        sp, dp = (f[4], f[5]) if f[4] else (f[6], f[7])
        a, b = (src, sp), (dst, dp)
        key = (proto,) + (tuple(sorted([a, b])) if sp else tuple(sorted([src, dst])))
        if key not in flows:
            flows[key] = (src, sp if sp else None, dst)
            starts.append(t)
        first = t if first is None else min(first, t)
        last = t if last is None else max(last, t)
    if not flows:
        return None
    per_client = {}
    ports = {}
    servers = set()
    for client, port, server in flows.values():
        per_client[client] = per_client.get(client, 0) + 1
        if port is not None:
            ports.setdefault(client, set()).add(port)
        servers.add(server)
    dur = last - first
    starts.sort()
    gaps = [b - a for a, b in zip(starts, starts[1:])]
    return {
        "gap": statistics.median(gaps) if gaps else float("nan"),
        "rate": len(flows) / dur if dur > 0 else float("nan"),
        "clients": len(per_client),
        "servers": len(servers),
        "fpc_med": statistics.median(per_client.values()),
        "fpc_max": max(per_client.values()),
        "ports": (sum(len(p) for p in ports.values()) / len(ports)) if ports else float("nan"),
    }


def read_table(path, label, split):
    base = os.path.dirname(path)
    rows = []
    with open(path, newline="") as fp:
        for r in csv.DictReader(fp, delimiter="\t"):
            if split and r.get("split") != split:
                continue
            rows.append((os.path.join(base, r["path"]), r[label]))
    return rows


def per_class(rows):
    classes = {}
    for path, cls in rows:
        s = capture_stats(path)
        if s:
            classes.setdefault(cls, []).append(s)
    return classes


def med(caps, k):
    v = [c[k] for c in caps if c[k] == c[k]]
    return statistics.median(v) if v else float("nan")


def main():
    if len(sys.argv) < 5:
        sys.exit(__doc__)
    label, real, split = sys.argv[1:4]
    sides = [("real", per_class(read_table(real, label, split)))]
    for i, t in enumerate(sys.argv[4:]):
        sides.append((os.path.basename(os.path.dirname(os.path.abspath(t))), per_class(read_table(t, label, None))))
    keys = [("gap", "start gap s (median)"), ("rate", "flow starts/s"), ("clients", "client hosts"), ("servers", "server hosts"),
            ("fpc_med", "flows/client (median)"), ("fpc_max", "flows/client (max)"), ("ports", "ports/client")]
    print("| %s | %s |" % (label, " | ".join("%s: %s" % (k[1], s[0]) for k in keys for s in sides)))
    print("| --- |" + " ---: |" * (len(keys) * len(sides)))
    for cls in sorted(sides[0][1]):
        cells = []
        for k, _ in keys:
            for _, side in sides:
                caps = side.get(cls, [])
                cells.append("%.2f" % med(caps, k) if caps else "-")
        print("| %s | %s |" % (cls, " | ".join(cells)))


if __name__ == "__main__":
    main()
