/* retrace MODEL LIKE.ds OUT: MODEL with its trace model learned again from LIKE.ds by this build
 * (ns_tmodel_learn), written to OUT: what `generate` draws from this build's trace model (version 12's flow
 * lengths past the window) on a model trained by an older build, without training again. rerepair -l does
 * the same for the plan alone. Build from the repository root after `make`:
 *   cc -std=c11 -O2 -fopenmp -Iinclude bench/retrace.c build/libnetsynth.a -o build/retrace \
 *      -lpcap -lpng -lz -ldl -lm */
#include <stdio.h>
#include <stdlib.h>

#include "netsynth/dataset.h"
#include "netsynth/error.h"
#include "netsynth/modelfile.h"
#include "netsynth/tmodel.h"

int main(int argc, char **argv)
{
    if (argc != 4) return fprintf(stderr, "usage: retrace MODEL LIKE.ds OUT\n"), 2;
    ns_modelfile m;
    ns_dataset like;
    ns_tmodel *tm = calloc(1, sizeof *tm);
    int rc = tm ? ns_modelfile_load(&m, argv[1]) : NS_ENOMEM;
    if (!rc) rc = ns_dataset_load(&like, argv[2]);
    if (!rc) rc = ns_tmodel_learn(tm, &like);
    if (!rc) {
        if (m.trace) ns_tmodel_free(m.trace), free(m.trace);
        m.trace = tm;
        rc = ns_modelfile_save(&m, argv[3], 0);
    }
    if (rc) return fprintf(stderr, "retrace: %s\n", ns_errmsg()), 1;
    printf("%s: trace model version %u, %u classes\n", argv[3], m.trace->version, m.trace->n_classes);
    return 0;
}
