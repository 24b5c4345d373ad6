/* test_model.c: the denoiser's backward against central finite differences
 * on every parameter tensor, its control hook, and the parameter layout. */
#include "testutil.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "netsynth/error.h"
#include "netsynth/model.h"
#include "netsynth/modelfile.h"
#include "netsynth/rng.h"

enum { B = 3, T = 5, P = 2, K = 3 };

typedef struct fixture {
    ns_model_config c;
    ns_model_params p, g;
    float *mem, *gmem;
    size_t n;
    ns_model_acts *a;
    float x[B * T * (2 * K + 2)], t[B], iat[B * T];
    float xsc[B * T * (2 * K + 2)]; /* the estimate of x_0 a self-conditioned model reads */
    int prompt[B * P], len[B];
    uint8_t cls[B * T * K], dir[B * T];
    float *control[2], *dcontrol[2];
} fixture;

static const ns_model_loss_weights W = {0.7f, 0.3f, 0.2f};

static double loss_of(fixture *f)
{
    ns_model_forward(NULL, f->a, &f->p, &f->c, f->x, f->t, f->prompt, P, f->len, B, T,
                     (const float *const *)f->control);
    return ns_model_loss(f->a, &f->c, f->cls, f->iat, f->dir, &W, NULL);
}

/* bins > 0: the timing head is logits over that many bins, and iat[] holds
 * bin positions; 0: the regressed timing. groups: tokens per packet.
 * self_cond: the model reads f->xsc (random rows) as its estimate. */
static void setup_sized(fixture *f, int bins, int groups, int self_cond, int d)
{
    memset(f, 0, sizeof *f);
    assert_int_equal(ns_model_config_named(&f->c, "tiny"), 0);
    f->c.d = d, f->c.n_head = 2, f->c.n_layer = 2, f->c.mlp_ratio = 2, f->c.groups = groups;
    f->c.self_cond = self_cond;
    f->c.max_packets = T, f->c.n_bits = K, f->c.in_dim = 2 * K + 2, f->c.vocab = 4;
    f->c.timing_bins = bins, f->c.out_dim = 3 * K + 1 + (bins ? bins + NS_MODEL_TIMING_SUB : 1);
    assert_true(ns_model_config_valid(&f->c));
    f->n = ns_model_params_layout(NULL, &f->c, NULL);
    f->mem = malloc(f->n * sizeof(float));
    f->gmem = calloc(f->n, sizeof(float));
    ns_model_params_layout(&f->p, &f->c, f->mem);
    ns_model_params_layout(&f->g, &f->c, f->gmem);
    /* Random everywhere (not adaLN-Zero), so that every path carries gradient. */
    ns_rng r;
    ns_rng_seed(&r, 11, 0);
    for (size_t i = 0; i < f->n; i++) f->mem[i] = 0.3f * ns_rng_normal(&r);
    for (size_t i = 0; i < sizeof f->x / sizeof f->x[0]; i++) f->x[i] = ns_rng_normal(&r);
    for (int b = 0; b < B; b++) f->t[b] = 0.2f + 0.3f * b;
    int lens[B] = {5, 3, 1};
    memcpy(f->len, lens, sizeof lens);
    int prompts[B * P] = {0, 2, 1, -1, -1, -1};
    memcpy(f->prompt, prompts, sizeof prompts);
    for (int i = 0; i < B * T * K; i++) f->cls[i] = (uint8_t)ns_rng_below(&r, 3);
    for (int i = 0; i < B * T; i++) f->iat[i] = ns_rng_normal(&r), f->dir[i] = (uint8_t)ns_rng_below(&r, 2);
    if (bins)
        for (int i = 0; i < B * T; i++) f->iat[i] = (float)ns_rng_below(&r, (uint64_t)bins) + ns_rng_float(&r);
    assert_int_equal(ns_model_acts_new(&f->a, &f->c, B, T), 0);
    if (self_cond) {
        for (size_t i = 0; i < sizeof f->xsc / sizeof f->xsc[0]; i++) f->xsc[i] = 2 * ns_rng_float(&r) - 1;
        ns_model_acts_self_cond(f->a, f->xsc);
    }
}

static void setup_model(fixture *f, int bins, int groups, int self_cond) { setup_sized(f, bins, groups, self_cond, 8); }
static void setup_grouped(fixture *f, int bins, int groups) { setup_model(f, bins, groups, 0); }

static void setup_bins(fixture *f, int bins) { setup_grouped(f, bins, 1); }
static void setup(fixture *f) { setup_bins(f, 0); }

static void teardown(fixture *f)
{
    ns_model_acts_free(f->a);
    free(f->mem);
    free(f->gmem);
    for (int l = 0; l < 2; l++) free(f->control[l]), free(f->dcontrol[l]);
}

static double loss_ctx(void *f) { return loss_of(f); }

static void check_slice(fixture *f, const char *name, float *param, float *grad, size_t count)
{
    tu_check_gradient(name, param, grad, count, loss_ctx, f);
}

/* Every tensor of f's model against finite differences (after a forward
 * and backward): G d wide where a row's G tokens meet the row. */
static void check_every_tensor(fixture *f)
{
    size_t d = (size_t)f->c.d, h = d * (size_t)f->c.mlp_ratio, gd = (size_t)ns_model_groups(&f->c) * d;
    check_slice(f, "in_w", f->p.in_w, f->g.in_w, gd * (size_t)f->c.in_dim);
    check_slice(f, "in_b", f->p.in_b, f->g.in_b, gd);
    check_slice(f, "pos", f->p.pos, f->g.pos, (size_t)T * gd);
    check_slice(f, "t1_w", f->p.t1_w, f->g.t1_w, d * d);
    check_slice(f, "t1_b", f->p.t1_b, f->g.t1_b, d);
    check_slice(f, "t2_w", f->p.t2_w, f->g.t2_w, d * d);
    check_slice(f, "t2_b", f->p.t2_b, f->g.t2_b, d);
    check_slice(f, "prompt", f->p.prompt, f->g.prompt, 4 * d);
    for (int l = 0; l < f->c.n_layer; l++) {
        check_slice(f, "ada_w", f->p.ada_w[l], f->g.ada_w[l], 6 * d * d);
        check_slice(f, "ada_b", f->p.ada_b[l], f->g.ada_b[l], 6 * d);
        check_slice(f, "qkv_w", f->p.qkv_w[l], f->g.qkv_w[l], 3 * d * d);
        check_slice(f, "qkv_b", f->p.qkv_b[l], f->g.qkv_b[l], 3 * d);
        check_slice(f, "proj_w", f->p.proj_w[l], f->g.proj_w[l], d * d);
        check_slice(f, "proj_b", f->p.proj_b[l], f->g.proj_b[l], d);
        check_slice(f, "fc_w", f->p.fc_w[l], f->g.fc_w[l], h * d);
        check_slice(f, "fc_b", f->p.fc_b[l], f->g.fc_b[l], h);
        check_slice(f, "fc2_w", f->p.fc2_w[l], f->g.fc2_w[l], d * h);
        check_slice(f, "fc2_b", f->p.fc2_b[l], f->g.fc2_b[l], d);
    }
    check_slice(f, "fada_w", f->p.fada_w, f->g.fada_w, 2 * d * d);
    check_slice(f, "fada_b", f->p.fada_b, f->g.fada_b, 2 * d);
    check_slice(f, "out_w", f->p.out_w, f->g.out_w, (size_t)f->c.out_dim * gd);
    check_slice(f, "out_b", f->p.out_b, f->g.out_b, (size_t)f->c.out_dim);
    check_slice(f, "len1_w", f->p.len1_w, f->g.len1_w, d * d);
    check_slice(f, "len1_b", f->p.len1_b, f->g.len1_b, d);
    check_slice(f, "len2_w", f->p.len2_w, f->g.len2_w, (size_t)T * d);
    check_slice(f, "len2_b", f->p.len2_b, f->g.len2_b, T);
    if (f->c.self_cond) check_slice(f, "sc_w", f->p.sc_w, f->g.sc_w, gd * (size_t)f->c.in_dim);
}

static void test_backward_matches_finite_differences(void **state)
{
    (void)state;
    fixture f;
    setup(&f);
    loss_of(&f);
    assert_int_equal(ns_model_backward(&f.g, f.a, &f.p, &f.c, NULL), 0);
    check_every_tensor(&f);
    teardown(&f);
}

/* Issue 15: the length head past the window. Classes 1..T then log2 bins
 * (T 2^j, T 2^(j+1)]; with whole-length targets in those bins its gradient
 * matches finite differences, and a fresh head's length loss is the log of
 * its class count. */
static void test_length_bins(void **state)
{
    (void)state;
    ns_model_config c = {.max_packets = 8, .len_bins = 3};
    assert_int_equal(ns_model_length_classes(&c), 11);
    assert_int_equal(ns_model_length_class(&c, 1), 0);
    assert_int_equal(ns_model_length_class(&c, 8), 7);
    assert_int_equal(ns_model_length_class(&c, 9), 8);
    assert_int_equal(ns_model_length_class(&c, 16), 8);
    assert_int_equal(ns_model_length_class(&c, 17), 9);
    assert_int_equal(ns_model_length_class(&c, 33), 10);
    assert_int_equal(ns_model_length_class(&c, 100000), 10);   /* the last bin takes the rest */
    c.len_bins = 0;
    assert_int_equal(ns_model_length_class(&c, 100000), 7);    /* no bins: the window's last */

    fixture f;
    memset(&f, 0, sizeof f);
    /* setup()'s model with two bins past the window of T rows. */
    assert_int_equal(ns_model_config_named(&f.c, "tiny"), 0);
    f.c.d = 8, f.c.n_head = 2, f.c.n_layer = 2, f.c.mlp_ratio = 2;
    f.c.max_packets = T, f.c.n_bits = K, f.c.in_dim = 2 * K + 2, f.c.vocab = 4, f.c.out_dim = 3 * K + 2;
    f.c.len_bins = 2;
    assert_true(ns_model_config_valid(&f.c));
    f.c.len_bins = NS_MODEL_MAX_LEN_BINS + 1;
    assert_false(ns_model_config_valid(&f.c));
    f.c.len_bins = 2;
    f.n = ns_model_params_layout(NULL, &f.c, NULL);
    f.mem = malloc(f.n * sizeof(float));
    f.gmem = calloc(f.n, sizeof(float));
    ns_model_params_layout(&f.p, &f.c, f.mem);
    ns_model_params_layout(&f.g, &f.c, f.gmem);
    assert_true(f.p.len2_b + T + 2 == f.p.cont);       /* then the continuation vector, the array's end */
    assert_true(f.p.cont + f.c.d == f.mem + f.n);
    ns_rng r;
    ns_rng_seed(&r, 12, 0);
    for (size_t i = 0; i < f.n; i++) f.mem[i] = 0.3f * ns_rng_normal(&r);
    for (size_t i = 0; i < sizeof f.x / sizeof f.x[0]; i++) f.x[i] = ns_rng_normal(&r);
    for (int b = 0; b < B; b++) f.t[b] = 0.2f + 0.3f * b, f.len[b] = T - b;
    for (int i = 0; i < B * P; i++) f.prompt[i] = i % 3 ? (int)(i % 4) : -1;
    for (int i = 0; i < B * T * K; i++) f.cls[i] = (uint8_t)ns_rng_below(&r, 3);
    for (int i = 0; i < B * T; i++) f.iat[i] = ns_rng_normal(&r), f.dir[i] = (uint8_t)ns_rng_below(&r, 2);
    assert_int_equal(ns_model_acts_new(&f.a, &f.c, B, T), 0);
    int target[B];
    for (int b = 0; b < B; b++) target[b] = ns_model_length_class(&f.c, (uint64_t)(T * 2 + b * T));   /* past it */
    assert_int_equal(target[0], T + 0);
    assert_int_equal(target[2], T + 1);
    ns_model_acts_length_target(f.a, target);
    static const uint8_t cont[B] = {1, 0, 1};   /* flows 0 and 2 are windows inside their flows */
    ns_model_acts_continuation(f.a, cont);
    loss_of(&f);
    assert_int_equal(ns_model_backward(&f.g, f.a, &f.p, &f.c, NULL), 0);
    size_t d = (size_t)f.c.d;
    check_slice(&f, "len2_w", f.p.len2_w, f.g.len2_w, (size_t)(T + 2) * d);
    check_slice(&f, "len2_b", f.p.len2_b, f.g.len2_b, T + 2);
    check_slice(&f, "len1_w", f.p.len1_w, f.g.len1_w, d * d);
    check_slice(&f, "prompt", f.p.prompt, f.g.prompt, 4 * d);
    check_slice(&f, "cont", f.p.cont, f.g.cont, d);
    /* A fresh head (len2 zero): every class equally likely. */
    memset(f.p.len2_w, 0, (size_t)(T + 2) * d * sizeof(float));
    memset(f.p.len2_b, 0, (T + 2) * sizeof(float));
    ns_model_forward(NULL, f.a, &f.p, &f.c, f.x, f.t, f.prompt, P, f.len, B, T, NULL);
    float parts[4];
    ns_model_loss_weights w = {1, 1, 1};
    ns_model_loss(f.a, &f.c, f.cls, f.iat, f.dir, &w, parts);
    assert_true(fabsf(parts[3] - logf((float)(T + 2))) < 1e-4f);
    teardown(&f);
}

/* The timing bins' and sub-bins' cross-entropies: every output of the head
 * (out_b has one entry per bin and sub-bin, out_w a spread) and the layers
 * below it against finite differences; a fresh model's timing loss is
 * log(bins) + log(sub-bins), every bin equally likely; the config's output
 * width follows the bins. */
static void test_timing_bins_backward(void **state)
{
    (void)state;
    enum { NB = 6 };
    fixture f;
    setup_bins(&f, NB);
    loss_of(&f);
    assert_int_equal(ns_model_backward(&f.g, f.a, &f.p, &f.c, NULL), 0);
    size_t d = (size_t)f.c.d;
    check_slice(&f, "out_w", f.p.out_w, f.g.out_w, (size_t)f.c.out_dim * d);
    check_slice(&f, "out_b", f.p.out_b, f.g.out_b, (size_t)f.c.out_dim);
    check_slice(&f, "fada_w", f.p.fada_w, f.g.fada_w, 2 * d * d);
    check_slice(&f, "fc2_b", f.p.fc2_b[1], f.g.fc2_b[1], d);
    check_slice(&f, "in_w", f.p.in_w, f.g.in_w, d * (size_t)f.c.in_dim);
    /* The loss is the bins' cross-entropy: a row's timing part moves with
     * the logit of its own bin only as -d/dl log softmax. */
    float parts[4];
    ns_model_params_init(&f.p, &f.c, 5);
    loss_of(&f);
    ns_model_loss(f.a, &f.c, f.cls, f.iat, f.dir, &W, parts);
    assert_float_equal(parts[1], log((double)NB) + log((double)NS_MODEL_TIMING_SUB), 1e-5);
    f.p.out_b[3 * K + 2] = 1.0f; /* bin 2 more likely everywhere */
    loss_of(&f);
    ns_model_loss(f.a, &f.c, f.cls, f.iat, f.dir, &W, parts);
    double in2 = 0, rows = 0;
    for (int b = 0; b < B; b++)
        for (int t = 0; t < f.len[b]; t++) in2 += (int)f.iat[b * T + t] == 2, rows++;
    double z = log(NB - 1 + M_E), want = z - in2 / rows + log((double)NS_MODEL_TIMING_SUB);
    assert_float_equal(parts[1], want, 1e-5);
    ns_model_config c = f.c;
    c.out_dim--;
    assert_false(ns_model_config_valid(&c));
    c.out_dim++, c.timing_bins = 1;
    assert_false(ns_model_config_valid(&c));
    c.timing_bins = NS_MODEL_MAX_TIMING_BINS + 1, c.out_dim = 3 * K + 1 + ns_model_timing_outputs(&c);
    assert_false(ns_model_config_valid(&c));
    teardown(&f);
}

/* Each control residual's gradient (f->dcontrol, from the last backward)
 * against central differences of the loss, every stride-th float. */
static void check_control_grads(fixture *f, size_t Nd, size_t stride)
{
    for (int l = 0; l < 2; l++)
        for (size_t i = 0; i < Nd; i += stride) {
            const float h = 1e-2f;
            f->control[l][i] = h;
            double lp = loss_of(f);
            f->control[l][i] = -h;
            double lm = loss_of(f);
            f->control[l][i] = 0;
            double num = (lp - lm) / (2 * h);
            assert_true(fabs(num - f->dcontrol[l][i]) <= 0.05 * fmax(1e-2, fabs(num) + fabs(f->dcontrol[l][i])));
        }
}

static void test_control_gradient(void **state)
{
    (void)state;
    fixture f;
    setup(&f);
    size_t Nd = (size_t)B * T * f.c.d;
    for (int l = 0; l < 2; l++) {
        f.control[l] = calloc(Nd, sizeof(float));
        f.dcontrol[l] = calloc(Nd, sizeof(float));
    }
    double base = loss_of(&f);
    assert_int_equal(ns_model_backward(&f.g, f.a, &f.p, &f.c, f.dcontrol), 0);
    /* A control residual changes the output; its gradient matches differences. */
    f.control[0][3] = 0.5f;
    assert_true(fabs(loss_of(&f) - base) > 1e-6);
    f.control[0][3] = 0;
    check_control_grads(&f, Nd, 7);
    teardown(&f);
}

static void test_fresh_model_is_neutral(void **state)
{
    (void)state;
    /* adaLN-Zero: with the real initialisation every output is 0, so each
     * bit's three classes are equally likely, and every length too. */
    fixture f;
    setup(&f);
    ns_model_params_init(&f.p, &f.c, 5);
    float out[B * T * (3 * K + 2)], loss[4];
    ns_model_forward(out, f.a, &f.p, &f.c, f.x, f.t, f.prompt, P, f.len, B, T, NULL);
    for (size_t i = 0; i < sizeof out / sizeof out[0]; i++) assert_true(out[i] == 0);
    ns_model_loss(f.a, &f.c, f.cls, f.iat, f.dir, &W, loss);
    assert_float_equal(loss[0], log(3.0), 1e-5);
    assert_float_equal(loss[2], log(2.0), 1e-5);
    assert_float_equal(loss[3], log((double)T), 1e-5);
    float logits[B * T];
    ns_model_length_logits(logits, f.a, &f.p, &f.c, f.prompt, P, B);
    for (int i = 0; i < B * T; i++) assert_true(logits[i] == 0);
    teardown(&f);
}

/* Guidance's shared input on f's model: a forward of 2 flows whose x_t rows
 * are equal gives the same outputs with the input projection computed once,
 * without reading the second flow's rows. */
static void check_shared_input(fixture *f)
{
    enum { ROW = T * (2 * K + 2), OUT = T * (3 * K + 2) };
    float x[2 * ROW], t[2] = {0.4f, 0.4f}, want[2 * OUT], got[2 * OUT];
    int prompt[2 * P] = {0, 2, -1, -1}, len[2] = {4, 4};
    memcpy(x, f->x, sizeof(float) * ROW);
    memcpy(x + ROW, f->x, sizeof(float) * ROW);
    ns_model_forward(want, f->a, &f->p, &f->c, x, t, prompt, P, len, 2, T, NULL);
    for (int i = 0; i < ROW; i++) x[ROW + i] = NAN; /* not read */
    ns_model_acts_share_input(f->a, 1);
    ns_model_forward(got, f->a, &f->p, &f->c, x, t, prompt, P, len, 2, T, NULL);
    ns_model_acts_share_input(f->a, 0);
    assert_memory_equal(want, got, sizeof want);
}

/* Guidance's shared input on a one-token model. */
static void test_shared_input(void **state)
{
    (void)state;
    fixture f;
    setup(&f);
    check_shared_input(&f);
    teardown(&f);
}

static void test_layout_and_decay_mask(void **state)
{
    (void)state;
    ns_model_config c = {0};
    assert_int_equal(ns_model_config_named(&c, "base"), 0);
    assert_int_equal(ns_model_config_named(&c, "huge"), -6);
    c.max_packets = 64, c.n_bits = 544, c.in_dim = 2 * 544 + 2, c.out_dim = 3 * 544 + 2, c.vocab = 40;
    size_t n = ns_model_params_layout(NULL, &c, NULL);
    float *mem = calloc(n, sizeof(float));
    ns_model_params p;
    assert_int_equal(ns_model_params_layout(&p, &c, mem), n);
    /* The slices tile the array: the last one ends at n. */
    assert_true(p.len2_b + c.max_packets == mem + n);
    uint8_t *mask = malloc(n);
    ns_model_decay_mask(&c, mask);
    assert_int_equal(mask[p.in_w - mem], 1);
    assert_int_equal(mask[p.in_b - mem], 0);
    assert_int_equal(mask[p.pos - mem], 0);
    assert_int_equal(mask[p.prompt - mem], 0);
    assert_int_equal(mask[p.qkv_w[3] - mem], 1);
    assert_int_equal(mask[p.qkv_b[3] - mem], 0);

    /* The list of matrices: where the slices are, the mask's decayed floats
     * exactly, 4 adapted per block and the output layer, and the FLOP count
     * as it was written out by hand. */
    ns_model_matrix mat[NS_MODEL_MAX_MATRICES];
    int k = ns_model_matrices(&c, mat), lora = 0;
    assert_int_equal(k, 7 + 5 * c.n_layer);
    assert_ptr_equal(ns_model_matrix_of(&p, &mat[0]), p.in_w);
    assert_int_equal(mat[k - 1].off, p.len2_w - mem);
    size_t decayed = 0, marked = 0;
    for (int i = 0; i < k; i++) {
        decayed += (size_t)mat[i].rows * mat[i].cols;
        lora += !!(mat[i].flags & NS_MODEL_MAT_LORA);
        if (mat[i].layer == 3 && mat[i].rows == 3 * c.d) assert_ptr_equal(ns_model_matrix_of(&p, &mat[i]), p.qkv_w[3]);
    }
    for (size_t i = 0; i < n; i++) marked += mask[i];
    assert_int_equal(decayed, marked);
    assert_int_equal(lora, 4 * c.n_layer + 1);
    double d = c.d, h = d * c.mlp_ratio, L = c.n_layer, rows = 50, flows = 7;
    double per_token = c.in_dim * d + L * (4 * d * d + 2 * h * d + 2 * rows * d) + d * c.out_dim;
    double per_flow = 2 * d * d + L * 6 * d * d + 2 * d * d + d * d + d * c.max_packets;
    assert_true(ns_model_step_flops(&c, (int)flows, (int)rows) == 6.0 * (flows * rows * per_token + flows * per_flow));
    free(mask);
    free(mem);
}

/* Several tokens per packet (issues 16, 17): every tensor of a model of 3
 * tokens a row against finite differences, then the control residuals,
 * which are per token ([B, T G, d]). */
static void test_grouped_backward(void **state)
{
    (void)state;
    enum { G = 3 };
    fixture f;
    setup_grouped(&f, 4, G);
    loss_of(&f);
    assert_int_equal(ns_model_backward(&f.g, f.a, &f.p, &f.c, NULL), 0);
    size_t d = (size_t)f.c.d, gd = G * d;
    check_every_tensor(&f);

    size_t Nd = (size_t)B * T * gd;
    for (int l = 0; l < 2; l++) {
        f.control[l] = calloc(Nd, sizeof(float));
        f.dcontrol[l] = calloc(Nd, sizeof(float));
    }
    loss_of(&f);
    memset(f.gmem, 0, f.n * sizeof(float));
    assert_int_equal(ns_model_backward(&f.g, f.a, &f.p, &f.c, f.dcontrol), 0);
    check_control_grads(&f, Nd, 5);
    teardown(&f);
}

/* A grouped flow is len G tokens: its rows attend to every token of its
 * valid rows (a change to its last row reaches its first row's logits) and
 * to none past them (padding rows change nothing). Masking at len tokens,
 * not len G, would cut row 0 off from the rows after it. */
static void test_grouped_mask(void **state)
{
    (void)state;
    fixture f;
    setup_grouped(&f, 0, 4);
    const int od = f.c.out_dim, in = f.c.in_dim;
    float want[B * T * (3 * K + 2)], got[B * T * (3 * K + 2)];
    ns_model_forward(want, f.a, &f.p, &f.c, f.x, f.t, f.prompt, P, f.len, B, T, NULL);
    /* Flow 1 has 3 of T rows: its padding rows 3, 4, then its row 2. */
    for (int r = 3; r < T; r++)
        for (int i = 0; i < in; i++) f.x[((size_t)1 * T + r) * in + i] += 5.0f;
    ns_model_forward(got, f.a, &f.p, &f.c, f.x, f.t, f.prompt, P, f.len, B, T, NULL);
    for (int r = 0; r < 3; r++)
        assert_memory_equal(want + ((size_t)1 * T + r) * od, got + ((size_t)1 * T + r) * od, (size_t)od * sizeof(float));
    for (int i = 0; i < in; i++) f.x[((size_t)1 * T + 2) * in + i] += 1.0f;
    ns_model_forward(got, f.a, &f.p, &f.c, f.x, f.t, f.prompt, P, f.len, B, T, NULL);
    double moved = 0;
    for (int k = 0; k < od; k++) moved += fabs(got[(size_t)1 * T * od + k] - want[(size_t)1 * T * od + k]);
    assert_true(moved > 1e-3);
    teardown(&f);
}

/* A grouped model: the layout (in_w, pos and out_w G times wider), the list
 * of matrices that the decay mask, LoRA and the packed weights follow, the
 * FLOP count written out by hand, guidance's shared input, and the config's
 * range. groups 0 (a config built by hand) is one token a packet. */
static void test_grouped_layout(void **state)
{
    (void)state;
    ns_model_config c = {0}; /* the fields config_named leaves (timing_bins, len_bins) are 0 */
    assert_int_equal(ns_model_config_named(&c, "small"), 0);
    assert_int_equal(c.groups, 1);
    c.max_packets = 16, c.n_bits = 100, c.in_dim = 2 * 100 + 2, c.out_dim = 3 * 100 + 2, c.vocab = 9;
    size_t n1 = ns_model_params_layout(NULL, &c, NULL);
    c.groups = 0;
    assert_int_equal(ns_model_params_layout(NULL, &c, NULL), n1);
    assert_false(ns_model_config_valid(&c));
    c.groups = NS_MODEL_MAX_GROUPS + 1;
    assert_false(ns_model_config_valid(&c));
    c.groups = 4, c.d = 64, c.n_head = 4;
    assert_true(ns_model_config_valid(&c));
    size_t n = ns_model_params_layout(NULL, &c, NULL), d = 64, gd = 4 * d;
    float *mem = calloc(n, sizeof(float));
    ns_model_params p;
    ns_model_params_layout(&p, &c, mem);
    assert_true(p.in_b == p.in_w + gd * (size_t)c.in_dim);
    assert_true(p.pos == p.in_b + gd);
    assert_true(p.t1_w == p.pos + (size_t)c.max_packets * gd);
    assert_true(p.out_b == p.out_w + (size_t)c.out_dim * gd);
    assert_true(p.len2_b + c.max_packets == mem + n);
    ns_model_matrix mat[NS_MODEL_MAX_MATRICES];
    int k = ns_model_matrices(&c, mat);
    assert_int_equal(mat[0].rows, (int)gd);
    assert_int_equal(mat[0].cols, c.in_dim);
    for (int i = 0; i < k; i++)
        if (ns_model_matrix_of(&p, &mat[i]) == p.out_w) assert_int_equal(mat[i].cols, (int)gd);
    uint8_t *mask = malloc(n);
    ns_model_decay_mask(&c, mask);
    size_t marked = 0, decayed = 0;
    for (size_t i = 0; i < n; i++) marked += mask[i];
    for (int i = 0; i < k; i++) decayed += (size_t)mat[i].rows * mat[i].cols;
    assert_int_equal(marked, decayed);
    assert_int_equal(mask[p.pos + gd * 3 - mem], 0);
    /* Per row: the input and output maps once, each block's matrices and
     * attention (over T G keys) once for each of its G tokens. */
    double G = 4, h = (double)d * c.mlp_ratio, L = c.n_layer, rows = 10, flows = 3, dd = (double)d;
    double per_row = c.in_dim * G * dd + G * L * (4 * dd * dd + 2 * h * dd + 2 * rows * G * dd) + G * dd * c.out_dim;
    double per_flow = 2 * dd * dd + L * 6 * dd * dd + 2 * dd * dd + dd * dd + dd * c.max_packets;
    assert_true(fabs(ns_model_step_flops(&c, (int)flows, (int)rows) - 6.0 * (flows * rows * per_row + flows * per_flow)) <
                1e-6 * per_row);
    free(mask);
    free(mem);

    /* Guidance's shared input on a grouped model: the second half's tokens
     * are the first half's, all G of each row. */
    fixture f;
    setup_grouped(&f, 0, 2);
    check_shared_input(&f);
    teardown(&f);
}

/* Self-conditioning (issue 16): sc_w's gradient and every other tensor's
 * against finite differences, on one token a packet and on 2, with the
 * estimate read as an input (no gradient into it); the layout (sc_w last,
 * decayed, one more matrix, none without self_cond); the estimate reaches
 * the outputs, NULL is an estimate of zeros, and guidance's shared input
 * takes the first half's estimate for both halves. */
static void test_self_cond(void **state)
{
    (void)state;
    for (int groups = 1; groups <= 2; groups++) {
        fixture f;
        setup_model(&f, 4, groups, 1);
        size_t gd = (size_t)groups * f.c.d, in = (size_t)f.c.in_dim;
        assert_true(ns_model_config_valid(&f.c));
        assert_true(f.p.sc_w + gd * in == f.mem + f.n);
        loss_of(&f);
        assert_int_equal(ns_model_backward(&f.g, f.a, &f.p, &f.c, NULL), 0);
        check_every_tensor(&f);

        /* The estimate moves the outputs; NULL and zeros give the same. */
        enum { OUT = B * T * (3 * K + 1 + 4 + NS_MODEL_TIMING_SUB) };
        float with[OUT], none[OUT], zeros[OUT];
        ns_model_forward(with, f.a, &f.p, &f.c, f.x, f.t, f.prompt, P, f.len, B, T, NULL);
        ns_model_acts_self_cond(f.a, NULL);
        ns_model_forward(none, f.a, &f.p, &f.c, f.x, f.t, f.prompt, P, f.len, B, T, NULL);
        float z[sizeof f.xsc / sizeof f.xsc[0]] = {0};
        ns_model_acts_self_cond(f.a, z);
        ns_model_forward(zeros, f.a, &f.p, &f.c, f.x, f.t, f.prompt, P, f.len, B, T, NULL);
        assert_memory_equal(none, zeros, sizeof none);
        assert_true(memcmp(with, none, sizeof with) != 0);

        /* Shared input: flow 1's estimate is not read, flow 0's stands for it. */
        enum { ROW = T * (2 * K + 2), ROWOUT = T * (3 * K + 1 + 4 + NS_MODEL_TIMING_SUB) };
        float x[2 * ROW], sc[2 * ROW], t[2] = {0.4f, 0.4f}, want[2 * ROWOUT], got[2 * ROWOUT];
        int prompt[2 * P] = {0, 2, -1, -1}, len[2] = {4, 4};
        memcpy(x, f.x, sizeof(float) * ROW), memcpy(x + ROW, f.x, sizeof(float) * ROW);
        memcpy(sc, f.xsc, sizeof(float) * ROW), memcpy(sc + ROW, f.xsc, sizeof(float) * ROW);
        ns_model_acts_self_cond(f.a, sc);
        ns_model_forward(want, f.a, &f.p, &f.c, x, t, prompt, P, len, 2, T, NULL);
        for (int i = 0; i < ROW; i++) x[ROW + i] = sc[ROW + i] = NAN;
        ns_model_acts_share_input(f.a, 1);
        ns_model_forward(got, f.a, &f.p, &f.c, x, t, prompt, P, len, 2, T, NULL);
        assert_memory_equal(want, got, sizeof want);

        /* sc_w is a decayed matrix, last in the list; without self_cond it is gone. */
        uint8_t *mask = malloc(f.n);
        ns_model_decay_mask(&f.c, mask);
        assert_int_equal(mask[f.p.sc_w - f.mem], 1);
        ns_model_matrix mat[NS_MODEL_MAX_MATRICES];
        int k = ns_model_matrices(&f.c, mat);
        assert_ptr_equal(ns_model_matrix_of(&f.p, &mat[k - 1]), f.p.sc_w);
        assert_int_equal(mat[k - 1].rows, (int)gd);
        assert_true(mat[k - 1].flags & NS_MODEL_MAT_TOKEN);
        ns_model_config c0 = f.c;
        c0.self_cond = 0;
        assert_int_equal(ns_model_params_layout(NULL, &c0, NULL), f.n - gd * in);
        assert_int_equal(ns_model_matrices(&c0, mat), k - 1);
        c0.self_cond = 2;
        assert_false(ns_model_config_valid(&c0));
        free(mask);
        teardown(&f);
    }
}

/* Sampling's forward (ns_model_acts_inference) shares one block's buffers
 * over the blocks and keeps no attention probabilities: the same output
 * bits as training's forward, for heads of 4 channels (the BLAS attention)
 * and of 16 (the fused kernel, where the CPU has one), one and two tokens a
 * packet; and a backward after it is refused, not run on overwritten
 * activations. */
static void test_inference_forward(void **state)
{
    (void)state;
    enum { OUT = B * T * (3 * K + 1 + 4 + NS_MODEL_TIMING_SUB) };
    for (int d = 8; d <= 32; d += 24)
        for (int groups = 1; groups <= 2; groups++) {
            fixture f;
            setup_sized(&f, 4, groups, 1, d);
            float want[OUT], got[OUT], again[OUT];
            ns_model_forward(want, f.a, &f.p, &f.c, f.x, f.t, f.prompt, P, f.len, B, T, NULL);
            ns_model_acts_inference(f.a, 1);
            ns_model_forward(got, f.a, &f.p, &f.c, f.x, f.t, f.prompt, P, f.len, B, T, NULL);
            assert_memory_equal(want, got, sizeof want);
            ns_model_loss(f.a, &f.c, f.cls, f.iat, f.dir, &W, NULL);
            assert_int_equal(ns_model_backward(&f.g, f.a, &f.p, &f.c, NULL), NS_EARG);
            ns_model_acts_inference(f.a, 0);
            ns_model_forward(again, f.a, &f.p, &f.c, f.x, f.t, f.prompt, P, f.len, B, T, NULL);
            assert_memory_equal(want, again, sizeof want);
            ns_model_loss(f.a, &f.c, f.cls, f.iat, f.dir, &W, NULL);
            assert_int_equal(ns_model_backward(&f.g, f.a, &f.p, &f.c, NULL), 0);
            teardown(&f);
        }
}

/* Provenance text (issue 19): what ns_prov_add writes the reader takes;
 * what could disturb a terminal or is not UTF-8 is refused. */
static void test_provenance_text(void **state)
{
    (void)state;
    char *t = NULL;
    assert_int_equal(ns_prov_add(&t, "command", "netsynth train --data 'a\nb\x1b[2J'"), NS_OK);
    assert_string_equal(t, "command=netsynth train --data 'a b [2J'\n");
    char big[6000];
    memset(big, 'x', sizeof big);
    memcpy(big + 4091, "\xc3\xa9", 2); /* the cut at 4092 would fall inside it */
    big[sizeof big - 1] = 0;
    assert_int_equal(ns_prov_add(&t, "dataset", "%s", big), NS_OK);
    assert_int_equal(ns_prov_check(t, strlen(t), "t"), NS_OK);
    assert_non_null(strstr(t, "x...\n"));
    assert_int_equal(ns_prov_add(&t, "a=b", "c"), NS_EARG);
    free(t);
    static const struct {
        const char *text;
        const char *why;
    } bad[] = {{"a=b", "does not end its last line"},       {"novalue\n", "is not key=value"},
               {"=v\n", "is not key=value"},                {"a=\x01\n", "not printable"},
               {"a=\xc2\x9b\n", "not printable"},          /* C1 CSI */
               {"a=\xc0\xaf\n", "not printable"},          /* overlong '/' */
               {"a=\xed\xa0\x80\n", "not printable"},      /* a surrogate */
               {"a=\xc3\n", "not printable"},              /* cut short */
               {"a=\x7f\n", "not printable"}};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        assert_int_equal(ns_prov_check(bad[i].text, strlen(bad[i].text), "f.nsm"), NS_ECORRUPT);
        if (!strstr(ns_errmsg(), "f.nsm: provenance") || !strstr(ns_errmsg(), bad[i].why))
            fail_msg("%zu: %s", i, ns_errmsg());
    }
    assert_int_equal(ns_prov_check("a=b\0c\n", 6, "f.nsm"), NS_ECORRUPT); /* a NUL inside */
    assert_int_equal(ns_prov_check("k=caf\xc3\xa9 \xf0\x9f\x98\x80\tok\n", 16, "f.nsm"), NS_OK);
    char *long_text = malloc(NS_PROV_MAX + 2);
    memset(long_text, 'a', NS_PROV_MAX + 1);
    long_text[0] = 'k', long_text[1] = '=', long_text[NS_PROV_MAX] = '\n';
    assert_int_equal(ns_prov_check(long_text, NS_PROV_MAX + 1, "f.nsm"), NS_ECORRUPT);
    assert_non_null(strstr(ns_errmsg(), "at most"));
    free(long_text);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_backward_matches_finite_differences),
        cmocka_unit_test(test_timing_bins_backward),
        cmocka_unit_test(test_length_bins),
        cmocka_unit_test(test_control_gradient),
        cmocka_unit_test(test_fresh_model_is_neutral),
        cmocka_unit_test(test_layout_and_decay_mask),
        cmocka_unit_test(test_shared_input),
        cmocka_unit_test(test_grouped_backward),
        cmocka_unit_test(test_grouped_mask),
        cmocka_unit_test(test_grouped_layout),
        cmocka_unit_test(test_provenance_text),
        cmocka_unit_test(test_self_cond),
        cmocka_unit_test(test_inference_forward),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    tu_cleanup();
    return rc;
}
