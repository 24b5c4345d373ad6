/* nn.h: the diffusion engine's layers, as pairs of plain float32 functions
 * (llm.c style). Shapes are in the comments: B sequences (flows) of T tokens
 * (packets) of C channels, NH attention heads of C/NH each; N = rows.
 *
 * Conventions, for every function here:
 *   - outputs first, then inputs, then sizes; nothing is allocated;
 *   - a backward ACCUMULATES (+=) into each gradient it writes, so residual
 *     branches sum and micro-batches (or processes) add up; zero them first;
 *   - a NULL gradient pointer is skipped (e.g. no dinp for the input data);
 *   - the matrix products run on ns_sgemm (blas.h), the rest on OpenMP;
 *     none may be called from inside an OpenMP parallel region. */
#ifndef NETSYNTH_NN_H
#define NETSYNTH_NN_H
#ifdef __cplusplus
extern "C" {
#endif
#pragma GCC visibility push(default)

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* ---- linear: out[N,OC] = inp[N,C] weight[OC,C]^T + bias[OC] (bias may be NULL) */
void ns_linear_forward(float *out, const float *inp, const float *weight, const float *bias, int N,
                       int C, int OC);
/* dinp[N,C] += dout weight; dweight[OC,C] += dout^T inp; dbias[OC] += sum_n dout[n] */
void ns_linear_backward(float *dinp, float *dweight, float *dbias, const float *dout,
                        const float *inp, const float *weight, int N, int C, int OC);

/* ---- layernorm over the last dim: out[N,C] = (inp - mean) * rstd * weight + bias.
 * weight and bias NULL: no affine (adaLN supplies it). mean[N], rstd[N] are
 * saved for the backward. */
void ns_layernorm_forward(float *out, float *mean, float *rstd, const float *inp,
                          const float *weight, const float *bias, int N, int C, float eps);
void ns_layernorm_backward(float *dinp, float *dweight, float *dbias, const float *dout,
                           const float *inp, const float *weight, const float *mean,
                           const float *rstd, int N, int C);

/* ---- multi-head self-attention, bidirectional, with a key padding mask.
 * qkv[B,T,3C]: per token q, then k, then v, each NH heads of C/NH channels.
 * len[B]: keys t >= len[b] are masked (NULL: all T are valid). Query rows
 * past len are computed all the same (they attend to the valid keys).
 * A sequence with len 0 has no key to attend to: its rows of out and att
 * are 0 and nothing flows back through them.
 * att[B,NH,T,T]: softmax probabilities (0 at masked keys), kept for backward;
 * NULL (a forward only: sampling) keeps none, allowed only where
 * ns_attention_fused(T, C/NH) says the fused kernel runs, which needs no
 * T x T scratch (elsewhere att is that scratch).
 * out[B,T,C]: heads side by side. Scores are scaled by 1/sqrt(C/NH).
 * The backward needs T*T floats of scratch per thread, which it allocates:
 * it returns NS_OK or NS_ENOMEM. */
void ns_attention_forward(float *out, float *att, const float *qkv, const int *len, int B, int T,
                          int C, int NH);
/* Whether the forward runs the fused kernel for sequences of T tokens and
 * heads of hs channels on this CPU (AVX-512, T <= 64, hs 16..64 by 16). */
bool ns_attention_fused(int T, int hs);
int ns_attention_backward(float *dqkv, const float *dout, const float *qkv, const float *att,
                           const int *len, int B, int T, int C, int NH);

/* ---- activations, elementwise over n: GELU (tanh approximation), SiLU */
void ns_gelu_forward(float *out, const float *inp, size_t n);
void ns_gelu_backward(float *dinp, const float *dout, const float *inp, size_t n);
void ns_silu_forward(float *out, const float *inp, size_t n);
void ns_silu_backward(float *dinp, const float *dout, const float *inp, size_t n);

/* ---- adaLN: per-sequence vectors shift/scale/gate, rows `stride` floats
 * apart (they are C-wide slices of the [B, 6C] conditioning output).
 * modulate: out[b,t,:] = x[b,t,:] * (1 + scale[b,:]) + shift[b,:] */
void ns_modulate_forward(float *out, const float *x, const float *shift, const float *scale, int B,
                         int T, int C, int stride);
void ns_modulate_backward(float *dx, float *dshift, float *dscale, const float *dout,
                          const float *x, const float *scale, int B, int T, int C, int stride);
/* gated residual: out[b,t,:] = res[b,t,:] + gate[b,:] * y[b,t,:]; out may be res */
void ns_gate_forward(float *out, const float *res, const float *gate, const float *y, int B, int T,
                     int C, int stride);
void ns_gate_backward(float *dres, float *dgate, float *dy, const float *dout, const float *gate,
                      const float *y, int B, int T, int C, int stride);

/* ---- prompt embedding: out[B,C] = sum of table[ids[b,p], :] over p < P
 * with ids[b,p] >= 0 (-1 pads a prompt; an empty prompt gives zeros).
 * Backward scatters dout into the rows of dtable[V,C] that were used. */
void ns_embed_sum_forward(float *out, const int *ids, const float *table, int B, int P, int C);
void ns_embed_sum_backward(float *dtable, const float *dout, const int *ids, int B, int P, int C);

/* ---- sinusoidal timestep embedding (DiT/ADM): out[B,dim] =
 * [cos(t*f_0) .. cos(t*f_{h-1}), sin(t*f_0) .. sin(t*f_{h-1})], h = dim/2,
 * f_i = max_period^(-i/h) (10000 in DiT, with t in [0, 1000)); an odd dim
 * ends in a 0 column. No backward: t is data. */
void ns_timestep_embedding(float *out, const float *t, int B, int dim, float max_period);

/* ---- losses. Each returns sum_i w_i * loss_i / norm, with norm <= 0 meaning
 * the sum of the weights (0 is returned when that is 0); w NULL: all 1, a
 * weight 0 masks a position. The backward adds dloss * d(that)/d(input).
 *
 * 3-class softmax cross-entropy per position: logits[N,3], target[N] in
 * {0,1,2} (for a ternary nPrint bit: class = bit + 1, so 0 is "absent").
 * probs[N,3] is saved for the backward. */
float ns_ce3_forward(float *probs, const float *logits, const uint8_t *target, const float *weight,
                     size_t N, float norm);
void ns_ce3_backward(float *dlogits, float dloss, const float *probs, const uint8_t *target,
                     const float *weight, size_t N, float norm);
/* squared error: loss_i = (pred_i - target_i)^2 over n values */
float ns_mse_forward(const float *pred, const float *target, const float *weight, size_t n,
                     float norm);
void ns_mse_backward(float *dpred, float dloss, const float *pred, const float *target,
                     const float *weight, size_t n, float norm);

/* ---- optimiser, over one flat parameter array (or a slice of it) */
typedef struct {
    float lr, beta1, beta2, eps, weight_decay;
} ns_adamw_cfg;

/* One AdamW step; t = 1, 2, ... is the step number (bias correction):
 *   m = b1 m + (1-b1) g;  v = b2 v + (1-b2) g^2
 *   p -= lr * ((m / (1-b1^t)) / (sqrt(v / (1-b2^t)) + eps) + weight_decay * p)
 * For no decay on some parameters (norms, biases), call it per slice. */
void ns_adamw_update(float *param, float *m, float *v, const float *grad, size_t n,
                     const ns_adamw_cfg *cfg, long t);
/* The L2 norm of grad[n]; when above max_norm (> 0), grad is scaled down to it. */
float ns_grad_clip(float *grad, size_t n, float max_norm);
/* ema = decay * ema + (1 - decay) * param */
void ns_ema_update(float *ema, const float *param, size_t n, float decay);

#pragma GCC visibility pop
#ifdef __cplusplus
}
#endif

#endif
