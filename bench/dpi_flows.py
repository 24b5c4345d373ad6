#!/usr/bin/env python3
"""dpi_flows.py: what TLS, HTTP and SSDP flows of written pcaps say, per class (BENCHMARK.md, "Whole messages for DPI (session 11)").

  dpi_flows.py methods DIR...              first requests on HTTP ports (80, 8080): method shares, per class
  dpi_flows.py order DIR...                HTTP flows with a handshake: whose data comes first, per class
  dpi_flows.py tls-empty DIR CAPTURES      TLS-port flows with no payload either way, per class, beside the
                                           real captures listed in CAPTURES (bench/dpi.sh's WORK/like-real.captures)
  dpi_flows.py ssdp LIST                   SSDP flows nDPI misses (LIST: WORK/like-NAME.ndpi.list): their first
                                           datagram's bits off the nearest start line

DIR: a directory of pcaps written by `generate --like` or bench/rerepair.c
(CLASS_TYPE-N.pcap), or the real training rows written the same way (rerepair
of train.ds as the rows). A flow is its 5-tuple.
"""
import collections
import glob
import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import dpi_count  # noqa: E402
import dpi_misses  # noqa: E402

HTTP_PORTS = {80, 8080}
TLS_PORTS = {443, 8443, 50443}
SSDP_LINES = [b"M-SEARCH * HTTP/1.1", b"NOTIFY * HTTP/1.1", b"HTTP/1.1 200 OK"]


def tcp(path):
    """(src, sport, dst, dport, flags, payload) of each IPv4/IPv6 TCP packet of an Ethernet pcap."""
    for proto, src, sp, dst, dp, fl, pay in dpi_misses.segments(path):
        if proto == 6:
            yield src, sp, dst, dp, fl, pay


def flows(path, ports):
    """5-tuple (client side first) -> list of (from client, flags, payload), in order."""
    out = collections.OrderedDict()
    for src, sp, dst, dp, fl, pay in tcp(path):
        if dp in ports:
            out.setdefault((src, sp, dst, dp), []).append((True, fl, pay))
        elif sp in ports:
            out.setdefault((dst, dp, src, sp), []).append((False, fl, pay))
    return out


def cls_of(path):
    return re.sub(r"-\d+\.pcap$", "", os.path.basename(path)).split("_")[0]


def captures(d):
    return sorted(glob.glob(os.path.join(d, "*.pcap")))


def methods(dirs):
    for d in dirs:
        total, per = collections.Counter(), collections.defaultdict(collections.Counter)
        for cap in captures(d):
            for pk in flows(cap, HTTP_PORTS).values():
                first = next((p for c, _, p in pk if c and p), None)
                if first is None:
                    continue
                m = re.match(rb"^([A-Z-]+) ", first)
                w = m.group(1).decode() if m else "other"
                total[w] += 1
                per[cls_of(cap)][w] += 1
        n = sum(total.values())
        print(d, n, " ".join(f"{k} {v} ({v / n:.3f})" for k, v in total.most_common()), sep="\t")
        for c in sorted(per, key=lambda c: -sum(per[c].values())):
            print("", c, " ".join(f"{k} {v}" for k, v in per[c].most_common()), sep="\t")


def order(dirs):
    for d in dirs:
        res, tot = collections.Counter(), collections.Counter()
        for cap in captures(d):
            c = cls_of(cap)
            for pk in flows(cap, HTTP_PORTS).values():
                if not any(cl and fl & 0x12 == 0x02 for cl, fl, _ in pk):
                    continue
                tot[c] += 1
                data = [(cl, pay) for cl, _, pay in pk if pay]
                if not data:
                    res[(c, "no data")] += 1
                elif data[0][0]:
                    res[(c, "client first")] += 1
                else:
                    later = any(cl for cl, _ in data)
                    res[(c, "server first, client later" if later else "server first, client none")] += 1
        print(d)
        print("class\tflows with a SYN\tclient first\tserver first, client later\tserver first, client none\tno data")
        for c in sorted(tot, key=lambda c: -tot[c]):
            print(c, tot[c], *(res[(c, k)] for k in ("client first", "server first, client later",
                                                     "server first, client none", "no data")), sep="\t")
        print("all", sum(tot.values()), *(sum(v for k, v in res.items() if k[1] == s) for s in
                                           ("client first", "server first, client later", "server first, client none",
                                            "no data")), sep="\t")


def tls_empty(d, real_list):
    def count(caps, clsof):
        tot, empty = collections.Counter(), collections.Counter()
        for cap in caps:
            for pk in flows(cap, TLS_PORTS).values():
                tot[clsof(cap)] += 1
                empty[clsof(cap)] += not any(p for _, _, p in pk)
        return tot, empty
    gt, ge = count(captures(d), cls_of)
    rt, re_ = count([ln.strip() for ln in open(real_list)], lambda c: c.split("/pcaps/")[1].split("/")[0])
    print("class\treal flows\tno payload\tshare\tgenerated flows\tno payload\tshare")
    for c in sorted(set(gt) | set(rt), key=lambda c: -gt[c]):
        print(c, rt[c], re_[c], f"{re_[c] / rt[c] if rt[c] else 0:.2f}", gt[c], ge[c],
              f"{ge[c] / gt[c] if gt[c] else 0:.2f}", sep="\t")
    print("all", sum(rt.values()), sum(re_.values()), f"{sum(re_.values()) / sum(rt.values()):.2f}", sum(gt.values()),
          sum(ge.values()), f"{sum(ge.values()) / sum(gt.values()):.2f}", sep="\t")


def ssdp(listing):
    def off(b, t):
        return sum(bin(x ^ y).count("1") for x, y in zip(b, t)) if len(b) >= len(t) else None
    bins = collections.Counter()
    for line in open(listing):
        cap, out = line.rstrip("\n").split("\t")
        names = dpi_count.ndpi_flows(out)
        fl = {}
        for proto, s, sp, d, dp, pay in dpi_misses.packets(cap):
            if proto != "17" or "1900" not in (sp, dp):
                continue
            key = (proto, s, sp, d, dp) if dp == "1900" else (proto, d, dp, s, sp)
            fl.setdefault(key, []).append(pay)
        for key, pays in fl.items():
            if "SSDP" in names.get(key, ()):
                continue
            o = [x for x in (off(pays[0], t) for t in SSDP_LINES) if x is not None]
            # bits off the nearest start line (17 to 19 bytes: one bit in 8 is 17 to 19 bits, one in 4 34 to 38)
            b = "shorter than a start line" if not o else "up to 24 bits" if min(o) <= 24 else \
                "25 to 38 bits" if min(o) <= 38 else "39 bits or more"
            bins[(cls_of(cap), b)] += 1
            print("# missed", cls_of(cap), min(o) if o else "-", pays[0][:20])
    print("class\tfirst datagram\tflows")
    for k, v in sorted(bins.items()):
        print(*k, v, sep="\t")


if __name__ == "__main__":
    a = sys.argv[1:]
    if len(a) >= 2 and a[0] == "methods":
        methods(a[1:])
    elif len(a) >= 2 and a[0] == "order":
        order(a[1:])
    elif len(a) == 3 and a[0] == "tls-empty":
        tls_empty(a[1], a[2])
    elif len(a) == 2 and a[0] == "ssdp":
        ssdp(a[1])
    else:
        sys.exit(__doc__)
