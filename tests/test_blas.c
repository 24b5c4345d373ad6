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

static int run_group(const char *name)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_describe),
        cmocka_unit_test(test_all_transposes_odd_sizes),
        cmocka_unit_test(test_beta_zero_ignores_nan),
        cmocka_unit_test(test_k_zero_scales_c),
        cmocka_unit_test(test_larger_threaded),
        cmocka_unit_test(test_serial_inside_parallel),
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
    rc |= run_group("sgemm_default");
    tu_cleanup();
    return rc;
}
