/* repair.h: generated flows -> valid, replayable packets, changing as few
 * generated bits as possible.
 *
 * A flow is rows of NS_NP_MODEL_WIDTH ternary values, a direction per row
 * (0 client->server, 1 server->client) and an inter-arrival time per row.
 * Length fields follow the data they describe, never the other way round:
 *
 *   version    one per flow: IPv6 when more rows show an IPv6 header than
 *              an IPv4 one, else IPv4 (the model chooses per flow, as each
 *              class does).
 *   transport  one per flow: the one most rows show (ties: TCP, UDP, ICMP;
 *              none at all: UDP). Rows showing another transport, or none,
 *              or not the flow's IP header, are converted (their header built
 *              from the flow's state and defaults), never dropped, so that a
 *              flow keeps its length and timing; each counts in `converted`.
 *   payload    generated total length (IPv6: 40 + payload length) - generated IP header - generated
 *              transport header (by the row's own IHL and data offset, or the
 *              option bytes present when those are < 5), clamped to >= 0 and
 *              to what fits the MTU. An inconsistent total length (shorter
 *              than the headers) means no payload; a UDP length that disagrees
 *              with the IPv4 one is overruled by it. A packet with payload
 *              carries at least the leading payload bytes its row generated
 *              (the payload layer's bytes whose bits are all present): a
 *              shorter length grows to them, so that no generated message is
 *              cut; a length of no payload stays 0 and its bytes go.
 *   IPv4       version 4; options kept: NOP, EOL (ends them), router alert,
 *              the rest dropped; IHL and total length recomputed; reserved
 *              bit, MF and fragment offset cleared (packets are whole); TTL 0
 *              becomes 64; protocol = the flow's; addresses from the plan;
 *              header checksum.
 *   IPv6       version 6; traffic class and hop limit as generated (hop
 *              limit 0 becomes 64; a plan's TTLs are IPv4's); flow label: per direction the first
 *              generated one of that direction, kept for the whole flow
 *              (RFC 6437); payload length recomputed; next header the
 *              flow's transport (58 for ICMP); no extension headers;
 *              addresses from the plan; TCP/UDP/ICMPv6 checksums over the
 *              IPv6 pseudo-header.
 *   TCP        server port = the one most rows name (9 when none does),
 *              client port ephemeral; options kept: MSS, window scale (shift
 *              at most 14) and SACK-permitted on SYNs only, timestamps, NOP;
 *              SACK blocks and unknown or malformed options dropped (the flows
 *              written have no holes to report), data offset recomputed. A SYN
 *              without MSS gets one (every stack's SYN says it: 1460, less
 *              what the MTU leaves). The SYN-ACK says its MSS too and answers
 *              the SYN's window scale, SACK-permitted and timestamps (RFC
 *              7323: never one the SYN lacked) with those its row generated
 *              when it generated its MSS and more, else with all of them
 *              (window scale 7, Linux's, or the plan's: its class's servers');
 *              a window scale too when the flow's generated windows are scaled
 *              ones (most under 1024). A SYN-ACK's window is never scaled: with
 *              a plan's synack_win, one generated under 1024, or none, is that.
 *              Timestamps: after a handshake on every segment when
 *              both SYNs carried them (but an RST the plan says goes
 *              without: RFC 7323 exempts RSTs, and stacks differ), else on none; without a handshake on
 *              every segment when most rows generated one, else on none;
 *              TSval is the sender's clock (plan below; else 1 kHz from the
 *              direction's first generated TSval), TSecr the peer's latest.
 *              Options added are laid out as Linux does (MSS, SACK-permitted,
 *              timestamps, NOP, window scale). When any row has SYN, the
 *              first three rows become SYN, SYN-ACK, ACK (client, server,
 *              client, without payload on the SYNs), except that SYNs the
 *              client repeats right after a first one (as generated: SYN
 *              without ACK, from the client) stay SYNs, its retransmissions
 *              with the first one's sequence number, and the SYN-ACK and ACK
 *              follow the last; later SYNs are cleared.
 *              Sequence numbers start at the generated ones (the SYN's, else
 *              each direction's first) and advance by payload, SYN and FIN;
 *              ACK is set on every segment but the first SYN and RSTs (which
 *              keep the generated one), and the acknowledgement is the peer's
 *              next sequence number (0 without ACK). RST carries no data, no
 *              FIN nor PSH, and ends the flow (later rows are dropped, counted
 *              in `dropped`); one with more than RST_TAIL (2) rows after it is
 *              cleared (`rst_cleared`). After its FIN a direction sends only
 *              empty ACKs. An empty ACK (no SYN, FIN, RST) from a side that
 *              has received nothing since its last ACK, a duplicate ACK or
 *              window update to tshark, is sent by the peer when the peer has
 *              data to acknowledge (`acks_turned`), else as the peer's next
 *              segment, as long as its latest (`acks_to_data`), else dropped
 *              (`acks_dropped`). Closing: a flow whose rows show a FIN or an
 *              RST anywhere closes at its end. RST: its last row becomes an
 *              RST (with ACK). FIN: its last three rows (after the handshake)
 *              become the first FIN (the row's side), the peer's FIN-ACK and
 *              the last ACK, a row turned to another side losing its payload;
 *              a FIN before them is cleared (`fin_moved`); a flow too short
 *              for them gets what the close still needs after its last row
 *              (`close_added`), one whose handshake never completed nothing.
 *              Streamed in windows (`window`), a FIN or RST first shown in the
 *              last window closes the flow from its first row there. A plan's
 *              close (plan.close, below) overrules the rows: FIN closes as
 *              above, RST too, and OPEN writes neither; an RST the close does
 *              not ask for is cleared, and so is any FIN of a flow kept open
 *              (`close_cleared`). The plan's close_side sends the first FIN
 *              (a FIN the peer generates before it is cleared) or the RST;
 *              its close_shape ACKED has the peer ACK the first FIN before
 *              its FIN-ACK (four rows), FIN_RST ends an RST close with a FIN
 *              from each side and then the RST alone (no ACK) in place of the
 *              last ACK. With a close_side, a FIN close whose last rows go as
 *              that side's close (its row last, the peer's before it, its own
 *              within 8 rows of the end before that) takes those rows as they
 *              are: the first FIN on that side's last row before the peer's,
 *              the peer's rows between keeping their side (two peer rows in a
 *              row: the first acknowledges the data, not yet the FIN). REFUSED: the row after the client's SYNs is the
 *              server's RST-ACK (sequence 0, acknowledging the SYN), the
 *              flow's last (one is added when no row is left). URG only
 *              with 0 < urgent pointer <= payload, else both cleared. Reserved
 *              bits cleared; window as generated, except that a converted
 *              row, and a zero window but on an RST (the peer could send
 *              nothing more), take the direction's last window (65535 at
 *              first).
 *   UDP        ports as for TCP, length, checksum.
 *   bytes      the generated payload bytes first; past them zeros or random;
 *              for servers whose dissectors reject zeros (DNS, mDNS, LLMNR,
 *              NBNS, DNS over TCP, NTP, DHCP, CoAP, TFTP) the fill is the
 *              smallest valid message, under the generated bytes where there
 *              are any, and a shorter non-empty payload grows to that
 *              message's length. Over generated bytes, a DNS transaction id
 *              is the flow's (a query's, again in its answer) and DNS over
 *              TCP's length prefix the segment's, as checksums are; generated
 *              bytes that do not start a valid message of such a server (a
 *              DNS message that does not parse whole, an NTP version or mode
 *              out of range, a DHCP op not 1 or 2) give way to the fill.
 *   ICMP       echo request / reply kept (code 0); every other type becomes
 *              echo request (client) or reply (server): errors would need the
 *              packet they quote; rest-of-header as generated; checksum.
 *              ICMPv6 the same with its echo types 128 / 129 (neighbour
 *              discovery and MLD would need link-local addresses and
 *              options they quote).
 *   plan       with o->plan (tmodel.h makes one from the trace model), flow
 *              k takes plan[k]: its start, client and server host, client
 *              port, and per direction the sender's TTL, IP ID behaviour and
 *              TCP timestamp clock (TSval = the flow's first + its clock's
 *              ticks since the flow started, so monotone at the host's rate;
 *              TSecr echoes the peer's latest), and how a TCP flow closes
 *              (FIN, RST, open; 0: as its rows show). Keeping 5-tuples
 *              distinct is the planner's job. Without a plan, the fixed plan
 *              below.
 *   PSH        cleared on segments without payload (no stack sends it).
 *   time       flow k starts at start_ns + k * flow_gap_ns; each packet follows
 *              by its inter-arrival time, at least 1 us (a plan's hs_us
 *              replace the handshake's SYN-ACK and ACK rows' own; a plan's turn_map
 *              maps the later rows' own); timestamps are whole
 *              microseconds (pcap's). Merged flows (ns_repair_merge) are
 *              strictly increasing too: a tie moves 1 us later.
 *   addresses  flow k: client host k mod Hc of the client net, server host
 *              (k / Hc) mod Hs of the server net, client port 49152 +
 *              k / (Hc Hs) (Hc, Hs: usable hosts of each net), so the 5-tuples
 *              of up to Hc Hs 16384 flows are distinct (more is NS_ERANGE);
 *              Ethernet MACs are 02:00 followed by the IPv4 address. An IPv6
 *              flow takes the same hosts, each host's 32 IPv4 bits as the
 *              last 32 of the IPv6 net (net6/prefix6, 2001:db8::/32 by
 *              default: 10.0.0.1 is 2001:db8::a00:1), so that a plan's
 *              hosts and distinct 5-tuples hold for both versions. */
#ifndef NETSYNTH_REPAIR_H
#define NETSYNTH_REPAIR_H
#ifdef __cplusplus
extern "C" {
#endif
#pragma GCC visibility push(default)

#include <stddef.h>
#include <stdint.h>

enum { NS_REPAIR_PAYLOAD_ZEROS = 0, NS_REPAIR_PAYLOAD_RANDOM = 1 };

/* How a host sets the IPv4 identification of the packets it sends. */
enum {
    NS_REPAIR_IPID_KEEP = 0,   /* as generated */
    NS_REPAIR_IPID_ZERO,       /* always 0 */
    NS_REPAIR_IPID_COUNTER,    /* ipid_first at its first packet whose generated ID is not 0, then on by
                                * the generated step (1..NS_REPAIR_IPID_STEP_MAX, else 1); a generated 0
                                * stays 0 (a Linux SYN-ACK's) */
    NS_REPAIR_IPID_RANDOM,     /* a random value per packet */
    NS_REPAIR_IPID_MODES
};

enum { NS_REPAIR_IPID_STEP_MAX = 256 };

/* How a planned TCP flow ends. */
enum {
    NS_REPAIR_CLOSE_ROWS = 0,  /* as its rows show: a FIN or RST anywhere closes it (the fixed plan's rule) */
    NS_REPAIR_CLOSE_FIN,       /* a FIN exchange at its end */
    NS_REPAIR_CLOSE_RST,       /* an RST as its last packet */
    NS_REPAIR_CLOSE_OPEN,      /* neither: no FIN, no RST */
    NS_REPAIR_CLOSE_REFUSED,   /* refused: the client's SYN answered by the server's RST-ACK, nothing after */
    NS_REPAIR_CLOSES
};

/* How a planned FIN or RST close goes (ns_repair_plan.close_shape bits). */
enum {
    NS_REPAIR_SHAPE_ACKED = 1,    /* FIN: the peer ACKs the first FIN before sending its own (four segments) */
    NS_REPAIR_SHAPE_FIN_RST = 2,  /* RST: after a FIN from each side, in place of the last ACK (an RST alone) */
};

/* A gap's quantile map (ns_repair_plan.turn_map): knots at the quantiles
 * i / (NS_REPAIR_TURN_Q - 1), each gap as NS_REPAIR_TURN_CODE x log10 of
 * its nanoseconds (0.06% steps, 1 ns .. 115 days). */
enum { NS_REPAIR_TURN_Q = 32, NS_REPAIR_TURN_CODE = 4096, NS_REPAIR_TURN_ROWS = 16 };

/* A gap in nanoseconds as a turn code, and back. */
uint16_t ns_repair_turn_code(int64_t ns);
int64_t ns_repair_turn_ns(double code);

/* One flow's place in a trace. Index [0] is the client's packets, [1] the server's. */
enum { NS_REPAIR_METHODS = 12 };   /* ns_repair_plan.methods */
enum { NS_REPAIR_LENS = 32, NS_REPAIR_LEN_KINDS = 3 };   /* ns_repair_plan.lens: per side and transport */
enum { NS_REPAIR_PAIRS = 64 };                           /* ns_repair_plan.pairs */
enum { NS_REPAIR_WINS = 32 };                            /* ns_repair_plan.wins: per side */
enum { NS_REPAIR_PORTS = 32 };   /* ns_tmodel_class.port_val: server ports kept per transport */
/* ns_repair_plan.pay_map: knots per map, and the rows it covers: [0] a TCP flow's first NS_REPAIR_TURN_ROWS
 * (what nPrint's forests read), [1] the rest of its first NS_REPAIR_PAY_ROWS (the model's default window: what
 * the plan sees of every flow) */
enum { NS_REPAIR_PAY_Q = 32, NS_REPAIR_PAY_ROWS = 64 };

typedef struct ns_repair_plan {
    int64_t start_ns;          /* the flow's first packet */
    uint32_t client, server;   /* host numbers in the client and server nets (modulo their sizes) */
    uint16_t client_port;      /* ignored for ICMP */
    uint8_t ttl[2];            /* 0: as generated (0 becomes 64) */
    uint8_t ipid[2];           /* NS_REPAIR_IPID_* */
    uint16_t ipid_first[2];    /* NS_REPAIR_IPID_COUNTER: the first packet's (that did not generate 0) */
    uint32_t ts_first[2];      /* TSval at start_ns */
    float ts_hz[2];            /* TCP timestamp clock; 0: 1 kHz from the direction's first generated TSval */
    uint8_t close;             /* NS_REPAIR_CLOSE_*: how a TCP flow ends */
    uint8_t synack_ws;         /* 1 + the window scale shift a SYN-ACK adds (0: 7, Linux's) */
    uint16_t synack_win;       /* the SYN-ACK's window where its row generated none or one under 1024 (0: as
                                * repair has it: 65535, a generated one kept) */
    uint8_t rst_ts;            /* an RST once timestamps are agreed: 0 or 1 with one, 2 without */
    uint8_t close_side;        /* 1 + the side that closes (sends the first FIN, or the RST); 0: as the rows */
    uint8_t close_shape;       /* NS_REPAIR_SHAPE_* bits; 0: FIN, FIN-ACK, ACK, or an RST-ACK alone */
    uint32_t hs_us[2];         /* a TCP handshake's gaps, microseconds: [0] the client's last SYN to the SYN-ACK,
                                * [1] the SYN-ACK to the client's ACK; 0: the rows' own */
    uint8_t synack_ts;         /* a SYN-ACK answering a SYN's timestamp: 0 as the row, 1 with one, 2 without */
    uint8_t client_zero;       /* 1: the client sends from 0.0.0.0 (DHCP before its lease; IPv4 only) */
    uint32_t group;            /* an IPv4 group address the client sends to in place of the server (host byte
                                * order: multicast, 255.255.255.255; on an IPv6 flow its IPv6 counterpart,
                                * ns_repair_group6); 0: the server */
    /* The gap before each row after the handshake, [0] of a turn (a row from the other side than the row
     * before: every one), [1] of one from the same side (of the first NS_REPAIR_TURN_ROWS rows: where they
     * were learned; a bulk transfer's later bursts are not an opening's): a gap at the generated quantiles
     * [][0] (turn codes, knots of NS_REPAIR_TURN_Q) goes to the one at the same quantile of [][1], linearly
     * between knots (on knots that tie, at a point between them fixed by the flow and row). All [][0]
     * zero: the rows' own. */
    uint16_t turn_map[2][2][NS_REPAIR_TURN_Q];
    /* The class's first HTTP requests per method (NS_REPAIR_METHODS, app.c's order: GET, POST, PUT, HEAD,
     * DELETE, OPTIONS, PATCH, CONNECT, NOTIFY, M-SEARCH, SUBSCRIBE, UNSUBSCRIBE), scaled to fit: the prior a
     * garbled method is made exact with (docs/payload.md, "Near misses"). All 0: none learned, the nearest. */
    uint16_t methods[NS_REPAIR_METHODS];
    /* The link a flow's client sits on (repair_link.c): gateway NS_REPAIR_GATEWAY_SERVER puts the server at
     * the client net's gateway (its last usable host: the home router that is DHCP server and DNS resolver)
     * in place of the server net; NS_REPAIR_GATEWAY_ANSWERS makes the gateway the flow's client and client
     * host `client` its server (a DHCP server's answers, from its port 67 to the device's 68); link
     * (NS_REPAIR_LINK_* bits) adds the frames a host's stack sends before the flow's first packet. */
    uint8_t gateway;
    uint8_t link;
    /* Per side and the flow's transport ([0] TCP, [1] UDP, [2] the rest), the IP total lengths (IPv6: 40 +
     * payload length) the class's packets have, its commonest first, 0 ending them: a generated length that
     * is none of them becomes the nearest by Hamming distance (the commoner on ties) before the payload is
     * taken from it. All 0: the rows' own. */
    uint16_t lens[2][NS_REPAIR_LEN_KINDS][NS_REPAIR_LENS];
    /* The server port the flow is written with (ns_repair_class_port of the rows' own and its class's); 0: the
     * rows' own. */
    uint16_t server_port;
    /* > 0: no packet of the flow later than this is written: the capture it is in ends there, as a real
     * recording stops and cuts the flows still running (a like-for-like copy's, trace model version 12). */
    int64_t cut_ns;
    /* A UDP flow's exchanges on its server port as its class's flows have them (trace model version 12): the
     * IP total lengths of the first two rows (a question and its answer, or two messages of one side) and
     * their sides (pair_dir: bit 0 the first row's is the server's, bit 1 the second's), the commonest first,
     * {0, 0} ending them. A flow takes the nearest pair of its first two rows' sides by Hamming distance over
     * both lengths. All 0: each length on its own (lens). */
    uint16_t pairs[NS_REPAIR_PAIRS][2];
    uint8_t pair_dir[NS_REPAIR_PAIRS];
    /* A TCP flow's data sizes as its class's (trace model version 13): per side and rows ([0] the first
     * NS_REPAIR_TURN_ROWS, [1] the rest of the first NS_REPAIR_PAY_ROWS), the payload bytes of a segment that
     * carries data (ns_repair_row_payload: not a SYN, no learned payload bytes) at the generated quantiles
     * [][][0] (knots at (i + 1/2) / NS_REPAIR_PAY_Q of the plan's rows of the class) become the class's at the
     * same quantile [][][1] (one of its real sizes: knots that tie span quantiles, and a size takes the point of
     * that span fixed by the flow and row); a bare ACK stays bare, later rows keep theirs. [][][0] all 0: none. */
    uint16_t pay_map[2][2][2][NS_REPAIR_PAY_Q];
    /* Per side and place (as pay_map), the share (of 65535) of its data segments right after the peer's data
     * that go bare (an ACK of that data), where the rows carry data more often than the class's segments
     * there: 0 none. */
    uint16_t pay_bare[2][2];
    /* > 0: the gaps before the rows from NS_REPAIR_TURN_ROWS on are the rows' own times this (no turn map), so
     * that the flow runs past its first rows as long as its class's flows of its length did (trace model
     * version 13, tail_q: a model trained on flows cut at 16 packets learned no gap past them). 0: as before */
    float tail_scale;
    /* Per side, the TCP windows the class's segments advertise (trace model version 13), its commonest first, 0
     * ending them: a generated window (not 0) that is none of them becomes the nearest by Hamming distance (of
     * windows as near, the numerically nearer, then the commoner). All 0: the rows' own. */
    uint16_t wins[2][NS_REPAIR_WINS];
} ns_repair_plan;

/* ns_repair_plan.gateway: 0 none. */
enum { NS_REPAIR_GATEWAY_SERVER = 1, NS_REPAIR_GATEWAY_ANSWERS = 2 };

/* ns_repair_plan.link: frames before a flow's first packet, from its client (never in a dataset: they are no
 * IP flow, or IGMP, which no flow keeps). */
enum {
    NS_REPAIR_LINK_ARP = 1,    /* an ARP request for the gateway (the on-link next hop) and the gateway's reply */
    NS_REPAIR_LINK_IGMP = 2,   /* an IGMPv3 membership report joining the flow's IPv4 group (RFC 3376) */
    NS_REPAIR_LINK_REFRESH = 4, /* that request goes to the gateway's MAC: the client's entry has grown stale */
    NS_REPAIR_LINK_ROUTED = 8, /* the server is off the client's subnet: its frames go through the gateway's MAC */
    NS_REPAIR_LINK_ASKED = 16, /* the gateway asks for the client (to its MAC: the router's entry has grown stale)
                                * and the client answers */
};


typedef struct ns_repair_opts {
    uint32_t client_net, server_net;   /* host byte order, e.g. 0x0A000000 */
    int client_prefix, server_prefix;  /* 0..32 */
    int64_t start_ns;                  /* the first flow's first packet */
    int64_t flow_gap_ns;               /* between flow starts (default 10 ms) */
    int payload;                       /* NS_REPAIR_PAYLOAD_* */
    int linktype;                      /* NS_LINKTYPE_ETHERNET (default) or NS_LINKTYPE_RAW */
    int mtu;                           /* largest IPv4 total length (default 1500) */
    uint64_t seed;                     /* random payload: stream k of it for flow k */
    const ns_repair_plan *plan;        /* NULL: the fixed plan; else flow k < n_plan takes plan[k] */
    size_t n_plan;
    uint8_t net6[16];                  /* IPv6 flows' net (network byte order), e.g. 2001:db8:: */
    int prefix6;                       /* its prefix length, 0..96 */
    /* > 0: a flow longer than this is repaired, and planned, from its first
     * `window` rows as the streaming writer sees them (ns_gen_capture: the
     * model's window), then the rest: what a flow's transport, server port,
     * handshake and trace plan come from. Set to the model's window, a flow
     * repaired whole comes out as the same flow streamed. 0: from all rows. */
    int window;
} ns_repair_opts;

/* 10.0.0.0/24 clients, 198.51.100.0/24 servers, IPv6 in 2001:db8::/32,
 * zeros, Ethernet, MTU 1500, 2023-11-14 22:13:20 UTC. */
void ns_repair_opts_init(ns_repair_opts *o);
/* "a.b.c.d/n" -> *net (host bits cleared) and *prefix; `what` names it in
 * the message (NS_EARG). */
int ns_repair_parse_net(const char *text, const char *what, uint32_t *net, int *prefix);
/* "2001:db8::/32" -> net[16] (bits past the prefix cleared) and *prefix,
 * at most 96 (the last 32 bits number the hosts); NS_EARG naming `what`. */
int ns_repair_parse_net6(const char *text, const char *what, uint8_t net[16], int *prefix);
/* Host `ip` (an IPv4 plan address, host byte order) in the IPv6 net: out[16]. */
void ns_repair_host6(const ns_repair_opts *o, uint32_t ip, uint8_t out[16]);
/* NS_EARG when the nets overlap or have no usable host. */
int ns_repair_check_opts(const ns_repair_opts *o);
/* The client net's gateway (host byte order): its last usable host, 10.0.0.254 of 10.0.0.0/24. */
uint32_t ns_repair_gateway(const ns_repair_opts *o);

/* How much repair changed, per nPrint field (ns_nprint_fields() order):
 * bits[f] generated values of field f seen, changed[f] of them that differ
 * in the packets written (a dropped row counts as all absent). */
#define NS_REPAIR_MAX_FIELDS 64
typedef struct ns_repair_stats {
    uint64_t flows, rows, packets;
    uint64_t converted;      /* rows made into the flow's transport */
    uint64_t dropped;        /* rows after an RST */
    uint64_t redirected;     /* handshake rows whose direction was turned */
    uint64_t bits[NS_REPAIR_MAX_FIELDS], changed[NS_REPAIR_MAX_FIELDS];
    uint64_t rst_cleared;    /* RSTs with more than a packet or two after them, sent as ACKs */
    uint64_t fin_moved;      /* FINs before a flow's last rows, sent without FIN (the close comes at the end) */
    uint64_t acks_turned;    /* empty ACKs acknowledging nothing new, sent by the peer (which had data to ACK) */
    uint64_t acks_to_data;   /* ... else sent as the peer's next data segment, as long as its latest */
    uint64_t acks_dropped;   /* ... else (the peer sent no data, or closed) not written */
    uint64_t close_added;    /* packets added after a flow's last row to complete its close (FIN, FIN-ACK, ACK, RST) */
    uint64_t close_cleared;  /* FINs and RSTs cleared because the plan's close is another (or none) */
    uint64_t cut;            /* packets past the capture's end (ns_repair_plan.cut_ns) not written */
} ns_repair_stats;

/* Whether repair always sets field f itself (addresses, checksums), so that
 * its share says nothing about the model. */
int ns_repair_field_assigned(size_t f);
/* "repair changed 4.1% of generated bits (ipv4_tl 31%, tcp_seq 22%, ...)":
 * the `top` fields changed most, leaving out assigned ones. */
int ns_repair_summary(const ns_repair_stats *st, int top, char *buf, size_t size);
/* The whole table as JSON, written atomically to path. */
int ns_repair_write_report(const ns_repair_stats *st, const char *path);

/* Flow k's client and server addresses in the plan above (host byte
 * order): what decode gives rows whose address bits are blank. */
void ns_repair_flow_hosts(const ns_repair_opts *o, uint64_t k, uint32_t *client, uint32_t *server);

/* Repaired packets: frames back to back in `bytes`, described by `pkts`. */
typedef struct ns_repair_pkt {
    int64_t ts_ns;
    size_t off;              /* into bytes */
    uint32_t len;
    uint32_t flow;           /* the flow index given to ns_repair_flow */
} ns_repair_pkt;

typedef struct ns_repair_out {
    uint8_t *bytes;
    size_t n_bytes, cap_bytes_;
    ns_repair_pkt *pkts;
    size_t n_pkts, cap_pkts_;
} ns_repair_out;

void ns_repair_out_clear(ns_repair_out *out);   /* empty, memory kept */
void ns_repair_out_free(ns_repair_out *out);

/* Repair flow number `k` of a file (its addresses, ports and start time come
 * from k, or from o->plan[k]): n rows[n * NS_NP_MODEL_WIDTH], dir[n], iat_ns[n] (the first
 * ignored). Appends its packets to out and adds to st (either may be NULL).
 * NS_ERANGE when k is past the distinct 5-tuples of the fixed plan, or past
 * n_plan. */
int ns_repair_flow(const ns_repair_opts *o, uint64_t k, const int8_t *rows, const uint8_t *dir, const int64_t *iat_ns,
                   size_t n, ns_repair_out *out, ns_repair_stats *st);

/* A flow repaired in parts, as generate repairs each window of a long flow
 * as soon as it is sampled (memory then stays bounded by the window, not
 * the flow): what one part leaves for the next. Zero it before the first
 * part. The first part decides what ns_repair_flow decides from all rows
 * (transport, server port, handshake, initial sequence numbers); the next
 * parts carry on its sequence numbers, timestamps, TCP state, IP IDs and
 * random stream. A flow given in one part is repaired as ns_repair_flow
 * repairs it, byte for byte. */
typedef struct ns_repair_cont {
    uint64_t rows;           /* rows given so far */
    uint64_t total;          /* the flow's rows in all when known (streaming sets it), else 0: the
                              * rows given so far are the flow (RST_TAIL in repair.c reads it) */
    int ended;               /* an RST ended the flow: later rows are dropped */
    int64_t ts_ns;           /* the time of its latest packet */
    uint64_t state_[40];     /* the rest: repair's own */
} ns_repair_cont;

/* ns_repair_flow for the next n rows of flow k (c as above; the same o and
 * k for every part). */
int ns_repair_flow_part(const ns_repair_opts *o, uint64_t k, const int8_t *rows, const uint8_t *dir,
                        const int64_t *iat_ns, size_t n, ns_repair_cont *c, ns_repair_out *out, ns_repair_stats *st);

/* The transport (NS_PROTO_*) and server port (0 for ICMP) that
 * ns_repair_flow will give these rows: what a planner needs to keep
 * 5-tuples distinct. */
int ns_repair_flow_service(const int8_t *rows, const uint8_t *dir, size_t n, uint8_t *proto, uint16_t *server_port);

/* The port a client of this service sends from when it is not an ephemeral
 * one (DHCP's 68, mDNS's 5353); 0: none. */
uint16_t ns_repair_client_port(uint8_t proto, uint16_t server_port);

/* 1 when NETSYNTH_REPAIR_OFF holds "ndsender": the trace plan sends every
 * neighbour discovery and MLD flow from its client, as before session 14
 * (tmodel_plan.c, nd_sender). */
int ns_repair_nd_sender_off(void);

/* The payload bytes repair gives a row that it reads as an IP TCP segment, not a SYN (the total length past its
 * IP and TCP headers; 0 a bare one), else -1; *learned (may be NULL): whether the row carries leading payload
 * bytes (a payload model's message, whose length the row holds). What pay_map maps, and what the trace model
 * learns it from. */
int ns_repair_row_payload(const int8_t *row, int *learned);

/* The index of ns_repair_plan.lens for a flow's transport (IP protocol): 0 TCP, 1 UDP, 2 the rest. */
int ns_repair_len_kind(uint8_t proto);

/* The model writes a server port bit by bit, so a port can come out a bit or two off the class's (Edimax's
 * 10000 as 10031, DNS's 53 as 49): a port that is none of ports (the class's for the flow's transport,
 * commonest first, 0 ending them) but within NS_REPAIR_PORT_BITS bits of one becomes the nearest (the
 * commoner on ties); one further from all stays (real captures, too, reach ports their train split never
 * had: 3.3% of the IoT test split's flows). */
enum { NS_REPAIR_PORT_BITS = 2 };
uint16_t ns_repair_class_port(const uint16_t *ports, uint16_t port);

/* The IPv6 group of the same service as an IPv4 group address (host byte
 * order: mDNS's 224.0.0.251 is ff02::fb, SSDP's 239.255.255.250 ff02::c,
 * LLMNR's 224.0.0.252 ff02::1:3) into out (may be NULL); 0 when it has
 * none. A plan's group (ns_repair_plan.group) on an IPv6 flow names it so:
 * the client sends there from its link-local address. */
int ns_repair_group6(uint32_t group, uint8_t out[16]);

/* Order out's packets by time (ties: flow, then order of appending) and make
 * the timestamps strictly increasing. */
int ns_repair_merge(ns_repair_out *out);
/* ns_repair_merge's order as a qsort comparator of ns_repair_pkt. */
int ns_repair_pkt_cmp(const void *a, const void *b);

#pragma GCC visibility pop
#ifdef __cplusplus
}
#endif

#endif
