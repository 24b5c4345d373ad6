/* model.c: the DiT denoiser over packets and its length head (see model.h).
 *
 * Forward, per batch of B flows of T rows (N = B*T rows, N G tokens with G
 * tokens a row: in() writes [N, G d], which is [N G, d], the blocks run on
 * T G tokens a flow and out() reads [N, G d] back), what is kept for the
 * backward is named after the formula it holds:
 *   temb0 = sinusoid(1000 t)      th1 = t1(temb0)   tha = silu(th1)
 *   temb  = t2(tha)               yemb = sum of prompt embeddings
 *   c     = temb + yemb           sc = silu(c)
 *   res[0] = in(x_t) + pos
 *   block l:  mod = ada(sc) = [shift1 scale1 gate1 shift2 scale2 gate2]
 *             ln1 = LN(res[l])      m1 = ln1 (1 + scale1) + shift1
 *             qkv = qkv(m1)         ao = attention(qkv, len)   po = proj(ao)
 *             mid = res[l] + gate1 po
 *             ln2 = LN(mid)         m2 = ln2 (1 + scale2) + shift2
 *             fc = fc(m2)           ge = gelu(fc)   f2 = fc2(ge)
 *             res[l+1] = mid + gate2 f2 (+ control[l])
 *   final:    fmod = fada(sc) = [shift scale]   lnf = LN(res[L])
 *             mf = lnf (1 + scale) + shift      out = out(mf)
 *   length:   lh = silu(len1(yemb))   llog = len2(lh)                          */
#include "netsynth/model.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "netsynth/error.h"
#include "netsynth/nn.h"
#include "netsynth/nprint.h"
#include "netsynth/rng.h"
#include "model_block.h"
#include "nn_math.h"

int ns_model_config_named(ns_model_config *c, const char *name)
{
    static const struct {
        const char *name;
        int d, n_layer, n_head, mlp_ratio;
    } named[] = {
        {"tiny", 32, 2, 2, 2},
        {"small", 128, 4, 4, 4},
        {"medium", 192, 4, 6, 4},
        {"base", 256, 6, 8, 4},
    };
    for (size_t i = 0; i < sizeof named / sizeof named[0]; i++) {
        if (strcmp(name, named[i].name)) continue;
        c->d = named[i].d;
        c->n_layer = named[i].n_layer;
        c->n_head = named[i].n_head;
        c->mlp_ratio = named[i].mlp_ratio;
        c->groups = 1;
        return NS_OK;
    }
    return ns_error(NS_EARG, "unknown model config '%s' (known: tiny, small, medium, base)", name);
}

int ns_model_config_valid(const ns_model_config *c)
{
    return c->d >= 1 && c->d <= 4096 && c->n_layer >= 1 && c->n_layer <= NS_MODEL_MAX_LAYERS && c->n_head >= 1 &&
           c->d % c->n_head == 0 && c->mlp_ratio >= 1 && c->mlp_ratio <= 16 && c->max_packets >= 1 &&
           c->max_packets <= 1024 && c->n_bits >= 1 && c->n_bits <= NS_NP_MODEL_WIDTH && c->in_dim == 2 * c->n_bits + 2 &&
           (c->timing_bins == 0 || (c->timing_bins >= 2 && c->timing_bins <= NS_MODEL_MAX_TIMING_BINS)) &&
           c->out_dim == 3 * c->n_bits + 1 + ns_model_timing_outputs(c) && c->vocab >= 0 && c->len_bins >= 0 &&
           c->len_bins <= NS_MODEL_MAX_LEN_BINS && c->groups >= 1 && c->groups <= NS_MODEL_MAX_GROUPS &&
           (c->self_cond == 0 || c->self_cond == 1);
}

void model_block_take(ns_model_params *p, int l, const ns_model_config *c, float *mem, size_t *at)
{
    size_t d = (size_t)c->d, h = d * (size_t)c->mlp_ratio, n = *at;
#define TAKE(ptr, count) NS_CARVE(ptr, mem, n, count)
    TAKE(p->ada_w[l], 6 * d * d);
    TAKE(p->ada_b[l], 6 * d);
    TAKE(p->qkv_w[l], 3 * d * d);
    TAKE(p->qkv_b[l], 3 * d);
    TAKE(p->proj_w[l], d * d);
    TAKE(p->proj_b[l], d);
    TAKE(p->fc_w[l], h * d);
    TAKE(p->fc_b[l], h);
    TAKE(p->fc2_w[l], d * h);
    TAKE(p->fc2_b[l], d);
#undef TAKE
    *at = n;
}

void model_block_decay(const ns_model_params *p, int l, const ns_model_config *c, const float *base, uint8_t *mask)
{
    /* Block 0's matrices of the model, moved to where block l of p starts
     * (the control branch's blocks are carved the same way, model_block_take). */
    ns_model_matrix m[NS_MODEL_MAX_MATRICES];
    int n = ns_model_matrices(c, m);
    size_t at = (size_t)(p->ada_w[l] - base), first = 0;
    for (int k = n - 1; k >= 0; k--)
        if (m[k].layer == 0) first = m[k].off;
    for (int k = 0; k < n; k++)
        if (m[k].layer == 0 && (m[k].flags & NS_MODEL_MAT_DECAY))
            memset(mask + at + (m[k].off - first), 1, (size_t)m[k].rows * m[k].cols);
}

size_t ns_model_params_layout(ns_model_params *p, const ns_model_config *c, float *mem)
{
    size_t d = (size_t)c->d, gd = (size_t)ns_model_groups(c) * d, n = 0;
    ns_model_params dummy;
    if (!p) p = &dummy;
#define TAKE(ptr, count) NS_CARVE(ptr, mem, n, count)
    TAKE(p->in_w, gd * (size_t)c->in_dim);
    TAKE(p->in_b, gd);
    TAKE(p->pos, (size_t)c->max_packets * gd);
    TAKE(p->t1_w, d * d);
    TAKE(p->t1_b, d);
    TAKE(p->t2_w, d * d);
    TAKE(p->t2_b, d);
    TAKE(p->prompt, (size_t)c->vocab * d);
    for (int l = 0; l < c->n_layer; l++) model_block_take(p, l, c, mem, &n);
    TAKE(p->fada_w, 2 * d * d);
    TAKE(p->fada_b, 2 * d);
    TAKE(p->out_w, (size_t)c->out_dim * gd);
    TAKE(p->out_b, (size_t)c->out_dim);
    TAKE(p->len1_w, d * d);
    TAKE(p->len1_b, d);
    TAKE(p->len2_w, (size_t)ns_model_length_classes(c) * d);
    TAKE(p->len2_b, (size_t)ns_model_length_classes(c));
    TAKE(p->cont, c->len_bins ? d : 0);
    /* Last, so that a model without it has the layout of before. */
    TAKE(p->sc_w, c->self_cond ? gd * (size_t)c->in_dim : 0);
#undef TAKE
    return n;
}

/* Xavier-uniform [rows, cols]; the bias after it stays 0. */
static void xavier(float *w, size_t rows, size_t cols, ns_rng *rng)
{
    float bound = sqrtf(6.0f / (float)(rows + cols));
    for (size_t i = 0; i < rows * cols; i++) w[i] = (2 * ns_rng_float(rng) - 1) * bound;
}

static void normal(float *w, size_t n, float sd, ns_rng *rng)
{
    for (size_t i = 0; i < n; i++) w[i] = sd * ns_rng_normal(rng);
}

void ns_model_params_init(const ns_model_params *p, const ns_model_config *c, uint64_t seed)
{
    size_t d = (size_t)c->d, h = d * (size_t)c->mlp_ratio, gd = (size_t)ns_model_groups(c) * d;
    size_t n = ns_model_params_layout(NULL, c, NULL);
    memset(p->in_w, 0, n * sizeof(float)); /* in_w is the start of the array */
    ns_rng rng;
    ns_rng_seed(&rng, seed, 0x1417);
    xavier(p->in_w, gd, (size_t)c->in_dim, &rng);
    normal(p->pos, (size_t)c->max_packets * gd, 0.02f, &rng);
    normal(p->t1_w, d * d, 0.02f, &rng);
    normal(p->t2_w, d * d, 0.02f, &rng);
    normal(p->prompt, (size_t)c->vocab * d, 0.02f, &rng);
    for (int l = 0; l < c->n_layer; l++) {
        /* ada_w stays 0: adaLN-Zero, every block starts as the identity. */
        xavier(p->qkv_w[l], 3 * d, d, &rng);
        xavier(p->proj_w[l], d, d, &rng);
        xavier(p->fc_w[l], h, d, &rng);
        xavier(p->fc2_w[l], d, h, &rng);
    }
    /* fada and out stay 0: the fresh model predicts x_0 = "all classes equal". */
    xavier(p->len1_w, d, d, &rng);
    /* len2 stays 0: a uniform length distribution to start from. sc_w
     * stays 0 too: the model starts as the one without self-conditioning,
     * and the init draws nothing more, so that the other weights start as
     * that model's do. */
}

int ns_model_matrices(const ns_model_config *c, ns_model_matrix *m)
{
    ns_model_params p;
    float *base = (float *)(uintptr_t)sizeof(float); /* fake non-NULL base: offsets only */
    ns_model_params_layout(&p, c, base);
    int d = c->d, h = d * c->mlp_ratio, gd = ns_model_groups(c) * d, n = 0;
    enum { DECAY = NS_MODEL_MAT_DECAY, LORA = NS_MODEL_MAT_LORA, TOKEN = NS_MODEL_MAT_TOKEN, LENGTH = NS_MODEL_MAT_LENGTH };
#define MAT(ptr, r, k, l, f) m[n++] = (ns_model_matrix){(size_t)((ptr) - base), (r), (k), (l), (f)}
    MAT(p.in_w, gd, c->in_dim, -1, DECAY | TOKEN);
    MAT(p.t1_w, d, d, -1, DECAY);
    MAT(p.t2_w, d, d, -1, DECAY);
    for (int l = 0; l < c->n_layer; l++) {
        MAT(p.ada_w[l], 6 * d, d, l, DECAY);
        MAT(p.qkv_w[l], 3 * d, d, l, DECAY | LORA | TOKEN);
        MAT(p.proj_w[l], d, d, l, DECAY | LORA | TOKEN);
        MAT(p.fc_w[l], h, d, l, DECAY | LORA | TOKEN);
        MAT(p.fc2_w[l], d, h, l, DECAY | LORA | TOKEN);
    }
    MAT(p.fada_w, 2 * d, d, -1, DECAY);
    MAT(p.out_w, c->out_dim, gd, -1, DECAY | LORA | TOKEN);
    MAT(p.len1_w, d, d, -1, DECAY | LENGTH);
    MAT(p.len2_w, ns_model_length_classes(c), d, -1, DECAY | LENGTH);
    if (c->self_cond) MAT(p.sc_w, gd, c->in_dim, -1, DECAY | TOKEN);
#undef MAT
    return n;
}

float *ns_model_matrix_of(const ns_model_params *p, const ns_model_matrix *m)
{
    return p->in_w + m->off; /* in_w is the start of the array */
}

void ns_model_decay_mask(const ns_model_config *c, uint8_t *mask)
{
    memset(mask, 0, ns_model_params_layout(NULL, c, NULL));
    ns_model_matrix m[NS_MODEL_MAX_MATRICES];
    int n = ns_model_matrices(c, m);
    for (int k = 0; k < n; k++)
        if (m[k].flags & NS_MODEL_MAT_DECAY) memset(mask + m[k].off, 1, (size_t)m[k].rows * m[k].cols);
}

/* ---- activations ---------------------------------------------------------- */

void model_block_acts_carve(model_block_acts *y, model_block_scratch *s, float *mem, size_t *n,
                            const ns_model_config *c, int max_b, int max_t)
{
    size_t B = (size_t)max_b, N = B * (size_t)max_t, d = (size_t)c->d, h = d * (size_t)c->mlp_ratio;
    size_t NH = (size_t)c->n_head, T = (size_t)max_t;
#define A(ptr, count) NS_CARVE(ptr, mem, *n, count)
    A(y->mod, B * 6 * d); A(y->ln1, N * d); A(y->mean1, N); A(y->rstd1, N); A(y->m1, N * d);
    A(y->qkv, N * 3 * d); A(y->att, B * NH * T * T); A(y->ao, N * d); A(y->po, N * d); A(y->mid, N * d);
    A(y->ln2, N * d); A(y->mean2, N); A(y->rstd2, N); A(y->m2, N * d); A(y->fc, N * h); A(y->ge, N * h);
    A(y->f2, N * d);
    if (s) {
        A(s->d_mid, N * d); A(s->d_a, N * d); A(s->d_b, N * d); A(s->d_qkv, N * 3 * d); A(s->d_h, N * h);
        A(s->d_h2, N * h); A(s->d_mod, B * 6 * d);
    }
#undef A
}

struct ns_model_acts {
    ns_model_config c;
    int max_b, max_t;
    int B, T, P;                 /* shape of the last forward */
    const int *prompt, *len;     /* of the last forward (caller-owned) */
    int *len_tok;                /* [max_b] len * G: the tokens of each flow, which the blocks mask by */
    const int *len_class;        /* the length head's targets (NULL: len - 1) */
    const uint8_t *cont;         /* windows that do not start their flow (NULL: none) */
    size_t share_rows;           /* ns_model_acts_share: the global batch's valid rows (0: this batch's) */
    int share_flows;             /* and its flows (0: B) */
    void (*on_grad)(void *ctx, size_t off, size_t n); /* ns_model_acts_on_grad */
    void *on_grad_ctx;
    const float *x_t;
    const float *x_sc;           /* ns_model_acts_self_cond (NULL: zeros) */
    int share_input;             /* ns_model_acts_share_input */
    int inference;               /* ns_model_acts_inference */
    int kept;                    /* the last forward kept its activations (a backward may follow) */
    float *temb0, *th1, *tha, *temb, *yemb, *cvec, *sc;   /* [B, d] */
    float **res;                 /* [n_layer + 1] of [N G, d] (N = B T rows, G tokens each) */
    model_block_acts *layer;
    float *fmod, *lnf, *meanf, *rstdf, *mf, *out;         /* final */
    float *lh1, *lh, *llog, *lprob;                       /* length head */
    float *probs;                /* [N, n_bits, 3] softmax, for the loss backward */
    double *row_loss;            /* [N, 3] the loss's per-row sums: allocated here, so the loss cannot fail */
    float *dout;                 /* [N, out_dim] d loss / d out */
    float *dllog;                /* [B, length classes] */
    /* backward scratch (the blocks' own, then the rest) */
    model_block_scratch bs;
    float *d_res, *d_res2, *d_sc, *d_c, *d_y, *d_t;
    float *scp;                  /* [N, G d] sc_w x0_sc (self_cond only) */
    float *mem;
};

int ns_model_acts_new(ns_model_acts **out, const ns_model_config *c, int max_b, int max_t)
{
    *out = NULL;
    if (c->n_layer > NS_MODEL_MAX_LAYERS || c->d % c->n_head)
        return ns_error(NS_EARG, "model config: %d layers (at most %d), width %d not divisible by %d heads",
                        c->n_layer, NS_MODEL_MAX_LAYERS, c->d, c->n_head);
    ns_model_acts *a = calloc(1, sizeof *a);
    if (!a) return ns_error(NS_ENOMEM, "out of memory for activations");
    a->c = *c;
    a->max_b = max_b, a->max_t = max_t;
    size_t B = (size_t)max_b, N = B * (size_t)max_t, d = (size_t)c->d, G = (size_t)ns_model_groups(c), NG = N * G;
    size_t L = (size_t)c->n_layer, K = (size_t)c->n_bits;
    size_t od = (size_t)c->out_dim, MT = (size_t)ns_model_length_classes(c);
    a->res = calloc(L + 1, sizeof *a->res);
    a->layer = calloc(L ? L : 1, sizeof *a->layer);
    a->row_loss = malloc(N * 3 * sizeof *a->row_loss + 1);
    a->len_tok = malloc(B * sizeof *a->len_tok + 1);
    /* Two passes over the same list: count, then carve. */
    for (int pass = 0; pass < 2; pass++) {
        size_t n = 0;
        float *m = pass ? a->mem : NULL;
#define A(ptr, count) NS_CARVE(ptr, m, n, count)
        A(a->temb0, B * d); A(a->th1, B * d); A(a->tha, B * d); A(a->temb, B * d); A(a->yemb, B * d);
        A(a->cvec, B * d); A(a->sc, B * d);
        for (size_t l = 0; l <= L; l++) A(a->res[l], NG * d);
        for (size_t l = 0; l < L; l++)
            model_block_acts_carve(&a->layer[l], l ? NULL : &a->bs, m, &n, c, max_b, max_t * (int)G);
        A(a->fmod, B * 2 * d); A(a->lnf, NG * d); A(a->meanf, NG); A(a->rstdf, NG); A(a->mf, NG * d);
        A(a->out, N * od);
        A(a->lh1, B * d); A(a->lh, B * d); A(a->llog, B * MT); A(a->lprob, B * MT);
        A(a->probs, N * K * 3); A(a->dout, N * od); A(a->dllog, B * MT);
        A(a->d_res, NG * d); A(a->d_res2, NG * d);
        A(a->d_sc, B * d); A(a->d_c, B * d); A(a->d_y, B * d); A(a->d_t, B * d);
        A(a->scp, c->self_cond ? NG * d : 0);
#undef A
        if (!pass) {
            a->mem = (!a->res || !a->layer || !a->row_loss || !a->len_tok) ? NULL : malloc(n * sizeof(float));
            if (!a->mem) {
                ns_model_acts_free(a);
                return ns_error(NS_ENOMEM, "out of memory for activations (%zu MB)", n * sizeof(float) >> 20);
            }
        }
    }
    *out = a;
    return NS_OK;
}

void ns_model_acts_share_input(ns_model_acts *a, int on) { a->share_input = on; }

void ns_model_acts_inference(ns_model_acts *a, int on) { a->inference = on; }

void ns_model_acts_length_target(ns_model_acts *a, const int *len_class) { a->len_class = len_class; }

void ns_model_acts_continuation(ns_model_acts *a, const uint8_t *cont) { a->cont = cont; }

void ns_model_acts_self_cond(ns_model_acts *a, const float *x0_sc) { a->x_sc = x0_sc; }

void ns_model_acts_share(ns_model_acts *a, size_t rows, int flows) { a->share_rows = rows, a->share_flows = flows; }

void ns_model_acts_on_grad(ns_model_acts *a, void (*ready)(void *ctx, size_t off, size_t n), void *ctx)
{
    a->on_grad = ready, a->on_grad_ctx = ctx;
}

/* grads[from, to) is final: tell ns_model_acts_on_grad's callback. */
static void grad_ready(const ns_model_acts *a, const ns_model_params *g, const float *from, const float *to)
{
    if (a->on_grad && to > from) a->on_grad(a->on_grad_ctx, (size_t)(from - g->in_w), (size_t)(to - from));
}

void ns_model_acts_free(ns_model_acts *a)
{
    if (!a) return;
    free(a->mem);
    free(a->row_loss);
    free(a->len_tok);
    free(a->res);
    free(a->layer);
    free(a);
}

/* ---- forward ---------------------------------------------------------- */

static void add_inplace(float *dst, const float *src, size_t n)
{
    for (size_t i = 0; i < n; i++) dst[i] += src[i];
}

/* The condition vectors shared by the denoiser and the length head. */
static void prompt_forward(ns_model_acts *a, const ns_model_params *p, const ns_model_config *c, const int *prompt,
                           int P, int B)
{
    ns_embed_sum_forward(a->yemb, prompt, p->prompt, B, P, c->d);
}

static void length_forward(ns_model_acts *a, const ns_model_params *p, const ns_model_config *c, int B)
{
    int d = c->d;
    ns_linear_forward(a->lh1, a->yemb, p->len1_w, p->len1_b, B, d, d);
    ns_silu_forward(a->lh, a->lh1, (size_t)B * d);
    ns_linear_forward(a->llog, a->lh, p->len2_w, p->len2_b, B, d, ns_model_length_classes(c));
}

void ns_model_length_logits(float *logits, ns_model_acts *a, const ns_model_params *p, const ns_model_config *c,
                            const int *prompt, int P, int B)
{
    prompt_forward(a, p, c, prompt, P, B);
    length_forward(a, p, c, B);
    memcpy(logits, a->llog, (size_t)B * ns_model_length_classes(c) * sizeof(float));
}

void model_block_forward(float *out, model_block_acts *y, const float *in, const float *sc, const model_block_w *w,
                         const ns_model_config *c, const int *len, int B, int T)
{
    int d = c->d, h = d * c->mlp_ratio, N = B * T, s6 = 6 * d;
    float *mod = y->mod;
    ns_linear_forward(mod, sc, w->ada_w, w->ada_b, B, d, 6 * d);
    ns_layernorm_forward(y->ln1, y->mean1, y->rstd1, in, NULL, NULL, N, d, 1e-6f);
    ns_modulate_forward(y->m1, y->ln1, mod, mod + d, B, T, d, s6);
    ns_linear_forward(y->qkv, y->m1, w->qkv_w, w->qkv_b, N, d, 3 * d);
    ns_attention_forward(y->ao, y->att, y->qkv, len, B, T, d, c->n_head);
    ns_linear_forward(y->po, y->ao, w->proj_w, w->proj_b, N, d, d);
    ns_gate_forward(y->mid, in, mod + 2 * d, y->po, B, T, d, s6);
    ns_layernorm_forward(y->ln2, y->mean2, y->rstd2, y->mid, NULL, NULL, N, d, 1e-6f);
    ns_modulate_forward(y->m2, y->ln2, mod + 3 * d, mod + 4 * d, B, T, d, s6);
    ns_linear_forward(y->fc, y->m2, w->fc_w, w->fc_b, N, d, h);
    ns_gelu_forward(y->ge, y->fc, (size_t)N * h);
    ns_linear_forward(y->f2, y->ge, w->fc2_w, w->fc2_b, N, h, d);
    ns_gate_forward(out, y->mid, mod + 5 * d, y->f2, B, T, d, s6);
}

void ns_model_embed(ns_model_acts *a, const ns_model_params *p, const ns_model_config *c, const float *x_t,
                    const float *t, const int *prompt, int P, const int *len, int B, int T)
{
    int d = c->d, N = B * T, G = ns_model_groups(c), gd = G * d;
    a->B = B, a->T = T, a->P = P, a->prompt = prompt, a->len = len, a->x_t = x_t;
    for (int b = 0; b < B; b++) a->len_tok[b] = len[b] * G;

    float tt[B];
    for (int b = 0; b < B; b++) tt[b] = 1000.0f * t[b];
    ns_timestep_embedding(a->temb0, tt, B, d, 10000.0f);
    ns_linear_forward(a->th1, a->temb0, p->t1_w, p->t1_b, B, d, d);
    ns_silu_forward(a->tha, a->th1, (size_t)B * d);
    ns_linear_forward(a->temb, a->tha, p->t2_w, p->t2_b, B, d, d);
    prompt_forward(a, p, c, prompt, P, B);
    for (size_t i = 0; i < (size_t)B * d; i++) a->cvec[i] = a->temb[i] + a->yemb[i];
    for (int b = 0; c->len_bins && a->cont && b < B; b++)
        if (a->cont[b]) add_inplace(a->cvec + (size_t)b * d, p->cont, (size_t)d);
    ns_silu_forward(a->sc, a->cvec, (size_t)B * d);
    length_forward(a, p, c, B);

    /* x[N, G d] is the tokens x[N G, d]: row r's G tokens lie together. */
    float *x = a->res[0];
    int n_in = a->share_input && B % 2 == 0 ? N / 2 : N; /* the second half's rows equal the first's */
    ns_linear_forward(x, x_t, p->in_w, p->in_b, n_in, c->in_dim, gd);
    if (c->self_cond && a->x_sc) { /* an estimate of zeros adds nothing */
        ns_linear_forward(a->scp, a->x_sc, p->sc_w, NULL, n_in, c->in_dim, gd);
        add_inplace(x, a->scp, (size_t)n_in * gd);
    }
    if (n_in < N) memcpy(x + (size_t)n_in * gd, x, (size_t)n_in * gd * sizeof(float));
    for (int b = 0; b < B; b++)
        for (int r = 0; r < T; r++) add_inplace(x + ((size_t)b * T + r) * gd, p->pos + (size_t)r * gd, (size_t)gd);
}

const float *ns_model_tokens(const ns_model_acts *a) { return a->res[0]; }
const float *ns_model_condition(const ns_model_acts *a) { return a->sc; }

void ns_model_run_blocks(float *out, ns_model_acts *a, const ns_model_params *p, const ns_model_config *c,
                         const float *const *control)
{
    int d = c->d, B = a->B, T = a->T, N = B * T, G = ns_model_groups(c), TG = T * G, NG = N * G;
    /* Sampling keeps no block's activations: block 0's buffers serve all,
     * so that a pass's working set stays near the core (BENCHMARK.md, The
     * medium model's sampler, session 12). Every value is computed as in
     * training's forward, element by element, so the bits are the same. */
    model_block_acts once = a->layer[0];
    if (a->inference) {
        once.m1 = once.ln1, once.m2 = once.ln2, once.ge = once.fc;
        if (ns_attention_fused(TG, d / c->n_head)) once.att = NULL;
    }
    a->kept = !a->inference;
    for (int l = 0; l < c->n_layer; l++) {
        model_block_w w = model_block_of(p, l);
        model_block_forward(a->res[l + 1], a->inference ? &once : &a->layer[l], a->res[l], a->sc, &w, c, a->len_tok,
                            B, TG);
        if (control && control[l]) add_inplace(a->res[l + 1], control[l], (size_t)NG * d);
    }
    ns_linear_forward(a->fmod, a->sc, p->fada_w, p->fada_b, B, d, 2 * d);
    ns_layernorm_forward(a->lnf, a->meanf, a->rstdf, a->res[c->n_layer], NULL, NULL, NG, d, 1e-6f);
    ns_modulate_forward(a->mf, a->lnf, a->fmod, a->fmod + d, B, TG, d, 2 * d);
    ns_linear_forward(a->out, a->mf, p->out_w, p->out_b, N, G * d, c->out_dim);
    if (out && out != a->out) memcpy(out, a->out, (size_t)N * c->out_dim * sizeof(float));
}

void ns_model_forward(float *out, ns_model_acts *a, const ns_model_params *p, const ns_model_config *c,
                      const float *x_t, const float *t, const int *prompt, int P, const int *len, int B, int T,
                      const float *const *control)
{
    ns_model_embed(a, p, c, x_t, t, prompt, P, len, B, T);
    ns_model_run_blocks(out, a, p, c, control);
}

const float *ns_model_output(const ns_model_acts *a) { return a->out; }

/* ---- loss ---------------------------------------------------------- */

/* One row's K three-class cross-entropies: softmax into probs[K, 3], the
 * gradient (p - onehot) * scale into g[K, 3], and the summed loss. ns_expf
 * and ns_logf (nn_math.h) keep this loop vectorised: libm's are calls. */
NS_CLONES static double bits_row_loss(float *g, float *probs, const float *logits, const uint8_t *cls, int K,
                                      float scale)
{
    float sum = 0;
    for (int j = 0; j < K; j++) {
        const float *l = logits + 3 * j;
        float m = fmaxf(l[0], fmaxf(l[1], l[2]));
        float e0 = ns_expf(l[0] - m), e1 = ns_expf(l[1] - m), e2 = ns_expf(l[2] - m), s = e0 + e1 + e2;
        float inv = 1.0f / s, q0 = e0 * inv, q1 = e1 * inv, q2 = e2 * inv;
        int y = cls[j];
        float ly = y == 0 ? l[0] : y == 1 ? l[1] : l[2];
        sum += m + ns_logf(s) - ly; /* -log softmax(l)[y] */
        probs[3 * j] = q0, probs[3 * j + 1] = q1, probs[3 * j + 2] = q2;
        g[3 * j] = (q0 - (y == 0)) * scale;
        g[3 * j + 1] = (q1 - (y == 1)) * scale;
        g[3 * j + 2] = (q2 - (y == 2)) * scale;
    }
    return sum;
}

/* One row's timing bins (or sub-bins): the cross-entropy of bin `y` under
 * the softmax of logits[n], its gradient (p - onehot) * scale into g[n]. */
static double bins_row_loss(float *g, const float *logits, int y, int n, float scale)
{
    float m = logits[0];
    for (int k = 1; k < n; k++) m = fmaxf(m, logits[k]);
    double s = 0;
    for (int k = 0; k < n; k++) s += (double)(g[k] = expf(logits[k] - m));
    float inv = (float)(1.0 / s);
    for (int k = 0; k < n; k++) g[k] = (g[k] * inv - (k == y)) * scale;
    return (double)m + log(s) - (double)logits[y];
}

float ns_model_loss(ns_model_acts *a, const ns_model_config *c, const uint8_t *cls, const float *iat,
                    const uint8_t *dir, const ns_model_loss_weights *w, float losses[4])
{
    int B = a->B, T = a->T, K = c->n_bits, od = c->out_dim, MT = ns_model_length_classes(c), NB = c->timing_bins;
    size_t N = (size_t)B * T;
    size_t valid = 0;
    for (int b = 0; b < B; b++) valid += (size_t)a->len[b];
    memset(a->dout, 0, N * od * sizeof(float));
    double *row_loss = a->row_loss; /* bits, iat, dir per row: summed in order below */
    memset(row_loss, 0, N * 3 * sizeof *row_loss);
    if (!valid) {
        if (losses) memset(losses, 0, 4 * sizeof(float));
        return 0;
    }
    /* A share of a data-parallel batch divides by the whole batch's counts,
     * so that the ranks' losses and gradients add up to its means. */
    size_t all_rows = a->share_rows ? a->share_rows : valid;
    int all_flows = a->share_flows ? a->share_flows : B;
    float nb = (float)(all_rows * (size_t)K), nr = (float)all_rows;

#pragma omp parallel for schedule(static)
    for (size_t r = 0; r < N; r++) {
        int b = (int)(r / (size_t)T), t = (int)(r % (size_t)T);
        if (t >= a->len[b]) continue;
        const float *o = a->out + r * od;
        float *g = a->dout + r * od;
        row_loss[3 * r] = bits_row_loss(g, a->probs + r * K * 3, o, cls + r * K, K, 1.0f / nb);
        if (NB) { /* Timing: cross-entropies of its bin and of its sub-bin. */
            float u = iat[r] > 0 ? iat[r] : 0;
            int y = (int)u, s;
            y = y >= NB ? NB - 1 : y;
            s = (int)((u - (float)y) * NS_MODEL_TIMING_SUB);
            s = s < 0 ? 0 : s >= NS_MODEL_TIMING_SUB ? NS_MODEL_TIMING_SUB - 1 : s;
            row_loss[3 * r + 1] = bins_row_loss(g + 3 * K, o + 3 * K, y, NB, w->w_iat / nr) +
                                  bins_row_loss(g + 3 * K + NB, o + 3 * K + NB, s, NS_MODEL_TIMING_SUB, w->w_iat / nr);
        } else { /* Timing: squared error on the standardised log inter-arrival time. */
            float e = o[3 * K] - iat[r];
            g[3 * K] = w->w_iat * 2 * e / nr;
            row_loss[3 * r + 1] = (double)e * e;
        }
        /* Direction: logistic loss on one logit, after the timing. */
        float z = o[od - 1], yd = dir[r] ? 1.0f : 0.0f;
        float sig = 1 / (1 + expf(-z));
        g[od - 1] = w->w_dir * (sig - yd) / nr;
        row_loss[3 * r + 2] = fmaxf(z, 0) - z * yd + log1pf(expf(-fabsf(z)));
    }
    double sb = 0, si = 0, sd = 0;
    for (size_t r = 0; r < N; r++) sb += row_loss[3 * r], si += row_loss[3 * r + 1], sd += row_loss[3 * r + 2];

    /* Length head: softmax cross-entropy over its classes, mean over flows. */
    double sl = 0;
    for (int b = 0; b < B; b++) {
        const float *l = a->llog + (size_t)b * MT;
        float *q = a->lprob + (size_t)b * MT, *g = a->dllog + (size_t)b * MT, m = l[0], s = 0;
        for (int k = 1; k < MT; k++) m = fmaxf(m, l[k]);
        for (int k = 0; k < MT; k++) s += (q[k] = expf(l[k] - m));
        int y = a->len_class ? a->len_class[b] : a->len[b] - 1;
        for (int k = 0; k < MT; k++) {
            q[k] /= s;
            g[k] = w->w_len * (q[k] - (k == y)) / (float)all_flows;
        }
        sl += -log((double)q[y] + 1e-30);
    }
    float lbits = (float)(sb / nb), liat = (float)(si / nr), ldir = (float)(sd / nr), llen = (float)(sl / all_flows);
    if (losses) losses[0] = lbits, losses[1] = liat, losses[2] = ldir, losses[3] = llen;
    return lbits + w->w_iat * liat + w->w_dir * ldir + w->w_len * llen;
}

/* ---- backward ---------------------------------------------------------- */

int model_block_backward(float *din, float *d_sc, const model_block_w *g, const model_block_scratch *s,
                         const float *dout, const model_block_acts *y, const float *in, const float *sc,
                         const model_block_w *w, const ns_model_config *c, const int *len, int B, int T)
{
    int d = c->d, h = d * c->mlp_ratio, N = B * T, s6 = 6 * d;
    size_t Nd = (size_t)N * d;
    const float *mod = y->mod;
    float *dmod = s->d_mod;
    memset(dmod, 0, (size_t)B * s6 * sizeof(float));
    /* out = mid + gate2 f2 */
    memset(s->d_mid, 0, Nd * sizeof(float));
    memset(s->d_a, 0, Nd * sizeof(float));
    ns_gate_backward(s->d_mid, dmod + 5 * d, s->d_a, dout, mod + 5 * d, y->f2, B, T, d, s6);
    memset(s->d_h, 0, (size_t)N * h * sizeof(float));
    ns_linear_backward(s->d_h, g->fc2_w, g->fc2_b, s->d_a, y->ge, w->fc2_w, N, h, d);
    memset(s->d_h2, 0, (size_t)N * h * sizeof(float));
    ns_gelu_backward(s->d_h2, s->d_h, y->fc, (size_t)N * h);
    memset(s->d_b, 0, Nd * sizeof(float));
    ns_linear_backward(s->d_b, g->fc_w, g->fc_b, s->d_h2, y->m2, w->fc_w, N, d, h);
    memset(s->d_a, 0, Nd * sizeof(float));
    ns_modulate_backward(s->d_a, dmod + 3 * d, dmod + 4 * d, s->d_b, y->ln2, mod + 4 * d, B, T, d, s6);
    ns_layernorm_backward(s->d_mid, NULL, NULL, s->d_a, y->mid, NULL, y->mean2, y->rstd2, N, d);
    /* mid = in + gate1 po */
    memset(din, 0, Nd * sizeof(float));
    memset(s->d_a, 0, Nd * sizeof(float));
    ns_gate_backward(din, dmod + 2 * d, s->d_a, s->d_mid, mod + 2 * d, y->po, B, T, d, s6);
    memset(s->d_b, 0, Nd * sizeof(float));
    ns_linear_backward(s->d_b, g->proj_w, g->proj_b, s->d_a, y->ao, w->proj_w, N, d, d);
    memset(s->d_qkv, 0, Nd * 3 * sizeof(float));
    if (ns_attention_backward(s->d_qkv, s->d_b, y->qkv, y->att, len, B, T, d, c->n_head))
        return ns_error(NS_ENOMEM, "out of memory in the attention backward");
    memset(s->d_a, 0, Nd * sizeof(float));
    ns_linear_backward(s->d_a, g->qkv_w, g->qkv_b, s->d_qkv, y->m1, w->qkv_w, N, d, 3 * d);
    memset(s->d_b, 0, Nd * sizeof(float));
    ns_modulate_backward(s->d_b, dmod, dmod + d, s->d_a, y->ln1, mod + d, B, T, d, s6);
    ns_layernorm_backward(din, NULL, NULL, s->d_b, in, NULL, y->mean1, y->rstd1, N, d);
    ns_linear_backward(d_sc, g->ada_w, g->ada_b, dmod, sc, w->ada_w, B, d, s6);
    return NS_OK;
}

int ns_model_backward(ns_model_params *g, ns_model_acts *a, const ns_model_params *p, const ns_model_config *c,
                      float *const *dcontrol)
{
    int B = a->B, T = a->T, d = c->d, G = ns_model_groups(c), gd = G * d, N = B * T, TG = T * G, L = c->n_layer;
    size_t Nd = (size_t)N * gd, Bd = (size_t)B * d; /* Nd: every token's floats */
    if (!a->kept)
        return ns_error(NS_EARG, "model: a backward needs the activations of a forward that kept them "
                                 "(not ns_model_acts_inference's)");
    /* g NULL: only dcontrol is wanted (a frozen base under a control
     * branch), so no weight gradient is computed and the pass stops at the
     * lowest block that has a control residual. */
    ns_model_params none;
    int lowest = 0;
    if (!g) {
        memset(&none, 0, sizeof none);
        g = &none;
        lowest = L;
        for (int l = L - 1; l >= 0; l--)
            if (dcontrol && dcontrol[l]) lowest = l;
    }
    float *d_a = a->bs.d_a, *d_b = a->bs.d_b, *d_mod = a->bs.d_mod;
    memset(a->d_sc, 0, Bd * sizeof(float));
    memset(a->d_y, 0, Bd * sizeof(float));

    /* Length head -> yemb. */
    memset(d_a, 0, Bd * sizeof(float));
    ns_linear_backward(d_a, g->len2_w, g->len2_b, a->dllog, a->lh, p->len2_w, B, d, ns_model_length_classes(c));
    memset(d_b, 0, Bd * sizeof(float));
    ns_silu_backward(d_b, d_a, a->lh1, Bd);
    ns_linear_backward(a->d_y, g->len1_w, g->len1_b, d_b, a->yemb, p->len1_w, B, d, d);

    /* Output layer and final adaLN. */
    float *dres = a->d_res, *dnext = a->d_res2;
    memset(d_a, 0, Nd * sizeof(float));
    ns_linear_backward(d_a, g->out_w, g->out_b, a->dout, a->mf, p->out_w, N, gd, c->out_dim);
    memset(d_mod, 0, (size_t)B * 2 * d * sizeof(float));
    memset(d_b, 0, Nd * sizeof(float));
    ns_modulate_backward(d_b, d_mod, d_mod + d, d_a, a->lnf, a->fmod + d, B, TG, d, 2 * d);
    memset(dres, 0, Nd * sizeof(float));
    ns_layernorm_backward(dres, NULL, NULL, d_b, a->res[L], NULL, a->meanf, a->rstdf, N * G, d);
    ns_linear_backward(a->d_sc, g->fada_w, g->fada_b, d_mod, a->sc, p->fada_w, B, d, 2 * d);
    if (g != &none) grad_ready(a, g, g->fada_w, g->len2_b + ns_model_length_classes(c));

    for (int l = L - 1; l >= 0; l--) {
        if (dcontrol && dcontrol[l]) memcpy(dcontrol[l], dres, Nd * sizeof(float));
        if (l < lowest || (g == &none && l == lowest)) return NS_OK;
        model_block_w w = model_block_of(p, l), gw = model_block_of(g, l);
        int rc = model_block_backward(dnext, a->d_sc, &gw, &a->bs, dres, &a->layer[l], a->res[l], a->sc, &w, c,
                                      a->len_tok, B, TG);
        if (rc) return rc;
        if (g != &none) grad_ready(a, g, g->ada_w[l], l + 1 < L ? g->ada_w[l + 1] : g->fada_w);
        float *swap = dres;
        dres = dnext;
        dnext = swap;
    }
    if (g == &none) return NS_OK;

    /* Input embedding and positions. */
    for (int b = 0; b < B; b++)
        for (int r = 0; r < T; r++) add_inplace(g->pos + (size_t)r * gd, dres + ((size_t)b * T + r) * gd, (size_t)gd);
    ns_linear_backward(NULL, g->in_w, g->in_b, dres, a->x_t, p->in_w, N, c->in_dim, gd);
    /* x0_sc is an input, not a function of the weights (stop-gradient). */
    if (c->self_cond && a->x_sc) ns_linear_backward(NULL, g->sc_w, NULL, dres, a->x_sc, p->sc_w, N, c->in_dim, gd);

    /* Condition: sc = silu(c), c = temb + yemb. */
    memset(a->d_c, 0, Bd * sizeof(float));
    ns_silu_backward(a->d_c, a->d_sc, a->cvec, Bd);
    for (int b = 0; c->len_bins && a->cont && b < B; b++)
        if (a->cont[b]) add_inplace(g->cont, a->d_c + (size_t)b * d, (size_t)d);
    add_inplace(a->d_y, a->d_c, Bd);
    ns_embed_sum_backward(g->prompt, a->d_y, a->prompt, B, a->P, d);
    memset(a->d_t, 0, Bd * sizeof(float));
    ns_linear_backward(a->d_t, g->t2_w, g->t2_b, a->d_c, a->tha, p->t2_w, B, d, d);
    memset(d_a, 0, Bd * sizeof(float));
    ns_silu_backward(d_a, a->d_t, a->th1, Bd);
    ns_linear_backward(NULL, g->t1_w, g->t1_b, d_a, a->temb0, p->t1_w, B, d, d);
    return NS_OK;
}

double ns_model_step_flops(const ns_model_config *c, int B, int T)
{
    ns_model_matrix m[NS_MODEL_MAX_MATRICES];
    int n = ns_model_matrices(c, m);
    /* Attention's two products (scores, weighted values) per block, then the
     * weights': per row, a block's run G times (once a token), the input and
     * output maps once. */
    double G = ns_model_groups(c), N = (double)B * T;
    double per_token = (double)c->n_layer * 2 * T * G * c->d * G, per_flow = 0;
    for (int k = 0; k < n; k++) {
        double mac = (double)m[k].rows * m[k].cols * (m[k].layer >= 0 && (m[k].flags & NS_MODEL_MAT_TOKEN) ? G : 1);
        if (m[k].flags & NS_MODEL_MAT_TOKEN) per_token += mac;
        else per_flow += mac;
    }
    /* 2 flops a multiply-add; the backward does two products per forward one. */
    return 2.0 * 3.0 * (N * per_token + B * per_flow);
}
