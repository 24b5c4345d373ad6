/* packet.h: decoding one captured frame into its headers, bounds-checked.
 *
 * Link types: Ethernet (with 802.1Q / 802.1ad / QinQ tags), raw IP (DLT_RAW,
 * LINKTYPE_IPV4, LINKTYPE_IPV6), Linux cooked (SLL, SLL2) and BSD loopback
 * (NULL and LOOP). Every slice below lies inside the captured bytes. Parsing
 * stops at the first problem, which it names (ns_skip_reason); headers parsed
 * before it stay filled in, so a caller may still use them. */
#ifndef NETSYNTH_PACKET_H
#define NETSYNTH_PACKET_H
#ifdef __cplusplus
extern "C" {
#endif
#pragma GCC visibility push(default)

#include <stddef.h>
#include <stdint.h>

#include "netsynth/bytes.h"

/* Numbers from the wire that several modules name. */
enum {
    NS_ETHERTYPE_IPV4 = 0x0800,
    NS_ETHERTYPE_IPV6 = 0x86DD,
    NS_PROTO_ICMP = 1,
    NS_PROTO_TCP = 6,
    NS_PROTO_UDP = 17,
    NS_PROTO_ICMPV6 = 58,
};

/* Why a packet was not (fully) decoded; NS_SKIP_NONE when it was. */
typedef enum ns_skip_reason {
    NS_SKIP_NONE = 0,
    NS_SKIP_LINKTYPE,      /* "unknown link type" */
    NS_SKIP_TRUNC_LINK,    /* "truncated link header" */
    NS_SKIP_NON_IP,        /* "non-IP" (ARP, EAPOL, ...) */
    NS_SKIP_TRUNC_IPV4,    /* "truncated IPv4" */
    NS_SKIP_BAD_IPV4,      /* "malformed IPv4" (version/IHL/total length) */
    NS_SKIP_TRUNC_IPV6,    /* "truncated IPv6" */
    NS_SKIP_BAD_IPV6,      /* "malformed IPv6" (extension header chain) */
    NS_SKIP_IPV6,          /* "IPv6" (decoded fine, but left out by the caller) */
    NS_SKIP_TRUNC_TCP,     /* "truncated TCP" */
    NS_SKIP_BAD_TCP,       /* "malformed TCP" (data offset < 5) */
    NS_SKIP_TRUNC_UDP,     /* "truncated UDP" */
    NS_SKIP_TRUNC_ICMP,    /* "truncated ICMP" */
    NS_SKIP_OTHER_L4,      /* "other transport" (not TCP/UDP/ICMP) */
    NS_SKIP_FRAGMENT,      /* "non-first fragment" */
    NS_SKIP_COUNT
} ns_skip_reason;

typedef struct ns_skips {
    uint64_t n[NS_SKIP_COUNT];
} ns_skips;

const char *ns_skip_name(ns_skip_reason r);
static inline void ns_skips_add(ns_skips *s, ns_skip_reason r) { s->n[r]++; }
uint64_t ns_skips_total(const ns_skips *s);
/* "skipped 3 packets: 2 truncated IPv4, 1 unknown link type" (most frequent
 * first); "" when nothing was skipped. Returns the length snprintf would. */
int ns_skips_format(const ns_skips *s, char *buf, size_t size);

typedef struct ns_packet {
    ns_bytes frame;        /* the whole captured frame */
    ns_bytes eth;          /* 14-byte Ethernet header (dst, src, type) when the
                              link is Ethernet, else len 0; with VLAN tags the
                              type here is the outer TPID */
    uint16_t ethertype;    /* the network protocol after any VLAN tags */
    int vlan_tags;
    int ip_version;        /* 4, 6, or 0 when no IP header was found */
    ns_bytes net;          /* captured bytes from the IP header on */
    ns_bytes ip;           /* the IP header: IPv4 with options (IHL*4),
                              IPv6 the 40-byte fixed header */
    uint8_t l4_proto;      /* IPv4 protocol / IPv6 next header after extensions */
    ns_bytes l4;           /* TCP header with options, UDP 8 bytes, ICMP/ICMPv6 8 bytes */
    ns_bytes payload;      /* captured bytes after the L4 header, capped at the IP length */
    uint32_t ip_total_len; /* IPv4 total length / 40 + IPv6 payload length */
} ns_packet;

/* Decode a frame of the given DLT_* link type. Returns NS_SKIP_NONE when the
 * packet has IP and, for TCP/UDP/ICMP, a complete L4 header. */
ns_skip_reason ns_packet_parse(ns_packet *p, int linktype, const uint8_t *data, size_t caplen);

/* Decode starting at an IP header (version taken from the first nibble). */
ns_skip_reason ns_packet_parse_ip(ns_packet *p, const uint8_t *data, size_t len);

/* Internet checksum (RFC 1071): ns_inet_sum adds data's 16-bit words to sum
 * (start with 0 or a pseudo-header sum) in 32 bits; ns_inet_fold folds that
 * to 16 bits, not complemented: the checksum field is ~ns_inet_fold(sum). */
uint32_t ns_inet_sum(uint32_t sum, const uint8_t *data, size_t len);
uint16_t ns_inet_fold(uint32_t sum);
/* The complete checksum field value for an IPv4 header / a TCP or UDP or ICMP
 * segment (pseudo-header included where the protocol has one). The checksum
 * field inside the bytes is treated as zero. */
uint16_t ns_ipv4_header_checksum(const uint8_t *ip, size_t ihl_bytes);
uint16_t ns_l4_checksum_ipv4(const uint8_t *ip, uint8_t proto, const uint8_t *l4, size_t l4_len);
/* The same over IPv6 (RFC 8200 8.1: addresses, 32-bit length and next
 * header in the pseudo-header) for TCP, UDP and ICMPv6; ip is the 40-byte
 * fixed header, whose addresses it reads. */
uint16_t ns_l4_checksum_ipv6(const uint8_t *ip, uint8_t proto, const uint8_t *l4, size_t l4_len);

#pragma GCC visibility pop
#ifdef __cplusplus
}
#endif

#endif
