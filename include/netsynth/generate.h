/* generate.h: sampling flows from a trained model for a prompt.
 *
 * (Constraints on the rows: gen_fix.h; plans per class: gen_plan.h; writing
 * the flows out: gen_write.h.)
 *
 * Per flow: its length is drawn from the model's length head for the
 * prompt (optionally guided, as the rows are; the flows of one prompt
 * stratified together, NS_GEN_STRATA); then its rows are denoised from Gaussian noise with classifier-free
 * guidance (guided = uncond + g (cond - uncond), on the network's outputs),
 * and each value is the argmax of the last step's guided class probabilities.
 * Flows are batched by length so that little is padded. A flow longer than
 * the model's window (`length` past max_packets) is generated window by
 * window: each next window starts a quarter window before the rows done and
 * holds those rows to them at every step (inpainting), so that it continues
 * the flow; repair then carries sequence numbers, timestamps and TCP state
 * over the whole flow (ns_generate_stream: in memory bounded by the
 * window). Flow i of a call
 * takes everything random from stream i of the seed: the same seed and
 * options give the same flows. (Another batch size changes which matrix
 * shapes the BLAS sees, and so the last bits of a sum: the odd timing may
 * then differ by a nanosecond.) */
#ifndef NETSYNTH_GENERATE_H
#define NETSYNTH_GENERATE_H
#ifdef __cplusplus
extern "C" {
#endif
#pragma GCC visibility push(default)

#include <stddef.h>
#include <stdint.h>

/* Flows of one prompt whose streams lie in one block of NS_GEN_STRATA
 * streams (stream0 + i in [b NS_GEN_STRATA, (b + 1) NS_GEN_STRATA)) draw
 * their lengths by stratified (systematic) sampling of the length head's
 * distribution: each flow's draw is still the head's, the block's set of
 * lengths follows the distribution quantile by quantile (docs/model.md,
 * "The length is decided first"). A share of a call that starts at a
 * multiple of it draws the lengths the whole call does. */
#define NS_GEN_STRATA 1024

#include "netsynth/control.h"
#include "netsynth/controlnet.h"
#include "netsynth/diffusion.h"
#include "netsynth/gen_fix.h"
#include "netsynth/modelfile.h"
#include "netsynth/nprint.h"

/* batch 0 (the default): as many flows as fill NS_GEN_BATCH_ROWS rows (at
 * least one, at most 64): a batch small enough that its activations stay in
 * a core's cache, the threads taking batches in parallel (BENCHMARK.md). */
#define NS_GEN_BATCH_ROWS 256

typedef struct ns_gen_opts {
    ns_sampler sampler;     /* kind and steps */
    float guidance;         /* 1: conditional only; > 1 pushes toward the prompt;
                             * NS_GEN_GUIDANCE_MODEL (the default): ns_gen_guidance_default's */
    float timing_guidance;  /* the same for the timing bins (repr.h), on their logits; default 1. A
                             * model with a regressed timing (before the bins) guides it with
                             * `guidance`, as it always did */
    int guided_steps;       /* 0: guidance at every step; k > 0: at the last k only, the
                             * steps before run the conditional model alone (one network
                             * pass instead of two) */
    uint64_t seed;
    int batch;              /* flows denoised together (per thread); 0: by rows, see above */
    int length;             /* > 0: every flow has this many packets, past the window too
                             * (else the length head decides, within the window) */
    float length_guidance;  /* guidance of the length head's logits, uncond + g (cond - uncond):
                             * 1 (default) draws from the head as trained; > 1 sharpens toward
                             * the lengths the prompt makes likelier than no prompt does */
    const ns_gen_fix *fix;  /* NULL, or constraints every row holds */
    /* A control branch (controlnet.h) and its maps: flow i follows map
     * i mod n_maps, whose length it takes; both guidance halves see the map. */
    const ns_controlnet *controlnet;
    const ns_control_maps *control;
    float control_scale;    /* multiplies the branch's residuals (default 1) */
    int control_hard;       /* 1 (default): also hold each row's protocol, direction and TCP flags to its
                             * map row exactly while sampling (inpainting, as --fix) and at decode; 0: the
                             * branch alone steers them */
    /* NULL, or called after each batch with the flows sampled so far of the
     * call's total, one call at a time (from whichever thread sampled it). */
    void (*progress)(void *ctx, size_t done, size_t total);
    void *progress_ctx;
} ns_gen_opts;

void ns_gen_opts_init(ns_gen_opts *o);

/* guidance: the model's default scale, decided when sampling starts. */
#define NS_GEN_GUIDANCE_MODEL (-1.0f)
/* The guidance scale a model samples with unless told: 1.5 for a width of
 * 192 or more (the medium default, where it met issue 16's type bar over
 * three seeds; base), 2 below (small: the demo's, tuned in session 4).
 * BENCHMARK.md, "The medium model's sampler (session 12)". */
float ns_gen_guidance_default(const ns_model_config *c);

/* The logits[n][max_packets] that lengths are drawn from (softmax; entry
 * k is length k + 1) for the prompts ids[n][n_attrs]: the length head's,
 * except that a combination of attributes the model never trained (a
 * held-out pair) gets log p(L | q[0..k)) + log p(L | q[k..)) - log p(L),
 * q[0..k) the longest prefix of it that a training combination has (a
 * product of experts: the head's own guess for it is broad); then
 * o->length_guidance, uncond + g (cond - uncond). */
int ns_gen_length_logits(float *logits, const ns_modelfile *m, const ns_gen_opts *o, const int32_t *ids, size_t n);

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
/* Room in g for `flows` more flows and `rows` more rows (capacity doubles). */
int ns_gen_flows_reserve(ns_gen_flows *g, size_t flows, size_t rows);

/* Parse a prompt such as "device=HueBridge device_type=hub-gateway" (tokens
 * separated by spaces or commas) into ids[n_attrs] (-1 where the prompt says
 * nothing). An unknown token, or two values of one attribute, is NS_EARG
 * with a message that lists the vocabulary. */
int ns_gen_parse_prompt(const ns_modelfile *m, const char *text, int32_t *ids);
/* NS_OK if the model (or a merged adapter) learned token id; otherwise
 * NS_EARG saying so: sampling an untrained embedding would give noise. */
int ns_gen_require_trained(const ns_modelfile *m, int32_t id);

/* Generate n flows for the prompt ids[n_attrs] and append them to out.
 * `stream0` offsets the seed's streams (so that successive prompts of one run
 * differ). */
int ns_generate(const ns_modelfile *m, const ns_gen_opts *o, const int32_t *ids, size_t n, uint64_t stream0,
                ns_gen_flows *out);
/* The same with a prompt per flow, ids[n * n_attrs]: flows of every prompt
 * share batches, which keeps the matrix products large when each prompt
 * asks for few flows (generate --like, --per-class). Flow i still takes
 * stream stream0 + i. */
int ns_generate_many(const ns_modelfile *m, const ns_gen_opts *o, const int32_t *ids, size_t n, uint64_t stream0,
                     ns_gen_flows *out);

/* Generation as a stream, for flows of any length in memory bounded by the
 * window (T = the model's max_packets), not the flow: the same flows as
 * ns_generate_many, handed to `sink` round by round and then forgotten.
 * Round 0 holds every flow's first window (its first min(length, T) rows);
 * each next round the next window of each flow still going (the rows past
 * the ones given). The sink sees a round once; an error it returns stops
 * generation and is returned. */
typedef struct ns_gen_round {
    size_t index;             /* 0, 1, ... */
    size_t n;                 /* flows of the call */
    /* win->first[i], win->len[i]: flow i's rows new in this round (len 0:
     * none); win->labels: the call's prompts (ids). */
    const ns_gen_flows *win;
    const uint32_t *done;     /* [n] rows of flow i given in rounds before */
    const uint32_t *whole;    /* [n] flow i's length */
} ns_gen_round;
typedef int (*ns_gen_sink)(void *ctx, const ns_gen_round *r);
int ns_generate_stream(const ns_modelfile *m, const ns_gen_opts *o, const int32_t *ids, size_t n, uint64_t stream0,
                       ns_gen_sink sink, void *ctx);

#pragma GCC visibility pop
#ifdef __cplusplus
}
#endif

#endif
