/* gemm_amx.c: C (+)= A W^T on AMX tiles, bf16 inputs, float sums (see gemm_amx.h).
 *
 * Tiles: C is computed 32 x 32 at a time in four 16 x 16 float tiles
 * (tmm0-3), from two 16-row slices of A (tmm4-5, 16 rows x 32 bf16 of K)
 * and two 16-column slices of W (tmm6-7, in the pair-interleaved layout the
 * TDPBF16PS instruction reads: row r holds W[n][2r], W[n][2r+1] for 16 n).
 * Packed W: for each 16-column block j (N padded to 32) and each 32-wide
 * slice kc of K (padded with zeros), one 1 KiB tile, j-major. A's rows are
 * converted to bf16 into a per-thread buffer 32 rows at a time (K padded
 * with zeros) and reused for every column block.
 *
 * Only GCC on x86-64 builds the kernel (the fuzz build's clang gets the
 * stub below, which reports no AMX). The tile code is in functions with a
 * target attribute, so the rest of the library stays baseline x86-64. */
#include "gemm_amx.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "netsynth/error.h"

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && defined(__linux__)
#define HAVE_AMX 1
#include <cpuid.h>
#include <immintrin.h>
#include <omp.h>
#include <pthread.h>
#include <sys/syscall.h>
#include <unistd.h>
#endif

struct ns_amx_weight {
    int N, K, np, kc;   /* np: N padded to 32; kc: 32-wide slices of K */
    uint16_t *tiles;    /* [np / 16][kc][16 rows][32] bf16 */
};

/* Round-to-nearest-even float -> bf16 (NaN stays a NaN). */
static uint16_t to_bf16(float f)
{
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    if ((u & 0x7fffffffu) > 0x7f800000u) return (uint16_t)(u >> 16 | 0x40);
    u += 0x7fffu + (u >> 16 & 1);
    return (uint16_t)(u >> 16);
}

void ns_amx_free(ns_amx_weight *w)
{
    if (!w) return;
    free(w->tiles);
    free(w);
}

int ns_amx_pack(ns_amx_weight **out, const float *W, int N, int K)
{
    *out = NULL;
    ns_amx_weight *w = calloc(1, sizeof *w);
    if (!w) return ns_error(NS_ENOMEM, "amx: out of memory");
    w->N = N, w->K = K, w->np = (N + 31) / 32 * 32, w->kc = (K + 31) / 32;
    size_t n = (size_t)w->np / 16 * w->kc * 512;
    w->tiles = aligned_alloc(64, n * sizeof *w->tiles);
    if (!w->tiles) {
        free(w);
        return ns_error(NS_ENOMEM, "amx: out of memory for a %d x %d weight", N, K);
    }
    for (int j = 0; j < w->np / 16; j++)
        for (int c = 0; c < w->kc; c++) {
            uint16_t *t = w->tiles + ((size_t)j * w->kc + c) * 512;
            for (int r = 0; r < 16; r++)
                for (int col = 0; col < 16; col++)
                    for (int p = 0; p < 2; p++) {
                        int row = j * 16 + col, k = c * 32 + 2 * r + p;
                        t[r * 32 + col * 2 + p] = row < N && k < K ? to_bf16(W[(size_t)row * K + k]) : 0;
                    }
        }
    *out = w;
    return NS_OK;
}

#ifdef HAVE_AMX

#define ARCH_REQ_XCOMP_PERM 0x1023
#define XFEATURE_XTILEDATA 18

static bool amx_ok;
static pthread_once_t amx_once = PTHREAD_ONCE_INIT;

static void amx_detect(void)
{
    const char *no = getenv("NETSYNTH_NO_AMX");
    if (no && *no && strcmp(no, "0") != 0) return;
    unsigned a, b, c, d;
    if (!__get_cpuid_count(7, 0, &a, &b, &c, &d)) return;
    bool tile = d >> 24 & 1, bf16 = d >> 22 & 1, avx512f = b >> 16 & 1, avx512bw = b >> 30 & 1;
    if (!__get_cpuid_count(7, 1, &a, &b, &c, &d)) return;
    bool avx512bf16 = a >> 5 & 1;
    if (!(tile && bf16 && avx512f && avx512bw && avx512bf16)) return;
    /* Linux hands out the 8 KiB tile state only to processes that ask. */
    amx_ok = syscall(SYS_arch_prctl, ARCH_REQ_XCOMP_PERM, XFEATURE_XTILEDATA) == 0;
}

bool ns_amx_available(void)
{
    pthread_once(&amx_once, amx_detect);
    return amx_ok;
}

typedef struct tile_config {
    uint8_t palette, start_row, reserved[14];
    uint16_t colsb[16];
    uint8_t rows[16];
} tile_config;

/* Every tile used is 16 rows of 64 bytes. The asm names the whole struct as
 * its operand, so the compiler keeps all 64 bytes written before it. */
static void load_config(void)
{
    tile_config cfg __attribute__((aligned(64)));
    memset(&cfg, 0, sizeof cfg);
    cfg.palette = 1;
    for (int i = 0; i < 8; i++) cfg.colsb[i] = 64, cfg.rows[i] = 16;
    __asm__ volatile("ldtilecfg %0" ::"m"(cfg));
}

#define AMX_TARGET __attribute__((target("avx512f,avx512bw,avx512bf16")))

/* Rows [0, mb) of A (K floats each) -> buf[32][kp] bf16, zero past K and past mb. */
AMX_TARGET static void convert_rows(uint16_t *buf, int kp, const float *A, int lda, int mb, int K)
{
    for (int i = 0; i < 32; i++) {
        uint16_t *dst = buf + (size_t)i * kp;
        if (i >= mb) {
            memset(dst, 0, (size_t)kp * sizeof *dst);
            continue;
        }
        const float *src = A + (size_t)i * lda;
        for (int k = 0; k < kp; k += 32) {
            int left = K - k;
            __mmask16 lo = left >= 16 ? 0xffff : left > 0 ? (__mmask16)((1u << left) - 1) : 0;
            __mmask16 hi = left >= 32 ? 0xffff : left > 16 ? (__mmask16)((1u << (left - 16)) - 1) : 0;
            __m512 a = _mm512_maskz_loadu_ps(lo, src + k);
            __m512 b = _mm512_maskz_loadu_ps(hi, src + k + 16);
            _mm512_storeu_si512((void *)(dst + k), (__m512i)_mm512_cvtne2ps_pbh(b, a));
        }
    }
}

/* A 16 x 16 block of C through a buffer when it is not whole (edges): what
 * the sums start from, C itself, the bias, or 0. */
static void edge_in(float *buf, const float *C, int ldc, const float *bias, int rows, int cols, bool accumulate)
{
    memset(buf, 0, 256 * sizeof *buf);
    for (int r = 0; r < rows; r++)
        if (accumulate) memcpy(buf + r * 16, C + (size_t)r * ldc, (size_t)cols * sizeof *buf);
        else if (bias) memcpy(buf + r * 16, bias, (size_t)cols * sizeof *buf);
}

static void edge_out(float *C, int ldc, const float *buf, int rows, int cols)
{
    for (int r = 0; r < rows; r++) memcpy(C + (size_t)r * ldc, buf + r * 16, (size_t)cols * sizeof *buf);
}

/* The four C tiles' place in C, or the edge buffers when a tile is cut. */
typedef struct c_tiles {
    float *at[4];
    long stride[4];
    int rows[4], cols[4];
} c_tiles;

/* Rows [i0, i0 + mb) of C, mb <= 32, with A's rows in buf (bf16, stride kp).
 * A whole C tile starts from C (accumulate), from the bias (a tile load
 * with stride 0 repeats its 16 floats in every row), or from zero. */
__attribute__((target("amx-tile,amx-bf16"))) static void row_block(const ns_amx_weight *w, const uint16_t *buf,
                                                                    float *C, int ldc, const float *bias, int mb,
                                                                    bool accumulate, float (*edge)[256])
{
    int kp = w->kc * 32;
    long astride = (long)kp * 2;
    for (int j0 = 0; j0 < w->np; j0 += 32) {
        c_tiles ct;
        const float *from[4];
        long from_stride[4];
        for (int t = 0; t < 4; t++) {
            int r0 = (t >> 1) * 16, c0 = j0 + (t & 1) * 16;
            int rows = mb - r0 < 16 ? mb - r0 : 16, cols = w->N - c0 < 16 ? w->N - c0 : 16;
            rows = rows < 0 ? 0 : rows, cols = cols < 0 ? 0 : cols;
            ct.rows[t] = rows, ct.cols[t] = cols;
            if (rows == 16 && cols == 16) {
                ct.at[t] = C + (size_t)r0 * ldc + c0;
                ct.stride[t] = (long)ldc * 4;
                from[t] = accumulate ? ct.at[t] : bias ? bias + c0 : NULL;
                from_stride[t] = accumulate ? ct.stride[t] : 0;
            } else {
                edge_in(edge[t], C + (size_t)r0 * ldc + c0, ldc, bias ? bias + c0 : NULL, rows, cols, accumulate);
                ct.at[t] = edge[t];
                ct.stride[t] = 64;
                from[t] = edge[t];
                from_stride[t] = 64;
            }
        }
        if (from[0]) _tile_loadd(0, from[0], from_stride[0]);
        else _tile_zero(0);
        if (from[1]) _tile_loadd(1, from[1], from_stride[1]);
        else _tile_zero(1);
        if (from[2]) _tile_loadd(2, from[2], from_stride[2]);
        else _tile_zero(2);
        if (from[3]) _tile_loadd(3, from[3], from_stride[3]);
        else _tile_zero(3);
        const uint16_t *b0 = w->tiles + (size_t)(j0 / 16) * w->kc * 512, *b1 = b0 + (size_t)w->kc * 512;
        for (int c = 0; c < w->kc; c++) {
            _tile_loadd(4, buf + c * 32, astride);
            _tile_loadd(5, buf + (size_t)16 * kp + c * 32, astride);
            _tile_loadd(6, b0 + (size_t)c * 512, 64);
            _tile_loadd(7, b1 + (size_t)c * 512, 64);
            _tile_dpbf16ps(0, 4, 6);
            _tile_dpbf16ps(1, 4, 7);
            _tile_dpbf16ps(2, 5, 6);
            _tile_dpbf16ps(3, 5, 7);
        }
        _tile_stored(0, ct.at[0], ct.stride[0]);
        _tile_stored(1, ct.at[1], ct.stride[1]);
        _tile_stored(2, ct.at[2], ct.stride[2]);
        _tile_stored(3, ct.at[3], ct.stride[3]);
        for (int t = 0; t < 4; t++)
            if (ct.at[t] == edge[t] && ct.rows[t] && ct.cols[t])
                edge_out(C + (size_t)(t >> 1) * 16 * ldc + j0 + (t & 1) * 16, ldc, edge[t], ct.rows[t], ct.cols[t]);
    }
}

__attribute__((target("amx-tile"))) static void release_tiles(void) { _tile_release(); }

/* Scratch kept between calls (a sampling run makes thousands): one block,
 * grown when needed, used by one call at a time; a call that finds it busy
 * (another thread's product) allocates its own. */
static char *scratch_kept;
static size_t scratch_size;
static pthread_mutex_t scratch_lock = PTHREAD_MUTEX_INITIALIZER;

int ns_amx_gemm(const ns_amx_weight *w, int M, const float *A, int lda, float *C, int ldc, const float *bias,
                bool accumulate, int threads)
{
    int blocks = (M + 31) / 32, kp = w->kc * 32;
    if (threads > blocks) threads = blocks;
    if (threads < 1) threads = 1;
    /* Per thread: A's 32 rows in bf16 (up to 70 KiB: too large for some
     * thread stacks) and four 16 x 16 edge tiles. */
    size_t per = (size_t)32 * kp * sizeof(uint16_t) + 4 * 256 * sizeof(float), need = (size_t)threads * per;
    char *scratch = NULL;
    bool kept = pthread_mutex_trylock(&scratch_lock) == 0;
    if (kept) {
        if (scratch_size < need) {
            free(scratch_kept);
            scratch_kept = aligned_alloc(64, need);
            scratch_size = scratch_kept ? need : 0;
        }
        scratch = scratch_kept;
    } else {
        scratch = aligned_alloc(64, need);
    }
    if (!scratch) {
        if (kept) pthread_mutex_unlock(&scratch_lock);
        return ns_error(NS_ENOMEM, "amx: out of memory for %d threads' scratch", threads);
    }
#pragma omp parallel num_threads(threads) if (threads > 1)
    {
        char *mine = scratch + (size_t)omp_get_thread_num() * per;
        uint16_t *buf = (uint16_t *)mine;
        float(*edge)[256] = (float(*)[256])(mine + (size_t)32 * kp * sizeof(uint16_t));
        load_config();
#pragma omp for schedule(static)
        for (int b = 0; b < blocks; b++) {
            int i0 = b * 32, mb = M - i0 < 32 ? M - i0 : 32;
            convert_rows(buf, kp, A + (size_t)i0 * lda, lda, mb, w->K);
            row_block(w, buf, C + (size_t)i0 * ldc, ldc, bias, mb, accumulate, edge);
        }
        release_tiles();
    }
    if (kept) pthread_mutex_unlock(&scratch_lock);
    else free(scratch);
    return NS_OK;
}

#else /* no AMX kernel in this build */

bool ns_amx_available(void) { return false; }

int ns_amx_gemm(const ns_amx_weight *w, int M, const float *A, int lda, float *C, int ldc, const float *bias,
                bool accumulate, int threads)
{
    (void)w, (void)M, (void)A, (void)lda, (void)C, (void)ldc, (void)bias, (void)accumulate, (void)threads;
    return ns_error(NS_EARG, "amx: not in this build");
}

#endif
