/* trace.h: what captures look like above and between their flows, per class.
 *
 * A capture is read once (flows as flow.h keys them: IPv4, the default idle
 * timeout; packets as packet.h decodes them) and measured:
 *   duration       first to last packet that belongs to a flow
 *   flow starts    flows / duration, per second (NaN for a duration of 0);
 *                  and the gaps between consecutive flow starts
 *   hosts          distinct client addresses, distinct server addresses
 *   flows per client host    median and maximum over the client hosts
 *   client ports per client host    distinct (address, port) pairs of the
 *                  clients of TCP and UDP flows / their distinct addresses
 *   handshake RTT  TCP: from the client's latest SYN (no ACK) to the server's
 *                  first SYN/ACK after it, once per flow
 *   inter-arrival  gaps between consecutive packets of a flow, either
 *                  direction, among its first `window` packets (the window
 *                  the classifier sees, so real and generated flows of
 *                  capped length compare like for like)
 *   flow duration  first to last packet of each flow, all its packets
 *   TSval          TCP packets with a timestamp option. Each is compared with
 *                  the previous one of the same sender in the same flow,
 *                  step = TSval - its TSval (mod 2^32, RFC 1982 serial
 *                  arithmetic; so one outlier counts twice, going and
 *                  coming back, and a clock reset once), dt = the capture
 *                  time between the two packets: "backwards" when step < 0;
 *                  a "jump" when the step implies a clock outside
 *                  [1 Hz, 10 kHz] (RFC 7323's 1 ms..1 s per tick, with
 *                  room for a 10 kHz clock): step > 10000 (dt + 10 ms) + 1,
 *                  or step < 1 (dt - 10 ms) - 1, dt in seconds, step in
 *                  ticks. The 10 ms is time a packet may
 *                  wait between being stamped and being captured (queues),
 *                  the 1 tick the clock's granularity.
 *   PSH without payload    TCP packets with PSH set and no payload (IP total
 *                  length minus the IP and TCP headers is 0)
 * Times are seconds. Per class of a label column, over a side's captures:
 * counts summed, shares pooled, per capture numbers as the median across
 * captures, and the samples (start gaps, RTTs, inter-arrival times, flow
 * durations) pooled and sorted, with their medians. The KS distance of the
 * pooled inter-arrival times (the same for their logarithms: it depends
 * only on order) compares real train with synthetic, and with real test
 * as the floor. */
#ifndef NETSYNTH_TRACE_H
#define NETSYNTH_TRACE_H
#ifdef __cplusplus
extern "C" {
#endif
#pragma GCC visibility push(default)

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "netsynth/eval.h"

/* Jump bounds, see above. */
#define NS_TRACE_TS_MAX_HZ 10000.0
#define NS_TRACE_TS_MIN_HZ 1.0
#define NS_TRACE_TS_QUEUE_S 0.010

typedef struct ns_trace_opts {
    int window;               /* packets per flow whose gaps count: 16; 0 all */
    int64_t idle_timeout_ns;  /* NS_FLOW_DEFAULT_IDLE_NS */
    int threads;              /* captures read in parallel; 0 OpenMP's default */
} ns_trace_opts;

void ns_trace_opts_init(ns_trace_opts *o);

enum { NS_TRACE_GAP, NS_TRACE_RTT, NS_TRACE_IAT, NS_TRACE_DURATION, NS_TRACE_SAMPLES };

typedef struct ns_trace_sample {
    double *v;
    size_t n;
} ns_trace_sample;

typedef struct ns_trace_capture {
    uint64_t packets, flows;  /* frames read; flows */
    double duration_s, flow_rate;
    uint32_t client_hosts, server_hosts, flows_per_client_max;
    double flows_per_client_median;
    double client_ports_per_client; /* NaN without TCP or UDP flows */
    uint64_t tcp_packets, ts_packets, ts_backwards, ts_jumps, psh_empty;
    ns_trace_sample s[NS_TRACE_SAMPLES]; /* in the order met */
} ns_trace_capture;

int ns_trace_measure(ns_trace_capture *m, const char *path, const ns_trace_opts *o);
void ns_trace_capture_free(ns_trace_capture *m);

/* The two-sample Kolmogorov-Smirnov distance sup |F_a - F_b| of two sorted
 * samples; NaN when either is empty. */
double ns_trace_ks(const double *a, size_t na, const double *b, size_t nb);
/* The median of a sorted sample (the mean of the middle two for an even
 * count); NaN when empty. */
double ns_trace_median(const double *v, size_t n);

/* One class on one side. Medians across captures are NaN where no capture
 * has the value (e.g. no handshake). */
typedef struct ns_trace_class {
    size_t captures;
    uint64_t packets, flows, tcp_packets, ts_packets, ts_backwards, ts_jumps, psh_empty;
    double flow_rate, client_hosts, server_hosts, flows_per_client_median, flows_per_client_max;
    double client_ports_per_client;
    double capture_median[NS_TRACE_SAMPLES]; /* of each capture's sample median */
    ns_trace_sample pooled[NS_TRACE_SAMPLES]; /* sorted */
    double pooled_median[NS_TRACE_SAMPLES];
} ns_trace_class;

typedef struct ns_trace_level {
    char *name;
    int n_classes;
    char **classes;                       /* sorted, over every side */
    ns_trace_class *side[NS_EVAL_SIDES];  /* [n_classes]; NULL: side absent */
    double *ks_test, *ks_synth;           /* [n_classes]: inter-arrival KS of real train vs real test / synthetic */
} ns_trace_level;

/* The captures of a side: a labels.tsv table's rows (a `path` column, label
 * columns), those whose `split` column is `split` (NULL: every row). */
typedef struct ns_trace_source {
    const char *table;   /* NULL: the side is absent */
    const char *split;
} ns_trace_source;

typedef struct ns_trace_report {
    ns_trace_opts opts;
    int has_side[NS_EVAL_SIDES];
    size_t n_captures;
    char **paths;             /* [n_captures], resolved */
    int *capture_side;        /* [n_captures] */
    ns_trace_capture *captures;
    size_t n_levels;
    ns_trace_level *levels;
    double seconds;
} ns_trace_report;

/* labels: comma-separated columns, one level each. The train side is needed. */
int ns_trace_run(ns_trace_report *r, const ns_trace_source src[NS_EVAL_SIDES], const char *labels,
                 const ns_trace_opts *o);
void ns_trace_report_free(ns_trace_report *r);

/* A table per level, a line per class and side. */
void ns_trace_print(const ns_trace_report *r, FILE *fp);
/* `"trace": {...}` as one JSON member (no comma, indented two spaces); with
 * r NULL, {"note": note}. */
void ns_trace_json_member(const ns_trace_report *r, const char *note, FILE *fp);
/* An HTML section (<h2>Traces</h2> and its tables); r NULL: the note. */
void ns_trace_html(const ns_trace_report *r, const char *note, FILE *fp);

#pragma GCC visibility pop
#ifdef __cplusplus
}
#endif

#endif
