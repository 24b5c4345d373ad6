#!/bin/sh
# bench/dpi.sh: payload bytes and what DPI and dissectors see (BENCHMARK.md "Payload").
#
#   bench/dpi.sh [WORK]
#
# On the IoT corpus (../shared/data/iot-sentinel), per service of flow-services.tsv:
#   1. real test captures with their transport payloads cut to N bytes and
#      zero-filled past them (`netsynth encode -p N` then `decode`: the most a
#      model of N bytes could give): the share of flows nDPI recognises as their
#      service, for N in $PAYLOADS and the captures as they are. This is what
#      the default of `dataset --payload` was chosen on.
#   2. a model trained on the train split (`dataset --payload $PAYLOAD`,
#      $CONFIG, $STEPS steps, a window of $PACKETS packets; MODEL=file skips
#      the training), $FLOWS flows generated per service (`--prompt
#      service=S`): nDPI's share beside the real test flows', and tshark on
#      the generated captures: malformed packets, bad checksums, expert errors,
#      and the share of packets with transport payload whose application
#      layer was dissected, beside the real test captures'.
#   3. STAGES=like SYNTH=DIR: captures of `generate --like` (DIR/*.pcap) beside the
#      real test captures, per service by server port (dpi_count.py ports): nDPI's
#      share, tshark's malformed packets and expert errors by dissector and message
#      (default preferences, checksums checked), and the share of packets with
#      payload whose application messages tshark dissects, each segment read
#      alone (tshark_count.py). Outputs in WORK/like-{real,synth}*.
# ndpiReader -d (deep inspection only, no guess by port), one thread, nice.
# Tables go to stdout and WORK/*.tsv.
set -eu
ROOT=$(cd "$(dirname "$0")/.." && pwd)
NS=${NETSYNTH:-$ROOT/build/netsynth}
S=${SHARED:-$ROOT/../shared}/data/iot-sentinel
W=${1:-$(mktemp -d)}
PAYLOADS=${PAYLOADS:-0 16 32 64}
PAYLOAD=${PAYLOAD:-32}
CONFIG=${CONFIG:-small}
STEPS=${STEPS:-1500}
PACKETS=${PACKETS:-32}
FLOWS=${FLOWS:-100}
SERVICES=${SERVICES:-HTTP DNS TLS NTP DHCP SSDP MDNS}
STAGES=${STAGES:-real model}   # real: the cut captures; model: train, generate, compare; like: SYNTH=DIR
mkdir -p "$W"
for t in ndpiReader tshark python3; do
    command -v $t >/dev/null || { echo "dpi.sh: needs $t" >&2; exit 1; }
done
[ -d "$S" ] || { echo "dpi.sh: no corpus at $S" >&2; exit 1; }

ndpi() { nice ndpiReader -i "$1" -d -v 2 -n 1 >"$2" 2>&1 || true; }

# The test captures, as labels.tsv names them.
awk -F'\t' 'NR == 1 { for (i = 1; i <= NF; i++) c[$i] = i; next } $c["split"] == "test" { print $c["path"] }' \
    "$S/labels.tsv" >"$W/test.list"

# Share per service: "service flows recognised share" for a real or synth list.
table() {
    python3 "$ROOT/bench/dpi_count.py" "$@" | awk -F'\t' -v OFS='\t' '{
        printf "%s\t%d\t%d\t%.2f", $1, $2, $3, $2 ? $3 / $2 : 0
        if (NF > 3) printf "\t%d\t%d\t%s", $4, $5, $4 ? sprintf("%.2f", $5 / $4) : "-"
        printf "\n" }'
}

# tshark's view of one capture: packets, malformed, bad checksums, expert
# errors, packets with transport payload, and of those the ones in which an
# application message was dissected (an HTTP request method or response code, DNS,
# a TLS record, MQTT, ...). That last count reads each segment alone (TCP
# reassembly off): a generated payload is its first N bytes and fill, so an
# HTTP header never completes, and reassembly would wait for it forever.
APP='http.request.method || http.response.code || dns || mdns || tls.record || mqtt || ssdp || dhcp || ntp || coap || llmnr || nbns'
tshark_counts() {
    c=$(tshark -r "$1" -o tcp.check_checksum:TRUE -o udp.check_checksum:TRUE -o ip.check_checksum:TRUE \
        -T fields -e frame.number -e _ws.malformed -e _ws.expert.severity -e ip.checksum.status \
        -e tcp.checksum.status -e udp.checksum.status -e tcp.len -e udp.length 2>/dev/null |
        awk -F'\t' '
        { n++ }
        $2 != "" { mal++ }
        $3 ~ /8388608/ { err++ }
        $4 == "0" || $5 == "0" || $6 == "0" { bad++ }
        ($7 != "" && $7 > 0) || ($8 != "" && $8 > 8) { pay++ }
        END { printf "%d\t%d\t%d\t%d\t%d", n, mal, bad, err, pay }')
    d=$(tshark -r "$1" -o tcp.desegment_tcp_streams:FALSE -Y "(tcp.len > 0 || udp.length > 8) && ($APP)" \
        -T fields -e frame.number 2>/dev/null | wc -l)
    printf '%s\t%d\n' "$c" "$d"
}

if echo "$STAGES" | grep -q real; then
    echo "== real test captures, payload cut to N bytes: nDPI recognition per service"
    for n in $PAYLOADS full; do
        : >"$W/real-$n.list"
        while read -r p; do
            out="$W/real-$n/$p"
            mkdir -p "$(dirname "$out")"
            if [ "$n" = full ]; then
                cap="$S/$p"
            else
                "$NS" encode -P "$S/$p" -e -4 -6 -t -u -i -p "$n" -A -q -j 1 -W "$out.csv" 2>/dev/null || continue
                "$NS" decode -i "$out.csv" -o "$out" && rm -f "$out.csv"
                cap="$out"
            fi
            ndpi "$cap" "$out.ndpi"
            printf '%s\t%s\n' "$p" "$out.ndpi" >>"$W/real-$n.list"
        done <"$W/test.list"
        table real "$S/flow-services.tsv" "$W/real-$n.list" >"$W/real-$n.tsv"
    done
    printf 'service\tflows'
    for n in $PAYLOADS full; do printf '\tN=%s' "$n"; done
    echo
    cut -f1,2 "$W/real-full.tsv" | while IFS="$(printf '\t')" read -r s f; do
        printf '%s\t%s' "$s" "$f"
        for n in $PAYLOADS full; do printf '\t%s' "$(awk -F'\t' -v s="$s" '$1 == s { print $4 }' "$W/real-$n.tsv")"; done
        echo
    done | tee "$W/real-by-n.tsv"
fi

if echo "$STAGES" | grep -q model; then
    for sp in train test; do
        [ -f "$W/$sp.ds" ] || "$NS" dataset -q --labels "$S/labels.tsv" --label device,device_type \
            --flows "$S/flow-services.tsv" --flow-label ndpi_proto --split $sp --payload "$PAYLOAD" -o "$W/$sp.ds"
    done
    M=${MODEL:-$W/model.nsm}
    if [ ! -f "$M" ]; then
        start=$(date +%s)
        nice "$NS" train --data "$W/train.ds" -o "$M" --config "$CONFIG" --steps "$STEPS" --packets "$PACKETS" -j 1 -q
        echo "trained $CONFIG, $STEPS steps, window $PACKETS packets: $(($(date +%s) - start)) s"
    fi
    : >"$W/synth.list"
    for s in $SERVICES; do
        [ -f "$W/gen-$s.pcap" ] ||   # kept from an earlier run into WORK: remove them to generate again
            nice "$NS" generate --model "$M" --prompt "service=$s" -n "$FLOWS" -o "$W/gen-$s.pcap" -j 1 -q
        ndpi "$W/gen-$s.pcap" "$W/gen-$s.ndpi"
        printf '%s\t%s\n' "$s" "$W/gen-$s.ndpi" >>"$W/synth.list"
    done
    table synth "$W/synth.list" >"$W/synth.tsv"
    [ -f "$W/real-full.tsv" ] || {
        : >"$W/real-full.list"
        while read -r p; do
            mkdir -p "$W/real-full/$(dirname "$p")"
            ndpi "$S/$p" "$W/real-full/$p.ndpi"
            printf '%s\t%s\n' "$p" "$W/real-full/$p.ndpi" >>"$W/real-full.list"
        done <"$W/test.list"
        table real "$S/flow-services.tsv" "$W/real-full.list" >"$W/real-full.tsv"
    }
    echo "== nDPI recognition per service: real test flows vs generated (prompted) flows"
    printf 'service\treal flows\treal\tgenerated flows\tgenerated\tratio\ton its port\trecognised there\n'
    for s in $SERVICES; do
        r=$(awk -F'\t' -v s="$s" '$1 == s { print $2 "\t" $4 }' "$W/real-full.tsv")
        g=$(awk -F'\t' -v s="$s" '$1 == s { print $2 "\t" $4 "\t" $5 "\t" $7 }' "$W/synth.tsv")
        printf '%s\t%s\t%s\n' "$s" "${r:-0	0}" "${g:-0	0	0	-}"
    done | awk -F'\t' -v OFS='\t' '{ print $1, $2, $3, $4, $5, ($3 > 0 ? sprintf("%.2f", $5 / $3) : "-"), $6, $7 }' |
        tee "$W/ndpi.tsv"

    echo "== tshark: packets, malformed, bad checksums, expert errors, with payload, app layer dissected"
    printf 'captures\tpackets\tmalformed\tbad checksums\texpert errors\twith payload\tdissected\tshare\n'
    tot() { awk -F'\t' -v OFS='\t' -v n="$1" '{ for (i = 1; i <= 6; i++) s[i] += $i }
        END { print n, s[1], s[2], s[3], s[4], s[5], s[6], s[5] ? sprintf("%.2f", s[6] / s[5]) : "-" }'; }
    [ -f "$W/tshark-real.tsv" ] || while read -r p; do tshark_counts "$S/$p"; done <"$W/test.list" |
        tot "real test" >"$W/tshark-real.tsv"
    cat "$W/tshark-real.tsv"
    for s in $SERVICES; do tshark_counts "$W/gen-$s.pcap"; done | tot "generated" | tee "$W/tshark-gen.tsv"
fi

if echo "$STAGES" | grep -q like; then
    SIDES="real"   # without SYNTH, the real side alone (it is kept in WORK for later runs)
    [ -n "${SYNTH:-}" ] && { [ -d "$SYNTH" ] || { echo "dpi.sh: no directory SYNTH=$SYNTH" >&2; exit 1; }; SIDES="real synth"; }
    NAME=${NAME:-$(basename "${SYNTH:-real}")}   # the synthetic side's outputs: WORK/like-NAME*
    TS='-o tcp.check_checksum:TRUE -o udp.check_checksum:TRUE -o ip.check_checksum:TRUE'
    ERRF='-e frame.protocols -e _ws.malformed -e _ws.expert.severity -e _ws.expert.message -e tcp.srcport -e tcp.dstport -e udp.srcport -e udp.dstport'
    APPF="$ERRF -e tcp.len -e udp.length -e http.request.method -e http.response.code -e tls.handshake.type -e tls.record.content_type"
    for side in $SIDES; do
        L="$W/like-$side" && [ "$side" = synth ] && L="$W/like-$NAME"
        mkdir -p "$L"
        if [ "$side" = real ]; then sed "s|^|$S/|" "$W/test.list"; else ls "$SYNTH"/*.pcap; fi >"$L.captures"
        # nDPI per capture (kept in WORK: a capture already read is not read again)
        : >"$L.ndpi.list"
        while read -r c; do
            o="$L/$(echo "$c" | tr '/' '_').ndpi"
            [ -s "$o" ] || ndpi "$c" "$o"
            printf '%s\t%s\n' "$c" "$o" >>"$L.ndpi.list"
        done <"$L.captures"
        # tshark on the captures one after the other (mergecap -a, as eval's compliance reads them):
        # as a user opens them, and each segment alone
        if [ ! -s "$L.app" ]; then
            xargs mergecap -a -F pcap -w "$L.pcap" <"$L.captures"
            tshark -r "$L.pcap" -n $TS -T fields -E occurrence=a -E aggregator="|" $ERRF >"$L.err" 2>/dev/null || true
            tshark -r "$L.pcap" -n -o tcp.desegment_tcp_streams:FALSE -T fields -E occurrence=a -E aggregator="|" $APPF \
                >"$L.app" 2>/dev/null || true
            rm -f "$L.pcap"
        fi
        printf 'all\t%s\t%s\n' "$L.err" "$L.app" >"$L.tshark.list"
    done
    echo "== nDPI per service (by server port): real test flows, generated flows (like-for-like)"
    python3 "$ROOT/bench/dpi_count.py" real "$S/flow-services.tsv" \
        "$(sed "s|^$S/||" "$W/like-real.ndpi.list" >"$W/like-real.ndpi.rel" && echo "$W/like-real.ndpi.rel")" |
        sed 's/^/label\t/' >"$W/like-ndpi-label.tsv"
    python3 "$ROOT/bench/dpi_count.py" ports "$W/like-real.ndpi.list" >"$W/like-ndpi-real.tsv"
    G="$W/like-ndpi-$NAME.tsv"
    if [ "$SIDES" = real ]; then : >"$G"; else python3 "$ROOT/bench/dpi_count.py" ports "$W/like-$NAME.ndpi.list" >"$G"; fi
    printf 'service\treal flows (label)\trecognised\treal flows (port)\trecognised\tgenerated flows\trecognised\tratio (port)\n'
    cut -f1 "$W/like-ndpi-real.tsv" "$G" | sort -u | while read -r s; do
        l=$(awk -F'\t' -v s="$s" '$2 == s { printf "%d\t%.2f", $3, $3 ? $4 / $3 : 0 }' "$W/like-ndpi-label.tsv")
        r=$(awk -F'\t' -v s="$s" '$1 == s { printf "%d\t%.2f", $2, $2 ? $3 / $2 : 0 }' "$W/like-ndpi-real.tsv")
        g=$(awk -F'\t' -v s="$s" '$1 == s { printf "%d\t%.2f", $2, $2 ? $3 / $2 : 0 }' "$G")
        printf '%s\t%s\t%s\t%s\n' "$s" "${l:-0	-}" "${r:-0	-}" "${g:-0	-}"
    done | awk -F'\t' -v OFS='\t' '{ print $0, ($5 > 0 && $7 != "-" ? sprintf("%.2f", $7 / $5) : "-") }' | tee "$W/like-ndpi-$NAME-table.tsv"
    for side in $SIDES; do
        L="$W/like-$side" && [ "$side" = synth ] && L="$W/like-$NAME"
        echo "== tshark, $(basename "$L"): totals; expert errors by dissector and message; application layer per service"
        python3 "$ROOT/bench/tshark_count.py" "$L" "$L.tshark.list"
    done
fi
