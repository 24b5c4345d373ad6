#!/usr/bin/env python3
"""wire_services.py: per service (transport, server port; ephemeral ports
pooled) of a dataset's IPv4 flows, the captures whose flows to it came from
more than one client and, of those with two flows or more, went to more than
one server; then the captures' DNS resolvers (BENCHMARK.md, "What a person
sees (session 11)").

usage: LD_LIBRARY_PATH=build /usr/bin/python3 bench/wire_services.py DS..."""
import collections
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "python"))
import netsynth  # noqa: E402

SHOWN = [(17, 53), (17, 123), (6, 443), (6, 80), (17, 5353), (17, 1900), (6, 8443), (17, 68)]


def service(f):
    sp = int(f["server_port"])
    return int(f["proto"]), sp if sp < 49152 else "eph"


def main():
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    for path in sys.argv[1:]:
        fl = netsynth.load_dataset(path).flows
        clients, servers, n = collections.defaultdict(set), collections.defaultdict(set), collections.Counter()
        for f in fl:
            if f["ipv6"] or int(f["proto"]) == 1 or not int(f["client_ip"]):
                continue
            k = (int(f["file"]),) + service(f)
            clients[k].add(int(f["client_ip"]))
            servers[k].add(int(f["server_ip"]))
            n[k] += 1
        cl, cl_n, sv, sv_n = (collections.Counter() for _ in range(4))
        for k in clients:
            s = k[1:]
            cl_n[s] += 1
            cl[s] += len(clients[k]) > 1
            if n[k] >= 2:
                sv_n[s] += 1
                sv[s] += len(servers[k]) > 1
        res = [len(servers[k]) for k in servers if k[1:] == (17, 53)]
        print(path)
        print("  more than one client:", ", ".join("%s/%s %d/%d" % (s + (cl[s], cl_n[s])) for s in SHOWN),
              "; all %d/%d" % (sum(cl.values()), sum(cl_n.values())))
        print("  more than one server:", ", ".join("%s/%s %d/%d" % (s + (sv[s], sv_n[s])) for s in SHOWN),
              "; all %d/%d" % (sum(sv.values()), sum(sv_n.values())))
        if res:
            res.sort()
            print("  DNS resolvers: %d captures, %d with one, median %d, most %d" %
                  (len(res), sum(r == 1 for r in res), res[len(res) // 2], res[-1]))


if __name__ == "__main__":
    main()
