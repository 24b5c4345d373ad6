#!/usr/bin/env python3
"""dpi_state.py: TCP state as protocol evidence (BENCHMARK.md, "Whole messages for DPI (session 11)").

  /usr/bin/python3 bench/dpi_state.py DATASET.ds [N]

For the rows of a dataset (a `netsynth dataset --payload N` of real captures,
or the synthetic.ds `generate --like` writes: generated rows before repair),
each TCP flow on a TLS port (443, 8443, 50443) or tshark's HTTP ports (80,
8080, ...), split by whether its rows carry a SYN (repair then opens it with
the three-way handshake: src/repair.c, tcp_state.handshake):
  TLS   the first learned bytes of each direction: a hello exactly (the
        direction's: ClientHello from the client, ServerHello from the
        server; "other hello" the other's), else the bits of its 48 constant
        bits (content type, record version, handshake type, hello version)
        off the nearest hello, in bins; "none" no learned bytes that way
  HTTP  the client's first learned bytes: a method and a space exactly, else
        bits off the nearest method; the server's: "HTTP/1." exactly or bits
        off; "server first": the server's learned bytes come before the
        client's (row order); "none": the client has no learned bytes
With N, the first bytes of N flows with a SYN whose start is not exact.
"""
import collections
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "python"))
import numpy as np  # noqa: E402
import netsynth  # noqa: E402

PAY = netsynth.WIDTH - 512
SYN = 480 + 320 + 110  # tcp_syn: IPv4 480 + IPv6 320 columns, bit 110 of TCP
TLS_PORTS = {443, 8443, 50443}
HTTP_PORTS = {80, 631, 1900, 2710, 2869, 3128, 3132, 3689, 5985, 8080, 8088, 11371}
METHODS = [b"GET ", b"POST ", b"PUT ", b"HEAD ", b"DELETE ", b"OPTIONS ", b"PATCH ", b"CONNECT ", b"NOTIFY ",
           b"M-SEARCH ", b"SUBSCRIBE ", b"UNSUBSCRIBE "]


def learned(row):
    bits = row[PAY:].reshape(64, 8)
    whole = (bits >= 0).all(axis=1)
    n = int(np.argmin(whole)) if not whole.all() else 64
    if n == 0:
        return b""
    return np.packbits(bits[:n].astype(np.uint8), axis=1).reshape(-1).tobytes()


def bits_off(a, b):
    return sum(bin(x ^ y).count("1") for x, y in zip(a, b))


def hello_off(b, client):
    """(bits off the nearest hello's constants, whether it is the other side's hello)."""
    best = None
    for t in (1, 2):
        off = bin(b[0] ^ 22).count("1") + bin(b[1] ^ 3).count("1") + min(bin(b[2] ^ m).count("1") for m in range(4))
        off += bin(b[5] ^ t).count("1") if len(b) > 5 else 8
        if len(b) > 10:
            off += bin(b[9] ^ 3).count("1") + min(bin(b[10] ^ m).count("1") for m in range(4))
        other = t != (1 if client else 2)
        if best is None or off < best[0] or (off == best[0] and not other):
            best = (off, other)
    return best


def tls_start(b, client):
    if not b:
        return "none"
    if len(b) < 6:
        return "short"
    off, other = hello_off(b, client)
    if off == 0:
        return "other hello" if other else "hello"
    return "1-3 bits" if off <= 3 else "4-8 bits" if off <= 8 else "9-16 bits" if off <= 16 else "17+ bits"


def text_off(b, texts):
    return min((bits_off(b, t), t) for t in texts if len(b) >= len(t)) if any(len(b) >= len(t) for t in texts) else None


def http_start(b, texts):
    if not b:
        return "none"
    o = text_off(b, texts)
    if o is None:
        return "short"
    off = o[0]
    if off == 0:
        return "exact"
    k = len(o[1])
    return "1 in 8" if off <= k else "1 in 4" if off <= 2 * k else "farther"   # of its 8k bits


def main():
    path = sys.argv[1]
    show = int(sys.argv[2]) if len(sys.argv) > 2 else 0
    ds = netsynth.Dataset(path)
    bits = ds.bits
    res = collections.Counter()
    shown = collections.Counter()
    for i in range(len(ds)):
        f = ds.flows[i]
        proto, port = int(f["proto"]), int(f["server_port"])
        if proto != 6 or (port not in TLS_PORTS and port not in HTTP_PORTS):
            continue
        service = "TLS" if port in TLS_PORTS else "HTTP"
        first, n = int(ds.first[i]), int(ds.lengths[i])
        syn = bool((bits[first:first + n, SYN] == 1).any())
        firsts, order = {}, []
        for k in range(first, first + n):
            d = int(ds.dir[k])
            if d in firsts:
                continue
            b = learned(bits[k])
            if b:
                firsts[d] = b
                order.append(d)
        c, s = firsts.get(0, b""), firsts.get(1, b"")
        if service == "TLS":
            cs, ss = tls_start(c, True), tls_start(s, False)
        else:
            cs, ss = http_start(c, METHODS), http_start(s, [b"HTTP/1."])
            if order and order[0] == 1:
                cs += " (server first)"
        res[(service, syn, "client", cs)] += 1
        res[(service, syn, "server", ss)] += 1
        if show and syn and (cs != "exact" and cs != "hello" or ss not in ("exact", "hello", "none")) \
                and shown[service] < show:
            shown[service] += 1
            print(f"# {service} flow {i} port {port}: client {c[:16]!r} server {s[:16]!r}")
    print("service\tSYN\tside\tfirst learned bytes\tflows")
    for k in sorted(res, key=lambda k: (k[0], not k[1], k[2], -res[k])):
        print(k[0], "SYN" if k[1] else "no SYN", k[2], k[3], res[k], sep="\t")


if __name__ == "__main__":
    main()
