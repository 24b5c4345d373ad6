/* late_gaps: what a map of the gaps past a flow's first rows would do (BENCHMARK.md, "Gaps past row 16
 * (session 11)"). An oracle, not a plan: per class (every label of the flow) and kind (a turn: a row from
 * the other side than the row before; same-side), the gaps of SYNTH's flows from row FROM on (default 16)
 * are replaced, in rank order, by the gaps at the same quantile of REAL's gaps of that class and kind from
 * row FROM on; the rest stays. Written to OUT; judge it against REAL with `netsynth eval`.
 *   cc -std=c11 -O2 -fopenmp -Iinclude bench/late_gaps.c build/libnetsynth.a -o build/late_gaps \
 *      -lpcap -lpng -lz -ldl -lm
 *   build/late_gaps REAL.ds SYNTH.ds OUT.ds [FROM] */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "netsynth/dataset.h"
#include "netsynth/error.h"

typedef struct gap {
    uint64_t key;  /* class << 1 | kind */
    int64_t ns;
    uint64_t at;   /* the packet */
} gap;

static int cmp_gap(const void *x, const void *y)
{
    const gap *a = x, *b = y;
    if (a->key != b->key) return a->key < b->key ? -1 : 1;
    if (a->ns != b->ns) return a->ns < b->ns ? -1 : 1;
    return a->at < b->at ? -1 : a->at > b->at;
}

/* A flow's class: its label tokens' names hashed (FNV-1a), so that two files' token ids need not agree. */
static uint64_t class_of(const ns_dataset *ds, uint64_t f)
{
    uint64_t h = 1469598103934665603ull;
    for (uint32_t a = 0; a < ds->n_attrs; a++) {
        int32_t t = ds->labels[f * ds->n_attrs + a];
        for (const char *c = t >= 0 ? ds->tokens[t] : "-"; *c; c++) h = (h ^ (uint8_t)*c) * 1099511628211ull;
        h = (h ^ ' ') * 1099511628211ull;
    }
    return h >> 1;
}

static gap *gaps_of(const ns_dataset *ds, uint32_t from, size_t *n)
{
    gap *v = malloc((ds->n_packets + 1) * sizeof *v);
    if (!v) return NULL;
    *n = 0;
    for (uint64_t f = 0; f < ds->n_flows; f++) {
        const ns_ds_flow *fl = &ds->flows[f];
        for (uint32_t j = from > 0 ? from : 1; j < fl->n_packets; j++) {
            uint64_t at = fl->first + j;
            int same = ds->dir[at] == ds->dir[at - 1];
            v[(*n)++] = (gap){class_of(ds, f) << 1 | (uint64_t)same, ds->iat_ns[at], at};
        }
    }
    qsort(v, *n, sizeof *v, cmp_gap);
    return v;
}

int main(int argc, char **argv)
{
    if (argc < 4) {
        fprintf(stderr, "usage: late_gaps REAL.ds SYNTH.ds OUT.ds [FROM]\n");
        return 2;
    }
    uint32_t from = argc > 4 ? (uint32_t)atoi(argv[4]) : 16;
    ns_dataset real, syn;
    if (ns_dataset_load(&real, argv[1]) || ns_dataset_load(&syn, argv[2])) {
        fprintf(stderr, "late_gaps: %s\n", ns_errmsg());
        return 1;
    }
    size_t nr, ns;
    gap *r = gaps_of(&real, from, &nr), *s = gaps_of(&syn, from, &ns);
    if (!r || !s) return fprintf(stderr, "late_gaps: out of memory\n"), 1;
    int64_t *iat = (int64_t *)syn.iat_ns;
    size_t moved = 0, kept = 0;
    for (size_t a = 0, b; a < ns; a = b) {
        for (b = a; b < ns && s[b].key == s[a].key; b++) {}
        size_t lo = 0, hi;
        while (lo < nr && r[lo].key < s[a].key) lo++;
        for (hi = lo; hi < nr && r[hi].key == s[a].key; hi++) {}
        if (hi - lo < 16) {
            kept += b - a;
            continue;
        }
        for (size_t i = a; i < b; i++) {
            double q = b - a > 1 ? (double)(i - a) / (double)(b - a - 1) : 0.5;
            iat[s[i].at] = r[lo + (size_t)(q * (double)(hi - lo - 1) + 0.5)].ns;
            moved++;
        }
    }
    printf("late_gaps: %zu gaps from row %u mapped, %zu kept (a class and kind with under 16 real ones)\n", moved, from,
           kept);
    if (ns_dataset_write(&syn, argv[3])) {
        fprintf(stderr, "late_gaps: %s\n", ns_errmsg());
        return 1;
    }
    free(r), free(s);
    ns_dataset_free(&real), ns_dataset_free(&syn);
    return 0;
}
