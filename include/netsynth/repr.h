/* repr.h: how a flow looks to the diffusion model, and back.
 *
 * Of the 1088 nPrint values of a row, only the columns that vary in the
 * training data are modelled (about half: the rest, e.g. the IPv4 version or
 * the blanked addresses, are constants, kept here and put back on decode).
 * Each modelled value v in {-1, 0, 1} becomes two analog channels:
 *     present = v >= 0 ? +1 : -1        bit = v == 1 ? +1 : v == 0 ? -1 : 0
 * and each row adds two more: the standardised log inter-arrival time and
 * the direction (+1 server->client, -1 client->server).
 *
 * The network answers, per row, 3 logits per modelled value (absent, 0, 1),
 * the standardised log inter-arrival time and one direction logit (the same
 * order as the input: values, timing, direction); the x_0
 * estimate a sampler needs is the expected analog encoding under those
 * probabilities, and the final rows are their argmax. */
#ifndef NETSYNTH_REPR_H
#define NETSYNTH_REPR_H
#ifdef __cplusplus
extern "C" {
#endif
#pragma GCC visibility push(default)

#include <stddef.h>
#include <stdint.h>

#include "netsynth/dataset.h"
#include "netsynth/nprint.h"

typedef struct ns_repr {
    int32_t width;                       /* values per nPrint row: NS_NP_MODEL_WIDTH */
    int32_t n_bits;                      /* K: modelled columns */
    uint16_t cols[NS_NP_MODEL_WIDTH];    /* [K] their columns, ascending */
    int8_t fixed[NS_NP_MODEL_WIDTH];     /* the constant of every other column */
    float iat_mean, iat_std;             /* of log(iat seconds + NS_REPR_IAT_FLOOR) */
} ns_repr;

#define NS_REPR_IAT_FLOOR 1e-6
/* Analog values in / network outputs out, per row. */
static inline int ns_repr_in_dim(const ns_repr *r) { return 2 * r->n_bits + 2; }
static inline int ns_repr_out_dim(const ns_repr *r) { return 3 * r->n_bits + 2; }

/* Choose the modelled columns and the timing statistics from a dataset. */
int ns_repr_fit(ns_repr *r, const ns_dataset *ds);

/* Flow `flow` of ds as the model sees it, its first n = min(n_packets, T)
 * rows (rows n..T-1 are left untouched):
 *   x0[T, in_dim]  analog encoding;   cls[T, K]  class per value (v + 1);
 *   dir[T]  0/1;   iat[T]  standardised log inter-arrival time.
 * Any output may be NULL. Returns n. */
int ns_repr_encode(const ns_repr *r, const ns_dataset *ds, uint64_t flow, int T, float *x0, uint8_t *cls,
                   uint8_t *dir, float *iat);

/* Network outputs out[rows, out_dim] -> the expected x0[rows, in_dim]. */
void ns_repr_expect(const ns_repr *r, float *x0, const float *out, size_t rows);
/* The same from classifier-free guidance's two outputs in one pass:
 * out = uncond + g (cond - uncond) (uncond NULL: out = cond; out may be
 * cond then), and x0 the expectation under out. */
void ns_repr_expect_guided(const ns_repr *r, float *x0, float *out, const float *cond, const float *uncond, float g,
                           size_t rows);

/* One output row -> an nPrint row[width] (argmax per value, constants put
 * back), its direction and inter-arrival time in nanoseconds. */
void ns_repr_decode_row(const ns_repr *r, const float *out, int8_t *row, uint8_t *dir, int64_t *iat_ns);

#pragma GCC visibility pop
#ifdef __cplusplus
}
#endif

#endif
