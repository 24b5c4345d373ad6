/* nn_attention.c: multi-head self-attention with a key padding mask.
 *
 * One (sequence, head) pair per OpenMP iteration; within it, the products
 * (Q K^T, P V and the four of the backward) are small matrix products on the
 * calling thread (ns_sgemm_serial) over the sequence's valid keys only, so
 * short flows cost less, and the softmax runs in place in att. */
#include "netsynth/nn.h"

#include <math.h>
#include <omp.h>
#include <stdbool.h>
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

/* The same with each row's sum in index order, for deterministic mode
 * (blas.h): a SIMD reduction's order follows the vector width, so the
 * cloned function's bits differ between AVX-512, AVX2 and SSE CPUs. */
static void softmax_rows_fixed(float *a, int T, int L)
{
    for (int t = 0; t < T; t++) {
        float *r = a + (size_t)t * T;
        float mx = -INFINITY, sum = 0.0f;
        for (int j = 0; j < L; j++) mx = r[j] > mx ? r[j] : mx;
        for (int j = 0; j < L; j++) sum += (r[j] = ns_expf(r[j] - mx));
        float inv = 1.0f / sum;
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

/* The direct forward below handles heads of 16, 32, 48 or 64 channels and
 * sequences of at most 64 tokens (the model's), on AVX-512. */
#ifdef NS_HAVE_AVX512_KERNELS
#define HAVE_DIRECT 1

static bool direct_ok(int T, int hs)
{
    return T <= 64 && hs % 16 == 0 && hs <= 64 && ns_have_avx512();
}

/* o0, o1[nb * 16] = sum over j < L of p0[j] v[j, :], p1[j] v[j, :]: two
 * query rows share each row of V; nb (a constant where it is inlined)
 * vectors of 16 channels. With o1 NULL, one row (two sets of sums over
 * alternate keys, so that the additions do not wait on each other). */
__attribute__((target("avx512f"), always_inline)) static inline void pv_rows(float *o0, float *o1, const float *p0,
                                                                            const float *p1, const float *v, int L,
                                                                            int C3, const int nb)
{
    __m512 a0[4], a1[4];
    for (int i = 0; i < nb; i++) a0[i] = a1[i] = _mm512_setzero_ps();
    if (o1) {
        for (int j = 0; j < L; j++) {
            __m512 b0 = _mm512_set1_ps(p0[j]), b1 = _mm512_set1_ps(p1[j]);
            const float *vr = v + (size_t)j * C3;
            for (int i = 0; i < nb; i++) {
                __m512 vv = _mm512_loadu_ps(vr + 16 * i);
                a0[i] = _mm512_fmadd_ps(b0, vv, a0[i]);
                a1[i] = _mm512_fmadd_ps(b1, vv, a1[i]);
            }
        }
        for (int i = 0; i < nb; i++) _mm512_storeu_ps(o0 + 16 * i, a0[i]), _mm512_storeu_ps(o1 + 16 * i, a1[i]);
        return;
    }
    int j = 0;
    for (; j + 1 < L; j += 2) {
        __m512 b0 = _mm512_set1_ps(p0[j]), b1 = _mm512_set1_ps(p0[j + 1]);
        const float *v0 = v + (size_t)j * C3, *v1 = v0 + C3;
        for (int i = 0; i < nb; i++) {
            a0[i] = _mm512_fmadd_ps(b0, _mm512_loadu_ps(v0 + 16 * i), a0[i]);
            a1[i] = _mm512_fmadd_ps(b1, _mm512_loadu_ps(v1 + 16 * i), a1[i]);
        }
    }
    if (j < L) {
        __m512 b0 = _mm512_set1_ps(p0[j]);
        for (int i = 0; i < nb; i++) a0[i] = _mm512_fmadd_ps(b0, _mm512_loadu_ps(v + (size_t)j * C3 + 16 * i), a0[i]);
    }
    for (int i = 0; i < nb; i++) _mm512_storeu_ps(o0 + 16 * i, _mm512_add_ps(a0[i], a1[i]));
}

/* Softmax over the valid lanes of one row's 64 scores into p[64] (0 past L). */
__attribute__((target("avx512f"), always_inline)) static inline void softmax64(float *p, __m512 s0, __m512 s1,
                                                                              __m512 s2, __m512 s3,
                                                                              const __mmask16 *valid)
{
    const __m512 ninf = _mm512_set1_ps(-INFINITY);
    s0 = _mm512_mask_mov_ps(ninf, valid[0], s0), s1 = _mm512_mask_mov_ps(ninf, valid[1], s1);
    s2 = _mm512_mask_mov_ps(ninf, valid[2], s2), s3 = _mm512_mask_mov_ps(ninf, valid[3], s3);
    __m512 m = _mm512_set1_ps(_mm512_reduce_max_ps(_mm512_max_ps(_mm512_max_ps(s0, s1), _mm512_max_ps(s2, s3))));
    /* masked lanes: exp(-inf) -> the clamp gives a tiny value; zero them */
    s0 = _mm512_maskz_mov_ps(valid[0], ns_exp16(_mm512_sub_ps(s0, m)));
    s1 = _mm512_maskz_mov_ps(valid[1], ns_exp16(_mm512_sub_ps(s1, m)));
    s2 = _mm512_maskz_mov_ps(valid[2], ns_exp16(_mm512_sub_ps(s2, m)));
    s3 = _mm512_maskz_mov_ps(valid[3], ns_exp16(_mm512_sub_ps(s3, m)));
    __m512 inv = _mm512_set1_ps(1.0f / _mm512_reduce_add_ps(_mm512_add_ps(_mm512_add_ps(s0, s1), _mm512_add_ps(s2, s3))));
    _mm512_store_ps(p, _mm512_mul_ps(s0, inv));
    _mm512_store_ps(p + 16, _mm512_mul_ps(s1, inv));
    _mm512_store_ps(p + 32, _mm512_mul_ps(s2, inv));
    _mm512_store_ps(p + 48, _mm512_mul_ps(s3, inv));
}

/* One (sequence, head) in registers, two query rows at a time: their 64
 * (padded) scores S = q K^T scale in eight vectors, the softmax over the L
 * valid keys, then O = P V. For the model's heads (T <= 64, 32 channels)
 * the BLAS path's products are too small: their packing and calls and the
 * separate softmax pass cost more than the arithmetic (measured: 23% of a
 * sampling run). Two rows share each load of K^T and V.
 * kt: scratch for K^T, hs rows of 64 floats, keys past L zero. */
__attribute__((target("avx512f"))) static void attend_direct(float *o, float *a, float *kt, const float *q,
                                                             const float *k, const float *v, int T, int L,
                                                             int hs, int C, int C3, float scale)
{
    for (int c = 0; c < hs; c++) {
        float *row = kt + (size_t)c * 64;
        for (int j = 0; j < L; j++) row[j] = k[(size_t)j * C3 + c];
        for (int j = L; j < 64; j++) row[j] = 0.0f;
    }
    __mmask16 valid[4];
    for (int i = 0; i < 4; i++) {
        int w = L - 16 * i;
        valid[i] = w >= 16 ? 0xffff : w > 0 ? (__mmask16)((1u << w) - 1) : 0;
    }
    float p[2][64] __attribute__((aligned(64)));
    for (int t = 0; t < T; t += 2) {
        int two = t + 1 < T;
        const float *q0 = q + (size_t)t * C3, *q1 = two ? q0 + C3 : q0;
        __m512 s0 = _mm512_setzero_ps(), s1 = s0, s2 = s0, s3 = s0, r0 = s0, r1 = s0, r2 = s0, r3 = s0;
        for (int c = 0; c < hs; c++) {
            __m512 a0 = _mm512_set1_ps(q0[c] * scale), a1 = _mm512_set1_ps(q1[c] * scale);
            const float *kr = kt + (size_t)c * 64;
            __m512 k0 = _mm512_load_ps(kr), k1 = _mm512_load_ps(kr + 16);
            __m512 k2 = _mm512_load_ps(kr + 32), k3 = _mm512_load_ps(kr + 48);
            s0 = _mm512_fmadd_ps(a0, k0, s0), s1 = _mm512_fmadd_ps(a0, k1, s1);
            s2 = _mm512_fmadd_ps(a0, k2, s2), s3 = _mm512_fmadd_ps(a0, k3, s3);
            r0 = _mm512_fmadd_ps(a1, k0, r0), r1 = _mm512_fmadd_ps(a1, k1, r1);
            r2 = _mm512_fmadd_ps(a1, k2, r2), r3 = _mm512_fmadd_ps(a1, k3, r3);
        }
        softmax64(p[0], s0, s1, s2, s3, valid);
        if (a) memcpy(a + (size_t)t * T, p[0], (size_t)T * sizeof(float)); /* zeros past L */
        float *o0 = o + (size_t)t * C, *o1 = NULL;
        if (two) {
            softmax64(p[1], r0, r1, r2, r3, valid);
            if (a) memcpy(a + (size_t)(t + 1) * T, p[1], (size_t)T * sizeof(float));
            o1 = o0 + C;
        }
        switch (hs / 16) {
        case 1: pv_rows(o0, o1, p[0], p[1], v, L, C3, 1); break;
        case 2: pv_rows(o0, o1, p[0], p[1], v, L, C3, 2); break;
        case 3: pv_rows(o0, o1, p[0], p[1], v, L, C3, 3); break;
        default: pv_rows(o0, o1, p[0], p[1], v, L, C3, 4); break;
        }
    }
}
#endif

bool ns_attention_fused(int T, int hs)
{
#ifdef HAVE_DIRECT
    return direct_ok(T, hs);
#else
    (void)T, (void)hs;
    return false;
#endif
}

void ns_attention_forward(float *out, float *att, const float *qkv, const int *len, int B, int T,
                          int C, int NH)
{
    int hs = C / NH, C3 = 3 * C;
    float scale = 1.0f / sqrtf((float)hs);
#ifdef HAVE_DIRECT
    bool direct = direct_ok(T, hs);
#endif
#pragma omp parallel for collapse(2) schedule(dynamic) if ((double)B * NH * T * T * hs > 1e5)
    for (int b = 0; b < B; b++)
        for (int h = 0; h < NH; h++) {
            int L = keys_of(len, b, T);
            const float *q = qkv + (size_t)b * T * C3 + (size_t)h * hs, *k = q + C, *v = q + 2 * C;
            float *a = att ? att + ((size_t)b * NH + h) * T * T : NULL;
            float *o = out + (size_t)b * T * C + (size_t)h * hs;
            if (L == 0) {
                if (a) memset(a, 0, (size_t)T * T * sizeof *a);
                for (int t = 0; t < T; t++) memset(o + (size_t)t * C, 0, (size_t)hs * sizeof *o);
                continue;
            }
#ifdef HAVE_DIRECT
            if (direct) {
                float kt[64 * 64] __attribute__((aligned(64)));
                attend_direct(o, a, kt, q, k, v, T, L, hs, C, C3, scale);
                continue;
            }
#endif
            ns_sgemm_serial(false, true, T, L, hs, scale, q, C3, k, C3, 0.0f, a, T); /* S = Q K^T */
            if (ns_blas_deterministic()) softmax_rows_fixed(a, T, L);
            else softmax_rows(a, T, L);
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
