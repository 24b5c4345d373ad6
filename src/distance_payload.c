/* distance_payload.c: memorisation of payload bytes (see distance.h).
 *
 * Training payloads are sorted and made distinct; a suffix array over them
 * (every start in every distinct payload, suffixes ending with their
 * payload) answers "the longest prefix of q[i..] that occurs in a training
 * payload" by binary search and the common prefix with the two suffixes
 * around q[i..]'s place, whose maximum over i is q's longest shared run. */
#include "netsynth/distance.h"

#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "netsynth/error.h"
#include "netsynth/nprint.h"

enum { MAX_BYTES = NS_NP_BITS_PAY / 8, WHOLE_MIN = 8 };

/* Payloads of one side, back to back. */
typedef struct payloads {
    uint8_t *bytes;
    size_t *off;
    uint8_t *len;
    size_t n, flows;
} payloads;

static void payloads_free(payloads *p) { free(p->bytes), free(p->off), free(p->len); }

/* The leading payload bytes of a row whose bits are all present, at most max. */
static int row_payload(const int8_t *row, int max, uint8_t *out)
{
    int n = 0;
    while (n < max && ns_nprint_bits_present(row, NS_NP_COL_PAY + 8 * n, 8) == 8) {
        out[n] = (uint8_t)ns_nprint_bits_get(row, NS_NP_COL_PAY + 8 * n, 8);
        n++;
    }
    return n;
}

static int collect(payloads *p, const ns_dist_flows *fl, int packets, int max)
{
    memset(p, 0, sizeof *p);
    size_t rows = 0;
    for (size_t i = 0; i < fl->n; i++) {
        uint32_t n = fl->ds->flows[fl->idx ? fl->idx[i] : i].n_packets;
        rows += n < (uint32_t)packets ? n : (uint32_t)packets;
    }
    p->bytes = malloc(rows * (size_t)max + 1);
    p->off = malloc((rows + 1) * sizeof *p->off);
    p->len = malloc(rows + 1);
    if (!p->bytes || !p->off || !p->len) {
        payloads_free(p);
        return ns_error(NS_ENOMEM, "%s: out of memory for %zu payloads", fl->name, rows);
    }
    int8_t row[NS_NP_MODEL_WIDTH];
    size_t at = 0;
    for (size_t i = 0; i < fl->n; i++) {
        const ns_ds_flow *f = &fl->ds->flows[fl->idx ? fl->idx[i] : i];
        int any = 0;
        for (uint32_t k = 0; k < f->n_packets && k < (uint32_t)packets; k++) {
            ns_dataset_row(fl->ds, f->first + k, row);
            int n = row_payload(row, max, p->bytes + at);
            if (!n) continue;
            p->off[p->n] = at, p->len[p->n] = (uint8_t)n, p->n++;
            at += (size_t)n;
            any = 1;
        }
        p->flows += any;
    }
    return NS_OK;
}

/* Byte strings a, b: by bytes, then the shorter first. */
static int cmp_str(const uint8_t *a, size_t na, const uint8_t *b, size_t nb)
{
    int c = memcmp(a, b, na < nb ? na : nb);
    return c ? c : (na > nb) - (na < nb);
}

typedef struct str {
    const uint8_t *s;
    size_t n;
} str;

static int cmp_strs(const void *x, const void *y)
{
    const str *a = x, *b = y;
    return cmp_str(a->s, a->n, b->s, b->n);
}

static size_t common_prefix(const uint8_t *a, size_t na, const uint8_t *b, size_t nb)
{
    size_t n = na < nb ? na : nb, i = 0;
    while (i < n && a[i] == b[i]) i++;
    return i;
}

/* The longest prefix of q (n bytes) that starts some suffix in sa. */
static size_t longest_prefix(const str *sa, size_t m, const uint8_t *q, size_t n)
{
    size_t lo = 0, hi = m;   /* first suffix >= q */
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (cmp_str(sa[mid].s, sa[mid].n, q, n) < 0) lo = mid + 1;
        else hi = mid;
    }
    size_t best = 0;
    if (lo < m) best = common_prefix(sa[lo].s, sa[lo].n, q, n);
    if (lo > 0) {
        size_t c = common_prefix(sa[lo - 1].s, sa[lo - 1].n, q, n);
        if (c > best) best = c;
    }
    return best;
}

static int cmp_int(const void *x, const void *y)
{
    int a = *(const int *)x, b = *(const int *)y;
    return (a > b) - (a < b);
}

static int measure(ns_memo_payload_side *out, const payloads *q, const str *distinct, size_t nd, const str *sa,
                   size_t m, int threads, const char *name)
{
    out->flows = q->flows, out->payloads = q->n;
    out->identical = out->run_median = out->run_p95 = out->run_whole = NAN;
    out->run_max = 0;
    if (!q->n) return NS_OK;
    int *run = malloc(q->n * sizeof *run);
    if (!run) return ns_error(NS_ENOMEM, "%s: out of memory", name);
    size_t same = 0, whole = 0, long_enough = 0;
    long n = (long)q->n;
#pragma omp parallel for schedule(dynamic, 64) reduction(+ : same, whole, long_enough) num_threads(threads)
    for (long i = 0; i < n; i++) {
        const uint8_t *s = q->bytes + q->off[i];
        size_t len = q->len[i], best = 0;
        str key = {s, len};
        same += nd && bsearch(&key, distinct, nd, sizeof *distinct, cmp_strs) != NULL;
        for (size_t at = 0; at < len && len - at > best; at++) {
            size_t c = longest_prefix(sa, m, s + at, len - at);
            if (c > best) best = c;
        }
        run[i] = (int)best;
        long_enough += len >= WHOLE_MIN;
        whole += len >= WHOLE_MIN && best == len;
    }
    qsort(run, q->n, sizeof *run, cmp_int);
    out->identical = (double)same / (double)q->n;
    out->run_median = run[(size_t)floor(0.5 * (double)(q->n - 1))];
    out->run_p95 = run[(size_t)floor(0.95 * (double)(q->n - 1))];
    out->run_max = run[q->n - 1];
    out->run_whole = long_enough ? (double)whole / (double)long_enough : NAN;
    free(run);
    return NS_OK;
}

int ns_memo_payload_compare(ns_memo_payload *m, const ns_dist_flows *train, const ns_dist_flows *test,
                            const ns_dist_flows *synth, int packets, int threads)
{
    memset(m, 0, sizeof *m);
    m->synth.identical = m->test.identical = NAN;
    if (packets < 1) return ns_error(NS_EARG, "payload memorisation: need at least 1 packet per flow");
    m->packets = packets;
    m->bytes = ns_dataset_payload(train->ds);
    if (!m->bytes) return NS_OK;
    int nt = threads > 0 ? threads : omp_get_max_threads();
    payloads p[3];
    memset(p, 0, sizeof p);
    const ns_dist_flows *fl[3] = {train, synth, test};
    int rc = NS_OK;
    for (int s = 0; s < 3 && !rc; s++)
        if (fl[s]) rc = collect(&p[s], fl[s], packets, m->bytes);
    str *distinct = NULL, *sa = NULL;
    size_t nd = 0, ns = 0;
    if (!rc) {
        distinct = malloc((p[0].n + 1) * sizeof *distinct);
        if (!distinct) rc = ns_error(NS_ENOMEM, "%s: out of memory", train->name);
    }
    if (!rc) {
        for (size_t i = 0; i < p[0].n; i++) distinct[i] = (str){p[0].bytes + p[0].off[i], p[0].len[i]};
        qsort(distinct, p[0].n, sizeof *distinct, cmp_strs);
        size_t bytes = 0;
        for (size_t i = 0; i < p[0].n; i++)
            if (!nd || cmp_strs(&distinct[nd - 1], &distinct[i])) distinct[nd++] = distinct[i], bytes += distinct[i].n;
        m->train_payloads = p[0].n, m->train_distinct = nd;
        sa = malloc((bytes + 1) * sizeof *sa);
        if (!sa) rc = ns_error(NS_ENOMEM, "%s: out of memory for the payloads' suffixes", train->name);
        for (size_t i = 0; !rc && i < nd; i++)
            for (size_t at = 0; at < distinct[i].n; at++) sa[ns++] = (str){distinct[i].s + at, distinct[i].n - at};
        if (!rc) qsort(sa, ns, sizeof *sa, cmp_strs);
    }
    if (!rc) rc = measure(&m->synth, &p[1], distinct, nd, sa, ns, nt, synth->name);
    if (!rc && test) rc = measure(&m->test, &p[2], distinct, nd, sa, ns, nt, test->name);
    free(distinct), free(sa);
    for (int s = 0; s < 3; s++) payloads_free(&p[s]);
    return rc;
}
