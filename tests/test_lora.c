/* test_lora.c: low-rank adapters (lora.h): gradients, merging, the file. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"

#include "netsynth/error.h"
#include "netsynth/fileio.h"
#include "netsynth/lora.h"
#include "netsynth/repr.h"
#include "netsynth/rng.h"

enum { W = NS_NP_MODEL_WIDTH, RB = (W + 3) / 4, MAXF = 12 };

static void fill_random(float *x, size_t n, ns_rng *r, float sd)
{
    for (size_t i = 0; i < n; i++) x[i] = sd * ns_rng_normal(r);
}

/* ---- the adapted-weight forward and backward ---------------------------------- */

/* L = sum over the adapted matrices of G . W(A, B), W = W0 + s B A. */
static double adapted_loss(const ns_lora *a, const ns_model_config *c, const float *w0, float *w, const float *g,
                           size_t n)
{
    ns_model_params p0, p;
    ns_model_params_layout(&p0, c, (float *)w0);
    ns_model_params_layout(&p, c, w);
    ns_lora_forward(&p, &p0, c, a);
    double sum = 0;
    for (size_t i = 0; i < n; i++) sum += (double)g[i] * w[i];
    return sum;
}

static void test_gradients_match_finite_differences(void **state)
{
    (void)state;
    ns_model_config c = {.d = 8, .n_layer = 2, .n_head = 2, .mlp_ratio = 2, .max_packets = 3, .in_dim = 6,
                         .out_dim = 8, .n_bits = 2, .vocab = 2};
    ns_lora a = {.rank = 3, .alpha = 6, .d = 8, .n_layer = 2, .mlp_ratio = 2, .out_dim = 8};
    a.n_params = ns_lora_layout(NULL, &a, NULL);
    a.w = malloc(a.n_params * sizeof(float));
    ns_lora_layout(&a.p, &a, a.w);
    size_t n = ns_model_params_layout(NULL, &c, NULL);
    float *w0 = malloc(n * sizeof(float)), *w = calloc(n, sizeof(float)), *g = malloc(n * sizeof(float));
    float *ga = calloc(a.n_params, sizeof(float));
    ns_rng r;
    ns_rng_seed(&r, 7, 0);
    fill_random(a.w, a.n_params, &r, 0.5f);
    fill_random(w0, n, &r, 1.0f);
    fill_random(g, n, &r, 1.0f);
    /* dL/dW = G on every weight: the backward reads only the adapted slices. */
    ns_model_params gp;
    ns_model_params_layout(&gp, &c, g);
    ns_lora_params gap;
    ns_lora_layout(&gap, &a, ga);
    ns_lora_backward(&gap, &gp, &c, &a);

    /* L is bilinear in A and B, so central differences are exact but for
     * rounding: every parameter is checked. */
    double worst = 0;
    for (size_t i = 0; i < a.n_params; i++) {
        float keep = a.w[i], eps = 1e-2f;
        a.w[i] = keep + eps;
        double up = adapted_loss(&a, &c, w0, w, g, n);
        a.w[i] = keep - eps;
        double down = adapted_loss(&a, &c, w0, w, g, n);
        a.w[i] = keep;
        double fd = (up - down) / (2.0 * eps), err = fabs(fd - ga[i]) / fmax(1.0, fabs(fd));
        if (err > worst) worst = err;
    }
    print_message("%zu adapter gradients, worst relative error %.2e\n", a.n_params, worst);
    assert_true(worst < 2e-3);

    /* B = 0 leaves the weights as they were; in place adds. */
    memset(a.p.b[0], 0, sizeof(float) * 3 * 8 * 3);
    ns_model_params p0, p;
    ns_model_params_layout(&p0, &c, w0);
    ns_model_params_layout(&p, &c, w);
    ns_lora_forward(&p, &p0, &c, &a);
    assert_memory_equal(p.qkv_w[0], p0.qkv_w[0], sizeof(float) * 3 * 8 * 8);
    memcpy(w, w0, n * sizeof(float));
    ns_lora_forward(&p, &p, &c, &a);
    float want = p0.fc2_w[1][5];
    for (int k = 0; k < 3; k++) want += 2.0f * a.p.b[4 + 3][0 * 3 + k] * a.p.a[4 + 3][k * 16 + 5];
    assert_float_equal(p.fc2_w[1][5], want, 1e-4);
    /* The factors decay (their matrices do), the new embeddings do not. */
    a.n_emb = 2;
    a.n_params = ns_lora_layout(NULL, &a, NULL);
    uint8_t *mask = malloc(a.n_params);
    float *wa = realloc(a.w, a.n_params * sizeof(float));
    assert_non_null(wa), assert_non_null(mask);
    a.w = wa;
    ns_lora_layout(&a.p, &a, a.w);
    ns_lora_decay_mask(&a, &c, mask);
    assert_int_equal(a.p.n_adapted, 4 * 2 + 1);
    size_t emb = (size_t)(a.p.emb - a.w);
    for (size_t i = 0; i < a.n_params; i++) assert_int_equal(mask[i], i < emb);
    free(mask);
    free(w0), free(w), free(g), free(ga), free(a.w);
}

/* ---- a base, data, adapters -------------------------------------------------- */

/* A dataset of `n` two-packet flows labelled kind=tokens[label[i]]; rows
 * differ by label so that the representation has columns to model. */
typedef struct toy {
    const char *attr_names[2], *tokens[4], *files[1];
    uint32_t attr_first[3];
    ns_ds_flow flows[MAXF];
    int32_t labels[MAXF];
    int64_t iat[2 * MAXF];
    uint8_t dir[2 * MAXF], bits[2 * MAXF * RB];
    ns_dataset ds;
} toy;

static void make_toy(toy *t, const char *const *tokens, int n_tokens, const int *label, int n, const char *attr)
{
    memset(t, 0, sizeof *t);
    t->attr_names[0] = attr;
    for (int i = 0; i < n_tokens; i++) t->tokens[i] = tokens[i];
    t->files[0] = "toy";
    t->attr_first[1] = (uint32_t)n_tokens;
    int8_t row[W];
    for (int f = 0; f < n; f++) {
        t->flows[f] = (ns_ds_flow){.first = 2 * (uint64_t)f, .n_packets = 2, .seen = 2, .proto = 6};
        t->labels[f] = label[f];
        for (int k = 0; k < 2; k++) {
            memset(row, -1, W);
            for (int j = 0; j < 32; j++) row[j] = (int8_t)(((f + j + label[f]) % 3 == 0) ^ k);
            ns_dataset_pack_row(row, W, t->bits + (size_t)(2 * f + k) * RB);
            t->iat[2 * f + k] = k * 1000, t->dir[2 * f + k] = (uint8_t)k;
        }
    }
    t->ds = (ns_dataset){.width = W, .row_bytes = RB, .max_packets = 2, .n_flows = (uint64_t)n,
                         .n_packets = 2 * (uint64_t)n, .n_attrs = 1, .n_tokens = (uint32_t)n_tokens, .n_files = 1,
                         .attr_names = t->attr_names, .attr_first = t->attr_first, .tokens = t->tokens,
                         .files = t->files, .flows = t->flows, .labels = t->labels, .iat_ns = t->iat, .dir = t->dir,
                         .bits = t->bits};
}

static const char *const abc[3] = {"kind=a", "kind=b", "kind=c"};

/* A random "tiny" base trained on nothing, with the vocabulary a, b, c of
 * which only a and b are in its label combinations. */
static void make_base(ns_modelfile *m)
{
    toy t;
    make_toy(&t, abc, 3, (const int[]){0, 1, 0, 1}, 4, "kind");
    memset(m, 0, sizeof *m);
    assert_int_equal(ns_model_config_named(&m->cfg, "tiny"), NS_OK);
    assert_int_equal(ns_repr_fit(&m->repr, &t.ds, 0), NS_OK);
    m->cfg.max_packets = 2, m->cfg.n_bits = m->repr.n_bits, m->cfg.vocab = 3;
    m->cfg.in_dim = ns_repr_in_dim(&m->repr), m->cfg.out_dim = ns_repr_out_dim(&m->repr);
    m->sched = ns_schedule_default();
    assert_int_equal(ns_modelfile_alloc(m, 0), NS_OK);
    assert_int_equal(ns_modelfile_set_vocab(m, &t.ds), NS_OK);
    ns_model_params_init(&m->p, &m->cfg, 3);
    ns_rng r;
    ns_rng_seed(&r, 5, 0);
    fill_random(m->weights, m->n_params, &r, 0.1f);
}

static void test_init_and_merge(void **state)
{
    (void)state;
    ns_modelfile base, merged;
    make_base(&base);
    assert_false(ns_modelfile_token_trained(&base, 2));
    assert_true(ns_modelfile_token_trained(&base, 1));

    /* kind=c (in the vocabulary, never trained) and kind=d (new) get
     * embeddings; kind=a keeps the base's. */
    toy t;
    const char *const tokens[4] = {"kind=a", "kind=c", "kind=d", "kind=e"};
    make_toy(&t, tokens, 4, (const int[]){1, 2, 0, 1, 2}, 5, "kind");
    ns_lora a;
    assert_int_equal(ns_lora_init(&a, &base, &t.ds, 4, 8, 1), NS_OK);
    assert_int_equal(a.n_tokens, 3); /* kind=e has no flow */
    assert_int_equal(a.n_emb, 2);
    assert_int_equal(a.n_combos, 3);
    assert_string_equal(a.tokens[1], "kind=c");
    assert_true(a.has_emb[1] && a.has_emb[2] && !a.has_emb[0]);
    /* New embeddings start at the mean of the trained ones (a and b). */
    size_t d = (size_t)base.cfg.d;
    assert_float_equal(a.p.emb[3], (base.p.prompt[3] + base.p.prompt[d + 3]) / 2, 1e-6);

    const ns_lora *one = &a;
    ns_rng r;
    ns_rng_seed(&r, 9, 0);
    fill_random(a.p.b[4], (size_t)3 * d * 4, &r, 0.1f);
    fill_random(a.p.emb, 2 * d, &r, 1.0f);
    assert_int_equal(ns_lora_merge(&merged, &base, &one, NULL, 1), NS_OK);
    assert_int_equal(merged.n_tokens, 4);
    assert_int_equal(merged.cfg.vocab, 4);
    assert_string_equal(merged.tokens[3], "kind=d");
    assert_int_equal(merged.attr_first[1], 4);
    assert_memory_equal(merged.p.prompt, base.p.prompt, 3 * d * sizeof(float) - d * sizeof(float));
    assert_memory_equal(merged.p.prompt + 2 * d, a.p.emb, d * sizeof(float));     /* kind=c */
    assert_memory_equal(merged.p.prompt + 3 * d, a.p.emb + d, d * sizeof(float)); /* kind=d */
    assert_memory_equal(merged.p.qkv_w[0], base.p.qkv_w[0], 3 * d * d * sizeof(float)); /* B = 0 there */
    assert_memory_equal(merged.p.out_w, base.p.out_w, (size_t)base.cfg.out_dim * d * sizeof(float));
    float want = base.p.qkv_w[1][7];
    for (int k = 0; k < 4; k++) want += 2.0f * a.p.b[4][k] * a.p.a[4][k * d + 7];
    assert_float_equal(merged.p.qkv_w[1][7], want, 1e-5);
    assert_int_equal(merged.n_combos, base.n_combos + 3);
    assert_true(ns_modelfile_token_trained(&merged, 2) && ns_modelfile_token_trained(&merged, 3));
    ns_modelfile_free(&merged);

    /* Two adapters that teach one token; an adapter of another base. */
    const ns_lora *two[2] = {&a, &a};
    const char *names[2] = {"x.lora", "y.lora"};
    assert_int_equal(ns_lora_merge(&merged, &base, two, names, 2), NS_EARG);
    assert_non_null(strstr(ns_errmsg(), "x.lora and y.lora both teach 'kind=c'"));
    base.p.len2_b[0] += 1;
    assert_int_equal(ns_lora_merge(&merged, &base, &one, names, 1), NS_EARG);
    assert_non_null(strstr(ns_errmsg(), "x.lora: an adapter for another base model"));

    /* Data whose attribute the base lacks. */
    toy other;
    make_toy(&other, (const char *const[]){"colour=red"}, 1, (const int[]){0}, 1, "colour");
    ns_lora b;
    assert_int_equal(ns_lora_init(&b, &base, &other.ds, 4, 8, 1), NS_EARG);
    assert_non_null(strstr(ns_errmsg(), "attribute 'colour' is not one of the model's"));
    ns_lora_free(&a);
    ns_modelfile_free(&base);
}

static void test_file_round_trip_and_damage(void **state)
{
    (void)state;
    ns_modelfile base;
    make_base(&base);
    toy t;
    make_toy(&t, abc, 3, (const int[]){2, 2, 0}, 3, "kind");
    ns_lora a, b;
    assert_int_equal(ns_lora_init(&a, &base, &t.ds, 2, 4, 1), NS_OK);
    const char *dir = tu_tmpdir(), *path = strdup(tu_path(dir, "x.lora"));
    assert_int_equal(ns_lora_save(&a, path), NS_OK);
    assert_int_equal(ns_lora_load(&b, path), NS_OK);
    assert_int_equal(b.rank, 2);
    assert_true(b.alpha == 4);
    assert_int_equal(b.base_crc, ns_lora_base_crc(&base));
    assert_int_equal(b.n_tokens, a.n_tokens);
    for (uint32_t i = 0; i < a.n_tokens; i++) assert_string_equal(b.tokens[i], a.tokens[i]);
    assert_memory_equal(b.has_emb, a.has_emb, a.n_tokens);
    assert_memory_equal(b.combo_tok, a.combo_tok, a.n_combos * sizeof(int32_t));
    assert_memory_equal(b.combo_count, a.combo_count, a.n_combos * sizeof(uint32_t));
    assert_memory_equal(b.w, a.w, a.n_params * sizeof(float));
    ns_lora_free(&b);

    uint8_t *buf;
    size_t size;
    assert_int_equal(ns_read_file(path, &buf, &size), NS_OK);
    /* Every byte flipped in turn (a stride of them) is caught. */
    for (size_t i = 0; i < size; i += 7) {
        buf[i] ^= 0x20;
        assert_int_not_equal(ns_lora_parse(&b, buf, size, "x.lora"), NS_OK);
        buf[i] ^= 0x20;
    }
    assert_int_equal(ns_lora_parse(&b, buf, size - 4, "x.lora"), NS_ETRUNC);
    assert_non_null(strstr(ns_errmsg(), "x.lora: adapter file is"));
    buf[200 % size] ^= 1;
    assert_int_equal(ns_lora_parse(&b, buf, size, "x.lora"), NS_ECORRUPT);
    assert_non_null(strstr(ns_errmsg(), "checksum mismatch"));
    buf[200 % size] ^= 1;
    /* Cut inside its header, an adapter is truncated, not a file of another kind (filehead.c). */
    assert_int_equal(ns_lora_parse(&b, buf, 64, "x.lora"), NS_ETRUNC);
    assert_non_null(strstr(ns_errmsg(), "x.lora: adapter file is 64 bytes, shorter than its 128-byte header"));
    /* An adapter given for a model is named as what it is. */
    ns_modelfile not_model;
    assert_int_equal(ns_modelfile_parse(&not_model, buf, size, "x.lora"), NS_EFORMAT);
    assert_non_null(strstr(ns_errmsg(), "x.lora: is an adapter file, not a model file (netsynth train makes those)"));
    free(buf);
    /* A model is not an adapter. */
    const char *model = strdup(tu_path(dir, "m.nsm"));
    assert_int_equal(ns_modelfile_save(&base, model, 0), NS_OK);
    assert_int_equal(ns_lora_load(&b, model), NS_EFORMAT);
    assert_non_null(strstr(ns_errmsg(), "is a model file, not an adapter"));
    /* A failed save leaves the old file. */
    assert_int_not_equal(ns_lora_save(&a, "/nonexistent-dir/x.lora"), NS_OK);
    assert_int_equal(ns_lora_load(&b, path), NS_OK);
    ns_lora_free(&b);
    ns_lora_free(&a);
    ns_modelfile_free(&base);
    free((char *)path);
    free((char *)model);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_gradients_match_finite_differences),
        cmocka_unit_test(test_init_and_merge),
        cmocka_unit_test(test_file_round_trip_and_damage),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    tu_cleanup();
    return rc;
}
