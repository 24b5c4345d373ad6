/* model.h: the denoiser, a DiT over packets, and its length head.
 *
 * A flow of T packets is T G tokens (G = config groups, 1 by default): one
 * linear map embeds the analog encoding of a noisy row (repr.h: in_dim
 * values) as G tokens of width d, each with its own learned position. The condition is the diffusion time (sinusoid -> MLP)
 * plus the prompt (the sum of its attribute-token embeddings; an empty prompt
 * is the unconditional model that classifier-free guidance needs). Each block
 * is LN -> adaLN modulate -> multi-head attention (keys past the flow's
 * length masked) -> gated residual, then the same with a GELU MLP; adaLN
 * projections and the output layer start at zero (adaLN-Zero), so a fresh
 * model is the identity on its residual stream and outputs 0.
 *
 * The flow's length is decided first, by its own head: p(length | prompt),
 * a softmax over 1..max_packets from an MLP on the prompt embedding, and,
 * when the training flows were longer than the window (len_bins > 0), over
 * the whole length past it too: len_bins more classes of log2 bins,
 * (T 2^j, T 2^(j+1)] for j = 0..len_bins-1 (ns_model_length_class). The
 * denoiser then fills exactly that many rows. (A prototype that let padding
 * rows encode the length produced flows with present packets after absent
 * ones in 40% of cases; see docs/model.md.)
 *
 * Layout: llm.c's pattern. All parameters live in one float array with named
 * pointers into it (ns_model_params), and so do their gradients; the
 * activations of a forward pass live in one ns_model_acts block sized for a
 * maximum batch. Hooks for later add-ons: `control` adds a per-block residual
 * (a ControlNet-style branch), and LoRA adapters merge into the weights at
 * load, so the forward needs no change for them. */
#ifndef NETSYNTH_MODEL_H
#define NETSYNTH_MODEL_H
#ifdef __cplusplus
extern "C" {
#endif
#pragma GCC visibility push(default)

#include <stddef.h>
#include <stdint.h>

typedef struct ns_model_config {
    int32_t d;            /* width of the residual stream */
    int32_t n_layer;      /* DiT blocks */
    int32_t n_head;       /* attention heads (d % n_head == 0) */
    int32_t mlp_ratio;    /* MLP hidden = mlp_ratio * d */
    int32_t max_packets;  /* T max: positions, and length classes 1..T */
    int32_t in_dim;       /* per token in (repr.h) */
    int32_t out_dim;      /* per token out */
    int32_t n_bits;       /* modelled values per row: out_dim = 3 n_bits + 1 + the timing's outputs */
    int32_t vocab;        /* prompt tokens */
    int32_t timing_bins;  /* 0: the timing is one regressed output (squared error; files before the bins);
                           * 2..NS_MODEL_MAX_TIMING_BINS: logits over bins of log inter-arrival time,
                           * then NS_MODEL_TIMING_SUB logits of the position within the bin (repr.h) */
    int32_t len_bins;     /* length classes past the window: log2 bins (0: lengths 1..T only, as
                           * models whose training flows all fit the window, and older files) */
    int32_t groups;       /* tokens per packet, 1..NS_MODEL_MAX_GROUPS (1: one token a packet, as
                           * every file before them; 0 in a config built by hand reads as 1) */
    int32_t self_cond;    /* 1: self-conditioned (ns_model_acts_self_cond): the input map also reads
                           * the network's own previous estimate of x_0 through sc_w; 0: not, as
                           * every file before it */
} ns_model_config;
#define NS_MODEL_MAX_GROUPS 16

/* Tokens per packet: the input map writes G tokens of width d for each row,
 * each a different view of the whole row with its own position, so that the
 * blocks have room to work out a row's values against each other (one token
 * of d for a row of 1,282 channels could only hold class averages; session
 * 8's readback). The output map reads a row's G tokens back into its logits. */
static inline int ns_model_groups(const ns_model_config *c) { return c->groups > 1 ? c->groups : 1; }
#define NS_MODEL_MAX_LEN_BINS 24

/* The length head's classes: lengths 1..max_packets, then the log2 bins. */
static inline int ns_model_length_classes(const ns_model_config *c) { return c->max_packets + c->len_bins; }
/* The class of a whole flow length (>= 1): exact within the window, else
 * its log2 bin past it (the last bin takes anything longer). */
static inline int ns_model_length_class(const ns_model_config *c, uint64_t len)
{
    if (len <= (uint64_t)c->max_packets || !c->len_bins) return (int)(len <= (uint64_t)c->max_packets ? len : (uint64_t)c->max_packets) - 1;
    int j = 0;
    while (j + 1 < c->len_bins && len > (uint64_t)c->max_packets << (j + 1)) j++;
    return c->max_packets + j;
}
/* Rows a continuation window shares with the window before it when a flow
 * is generated window by window (generate.h): a quarter of the window, at
 * least 1 (none for a window of one row). */
static inline int ns_model_window_hold(int T) { return T > 1 ? (T / 4 > 1 ? T / 4 : 1) : 0; }
/* The rows of the window that ends a flow of n rows generated window by
 * window: the held rows and the new ones, fewer than T when the flow ends
 * inside it (training draws this window too, so that the model learns
 * where flows end). */
static inline uint32_t ns_model_last_window(int T, uint64_t n)
{
    if (n <= (uint64_t)T) return (uint32_t)n;
    uint64_t step = (uint64_t)(T - ns_model_window_hold(T)), more = (n - (uint64_t)T) % step;
    return (uint32_t)((uint64_t)ns_model_window_hold(T) + (more ? more : step));
}
#define NS_MODEL_MAX_TIMING_BINS 1024
#define NS_MODEL_TIMING_SUB 16

/* Outputs per row that carry the timing: 1 (regressed) or the bins' and sub-bins' logits. */
static inline int ns_model_timing_outputs(const ns_model_config *c)
{
    return c->timing_bins ? c->timing_bins + NS_MODEL_TIMING_SUB : 1;
}

/* Named configs: "tiny" (tests), "small", "medium" (train's default), "base". Sets the
 * architecture fields only; the data fields come from the dataset. */
int ns_model_config_named(ns_model_config *c, const char *name);

/* Whether a config (e.g. read from a file) is one this build can run:
 * sizes in range, heads dividing the width, in/out widths matching n_bits. */
int ns_model_config_valid(const ns_model_config *c);

/* Parameters, each a slice of one array; [l] is per block. Weights are
 * [out, in] as nn.h's linear wants them. */
#define NS_MODEL_MAX_LAYERS 32
typedef struct ns_model_params {
    float *in_w, *in_b;        /* [G d, in_dim], [G d]: a row's G tokens (G = ns_model_groups) */
    float *pos;                /* [max_packets, G d]: position and group of each token */
    float *t1_w, *t1_b;        /* [d, d], [d]: timestep MLP */
    float *t2_w, *t2_b;        /* [d, d], [d] */
    float *prompt;             /* [vocab, d] */
    float *ada_w[NS_MODEL_MAX_LAYERS], *ada_b[NS_MODEL_MAX_LAYERS];   /* [6d, d], [6d] */
    float *qkv_w[NS_MODEL_MAX_LAYERS], *qkv_b[NS_MODEL_MAX_LAYERS];   /* [3d, d], [3d] */
    float *proj_w[NS_MODEL_MAX_LAYERS], *proj_b[NS_MODEL_MAX_LAYERS]; /* [d, d], [d] */
    float *fc_w[NS_MODEL_MAX_LAYERS], *fc_b[NS_MODEL_MAX_LAYERS];     /* [h, d], [h] */
    float *fc2_w[NS_MODEL_MAX_LAYERS], *fc2_b[NS_MODEL_MAX_LAYERS];   /* [d, h], [d] */
    float *fada_w, *fada_b;    /* [2d, d], [2d]: final adaLN */
    float *out_w, *out_b;      /* [out_dim, G d], [out_dim]: a row's G tokens back into its logits */
    float *len1_w, *len1_b;    /* [d, d], [d]: length head */
    float *len2_w, *len2_b;    /* [length classes, d], [length classes] */
    float *cont;               /* [d] (len_bins > 0 only, else [0]): added to the condition of a
                                * window that does not start its flow (ns_model_acts_continuation) */
    float *sc_w;               /* [G d, in_dim] (self_cond only, else [0]): the estimate of x_0 into
                                * the row's G tokens, beside in_w (ns_model_acts_self_cond) */
} ns_model_params;

/* Point p's slices into mem (NULL: just count); returns the float count. */
size_t ns_model_params_layout(ns_model_params *p, const ns_model_config *c, float *mem);
/* Initialise: small random weights (seeded), adaLN and output layers zero. */
void ns_model_params_init(const ns_model_params *p, const ns_model_config *c, uint64_t seed);
/* Whether float i of the array is a matrix weight that AdamW should decay
 * (not a bias, position, or embedding). Fills mask[n_params] with 0/1. */
void ns_model_decay_mask(const ns_model_config *c, uint8_t *mask);

/* The weight matrices, one list for everything that goes through them in
 * turn: AdamW's decay, LoRA's adapted weights, the inference kernel's packed
 * weights, the FLOP count. In the order of the parameter array. */
enum {
    NS_MODEL_MAT_DECAY = 1,   /* AdamW decays it (ns_model_decay_mask) */
    NS_MODEL_MAT_LORA = 2,    /* an adapter adapts it (lora.h) */
    NS_MODEL_MAT_TOKEN = 4,   /* applied to every token (row of a flow); else once per flow */
    NS_MODEL_MAT_LENGTH = 8,  /* the length head's (run once per flow, before sampling) */
};
typedef struct ns_model_matrix {
    size_t off;               /* its first float in the parameter array */
    int rows, cols;           /* [out, in] */
    int layer;                /* its block, or -1 */
    int flags;                /* NS_MODEL_MAT_* */
} ns_model_matrix;
#define NS_MODEL_MAX_MATRICES (8 + 5 * NS_MODEL_MAX_LAYERS)
/* Fills m[NS_MODEL_MAX_MATRICES] with the matrices of config c; returns their count. */
int ns_model_matrices(const ns_model_config *c, ns_model_matrix *m);
/* A matrix's weights in the parameter slices p (any of one config's: weights, gradients). */
float *ns_model_matrix_of(const ns_model_params *p, const ns_model_matrix *m);

/* Activations of one forward pass, for at most max_b flows of max_t rows. */
typedef struct ns_model_acts ns_model_acts;
int ns_model_acts_new(ns_model_acts **out, const ns_model_config *c, int max_b, int max_t);
void ns_model_acts_free(ns_model_acts *a);
/* Classifier-free guidance runs each flow with and without its prompt on
 * the same noisy rows. With `on`, a forward of an even B takes flows
 * B/2..B-1's x_t to equal flows 0..B/2-1's (it does not read them) and
 * computes their input projection once. Off after ns_model_acts_new. */
void ns_model_acts_share_input(ns_model_acts *a, int on);
/* The length head's targets for the next losses, len_class[B] classes
 * (ns_model_length_class of each flow's whole length; caller-owned), or
 * NULL: len[b] - 1, the rows in the window. */
void ns_model_acts_length_target(ns_model_acts *a, const int *len_class);
/* Which of the next forwards' B flows are windows that do not start their
 * flow (cont[b] = 1; caller-owned; NULL: none): a model with len_bins > 0
 * adds its `cont` vector to their condition (not to the length head's),
 * so that it can tell a continuation from a flow's first packets. */
void ns_model_acts_continuation(ns_model_acts *a, const uint8_t *cont);
/* Self-conditioning (Chen, Zhang, Hinton 2022, "Analog Bits", Sec. 3.2): a
 * model with self_cond also reads x0_sc[B, T, in_dim], an estimate of the
 * clean rows in the input layout (ns_repr_expect's), through sc_w: the
 * input map is in_w x_t + sc_w x0_sc + in_b, as if [x_t, x0_sc] were one
 * input. The sampler passes its previous step's estimate, so that each step
 * can keep to one coherent value rather than average the class's anew; NULL
 * (after ns_model_acts_new) is an estimate of zeros, the first step's.
 * Caller-owned; no gradient flows into it. Ignored by a model without
 * self_cond. With ns_model_acts_share_input the second half's is taken to
 * equal the first's, as its x_t is. */
void ns_model_acts_self_cond(ns_model_acts *a, const float *x0_sc);
/* Data-parallel training (train.h, ns_train_dist): the next losses' B flows
 * are a share of a batch of `flows` flows with `rows` valid rows in all, and
 * their means divide by those, so that the shares' losses and gradients add
 * up to the whole batch's. 0, 0 (after ns_model_acts_new): the batch itself. */
void ns_model_acts_share(ns_model_acts *a, size_t rows, int flows);
/* Data-parallel training: during the next backward passes with grads,
 * ready(ctx, off, n) each time grads' floats [off, off + n) (offsets in the
 * parameter array) are final: the output and length heads, then each block
 * from the last down, so that the caller can start summing them over the
 * ranks while the pass goes on. The embeddings come last and are not
 * reported. NULL (after ns_model_acts_new): none. */
void ns_model_acts_on_grad(ns_model_acts *a, void (*ready)(void *ctx, size_t off, size_t n), void *ctx);
/* Sampling: with `on`, the next forwards keep nothing for a backward (one
 * block's activations serve every block, attention probabilities are not
 * stored, GELU and the adaLN modulation work in place), so that a pass
 * touches a fraction of the memory; the outputs are the same bits.
 * ns_model_backward after such a forward is an error. Off after
 * ns_model_acts_new. */
void ns_model_acts_inference(ns_model_acts *a, int on);

/* One batch: B flows padded to T rows (T <= max_packets).
 *   x_t[B, T, in_dim]  noisy rows (padding rows: anything finite)
 *   t[B]               diffusion time in [0, 1]
 *   prompt[B, P]       token ids, -1 pads (all -1: unconditional)
 *   len[B]             rows that belong to each flow, 1..T
 *   control            NULL, or n_layer pointers to [B, T G, d] residuals added
 *                      after each block (NULL entries skip a block; G = ns_model_groups)
 * Writes out[B, T, out_dim], which stays valid inside acts until the next
 * forward. */
void ns_model_forward(float *out, ns_model_acts *a, const ns_model_params *p, const ns_model_config *c,
                      const float *x_t, const float *t, const int *prompt, int P, const int *len, int B, int T,
                      const float *const *control);

/* ns_model_forward in two halves, for a control branch (controlnet.h) that
 * reads the embedded tokens and the condition before the blocks run:
 * ns_model_embed computes the condition and res[0] = in(x_t) + pos (same
 * arguments as the forward); ns_model_run_blocks the blocks (with control)
 * and the output layer. Together they are ns_model_forward, bit for bit. */
void ns_model_embed(ns_model_acts *a, const ns_model_params *p, const ns_model_config *c, const float *x_t,
                    const float *t, const int *prompt, int P, const int *len, int B, int T);
void ns_model_run_blocks(float *out, ns_model_acts *a, const ns_model_params *p, const ns_model_config *c,
                         const float *const *control);
/* After ns_model_embed: the tokens res[0][B, T G, d] and the condition
 * silu(time + prompt)[B, d] that every block's adaLN reads. */
const float *ns_model_tokens(const ns_model_acts *a);
const float *ns_model_condition(const ns_model_acts *a);

/* The last forward's out[B, T, out_dim], inside acts (no copy). */
const float *ns_model_output(const ns_model_acts *a);

/* The loss of the last forward against the clean flow:
 *   cls[B, T, n_bits]  class per modelled value (0 absent, 1 zero, 2 one)
 *   iat[B, T]          timing_bins 0: the standardised log inter-arrival time
 *                      (squared error); otherwise its position in bin units,
 *                      [0, timing_bins), whose integer part is the bin and
 *                      whose fraction the sub-bin (the cross-entropies of
 *                      both, summed): ns_repr_encode's
 *   dir[B, T]          0/1
 * averaged over the valid rows; weights: bits 1, timing w_iat, direction w_dir.
 * The length head's cross-entropy on len[] (or on the classes that
 * ns_model_acts_length_target set: whole lengths past the window) is added
 * with weight w_len.
 * Fills losses[4] = {bits, iat, dir, length} (unweighted means) when not NULL. */
typedef struct ns_model_loss_weights {
    float w_iat, w_dir, w_len;
} ns_model_loss_weights;

float ns_model_loss(ns_model_acts *a, const ns_model_config *c, const uint8_t *cls, const float *iat,
                    const uint8_t *dir, const ns_model_loss_weights *w, float losses[4]);

/* Backward of the last forward + loss: ACCUMULATES into grads (zero them
 * first). dcontrol: NULL, or like control, receives d loss / d residual.
 * grads NULL: the parameters are frozen and only dcontrol is wanted, so no
 * weight gradient is computed and the pass stops at the lowest block with a
 * dcontrol pointer. NS_ENOMEM is the one failure (attention scratch). */
int ns_model_backward(ns_model_params *grads, ns_model_acts *a, const ns_model_params *p,
                      const ns_model_config *c, float *const *dcontrol);

/* Floating-point operations of the matrix products in one training step
 * (forward and backward) on B flows padded to T rows: what GFLOP/s figures
 * count. The elementwise work is left out, as is customary. */
double ns_model_step_flops(const ns_model_config *c, int B, int T);

/* The length head alone: logits[B, ns_model_length_classes] (lengths
 * 1..max_packets, then the bins past the window). */
void ns_model_length_logits(float *logits, ns_model_acts *a, const ns_model_params *p,
                            const ns_model_config *c, const int *prompt, int P, int B);

#pragma GCC visibility pop
#ifdef __cplusplus
}
#endif

#endif
