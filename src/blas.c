/* blas.c: ns_sgemm on a dlopen()ed OpenBLAS with a kernel chosen from cpuid,
 * or on a built-in blocked sgemm when no OpenBLAS is installed.
 *
 * Why dlopen: OpenBLAS reads OPENBLAS_CORETYPE once, when it is loaded. Linked
 * with -lopenblas it would load before main() could set it; loading it here
 * lets us set the kernel first (and run without it at all). */
#include "netsynth/blas.h"
#include "netsynth/error.h"
#include "gemm_amx.h"

#include <dlfcn.h>
#include <omp.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The CBLAS enum values, so that no cblas.h is needed at build time. */
enum { CBLAS_ROW_MAJOR = 101, CBLAS_NO_TRANS = 111, CBLAS_TRANS = 112 };

typedef void (*cblas_sgemm_fn)(int order, int transa, int transb, int m, int n, int k, float alpha,
                               const float *a, int lda, const float *b, int ldb, float beta,
                               float *c, int ldc);
typedef void (*set_threads_fn)(int);
typedef char *(*corename_fn)(void);

/* Where Debian (and most distributions) put the threaded OpenBLAS builds. */
static const char *const openblas_paths[] = {
    "/usr/lib/x86_64-linux-gnu/openblas-pthread/libopenblas.so.0",
    "/usr/lib/x86_64-linux-gnu/openblas-openmp/libopenblas.so.0",
    "/usr/lib/aarch64-linux-gnu/openblas-pthread/libopenblas.so.0",
    "/usr/lib/aarch64-linux-gnu/openblas-openmp/libopenblas.so.0",
    "libopenblas.so.0",
    "libopenblas.so",
};

static struct {
    void *lib;                /* NULL: built-in sgemm */
    cblas_sgemm_fn sgemm;
    set_threads_fn set_threads;
    corename_fn corename;
    char path[256];
    char chosen[96];          /* how the kernel was chosen */
    int threads;
    char desc[512];
} blas;

/* -1: not decided yet (NETSYNTH_DETERMINISTIC is read on first use). */
static atomic_int deterministic = -1;

void ns_blas_set_deterministic(bool on) { atomic_store(&deterministic, on ? 1 : 0); }

bool ns_blas_deterministic(void)
{
    int d = atomic_load_explicit(&deterministic, memory_order_relaxed);
    if (d < 0) {
        const char *e = getenv("NETSYNTH_DETERMINISTIC");
        int want = e && *e && strcmp(e, "0") != 0;
        int expected = -1;
        atomic_compare_exchange_strong(&deterministic, &expected, want);
        d = atomic_load(&deterministic);
    }
    return d == 1;
}

static pthread_once_t load_once = PTHREAD_ONCE_INIT;
static pthread_mutex_t threads_lock = PTHREAD_MUTEX_INITIALIZER;

/* The OpenBLAS kernel this CPU can run fastest, or NULL to let OpenBLAS
 * decide. SkylakeX needs AVX-512 F/CD/BW/DQ/VL (and an OS that saves the
 * zmm state, which __builtin_cpu_supports checks through xgetbv). */
static const char *cpu_kernel(const char **why)
{
#if defined(__x86_64__) || defined(__i386__)
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512cd") &&
        __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512dq") &&
        __builtin_cpu_supports("avx512vl")) {
        *why = "chosen: avx512";
        return "SkylakeX";
    }
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) {
        *why = "chosen: avx2+fma";
        return "Haswell";
    }
#endif
    *why = "OpenBLAS's own detection";
    return NULL;
}

static void *open_with_kernel(const char *path, const char *kernel)
{
    if (!kernel) return dlopen(path, RTLD_NOW | RTLD_LOCAL);
    setenv("OPENBLAS_CORETYPE", kernel, 1);
    void *h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    unsetenv("OPENBLAS_CORETYPE"); /* leave the environment as we found it */
    return h;
}

static void load(void)
{
    const char *force = getenv("NETSYNTH_BLAS");
    if (force && strcmp(force, "builtin") == 0) {
        snprintf(blas.chosen, sizeof blas.chosen, "NETSYNTH_BLAS=builtin");
        return;
    }
    if (force && !strchr(force, '/')) {
        if (*force && strcmp(force, "openblas") != 0)
            fprintf(stderr, "netsynth: NETSYNTH_BLAS=%s: expected builtin, openblas or a path; "
                            "looking for OpenBLAS\n", force);
        force = NULL;
    }

    const char *kernel = NULL, *why = "";
    const char *user = getenv("OPENBLAS_CORETYPE");
    void *already = dlopen("libopenblas.so.0", RTLD_NOW | RTLD_NOLOAD);
    if (already) {
        why = "already loaded: kernel as OpenBLAS detected it";
    } else if (user && *user) {
        why = "from OPENBLAS_CORETYPE";
    } else {
        kernel = cpu_kernel(&why);
    }
    snprintf(blas.chosen, sizeof blas.chosen, "%s", why);

    const char *const *paths = openblas_paths;
    size_t npaths = sizeof openblas_paths / sizeof *openblas_paths;
    if (force) { /* NETSYNTH_BLAS=/path/to/libopenblas.so */
        paths = &force;
        npaths = 1;
    }
    void *h = already;
    const char *path = "libopenblas.so.0";
    for (size_t i = 0; !h && i < npaths; i++)
        if ((h = open_with_kernel(paths[i], kernel))) path = paths[i];
    if (!h) {
        fprintf(stderr, "netsynth: no OpenBLAS found (%s); using the built-in sgemm, which is "
                        "much slower: install libopenblas0-pthread\n",
                force ? force : "libopenblas.so.0");
        snprintf(blas.chosen, sizeof blas.chosen, "no OpenBLAS found");
        return;
    }
    blas.sgemm = (cblas_sgemm_fn)dlsym(h, "cblas_sgemm");
    if (!blas.sgemm) {
        fprintf(stderr, "netsynth: %s has no cblas_sgemm; using the built-in sgemm\n", path);
        snprintf(blas.chosen, sizeof blas.chosen, "%s has no cblas_sgemm", path);
        dlclose(h);
        return;
    }
    blas.set_threads = (set_threads_fn)dlsym(h, "openblas_set_num_threads");
    blas.corename = (corename_fn)dlsym(h, "openblas_get_corename");
    snprintf(blas.path, sizeof blas.path, "%s", path);
    blas.lib = h;
}

/* OpenBLAS itself always runs on one thread: ns_sgemm splits a product
 * across OpenMP's threads instead. Two thread pools on two cores fought:
 * OpenMP's workers spin-wait between parallel regions while OpenBLAS's
 * threads want the same cores (measured: 60% of a training step's CPU time
 * was libgomp spinning). One pool does all the work now. */
static void set_threads(int threads)
{
    pthread_mutex_lock(&threads_lock);
    if (threads != blas.threads) {
        blas.threads = threads;
        if (blas.set_threads) blas.set_threads(1);
    }
    pthread_mutex_unlock(&threads_lock);
}

/* Load on first use, with the OpenMP default thread count. */
static void load_default(void)
{
    load();
    set_threads(omp_get_max_threads());
}

static inline void ensure_loaded(void) { pthread_once(&load_once, load_default); }

int ns_blas_init(int threads)
{
    ensure_loaded();
    if (threads > 0) set_threads(threads);
    return NS_OK;
}

const char *ns_blas_describe(void)
{
    ensure_loaded();
    const char *amx = ns_blas_deterministic() ? "; deterministic: built-in kernel for every product"
                      : ns_amx_available()    ? "; AMX bf16 for packed weights"
                                              : "";
    if (blas.lib)
        snprintf(blas.desc, sizeof blas.desc, "openblas %s, kernel %s (%s), %d threads%s", blas.path,
                 blas.corename ? blas.corename() : "?", blas.chosen, blas.threads, amx);
    else
        snprintf(blas.desc, sizeof blas.desc, "builtin sgemm (%s), %d threads%s",
                 *blas.chosen ? blas.chosen : "no OpenBLAS", blas.threads, amx);
    return blas.desc;
}

bool ns_blas_is_builtin(void)
{
    ensure_loaded();
    return blas.lib == NULL;
}

/* ---- built-in sgemm -------------------------------------------------------
 * C is cut into MB x NB tiles, one per OpenMP task; for each KB slice of the
 * inner dimension, the tile's A and B slices are packed (transposes and alpha
 * resolved, zero-padded to whole MR x NR blocks) and an MR x NR register
 * block of C is accumulated at a time. Compiled for AVX-512, AVX2 and plain
 * x86-64, picked at load time. */
enum { MB = 64, NB = 128, KB = 128, MR = 4, NR = 32 };

static void pack_a(float *restrict ap, bool trans, const float *A, int lda, int i0, int mb, int k0,
                   int kb, float alpha)
{
    /* ap: panels of MR rows, each k-major: ap[(p*KB + k)*MR + r] */
    for (int i = 0; i < (mb + MR - 1) / MR * MR; i++) {
        float *dst = ap + (i / MR) * KB * MR + i % MR;
        for (int k = 0; k < kb; k++) {
            float v = 0.0f;
            if (i < mb) v = trans ? A[(size_t)(k0 + k) * lda + i0 + i] : A[(size_t)(i0 + i) * lda + k0 + k];
            dst[k * MR] = alpha * v;
        }
    }
}

static void pack_b(float *restrict bp, bool trans, const float *B, int ldb, int k0, int kb, int j0,
                   int nb)
{
    /* bp: row-major KB x NB, columns past nb are zero */
    for (int k = 0; k < kb; k++) {
        float *dst = bp + k * NB;
        if (trans)
            for (int j = 0; j < nb; j++) dst[j] = B[(size_t)(j0 + j) * ldb + k0 + k];
        else
            memcpy(dst, B + (size_t)(k0 + k) * ldb + j0, (size_t)nb * sizeof *dst);
        for (int j = nb; j < (nb + NR - 1) / NR * NR; j++) dst[j] = 0.0f;
    }
}

/* Each C[i, j] gets the sum over the slice in k order (vectorised across j,
 * which does not change any one sum), added to C after the slice. */
static inline __attribute__((always_inline)) void tile_body(float *restrict C, int ldc, const float *restrict ap,
                                                            const float *restrict bp, int mb, int nb, int kb)
{
    for (int i0 = 0; i0 < mb; i0 += MR) {
        const float *a = ap + (i0 / MR) * KB * MR;
        for (int j0 = 0; j0 < nb; j0 += NR) {
            float acc[MR][NR] = {{0}};
            for (int k = 0; k < kb; k++) {
                const float *b = bp + k * NB + j0;
                for (int r = 0; r < MR; r++) {
                    float av = a[k * MR + r];
#pragma omp simd
                    for (int j = 0; j < NR; j++) acc[r][j] += av * b[j];
                }
            }
            int mr = mb - i0 < MR ? mb - i0 : MR, nr = nb - j0 < NR ? nb - j0 : NR;
            for (int r = 0; r < mr; r++)
                for (int j = 0; j < nr; j++) C[(size_t)(i0 + r) * ldc + j0 + j] += acc[r][j];
        }
    }
}

__attribute__((target_clones("avx512f", "arch=haswell", "default")))
static void tile_kernel(float *restrict C, int ldc, const float *restrict ap,
                        const float *restrict bp, int mb, int nb, int kb)
{
    tile_body(C, ldc, ap, bp, mb, nb, kb);
}

/* The same for deterministic mode: never an FMA, which would fuse a multiply
 * and an add into one rounding. The vector width does not change any sum
 * (each runs along k in one lane), so GCC may clone it for wider vectors
 * with contraction off; elsewhere (clang contracts by default) it is
 * baseline x86-64 only, which has no FMA. */
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
__attribute__((target_clones("avx512f", "avx2", "default"), optimize("fp-contract=off")))
#endif
static void tile_kernel_fixed(float *restrict C, int ldc, const float *restrict ap,
                              const float *restrict bp, int mb, int nb, int kb)
{
    tile_body(C, ldc, ap, bp, mb, nb, kb);
}

static void builtin_sgemm(bool ta, bool tb, int M, int N, int K, float alpha, const float *A,
                          int lda, const float *B, int ldb, float beta, float *C, int ldc,
                          bool parallel)
{
    parallel = parallel && (double)M * N * K > 1e5;
#pragma omp parallel for num_threads(blas.threads) if (parallel)
    for (int i = 0; i < M; i++) {
        float *c = C + (size_t)i * ldc;
        if (beta == 0.0f)
            memset(c, 0, (size_t)N * sizeof *c);
        else if (beta != 1.0f)
            for (int j = 0; j < N; j++) c[j] *= beta;
    }
    if (K == 0 || alpha == 0.0f) return;

    bool fixed = ns_blas_deterministic();
    int mt = (M + MB - 1) / MB, nt = (N + NB - 1) / NB;
#pragma omp parallel for collapse(2) schedule(dynamic) num_threads(blas.threads) if (parallel)
    for (int ti = 0; ti < mt; ti++) {
        for (int tj = 0; tj < nt; tj++) {
            float ap[MB * KB] __attribute__((aligned(64)));
            float bp[KB * NB] __attribute__((aligned(64)));
            int i0 = ti * MB, j0 = tj * NB;
            int mb = M - i0 < MB ? M - i0 : MB, nb = N - j0 < NB ? N - j0 : NB;
            for (int k0 = 0; k0 < K; k0 += KB) {
                int kb = K - k0 < KB ? K - k0 : KB;
                pack_a(ap, ta, A, lda, i0, mb, k0, kb, alpha);
                pack_b(bp, tb, B, ldb, k0, kb, j0, nb);
                if (fixed) tile_kernel_fixed(C + (size_t)i0 * ldc + j0, ldc, ap, bp, mb, nb, kb);
                else tile_kernel(C + (size_t)i0 * ldc + j0, ldc, ap, bp, mb, nb, kb);
            }
        }
    }
}

static void openblas_sgemm(bool transA, bool transB, int M, int N, int K, float alpha, const float *A, int lda,
                           const float *B, int ldb, float beta, float *C, int ldc)
{
    blas.sgemm(CBLAS_ROW_MAJOR, transA ? CBLAS_TRANS : CBLAS_NO_TRANS, transB ? CBLAS_TRANS : CBLAS_NO_TRANS, M, N,
               K, alpha, A, lda, B, ldb, beta, C, ldc);
}

/* ---- packed weights -------------------------------------------------------
 * A short list, searched on every product whose B could be one (a few per
 * layer, against a product of ~1e7 multiply-adds). `n_packed` lets the
 * common case, nothing packed (training), skip the lock. */
typedef struct packed {
    const float *W;
    int N, K, refs;
    ns_amx_weight *amx;
} packed;

static packed *packs;
static int n_packs, cap_packs;
static atomic_int n_packed;
static pthread_mutex_t packs_lock = PTHREAD_MUTEX_INITIALIZER;

bool ns_blas_has_amx(void) { return !ns_blas_deterministic() && ns_amx_available(); }

int ns_blas_pack_weight(const float *W, int N, int K)
{
    if (!ns_blas_has_amx() || N <= 0 || K <= 0) return NS_OK;
    int rc = NS_OK;
    pthread_mutex_lock(&packs_lock);
    for (int i = 0; i < n_packs; i++)
        if (packs[i].W == W && packs[i].N == N && packs[i].K == K) {
            packs[i].refs++;
            goto done;
        }
    if (n_packs == cap_packs) {
        int cap = cap_packs ? 2 * cap_packs : 64;
        packed *more = realloc(packs, (size_t)cap * sizeof *more);
        if (!more) {
            rc = ns_error(NS_ENOMEM, "out of memory for packed weights");
            goto done;
        }
        packs = more, cap_packs = cap;
    }
    packed *p = &packs[n_packs];
    if ((rc = ns_amx_pack(&p->amx, W, N, K))) goto done;
    p->W = W, p->N = N, p->K = K, p->refs = 1;
    n_packs++;
    atomic_store(&n_packed, n_packs);
done:
    pthread_mutex_unlock(&packs_lock);
    return rc;
}

void ns_blas_unpack_weight(const float *W)
{
    pthread_mutex_lock(&packs_lock);
    for (int i = 0; i < n_packs; i++) {
        if (packs[i].W != W) continue;
        if (--packs[i].refs == 0) {
            ns_amx_free(packs[i].amx);
            packs[i] = packs[--n_packs];
            atomic_store(&n_packed, n_packs);
        }
        break;
    }
    pthread_mutex_unlock(&packs_lock);
}

/* The AMX form of B when this product can use it, else NULL. */
static const ns_amx_weight *packed_for(bool transA, bool transB, int N, int K, float alpha, const float *B,
                                       int ldb, float beta)
{
    if (atomic_load_explicit(&n_packed, memory_order_relaxed) == 0 || ns_blas_deterministic()) return NULL;
    if (transA || !transB || alpha != 1.0f || (beta != 0.0f && beta != 1.0f) || ldb != K) return NULL;
    const ns_amx_weight *w = NULL;
    pthread_mutex_lock(&packs_lock);
    for (int i = 0; i < n_packs && !w; i++)
        if (packs[i].W == B && packs[i].N == N && packs[i].K == K) w = packs[i].amx;
    pthread_mutex_unlock(&packs_lock);
    return w;
}

bool ns_blas_linear_packed(float *out, const float *A, const float *W, const float *bias, int M, int K, int N)
{
    if (M <= 0 || N <= 0 || K <= 0) return false;
    ensure_loaded();
    const ns_amx_weight *amx = packed_for(false, true, N, K, 1.0f, W, K, 0.0f);
    return amx && ns_amx_gemm(amx, M, A, K, out, N, bias, false, omp_in_parallel() ? 1 : blas.threads) == NS_OK;
}

/* Below this many multiply-adds a product is not worth splitting. */
#define SPLIT_MIN_MNK (1 << 20)

void ns_sgemm(bool transA, bool transB, int M, int N, int K, float alpha, const float *A, int lda,
              const float *B, int ldb, float beta, float *C, int ldc)
{
    if (M <= 0 || N <= 0) return;
    ensure_loaded();
    const ns_amx_weight *amx = K > 0 ? packed_for(transA, transB, N, K, alpha, B, ldb, beta) : NULL;
    if (amx && ns_amx_gemm(amx, M, A, lda, C, ldc, NULL, beta == 1.0f, omp_in_parallel() ? 1 : blas.threads) == NS_OK)
        return;
    if (!blas.lib || K <= 0 || ns_blas_deterministic()) {
        builtin_sgemm(transA, transB, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc, true);
        return;
    }
    int nt = blas.threads;
    if (nt <= 1 || (double)M * N * K < SPLIT_MIN_MNK || omp_in_parallel()) {
        openblas_sgemm(transA, transB, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
        return;
    }
    /* Cut C into nt blocks of whole 16-row (or 16-column) strips along its
     * longer side; each thread runs single-threaded OpenBLAS on its block. */
    int along_m = M >= N, len = along_m ? M : N, step = ((len + nt - 1) / nt + 15) / 16 * 16;
#pragma omp parallel for num_threads(nt) schedule(static)
    for (int p = 0; p < nt; p++) {
        int lo = p * step, n = len - lo < step ? len - lo : step;
        if (n <= 0) continue;
        if (along_m)
            openblas_sgemm(transA, transB, n, N, K, alpha, transA ? A + lo : A + (size_t)lo * lda, lda, B, ldb, beta,
                           C + (size_t)lo * ldc, ldc);
        else
            openblas_sgemm(transA, transB, M, n, K, alpha, A, lda, transB ? B + (size_t)lo * ldb : B + lo, ldb, beta,
                           C + lo, ldc);
    }
}

void ns_sgemm_serial(bool transA, bool transB, int M, int N, int K, float alpha, const float *A,
                     int lda, const float *B, int ldb, float beta, float *C, int ldc)
{
    if (M <= 0 || N <= 0) return;
    ensure_loaded();
    if (blas.lib && K > 0 && !ns_blas_deterministic())
        openblas_sgemm(transA, transB, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
    else
        builtin_sgemm(transA, transB, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc, false);
}
