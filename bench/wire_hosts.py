#!/usr/bin/env python3
"""wire_hosts.py: per class of a dataset, what a person counts in Wireshark
beside a real capture: the share of IPv6 flows, and the captures whose flows
have more than one IPv4 client address (0.0.0.0 left out), over all flows and
over NTP's (server port 123) alone (BENCHMARK.md, "What a person sees
(session 11)").

usage: LD_LIBRARY_PATH=build /usr/bin/python3 bench/wire_hosts.py ATTR DS [DS2]

With DS2 (the real test split beside generated pcaps read back with `netsynth
dataset`), the two side by side and the IPv6 share's difference in points."""
import collections
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "python"))
import netsynth  # noqa: E402


def table(path, attr):
    ds = netsynth.load_dataset(path)
    cls = ds.label(attr)
    fl = ds.flows
    n, v6 = collections.Counter(), collections.Counter()
    clients = collections.defaultdict(set)   # (class, file) -> IPv4 clients
    ntp = collections.defaultdict(set)
    for i, f in enumerate(fl):
        c = cls[i]
        n[c] += 1
        if f["ipv6"]:
            v6[c] += 1
            continue
        ip = int(f["client_ip"])
        if not ip:
            continue
        key = (c, int(f["file"]))
        clients[key].add(ip)
        if int(f["server_port"]) == 123:
            ntp[key].add(ip)
    caps, multi, ntp_caps, ntp_multi = (collections.Counter() for _ in range(4))
    for (c, _), s in clients.items():
        caps[c] += 1
        multi[c] += len(s) > 1
    for (c, _), s in ntp.items():
        ntp_caps[c] += 1
        ntp_multi[c] += len(s) > 1
    return {c: (n[c], v6[c], caps[c], multi[c], ntp_caps[c], ntp_multi[c]) for c in n}


def cell(t):
    n, v6, caps, multi, nc, nm = t
    return "%5d %5.1f%% %2d/%-2d %2d/%-2d" % (n, 100.0 * v6 / n if n else 0, multi, caps, nm, nc)


def main():
    if len(sys.argv) not in (3, 4):
        sys.exit(__doc__)
    attr = sys.argv[1]
    a = table(sys.argv[2], attr)
    b = table(sys.argv[3], attr) if len(sys.argv) == 4 else None
    head = "flows  IPv6  >1 cl NTP>1"
    print("%-20s %-27s" % (attr, head) + ("  %-27s  IPv6 diff" % head if b else ""))
    miss = 0
    for c in sorted(set(a) | set(b or {})):
        ta = a.get(c, (0,) * 6)
        line = "%-20s %s" % (c, cell(ta))
        if b is not None:
            tb = b.get(c, (0,) * 6)
            d = 100.0 * (ta[1] / ta[0] if ta[0] else 0) - 100.0 * (tb[1] / tb[0] if tb[0] else 0)
            miss += abs(d) > 5
            line += "  %s  %+5.1f%s" % (cell(tb), d, " *" if abs(d) > 5 else "")
        print(line)
    if b is not None:
        print("classes more than 5 points off:", miss, "of", len(set(a) | set(b)))


if __name__ == "__main__":
    main()
