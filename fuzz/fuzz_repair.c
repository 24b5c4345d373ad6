/* fuzz_repair.c: libFuzzer target for repair (repair.h). The input becomes a
 * flow: its first byte the number of rows (1-16) and a trace plan's close
 * (none, or NS_REPAIR_CLOSE_*; its side and shape from the last byte, its
 * handshake gaps from the first and last; turn maps from the rest), its
 * second the options (link type, payload, flow number), the rest, cycled,
 * the rows' ternary values, directions and inter-arrival times. Whatever the rows say, every
 * packet repair writes must parse (packet.h) with consistent lengths and
 * valid checksums, IPv4 or IPv6 (pseudo-header); anything else aborts. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "netsynth/bytes.h"
#include "netsynth/capture.h"
#include "netsynth/nprint.h"
#include "netsynth/packet.h"
#include "netsynth/repair.h"

#include <pcap/dlt.h>

enum { W = NS_NP_MODEL_WIDTH, MAXR = 16 };

static void check(const ns_repair_out *out, int linktype)
{
    for (size_t i = 0; i < out->n_pkts; i++) {
        const ns_repair_pkt *r = &out->pkts[i];
        ns_packet p;
        if (ns_packet_parse(&p, linktype == NS_LINKTYPE_RAW ? DLT_RAW : DLT_EN10MB, out->bytes + r->off, r->len) !=
            NS_SKIP_NONE)
            abort();
        uint8_t vhl, proto;
        uint16_t total, sum;
        if (p.ip_version == 6) { /* IPv6: its lengths, no extension header, pseudo-header checksums */
            uint16_t plen;
            if (!ns_get_be16(p.ip, 4, &plen) || !ns_get_u8(p.ip, 6, &proto) || p.ip.len != 40 ||
                40u + plen != p.net.len || p.l4.data != p.ip.data + 40 || p.l4.len + p.payload.len != plen)
                abort();
            if (proto != 6 && proto != 17 && proto != 58) abort();
            size_t field = proto == 6 ? 16 : proto == 17 ? 6 : 2;
            if (!ns_get_be16(p.l4, field, &sum) || sum != ns_l4_checksum_ipv6(p.ip.data, proto, p.l4.data, plen)) abort();
            if (i && r->ts_ns <= out->pkts[i - 1].ts_ns) abort();
            continue;
        }
        if (!ns_get_u8(p.ip, 0, &vhl) || !ns_get_be16(p.ip, 2, &total) || !ns_get_u8(p.ip, 9, &proto)) abort();
        if (vhl >> 4 != 4 || (size_t)(vhl & 15) * 4 != p.ip.len || total != p.net.len) abort();
        if (!ns_get_be16(p.ip, 10, &sum) || sum != ns_ipv4_header_checksum(p.ip.data, p.ip.len)) abort();
        size_t field = proto == 6 ? 16 : proto == 17 ? 6 : 2;
        if (p.l4.len + p.payload.len != total - p.ip.len) abort();
        if (!ns_get_be16(p.l4, field, &sum) || sum != ns_l4_checksum_ipv4(p.ip.data, proto, p.l4.data, total - p.ip.len))
            abort();
        if (i && r->ts_ns <= out->pkts[i - 1].ts_ns) abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 3) return 0;
    static int8_t rows[MAXR * W];
    uint8_t dir[MAXR];
    int64_t iat[MAXR];
    size_t n = 1 + data[0] % MAXR, m = size - 2;
    const uint8_t *v = data + 2;
    for (size_t k = 0; k < n * W; k++) rows[k] = (int8_t)((v[k % m] >> (2 * (k / m % 4))) % 3 - 1);
    for (size_t i = 0; i < n; i++) dir[i] = v[(i * 7) % m] & 1, iat[i] = (int64_t)v[(i * 13) % m] * 1000003;
    ns_repair_opts o;
    ns_repair_opts_init(&o);
    o.linktype = data[1] & 1 ? NS_LINKTYPE_RAW : NS_LINKTYPE_ETHERNET;
    o.payload = data[1] >> 1 & 1;
    static ns_repair_plan plan[64];
    if (data[0] >> 4 & 1) {
        for (int k = 0; k < 64; k++)
            plan[k] = (ns_repair_plan){.start_ns = o.start_ns, .client = 1, .server = 2, .client_port = 50001,
                                       .close = (uint8_t)((data[0] >> 5) % NS_REPAIR_CLOSES),
                                       .close_side = (uint8_t)(v[m - 1] % 3), .close_shape = (uint8_t)(v[m - 1] >> 2 & 3),
                                       .rst_ts = (uint8_t)(v[m - 1] >> 4 & 3),
                                       .hs_us = {(uint32_t)v[0] * 977u, (uint32_t)v[m - 1] >> 6}};
        /* Turn maps from the bytes, in any order (repair must not trust them to be sorted). */
        for (int k = 0; data[0] >> 3 & 1 && k < 64; k++)
            for (int q = 0; q < NS_REPAIR_TURN_Q; q++)
                for (int s = 0; s < 2; s++)
                    plan[k].turn_map[s][0][q] = (uint16_t)(v[(size_t)(q * 3 + s) % m] * 256u),
                    plan[k].turn_map[s][1][q] = (uint16_t)(v[(size_t)(q * 5 + s) % m] * 200u);
        /* The class's lengths from the bytes, any values (repair must not trust them to be IP lengths). */
        for (int k = 0; data[0] >> 2 & 1 && k < 64; k++)
            for (int s = 0; s < 2; s++)
                for (int t = 0; t < NS_REPAIR_LEN_KINDS; t++)
                    for (int i = 0; i < NS_REPAIR_LENS; i++)
                        plan[k].lens[s][t][i] = (uint16_t)(v[(size_t)(i * 7 + s * 3 + t) % m] * 257u);
        o.plan = plan, o.n_plan = 64;
    }
    ns_repair_out out = {0};
    ns_repair_stats st = {0};
    if (ns_repair_flow(&o, data[1] >> 2, rows, dir, iat, n, &out, &st) != 0) abort();
    /* Every row is a packet but those dropped (after an RST; empty ACKs of
     * nothing new with nothing to stand for), plus what a close adds. */
    if (st.packets != out.n_pkts || st.packets + st.dropped + st.acks_dropped != n + st.close_added) abort();
    check(&out, o.linktype);
    ns_repair_out_free(&out);
    return 0;
}
