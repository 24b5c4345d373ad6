/* distance.c: per-field distribution distances, nearest-neighbour memorisation. */
#include "netsynth/distance.h"

#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "netsynth/error.h"
#include "netsynth/features.h"
#include "netsynth/nprint.h"

#define SKIP UINT64_MAX            /* no value in this row (iat of a first packet, ...) */
#define ABSENT (UINT64_MAX - 1)    /* the field is not in the packet */

/* ---- the measures ------------------------------------------------------------ */

typedef struct acc {
    double jsd, tv, bc, emd;
} acc;

static void acc_term(acc *a, double p, double q)
{
    double m = 0.5 * (p + q);
    if (p > 0) a->jsd += 0.5 * p * log2(p / m);
    if (q > 0) a->jsd += 0.5 * q * log2(q / m);
    a->tv += 0.5 * fabs(p - q);
    a->bc += sqrt(p * q);
}

static ns_dist_value acc_value(const acc *a, int numeric)
{
    ns_dist_value v;
    v.jsd = a->jsd < 0 ? 0 : a->jsd > 1 ? 1 : a->jsd;
    v.tv = a->tv > 1 ? 1 : a->tv;
    v.hellinger = a->bc >= 1 ? 0 : sqrt(1 - a->bc);
    v.emd = numeric ? a->emd : NAN;
    return v;
}

static const ns_dist_value undefined = {NAN, NAN, NAN, NAN};

ns_dist_value ns_dist_measures(const double *p, const double *q, const double *x, size_t k)
{
    double sp = 0, sq = 0;
    for (size_t i = 0; i < k; i++) sp += p[i], sq += q[i];
    if (sp <= 0 || sq <= 0) return undefined;
    acc a = {0};
    double fp = 0, fq = 0;
    for (size_t i = 0; i < k; i++) {
        acc_term(&a, p[i] / sp, q[i] / sq);
        fp += p[i] / sp, fq += q[i] / sq;
        if (x && i + 1 < k) a.emd += fabs(fp - fq) * (x[i + 1] - x[i]);
    }
    return acc_value(&a, x != NULL);
}

/* ---- what is compared ---------------------------------------------------------- */

enum { K_FIELD, K_IAT, K_FLOWLEN };

typedef struct feature {
    const char *name, *unit; /* unit NULL: categorical */
    int kind, col, width, random;
    double scale;            /* numeric value of a key */
} feature;

static const struct {
    ns_nprint_field_id field;
    const char *unit;
} numeric_fields[] = {
    {NS_NPF_IPV4_HL, "words"}, {NS_NPF_IPV4_TL, "bytes"}, {NS_NPF_IPV4_TTL, "hops"},
    {NS_NPF_IPV6_LEN, "bytes"}, {NS_NPF_IPV6_HL, "hops"}, {NS_NPF_TCP_DOFF, "words"}, {NS_NPF_TCP_WSIZE, "bytes"}, {NS_NPF_UDP_LEN, "bytes"},
};

/* Fields whose value is drawn afresh per flow (or per packet) by the sender's
 * stack or carries such values (TCP options: timestamps), so that two real
 * captures differ in them as much as real and synthetic do. */
static const ns_nprint_field_id random_fields[] = {
    NS_NPF_IPV4_ID, NS_NPF_IPV4_CKSUM, NS_NPF_IPV6_FL,   NS_NPF_TCP_SEQ,   NS_NPF_TCP_ACKN,   NS_NPF_TCP_CKSUM,
    NS_NPF_TCP_OPT, NS_NPF_UDP_CKSUM,  NS_NPF_ICMP_CKSUM, NS_NPF_ICMP_ROH,
};

/* The model layers' fields, then iat and flow length; *n set. */
static feature *features_list(size_t *n)
{
    size_t nf;
    const ns_nprint_field *f = ns_nprint_fields(&nf);
    feature *ft = calloc(nf + 2, sizeof *ft);
    if (!ft) return NULL;
    *n = 0;
    for (size_t i = 0; i < nf; i++) {
        int col = ns_nprint_field_col(NS_NP_MODEL_LAYERS, (ns_nprint_field_id)i);
        if (col < 0) continue;
        feature *x = &ft[(*n)++];
        x->name = f[i].name;
        x->kind = K_FIELD;
        x->col = col;
        x->width = f[i].width;
        x->scale = 1;
        for (size_t k = 0; k < sizeof numeric_fields / sizeof numeric_fields[0]; k++)
            if (numeric_fields[k].field == i) x->unit = numeric_fields[k].unit;
        for (size_t k = 0; k < sizeof random_fields / sizeof random_fields[0]; k++)
            x->random |= random_fields[k] == i;
    }
    ft[(*n)++] = (feature){.name = "iat", .unit = "octaves", .kind = K_IAT, .scale = 0.25};
    ft[(*n)++] = (feature){.name = "flow_packets", .unit = "packets", .kind = K_FLOWLEN, .scale = 1};
    return ft;
}

/* A field's bits as an integer, ABSENT when a bit is -1; wide fields hashed
 * (FNV-1a over the values, top bit set), absent only when every bit is. */
static uint64_t field_key(const int8_t *row, int col, int width)
{
    if (width <= 32) return ns_nprint_bits_present(row, col, width) < width ? ABSENT : ns_nprint_bits_get(row, col, width);
    uint64_t h = 1469598103934665603ull;
    int any = 0;
    for (int b = 0; b < width; b++) {
        any |= row[col + b] >= 0;
        h = (h ^ (uint8_t)(row[col + b] + 1)) * 1099511628211ull;
    }
    if (!any) return ABSENT;
    h |= 1ull << 63;
    return h >= ABSENT ? ABSENT - 1 : h;
}

/* Quarter-octave bin of an inter-arrival time: 0 under 1 us. */
static uint64_t iat_key(int64_t ns)
{
    double us = (double)ns / 1000.0;
    return us < 1 ? 0 : 1 + (uint64_t)floor(4 * log2(us));
}

/* ---- collecting the values of one side --------------------------------------------- */

typedef struct side_rows {
    size_t n;            /* rows */
    uint64_t *keys;      /* [n_features * n] */
    int32_t *cls;        /* [n] */
} side_rows;

static int collect(side_rows *s, const ns_dist_flows *fl, const feature *ft, size_t nft, int packets, int threads)
{
    const ns_dataset *ds = fl->ds;
    if (ds->width != NS_NP_MODEL_WIDTH)
        return ns_error(NS_EARG, "%s: rows of %u values, not the model's %d", fl->name, ds->width, NS_NP_MODEL_WIDTH);
    size_t *first = malloc((fl->n + 1) * sizeof *first);
    if (!first) return ns_error(NS_ENOMEM, "%s: out of memory", fl->name);
    first[0] = 0;
    for (size_t i = 0; i < fl->n; i++) {
        uint64_t f = fl->idx ? fl->idx[i] : i;
        if (f >= ds->n_flows) {
            free(first);
            return ns_error(NS_EARG, "%s: no flow %llu", fl->name, (unsigned long long)f);
        }
        uint32_t np = ds->flows[f].n_packets;
        first[i + 1] = first[i] + (np < (uint32_t)packets ? np : (uint32_t)packets);
    }
    s->n = first[fl->n];
    s->keys = malloc((nft * s->n + 1) * sizeof *s->keys);
    s->cls = malloc((s->n + 1) * sizeof *s->cls);
    if (!s->keys || !s->cls) {
        free(first);
        return ns_error(NS_ENOMEM, "%s: out of memory for %zu rows", fl->name, s->n);
    }
    #pragma omp parallel num_threads(threads)
    {
        int8_t row[NS_NP_MODEL_WIDTH];
        #pragma omp for schedule(static)
        for (size_t i = 0; i < fl->n; i++) {
            const ns_ds_flow *f = &ds->flows[fl->idx ? fl->idx[i] : i];
            for (size_t r = first[i]; r < first[i + 1]; r++) {
                uint64_t k = f->first + (r - first[i]);
                ns_dataset_row(ds, k, row);
                s->cls[r] = fl->cls ? fl->cls[i] : -1;
                for (size_t j = 0; j < nft; j++) {
                    uint64_t key = SKIP;
                    if (ft[j].kind == K_FIELD) key = field_key(row, ft[j].col, ft[j].width);
                    else if (ft[j].kind == K_IAT && r > first[i]) key = iat_key(ds->iat_ns[k]);
                    else if (ft[j].kind == K_FLOWLEN && r == first[i]) key = f->n_packets;
                    s->keys[j * s->n + r] = key;
                }
            }
        }
    }
    free(first);
    return NS_OK;
}

/* ---- comparing one feature ----------------------------------------------------------- */

typedef struct entry {
    uint64_t key;
    int32_t slot;   /* class, or -1 */
    int32_t side;   /* 0 real, 1 synth */
} entry;

static int cmp_entry(const void *a, const void *b)
{
    uint64_t x = ((const entry *)a)->key, y = ((const entry *)b)->key;
    return x < y ? -1 : x > y;
}

typedef struct bar {
    uint64_t key;
    double r, s;
} bar;

static int cmp_bar_weight(const void *a, const void *b)
{
    const bar *x = a, *y = b;
    double wx = x->r + x->s, wy = y->r + y->s;
    return wx > wy ? -1 : wx < wy ? 1 : (x->key > y->key) - (x->key < y->key);
}

static int cmp_bar_key(const void *a, const void *b)
{
    const bar *x = a, *y = b;
    return (x->key > y->key) - (x->key < y->key);
}

static void hist_add(ns_dist_hist *h, const char *label, double r, double s)
{
    snprintf(h->label[h->n], sizeof h->label[0], "%s", label);
    h->real[h->n] = r;
    h->synth[h->n++] = s;
}

/* Display bars from the distinct keys (shares): numeric fields in equal-width
 * bins, categorical ones as the most common values and "other"; "absent" last. */
static void make_hist(ns_dist_hist *h, bar *b, size_t n, const feature *ft)
{
    memset(h, 0, sizeof *h);
    double ar = 0, as = 0;
    if (n && b[n - 1].key == ABSENT) ar = b[n - 1].r, as = b[n - 1].s, n--;
    int room = NS_DIST_BARS - 1;
    char label[32];
    if (ft->unit && n) {
        uint64_t lo = b[0].key, hi = b[n - 1].key, span = hi - lo + 1;
        uint64_t w = (span + (uint64_t)room - 1) / (uint64_t)room;
        for (size_t i = 0; i < n;) {
            uint64_t start = lo + (b[i].key - lo) / w * w;
            double r = 0, s = 0;
            for (; i < n && b[i].key < start + w; i++) r += b[i].r, s += b[i].s;
            if (w == 1) snprintf(label, sizeof label, "%g", (double)start * ft->scale);
            else snprintf(label, sizeof label, "%g-%g", (double)start * ft->scale, (double)(start + w - 1) * ft->scale);
            hist_add(h, label, r, s);
        }
    } else if (n) {
        qsort(b, n, sizeof *b, cmp_bar_weight);
        size_t top = n <= (size_t)room ? n : (size_t)room - 1;
        double or_ = 0, os = 0;
        for (size_t i = top; i < n; i++) or_ += b[i].r, os += b[i].s;
        qsort(b, top, sizeof *b, cmp_bar_key);
        for (size_t i = 0; i < top; i++) {
            if (b[i].key >> 32) snprintf(label, sizeof label, "#%04llx", (unsigned long long)(b[i].key & 0xffff));
            else snprintf(label, sizeof label, "%llu", (unsigned long long)b[i].key);
            hist_add(h, label, b[i].r, b[i].s);
        }
        if (top < n) hist_add(h, "other", or_, os);
    }
    if (ar > 0 || as > 0) hist_add(h, "absent", ar, as);
}

/* Entries sorted by key; slots 0..C-1 the classes, C overall. */
static int compare_feature(ns_dist_field *out, entry *e, size_t n, const feature *ft, int C)
{
    int S = C + 1, numeric = ft->unit != NULL;
    double *tot = calloc(4 * (size_t)S, sizeof *tot); /* total[2][S], present[2][S] */
    double *cnt = calloc(2 * (size_t)S, sizeof *cnt);
    double *cdf = calloc(2 * (size_t)S, sizeof *cdf);
    acc *a = calloc((size_t)S, sizeof *a);
    int *touched = malloc((size_t)S * sizeof *touched);
    bar *bars = malloc((n + 1) * sizeof *bars);
    int rc = NS_OK;
    if (!tot || !cnt || !cdf || !a || !touched || !bars) {
        rc = ns_error(NS_ENOMEM, "distance: out of memory");
        goto done;
    }
    double *pres = tot + 2 * S;
    for (size_t i = 0; i < n; i++) {
        int sd = e[i].side;
        tot[sd * S + C]++;
        if (e[i].slot >= 0) tot[sd * S + e[i].slot]++;
        if (e[i].key != ABSENT) {
            pres[sd * S + C]++;
            if (e[i].slot >= 0) pres[sd * S + e[i].slot]++;
        }
    }
    size_t nbars = 0;
    double prev = 0, distinct[2] = {0, 0};
    for (size_t i = 0; i < n;) {
        uint64_t key = e[i].key;
        if (numeric && key != ABSENT) {
            double x = (double)key * ft->scale;
            if (nbars)
                for (int s = 0; s < S; s++) a[s].emd += fabs(cdf[s] - cdf[S + s]) * (x - prev);
            prev = x;
        }
        int nt = 0, seen[2] = {0, 0};
        for (; i < n && e[i].key == key; i++) {
            seen[e[i].side] = 1;
            int sd = e[i].side;
            for (int s = e[i].slot >= 0 ? 0 : 1; s < 2; s++) {
                int slot = s ? C : e[i].slot;
                if (!cnt[slot] && !cnt[S + slot]) touched[nt++] = slot;
                cnt[sd * S + slot]++;
            }
        }
        distinct[0] += seen[0], distinct[1] += seen[1];
        for (int t = 0; t < nt; t++) {
            int s = touched[t];
            double p = tot[s] ? cnt[s] / tot[s] : 0, q = tot[S + s] ? cnt[S + s] / tot[S + s] : 0;
            acc_term(&a[s], p, q);
            if (numeric && key != ABSENT) {
                if (pres[s]) cdf[s] += cnt[s] / pres[s];
                if (pres[S + s]) cdf[S + s] += cnt[S + s] / pres[S + s];
            }
            if (s == C) bars[nbars++] = (bar){key, p, q};
            cnt[s] = cnt[S + s] = 0;
        }
    }
    if (!(out->per_class = malloc(((size_t)C + 1) * sizeof *out->per_class))) {
        rc = ns_error(NS_ENOMEM, "distance: out of memory");
        goto done;
    }
    for (int s = 0; s < S; s++) {
        ns_dist_value v = tot[s] && tot[S + s] ? acc_value(&a[s], numeric) : undefined;
        if (numeric && !(pres[s] && pres[S + s])) v.emd = NAN;
        if (s < C) out->per_class[s] = v;
        else out->all = v;
    }
    out->n_real = (uint64_t)tot[C];
    out->n_synth = (uint64_t)tot[S + C];
    for (int sd = 0; sd < 2; sd++) out->distinct[sd] = tot[sd * S + C] ? distinct[sd] / tot[sd * S + C] : NAN;
    make_hist(&out->hist, bars, nbars, ft);
done:
    free(tot), free(cnt), free(cdf), free(a), free(touched), free(bars);
    return rc;
}

/* Share of a flow's later rows whose key differs from the row before (keys
 * of feature j; a flow starts where the flow-length feature, last, has a key). */
static double change_rate(const side_rows *s, size_t j, size_t nft)
{
    const uint64_t *k = s->keys + j * s->n, *start = s->keys + (nft - 1) * s->n;
    size_t later = 0, changed = 0;
    for (size_t r = 1; r < s->n; r++) {
        if (start[r] != SKIP || k[r] == SKIP || k[r - 1] == SKIP) continue;
        later++;
        changed += k[r] != k[r - 1];
    }
    return later ? (double)changed / (double)later : NAN;
}

static int cmp_field(const void *pa, const void *pb)
{
    const ns_dist_field *a = pa, *b = pb;
    if (a->per_flow_random != b->per_flow_random) return a->per_flow_random - b->per_flow_random;
    double x = isnan(a->all.jsd) ? -1 : a->all.jsd, y = isnan(b->all.jsd) ? -1 : b->all.jsd;
    return x > y ? -1 : x < y ? 1 : strcmp(a->name, b->name);
}

int ns_dist_compare(ns_dist_report *r, const ns_dist_flows *real, const ns_dist_flows *synth, int n_classes,
                    int packets, int threads)
{
    memset(r, 0, sizeof *r);
    if (packets < 1) return ns_error(NS_EARG, "distance: need at least 1 packet per flow");
    int C = real->cls && synth->cls ? n_classes : 0;
    r->packets = packets;
    r->n_classes = C;
    size_t nft;
    feature *ft = features_list(&nft);
    side_rows sd[2];
    memset(sd, 0, sizeof sd);
    int rc = ft ? NS_OK : ns_error(NS_ENOMEM, "distance: out of memory");
    int nt = threads > 0 ? threads : omp_get_max_threads();
    if (!rc) rc = collect(&sd[0], real, ft, nft, packets, nt);
    if (!rc) rc = collect(&sd[1], synth, ft, nft, packets, nt);
    if (!rc && !(r->fields = calloc(nft, sizeof *r->fields))) rc = ns_error(NS_ENOMEM, "distance: out of memory");
    if (!rc) {
        r->n_fields = nft;
        int failed = 0;
        #pragma omp parallel for schedule(dynamic, 1) reduction(| : failed) num_threads(nt)
        for (size_t j = 0; j < nft; j++) {
            ns_dist_field *out = &r->fields[j];
            snprintf(out->name, sizeof out->name, "%s", ft[j].name);
            out->unit = ft[j].unit;
            out->per_flow_random = ft[j].random;
            for (int s = 0; s < 2; s++) out->changes[s] = change_rate(&sd[s], j, nft);
            entry *e = malloc((sd[0].n + sd[1].n + 1) * sizeof *e);
            if (!e) {
                failed = 1;
                continue;
            }
            size_t n = 0;
            for (int s = 0; s < 2; s++)
                for (size_t i = 0; i < sd[s].n; i++) {
                    uint64_t key = sd[s].keys[j * sd[s].n + i];
                    int32_t cls = sd[s].cls[i];
                    if (key != SKIP) e[n++] = (entry){key, cls >= 0 && cls < C ? cls : -1, s};
                }
            qsort(e, n, sizeof *e, cmp_entry);
            failed |= compare_feature(out, e, n, &ft[j], C) != NS_OK;
            free(e);
        }
        if (failed) rc = ns_error(NS_ENOMEM, "distance: out of memory");
    }
    if (!rc) qsort(r->fields, r->n_fields, sizeof *r->fields, cmp_field);
    for (int s = 0; s < 2; s++) free(sd[s].keys), free(sd[s].cls);
    free(ft);
    if (rc) ns_dist_report_free(r);
    return rc;
}

void ns_dist_report_free(ns_dist_report *r)
{
    for (size_t i = 0; r->fields && i < r->n_fields; i++) free(r->fields[i].per_class);
    free(r->fields);
    memset(r, 0, sizeof *r);
}

/* ---- memorisation ---------------------------------------------------------------------- */

/* Flows as bit planes. Packing first gives per flow `words` words of "is 1"
 * then `words` of "is -1"; compact() keeps only the 64-value groups that vary
 * in some flow, those that differ most often first, and lays them out in
 * blocks of 8 groups: 8 words of "is 1",
 * then the 8 matching words of "is -1" (zero-padded), the unit the distance
 * kernels take. */
typedef struct packed {
    size_t n, words;   /* words per plane; after compact(): blocks */
    uint64_t *bits;
} packed;

static int pack_flows(packed *p, const ns_dist_flows *fl, int packets, int threads)
{
    size_t dim = ns_features_nprint_dim(packets);
    p->n = fl->n;
    p->words = (dim + 63) / 64;
    p->bits = calloc(fl->n * 2 * p->words + 1, sizeof *p->bits);
    if (!p->bits) return ns_error(NS_ENOMEM, "%s: out of memory for %zu packed flows", fl->name, fl->n);
    int rc = NS_OK;
    char msg[256] = "";
    #pragma omp parallel num_threads(threads)
    {
        int8_t *x = malloc(dim);
        #pragma omp for schedule(static)
        for (size_t i = 0; i < fl->n; i++) {
            uint64_t f = fl->idx ? fl->idx[i] : i;
            int r = x ? ns_features_nprint(fl->ds, &f, 1, packets, x) : NS_ENOMEM;
            if (r) {
                #pragma omp critical(ns_memo_err)
                if (!rc) {
                    rc = r;
                    snprintf(msg, sizeof msg, "%s", x ? ns_errmsg() : "out of memory");
                }
                continue;
            }
            uint64_t *w = p->bits + i * 2 * p->words;
            for (size_t j = 0; j < dim; j++) {
                if (x[j] == 1) w[j / 64] |= 1ull << (j % 64);
                else if (x[j] < 0) w[p->words + j / 64] |= 1ull << (j % 64);
            }
        }
        free(x);
    }
    if (rc) return ns_error(rc, "%s: %s", fl->name, msg);
    return NS_OK;
}

/* Count into vary[words], per 64-value group, the values of p's flows that
 * differ there from ref. */
static void find_varying(const packed *p, const uint64_t *ref, uint64_t *vary)
{
    for (size_t i = 0; i < p->n; i++) {
        const uint64_t *w = p->bits + i * 2 * p->words;
        for (size_t k = 0; k < p->words; k++)
            vary[k] += (uint64_t)__builtin_popcountll((w[k] ^ ref[k]) | (w[p->words + k] ^ ref[p->words + k]));
    }
}

typedef struct group {
    uint64_t vary;
    size_t k;
} group;

static int cmp_group(const void *pa, const void *pb)
{
    const group *a = pa, *b = pb;
    return a->vary > b->vary ? -1 : a->vary < b->vary ? 1 : (a->k > b->k) - (a->k < b->k);
}

/* Keep groups keep[0..nk) in the block layout; ones[i] and absent[i] get
 * flow i's count of values 1 and -1 there. */
static int compact(packed *p, const size_t *keep, size_t nk, uint32_t *ones, uint32_t *absent)
{
    size_t blocks = (nk + 7) / 8;
    uint64_t *out = calloc(p->n * blocks * 16 + 1, sizeof *out);
    if (!out) return ns_error(NS_ENOMEM, "memorisation: out of memory");
    for (size_t i = 0; i < p->n; i++) {
        const uint64_t *w = p->bits + i * 2 * p->words;
        uint64_t *o = out + i * blocks * 16;
        ones[i] = absent[i] = 0;
        for (size_t k = 0; k < nk; k++) {
            o[k / 8 * 16 + k % 8] = w[keep[k]];
            o[k / 8 * 16 + 8 + k % 8] = w[p->words + keep[k]];
            ones[i] += (uint32_t)__builtin_popcountll(w[keep[k]]);
            absent[i] += (uint32_t)__builtin_popcountll(w[p->words + keep[k]]);
        }
    }
    free(p->bits);
    p->bits = out;
    p->words = blocks;
    return NS_OK;
}

/* The training flows for the search: sorted by their count of absent values,
 * with both counts, and by a hash of their bits (to find twins at once). */
typedef struct index {
    size_t n, blocks;
    uint64_t *bits;       /* [n * 16 * blocks] in absent order */
    uint32_t *ones, *absent;
    uint64_t *hash;       /* [n] sorted; twin[i] the flow with hash[i] */
    size_t *twin;
} index_t;

static uint64_t flow_hash(const uint64_t *w, size_t n)
{
    uint64_t h = 0x9e3779b97f4a7c15ull;
    for (size_t k = 0; k < n; k++) h = (h ^ w[k]) * 0xff51afd7ed558ccdull, h ^= h >> 29;
    return h;
}

typedef struct keyed {
    uint64_t key;
    size_t i;
} keyed;

static int cmp_keyed(const void *pa, const void *pb)
{
    const keyed *a = pa, *b = pb;
    return a->key < b->key ? -1 : a->key > b->key ? 1 : (a->i > b->i) - (a->i < b->i);
}

static void index_free(index_t *x)
{
    free(x->bits), free(x->ones), free(x->absent), free(x->hash), free(x->twin);
    memset(x, 0, sizeof *x);
}

static int index_build(index_t *x, const packed *p, const uint32_t *ones, const uint32_t *absent)
{
    size_t n = p->n, len = 16 * p->words;
    memset(x, 0, sizeof *x);
    x->n = n, x->blocks = p->words;
    keyed *k = malloc((n + 1) * sizeof *k);
    x->bits = malloc((n * len + 1) * sizeof *x->bits);
    x->ones = malloc((n + 1) * sizeof *x->ones);
    x->absent = malloc((n + 1) * sizeof *x->absent);
    x->hash = malloc((n + 1) * sizeof *x->hash);
    x->twin = malloc((n + 1) * sizeof *x->twin);
    if (!k || !x->bits || !x->ones || !x->absent || !x->hash || !x->twin) {
        free(k);
        index_free(x);
        return ns_error(NS_ENOMEM, "memorisation: out of memory");
    }
    for (size_t i = 0; i < n; i++) k[i] = (keyed){absent[i], i};
    qsort(k, n, sizeof *k, cmp_keyed);
    for (size_t j = 0; j < n; j++) {
        memcpy(x->bits + j * len, p->bits + k[j].i * len, len * sizeof *x->bits);
        x->ones[j] = ones[k[j].i];
        x->absent[j] = absent[k[j].i];
    }
    for (size_t j = 0; j < n; j++) k[j] = (keyed){flow_hash(x->bits + j * len, len), j};
    qsort(k, n, sizeof *k, cmp_keyed);
    for (size_t j = 0; j < n; j++) x->hash[j] = k[j].key, x->twin[j] = k[j].i;
    free(k);
    return NS_OK;
}

static int has_twin(const index_t *x, const uint64_t *q)
{
    size_t len = 16 * x->blocks, lo = 0, hi = x->n;
    uint64_t h = flow_hash(q, len);
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (x->hash[mid] < h) lo = mid + 1;
        else hi = mid;
    }
    for (; lo < x->n && x->hash[lo] == h; lo++)
        if (!memcmp(x->bits + x->twin[lo] * len, q, len * sizeof *q)) return 1;
    return 0;
}

/* The distance from q to y, or any value >= bound once it is clear that it
 * reaches bound (checked after every block of 512 values). */
static inline uint32_t dist_generic(const uint64_t *q, const uint64_t *y, size_t blocks, uint32_t bound)
{
    uint32_t d = 0;
    for (size_t b = 0; b < blocks && d < bound; b++)
        for (int k = 0; k < 8; k++)
            d += (uint32_t)__builtin_popcountll((q[16 * b + k] ^ y[16 * b + k]) | (q[16 * b + 8 + k] ^ y[16 * b + 8 + k]));
    return d;
}

/* Nearest training flow to q (absent count qa, ones qo): candidates in order
 * of |absent - qa| outwards from the query's place, a lower bound of the
 * distance (the values -1 that differ), so the walk stops once it reaches the
 * best; a candidate whose |ones - qo| reaches it is skipped unseen. */
#define NEAREST_BODY(DIST)                                                                  \
    size_t lo = 0, hi = x->n;                                                               \
    while (lo < hi) {                                                                       \
        size_t mid = lo + (hi - lo) / 2;                                                    \
        if (x->absent[mid] < qa) lo = mid + 1;                                              \
        else hi = mid;                                                                      \
    }                                                                                       \
    hi = lo;                                                                                \
    uint32_t best = UINT32_MAX;                                                             \
    while (best && (lo > 0 || hi < x->n)) {                                                 \
        uint32_t dl = lo > 0 ? qa - x->absent[lo - 1] : UINT32_MAX;                         \
        uint32_t dh = hi < x->n ? x->absent[hi] - qa : UINT32_MAX;                          \
        if ((dl < dh ? dl : dh) >= best) break;                                             \
        size_t t = dl < dh ? --lo : hi++;                                                   \
        uint32_t od = x->ones[t] > qo ? x->ones[t] - qo : qo - x->ones[t];                  \
        if (od >= best) continue;                                                           \
        uint32_t d = DIST(q, x->bits + t * 16 * x->blocks, x->blocks, best);                \
        if (d < best) best = d;                                                             \
    }                                                                                       \
    return best;

static uint32_t nearest_generic(const index_t *x, const uint64_t *q, uint32_t qa, uint32_t qo)
{
    NEAREST_BODY(dist_generic)
}

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#include <immintrin.h>
#define HAVE_AVX512_KERNEL 1
__attribute__((target("avx512f,avx512vpopcntdq"))) static inline uint32_t dist_avx512(const uint64_t *q,
                                                                                     const uint64_t *y, size_t blocks,
                                                                                     uint32_t bound)
{
    uint32_t d = 0;
    for (size_t b = 0; b < blocks && d < bound; b++) {
        __m512i a = _mm512_xor_si512(_mm512_loadu_si512(q + 16 * b), _mm512_loadu_si512(y + 16 * b));
        __m512i m = _mm512_xor_si512(_mm512_loadu_si512(q + 16 * b + 8), _mm512_loadu_si512(y + 16 * b + 8));
        d += (uint32_t)_mm512_reduce_add_epi64(_mm512_popcnt_epi64(_mm512_or_si512(a, m)));
    }
    return d;
}

__attribute__((target("avx512f,avx512vpopcntdq"))) static uint32_t nearest_avx512(const index_t *x,
                                                                                  const uint64_t *q, uint32_t qa,
                                                                                  uint32_t qo)
{
    NEAREST_BODY(dist_avx512)
}

__attribute__((target("popcnt"))) static inline uint32_t dist_popcnt(const uint64_t *q, const uint64_t *y,
                                                                     size_t blocks, uint32_t bound)
{
    return dist_generic(q, y, blocks, bound);
}

__attribute__((target("popcnt"))) static uint32_t nearest_popcnt(const index_t *x, const uint64_t *q, uint32_t qa,
                                                                 uint32_t qo)
{
    NEAREST_BODY(dist_popcnt)
}
#endif

typedef uint32_t (*nearest_fn)(const index_t *, const uint64_t *, uint32_t, uint32_t);

static nearest_fn pick_kernel(void)
{
#ifdef HAVE_AVX512_KERNEL
    if (!getenv("NETSYNTH_NO_AVX512") && __builtin_cpu_supports("avx512f") &&
        __builtin_cpu_supports("avx512vpopcntdq"))
        return nearest_avx512;
    if (__builtin_cpu_supports("popcnt")) return nearest_popcnt;
#endif
    return nearest_generic;
}

static int cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return (x > y) - (x < y);
}

/* Nearest distances of every query flow; share at 0, median, 5th percentile. */
static int nearest_all(const index_t *x, const packed *q, const uint32_t *ones, const uint32_t *absent,
                       const char *name, int threads, uint32_t **out, double *copied, double *median, double *p5)
{
    uint32_t *d = malloc((q->n + 1) * sizeof *d), *sorted = malloc((q->n + 1) * sizeof *sorted);
    if (!d || !sorted) {
        free(d), free(sorted);
        return ns_error(NS_ENOMEM, "%s: out of memory", name);
    }
    nearest_fn kernel = pick_kernel();
    #pragma omp parallel for schedule(dynamic, 16) num_threads(threads)
    for (size_t i = 0; i < q->n; i++) {
        const uint64_t *f = q->bits + i * 16 * q->words;
        d[i] = has_twin(x, f) ? 0 : kernel(x, f, absent[i], ones[i]);
    }
    memcpy(sorted, d, q->n * sizeof *d);
    qsort(sorted, q->n, sizeof *sorted, cmp_u32);
    size_t zeros = 0;
    while (zeros < q->n && !sorted[zeros]) zeros++;
    *copied = q->n ? (double)zeros / (double)q->n : NAN;
    *median = q->n ? sorted[(size_t)floor(0.5 * (double)(q->n - 1))] : NAN;
    *p5 = q->n ? sorted[(size_t)floor(0.05 * (double)(q->n - 1))] : NAN;
    *out = d;
    free(sorted);
    return NS_OK;
}

int ns_memo_compare(ns_memo_report *m, const ns_dist_flows *train, const ns_dist_flows *test,
                    const ns_dist_flows *synth, int packets, int threads)
{
    memset(m, 0, sizeof *m);
    m->test_median = m->test_p5 = m->test_copied = NAN;
    if (packets < 1) return ns_error(NS_EARG, "memorisation: need at least 1 packet per flow");
    if (!train->n) return ns_error(NS_EARG, "%s: no training flows to compare with", train->name);
    m->packets = packets;
    m->values = ns_features_nprint_dim(packets);
    m->n_train = train->n;
    m->n_synth = synth->n;
    m->n_test = test ? test->n : 0;
    const ns_dist_flows *fl[3] = {train, synth, test};
    int nt = threads > 0 ? threads : omp_get_max_threads();
    packed p[3];
    uint32_t *ones[3] = {0}, *absent[3] = {0};
    memset(p, 0, sizeof p);
    int rc = NS_OK;
    for (int s = 0; s < 3 && !rc; s++)
        if (fl[s]) rc = pack_flows(&p[s], fl[s], packets, nt);
    size_t words = p[0].words, nk = 0;
    uint64_t *vary = rc ? NULL : calloc(words + 1, sizeof *vary);
    group *g = rc ? NULL : malloc((words + 1) * sizeof *g);
    size_t *keep = rc ? NULL : malloc((words + 1) * sizeof *keep);
    if (!rc && (!vary || !keep || !g)) rc = ns_error(NS_ENOMEM, "memorisation: out of memory");
    if (!rc) {
        for (int s = 0; s < 3; s++)
            if (fl[s]) find_varying(&p[s], p[0].bits, vary);
        /* Groups equal in every flow drop out; those that differ most come
         * first, so that a candidate's partial distance passes the best soonest. */
        for (size_t k = 0; k < words; k++)
            if (vary[k]) g[nk++] = (group){vary[k], k};
        qsort(g, nk, sizeof *g, cmp_group);
        for (size_t k = 0; k < nk; k++) keep[k] = g[k].k;
    }
    for (int s = 0; s < 3 && !rc; s++) {
        if (!fl[s]) continue;
        ones[s] = malloc((p[s].n + 1) * sizeof *ones[s]);
        absent[s] = malloc((p[s].n + 1) * sizeof *absent[s]);
        rc = ones[s] && absent[s] ? compact(&p[s], keep, nk, ones[s], absent[s])
                                  : ns_error(NS_ENOMEM, "memorisation: out of memory");
    }
    index_t x = {0};
    if (!rc) rc = index_build(&x, &p[0], ones[0], absent[0]);
    if (!rc)
        rc = nearest_all(&x, &p[1], ones[1], absent[1], synth->name, nt, &m->synth_nearest, &m->synth_copied,
                         &m->synth_median, &m->synth_p5);
    if (!rc && test)
        rc = nearest_all(&x, &p[2], ones[2], absent[2], test->name, nt, &m->test_nearest, &m->test_copied,
                         &m->test_median, &m->test_p5);
    index_free(&x);
    for (int s = 0; s < 3; s++) free(p[s].bits), free(ones[s]), free(absent[s]);
    free(vary), free(g), free(keep);
    if (rc) ns_memo_report_free(m);
    return rc;
}

void ns_memo_report_free(ns_memo_report *m)
{
    free(m->synth_nearest);
    free(m->test_nearest);
    memset(m, 0, sizeof *m);
}
