/* trace_plan.c: the trace plan alone, without the denoiser: the flows of a
 * dataset stand in for generated ones (the same services, packets and
 * durations), ns_gen_plan_like and ns_tmodel_plan_requests lay them out as
 * generate --like would, and the plan's captures are measured against the
 * real ones they copy, per class, medians over captures (BENCHMARK.md,
 * Traces: hosts and arrivals on the IoT corpus (session 6)):
 *   rate     flows / (first flow start to last flow end, the flows' own
 *            durations from their kept rows), as eval's flow starts/s
 *   cli srv  distinct client and server addresses (an IPv6 flow's host
 *            apart from an IPv4 one, as repair writes them)
 *   fpc max  flows per client host, median and most
 *   ports    distinct (client, port) of TCP and UDP flows / their clients
 *   span     first to last flow start, seconds
 *   hosts    distinct addresses, clients and servers together (the plan's gateway, groups and 0.0.0.0 each one)
 *   gap      gaps between consecutive flow starts, pooled over the captures, median
 *
 * usage: trace_plan MODEL.nsm DATA.ds [learn [SEED]]
 *   learn: the trace model learned from DATA.ds now, not the model file's
 * build: cc -std=c11 -O2 -D_DEFAULT_SOURCE -fopenmp -Iinclude bench/trace_plan.c build/libnetsynth.a \
 *            -o build/bench/trace_plan -lpcap -lpng -lz -ldl -lm */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "netsynth/dataset.h"
#include "netsynth/error.h"
#include "netsynth/gen_plan.h"
#include "netsynth/generate.h"
#include "netsynth/modelfile.h"
#include "netsynth/nprint.h"
#include "netsynth/repair.h"
#include "netsynth/tmodel.h"

typedef struct fl { int64_t start, dur; uint64_t cl, sv; uint16_t cport; uint8_t proto; } fl;
typedef struct st { double rate, clients, servers, fpc, maxpc, ports, span, hosts; } st;

static int cmpd(const void *a, const void *b) { double x = *(const double *)a, y = *(const double *)b; return (x > y) - (x < y); }
static double med(double *v, size_t n) { if (!n) return NAN; qsort(v, n, sizeof *v, cmpd); return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2; }
static int cmpu(const void *a, const void *b) { uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b; return (x > y) - (x < y); }

static st measure(const fl *f, size_t n)
{
    st s = {0};
    int64_t lo = f[0].start, hi = f[0].start + f[0].dur, shi = f[0].start;
    for (size_t i = 0; i < n; i++) {
        if (f[i].start < lo) lo = f[i].start;
        if (f[i].start + f[i].dur > hi) hi = f[i].start + f[i].dur;
        if (f[i].start > shi) shi = f[i].start;
    }
    s.rate = hi > lo ? n / ((hi - lo) * 1e-9) : NAN;
    s.span = (shi - lo) * 1e-9;
    uint64_t *k = malloc(n * 8); double *per = malloc(n * 8);
    for (size_t i = 0; i < n; i++) k[i] = f[i].sv;
    qsort(k, n, 8, cmpu);
    for (size_t i = 0; i < n; i++) s.servers += !i || k[i] != k[i - 1];
    /* hosts: every address, clients and servers together (the gateway, groups and 0.0.0.0 among them) */
    uint64_t *all = malloc(2 * n * 8);
    for (size_t i = 0; i < n; i++) all[2 * i] = f[i].cl, all[2 * i + 1] = f[i].sv;
    qsort(all, 2 * n, 8, cmpu);
    for (size_t i = 0; i < 2 * n; i++) s.hosts += !i || all[i] != all[i - 1];
    free(all);
    for (size_t i = 0; i < n; i++) k[i] = f[i].cl;
    qsort(k, n, 8, cmpu);
    size_t h = 0;
    for (size_t i = 0, run = 0; i < n; i++) { run++; if (i + 1 == n || k[i + 1] != k[i]) { per[h++] = run; if (run > s.maxpc) s.maxpc = run; run = 0; } }
    s.clients = h; s.fpc = med(per, h);
    size_t m = 0;
    for (size_t i = 0; i < n; i++) if (f[i].proto != 1) k[m++] = (uint64_t)f[i].cl << 16 | f[i].cport;
    qsort(k, m, 8, cmpu);
    double pairs = 0, addrs = 0;
    for (size_t i = 0; i < m; i++) { pairs += !i || k[i] != k[i - 1]; addrs += !i || k[i] >> 16 != k[i - 1] >> 16; }
    s.ports = addrs ? pairs / addrs : NAN;
    free(k), free(per);
    return s;
}

int main(int argc, char **argv)
{
    if (argc < 3) { fprintf(stderr, "usage: trace_plan MODEL.nsm DATA.ds [learn [SEED]]\n"); return 2; }
    ns_modelfile m; ns_dataset ds;
    if (ns_modelfile_load(&m, argv[1]) || ns_dataset_load(&ds, argv[2])) { fprintf(stderr, "%s\n", ns_errmsg()); return 1; }
    ns_tmodel learned, *tm = m.trace;
    if (argc > 3 && !strcmp(argv[3], "learn")) { if (ns_tmodel_learn(&learned, &ds)) { fprintf(stderr, "%s\n", ns_errmsg()); return 1; } tm = &learned; }
    ns_gen_plan p;
    if (ns_gen_plan_like(&p, &m, &ds, argv[2])) { fprintf(stderr, "%s\n", ns_errmsg()); return 1; }
    /* real flows in request order: combo, file, start */
    size_t F = ds.n_flows, A = ds.n_attrs, W = NS_NP_MODEL_WIDTH;
    uint64_t *ord = malloc(F * 8); size_t n_ord = 0;
    ns_gen_flows g = {0}; g.n_attrs = m.n_attrs;
    for (size_t k = 0; k < p.n; k++) {
        /* flows of ds whose labels map to the request: compare token text */
        size_t start = n_ord;
        for (uint64_t f = 0; f < F; f++) {
            int ok = 1;
            for (size_t a = 0; a < A && ok; a++) {
                int32_t t = ds.labels[f * A + a];
                const char *tt = t >= 0 ? ds.tokens[t] : NULL;
                int found = 0;
                for (uint32_t b = 0; b < m.n_attrs; b++) if (p.req[k].ids[b] >= 0 && tt && !strcmp(m.tokens[p.req[k].ids[b]], tt)) found = 1;
                if (tt && !found) ok = 0;
            }
            int cnt = 0; for (size_t a = 0; a < A; a++) cnt += ds.labels[f * A + a] >= 0;
            int qc = 0; for (uint32_t b = 0; b < m.n_attrs; b++) qc += p.req[k].ids[b] >= 0;
            if (ok && cnt == qc) ord[n_ord++] = f;
        }
        /* sort by file, start (insertion sort is too slow; simple qsort via globals) */
        for (size_t i = start + 1; i < n_ord; i++) {
            uint64_t x = ord[i]; size_t j = i;
            while (j > start && (ds.flows[ord[j - 1]].file > ds.flows[x].file || (ds.flows[ord[j - 1]].file == ds.flows[x].file && ds.flows[ord[j - 1]].start_ns > ds.flows[x].start_ns))) { ord[j] = ord[j - 1]; j--; }
            ord[j] = x;
        }
        if (n_ord - start != p.req[k].n) { fprintf(stderr, "request %s: %zu vs %zu\n", p.req[k].name, n_ord - start, p.req[k].n); return 1; }
    }
    for (size_t i = 0; i < n_ord; i++) {
        const ns_ds_flow *d = &ds.flows[ord[i]];
        ns_gen_flows_reserve(&g, 1, ds.max_packets);
        size_t r0 = g.n_rows;
        int8_t *mat = malloc(ds.max_packets * W);
        ns_dataset_flow_matrix(&ds, ord[i], mat);
        memcpy(g.rows + r0 * W, mat, d->n_packets * W);
        free(mat);
        memcpy(g.dir + r0, ds.dir + d->first, d->n_packets);
        memcpy(g.iat_ns + r0, ds.iat_ns + d->first, d->n_packets * 8);
        g.len[g.n_flows] = d->n_packets, g.first[g.n_flows] = r0;
        memset(g.labels + g.n_flows * (m.n_attrs ? m.n_attrs : 1), 0xff, m.n_attrs * 4);
        g.n_flows++, g.n_rows += d->n_packets;
    }
    ns_repair_opts ro; ns_repair_opts_init(&ro); ro.window = 64;
    ns_repair_plan *plan;
    uint64_t seed = argc > 4 ? strtoull(argv[4], 0, 10) : 1;
    if (ns_tmodel_plan_requests(tm, &m, &p, &g, &ro, seed, &plan)) { fprintf(stderr, "%s\n", ns_errmsg()); return 1; }
    printf("%-20s %5s | %7s %7s | %5s %5s | %5s %5s | %5s %5s | %5s %5s | %6s %6s | %7s %7s | %5s %5s | %7s %7s\n", "class", "capt", "rate", "synth", "cli", "syn", "srv", "syn", "fpc", "syn", "max", "syn", "ports", "syn", "span", "syn", "hosts", "syn", "gap", "syn");
    size_t at = 0;
    fl *rf = malloc(F * sizeof *rf), *sf = malloc(F * sizeof *sf);
    for (size_t k = 0; k < p.n; k++) {
        size_t nc = p.req[k].n_caps ? p.req[k].n_caps : 1;
        double *v[2][8]; for (int s = 0; s < 2; s++) for (int j = 0; j < 8; j++) v[s][j] = malloc(nc * 8);
        double *gap[2] = {malloc(p.req[k].n * 8 + 8), malloc(p.req[k].n * 8 + 8)};
        size_t n_gap = 0;
        for (size_t c = 0; c < nc; c++) {
            size_t n = p.req[k].n_caps ? p.req[k].caps[c] : p.req[k].n;
            for (size_t i = 0; i < n; i++) {
                const ns_ds_flow *d = &ds.flows[ord[at + i]];
                int64_t dur = 0; for (uint32_t q = 1; q < d->n_packets; q++) dur += ds.iat_ns[d->first + q];
                /* an address: family in bit 32; the plan's hosts are numbers of the client net (tag 0), the server
                 * net (1), the gateway (2), a group (3), 0.0.0.0 (4), kept apart above bit 33 */
                rf[i] = (fl){d->start_ns, dur, (uint64_t)d->ipv6 << 32 | d->client_ip, (uint64_t)d->ipv6 << 32 | d->server_ip,
                             d->client_port, d->proto};
                const ns_repair_plan *pp = &plan[at + i];
                uint64_t v6 = (uint64_t)d->ipv6 << 32;
                uint64_t cl = pp->client_zero ? 4ull << 33 : v6 | pp->client;
                uint64_t sv = pp->gateway ? 2ull << 33 : pp->group ? 3ull << 33 | v6 | pp->group : 1ull << 33 | v6 | pp->server;
                if (pp->gateway == NS_REPAIR_GATEWAY_ANSWERS) sv = cl, cl = 2ull << 33; /* the gateway's, to the client */
                sf[i] = (fl){pp->start_ns, dur, cl, sv, pp->client_port, d->proto};
            }
            st a = measure(rf, n), b = measure(sf, n);
            for (size_t i = 1; i < n; i++, n_gap++)
                gap[0][n_gap] = (rf[i].start - rf[i - 1].start) * 1e-9, gap[1][n_gap] = (sf[i].start - sf[i - 1].start) * 1e-9;
            for (int s = 0; s < 2; s++) { st *y = s ? &b : &a; double q[8] = {y->rate, y->clients, y->servers, y->fpc, y->maxpc, y->ports, y->span, y->hosts}; for (int j = 0; j < 8; j++) v[s][j][c] = q[j]; }
            at += n;
        }
        printf("%-20.20s %5zu", p.req[k].name, nc);
        for (int j = 0; j < 8; j++) printf(" | %7.3g %7.3g", med(v[0][j], nc), med(v[1][j], nc));
        printf(" | %7.3g %7.3g\n", med(gap[0], n_gap), med(gap[1], n_gap));
        for (int s = 0; s < 2; s++) {
            free(gap[s]);
            for (int j = 0; j < 8; j++) free(v[s][j]);
        }
    }
    return 0;
}
