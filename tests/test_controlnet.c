/* test_controlnet.c: the control branch. Its backward against central
 * finite differences of the base's loss on every parameter tensor; a fresh
 * branch leaves the base's outputs exactly as they were; the control file
 * round-trips, refuses corruption, truncation and another base's model. */
#include "testutil.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "netsynth/controlnet.h"
#include "netsynth/error.h"
#include "netsynth/fileio.h"
#include "netsynth/model.h"
#include "netsynth/rng.h"

enum { B = 3, T = 5, P = 2, K = 3, BLOCKS = 2 };

typedef struct fixture {
    ns_modelfile base;           /* only cfg, weights and p are used */
    ns_controlnet ctl;
    ns_controlnet_params g;
    float *gmem;
    ns_model_acts *a;
    ns_controlnet_acts *ca;
    float x[B * T * (2 * K + 2)], t[B], iat[B * T], feat[B * T * NS_CONTROL_FEATURES];
    int prompt[B * P], len[B];
    uint8_t cls[B * T * K], dir[B * T];
    float scale;
} fixture;

static const ns_model_loss_weights W = {0.7f, 0.3f, 0.2f};

static double loss_of(fixture *f)
{
    ns_controlnet_model_forward(NULL, f->a, f->ca, &f->base, &f->ctl, f->x, f->t, f->prompt, P, f->len, B, T, f->feat,
                                f->scale);
    return ns_model_loss(f->a, &f->base.cfg, f->cls, f->iat, f->dir, &W, NULL);
}

static void setup(fixture *f, int layers)
{
    memset(f, 0, sizeof *f);
    ns_model_config *c = &f->base.cfg;
    c->d = 8, c->n_head = 2, c->n_layer = layers, c->mlp_ratio = 2;
    c->max_packets = T, c->n_bits = K, c->in_dim = 2 * K + 2, c->out_dim = 3 * K + 2, c->vocab = 4;
    assert_int_equal(ns_modelfile_alloc(&f->base, 0), NS_OK);
    ns_rng r;
    ns_rng_seed(&r, 21, 0);
    for (size_t i = 0; i < f->base.n_params; i++) f->base.weights[i] = 0.3f * ns_rng_normal(&r);
    assert_int_equal(ns_controlnet_init(&f->ctl, &f->base, BLOCKS), NS_OK);
    f->gmem = calloc(f->ctl.n_params, sizeof(float));
    ns_controlnet_params_layout(&f->g, c, BLOCKS, f->gmem);
    for (size_t i = 0; i < sizeof f->x / sizeof f->x[0]; i++) f->x[i] = ns_rng_normal(&r);
    for (int b = 0; b < B; b++) f->t[b] = 0.2f + 0.3f * b;
    int lens[B] = {5, 3, 1};
    memcpy(f->len, lens, sizeof lens);
    int prompts[B * P] = {0, 2, 1, -1, -1, -1};
    memcpy(f->prompt, prompts, sizeof prompts);
    for (int i = 0; i < B * T * K; i++) f->cls[i] = (uint8_t)ns_rng_below(&r, 3);
    for (int i = 0; i < B * T; i++) f->iat[i] = ns_rng_normal(&r), f->dir[i] = (uint8_t)ns_rng_below(&r, 2);
    for (int b = 0; b < B; b++) {
        ns_control_row rows[T];
        for (int k = 0; k < T; k++)
            rows[k] = (ns_control_row){k % 2 ? 6 : 17, (uint8_t)(k % 2), (uint8_t)(k + b), (uint8_t)(k % 2 ? 0x12 : 0)};
        ns_control_features(rows, f->len[b], T, f->feat + (size_t)b * T * NS_CONTROL_FEATURES);
    }
    f->scale = 1;
    assert_int_equal(ns_model_acts_new(&f->a, c, B, T), NS_OK);
    assert_int_equal(ns_controlnet_acts_new(&f->ca, c, BLOCKS, B, T), NS_OK);
}

static void teardown(fixture *f)
{
    ns_model_acts_free(f->a);
    ns_controlnet_acts_free(f->ca);
    ns_controlnet_free(&f->ctl);
    ns_modelfile_free(&f->base);
    free(f->gmem);
}

static double loss_ctx(void *f) { return loss_of(f); }

static void check_slice(fixture *f, const char *name, float *param, float *grad, size_t count)
{
    double worst = tu_check_gradient(name, param, grad, count, loss_ctx, f);
    print_message("%-8s worst relative error %.2e\n", name, worst);
}

static void test_branch_backward_matches_finite_differences(void **state)
{
    (void)state;
    fixture f;
    setup(&f, 3);
    /* Random everywhere (not the zero projections), so every path carries gradient. */
    ns_rng r;
    ns_rng_seed(&r, 5, 0);
    for (size_t i = 0; i < f.ctl.n_params; i++) f.ctl.weights[i] = 0.3f * ns_rng_normal(&r);
    f.scale = 0.7f;
    loss_of(&f);
    assert_int_equal(ns_model_backward(NULL, f.a, &f.base.p, &f.base.cfg, ns_controlnet_dcontrol(f.ca)), NS_OK);
    assert_int_equal(ns_controlnet_backward(&f.g, f.ca, &f.ctl.p, &f.base.cfg, BLOCKS), NS_OK);
    size_t d = 8, h = 16, F = NS_CONTROL_FEATURES;
    ns_controlnet_params *p = &f.ctl.p, *g = &f.g;
    check_slice(&f, "cin_w", p->cin_w, g->cin_w, d * F);
    check_slice(&f, "cin_b", p->cin_b, g->cin_b, d);
    for (int k = 0; k < BLOCKS; k++) {
        check_slice(&f, "ada_w", p->blk.ada_w[k], g->blk.ada_w[k], 6 * d * d);
        check_slice(&f, "ada_b", p->blk.ada_b[k], g->blk.ada_b[k], 6 * d);
        check_slice(&f, "qkv_w", p->blk.qkv_w[k], g->blk.qkv_w[k], 3 * d * d);
        check_slice(&f, "qkv_b", p->blk.qkv_b[k], g->blk.qkv_b[k], 3 * d);
        check_slice(&f, "proj_w", p->blk.proj_w[k], g->blk.proj_w[k], d * d);
        check_slice(&f, "fc_w", p->blk.fc_w[k], g->blk.fc_w[k], h * d);
        check_slice(&f, "fc2_w", p->blk.fc2_w[k], g->blk.fc2_w[k], d * h);
        check_slice(&f, "fc2_b", p->blk.fc2_b[k], g->blk.fc2_b[k], d);
        check_slice(&f, "zero_w", p->zero_w[k], g->zero_w[k], d * d);
        check_slice(&f, "zero_b", p->zero_b[k], g->zero_b[k], d);
    }
    teardown(&f);
}

static void test_fresh_branch_changes_nothing(void **state)
{
    (void)state;
    fixture f;
    setup(&f, 2);
    size_t n = (size_t)B * T * (3 * K + 2);
    float *plain = malloc(n * sizeof(float)), *with = malloc(n * sizeof(float));
    ns_model_forward(plain, f.a, &f.base.p, &f.base.cfg, f.x, f.t, f.prompt, P, f.len, B, T, NULL);
    loss_of(&f);
    memcpy(with, ns_model_output(f.a), n * sizeof(float));
    assert_memory_equal(plain, with, n * sizeof(float));
    /* Its blocks are the base's. */
    assert_memory_equal(f.ctl.p.blk.qkv_w[1], f.base.p.qkv_w[1], 3 * 8 * 8 * sizeof(float));
    /* And a non-zero projection does change the outputs. */
    f.ctl.p.zero_b[0][1] = 0.5f;
    loss_of(&f);
    assert_true(memcmp(plain, ns_model_output(f.a), n * sizeof(float)) != 0);
    ns_controlnet too_deep;
    assert_int_equal(ns_controlnet_init(&too_deep, &f.base, 3), NS_EARG); /* more blocks than the base */
    free(plain), free(with);
    teardown(&f);
}

static void test_file_round_trip_corruption_and_base(void **state)
{
    (void)state;
    const char *dir = tu_tmpdir();
    fixture f;
    setup(&f, 2);
    for (size_t i = 0; i < f.ctl.n_params; i++) f.ctl.weights[i] = (float)i * 1e-3f;
    const char *path = tu_path(dir, "c.nsc");
    assert_int_equal(ns_controlnet_save(&f.ctl, path), NS_OK);
    ns_controlnet back;
    assert_int_equal(ns_controlnet_load(&back, path), NS_OK);
    assert_int_equal(back.n_blocks, BLOCKS);
    assert_int_equal(back.n_params, f.ctl.n_params);
    assert_memory_equal(back.weights, f.ctl.weights, f.ctl.n_params * sizeof(float));
    assert_int_equal(ns_controlnet_check_base(&back, "c.nsc", &f.base, "base.nsm"), NS_OK);
    /* Another base (one weight differs): a clear error naming both. */
    f.base.weights[3] += 1;
    assert_int_equal(ns_controlnet_check_base(&back, "c.nsc", &f.base, "other.nsm"), NS_EARG);
    assert_non_null(strstr(ns_errmsg(), "other.nsm"));
    assert_non_null(strstr(ns_errmsg(), "another model"));
    f.base.weights[3] -= 1;
    f.base.cfg.n_bits = 4, f.base.cfg.in_dim = 10, f.base.cfg.out_dim = 14;
    assert_int_equal(ns_controlnet_check_base(&back, "c.nsc", &f.base, "other.nsm"), NS_EARG);
    f.base.cfg.n_bits = K, f.base.cfg.in_dim = 2 * K + 2, f.base.cfg.out_dim = 3 * K + 2;
    ns_controlnet_free(&back);

    uint8_t *buf;
    size_t len;
    assert_int_equal(ns_read_file(path, &buf, &len), NS_OK);
    const char *bad = tu_path(dir, "bad.nsc");
    for (size_t at = 0; at < len; at += len / 41 + 1) {
        buf[at] ^= 0x10;
        assert_int_equal(tu_write_file(bad, buf, len), 0);
        int rc = ns_controlnet_load(&back, bad);
        assert_true(rc == NS_ECORRUPT || rc == NS_EFORMAT || rc == NS_EVERSION || rc == NS_ETRUNC);
        assert_non_null(strstr(ns_errmsg(), "bad.nsc"));
        buf[at] ^= 0x10;
    }
    for (size_t cut = 0; cut < len; cut += len / 19 + 1) {
        assert_int_equal(tu_write_file(bad, buf, cut), 0);
        assert_true(ns_controlnet_load(&back, bad) < 0);
    }
    free(buf);
    teardown(&f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_branch_backward_matches_finite_differences),
        cmocka_unit_test(test_fresh_branch_changes_nothing),
        cmocka_unit_test(test_file_round_trip_corruption_and_base),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    tu_cleanup();
    return rc;
}
