/* model_block.h (private): one DiT block's forward and backward, shared by
 * the denoiser (model.c) and the control branch (controlnet.c), which runs
 * trainable copies of the first blocks on the same inputs.
 *
 * Block, on the residual stream x[B, T, d] with the condition sc[B, d]:
 *   mod = ada(sc) = [shift1 scale1 gate1 shift2 scale2 gate2]
 *   ln1 = LN(x)     m1 = ln1 (1 + scale1) + shift1
 *   qkv = qkv(m1)   ao = attention(qkv, len)   po = proj(ao)
 *   mid = x + gate1 po
 *   ln2 = LN(mid)   m2 = ln2 (1 + scale2) + shift2
 *   fc = fc(m2)     ge = gelu(fc)   f2 = fc2(ge)
 *   out = mid + gate2 f2                                                     */
#ifndef NETSYNTH_MODEL_BLOCK_H
#define NETSYNTH_MODEL_BLOCK_H

#include <stddef.h>
#include <stdint.h>

#include "netsynth/model.h"

/* Carving one float allocation into named slices, llm.c style: ptr gets the
 * `count` floats at offset n of base (NULL while base is NULL: a counting
 * pass), and n moves past them. Every parameter layout and activation block
 * (model, control branch, adapters) is carved with it. */
#define NS_CARVE(ptr, base, n, count)              \
    do {                                           \
        (ptr) = (base) ? (base) + (n) : NULL;      \
        (n) += (size_t)(count);                    \
    } while (0)

/* One block's weights (or their gradients: NULL entries are skipped). */
typedef struct model_block_w {
    float *ada_w, *ada_b, *qkv_w, *qkv_b, *proj_w, *proj_b, *fc_w, *fc_b, *fc2_w, *fc2_b;
} model_block_w;

/* Block l of a parameter set. */
static inline model_block_w model_block_of(const ns_model_params *p, int l)
{
    model_block_w w = {p->ada_w[l], p->ada_b[l], p->qkv_w[l], p->qkv_b[l], p->proj_w[l],
                       p->proj_b[l], p->fc_w[l], p->fc_b[l], p->fc2_w[l], p->fc2_b[l]};
    return w;
}

/* Lay out block l's ten tensors in p from mem at *n floats (mem NULL:
 * count only), advancing *n: one contiguous span, in the model file's order. */
void model_block_take(ns_model_params *p, int l, const ns_model_config *c, float *mem, size_t *n);
/* Set the AdamW decay flags of block l's matrices; mask[i] is float base + i. */
void model_block_decay(const ns_model_params *p, int l, const ns_model_config *c, const float *base, uint8_t *mask);

/* What one block's forward keeps for its backward. */
typedef struct model_block_acts {
    float *mod;                  /* [B, 6d] */
    float *ln1, *mean1, *rstd1;  /* [N, d], [N], [N] */
    float *m1, *qkv, *att, *ao, *po, *mid;
    float *ln2, *mean2, *rstd2, *m2, *fc, *ge, *f2;
} model_block_acts;

/* Backward scratch, shared by every block of a pass. */
typedef struct model_block_scratch {
    float *d_mid, *d_a, *d_b, *d_qkv, *d_h, *d_h2, *d_mod;
} model_block_scratch;

/* Carve y (and, when s is not NULL, the scratch) from mem at *n floats,
 * advancing *n; mem NULL only counts. Sized for max_b flows of max_t rows. */
void model_block_acts_carve(model_block_acts *y, model_block_scratch *s, float *mem, size_t *n,
                            const ns_model_config *c, int max_b, int max_t);

/* out[N, d] = block(in); y keeps the activations. */
void model_block_forward(float *out, model_block_acts *y, const float *in, const float *sc, const model_block_w *w,
                         const ns_model_config *c, const int *len, int B, int T);

/* dout = d loss / d out -> din (overwritten) = d loss / d in; d_sc and the
 * weight gradients g accumulate. NS_ENOMEM is the one failure. */
int model_block_backward(float *din, float *d_sc, const model_block_w *g, const model_block_scratch *s,
                         const float *dout, const model_block_acts *y, const float *in, const float *sc,
                         const model_block_w *w, const ns_model_config *c, const int *len, int B, int T);

#endif
