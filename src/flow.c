/* flow.c: bidirectional flow table (see flow.h).
 *
 * Open addressing with linear probing on the canonical 5-tuple (the smaller
 * address/port pair first), so both directions find the same slot. A slot
 * points at the newest flow of its 5-tuple; flows that timed out stay in the
 * flow array and simply lose their slot. IPv6 keys are built from address
 * digests, so a slot whose key matches is that flow's only when its
 * addresses match too; probing goes on past one that does not. */
#include "netsynth/flow.h"

#include <stdlib.h>
#include <string.h>

#include "netsynth/capture.h"
#include "netsynth/error.h"
#include "netsynth/nprint.h"

typedef struct slot {
    uint64_t a, b;     /* canonical key: addresses, then ports and protocol */
    uint32_t flow;     /* index + 1; 0 marks an empty slot */
} slot;

struct ns_flow_table {
    int max_packets;
    int64_t idle_ns;
    ns_flow *flows;
    size_t n_flows, cap_flows;
    slot *slots;
    size_t n_slots;    /* a power of two */
    size_t used;
    uint64_t packets;
    ns_skips skips;
    int64_t last;      /* the flow the latest packet joined, -1: left out */
};

enum { TCP_SYN = 0x02, TCP_ACK = 0x10, ICMP_ECHO_REPLY = 0, ICMPV6_ECHO_REPLY = 129 };

int ns_flow_table_new(ns_flow_table **out, int max_packets, int64_t idle_timeout_ns)
{
    *out = NULL;
    if (max_packets < 1 || max_packets > NS_FLOW_MAX_KEPT)
        return ns_error(NS_EARG, "packets per flow must be in [1, %d], got %d", NS_FLOW_MAX_KEPT, max_packets);
    if (idle_timeout_ns < 0)
        return ns_error(NS_EARG, "idle timeout must not be negative");
    ns_flow_table *t = calloc(1, sizeof *t);
    if (!t) return ns_error(NS_ENOMEM, "out of memory for a flow table");
    t->max_packets = max_packets;
    t->idle_ns = idle_timeout_ns;
    t->last = -1;
    t->n_slots = 1024;
    t->slots = calloc(t->n_slots, sizeof *t->slots);
    if (!t->slots) {
        free(t);
        return ns_error(NS_ENOMEM, "out of memory for a flow table");
    }
    *out = t;
    return NS_OK;
}

void ns_flow_table_free(ns_flow_table *t)
{
    if (!t) return;
    for (size_t i = 0; i < t->n_flows; i++) {
        free(t->flows[i].rows);
        free(t->flows[i].iat_ns);
        free(t->flows[i].dir);
    }
    free(t->flows);
    free(t->slots);
    free(t);
}

void ns_flow_tuple_key(const ns_flow_tuple *t, uint64_t key[2])
{
    /* The smaller (address, port) end first: 48 + 48 + 8 bits. */
    uint64_t src = (uint64_t)t->client_ip << 16 | t->client_port;
    uint64_t dst = (uint64_t)t->server_ip << 16 | t->server_port;
    uint64_t lo = src < dst ? src : dst, hi = src < dst ? dst : src;
    key[0] = lo << 16 | hi >> 32;
    key[1] = (hi & 0xffffffffu) << 8 | t->proto | (uint64_t)(t->ipv6 != 0) << 40;
}

uint32_t ns_flow_ip6_digest(const uint8_t addr[16])
{
    uint64_t a = 0, b = 0;
    for (int i = 0; i < 8; i++) a = a << 8 | addr[i], b = b << 8 | addr[8 + i];
    uint64_t h = a * 0x9E3779B97F4A7C15u ^ (b + 0x632BE59BD9B4E019u);
    h ^= h >> 31, h *= 0xBF58476D1CE4E5B9u, h ^= h >> 29, h *= 0x94D049BB133111EBu, h ^= h >> 32;
    return (uint32_t)h;
}

/* Whether flow f is the packet's 5-tuple: for IPv6 the whole addresses, either way round. */
static int same_flow(const ns_flow *f, const ns_flow_tuple *pt)
{
    const ns_flow_tuple *t = &f->tuple;
    if (!pt->ipv6) return 1;   /* IPv4 keys are the 5-tuple itself */
    return (!memcmp(t->client_ip6, pt->client_ip6, 16) && !memcmp(t->server_ip6, pt->server_ip6, 16)) ||
           (!memcmp(t->client_ip6, pt->server_ip6, 16) && !memcmp(t->server_ip6, pt->client_ip6, 16));
}

static uint64_t hash_key(uint64_t a, uint64_t b)
{
    uint64_t h = a * 0x9E3779B97F4A7C15u ^ (b + 0x632BE59BD9B4E019u) * 0xC2B2AE3D27D4EB4Fu;
    return h ^ h >> 29;
}

/* The slot holding the packet's 5-tuple pt (key a, b), or the empty slot
 * where it belongs; pt NULL: the first empty slot for (a, b). */
static slot *find_slot(const ns_flow_table *t, slot *slots, size_t n_slots, uint64_t a, uint64_t b,
                       const ns_flow_tuple *pt)
{
    size_t mask = n_slots - 1;
    for (size_t i = hash_key(a, b) & mask;; i = (i + 1) & mask) {
        slot *s = &slots[i];
        if (!s->flow || (pt && s->a == a && s->b == b && same_flow(&t->flows[s->flow - 1], pt))) return s;
    }
}

static int grow_slots(ns_flow_table *t)
{
    size_t n = t->n_slots * 2;
    slot *fresh = calloc(n, sizeof *fresh);
    if (!fresh) return ns_error(NS_ENOMEM, "out of memory growing the flow table to %zu slots", n);
    for (size_t i = 0; i < t->n_slots; i++)
        if (t->slots[i].flow) *find_slot(t, fresh, n, t->slots[i].a, t->slots[i].b, NULL) = t->slots[i];
    free(t->slots);
    t->slots = fresh;
    t->n_slots = n;
    return NS_OK;
}

static int new_flow(ns_flow_table *t, const ns_flow_tuple *tuple, int64_t ts_ns, uint32_t *index)
{
    if (t->n_flows == UINT32_MAX - 1) return ns_error(NS_ERANGE, "more than %u flows", UINT32_MAX - 1);
    if (t->n_flows == t->cap_flows) {
        size_t cap = t->cap_flows ? t->cap_flows * 2 : 256;
        ns_flow *bigger = realloc(t->flows, cap * sizeof *bigger);
        if (!bigger) return ns_error(NS_ENOMEM, "out of memory for %zu flows", cap);
        t->flows = bigger;
        t->cap_flows = cap;
    }
    ns_flow *f = &t->flows[t->n_flows];
    memset(f, 0, sizeof *f);
    f->tuple = *tuple;
    f->first_ns = f->last_ns = ts_ns;
    *index = (uint32_t)t->n_flows++;
    return NS_OK;
}

static int keep_packet(ns_flow_table *t, ns_flow *f, const ns_packet *p, int64_t iat_ns, uint8_t dir)
{
    if (f->n == f->cap_) {
        uint32_t cap = f->cap_ ? f->cap_ * 2 : 4;
        if (cap > (uint32_t)t->max_packets) cap = (uint32_t)t->max_packets;
        int8_t *rows = realloc(f->rows, (size_t)cap * NS_NP_MODEL_WIDTH);
        if (rows) f->rows = rows;
        int64_t *iat = realloc(f->iat_ns, cap * sizeof *iat);
        if (iat) f->iat_ns = iat;
        uint8_t *d = realloc(f->dir, cap);
        if (d) f->dir = d;
        if (!rows || !iat || !d) return ns_error(NS_ENOMEM, "out of memory for a flow of %u packets", cap);
        f->cap_ = cap;
    }
    ns_nprint_encode(p, NS_NP_MODEL_LAYERS, f->rows + (size_t)f->n * NS_NP_MODEL_WIDTH);
    f->iat_ns[f->n] = iat_ns;
    f->dir[f->n] = dir;
    f->n++;
    return NS_OK;
}

/* Fill the packet's own tuple (src as "client"); NS_SKIP_NONE when it is a
 * flow packet at all. */
static ns_skip_reason packet_tuple(const ns_packet *p, ns_flow_tuple *pt, int *reversed_roles)
{
    memset(pt, 0, sizeof *pt);
    pt->proto = p->l4_proto;
    if (p->ip_version == 6) {
        if (!ns_bytes_has(p->ip, 8, 32)) return NS_SKIP_TRUNC_IPV6;
        pt->ipv6 = 1;
        memcpy(pt->client_ip6, p->ip.data + 8, 16);
        memcpy(pt->server_ip6, p->ip.data + 24, 16);
        pt->client_ip = ns_flow_ip6_digest(pt->client_ip6);
        pt->server_ip = ns_flow_ip6_digest(pt->server_ip6);
        if (p->l4_proto == NS_PROTO_ICMP) return NS_SKIP_OTHER_L4;   /* ICMP for IPv4 inside IPv6: no flow */
        if (p->l4_proto == NS_PROTO_ICMPV6) pt->proto = NS_PROTO_ICMP;
    } else if (p->ip_version != 4) {
        return NS_SKIP_NON_IP;
    } else if (!ns_get_be32(p->ip, 12, &pt->client_ip) || !ns_get_be32(p->ip, 16, &pt->server_ip)) {
        return NS_SKIP_TRUNC_IPV4;
    }
    *reversed_roles = 0;
    uint8_t b = 0;
    switch (pt->proto) {
    case 6:
        if (!ns_get_be16(p->l4, 0, &pt->client_port) || !ns_get_be16(p->l4, 2, &pt->server_port) ||
            !ns_get_u8(p->l4, 13, &b))
            return NS_SKIP_TRUNC_TCP;
        *reversed_roles = (b & (TCP_SYN | TCP_ACK)) == (TCP_SYN | TCP_ACK);
        return NS_SKIP_NONE;
    case 17:
        if (!ns_get_be16(p->l4, 0, &pt->client_port) || !ns_get_be16(p->l4, 2, &pt->server_port))
            return NS_SKIP_TRUNC_UDP;
        return NS_SKIP_NONE;
    case 1:
        if (!ns_get_u8(p->l4, 0, &b)) return NS_SKIP_TRUNC_ICMP;
        *reversed_roles = b == (pt->ipv6 ? ICMPV6_ECHO_REPLY : ICMP_ECHO_REPLY);
        return NS_SKIP_NONE;
    default:
        return NS_SKIP_OTHER_L4;
    }
}

int ns_flow_table_add(ns_flow_table *t, const ns_packet *p, ns_skip_reason parsed, int64_t ts_ns)
{
    t->packets++;
    t->last = -1;
    ns_flow_tuple pt;
    int reversed = 0;
    ns_skip_reason why = parsed;
    if (why == NS_SKIP_NONE) why = packet_tuple(p, &pt, &reversed);
    if (why != NS_SKIP_NONE) {
        ns_skips_add(&t->skips, why);
        return NS_OK;
    }

    uint64_t key[2];
    ns_flow_tuple_key(&pt, key);
    uint64_t a = key[0], b = key[1];

    if (2 * (t->used + 1) > t->n_slots) {
        int rc = grow_slots(t);
        if (rc) return rc;
    }
    slot *s = find_slot(t, t->slots, t->n_slots, a, b, &pt);
    ns_flow *f = s->flow ? &t->flows[s->flow - 1] : NULL;
    if (f && t->idle_ns && ts_ns - f->last_ns > t->idle_ns) f = NULL;   /* timed out */
    if (!f) {
        ns_flow_tuple tuple = pt;
        if (reversed) {
            tuple.client_ip = pt.server_ip, tuple.server_ip = pt.client_ip;
            tuple.client_port = pt.server_port, tuple.server_port = pt.client_port;
            memcpy(tuple.client_ip6, pt.server_ip6, 16);
            memcpy(tuple.server_ip6, pt.client_ip6, 16);
        }
        uint32_t index = 0;
        int rc = new_flow(t, &tuple, ts_ns, &index);
        if (rc) return rc;
        if (!s->flow) t->used++;
        s->a = a, s->b = b, s->flow = index + 1;
        f = &t->flows[index];
    }

    t->last = f - t->flows;
    int64_t iat = f->seen && ts_ns > f->last_ns ? ts_ns - f->last_ns : 0;
    if (ts_ns > f->last_ns) f->last_ns = ts_ns;
    f->seen++;
    uint8_t dir = !(pt.client_ip == f->tuple.client_ip && pt.client_port == f->tuple.client_port &&
                    !memcmp(pt.client_ip6, f->tuple.client_ip6, 16));
    f->packets[dir]++;
    f->bytes[dir] += p->ip_total_len;
    uint8_t flags = 0;
    if (pt.proto == NS_PROTO_TCP && ns_get_u8(p->l4, 13, &flags)) f->tcp_flags[dir] |= flags;
    if (f->n >= (uint32_t)t->max_packets) return NS_OK;
    return keep_packet(t, f, p, iat, dir);
}

int ns_flow_table_add_capture(ns_flow_table *t, const char *path, ns_capture_cut *cut)
{
    ns_capture *c;
    int rc = ns_capture_open(&c, path, NULL);
    if (rc) return rc;
    int linktype = ns_capture_linktype(c);
    ns_frame fr;
    while ((rc = ns_capture_next(c, &fr)) == 1) {
        ns_packet p;
        ns_skip_reason why = ns_packet_parse(&p, linktype, fr.data, fr.caplen);
        if ((rc = ns_flow_table_add(t, &p, why, fr.ts_ns))) break;
    }
    if (cut) ns_capture_cut_info(c, cut);
    ns_capture_close(c);
    return rc < 0 ? rc : NS_OK;
}

const ns_flow *ns_flow_table_flows(const ns_flow_table *t, size_t *count)
{
    *count = t->n_flows;
    return t->flows;
}

uint64_t ns_flow_table_packets(const ns_flow_table *t) { return t->packets; }

int64_t ns_flow_table_last(const ns_flow_table *t) { return t->last; }

const ns_skips *ns_flow_table_skips(const ns_flow_table *t) { return &t->skips; }
