#!/usr/bin/env python3
"""group_dests.py: a dataset's IPv4 flows to a group address (multicast,
255.255.255.255) or from 0.0.0.0, by destination, source, transport,
server port and client port (the fixed 67, 68, 1900, 5353, else "eph"),
with how many of them have rows both ways; then the dataset's flow count
(BENCHMARK.md, "Addresses by service (session 9)").

usage: LD_LIBRARY_PATH=build /usr/bin/python3 bench/group_dests.py DS

A dataset of written pcaps (`netsynth dataset --labels DIR/labels.tsv`) is
read back as `eval` reads it: its flow count beside the generated one says
whether the plan's shared 5-tuples kept like-for-like sound."""
import collections
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "python"))
import netsynth  # noqa: E402


def dotted(ip):
    return "%d.%d.%d.%d" % (ip >> 24, ip >> 16 & 255, ip >> 8 & 255, ip & 255)


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    ds = netsynth.load_dataset(sys.argv[1])
    fl = ds.flows
    count, both = collections.Counter(), collections.Counter()
    for i, f in enumerate(fl):
        if f["ipv6"]:
            continue
        server, client = int(f["server_ip"]), int(f["client_ip"])
        group = server >> 28 == 14 or server == 0xFFFFFFFF
        if not group and client:
            continue
        cport = int(f["client_port"])
        key = (dotted(server) if group else "unicast", "0.0.0.0" if not client else "host", int(f["proto"]),
               int(f["server_port"]), cport if cport in (67, 68, 1900, 5353) else "eph")
        count[key] += 1
        both[key] += bool(ds.dir[ds.first[i]:ds.first[i] + ds.lengths[i]].any())
    print("flows\tboth ways\tdestination\tsource\tproto\tserver port\tclient port")
    for k, v in count.most_common():
        print("%d\t%d\t%s" % (v, both[k], "\t".join(str(x) for x in k)))
    print("dataset flows\t%d" % len(fl))


if __name__ == "__main__":
    main()
