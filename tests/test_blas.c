#define _GNU_SOURCE
/* test_blas.c: ns_sgemm against a naive double-precision triple loop, on both
 * backends. The backend is chosen once per process, so the built-in one and a
 * user's own OPENBLAS_CORETYPE are each tested in a forked child. */
#include "testutil.h"


#include <float.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "netsynth/blas.h"
#include "netsynth/error.h"
#include "netsynth/nn.h"

static unsigned rng = 12345;
static float frand(void)
{
    rng = rng * 1664525u + 1013904223u;
    return (float)((rng >> 8) & 0xffff) / 32768.0f - 1.0f;
}

/* C = alpha op(A) op(B) + beta C, in double, as the reference. */
static void naive(bool ta, bool tb, int M, int N, int K, float alpha, const float *A, int lda,
                  const float *B, int ldb, float beta, double *C, int ldc)
{
    for (int i = 0; i < M; i++)
        for (int j = 0; j < N; j++) {
            double s = 0;
            for (int k = 0; k < K; k++) {
                double a = ta ? A[k * lda + i] : A[i * lda + k];
                double b = tb ? B[j * ldb + k] : B[k * ldb + j];
                s += a * b;
            }
            C[i * ldc + j] = alpha * s + (beta == 0.0f ? 0.0 : beta * C[i * ldc + j]);
        }
}

/* One product with padded strides; returns the worst error in units of
 * K * FLT_EPSILON, the rounding bound of a float sum of K products of numbers
 * in [-1, 1] (typical errors are far below 1). */
static double check_one(bool ta, bool tb, int M, int N, int K, float alpha, float beta, bool nan_c)
{
    int pad = 3;
    int arows = ta ? K : M, acols = ta ? M : K, lda = acols + pad;
    int brows = tb ? N : K, bcols = tb ? K : N, ldb = bcols + pad;
    int ldc = N + pad;
    float *A = malloc(sizeof(float) * (size_t)(arows * lda + 1));
    float *B = malloc(sizeof(float) * (size_t)(brows * ldb + 1));
    float *C = malloc(sizeof(float) * (size_t)(M * ldc + 1));
    double *R = malloc(sizeof(double) * (size_t)(M * ldc + 1));
    for (int i = 0; i < arows * lda; i++) A[i] = frand();
    for (int i = 0; i < brows * ldb; i++) B[i] = frand();
    for (int i = 0; i < M * ldc; i++) R[i] = C[i] = nan_c ? NAN : frand();
    ns_sgemm(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
    naive(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, R, ldc);
    double worst = 0;
    for (int i = 0; i < M; i++) {
        for (int j = 0; j < N; j++) {
            double e = fabs(C[i * ldc + j] - R[i * ldc + j]);
            if (!(e <= worst)) worst = e; /* catches NaN */
        }
        for (int j = N; j < ldc; j++) /* the padding is untouched */
            if (!nan_c) assert_true(C[i * ldc + j] == (float)R[i * ldc + j]);
    }
    free(A), free(B), free(C), free(R);
    return worst / ((K > 0 ? K : 1) * FLT_EPSILON);
}

static void test_all_transposes_odd_sizes(void **state)
{
    (void)state;
    static const int sizes[][3] = {{1, 1, 1},    {1, 7, 3},    {7, 1, 5},    {5, 3, 1},
                                   {13, 17, 19}, {33, 31, 65}, {65, 129, 7}, {67, 133, 131},
                                   {130, 40, 257}, {4, 300, 64}};
    for (size_t s = 0; s < sizeof sizes / sizeof *sizes; s++)
        for (int t = 0; t < 4; t++) {
            bool ta = t & 1, tb = t & 2;
            int M = sizes[s][0], N = sizes[s][1], K = sizes[s][2];
            double e = check_one(ta, tb, M, N, K, 1.0f, 0.0f, false);
            if (e > 2.0) fail_msg("M=%d N=%d K=%d ta=%d tb=%d: error %g", M, N, K, ta, tb, e);
            e = check_one(ta, tb, M, N, K, -0.5f, 0.75f, false);
            if (e > 2.0) fail_msg("alpha/beta M=%d N=%d K=%d ta=%d tb=%d: %g", M, N, K, ta, tb, e);
        }
}

static void test_beta_zero_ignores_nan(void **state)
{
    (void)state;
    for (int t = 0; t < 4; t++)
        assert_true(check_one(t & 1, t & 2, 9, 11, 13, 2.0f, 0.0f, true) < 2.0);
}

static void test_k_zero_scales_c(void **state)
{
    (void)state;
    float A[1] = {0}, B[1] = {0}, C[4] = {1, 2, 3, 4};
    ns_sgemm(false, false, 2, 2, 0, 1.0f, A, 1, B, 2, 0.5f, C, 2);
    assert_true(C[0] == 0.5f && C[3] == 2.0f);
    ns_sgemm(false, false, 2, 2, 0, 1.0f, A, 1, B, 2, 0.0f, C, 2);
    assert_true(C[0] == 0.0f && C[3] == 0.0f);
}

static void test_larger_threaded(void **state)
{
    (void)state;
    assert_int_equal(ns_blas_init(2), NS_OK);
    for (int t = 0; t < 4; t++) {
        double e = check_one(t & 1, t & 2, 300, 257, 1088, 1.0f, 1.0f, false);
        if (e > 2.0) fail_msg("ta=%d tb=%d: error %g", t & 1, (t & 2) != 0, e);
    }
    assert_int_equal(ns_blas_init(1), NS_OK);
    assert_true(check_one(true, false, 129, 255, 300, 1.0f, 0.0f, false) < 2.0);
}

/* ns_sgemm_serial from inside an OpenMP loop: many products at once, small
 * (OpenBLAS on the calling thread) and large (the built-in kernel). */
static void test_serial_inside_parallel(void **state)
{
    (void)state;
    enum { JOBS = 16 };
    static const int shape[2][3] = {{64, 32, 64}, {100, 90, 80}};
    float *A[JOBS], *B[JOBS], *C[JOBS];
    for (int j = 0; j < JOBS; j++) {
        const int *s = shape[j % 2];
        A[j] = malloc(sizeof(float) * s[0] * s[2]);
        B[j] = malloc(sizeof(float) * s[2] * s[1]);
        C[j] = malloc(sizeof(float) * s[0] * s[1]);
        for (int i = 0; i < s[0] * s[2]; i++) A[j][i] = frand();
        for (int i = 0; i < s[2] * s[1]; i++) B[j][i] = frand();
    }
#pragma omp parallel for schedule(dynamic)
    for (int j = 0; j < JOBS; j++) {
        const int *s = shape[j % 2];
        ns_sgemm_serial(false, false, s[0], s[1], s[2], 1.0f, A[j], s[2], B[j], s[1], 0.0f, C[j], s[1]);
    }
    for (int j = 0; j < JOBS; j++) {
        const int *s = shape[j % 2];
        double *R = malloc(sizeof(double) * s[0] * s[1]);
        naive(false, false, s[0], s[1], s[2], 1.0f, A[j], s[2], B[j], s[1], 0.0f, R, s[1]);
        for (int i = 0; i < s[0] * s[1]; i++)
            assert_true(fabs(C[j][i] - R[i]) <= 2.0 * s[2] * FLT_EPSILON);
        free(R), free(A[j]), free(B[j]), free(C[j]);
    }
}

static void test_describe(void **state)
{
    (void)state;
    const char *d = ns_blas_describe();
    print_message("blas: %s\n", d);
    assert_true(strlen(d) > 0);
    const char *want = getenv("NETSYNTH_BLAS");
    if (want && strcmp(want, "builtin") == 0) {
        assert_true(ns_blas_is_builtin());
        assert_non_null(strstr(d, "builtin"));
    } else if (!ns_blas_is_builtin()) {
        assert_non_null(strstr(d, "openblas"));
        const char *user = getenv("OPENBLAS_CORETYPE");
        if (user) assert_non_null(strstr(d, "from OPENBLAS_CORETYPE"));
        /* The environment is left as the user had it. */
        if (!user) assert_null(getenv("OPENBLAS_CORETYPE"));
#if defined(__x86_64__)
        __builtin_cpu_init();
        if (!user && __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
            __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vl") &&
            __builtin_cpu_supports("avx512cd"))
            assert_non_null(strcasestr(d, "skylakex"));
#endif
    }
}

/* Packed weights (blas.h): C = A W^T (+ C) within bf16's rounding where
 * the CPU has AMX, within float's otherwise; the same bits whatever the
 * thread count; the float product again once unpacked. */
static void packed_one(int M, int N, int K, bool accumulate)
{
    int lda = K + 3, ldc = N + 5;
    float *A = malloc(sizeof(float) * (size_t)M * lda), *W = malloc(sizeof(float) * (size_t)N * K);
    float *C = malloc(sizeof(float) * (size_t)M * ldc), *C1 = malloc(sizeof(float) * (size_t)M * ldc);
    float *C0 = malloc(sizeof(float) * (size_t)M * ldc);
    double *R = malloc(sizeof(double) * (size_t)M * ldc), *S = malloc(sizeof(double) * (size_t)M * N);
    for (int i = 0; i < M * lda; i++) A[i] = frand();
    for (int i = 0; i < N * K; i++) W[i] = frand();
    for (int i = 0; i < M * ldc; i++) C[i] = accumulate ? frand() : NAN;
    memcpy(C1, C, sizeof(float) * (size_t)M * ldc);
    memcpy(C0, C, sizeof(float) * (size_t)M * ldc);
    float beta = accumulate ? 1.0f : 0.0f;
    for (int i = 0; i < M; i++)
        for (int j = 0; j < N; j++) {
            double r = 0, a = 0;
            for (int k = 0; k < K; k++) {
                r += (double)A[i * lda + k] * W[j * K + k];
                a += fabs((double)A[i * lda + k] * W[j * K + k]);
            }
            R[i * ldc + j] = r + (accumulate ? C[i * ldc + j] : 0.0);
            S[i * N + j] = a;
        }
    bool amx = ns_blas_has_amx();
    assert_int_equal(ns_blas_pack_weight(W, N, K), NS_OK);
    assert_int_equal(ns_blas_pack_weight(W, N, K), NS_OK); /* twice: two unpacks below */
    assert_int_equal(ns_blas_init(2), NS_OK);
    ns_sgemm(false, true, M, N, K, 1.0f, A, lda, W, K, beta, C, ldc);
    assert_int_equal(ns_blas_init(1), NS_OK);
    ns_sgemm(false, true, M, N, K, 1.0f, A, lda, W, K, beta, C1, ldc);
    double worst = 0;
    for (int i = 0; i < M; i++) {
        for (int j = 0; j < N; j++) {
            size_t at = (size_t)i * ldc + j;
            /* bf16: each factor within 2^-9 relative, so each product 2^-8. */
            double tol = (amx ? S[i * N + j] / 256 : 0) + 2.0 * (K + 1) * FLT_EPSILON * (S[i * N + j] + 1);
            double e = fabs(C[at] - R[at]);
            if (!(e <= tol)) fail_msg("M=%d N=%d K=%d acc=%d at %d,%d: %g vs %g (tol %g)", M, N, K, accumulate, i,
                                      j, C[at], R[at], tol);
            if (e / (S[i * N + j] + 1e-30) > worst) worst = e / (S[i * N + j] + 1e-30);
            assert_true(memcmp(&C[at], &C1[at], sizeof(float)) == 0); /* 1 or 2 threads: one sum */
        }
        for (int j = N; j < ldc; j++) assert_true(memcmp(&C[(size_t)i * ldc + j], &C1[(size_t)i * ldc + j], 4) == 0);
    }
    if (M * N * K > 100000) print_message("packed %dx%dx%d (%s): worst error %.2g of sum |a w|\n", M, N, K,
                                          amx ? "amx bf16" : "float", worst);
    ns_blas_unpack_weight(W);
    ns_sgemm(false, true, M, N, K, 1.0f, A, lda, W, K, beta, C, ldc); /* still packed once */
    ns_blas_unpack_weight(W);
    /* Unpacked: the float product again, onto C = 0.5 (R holds the original C). */
    for (int i = 0; i < M * ldc; i++) C[i] = accumulate ? 0.5f : NAN;
    ns_sgemm(false, true, M, N, K, 1.0f, A, lda, W, K, beta, C, ldc);
    for (int i = 0; i < M; i++)
        for (int j = 0; j < N; j++) {
            size_t at = (size_t)i * ldc + j;
            double want = R[at] - (accumulate ? C0[at] - 0.5 : 0.0);
            assert_true(fabs(C[at] - want) <= 2.0 * (K + 1) * FLT_EPSILON * (S[i * N + j] + 1));
        }
    free(A), free(W), free(C), free(C0), free(C1), free(R), free(S);
}

/* Deterministic mode's documented order (blas.h), in float: C[i,j] = beta C
 * plus, slice by slice of 128 along K, a sum in k order of (alpha a) b. */
static void fixed_order(bool ta, bool tb, int M, int N, int K, float alpha, const float *A, int lda, const float *B,
                        int ldb, float beta, float *C, int ldc)
{
    for (int i = 0; i < M; i++)
        for (int j = 0; j < N; j++) {
            float c = beta == 0.0f ? 0.0f : beta == 1.0f ? C[(size_t)i * ldc + j] : beta * C[(size_t)i * ldc + j];
            for (int k0 = 0; k0 < K; k0 += 128) {
                float acc = 0.0f;
                for (int k = k0; k < K && k < k0 + 128; k++) {
                    float a = alpha * (ta ? A[(size_t)k * lda + i] : A[(size_t)i * lda + k]);
                    acc += a * (tb ? B[(size_t)j * ldb + k] : B[(size_t)k * ldb + j]);
                }
                c += acc;
            }
            C[(size_t)i * ldc + j] = c;
        }
}

/* Deterministic mode gives exactly that order's bits, whatever the backend
 * (OpenBLAS, AMX with a packed weight) and the thread count; and layernorm
 * its sums in index order. Bit-for-bit equality is what makes the same
 * seed give the same bytes on every CPU (issue 12, defect 14). */
static void test_deterministic_order(void **state)
{
    (void)state;
    ns_blas_set_deterministic(true);
    assert_true(ns_blas_deterministic());
    assert_false(ns_blas_has_amx());
    assert_non_null(strstr(ns_blas_describe(), "deterministic"));
    const int M = 70, N = 150, K = 300;
    float *A = malloc(sizeof(float) * M * K), *W = malloc(sizeof(float) * N * K);
    float *C = malloc(sizeof(float) * M * N), *R = malloc(sizeof(float) * M * N);
    assert_true(A && W && C && R);
    for (int i = 0; i < M * K; i++) A[i] = frand();
    for (int i = 0; i < N * K; i++) W[i] = frand();
    for (int t = 0; t < 4; t++) {
        bool ta = t & 1, tb = t & 2;
        for (int i = 0; i < M * N; i++) C[i] = R[i] = frand();
        float beta = t == 3 ? 1.0f : t == 2 ? 0.5f : 0.0f;
        ns_sgemm(ta, tb, M, N, K, 0.75f, A, ta ? M : K, W, tb ? K : N, beta, C, N);
        fixed_order(ta, tb, M, N, K, 0.75f, A, ta ? M : K, W, tb ? K : N, beta, R, N);
        assert_memory_equal(C, R, sizeof(float) * M * N);
        ns_sgemm_serial(ta, tb, M, N, K, 0.75f, A, ta ? M : K, W, tb ? K : N, 0.0f, C, N);
        fixed_order(ta, tb, M, N, K, 0.75f, A, ta ? M : K, W, tb ? K : N, 0.0f, R, N);
        assert_memory_equal(C, R, sizeof(float) * M * N);
    }
    /* A packed weight (AMX where the CPU has it) is not used. */
    assert_int_equal(ns_blas_pack_weight(W, N, K), NS_OK);
    ns_sgemm(false, true, M, N, K, 1.0f, A, K, W, K, 0.0f, C, N);
    fixed_order(false, true, M, N, K, 1.0f, A, K, W, K, 0.0f, R, N);
    assert_memory_equal(C, R, sizeof(float) * M * N);
    assert_false(ns_blas_linear_packed(C, A, W, NULL, M, K, N));
    ns_blas_unpack_weight(W);

    /* Layernorm of rows of 200 (the vector widths' sums would differ). */
    const int C2 = 200, rows = 3;
    float x[3 * 200], w[200], b[200], out[3 * 200], mean[3], rstd[3];
    for (int i = 0; i < rows * C2; i++) x[i] = 3 * frand() + 1;
    for (int i = 0; i < C2; i++) w[i] = frand(), b[i] = frand();
    ns_layernorm_forward(out, mean, rstd, x, w, b, rows, C2, 1e-5f);
    for (int r = 0; r < rows; r++) {
        const float *xr = x + r * C2;
        float m = 0.0f, v = 0.0f;
        for (int i = 0; i < C2; i++) m += xr[i];
        m /= C2;
        for (int i = 0; i < C2; i++) v += (xr[i] - m) * (xr[i] - m);
        float s = 1.0f / sqrtf(v / C2 + 1e-5f);
        assert_memory_equal(&mean[r], &m, sizeof m);
        assert_memory_equal(&rstd[r], &s, sizeof s);
        for (int i = 0; i < C2; i++) {
            float o = (xr[i] - m) * s * w[i] + b[i];
            assert_memory_equal(&out[r * C2 + i], &o, sizeof o);
        }
    }
    ns_blas_set_deterministic(false);
    assert_false(ns_blas_deterministic());
    free(A), free(W), free(C), free(R);
}

static void test_packed_weights(void **state)
{
    (void)state;
    static const int sizes[][3] = {{1, 1, 1},   {5, 17, 33},   {33, 31, 65},   {16, 16, 32},
                                   {70, 1628, 128}, {100, 128, 1086}, {64, 512, 128}, {130, 40, 257}};
    for (size_t s = 0; s < sizeof sizes / sizeof *sizes; s++)
        for (int acc = 0; acc < 2; acc++) packed_one(sizes[s][0], sizes[s][1], sizes[s][2], acc);
    /* Only the exact shape and form packed: another use of W is a float product. */
    float W[6] = {1, 2, 3, 4, 5, 6}, A[3] = {1, 1, 1}, C[2];
    assert_int_equal(ns_blas_pack_weight(W, 2, 3), NS_OK);
    ns_sgemm(false, false, 1, 2, 3, 1.0f, A, 3, W, 2, 0.0f, C, 2); /* W as a [3, 2] B, not transposed */
    assert_true(C[0] == 9.0f && C[1] == 12.0f);
    ns_sgemm(false, true, 1, 2, 3, 2.0f, A, 3, W, 3, 0.0f, C, 2);  /* alpha 2 */
    assert_true(C[0] == 12.0f && C[1] == 30.0f);
    ns_blas_unpack_weight(W);
}

static int run_group(const char *name)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_describe),
        cmocka_unit_test(test_all_transposes_odd_sizes),
        cmocka_unit_test(test_beta_zero_ignores_nan),
        cmocka_unit_test(test_k_zero_scales_c),
        cmocka_unit_test(test_larger_threaded),
        cmocka_unit_test(test_serial_inside_parallel),
        cmocka_unit_test(test_packed_weights),
        cmocka_unit_test(test_deterministic_order),
    };
    return _cmocka_run_group_tests(name, tests, sizeof tests / sizeof *tests, NULL, NULL);
}

/* Runs the group in a child with one variable set (before anything loads). */
static int run_in_child(const char *name, const char *var, const char *value)
{
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0) return 1;
    if (pid == 0) {
        setenv(var, value, 1);
        _exit(run_group(name) ? 1 : 0);
    }
    int st;
    if (waitpid(pid, &st, 0) != pid) return 1;
    return !(WIFEXITED(st) && WEXITSTATUS(st) == 0);
}

int main(void)
{
    int rc = 0;
    /* Children first: nothing is loaded yet and no thread runs. */
    rc |= run_in_child("sgemm_builtin", "NETSYNTH_BLAS", "builtin");
    if (!getenv("OPENBLAS_CORETYPE"))
        rc |= run_in_child("sgemm_user_coretype", "OPENBLAS_CORETYPE", "Haswell");
    rc |= run_in_child("sgemm_no_amx", "NETSYNTH_NO_AMX", "1");
    rc |= run_group("sgemm_default");
    tu_cleanup();
    return rc;
}
