/* repr.c: flows <-> the model's analog rows (see repr.h). */
#include "netsynth/repr.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "netsynth/error.h"
#include "netsynth/model.h"
#include "nn_math.h"

int ns_repr_fit(ns_repr *r, const ns_dataset *ds, int timing_bins)
{
    memset(r, 0, sizeof *r);
    if (timing_bins && (timing_bins < 2 || timing_bins > NS_MODEL_MAX_TIMING_BINS))
        return ns_error(NS_EARG, "%d timing bins: 0 (regressed timing) or 2 to %d", timing_bins,
                        NS_MODEL_MAX_TIMING_BINS);
    if (ds->width != NS_NP_MODEL_WIDTH)
        return ns_error(NS_EFORMAT, "dataset rows have %u values, the model needs %d", ds->width,
                        NS_NP_MODEL_WIDTH);
    if (!ds->n_packets) return ns_error(NS_EARG, "dataset has no packets to learn from");
    r->width = NS_NP_MODEL_WIDTH;

    /* A column is modelled when it takes two or more values anywhere. */
    enum { W = NS_NP_MODEL_WIDTH };
    uint8_t seen[W] = {0}; /* bit v+1 set when value v occurs */
    int8_t *row = malloc(W);
    if (!row) return ns_error(NS_ENOMEM, "out of memory");
    double sum = 0, sum2 = 0, lo = INFINITY, hi = -INFINITY;
    for (uint64_t k = 0; k < ds->n_packets; k++) {
        ns_dataset_row(ds, k, row);
        for (int c = 0; c < W; c++) seen[c] |= (uint8_t)(1u << (row[c] + 1));
        double l = log((double)ds->iat_ns[k] * 1e-9 + NS_REPR_IAT_FLOOR);
        sum += l, sum2 += l * l;
        lo = fmin(lo, l), hi = fmax(hi, l);
    }
    free(row);
    for (int c = 0; c < W; c++) {
        int kinds = (seen[c] & 1) + (seen[c] >> 1 & 1) + (seen[c] >> 2 & 1);
        if (kinds > 1) r->cols[r->n_bits++] = (uint16_t)c;
        else r->fixed[c] = (int8_t)(seen[c] == 4 ? 1 : seen[c] == 2 ? 0 : -1);
    }
    double n = (double)ds->n_packets, mean = sum / n, var = sum2 / n - mean * mean;
    r->iat_mean = (float)mean;
    r->iat_std = (float)(var > 1e-12 ? sqrt(var) : 1.0);
    if (timing_bins) {
        /* The bins span the data's range; a range of one value still gets
         * a width, so that positions stay finite. */
        r->timing_bins = timing_bins;
        r->bin_lo = (float)((lo - mean) / r->iat_std);
        r->bin_hi = (float)((hi - mean) / r->iat_std);
        if (!(r->bin_hi > r->bin_lo + 1e-3f)) r->bin_hi = r->bin_lo + 1e-3f;
    }
    return NS_OK;
}

/* Position of standardised log time z in bin units, in [0, bins). */
static float bin_position(const ns_repr *r, float z)
{
    float u = (z - r->bin_lo) / (r->bin_hi - r->bin_lo) * (float)r->timing_bins;
    float top = (float)r->timing_bins - 1e-3f;
    return u > 0 ? (u < top ? u : top) : 0;
}

static float bin_z(const ns_repr *r, double position)
{
    return (float)(r->bin_lo + position * (r->bin_hi - r->bin_lo) / r->timing_bins);
}

/* The standardised log inter-arrival time of the analog timing channel. */
static float std_log_time(const ns_repr *r, int64_t iat_ns)
{
    return (float)((log((double)iat_ns * 1e-9 + NS_REPR_IAT_FLOOR) - r->iat_mean) / r->iat_std);
}

void ns_repr_encode_row(const ns_repr *r, const int8_t *row, uint8_t dir, int64_t iat_ns, float *x)
{
    int K = r->n_bits;
    for (int j = 0; j < K; j++) {
        int v = row[r->cols[j]];
        x[2 * j] = v >= 0 ? 1.0f : -1.0f;
        x[2 * j + 1] = v == 1 ? 1.0f : v == 0 ? -1.0f : 0.0f;
    }
    x[2 * K] = std_log_time(r, iat_ns);
    x[2 * K + 1] = dir ? 1.0f : -1.0f;
}

int ns_repr_encode(const ns_repr *r, const ns_dataset *ds, uint64_t flow, int T, float *x0, uint8_t *cls,
                   uint8_t *dir, float *iat)
{
    return ns_repr_encode_window(r, ds, flow, 0, T, x0, cls, dir, iat);
}

int ns_repr_encode_window(const ns_repr *r, const ns_dataset *ds, uint64_t flow, uint32_t start, int T, float *x0,
                          uint8_t *cls, uint8_t *dir, float *iat)
{
    const ns_ds_flow *f = &ds->flows[flow];
    uint32_t left = start < f->n_packets ? f->n_packets - start : 0;
    int n = left < (uint32_t)T ? (int)left : T;
    int K = r->n_bits, in = ns_repr_in_dim(r);
    int8_t row[NS_NP_MODEL_WIDTH];
    for (int t = 0; t < n; t++) {
        uint64_t k = f->first + start + (uint64_t)t;
        ns_dataset_row(ds, k, row);
        uint8_t d = ds->dir[k];
        if (cls)
            for (int j = 0; j < K; j++) cls[(size_t)t * K + j] = (uint8_t)(row[r->cols[j]] + 1);
        if (dir) dir[t] = d;
        if (iat) {
            float z = std_log_time(r, ds->iat_ns[k]);
            iat[t] = r->timing_bins ? bin_position(r, z) : z;
        }
        if (x0) ns_repr_encode_row(r, row, d, ds->iat_ns[k], x0 + (size_t)t * in);
    }
    return n;
}

/* One row: the guided logits o = u + g (c - u) (u NULL: o = c, a copy
 * unless o is c), then each value's expected (present, bit) under the softmax
 * of its three logits. The softmax is taken relative to the "absent" logit
 * (e0 = 1), the differences clamped to +-80 so that the sum cannot overflow:
 * two exponentials a value instead of three and no max, and no libm call,
 * so that the loop vectorises (it is the sampler's largest elementwise pass:
 * 3 K logits a row). */
NS_CLONES static void expect_row(float *restrict x, float *o, const float *c, const float *restrict u, float g,
                                 int K)
{
    const float *l = c;
    if (u) {
#pragma omp simd
        for (int j = 0; j < 3 * K; j++) o[j] = u[j] + g * (c[j] - u[j]);
        l = o;
    } else if (o != c) {
        memcpy(o, c, (size_t)3 * K * sizeof *o);
    }
#pragma omp simd
    for (int j = 0; j < K; j++) {
        float a = l[3 * j + 1] - l[3 * j], b = l[3 * j + 2] - l[3 * j];
        a = a > 80.0f ? 80.0f : a < -80.0f ? -80.0f : a;
        b = b > 80.0f ? 80.0f : b < -80.0f ? -80.0f : b;
        float e1 = ns_expf(a), e2 = ns_expf(b), inv = 1.0f / (1.0f + e1 + e2);
        x[2 * j] = (e1 + e2 - 1.0f) * inv;
        x[2 * j + 1] = (e2 - e1) * inv;
    }
}

/* The expected index under softmax(l[n]). */
static double expect_index(const float *l, int n)
{
    float m = l[0];
    for (int k = 1; k < n; k++) m = fmaxf(m, l[k]);
    double s = 0, sk = 0;
    for (int k = 0; k < n; k++) {
        double e = exp((double)(l[k] - m));
        s += e, sk += e * k;
    }
    return sk / s;
}

/* The expected standardised log time: the expected bin plus the expected
 * position within a bin (its sub-bin's centre). */
static float expect_bins(const ns_repr *r, const float *l)
{
    int NB = r->timing_bins, S = NS_MODEL_TIMING_SUB;
    return bin_z(r, expect_index(l, NB) + (expect_index(l + NB, S) + 0.5) / S);
}

void ns_repr_expect_guided(const ns_repr *r, float *x0, float *out, const float *cond, const float *uncond, float g,
                           float g_time, size_t rows)
{
    int K = r->n_bits, in = ns_repr_in_dim(r), od = ns_repr_out_dim(r);
#pragma omp parallel for schedule(static)
    for (size_t t = 0; t < rows; t++) {
        float *o = out + t * od;
        const float *c = cond + t * od, *u = uncond ? uncond + t * od : NULL;
        float *x = x0 + t * in;
        expect_row(x, o, c, u, g, K);
        /* Timing and direction, past the values: guided as logits, the
         * bins with their own scale. A regressed timing (no bins) is
         * extrapolated with g as before, so that older models sample what
         * they did. */
        if (u)
            for (int j = 3 * K; j < od; j++) {
                float gj = r->timing_bins && j < od - 1 ? g_time : g;
                o[j] = u[j] + gj * (c[j] - u[j]);
            }
        else if (o != c)
            memcpy(o + 3 * K, c + 3 * K, (size_t)(od - 3 * K) * sizeof *o);
        x[2 * K] = r->timing_bins ? expect_bins(r, o + 3 * K) : o[3 * K];
        x[2 * K + 1] = tanhf(0.5f * o[od - 1]); /* 2 sigmoid(l) - 1 */
    }
}

void ns_repr_expect(const ns_repr *r, float *x0, const float *out, size_t rows)
{
    ns_repr_expect_guided(r, x0, (float *)out, out, NULL, 1.0f, 1.0f, rows);
}

/* An index of softmax(l[n]): drawn with rng, or the most likely. */
static int pick(const float *l, int n, ns_rng *rng)
{
    int best = 0;
    for (int k = 1; k < n; k++)
        if (l[k] > l[best]) best = k;
    if (!rng) return best;
    double s = 0, acc = 0;
    for (int k = 0; k < n; k++) s += exp((double)(l[k] - l[best]));
    double u = ns_rng_double(rng) * s;
    int k = 0;
    for (; k < n - 1; k++)
        if (u < (acc += exp((double)(l[k] - l[best])))) break;
    return k;
}

/* A bin and a sub-bin (drawn with rng, or the most likely), then the
 * standardised log time of a position in the sub-bin (drawn, or its centre). */
static float decode_bins(const ns_repr *r, const float *l, ns_rng *rng)
{
    int NB = r->timing_bins, S = NS_MODEL_TIMING_SUB;
    int k = pick(l, NB, rng), s = pick(l + NB, S, rng);
    return bin_z(r, k + (s + (rng ? ns_rng_double(rng) : 0.5)) / S);
}

void ns_repr_decode_row(const ns_repr *r, const float *out, int8_t *row, uint8_t *dir, int64_t *iat_ns, ns_rng *rng)
{
    int K = r->n_bits;
    memcpy(row, r->fixed, (size_t)r->width);
    for (int j = 0; j < K; j++) {
        const float *l = out + 3 * j;
        int best = l[1] > l[0] ? 1 : 0;
        if (l[2] > l[best]) best = 2;
        row[r->cols[j]] = (int8_t)(best - 1);
    }
    *dir = out[ns_repr_out_dim(r) - 1] > 0;
    double z = r->timing_bins ? decode_bins(r, out + 3 * K, rng) : out[3 * K];
    double secs = exp(z * r->iat_std + r->iat_mean) - NS_REPR_IAT_FLOOR;
    if (!(secs > 0)) secs = 0;    /* also catches NaN */
    if (secs > 86400) secs = 86400; /* a day: more is no inter-arrival time of one flow */
    *iat_ns = (int64_t)llround(secs * 1e9);
}

int ns_repr_payload_bytes(const ns_repr *r)
{
    /* A modelled column's constant is 0, a present constant 0 or 1: only a
     * column absent in every training row is -1. */
    for (int c = NS_NP_MODEL_WIDTH - 1; c >= NS_NP_COL_PAY; c--)
        if (r->fixed[c] >= 0) return (c - NS_NP_COL_PAY) / 8 + 1;
    return 0;
}
