/* test_nn.c: every layer's forward against a small double-precision
 * implementation written here, and every backward against central finite
 * differences of that double forward (h = 1e-5, so the reference gradient is
 * good to ~1e-9 and the tolerance only has to cover float rounding).
 *
 * Each check takes L = sum(out * R) for a random R: the float backward runs
 * with dout = R into gradient buffers pre-filled with G0 (so the "+="
 * convention is tested too), and the result minus G0 is compared with
 * dL/dinput. The error is measured against the largest reference gradient
 * of that input: a real bug shows as O(1), float rounding as ~1e-6. */
#include "testutil.h"

#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "netsynth/error.h"
#include "netsynth/nn.h"

#define G0 0.125f   /* what gradient buffers hold before a backward */
#define TOL 1e-4    /* worst |analytic - numeric| / max |numeric| */
#define FD_H 1e-5

/* ---- scratch memory, freed at the end of each test ------------------------ */
static void *allocs[256];
static int nallocs;
static void *tmp(size_t bytes)
{
    assert_true(nallocs < 256);
    void *p = calloc(1, bytes ? bytes : 1);
    assert_non_null(p);
    return allocs[nallocs++] = p;
}
static int teardown(void **state)
{
    (void)state;
    while (nallocs) free(allocs[--nallocs]);
    return 0;
}

static unsigned long long rng = 88172645463325252ull;
static double urand(void) /* [0, 1) */
{
    rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17;
    return (double)(rng >> 11) / 9007199254740992.0;
}
/* n doubles in [lo, hi), each exactly a float (so both sides see one input). */
static double *drand(size_t n, double lo, double hi)
{
    double *d = tmp(n * sizeof *d);
    for (size_t i = 0; i < n; i++) d[i] = (float)(lo + (hi - lo) * urand());
    return d;
}
static float *fcopy(const double *d, size_t n)
{
    float *f = tmp(n * sizeof *f);
    for (size_t i = 0; i < n; i++) f[i] = (float)d[i];
    return f;
}
static float *gradbuf(size_t n)
{
    float *f = tmp(n * sizeof *f);
    for (size_t i = 0; i < n; i++) f[i] = G0;
    return f;
}

/* ---- the generic check ---------------------------------------------------- */
enum { MAXIN = 3 };
typedef struct Case Case;
struct Case {
    double *in[MAXIN];       /* inputs, double master copies */
    size_t len[MAXIN];
    double *out, *R;         /* double forward output, random projection */
    size_t nout;
    void (*fwd)(Case *);     /* double forward: in -> out */
    int N, C, OC, B, T, NH, P, stride;
    const int *ints;         /* lengths or ids */
    const uint8_t *target;
    double norm;
    bool affine, bias;
};

static double objective(Case *c)
{
    c->fwd(c);
    double s = 0;
    for (size_t i = 0; i < c->nout; i++) s += c->out[i] * c->R[i];
    return s;
}

/* Float forward output vs double forward, relative to the output's scale. */
static void check_forward(const char *name, Case *c, const float *fout)
{
    c->fwd(c);
    double worst = 0, scale = 1e-30;
    for (size_t i = 0; i < c->nout; i++) scale = fmax(scale, fabs(c->out[i]));
    for (size_t i = 0; i < c->nout; i++) worst = fmax(worst, fabs(fout[i] - c->out[i]) / scale);
    print_message("%-28s forward  rel err %.2e\n", name, worst);
    if (!(worst < 1e-5)) fail_msg("%s: forward differs from the double reference by %g", name, worst);
}

/* Gradient of input k: analytic (grad - G0) vs central differences, at all
 * positions or at `sample` random ones. */
static void check_grad(const char *name, Case *c, int k, const float *grad, size_t sample)
{
    size_t n = c->len[k], count = sample && sample < n ? sample : n;
    double worst = 0, scale = 1e-3; /* gradients below 1e-3 are compared absolutely */
    double *num = tmp(count * sizeof *num);
    size_t *idx = tmp(count * sizeof *idx);
    for (size_t j = 0; j < count; j++) {
        size_t i = count == n ? j : (size_t)(urand() * n);
        double x = c->in[k][i];
        c->in[k][i] = x + FD_H;
        double fp = objective(c);
        c->in[k][i] = x - FD_H;
        double fm = objective(c);
        c->in[k][i] = x;
        idx[j] = i;
        num[j] = (fp - fm) / (2 * FD_H);
        scale = fmax(scale, fabs(num[j]));
    }
    size_t at = 0;
    for (size_t j = 0; j < count; j++) {
        double e = fabs(((double)grad[idx[j]] - G0) - num[j]) / scale;
        if (!(e <= worst)) worst = e, at = j;
    }
    print_message("%-28s d(in %d)  rel err %.2e (%zu of %zu checked)\n", name, k, worst, count, n);
    if (!(worst < TOL))
        fail_msg("%s: gradient of input %d at %zu: analytic %g, numeric %g (rel err %g)", name, k,
                 idx[at], grad[idx[at]] - G0, num[at], worst);
}

static void setup_out(Case *c, size_t nout)
{
    c->nout = nout;
    c->out = tmp(nout * sizeof *c->out);
    c->R = drand(nout, -1, 1);
}

/* ---- linear --------------------------------------------------------------- */
static void ref_linear(Case *c)
{
    const double *x = c->in[0], *w = c->in[1], *b = c->in[2];
    for (int n = 0; n < c->N; n++)
        for (int o = 0; o < c->OC; o++) {
            double s = c->bias ? b[o] : 0;
            for (int i = 0; i < c->C; i++) s += x[n * c->C + i] * w[o * c->C + i];
            c->out[n * c->OC + o] = s;
        }
}

static void run_linear(int N, int C, int OC, bool bias, size_t sample)
{
    Case c = {.N = N, .C = C, .OC = OC, .bias = bias, .fwd = ref_linear};
    c.len[0] = (size_t)N * C, c.len[1] = (size_t)OC * C, c.len[2] = OC;
    for (int k = 0; k < 3; k++) c.in[k] = drand(c.len[k], -1, 1);
    setup_out(&c, (size_t)N * OC);
    float *x = fcopy(c.in[0], c.len[0]), *w = fcopy(c.in[1], c.len[1]), *b = fcopy(c.in[2], OC);
    float *out = tmp(c.nout * sizeof *out);
    ns_linear_forward(out, x, w, bias ? b : NULL, N, C, OC);
    char name[64];
    snprintf(name, sizeof name, "linear %dx%d->%d%s", N, C, OC, bias ? "" : " nobias");
    check_forward(name, &c, out);
    float *dx = gradbuf(c.len[0]), *dw = gradbuf(c.len[1]), *db = gradbuf(OC);
    ns_linear_backward(dx, dw, bias ? db : NULL, fcopy(c.R, c.nout), x, w, N, C, OC);
    check_grad(name, &c, 0, dx, sample);
    check_grad(name, &c, 1, dw, sample);
    if (bias) check_grad(name, &c, 2, db, sample);
}

static void test_linear(void **state)
{
    (void)state;
    run_linear(5, 7, 3, true, 0);
    run_linear(1, 1, 1, true, 0);
    run_linear(4, 9, 6, false, 0);
    run_linear(520, 33, 70, true, 150); /* big enough for the parallel paths */
}

/* ---- layernorm ------------------------------------------------------------ */
static void ref_layernorm(Case *c)
{
    for (int n = 0; n < c->N; n++) {
        const double *x = c->in[0] + n * c->C;
        double m = 0, v = 0;
        for (int i = 0; i < c->C; i++) m += x[i];
        m /= c->C;
        for (int i = 0; i < c->C; i++) v += (x[i] - m) * (x[i] - m);
        double s = 1 / sqrt(v / c->C + 1e-5);
        for (int i = 0; i < c->C; i++) {
            double y = (x[i] - m) * s;
            c->out[n * c->C + i] = c->affine ? y * c->in[1][i] + c->in[2][i] : y;
        }
    }
}

static void run_layernorm(int N, int C, bool affine, size_t sample)
{
    Case c = {.N = N, .C = C, .affine = affine, .fwd = ref_layernorm};
    c.len[0] = (size_t)N * C, c.len[1] = c.len[2] = C;
    c.in[0] = drand(c.len[0], -2, 3);
    c.in[1] = drand(C, 0.5, 1.5);
    c.in[2] = drand(C, -1, 1);
    setup_out(&c, c.len[0]);
    float *x = fcopy(c.in[0], c.len[0]), *w = fcopy(c.in[1], C), *b = fcopy(c.in[2], C);
    float *out = tmp(c.nout * sizeof *out), *mean = tmp(N * sizeof *mean), *rstd = tmp(N * sizeof *rstd);
    ns_layernorm_forward(out, mean, rstd, x, affine ? w : NULL, affine ? b : NULL, N, C, 1e-5f);
    char name[64];
    snprintf(name, sizeof name, "layernorm %dx%d%s", N, C, affine ? " affine" : "");
    check_forward(name, &c, out);
    float *dx = gradbuf(c.len[0]), *dw = gradbuf(C), *db = gradbuf(C);
    ns_layernorm_backward(dx, affine ? dw : NULL, affine ? db : NULL, fcopy(c.R, c.nout), x,
                          affine ? w : NULL, mean, rstd, N, C);
    check_grad(name, &c, 0, dx, sample);
    if (affine) {
        check_grad(name, &c, 1, dw, sample);
        check_grad(name, &c, 2, db, sample);
    }
}

static void test_layernorm(void **state)
{
    (void)state;
    run_layernorm(4, 8, false, 0);
    run_layernorm(3, 5, true, 0);
    run_layernorm(600, 64, true, 200);
    run_layernorm(600, 64, false, 200);
}

/* ---- attention ------------------------------------------------------------ */
static void ref_attention(Case *c)
{
    int B = c->B, T = c->T, C = c->C, NH = c->NH, hs = C / NH;
    const double *qkv = c->in[0];
    for (int b = 0; b < B; b++) {
        int L = c->ints ? c->ints[b] : T;
        if (L > T) L = T;
        for (int h = 0; h < NH; h++)
            for (int t = 0; t < T; t++) {
                double p[1024], mx = -INFINITY, sum = 0;
                const double *q = qkv + (b * T + t) * 3 * C + h * hs;
                for (int t2 = 0; t2 < L; t2++) {
                    const double *k = qkv + (b * T + t2) * 3 * C + C + h * hs;
                    double s = 0;
                    for (int i = 0; i < hs; i++) s += q[i] * k[i];
                    p[t2] = s / sqrt(hs);
                    mx = fmax(mx, p[t2]);
                }
                for (int t2 = 0; t2 < L; t2++) sum += p[t2] = exp(p[t2] - mx);
                double *o = c->out + (b * T + t) * C + h * hs;
                for (int i = 0; i < hs; i++) {
                    double s = 0;
                    for (int t2 = 0; t2 < L; t2++) s += p[t2] / sum * qkv[(b * T + t2) * 3 * C + 2 * C + h * hs + i];
                    o[i] = s;
                }
            }
    }
}

static void run_attention(int B, int T, int C, int NH, const int *len, size_t sample)
{
    Case c = {.B = B, .T = T, .C = C, .NH = NH, .ints = len, .fwd = ref_attention};
    c.len[0] = (size_t)B * T * 3 * C;
    c.in[0] = drand(c.len[0], -1.5, 1.5);
    setup_out(&c, (size_t)B * T * C);
    float *qkv = fcopy(c.in[0], c.len[0]), *out = tmp(c.nout * sizeof *out);
    float *att = tmp((size_t)B * NH * T * T * sizeof *att);
    ns_attention_forward(out, att, qkv, len, B, T, C, NH);
    char name[64];
    snprintf(name, sizeof name, "attention B%d T%d C%d NH%d%s", B, T, C, NH, len ? " masked" : "");
    check_forward(name, &c, out);

    /* Probabilities: rows sum to 1 over the valid keys, 0 elsewhere. */
    for (int b = 0; b < B; b++) {
        int L = len ? (len[b] > T ? T : len[b]) : T;
        for (int r = 0; r < NH * T; r++) {
            const float *a = att + ((size_t)b * NH * T + r) * T;
            double s = 0;
            for (int t2 = 0; t2 < T; t2++) {
                if (t2 >= L) assert_true(a[t2] == 0.0f);
                s += a[t2];
            }
            assert_true(fabs(s - (L > 0 ? 1.0 : 0.0)) < 1e-5);
        }
        if (L == 0)
            for (int i = 0; i < T * C; i++) assert_true(out[(size_t)b * T * C + i] == 0.0f);
    }

    float *dqkv = gradbuf(c.len[0]);
    assert_int_equal(ns_attention_backward(dqkv, fcopy(c.R, c.nout), qkv, att, len, B, T, C, NH), NS_OK);
    check_grad(name, &c, 0, dqkv, sample);
    /* Masked keys and values get exactly nothing. */
    for (int b = 0; b < B && len; b++)
        for (int t = len[b] < 0 ? 0 : len[b]; t < T; t++)
            for (int i = C; i < 3 * C; i++) assert_true(dqkv[((size_t)b * T + t) * 3 * C + i] == G0);
}

static void test_attention(void **state)
{
    (void)state;
    run_attention(2, 4, 6, 2, NULL, 0);
    run_attention(1, 1, 4, 1, NULL, 0);
    static const int len[] = {5, 2, 0, 1, 7};  /* full, short, empty, one key, past T */
    run_attention(5, 5, 8, 2, len, 0);
    static const int len_big[] = {64, 17, 1, 40};
    run_attention(4, 64, 32, 4, len_big, 300); /* big enough for the parallel paths */
    /* Heads of 16 and 32 channels, T <= 64: the direct AVX-512 path. */
    run_attention(4, 64, 64, 2, len_big, 300);
    static const int len_odd[] = {33, 1, 0};
    run_attention(3, 37, 48, 3, len_odd, 200);
}

/* ---- activations ---------------------------------------------------------- */
static void ref_gelu(Case *c)
{
    for (size_t i = 0; i < c->nout; i++) {
        double x = c->in[0][i];
        c->out[i] = 0.5 * x * (1 + tanh(sqrt(2 / M_PI) * (x + 0.044715 * x * x * x)));
    }
}
static void ref_silu(Case *c)
{
    for (size_t i = 0; i < c->nout; i++) c->out[i] = c->in[0][i] / (1 + exp(-c->in[0][i]));
}

static void test_activations(void **state)
{
    (void)state;
    for (int which = 0; which < 2; which++) {
        size_t n = which ? 40000 : 61; /* the larger one runs in parallel */
        Case c = {.fwd = which ? ref_silu : ref_gelu};
        c.len[0] = n;
        c.in[0] = drand(n, -5, 5);
        setup_out(&c, n);
        float *x = fcopy(c.in[0], n), *out = tmp(n * sizeof *out), *dx = gradbuf(n);
        const float *R = fcopy(c.R, n);
        (which ? ns_silu_forward : ns_gelu_forward)(out, x, n);
        check_forward(which ? "silu" : "gelu", &c, out);
        (which ? ns_silu_backward : ns_gelu_backward)(dx, R, x, n);
        check_grad(which ? "silu" : "gelu", &c, 0, dx, which ? 300 : 0);
    }
}

/* Far outside the fitted range the vectorised exp saturates cleanly. */
static void test_activation_extremes(void **state)
{
    (void)state;
    float x[8] = {-1000, -100, -88, -20, 20, 88, 100, 1000}, g[8], s[8];
    ns_gelu_forward(g, x, 8);
    ns_silu_forward(s, x, 8);
    for (int i = 0; i < 8; i++) {
        double sd = x[i] / (1 + exp(-(double)x[i]));
        double gd = 0.5 * x[i] * (1 + tanh(sqrt(2 / M_PI) * (x[i] + 0.044715 * x[i] * x[i] * x[i])));
        assert_true(isfinite(g[i]) && isfinite(s[i]));
        assert_true(fabs(s[i] - sd) <= 1e-6 * fmax(1, fabs(sd)));
        assert_true(fabs(g[i] - gd) <= 1e-6 * fmax(1, fabs(gd)));
    }
}

/* ---- adaLN modulate and gate ---------------------------------------------- */
/* mod[B, stride = 3C] holds shift at 0, scale at C, gate at 2C. */
static void ref_modulate(Case *c)
{
    int C = c->C, s = c->stride;
    for (int b = 0; b < c->B; b++)
        for (int t = 0; t < c->T; t++)
            for (int i = 0; i < C; i++) {
                size_t r = ((size_t)b * c->T + t) * C + i;
                c->out[r] = c->in[0][r] * (1 + c->in[1][b * s + C + i]) + c->in[1][b * s + i];
            }
}
static void ref_gate(Case *c) /* in: res, mod, y */
{
    int C = c->C, s = c->stride;
    for (int b = 0; b < c->B; b++)
        for (int t = 0; t < c->T; t++)
            for (int i = 0; i < C; i++) {
                size_t r = ((size_t)b * c->T + t) * C + i;
                c->out[r] = c->in[0][r] + c->in[1][b * s + 2 * C + i] * c->in[2][r];
            }
}

static void run_adaln(int B, int T, int C, size_t sample)
{
    int stride = 3 * C;
    size_t n = (size_t)B * T * C, nm = (size_t)B * stride;
    char name[64];
    Case c = {.B = B, .T = T, .C = C, .stride = stride, .fwd = ref_modulate};
    c.len[0] = n, c.len[1] = nm;
    c.in[0] = drand(n, -2, 2), c.in[1] = drand(nm, -1, 1);
    setup_out(&c, n);
    float *x = fcopy(c.in[0], n), *mod = fcopy(c.in[1], nm), *out = tmp(n * sizeof *out);
    ns_modulate_forward(out, x, mod, mod + C, B, T, C, stride);
    snprintf(name, sizeof name, "modulate B%d T%d C%d", B, T, C);
    check_forward(name, &c, out);
    float *dx = gradbuf(n), *dmod = gradbuf(nm);
    ns_modulate_backward(dx, dmod, dmod + C, fcopy(c.R, n), x, mod + C, B, T, C, stride);
    check_grad(name, &c, 0, dx, sample);
    check_grad(name, &c, 1, dmod, sample); /* the gate third must stay at G0 = numeric 0 */

    Case g = {.B = B, .T = T, .C = C, .stride = stride, .fwd = ref_gate};
    g.len[0] = g.len[2] = n, g.len[1] = nm;
    g.in[0] = drand(n, -2, 2), g.in[1] = drand(nm, -1, 1), g.in[2] = drand(n, -2, 2);
    setup_out(&g, n);
    float *res = fcopy(g.in[0], n), *gm = fcopy(g.in[1], nm), *y = fcopy(g.in[2], n);
    float *gout = tmp(n * sizeof *gout);
    ns_gate_forward(gout, res, gm + 2 * C, y, B, T, C, stride);
    snprintf(name, sizeof name, "gate B%d T%d C%d", B, T, C);
    check_forward(name, &g, gout);
    ns_gate_forward(res, res, gm + 2 * C, y, B, T, C, stride); /* in place */
    assert_memory_equal(res, gout, n * sizeof *res);
    float *dres = gradbuf(n), *dgm = gradbuf(nm), *dy = gradbuf(n);
    ns_gate_backward(dres, dgm + 2 * C, dy, fcopy(g.R, n), gm + 2 * C, y, B, T, C, stride);
    check_grad(name, &g, 0, dres, sample);
    check_grad(name, &g, 1, dgm, sample);
    check_grad(name, &g, 2, dy, sample);
}

static void test_adaln(void **state)
{
    (void)state;
    run_adaln(2, 3, 4, 0);
    run_adaln(3, 64, 256, 200);
}

/* ---- prompt embedding ----------------------------------------------------- */
static void ref_embed(Case *c)
{
    memset(c->out, 0, c->nout * sizeof *c->out);
    for (int b = 0; b < c->B; b++)
        for (int p = 0; p < c->P; p++) {
            int id = c->ints[b * c->P + p];
            for (int i = 0; id >= 0 && i < c->C; i++) c->out[b * c->C + i] += c->in[0][id * c->C + i];
        }
}

static void test_embed_sum(void **state)
{
    (void)state;
    enum { B = 4, P = 3, C = 5, V = 6 };
    /* a full prompt, a repeated token, an empty prompt, a single token */
    static const int ids[B * P] = {0, 2, 5, 3, 3, -1, -1, -1, -1, -1, 4, -1};
    Case c = {.B = B, .P = P, .C = C, .ints = ids, .fwd = ref_embed};
    c.len[0] = V * C;
    c.in[0] = drand(c.len[0], -1, 1);
    setup_out(&c, B * C);
    float *table = fcopy(c.in[0], c.len[0]), *out = tmp(B * C * sizeof *out);
    ns_embed_sum_forward(out, ids, table, B, P, C);
    check_forward("embed_sum", &c, out);
    for (int i = 0; i < C; i++) assert_true(out[2 * C + i] == 0.0f);
    float *dt = gradbuf(c.len[0]);
    ns_embed_sum_backward(dt, fcopy(c.R, c.nout), ids, B, P, C);
    check_grad("embed_sum", &c, 0, dt, 0); /* row 1 is unused: stays G0 */
}

/* ---- timestep embedding --------------------------------------------------- */
static void test_timestep_embedding(void **state)
{
    (void)state;
    float t[3] = {0.0f, 1.5f, 999.0f}, out[3 * 9];
    ns_timestep_embedding(out, t, 3, 9, 10000.0f);
    for (int b = 0; b < 3; b++) {
        for (int i = 0; i < 4; i++) {
            double f = pow(10000.0, -i / 4.0);
            assert_true(fabs(out[b * 9 + i] - cos(t[b] * f)) < 1e-6);
            assert_true(fabs(out[b * 9 + 4 + i] - sin(t[b] * f)) < 1e-6);
        }
        assert_true(out[b * 9 + 8] == 0.0f);
    }
}

/* ---- losses --------------------------------------------------------------- */
static double weight_norm(const Case *c, const double *w, size_t n)
{
    if (c->norm > 0) return c->norm;
    double s = 0;
    for (size_t i = 0; i < n; i++) s += w ? w[i] : 1;
    return s;
}
static void ref_ce3(Case *c) /* in: logits, weight */
{
    size_t N = c->len[0] / 3;
    double total = 0;
    for (size_t i = 0; i < N; i++) {
        const double *l = c->in[0] + 3 * i;
        double lse = log(exp(l[0]) + exp(l[1]) + exp(l[2]));
        total += (c->in[1] ? c->in[1][i] : 1) * (lse - l[c->target[i]]);
    }
    double d = weight_norm(c, c->in[1], N);
    c->out[0] = d > 0 ? total / d : 0;
}
static void ref_mse(Case *c) /* in: pred, weight, target */
{
    double total = 0;
    for (size_t i = 0; i < c->len[0]; i++) {
        double e = c->in[0][i] - c->in[2][i];
        total += (c->in[1] ? c->in[1][i] : 1) * e * e;
    }
    double d = weight_norm(c, c->in[1], c->len[0]);
    c->out[0] = d > 0 ? total / d : 0;
}

static void run_ce3(size_t N, bool weighted, float norm, size_t sample)
{
    uint8_t *target = tmp(N);
    for (size_t i = 0; i < N; i++) target[i] = (uint8_t)(urand() * 3);
    Case c = {.target = target, .norm = norm, .fwd = ref_ce3};
    c.len[0] = 3 * N, c.in[0] = drand(3 * N, -4, 4);
    if (weighted) {
        c.len[1] = N, c.in[1] = drand(N, 0, 2);
        for (size_t i = 0; i < N; i += 3) c.in[1][i] = 0; /* masked positions */
    }
    setup_out(&c, 1);
    float *logits = fcopy(c.in[0], 3 * N), *w = weighted ? fcopy(c.in[1], N) : NULL;
    float *probs = tmp(3 * N * sizeof *probs);
    float loss = ns_ce3_forward(probs, logits, target, w, N, norm);
    char name[64];
    snprintf(name, sizeof name, "ce3 N%zu%s%s", N, weighted ? " weighted" : "", norm > 0 ? " norm" : "");
    check_forward(name, &c, &loss);
    float *dl = gradbuf(3 * N);
    ns_ce3_backward(dl, (float)c.R[0], probs, target, w, N, norm);
    check_grad(name, &c, 0, dl, sample);
}

static void test_ce3(void **state)
{
    (void)state;
    run_ce3(7, false, 0, 0);
    run_ce3(9, true, 0, 0);
    run_ce3(9, true, 4.0f, 0);
    run_ce3(20000, true, 0, 200);
    /* All positions masked: loss 0 and no gradient. */
    float logits[6] = {1, 2, 3, 4, 5, 6}, probs[6], w[2] = {0, 0}, dl[6] = {0};
    uint8_t target[2] = {0, 2};
    assert_true(ns_ce3_forward(probs, logits, target, w, 2, 0) == 0.0f);
    ns_ce3_backward(dl, 1.0f, probs, target, w, 2, 0);
    for (int i = 0; i < 6; i++) assert_true(dl[i] == 0.0f);
}

static void test_mse(void **state)
{
    (void)state;
    for (int weighted = 0; weighted < 2; weighted++) {
        size_t n = weighted ? 50000 : 11;
        Case c = {.fwd = ref_mse};
        c.len[0] = c.len[2] = n;
        c.in[0] = drand(n, -2, 2), c.in[2] = drand(n, -2, 2);
        if (weighted) c.len[1] = n, c.in[1] = drand(n, 0, 1);
        setup_out(&c, 1);
        float *pred = fcopy(c.in[0], n), *target = fcopy(c.in[2], n);
        float *w = weighted ? fcopy(c.in[1], n) : NULL, *dp = gradbuf(n);
        float loss = ns_mse_forward(pred, target, w, n, 0);
        check_forward(weighted ? "mse weighted" : "mse", &c, &loss);
        ns_mse_backward(dp, (float)c.R[0], pred, target, w, n, 0);
        check_grad(weighted ? "mse weighted" : "mse", &c, 0, dp, weighted ? 200 : 0);
    }
}

/* ---- optimiser ------------------------------------------------------------ */
static void test_adamw(void **state)
{
    (void)state;
    ns_adamw_cfg cfg = {.lr = 0.1f, .beta1 = 0.9f, .beta2 = 0.999f, .eps = 1e-8f, .weight_decay = 0.01f};
    float p[3] = {1.0f, -2.0f, 0.5f}, g[3] = {0.1f, -0.2f, 0.0f}, m[3] = {0}, v[3] = {0};
    ns_adamw_update(p, m, v, g, 3, &cfg, 1);
    /* Step 1, by hand: mhat = g, vhat = g^2, so the step is lr * (g/(|g|+eps) + wd p). */
    assert_true(fabs(p[0] - (1.0 - 0.1 * (0.1 / (0.1 + 1e-8) + 0.01 * 1.0))) < 1e-6);   /* 0.899 */
    assert_true(fabs(p[1] - (-2.0 - 0.1 * (-0.2 / (0.2 + 1e-8) - 0.01 * 2.0))) < 1e-6); /* -1.898 */
    assert_true(fabs(p[2] - (0.5 - 0.1 * 0.01 * 0.5)) < 1e-7);                           /* 0.4995 */
    assert_true(fabs(m[0] - 0.01) < 1e-8 && fabs(v[1] - 0.001 * 0.04) < 0.04 * 1e-4 * 0.001); /* 1 - 0.999f is 1e-3 (1 + 5e-5) */
    /* Step 2 with another gradient, against the formula in double. */
    double pd = p[0], md = m[0], vd = v[0], g2 = -0.3;
    md = 0.9 * md + 0.1 * g2;
    vd = 0.999 * vd + 0.001 * g2 * g2;
    pd -= 0.1 * ((md / (1 - 0.81)) / (sqrt(vd / (1 - 0.999 * 0.999)) + 1e-8) + 0.01 * pd);
    g[0] = (float)g2;
    ns_adamw_update(p, m, v, g, 1, &cfg, 2);
    assert_true(fabs(p[0] - pd) < 1e-6);
}

static void test_clip_and_ema(void **state)
{
    (void)state;
    float g[2] = {3, 4};
    assert_true(ns_grad_clip(g, 2, 10.0f) == 5.0f);
    assert_true(g[0] == 3.0f && g[1] == 4.0f);
    assert_true(ns_grad_clip(g, 2, 1.0f) == 5.0f);
    assert_true(fabsf(g[0] - 0.6f) < 1e-7f && fabsf(g[1] - 0.8f) < 1e-7f);
    assert_true(fabsf(ns_grad_clip(g, 2, 0.0f) - 1.0f) < 1e-6f); /* 0: measure only */
    float ema[2] = {1, 2}, p[2] = {3, 6};
    ns_ema_update(ema, p, 2, 0.75f);
    assert_true(ema[0] == 1.5f && ema[1] == 3.0f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_linear, teardown),
        cmocka_unit_test_teardown(test_layernorm, teardown),
        cmocka_unit_test_teardown(test_attention, teardown),
        cmocka_unit_test_teardown(test_activations, teardown),
        cmocka_unit_test(test_activation_extremes),
        cmocka_unit_test_teardown(test_adaln, teardown),
        cmocka_unit_test_teardown(test_embed_sum, teardown),
        cmocka_unit_test_teardown(test_timestep_embedding, teardown),
        cmocka_unit_test_teardown(test_ce3, teardown),
        cmocka_unit_test_teardown(test_mse, teardown),
        cmocka_unit_test_teardown(test_adamw, teardown),
        cmocka_unit_test_teardown(test_clip_and_ema, teardown),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    tu_cleanup();
    return rc;
}
