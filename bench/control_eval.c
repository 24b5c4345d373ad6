/* control_eval.c: how well generated flows follow their control maps, and
 * how much the fields the map does not fix still vary (bench/control.sh).
 *
 * usage: control_eval MAPS MAX_PACKETS GEN.ds [GEN.pcap-prefix N] [--ceiling REAL.ds TMPDIR] -- NAME=SET.ds ...
 *   MAPS          what --control was given (pcap, dataset or CSV template)
 *   GEN.ds        the generated flows before repair (generate -o x.ds), flow i
 *                 following map i mod maps
 *   GEN.pcap-prefix N   the same flows written with --per-flow (prefix-i.pcap):
 *                 what the user gets after repair, read back as flows
 *   --ceiling     the maps' own flows (REAL.ds, the same as MAPS) through
 *                 repair into TMPDIR and read back: how much repair alone
 *                 changes (its TCP rules: a handshake first, nothing after an
 *                 RST), the most any generator can reach after repair
 *   NAME=SET.ds   datasets whose diversity is printed side by side
 * Prints per source the share of packets whose protocol, direction, both,
 * size bucket and TCP flags equal the map's, then per set the distinct values
 * and entropy (bits) of ttl, window, IP id, server port, log2 iat, and the
 * mean entropy of every column the map does not fix. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "netsynth/control.h"
#include "netsynth/dataset.h"
#include "netsynth/error.h"
#include "netsynth/gen_write.h"
#include "netsynth/generate.h"
#include "netsynth/nprint.h"
#include "netsynth/repair.h"

enum { W = NS_NP_MODEL_WIDTH };

typedef struct agree {
    size_t rows, proto, dir, both, size, flags, tcp_rows, missing;
} agree;

static void compare(agree *a, const ns_control_row *want, size_t n_want, const ns_control_row *got, size_t n_got)
{
    for (size_t k = 0; k < n_want; k++) {
        a->rows++;
        if (k >= n_got) {
            a->missing++;
            continue;
        }
        int p = want[k].proto == got[k].proto, d = want[k].dir == got[k].dir;
        a->proto += p, a->dir += d, a->both += p && d, a->size += want[k].size == got[k].size;
        if (want[k].proto == 6) a->tcp_rows++, a->flags += p && want[k].flags == got[k].flags;
    }
}

static void print_agree(const char *what, const agree *a)
{
    double n = a->rows ? (double)a->rows : 1;
    printf("%-34s packets %6zu  proto %.4f  dir %.4f  proto+dir %.4f  size bucket %.4f  tcp flags %.4f%s\n", what,
           a->rows, a->proto / n, a->dir / n, a->both / n, a->size / n,
           a->tcp_rows ? (double)a->flags / a->tcp_rows : 0, a->missing ? "  (some packets missing)" : "");
}

/* A field's value, or -1 when its first bit is absent (no such header). */
static int64_t value(const int8_t *row, ns_nprint_field_id f)
{
    return row[ns_nprint_field_col(NS_NP_MODEL_LAYERS, f)] < 0 ? -1 : (int64_t)ns_nprint_get(row, f);
}

static int cmp64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

/* Read flow i's pcap back as control rows (all its flows, in order) and compare. */
static int read_back(agree *a, const char *path, const ns_control_row *want, size_t n_want, size_t *split)
{
    ns_control_maps back = {0};
    if (ns_control_maps_from_pcap(&back, path, 1024)) return -1;
    *split += back.n_maps > 1;
    compare(a, want, n_want, back.rows, back.n_rows);
    ns_control_maps_free(&back);
    return 0;
}

/* The real flows of ds, repaired as generate repairs, then read back. */
static int ceiling(agree *a, const ns_dataset *ds, const ns_control_maps *maps, const char *dir)
{
    ns_repair_opts ro;
    ns_repair_opts_init(&ro);
    size_t split = 0;
    for (uint64_t i = 0; i < ds->n_flows && i < maps->n_maps; i++) {
        const ns_ds_flow *f = &ds->flows[i];
        uint32_t len = maps->len[i];
        int8_t *rows = malloc((size_t)len * W);
        for (uint32_t r = 0; r < len; r++) ns_dataset_row(ds, f->first + r, rows + (size_t)r * W);
        size_t first = 0;
        ns_gen_flows g = {.n_flows = 1, .n_rows = len, .len = &len, .first = &first, .rows = rows,
                          .dir = (uint8_t *)ds->dir + f->first, .iat_ns = (int64_t *)ds->iat_ns + f->first};
        char path[4096];
        snprintf(path, sizeof path, "%s/real-%llu.pcap", dir, (unsigned long long)i);
        uint64_t written;
        int rc = ns_gen_write_pcap(&g, 0, 1, &ro, 0, path, &written, NULL);
        free(rows);
        if (rc || read_back(a, path, maps->rows + maps->first[i], maps->len[i], &split)) return -1;
        remove(path);
    }
    return 0;
}

/* Distinct values and entropy (bits) of vals[n]. */
static void stats(int64_t *vals, size_t n, size_t *distinct, double *entropy)
{
    qsort(vals, n, sizeof *vals, cmp64);
    *distinct = 0, *entropy = 0;
    for (size_t i = 0; i < n;) {
        size_t j = i;
        while (j < n && vals[j] == vals[i]) j++;
        double p = (double)(j - i) / n;
        *entropy -= p * log2(p);
        (*distinct)++;
        i = j;
    }
}

static void diversity(const char *name, const ns_dataset *ds)
{
    /* Fields by id; -1: the server's port, -2: log2 of the gap before a packet. */
    static const struct { const char *name; int id; } fields[] = {
        {"ipv4_ttl", NS_NPF_IPV4_TTL}, {"tcp_wsize", NS_NPF_TCP_WSIZE}, {"ipv4_id", NS_NPF_IPV4_ID},
        {"port", -1}, {"log2_iat", -2}};
    size_t N = ds->n_packets;
    int64_t *vals = malloc((N + 1) * sizeof *vals);
    int8_t *rows = malloc(N * W + 1);
    for (size_t k = 0; k < N; k++) ns_dataset_row(ds, k, rows + k * W);
    printf("%-14s packets %7zu", name, N);
    for (size_t f = 0; f < sizeof fields / sizeof fields[0]; f++) {
        size_t n = 0, distinct;
        double h;
        for (uint64_t i = 0; i < ds->n_flows; i++)
            for (uint32_t r = 0; r < ds->flows[i].n_packets; r++) {
                size_t k = ds->flows[i].first + r;
                const int8_t *row = rows + k * W;
                int64_t v;
                if (fields[f].id == -1) { /* the server's: the source of a server->client packet */
                    int tcp = row[NS_NP_COL_TCP_SPRT] >= 0, udp = !tcp && row[NS_NP_COL_UDP_SPORT] >= 0;
                    if (!tcp && !udp) continue;
                    v = value(row, tcp ? (ds->dir[k] ? NS_NPF_TCP_SPRT : NS_NPF_TCP_DPRT)
                                       : (ds->dir[k] ? NS_NPF_UDP_SPORT : NS_NPF_UDP_DPORT));
                } else if (fields[f].id == -2) {
                    if (!r) continue;
                    v = ds->iat_ns[k] > 0 ? (int64_t)floor(log2((double)ds->iat_ns[k])) : -1;
                } else {
                    if ((v = value(row, (ns_nprint_field_id)fields[f].id)) < 0) continue;
                }
                vals[n++] = v;
            }
        stats(vals, n, &distinct, &h);
        printf("  %s %zu/%.2f", fields[f].name, distinct, h);
    }
    /* Every column the map does not fix: not the protocol, length or TCP flags, nor presence (it follows the protocol). */
    const int proto = NS_NP_COL_IPV4_PROTO, len = NS_NP_COL_IPV4_TL, flags = NS_NP_COL_TCP_CWR;
    double sum = 0;
    int cols = 0;
    for (int c = 0; c < W; c++) {
        if ((c >= proto && c < proto + NS_NP_BITS_IPV4_PROTO) || (c >= len && c < len + NS_NP_BITS_IPV4_TL) ||
            (c >= flags && c < flags + NS_NP_BITS_TCP_FLAGS))
            continue;
        size_t cnt[2] = {0, 0};
        for (size_t k = 0; k < N; k++)
            if (rows[k * W + c] >= 0) cnt[rows[k * W + c]]++;
        size_t tot = cnt[0] + cnt[1];
        if (!tot) continue;
        double h = 0;
        for (int v = 0; v < 2; v++)
            if (cnt[v]) h -= (double)cnt[v] / tot * log2((double)cnt[v] / tot);
        sum += h, cols++;
    }
    printf("  mean column entropy %.4f\n", cols ? sum / W : 0);
    free(vals), free(rows);
}

int main(int argc, char **argv)
{
    if (argc < 4) {
        fprintf(stderr, "usage: control_eval MAPS MAX_PACKETS GEN.ds [PCAP-PREFIX N] -- NAME=SET.ds ...\n");
        return 2;
    }
    ns_control_maps maps = {0};
    int T = atoi(argv[2]);
    if (ns_control_maps_load(&maps, argv[1], T)) {
        fprintf(stderr, "%s\n", ns_errmsg());
        return 1;
    }
    ns_dataset gen;
    if (ns_dataset_load(&gen, argv[3])) {
        fprintf(stderr, "%s\n", ns_errmsg());
        return 1;
    }
    agree before = {0};
    int8_t *row = malloc(W);
    ns_control_row *got = malloc(1024 * sizeof *got);
    for (uint64_t i = 0; i < gen.n_flows; i++) {
        const ns_ds_flow *f = &gen.flows[i];
        for (uint32_t r = 0; r < f->n_packets; r++) {
            ns_dataset_row(&gen, f->first + r, row);
            ns_control_row_of(row, gen.dir[f->first + r], &got[r]);
        }
        size_t m = i % maps.n_maps;
        compare(&before, maps.rows + maps.first[m], maps.len[m], got, f->n_packets);
    }
    print_agree("generated rows (before repair)", &before);
    int at = 4;
    if (argc > 5 && strncmp(argv[4], "--", 2)) {
        agree after = {0};
        size_t n = (size_t)atol(argv[5]), split = 0;
        for (size_t i = 0; i < n; i++) {
            char path[4096];
            snprintf(path, sizeof path, "%s-%zu.pcap", argv[4], i);
            size_t m = i % maps.n_maps;
            /* A file that reads back as several flows: its packets in flow order. */
            if (read_back(&after, path, maps.rows + maps.first[m], maps.len[m], &split)) {
                fprintf(stderr, "%s\n", ns_errmsg());
                return 1;
            }
        }
        print_agree("written pcap (after repair)", &after);
        printf("(%zu of %zu flows read back from their pcap as more than one flow)\n", split, n);
        at = 6;
    }
    if (at + 2 < argc && !strcmp(argv[at], "--ceiling")) {
        ns_dataset real;
        agree top = {0};
        if (ns_dataset_load(&real, argv[at + 1]) || ceiling(&top, &real, &maps, argv[at + 2])) {
            fprintf(stderr, "%s\n", ns_errmsg());
            return 1;
        }
        print_agree("the maps' own flows, repaired", &top);
        ns_dataset_free(&real);
        at += 3;
    }
    if (at < argc && !strcmp(argv[at], "--")) at++;
    printf("diversity: distinct values / entropy in bits per field; mean entropy of the columns the map does not fix\n");
    for (; at < argc; at++) {
        char *eq = strchr(argv[at], '=');
        if (!eq) continue;
        *eq = 0;
        ns_dataset ds;
        if (ns_dataset_load(&ds, eq + 1)) {
            fprintf(stderr, "%s\n", ns_errmsg());
            return 1;
        }
        diversity(argv[at], &ds);
        ns_dataset_free(&ds);
    }
    free(row), free(got);
    ns_dataset_free(&gen);
    ns_control_maps_free(&maps);
    return 0;
}
