#!/bin/sh
# synack_ts.sh PCAP...: of the SYN-ACKs answering a SYN with a TCP timestamp
# option, how many there are and how many carry none (RFC 7323 then leaves
# the connection without them), over the pcaps together: "N WITHOUT SHARE".
# BENCHMARK.md, "Addresses by service (session 9)"; per device, merge a
# device's pcaps first (mergecap -a) so that one tshark reads them.
for f in "$@"; do
  tshark -r "$f" -Y 'tcp.flags.syn==1' -T fields -e tcp.stream -e tcp.flags.ack -e tcp.options.timestamp.tsval 2>/dev/null |
  awk '{ if ($2 == "False" || $2 == 0) syn[$1] = ($3 != ""); else if (!($1 in seen)) { seen[$1] = 1; if (syn[$1]) { n++; if ($3 == "") w++ } } }
       END { print n + 0, w + 0 }'
done | awk '{ n += $1; w += $2 } END { printf "%d\t%d\t%.2f\n", n, w, n ? w / n : 0 }'
