/* nn_math.h (private): exp and tanh that vectorise, and a way to run an
 * elementwise kernel over cores and SIMD widths.
 *
 * libm's expf/tanhf are scalar calls: GELU over 8M floats took longer than
 * half the matrix product that feeds it. These are plain C that GCC turns
 * into SIMD code; ns_expf is within ~2 ulp of expf on [-87, 88] (Cephes'
 * polynomial) and saturates outside it. */
#ifndef NETSYNTH_NN_MATH_H
#define NETSYNTH_NN_MATH_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "netsynth/blas.h"

/* The clamps in ns_expf are compares; with -ftrapping-math (GCC's default)
 * GCC will not turn them into branch-free SIMD code. Nothing here relies on
 * floating-point exceptions, so the files that include this header opt out. */
#pragma GCC optimize("no-trapping-math")

/* Compiled for AVX-512, AVX2+FMA and baseline x86-64, chosen at load time. */
#if defined(__x86_64__) && !defined(__clang__)
#define NS_CLONES __attribute__((target_clones("avx512f", "arch=haswell", "default")))
#else
#define NS_CLONES
#endif

static inline float ns_expf(float x)
{
    x = x > 88.3762626647949f ? 88.3762626647949f : x;
    x = x < -87.3365447504f ? -87.3365447504f : x;
    /* n = round(x / ln 2), by the 1.5 * 2^23 trick: t's low mantissa bits hold n */
    float t = x * 1.44269504088896341f + 12582912.0f;
    float n = t - 12582912.0f;
    int32_t bits;
    memcpy(&bits, &t, sizeof bits);
    /* 2^n, n in [-126, 127]; shifted unsigned, as a NaN x (a diverged run)
     * leaves a negative n whose signed shift would be undefined */
    bits = (int32_t)((uint32_t)(bits - 0x4B400000 + 127) << 23);
    float r = x - n * 0.693359375f + n * 2.12194440e-4f; /* x - n ln 2, in two parts */
    float y = 1.9875691500e-4f;
    y = y * r + 1.3981999507e-3f;
    y = y * r + 8.3334519073e-3f;
    y = y * r + 4.1665795894e-2f;
    y = y * r + 1.6666665459e-1f;
    y = y * r + 5.0000001201e-1f;
    y = y * r * r + r + 1.0f;
    float scale;
    memcpy(&scale, &bits, sizeof scale);
    return y * scale;
}

/* Natural log for normal positive x (Cephes' logf, ~1 ulp); the losses
 * only take it of a softmax's denominator, in [1, 3]. */
static inline float ns_logf(float x)
{
    int32_t bits;
    memcpy(&bits, &x, sizeof bits);
    float e = (float)(((bits >> 23) & 0xff) - 126);
    bits = (bits & 0x807fffff) | 0x3f000000; /* mantissa in [0.5, 1) */
    float m;
    memcpy(&m, &bits, sizeof m);
    int small = m < 0.707106781186547524f;
    e = small ? e - 1.0f : e;
    float r = small ? m + m - 1.0f : m - 1.0f;
    float z = r * r;
    float y = 7.0376836292e-2f;
    y = y * r - 1.1514610310e-1f;
    y = y * r + 1.1676998740e-1f;
    y = y * r - 1.2420140846e-1f;
    y = y * r + 1.4249322787e-1f;
    y = y * r - 1.6668057665e-1f;
    y = y * r + 2.0000714765e-1f;
    y = y * r - 2.4999993993e-1f;
    y = y * r + 3.3333331174e-1f;
    y = y * r * z - 2.12194440e-4f * e - 0.5f * z;
    return r + y + 0.693359375f * e;
}

static inline float ns_tanhf(float x)
{
    return 1.0f - 2.0f / (ns_expf(2.0f * x) + 1.0f);
}

/* Hand-written AVX-512 kernels (GCC on x86-64 only), in functions with
 * __attribute__((target("avx512f"))) that the caller picks at run time. */
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define NS_HAVE_AVX512_KERNELS 1
#include <immintrin.h>

/* ns_expf of 16 lanes (its polynomial), clamped to [-80, 80]: results
 * stay normal floats, and so do their reciprocals (a denormal input or
 * output costs a microcode assist, ~100 cycles, on Intel cores). */
__attribute__((target("avx512f"))) static inline __m512 ns_exp16(__m512 x)
{
    x = _mm512_min_ps(_mm512_max_ps(x, _mm512_set1_ps(-80.0f)), _mm512_set1_ps(80.0f));
    __m512 n = _mm512_roundscale_ps(_mm512_mul_ps(x, _mm512_set1_ps(1.44269504088896341f)),
                                    _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m512 r = _mm512_fmadd_ps(n, _mm512_set1_ps(-0.693359375f), x);
    r = _mm512_fmadd_ps(n, _mm512_set1_ps(2.12194440e-4f), r);
    __m512 y = _mm512_set1_ps(1.9875691500e-4f);
    y = _mm512_fmadd_ps(y, r, _mm512_set1_ps(1.3981999507e-3f));
    y = _mm512_fmadd_ps(y, r, _mm512_set1_ps(8.3334519073e-3f));
    y = _mm512_fmadd_ps(y, r, _mm512_set1_ps(4.1665795894e-2f));
    y = _mm512_fmadd_ps(y, r, _mm512_set1_ps(1.6666665459e-1f));
    y = _mm512_fmadd_ps(y, r, _mm512_set1_ps(5.0000001201e-1f));
    y = _mm512_fmadd_ps(_mm512_mul_ps(y, r), r, _mm512_add_ps(r, _mm512_set1_ps(1.0f)));
    return _mm512_scalef_ps(y, n);
}

/* 1 / d to ~1 ulp: the 14-bit estimate and one Newton step (no division). */
__attribute__((target("avx512f"))) static inline __m512 ns_rcp16(__m512 d)
{
    __m512 r = _mm512_rcp14_ps(d);
    return _mm512_mul_ps(r, _mm512_fnmadd_ps(d, r, _mm512_set1_ps(2.0f)));
}

/* Deterministic mode (blas.h) keeps to code whose bits do not depend on the CPU. */
static inline int ns_have_avx512(void)
{
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx512f") && !ns_blas_deterministic();
}
#endif

/* Run fn(lo, hi) over [0, n) in chunks spread over the OpenMP threads. */
#define NS_CHUNK 16384
#define NS_PARALLEL_CHUNKS(n, body_lo_hi)                                           \
    do {                                                                            \
        size_t ns_n_ = (n), ns_chunks_ = (ns_n_ + NS_CHUNK - 1) / NS_CHUNK;         \
        _Pragma("omp parallel for if (ns_chunks_ > 1)")                              \
        for (size_t ns_c_ = 0; ns_c_ < ns_chunks_; ns_c_++) {                       \
            size_t lo = ns_c_ * NS_CHUNK;                                           \
            size_t hi = lo + NS_CHUNK < ns_n_ ? lo + NS_CHUNK : ns_n_;              \
            body_lo_hi;                                                             \
        }                                                                           \
    } while (0)

#endif
