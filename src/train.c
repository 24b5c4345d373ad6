/* train.c: the training loop (see train.h). */
#include "netsynth/train.h"

#include <errno.h>
#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "netsynth/blas.h"
#include "netsynth/control.h"
#include "netsynth/controlnet.h"
#include "netsynth/error.h"
#include "netsynth/fileio.h"
#include "netsynth/netsynth.h"
#include "netsynth/nn.h"
#include "netsynth/rng.h"

void ns_train_opts_init(ns_train_opts *o)
{
    memset(o, 0, sizeof *o);
    o->config = "medium"; /* BENCHMARK.md "A wider default model (session 11)" */
    o->max_packets = 0; /* the dataset's */
    ns_train_state *s = &o->st;
    s->steps = 27000; /* BENCHMARK.md "Issue 16's figure, longer training, and the demo at session 13's end": device TRTS +0.02 over 20,000 on the IoT pcaps (TSTR the same), about 51-58 min on 2 cores (medium), within issue 16's hour */
    s->seed = 1;
    s->batch = 64;
    s->warmup = 200;
    s->eval_every = 500;
    s->ckpt_every = 500;
    s->log_every = 50;
    s->lr = 1e-3f;
    s->min_lr_frac = 0.05f;
    s->weight_decay = 0.01f;
    s->clip = 1.0f;
    s->ema_decay = 0.999f;
    s->p_uncond = 0.1f;
    s->p_token_drop = 0.15f;
    s->balance = 0.5f;
    s->val_frac = 0.05f;
    s->w_iat = 0.1f;
    s->w_dir = 0.2f;
    s->w_len = 0.05f;
    s->cont_share = NS_TRAIN_CONT_SHARE;
    o->logsnr_shift = 0.0f;
    o->timing_bins = NS_REPR_TIMING_BINS;
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* ---- batches ---------------------------------------------------------- */

uint64_t ns_train_whole_length(const ns_dataset *ds, uint64_t i)
{
    if (ds->totals) return ds->totals[i].packets[0] + ds->totals[i].packets[1];
    return ds->flows[i].seen > ds->flows[i].n_packets ? ds->flows[i].seen : ds->flows[i].n_packets;
}

int ns_train_window(const ns_dataset *ds, int max_packets)
{
    /* A version 1 file was cut to the window; a whole-flow file keeps far
     * more than a model's positions, and the window is its first
     * NS_FLOW_DEFAULT_PACKETS rows unless asked otherwise. */
    if (max_packets > 0) return max_packets < (int)ds->max_packets ? max_packets : (int)ds->max_packets;
    return ds->version == 1 || ds->max_packets <= NS_FLOW_DEFAULT_PACKETS ? (int)ds->max_packets
                                                                           : NS_FLOW_DEFAULT_PACKETS;
}

int ns_train_window_unseen(const ns_dataset *ds, int max_packets)
{
    uint32_t T = (uint32_t)ns_train_window(ds, max_packets);
    if (ds->max_packets > T) return 0; /* flows kept past the window: windows inside them are trained */
    for (uint64_t i = 0; i < ds->n_flows; i++)
        if (ns_train_whole_length(ds, i) > T) return 1;
    return 0;
}

enum { MAX_BUCKETS = 12 }; /* lengths 1, 2, 3-4, ..., 513-1024 */

static int bucket_of(int len)
{
    int b = 0;
    while ((1 << b) < len) b++;
    return b;
}

typedef struct sampler {
    uint64_t *flows[MAX_BUCKETS];  /* training flows per bucket */
    double *cum[MAX_BUCKETS];      /* cumulative sampling weights */
    size_t count[MAX_BUCKETS];
    double bucket_cum[MAX_BUCKETS];
    uint64_t *val;                 /* held-back flows */
    size_t n_val;
} sampler;

/* Leaves s empty, so that a second call (sampler_build's failure path, then
 * its caller's cleanup) frees nothing twice. */
static void sampler_free(sampler *s)
{
    for (int b = 0; b < MAX_BUCKETS; b++) free(s->flows[b]), free(s->cum[b]);
    free(s->val);
    memset(s, 0, sizeof *s);
}

/* Hold back val_frac of the flows (at most 512, a seeded choice), bucket the
 * rest by length, and weight each flow by its first label's count^-balance. */
static int sampler_build(sampler *s, const ns_dataset *ds, int max_t, float val_frac, float balance, uint64_t seed)
{
    memset(s, 0, sizeof *s);
    uint64_t n = ds->n_flows;
    uint64_t *perm = malloc(n * sizeof *perm);
    uint32_t *class_count = calloc(ds->n_tokens + 1, sizeof *class_count);
    uint8_t *is_val = calloc(n, 1);
    if (!perm || !class_count || !is_val) {
        free(perm), free(class_count), free(is_val);
        return ns_error(NS_ENOMEM, "out of memory");
    }
    ns_rng r;
    ns_rng_seed(&r, seed, 0x7a1);
    for (uint64_t i = 0; i < n; i++) perm[i] = i;
    for (uint64_t i = n; i > 1; i--) {
        uint64_t j = ns_rng_below(&r, i), t = perm[i - 1];
        perm[i - 1] = perm[j], perm[j] = t;
    }
    size_t n_val = (size_t)(val_frac * (double)n);
    if (n_val > 512) n_val = 512;
    if (n_val >= n) n_val = n > 1 ? n / 2 : 0;
    s->val = malloc((n_val + 1) * sizeof *s->val);
    if (!s->val) {
        free(perm), free(class_count), free(is_val);
        return ns_error(NS_ENOMEM, "out of memory for %zu validation flows", n_val);
    }
    s->n_val = n_val;
    for (size_t i = 0; i < n_val; i++) s->val[i] = perm[i], is_val[perm[i]] = 1;
    free(perm);

    /* The class a flow counts under: its first attribute's token (or none). */
    const uint32_t A = ds->n_attrs;
    for (uint64_t i = 0; i < n; i++) {
        int32_t c = A ? ds->labels[i * A] : -1;
        class_count[c < 0 ? ds->n_tokens : (uint32_t)c]++;
    }
    for (int pass = 0; pass < 2; pass++) {
        size_t fill[MAX_BUCKETS] = {0};
        for (uint64_t i = 0; i < n; i++) {
            if (is_val[i]) continue;
            int len = (int)ds->flows[i].n_packets < max_t ? (int)ds->flows[i].n_packets : max_t;
            int b = bucket_of(len);
            if (pass) {
                int32_t c = A ? ds->labels[i * A] : -1;
                double w = pow((double)class_count[c < 0 ? ds->n_tokens : (uint32_t)c], -balance);
                s->flows[b][fill[b]] = i;
                s->cum[b][fill[b]] = (fill[b] ? s->cum[b][fill[b] - 1] : 0) + w;
            }
            fill[b]++;
        }
        if (!pass)
            for (int b = 0; b < MAX_BUCKETS; b++) {
                s->count[b] = fill[b];
                s->flows[b] = malloc((fill[b] + 1) * sizeof(uint64_t));
                s->cum[b] = malloc((fill[b] + 1) * sizeof(double));
                if (!s->flows[b] || !s->cum[b]) {
                    free(class_count), free(is_val);
                    sampler_free(s);
                    return ns_error(NS_ENOMEM, "out of memory");
                }
            }
    }
    free(class_count);
    free(is_val);
    double total = 0;
    for (int b = 0; b < MAX_BUCKETS; b++) {
        total += s->count[b] ? s->cum[b][s->count[b] - 1] : 0;
        s->bucket_cum[b] = total;
    }
    if (total <= 0) {
        sampler_free(s);
        return ns_error(NS_EARG, "dataset has no flows left to train on after holding back validation flows");
    }
    return NS_OK;
}

/* Index of the first cum[] above u (cum ascending). */
static size_t pick(const double *cum, size_t n, double u)
{
    size_t lo = 0, hi = n - 1;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (cum[mid] > u) hi = mid;
        else lo = mid + 1;
    }
    return lo;
}

static void sampler_draw(const sampler *s, ns_rng *r, int B, uint64_t *out)
{
    double u = ns_rng_double(r) * s->bucket_cum[MAX_BUCKETS - 1];
    int b = (int)pick(s->bucket_cum, MAX_BUCKETS, u);
    for (int i = 0; i < B; i++) {
        double v = ns_rng_double(r) * s->cum[b][s->count[b] - 1];
        out[i] = s->flows[b][pick(s->cum[b], s->count[b], v)];
    }
}

/* The batch buffers for one step. */
typedef struct batch {
    int B, T, P;
    float *x0, *x_t, *t, *iat;
    uint8_t *cls, *dir;
    int *len, *prompt;
    int *len_class;    /* the length head's targets: each flow's whole length */
    uint32_t *start;   /* each flow's window: its first row */
    uint8_t *cont;     /* start > 0: the window does not start its flow */
    /* Self-conditioning (config self_cond only, else NULL): */
    float *x_sc;       /* [B, T, in] the estimate of x_0 the training pass reads (zeros: none) */
    float *g_x_t, *g_t, *g_x0; /* the flows of the first pass, gathered: their x_t, times, estimate */
    int *g_prompt, *g_len, *g_pick;
    uint8_t *g_cont, *pick;  /* pick[b]: flow b self-conditions this step */
} batch;

static int batch_alloc(batch *b, const ns_model_config *c, int B, int P)
{
    size_t N = (size_t)B * c->max_packets;
    b->x0 = calloc(N * c->in_dim, sizeof(float));
    b->x_t = calloc(N * c->in_dim, sizeof(float));
    b->t = calloc(B, sizeof(float));
    b->iat = calloc(N, sizeof(float));
    b->cls = calloc(N * c->n_bits, 1);
    b->dir = calloc(N, 1);
    b->len = calloc(B, sizeof(int));
    b->len_class = calloc(B, sizeof(int));
    b->start = calloc(B, sizeof(uint32_t));
    b->cont = calloc(B, 1);
    b->prompt = calloc((size_t)B * (P ? P : 1), sizeof(int));
    if (!b->x0 || !b->x_t || !b->t || !b->iat || !b->cls || !b->dir || !b->len || !b->len_class || !b->start || !b->cont ||
        !b->prompt)
        return ns_error(NS_ENOMEM, "out of memory for a batch");
    if (c->self_cond) {
        b->x_sc = calloc(N * c->in_dim, sizeof(float));
        b->g_x_t = calloc(N * c->in_dim, sizeof(float));
        b->g_x0 = calloc(N * c->in_dim, sizeof(float));
        b->g_t = calloc(B, sizeof(float));
        b->g_prompt = calloc((size_t)B * (P ? P : 1), sizeof(int));
        b->g_len = calloc(B, sizeof(int));
        b->g_pick = calloc(B, sizeof(int));
        b->g_cont = calloc(B, 1);
        b->pick = calloc(B, 1);
        if (!b->x_sc || !b->g_x_t || !b->g_x0 || !b->g_t || !b->g_prompt || !b->g_len || !b->g_pick || !b->g_cont ||
            !b->pick)
            return ns_error(NS_ENOMEM, "out of memory for a batch");
    }
    return NS_OK;
}

static void batch_free(batch *b)
{
    free(b->x0), free(b->x_t), free(b->t), free(b->iat), free(b->cls), free(b->dir), free(b->len), free(b->len_class);
    free(b->start), free(b->cont), free(b->prompt);
    free(b->x_sc), free(b->g_x_t), free(b->g_x0), free(b->g_t), free(b->g_prompt), free(b->g_len), free(b->g_pick);
    free(b->g_cont), free(b->pick);
}

/* Self-conditioning's first pass (model.h, ns_model_acts_self_cond): the
 * batch's flows for which pick(flow) holds run once without an estimate
 * (gathered into a batch of their own, so that the pass costs what they
 * do), and their expected x_0 becomes bt->x_sc's rows; the other flows' rows
 * and rows past a flow's end stay zero, as the sampler keeps them. Nothing
 * of this pass is kept for the backward: the caller's forward overwrites
 * acts, and no gradient flows into the estimate (stop-gradient). Leaves
 * acts reading bt->x_sc and bt->cont. */
static void self_cond_pass(batch *bt, ns_model_acts *acts, const ns_modelfile *m, const ns_model_params *p,
                           const uint8_t *pick)
{
    const ns_model_config *c = &m->cfg;
    int B = bt->B, T = bt->T, P = bt->P, in = c->in_dim, n = 0;
    size_t per = (size_t)T * in;
    memset(bt->x_sc, 0, (size_t)B * per * sizeof(float));
    for (int b = 0; b < B; b++) {
        if (pick && !pick[b]) continue;
        memcpy(bt->g_x_t + n * per, bt->x_t + b * per, per * sizeof(float));
        bt->g_t[n] = bt->t[b], bt->g_len[n] = bt->len[b], bt->g_cont[n] = bt->cont[b];
        memcpy(bt->g_prompt + (size_t)n * P, bt->prompt + (size_t)b * P, (size_t)P * sizeof(int));
        bt->g_pick[n++] = b;
    }
    if (n) {
        ns_model_acts_self_cond(acts, NULL);
        ns_model_acts_continuation(acts, bt->g_cont);
        ns_model_forward(NULL, acts, p, c, bt->g_x_t, bt->g_t, bt->g_prompt, P, bt->g_len, n, T, NULL);
        ns_repr_expect(&m->repr, bt->g_x0, ns_model_output(acts), (size_t)n * T);
        for (int k = 0; k < n; k++)
            memcpy(bt->x_sc + bt->g_pick[k] * per, bt->g_x0 + k * per, (size_t)bt->g_len[k] * in * sizeof(float));
    }
    ns_model_acts_self_cond(acts, bt->x_sc);
    ns_model_acts_continuation(acts, bt->cont);
}

/* Which flows of a training batch self-condition: each with probability
 * share, from a stream of its own (slot b0 + b of step `stream`), so that
 * the batch's other draws are those of a model without it. */
static void self_cond_pick(uint8_t *pick, int B, float share, uint64_t seed, uint64_t stream, int b0)
{
    for (int b = 0; b < B; b++) {
        ns_rng r;
        ns_rng_seed(&r, seed, (stream * 65536 + (uint64_t)(b0 + b)) | UINT64_C(1) << 62);
        pick[b] = ns_rng_double(&r) < (double)share;
    }
}

/* The window batch slot b0 + b of step `stream` trains of flow i: its first
 * row (0: the flow's start) and its rows. A model that generates past its
 * window (len_bins > 0) trains on windows from anywhere in a longer flow:
 * cont_share of the draws take a window wholly inside it, marked as a
 * continuation, the rest its start. Half of those inside: the window that
 * ends the flow as generation draws it, shorter than the window when the
 * flow ends inside it; full windows alone never show a flow ending (issue
 * 15: generated flows past the window were never closed). Only a flow kept
 * whole has its end to show. From a stream of their own, so the other draws
 * stay as they were; at a share of 1/2 the draws are those of before the
 * share was an option (the top bit of one number either way). */
static uint32_t window_of(const ns_model_config *c, const ns_dataset *ds, uint64_t i, float cont_share, uint64_t seed,
                          uint64_t stream, int slot, int *len)
{
    uint32_t n = ds->flows[i].n_packets, start = 0;
    *len = n > (uint32_t)c->max_packets ? c->max_packets : (int)n;
    if (!c->len_bins || n <= (uint32_t)c->max_packets) return 0;
    ns_rng wr;
    ns_rng_seed(&wr, seed, (stream * 65536 + (uint64_t)slot) | UINT64_C(1) << 63);
    if (ns_rng_double(&wr) >= 1.0 - (double)cont_share) start = 1 + (uint32_t)ns_rng_below(&wr, n - (uint32_t)c->max_packets);
    if (start && n == ns_train_whole_length(ds, i) && ns_rng_below(&wr, 2) == 0) {
        uint32_t last = ns_model_last_window(c->max_packets, n);
        start = n - last, *len = (int)last;
    }
    return start;
}

/* Fill the batch with flows[0..B): encodings, times, noise and prompts.
 * t_fixed >= 0 (validation) replaces the random times; drop = 0 keeps prompts.
 * token_map (NULL: the same ids) turns the dataset's token ids into the
 * model's, for a model whose vocabulary is not the dataset's (fine-tuning).
 * windows = 0 (validation) takes every flow's start; else cont_share of the
 * draws of longer flows take windows inside them (window_of).
 * flows[0] is flow b0 of the step's batch (a rank's share of it: train.h,
 * ns_train_dist), whose random streams it takes. */
static void batch_fill(batch *bt, const ns_modelfile *m, const ns_dataset *ds, const uint64_t *flows, int B,
                       uint64_t seed, uint64_t stream, float p_uncond, float p_drop, const float *t_fixed,
                       const int32_t *token_map, int windows, float cont_share, int b0)
{
    const ns_model_config *c = &m->cfg;
    int T = 1, in = c->in_dim, K = c->n_bits, P = (int)ds->n_attrs;
    for (int b = 0; b < B; b++) {
        int len = (int)ds->flows[flows[b]].n_packets;
        if (len > c->max_packets) len = c->max_packets;
        bt->len_class[b] = ns_model_length_class(c, ns_train_whole_length(ds, flows[b]));
        bt->start[b] = 0;
        if (windows && !t_fixed) bt->start[b] = window_of(c, ds, flows[b], cont_share, seed, stream, b0 + b, &len);
        bt->len[b] = len;
        bt->cont[b] = bt->start[b] > 0;
        if (len > T) T = len;
    }
    bt->B = B, bt->T = T, bt->P = P;
    memset(bt->x0, 0, (size_t)B * T * in * sizeof(float));
    memset(bt->x_t, 0, (size_t)B * T * in * sizeof(float));
#pragma omp parallel for schedule(static)
    for (int b = 0; b < B; b++) {
        ns_rng r;
        ns_rng_seed(&r, seed, stream * 65536 + (uint64_t)(b0 + b));
        size_t row0 = (size_t)b * T;
        ns_repr_encode_window(&m->repr, ds, flows[b], bt->start[b], T, bt->x0 + row0 * in, bt->cls + row0 * K, bt->dir + row0,
                       bt->iat + row0);
        float t = t_fixed ? t_fixed[b] : ns_rng_float(&r), alpha, sigma;
        bt->t[b] = t;
        ns_schedule_alpha_sigma(&m->sched, t, &alpha, &sigma);
        ns_diffusion_noise(bt->x_t + row0 * in, NULL, bt->x0 + row0 * in, (size_t)bt->len[b] * in, alpha, sigma,
                           &r);
        int uncond = ns_rng_float(&r) < p_uncond;
        for (int a = 0; a < P; a++) {
            int32_t id = ds->labels[flows[b] * (uint64_t)P + a];
            if (id >= 0 && token_map) id = token_map[id];
            int drop = uncond || ns_rng_float(&r) < p_drop;
            bt->prompt[b * P + a] = drop ? -1 : id;
        }
    }
}

/* ---- validation ---------------------------------------------------------- */

static const ns_model_loss_weights *weights_of(const ns_train_state *s, ns_model_loss_weights *w)
{
    w->w_iat = s->w_iat, w->w_dir = s->w_dir, w->w_len = s->w_len;
    return w;
}

int ns_train_validate(const ns_modelfile *m, const ns_dataset *ds, const uint64_t *flows, size_t count,
                      float *loss)
{
    *loss = 0;
    if (!count) return NS_OK;
    int B = 64;
    batch bt = {0};
    ns_model_acts *acts = NULL;
    int rc = batch_alloc(&bt, &m->cfg, B, (int)ds->n_attrs);
    if (!rc) rc = ns_model_acts_new(&acts, &m->cfg, B, m->cfg.max_packets);
    ns_model_loss_weights w;
    double sum = 0;
    for (size_t at = 0; !rc && at < count; at += (size_t)B) {
        int n = count - at < (size_t)B ? (int)(count - at) : B;
        float t_fixed[64];
        for (int i = 0; i < n; i++) t_fixed[i] = (float)(((at + (size_t)i) * 0.618034) - floor((at + i) * 0.618034));
        batch_fill(&bt, m, ds, flows + at, n, 0x5eed, at, 0, 0, t_fixed, NULL, 0, 0, 0);
        ns_model_acts_continuation(acts, NULL);
        /* A self-conditioned model is judged as it samples: with its own estimate, every flow. */
        if (m->cfg.self_cond) self_cond_pass(&bt, acts, m, &m->p, NULL);
        ns_model_forward(NULL, acts, &m->p, &m->cfg, bt.x_t, bt.t, bt.prompt, bt.P, bt.len, n, bt.T, NULL);
        ns_model_acts_length_target(acts, bt.len_class);
        sum += (double)ns_model_loss(acts, &m->cfg, bt.cls, bt.iat, bt.dir, weights_of(&m->st, &w), NULL) * n;
    }
    ns_model_acts_free(acts);
    batch_free(&bt);
    *loss = (float)(sum / (double)count);
    return rc;
}

/* ---- the training step ---------------------------------------------------- */

static float lr_at(const ns_train_state *s, int64_t step)
{
    if (step < s->warmup) return s->lr * (float)(step + 1) / (float)s->warmup;
    double span = (double)(s->steps - s->warmup), x = span > 0 ? (double)(step - s->warmup) / span : 1;
    if (x > 1) x = 1;
    double lo = s->lr * s->min_lr_frac;
    return (float)(lo + (s->lr - lo) * 0.5 * (1 + cos(M_PI * x)));
}

/* Runs of equal decay flags, so AdamW can be called per slice. */
typedef struct decay_run {
    size_t off, n;
    int decay;
} decay_run;

/* The runs of mask[n] (taken over and freed). */
static decay_run *decay_runs(uint8_t *mask, size_t n, size_t *count)
{
    decay_run *runs = malloc(sizeof *runs * 256);
    size_t k = 0, cap = 256;
    if (!mask || !runs) {
        free(mask), free(runs);
        return NULL;
    }
    for (size_t i = 0; i < n;) {
        size_t j = i;
        while (j < n && mask[j] == mask[i]) j++;
        if (k == cap) {
            decay_run *bigger = realloc(runs, sizeof *runs * (cap *= 2));
            if (!bigger) {
                free(runs), free(mask);
                return NULL;
            }
            runs = bigger;
        }
        runs[k++] = (decay_run){i, j - i, mask[i]};
        i = j;
    }
    free(mask);
    *count = k;
    return runs;
}

static void format_duration(char *buf, size_t size, double s)
{
    long t = (long)(s + 0.5);
    if (t >= 3600) snprintf(buf, size, "%ld:%02ld:%02ld", t / 3600, t / 60 % 60, t % 60);
    else snprintf(buf, size, "%ld:%02ld", t / 60, t % 60);
}

/* Losses summed between two progress lines. */
typedef struct loss_log {
    double loss, parts[4], t;
    int64_t n, flows;
    int64_t long_draws, inner_draws; /* draws of flows longer than the window; of them, windows inside */
} loss_log;

/* Room after a gradient for the step's losses, all-reduced with it in one
 * call (ns_train_dist): one synchronisation of the ranks per step. */
enum { GRAD_EXTRA = 5 };

/* What differs between training a model, an adapter and a control branch is
 * how a batch becomes a gradient and what is written; the rest of a step (the
 * batch, the all-reduce, clipping, AdamW with its decay mask, the schedule,
 * the EMA, progress lines, validation and checkpoints) is trainer_run's. */
typedef struct trainer trainer;
struct trainer {
    /* set by the caller */
    const ns_dataset *ds;
    const ns_modelfile *enc;      /* encodes batches: its repr, schedule and config */
    const int32_t *token_map;     /* the dataset's token ids as enc's (NULL: the same) */
    ns_train_state *st;           /* options, and the step and time done so far */
    float *w, *adam_m, *adam_v, *grad; /* the trained parameters, their moments and gradient [n]
                                   * (grad: [n + GRAD_EXTRA]) */
    size_t n;
    decay_run *runs;              /* AdamW decays runs[k] when runs[k].decay */
    size_t n_runs;
    float *ema;                   /* [n] the EMA of w, NULL: none */
    /* Forward and backward of t->bt: zero and fill t->grad, set the loss and its parts. */
    int (*backward)(trainer *t, float *loss, float parts[4]);
    const ns_train_dist *dist;    /* a data-parallel run's ranks (train.h); NULL: one process */
    /* Write what is trained so far to path: every ckpt_every steps and on a stop. */
    int (*save)(trainer *t, const char *path);
    const char *ckpt_path;        /* NULL: no checkpoints */
    const ns_modelfile *val_model; /* validation every eval_every steps (NULL: none) */
    void *ctx;                    /* the caller's */
    FILE *progress;
    FILE *log;                    /* JSON lines (ns_train_opts.log) */
    volatile int *stop;
    int64_t stop_at_step;
    void (*on_step)(void *ctx, int64_t step, int64_t steps, float loss);
    void *step_ctx;
    /* owned */
    sampler smp;
    batch bt;
    uint64_t *chosen;             /* the step's whole batch; this rank's share from chosen[first] */
    int first;
    size_t share_rows;            /* the whole batch's valid rows and flows (ns_model_acts_share), */
    int share_flows;              /* 0, 0 alone */
    int start_rc;                 /* the first failure of dist->start in this step's backward */
    /* results */
    int windows;                  /* windows from anywhere in long flows (train, finetune) */
    int64_t long_draws, inner_draws; /* the step's, for the log (loss_log) */
    int interrupted, ckpt_failed;
    float last_loss, val_loss, first_window, last_window;
    double flops, run_s;
};

static int trainer_alloc(trainer *t, float val_frac, float balance)
{
    const ns_model_config *c = &t->enc->cfg;
    if (t->dist && (t->dist->n_ranks < 1 || t->dist->rank < 0 || t->dist->rank >= t->dist->n_ranks ||
                    (t->dist->n_ranks > 1 && !t->dist->allreduce)))
        return ns_error(NS_EARG, "rank %d of %d processes: not a rank of them", t->dist->rank, t->dist->n_ranks);
    if (t->dist && t->dist->n_ranks > t->st->batch)
        return ns_error(NS_EARG, "a batch of %d flows cannot be shared by %d processes: give --batch %d or more",
                        t->st->batch, t->dist->n_ranks, t->dist->n_ranks);
    int rc = sampler_build(&t->smp, t->ds, c->max_packets, val_frac, balance, (uint64_t)t->st->seed);
    if (!rc) rc = batch_alloc(&t->bt, c, t->st->batch, (int)t->ds->n_attrs);
    if (!rc && !(t->chosen = malloc(sizeof *t->chosen * (size_t)t->st->batch)))
        rc = ns_error(NS_ENOMEM, "out of memory for a batch");
    return rc;
}

static void trainer_free(trainer *t)
{
    sampler_free(&t->smp);
    batch_free(&t->bt);
    free(t->chosen);
    free(t->runs);
    t->chosen = NULL, t->runs = NULL;
}

/* Step st->step: everything random in it comes from stream step + 1 of the seed. */
static int trainer_step(trainer *t, float *loss, float parts[4], float *lr)
{
    ns_train_state *st = t->st;
    int64_t s = st->step;
    ns_rng r;
    ns_rng_seed(&r, (uint64_t)st->seed, (uint64_t)s + 1);
    sampler_draw(&t->smp, &r, st->batch, t->chosen);
    /* Counted over the whole batch, not this rank's share, so that rank 0's
     * log says what the step trained. */
    t->long_draws = t->inner_draws = 0;
    for (int b = 0; t->windows && t->enc->cfg.len_bins && b < st->batch; b++) {
        if (t->ds->flows[t->chosen[b]].n_packets <= (uint32_t)t->enc->cfg.max_packets) continue;
        int len;
        t->long_draws++;
        t->inner_draws += window_of(&t->enc->cfg, t->ds, t->chosen[b], st->cont_share, (uint64_t)st->seed,
                                    (uint64_t)s + 1, b, &len) > 0;
    }
    int ranks = t->dist ? t->dist->n_ranks : 1, first = 0, count = st->batch;
    if (ranks > 1) {
        int rank = t->dist->rank;
        first = (int)((int64_t)st->batch * rank / ranks);
        count = (int)((int64_t)st->batch * (rank + 1) / ranks) - first;
        size_t rows = 0;
        for (int b = 0; b < st->batch; b++) {
            uint32_t n = t->ds->flows[t->chosen[b]].n_packets;
            rows += n < (uint32_t)t->enc->cfg.max_packets ? n : (uint32_t)t->enc->cfg.max_packets;
        }
        t->share_rows = rows, t->share_flows = st->batch;
    }
    t->first = first, t->start_rc = NS_OK;
    batch_fill(&t->bt, t->enc, t->ds, t->chosen + first, count, (uint64_t)st->seed, (uint64_t)s + 1, st->p_uncond,
               st->p_token_drop, NULL, t->token_map, t->windows, st->cont_share, first);
    int rc = t->backward(t, loss, parts);
    if (!rc) rc = t->start_rc;
    if (rc) return rc;
    /* Caught before the update: one NaN would spread to every weight and the
     * run would end "successfully" with a model every verb refuses. */
    if (!isfinite(*loss))
        return ns_error(NS_ERANGE, "step %lld of %lld: the loss is %g; training stopped (the weights or the data "
                                   "hold values training cannot use)",
                        (long long)s + 1, (long long)st->steps, (double)*loss);
    if (ranks > 1) {
        /* The shares' losses are parts of the whole batch's means: summed, they are its loss. */
        float *sums = t->grad + t->n;
        sums[0] = *loss, memcpy(sums + 1, parts, 4 * sizeof *parts);
        if ((rc = t->dist->allreduce(t->grad, t->n + GRAD_EXTRA, t->dist->ctx))) return rc;
        *loss = sums[0];
        memcpy(parts, sums + 1, 4 * sizeof *parts);
    }
    ns_grad_clip(t->grad, t->n, st->clip);
    ns_adamw_cfg ac = {lr_at(st, s), 0.9f, 0.999f, 1e-8f, 0};
    for (size_t k = 0; k < t->n_runs; k++) {
        ac.weight_decay = t->runs[k].decay ? st->weight_decay : 0;
        ns_adamw_update(t->w + t->runs[k].off, t->adam_m + t->runs[k].off, t->adam_v + t->runs[k].off,
                        t->grad + t->runs[k].off, t->runs[k].n, &ac, (long)s + 1);
    }
    if (t->ema) ns_ema_update(t->ema, t->w, t->n, fminf(st->ema_decay, (1.0f + (float)s) / (10.0f + (float)s)));
    st->step = s + 1;
    t->flops += ns_model_step_flops(&t->enc->cfg, t->bt.B, t->bt.T);
    t->last_loss = *loss;
    *lr = ac.lr;
    return NS_OK;
}

/* "step s/S  loss ... flows/s  elapsed, eta", then start a new sum. */
static void progress_line(FILE *out, const ns_train_state *st, loss_log *lg, float lr)
{
    double t = now_s(), rate = lg->flows / (t - lg->t), n = lg->n ? (double)lg->n : 1;
    char el[32], eta[32];
    format_duration(el, sizeof el, st->elapsed_s);
    format_duration(eta, sizeof eta, (double)(st->steps - st->step) * st->batch / (rate > 0 ? rate : 1));
    fprintf(out,
            "step %lld/%lld  loss %.4f (bits %.4f iat %.3f dir %.3f len %.3f)  lr %.2e  %.0f flows/s  "
            "%s elapsed, eta %s\n",
            (long long)st->step, (long long)st->steps, lg->loss / n, lg->parts[0] / n, lg->parts[1] / n,
            lg->parts[2] / n, lg->parts[3] / n, (double)lr, rate, el, eta);
    fflush(out);
}

/* The JSON line of a progress line (ns_train_opts.log); the loss with a
 * float's 9 digits, so that two runs (one process and several) compare to
 * better than the printed lines' 4. */
static void log_line(FILE *out, const ns_train_state *st, const loss_log *lg, float lr)
{
    double rate = lg->flows / (now_s() - lg->t), n = lg->n ? (double)lg->n : 1;
    fprintf(out,
            "{\"step\": %lld, \"steps\": %lld, \"loss\": %.9g, \"bits\": %.6g, \"iat\": %.6g, \"dir\": %.6g, "
            "\"len\": %.6g, \"lr\": %.6g, \"flows_per_s\": %.1f, \"elapsed_s\": %.3f, \"long_draws\": %lld, "
            "\"inner_draws\": %lld}\n",
            (long long)st->step, (long long)st->steps, lg->loss / n, lg->parts[0] / n, lg->parts[1] / n,
            lg->parts[2] / n, lg->parts[3] / n, (double)lr, rate, st->elapsed_s, (long long)lg->long_draws,
            (long long)lg->inner_draws);
    fflush(out);
}

/* Steps until st->steps, a stop request (t->stop, t->stop_at_step: then the
 * work so far goes to the checkpoint path and t->interrupted is set) or a
 * failed checkpoint (t->ckpt_failed, the error recorded: the caller still
 * writes what it has). */
static int trainer_run(trainer *t)
{
    ns_train_state *st = t->st;
    double t0 = now_s(), elapsed0 = st->elapsed_s;
    loss_log lg = {.t = t0};
    int rc = NS_OK, windows = 0;
    while (st->step < st->steps) {
        if ((t->stop && *t->stop) || (t->stop_at_step > 0 && st->step >= t->stop_at_step)) {
            t->interrupted = 1;
            break;
        }
        float loss, parts[4], lr = 0;
        if ((rc = trainer_step(t, &loss, parts, &lr))) break;
        st->elapsed_s = elapsed0 + (now_s() - t0);
        lg.loss += loss, lg.n++, lg.flows += st->batch;
        lg.long_draws += t->long_draws, lg.inner_draws += t->inner_draws;
        for (int k = 0; k < 4; k++) lg.parts[k] += parts[k];

        int last = st->step == st->steps;
        if (t->val_model && st->eval_every > 0 && (st->step % st->eval_every == 0 || last) && t->smp.n_val) {
            if ((rc = ns_train_validate(t->val_model, t->ds, t->smp.val, t->smp.n_val, &t->val_loss))) break;
            if (t->progress) fprintf(t->progress, "step %lld: validation loss %.4f (EMA weights)\n",
                                     (long long)st->step, t->val_loss);
            if (t->log) {
                fprintf(t->log, "{\"step\": %lld, \"val_loss\": %.6g}\n", (long long)st->step, t->val_loss);
                fflush(t->log);
            }
        }
        if ((st->log_every > 0 && st->step % st->log_every == 0) || last) {
            t->last_window = (float)(lg.loss / (double)lg.n);
            if (!windows++) t->first_window = t->last_window;
            if (t->log) log_line(t->log, st, &lg, lr);
            if (t->progress) progress_line(t->progress, st, &lg, lr);
            lg = (loss_log){.t = now_s()};
        }
        if (t->on_step) t->on_step(t->step_ctx, st->step, st->steps, loss);
        if (t->save && t->ckpt_path && st->ckpt_every > 0 && st->step % st->ckpt_every == 0 && !last &&
            (rc = t->save(t, t->ckpt_path))) {
            t->ckpt_failed = 1;
            break;
        }
    }
    t->run_s = st->elapsed_s - elapsed0;
    if (!rc && t->interrupted && t->save && t->ckpt_path && (rc = t->save(t, t->ckpt_path))) t->ckpt_failed = 1;
    return rc;
}

/* An output's directory must exist and take files before hours of training
 * go into what would be written there. */
static int check_out_dir(const char *path, const char *what)
{
    if (!path) return NS_OK;
    char dir[4096];
    const char *slash = strrchr(path, '/');
    size_t n = slash ? (size_t)(slash - path) : 0;
    if (n >= sizeof dir) return ns_error(NS_EARG, "%s: path too long", path);
    if (slash && !n) n = 1; /* "/x" */
    memcpy(dir, slash ? path : ".", slash ? n : 1);
    dir[slash ? n : 1] = 0;
    struct stat sb;
    if (stat(dir, &sb)) return ns_error(NS_EIO, "%s: cannot write the %s: %s: %s", path, what, dir, strerror(errno));
    if (!S_ISDIR(sb.st_mode))
        return ns_error(NS_EIO, "%s: cannot write the %s: %s is not a directory", path, what, dir);
    if (access(dir, W_OK | X_OK))
        return ns_error(NS_EIO, "%s: cannot write the %s: %s: %s", path, what, dir, strerror(errno));
    struct stat fb;
    if (!stat(path, &fb) && S_ISDIR(fb.st_mode))
        return ns_error(NS_EIO, "%s: cannot write the %s: it is a directory", path, what);
    return NS_OK;
}

/* ---- training a model -------------------------------------------------------- */

uint64_t ns_train_data_sum(const ns_dataset *ds)
{
    uint32_t crc = ns_crc32(0, &ds->width, sizeof ds->width);
    crc = ns_crc32(crc, &ds->max_packets, sizeof ds->max_packets);
    for (uint64_t i = 0; i < ds->n_flows; i++) {
        crc = ns_crc32(crc, &ds->flows[i].first, sizeof ds->flows[i].first);
        crc = ns_crc32(crc, &ds->flows[i].n_packets, sizeof ds->flows[i].n_packets);
    }
    for (uint32_t i = 0; i < ds->n_tokens; i++) crc = ns_crc32(crc, ds->tokens[i], strlen(ds->tokens[i]) + 1);
    crc = ns_crc32(crc, ds->labels, ds->n_flows * ds->n_attrs * sizeof *ds->labels);
    crc = ns_crc32(crc, ds->iat_ns, ds->n_packets * sizeof *ds->iat_ns);
    crc = ns_crc32(crc, ds->dir, ds->n_packets);
    crc = ns_crc32(crc, ds->bits, ds->n_packets * ds->row_bytes);
    return 1ull << 32 | crc;
}

static int setup_model(ns_modelfile *m, const ns_dataset *ds, const ns_train_opts *o)
{
    int rc;
    if (o->resume_path) {
        if ((rc = ns_modelfile_load(m, o->resume_path))) return rc;
        if (!m->has_state)
            return ns_error(NS_EARG, "%s: a model without training state; resume from the .ckpt file",
                            o->resume_path);
        if (m->n_tokens != ds->n_tokens || m->n_attrs != ds->n_attrs)
            return ns_error(NS_EMISMATCH, "%s: trained on a dataset with another vocabulary", o->resume_path);
        if ((rc = ns_modelfile_check_vocab(m, ds)))
            return ns_error_wrap(rc, "%s", o->resume_path);
        uint64_t sum = ns_train_data_sum(ds);
        if (m->st.data_sum && (uint64_t)m->st.data_sum != sum && !o->resume_other_data)
            return ns_error(NS_EARG,
                            "%s: trained on other data than this dataset (checksum %08x, the dataset's %08x); "
                            "--resume-on-other-data continues on it anyway",
                            o->resume_path, (unsigned)m->st.data_sum, (unsigned)sum);
        m->st.data_sum = (int64_t)sum;
        if (o->resume_steps > 0) {
            if (o->resume_steps < m->st.step)
                return ns_error(NS_EARG, "%s: --steps %lld is fewer than the %lld steps already done", o->resume_path,
                                (long long)o->resume_steps, (long long)m->st.step);
            m->st.steps = o->resume_steps;
        }
        ns_model_params_layout(&m->p, &m->cfg, m->weights);
        return NS_OK;
    }
    memset(m, 0, sizeof *m);
    if ((rc = ns_model_config_named(&m->cfg, o->config))) return rc;
    if (o->d > 0) m->cfg.d = o->d;
    if (o->n_layer > 0) m->cfg.n_layer = o->n_layer;
    if (o->n_head > 0) m->cfg.n_head = o->n_head;
    if (o->groups > 0) m->cfg.groups = o->groups;
    m->cfg.self_cond = o->st.self_cond > 0;
    if (m->cfg.d % m->cfg.n_head || m->cfg.n_layer > NS_MODEL_MAX_LAYERS || m->cfg.groups > NS_MODEL_MAX_GROUPS)
        return ns_error(NS_EARG, "width %d must be a multiple of the %d heads, at most %d layers, %d tokens per packet "
                        "at most %d", m->cfg.d, m->cfg.n_head, NS_MODEL_MAX_LAYERS, m->cfg.groups, NS_MODEL_MAX_GROUPS);
    int T = ns_train_window(ds, o->max_packets);
    /* The columns and timing statistics from every row: windows are drawn
     * from anywhere in flows longer than the window (batch_fill), and when
     * every flow fits, every row is a window's. */
    if ((rc = ns_repr_fit(&m->repr, ds, o->timing_bins))) return rc;
    m->cfg.max_packets = T;
    /* The whole length past the window, in log2 bins up to the longest
     * training flow; none when every flow fits (the head of before). */
    uint64_t longest = 0;
    for (uint64_t i = 0; i < ds->n_flows; i++) {
        uint64_t l = ns_train_whole_length(ds, i);
        longest = l > longest ? l : longest;
    }
    m->cfg.len_bins = 0;
    while (m->cfg.len_bins < NS_MODEL_MAX_LEN_BINS && longest > (uint64_t)T << m->cfg.len_bins) m->cfg.len_bins++;
    m->cfg.n_bits = m->repr.n_bits;
    m->cfg.in_dim = ns_repr_in_dim(&m->repr);
    m->cfg.out_dim = ns_repr_out_dim(&m->repr);
    m->cfg.timing_bins = m->repr.timing_bins;
    m->cfg.vocab = (int32_t)ds->n_tokens;
    m->sched = ns_schedule_default();
    m->sched.logsnr_shift = o->logsnr_shift;
    if ((rc = ns_modelfile_alloc(m, 1)) || (rc = ns_modelfile_set_vocab(m, ds))) return rc;
    m->st = o->st;
    m->st.step = 0;
    m->st.elapsed_s = 0;
    m->st.data_sum = (int64_t)ns_train_data_sum(ds);
    if ((rc = ns_train_state_check(&m->st, NULL))) return rc;
    ns_model_params tp;
    ns_model_params_layout(&tp, &m->cfg, m->train_w);
    ns_model_params_init(&tp, &m->cfg, (uint64_t)m->st.seed);
    /* Start the length head at the data's length distribution. */
    uint64_t *hist = calloc((size_t)T, sizeof *hist);
    if (!hist) return ns_error(NS_ENOMEM, "out of memory");
    for (uint64_t i = 0; i < ds->n_flows; i++)
        hist[(ds->flows[i].n_packets < (uint32_t)T ? ds->flows[i].n_packets : (uint32_t)T) - 1]++;
    for (int k = 0; k < T; k++) tp.len2_b[k] = (float)log((hist[k] + 0.5) / ((double)ds->n_flows + 0.5 * T));
    free(hist);
    memcpy(m->weights, m->train_w, m->n_params * sizeof(float));
    return NS_OK;
}

/* How a file was made (modelfile.h's provenance): `extra` (the caller's
 * lines: dataset name, command line) after what training knows. Nothing of
 * the wall clock but the date, which SOURCE_DATE_EPOCH fixes (the
 * reproducible-builds convention), so that a resumed run can still write
 * the bytes of one never stopped. */
static int provenance_of(char **text, const char *kind, const char *config, const ns_model_config *c,
                         const ns_train_state *st, float loss, float val_loss, uint64_t data_sum, const char *extra)
{
    char *old = *text;
    *text = NULL;
    char date[32];
    time_t now = time(NULL);
    const char *epoch = getenv("SOURCE_DATE_EPOCH");
    if (epoch && *epoch) {
        char *end;
        long long e = strtoll(epoch, &end, 10);
        if (!*end && e >= 0 && e < 253402300800LL) now = (time_t)e;
    }
    struct tm tm;
    strftime(date, sizeof date, "%Y-%m-%dT%H:%M:%SZ", gmtime_r(&now, &tm));
    int rc = ns_prov_add(text, "made_by", "netsynth %s %s", ns_version(), kind);
    /* a resumed run keeps the config name its checkpoint recorded */
    const char *was = old && !config ? strstr(old, "\nconfig=") : NULL;
    if (!rc && config) rc = ns_prov_add(text, "config", "%s", config);
    else if (!rc && was) rc = ns_prov_add(text, "config", "%.*s", (int)strcspn(was + 8, "\n"), was + 8);
    free(old);
    if (!rc && c)
        rc = ns_prov_add(text, "shape", "d=%d layers=%d heads=%d groups=%d packets=%d bits=%d timing_bins=%d len_bins=%d",
                         c->d, c->n_layer, c->n_head, c->groups, c->max_packets, c->n_bits, c->timing_bins, c->len_bins);
    if (!rc)
        rc = ns_prov_add(text, "steps", "%lld of %lld (batch %d, lr %g, seed %lld)", (long long)st->step,
                         (long long)st->steps, st->batch, (double)st->lr, (long long)st->seed);
    if (!rc && st->self_cond > 0) rc = ns_prov_add(text, "self_cond", "%g", (double)st->self_cond);
    if (!rc) rc = ns_prov_add(text, "train_loss", "%.6g", (double)loss);
    if (!rc && val_loss > 0) rc = ns_prov_add(text, "val_loss", "%.6g", (double)val_loss);
    if (!rc) rc = ns_prov_add(text, "data_checksum", "%08x", (unsigned)data_sum);
    if (!rc) rc = ns_prov_add(text, "date", "%s", date);
    size_t n = extra ? strlen(extra) : 0;
    if (!rc && n) {
        if (ns_prov_check(extra, n, "provenance") != NS_OK) return ns_error(NS_EARG, "bad provenance lines: %s", ns_errmsg());
        char *t = realloc(*text, strlen(*text) + n + 1);
        if (!t) return ns_error(NS_ENOMEM, "out of memory");
        strcat(t, extra), *text = t;
    }
    return rc;
}

typedef struct model_run {
    ns_modelfile m;
    const char *config, *prov_extra; /* the provenance's (NULL config: the checkpoint's) */
    uint64_t data_sum;
    ns_model_acts *acts;
    ns_model_params tp, gp;
    ns_model_loss_weights lw;
} model_run;

/* ns_model_acts_on_grad's callback: a final slice of the gradient starts its sum over the ranks. */
static void start_sum(void *ctx, size_t off, size_t n)
{
    trainer *t = ctx;
    if (!t->start_rc) t->start_rc = t->dist->start(t->grad, off, n, t->dist->ctx);
}

static int model_backward(trainer *t, float *loss, float parts[4])
{
    model_run *mr = t->ctx;
    batch *bt = &t->bt;
    ns_model_acts_share(mr->acts, t->share_rows, t->share_flows);
    ns_model_acts_on_grad(mr->acts, t->dist && t->dist->n_ranks > 1 && t->dist->start ? start_sum : NULL, t);
    ns_model_acts_continuation(mr->acts, bt->cont);
    if (mr->m.cfg.self_cond) {
        self_cond_pick(bt->pick, bt->B, t->st->self_cond, (uint64_t)t->st->seed, (uint64_t)t->st->step + 1, t->first);
        self_cond_pass(bt, mr->acts, &mr->m, &mr->tp, bt->pick);
    }
    ns_model_forward(NULL, mr->acts, &mr->tp, &mr->m.cfg, bt->x_t, bt->t, bt->prompt, bt->P, bt->len, bt->B, bt->T,
                     NULL);
    ns_model_acts_length_target(mr->acts, bt->len_class);
    *loss = ns_model_loss(mr->acts, &mr->m.cfg, bt->cls, bt->iat, bt->dir, &mr->lw, parts);
    memset(t->grad, 0, t->n * sizeof(float));
    return ns_model_backward(&mr->gp, mr->acts, &mr->tp, &mr->m.cfg, NULL);
}

/* Checkpoints say how they were made too, as of their step. */
static int model_provenance(model_run *mr, const trainer *t)
{
    return provenance_of(&mr->m.provenance, "train", mr->config, &mr->m.cfg, &mr->m.st, t->last_loss, t->val_loss,
                         mr->data_sum, mr->prov_extra);
}

static int model_save(trainer *t, const char *path)
{
    model_run *mr = t->ctx;
    int rc = model_provenance(mr, t);
    return rc ? rc : ns_modelfile_save(&mr->m, path, 1);
}

/* Keep the message of a failed write while another file is written. */
static void keep_message(char *buf, size_t size) { snprintf(buf, size, "%s", ns_errmsg()); }

int ns_train(const ns_dataset *ds, const ns_train_opts *o, ns_train_result *res)
{
    memset(res, 0, sizeof *res);
    if (o->threads > 0) omp_set_num_threads(o->threads);
    ns_blas_init(o->threads);
    if (!ds->n_flows) return ns_error(NS_EARG, "dataset has no flows");
    int rc = check_out_dir(o->out_path, "model");
    if (!rc) rc = check_out_dir(o->ckpt_path, "checkpoint");
    if (rc) return rc;

    model_run mr = {0};
    trainer t = {0};
    ns_modelfile *m = &mr.m;
    if ((rc = setup_model(m, ds, o))) goto done;
    mr.config = o->resume_path ? NULL : o->config, mr.prov_extra = o->provenance;
    mr.data_sum = ns_train_data_sum(ds);
    /* The trace model (tmodel.h) travels in the model file: learned once, kept on resume. */
    if (!m->trace && (!(m->trace = calloc(1, sizeof *m->trace)) || (rc = ns_tmodel_learn(m->trace, ds)))) {
        free(m->trace), m->trace = NULL;
        if (!rc) rc = ns_error(NS_ENOMEM, "out of memory");
        goto done;
    }
    ns_train_state *st = &m->st;
    t.ds = ds, t.enc = m, t.st = st, t.windows = 1;
    t.w = m->train_w, t.adam_m = m->adam_m, t.adam_v = m->adam_v, t.n = m->n_params, t.ema = m->weights;
    t.backward = model_backward, t.save = model_save, t.ctx = &mr;
    t.ckpt_path = o->ckpt_path, t.val_model = m, t.progress = o->progress, t.log = o->log;
    t.stop = o->stop, t.stop_at_step = o->stop_at_step;
    t.on_step = o->on_step, t.step_ctx = o->step_ctx, t.dist = o->dist;
    if (o->dist && o->dist->rank > 0) t.val_model = NULL; /* rank 0 reports it */
    if ((rc = trainer_alloc(&t, st->val_frac, st->balance))) goto done;
    if ((rc = ns_model_acts_new(&mr.acts, &m->cfg, st->batch, m->cfg.max_packets))) goto done;
    uint8_t *mask = malloc(m->n_params);
    if (mask) ns_model_decay_mask(&m->cfg, mask);
    t.grad = malloc((m->n_params + GRAD_EXTRA) * sizeof(float));
    t.runs = decay_runs(mask, m->n_params, &t.n_runs);
    if (!t.grad || !t.runs) {
        rc = ns_error(NS_ENOMEM, "out of memory for gradients");
        goto done;
    }
    ns_model_params_layout(&mr.tp, &m->cfg, m->train_w);
    ns_model_params_layout(&mr.gp, &m->cfg, t.grad);
    weights_of(st, &mr.lw);

    if (o->progress)
        fprintf(o->progress,
                "training %s: d=%d layers=%d heads=%d, %zu parameters, %d modelled bits, %d packets/flow, "
                "%llu flows (%zu held back), %s\n",
                o->resume_path ? "(resumed)" : o->config, m->cfg.d, m->cfg.n_layer, m->cfg.n_head, m->n_params,
                m->cfg.n_bits, m->cfg.max_packets, (unsigned long long)ds->n_flows, t.smp.n_val, ns_blas_describe());
    rc = trainer_run(&t);
    res->interrupted = t.interrupted;
    res->steps_done = st->step;
    res->steps = st->steps;
    res->last_loss = t.last_loss, res->val_loss = t.val_loss;
    res->seconds = st->elapsed_s;
    res->flows_per_s = st->elapsed_s > 0 ? (double)st->step * st->batch / st->elapsed_s : 0;
    res->gflops = t.run_s > 0 ? t.flops / t.run_s * 1e-9 : 0;
    if (t.ckpt_failed) {
        /* The weights are good even though their checkpoint could not be
         * written: keep them, and fail so that scripts notice. */
        char why[1024];
        keep_message(why, sizeof why);
        if (o->out_path && !(rc = ns_modelfile_save(m, o->out_path, 0))) {
            res->model_written = 1;
            rc = ns_error(NS_EIO, "%s; stopped at step %lld of %lld and wrote the model so far to %s", why,
                          (long long)st->step, (long long)st->steps, o->out_path);
        }
        goto done;
    }
    if (rc || t.interrupted) goto done; /* a stopped run's weights are in the checkpoint only */
    if ((rc = model_provenance(&mr, &t))) goto done;
    if (o->out_path && (rc = ns_modelfile_save(m, o->out_path, 0))) goto done;
    res->model_written = o->out_path != NULL;
    if (o->ckpt_path && (rc = ns_modelfile_save(m, o->ckpt_path, 1))) {
        char why[1024];
        keep_message(why, sizeof why);
        rc = ns_error(rc, "%s; the model itself was written to %s", why, o->out_path ? o->out_path : "(nowhere)");
    }

done:
    free(t.grad);
    trainer_free(&t);
    ns_model_acts_free(mr.acts);
    ns_modelfile_free(m);
    return rc;
}

/* An adapter or a branch must see batches as its base saw them: the base's
 * prompt dropout, class balance and loss weights when its file keeps them (a
 * checkpoint); a model file does not, so the options' (training's defaults)
 * stand in. */
static void batches_of_base(ns_train_state *st, const ns_modelfile *base)
{
    if (!base->has_state) return;
    st->p_uncond = base->st.p_uncond, st->p_token_drop = base->st.p_token_drop;
    st->balance = base->st.balance, st->cont_share = base->st.cont_share;
    st->w_iat = base->st.w_iat, st->w_dir = base->st.w_dir, st->w_len = base->st.w_len;
}

/* ---- fine-tuning an adapter ------------------------------------------------ */

void ns_finetune_opts_init(ns_finetune_opts *o)
{
    ns_train_opts t;
    ns_train_opts_init(&t);
    memset(o, 0, sizeof *o);
    o->st = t.st;
    o->st.steps = 1500;
    o->st.lr = 2e-3f;
    o->st.warmup = 100;
    o->st.weight_decay = 0;
    o->st.val_frac = 0;
    o->rank = 4;
    o->alpha = 4;
}

typedef struct lora_run {
    ns_lora a;
    ns_modelfile m;               /* the base with the adapter applied, and the new tokens */
    ns_model_acts *acts;
    float *w0, *grad;             /* the base's weights; the gradient of the adapted model's */
    int32_t *emb_row;             /* the model's row of each new token's embedding */
    ns_model_params w0p, gp;
    ns_lora_params gap;
    ns_model_loss_weights lw;
} lora_run;

static int lora_backward(trainer *t, float *loss, float parts[4])
{
    lora_run *lr = t->ctx;
    ns_lora *a = &lr->a;
    const batch *bt = &t->bt;
    size_t d = (size_t)lr->m.cfg.d;
    /* The adapted model: W0 + s B A, and the new tokens' rows. */
    ns_lora_forward(&lr->m.p, &lr->w0p, &lr->m.cfg, a);
    for (uint32_t e = 0; e < a->n_emb; e++)
        memcpy(lr->m.p.prompt + (size_t)lr->emb_row[e] * d, a->p.emb + e * d, d * sizeof(float));
    ns_model_acts_share(lr->acts, t->share_rows, t->share_flows);
    ns_model_acts_continuation(lr->acts, bt->cont);
    ns_model_forward(NULL, lr->acts, &lr->m.p, &lr->m.cfg, bt->x_t, bt->t, bt->prompt, bt->P, bt->len, bt->B, bt->T,
                     NULL);
    ns_model_acts_length_target(lr->acts, bt->len_class);
    *loss = ns_model_loss(lr->acts, &lr->m.cfg, bt->cls, bt->iat, bt->dir, &lr->lw, parts);
    memset(lr->grad, 0, lr->m.n_params * sizeof *lr->grad);
    int rc = ns_model_backward(&lr->gp, lr->acts, &lr->m.p, &lr->m.cfg, NULL);
    if (rc) return rc;
    memset(t->grad, 0, t->n * sizeof *t->grad);
    ns_lora_backward(&lr->gap, &lr->gp, &lr->m.cfg, a);
    for (uint32_t e = 0; e < a->n_emb; e++)
        memcpy(lr->gap.emb + e * d, lr->gp.prompt + (size_t)lr->emb_row[e] * d, d * sizeof(float));
    return NS_OK;
}

static int lora_save(trainer *t, const char *path) { return ns_lora_save(&((lora_run *)t->ctx)->a, path); }

int ns_finetune(const ns_modelfile *base, const ns_dataset *ds, const ns_finetune_opts *o, ns_train_result *res)
{
    memset(res, 0, sizeof *res);
    if (o->threads > 0) omp_set_num_threads(o->threads);
    ns_blas_init(o->threads);
    ns_train_state st = o->st;
    st.step = 0, st.elapsed_s = 0;
    batches_of_base(&st, base);
    if (!ds->n_flows) return ns_error(NS_EARG, "the fine-tune data has no flows");
    int rc = ns_train_state_check(&st, NULL);
    if (!rc) rc = check_out_dir(o->out_path, "adapter");
    if (!rc) rc = check_out_dir(o->ckpt_path, "partial adapter");
    if (rc) return rc;

    lora_run lr = {0};
    trainer t = {0};
    int32_t *token_map = NULL;
    ns_lora *a = &lr.a;
    ns_modelfile *m = &lr.m;
    rc = ns_lora_init(a, base, ds, o->rank, o->alpha, (uint64_t)st.seed);
    const ns_lora *one = a;
    if (!rc) rc = ns_lora_merge(m, base, &one, NULL, 1); /* B = 0: the base, with the new tokens */
    if (rc) goto done;
    t.ds = ds, t.enc = m, t.st = &st, t.windows = 1;
    t.w = a->w, t.n = a->n_params;
    t.backward = lora_backward, t.save = lora_save, t.ctx = &lr;
    t.ckpt_path = o->ckpt_path, t.progress = o->progress, t.stop = o->stop, t.stop_at_step = o->stop_at_step;
    t.log = o->log;
    t.on_step = o->on_step, t.step_ctx = o->step_ctx, t.dist = o->dist;
    st.ckpt_every = 0; /* an adapter is written at the end, or on a stop */
    if ((rc = trainer_alloc(&t, 0, st.balance))) goto done;
    if ((rc = ns_model_acts_new(&lr.acts, &m->cfg, st.batch, m->cfg.max_packets))) goto done;
    lr.w0 = malloc(m->n_params * sizeof *lr.w0);
    lr.grad = malloc(m->n_params * sizeof *lr.grad);
    t.grad = malloc((a->n_params + GRAD_EXTRA) * sizeof *t.grad);
    t.adam_m = calloc(a->n_params, sizeof *t.adam_m);
    t.adam_v = calloc(a->n_params, sizeof *t.adam_v);
    token_map = malloc(((size_t)ds->n_tokens + 1) * sizeof *token_map);
    lr.emb_row = malloc(((size_t)a->n_emb + 1) * sizeof *lr.emb_row);
    /* The low-rank factors decay like the matrices they adapt; the new
     * embeddings, like the base's, do not. */
    uint8_t *mask = malloc(a->n_params + 1);
    if (mask) ns_lora_decay_mask(a, &m->cfg, mask);
    t.runs = decay_runs(mask, a->n_params, &t.n_runs);
    if (!lr.w0 || !lr.grad || !t.grad || !t.adam_m || !t.adam_v || !token_map || !lr.emb_row || !t.runs) {
        rc = ns_error(NS_ENOMEM, "out of memory for fine-tuning");
        goto done;
    }
    t.token_map = token_map;
    memcpy(lr.w0, m->weights, m->n_params * sizeof *lr.w0);
    ns_modelfile_map_vocab(m, ds, NULL, token_map); /* ns_lora_init checked the attributes */
    for (uint32_t k = 0, e = 0; k < a->n_tokens; k++)
        if (a->has_emb[k]) lr.emb_row[e++] = ns_modelfile_token(m, a->tokens[k]);
    ns_model_params_layout(&lr.w0p, &m->cfg, lr.w0);
    ns_model_params_layout(&lr.gp, &m->cfg, lr.grad);
    ns_lora_layout(&lr.gap, a, t.grad);
    weights_of(&st, &lr.lw);

    if (o->progress) {
        fprintf(o->progress, "fine-tuning %s: rank %d, alpha %g, %zu adapter parameters (%.1f%% of the base's), "
                             "%u new tokens:", o->base_name ? o->base_name : "the model", a->rank, (double)a->alpha,
                a->n_params, 100.0 * (double)a->n_params / (double)base->n_params, a->n_emb);
        for (uint32_t k = 0; k < a->n_tokens; k++)
            if (a->has_emb[k]) fprintf(o->progress, " %s", a->tokens[k]);
        fprintf(o->progress, "; %llu flows\n", (unsigned long long)ds->n_flows);
    }
    rc = trainer_run(&t);
    res->interrupted = t.interrupted;
    res->steps_done = st.step, res->steps = st.steps;
    res->last_loss = t.last_loss;
    res->seconds = st.elapsed_s;
    res->flows_per_s = res->seconds > 0 ? (double)res->steps_done * st.batch / res->seconds : 0;
    if (!rc && !t.interrupted)
        rc = provenance_of(&a->provenance, "finetune", NULL, NULL, &st, t.last_loss, 0, ns_train_data_sum(ds),
                           o->provenance);
    if (!rc && !t.interrupted && o->out_path && !(rc = ns_lora_save(a, o->out_path))) res->model_written = 1;

done:
    free(lr.w0), free(lr.grad), free(t.grad), free(t.adam_m), free(t.adam_v), free(token_map), free(lr.emb_row);
    trainer_free(&t);
    ns_model_acts_free(lr.acts);
    ns_modelfile_free(m);
    ns_lora_free(a);
    return rc;
}

/* ---- control branch ---------------------------------------------------------- */

void ns_train_control_opts_init(ns_train_control_opts *o)
{
    ns_train_opts t;
    ns_train_opts_init(&t);
    memset(o, 0, sizeof *o);
    o->blocks = 2;
    o->st = t.st;
    o->st.steps = 1000;
    o->st.batch = 32;
    o->st.lr = 1e-3f;
    o->st.seed = 1;
    o->st.log_every = 25;
    o->st.warmup = 0; /* steps / 10 + 1 below 500 steps, else 50 */
    o->st.val_frac = 0;
    o->st.ema_decay = 0;
}

typedef struct control_run {
    const ns_modelfile *base;
    ns_controlnet ctl;
    ns_model_acts *acts;
    ns_controlnet_acts *cacts;
    ns_control_row *crow;         /* every packet's control row */
    float *feat;
    ns_controlnet_params gp;
    ns_model_loss_weights lw;
    int blocks;
} control_run;

static int control_backward(trainer *t, float *loss, float parts[4])
{
    control_run *cr = t->ctx;
    const batch *bt = &t->bt;
    const ns_model_config *c = &cr->base->cfg;
    for (int b = 0; b < bt->B; b++)
        ns_control_features(cr->crow + t->ds->flows[t->chosen[t->first + b]].first, bt->len[b], bt->T,
                            cr->feat + (size_t)b * bt->T * NS_CONTROL_FEATURES);
    ns_model_acts_share(cr->acts, t->share_rows, t->share_flows);
    ns_controlnet_model_forward(NULL, cr->acts, cr->cacts, cr->base, &cr->ctl, bt->x_t, bt->t, bt->prompt, bt->P,
                                bt->len, bt->B, bt->T, cr->feat, 1.0f);
    ns_model_acts_length_target(cr->acts, bt->len_class);
    *loss = ns_model_loss(cr->acts, c, bt->cls, bt->iat, bt->dir, &cr->lw, parts);
    memset(t->grad, 0, t->n * sizeof(float));
    int rc = ns_model_backward(NULL, cr->acts, &cr->base->p, c, ns_controlnet_dcontrol(cr->cacts));
    if (!rc) rc = ns_controlnet_backward(&cr->gp, cr->cacts, &cr->ctl.p, c, cr->blocks);
    return rc;
}

static int control_save(trainer *t, const char *path)
{
    return ns_controlnet_save(&((control_run *)t->ctx)->ctl, path);
}

int ns_train_control(const ns_modelfile *base, const ns_dataset *ds, const ns_train_control_opts *o,
                     const char *out_path, ns_train_control_result *res)
{
    memset(res, 0, sizeof *res);
    if (o->threads > 0) omp_set_num_threads(o->threads);
    ns_blas_init(o->threads);
    if (!ds->n_flows) return ns_error(NS_EARG, "dataset has no flows");
    int rc = ns_modelfile_check_vocab(base, ds);
    if (rc) return rc;
    ns_train_state st = o->st;
    st.step = 0, st.elapsed_s = 0, st.ckpt_every = 0, st.eval_every = 0;
    if (st.warmup <= 0) st.warmup = st.steps < 500 ? (int32_t)(st.steps / 10 + 1) : 50;
    batches_of_base(&st, base);
    rc = ns_train_state_check(&st, NULL);
    if (!rc) rc = check_out_dir(out_path, "control branch");
    if (!rc) rc = check_out_dir(o->ckpt_path, "partial control branch");
    if (rc) return rc;

    const ns_model_config *c = &base->cfg;
    int T = c->max_packets, B = st.batch;
    control_run cr = {.base = base, .blocks = o->blocks};
    trainer t = {0};
    if ((rc = ns_controlnet_init(&cr.ctl, base, o->blocks))) return rc;
    size_t n = cr.ctl.n_params;
    t.ds = ds, t.enc = base, t.st = &st;
    t.w = cr.ctl.weights, t.n = n;
    t.backward = control_backward, t.save = control_save, t.ctx = &cr;
    t.ckpt_path = o->ckpt_path, t.progress = o->progress, t.stop = o->stop, t.stop_at_step = o->stop_at_step;
    t.on_step = o->on_step, t.step_ctx = o->step_ctx, t.dist = o->dist;
    t.log = o->log;
    t.grad = calloc(n + GRAD_EXTRA, sizeof(float)), t.adam_m = calloc(n, sizeof(float)), t.adam_v = calloc(n, sizeof(float));
    cr.feat = malloc((size_t)B * T * NS_CONTROL_FEATURES * sizeof(float));
    cr.crow = malloc((ds->n_packets + 1) * sizeof *cr.crow);
    uint8_t *mask = malloc(n);
    if (mask) ns_controlnet_decay_mask(c, o->blocks, mask);
    t.runs = decay_runs(mask, n, &t.n_runs);
    int8_t *row = malloc(ds->width);
    if (!t.grad || !t.adam_m || !t.adam_v || !cr.feat || !cr.crow || !t.runs || !row) {
        free(row);
        rc = ns_error(NS_ENOMEM, "out of memory for the branch's training");
        goto done;
    }
    /* Every packet's control row, once: the maps are the flows' own. */
    for (uint64_t k = 0; k < ds->n_packets; k++) {
        ns_dataset_row(ds, k, row);
        ns_control_row_of(row, ds->dir[k], &cr.crow[k]);
    }
    free(row);
    if ((rc = trainer_alloc(&t, 0, st.balance))) goto done;
    if ((rc = ns_model_acts_new(&cr.acts, c, B, T))) goto done;
    if ((rc = ns_controlnet_acts_new(&cr.cacts, c, o->blocks, B, T))) goto done;
    ns_controlnet_params_layout(&cr.gp, c, o->blocks, t.grad);
    weights_of(&st, &cr.lw);
    if (o->progress)
        fprintf(o->progress, "training a control branch: %d of %d blocks, %zu parameters, %llu flows, batch %d, %s\n",
                o->blocks, c->n_layer, n, (unsigned long long)ds->n_flows, B, ns_blas_describe());
    rc = trainer_run(&t);
    res->interrupted = t.interrupted;
    res->steps_done = st.step, res->steps = st.steps;
    res->first_loss = t.first_window, res->last_loss = t.last_window;
    res->seconds = st.elapsed_s;
    res->flows_per_s = res->seconds > 0 ? (double)res->steps_done * B / res->seconds : 0;
    if (!rc && !t.interrupted)
        rc = provenance_of(&cr.ctl.provenance, "train-control", NULL, c, &st, t.last_window, 0,
                           ns_train_data_sum(ds), o->provenance);
    if (!rc && !t.interrupted && out_path) rc = ns_controlnet_save(&cr.ctl, out_path); /* NULL: a rank > 0 */

done:
    free(t.grad), free(t.adam_m), free(t.adam_v), free(cr.feat), free(cr.crow);
    trainer_free(&t);
    ns_controlnet_acts_free(cr.cacts);
    ns_model_acts_free(cr.acts);
    ns_controlnet_free(&cr.ctl);
    return rc;
}
