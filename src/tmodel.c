/* tmodel.c: the trace model (see tmodel.h): learning it from a dataset, its
 * bytes, and planning traces with it.
 *
 * Record layout (NS_TMODEL_RECORD bytes per class, little-endian, the rest
 * zero), in this order:
 *   u32 captures, flows, gaps, gap_bin[96], gap_next[12][12]
 *   f64 period_s, period_jitter, period_share
 *   u32 client_new, client_prev, client_other, server_new, server_same, server_other
 *   u32 port_step[17], port_random; u16 port_lo, port_hi, port_server
 *   u32 ipid[2][3], ipid_runs_on[2][2]; f64 ts_hz[2]; u32 ts_runs_on[2][2]
 *   u8 ttl[2][4]; u32 ttl_count[2][4] (per side: ipid..ttl_count)
 *   u32 client_busiest, server_busiest, client_after_busy[3]
 *   version 2: u32 close[3]; u16 synack_win; u8 synack_ws; u32 rst_ts[2]
 *   version 3: u32 fin_side[2], fin_acked[2], rst_side[2], rst_fin[2], refused
 *   version 4: u16 hs_gap[2][96]; u8 ttl_tcp[2][4]; u32 ttl_tcp_count[2][4]; u32 synack_ts[2];
 *              per group entry (8): u16 group_port; u32 group_addr, group_flows, group_port_flows, group_zero;
 *              u8 group_ttl
 *   version 5: u32 turn_n[2]; u16 turn_q[2][32];
 *              per turn port entry (8): u16 turn_port; u32 turn_port_n[2]; u16 turn_port_q[2][32];
 *              then per turn port entry (8): u16 hs_port_gap[2][96]
 *   version 6: u32 method[12]
 *   version 7: u32 svc_multi, svc_one, svc_one_server;
 *              per service port entry (8): u16 svc_port; u32 svc_port_multi, svc_port_one, svc_port_one_server
 *              (records of NS_TMODEL_RECORD bytes; older versions' are NS_TMODEL_RECORD_V4) */
#include "netsynth/tmodel.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "netsynth/dataset.h"
#include "netsynth/error.h"
#include "netsynth/fileio.h"
#include "netsynth/flow.h"
#include "netsynth/gen_plan.h"
#include "netsynth/generate.h"
#include "netsynth/modelfile.h"
#include "netsynth/nprint.h"
#include "netsynth/packet.h"
#include "netsynth/rng.h"

#include "app.h"

enum { HEADER = 32, ID_STEP_MAX = 256, IPID_RUN_MAX = 4096 };
#define TIMED_MIN_S 0.05   /* a flow's timestamps give its clock when they span this long */
#define PERIOD_WIDTH 1.1   /* a period's gaps lie within [g, 1.1 g] */
#define PERIOD_MIN_SHARE 0.3
#define PERIOD_MIN_GAP_S 0.001

static size_t align8(size_t n) { return (n + 7) & ~(size_t)7; }
/* A record's bytes in a file of `version` (version 5 made room for the turn ports). */
static size_t record_bytes(uint32_t version) { return version >= 5 ? NS_TMODEL_RECORD : NS_TMODEL_RECORD_V4; }

struct flow_info;
static int plan_closes(const ns_tmodel *tm, const ns_gen_flows *g, const ns_tmodel_capture *caps, size_t n_caps,
                       const struct flow_info *info, const ns_repair_opts *ro, uint64_t seed, ns_repair_plan *plan);
static int plan_handshakes(const ns_tmodel *tm, const ns_gen_flows *g, const ns_tmodel_capture *caps,
                           size_t n_caps, const struct flow_info *info, const ns_repair_opts *ro, uint64_t seed,
                           ns_repair_plan *plan);
static uint32_t turns_from(const int8_t *rows, const uint8_t *dir, uint32_t n, uint32_t *syns);
static void plan_methods(const ns_tmodel *tm, const ns_tmodel_capture *caps, size_t n_caps, ns_repair_plan *plan);
static int plan_turns(const ns_tmodel *tm, const ns_gen_flows *g, const ns_tmodel_capture *caps, size_t n_caps,
                      const struct flow_info *info, const ns_repair_opts *ro, ns_repair_plan *plan);

void ns_tmodel_free(ns_tmodel *tm)
{
    for (uint32_t c = 0; tm->classes && c < tm->n_classes; c++) free(tm->classes[c].key);
    free(tm->classes);
    memset(tm, 0, sizeof *tm);
}

const ns_tmodel_class *ns_tmodel_find(const ns_tmodel *tm, const char *key)
{
    for (uint32_t c = 0; c < tm->n_classes; c++)
        if (!strcmp(tm->classes[c].key, key)) return &tm->classes[c];
    return NULL;
}

/* ---- what one flow shows of its two hosts ---------------------------------------- */

typedef struct side_feat {
    uint32_t n;                 /* packets with an IPv4 ID */
    int id_kind;                /* NS_TM_IPID_*, -1 unknown (fewer than 2 packets) */
    uint16_t id_first, id_last;
    int ttl;                    /* of the first packet, -1 none */
    uint32_t ts_n, ts_first, ts_last;
    int64_t t_first, t_last;    /* capture times of the first and last TSval */
} side_feat;

/* The TSval of a row's timestamp option, if it has one. */
/* The value of TCP option `kind` of length `len` in a row's option bytes
 * (those present, walked kind by kind): its len - 2 bytes into val. */
static int row_option(const int8_t *row, uint8_t kind, uint8_t len, uint8_t *val)
{
    uint8_t opt[40];
    int n = 0;
    while (n < 40 && ns_nprint_bits_present(row, NS_NP_COL_TCP_OPT + 8 * n, 8) == 8) {
        opt[n] = (uint8_t)ns_nprint_bits_get(row, NS_NP_COL_TCP_OPT + 8 * n, 8);
        n++;
    }
    for (int i = 0; i < n;) {
        if (opt[i] == 0) break;
        if (opt[i] == 1) {
            i++;
            continue;
        }
        if (i + 1 >= n || opt[i + 1] < 2 || i + opt[i + 1] > n) break;
        if (opt[i] == kind && opt[i + 1] == len) {
            memcpy(val, opt + i + 2, (size_t)len - 2);
            return 1;
        }
        i += opt[i + 1];
    }
    return 0;
}

static int row_tsval(const int8_t *row, uint32_t *v)
{
    uint8_t ts[8];
    if (!row_option(row, 8, 10, ts)) return 0;
    *v = (uint32_t)ts[0] << 24 | (uint32_t)ts[1] << 16 | (uint32_t)ts[2] << 8 | ts[3];
    return 1;
}

static void flow_features(const ns_dataset *ds, uint64_t f, int8_t *row, side_feat sf[2])
{
    const ns_ds_flow *fl = &ds->flows[f];
    int counter[2] = {1, 1}, zero[2] = {1, 1};
    memset(sf, 0, 2 * sizeof *sf);
    sf[0].ttl = sf[1].ttl = -1;
    int64_t t = fl->start_ns;
    for (uint32_t i = 0; i < fl->n_packets; i++) {
        uint64_t k = fl->first + i;
        if (i) t += ds->iat_ns[k];
        int d = ds->dir[k] ? 1 : 0;
        ns_dataset_row(ds, k, row);
        side_feat *s = &sf[d];
        if (ns_nprint_has(row, NS_NPF_IPV4_ID)) {
            /* Zeros do not break a counter: Linux sends its SYN-ACK with ID 0, then counts from a random start. */
            uint16_t id = (uint16_t)ns_nprint_get(row, NS_NPF_IPV4_ID);
            if (!s->n) s->ttl = (int)ns_nprint_get(row, NS_NPF_IPV4_TTL);
            if (id && zero[d]) s->id_first = id;
            else if (id && (uint16_t)(id - s->id_last) > ID_STEP_MAX) counter[d] = 0;
            if (id) zero[d] = 0, s->id_last = id;
            s->n++;
        }
        uint32_t v;
        if (ns_nprint_has(row, NS_NPF_TCP_SPRT) && row_tsval(row, &v)) {
            if (!s->ts_n) s->ts_first = v, s->t_first = t;
            s->ts_last = v, s->t_last = t;
            s->ts_n++;
        }
    }
    for (int d = 0; d < 2; d++)
        sf[d].id_kind = sf[d].n < 2 ? -1 : zero[d] ? NS_TM_IPID_ZERO : counter[d] ? NS_TM_IPID_COUNTER : NS_TM_IPID_RANDOM;
}

/* ---- learning ------------------------------------------------------------------------ */

/* A class while it is learned: its counts plus what is decided at the end. */
typedef struct acc {
    ns_tmodel_class *c;
    double *gap;          /* every gap, in order */
    double *cont;         /* 1: gap i follows gap i - 1 in the same sequence */
    size_t n_gap, cap_gap, n_cont, cap_cont;
    double *rate[2];      /* TS clock samples, Hz */
    size_t n_rate[2], cap_rate[2];
    uint64_t ttl[2][256];
    uint32_t port_min, port_max;
    uint32_t *server_port;  /* [65536] flows per server port: one array, cleared per class */
    uint32_t *synack_win;   /* [65536] SYN-ACKs per window: the same */
    uint32_t synack_ws[16]; /* SYN-ACKs per window scale shift (0..14) */
    uint64_t ttl_tcp[2][256];
    uint32_t *udp_port;     /* [65536] IPv4 UDP flows per server port: one array, cleared per class */
    uint32_t *svc_port;     /* [65536][3] services with two flows or more per server port, from one client, to one server */
    struct { uint16_t port; uint32_t addr, flows, zero; } grp[64]; /* (server port, group) pairs seen */
    int n_grp;
    uint32_t *grp_ttl;      /* [64][256] their clients' TTLs: one array, cleared per class */
    uint32_t *turn_hist;    /* [2][TURN_BINS] turn and same-side gaps by turn code >> TURN_SHIFT: the same */
    int8_t *turn_rows;      /* [NS_TM_TURN_ROWS] rows of one flow */
    uint64_t *tport;        /* server port << 32 | kind << 16 | turn code of each turn and same-side gap */
    size_t n_tport, cap_tport;
    uint64_t *hport;        /* server port << 32 | side << 16 | handshake bin of each handshake gap */
    size_t n_hport, cap_hport;
    int hport_lost;         /* out of memory for hport: no port keeps handshakes */
} acc;
enum { TURN_SHIFT = 4, TURN_BINS = 65536 >> TURN_SHIFT, TURN_MIN = 16 /* gaps for a quantile map */ };
/* The real gaps of a kind a server port needs for a map of its own (else its class's): measured 8 to 64 on
 * the IoT 20k model (BENCHMARK.md, "Turn maps per server port (session 10)"); handshakes likewise. */
enum { TURN_PORT_MIN = 16, HS_PORT_MIN = 8 };
/* The services with two flows or more a server port needs for a one-client share of its own (else its class's). */
enum { SVC_PORT_MIN = 4 };

static int push(double **v, size_t *n, size_t *cap, double x)
{
    if (*n == *cap) {
        size_t c = *cap ? 2 * *cap : 64;
        double *p = realloc(*v, c * sizeof *p);
        if (!p) return ns_error(NS_ENOMEM, "out of memory learning the trace model");
        *v = p, *cap = c;
    }
    (*v)[(*n)++] = x;
    return NS_OK;
}

typedef struct lhost {
    uint32_t ip, flows;
    int32_t last_server;
    int has_port;
    uint16_t port;
    side_feat last;
    int has_last;
} lhost;

static int32_t find_host(const lhost *h, size_t n, uint32_t ip)
{
    for (size_t i = n; i-- > 0;) /* recent hosts first: they are the likeliest */
        if (h[i].ip == ip) return (int32_t)i;
    return -1;
}

/* Per host side s: what flow sf says of it, against its previous flow. */
static int host_side(acc *a, int s, lhost *h, const side_feat *sf)
{
    ns_tmodel_class *c = a->c;
    if (sf->id_kind >= 0) c->ipid[s][sf->id_kind]++;
    if (sf->ttl >= 0) a->ttl[s][sf->ttl]++;
    if (h && h->has_last) {
        const side_feat *p = &h->last;
        if (p->id_kind == NS_TM_IPID_COUNTER && sf->id_kind == NS_TM_IPID_COUNTER) {
            uint16_t step = (uint16_t)(sf->id_first - p->id_last);
            c->ipid_runs_on[s][step >= 1 && step <= IPID_RUN_MAX ? 0 : 1]++;
        }
        if (p->ts_n && sf->ts_n) {
            /* One clock when the step is one a 1 Hz .. 10 kHz clock could take (trace.h's bounds). */
            double step = (double)(int32_t)(sf->ts_first - p->ts_last), dt = (double)(sf->t_first - p->t_last) * 1e-9;
            int one = step >= 0 && step <= 10000 * (dt + 0.01) + 1 && step >= (dt - 0.01) - 1;
            c->ts_runs_on[s][one ? 0 : 1]++;
        }
    }
    if (sf->ts_n >= 2 && sf->t_last - sf->t_first >= (int64_t)(TIMED_MIN_S * 1e9) && sf->ts_last != sf->ts_first) {
        double ticks = (double)(uint32_t)(sf->ts_last - sf->ts_first);
        if (ticks < 2147483648.0) {
            int rc = push(&a->rate[s], &a->n_rate[s], &a->cap_rate[s], ticks / ((double)(sf->t_last - sf->t_first) * 1e-9));
            if (rc) return rc;
        }
    }
    if (h && (sf->n || sf->ts_n)) h->last = *sf, h->has_last = 1;
    return NS_OK;
}

/* Whether host i has the most flows of h[0..n) (ties: the first seen, as the plan has it). */
static int busiest(const lhost *h, size_t n, int32_t i)
{
    for (size_t k = 0; k < n; k++)
        if (h[k].flows > h[i].flows || (h[k].flows == h[i].flows && k < (size_t)i)) return 0;
    return 1;
}

static int row_flag(const int8_t *row, ns_nprint_field_id f) { return ns_nprint_has(row, f) && ns_nprint_get(row, f); }

/* A destination every host of a link hears: IPv4 multicast or the limited broadcast. */
static int is_group_addr(uint32_t ip) { return ip >> 28 == 14 || ip == 0xffffffffu; }

/* An IPv4 UDP flow's server port, and its group destination if it has one (ttl: its client's, -1 none). */
static void learn_group(acc *a, const ns_ds_flow *f, int ttl)
{
    if (f->ipv6 || f->proto != NS_PROTO_UDP) return;
    a->udp_port[f->server_port]++;
    if (!is_group_addr(f->server_ip)) return;
    int i = 0;
    while (i < a->n_grp && (a->grp[i].port != f->server_port || a->grp[i].addr != f->server_ip)) i++;
    if (i == a->n_grp) {
        if (i == (int)(sizeof a->grp / sizeof a->grp[0])) return; /* the corpus has a dozen pairs per class */
        a->n_grp++, a->grp[i].port = f->server_port, a->grp[i].addr = f->server_ip;
    }
    a->grp[i].flows++;
    a->grp[i].zero += f->client_ip == 0;
    if (ttl >= 0) a->grp_ttl[i * 256 + ttl]++;
}

/* The log10 bin of a handshake gap (tmodel.h: NS_TM_HS_BINS from 1e-5 s; the ends take what lies beyond). */
static int hs_bin(int64_t ns)
{
    double x = (log10(ns > 10000 ? (double)ns * 1e-9 : 1e-5) + 5) * NS_TM_HS_PER_DECADE;
    int b = x >= NS_TM_HS_BINS ? NS_TM_HS_BINS - 1 : (int)x;
    return b < 0 ? 0 : b;
}

/* One more handshake gap of side s; the class's counts halve first where one would pass 65535 (the shares stay). */
static void hs_count(ns_tmodel_class *c, int s, int64_t ns)
{
    uint16_t *h = &c->hs_gap[s][hs_bin(ns)];
    if (*h == UINT16_MAX)
        for (int j = 0; j < 2; j++)
            for (int i = 0; i < NS_TM_HS_BINS; i++) c->hs_gap[j][i] /= 2;
    (*h)++;
}

/* A growing list of u64 (learning's per-port gaps); 0 or NS_ENOMEM (the caller names what it learned). */
static int push_u64(uint64_t **v, size_t *n, size_t *cap, uint64_t x)
{
    if (*n == *cap) {
        size_t c = *cap ? 2 * *cap : 1024;
        uint64_t *t = realloc(*v, c * sizeof *t);
        if (!t) return NS_ENOMEM;
        *v = t, *cap = c;
    }
    (*v)[(*n)++] = x;
    return NS_OK;
}

/* A handshake gap of side s of flow f: the class's, and its server port's (kept if the port has a turn
 * map of its own: finish_turn_ports). A list that cannot grow loses the port's count, not the class's. */
static void hs_note(acc *a, const ns_ds_flow *f, int s, int64_t ns)
{
    hs_count(a->c, s, ns);
    if (push_u64(&a->hport, &a->n_hport, &a->cap_hport, (uint64_t)f->server_port << 32 | (uint64_t)s << 16 |
                                                            (uint64_t)hs_bin(ns)))
        a->hport_lost = 1;
}

/* The gaps before a flow's rows after its handshake (as repair finds it: turns_from), of its first
 * NS_TM_TURN_ROWS, counted by kind: a turn, or a row from the side of the row before. */
static int learn_turns(acc *a, const ns_dataset *ds, const ns_ds_flow *f)
{
    uint32_t n = f->n_packets < NS_TM_TURN_ROWS ? f->n_packets : NS_TM_TURN_ROWS, syns;
    const uint8_t *dir = ds->dir + f->first;
    for (uint32_t j = 0; j < n; j++) ns_dataset_row(ds, f->first + j, a->turn_rows + (size_t)j * NS_NP_MODEL_WIDTH);
    for (uint32_t j = turns_from(a->turn_rows, dir, n, &syns); j < n; j++) {
        int s = !dir[j] == !dir[j - 1];
        uint16_t code = ns_repair_turn_code(ds->iat_ns[f->first + j]);
        a->turn_hist[s * TURN_BINS + (code >> TURN_SHIFT)]++;
        if (push_u64(&a->tport, &a->n_tport, &a->cap_tport, (uint64_t)f->server_port << 32 | (uint64_t)s << 16 | code))
            return ns_error(NS_ENOMEM, "out of memory learning turn gaps");
    }
    return NS_OK;
}

/* The class's quantiles of each kind of gap (tmodel.h, turn_q), within a histogram bin by rank. */
static void finish_turns(acc *a)
{
    for (int s = 0; s < 2; s++) {
        const uint32_t *h = a->turn_hist + s * TURN_BINS;
        uint64_t n = 0;
        for (int b = 0; b < TURN_BINS; b++) n += h[b];
        a->c->turn_n[s] = n > UINT32_MAX ? UINT32_MAX : (uint32_t)n;
        if (!n) continue;
        uint64_t below = 0;
        int b = 0;
        for (int q = 0; q < NS_REPAIR_TURN_Q; q++) {
            double rank = (double)q * (double)(n - 1) / (NS_REPAIR_TURN_Q - 1);
            while (below + h[b] <= rank) below += h[b++];
            double code = ((double)b + (rank - (double)below) / h[b]) * (1 << TURN_SHIFT);
            a->c->turn_q[s][q] = code >= 65535 ? 65535 : (uint16_t)code;
        }
    }
}

static int cmp_u64(const void *x, const void *y);

/* Quantiles (tmodel.h, turn_q) of the sorted turn codes v[0 .. n) (the low 16 bits), linearly between ranks. */
static void quantiles_of(const uint64_t *v, size_t n, uint16_t *q)
{
    for (int i = 0; i < NS_REPAIR_TURN_Q; i++) {
        double t = (double)i * (double)(n - 1) / (NS_REPAIR_TURN_Q - 1);
        size_t j = (size_t)t;
        double lo = (double)(v[j] & 0xffff), hi = j + 1 < n ? (double)(v[j + 1] & 0xffff) : lo;
        q[i] = (uint16_t)lround(lo + (t - (double)j) * (hi - lo));
    }
}

/* The class's server ports with most turn and same-side gaps, each kind's quantiles (tmodel.h, turn_port). */
static void finish_turn_ports(acc *a)
{
    ns_tmodel_class *c = a->c;
    if (a->n_tport) qsort(a->tport, a->n_tport, sizeof *a->tport, cmp_u64); /* NULL when the class has none */
    for (int k = 0; k < NS_TM_TURN_PORTS; k++) {
        size_t best = 0, best_n = 0;
        for (size_t i = 0, j; i < a->n_tport; i = j) {
            for (j = i; j < a->n_tport && a->tport[j] >> 32 == a->tport[i] >> 32; j++) {}
            int taken = 0;
            for (int e = 0; e < k; e++) taken |= c->turn_port[e] == (uint16_t)(a->tport[i] >> 32);
            if (!taken && j - i > best_n) best = i, best_n = j - i;  /* ties: the lower port */
        }
        if (!best_n) break;
        c->turn_port[k] = (uint16_t)(a->tport[best] >> 32);
        for (size_t i = best; i < best + best_n;) { /* kind 0's codes, then kind 1's: sorted within each */
            size_t j = i;
            int s = (int)(a->tport[i] >> 16 & 1);
            while (j < best + best_n && (int)(a->tport[j] >> 16 & 1) == s) j++;
            c->turn_port_n[k][s] = j - i > UINT32_MAX ? UINT32_MAX : (uint32_t)(j - i);
            quantiles_of(a->tport + i, j - i, c->turn_port_q[k][s]);
            i = j;
        }
    }
    free(a->tport), a->tport = NULL, a->n_tport = a->cap_tport = 0;
    for (size_t i = 0; i < a->n_hport && !a->hport_lost; i++) {
        int p = 0;
        while (p < NS_TM_TURN_PORTS && ((uint64_t)c->turn_port_n[p][0] + c->turn_port_n[p][1] == 0 ||
                                        c->turn_port[p] != (uint16_t)(a->hport[i] >> 32)))
            p++;
        if (p == NS_TM_TURN_PORTS) continue;
        uint16_t(*h)[NS_TM_HS_BINS] = c->hs_port_gap[p];
        uint16_t *b = &h[a->hport[i] >> 16 & 1][a->hport[i] & 0xffff];
        if (*b == UINT16_MAX) /* as hs_count: the shares stay */
            for (int j = 0; j < 2; j++)
                for (int k = 0; k < NS_TM_HS_BINS; k++) h[j][k] /= 2;
        (*b)++;
    }
    free(a->hport), a->hport = NULL, a->n_hport = a->cap_hport = 0;
}

/* The client's first learned payload bytes (row, its first with any): the
 * HTTP method they start, counted in c->method. Returns whether the row had
 * learned bytes (the flow's first request is then behind it). */
static int learn_method(ns_tmodel_class *c, const int8_t *row)
{
    uint8_t b[16];
    int n = 0;
    for (; n < (int)sizeof b && n < NS_NP_BITS_PAY / 8; n++) {
        int col = NS_NP_COL_PAY + 8 * n, whole = 1;
        for (int j = 0; j < 8; j++) whole &= row[col + j] >= 0;
        if (!whole) break;
        b[n] = (uint8_t)ns_nprint_bits_get(row, col, 8);
    }
    if (!n) return 0;
    int m = app_method(b, n);
    if (m >= 0) c->method[m]++;
    return 1;
}

/* The window and window scale of a flow's SYN-ACK (its server's first SYN
 * with ACK), if it has one; when both SYNs carried timestamps, whether its
 * RSTs do (RFC 7323 leaves them out of "every segment": stacks differ); and
 * for a flow whose rows were kept whole and that ended with a FIN or an RST
 * (t: its totals, NULL when the dataset has none), how it closed: who sent
 * the first FIN and what its peer answered, who sent the RST, a FIN before
 * it, a refusal (a cut flow's close is past its rows). One walk of the rows. */
static void learn_tcp(acc *a, const ns_dataset *ds, const ns_ds_flow *f, const ns_ds_totals *t)
{
    int8_t row[NS_NP_MODEL_WIDTH];
    int syn_ts = 0, synack_ts = 0, synack = 0;
    int fin = -1, answer = -1, rst = -1, opened = 0, answered = 0; /* up to the first RST */
    uint32_t lead = 0;   /* the client's leading SYNs: the handshake's answer is the row after them */
    int hs = 0, asked = 0;
    for (uint32_t i = 0; i < f->n_packets; i++) {
        int d = ds->dir[f->first + i] ? 1 : 0;
        ns_dataset_row(ds, f->first + i, row);
        if (!d && !asked) asked = learn_method(a->c, row);
        uint32_t v;
        int syn = row_flag(row, NS_NPF_TCP_SYN), ack = row_flag(row, NS_NPF_TCP_ACKF), ts = row_tsval(row, &v);
        if (i == lead && !d && syn && !ack) lead++;
        else if (lead && i == lead && d && syn && ack) hs_note(a, f, 0, ds->iat_ns[f->first + i]), hs = 1;
        else if (hs && i == lead + 1 && !d && ack && !syn) hs_note(a, f, 1, ds->iat_ns[f->first + i]);
        if (rst < 0) {
            if (!i) opened = !d && syn && !ack;
            answered |= d && syn && ack;
            if (row_flag(row, NS_NPF_TCP_RST)) rst = d;
            if (fin >= 0 && answer < 0 && d != fin) answer = row_flag(row, NS_NPF_TCP_FIN) ? 0 : 1;
            if (fin < 0 && row_flag(row, NS_NPF_TCP_FIN)) fin = d;
        }
        if (!d && syn && !ack) syn_ts = ts;
        if (d && syn && ack && !synack) synack_ts = ts;
        if (row_flag(row, NS_NPF_TCP_RST) && syn_ts && synack_ts) a->c->rst_ts[ts ? 0 : 1]++;
        if (!d || !syn || !ack || synack++) continue;
        if (syn_ts) a->c->synack_ts[ts ? 0 : 1]++;
        if (ns_nprint_has(row, NS_NPF_TCP_WSIZE)) a->synack_win[ns_nprint_get(row, NS_NPF_TCP_WSIZE)]++;
        uint8_t shift;
        if (row_option(row, 3, 3, &shift) && shift <= 14) a->synack_ws[shift]++;   /* window scale */
    }
    ns_tmodel_class *c = a->c;
    if (!t || t->packets[0] + t->packets[1] != f->n_packets) return;
    if (t->end == NS_DS_END_RST && rst >= 0) {
        c->rst_side[rst]++;
        c->rst_fin[fin >= 0 ? 0 : 1]++;
        c->refused += opened && !answered && rst == 1;
    } else if (t->end == NS_DS_END_FIN && fin >= 0) {
        c->fin_side[fin]++;
        if (answer >= 0) c->fin_acked[answer]++;
    }
}

/* The commonest SYN-ACK window and scale (ties: the smallest). */
static void finish_synack(acc *a)
{
    uint32_t best = 0;
    for (uint32_t w = 1; w < 65536; w++)
        if (a->synack_win[w] > a->synack_win[best]) best = w;
    a->c->synack_win = a->synack_win[best] ? (uint16_t)best : 0;
    int ws = -1;
    for (int s = 0; s <= 14; s++)
        if (a->synack_ws[s] && (ws < 0 || a->synack_ws[s] > a->synack_ws[ws])) ws = s;
    a->c->synack_ws = (uint8_t)(ws + 1);
}

/* A flow's service: family, transport, server port. */
static uint32_t ds_service(const ns_ds_flow *f)
{
    return (uint32_t)(f->ipv6 != 0) << 24 | (uint32_t)f->proto << 16 | f->server_port;
}

/* The services of one capture's flows of the class (idx[0..m)) with two
 * flows or more, those whose flows all came from one client and those whose
 * flows all went to one server, per class and per server port. */
static int learn_services(acc *a, const ns_dataset *ds, const uint64_t *idx, size_t m)
{
    ns_tmodel_class *c = a->c;
    typedef struct { uint32_t key, client, server, n; uint16_t port; uint8_t used, multi, servers; } svc;
    size_t size = 16;
    while (size < 2 * m) size *= 2;
    svc *t = calloc(size, sizeof *t);
    if (!t) return ns_error(NS_ENOMEM, "out of memory learning the trace model");
    for (size_t j = 0; j < m; j++) {
        const ns_ds_flow *f = &ds->flows[idx[j]];
        if (f->proto == NS_PROTO_ICMP) continue;
        uint32_t key = ds_service(f);
        size_t i = (size_t)(ns_rng_mix(key) & (size - 1));
        while (t[i].used && t[i].key != key) i = (i + 1) & (size - 1);
        if (!t[i].used) t[i] = (svc){key, f->client_ip, f->server_ip, 0, f->server_port, 1, 0, 0};
        t[i].n++, t[i].multi |= t[i].client != f->client_ip, t[i].servers |= t[i].server != f->server_ip;
    }
    for (size_t i = 0; i < size; i++)
        if (t[i].n >= 2) {
            c->svc_multi++, c->svc_one += !t[i].multi, c->svc_one_server += !t[i].servers;
            uint32_t *sp = a->svc_port + 3 * t[i].port;
            sp[0]++, sp[1] += !t[i].multi, sp[2] += !t[i].servers;
        }
    free(t);
    return NS_OK;
}

/* One capture's flows of the class, idx[0..m) in start order. */
static int learn_sequence(acc *a, const ns_dataset *ds, const uint64_t *idx, size_t m, const side_feat *feat,
                          lhost *cl, lhost *sv)
{
    ns_tmodel_class *c = a->c;
    size_t n_cl = 0, n_sv = 0;
    int32_t prev_client = -1;
    int rc = NS_OK;
    if ((rc = learn_services(a, ds, idx, m))) return rc;
    c->captures++;
    c->flows += (uint32_t)m;
    for (size_t j = 0; j < m && !rc; j++) {
        const ns_ds_flow *f = &ds->flows[idx[j]];
        int32_t ci = find_host(cl, n_cl, f->client_ip), si = find_host(sv, n_sv, f->server_ip);
        if (j) {
            double gap = (double)(f->start_ns - ds->flows[idx[j - 1]].start_ns) * 1e-9;
            if ((rc = push(&a->gap, &a->n_gap, &a->cap_gap, gap)) ||
                (rc = push(&a->cont, &a->n_cont, &a->cap_cont, j > 1)))
                break;
            c->gaps++;
            int kind = ci < 0 ? 0 : ci == prev_client ? 1 : 2;
            if (kind == 0) c->client_new++;
            else if (kind == 1) c->client_prev++;
            else c->client_other++, c->client_busiest += (uint32_t)busiest(cl, n_cl, ci);
            if (busiest(cl, n_cl, prev_client)) c->client_after_busy[kind]++;
            if (si < 0) c->server_new++;
            else if (ci >= 0 && cl[ci].last_server == si) c->server_same++;
            else c->server_other++, c->server_busiest += (uint32_t)busiest(sv, n_sv, si);
        }
        if (ci < 0) ci = (int32_t)n_cl, cl[n_cl++] = (lhost){.ip = f->client_ip, .last_server = -1};
        if (si < 0) si = (int32_t)n_sv, sv[n_sv++] = (lhost){.ip = f->server_ip, .last_server = -1};
        lhost *h = &cl[ci];
        if (f->proto != NS_PROTO_ICMP) {
            if (h->has_port) {
                uint16_t step = (uint16_t)(f->client_port - h->port);
                if (step <= NS_TM_PORT_STEPS) c->port_step[step]++;
                else c->port_random++;
            }
            h->has_port = 1, h->port = f->client_port;
            a->server_port[f->server_port]++;
            if (f->client_port && f->client_port < a->port_min) a->port_min = f->client_port;
            if (f->client_port > a->port_max) a->port_max = f->client_port;
        }
        if (f->proto == NS_PROTO_TCP && ds->totals) {
            uint8_t end = ds->totals[idx[j]].end;
            c->close[end == NS_DS_END_RST ? NS_TM_CLOSE_RST : end == NS_DS_END_FIN ? NS_TM_CLOSE_FIN : NS_TM_CLOSE_OPEN]++;
        }
        if (f->proto == NS_PROTO_TCP) {
            learn_tcp(a, ds, f, ds->totals ? &ds->totals[idx[j]] : NULL);
            for (int s = 0; s < 2; s++)
                if (feat[2 * idx[j] + s].ttl >= 0) a->ttl_tcp[s][feat[2 * idx[j] + s].ttl]++;
        }
        learn_group(a, f, feat[2 * idx[j]].ttl);
        if (!rc) rc = learn_turns(a, ds, f);
        if (!rc) rc = host_side(a, 0, h, &feat[2 * idx[j]]);
        if (!rc) rc = host_side(a, 1, &sv[si], &feat[2 * idx[j] + 1]);
        h->flows++, h->last_server = si;
        sv[si].flows++;
        prev_client = ci;
    }
    return rc;
}

static int cmp_double(const void *x, const void *y)
{
    double a = *(const double *)x, b = *(const double *)y;
    return a < b ? -1 : a > b;
}

static int gap_bin(double g)
{
    double x = (log10(g > 1e-6 ? g : 1e-6) + 6) * NS_TM_GAP_PER_DECADE;
    int b = x >= NS_TM_GAP_BINS ? NS_TM_GAP_BINS - 1 : (int)x;
    return b < 0 ? 0 : b;
}

/* The period, the histogram and the chain, once every gap is in. */
static int finish_gaps(acc *a)
{
    ns_tmodel_class *c = a->c;
    double lo = 0, hi = -1;
    if (a->n_gap >= 3) {
        double *s = malloc(a->n_gap * sizeof *s);
        if (!s) return ns_error(NS_ENOMEM, "out of memory learning the trace model");
        memcpy(s, a->gap, a->n_gap * sizeof *s);
        qsort(s, a->n_gap, sizeof *s, cmp_double);
        size_t best = 0, best_i = 0;
        for (size_t i = 0, j = 0; i < a->n_gap; i++) {
            if (s[i] < PERIOD_MIN_GAP_S) continue;
            if (j < i) j = i;
            while (j < a->n_gap && s[j] <= s[i] * PERIOD_WIDTH) j++;
            if (j - i > best) best = j - i, best_i = i;
        }
        if (best >= 3 && best >= PERIOD_MIN_SHARE * (double)a->n_gap) {
            lo = s[best_i], hi = s[best_i + best - 1];
            double p = s[best_i + best / 2], var = 0;
            for (size_t i = best_i; i < best_i + best; i++) var += (s[i] / p - 1) * (s[i] / p - 1);
            c->period_s = p, c->period_jitter = sqrt(var / (double)best);
            c->period_share = (double)best / (double)a->n_gap;
        }
        free(s);
    }
    int prev = -1;
    for (size_t i = 0; i < a->n_gap; i++) {
        double g = a->gap[i];
        if (g >= lo && g <= hi) { /* periodic: drawn apart, and breaks the chain */
            prev = -1;
            continue;
        }
        int b = gap_bin(g), d = b / NS_TM_GAP_PER_DECADE;
        c->gap_bin[b]++;
        if (prev >= 0 && a->cont[i]) c->gap_next[prev][d]++;
        prev = d;
    }
    return NS_OK;
}

/* A clock rate: the median sample, snapped to a usual rate within 10%. */
static double finish_rate(double *v, size_t n)
{
    if (!n) return 0;
    qsort(v, n, sizeof *v, cmp_double);
    double m = n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
    static const double usual[] = {1, 10, 100, 250, 1000};
    for (size_t i = 0; i < sizeof usual / sizeof usual[0]; i++)
        if (fabs(m / usual[i] - 1) <= 0.1) return usual[i];
    return m;
}

static void finish_ports(acc *a)
{
    static const uint16_t ranges[][2] = {{32768, 60999}, {49152, 65535}, {1024, 5000}, {1024, 65535}};
    if (a->port_min > a->port_max) return;
    for (size_t i = 0; i < sizeof ranges / sizeof ranges[0]; i++)
        if (a->port_min >= ranges[i][0] && a->port_max <= ranges[i][1]) {
            a->c->port_lo = ranges[i][0], a->c->port_hi = ranges[i][1];
            return;
        }
    a->c->port_lo = (uint16_t)a->port_min, a->c->port_hi = (uint16_t)a->port_max; /* fixed ports: NTP's 123 */
    uint32_t best = 0;
    for (uint32_t p = 1; p < 65536; p++)
        if (a->server_port[p] > a->server_port[best]) best = p;
    a->c->port_server = (uint16_t)best;
}

/* The NS_TM_TTLS commonest of counts[s][256] per side into ttl, count (commonest first; ties: the smallest). */
static void finish_ttl(uint64_t counts[2][256], uint8_t ttl[2][NS_TM_TTLS], uint32_t count[2][NS_TM_TTLS])
{
    for (int s = 0; s < 2; s++)
        for (int k = 0; k < NS_TM_TTLS; k++) {
            int best = -1;
            for (int v = 0; v < 256; v++)
                if (counts[s][v] && (best < 0 || counts[s][v] > counts[s][best])) best = v;
            if (best < 0) break;
            ttl[s][k] = (uint8_t)best;
            count[s][k] = counts[s][best] > UINT32_MAX ? UINT32_MAX : (uint32_t)counts[s][best];
            counts[s][best] = 0;
        }
}

/* The NS_TM_SVC_PORTS server ports with most services of two flows or more (ties: the lower port). */
static void finish_services(acc *a)
{
    ns_tmodel_class *c = a->c;
    for (int k = 0; k < NS_TM_SVC_PORTS; k++) {
        uint32_t best = 0; /* 0: none (port 0 is no service's) */
        for (uint32_t p = 1; p < 65536; p++)
            if (a->svc_port[3 * p] > (best ? a->svc_port[3 * best] : 0)) best = p;
        if (!best) break;
        c->svc_port[k] = (uint16_t)best, c->svc_port_multi[k] = a->svc_port[3 * best];
        c->svc_port_one[k] = a->svc_port[3 * best + 1], c->svc_port_one_server[k] = a->svc_port[3 * best + 2];
        a->svc_port[3 * best] = 0;
    }
}

/* The NS_TM_GROUPS (server port, group) pairs with most flows (ties: the lower port), one per port. */
static void finish_groups(acc *a)
{
    ns_tmodel_class *c = a->c;
    for (int k = 0; k < NS_TM_GROUPS; k++) {
        int best = -1;
        for (int i = 0; i < a->n_grp; i++)
            if (a->grp[i].flows && (best < 0 || a->grp[i].flows > a->grp[best].flows ||
                                    (a->grp[i].flows == a->grp[best].flows && a->grp[i].port < a->grp[best].port)))
                best = i;
        if (best < 0) break;
        c->group_port[k] = a->grp[best].port, c->group_addr[k] = a->grp[best].addr;
        c->group_flows[k] = a->grp[best].flows, c->group_zero[k] = a->grp[best].zero;
        c->group_port_flows[k] = a->udp_port[a->grp[best].port];
        const uint32_t *t = a->grp_ttl + best * 256;
        int ttl = 0;
        for (int v = 1; v < 256; v++)
            if (t[v] > t[ttl]) ttl = v;
        c->group_ttl[k] = t[ttl] ? (uint8_t)ttl : 0;
        for (int i = 0; i < a->n_grp; i++) /* a port's other groups: its flows go to the commonest */
            if (a->grp[i].port == a->grp[best].port) a->grp[i].flows = 0;
    }
}

static __thread const ns_dataset *sort_ds; /* qsort has no context argument */

static int by_file_start(const void *x, const void *y)
{
    const ns_ds_flow *a = &sort_ds->flows[*(const uint64_t *)x], *b = &sort_ds->flows[*(const uint64_t *)y];
    if (a->file != b->file) return a->file < b->file ? -1 : 1;
    if (a->start_ns != b->start_ns) return a->start_ns < b->start_ns ? -1 : 1;
    return *(const uint64_t *)x < *(const uint64_t *)y ? -1 : 1;
}

/* Class c's flows: combination `combo` (>= 0), or token `token` (>= 0), or every flow. */
typedef struct cdef {
    int64_t combo;
    int32_t token;
} cdef;

static char *key_of(const ns_dataset *ds, const int32_t *labels)
{
    size_t len = 1;
    for (uint32_t a = 0; a < ds->n_attrs; a++)
        if (labels[a] >= 0) len += strlen(ds->tokens[labels[a]]) + 1;
    char *k = malloc(len);
    if (!k) return NULL;
    size_t at = 0;
    for (uint32_t a = 0; a < ds->n_attrs; a++)
        if (labels[a] >= 0) at += (size_t)sprintf(k + at, "%s%s", at ? " " : "", ds->tokens[labels[a]]);
    k[at] = 0;
    return k;
}

int ns_tmodel_learn(ns_tmodel *tm, const ns_dataset *ds)
{
    memset(tm, 0, sizeof *tm);
    size_t A = ds->n_attrs, F = ds->n_flows;
    uint64_t *order = malloc((F + 1) * sizeof *order);
    uint32_t *combo = malloc((F + 1) * sizeof *combo);
    uint64_t *combo_first = malloc((F + 1) * sizeof *combo_first); /* a flow of each combination */
    side_feat *feat = malloc((2 * F + 1) * sizeof *feat);
    uint8_t *token_used = calloc(ds->n_tokens + 1, 1);
    int8_t *row = malloc(NS_NP_MODEL_WIDTH);
    lhost *cl = malloc((F + 1) * sizeof *cl), *sv = malloc((F + 1) * sizeof *sv);
    uint64_t *seq = malloc((F + 1) * sizeof *seq);
    uint32_t *server_port = malloc(65536 * sizeof *server_port), *synack_win = malloc(65536 * sizeof *synack_win);
    uint32_t *udp_port = malloc(65536 * sizeof *udp_port), *grp_ttl = malloc(64 * 256 * sizeof *grp_ttl);
    uint32_t *svc_port = malloc(3 * 65536 * sizeof *svc_port);
    uint32_t *turn_hist = malloc(2 * TURN_BINS * sizeof *turn_hist);
    int8_t *turn_rows = malloc((size_t)NS_TM_TURN_ROWS * NS_NP_MODEL_WIDTH);
    cdef *defs = NULL;
    acc *accs = NULL;
    int rc = NS_OK;
    if (!order || !combo || !combo_first || !feat || !token_used || !row || !cl || !sv || !seq || !server_port ||
        !synack_win || !udp_port || !grp_ttl || !turn_hist || !turn_rows || !svc_port) {
        rc = ns_error(NS_ENOMEM, "out of memory learning the trace model of %zu flows", F);
        goto done;
    }
    /* Label combinations (few: a linear search each), tokens in use, per-flow features. */
    uint32_t n_combos = 0;
    for (uint64_t f = 0; f < F; f++) {
        const int32_t *lab = ds->labels + f * A;
        uint32_t c = 0;
        while (c < n_combos && memcmp(ds->labels + combo_first[c] * A, lab, A * sizeof *lab)) c++;
        if (c == n_combos) combo_first[n_combos++] = f;
        combo[f] = c;
        for (size_t a = 0; a < A; a++)
            if (lab[a] >= 0 && (uint32_t)lab[a] < ds->n_tokens) token_used[lab[a]] = 1;
        flow_features(ds, f, row, &feat[2 * f]);
        order[f] = f;
    }
    sort_ds = ds;
    qsort(order, F, sizeof *order, by_file_start);

    /* Classes: combinations with at least one label, used tokens (unless a
     * combination has that one key already), and the empty key. */
    size_t n_def = 0, cap_def = n_combos + ds->n_tokens + 1;
    defs = calloc(cap_def, sizeof *defs);
    tm->classes = calloc(cap_def, sizeof *tm->classes);
    accs = calloc(cap_def, sizeof *accs);
    if (!defs || !tm->classes || !accs) {
        rc = ns_error(NS_ENOMEM, "out of memory learning the trace model");
        goto done;
    }
    for (uint32_t c = 0; c < n_combos; c++) {
        char *k = key_of(ds, ds->labels + combo_first[c] * A);
        if (!k) {
            rc = ns_error(NS_ENOMEM, "out of memory");
            goto done;
        }
        if (!*k) { /* no label at all: the empty key below covers it */
            free(k);
            continue;
        }
        defs[n_def] = (cdef){.combo = c, .token = -1};
        tm->classes[n_def++].key = k;
        tm->n_classes = (uint32_t)n_def; /* so that a failure frees the keys so far */
    }
    for (uint32_t t = 0; t < ds->n_tokens; t++) {
        if (!token_used[t]) continue;
        int dup = 0;
        for (size_t i = 0; i < n_def && !dup; i++) dup = !strcmp(tm->classes[i].key, ds->tokens[t]);
        if (dup) continue; /* a combination of this one token is the same class */
        char *k = malloc(strlen(ds->tokens[t]) + 1);
        if (!k) {
            rc = ns_error(NS_ENOMEM, "out of memory");
            goto done;
        }
        strcpy(k, ds->tokens[t]);
        defs[n_def] = (cdef){.combo = -1, .token = (int32_t)t};
        tm->classes[n_def++].key = k;
        tm->n_classes = (uint32_t)n_def;
    }
    defs[n_def] = (cdef){.combo = -1, .token = -1};
    if (!(tm->classes[n_def++].key = calloc(1, 1))) {
        rc = ns_error(NS_ENOMEM, "out of memory");
        goto done;
    }
    tm->n_classes = (uint32_t)n_def;

    for (size_t i = 0; i < n_def && !rc; i++) {
        acc *a = &accs[i];
        a->c = &tm->classes[i];
        a->port_min = 65536, a->port_max = 0;
        a->server_port = server_port;
        memset(server_port, 0, 65536 * sizeof *server_port);
        a->synack_win = synack_win;
        memset(synack_win, 0, 65536 * sizeof *synack_win);
        a->udp_port = udp_port;
        memset(udp_port, 0, 65536 * sizeof *udp_port);
        a->svc_port = svc_port;
        memset(svc_port, 0, 3 * 65536 * sizeof *svc_port);
        a->grp_ttl = grp_ttl;
        memset(grp_ttl, 0, 64 * 256 * sizeof *grp_ttl);
        a->turn_hist = turn_hist, a->turn_rows = turn_rows;
        memset(turn_hist, 0, 2 * TURN_BINS * sizeof *turn_hist);
        size_t m = 0;
        for (size_t j = 0; j <= F && !rc; j++) {
            uint64_t f = j < F ? order[j] : 0;
            int in = 0;
            if (j < F) {
                const cdef *d = &defs[i];
                if (d->combo >= 0) in = combo[f] == (uint32_t)d->combo;
                else if (d->token >= 0) {
                    int t = ns_dataset_token_attr(ds, d->token);
                    in = t >= 0 && ds->labels[f * A + (size_t)t] == d->token;
                } else in = 1;
            }
            /* A sequence ends at another file or at the end. */
            if (m && (j == F || ds->flows[f].file != ds->flows[seq[0]].file)) {
                rc = learn_sequence(a, ds, seq, m, feat, cl, sv);
                m = 0;
            }
            if (in) seq[m++] = f;
        }
        if (!rc) rc = finish_gaps(a);
        for (int s = 0; s < 2; s++) a->c->ts_hz[s] = finish_rate(a->rate[s], a->n_rate[s]);
        finish_ports(a);
        finish_ttl(a->ttl, a->c->ttl, a->c->ttl_count);
        finish_ttl(a->ttl_tcp, a->c->ttl_tcp, a->c->ttl_tcp_count);
        finish_synack(a);
        finish_groups(a);
        finish_turns(a);
        finish_turn_ports(a);
        finish_services(a);
    }

done:
    for (size_t i = 0; accs && i < tm->n_classes; i++)
        free(accs[i].gap), free(accs[i].cont), free(accs[i].rate[0]), free(accs[i].rate[1]), free(accs[i].tport),
        free(accs[i].hport);
    free(accs), free(defs);
    free(order), free(combo), free(combo_first), free(feat), free(token_used), free(row), free(cl), free(sv), free(seq);
    free(server_port), free(synack_win), free(udp_port), free(grp_ttl), free(turn_hist), free(turn_rows), free(svc_port);
    if (rc) ns_tmodel_free(tm);
    return rc;
}

/* ---- bytes ---------------------------------------------------------------------------- */

typedef struct cursor {
    uint8_t *p;
    const uint8_t *q;
} cursor;

static void w32(cursor *c, uint32_t v) { ns_store_le32(c->p, v), c->p += 4; }
static void w16(cursor *c, uint16_t v) { c->p[0] = (uint8_t)v, c->p[1] = (uint8_t)(v >> 8), c->p += 2; }
static void w8(cursor *c, uint8_t v) { *c->p++ = v; }
static void wf(cursor *c, double v)
{
    uint64_t u;
    memcpy(&u, &v, 8);
    ns_store_le64(c->p, u), c->p += 8;
}
static uint32_t r32(cursor *c) { uint32_t v = ns_load_le32(c->q); c->q += 4; return v; }
static uint16_t r16(cursor *c) { uint16_t v = (uint16_t)(c->q[0] | c->q[1] << 8); c->q += 2; return v; }
static uint8_t r8(cursor *c) { return *c->q++; }
static double rf(cursor *c)
{
    uint64_t u = ns_load_le64(c->q);
    double v;
    memcpy(&v, &u, 8);
    c->q += 8;
    return v;
}

/* Every field in record order, through the macros W (u32), H (u16), B (u8), D (f64). */
#define RECORD_FIELDS(W, H, B, D)                                                                                 \
    W(captures) W(flows) W(gaps);                                                                                 \
    for (int i_ = 0; i_ < NS_TM_GAP_BINS; i_++) W(gap_bin[i_]);                                                   \
    for (int i_ = 0; i_ < NS_TM_DECADES; i_++)                                                                    \
        for (int j_ = 0; j_ < NS_TM_DECADES; j_++) W(gap_next[i_][j_]);                                           \
    D(period_s) D(period_jitter) D(period_share);                                                                 \
    W(client_new) W(client_prev) W(client_other) W(server_new) W(server_same) W(server_other);                    \
    for (int i_ = 0; i_ <= NS_TM_PORT_STEPS; i_++) W(port_step[i_]);                                              \
    W(port_random) H(port_lo) H(port_hi) H(port_server);                                                          \
    for (int s_ = 0; s_ < 2; s_++) {                                                                              \
        for (int i_ = 0; i_ < NS_TM_IPID_KINDS; i_++) W(ipid[s_][i_]);                                            \
        W(ipid_runs_on[s_][0]) W(ipid_runs_on[s_][1]) D(ts_hz[s_]) W(ts_runs_on[s_][0]) W(ts_runs_on[s_][1]);     \
        for (int i_ = 0; i_ < NS_TM_TTLS; i_++) { B(ttl[s_][i_]) W(ttl_count[s_][i_]) }                          \
    }                                                                                                             \
    W(client_busiest) W(server_busiest);                                                                          \
    for (int i_ = 0; i_ < 3; i_++) W(client_after_busy[i_]);
/* The fields version 2 added after them. */
#define RECORD_FIELDS_V2(W, H, B)                                                                                 \
    for (int i_ = 0; i_ < NS_TM_CLOSES; i_++) { W(close[i_]) }                                                    \
    H(synack_win) B(synack_ws) W(rst_ts[0]) W(rst_ts[1])
/* And version 3's. */
#define RECORD_FIELDS_V3(W)                                                                                       \
    W(fin_side[0]) W(fin_side[1]) W(fin_acked[0]) W(fin_acked[1]) W(rst_side[0]) W(rst_side[1]) W(rst_fin[0])    \
    W(rst_fin[1]) W(refused)
/* And version 4's. */
#define RECORD_FIELDS_V4(W, H, B)                                                                                 \
    for (int s_ = 0; s_ < 2; s_++)                                                                                \
        for (int i_ = 0; i_ < NS_TM_HS_BINS; i_++) { H(hs_gap[s_][i_]) }                                         \
    for (int s_ = 0; s_ < 2; s_++)                                                                                \
        for (int i_ = 0; i_ < NS_TM_TTLS; i_++) { B(ttl_tcp[s_][i_]) W(ttl_tcp_count[s_][i_]) }                  \
    W(synack_ts[0]) W(synack_ts[1]);                                                                              \
    for (int i_ = 0; i_ < NS_TM_GROUPS; i_++) {                                                                   \
        H(group_port[i_]) W(group_addr[i_]) W(group_flows[i_]) W(group_port_flows[i_]) W(group_zero[i_])         \
        B(group_ttl[i_])                                                                                          \
    }

/* And version 5's. */
#define RECORD_FIELDS_V5(W, H)                                                                                    \
    W(turn_n[0]) W(turn_n[1]);                                                                                    \
    for (int s_ = 0; s_ < 2; s_++)                                                                                \
        for (int i_ = 0; i_ < NS_REPAIR_TURN_Q; i_++) { H(turn_q[s_][i_]) }                                     \
    for (int p_ = 0; p_ < NS_TM_TURN_PORTS; p_++) {                                                              \
        H(turn_port[p_]) W(turn_port_n[p_][0]) W(turn_port_n[p_][1]);                                            \
        for (int s_ = 0; s_ < 2; s_++)                                                                            \
            for (int i_ = 0; i_ < NS_REPAIR_TURN_Q; i_++) { H(turn_port_q[p_][s_][i_]) }                         \
    }                                                                                                             \
    for (int p_ = 0; p_ < NS_TM_TURN_PORTS; p_++)                                                                \
        for (int s_ = 0; s_ < 2; s_++)                                                                            \
            for (int i_ = 0; i_ < NS_TM_HS_BINS; i_++) { H(hs_port_gap[p_][s_][i_]) }

/* And version 6's. */
#define RECORD_FIELDS_V6(W)                                                                                       \
    for (int i_ = 0; i_ < NS_REPAIR_METHODS; i_++) { W(method[i_]) }

/* And version 7's. */
#define RECORD_FIELDS_V7(W, H)                                                                                    \
    W(svc_multi) W(svc_one) W(svc_one_server);                                                                   \
    for (int p_ = 0; p_ < NS_TM_SVC_PORTS; p_++) {                                                                \
        H(svc_port[p_]) W(svc_port_multi[p_]) W(svc_port_one[p_]) W(svc_port_one_server[p_])                     \
    }

static void put_record(cursor *cu, const ns_tmodel_class *c)
{
#define PW(f) w32(cu, c->f);
#define PH(f) w16(cu, c->f);
#define PB(f) w8(cu, c->f);
#define PD(f) wf(cu, c->f);
    RECORD_FIELDS(PW, PH, PB, PD)
    RECORD_FIELDS_V2(PW, PH, PB)
    RECORD_FIELDS_V3(PW)
    RECORD_FIELDS_V4(PW, PH, PB)
    RECORD_FIELDS_V5(PW, PH)
    RECORD_FIELDS_V6(PW)
    RECORD_FIELDS_V7(PW, PH)
#undef PW
#undef PH
#undef PB
#undef PD
}

/* A record of `version`: a version 1 one has no closes, a version 2 one no close sides and shapes (they
 * stay 0, and its bytes there must be zeros). */
static void get_record(cursor *cu, ns_tmodel_class *c, uint32_t version)
{
#define GW(f) c->f = r32(cu);
#define GH(f) c->f = r16(cu);
#define GB(f) c->f = r8(cu);
#define GD(f) c->f = rf(cu);
    RECORD_FIELDS(GW, GH, GB, GD)
    if (version >= 2) {
        RECORD_FIELDS_V2(GW, GH, GB)
    }
    if (version >= 3) {
        RECORD_FIELDS_V3(GW)
    }
    if (version >= 4) {
        RECORD_FIELDS_V4(GW, GH, GB)
    }
    if (version >= 5) {
        RECORD_FIELDS_V5(GW, GH)
    }
    if (version >= 6) {
        RECORD_FIELDS_V6(GW)
    }
    if (version >= 7) {
        RECORD_FIELDS_V7(GW, GH)
    }
#undef GW
#undef GH
#undef GB
#undef GD
}

int ns_tmodel_encode(const ns_tmodel *tm, uint8_t **out, size_t *out_size)
{
    size_t keys = 0;
    for (uint32_t c = 0; c < tm->n_classes; c++) keys += strlen(tm->classes[c].key) + 1;
    size_t off = align8(HEADER + keys), size = off + (size_t)tm->n_classes * record_bytes(NS_TMODEL_VERSION);
    uint8_t *buf = calloc(1, size);
    if (!buf) return ns_error(NS_ENOMEM, "out of memory for the trace model (%zu bytes)", size);
    memcpy(buf, NS_TMODEL_MAGIC, 8);
    ns_store_le32(buf + 8, NS_TMODEL_VERSION);
    ns_store_le32(buf + 12, tm->n_classes);
    ns_store_le64(buf + 16, size);
    ns_store_le32(buf + 24, (uint32_t)keys);
    char *k = (char *)buf + HEADER;
    for (uint32_t c = 0; c < tm->n_classes; c++) k = stpcpy(k, tm->classes[c].key) + 1;
    for (uint32_t c = 0; c < tm->n_classes; c++) {
        cursor cu = {.p = buf + off + (size_t)c * record_bytes(NS_TMODEL_VERSION)};
        put_record(&cu, &tm->classes[c]);
    }
    ns_store_le32(buf + 28, ns_crc32(0, buf, size));
    *out = buf, *out_size = size;
    return NS_OK;
}

static int fin(double v, double lo, double hi) { return isfinite(v) && v >= lo && v <= hi; }

/* What a class's counts must say of each other; NULL when they agree. */
static const char *class_problem(const ns_tmodel_class *c)
{
    uint64_t s = 0;
    if (c->flows < c->captures) return "fewer flows than captures";
    if (c->gaps != c->flows - c->captures) return "gap count is not flows - captures";
    for (int i = 0; i < NS_TM_GAP_BINS; i++) s += c->gap_bin[i];
    if (s > c->gaps) return "more binned gaps than gaps";
    for (int j = 0; j < NS_TM_DECADES; j++) { /* transitions into a decade are gaps in it */
        uint64_t into = 0, in = 0;
        for (int i = 0; i < NS_TM_DECADES; i++) into += c->gap_next[i][j];
        for (int i = 0; i < NS_TM_GAP_PER_DECADE; i++) in += c->gap_bin[j * NS_TM_GAP_PER_DECADE + i];
        if (into > in) return "more gap transitions than gaps";
    }
    if (!fin(c->period_s, 0, 1e7) || !fin(c->period_jitter, 0, 10) || !fin(c->period_share, 0, 1) ||
        (c->period_s == 0 && c->period_share != 0))
        return "bad period";
    /* Each gap is binned or periodic. */
    if (fabs((double)s + c->period_share * c->gaps - c->gaps) > 0.5) return "binned and periodic gaps do not add up";
    if ((uint64_t)c->client_new + c->client_prev + c->client_other != c->gaps ||
        (uint64_t)c->server_new + c->server_same + c->server_other != c->gaps)
        return "host counts do not add up to the flows";
    if (c->client_busiest > c->client_other || c->server_busiest > c->server_other ||
        c->client_after_busy[0] > c->client_new || c->client_after_busy[1] > c->client_prev ||
        c->client_after_busy[2] > c->client_other)
        return "more busiest hosts than other hosts";
    if (c->svc_one > c->svc_multi || c->svc_one_server > c->svc_multi || c->svc_multi > c->flows / 2)
        return "more one-client services than services";
    s = 0;
    for (int i = 0; i < NS_TM_SVC_PORTS; i++) {
        if (c->svc_port_one[i] > c->svc_port_multi[i] || c->svc_port_one_server[i] > c->svc_port_multi[i] ||
            (!c->svc_port[i] && c->svc_port_multi[i]))
            return "bad service port entry";
        s += c->svc_port_multi[i];
    }
    if (s > c->svc_multi) return "more services by port than services";
    s = c->port_random;
    for (int i = 0; i <= NS_TM_PORT_STEPS; i++) s += c->port_step[i];
    if (s > c->flows) return "more port steps than flows";
    if (c->port_lo > c->port_hi || (!c->port_lo && c->port_hi)) return "bad port range";
    if ((uint64_t)c->close[0] + c->close[1] + c->close[2] > c->flows) return "more closes than flows";
    s = 0;
    for (int i = 0; i < NS_REPAIR_METHODS; i++) s += c->method[i];
    if (s > c->flows) return "more first requests than flows";
    if (c->synack_ws > 15) return "SYN-ACK window scale over 14";
    if ((uint64_t)c->fin_side[0] + c->fin_side[1] > c->close[NS_TM_CLOSE_FIN] ||
        (uint64_t)c->fin_acked[0] + c->fin_acked[1] > (uint64_t)c->fin_side[0] + c->fin_side[1] ||
        (uint64_t)c->rst_side[0] + c->rst_side[1] > c->close[NS_TM_CLOSE_RST] ||
        (uint64_t)c->rst_fin[0] + c->rst_fin[1] != (uint64_t)c->rst_side[0] + c->rst_side[1] ||
        c->refused > c->rst_side[1])
        return "close sides and shapes do not add up to the closes";
    uint64_t hs[2] = {0, 0};
    for (int i = 0; i < NS_TM_HS_BINS; i++) hs[0] += c->hs_gap[0][i], hs[1] += c->hs_gap[1][i];
    if (hs[0] > c->flows || hs[1] > c->flows) return "more handshake gaps than flows";
    for (int h = 0; h < 2; h++) {
        s = 0;
        for (int i = 0; i < NS_TM_IPID_KINDS; i++) s += c->ipid[h][i];
        if (s > c->flows || (uint64_t)c->ipid_runs_on[h][0] + c->ipid_runs_on[h][1] > c->flows ||
            (uint64_t)c->ts_runs_on[h][0] + c->ts_runs_on[h][1] > c->flows)
            return "more host observations than flows";
        if (!fin(c->ts_hz[h], 0, 1e7)) return "bad timestamp clock";
        s = 0;
        for (int i = 0; i < NS_TM_TTLS; i++) {
            s += c->ttl_count[h][i];
            if ((i && c->ttl_count[h][i] > c->ttl_count[h][i - 1]) || (!c->ttl_count[h][i] && c->ttl[h][i]))
                return "TTLs out of order";
            if ((i && c->ttl_tcp_count[h][i] > c->ttl_tcp_count[h][i - 1]) ||
                (!c->ttl_tcp_count[h][i] && c->ttl_tcp[h][i]) || c->ttl_tcp_count[h][i] > c->ttl_count[h][0])
                return "TCP TTLs out of order";
        }
    }
    if ((uint64_t)c->synack_ts[0] + c->synack_ts[1] > c->flows) return "more SYN-ACKs than flows";
    for (int i = 0; i < NS_TM_GROUPS; i++) {
        /* repair writes these addresses: a unicast one here would send flows to a host of the corpus */
        if (c->group_addr[i] ? !is_group_addr(c->group_addr[i]) || !c->group_flows[i]
                             : c->group_port[i] || c->group_flows[i] || c->group_port_flows[i] || c->group_zero[i] ||
                                   c->group_ttl[i])
            return "a group entry without a group address";
        if (c->group_zero[i] > c->group_flows[i] || c->group_flows[i] > c->group_port_flows[i] ||
            c->group_port_flows[i] > c->flows)
            return "group counts do not add up to the flows";
    }
    for (int k = 0; k < 2; k++)
        for (int i = 0; i < NS_REPAIR_TURN_Q; i++)
            if (c->turn_n[k] ? i && c->turn_q[k][i] < c->turn_q[k][i - 1] : c->turn_q[k][i] != 0)
                return "turn quantiles out of order";
    for (int p = 0; p < NS_TM_TURN_PORTS; p++) {
        uint64_t n = (uint64_t)c->turn_port_n[p][0] + c->turn_port_n[p][1];
        if (!n && c->turn_port[p]) return "a turn port entry without gaps";
        if (n > (uint64_t)c->turn_n[0] + c->turn_n[1] || c->turn_port_n[p][0] > c->turn_n[0] ||
            c->turn_port_n[p][1] > c->turn_n[1])
            return "more turn gaps of a port than of its class";
        for (int e = 0; n && e < p; e++)
            if (c->turn_port[e] == c->turn_port[p] || !((uint64_t)c->turn_port_n[e][0] + c->turn_port_n[e][1]))
                return "turn port entries repeat a port or follow an empty one";
        for (int k = 0; k < 2; k++)
            for (int i = 0; i < NS_REPAIR_TURN_Q; i++)
                if (c->turn_port_n[p][k] ? i && c->turn_port_q[p][k][i] < c->turn_port_q[p][k][i - 1]
                                         : c->turn_port_q[p][k][i] != 0)
                    return "turn port quantiles out of order";
        uint64_t h[2] = {0, 0};
        for (int i = 0; i < NS_TM_HS_BINS; i++) h[0] += c->hs_port_gap[p][0][i], h[1] += c->hs_port_gap[p][1][i];
        if ((!n && h[0] + h[1]) || h[0] > c->flows || h[1] > c->flows)
            return "handshake gaps of a turn port do not add up";
    }
    return NULL;
}

static int parse(ns_tmodel *tm, const uint8_t *buf, size_t size, const char *name)
{
    if (size < HEADER || memcmp(buf, NS_TMODEL_MAGIC, 8))
        return ns_error(size < 8 ? NS_ETRUNC : NS_EFORMAT, "%s: not a netsynth trace model", name);
    uint32_t version = ns_load_le32(buf + 8), n = ns_load_le32(buf + 12), keys = ns_load_le32(buf + 24);
    uint64_t fsize = ns_load_le64(buf + 16);
    if (version < 1 || version > NS_TMODEL_VERSION)
        return ns_error(NS_EVERSION, "%s: trace model version %u, this build reads versions 1 to %d%s", name, version,
                        NS_TMODEL_VERSION, version > NS_TMODEL_VERSION ? ": update netsynth to read it" : "");
    if (fsize != size)
        return ns_error(fsize > size ? NS_ETRUNC : NS_ECORRUPT, "%s: trace model is %zu bytes, its header says %llu%s",
                        name, size, (unsigned long long)fsize, fsize > size ? " (truncated)" : "");
    uint8_t head[HEADER];
    memcpy(head, buf, HEADER);
    ns_store_le32(head + 28, 0);
    if (ns_crc32(ns_crc32(0, head, HEADER), buf + HEADER, size - HEADER) != ns_load_le32(buf + 28))
        return ns_error(NS_ECORRUPT, "%s: trace model checksum mismatch: it is corrupted", name);
    if (!n || n > (1u << 20) || keys > size - HEADER ||
        (size - align8(HEADER + (size_t)keys)) != (uint64_t)n * record_bytes(version) ||
        size < align8(HEADER + (size_t)keys))
        return ns_error(NS_ECORRUPT, "%s: trace model sizes do not match its %u classes", name, n);
    if (!(tm->classes = calloc(n, sizeof *tm->classes))) return ns_error(NS_ENOMEM, "out of memory");
    tm->n_classes = n;
    const char *k = (const char *)buf + HEADER, *end = k + keys;
    for (uint32_t c = 0; c < n; c++) {
        const char *z = memchr(k, 0, (size_t)(end - k));
        if (!z) return ns_error(NS_ECORRUPT, "%s: trace model class names are cut short", name);
        if (!(tm->classes[c].key = malloc((size_t)(z - k) + 1))) return ns_error(NS_ENOMEM, "out of memory");
        memcpy(tm->classes[c].key, k, (size_t)(z - k) + 1);
        for (uint32_t d = 0; d < c; d++)
            if (!strcmp(tm->classes[d].key, tm->classes[c].key))
                return ns_error(NS_ECORRUPT, "%s: trace model class '%s' is there twice", name, tm->classes[c].key);
        k = z + 1;
    }
    for (const uint8_t *p = (const uint8_t *)k; p < buf + align8(HEADER + (size_t)keys); p++)
        if (*p) return ns_error(NS_ECORRUPT, "%s: trace model has bytes after its class names", name);
    if (!ns_tmodel_find(tm, "")) return ns_error(NS_ECORRUPT, "%s: trace model lacks its class of every flow", name);
    for (uint32_t c = 0; c < n; c++) {
        const uint8_t *rec = buf + align8(HEADER + (size_t)keys) + (size_t)c * record_bytes(version);
        cursor cu = {.q = rec};
        get_record(&cu, &tm->classes[c], version);
        for (const uint8_t *p = cu.q; p < rec + record_bytes(version); p++)
            if (*p) return ns_error(NS_ECORRUPT, "%s: trace model class '%s': unknown fields set", name, tm->classes[c].key);
        const char *why = class_problem(&tm->classes[c]);
        if (why) return ns_error(NS_ECORRUPT, "%s: trace model class '%s': %s", name, tm->classes[c].key, why);
    }
    return NS_OK;
}

int ns_tmodel_parse(ns_tmodel *tm, const uint8_t *buf, size_t size, const char *name)
{
    memset(tm, 0, sizeof *tm);
    int rc = parse(tm, buf, size, name);
    if (rc) ns_tmodel_free(tm);
    return rc;
}

int ns_tmodel_copy(ns_tmodel *dst, const ns_tmodel *src)
{
    memset(dst, 0, sizeof *dst);
    if (!(dst->classes = calloc(src->n_classes + 1, sizeof *dst->classes))) return ns_error(NS_ENOMEM, "out of memory");
    dst->n_classes = src->n_classes;
    for (uint32_t c = 0; c < src->n_classes; c++) {
        dst->classes[c] = src->classes[c];
        if (!(dst->classes[c].key = strdup(src->classes[c].key))) {
            ns_tmodel_free(dst);
            return ns_error(NS_ENOMEM, "out of memory");
        }
    }
    return NS_OK;
}

int ns_tmodel_key(const ns_modelfile *m, const int32_t *ids, char *buf, size_t size)
{
    size_t at = 0;
    if (size) buf[0] = 0;
    for (uint32_t a = 0; a < m->n_attrs; a++) {
        if (ids[a] < 0 || (uint32_t)ids[a] >= m->n_tokens) continue;
        int w = snprintf(buf + at, size - at, "%s%s", at ? " " : "", m->tokens[ids[a]]);
        if (w < 0 || (size_t)w >= size - at) return ns_error(NS_ERANGE, "prompt too long for a trace class name");
        at += (size_t)w;
    }
    return NS_OK;
}

/* ---- planning ---------------------------------------------------------------------------- */

/* The classes a capture draws from, most specific first; the empty key last. */
typedef struct chain {
    const ns_tmodel_class *c[3];
    int n;
} chain;

static void chain_of(const ns_tmodel *tm, const char *key, chain *ch)
{
    ch->n = 0;
    const ns_tmodel_class *c = ns_tmodel_find(tm, key);
    if (c && *key) ch->c[ch->n++] = c;
    const char *sp = strchr(key, ' ');
    if (sp) {
        char first[512];
        size_t len = (size_t)(sp - key) < sizeof first - 1 ? (size_t)(sp - key) : sizeof first - 1;
        memcpy(first, key, len), first[len] = 0;
        if ((c = ns_tmodel_find(tm, first))) ch->c[ch->n++] = c;
    }
    if ((c = ns_tmodel_find(tm, ""))) ch->c[ch->n++] = c;
}

static int has_gaps(const ns_tmodel_class *c, int s) { return c->gaps > 0; }
static int has_hosts(const ns_tmodel_class *c, int s) { return c->gaps > 0; }
static int has_ports(const ns_tmodel_class *c, int s) { return c->port_hi > 0; }
static int has_ipid(const ns_tmodel_class *c, int s) { return c->ipid[s][0] + c->ipid[s][1] + c->ipid[s][2] > 0; }
static int has_ipid_runs(const ns_tmodel_class *c, int s) { return c->ipid_runs_on[s][0] + c->ipid_runs_on[s][1] > 0; }
static int has_ts(const ns_tmodel_class *c, int s) { return c->ts_hz[s] > 0; }
static int has_ts_runs(const ns_tmodel_class *c, int s) { return c->ts_runs_on[s][0] + c->ts_runs_on[s][1] > 0; }
static int has_ttl(const ns_tmodel_class *c, int s) { return c->ttl_count[s][0] > 0; }
static int has_ttl_tcp(const ns_tmodel_class *c, int s) { return c->ttl_tcp_count[s][0] > 0; }
static int has_groups(const ns_tmodel_class *c, int s) { return c->group_addr[0] != 0; }
static int has_services(const ns_tmodel_class *c, int s) { return c->svc_multi > 0; }

/* Whether ttl is one of the TTLs c learned for side s's hosts (tcp: of its TCP flows). */
static int class_ttl(const ns_tmodel_class *c, int s, int32_t ttl, int tcp)
{
    for (int i = 0; c && i < NS_TM_TTLS; i++)
        if (tcp ? c->ttl_tcp_count[s][i] && c->ttl_tcp[s][i] == ttl : c->ttl_count[s][i] && c->ttl[s][i] == ttl)
            return 1;
    return 0;
}

static const ns_tmodel_class *pick(const chain *ch, int (*has)(const ns_tmodel_class *, int), int s)
{
    for (int i = 0; i < ch->n; i++)
        if (has(ch->c[i], s)) return ch->c[i];
    return NULL;
}

/* An index drawn with probability w[i] / sum; -1 when every weight is 0. */
static int draw(ns_rng *r, const double *w, int n)
{
    double sum = 0;
    for (int i = 0; i < n; i++) sum += w[i];
    if (!(sum > 0)) return -1;
    double u = ns_rng_double(r) * sum;
    for (int i = 0; i < n; i++) {
        if (u < w[i]) return i;
        u -= w[i];
    }
    for (int i = n; i-- > 0;)
        if (w[i] > 0) return i;
    return -1;
}

typedef struct arrivals {
    const ns_tmodel_class *c;  /* NULL: the fixed plan's gap */
    ns_rng rng;
    int prev;                  /* decade of the previous non-periodic gap, -1 none */
} arrivals;

static void arrivals_init(arrivals *a, const ns_tmodel *tm, const char *key, uint64_t seed, uint64_t capture)
{
    chain ch;
    chain_of(tm, key, &ch);
    a->c = pick(&ch, has_gaps, 0);
    a->prev = -1;
    ns_rng_seed(&a->rng, seed ^ 0x74726163656d6f64ull, 2 * capture);
}

static double next_gap(arrivals *a)
{
    const ns_tmodel_class *c = a->c;
    if (!c) return 0.01; /* no class ever had two flows in a capture: the fixed plan's 10 ms */
    double marg[NS_TM_DECADES] = {0}, w[NS_TM_DECADES], total = 0;
    for (int b = 0; b < NS_TM_GAP_BINS; b++) marg[b / NS_TM_GAP_PER_DECADE] += c->gap_bin[b], total += c->gap_bin[b];
    if (total == 0 && !(c->period_s > 0)) return 0.01;
    if (c->period_s > 0 && (total == 0 || ns_rng_double(&a->rng) < c->period_share)) {
        double g = c->period_s * (1 + c->period_jitter * ns_rng_normal(&a->rng));
        a->prev = -1;
        return g > 1e-6 ? g : 1e-6;
    }
    /* The chain's row, with the marginal as one pseudo-count spread over it. */
    double row = 0;
    for (int d = 0; a->prev >= 0 && d < NS_TM_DECADES; d++) row += c->gap_next[a->prev][d];
    for (int d = 0; d < NS_TM_DECADES; d++) w[d] = (row > 0 ? c->gap_next[a->prev][d] : 0) + marg[d] / total;
    int d = draw(&a->rng, w, NS_TM_DECADES);
    if (d < 0) return 0.01; /* cannot happen for a parsed model (class_problem): no weight anywhere */
    double wb[NS_TM_GAP_PER_DECADE];
    for (int i = 0; i < NS_TM_GAP_PER_DECADE; i++) wb[i] = c->gap_bin[d * NS_TM_GAP_PER_DECADE + i];
    int in = draw(&a->rng, wb, NS_TM_GAP_PER_DECADE);
    int b = d * NS_TM_GAP_PER_DECADE + (in < 0 ? NS_TM_GAP_PER_DECADE / 2 : in);
    a->prev = d;
    return pow(10, ((double)b + ns_rng_double(&a->rng)) / NS_TM_GAP_PER_DECADE - 6);
}

int ns_tmodel_count(const ns_tmodel *tm, const char *key, int64_t duration_ns, uint64_t seed, uint64_t capture,
                    size_t max, size_t *n)
{
    arrivals a;
    arrivals_init(&a, tm, key, seed, capture);
    int64_t t = 0; /* whole nanoseconds, as the plan adds them up */
    size_t k = 1;
    while (k < max && (t += llround(next_gap(&a) * 1e9)) < duration_ns) k++;
    *n = k;
    return NS_OK;
}

/* A host while a capture is planned: [0] as a client, [1] as a server. */
typedef struct phost {
    uint32_t num, flows;
    int has_port;
    uint16_t port;
    uint8_t ttl, ipid;
    int ipid_runs_on, ts_runs_on;
    uint16_t ipid_next;
    uint32_t ts_offset;
    float ts_hz;
} phost;

static void new_host(phost *h, uint32_t num, const chain *ch, int s, ns_rng *r)
{
    memset(h, 0, sizeof *h);
    h->num = num;
    const ns_tmodel_class *c;
    if ((c = pick(ch, has_ttl, s))) {
        double w[NS_TM_TTLS];
        for (int i = 0; i < NS_TM_TTLS; i++) w[i] = c->ttl_count[s][i];
        h->ttl = c->ttl[s][draw(r, w, NS_TM_TTLS)];
    }
    h->ipid = NS_REPAIR_IPID_KEEP;
    if ((c = pick(ch, has_ipid, s))) {
        double w[NS_TM_IPID_KINDS];
        for (int i = 0; i < NS_TM_IPID_KINDS; i++) w[i] = c->ipid[s][i];
        static const uint8_t mode[NS_TM_IPID_KINDS] = {NS_REPAIR_IPID_ZERO, NS_REPAIR_IPID_COUNTER, NS_REPAIR_IPID_RANDOM};
        h->ipid = mode[draw(r, w, NS_TM_IPID_KINDS)];
    }
    if ((c = pick(ch, has_ipid_runs, s)))
        h->ipid_runs_on = ns_rng_double(r) * (c->ipid_runs_on[s][0] + c->ipid_runs_on[s][1]) < c->ipid_runs_on[s][0];
    h->ipid_next = (uint16_t)ns_rng_u64(r);
    /* Without a timed flow the usual 1 kHz (Linux, the BSDs): a clock, never the generated jumps. */
    h->ts_hz = (c = pick(ch, has_ts, s)) ? (float)c->ts_hz[s] : 1000.0f;
    if ((c = pick(ch, has_ts_runs, s)))
        h->ts_runs_on = ns_rng_double(r) * (c->ts_runs_on[s][0] + c->ts_runs_on[s][1]) < c->ts_runs_on[s][0];
    h->ts_offset = (uint32_t)ns_rng_u64(r);
}

/* What planning needs of a generated flow besides flow_info (a byte each). */
enum { FLOW_V6 = 1, FLOW_ICMP = 2 };

/* A seen client of family f other than `not1` and `not2` (-1: none), by flow count; -1 when there is none. */
static int32_t client_by_flows(const uint32_t *flows, const uint32_t *fam, uint32_t n, uint32_t f, int32_t not1,
                               int32_t not2, ns_rng *r)
{
    uint64_t sum = 0;
    for (uint32_t i = 0; i < n; i++) sum += fam[i] != f || (int32_t)i == not1 || (int32_t)i == not2 ? 0 : flows[i];
    if (!sum) return -1;
    uint64_t u = ns_rng_below(r, sum);
    for (uint32_t i = 0;; i++) {
        uint64_t w = fam[i] != f || (int32_t)i == not1 || (int32_t)i == not2 ? 0 : flows[i];
        if (u < w) return (int32_t)i;
        u -= w;
    }
}

/* One draw of the clients of a capture's n flows (kind[j]: FLOW_* of flow j):
 * seq[j] numbers them in order of first flow; returns how many. An address
 * is IPv4 or IPv6, so each family's flows have clients of their own, drawn
 * as one sequence each with the class's rows. Learning's rows are read as
 * a main client and visitors. After a flow of the busiest client: a new
 * one, the same, or another by flow count, as learned, except that the new
 * share is set so that the class's new clients per flow (client_new /
 * gaps) come out once visitors chain as learned: a flow after a new one
 * counts in the other row, so that row's own new share is a chain's, and
 * visitors come back. After any other client (a visitor): a new one as
 * learned, else back to the busiest (learning's "previous" there is mostly
 * a main client still tied with a visitor in a capture's first flows:
 * taken literally, a visitor's flows went on and new ones came after it,
 * 12 clients a capture where real had 4), or another by flow count.
 * A flow pinned to an earlier one of its service (pin[j] < j: service_pins)
 * goes from that flow's client: a real device asks its DNS, NTP, cloud
 * servers from one address (captures of the IoT corpus whose flows to one
 * server port came from two clients: DNS 1 of 317, NTP 0 of 259), where a
 * visitor drawn per flow made 2 of every 5 generated captures ask their NTP
 * servers from two (BENCHMARK.md, "What a person sees (session 11)"). */
static uint32_t client_draw(const ns_tmodel_class *c, size_t n, const uint8_t *kind, const uint32_t *pin, ns_rng *r,
                            uint32_t *seq, uint32_t *flows, uint32_t *fam)
{
    uint32_t n_cl = 0;
    int32_t prev[2] = {-1, -1}, top[2] = {-1, -1}; /* per family: the previous flow's client, the busiest */
    double all[3] = {0}, row_b[3] = {0}, row_v[3] = {0}, gaps = 0;
    if (c) {
        all[0] = c->client_new, all[1] = c->client_prev, all[2] = c->client_other;
        for (int i = 0; i < 3; i++) row_b[i] = c->client_after_busy[i], row_v[i] = all[i] - row_b[i], gaps += all[i];
        double nb = row_b[0] + row_b[1] + row_b[2], nv = row_v[0] + row_v[1] + row_v[2];
        if (!(nb > 0)) memcpy(row_b, all, sizeof all);
        if (!(nv > 0)) memcpy(row_v, all, sizeof all);
        /* Per flow q new clients in all, a chain of 1 / (1 - chain) visitors per new after a main one. */
        double q = gaps > 0 ? all[0] / gaps : 0, chained = nv > 0 ? row_v[0] / nv : 0, keep = row_b[1] + row_b[2];
        if (nb > 0 && q < 1 && chained < 1 && keep > 0) {
            double e = q * (1 - chained) / (1 - q);
            if (e < 1) row_b[0] = e / (1 - e) * keep;
        }
        /* A visitor's "previous" and its other host that was the busiest go back to the busiest. */
        double back = row_v[2] < c->client_busiest ? row_v[2] : c->client_busiest;
        row_v[1] += back, row_v[2] -= back;
    }
    for (size_t j = 0; j < n; j++) {
        uint32_t f = kind && (kind[j] & FLOW_V6) ? 1 : 0;
        int32_t k = pin && pin[j] < j ? (int32_t)seq[pin[j]] : -1, p = prev[f];
        if (k < 0 && p >= 0 && c && gaps > 0) {
            int busy = top[f] == p;
            int how = draw(r, busy ? row_b : row_v, 3);
            if (how == 1) k = busy ? p : top[f];
            else if (how == 2) {
                k = client_by_flows(flows, fam, n_cl, f, p, busy ? -1 : top[f], r);
                if (k < 0) k = busy ? p : top[f];
            }
        }
        if (k < 0) k = (int32_t)n_cl, flows[n_cl] = 0, fam[n_cl++] = f;
        flows[k]++;
        /* Only k's count grew, so only k can become the busiest (ties: the first seen, as learning has it). */
        if (top[f] < 0 || flows[k] > flows[top[f]] || (flows[k] == flows[top[f]] && k < top[f])) top[f] = k;
        seq[j] = (uint32_t)k, prev[f] = k;
    }
    return n_cl;
}

/* One draw of a capture's hosts into seq[n], returning how many (client_draw
 * or server_draw over their share of the scratch). */
typedef struct host_draw {
    const ns_tmodel_class *c;
    size_t n;
    const uint8_t *kind;
    const uint32_t *cseq;     /* servers: the flows' clients */
    const uint32_t *pin;      /* the flow each flow's client (clients) or server (servers) follows: service_pins */
    uint32_t *scratch;
    uint32_t (*draw)(const struct host_draw *h, ns_rng *r, uint32_t *seq);
} host_draw;

/* seq[n]: of up to 32 draws of h (1 when n is large), the first with as
 * many hosts as the class has per flow (fresh / gaps over n - 1 flows,
 * rounded at random), else the closest; best[n] scratch. salt keeps the
 * clients' and the servers' random streams apart. */
static void host_sequence(const host_draw *h, uint64_t fresh, uint64_t gaps, uint64_t salt, uint64_t seed,
                          uint64_t capture, uint32_t *seq, uint32_t *draw_seq, uint32_t *best)
{
    size_t n = h->n;
    ns_rng r;
    ns_rng_seed(&r, seed ^ salt, 64 * capture);
    double want = gaps && n > 1 ? (double)fresh / (double)gaps * (double)(n - 1) : 0;
    uint32_t target = 1 + (uint32_t)want + (ns_rng_double(&r) < want - floor(want));
    uint32_t best_miss = UINT32_MAX, tries = n <= 4096 ? 32 : 1;
    for (uint32_t t = 0; t < tries && best_miss; t++) {
        ns_rng_seed(&r, seed ^ salt, 64 * capture + 1 + t);
        uint32_t got = h->draw(h, &r, draw_seq);
        uint32_t miss = got > target ? got - target : target - got;
        if (miss < best_miss) best_miss = miss, memcpy(best, draw_seq, n * sizeof *best);
    }
    memcpy(seq, best, n * sizeof *seq);
}

static uint32_t clients_once(const host_draw *h, ns_rng *r, uint32_t *seq)
{
    return client_draw(h->c, h->n, h->kind, h->pin, r, seq, h->scratch + 2 * h->n, h->scratch + 3 * h->n);
}

/* The clients of a capture's n flows (seq[n], numbered in order of first
 * flow): as client_draw has them, with as many as the class has per flow
 * (client_new / gaps over n - 1 flows, rounded at random): of up to 32
 * draws (1 when n is large: the count then varies little), the first with
 * that many, else the closest. One coin per flow gave captures of 2 and of
 * 9 clients where the real ones of the class had 3 or 4. scratch[4 n]. */
static void client_sequence(const ns_tmodel_class *c, size_t n, const uint8_t *kind, const uint32_t *pin,
                            uint64_t seed, uint64_t capture, uint32_t *seq, uint32_t *scratch)
{
    host_draw h = {c, n, kind, NULL, pin, scratch, clients_once};
    uint64_t gaps = c ? (uint64_t)c->client_new + c->client_prev + c->client_other : 0;
    host_sequence(&h, c ? c->client_new : 0, gaps, 0x636c69656e747321ull, seed, capture, seq, scratch, scratch + n);
}

/* 5-tuples in use: open addressing over a power-of-two table. */
typedef struct tuple {
    uint32_t client, server;   /* host numbers; a group flow's: GROUP_HOST - capture (client 0.0.0.0), its group */
    uint16_t cport, sport;
    uint8_t proto, used;       /* proto | GROUP_TUPLE for a flow to a group */
    int64_t free_at;           /* a group flow's: when another may take the 5-tuple (its rows' end + idle) */
} tuple;
enum { GROUP_TUPLE = 0x80 };
#define GROUP_HOST UINT32_MAX

typedef struct tuples {
    tuple *t;
    size_t mask;
} tuples;

static size_t tuple_slot(const tuples *ts, const tuple *k)
{
    uint64_t h = (uint64_t)k->client * 0x9e3779b97f4a7c15ull ^ (uint64_t)k->server * 0xc2b2ae3d27d4eb4full ^
                 ((uint64_t)k->cport << 24 | (uint64_t)k->sport << 8 | k->proto) * 0x165667b19e3779f9ull;
    h ^= h >> 29;
    size_t i = (size_t)h & ts->mask;
    while (ts->t[i].used && (ts->t[i].client != k->client || ts->t[i].server != k->server ||
                             ts->t[i].cport != k->cport || ts->t[i].sport != k->sport || ts->t[i].proto != k->proto))
        i = (i + 1) & ts->mask;
    return i;
}

static uint64_t net_hosts(int prefix) { return prefix >= 31 ? 1ull << (32 - prefix) : (1ull << (32 - prefix)) - 2; }

typedef struct flow_info {
    uint8_t proto;
    uint16_t sport;
    uint32_t sent[2];
    /* Per side, what the model generated for its first packet (-1: none):
     * the host that sends it starts from there, so that a class's TTLs, IP ID
     * ranges and timestamp clocks (a device's uptime) stay the class's. */
    int32_t ttl[2], id[2];
    int has_ts[2];
    uint32_t ts[2];
    uint32_t id_steps[2]; /* the side's generated counter's advance over the flow (repair keeps its steps) */
    int64_t dur_ns;       /* first row to last, as generated */
} flow_info;

static void generated_firsts(const int8_t *rows, const uint8_t *dir, uint32_t n, flow_info *fi)
{
    fi->ttl[0] = fi->ttl[1] = fi->id[0] = fi->id[1] = -1;
    uint16_t last[2] = {0, 0};
    for (uint32_t i = 0; i < n; i++) {
        const int8_t *row = rows + (size_t)i * NS_NP_MODEL_WIDTH;
        int d = dir[i] ? 1 : 0;
        if (ns_nprint_has(row, NS_NPF_IPV4_ID)) {
            uint16_t id = (uint16_t)ns_nprint_get(row, NS_NPF_IPV4_ID);
            if (fi->ttl[d] < 0) fi->ttl[d] = (int32_t)ns_nprint_get(row, NS_NPF_IPV4_TTL);
            if (id && fi->id[d] >= 0) {
                uint16_t step = (uint16_t)(id - last[d]);
                fi->id_steps[d] += step && step <= NS_REPAIR_IPID_STEP_MAX ? step : 1; /* as repair counts */
            }
            if (fi->id[d] < 0 && id) fi->id[d] = id; /* zeros do not start a counter (see flow_features) */
            if (id) last[d] = id;
        }
        uint32_t v;
        if (!fi->has_ts[d] && ns_nprint_has(row, NS_NPF_TCP_SPRT) && row_tsval(row, &v)) fi->has_ts[d] = 1, fi->ts[d] = v;
    }
}

static int cmp_u64(const void *x, const void *y)
{
    uint64_t a = *(const uint64_t *)x, b = *(const uint64_t *)y;
    return (a > b) - (a < b);
}

/* Scratch for the per-host votes of a capture of up to `most` flows. */
typedef struct votes {
    uint64_t *pairs;     /* [most] */
    uint32_t *val;       /* [most] */
    uint8_t *has;        /* [most] */
    int32_t *ttl[2];     /* [most] per host of a side: its flows' commonest TTL, -1 none */
    uint32_t *ts[2];     /* ... the median of its flows' TSval clock offsets */
    uint8_t *has_ts[2];
} votes;

/* Per host of seq[n] (numbered in order of first flow), the value most of
 * its flows' val[] say (ties: the smallest); -1 where none says one. */
static void host_majority(const uint32_t *seq, const int32_t *val, size_t n, uint64_t *pairs, int32_t *out)
{
    size_t m = 0, hosts = 0;
    for (size_t j = 0; j < n; j++) {
        if (seq[j] + 1 > hosts) hosts = seq[j] + 1;
        if (val[j] >= 0) pairs[m++] = (uint64_t)seq[j] << 32 | (uint32_t)val[j];
    }
    for (size_t h = 0; h < hosts; h++) out[h] = -1;
    qsort(pairs, m, sizeof *pairs, cmp_u64);
    for (size_t i = 0, best = 0; i < m;) {
        size_t e = i;
        while (e < m && pairs[e] == pairs[i]) e++;
        uint32_t h = (uint32_t)(pairs[i] >> 32);
        if (!i || (uint32_t)(pairs[i - 1] >> 32) != h) best = 0;
        if (e - i > best) best = e - i, out[h] = (int32_t)(uint32_t)pairs[i];
        i = e;
    }
}

/* Per host of seq[n], the median of its flows' val[] (those with has[j])
 * in wrapping 32-bit arithmetic, as clocks run: the host's first value
 * plus the median of each one's signed distance from it. */
static void host_median(const uint32_t *seq, const uint32_t *val, const uint8_t *has, size_t n, uint64_t *pairs,
                        uint32_t *out, uint8_t *has_out)
{
    size_t m = 0, hosts = 0;
    for (size_t j = 0; j < n; j++)
        if (seq[j] + 1 > hosts) hosts = seq[j] + 1;
    memset(has_out, 0, hosts);
    for (size_t j = 0; j < n; j++) {
        if (!has[j]) continue;
        uint32_t h = seq[j];
        if (!has_out[h]) has_out[h] = 1, out[h] = val[j];
        pairs[m++] = (uint64_t)h << 32 | ((uint32_t)(val[j] - out[h]) ^ 0x80000000u); /* sorts as signed */
    }
    qsort(pairs, m, sizeof *pairs, cmp_u64);
    for (size_t i = 0; i < m;) {
        size_t e = i;
        while (e < m && pairs[e] >> 32 == pairs[i] >> 32) e++;
        out[pairs[i] >> 32] += (uint32_t)pairs[i + (e - i - 1) / 2] ^ 0x80000000u;
        i = e;
    }
}

/* What the flows of each host of a capture generated, side d (0 its
 * clients, seq the client of each flow; 1 its servers): the TTL most of
 * them say, and where its timestamp clock stands by the median of theirs
 * (each flow's first generated TSval less the clock's ticks since the
 * capture's start at rate hz). A host's TTL and clock start there, not at
 * its first flow's values alone: one flow's odd TTL or uptime then moves
 * none of the others. (The same median for an IP ID counter's start
 * measured no better than its first flow's: BENCHMARK.md, "The trace plan
 * keeps the rows' clocks".) */
static void host_votes(const ns_tmodel_capture *cap, const flow_info *info, const uint32_t *seq, const int64_t *starts,
                       int d, double hz, votes *v)
{
    size_t n = cap->n;
    int32_t *ttl = (int32_t *)v->val;
    for (size_t j = 0; j < n; j++) ttl[j] = info[cap->first + j].ttl[d] > 0 ? info[cap->first + j].ttl[d] : -1;
    host_majority(seq, ttl, n, v->pairs, v->ttl[d]);
    for (size_t j = 0; j < n; j++) {
        const flow_info *fi = &info[cap->first + j];
        v->has[j] = (uint8_t)fi->has_ts[d];
        v->val[j] = fi->ts[d] - (uint32_t)(uint64_t)((double)starts[j] * 1e-9 * hz);
    }
    host_median(seq, v->val, v->has, n, v->pairs, v->ts[d], v->has_ts[d]);
}

/* A seen server of family f: the busiest of the family with probability
 * busy / other, else one of the rest by flow count; -1 when the family has none. */
static int32_t server_by_flows(const uint32_t *flows, const uint32_t *fam, uint32_t n, uint32_t f, uint32_t busy,
                               uint32_t other, ns_rng *r)
{
    int32_t top = -1;
    uint32_t seen = 0;
    for (uint32_t i = 0; i < n; i++)
        if (fam[i] == f) seen++, top = top < 0 || flows[i] > flows[top] ? (int32_t)i : top;
    if (top < 0 || seen == 1 || ns_rng_double(r) * other < busy) return top;
    int32_t k = client_by_flows(flows, fam, n, f, top, -1, r);
    return k < 0 ? top : k;
}

/* One draw of the servers of a capture's flows, given their clients
 * (cseq, numbered in order of first flow): the one the client used last,
 * another seen of its family (the busiest, or by flow count), or new, as
 * learned; a new client's flow takes no "same". An ICMP flow has no port to
 * keep its 5-tuple apart from an earlier one between the same hosts (the
 * plan would move it to a fresh server address, a server more than drawn:
 * 23 a capture where real had 17), so it takes another server of the
 * client's family, else a new one. A flow pinned to an earlier one of its
 * service (spin[j] < j: service_pins) goes to that flow's server: a device
 * asks one resolver (IoT captures with DNS to two: 17 of 317), where drawn
 * per flow the generated ones asked a median of 3. Returns how many. */
static uint32_t server_draw(const ns_tmodel_class *c, size_t n, const uint32_t *cseq, const uint8_t *kind,
                            const uint32_t *spin, ns_rng *r, uint32_t *seq, uint32_t *flows, uint32_t *fam, int32_t *last,
                            uint32_t *icmp_with)
{
    uint32_t n_sv = 0, n_cl = 0;
    for (size_t j = 0; j < n; j++) {
        uint32_t f = kind && (kind[j] & FLOW_V6) ? 1 : 0, cj = cseq[j];
        int icmp = kind && (kind[j] & FLOW_ICMP);
        int new_client = cj >= n_cl;
        if (new_client) last[cj] = -1, n_cl = cj + 1;
        int32_t s = spin && spin[j] < j ? (int32_t)seq[spin[j]] : -1; /* a service that keeps one server */
        if (s < 0 && j && c && n_sv) {
            double w[3] = {c->server_new, new_client ? 0 : c->server_same,
                           c->server_other + (new_client ? c->server_same : 0)};
            int how = draw(r, w, 3);
            if (how == 1 && last[cj] >= 0) s = last[cj];
            else if (how >= 1) s = server_by_flows(flows, fam, n_sv, f, c->server_busiest, c->server_other, r);
            if (s >= 0 && icmp && icmp_with[s] == cj + 1) {
                s = client_by_flows(flows, fam, n_sv, f, s, -1, r);
                if (s >= 0 && icmp_with[s] == cj + 1) s = -1;
            }
        }
        if (s < 0) s = (int32_t)n_sv, flows[n_sv] = 0, fam[n_sv] = f, icmp_with[n_sv++] = 0;
        if (icmp) icmp_with[s] = cj + 1;
        flows[s]++;
        seq[j] = (uint32_t)s, last[cj] = s;
    }
    return n_sv;
}

/* The servers of a capture's flows (seq[n]) as server_draw has them, with
 * as many as the class has per flow (server_new / gaps over n - 1 flows),
 * as client_sequence does for clients. scratch[6 n]. */
static uint32_t servers_once(const host_draw *h, ns_rng *r, uint32_t *seq)
{
    uint32_t *sc = h->scratch;
    size_t n = h->n;
    return server_draw(h->c, n, h->cseq, h->kind, h->pin, r, seq, sc + 2 * n, sc + 3 * n, (int32_t *)(sc + 4 * n),
                       sc + 5 * n);
}

static void server_sequence(const ns_tmodel_class *c, size_t n, const uint32_t *cseq, const uint8_t *kind,
                            const uint32_t *spin, uint64_t seed, uint64_t capture, uint32_t *seq, uint32_t *scratch)
{
    host_draw h = {c, n, kind, cseq, spin, scratch, servers_once};
    uint64_t gaps = c ? (uint64_t)c->server_new + c->server_same + c->server_other : 0;
    host_sequence(&h, c ? c->server_new : 0, gaps, 0x7365727665727321ull, seed, capture, seq, scratch, scratch + n);
}

/* A drawn server (sseq[j], one seen before) whose TTL is not the one the
 * flow's rows generated for its server is evidence that the flow belongs
 * with another: the seen server of its family whose first flow said that
 * TTL (the busiest of them) takes it. Which flows open a new server stays
 * as drawn, so the class's server counts hold; ICMP flows, which the
 * 5-tuple rule moves between servers, stay too. ttl, flows, fam: [n]. */
static void servers_by_ttl(const ns_tmodel_capture *cap, const flow_info *info, const uint8_t *kind, const uint32_t *spin,
                           uint32_t *sseq, int32_t *ttl, uint32_t *flows, uint8_t *fam)
{
    uint32_t n_sv = 0;
    for (size_t j = 0; j < cap->n; j++) {
        const flow_info *fi = &info[cap->first + j];
        uint8_t f = kind[cap->first + j] & FLOW_V6;
        uint32_t s = sseq[j];
        if (spin[j] < j) { /* a pinned service's flow follows its first, moved or not */
            flows[s = sseq[j] = sseq[spin[j]]]++;
            continue;
        }
        if (s == n_sv) {
            ttl[n_sv] = fi->ttl[1] > 0 ? fi->ttl[1] : -1, fam[n_sv] = f, flows[n_sv++] = 0;
        } else if (!(kind[cap->first + j] & FLOW_ICMP) && fi->ttl[1] > 0 && ttl[s] != fi->ttl[1]) {
            int32_t best = -1;
            for (uint32_t q = 0; q < n_sv; q++)
                if (ttl[q] == fi->ttl[1] && fam[q] == f && (best < 0 || flows[q] > flows[best])) best = (int32_t)q;
            if (best >= 0) sseq[j] = s = (uint32_t)best;
        }
        flows[s]++;
    }
}

/* The flow starts of a capture, from its first (t[n]). Without a span, the
 * arrival process as ns_tmodel_count runs it. With one (a copy of a real
 * capture): of 8 draws, the one whose last start lies nearest the span (by
 * ratio), stretched onto it. The process alone left like-for-like copies
 * with the class's gaps but not its captures' lengths: with the training
 * flows standing in for generated ones (bench/trace_plan.c), flows per
 * second more than 20% off for 10 of the IoT corpus's 31 devices, none
 * with the span. */
static void capture_starts(const ns_tmodel *tm, const ns_tmodel_capture *cap, uint64_t seed, uint64_t ci, int64_t *t,
                           int64_t *draw_t)
{
    arrivals a;
    arrivals_init(&a, tm, cap->key, seed, ci);
    t[0] = 0;
    for (size_t j = 1; j < cap->n; j++) t[j] = t[j - 1] + llround(next_gap(&a) * 1e9);
    if (cap->span_ns <= 0 || cap->n < 2) return;
    double best = fabs(log(((double)t[cap->n - 1] + 1) / (double)cap->span_ns));
    for (uint64_t k = 1; k < 8; k++) {
        arrivals_init(&a, tm, cap->key, seed, ci);
        ns_rng_seed(&a.rng, seed ^ 0x7370616e73746172ull, 8 * ci + k);
        draw_t[0] = 0;
        for (size_t j = 1; j < cap->n; j++) draw_t[j] = draw_t[j - 1] + llround(next_gap(&a) * 1e9);
        double miss = fabs(log(((double)draw_t[cap->n - 1] + 1) / (double)cap->span_ns));
        if (miss < best) best = miss, memcpy(t, draw_t, cap->n * sizeof *t);
    }
    double total = (double)t[cap->n - 1];
    for (size_t j = 1; j < cap->n; j++)
        t[j] = total > 0 ? llround((double)t[j] / total * (double)cap->span_ns)
                         : llround((double)j / (double)(cap->n - 1) * (double)cap->span_ns);
}

static uint32_t service_key(const flow_info *fi, uint8_t kind)
{
    return (uint32_t)(kind & FLOW_V6) << 24 | (uint32_t)fi->proto << 16 | fi->sport;
}

/* pin[j]: the first of a capture's flows whose service (family, transport,
 * server port) flow j's is, when that service goes from one client (a coin
 * per service: its server port's share where the class keeps one of
 * SVC_PORT_MIN services or more, else the class's svc_one / svc_multi; none
 * without them, as in files before version 7); j itself otherwise. spin[j]
 * the same for the service going to one server (svc_one_server's shares).
 * ICMP flows stay their own: real captures ping and discover neighbours
 * from several addresses.
 * table: open addressing, size (a power of two) at least 2 n. */
static void service_pins(const ns_tmodel_class *c, const ns_tmodel_capture *cap, const flow_info *info,
                         const uint8_t *kind, uint64_t seed, uint64_t ci, uint32_t *pin, uint32_t *spin,
                         uint32_t *table, size_t size)
{
    enum { ONE = 0x80000000u, ONE_SERVER = 0x40000000u, FLOW = 0x3fffffffu };
    ns_rng r, rs; /* the clients' coins, the servers' */
    ns_rng_seed(&r, seed ^ 0x7365727669636573ull, ci);
    ns_rng_seed(&rs, seed ^ 0x7376637365727673ull, ci);
    double share[2] = {0, 0}, port_share[NS_TM_SVC_PORTS][2];
    if (c && c->svc_multi) share[0] = (double)c->svc_one / c->svc_multi, share[1] = (double)c->svc_one_server / c->svc_multi;
    for (int i = 0; i < NS_TM_SVC_PORTS; i++) {
        int own = c && c->svc_port_multi[i] >= SVC_PORT_MIN;
        port_share[i][0] = own ? (double)c->svc_port_one[i] / c->svc_port_multi[i] : -1;
        port_share[i][1] = own ? (double)c->svc_port_one_server[i] / c->svc_port_multi[i] : -1;
    }
    memset(table, 0, size * sizeof *table);
    for (size_t j = 0; j < cap->n; j++) {
        size_t k = cap->first + j;
        pin[j] = spin[j] = (uint32_t)j;
        if ((kind[k] & FLOW_ICMP) || !c || !c->svc_multi) continue;
        uint32_t key = service_key(&info[k], kind[k]);
        size_t i = (size_t)(ns_rng_mix(key) & (size - 1));
        while (table[i]) {
            size_t first = cap->first + (table[i] & FLOW) - 1;
            if (key == service_key(&info[first], kind[first])) break;
            i = (i + 1) & (size - 1);
        }
        if (!table[i]) {
            double p[2] = {share[0], share[1]};
            for (int e = 0; e < NS_TM_SVC_PORTS && c->svc_port[e]; e++)
                if (c->svc_port[e] == info[k].sport && port_share[e][0] >= 0) p[0] = port_share[e][0], p[1] = port_share[e][1];
            table[i] = ((uint32_t)j + 1) | (ns_rng_double(&r) < p[0] ? ONE : 0) | (ns_rng_double(&rs) < p[1] ? ONE_SERVER : 0);
            continue;
        }
        if (table[i] & ONE) pin[j] = (table[i] & FLOW) - 1;
        if (table[i] & ONE_SERVER) spin[j] = (table[i] & FLOW) - 1;
    }
}

/* One capture's flows. */
static int plan_capture(const ns_tmodel *tm, const ns_tmodel_capture *cap, uint64_t ci, const flow_info *info,
                        const ns_repair_opts *ro, uint64_t seed, uint32_t *client_base, uint32_t *server_base,
                        tuples *used, phost *cl, phost *sv, const uint8_t *kind, uint32_t *scratch,
                        int64_t *starts, votes *v, ns_repair_plan *plan)
{
    uint64_t hc = net_hosts(ro->client_prefix), hs = net_hosts(ro->server_prefix);
    chain ch;
    chain_of(tm, cap->key, &ch);
    capture_starts(tm, cap, seed, ci, starts, starts + cap->n);
    ns_rng r, gr; /* gr: the groups' draws, a stream of their own so that r's stay as they were */
    ns_rng_seed(&r, seed ^ 0x74726163656d6f64ull, 2 * ci + 1);
    ns_rng_seed(&gr, seed ^ 0x67726f7570616464ull, ci);
    const ns_tmodel_class *hcl = pick(&ch, has_hosts, 0), *pcl = pick(&ch, has_ports, 0);
    uint32_t n_cl = 0, n_sv = 0, *cseq = scratch;
    uint32_t *pin = scratch + 8 * cap->n, *spin = scratch + 9 * cap->n;
    size_t pins = 16;
    while (pins < 2 * cap->n) pins *= 2;
    service_pins(pick(&ch, has_services, 0), cap, info, kind, seed, ci, pin, spin, scratch + 10 * cap->n, pins);
    client_sequence(hcl, cap->n, kind + cap->first, pin, seed, ci, cseq, scratch + 2 * cap->n);
    uint32_t *sseq = scratch + cap->n;
    server_sequence(hcl, cap->n, cseq, kind + cap->first, spin, seed, ci, sseq, scratch + 2 * cap->n);
    servers_by_ttl(cap, info, kind, spin, sseq, (int32_t *)(scratch + 2 * cap->n), scratch + 3 * cap->n,
                   (uint8_t *)(scratch + 4 * cap->n));
    for (int d = 0; d < 2; d++) {
        const ns_tmodel_class *tc = pick(&ch, has_ts, d);
        host_votes(cap, info, d ? sseq : cseq, starts, d, tc ? (double)(float)tc->ts_hz[d] : 1000.0, v); /* new_host's */
    }
    int64_t t = 0;
    for (size_t j = 0; j < cap->n; j++) {
        size_t k = cap->first + j;
        const flow_info *fi = &info[k];
        ns_repair_plan *p = &plan[k];
        memset(p, 0, sizeof *p);
        t = starts[j];
        p->start_ns = ro->start_ns + t;

        /* The client: as drawn for the whole capture (client_sequence). */
        int32_t c = (int32_t)cseq[j], s = -1;
        if (c > (int32_t)n_cl) c = (int32_t)n_cl; /* cannot happen: numbered in order of first flow */
        if (c == (int32_t)n_cl) new_host(&cl[n_cl++], *client_base + (uint32_t)c, &ch, 0, &r);
        /* The server: as drawn for the whole capture (server_sequence). */
        s = (int32_t)sseq[j];
        if (s > (int32_t)n_sv) s = (int32_t)n_sv; /* cannot happen: numbered in order of first flow */
        if (s == (int32_t)n_sv) new_host(&sv[n_sv++], *server_base + (uint32_t)s, &ch, 1, &r);

        /* The client port: the first from the range, then steps as learned. A
         * range of fixed ports only with the server port it goes with. */
        uint16_t lo = pcl ? pcl->port_lo : 32768, hi = pcl ? pcl->port_hi : 60999;
        if (pcl && pcl->port_server && fi->sport != pcl->port_server) lo = 32768, hi = 60999;
        phost *h = &cl[c];
        uint32_t span = (uint32_t)hi - lo + 1, port;
        if (!h->has_port || !pcl) {
            port = lo + (uint32_t)ns_rng_below(&r, span);
        } else {
            double w[NS_TM_PORT_STEPS + 2];
            for (int i = 0; i <= NS_TM_PORT_STEPS; i++) w[i] = pcl->port_step[i];
            w[NS_TM_PORT_STEPS + 1] = pcl->port_random;
            int step = draw(&r, w, NS_TM_PORT_STEPS + 2);
            port = step < 0 || step > NS_TM_PORT_STEPS ? lo + (uint32_t)ns_rng_below(&r, span)
                                                       : lo + ((uint32_t)h->port - lo + (uint32_t)step) % span;
        }
        if (fi->proto == NS_PROTO_ICMP) port = 0;
        /* A service whose clients use a fixed port (DHCP's 68): that port, whatever the class's range. */
        uint16_t fixed = ns_repair_client_port(fi->proto, fi->sport);
        if (fixed) port = fixed;
        /* A flow to a group address, as the class's flows to its server port go (tmodel.h, "Groups"). */
        uint32_t group = 0;
        int zero = 0;
        uint8_t group_ttl = 0;
        const ns_tmodel_class *gc = pick(&ch, has_groups, 0);
        /* An IPv6 flow goes to the group's IPv6 counterpart where it has one (mDNS's ff02::fb), as the
         * class's IPv4 flows to the port go (the dataset keeps no IPv6 address to learn from). */
        int v6 = (kind[k] & FLOW_V6) != 0;
        if (gc && fi->proto == NS_PROTO_UDP && !fi->sent[1])
            for (int i = 0; i < NS_TM_GROUPS && gc->group_addr[i]; i++) {
                if (gc->group_port[i] != fi->sport) continue;
                if (v6 && !ns_repair_group6(gc->group_addr[i], NULL)) break;
                if (ns_rng_double(&gr) * gc->group_port_flows[i] < gc->group_flows[i]) {
                    group = gc->group_addr[i], group_ttl = gc->group_ttl[i];
                    zero = !v6 && ns_rng_double(&gr) * gc->group_flows[i] < gc->group_zero[i];
                }
                break;
            }
        /* Distinct 5-tuples: the port moves on (ICMP, which has none: the server). */
        tuple key = {(uint32_t)(cl[c].num % hc), (uint32_t)(sv[s].num % hs), (uint16_t)port, fi->sport, fi->proto, 1, 0};
        /* 0.0.0.0 is every capture's (each its own pcap), not one host's */
        if (group) key.server = group, key.proto |= GROUP_TUPLE, key.client = zero ? GROUP_HOST - (uint32_t)ci : key.client;
        /* The port moves on within the range, then over every port above 1023; ICMP,
         * which has none, and a client out of ports move to the next server address.
         * A fixed port, which DPI tells the service by, tries the other server
         * addresses first (a client's second DHCP flow to the same server). */
        size_t slot = tuple_slot(used, &key), tries = 0, ports = fi->proto == NS_PROTO_ICMP ? 0 : span;
        size_t any = fi->proto == NS_PROTO_ICMP ? 0 : 64512, servers = fixed && !group ? hs : 0;
        uint32_t server0 = key.server;
        /* A group flow with its fixed port takes the 5-tuple of an earlier one that has ended: read back, they are
         * two flows, as the real ones that share it are. */
        int64_t begin = ro->start_ns + t, end = begin + fi->dur_ns + NS_FLOW_DEFAULT_IDLE_NS + 1000000000;
        while (used->t[slot].used && !(group && fixed && key.cport == fixed && used->t[slot].free_at < begin)) {
            if (zero) { /* 0.0.0.0 busy: a client with a lease broadcasts from its own address (DHCP's rebinding) */
                zero = 0, key.client = (uint32_t)(cl[c].num % hc);
                slot = tuple_slot(used, &key);
                continue;
            }
            tries++;
            if (servers) {
                if (tries < servers) {
                    key.server = (uint32_t)((key.server + 1) % hs);
                    slot = tuple_slot(used, &key);
                    continue;
                }
                /* every server taken with the fixed port: an ephemeral one, as for any flow */
                key.server = server0, key.cport = (uint16_t)(lo + (uint32_t)ns_rng_below(&r, span));
                tries = 0, servers = 0;
                slot = tuple_slot(used, &key);
                continue;
            }
            if (tries < ports) key.cport = (uint16_t)(lo + ((uint32_t)key.cport - lo + 1) % span);
            else if (tries < ports + any) key.cport = (uint16_t)(1024 + ((uint32_t)key.cport + 1 + 64512 - 1024) % 64512);
            else if (tries < ports + any + hs && !group) key.server = (uint32_t)((key.server + 1) % hs);
            else
                return ns_error(NS_ERANGE, "trace plan: no distinct 5-tuple left for flow %zu (widen --client-net "
                                           "or --server-net)", k);
            slot = tuple_slot(used, &key);
        }
        key.free_at = end;
        used->t[slot] = key;
        port = key.cport;
        if (fi->proto != NS_PROTO_ICMP && port != fixed) h->has_port = 1, h->port = (uint16_t)port;
        p->client = group ? (uint32_t)(cl[c].num % hc) : key.client, p->server = group ? (uint32_t)(sv[s].num % hs) : key.server;
        p->client_port = (uint16_t)port, p->group = group, p->client_zero = (uint8_t)zero;

        /* Each side's TTL, IP IDs and timestamp clock, as its host does them. */
        phost *side[2] = {&cl[c], &sv[s]};
        uint32_t num[2] = {(uint32_t)c, (uint32_t)s};
        for (int d = 0; d < 2; d++) {
            phost *x = side[d];
            uint32_t hn = num[d];
            if (!x->flows) { /* the host's first flow: its TTL and clocks start where most of its flows' rows put them */
                if (v->ttl[d][hn] > 0) x->ttl = (uint8_t)v->ttl[d][hn];
                if (fi->id[d] >= 0) x->ipid_next = (uint16_t)fi->id[d];
                if (v->has_ts[d][hn]) x->ts_offset = v->ts[d][hn];
            }
            uint32_t clock = (uint32_t)(uint64_t)((double)t * 1e-9 * x->ts_hz);
            p->ttl[d] = x->ttl;
            /* A client's TTL follows the flow more than the host: one device sends
             * 64 to its cloud, 255 to mDNS, 4 to SSDP, 1 to IGMP (the IoT classes'
             * UDP flows: real TTLs 64 / 255 half and half, the host's majority
             * made 98% 64). A flow whose rows say one of the class's TTLs keeps
             * it; odd ones (a bit off) take the host's. Servers keep theirs:
             * servers_by_ttl already sends a flow to the server of its TTL. */
            if (!d && fi->ttl[0] > 0 && class_ttl(pick(&ch, has_ttl, 0), 0, fi->ttl[0], 0)) p->ttl[0] = (uint8_t)fi->ttl[0];
            /* A TCP flow's TTL is one the class's TCP flows show: a device's SSDP TTL of 4 or
             * mDNS's 255 is its UDP stack's (session 8: 66 TCP packets went out with 4). The
             * rows' own first, then the host's, then the commonest. */
            const ns_tmodel_class *tt = fi->proto == NS_PROTO_TCP ? pick(&ch, has_ttl_tcp, d) : NULL;
            if (!d && group_ttl) p->ttl[0] = group_ttl; /* mDNS's 255 (RFC 6762), a device's SSDP 4 */
            if (tt && !class_ttl(tt, d, p->ttl[d], 1))
                p->ttl[d] = fi->ttl[d] > 0 && class_ttl(tt, d, fi->ttl[d], 1)   ? (uint8_t)fi->ttl[d]
                            : class_ttl(tt, d, x->ttl, 1) ? x->ttl
                                                            : tt->ttl_tcp[d][0];
            /* A random host's IDs are the rows' own: random as generated, and what they say of the class kept. */
            p->ipid[d] = x->ipid == NS_REPAIR_IPID_RANDOM ? NS_REPAIR_IPID_KEEP : x->ipid;
            /* Zero IDs are a property of the flow more than of the host: one stack
             * zeroes its DF UDP datagrams and counts its TCP segments (no real IoT
             * class has a SYN with ID 0; up to 83% of a class's UDP flows have
             * zeros). The rows tell which a flow is: all zero on this side, zeros;
             * any ID, not zeros (BENCHMARK.md "Zero IP IDs by flow (session 8)"). */
            int rows_zero = fi->ttl[d] >= 0 && fi->id[d] < 0;
            if (rows_zero) p->ipid[d] = NS_REPAIR_IPID_ZERO;
            else if (p->ipid[d] == NS_REPAIR_IPID_ZERO) p->ipid[d] = NS_REPAIR_IPID_KEEP;
            if (p->ipid[d] == NS_REPAIR_IPID_COUNTER) { /* a flow of zeros leaves the counter where it was */
                p->ipid_first[d] = x->ipid_runs_on ? x->ipid_next
                                   : fi->id[d] >= 0 ? (uint16_t)fi->id[d] : (uint16_t)ns_rng_u64(&r);
                x->ipid_next = (uint16_t)(p->ipid_first[d] + (fi->id[d] >= 0 ? fi->id_steps[d] + 1 : fi->sent[d]));
            }
            p->ts_hz[d] = x->ts_hz;
            p->ts_first[d] = x->ts_runs_on ? x->ts_offset + clock : fi->has_ts[d] ? fi->ts[d] : (uint32_t)ns_rng_u64(&r);
            x->flows++;
        }
    }
    *client_base += n_cl, *server_base += n_sv;
    return NS_OK;
}

int ns_tmodel_plan(const ns_tmodel *tm, const ns_gen_flows *g, const ns_tmodel_capture *caps, size_t n_caps,
                   const ns_repair_opts *ro, uint64_t seed, ns_repair_plan *plan)
{
    int rc = ns_repair_check_opts(ro);
    if (rc) return rc;
    size_t total = 0, most = 0;
    for (size_t i = 0; i < n_caps; i++) {
        if (caps[i].first > g->n_flows || caps[i].n > g->n_flows - caps[i].first)
            return ns_error(NS_EARG, "trace plan: capture %zu lies outside the %zu flows", i, g->n_flows);
        total += caps[i].n;
        if (caps[i].n > most) most = caps[i].n;
    }
    size_t cap = 16;
    while (cap < 2 * total + 16) cap *= 2;
    tuples used = {calloc(cap, sizeof(tuple)), cap - 1};
    flow_info *info = calloc(g->n_flows + 1, sizeof *info);
    phost *cl = malloc((most + 1) * sizeof *cl), *sv = malloc((most + 1) * sizeof *sv);
    /* plan_capture's: 8 n, then service_pins' 2 n and its table (a power of two >= 2 n: < 4 n + 16) */
    uint32_t *scratch = malloc((14 * most + 16) * sizeof *scratch);
    int64_t *starts = malloc((2 * most + 1) * sizeof *starts);
    uint8_t *kind = calloc(g->n_flows + 1, 1);
    votes v = {malloc((most + 1) * sizeof *v.pairs), malloc((most + 1) * sizeof *v.val), malloc(most + 1),
               {malloc((most + 1) * sizeof(int32_t)), malloc((most + 1) * sizeof(int32_t))},
               {malloc((most + 1) * sizeof(uint32_t)), malloc((most + 1) * sizeof(uint32_t))},
               {malloc(most + 1), malloc(most + 1)}};
    int vote_mem = v.pairs && v.val && v.has;
    for (int d = 0; d < 2; d++) vote_mem = vote_mem && v.ttl[d] && v.ts[d] && v.has_ts[d];
    if (!used.t || !info || !cl || !sv || !scratch || !kind || !starts || !vote_mem)
        rc = ns_error(NS_ENOMEM, "out of memory planning %zu flows", total);
    for (size_t i = 0; !rc && i < n_caps; i++)
        for (size_t k = caps[i].first; !rc && k < caps[i].first + caps[i].n; k++) {
            const int8_t *rows = g->rows + g->first[k] * NS_NP_MODEL_WIDTH;
            const uint8_t *dir = g->dir + g->first[k];
            /* What the streaming writer knows when it plans: the first window (ns_repair_opts.window). */
            uint32_t len = ro->window > 0 && g->len[k] > (uint32_t)ro->window ? (uint32_t)ro->window : g->len[k];
            rc = ns_repair_flow_service(rows, dir, len, &info[k].proto, &info[k].sport);
            for (uint32_t r = 0; r < len; r++) info[k].sent[dir[r] ? 1 : 0]++;
            for (uint32_t r = 1; g->iat_ns && r < g->len[k]; r++) info[k].dur_ns += g->iat_ns[g->first[k] + r];
            generated_firsts(rows, dir, len, &info[k]);
            /* IPv6 when more rows show its header than IPv4's, as repair decides. */
            size_t r4 = 0, r6 = 0;
            for (uint32_t r = 0; r < len; r++)
                r4 += ns_nprint_has(rows + (size_t)r * NS_NP_MODEL_WIDTH, NS_NPF_IPV4_VER),
                r6 += ns_nprint_has(rows + (size_t)r * NS_NP_MODEL_WIDTH, NS_NPF_IPV6_VER);
            kind[k] = (uint8_t)((r6 > r4 ? FLOW_V6 : 0) | (info[k].proto == NS_PROTO_ICMP ? FLOW_ICMP : 0));
        }
    uint32_t client_base = 0, server_base = 0;
    for (size_t i = 0; !rc && i < n_caps; i++)
        rc = plan_capture(tm, &caps[i], i, info, ro, seed, &client_base, &server_base, &used, cl, sv, kind,
                          scratch, starts, &v, plan);
    if (!rc) rc = plan_closes(tm, g, caps, n_caps, info, ro, seed, plan);
    if (!rc) rc = plan_handshakes(tm, g, caps, n_caps, info, ro, seed, plan);
    if (!rc) rc = plan_turns(tm, g, caps, n_caps, info, ro, plan);
    if (!rc) plan_methods(tm, caps, n_caps, plan);
    free(used.t), free(info), free(cl), free(sv), free(scratch), free(kind), free(starts);
    free(v.pairs), free(v.val), free(v.has);
    for (int d = 0; d < 2; d++) free(v.ttl[d]), free(v.ts[d]), free(v.has_ts[d]);
    return rc;
}

int ns_tmodel_plan_requests(const ns_tmodel *tm, const ns_modelfile *m, const ns_gen_plan *p, const ns_gen_flows *g,
                            const ns_repair_opts *ro, uint64_t seed, ns_repair_plan **plan)
{
    size_t n_caps = 0, flows = 0;
    for (size_t k = 0; k < p->n; k++) n_caps += p->req[k].n_caps ? p->req[k].n_caps : 1, flows += p->req[k].n;
    if (flows != g->n_flows)
        return ns_error(NS_EARG, "trace plan: %zu flows generated for a plan of %zu", g->n_flows, flows);
    ns_tmodel_capture *caps = calloc(n_caps + 1, sizeof *caps);
    char **keys = calloc(p->n + 1, sizeof *keys);
    *plan = calloc(g->n_flows + 1, sizeof **plan);
    int rc = caps && keys && *plan ? NS_OK : ns_error(NS_ENOMEM, "out of memory planning %zu flows", flows);
    size_t c = 0, at = 0;
    for (size_t k = 0; !rc && k < p->n; k++) {
        const ns_gen_request *q = &p->req[k];
        char key[4096];
        if ((rc = ns_tmodel_key(m, q->labels, key, sizeof key)) || !(keys[k] = strdup(key))) {
            if (!rc) rc = ns_error(NS_ENOMEM, "out of memory");
            break;
        }
        size_t sum = 0;
        for (size_t i = 0; i < (q->n_caps ? q->n_caps : 1); i++, c++) {
            caps[c] = (ns_tmodel_capture){at, q->n_caps ? q->caps[i] : q->n, keys[k],
                                          q->n_caps && q->span_ns ? q->span_ns[i] : 0};
            at += caps[c].n, sum += caps[c].n;
        }
        if (sum != q->n) rc = ns_error(NS_EARG, "trace plan: request %s has %zu flows in captures of %zu", q->name, q->n, sum);
    }
    if (!rc) rc = ns_tmodel_plan(tm, g, caps, n_caps, ro, seed, *plan);
    for (size_t k = 0; keys && k < p->n; k++) free(keys[k]);
    free(keys), free(caps);
    if (rc) free(*plan), *plan = NULL;
    return rc;
}

/* ---- closes ---------------------------------------------------------------------------------- */

static int has_close(const ns_tmodel_class *c, int s) { return (uint64_t)c->close[0] + c->close[1] + c->close[2] > 0; }
static int has_synack_win(const ns_tmodel_class *c, int s) { return c->synack_win > 0; }
static int has_methods(const ns_tmodel_class *c, int s)
{
    for (int i = 0; i < NS_REPAIR_METHODS; i++)
        if (c->method[i]) return 1;
    return 0;
}

/* Each flow's prior of HTTP methods (plan[k].methods): its class's first requests', scaled to 16 bits. */
static void plan_methods(const ns_tmodel *tm, const ns_tmodel_capture *caps, size_t n_caps, ns_repair_plan *plan)
{
    for (size_t i = 0; i < n_caps; i++) {
        chain ch;
        chain_of(tm, caps[i].key, &ch);
        const ns_tmodel_class *c = pick(&ch, has_methods, 0);
        if (!c) continue;
        uint32_t most = 0;
        for (int m = 0; m < NS_REPAIR_METHODS; m++) most = c->method[m] > most ? c->method[m] : most;
        uint16_t w[NS_REPAIR_METHODS];
        for (int m = 0; m < NS_REPAIR_METHODS; m++)
            w[m] = (uint16_t)(most <= 65535 ? c->method[m] : (uint64_t)c->method[m] * 65535 / most);
        for (size_t k = caps[i].first; k < caps[i].first + caps[i].n; k++) memcpy(plan[k].methods, w, sizeof w);
    }
}
static int has_synack_ws(const ns_tmodel_class *c, int s) { return c->synack_ws > 0; }
static int has_rst_ts(const ns_tmodel_class *c, int s) { return (uint64_t)c->rst_ts[0] + c->rst_ts[1] > 0; }
static int has_synack_ts(const ns_tmodel_class *c, int s) { return (uint64_t)c->synack_ts[0] + c->synack_ts[1] > 0; }

/* What a flow's rows show of its close (as repair reads them, roughly: rows whose TCP flags are there). */
enum { EV_FIN = 1, EV_RST = 2, EV_RST_END = 4, EV_STUCK = 8 };
enum { EV_TAIL = 3 };   /* an RST in the last rows: repair's RST_TAIL and the RST itself */

/* The TCP flags of a row whose TCP flags are all there (as repair reads
 * them), else none: FL_* bits. */
enum { FL_FIN = 1, FL_RST = 2, FL_SYN = 4, FL_ACK = 8 };
static unsigned flags_as_repair_reads(const int8_t *row)
{
    if (!ns_nprint_has(row, NS_NPF_TCP_SPRT) ||
        ns_nprint_bits_present(row, NS_NP_COL_TCP_CWR, NS_NP_BITS_TCP_FLAGS) != NS_NP_BITS_TCP_FLAGS)
        return 0;
    return (ns_nprint_get(row, NS_NPF_TCP_FIN) ? FL_FIN : 0) | (ns_nprint_get(row, NS_NPF_TCP_RST) ? FL_RST : 0) |
           (ns_nprint_get(row, NS_NPF_TCP_SYN) ? FL_SYN : 0) | (ns_nprint_get(row, NS_NPF_TCP_ACKF) ? FL_ACK : 0);
}

static unsigned close_evidence(const int8_t *rows, const uint8_t *dir, uint32_t n)
{
    unsigned ev = 0;
    uint32_t syns = 0;
    int handshake = 0, leading = 1;
    for (uint32_t i = 0; i < n; i++) {
        unsigned f = flags_as_repair_reads(rows + (size_t)i * NS_NP_MODEL_WIDTH);
        int fin = !!(f & FL_FIN), rst = !!(f & FL_RST), syn = !!(f & FL_SYN), ack = !!(f & FL_ACK);
        if (fin) ev |= EV_FIN;
        if (rst) ev |= EV_RST | (i + EV_TAIL >= n ? EV_RST_END : 0);
        handshake |= syn;
        /* The client's first SYNs (and its retransmissions): repair makes the rows after them SYN-ACK, ACK. */
        if (leading && syn && !ack && !dir[i]) syns++;
        else leading = 0;
    }
    if (handshake && (syns ? syns : 1) + 2 > n) ev |= EV_STUCK; /* repair closes no flow whose handshake never completed */
    return ev;
}

typedef struct close_cand {
    uint64_t rank;   /* evidence first, then a random draw */
    size_t k;
    unsigned ev;     /* EV_* */
    uint32_t len;    /* rows (those the plan reads) */
} close_cand;

static int by_rank(const void *x, const void *y)
{
    uint64_t a = ((const close_cand *)x)->rank, b = ((const close_cand *)y)->rank;
    return a > b ? -1 : a < b;
}

/* What a flow's SYN-ACK row says of a timestamp: 2 none in a set of its own
 * (its MSS and more: repair keeps such a set), 1 one, 0 nothing (no SYN-ACK
 * row, or a set repair fills from the SYN's). */
static int synack_evidence(const int8_t *rows, const uint8_t *dir, uint32_t n)
{
    for (uint32_t i = 0; i < n; i++) {
        const int8_t *row = rows + (size_t)i * NS_NP_MODEL_WIDTH;
        if (!dir[i] || !row_flag(row, NS_NPF_TCP_SYN) || !row_flag(row, NS_NPF_TCP_ACKF)) continue;
        uint8_t v[8];
        int ts = row_option(row, 8, 10, v), full = row_option(row, 2, 4, v) &&
                                                   (ts || row_option(row, 3, 3, v) || row_option(row, 4, 2, v));
        return full ? (ts ? 1 : 2) : 0;
    }
    return 0;
}

/* Each TCP flow's SYN-ACK timestamp (plan[k].synack_ts) in a capture: the
 * class's share of SYN-ACKs without one, given first to the flows whose
 * rows say none, then to those that say nothing, then to the rest, drawn
 * at random among equals (the rows carry the server: one cloud answers
 * without, another with). */
static void plan_synack_ts(const ns_tmodel_class *st, const ns_gen_flows *g, const ns_tmodel_capture *cap,
                           const flow_info *info, const ns_repair_opts *ro, ns_rng *r, ns_repair_plan *plan)
{
    size_t n[3] = {0, 0, 0};
    for (int pass = 0; pass < 2; pass++) {
        double want = (double)(n[0] + n[1] + n[2]) * st->synack_ts[1] / ((double)st->synack_ts[0] + st->synack_ts[1]);
        double p[3]; /* by synack_evidence, the chance of none: rows saying none first, then nothing, then one */
        p[2] = want >= n[2] ? 1 : want / (double)n[2];
        want -= (double)n[2];
        p[0] = want <= 0 ? 0 : want >= n[0] ? 1 : want / (double)n[0];
        want -= (double)n[0];
        p[1] = want <= 0 ? 0 : want >= n[1] ? 1 : want / (double)n[1];
        for (size_t k = cap->first; k < cap->first + cap->n; k++) {
            if (info[k].proto != NS_PROTO_TCP) continue;
            uint32_t len = ro->window > 0 && g->len[k] > (uint32_t)ro->window ? (uint32_t)ro->window : g->len[k];
            int ev = synack_evidence(g->rows + g->first[k] * NS_NP_MODEL_WIDTH, g->dir + g->first[k], len);
            if (!pass) n[ev]++;
            else plan[k].synack_ts = ns_rng_double(r) < p[ev] ? 2 : 1;
        }
    }
}

/* Each TCP flow's close (plan[k].close): per class, RSTs and FINs in its
 * shares (tmodel.h, "Generation"). Owed closes carry over to the class's
 * next capture, so that a class's flows close in its shares even when
 * each capture has few. Also its SYN-ACK's defaults (synack_win, _ws). */
static int plan_closes(const ns_tmodel *tm, const ns_gen_flows *g, const ns_tmodel_capture *caps, size_t n_caps,
                       const flow_info *info, const ns_repair_opts *ro, uint64_t seed, ns_repair_plan *plan)
{
    size_t most = 0;
    for (size_t i = 0; i < n_caps; i++)
        if (caps[i].n > most) most = caps[i].n;
    double *owed = calloc(3 * (size_t)tm->n_classes + 1, sizeof *owed);
    close_cand *cand = malloc((most + 1) * sizeof *cand);
    int rc = owed && cand ? NS_OK : ns_error(NS_ENOMEM, "out of memory planning closes of %zu flows", most);
    for (size_t i = 0; !rc && i < n_caps; i++) {
        chain ch;
        chain_of(tm, caps[i].key, &ch);
        const ns_tmodel_class *c = pick(&ch, has_close, 0), *sw = pick(&ch, has_synack_win, 0),
                              *ss = pick(&ch, has_synack_ws, 0), *rt = pick(&ch, has_rst_ts, 0);
        const ns_tmodel_class *st = pick(&ch, has_synack_ts, 0);
        ns_rng rr, sr;   /* streams of their own: the closes' draws stay as they were */
        ns_rng_seed(&rr, seed ^ 0x7273747473747321ull, i);
        ns_rng_seed(&sr, seed ^ 0x73796e61636b7473ull, i);
        for (size_t k = caps[i].first; k < caps[i].first + caps[i].n; k++) {
            plan[k].synack_win = sw ? sw->synack_win : 0, plan[k].synack_ws = ss ? ss->synack_ws : 0;
            if (rt) plan[k].rst_ts = ns_rng_double(&rr) * ((double)rt->rst_ts[0] + rt->rst_ts[1]) < rt->rst_ts[0] ? 1 : 2;
        }
        if (st) plan_synack_ts(st, g, &caps[i], info, ro, &sr, plan);
        if (!c) continue; /* no closes learned: the rows decide (NS_REPAIR_CLOSE_ROWS) */
        ns_rng r;
        ns_rng_seed(&r, seed ^ 0x636c6f7365737373ull, i);
        size_t n = 0, open = 0;
        for (size_t k = caps[i].first; k < caps[i].first + caps[i].n; k++) {
            const int8_t *rows = g->rows + g->first[k] * NS_NP_MODEL_WIDTH;
            const uint8_t *dir = g->dir + g->first[k];
            uint32_t len = ro->window > 0 && g->len[k] > (uint32_t)ro->window ? (uint32_t)ro->window : g->len[k];
            if (info[k].proto != NS_PROTO_TCP) continue;   /* the service ns_tmodel_plan read, as repair will */
            plan[k].close = NS_REPAIR_CLOSE_OPEN;
            cand[n] = (close_cand){0, k, close_evidence(rows, dir, len), len};
            open += !(cand[n++].ev & EV_STUCK);
        }
        if (!n) continue;
        double total = (double)c->close[0] + c->close[1] + c->close[2], *o = owed + 3 * (size_t)(c - tm->classes);
        o[0] += (double)n * c->close[NS_TM_CLOSE_RST] / total;
        o[1] += (double)n * c->close[NS_TM_CLOSE_FIN] / total;
        if (c->refused) {
            /* The refusals among the RSTs: to the flows showing the client's SYNs alone (nothing
             * else is refused), then the shortest, whose rows after the SYN go unwritten. */
            o[2] += (double)n * c->refused / total;
            size_t w = o[2] > 0 ? (size_t)llround(o[2]) : 0;
            if (w > n) w = n;
            for (size_t j = 0; j < n; j++) {
                uint64_t shorter = 0xffffffu - (cand[j].len < 0xffffffu ? cand[j].len : 0xffffffu);
                cand[j].rank = (uint64_t)(cand[j].ev & EV_STUCK ? 2 : 1) << 56 | shorter << 32 | ns_rng_u64(&r) >> 32;
            }
            qsort(cand, n, sizeof *cand, by_rank);
            for (size_t j = 0; j < w; j++) {
                plan[cand[j].k].close = NS_REPAIR_CLOSE_REFUSED;
                open -= !(cand[j].ev & EV_STUCK);
            }
            o[2] -= (double)w, o[0] -= (double)w;
        }
        /* Fewer flows that can close than closes owed (the model's unanswered SYNs outnumber the
         * class's): each goes to the kind owed most for its share, so that over the class's
         * captures the closes keep its mix of FIN and RST (one kind first starves the other). */
        size_t want[2];
        double share[2] = {(c->close[NS_TM_CLOSE_RST] - c->refused) / total, c->close[NS_TM_CLOSE_FIN] / total};
        for (int pass = 0; pass < 2; pass++) want[pass] = o[pass] > 0 ? (size_t)llround(o[pass]) : 0;
        if (want[0] + want[1] > open) {
            want[0] = want[1] = 0;
            for (size_t j = 0; j < open; j++) {
                double due[2];
                for (int p = 0; p < 2; p++) due[p] = share[p] > 0 ? (o[p] - (double)want[p]) / share[p] : -HUGE_VAL;
                want[due[1] > due[0]]++;
            }
        }
        /* RSTs first, to the flows that show one at their end, then anywhere, then to those showing no FIN. */
        for (int pass = 0; pass < 2; pass++) {
            for (size_t j = 0; j < n; j++) {
                unsigned e = cand[j].ev;
                uint64_t score = e & EV_STUCK || plan[cand[j].k].close != NS_REPAIR_CLOSE_OPEN ? 0
                                 : pass == 0 ? (e & EV_RST_END ? 4 : e & EV_RST ? 3 : e & EV_FIN ? 1 : 2)
                                             : (e & EV_FIN ? 3 : e & EV_RST ? 1 : 2);
                cand[j].rank = score << 56 | ns_rng_u64(&r) >> 8;
            }
            qsort(cand, n, sizeof *cand, by_rank);
            for (size_t j = 0; j < want[pass]; j++)
                plan[cand[j].k].close = pass == 0 ? NS_REPAIR_CLOSE_RST : NS_REPAIR_CLOSE_FIN;
            o[pass] -= (double)want[pass];
        }
        /* Each close's side and shape, drawn in the class's shares (a refusal has its own). */
        ns_rng rs;
        ns_rng_seed(&rs, seed ^ 0x736964657368617dull, i);
        const double fs = (double)c->fin_side[0] + c->fin_side[1], fa = (double)c->fin_acked[0] + c->fin_acked[1];
        const double rs0 = c->rst_side[0], rs1 = (double)c->rst_side[1] - c->refused;
        const double rf0 = c->rst_fin[0], rf1 = (double)c->rst_fin[1] - c->refused;
        for (size_t j = 0; j < n; j++) {
            ns_repair_plan *p = &plan[cand[j].k];
            double u = ns_rng_double(&rs), v = ns_rng_double(&rs);
            if (p->close == NS_REPAIR_CLOSE_FIN && fs > 0) {
                p->close_side = (uint8_t)(u * fs < c->fin_side[0] ? 1 : 2);
                if (fa > 0 && v * fa < c->fin_acked[1]) p->close_shape = NS_REPAIR_SHAPE_ACKED;
            } else if (p->close == NS_REPAIR_CLOSE_RST && rs0 + rs1 > 0) {
                p->close_side = (uint8_t)(u * (rs0 + rs1) < rs0 ? 1 : 2);
                if (rf0 + rf1 > 0 && v * (rf0 + rf1) < rf0) p->close_shape = NS_REPAIR_SHAPE_FIN_RST;
            }
        }
    }
    free(owed), free(cand);
    return rc;
}

/* ---- handshake gaps ------------------------------------------------------------------------- */

static int has_hs(const ns_tmodel_class *c, int s)
{
    for (int i = 0; i < NS_TM_HS_BINS; i++)
        if (c->hs_gap[s][i]) return 1;
    return 0;
}

/* A gap in handshake bin b, log-uniform within it: microseconds, at least 1. */
static uint32_t hs_draw(int b, ns_rng *r)
{
    double us = pow(10, (b + ns_rng_double(r)) / NS_TM_HS_PER_DECADE + 1);
    return us < 1 ? 1 : us > 4e9 ? 4000000000u : (uint32_t)llround(us);
}

/* The handshake bins of side s of class c's flows to server port `port`: its turn port entry's (*slot
 * p) with HS_PORT_MIN gaps, else the class's (*slot -1). */
static const uint16_t *hs_of_port(const ns_tmodel_class *c, int s, uint16_t port, int *slot)
{
    *slot = -1;
    for (int p = 0; p < NS_TM_TURN_PORTS && (uint64_t)c->turn_port_n[p][0] + c->turn_port_n[p][1]; p++) {
        if (c->turn_port[p] != port) continue;
        uint64_t n = 0;
        for (int i = 0; i < NS_TM_HS_BINS; i++) n += c->hs_port_gap[p][s][i];
        if (n < HS_PORT_MIN) break;
        *slot = p;
        return c->hs_port_gap[p][s];
    }
    return c->hs_gap[s];
}

/* A flow's handshake answer of side s, as plan_handshakes finds it: the row after the client's leading
 * SYNs (+ s), with its bins h and their group (class, side, port slot); 0 where it has none. */
typedef struct hs_row {
    const uint16_t *h;
    uint32_t group;
    int bin;
} hs_row;

static int hs_find(const ns_tmodel *tm, const ns_tmodel_class *const c[2], const ns_gen_flows *g,
                   const flow_info *fi, const ns_repair_opts *ro, size_t k, hs_row out[2])
{
    memset(out, 0, 2 * sizeof *out);
    if (fi->proto != NS_PROTO_TCP) return 0;
    const int8_t *rows = g->rows + g->first[k] * NS_NP_MODEL_WIDTH;
    const uint8_t *dir = g->dir + g->first[k];
    uint32_t len = ro->window > 0 && g->len[k] > (uint32_t)ro->window ? (uint32_t)ro->window : g->len[k];
    uint32_t syns;
    if (turns_from(rows, dir, len, &syns) == 1) return 0;
    int any = 0;
    for (int s = 0; s < 2; s++) {
        if (!c[s] || syns + (uint32_t)s >= len) continue;
        int slot;
        out[s].h = hs_of_port(c[s], s, fi->sport, &slot);
        out[s].group = (uint32_t)(((size_t)(c[s] - tm->classes) * 2 + (size_t)s) * (NS_TM_TURN_PORTS + 1) +
                                  (size_t)(slot + 1));
        out[s].bin = hs_bin(g->iat_ns[g->first[k] + syns + (uint32_t)s]);
        any = 1;
    }
    return any;
}

/* Each TCP flow's handshake gaps (plan[k].hs_us): the rows' SYN-ACK and ACK
 * rows, found as repair finds them (after the client's leading SYNs, in the
 * rows it plans from), keep their gap in the share the class's (its port's)
 * captures show that bin, and the rest take one where the generated flows
 * fall short of it. The model draws each row's gap from its log-time bins
 * without knowing the row is a handshake's answer, one RTT of the class's
 * servers: IoT WeMoInsightSwitch's came out under 40 ms in 17 of 31 flows,
 * where every real one takes 87-172 ms. Keeping every gap in a bin the
 * class had (session 10) kept the model's shares of the modes: the IoT
 * Edimax plugs' port 80 answers in 1.5 or 8 ms about half and half, and the
 * generated flows put 27% in the first (BENCHMARK.md, "Handshakes in the
 * class's shares (session 11)"). Over each group of the plan's flows
 * (class, side, and port where the port has bins, else the class's), the
 * gaps in bin b keep floor(n_b x min(1, target share / generated share)) of
 * theirs, every 1/keep-th in plan order; the others, in plan order, take
 * the bins of the target's excess over the generated shares at evenly
 * spaced points of its distribution, so that the group's bins come out the
 * target's to a flow (drawn at random, a class whose median lies between two
 * modes moved by a mode at seeds 2 and 3). A port's target is its bins; the
 * flows to other ports stand in for the class's flows the model gave a port
 * of no real flow (a port number a few bits off: Edimax's 10000 written as
 * 10031, 10047), so theirs is what the class's bins hold beyond what its
 * ports' groups will have, the class's where they cover it all. */
static int plan_handshakes(const ns_tmodel *tm, const ns_gen_flows *g, const ns_tmodel_capture *caps,
                           size_t n_caps, const flow_info *info, const ns_repair_opts *ro, uint64_t seed,
                           ns_repair_plan *plan)
{
    enum { SLOTS = NS_TM_TURN_PORTS + 1, B = NS_TM_HS_BINS };
    size_t n_groups = (size_t)tm->n_classes * 2 * SLOTS, cells = n_groups ? n_groups * B : 1;
    uint32_t *gen = calloc(cells, sizeof *gen), *seen = calloc(cells, sizeof *seen);
    uint32_t *redrawn = calloc(n_groups ? n_groups : 1, sizeof *redrawn);
    double *want = calloc(cells, sizeof *want), *keep = calloc(cells, sizeof *keep);
    double *excess = calloc(cells, sizeof *excess), *n_redraw = calloc(n_groups ? n_groups : 1, sizeof *n_redraw);
    const uint16_t **bins = calloc(n_groups ? n_groups : 1, sizeof *bins);
    int rc = NS_OK;
    if (!gen || !seen || !redrawn || !want || !keep || !excess || !n_redraw || !bins) {
        rc = ns_error(NS_ENOMEM, "out of memory planning the handshakes of %zu captures", n_caps);
        goto out;
    }
    for (int pass = 0; pass < 2; pass++) {
        for (size_t i = 0; i < n_caps; i++) {
            chain ch;
            chain_of(tm, caps[i].key, &ch);
            const ns_tmodel_class *c[2] = {pick(&ch, has_hs, 0), pick(&ch, has_hs, 1)};
            if (!c[0] && !c[1]) continue;
            ns_rng r; /* a stream of its own: the other draws stay as they were */
            ns_rng_seed(&r, seed ^ 0x68616e647368616bull, i);
            for (size_t k = caps[i].first; k < caps[i].first + caps[i].n; k++) {
                hs_row hr[2];
                if (!hs_find(tm, c, g, &info[k], ro, k, hr)) continue;
                for (int s = 0; s < 2; s++) {
                    if (!hr[s].h) continue;
                    size_t gi = hr[s].group, cell = gi * B + (size_t)hr[s].bin;
                    if (!pass) {
                        gen[cell]++, bins[gi] = hr[s].h;
                        continue;
                    }
                    double x = keep[cell], c0 = seen[cell]++;
                    if (floor((c0 + 1) * x) > floor(c0 * x)) continue;
                    /* The next evenly spaced point of the excess's distribution. */
                    double u = (redrawn[gi]++ + 0.5) / n_redraw[gi], cum = 0;
                    const double *w = excess + gi * B;
                    int b = B - 1;
                    for (int j = 0; j < B; j++)
                        if (w[j] > 0 && u < (cum += w[j])) {
                            b = j;
                            break;
                        }
                    while (b > 0 && !(w[b] > 0)) b--;
                    plan[k].hs_us[s] = hs_draw(b, &r);
                }
            }
        }
        if (pass) break;
        /* The targets, as shares: each port's bins; the class's excess over its ports' for the rest. */
        for (size_t cs = 0; cs < n_groups / SLOTS; cs++) {
            double n[SLOTS] = {0}, n_all = 0, rest[B], sum = 0;
            for (size_t p = 0; p < SLOTS; p++) {
                const uint32_t *q = gen + (cs * SLOTS + p) * B;
                for (int b = 0; b < B; b++) n[p] += q[b];
                n_all += n[p];
                if (!p || !n[p]) continue;
                const uint16_t *h = bins[cs * SLOTS + p];
                double real = 0, *t = want + (cs * SLOTS + p) * B;
                for (int b = 0; b < B; b++) real += h[b];
                for (int b = 0; b < B; b++) t[b] = h[b] / real;
            }
            if (n[0]) {
                const uint16_t *h = bins[cs * SLOTS];
                double real = 0, *t = want + cs * SLOTS * B;
                for (int b = 0; b < B; b++) real += h[b];
                for (int b = 0; b < B; b++) {
                    rest[b] = n_all * h[b] / real;
                    for (size_t p = 1; p < SLOTS; p++) rest[b] -= n[p] * want[(cs * SLOTS + p) * B + (size_t)b];
                    rest[b] = fmax(0, rest[b]), sum += rest[b];
                }
                for (int b = 0; b < B; b++) t[b] = sum > 0 ? rest[b] / sum : h[b] / real;
            }
            /* What each bin keeps, and the excess the others are drawn from (a distribution). */
            for (size_t p = 0; p < SLOTS; p++) {
                size_t gi = cs * SLOTS + p;
                if (!n[p]) continue;
                const uint32_t *q = gen + gi * B;
                const double *t = want + gi * B;
                double *x = keep + gi * B, *w = excess + gi * B, w_sum = 0;
                for (int b = 0; b < B; b++) {
                    x[b] = q[b] ? fmin(1, t[b] * n[p] / q[b]) : 0;
                    n_redraw[gi] += q[b] - floor(q[b] * x[b]);
                    w[b] = fmax(0, t[b] - q[b] / n[p]), w_sum += w[b];
                }
                for (int b = 0; b < B; b++) w[b] = w_sum > 0 ? w[b] / w_sum : t[b];
            }
        }
    }
out:
    free(gen), free(seen), free(redrawn), free(want), free(keep), free(excess), free(n_redraw), free(bins);
    return rc;
}

/* ---- turns ---------------------------------------------------------------------------------- */

/* The first row whose gap is a turn or a same-side gap: after the handshake
 * where the rows have one (a SYN anywhere, as repair decides: the client's
 * leading SYNs, *syns of them (at least 1), the answer and the ACK), else
 * row 1. */
static uint32_t turns_from(const int8_t *rows, const uint8_t *dir, uint32_t n, uint32_t *syns)
{
    int handshake = 0, leading = 1;
    *syns = 0;
    for (uint32_t j = 0; j < n; j++) {
        unsigned f = flags_as_repair_reads(rows + (size_t)j * NS_NP_MODEL_WIDTH);
        int syn = !!(f & FL_SYN), ack = !!(f & FL_ACK);
        handshake |= syn;
        if (leading && syn && !ack && !dir[j]) ++*syns;
        else leading = 0;
    }
    if (!*syns) *syns = 1;
    return handshake ? *syns + 2 : 1;
}

static int has_turns(const ns_tmodel_class *c, int s) { return c->turn_n[s] >= TURN_MIN; }

/* The entry of server port `port` in class c's turn ports with TURN_PORT_MIN gaps of kind s, or -1. */
static int turn_port_of(const ns_tmodel_class *c, int s, uint16_t port)
{
    for (int p = 0; p < NS_TM_TURN_PORTS && (uint64_t)c->turn_port_n[p][0] + c->turn_port_n[p][1]; p++)
        if (c->turn_port[p] == port) return c->turn_port_n[p][s] >= TURN_PORT_MIN ? p : -1;
    return -1;
}

/* Each flow's quantile maps of turn and same-side gaps (plan[k].turn_map):
 * per class (the first of the capture's chain with TURN_MIN of that kind,
 * as below), the quantiles of those gaps of its flows in every capture of
 * the plan (their first NS_TM_TURN_ROWS rows of what the planner sees, as
 * learned) onto the class's; a flow to a server port the class keeps gaps
 * of (turn_port, TURN_PORT_MIN of them) maps through that port's gaps
 * when the plan's flows of the class to that port made TURN_MIN, as an
 * IoT device's DNS, cloud and hub answer in their own times and the
 * model's mix of them is not the real one. Flows to a group go one way
 * (repair sends a later row the other way the client's way), so every gap
 * of theirs is a same-side one: an IoT camera's SSDP bursts and mDNS
 * repeats kept the rows' gaps until session 11, a third of its gaps. */
static int plan_turns(const ns_tmodel *tm, const ns_gen_flows *g, const ns_tmodel_capture *caps, size_t n_caps,
                      const flow_info *info, const ns_repair_opts *ro, ns_repair_plan *plan)
{
    enum { Q = NS_REPAIR_TURN_Q, P = NS_TM_TURN_PORTS };
    size_t rows = 0, n = 0;
    for (size_t i = 0; i < n_caps; i++) rows += caps[i].n * NS_TM_TURN_ROWS;
    int32_t *cls = malloc((2 * n_caps + 1) * sizeof *cls);
    /* (class, kind, 0 or 1 + the port's entry) << 16 | turn code, sorted: each gap counts for its class,
     * and for its port where it has one */
    uint64_t *v = malloc((2 * rows + 1) * sizeof *v);
    uint16_t *knots = calloc((size_t)tm->n_classes * 2 * (P + 1) * Q + 1, sizeof *knots);
    if (!cls || !v || !knots) {
        free(cls), free(v), free(knots);
        return ns_error(NS_ENOMEM, "out of memory planning the turns of %zu captures", n_caps);
    }
#define TURN_KEY(c, s, p) (((uint64_t)(c) * 2 + (uint64_t)(s)) * (P + 1) + (uint64_t)((p) + 1))
    for (size_t i = 0; i < n_caps; i++) {
        chain ch;
        chain_of(tm, caps[i].key, &ch);
        /* A coarser class only for a kind the capture's own shows in a quarter of its gaps or more (a
         * small class's answers: the lab's ntp classes have 4 to 8 flows); a kind it shows less is the
         * model's mistake there, and a coarser class's gaps of that kind are another class's (the lab's
         * 10 ms ping has no same-side gaps, its 200 ms ping many: requests and answers cross). Never
         * the empty key's but for a capture of that key: it pools every service. */
        const ns_tmodel_class *own = ch.n ? ch.c[0] : NULL;
        for (int s = 0; s < 2; s++) {
            const ns_tmodel_class *c = pick(&ch, has_turns, s);
            if (c && c != own && (!own || 4.0 * own->turn_n[s] < (double)own->turn_n[0] + own->turn_n[1]))
                c = NULL;
            cls[2 * i + (size_t)s] = c && (*c->key || !*caps[i].key) ? (int32_t)(c - tm->classes) : -1;
        }
        for (size_t k = caps[i].first; k < caps[i].first + caps[i].n; k++) {
            const int8_t *r = g->rows + g->first[k] * NS_NP_MODEL_WIDTH;
            const uint8_t *dir = g->dir + g->first[k];
            uint32_t len = ro->window > 0 && g->len[k] > (uint32_t)ro->window ? (uint32_t)ro->window : g->len[k], syns;
            if (len > NS_TM_TURN_ROWS) len = NS_TM_TURN_ROWS;
            for (uint32_t j = turns_from(r, dir, len, &syns); j < len; j++) {
                int s = plan[k].group || !dir[j] == !dir[j - 1]; /* repair sends a group flow's rows one way */
                int32_t c = cls[2 * i + (size_t)s];
                if (c < 0) continue;
                uint16_t code = ns_repair_turn_code(g->iat_ns[g->first[k] + j]);
                v[n++] = TURN_KEY(c, s, -1) << 16 | code;
                int p = turn_port_of(&tm->classes[c], s, info[k].sport);
                if (p >= 0) v[n++] = TURN_KEY(c, s, p) << 16 | code;
            }
        }
    }
    qsort(v, n, sizeof *v, cmp_u64);
    for (size_t a = 0, b; a < n; a = b) {
        for (b = a; b < n && v[b] >> 16 == v[a] >> 16; b++) {}
        if (b - a < TURN_MIN) continue;   /* too few to say where a gap lies among them */
        uint16_t *kn = knots + (size_t)(v[a] >> 16) * Q;
        quantiles_of(v + a, b - a, kn);
        if (!kn[Q - 1]) kn[Q - 1] = 1;   /* a map is one whose top knot is set (repair.h) */
    }
    for (size_t i = 0; i < n_caps; i++)
        for (int s = 0; s < 2; s++) {
            int32_t c = cls[2 * i + (size_t)s];
            if (c < 0) continue;
            const ns_tmodel_class *tc = &tm->classes[c];
            for (size_t k = caps[i].first; k < caps[i].first + caps[i].n; k++) {
                if (plan[k].group && !s) continue;
                int p = turn_port_of(tc, s, info[k].sport);
                const uint16_t *kn = p >= 0 ? knots + TURN_KEY(c, s, p) * Q : NULL;
                if (!kn || !kn[Q - 1]) p = -1, kn = knots + TURN_KEY(c, s, -1) * Q;
                if (!kn[Q - 1]) continue;
                memcpy(plan[k].turn_map[s][0], kn, sizeof plan[k].turn_map[s][0]);
                memcpy(plan[k].turn_map[s][1], p >= 0 ? tc->turn_port_q[p][s] : tc->turn_q[s],
                       sizeof plan[k].turn_map[s][1]);
            }
        }
#undef TURN_KEY
    free(cls), free(v), free(knots);
    return NS_OK;
}

/* ---- durations ------------------------------------------------------------------------------ */

int ns_tmodel_parse_duration(const char *text, const char *what, int64_t *ns)
{
    static const struct { const char *unit; double s; } units[] = {
        {"", 1}, {"s", 1}, {"ms", 1e-3}, {"m", 60}, {"min", 60}, {"h", 3600}, {"d", 86400}};
    /* Digits and one point, then the unit: strtod alone would take hex, exponents and "inf". */
    size_t num = strspn(text, "0123456789."), digits = strspn(text, "0123456789");
    const char *point = memchr(text, '.', num);
    char buf[64];
    if (!num || num >= sizeof buf || (point && memchr(point + 1, '.', num - (size_t)(point + 1 - text))) ||
        (num == 1 && !digits))
        return ns_error(NS_EARG, "%s: expected a duration such as 90s, 10m, 1.5h or 500ms, got '%s'", what, text);
    memcpy(buf, text, num), buf[num] = 0;
    double v = strtod(buf, NULL);
    const char *end = text + num;
    for (size_t i = 0; i < sizeof units / sizeof units[0]; i++)
        if (!strcmp(end, units[i].unit)) {
            double s = v * units[i].s;
            if (!isfinite(s) || s <= 0 || s > 30 * 86400.0)
                return ns_error(NS_EARG, "%s: '%s' is outside (0, 30 days]", what, text);
            *ns = (int64_t)llround(s * 1e9);
            if (*ns < 1000) return ns_error(NS_EARG, "%s: '%s' is shorter than a microsecond", what, text);
            return NS_OK;
        }
    return ns_error(NS_EARG, "%s: unknown unit in '%s' (expected ms, s, m, h or d)", what, text);
}
