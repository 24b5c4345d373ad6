#!/usr/bin/env python3
"""lost_flows.py: which real test flows a synthetic-trained forest loses,
by (class, service), and whether they are lost already in the generated
rows or only in the written pcaps (BENCHMARK.md, "Where the medium
default's pcaps lose (session 12)").

usage: lost_flows.py [--label L] [--top N] [--min N] [--jobs J] SERVICES.tsv REAL.ds TEST.ds NAME=DS [NAME=DS ...]

A scikit-learn forest (100 trees, seed 0, eval's nPrint features: first 16
packets, addresses and ports blanked) is trained on REAL.ds and on each DS
(the model's rows before repair, the dataset of the written pcaps, ...) and
predicts TEST.ds's flows. Each test flow gets its service from SERVICES.tsv
(the corpus's flow-services.tsv: nDPI's protocol per bidirectional 5-tuple
and capture; transport and server port name the service where the table has
no row, e.g. icmp/0: on the IoT corpus those are ICMPv6 flows, which datasets
keep as ICMP). The table lists
the (class, service) groups where the last DS loses most test flows that the
real-trained forest gets right (real right - DS right), each DS's count,
and the class the last DS reads those flows as most often.

The forest is scikit-learn's, not netsynth's: accuracies differ from `eval`
by about 0.01, the ranking of groups is what this is for.

Reads datasets through the Python module (python/netsynth; numpy and
scikit-learn: /usr/bin/python3 on the project machine).
"""
import argparse
import collections
import csv
import os
import socket
import struct
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "python"))
import numpy as np  # noqa: E402
from sklearn.ensemble import RandomForestClassifier  # noqa: E402

import netsynth as ns  # noqa: E402

PACKETS = 16


def ip(u):
    return socket.inet_ntoa(struct.pack("!I", int(u)))


def services(path):
    """{(capture path, proto, frozenset of the two (ip, port) ends): service}"""
    out = {}
    with open(path) as f:
        for r in csv.DictReader(f, delimiter="\t"):
            ends = frozenset([(r["src_ip"], int(r["src_port"] or 0)), (r["dst_ip"], int(r["dst_port"] or 0))])
            svc = r["ndpi_proto"] or "?"
            # nDPI's "HTTP.Cloudflare": the protocol is what the headers show, the owner of the address is not
            out[(r["pcap"], int(r["l4proto"]), ends)] = svc.split(".")[0]
    return out


def flow_services(ds, table):
    out = []
    for f in ds.flows:
        ends = frozenset([(ip(f["client_ip"]), int(f["client_port"])), (ip(f["server_ip"]), int(f["server_port"]))])
        svc = table.get((ds.files[int(f["file"])], int(f["proto"]), ends))
        if svc is None:
            svc = "%s/%d" % ({6: "tcp", 17: "udp", 1: "icmp"}.get(int(f["proto"]), "p%d" % f["proto"]),
                             int(f["server_port"]))
        out.append(svc)
    return np.array(out)


def fit_predict(train, test, label, jobs):
    y = train.label(label)
    keep = y != ""
    rf = RandomForestClassifier(n_estimators=100, random_state=0, n_jobs=jobs)
    rf.fit(train.features(PACKETS)[keep], y[keep])
    return rf.predict(test.features(PACKETS))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--label", default="device")
    ap.add_argument("--top", type=int, default=25)
    ap.add_argument("--min", type=int, default=3, help="groups losing fewer flows than this are left out")
    ap.add_argument("--jobs", type=int, default=1)
    ap.add_argument("--save", help="write every test flow's class, service and predictions here (.npz)")
    ap.add_argument("services")
    ap.add_argument("real")
    ap.add_argument("test")
    ap.add_argument("synth", nargs="+", help="NAME=DS")
    a = ap.parse_args()

    real, test = ns.load_dataset(a.real), ns.load_dataset(a.test)
    truth = test.label(a.label)
    svc = flow_services(test, services(a.services))
    preds = [("real", fit_predict(real, test, a.label, a.jobs))]
    for s in a.synth:
        name, path = s.split("=", 1)
        preds.append((name, fit_predict(ns.load_dataset(path), test, a.label, a.jobs)))
    right = {n: p == truth for n, p in preds}
    names = [n for n, _ in preds]
    last, lastp = preds[-1]
    print("accuracy: " + ", ".join("%s %.3f (%d of %d)" % (n, right[n].mean(), right[n].sum(), len(truth))
                                   for n in names))
    if a.save:
        np.savez(a.save, truth=truth, service=svc, **{"pred_" + n: p for n, p in preds})

    groups = collections.defaultdict(list)
    for i in range(len(truth)):
        groups[(truth[i], svc[i])].append(i)
    rows = []
    for (cls, s), idx in groups.items():
        idx = np.array(idx)
        loss = int(right["real"][idx].sum() - right[last][idx].sum())
        lost = idx[right["real"][idx] & ~right[last][idx]]
        read = collections.Counter(lastp[lost]).most_common(1)
        rows.append((loss, cls, s, idx, read[0] if read else ("", 0)))
    rows.sort(key=lambda r: (-r[0], r[1], r[2]))
    head = "| class | service | test flows | " + " | ".join("%s right" % n for n in names) + \
        " | %s loss | %s reads as |" % (last, last)
    print(head)
    print("|" + " --- |" * (head.count("|") - 1))
    total = 0
    for loss, cls, s, idx, (as_, k) in rows[:a.top]:
        if loss < a.min:
            break
        total += loss
        print("| %s | %s | %d | " % (cls, s, len(idx)) + " | ".join("%d" % right[n][idx].sum() for n in names) +
              " | %d | %s %d |" % (loss, as_, k))
    print("listed groups lose %d of the %d flows %s loses against real"
          % (total, int(right["real"].sum() - right[last].sum()), last))

    # the same by service alone: which service's flows carry the loss across classes
    by = collections.defaultdict(list)
    for i in range(len(truth)):
        by[svc[i]].append(i)
    print()
    print("| service | test flows | " + " | ".join("%s right" % n for n in names) + " | %s loss |" % last)
    print("|" + " --- |" * (len(names) + 3))
    for s, idx in sorted(by.items(), key=lambda kv: -(right["real"][kv[1]].sum() - right[last][kv[1]].sum())):
        idx = np.array(idx)
        loss = int(right["real"][idx].sum() - right[last][idx].sum())
        if abs(loss) < a.min:
            continue
        print("| %s | %d | " % (s, len(idx)) + " | ".join("%d" % right[n][idx].sum() for n in names) + " | %d |" % loss)


if __name__ == "__main__":
    main()
