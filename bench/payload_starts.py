#!/usr/bin/env python3
"""payload_starts.py: what the learned payload bytes start with, per service (BENCHMARK.md, session 6).

  /usr/bin/python3 bench/payload_starts.py REAL.ds SYNTH.ds [SYNTH2.ds ...]

For each dataset (a `netsynth dataset --payload N` of real captures, or the
synthetic.ds `generate --like` writes: the generated rows before repair), the
first payload-bearing packet of each flow in each direction, its learned bytes
(those whose 8 bits are all present), per service by server port: how many
start the message the service's tools key on (the condition nDPI and tshark
need before anything else), and the commonest starts side by side.
  HTTP  client: a method and a space; server: "HTTP/1.x " and a 3-digit code
  TLS   a record header (type 20-23, version 3.0-3.4); client: a ClientHello, server: a ServerHello
  SSDP  "M-SEARCH * HTTP/1.1", "NOTIFY * HTTP/1.1" or "HTTP/1.1 200 OK"
"""
import collections
import os
import re
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "python"))
import numpy as np  # noqa: E402
import netsynth  # noqa: E402

PAY = netsynth.WIDTH - 512
SERVICES = {(6, 80): "HTTP", (6, 8080): "HTTP", (6, 443): "TLS", (6, 8443): "TLS", (17, 1900): "SSDP"}
METHOD = re.compile(rb"^(GET|POST|PUT|HEAD|DELETE|OPTIONS|PATCH|CONNECT|NOTIFY|M-SEARCH|SUBSCRIBE|UNSUBSCRIBE) ")
STATUS = re.compile(rb"^HTTP/1\.[01] \d\d\d")


def learned(row):
    bits = row[PAY:].reshape(64, 8)
    whole = (bits >= 0).all(axis=1)
    n = int(np.argmin(whole)) if not whole.all() else 64
    return bytes(int("".join(str(int(b)) for b in bits[i]), 2) for i in range(n))


def good(service, d, b):
    if service == "HTTP":
        return bool(METHOD.match(b)) if d == 0 else bool(STATUS.match(b))
    if service == "TLS":
        rec = len(b) >= 3 and 20 <= b[0] <= 23 and b[1] == 3 and b[2] <= 4
        return rec and len(b) >= 6 and b[0] == 22 and b[5] == (1 if d == 0 else 2)
    if service == "SSDP":
        return b.startswith((b"M-SEARCH * HTTP/1.1", b"NOTIFY * HTTP/1.1", b"HTTP/1.1 200 OK"))
    return False


def starts(path):
    ds = netsynth.Dataset(path)
    total, hit = collections.Counter(), collections.Counter()
    common = collections.defaultdict(collections.Counter)
    bits = ds.bits
    for i in range(len(ds)):
        f = ds.flows[i]
        service = SERVICES.get((int(f["proto"]), int(f["server_port"])))
        if not service:
            continue
        first = int(ds.first[i])
        seen = set()
        for k in range(first, first + int(ds.lengths[i])):
            d = int(ds.dir[k])
            if d in seen:
                continue
            b = learned(bits[k])
            if not b:
                continue
            seen.add(d)
            key = (service, d)
            total[key] += 1
            hit[key] += good(service, d, b)
            common[key][b[:12]] += 1
    return total, hit, common


def show(b):
    return "".join(chr(c) if 32 <= c < 127 else "." for c in b)


def main():
    sides = [(p, starts(p)) for p in sys.argv[1:]]
    print("service\tdirection\t" + "\t".join(f"{os.path.basename(p)}: first payloads, start right" for p, _ in sides))
    keys = sorted({k for _, (t, _, _) in sides for k in t})
    for k in keys:
        cells = []
        for _, (t, h, _) in sides:
            cells.append(f"{t[k]}\t{h[k] / t[k]:.2f}" if t[k] else "0\t-")
        print(f"{k[0]}\t{'client' if k[1] == 0 else 'server'}\t" + "\t".join(cells))
    for k in keys:
        print(f"\n{k[0]} {'client' if k[1] == 0 else 'server'}: commonest first 12 bytes")
        cols = [[f"{n:5d} {show(b):12s} {b.hex()}" for b, n in c[k].most_common(6)] for _, (_, _, c) in sides]
        for row in range(max(len(c) for c in cols)):
            print("   ".join((c[row] if row < len(c) else "").ljust(44) for c in cols))


if __name__ == "__main__":
    main()
