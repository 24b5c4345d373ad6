#!/usr/bin/env python3
"""timing_table.py: per class, the timing of flows, real against generated
(BENCHMARK.md, "Timing").

usage: timing_table.py LABEL REAL_TABLE SYNTH_TABLE [PACKETS]

REAL_TABLE and SYNTH_TABLE are labels.tsv files (a `path` column relative to
the table, label columns; REAL_TABLE's `split` column names train and test).
A flow is the packets of one 5-tuple, either direction (ICMP: addresses and
protocol); its first PACKETS packets (default 16, the demo's `--packets`)
are compared, as the model sees them. Per class of LABEL:
  - the TCP handshake, the median time from a flow's first SYN to its first
    SYN/ACK, for real train, real test and generated captures;
  - the two-sample Kolmogorov-Smirnov distance of log(inter-arrival seconds
    + 1e-6) within flows (every packet after a flow's first), generated
    against real test, and real train against real test (the floor).
Prints a Markdown table. Python's standard library only: pcap (microsecond
or nanosecond) with Ethernet, Linux cooked (v1, v2) or raw IPv4 links.
"""
import bisect
import csv
import math
import os
import statistics
import struct
import sys


def packets(path):
    """(time, src, dst, proto, sport, dport, tcp flags or None) per IPv4 packet."""
    with open(path, "rb") as f:
        data = f.read()
    magic = data[:4]
    if magic in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1"):
        end = "<"
    elif magic in (b"\xa1\xb2\xc3\xd4", b"\xa1\xb2\x3c\x4d"):
        end = ">"
    else:
        raise ValueError(f"{path}: not a pcap file")
    scale = 1e-9 if magic in (b"\x4d\x3c\xb2\xa1", b"\xa1\xb2\x3c\x4d") else 1e-6
    link = struct.unpack(end + "I", data[20:24])[0] & 0xFFFFFFF
    at = 24
    while at + 16 <= len(data):
        sec, frac, caplen, _ = struct.unpack(end + "IIII", data[at:at + 16])
        pkt = data[at + 16:at + 16 + caplen]
        at += 16 + caplen
        t = sec + frac * scale
        if link == 1:
            off, etype = 14, pkt[12:14]
        elif link == 113:
            off, etype = 16, pkt[14:16]
        elif link == 276:
            off, etype = 20, pkt[0:2]
        elif link in (101, 228, 12, 14):
            off, etype = 0, b"\x08\x00"
        else:
            raise ValueError(f"{path}: link type {link} not read here")
        if etype != b"\x08\x00" or len(pkt) < off + 20 or pkt[off] >> 4 != 4:
            continue
        ihl = (pkt[off] & 15) * 4
        proto = pkt[off + 9]
        src, dst = pkt[off + 12:off + 16], pkt[off + 16:off + 20]
        l4 = off + ihl
        sport = dport = 0
        flags = None
        if proto in (6, 17) and len(pkt) >= l4 + 4:
            sport, dport = struct.unpack(">HH", pkt[l4:l4 + 4])
            if proto == 6 and len(pkt) >= l4 + 14:
                flags = pkt[l4 + 13]
        yield t, src, dst, proto, sport, dport, flags


def flow_stats(path, n_packets):
    """(handshake RTTs, log inter-arrival times) of one capture's flows."""
    flows = {}
    for t, src, dst, proto, sport, dport, flags in packets(path):
        a, b = (src, sport), (dst, dport)
        key = (proto,) + (tuple(sorted([a, b])))
        flows.setdefault(key, []).append((t, flags))
    rtts, logs = [], []
    for pk in flows.values():
        pk = pk[:n_packets]
        for i in range(1, len(pk)):
            logs.append(math.log(max(pk[i][0] - pk[i - 1][0], 0) + 1e-6))
        syn = next((t for t, f in pk if f is not None and f & 0x12 == 0x02), None)
        if syn is None:
            continue
        synack = next((t for t, f in pk if f is not None and f & 0x12 == 0x12 and t >= syn), None)
        if synack is not None:
            rtts.append(synack - syn)
    return rtts, logs


def read_table(path):
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f, delimiter="\t"))
    base = os.path.dirname(path)
    for r in rows:
        r["path"] = os.path.join(base, r["path"])
    return rows


def by_class(rows, label, n_packets):
    out = {}
    for r in rows:
        rtts, logs = flow_stats(r["path"], n_packets)
        c = out.setdefault(r[label], ([], []))
        c[0].extend(rtts)
        c[1].extend(logs)
    return out


def ks(x, y):
    """Two-sample Kolmogorov-Smirnov distance."""
    if not x or not y:
        return float("nan")
    x, y = sorted(x), sorted(y)
    d = 0.0
    for v in set(x) | set(y):
        fx = bisect.bisect_right(x, v) / len(x)
        fy = bisect.bisect_right(y, v) / len(y)
        d = max(d, abs(fx - fy))
    return d


def ms(v):
    return f"{1e3 * statistics.median(v):.1f}" if v else "-"


def main():
    if len(sys.argv) not in (4, 5):
        sys.exit(__doc__)
    label, real, synth = sys.argv[1:4]
    n_packets = int(sys.argv[4]) if len(sys.argv) == 5 else 16
    rows = read_table(real)
    train = by_class([r for r in rows if r.get("split") == "train"], label, n_packets)
    test = by_class([r for r in rows if r.get("split") == "test"], label, n_packets)
    gen = by_class(read_table(synth), label, n_packets)
    print(f"| {label} | handshake ms: real train | real test | generated | KS log iat: generated vs test "
          f"| real train vs test | inter-arrivals (test / generated) |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: |")
    for c in sorted(test, key=lambda s: (len(s), s)):
        g = gen.get(c, ([], []))
        print(f"| {c} | {ms(train[c][0])} | {ms(test[c][0])} | {ms(g[0])} | {ks(g[1], test[c][1]):.3f} "
              f"| {ks(train[c][1], test[c][1]):.3f} | {len(test[c][1])} / {len(g[1])} |")


if __name__ == "__main__":
    main()
