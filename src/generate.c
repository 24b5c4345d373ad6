/* generate.c: prompts, the length head and sampling (see generate.h). */
#include "netsynth/generate.h"

#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "netsynth/blas.h"
#include "netsynth/error.h"
#include "netsynth/nprint.h"
#include "netsynth/rng.h"
#include "netsynth/tmodel.h"
#include "gen_clamp.h"

enum { W = NS_NP_MODEL_WIDTH };

void ns_gen_opts_init(ns_gen_opts *o)
{
    o->sampler.kind = NS_SAMPLER_DPMPP_2M;
    o->sampler.steps = 8; /* as good as 20 on the IoT corpus (BENCHMARK.md, Fidelity) */
    o->sampler.eta = 0;
    o->guidance = NS_GEN_GUIDANCE_MODEL;
    /* Every step: guiding the last 2 only gave closer times on an undertrained
     * model but a lower TRTS, and on a 20,000-step one no closer times
     * (BENCHMARK.md, Guidance at the last steps, 20,000 steps). */
    o->guided_steps = 0;
    o->seed = 1;
    o->batch = 0;
    o->length = 0;
    o->length_guidance = 1.0f;
    o->timing_guidance = 1.0f; /* the class's own times: guidance sharpened them (BENCHMARK.md, Timing) */
    o->fix = NULL;
    o->controlnet = NULL;
    o->control = NULL;
    o->control_scale = 1.0f;
    o->control_hard = 1;
    o->progress = NULL;
    o->progress_ctx = NULL;
}

float ns_gen_guidance_default(const ns_model_config *c) { return c->d >= 192 ? 1.5f : 2.0f; }

void ns_gen_flows_free(ns_gen_flows *g)
{
    free(g->len), free(g->first), free(g->labels), free(g->rows), free(g->dir), free(g->iat_ns);
    memset(g, 0, sizeof *g);
}

int ns_gen_flows_reserve(ns_gen_flows *g, size_t flows, size_t rows)
{
    if (g->n_flows + flows > g->cap_flows_) {
        size_t cap = (g->n_flows + flows) * 2;
        uint32_t *len = realloc(g->len, cap * sizeof *len);
        if (len) g->len = len;
        size_t *first = realloc(g->first, cap * sizeof *first);
        if (first) g->first = first;
        int32_t *labels = realloc(g->labels, cap * (g->n_attrs ? g->n_attrs : 1) * sizeof *labels);
        if (labels) g->labels = labels;
        if (!len || !first || !labels) return ns_error(NS_ENOMEM, "out of memory for generated flows");
        g->cap_flows_ = cap;
    }
    if (g->n_rows + rows > g->cap_rows_) {
        size_t cap = (g->n_rows + rows) * 2;
        int8_t *r = realloc(g->rows, cap * W);
        if (r) g->rows = r;
        uint8_t *d = realloc(g->dir, cap);
        if (d) g->dir = d;
        int64_t *t = realloc(g->iat_ns, cap * sizeof *t);
        if (t) g->iat_ns = t;
        if (!r || !d || !t) return ns_error(NS_ENOMEM, "out of memory for generated rows");
        g->cap_rows_ = cap;
    }
    return NS_OK;
}

/* ---- prompts ---------------------------------------------------------- */

static int unknown_token(const ns_modelfile *m, const char *what, const char *tok)
{
    /* List the vocabulary, attribute by attribute, within the message size. */
    char list[768];
    size_t at = 0;
    for (uint32_t i = 0; i < m->n_tokens && at + 4 < sizeof list; i++) {
        int w = snprintf(list + at, sizeof list - at, "%s%s", i ? " " : "", m->tokens[i]);
        if (w < 0 || (size_t)w >= sizeof list - at) {
            snprintf(list + (sizeof list - 5), 5, " ...");
            break;
        }
        at += (size_t)w;
    }
    return ns_error(NS_EARG, "%s prompt token '%s'; the model knows: %s", what, tok, m->n_tokens ? list : "(nothing)");
}

int ns_gen_require_trained(const ns_modelfile *m, int32_t id)
{
    if (ns_modelfile_token_trained(m, id)) return NS_OK;
    return ns_error(NS_EARG, "prompt token '%s' was never trained (no training flow had it): fine-tune an adapter "
                             "for it (netsynth finetune) and load it with --lora", m->tokens[id]);
}

int ns_gen_parse_prompt(const ns_modelfile *m, const char *text, int32_t *ids)
{
    for (uint32_t a = 0; a < m->n_attrs; a++) ids[a] = -1;
    char *copy = strdup(text ? text : "");
    if (!copy) return ns_error(NS_ENOMEM, "out of memory");
    int rc = NS_OK;
    char *save = NULL;
    for (char *tok = strtok_r(copy, " ,\t", &save); tok && !rc; tok = strtok_r(NULL, " ,\t", &save)) {
        int32_t id = ns_modelfile_token(m, tok);
        if (id < 0) {
            rc = unknown_token(m, "unknown", tok);
            break;
        }
        if ((rc = ns_gen_require_trained(m, id))) break;
        int a = ns_modelfile_token_attr(m, id);
        if (ids[a] >= 0 && ids[a] != id) {
            rc = ns_error(NS_EARG, "prompt gives two values of '%s': %s and %s", m->attr_names[a],
                          m->tokens[ids[a]], tok);
            break;
        }
        ids[a] = id;
    }
    free(copy);
    return rc;
}

/* ---- sampling ---------------------------------------------------------- */

typedef struct denoise_ctx {
    const ns_modelfile *m;
    ns_model_acts *acts;
    int B, T, P, guided;
    int step, steps, guided_steps; /* this batch's network call; guidance from steps - guided_steps */
    float guidance, timing_guidance;
    int *prompt;          /* [2B, P]: conditional rows, then unconditional (all -1) */
    int *len;             /* [2B] */
    float *t;             /* [2B] */
    float *x_in;          /* [B, T, in]: the sampler's state, the network's input for both halves
                           * ([2B, T, in] with a control branch, whose input is not shared) */
    float *out;           /* [B, T, out] guided outputs of the latest call */
    const gen_clamp *cl;      /* NULL, or values to hold */
    const ns_controlnet *ctl;     /* NULL, or a control branch: */
    ns_controlnet_acts *cacts;
    float *feat;                  /* [2B, T, NS_CONTROL_FEATURES] */
    float scale;
    const gen_hard *hard;         /* NULL, or rows held to: */
    const ns_control_row **map;   /* [B] each flow's map rows */
    int hold;                     /* a continuation window: its first `hold` rows are known, */
    float *held;                  /* [B, hold, in] their encodings (inpainted at every step) */
    uint8_t *cont;                /* [2B] all 1: told to the model (it trained on such windows) */
    float *sc;                    /* [B, T, in] a self-conditioned model's estimate of x_0 from the call
                                   * before (after clamps and holds), both halves' (NULL: not one) */
} denoise_ctx;

/* The sampler's network: x_t -> guided outputs -> expected x_0. */
static int denoise(void *vctx, float *x0, const float *x_t, double t, size_t n)
{
    denoise_ctx *c = vctx;
    const ns_model_config *cfg = &c->m->cfg;
    /* Unguided steps (before the last guided_steps) run the conditional half alone. */
    int guided = c->guided && (c->guided_steps <= 0 || c->step >= c->steps - c->guided_steps);
    c->step++;
    int B = c->B, T = c->T, in = cfg->in_dim, BB = guided ? 2 * B : B, first = c->step == 1;
    size_t rows = (size_t)B * T, per = rows * (size_t)cfg->out_dim;
    /* The sampler's state lives in x_in (see sample_batch); the unconditional
     * half's rows are the same, and the forward takes them from the first
     * half (ns_model_acts_share_input): no copy, one input projection. */
    if (x_t != c->x_in) memcpy(c->x_in, x_t, n * sizeof(float));
    for (int b = 0; b < BB; b++) c->t[b] = (float)t;
    if (c->ctl) {
        if (guided) memcpy(c->x_in + n, x_t, n * sizeof(float));
        ns_controlnet_model_forward(NULL, c->acts, c->cacts, c->m, c->ctl, c->x_in, c->t, c->prompt, c->P, c->len, BB,
                                    T, c->feat, c->scale);
    } else {
        /* The first call has no estimate yet: zeros, as training's flows without one. */
        if (c->sc) ns_model_acts_self_cond(c->acts, first ? NULL : c->sc);
        ns_model_acts_share_input(c->acts, guided);
        ns_model_forward(NULL, c->acts, &c->m->p, cfg, c->x_in, c->t, c->prompt, c->P, c->len, BB, T, NULL);
    }
    const float *raw = ns_model_output(c->acts);
    /* Guidance and the expectation in one pass over the outputs. */
    ns_repr_expect_guided(&c->m->repr, x0, c->out, raw, guided ? raw + per : NULL, c->guidance, c->timing_guidance,
                          rows);
    if (c->cl)
        for (int b = 0; b < B; b++)
            for (int r = 0; r < c->len[b]; r++) gen_clamp_x0(c->cl, c->m->repr.n_bits, x0 + ((size_t)b * T + r) * in);
    if (c->hard)
        for (int b = 0; b < B; b++)
            for (int r = 0; r < c->len[b]; r++) gen_hard_x0(c->hard, &c->map[b][r], c->m->repr.n_bits, x0 + ((size_t)b * T + r) * in);
    if (c->hold)
        for (int b = 0; b < B; b++)
            memcpy(x0 + (size_t)b * T * in, c->held + (size_t)b * c->hold * in, (size_t)c->hold * in * sizeof(float));
    for (int b = 0; b < B; b++) /* rows past a flow's end stay empty */
        memset(x0 + ((size_t)b * T + c->len[b]) * in, 0, (size_t)(T - c->len[b]) * in * sizeof(float));
    if (c->sc) memcpy(c->sc, x0, n * sizeof(float));
    return NS_OK;
}

/* Draw a length class 0..T-1 from logits[T] with u in [0, 1). */
static int draw_length(const float *logits, int T, double u)
{
    double m = logits[0], s = 0;
    for (int k = 1; k < T; k++) m = fmax(m, logits[k]);
    for (int k = 0; k < T; k++) s += exp(logits[k] - m);
    double acc = 0;
    for (int k = 0; k < T; k++) {
        acc += exp(logits[k] - m) / s;
        if (u < acc) return k;
    }
    return T - 1;
}

/* The length of class k (ns_model_length_class) for a flow of prompt ids:
 * k + 1 within the window; past it, bin j = k - T holds (T 2^j, T 2^(j+1)],
 * and the length is drawn within it from rng (only then: flows within the
 * window draw what they always did), through the quantiles of the prompt's
 * class's real flows in that bin where the trace model (version 12) has them,
 * else log-uniformly. The head says which bin; where in a bin a class's long
 * flows lie is the class's (Lightify's 15 flows of 256-512 packets lie at
 * 278-297, D-LinkSiren's high in theirs), and the log-uniform draw put the
 * total packets of such classes 10-30% off (BENCHMARK.md, "Bytes per class
 * (session 14)"). At most NS_FLOW_MAX_KEPT. */
static int length_of_class(const ns_modelfile *m, const int32_t *ids, int k, ns_rng *rng)
{
    int T = m->cfg.max_packets;
    if (k < T) return k + 1;
    double lo = (double)T * (double)(1u << (k - T)), u = ns_rng_double(rng), len = floor(lo * exp2(u)) + 1;
    char key[512];
    uint32_t l;
    if (m->trace && !ns_tmodel_key(m, ids, key, sizeof key) &&
        ns_tmodel_length_in(m->trace, key, (uint64_t)lo, 2 * (uint64_t)lo, u, &l))
        len = l;
    return len < NS_FLOW_MAX_KEPT ? (int)len : NS_FLOW_MAX_KEPT;
}

/* One flow of a stratum group: its prompt and its index in the call. */
typedef struct by_prompt {
    const int32_t *q;
    int P;
    size_t index;
} by_prompt;

static int cmp_prompt(const void *a, const void *b)
{
    const by_prompt *x = a, *y = b;
    int c = memcmp(x->q, y->q, (size_t)x->P * sizeof *x->q);
    if (c) return c;
    return x->index < y->index ? -1 : x->index > y->index;
}

/* Stratified (systematic) length draws: u[i] becomes (pi(j) + U) / g for
 * the g flows of one prompt whose streams lie in one block of
 * NS_GEN_STRATA (j the flow's place among them, pi a random permutation, U
 * one uniform: both from the group's own stream). Each u stays uniform, so
 * each flow's length is still the length head's draw, but the group's
 * lengths fill the head's distribution quantile by quantile: its histogram
 * and its total follow the distribution instead of scattering around it
 * (variance reduction: a class whose total rests on a few long flows gets
 * them in proportion, not 0 or 2 where it expects 1). Blocks are of the
 * global streams stream0 + i, so a share of a run that starts at a
 * multiple of NS_GEN_STRATA draws what the whole run does (generate under
 * mpirun). The flows' own streams are not touched. */
static int stratify(double *u, const int32_t *ids, int P, size_t n, uint64_t stream0, uint64_t seed)
{
    by_prompt *g = malloc((n + 1) * sizeof *g);
    size_t *perm = malloc((n + 1) * sizeof *perm);
    if (!g || !perm) {
        free(g), free(perm);
        return ns_error(NS_ENOMEM, "out of memory for %zu length draws", n);
    }
    for (size_t a = 0; a < n;) {
        uint64_t block = (stream0 + a) / NS_GEN_STRATA;
        size_t b = a;
        while (b < n && (stream0 + b) / NS_GEN_STRATA == block) b++;
        for (size_t i = a; i < b; i++) g[i - a] = (by_prompt){ids + i * (size_t)P, P, i};
        qsort(g, b - a, sizeof *g, cmp_prompt);
        for (size_t s = 0; s < b - a;) {
            size_t e = s + 1;
            while (e < b - a && !memcmp(g[s].q, g[e].q, (size_t)P * sizeof *g[s].q)) e++;
            size_t k = e - s;
            ns_rng r;
            ns_rng_seed(&r, seed ^ 0x7374726174613135ull, stream0 + g[s].index);
            double U = ns_rng_double(&r);
            for (size_t j = 0; j < k; j++) perm[j] = j;
            for (size_t j = k; j > 1; j--) { /* Fisher-Yates */
                size_t t = (size_t)ns_rng_below(&r, j), x = perm[j - 1];
                perm[j - 1] = perm[t], perm[t] = x;
            }
            for (size_t j = 0; j < k; j++) u[g[s + j].index] = ((double)perm[j] + U) / (double)k;
            s = e;
        }
        a = b;
    }
    free(g), free(perm);
    return NS_OK;
}

/* The longest prefix q[0..k) of a prompt's attributes that some training
 * combination has (an unset attribute matches any): P for a trained one. */
static int trained_prefix(const ns_modelfile *m, const int32_t *q, int P)
{
    for (int k = P; k > 0; k--)
        for (uint32_t c = 0; c < m->n_combos; c++) {
            int a = 0;
            while (a < k && (q[a] < 0 || m->combo_ids[c * (size_t)P + a] == q[a])) a++;
            if (a == k) return k;
        }
    return 0;
}

/* The length head's logits[n][T] for the prompts ids[n][P], at most `room`
 * prompts per pass. For a combination the model never trained (a held-out
 * pair), the head's joint guess is broad, and a product of experts of what
 * it did train takes its place: log p(L | q[0..k)) + log p(L | q[k..P)) -
 * log p(L), q[0..k) the longest trained prefix (BENCHMARK.md, Coverage).
 * Then guidance, uncond + g (cond - uncond). */
static void length_logits(float *logits, ns_model_acts *acts, int *prompt, int room, const ns_modelfile *m,
                          const ns_gen_opts *o, const int32_t *ids, size_t n)
{
    const ns_model_config *cfg = &m->cfg;
    int T = ns_model_length_classes(cfg), P = (int)m->n_attrs;
    for (size_t at = 0; at < n; at += (size_t)room) {
        int B = n - at < (size_t)room ? (int)(n - at) : room;
        memcpy(prompt, ids + at * P, (size_t)B * P * sizeof *ids);
        ns_model_length_logits(logits + at * T, acts, &m->p, cfg, prompt, P, B);
    }
    float uncond[T], parts[2 * T];
    for (int a = 0; a < P; a++) prompt[a] = -1;
    ns_model_length_logits(uncond, acts, &m->p, cfg, prompt, P, 1);
    int k = P; /* of the prompt last seen: flows of one request share it */
    for (size_t i = 0; i < n; i++) {
        const int32_t *q = ids + i * P;
        if (i == 0 || memcmp(q, q - P, (size_t)P * sizeof *q)) {
            k = trained_prefix(m, q, P);
            if (k == 0 || k == P) continue; /* trained, or nothing of it was */
            for (int a = 0; a < P; a++) prompt[a] = a < k ? q[a] : -1, prompt[P + a] = a < k ? -1 : q[a];
            ns_model_length_logits(parts, acts, &m->p, cfg, prompt, P, 2);
        }
        if (k == 0 || k == P) continue;
        for (int t = 0; t < T; t++) logits[i * T + t] = parts[t] + parts[T + t] - uncond[t];
    }
    if (o->length_guidance != 1.0f)
        for (size_t i = 0; i < n; i++)
            for (int t = 0; t < T; t++) logits[i * T + t] = uncond[t] + o->length_guidance * (logits[i * T + t] - uncond[t]);
}

int ns_gen_length_logits(float *logits, const ns_modelfile *m, const ns_gen_opts *o, const int32_t *ids, size_t n)
{
    enum { ROOM = 64 };
    int P = (int)m->n_attrs;
    ns_model_acts *acts = NULL;
    int *prompt = malloc((size_t)ROOM * (P ? P : 1) * sizeof *prompt);
    int rc = prompt ? ns_model_acts_new(&acts, &m->cfg, ROOM, 1) : ns_error(NS_ENOMEM, "out of memory");
    if (!rc) length_logits(logits, acts, prompt, ROOM, m, o, ids, n);
    ns_model_acts_free(acts);
    free(prompt);
    return rc;
}

typedef struct by_len {
    int len;
    size_t index;
} by_len;

static int cmp_len(const void *a, const void *b)
{
    const by_len *x = a, *y = b;
    if (x->len != y->len) return x->len < y->len ? -1 : 1;
    return x->index < y->index ? -1 : x->index > y->index;
}

int ns_generate(const ns_modelfile *m, const ns_gen_opts *o, const int32_t *ids, size_t n, uint64_t stream0,
                ns_gen_flows *out)
{
    size_t P = m->n_attrs ? m->n_attrs : 1;
    int32_t *each = malloc(n * P * sizeof *each + 1);
    if (!each) return ns_error(NS_ENOMEM, "out of memory for %zu prompts", n);
    for (size_t i = 0; i < n; i++) memcpy(each + i * P, ids, m->n_attrs * sizeof *ids);
    int rc = ns_generate_many(m, o, each, n, stream0, out);
    free(each);
    return rc;
}

/* The denoiser's weights, packed for the inference kernel while sampling
 * runs (blas.h: AMX bf16 where there is one; nothing changes elsewhere):
 * the per-token products (rows = flows x packets: nearly all of the work)
 * and the per-flow conditioning ones, whose float products on a few rows
 * spent most of their time packing the weight (5% of a run). The length
 * head stays in float: it is run once per flow. Returns NS_OK or NS_ENOMEM,
 * with nothing left packed. */
static int pack_weights(const ns_model_params *p, const ns_model_config *c, int pack)
{
    ns_model_matrix m[NS_MODEL_MAX_MATRICES];
    int n = ns_model_matrices(c, m);
    for (int i = 0; i < n; i++) {
        if (m[i].flags & NS_MODEL_MAT_LENGTH) continue;
        const float *w = ns_model_matrix_of(p, &m[i]);
        int rc = pack ? ns_blas_pack_weight(w, m[i].rows, m[i].cols) : NS_OK;
        if (!pack) ns_blas_unpack_weight(w);
        if (rc) {
            while (i--)
                if (!(m[i].flags & NS_MODEL_MAT_LENGTH)) ns_blas_unpack_weight(ns_model_matrix_of(p, &m[i]));
            return rc;
        }
    }
    return NS_OK;
}

/* One sampling thread's buffers, for batches of up to Bmax flows of T rows. */
typedef struct worker {
    denoise_ctx c;
    float *scratch;       /* the sampler's: x0, its predecessor, the extrapolation */
} worker;

static void worker_free(worker *w)
{
    ns_model_acts_free(w->c.acts);
    ns_controlnet_acts_free(w->c.cacts);
    free(w->c.feat), free(w->c.map);
    free(w->c.prompt), free(w->c.len), free(w->c.t), free(w->c.x_in), free(w->c.out), free(w->c.held), free(w->c.cont), free(w->scratch);
    free(w->c.sc);
    memset(w, 0, sizeof *w);
}

static int worker_new(worker *w, const ns_modelfile *m, const ns_gen_opts *o, const gen_clamp *cl, const gen_hard *hard,
                      int Bmax)
{
    const ns_model_config *cfg = &m->cfg;
    int P = (int)m->n_attrs, in = cfg->in_dim, od = cfg->out_dim;
    size_t N = (size_t)Bmax * cfg->max_packets;
    memset(w, 0, sizeof *w);
    denoise_ctx *c = &w->c;
    *c = (denoise_ctx){.m = m, .P = P, .guided = o->guidance != 1.0f || (o->timing_guidance != 1.0f && m->cfg.timing_bins),
                       .guidance = o->guidance, .timing_guidance = o->timing_guidance, .cl = cl,
                       .steps = o->sampler.steps, .guided_steps = o->guided_steps, .hard = hard,
                       .scale = o->control_scale};
    int ctl = o->controlnet && o->control && o->control->n_maps;
    c->prompt = malloc((size_t)2 * Bmax * (P ? P : 1) * sizeof(int));
    c->len = malloc((size_t)2 * Bmax * sizeof(int));
    c->t = malloc((size_t)2 * Bmax * sizeof(float));
    c->x_in = malloc((ctl ? 2 : 1) * N * in * sizeof(float));
    if (ctl) {
        c->ctl = o->controlnet;
        c->feat = malloc(2 * N * NS_CONTROL_FEATURES * sizeof(float));
        c->map = malloc((size_t)Bmax * sizeof *c->map);
    }
    c->out = malloc(N * od * sizeof(float));
    c->held = malloc(N * in * sizeof(float));
    c->cont = malloc((size_t)2 * Bmax);
    if (c->cont) memset(c->cont, 1, (size_t)2 * Bmax);
    w->scratch = malloc(3 * N * in * sizeof(float));
    if (cfg->self_cond) c->sc = malloc(N * in * sizeof(float));
    if (!c->prompt || !c->len || !c->t || !c->x_in || !c->out || !c->held || !c->cont || !w->scratch ||
        (ctl && (!c->feat || !c->map)) || (cfg->self_cond && !c->sc)) {
        worker_free(w);
        return ns_error(NS_ENOMEM, "out of memory for sampling");
    }
    int rc = ns_model_acts_new(&c->acts, cfg, 2 * Bmax, cfg->max_packets);
    if (!rc) ns_model_acts_inference(c->acts, 1); /* no backward follows: keep the working set small */
    if (!rc && ctl) rc = ns_controlnet_acts_new(&c->cacts, cfg, o->controlnet->n_blocks, 2 * Bmax, cfg->max_packets);
    if (rc) worker_free(w);
    return rc;
}

/* Denoise the B windows order[at..at+B) and decode them into out's rows:
 * flow i's window starts at its row out->first[i]; a continuation window
 * (cont: one that does not start its flow) holds its first `hold` rows to
 * the rows already there (the end of the previous window). */
static int sample_batch(worker *w, const ns_gen_opts *o, const int32_t *ids, const by_len *order, size_t at,
                        size_t B, ns_rng *rngs, ns_gen_flows *out, int cont, int hold)
{
    denoise_ctx *c = &w->c;
    const ns_modelfile *m = c->m;
    int P = c->P, in = m->cfg.in_dim, od = m->cfg.out_dim, Tb = order[at + B - 1].len;
    float *x = c->x_in; /* the sampler's state */
    c->B = (int)B, c->T = Tb, c->hold = cont ? hold : 0;
    ns_model_acts_continuation(c->acts, cont ? c->cont : NULL);
    for (int b = 0; b < (int)B && c->hold; b++) {
        size_t i = order[at + (size_t)b].index, row = out->first[i];
        for (int r = 0; r < hold; r++, row++)
            ns_repr_encode_row(&m->repr, out->rows + row * W, out->dir[row], out->iat_ns[row],
                               c->held + ((size_t)b * hold + r) * in);
    }
    for (int b = 0; b < (int)B; b++) {
        c->len[b] = c->len[B + (size_t)b] = order[at + (size_t)b].len;
        size_t i = order[at + (size_t)b].index;
        for (int a = 0; a < P; a++) c->prompt[b * P + a] = ids[i * P + a], c->prompt[((int)B + b) * P + a] = -1;
        if (c->ctl) {
            const ns_control_maps *maps = o->control;
            const ns_control_row *mr = maps->rows + maps->first[i % maps->n_maps];
            float *fb = c->feat + (size_t)b * Tb * NS_CONTROL_FEATURES;
            ns_control_features(mr, c->len[b], Tb, fb);
            memcpy(c->feat + ((size_t)B + b) * Tb * NS_CONTROL_FEATURES, fb,
                   (size_t)Tb * NS_CONTROL_FEATURES * sizeof(float));
            c->map[b] = mr;
        }
        float *xb = x + (size_t)b * Tb * in;
        size_t valid = (size_t)c->len[b] * in;
        ns_rng_normals(&rngs[i], xb, valid);
        memset(xb + valid, 0, ((size_t)Tb * in - valid) * sizeof(float));
    }
    ns_rng batch_rng = rngs[order[at].index]; /* only for eta > 0 */
    c->step = 0;
    int rc = ns_diffusion_sample(&m->sched, &o->sampler, denoise, c, x, B * (size_t)Tb * in, w->scratch, &batch_rng);
    if (rc) return rc;
    /* Each flow's timing draws come from its own stream, after its noise:
     * the same flows whichever batch or thread it falls in. */
    for (int b = 0; b < (int)B; b++) {
        size_t i = order[at + (size_t)b].index, row = out->first[i] + (size_t)c->hold;
        for (int r = c->hold; r < c->len[b]; r++, row++) {
            const float *o_r = c->out + ((size_t)b * Tb + r) * od;
            ns_repr_decode_row(&m->repr, o_r, out->rows + row * W, &out->dir[row], &out->iat_ns[row], &rngs[i]);
            if (c->cl) gen_clamp_row(c->cl, o->fix, o_r, out->rows + row * W, out->dir[row]);
            if (c->hard) gen_hard_row(c->hard, &c->map[b][r], o_r, out->rows + row * W, &out->dir[row]);
        }
        if (!cont) out->iat_ns[out->first[i]] = 0; /* a flow's first packet has no predecessor */
    }
    return NS_OK;
}

/* The windows order[0..n) (sorted by length), in batches over the
 * workers (more are started when there are batches enough for them):
 * cont and hold as in sample_batch. */
typedef struct windows_run {
    const ns_modelfile *m;
    const ns_gen_opts *o;
    const int32_t *ids;
    const gen_clamp *cl;
    const gen_hard *hard;
    int Bmax, threads, n_workers;
    worker *workers;
    size_t *batch_at;
    ns_rng *rngs;
    ns_gen_flows *out;
    size_t done, total;   /* flows whose first window is sampled, for o->progress */
} windows_run;

static int run_windows(windows_run *wr, const by_len *order, size_t n, int cont, int hold)
{
    const ns_gen_opts *o = wr->o;
    size_t *batch_at = wr->batch_at;
    /* Batches of up to Bmax flows (by default: up to NS_GEN_BATCH_ROWS rows)
     * whose lengths are within a factor of two (sorted, so the last is the
     * longest): little padding to compute. */
    size_t n_batches = 0;
    for (size_t at = 0, B; at < n; at += B) {
        for (B = 1; B < (size_t)wr->Bmax && at + B < n && order[at + B].len <= 2 * order[at].len; B++)
            if (o->batch <= 0 && (B + 1) * (size_t)order[at + B].len > NS_GEN_BATCH_ROWS) break;
        batch_at[n_batches++] = at;
    }
    batch_at[n_batches] = n;

    /* Small batches, one per thread at a time: a batch's activations then
     * stay in the core's cache, where the products of one large batch
     * split over the threads went to memory and back (measured: 1.5x).
     * A batch gives the same flows whichever thread takes it. With fewer
     * batches than threads, one at a time, each product split instead. */
    int rc = NS_OK;
    if (n_batches >= (size_t)wr->threads && wr->threads > 1) {
        for (; wr->n_workers < wr->threads; wr->n_workers++)
            if ((rc = worker_new(&wr->workers[wr->n_workers], wr->m, o, wr->cl, wr->hard, wr->Bmax))) return rc;
    }
    int n_workers = n_batches >= (size_t)wr->threads ? wr->n_workers : 1;
    char why[1024] = "";
#pragma omp parallel for schedule(dynamic, 1) num_threads(n_workers) if (n_workers > 1)
    for (size_t k = 0; k < n_batches; k++) {
        int brc;
#pragma omp atomic read
        brc = rc;
        if (brc) continue;
        worker *w = &wr->workers[n_workers > 1 ? omp_get_thread_num() : 0];
        brc = sample_batch(w, o, wr->ids, order, batch_at[k], batch_at[k + 1] - batch_at[k], wr->rngs, wr->out, cont,
                           hold);
        if (brc) {
#pragma omp critical(generate_error)
            if (!rc) {
                snprintf(why, sizeof why, "%s", ns_errmsg());
#pragma omp atomic write
                rc = brc;
            }
        }
        if (!brc && o->progress && !cont) {
#pragma omp critical(generate_progress)
            {
                wr->done += batch_at[k + 1] - batch_at[k];
                o->progress(o->progress_ctx, wr->done, wr->total);
            }
        }
    }
    if (rc) rc = ns_error(rc, "%s", why); /* the message, on the calling thread */
    return rc;
}

int ns_generate_stream(const ns_modelfile *m, const ns_gen_opts *o, const int32_t *ids, size_t n, uint64_t stream0,
                       ns_gen_sink sink, void *ctx)
{
    const ns_model_config *cfg = &m->cfg;
    int T = cfg->max_packets, Bmax = o->batch > 0 ? o->batch : 64;
    if (!n) return NS_OK;
    ns_gen_opts model_o;
    if (o->guidance < 0) {
        model_o = *o, model_o.guidance = ns_gen_guidance_default(cfg);
        o = &model_o;
    }

    gen_clamp *cl = o->fix && o->fix->n ? malloc(sizeof *cl) : NULL;
    if (cl) gen_clamp_init(cl, o->fix, &m->repr);
    const ns_control_maps *maps = o->controlnet && o->control && o->control->n_maps ? o->control : NULL;
    gen_hard *hard = maps && o->control_hard ? malloc(sizeof *hard) : NULL;
    if (hard) gen_hard_init(hard, &m->repr);
    by_len *order = malloc(n * sizeof *order);
    ns_rng *rngs = malloc(n * sizeof *rngs);
    int NL = ns_model_length_classes(cfg);
    float *logits = malloc(n * (size_t)NL * sizeof *logits);
    size_t *batch_at = malloc((n + 1) * sizeof *batch_at);
    uint32_t *whole = malloc(n * sizeof *whole), *given = calloc(n, sizeof *given);
    uint32_t *vlen = calloc(n, sizeof *vlen), *wlen = calloc(n, sizeof *wlen);
    size_t *vfirst = calloc(n, sizeof *vfirst);
    double *u = malloc(n * sizeof *u);
    int threads = omp_get_max_threads();
    worker *workers = calloc((size_t)threads, sizeof *workers);
    /* One round's rows (sample_batch's out), flow i's window at buf.first[i]:
     * the first windows back to back, then a window's room (T rows) per
     * flow still going. */
    ns_gen_flows buf = {.n_attrs = m->n_attrs};
    windows_run wr = {.m = m, .o = o, .ids = ids, .cl = cl, .hard = hard, .Bmax = Bmax, .threads = threads,
                      .n_workers = 1, .workers = workers, .batch_at = batch_at, .rngs = rngs, .out = &buf};
    int rc = NS_OK, packed = 0;
    if ((o->fix && o->fix->n && !cl) || (maps && o->control_hard && !hard) || !order || !rngs || !logits || !batch_at ||
        !whole || !given || !vlen || !wlen || !vfirst || !u || !workers) {
        rc = ns_error(NS_ENOMEM, "out of memory for sampling");
        goto done;
    }
    if ((rc = worker_new(&workers[0], m, o, cl, hard, Bmax))) goto done;
    if ((rc = pack_weights(&m->p, cfg, 1))) goto done;
    packed = 1;

    length_logits(logits, workers[0].c.acts, workers[0].c.prompt, 2 * Bmax, m, o, ids, n);
    for (size_t i = 0; i < n; i++) {
        ns_rng_seed(&rngs[i], o->seed, stream0 + i);
        u[i] = ns_rng_double(&rngs[i]); /* drawn always, so --length leaves the noise as it was */
    }
    if ((rc = stratify(u, ids, (int)m->n_attrs, n, stream0, o->seed))) goto done;
    size_t first_rows = 0, n_long = 0;
    for (size_t i = 0; i < n; i++) {
        /* A length past the window (--length) is generated window by window. */
        int len = o->length > 0 ? o->length : length_of_class(m, ids + i * m->n_attrs, draw_length(logits + i * NL, NL, u[i]),
                                                                 &rngs[i]);
        if (maps) /* the map decides the length */
            len = (int)maps->len[i % maps->n_maps] < T ? (int)maps->len[i % maps->n_maps] : T;
        whole[i] = (uint32_t)len;
        order[i].len = len < T ? len : T;
        order[i].index = i;
        first_rows += (size_t)order[i].len;
        n_long += len > T;
    }
    if ((rc = ns_gen_flows_reserve(&buf, n, first_rows > n_long * T ? first_rows : n_long * T))) goto done;
    for (size_t i = 0, row = 0; i < n; i++) {
        buf.first[i] = vfirst[i] = row;
        vlen[i] = wlen[i] = (uint32_t)order[i].len;
        row += (size_t)order[i].len;
    }
    ns_gen_flows view = {.n_attrs = m->n_attrs, .n_flows = n, .n_rows = first_rows, .len = vlen, .first = vfirst,
                         .labels = (int32_t *)ids, .rows = buf.rows, .dir = buf.dir, .iat_ns = buf.iat_ns};
    ns_gen_round round = {.n = n, .win = &view, .done = given, .whole = whole, .index = 0};
    qsort(order, n, sizeof *order, cmp_len);
    wr.total = n;
    if ((rc = run_windows(&wr, order, n, 0, 0))) goto done;
    if ((rc = sink(ctx, &round))) goto done;
    for (size_t i = 0; i < n; i++) given[i] = vlen[i];

    /* Flows longer than the window, window by window: each next window
     * starts `hold` rows before the rows done so far and holds those rows
     * (inpainting), so that it continues the previous one; repair then
     * makes sequence numbers, timestamps and TCP state run on over the
     * whole flow. Flow i's noise still comes from its own stream alone.
     * Only the end of each flow's last window is kept between rounds. */
    int hold = ns_model_window_hold(T);
    for (;;) {
        size_t k = 0;
        for (size_t i = 0; i < n; i++) {
            vlen[i] = 0;
            if (whole[i] <= given[i]) continue;
            /* The window's last `hold` rows move to the start of the flow's
             * room, k T: never forward, as a flow's room lies at or before
             * its rows of the round before, past the rooms of the flows
             * before it. */
            size_t from = buf.first[i] + wlen[i] - (size_t)hold, to = k * (size_t)T;
            memmove(buf.rows + to * W, buf.rows + from * W, (size_t)hold * W);
            memmove(buf.dir + to, buf.dir + from, (size_t)hold);
            memmove(buf.iat_ns + to, buf.iat_ns + from, (size_t)hold * sizeof *buf.iat_ns);
            buf.first[i] = to;
            uint32_t left = whole[i] - given[i] + (uint32_t)hold;
            wlen[i] = left < (uint32_t)T ? left : (uint32_t)T;
            vfirst[i] = to + (size_t)hold, vlen[i] = wlen[i] - (uint32_t)hold;
            order[k].len = (int)wlen[i];
            order[k++].index = i;
        }
        if (!k) break;
        qsort(order, k, sizeof *order, cmp_len);
        round.index++;
        if ((rc = run_windows(&wr, order, k, 1, hold))) break;
        if ((rc = sink(ctx, &round))) break;
        for (size_t i = 0; i < n; i++) given[i] += vlen[i];
    }

done:
    if (packed) pack_weights(&m->p, cfg, 0);
    for (int t = 0; workers && t < threads; t++) worker_free(&workers[t]);
    free(workers);
    free(cl), free(hard);
    free(order), free(rngs), free(logits), free(batch_at), free(whole), free(given), free(vlen), free(wlen), free(vfirst);
    free(u);
    ns_gen_flows_free(&buf);
    return rc;
}

/* ns_generate_many's sink: every round's rows into the flows of out. */
typedef struct collect {
    ns_gen_flows *out;
    size_t f0, rows;
} collect;

static int collect_round(void *ctx, const ns_gen_round *r)
{
    collect *c = ctx;
    ns_gen_flows *out = c->out;
    const ns_gen_flows *v = r->win;
    uint32_t P = out->n_attrs;
    if (!r->index) {
        c->rows = 0;
        for (size_t i = 0; i < r->n; i++) c->rows += r->whole[i];
        int rc = ns_gen_flows_reserve(out, r->n, c->rows);
        if (rc) return rc;
        c->f0 = out->n_flows;
        for (size_t i = 0, row = out->n_rows; i < r->n; i++) {
            out->first[c->f0 + i] = row;
            out->len[c->f0 + i] = r->whole[i];
            for (uint32_t a = 0; a < P; a++) out->labels[(c->f0 + i) * P + a] = v->labels[i * P + a];
            row += r->whole[i];
        }
    }
    for (size_t i = 0; i < r->n; i++) {
        size_t to = out->first[c->f0 + i] + r->done[i], from = v->first[i], k = v->len[i];
        memcpy(out->rows + to * W, v->rows + from * W, k * W);
        memcpy(out->dir + to, v->dir + from, k);
        memcpy(out->iat_ns + to, v->iat_ns + from, k * sizeof *out->iat_ns);
    }
    return NS_OK;
}

int ns_generate_many(const ns_modelfile *m, const ns_gen_opts *o, const int32_t *ids, size_t n, uint64_t stream0,
                     ns_gen_flows *out)
{
    out->n_attrs = m->n_attrs;
    collect c = {.out = out};
    int rc = ns_generate_stream(m, o, ids, n, stream0, collect_round, &c);
    if (!rc && n) out->n_flows += n, out->n_rows += c.rows;
    return rc;
}
