/* close_shapes DS [ATTR]: per class of ATTR (default device), how a dataset's TCP flows end, from their rows
 * (flows whose rows were cut are counted apart): no SYN first, the client's SYNs alone, refused (the SYN
 * answered by an RST, no SYN-ACK); FIN closes (no RST): the first FIN the client's, its peer's answer an ACK
 * before its own FIN (four segments); RST closes: the RST the client's, a FIN before it. Real train.ds against
 * the dataset of a run's pcaps: BENCHMARK.md, "Whole flows as NetFlow sees them (session 8)". Build from the
 * repository root after `make`:
 *   cc -std=c11 -O2 -fopenmp -Iinclude bench/close_shapes.c build/libnetsynth.a -o build/close_shapes \
 *      -lpcap -lpng -lz -ldl -lm */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "netsynth/dataset.h"
#include "netsynth/error.h"
#include "netsynth/nprint.h"

enum { FIN = 1, SYN = 2, RST = 4, ACK = 16 };

typedef struct counts {
    long tcp, cut, nosyn, synonly, refused, fin, fin_client, fin_acked, rst, rst_client, rst_after_fin;
} counts;

static void tally(const ns_dataset *ds, uint64_t f, counts *x)
{
    const ns_ds_flow *fl = &ds->flows[f];
    int8_t row[NS_NP_MODEL_WIDTH];
    x->tcp++;
    if (ds->totals && ds->totals[f].packets[0] + ds->totals[f].packets[1] > fl->n_packets) {
        x->cut++;
        return;
    }
    int fin = -1, answer = -1, rst = -1, syn = 0, synack = 0;
    for (uint32_t p = 0; p < fl->n_packets; p++) {
        ns_dataset_row(ds, fl->first + p, row);
        int fg = ns_nprint_bits_present(row, NS_NP_COL_TCP_CWR, 8) == 8 ? (int)ns_nprint_bits_get(row, NS_NP_COL_TCP_CWR, 8)
                                                                       : 0;
        int d = ds->dir[fl->first + p] != 0;
        if (!p && (fg & SYN) && !(fg & ACK) && !d) syn = 1;
        if ((fg & SYN) && (fg & ACK) && d) synack = 1;
        if ((fg & FIN) && fin < 0) fin = d;
        else if (fin >= 0 && answer < 0 && d != fin) answer = fg & FIN ? 0 : 1;
        if ((fg & RST) && rst < 0) rst = d;
    }
    x->nosyn += !syn;
    if (syn && !synack) {
        if (rst >= 0) x->refused++;
        else x->synonly++;
    } else if (rst >= 0) {
        x->rst++, x->rst_client += rst == 0, x->rst_after_fin += fin >= 0;
    } else if (fin >= 0) {
        x->fin++, x->fin_client += fin == 0, x->fin_acked += answer == 1;
    }
}

int main(int argc, char **argv)
{
    if (argc < 2) return fprintf(stderr, "usage: close_shapes DS [ATTR]\n"), 2;
    ns_dataset ds;
    if (ns_dataset_load(&ds, argv[1])) return fprintf(stderr, "%s\n", ns_errmsg()), 1;
    const char *attr = argc > 2 ? argv[2] : "device";
    int a = -1;
    for (uint32_t i = 0; i < ds.n_attrs; i++)
        if (!strcmp(ds.attr_names[i], attr)) a = (int)i;
    if (a < 0) return fprintf(stderr, "%s: no attribute %s\n", argv[1], attr), 1;
    counts *c = calloc(ds.n_tokens + 1, sizeof *c);
    if (!c) return fprintf(stderr, "out of memory\n"), 1;
    for (uint64_t f = 0; f < ds.n_flows; f++) {
        int32_t t = ds.labels[f * ds.n_attrs + (size_t)a];
        if (ds.flows[f].proto != 6 || t < 0) continue;
        tally(&ds, f, &c[t]);
        tally(&ds, f, &c[ds.n_tokens]);
    }
    printf("%-20s %5s %5s %5s %7s %7s | %5s %6s %6s | %5s %6s %7s\n", attr, "tcp", "cut", "nosyn", "synonly", "refused",
           "fin", "client", "acked", "rst", "client", "afterfin");
    for (uint32_t t = 0; t <= ds.n_tokens; t++) {
        const counts *x = &c[t];
        if (!x->tcp) continue;
        const char *name = t < ds.n_tokens ? ds.tokens[t] + strlen(attr) + 1 : "(all)";
        printf("%-20s %5ld %5ld %5ld %7ld %7ld | %5ld %6ld %6ld | %5ld %6ld %7ld\n", name, x->tcp, x->cut, x->nosyn,
               x->synonly, x->refused, x->fin, x->fin_client, x->fin_acked, x->rst, x->rst_client, x->rst_after_fin);
    }
    free(c);
    ns_dataset_free(&ds);
    return 0;
}
