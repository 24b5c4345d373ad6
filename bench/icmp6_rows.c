/* icmp6_rows DATASET: the ICMPv6 rows of a dataset (a training set, or a saved synthetic.ds of
 * generated rows before repair) by type, hop limit and IPv6 payload length: whether the model or
 * repair makes a type (BENCHMARK.md, "Payload pcaps through tshark (session 7)"). Build from the
 * repository root after `make`:
 *   cc -std=c11 -O2 -fopenmp -Iinclude bench/icmp6_rows.c build/libnetsynth.a -o build/icmp6_rows \
 *      -lpcap -lpng -lz -ldl -lm */
#include <stdio.h>
#include <stdlib.h>

#include "netsynth/dataset.h"
#include "netsynth/error.h"
#include "netsynth/nprint.h"

/* A field of a row as a number, -1 when any of its bits is absent. */
static long field(const int8_t *r, int col, int bits)
{
    long v = 0;
    for (int i = 0; i < bits; i++) {
        if (r[col + i] < 0) return -1;
        v = v << 1 | r[col + i];
    }
    return v;
}

int main(int argc, char **argv)
{
    if (argc != 2) return fprintf(stderr, "usage: icmp6_rows DATASET\n"), 2;
    ns_dataset ds;
    if (ns_dataset_load(&ds, argv[1])) return fprintf(stderr, "%s\n", ns_errmsg()), 1;
    int8_t *row = malloc(NS_NP_MODEL_WIDTH);
    if (!row) return 1;
    static long n[256][256][2]; /* type, hop limit, IPv6 payload length matching the type's (RS 16, NS 24, MLDv2 28+) */
    long rows = 0;
    for (uint64_t k = 0; k < ds.n_packets; k++) {
        ns_dataset_row(&ds, k, row);
        long type = field(row, NS_NP_COL_ICMP_TYPE, 8), hl = field(row, NS_NP_COL_IPV6_HL, 8);
        if (field(row, NS_NP_COL_IPV6_VER, 4) != 6 || type < 0 || hl < 0) continue;
        long len = field(row, NS_NP_COL_IPV6_LEN, 16);
        int fits = (type == 133 && len == 16) || (type == 135 && len == 24) || (type == 143 && len >= 28);
        n[type][hl][fits]++, rows++;
    }
    printf("%s: %ld IPv6 ICMP rows\ntype\thop limit\tlength of the type\trows\n", argv[1], rows);
    for (int t = 0; t < 256; t++)
        for (int h = 0; h < 256; h++)
            for (int f = 1; f >= 0; f--)
                if (n[t][h][f]) printf("%d\t%d\t%s\t%ld\n", t, h, f ? "yes" : "no", n[t][h][f]);
    free(row);
    return 0;
}
