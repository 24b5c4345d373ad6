/* gen_clamp.h (private): holding sampled rows to values, for the sampler
 * (generate.c). A clamp holds the columns an ns_gen_fix (gen_fix.h) names;
 * a hard control holds each row to its control map row (protocol,
 * direction, TCP flags: ns_gen_opts.control_hard). Both act twice: on every
 * x_0 estimate while denoising (inpainting) and on the decoded row. */
#ifndef NETSYNTH_GEN_CLAMP_H
#define NETSYNTH_GEN_CLAMP_H

#include <stdint.h>

#include "netsynth/control.h"
#include "netsynth/gen_fix.h"
#include "netsynth/repr.h"

/* The modelled values a constraint clamps, per direction. */
typedef struct gen_clamp {
    int n[2];
    int j[2][NS_NP_MODEL_WIDTH];     /* value index (repr cols) */
    int8_t v[2][NS_NP_MODEL_WIDTH];
    int jof[NS_NP_MODEL_WIDTH];      /* column -> value index, or -1 when constant */
} gen_clamp;

void gen_clamp_init(gen_clamp *cl, const ns_gen_fix *fix, const ns_repr *r);
/* Inpainting: the clamped values of an x_0 estimate row (K modelled values;
 * the direction from its own channel) set to their encodings. */
void gen_clamp_x0(const gen_clamp *cl, int K, float *x);
/* The constraints on a decoded row of direction d (out: its network outputs). */
void gen_clamp_row(const gen_clamp *cl, const ns_gen_fix *fix, const float *out, int8_t *row, int d);

/* Holding rows to their control maps: a clamp per transport, and the TCP
 * flag columns. */
typedef struct gen_hard {
    ns_gen_fix fix[3];               /* tcp, udp, icmp */
    gen_clamp cl[3];
    int flag_col;                    /* tcp_cwr's column; FIN is 7 later */
} gen_hard;

void gen_hard_init(gen_hard *h, const ns_repr *r);
/* The x_0 estimate of one row held to its map row m. */
void gen_hard_x0(const gen_hard *h, const ns_control_row *m, int K, float *x);
/* A decoded row held to its map row m. */
void gen_hard_row(const gen_hard *h, const ns_control_row *m, const float *out, int8_t *row, uint8_t *dir);

#endif
