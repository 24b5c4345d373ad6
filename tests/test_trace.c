/* test_trace.c: trace measures on captures built here with known structure
 * (periodic flows, a known handshake RTT, timestamps that go backwards and
 * jump, PSH without payload, UDP only, empty and one-packet captures), the
 * KS distance against hand-computed cases, and the per class report. */
#include "testutil.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "netsynth/capture.h"
#include "netsynth/error.h"
#include "netsynth/fileio.h"
#include "netsynth/trace.h"

#define IP(a, b, c, d) ((uint32_t)(a) << 24 | (uint32_t)(b) << 16 | (uint32_t)(c) << 8 | (uint32_t)(d))
#define SEC INT64_C(1000000000)
#define MS INT64_C(1000000)
enum { FIN = 0x01, SYN = 0x02, PSH = 0x08, ACK = 0x10 };

static const uint32_t CLIENT = IP(10, 0, 0, 1), SERVER = IP(10, 0, 0, 2), SERVER2 = IP(10, 0, 0, 3);

/* cmocka's float check rounds to float: compare in double, say what differed */
#define assert_double_equal(a, b, eps) check_double((a), (b), (eps), #a, __LINE__)
static void check_double(double a, double b, double eps, const char *what, int line)
{
    if (!(fabs(a - b) <= eps)) fail_msg("line %d: %s = %.17g, expected %.17g", line, what, a, b);
}

static void put32(uint8_t *p, uint32_t v) { p[0] = v >> 24, p[1] = v >> 16 & 255, p[2] = v >> 8 & 255, p[3] = v & 255; }
static void put16(uint8_t *p, uint16_t v) { p[0] = v >> 8, p[1] = v & 255; }

/* A capture being written: raw IPv4 frames, nanosecond timestamps. */
typedef struct cap {
    ns_outfile out;
    ns_pcap_writer w;
} cap;

static void cap_open(cap *c, const char *path)
{
    assert_int_equal(ns_outfile_open(&c->out, path), NS_OK);
    assert_int_equal(ns_pcap_writer_begin(&c->w, c->out.fp, NS_LINKTYPE_RAW, 1), NS_OK);
}

static void cap_close(cap *c) { assert_int_equal(ns_outfile_commit(&c->out), NS_OK); }

/* A TCP segment with flags, `payload` bytes of data and, when has_ts, the
 * timestamp option (NOP NOP TS). */
static void tcp(cap *c, int64_t ts, uint32_t src, uint16_t sport, uint32_t dst, uint16_t dport, uint8_t flags,
                int payload, int has_ts, uint32_t tsval)
{
    uint8_t b[256];
    int thl = has_ts ? 32 : 20, len = 20 + thl + payload;
    memset(b, 0, sizeof b);
    b[0] = 0x45, b[8] = 64, b[9] = 6;
    put16(b + 2, (uint16_t)len);
    put32(b + 12, src), put32(b + 16, dst);
    uint8_t *t = b + 20;
    put16(t, sport), put16(t + 2, dport);
    t[12] = (uint8_t)(thl / 4 << 4), t[13] = flags;
    if (has_ts) {
        t[20] = 1, t[21] = 1, t[22] = 8, t[23] = 10;
        put32(t + 24, tsval);
    }
    assert_int_equal(ns_pcap_write(&c->w, ts, b, (uint32_t)len, (uint32_t)len), NS_OK);
}

/* The same over IPv6 (raw link): host `src`, `dst` are the last bytes of 2001:db8::/64 addresses. */
static void tcp6(cap *c, int64_t ts, uint8_t src, uint16_t sport, uint8_t dst, uint16_t dport, uint8_t flags,
                 int payload, uint32_t tsval)
{
    uint8_t b[256];
    int len = 40 + 32 + payload;
    memset(b, 0, sizeof b);
    b[0] = 0x60, b[6] = 6, b[7] = 64;
    put16(b + 4, (uint16_t)(32 + payload));
    b[8] = b[24] = 0x20, b[9] = b[25] = 0x01, b[10] = b[26] = 0x0d, b[11] = b[27] = 0xb8;
    b[23] = src, b[39] = dst;
    uint8_t *t = b + 40;
    put16(t, sport), put16(t + 2, dport);
    t[12] = 8 << 4, t[13] = flags;
    t[20] = 1, t[21] = 1, t[22] = 8, t[23] = 10;
    put32(t + 24, tsval);
    assert_int_equal(ns_pcap_write(&c->w, ts, b, (uint32_t)len, (uint32_t)len), NS_OK);
}

static void udp(cap *c, int64_t ts, uint32_t src, uint16_t sport, uint32_t dst, uint16_t dport, int payload)
{
    uint8_t b[256];
    int len = 28 + payload;
    memset(b, 0, sizeof b);
    b[0] = 0x45, b[8] = 64, b[9] = 17;
    put16(b + 2, (uint16_t)len);
    put32(b + 12, src), put32(b + 16, dst);
    put16(b + 20, sport), put16(b + 22, dport), put16(b + 24, (uint16_t)(8 + payload));
    assert_int_equal(ns_pcap_write(&c->w, ts, b, (uint32_t)len, (uint32_t)len), NS_OK);
}

/* One client, n flows to port 80, one every `period`, client ports 40000,
 * 40001, ...; each flow: SYN, SYN/ACK after 10 ms, ACK at 11 ms, PSH+data at
 * 20 ms, the server's ACK at 50 ms, every packet with a 1 kHz TSval. Flow 1's
 * data goes back in time (TSval - 100), flow 3's ACK jumps (+1,000,000) and
 * its data comes back to the clock (backwards from the jump), flow 2's
 * server ACK carries PSH without data. */
static const char *periodic(const char *dir, const char *name, int n, int64_t period)
{
    const char *path = tu_path(dir, name);
    cap c;
    cap_open(&c, path);
    for (int k = 0; k < n; k++) {
        int64_t t = 1000 * SEC + k * period;
        uint16_t port = (uint16_t)(40000 + k);
        uint32_t cv = 5000u + (uint32_t)(k * period / MS), sv = 900000u + (uint32_t)(k * period / MS);
        tcp(&c, t, CLIENT, port, SERVER, 80, SYN, 0, 1, cv);
        tcp(&c, t + 10 * MS, SERVER, 80, CLIENT, port, SYN | ACK, 0, 1, sv + 10);
        tcp(&c, t + 11 * MS, CLIENT, port, SERVER, 80, ACK, 0, 1, k == 3 ? cv + 1000000 : cv + 11);
        tcp(&c, t + 20 * MS, CLIENT, port, SERVER, 80, PSH | ACK, 100, 1, k == 1 ? cv - 100 : cv + 20);
        tcp(&c, t + 50 * MS, SERVER, 80, CLIENT, port, k == 2 ? PSH | ACK : ACK, 0, 1, sv + 50);
    }
    cap_close(&c);
    return path;
}

/* Two DNS-like flows over UDP from one client port to two servers, each a
 * query and, 100 ms later, its answer; the second starts 2 s after the first. */
static const char *udp_only(const char *dir, const char *name)
{
    const char *path = tu_path(dir, name);
    cap c;
    cap_open(&c, path);
    udp(&c, 10 * SEC, CLIENT, 5353, SERVER, 53, 30);
    udp(&c, 10 * SEC + 100 * MS, SERVER, 53, CLIENT, 5353, 60);
    udp(&c, 12 * SEC, CLIENT, 5353, SERVER2, 53, 30);
    udp(&c, 12 * SEC + 100 * MS, SERVER2, 53, CLIENT, 5353, 60);
    cap_close(&c);
    return path;
}

static void measure(ns_trace_capture *m, const char *path, int window)
{
    ns_trace_opts o;
    ns_trace_opts_init(&o);
    o.window = window;
    assert_int_equal(ns_trace_measure(m, path, &o), NS_OK);
}

static int cmp_d(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static void assert_sample(const ns_trace_sample *s, const double *expect, size_t n)
{
    assert_int_equal(s->n, n);
    double *v = malloc((n + 1) * sizeof *v), *e = malloc((n + 1) * sizeof *e);
    memcpy(v, s->v, n * sizeof *v), memcpy(e, expect, n * sizeof *e);
    qsort(v, n, sizeof *v, cmp_d), qsort(e, n, sizeof *e, cmp_d);
    for (size_t i = 0; i < n; i++) assert_double_equal(v[i], e[i], 1e-9);
    free(v), free(e);
}

static void test_periodic_flows(void **state)
{
    (void)state;
    const char *dir = tu_tmpdir();
    ns_trace_capture m;
    measure(&m, periodic(dir, "p.pcap", 4, 5 * SEC), 16);
    assert_int_equal(m.packets, 20);
    assert_int_equal(m.flows, 4);
    assert_double_equal(m.duration_s, 15.05, 1e-9);
    assert_double_equal(m.flow_rate, 4 / 15.05, 1e-9);
    static const double gaps[] = {5, 5, 5};
    assert_sample(&m.s[NS_TRACE_GAP], gaps, 3);
    assert_int_equal(m.client_hosts, 1);
    assert_int_equal(m.server_hosts, 1);
    assert_double_equal(m.flows_per_client_median, 4, 0);
    assert_int_equal(m.flows_per_client_max, 4);
    assert_double_equal(m.client_ports_per_client, 4, 0);
    static const double rtt[] = {0.010, 0.010, 0.010, 0.010};
    assert_sample(&m.s[NS_TRACE_RTT], rtt, 4);
    double iat[16];
    for (int k = 0; k < 4; k++) iat[4 * k] = 0.010, iat[4 * k + 1] = 0.001, iat[4 * k + 2] = 0.009, iat[4 * k + 3] = 0.030;
    assert_sample(&m.s[NS_TRACE_IAT], iat, 16);
    static const double dur[] = {0.050, 0.050, 0.050, 0.050};
    assert_sample(&m.s[NS_TRACE_DURATION], dur, 4);
    assert_int_equal(m.tcp_packets, 20);
    assert_int_equal(m.ts_packets, 20);
    assert_int_equal(m.ts_backwards, 2);
    assert_int_equal(m.ts_jumps, 1);
    assert_int_equal(m.psh_empty, 1);
    ns_trace_capture_free(&m);

    /* a window of 3 packets: the first two gaps of each flow */
    measure(&m, tu_path(dir, "p.pcap"), 3);
    for (int k = 0; k < 4; k++) iat[2 * k] = 0.010, iat[2 * k + 1] = 0.001;
    assert_sample(&m.s[NS_TRACE_IAT], iat, 8);
    ns_trace_capture_free(&m);
}

/* The clock bounds exactly: 10 kHz plus 10 ms and 1 tick, 1 Hz less 10 ms and 1 tick. */
static void test_tsval_bounds(void **state)
{
    (void)state;
    const char *dir = tu_tmpdir(), *path = tu_path(dir, "ts.pcap");
    cap c;
    cap_open(&c, path);
    int64_t t = 50 * SEC;
    uint32_t v = 4294967000u; /* wraps past 2^32: still forwards */
    tcp(&c, t, CLIENT, 40000, SERVER, 443, ACK, 10, 1, v);
    tcp(&c, t + 100 * MS, CLIENT, 40000, SERVER, 443, ACK, 10, 1, v + 1101);        /* 10000 (0.1 + 0.01) + 1: good */
    tcp(&c, t + 200 * MS, CLIENT, 40000, SERVER, 443, ACK, 10, 1, v + 1101 + 1102); /* one tick more: a jump */
    tcp(&c, t + 5200 * MS, CLIENT, 40000, SERVER, 443, ACK, 10, 1, v + 2203 + 4);   /* 5 s on, 4 ticks: >= 3.99 */
    tcp(&c, t + 15200 * MS, CLIENT, 40000, SERVER, 443, ACK, 10, 1, v + 2207 + 8);  /* 10 s, 8 ticks: < 8.99, stalled */
    tcp(&c, t + 15300 * MS, CLIENT, 40000, SERVER, 443, ACK, 10, 0, 0);             /* no option: not counted */
    tcp(&c, t + 15400 * MS, SERVER, 443, CLIENT, 40000, ACK, 0, 1, 7);              /* the other side's own clock */
    tcp(&c, t + 15500 * MS, SERVER, 443, CLIENT, 40000, ACK, 0, 1, 6);              /* backwards */
    cap_close(&c);
    ns_trace_capture m;
    measure(&m, path, 16);
    assert_int_equal(m.tcp_packets, 8);
    assert_int_equal(m.ts_packets, 7);
    assert_int_equal(m.ts_jumps, 2);
    assert_int_equal(m.ts_backwards, 1);
    assert_int_equal(m.psh_empty, 0);
    assert_int_equal(m.s[NS_TRACE_RTT].n, 0); /* no handshake seen */
    ns_trace_capture_free(&m);
}

static void test_udp_only(void **state)
{
    (void)state;
    ns_trace_capture m;
    measure(&m, udp_only(tu_tmpdir(), "u.pcap"), 16);
    assert_int_equal(m.packets, 4);
    assert_int_equal(m.flows, 2);
    assert_double_equal(m.duration_s, 2.1, 1e-9);
    assert_double_equal(m.flow_rate, 2 / 2.1, 1e-9);
    assert_int_equal(m.client_hosts, 1);
    assert_int_equal(m.server_hosts, 2);
    assert_double_equal(m.flows_per_client_median, 2, 0);
    assert_int_equal(m.flows_per_client_max, 2);
    assert_double_equal(m.client_ports_per_client, 1, 0);
    assert_int_equal(m.tcp_packets, 0);
    assert_int_equal(m.ts_packets, 0);
    assert_int_equal(m.s[NS_TRACE_RTT].n, 0);
    static const double iat[] = {0.1, 0.1}, gap[] = {2}, dur[] = {0.1, 0.1};
    assert_sample(&m.s[NS_TRACE_IAT], iat, 2);
    assert_sample(&m.s[NS_TRACE_GAP], gap, 1);
    assert_sample(&m.s[NS_TRACE_DURATION], dur, 2);
    ns_trace_capture_free(&m);
}

/* An IPv6 connection: its directions come from its whole addresses, so the
 * handshake RTT, the hosts and the clocks are measured as over IPv4 (before,
 * every IPv6 packet read as the server's: no RTT, one clock for both sides). */
static void test_ipv6(void **state)
{
    (void)state;
    const char *path = tu_path(tu_tmpdir(), "v6.pcap");
    cap c;
    cap_open(&c, path);
    tcp6(&c, 1000 * SEC, 1, 40000, 2, 443, SYN, 0, 5000);
    tcp6(&c, 1000 * SEC + 10 * MS, 2, 443, 1, 40000, SYN | ACK, 0, 900000);
    tcp6(&c, 1000 * SEC + 11 * MS, 1, 40000, 2, 443, ACK, 0, 5011);
    tcp6(&c, 1000 * SEC + 20 * MS, 1, 40000, 2, 443, PSH | ACK, 100, 5020);
    tcp6(&c, 1000 * SEC + 50 * MS, 2, 443, 1, 40000, ACK, 0, 900050);
    cap_close(&c);
    ns_trace_capture m;
    measure(&m, path, 16);
    assert_int_equal(m.packets, 5);
    assert_int_equal(m.flows, 1);
    assert_int_equal(m.client_hosts, 1);
    assert_int_equal(m.server_hosts, 1);
    static const double rtt[] = {0.010};
    assert_sample(&m.s[NS_TRACE_RTT], rtt, 1);
    assert_int_equal(m.tcp_packets, 5);
    assert_int_equal(m.ts_packets, 5);
    assert_int_equal(m.ts_backwards, 0);
    assert_int_equal(m.ts_jumps, 0);
    assert_int_equal(m.psh_empty, 0);
    ns_trace_capture_free(&m);
}

static void test_empty_and_one_packet(void **state)
{
    (void)state;
    const char *dir = tu_tmpdir();
    cap c;
    cap_open(&c, tu_path(dir, "empty.pcap"));
    cap_close(&c);
    ns_trace_capture m;
    measure(&m, tu_path(dir, "empty.pcap"), 16);
    assert_int_equal(m.packets, 0);
    assert_int_equal(m.flows, 0);
    assert_double_equal(m.duration_s, 0, 0);
    assert_true(isnan(m.flow_rate));
    assert_int_equal(m.client_hosts, 0);
    assert_true(isnan(m.flows_per_client_median));
    assert_true(isnan(m.client_ports_per_client));
    for (int s = 0; s < NS_TRACE_SAMPLES; s++) assert_int_equal(m.s[s].n, 0);
    ns_trace_capture_free(&m);

    cap_open(&c, tu_path(dir, "one.pcap"));
    tcp(&c, SEC, CLIENT, 40000, SERVER, 80, SYN, 0, 1, 1);
    cap_close(&c);
    measure(&m, tu_path(dir, "one.pcap"), 16);
    assert_int_equal(m.packets, 1);
    assert_int_equal(m.flows, 1);
    assert_true(isnan(m.flow_rate)); /* a capture of no duration has no rate */
    assert_int_equal(m.client_hosts, 1);
    assert_int_equal(m.server_hosts, 1);
    assert_double_equal(m.client_ports_per_client, 1, 0);
    assert_int_equal(m.s[NS_TRACE_GAP].n, 0);
    assert_int_equal(m.s[NS_TRACE_IAT].n, 0);
    assert_int_equal(m.s[NS_TRACE_RTT].n, 0);
    static const double dur[] = {0};
    assert_sample(&m.s[NS_TRACE_DURATION], dur, 1);
    assert_int_equal(m.ts_packets, 1);
    assert_int_equal(m.ts_backwards + m.ts_jumps, 0);
    ns_trace_capture_free(&m);

    /* not a capture: an error naming the file */
    assert_int_equal(tu_write_file(tu_path(dir, "bad.pcap"), "not a pcap at all", 17), 0);
    ns_trace_opts o;
    ns_trace_opts_init(&o);
    assert_true(ns_trace_measure(&m, tu_path(dir, "bad.pcap"), &o) < 0);
    assert_non_null(strstr(ns_errmsg(), "bad.pcap"));
}

static void test_ks_and_median(void **state)
{
    (void)state;
    /* F_a - F_b after 1: .25; 2: .5; 3: .75 - .2; 4: 1 - .4 = .6 (the sup); 5..7 falls */
    static const double a[] = {1, 2, 3, 4}, b[] = {3, 4, 5, 6, 7};
    assert_double_equal(ns_trace_ks(a, 4, b, 5), 0.6, 1e-12);
    assert_double_equal(ns_trace_ks(b, 5, a, 4), 0.6, 1e-12);
    /* ties across the samples are one step, not two */
    static const double c[] = {1, 2}, d[] = {1, 2};
    assert_double_equal(ns_trace_ks(c, 2, d, 2), 0, 0);
    static const double e[] = {1, 1, 1, 2}, f[] = {1, 2, 2, 2};
    assert_double_equal(ns_trace_ks(e, 4, f, 4), 0.5, 1e-12);
    static const double one[] = {1}, ones[] = {1, 1, 1};
    assert_double_equal(ns_trace_ks(one, 1, ones, 3), 0, 0);
    assert_double_equal(ns_trace_ks(ones, 3, one, 1), 0, 0);
    static const double g[] = {10, 11};
    assert_double_equal(ns_trace_ks(a, 4, g, 2), 1, 0);
    assert_true(isnan(ns_trace_ks(a, 4, g, 0)));
    assert_double_equal(ns_trace_median(a, 4), 2.5, 0);
    assert_double_equal(ns_trace_median(b, 5), 5, 0);
    assert_true(isnan(ns_trace_median(a, 0)));
}

/* Tables of captures, per class and side, and the outputs. */
static void test_report(void **state)
{
    (void)state;
    const char *dir = tu_tmpdir();
    periodic(dir, "p5.pcap", 4, 5 * SEC);
    periodic(dir, "p2.pcap", 3, 2 * SEC);
    udp_only(dir, "u.pcap");
    const char *real = "path\tkind\tsplit\np5.pcap\tweb\ttrain\np2.pcap\tweb\ttrain\nu.pcap\tdns\ttrain\n"
                       "p5.pcap\tweb\ttest\n";
    /* the synthetic "web" capture is the UDP one: every gap longer than any real one */
    const char *synth = "path\tkind\nu.pcap\tweb\n";
    assert_int_equal(tu_write_file(tu_path(dir, "real.tsv"), real, strlen(real)), 0);
    assert_int_equal(tu_write_file(tu_path(dir, "synth.tsv"), synth, strlen(synth)), 0);
    ns_trace_source src[NS_EVAL_SIDES] = {
        {tu_path(dir, "real.tsv"), "train"}, {tu_path(dir, "real.tsv"), "test"}, {tu_path(dir, "synth.tsv"), NULL}};
    ns_trace_opts o;
    ns_trace_opts_init(&o);
    o.threads = 1;
    ns_trace_report r;
    assert_int_equal(ns_trace_run(&r, src, "kind", &o), NS_OK);
    assert_int_equal(r.n_captures, 5);
    assert_int_equal(r.n_levels, 1);
    const ns_trace_level *L = &r.levels[0];
    assert_string_equal(L->name, "kind");
    assert_int_equal(L->n_classes, 2);
    assert_string_equal(L->classes[0], "dns");
    assert_string_equal(L->classes[1], "web");
    const ns_trace_class *web = &L->side[NS_EVAL_TRAIN][1];
    assert_int_equal(web->captures, 2);
    assert_int_equal(web->flows, 7);
    assert_int_equal(web->packets, 35);
    /* medians across the two captures: rates 4/15.05 and 3/4.05 */
    assert_double_equal(web->flow_rate, (4 / 15.05 + 3 / 4.05) / 2, 1e-9);
    assert_double_equal(web->flows_per_client_median, 3.5, 0);
    assert_double_equal(web->client_ports_per_client, 3.5, 0);
    /* pooled: gaps 5 5 5 2 2 */
    assert_int_equal(web->pooled[NS_TRACE_GAP].n, 5);
    assert_double_equal(web->pooled_median[NS_TRACE_GAP], 5, 1e-9);
    assert_double_equal(web->capture_median[NS_TRACE_GAP], 3.5, 1e-9);
    assert_double_equal(web->pooled_median[NS_TRACE_RTT], 0.010, 1e-9);
    assert_int_equal(web->ts_backwards, 3);
    assert_int_equal(web->ts_jumps, 1);
    assert_int_equal(web->psh_empty, 2);
    assert_int_equal(web->tcp_packets, 35);
    const ns_trace_class *dns = &L->side[NS_EVAL_TRAIN][0];
    assert_int_equal(dns->captures, 1);
    assert_int_equal(dns->tcp_packets, 0);
    assert_true(isnan(dns->pooled_median[NS_TRACE_RTT]));
    assert_int_equal(L->side[NS_EVAL_TEST][0].captures, 0);
    assert_int_equal(L->side[NS_EVAL_TEST][1].captures, 1);
    assert_int_equal(L->side[NS_EVAL_SYNTH][1].captures, 1);
    /* KS of the inter-arrival times: the test capture is one of the two
     * training ones (16 of its 28 gaps; the other's 12 the same values):
     * the same distribution; the synthetic gaps are all longer */
    assert_double_equal(L->ks_test[1], 0, 1e-12);
    assert_double_equal(L->ks_synth[1], 1, 0);
    assert_true(isnan(L->ks_test[0]));
    assert_true(isnan(L->ks_synth[0]));

    /* the outputs name every class and side, and JSON parses */
    char *buf = NULL;
    size_t len = 0;
    FILE *fp = open_memstream(&buf, &len);
    ns_trace_print(&r, fp);
    fclose(fp);
    assert_non_null(strstr(buf, "web            train"));
    assert_non_null(strstr(buf, "synth"));
    free(buf);
    const char *json = tu_path(dir, "t.json");
    fp = fopen(json, "w");
    fputs("{\n", fp);
    ns_trace_json_member(&r, NULL, fp);
    fputs("\n}\n", fp);
    fclose(fp);
    if (tu_have_program("python3"))
        assert_int_equal(tu_system("python3 -c 'import json,sys; t = json.load(open(sys.argv[1]))[\"trace\"];"
                                   " c = t[\"levels\"][0][\"classes\"][1];"
                                   " assert c[\"class\"] == \"web\" and c[\"ks_iat_synth\"] == 1, c;"
                                   " assert c[\"train\"][\"rtt_s\"][\"median\"] == 0.01, c;"
                                   " assert c[\"train\"][\"psh_empty\"] == 2 and len(t[\"captures\"]) == 5' %s",
                                   json),
                         0);
    ns_trace_report_free(&r);

    /* a label column the table lacks, a missing train side */
    assert_int_equal(ns_trace_run(&r, src, "device", &o), NS_EFORMAT);
    assert_non_null(strstr(ns_errmsg(), "no column 'device'"));
    ns_trace_source none[NS_EVAL_SIDES] = {{NULL, NULL}};
    assert_int_equal(ns_trace_run(&r, none, "kind", &o), NS_EARG);
}

/* `netsynth eval` prints and writes the trace section; --no-trace leaves it out. */
static void test_eval_command(void **state)
{
    (void)state;
    const char *dir = tu_tmpdir();
    periodic(dir, "p5.pcap", 4, 5 * SEC);
    periodic(dir, "p2.pcap", 3, 2 * SEC);
    udp_only(dir, "u.pcap");
    udp_only(dir, "u2.pcap");
    const char *real = "path\tkind\tsplit\np5.pcap\tweb\ttrain\nu.pcap\tdns\ttrain\np2.pcap\tweb\ttest\nu2.pcap\tdns\ttest\n";
    assert_int_equal(tu_write_file(tu_path(dir, "real.tsv"), real, strlen(real)), 0);
    const char *bin = tu_netsynth_bin();
    assert_int_equal(tu_system("%s eval --real %s --label kind --trees 5 --no-netflow --json %s --html %s > %s", bin,
                               tu_path(dir, "real.tsv"), tu_path(dir, "r.json"), tu_path(dir, "r.html"),
                               tu_path(dir, "out.txt")),
                     0);
    assert_int_equal(tu_system("grep -q '^  web  *train  *1  *4 ' %s && grep -q '^  *test  *1  *3 ' %s",
                               tu_path(dir, "out.txt"), tu_path(dir, "out.txt")),
                     0);
    assert_int_equal(tu_system("grep -q '<h2>Traces</h2>' %s", tu_path(dir, "r.html")), 0);
    if (tu_have_program("python3"))
        assert_int_equal(tu_system("python3 -c 'import json,sys; t = json.load(open(sys.argv[1]))[\"trace\"];"
                                   " assert t[\"window\"] == 16 and len(t[\"captures\"]) == 4' %s",
                                   tu_path(dir, "r.json")),
                         0);
    assert_int_equal(tu_system("%s eval --real %s --label kind --trees 5 --no-netflow --no-trace --json %s > %s", bin,
                               tu_path(dir, "real.tsv"), tu_path(dir, "n.json"), tu_path(dir, "n.txt")),
                     0);
    assert_int_equal(tu_system("grep -q 'traces skipped: not asked for' %s && grep -q '\"note\": \"traces skipped' %s",
                               tu_path(dir, "n.txt"), tu_path(dir, "n.json")),
                     0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_periodic_flows),      cmocka_unit_test(test_tsval_bounds),
        cmocka_unit_test(test_udp_only),            cmocka_unit_test(test_empty_and_one_packet),
        cmocka_unit_test(test_ipv6),
        cmocka_unit_test(test_ks_and_median),       cmocka_unit_test(test_report),
        cmocka_unit_test(test_eval_command),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    tu_cleanup();
    return rc;
}
