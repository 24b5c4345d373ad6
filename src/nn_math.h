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
    bits = (bits - 0x4B400000 + 127) << 23; /* 2^n, n in [-126, 127] */
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

static inline float ns_tanhf(float x)
{
    return 1.0f - 2.0f / (ns_expf(2.0f * x) + 1.0f);
}

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
