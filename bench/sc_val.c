/* bench/sc_val.c: a model's validation loss on a dataset's flows, with and
 * without self-conditioning's estimate (BENCHMARK.md, "Self-conditioning
 * (session 10)").
 *
 *   cc -std=c11 -O2 -fopenmp -Iinclude bench/sc_val.c build/libnetsynth.a -o build/sc_val -lpcap -lpng -lz -ldl -lm
 *   build/sc_val CHECKPOINT DATASET [FLOWS]
 *
 * ns_train_validate on the first FLOWS flows of DATASET (default all), at
 * its fixed times and noise: the loss with the checkpoint's weights of the
 * timing, direction and length terms, then the bits loss alone (those
 * weights 0). A self-conditioned model is judged both as it samples (two
 * passes: its estimate, then the loss with it; what train reports) and
 * with an estimate of zeros (one pass, sampling's first step). */
#include <stdio.h>
#include <stdlib.h>

#include "netsynth/dataset.h"
#include "netsynth/error.h"
#include "netsynth/modelfile.h"
#include "netsynth/train.h"

int main(int argc, char **argv)
{
    ns_modelfile m;
    ns_dataset ds;
    if (argc < 3 || argc > 4) {
        fprintf(stderr, "usage: sc_val CHECKPOINT DATASET [FLOWS]\n");
        return 2;
    }
    if (ns_modelfile_load(&m, argv[1]) || ns_dataset_load(&ds, argv[2])) {
        fprintf(stderr, "sc_val: %s\n", ns_errmsg());
        return 1;
    }
    if (!m.has_state) {
        fprintf(stderr, "sc_val: %s: give the checkpoint (its loss weights)\n", argv[1]);
        return 2;
    }
    uint64_t n = argc == 4 ? strtoull(argv[3], NULL, 10) : ds.n_flows;
    if (n > ds.n_flows) n = ds.n_flows;
    uint64_t *flows = malloc(n * sizeof *flows + 1);
    for (uint64_t i = 0; i < n; i++) flows[i] = i;
    int sc = m.cfg.self_cond;
    ns_train_state st = m.st;
    for (int form = sc; form >= 0; form--) {
        m.cfg.self_cond = form; /* 0: the model reads no estimate, as if it had none */
        float loss, bits;
        m.st = st;
        if (ns_train_validate(&m, &ds, flows, n, &loss)) return 1;
        m.st.w_iat = m.st.w_dir = m.st.w_len = 0;
        if (ns_train_validate(&m, &ds, flows, n, &bits)) return 1;
        printf("%s: %llu flows, %s: loss %.4f, bits %.4f\n", argv[1], (unsigned long long)n,
               !sc ? "no self-conditioning" : form ? "two passes (its estimate)" : "one pass (estimate 0)", loss, bits);
    }
    m.cfg.self_cond = sc;
    free(flows);
    return 0;
}
