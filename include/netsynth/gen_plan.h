/* gen_plan.h: what to generate for a set of classes, and generating it.
 *
 * A plan is a list of requests, each a prompt, the labels its flows are
 * written with, a count and a file name: N flows for every trained value of
 * one attribute (generate --per-class), or as many flows per label
 * combination as a dataset has (generate --like, a like-for-like synthetic
 * copy for eval). Library users and benchmarks make the same plans as the
 * CLI; ns_gen_write_dir (gen_write.h) writes a plan's flows as a directory. */
#ifndef NETSYNTH_GEN_PLAN_H
#define NETSYNTH_GEN_PLAN_H
#ifdef __cplusplus
extern "C" {
#endif
#pragma GCC visibility push(default)

#include <stddef.h>
#include <stdint.h>

#include "netsynth/dataset.h"
#include "netsynth/generate.h"
#include "netsynth/modelfile.h"

typedef struct ns_gen_request {
    int32_t *ids;        /* [n_attrs] the prompt: a token id per attribute, or -1 */
    int32_t *labels;     /* [n_attrs] the labels its flows are written with */
    size_t n;            /* flows */
    size_t n_caps;       /* the captures they form (--like: one per capture of the dataset
                          * with flows of the combination), caps[i] flows each, summing to
                          * n; 0: one capture. Written one pcap each when the trace model
                          * lays them out (tmodel.h); ns_gen_plan_one_capture undoes it. */
    size_t *caps;
    char name[256];      /* the class as a file name: its values joined by '_', letters, digits
                          * and "-.+" kept, anything else '_' */
    uint32_t *svc;       /* NULL, or [n] (--like): the service of each real flow it stands in
                          * for, NS_GEN_SVC(proto, server port), capture by capture in start
                          * order; ns_generate_plan then picks generated flows to match */
    int64_t *span_ns;    /* NULL, or [n_caps] (--like): first to last flow start of the real
                          * capture each stands in for; the trace plan spreads the capture's
                          * flows over as long (tmodel.h) */
    int64_t *end_ns;     /* NULL, or [n_caps] (--like): first flow start to the last packet of the
                          * real capture's flows, 0 where the dataset cut one short (--packets); a
                          * version 12 trace model ends the capture's flows by then where they
                          * fit (tmodel.h) */
} ns_gen_request;

/* A flow's service: its transport and server port (0 for ICMP). Matching
 * sizes too (the log2 class of its packets) put a download's bulk flow
 * first, as real, but drew more flows from the model's tails, whose timing
 * is worse: iperf-udp's inter-arrival KS went from 0.054 to 0.103
 * (BENCHMARK.md, Traces: the service mix). */
#define NS_GEN_SVC(proto, port) ((uint32_t)(proto) << 16 | ((proto) == 1 ? 0u : (uint32_t)(port)))
/* Generated flow i's NS_GEN_SVC (ns_repair_flow_service on its rows). */
int ns_gen_flow_svc(const ns_gen_flows *g, size_t i, uint32_t *svc);

typedef struct ns_gen_plan {
    uint32_t n_attrs;    /* the model's */
    size_t n;            /* requests */
    ns_gen_request *req; /* [n] */
} ns_gen_plan;

/* n flows for each value of the attribute `label` (NULL: the first) that
 * the model learned (a value whose flows were all left out of training is
 * skipped: there is no class to ask for). A request's labels are its value
 * and what it implies (ns_gen_implied_labels). NS_EARG for an unknown
 * attribute or a model without labels. */
int ns_gen_plan_per_class(ns_gen_plan *p, const ns_modelfile *m, const char *label, size_t n);
/* As many flows per label combination of ds as it has flows, in the order
 * the combinations first appear; a request's labels are its prompt. `name`
 * names ds in messages. NS_EMISMATCH when ds has an attribute or a label the
 * model does not know, or one it never trained. */
int ns_gen_plan_like(ns_gen_plan *p, const ns_modelfile *m, const ns_dataset *ds, const char *name);
void ns_gen_plan_free(ns_gen_plan *p);
/* Every request one capture (n_caps 0): the fixed plan's one pcap per class. */
void ns_gen_plan_one_capture(ns_gen_plan *p);
/* Flows planned, summed over the requests. */
size_t ns_gen_plan_flows(const ns_gen_plan *p);

/* labels[n_attrs]: ids[n_attrs], and in each attribute ids leave unset the
 * value that every training combination agreeing with ids has, if there is
 * one (device=HueBridge implies device_type=hub-gateway); else -1. */
void ns_gen_implied_labels(const ns_modelfile *m, const int32_t *ids, int32_t *labels);

/* Generate every request's flows and append them to out, request k's after
 * request k-1's, each flow labelled with its request's labels: one call of
 * ns_generate_many, so flows of every class share batches. Flow i takes
 * stream stream0 + i. A request with svc gets, for each of its flows in
 * turn, the first generated flow of its prompt with that service not taken
 * yet: a prompt's mix of services is the model's, and guidance tilts it
 * toward the class's most telling service (iperf-udp's UDP stream over its
 * TCP control connection), so when the first flows leave services short,
 * up to NS_GEN_SVC_ROUNDS more rounds generate 2, 4, 8 ... flows for each
 * short one (streams stream0 + total on; all rounds at most
 * NS_GEN_SVC_ROUNDS times the plan's flows); what no round matched takes
 * the request's flows left over, in order. */
#define NS_GEN_SVC_ROUNDS 4
int ns_generate_plan(const ns_modelfile *m, const ns_gen_opts *o, const ns_gen_plan *p, uint64_t stream0,
                     ns_gen_flows *out);

#pragma GCC visibility pop
#ifdef __cplusplus
}
#endif

#endif
