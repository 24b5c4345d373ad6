/* tmodel.c: the trace model (see tmodel.h): learning it from a dataset, and
 * the public entry points that are neither its bytes (tmodel_file.c) nor
 * planning with it (tmodel_plan.c, tmodel_close.c, tmodel_timing.c); what
 * those files share is tmodel_int.h. */
#include "netsynth/tmodel.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "netsynth/dataset.h"
#include "netsynth/error.h"
#include "netsynth/flow.h"
#include "netsynth/modelfile.h"
#include "netsynth/nprint.h"
#include "netsynth/packet.h"
#include "netsynth/rng.h"
#include "netsynth/train.h"

#include "app.h"
#include "tmodel_int.h"

enum { ID_STEP_MAX = 256, IPID_RUN_MAX = 4096 };
#define TIMED_MIN_S 0.05   /* a flow's timestamps give its clock when they span this long */
#define PERIOD_WIDTH 1.1   /* a period's gaps lie within [g, 1.1 g] */
#define PERIOD_MIN_SHARE 0.3
#define PERIOD_MIN_GAP_S 0.001

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

int ns_tmodel_copy(ns_tmodel *dst, const ns_tmodel *src)
{
    memset(dst, 0, sizeof *dst);
    if (!(dst->classes = calloc(src->n_classes + 1, sizeof *dst->classes))) return ns_error(NS_ENOMEM, "out of memory");
    dst->n_classes = src->n_classes, dst->version = src->version;
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

/* ---- what one flow shows of its two hosts ---------------------------------------- */

typedef struct side_feat {
    uint32_t n;                 /* packets with an IPv4 ID */
    int id_kind;                /* NS_TM_IPID_*, -1 unknown (fewer than 2 packets) */
    uint16_t id_first, id_last;
    int ttl;                    /* of the first packet, -1 none */
    uint32_t ts_n, ts_first, ts_last;
    int64_t t_first, t_last;    /* capture times of the first and last TSval */
} side_feat;

/* The value of TCP option `kind` of length `len` in a row's option bytes
 * (those present, walked kind by kind): its len - 2 bytes into val. */
int tm_row_option(const int8_t *row, uint8_t kind, uint8_t len, uint8_t *val)
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

int tm_row_tsval(const int8_t *row, uint32_t *v)
{
    uint8_t ts[8];
    if (!tm_row_option(row, 8, 10, ts)) return 0;
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
        if (ns_nprint_has(row, NS_NPF_TCP_SPRT) && tm_row_tsval(row, &v)) {
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
    uint32_t *udp_port;     /* [2][65536] IPv4 UDP flows per server port, [1] those whose rows all went client to
                             * server: one array, cleared per class */
    uint32_t *svc_port;     /* [65536][4] services with two flows or more per server port, from one client, to one
                             * server, from the capture's busiest client (version 12) */
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
    uint32_t *lens;         /* [2][3][65536] packets per side, transport and IP total length: one array, cleared
                             * per class */
    uint32_t *pay;          /* [2][2][65536] TCP data segments per side, place and payload bytes (version 13): the
                             * same */
    uint32_t *ports;        /* [2][65536] flows per transport (TCP, UDP) and server port, cleared per class */
    uint32_t *wins;         /* [2][65536] TCP segments per side and window: the same */
    uint32_t *cports;       /* [65536] flows per ephemeral client port (learn_port), cleared per class */
    uint32_t chigh_lo, chigh_hi; /* the least and most of those from NS_TM_CPORT_HIGH on */
    uint64_t *flen;         /* the class's flows' whole lengths (one array, refilled per class) */
    size_t n_flen;
    uint64_t *ftail;        /* its long flows' length bin << 40 | span past the window, us (tail_us; the same) */
    size_t n_ftail;
    uint64_t *pairs;        /* its UDP exchanges: sides << 48 | server port << 32 | first row's length << 16 | second's (the same;
                             * three slots a flow: finish_pairs counts them past its flows' own) */
    size_t n_pairs;
} acc;
enum { TURN_SHIFT = 4, TURN_BINS = 65536 >> TURN_SHIFT };

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

int tm_row_flag(const int8_t *row, ns_nprint_field_id f) { return ns_nprint_has(row, f) && ns_nprint_get(row, f); }

/* A destination every host of a link hears: IPv4 multicast or the limited broadcast. */
int tm_is_group_addr(uint32_t ip) { return ip >> 28 == 14 || ip == 0xffffffffu; }

/* An IPv4 UDP flow's server port, and its group destination if it has one (ttl: its client's, -1 none). */
static void learn_group(acc *a, const ns_ds_flow *f, int ttl, int oneway)
{
    if (f->ipv6 || f->proto != NS_PROTO_UDP) return;
    a->udp_port[f->server_port]++, a->udp_port[65536 + f->server_port] += oneway != 0;
    if (!tm_is_group_addr(f->server_ip)) return;
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
int tm_hs_bin(int64_t ns)
{
    double x = (log10(ns > 10000 ? (double)ns * 1e-9 : 1e-5) + 5) * NS_TM_HS_PER_DECADE;
    int b = x >= NS_TM_HS_BINS ? NS_TM_HS_BINS - 1 : (int)x;
    return b < 0 ? 0 : b;
}

/* One more handshake gap of side s in bin b of h (a class's or a port's); the counts halve first where one
 * would pass 65535 (the shares stay). */
static void hs_count(uint16_t h[2][NS_TM_HS_BINS], int s, int b)
{
    if (h[s][b] == UINT16_MAX)
        for (int j = 0; j < 2; j++)
            for (int i = 0; i < NS_TM_HS_BINS; i++) h[j][i] /= 2;
    h[s][b]++;
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
    hs_count(a->c->hs_gap, s, tm_hs_bin(ns));
    if (push_u64(&a->hport, &a->n_hport, &a->cap_hport, (uint64_t)f->server_port << 32 | (uint64_t)s << 16 |
                                                            (uint64_t)tm_hs_bin(ns)))
        a->hport_lost = 1;
}

/* The gaps before a flow's rows after its handshake (as repair finds it: tm_turns_from), of its first
 * NS_TM_TURN_ROWS, counted by kind: a turn, or a row from the side of the row before. */
static int learn_turns(acc *a, const ns_dataset *ds, const ns_ds_flow *f)
{
    uint32_t n = f->n_packets < NS_TM_TURN_ROWS ? f->n_packets : NS_TM_TURN_ROWS, syns;
    const uint8_t *dir = ds->dir + f->first;
    for (uint32_t j = 0; j < n; j++) ns_dataset_row(ds, f->first + j, a->turn_rows + (size_t)j * NS_NP_MODEL_WIDTH);
    for (uint32_t j = tm_turns_from(a->turn_rows, dir, n, &syns); j < n; j++) {
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

int tm_cmp_u64(const void *x, const void *y)
{
    uint64_t a = *(const uint64_t *)x, b = *(const uint64_t *)y;
    return (a > b) - (a < b);
}

/* Quantiles (tmodel.h, turn_q) of the sorted turn codes v[0 .. n) (the low 16 bits), linearly between ranks. */
/* Knot i of `knots` of the sorted values v[0 .. n) (their bits in mask): the value at rank i (n - 1) / (knots - 1),
 * linearly between ranks. */
static double rank_value(const uint64_t *v, size_t n, uint64_t mask, int i, int knots)
{
    double t = (double)i * (double)(n - 1) / (knots - 1);
    size_t j = (size_t)t;
    double lo = (double)(v[j] & mask), hi = j + 1 < n ? (double)(v[j + 1] & mask) : lo;
    return lo + (t - (double)j) * (hi - lo);
}

void tm_quantiles_of(const uint64_t *v, size_t n, uint16_t *q)
{
    for (int i = 0; i < NS_REPAIR_TURN_Q; i++) q[i] = (uint16_t)lround(rank_value(v, n, 0xffff, i, NS_REPAIR_TURN_Q));
}

int tm_length_bin(uint64_t len)
{
    int b = 0;
    while (len > 2ull << b) b++;
    return b;
}

/* The class's server ports with most turn and same-side gaps, each kind's quantiles (tmodel.h, turn_port). */
static void finish_turn_ports(acc *a)
{
    ns_tmodel_class *c = a->c;
    if (a->n_tport) qsort(a->tport, a->n_tport, sizeof *a->tport, tm_cmp_u64); /* NULL when the class has none */
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
            tm_quantiles_of(a->tport + i, j - i, c->turn_port_q[k][s]);
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
        hs_count(c->hs_port_gap[p], (int)(a->hport[i] >> 16 & 1), (int)(a->hport[i] & 0xffff));
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
        int syn = tm_row_flag(row, NS_NPF_TCP_SYN), ack = tm_row_flag(row, NS_NPF_TCP_ACKF), ts = tm_row_tsval(row, &v);
        if (i == lead && !d && syn && !ack) lead++;
        else if (lead && i == lead && d && syn && ack) hs_note(a, f, 0, ds->iat_ns[f->first + i]), hs = 1;
        else if (hs && i == lead + 1 && !d && ack && !syn) hs_note(a, f, 1, ds->iat_ns[f->first + i]);
        if (rst < 0) {
            if (!i) opened = !d && syn && !ack;
            answered |= d && syn && ack;
            if (tm_row_flag(row, NS_NPF_TCP_RST)) rst = d;
            if (fin >= 0 && answer < 0 && d != fin) answer = tm_row_flag(row, NS_NPF_TCP_FIN) ? 0 : 1;
            if (fin < 0 && tm_row_flag(row, NS_NPF_TCP_FIN)) fin = d;
        }
        if (!d && syn && !ack) syn_ts = ts;
        if (d && syn && ack && !synack) synack_ts = ts;
        if (tm_row_flag(row, NS_NPF_TCP_RST) && syn_ts && synack_ts) a->c->rst_ts[ts ? 0 : 1]++;
        if (!d || !syn || !ack || synack++) continue;
        if (syn_ts) a->c->synack_ts[ts ? 0 : 1]++;
        if (ns_nprint_has(row, NS_NPF_TCP_WSIZE)) a->synack_win[ns_nprint_get(row, NS_NPF_TCP_WSIZE)]++;
        uint8_t shift;
        if (tm_row_option(row, 3, 3, &shift) && shift <= 14) a->synack_ws[shift]++;   /* window scale */
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

/* Flow f's packets by side, transport and IP total length (IPv6: 40 + payload length), as NetFlow counts its
 * bytes; its first two rows' lengths (a UDP exchange); its TCP segments by side and window. */
static void learn_lengths(acc *a, const ns_dataset *ds, uint64_t f, int8_t *row)
{
    const ns_ds_flow *fl = &ds->flows[f];
    int t = ns_repair_len_kind(fl->proto);
    uint64_t first[2] = {0, 0}, sides = 0; /* the lengths of rows 0 and 1, and their sides (tmodel.h, pair_dir) */
    for (uint32_t i = 0; i < fl->n_packets; i++) {
        uint64_t k = fl->first + i;
        ns_dataset_row(ds, k, row);
        uint64_t tl;
        if (ns_nprint_has(row, NS_NPF_IPV4_VER) && ns_nprint_has(row, NS_NPF_IPV4_TL))
            tl = ns_nprint_get(row, NS_NPF_IPV4_TL);
        else if (ns_nprint_has(row, NS_NPF_IPV6_VER) && ns_nprint_has(row, NS_NPF_IPV6_LEN))
            tl = 40 + ns_nprint_get(row, NS_NPF_IPV6_LEN);
        else
            continue;
        if (tl < 20 || tl > 65535) continue;
        int d = ds->dir[k] ? 1 : 0;
        uint32_t *h = a->lens + ((size_t)d * NS_TM_LEN_KINDS + (size_t)t) * 65536 + tl;
        a->c->len_all[d][t] += a->c->len_all[d][t] < UINT32_MAX;
        *h += *h < UINT32_MAX;
        if (i < 2) first[i] = tl, sides |= (uint64_t)d << i;
        /* a TCP segment's data size at its place (version 13), as repair reads it */
        int pay = t == 0 && i < NS_TM_PAY_ROWS ? ns_repair_row_payload(row, NULL) : -1;
        if (pay >= 0) { /* 0: a bare segment, counted in pay_all alone */
            uint32_t *p = a->pay + ((size_t)d * 2 + (i >= NS_TM_TURN_ROWS)) * 65536 + (size_t)pay;
            *p += *p < UINT32_MAX;
        }
        if (fl->proto == NS_PROTO_TCP && ns_nprint_has(row, NS_NPF_TCP_WSIZE)) {
            uint32_t *w = a->wins + (size_t)d * 65536 + ns_nprint_get(row, NS_NPF_TCP_WSIZE);
            *w += *w < UINT32_MAX;
        }
    }
    if (fl->proto == NS_PROTO_UDP && first[0] >= 28 && first[1] >= 28)
        a->pairs[a->n_pairs++] = sides << 48 | (uint64_t)fl->server_port << 32 | first[0] << 16 | first[1];
}

/* Flow f's server port per transport: TCP and UDP only (ICMP has none). */
static void learn_port(acc *a, const ns_ds_flow *fl)
{
    if (fl->proto != NS_PROTO_TCP && fl->proto != NS_PROTO_UDP) return;
    uint32_t *h = a->ports + (size_t)(fl->proto == NS_PROTO_UDP) * 65536 + fl->server_port;
    *h += *h < UINT32_MAX;
    /* Its client port where the stack chose it (version 11): not a privileged one (DHCP's 68, NTP's 123, a
     * DHCP server's 67 answering), not the service's own (mDNS's and SSDP's 5353 to 5353, 1900 to 1900) */
    uint16_t cp = fl->client_port;
    if (cp < 1024 || cp == fl->server_port || cp == ns_repair_client_port(fl->proto, fl->server_port)) return;
    if (cp < NS_TM_CPORT_HIGH) {
        h = a->cports + cp;
        *h += *h < UINT32_MAX;
        return;
    }
    a->c->cport_high += a->c->cport_high < UINT32_MAX;
    if (cp < a->chigh_lo) a->chigh_lo = cp;
    if (cp > a->chigh_hi) a->chigh_hi = cp;
}

/* The k commonest values of histogram h (65536 counts) from `from` on into val/cnt, commonest first (ties:
 * the lower value). */
static void commonest(const uint32_t *h, uint32_t from, int k, uint16_t *val, uint32_t *cnt)
{
    int n = 0;
    for (uint32_t v = from; v < 65536; v++) {
        if (!h[v] || (n == k && h[v] <= cnt[n - 1])) continue;
        int at = n < k ? n++ : k - 1;
        for (; at > 0 && cnt[at - 1] < h[v]; at--) cnt[at] = cnt[at - 1], val[at] = val[at - 1];
        cnt[at] = h[v], val[at] = (uint16_t)v;
    }
}

/* The NS_TM_PORTS commonest server ports per transport, commonest first (ties: the lower); of the client
 * ports, the NS_TM_CPORTS commonest under NS_TM_CPORT_HIGH, and how many from there on and their range. */
static void finish_server_ports(acc *a)
{
    for (int t = 0; t < 2; t++)
        commonest(a->ports + (size_t)t * 65536, 1, NS_TM_PORTS, a->c->port_val[t], a->c->port_count[t]);
    commonest(a->cports, 1024, NS_TM_CPORTS, a->c->cport_val, a->c->cport_count); /* none from HIGH on */
    if (a->c->cport_high) a->c->cport_high_lo = (uint16_t)a->chigh_lo, a->c->cport_high_hi = (uint16_t)a->chigh_hi;
}

/* The class's flows per log2 bin of whole length and the quantiles of the lengths within each bin (tmodel.h,
 * flen_q): the length head says which bin, these where in it. */
static void finish_flow_lengths(acc *a)
{
    uint64_t *v = a->flen;
    size_t n = a->n_flen;
    qsort(v, n, sizeof *v, tm_cmp_u64);
    for (size_t i = 0; i < n;) {
        if (v[i] < 2) { /* a flow of one packet lies in no bin */
            i++;
            continue;
        }
        int b = tm_length_bin(v[i]);
        size_t e = i;
        while (e < n && v[e] <= 2ull << b) e++;
        if (b < NS_TM_FLEN_BINS) {
            a->c->flen_n[b] = (uint32_t)(e - i);
            for (int q = 0; q < NS_TM_FLEN_Q; q++)
                a->c->flen_q[b][q] = (uint32_t)llround(rank_value(v + i, e - i, UINT64_MAX, q, NS_TM_FLEN_Q));
        }
        i = e;
    }
}

/* How long flow f of ds (whole packets long) ran from its NS_TM_TURN_ROWS-th packet to its last, microseconds (at most UINT32_MAX):
 * from its rows where it kept them all, else from its totals' span (a dataset cut at --packets) less its
 * first rows' gaps; -1 for a flow no longer than that or one whose span is not known. */
static int64_t tail_us(const ns_dataset *ds, uint64_t f, uint64_t whole)
{
    const ns_ds_flow *d = &ds->flows[f];
    if (whole <= NS_TM_TURN_ROWS || !ds->iat_ns || d->n_packets < NS_TM_TURN_ROWS) return -1;
    int64_t head = 0, tail = 0;
    for (uint32_t r = 1; r < d->n_packets; r++) *(r < NS_TM_TURN_ROWS ? &head : &tail) += ds->iat_ns[d->first + r];
    if (d->n_packets < whole) {
        uint32_t span = ds->totals ? ds->totals[f].span_us : 0;
        if (!span) return -1;
        tail = (int64_t)span * 1000 - head;
    }
    tail = tail > 0 ? tail / 1000 : 0;
    return tail < (int64_t)UINT32_MAX ? tail : (int64_t)UINT32_MAX;
}

/* The class's long flows per log2 bin of whole length and the quantiles of their spans past the window
 * (tmodel.h, tail_q). */
static void finish_flow_tails(acc *a)
{
    uint64_t *v = a->ftail;
    size_t n = a->n_ftail;
    qsort(v, n, sizeof *v, tm_cmp_u64);
    for (size_t i = 0, e; i < n; i = e) {
        int b = (int)(v[i] >> 40);
        for (e = i; e < n && v[e] >> 40 == v[i] >> 40; e++) {}
        if (b >= NS_TM_FLEN_BINS) continue;
        a->c->tail_n[b] = (uint32_t)(e - i);
        for (int q = 0; q < NS_TM_FLEN_Q; q++)
            a->c->tail_q[b][q] = (uint32_t)llround(rank_value(v + i, e - i, 0xffffffffu, q, NS_TM_FLEN_Q));
    }
}

static int cmp_run(const void *x, const void *y)
{
    const uint64_t *a = x, *b = y; /* {count, key}: the larger count first, then the smaller key */
    return a[0] != b[0] ? (a[0] < b[0] ? 1 : -1) : (a[1] > b[1]) - (a[1] < b[1]);
}

/* The class's NS_TM_PAIRS commonest UDP exchanges (tmodel.h, pair_len): a->pairs sorted, and its runs
 * ({count, key}) counted into the slots past them. */
static void finish_pairs(acc *a)
{
    uint64_t *v = a->pairs;
    size_t n = a->n_pairs, runs = 0;
    qsort(v, n, sizeof *v, tm_cmp_u64);
    uint64_t *run = v + n;
    for (size_t i = 0; i < n;) {
        size_t e = i;
        while (e < n && v[e] == v[i]) e++;
        run[2 * runs] = e - i, run[2 * runs + 1] = v[i], runs++;
        i = e;
    }
    qsort(run, runs, 2 * sizeof *run, cmp_run);
    for (size_t i = 0; i < runs && i < NS_TM_PAIRS; i++) {
        uint64_t key = run[2 * i + 1];
        a->c->pair_port[i] = (uint16_t)(key >> 32), a->c->pair_dir[i] = (uint8_t)(key >> 48);
        a->c->pair_len[i][0] = (uint16_t)(key >> 16), a->c->pair_len[i][1] = (uint16_t)key;
        a->c->pair_count[i] = (uint32_t)(run[2 * i] < UINT32_MAX ? run[2 * i] : UINT32_MAX);
    }
}

/* The NS_TM_LENS commonest lengths per side and transport, commonest first (ties: the shorter); the NS_TM_WINS
 * commonest TCP windows but 0 per side (the same). */
static void finish_lengths(acc *a)
{
    for (int s = 0; s < 2; s++)
        for (int t = 0; t < NS_TM_LEN_KINDS; t++)
            commonest(a->lens + ((size_t)s * NS_TM_LEN_KINDS + (size_t)t) * 65536, 20, NS_TM_LENS,
                      a->c->len_val[s][t], a->c->len_count[s][t]);
    for (int s = 0; s < 2; s++) commonest(a->wins + (size_t)s * 65536, 1, NS_TM_WINS, a->c->win_val[s], a->c->win_count[s]);
}

/* The quantiles (i + 1/2) / NS_TM_PAY_Q of the TCP data sizes per side and place (tmodel.h, pay_q): the size
 * at each one's rank, so that each is a size the class's segments had. */
static void finish_pay(acc *a)
{
    for (int s = 0; s < 2; s++)
        for (int p = 0; p < 2; p++) {
            const uint32_t *h = a->pay + ((size_t)s * 2 + (size_t)p) * 65536;
            uint64_t n = 0, below = 0;
            for (uint32_t v = 1; v < 65536; v++) n += h[v];
            a->c->pay_all[s][p] = n + h[0] > UINT32_MAX ? UINT32_MAX : (uint32_t)(n + h[0]);
            if (!n) continue;
            a->c->pay_n[s][p] = n > UINT32_MAX ? UINT32_MAX : (uint32_t)n;
            uint32_t v = 1;
            for (int q = 0; q < NS_TM_PAY_Q; q++) {
                uint64_t rank = (uint64_t)(((double)q + 0.5) * (double)n / NS_TM_PAY_Q);
                while (below + h[v] <= rank) below += h[v++];
                a->c->pay_q[s][p][q] = (uint16_t)(v > 65495 ? 65495 : v);
            }
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
        /* A home router answers DHCP and DNS from its address on the device's subnet (the corpus's
         * 10.10.10.1); a device configured with a public resolver asks that one. */
        int gw = f->server_port == 53 ? 0 : f->server_port == 67 ? 1 : -1;
        if (gw >= 0 && !f->ipv6 && f->proto == NS_PROTO_UDP && f->client_ip && !tm_is_group_addr(f->server_ip))
            c->gw_port_flows[gw]++, c->gw_flows[gw] += (f->client_ip ^ f->server_ip) >> 8 == 0;
        uint32_t key = ds_service(f);
        size_t i = (size_t)(ns_rng_mix(key) & (size - 1));
        while (t[i].used && t[i].key != key) i = (i + 1) & (size - 1);
        if (!t[i].used) t[i] = (svc){key, f->client_ip, f->server_ip, 0, f->server_port, 1, 0, 0};
        t[i].n++, t[i].multi |= t[i].client != f->client_ip, t[i].servers |= t[i].server != f->server_ip;
    }
    /* Version 12: each family's busiest client (most of the capture's flows of the class; ties: the first
     * seen), a client table over the same slots (a capture has no more clients than flows). */
    typedef struct { uint32_t ip, n, first; uint8_t used, v6; } cli;
    cli *h = calloc(size, sizeof *h);
    if (!h) return free(t), ns_error(NS_ENOMEM, "out of memory learning the trace model");
    for (size_t j = 0; j < m; j++) {
        const ns_ds_flow *f = &ds->flows[idx[j]];
        uint8_t v6 = f->ipv6 != 0;
        size_t i = (size_t)(ns_rng_mix((uint64_t)v6 << 32 | f->client_ip) & (size - 1));
        while (h[i].used && (h[i].ip != f->client_ip || h[i].v6 != v6)) i = (i + 1) & (size - 1);
        if (!h[i].used) h[i] = (cli){f->client_ip, 0, (uint32_t)j, 1, v6};
        h[i].n++;
    }
    int32_t top[2] = {-1, -1};
    for (size_t i = 0; i < size; i++) {
        int32_t *b = &top[h[i].v6];
        if (h[i].used && (*b < 0 || h[i].n > h[*b].n || (h[i].n == h[*b].n && h[i].first < h[*b].first)))
            *b = (int32_t)i;
    }
    for (size_t i = 0; i < size; i++)
        if (t[i].n >= 2) {
            int v6 = (t[i].key >> 24) & 1, main = !t[i].multi && top[v6] >= 0 && h[top[v6]].ip == t[i].client;
            c->svc_multi++, c->svc_one += !t[i].multi, c->svc_one_server += !t[i].servers, c->svc_one_main += main;
            uint32_t *sp = a->svc_port + 4 * t[i].port;
            sp[0]++, sp[1] += !t[i].multi, sp[2] += !t[i].servers, sp[3] += main;
        }
    free(t), free(h);
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
        int oneway = 1;
        for (uint32_t r = 0; ds->dir && r < f->n_packets; r++) oneway &= !ds->dir[f->first + r];
        learn_group(a, f, feat[2 * idx[j]].ttl, oneway);
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
            if (a->svc_port[4 * p] > (best ? a->svc_port[4 * best] : 0)) best = p;
        if (!best) break;
        c->svc_port[k] = (uint16_t)best, c->svc_port_multi[k] = a->svc_port[4 * best];
        c->svc_port_one[k] = a->svc_port[4 * best + 1], c->svc_port_one_server[k] = a->svc_port[4 * best + 2];
        c->svc_port_one_main[k] = a->svc_port[4 * best + 3];
        a->svc_port[4 * best] = 0;
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
    /* Version 12: the one-way flows to the ports of no entry, and those of them to the commonest group address
     * of what is left (a vendor's discovery broadcast to a port of its own each capture: EdimaxCam's 2336,
     * 51140) */
    uint32_t of = 0, addr = 0, flows = 0;
    for (uint32_t p = 0; p < 65536; p++) {
        int kept = 0;
        for (int k = 0; k < NS_TM_GROUPS && c->group_addr[k]; k++) kept |= c->group_port[k] == p;
        if (!kept) of += a->udp_port[65536 + p];
    }
    for (int i = 0; i < a->n_grp; i++) {
        uint32_t n = 0;
        for (int j = 0; j < a->n_grp; j++) n += a->grp[j].addr == a->grp[i].addr ? a->grp[j].flows : 0;
        if (n > flows || (n == flows && n && a->grp[i].addr < addr)) flows = n, addr = a->grp[i].addr;
    }
    c->group_other_port_flows = of, c->group_other_flows = flows < of ? flows : of;
    c->group_other_addr = c->group_other_flows ? addr : 0;
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
    uint32_t *udp_port = malloc(2 * 65536 * sizeof *udp_port), *grp_ttl = malloc(64 * 256 * sizeof *grp_ttl);
    uint32_t *svc_port = malloc(4 * 65536 * sizeof *svc_port);
    uint32_t *turn_hist = malloc(2 * TURN_BINS * sizeof *turn_hist);
    int8_t *turn_rows = malloc((size_t)NS_TM_TURN_ROWS * NS_NP_MODEL_WIDTH);
    uint32_t *lens = malloc(2 * NS_TM_LEN_KINDS * 65536 * sizeof *lens), *pay = malloc(4 * 65536 * sizeof *pay);
    uint32_t *ports = malloc(2 * 65536 * sizeof *ports), *cports = malloc(65536 * sizeof *cports);
    uint32_t *wins = malloc(2 * 65536 * sizeof *wins);
    uint64_t *flen = malloc((F + 1) * sizeof *flen), *pairs = malloc(3 * (F + 1) * sizeof *pairs);
    uint64_t *ftail = malloc((F + 1) * sizeof *ftail);
    cdef *defs = NULL;
    acc *accs = NULL;
    int rc = NS_OK;
    if (!order || !combo || !combo_first || !feat || !token_used || !row || !cl || !sv || !seq || !server_port ||
        !synack_win || !udp_port || !grp_ttl || !turn_hist || !turn_rows || !svc_port || !lens || !pay || !ports || !cports || !flen || !pairs ||
        !ftail || !wins) {
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
    tm->version = NS_TMODEL_VERSION;

    for (size_t i = 0; i < n_def && !rc; i++) {
        acc *a = &accs[i];
        a->c = &tm->classes[i];
        a->port_min = 65536, a->port_max = 0;
        a->server_port = server_port;
        memset(server_port, 0, 65536 * sizeof *server_port);
        a->synack_win = synack_win;
        memset(synack_win, 0, 65536 * sizeof *synack_win);
        a->udp_port = udp_port;
        memset(udp_port, 0, 2 * 65536 * sizeof *udp_port);
        a->svc_port = svc_port;
        memset(svc_port, 0, 4 * 65536 * sizeof *svc_port);
        a->grp_ttl = grp_ttl;
        memset(grp_ttl, 0, 64 * 256 * sizeof *grp_ttl);
        a->turn_hist = turn_hist, a->turn_rows = turn_rows;
        memset(turn_hist, 0, 2 * TURN_BINS * sizeof *turn_hist);
        a->lens = lens;
        memset(lens, 0, 2 * NS_TM_LEN_KINDS * 65536 * sizeof *lens);
        a->pay = pay;
        memset(pay, 0, 4 * 65536 * sizeof *pay);
        a->ports = ports;
        memset(ports, 0, 2 * 65536 * sizeof *ports);
        a->wins = wins;
        memset(wins, 0, 2 * 65536 * sizeof *wins);
        a->cports = cports, a->chigh_lo = 65536, a->chigh_hi = 0;
        memset(cports, 0, 65536 * sizeof *cports);
        a->flen = flen, a->n_flen = 0;
        a->ftail = ftail, a->n_ftail = 0;
        a->pairs = pairs, a->n_pairs = 0;
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
            if (in) {
                seq[m++] = f, learn_lengths(a, ds, f, row), learn_port(a, &ds->flows[f]);
                uint64_t whole = ns_train_whole_length(ds, f);
                int64_t tail = tail_us(ds, f, whole);
                flen[a->n_flen++] = whole;
                if (tail >= 0) ftail[a->n_ftail++] = (uint64_t)tm_length_bin(whole) << 40 | (uint64_t)tail;
            }
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
        finish_lengths(a);
        finish_pay(a);
        finish_server_ports(a);
        finish_flow_lengths(a);
        finish_flow_tails(a);
        finish_pairs(a);
        a->flen = NULL, a->pairs = NULL, a->ftail = NULL;
    }

done:
    for (size_t i = 0; accs && i < tm->n_classes; i++)
        free(accs[i].gap), free(accs[i].cont), free(accs[i].rate[0]), free(accs[i].rate[1]), free(accs[i].tport),
        free(accs[i].hport);
    free(accs), free(defs);
    free(order), free(combo), free(combo_first), free(feat), free(token_used), free(row), free(cl), free(sv), free(seq);
    free(server_port), free(synack_win), free(udp_port), free(grp_ttl), free(turn_hist), free(turn_rows), free(svc_port);
    free(lens), free(pay), free(ports), free(cports), free(flen), free(pairs), free(ftail), free(wins);
    if (rc) ns_tmodel_free(tm);
    return rc;
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
