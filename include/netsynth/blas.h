/* blas.h: single-precision matrix products behind one interface.
 *
 * The backend is chosen once, at the first call:
 *   - OpenBLAS, dlopen()ed at run time (never linked), after choosing its CPU
 *     kernel from cpuid: SkylakeX on AVX-512 CPUs, Haswell on AVX2+FMA ones.
 *     A user's own OPENBLAS_CORETYPE is left alone. (Debian's 0.3.21 takes
 *     Sapphire Rapids for a "Prescott" and runs 4-5x slower by itself.)
 *   - else a built-in blocked C sgemm (OpenMP), with one note on stderr.
 * NETSYNTH_BLAS=builtin forces the built-in one; NETSYNTH_BLAS=/path/lib.so
 * loads that library instead of searching (=openblas: the default search). All matrices are row-major. */
#ifndef NETSYNTH_BLAS_H
#define NETSYNTH_BLAS_H
#ifdef __cplusplus
extern "C" {
#endif
#pragma GCC visibility push(default)

#include <stdbool.h>

/* Load the backend if not done yet (with the OpenMP default thread count)
 * and then use `threads` threads in it (<= 0: leave it). Thread-safe.
 * Returns NS_OK; failing to find OpenBLAS is not an error (built-in is used). */
int ns_blas_init(int threads);

/* C[M,N] = alpha * op(A) op(B) + beta * C, op(X) = X or X^T (transX true).
 * op(A) is M x K, op(B) is K x N; lda/ldb/ldc are row strides of the stored
 * A, B, C. beta == 0 overwrites C (NaNs in C do not propagate). Calls
 * ns_blas_init(0) when nothing is loaded yet. Not to be called from inside an
 * OpenMP parallel region. */
void ns_sgemm(bool transA, bool transB, int M, int N, int K, float alpha, const float *A, int lda,
              const float *B, int ldb, float beta, float *C, int ldc);

/* The same product on the calling thread only, for many small products
 * spread over an OpenMP loop (e.g. one per attention head): it may be called
 * from inside a parallel region. Small products go to OpenBLAS (which runs
 * them on the calling thread anyway), larger ones to the built-in kernel. */
void ns_sgemm_serial(bool transA, bool transB, int M, int N, int K, float alpha, const float *A,
                     int lda, const float *B, int ldb, float beta, float *C, int ldc);

/* Inference on weights that stay constant for a while (generation).
 * ns_blas_pack_weight(W, N, K) says that W[N, K] (row stride K) will not
 * change until the matching ns_blas_unpack_weight(W). Meanwhile
 *     ns_sgemm(false, true, M, N, K, 1, A, lda, W, K, beta 0 or 1, C, ldc)
 * (ns_linear_forward's product) runs on Intel AMX tiles where the CPU has
 * them: A and W rounded to bfloat16 (8 significant bits), the sums in float,
 * so a result differs from the float product by ~0.3% of sum |a w|. W is
 * converted once, here. Elsewhere (or with NETSYNTH_NO_AMX=1) packing does
 * nothing and the product is unchanged. Packing one W twice needs two
 * unpacks. Thread-safe. NS_OK, or NS_ENOMEM (nothing packed). */
int ns_blas_pack_weight(const float *W, int N, int K);
void ns_blas_unpack_weight(const float *W);
/* out[M, N] = A[M, K] W^T + bias[N] (bias NULL: none), all rows packed
 * (strides K and N), when W is packed and runs on AMX: returns true. Else
 * false, nothing done: the caller makes the float product itself. (The
 * bias goes in with the product, not in a pass over out of its own.) */
bool ns_blas_linear_packed(float *out, const float *A, const float *W, const float *bias, int M, int K, int N);
/* Whether packed weights run on AMX (the CPU, the kernel and NETSYNTH_NO_AMX allow it). */
bool ns_blas_has_amx(void);

/* Deterministic arithmetic: the same bits from the same inputs on every
 * x86-64 CPU, at some cost in speed (generate --deterministic, or
 * NETSYNTH_DETERMINISTIC=1 in the environment, read at the first call). By
 * default the arithmetic follows the CPU: AMX bf16 products where it has AMX
 * (ns_blas_pack_weight), OpenBLAS kernels chosen per CPU, AVX-512 code for
 * GELU and attention, and SIMD sums whose order depends on the vector width;
 * the same seed then gives other bytes on another CPU. Deterministic mode uses
 * none of those: every product runs on the built-in kernel without FMA
 * (C[i,j] = the sum of alpha a b over K in slices of 128, each slice in k
 * order, the slices added in order: the same for any vector width), and the layernorm and
 * softmax sums run in index order. ns_blas_set_deterministic overrides the
 * environment; call it before the work whose bits should not vary. */
void ns_blas_set_deterministic(bool on);
bool ns_blas_deterministic(void);

/* One line: backend, library path, kernel and how it was chosen, threads.
 * e.g. "openblas /usr/lib/.../libopenblas.so.0, kernel SkylakeX (chosen: avx512), 2 threads" */
const char *ns_blas_describe(void);

/* Whether the built-in sgemm is the backend in use (after init). */
bool ns_blas_is_builtin(void);

#pragma GCC visibility pop
#ifdef __cplusplus
}
#endif

#endif
