/* test_forest.c: the random forest on data with a known answer, determinism
 * across thread counts, probabilities, edge cases. */
#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"
#include "netsynth/error.h"
#include "netsynth/forest.h"
#include "netsynth/rng.h"

/* n x d ternary noise from stream `stream`. */
static int8_t *noise_i8(size_t n, size_t d, uint64_t stream)
{
    ns_rng r;
    ns_rng_seed(&r, 42, stream);
    int8_t *x = malloc(n * d);
    for (size_t i = 0; i < n * d; i++) x[i] = (int8_t)ns_rng_below(&r, 3) - 1;
    return x;
}

static double accuracy(const int32_t *a, const int32_t *b, size_t n)
{
    size_t ok = 0;
    for (size_t i = 0; i < n; i++) ok += a[i] == b[i];
    return (double)ok / (double)n;
}

static ns_forest *train(const ns_forest_x *x, const int32_t *y, int k, int trees, uint64_t seed)
{
    ns_forest_opts o;
    ns_forest_opts_init(&o);
    o.n_trees = trees;
    o.seed = seed;
    ns_forest *f = NULL;
    assert_int_equal(ns_forest_train(&f, x, y, k, &o), NS_OK);
    assert_non_null(f);
    return f;
}

/* Feature 7 of 100 carries the class (value + 1); the rest is noise. */
static void test_one_informative_feature(void **state)
{
    (void)state;
    size_t n = 600, d = 100;
    int8_t *x = noise_i8(n, d, 1);
    int32_t *y = malloc(n * sizeof *y), *pred = malloc(n * sizeof *pred);
    for (size_t i = 0; i < n; i++) y[i] = x[i * d + 7] + 1;
    ns_forest_x tr = {.n = 400, .d = d, .i8 = x};
    ns_forest_x te = {.n = 200, .d = d, .i8 = x + 400 * d};
    ns_forest *f = train(&tr, y, 3, 50, 1);
    assert_int_equal(ns_forest_predict(f, &te, pred), NS_OK);
    double acc = accuracy(pred, y + 400, 200);
    print_message("one informative feature: accuracy %.3f\n", acc);
    assert_true(acc > 0.97);
    ns_forest_free(f);
    free(x), free(y), free(pred);
}

/* Labels independent of the features: near 1/4 on held-out data. */
static void test_pure_noise_is_chance(void **state)
{
    (void)state;
    size_t n = 2000, d = 40;
    int8_t *x = noise_i8(n, d, 2);
    int32_t *y = malloc(n * sizeof *y), *pred = malloc(n * sizeof *pred);
    ns_rng r;
    ns_rng_seed(&r, 7, 0);
    for (size_t i = 0; i < n; i++) y[i] = (int32_t)ns_rng_below(&r, 4);
    ns_forest_x tr = {.n = 1000, .d = d, .i8 = x};
    ns_forest_x te = {.n = 1000, .d = d, .i8 = x + 1000 * d};
    ns_forest *f = train(&tr, y, 4, 30, 3);
    assert_int_equal(ns_forest_predict(f, &te, pred), NS_OK);
    double acc = accuracy(pred, y + 1000, 1000);
    print_message("pure noise: accuracy %.3f (chance 0.25)\n", acc);
    assert_true(acc > 0.19 && acc < 0.31);
    /* Grown to purity, the training set is learnt almost by heart. */
    assert_int_equal(ns_forest_predict(f, &tr, pred), NS_OK);
    assert_true(accuracy(pred, y, 1000) > 0.95);
    ns_forest_free(f);
    free(x), free(y), free(pred);
}

/* y = a XOR b over {0,1} features: no single split helps, depth 2 does. */
static void test_xor_needs_depth_two(void **state)
{
    (void)state;
    size_t n = 400, d = 2;
    int8_t *x = malloc(n * d);
    int32_t *y = malloc(n * sizeof *y), *pred = malloc(n * sizeof *pred);
    for (size_t i = 0; i < n; i++) {
        x[i * d] = (int8_t)(i & 1);
        x[i * d + 1] = (int8_t)((i >> 1) & 1);
        y[i] = x[i * d] ^ x[i * d + 1];
    }
    ns_forest_x xx = {.n = n, .d = d, .i8 = x};
    ns_forest_opts o;
    ns_forest_opts_init(&o);
    o.n_trees = 10;
    o.max_features = 2;
    o.max_depth = 1;
    ns_forest *f = NULL;
    assert_int_equal(ns_forest_train(&f, &xx, y, 2, &o), NS_OK);
    assert_int_equal(ns_forest_predict(f, &xx, pred), NS_OK);
    assert_true(accuracy(pred, y, n) < 0.8);
    ns_forest_free(f);
    o.max_depth = 2;
    assert_int_equal(ns_forest_train(&f, &xx, y, 2, &o), NS_OK);
    assert_int_equal(ns_forest_predict(f, &xx, pred), NS_OK);
    assert_true(accuracy(pred, y, n) == 1.0);
    assert_int_equal(ns_forest_depth(f), 2);
    ns_forest_free(f);
    free(x), free(y), free(pred);
}

/* Float features: a threshold at 0.3 on feature 2, among noise. */
static void test_float_threshold(void **state)
{
    (void)state;
    size_t n = 3000, d = 5;
    float *x = malloc(n * d * sizeof *x);
    int32_t *y = malloc(n * sizeof *y), *pred = malloc(n * sizeof *pred);
    ns_rng r;
    ns_rng_seed(&r, 9, 0);
    for (size_t i = 0; i < n * d; i++) x[i] = ns_rng_float(&r);
    for (size_t i = 0; i < n; i++) y[i] = x[i * d + 2] > 0.3f;
    ns_forest_x tr = {.n = 2000, .d = d, .f32 = x};
    ns_forest_x te = {.n = 1000, .d = d, .f32 = x + 2000 * d};
    ns_forest *f = train(&tr, y, 2, 20, 5);
    assert_int_equal(ns_forest_predict(f, &te, pred), NS_OK);
    double acc = accuracy(pred, y + 2000, 1000);
    print_message("float threshold: accuracy %.3f\n", acc);
    assert_true(acc > 0.98);
    ns_forest_free(f);
    free(x), free(y), free(pred);
}

static void test_same_forest_any_thread_count(void **state)
{
    (void)state;
    size_t n = 500, d = 64;
    int8_t *x = noise_i8(n, d, 3);
    int32_t *y = malloc(n * sizeof *y);
    for (size_t i = 0; i < n; i++) y[i] = (x[i * d] + 1 + (x[i * d + 5] > 0)) % 3;
    ns_forest_x xx = {.n = n, .d = d, .i8 = x};
    float *p1 = malloc(n * 3 * sizeof *p1), *p2 = malloc(n * 3 * sizeof *p2);
    ns_forest_opts o;
    ns_forest_opts_init(&o);
    o.n_trees = 24;
    o.seed = 11;
    ns_forest *f1, *f2;
    int saved = omp_get_max_threads();
    omp_set_num_threads(1);
    assert_int_equal(ns_forest_train(&f1, &xx, y, 3, &o), NS_OK);
    assert_int_equal(ns_forest_predict_proba(f1, &xx, p1), NS_OK);
    omp_set_num_threads(2);
    o.threads = 0;
    assert_int_equal(ns_forest_train(&f2, &xx, y, 3, &o), NS_OK);
    assert_int_equal(ns_forest_predict_proba(f2, &xx, p2), NS_OK);
    assert_int_equal(ns_forest_n_nodes(f1), ns_forest_n_nodes(f2));
    assert_memory_equal(p1, p2, n * 3 * sizeof *p1);
    ns_forest_free(f2);
    o.threads = 3; /* more threads than cores: still the same */
    assert_int_equal(ns_forest_train(&f2, &xx, y, 3, &o), NS_OK);
    assert_int_equal(ns_forest_predict_proba(f2, &xx, p2), NS_OK);
    assert_memory_equal(p1, p2, n * 3 * sizeof *p1);
    ns_forest_free(f2);
    o.seed = 12; /* another seed, another forest */
    assert_int_equal(ns_forest_train(&f2, &xx, y, 3, &o), NS_OK);
    assert_int_equal(ns_forest_predict_proba(f2, &xx, p2), NS_OK);
    assert_true(memcmp(p1, p2, n * 3 * sizeof *p1) != 0);
    omp_set_num_threads(saved);
    ns_forest_free(f1);
    ns_forest_free(f2);
    free(x), free(y), free(p1), free(p2);
}

static void test_probabilities_sum_to_one(void **state)
{
    (void)state;
    size_t n = 300, d = 30;
    int k = 7;
    int8_t *x = noise_i8(n, d, 4);
    int32_t *y = malloc(n * sizeof *y);
    for (size_t i = 0; i < n; i++) y[i] = (int32_t)(i % 6); /* class 6 never seen */
    ns_forest_x xx = {.n = n, .d = d, .i8 = x};
    ns_forest *f = train(&xx, y, k, 15, 2);
    float *p = malloc(n * k * sizeof *p);
    assert_int_equal(ns_forest_predict_proba(f, &xx, p), NS_OK);
    for (size_t i = 0; i < n; i++) {
        double s = 0;
        for (int c = 0; c < k; c++) {
            assert_true(p[i * k + c] >= 0 && p[i * k + c] <= 1);
            s += p[i * k + c];
        }
        assert_true(fabs(s - 1) < 1e-5);
        assert_true(p[i * k + 6] == 0);
    }
    ns_forest_free(f);
    free(x), free(y), free(p);
}

static void test_edge_cases(void **state)
{
    (void)state;
    int8_t x[4 * 3] = {1, 0, -1, 0, 0, -1, 1, 1, 1, -1, -1, 0};
    int32_t y[4] = {2, 2, 2, 2}, pred[4];
    float p[4 * 3];
    ns_forest *f;
    /* One class only. */
    ns_forest_x xx = {.n = 4, .d = 3, .i8 = x};
    f = train(&xx, y, 3, 5, 0);
    assert_int_equal(ns_forest_predict(f, &xx, pred), NS_OK);
    for (int i = 0; i < 4; i++) assert_int_equal(pred[i], 2);
    assert_int_equal(ns_forest_n_nodes(f), 5); /* one leaf per tree */
    ns_forest_free(f);
    /* One sample. */
    ns_forest_x one = {.n = 1, .d = 3, .i8 = x};
    int32_t y1 = 1;
    f = train(&one, &y1, 3, 3, 0);
    assert_int_equal(ns_forest_predict_proba(f, &xx, p), NS_OK);
    for (int i = 0; i < 4; i++) assert_true(p[i * 3 + 1] == 1.0f);
    ns_forest_free(f);
    /* Every feature constant, two classes: leaves hold the class mix. */
    int8_t c[4 * 3];
    memset(c, 1, sizeof c);
    int32_t y2[4] = {0, 1, 1, 1};
    ns_forest_x cx = {.n = 4, .d = 3, .i8 = c};
    ns_forest_opts o;
    ns_forest_opts_init(&o);
    o.n_trees = 1;
    o.bootstrap = 0;
    assert_int_equal(ns_forest_train(&f, &cx, y2, 2, &o), NS_OK);
    assert_int_equal(ns_forest_predict_proba(f, &cx, p), NS_OK);
    assert_float_equal(p[0], 0.25, 1e-6);
    assert_float_equal(p[1], 0.75, 1e-6);
    ns_forest_free(f);
    /* Bad input. */
    int32_t bad[4] = {0, 1, 5, 0};
    assert_int_equal(ns_forest_train(&f, &xx, bad, 3, NULL), NS_EARG);
    assert_null(f);
    assert_non_null(strstr(ns_errmsg(), "sample 2"));
    ns_forest_x none = {.n = 0, .d = 3, .i8 = x};
    assert_int_equal(ns_forest_train(&f, &none, y, 3, NULL), NS_EARG);
    float nanx[2] = {NAN, 1};
    ns_forest_x fx = {.n = 2, .d = 1, .f32 = nanx};
    assert_int_equal(ns_forest_train(&f, &fx, y, 3, NULL), NS_EARG);
    /* Predicting with the wrong kind of features. */
    f = train(&xx, y, 3, 2, 0);
    float fl[3] = {0};
    ns_forest_x wrong = {.n = 1, .d = 3, .f32 = fl};
    assert_int_equal(ns_forest_predict(f, &wrong, pred), NS_EARG);
    ns_forest_free(f);
}

/* A threshold is the midpoint between the values either side: an unseen
 * value in the gap is classed by which side it is nearer. */
static void test_threshold_midpoint(void **state)
{
    (void)state;
    int8_t x[4] = {-1, -1, 1, 1}, q[3] = {-1, 0, 1};
    int32_t y[4] = {0, 0, 1, 1}, pred[3];
    ns_forest_opts o;
    ns_forest_opts_init(&o);
    o.n_trees = 1;
    o.bootstrap = 0;
    ns_forest *f;
    ns_forest_x xx = {.n = 4, .d = 1, .i8 = x}, qq = {.n = 3, .d = 1, .i8 = q};
    assert_int_equal(ns_forest_train(&f, &xx, y, 2, &o), NS_OK);
    assert_int_equal(ns_forest_predict(f, &qq, pred), NS_OK);
    assert_int_equal(pred[0], 0);
    assert_int_equal(pred[1], 0); /* 0 <= (-1 + 1) / 2 */
    assert_int_equal(pred[2], 1);
    ns_forest_free(f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_one_informative_feature),
        cmocka_unit_test(test_pure_noise_is_chance),
        cmocka_unit_test(test_xor_needs_depth_two),
        cmocka_unit_test(test_float_threshold),
        cmocka_unit_test(test_same_forest_any_thread_count),
        cmocka_unit_test(test_probabilities_sum_to_one),
        cmocka_unit_test(test_edge_cases),
        cmocka_unit_test(test_threshold_midpoint),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    tu_cleanup();
    return rc;
}
