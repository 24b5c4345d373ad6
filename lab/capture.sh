#!/bin/bash
# lab/capture.sh: labelled captures of real Debian software under network conditions we choose.
#
# Three network namespaces on this machine: a client and a server joined through a
# "link" namespace by two veth pairs. The link shapes both directions (one-way delay =
# RTT/2, jitter = 10% of that, loss per direction, a rate). Real servers run in the
# server namespace (nginx, sshd, dnsmasq, chronyd, iperf3, mosquitto), real clients in
# the client namespace (curl, wget, ssh, scp, dig, chronyd -Q, ping, iperf3,
# mosquitto_pub/sub), and tcpdump captures the client's interface: one capture file
# per (service, rtt, loss, repetition). Output: DIR/pcaps/<service>/*.pcap and
# DIR/labels.tsv (path app rtt loss split; `app` names the service: netsynth reserves
# the label `service` for per-flow labels), the layout of the shared corpus.
#
# Run as root. No traffic leaves the namespaces. See lab/README.md.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
out=$here/corpus
reps=5
services="web download https ssh dns ntp ping iperf-tcp iperf-udp mqtt"
rtts="10ms 50ms 200ms"
losses="0% 1%"
snaplen=160
rate_bps=20000000
seed=6
install=1

usage() {
    cat <<EOF
usage: sudo lab/capture.sh [options]

  -o DIR           output folder (default lab/corpus); replaced only when the run succeeds
  --reps N         captures per (service, rtt, loss) (default $reps); every fifth capture
                   of a service, in run order, goes to the test split
  --services LIST  space-separated, from: $services
  --rtts LIST      round-trip times, e.g. "10ms 50ms 200ms" (default "$rtts")
  --losses LIST    loss per direction, e.g. "0% 1%" (default "$losses")
  --snaplen N      bytes kept per packet (default $snaplen: every header and the first 64
                   payload bytes, what `dataset --payload` can keep; 96: headers only; 0: all)
  --rate BPS       link rate in bit/s, each direction (default $rate_bps)
  --seed N         seed of the link's loss and jitter draws (default $seed)
  --quick          reduced run for checks: --reps 5 --rtts 50ms --losses "0% 1%"
  --no-install     do not apt-get install missing programs
EOF
}

while [ $# -gt 0 ]; do
    case $1 in
    -o) out=$2; shift 2 ;;
    --reps) reps=$2; shift 2 ;;
    --services) services=$2; shift 2 ;;
    --rtts) rtts=$2; shift 2 ;;
    --losses) losses=$2; shift 2 ;;
    --snaplen) snaplen=$2; shift 2 ;;
    --rate) rate_bps=$2; shift 2 ;;
    --seed) seed=$2; shift 2 ;;
    --quick) reps=5; rtts=50ms; losses="0% 1%"; shift ;;
    --no-install) install=0; shift ;;
    -h|--help) usage; exit 0 ;;
    *) echo "capture.sh: unknown option $1" >&2; usage >&2; exit 2 ;;
    esac
done

die() { echo "capture.sh: $*" >&2; exit 1; }
[ "$(id -u)" -eq 0 ] || die "run as root (it creates network namespaces)"
# ssh reads -F /dev/null as its configuration: a /dev/null that some program replaced
# with a regular file (a rename over it) breaks every ssh and scp of the run.
[ -c /dev/null ] || die "/dev/null is not the null device (restore it: rm /dev/null; mknod -m 666 /dev/null c 1 3)"
for s in $services; do
    case " web download https ssh dns ntp ping iperf-tcp iperf-udp mqtt " in
    *" $s "*) ;;
    *) die "unknown service $s" ;;
    esac
done

# ---- software ---------------------------------------------------------------------
# Debian packages, installed without starting their system services (a temporary
# policy-rc.d): the lab starts its own copies inside the namespaces.
need="ip:iproute2 tc:iproute2 ethtool:ethtool tcpdump:tcpdump cc:gcc nginx:nginx-light
  sshd:openssh-server ssh:openssh-client ssh-keygen:openssh-client dnsmasq:dnsmasq-base
  dig:bind9-dnsutils chronyd:chrony iperf3:iperf3 mosquitto:mosquitto
  mosquitto_pub:mosquitto-clients ping:iputils-ping curl:curl wget:wget openssl:openssl
  timeout:coreutils"
PATH=$PATH:/usr/sbin:/sbin
missing=""
for pair in $need; do
    command -v "${pair%%:*}" >/dev/null 2>&1 || missing="$missing ${pair#*:}"
done
if [ -n "$missing" ]; then
    [ "$install" = 1 ] || die "missing packages:$missing (run without --no-install)"
    echo "capture.sh: installing$missing"
    made_policy=0
    if [ ! -e /usr/sbin/policy-rc.d ]; then
        printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d && chmod 755 /usr/sbin/policy-rc.d && made_policy=1
    fi
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq || true
    # shellcheck disable=SC2086
    apt-get install -y -qq --no-install-recommends $missing >/dev/null
    [ "$made_policy" = 1 ] && rm -f /usr/sbin/policy-rc.d
fi

# ---- the lab ------------------------------------------------------------------------
tag=nslab$$
NC=${tag}c; NL=${tag}l; NS=${tag}s           # client, link, server namespaces
CIP=10.77.0.20; SIP=10.77.0.10; SIP2=10.77.0.11   # SIP2: a second server address
CMAC=02:00:0a:4d:00:14; SMAC=02:00:0a:4d:00:0a
W=$(mktemp -d /tmp/nslab.XXXXXX)
chmod 755 "$W"
tmp_out="$out.tmp.$$"
pids=""
linkem_pid=""
tp=""

cleanup() {
    set +e
    [ -n "$tp" ] && kill "$tp" 2>/dev/null && wait "$tp" 2>/dev/null
    [ -n "$linkem_pid" ] && kill "$linkem_pid" 2>/dev/null && wait "$linkem_pid" 2>/dev/null
    for p in $pids; do kill "$p" 2>/dev/null; done
    for p in $pids; do wait "$p" 2>/dev/null; done
    for n in $NC $NL $NS; do ip netns del "$n" 2>/dev/null; done
    rm -rf "$W" "$tmp_out"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

inc() { ip netns exec "$NC" "$@"; }   # run in the client namespace
ins() { ip netns exec "$NS" "$@"; }   # run in the server namespace

cc -O2 -std=c11 -Wall -Wextra -o "$W/linkem" "$here/linkem.c" || die "cannot build lab/linkem.c"

for n in $NC $NL $NS; do
    ip netns add "$n"
    ip netns exec "$n" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1
    ip -n "$n" link set lo up
done
ip link add eth0 netns "$NC" type veth peer name pc netns "$NL"
ip link add eth0 netns "$NS" type veth peer name ps netns "$NL"
ip -n "$NC" link set eth0 address $CMAC
ip -n "$NS" link set eth0 address $SMAC
# Real frames only: no checksum offload (captures carry true checksums), no
# segmentation or coalescing (every frame fits the 1500-byte MTU).
for spec in "$NC eth0" "$NS eth0" "$NL pc" "$NL ps"; do
    set -- $spec
    for f in rx tx tso gso gro; do ip netns exec "$1" ethtool -K "$2" "$f" off >/dev/null 2>&1 || true; done
    ip -n "$1" link set "$2" up
done
ip -n "$NC" addr add $CIP/24 dev eth0
ip -n "$NS" addr add $SIP/24 dev eth0
ip -n "$NS" addr add $SIP2/24 dev eth0
# Fixed neighbours: no ARP in the captures, the same first packet every run.
ip -n "$NC" neigh replace $SIP lladdr $SMAC dev eth0 nud permanent
ip -n "$NC" neigh replace $SIP2 lladdr $SMAC dev eth0 nud permanent
ip -n "$NS" neigh replace $CIP lladdr $CMAC dev eth0 nud permanent

# ---- servers, with fixed content ---------------------------------------------------
mkdir -p "$W/www/api" "$W/www/files" /run/sshd
text() { awk -v n="$1" -v w="$2" 'BEGIN { for (i = 1; i <= n; i++) printf "%s line %05d lorem ipsum dolor sit amet consectetur\n", w, i }'; }
{ echo "<!doctype html><html><head><title>lab</title><link rel=stylesheet href=style.css></head><body>"
  text 120 index; echo "<script src=app.js></script></body></html>"; } >"$W/www/index.html"
text 60 style >"$W/www/style.css"
text 180 app >"$W/www/app.js"
text 300 news >"$W/www/news.html"
printf '{"status":"ok","sensors":4,"uptime":86400,"firmware":"1.2.3"}\n' >"$W/www/api/status.json"
text 2300 blob >"$W/www/files/blob-128k.bin"
text 580 blob >"$W/www/files/blob-32k.bin"
text 250 upload >"$W/upload.txt"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 30 -subj /CN=www.lab \
    -keyout "$W/tls.key" -out "$W/tls.crt" 2>/dev/null
cat >"$W/nginx.conf" <<EOF
daemon off;
worker_processes 1;
pid $W/nginx.pid;
error_log $W/nginx.err;
events { worker_connections 64; }
http {
    access_log off;
    types { text/html html; text/css css; application/javascript js; application/json json; }
    default_type application/octet-stream;
    keepalive_timeout 5;
    server {
        listen $SIP:80;
        listen $SIP:443 ssl;
        ssl_certificate $W/tls.crt;
        ssl_certificate_key $W/tls.key;
        root $W/www;
    }
}
EOF
ssh-keygen -q -t ed25519 -N '' -f "$W/host_key"
ssh-keygen -q -t ed25519 -N '' -f "$W/id_client"
cp "$W/id_client.pub" "$W/authorized_keys"
cat >"$W/sshd_config" <<EOF
ListenAddress $SIP
HostKey $W/host_key
PidFile $W/sshd.pid
AuthorizedKeysFile $W/authorized_keys
PermitRootLogin prohibit-password
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
StrictModes no
UseDNS no
PrintMotd no
PrintLastLog no
Subsystem sftp internal-sftp
EOF
cat >"$W/dnsmasq.conf" <<EOF
port=53
listen-address=$SIP
bind-interfaces
no-resolv
no-hosts
local=/lab/
address=/www.lab/$SIP
host-record=mail.lab,$SIP2
host-record=broker.lab,$SIP
host-record=ntp.lab,$SIP
mx-host=lab,mail.lab,10
txt-record=www.lab,"v=lab1 site"
pid-file=$W/dnsmasq.pid
EOF
cat >"$W/chrony.conf" <<EOF
local stratum 8
allow all
bindaddress $SIP
cmdport 0
pidfile $W/chronyd.pid
EOF
cat >"$W/mosquitto.conf" <<EOF
listener 1883 $SIP
allow_anonymous true
persistence false
log_dest none
EOF

start_server() {  # name, command...
    local name=$1; shift
    ip netns exec "$NS" "$@" >"$W/$name.log" 2>&1 &   # $! is the server itself
    pids="$pids $!"
}
start_server nginx nginx -c "$W/nginx.conf"
start_server sshd "$(command -v sshd)" -D -f "$W/sshd_config" -E "$W/sshd.log"
start_server dnsmasq dnsmasq -k -C "$W/dnsmasq.conf"
start_server chronyd chronyd -d -x -u root -f "$W/chrony.conf"
start_server iperf3 iperf3 -s -B $SIP
start_server mosquitto mosquitto -c "$W/mosquitto.conf"
ready=0
for _ in $(seq 50); do
    if ins sh -c "ss -Hltn | grep -q ':80 ' && ss -Hltn | grep -q ':22 ' && ss -Hltn | grep -q ':1883 ' \
                  && ss -Hltn | grep -q ':5201 ' && ss -Hlun | grep -q ':53 ' && ss -Hlun | grep -q ':123 '"; then
        ready=1; break
    fi
    sleep 0.2
done
[ "$ready" = 1 ] || { tail -n 3 "$W"/*.log >&2; die "servers did not start"; }

# ---- the link ------------------------------------------------------------------------
ms() { local v=${1%ms}; case $v in *[!0-9]*|"") die "bad rtt $1 (want e.g. 50ms)" ;; esac; echo "$v"; }
pct() { local v=${1%\%}; case $v in *[!0-9.]*|"") die "bad loss $1 (want e.g. 1%)" ;; esac; echo "$v"; }
set_link() {  # rtt_ms loss_pct seed
    if [ -n "$linkem_pid" ]; then kill "$linkem_pid"; wait "$linkem_pid" 2>/dev/null || true; fi
    local one_way=$(( $1 * 500 ))   # microseconds
    local rt=""
    command -v chrt >/dev/null && rt="chrt -f 10"   # prompt forwarding even on a busy machine
    # shellcheck disable=SC2086
    ip netns exec "$NL" $rt "$W/linkem" pc ps $one_way $(( one_way / 10 )) "$2" "$rate_bps" "$3" 1000 \
        2>>"$W/linkem.log" &
    linkem_pid=$!
    sleep 0.2
    kill -0 "$linkem_pid" 2>/dev/null || { cat "$W/linkem.log" >&2; die "link emulator failed"; }
}

# ---- the services' clients ---------------------------------------------------------
T="timeout 60"
SSH_OPTS="-F /dev/null -i $W/id_client -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null
  -o BatchMode=yes -o LogLevel=ERROR -o ConnectTimeout=30"
warn() { echo "capture.sh: warning: $*" >&2; }
type_slowly() {  # a person typing: one write per key
    local s=$1 i
    for ((i = 0; i < ${#s}; i++)); do printf '%s' "${s:i:1}"; sleep 0.08; done
}
svc_web() {
    inc $T curl -s -o /dev/null -o /dev/null -o /dev/null "http://$SIP/index.html" "http://$SIP/style.css" \
        "http://$SIP/app.js" || warn "web: curl page"
    inc $T wget -q -O /dev/null -T 20 -t 3 "http://$SIP/news.html" || warn "web: wget"
    inc $T curl -s -o /dev/null -H 'Accept: application/json' "http://$SIP/api/status.json" || warn "web: curl api"
}
svc_download() {
    inc $T curl -s -o /dev/null "http://$SIP/files/blob-128k.bin" || warn "download: curl"
    inc $T wget -q -O /dev/null -T 20 -t 3 "http://$SIP/files/blob-32k.bin" || warn "download: wget"
}
svc_https() {
    inc $T curl -sk -o /dev/null -o /dev/null "https://$SIP/index.html" "https://$SIP/style.css" || warn "https: page"
    inc $T curl -sk -o /dev/null -H 'Accept: application/json' "https://$SIP/api/status.json" || warn "https: api"
}
svc_ssh() {
    # shellcheck disable=SC2086
    { sleep 1; type_slowly $'ls /etc | head -3\n'; sleep 0.5; type_slowly $'uptime\n'; sleep 0.5; printf 'exit\n'; } |
        inc $T ssh -tt $SSH_OPTS root@$SIP >/dev/null 2>&1 || warn "ssh: interactive"
    # shellcheck disable=SC2086
    inc $T ssh $SSH_OPTS root@$SIP 'uname -sr; cat /proc/loadavg' >/dev/null || warn "ssh: command"
    # shellcheck disable=SC2086
    inc $T scp -O -q $SSH_OPTS "$W/upload.txt" root@$SIP:"$W/uploaded.txt" || warn "ssh: scp"
}
svc_dns() {
    local q
    for q in "www.lab A" "mail.lab A" "lab MX" "www.lab TXT" "broker.lab A" "nosuch.lab A"; do
        # shellcheck disable=SC2086
        inc $T dig @$SIP +time=2 +tries=3 +noall +answer $q >/dev/null || warn "dns: $q"
    done
    inc $T dig @$SIP +tcp +time=2 +tries=3 +noall +answer www.lab A >/dev/null || warn "dns: tcp"
}
svc_ntp() {
    inc $T chronyd -Q -u root -t 30 "pidfile $W/chrony-client.pid" "server $SIP iburst maxsamples 4" \
        >/dev/null 2>&1 || warn "ntp: chronyd -Q"
}
svc_ping() {
    # two hosts (ICMP flows are per address pair); lost echoes make ping exit 1
    inc $T ping -n -q -c 6 -i 0.2 -s 56 $SIP >/dev/null || true
    inc $T ping -n -q -c 4 -i 0.2 -s 1000 $SIP2 >/dev/null || true
}
svc_iperf-tcp() {
    inc $T iperf3 -c $SIP -t 1.5 -b 600K -l 8K --connect-timeout 20000 >/dev/null || warn "iperf-tcp"
}
svc_iperf-udp() {
    inc $T iperf3 -c $SIP -u -t 1.5 -b 400K -l 800 --connect-timeout 20000 >/dev/null || warn "iperf-udp"
}
svc_mqtt() {
    ip netns exec "$NC" $T mosquitto_sub -h $SIP -t 'lab/#' -q 1 -C 6 -W 30 -i dashboard >/dev/null &
    local sub=$!
    sleep "$(awk -v r="$1" 'BEGIN { printf "%.2f", 0.4 + 4 * r / 1000 }')"   # subscribed by now
    local i
    for i in 1 2 3 4 5; do printf '{"sensor":"s1","seq":%d,"temp":2%d.5,"hum":4%d}\n' $i $i $i; sleep 0.3; done |
        inc $T mosquitto_pub -h $SIP -t lab/s1/telemetry -q 1 -l -i sensor1 || warn "mqtt: pub telemetry"
    inc $T mosquitto_pub -h $SIP -t lab/s2/status -q 1 -m online -i sensor2 || warn "mqtt: pub status"
    wait "$sub" || warn "mqtt: subscriber"
}

# What each service's capture keeps: its own ports only, so that a late packet of the
# previous capture's connections (a retransmitted FIN under loss) cannot land in it.
filter_of() {
    case $1 in
    web|download) echo "tcp port 80" ;;
    https) echo "tcp port 443" ;;
    ssh) echo "tcp port 22" ;;
    dns) echo "port 53" ;;
    ntp) echo "udp port 123" ;;
    ping) echo "icmp" ;;
    iperf-tcp|iperf-udp) echo "port 5201" ;;
    mqtt) echo "tcp port 1883" ;;
    esac
}
# Wait (at most 5 s) until no TCP connection is still closing on either side.
settle() {
    local i n
    for i in $(seq 50); do
        n=$( { inc ss -Htn state established state syn-sent state syn-recv state fin-wait-1 state fin-wait-2 \
                   state close-wait state last-ack state closing
               ins ss -Htn state established state syn-sent state syn-recv state fin-wait-1 state fin-wait-2 \
                   state close-wait state last-ack state closing; } | wc -l)
        [ "$n" -eq 0 ] && return 0
        sleep 0.1
    done
}

capture() {  # file rtt_ms service
    local file=$1 r=$2 svc=$3
    : >"$W/tcpdump.err"
    ip netns exec "$NC" tcpdump -i eth0 -n -U --immediate-mode -s "$snaplen" -Z root -w "$file" \
        "$(filter_of "$svc")" 2>"$W/tcpdump.err" &
    tp=$!
    local i
    for i in $(seq 100); do grep -q 'listening on' "$W/tcpdump.err" && break; sleep 0.05; done
    grep -q 'listening on' "$W/tcpdump.err" || die "tcpdump did not start: $(cat "$W/tcpdump.err")"
    sleep 0.1
    "svc_$svc" "$r"
    settle
    sleep "$(awk -v r="$r" 'BEGIN { printf "%.2f", 0.3 + 2 * r / 1000 }')"   # the last packets land
    kill -INT "$tp"
    wait "$tp" || true
    tp=""
}

# ---- the run ---------------------------------------------------------------------------
rm -rf "$tmp_out"
mkdir -p "$tmp_out/pcaps"
printf 'path\tapp\trtt\tloss\tsplit\n' >"$tmp_out/labels.tsv"
start=$(date +%s)
n_run=0
for svc in $services; do
    mkdir -p "$tmp_out/pcaps/$svc"
    k=0
    for rtt in $rtts; do
        r=$(ms "$rtt")
        for loss in $losses; do
            l=$(pct "$loss")
            for rep in $(seq "$reps"); do
                k=$((k + 1)); n_run=$((n_run + 1))
                set_link "$r" "$l" $(( seed * 100000 + n_run ))
                name="pcaps/$svc/$svc-rtt${r}ms-loss${l/./p}-$rep.pcap"
                capture "$tmp_out/$name" "$r" "$svc"
                split=train; [ $((k % 5)) -eq 0 ] && split=test
                printf '%s\t%s\t%s\t%s\t%s\n' "$name" "$svc" "$rtt" "$loss" "$split" >>"$tmp_out/labels.tsv"
                printf 'capture.sh: %-50s %7d bytes (%ds)\n' "$name" "$(stat -c %s "$tmp_out/$name")" \
                    $(( $(date +%s) - start ))
            done
        done
    done
done
# Headers take at most 94 bytes here: Ethernet 14, IPv4 20 (the lab sends no IP options),
# TCP 60 with every option; what the snapshot keeps past them is payload.
if [ "$snaplen" -eq 0 ]; then kept="whole packets"
elif [ "$snaplen" -le 94 ]; then kept="headers only"
else kept="headers and at least the first $((snaplen - 94)) payload bytes"
fi
cat >"$tmp_out/README.md" <<EOF
# netsynth lab corpus

Made by \`lab/capture.sh\` (see \`lab/README.md\`): real Debian 12 servers and clients in
network namespaces joined by a shaped link, captured with tcpdump at the client.

- services: $services
- rtt: $rtts; loss (per direction): $losses; link rate $rate_bps bit/s; jitter 10% of the one-way delay
- $reps captures per (service, rtt, loss); every fifth capture of a service, in run order, is \`test\`
- snapshot length $snaplen bytes ($kept); link seed $seed
- \`labels.tsv\`: \`path app rtt loss split\` (\`app\` is the service), paths relative to this folder
EOF
rm -rf "$out"
mv "$tmp_out" "$out"
echo "capture.sh: $n_run captures, $(du -sk "$out" | cut -f1) KB in $out ($(( $(date +%s) - start )) s)"
