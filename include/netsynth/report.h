/* report.h: the whole fidelity report of `netsynth eval`.
 *
 * One run gathers: the classifier runs (eval.h); with synthetic flows, the
 * per-field distances and memorisation (distance.h, real train vs synthetic,
 * classes of the first label level) and the coverage (flows per class of
 * every level: real train, synthetic, and the flows requested when SYNTH was
 * generated --like REAL, i.e. REAL's counts); with capture tables on both
 * sides, compliance: tshark's counts over each side's captures (concatenated
 * with mergecap; IP, TCP and UDP checksum checks on) of malformed packets,
 * bad checksums, expert errors and warnings (and these by kind). It prints as
 * a table, writes as JSON (every number) and as one self-contained HTML page
 * (inline CSS, PNG flow images under a legend of header bands, SVG histograms
 * and CDFs of packet size and inter-arrival time per class with axes and
 * counts, chance beside every accuracy, per-class precision/recall/F1; no
 * script, no network). With REAL as a capture
 * table, the traces too (trace.h: flow starts, hosts, ports, handshake RTT,
 * inter-arrival times, TCP timestamps, per class, each side that is a table).
 * With the real test captures and SYNTH as tables, the application layer per
 * class of the first label (applayer.h: nDPI's and tshark's shares).
 * Given the model file that made SYNTH, its provenance heads the report. */
#ifndef NETSYNTH_REPORT_H
#define NETSYNTH_REPORT_H
#ifdef __cplusplus
extern "C" {
#endif
#pragma GCC visibility push(default)

#include <stdint.h>
#include <stdio.h>

#include "netsynth/applayer.h"
#include "netsynth/distance.h"
#include "netsynth/eval.h"
#include "netsynth/trace.h"

/* One kind of tshark expert message: severity, group, protocol and summary
 * with what varies per packet dropped (a bracketed tail such as
 * "[should be 0xdc32]"), and how many packets got it. */
typedef struct ns_compliance_kind {
    char severity[8];   /* "error", "warning" */
    char group[24];     /* "Checksum", "Malformed", "Sequence", ... */
    char protocol[24];  /* "UDP" */
    char summary[96];   /* "Bad checksum" */
    uint64_t count;
} ns_compliance_kind;

#define NS_COMPLIANCE_KINDS 32
typedef struct ns_compliance {
    uint64_t packets, malformed, bad_checksums, errors, warnings;
    /* Errors and warnings by kind, most frequent first; past NS_COMPLIANCE_KINDS
     * kinds the rest are counted in other_kinds. */
    size_t n_kinds;
    ns_compliance_kind kinds[NS_COMPLIANCE_KINDS];
    uint64_t other_kinds;
} ns_compliance;

/* tshark over captures[n]; NS_EIO when tshark or mergecap cannot run. */
int ns_compliance_tshark(ns_compliance *c, char *const *captures, size_t n, const char *name);

typedef struct ns_report_inputs {
    ns_eval_inputs eval;
    char *const *real_captures, *const *synth_captures; /* NULL: not tables */
    size_t n_real_captures, n_synth_captures;
    int like;              /* SYNTH was generated --like REAL */
    int compliance;        /* run tshark when both sides are tables */
    int applayer;          /* run nDPI and tshark per class (applayer.h) when the real test
                            * side (trace_src[NS_EVAL_TEST]) and SYNTH are tables */
    const char *command;   /* what produced the report, shown in it */
    int trace;             /* measure the traces (trace.h) of the sides given as tables */
    ns_trace_source trace_src[NS_EVAL_SIDES];
    /* The model file that made SYNTH (NULL: not given) and its provenance
     * lines (modelfile.h; NULL: none recorded), shown in the report. */
    const char *model_path, *model_provenance;
} ns_report_inputs;

typedef struct ns_report {
    ns_report_inputs in;   /* the datasets must outlive the report */
    ns_eval_report eval;
    ns_eval_side sides[NS_EVAL_SIDES];
    int has_synth;
    ns_dist_report dist;
    ns_memo_report memo;
    ns_memo_payload pmemo;            /* payload bytes (bytes 0: the training data has none) */
    uint64_t **cov_real, **cov_synth; /* [level][class]: flows of the real train and synthetic sides */
    ns_eval_whole *whole;             /* NULL, or [classes of level 0 + 1]: whole flows (eval.h) */
    int has_compliance;
    ns_compliance comp_real, comp_synth;
    char compliance_note[256];        /* why there is none */
    int has_applayer;
    ns_applayer applayer;
    char applayer_note[256];          /* why there is none */
    double applayer_s;
    int has_trace;
    ns_trace_report trace;
    char trace_note[256];             /* why there is none */
    double eval_s, dist_s, memo_s, compliance_s;
} ns_report;

int ns_report_run(ns_report *r, const ns_report_inputs *in, const ns_eval_opts *o);
void ns_report_free(ns_report *r);

/* The classifier table, then the other measures (the 10 worst fields). */
void ns_report_print(const ns_report *r, FILE *fp);
int ns_report_write_json(const ns_report *r, const char *path);
int ns_report_write_html(const ns_report *r, const char *path);

#pragma GCC visibility pop
#ifdef __cplusplus
}
#endif

#endif
