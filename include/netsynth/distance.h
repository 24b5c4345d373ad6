/* distance.h: how far synthetic flows lie from real ones.
 *
 * Distributions, field by field. Each header field of the model's layers
 * (nprint.h) takes, in every row of a flow's first n packets, the value of
 * its bits as an integer; "absent" (a bit -1) is a value of its own, and the
 * 320-bit option fields are hashed (packet length is one of these fields,
 * ipv4_tl). Two more: inter-arrival time ("iat", rows after a flow's first,
 * in quarter-octave bins of microseconds: bin 0 is under 1 us, bin b >= 1
 * starts at 2^((b - 1) / 4) us) and flow length ("flow_packets", rows kept
 * per flow). Between the real and the synthetic distributions:
 *   JSD        Jensen-Shannon divergence, base 2: 0 identical, 1 disjoint
 *   TV         total variation, half the L1 distance: 0..1
 *   Hellinger  sqrt(1 - sum sqrt(p q)): 0..1
 *   EMD        earth mover's distance of the present values, numeric fields
 *              only (1-D: the area between the two CDFs), in the field's unit
 *              (bytes, hops, octaves of iat, packets); NaN otherwise.
 * Overall and per class; fields are listed worst (highest JSD) first, the
 * per-flow-random ones after all the others (see below).
 *
 * Per-flow-random fields take a fresh value in every flow by design (IP ID,
 * IP/TCP/UDP/ICMP checksums, TCP sequence and acknowledgement numbers, ICMP's
 * rest of header, TCP options, which carry timestamp values); the rule is a
 * flag per field in distance.c's table, not a measurement. Their JSD against
 * another capture is near 1 even for real flows of the same device, so they
 * are ranked apart, and judged by what matters for them: the distinct-value
 * rate (distinct values / values compared, per side) and the within-flow
 * change rate (share of a flow's later rows whose value differs from the row
 * before it, per side), which both measure for every field.
 *
 * Memorisation. A flow is its first n packets as nPrint rows, addresses and
 * ports blanked (features.h), timing aside; the distance of two flows is the
 * number of values that differ (Hamming). For each synthetic flow and each
 * real test flow: the distance to its nearest real training flow. A share of
 * synthetic flows at distance 0 well above the real test flows' share says
 * the generator copies; distances well under the test flows' say it stays
 * close to what it saw. Flows are bit-packed (two bit planes: value 1, value
 * -1; 64-value groups equal in every flow dropped, the most varied first) and
 * compared with popcount (AVX-512 VPOPCNTQ where the CPU has it, unless
 * NETSYNTH_NO_AVX512 is set). A query with a twin is answered by hash; else
 * the training flows are walked outward from the query's count of -1 values
 * (the difference of the counts is a lower bound of the distance) until that
 * bound reaches the best so far, and each candidate is dropped as soon as
 * its partial distance does. Queries run in parallel.
 */
#ifndef NETSYNTH_DISTANCE_H
#define NETSYNTH_DISTANCE_H
#ifdef __cplusplus
extern "C" {
#endif
#pragma GCC visibility push(default)

#include <stddef.h>
#include <stdint.h>

#include "netsynth/dataset.h"

/* Flows of one dataset: idx[n] (NULL: flows 0..n-1), and optionally their
 * class ids cls[n] (-1: none) in [0, n_classes); name is for messages. */
typedef struct ns_dist_flows {
    const ns_dataset *ds;
    const char *name;
    const uint64_t *idx;
    size_t n;
    const int32_t *cls;
} ns_dist_flows;

typedef struct ns_dist_value {
    double jsd, tv, hellinger, emd;   /* NaN where undefined (no values, not numeric) */
} ns_dist_value;

/* A histogram of a field for display: bars of real and synthetic shares. */
#define NS_DIST_BARS 22
typedef struct ns_dist_hist {
    int n;
    char label[NS_DIST_BARS][32];
    double real[NS_DIST_BARS], synth[NS_DIST_BARS];
} ns_dist_hist;

typedef struct ns_dist_field {
    char name[24];            /* "ipv4_ttl", "iat", "flow_packets" */
    const char *unit;         /* of the EMD: "bytes", "octaves", ...; NULL when not numeric */
    uint64_t n_real, n_synth; /* values compared */
    ns_dist_value all;
    ns_dist_value *per_class; /* [n_classes] */
    ns_dist_hist hist;
    int per_flow_random;      /* by nature (see above): ranked after the others */
    double distinct[2];       /* [real, synth]: distinct values / values compared; NaN: none */
    double changes[2];        /* [real, synth]: within-flow change rate; NaN: no later rows */
} ns_dist_field;

typedef struct ns_dist_report {
    int packets, n_classes;
    size_t n_fields;
    ns_dist_field *fields;    /* worst first */
} ns_dist_report;

/* Compare the first `packets` rows of real and synthetic flows; per class
 * when both give classes. threads 0: OpenMP's default. */
int ns_dist_compare(ns_dist_report *r, const ns_dist_flows *real, const ns_dist_flows *synth, int n_classes,
                    int packets, int threads);
void ns_dist_report_free(ns_dist_report *r);

/* The four measures of two histograms of counts p[k], q[k] (normalised
 * here); x[k] the values for the EMD (NULL: no EMD), ascending. */
ns_dist_value ns_dist_measures(const double *p, const double *q, const double *x, size_t k);

typedef struct ns_memo_report {
    int packets;
    size_t n_train, n_test, n_synth, values;  /* values per flow: packets x 1920 */
    double synth_copied, test_copied;         /* share at distance 0 */
    double synth_median, synth_p5, test_median, test_p5;
    uint32_t *synth_nearest, *test_nearest;   /* [n_synth], [n_test] */
} ns_memo_report;

/* Nearest training flow of every synthetic and every test flow (test may be
 * NULL). Percentiles are nearest-rank: the value at index floor(q (n - 1))
 * of the sorted distances. threads 0: OpenMP's default. */
int ns_memo_compare(ns_memo_report *m, const ns_dist_flows *train, const ns_dist_flows *test,
                    const ns_dist_flows *synth, int packets, int threads);
void ns_memo_report_free(ns_memo_report *m);

/* Memorisation of payload bytes. A payload is the leading bytes of a row's
 * payload layer whose bits are all present (what `dataset --payload N` kept,
 * or what the model generated), in a flow's first `packets` rows, cut to the
 * training set's N. For each synthetic payload and each real test payload:
 * whether it is byte for byte (and length for length) a training payload,
 * and the longest run of consecutive bytes it shares with any training
 * payload. Protocol constants ("HTTP/1.1", a TLS record header, a DNS
 * question) are shared by real flows too: the test side is the baseline
 * that says what copying is not. Longest runs come from a suffix array of
 * the distinct training payloads. */
typedef struct ns_memo_payload_side {
    size_t flows, payloads;          /* flows with a payload; payloads compared */
    double identical;                /* share identical to a training payload (NaN: none) */
    double run_median, run_p95;      /* longest shared run, bytes: nearest-rank percentiles */
    int run_max;
    double run_whole;                /* share whose every byte (at least 8) is one shared run */
} ns_memo_payload_side;

typedef struct ns_memo_payload {
    int packets, bytes;              /* rows per flow; bytes compared (the training set's N) */
    size_t train_payloads, train_distinct;
    ns_memo_payload_side synth, test; /* test.payloads 0: no test side, or no payload in it */
} ns_memo_payload;

/* The payload memorisation of synth (and test, may be NULL) against train.
 * With no payload bytes in train (N = 0), *m says so (bytes 0) and NS_OK. */
int ns_memo_payload_compare(ns_memo_payload *m, const ns_dist_flows *train, const ns_dist_flows *test,
                            const ns_dist_flows *synth, int packets, int threads);

#pragma GCC visibility pop
#ifdef __cplusplus
}
#endif

#endif
