/* generate.h: sampling flows from a trained model for a prompt.
 *
 * Per flow: its length is drawn from the model's length head for the
 * prompt; then its rows are denoised from Gaussian noise with classifier-free
 * guidance (guided = uncond + g (cond - uncond), on the network's outputs),
 * and each value is the argmax of the last step's guided class probabilities.
 * Flows are batched by length so that little is padded. Flow i of a call
 * takes everything random from stream i of the seed: the same seed and
 * options give the same flows. (Another batch size changes which matrix
 * shapes the BLAS sees, and so the last bits of a sum: the odd timing may
 * then differ by a nanosecond.) */
#ifndef NETSYNTH_GENERATE_H
#define NETSYNTH_GENERATE_H

#include <stddef.h>
#include <stdint.h>

#include "netsynth/dataset.h"
#include "netsynth/diffusion.h"
#include "netsynth/modelfile.h"

typedef struct ns_gen_opts {
    ns_sampler sampler;     /* kind and steps */
    float guidance;         /* 1: conditional only; > 1 pushes toward the prompt */
    uint64_t seed;
    int batch;              /* flows denoised together */
    int length;             /* > 0: every flow has this many packets (else the length head decides) */
} ns_gen_opts;

void ns_gen_opts_init(ns_gen_opts *o);

/* Generated flows, growing as prompts are added; rows are nPrint rows of
 * NS_NP_MODEL_WIDTH values. */
typedef struct ns_gen_flows {
    uint32_t n_attrs;
    size_t n_flows, n_rows;
    uint32_t *len;          /* [n_flows] rows per flow */
    size_t *first;          /* [n_flows] first row */
    int32_t *labels;        /* [n_flows * n_attrs] the prompt's token per attribute, or -1 */
    int8_t *rows;           /* [n_rows * NS_NP_MODEL_WIDTH] */
    uint8_t *dir;           /* [n_rows] */
    int64_t *iat_ns;        /* [n_rows] */
    size_t cap_flows_, cap_rows_;
} ns_gen_flows;

void ns_gen_flows_free(ns_gen_flows *g);

/* Parse a prompt such as "device=HueBridge device_type=hub-gateway" (tokens
 * separated by spaces or commas) into ids[n_attrs] (-1 where the prompt says
 * nothing). An unknown token, or two values of one attribute, is NS_EARG
 * with a message that lists the vocabulary. */
int ns_gen_parse_prompt(const ns_modelfile *m, const char *text, int32_t *ids);

/* Generate n flows for the prompt ids[n_attrs] and append them to out.
 * `stream0` offsets the seed's streams (so that successive prompts of one run
 * differ); progress, when not NULL, is called after every batch. */
int ns_generate(const ns_modelfile *m, const ns_gen_opts *o, const int32_t *ids, size_t n, uint64_t stream0,
                ns_gen_flows *out);

/* Write generated flows as a dataset file (addresses blank, ports as
 * generated, files[0] = `source`, a note of where they came from). */
int ns_gen_write_dataset(const ns_gen_flows *g, const ns_modelfile *m, const char *source, const char *path);
/* Write generated flows as nPrint CSV (IPv4, TCP, UDP, ICMP), index column
 * "flow" = the flow's number, with rts = microseconds since the previous row. */
int ns_gen_write_csv(const ns_gen_flows *g, const char *path);

/* Write generated flows first..first+count-1 as an Ethernet pcap, for now
 * with the minimum that makes rows packets: each flow gets one 5-tuple (its
 * generated server port, client 10.0.0.0/24 and ephemeral ports, server
 * 198.51.100.0/24), lengths and checksums are recomputed, and flows follow
 * one another in time from start_ns. Rows that are still no packet (no IP
 * header, two transports) are left out and counted in *skipped. The full
 * repair of headers and TCP state is the compliance module's job. */
int ns_gen_write_pcap(const ns_gen_flows *g, size_t first, size_t count, int64_t start_ns, const char *path,
                      uint64_t *written, uint64_t *skipped);

#endif
