/* test_flow.c: the flow table on packets crafted here: directions, client and
 * server roles, idle timeouts, the packet cap, ICMP keys, skips, growth. */
#include "testutil.h"

#include <stdlib.h>
#include <string.h>

#include "netsynth/error.h"
#include "netsynth/flow.h"
#include "netsynth/nprint.h"
#include "netsynth/packet.h"

#define IP(a, b, c, d) ((uint32_t)(a) << 24 | (uint32_t)(b) << 16 | (uint32_t)(c) << 8 | (uint32_t)(d))
#define SEC INT64_C(1000000000)
enum { SYN = 0x02, ACK = 0x10, FIN = 0x01 };

static const uint32_t A = IP(10, 0, 0, 1), B = IP(192, 0, 2, 7);

static void put32(uint8_t *p, uint32_t v) { p[0] = v >> 24, p[1] = v >> 16 & 255, p[2] = v >> 8 & 255, p[3] = v & 255; }
static void put16(uint8_t *p, uint16_t v) { p[0] = v >> 8, p[1] = v & 255; }

/* An IPv4 packet: TCP (x = flags), UDP, ICMP (x = type, id = echo id), or
 * another protocol; returns its length. */
static size_t make_ipv4(uint8_t *b, uint8_t proto, uint32_t src, uint16_t sport, uint32_t dst, uint16_t dport,
                        uint8_t x)
{
    size_t l4 = proto == 6 ? 20 : 8;
    memset(b, 0, 20 + l4);
    b[0] = 0x45, b[8] = 64, b[9] = proto;
    put16(b + 2, (uint16_t)(20 + l4));
    put32(b + 12, src);
    put32(b + 16, dst);
    uint8_t *t = b + 20;
    if (proto == 6) {
        put16(t, sport), put16(t + 2, dport);
        t[12] = 5 << 4, t[13] = x;
    } else if (proto == 17) {
        put16(t, sport), put16(t + 2, dport), put16(t + 4, 8);
    } else if (proto == 1) {
        t[0] = x;
        put16(t + 4, sport);   /* echo id */
    }
    return 20 + l4;
}

static void add(ns_flow_table *t, uint8_t proto, uint32_t src, uint16_t sport, uint32_t dst, uint16_t dport,
                uint8_t x, int64_t ts)
{
    uint8_t buf[64];
    size_t n = make_ipv4(buf, proto, src, sport, dst, dport, x);
    ns_packet p;
    memset(&p, 0, sizeof p);
    ns_skip_reason why = ns_packet_parse_ip(&p, buf, n);
    assert_int_equal(ns_flow_table_add(t, &p, why, ts), NS_OK);
}

static ns_flow_table *table(int max_packets, int64_t idle_ns)
{
    ns_flow_table *t;
    assert_int_equal(ns_flow_table_new(&t, max_packets, idle_ns), NS_OK);
    return t;
}

static const ns_flow *flows(ns_flow_table *t, size_t expect)
{
    size_t n;
    const ns_flow *f = ns_flow_table_flows(t, &n);
    assert_int_equal(n, expect);
    return f;
}

static void test_both_directions_one_flow(void **state)
{
    (void)state;
    ns_flow_table *t = table(64, 0);
    add(t, 6, A, 40000, B, 443, SYN, 100 * SEC);
    add(t, 6, B, 443, A, 40000, SYN | ACK, 100 * SEC + 2000);
    add(t, 6, A, 40000, B, 443, ACK, 100 * SEC + 5000);
    add(t, 17, A, 5353, B, 53, 0, 101 * SEC);  /* another flow */
    const ns_flow *f = flows(t, 2);
    assert_int_equal(f[0].tuple.client_ip, A);
    assert_int_equal(f[0].tuple.server_ip, B);
    assert_int_equal(f[0].tuple.client_port, 40000);
    assert_int_equal(f[0].tuple.server_port, 443);
    assert_int_equal(f[0].tuple.proto, 6);
    assert_int_equal(f[0].n, 3);
    assert_int_equal(f[0].seen, 3);
    assert_int_equal(f[0].iat_ns[0], 0);
    assert_int_equal(f[0].iat_ns[1], 2000);
    assert_int_equal(f[0].iat_ns[2], 3000);
    assert_int_equal(f[0].dir[0], 0);
    assert_int_equal(f[0].dir[1], 1);
    assert_int_equal(f[0].dir[2], 0);
    assert_int_equal(f[0].first_ns, 100 * SEC);
    assert_int_equal(f[0].last_ns, 100 * SEC + 5000);
    assert_int_equal(f[1].tuple.proto, 17);
    assert_int_equal(f[1].n, 1);
    assert_int_equal(ns_flow_table_packets(t), 4);
    assert_int_equal(ns_skips_total(ns_flow_table_skips(t)), 0);
    ns_flow_table_free(t);
}

static void test_rows_are_the_nprint_encoding(void **state)
{
    (void)state;
    ns_flow_table *t = table(64, 0);
    uint8_t buf[64];
    size_t n = make_ipv4(buf, 6, A, 40000, B, 443, SYN);
    ns_packet p;
    memset(&p, 0, sizeof p);
    ns_skip_reason why = ns_packet_parse_ip(&p, buf, n);
    assert_int_equal(why, NS_SKIP_NONE);
    assert_int_equal(ns_flow_table_add(t, &p, why, 0), NS_OK);
    int8_t row[NS_NP_MODEL_WIDTH];
    ns_nprint_encode(&p, NS_NP_MODEL_LAYERS, row);
    const ns_flow *f = flows(t, 1);
    assert_memory_equal(f[0].rows, row, NS_NP_MODEL_WIDTH);
    /* The TCP destination port (443) is in the row; UDP and ICMP are absent. */
    assert_true(ns_nprint_has(f[0].rows, NS_NPF_TCP_DPRT));
    assert_int_equal(ns_nprint_get(f[0].rows, NS_NPF_TCP_DPRT), 443);
    assert_int_equal(ns_nprint_bits_present(f[0].rows, NS_NP_COL_UDP, NS_NP_BITS_UDP), 0);
    assert_int_equal(ns_nprint_bits_present(f[0].rows, NS_NP_COL_ICMP, NS_NP_BITS_ICMP), 0);
    ns_flow_table_free(t);
}

static void test_syn_ack_first_makes_receiver_client(void **state)
{
    (void)state;
    ns_flow_table *t = table(64, 0);
    add(t, 6, B, 443, A, 40000, SYN | ACK, 0);   /* the SYN was missed */
    add(t, 6, A, 40000, B, 443, ACK, 10);
    const ns_flow *f = flows(t, 1);
    assert_int_equal(f[0].tuple.client_ip, A);
    assert_int_equal(f[0].tuple.client_port, 40000);
    assert_int_equal(f[0].tuple.server_port, 443);
    assert_int_equal(f[0].dir[0], 1);
    assert_int_equal(f[0].dir[1], 0);
    ns_flow_table_free(t);

    /* Mid-stream (no SYN at all): the first sender is the client. */
    t = table(64, 0);
    add(t, 6, B, 443, A, 40000, ACK, 0);
    f = flows(t, 1);
    assert_int_equal(f[0].tuple.client_ip, B);
    assert_int_equal(f[0].dir[0], 0);
    ns_flow_table_free(t);
}

static void test_icmp_keyed_by_addresses(void **state)
{
    (void)state;
    ns_flow_table *t = table(64, 0);
    add(t, 1, B, 7, A, 0, 0, 0);       /* echo reply first: A is the client */
    add(t, 1, A, 8, B, 0, 8, 1000);    /* echo request, another id: same flow */
    add(t, 1, B, 8, A, 0, 0, 2000);
    add(t, 1, A, 0, IP(192, 0, 2, 8), 0, 8, 3000);   /* another peer: another flow */
    const ns_flow *f = flows(t, 2);
    assert_int_equal(f[0].tuple.client_ip, A);
    assert_int_equal(f[0].tuple.server_ip, B);
    assert_int_equal(f[0].tuple.client_port, 0);
    assert_int_equal(f[0].tuple.server_port, 0);
    assert_int_equal(f[0].n, 3);
    assert_int_equal(f[0].dir[0], 1);
    assert_int_equal(f[0].dir[1], 0);
    assert_int_equal(f[0].dir[2], 1);
    ns_flow_table_free(t);
}

static void test_idle_timeout_starts_new_flow(void **state)
{
    (void)state;
    ns_flow_table *t = table(64, 60 * SEC);
    add(t, 17, A, 123, B, 123, 0, 0);
    add(t, 17, B, 123, A, 123, 0, 60 * SEC);        /* exactly the timeout: same flow */
    add(t, 17, B, 123, A, 123, 0, 120 * SEC + 1);   /* past it: a new flow, B the client */
    add(t, 17, A, 123, B, 123, 0, 121 * SEC);
    const ns_flow *f = flows(t, 2);
    assert_int_equal(f[0].n, 2);
    assert_int_equal(f[0].iat_ns[1], 60 * SEC);
    assert_int_equal(f[1].n, 2);
    assert_int_equal(f[1].tuple.client_ip, B);
    assert_int_equal(f[1].iat_ns[0], 0);
    assert_int_equal(f[1].iat_ns[1], SEC - 1);
    assert_int_equal(f[1].dir[1], 1);
    ns_flow_table_free(t);

    /* No timeout: one flow however long the silence. */
    t = table(64, 0);
    add(t, 17, A, 123, B, 123, 0, 0);
    add(t, 17, A, 123, B, 123, 0, 100000 * SEC);
    flows(t, 1);
    ns_flow_table_free(t);
}

static void test_timeout_counts_from_packets_past_the_cap(void **state)
{
    (void)state;
    /* Packets past the cap still keep the flow alive. */
    ns_flow_table *t = table(2, 10 * SEC);
    for (int i = 0; i < 5; i++) add(t, 6, A, 1000, B, 80, ACK, i * 8 * SEC);
    const ns_flow *f = flows(t, 1);
    assert_int_equal(f[0].n, 2);
    assert_int_equal(f[0].seen, 5);
    assert_int_equal(f[0].last_ns, 32 * SEC);
    ns_flow_table_free(t);
}

static void test_packet_cap(void **state)
{
    (void)state;
    ns_flow_table *t = table(3, 0);
    for (int i = 0; i < 10; i++) add(t, 17, A, 5000, B, 53, 0, i);
    const ns_flow *f = flows(t, 1);
    assert_int_equal(f[0].n, 3);
    assert_int_equal(f[0].seen, 10);
    assert_int_equal(f[0].last_ns, 9);
    assert_int_equal(f[0].packets[0], 10);   /* totals count past the cap */
    assert_int_equal(f[0].bytes[0], 280);
    ns_flow_table_free(t);

    t = table(NS_FLOW_MAX_PACKETS, 0);
    for (int i = 0; i < NS_FLOW_MAX_PACKETS + 5; i++) add(t, 6, A, 5000, B, 80, ACK, i);
    f = flows(t, 1);
    assert_int_equal(f[0].n, NS_FLOW_MAX_PACKETS);
    assert_int_equal(f[0].iat_ns[NS_FLOW_MAX_PACKETS - 1], 1);
    ns_flow_table_free(t);
}

static void test_backwards_time_is_zero_gap(void **state)
{
    (void)state;
    ns_flow_table *t = table(64, 0);
    add(t, 17, A, 1, B, 2, 0, 1000);
    add(t, 17, A, 1, B, 2, 0, 500);
    add(t, 17, A, 1, B, 2, 0, 1500);
    const ns_flow *f = flows(t, 1);
    assert_int_equal(f[0].iat_ns[1], 0);
    assert_int_equal(f[0].iat_ns[2], 500);
    ns_flow_table_free(t);
}

/* The flow each packet joined, past the cap and across a timeout too; -1 for a skip. */
static void test_last_names_the_flow(void **state)
{
    (void)state;
    ns_flow_table *t = table(1, 60 * SEC);
    assert_int_equal(ns_flow_table_last(t), -1);
    add(t, 6, A, 40000, B, 443, SYN, 0);
    assert_int_equal(ns_flow_table_last(t), 0);
    add(t, 17, A, 5353, B, 53, 0, SEC);
    assert_int_equal(ns_flow_table_last(t), 1);
    add(t, 6, B, 443, A, 40000, SYN | ACK, 2 * SEC); /* past the cap of 1 */
    assert_int_equal(ns_flow_table_last(t), 0);
    add(t, 6, A, 40000, B, 443, ACK, 100 * SEC);     /* after the timeout: a new flow */
    assert_int_equal(ns_flow_table_last(t), 2);
    add(t, 47, A, 0, B, 0, 0, 101 * SEC);           /* GRE: left out */
    assert_int_equal(ns_flow_table_last(t), -1);
    ns_flow_table_free(t);
}

static void test_skips(void **state)
{
    (void)state;
    ns_flow_table *t = table(64, 0);
    uint8_t buf[64];
    ns_packet p;
    /* IGMP */
    size_t n = make_ipv4(buf, 2, A, 0, B, 0, 0);
    memset(&p, 0, sizeof p);
    assert_int_equal(ns_flow_table_add(t, &p, ns_packet_parse_ip(&p, buf, n), 0), NS_OK);
    /* IPv6 UDP */
    uint8_t v6[48] = {0x60, 0, 0, 0, 0, 8, 17, 64};
    v6[40] = 0x30, v6[43] = 53, v6[45] = 8;
    memset(&p, 0, sizeof p);
    assert_int_equal(ns_flow_table_add(t, &p, ns_packet_parse_ip(&p, v6, 48), 0), NS_OK);
    /* ARP over Ethernet */
    uint8_t arp[42] = {0};
    arp[12] = 0x08, arp[13] = 0x06;
    assert_int_equal(ns_flow_table_add(t, &p, ns_packet_parse(&p, 1, arp, sizeof arp), 0), NS_OK);
    /* Truncated TCP */
    n = make_ipv4(buf, 6, A, 1, B, 2, SYN);
    memset(&p, 0, sizeof p);
    assert_int_equal(ns_flow_table_add(t, &p, ns_packet_parse_ip(&p, buf, 30), 0), NS_OK);
    flows(t, 1);   /* the IPv6 UDP one */
    const ns_skips *s = ns_flow_table_skips(t);
    assert_int_equal(s->n[NS_SKIP_OTHER_L4], 1);
    assert_int_equal(s->n[NS_SKIP_IPV6], 0);
    assert_int_equal(s->n[NS_SKIP_NON_IP], 1);
    assert_int_equal(s->n[NS_SKIP_TRUNC_TCP], 1);
    assert_int_equal(ns_flow_table_packets(t), 4);
    ns_flow_table_free(t);
}

/* An IPv6 packet from host a to host b (the last byte of 2001:db8::/64
 * addresses): UDP, TCP (x = flags) or ICMPv6 (x = type),
 * behind a hop-by-hop header when hbh; returns its length. */
static size_t make_ipv6(uint8_t *b, uint8_t proto, uint8_t a, uint16_t sport, uint8_t bb, uint16_t dport, uint8_t x,
                        int hbh)
{
    size_t l4 = proto == 6 ? 20 : 8, ext = hbh ? 8 : 0;
    memset(b, 0, 40 + ext + l4);
    b[0] = 0x60, b[7] = 64;
    put16(b + 4, (uint16_t)(ext + l4));
    b[6] = hbh ? 0 : proto;
    b[8] = 0x20, b[9] = 0x01, b[10] = 0x0d, b[11] = 0xb8, b[23] = a;
    b[24] = 0x20, b[25] = 0x01, b[26] = 0x0d, b[27] = 0xb8, b[39] = bb;
    uint8_t *t = b + 40 + ext;
    if (hbh) b[40] = proto, b[42] = 5, b[43] = 2;   /* router alert */
    if (proto == 58) {
        t[0] = x;
    } else {
        put16(t, sport), put16(t + 2, dport);
        if (proto == 6) t[12] = 0x50, t[13] = x;
        else put16(t + 4, 8);
    }
    return 40 + ext + l4;
}

static void add6(ns_flow_table *t, uint8_t proto, uint8_t a, uint16_t sport, uint8_t b, uint16_t dport, uint8_t x,
                 int hbh, int64_t ts)
{
    uint8_t buf[96];
    size_t n = make_ipv6(buf, proto, a, sport, b, dport, x, hbh);
    ns_packet p;
    memset(&p, 0, sizeof p);
    ns_skip_reason why = ns_packet_parse_ip(&p, buf, n);
    assert_int_equal(why, NS_SKIP_NONE);
    assert_int_equal(ns_flow_table_add(t, &p, why, ts), NS_OK);
}

/* IPv6 flows: keyed by whole addresses both ways, apart from IPv4 flows,
 * ICMPv6 in the icmp columns, an echo reply first making its receiver the
 * client, and a hop-by-hop header folded out of the row. */
static void test_ipv6_flows(void **state)
{
    (void)state;
    ns_flow_table *t = table(64, 0);
    add6(t, 17, 1, 5353, 2, 5353, 0, 0, 0);
    add6(t, 17, 2, 5353, 1, 5353, 0, 0, 1);       /* the reply: same flow */
    add6(t, 17, 3, 5353, 2, 5353, 0, 0, 2);       /* another host: another flow */
    add(t, 17, 1, 5353, 2, 5353, 0, 3);           /* IPv4 0.0.0.1 -> 0.0.0.2: not the IPv6 flow */
    add6(t, 58, 2, 0, 1, 0, 129, 0, 4);           /* echo reply first: client is host 1 */
    add6(t, 58, 1, 0, 2, 0, 143, 1, 5);           /* MLD report behind hop-by-hop options */
    add6(t, 6, 1, 40000, 2, 443, SYN, 0, 6);
    const ns_flow *f = flows(t, 5);
    assert_int_equal(f[0].n, 2);
    assert_int_equal(f[0].dir[0], 0), assert_int_equal(f[0].dir[1], 1);
    assert_true(f[0].tuple.ipv6);
    assert_int_equal(f[0].tuple.client_ip6[15], 1), assert_int_equal(f[0].tuple.server_ip6[15], 2);
    assert_int_equal(f[0].tuple.client_ip, ns_flow_ip6_digest(f[0].tuple.client_ip6));
    assert_int_not_equal(f[0].tuple.client_ip, f[1].tuple.client_ip);
    assert_int_equal(f[0].bytes[0], 48), assert_int_equal(f[0].bytes[1], 48);
    assert_false(f[2].tuple.ipv6);
    assert_int_equal(f[2].n, 1);

    /* ICMPv6: proto 1 of the flow, the reply's receiver the client, the MLD report the same flow. */
    assert_int_equal(f[3].tuple.proto, NS_PROTO_ICMP);
    assert_int_equal(f[3].tuple.client_ip6[15], 1);
    assert_int_equal(f[3].n, 2);
    assert_int_equal(f[3].dir[0], 1), assert_int_equal(f[3].dir[1], 0);
    const int8_t *row = f[3].rows + NS_NP_MODEL_WIDTH;  /* the MLD report */
    assert_int_equal(ns_nprint_get(row, NS_NPF_IPV6_VER), 6);
    assert_int_equal(ns_nprint_get(row, NS_NPF_IPV6_NH), 58);     /* hop-by-hop folded away */
    assert_int_equal(ns_nprint_get(row, NS_NPF_IPV6_LEN), 8);     /* 16 less its 8 bytes */
    assert_int_equal(ns_nprint_get(row, NS_NPF_ICMP_TYPE), 143);
    assert_false(ns_nprint_has(row, NS_NPF_IPV4_VER));
    assert_false(ns_nprint_has(row, NS_NPF_UDP_SPORT));
    /* The row rebuilds into a valid packet: ICMPv6 with its pseudo-header checksum. */
    uint8_t pkt[NS_NP_MAX_PACKET];
    size_t len;
    assert_int_equal(ns_nprint_row_to_packet(row, NS_NP_MODEL_LAYERS, 0, pkt, &len), NS_OK);
    assert_int_equal(len, 48);
    assert_int_equal(pkt[6], 58);
    assert_int_equal(ns_l4_checksum_ipv6(pkt, 58, pkt + 40, 8), (uint16_t)(pkt[42] << 8 | pkt[43]));
    assert_int_equal(ns_inet_fold(ns_inet_sum(ns_inet_sum(0, pkt + 8, 32) + 8 + 58, pkt + 40, 8)), 0xffff);

    assert_int_equal(f[4].tuple.proto, NS_PROTO_TCP);
    assert_int_equal(f[4].tuple.server_port, 443);
    assert_int_equal(f[4].bytes[0], 60);
    ns_flow_table_free(t);
}

static void test_many_flows(void **state)
{
    (void)state;
    ns_flow_table *t = table(8, 0);
    enum { N = 20000 };
    for (int i = 0; i < N; i++) add(t, 6, A + (uint32_t)(i >> 10), (uint16_t)(1024 + (i & 1023)), B, 80, SYN, i);
    for (int i = N - 1; i >= 0; i--)
        add(t, 6, B, 80, A + (uint32_t)(i >> 10), (uint16_t)(1024 + (i & 1023)), SYN | ACK, N + i);
    const ns_flow *f = flows(t, N);
    for (int i = 0; i < N; i++) {
        assert_int_equal(f[i].n, 2);
        assert_int_equal(f[i].dir[1], 1);
        assert_int_equal(f[i].tuple.client_port, 1024 + (i & 1023));
    }
    ns_flow_table_free(t);
}

static void test_tuple_key_is_direction_free(void **state)
{
    (void)state;
    ns_flow_tuple x = {.client_ip = A, .server_ip = B, .client_port = 1, .server_port = 2, .proto = 6};
    ns_flow_tuple y = {.client_ip = B, .server_ip = A, .client_port = 2, .server_port = 1, .proto = 6};
    ns_flow_tuple z = {.client_ip = A, .server_ip = B, .client_port = 2, .server_port = 1, .proto = 6};
    uint64_t kx[2], ky[2], kz[2];
    ns_flow_tuple_key(&x, kx);
    ns_flow_tuple_key(&y, ky);
    ns_flow_tuple_key(&z, kz);
    assert_memory_equal(kx, ky, sizeof kx);
    assert_memory_not_equal(kx, kz, sizeof kx);
}

static void test_bad_arguments(void **state)
{
    (void)state;
    ns_flow_table *t;
    assert_int_equal(ns_flow_table_new(&t, 0, 0), NS_EARG);
    assert_non_null(strstr(ns_errmsg(), "packets per flow"));
    assert_int_equal(ns_flow_table_new(&t, NS_FLOW_MAX_KEPT + 1, 0), NS_EARG);
    assert_int_equal(ns_flow_table_new(&t, 64, -1), NS_EARG);
    t = table(4, 0);
    assert_true(ns_flow_table_add_capture(t, "/nonexistent/x.pcap", NULL) < 0);
    assert_non_null(strstr(ns_errmsg(), "/nonexistent/x.pcap"));
    ns_flow_table_free(t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_both_directions_one_flow),
        cmocka_unit_test(test_last_names_the_flow),
        cmocka_unit_test(test_rows_are_the_nprint_encoding),
        cmocka_unit_test(test_syn_ack_first_makes_receiver_client),
        cmocka_unit_test(test_icmp_keyed_by_addresses),
        cmocka_unit_test(test_idle_timeout_starts_new_flow),
        cmocka_unit_test(test_timeout_counts_from_packets_past_the_cap),
        cmocka_unit_test(test_packet_cap),
        cmocka_unit_test(test_backwards_time_is_zero_gap),
        cmocka_unit_test(test_skips),
        cmocka_unit_test(test_ipv6_flows),
        cmocka_unit_test(test_many_flows),
        cmocka_unit_test(test_tuple_key_is_direction_free),
        cmocka_unit_test(test_bad_arguments),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    tu_cleanup();
    return rc;
}
