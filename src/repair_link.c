/* repair_link.c: what a device's stack puts on its link around a flow and
 * no dataset keeps (ARP is no IP; IGMP is no flow, flow.c): the ARP
 * exchange with its gateway before it sends off its subnet, the IGMPv3
 * report that joins a group before it sends to one. A capture opened beside
 * a real one shows them (BENCHMARK.md "What a person sees (session 12)");
 * the plan (tmodel_plan.c) says which flows they go before. */
#include "repair_link.h"

#include <string.h>

#include "netsynth/capture.h"
#include "netsynth/packet.h"
#include "netsynth/rng.h"

enum { ETH = 14, ARP_LEN = 28, ETH_MIN = 60, ETHERTYPE_ARP = 0x0806 };

static void put16(uint8_t *p, uint32_t v) { p[0] = (uint8_t)(v >> 8), p[1] = (uint8_t)v; }
static void put32(uint8_t *p, uint32_t v) { put16(p, v >> 16), put16(p + 2, v); }

/* repair.c's MAC of a unicast host: 02:00 (locally administered) and its IPv4 address. */
static void host_mac(uint8_t *p, uint32_t ip) { p[0] = 0x02, p[1] = 0, put32(p + 2, ip); }

static uint16_t csum(const uint8_t *p, size_t n) { return (uint16_t)~ns_inet_fold(ns_inet_sum(0, p, n)); }

uint32_t ns_repair_gateway(const ns_repair_opts *o)
{
    int p = o->client_prefix;
    uint64_t n = p >= 31 ? 1ull << (32 - p) : (1ull << (32 - p)) - 2;   /* usable hosts, as repair.c counts */
    return o->client_net + (uint32_t)(n - 1) + (p >= 31 ? 0 : 1);
}

/* An ARP request (op 1) or reply (op 2) from sender to target (RFC 826). A
 * request goes to every station but a refresh (`unicast`), which a stack
 * with the entry already sends to the MAC it holds (Linux's probe of a stale
 * entry); a reply to the asker. The reply is as the asker's capture sees a
 * frame from the wire: padded to Ethernet's 60 bytes. */
static uint32_t arp(uint8_t *b, int op, uint32_t sender, uint32_t target, int unicast)
{
    memset(b, 0, ETH_MIN);
    if (op == 1 && !unicast) memset(b, 0xff, 6);
    else host_mac(b, target);
    host_mac(b + 6, sender);
    put16(b + 12, ETHERTYPE_ARP);
    uint8_t *a = b + ETH;
    put16(a, 1), put16(a + 2, NS_ETHERTYPE_IPV4), a[4] = 6, a[5] = 4, put16(a + 6, (uint32_t)op);
    host_mac(a + 8, sender), put32(a + 14, sender);
    if (op == 2) host_mac(a + 18, target);   /* a request's target MAC is what it asks: zeros */
    put32(a + 24, target);
    return op == 2 ? ETH_MIN : ETH + ARP_LEN;
}

/* An IGMPv3 membership report of one record, CHANGE_TO_EXCLUDE_MODE of no
 * sources (joining `group`), to 224.0.0.22 with the router alert option,
 * TTL 1 and DF, as Linux sends it (RFC 3376 4.2, 5.1). */
static uint32_t igmp3(uint8_t *b, int eth, uint32_t src, uint32_t group)
{
    uint32_t dst = 0xe0000016u, at = 0;
    if (eth) {
        b[0] = 0x01, b[1] = 0, b[2] = 0x5e, b[3] = 0, b[4] = 0, b[5] = 0x16;
        host_mac(b + 6, src);
        put16(b + 12, NS_ETHERTYPE_IPV4);
        at = ETH;
    }
    uint8_t *ip = b + at, *g = ip + 24;
    memset(ip, 0, 24 + 16);
    ip[0] = 0x46, ip[1] = 0xc0, put16(ip + 2, 24 + 16), put16(ip + 6, 0x4000), ip[8] = 1, ip[9] = 2;
    put32(ip + 12, src), put32(ip + 16, dst);
    ip[20] = 0x94, ip[21] = 4;   /* router alert, value 0 */
    put16(ip + 10, csum(ip, 24));
    g[0] = 0x22, put16(g + 6, 1), g[8] = 4, put32(g + 12, group);
    put16(g + 2, csum(g, 16));
    return at + 24 + 16;
}

int repair_link_frames(const ns_repair_opts *o, const ns_repair_plan *plan, uint32_t client, int64_t first_ns,
                       uint64_t mix, int no_arp, int no_igmp, link_frame *f)
{
    int n = 0, eth = o->linktype == NS_LINKTYPE_ETHERNET;
    uint64_t h = ns_rng_mix(mix);
    /* A stack resolves its next hop just before the packet that needs it: the
     * corpus's devices ask 1-30 ms before, and the router answers in tens of us. */
    if ((plan->link & NS_REPAIR_LINK_ARP) && eth && !no_arp) {
        uint32_t gw = ns_repair_gateway(o);
        int64_t ask = first_ns - 1000000 - (int64_t)(h % 4000) * 1000;
        f[n].ts_ns = ask, f[n].len = arp(f[n].b, 1, client, gw, (plan->link & NS_REPAIR_LINK_REFRESH) != 0), n++;
        f[n].ts_ns = ask + 20000 + (int64_t)(h >> 12 & 0xff) * 1000;
        f[n].len = arp(f[n].b, 2, gw, client, 0), n++;
    }
    /* A router probes a stale entry with a unicast request while it has packets for the host (Linux's
     * neighbour PROBE state); the corpus's routers ask each device every minute or two. */
    if ((plan->link & NS_REPAIR_LINK_ASKED) && eth && !no_arp) {
        uint32_t gw = ns_repair_gateway(o);
        int64_t ask = first_ns - 400000 - (int64_t)(h >> 44 & 0x1ff) * 1000;
        f[n].ts_ns = ask, f[n].len = arp(f[n].b, 1, gw, client, 1), n++;
        f[n].ts_ns = ask + 30000 + (int64_t)(h >> 53 & 0xff) * 1000;
        f[n].len = arp(f[n].b, 2, client, gw, 0), n++;
    }
    /* An unsolicited report goes out when the socket joins, then once more within
     * the unsolicited report interval (1 s, robustness 2). */
    if ((plan->link & NS_REPAIR_LINK_IGMP) && plan->group >> 28 == 14 && !plan->client_zero && !no_igmp) {
        int64_t join = first_ns - 2000000 - (int64_t)(h >> 20 & 0x3fff) * 1000;
        f[n].ts_ns = join, f[n].len = igmp3(f[n].b, eth, client, plan->group), n++;
        f[n].ts_ns = join + 100000000 + (int64_t)(h >> 34 & 0x3ff) * 1000000 % 900000000;
        f[n].len = igmp3(f[n].b, eth, client, plan->group), n++;
    }
    return n;
}
