#!/bin/sh
# lab/condition.sh: does a capture carry its network condition?
#
#   lab/condition.sh FILE.pcap...          one line per capture
#   lab/condition.sh --table labels.tsv    one line per (rtt, loss) of the table, pooled
#                                          (add --by app for one line per (app, rtt, loss))
#
# Measured with tshark, as the capture point (the client) sees it:
#   handshake  TCP SYN -> SYN/ACK time (tshark's tcp.analysis.ack_rtt on the SYN/ACK),
#              the median over the capture's handshakes; with --table, whether it is
#              within 20% of the table's rtt value ("ok") or not ("off")
#   rtx        TCP segments tshark marks as retransmissions (also fast ones), as a share
#              of all TCP segments: loss shows up here
#   echo lost  ICMP echo requests without a reply
# Works on real captures (lab/corpus) and on synthetic ones (the labels.tsv that
# `netsynth generate -o DIR` writes), which is how condition transfer is measured
# (lab/README.md).
set -eu
command -v tshark >/dev/null || { echo "condition.sh: needs tshark (apt-get install tshark)" >&2; exit 1; }

# One line per packet: KEY proto flags ack_rtt rtx fast_rtx icmp_type
packets() {  # key file
    tshark -r "$2" -n -T fields -E separator=' ' -E occurrence=f \
        -e ip.proto -e tcp.flags -e tcp.analysis.ack_rtt -e tcp.analysis.retransmission \
        -e tcp.analysis.fast_retransmission -e icmp.type 2>/dev/null |
        awk -v k="$1" '{ p = $1; fl = ""; rtt = ""; rx = 0; it = ""
            if (p == 6) { fl = $2; for (i = 3; i <= NF; i++) { if ($i ~ /^[0-9]+\.[0-9]+$/) rtt = $i; else if ($i == 1) rx = 1 } }
            else if (p == 1) it = $2
            printf "%s %s %s %s %d %s\n", k, p, (fl == "" ? "-" : fl), (rtt == "" ? "-" : rtt), rx, (it == "" ? "-" : it) }'
}

summary='
function hex(s,   i, c, v) {
    v = 0; s = tolower(s); sub(/^0x/, "", s)
    for (i = 1; i <= length(s); i++) { c = index("0123456789abcdef", substr(s, i, 1)); v = v * 16 + c - 1 }
    return v
}
function median(key,   n, i, j, t, a) {
    n = split(hs[key], a, " ")
    for (i = 2; i <= n; i++) { t = a[i] + 0; for (j = i - 1; j >= 1 && a[j] + 0 > t; j--) a[j + 1] = a[j]; a[j + 1] = t }
    if (n == 0) return -1
    return a[int((n + 1) / 2)] * 1000
}
{
    k = $1; if (!(k in seen)) { order[++nk] = k; seen[k] = 1 }
    if ($2 == 6) {
        tcp[k]++; rtx[k] += $5
        if ($4 != "-" && int(hex($3) / 2) % 2 == 1 && int(hex($3) / 16) % 2 == 1) { hs[k] = hs[k] " " $4; nhs[k]++ }
    } else if ($2 == 1) {
        if ($6 == 8) req[k]++; else if ($6 == 0) rep[k]++
    }
}
END {
    printf "%-46s %6s %10s %6s %7s %6s %6s %5s\n", "capture/class", "hands", "median_ms", "check", "tcp", "rtx", "rtx%", "echo-lost"
    for (i = 1; i <= nk; i++) {
        k = order[i]; m = median(k); chk = "-"
        if (k ~ /rtt=?[0-9]+ms/ && m >= 0) {
            want = k; sub(/.*rtt=?/, "", want); sub(/ms.*/, "", want)
            chk = (m >= 0.8 * want && m <= 1.2 * want) ? "ok" : "off"
        }
        lost = req[k] - rep[k]; if (lost < 0) lost = 0
        printf "%-46s %6d %10s %6s %7d %6d %6.2f %5d\n", k, nhs[k], (m < 0 ? "-" : sprintf("%.2f", m)), chk,
               tcp[k], rtx[k], (tcp[k] ? 100 * rtx[k] / tcp[k] : 0), lost
    }
}'

if [ "${1:-}" = --table ]; then
    [ $# -ge 2 ] || { echo "usage: condition.sh --table labels.tsv [--by app]" >&2; exit 2; }
    table=$2; by=${4:-}
    dir=$(dirname "$table")
    # columns by name: path, rtt, loss and the optional --by column
    header=$(head -n 1 "$table" | tr -d '\r')
    col() { echo "$header" | tr '\t' '\n' | grep -n -x "$1" | cut -d: -f1; }
    cp=$(col path); cr=$(col rtt); cl=$(col loss); cb=""
    [ -n "$cp" ] && [ -n "$cr" ] && [ -n "$cl" ] || { echo "condition.sh: $table needs path, rtt and loss columns" >&2; exit 1; }
    [ -n "$by" ] && { cb=$(col "$by"); [ -n "$cb" ] || { echo "condition.sh: no column $by" >&2; exit 1; }; }
    tail -n +2 "$table" | tr -d '\r' | while IFS= read -r line; do
        [ -n "$line" ] || continue
        p=$(echo "$line" | cut -f"$cp"); r=$(echo "$line" | cut -f"$cr"); l=$(echo "$line" | cut -f"$cl")
        key="rtt=$r/loss=$l"
        [ -n "$cb" ] && key="$by=$(echo "$line" | cut -f"$cb")/$key"
        case $p in /*) f=$p ;; *) f=$dir/$p ;; esac
        packets "$key" "$f"
    done | awk "$summary"
else
    [ $# -ge 1 ] || { sed -n '2,8p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2; }
    for f in "$@"; do packets "$(basename "$f")" "$f"; done | awk "$summary"
fi
