#!/usr/bin/env python3
"""dpi_count.py: share of flows nDPI recognises as their service (bench/dpi.sh).

  dpi_count.py real FLOWS.tsv LIST    LIST: lines "pcap-path-as-in-FLOWS<TAB>ndpiReader-output"
  dpi_count.py synth LIST             LIST: lines "service<TAB>ndpiReader-output"
  dpi_count.py ports LIST             LIST: lines "capture<TAB>ndpiReader-output"

A flow counts as recognised when one of the names of the protocol nDPI gives
it (`[proto: 7.220/HTTP.Cloudflare]`: HTTP, Cloudflare) is its service. Real
flows are the rows of FLOWS.tsv (flow-services.tsv) of the listed captures,
joined to nDPI's flows by their 5-tuple in either direction, their service
the master of ndpi_proto (as `netsynth dataset --flow-label` keeps it); a
flow nDPI does not list is not recognised. Synthetic flows are every flow of
an output, prompted for that service. Prints "service<TAB>flows<TAB>recognised",
and for synthetic flows two more columns: the flows on the service's usual
server port (PORTS) and how many of those were recognised, which tells the
bytes apart from the header bits (a flow on another port is the prompt's
miss, not the payload's). With "ports", every flow of the outputs has the
service of its server port (SERVICE_PORTS; flows on no such port are left
out): for `generate --like` captures, whose flows keep the transport and
server port of the real flow they stand in for, and for real captures read
the same way.
"""
import collections
import re
import sys

LINE = re.compile(r"^\s+\d+\s+(\S+)\s+(\S+?)(?::(\d+))?\s+(?:<->|->)\s+(\S+?)(?::(\d+))?\s+\[proto: [^/\]]*/([^\]]+)\]")
PROTOS = {"TCP": "6", "UDP": "17", "ICMP": "1"}
PORTS = {"HTTP": {"80"}, "DNS": {"53"}, "TLS": {"443"}, "NTP": {"123"}, "DHCP": {"67", "68"}, "SSDP": {"1900"},
         "MDNS": {"5353"}, "MQTT": {"1883"}}
SERVICE_PORTS = {("6", "80"): "HTTP", ("6", "8080"): "HTTP", ("6", "443"): "TLS", ("6", "8443"): "TLS",
                 ("6", "50443"): "TLS", ("17", "53"): "DNS", ("6", "53"): "DNS", ("17", "123"): "NTP",
                 ("17", "67"): "DHCP", ("17", "68"): "DHCP", ("17", "1900"): "SSDP", ("17", "5353"): "MDNS",
                 ("6", "1883"): "MQTT", ("17", "69"): "TFTP"}


def ndpi_flows(path):
    """(proto number, ip, port, ip, port) -> set of protocol names, per flow nDPI lists."""
    out = {}
    with open(path, errors="replace") as f:
        for line in f:
            m = LINE.match(line)
            if not m:
                continue
            proto, a, ap, b, bp, name = m.groups()
            names = set(name.split("."))
            key = (PROTOS.get(proto, proto), a, ap or "0", b, bp or "0")
            out[key] = names
            out[(key[0], b, bp or "0", a, ap or "0")] = names
    return out


def main():
    total, hit = collections.Counter(), collections.Counter()
    on_port, on_port_hit = collections.Counter(), collections.Counter()
    if sys.argv[1] == "real":
        rows = collections.defaultdict(list)
        with open(sys.argv[2]) as f:
            head = f.readline().rstrip("\n").split("\t")
            ix = {c: i for i, c in enumerate(head)}
            for line in f:
                c = line.rstrip("\n").split("\t")
                rows[c[ix["pcap"]]].append(c)
        with open(sys.argv[3]) as f:
            for line in f:
                pcap, out = line.rstrip("\n").split("\t")
                flows = ndpi_flows(out)
                for c in rows.get(pcap, []):
                    service = c[ix["ndpi_proto"]].split(".")[0]
                    key = (c[ix["l4proto"]], c[ix["src_ip"]], c[ix["src_port"]], c[ix["dst_ip"]], c[ix["dst_port"]])
                    total[service] += 1
                    hit[service] += service in flows.get(key, ())
    elif sys.argv[1] == "ports":
        with open(sys.argv[2]) as f:
            for line in f:
                _, out = line.rstrip("\n").split("\t")
                seen = set()
                for key, names in ndpi_flows(out).items():
                    canon = min(key, (key[0], key[3], key[4], key[1], key[2]))
                    service = SERVICE_PORTS.get((key[0], key[4])) or SERVICE_PORTS.get((key[0], key[2]))
                    if canon in seen or not service:
                        continue
                    seen.add(canon)
                    total[service] += 1
                    hit[service] += service in names
    else:
        with open(sys.argv[2]) as f:
            for line in f:
                service, out = line.rstrip("\n").split("\t")
                seen = set()
                for key, names in ndpi_flows(out).items():
                    canon = min(key, (key[0], key[3], key[4], key[1], key[2]))
                    if canon in seen:
                        continue
                    seen.add(canon)
                    total[service] += 1
                    hit[service] += service in names
                    if {key[2], key[4]} & PORTS.get(service, set()):
                        on_port[service] += 1
                        on_port_hit[service] += service in names
    for s in sorted(total, key=lambda s: -total[s]):
        extra = f"\t{on_port[s]}\t{on_port_hit[s]}" if sys.argv[1] == "synth" else ""
        print(f"{s}\t{total[s]}\t{hit[s]}{extra}")


if __name__ == "__main__":
    main()
