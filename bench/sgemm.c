/* sgemm.c: GFLOP/s of ns_sgemm with OpenBLAS's misdetected default kernel
 * (OPENBLAS_CORETYPE=Prescott), with the kernel netsynth chooses, and with
 * the built-in fallback, on square and training-shaped products, at 1 and 2
 * threads. The kernel is fixed when OpenBLAS loads, so each backend runs in
 * its own child process (this program with --one); the parent prints the
 * table and the ratios.
 *
 * usage: sgemm [--quick]      (the table)
 *        sgemm --one [--quick] (one backend, as set by the environment) */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "netsynth/blas.h"

struct shape {
    const char *name;
    bool ta, tb;
    int M, N, K;
};

/* Tokens = 128 flows x 64 packets; d = 256; 1088 bits in, 3 x 1088 logits out. */
static const struct shape shapes[] = {
    {"square 1024", false, false, 1024, 1024, 1024},
    {"square 2048", false, false, 2048, 2048, 2048},
    {"tokens x 256 -> 256 (NT)", false, true, 8192, 256, 256},
    {"tokens x 256 -> 1024 (NT, mlp)", false, true, 8192, 1024, 256},
    {"tokens x 1088 -> 256 (NT, embed)", false, true, 8192, 256, 1088},
    {"tokens x 256 -> 3264 (NT, head)", false, true, 8192, 3264, 256},
    {"dW 256 x 1088 over tokens (TN)", true, false, 256, 1088, 8192},
    {"dX tokens x 1024 -> 256 (NN)", false, false, 8192, 256, 1024},
};
enum { NSHAPES = sizeof shapes / sizeof *shapes };

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static float *filled(size_t n)
{
    float *p = malloc(n * sizeof *p);
    if (!p) exit(1);
    for (size_t i = 0; i < n; i++) p[i] = (float)((i * 2654435761u) % 1000) / 1000.0f - 0.5f;
    return p;
}

static double gflops(const struct shape *s, double min_seconds)
{
    int lda = s->ta ? s->M : s->K, ldb = s->tb ? s->K : s->N;
    float *A = filled((size_t)s->M * s->K), *B = filled((size_t)s->K * s->N);
    float *C = filled((size_t)s->M * s->N);
    ns_sgemm(s->ta, s->tb, s->M, s->N, s->K, 1.0f, A, lda, B, ldb, 0.0f, C, s->N); /* warm-up */
    double best = 0;
    double start = now();
    for (int reps = 0; reps < 3 || now() - start < min_seconds; reps++) {
        double t0 = now();
        ns_sgemm(s->ta, s->tb, s->M, s->N, s->K, 1.0f, A, lda, B, ldb, 0.0f, C, s->N);
        double g = 2.0 * s->M * s->N * s->K / (now() - t0) / 1e9;
        if (g > best) best = g;
    }
    free(A), free(B), free(C);
    return best;
}

/* One backend: "describe" line, then "shape threads gflops" lines. */
static int run_one(double min_seconds)
{
    ns_blas_init(1);
    printf("# %s\n", ns_blas_describe());
    for (int threads = 1; threads <= 2; threads++) {
        ns_blas_init(threads);
        for (int s = 0; s < NSHAPES; s++) printf("%d %d %.2f\n", s, threads, gflops(&shapes[s], min_seconds));
    }
    return 0;
}

struct backend {
    const char *label, *var, *value;
    char describe[512];
    double g[NSHAPES][3];
};

static int run_child(struct backend *b, const char *quick)
{
    unsetenv("OPENBLAS_CORETYPE");
    unsetenv("NETSYNTH_BLAS");
    if (b->var) setenv(b->var, b->value, 1);
    char cmd[64];
    snprintf(cmd, sizeof cmd, "/proc/%d/exe --one %s", (int)getpid(), quick);
    FILE *p = popen(cmd, "r");
    if (!p) return -1;
    char line[600];
    while (fgets(line, sizeof line, p)) {
        int s, t;
        double g;
        if (line[0] == '#') {
            line[strcspn(line, "\n")] = 0;
            snprintf(b->describe, sizeof b->describe, "%s", line + 2);
        } else if (sscanf(line, "%d %d %lf", &s, &t, &g) == 3 && s >= 0 && s < NSHAPES && t >= 1 && t <= 2) {
            b->g[s][t] = g;
        }
    }
    return pclose(p);
}

int main(int argc, char **argv)
{
    bool one = false, quick = false;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--one") == 0) one = true;
        else if (strcmp(argv[i], "--quick") == 0) quick = true;
        else {
            fprintf(stderr, "usage: %s [--one] [--quick]\n", argv[0]);
            return 2;
        }
    }
    if (one) return run_one(quick ? 0.05 : 0.5);

    static struct backend b[] = {
        {"prescott", "OPENBLAS_CORETYPE", "Prescott", "", {{0}}},
        {"chosen", NULL, NULL, "", {{0}}},
        {"builtin", "NETSYNTH_BLAS", "builtin", "", {{0}}},
    };
    for (int i = 0; i < 3; i++) {
        if (run_child(&b[i], quick ? "--quick" : "") != 0) {
            fprintf(stderr, "sgemm: the %s run failed\n", b[i].label);
            return 1;
        }
        printf("%-9s %s\n", b[i].label, b[i].describe);
    }
    printf("\n%-34s %3s %10s %10s %10s %8s %8s\n", "GFLOP/s", "thr", "prescott", "chosen",
           "builtin", "ch/pre", "ch/blt");
    for (int s = 0; s < NSHAPES; s++)
        for (int t = 1; t <= 2; t++)
            printf("%-34s %3d %10.1f %10.1f %10.1f %7.2fx %7.2fx\n", shapes[s].name, t, b[0].g[s][t],
                   b[1].g[s][t], b[2].g[s][t], b[1].g[s][t] / b[0].g[s][t],
                   b[1].g[s][t] / b[2].g[s][t]);
    return 0;
}
