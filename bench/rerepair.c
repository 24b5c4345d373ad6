/* rerepair [-l] [-s SEED] [-T MASK] MODEL LIKE.ds SYNTH.ds OUTDIR [REPORT.json]: the pcaps `generate --like` writes, from a saved
 * synthetic.ds (its generated rows), with the current repair: iterate on repair without sampling again.
 * -l: the trace model learned again from LIKE.ds by this build (ns_tmodel_learn), instead of the model's:
 * iterate on the trace model too (session 7: the closes a version 1 model lacks).
 * -s SEED: the plan's seed, as `generate --seed SEED` gives it (default 1), for rows sampled with that seed.
 * -T MASK: the plan's turn maps (trace model version 5) left out, for ablations: 1 turns', 2 same-side
 * gaps', 3 both (a version 4 model's plan).
 * NETSYNTH_REPAIR_OFF skips repair rules (man netsynth, ENVIRONMENT); "trace" in it also skips the trace
 * model's plan (the fixed plan, as `generate --no-trace`). BENCHMARK.md, "Where the pcaps lose fidelity
 * (session 6)". Written by the session-6 TCP engineer; build from the repository root after `make`:
 *   cc -std=c11 -O2 -fopenmp -Iinclude bench/rerepair.c build/libnetsynth.a -o build/rerepair \
 *      -lpcap -lpng -lz -ldl -lm */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "netsynth/dataset.h"
#include "netsynth/error.h"
#include "netsynth/gen_plan.h"
#include "netsynth/gen_write.h"
#include "netsynth/modelfile.h"
#include "netsynth/repair.h"
#include "netsynth/tmodel.h"

int main(int argc, char **argv)
{
    int relearn = 0;
    uint64_t seed = 1;
    int no_turns = 0;
    for (;;) {
        if (argc > 1 && !strcmp(argv[1], "-l")) relearn = 1, argc--, argv++;
        else if (argc > 2 && !strcmp(argv[1], "-T")) no_turns = atoi(argv[2]), argc -= 2, argv += 2;
        else if (argc > 2 && !strcmp(argv[1], "-s")) seed = strtoull(argv[2], NULL, 10), argc -= 2, argv += 2;
        else break;
    }
    if (argc < 5) return fprintf(stderr, "usage: rerepair [-l] [-s SEED] [-T MASK] MODEL LIKE.ds SYNTH.ds OUTDIR [REPORT.json]\n"), 2;
    ns_modelfile m;
    ns_dataset like, syn;
    ns_gen_plan plan = {0};
    int rc = ns_modelfile_load(&m, argv[1]);
    if (!rc) rc = ns_dataset_load(&like, argv[2]);
    if (!rc) rc = ns_gen_plan_like(&plan, &m, &like, argv[2]);
    if (!rc) rc = ns_dataset_load(&syn, argv[3]);
    ns_tmodel learned = {0};
    const ns_tmodel *tm = m.trace;
    if (!rc && relearn && !(rc = ns_tmodel_learn(&learned, &like))) tm = &learned;
    if (rc) return fprintf(stderr, "%s\n", ns_errmsg()), 1;
    size_t n = ns_gen_plan_flows(&plan);
    if (n != syn.n_flows) return fprintf(stderr, "plan %zu flows, synthetic %llu\n", n, (unsigned long long)syn.n_flows), 1;
    ns_gen_flows g = {0};
    g.n_attrs = m.n_attrs;
    ns_gen_flows_reserve(&g, syn.n_flows, syn.n_packets);
    g.n_flows = syn.n_flows, g.n_rows = syn.n_packets;
    for (size_t i = 0; i < syn.n_flows; i++) g.len[i] = syn.flows[i].n_packets, g.first[i] = syn.flows[i].first;
    for (size_t k = 0; k < syn.n_packets; k++) ns_dataset_row(&syn, k, g.rows + k * NS_NP_MODEL_WIDTH);
    memcpy(g.dir, syn.dir, syn.n_packets), memcpy(g.iat_ns, syn.iat_ns, syn.n_packets * sizeof *g.iat_ns);
    for (size_t k = 0, f = 0; k < plan.n; k++)
        for (size_t i = 0; i < plan.req[k].n; i++, f++)
            memcpy(g.labels + f * m.n_attrs, plan.req[k].labels, m.n_attrs * sizeof(int32_t));
    ns_repair_opts ro;
    ns_repair_opts_init(&ro);
    ro.window = m.cfg.max_packets;
    ro.seed = seed;
    ns_repair_plan *trace = NULL;
    ns_repair_stats st;
    memset(&st, 0, sizeof st);
    uint64_t *written = calloc(plan.n + 1, sizeof *written);
    const char *offs = getenv("NETSYNTH_REPAIR_OFF");
    int notrace = offs && strstr(offs, "trace") != NULL;
    if (!notrace) rc = ns_tmodel_plan_requests(tm, &m, &plan, &g, &ro, seed, &trace);
    for (size_t k = 0; !rc && !notrace && k < g.n_flows; k++)
        for (int kind = 0; kind < 2; kind++)
            if (no_turns >> kind & 1) memset(trace[k].turn_map[kind], 0, sizeof trace[k].turn_map[kind]);
    if (!rc && !notrace) ro.plan = trace, ro.n_plan = g.n_flows;
    if (!rc) rc = ns_gen_write_dir(&g, &m, &plan, argv[1], &ro, 0, argv[4], written, &st);
    if (rc) return fprintf(stderr, "%s\n", ns_errmsg()), 1;
    char buf[4096];
    ns_repair_summary(&st, 8, buf, sizeof buf);
    fprintf(stderr, "%s\n", buf);
    if (argc > 5) ns_repair_write_report(&st, argv[5]);
    return 0;
}
