#!/usr/bin/env python3
"""tls_flight.py PCAP...: the TLS server's flight (issue 17; BENCHMARK.md, "The server's flight (session 15)").

In the TCP flows on 443/8443/50443 that a capture shows opening (a SYN) and whose server speaks first with a
ServerHello, the server's data segments after that hello and before the client's second data segment: per position
(1, 2, 3, 4 and later) what each starts (hsN: a handshake record whose message type is N, ccs, app, alert, other;
cont: inside a record an earlier segment began), and every record that starts in them. The client's first segment
must be a ClientHello. Real captures and generated ones (generate --like, rerepair) are read the same way.
"""
import collections
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import dpi_misses  # noqa: E402

PORTS = (443, 8443, 50443)


def kind(p):
    if len(p) > 5 and p[0] == 22:
        return "hs%d" % p[5]
    return {20: "ccs", 23: "app", 21: "alert"}.get(p[0], "other")


def main(paths):
    starts, records = collections.Counter(), collections.Counter()
    for path in paths:
        flows = {}
        for proto, s, sp, d, dp, fl, pay in dpi_misses.segments(path):
            if proto != 6:
                continue
            if dp in PORTS:
                key, client = (s, sp, d, dp), 1
            elif sp in PORTS:
                key, client = (d, dp, s, sp), 0
            else:
                continue
            f = flows.setdefault(key, {"syn": False, "pk": []})
            if fl & 0x02 and not fl & 0x10:
                f["syn"] = True
            if pay:
                f["pk"].append((client, bytes(pay)))
        for f in flows.values():
            pk = f["pk"]
            if not f["syn"] or not pk or not pk[0][0] or pk[0][1][:1] != b"\x16" or pk[0][1][5:6] != b"\x01":
                continue
            n_client = n_server = rem = pos = 0
            for client, p in pk:
                if client:
                    n_client += 1
                    if n_client >= 2:
                        break
                    continue
                n_server += 1
                if n_server == 1 and not (p[0] == 22 and len(p) > 5 and p[5] == 2):
                    break  # the server's first data is no hello
                flight = n_server >= 2
                if flight:
                    pos += 1
                    starts[(min(pos, 4), "cont" if rem > 0 else kind(p))] += 1
                at = min(rem, len(p))
                rem -= at
                while at + 5 <= len(p):
                    if flight:
                        records[kind(p[at:at + 6])] += 1
                    at += 5 + (p[at + 3] << 8 | p[at + 4])
                if at > len(p):
                    rem = at - len(p)
    for (pos, k), n in sorted(starts.items()):
        print("pos%d%s" % (pos, "+" if pos == 4 else ""), k, n, sep="\t")
    print("records", *("%s %d" % kv for kv in records.most_common()), sep="\t")


if __name__ == "__main__":
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    main(sys.argv[1:])
