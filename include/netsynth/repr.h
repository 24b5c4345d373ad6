/* repr.h: how a flow looks to the diffusion model, and back.
 *
 * Of the 1920 nPrint values of a row, only the columns that vary in the
 * training data are modelled (about half: the rest, e.g. the IPv4 version or
 * the blanked addresses, are constants, kept here and put back on decode).
 * Each modelled value v in {-1, 0, 1} becomes two analog channels:
 *     present = v >= 0 ? +1 : -1        bit = v == 1 ? +1 : v == 0 ? -1 : 0
 * and each row adds two more: the standardised log inter-arrival time and
 * the direction (+1 server->client, -1 client->server).
 *
 * The network answers, per row, 3 logits per modelled value (absent, 0, 1),
 * the timing and one direction logit (the same order as the input: values,
 * timing, direction); the x_0 estimate a sampler needs is the expected
 * analog encoding under those probabilities, and the final rows are their
 * argmax.
 *
 * The timing is either (timing_bins > 0) logits over timing_bins bins of
 * equal width that cover the training data's standardised log inter-arrival
 * times [bin_lo, bin_hi], then NS_MODEL_TIMING_SUB logits of the position
 * within the bin (its sixteenths), both trained with cross-entropy like the
 * values, or (timing_bins = 0, models before the bins) the standardised log
 * time itself, regressed. The reason is guidance: uncond + g (cond - uncond)
 * on logits sharpens a class's own distribution and cannot leave the bins
 * the class uses, where on a regressed value it extrapolates past the
 * class's times (with g = 2 the 200 ms class came out 5x too slow). The x_0
 * estimate is the expected bin plus the expected position within it; the
 * decoded time a bin and a sub-bin drawn from the last guided probabilities
 * and a position drawn uniformly within the sub-bin: times are not quantised
 * to bin centres, and a timer's spike (a sender every 16.0 ms) stays as
 * narrow as a sixteenth of a bin instead of spreading over the bin. */
#ifndef NETSYNTH_REPR_H
#define NETSYNTH_REPR_H
#ifdef __cplusplus
extern "C" {
#endif
#pragma GCC visibility push(default)

#include <stddef.h>
#include <stdint.h>

#include "netsynth/dataset.h"
#include "netsynth/model.h"
#include "netsynth/nprint.h"
#include "netsynth/rng.h"

typedef struct ns_repr {
    int32_t width;                       /* values per nPrint row: NS_NP_MODEL_WIDTH */
    int32_t n_bits;                      /* K: modelled columns */
    uint16_t cols[NS_NP_MODEL_WIDTH];    /* [K] their columns, ascending */
    int8_t fixed[NS_NP_MODEL_WIDTH];     /* the constant of every other column */
    float iat_mean, iat_std;             /* of log(iat seconds + NS_REPR_IAT_FLOOR) */
    int32_t timing_bins;                 /* 0: regressed timing; else the bins (see above) */
    float bin_lo, bin_hi;                /* standardised log times the bins cover */
} ns_repr;

#define NS_REPR_IAT_FLOOR 1e-6
#define NS_REPR_TIMING_BINS 256          /* train's default (BENCHMARK.md, Timing) */
/* Analog values in / network outputs out, per row. */
static inline int ns_repr_in_dim(const ns_repr *r) { return 2 * r->n_bits + 2; }
static inline int ns_repr_out_dim(const ns_repr *r)
{
    return 3 * r->n_bits + 2 + (r->timing_bins ? r->timing_bins + NS_MODEL_TIMING_SUB - 1 : 0);
}

/* Choose the modelled columns and the timing statistics from a dataset:
 * timing_bins bins over the data's range of standardised log times (0: the
 * regressed timing; otherwise 2..NS_MODEL_MAX_TIMING_BINS). */
int ns_repr_fit(ns_repr *r, const ns_dataset *ds, int timing_bins);
/* The payload bytes a representation generates: up to the byte of its last
 * payload column that is modelled or a present constant (0: headers only,
 * as with `dataset --payload 0`). */
int ns_repr_payload_bytes(const ns_repr *r);

/* Flow `flow` of ds as the model sees it, its first n = min(n_packets, T)
 * rows (rows n..T-1 are left untouched):
 *   x0[T, in_dim]  analog encoding;   cls[T, K]  class per value (v + 1);
 *   dir[T]  0/1;   iat[T]  the timing target ns_model_loss takes: the
 *   standardised log inter-arrival time, or with bins its position in bin
 *   units, in [0, timing_bins).
 * Any output may be NULL. Returns n. */
int ns_repr_encode(const ns_repr *r, const ns_dataset *ds, uint64_t flow, int T, float *x0, uint8_t *cls,
                   uint8_t *dir, float *iat);
/* The same for the window of the flow's rows from `start` on (its first
 * row keeps its inter-arrival time: a window inside a flow, as generation
 * continues one). Returns min(n_packets - start, T). */
int ns_repr_encode_window(const ns_repr *r, const ns_dataset *ds, uint64_t flow, uint32_t start, int T, float *x0,
                          uint8_t *cls, uint8_t *dir, float *iat);

/* One nPrint row[width], its direction and inter-arrival time as the
 * analog x[in_dim] that ns_repr_encode writes for a dataset's row (for rows
 * held in place while sampling: generate's continuation windows). */
void ns_repr_encode_row(const ns_repr *r, const int8_t *row, uint8_t dir, int64_t iat_ns, float *x);

/* Network outputs out[rows, out_dim] -> the expected x0[rows, in_dim]. */
void ns_repr_expect(const ns_repr *r, float *x0, const float *out, size_t rows);
/* The same from classifier-free guidance's two outputs in one pass:
 * out = uncond + g (cond - uncond) (uncond NULL: out = cond; out may be
 * cond then), and x0 the expectation under out. The timing bins take
 * g_time instead of g (a regressed timing takes g, as it always did). */
void ns_repr_expect_guided(const ns_repr *r, float *x0, float *out, const float *cond, const float *uncond, float g,
                           float g_time, size_t rows);

/* One output row -> an nPrint row[width] (argmax per value, constants put
 * back), its direction and inter-arrival time in nanoseconds. With timing
 * bins, rng draws the bin and the sub-bin from the row's probabilities and
 * the position in the sub-bin (rng NULL: the centre of the most likely
 * sub-bin of the most likely bin). */
void ns_repr_decode_row(const ns_repr *r, const float *out, int8_t *row, uint8_t *dir, int64_t *iat_ns, ns_rng *rng);

#pragma GCC visibility pop
#ifdef __cplusplus
}
#endif

#endif
