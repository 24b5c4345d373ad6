/* repair.c: generated flows -> valid, replayable packets (see repair.h).
 *
 * A flow is repaired in three passes: read what every row generated (gen),
 * decide what belongs to the flow as a whole (transport, server port,
 * handshake, initial sequence numbers), then walk the rows with the TCP
 * state of both directions and write each packet. Every packet written is
 * parsed back (packet.h) and encoded (nprint.h) to count, per field, the
 * generated values that repair changed. */
#include "netsynth/repair.h"

#include <arpa/inet.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <pcap/dlt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "netsynth/bytes.h"
#include "netsynth/capture.h"
#include "netsynth/error.h"
#include "netsynth/fileio.h"
#include "netsynth/nprint.h"
#include "netsynth/packet.h"
#include "netsynth/rng.h"

#include "app.h"
#include "repair_link.h"

enum {
    W = NS_NP_MODEL_WIDTH,
    /* Bits of the headers' fixed parts in a model row: what says a header is there. */
    IP_FIXED = NS_NP_COL_IPV4_OPT - NS_NP_COL_IPV4, TCP_FIXED = NS_NP_COL_TCP_OPT - NS_NP_COL_TCP,
    PAY_MAX = NS_NP_BITS_PAY / 8,                        /* payload bytes a row can carry */
    RST_TAIL = 2,                                        /* rows an RST may have after it (tcp_segment) */
    /* IPv6's fields before its addresses, which datasets blank: what says an IPv6 header is there. */
    IP6_FIXED = NS_NP_COL_IPV6_SRC - NS_NP_COL_IPV6,
    ETH_LEN = 14, IP_LEN = 20, IP6_LEN = 40, TCP_LEN = 20, UDP_LEN = 8, ICMP_LEN = 8,
    ICMP6_ECHO = 128, ICMP6_ECHO_REPLY = 129,
    ICMP6_RS = 133, ICMP6_RA = 134, ICMP6_NS = 135, ICMP6_NA = 136, ICMP6_MLD2_REPORT = 143,
    F_FIN = 0x01, F_SYN = 0x02, F_RST = 0x04, F_PSH = 0x08, F_ACK = 0x10, F_URG = 0x20,
    CLIENT_PORT0 = 49152, CLIENT_PORTS = 16384,
    US = 1000,                                           /* ns per microsecond */
};

void ns_repair_opts_init(ns_repair_opts *o)
{
    memset(o, 0, sizeof *o);
    o->client_net = 0x0A000000u, o->client_prefix = 24;   /* 10.0.0.0/24 */
    o->server_net = 0xC6336400u, o->server_prefix = 24;   /* 198.51.100.0/24 */
    o->start_ns = 1700000000LL * 1000000000LL;
    o->flow_gap_ns = 10 * 1000 * 1000;
    o->payload = NS_REPAIR_PAYLOAD_ZEROS;
    o->linktype = NS_LINKTYPE_ETHERNET;
    o->mtu = 1500;
    o->seed = 1;
    static const uint8_t doc6[4] = {0x20, 0x01, 0x0d, 0xb8};   /* 2001:db8::/32, RFC 3849 */
    memcpy(o->net6, doc6, 4);
    o->prefix6 = 32;
}

/* ---- the address plan -------------------------------------------------------- */

int ns_repair_parse_net(const char *text, const char *what, uint32_t *net, int *prefix)
{
    unsigned a, b, c, d, p;
    char end;
    if (sscanf(text, "%u.%u.%u.%u/%u%c", &a, &b, &c, &d, &p, &end) != 5 || a > 255 || b > 255 || c > 255 ||
        d > 255 || p > 32)
        return ns_error(NS_EARG, "%s: expected an IPv4 network such as 10.0.0.0/24, got '%s'", what, text);
    uint32_t mask = p ? ~0u << (32 - p) : 0;
    *net = (a << 24 | b << 16 | c << 8 | d) & mask;
    *prefix = (int)p;
    return NS_OK;
}

int ns_repair_parse_net6(const char *text, const char *what, uint8_t net[16], int *prefix)
{
    char addr[64];
    const char *slash = strchr(text, '/');
    unsigned p = 0;
    char end;
    size_t n = slash ? (size_t)(slash - text) : 0;
    if (!slash || !n || n >= sizeof addr || sscanf(slash + 1, "%u%c", &p, &end) != 1 || p > 128)
        return ns_error(NS_EARG, "%s: expected an IPv6 network such as 2001:db8::/32, got '%s'", what, text);
    memcpy(addr, text, n);
    addr[n] = 0;
    if (inet_pton(AF_INET6, addr, net) != 1)
        return ns_error(NS_EARG, "%s: expected an IPv6 network such as 2001:db8::/32, got '%s'", what, text);
    if (p > 96)
        return ns_error(NS_EARG, "%s: prefix /%u is longer than /96: the last 32 bits number the hosts", what, p);
    for (unsigned i = 0; i < 128; i++)
        if (i >= p) net[i / 8] &= (uint8_t)~(0x80u >> (i % 8));
    *prefix = (int)p;
    return NS_OK;
}

void ns_repair_host6(const ns_repair_opts *o, uint32_t ip, uint8_t out[16])
{
    memcpy(out, o->net6, 12);
    out[12] = (uint8_t)(ip >> 24), out[13] = (uint8_t)(ip >> 16), out[14] = (uint8_t)(ip >> 8), out[15] = (uint8_t)ip;
}

/* Usable hosts of a net: all but the network and broadcast addresses, except in /31 and /32. */
static uint64_t hosts(int prefix) { return prefix >= 31 ? 1ull << (32 - prefix) : (1ull << (32 - prefix)) - 2; }
static uint32_t host(uint32_t net, int prefix, uint64_t i) { return net + (uint32_t)i + (prefix >= 31 ? 0 : 1); }

void ns_repair_flow_hosts(const ns_repair_opts *o, uint64_t k, uint32_t *client, uint32_t *server)
{
    uint64_t hc = hosts(o->client_prefix), hs = hosts(o->server_prefix);
    *client = host(o->client_net, o->client_prefix, k % hc);
    *server = host(o->server_net, o->server_prefix, k / hc % hs);
}

int ns_repair_check_opts(const ns_repair_opts *o)
{
    if (o->client_prefix < 0 || o->client_prefix > 32 || o->server_prefix < 0 || o->server_prefix > 32)
        return ns_error(NS_EARG, "address plan: prefix lengths must be 0..32");
    int p = o->client_prefix < o->server_prefix ? o->client_prefix : o->server_prefix;
    uint32_t mask = p ? ~0u << (32 - p) : 0;
    if ((o->client_net & mask) == (o->server_net & mask))
        return ns_error(NS_EARG, "address plan: the client and server nets overlap");
    if (o->prefix6 < 0 || o->prefix6 > 96)
        return ns_error(NS_EARG, "address plan: the IPv6 prefix length must be 0..96, got %d", o->prefix6);
    for (int i = 12; i < 16; i++)
        if (o->net6[i]) return ns_error(NS_EARG, "address plan: the IPv6 net's last 32 bits must be zero");
    if (o->mtu < 68 || o->mtu > 65535) return ns_error(NS_EARG, "MTU %d: expected 68..65535", o->mtu);
    if (o->linktype != NS_LINKTYPE_ETHERNET && o->linktype != NS_LINKTYPE_RAW)
        return ns_error(NS_EARG, "link type %d: expected Ethernet or raw IP", o->linktype);
    return NS_OK;
}

/* ---- reading generated rows ------------------------------------------------- */

/* The whole bytes present from col on (at most max), into out. */
static int present_bytes(const int8_t *row, int col, int max, uint8_t *out)
{
    int n = 0;
    while (n < max && ns_nprint_bits_present(row, col + 8 * n, 8) == 8) {
        out[n] = (uint8_t)ns_nprint_bits_get(row, col + 8 * n, 8);
        n++;
    }
    return n;
}

/* Ablation switches (issue 16): NETSYNTH_REPAIR_OFF, a comma-separated list
 * of the rules below to skip, measures what each rule costs the written pcaps'
 * fidelity (BENCHMARK.md, "Where the pcaps lose fidelity (session 6)"). Unset
 * (users), repair is whole. Read once per flow, at its first part. A mask of 64
 * bits: the rules outgrew 32 in session 15. */
#define OFF_TTL        (UINT64_C(1) << 0)
#define OFF_IPID       (UINT64_C(1) << 1)
#define OFF_TSCLOCK    (UINT64_C(1) << 2)
#define OFF_SYNOPTS    (UINT64_C(1) << 3)
#define OFF_TSALL      (UINT64_C(1) << 4)
#define OFF_TSVAL      (UINT64_C(1) << 5)
#define OFF_EMPTYACK   (UINT64_C(1) << 6)
#define OFF_CLOSE      (UINT64_C(1) << 7)
#define OFF_FIN        (UINT64_C(1) << 8)
#define OFF_RST        (UINT64_C(1) << 9)
#define OFF_SEQ        (UINT64_C(1) << 10)
#define OFF_CSUM       (UINT64_C(1) << 11)
#define OFF_ORDER      (UINT64_C(1) << 12)
#define OFF_ICMPERR    (UINT64_C(1) << 13)
#define OFF_ARP        (UINT64_C(1) << 14)
#define OFF_IGMP       (UINT64_C(1) << 15)
#define OFF_GATEWAY    (UINT64_C(1) << 16)
#define OFF_LENS       (UINT64_C(1) << 17)
#define OFF_PORTS      (UINT64_C(1) << 18)
#define OFF_LENSDATA   (UINT64_C(1) << 19)
#define OFF_BER        (UINT64_C(1) << 20)
#define OFF_DGRAMHEAD  (UINT64_C(1) << 21)
#define OFF_HELLOVER   (UINT64_C(1) << 22)
#define OFF_CUT        (UINT64_C(1) << 23)
#define OFF_PAIRS      (UINT64_C(1) << 24)
#define OFF_NDSENDER   (UINT64_C(1) << 25)
#define OFF_NOPS       (UINT64_C(1) << 26)
#define OFF_MLDRECS    (UINT64_C(1) << 27)
#define OFF_LENTIE     (UINT64_C(1) << 28)
#define OFF_HEADCONT   (UINT64_C(1) << 29)
#define OFF_KEYX       (UINT64_C(1) << 30)
#define OFF_PAYMAP     (UINT64_C(1) << 31)
#define OFF_PAYHEAD    (UINT64_C(1) << 32)
#define OFF_PAYBARE    (UINT64_C(1) << 33)
#define OFF_TAIL       (UINT64_C(1) << 34)
#define OFF_WINS       (UINT64_C(1) << 35)
#define OFF_SYNTS      (UINT64_C(1) << 36)
#define OFF_SRVFLIGHT  (UINT64_C(1) << 37)

static uint64_t repair_off(void)
{
    static const struct { const char *name; uint64_t bit; } rules[] = {
        {"ttl", OFF_TTL},   {"ipid", OFF_IPID},         {"tsclock", OFF_TSCLOCK}, {"synopts", OFF_SYNOPTS},
        {"tsall", OFF_TSALL}, {"tsval", OFF_TSVAL},     {"emptyack", OFF_EMPTYACK}, {"close", OFF_CLOSE},
        {"fin", OFF_FIN},   {"rst", OFF_RST},           {"seq", OFF_SEQ},         {"csum", OFF_CSUM},
        {"order", OFF_ORDER}, {"icmperr", OFF_ICMPERR}, {"arp", OFF_ARP},         {"igmp", OFF_IGMP},
        {"gateway", OFF_GATEWAY}, {"lens", OFF_LENS}, {"ports", OFF_PORTS},
        {"lensdata", OFF_LENSDATA}, {"ber", OFF_BER}, {"dgramhead", OFF_DGRAMHEAD}, {"hellover", OFF_HELLOVER},
        {"cut", OFF_CUT}, {"pairs", OFF_PAIRS}, {"ndsender", OFF_NDSENDER}, {"nops", OFF_NOPS},
        {"mldrecs", OFF_MLDRECS}, {"lentie", OFF_LENTIE}, {"headcont", OFF_HEADCONT}, {"keyx", OFF_KEYX},
        {"paymap", OFF_PAYMAP}, {"payhead", OFF_PAYHEAD}, {"paybare", OFF_PAYBARE},
        {"tail", OFF_TAIL}, {"wins", OFF_WINS}, {"synts", OFF_SYNTS}, {"srvflight", OFF_SRVFLIGHT}};
    const char *v = getenv("NETSYNTH_REPAIR_OFF");
    uint64_t mask = 0;
    for (const char *at = v; at && *at;) {
        size_t n = strcspn(at, ",");
        for (size_t i = 0; i < sizeof rules / sizeof rules[0]; i++)
            if (strlen(rules[i].name) == n && !strncmp(at, rules[i].name, n)) mask |= rules[i].bit;
        at += n + (at[n] == ',');
    }
    return mask;
}

int ns_repair_nd_sender_off(void) { return (repair_off() & OFF_NDSENDER) != 0; }

/* What one row generated. */
typedef struct gen {
    int ip;                     /* the IPv4 fixed header is (mostly) there */
    int ip6;                    /* the IPv6 header (but its blanked addresses) is, and more of it than of IPv4 */
    uint8_t tc, nh;             /* IPv6 traffic class, next header */
    uint32_t fl;                /* IPv6 flow label */
    int shows;                  /* the transport whose header is there: P_* or 0 */
    uint8_t tos, df, ttl, proto;
    uint16_t id, tl;
    uint8_t ipopt[40], tcpopt[40];
    int n_ipopt, n_tcpopt;
    uint16_t sport, dport, win, urp;
    uint32_t seq, ack, roh;
    uint16_t ipck, l4ck;        /* generated checksums */
    uint8_t flags, ns, type, code;
    int payload;                /* total length - generated headers, >= 0 */
    uint8_t pay[PAY_MAX];       /* the leading payload bytes the row generated */
    int n_pay;
} gen;

/* The model writes a length bit by bit, so a length can come out a bit
 * off, as none the class sends (HueSwitch's client sends a 252-254 byte
 * record, the rows also 190 and 126): such a length becomes the nearest the class sent
 * (lens, commonest first: ties go to the commoner), which is what NetFlow's
 * bytes and packet sizes per flow read (BENCHMARK.md, "Whole flows on the
 * medium model (session 12)"). */
/* The value of vals (n at most, commonest first, 0 ending them) nearest v by Hamming distance, the commoner on
 * ties (numeric: the numerically nearer first), if within max_bits; v itself when it is one of them or none is that
 * near. */
static uint16_t nearest_value(const uint16_t *vals, int n, uint16_t v, int max_bits, int numeric)
{
    int best = -1, dist = max_bits + 1;
    for (int i = 0; i < n && vals[i]; i++) {
        if (vals[i] == v) return v;
        int h = __builtin_popcount((unsigned)(vals[i] ^ v));
        if (h < dist || (numeric && h == dist && abs((int)vals[i] - v) < abs((int)vals[best] - v))) best = i, dist = h;
    }
    return best >= 0 ? vals[best] : v;
}

/* The class's length nearest tl among those longer than floor (0: any). Of
 * lengths as near by bits, the numerically nearer: a DNS query of 41 bytes
 * (IP 61) is one bit from 40 and one (the 256s) from a 297-byte SSDP datagram,
 * the class's commoner UDP length, and went to that (D-LinkSiren's DNS
 * queries 297 bytes in 8% of m27 seed 1's pcaps, none real);
 * NETSYNTH_REPAIR_OFF=lentie: the commoner, as before session 14. */
static uint16_t class_length(const uint16_t *lens, uint16_t tl, int floor, int numeric)
{
    uint16_t over[NS_REPAIR_LENS];
    int n = 0;
    for (int i = 0; i < NS_REPAIR_LENS && lens[i]; i++)
        if (lens[i] > floor) over[n++] = lens[i];
    return nearest_value(over, n, tl, 16, numeric);
}

uint16_t ns_repair_class_port(const uint16_t *ports, uint16_t port)
{
    return nearest_value(ports, NS_REPAIR_PORTS, port, NS_REPAIR_PORT_BITS, 0);
}

int ns_repair_len_kind(uint8_t proto) { return proto == NS_PROTO_TCP ? 0 : proto == NS_PROTO_UDP ? 1 : 2; }

/* The exchange of the plan's pairs (ns_repair_plan.pairs) of a flow's first two rows' sides (dir: bit 0 the
 * first's is the server's, bit 1 the second's) nearest their lengths q and a by Hamming distance over both (the
 * commoner on ties); NULL when they are one already or there is none of those sides. Lengths snapped one by
 * one (lens) make exchanges the class never has: the medium model's D-LinkHomeHub asks DNS in 43 bytes
 * answered in 141 (14% of its real flows), 40 in 72 (20%), and its rows wrote 40 answered in 141 and 47 in
 * 141, a question with another's answer, which the forests read as another D-Link device's (BENCHMARK.md,
 * "Exchanges the class has (session 14)"). */
static const uint16_t *exchange_lengths(const ns_repair_plan *plan, unsigned dir, uint16_t q, uint16_t a)
{
    const uint16_t(*pairs)[2] = plan->pairs;
    int best = -1, dist = 33;
    for (int i = 0; i < NS_REPAIR_PAIRS && pairs[i][0]; i++) {
        if (plan->pair_dir[i] != dir) continue;
        int h = __builtin_popcount((unsigned)(pairs[i][0] ^ q)) + __builtin_popcount((unsigned)(pairs[i][1] ^ a));
        if (!h) return NULL;
        if (h < dist) best = i, dist = h;
    }
    return best >= 0 ? pairs[best] : NULL;
}

/* How read_gen takes the class's lengths: LEN_HOLD, a data row with learned bytes keeps a length with payload
 * (NETSYNTH_REPAIR_OFF=lensdata: not); LEN_NUMERIC, of lengths as near by bits the numerically nearer (lentie: not). */
enum { LEN_HOLD = 1, LEN_NUMERIC = 2 };

/* The lengths read_gen gives a row: lens, the class's for the row's side and the flow's transport
 * (ns_repair_plan.lens; NULL: the row's own), how (LEN_*); pay, the class's map of a TCP segment's data size for
 * the row's side and place (ns_repair_plan.pay_map[side][part]; NULL: none), u the row's point in a tie. */
typedef struct len_rule {
    const uint16_t *lens;
    unsigned how;
    const uint16_t (*pay)[NS_REPAIR_PAY_Q];
    double u;
    int bare; /* with pay: a segment with data goes bare (pay_bare) */
} len_rule;

/* A data size through a plan's map from -> to (repair.h, ns_repair_plan.pay_map): the knot of `to` at the
 * generated one's quantile. Knots of `from` that tie (the model writes a few sizes most of the time) span
 * quantiles, and the size takes the point u of that span, so that one generated size spreads over the
 * class's sizes there instead of piling onto one; between two knots the nearer, by a draw weighted by
 * distance. The output is a knot of `to`: a size the class's segments had, never snapped again. */
static int pay_mapped(const uint16_t *from, const uint16_t *to, int x, double u)
{
    enum { Q = NS_REPAIR_PAY_Q };
    int lo = 0, hi = Q - 1;
    while (lo < Q && from[lo] < x) lo++;
    while (hi >= 0 && from[hi] > x) hi--;
    int cell;
    if (lo == Q) cell = Q - 1;
    else if (hi < 0) cell = 0;
    else if (lo <= hi) cell = lo + (int)(u * (hi - lo + 1)) > hi ? hi : lo + (int)(u * (hi - lo + 1));
    else cell = u < (double)(x - from[hi]) / (from[lo] - from[hi]) ? lo : hi;
    return to[cell];
}

/* The row's lengths as generated (lr NULL) or with the class's (lr). */
static void read_gen(const int8_t *row, gen *g, const len_rule *lr)
{
    memset(g, 0, sizeof *g);
    g->ip = ns_nprint_bits_present(row, NS_NP_COL_IPV4, IP_FIXED) > IP_FIXED / 2;
    g->tos = (uint8_t)ns_nprint_get(row, NS_NPF_IPV4_TOS);
    g->tl = (uint16_t)ns_nprint_get(row, NS_NPF_IPV4_TL);
    g->id = (uint16_t)ns_nprint_get(row, NS_NPF_IPV4_ID);
    g->df = (uint8_t)ns_nprint_get(row, NS_NPF_IPV4_DFBIT);
    g->ttl = (uint8_t)ns_nprint_get(row, NS_NPF_IPV4_TTL);
    g->proto = (uint8_t)ns_nprint_get(row, NS_NPF_IPV4_PROTO);
    g->ipck = (uint16_t)ns_nprint_get(row, NS_NPF_IPV4_CKSUM);
    g->n_ipopt = present_bytes(row, NS_NP_COL_IPV4_OPT, NS_NP_BITS_IPV4_OPT / 8, g->ipopt);
    int ihl = (int)ns_nprint_get(row, NS_NPF_IPV4_HL);
    int ip_hlen = ihl >= 5 ? 4 * ihl : IP_LEN + g->n_ipopt;
    double share4 = (double)ns_nprint_bits_present(row, NS_NP_COL_IPV4, IP_FIXED) / IP_FIXED;
    double share6 = (double)ns_nprint_bits_present(row, NS_NP_COL_IPV6, IP6_FIXED) / IP6_FIXED;
    if (share6 > 0.5 && share6 > share4) {   /* an IPv6 row: its fields stand in for IPv4's */
        g->ip = 0, g->ip6 = 1;
        g->tc = (uint8_t)ns_nprint_get(row, NS_NPF_IPV6_TC);
        g->fl = (uint32_t)ns_nprint_get(row, NS_NPF_IPV6_FL);
        g->nh = (uint8_t)ns_nprint_get(row, NS_NPF_IPV6_NH);
        g->ttl = (uint8_t)ns_nprint_get(row, NS_NPF_IPV6_HL);
        uint64_t tl = IP6_LEN + ns_nprint_get(row, NS_NPF_IPV6_LEN);
        g->tl = (uint16_t)(tl > 65535 ? 65535 : tl);
        g->proto = g->nh == NS_PROTO_ICMPV6 ? NS_PROTO_ICMP : g->nh == NS_PROTO_ICMP ? 0 : g->nh;
        g->tos = 0, g->id = 0, g->df = 0, g->n_ipopt = 0;
        ip_hlen = IP6_LEN;
    }

    /* The transport: the header most of whose bits are there; several, the IP protocol's or the fullest. */
    static const struct { int proto, col, bits; } l4[3] = {
        {NS_PROTO_TCP, NS_NP_COL_TCP, TCP_FIXED}, {NS_PROTO_UDP, NS_NP_COL_UDP, NS_NP_BITS_UDP},
        {NS_PROTO_ICMP, NS_NP_COL_ICMP, NS_NP_BITS_ICMP}};
    double best = 0;
    int fullest = 0, named = 0;
    for (int i = 0; i < 3; i++) {
        double share = (double)ns_nprint_bits_present(row, l4[i].col, l4[i].bits) / l4[i].bits;
        if (share <= 0.5) continue;
        if (share > best) best = share, fullest = l4[i].proto;
        if ((g->ip || g->ip6) && g->proto == l4[i].proto) named = l4[i].proto;
    }
    g->shows = named ? named : fullest;
    int l4_hlen = 0;
    if (g->shows == NS_PROTO_TCP) {
        g->sport = (uint16_t)ns_nprint_get(row, NS_NPF_TCP_SPRT);
        g->dport = (uint16_t)ns_nprint_get(row, NS_NPF_TCP_DPRT);
        g->seq = (uint32_t)ns_nprint_get(row, NS_NPF_TCP_SEQ);
        g->ack = (uint32_t)ns_nprint_get(row, NS_NPF_TCP_ACKN);
        g->ns = (uint8_t)ns_nprint_get(row, NS_NPF_TCP_NS);
        g->flags = (uint8_t)ns_nprint_bits_get(row, NS_NP_COL_TCP_CWR, NS_NP_BITS_TCP_FLAGS);
        g->win = (uint16_t)ns_nprint_get(row, NS_NPF_TCP_WSIZE);
        g->urp = (uint16_t)ns_nprint_get(row, NS_NPF_TCP_URP);
        g->l4ck = (uint16_t)ns_nprint_get(row, NS_NPF_TCP_CKSUM);
        g->n_tcpopt = present_bytes(row, NS_NP_COL_TCP_OPT, NS_NP_BITS_TCP_OPT / 8, g->tcpopt);
        int doff = (int)ns_nprint_get(row, NS_NPF_TCP_DOFF);
        l4_hlen = doff >= 5 ? 4 * doff : TCP_LEN + g->n_tcpopt;
    } else if (g->shows == NS_PROTO_UDP) {
        g->sport = (uint16_t)ns_nprint_get(row, NS_NPF_UDP_SPORT);
        g->dport = (uint16_t)ns_nprint_get(row, NS_NPF_UDP_DPORT);
        g->l4ck = (uint16_t)ns_nprint_get(row, NS_NPF_UDP_CKSUM);
        l4_hlen = UDP_LEN;
    } else if (g->shows == NS_PROTO_ICMP) {
        g->type = (uint8_t)ns_nprint_get(row, NS_NPF_ICMP_TYPE);
        g->code = (uint8_t)ns_nprint_get(row, NS_NPF_ICMP_CODE);
        g->roh = (uint32_t)ns_nprint_get(row, NS_NPF_ICMP_ROH);
        g->l4ck = (uint16_t)ns_nprint_get(row, NS_NPF_ICMP_CKSUM);
        l4_hlen = ICMP_LEN;
    }
    g->n_pay = present_bytes(row, NS_NP_COL_PAY, PAY_MAX, g->pay);
    /* The class's nearest length may be a bare ACK's: a data row whose
     * learned bytes start a message (a ClientHello, a request) lost them,
     * and its flow its opening, nDPI's evidence. So such a row takes the
     * nearest of the class's lengths that carry payload. Rows without
     * learned bytes move as before (header-only pcaps are unchanged; a
     * bare ACK kept bare as well cost the payload model's run 73 of its
     * HTTP flows: BENCHMARK.md, "Lengths that hold the message (session 13)"). */
    int hdr = ip_hlen + l4_hlen;
    /* A segment with data takes a size the class's segments had at its place (pay_map), and keeps it: a
     * bare ACK stays bare, a SYN and a row with learned bytes (a message) keep theirs. */
    if (lr && lr->pay && lr->pay[0][NS_REPAIR_PAY_Q - 1] && (g->ip || g->ip6) && g->shows == NS_PROTO_TCP &&
        !(g->flags & F_SYN) && !g->n_pay && g->tl > hdr) {
        int pay = lr->bare ? 0 : pay_mapped(lr->pay[0], lr->pay[1], g->tl - hdr, lr->u);
        g->tl = (uint16_t)(hdr + pay > 65535 ? 65535 : hdr + pay);
    } else if ((g->ip || g->ip6) && lr && lr->lens)
        g->tl = class_length(lr->lens, g->tl, (lr->how & LEN_HOLD) && g->n_pay > 0 && g->tl > hdr ? hdr : 0,
                             (lr->how & LEN_NUMERIC) != 0);
    int payload = g->ip || g->ip6 ? (int)g->tl - hdr : 0;
    g->payload = payload > 0 ? payload : 0;
    /* A length cut inside the generated bytes would cut the message they
     * start (a DNS query, a TLS record header) and have DPI and dissectors
     * call it malformed: a packet with payload carries at least them. A
     * length of no payload (an ACK) stays so; its bytes go. */
    if (g->payload && g->payload < g->n_pay) g->payload = g->n_pay;
}

/* ---- options ------------------------------------------------------------------ */

static void put16(uint8_t *p, uint32_t v) { p[0] = (uint8_t)(v >> 8), p[1] = (uint8_t)v; }
static void put32(uint8_t *p, uint32_t v) { put16(p, v >> 16), put16(p + 2, v); }

/* The next option of an IPv4 or TCP option list (the same kind-length
 * layout) at *at: its kind and its bytes, header included (NOP is one byte).
 * 0 at EOL, at the end, or at a malformed option: the rest goes. */
static int next_option(ns_bytes b, size_t *at, uint8_t *kind, ns_bytes *opt)
{
    uint8_t len = 1;
    if (!ns_get_u8(b, *at, kind) || *kind == 0) return 0;
    if (*kind != 1 && (!ns_get_u8(b, *at + 1, &len) || len < 2)) return 0;
    if (!ns_bytes_sub(b, *at, len, opt)) return 0;
    *at += len;
    return 1;
}

/* IPv4 options kept: NOP, router alert; EOL ends them; padded with EOL. */
static int ipv4_options(const uint8_t *in, int n, uint8_t *out)
{
    ns_bytes b = ns_bytes_make(in, (size_t)n), opt;
    int k = 0;
    uint8_t kind;
    for (size_t i = 0; next_option(b, &i, &kind, &opt);)
        if (kind == 1 || (kind == 148 && opt.len == 4)) memcpy(out + k, opt.data, opt.len), k += (int)opt.len;
    while (k % 4) out[k++] = 0;
    return k;
}

enum { O_MSS = 1, O_WS = 2, O_SACKOK = 4, O_TS = 8 };

/* What a row's TCP options say: which of O_* are there and their values. */
typedef struct gen_opts {
    unsigned has;
    uint16_t mss;
    uint8_t shift;
    uint32_t tsval;
    uint16_t win;   /* defaults (dflt): a SYN-ACK's window, 0: none */
    uint8_t rst_bare; /* defaults (dflt): an RST goes without options */
    uint8_t synack_ts; /* defaults (dflt): a SYN-ACK answers the SYN's timestamp, 0 as its row, 1 yes, 2 no */
} gen_opts;

static void read_tcp_options(const uint8_t *in, int n, gen_opts *o)
{
    ns_bytes b = ns_bytes_make(in, (size_t)n), opt;
    uint8_t kind;
    uint16_t v16;
    memset(o, 0, sizeof *o);
    for (size_t i = 0; next_option(b, &i, &kind, &opt);) {
        if (kind == 2 && opt.len == 4 && ns_get_be16(opt, 2, &v16)) o->has |= O_MSS, o->mss = v16;
        if (kind == 3 && opt.len == 3 && ns_get_u8(opt, 2, &o->shift)) o->has |= O_WS;
        if (kind == 4 && opt.len == 2) o->has |= O_SACKOK;
        if (kind == 8 && opt.len == 10 && ns_get_be32(opt, 2, &o->tsval)) o->has |= O_TS;
    }
}

/* Options `o` (O_* bits) as Linux lays them out: MSS, SACK-permitted and
 * timestamps (NOP NOP before timestamps without SACK-permitted, and before
 * SACK-permitted without timestamps), NOP and window scale. A SYN-ACK's
 * full set is 20 bytes, a later segment's timestamps 12. Returns the bytes. */
static int put_options(unsigned o, uint16_t mss, uint8_t shift, uint32_t tsval, uint32_t tsecr, uint8_t *out)
{
    int k = 0;
    if (o & O_MSS) out[0] = 2, out[1] = 4, put16(out + 2, mss), k = 4;
    if ((o & O_SACKOK) && (o & O_TS)) out[k] = 4, out[k + 1] = 2, k += 2;
    else if (o & (O_SACKOK | O_TS)) out[k] = 1, out[k + 1] = 1, k += 2;
    if ((o & O_SACKOK) && !(o & O_TS)) out[k] = 4, out[k + 1] = 2, k += 2;
    if (o & O_TS) out[k] = 8, out[k + 1] = 10, put32(out + k + 2, tsval), put32(out + k + 6, tsecr), k += 10;
    if (o & O_WS) out[k] = 1, out[k + 1] = 3, out[k + 2] = 3, out[k + 3] = shift > 14 ? 14 : shift, k += 4;
    return k;
}

/* A segment's TCP options into out: the generated ones that `allow` (O_*
 * bits) lets, NOPs kept, in their order, a timestamp's values tsval and
 * tsecr (the sender's clock, the peer's latest); when the row lacks some of
 * `want`, those and the ones kept laid out as Linux does (put_options).
 * *had gets the O_* written. Padded with EOL. NOPs that no kept option
 * follows go with the option they aligned (trailing_nops 0: kept): a row's
 * NOP NOP timestamp on a flow whose handshake agreed none was written as
 * NOP NOP EOL EOL, a 24-byte header no stack sends (10% of D-LinkSensor's
 * TCP 443 segments after the handshake in m27 seed 1's pcaps; real: 20 or
 * 32 bytes). The NOPs are those the copy wrote after its last option, not
 * the bytes of value 1 at the end: a window scale of shift 1 (the D-Link
 * devices' SYNs, 01 03 03 01) ends in one, and went out as shift 0. */
static int tcp_options(const uint8_t *in, int n, unsigned allow, unsigned want, const gen_opts *dflt, uint32_t tsval,
                       uint32_t tsecr, int trailing_nops, uint8_t *out, unsigned *had)
{
    static const struct { uint8_t kind, len; unsigned bit; } known[] = {
        {2, 4, O_MSS}, {3, 3, O_WS}, {4, 2, O_SACKOK}, {8, 10, O_TS}};
    ns_bytes b = ns_bytes_make(in, (size_t)n), opt;
    int k = 0, tail = 0; /* tail: the NOPs after the last option written */
    uint8_t kind;
    *had = 0;
    for (size_t i = 0; next_option(b, &i, &kind, &opt);) {
        if (kind == 1) {
            out[k++] = kind, tail++;
            continue;
        }
        uint8_t len = (uint8_t)opt.len;
        for (size_t j = 0; j < sizeof known / sizeof known[0]; j++) {
            if (kind != known[j].kind || len != known[j].len || !(allow & known[j].bit) || (*had & known[j].bit))
                continue;
            memcpy(out + k, opt.data, len);
            if (known[j].bit == O_WS && out[k + 2] > 14) out[k + 2] = 14;
            if (known[j].bit == O_TS) put32(out + k + 2, tsval), put32(out + k + 6, tsecr);
            *had |= known[j].bit;
            k += len, tail = 0;
        }
    }
    unsigned add = want & ~*had;
    if (add) {   /* the options kept and those added laid out afresh: appended, NOPs would run on (tshark warns) */
        gen_opts kept;
        read_tcp_options(out, k, &kept);
        gen_opts v = *dflt;
        if (kept.has & O_MSS) v.mss = kept.mss;
        if (kept.has & O_WS) v.shift = kept.shift;
        k = put_options(*had | add, v.mss, v.shift, tsval, tsecr, out), tail = 0; /* it ends in an option */
        *had |= add;
    }
    if (!trailing_nops) k -= tail;
    while (k % 4) out[k++] = 0;
    return k;
}

/* ---- writing packets ------------------------------------------------------------ */

/* One packet to write, every field decided. */
typedef struct spec {
    uint32_t src, dst;
    uint32_t lsrc;           /* the sender's own address, for its MAC (src is 0.0.0.0 before a DHCP lease) */
    uint32_t ldst;           /* the receiver's MAC's address when not dst's (a routed flow's gateway); 0: dst's */
    int v6;                  /* IPv6: src6, dst6, tos as traffic class, ttl as hop limit, fl */
    uint8_t src6[16], dst6[16];
    uint8_t target6[16];     /* neighbour discovery's target address */
    int dad;                 /* a neighbour solicitation of duplicate address detection: no link-layer option */
    uint32_t fl;
    uint8_t tos, df, ttl, proto, flags, ns, type, code;
    uint16_t id, sport, dport, win, urp;
    uint32_t seq, ack, roh;
    uint8_t ipopt[40], tcpopt[40];
    int n_ipopt, n_tcpopt;
    int payload;
    const app *app;          /* the server's application, when it needs a header */
    int from_server;
    uint16_t app_id;         /* DNS transaction id */
    app_flow *app_st;        /* what the flow's earlier payloads leave for this one */
    const uint8_t *pay;      /* the generated leading payload bytes */
    int n_pay;
    int keep_ck;             /* ablation: the generated checksums ipck, l4ck instead of computed ones */
    uint16_t ipck, l4ck;
} spec;


static void put_mac(uint8_t *p, uint32_t ip)
{
    if (ip == 0xffffffffu) { /* the limited broadcast: every station */
        memset(p, 0xff, 6);
        return;
    }
    if (ip >> 28 == 14) { /* RFC 1112: a multicast group's MAC holds its low 23 bits */
        p[0] = 0x01, p[1] = 0, p[2] = 0x5e, p[3] = (uint8_t)(ip >> 16 & 0x7f), p[4] = (uint8_t)(ip >> 8), p[5] = (uint8_t)ip;
        return;
    }
    p[0] = 0x02, p[1] = 0;
    put32(p + 2, ip);
}

/* A host's link-local address, fe80:: and the modified EUI-64 interface id
 * of its MAC (put_mac's 02:00 + 32 bits, the universal/local bit flipped), as
 * a device configures it by itself (RFC 4291 2.5.1, RFC 4862). */
static void link_local(uint32_t ip, uint8_t out[16])
{
    uint8_t mac[6];
    put_mac(mac, ip);
    memset(out, 0, 16);
    out[0] = 0xfe, out[1] = 0x80;
    out[8] = mac[0] ^ 0x02, out[9] = mac[1], out[10] = mac[2], out[11] = 0xff, out[12] = 0xfe;
    memcpy(out + 13, mac + 3, 3);
}

/* The solicited-node multicast group of an address: ff02::1:ff and its last 24 bits (RFC 4291 2.7.1). */
static void solicited_node(const uint8_t a[16], uint8_t out[16])
{
    static const uint8_t pre[13] = {0xff, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x01, 0xff};
    memcpy(out, pre, 13);
    memcpy(out + 13, a + 13, 3);
}

/* Neighbour discovery and MLD are link-local exchanges: the generated flow's
 * plan addresses (two documentation hosts) would never carry them. The
 * sender writes from its link-local address to the groups RFC 4861 and
 * RFC 3810 name: a router solicitation to all routers (ff02::2), an
 * advertisement to all nodes (ff02::1), a solicitation to the target's
 * solicited-node group, an MLDv2 report to all MLDv2 routers (ff02::16), a
 * solicited advertisement back to the soliciting neighbour. A solicitation
 * whose generated length leaves no room for the link-layer option is
 * duplicate address detection (the corpus's devices send those at start):
 * from :: for its own tentative address. s->src6 / dst6 hold the plan's
 * (global) addresses on entry. */
static void nd_addresses(spec *s)
{
    static const uint8_t all_nodes[16] = {0xff, 0x02, [15] = 0x01}, all_routers[16] = {0xff, 0x02, [15] = 0x02},
                         mld_routers[16] = {0xff, 0x02, [15] = 0x16};
    uint8_t own[16], peer[16];
    link_local(s->lsrc, own);
    link_local(s->dst, peer);
    switch (s->type) {
    case ICMP6_RS: memcpy(s->dst6, all_routers, 16); break;
    case ICMP6_RA: memcpy(s->dst6, all_nodes, 16); break;
    case ICMP6_NS:
        if (s->dad) memcpy(s->target6, own, 16), memset(own, 0, 16);
        else memcpy(s->target6, s->dst6, 16);   /* the neighbour's address it resolves */
        solicited_node(s->target6, s->dst6);
        break;
    case ICMP6_NA:   /* answering for its own address; solicited (S) to the asker, else to all nodes */
        memcpy(s->target6, s->src6, 16);
        memcpy(s->dst6, s->roh & 0x40000000u ? peer : all_nodes, 16);
        break;
    case ICMP6_MLD2_REPORT: memcpy(s->dst6, mld_routers, 16); break;
    default: return;
    }
    memcpy(s->src6, own, 16);
}

/* An ICMP error repair writes as generated (RFC 792): destination
 * unreachable, redirect, time exceeded, with a code the type defines. The
 * IoT corpus's devices send them (HueBridge and EdnetGateway host
 * unreachable and redirects, the WeMo family's administratively
 * prohibited): 27% of its IPv4 ICMP rows, and the forest tells those
 * classes by them. Other types and codes become echo. */
static int icmp_error(uint8_t type, uint8_t code)
{
    return (type == 3 && code <= 15) || (type == 5 && code <= 3) || (type == 11 && code <= 1);
}

/* The datagram an ICMP error quotes (RFC 792: its IP header and at least
 * 8 bytes), at the front of the error's body of n >= 28 bytes: a UDP
 * datagram of n bytes from the error's destination to its sender, as a
 * host answering a datagram it cannot deliver quotes it; ports from the
 * error's IP ID, each in the dynamic range. */
static void icmp_quote(const spec *s, uint8_t *q, int n)
{
    memset(q, 0, IP_LEN + UDP_LEN);
    q[0] = 0x45;
    put16(q + 2, (uint32_t)n);
    put16(q + 4, (uint16_t)(s->id ^ 0x5a5a));
    q[8] = 64, q[9] = NS_PROTO_UDP;
    put32(q + 12, s->dst);
    put32(q + 16, s->src);
    put16(q + 10, ns_ipv4_header_checksum(q, IP_LEN));
    put16(q + IP_LEN, 49152u | (s->id & 0x3fff));
    put16(q + IP_LEN + 2, 49152u | ((s->id * 40503u >> 2) & 0x3fff));
    put16(q + IP_LEN + 4, (uint32_t)(n - IP_LEN));   /* checksum 0: none (RFC 768) */
}

enum { MLD_RECORD = 20, MLD_RECORDS = 4 };   /* an MLDv2 record of no sources (RFC 3810 5.2.4); at most written */

/* The records of an MLDv2 report whose generated body is `generated` bytes:
 * as many as fill it where that is a whole number of records of no sources
 * (2 to MLD_RECORDS), else one. The corpus's devices report one record,
 * then two (WeMoInsightSwitch: 28, 48, 48 bytes; session 13 wrote 28
 * every time, and the forests read those flows as D-LinkHomeHub's).
 * NETSYNTH_REPAIR_OFF=mldrecs: one. */
static int mld_records(int generated, uint64_t off)
{
    if ((off & OFF_MLDRECS) || generated < 2 * MLD_RECORD || generated % MLD_RECORD) return 1;
    return generated / MLD_RECORD < MLD_RECORDS ? generated / MLD_RECORD : MLD_RECORDS;
}

/* The bytes after its 8-byte header that an ICMPv6 message of this type
 * needs (RFC 4861 neighbour discovery with the sender's link-layer address
 * option, RFC 3810 MLDv2 report of one record); -1: a type repair cannot
 * write whole, which becomes echo. */
static int icmp6_body(uint8_t type)
{
    switch (type) {
    case ICMP6_RS: return 8;                   /* source link-layer address */
    case ICMP6_RA: return 8 + 8;               /* reachable time, retrans timer; source link-layer address */
    case ICMP6_NS: case ICMP6_NA: return 16 + 8;   /* target; source / target link-layer address */
    case ICMP6_MLD2_REPORT: return 20;         /* one record, no sources */
    default: return -1;
    }
}

/* Neighbour discovery's and MLD's fixed fields and options; the generated
 * rest of header keeps what it may say (RA's hop limit, M/O flags and router
 * lifetime; NA's R/S/O flags), reserved bits zero. */
static void icmp6_write(const spec *s, uint8_t *l4, uint8_t *data)
{
    uint8_t *opt = data;
    put32(l4 + 4, 0);
    switch (s->type) {
    case ICMP6_RS: break;
    case ICMP6_RA:
        l4[4] = (uint8_t)(s->roh >> 24), l4[5] = (uint8_t)(s->roh >> 16 & 0xc0), put16(l4 + 6, s->roh & 0xffff);
        memset(data, 0, 8), opt = data + 8;   /* reachable time, retrans timer: unspecified */
        break;
    case ICMP6_NS:
        memcpy(data, s->target6, 16), opt = data + 16;
        if (s->dad) return;   /* RFC 4861 4.3: no source link-layer address from :: */
        break;
    case ICMP6_NA:
        l4[4] = (uint8_t)(s->roh >> 24 & 0xe0);
        memcpy(data, s->target6, 16), opt = data + 16;
        break;
    case ICMP6_MLD2_REPORT: {
        /* CHANGE_TO_EXCLUDE of no sources: joining the sender's solicited-node group ff02::1:ffXX:XXXX, then
         * (a report of more records: mld_records) all routers, mDNS and LLMNR, as the corpus's devices join */
        static const uint8_t more[3][16] = {{0xff, 0x02, [15] = 0x02}, {0xff, 0x02, [15] = 0xfb},
                                            {0xff, 0x02, [13] = 0x01, [15] = 0x03}};
        int n = s->payload / MLD_RECORD;
        put16(l4 + 6, (uint16_t)n);
        memset(data, 0, (size_t)n * MLD_RECORD);
        for (int i = 0; i < n; i++) {
            data[i * MLD_RECORD] = 4;
            if (i) memcpy(data + i * MLD_RECORD + 4, more[(i - 1) % 3], 16);
        }
        solicited_node(s->src6, data + 4);
        return;
    }
    default: return;
    }
    opt[0] = s->type == ICMP6_NA ? 2 : 1, opt[1] = 1;   /* target / source link-layer address, 8 bytes */
    put_mac(opt + 2, s->src);
}

/* The frame for s into buf (room for ETH_LEN + 120 + the MTU); returns its length. */
static size_t write_packet(const ns_repair_opts *o, const spec *s, ns_rng *rng, uint8_t *buf)
{
    size_t link = o->linktype == NS_LINKTYPE_ETHERNET ? ETH_LEN : 0;
    if (link) {
        put_mac(buf, s->ldst ? s->ldst : s->dst);
        if (s->v6 && s->dst6[0] == 0xff) {   /* RFC 2464 7: 33:33 and the group's last 32 bits */
            buf[0] = buf[1] = 0x33;
            memcpy(buf + 2, s->dst6 + 12, 4);
        }
        put_mac(buf + 6, s->lsrc);
        put16(buf + 12, s->v6 ? NS_ETHERTYPE_IPV6 : NS_ETHERTYPE_IPV4);
    }
    uint8_t *ip = buf + link;
    size_t ihl = s->v6 ? IP6_LEN : IP_LEN + (size_t)s->n_ipopt;
    size_t l4h = s->proto == NS_PROTO_TCP ? TCP_LEN + (size_t)s->n_tcpopt : s->proto == NS_PROTO_UDP ? UDP_LEN : ICMP_LEN;
    size_t total = ihl + l4h + (size_t)s->payload;
    uint8_t nh = s->v6 && s->proto == NS_PROTO_ICMP ? NS_PROTO_ICMPV6 : s->proto;
    memset(ip, 0, ihl + l4h);
    if (s->v6) {
        put32(ip, 6u << 28 | (uint32_t)s->tos << 20 | (s->fl & 0xfffff));
        put16(ip + 4, (uint32_t)(l4h + (size_t)s->payload));
        ip[6] = nh;
        ip[7] = s->ttl;
        memcpy(ip + 8, s->src6, 16);
        memcpy(ip + 24, s->dst6, 16);
    } else {
        ip[0] = (uint8_t)(0x40 | ihl / 4);
        ip[1] = s->tos;
        put16(ip + 2, (uint32_t)total);
        put16(ip + 4, s->id);
        ip[6] = (uint8_t)(s->df << 6);
        ip[8] = s->ttl;
        ip[9] = s->proto;
        put32(ip + 12, s->src);
        put32(ip + 16, s->dst);
        memcpy(ip + IP_LEN, s->ipopt, (size_t)s->n_ipopt);
        put16(ip + 10, s->keep_ck ? s->ipck : ns_ipv4_header_checksum(ip, ihl));
    }

    uint8_t *l4 = ip + ihl, *data = l4 + l4h;
    if (o->payload == NS_REPAIR_PAYLOAD_RANDOM) {
        for (int i = 0; i < s->payload; i += 8) {
            uint64_t r = ns_rng_u64(rng);
            for (int b = 0; b < 8 && i + b < s->payload; b++) data[i + b] = (uint8_t)(r >> 8 * b);
        }
    } else {
        memset(data, 0, (size_t)s->payload);
    }
    app_write(s->app, s->app_st, data, s->payload, s->from_server, s->app_id, s->pay, s->n_pay);
    if (s->proto == NS_PROTO_TCP) {
        put16(l4, s->sport);
        put16(l4 + 2, s->dport);
        put32(l4 + 4, s->seq);
        put32(l4 + 8, s->ack);
        l4[12] = (uint8_t)(l4h / 4 << 4 | s->ns);
        l4[13] = s->flags;
        put16(l4 + 14, s->win);
        put16(l4 + 18, s->urp);
        memcpy(l4 + TCP_LEN, s->tcpopt, (size_t)s->n_tcpopt);
    } else if (s->proto == NS_PROTO_UDP) {
        put16(l4, s->sport);
        put16(l4 + 2, s->dport);
        put16(l4 + 4, (uint32_t)(UDP_LEN + s->payload));
    } else {
        l4[0] = s->type, l4[1] = s->code;
        put32(l4 + 4, s->roh);
        if (s->v6 && icmp6_body(s->type) >= 0) icmp6_write(s, l4, data);
        if (!s->v6 && icmp_error(s->type, s->code) && s->payload >= IP_LEN + UDP_LEN)
            icmp_quote(s, data, s->payload);
    }
    uint16_t c = s->v6 ? ns_l4_checksum_ipv6(ip, nh, l4, l4h + (size_t)s->payload)
                       : ns_l4_checksum_ipv4(ip, s->proto, l4, l4h + (size_t)s->payload);
    if (s->keep_ck) c = s->l4ck;
    put16(l4 + (s->proto == NS_PROTO_TCP ? 16 : s->proto == NS_PROTO_UDP ? 6 : 2), c);
    return link + total;
}

/* ---- statistics ----------------------------------------------------------------- */

typedef struct field_cols {
    size_t n;
    int col[NS_REPAIR_MAX_FIELDS], width[NS_REPAIR_MAX_FIELDS];   /* col -1: not in a model row */
} field_cols;

static void model_fields(field_cols *fc)
{
    const ns_nprint_field *f = ns_nprint_fields(&fc->n);
    if (fc->n > NS_REPAIR_MAX_FIELDS) fc->n = NS_REPAIR_MAX_FIELDS;
    for (size_t i = 0; i < fc->n; i++) {
        fc->col[i] = ns_nprint_field_col(NS_NP_MODEL_LAYERS, (ns_nprint_field_id)i);
        fc->width[i] = f[i].width;
    }
}

static void count_changes(ns_repair_stats *st, const field_cols *fc, const int8_t *generated, const int8_t *written)
{
    /* The IPv6 layer counts only where the row or its packet has some of it:
     * an IPv4 flow's 320 absent IPv6 values are no bits the model generated,
     * and counting them would dilute the shares (an IPv4-only run reports as
     * it did before IPv6 was learnt). */
    int v6 = ns_nprint_bits_present(generated, NS_NP_COL_IPV6, NS_NP_BITS_IPV6) ||
             ns_nprint_bits_present(written, NS_NP_COL_IPV6, NS_NP_BITS_IPV6);
    for (size_t i = 0; i < fc->n; i++) {
        if (fc->col[i] < 0) continue;
        if (!v6 && fc->col[i] >= NS_NP_COL_IPV6 && fc->col[i] < NS_NP_COL_IPV6 + NS_NP_BITS_IPV6) continue;
        uint64_t diff = 0;
        for (int k = 0; k < fc->width[i]; k++) diff += generated[fc->col[i] + k] != written[fc->col[i] + k];
        st->bits[i] += (uint64_t)fc->width[i];
        st->changed[i] += diff;
    }
}

int ns_repair_field_assigned(size_t f)
{
    static const ns_nprint_field_id assigned[] = {NS_NPF_IPV4_SRC,  NS_NPF_IPV4_DST,  NS_NPF_IPV4_CKSUM,
                                                  NS_NPF_IPV6_SRC,  NS_NPF_IPV6_DST,  NS_NPF_TCP_CKSUM,
                                                  NS_NPF_UDP_CKSUM, NS_NPF_ICMP_CKSUM};
    for (size_t i = 0; i < sizeof assigned / sizeof assigned[0]; i++)
        if (f == (size_t)assigned[i]) return 1;
    return 0;
}

static double share(uint64_t part, uint64_t whole) { return whole ? (double)part / (double)whole : 0; }

/* snprintf at buf + *at, never past size; *at counts what would have been written. */
static void append(char *buf, size_t size, int *at, const char *fmt, ...) __attribute__((format(printf, 4, 5)));
static void append(char *buf, size_t size, int *at, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    size_t used = (size_t)*at;
    int w = vsnprintf(used < size ? buf + used : NULL, used < size ? size - used : 0, fmt, ap);
    va_end(ap);
    if (w > 0) *at += w;
}

int ns_repair_summary(const ns_repair_stats *st, int top, char *buf, size_t size)
{
    size_t n;
    const ns_nprint_field *fields = ns_nprint_fields(&n);
    if (n > NS_REPAIR_MAX_FIELDS) n = NS_REPAIR_MAX_FIELDS;
    uint64_t bits = 0, changed = 0;
    for (size_t i = 0; i < n; i++) bits += st->bits[i], changed += st->changed[i];
    int at = 0, used[NS_REPAIR_MAX_FIELDS] = {0};
    if (size) buf[0] = 0;
    append(buf, size, &at, "repair changed %.1f%% of generated bits", 100 * share(changed, bits));
    int shown = 0;
    for (; shown < top; shown++) {
        int best = -1;
        for (size_t i = 0; i < n; i++)
            if (!used[i] && st->changed[i] && !ns_repair_field_assigned(i) &&
                (best < 0 || share(st->changed[i], st->bits[i]) > share(st->changed[best], st->bits[best])))
                best = (int)i;
        if (best < 0) break;
        used[best] = 1;
        append(buf, size, &at, "%s%s %.1f%%", shown ? ", " : " (most: ", fields[best].name,
               100 * share(st->changed[best], st->bits[best]));
    }
    append(buf, size, &at, "%s; %" PRIu64 " of %" PRIu64 " rows converted to their flow's transport, %" PRIu64
           " dropped after an RST, %" PRIu64 " RSTs before more than %d rows taken for ACKs; %" PRIu64
           " FINs moved to the flow's end, %" PRIu64 " packets added to close flows, %" PRIu64
           " FINs or RSTs cleared for the plan's close; empty ACKs of nothing new: %" PRIu64
           " sent by the peer, %" PRIu64 " as its data, %" PRIu64 " dropped", shown ? ")" : "",
           st->converted, st->rows, st->dropped, st->rst_cleared, RST_TAIL, st->fin_moved, st->close_added,
           st->close_cleared, st->acks_turned, st->acks_to_data, st->acks_dropped);
    if (st->cut) append(buf, size, &at, "; %" PRIu64 " packets past their capture's end not written", st->cut);
    return at;
}

int ns_repair_write_report(const ns_repair_stats *st, const char *path)
{
    size_t n;
    const ns_nprint_field *fields = ns_nprint_fields(&n);
    if (n > NS_REPAIR_MAX_FIELDS) n = NS_REPAIR_MAX_FIELDS;
    ns_outfile o;
    int rc = ns_outfile_open(&o, path);
    if (rc) return rc;
    uint64_t bits = 0, changed = 0;
    for (size_t i = 0; i < n; i++) bits += st->bits[i], changed += st->changed[i];
    fprintf(o.fp,
            "{\n  \"flows\": %" PRIu64 ",\n  \"rows\": %" PRIu64 ",\n  \"packets\": %" PRIu64
            ",\n  \"converted_rows\": %" PRIu64 ",\n  \"dropped_rows\": %" PRIu64 ",\n  \"redirected_rows\": %" PRIu64
            ",\n  \"rst_cleared\": %" PRIu64 ",\n  \"fin_moved\": %" PRIu64 ",\n  \"close_added\": %" PRIu64
            ",\n  \"close_cleared\": %" PRIu64 ",\n  \"acks_turned\": %" PRIu64 ",\n  \"acks_to_data\": %" PRIu64 ",\n  \"acks_dropped\": %" PRIu64 ",\n  \"cut\": %" PRIu64
            ",\n  \"bits\": %" PRIu64 ",\n  \"changed\": %" PRIu64 ",\n  \"share\": %.6f,\n  \"fields\": [",
            st->flows, st->rows, st->packets, st->converted, st->dropped, st->redirected, st->rst_cleared, st->fin_moved,
            st->close_added, st->close_cleared, st->acks_turned, st->acks_to_data, st->acks_dropped, st->cut, bits, changed,
            share(changed, bits));
    int first = 1;
    for (size_t i = 0; i < n; i++) {
        if (!st->bits[i]) continue;
        fprintf(o.fp, "%s\n    {\"field\": \"%s\", \"bits\": %" PRIu64 ", \"changed\": %" PRIu64
                      ", \"share\": %.6f, \"assigned\": %s}",
                first ? "" : ",", fields[i].name, st->bits[i], st->changed[i], share(st->changed[i], st->bits[i]),
                ns_repair_field_assigned(i) ? "true" : "false");
        first = 0;
    }
    fprintf(o.fp, "\n  ]\n}\n");
    if (ferror(o.fp)) {
        ns_outfile_abort(&o);
        return ns_error(NS_EIO, "%s: write failed", path);
    }
    return ns_outfile_commit(&o);
}

/* ---- output buffers --------------------------------------------------------------- */

void ns_repair_out_clear(ns_repair_out *out) { out->n_bytes = out->n_pkts = 0; }

void ns_repair_out_free(ns_repair_out *out)
{
    free(out->bytes);
    free(out->pkts);
    memset(out, 0, sizeof *out);
}

/* Room for one more packet of up to `bytes` bytes. */
static int reserve(ns_repair_out *out, size_t bytes)
{
    if (out->n_bytes + bytes > out->cap_bytes_) {
        size_t cap = (out->n_bytes + bytes) * 2;
        uint8_t *b = realloc(out->bytes, cap);
        if (!b) return ns_error(NS_ENOMEM, "out of memory for repaired packets");
        out->bytes = b, out->cap_bytes_ = cap;
    }
    if (out->n_pkts + 1 > out->cap_pkts_) {
        size_t cap = (out->n_pkts + 1) * 2;
        ns_repair_pkt *p = realloc(out->pkts, cap * sizeof *p);
        if (!p) return ns_error(NS_ENOMEM, "out of memory for repaired packets");
        out->pkts = p, out->cap_pkts_ = cap;
    }
    return NS_OK;
}

/* ---- one flow --------------------------------------------------------------------- */

/* The transport most rows show (ties: TCP, UDP, ICMP); none: the IP protocol most name; else UDP. */
static uint8_t flow_transport(const gen *g, size_t n)
{
    static const uint8_t order[3] = {NS_PROTO_TCP, NS_PROTO_UDP, NS_PROTO_ICMP};
    size_t shows[3] = {0}, named[3] = {0};
    for (size_t i = 0; i < n; i++)
        for (int t = 0; t < 3; t++)
            shows[t] += g[i].shows == order[t], named[t] += (g[i].ip || g[i].ip6) && g[i].proto == order[t];
    int best = 0, by_name = 0;
    for (int t = 1; t < 3; t++) best = shows[t] > shows[best] ? t : best, by_name = named[t] > named[by_name] ? t : by_name;
    if (shows[best]) return order[best];
    return named[by_name] ? order[by_name] : NS_PROTO_UDP;
}

/* The server port most rows of the transport name (non-zero; 9, discard, when none does); ties: the
 * one named first. Past a few rows, counted by port in one pass: pair by pair, a flow of 100,000 rows
 * took a minute. */
static uint16_t server_port(const gen *g, const uint8_t *dir, size_t n, uint8_t proto)
{
    uint16_t best = 9;
    size_t best_n = 0;
    uint32_t *count = n > 64 ? calloc(65536, sizeof *count) : NULL;
    if (count) {
        for (size_t i = 0; i < n; i++)
            if (g[i].shows == proto) count[dir[i] ? g[i].sport : g[i].dport]++;
        for (size_t i = 0; i < n; i++) {
            uint16_t p = dir[i] ? g[i].sport : g[i].dport;
            if (g[i].shows == proto && p && count[p] > best_n) best = p, best_n = count[p];
        }
        free(count);
        return best;
    }
    for (size_t i = 0; i < n; i++) {
        if (g[i].shows != proto) continue;
        uint16_t p = dir[i] ? g[i].sport : g[i].dport;
        if (!p) continue;
        size_t c = 0;
        for (size_t j = i; j < n; j++) c += g[j].shows == proto && (dir[j] ? g[j].sport : g[j].dport) == p;
        if (c > best_n) best = p, best_n = c;
    }
    return best;
}

/* A direction's initial sequence number: its first segment's, else what the peer first acknowledged. */
static uint32_t initial_seq(const gen *g, const uint8_t *dir, size_t n, int d)
{
    for (size_t i = 0; i < n; i++)
        if (g[i].shows == NS_PROTO_TCP && dir[i] == d) return g[i].seq;
    for (size_t i = 0; i < n; i++)
        if (g[i].shows == NS_PROTO_TCP && dir[i] != d && (g[i].flags & F_ACK)) return g[i].ack;
    return 0;
}

/* A row the client sent as a SYN: SYN without ACK, TCP as generated. */
static int client_syn(const gen *g, uint8_t dir)
{
    return !dir && g->shows == NS_PROTO_TCP && (g->flags & (F_SYN | F_ACK)) == F_SYN;
}

/* The peer's segments an empty ACK may leave for the sender's next ones (ack_part). */
enum { ACK_ENDS = 4 };

/* TCP state of a flow. */
typedef struct tcp_state {
    int handshake;
    uint32_t nxt[2];
    int fin[2], has_ts[2];
    uint32_t tsval[2];        /* each direction's latest TSval written */
    uint16_t win[2];
    unsigned syn_opts;        /* options of the SYN, after repair */
    int ts_ok;                /* timestamps on every segment: both SYNs carried them, or (no handshake) most rows do */
    uint32_t ts_base[2];      /* each direction's TSval at the flow's start, when no plan clocks it */
    uint32_t sent[2];         /* segments written per direction */
    uint32_t lastack[2];      /* the acknowledgement number of each direction's latest segment */
    uint8_t intent;           /* F_FIN, F_RST: what the flow's generated rows so far show, or the plan's close */
    uint8_t planned;          /* the plan's close (NS_REPAIR_CLOSE_*); 0: the rows' intent decides */
    uint8_t side;             /* the plan's close_side: 1 + the side that closes; 0: as the rows go */
    uint8_t shape;            /* the plan's close_shape (NS_REPAIR_SHAPE_*) */
    uint8_t fin_back;         /* rows_close's first FIN: this many rows before the flow's end (the peer's FIN
                               * and the last ACK or RST: its last two); 0: not following the rows */
    uint8_t ack_short;        /* this segment acknowledges the peer's data but not its FIN */
    uint8_t ack_part;         /* this empty ACK acknowledges the peer's data up to ack_upto only */
    uint32_t ack_upto;
    uint32_t ends[2][ACK_ENDS]; /* each direction's latest segments' ends (sequence number after them), */
    uint8_t n_ends[2];          /* oldest first: what a partial ACK can acknowledge */
    uint16_t last_len[2];     /* each direction's latest payload */
    int scaled;               /* most generated windows are under 1024: scaled ones (a window scale in use) */
    uint8_t first_fin;        /* 1 + the direction of the flow's first FIN; 0: none yet */
    uint8_t syns;             /* rows that are the client's SYN: the first and its retransmissions (255 at most) */
    uint8_t ts_rows;          /* most of the flow's generated TCP rows carry a timestamp */
    uint64_t off;             /* OFF_*: rules NETSYNTH_REPAIR_OFF skips */
} tcp_state;

/* A closing step the end of a flow forces on a row: the first FIN, the
 * peer's FIN (acknowledging the first), the last ACK, or an RST. */
enum { STEP_NONE, STEP_FIN1, STEP_FIN2, STEP_ACK, STEP_RST };

/* The rows a close takes at a flow's end: FIN, FIN-ACK, ACK; the ACKED shape's peer ACK before its FIN-ACK. */
static uint64_t close_rows(const tcp_state *t) { return 3 + !!(t->shape & NS_REPAIR_SHAPE_ACKED); }

/* The segments the flow's close still needs (0: none, or done), its next
 * step and the side that sends it (*dd: the side when nothing decides it,
 * the row's). A FIN exchange: the first FIN (the plan's side), the peer's
 * ACK of it (ACKED shape), the peer's FIN-ACK, then the last ACK, or with
 * FIN_RST the first side's RST in its place; an RST close: the RST. */
static int close_next(const tcp_state *t, int *step, int *dd)
{
    *step = STEP_NONE;
    int fin_rst = (t->intent & F_RST) && (t->shape & NS_REPAIR_SHAPE_FIN_RST);
    if ((t->intent & F_RST) && !fin_rst) {
        if (t->side) *dd = t->side - 1;
        return *step = STEP_RST, 1;
    }
    if (!(t->intent & F_FIN)) return 0;
    int a = t->first_fin ? t->first_fin - 1 : t->side ? t->side - 1 : *dd, b = !a;
    if (!t->fin[a]) return *step = STEP_FIN1, *dd = a, fin_rst ? 3 : (int)close_rows(t);
    if (!t->fin[b]) {
        if ((t->shape & NS_REPAIR_SHAPE_ACKED) && !fin_rst && t->lastack[b] != t->nxt[a])
            return *step = STEP_ACK, *dd = b, 3;
        return *step = STEP_FIN2, *dd = b, 2;
    }
    if (fin_rst) return *step = STEP_RST, *dd = a, 1;
    if (t->lastack[a] != t->nxt[b]) return *step = STEP_ACK, *dd = a, 1;
    return 0;
}

/* A FIN exchange on the flow's last rows as their sides go (d[0..n), rows
 * row0.. of a flow that ends with them): the last row is the closing side
 * a's (its last ACK, or RST), the row before it the peer's FIN, and a's
 * last row before that its first FIN, within CLOSE_SPAN rows of the end and
 * at or after row `lo` (past the handshake). What lies between
 * keeps its side: the peer's rows after the first FIN (its ACK of it, data
 * it still sends), the closing side's ACKs. Forcing the steps on the last
 * rows instead turned rows around: the IoT model's HueSwitch flows, 6
 * client and 5 server packets as real, came out 5 and 6. 0: the rows do not
 * fit. */
enum { CLOSE_SPAN = 8 };
static uint8_t rows_close(const uint8_t *d, size_t n, uint64_t row0, uint64_t lo, int a)
{
    if (n < 3 || d[n - 1] != a || d[n - 2] == a) return 0;
    size_t i1 = n - 2;
    while (i1 > 0 && d[i1 - 1] != a) i1--;
    if (!i1 || n - (i1 - 1) > CLOSE_SPAN || row0 + i1 - 1 < lo) return 0;
    return (uint8_t)(n - (i1 - 1));
}

/* The flags of row `at` (direction d) and its payload, before the MTU and
 * URG have their say: the generated ones within what TCP allows there, or
 * the closing step's. *rst_cleared, *fin_moved, *close_cleared count flags
 * taken away. */
static uint8_t seg_flags(const tcp_state *t, const gen *g, uint64_t at, int d, int step, int in_tail,
                         size_t rows_after, int *payload, uint64_t *rst_cleared, uint64_t *fin_moved,
                         uint64_t *close_cleared)
{
    uint8_t fl = g->shows != NS_PROTO_TCP ? 0 : g->flags;
    *payload = g->payload;
    if (t->handshake && at < t->syns) return *payload = 0, F_SYN;
    if (t->handshake && at == t->syns)
        return *payload = 0, t->planned == NS_REPAIR_CLOSE_REFUSED ? F_RST | F_ACK : F_SYN | F_ACK;
    fl &= (uint8_t)~F_SYN;
    if (step == STEP_RST) {
        /* After both FINs a stack has nothing to acknowledge with it (the IoT corpus's: RST alone). */
        fl = (t->shape & NS_REPAIR_SHAPE_FIN_RST) && t->fin[0] && t->fin[1] ? F_RST : F_RST | F_ACK;
    } else if (step) {
        fl = (uint8_t)((fl & (F_PSH | F_URG)) | F_ACK | (step == STEP_ACK ? 0 : F_FIN));
        if (step == STEP_ACK) *payload = 0;
    } else {
        /* A planned close is the class's share of closes (tmodel.h): a flag
         * that would close the flow otherwise is the model's noise. */
        if (t->planned && !(t->off & OFF_CLOSE)) {
            uint8_t drop = t->planned == NS_REPAIR_CLOSE_RST ? 0 : t->planned == NS_REPAIR_CLOSE_FIN ? F_RST : F_RST | F_FIN;
            if (fl & drop) fl &= (uint8_t)~drop, ++*close_cleared;
            /* The plan's side sends the first FIN. */
            if ((fl & F_FIN) && t->side && !t->first_fin && d != t->side - 1) fl &= (uint8_t)~F_FIN, ++*close_cleared;
        }
        /* An RST ends a flow: what follows it in real flows is a packet or two
         * already in flight (0.5% of the IoT corpus's packets). One the model puts
         * before many more rows is taken for noise in the flag rather than in
         * everything after it, which dropping those rows would believe. A FIN
         * before the flow's last rows is the same noise: a flow that closes
         * closes at its end (close_next), where real flows do. */
        if ((fl & F_RST) && rows_after > RST_TAIL && !(t->off & OFF_RST)) fl &= (uint8_t)~F_RST, ++*rst_cleared;
        if ((fl & F_FIN) && !in_tail && !(fl & F_RST) && !(t->off & OFF_FIN)) fl &= (uint8_t)~F_FIN, ++*fin_moved;
    }
    if (fl & F_RST) fl &= (uint8_t)~(F_FIN | F_PSH | F_URG), *payload = 0;
    else fl |= F_ACK;
    if (t->fin[d]) fl &= (uint8_t)~(F_FIN | F_PSH | F_URG), *payload = 0;
    return fl;
}

/* An empty ACK that acknowledges nothing new (its sender got nothing since
 * its last segment): tshark calls it a duplicate ACK or a window update,
 * and a real stack sends one only on loss or a stalled window. Generated
 * ones were most of the 27-38% of segments sequence analysis flagged. */
static int redundant_ack(const tcp_state *t, uint8_t fl, int payload, int d)
{
    return !payload && !(fl & (F_SYN | F_FIN | F_RST)) && t->sent[d] && t->lastack[d] == t->nxt[!d];
}

/* A row the model generated as an empty ACK: TCP, no payload, no SYN, FIN or RST. */
static int empty_ack_row(const gen *g)
{
    return g->shows == NS_PROTO_TCP && !g->payload && !(g->flags & (F_SYN | F_FIN | F_RST));
}

/* Where an empty ACK of direction d acknowledges to when its next `more`
 * rows are empty ACKs of d too: one peer segment more each, the last one
 * everything. Stacks that acknowledge segment by segment (delayed ACKs
 * every second segment, lwIP every one) send such runs: the IoT corpus's
 * D-Link sensors, sirens and switches in 16-21% of their segments past the
 * handshake (bench/empty_acks.py). Acknowledged
 * all at once, each later ACK of the run said nothing new and went to the
 * peer as its data or its ACK (redundant_ack), another packet than the
 * row's. 0: acknowledge all, *upto untouched. */
static int partial_ack(const tcp_state *t, int d, int more, uint32_t *upto)
{
    int peer = !d, u = 0, first = -1;
    if (!more || !t->sent[d]) return 0;
    for (int k = 0; k < t->n_ends[peer]; k++)
        if ((int32_t)(t->ends[peer][k] - t->lastack[d]) > 0) {
            if (first < 0) first = k;
            u++;
        }
    if (u < 2) return 0;
    int idx = u - 1 - more;
    *upto = t->ends[peer][first + (idx > 0 ? idx : 0)];
    return 1;
}

/* The TCP fields of a segment of direction d with flags fl and payload into
 * s, advancing the state; tsval: the sender's clock now; dflt: the MSS and
 * window scale added options take. Returns 1 when it is an RST. */
static int tcp_segment(tcp_state *t, const gen *g, uint64_t at, int d, uint8_t fl, int payload, int mtu_room,
                       uint32_t tsval, const gen_opts *dflt, spec *s)
{
    int conv = g->shows != NS_PROTO_TCP;
    unsigned allow, want = 0;
    if (t->handshake && at < t->syns) {
        allow = O_MSS | O_WS | O_SACKOK | O_TS, want = O_MSS;   /* every stack's SYN says its MSS */
        /* and offers timestamps when the flow's rows carry them: a SYN row whose options came out garbled
         * (02 04 05 b4 then a malformed option: MSS alone) left every later segment without them (RFC 7323),
         * 17 of WeMoInsightSwitch's 80 answered TCP flows in m27 seed 1's pcaps, whose real segments all
         * carry one (NETSYNTH_REPAIR_OFF=synts: MSS alone) */
        if (t->ts_rows && !(t->off & OFF_SYNTS)) want |= O_TS;
        if (t->off & OFF_SYNOPTS) want = 0;
        if (at) t->nxt[d]--; /* a retransmission: the first SYN's sequence number again */
    } else if (t->handshake && at == t->syns && (fl & F_RST)) {
        allow = want = 0;   /* a refused SYN's answer: an RST-ACK, no options */
    } else if (t->handshake && at == t->syns) {
        /* A SYN-ACK answers the SYN's options (RFC 7323: window scale and
         * timestamps only when the SYN had them) and always says its MSS:
         * those of the SYN's the row generated when it generated a SYN-ACK's
         * set, its MSS and more (a server that declines window scaling, as
         * the IoT corpus's HueBridge cloud does, is a class's trait), else
         * all the SYN had, as most servers of every corpus answer (a lone
         * timestamp or MSS is a later segment's set, or noise: the lab's
         * servers answer every SYN in full). */
        gen_opts go;
        read_tcp_options(g->tcpopt, conv ? 0 : g->n_tcpopt, &go);
        unsigned syn = t->syn_opts & (O_WS | O_SACKOK | O_TS);
        allow = O_MSS | syn;
        int full = (go.has & O_MSS) && (go.has & (O_WS | O_SACKOK | O_TS));
        want = full ? O_MSS : O_MSS | syn;
        if (t->ts_rows && !(t->off & OFF_SYNTS)) want |= syn & O_TS;   /* the same: its rows carry them */
        /* Windows of a few hundred after the handshake are scaled ones:
         * read unscaled (a SYN-ACK row generated without its window scale),
         * a 64-byte window fills at once (tshark: window full). */
        if (t->scaled) want |= syn & O_WS;
        /* The class's servers' share of SYN-ACKs with a timestamp (the plan's): without one, RFC 7323 leaves
         * the flow without them. */
        if (dflt->synack_ts == 1) want |= syn & O_TS;
        if (dflt->synack_ts == 2) allow &= ~(unsigned)O_TS, want &= ~(unsigned)O_TS;
        if (t->off & OFF_SYNOPTS) want = 0;
    } else {
        allow = want = t->ts_ok ? O_TS : 0;   /* RFC 7323: on every segment once agreed, on none otherwise */
        if ((fl & F_RST) && dflt->rst_bare) allow = want = 0;   /* but RSTs, which it exempts (the plan's) */
        if (t->off & OFF_TSALL) allow = O_TS, want = 0;
    }
    uint32_t tsecr = (fl & F_ACK) && t->has_ts[!d] ? t->tsval[!d] : 0;
    unsigned had = 0;
    s->n_tcpopt = tcp_options(g->tcpopt, conv ? 0 : g->n_tcpopt, allow, want, dflt, tsval, tsecr,
                              (t->off & OFF_NOPS) != 0, s->tcpopt, &had);
    if (had & O_TS) t->has_ts[d] = 1, t->tsval[d] = tsval;
    if (t->handshake && at == 0) t->syn_opts = had;
    if (t->handshake && at == t->syns) t->ts_ok = (t->syn_opts & had & O_TS) != 0;
    int room = mtu_room - TCP_LEN - s->n_tcpopt;
    payload = app_len(s->app, payload);
    if (payload > room) payload = room > 0 ? room : 0;
    if ((fl & F_URG) && !(payload > 0 && g->urp > 0 && g->urp <= payload)) fl &= (uint8_t)~F_URG;
    if (!payload) fl &= (uint8_t)~F_PSH; /* nothing to push: no stack sends it (issue 14: 7-14% of segments did) */
    s->urp = fl & F_URG ? g->urp : 0;
    s->flags = fl;
    s->ns = conv ? 0 : g->ns;
    s->seq = t->nxt[d];
    s->ack = fl & F_ACK ? t->nxt[!d] - (t->ack_short && t->fin[!d]) : 0;
    if (t->ack_part && (fl & F_ACK) && !payload && !(fl & (F_SYN | F_FIN | F_RST))) s->ack = t->ack_upto;
    if ((t->off & OFF_SEQ) && !conv) s->seq = g->seq, s->ack = g->ack;
    if (t->handshake && at == t->syns && (fl & F_RST)) s->seq = 0;   /* RFC 793's answer to a SYN at a closed port */
    s->win = conv || (!g->win && !(fl & F_RST)) ? t->win[d] : g->win;  /* a zero window would stall the peer */
    /* A SYN-ACK's window is never scaled (RFC 7323): one generated under 1024
     * is a later segment's scaled one (no real IoT or lab SYN-ACK says less);
     * it, or none, is the class's. */
    if (t->handshake && at == t->syns && dflt->win && (conv || g->win < 1024)) s->win = dflt->win;
    if (t->handshake && at == t->syns && (fl & F_RST)) s->win = 0;   /* a refusal's, as stacks send it */
    if (s->win) t->win[d] = s->win;
    s->payload = payload;
    if (payload) t->last_len[d] = (uint16_t)payload;
    t->nxt[d] += (uint32_t)payload + !!(fl & F_SYN) + !!(fl & F_FIN);
    if (payload || (fl & F_FIN)) {
        if (t->n_ends[d] == ACK_ENDS) memmove(t->ends[d], t->ends[d] + 1, (ACK_ENDS - 1) * sizeof t->ends[d][0]);
        else t->n_ends[d]++;
        t->ends[d][t->n_ends[d] - 1] = t->nxt[d];
    }
    if ((fl & F_FIN) && !t->fin[d]) {
        t->fin[d] = 1;
        if (!t->first_fin) t->first_fin = (uint8_t)(1 + d);
    }
    if (fl & F_ACK) t->lastack[d] = s->ack;
    t->sent[d]++;
    return (fl & F_RST) != 0;
}

/* The TSval generated for direction d (the first row of it with a timestamp), else 0. */
static uint32_t generated_tsval(const gen *g, const uint8_t *dir, size_t n, int d, int *found)
{
    for (size_t i = 0; i < n; i++) {
        gen_opts go;
        if (g[i].shows != NS_PROTO_TCP || dir[i] != d) continue;
        read_tcp_options(g[i].tcpopt, g[i].n_tcpopt, &go);
        if (go.has & O_TS) return *found = 1, go.tsval;
    }
    return *found = 0, 0;
}

/* The IPv4 fields of row r into s (defaults when the row has no IPv4 header). */
static void ipv4_fields(spec *s, const gen *r)
{
    if (!r->ip) {
        s->df = 1, s->ttl = 64;
        return;
    }
    s->tos = r->tos, s->id = r->id, s->df = r->df, s->ttl = r->ttl ? r->ttl : 64;
    s->n_ipopt = ipv4_options(r->ipopt, r->n_ipopt, s->ipopt);
}

/* The IPv6 fields of row r into s (defaults when the row has no IPv6 header). */
static void ipv6_fields(spec *s, const gen *r)
{
    s->ttl = r->ip6 && r->ttl ? r->ttl : 64;
    s->tos = r->ip6 ? r->tc : 0;
}

/* IPv6 when more rows show its header than IPv4's. */
static int flow_is_v6(const gen *g, size_t n)
{
    size_t v4 = 0, v6 = 0;
    for (size_t i = 0; i < n; i++) v4 += g[i].ip != 0, v6 += g[i].ip6 != 0;
    return v6 > v4;
}

/* A counter's state per direction: the latest ID written (once `started`) and the latest non-zero generated. */
typedef struct id_state {
    uint16_t out[2], gen[2];
    uint8_t started[2];
} id_state;

/* The ID of a counter host's packet whose row generated `gid` (-1: no IPv4
 * header to read): 0 stays 0, the first other is the plan's, the next ones
 * step on as the generated ones do (a host's other connections step it
 * more than once between a flow's packets, and the class shows how much). */
static uint16_t counter_id(id_state *ids, const ns_repair_plan *p, int d, int32_t gid)
{
    if (gid == 0) return 0;
    uint16_t step = gid > 0 && ids->gen[d] ? (uint16_t)(gid - ids->gen[d]) : 1;
    if (!step || step > NS_REPAIR_IPID_STEP_MAX) step = 1;
    if (gid > 0) ids->gen[d] = (uint16_t)gid;
    ids->out[d] = ids->started[d] ? (uint16_t)(ids->out[d] + step) : p->ipid_first[d];
    ids->started[d] = 1;
    return ids->out[d];
}

/* What a plan says of the sender of a packet (direction d; gid as counter_id): an IPv4 host's TTL and
 * IP ID. The plan's TTLs are IPv4 hosts', so an IPv6 hop limit stays as generated (255 for neighbour
 * discovery, 1 for MLD: what the class sends) but a client's to a group: the service's own (mDNS's 255,
 * RFC 6762 11; the class's IPv4 flows to it say it). */
static void planned_ip(spec *s, const ns_repair_plan *p, int v6, int d, int32_t gid, id_state *ids, uint64_t off,
                       ns_rng *rng)
{
    if (v6) {
        if (p->group && !d && p->ttl[0] && !(off & OFF_TTL) && ns_repair_group6(p->group, NULL)) s->ttl = p->ttl[0];
        return;
    }
    if (p->ttl[d] && !(off & OFF_TTL)) s->ttl = p->ttl[d];
    switch (off & OFF_IPID ? -1 : (int)p->ipid[d]) {
    case NS_REPAIR_IPID_ZERO: s->id = 0; break;
    case NS_REPAIR_IPID_COUNTER: s->id = counter_id(ids, p, d, gid); break;
    case NS_REPAIR_IPID_RANDOM: s->id = (uint16_t)ns_rng_u64(rng); break;
    default: break;
    }
}

/* Services whose clients send from a fixed port, as every flow of theirs in
 * the IoT corpus does (flow-services.tsv: DHCP 68->67 502 flows and the
 * server's 67->68 289, mDNS 5353->5353 312; none from another port). nDPI
 * recognises DHCP only between 67 and 68. NTP (1,396 of 1,421 flows) and
 * SSDP (243 of 324) clients mostly take ephemeral ports: not here. */
uint16_t ns_repair_client_port(uint8_t proto, uint16_t server_port)
{
    static const struct { uint16_t server, client; } fixed[] = {{67, 68}, {68, 67}, {5353, 5353}};
    if (proto != NS_PROTO_UDP) return 0;
    for (size_t i = 0; i < sizeof fixed / sizeof fixed[0]; i++)
        if (fixed[i].server == server_port) return fixed[i].client;
    return 0;
}

int ns_repair_group6(uint32_t group, uint8_t out[16])
{
    static const struct { uint32_t v4; uint8_t v6[16]; } groups[] = {
        {0xe00000fbu, {0xff, 0x02, [15] = 0xfb}},                       /* mDNS, RFC 6762 3 */
        {0xeffffffau, {0xff, 0x02, [15] = 0x0c}},                       /* SSDP, UPnP Device Architecture 1.1 */
        {0xe00000fcu, {0xff, 0x02, [13] = 0x01, [15] = 0x03}},          /* LLMNR, RFC 4795 2 */
    };
    for (size_t i = 0; i < sizeof groups / sizeof groups[0]; i++)
        if (groups[i].v4 == group) {
            if (out) memcpy(out, groups[i].v6, 16);
            return 1;
        }
    return 0;
}

int ns_repair_row_payload(const int8_t *row, int *learned)
{
    gen g;
    read_gen(row, &g, NULL);
    if (learned) *learned = g.n_pay > 0;
    return (g.ip || g.ip6) && g.shows == NS_PROTO_TCP && !(g.flags & F_SYN) ? g.payload : -1;
}

int ns_repair_flow_service(const int8_t *rows, const uint8_t *dir, size_t n, uint8_t *proto, uint16_t *server)
{
    gen *g = malloc((n ? n : 1) * sizeof *g);
    uint8_t *d = malloc(n ? n : 1);
    if (!g || !d) {
        free(g), free(d);
        return ns_error(NS_ENOMEM, "out of memory reading a flow of %zu rows", n);
    }
    for (size_t i = 0; i < n; i++) read_gen(rows + i * W, &g[i], NULL), d[i] = dir[i] ? 1 : 0;
    *proto = flow_transport(g, n);
    *server = *proto == NS_PROTO_ICMP ? 0 : server_port(g, d, n, *proto);
    free(g), free(d);
    return NS_OK;
}

/* A written packet parsed back and encoded (into written[W]) against the row it came from. */
static int count_packet(ns_repair_stats *st, const field_cols *fc, int linktype, const uint8_t *frame, size_t len,
                        const int8_t *row, int8_t *written)
{
    ns_packet p;
    if (ns_packet_parse(&p, linktype == NS_LINKTYPE_ETHERNET ? DLT_EN10MB : DLT_RAW, frame, len) != NS_SKIP_NONE)
        return NS_ECORRUPT;
    ns_nprint_encode(&p, NS_NP_MODEL_LAYERS, written);
    count_changes(st, fc, row, written);
    st->packets++;
    return NS_OK;
}

/* What a part leaves for the next (ns_repair_cont): the flow's decisions and its state. */
typedef struct flow_state {
    uint8_t proto, v6, last_dir;   /* last_dir: the side of the latest row (a turn is a row from the other) */
    uint32_t label[2];   /* IPv6: a flow label per direction, kept for the flow (RFC 6437) */
    uint16_t sport, cport, query_id;
    uint32_t client, server, roh;
    uint32_t sent[2];
    int64_t start, ts, last_gap;
    int64_t ts_out;      /* the time of its latest packet written */
    ns_rng rng;
    tcp_state t;
    app_flow app;
    id_state ids;
} flow_state;
_Static_assert(sizeof(flow_state) <= sizeof(((ns_repair_cont *)0)->state_), "ns_repair_cont too small");

int ns_repair_flow(const ns_repair_opts *o, uint64_t k, const int8_t *rows, const uint8_t *dir, const int64_t *iat_ns,
                   size_t n, ns_repair_out *out, ns_repair_stats *st)
{
    ns_repair_cont c;
    memset(&c, 0, sizeof c);
    c.total = n;
    /* In the parts the streaming writer gives (a window each), so that a
     * flow repaired whole is the same flow streamed. */
    size_t part = o->window > 0 ? (size_t)o->window : n;
    int rc = NS_OK;
    for (size_t at = 0; !rc && at < n; at += part)
        rc = ns_repair_flow_part(o, k, rows + at * W, dir + at, iat_ns + at, n - at < part ? n - at : part, &c, out, st);
    return rc;
}

/* What writing one packet of a flow needs. */
typedef struct emitter {
    const ns_repair_opts *o;
    const ns_repair_plan *plan;
    uint64_t k;
    flow_state *fs;
    ns_repair_out *out;
    ns_repair_stats *st;
    field_cols fc;
    int8_t *written;
    uint8_t client6[16], server6[16];
} emitter;

/* Write row r (generated bits `bits`, NULL for a packet a close adds) as
 * the flow's packet at fs->ts: direction dd, row number `at` of a flow of
 * `total` rows; step: a closing step forced on it. *rst: it was an RST. */
static int emit(emitter *e, const gen *r, const int8_t *bits, int dd, uint64_t at, uint64_t total, int step, int *rst)
{
    const ns_repair_opts *o = e->o;
    flow_state *fs = e->fs;
    tcp_state *tp = &fs->t;
    ns_repair_stats *st = e->st;
    uint8_t proto = fs->proto;
    int v6 = fs->v6;
    *rst = 0;
    uint8_t fl = 0;
    int tcp_payload = 0;
    if (st && bits) st->converted += !(v6 ? r->ip6 : r->ip) || r->shows != proto;
    if (proto == NS_PROTO_TCP) {
        uint64_t rst_cleared = 0, fin_moved = 0, close_cleared = 0;
        int in_tail = !tp->fin_back && at + close_rows(tp) >= total;
        size_t after = total > at ? (size_t)(total - at - 1) : 0;
        fl = seg_flags(tp, r, at, dd, step, in_tail, after, &tcp_payload, &rst_cleared, &fin_moved, &close_cleared);
        if (st) st->rst_cleared += rst_cleared, st->fin_moved += fin_moved, st->close_cleared += close_cleared;
        if (!step && !(tp->handshake && at < tp->syns + 2u) && !(tp->off & OFF_EMPTYACK) &&
            redundant_ack(tp, fl, tcp_payload, dd)) {
            /* An ACK says its sender got something. When the peer has data
             * not acknowledged yet, it is the peer's ACK of it (the model put
             * it on the wrong side); else it stands for the peer's segment
             * the model left out, as long as the peer's latest: dropping
             * them instead cost the IoT model's flows 12% of their packets
             * (HueBridge: 0.98 of the real packet count to 0.83; 0.95 so).
             * A peer that has closed sends none: the row goes. */
            if (!tp->sent[!dd] || tp->lastack[!dd] != tp->nxt[dd]) {
                dd = !dd;
                if (st) st->acks_turned++;
            } else if (tp->last_len[!dd] && !tp->fin[!dd]) {
                dd = !dd, tcp_payload = tp->last_len[dd], fl |= F_PSH;
                if (st) st->acks_to_data++;
            } else {
                if (st) {
                    st->acks_dropped++;
                    memset(e->written, -1, W);
                    count_changes(st, &e->fc, bits, e->written);
                }
                return NS_OK;
            }
        }
    }
    uint32_t client = fs->client, server = fs->server;
    uint16_t sport = fs->sport, cport = fs->cport;
    spec s;
    memset(&s, 0, sizeof s);
    s.src = dd ? server : client, s.dst = dd ? client : server;
    s.lsrc = s.src;
    /* tmodel.h "Groups": the client's datagrams go to the group, from 0.0.0.0 before a DHCP lease */
    if (e->plan && e->plan->group && !v6) s.dst = e->plan->group, s.src = e->plan->client_zero ? 0 : client;
    /* Off its subnet a client's frames go to its gateway's MAC and come back from it (repair_link.c) */
    if (e->plan && (e->plan->link & NS_REPAIR_LINK_ROUTED) && !v6 && !(fs->t.off & (OFF_ARP | OFF_GATEWAY)))
        *(dd ? &s.lsrc : &s.ldst) = ns_repair_gateway(o);
    s.v6 = v6;
    if (v6) {
        memcpy(s.src6, dd ? e->server6 : e->client6, 16);
        memcpy(s.dst6, dd ? e->client6 : e->server6, 16);
        s.fl = fs->label[dd];
        /* a group's IPv6 counterpart, from the link-local address its scope (ff02::) asks for */
        if (e->plan && e->plan->group && !dd && ns_repair_group6(e->plan->group, s.dst6)) link_local(client, s.src6);
    }
    s.sport = dd ? sport : cport, s.dport = dd ? cport : sport;
    s.proto = proto;
    /* DHCP's server is the side on port 67 (RFC 2131), the flow's client where the flow goes to port 68 */
    s.app = app_of(proto, sport), s.from_server = proto == NS_PROTO_UDP && sport == 68 ? !dd : dd;
    if (!dd || !at) { /* a fresh id: a 64-bit mix of flow and row, never 0 */
        uint64_t h = (e->k + 1) * 0x9e3779b97f4a7c15ull ^ (at + 1) * 0xc2b2ae3d27d4eb4full;
        h ^= h >> 31, h *= 0xbf58476d1ce4e5b9ull, h ^= h >> 29;
        fs->query_id = (uint16_t)(h | 1);
    }
    s.app_id = fs->query_id, s.app_st = &fs->app;
    fs->app.methods = e->plan ? e->plan->methods : NULL;   /* the class's methods (app.c, near_method) */
    s.pay = r->pay, s.n_pay = r->n_pay;
    s.keep_ck = bits && (tp->off & OFF_CSUM), s.ipck = r->ipck, s.l4ck = r->l4ck;
    if (v6) ipv6_fields(&s, r);
    else ipv4_fields(&s, r);
    if (e->plan) planned_ip(&s, e->plan, v6, dd, bits && r->ip ? r->id : -1, &fs->ids, tp->off, &fs->rng);
    fs->sent[dd]++;
    int room = o->mtu - (v6 ? IP6_LEN : IP_LEN + s.n_ipopt);
    if (proto == NS_PROTO_TCP) {
        /* The sender's timestamp clock: the plan's (the host's, running on
         * across its flows), else 1 kHz (Linux's) from the direction's first
         * generated TSval: monotone at a real rate, never the generated
         * values' jumps. */
        const ns_repair_plan *plan = e->plan;
        double secs = (double)(fs->ts - fs->start) * 1e-9;
        uint32_t tsval = plan && plan->ts_hz[dd] > 0 && !(tp->off & OFF_TSCLOCK)
                             ? plan->ts_first[dd] + (uint32_t)(uint64_t)(secs * plan->ts_hz[dd])
                             : tp->ts_base[dd] + (uint32_t)(uint64_t)(secs * 1000);
        gen_opts dflt = {0, (uint16_t)(room - TCP_LEN), 7, 0, 0, 0, 0};   /* 7: Linux's scale for its default buffers */
        dflt.rst_bare = plan && plan->rst_ts == 2;
        if (plan && tp->handshake && at == tp->syns) {   /* the class's servers' SYN-ACK (tmodel.h) */
            if (plan->synack_ws && plan->synack_ws <= 15) dflt.shift = (uint8_t)(plan->synack_ws - 1);
            dflt.win = plan->synack_win;
            dflt.synack_ts = plan->synack_ts;
        }
        if (dflt.mss > 1460) dflt.mss = 1460;
        if ((tp->off & OFF_TSVAL) && r->shows == NS_PROTO_TCP) {
            gen_opts go;
            read_tcp_options(r->tcpopt, r->n_tcpopt, &go);
            if (go.has & O_TS) tsval = go.tsval;
        }
        *rst = tcp_segment(tp, r, at, dd, fl, tcp_payload, room, tsval, &dflt, &s);
    } else {
        s.payload = app_len(s.app, r->payload);
        if (s.payload > room - UDP_LEN) s.payload = room - UDP_LEN;
        if (proto == NS_PROTO_ICMP) {
            uint8_t request = v6 ? ICMP6_ECHO : 8, reply = v6 ? ICMP6_ECHO_REPLY : 0;
            int mine = r->shows == NS_PROTO_ICMP && (v6 ? r->ip6 : r->ip);
            int echo = mine && (r->type == request || r->type == reply);
            /* IPv6's neighbour discovery and MLD, most of real IPv6 ICMP, as generated where it
             * can be written whole: its own length, hop limit 255 (RFC 4861 drops others), MLD's 1. */
            if (v6 && mine && icmp6_body(r->type) >= 0) {
                s.type = r->type, s.roh = r->roh;
                s.payload = icmp6_body(r->type), s.ttl = r->type == ICMP6_MLD2_REPORT ? 1 : 255;
                if (r->type == ICMP6_MLD2_REPORT) s.payload = MLD_RECORD * mld_records(r->payload, tp->off);
                s.dad = s.type == ICMP6_NS && r->payload < s.payload;
                if (s.dad) s.payload -= 8;
                nd_addresses(&s);
            } else if (!v6 && mine && icmp_error(r->type, r->code) && s.payload >= IP_LEN + UDP_LEN &&
                       !(tp->off & OFF_ICMPERR)) {
                /* Its rest of header: a redirect's gateway, unreachable's next-hop MTU (code 4),
                 * else unused and 0 (every one of the corpus's). No quote to hold: echo, below. */
                s.type = r->type, s.code = r->code;
                s.roh = r->type == 5 || (r->type == 3 && r->code == 4) ? r->roh : 0;
            } else {
                s.type = echo ? r->type : dd ? reply : request;
                fs->roh = s.roh = r->shows == NS_PROTO_ICMP ? r->roh : fs->roh;
            }
        }
    }
    /* Past the capture's end (the plan's cut): built, so that the flow's state runs on as ever, not written */
    if (e->plan && e->plan->cut_ns > 0 && fs->ts > e->plan->cut_ns && !(fs->t.off & OFF_CUT)) {
        if (st) st->cut++;
        return NS_OK;
    }
    int rc = reserve(e->out, ETH_LEN + 120 + (size_t)o->mtu); /* headers may pass a tiny MTU */
    if (rc) return rc;
    ns_repair_out *out = e->out;
    uint8_t *frame = out->bytes + out->n_bytes;
    size_t len = write_packet(o, &s, &fs->rng, frame);
    ns_repair_pkt *p = &out->pkts[out->n_pkts++];
    p->ts_ns = fs->ts_out = fs->ts, p->off = out->n_bytes, p->len = (uint32_t)len, p->flow = (uint32_t)e->k;
    out->n_bytes += len;
    if (st && bits && (rc = count_packet(st, &e->fc, o->linktype, frame, len, bits, e->written)))
        return ns_error(rc, "flow %" PRIu64 " row %" PRIu64 ": the repaired packet does not parse", e->k, at);
    if (st && !bits) st->packets++, st->close_added++;
    return NS_OK;
}

/* The plan's link frames of a flow (repair_link.c), at its first part: they
 * count as no row and change none (a dataset never reads them back). */
static int link_frames(emitter *e)
{
    link_frame f[LINK_FRAMES_MAX];
    const flow_state *fs = e->fs;
    uint64_t mix = (e->k + 1) * 0x9e3779b97f4a7c15ull ^ (e->o->seed + 1) * 0xd6e8feb86659fd93ull;
    int n = repair_link_frames(e->o, e->plan, fs->client, fs->ts, mix, (fs->t.off & OFF_ARP) != 0,
                               (fs->t.off & OFF_IGMP) != 0, f);
    for (int i = 0; i < n; i++) {
        int rc = reserve(e->out, f[i].len);
        if (rc) return rc;
        ns_repair_out *out = e->out;
        memcpy(out->bytes + out->n_bytes, f[i].b, f[i].len);
        ns_repair_pkt *p = &out->pkts[out->n_pkts++];
        p->ts_ns = f[i].ts_ns / US * US, p->off = out->n_bytes, p->len = f[i].len, p->flow = (uint32_t)e->k;
        out->n_bytes += f[i].len;
    }
    return NS_OK;
}

/* The close a flow's end still needs, added after its last row: the rest of
 * a FIN exchange, or an RST, as its rows ask (tcp_state.intent). A flow
 * whose handshake never completed is left as it is. */
static int close_flow(emitter *e, uint64_t total)
{
    flow_state *fs = e->fs;
    tcp_state *tp = &fs->t;
    gen r;
    memset(&r, 0, sizeof r);
    r.shows = NS_PROTO_TCP, r.proto = NS_PROTO_TCP;   /* no IP header generated: a converted row's defaults (DF, TTL 64) */
    int64_t gap = fs->last_gap < US ? US : fs->last_gap > 1000000000 ? 1000000000 : fs->last_gap;
    if (tp->handshake && tp->planned == NS_REPAIR_CLOSE_REFUSED) {   /* SYNs alone: the server's answer */
        if (total != tp->syns) return NS_OK;
        fs->ts += gap;
        int rst;
        return emit(e, &r, NULL, 1, total, total + 1, STEP_NONE, &rst);
    }
    if (tp->handshake && total < tp->syns + 2u) return NS_OK;
    for (int guard = 0; guard < 4; guard++) {
        /* Nothing deciding the side: an RST from the side that sent more, a first FIN from the client. */
        int step, dd = (tp->intent & F_RST) && tp->sent[0] < tp->sent[1] ? 1 : 0;
        if (!close_next(tp, &step, &dd)) break;
        fs->ts += gap;
        int rst, rc = emit(e, &r, NULL, dd, total, total + 1, step, &rst);
        if (rc || rst) return rc;
    }
    return NS_OK;
}

uint16_t ns_repair_turn_code(int64_t ns)
{
    double c = ns > 1 ? log10((double)ns) * NS_REPAIR_TURN_CODE : 0;
    return c >= 65535 ? 65535 : (uint16_t)lround(c);
}

int64_t ns_repair_turn_ns(double code)
{
    double ns = pow(10, code / NS_REPAIR_TURN_CODE);
    return ns < 1 ? 1 : ns > 1e16 ? (int64_t)1e16 : (int64_t)llround(ns);
}

/* A gap through a plan's quantile map from -> to (repair.h, ns_repair_plan.turn_map). Knots that tie
 * (the timing head gives many gaps one value) span quantiles: the gap takes the point u of that span, so
 * that one generated value spreads over the real ones there instead of piling onto one. */
static int64_t turn_mapped(const uint16_t *from, const uint16_t *to, int64_t ns, double u)
{
    enum { Q = NS_REPAIR_TURN_Q };
    double x = log10(ns > 1 ? (double)ns : 1) * NS_REPAIR_TURN_CODE, p;
    int xc = ns_repair_turn_code(ns), lo = 0, hi = Q - 1;
    while (lo < Q && from[lo] < xc) lo++;
    while (hi >= 0 && from[hi] > xc) hi--;
    /* Beyond the ends: shifted, but no further up than the class's largest or the gap itself says */
    if (lo == Q) return ns_repair_turn_ns(fmin(to[Q - 1] + (x - from[Q - 1]), fmax(to[Q - 1], x)));
    if (hi < 0) return ns_repair_turn_ns(to[0] + (x - from[0]));
    if (lo <= hi) p = lo + u * (hi - lo);
    else p = hi + fmin(1, fmax(0, (x - from[hi]) / (from[lo] - from[hi])));
    int j = p >= Q - 1 ? Q - 2 : (int)p;
    return ns_repair_turn_ns(to[j] + (p - j) * (to[j + 1] - to[j]));
}

#define SALT_TURN 0x7475726e73ull  /* "turns" */
#define SALT_PAY 0x7061796d6170ull /* "paymap" */
#define SALT_BARE 0x7061796261ull   /* "payba" */

/* The point in [0, 1) of a tie's span for row `at` of flow k, a map's own (salt: SALT_*): a hash, so that
 * the flow's random streams stay as they were. */
static double row_point(const ns_repair_opts *o, uint64_t k, uint64_t at, uint64_t salt)
{
    uint64_t z = ns_rng_mix((o->seed ^ salt) + k * 0x9e3779b97f4a7c15ull + at * 0xbf58476d1ce4e5b9ull);
    return (double)(z >> 11) * 0x1.0p-53;
}

/* A TLS or HTTP client speaks first: on the IoT corpus's training rows every
 * such flow with a handshake has its client's data (a ClientHello, a request)
 * before any of its server's (1,082 TLS and 4,606 HTTP flows; 16 flows on
 * other ports, whose servers greet, the other way), where the model's rows
 * put the server's first in 220 TLS and 871 HTTP flows of the payload run
 * (a status line before its request). So, from row lo (past the handshake)
 * of the first part, the client's first data row, when one comes after
 * the server's first, moves before it; the rows between keep their order,
 * and the gaps their places (ord: each place's row in rows). Flows whose
 * client sends nothing are left as they are: the model's; so are rows of
 * no learned bytes (a header-only model's, whose pcaps stay as they were:
 * what DPI reads out of order is a message). */
static void client_first(gen *g, uint8_t *d, size_t *ord, size_t n, size_t lo)
{
    size_t i = lo, j;
    while (i < n && !g[i].payload) i++;
    if (i >= n || !d[i]) return;
    for (j = i + 1; j < n && (d[j] || !g[j].payload); j++) {}
    if (j == n || (!g[i].n_pay && !g[j].n_pay)) return;
    gen row = g[j];
    size_t o = ord[j];
    memmove(g + i + 1, g + i, (j - i) * sizeof *g), memmove(d + i + 1, d + i, j - i), memmove(ord + i + 1, ord + i, (j - i) * sizeof *ord);
    g[i] = row, d[i] = 0, ord[i] = o;
}

int ns_repair_flow_part(const ns_repair_opts *o, uint64_t k, const int8_t *rows, const uint8_t *dir,
                        const int64_t *iat_ns, size_t n, ns_repair_cont *c, ns_repair_out *out, ns_repair_stats *st)
{
    uint64_t hc = hosts(o->client_prefix), hs = hosts(o->server_prefix);
    uint64_t slot = k / hc / hs;
    const ns_repair_plan *plan = o->plan ? &o->plan[k] : NULL;
    if (o->plan && k >= o->n_plan)
        return ns_error(NS_ERANGE, "flow %" PRIu64 ": the trace plan has %zu flows only", k, o->n_plan);
    if (plan && plan->close >= NS_REPAIR_CLOSES)
        return ns_error(NS_EARG, "flow %" PRIu64 ": the trace plan's close %u is none of NS_REPAIR_CLOSE_*", k,
                        (unsigned)plan->close);
    if (!plan && slot >= CLIENT_PORTS)
        return ns_error(NS_ERANGE, "flow %" PRIu64 ": the address plan has distinct 5-tuples for %" PRIu64
                        " flows only (widen --client-net or --server-net)", k, hc * hs * CLIENT_PORTS);
    if (!n) return NS_OK;
    flow_state *fs = (flow_state *)c->state_;
    uint64_t row0 = c->rows; /* the flow's row number of rows[0] */
    c->rows += n;
    uint64_t total = c->total > row0 + n ? c->total : row0 + n;

    gen *g = malloc(n * sizeof *g);
    uint8_t *d = malloc(n);
    size_t *ord = malloc(n * sizeof *ord);
    emitter e = {o, plan, k, fs, out, st, {0}, malloc(W), {0}, {0}};
    if (!g || !d || !ord || !e.written) {
        free(g), free(d), free(ord), free(e.written);
        return ns_error(NS_ENOMEM, "out of memory repairing flow %" PRIu64, k);
    }
    for (size_t i = 0; i < n; i++) read_gen(rows + i * W, &g[i], NULL), d[i] = dir[i] ? 1 : 0, ord[i] = i;
    uint64_t off = repair_off(); /* once a part: it reads the environment */
    /* The class's lengths for the flow's transport (a later part's: the first part's), read again with them. */
    if (plan && (!(off & OFF_LENS) || !(off & OFF_PAYMAP))) {
        int t = ns_repair_len_kind(row0 ? fs->proto : flow_transport(g, n));
        unsigned how = (off & OFF_LENSDATA ? 0 : LEN_HOLD) | (off & OFF_LENTIE ? 0 : LEN_NUMERIC);
        for (size_t i = 0; i < n; i++) {
            len_rule lr = {off & OFF_LENS || !plan->lens[d[i]][t][0] ? NULL : plan->lens[d[i]][t], how, NULL, 0, 0};
            /* A TCP segment's data size through its class's map of its side and place (pay_map) */
            uint64_t at = row0 + i;
            int part = at < NS_REPAIR_TURN_ROWS ? 0 : at < NS_REPAIR_PAY_ROWS ? 1 : -1;
            if (t == 0 && part >= 0 && !(off & OFF_PAYMAP) && !(part == 0 && (off & OFF_PAYHEAD)) &&
                plan->pay_map[d[i]][part][0][NS_REPAIR_PAY_Q - 1])
                lr.pay = plan->pay_map[d[i]][part], lr.u = row_point(o, k, at, SALT_PAY),
                lr.bare = !(off & OFF_PAYBARE) && i && d[i - 1] != d[i] && g[i - 1].payload > 0 &&
                          row_point(o, k, at, SALT_BARE) * 65535 < plan->pay_bare[d[i]][part];
            if (lr.lens || lr.pay) read_gen(rows + i * W, &g[i], &lr);
        }
    }
    if (plan && !(off & OFF_LENS)) {
        int t = ns_repair_len_kind(row0 ? fs->proto : flow_transport(g, n));
        unsigned how = (off & OFF_LENSDATA ? 0 : LEN_HOLD) | (off & OFF_LENTIE ? 0 : LEN_NUMERIC);
        /* A UDP flow's first two rows: the class's nearest exchange of their sides, both lengths */
        const uint16_t *x = !row0 && n >= 2 && g[0].shows == NS_PROTO_UDP && g[1].shows == NS_PROTO_UDP &&
                                    !(off & OFF_PAIRS)
                                ? exchange_lengths(plan, d[0] | (unsigned)d[1] << 1, g[0].tl, g[1].tl)
                                : NULL;
        for (int i = 0; x && i < 2; i++) { /* a length that would drop the row's learned bytes: as before */
            uint16_t one[NS_REPAIR_LENS] = {x[i]};
            len_rule lr = {one, how, NULL, 0, 0};
            read_gen(rows + (size_t)i * W, &g[i], &lr);
            if (g[i].tl != x[i]) lr.lens = plan->lens[d[i]][t], read_gen(rows + (size_t)i * W, &g[i], &lr);
        }
    }
    /* A TCP window the class's stack never advertised on the row's side: the nearest it did (wins). The model
     * writes a window bit by bit, as a length: 7032 and 388 for D-LinkSiren's 7024 and 390, a quarter of the
     * medium model's TCP windows none the class has, where a class's stacks advertise a few (32 windows are
     * 93-100% of each class's and side's segments in the IoT corpus's train split); the forests read the
     * window's bits (BENCHMARK.md, "Windows the class has (session 15)"). A zero window stays (repair's
     * stall rule reads it). */
    for (size_t i = 0; plan && !(off & OFF_WINS) && i < n; i++)
        if (g[i].shows == NS_PROTO_TCP && g[i].win && plan->wins[d[i]][0])
            g[i].win = nearest_value(plan->wins[d[i]], NS_REPAIR_WINS, g[i].win, 16, 1);
    /* A flow to a group goes one way, as every real one does (an answer comes from the responder's own
     * address: another flow); the plan saw the first window's rows go so, a later row the other way goes
     * the client's way too, so that the flow reads back as one. */
    for (size_t i = 0; plan && plan->group && i < n; i++)
        if (d[i]) d[i] = 0, st ? (void)st->redirected++ : (void)0;
    if (st) model_fields(&e.fc), st->rows += n;
    tcp_state *tp = &fs->t;
    if (!row0) {
        /* The first part decides for the whole flow. */
        memset(fs, 0, sizeof *fs);
        fs->client = host(o->client_net, o->client_prefix, plan ? plan->client % hc : k % hc);
        fs->server = host(o->server_net, o->server_prefix, plan ? plan->server % hs : k / hc % hs);
        int answers = 0; /* the gateway's own flow to the client host (a DHCP server's answers) */
        if (plan && plan->gateway && !(off & OFF_GATEWAY)) {
            answers = plan->gateway == NS_REPAIR_GATEWAY_ANSWERS;
            if (answers) fs->server = fs->client, fs->client = ns_repair_gateway(o);
            else fs->server = ns_repair_gateway(o);
            fs->app.gw_prefix = (uint8_t)(o->client_prefix + 1);
        }
        fs->app.seed = (uint32_t)(((k + 1) * 0x9e3779b97f4a7c15ull ^ (o->seed + 1) * 0xc2b2ae3d27d4eb4full) >> 32);
        fs->app.client = answers ? fs->server : fs->client; /* the device a DHCP message is about */
        fs->app.off = (uint8_t)((off & OFF_BER ? APP_OFF_BER : 0) | (off & OFF_DGRAMHEAD ? APP_OFF_DGRAMHEAD : 0) |
                                (off & OFF_HELLOVER ? APP_OFF_HELLOVER : 0) |
                                (off & OFF_HEADCONT ? APP_OFF_HEADCONT : 0) |
                                (off & OFF_KEYX ? APP_OFF_KEYX : 0) |
                                (off & OFF_SRVFLIGHT ? APP_OFF_SRVFLIGHT : 0)); /* app.c's rules */
        fs->cport = plan ? plan->client_port : (uint16_t)(CLIENT_PORT0 + slot);
        fs->proto = flow_transport(g, n);
        fs->sport = fs->proto == NS_PROTO_ICMP ? 0 : server_port(g, d, n, fs->proto);
        if (plan && plan->server_port && fs->proto != NS_PROTO_ICMP && !(off & OFF_PORTS))
            fs->sport = plan->server_port;
        /* The fixed plan's first flow of a client and server pair only: the
         * others' ports from CLIENT_PORT0 up keep their 5-tuples distinct. */
        if (!plan && !slot && ns_repair_client_port(fs->proto, fs->sport))
            fs->cport = ns_repair_client_port(fs->proto, fs->sport);
        fs->v6 = (uint8_t)flow_is_v6(g, n);
        for (int dd = 0; dd < 2; dd++)
            for (size_t i = 0; i < n; i++)
                if (g[i].ip6 && d[i] == dd) {
                    fs->label[dd] = g[i].fl;
                    break;
                }
        tp->win[0] = tp->win[1] = 65535;
        for (size_t i = 0; fs->proto == NS_PROTO_TCP && i < n && !tp->handshake; i++)
            tp->handshake = g[i].shows == NS_PROTO_TCP && (g[i].flags & F_SYN);
        /* SYNs the client repeats before any answer, as the model generates them,
         * are retransmissions (unanswered SYNs: a quarter of some IoT devices' TCP
         * flows are SYN, SYN 3 s later, nothing more); the answer is the row after
         * the last. Made a SYN-ACK, a retransmission put the timeout in the
         * handshake's RTT (1 s or 3 s for a 100 ms one: issue 14). */
        tp->syns = tp->handshake;
        fs->app.opened = tp->handshake != 0;   /* each direction's first data is its protocol's opening (app.c) */
        while (tp->handshake && client_syn(&g[0], d[0]) && tp->syns < n && tp->syns < 255 &&
               client_syn(&g[tp->syns], d[tp->syns]))
            tp->syns++;
        /* Without a handshake to agree on timestamps, the flow has them when most of its rows do. */
        size_t with_ts = 0, tcp_rows = 0;
        for (size_t i = 0; i < n; i++) {
            gen_opts go;
            if (g[i].shows != NS_PROTO_TCP) continue;
            read_tcp_options(g[i].tcpopt, g[i].n_tcpopt, &go);
            tcp_rows++, with_ts += (go.has & O_TS) != 0;
        }
        tp->ts_ok = tp->handshake || 2 * with_ts > tcp_rows;
        tp->ts_rows = 2 * with_ts > tcp_rows;
        size_t small = 0, large = 0;
        for (size_t i = 0; i < n; i++)
            if (g[i].shows == NS_PROTO_TCP && !(g[i].flags & (F_SYN | F_RST)) && g[i].win)
                small += g[i].win < 1024, large += g[i].win >= 1024;
        tp->scaled = small > large;
        ns_rng_seed(&fs->rng, o->seed, k);
        tp->off = off;
        /* A planned close is the flow's intent from its first row (streamed, too). */
        tp->planned = plan ? plan->close : NS_REPAIR_CLOSE_ROWS;
        tp->side = plan && plan->close_side <= 2 ? plan->close_side : 0;
        tp->shape = plan ? plan->close_shape & (tp->planned == NS_REPAIR_CLOSE_FIN   ? NS_REPAIR_SHAPE_ACKED
                                                : tp->planned == NS_REPAIR_CLOSE_RST ? NS_REPAIR_SHAPE_FIN_RST
                                                                                     : 0)
                         : 0;
        tp->intent = tp->planned == NS_REPAIR_CLOSE_FIN ? F_FIN
                     : tp->planned == NS_REPAIR_CLOSE_RST || tp->planned == NS_REPAIR_CLOSE_REFUSED
                         ? (uint8_t)(F_RST | (tp->shape & NS_REPAIR_SHAPE_FIN_RST ? F_FIN : 0))
                         : 0;
        for (int dd = 0; dd < 2; dd++) {
            int found;
            tp->ts_base[dd] = generated_tsval(g, d, n, dd, &found);
            if (!found) tp->ts_base[dd] = (uint32_t)ns_rng_u64(&fs->rng);
        }
        fs->start = plan ? plan->start_ns : o->start_ns + (int64_t)k * o->flow_gap_ns;
        fs->ts = (fs->start + US - 1) / US * US;
        if (st) st->flows++;
    }
    uint64_t redirected = 0;
    for (size_t i = 0; tp->handshake && row0 + i < tp->syns + 2u && i < n; i++) {
        uint8_t want = row0 + i == tp->syns;
        redirected += d[i] != want;
        d[i] = want;
    }
    if (!row0 && tp->handshake && !(tp->off & OFF_ORDER) && app_client_first(app_of(fs->proto, fs->sport)))
        client_first(g, d, ord, n, tp->syns + 1u);
    if (!row0) {
        tp->nxt[0] = initial_seq(g, d, n, 0);
        tp->nxt[1] = initial_seq(g, d, n, 1);
    }
    for (size_t i = 0; !tp->planned && i < n; i++)
        if (g[i].shows == NS_PROTO_TCP) tp->intent |= g[i].flags & (F_FIN | F_RST);
    ns_repair_host6(o, fs->client, e.client6);
    ns_repair_host6(o, fs->server, e.server6);
    int rc = NS_OK;
    if (!row0 && plan && plan->link && (rc = link_frames(&e))) {
        free(g), free(d), free(ord), free(e.written);
        return rc;
    }
    size_t i = 0;
    /* The rows a close takes: the last close_rows(), after the handshake. */
    uint64_t tail = total > close_rows(tp) ? total - close_rows(tp) : 0;
    if (tp->handshake && tail < tp->syns + 2u) tail = tp->syns + 2u;
    /* A version 3 plan's FIN close (it gives a side) follows the rows where they fit. */
    if (fs->proto == NS_PROTO_TCP && tp->side && (tp->intent & F_FIN) && !(tp->off & OFF_CLOSE) && row0 + n == total &&
        !tp->fin[0] && !tp->fin[1])
        tp->fin_back = rows_close(d, n, row0, tp->handshake ? tp->syns + 2u : 0, tp->side - 1);
    /* The first row a close may take (its steps acknowledge everything). */
    uint64_t closing = tp->fin_back ? total - tp->fin_back
                       : (tp->intent & (F_FIN | F_RST)) && !(tp->off & OFF_CLOSE) ? tail : UINT64_MAX;
    for (; i < n && !c->ended; i++) {
        const gen *r = &g[i];
        int dd = d[i];
        uint64_t at = row0 + i; /* the row's number in the flow */
        if (at) {
            int64_t iat = iat_ns[i];
            /* The plan's turn and same-side gaps (repair.h: turn_map), after the handshake */
            int same = fs->last_dir == dd;
            const uint16_t(*map)[NS_REPAIR_TURN_Q] = plan ? plan->turn_map[same] : NULL;
            if (plan && plan->tail_scale > 0 && at >= NS_REPAIR_TURN_ROWS && !(tp->off & OFF_TAIL))
                iat = (int64_t)llround((double)iat * plan->tail_scale);   /* the class's span past the window */
            else if (map && map[0][NS_REPAIR_TURN_Q - 1] && !(tp->handshake && at <= tp->syns + 1u) &&
                     (!same || at < NS_REPAIR_TURN_ROWS))
                iat = turn_mapped(map[0], map[1], iat, row_point(o, k, at, SALT_TURN));
            int64_t gap = iat > US ? (iat + US - 1) / US * US : US;
            /* The plan's handshake gaps (tmodel.h: where the rows' lie outside the class's) */
            if (plan && tp->handshake && at >= tp->syns && at <= tp->syns + 1u && plan->hs_us[at - tp->syns])
                gap = (int64_t)plan->hs_us[at - tp->syns] * US;
            fs->ts += gap, fs->last_gap = gap;
        }
        int step = STEP_NONE;
        gen forced;
        if (tp->fin_back) {
            if (at + tp->fin_back == total) step = STEP_FIN1;
            else if (at + 2 == total) step = STEP_FIN2;
            else if (at + 1 == total) step = tp->intent & F_RST ? STEP_RST : STEP_ACK;
        } else if (fs->proto == NS_PROTO_TCP && at >= tail && !(tp->off & OFF_CLOSE)) {
            /* The end of a flow closes it as its rows ask: an RST as its last
             * packet, or a FIN exchange in its last rows (turned to the side
             * each step needs: a forced step keeps a row's payload only on
             * the side that generated it). */
            int next, want = dd, need = close_next(tp, &next, &want);
            if (need && (uint64_t)need >= total - at) {
                step = next;
                if (want != dd) {
                    forced = *r, forced.payload = 0, r = &forced;
                    dd = want;
                    if (st) st->redirected++;
                }
            }
        }
        /* The peer's two rows after a first FIN that carried data (the IoT corpus's HueSwitch ACKs
         * its server's FIN twice): the first acknowledges the data, the second the FIN, so that
         * neither is an ACK of nothing new (which would go, and the flow lose a packet). */
        tp->ack_short = tp->fin_back && tp->first_fin && !step && dd != tp->first_fin - 1 && at + 3 < total &&
                        i + 1 < n && d[i + 1] == dd && tp->lastack[dd] != tp->nxt[!dd] - 1 && !tp->fin[dd];
        /* A run of empty ACKs acknowledges the peer's segments one by one (partial_ack). */
        tp->ack_part = 0;
        if (fs->proto == NS_PROTO_TCP && !step && !(tp->off & OFF_EMPTYACK) && at < closing && empty_ack_row(r) &&
            !(tp->handshake && at < tp->syns + 2u)) {
            int more = 0;
            for (size_t j = i + 1; j < n && more < ACK_ENDS && d[j] == dd && row0 + j < closing && empty_ack_row(&g[j]); j++)
                more++;
            tp->ack_part = (uint8_t)partial_ack(tp, dd, more, &tp->ack_upto);
        }
        int rst;
        rc = emit(&e, r, rows + ord[i] * W, dd, at, total, step, &rst);
        tp->ack_short = 0, tp->ack_part = 0;
        fs->last_dir = (uint8_t)dd;
        if (rc) break;
        if (rst) c->ended = 1;
        if (fs->proto == NS_PROTO_TCP && at + 1 == total && !c->ended && !(tp->off & OFF_CLOSE) &&
            (rc = close_flow(&e, total)))
            break;
    }
    c->ts_ns = fs->ts_out;
    if (st && !rc) {
        st->redirected += redirected;
        st->dropped += n - i;
        memset(e.written, -1, W);
        for (; i < n; i++) count_changes(st, &e.fc, rows + ord[i] * W, e.written);
    }
    free(g), free(d), free(ord), free(e.written);
    return rc;
}

/* ---- merging ------------------------------------------------------------------------ */

int ns_repair_pkt_cmp(const void *a, const void *b)
{
    const ns_repair_pkt *x = a, *y = b;
    if (x->ts_ns != y->ts_ns) return x->ts_ns < y->ts_ns ? -1 : 1;
    if (x->flow != y->flow) return x->flow < y->flow ? -1 : 1;
    return x->off < y->off ? -1 : x->off > y->off;
}

int ns_repair_merge(ns_repair_out *out)
{
    if (!out->n_pkts) return NS_OK;
    qsort(out->pkts, out->n_pkts, sizeof *out->pkts, ns_repair_pkt_cmp);
    for (size_t i = 1; i < out->n_pkts; i++)
        if (out->pkts[i].ts_ns <= out->pkts[i - 1].ts_ns) out->pkts[i].ts_ns = out->pkts[i - 1].ts_ns + US;
    return NS_OK;
}
