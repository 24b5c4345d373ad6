/* gemm_amx.h (private): C[M,N] (+)= A[M,K] W[N,K]^T on Intel AMX tiles in
 * bfloat16 with float accumulation, for weights that stay constant while
 * they are used (inference): W is converted and laid out for the tiles once,
 * A is converted to bf16 on every call. blas.c is the only user; it decides
 * when a product goes here (see blas.h, ns_blas_pack_weight). */
#ifndef NETSYNTH_GEMM_AMX_H
#define NETSYNTH_GEMM_AMX_H

#include <stdbool.h>

/* Whether this CPU has AMX-TILE, AMX-BF16 and AVX512-BF16 and the kernel
 * lets this process use the tile registers (asked once, on first call).
 * NETSYNTH_NO_AMX=1 (any value but 0 or empty) answers false. */
bool ns_amx_available(void);

typedef struct ns_amx_weight ns_amx_weight;

/* W[N,K] row-major (row stride K) -> bf16 tiles; NS_ENOMEM or NS_OK.
 * Only call when ns_amx_available(). */
int ns_amx_pack(ns_amx_weight **out, const float *W, int N, int K);
void ns_amx_free(ns_amx_weight *w);

/* C[M, N] = A[M, K] W^T + (accumulate ? C : bias ? bias[N] per row : 0);
 * lda and ldc are row strides. Runs on `threads` OpenMP threads (rows split
 * in blocks of 32; each C value is one fixed sum, whatever the split).
 * NS_ENOMEM (scratch, 70 KiB a thread) leaves C untouched. */
int ns_amx_gemm(const ns_amx_weight *w, int M, const float *A, int lda, float *C, int ldc, const float *bias,
                bool accumulate, int threads);

#endif
