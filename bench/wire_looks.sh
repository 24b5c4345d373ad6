#!/bin/sh
# wire_looks.sh NAME PCAP...: what a person sees of mDNS (questions, answers; IPv6 to ff02::fb from fe80::) and
# tshark's expert counts, over the pcaps merged (BENCHMARK.md, "What a person sees (session 11)")
set -eu
N=$1; shift
M=/tmp/looks-$N.pcap
mergecap -a -w $M "$@"
echo "== $N ($# pcaps)"
tshark -r $M -Y 'mdns' -T fields -e dns.flags.response -e dns.count.queries -e dns.count.answers -e dns.qry.type -e dns.resp.type 2>/dev/null |
awk -F'\t' '{n++; r+=$1; split($4,q,","); if ($2>0) {nq++; t[q[1]]++}; if ($3>0) an++}
  END {printf "mdns packets %d, responses %d, with questions %d (first question: PTR %d, ANY %d, A %d, other %d), with answers %d\n", n, r, nq, t[12], t[255], t[1], nq-t[12]-t[255]-t[1], an}'
tshark -r $M -Y 'mdns && ipv6' -T fields -e ipv6.dst -e ipv6.src 2>/dev/null | awk -F'\t' '{n++; if ($1=="ff02::fb") g++; if ($2 ~ /^fe80/) ll++} END {printf "IPv6 mdns packets %d: to ff02::fb %d, from fe80:: %d\n", n, g, ll}'
tshark -r $M -Y 'mdns && ip' -T fields -e ip.dst 2>/dev/null | awk '{n++; if ($1=="224.0.0.251") g++} END {printf "IPv4 mdns packets %d: to 224.0.0.251 %d\n", n, g}'
tshark -r $M -q -z expert 2>/dev/null | grep -E '^(Errors|Warns|Notes) \(' | tr '\n' ' '; echo
echo "malformed: $(tshark -r $M -Y _ws.malformed 2>/dev/null | wc -l)"
rm -f $M
