#!/usr/bin/env python3
"""dpi_misses.py: why nDPI misses flows of TLS, HTTP and SSDP (BENCHMARK.md, "Payload structure for DPI (session 10)").

  dpi_misses.py starts LIST [SERVICE [N]]   LIST: a WORK/like-NAME.ndpi.list of bench/dpi.sh (capture, ndpiReader output)
  dpi_misses.py diff LIST_A LIST_B          the same flows under two repairs: recognised in both, only A, only B

"starts": per service (by server port, as dpi_count.py ports), flows nDPI
recognises and misses, by what the first client and server payloads of the
flow start with in the capture (TLS: "hello" for a ClientHello / ServerHello,
"recT/hsH" for a record of type T whose sixth byte is H; HTTP and SSDP: "req"
for a whole request line, "status", "method?" for a word and a space, "other";
"none": no payload), "(server first)" where the server's payload comes before
the client's. With N, also the first bytes of N missed flows per class.
"diff": flow by flow, which flows each side recognises (a rule's gain, and
whether it lost any).
"""
import collections
import ipaddress
import os
import re
import struct
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import dpi_count  # noqa: E402

SERVICES = {k: v for k, v in dpi_count.SERVICE_PORTS.items() if v in ("TLS", "HTTP", "SSDP")}


def segments(path):
    """(proto, src, sport, dst, dport, TCP flags or None, payload) of each IPv4/IPv6 TCP or UDP packet of an
    Ethernet pcap, addresses as bytes: the one pcap reader of the dpi_* scripts."""
    with open(path, "rb") as f:
        data = f.read()
    if len(data) < 24:
        return
    e = "<" if struct.unpack("<I", data[:4])[0] in (0xa1b2c3d4, 0xa1b23c4d) else ">"
    if struct.unpack(e + "I", data[20:24])[0] != 1:
        return
    at = 24
    while at + 16 <= len(data):
        incl = struct.unpack(e + "I", data[at + 8:at + 12])[0]
        pkt = data[at + 16:at + 16 + incl]
        at += 16 + incl
        off, et = 14, struct.unpack(">H", pkt[12:14])[0]
        if et == 0x8100:
            off, et = 18, struct.unpack(">H", pkt[16:18])[0]
        if et == 0x0800:
            proto = pkt[off + 9]
            src, dst = pkt[off + 12:off + 16], pkt[off + 16:off + 20]
            l4, end = off + (pkt[off] & 15) * 4, off + struct.unpack(">H", pkt[off + 2:off + 4])[0]
        elif et == 0x86dd:
            proto = pkt[off + 6]
            src, dst = pkt[off + 8:off + 24], pkt[off + 24:off + 40]
            l4 = off + 40
            end = l4 + struct.unpack(">H", pkt[off + 4:off + 6])[0]
        else:
            continue
        if proto not in (6, 17):
            continue
        sp, dp = struct.unpack(">HH", pkt[l4:l4 + 4])
        if proto == 6:
            yield proto, src, sp, dst, dp, pkt[l4 + 13], pkt[l4 + (pkt[l4 + 12] >> 4) * 4:end]
        else:
            yield proto, src, sp, dst, dp, None, pkt[l4 + 8:end]


def packets(path):
    """(proto, src, sport, dst, dport, payload) of each IPv4/IPv6 TCP or UDP packet of an Ethernet pcap, as strings
    (nDPI's flow keys: dpi_count.ndpi_flows)."""
    for proto, src, sp, dst, dp, _, pay in segments(path):
        src, dst = (str(ipaddress.ip_address(bytes(a))) for a in (src, dst))
        yield str(proto), src, str(sp), dst, str(dp), pay


def start(service, client, b):
    if not b:
        return "none"
    if service == "TLS":
        if len(b) >= 6 and b[0] == 22 and b[1] == 3 and b[5] in (1, 2):
            return "hello"
        return "rec%d/hs%d" % (b[0], b[5] if len(b) > 5 else -1) if b[0] in range(20, 24) and b[1:2] == b"\x03" else "other"
    if re.match(rb"^[A-Z-]+ \S* HTTP/1\.[01]\r\n", b):
        return "req"
    if re.match(rb"^HTTP/1\.[01] \d\d\d ", b):
        return "status"
    return "method?" if re.match(rb"^[A-Z-]+ ", b) else "other"


def starts(path, want, show):
    res, shown = collections.Counter(), collections.Counter()
    for line in open(path):
        cap, out = line.rstrip("\n").split("\t")
        names = dpi_count.ndpi_flows(out)
        flows = {}
        for proto, s, sp, d, dp, pay in packets(cap):
            client = (proto, dp) in SERVICES
            service = SERVICES.get((proto, dp)) or SERVICES.get((proto, sp))
            if not service or (want and service != want):
                continue
            key = (proto, s, sp, d, dp) if client else (proto, d, dp, s, sp)
            fl = flows.setdefault(key, {"service": service, "first": None, True: None, False: None})
            if pay and fl[client] is None:
                fl[client] = bytes(pay[:48])
                fl["first"] = fl["first"] or ("client" if client else "server")
        for key, fl in flows.items():
            service = fl["service"]
            hit = service in names.get(key, ())
            c = start(service, True, fl[True]) + (" (server first)" if fl["first"] == "server" else "")
            k = (service, hit, c, start(service, False, fl[False]))
            res[k] += 1
            if not hit and shown[k[:3]] < show:
                shown[k[:3]] += 1
                print(f"# missed {service} {key}: client {fl[True]!r}, server {fl[False]!r}")
    print("service\tnDPI\tclient's first payload\tserver's\tflows")
    for k, n in sorted(res.items(), key=lambda kv: (kv[0][0], not kv[0][1], -kv[1])):
        print(k[0], "recognised" if k[1] else "missed", k[2], k[3], n, sep="\t")


def verdicts(path):
    out = {}
    for line in open(path):
        cap, o = line.rstrip("\n").split("\t")
        for key, names in dpi_count.ndpi_flows(o).items():
            service = dpi_count.SERVICE_PORTS.get((key[0], key[4])) or dpi_count.SERVICE_PORTS.get((key[0], key[2]))
            if service:
                out[(os.path.basename(cap), min(key, (key[0], key[3], key[4], key[1], key[2])))] = (service, service in names)
    return out


def diff(path_a, path_b):
    a, b = verdicts(path_a), verdicts(path_b)
    c = collections.Counter()
    for k in set(a) | set(b):
        service = (a.get(k) or b.get(k))[0]
        c[(service, a.get(k, (0, None))[1], b.get(k, (0, None))[1])] += 1
    print("service\tflows\tboth\tonly A\tonly B\tneither\tin one side only")
    for s in sorted({k[0] for k in c}):
        row = [c[(s, True, True)], c[(s, True, False)], c[(s, False, True)], c[(s, False, False)]]
        alone = sum(v for k, v in c.items() if k[0] == s and None in k[1:])
        print(s, sum(v for k, v in c.items() if k[0] == s), *row, alone, sep="\t")


if __name__ == "__main__":
    if len(sys.argv) >= 3 and sys.argv[1] == "starts":
        starts(sys.argv[2], sys.argv[3] if len(sys.argv) > 3 else None, int(sys.argv[4]) if len(sys.argv) > 4 else 0)
    elif len(sys.argv) == 4 and sys.argv[1] == "diff":
        diff(sys.argv[2], sys.argv[3])
    else:
        sys.exit(__doc__)
