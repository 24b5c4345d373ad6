/* test_distance.c: distribution distances and memorisation on flows with a
 * known answer: identical sets (0), disjoint values (maximal), a shifted
 * field (ranked worst, its EMD the shift), per class, nearest neighbours. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "testutil.h"
#include "netsynth/dataset.h"
#include "netsynth/distance.h"
#include "netsynth/error.h"
#include "netsynth/features.h"
#include "netsynth/rng.h"
#include "netsynth/nprint.h"

#define W NS_NP_MODEL_WIDTH
#define RB ((W + 3) / 4)

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* Sanitizer builds run the big case smaller. */
#if defined(__SANITIZE_ADDRESS__)
#define SPEED_FLOWS 2000
#else
#define SPEED_FLOWS 12000
#endif


/* Flows of TCP packets: flow i has `len` packets (len + 1 for odd i when
 * odd_longer), TTL ttl0 + i % 50 (+ ttl_shift for class-1 flows when
 * shift_class1, else for all), window `wsize`, 1 ms apart; class i % 2. */
typedef struct spec {
    size_t n;
    uint32_t len;
    int odd_longer, ttl_shift, shift_class1;
    uint32_t wsize;
} spec;

typedef struct flows {
    ns_dataset ds;
    ns_ds_flow *flow;
    int64_t *iat;
    uint8_t *dir, *bits;
    int32_t *cls;
    const char *files[1];
} flows;

static void make(flows *h, spec s)
{
    memset(h, 0, sizeof *h);
    size_t cap = s.n * (s.len + 1);
    h->flow = calloc(s.n, sizeof *h->flow);
    h->iat = calloc(cap, sizeof *h->iat);
    h->dir = calloc(cap, 1);
    h->bits = calloc(cap, RB);
    h->cls = malloc(s.n * sizeof *h->cls);
    h->files[0] = "hand";
    int8_t row[W];
    uint64_t np = 0;
    for (size_t i = 0; i < s.n; i++) {
        h->cls[i] = (int32_t)(i % 2);
        h->flow[i].first = np;
        h->flow[i].n_packets = h->flow[i].seen = s.len + (s.odd_longer && (i & 1));
        h->flow[i].proto = 6;
        int shift = s.shift_class1 ? (i % 2 ? s.ttl_shift : 0) : s.ttl_shift;
        for (uint32_t p = 0; p < h->flow[i].n_packets; p++, np++) {
            memset(row, -1, sizeof row);
            memset(row + NS_NP_COL_IPV4, 0, NS_NP_COL_IPV4_OPT - NS_NP_COL_IPV4);
            memset(row + NS_NP_COL_TCP, 0, NS_NP_COL_TCP_OPT - NS_NP_COL_TCP);
            ns_nprint_put(row, NS_NPF_IPV4_VER, 4);
            ns_nprint_put(row, NS_NPF_IPV4_HL, 5);
            ns_nprint_put(row, NS_NPF_IPV4_TL, 40);
            ns_nprint_put(row, NS_NPF_IPV4_PROTO, 6);
            ns_nprint_put(row, NS_NPF_IPV4_TTL, 64 + i % 50 + (uint64_t)shift);
            ns_nprint_put(row, NS_NPF_TCP_DOFF, 5);
            ns_nprint_put(row, NS_NPF_TCP_WSIZE, s.wsize);
            ns_nprint_put(row, NS_NPF_TCP_SPRT, 1000 + i); /* ports are blanked for memorisation */
            h->iat[np] = p ? 1000000 : 0;
            h->dir[np] = p & 1;
            ns_dataset_pack_row(row, W, h->bits + np * RB);
        }
    }
    ns_dataset *ds = &h->ds;
    ds->width = W, ds->row_bytes = RB, ds->max_packets = 64;
    ds->n_flows = s.n, ds->n_packets = np, ds->n_files = 1;
    ds->files = h->files;
    ds->flows = h->flow, ds->iat_ns = h->iat, ds->dir = h->dir, ds->bits = h->bits;
}

static void drop(flows *h)
{
    free(h->flow), free(h->iat), free(h->dir), free(h->bits), free(h->cls);
}

static ns_dist_flows all_of(const flows *h, const char *name)
{
    return (ns_dist_flows){&h->ds, name, NULL, h->ds.n_flows, h->cls};
}

static const ns_dist_field *field(const ns_dist_report *r, const char *name)
{
    for (size_t i = 0; i < r->n_fields; i++)
        if (!strcmp(r->fields[i].name, name)) return &r->fields[i];
    fail_msg("no field %s", name);
    return NULL;
}

/* ---- the measures ---------------------------------------------------------- */

static void test_measures_by_hand(void **state)
{
    (void)state;
    double p[2] = {1, 1}, q[2] = {2, 0}, x[2] = {0, 3};
    ns_dist_value v = ns_dist_measures(p, q, x, 2);
    /* p = (1/2, 1/2), q = (1, 0), m = (3/4, 1/4). */
    double jsd = 0.5 * (0.5 * log2(0.5 / 0.75) + 0.5 * log2(0.5 / 0.25)) + 0.5 * log2(1 / 0.75);
    assert_float_equal(v.jsd, jsd, 1e-12);
    assert_float_equal(v.tv, 0.5, 1e-12);
    assert_float_equal(v.hellinger, sqrt(1 - sqrt(0.5)), 1e-12);
    assert_float_equal(v.emd, 1.5, 1e-12); /* half the mass moves 3 */
    v = ns_dist_measures(p, p, x, 2);
    assert_float_equal(v.jsd, 0, 1e-12);
    assert_float_equal(v.tv, 0, 1e-12);
    assert_float_equal(v.hellinger, 0, 1e-6);
    assert_float_equal(v.emd, 0, 1e-12);
    double a[3] = {1, 0, 0}, b[3] = {0, 0, 5}, xs[3] = {1, 2, 11};
    v = ns_dist_measures(a, b, xs, 3);
    assert_float_equal(v.jsd, 1, 1e-12);
    assert_float_equal(v.tv, 1, 1e-12);
    assert_float_equal(v.hellinger, 1, 1e-12);
    assert_float_equal(v.emd, 10, 1e-12);
    assert_true(isnan(ns_dist_measures(a, b, NULL, 3).emd));
    double zero[3] = {0};
    assert_true(isnan(ns_dist_measures(a, zero, xs, 3).jsd));
}

/* ---- distributions ----------------------------------------------------------- */

static void test_identical_sets_are_zero(void **state)
{
    (void)state;
    flows a, b;
    make(&a, (spec){.n = 200, .len = 3, .odd_longer = 1, .wsize = 512});
    make(&b, (spec){.n = 200, .len = 3, .odd_longer = 1, .wsize = 512});
    ns_dist_flows ra = all_of(&a, "real"), sb = all_of(&b, "synth");
    ns_dist_report r;
    assert_int_equal(ns_dist_compare(&r, &ra, &sb, 2, 16, 0), NS_OK);
    assert_int_equal(r.n_classes, 2);
    for (size_t i = 0; i < r.n_fields; i++) {
        const ns_dist_field *f = &r.fields[i];
        assert_float_equal(f->all.jsd, 0, 1e-12);
        assert_float_equal(f->all.tv, 0, 1e-12);
        assert_float_equal(f->all.hellinger, 0, 1e-6);
        if (f->unit) assert_float_equal(f->all.emd, 0, 1e-12);
        else assert_true(isnan(f->all.emd));
        for (int c = 0; c < 2; c++) assert_float_equal(f->per_class[c].tv, 0, 1e-12);
    }
    const ns_dist_field *len = field(&r, "flow_packets");
    assert_int_equal(len->n_real, 200);
    assert_int_equal(field(&r, "ipv4_ttl")->n_real, 700);
    assert_int_equal(field(&r, "iat")->n_real, 500);
    /* Histograms: ipv4_ttl numeric, 50 values in <= 21 bins; the shares add to 1. */
    const ns_dist_hist *h = &field(&r, "ipv4_ttl")->hist;
    double sr = 0, ss = 0;
    for (int k = 0; k < h->n; k++) sr += h->real[k], ss += h->synth[k];
    assert_true(h->n <= NS_DIST_BARS);
    assert_float_equal(sr, 1, 1e-9);
    assert_float_equal(ss, 1, 1e-9);
    /* udp_len: absent everywhere, one "absent" bar. */
    h = &field(&r, "udp_len")->hist;
    assert_int_equal(h->n, 1);
    assert_string_equal(h->label[0], "absent");
    ns_dist_report_free(&r);
    drop(&a), drop(&b);
}

static void test_shifted_field_ranks_worst(void **state)
{
    (void)state;
    flows a, b;
    make(&a, (spec){.n = 200, .len = 3, .wsize = 512});
    make(&b, (spec){.n = 200, .len = 4, .ttl_shift = 100, .wsize = 512});
    ns_dist_flows ra = all_of(&a, "real"), sb = all_of(&b, "synth");
    ns_dist_report r;
    assert_int_equal(ns_dist_compare(&r, &ra, &sb, 2, 16, 0), NS_OK);
    /* TTL 64..113 against 164..213: disjoint, worst, moved by 100 hops; and the
     * flows one packet longer: flow_packets disjoint too, EMD 1 packet. */
    assert_true(!strcmp(r.fields[0].name, "ipv4_ttl") || !strcmp(r.fields[0].name, "flow_packets"));
    const ns_dist_field *ttl = field(&r, "ipv4_ttl"), *len = field(&r, "flow_packets");
    assert_float_equal(ttl->all.jsd, 1, 1e-12);
    assert_float_equal(ttl->all.tv, 1, 1e-12);
    assert_float_equal(ttl->all.hellinger, 1, 1e-12);
    assert_float_equal(ttl->all.emd, 100, 1e-9);
    assert_string_equal(ttl->unit, "hops");
    assert_float_equal(len->all.emd, 1, 1e-12);
    assert_float_equal(field(&r, "tcp_wsize")->all.jsd, 0, 1e-12);
    assert_true(r.fields[2].all.jsd < 0.2); /* iat: 2 vs 3 gaps of 1 ms per flow: the same */
    ns_dist_report_free(&r);
    drop(&a), drop(&b);
}

static void test_per_class(void **state)
{
    (void)state;
    flows a, b;
    make(&a, (spec){.n = 200, .len = 2, .wsize = 512});
    make(&b, (spec){.n = 200, .len = 2, .ttl_shift = 100, .shift_class1 = 1, .wsize = 512});
    ns_dist_flows ra = all_of(&a, "real"), sb = all_of(&b, "synth");
    ns_dist_report r;
    assert_int_equal(ns_dist_compare(&r, &ra, &sb, 2, 16, 0), NS_OK);
    assert_string_equal(r.fields[0].name, "ipv4_ttl");
    const ns_dist_field *ttl = &r.fields[0];
    assert_float_equal(ttl->per_class[0].jsd, 0, 1e-12);
    assert_float_equal(ttl->per_class[1].jsd, 1, 1e-12);
    assert_float_equal(ttl->per_class[1].emd, 100, 1e-9);
    assert_float_equal(ttl->all.tv, 0.5, 1e-12);
    assert_float_equal(ttl->all.emd, 50, 1e-9);
    /* Without classes on one side: overall only. */
    sb.cls = NULL;
    ns_dist_report_free(&r);
    assert_int_equal(ns_dist_compare(&r, &ra, &sb, 2, 16, 1), NS_OK);
    assert_int_equal(r.n_classes, 0);
    ns_dist_report_free(&r);
    drop(&a), drop(&b);
}

/* ---- memorisation -------------------------------------------------------------- */

static void test_memorisation(void **state)
{
    (void)state;
    flows tr, same, far;
    make(&tr, (spec){.n = 300, .len = 2, .wsize = 0});
    make(&same, (spec){.n = 300, .len = 2, .wsize = 0});
    make(&far, (spec){.n = 300, .len = 2, .wsize = 0xffff});
    ns_dist_flows t = all_of(&tr, "train"), s = all_of(&same, "same"), f = all_of(&far, "far");
    ns_memo_report m;
    /* Identical: every flow copied. The ports differ per flow (i) but are blanked. */
    assert_int_equal(ns_memo_compare(&m, &t, &s, &s, 16, 0), NS_OK);
    assert_float_equal(m.synth_copied, 1, 0);
    assert_float_equal(m.test_copied, 1, 0);
    assert_float_equal(m.synth_median, 0, 0);
    assert_int_equal(m.values, 16 * 1408);
    ns_memo_report_free(&m);
    /* The window flipped in both packets: 32 values from its twin, more from any other. */
    assert_int_equal(ns_memo_compare(&m, &t, &s, &f, 16, 2), NS_OK);
    assert_float_equal(m.synth_copied, 0, 0);
    assert_float_equal(m.synth_median, 32, 0);
    assert_float_equal(m.synth_p5, 32, 0);
    for (size_t i = 0; i < m.n_synth; i++) assert_int_equal(m.synth_nearest[i], 32);
    assert_float_equal(m.test_median, 0, 0);
    ns_memo_report_free(&m);
    /* The same without the AVX-512 kernel. */
    setenv("NETSYNTH_NO_AVX512", "1", 1);
    assert_int_equal(ns_memo_compare(&m, &t, &s, &f, 16, 2), NS_OK);
    unsetenv("NETSYNTH_NO_AVX512");
    assert_float_equal(m.synth_median, 32, 0);
    assert_float_equal(m.test_copied, 1, 0);
    ns_memo_report_free(&m);
    /* One packet of each flow: 16 values. No test set: NaN for its side. */
    assert_int_equal(ns_memo_compare(&m, &t, NULL, &f, 1, 0), NS_OK);
    assert_float_equal(m.synth_median, 16, 0);
    assert_true(isnan(m.test_median));
    ns_memo_report_free(&m);
    drop(&tr), drop(&same), drop(&far);
}

/* Random flows: 1..6 packets, TCP or UDP, random TTL, length, window. */
static void make_random(flows *h, size_t n, uint64_t seed)
{
    memset(h, 0, sizeof *h);
    ns_rng r;
    ns_rng_seed(&r, seed, 0);
    h->flow = calloc(n, sizeof *h->flow);
    h->iat = calloc(6 * n, sizeof *h->iat);
    h->dir = calloc(6 * n, 1);
    h->bits = calloc(6 * n, RB);
    h->cls = calloc(n, sizeof *h->cls);
    h->files[0] = "random";
    int8_t row[W];
    uint64_t np = 0;
    for (size_t i = 0; i < n; i++) {
        int udp = ns_rng_below(&r, 3) == 0;
        h->flow[i].first = np;
        h->flow[i].n_packets = h->flow[i].seen = 1 + (uint32_t)ns_rng_below(&r, 6);
        h->flow[i].proto = udp ? 17 : 6;
        for (uint32_t p = 0; p < h->flow[i].n_packets; p++, np++) {
            memset(row, -1, sizeof row);
            memset(row + NS_NP_COL_IPV4, 0, NS_NP_COL_IPV4_OPT - NS_NP_COL_IPV4);
            ns_nprint_put(row, NS_NPF_IPV4_VER, 4);
            ns_nprint_put(row, NS_NPF_IPV4_HL, 5);
            ns_nprint_put(row, NS_NPF_IPV4_TL, 40 + ns_rng_below(&r, 8));
            ns_nprint_put(row, NS_NPF_IPV4_TTL, ns_rng_below(&r, 4) ? 64 : 128);
            if (udp) {
                memset(row + NS_NP_COL_UDP, 0, NS_NP_BITS_UDP);
                ns_nprint_put(row, NS_NPF_UDP_LEN, 8 + ns_rng_below(&r, 4));
            } else {
                memset(row + NS_NP_COL_TCP, 0, NS_NP_COL_TCP_OPT - NS_NP_COL_TCP);
                ns_nprint_put(row, NS_NPF_TCP_WSIZE, ns_rng_below(&r, 16));
                ns_nprint_put(row, NS_NPF_TCP_ACKF, ns_rng_below(&r, 2));
            }
            ns_dataset_pack_row(row, W, h->bits + np * RB);
        }
    }
    ns_dataset *ds = &h->ds;
    ds->width = W, ds->row_bytes = RB, ds->max_packets = 64;
    ds->n_flows = n, ds->n_packets = np, ds->n_files = 1;
    ds->files = h->files;
    ds->flows = h->flow, ds->iat_ns = h->iat, ds->dir = h->dir, ds->bits = h->bits;
}

/* The pruned search finds what comparing with every training flow finds. */
static void test_memorisation_against_brute_force(void **state)
{
    (void)state;
    flows tr, q;
    make_random(&tr, 300, 11);
    make_random(&q, 80, 12);
    int packets = 4;
    size_t dim = ns_features_nprint_dim(packets);
    int8_t *a = malloc(300 * dim), *b = malloc(80 * dim);
    assert_int_equal(ns_features_nprint(&tr.ds, NULL, 300, packets, a), NS_OK);
    assert_int_equal(ns_features_nprint(&q.ds, NULL, 80, packets, b), NS_OK);
    ns_dist_flows t = all_of(&tr, "train"), s = all_of(&q, "queries");
    for (int generic = 0; generic < 2; generic++) {
        if (generic) setenv("NETSYNTH_NO_AVX512", "1", 1);
        ns_memo_report m;
        assert_int_equal(ns_memo_compare(&m, &t, &s, &s, packets, 0), NS_OK);
        unsetenv("NETSYNTH_NO_AVX512");
        size_t zeros = 0;
        for (size_t i = 0; i < 80; i++) {
            uint32_t best = UINT32_MAX;
            for (size_t j = 0; j < 300; j++) {
                uint32_t d = 0;
                for (size_t k = 0; k < dim; k++) d += b[i * dim + k] != a[j * dim + k];
                if (d < best) best = d;
            }
            assert_int_equal(m.synth_nearest[i], best);
            assert_int_equal(m.test_nearest[i], best);
            zeros += !best;
        }
        assert_float_equal(m.synth_copied, zeros / 80.0, 1e-12);
        ns_memo_report_free(&m);
    }
    free(a), free(b);
    drop(&tr), drop(&q);
}

/* 12k x 12k flows of 16 packets, each synthetic flow 128 values from its
 * twin and more from the rest (little to prune): prints the time. */
static void test_memorisation_speed(void **state)
{
    (void)state;
    flows tr, sy;
    make(&tr, (spec){.n = SPEED_FLOWS, .len = 16, .wsize = 0});
    make(&sy, (spec){.n = SPEED_FLOWS, .len = 16, .wsize = 0x5555});
    ns_dist_flows t = all_of(&tr, "train"), s = all_of(&sy, "synth");
    ns_memo_report m;
    double t0 = now_s();
    assert_int_equal(ns_memo_compare(&m, &t, NULL, &s, 16, 0), NS_OK);
    print_message("%d x %d flows of 16 packets: %.2f s\n", SPEED_FLOWS, SPEED_FLOWS, now_s() - t0);
    assert_float_equal(m.synth_median, 16 * 8, 0);
    ns_memo_report_free(&m);
    drop(&tr), drop(&sy);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_measures_by_hand),
        cmocka_unit_test(test_identical_sets_are_zero),
        cmocka_unit_test(test_shifted_field_ranks_worst),
        cmocka_unit_test(test_per_class),
        cmocka_unit_test(test_memorisation),
        cmocka_unit_test(test_memorisation_against_brute_force),
        cmocka_unit_test(test_memorisation_speed),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    tu_cleanup();
    return rc;
}
