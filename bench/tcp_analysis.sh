#!/bin/sh
# tcp_analysis.sh: per class, TCP packets and those tshark's sequence analysis
# flags (tcp.analysis.flags: retransmissions, out-of-order, lost segments,
# zero windows, resets ...), real captures against synthetic ones, as the
# whole-flow bar asks (issue 15: no more frequent than in the real captures).
# usage: sh bench/tcp_analysis.sh REAL_TABLE SYNTH_TABLE LABEL [SPLIT]
#   tables as eval takes them (labels.tsv: path and label columns); SPLIT
#   (default train) keeps those rows of REAL when it has a split column.
set -eu
real=$1 synth=$2 label=$3 split=${4:-train}
command -v tshark >/dev/null && command -v mergecap >/dev/null ||
    { echo "tcp_analysis: skipped: needs tshark and mergecap"; exit 0; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# paths TABLE: "class<TAB>path" for each row (of the split, when the table has one)
paths() {
    awk -F '\t' -v label="$label" -v want="$split" -v dir="$(dirname "$1")" '
        NR == 1 { for (i = 1; i <= NF; i++) { if ($i == "path") p = i; if ($i == label) l = i; if ($i == "split") s = i }; next }
        s && $s != want { next }
        { f = $p; if (substr(f, 1, 1) != "/") f = dir "/" f; print $l "\t" f }' "$1"
}
paths "$real" > "$tmp/real"
paths "$synth" > "$tmp/synth"
# count SIDE CLASS: "tcp flagged" of the class's captures merged
count() {
    awk -F '\t' -v c="$2" '$1 == c { print $2 }' "$tmp/$1" > "$tmp/list"
    [ -s "$tmp/list" ] || { echo "0 0"; return; }
    xargs mergecap -a -F pcap -w "$tmp/m.pcap" < "$tmp/list" 2>/dev/null
    tcp=$(tshark -r "$tmp/m.pcap" -n -Y tcp 2>/dev/null | wc -l)
    flagged=$(tshark -r "$tmp/m.pcap" -n -Y tcp.analysis.flags 2>/dev/null | wc -l)
    echo "$tcp $flagged"
}
printf "%-14s %10s %8s %7s   %10s %8s %7s\n" "$label" "real tcp" "flagged" "share" "synth tcp" "flagged" "share"
cut -f1 "$tmp/real" | sort -u | while read -r c; do
    set -- $(count real "$c") $(count synth "$c")
    awk -v c="$c" -v a="$1" -v b="$2" -v x="$3" -v y="$4" 'BEGIN {
        printf "%-14s %10d %8d %6.2f%%   %10d %8d %6.2f%%\n", c, a, b, a ? 100 * b / a : 0, x, y, x ? 100 * y / x : 0 }'
done
