/* closes REAL.ds SYNTH.ds [ATTR]: per class of ATTR (default device), how TCP flows end (FIN without RST, RST)
 * and the whole flows' packets and IP bytes, synthetic against real, from the datasets' totals (dataset.h
 * ns_ds_totals): issue 15's bars (close share within 5 points, packets and bytes within 10% per class).
 * A dataset without totals (a saved synthetic.ds: the rows before repair) counts its rows: packets, IP
 * lengths, and the flags its rows show (RST anywhere, else FIN).
 * BENCHMARK.md, "Flows close as the class's do (session 7)". Build from the repository root after `make`:
 *   cc -std=c11 -O2 -fopenmp -Iinclude bench/closes.c build/libnetsynth.a -o build/closes -lpcap -lpng -lz -ldl -lm */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "netsynth/dataset.h"
#include "netsynth/error.h"
#include "netsynth/nprint.h"

typedef struct side {
    uint64_t tcp, fin, rst, packets, bytes;
} side;

/* Per class of attribute `attr` (index into the real set's tokens): counts of ds into s[n_tokens + 1] (the last: all). */
static int tally(const ns_dataset *ds, const ns_dataset *names, int attr, side *s)
{
    int a = -1;
    for (uint32_t i = 0; i < ds->n_attrs; i++)
        if (!strcmp(ds->attr_names[i], names->attr_names[attr])) a = (int)i;
    if (a < 0) return -1;
    int8_t row[NS_NP_MODEL_WIDTH];
    for (uint64_t f = 0; f < ds->n_flows; f++) {
        int32_t t = ds->labels[f * ds->n_attrs + (size_t)a], c = -1;
        for (uint32_t j = 0; t >= 0 && j < names->n_tokens; j++)
            if (!strcmp(names->tokens[j], ds->tokens[t])) c = (int32_t)j;
        ns_ds_totals w = {0};
        if (ds->totals) {
            w = ds->totals[f];
        } else {
            const ns_ds_flow *fl = &ds->flows[f];
            uint8_t flags = 0;
            for (uint32_t p = 0; p < fl->n_packets; p++) {
                ns_dataset_row(ds, fl->first + p, row);
                w.packets[0]++;
                if (ns_nprint_has(row, NS_NPF_IPV4_TL)) w.bytes[0] += ns_nprint_get(row, NS_NPF_IPV4_TL);
                else if (ns_nprint_has(row, NS_NPF_IPV6_LEN)) w.bytes[0] += 40 + ns_nprint_get(row, NS_NPF_IPV6_LEN);
                if (ns_nprint_bits_present(row, NS_NP_COL_TCP_CWR, NS_NP_BITS_TCP_FLAGS) == NS_NP_BITS_TCP_FLAGS)
                    flags |= (uint8_t)ns_nprint_bits_get(row, NS_NP_COL_TCP_CWR, NS_NP_BITS_TCP_FLAGS);
            }
            w.end = flags & 0x04 ? NS_DS_END_RST : flags & 0x01 ? NS_DS_END_FIN : NS_DS_END_CAPTURE;
        }
        side *x[2] = {c >= 0 ? &s[c] : NULL, &s[names->n_tokens]};
        for (int k = 0; k < 2; k++) {
            if (!x[k]) continue;
            x[k]->packets += w.packets[0] + w.packets[1], x[k]->bytes += w.bytes[0] + w.bytes[1];
            if (ds->flows[f].proto != 6) continue;
            x[k]->tcp++, x[k]->fin += w.end == NS_DS_END_FIN, x[k]->rst += w.end == NS_DS_END_RST;
        }
    }
    return 0;
}

static double pct(uint64_t a, uint64_t b) { return b ? 100.0 * (double)a / (double)b : 0; }
static double ratio(uint64_t a, uint64_t b) { return b ? (double)a / (double)b : 0; }

int main(int argc, char **argv)
{
    if (argc < 3) return fprintf(stderr, "usage: closes REAL.ds SYNTH.ds [ATTR]\n"), 2;
    const char *attr = argc > 3 ? argv[3] : "device";
    ns_dataset real, syn;
    if (ns_dataset_load(&real, argv[1]) || ns_dataset_load(&syn, argv[2])) return fprintf(stderr, "%s\n", ns_errmsg()), 1;
    int a = -1;
    for (uint32_t i = 0; i < real.n_attrs; i++)
        if (!strcmp(real.attr_names[i], attr)) a = (int)i;
    if (a < 0) return fprintf(stderr, "%s: no attribute %s\n", argv[1], attr), 1;
    side *r = calloc(real.n_tokens + 1, sizeof *r), *s = calloc(real.n_tokens + 1, sizeof *s);
    if (!r || !s || tally(&real, &real, a, r) || tally(&syn, &real, a, s))
        return fprintf(stderr, "closes: out of memory, or a dataset without %s\n", attr), 1;
    printf("%-22s %6s %6s %6s %6s | %6s %6s %6s %6s | %5s | %7s %7s\n", attr, "tcp", "FIN%", "RST%", "close%", "tcp",
           "FIN%", "RST%", "close%", "diff", "packets", "bytes");
    int within = 0, classes = 0;
    for (uint32_t t = 0; t <= real.n_tokens; t++) {
        if (t < real.n_tokens && ns_dataset_token_attr(&real, (int32_t)t) != a) continue;
        if (!r[t].packets) continue;
        double d = pct(s[t].fin + s[t].rst, s[t].tcp) - pct(r[t].fin + r[t].rst, r[t].tcp);
        const char *name = t < real.n_tokens ? strchr(real.tokens[t], '=') + 1 : "(all)";
        printf("%-22s %6" PRIu64 " %6.1f %6.1f %6.1f | %6" PRIu64 " %6.1f %6.1f %6.1f | %+5.1f | %7.2f %7.2f\n", name,
               r[t].tcp, pct(r[t].fin, r[t].tcp), pct(r[t].rst, r[t].tcp), pct(r[t].fin + r[t].rst, r[t].tcp), s[t].tcp,
               pct(s[t].fin, s[t].tcp), pct(s[t].rst, s[t].tcp), pct(s[t].fin + s[t].rst, s[t].tcp), d,
               ratio(s[t].packets, r[t].packets), ratio(s[t].bytes, r[t].bytes));
        if (t < real.n_tokens && r[t].tcp && s[t].tcp) classes++, within += d >= -5 && d <= 5;
    }
    printf("close share within 5 points: %d of %d classes with TCP flows on both sides\n", within, classes);
    free(r), free(s);
    ns_dataset_free(&real), ns_dataset_free(&syn);
    return 0;
}
