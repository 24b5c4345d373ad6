/* repr.c: flows <-> the model's analog rows (see repr.h). */
#include "netsynth/repr.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "netsynth/error.h"
#include "nn_math.h"

int ns_repr_fit(ns_repr *r, const ns_dataset *ds)
{
    memset(r, 0, sizeof *r);
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
    double sum = 0, sum2 = 0;
    for (uint64_t k = 0; k < ds->n_packets; k++) {
        ns_dataset_row(ds, k, row);
        for (int c = 0; c < W; c++) seen[c] |= (uint8_t)(1u << (row[c] + 1));
        double l = log((double)ds->iat_ns[k] * 1e-9 + NS_REPR_IAT_FLOOR);
        sum += l, sum2 += l * l;
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
    return NS_OK;
}

int ns_repr_encode(const ns_repr *r, const ns_dataset *ds, uint64_t flow, int T, float *x0, uint8_t *cls,
                   uint8_t *dir, float *iat)
{
    const ns_ds_flow *f = &ds->flows[flow];
    int n = (int)f->n_packets < T ? (int)f->n_packets : T;
    int K = r->n_bits, in = ns_repr_in_dim(r);
    int8_t row[NS_NP_MODEL_WIDTH];
    for (int t = 0; t < n; t++) {
        uint64_t k = f->first + (uint64_t)t;
        ns_dataset_row(ds, k, row);
        float z = (float)((log((double)ds->iat_ns[k] * 1e-9 + NS_REPR_IAT_FLOOR) - r->iat_mean) / r->iat_std);
        uint8_t d = ds->dir[k];
        if (cls)
            for (int j = 0; j < K; j++) cls[(size_t)t * K + j] = (uint8_t)(row[r->cols[j]] + 1);
        if (dir) dir[t] = d;
        if (iat) iat[t] = z;
        if (x0) {
            float *x = x0 + (size_t)t * in;
            for (int j = 0; j < K; j++) {
                int v = row[r->cols[j]];
                x[2 * j] = v >= 0 ? 1.0f : -1.0f;
                x[2 * j + 1] = v == 1 ? 1.0f : v == 0 ? -1.0f : 0.0f;
            }
            x[2 * K] = z;
            x[2 * K + 1] = d ? 1.0f : -1.0f;
        }
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

void ns_repr_expect_guided(const ns_repr *r, float *x0, float *out, const float *cond, const float *uncond, float g,
                           size_t rows)
{
    int K = r->n_bits, in = ns_repr_in_dim(r), od = ns_repr_out_dim(r);
#pragma omp parallel for schedule(static)
    for (size_t t = 0; t < rows; t++) {
        float *o = out + t * od;
        const float *c = cond + t * od, *u = uncond ? uncond + t * od : NULL;
        float *x = x0 + t * in;
        expect_row(x, o, c, u, g, K);
        if (u) /* timing and direction, past the values */
            for (int j = 3 * K; j < od; j++) o[j] = u[j] + g * (c[j] - u[j]);
        else if (o != c)
            memcpy(o + 3 * K, c + 3 * K, (size_t)(od - 3 * K) * sizeof *o);
        x[2 * K] = o[3 * K];
        x[2 * K + 1] = tanhf(0.5f * o[3 * K + 1]); /* 2 sigmoid(l) - 1 */
    }
}

void ns_repr_expect(const ns_repr *r, float *x0, const float *out, size_t rows)
{
    ns_repr_expect_guided(r, x0, (float *)out, out, NULL, 1.0f, rows);
}

void ns_repr_decode_row(const ns_repr *r, const float *out, int8_t *row, uint8_t *dir, int64_t *iat_ns)
{
    int K = r->n_bits;
    memcpy(row, r->fixed, (size_t)r->width);
    for (int j = 0; j < K; j++) {
        const float *l = out + 3 * j;
        int best = l[1] > l[0] ? 1 : 0;
        if (l[2] > l[best]) best = 2;
        row[r->cols[j]] = (int8_t)(best - 1);
    }
    *dir = out[3 * K + 1] > 0;
    double secs = exp((double)out[3 * K] * r->iat_std + r->iat_mean) - NS_REPR_IAT_FLOOR;
    if (!(secs > 0)) secs = 0;    /* also catches NaN */
    if (secs > 86400) secs = 86400; /* a day: more is no inter-arrival time of one flow */
    *iat_ns = (int64_t)llround(secs * 1e9);
}
