/* length_totals [-e] MODEL LIKE.ds [REPS]: issue 15's per-class totals as the length head alone decides them, without
 * denoising a row. Per class of LIKE.ds (the --like plan's requests): the real total packets, the head's expected
 * total over real (the head's bias: n flows times its mean length, a bin past the window at its log-uniform mean),
 * and over REPS draws (default 2000) of the class's n lengths, independent or stratified as generate draws them
 * (src/generate.c, stratify: u = (pi(j) + U) / n), the share whose total lies within 10% of real and of the head's
 * expectation, and the spread (sd) of total / expected. Separates the head's bias (issue 15 (b): what the model
 * learned) from sampling variance ((a): what drawing does). BENCHMARK.md, "Whole-flow totals per class (session
 * 13)". -e: each class's own flows' distribution over the model's length classes in place of the head
 * (a perfect head: what drawing alone does). Build from the repository root after `make`:
 *   cc -std=c11 -O2 -fopenmp -Iinclude bench/length_totals.c build/libnetsynth.a -o build/length_totals \
 *      -lpcap -lpng -lz -ldl -lm */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "netsynth/dataset.h"
#include "netsynth/error.h"
#include "netsynth/gen_plan.h"
#include "netsynth/generate.h"
#include "netsynth/model.h"
#include "netsynth/modelfile.h"
#include "netsynth/rng.h"

/* Length of class k, a bin past the window log-uniformly at v in [0, 1) (generate.c's length_of_class). */
static double length_of(int k, int T, double v)
{
    if (k < T) return k + 1;
    return floor((double)T * exp2(k - T) * exp2(v)) + 1;
}

static int class_of(const double *cdf, int NL, double u)
{
    for (int k = 0; k < NL; k++)
        if (u < cdf[k]) return k;
    return NL - 1;
}

int main(int argc, char **argv)
{
    int empirical = argc > 1 && !strcmp(argv[1], "-e");
    if (empirical) argc--, argv++;
    if (argc < 3) {
        fprintf(stderr, "usage: length_totals [-e] MODEL LIKE.ds [REPS]\n");
        return 2;
    }
    int reps = argc > 3 ? atoi(argv[3]) : 2000;
    ns_modelfile m;
    ns_dataset ds;
    ns_gen_plan p;
    if (ns_modelfile_load(&m, argv[1]) || ns_dataset_load(&ds, argv[2]) || ns_gen_plan_like(&p, &m, &ds, argv[2])) {
        fprintf(stderr, "length_totals: %s\n", ns_errmsg());
        return 1;
    }
    /* Real totals per request: the dataset's label combinations in order of first appearance. */
    size_t A = ds.n_attrs, n_c = 0;
    int32_t *combo = malloc((p.n + 1) * A * sizeof *combo);
    double *real = calloc(p.n + 1, sizeof *real);
    int T = m.cfg.max_packets, NL = ns_model_length_classes(&m.cfg);
    double *count = calloc((p.n + 1) * (size_t)NL, sizeof *count); /* -e: flows per class and length class */
    for (uint64_t f = 0; f < ds.n_flows; f++) {
        size_t c = 0;
        while (c < n_c && memcmp(combo + c * A, ds.labels + f * A, A * sizeof *combo)) c++;
        if (c == n_c) memcpy(combo + n_c++ * A, ds.labels + f * A, A * sizeof *combo);
        uint64_t len = ds.totals ? ds.totals[f].packets[0] + ds.totals[f].packets[1] : ds.flows[f].n_packets;
        real[c] += (double)len;
        count[c * NL + ns_model_length_class(&m.cfg, len)]++;
    }
    ns_gen_opts o;
    ns_gen_opts_init(&o);
    float *logits = malloc((size_t)NL * sizeof *logits);
    double *cdf = malloc((size_t)NL * sizeof *cdf), *u = NULL;
    printf("%-32s %5s %8s %6s | %6s %6s %6s | %6s %6s %6s\n", "class", "flows", "real", "head", "iid10", "iidH",
           "iidSD", "str10", "strH", "strSD");
    double met[2] = {0, 0};
    for (size_t k = 0; k < p.n && k < n_c; k++) {
        size_t n = p.req[k].n;
        if (ns_gen_length_logits(logits, &m, &o, p.req[k].ids, 1)) {
            fprintf(stderr, "length_totals: %s\n", ns_errmsg());
            return 1;
        }
        if (empirical)
            for (int c = 0; c < NL; c++) logits[c] = count[k * NL + c] ? (float)log(count[k * NL + c]) : -INFINITY;
        double mx = logits[0], s = 0, mean = 0;
        for (int c = 1; c < NL; c++) mx = fmax(mx, logits[c]);
        for (int c = 0; c < NL; c++) s += exp(logits[c] - mx);
        for (int c = 0, acc = 0; c < NL; c++) {
            double pc = exp(logits[c] - mx) / s;
            cdf[c] = (acc ? cdf[c - 1] : 0) + pc, acc = 1;
            mean += pc * (c < T ? c + 1 : (double)T * exp2(c - T) / log(2) + 0.5);
        }
        double head = n * mean;
        u = realloc(u, n * sizeof *u);
        double in[2] = {0, 0}, inh[2] = {0, 0}, ss[2] = {0, 0};
        ns_rng r;
        ns_rng_seed(&r, 15, k);
        for (int rep = 0; rep < reps; rep++)
            for (int way = 0; way < 2; way++) {
                if (way) { /* stratified */
                    double U = ns_rng_double(&r);
                    for (size_t j = 0; j < n; j++) u[j] = (j + U) / (double)n;
                } else
                    for (size_t j = 0; j < n; j++) u[j] = ns_rng_double(&r);
                double tot = 0;
                for (size_t j = 0; j < n; j++) /* within a bin independent, as generate draws */
                    tot += length_of(class_of(cdf, NL, u[j]), T, ns_rng_double(&r));
                in[way] += fabs(tot / real[k] - 1) <= 0.1;
                inh[way] += fabs(tot / head - 1) <= 0.1;
                ss[way] += (tot / head - 1) * (tot / head - 1);
            }
        met[0] += in[0] / reps, met[1] += in[1] / reps;
        printf("%-32s %5zu %8.0f %6.2f | %6.2f %6.2f %6.3f | %6.2f %6.2f %6.3f\n", p.req[k].name, n, real[k],
               head / real[k], in[0] / reps, inh[0] / reps, sqrt(ss[0] / reps), in[1] / reps, inh[1] / reps,
               sqrt(ss[1] / reps));
    }
    printf("classes expected within 10%% of real: independent %.1f, stratified %.1f of %zu\n", met[0], met[1], p.n);
    free(combo), free(real), free(count), free(logits), free(cdf), free(u);
    ns_gen_plan_free(&p);
    ns_dataset_free(&ds);
    ns_modelfile_free(&m);
    return 0;
}
