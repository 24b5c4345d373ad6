/* flow.h: bidirectional IPv4 and IPv6 flows with an idle timeout, first N packets each.
 *
 * A flow is one 5-tuple seen from both sides: TCP and UDP by addresses and
 * ports, ICMP by the two addresses alone (ports 0, as nDPI keys it, so flow
 * tables such as flow-services.tsv join exactly; the idle timeout separates
 * one ping session from the next). The client is the side that sent the
 * first packet, except that a TCP SYN-ACK or an ICMP echo reply seen first
 * makes its receiver the client. A packet that arrives more than the idle
 * timeout after its flow's previous packet closes that flow and starts a new
 * one with the same 5-tuple.
 *
 * Per kept packet a flow holds its nPrint row (NS_NP_MODEL_LAYERS, 1920
 * values), the time since the flow's previous packet (0 for the first; a
 * timestamp that goes backwards counts as 0) and its direction. Packets past
 * the first max_packets are counted, not kept; every packet, kept or not,
 * counts in the flow's packets and bytes (IPv4 total length, IPv6 40 +
 * payload length, as NetFlow counts octets) per direction and ORs its TCP
 * flags into its direction's. IPv6 flows are keyed by their whole addresses;
 * ICMPv6 is their ICMP (proto 1, as its header fills the icmp columns), an
 * echo reply (129) seen first making its receiver the client. Non-IP and
 * packets that did not decode are counted in the table's skips and left
 * out. Tables are independent: one per thread (or per capture) needs no
 * locking. */
#ifndef NETSYNTH_FLOW_H
#define NETSYNTH_FLOW_H
#ifdef __cplusplus
extern "C" {
#endif
#pragma GCC visibility push(default)

#include <stddef.h>
#include <stdint.h>

#include "netsynth/capture.h"
#include "netsynth/packet.h"

/* The model's largest window (and the eval/control views): packets a row block. */
#define NS_FLOW_MAX_PACKETS 1024
#define NS_FLOW_DEFAULT_PACKETS 64
/* The most packets a flow table keeps of one flow: datasets keep whole flows
 * up to it (at 272 packed bytes a row, 27 MB for one flow this long). */
#define NS_FLOW_MAX_KEPT 100000
/* 120 s: the shortest idle time after which RFC 4787 lets a NAT forget a UDP
 * mapping (and CICFlowMeter's flow timeout), so a packet after it starts a
 * new conversation in practice too. On the IoT Sentinel corpus it turns the
 * 15,284 flows into 15,296: 1 of 8,366 TCP connections is split (60 s splits
 * 7), the rest are periodic UDP/ICMP exchanges on a reused 5-tuple. 0 turns
 * the timeout off. */
#define NS_FLOW_DEFAULT_IDLE_NS (120 * INT64_C(1000000000))

typedef struct ns_flow_tuple {
    uint32_t client_ip, server_ip;      /* IPv4, host byte order; IPv6: ns_flow_ip6_digest of the address */
    uint16_t client_port, server_port;  /* 0 for ICMP */
    uint8_t proto;                      /* 1 ICMP (ICMPv6 in an IPv6 flow), 6 TCP, 17 UDP */
    uint8_t ipv6;                       /* 1: an IPv6 flow, its addresses below */
    uint8_t client_ip6[16], server_ip6[16];  /* IPv6 addresses as on the wire; zero for IPv4 */
} ns_flow_tuple;

/* The same two words for both directions of a 5-tuple: for hashing and joins.
 * An IPv6 tuple's words come from its address digests and differ from every
 * IPv4 tuple's: two IPv6 flows share them only when the digests collide. */
void ns_flow_tuple_key(const ns_flow_tuple *t, uint64_t key[2]);
/* A 32-bit digest of an IPv6 address that stands for it where 32 bits are
 * kept (ns_ds_flow, the trace model's hosts): distinct addresses of one
 * capture share one with a chance of about n^2 / 2^33. */
uint32_t ns_flow_ip6_digest(const uint8_t addr[16]);

typedef struct ns_flow {
    ns_flow_tuple tuple;
    int64_t first_ns, last_ns;  /* timestamps of its first and latest packet */
    uint64_t seen;              /* packets seen, also past the cap */
    uint64_t packets[2], bytes[2]; /* per direction (0 client->server), also past the cap */
    uint8_t tcp_flags[2];       /* per direction: every TCP flag byte ORed */
    uint32_t n;                 /* packets kept: min(seen, max_packets) */
    uint32_t cap_;              /* private: rows allocated */
    int8_t *rows;               /* n x NS_NP_MODEL_WIDTH */
    int64_t *iat_ns;            /* [n] */
    uint8_t *dir;               /* [n]: 0 client->server, 1 server->client */
} ns_flow;

typedef struct ns_flow_table ns_flow_table;

/* max_packets in [1, NS_FLOW_MAX_KEPT]; idle_timeout_ns 0 for none. */
int ns_flow_table_new(ns_flow_table **out, int max_packets, int64_t idle_timeout_ns);
void ns_flow_table_free(ns_flow_table *t);

/* Add one frame given its decode result (ns_packet_parse's return value). */
int ns_flow_table_add(ns_flow_table *t, const ns_packet *p, ns_skip_reason parsed, int64_t ts_ns);
/* Read every frame of a capture into the table; when cut is not NULL it
 * says whether the capture ends in a cut-short or garbled record, and what
 * that lost (see capture.h). */
int ns_flow_table_add_capture(ns_flow_table *t, const char *path, ns_capture_cut *cut);

/* Flows in the order of their first packet; valid until the next add. */
const ns_flow *ns_flow_table_flows(const ns_flow_table *t, size_t *count);
/* The index (into ns_flow_table_flows) of the flow that the latest added
 * packet joined or started, -1 when it was left out: for callers that keep
 * their own state per flow and packet (trace.h), past the kept packets too. */
int64_t ns_flow_table_last(const ns_flow_table *t);
/* Packets read / left out, and why. */
uint64_t ns_flow_table_packets(const ns_flow_table *t);
const ns_skips *ns_flow_table_skips(const ns_flow_table *t);

#pragma GCC visibility pop
#ifdef __cplusplus
}
#endif

#endif
