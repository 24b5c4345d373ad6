/* nn.c: time of each nn.h kernel at a training step's shapes (B flows of T
 * packets, width d, 4d MLP, NH heads, in/out widths of the packet encoding),
 * and what one DiT block and a whole step add up to. The baseline, measured
 * in the same run, is the block's matrix products at the chosen BLAS: the
 * "x gemm" column says how each kernel compares with that.
 *
 * usage: nn [B T d NH layers]      (default 128 64 128 4 4) */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "netsynth/blas.h"
#include "netsynth/nn.h"

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static float *buf(size_t n)
{
    float *p = malloc(n * sizeof *p);
    if (!p) exit(1);
    for (size_t i = 0; i < n; i++) p[i] = (float)((i * 2654435761u) % 2001) / 1000.0f - 1.0f;
    return p;
}

/* Best of 5 runs of a statement, in ms. */
#define TIME(ms, stmt)                                                                   \
    do {                                                                                 \
        stmt;                                                                            \
        double best_ = 1e30;                                                             \
        for (int r_ = 0; r_ < 5; r_++) {                                                 \
            double t0_ = now();                                                          \
            stmt;                                                                        \
            double t_ = (now() - t0_) * 1e3;                                             \
            if (t_ < best_) best_ = t_;                                                  \
        }                                                                                \
        (ms) = best_;                                                                    \
    } while (0)

int main(int argc, char **argv)
{
    int B = 128, T = 64, d = 128, NH = 4, layers = 4;
    if (argc == 6) B = atoi(argv[1]), T = atoi(argv[2]), d = atoi(argv[3]), NH = atoi(argv[4]), layers = atoi(argv[5]);
    int N = B * T, H = 4 * d, K = 544, IN = 2 * K + 2, OUT = 3 * K + 2;
    ns_blas_init(0);
    printf("%s\nB=%d T=%d d=%d NH=%d layers=%d (N=%d tokens, in %d, out %d)\n\n", ns_blas_describe(),
           B, T, d, NH, layers, N, IN, OUT);

    size_t big = (size_t)N * (OUT > H ? OUT : H);
    float *x = buf(big), *y = buf(big), *dx = buf(big), *dy = buf(big), *w = buf((size_t)OUT * IN);
    float *dw = buf((size_t)OUT * IN), *bias = buf(OUT), *dbias = buf(OUT), *att = buf((size_t)B * NH * T * T);
    float *mean = buf(N), *rstd = buf(N), *mod = buf((size_t)B * 6 * d), *dmod = buf((size_t)B * 6 * d);
    float *probs = buf((size_t)N * 3 * K);
    uint8_t *target = calloc((size_t)N * K, 1);
    int *len = malloc(B * sizeof *len);
    for (int b = 0; b < B; b++) len[b] = T - (b * 7) % (T / 2 + 1); /* a spread of flow lengths */

    struct row { const char *name; double fwd, bwd; int per_block; } rows[16];
    int nr = 0;
#define LINEAR(label, I, O, per)                                                                  \
    do {                                                                                          \
        struct row *r_ = &rows[nr++];                                                             \
        r_->name = label, r_->per_block = per;                                                    \
        TIME(r_->fwd, ns_linear_forward(y, x, w, bias, N, I, O));                                 \
        TIME(r_->bwd, ns_linear_backward(dx, dw, dbias, dy, x, w, N, I, O));                      \
    } while (0)
    LINEAR("linear qkv d->3d", d, 3 * d, 1);
    LINEAR("linear proj d->d", d, d, 1);
    LINEAR("linear fc d->4d", d, H, 1);
    LINEAR("linear fc2 4d->d", H, d, 1);
    LINEAR("linear in (embed)", IN, d, 0);
    LINEAR("linear out (head)", d, OUT, 0);
    struct row *r = &rows[nr++];
    r->name = "attention (masked)", r->per_block = 1;
    TIME(r->fwd, ns_attention_forward(y, att, x, len, B, T, d, NH));
    TIME(r->bwd, ns_attention_backward(dx, dy, x, att, len, B, T, d, NH));
    r = &rows[nr++];
    r->name = "layernorm x2", r->per_block = 2;
    TIME(r->fwd, ns_layernorm_forward(y, mean, rstd, x, NULL, NULL, N, d, 1e-6f));
    TIME(r->bwd, ns_layernorm_backward(dx, NULL, NULL, dy, x, NULL, mean, rstd, N, d));
    r = &rows[nr++];
    r->name = "gelu (4d)", r->per_block = 1;
    TIME(r->fwd, ns_gelu_forward(y, x, (size_t)N * H));
    TIME(r->bwd, ns_gelu_backward(dx, dy, x, (size_t)N * H));
    r = &rows[nr++];
    r->name = "modulate x2", r->per_block = 2;
    TIME(r->fwd, ns_modulate_forward(y, x, mod, mod + d, B, T, d, 6 * d));
    TIME(r->bwd, ns_modulate_backward(dx, dmod, dmod + d, dy, x, mod + d, B, T, d, 6 * d));
    r = &rows[nr++];
    r->name = "gate x2", r->per_block = 2;
    TIME(r->fwd, ns_gate_forward(y, x, mod + 2 * d, x, B, T, d, 6 * d));
    TIME(r->bwd, ns_gate_backward(dx, dmod + 2 * d, dy, dy, mod + 2 * d, x, B, T, d, 6 * d));
    r = &rows[nr++];
    r->name = "ce3 loss (all bits)", r->per_block = 0;
    TIME(r->fwd, ns_ce3_forward(probs, x, target, NULL, (size_t)N * K, 0));
    TIME(r->bwd, ns_ce3_backward(dx, 1.0f, probs, target, NULL, (size_t)N * K, 0));

    double gemm_block = 0, block = 0, once = 0;
    for (int i = 0; i < nr; i++) {
        double t = (rows[i].fwd + rows[i].bwd) * (rows[i].per_block ? rows[i].per_block : 1);
        if (rows[i].per_block) block += t;
        else once += t;
        if (rows[i].per_block && strncmp(rows[i].name, "linear", 6) == 0) gemm_block += t;
    }
    printf("%-22s %9s %9s %9s\n", "kernel (ms)", "forward", "backward", "x gemm");
    for (int i = 0; i < nr; i++) {
        double k = rows[i].per_block ? rows[i].per_block : 1;
        printf("%-22s %9.2f %9.2f %8.2fx\n", rows[i].name, rows[i].fwd * k, rows[i].bwd * k,
               (rows[i].fwd + rows[i].bwd) * k / gemm_block);
    }
    double mflop_block = 2.0 * 3 * N * (3.0 * d * d + d * d + 2.0 * d * H) / 1e6; /* fwd + 2x bwd */
    printf("\none block: %.1f ms, of which matrix products %.1f ms (%.0f GFLOP/s)\n", block,
           gemm_block, mflop_block / gemm_block);
    printf("one step (%d blocks + embed/head/loss): %.1f ms = %.0f flows/s, without adaLN/time-MLP/optimiser\n",
           layers, layers * block + once, B / ((layers * block + once) / 1e3));
    return 0;
}
