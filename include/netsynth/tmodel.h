/* tmodel.h: the trace model: what lies above the flow (when flows start,
 * between which hosts, from which client ports, with which host clocks),
 * learned per class from a dataset's captures, and the per-flow plan
 * (repair.h's ns_repair_plan) that lays generated flows out as traces.
 *
 * A class is a set of label tokens: every label combination of the training
 * flows ("app=web rtt=10ms loss=0%", tokens in attribute order), every single
 * token ("app=web"), and the empty key (every flow). A capture's flows of one
 * class, in start order, are one sequence; per class the model counts
 * (tmodel.c learns it):
 *   arrivals   gaps between consecutive flow starts: a log10 histogram (8
 *              bins a decade, 1 us to 1e6 s), the decade of a gap given the
 *              previous gap's (a Markov chain: bursts, idle periods), and a
 *              period when at least 30% of the gaps (and 3) lie within 5% of
 *              one value (beacons); periodic gaps are left out of the chain.
 *   hosts      for each flow after a capture's first: its client is new, the
 *              previous flow's, or another seen before (how often that was
 *              the busiest so far; else drawn by flow count), counted apart
 *              for flows after one of the busiest client; its server is
 *              the one its client used last, another seen (the busiest, or
 *              by flow count), or new. Of a capture's services (family,
 *              transport, server port) with two flows or more: those from
 *              one client, to one server (version 7), and of the first
 *              those from the capture's busiest client of its family
 *              (version 12), per class and per server port.
 *   closes     TCP flows that ended with a FIN (and no RST), with an RST,
 *              or with neither (the dataset's ns_ds_end; none counted for
 *              a dataset without whole-flow totals); the window and window
 *              scale its servers' SYN-ACKs say, the commonest; and of the
 *              RSTs in flows whose SYNs both carried timestamps, those
 *              that carry one too. Of the closes whose rows the dataset
 *              kept whole: the side that sent the first FIN, and whether
 *              the peer ACKed it before its own FIN; the side that sent
 *              the RST, whether a FIN came before it, and the refusals
 *              (the client's SYN answered by the RST, no SYN-ACK).
 *   handshake  (version 4) of TCP flows that open with the client's SYNs and
 *              the server's SYN-ACK: the gap from the last SYN to the SYN-ACK
 *              and from it to the client's ACK, by log10 bin (1e-5 .. 10 s).
 *   turns      (version 5) the gaps before the rows of each flow's first 16
 *              after its handshake, turns (a row from the other side than
 *              the row before) and same-side rows apart: 32 quantiles each;
 *              the same per server port for the 8 ports with most such
 *              gaps, and those ports' handshake gaps (as above).
 *   ports      steps between a client's consecutive ports: same, +1..+16,
 *              or anything else (random), and the ephemeral range the first
 *              ports fall in (Linux 32768-60999, IANA 49152-65535, BSD
 *              1024-5000, else 1024-65535; else the ports seen, such as
 *              DHCP's 68, kept for the server port most of the class's
 *              flows have: other flows take 32768-60999, since a client
 *              port of a known service would make dissectors misread them);
 *              version 11: the client ports its stacks chose (cport_val).
 *   lengths    (version 12) the flows' whole lengths in packets (the dataset's
 *              totals), by log2 bin (2^b, 2^(b+1)]: how many, and 9 quantiles
 *              of the lengths within each bin. Generation draws a length past
 *              the model's window within the bin the length head chose from
 *              these (ns_tmodel_length_in), not log-uniformly: a class's long
 *              flows sit where its real ones do in the bin (Lightify's 15
 *              flows of 256+ packets at 278-297, which the log-uniform draw
 *              put at 369 on average).
 *   data sizes (version 13) the payload bytes of the class's TCP segments
 *              that carry data, per side, in a flow's first 16 rows and in
 *              the rest of its first 64: 32 quantiles each (sizes the
 *              class's segments had). The plan maps the rows' data sizes
 *              onto them (ns_repair_plan.pay_map, below), so that what a
 *              class's flows carry is its own: the rows' sizes are the
 *              model's, which pools every class's (TP-LinkPlugHS110's
 *              server segments 630 bytes of IP in its first 16 rows, 289
 *              in the medium model's pcaps).
 *   windows    (version 13) the TCP windows the class's segments advertise,
 *              per side, the 32 commonest: a device's stack advertises few
 *              (D-LinkSiren's clients 8976, 2920, 5680, 7024 or 8360 in
 *              four of five segments, its servers 62, 390 or 75), and the
 *              model, which writes a window bit by bit, writes 7032 for
 *              7024 and 388 for 390; repair moves such a window to the
 *              class's nearest (ns_repair_plan.wins).
 *   per host   (client and server apart) the IP ID of a flow's packets from
 *              it: all zero, a counter (steps of 0..256 between its non-zero
 *              IDs: a Linux SYN-ACK has ID 0), or random; whether
 *              a counter runs on into the host's next flow; the TCP timestamp
 *              clock (median rate of flows timed over >= 50 ms, snapped to
 *              1, 10, 100, 250 or 1000 Hz within 10%) and whether a host's
 *              clock runs on across its flows (the next flow's first TSval
 *              is what a 1 Hz..10 kHz clock could have reached) or starts at
 *              a random offset per flow (Linux since 4.10); the TTL of its
 *              packets, the 4 commonest.
 * No address is kept: hosts are numbers within a capture; the plan maps
 * them onto repair's client and server nets.
 *
 * Generation (tmodel_plan.c): a capture of class K takes, per part of the model, the first
 * class with data for it among K itself, K's first token, and the empty key.
 * Its flows start per the arrival process (with the seed's stream for that
 * capture: a count for --duration and the plan then agree), or, given a
 * span (a like-for-like copy of a real capture), the nearest of 8 draws
 * stretched onto it. Its clients, then servers, are drawn for the whole
 * capture: a main client and visitors (tmodel_plan.c, client_draw), as many per
 * flow as the class has (of up to 32 draws, the one nearest that count),
 * each service (family, transport, server port; ICMP's apart) from one
 * client, and to one server, in the class's shares of them (version 7: its
 * server port's shares where it has 4 services or more, else the class's;
 * none in older files), an IPv4 and an IPv6 address never the same host; ports and host state are
 * drawn per flow in start order; 5-tuples (client, client port, server,
 * server port, transport) are kept distinct over every capture of one plan
 * by moving the client port on. A flow drawn to a seen server whose first
 * flow generated another server TTL than its own goes to a seen server of
 * its family whose TTL its rows match, if any (which flows open a new
 * server stays as drawn). A host's state starts where most of its flows'
 * rows put it: the TTL most of them generated, its timestamp clock at the
 * median of their generated first TSvals (less the clock's ticks since the
 * capture's start); an IP ID counter where its first flow's generated IDs
 * start, stepping as the rows step (repair.h, NS_REPAIR_IPID_COUNTER); a
 * random host's IDs are the rows' own.
 * Each TCP flow is told how to close (tmodel_close.c)
 * (ns_repair_plan.close): per class, over the captures of one plan in
 * order, as many RSTs and FIN exchanges as the class's shares of its TCP
 * flows make (the remainder carried to its next capture), given first to
 * the flows whose rows show one (an RST in the last rows, then anywhere; a
 * FIN), then to those that show neither, chosen at random among equals;
 * flows that cannot close (the client's SYNs alone, unanswered) and the
 * rest stay open (too few that can close: each goes to the kind owed most
 * for its share). A class without closes (a version 1 model) leaves it to
 * the rows (close 0: repair's own rule). Of a class's RSTs, its share of
 * refusals goes first (NS_REPAIR_CLOSE_REFUSED: the flows showing the
 * client's SYNs alone, then the shortest, so that the fewest rows go);
 * each FIN or RST close's side and shape (close_side, close_shape: a
 * FIN the peer ACKs first; an RST after FINs) are drawn per flow in the
 * class's shares (version 2 models: 0, repair's own). A TCP flow's SYN-ACK takes the
 * class's window and scale where its row generated none (or a window
 * under 1024, a later segment's scaled one: synack_win,
 * synack_ws; 0: repair's own 65535 and 7), and its RSTs carry timestamps
 * (once agreed) as often as the class's do (rst_ts, drawn per flow), and
 * its SYN-ACK answers a SYN's timestamp with one as often as the class's
 * servers do (synack_ts; without one, the flow has none).
 * A TCP flow's handshake gaps (tmodel_timing.c: its rows' gap before the SYN-ACK, and
 * before the client's ACK) stay as generated in the share the class's
 * captures show their bin (over the plan's flows of the class, side and
 * bins: floor(n x min(1, real share / generated share)) of a bin's n); the
 * rest take the bins where the generated shares fall short of the real
 * ones, at evenly spaced points of that excess (ns_repair_plan.hs_us,
 * log-uniform within the bin: version 3 models have none and leave every
 * gap to the rows). Flows to a port of no bins of its own aim at what the
 * class's bins hold beyond its ports' flows (they stand in for flows the
 * model gave a port a few bits off a real one).
 * Turns (version 5, tmodel_timing.c): the gaps before a flow's rows after its handshake,
 * turns and same-side rows apart, go through a quantile map per class
 * (ns_repair_plan.turn_map): the quantiles of the gaps of that kind the
 * plan's flows of the class generated (in their first 16 rows) onto the
 * class's real ones; repair maps every turn and the same-side gaps of the
 * first 16 rows. The
 * timing head draws each row's gap from bins of a few percent without
 * knowing it answers the other side; in a lab rtt class every answer takes
 * one RTT, and NetFlow's duration and inter-arrival statistics read it.
 * A flow to a server port of the class's turn ports with 16 real gaps of
 * a kind takes that port's map instead (the quantiles of the plan's gaps
 * of the class's flows to that port, when they made 16, onto the port's),
 * and that port's handshake gaps where it had 8 handshakes: an IoT
 * device's DNS, cloud and hub answer in their own times, and where the
 * model's mix of them differs from the real one a class's one map moves
 * one service's gaps onto another's.
 * A capture takes its class's map, a coarser class's (its first label's)
 * only for a kind its class shows in a quarter of its gaps or more, the
 * empty key's only for a capture of that key (it pools every service). A
 * class whose flows generated fewer than 16 gaps of a kind (or a version
 * 4 model) leaves them to the rows. A flow to a group goes one way: its
 * gaps are all same-side ones.
 * Data sizes (version 13, tmodel_close.c): per class, side and place (a TCP
 * flow's first 16 rows, the rest of its first 64), the quantiles of the
 * data sizes the plan's flows of the class generated there (of 16 segments
 * or more; ns_repair_row_payload, as repair reads them) go with the
 * class's (the first class of the chain with 16 of its own there): repair
 * gives such a segment the class's size at its generated one's quantile
 * (ns_repair_plan.pay_map). Where the class's rows there carry data more
 * often than its real segments (pay_n of pay_all), that excess of its data
 * segments right after the peer's data go bare instead (pay_bare: ACKs of
 * that data). Else a bare ACK stays bare, a SYN and a row with
 * learned payload bytes (a message) keep their lengths, and the rows past
 * the first 64 keep theirs (the plan sees a flow's first window only).
 * Groups (version 4): an IPv4 UDP flow whose rows all go client to server,
 * to a server port of the class's group table, goes to that group address
 * (224.0.0.251 for mDNS, 239.255.255.250 for SSDP, 255.255.255.255 for
 * DHCP) in the class's share of that port's flows, and from 0.0.0.0 in its
 * share of those (DHCP before a lease): ns_repair_plan.group, client_zero;
 * its client's TTL is the one the class's flows to that group had most.
 * Version 12: such a flow to a port of no entry goes to the group address
 * the class's one-way flows to such ports went to most, in their share
 * (group_other_*: a vendor's discovery broadcast to a port of its own).
 * Real flows to a group have no answers in their 5-tuple (a responder
 * answers from its own address: another flow), so a flow with rows both
 * ways stays unicast. Such a flow shares its 5-tuple with an earlier one
 * when it keeps a fixed client port (DHCP's 68, mDNS's 5353) and starts
 * more than the flow idle timeout (flow.h) after that one's rows end, as
 * real ones do; else its client port moves on, as for any flow.
 * Gateway and link (version 8): per class, the IPv4 UDP flows to a unicast
 * DNS (53) and DHCP (67) server, and those to a server on the client's /24
 * (every corpus capture that asks DNS asks its DHCP server, the router). The
 * plan keeps the client net's last host for the gateway (no client takes
 * it); a capture sends its DNS flows there in the class's share (one draw a
 * capture), its DHCP ones as its own share says, else as its DNS
 * (ns_repair_plan.gateway). It tells repair the frames a client's stack puts
 * on the link (ns_repair_plan.link, repair_link.c): ARP for the gateway before
 * its first unicast IPv4 flow and, to the gateway's MAC, before one starting
 * a minute after its last (a stale entry); an IGMPv3 join before its first
 * flow to each multicast group; flows to servers off the subnet go through
 * the gateway's MAC. The dataset keeps no ARP or IGMP (no IP flow): the rate
 * is the stack's rule, not learned. Older models plan none of it.
 * Version 11: a flow to the gateway or a group, a DHCP server's answer (to
 * port 68: from the gateway, to the capture's busiest IPv4 client) and a
 * flow from 0.0.0.0 have fixed hosts, new at their first flow and never
 * drawn by the host chains (tmodel_plan.c, server_draw); a host's fresh
 * client port is one of its class's (class_cport).
 * Version 12: a one-client service's first flow goes from the capture's
 * busiest client so far (its family's) in the class's share of such
 * services from the busiest (its server port's where it has its own
 * shares), else from another seen client, else a new one (service_pins,
 * client_draw): the chains' visitors are then the flows of no such
 * service, as a real capture's other clients are one-flow guises of the
 * device.
 * A TCP flow's client keeps its rows' TTL only if the class's TCP flows
 * show it, else the host's TTL if they do, else their commonest (a class's
 * SSDP TTL of 4 is a UDP one).
 *
 * Bytes (tmodel_file.c; little-endian; the blob that the model file keeps as
 * its trace section, see modelfile.c):
 *   0  char[8] "NSYNTRCE"   8 u32 version   12 u32 n_classes
 *   16 u64 size of the blob  24 u32 keys length  28 u32 CRC-32 of the blob with these 4 bytes zero
 *   32 keys: n_classes NUL-ended strings, then zero padding to 8 bytes
 *   then n_classes records of NS_TMODEL_RECORD bytes (NS_TMODEL_RECORD_V4 before version 5; tmodel_file.c lists
 *   the fields).
 * Parsing checks all of it: sizes, CRC, distinct keys with the empty one
 * present, counts that agree with each other, finite rates and shares.
 * Version 1 records end before `close`, version 2 ones before `fin_side`,
 * version 3 ones before `hs_gap`, version 4 ones before `turn_n`,
 * version 5 ones before `method`, version 6 ones before `svc_multi`, version 7 ones before `gw_port_flows`,
 * version 8 ones before `len_val`, version 9 ones before `port_val`, version 10 ones before `cport_val`,
 * version 11 ones before `flen_n`, version 12 ones before `pay_n` (what they lack reads as zeros), records of
 * versions 1 to 4 are NS_TMODEL_RECORD_V4 bytes and those of versions 5 to 11 NS_TMODEL_RECORD_V11; a version newer
 * than NS_TMODEL_VERSION is refused. */
#ifndef NETSYNTH_TMODEL_H
#define NETSYNTH_TMODEL_H
#ifdef __cplusplus
extern "C" {
#endif
#pragma GCC visibility push(default)

#include <stddef.h>
#include <stdint.h>

#include "netsynth/repair.h"

#define NS_TMODEL_MAGIC "NSYNTRCE"
#define NS_TMODEL_VERSION 13  /* 2: closes, SYN-ACK defaults, RST timestamps; 3: how they close (sides, shapes,
                               * refusals); 4: handshake gaps, group addresses, TCP TTLs, SYN-ACK timestamps;
                               * 5: turn and same-side gaps, per class and server port, and those ports'
                               * handshake gaps; 6: first HTTP requests' methods; 7: services asked from
                               * one client, to one server; 8: DNS and DHCP servers on the client's
                               * subnet (the gateway); 9: IP lengths per side and transport; 10: server
                               * ports per transport; 11: the gateway, groups and 0.0.0.0 out of the host
                               * chains, and client ports as the class's stacks chose them; 12: whole flow
                               * lengths per log2 bin (quantiles within it), and in the plan a like-for-like
                               * capture's flows end where the real one's did (tmodel_plan.c,
                               * capture_starts), TCP DNS goes where UDP DNS does, and a one-client service's first flow from
                               * the capture's main client in the class's share (svc_one_main,
                               * svc_port_one_main; service_pins), and a one-way flow to a port of no
                               * group entry to the group its class's went to (group_other_*); 13: in the
                               * plan, no client port one the model's classes serve on or a dissector
                               * claims (tmodel_ports.c), TCP data sizes per
                               * side and place (pay_n, pay_q, pay_all: the plan's pay_map, pay_bare),
                               * and per length bin the time long flows run past
                               * their first NS_TM_TURN_ROWS packets (tail_n, tail_q), which the plan
                               * gives the generated flows of the bin in their order (tm_plan_tails), and TCP
                               * windows per side (win_val: the plan's wins); older
                               * files load
                               * without what they lack (and plan as before) */

enum {
    NS_TM_GAP_PER_DECADE = 8,
    NS_TM_DECADES = 12,                                  /* 1e-6 s .. 1e6 s */
    NS_TM_GAP_BINS = NS_TM_GAP_PER_DECADE * NS_TM_DECADES,
    NS_TM_PORT_STEPS = 16,                               /* +1 .. +16 counted one by one */
    NS_TM_TTLS = 4,
    NS_TM_HS_PER_DECADE = 16,                            /* a server's RTT is a tight mode: 1.15x bins */
    NS_TM_HS_BINS = NS_TM_HS_PER_DECADE * 6,             /* 1e-5 s .. 10 s */
    NS_TM_GROUPS = 8,                                    /* server ports with group destinations kept */
    NS_TM_TURN_ROWS = NS_REPAIR_TURN_ROWS,               /* turns are counted in a flow's first rows (eval's) */
    NS_TM_TURN_PORTS = 8,                                /* server ports with turn maps of their own kept */
    NS_TM_SVC_PORTS = 8,                                 /* server ports with a one-client share of their own */
    NS_TM_LENS = NS_REPAIR_LENS,                         /* IP total lengths kept per side and transport */
    NS_TM_LEN_KINDS = NS_REPAIR_LEN_KINDS,
    NS_TM_PORTS = NS_REPAIR_PORTS,                       /* server ports kept per transport (TCP, UDP) */
    NS_TM_CPORTS = 32,                                   /* client ports under NS_TM_CPORT_HIGH kept */
    NS_TM_CPORT_HIGH = 32768,                            /* Linux's and IANA's ephemeral ranges start here */
    NS_TM_FLEN_BINS = 17,                                /* flow lengths (2^b, 2^(b+1)], b < 17: past NS_FLOW_MAX_KEPT */
    NS_TM_FLEN_Q = 9,                                    /* quantiles of the lengths within a bin, min to max */
    NS_TM_PAIRS = 128,                                   /* UDP exchanges (the first two rows' lengths) kept */
    NS_TM_PAY_Q = NS_REPAIR_PAY_Q,                       /* quantiles of TCP data sizes per side and place */
    NS_TM_PAY_ROWS = NS_REPAIR_PAY_ROWS,                 /* the rows of a flow they are learned from */
    NS_TM_WINS = NS_REPAIR_WINS,                         /* TCP windows kept per side */
};
enum { NS_TM_IPID_ZERO, NS_TM_IPID_COUNTER, NS_TM_IPID_RANDOM, NS_TM_IPID_KINDS };
/* How a TCP flow ended (dataset.h's ns_ds_end): a FIN and no RST, an RST, neither (idle, capture end). */
enum { NS_TM_CLOSE_FIN, NS_TM_CLOSE_RST, NS_TM_CLOSE_OPEN, NS_TM_CLOSES };

typedef struct ns_tmodel_class {
    char *key;                                 /* "" for every flow */
    uint32_t captures, flows;                  /* training captures with flows of the class, and those flows */
    /* arrivals */
    uint32_t gaps;                             /* gaps between flow starts, all of them */
    uint32_t gap_bin[NS_TM_GAP_BINS];          /* the non-periodic ones by log10 bin */
    uint32_t gap_next[NS_TM_DECADES][NS_TM_DECADES]; /* decade of a non-periodic gap after one of [row] */
    double period_s, period_jitter, period_share; /* period 0: none; jitter: relative std */
    /* hosts, for flows after a capture's first */
    uint32_t client_new, client_prev, client_other;
    uint32_t server_new, server_same, server_other;
    /* client ports */
    uint32_t port_step[NS_TM_PORT_STEPS + 1];  /* [0] same port, [k] +k */
    uint32_t port_random;
    uint16_t port_lo, port_hi;
    uint16_t port_server;                      /* a range of fixed ports (not an ephemeral one): the
                                                * server port they go with (DHCP's 67); 0 none */
    /* per host: [0] clients, [1] servers */
    uint32_t ipid[2][NS_TM_IPID_KINDS];        /* flows whose packets from that side were as kind */
    uint32_t ipid_runs_on[2][2];               /* consecutive counter flows of a host: [0] ran on, [1] restarted */
    double ts_hz[2];                           /* 0: no timed flow seen */
    uint32_t ts_runs_on[2][2];                 /* consecutive flows with timestamps: [0] one clock, [1] not */
    uint8_t ttl[2][NS_TM_TTLS];                /* commonest first */
    uint32_t ttl_count[2][NS_TM_TTLS];
    uint32_t client_busiest, server_busiest;   /* of client_other, server_other: the busiest seen
                                                * (most flows so far) was the one */
    uint32_t client_after_busy[3];             /* of client_new, _prev, _other: those after a flow
                                                * of the busiest client */
    /* version 2 */
    uint32_t close[NS_TM_CLOSES];              /* TCP flows by how they ended (NS_TM_CLOSE_*); all 0: the
                                                * dataset kept no ends (or a version 1 file) */
    uint16_t synack_win;                       /* the commonest window of its servers' SYN-ACKs; 0: none seen */
    uint8_t synack_ws;                         /* 1 + their commonest window scale shift; 0: none seen */
    uint32_t rst_ts[2];                        /* RSTs of flows whose SYNs both carried timestamps: [0] with
                                                * a timestamp, [1] without (RFC 7323 exempts RSTs) */
    /* version 3: of the closes above, those whose rows were kept whole */
    uint32_t fin_side[2];                      /* FIN closes by the side of the first FIN ([0] the client) */
    uint32_t fin_acked[2];                     /* ... whose peer answered it [0] with its FIN, [1] with an ACK first */
    uint32_t rst_side[2];                      /* RST closes by the side of the first RST */
    uint32_t rst_fin[2];                       /* ... [0] after a FIN, [1] without one */
    uint32_t refused;                          /* ... refused: the client's SYN answered by the RST, no SYN-ACK */
    /* version 4 */
    uint16_t hs_gap[2][NS_TM_HS_BINS];         /* handshakes by log10 bin of [0] the server's gap (last SYN to
                                                * SYN-ACK), [1] the client's (SYN-ACK to its ACK); both halved
                                                * whenever a count would pass 65535 */
    uint8_t ttl_tcp[2][NS_TM_TTLS];            /* as ttl, of the class's TCP flows alone */
    uint32_t ttl_tcp_count[2][NS_TM_TTLS];
    uint32_t synack_ts[2];                     /* SYN-ACKs answering a SYN with a timestamp: [0] with one, [1]
                                                * without (RFC 7323: then neither side sends them) */
    /* IPv4 UDP flows to a group address (multicast, 255.255.255.255), the
     * server ports with most of them first: group_flows of the port_flows
     * to group_port went to group_addr, group_zero of them from 0.0.0.0,
     * their clients' commonest TTL group_ttl (0: none seen) */
    uint16_t group_port[NS_TM_GROUPS];
    uint32_t group_addr[NS_TM_GROUPS];         /* host byte order; 0: no entry */
    uint32_t group_flows[NS_TM_GROUPS], group_port_flows[NS_TM_GROUPS], group_zero[NS_TM_GROUPS];
    uint8_t group_ttl[NS_TM_GROUPS];
    /* version 5: the gaps before each row after the handshake, of a flow's
     * first NS_TM_TURN_ROWS, by kind: [0] turns (a row from the other side
     * than the row before: an answer, one RTT of the class's paths), [1]
     * rows from the same side (bursts, idle timers) */
    uint32_t turn_n[2];                        /* gaps seen; 0: none (or an older file) */
    uint16_t turn_q[2][NS_REPAIR_TURN_Q];      /* their quantiles i / (NS_REPAIR_TURN_Q - 1), as
                                                * NS_REPAIR_TURN_CODE log10 ns (ns_repair_turn_code) */
    /* the same per server port, the ports with most gaps (both kinds) first: an IoT device's DNS,
     * cloud and hub answer in 1, 20 and 200 ms; an entry with no gaps is none */
    uint16_t turn_port[NS_TM_TURN_PORTS];
    uint32_t turn_port_n[NS_TM_TURN_PORTS][2];
    uint16_t turn_port_q[NS_TM_TURN_PORTS][2][NS_REPAIR_TURN_Q];
    uint16_t hs_port_gap[NS_TM_TURN_PORTS][2][NS_TM_HS_BINS]; /* as hs_gap, of the flows to turn_port[] */
    /* version 6: the class's TCP flows whose client's first learned payload bytes start an HTTP method,
     * per method (ns_repair_plan.methods' order): the prior repair makes a garbled one exact with (app.c);
     * all 0 in a header-only dataset's model */
    uint32_t method[NS_REPAIR_METHODS];
    /* version 7: a capture's services (family, transport, server port; ICMP's apart) with two flows or
     * more, and of them those whose flows all came from one client (a device asks its DNS, NTP, cloud
     * from one address; phones reach its web server from several) */
    uint32_t svc_multi, svc_one;
    uint32_t svc_one_server;                   /* of svc_multi, those whose flows all went to one server */
    /* the same per server port, the ports with most such services first (0: no entry): a device asks its
     * DNS and NTP from one address, where phones come to its web server from several; it asks one
     * resolver, where its NTP client spreads over a pool */
    uint16_t svc_port[NS_TM_SVC_PORTS];
    uint32_t svc_port_multi[NS_TM_SVC_PORTS], svc_port_one[NS_TM_SVC_PORTS], svc_port_one_server[NS_TM_SVC_PORTS];
    /* version 8: IPv4 UDP flows to a unicast server at [0] DNS's port 53, [1] DHCP's 67, and of them those to a
     * server on the client's /24 (a home router: DHCP server, DNS resolver and gateway in one) */
    uint32_t gw_port_flows[2], gw_flows[2];
    /* version 9: the IP total lengths (IPv6: 40 + payload length) of the class's packets, per side and
     * flow transport ([0] TCP, [1] UDP, [2] the rest), the NS_TM_LENS commonest first (ties: the shorter),
     * len_count of each (0 ends them), len_all of every such packet: a device's stack sends few lengths, and
     * repair moves a generated one the class never sent to the nearest of these (ns_repair_plan.lens) */
    uint16_t len_val[2][NS_TM_LEN_KINDS][NS_TM_LENS];
    uint32_t len_count[2][NS_TM_LEN_KINDS][NS_TM_LENS];
    uint32_t len_all[2][NS_TM_LEN_KINDS];
    /* version 10: the server ports of the class's flows per transport ([0] TCP, [1] UDP), the NS_TM_PORTS
     * commonest first (ties: the lower), port_count of each (0 ends them): the plan moves a generated port a
     * bit or two off these to the nearest (ns_repair_class_port) */
    uint16_t port_val[2][NS_TM_PORTS];
    uint32_t port_count[2][NS_TM_PORTS];
    /* version 11: the client ports the class's stacks chose (TCP and UDP flows; not under 1024, not the server
     * port's own, as mDNS's 5353 to 5353): of those under NS_TM_CPORT_HIGH, the NS_TM_CPORTS commonest first
     * (ties: the lower; cport_count 0 ends them); cport_high of the rest, from cport_high_lo to cport_high_hi.
     * A host's first port (and a port after a jump) comes from these, so that a port a dissector claims
     * comes up no more than in the class's captures (WeMo's 3073.., then Linux's 32768..60999) */
    uint16_t cport_val[NS_TM_CPORTS];
    uint32_t cport_count[NS_TM_CPORTS];
    uint32_t cport_high;
    uint16_t cport_high_lo, cport_high_hi;
    /* version 12: the class's flows by whole length (packets, the dataset's totals; the packets kept in a dataset
     * without them) in log2 bins (2^b, 2^(b+1)] (flows of 1 packet in none), and the quantiles i / (NS_TM_FLEN_Q
     * - 1) of the lengths in each bin with flows (linearly between ranks, rounded): where in its bins a class's
     * long flows lie, which the length head (log2 bins past the window) does not say */
    uint32_t flen_n[NS_TM_FLEN_BINS];
    uint32_t flen_q[NS_TM_FLEN_BINS][NS_TM_FLEN_Q];
    /* version 12: the class's UDP exchanges, the first two rows of its UDP flows of two rows or more: server
     * port, their sides (bit 0: the first row's is the server's, bit 1: the second's) and their IP total
     * lengths (IPv6: 40 + payload length), the NS_TM_PAIRS commonest, with their counts (commonest first, 0
     * ending them; ties: the smaller port, sides and lengths). A question fixes its answer's length (a DNS
     * name and its records), a client's first message its next (a DHCP discover its request): lengths snapped
     * one by one to the class's (lens) pair a question with another one's answer (repair.c, exchange_lengths) */
    uint16_t pair_port[NS_TM_PAIRS], pair_len[NS_TM_PAIRS][2];
    uint8_t pair_dir[NS_TM_PAIRS];
    uint32_t pair_count[NS_TM_PAIRS];
    /* version 12: of svc_one (and per port of svc_port_one), the services whose one client was the capture's
     * busiest of its family: a device asks its DNS, NTP and cloud from its own address, while the other
     * clients of a capture are mostly one-flow guises of it (0.0.0.0's DHCP, a stale address's mDNS query) */
    uint32_t svc_one_main;
    uint32_t svc_port_one_main[NS_TM_SVC_PORTS];
    /* version 12: the IPv4 UDP flows whose rows all went client to server, to a server port of no group entry
     * (group_other_port_flows), and of them those to a group address, the commonest (group_other_addr; 0:
     * none): a vendor's discovery broadcast to a port of its own each capture */
    uint32_t group_other_addr, group_other_flows, group_other_port_flows;
    /* version 13: the payload bytes of the class's TCP segments that carry data (not a SYN: repair's reading,
     * ns_repair_row_payload) per side and place in the flow ([0] its first NS_TM_TURN_ROWS rows, [1] the rest of
     * its first NS_TM_PAY_ROWS): how many (pay_n), and their quantiles (i + 1/2) / NS_TM_PAY_Q, each a size one of
     * them had (the rank's own, not between two): what the plan maps the rows' data sizes onto
     * (ns_repair_plan.pay_map), as a class's segments are its stack's and its messages' sizes */
    uint32_t pay_n[2][2];
    uint16_t pay_q[2][2][NS_TM_PAY_Q];
    uint32_t pay_all[2][2];                    /* ... and its TCP segments there that are no SYN, bare ones too:
                                                * the share of them with data (ns_repair_plan.pay_bare) */
    /* version 13: of the class's flows longer than NS_TM_TURN_ROWS packets whose span is known (every row kept,
     * or the dataset's totals' span_us), per log2 bin of whole length as flen_n, how many (tail_n) and the
     * quantiles i / (NS_TM_FLEN_Q - 1) of the time from their NS_TM_TURN_ROWS-th packet to their last (tail_q,
     * microseconds, linearly between ranks, rounded; at most UINT32_MAX): how long a long flow runs past the
     * window the model learned its gaps in. A dataset cut at 16 packets (`make demo`'s) keeps no row past
     * them, and the model's rows there came out 0.4 to 2.5 times the real flows' durations (lab iperf) */
    uint32_t tail_n[NS_TM_FLEN_BINS];
    uint32_t tail_q[NS_TM_FLEN_BINS][NS_TM_FLEN_Q];
    /* version 13: per side, the TCP windows (not 0) of the class's segments, the NS_TM_WINS commonest (win_val,
     * commonest first, ties the smaller; 0 ends them) and their counts (win_count): the plan's wins */
    uint16_t win_val[2][NS_TM_WINS];
    uint32_t win_count[2][NS_TM_WINS];
} ns_tmodel_class;

typedef struct ns_tmodel {
    uint32_t n_classes;
    uint32_t version;                          /* the file's (a learned one: NS_TMODEL_VERSION); the link
                                                * frames (ARP, IGMP) are planned from version 8 on */
    ns_tmodel_class *classes;
} ns_tmodel;

#define NS_TMODEL_RECORD 12288     /* versions 12 on */
#define NS_TMODEL_RECORD_V11 8192  /* versions 5 to 11 */
#define NS_TMODEL_RECORD_V4 2048   /* versions 1 to 4 */

struct ns_dataset;
struct ns_modelfile;
struct ns_gen_flows;
struct ns_gen_plan;

/* Learn from every flow of ds (its start times, files, client and server
 * addresses and ports, and the rows' IP IDs, TTLs and TCP timestamps). */
int ns_tmodel_learn(ns_tmodel *tm, const struct ns_dataset *ds);
void ns_tmodel_free(ns_tmodel *tm);
/* The class of key exactly, or NULL. */
const ns_tmodel_class *ns_tmodel_find(const ns_tmodel *tm, const char *key);

/* Serialise into a malloc'd buffer (*buf, *size). */
int ns_tmodel_encode(const ns_tmodel *tm, uint8_t **buf, size_t *size);
/* Parse and validate; `name` names the input in messages. */
int ns_tmodel_parse(ns_tmodel *tm, const uint8_t *buf, size_t size, const char *name);
/* A deep copy (for a model merged with adapters). */
int ns_tmodel_copy(ns_tmodel *dst, const ns_tmodel *src);

/* The class key of a prompt ids[m->n_attrs] (token ids of m, -1 for none). */
int ns_tmodel_key(const struct ns_modelfile *m, const int32_t *ids, char *buf, size_t size);

/* A capture to lay out: flows [first, first + n) of the generated set, of class `key`. */
typedef struct ns_tmodel_capture {
    size_t first, n;
    const char *key;
    int64_t span_ns;   /* > 0: its flows start over this long, first to last (a like-for-like copy of a
                        * real capture: its flow rate); 0: as the arrival process has them */
    int64_t end_ns;    /* > 0 (version 12, with span_ns): its last packet this long after its first start,
                        * as the real capture's: the starts stretched or shrunk so that the flows, as
                        * long as generated, end then (where no flow alone is longer) */
} ns_tmodel_capture;

/* How many flows of class key start before duration_ns in capture number
 * `capture` of a plan with this seed (at most max; at least 1). */
int ns_tmodel_count(const ns_tmodel *tm, const char *key, int64_t duration_ns, uint64_t seed, uint64_t capture,
                    size_t max, size_t *n);
/* Plan every flow of the captures (plan[g->n_flows], entries of flows in no
 * capture untouched): starts from ro->start_ns, hosts of ro's nets (each
 * capture its own, while the nets last), distinct 5-tuples. */
int ns_tmodel_plan(const ns_tmodel *tm, const struct ns_gen_flows *g, const ns_tmodel_capture *caps, size_t n_caps,
                   const ns_repair_opts *ro, uint64_t seed, ns_repair_plan *plan);

/* The plan of every flow of a generation plan (gen_plan.h) generated into g
 * (request k's flows after request k-1's): each request's captures (its
 * caps, or all its flows as one) of the class of its labels. *plan is
 * malloc'd, [g->n_flows]. */
int ns_tmodel_plan_requests(const ns_tmodel *tm, const struct ns_modelfile *m, const struct ns_gen_plan *p,
                            const struct ns_gen_flows *g, const ns_repair_opts *ro, uint64_t seed,
                            ns_repair_plan **plan);

/* A whole flow length in (lo, hi] for a class of key (its first label's, the empty key's: the first with flows
 * in that bin), from u in [0, 1) through the class's quantiles of its flows in the bin: 1 and *len when (lo, hi]
 * is one of the trace model's log2 bins (2^b, 2^(b+1)] and a class of the chain has flows in it, else 0 (an older
 * file, a window that is no power of two: the caller draws as before). */
int ns_tmodel_length_in(const ns_tmodel *tm, const char *key, uint64_t lo, uint64_t hi, double u, uint32_t *len);

/* "10m", "90s", "1.5h", "500ms", "2d" (a bare number is seconds) -> *ns, in
 * (0, 30 days]; anything else is NS_EARG naming `what`. */
int ns_tmodel_parse_duration(const char *text, const char *what, int64_t *ns);

#pragma GCC visibility pop
#ifdef __cplusplus
}
#endif

#endif
