#!/usr/bin/env python3
"""tshark_count.py: tshark's view of captures, per service (bench/dpi.sh, STAGES=like).

  tshark_count.py OUT LIST     LIST: lines "capture<TAB>errors-file<TAB>app-file"

errors-file: `tshark -T fields -E occurrence=a -E aggregator="|" -e frame.protocols -e _ws.malformed -e _ws.expert.severity
-e _ws.expert.message -e tcp.srcport -e tcp.dstport -e udp.srcport -e udp.dstport` with
tshark's default preferences and checksums checked (what a user opening the capture sees);
app-file: the same fields read with TCP reassembly off (each segment alone) plus tcp.len,
udp.length, http.request.method, http.response.code, tls.handshake.type, tls.record.content_type.
Prints (and writes OUT-*.tsv):
  - totals: packets, malformed, expert errors, expert warnings;
  - expert errors by dissector (the frame's last protocol) and message, numbers folded to N
    (the 20 commonest printed);
  - per service (by its server port, PORTS below): packets with payload and the share in which
    tshark dissects the application's messages (HTTP: a request or status line; TLS: a
    record that is not malformed, and apart the share of ClientHello/ServerHello; DNS, mDNS, NTP, DHCP, SSDP, MQTT: the protocol).
"""
import collections
import re
import sys

PORTS = {("tcp", 80): "HTTP", ("tcp", 8080): "HTTP", ("tcp", 443): "TLS", ("tcp", 8443): "TLS",
         ("tcp", 50443): "TLS", ("udp", 53): "DNS", ("tcp", 53): "DNS", ("udp", 123): "NTP",
         ("udp", 67): "DHCP", ("udp", 68): "DHCP", ("udp", 1900): "SSDP", ("udp", 5353): "MDNS",
         ("tcp", 1883): "MQTT", ("udp", 69): "TFTP"}
ERROR, WARNING = "8388608", "6291456"
NUM = re.compile(r"0x[0-9a-fA-F]+|\d+")


def service(c):
    for proto, a, b in (("tcp", c[4], c[5]), ("udp", c[6], c[7])):
        for p in (a, b):
            if p and (proto, int(p.split("|")[0])) in PORTS:
                return PORTS[(proto, int(p.split("|")[0]))]
    return None


def dissected(svc, protos, c):
    if svc == "HTTP":
        return bool(c[10] or c[11])
    if svc == "TLS":
        return bool(c[13]) and "_ws.malformed" not in protos
    return {"DNS": "dns", "MDNS": "mdns", "NTP": "ntp", "DHCP": "dhcp", "SSDP": "ssdp", "MQTT": "mqtt",
            "TFTP": "tftp"}.get(svc, "-") in protos


def main():
    out, lst = sys.argv[1], sys.argv[2]
    n = mal = err = warn = 0
    by_msg = collections.Counter()
    pay, hit, hello = collections.Counter(), collections.Counter(), collections.Counter()
    caps = 0
    with open(lst) as f:
        for line in f:
            cap, errs, app = line.rstrip("\n").split("\t")
            caps += 1
            with open(errs, errors="replace") as e:
                for row in e:
                    c = row.rstrip("\n").split("\t") + [""] * 8
                    n += 1
                    protos = c[0].split(":")
                    last = [p for p in protos if not p.startswith("_ws")][-1] if protos[0] else "-"
                    mal += "_ws.malformed" in protos or c[1] != ""
                    sev, msg = c[2].split("|"), c[3].split("|")
                    for s, m in zip(sev, msg + [""] * len(sev)):
                        warn += s == WARNING
                        if s == ERROR:
                            err += 1
                            by_msg[(last, NUM.sub("N", m))] += 1
            with open(app, errors="replace") as a:
                for row in a:
                    c = row.rstrip("\n").split("\t") + [""] * 14
                    tl, ul = c[8].split("|")[0], c[9].split("|")[0]
                    if not ((tl and int(tl) > 0) or (ul and int(ul) > 8)):
                        continue
                    svc = service(c)
                    if not svc:
                        continue
                    pay[svc] += 1
                    hit[svc] += dissected(svc, set(c[0].split(":")), c)
                    if svc == "TLS" and set(c[12].split("|")) & {"1", "2"}:
                        hello["TLS"] += 1
    with open(out + "-totals.tsv", "w") as f:
        print(f"captures\tpackets\tmalformed\texpert errors\texpert warnings\n{caps}\t{n}\t{mal}\t{err}\t{warn}", file=f)
    with open(out + "-errors.tsv", "w") as f:
        for (proto, m), k in by_msg.most_common():
            print(f"{proto}\t{m}\t{k}", file=f)
    with open(out + "-app.tsv", "w") as f:
        for s in sorted(pay, key=lambda s: -pay[s]):
            print(f"{s}\t{pay[s]}\t{hit[s]}\t{hit[s] / pay[s]:.2f}", file=f)
        if pay["TLS"]:
            print(f"TLS hello\t{pay['TLS']}\t{hello['TLS']}\t{hello['TLS'] / pay['TLS']:.3f}", file=f)
    for name in ("totals", "errors", "app"):
        with open(out + f"-{name}.tsv") as f:
            sys.stdout.write("".join(f.readlines()[:20]))  # the 20 commonest errors; all in OUT-errors.tsv


if __name__ == "__main__":
    main()
