#!/bin/sh
# tshark_share.sh PCAP: packets tshark dissects as an HTTP request or response (not SSDP), a TLS handshake message,
# DNS (mDNS, LLMNR), MQTT, SSDP, each counted once per packet, and their share of all packets (issue 17;
# BENCHMARK.md, "tshark's bars (session 14)"). Concatenate a run's pcaps first: mergecap -a -w all.pcap DIR/*.pcap.
f="$1"
nice tshark -r "$f" -T fields -E separator=/t -e http.request -e http.response -e tls.handshake.type -e dns.id -e mqtt.msgtype -e frame.protocols 2>/dev/null | awk -F'\t' '
{n++; if (($1!=""||$2!="") && $6 !~ /ssdp/) h++; if ($3!="") t++; if ($4!="") d++; if ($5!="") m++; if ($6 ~ /ssdp/) s++}
END {printf "%s: packets %d  http %d (%.4f)  tls.hs %d (%.4f)  dns %d (%.4f)  mqtt %d (%.4f)  ssdp %d (%.4f)\n", name, n, h, h/n, t, t/n, d, d/n, m, m/n, s, s/n}' name="$f"
