/* test_repair.c: generated rows -> valid packets (repair.h), and the hard
 * constraints of generate (--fix).
 *
 * Rows are built here with one kind of inconsistency each, repaired, and
 * the packets parsed back (packet.h) and checked: lengths, checksums,
 * options, the 5-tuple and address plan, TCP state (handshake, sequence and
 * acknowledgement numbers, flags, nothing after RST) and time. A property
 * test repairs 2000 random ternary matrices (a fixed seed) and checks every
 * packet the same way. A tiny model trained here shows that --fix values
 * hold in every generated row and packet. */
#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "netsynth/bytes.h"
#include "netsynth/capture.h"
#include "netsynth/dataset.h"
#include "netsynth/error.h"
#include "netsynth/fileio.h"
#include "netsynth/gen_write.h"
#include "netsynth/generate.h"
#include "netsynth/modelfile.h"
#include "netsynth/nprint.h"
#include "netsynth/packet.h"
#include "netsynth/repair.h"
#include "netsynth/rng.h"
#include "netsynth/train.h"

#include <pcap/dlt.h>

enum {
    W = NS_NP_MODEL_WIDTH, MAXR = 64,
    FIN = 0x01, SYN = 0x02, RST = 0x04, PSH = 0x08, ACK = 0x10, URG = 0x20,
};

/* ------------------------------------------------------------------ rows */

/* An IPv4 row with no options: version 4, IHL 5, total length tl, DF, TTL 64,
 * a wrong checksum; every transport absent. */
static void ip_row(int8_t *row, int proto, int tl)
{
    memset(row, -1, W);
    ns_nprint_put(row, NS_NPF_IPV4_VER, 4), ns_nprint_put(row, NS_NPF_IPV4_HL, 5);
    ns_nprint_put(row, NS_NPF_IPV4_TOS, 0), ns_nprint_put(row, NS_NPF_IPV4_TL, (uint64_t)tl);
    ns_nprint_put(row, NS_NPF_IPV4_ID, 0x1234), ns_nprint_bits_put(row, NS_NP_COL_IPV4_RBIT, 3, 2);
    ns_nprint_put(row, NS_NPF_IPV4_FOFF, 0);
    ns_nprint_put(row, NS_NPF_IPV4_TTL, 64), ns_nprint_put(row, NS_NPF_IPV4_PROTO, (uint64_t)proto);
    ns_nprint_put(row, NS_NPF_IPV4_CKSUM, 0xdead);
    ns_nprint_bits_put(row, NS_NP_COL_IPV4_SRC, 64, 0);
}

static void ip_options(int8_t *row, const uint8_t *opt, int n)
{
    for (int i = 0; i < n; i++) ns_nprint_bits_put(row, NS_NP_COL_IPV4_OPT + 8 * i, 8, opt[i]);
    ns_nprint_put(row, NS_NPF_IPV4_HL, (uint64_t)(5 + (n + 3) / 4));
}

/* TCP with data offset 5 and no options; payload bytes follow from the IP length. */
static void tcp_row(int8_t *row, int payload, uint16_t sp, uint16_t dp, uint32_t seq, uint32_t ack, int flags)
{
    ip_row(row, 6, 40 + payload);
    ns_nprint_put(row, NS_NPF_TCP_SPRT, sp), ns_nprint_put(row, NS_NPF_TCP_DPRT, dp);
    ns_nprint_put(row, NS_NPF_TCP_SEQ, seq), ns_nprint_put(row, NS_NPF_TCP_ACKN, ack);
    ns_nprint_put(row, NS_NPF_TCP_DOFF, 5), ns_nprint_put(row, NS_NPF_TCP_RES, 0);
    ns_nprint_bits_put(row, NS_NP_COL_TCP_NS, 9, (uint64_t)flags);   /* NS and the flag byte */
    ns_nprint_put(row, NS_NPF_TCP_WSIZE, 29200), ns_nprint_put(row, NS_NPF_TCP_CKSUM, 0xbeef);
    ns_nprint_put(row, NS_NPF_TCP_URP, 0);
}

static void tcp_options(int8_t *row, const uint8_t *opt, int n)
{
    for (int i = 0; i < n; i++) ns_nprint_bits_put(row, NS_NP_COL_TCP_OPT + 8 * i, 8, opt[i]);
    int doff = 5 + (n + 3) / 4;
    ns_nprint_put(row, NS_NPF_TCP_DOFF, (uint64_t)doff);
    ns_nprint_put(row, NS_NPF_IPV4_TL, ns_nprint_get(row, NS_NPF_IPV4_TL) + (uint32_t)(doff - 5) * 4);
}

static void udp_row(int8_t *row, int payload, uint16_t sp, uint16_t dp)
{
    ip_row(row, 17, 28 + payload);
    ns_nprint_put(row, NS_NPF_UDP_SPORT, sp), ns_nprint_put(row, NS_NPF_UDP_DPORT, dp);
    ns_nprint_put(row, NS_NPF_UDP_LEN, (uint64_t)(8 + payload));
    ns_nprint_put(row, NS_NPF_UDP_CKSUM, 0x1111);
}

static void icmp_row(int8_t *row, int payload, int type, uint32_t roh)
{
    ip_row(row, 1, 28 + payload);
    ns_nprint_put(row, NS_NPF_ICMP_TYPE, (uint64_t)type), ns_nprint_put(row, NS_NPF_ICMP_CODE, 0);
    ns_nprint_put(row, NS_NPF_ICMP_CKSUM, 0x2222);
    ns_nprint_put(row, NS_NPF_ICMP_ROH, roh);
}

/* The same row as IPv6: the IPv4 header turned into an IPv6 one (payload
 * length, next header, ICMP as ICMPv6 58, hop limit 64, traffic class and
 * flow label fl), addresses absent as datasets blank them. */
static void to_ipv6(int8_t *row, uint32_t fl)
{
    uint64_t tl = ns_nprint_get(row, NS_NPF_IPV4_TL), proto = ns_nprint_get(row, NS_NPF_IPV4_PROTO);
    uint64_t ihl = 4 * ns_nprint_get(row, NS_NPF_IPV4_HL);
    memset(row + NS_NP_COL_IPV4, -1, NS_NP_BITS_IPV4);
    ns_nprint_put(row, NS_NPF_IPV6_VER, 6), ns_nprint_put(row, NS_NPF_IPV6_TC, 0);
    ns_nprint_put(row, NS_NPF_IPV6_FL, fl), ns_nprint_put(row, NS_NPF_IPV6_LEN, tl > ihl ? tl - ihl : 0);
    ns_nprint_put(row, NS_NPF_IPV6_NH, proto == 1 ? 58 : proto), ns_nprint_put(row, NS_NPF_IPV6_HL, 64);
}

/* A flow under construction. */
typedef struct tflow {
    size_t n;
    int8_t rows[MAXR * W];
    uint8_t dir[MAXR];
    int64_t iat[MAXR];
} tflow;

static int8_t *add(tflow *f, int dir, int64_t iat_ns)
{
    assert_true(f->n < MAXR);
    f->dir[f->n] = (uint8_t)dir;
    f->iat[f->n] = iat_ns;
    return f->rows + W * f->n++;
}

/* Client port 50000's handshake with server port `port`, 1 us apart: SYN
 * (seq 1), SYN-ACK (seq 9), ACK. */
static void handshake(tflow *f, uint16_t port)
{
    tcp_row(add(f, 0, 0), 0, 50000, port, 1, 0, SYN);
    tcp_row(add(f, 1, 1000), 0, port, 50000, 9, 2, SYN | ACK);
    tcp_row(add(f, 0, 1000), 0, 50000, port, 2, 10, ACK);
}

/* f repaired whole into *whole with o (o->window set), then in parts of
 * o->window rows as generate streams it: the same bytes, or the test fails. */
static void repair_streamed(const ns_repair_opts *o, const tflow *f, ns_repair_out *whole)
{
    ns_repair_out parts = {0};
    assert_int_equal(ns_repair_flow(o, 0, f->rows, f->dir, f->iat, f->n, whole, NULL), NS_OK);
    ns_repair_cont c;
    memset(&c, 0, sizeof c);
    c.total = f->n;
    size_t w = (size_t)o->window;
    for (size_t at = 0; at < f->n; at += w)
        assert_int_equal(ns_repair_flow_part(o, 0, f->rows + at * W, f->dir + at, f->iat + at, f->n - at < w ? f->n - at : w,
                                             &c, &parts, NULL), NS_OK);
    assert_int_equal(whole->n_pkts, parts.n_pkts), assert_int_equal(whole->n_bytes, parts.n_bytes);
    assert_memory_equal(whole->bytes, parts.bytes, whole->n_bytes);
    ns_repair_out_free(&parts);
}

/* -------------------------------------------------------------- checking */

/* One repaired packet as parsed back. */
typedef struct pk {
    ns_packet p;
    int64_t ts;
    uint32_t flow;
    uint32_t src, dst, seq, ack, tsval, tsecr;
    uint16_t sport, dport, win, urp, total;
    uint8_t ttl, proto, flags, doff, type, code;
    size_t payload;
    unsigned opts;          /* 1 << kind of each TCP option */
    uint8_t ipopts;         /* IPv4 option bytes */
    int v6;                 /* IPv6: src and dst are its addresses' last 32 bits */
    int nd;                 /* neighbour discovery or MLD: src is the sender's MAC's 32 bits (0: unknown), dst 0 */
    uint32_t fl;            /* IPv6 flow label */
} pk;

static uint16_t be16(ns_bytes b, size_t off)
{
    uint16_t v = 0;
    assert_true(ns_get_be16(b, off, &v));
    return v;
}

static uint32_t be32(ns_bytes b, size_t off)
{
    uint32_t v = 0;
    assert_true(ns_get_be32(b, off, &v));
    return v;
}

static uint8_t u8(ns_bytes b, size_t off)
{
    uint8_t v = 0;
    assert_true(ns_get_u8(b, off, &v));
    return v;
}

static int is_group(const uint8_t *a, uint8_t last) { static const uint8_t g[15] = {0xff, 0x02}; return !memcmp(a, g, 15) && a[15] == last; }

/* The link-local address of the host whose MAC is 02:00 + these 32 bits: fe80:: and the modified EUI-64. */
static void link_local_of(uint32_t host, uint8_t out[16])
{
    static const uint8_t pre[13] = {0xfe, 0x80, [10] = 0, [11] = 0xff, [12] = 0xfe};
    memcpy(out, pre, 13), out[10] = (uint8_t)(host >> 24);
    out[13] = (uint8_t)(host >> 16), out[14] = (uint8_t)(host >> 8), out[15] = (uint8_t)host;
}

/* An ICMPv6 message as a dissector wants it: echo, or neighbour discovery
 * (hop limit 255, fixed fields, options of whole 8-byte units that fill the
 * message, a link-layer address option of the sender's MAC) or an MLDv2
 * report (hop limit 1, its records exactly), written between the addresses
 * the protocols use (RFC 4861, RFC 3810): the sender's link-local address
 * (:: for duplicate address detection, which carries no option) to
 * ff02::2, ff02::1, the target's solicited-node group, ff02::16; the
 * Ethernet destination 33:33 + the group's last 32 bits (eth NULL: raw IP).
 * v->src: the sender's 32 host bits (its MAC's). */
static void check_icmp6(const pk *v, ns_bytes ip, size_t len, const uint8_t *eth)
{
    ns_bytes m = {ip.data + 40, len};
    const uint8_t *src = ip.data + 8, *dst = ip.data + 24;
    uint8_t ll[16], zero[16] = {0};
    link_local_of(v->src, ll);
    size_t opts = 0;
    switch (v->type) {
    case 128: case 129: return;
    case 133: opts = 8; assert_int_equal(be32(m, 4), 0); assert_true(is_group(dst, 2)); break;
    case 134: opts = 16; assert_int_equal(u8(m, 5) & 0x3f, 0); assert_true(is_group(dst, 1)); break;
    case 135: case 136: {
        opts = 24;
        assert_int_equal(be32(m, 4) & (v->type == 135 ? 0xffffffffu : 0x1fffffffu), 0);
        if (v->type == 135) { /* to the target's solicited-node group ff02::1:ffXX:XXXX */
            static const uint8_t sn[13] = {0xff, 0x02, [11] = 0x01, [12] = 0xff};
            assert_memory_equal(dst, sn, 13), assert_memory_equal(dst + 13, m.data + 8 + 13, 3);
            if (!memcmp(src, zero, 16)) { /* DAD: its own tentative address, no option */
                assert_int_equal(len, 24);
                assert_memory_equal(m.data + 8, ll, 16);
                return;
            }
        } else { /* solicited: back to the asker's link-local address; else all nodes */
            if (u8(m, 4) & 0x40) assert_true(dst[0] == 0xfe && dst[1] == 0x80);
            else assert_true(is_group(dst, 1));
        }
        break;
    }
    case 143: {
        assert_int_equal(v->ttl, 1);
        assert_int_equal(be16(m, 4), 0);
        assert_true(is_group(dst, 0x16));
        size_t at = 8;
        for (uint16_t r = be16(m, 6); r; r--) at += 20 + 16u * be16(m, at + 2) + 4u * u8(m, at + 1);
        assert_int_equal(at, len);
        assert_memory_equal(src, ll, 16);
        return;
    }
    default: fail_msg("ICMPv6 type %u written", v->type);
    }
    assert_memory_equal(src, ll, 16);
    if (eth && dst[0] == 0xff) assert_true(eth[0] == 0x33 && eth[1] == 0x33 && !memcmp(eth + 2, dst + 12, 4));
    assert_int_equal(v->ttl, 255);
    assert_true(len > opts);
    while (opts < len) {
        uint8_t type = u8(m, opts), units = u8(m, opts + 1);
        assert_true(units > 0 && opts + 8u * units <= len);
        if (type == 1 || type == 2) assert_int_equal(be32(m, opts + 4), v->src);   /* 02:00 + the host's 32 bits */
        opts += 8u * units;
    }
}

/* Parse packet i of out and check everything a single packet must be. */
static void check_packet(const ns_repair_out *out, size_t i, int linktype, pk *v)
{
    const ns_repair_pkt *r = &out->pkts[i];
    memset(v, 0, sizeof *v);
    v->ts = r->ts_ns, v->flow = r->flow;
    int dlt = linktype == NS_LINKTYPE_ETHERNET ? DLT_EN10MB : DLT_RAW;
    assert_int_equal(ns_packet_parse(&v->p, dlt, out->bytes + r->off, r->len), NS_SKIP_NONE);
    const ns_packet *p = &v->p;
    ns_bytes ip = p->ip, l4 = p->l4;
    if (p->ip_version == 6) { /* 2001:db8:: + the host's 32 bits, no extension headers */
        static const uint8_t doc[12] = {0x20, 0x01, 0x0d, 0xb8};
        v->v6 = 1;
        assert_int_equal(u8(ip, 0) >> 4, 6);
        v->fl = be32(ip, 0) & 0xfffff;
        assert_int_equal(40 + be16(ip, 4), p->net.len);
        uint8_t nh = u8(ip, 6);
        assert_true(nh == 6 || nh == 17 || nh == 58);
        v->proto = nh == 58 ? 1 : nh, v->ttl = u8(ip, 7);
        assert_true(v->ttl > 0);
        uint8_t t6 = nh == 58 ? u8(l4, 0) : 0;
        v->nd = (t6 >= 133 && t6 <= 136) || t6 == 143;
        if (v->nd) { /* link-local and group addresses (check_icmp6); the sender by its MAC or interface id */
            v->src = linktype == NS_LINKTYPE_ETHERNET ? be32(p->eth, 8)
                     : u8(ip, 8) == 0xfe ? (uint32_t)u8(ip, 18) << 24 | (be32(ip, 20) & 0xffffff) : 0;
        } else {
            assert_memory_equal(ip.data + 8, doc, 12), assert_memory_equal(ip.data + 24, doc, 12);
            v->src = be32(ip, 20), v->dst = be32(ip, 36);
        }
        v->total = (uint16_t)p->net.len;
        size_t l4_len = v->total - 40u;
        assert_int_equal(l4.data, ip.data + 40);
        assert_int_equal(ns_l4_checksum_ipv6(ip.data, nh, l4.data, l4_len), be16(l4, nh == 6 ? 16 : nh == 17 ? 6 : 2));
        /* The pseudo-header sum with the checksum in place folds to all ones. */
        uint32_t sum = ns_inet_sum(0, ip.data + 8, 32) + (uint32_t)l4_len + nh;
        assert_int_equal(ns_inet_fold(ns_inet_sum(sum, l4.data, l4_len)), 0xffff);
        v->payload = p->payload.len;
        assert_int_equal(l4.len + v->payload, l4_len);
        if (v->proto == 1) {
            v->type = u8(l4, 0);
            assert_int_equal(u8(l4, 1), 0);
            if (v->src) check_icmp6(v, ip, l4_len, linktype == NS_LINKTYPE_ETHERNET ? p->eth.data : NULL);
        } else if (v->proto == 17) {
            v->sport = be16(l4, 0), v->dport = be16(l4, 2);
            assert_int_equal(be16(l4, 4), l4_len);
            assert_int_not_equal(be16(l4, 6), 0);   /* mandatory over IPv6 */
        } else {
            v->sport = be16(l4, 0), v->dport = be16(l4, 2), v->seq = be32(l4, 4), v->ack = be32(l4, 8);
            v->doff = u8(l4, 12) >> 4, v->flags = u8(l4, 13), v->win = be16(l4, 14), v->urp = be16(l4, 18);
            assert_int_equal(v->doff * 4u, l4.len);
            for (size_t k = 20; k < l4.len;) {
                uint8_t kind = u8(l4, k);
                if (kind == 0) break;
                v->opts |= 1u << kind;
                if (kind == 1) { k++; continue; }
                if (kind == 8) v->tsval = be32(l4, k + 2), v->tsecr = be32(l4, k + 6);
                k += u8(l4, k + 1);
            }
        }
        if (linktype == NS_LINKTYPE_ETHERNET) {
            assert_int_equal(be16(p->eth, 12), 0x86dd);
            if (!v->nd) assert_int_equal(be32(p->eth, 2), v->dst);
            assert_int_equal(be32(p->eth, 8), v->src);
        }
        return;
    }
    assert_int_equal(p->ip_version, 4);
    size_t ihl = (size_t)(u8(ip, 0) & 15) * 4;
    assert_int_equal(u8(ip, 0) >> 4, 4);
    assert_int_equal(ihl, ip.len);
    v->total = be16(ip, 2);
    assert_int_equal(v->total, p->net.len);                 /* the whole packet, nothing more */
    assert_int_equal(be16(ip, 10), ns_ipv4_header_checksum(ip.data, ihl));
    assert_int_equal(be16(ip, 6) & 0xbfff, 0);             /* no reserved bit, MF, offset */
    v->ttl = u8(ip, 8), v->proto = u8(ip, 9);
    assert_true(v->ttl > 0);
    v->src = be32(ip, 12), v->dst = be32(ip, 16);
    v->ipopts = (uint8_t)(ihl - 20);
    for (size_t k = 20; k < ihl;) { /* only NOP, EOL, router alert */
        uint8_t kind = u8(ip, k);
        if (kind == 0) break;
        if (kind == 1) { k++; continue; }
        assert_int_equal(kind, 148);
        assert_int_equal(u8(ip, k + 1), 4);
        k += 4;
    }
    size_t l4_len = v->total - ihl;
    assert_int_equal(ns_l4_checksum_ipv4(ip.data, v->proto, l4.data, l4_len),
                     be16(l4, v->proto == 6 ? 16 : v->proto == 17 ? 6 : 2));
    v->payload = p->payload.len;
    assert_int_equal(l4.len + v->payload, l4_len);
    if (v->proto == 6) {
        v->sport = be16(l4, 0), v->dport = be16(l4, 2), v->seq = be32(l4, 4), v->ack = be32(l4, 8);
        v->doff = u8(l4, 12) >> 4, v->flags = u8(l4, 13), v->win = be16(l4, 14), v->urp = be16(l4, 18);
        assert_int_equal(v->doff * 4u, l4.len);
        if (v->flags & PSH) assert_true(v->payload > 0); /* nothing to push: no PSH (issue 14) */
        assert_int_equal(u8(l4, 12) & 0x0e, 0);             /* reserved bits */
        for (size_t k = 20; k < l4.len;) {
            uint8_t kind = u8(l4, k);
            if (kind == 0) break;
            v->opts |= 1u << kind;
            if (kind == 1) { k++; continue; }
            uint8_t len = u8(l4, k + 1);
            assert_true(kind == 2 || kind == 3 || kind == 4 || kind == 8);
            assert_int_equal(len, kind == 2 ? 4 : kind == 3 ? 3 : kind == 4 ? 2 : 10);
            assert_true(k + len <= l4.len);
            if (kind == 3) assert_true(u8(l4, k + 2) <= 14);
            if (kind == 8) v->tsval = be32(l4, k + 2), v->tsecr = be32(l4, k + 6);
            if (kind != 8) assert_true(v->flags & SYN);     /* MSS, WS, SACK-permitted only on SYNs */
            k += len;
        }
        int f = v->flags;
        assert_false((f & SYN) && (f & (FIN | RST)));
        assert_false((f & RST) && (f & (FIN | PSH | URG)));
        if (!(f & ACK)) assert_int_equal(v->ack, 0);
        if (!(f & URG)) assert_int_equal(v->urp, 0);
        else assert_true(v->urp > 0 && v->urp <= v->payload);
        if (f & (SYN | RST)) assert_int_equal(v->payload, 0);
        if (!(f & RST)) assert_int_not_equal(v->win, 0);
    } else if (v->proto == 17) {
        v->sport = be16(l4, 0), v->dport = be16(l4, 2);
        assert_int_equal(be16(l4, 4), l4_len);
    } else {
        assert_int_equal(v->proto, 1);
        v->type = u8(l4, 0), v->code = u8(l4, 1);
        if (v->type == 3 || v->type == 5 || v->type == 11) {
            /* an error (RFC 792) with a code of its type, quoting a UDP datagram from its destination to its sender */
            assert_true(v->code <= (v->type == 3 ? 15 : v->type == 5 ? 3 : 1));
            if (v->type != 5 && !(v->type == 3 && v->code == 4)) assert_int_equal(be32(l4, 4), 0);
            ns_bytes q = p->payload;
            assert_true(q.len >= 28);
            assert_int_equal(u8(q, 0), 0x45), assert_int_equal(be16(q, 2), q.len);
            assert_int_equal(be16(q, 10), ns_ipv4_header_checksum(q.data, 20));
            assert_int_equal(u8(q, 9), 17), assert_int_equal(be16(q, 24), q.len - 20);
            assert_int_equal(be32(q, 12), v->dst), assert_int_equal(be32(q, 16), v->src);
        } else {
            assert_true(v->type == 0 || v->type == 8);
            assert_int_equal(v->code, 0);
        }
    }
    if (linktype == NS_LINKTYPE_ETHERNET && v->dst >> 28 != 14 && v->dst != 0xffffffffu) /* MACs 02:00 + the address */
        assert_int_equal(be16(p->eth, 0), 0x0200), assert_int_equal(be32(p->eth, 2), v->dst);
    if (linktype == NS_LINKTYPE_ETHERNET && v->src) /* (from 0.0.0.0: the host's own, test_group_destinations) */
        assert_int_equal(be16(p->eth, 6), 0x0200), assert_int_equal(be32(p->eth, 8), v->src);
}

/* Per direction, what a flow's packets must continue from. */
typedef struct flow_check {
    int n, proto, fin[2], seen[2], known[2], rst, v6, labelled[2];
    int n_nd;                /* of n, neighbour discovery and MLD packets (pk.nd) */
    int syns;               /* the client's SYNs so far, retransmissions included */
    uint32_t fl[2];
    uint32_t client, server, nxt[2], tsval[2];
    uint16_t cport, sport;
    int has_ts[2];
    int64_t last_ts;
    unsigned syn_opts;       /* the SYN's options (1 << kind) */
    int ts_rule;             /* -1 not known yet, else whether every later segment carries timestamps */
    int acked[2];            /* the direction has sent an ACK: lastack is its latest acknowledgement */
    uint32_t lastack[2];
} flow_check;

/* Check packet v as the next of its flow. */
static void check_in_flow(flow_check *c, const pk *v, const ns_repair_opts *o)
{
    assert_false(c->rst); /* nothing after RST */
    if (c->n) assert_true(v->ts > c->last_ts);
    if (c->n == c->n_nd && !v->nd) {
        c->proto = v->proto;
        uint32_t mask = o->client_prefix ? ~0u << (32 - o->client_prefix) : 0;
        int back = (v->src & mask) != o->client_net;
        c->client = back ? v->dst : v->src, c->server = back ? v->src : v->dst;
        c->cport = back ? v->dport : v->sport, c->sport = back ? v->sport : v->dport;
        c->v6 = v->v6;
        c->ts_rule = -1;
    }
    if (!c->n) c->proto = v->proto, c->v6 = v->v6;
    assert_int_equal(v->v6, c->v6);   /* one IP version per flow */
    c->last_ts = v->ts;
    assert_int_equal(v->proto, c->proto);
    if (v->nd) { /* between link-local and group addresses: the sender is one of the flow's hosts */
        if (v->src && c->n_nd < c->n) assert_true(v->src == c->client || v->src == c->server);
        c->n_nd++, c->n++;
        return;
    }
    int d = v->src == c->server;
    if (v->v6) { /* one flow label per direction */
        if (c->labelled[d]) assert_int_equal(v->fl, c->fl[d]);
        c->fl[d] = v->fl, c->labelled[d] = 1;
    }
    assert_int_equal(d ? v->dst : v->src, c->client);
    assert_int_equal(d ? v->src : v->dst, c->server);
    if (v->proto != 1) {
        assert_int_equal(d ? v->dport : v->sport, c->cport);
        assert_int_equal(d ? v->sport : v->dport, c->sport);
        assert_true(c->cport >= 49152 || c->cport == ns_repair_client_port(v->proto, c->sport));   /* DHCP's 68 */
    }
    if (v->proto == 6) {
        if ((v->flags & SYN) && !(v->flags & ACK)) { /* SYNs open the flow: the first, then its retransmissions */
            assert_int_equal(c->n, c->syns), assert_int_equal(d, 0);
            if (c->syns++) c->nxt[d]--;
        }
        if (c->n == c->syns && c->syns && (v->flags & SYN)) assert_int_equal(d, 1);
        if (!c->known[d]) c->nxt[d] = v->seq, c->known[d] = 1;
        assert_int_equal(v->seq, c->nxt[d]);
        if (v->flags & ACK) {
            /* The peer's data acknowledged but not yet its FIN (repair.h: a close that follows the rows). */
            if (!c->known[!d]) c->nxt[!d] = v->ack, c->known[!d] = 1;
            else if (!(c->fin[!d] && v->ack == c->nxt[!d] - 1)) {
                /* All the peer sent; an empty ACK of a run may stop short (segment by segment),
                 * never before what its side acknowledged already nor past the peer's data. */
                if (v->ack != c->nxt[!d]) {
                    assert_true(!v->payload && !(v->flags & (SYN | FIN | RST)));
                    assert_true((int32_t)(c->nxt[!d] - v->ack) > 0);
                    assert_true(c->acked[d] && (int32_t)(v->ack - c->lastack[d]) > 0);
                }
            }
        } else {
            assert_true((v->flags & RST) || (c->n < c->syns && (v->flags & SYN)));
        }
        if (c->fin[d]) assert_int_equal(v->payload, 0), assert_false(v->flags & FIN);
        /* Options as RFC 7323 and every stack have them: a SYN says its MSS; a
         * SYN-ACK too, with no option the SYN lacked; after the handshake
         * timestamps on every segment when both SYNs carried them, else on
         * none (a flow without a handshake: as its first segment). */
        unsigned ts = 1u << 8, syn_only = 1u << 3 | 1u << 4 | ts;
        if ((v->flags & SYN) && !(v->flags & ACK)) c->syn_opts = v->opts, c->ts_rule = -1;
        if (v->flags & SYN) assert_true(v->opts & 1u << 2);
        if ((v->flags & SYN) && (v->flags & ACK)) {
            assert_int_equal(v->opts & syn_only & ~c->syn_opts, 0);
            c->ts_rule = (c->syn_opts & ts) && (v->opts & ts);
        } else if (!(v->flags & SYN)) {
            if (!c->n) c->ts_rule = (v->opts & ts) != 0;
            /* RFC 7323 exempts RSTs: a plan may send them without (repair.h) */
            if (c->ts_rule >= 0 && !((v->flags & RST) && !(v->opts & ts))) assert_int_equal((v->opts & ts) != 0, c->ts_rule);
        }
        /* No empty ACK that acknowledges nothing new: tshark's duplicate ACKs and window updates. */
        if (!v->payload && !(v->flags & (SYN | FIN | RST)) && c->acked[d]) assert_int_not_equal(v->ack, c->lastack[d]);
        if (v->flags & ACK) c->acked[d] = 1, c->lastack[d] = v->ack;
        if (v->opts & 1u << 8) {
            if (c->has_ts[d]) assert_true((int32_t)(v->tsval - c->tsval[d]) >= 0);
            assert_int_equal(v->tsecr, (v->flags & ACK) && c->has_ts[!d] ? c->tsval[!d] : 0);
            c->tsval[d] = v->tsval, c->has_ts[d] = 1;
        }
        c->nxt[d] += (uint32_t)v->payload + !!(v->flags & SYN) + !!(v->flags & FIN);
        c->fin[d] |= !!(v->flags & FIN);
        c->rst = !!(v->flags & RST);
        c->seen[d] = 1;
    }
    c->n++;
}

/* Check every packet of out: each alone, and per flow in time order. */
static void check_all(const ns_repair_out *out, const ns_repair_opts *o, uint32_t n_flows)
{
    int linktype = o->linktype;
    flow_check *c = calloc(n_flows, sizeof *c);
    assert_non_null(c);
    pk v;
    for (size_t i = 0; i < out->n_pkts; i++) {
        check_packet(out, i, linktype, &v);
        assert_true(v.flow < n_flows);
        check_in_flow(&c[v.flow], &v, o);
    }
    free(c);
}

static void repair(const tflow *f, uint64_t k, ns_repair_out *out, ns_repair_stats *st)
{
    ns_repair_opts o;
    ns_repair_opts_init(&o);
    assert_int_equal(ns_repair_flow(&o, k, f->rows, f->dir, f->iat, f->n, out, st), NS_OK);
}

static void view(const ns_repair_out *out, size_t i, pk *v) { check_packet(out, i, NS_LINKTYPE_ETHERNET, v); }

/* check_all with the default plan. */
static void check_default(const ns_repair_out *out, uint32_t n_flows)
{
    ns_repair_opts o;
    ns_repair_opts_init(&o);
    check_all(out, &o, n_flows);
}

/* ------------------------------------------------------------------ tests */

static void test_layout_is_the_model_rows(void **state)
{
    (void)state;
    assert_int_equal(ns_nprint_layer_offset(NS_NP_MODEL_LAYERS, NS_NP_IPV4), NS_NP_COL_IPV4);
    assert_int_equal(ns_nprint_layer_offset(NS_NP_MODEL_LAYERS, NS_NP_TCP), NS_NP_COL_TCP);
    assert_int_equal(ns_nprint_layer_offset(NS_NP_MODEL_LAYERS, NS_NP_UDP), NS_NP_COL_UDP);
    assert_int_equal(ns_nprint_layer_offset(NS_NP_MODEL_LAYERS, NS_NP_ICMP), NS_NP_COL_ICMP);
    size_t n;
    ns_nprint_fields(&n);
    assert_true(n <= NS_REPAIR_MAX_FIELDS);
}

static void test_ipv4_header_fields(void **state)
{
    (void)state;
    static tflow f;
    f.n = 0;
    int8_t *r = add(&f, 0, 0);
    udp_row(r, 100, 40000, 53);
    ns_nprint_put(r, NS_NPF_IPV4_VER, 6);       /* version 6 */
    ns_nprint_put(r, NS_NPF_IPV4_HL, 5);
    ns_nprint_put(r, NS_NPF_IPV4_TTL, 0);       /* TTL 0 */
    ns_nprint_bits_put(r, NS_NP_COL_IPV4_RBIT, 3, 5);  /* reserved bit and MF */
    ns_nprint_put(r, NS_NPF_IPV4_FOFF, 77);     /* fragment offset */
    r = add(&f, 1, 1000);
    udp_row(r, 10, 53, 40000);
    ns_nprint_put(r, NS_NPF_IPV4_TL, 12);       /* total length shorter than the headers */
    ns_nprint_put(r, NS_NPF_IPV4_HL, 15);       /* IHL 15 with no options */
    ns_nprint_put(r, NS_NPF_IPV4_TTL, 3);
    r = add(&f, 0, 1000);
    udp_row(r, 30, 40000, 53);
    ns_nprint_put(r, NS_NPF_UDP_LEN, 500);      /* UDP length disagrees: the IP length wins */
    ns_repair_out out = {0};
    repair(&f, 0, &out, NULL);
    assert_int_equal(out.n_pkts, 3);
    check_default(&out, 1);
    pk v;
    view(&out, 0, &v);
    assert_int_equal(v.ttl, 64);
    assert_int_equal(v.payload, 100);
    assert_int_equal(v.total, 128);
    assert_int_equal(be16(v.p.ip, 4), 0x1234);   /* id kept */
    assert_int_equal(be16(v.p.ip, 6), 0x0000);   /* DF was not generated here (flags 5 = R|MF): all clear */
    view(&out, 1, &v);
    assert_int_equal(v.payload, 0);              /* inconsistent total length: no payload */
    assert_int_equal(v.ttl, 3);
    assert_int_equal(v.p.ip.len, 20);
    view(&out, 2, &v);
    assert_int_equal(v.payload, 30);
    ns_repair_out_free(&out);
}

static void test_ipv4_options(void **state)
{
    (void)state;
    static tflow f;
    f.n = 0;
    int8_t *r = add(&f, 0, 0);
    static const uint8_t opt[] = {1, 148, 4, 0, 0, 7, 200, 1}; /* NOP, router alert, record route too long */
    udp_row(r, 8, 40000, 9);
    ip_options(r, opt, sizeof opt);
    ns_nprint_put(r, NS_NPF_IPV4_TL, 20 + 8 + 8 + 8);
    r = add(&f, 0, 1000);
    static const uint8_t rr[] = {7, 7, 4, 0, 0, 0, 0, 0};      /* record route: dropped, the rest kept */
    udp_row(r, 4, 40000, 9);
    ip_options(r, rr, sizeof rr);
    ns_nprint_put(r, NS_NPF_IPV4_TL, 20 + 8 + 8 + 4);
    ns_nprint_put(r, NS_NPF_IPV4_HL, 5);        /* IHL says none: the option bytes win */
    ns_repair_out out = {0};
    repair(&f, 0, &out, NULL);
    check_default(&out, 1);
    pk v;
    view(&out, 0, &v);
    assert_int_equal(v.ipopts, 8);                             /* NOP + RA, padded */
    assert_int_equal(u8(v.p.ip, 20), 1), assert_int_equal(u8(v.p.ip, 21), 148);
    assert_int_equal(v.payload, 8);
    view(&out, 1, &v);
    assert_int_equal(v.ipopts, 0);
    assert_int_equal(v.payload, 12);                           /* 40 - 20 - 8: the generated IHL said 5 */
    ns_repair_out_free(&out);
}

static void test_tcp_options(void **state)
{
    (void)state;
    static tflow f;
    f.n = 0;
    /* MSS, WS 20, SACK-permitted, timestamps, SACK block, unknown kind 30, then a malformed one. */
    static const uint8_t syn_opt[] = {2, 4, 5, 180, 3, 3, 20, 4, 2, 8, 10, 0, 0, 0, 100, 0, 0, 0, 9,
                                      5, 10, 0, 0, 0, 1, 0, 0, 0, 2, 30, 3, 1, 1, 9, 40};
    int8_t *r = add(&f, 0, 0);
    tcp_row(r, 0, 50000, 443, 1000, 0, SYN);
    tcp_options(r, syn_opt, sizeof syn_opt);
    static const uint8_t synack_opt[] = {2, 4, 5, 100, 1, 3, 3, 7, 8, 10, 0, 0, 0, 50, 0, 0, 0, 0};
    r = add(&f, 1, 1000);
    tcp_row(r, 0, 443, 50000, 7000, 1001, SYN | ACK);
    tcp_options(r, synack_opt, sizeof synack_opt);
    static const uint8_t data_opt[] = {1, 1, 8, 10, 0, 0, 0, 90, 0, 0, 0, 0, 2, 4, 1, 1}; /* TSval goes back; MSS */
    r = add(&f, 0, 1000);
    tcp_row(r, 10, 50000, 443, 5, 5, ACK | PSH);
    tcp_options(r, data_opt, sizeof data_opt);
    ns_repair_out out = {0};
    repair(&f, 0, &out, NULL);
    assert_int_equal(out.n_pkts, 3);
    check_default(&out, 1);
    pk v;
    view(&out, 0, &v);
    /* SACK, 30 gone; 9 malformed; the NOPs after the timestamp align nothing kept: gone too */
    assert_int_equal(v.opts, 1u << 2 | 1u << 3 | 1u << 4 | 1u << 8);
    assert_int_equal(v.doff, 5 + 5);        /* 4 + 3 + 2 + 10 = 19 bytes, one EOL */
    assert_int_equal(u8(v.p.l4, 20 + 4 + 2), 14); /* window scale 20 -> 14 */
    assert_int_equal(v.tsval, 100), assert_int_equal(v.tsecr, 0);
    view(&out, 1, &v);
    assert_int_equal(v.opts, 1u << 1 | 1u << 2 | 1u << 3 | 1u << 8);
    assert_int_equal(v.tsval, 50), assert_int_equal(v.tsecr, 100);
    view(&out, 2, &v);
    assert_int_equal(v.opts, 1u << 1 | 1u << 8);  /* MSS dropped off the SYN */
    assert_int_equal(v.tsval, 100), assert_int_equal(v.tsecr, 50);
    assert_int_equal(v.payload, 10);              /* the generated payload, whatever the options became */
    ns_repair_out_free(&out);
}

static void test_tcp_handshake_and_sequence(void **state)
{
    (void)state;
    static tflow f;
    f.n = 0;
    /* The SYN comes second and the SYN-ACK's direction is wrong; numbers are garbage. */
    tcp_row(add(&f, 0, 0), 0, 50000, 443, 111, 999, ACK);
    tcp_row(add(&f, 0, 2000), 0, 50000, 443, 5000, 0, SYN);
    tcp_row(add(&f, 0, 3000), 0, 50000, 443, 1, 2, ACK);
    tcp_row(add(&f, 0, 4000), 100, 50000, 443, 1, 2, ACK | PSH);
    tcp_row(add(&f, 1, 5000), 50, 443, 50000, 9, 9, ACK | PSH | SYN);
    tcp_row(add(&f, 0, 6000), 0, 50000, 443, 9, 9, ACK | FIN);
    tcp_row(add(&f, 0, 7000), 20, 50000, 443, 9, 9, ACK | FIN | PSH); /* data after FIN */
    tcp_row(add(&f, 1, 8000), 0, 443, 50000, 9, 9, ACK | FIN);
    ns_repair_out out = {0};
    ns_repair_stats st = {0};
    repair(&f, 0, &out, &st);
    assert_int_equal(out.n_pkts, 8);
    check_default(&out, 1);
    /* The SYN-ACK, and the close's last two rows turned to the sides a FIN exchange needs. */
    assert_int_equal(st.redirected, 3), assert_int_equal(st.close_added, 0);
    pk v[8];
    for (int i = 0; i < 8; i++) view(&out, (size_t)i, &v[i]);
    assert_int_equal(v[0].flags, SYN), assert_int_equal(v[0].seq, 111);       /* the first row's ISN */
    assert_int_equal(v[1].flags, SYN | ACK), assert_int_equal(v[1].seq, 5000), assert_int_equal(v[1].ack, 112);
    assert_int_equal(v[1].src >> 24, 198);                                     /* from the server */
    assert_int_equal(v[2].flags, ACK), assert_int_equal(v[2].seq, 112), assert_int_equal(v[2].ack, 5001);
    assert_int_equal(v[3].seq, 112), assert_int_equal(v[3].payload, 100);
    assert_int_equal(v[4].flags, ACK | PSH), assert_int_equal(v[4].seq, 5001), assert_int_equal(v[4].ack, 212);
    /* The close: the client's FIN, the server's FIN-ACK (the row's data gone with its side), the last ACK. */
    assert_int_equal(v[5].flags, ACK | FIN), assert_int_equal(v[5].seq, 212), assert_int_equal(v[5].src >> 24, 10);
    assert_int_equal(v[6].flags, ACK | FIN), assert_int_equal(v[6].payload, 0), assert_int_equal(v[6].seq, 5051);
    assert_int_equal(v[6].ack, 213), assert_int_equal(v[6].src >> 24, 198);
    assert_int_equal(v[7].flags, ACK), assert_int_equal(v[7].seq, 213), assert_int_equal(v[7].ack, 5052);
    assert_int_equal(v[7].src >> 24, 10);
    /* Timestamps: start time, then the inter-arrival times. */
    ns_repair_opts o;
    ns_repair_opts_init(&o);
    assert_true(v[0].ts == o.start_ns);
    for (int i = 1; i < 8; i++) assert_true(v[i].ts - v[i - 1].ts == 1000 * (i + 1));
    ns_repair_out_free(&out);
}

/* NETSYNTH_REPAIR_OFF (the issue-16 ablation) skips the rules it names and
 * only those: with "seq,csum" a segment keeps the generated sequence and
 * acknowledgement numbers and checksums; a name it does not know, or none,
 * leaves repair whole. */
static void test_ablation_switches(void **state)
{
    (void)state;
    static tflow f;
    f.n = 0;
    tcp_row(add(&f, 0, 0), 0, 50000, 443, 111, 0, SYN);
    tcp_row(add(&f, 1, 2000), 0, 443, 50000, 5000, 112, SYN | ACK);
    tcp_row(add(&f, 0, 3000), 100, 50000, 443, 777, 888, ACK | PSH);
    tcp_row(add(&f, 1, 4000), 10, 443, 50000, 999, 321, ACK | PSH);
    const char *cases[] = {"seq,csum", "seqx,csu", NULL};
    for (int c = 0; c < 3; c++) {
        if (cases[c]) assert_int_equal(setenv("NETSYNTH_REPAIR_OFF", cases[c], 1), 0);
        else unsetenv("NETSYNTH_REPAIR_OFF");
        ns_repair_out out = {0};
        repair(&f, 0, &out, NULL);
        unsetenv("NETSYNTH_REPAIR_OFF");
        assert_true(out.n_pkts >= 4);
        const uint8_t *ip = out.bytes + out.pkts[2].off + 14, *tcp = ip + 20;
        uint32_t seq = (uint32_t)tcp[4] << 24 | (uint32_t)tcp[5] << 16 | (uint32_t)tcp[6] << 8 | tcp[7];
        uint32_t ack = (uint32_t)tcp[8] << 24 | (uint32_t)tcp[9] << 16 | (uint32_t)tcp[10] << 8 | tcp[11];
        unsigned ipck = (unsigned)ip[10] << 8 | ip[11], tcpck = (unsigned)tcp[16] << 8 | tcp[17];
        if (!c) {
            assert_int_equal(seq, 777), assert_int_equal(ack, 888);
            assert_int_equal(ipck, 0xdead), assert_int_equal(tcpck, 0xbeef);
        } else {
            check_default(&out, 1);   /* valid checksums, sequence numbers that follow */
            assert_int_equal(seq, 112), assert_int_equal(ack, 5001);
        }
        ns_repair_out_free(&out);
    }
}

static unsigned rb16(const uint8_t *p) { return (unsigned)p[0] << 8 | p[1]; }
static uint32_t rb32(const uint8_t *p) { return (uint32_t)rb16(p) << 16 | rb16(p + 2); }
static unsigned sum16(const uint8_t *p, size_t n)
{
    uint32_t s = 0;
    for (size_t i = 0; i + 1 < n; i += 2) s += (uint32_t)p[i] << 8 | p[i + 1];
    while (s >> 16) s = (s & 0xffff) + (s >> 16);
    return s;
}

/* The plan's link (repair_link.c): a DNS flow to the client net's gateway
 * after an ARP exchange for it, a routed flow whose frames go through the
 * gateway's MAC after a refresh (unicast) request, an mDNS flow after two
 * IGMPv3 joins of 224.0.0.251; valid to tshark; NETSYNTH_REPAIR_OFF's arp,
 * igmp, gateway take them out. Before: a DNS server of the server net, IP
 * frames only, each server's own MAC. */
/* A DHCP server's answers planned as the gateway's own flow (NS_REPAIR_GATEWAY_ANSWERS, trace model version 11):
 * from the gateway's 67 to the client host's 68, as replies (BOOTP op 2, an Offer naming the gateway its server
 * and offering the client its address), the way a home router answers a device. Before, the flow went from the
 * client host to a server host of the server net, and its messages were requests (op 1) from port 67. With
 * NETSYNTH_REPAIR_OFF=gateway it goes between the planned hosts, still replies from the port-67 side. */
static void test_dhcp_answers_from_the_gateway(void **state)
{
    (void)state;
    static tflow f;
    f.n = 0;
    udp_row(add(&f, 0, 0), 300, 67, 68), udp_row(add(&f, 0, 500000000), 300, 67, 68);
    ns_repair_plan plan = {.start_ns = 1000000000, .client = 4, .server = 7, .client_port = 67,
                           .gateway = NS_REPAIR_GATEWAY_ANSWERS};
    for (int off = 0; off < 2; off++) {
        if (off) assert_int_equal(setenv("NETSYNTH_REPAIR_OFF", "gateway", 1), 0);
        ns_repair_opts o;
        ns_repair_opts_init(&o);
        o.plan = &plan, o.n_plan = 1;
        ns_repair_out out = {0};
        assert_int_equal(ns_repair_flow(&o, 0, f.rows, f.dir, f.iat, f.n, &out, NULL), NS_OK);
        unsetenv("NETSYNTH_REPAIR_OFF");
        assert_int_equal(ns_repair_merge(&out), NS_OK);
        size_t dhcp = 0;
        for (size_t i = 0; i < out.n_pkts; i++) {
            const uint8_t *b = out.bytes + out.pkts[i].off;
            if (rb16(b + 12) != 0x0800) continue;
            const uint8_t *h = b + 14, *u = h + (h[0] & 15) * 4, *m = u + 8;
            assert_int_equal(h[9], 17);
            assert_int_equal(rb16(u), 67), assert_int_equal(rb16(u + 2), 68);
            assert_int_equal(rb32(h + 12), off ? 0x0A000005u : 0x0A0000FEu); /* the gateway; off: the client host */
            if (!off) assert_int_equal(rb32(h + 16), 0x0A000005u);               /* to the client host */
            assert_int_equal(m[0], 2);                                           /* a reply */
            if (!off) {
                assert_int_equal(rb32(m + 16), 0x0A000005u);                     /* yiaddr: the device's */
                assert_int_equal(m[240], 53), assert_int_equal(m[242], 2);       /* an Offer */
                assert_int_equal(m[243], 54), assert_int_equal(rb32(m + 245), 0x0A0000FEu); /* its server */
            }
            dhcp++;
        }
        assert_int_equal(dhcp, 2);
        ns_repair_out_free(&out);
    }
}

static void test_link_frames(void **state)
{
    (void)state;
    static tflow f[3];
    for (int i = 0; i < 3; i++) f[i].n = 0;
    udp_row(add(&f[0], 0, 0), 30, 40000, 53), udp_row(add(&f[0], 1, 20000000), 60, 53, 40000);
    udp_row(add(&f[1], 0, 0), 100, 40001, 8883), udp_row(add(&f[1], 1, 30000000), 80, 8883, 40001);
    udp_row(add(&f[2], 0, 0), 40, 5353, 5353), udp_row(add(&f[2], 0, 1000000000), 40, 5353, 5353);
    ns_repair_plan plan[3];
    memset(plan, 0, sizeof plan);
    plan[0] = (ns_repair_plan){.start_ns = 1000000000, .client = 4, .server = 7, .client_port = 40000, .gateway = 1,
                               .link = NS_REPAIR_LINK_ARP};
    plan[1] = (ns_repair_plan){.start_ns = 70000000000, .client = 4, .server = 9, .client_port = 40001,
                               .link = NS_REPAIR_LINK_ARP | NS_REPAIR_LINK_REFRESH | NS_REPAIR_LINK_ROUTED |
                                       NS_REPAIR_LINK_ASKED};
    plan[2] = (ns_repair_plan){.start_ns = 2000000000, .client = 4, .server = 3, .client_port = 5353,
                               .group = 0xE00000FBu, .link = NS_REPAIR_LINK_IGMP};
    static const uint8_t gw_mac[6] = {2, 0, 10, 0, 0, 254}, client_mac[6] = {2, 0, 10, 0, 0, 5};
    for (int off = 0; off < 2; off++) {
        if (off) assert_int_equal(setenv("NETSYNTH_REPAIR_OFF", "arp,igmp,gateway", 1), 0);
        ns_repair_opts o;
        ns_repair_opts_init(&o);
        assert_int_equal(ns_repair_gateway(&o), 0x0A0000FEu);
        o.plan = plan, o.n_plan = 3;
        ns_repair_out out = {0};
        for (uint64_t k = 0; k < 3; k++)
            assert_int_equal(ns_repair_flow(&o, k, f[k].rows, f[k].dir, f[k].iat, f[k].n, &out, NULL), NS_OK);
        unsetenv("NETSYNTH_REPAIR_OFF");
        assert_int_equal(ns_repair_merge(&out), NS_OK);
        size_t arp = 0, igmp = 0, ip = 0, asked = 0;
        for (size_t i = 0; i < out.n_pkts; i++) {
            const uint8_t *b = out.bytes + out.pkts[i].off;
            uint32_t flow = out.pkts[i].flow;
            if (rb16(b + 12) == 0x0806) { /* ARP: the client asks for the gateway, the gateway answers */
                const uint8_t *a = b + 14;
                int reply = rb16(a + 6) == 2, gw_asks = rb32(a + 14) == 0x0A0000FEu ? !reply : reply;
                assert_int_equal(out.pkts[i].len, reply ? 60 : 42);
                assert_int_equal(rb32(a + 14), reply != gw_asks ? 0x0A0000FEu : 0x0A000005u);
                assert_int_equal(rb32(a + 24), reply != gw_asks ? 0x0A000005u : 0x0A0000FEu);
                assert_memory_equal(a + 8, reply != gw_asks ? gw_mac : client_mac, 6);
                if (!reply && flow == 0) for (int j = 0; j < 6; j++) assert_int_equal(b[j], 0xff);
                if (!reply && flow == 1) assert_memory_equal(b, gw_asks ? client_mac : gw_mac, 6); /* stale entries' probes */
                asked += gw_asks;
                assert_true(out.pkts[i].ts_ns < plan[flow].start_ns);
                arp++;
                continue;
            }
            const uint8_t *h = b + 14;
            assert_int_equal(rb16(b + 12), 0x0800);
            assert_int_equal(sum16(h, (size_t)(h[0] & 15) * 4), 0xffff);
            if (h[9] == 2) { /* IGMPv3 report: 224.0.0.22, TTL 1, router alert, joining the group */
                assert_int_equal(flow, 2), assert_int_equal(rb32(h + 16), 0xE0000016u), assert_int_equal(h[8], 1);
                assert_int_equal(h[0], 0x46), assert_int_equal(h[20], 0x94);
                const uint8_t *g = h + 24;
                assert_int_equal(g[0], 0x22), assert_int_equal(sum16(g, 16), 0xffff), assert_int_equal(rb32(g + 12), 0xE00000FBu);
                igmp++;
                continue;
            }
            ip++;
            int from_server = h[12] != 10 || rb32(h + 12) == 0x0A0000FEu;
            uint32_t server = rb32(from_server ? h + 12 : h + 16);
            if (flow == 0) assert_int_equal(server == 0x0A0000FEu, !off);
            if (flow == 1) assert_int_equal(memcmp(from_server ? b + 6 : b, gw_mac, 6) == 0, !off); /* routed */
        }
        assert_int_equal(ip, 6);
        assert_int_equal(arp, off ? 0 : 6), assert_int_equal(igmp, off ? 0 : 2), assert_int_equal(asked, off ? 0 : 2);
        if (!off && tu_have_program("tshark")) {
            const char *path = tu_path(tu_tmpdir(), "link.pcap");
            FILE *fp = fopen(path, "wb");
            assert_non_null(fp);
            ns_pcap_writer w;
            assert_int_equal(ns_pcap_writer_begin(&w, fp, NS_LINKTYPE_ETHERNET, 0), NS_OK);
            for (size_t i = 0; i < out.n_pkts; i++)
                assert_int_equal(ns_pcap_write(&w, out.pkts[i].ts_ns, out.bytes + out.pkts[i].off, out.pkts[i].len,
                                               out.pkts[i].len), NS_OK);
            fclose(fp);
            int status;
            char *txt = tu_output(&status, "tshark -r '%s' -T fields -e _ws.malformed -e _ws.expert.severity "
                                           "-e arp.opcode -e igmp.type 2>/dev/null | awk -F'\\t' '$1 != \"\" { m++ } "
                                           "$2 ~ /8388608/ { e++ } $3 != \"\" { a++ } $4 != \"\" { g++ } "
                                           "END { print m + 0, e + 0, a + 0, g + 0 }'", path);
            assert_int_equal(status, 0);
            assert_string_equal(txt, "0 0 6 2\n");
            free(txt);
        }
        ns_repair_out_free(&out);
    }
}

/* SYNs the model repeats before an answer stay the client's retransmissions
 * (one sequence number), the answer comes after the last: made the SYN-ACK,
 * the second SYN put a 3 s timeout into the handshake (issue 14). */
static void test_tcp_syn_retransmission(void **state)
{
    (void)state;
    static tflow f;
    f.n = 0;
    tcp_row(add(&f, 0, 0), 0, 50000, 443, 700, 0, SYN);
    tcp_row(add(&f, 0, 3000000000), 0, 50000, 443, 700, 0, SYN);
    ns_repair_out out = {0};
    repair(&f, 0, &out, NULL);
    check_default(&out, 1);
    assert_int_equal(out.n_pkts, 2);
    pk v[4];
    for (int i = 0; i < 2; i++) view(&out, (size_t)i, &v[i]);
    for (int i = 0; i < 2; i++) /* unanswered: both the client's, the same SYN */
        assert_int_equal(v[i].flags, SYN), assert_int_equal(v[i].src >> 24, 10), assert_int_equal(v[i].seq, 700);
    ns_repair_out_clear(&out);

    /* Retransmitted once, then answered 100 ms after the second SYN. */
    f.n = 0;
    tcp_row(add(&f, 0, 0), 0, 50000, 443, 700, 0, SYN);
    tcp_row(add(&f, 0, 1000000000), 0, 50000, 443, 700, 0, SYN);
    tcp_row(add(&f, 1, 100000000), 0, 443, 50000, 9000, 701, SYN | ACK);
    tcp_row(add(&f, 0, 1000000), 0, 50000, 443, 701, 9001, ACK);
    repair(&f, 0, &out, NULL);
    check_default(&out, 1);
    assert_int_equal(out.n_pkts, 4);
    for (int i = 0; i < 4; i++) view(&out, (size_t)i, &v[i]);
    assert_int_equal(v[0].flags, SYN), assert_int_equal(v[1].flags, SYN), assert_int_equal(v[1].seq, 700);
    assert_int_equal(v[2].flags, SYN | ACK), assert_int_equal(v[2].src >> 24, 198), assert_int_equal(v[2].ack, 701);
    assert_true(v[2].ts - v[1].ts == 100000000);
    assert_int_equal(v[3].flags, ACK), assert_int_equal(v[3].seq, 701), assert_int_equal(v[3].ack, 9001);
    ns_repair_out_free(&out);
}

/* Session 6, issue 14/15: a SYN-ACK row generated without options (the
 * model's commonest miss) answered none, so that timestamps stopped after
 * the handshake and scaled windows were read unscaled. */
static void test_syn_ack_options_and_timestamps(void **state)
{
    (void)state;
    static const uint8_t all[20] = {2, 4, 0x05, 0xb4, 4, 2, 8, 10, 0, 0, 0, 5, 0, 0, 0, 0, 1, 3, 3, 8};
    static const uint8_t ts_only[12] = {1, 1, 8, 10, 0x77, 0, 0, 0, 0, 0, 0, 0};
    static const uint8_t mss_ts[16] = {2, 4, 0x05, 0x64, 1, 1, 8, 10, 0x77, 0, 0, 0, 0, 0, 0, 0};
    static tflow f;
    for (int kind = 0; kind < 4; kind++) {
        /* The SYN-ACK row with 0: no options; 1: its MSS and a timestamp (a server that declines window
         * scaling and SACK); 2: a timestamp alone, the SYN without; 3: a timestamp alone (a later segment's). */
        f.n = 0;
        tcp_row(add(&f, 0, 0), 0, 50000, 443, 1, 0, SYN);
        tcp_options(f.rows, all, kind == 2 ? 4 : 20);
        tcp_row(add(&f, 1, 20000000), 0, 443, 50000, 9, 2, SYN | ACK);
        if (kind == 1) tcp_options(f.rows + W, mss_ts, 16);
        if (kind >= 2) tcp_options(f.rows + W, ts_only, 12);
        for (int i = 0; i < 6; i++) {   /* data both ways; odd rows generated without a timestamp, TSvals jumping */
            int8_t *r = add(&f, i & 1, 5000000);
            tcp_row(r, 100, i & 1 ? 443 : 50000, i & 1 ? 50000 : 443, 2, 10, ACK | PSH);
            uint8_t ts[12] = {1, 1, 8, 10, (uint8_t)(i * 77), 1, 2, 3, 0, 0, 0, 0};
            if (!(i & 1)) tcp_options(r, ts, 12);
        }
        ns_repair_out out = {0};
        repair(&f, 0, &out, NULL);
        assert_int_equal(out.n_pkts, 8);
        check_default(&out, 1);   /* SYN-ACK options within the SYN's; timestamps on all segments or none */
        pk v[8];
        for (int i = 0; i < 8; i++) view(&out, (size_t)i, &v[i]);
        unsigned mss = 1u << 2, ws = 1u << 3, sack = 1u << 4, ts = 1u << 8;
        if (kind == 0 || kind == 3) assert_int_equal(v[1].opts & (mss | ws | sack | ts), mss | ws | sack | ts);  /* as the SYN */
        if (kind == 1) assert_int_equal(v[1].opts & (mss | ws | sack | ts), mss | ts);  /* as generated */
        if (kind == 2) assert_int_equal(v[1].opts & (mss | ws | sack | ts), mss);       /* RFC 7323: no TS unasked */
        for (int i = 2; i < 8; i++) {
            assert_int_equal((v[i].opts & ts) != 0, kind != 2);
            if (kind == 2) continue;
            /* 1 kHz from the direction's first TSval (none of the generated jumps), echoing the peer's latest. */
            int d = v[i].src >> 24 == 198;
            int64_t ms = (v[i].ts - v[d].ts) / 1000000;
            assert_int_equal(v[i].tsval, v[d].tsval + (uint32_t)ms);
            assert_int_equal(v[i].tsecr, v[i - 1].tsval);
        }
        if (kind == 0) assert_int_equal(u8(v[1].p.l4, 20 + 19), 7);   /* the window scale it adds: Linux's 7 */
        ns_repair_out_free(&out);
    }
    /* A SYN-ACK row generated without window scale, windows of 64 after it: scaled windows, so the SYN-ACK
     * answers the SYN's window scale (the lab's dnsmasq flows: read unscaled, 64 bytes filled at once). */
    f.n = 0;
    tcp_row(add(&f, 0, 0), 0, 50000, 53, 1, 0, SYN), tcp_options(f.rows, all, 20);
    tcp_row(add(&f, 1, 1000), 0, 53, 50000, 9, 2, SYN | ACK), tcp_options(f.rows + W, mss_ts, 16);
    for (int i = 0; i < 4; i++) {
        int8_t *r = add(&f, i & 1, 1000);
        tcp_row(r, 40, i & 1 ? 53 : 50000, i & 1 ? 50000 : 53, 2, 10, ACK | PSH);
        ns_nprint_put(r, NS_NPF_TCP_WSIZE, 64);
    }
    ns_repair_out scaled = {0};
    repair(&f, 0, &scaled, NULL);
    check_default(&scaled, 1);
    pk sa;
    view(&scaled, 1, &sa);
    assert_int_equal(sa.opts & (1u << 2 | 1u << 3 | 1u << 8), 1u << 2 | 1u << 3 | 1u << 8);
    ns_repair_out_free(&scaled);
    tcp_row(f.rows + 2 * W, 40, 50000, 53, 2, 10, ACK | PSH);   /* windows of 29200: unscaled, the row's MSS alone */
    tcp_row(f.rows + 3 * W, 40, 53, 50000, 2, 10, ACK | PSH);
    tcp_row(f.rows + 4 * W, 40, 50000, 53, 2, 10, ACK | PSH);
    repair(&f, 0, &scaled, NULL);
    view(&scaled, 1, &sa);
    assert_int_equal(sa.opts & (1u << 2 | 1u << 3 | 1u << 8), 1u << 2 | 1u << 8);
    ns_repair_out_free(&scaled);

    /* A plan's clock sets the rate: 100 Hz from its first TSval. */
    ns_repair_plan plan;
    memset(&plan, 0, sizeof plan);
    plan.start_ns = 1700000000LL * 1000000000LL, plan.client_port = 50001;
    plan.ts_first[0] = 1000, plan.ts_first[1] = 5000, plan.ts_hz[0] = plan.ts_hz[1] = 100;
    ns_repair_opts o;
    ns_repair_opts_init(&o);
    o.plan = &plan, o.n_plan = 1;
    ns_repair_out out = {0};
    f.n = 0;
    tcp_row(add(&f, 0, 0), 0, 50000, 443, 1, 0, SYN), tcp_options(f.rows, all, 20);
    tcp_row(add(&f, 1, 20000000), 0, 443, 50000, 9, 2, SYN | ACK);
    tcp_row(add(&f, 0, 500000000), 10, 50000, 443, 2, 10, ACK | PSH);
    assert_int_equal(ns_repair_flow(&o, 0, f.rows, f.dir, f.iat, f.n, &out, NULL), NS_OK);
    pk v;
    view(&out, 2, &v);
    assert_int_equal(v.tsval, 1000 + 52);   /* 0.52 s at 100 Hz */
    view(&out, 1, &v);
    assert_int_equal(v.tsval, 5000 + 2), assert_int_equal(v.tsecr, 1000);
    ns_repair_out_free(&out);
}

/* A counter host's IDs step on as its generated ones do (another
 * connection of the host took the IDs between), from the plan's first; a
 * generated 0 (Linux's SYN-ACK) stays 0, a step past 256 or backwards is
 * read as noise and becomes 1. Before session 7 they went +1 a packet. */
static void test_ipid_counter_keeps_generated_steps(void **state)
{
    (void)state;
    static tflow f;
    f.n = 0;
    handshake(&f, 443);
    static const uint16_t gen[] = {500, 0, 501, 506, 4000, 3990, 3992};
    static const uint16_t want_client[] = {1000, 1001, 1006, 1007, 1008, 1010};
    tcp_row(add(&f, 0, 1000), 10, 50000, 443, 2, 10, ACK | PSH);
    tcp_row(add(&f, 0, 1000), 10, 50000, 443, 12, 10, ACK | PSH);
    tcp_row(add(&f, 0, 1000), 10, 50000, 443, 22, 10, ACK | PSH);
    tcp_row(add(&f, 0, 1000), 10, 50000, 443, 32, 10, ACK | PSH);
    for (size_t i = 0; i < f.n; i++) ns_nprint_put(f.rows + i * W, NS_NPF_IPV4_ID, gen[i]);
    ns_repair_plan plan;
    memset(&plan, 0, sizeof plan);
    plan.start_ns = 1700000000LL * 1000000000LL, plan.client_port = 50001;
    plan.ipid[0] = plan.ipid[1] = NS_REPAIR_IPID_COUNTER, plan.ipid_first[0] = 1000, plan.ipid_first[1] = 7;
    ns_repair_opts o;
    ns_repair_opts_init(&o);
    o.plan = &plan, o.n_plan = 1;
    ns_repair_out out = {0};
    assert_int_equal(ns_repair_flow(&o, 0, f.rows, f.dir, f.iat, f.n, &out, NULL), NS_OK);
    assert_int_equal(out.n_pkts, f.n);
    for (size_t i = 0, c = 0; i < out.n_pkts; i++) {
        pk v;
        view(&out, i, &v);
        uint16_t id = be16(v.p.ip, 4);
        if (v.src >> 24 == 198) assert_int_equal(id, 0);   /* the SYN-ACK generated 0 */
        else assert_int_equal(id, want_client[c++]);
    }
    ns_repair_out_free(&out);
}

/* Session 6: tshark's sequence analysis flagged 27-38% of generated TCP
 * segments (real: 0.1-3.3%), nearly all duplicate ACKs and window updates:
 * empty ACKs from a side that had received nothing since its last one. */
static void test_empty_acks_of_nothing_new(void **state)
{
    (void)state;
    static tflow f;
    f.n = 0;
    handshake(&f, 80);
    tcp_row(add(&f, 0, 1000), 0, 50000, 80, 2, 10, ACK);          /* the same ACK again: a duplicate */
    tcp_row(add(&f, 0, 1000), 200, 50000, 80, 2, 10, ACK | PSH);  /* the request */
    tcp_row(add(&f, 1, 1000), 17, 80, 50000, 10, 202, ACK | PSH); /* the answer */
    int8_t *r = add(&f, 1, 1000);                                 /* its own ACK again, another window */
    tcp_row(r, 0, 80, 50000, 27, 202, ACK);
    ns_nprint_put(r, NS_NPF_TCP_WSIZE, 501);
    tcp_row(add(&f, 0, 1000), 0, 50000, 80, 202, 27, ACK);        /* acknowledges the answer: fine */
    tcp_row(add(&f, 1, 1000), 30, 80, 50000, 27, 202, ACK | PSH); /* more data */
    ns_repair_out out = {0};
    ns_repair_stats st = {0};
    repair(&f, 0, &out, &st);
    check_default(&out, 1);   /* no empty ACK of nothing new */
    /* Row 3 goes (neither side has anything to acknowledge, nor the server
     * data to stand for); row 6 is the client's ACK of the answer; row 7,
     * then the same, stands for the server's next segment, as long as its
     * latest. */
    assert_int_equal(st.acks_dropped, 1), assert_int_equal(st.acks_turned, 1), assert_int_equal(st.acks_to_data, 1);
    assert_int_equal(out.n_pkts, 8);
    pk v;
    view(&out, 5, &v);
    assert_int_equal(v.src >> 24, 10), assert_int_equal(v.ack, 9 + 1 + 17), assert_int_equal(v.payload, 0);
    view(&out, 6, &v);
    assert_int_equal(v.src >> 24, 198), assert_int_equal(v.payload, 17), assert_int_equal(v.flags, ACK | PSH);
    view(&out, 7, &v);
    assert_int_equal(v.payload, 30), assert_int_equal(v.seq, 9 + 1 + 17 + 17);
    /* Time runs on past a dropped row: the last packet is where the rows put it. */
    view(&out, 0, &v);
    int64_t t0 = v.ts;
    view(&out, 7, &v);
    assert_true(v.ts - t0 == 8 * 1000);
    ns_repair_out_free(&out);
}

/* Issue 16: a run of empty ACKs after several of the peer's segments
 * acknowledges them one by one, as the IoT corpus's D-Link stacks do (16% of
 * their segments past the handshake). Acknowledging all at the first left
 * the others nothing new: each went to the peer as data or as its ACK,
 * packets other than the rows'. */
static void test_empty_ack_runs_acknowledge_segment_by_segment(void **state)
{
    (void)state;
    static tflow f;
    f.n = 0;
    handshake(&f, 80);
    tcp_row(add(&f, 0, 1000), 100, 50000, 80, 2, 10, ACK | PSH);   /* the request */
    tcp_row(add(&f, 1, 1000), 300, 80, 50000, 10, 102, ACK | PSH); /* three segments of answer */
    tcp_row(add(&f, 1, 1000), 200, 80, 50000, 310, 102, ACK | PSH);
    tcp_row(add(&f, 1, 1000), 50, 80, 50000, 510, 102, ACK | PSH);
    for (int i = 0; i < 3; i++) tcp_row(add(&f, 0, 1000), 0, 50000, 80, 102, 310, ACK); /* the client's three ACKs */
    tcp_row(add(&f, 0, 1000), 40, 50000, 80, 102, 560, ACK | PSH); /* the next request */
    tcp_row(add(&f, 1, 1000), 0, 80, 50000, 560, 142, ACK);         /* acknowledged */
    ns_repair_out out = {0};
    ns_repair_stats st = {0};
    repair(&f, 0, &out, &st);
    check_default(&out, 1); /* no empty ACK of nothing new */
    assert_int_equal(st.acks_dropped + st.acks_turned + st.acks_to_data, 0);
    assert_int_equal(out.n_pkts, f.n);
    pk v;
    view(&out, 4, &v);
    uint32_t s0 = v.seq;
    static const uint32_t acked[3] = {300, 500, 550};
    for (int i = 0; i < 3; i++) {
        view(&out, 7 + (size_t)i, &v);
        assert_int_equal(v.src >> 24, 10), assert_int_equal(v.payload, 0), assert_int_equal(v.flags, ACK);
        assert_int_equal(v.ack, s0 + acked[i]);
    }
    /* Fewer ACKs than segments: the last acknowledges everything. */
    f.n = 9;
    tcp_row(add(&f, 0, 1000), 40, 50000, 80, 102, 560, ACK | PSH);
    ns_repair_out_free(&out);
    memset(&st, 0, sizeof st);
    repair(&f, 0, &out, &st);
    check_default(&out, 1);
    assert_int_equal(st.acks_dropped + st.acks_turned + st.acks_to_data, 0);
    view(&out, 7, &v);
    assert_int_equal(v.ack, s0 + 500);
    view(&out, 8, &v);
    assert_int_equal(v.payload, 0), assert_int_equal(v.ack, s0 + 550);
    view(&out, 9, &v);
    assert_int_equal(v.src >> 24, 10), assert_int_equal(v.payload, 40), assert_int_equal(v.ack, s0 + 550);
    ns_repair_out_free(&out);
}

/* Session 6, issue 15: 30.8% of generated lab flows ended with FIN or RST
 * against 100% of real ones. A flow whose rows ask for a close (a FIN or an
 * RST anywhere) closes at its end; a FIN before its last rows moves there. */
static void test_flow_closes_at_its_end(void **state)
{
    (void)state;
    static tflow f;
    f.n = 0;
    handshake(&f, 80);
    tcp_row(add(&f, 0, 1000), 100, 50000, 80, 2, 10, ACK | PSH | FIN);   /* a FIN too early */
    for (int i = 0; i < 6; i++) tcp_row(add(&f, !(i & 1), 1000), 50, i & 1 ? 50000 : 80, i & 1 ? 80 : 50000, 1, 1, ACK | PSH);
    ns_repair_out out = {0};
    ns_repair_stats st = {0};
    repair(&f, 0, &out, &st);
    check_default(&out, 1);
    assert_int_equal(out.n_pkts, 10), assert_int_equal(st.fin_moved, 1), assert_int_equal(st.close_added, 0);
    pk v[10];
    for (int i = 0; i < 10; i++) view(&out, (size_t)i, &v[i]);
    assert_int_equal(v[3].flags, ACK | PSH), assert_int_equal(v[3].payload, 100);   /* data, no FIN */
    /* The last three rows (client, server, client, as generated) close it, each FIN with its row's data. */
    assert_int_equal(v[7].flags, FIN | ACK | PSH), assert_int_equal(v[7].src >> 24, 10), assert_int_equal(v[7].payload, 50);
    assert_int_equal(v[8].flags, FIN | ACK | PSH), assert_int_equal(v[8].src >> 24, 198), assert_int_equal(v[8].payload, 50);
    assert_int_equal(v[8].ack, v[7].seq + 50 + 1);
    assert_int_equal(v[9].flags, ACK), assert_int_equal(v[9].src >> 24, 10), assert_int_equal(v[9].ack, v[8].seq + 50 + 1);
    assert_int_equal(v[9].payload, 0);
    for (int i = 0; i < 7; i++) assert_false(v[i].flags & FIN);

    /* Too few rows for the exchange: repair adds what a valid close needs, and counts it. */
    f.n = 4;
    ns_repair_out_clear(&out);
    memset(&st, 0, sizeof st);
    repair(&f, 0, &out, &st);
    check_default(&out, 1);
    assert_int_equal(out.n_pkts, 6), assert_int_equal(st.close_added, 2), assert_int_equal(st.rows, 4);
    assert_int_equal(st.packets, 6);
    for (int i = 0; i < 6; i++) view(&out, (size_t)i, &v[i]);
    assert_int_equal(v[3].flags & FIN, FIN), assert_int_equal(v[3].payload, 100);
    assert_int_equal(v[4].flags, FIN | ACK), assert_int_equal(v[4].src >> 24, 198);
    assert_int_equal(v[5].flags, ACK), assert_int_equal(v[5].src >> 24, 10);
    assert_true(v[5].ts > v[4].ts && v[4].ts > v[3].ts);
    for (int i = 4; i < 6; i++) /* what a stack sends: DF, TTL 64 */
        assert_int_equal(out.bytes[out.pkts[i].off + 14 + 6] & 0x40, 0x40), assert_int_equal(v[i].ttl, 64);
    /* A handshake that never completed is not closed. */
    f.n = 2;
    ns_repair_out_clear(&out);
    repair(&f, 0, &out, NULL);
    assert_int_equal(out.n_pkts, 2);

    /* An RST asked for (here among the rows, too early to end the flow) ends it, in its last row. */
    f.n = 0;
    tcp_row(add(&f, 0, 0), 50, 50000, 80, 1, 1, ACK | PSH);
    tcp_row(add(&f, 1, 1000), 0, 80, 50000, 1, 1, RST);
    for (int i = 0; i < 4; i++) tcp_row(add(&f, i & 1, 1000), 20, i & 1 ? 80 : 50000, i & 1 ? 50000 : 80, 1, 1, ACK | PSH);
    ns_repair_out_clear(&out);
    memset(&st, 0, sizeof st);
    repair(&f, 0, &out, &st);
    check_default(&out, 1);
    assert_int_equal(st.rst_cleared, 1);
    assert_int_equal(out.n_pkts, 6);   /* the cleared RST, an empty ACK of the client's data, stays */
    view(&out, out.n_pkts - 1, &v[0]);
    assert_int_equal(v[0].flags, RST | ACK), assert_int_equal(v[0].payload, 0);

    /* No FIN or RST asked for: the flow stays open, as the model generated it. */
    for (size_t i = 0; i < f.n; i++) tcp_row(f.rows + i * W, 20, f.dir[i] ? 80 : 50000, f.dir[i] ? 50000 : 80, 1, 1, ACK | PSH);
    ns_repair_out_clear(&out);
    repair(&f, 0, &out, NULL);
    assert_int_equal(out.n_pkts, f.n);
    for (size_t i = 0; i < out.n_pkts; i++) view(&out, i, &v[0]), assert_false(v[0].flags & (FIN | RST));

    /* In parts (a window of 4, as generate streams it) the same bytes as whole with that window; the FIN
     * asked for in the last part closes the flow from there, the rows before it written already. */
    f.n = 0;
    tcp_row(add(&f, 0, 0), 0, 50000, 80, 1, 0, SYN);
    tcp_row(add(&f, 1, 1000), 0, 80, 50000, 9, 2, SYN | ACK);
    for (int i = 0; i < 7; i++) tcp_row(add(&f, i & 1, 1000), i == 6 ? 0 : 30, i & 1 ? 80 : 50000, i & 1 ? 50000 : 80, 1, 1, i == 6 ? ACK | FIN : ACK | PSH);
    ns_repair_opts o;
    ns_repair_opts_init(&o);
    o.window = 4;
    ns_repair_out whole = {0};
    repair_streamed(&o, &f, &whole);
    check_default(&whole, 1);
    assert_int_equal(whole.n_pkts, 11);
    view(&whole, 10, &v[0]);
    assert_int_equal(v[0].flags, ACK);
    view(&whole, 9, &v[0]);
    assert_true(v[0].flags & FIN);
    ns_repair_out_free(&whole), ns_repair_out_free(&out);
}

/* A plan's cut (a copy of a real capture that stops where the real
 * recording did, trace model version 12): the flow's packets later than it
 * are not written, counted; the earlier ones are the same bytes as
 * without; NETSYNTH_REPAIR_OFF=cut writes them all. */
static void test_capture_cut(void **state)
{
    (void)state;
    static tflow f;
    f.n = 0;
    handshake(&f, 80);
    for (int i = 0; i < 6; i++) /* a request and its answer each second */
        tcp_row(add(&f, i & 1, i & 1 ? 20000000 : 980000000), 100, i & 1 ? 80 : 50000, i & 1 ? 50000 : 80, 1, 1,
                ACK | PSH);
    ns_repair_opts o;
    ns_repair_opts_init(&o);
    ns_repair_plan plan = {.start_ns = o.start_ns, .client = 1, .server = 2, .client_port = 50001,
                           .close = NS_REPAIR_CLOSE_OPEN};
    o.plan = &plan, o.n_plan = 1;
    ns_repair_out whole = {0}, out = {0};
    assert_int_equal(ns_repair_flow(&o, 0, f.rows, f.dir, f.iat, f.n, &whole, NULL), NS_OK);
    assert_int_equal(whole.n_pkts, f.n);
    plan.cut_ns = o.start_ns + 2500000000LL; /* after the second exchange */
    ns_repair_stats st = {0};
    assert_int_equal(ns_repair_flow(&o, 0, f.rows, f.dir, f.iat, f.n, &out, &st), NS_OK);
    check_all(&out, &o, 1);
    assert_int_equal(out.n_pkts, 3 + 4), assert_int_equal(st.cut, 2), assert_int_equal(st.packets, 7);
    for (size_t i = 0; i < out.n_pkts; i++) {
        assert_true(out.pkts[i].ts_ns <= plan.cut_ns);
        assert_int_equal(out.pkts[i].len, whole.pkts[i].len);
        assert_memory_equal(out.bytes + out.pkts[i].off, whole.bytes + whole.pkts[i].off, out.pkts[i].len);
    }
    char line[2048];
    ns_repair_summary(&st, 3, line, sizeof line);
    assert_non_null(strstr(line, "2 packets past their capture's end not written"));
    assert_int_equal(setenv("NETSYNTH_REPAIR_OFF", "cut", 1), 0);
    ns_repair_out_clear(&out);
    assert_int_equal(ns_repair_flow(&o, 0, f.rows, f.dir, f.iat, f.n, &out, NULL), NS_OK);
    unsetenv("NETSYNTH_REPAIR_OFF");
    assert_int_equal(out.n_pkts, f.n);
    ns_repair_out_free(&out), ns_repair_out_free(&whole);
}

/* A plan's data sizes (trace model version 13): the client's segments with data in the first 16 rows take
 * the class's size at their generated size's quantile (here every 100 becomes 300), and with pay_bare the
 * share of them right after the server's data goes bare, an ACK of that data (here all: rows 5 and 7; row 3
 * follows the client's own ACK and keeps its data). The server's (no map) keep theirs; the bare ACKs are
 * written (they acknowledge new data). NETSYNTH_REPAIR_OFF=paybare keeps their data, paymap their sizes. */
static void test_data_sizes_of_the_plan(void **state)
{
    (void)state;
    static tflow f;
    f.n = 0;
    handshake(&f, 80);
    for (int i = 0; i < 5; i++)
        tcp_row(add(&f, i & 1, 1000), i & 1 ? 200 : 100, i & 1 ? 80 : 50000, i & 1 ? 50000 : 80, 1, 1, ACK | PSH);
    ns_repair_opts o;
    ns_repair_opts_init(&o);
    ns_repair_plan plan = {.start_ns = o.start_ns, .client = 1, .server = 2, .client_port = 50001,
                           .close = NS_REPAIR_CLOSE_OPEN};
    for (int q = 0; q < NS_REPAIR_PAY_Q; q++) plan.pay_map[0][0][0][q] = 100, plan.pay_map[0][0][1][q] = 300;
    o.plan = &plan, o.n_plan = 1;
    static const size_t want[3][8] = {{0, 0, 0, 300, 200, 300, 200, 300},   /* the map */
                                      {0, 0, 0, 300, 200, 0, 200, 0},       /* and pay_bare */
                                      {0, 0, 0, 100, 200, 100, 200, 100}};  /* paymap off */
    for (int run = 0; run < 4; run++) {
        plan.pay_bare[0][0] = run ? 65535 : 0;
        if (run >= 2) assert_int_equal(setenv("NETSYNTH_REPAIR_OFF", run == 2 ? "paybare" : "paymap", 1), 0);
        ns_repair_out out = {0};
        assert_int_equal(ns_repair_flow(&o, 0, f.rows, f.dir, f.iat, f.n, &out, NULL), NS_OK);
        unsetenv("NETSYNTH_REPAIR_OFF");
        check_all(&out, &o, 1);
        assert_int_equal(out.n_pkts, f.n);
        for (size_t i = 0; i < out.n_pkts; i++) {
            pk v;
            view(&out, i, &v);
            assert_int_equal(v.payload, want[run == 2 ? 0 : run == 3 ? 2 : run][i]);
        }
        ns_repair_out_free(&out);
    }
}

/* A plan's close overrules the rows (issue 15: the class's shares of
 * closes): a FIN exchange, an RST or neither, with valid TCP state, the
 * FINs and RSTs the rows showed otherwise cleared and counted. */
static void test_planned_close(void **state)
{
    (void)state;
    static tflow f;
    f.n = 0;
    handshake(&f, 80);
    tcp_row(add(&f, 0, 1000), 100, 50000, 80, 2, 10, ACK | PSH | FIN);   /* a FIN mid-flow */
    for (int i = 0; i < 6; i++)
        tcp_row(add(&f, !(i & 1), 1000), 50, i & 1 ? 50000 : 80, i & 1 ? 80 : 50000, 1, 1, i == 2 ? RST : ACK | PSH);
    ns_repair_opts o;
    ns_repair_opts_init(&o);
    ns_repair_plan plan = {.start_ns = o.start_ns, .client = 1, .server = 2, .client_port = 50001};
    o.plan = &plan, o.n_plan = 1;
    static const int closes[] = {NS_REPAIR_CLOSE_ROWS, NS_REPAIR_CLOSE_FIN, NS_REPAIR_CLOSE_RST, NS_REPAIR_CLOSE_OPEN};
    ns_repair_out out = {0};
    for (size_t t = 0; t < sizeof closes / sizeof closes[0]; t++) {
        plan.close = (uint8_t)closes[t];
        ns_repair_stats st = {0};
        ns_repair_out_clear(&out);
        assert_int_equal(ns_repair_flow(&o, 0, f.rows, f.dir, f.iat, f.n, &out, &st), NS_OK);
        check_all(&out, &o, 1);
        int fins[2] = {0, 0}, rsts = 0;
        pk v;
        for (size_t i = 0; i < out.n_pkts; i++) {
            view(&out, i, &v);
            fins[v.src >> 24 == 198] += !!(v.flags & FIN), rsts += !!(v.flags & RST);
        }
        view(&out, out.n_pkts - 1, &v);
        switch (closes[t]) {
        case NS_REPAIR_CLOSE_ROWS: /* the rows show an RST (too early): the fixed plan's rule ends the flow with one */
        case NS_REPAIR_CLOSE_RST:
            assert_int_equal(rsts, 1), assert_int_equal(v.flags, RST | ACK), assert_int_equal(st.rst_cleared, 1);
            assert_int_equal(fins[0] + fins[1], 0), assert_int_equal(st.fin_moved, 1);
            assert_int_equal(st.close_cleared, 0), assert_int_equal(out.n_pkts, f.n);
            break;
        case NS_REPAIR_CLOSE_FIN: /* the RST cleared, the FIN exchange in the last rows */
            assert_int_equal(rsts, 0), assert_int_equal(fins[0], 1), assert_int_equal(fins[1], 1);
            assert_int_equal(v.flags, ACK), assert_int_equal(v.payload, 0);
            assert_int_equal(st.close_cleared, 1), assert_int_equal(out.n_pkts, f.n);
            break;
        case NS_REPAIR_CLOSE_OPEN: /* neither: the FIN and the RST cleared */
            assert_int_equal(rsts, 0), assert_int_equal(fins[0] + fins[1], 0);
            assert_int_equal(st.close_cleared, 2), assert_int_equal(st.fin_moved, 0);
            assert_int_equal(out.n_pkts, f.n);
            break;
        }
        assert_int_equal(st.dropped, 0);
    }
    /* A FIN asked of a flow too short for the exchange (and whose rows show none): added after it. */
    f.n = 4;
    tcp_row(f.rows + 3 * W, 100, 50000, 80, 2, 10, ACK | PSH);
    plan.close = NS_REPAIR_CLOSE_FIN;
    ns_repair_stats st = {0};
    ns_repair_out_clear(&out);
    assert_int_equal(ns_repair_flow(&o, 0, f.rows, f.dir, f.iat, f.n, &out, &st), NS_OK);
    check_all(&out, &o, 1);
    assert_int_equal(out.n_pkts, 6), assert_int_equal(st.close_added, 2);
    /* An RST asked of it: its last row. */
    plan.close = NS_REPAIR_CLOSE_RST;
    ns_repair_out_clear(&out);
    assert_int_equal(ns_repair_flow(&o, 0, f.rows, f.dir, f.iat, f.n, &out, NULL), NS_OK);
    check_all(&out, &o, 1);
    pk v;
    view(&out, out.n_pkts - 1, &v);
    assert_int_equal(out.n_pkts, 4), assert_int_equal(v.flags, RST | ACK);
    /* Streamed in parts the same bytes as whole: the plan's close is known from the first row. */
    f.n = 0;
    handshake(&f, 80);
    for (int i = 0; i < 7; i++) tcp_row(add(&f, i & 1, 1000), 30, i & 1 ? 80 : 50000, i & 1 ? 50000 : 80, 1, 1, ACK | PSH);
    plan.close = NS_REPAIR_CLOSE_FIN;
    o.window = 4;
    ns_repair_out whole = {0};
    repair_streamed(&o, &f, &whole);
    check_all(&whole, &o, 1);
    view(&whole, whole.n_pkts - 1, &v);
    assert_int_equal(v.flags, ACK), assert_int_equal(whole.n_pkts, f.n);
    /* A SYN-ACK row generated without a window (then with a scaled-looking one, 64) or options: the plan's
     * (the class's) window and scale, else 65535 (64 as generated) and Linux's 7. */
    static const uint8_t syn_opts[20] = {2, 4, 0x05, 0xb4, 4, 2, 8, 10, 0, 0, 0, 5, 0, 0, 0, 0, 1, 3, 3, 8};
    f.n = 0;
    handshake(&f, 80);
    tcp_options(f.rows, syn_opts, 20);
    ns_nprint_clear(f.rows + W, NS_NPF_TCP_WSIZE);
    for (int i = 0; i < 3; i++) tcp_row(add(&f, i & 1, 1000), 30, i & 1 ? 80 : 50000, i & 1 ? 50000 : 80, 1, 1, ACK | PSH);
    o.window = 0;
    for (int t = 0; t < 4; t++) {
        int planned = t & 1;
        if (t == 2) ns_nprint_put(f.rows + W, NS_NPF_TCP_WSIZE, 64);
        plan.close = NS_REPAIR_CLOSE_OPEN;
        plan.synack_ws = planned ? 11 : 0, plan.synack_win = planned ? 65160 : 0;
        ns_repair_out_clear(&out);
        assert_int_equal(ns_repair_flow(&o, 0, f.rows, f.dir, f.iat, f.n, &out, NULL), NS_OK);
        check_all(&out, &o, 1);
        view(&out, 1, &v);
        assert_int_equal(v.flags, SYN | ACK);
        assert_int_equal(v.win, planned ? 65160 : t < 2 ? 65535 : 64);
        int shift = -1;
        for (size_t at = 20; at + 2 < v.p.l4.len;) {   /* the SYN-ACK's window scale option */
            uint8_t kind = u8(v.p.l4, at), len = kind == 1 ? 1 : u8(v.p.l4, at + 1);
            if (kind == 0 || len < 1) break;
            if (kind == 3) shift = u8(v.p.l4, at + 2);
            at += len;
        }
        assert_int_equal(shift, planned ? 10 : 7);
    }
    plan.synack_ws = 0, plan.synack_win = 0;
    /* Timestamps agreed: the planned RST carries one (rst_ts 0 or 1) or not (2), as the class's RSTs do. */
    static const uint8_t ts_opt[12] = {1, 1, 8, 10, 0, 0, 0, 7, 0, 0, 0, 0};
    f.n = 0;
    handshake(&f, 80);
    for (int i = 0; i < 5; i++) tcp_row(add(&f, i & 1, 1000), 30, i & 1 ? 80 : 50000, i & 1 ? 50000 : 80, 1, 1, ACK | PSH);
    for (size_t i = 0; i < f.n; i++) tcp_options(f.rows + i * W, ts_opt, 12);
    plan.close = NS_REPAIR_CLOSE_RST;
    for (int rt = 0; rt < 3; rt++) {
        plan.rst_ts = (uint8_t)rt;
        ns_repair_out_clear(&out);
        assert_int_equal(ns_repair_flow(&o, 0, f.rows, f.dir, f.iat, f.n, &out, NULL), NS_OK);
        check_all(&out, &o, 1);
        view(&out, out.n_pkts - 1, &v);
        assert_int_equal(v.flags, RST | ACK);
        assert_int_equal((v.opts & 1u << 8) != 0, rt != 2);
        view(&out, out.n_pkts - 2, &v);
        assert_true(v.opts & 1u << 8);
    }
    plan.rst_ts = 0;
    /* A close that is none of them: the plan is wrong. */
    plan.close = NS_REPAIR_CLOSES;
    assert_int_equal(ns_repair_flow(&o, 0, f.rows, f.dir, f.iat, f.n, &out, NULL), NS_EARG);
    assert_non_null(strstr(ns_errmsg(), "close"));
    ns_repair_out_free(&whole), ns_repair_out_free(&out);
}

/* One data row of a flow past the handshake: side d, payload bytes, flags. */
static void data_row(tflow *f, int d, int payload, int flags)
{
    tcp_row(add(f, d, 1000), payload, d ? 80 : 50000, d ? 50000 : 80, 1, 1, flags);
}

/* A version 3 plan's closes: a refusal (the SYN answered by an RST-ACK, the
 * rest not written; one added after SYNs alone), a FIN exchange on the
 * plan's side and shape where the rows do not fit one, one that follows the
 * rows' sides where they do (the first FIN on its side's data, the peer's
 * two ACKs the data then the FIN), and an RST after FINs. */
static void test_close_sides_and_refusals(void **state)
{
    (void)state;
    static tflow f;
    ns_repair_opts o;
    ns_repair_opts_init(&o);
    ns_repair_plan plan = {.start_ns = o.start_ns, .client = 1, .server = 2, .client_port = 50001};
    o.plan = &plan, o.n_plan = 1;
    ns_repair_out out = {0};
    ns_repair_stats st;
    pk v, syn;
    /* Refused: SYN, then the server's RST-ACK: sequence 0, acknowledging the SYN, window 0, no options. */
    f.n = 0;
    handshake(&f, 80);
    for (int i = 0; i < 4; i++) data_row(&f, i & 1, 40, ACK | PSH);
    plan.close = NS_REPAIR_CLOSE_REFUSED;
    memset(&st, 0, sizeof st);
    assert_int_equal(ns_repair_flow(&o, 0, f.rows, f.dir, f.iat, f.n, &out, &st), NS_OK);
    check_all(&out, &o, 1);
    assert_int_equal(out.n_pkts, 2), assert_int_equal(st.dropped, f.n - 2);
    view(&out, 0, &syn), view(&out, 1, &v);
    assert_int_equal(syn.flags, SYN);
    assert_int_equal(v.flags, RST | ACK), assert_int_equal(v.src >> 24, 198);
    assert_int_equal(v.seq, 0), assert_int_equal(v.ack, syn.seq + 1), assert_int_equal(v.win, 0);
    assert_int_equal(v.opts, 0), assert_int_equal(v.payload, 0);
    /* The client's SYN and its retransmission alone: the RST-ACK added after them. */
    f.n = 1;
    tcp_row(add(&f, 0, 3000000000LL), 0, 50000, 80, 1, 0, SYN);
    memset(&st, 0, sizeof st);
    ns_repair_out_clear(&out);
    assert_int_equal(ns_repair_flow(&o, 0, f.rows, f.dir, f.iat, f.n, &out, &st), NS_OK);
    check_all(&out, &o, 1);
    assert_int_equal(out.n_pkts, 3), assert_int_equal(st.close_added, 1);
    view(&out, 2, &v);
    assert_int_equal(v.flags, RST | ACK), assert_int_equal(v.seq, 0), assert_int_equal(v.src >> 24, 198);
    /* A FIN close whose rows end on one side twice (no exchange to follow): the plan's side and shape
     * on the last four rows: the server's FIN, the client's ACK, its FIN, the server's last ACK. */
    f.n = 0;
    handshake(&f, 80);
    for (int i = 0; i < 7; i++) data_row(&f, i == 1 || i == 3, 40, ACK | PSH);
    plan.close = NS_REPAIR_CLOSE_FIN, plan.close_side = 2, plan.close_shape = NS_REPAIR_SHAPE_ACKED;
    ns_repair_out_clear(&out);
    assert_int_equal(ns_repair_flow(&o, 0, f.rows, f.dir, f.iat, f.n, &out, NULL), NS_OK);
    check_all(&out, &o, 1);
    assert_int_equal(out.n_pkts, f.n);
    static const int forced[4][2] = {{1, ACK | FIN}, {0, ACK}, {0, ACK | FIN}, {1, ACK}};
    for (int i = 0; i < 4; i++) {
        view(&out, out.n_pkts - 4 + (size_t)i, &v);
        assert_int_equal(v.src >> 24 == 198, forced[i][0]), assert_int_equal(v.flags & ~PSH, forced[i][1]);
    }
    /* Without the shape, three: the server's FIN, the client's FIN-ACK, the server's ACK. */
    plan.close_shape = 0;
    ns_repair_out_clear(&out);
    assert_int_equal(ns_repair_flow(&o, 0, f.rows, f.dir, f.iat, f.n, &out, NULL), NS_OK);
    check_all(&out, &o, 1);
    for (int i = 0; i < 3; i++) {
        view(&out, out.n_pkts - 3 + (size_t)i, &v);
        assert_int_equal(v.src >> 24 == 198, i != 1), assert_int_equal(v.flags & ~PSH, i == 2 ? ACK : ACK | FIN);
    }
    /* Rows that end as a server's close goes (its data, the client's two ACKs and its FIN, the server's
     * ACK), the plan's side the server's: followed. The server's FIN rides on its data; the client's
     * first ACK takes the data, the second the FIN; nothing turned or dropped. */
    f.n = 0;
    handshake(&f, 80);
    data_row(&f, 0, 100, ACK | PSH), data_row(&f, 1, 17, ACK | PSH), data_row(&f, 1, 600, ACK | PSH);
    data_row(&f, 0, 0, ACK), data_row(&f, 0, 0, ACK), data_row(&f, 0, 0, ACK), data_row(&f, 1, 0, ACK);
    plan.close_side = 2, plan.close_shape = 0;
    memset(&st, 0, sizeof st);
    ns_repair_out_clear(&out);
    assert_int_equal(ns_repair_flow(&o, 0, f.rows, f.dir, f.iat, f.n, &out, &st), NS_OK);
    check_all(&out, &o, 1);
    assert_int_equal(out.n_pkts, f.n), assert_int_equal(st.acks_turned + st.acks_to_data + st.acks_dropped, 0);
    pk fin1, a1, a2;
    view(&out, 5, &fin1), view(&out, 6, &a1), view(&out, 7, &a2);
    assert_int_equal(fin1.flags, ACK | PSH | FIN), assert_int_equal(fin1.payload, 600), assert_int_equal(fin1.src >> 24, 198);
    assert_int_equal(a1.flags, ACK), assert_int_equal(a1.ack, fin1.seq + 600);
    assert_int_equal(a2.flags, ACK), assert_int_equal(a2.ack, fin1.seq + 601);
    view(&out, 8, &v);
    assert_int_equal(v.flags, ACK | FIN), assert_int_equal(v.src >> 24, 10);
    view(&out, 9, &v);
    assert_int_equal(v.flags, ACK), assert_int_equal(v.src >> 24, 198);
    /* The plan's side the client's: the rows do not fit it, the client's FIN comes in the last rows. */
    plan.close_side = 1;
    ns_repair_out_clear(&out);
    assert_int_equal(ns_repair_flow(&o, 0, f.rows, f.dir, f.iat, f.n, &out, NULL), NS_OK);
    check_all(&out, &o, 1);
    for (size_t i = 0; i < out.n_pkts; i++) {
        view(&out, i, &v);
        if (v.flags & FIN) break;
    }
    assert_int_equal(v.src >> 24, 10);
    /* An RST close after FINs: the client's FIN, the server's, then the client's RST alone (no ACK). */
    f.n = 0;
    handshake(&f, 80);
    for (int i = 0; i < 5; i++) data_row(&f, i & 1, 40, ACK | PSH);
    plan.close = NS_REPAIR_CLOSE_RST, plan.close_side = 1, plan.close_shape = NS_REPAIR_SHAPE_FIN_RST;
    ns_repair_out_clear(&out);
    assert_int_equal(ns_repair_flow(&o, 0, f.rows, f.dir, f.iat, f.n, &out, NULL), NS_OK);
    check_all(&out, &o, 1);
    assert_int_equal(out.n_pkts, f.n);
    static const int fin_rst[3][2] = {{0, ACK | PSH | FIN}, {1, ACK | PSH | FIN}, {0, RST}};
    for (int i = 0; i < 3; i++) {
        view(&out, out.n_pkts - 3 + (size_t)i, &v);
        assert_int_equal(v.src >> 24 == 198, fin_rst[i][0]), assert_int_equal(v.flags, fin_rst[i][1]);
    }
    /* An RST alone on the plan's side: the server's, though the last row is the client's. */
    plan.close_shape = 0, plan.close_side = 2;
    ns_repair_out_clear(&out);
    assert_int_equal(ns_repair_flow(&o, 0, f.rows, f.dir, f.iat, f.n, &out, NULL), NS_OK);
    check_all(&out, &o, 1);
    view(&out, out.n_pkts - 1, &v);
    assert_int_equal(v.flags, RST | ACK), assert_int_equal(v.src >> 24, 198);
    ns_repair_out_free(&out);
}

static void test_tcp_flags_and_rst(void **state)
{
    (void)state;
    static tflow f;
    f.n = 0;
    /* No SYN anywhere: no handshake, numbers from the first segments. */
    tcp_row(add(&f, 1, 0), 10, 443, 50000, 7777, 1234, PSH);                 /* no ACK: set */
    int8_t *r = add(&f, 0, 0);                                               /* zero gap: 1 us */
    tcp_row(r, 5, 50000, 443, 1, 1, ACK | URG);                              /* URG, pointer 0 */
    r = add(&f, 0, 500);
    tcp_row(r, 5, 50000, 443, 1, 1, ACK | URG);
    ns_nprint_put(r, NS_NPF_TCP_URP, 3);        /* a fine URG */
    ns_nprint_put(r, NS_NPF_TCP_WSIZE, 0);      /* a zero window */
    tcp_row(add(&f, 1, 1000), 30, 443, 50000, 1, 1, RST | FIN | PSH | URG);  /* impossible set */
    tcp_row(add(&f, 0, 1000), 0, 50000, 443, 1, 1, ACK);                     /* after the RST */
    tcp_row(add(&f, 1, 1000), 0, 443, 50000, 1, 1, ACK);
    ns_repair_out out = {0};
    ns_repair_stats st = {0};
    repair(&f, 3, &out, &st);
    assert_int_equal(out.n_pkts, 4);
    assert_int_equal(st.dropped, 2);
    assert_int_equal(st.rows, 6), assert_int_equal(st.packets, 4);
    check_default(&out, 4);
    pk v[4];
    for (int i = 0; i < 4; i++) view(&out, (size_t)i, &v[i]);
    assert_int_equal(v[0].flags, PSH | ACK), assert_int_equal(v[0].seq, 7777), assert_int_equal(v[0].ack, 1);
    assert_int_equal(v[1].flags, ACK), assert_int_equal(v[1].urp, 0), assert_int_equal(v[1].seq, 1);
    assert_int_equal(v[1].ts - v[0].ts, 1000);
    assert_int_equal(v[2].flags, ACK | URG), assert_int_equal(v[2].urp, 3);
    assert_int_equal(v[2].win, 29200);                                       /* the direction's last window */
    assert_int_equal(v[3].flags, RST), assert_int_equal(v[3].payload, 0), assert_int_equal(v[3].seq, 7787);
    /* Flow 3 of the plan: 4th client host, first server host. */
    assert_int_equal(v[0].dst, 0x0A000004), assert_int_equal(v[0].src, 0xC6336401);
    assert_int_equal(st.rst_cleared, 0);
    ns_repair_out_free(&out);

    /* An RST with more than two rows after it is noise in the flag, not the flow's end: the rows stay, the
     * RST becomes an ACK (real flows have 0.5% of their packets after an RST: one or two in flight). */
    f.n = 0;   /* (not on a TLS or HTTP port, where the client's data would go first: client_first) */
    handshake(&f, 5000);
    tcp_row(add(&f, 1, 1000), 10, 5000, 50000, 10, 2, RST | ACK);          /* three rows follow */
    for (int i = 0; i < 3; i++) tcp_row(add(&f, i & 1, 1000), 10, i & 1 ? 5000 : 50000, i & 1 ? 50000 : 5000, 2, 10, ACK | PSH);
    ns_repair_out out2 = {0};
    ns_repair_stats st2 = {0};
    repair(&f, 0, &out2, &st2);
    assert_int_equal(out2.n_pkts, 7), assert_int_equal(st2.dropped, 0), assert_int_equal(st2.rst_cleared, 1);
    check_default(&out2, 1);
    view(&out2, 3, &v[0]);
    assert_int_equal(v[0].flags, ACK), assert_int_equal(v[0].payload, 10);
    /* The flow asked for an RST: it ends with one, in its last row. */
    view(&out2, 6, &v[0]);
    assert_int_equal(v[0].flags, RST | ACK), assert_int_equal(v[0].payload, 0), assert_int_equal(st2.close_added, 0);
    ns_repair_out_free(&out2);
    /* One row after it: the RST ends the flow, and the row is dropped. */
    f.n = 5;
    ns_repair_out out3 = {0};
    ns_repair_stats st3 = {0};
    repair(&f, 0, &out3, &st3);
    assert_int_equal(out3.n_pkts, 4), assert_int_equal(st3.dropped, 1), assert_int_equal(st3.rst_cleared, 0);
    ns_repair_out_free(&out3);
}

static void test_one_transport_per_flow(void **state)
{
    (void)state;
    static tflow f;
    f.n = 0;
    tcp_row(add(&f, 0, 0), 0, 50000, 8080, 1, 0, ACK);
    udp_row(add(&f, 1, 100), 20, 8080, 50000);
    tcp_row(add(&f, 1, 100), 0, 8080, 50000, 1, 0, ACK);
    memset(add(&f, 0, 100), -1, W);                       /* no IP header at all */
    icmp_row(add(&f, 0, 100), 0, 8, 1);
    tcp_row(add(&f, 0, 100), 7, 50000, 8080, 1, 0, ACK);
    int8_t *r = add(&f, 1, 100);                          /* TCP and UDP bits both: the IP protocol says TCP */
    tcp_row(r, 0, 8080, 50000, 1, 0, ACK);
    ns_nprint_bits_put(r, NS_NP_COL_UDP_SPORT, 64, 0);
    ns_repair_out out = {0};
    ns_repair_stats st = {0};
    repair(&f, 0, &out, &st);
    /* Rows 2 and 3 are empty ACKs of nothing new: the first turns to the
     * client, which has the 20 bytes to acknowledge; the next, with nothing
     * to acknowledge on either side, stands for the server's next 20. */
    assert_int_equal(out.n_pkts, 7);
    assert_int_equal(st.converted, 3);
    assert_int_equal(st.acks_turned, 1), assert_int_equal(st.acks_to_data, 1), assert_int_equal(st.acks_dropped, 0);
    check_default(&out, 1);
    pk v;
    view(&out, 1, &v);
    assert_int_equal(v.proto, 6);
    assert_int_equal(v.payload, 20);                      /* the UDP row's payload, now TCP */
    assert_int_equal(v.win, 65535);                       /* no window generated for that direction yet */
    assert_int_equal(v.sport, 8080);
    view(&out, 2, &v);
    assert_int_equal(v.payload, 0), assert_int_equal(v.src >> 24, 10), assert_int_equal(v.flags, ACK);
    view(&out, 3, &v);
    assert_int_equal(v.payload, 20), assert_int_equal(v.ttl, 64), assert_int_equal(v.src >> 24, 198);
    view(&out, 4, &v);
    assert_int_equal(v.payload, 0), assert_int_equal(v.src >> 24, 10);
    ns_repair_out_free(&out);

    /* Mostly UDP: UDP wins, the server port is the one most rows name. */
    f.n = 0;
    udp_row(add(&f, 0, 0), 4, 1000, 53);
    udp_row(add(&f, 1, 100), 40, 53, 1000);
    udp_row(add(&f, 0, 100), 4, 1000, 5353);
    tcp_row(add(&f, 0, 100), 0, 1000, 53, 0, 0, SYN);
    repair(&f, 0, &out, NULL);
    check_default(&out, 1);
    for (size_t i = 0; i < out.n_pkts; i++) {
        view(&out, i, &v);
        assert_int_equal(v.proto, 17);
        assert_int_equal(f.dir[i] ? v.sport : v.dport, 53);
    }
    ns_repair_out_free(&out);
}

static void test_icmp(void **state)
{
    (void)state;
    static tflow f;
    f.n = 0;
    icmp_row(add(&f, 0, 0), 56, 8, 0x00010001);
    icmp_row(add(&f, 1, 100), 56, 0, 0x00010001);
    icmp_row(add(&f, 1, 100), 0, 3, 0);         /* destination unreachable: no packet to quote */
    icmp_row(add(&f, 0, 100), 0, 200, 0);
    ns_repair_out out = {0};
    repair(&f, 0, &out, NULL);
    check_default(&out, 1);
    pk v;
    static const int want[4] = {8, 0, 0, 8};
    for (int i = 0; i < 4; i++) view(&out, (size_t)i, &v), assert_int_equal(v.type, want[i]);
    view(&out, 0, &v);
    assert_int_equal(v.payload, 56);
    assert_int_equal(be32(v.p.l4, 4), 0x00010001);
    ns_repair_out_free(&out);
}

/* ICMP errors as generated (the IoT corpus's HueBridge sends host
 * unreachable and redirects, the WeMo family administratively prohibited;
 * written as echo they read as another class): type, code and a redirect's
 * gateway kept, an unreachable's unused word 0, the quoted datagram whole
 * (check_packet). Those with no room for a quote, an unknown code, or in
 * IPv6 stay echo. */
static void test_icmp_errors(void **state)
{
    (void)state;
    static tflow f;
    f.n = 0;
    static const struct { int dir, pay, type, code; uint32_t roh; int want, want_code; uint32_t want_roh; } m[] = {
        {0, 337, 3, 1, 0, 3, 1, 0},          {0, 337, 5, 1, 0x0a0a0a06, 5, 1, 0x0a0a0a06},
        {1, 48, 3, 13, 0x00080001, 3, 13, 0}, {1, 36, 11, 0, 0, 11, 0, 0},
        {0, 20, 3, 3, 0, 8, 0, 0},            {1, 48, 3, 16, 0, 0, 0, 0},
        {0, 48, 5, 4, 0, 8, 0, 0},
    };
    enum { N = sizeof m / sizeof m[0] };
    for (int i = 0; i < N; i++) {
        int8_t *r = add(&f, m[i].dir, i ? 1000 : 0);
        icmp_row(r, m[i].pay, m[i].type, m[i].roh);
        ns_nprint_put(r, NS_NPF_ICMP_CODE, (uint64_t)m[i].code);
    }
    ns_repair_out out = {0};
    repair(&f, 0, &out, NULL);
    check_default(&out, 1);
    assert_int_equal(out.n_pkts, N);
    pk v;
    for (int i = 0; i < N; i++) {
        view(&out, (size_t)i, &v);
        assert_int_equal(v.type, m[i].want), assert_int_equal(v.code, m[i].want_code);
        assert_int_equal(v.payload, m[i].pay);
        if (m[i].want != 0 && m[i].want != 8) assert_int_equal(be32(v.p.l4, 4), m[i].want_roh);
    }
    ns_repair_out_free(&out);
    /* The same rows as IPv6: ICMPv6 has its own errors, which repair writes as echo. */
    for (int i = 0; i < N; i++) to_ipv6(f.rows + i * W, 0);
    repair(&f, 0, &out, NULL);
    for (int i = 0; i < N; i++) {
        view(&out, (size_t)i, &v);
        assert_true(v.type == 128 || v.type == 129);
    }
    ns_repair_out_free(&out);
}

static void test_address_plan(void **state)
{
    (void)state;
    static tflow f;
    f.n = 0;
    udp_row(add(&f, 0, 0), 0, 1, 53);
    udp_row(add(&f, 1, 0), 0, 53, 1);
    ns_repair_opts o;
    ns_repair_opts_init(&o);
    assert_int_equal(ns_repair_parse_net("192.0.2.77/28", "--client-net", &o.client_net, &o.client_prefix), NS_OK);
    assert_int_equal(o.client_net, 0xC0000240), assert_int_equal(o.client_prefix, 28);
    assert_int_equal(ns_repair_check_opts(&o), NS_OK);
    ns_repair_out out = {0};
    enum { N = 14 * 254 + 30 };                      /* more flows than address pairs: ports differ */
    for (uint64_t k = 0; k < N; k++)
        assert_int_equal(ns_repair_flow(&o, k, f.rows, f.dir, f.iat, f.n, &out, NULL), NS_OK);
    assert_int_equal(ns_repair_merge(&out), NS_OK);
    check_all(&out, &o, N);
    /* Distinct 5-tuples: (client, client port) pairs are unique per flow. */
    uint64_t *keys = calloc(N, sizeof *keys);
    assert_non_null(keys);
    pk v;
    for (size_t i = 0; i < out.n_pkts; i++) {
        view(&out, i, &v);
        uint32_t client = v.src >> 24 == 192 ? v.src : v.dst;
        uint64_t key = (uint64_t)client << 32 | (uint64_t)(v.src >> 24 == 192 ? v.sport : v.dport) << 16 |
                       (v.src >> 24 == 192 ? v.dst : v.src) % 256;
        assert_true(client > 0xC0000240 && client < 0xC000024F);          /* hosts of the /28 */
        if (keys[v.flow]) assert_true(keys[v.flow] == key);
        keys[v.flow] = key;
        if (i) assert_true(out.pkts[i].ts_ns > out.pkts[i - 1].ts_ns);     /* merged: strictly increasing */
    }
    for (size_t a = 0; a < N; a++)
        for (size_t b = a + 1; b < N; b++) assert_true(keys[a] != keys[b]);
    free(keys);
    ns_repair_out_free(&out);

    /* Too many flows for the plan, overlapping nets, bad text. */
    assert_int_equal(ns_repair_parse_net("10.9.9.9/32", "--client-net", &o.client_net, &o.client_prefix), NS_OK);
    assert_int_equal(ns_repair_parse_net("10.9.9.8/32", "--server-net", &o.server_net, &o.server_prefix), NS_OK);
    assert_int_equal(ns_repair_flow(&o, 16383, f.rows, f.dir, f.iat, f.n, &out, NULL), NS_OK);
    assert_int_equal(ns_repair_flow(&o, 16384, f.rows, f.dir, f.iat, f.n, &out, NULL), NS_ERANGE);
    assert_non_null(strstr(ns_errmsg(), "--client-net"));
    assert_int_equal(ns_repair_parse_net("10.9.0.0/16", "--server-net", &o.server_net, &o.server_prefix), NS_OK);
    assert_int_equal(ns_repair_check_opts(&o), NS_EARG);
    assert_non_null(strstr(ns_errmsg(), "overlap"));
    assert_int_equal(ns_repair_parse_net("10.0.0/24", "--client-net", &o.client_net, &o.client_prefix), NS_EARG);
    assert_non_null(strstr(ns_errmsg(), "--client-net"));
    assert_int_equal(ns_repair_parse_net("10.0.0.0/33", "--client-net", &o.client_net, &o.client_prefix), NS_EARG);
    ns_repair_out_free(&out);
}

/* Without a trace plan too: a client and server pair's first DHCP flow from
 * 68 (what nDPI tells DHCP by), mDNS from 5353; the pair's later flows take
 * the plan's ports from 49152 up, which keep 5-tuples distinct. */
static void test_fixed_client_ports(void **state)
{
    (void)state;
    static tflow f;
    static const uint16_t server[3] = {67, 5353, 123}, first[3] = {68, 5353, 49152};
    for (int s = 0; s < 3; s++) {
        f.n = 0;
        udp_row(add(&f, 0, 0), 300, 50001, server[s]);
        udp_row(add(&f, 1, 1000), 300, server[s], 50001);
        ns_repair_out out = {0};
        enum { PAIRS = 254 * 254 };
        repair(&f, 0, &out, NULL);
        repair(&f, PAIRS, &out, NULL);   /* the same pair again */
        assert_int_equal(ns_repair_merge(&out), NS_OK);
        check_default(&out, PAIRS + 1);
        pk v;
        for (size_t i = 0; i < out.n_pkts; i++) {
            view(&out, i, &v);
            int back = v.src >> 24 != 10;
            uint16_t cport = back ? v.dport : v.sport;
            assert_int_equal(back ? v.sport : v.dport, server[s]);
            assert_int_equal(cport, v.flow ? 49153 : first[s]);
        }
        ns_repair_out_free(&out);
    }
}

/* A plan's group flow (tmodel.h, "Groups"): the client's datagrams go to
 * the group, with its MAC (RFC 1112: 01:00:5e and the low 23 bits; the
 * broadcast's ff:ff:ff:ff:ff:ff), from 0.0.0.0 when the plan says so (the
 * client's own MAC still); a row the other way goes the client's way too,
 * so that the flow reads back as one (as real ones have no answers). */
static void test_group_destinations(void **state)
{
    (void)state;
    static tflow f;
    static const uint32_t group[2] = {0xE00000FBu, 0xFFFFFFFFu};
    static const uint8_t mac[2][6] = {{0x01, 0x00, 0x5e, 0x00, 0x00, 0xfb}, {0xff, 0xff, 0xff, 0xff, 0xff, 0xff}};
    for (int g = 0; g < 2; g++) {
        uint16_t sp = g ? 67 : 5353, cp = g ? 68 : 5353;
        f.n = 0;
        udp_row(add(&f, 0, 0), 100, cp, sp);
        udp_row(add(&f, 1, 1000), 100, sp, cp);
        udp_row(add(&f, 0, 1000), 100, cp, sp);
        ns_repair_plan plan;
        memset(&plan, 0, sizeof plan);
        plan.start_ns = 1700000000LL * 1000000000LL, plan.client = 5, plan.server = 9, plan.client_port = cp;
        plan.ttl[0] = 255, plan.group = group[g], plan.client_zero = (uint8_t)g;
        ns_repair_opts o;
        ns_repair_opts_init(&o);
        o.plan = &plan, o.n_plan = 1;
        ns_repair_out out = {0};
        ns_repair_stats st;
        memset(&st, 0, sizeof st);
        assert_int_equal(ns_repair_flow(&o, 0, f.rows, f.dir, f.iat, f.n, &out, &st), NS_OK);
        assert_int_equal(out.n_pkts, 3);
        assert_int_equal(st.redirected, 1);
        for (size_t i = 0; i < 3; i++) {
            pk v;
            view(&out, i, &v);
            assert_int_equal(v.dst, group[g]), assert_int_equal(v.src, g ? 0 : 0x0A000006u); /* host 5 of 10.0.0.0/24 */
            assert_int_equal(v.sport, cp), assert_int_equal(v.dport, sp), assert_int_equal(v.ttl, 255);
            assert_memory_equal(v.p.eth.data, mac[g], 6);
            const uint8_t own[6] = {0x02, 0x00, 0x0a, 0x00, 0x00, 0x06}; /* the client's, also from 0.0.0.0 */
            assert_memory_equal(v.p.eth.data + 6, own, 6);
        }
        ns_repair_out_free(&out);
    }
}

/* A TLS handshake of f: the client's SYN with options syn (20 bytes), the SYN-ACK with synack (n bytes), then
 * `data` segments of 40 bytes each way in turn, each with NOP NOP and a timestamp whose TSecr ends in tsecr_end. */
static void handshake_rows(tflow *f, const uint8_t *syn, const uint8_t *synack, int n, int data, uint8_t tsecr_end)
{
    f->n = 0;
    tcp_row(add(f, 0, 0), 0, 50000, 443, 1, 0, SYN), tcp_options(f->rows, syn, 20);
    tcp_row(add(f, 1, 1000), 0, 443, 50000, 9, 2, SYN | ACK), tcp_options(f->rows + W, synack, n);
    for (int i = 0; i < data; i++) {
        int8_t *r = add(f, i & 1, 1000);
        tcp_row(r, 40, i & 1 ? 443 : 50000, i & 1 ? 50000 : 443, 2, 10, ACK | PSH);
        uint8_t ts[12] = {1, 1, 8, 10, 0, 0, 1, 2, 0, 0, 0, tsecr_end};
        tcp_options(r, ts, 12);
    }
}

/* f repaired as flow 0 of a plan of the SYN-ACK timestamp synack_ts and nothing else (checked: check_all). */
static void repair_planned(const tflow *f, uint8_t synack_ts, ns_repair_out *out, int check)
{
    ns_repair_plan plan;
    memset(&plan, 0, sizeof plan);
    plan.start_ns = 1700000000LL * 1000000000LL, plan.client_port = 50001, plan.synack_ts = synack_ts;
    ns_repair_opts o;
    ns_repair_opts_init(&o);
    o.plan = &plan, o.n_plan = 1;
    assert_int_equal(ns_repair_flow(&o, 0, f->rows, f->dir, f->iat, f->n, out, NULL), NS_OK);
    if (check) check_all(out, &o, 1);
}

/* A plan's SYN-ACK timestamp (the class's servers' share): 2, none, and then
 * none on any segment (RFC 7323); 1, one, even where the SYN-ACK row
 * generated none of its own (session 8: D-LinkSwitch's servers answer 36%
 * of SYNs without, the pcaps 0%). */
static void test_planned_synack_timestamp(void **state)
{
    (void)state;
    static const uint8_t all[20] = {2, 4, 0x05, 0xb4, 4, 2, 8, 10, 0, 0, 0, 5, 0, 0, 0, 0, 1, 3, 3, 8};
    static const uint8_t mss_ws[8] = {2, 4, 0x05, 0xb4, 3, 3, 7, 1};
    static tflow f;
    for (int want = 1; want <= 2; want++) {
        handshake_rows(&f, all, want == 1 ? mss_ws : all, want == 1 ? 8 : 20, 4, 0);
        ns_repair_out out = {0};
        repair_planned(&f, (uint8_t)want, &out, 1);
        assert_int_equal(out.n_pkts, 6);
        for (size_t i = 0; i < 6; i++) {
            pk v;
            view(&out, i, &v);
            assert_int_equal((v.opts & 1u << 8) != 0, i == 0 || want == 1);
            /* Without timestamps, the NOPs that aligned them go too: a 20-byte header, as the class's real
             * segments without options (session 14; before, NOP NOP EOL EOL: 24 bytes). */
            if (want == 2 && i >= 2) assert_int_equal(v.doff, 5), assert_int_equal(v.opts, 0);
        }
        ns_repair_out_free(&out);
        /* NETSYNTH_REPAIR_OFF=nops keeps them: NOP NOP and EOL padding, 24 bytes */
        setenv("NETSYNTH_REPAIR_OFF", "nops", 1);
        repair_planned(&f, (uint8_t)want, &out, 0);
        unsetenv("NETSYNTH_REPAIR_OFF");
        pk v;
        view(&out, 2, &v);
        assert_int_equal(v.doff, want == 2 ? 6 : 8);
        ns_repair_out_free(&out);
    }
}

/* A window scale of shift 1 ends a SYN's options in a byte of value 1, a NOP's kind: the D-Link devices' SYNs (02 04
 * 05 b4 04 02 08 0a TSval TSecr 01 03 03 01) went out with shift 0, the trailing-NOP rule (nops, session 14)
 * taking the shift for a NOP; in m27 seed 1's pcaps every D-LinkSiren SYN to port 443 had 0, its rows and the
 * real ones 1. A TSecr ending in 1 lost its last byte the same way. */
static void test_window_scale_of_one(void **state)
{
    (void)state;
    static const uint8_t syn[20] = {2, 4, 0x05, 0xb4, 4, 2, 8, 10, 0xff, 0xff, 0xd8, 0x2a, 0, 0, 0, 0, 1, 3, 3, 1};
    static const uint8_t synack[20] = {2, 4, 0x05, 0x64, 4, 2, 8, 10, 0x1a, 0x17, 0xbb, 0x6e, 0xff, 0xff, 0xd8, 0x2a,
                                       1, 3, 3, 8};
    static tflow f;
    handshake_rows(&f, syn, synack, 20, 2, 1);
    ns_repair_out out = {0};
    repair_planned(&f, 0, &out, 1);
    assert_int_equal(out.n_pkts, 4);
    for (size_t i = 0; i < 4; i++) {
        pk v;
        view(&out, i, &v);
        assert_int_equal(v.doff, i < 2 ? 10 : 8);
        assert_true(v.opts & 1u << 8);
        if (i < 2) {   /* the window scale as generated: NOP, kind 3, length 3, shift 1 and 8 */
            const uint8_t ws[4] = {1, 3, 3, i ? 8 : 1};
            assert_memory_equal(v.p.l4.data + 20 + 16, ws, 4);
        }
    }
    ns_repair_out_free(&out);
}

/* A SYN row whose options came out garbled (MSS, then a SACK-permitted of length 0: the rest goes) offers the
 * timestamps its flow's rows carry, and the flow keeps them (RFC 7323: only where both SYNs had them): 17 of
 * WeMoInsightSwitch's 80 answered TCP flows in m27 seed 1's pcaps went without, every segment a 20-byte header,
 * where its real segments all carry one. NETSYNTH_REPAIR_OFF=synts: MSS alone, and no timestamps (before). */
static void test_syn_offers_the_rows_timestamps(void **state)
{
    (void)state;
    static const uint8_t syn[20] = {2, 4, 0x05, 0xb4, 4, 0, 8, 10, 0, 0, 0, 5, 0, 0, 0, 0, 1, 3, 3, 1};
    static const uint8_t synack[20] = {2, 4, 0x05, 0x64, 4, 2, 8, 10, 0, 0, 0, 9, 0, 0, 0, 5, 1, 3, 3, 8};
    static tflow f;
    handshake_rows(&f, syn, synack, 20, 4, 0);
    for (int off = 0; off < 2; off++) {
        if (off) setenv("NETSYNTH_REPAIR_OFF", "synts", 1);
        ns_repair_out out = {0};
        repair_planned(&f, 0, &out, 1);
        unsetenv("NETSYNTH_REPAIR_OFF");
        assert_int_equal(out.n_pkts, 6);
        for (size_t i = 0; i < 6; i++) {
            pk v;
            view(&out, i, &v);
            assert_int_equal((v.opts & 1u << 8) != 0, !off);
            if (i >= 2) assert_int_equal(v.doff, off ? 5 : 8);
        }
        ns_repair_out_free(&out);
    }
}

static void test_raw_link_random_payload_and_mtu(void **state)
{
    (void)state;
    static tflow f;
    f.n = 0;
    udp_row(add(&f, 0, 0), 3000, 1000, 9999);       /* more than the MTU */
    udp_row(add(&f, 1, 0), 64, 9999, 1000);
    ns_repair_opts o;
    ns_repair_opts_init(&o);
    o.linktype = NS_LINKTYPE_RAW, o.payload = NS_REPAIR_PAYLOAD_RANDOM, o.start_ns = 5000000123;
    ns_repair_out out = {0};
    assert_int_equal(ns_repair_flow(&o, 0, f.rows, f.dir, f.iat, f.n, &out, NULL), NS_OK);
    check_all(&out, &o, 1);
    pk v;
    check_packet(&out, 0, NS_LINKTYPE_RAW, &v);
    assert_int_equal(v.total, 1500);
    assert_true(v.ts == 5000001000);                 /* whole microseconds */
    check_packet(&out, 1, NS_LINKTYPE_RAW, &v);
    size_t zeros = 0;
    for (size_t i = 0; i < v.payload; i++) zeros += u8(v.p.payload, i) == 0;
    assert_true(zeros < 8);
    ns_repair_out_free(&out);
}

static void test_stats_and_report(void **state)
{
    (void)state;
    /* Rows encoded from valid packets change only in what repair assigns. */
    static tflow f;
    f.n = 0;
    static const uint8_t mss[4] = {2, 4, 0x05, 0xb4};
    tcp_row(add(&f, 0, 0), 0, 49152, 443, 100, 0, SYN), tcp_options(f.rows, mss, 4);
    tcp_row(add(&f, 1, 1000), 0, 443, 49152, 900, 101, SYN | ACK), tcp_options(f.rows + W, mss, 4);
    tcp_row(add(&f, 0, 1000), 0, 49152, 443, 101, 901, ACK);
    ns_repair_out out = {0};
    ns_repair_stats st = {0};
    repair(&f, 0, &out, &st);
    assert_int_equal(st.flows, 1), assert_int_equal(st.rows, 3), assert_int_equal(st.packets, 3);
    size_t n;
    ns_nprint_fields(&n);
    for (size_t i = 0; i < n; i++)
        if (!ns_repair_field_assigned(i)) assert_int_equal(st.changed[i], 0);
    assert_int_equal(st.bits[NS_NPF_TCP_SEQ], 3 * 32);
    assert_true(st.changed[NS_NPF_IPV4_CKSUM] > 0);
    assert_true(ns_repair_field_assigned(NS_NPF_IPV4_SRC));
    /* One bad length: only ipv4_tl (and what repair assigns) changes. */
    ns_nprint_put(f.rows + W * 2, NS_NPF_IPV4_TL, 8);
    memset(&st, 0, sizeof st);
    repair(&f, 0, &out, &st);
    size_t tl = NS_NPF_IPV4_TL;
    for (size_t i = 0; i < n; i++)
        if (!ns_repair_field_assigned(i) && i != tl) assert_int_equal(st.changed[i], 0);
    assert_int_equal(st.changed[tl], 1);             /* 8 -> 40: one bit differs */
    char line[512];
    ns_repair_summary(&st, 3, line, sizeof line);
    assert_non_null(strstr(line, "ipv4_tl 2.1%"));
    assert_non_null(strstr(line, "0 packets added to close flows"));
    assert_null(strstr(line, "ipv4_cksum"));
    const char *path = tu_path(tu_tmpdir(), "report.json");
    assert_int_equal(ns_repair_write_report(&st, path), NS_OK);
    uint8_t *json;
    size_t len;
    assert_int_equal(ns_read_file(path, &json, &len), NS_OK);
    assert_non_null(strstr((char *)json, "\"field\": \"ipv4_tl\", \"bits\": 48, \"changed\": 1"));
    assert_non_null(strstr((char *)json, "\"field\": \"ipv4_src\", \"bits\": 96"));
    assert_non_null(strstr((char *)json, "\"assigned\": true"));
    assert_non_null(strstr((char *)json, "\"acks_dropped\": 0"));
    assert_null(strstr((char *)json, "eth_"));   /* a layer the model does not learn */
    assert_null(strstr((char *)json, "ipv6"));   /* IPv4 flows: their absent IPv6 layer is no generated bits */
    free(json);
    /* A tiny buffer is never overrun. */
    assert_true(ns_repair_summary(&st, 3, line, 10) > 10);
    assert_int_equal(strlen(line), 9);
    ns_repair_out_free(&out);
}

static void test_application_payloads(void **state)
{
    (void)state;
    static tflow f;
    f.n = 0;
    udp_row(add(&f, 0, 0), 5, 40000, 53);      /* shorter than a DNS header: grown */
    udp_row(add(&f, 1, 0), 0, 53, 40000);      /* empty stays empty */
    udp_row(add(&f, 1, 0), 40, 53, 40000);
    ns_repair_out out = {0};
    repair(&f, 0, &out, NULL);
    check_default(&out, 1);
    pk v;
    view(&out, 0, &v);
    assert_int_equal(v.payload, 12), assert_int_equal(u8(v.p.payload, 2), 0);
    view(&out, 1, &v);
    assert_int_equal(v.payload, 0);
    view(&out, 2, &v);
    assert_int_equal(v.payload, 40), assert_int_equal(u8(v.p.payload, 2), 0x80);   /* a response */
    ns_repair_out_free(&out);

    f.n = 0;
    udp_row(add(&f, 0, 0), 10, 40000, 123);
    udp_row(add(&f, 0, 0), 300, 40000, 67);
    repair(&f, 0, &out, NULL);
    view(&out, 0, &v);
    assert_int_equal(v.payload, 48), assert_int_equal(u8(v.p.payload, 0), 0x23);   /* NTP v4 client */
    view(&out, 1, &v);
    assert_int_equal(v.proto, 17), assert_int_equal(v.dport, 123);                  /* 123 is the flow's port */
    ns_repair_out_free(&out);

    f.n = 0;
    tcp_row(add(&f, 0, 0), 0, 50000, 53, 10, 0, SYN);
    tcp_row(add(&f, 1, 0), 0, 53, 50000, 90, 11, SYN | ACK);
    tcp_row(add(&f, 0, 0), 3, 50000, 53, 11, 91, ACK | PSH);   /* DNS over TCP: 14 bytes at least */
    tcp_row(add(&f, 1, 0), 0, 53, 50000, 91, 14, ACK);
    repair(&f, 0, &out, NULL);
    check_default(&out, 1);
    view(&out, 2, &v);
    assert_int_equal(v.payload, 14), assert_int_equal(be16(v.p.payload, 0), 12);
    view(&out, 3, &v);
    assert_int_equal(v.ack, 11 + 14);
    ns_repair_out_free(&out);
}

/* Generated payload bytes in a row's payload layer. */
static void put_payload(int8_t *row, const void *bytes, int n)
{
    for (int i = 0; i < n; i++) ns_nprint_bits_put(row, NS_NP_COL_PAY + 8 * i, 8, ((const uint8_t *)bytes)[i]);
}

/* The learned bytes win over today's fill and come out with lengths and
 * checksums whole (check_default); fill goes on past them (an HTTP head the
 * bytes start is ended first, app.c); a DNS id is the flow's, not the
 * generated one; a pure ACK stays empty. */
static void test_generated_payload(void **state)
{
    (void)state;
    static tflow f;
    f.n = 0;
    static const char get[] = "GET /index.html HTTP/1.1\r\nHost: a\r\n\r\n";
    int ng = (int)sizeof get - 1;
    tcp_row(add(&f, 0, 0), 0, 50000, 80, 10, 0, SYN);
    tcp_row(add(&f, 1, 0), 0, 80, 50000, 90, 11, SYN | ACK);
    tcp_row(add(&f, 0, 0), 0, 50000, 80, 11, 91, ACK);
    put_payload(f.rows + 2 * W, get, 4);                                  /* an ACK: no payload for it */
    int8_t *r = add(&f, 0, 0);
    tcp_row(r, 10, 50000, 80, 11, 91, ACK | PSH);                          /* shorter than its bytes: grows */
    put_payload(r, get, ng);
    r = add(&f, 1, 0);
    tcp_row(r, 200, 80, 50000, 91, 11 + ng, ACK | PSH);                    /* longer: bytes, then fill */
    put_payload(r, "HTTP/1.1 200 OK\r\n", 17);
    ns_repair_out out = {0};
    repair(&f, 0, &out, NULL);
    check_default(&out, 1);
    pk v;
    view(&out, 2, &v);
    assert_int_equal(v.payload, 0);
    view(&out, 3, &v);
    assert_int_equal(v.payload, ng);
    assert_memory_equal(v.p.payload.data, get, (size_t)ng);
    view(&out, 4, &v);
    assert_int_equal(v.payload, 200);
    assert_memory_equal(v.p.payload.data, "HTTP/1.1 200 OK\r\nContent-Length: 160\r\n\r\n", 40); /* head ended (app.c) */
    for (size_t i = 40; i < 200; i++) assert_int_equal(v.p.payload.data[i], 0);
    ns_repair_out_free(&out);

    /* DNS: the generated query whole (id aside), its answer's id the query's. */
    f.n = 0;
    static const uint8_t q[] = {0xab, 0xcd, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0, 1, 'a', 0, 0, 1, 0, 1};
    static const uint8_t a[] = {0x12, 0x34, 0x81, 0x80, 0, 1, 0, 1, 0, 0, 0, 0, 1, 'a', 0, 0, 1, 0, 1};
    udp_row(add(&f, 0, 0), (int)sizeof q, 40000, 53);
    put_payload(f.rows, q, (int)sizeof q);
    udp_row(add(&f, 1, 0), (int)sizeof a + 16, 53, 40000);
    put_payload(f.rows + W, a, (int)sizeof a);
    repair(&f, 0, &out, NULL);
    check_default(&out, 1);
    pk v0, v1;
    view(&out, 0, &v0), view(&out, 1, &v1);
    assert_int_equal(v0.payload, sizeof q);
    assert_memory_equal(v0.p.payload.data + 2, q + 2, sizeof q - 2);
    assert_memory_equal(v1.p.payload.data + 2, a + 2, sizeof a - 2);
    assert_int_equal(be16(v0.p.payload, 0), be16(v1.p.payload, 0));
    assert_int_not_equal(be16(v0.p.payload, 0), 0xabcd);
    ns_repair_out_free(&out);

    /* Bytes the application's dissectors would call malformed (a DNS message
     * promising records it does not hold, an NTP version 0) give way to the
     * fill's smallest message. */
    f.n = 0;
    static const uint8_t bad[] = {0xab, 0xcd, 1, 0, 0, 1, 0, 3, 0, 0, 0, 0, 1, 'a', 0, 0, 1, 0, 1};
    udp_row(add(&f, 0, 0), (int)sizeof bad, 40000, 53);
    put_payload(f.rows, bad, (int)sizeof bad);
    repair(&f, 0, &out, NULL);
    check_default(&out, 1);
    view(&out, 0, &v0);
    for (size_t i = 2; i < sizeof bad; i++) assert_int_equal(v0.p.payload.data[i], 0);
    ns_repair_out_free(&out);
    f.n = 0;
    static const uint8_t ntp0[] = {0x03, 1, 2, 3}, ntp4[] = {0x23, 1, 2, 3};
    udp_row(add(&f, 0, 0), 48, 40000, 123);
    put_payload(f.rows, ntp0, 4);
    udp_row(add(&f, 0, 0), 48, 40000, 123);
    put_payload(f.rows + W, ntp4, 4);
    repair(&f, 0, &out, NULL);
    view(&out, 0, &v0), view(&out, 1, &v1);
    assert_int_equal(v0.p.payload.data[0], 0x23), assert_int_equal(v0.p.payload.data[1], 0);
    assert_memory_equal(v1.p.payload.data, ntp4, 4);
    ns_repair_out_free(&out);

    /* DNS over TCP: the length prefix is the segment's, whatever was generated. */
    f.n = 0;
    tcp_row(add(&f, 0, 0), 0, 50000, 53, 10, 0, SYN);
    tcp_row(add(&f, 1, 0), 0, 53, 50000, 90, 11, SYN | ACK);
    r = add(&f, 0, 0);
    tcp_row(r, 30, 50000, 53, 11, 91, ACK | PSH);
    static const uint8_t tq[] = {0x77, 0x77, 0xab, 0xcd, 1, 0, 0, 1};
    put_payload(r, tq, (int)sizeof tq);
    repair(&f, 0, &out, NULL);
    check_default(&out, 1);
    view(&out, 2, &v);
    assert_int_equal(v.payload, 30);
    assert_int_equal(be16(v.p.payload, 0), 28);
    assert_memory_equal(v.p.payload.data + 4, tq + 4, sizeof tq - 4);
    ns_repair_out_free(&out);
}

/* A TLS flow's first client data 7 bits off a ClientHello (issue 17): with
 * the handshake in its rows, repair tells app.c the flow opened
 * (app_flow.opened), and the record comes out a ClientHello; the same rows
 * without their SYNs (a flow captured mid-way) keep it as generated, an
 * application data record. */
static void test_opened_flow_hello(void **state)
{
    (void)state;
    static tflow f;
    static const uint8_t far_ch[32] = {0x17, 0x07, 0x01, 0x00, 0xde, 0x0b, 0x00, 0x00, 0xda, 0x13, 0x0f,
                                       0x57, 0xd1, 0x1f, 0xac, 0x75, 0x72, 0xc4, 0x96, 0x4f, 0x9f, 0xbe,
                                       0x1c, 0x2a, 0x11, 0xc0, 0x17, 0x6c, 0x8b, 0x98, 0x41, 0xbf};
    for (int syn = 0; syn < 2; syn++) {
        f.n = 0;
        if (syn) handshake(&f, 443);
        int8_t *r = add(&f, 0, 1000);
        tcp_row(r, 240, 50000, 443, 2, 10, ACK | PSH);
        put_payload(r, far_ch, 32);
        tcp_row(add(&f, 1, 1000), 0, 443, 50000, 10, 242, ACK);
        ns_repair_out out = {0};
        repair(&f, 0, &out, NULL);
        check_default(&out, 1);
        pk v;
        view(&out, syn ? 3 : 0, &v);
        assert_int_equal(v.payload, 240);
        const uint8_t *b = v.p.payload.data;
        if (syn) {
            assert_int_equal(b[0], 22), assert_int_equal(b[5], 1), assert_int_equal(b[9], 3);
            assert_memory_equal(b + 11, far_ch + 11, 21);
        } else {
            assert_int_equal(b[0], 23), assert_memory_equal(b + 5, far_ch + 5, 27);
        }
        ns_repair_out_free(&out);
    }
}

/* A TLS or HTTP client speaks first (the IoT training rows: every flow with
 * a handshake on those ports): rows that put the server's status line
 * before the request it answers are written request first, the rows
 * between in their order and the gaps in their places; the same rows
 * without a handshake (captured mid-way), or on another port (a server
 * that greets), stay as they are, and so does a flow whose client sends
 * nothing. */
static void test_client_speaks_first(void **state)
{
    (void)state;
    static tflow f;
    static const char get[] = "GET /index.html HTTP/1.1\r\n";
    for (int kase = 0; kase < 4; kase++) {
        uint16_t port = kase == 2 ? 5000 : 80;
        f.n = 0;
        if (kase != 1) handshake(&f, port);
        int8_t *r = add(&f, 1, 5000);
        tcp_row(r, 17, port, 50000, 10, 2, ACK | PSH);
        put_payload(r, "HTTP/1.1 200 OK\r\n", 17);
        tcp_row(add(&f, 1, 6000), 0, port, 50000, 27, 2, ACK);
        r = add(&f, 0, 7000);
        tcp_row(r, kase == 3 ? 0 : 40, 50000, port, 2, 27, ACK | PSH);
        if (kase != 3) put_payload(r, get, (int)sizeof get - 1);
        ns_repair_out out = {0};
        repair(&f, 0, &out, NULL);
        check_default(&out, 1);
        size_t at = kase == 1 ? 0 : 3;
        pk v[3];
        for (int i = 0; i < 3; i++) view(&out, at + (size_t)i, &v[i]);
        if (kase == 0) {
            assert_int_equal(v[0].dport, 80), assert_int_equal(v[0].payload, 40), assert_memory_equal(v[0].p.payload.data, "GET /index", 10);
            assert_int_equal(v[1].sport, 80), assert_memory_equal(v[1].p.payload.data, "HTTP/1.1 200 OK", 15);
            assert_int_equal(v[1].ts - v[0].ts, 6000), assert_int_equal(v[2].ts - v[1].ts, 7000);
        } else {
            assert_int_equal(v[0].sport, port), assert_memory_equal(v[0].p.payload.data, "HTTP/1.1 200 OK", 15);
        }
        ns_repair_out_free(&out);
    }
}

/* Random ternary matrices: uniform, or valid rows with bits flipped. */
/* IPv6 flows: the version the rows show, the plan's hosts in the IPv6 net
 * (--ipv6-prefix), ICMPv6 echo for any other type, a flow label per
 * direction, IPv4 rows in an IPv6 flow converted. */
static void test_ipv6(void **state)
{
    (void)state;
    ns_repair_opts o;
    ns_repair_opts_init(&o);
    uint8_t net[16];
    int prefix;
    assert_int_equal(ns_repair_parse_net6("fd00:1:2:3::ff/48", "--ipv6-prefix", net, &prefix), NS_OK);
    assert_int_equal(prefix, 48);
    static const uint8_t want[16] = {0xfd, 0, 0, 1, 0, 2};   /* fd00:1:2:: */
    assert_memory_equal(net, want, 16);
    static const char *bad[] = {"fd00::/97", "fd00::", "10.0.0.0/8", "fd00::/x", "fd00::/129", "/32", "fd00::/32x"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_int_equal(ns_repair_parse_net6(bad[i], "--ipv6-prefix", net, &prefix), NS_EARG);
        assert_non_null(strstr(ns_errmsg(), "--ipv6-prefix"));
    }
    assert_int_equal(ns_repair_check_opts(&o), NS_OK);
    o.prefix6 = 97;
    assert_int_equal(ns_repair_check_opts(&o), NS_EARG);
    o.prefix6 = 32;

    /* A TCP flow: SYN, SYN-ACK, ACK with data; one IPv4 row among them. */
    tflow f = {0};
    tcp_row(add(&f, 0, 0), 0, 40000, 443, 100, 0, SYN), to_ipv6(f.rows, 7);
    tcp_row(add(&f, 1, 1000), 0, 443, 40000, 900, 101, SYN | ACK), to_ipv6(f.rows + W, 9);
    tcp_row(add(&f, 0, 1000), 10, 40000, 443, 101, 901, ACK | PSH), to_ipv6(f.rows + 2 * W, 8);
    tcp_row(add(&f, 1, 1000), 0, 443, 40000, 901, 111, ACK);        /* IPv4: converted */
    ns_repair_out out = {0};
    ns_repair_stats st = {0};
    assert_int_equal(ns_repair_flow(&o, 0, f.rows, f.dir, f.iat, f.n, &out, &st), NS_OK);
    assert_int_equal(out.n_pkts, 4);
    check_all(&out, &o, 1);
    pk v;
    view(&out, 0, &v);
    assert_true(v.v6), assert_int_equal(v.fl, 7), assert_int_equal(v.src, 0x0A000001);   /* 2001:db8::a00:1 */
    assert_int_equal(v.dport, 443);
    assert_int_equal(v.total, 64);   /* the MSS every SYN says */
    view(&out, 2, &v);
    assert_int_equal(v.fl, 7), assert_int_equal(v.payload, 10);   /* the client's first label, kept */
    view(&out, 3, &v);
    assert_true(v.v6), assert_int_equal(v.fl, 9), assert_int_equal(v.ttl, 64);
    assert_int_equal(st.converted, 1);
    /* Field statistics count IPv6 fields; its addresses are repair's own. */
    assert_true(st.bits[NS_NPF_IPV6_NH] > 0 && st.bits[NS_NPF_IPV6_LEN] > 0);
    assert_true(ns_repair_field_assigned(NS_NPF_IPV6_SRC) && ns_repair_field_assigned(NS_NPF_IPV6_DST));

    /* ICMPv6: neighbour discovery and MLDv2 reports as generated, whole (their
     * own lengths, hop limits 255 and 1: check_icmp6); echo as generated;
     * what repair cannot write whole (destination unreachable: no packet to
     * quote) and IPv4's echo type become echo. Another prefix. */
    ns_repair_out_clear(&out);
    assert_int_equal(ns_repair_parse_net6("fd00:1::/64", "--ipv6-prefix", o.net6, &o.prefix6), NS_OK);
    memset(&f, 0, sizeof f);
    static const struct { int dir, type, pay; uint32_t roh; int want, len; } m[] = {
        {0, 135, 24, 0x12345678, 135, 32}, {1, 136, 16, 0x60ffffff, 136, 32}, {0, 133, 16, 0, 133, 16},
        {1, 134, 16, 0x40c80708, 134, 24}, {0, 143, 16, 0x00000001, 143, 28}, {1, 129, 16, 0x00010001, 129, 24},
        {0, 8, 16, 0x00010002, 128, 24}, {1, 1, 16, 0, 129, 24},
        {0, 135, 16, 0, 135, 24},   /* no room for the option: duplicate address detection */
        {1, 136, 16, 0x20000000, 136, 32},    /* unsolicited: to all nodes */
        {0, 143, 40, 0x00000002, 143, 48},    /* a report of two records (session 14; before: one, 28) */
        {0, 143, 30, 0x00000002, 143, 28}};   /* no whole number of records: one */
    enum { NM = sizeof m / sizeof m[0] };
    for (size_t i = 0; i < NM; i++) {
        icmp_row(add(&f, m[i].dir, i ? 5000 : 0), m[i].pay, m[i].type, m[i].roh), to_ipv6(f.rows + i * W, 0);
        ns_nprint_put(f.rows + i * W, NS_NPF_IPV6_HL, 64);   /* generated wrong: repair sets ND's and MLD's */
    }
    assert_int_equal(ns_repair_flow(&o, 3, f.rows, f.dir, f.iat, f.n, &out, NULL), NS_OK);
    assert_int_equal(out.n_pkts, NM);
    static const uint8_t pre[8] = {0xfd, 0, 0, 1};
    uint32_t host[2] = {0};
    for (size_t i = 0; i < NM; i++) {
        const uint8_t *eth = out.bytes + out.pkts[i].off, *ip = eth + 14;
        pk w = {.type = ip[40], .ttl = ip[7], .src = (uint32_t)eth[8] << 24 | eth[9] << 16 | eth[10] << 8 | eth[11]};
        if (host[m[i].dir]) assert_int_equal(w.src, host[m[i].dir]);   /* one MAC per side */
        host[m[i].dir] = w.src;
        check_icmp6(&w, (ns_bytes){ip, 40u + (size_t)m[i].len}, (size_t)m[i].len, eth);
        assert_int_equal(ip[0] >> 4, 6), assert_int_equal(ip[6], 58);
        assert_int_equal(ip[40], m[i].want);
        assert_int_equal(ip[4] << 8 | ip[5], m[i].len);
        if (m[i].want == 128 || m[i].want == 129) /* echo stays between the plan's hosts */
            assert_memory_equal(ip + 8, pre, 8), assert_memory_equal(ip + 24, pre, 8);
        else /* neighbour discovery and MLD never use them */
            assert_memory_not_equal(ip + 8, pre, 4), assert_memory_not_equal(ip + 24, pre, 4);
        assert_int_equal(ns_l4_checksum_ipv6(ip, 58, ip + 40, (size_t)m[i].len), ip[42] << 8 | ip[43]);
        assert_int_equal(ip[7], m[i].want == 143 ? 1 : m[i].want >= 133 ? 255 : 64);
    }
    static const uint8_t ll[8] = {0xfe, 0x80}, unspec[16] = {0};
    const uint8_t *ns = out.bytes + out.pkts[0].off + 14;
    assert_memory_equal(ns + 8, ll, 8);
    assert_memory_equal(ns + 48, pre, 8), assert_memory_equal(ns + 61, ns + 37, 3);   /* looks for the server */
    const uint8_t *na = out.bytes + out.pkts[1].off + 14;
    assert_int_equal(na[44], 0x60);   /* NA's S and O flags as generated, reserved bits zero */
    assert_memory_equal(na + 24, ll, 8), assert_memory_equal(na + 24, ns + 8, 16);   /* solicited: to the asker */
    assert_memory_equal(na + 48, pre, 8);   /* the target it answers for: its own (global) address */
    const uint8_t *ra = out.bytes + out.pkts[3].off + 14 + 40;
    assert_int_equal(ra[4], 0x40), assert_int_equal(ra[5], 0xc0), assert_int_equal(ra[6] << 8 | ra[7], 0x0708);
    const uint8_t *dad = out.bytes + out.pkts[8].off + 14;
    assert_memory_equal(dad + 8, unspec, 16);
    assert_memory_equal(dad + 48, ns + 8, 16);   /* its own tentative link-local address */
    const uint8_t *mld = out.bytes + out.pkts[4].off + 14 + 40;   /* joins its solicited-node group */
    assert_int_equal(mld[12], 0xff), assert_int_equal(mld[24], 0xff), assert_memory_equal(mld + 25, ns + 8 + 13, 3);
    ns_repair_out_free(&out);
}

static void test_random_matrices_come_out_compliant(void **state)
{
    (void)state;
    enum { FLOWS = 2000 };
    static tflow f;
    ns_rng rng;
    ns_rng_seed(&rng, 20261128, 0);
    ns_repair_out out = {0};
    ns_repair_stats st = {0};
    ns_repair_opts o;
    ns_repair_opts_init(&o);
    for (uint64_t k = 0; k < FLOWS; k++) {
        f.n = 0;
        size_t n = 1 + ns_rng_below(&rng, 24);
        int mode = (int)(k % 4);   /* 0: uniform, 1-3: valid rows of TCP / UDP / ICMP with flips */
        int v6 = k % 8 >= 4;       /* those rows as IPv6 every other time round */
        uint32_t fl = (uint32_t)ns_rng_below(&rng, 1u << 20);
        double flip = ns_rng_double(&rng) * 0.2;
        for (size_t i = 0; i < n; i++) {
            int8_t *r = add(&f, (int)ns_rng_below(&rng, 2), (int64_t)ns_rng_below(&rng, 3000000));
            if (mode == 0) {
                for (int c = 0; c < W; c++) r[c] = (int8_t)((int)ns_rng_below(&rng, 3) - 1);
                continue;
            }
            int payload = (int)ns_rng_below(&rng, 1600);
            if (mode == 1) {
                tcp_row(r, payload, 1, 2, (uint32_t)ns_rng_u64(&rng), (uint32_t)ns_rng_u64(&rng),
                        (int)ns_rng_below(&rng, 512));
                uint8_t opt[40];
                int len = (int)ns_rng_below(&rng, 41);
                for (int b = 0; b < len; b++) opt[b] = (uint8_t)(b % 3 == 0 ? ns_rng_below(&rng, 10) : ns_rng_below(&rng, 12));
                tcp_options(r, opt, len);
            } else if (mode == 2) {
                udp_row(r, payload, 3, 4);
            } else {
                icmp_row(r, payload, (int)ns_rng_below(&rng, 20), (uint32_t)ns_rng_u64(&rng));
            }
            if (v6) to_ipv6(r, ns_rng_below(&rng, 4) ? fl : (uint32_t)ns_rng_below(&rng, 1u << 20));
            for (int c = 0; c < W; c++)
                if (ns_rng_double(&rng) < flip) r[c] = (int8_t)((int)ns_rng_below(&rng, 3) - 1);
        }
        o.payload = (int)(k % 2);
        assert_int_equal(ns_repair_flow(&o, k, f.rows, f.dir, f.iat, f.n, &out, &st), NS_OK);
    }
    assert_int_equal(ns_repair_merge(&out), NS_OK);
    check_all(&out, &o, FLOWS);
    size_t v6 = 0;
    for (size_t i = 0; i < out.n_pkts; i++) v6 += out.bytes[out.pkts[i].off + 12] == 0x86;
    assert_true(v6 > out.n_pkts / 5 && v6 < out.n_pkts * 3 / 5);   /* a quarter of the flows is IPv6 rows */
    assert_int_equal(st.flows, FLOWS);
    assert_int_equal(st.packets, out.n_pkts);
    assert_int_equal(st.packets + st.dropped + st.acks_dropped, st.rows + st.close_added);
    char line[512];
    ns_repair_summary(&st, 5, line, sizeof line);
    print_message("%zu packets from %llu rows: %s\n", out.n_pkts, (unsigned long long)st.rows, line);
    ns_repair_out_free(&out);
}

/* ------------------------------------------------------------ constraints */

static void test_fix_parsing(void **state)
{
    (void)state;
    ns_gen_fix fx;
    ns_gen_fix_init(&fx);
    assert_int_equal(ns_gen_fix_add(&fx, "tcp_dprt=443"), NS_OK);
    assert_int_equal(ns_gen_fix_add(&fx, "ipv4_ttl=0x40"), NS_OK);
    assert_int_equal(ns_gen_fix_add(&fx, "proto=tcp"), NS_OK);
    assert_int_equal(fx.n, 3);
    assert_int_equal(ns_nprint_get(fx.col[0], NS_NPF_TCP_DPRT), 443);         /* client->server: destination */
    assert_int_equal(ns_nprint_get(fx.col[1], NS_NPF_TCP_SPRT), 443);              /* server->client: source */
    assert_int_equal(fx.col[0][NS_NP_COL_TCP_SPRT], NS_GEN_PRESENT);   /* the client port is free to be anything */
    assert_int_equal(ns_nprint_get(fx.col[1], NS_NPF_IPV4_TTL), 64);
    assert_int_equal(ns_nprint_get(fx.col[0], NS_NPF_IPV4_PROTO), 6);
    assert_int_equal(fx.col[0][NS_NP_COL_UDP], -1);
    assert_int_equal(fx.col[1][NS_NP_COL_ICMP + NS_NP_BITS_ICMP - 1], -1);
    assert_int_equal(fx.col[0][NS_NP_COL_TCP_OPT + 5 * 8], NS_GEN_FREE);   /* options are the model's */
    ns_gen_fix before = fx;
    static const char *const bad[] = {"proto=udp", "udp_dport=53", "ipv4_ttl=65", "ipv4_ttl=256", "ipv4_ttl=0",
                                      "ipv4_src=1", "tcp_cksum=0", "tcp_sprt=1", "nope=1", "tcp_dprt",
                                      "tcp_dprt=x", "tcp_dprt=-1", "proto=sctp", "ipv6_hl=1", "ipv4_ver=6"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_int_equal(ns_gen_fix_add(&fx, bad[i]), NS_EARG);
        assert_non_null(strstr(ns_errmsg(), bad[i]));
        assert_memory_equal(&fx, &before, sizeof fx);            /* unchanged */
    }
    assert_int_equal(ns_gen_fix_add(&fx, "proto=udp"), NS_EARG);
    assert_non_null(strstr(ns_errmsg(), "contradicts"));
    assert_int_equal(ns_gen_fix_add(&fx, "ipv4_ttl=256"), NS_EARG);
    assert_non_null(strstr(ns_errmsg(), "8 bits"));
    assert_int_equal(ns_gen_fix_add(&fx, "tcp_dprt=443"), NS_OK); /* the same again is fine */
}

/* A tiny model of TCP and UDP flows; returns its path. */
static const char *tiny_model(const char *dir)
{
    enum { FLOWS = 16, LEN = 3 };
    static const char *attr_names[] = {"kind"};
    static const uint32_t attr_first[] = {0, 2};
    static const char *tokens[] = {"kind=dns", "kind=web"};
    static const char *files[] = {"made-in-test"};
    static ns_ds_flow flows[FLOWS];
    static int32_t labels[FLOWS];
    static int64_t iat[FLOWS * LEN];
    static uint8_t dirs[FLOWS * LEN], bits[FLOWS * LEN * ((W + 3) / 4)];
    int8_t row[W];
    for (int fl = 0; fl < FLOWS; fl++) {
        int web = fl % 2;
        flows[fl].first = (uint64_t)fl * LEN;
        flows[fl].n_packets = flows[fl].seen = LEN;
        flows[fl].proto = web ? 6 : 17;
        labels[fl] = web;
        for (int k = 0; k < LEN; k++) {
            int back = k == 1;
            if (web)
                tcp_row(row, 0, back ? 443 : (uint16_t)(50000 + fl), back ? (uint16_t)(50000 + fl) : 443,
                        (uint32_t)(1000 * fl), 0, k == 0 ? SYN : k == 1 ? SYN | ACK : ACK);
            else
                udp_row(row, 4 * k, back ? 53 : (uint16_t)(40000 + fl), back ? (uint16_t)(40000 + fl) : 53);
            ns_nprint_put(row, NS_NPF_IPV4_ID, (uint64_t)(fl * 7 + k));
            ns_nprint_put(row, NS_NPF_IPV4_TTL, web ? 64 : (uint64_t)(100 + fl));
            ns_dataset_pack_row(row, W, bits + (size_t)(fl * LEN + k) * ((W + 3) / 4));
            iat[fl * LEN + k] = k ? 1000000 : 0;
            dirs[fl * LEN + k] = (uint8_t)back;
        }
    }
    ns_dataset ds = {.width = W, .row_bytes = (W + 3) / 4, .max_packets = 8, .n_flows = FLOWS,
                     .n_packets = FLOWS * LEN, .n_attrs = 1, .n_tokens = 2, .n_files = 1,
                     .attr_names = attr_names, .attr_first = attr_first, .tokens = tokens, .files = files,
                     .flows = flows, .labels = labels, .iat_ns = iat, .dir = dirs, .bits = bits};
    return tu_train_tiny(&ds, dir, 30);
}

static void test_fix_holds_in_every_row_and_packet(void **state)
{
    (void)state;
    const char *dir = tu_tmpdir();
    ns_modelfile m;
    assert_int_equal(ns_modelfile_load(&m, tiny_model(dir)), NS_OK);
    int tos_modelled = 0;
    for (int j = 0; j < m.repr.n_bits; j++)
        tos_modelled |= m.repr.cols[j] >= NS_NP_COL_IPV4_TOS && m.repr.cols[j] < NS_NP_COL_IPV4_TL;
    assert_false(tos_modelled);
    int32_t ids[1] = {-1};
    ns_gen_opts go;
    ns_gen_opts_init(&go);
    go.sampler.steps = 6;
    ns_gen_flows free_run = {0}, tcp = {0}, udp = {0};
    assert_int_equal(ns_generate(&m, &go, ids, 24, 0, &free_run), NS_OK);

    ns_gen_fix fx;
    ns_gen_fix_init(&fx);
    assert_int_equal(ns_gen_fix_add(&fx, "tcp_dprt=8443"), NS_OK);
    assert_int_equal(ns_gen_fix_add(&fx, "ipv4_ttl=64"), NS_OK);
    assert_int_equal(ns_gen_fix_add(&fx, "ipv4_tos=0x10"), NS_OK);   /* constant 0 in training: set at decode */
    go.fix = &fx;
    assert_int_equal(ns_generate(&m, &go, ids, 24, 0, &tcp), NS_OK);
    for (size_t i = 0; i < tcp.n_rows; i++) {
        const int8_t *r = tcp.rows + i * W;
        assert_int_equal(ns_nprint_get(r, tcp.dir[i] ? NS_NPF_TCP_SPRT : NS_NPF_TCP_DPRT), 8443);
        assert_int_equal(ns_nprint_get(r, NS_NPF_IPV4_TTL), 64);
        assert_int_equal(ns_nprint_get(r, NS_NPF_IPV4_TOS), 0x10);
        assert_int_equal(ns_nprint_get(r, NS_NPF_IPV4_PROTO), 6);
        assert_true(r[NS_NP_COL_TCP] >= 0 && r[NS_NP_COL_UDP] == -1 && r[NS_NP_COL_ICMP] == -1);
    }
    /* Clamped while sampling, not only patched: columns not fixed come out differently too. */
    size_t differ = 0;
    for (size_t i = 0; i < tcp.n_rows && i < free_run.n_rows; i++)
        differ += memcmp(tcp.rows + i * W + NS_NP_COL_IPV4_ID, free_run.rows + i * W + NS_NP_COL_IPV4_ID,
                         NS_NP_BITS_IPV4_ID) != 0;
    assert_true(differ > 0);

    ns_gen_fix_init(&fx);
    assert_int_equal(ns_gen_fix_add(&fx, "proto=udp"), NS_OK);
    assert_int_equal(ns_gen_fix_add(&fx, "udp_dport=5353"), NS_OK);
    assert_int_equal(ns_generate(&m, &go, ids, 24, 0, &udp), NS_OK);

    /* Repaired and written, every packet keeps them. */
    ns_repair_opts ro;
    ns_repair_opts_init(&ro);
    const ns_gen_flows *gens[2] = {&tcp, &udp};
    for (int g = 0; g < 2; g++) {
        const char *path = tu_path(dir, g ? "udp.pcap" : "tcp.pcap");
        uint64_t written;
        ns_repair_stats st = {0};
        assert_int_equal(ns_gen_write_pcap(gens[g], 0, gens[g]->n_flows, &ro, 0, path, &written, &st), NS_OK);
        assert_int_equal(written, st.packets);
        assert_true(written > 0);
        ns_capture *c;
        ns_frame fr;
        assert_int_equal(ns_capture_open(&c, path, NULL), NS_OK);
        uint64_t seen = 0;
        int64_t last = 0;
        while (ns_capture_next(c, &fr) == 1) {
            ns_packet p;
            assert_int_equal(ns_packet_parse(&p, ns_capture_linktype(c), fr.data, fr.caplen), NS_SKIP_NONE);
            assert_int_equal(p.l4_proto, g ? 17 : 6);
            uint32_t client = 0;
            assert_true(ns_get_be32(p.ip, 12, &client));
            int back = client >> 24 != 10;
            assert_int_equal(be16(p.l4, back ? 0 : 2), g ? 5353 : 8443);
            if (!g) assert_int_equal(u8(p.ip, 8), 64), assert_int_equal(u8(p.ip, 1), 0x10);
            assert_true(fr.ts_ns > last);
            last = fr.ts_ns;
            seen++;
        }
        ns_capture_close(c);
        assert_int_equal(seen, written);
    }
    /* One file per flow. */
    uint64_t written;
    const char *base = tu_path(dir, "per.pcap");
    assert_int_equal(ns_gen_write_pcap(&udp, 0, 3, &ro, 1, base, &written, NULL), NS_OK);
    char name[4096];
    ns_gen_flow_path(name, sizeof name, base, 2);
    assert_non_null(strstr(name, "per-2.pcap"));
    ns_capture *c;
    assert_int_equal(ns_capture_open(&c, name, NULL), NS_OK);
    ns_capture_close(c);
    ns_gen_flow_path(name, sizeof name, "a.b/noext", 7);
    assert_string_equal(name, "a.b/noext-7");
    ns_gen_flows_free(&free_run), ns_gen_flows_free(&tcp), ns_gen_flows_free(&udp);
    ns_modelfile_free(&m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_layout_is_the_model_rows),
        cmocka_unit_test(test_ipv4_header_fields),
        cmocka_unit_test(test_ipv4_options),
        cmocka_unit_test(test_tcp_options),
        cmocka_unit_test(test_tcp_handshake_and_sequence),
        cmocka_unit_test(test_tcp_syn_retransmission),
        cmocka_unit_test(test_ablation_switches),
        cmocka_unit_test(test_link_frames),
        cmocka_unit_test(test_dhcp_answers_from_the_gateway),
        cmocka_unit_test(test_tcp_flags_and_rst),
        cmocka_unit_test(test_close_sides_and_refusals),
        cmocka_unit_test(test_syn_ack_options_and_timestamps),
        cmocka_unit_test(test_empty_acks_of_nothing_new),
        cmocka_unit_test(test_empty_ack_runs_acknowledge_segment_by_segment),
        cmocka_unit_test(test_flow_closes_at_its_end),
        cmocka_unit_test(test_planned_close),
        cmocka_unit_test(test_capture_cut),
        cmocka_unit_test(test_data_sizes_of_the_plan),
        cmocka_unit_test(test_one_transport_per_flow),
        cmocka_unit_test(test_icmp),
        cmocka_unit_test(test_icmp_errors),
        cmocka_unit_test(test_address_plan),
        cmocka_unit_test(test_fixed_client_ports),
        cmocka_unit_test(test_group_destinations),
        cmocka_unit_test(test_planned_synack_timestamp),
        cmocka_unit_test(test_window_scale_of_one),
        cmocka_unit_test(test_syn_offers_the_rows_timestamps),
        cmocka_unit_test(test_raw_link_random_payload_and_mtu),
        cmocka_unit_test(test_stats_and_report),
        cmocka_unit_test(test_application_payloads),
        cmocka_unit_test(test_generated_payload),
        cmocka_unit_test(test_opened_flow_hello),
        cmocka_unit_test(test_client_speaks_first),
        cmocka_unit_test(test_random_matrices_come_out_compliant),
        cmocka_unit_test(test_ipv6),
        cmocka_unit_test(test_fix_parsing),
        cmocka_unit_test(test_fix_holds_in_every_row_and_packet),
        cmocka_unit_test(test_ipid_counter_keeps_generated_steps),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    tu_cleanup();
    return rc;
}
