/* nn.c: linear, layernorm, activations, adaLN modulate/gate, prompt
 * embedding and timestep embedding (forward and backward). Attention is in
 * nn_attention.c, losses and the optimiser in nn_train.c. */
#include "netsynth/nn.h"

#include <math.h>
#include <string.h>

#include "netsynth/blas.h"
#include "nn_math.h"

/* Below this many floats of work a parallel region costs more than it saves. */
#define PAR_MIN 32768

/* ---- linear ------------------------------------------------------------- */

void ns_linear_forward(float *out, const float *inp, const float *weight, const float *bias, int N,
                       int C, int OC)
{
    if (ns_blas_linear_packed(out, inp, weight, bias, N, C, OC)) return; /* inference (blas.h) */
    if (!bias) {
        ns_sgemm(false, true, N, OC, C, 1.0f, inp, C, weight, C, 0.0f, out, OC);
        return;
    }
    /* Bias first, then the product added onto it (beta 1): with beta 0
     * OpenBLAS clears C in a pass of its own, and the bias took another
     * (together 11% of a sampling run's time). */
#pragma omp parallel for if ((size_t)N * OC > PAR_MIN)
    for (int n = 0; n < N; n++) memcpy(out + (size_t)n * OC, bias, (size_t)OC * sizeof *out);
    ns_sgemm(false, true, N, OC, C, 1.0f, inp, C, weight, C, 1.0f, out, OC);
}

/* dst[C] += sum over n of src[n, :] (rows of C floats) */
static void add_column_sums(float *dst, const float *src, int N, int C)
{
#pragma omp parallel for reduction(+ : dst[:C]) if ((size_t)N * C > PAR_MIN)
    for (int n = 0; n < N; n++) {
        const float *s = src + (size_t)n * C;
        for (int j = 0; j < C; j++) dst[j] += s[j];
    }
}

void ns_linear_backward(float *dinp, float *dweight, float *dbias, const float *dout,
                        const float *inp, const float *weight, int N, int C, int OC)
{
    if (dinp) ns_sgemm(false, false, N, C, OC, 1.0f, dout, OC, weight, C, 1.0f, dinp, C);
    if (dweight) ns_sgemm(true, false, OC, C, N, 1.0f, dout, OC, inp, C, 1.0f, dweight, C);
    if (dbias) add_column_sums(dbias, dout, N, OC);
}

/* ---- layernorm ------------------------------------------------------------ */

/* One row, cloned for the SIMD widths (the loops were scalar SSE code). */
NS_CLONES static void layernorm_row(float *restrict o, float *mean, float *rstd, const float *restrict x,
                                    const float *weight, const float *bias, int C, float eps)
{
    float m = 0.0f, v = 0.0f;
#pragma omp simd reduction(+ : m)
    for (int i = 0; i < C; i++) m += x[i];
    m /= C;
#pragma omp simd reduction(+ : v)
    for (int i = 0; i < C; i++) v += (x[i] - m) * (x[i] - m);
    float s = 1.0f / sqrtf(v / C + eps);
    if (!weight) {
#pragma omp simd
        for (int i = 0; i < C; i++) o[i] = (x[i] - m) * s;
    } else {
#pragma omp simd
        for (int i = 0; i < C; i++) o[i] = (x[i] - m) * s * weight[i] + (bias ? bias[i] : 0.0f);
    }
    *mean = m;
    *rstd = s;
}

/* The same with the sums in index order, for deterministic mode (blas.h): a
 * SIMD reduction's order follows the vector width of the clone that runs. */
static void layernorm_row_fixed(float *restrict o, float *mean, float *rstd, const float *restrict x,
                                const float *weight, const float *bias, int C, float eps)
{
    float m = 0.0f, v = 0.0f;
    for (int i = 0; i < C; i++) m += x[i];
    m /= C;
    for (int i = 0; i < C; i++) v += (x[i] - m) * (x[i] - m);
    float s = 1.0f / sqrtf(v / C + eps);
    for (int i = 0; i < C; i++) o[i] = weight ? (x[i] - m) * s * weight[i] + (bias ? bias[i] : 0.0f) : (x[i] - m) * s;
    *mean = m;
    *rstd = s;
}

void ns_layernorm_forward(float *out, float *mean, float *rstd, const float *inp,
                          const float *weight, const float *bias, int N, int C, float eps)
{
    bool fixed = ns_blas_deterministic();
#pragma omp parallel for if ((size_t)N * C > PAR_MIN)
    for (int n = 0; n < N; n++)
        (fixed ? layernorm_row_fixed : layernorm_row)(out + (size_t)n * C, &mean[n], &rstd[n], inp + (size_t)n * C,
                                                      weight, bias, C, eps);
}

void ns_layernorm_backward(float *dinp, float *dweight, float *dbias, const float *dout,
                           const float *inp, const float *weight, const float *mean,
                           const float *rstd, int N, int C)
{
    if (dinp) {
#pragma omp parallel for if ((size_t)N * C > PAR_MIN)
        for (int n = 0; n < N; n++) {
            const float *x = inp + (size_t)n * C, *g = dout + (size_t)n * C;
            float *dx = dinp + (size_t)n * C;
            float m = mean[n], s = rstd[n];
            /* dxhat = g * w; dx = s * (dxhat - mean(dxhat) - xhat * mean(dxhat * xhat)) */
            float sum_g = 0.0f, sum_gx = 0.0f;
#pragma omp simd reduction(+ : sum_g, sum_gx)
            for (int i = 0; i < C; i++) {
                float dxhat = weight ? g[i] * weight[i] : g[i];
                sum_g += dxhat;
                sum_gx += dxhat * (x[i] - m) * s;
            }
            sum_g /= C;
            sum_gx /= C;
            for (int i = 0; i < C; i++) {
                float dxhat = weight ? g[i] * weight[i] : g[i];
                dx[i] += s * (dxhat - sum_g - (x[i] - m) * s * sum_gx);
            }
        }
    }
    if (dweight) {
#pragma omp parallel for reduction(+ : dweight[:C]) if ((size_t)N * C > PAR_MIN)
        for (int n = 0; n < N; n++) {
            const float *x = inp + (size_t)n * C, *g = dout + (size_t)n * C;
            for (int i = 0; i < C; i++) dweight[i] += g[i] * (x[i] - mean[n]) * rstd[n];
        }
    }
    if (dbias) add_column_sums(dbias, dout, N, C);
}

/* ---- activations ----------------------------------------------------------
 * Each runs a cloned (AVX-512 / AVX2 / baseline) chunk function per thread. */

#define GELU_K 0.7978845608028654f /* sqrt(2 / pi) */

/* No restrict: sampling runs it in place (ns_model_acts_inference). */
NS_CLONES static void gelu_fwd(float *out, const float *inp, size_t n)
{
#pragma omp simd
    for (size_t i = 0; i < n; i++) {
        float x = inp[i];
        out[i] = 0.5f * x * (1.0f + ns_tanhf(GELU_K * (x + 0.044715f * x * x * x)));
    }
}

#ifdef NS_HAVE_AVX512_KERNELS
/* The same as x * sigmoid(2 z): 0.5 (1 + tanh z) = 1 / (1 + e^-2z), with
 * the reciprocal by ns_rcp16: GELU over the MLP's hidden units was 10% of a
 * sampling run, most of it waiting on divisions. */
__attribute__((target("avx512f"))) static void gelu_fwd_avx512(float *out, const float *inp, size_t n)
{
    const __m512 k = _mm512_set1_ps(-2.0f * GELU_K), c = _mm512_set1_ps(0.044715f), one = _mm512_set1_ps(1.0f);
    size_t i = 0;
    for (; i + 16 <= n; i += 16) {
        __m512 x = _mm512_loadu_ps(inp + i);
        __m512 z = _mm512_mul_ps(k, _mm512_fmadd_ps(_mm512_mul_ps(c, x), _mm512_mul_ps(x, x), x));
        _mm512_storeu_ps(out + i, _mm512_mul_ps(x, ns_rcp16(_mm512_add_ps(one, ns_exp16(z)))));
    }
    if (i < n) {
        __mmask16 m = (__mmask16)((1u << (n - i)) - 1);
        __m512 x = _mm512_maskz_loadu_ps(m, inp + i);
        __m512 z = _mm512_mul_ps(k, _mm512_fmadd_ps(_mm512_mul_ps(c, x), _mm512_mul_ps(x, x), x));
        _mm512_mask_storeu_ps(out + i, m, _mm512_mul_ps(x, ns_rcp16(_mm512_add_ps(one, ns_exp16(z)))));
    }
}
#endif

NS_CLONES static void gelu_bwd(float *restrict dinp, const float *restrict dout,
                               const float *restrict inp, size_t n)
{
#pragma omp simd
    for (size_t i = 0; i < n; i++) {
        float x = inp[i];
        float th = ns_tanhf(GELU_K * (x + 0.044715f * x * x * x));
        float dth = (1.0f - th * th) * GELU_K * (1.0f + 3.0f * 0.044715f * x * x);
        dinp[i] += dout[i] * (0.5f * (1.0f + th) + 0.5f * x * dth);
    }
}

NS_CLONES static void silu_fwd(float *restrict out, const float *restrict inp, size_t n)
{
#pragma omp simd
    for (size_t i = 0; i < n; i++) out[i] = inp[i] / (1.0f + ns_expf(-inp[i]));
}

NS_CLONES static void silu_bwd(float *restrict dinp, const float *restrict dout,
                               const float *restrict inp, size_t n)
{
#pragma omp simd
    for (size_t i = 0; i < n; i++) {
        float sig = 1.0f / (1.0f + ns_expf(-inp[i]));
        dinp[i] += dout[i] * sig * (1.0f + inp[i] * (1.0f - sig));
    }
}

void ns_gelu_forward(float *out, const float *inp, size_t n)
{
#ifdef NS_HAVE_AVX512_KERNELS
    if (ns_have_avx512()) {
        NS_PARALLEL_CHUNKS(n, gelu_fwd_avx512(out + lo, inp + lo, hi - lo));
        return;
    }
#endif
    NS_PARALLEL_CHUNKS(n, gelu_fwd(out + lo, inp + lo, hi - lo));
}

void ns_gelu_backward(float *dinp, const float *dout, const float *inp, size_t n)
{
    NS_PARALLEL_CHUNKS(n, gelu_bwd(dinp + lo, dout + lo, inp + lo, hi - lo));
}

void ns_silu_forward(float *out, const float *inp, size_t n)
{
    NS_PARALLEL_CHUNKS(n, silu_fwd(out + lo, inp + lo, hi - lo));
}

void ns_silu_backward(float *dinp, const float *dout, const float *inp, size_t n)
{
    NS_PARALLEL_CHUNKS(n, silu_bwd(dinp + lo, dout + lo, inp + lo, hi - lo));
}

/* ---- adaLN modulate and gate ---------------------------------------------- */

/* No restrict: sampling modulates in place (ns_model_acts_inference). */
NS_CLONES static void modulate_row(float *o, const float *x, const float *sh, const float *sc, int C)
{
#pragma omp simd
    for (int i = 0; i < C; i++) o[i] = x[i] * (1.0f + sc[i]) + sh[i];
}

void ns_modulate_forward(float *out, const float *x, const float *shift, const float *scale, int B,
                         int T, int C, int stride)
{
#pragma omp parallel for collapse(2) if ((size_t)B * T * C > PAR_MIN)
    for (int b = 0; b < B; b++)
        for (int t = 0; t < T; t++) {
            size_t row = ((size_t)b * T + t) * C;
            modulate_row(out + row, x + row, shift + (size_t)b * stride, scale + (size_t)b * stride, C);
        }
}

void ns_modulate_backward(float *dx, float *dshift, float *dscale, const float *dout,
                          const float *x, const float *scale, int B, int T, int C, int stride)
{
#pragma omp parallel for if ((size_t)B * T * C > PAR_MIN)
    for (int b = 0; b < B; b++) {
        const float *sc = scale + (size_t)b * stride;
        float *dsh = dshift ? dshift + (size_t)b * stride : NULL;
        float *dsc = dscale ? dscale + (size_t)b * stride : NULL;
        for (int t = 0; t < T; t++) {
            size_t row = ((size_t)b * T + t) * C;
            const float *g = dout + row, *xr = x + row;
            if (dx)
                for (int i = 0; i < C; i++) dx[row + i] += g[i] * (1.0f + sc[i]);
            if (dsh)
                for (int i = 0; i < C; i++) dsh[i] += g[i];
            if (dsc)
                for (int i = 0; i < C; i++) dsc[i] += g[i] * xr[i];
        }
    }
}

/* out may be res: no restrict on those two. */
NS_CLONES static void gate_row(float *o, const float *r, const float *g, const float *restrict y, int C)
{
#pragma omp simd
    for (int i = 0; i < C; i++) o[i] = r[i] + g[i] * y[i];
}

void ns_gate_forward(float *out, const float *res, const float *gate, const float *y, int B, int T,
                     int C, int stride)
{
#pragma omp parallel for collapse(2) if ((size_t)B * T * C > PAR_MIN)
    for (int b = 0; b < B; b++)
        for (int t = 0; t < T; t++) {
            size_t row = ((size_t)b * T + t) * C;
            gate_row(out + row, res + row, gate + (size_t)b * stride, y + row, C);
        }
}

void ns_gate_backward(float *dres, float *dgate, float *dy, const float *dout, const float *gate,
                      const float *y, int B, int T, int C, int stride)
{
#pragma omp parallel for if ((size_t)B * T * C > PAR_MIN)
    for (int b = 0; b < B; b++) {
        const float *g = gate + (size_t)b * stride;
        float *dg = dgate ? dgate + (size_t)b * stride : NULL;
        for (int t = 0; t < T; t++) {
            size_t row = ((size_t)b * T + t) * C;
            const float *d = dout + row;
            if (dres)
                for (int i = 0; i < C; i++) dres[row + i] += d[i];
            if (dy)
                for (int i = 0; i < C; i++) dy[row + i] += d[i] * g[i];
            if (dg)
                for (int i = 0; i < C; i++) dg[i] += d[i] * y[row + i];
        }
    }
}

/* ---- prompt embedding ----------------------------------------------------- */

void ns_embed_sum_forward(float *out, const int *ids, const float *table, int B, int P, int C)
{
    for (int b = 0; b < B; b++) {
        float *o = out + (size_t)b * C;
        memset(o, 0, (size_t)C * sizeof *o);
        for (int p = 0; p < P; p++) {
            int id = ids[(size_t)b * P + p];
            if (id < 0) continue;
            const float *e = table + (size_t)id * C;
            for (int i = 0; i < C; i++) o[i] += e[i];
        }
    }
}

void ns_embed_sum_backward(float *dtable, const float *dout, const int *ids, int B, int P, int C)
{
    for (int b = 0; b < B; b++)
        for (int p = 0; p < P; p++) {
            int id = ids[(size_t)b * P + p];
            if (id < 0) continue;
            float *d = dtable + (size_t)id * C;
            const float *g = dout + (size_t)b * C;
            for (int i = 0; i < C; i++) d[i] += g[i];
        }
}

/* ---- timestep embedding --------------------------------------------------- */

void ns_timestep_embedding(float *out, const float *t, int B, int dim, float max_period)
{
    int half = dim / 2;
    for (int b = 0; b < B; b++) {
        float *o = out + (size_t)b * dim;
        for (int i = 0; i < half; i++) {
            double f = exp(-log((double)max_period) * i / half);
            double a = (double)t[b] * f;
            o[i] = (float)cos(a);
            o[half + i] = (float)sin(a);
        }
        if (dim % 2) o[dim - 1] = 0.0f;
    }
}
