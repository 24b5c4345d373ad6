/* nn_attention.c: multi-head self-attention with a key padding mask.
 *
 * One (sequence, head) pair per OpenMP iteration; within it, the products
 * (Q K^T, P V and the four of the backward) are small matrix products on the
 * calling thread (ns_sgemm_serial) over the sequence's valid keys only, so
 * short flows cost less, and the softmax runs in place in att. */
#include "netsynth/nn.h"

#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "netsynth/blas.h"
#include "netsynth/error.h"
#include "nn_math.h"

/* Number of valid keys of sequence b. */
static inline int keys_of(const int *len, int b, int T)
{
    if (!len) return T;
    return len[b] < 0 ? 0 : len[b] > T ? T : len[b];
}

/* Row-wise softmax of a[T rows, ld T] over the first L columns; the rest 0. */
NS_CLONES static void softmax_rows(float *a, int T, int L)
{
    for (int t = 0; t < T; t++) {
        float *r = a + (size_t)t * T;
        float mx = -INFINITY, sum = 0.0f;
        for (int j = 0; j < L; j++) mx = r[j] > mx ? r[j] : mx;
#pragma omp simd reduction(+ : sum)
        for (int j = 0; j < L; j++) sum += (r[j] = ns_expf(r[j] - mx));
        float inv = 1.0f / sum;
#pragma omp simd
        for (int j = 0; j < L; j++) r[j] *= inv;
        memset(r + L, 0, (size_t)(T - L) * sizeof *r);
    }
}

/* In place: dp = p * (dp - sum_j p_j dp_j) * scale, per row, first L columns. */
NS_CLONES static void softmax_backward_rows(float *dp, const float *p, int T, int L, float scale)
{
    for (int t = 0; t < T; t++) {
        float *d = dp + (size_t)t * T;
        const float *r = p + (size_t)t * T;
        float s = 0.0f;
#pragma omp simd reduction(+ : s)
        for (int j = 0; j < L; j++) s += r[j] * d[j];
#pragma omp simd
        for (int j = 0; j < L; j++) d[j] = r[j] * (d[j] - s) * scale;
    }
}

void ns_attention_forward(float *out, float *att, const float *qkv, const int *len, int B, int T,
                          int C, int NH)
{
    int hs = C / NH, C3 = 3 * C;
    float scale = 1.0f / sqrtf((float)hs);
#pragma omp parallel for collapse(2) schedule(dynamic) if ((double)B * NH * T * T * hs > 1e5)
    for (int b = 0; b < B; b++)
        for (int h = 0; h < NH; h++) {
            int L = keys_of(len, b, T);
            const float *q = qkv + (size_t)b * T * C3 + (size_t)h * hs, *k = q + C, *v = q + 2 * C;
            float *a = att + ((size_t)b * NH + h) * T * T;
            float *o = out + (size_t)b * T * C + (size_t)h * hs;
            if (L == 0) {
                memset(a, 0, (size_t)T * T * sizeof *a);
                for (int t = 0; t < T; t++) memset(o + (size_t)t * C, 0, (size_t)hs * sizeof *o);
                continue;
            }
            ns_sgemm_serial(false, true, T, L, hs, scale, q, C3, k, C3, 0.0f, a, T); /* S = Q K^T */
            softmax_rows(a, T, L);
            ns_sgemm_serial(false, false, T, hs, L, 1.0f, a, T, v, C3, 0.0f, o, C); /* O = P V */
        }
}

int ns_attention_backward(float *dqkv, const float *dout, const float *qkv, const float *att,
                          const int *len, int B, int T, int C, int NH)
{
    int hs = C / NH, C3 = 3 * C;
    float scale = 1.0f / sqrtf((float)hs);
    int nthreads = omp_get_max_threads();
    float *scratch = malloc((size_t)nthreads * T * T * sizeof *scratch);
    if (!scratch)
        return ns_error(NS_ENOMEM, "attention: %d x %d x %d scratch floats", nthreads, T, T);
#pragma omp parallel num_threads(nthreads) if ((double)B * NH * T * T * hs > 1e5)
    {
        float *dp = scratch + (size_t)omp_get_thread_num() * T * T;
#pragma omp for collapse(2) schedule(dynamic)
        for (int b = 0; b < B; b++)
            for (int h = 0; h < NH; h++) {
                int L = keys_of(len, b, T);
                if (L == 0) continue;
                size_t base = (size_t)b * T * C3 + (size_t)h * hs;
                const float *q = qkv + base, *k = q + C, *v = q + 2 * C;
                float *dq = dqkv + base, *dk = dq + C, *dv = dq + 2 * C;
                const float *p = att + ((size_t)b * NH + h) * T * T;
                const float *g = dout + (size_t)b * T * C + (size_t)h * hs;
                ns_sgemm_serial(true, false, L, hs, T, 1.0f, p, T, g, C, 1.0f, dv, C3);  /* dV += P^T dO */
                ns_sgemm_serial(false, true, T, L, hs, 1.0f, g, C, v, C3, 0.0f, dp, T);  /* dP = dO V^T */
                softmax_backward_rows(dp, p, T, L, scale);                               /* dS */
                ns_sgemm_serial(false, false, T, hs, L, 1.0f, dp, T, k, C3, 1.0f, dq, C3); /* dQ += dS K */
                ns_sgemm_serial(true, false, L, hs, T, 1.0f, dp, T, q, C3, 1.0f, dk, C3);  /* dK += dS^T Q */
            }
    }
    free(scratch);
    return NS_OK;
}
