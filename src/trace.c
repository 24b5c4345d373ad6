/* trace.c: per capture and per class measures of traces (see trace.h). */
#include "netsynth/trace.h"

#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "netsynth/capture.h"
#include "netsynth/error.h"
#include "netsynth/flow.h"
#include "netsynth/labels.h"
#include "netsynth/packet.h"

#include "html.h"

enum { TCP_FIN = 0x01, TCP_SYN = 0x02, TCP_PSH = 0x08, TCP_ACK = 0x10, TCPOPT_EOL = 0, TCPOPT_NOP = 1, TCPOPT_TS = 8 };

void ns_trace_opts_init(ns_trace_opts *o)
{
    memset(o, 0, sizeof *o);
    o->window = 16;
    o->idle_timeout_ns = NS_FLOW_DEFAULT_IDLE_NS;
}

/* ---- statistics ------------------------------------------------------------------ */

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

double ns_trace_median(const double *v, size_t n)
{
    if (!n) return NAN;
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

double ns_trace_ks(const double *a, size_t na, const double *b, size_t nb)
{
    if (!na || !nb) return NAN;
    size_t i = 0, j = 0;
    double d = 0;
    /* Step both empirical CDFs past every copy of the next value, so ties
     * between the samples do not open a gap that is not there. */
    while (i < na && j < nb) {
        double x = a[i] < b[j] ? a[i] : b[j];
        while (i < na && a[i] == x) i++;
        while (j < nb && b[j] == x) j++;
        double g = fabs((double)i / (double)na - (double)j / (double)nb);
        if (g > d) d = g;
    }
    return d;
}

/* The median of the values that are not NaN (v is reordered). */
static double median_of(double *v, size_t n)
{
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        if (!isnan(v[i])) v[k++] = v[i];
    qsort(v, k, sizeof *v, cmp_double);
    return ns_trace_median(v, k);
}

/* The median of a sample in the order met (a sorted copy); NaN when empty
 * or out of memory. */
static double sample_median(const ns_trace_sample *s)
{
    if (!s->n) return NAN;
    double *sorted = malloc(s->n * sizeof *sorted);
    if (!sorted) return NAN;
    memcpy(sorted, s->v, s->n * sizeof *sorted);
    double m = median_of(sorted, s->n);
    free(sorted);
    return m;
}

static int sample_push(ns_trace_sample *s, size_t *cap, double x)
{
    if (s->n == *cap) {
        size_t c = *cap ? *cap * 2 : 64;
        double *v = realloc(s->v, c * sizeof *v);
        if (!v) return ns_error(NS_ENOMEM, "trace: out of memory for %zu values", c);
        s->v = v, *cap = c;
    }
    s->v[s->n++] = x;
    return NS_OK;
}

/* ---- one capture ------------------------------------------------------------------- */

/* What a capture's flow needs beyond what the flow table keeps. */
typedef struct flow_state {
    int64_t last_ns;       /* its latest packet */
    int64_t syn_ns;        /* the client's latest SYN */
    uint64_t n;            /* packets so far */
    uint8_t has_syn, has_rtt, has_ts[2];
    uint32_t tsval[2];     /* per sender: the latest TSval and when it was seen */
    int64_t ts_ns[2];
} flow_state;

/* The TSval of a TCP header's timestamp option; 0 when it has none. */
static int tcp_tsval(ns_bytes tcp, uint32_t *tsval)
{
    size_t off = 20;
    uint8_t kind, len;
    while (ns_get_u8(tcp, off, &kind)) {
        if (kind == TCPOPT_EOL) return 0;
        if (kind == TCPOPT_NOP) {
            off++;
            continue;
        }
        if (!ns_get_u8(tcp, off + 1, &len) || len < 2) return 0;
        if (kind == TCPOPT_TS) return len == 10 && ns_get_be32(tcp, off + 2, tsval);
        off += len;
    }
    return 0;
}

static void check_tsval(ns_trace_capture *m, flow_state *st, int dir, uint32_t v, int64_t ts)
{
    m->ts_packets++;
    if (st->has_ts[dir]) {
        double step = (double)(int32_t)(v - st->tsval[dir]);
        double dt = ts > st->ts_ns[dir] ? (double)(ts - st->ts_ns[dir]) / 1e9 : 0;
        if (step < 0) m->ts_backwards++;
        else if (step > NS_TRACE_TS_MAX_HZ * (dt + NS_TRACE_TS_QUEUE_S) + 1 ||
                 step < NS_TRACE_TS_MIN_HZ * (dt - NS_TRACE_TS_QUEUE_S) - 1)
            m->ts_jumps++;
    }
    st->has_ts[dir] = 1;
    st->tsval[dir] = v;
    st->ts_ns[dir] = ts;
}

/* One TCP packet of a flow: flags, payload, handshake, timestamps. */
static int tcp_packet(ns_trace_capture *m, flow_state *st, const ns_packet *p, int dir, int64_t ts, size_t *rtt_cap)
{
    uint8_t flags = 0;
    if (!ns_get_u8(p->l4, 13, &flags)) return NS_OK;
    m->tcp_packets++;
    size_t headers = p->ip.len + p->l4.len;
    if ((flags & TCP_PSH) && p->ip_total_len <= headers) m->psh_empty++;
    if (dir == 0 && (flags & (TCP_SYN | TCP_ACK)) == TCP_SYN) {
        st->syn_ns = ts;
        st->has_syn = 1;
    } else if (dir == 1 && (flags & (TCP_SYN | TCP_ACK)) == (TCP_SYN | TCP_ACK) && st->has_syn && !st->has_rtt) {
        st->has_rtt = 1;
        int rc = sample_push(&m->s[NS_TRACE_RTT], rtt_cap, ts > st->syn_ns ? (double)(ts - st->syn_ns) / 1e9 : 0);
        if (rc) return rc;
    }
    uint32_t v;
    if (tcp_tsval(p->l4, &v)) check_tsval(m, st, dir, v, ts);
    return NS_OK;
}

/* 0 when the packet went from the flow's client to its server. */
static int packet_dir(const ns_packet *p, const ns_flow_tuple *t)
{
    uint32_t src = 0;
    uint16_t sport = 0;
    int v6 = t->ipv6 && ns_bytes_has(p->ip, 8, 16);   /* IPv6: the whole source address */
    if (!v6) ns_get_be32(p->ip, 12, &src);
    if (t->proto == NS_PROTO_TCP || t->proto == NS_PROTO_UDP) ns_get_be16(p->l4, 0, &sport);
    int from_client = v6 ? !memcmp(p->ip.data + 8, t->client_ip6, 16) : src == t->client_ip;
    return !(from_client && sport == t->client_port);
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return (x > y) - (x < y);
}

/* Hosts, flows per host and ports per host from the flows' tuples. */
static int hosts(ns_trace_capture *m, const ns_flow *f, size_t n)
{
    uint64_t *k = malloc((n ? n : 1) * sizeof *k);
    double *per = malloc((n ? n : 1) * sizeof *per);
    if (!k || !per) {
        free(k), free(per);
        return ns_error(NS_ENOMEM, "trace: out of memory for %zu flows", n);
    }
    for (size_t i = 0; i < n; i++) k[i] = f[i].tuple.server_ip;
    qsort(k, n, sizeof *k, cmp_u64);
    for (size_t i = 0; i < n; i++) m->server_hosts += !i || k[i] != k[i - 1];
    for (size_t i = 0; i < n; i++) k[i] = f[i].tuple.client_ip;
    qsort(k, n, sizeof *k, cmp_u64);
    size_t hosts = 0;
    for (size_t i = 0, run = 0; i < n; i++) {
        run++;
        if (i + 1 == n || k[i + 1] != k[i]) {
            per[hosts++] = (double)run;
            if (run > m->flows_per_client_max) m->flows_per_client_max = (uint32_t)run;
            run = 0;
        }
    }
    m->client_hosts = (uint32_t)hosts;
    qsort(per, hosts, sizeof *per, cmp_double);
    m->flows_per_client_median = ns_trace_median(per, hosts);
    /* ports: (address, port) of TCP and UDP clients, over their addresses */
    size_t np = 0;
    for (size_t i = 0; i < n; i++)
        if (f[i].tuple.proto == NS_PROTO_TCP || f[i].tuple.proto == NS_PROTO_UDP)
            k[np++] = (uint64_t)f[i].tuple.client_ip << 16 | f[i].tuple.client_port;
    qsort(k, np, sizeof *k, cmp_u64);
    size_t pairs = 0, addrs = 0;
    for (size_t i = 0; i < np; i++) {
        pairs += !i || k[i] != k[i - 1];
        addrs += !i || k[i] >> 16 != k[i - 1] >> 16;
    }
    m->client_ports_per_client = addrs ? (double)pairs / (double)addrs : NAN;
    free(k), free(per);
    return NS_OK;
}

/* Flow starts, durations, hosts: what the table knows once every packet is in. */
static int summarise(ns_trace_capture *m, const ns_flow_table *t, int64_t first, int64_t last)
{
    size_t n;
    const ns_flow *f = ns_flow_table_flows(t, &n);
    m->flows = n;
    m->duration_s = n ? (double)(last - first) / 1e9 : 0;
    m->flow_rate = m->duration_s > 0 ? (double)n / m->duration_s : NAN;
    double *starts = malloc((n ? n : 1) * sizeof *starts);
    ns_trace_sample *gap = &m->s[NS_TRACE_GAP], *dur = &m->s[NS_TRACE_DURATION];
    gap->v = malloc((n ? n : 1) * sizeof *gap->v);
    dur->v = malloc((n ? n : 1) * sizeof *dur->v);
    if (!starts || !gap->v || !dur->v) {
        free(starts);
        return ns_error(NS_ENOMEM, "trace: out of memory for %zu flows", n);
    }
    for (size_t i = 0; i < n; i++) {
        starts[i] = (double)(f[i].first_ns - first) / 1e9;
        dur->v[i] = (double)(f[i].last_ns - f[i].first_ns) / 1e9;
    }
    dur->n = n;
    /* flows come in the order of their first packet, but a capture's clock may step back */
    qsort(starts, n, sizeof *starts, cmp_double);
    for (size_t i = 1; i < n; i++) gap->v[gap->n++] = starts[i] - starts[i - 1];
    free(starts);
    return hosts(m, f, n);
}

void ns_trace_capture_free(ns_trace_capture *m)
{
    for (int k = 0; k < NS_TRACE_SAMPLES; k++) free(m->s[k].v);
    memset(m, 0, sizeof *m);
}

int ns_trace_measure(ns_trace_capture *m, const char *path, const ns_trace_opts *o)
{
    memset(m, 0, sizeof *m);
    ns_flow_table *t = NULL;
    ns_capture *c = NULL;
    /* The table keeps one row per flow: the rows are not needed here. */
    int rc = ns_flow_table_new(&t, 1, o->idle_timeout_ns);
    if (!rc) rc = ns_capture_open(&c, path, NULL);
    flow_state *st = NULL;
    size_t n_st = 0, cap_st = 0, cap_rtt = 0, cap_iat = 0;
    int64_t first = 0, last = 0;
    int any = 0, linktype = c ? ns_capture_linktype(c) : 0;
    ns_frame fr;
    while (!rc && (rc = ns_capture_next(c, &fr)) == 1) {
        rc = NS_OK;
        m->packets++;
        ns_packet p;
        ns_skip_reason why = ns_packet_parse(&p, linktype, fr.data, fr.caplen);
        if ((rc = ns_flow_table_add(t, &p, why, fr.ts_ns))) break;
        int64_t idx = ns_flow_table_last(t);
        if (idx < 0) continue;
        if ((size_t)idx >= n_st) { /* a new flow: the table appends them */
            if (n_st == cap_st) {
                size_t cap = cap_st ? cap_st * 2 : 256;
                flow_state *bigger = realloc(st, cap * sizeof *bigger);
                if (!bigger) {
                    rc = ns_error(NS_ENOMEM, "%s: out of memory for %zu flows", path, cap);
                    break;
                }
                st = bigger, cap_st = cap;
            }
            memset(&st[n_st++], 0, sizeof *st);
        }
        if (!any || fr.ts_ns < first) first = fr.ts_ns;
        if (!any || fr.ts_ns > last) last = fr.ts_ns;
        any = 1;
        size_t n_flows;
        const ns_flow *f = &ns_flow_table_flows(t, &n_flows)[idx];
        flow_state *s = &st[idx];
        if (s->n && (!o->window || s->n < (uint64_t)o->window))
            rc = sample_push(&m->s[NS_TRACE_IAT], &cap_iat, fr.ts_ns > s->last_ns ? (double)(fr.ts_ns - s->last_ns) / 1e9 : 0);
        if (!s->n || fr.ts_ns > s->last_ns) s->last_ns = fr.ts_ns;
        s->n++;
        if (!rc && f->tuple.proto == NS_PROTO_TCP)
            rc = tcp_packet(m, s, &p, packet_dir(&p, &f->tuple), fr.ts_ns, &cap_rtt);
    }
    if (rc > 0) rc = NS_OK;
    if (!rc) rc = summarise(m, t, first, last);
    free(st);
    if (c) ns_capture_close(c);
    ns_flow_table_free(t);
    if (rc) ns_trace_capture_free(m);
    return rc;
}

/* ---- tables of captures ------------------------------------------------------------ */

static const char *const side_names[NS_EVAL_SIDES] = {"train", "test", "synth"};

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

/* A side's rows: their resolved paths and, per level, their values. */
typedef struct rows {
    size_t n;
    char **paths;
    char ***values;   /* [level][row], NULL for an empty cell */
} rows;

static void rows_free(rows *w, size_t n_levels)
{
    for (size_t i = 0; i < w->n; i++) free(w->paths[i]);
    free(w->paths);
    for (size_t lv = 0; w->values && lv < n_levels; lv++) {
        for (size_t i = 0; w->values[lv] && i < w->n; i++) free(w->values[lv][i]);
        free(w->values[lv]);
    }
    free(w->values);
    memset(w, 0, sizeof *w);
}

static int rows_load(rows *w, const ns_trace_source *src, char **level_names, size_t n_levels)
{
    memset(w, 0, sizeof *w);
    ns_labels t = {0};
    const char *path = src->table;
    int rc = ns_labels_load(&t, path);
    if (rc) return rc;
    int col_path = ns_labels_column(&t, "path"), col_split = ns_labels_column(&t, "split");
    if (col_path < 0) rc = ns_error(NS_EFORMAT, "%s: no 'path' column", path);
    else if (src->split && col_split < 0) rc = ns_error(NS_EFORMAT, "%s: no 'split' column", path);
    int *cols = calloc(n_levels + 1, sizeof *cols);
    w->paths = calloc(t.n_rows + 1, sizeof *w->paths);
    w->values = calloc(n_levels + 1, sizeof *w->values);
    if (!rc && (!cols || !w->paths || !w->values)) rc = ns_error(NS_ENOMEM, "%s: out of memory", path);
    for (size_t lv = 0; !rc && lv < n_levels; lv++) {
        if ((cols[lv] = ns_labels_column(&t, level_names[lv])) < 0)
            rc = ns_error(NS_EFORMAT, "%s: no column '%s'", path, level_names[lv]);
        else if (!(w->values[lv] = calloc(t.n_rows + 1, sizeof **w->values)))
            rc = ns_error(NS_ENOMEM, "%s: out of memory", path);
    }
    const char *slash = strrchr(path, '/');
    int dir_len = slash ? (int)(slash - path) + 1 : 0;
    for (size_t r = 0; !rc && r < t.n_rows; r++) {
        if (src->split && strcmp(ns_labels_cell(&t, r, col_split), src->split)) continue;
        const char *p = ns_labels_cell(&t, r, col_path);
        size_t len = strlen(p) + (size_t)dir_len + 1;
        if (!(w->paths[w->n] = malloc(len))) {
            rc = ns_error(NS_ENOMEM, "%s: out of memory", path);
            break;
        }
        snprintf(w->paths[w->n], len, "%.*s%s", p[0] == '/' ? 0 : dir_len, path, p);
        for (size_t lv = 0; !rc && lv < n_levels; lv++) {
            const char *v = ns_labels_cell(&t, r, cols[lv]);
            if (*v && !(w->values[lv][w->n] = strdup(v))) rc = ns_error(NS_ENOMEM, "%s: out of memory", path);
        }
        w->n++;
    }
    free(cols);
    ns_labels_free(&t);
    if (rc) rows_free(w, n_levels);
    return rc;
}

static void class_free(ns_trace_class *c)
{
    for (int k = 0; k < NS_TRACE_SAMPLES; k++) free(c->pooled[k].v);
}

static void level_free(ns_trace_level *lv)
{
    for (int c = 0; lv->classes && c < lv->n_classes; c++) free(lv->classes[c]);
    free(lv->classes);
    for (int s = 0; s < NS_EVAL_SIDES; s++) {
        for (int c = 0; lv->side[s] && c < lv->n_classes; c++) class_free(&lv->side[s][c]);
        free(lv->side[s]);
    }
    free(lv->ks_test);
    free(lv->ks_synth);
    free(lv->name);
}

void ns_trace_report_free(ns_trace_report *r)
{
    for (size_t i = 0; i < r->n_captures; i++) {
        if (r->captures) ns_trace_capture_free(&r->captures[i]);
        if (r->paths) free(r->paths[i]);
    }
    free(r->captures);
    free(r->paths);
    free(r->capture_side);
    for (size_t lv = 0; r->levels && lv < r->n_levels; lv++) level_free(&r->levels[lv]);
    free(r->levels);
    memset(r, 0, sizeof *r);
}

/* The class of every capture at one level (-1: none); classes are the
 * values over every side, sorted. */
static int level_classes(ns_trace_level *L, char **const *values, size_t n, int *cls)
{
    if (!(L->classes = calloc(n + 1, sizeof *L->classes))) return ns_error(NS_ENOMEM, "trace: out of memory");
    for (size_t i = 0; i < n; i++) {
        if (!values[i]) continue;
        int seen = 0;
        for (int c = 0; c < L->n_classes && !seen; c++) seen = !strcmp(L->classes[c], *values[i]);
        if (!seen && !(L->classes[L->n_classes++] = strdup(*values[i]))) return ns_error(NS_ENOMEM, "trace: out of memory");
    }
    qsort(L->classes, (size_t)L->n_classes, sizeof *L->classes, cmp_str);
    for (size_t i = 0; i < n; i++) {
        char **hit = values[i] ? bsearch(values[i], L->classes, (size_t)L->n_classes, sizeof *L->classes, cmp_str) : NULL;
        cls[i] = hit ? (int)(hit - L->classes) : -1;
    }
    return NS_OK;
}

static int pool(ns_trace_sample *to, const ns_trace_sample *from)
{
    if (!from->n) return NS_OK;
    double *v = realloc(to->v, (to->n + from->n) * sizeof *v);
    if (!v) return ns_error(NS_ENOMEM, "trace: out of memory for %zu values", to->n + from->n);
    memcpy(v + to->n, from->v, from->n * sizeof *v);
    to->v = v;
    to->n += from->n;
    return NS_OK;
}

/* One class on one side from the captures whose side and class match. */
static int aggregate(ns_trace_class *k, const ns_trace_report *r, int side, const int *cls, int c)
{
    memset(k, 0, sizeof *k);
    enum { RATE, CLIENTS, SERVERS, FPC, FPC_MAX, PORTS, N_PER };
    double *per[N_PER + NS_TRACE_SAMPLES];
    int rc = NS_OK;
    for (int j = 0; j < N_PER + NS_TRACE_SAMPLES; j++)
        if (!(per[j] = malloc((r->n_captures + 1) * sizeof **per))) rc = ns_error(NS_ENOMEM, "trace: out of memory");
    for (size_t i = 0; !rc && i < r->n_captures; i++) {
        if (r->capture_side[i] != side || cls[i] != c) continue;
        const ns_trace_capture *m = &r->captures[i];
        size_t at = k->captures++;
        k->packets += m->packets, k->flows += m->flows, k->tcp_packets += m->tcp_packets;
        k->ts_packets += m->ts_packets, k->ts_backwards += m->ts_backwards, k->ts_jumps += m->ts_jumps;
        k->psh_empty += m->psh_empty;
        per[RATE][at] = m->flow_rate;
        per[CLIENTS][at] = m->flows ? m->client_hosts : NAN;
        per[SERVERS][at] = m->flows ? m->server_hosts : NAN;
        per[FPC][at] = m->flows_per_client_median;
        per[FPC_MAX][at] = m->flows ? m->flows_per_client_max : NAN;
        per[PORTS][at] = m->client_ports_per_client;
        for (int s = 0; !rc && s < NS_TRACE_SAMPLES; s++) {
            per[N_PER + s][at] = sample_median(&m->s[s]);
            rc = pool(&k->pooled[s], &m->s[s]);
        }
    }
    if (!rc) {
        double *out[N_PER] = {&k->flow_rate, &k->client_hosts, &k->server_hosts, &k->flows_per_client_median,
                              &k->flows_per_client_max, &k->client_ports_per_client};
        for (int j = 0; j < N_PER; j++) *out[j] = median_of(per[j], k->captures);
        for (int s = 0; s < NS_TRACE_SAMPLES; s++) {
            k->capture_median[s] = median_of(per[N_PER + s], k->captures);
            if (k->pooled[s].n) qsort(k->pooled[s].v, k->pooled[s].n, sizeof *k->pooled[s].v, cmp_double);
            k->pooled_median[s] = ns_trace_median(k->pooled[s].v, k->pooled[s].n);
        }
    }
    for (int j = 0; j < N_PER + NS_TRACE_SAMPLES; j++) free(per[j]);
    return rc;
}

static int levels_init(ns_trace_report *r, const char *labels, char ***names_out)
{
    size_t n = 1;
    for (const char *p = labels; *p; p++) n += *p == ',';
    char **names = calloc(n + 1, sizeof *names);
    r->levels = calloc(n, sizeof *r->levels);
    if (!names || !r->levels) {
        free(names);
        return ns_error(NS_ENOMEM, "trace: out of memory");
    }
    *names_out = names;
    for (const char *p = labels;;) {
        size_t len = strcspn(p, ",");
        if (!len) return ns_error(NS_EARG, "trace: empty name in label list '%s'", labels);
        if (!(names[r->n_levels] = strndup(p, len))) return ns_error(NS_ENOMEM, "trace: out of memory");
        r->levels[r->n_levels].name = names[r->n_levels];
        r->n_levels++;
        if (!p[len]) break;
        p += len + 1;
    }
    return NS_OK;
}

int ns_trace_run(ns_trace_report *r, const ns_trace_source src[NS_EVAL_SIDES], const char *labels,
                 const ns_trace_opts *o)
{
    memset(r, 0, sizeof *r);
    r->opts = *o;
    if (!src[NS_EVAL_TRAIN].table) return ns_error(NS_EARG, "trace: no table of real captures");
    if (!labels || !*labels) return ns_error(NS_EARG, "trace: no label column given");
    if (o->window < 0) return ns_error(NS_EARG, "trace: window must not be negative, got %d", o->window);
    double t0 = omp_get_wtime();
    char **names = NULL;
    rows w[NS_EVAL_SIDES];
    memset(w, 0, sizeof w);
    int rc = levels_init(r, labels, &names);
    for (int s = 0; !rc && s < NS_EVAL_SIDES; s++) {
        if (!src[s].table) continue;
        r->has_side[s] = 1;
        rc = rows_load(&w[s], &src[s], names, r->n_levels);
        r->n_captures += w[s].n;
    }
    free(names); /* the levels own the strings */
    int **cls = NULL;
    char ***values = NULL;
    if (!rc) {
        r->paths = calloc(r->n_captures + 1, sizeof *r->paths);
        r->capture_side = calloc(r->n_captures + 1, sizeof *r->capture_side);
        r->captures = calloc(r->n_captures + 1, sizeof *r->captures);
        cls = calloc(r->n_levels, sizeof *cls);
        values = calloc(r->n_captures + 1, sizeof *values);
        if (!r->paths || !r->capture_side || !r->captures || !cls || !values)
            rc = ns_error(NS_ENOMEM, "trace: out of memory");
    }
    /* the captures, side after side; their paths move into the report */
    for (int s = 0, at = 0; !rc && s < NS_EVAL_SIDES; s++)
        for (size_t i = 0; i < w[s].n; i++, at++) {
            r->paths[at] = w[s].paths[i];
            w[s].paths[i] = NULL;
            r->capture_side[at] = s;
        }
    if (!rc) {
        int n = (int)r->n_captures, failed = -1;
        char why[1024] = "";
#pragma omp parallel for schedule(dynamic) num_threads(o->threads > 0 ? o->threads : omp_get_max_threads())
        for (int i = 0; i < n; i++) {
            int e = ns_trace_measure(&r->captures[i], r->paths[i], o);
            if (e) {
#pragma omp critical(ns_trace_error)
                if (failed < 0 || i < failed) {
                    failed = i, rc = e;
                    snprintf(why, sizeof why, "%s", ns_errmsg());
                }
            }
        }
        if (rc) rc = ns_error(rc, "%s", why);
    }
    for (size_t lv = 0; !rc && lv < r->n_levels; lv++) {
        ns_trace_level *L = &r->levels[lv];
        for (int s = 0, at = 0; s < NS_EVAL_SIDES; s++)
            for (size_t i = 0; i < w[s].n; i++) values[at++] = w[s].values[lv][i] ? &w[s].values[lv][i] : NULL;
        if (!(cls[lv] = malloc((r->n_captures + 1) * sizeof **cls))) rc = ns_error(NS_ENOMEM, "trace: out of memory");
        if (!rc) rc = level_classes(L, values, r->n_captures, cls[lv]);
        if (!rc && (!(L->ks_test = malloc(((size_t)L->n_classes + 1) * sizeof *L->ks_test)) ||
                    !(L->ks_synth = malloc(((size_t)L->n_classes + 1) * sizeof *L->ks_synth))))
            rc = ns_error(NS_ENOMEM, "trace: out of memory");
        for (int s = 0; !rc && s < NS_EVAL_SIDES; s++) {
            if (!r->has_side[s]) continue;
            if (!(L->side[s] = calloc((size_t)L->n_classes + 1, sizeof *L->side[s]))) {
                rc = ns_error(NS_ENOMEM, "trace: out of memory");
                break;
            }
            for (int c = 0; !rc && c < L->n_classes; c++) rc = aggregate(&L->side[s][c], r, s, cls[lv], c);
        }
        for (int c = 0; !rc && c < L->n_classes; c++) {
            const ns_trace_sample *a = &L->side[NS_EVAL_TRAIN][c].pooled[NS_TRACE_IAT];
            const ns_trace_sample *t = L->side[NS_EVAL_TEST] ? &L->side[NS_EVAL_TEST][c].pooled[NS_TRACE_IAT] : NULL;
            const ns_trace_sample *y = L->side[NS_EVAL_SYNTH] ? &L->side[NS_EVAL_SYNTH][c].pooled[NS_TRACE_IAT] : NULL;
            L->ks_test[c] = t ? ns_trace_ks(a->v, a->n, t->v, t->n) : NAN;
            L->ks_synth[c] = y ? ns_trace_ks(a->v, a->n, y->v, y->n) : NAN;
        }
    }
    for (size_t lv = 0; cls && lv < r->n_levels; lv++) free(cls[lv]);
    free(cls);
    free(values);
    for (int s = 0; s < NS_EVAL_SIDES; s++) rows_free(&w[s], r->n_levels);
    r->seconds = omp_get_wtime() - t0;
    if (rc) ns_trace_report_free(r);
    return rc;
}

/* ---- output ------------------------------------------------------------------------ */

static double share(uint64_t part, uint64_t all) { return all ? (double)part / (double)all : NAN; }

static void print_num(FILE *fp, int width, int prec, double v)
{
    if (isnan(v)) fprintf(fp, " %*s", width, "-");
    else fprintf(fp, " %*.*f", width, prec, v);
}

void ns_trace_print(const ns_trace_report *r, FILE *fp)
{
    fprintf(fp, "\ntraces (%.1f s): per class, medians over captures; start gap, RTT, inter-arrival (first %d packets"
                " of a flow) and flow duration pooled; KS of the inter-arrival times against real train\n",
            r->seconds, r->opts.window);
    for (size_t lv = 0; lv < r->n_levels; lv++) {
        const ns_trace_level *L = &r->levels[lv];
        int w = (int)strlen(L->name); /* the whole class name: some differ only at the end */
        for (int c = 0; c < L->n_classes; c++)
            if ((int)strlen(L->classes[c]) > w) w = (int)strlen(L->classes[c]);
        if (w < 14) w = 14;
        fprintf(fp, "  %-*s %-5s %5s %7s %8s %8s %7s %7s %7s %5s %7s %8s %8s %8s %7s %7s %6s\n", w, L->name, "side",
                "capt", "flows", "flows/s", "gap s", "clients", "servers", "fl/cli", "max", "ports", "RTT ms",
                "IAT ms", "dur s", "TS bad", "PSH0", "KS");
        for (int c = 0; c < L->n_classes; c++)
            for (int s = 0; s < NS_EVAL_SIDES; s++) {
                const ns_trace_class *k = L->side[s] ? &L->side[s][c] : NULL;
                if (!k || !k->captures) continue;
                fprintf(fp, "  %-*s %-5s %5zu %7llu", w, s == NS_EVAL_TRAIN || !L->side[NS_EVAL_TRAIN][c].captures ? L->classes[c] : "",
                        side_names[s], k->captures, (unsigned long long)k->flows);
                print_num(fp, 8, 2, k->flow_rate);
                print_num(fp, 8, 3, k->pooled_median[NS_TRACE_GAP]);
                print_num(fp, 7, 1, k->client_hosts);
                print_num(fp, 7, 1, k->server_hosts);
                print_num(fp, 7, 1, k->flows_per_client_median);
                print_num(fp, 5, 1, k->flows_per_client_max);
                print_num(fp, 7, 2, k->client_ports_per_client);
                print_num(fp, 8, 1, k->pooled_median[NS_TRACE_RTT] * 1e3);
                print_num(fp, 8, 3, k->pooled_median[NS_TRACE_IAT] * 1e3);
                print_num(fp, 8, 2, k->pooled_median[NS_TRACE_DURATION]);
                print_num(fp, 7, 4, share(k->ts_backwards + k->ts_jumps, k->ts_packets));
                print_num(fp, 7, 4, share(k->psh_empty, k->tcp_packets));
                print_num(fp, 6, 3, s == NS_EVAL_TEST ? L->ks_test[c] : s == NS_EVAL_SYNTH ? L->ks_synth[c] : NAN);
                fputc('\n', fp);
            }
    }
}

static void json_num(FILE *fp, double v)
{
    if (isnan(v) || isinf(v)) fputs("null", fp);
    else fprintf(fp, "%.6g", v);
}

static const char *const sample_names[NS_TRACE_SAMPLES] = {"start_gap_s", "rtt_s", "iat_s", "flow_duration_s"};

static void json_class(FILE *fp, const ns_trace_class *k)
{
    fprintf(fp, "{\"captures\": %zu, \"packets\": %llu, \"flows\": %llu, \"flow_starts_per_s\": ", k->captures,
            (unsigned long long)k->packets, (unsigned long long)k->flows);
    json_num(fp, k->flow_rate);
    fputs(", \"client_hosts\": ", fp), json_num(fp, k->client_hosts);
    fputs(", \"server_hosts\": ", fp), json_num(fp, k->server_hosts);
    fputs(", \"flows_per_client_median\": ", fp), json_num(fp, k->flows_per_client_median);
    fputs(", \"flows_per_client_max\": ", fp), json_num(fp, k->flows_per_client_max);
    fputs(", \"client_ports_per_client\": ", fp), json_num(fp, k->client_ports_per_client);
    fprintf(fp, ",\n           \"tcp_packets\": %llu, \"ts_packets\": %llu, \"ts_backwards\": %llu, \"ts_jumps\": %llu,"
                " \"ts_bad_share\": ",
            (unsigned long long)k->tcp_packets, (unsigned long long)k->ts_packets,
            (unsigned long long)k->ts_backwards, (unsigned long long)k->ts_jumps);
    json_num(fp, share(k->ts_backwards + k->ts_jumps, k->ts_packets));
    fprintf(fp, ", \"psh_empty\": %llu, \"psh_empty_share\": ", (unsigned long long)k->psh_empty);
    json_num(fp, share(k->psh_empty, k->tcp_packets));
    for (int s = 0; s < NS_TRACE_SAMPLES; s++) {
        fprintf(fp, ",\n           \"%s\": {\"n\": %zu, \"median\": ", sample_names[s], k->pooled[s].n);
        json_num(fp, k->pooled_median[s]);
        fputs(", \"capture_median\": ", fp), json_num(fp, k->capture_median[s]);
        /* deciles of the pooled sample, for plots */
        fputs(", \"deciles\": [", fp);
        for (int d = 1; d <= 9; d++) {
            if (d > 1) fputs(", ", fp);
            json_num(fp, k->pooled[s].n ? k->pooled[s].v[(size_t)((double)d / 10 * (double)(k->pooled[s].n - 1) + 0.5)] : NAN);
        }
        fputs("]}", fp);
    }
    fputc('}', fp);
}

void ns_trace_json_member(const ns_trace_report *r, const char *note, FILE *fp)
{
    fputs("  \"trace\": {", fp);
    if (!r) {
        fputs("\"note\": ", fp);
        ns_json_string(fp, note ? note : "");
        fputc('}', fp);
        return;
    }
    fprintf(fp, "\"window\": %d, \"idle_timeout_s\": %.3f, \"ts_max_hz\": %g, \"ts_min_hz\": %g, \"ts_queue_s\": %g,"
                " \"seconds\": %.3f,\n   \"levels\": [",
            r->opts.window, (double)r->opts.idle_timeout_ns / 1e9, NS_TRACE_TS_MAX_HZ, NS_TRACE_TS_MIN_HZ,
            NS_TRACE_TS_QUEUE_S, r->seconds);
    for (size_t lv = 0; lv < r->n_levels; lv++) {
        const ns_trace_level *L = &r->levels[lv];
        fprintf(fp, "%s\n    {\"label\": ", lv ? "," : "");
        ns_json_string(fp, L->name);
        fputs(", \"classes\": [", fp);
        for (int c = 0; c < L->n_classes; c++) {
            fprintf(fp, "%s\n      {\"class\": ", c ? "," : "");
            ns_json_string(fp, L->classes[c]);
            fputs(", \"ks_iat_test\": ", fp), json_num(fp, L->ks_test[c]);
            fputs(", \"ks_iat_synth\": ", fp), json_num(fp, L->ks_synth[c]);
            for (int s = 0; s < NS_EVAL_SIDES; s++) {
                if (!L->side[s]) continue;
                fprintf(fp, ",\n       \"%s\": ", side_names[s]);
                json_class(fp, &L->side[s][c]);
            }
            fputc('}', fp);
        }
        fputs("]}", fp);
    }
    fputs("],\n   \"captures\": [", fp);
    for (size_t i = 0; i < r->n_captures; i++) {
        const ns_trace_capture *m = &r->captures[i];
        fprintf(fp, "%s\n    {\"path\": ", i ? "," : "");
        ns_json_string(fp, r->paths[i]);
        fprintf(fp, ", \"side\": \"%s\", \"packets\": %llu, \"flows\": %llu, \"duration_s\": ", side_names[r->capture_side[i]],
                (unsigned long long)m->packets, (unsigned long long)m->flows);
        json_num(fp, m->duration_s);
        fputs(", \"flow_starts_per_s\": ", fp), json_num(fp, m->flow_rate);
        fprintf(fp, ", \"client_hosts\": %u, \"server_hosts\": %u, \"flows_per_client_median\": ", m->client_hosts,
                m->server_hosts);
        json_num(fp, m->flows_per_client_median);
        fprintf(fp, ", \"flows_per_client_max\": %u, \"client_ports_per_client\": ", m->flows_per_client_max);
        json_num(fp, m->client_ports_per_client);
        fprintf(fp, ", \"tcp_packets\": %llu, \"ts_packets\": %llu, \"ts_backwards\": %llu, \"ts_jumps\": %llu,"
                    " \"psh_empty\": %llu",
                (unsigned long long)m->tcp_packets, (unsigned long long)m->ts_packets,
                (unsigned long long)m->ts_backwards, (unsigned long long)m->ts_jumps,
                (unsigned long long)m->psh_empty);
        for (int s = 0; s < NS_TRACE_SAMPLES; s++) {
            fprintf(fp, ", \"%s_median\": ", sample_names[s]);
            json_num(fp, sample_median(&m->s[s]));
        }
        fputc('}', fp);
    }
    fputs("]}", fp);
}

static void html_num(FILE *fp, int prec, double v)
{
    if (isnan(v)) fputs("<td>-</td>", fp);
    else fprintf(fp, "<td>%.*f</td>", prec, v);
}

void ns_trace_html(const ns_trace_report *r, const char *note, FILE *fp)
{
    fputs("<h2>Traces</h2>", fp);
    if (!r) {
        fputs("<p>", fp);
        ns_html_text(fp, note ? note : "");
        fputs("</p>\n", fp);
        return;
    }
    fprintf(fp, "<p>Per class and side: captures, flows; per capture numbers as the median over the class's captures "
                "(flow starts per second, client and server hosts, flows per client host (median, max), client ports "
                "per client host); pooled over the class's captures, the medians of the gaps between flow starts, the "
                "TCP handshake RTT (SYN to SYN/ACK), the inter-arrival times within flows (first %d packets) and the "
                "flow durations; the share of TCP timestamps that go backwards or jump (a clock outside 1 Hz..10 kHz) "
                "and of TCP packets with PSH and no payload; the KS distance of the inter-arrival times against the "
                "real training captures' (on the test row: real train vs real test, the floor).</p>\n",
            r->opts.window);
    for (size_t lv = 0; lv < r->n_levels; lv++) {
        const ns_trace_level *L = &r->levels[lv];
        fputs("<div class=wide><table><tr><th class=l>", fp);
        ns_html_text(fp, L->name);
        fputs("</th><th class=l>side</th><th>captures</th><th>flows</th><th>flow starts/s</th><th>start gap s</th>"
              "<th>client hosts</th><th>server hosts</th><th>flows/client</th><th>max</th><th>ports/client</th>"
              "<th>RTT ms</th><th>IAT ms</th><th>flow duration s</th><th>TSval bad</th><th>PSH no data</th>"
              "<th>KS IAT</th></tr>\n",
              fp);
        for (int c = 0; c < L->n_classes; c++)
            for (int s = 0; s < NS_EVAL_SIDES; s++) {
                const ns_trace_class *k = L->side[s] ? &L->side[s][c] : NULL;
                if (!k || !k->captures) continue;
                fputs("<tr><td class=l>", fp);
                ns_html_text(fp, L->classes[c]);
                fprintf(fp, "</td><td class=l>%s</td><td>%zu</td><td>%llu</td>", side_names[s], k->captures,
                        (unsigned long long)k->flows);
                html_num(fp, 2, k->flow_rate);
                html_num(fp, 3, k->pooled_median[NS_TRACE_GAP]);
                html_num(fp, 1, k->client_hosts);
                html_num(fp, 1, k->server_hosts);
                html_num(fp, 1, k->flows_per_client_median);
                html_num(fp, 1, k->flows_per_client_max);
                html_num(fp, 2, k->client_ports_per_client);
                html_num(fp, 1, k->pooled_median[NS_TRACE_RTT] * 1e3);
                html_num(fp, 3, k->pooled_median[NS_TRACE_IAT] * 1e3);
                html_num(fp, 2, k->pooled_median[NS_TRACE_DURATION]);
                html_num(fp, 4, share(k->ts_backwards + k->ts_jumps, k->ts_packets));
                html_num(fp, 4, share(k->psh_empty, k->tcp_packets));
                html_num(fp, 3, s == NS_EVAL_TEST ? L->ks_test[c] : s == NS_EVAL_SYNTH ? L->ks_synth[c] : NAN);
                fputs("</tr>\n", fp);
            }
        fputs("</table></div>\n", fp);
    }
}
