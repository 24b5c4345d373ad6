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

/* One line: backend, library path, kernel and how it was chosen, threads.
 * e.g. "openblas /usr/lib/.../libopenblas.so.0, kernel SkylakeX (chosen: avx512), 2 threads" */
const char *ns_blas_describe(void);

/* Whether the built-in sgemm is the backend in use (after init). */
bool ns_blas_is_builtin(void);

#endif
