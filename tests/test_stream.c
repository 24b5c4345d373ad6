/* test_stream.c: flows generated and written as a stream (issue 15), in
 * memory bounded by the model's window: repair in parts carries a flow's
 * state across window boundaries exactly; the rounds of ns_generate_stream
 * are ns_generate_many's flows, window by window, ending exactly at a
 * window's end too; a streamed capture is the capture written from memory,
 * the same bytes, for a model whose flows fit its window; and one long flow
 * keeps no more than a window of packets waiting. */
#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "netsynth/capture.h"
#include "netsynth/dataset.h"
#include "netsynth/error.h"
#include "netsynth/fileio.h"
#include "netsynth/gen_write.h"
#include "netsynth/generate.h"
#include "netsynth/modelfile.h"
#include "netsynth/nprint.h"
#include "netsynth/repair.h"
#include "netsynth/train.h"

enum { W = NS_NP_MODEL_WIDTH, N = 40 };

/* Row k of a TCP flow: handshake, then data both ways with a timestamp
 * option (NOP NOP TS), an RST at row `rst` (-1: none). */
static void tcp_row(int8_t *row, int k, int rst)
{
    int back = k % 3 == 1;
    memset(row, -1, W);
    ns_nprint_put(row, NS_NPF_IPV4_VER, 4), ns_nprint_put(row, NS_NPF_IPV4_HL, 5), ns_nprint_put(row, NS_NPF_IPV4_TOS, 0);
    ns_nprint_put(row, NS_NPF_IPV4_TL, 52 + (k > 2 ? 100 + 7 * (uint32_t)k : 0));
    ns_nprint_put(row, NS_NPF_IPV4_ID, (uint32_t)k * 3);
    ns_nprint_bits_put(row, NS_NP_COL_IPV4_RBIT, 3, 2), ns_nprint_put(row, NS_NPF_IPV4_FOFF, 0);
    ns_nprint_put(row, NS_NPF_IPV4_TTL, 64), ns_nprint_put(row, NS_NPF_IPV4_PROTO, 6);
    ns_nprint_put(row, NS_NPF_IPV4_CKSUM, 0);
    ns_nprint_put(row, NS_NPF_TCP_SPRT, back ? 443 : 50000), ns_nprint_put(row, NS_NPF_TCP_DPRT, back ? 50000 : 443);
    ns_nprint_put(row, NS_NPF_TCP_SEQ, back ? 9000 : 1000), ns_nprint_put(row, NS_NPF_TCP_ACKN, 77);
    ns_nprint_put(row, NS_NPF_TCP_DOFF, 8), ns_nprint_put(row, NS_NPF_TCP_RES, 0);
    int flags = k == 0 ? 0x002 : k == 1 ? 0x012 : k == rst ? 0x004 : 0x018;
    ns_nprint_bits_put(row, NS_NP_COL_TCP_NS, 9, (uint64_t)flags);
    ns_nprint_put(row, NS_NPF_TCP_WSIZE, 501), ns_nprint_put(row, NS_NPF_TCP_CKSUM, 0);
    ns_nprint_put(row, NS_NPF_TCP_URP, 0);
    const uint8_t opt[12] = {1, 1, 8, 10, 0, 0, 0x10, (uint8_t)k, 0, 0, 0, 0};
    for (int j = 0; j < 12; j++) ns_nprint_bits_put(row, NS_NP_COL_TCP_OPT + 8 * j, 8, opt[j]);
}

static void repaired_equal(const ns_repair_out *a, const ns_repair_out *b)
{
    assert_int_equal(a->n_pkts, b->n_pkts);
    for (size_t i = 0; i < a->n_pkts; i++) {
        assert_int_equal(a->pkts[i].ts_ns, b->pkts[i].ts_ns);
        assert_int_equal(a->pkts[i].len, b->pkts[i].len);
        assert_memory_equal(a->bytes + a->pkts[i].off, b->bytes + b->pkts[i].off, a->pkts[i].len);
    }
}

/* A flow cut into parts anywhere past its handshake is repaired as it is in
 * one part, byte for byte: sequence and acknowledgement numbers, TSvals,
 * times, IP IDs (a planned counter) and payload bytes run on across the
 * cuts; an RST with more than two rows after it in the flow (its total, not
 * its part) is taken for an ACK, and one nearer the end ends the flow for the
 * parts after it. */
static void test_repair_in_parts_equals_whole(void **state)
{
    (void)state;
    int8_t *rows = malloc((size_t)N * W);
    uint8_t dir[N];
    int64_t iat[N];
    static const int cuts[][5] = {{3, 37}, {8, 6, 6, 6, 14}, {20, 1, 1, 18}, {39, 1}};
    ns_repair_plan plan = {.start_ns = 1700000000000000000ll, .client = 3, .server = 5, .client_port = 40001,
                           .ttl = {64, 57}, .ipid = {NS_REPAIR_IPID_COUNTER, NS_REPAIR_IPID_RANDOM},
                           .ipid_first = {100, 0}, .ts_first = {5000, 90000}, .ts_hz = {1000, 250}};
    for (int variant = 0; variant < 4; variant++) {
        int rst = variant == 2 ? 17 : variant == 3 ? N - 2 : -1, ends = variant == 3;
        for (int k = 0; k < N; k++) tcp_row(rows + (size_t)k * W, k, rst), dir[k] = k % 3 == 1, iat[k] = 1500000 + k * 7919;
        ns_repair_opts ro;
        ns_repair_opts_init(&ro);
        ro.payload = NS_REPAIR_PAYLOAD_RANDOM, ro.seed = 11;
        if (variant == 1) ro.plan = &plan, ro.n_plan = 1;
        ns_repair_out whole = {0};
        ns_repair_stats sw = {0};
        assert_int_equal(ns_repair_flow(&ro, 0, rows, dir, iat, N, &whole, &sw), NS_OK);
        assert_true(whole.n_pkts == (ends ? (size_t)rst + 1 : (size_t)N));
        assert_int_equal(sw.rst_cleared, variant == 2);
        for (size_t c = 0; c < sizeof cuts / sizeof cuts[0]; c++) {
            ns_repair_out parts = {0};
            ns_repair_stats sp = {0};
            ns_repair_cont cont;
            memset(&cont, 0, sizeof cont);
            cont.total = N; /* as streaming knows it */
            int at = 0;
            for (int j = 0; j < 5 && cuts[c][j]; j++) {
                int n = cuts[c][j];
                assert_int_equal(ns_repair_flow_part(&ro, 0, rows + (size_t)at * W, dir + at, iat + at, (size_t)n, &cont,
                                                     &parts, &sp),
                                 NS_OK);
                at += n;
                assert_int_equal(cont.rows, (uint64_t)at);
                assert_int_equal(cont.ended, (ends && at > rst) || (variant == 2 && at == N)); /* an RST asked for ends it */
            }
            assert_int_equal(at, N);
            repaired_equal(&whole, &parts);
            assert_int_equal(cont.ts_ns, whole.pkts[whole.n_pkts - 1].ts_ns);
            assert_memory_equal(&sw, &sp, sizeof sw);
            ns_repair_out_free(&parts);
        }
        ns_repair_out_free(&whole);
    }
    free(rows);
}

/* A long flow's service (transport, server port) is found in time linear in
 * its rows: the server-port vote counted pairs of rows, and a 60,000-row
 * flow took seconds of CPU (100,000 rows: a minute, in generate's memory
 * path and the trace plan). Ties go to the port named first, as before. */
static void test_service_of_a_long_flow(void **state)
{
    (void)state;
    enum { ROWS = 60000 };
    int8_t *rows = malloc((size_t)ROWS * W);
    uint8_t *dir = malloc(ROWS);
    for (int k = 0; k < ROWS; k++) {
        tcp_row(rows + (size_t)k * W, k + 3, -1);
        dir[k] = 0;
        ns_nprint_put(rows + (size_t)k * W, NS_NPF_TCP_DPRT, k < 100 ? 80 : k < 200 ? 8080 : 443);
    }
    uint8_t proto;
    uint16_t port;
    clock_t t0 = clock();
    assert_int_equal(ns_repair_flow_service(rows, dir, ROWS, &proto, &port), NS_OK);
    double cpu = (double)(clock() - t0) / CLOCKS_PER_SEC;
    print_message("service of %d rows: %.3f s of CPU\n", ROWS, cpu);
    assert_int_equal(proto, NS_PROTO_TCP);
    assert_int_equal(port, 443);
    assert_true(cpu < 1.0);
    /* 100 rows name 80, then 100 name 8080: a tie, the first named wins. */
    assert_int_equal(ns_repair_flow_service(rows, dir, 200, &proto, &port), NS_OK);
    assert_int_equal(port, 80);
    assert_int_equal(ns_repair_flow_service(rows + 50 * (size_t)W, dir, 150, &proto, &port), NS_OK);
    assert_int_equal(port, 8080);
    free(rows), free(dir);
}

/* The tiny model of test_engine's web/dns flows: 3 packets each, a window of 8. */
static const char *tiny_model(const char *dir)
{
    static const char *attr_names[] = {"kind"}, *tokens[] = {"kind=dns", "kind=web"}, *files[] = {"made-in-test"};
    static const uint32_t attr_first[] = {0, 2};
    enum { F = 16, L = 3, RB = (W + 3) / 4 };
    ns_ds_flow flows[F];
    int32_t labels[F];
    int64_t iat[F * L];
    uint8_t d[F * L];
    uint8_t *bits = calloc((size_t)F * L, RB);
    int8_t row[W];
    memset(flows, 0, sizeof flows);
    for (int f = 0; f < F; f++) {
        int web = f & 1;
        flows[f].first = (uint64_t)f * L, flows[f].n_packets = flows[f].seen = L, flows[f].proto = web ? 6 : 17;
        labels[f] = web;
        for (int k = 0; k < L; k++) {
            if (web) tcp_row(row, k, -1);
            else {
                memset(row, -1, W);
                ns_nprint_put(row, NS_NPF_IPV4_VER, 4), ns_nprint_put(row, NS_NPF_IPV4_HL, 5);
                ns_nprint_put(row, NS_NPF_IPV4_TL, 40), ns_nprint_put(row, NS_NPF_IPV4_TTL, 128);
                ns_nprint_put(row, NS_NPF_IPV4_PROTO, 17);
                ns_nprint_put(row, NS_NPF_UDP_SPORT, k == 1 ? 53 : 40000), ns_nprint_put(row, NS_NPF_UDP_DPORT, k == 1 ? 40000 : 53);
                ns_nprint_put(row, NS_NPF_UDP_LEN, 20), ns_nprint_put(row, NS_NPF_UDP_CKSUM, 0);
            }
            ns_dataset_pack_row(row, W, bits + (size_t)(f * L + k) * RB);
            iat[f * L + k] = k ? 2000000 : 0;
            d[f * L + k] = k == 1;
        }
    }
    ns_dataset ds = {.width = W, .row_bytes = RB, .max_packets = 8, .n_flows = F, .n_packets = F * L, .n_attrs = 1,
                     .n_tokens = 2, .n_files = 1, .attr_names = attr_names, .attr_first = attr_first, .tokens = tokens,
                     .files = files, .flows = flows, .labels = labels, .iat_ns = iat, .dir = d, .bits = bits};
    const char *path = tu_train_tiny(&ds, dir, 30);
    free(bits);
    return path;
}

/* A sink that records each round's rows into flows laid out whole, and the
 * rows each round gave. */
typedef struct rounds {
    ns_gen_flows g;
    size_t n_rounds, most;     /* rounds seen, most rows given in one */
    uint32_t per_round[8];     /* flow 0's rows in each of the first rounds */
    ns_gen_capture *cap;       /* NULL, or passed each round too */
} rounds;

static int record_round(void *ctx, const ns_gen_round *r)
{
    rounds *x = ctx;
    ns_gen_flows *g = &x->g;
    if (!r->index) {
        assert_int_equal(x->n_rounds, 0);
        g->n_flows = r->n;
        g->len = calloc(r->n, sizeof *g->len), g->first = calloc(r->n, sizeof *g->first);
        for (size_t i = 0; i < r->n; i++) g->first[i] = g->n_rows, g->len[i] = r->whole[i], g->n_rows += r->whole[i];
        g->rows = malloc(g->n_rows * W), g->dir = malloc(g->n_rows), g->iat_ns = malloc(g->n_rows * sizeof *g->iat_ns);
    }
    assert_int_equal(r->index, x->n_rounds);
    size_t rows = 0;
    for (size_t i = 0; i < r->n; i++) {
        const ns_gen_flows *v = r->win;
        uint32_t n = v->len[i];
        assert_true(r->done[i] + n <= r->whole[i]);
        memcpy(g->rows + (g->first[i] + r->done[i]) * W, v->rows + v->first[i] * W, (size_t)n * W);
        memcpy(g->dir + g->first[i] + r->done[i], v->dir + v->first[i], n);
        memcpy(g->iat_ns + g->first[i] + r->done[i], v->iat_ns + v->first[i], n * sizeof(int64_t));
        rows += n;
    }
    if (x->n_rounds < 8) x->per_round[x->n_rounds] = r->win->len[0];
    if (rows > x->most) x->most = rows;
    x->n_rounds++;
    return x->cap ? ns_gen_capture_round(x->cap, r) : NS_OK;
}

static void flows_equal(const ns_gen_flows *a, const ns_gen_flows *b)
{
    assert_int_equal(a->n_flows, b->n_flows);
    assert_int_equal(a->n_rows, b->n_rows);
    for (size_t i = 0; i < a->n_flows; i++) {
        assert_int_equal(a->len[i], b->len[i]);
        assert_memory_equal(a->rows + a->first[i] * W, b->rows + b->first[i] * W, (size_t)a->len[i] * W);
        assert_memory_equal(a->dir + a->first[i], b->dir + b->first[i], a->len[i]);
        assert_memory_equal(a->iat_ns + a->first[i], b->iat_ns + b->first[i], a->len[i] * sizeof(int64_t));
    }
}

static void files_equal(const char *a, const char *b)
{
    uint8_t *x, *y;
    size_t nx, ny;
    assert_int_equal(ns_read_file(a, &x, &nx), NS_OK);
    assert_int_equal(ns_read_file(b, &y, &ny), NS_OK);
    assert_int_equal(nx, ny);
    assert_memory_equal(x, y, nx);
    free(x), free(y);
}

/* Generate n flows of `length` (0: the length head's) both ways: collected
 * (ns_generate_many, then ns_gen_write_capture to a.pcap) and streamed
 * (ns_generate_stream into ns_gen_capture's b.pcap, the rounds recorded). */
static void both_ways(const ns_modelfile *m, const char *dir, size_t n, int length, rounds *x, ns_gen_flows *g)
{
    ns_gen_opts go;
    ns_gen_opts_init(&go);
    go.sampler.steps = 4, go.length = length, go.seed = 5;
    int32_t ids[1], each[64];
    assert_int_equal(ns_gen_parse_prompt(m, "kind=web", ids), NS_OK);
    for (size_t i = 0; i < n; i++) each[i] = ids[0];
    memset(g, 0, sizeof *g);
    assert_int_equal(ns_generate_many(m, &go, each, n, 0, g), NS_OK);
    ns_repair_opts ro;
    ns_repair_opts_init(&ro);
    uint64_t written;
    ns_repair_stats sa = {0}, sb = {0};
    assert_int_equal(ns_gen_write_capture(g, 0, g->n_flows, &ro, 0, NS_GEN_PCAP, tu_path(dir, "a.pcap"), &written, &sa),
                     NS_OK);
    ns_gen_capture cap = {.st = &sb};
    memset(x, 0, sizeof *x);
    x->cap = &cap;
    assert_int_equal(ns_gen_capture_open(&cap, &ro, NS_GEN_PCAP, tu_path(dir, "b.pcap")), NS_OK);
    assert_int_equal(ns_generate_stream(m, &go, each, n, 0, record_round, x), NS_OK);
    assert_int_equal(ns_gen_capture_close(&cap, 1), NS_OK);
    assert_int_equal(cap.written, written);
    assert_int_equal(cap.rows, g->n_rows);
    x->cap = NULL;
    flows_equal(g, &x->g);
    assert_memory_equal(&sa, &sb, sizeof sa);
    files_equal(tu_path(dir, "a.pcap"), tu_path(dir, "b.pcap"));
    print_message("%zu flows of %d: %zu rounds, at most %zu rows a round, %zu packets waited at most\n", n, length,
                  x->n_rounds, x->most, cap.pending_max);
}

/* Streamed generation gives the flows and the capture that generation in
 * memory gives, byte for byte: for a model whose training flows (3 packets)
 * are shorter than its window (8), in one round; for flows of 20 packets,
 * in windows of rows 0-7, 6-13 and 12-19 (8, then 6 new rows, the flow
 * ending exactly at the end of the third window); for flows of exactly the
 * window, in one round. */
static void test_stream_equals_memory(void **state)
{
    (void)state;
    const char *dir = tu_tmpdir();
    ns_modelfile m;
    assert_int_equal(ns_modelfile_load(&m, tiny_model(dir)), NS_OK);
    assert_int_equal(m.cfg.max_packets, 8);
    assert_int_equal(m.cfg.len_bins, 0);
    rounds x;
    ns_gen_flows g;
    both_ways(&m, dir, 12, 0, &x, &g); /* the length head's lengths: within the window */
    assert_int_equal(x.n_rounds, 1);
    for (size_t i = 0; i < g.n_flows; i++) assert_true(g.len[i] >= 1 && g.len[i] <= 8);
    ns_gen_flows_free(&g), ns_gen_flows_free(&x.g);

    both_ways(&m, dir, 6, 20, &x, &g);
    assert_int_equal(x.n_rounds, 3);
    assert_int_equal(x.per_round[0], 8), assert_int_equal(x.per_round[1], 6), assert_int_equal(x.per_round[2], 6);
    assert_int_equal(x.most, 6 * 8);
    ns_gen_flows_free(&g), ns_gen_flows_free(&x.g);

    both_ways(&m, dir, 5, 8, &x, &g);
    assert_int_equal(x.n_rounds, 1);
    ns_gen_flows_free(&g), ns_gen_flows_free(&x.g);

    both_ways(&m, dir, 3, 21, &x, &g); /* one row into a fourth window */
    assert_int_equal(x.n_rounds, 4);
    assert_int_equal(x.per_round[3], 1);
    ns_gen_flows_free(&g), ns_gen_flows_free(&x.g);
    ns_modelfile_free(&m);
}

/* One flow of 3,000 packets, streamed: every round holds at most a window
 * of rows, and at most a window of packets ever waits to be written (the
 * flow's own, up to its latest); every packet reaches the file in order. */
static void test_long_flow_in_bounded_memory(void **state)
{
    (void)state;
    const char *dir = tu_tmpdir();
    ns_modelfile m;
    assert_int_equal(ns_modelfile_load(&m, tiny_model(dir)), NS_OK);
    ns_gen_opts go;
    ns_gen_opts_init(&go);
    go.sampler.steps = 2, go.length = 3000;
    int32_t ids[1];
    assert_int_equal(ns_gen_parse_prompt(&m, "kind=web", ids), NS_OK);
    ns_repair_opts ro;
    ns_repair_opts_init(&ro);
    ns_gen_capture cap = {0};
    assert_int_equal(ns_gen_capture_open(&cap, &ro, NS_GEN_PCAP, tu_path(dir, "long.pcap")), NS_OK);
    rounds x;
    memset(&x, 0, sizeof x);
    x.cap = &cap;
    assert_int_equal(ns_generate_stream(&m, &go, ids, 1, 0, record_round, &x), NS_OK);
    assert_int_equal(ns_gen_capture_close(&cap, 1), NS_OK);
    assert_int_equal(x.n_rounds, 1 + (3000 - 8 + 5) / 6);
    assert_true(x.most <= 8);
    assert_true(cap.pending_max <= 8);
    assert_int_equal(cap.rows, 3000);
    ns_capture *c;
    assert_int_equal(ns_capture_open(&c, tu_path(dir, "long.pcap"), NULL), NS_OK);
    ns_frame fr;
    uint64_t n = 0;
    int64_t last = 0;
    while (ns_capture_next(c, &fr) == 1) {
        assert_true(!n || fr.ts_ns > last);
        last = fr.ts_ns, n++;
    }
    ns_capture_close(c);
    assert_int_equal(n, cap.written);
    assert_true(n > 8 && n <= 3000); /* rows after an RST are dropped */
    ns_gen_flows_free(&x.g);
    ns_modelfile_free(&m);
}

/* Issue 15: a model trained on whole TCP flows longer than its window (12 to
 * 35 packets, window 8) that all end FIN, FIN, ACK closes the flows it
 * generates window by window: the window that ends a flow was drawn in
 * training as generation draws it (shorter than the window), so the model
 * learns where a flow ends. (When every continuation window it trained on
 * was a full window, it never saw a flow end inside one: 0 of the flows
 * ended with a FIN.) */
static void test_long_flows_close_as_trained(void **state)
{
    (void)state;
    const char *dir = tu_tmpdir();
    static const char *attr_names[] = {"kind"}, *tokens[] = {"kind=web"}, *files[] = {"made-in-test"};
    static const uint32_t attr_first[] = {0, 1};
    enum { F = 48, MAXL = 35, RB = (W + 3) / 4 };
    ns_ds_flow flows[F];
    int32_t labels[F];
    int64_t *iat = malloc(F * MAXL * sizeof *iat);
    uint8_t *d = malloc(F * MAXL), *bits = calloc((size_t)F * MAXL, RB);
    int8_t row[W];
    memset(flows, 0, sizeof flows);
    uint64_t at = 0;
    for (int f = 0; f < F; f++) {
        uint32_t n = 12 + (uint32_t)(f * 7) % 24;
        flows[f].first = at, flows[f].n_packets = flows[f].seen = n, flows[f].proto = 6;
        labels[f] = 0;
        for (uint32_t k = 0; k < n; k++, at++) {
            tcp_row(row, (int)k, -1);
            int back = k == 1 || k == n - 2 || (k > 2 && k < n - 3 && k % 2);
            int flags = k == 0 ? 0x002 : k == 1 ? 0x012 : k + 3 == n || k + 2 == n ? 0x011 : 0x010;
            ns_nprint_bits_put(row, NS_NP_COL_TCP_NS, 9, (uint64_t)flags);
            ns_dataset_pack_row(row, W, bits + at * RB);
            iat[at] = k ? 3000000 : 0;
            d[at] = (uint8_t)back;
        }
    }
    ns_dataset ds = {.width = W, .row_bytes = RB, .max_packets = MAXL, .n_flows = F, .n_packets = at, .n_attrs = 1,
                     .n_tokens = 1, .n_files = 1, .attr_names = attr_names, .attr_first = attr_first, .tokens = tokens,
                     .files = files, .flows = flows, .labels = labels, .iat_ns = iat, .dir = d, .bits = bits};
    const char *ds_path = tu_path(dir, "long.ds");
    assert_int_equal(ns_dataset_write(&ds, ds_path), NS_OK);
    ns_dataset loaded;
    assert_int_equal(ns_dataset_load(&loaded, ds_path), NS_OK);
    ns_train_opts o;
    ns_train_opts_init(&o);
    o.config = "tiny", o.max_packets = 8, o.threads = 1;
    o.st.steps = 1000, o.st.batch = 16, o.st.lr = 3e-3f, o.st.warmup = 20;
    o.st.eval_every = 0, o.st.ckpt_every = 0, o.st.val_frac = 0;
    char out[4096], ckpt[4096];
    snprintf(out, sizeof out, "%s", tu_path(dir, "long.model"));
    snprintf(ckpt, sizeof ckpt, "%s", tu_path(dir, "long.ckpt"));
    o.out_path = out, o.ckpt_path = ckpt;
    ns_train_result res;
    assert_int_equal(ns_train(&loaded, &o, &res), NS_OK);
    ns_modelfile m;
    assert_int_equal(ns_modelfile_load(&m, out), NS_OK);
    assert_true(m.cfg.len_bins > 0);
    ns_gen_opts go;
    ns_gen_opts_init(&go);
    int32_t ids[1] = {0}, each[40];
    for (int i = 0; i < 40; i++) each[i] = ids[0];
    ns_gen_flows g = {0};
    assert_int_equal(ns_generate_many(&m, &go, each, 40, 0, &g), NS_OK);
    int long_flows = 0, closed = 0;
    for (size_t f = 0; f < g.n_flows; f++) {
        if (g.len[f] <= 8) continue;
        long_flows++;
        int fin = 0;
        for (uint32_t k = g.len[f] > 3 ? g.len[f] - 3 : 0; k < g.len[f]; k++) {
            const int8_t *r = g.rows + (g.first[f] + k) * W;
            fin |= r[NS_NP_COL_TCP_FIN] == 1;
        }
        closed += fin;
        if (getenv("NETSYNTH_TEST_VERBOSE")) {
            print_message("flow %zu len %u:", f, g.len[f]);
            for (uint32_t k = 0; k < g.len[f]; k++) {
                const int8_t *r = g.rows + (g.first[f] + k) * W;
                int fl = 0;
                for (int b = 0; b < 8; b++) fl = fl << 1 | (r[NS_NP_COL_TCP_CWR + b] == 1);
                print_message(" %02x%s", fl, g.dir[g.first[f] + k] ? "<" : ">");
            }
            print_message("\n");
        }
    }
    print_message("%d of %d flows past the window end with a FIN in their last 3 rows\n", closed, long_flows);
    assert_true(long_flows >= 20);
    assert_true(closed * 4 >= long_flows);
    ns_gen_flows_free(&g);
    ns_modelfile_free(&m);
    ns_dataset_free(&loaded);
    free(iat), free(d), free(bits);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_repair_in_parts_equals_whole),
        cmocka_unit_test(test_service_of_a_long_flow),
        cmocka_unit_test(test_stream_equals_memory),
        cmocka_unit_test(test_long_flow_in_bounded_memory),
        cmocka_unit_test(test_long_flows_close_as_trained),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    tu_cleanup();
    return rc;
}
