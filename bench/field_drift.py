#!/usr/bin/env python3
"""field_drift.py: which header fields the trace plan or repair moves away
from the class's real values (BENCHMARK.md, "Fields the plan moves
(session 8)").

usage: field_drift.py [--label L] [--pos] [--port] [--group PREFIX] [--top N] [--field F]
                      REAL.ds ROWS.ds PCAPS.ds [TEST.ds]

For every nPrint header field of the first 16 rows of each flow, the rows
are grouped by the flow's class (label L, default device), transport (tcp,
udp, icmp, other) and direction (and with --pos the row's position: 0, 1,
2, 3+), and the value distribution of each group is compared with REAL's
same group by total variation distance (0: same, 1: disjoint). A field's
distance is the mean over the groups weighted by the compared dataset's
rows. ROWS is the model's output before it is written (synthetic.ds),
PCAPS the dataset of the written pcaps, TEST the real test split (the
floor: sampling noise and drift between the splits). Fields where PCAPS
is much farther than ROWS are the ones the plan or repair moves.

Fields wider than 8 bits are also read byte by byte (ipv4_id.b0 is the
high byte, tcp_opt.b8 the ninth byte of the options: the timestamp
option's TSval sits in bytes 4..7 or 8..11 of a SYN's options), and two
derived fields are added: ipv4_id.step, the ID's increment from the
flow's previous row in the same direction (0, 1, 2..255, more,
backwards), and F.zero, whether the field is 0. Addresses, ports and
checksums are skipped (the features blank them), tcp_seq and tcp_ackn
read only as .zero (per-flow random by nature).

--port adds the flow's server port to the groups (the destination port of
its first client row: D-LinkHomeHub|udp|53|c2s), and --group PREFIX keeps
only the groups whose name starts with PREFIX (a class, or a class and
service: "D-LinkSwitch|tcp|443|"), so that the ranking says which fields of
one class's service the rows or the pcaps get wrong (BENCHMARK.md, "Where the
medium default's pcaps lose (session 12)").

--field F prints F's groups with the largest PCAPS distance and their
commonest values in REAL, ROWS and PCAPS.

Reads datasets through the Python module (python/netsynth; numpy:
/usr/bin/python3 on the project machine).
"""
import collections
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "python"))
import numpy as np  # noqa: E402

import netsynth as ns  # noqa: E402
from field_values import PACKETS, model_fields, row_values as values  # noqa: E402

BLANKED = {"ipv4_src", "ipv4_dst", "ipv6_src", "ipv6_dst", "tcp_sprt", "tcp_dprt", "udp_sport", "udp_dport",
           "ipv4_cksum", "tcp_cksum", "udp_cksum", "icmp_cksum"}
RANDOM = {"tcp_seq", "tcp_ackn"}
MIN_ROWS = 20  # a group smaller than this in REAL or the compared set is noise


class Rows:
    """The first PACKETS rows of a dataset's flows with their groups."""

    def __init__(self, path, label, pos, fields, port=False):
        ds = ns.load_dataset(path)
        flow = ds.flow_of_packet()
        at = np.arange(len(flow)) - ds.first[flow]
        keep = at < PACKETS
        if port:
            server = server_ports(ds, flow, fields)
        self.bits, flow, at = ds.bits[keep], flow[keep], at[keep]
        self.flow, self.dir = flow, ds.dir[keep].astype(np.int64)
        col = {name: (c, w) for name, c, w in fields}
        transport = np.full(len(flow), 3)
        for k, name in enumerate(("tcp_doff", "udp_len", "icmp_type")):
            c, w = col[name]
            transport[(self.bits[:, c:c + w] >= 0).all(1) & (transport == 3)] = k
        classes = ds.label(label)[flow]
        keys = np.char.add(np.char.add(classes, "|"), np.array(["tcp", "udp", "icmp", "other"])[transport])
        if port:
            keys = np.char.add(np.char.add(keys, "|"), server[flow].astype(str))
        keys = np.char.add(np.char.add(keys, "|"), np.array(["c2s", "s2c"])[self.dir])
        if pos:
            keys = np.char.add(np.char.add(keys, "|"), np.array(["p0", "p1", "p2", "p3+"])[np.minimum(at, 3)])
        self.keys = keys
        self.n = len(flow)


def server_ports(ds, flow, fields):
    """Each flow's server port: the TCP or UDP destination port of its first client row, else -1."""
    col = {name: (c, w) for name, c, w in fields}
    port = np.maximum(values(ds.bits, *col["tcp_dprt"]), values(ds.bits, *col["udp_dport"]))
    out = np.full(len(ds), -1, np.int64)
    client = np.where((ds.dir == 0) & (port >= 0))[0][::-1]   # the first row of each flow wins
    out[flow[client]] = port[client]
    return out


def derived(rows, fields):
    """{name: values (n,)} of every compared field, sub-field and derived field of rows."""
    out = {}
    for name, col, width in fields:
        if name in BLANKED:
            continue
        whole = values(rows.bits, col, width) if width <= 62 else None
        if whole is not None and name not in RANDOM:
            out[name] = whole
        if width > 8 and name not in RANDOM:
            for k in range(0, width, 8):
                out["%s.b%d" % (name, k // 8)] = values(rows.bits, col + k, min(8, width - k))
        if width >= 16 and width <= 62:
            out[name + ".zero"] = np.where(whole < 0, -1, whole == 0)
    c, w = next((c, w) for name, c, w in fields if name == "ipv4_id")
    ident = values(rows.bits, c, w)
    step = np.full(rows.n, -1)
    last = {}
    for i in range(rows.n):
        key = (rows.flow[i], rows.dir[i])
        if ident[i] >= 0 and key in last:
            d = (ident[i] - last[key]) % 65536
            step[i] = 0 if d == 0 else 1 if d == 1 else 2 if d < 256 else 4 if d > 32768 else 3
        if ident[i] >= 0:
            last[key] = ident[i]
    out["ipv4_id.step"] = step
    return out


def distributions(keys, vals):
    """{group: Counter(value)}."""
    dist = collections.defaultdict(collections.Counter)
    pairs = collections.Counter(zip(keys.tolist(), vals.tolist()))
    for (g, v), n in pairs.items():
        dist[g][v] += n
    return dist


def tv(p, q):
    np_, nq = sum(p.values()), sum(q.values())
    return 0.5 * sum(abs(p.get(v, 0) / np_ - q.get(v, 0) / nq) for v in set(p) | set(q))


def distance(real, other):
    """Row-weighted mean TV over the groups both have MIN_ROWS rows in, and the groups' TVs."""
    per, total, weight = {}, 0.0, 0
    for g, q in other.items():
        p = real.get(g)
        nq = sum(q.values())
        if g == "" or p is None or sum(p.values()) < MIN_ROWS or nq < MIN_ROWS:
            continue
        per[g] = tv(p, q)
        total += per[g] * nq
        weight += nq
    return (total / weight if weight else float("nan")), per


def main(argv):
    label, pos, top, show, port, group = "device", False, 40, None, False, None
    while argv and argv[0].startswith("--"):
        if argv[0] == "--label" and len(argv) > 1:
            label, argv = argv[1], argv[2:]
        elif argv[0] == "--pos":
            pos, argv = True, argv[1:]
        elif argv[0] == "--port":
            port, argv = True, argv[1:]
        elif argv[0] == "--group" and len(argv) > 1:
            group, argv = argv[1], argv[2:]
        elif argv[0] == "--top" and len(argv) > 1:
            top, argv = int(argv[1]), argv[2:]
        elif argv[0] == "--field" and len(argv) > 1:
            show, argv = argv[1], argv[2:]
        else:
            sys.exit(__doc__)
    if len(argv) not in (3, 4):
        sys.exit(__doc__)
    fields = model_fields()
    sets = [Rows(p, label, pos, fields, port) for p in argv]
    if group:
        for x in sets:
            x.keys = np.where(np.char.startswith(x.keys, group), x.keys, "")
    vals = [derived(s, fields) for s in sets]
    names = ["rows", "pcaps", "test"][:len(argv) - 1]
    result = []
    detail = {}
    for f in vals[0]:
        real = distributions(sets[0].keys, vals[0][f])
        dists = [distributions(s.keys, v[f]) for s, v in zip(sets[1:], vals[1:])]
        res = [distance(real, d) for d in dists]
        result.append((f, [r[0] for r in res]))
        if f == show:
            detail = (real, dists, res)
    result.sort(key=lambda r: -(r[1][1] - r[1][0]))
    print("%-18s %s  pcaps-rows" % ("field", "  ".join("%6s" % n for n in names)))
    for f, d in result[:top]:
        print("%-18s %s  %+.3f" % (f, "  ".join("%6.3f" % x for x in d), d[1] - d[0]))
    if show:
        if not detail:
            sys.exit("field_drift.py: no field '%s'" % show)
        real, dists, res = detail
        groups = sorted(res[1][1], key=lambda g: -(res[1][1][g] - res[0][1].get(g, 0)) * sum(dists[1][g].values()))
        for g in groups[:top]:
            print("%s: tv rows %.2f pcaps %.2f (%d rows)" % (g, res[0][1].get(g, float("nan")), res[1][1][g],
                                                        sum(dists[1][g].values())))
            for n, d in (("real", real), ("rows", dists[0]), ("pcaps", dists[1])):
                c = d.get(g, collections.Counter())
                t = max(1, sum(c.values()))
                print("   %-5s %s" % (n, " ".join("%d:%.2f" % (v, k / t) for v, k in c.most_common(6))))


if __name__ == "__main__":
    main(sys.argv[1:])
