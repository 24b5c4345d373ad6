/* packet.c: link layer, IP and transport decoding over bounds-checked views. */
#include "netsynth/packet.h"

#include <pcap/dlt.h>
#include <stdio.h>
#include <string.h>

enum {
    ETHERTYPE_VLAN = 0x8100,
    ETHERTYPE_QINQ = 0x88A8,
    ETHERTYPE_QINQ_OLD = 0x9100,
    MAX_VLAN_TAGS = 8,
};

static const char *const skip_names[NS_SKIP_COUNT] = {
    [NS_SKIP_NONE] = "ok",
    [NS_SKIP_LINKTYPE] = "unknown link type",
    [NS_SKIP_TRUNC_LINK] = "truncated link header",
    [NS_SKIP_NON_IP] = "non-IP",
    [NS_SKIP_TRUNC_IPV4] = "truncated IPv4",
    [NS_SKIP_BAD_IPV4] = "malformed IPv4",
    [NS_SKIP_TRUNC_IPV6] = "truncated IPv6",
    [NS_SKIP_BAD_IPV6] = "malformed IPv6",
    [NS_SKIP_IPV6] = "IPv6",
    [NS_SKIP_TRUNC_TCP] = "truncated TCP",
    [NS_SKIP_BAD_TCP] = "malformed TCP",
    [NS_SKIP_TRUNC_UDP] = "truncated UDP",
    [NS_SKIP_TRUNC_ICMP] = "truncated ICMP",
    [NS_SKIP_OTHER_L4] = "other transport",
    [NS_SKIP_FRAGMENT] = "non-first fragment",
};

const char *ns_skip_name(ns_skip_reason r)
{
    return (unsigned)r < NS_SKIP_COUNT ? skip_names[r] : "?";
}

uint64_t ns_skips_total(const ns_skips *s)
{
    uint64_t t = 0;
    for (int i = 1; i < NS_SKIP_COUNT; i++) t += s->n[i];
    return t;
}

int ns_skips_format(const ns_skips *s, char *buf, size_t size)
{
    uint64_t total = ns_skips_total(s);
    if (size) buf[0] = 0;
    if (!total) return 0;
    int order[NS_SKIP_COUNT], n = 0;
    for (int i = 1; i < NS_SKIP_COUNT; i++)
        if (s->n[i]) order[n++] = i;
    /* Most frequent first; ties keep enum order (insertion sort is stable). */
    for (int i = 1; i < n; i++)
        for (int j = i; j > 0 && s->n[order[j]] > s->n[order[j - 1]]; j--) {
            int t = order[j];
            order[j] = order[j - 1];
            order[j - 1] = t;
        }
    size_t len = 0; /* what snprintf would have written so far */
    len += (size_t)snprintf(buf, size, "skipped %llu packet%s:", (unsigned long long)total,
                            total == 1 ? "" : "s");
    for (int i = 0; i < n; i++)
        len += (size_t)snprintf(len < size ? buf + len : NULL, len < size ? size - len : 0, "%s %llu %s",
                                i ? "," : "", (unsigned long long)s->n[order[i]], skip_names[order[i]]);
    return (int)len;
}

/* ---- transport ---------------------------------------------------------- */

/* net: bytes from the transport header on, capped at what the IP header says. */
static ns_skip_reason parse_l4(ns_packet *p, ns_bytes net)
{
    size_t hdr;
    switch (p->l4_proto) {
    case NS_PROTO_TCP: {
        uint8_t off;
        if (!ns_get_u8(net, 12, &off) || net.len < 20) return NS_SKIP_TRUNC_TCP;
        hdr = (size_t)(off >> 4) * 4;
        if (hdr < 20) return NS_SKIP_BAD_TCP;
        if (!ns_bytes_has(net, 0, hdr)) return NS_SKIP_TRUNC_TCP;
        break;
    }
    case NS_PROTO_UDP:
        hdr = 8;
        if (!ns_bytes_has(net, 0, hdr)) return NS_SKIP_TRUNC_UDP;
        break;
    case NS_PROTO_ICMP:
    case NS_PROTO_ICMPV6:
        hdr = 8;
        if (!ns_bytes_has(net, 0, hdr)) return NS_SKIP_TRUNC_ICMP;
        break;
    default:
        return NS_SKIP_OTHER_L4;
    }
    ns_bytes_sub(net, 0, hdr, &p->l4);
    p->payload = ns_bytes_tail(net, hdr);
    return NS_SKIP_NONE;
}

/* ---- network layer ---------------------------------------------------------- */

static ns_skip_reason parse_ipv4(ns_packet *p, ns_bytes net)
{
    uint8_t vihl;
    uint16_t total, frag;
    if (!ns_get_u8(net, 0, &vihl) || net.len < 20) return NS_SKIP_TRUNC_IPV4;
    if (vihl >> 4 != 4) return NS_SKIP_BAD_IPV4;
    size_t ihl = (size_t)(vihl & 15) * 4;
    if (ihl < 20) return NS_SKIP_BAD_IPV4;
    if (!ns_bytes_sub(net, 0, ihl, &p->ip)) return NS_SKIP_TRUNC_IPV4;
    ns_get_be16(net, 2, &total);
    ns_get_be16(net, 6, &frag);
    ns_get_u8(net, 9, &p->l4_proto);
    p->ip_version = 4;
    p->ip_total_len = total;
    if (total < ihl) return NS_SKIP_BAD_IPV4;
    /* Ethernet pads short frames: the IP length, not the capture, ends the packet. */
    ns_bytes rest = ns_bytes_tail(net, ihl);
    if (rest.len > total - ihl) rest.len = total - ihl;
    if (frag & 0x1fff) {
        p->payload = rest;
        return NS_SKIP_FRAGMENT;
    }
    return parse_l4(p, rest);
}

static int is_ipv6_extension(uint8_t nh)
{
    return nh == 0 || nh == 43 || nh == 44 || nh == 60 || nh == 51 || nh == 135;
}

static ns_skip_reason parse_ipv6(ns_packet *p, ns_bytes net)
{
    uint16_t plen;
    uint8_t nh;
    if (!ns_bytes_sub(net, 0, 40, &p->ip)) return NS_SKIP_TRUNC_IPV6;
    if (net.data[0] >> 4 != 6) return NS_SKIP_BAD_IPV6;
    ns_get_be16(net, 4, &plen);
    ns_get_u8(net, 6, &nh);
    p->ip_version = 6;
    p->ip_total_len = 40u + plen;
    ns_bytes rest = ns_bytes_tail(net, 40);
    /* A zero payload length means a jumbogram; keep what was captured then. */
    if (plen && rest.len > plen) rest.len = plen;
    for (int hops = 0; is_ipv6_extension(nh); hops++) {
        uint8_t next, len8;
        if (hops == 16) return NS_SKIP_BAD_IPV6;
        if (!ns_get_u8(rest, 0, &next) || !ns_get_u8(rest, 1, &len8)) return NS_SKIP_TRUNC_IPV6;
        size_t ext;
        if (nh == 44) {
            uint16_t off;
            if (!ns_get_be16(rest, 2, &off)) return NS_SKIP_TRUNC_IPV6;
            if (off & 0xfff8) {
                p->l4_proto = next;
                p->payload = ns_bytes_tail(rest, 8);
                return NS_SKIP_FRAGMENT;
            }
            ext = 8;
        } else if (nh == 51) {
            ext = ((size_t)len8 + 2) * 4; /* AH counts 4-byte words */
        } else {
            ext = ((size_t)len8 + 1) * 8;
        }
        if (!ns_bytes_has(rest, 0, ext)) return NS_SKIP_TRUNC_IPV6;
        rest = ns_bytes_tail(rest, ext);
        nh = next;
    }
    p->l4_proto = nh;
    return parse_l4(p, rest);
}

ns_skip_reason ns_packet_parse_ip(ns_packet *p, const uint8_t *data, size_t len)
{
    ns_bytes net = ns_bytes_make(data, len);
    uint8_t v;
    if (!p->frame.data) p->frame = net;
    p->net = net;
    if (!ns_get_u8(net, 0, &v)) return NS_SKIP_TRUNC_IPV4;
    if (v >> 4 == 4) return parse_ipv4(p, net);
    if (v >> 4 == 6) return parse_ipv6(p, net);
    return NS_SKIP_NON_IP;
}

/* ---- link layer ---------------------------------------------------------- */

static ns_skip_reason by_ethertype(ns_packet *p, uint16_t type, ns_bytes net)
{
    p->ethertype = type;
    if (type == NS_ETHERTYPE_IPV4) {
        p->net = net;
        return parse_ipv4(p, net);
    }
    if (type == NS_ETHERTYPE_IPV6) {
        p->net = net;
        return parse_ipv6(p, net);
    }
    return NS_SKIP_NON_IP;
}

static ns_skip_reason parse_ethernet(ns_packet *p, ns_bytes f)
{
    uint16_t type;
    if (!ns_bytes_sub(f, 0, 14, &p->eth)) return NS_SKIP_TRUNC_LINK;
    ns_get_be16(f, 12, &type);
    size_t off = 14;
    while (type == ETHERTYPE_VLAN || type == ETHERTYPE_QINQ || type == ETHERTYPE_QINQ_OLD) {
        if (p->vlan_tags == MAX_VLAN_TAGS || !ns_get_be16(f, off + 2, &type)) return NS_SKIP_TRUNC_LINK;
        p->vlan_tags++;
        off += 4;
    }
    return by_ethertype(p, type, ns_bytes_tail(f, off));
}

/* BSD loopback: a 4-byte address family, in the capturing host's byte order
 * for DLT_NULL (so either order here) and in network order for DLT_LOOP. */
static ns_skip_reason parse_loopback(ns_packet *p, ns_bytes f, int network_order)
{
    uint32_t le, be;
    if (!ns_get_le32(f, 0, &le) || !ns_get_be32(f, 0, &be)) return NS_SKIP_TRUNC_LINK;
    uint32_t family = network_order ? be : (le < 256 ? le : be);
    ns_bytes net = ns_bytes_tail(f, 4);
    if (family == 2) return by_ethertype(p, NS_ETHERTYPE_IPV4, net);
    /* AF_INET6 is 10 on Linux, 24 on NetBSD/OpenBSD, 28 on FreeBSD, 30 on macOS. */
    if (family == 10 || family == 24 || family == 28 || family == 30)
        return by_ethertype(p, NS_ETHERTYPE_IPV6, net);
    return NS_SKIP_NON_IP;
}

ns_skip_reason ns_packet_parse(ns_packet *p, int linktype, const uint8_t *data, size_t caplen)
{
    memset(p, 0, sizeof *p);
    ns_bytes f = ns_bytes_make(data, caplen);
    p->frame = f;
    uint16_t type;
    switch (linktype) {
    case DLT_EN10MB:
        return parse_ethernet(p, f);
    case DLT_RAW:
    case DLT_IPV4:
    case DLT_IPV6:
#if DLT_RAW != 14
    case 14: /* DLT_RAW as OpenBSD numbers it */
#endif
        return ns_packet_parse_ip(p, data, caplen);
    case DLT_LINUX_SLL:
        if (!ns_get_be16(f, 14, &type)) return NS_SKIP_TRUNC_LINK;
        return by_ethertype(p, type, ns_bytes_tail(f, 16));
    case DLT_LINUX_SLL2:
        if (!ns_get_be16(f, 0, &type) || f.len < 20) return NS_SKIP_TRUNC_LINK;
        return by_ethertype(p, type, ns_bytes_tail(f, 20));
    case DLT_NULL:
        return parse_loopback(p, f, 0);
    case DLT_LOOP:
        return parse_loopback(p, f, 1);
    default:
        return NS_SKIP_LINKTYPE;
    }
}

/* ---- checksums ---------------------------------------------------------- */

uint32_t ns_inet_sum(uint32_t sum, const uint8_t *data, size_t len)
{
    uint64_t s = sum;
    size_t i = 0;
    for (; i + 1 < len; i += 2) s += (uint32_t)(data[i] << 8 | data[i + 1]);
    if (i < len) s += (uint32_t)data[i] << 8;
    while (s >> 32) s = (s & 0xffffffffu) + (s >> 32);
    return (uint32_t)s;
}

uint16_t ns_inet_fold(uint32_t sum)
{
    while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
    return (uint16_t)sum;
}

/* Sum of data as if the 16-bit word at `field` (an even offset, so word
 * alignment is kept) were zero. */
static uint32_t sum_without_field(uint32_t sum, const uint8_t *data, size_t len, size_t field)
{
    sum = ns_inet_sum(sum, data, field);
    return ns_inet_sum(sum, data + field + 2, len - field - 2);
}

uint16_t ns_ipv4_header_checksum(const uint8_t *ip, size_t ihl_bytes)
{
    if (ihl_bytes < 12) return 0;
    return (uint16_t)~ns_inet_fold(sum_without_field(0, ip, ihl_bytes, 10));
}

uint16_t ns_l4_checksum_ipv4(const uint8_t *ip, uint8_t proto, const uint8_t *l4, size_t l4_len)
{
    size_t field = proto == NS_PROTO_TCP ? 16 : proto == NS_PROTO_UDP ? 6 : 2;
    uint32_t sum = 0;
    if (proto != NS_PROTO_ICMP) { /* ICMP has no pseudo-header */
        sum = ns_inet_sum(0, ip + 12, 8); /* source and destination addresses */
        sum += proto;
        sum += (uint32_t)l4_len;
    }
    if (l4_len < field + 2) return 0;
    uint16_t c = (uint16_t)~ns_inet_fold(sum_without_field(sum, l4, l4_len, field));
    /* UDP sends 0xffff for a computed zero: zero means "no checksum". */
    return (proto == NS_PROTO_UDP && c == 0) ? 0xffff : c;
}

uint16_t ns_l4_checksum_ipv6(const uint8_t *ip, uint8_t proto, const uint8_t *l4, size_t l4_len)
{
    size_t field = proto == NS_PROTO_TCP ? 16 : proto == NS_PROTO_UDP ? 6 : 2;
    if (l4_len < field + 2) return 0;
    uint32_t sum = ns_inet_sum(0, ip + 8, 32); /* source and destination addresses */
    sum += (uint32_t)(l4_len >> 16) + (uint32_t)(l4_len & 0xffff) + proto;
    uint16_t c = (uint16_t)~ns_inet_fold(sum_without_field(sum, l4, l4_len, field));
    /* Over IPv6 a UDP checksum is mandatory: a computed zero goes as 0xffff. */
    return (proto == NS_PROTO_UDP && c == 0) ? 0xffff : c;
}
