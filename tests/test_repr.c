/* test_repr.c: the timing of a row as the model sees it. Bins of log
 * inter-arrival time: the target positions, guidance that stays inside the
 * bins a class uses (where the regressed timing of older models is
 * extrapolated, as it always was), and decoded times drawn within the
 * chosen bin and sub-bin, not at a centre. */
#include "testutil.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "netsynth/dataset.h"
#include "netsynth/error.h"
#include "netsynth/model.h"
#include "netsynth/nprint.h"
#include "netsynth/repr.h"
#include "netsynth/rng.h"

enum { W = NS_NP_MODEL_WIDTH, RB = (W + 3) / 4, N = 8 };

/* A dataset of one flow of N packets whose rows differ in one bit and whose
 * inter-arrival times are 0, 1 us, 10 us, ..., 1 s. */
typedef struct toy {
    const char *files[1];
    uint32_t attr_first[1];
    ns_ds_flow flow;
    int64_t iat[N];
    uint8_t dir[N], bits[N * RB];
    ns_dataset ds;
} toy;

static void make_toy(toy *t)
{
    memset(t, 0, sizeof *t);
    t->files[0] = "toy";
    int8_t row[W];
    int64_t ns = 1000;
    for (int k = 0; k < N; k++) {
        memset(row, -1, W);
        row[0] = (int8_t)(k & 1);
        ns_dataset_pack_row(row, W, t->bits + (size_t)k * RB);
        t->iat[k] = k ? ns : 0;
        if (k) ns *= 10;
        t->dir[k] = (uint8_t)(k & 1);
    }
    t->flow = (ns_ds_flow){.first = 0, .n_packets = N, .seen = N, .proto = 6};
    t->ds = (ns_dataset){.width = W, .row_bytes = RB, .max_packets = N, .n_flows = 1, .n_packets = N,
                         .n_files = 1, .attr_first = t->attr_first, .files = t->files, .flows = &t->flow,
                         .iat_ns = t->iat, .dir = t->dir, .bits = t->bits};
}

static double z_of(const ns_repr *r, int64_t ns)
{
    return (log((double)ns * 1e-9 + NS_REPR_IAT_FLOOR) - r->iat_mean) / r->iat_std;
}

/* The bins cover the data's range; each row's target is its position in
 * bin units, whose integer part is the bin holding its time. */
static void test_bins_cover_the_data(void **state)
{
    (void)state;
    toy t;
    make_toy(&t);
    ns_repr r;
    assert_int_equal(ns_repr_fit(&r, &t.ds, 1), NS_EARG);
    assert_int_equal(ns_repr_fit(&r, &t.ds, NS_MODEL_MAX_TIMING_BINS + 1), NS_EARG);
    assert_int_equal(ns_repr_fit(&r, &t.ds, 0), NS_OK);
    assert_int_equal(r.timing_bins, 0);
    assert_int_equal(ns_repr_out_dim(&r), 3 * r.n_bits + 2);
    float z[N], pos[N];
    ns_repr_encode(&r, &t.ds, 0, N, NULL, NULL, NULL, z);
    assert_int_equal(ns_repr_fit(&r, &t.ds, 64), NS_OK);
    assert_int_equal(ns_repr_out_dim(&r), 3 * r.n_bits + 1 + 64 + NS_MODEL_TIMING_SUB);
    assert_float_equal(r.bin_lo, z_of(&r, 0), 1e-5);
    assert_float_equal(r.bin_hi, z_of(&r, 1000000000), 1e-5);
    float x0[N * (2 * 1 + 2) + 64];
    assert_true(r.n_bits * 2 + 2 <= 4);
    ns_repr_encode(&r, &t.ds, 0, N, x0, NULL, NULL, pos);
    double w = (r.bin_hi - r.bin_lo) / 64;
    for (int k = 0; k < N; k++) {
        assert_true(pos[k] >= 0 && pos[k] < 64);
        assert_float_equal(pos[k], (z[k] - r.bin_lo) / w, 1e-3);
        /* The network's input keeps the standardised log time itself. */
        assert_float_equal(x0[k * ns_repr_in_dim(&r) + 2 * r.n_bits], z[k], 1e-6);
    }
    assert_true(pos[0] == 0 && pos[N - 1] > 63.9f);
}

/* A row outside a dataset (generation's held rows) encodes as the dataset's
 * rows do, bit for bit, for a window inside the flow too. */
static void test_encode_row_is_the_dataset_encoding(void **state)
{
    (void)state;
    toy t;
    make_toy(&t);
    ns_repr r;
    assert_int_equal(ns_repr_fit(&r, &t.ds, 64), NS_OK);
    int in = ns_repr_in_dim(&r);
    float x0[N * 4], x[4];
    assert_true(in <= 4);
    int8_t row[W];
    for (uint32_t start = 0; start < 3; start++) {
        int n = ns_repr_encode_window(&r, &t.ds, 0, start, N, x0, NULL, NULL, NULL);
        assert_int_equal(n, N - (int)start);
        for (int k = 0; k < n; k++) {
            ns_dataset_row(&t.ds, start + (uint64_t)k, row);
            ns_repr_encode_row(&r, row, t.dir[start + k], t.iat[start + k], x);
            assert_memory_equal(x, x0 + (size_t)k * in, (size_t)in * sizeof *x);
        }
    }
}

/* A repr of `bins` bins over z in [-2, 2] with one modelled value. */
static ns_repr small_repr(int bins)
{
    ns_repr r;
    memset(&r, 0, sizeof r);
    r.width = W, r.n_bits = 1, r.cols[0] = 0;
    memset(r.fixed, -1, sizeof r.fixed);
    r.iat_mean = -5, r.iat_std = 2;
    r.timing_bins = bins, r.bin_lo = -2, r.bin_hi = 2;
    return r;
}

/* Guidance on the bins: the class (cond) uses bin 6 alone, the unprompted
 * model (uncond) bins 1 and 6. Guided logits stay on bin 6; the x_0
 * estimate is its centre, inside the bins. The same outputs read as a
 * regressed timing (bins 0) are extrapolated, as older models did. */
static void test_guidance_stays_in_the_class_bins(void **state)
{
    (void)state;
    enum { NB = 8, S = NS_MODEL_TIMING_SUB, OD = 3 + NB + S + 1 };
    ns_repr r = small_repr(NB);
    assert_int_equal(ns_repr_out_dim(&r), OD);
    float cond[OD] = {0}, uncond[OD] = {0}, out[OD], x0[4];
    for (int k = 0; k < NB; k++) cond[3 + k] = uncond[3 + k] = -20;
    cond[3 + 6] = 5, uncond[3 + 6] = 0, uncond[3 + 1] = 0;
    cond[OD - 1] = 3, uncond[OD - 1] = 1;
    ns_repr_expect_guided(&r, x0, out, cond, uncond, 2.0f, 2.0f, 1);
    double centre6 = -2 + 6.5 * 4.0 / NB;
    assert_float_equal(x0[2], centre6, 1e-3);
    assert_float_equal(out[3 + 6], 10, 1e-5); /* u + g (c - u) on the logits */
    assert_float_equal(out[OD - 1], 5, 1e-5);
    assert_float_equal(x0[3], tanh(2.5), 1e-5);
    /* Stronger guidance cannot leave the bins either. */
    ns_repr_expect_guided(&r, x0, out, cond, uncond, 8.0f, 8.0f, 1);
    assert_true(x0[2] >= r.bin_lo && x0[2] <= r.bin_hi);
    assert_float_equal(x0[2], centre6, 1e-3);
    /* The bins' own scale: g_time 1 is cond's distribution, whatever g. */
    cond[3 + 1] = 0;
    ns_repr_expect_guided(&r, x0, out, cond, uncond, 2.0f, 1.0f, 1);
    assert_float_equal(out[3 + 1], 0, 1e-6);
    assert_float_equal(out[OD - 1], 5, 1e-5);
    cond[3 + 1] = -20;
    /* Unguided: the expectation under cond itself. */
    ns_repr_expect(&r, x0, cond, 1);
    assert_float_equal(x0[2], centre6, 1e-3);
    /* The expected position within the bin is the sub-bins': the last sixteenth. */
    for (int s = 0; s < S; s++) cond[3 + NB + s] = s == S - 1 ? 30 : 0;
    ns_repr_expect(&r, x0, cond, 1);
    assert_float_equal(x0[2], -2 + (6 + (S - 0.5) / S) * 4.0 / NB, 1e-3);

    /* Regressed timing: cond 1.0, uncond 0.2, g 2: 1.8, past the class. */
    ns_repr old = small_repr(0);
    float c2[5] = {0, 0, 0, 1.0f, 3}, u2[5] = {0, 0, 0, 0.2f, 1}, o2[5], x2[4];
    ns_repr_expect_guided(&old, x2, o2, c2, u2, 2.0f, 1.0f, 1);
    assert_float_equal(x2[2], 1.8, 1e-6);
    assert_float_equal(o2[4], 5, 1e-6);
}

/* Decoding a binned timing: without rng the centre of the most likely bin;
 * with rng a bin drawn from the probabilities and a position drawn in it,
 * so the times spread over the whole bin; the same stream, the same times. */
static void test_decode_draws_within_the_bin(void **state)
{
    (void)state;
    enum { NB = 8, S = NS_MODEL_TIMING_SUB, OD = 3 + NB + S + 1 };
    ns_repr r = small_repr(NB);
    float out[OD] = {0};
    for (int k = 0; k < NB; k++) out[3 + k] = -30;
    out[3 + 2] = 0, out[3 + 5] = 0; /* bins 2 and 5, equally likely */
    out[3 + 5] = 1e-3f;                /* 5 the most likely */
    int8_t row[W];
    uint8_t dir;
    int64_t ns;
    double w = 4.0 / NB;
    ns_repr_decode_row(&r, out, row, &dir, &ns, NULL); /* sub-bins all alike: the first, its centre */
    double want = exp((-2 + (5 + 0.5 / S) * w) * r.iat_std + r.iat_mean) - NS_REPR_IAT_FLOOR;
    assert_float_equal((double)ns, want * 1e9, 2);

    ns_rng a, b;
    ns_rng_seed(&a, 9, 3), ns_rng_seed(&b, 9, 3);
    int in[NB] = {0};
    double lo[NB], hi[NB];
    for (int k = 0; k < NB; k++) lo[k] = 1e30, hi[k] = -1e30;
    for (int i = 0; i < 4000; i++) {
        int64_t again;
        ns_repr_decode_row(&r, out, row, &dir, &ns, &a);
        ns_repr_decode_row(&r, out, row, &dir, &again, &b);
        assert_true(ns == again);
        double z = (log((double)ns * 1e-9 + NS_REPR_IAT_FLOOR) - r.iat_mean) / r.iat_std;
        int k = (int)floor((z + 2) / w);
        assert_true(k == 2 || k == 5);
        in[k]++;
        lo[k] = fmin(lo[k], (z + 2) / w - k), hi[k] = fmax(hi[k], (z + 2) / w - k);
    }
    assert_true(in[2] > 1800 && in[5] > 1800);
    for (int k = 2; k <= 5; k += 3) assert_true(lo[k] < 0.01 && hi[k] > 0.99);

    /* A spike: sub-bin 9 of 16 holds the time, which stays inside it. */
    for (int s = 0; s < S; s++) out[3 + NB + s] = s == 9 ? 0 : -30;
    for (int i = 0; i < 1000; i++) {
        ns_repr_decode_row(&r, out, row, &dir, &ns, &a);
        double z = (log((double)ns * 1e-9 + NS_REPR_IAT_FLOOR) - r.iat_mean) / r.iat_std, u = (z + 2) / w;
        double in_bin = u - floor(u);
        assert_true(in_bin > 9.0 / S - 1e-6 && in_bin < 10.0 / S + 1e-6);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bins_cover_the_data),
        cmocka_unit_test(test_encode_row_is_the_dataset_encoding),
        cmocka_unit_test(test_guidance_stays_in_the_class_bins),
        cmocka_unit_test(test_decode_draws_within_the_bin),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    tu_cleanup();
    return rc;
}
