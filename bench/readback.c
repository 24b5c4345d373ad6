/* bench/readback.c: how much of a noisy row the denoiser reads back, by
 * noise level (BENCHMARK.md, "Payload starts (session 8)").
 *
 *   cc -std=c11 -O2 -fopenmp -Iinclude bench/readback.c build/libnetsynth.a -o build/readback -lpcap -lpng -lz -ldl -lm
 *   build/readback MODEL DATASET
 *
 * 96 flows of DATASET (seeded), noised to t, one forward with their prompts:
 * the cross-entropy of the network's logits per header value and per
 * payload value (and per payload value that is present), and the payload's
 * share of the bits loss. A network that read each value's own channels
 * back would approach 0 as t -> 0; one token of d values per row cannot.
 * A self-conditioned model (train --self-cond) is read both ways: without
 * an estimate of x_0 ("sc 0", sampling's first step) and with the estimate
 * its own first pass at the same t makes ("sc 1", as it trains and as the
 * validation loss judges it). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "netsynth/dataset.h"
#include "netsynth/diffusion.h"
#include "netsynth/error.h"
#include "netsynth/model.h"
#include "netsynth/modelfile.h"
#include "netsynth/repr.h"
#include "netsynth/rng.h"
int main(int argc, char **argv)
{
    ns_modelfile m; ns_dataset ds;
    if (argc != 3) {
        fprintf(stderr, "usage: readback MODEL DATASET\n");
        return 2;
    }
    if (ns_modelfile_load(&m, argv[1]) || ns_dataset_load(&ds, argv[2])) {
        fprintf(stderr, "readback: %s\n", ns_errmsg());
        return 1;
    }
    const ns_repr *r = &m.repr; const ns_model_config *c = &m.cfg;
    int K = r->n_bits, in = ns_repr_in_dim(r), od = ns_repr_out_dim(r), T = c->max_packets, B = 96, P = ds.n_attrs;
    ns_model_acts *a; if (ns_model_acts_new(&a, c, B, T)) return 1;
    float *est = calloc((size_t)B * T * in, 4);
    float *x0 = calloc((size_t)B * T * in, 4), *xt = calloc((size_t)B * T * in, 4), *tt = calloc(B, 4);
    uint8_t *cls = calloc((size_t)B * T * K, 1); int *len = calloc(B, sizeof(int)), *pr = calloc((size_t)B * P, sizeof(int));
    ns_rng g; ns_rng_seed(&g, 5, 5);
    for (int b = 0; b < B; b++) {
        uint64_t f = ns_rng_below(&g, ds.n_flows);
        len[b] = ns_repr_encode(r, &ds, f, T, x0 + (size_t)b * T * in, cls + (size_t)b * T * K, NULL, NULL);
        for (int q = 0; q < P; q++) pr[b * P + q] = ds.labels[f * P + q];
    }
    int npay = 0; for (int j = 0; j < K; j++) npay += r->cols[j] >= NS_NP_COL_PAY;
    printf("%d values, %d payload\n", K, npay);
    double ts[] = {0.05, 0.3, 0.5, 0.7, 0.9, 1.0};
    for (int ti = 0; ti < 6; ti++) {
        float al, si; ns_schedule_alpha_sigma(&m.sched, ts[ti], &al, &si);
        for (int b = 0; b < B; b++) { tt[b] = ts[ti]; ns_diffusion_noise(xt + (size_t)b * T * in, NULL, x0 + (size_t)b * T * in, (size_t)T * in, al, si, &g); }
      for (int pass = 0; pass <= c->self_cond; pass++) {
        ns_model_acts_self_cond(a, NULL);
        ns_model_forward(NULL, a, &m.p, c, xt, tt, pr, P, len, B, T, NULL);
        if (pass) { /* the estimate from the pass without one, rows past a flow's end zero */
            ns_repr_expect(r, est, ns_model_output(a), (size_t)B * T);
            for (int b = 0; b < B; b++) memset(est + ((size_t)b * T + len[b]) * in, 0, (size_t)(T - len[b]) * in * 4);
            ns_model_acts_self_cond(a, est);
            ns_model_forward(NULL, a, &m.p, c, xt, tt, pr, P, len, B, T, NULL);
        }
        const float *out = ns_model_output(a);
        double lp = 0, lh = 0, lpp = 0; long np = 0, nh = 0, npp = 0;
        for (int b = 0; b < B; b++) for (int t = 0; t < len[b]; t++) {
            const float *o = out + ((size_t)b * T + t) * od; const uint8_t *cl = cls + ((size_t)b * T + t) * K;
            for (int j = 0; j < K; j++) {
                const float *l = o + 3 * j; double mx = fmax(l[0], fmax(l[1], l[2]));
                double ce = mx + log(exp(l[0]-mx)+exp(l[1]-mx)+exp(l[2]-mx)) - l[cl[j]];
                if (r->cols[j] >= NS_NP_COL_PAY) { lp += ce, np++; if (cl[j]) lpp += ce, npp++; } else lh += ce, nh++;
            }
        }
        if (c->self_cond) printf("sc %d  ", pass);
        printf("t=%.2f  header %.4f/value  payload %.4f/value (present ones %.4f)  payload share of the bits loss %.2f\n",
               ts[ti], lh / nh, np ? lp / np : 0, npp ? lpp / npp : 0, lp + lh > 0 ? lp / (lp + lh) : 0);
      }
    }
    return 0;
}
