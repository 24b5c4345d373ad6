/* train.c: the training loop (see train.h). */
#include "netsynth/train.h"

#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "netsynth/blas.h"
#include "netsynth/control.h"
#include "netsynth/controlnet.h"
#include "netsynth/error.h"
#include "netsynth/nn.h"
#include "netsynth/rng.h"

void ns_train_opts_init(ns_train_opts *o)
{
    memset(o, 0, sizeof *o);
    o->config = "small";
    o->max_packets = 0; /* the dataset's */
    ns_train_state *s = &o->st;
    s->steps = 6000;
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
    o->logsnr_shift = 0.0f;
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* ---- batches ---------------------------------------------------------- */

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

static void sampler_free(sampler *s)
{
    for (int b = 0; b < MAX_BUCKETS; b++) free(s->flows[b]), free(s->cum[b]);
    free(s->val);
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
    b->prompt = calloc((size_t)B * (P ? P : 1), sizeof(int));
    if (!b->x0 || !b->x_t || !b->t || !b->iat || !b->cls || !b->dir || !b->len || !b->prompt)
        return ns_error(NS_ENOMEM, "out of memory for a batch");
    return NS_OK;
}

static void batch_free(batch *b)
{
    free(b->x0), free(b->x_t), free(b->t), free(b->iat), free(b->cls), free(b->dir), free(b->len), free(b->prompt);
}

/* Fill the batch with flows[0..B): encodings, times, noise and prompts.
 * t_fixed >= 0 (validation) replaces the random times; drop = 0 keeps prompts.
 * token_map (NULL: the same ids) turns the dataset's token ids into the
 * model's, for a model whose vocabulary is not the dataset's (fine-tuning). */
static void batch_fill(batch *bt, const ns_modelfile *m, const ns_dataset *ds, const uint64_t *flows, int B,
                       uint64_t seed, uint64_t stream, float p_uncond, float p_drop, const float *t_fixed,
                       const int32_t *token_map)
{
    const ns_model_config *c = &m->cfg;
    int T = 1, in = c->in_dim, K = c->n_bits, P = (int)ds->n_attrs;
    for (int b = 0; b < B; b++) {
        int len = (int)ds->flows[flows[b]].n_packets;
        if (len > c->max_packets) len = c->max_packets;
        bt->len[b] = len;
        if (len > T) T = len;
    }
    bt->B = B, bt->T = T, bt->P = P;
    memset(bt->x0, 0, (size_t)B * T * in * sizeof(float));
    memset(bt->x_t, 0, (size_t)B * T * in * sizeof(float));
#pragma omp parallel for schedule(static)
    for (int b = 0; b < B; b++) {
        ns_rng r;
        ns_rng_seed(&r, seed, stream * 65536 + (uint64_t)b);
        size_t row0 = (size_t)b * T;
        ns_repr_encode(&m->repr, ds, flows[b], T, bt->x0 + row0 * in, bt->cls + row0 * K, bt->dir + row0,
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
        batch_fill(&bt, m, ds, flows + at, n, 0x5eed, at, 0, 0, t_fixed, NULL);
        ns_model_forward(NULL, acts, &m->p, &m->cfg, bt.x_t, bt.t, bt.prompt, bt.P, bt.len, n, bt.T, NULL);
        sum += (double)ns_model_loss(acts, &m->cfg, bt.cls, bt.iat, bt.dir, weights_of(&m->st, &w), NULL) * n;
    }
    ns_model_acts_free(acts);
    batch_free(&bt);
    *loss = (float)(sum / (double)count);
    return rc;
}

/* ---- the loop ---------------------------------------------------------- */

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

static decay_run *decay_runs(const ns_model_config *c, size_t n, size_t *count)
{
    uint8_t *mask = malloc(n);
    decay_run *runs = malloc(sizeof *runs * 256);
    size_t k = 0, cap = 256;
    if (!mask || !runs) {
        free(mask), free(runs);
        return NULL;
    }
    ns_model_decay_mask(c, mask);
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
} loss_log;

static void loss_log_add(loss_log *lg, float loss, const float parts[4], int flows)
{
    lg->loss += loss, lg->n++, lg->flows += flows;
    for (int k = 0; k < 4; k++) lg->parts[k] += parts[k];
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
    *lg = (loss_log){.t = t};
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
            return ns_error(NS_EARG, "%s: trained on a dataset with another vocabulary", o->resume_path);
        for (uint32_t i = 0; i < ds->n_tokens; i++)
            if (strcmp(m->tokens[i], ds->tokens[i]))
                return ns_error(NS_EARG, "%s: trained on a dataset with another vocabulary ('%s' vs '%s')",
                                o->resume_path, m->tokens[i], ds->tokens[i]);
        if (o->st.steps > m->st.steps) m->st.steps = o->st.steps; /* a longer run may be asked for */
        ns_model_params_layout(&m->p, &m->cfg, m->weights);
        return NS_OK;
    }
    memset(m, 0, sizeof *m);
    if ((rc = ns_model_config_named(&m->cfg, o->config))) return rc;
    if (o->d > 0) m->cfg.d = o->d;
    if (o->n_layer > 0) m->cfg.n_layer = o->n_layer;
    if (o->n_head > 0) m->cfg.n_head = o->n_head;
    if (m->cfg.d % m->cfg.n_head || m->cfg.n_layer > NS_MODEL_MAX_LAYERS)
        return ns_error(NS_EARG, "width %d must be a multiple of the %d heads, at most %d layers", m->cfg.d,
                        m->cfg.n_head, NS_MODEL_MAX_LAYERS);
    if ((rc = ns_repr_fit(&m->repr, ds))) return rc;
    int T = (int)ds->max_packets;
    if (o->max_packets > 0 && o->max_packets < T) T = o->max_packets;
    m->cfg.max_packets = T;
    m->cfg.n_bits = m->repr.n_bits;
    m->cfg.in_dim = ns_repr_in_dim(&m->repr);
    m->cfg.out_dim = ns_repr_out_dim(&m->repr);
    m->cfg.vocab = (int32_t)ds->n_tokens;
    m->sched = ns_schedule_default();
    m->sched.logsnr_shift = o->logsnr_shift;
    if ((rc = ns_modelfile_alloc(m, 1)) || (rc = ns_modelfile_set_vocab(m, ds))) return rc;
    m->st = o->st;
    m->st.step = 0;
    m->st.elapsed_s = 0;
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

int ns_train(const ns_dataset *ds, const ns_train_opts *o, ns_train_result *res)
{
    memset(res, 0, sizeof *res);
    if (o->threads > 0) omp_set_num_threads(o->threads);
    ns_blas_init(o->threads);
    if (!ds->n_flows) return ns_error(NS_EARG, "dataset has no flows");

    ns_modelfile m;
    sampler smp = {0};
    batch bt = {0};
    ns_model_acts *acts = NULL;
    float *grad = NULL;
    uint64_t *chosen = NULL;
    decay_run *runs = NULL;
    size_t n_runs = 0;
    int rc = setup_model(&m, ds, o);
    if (rc) goto done;
    ns_train_state *st = &m.st;
    if (st->batch < 1 || st->steps < 1 || st->warmup < 1) {
        rc = ns_error(NS_EARG, "batch, steps and warmup must be positive");
        goto done;
    }
    if ((rc = sampler_build(&smp, ds, m.cfg.max_packets, st->val_frac, st->balance, (uint64_t)st->seed))) goto done;
    if ((rc = batch_alloc(&bt, &m.cfg, st->batch, (int)ds->n_attrs))) goto done;
    if ((rc = ns_model_acts_new(&acts, &m.cfg, st->batch, m.cfg.max_packets))) goto done;
    grad = malloc(m.n_params * sizeof(float));
    chosen = malloc(sizeof *chosen * (size_t)st->batch);
    runs = decay_runs(&m.cfg, m.n_params, &n_runs);
    if (!grad || !chosen || !runs) {
        rc = ns_error(NS_ENOMEM, "out of memory for gradients");
        goto done;
    }
    ns_model_params tp, gp;
    ns_model_params_layout(&tp, &m.cfg, m.train_w);
    ns_model_params_layout(&gp, &m.cfg, grad);
    ns_model_loss_weights lw;
    weights_of(st, &lw);

    if (o->progress)
        fprintf(o->progress,
                "training %s: d=%d layers=%d heads=%d, %zu parameters, %d modelled bits, %d packets/flow, "
                "%llu flows (%zu held back), %s\n",
                o->resume_path ? "(resumed)" : o->config, m.cfg.d, m.cfg.n_layer, m.cfg.n_head, m.n_params,
                m.cfg.n_bits, m.cfg.max_packets, (unsigned long long)ds->n_flows, smp.n_val, ns_blas_describe());
    double t0 = now_s(), elapsed0 = st->elapsed_s, flops = 0;
    loss_log lg = {.t = t0};
    while (st->step < st->steps) {
        if ((o->stop && *o->stop) || (o->stop_at_step > 0 && st->step >= o->stop_at_step)) {
            res->interrupted = 1;
            break;
        }
        int64_t s = st->step;
        ns_rng r;
        ns_rng_seed(&r, (uint64_t)st->seed, (uint64_t)s + 1);
        sampler_draw(&smp, &r, st->batch, chosen);
        batch_fill(&bt, &m, ds, chosen, st->batch, (uint64_t)st->seed, (uint64_t)s + 1, st->p_uncond,
                   st->p_token_drop, NULL, NULL);
        ns_model_forward(NULL, acts, &tp, &m.cfg, bt.x_t, bt.t, bt.prompt, bt.P, bt.len, bt.B, bt.T, NULL);
        float parts[4];
        float loss = ns_model_loss(acts, &m.cfg, bt.cls, bt.iat, bt.dir, &lw, parts);
        memset(grad, 0, m.n_params * sizeof(float));
        if ((rc = ns_model_backward(&gp, acts, &tp, &m.cfg, NULL))) goto done;
        ns_grad_clip(grad, m.n_params, st->clip);
        ns_adamw_cfg ac = {lr_at(st, s), 0.9f, 0.999f, 1e-8f, 0};
        for (size_t k = 0; k < n_runs; k++) {
            ac.weight_decay = runs[k].decay ? st->weight_decay : 0;
            ns_adamw_update(m.train_w + runs[k].off, m.adam_m + runs[k].off, m.adam_v + runs[k].off,
                            grad + runs[k].off, runs[k].n, &ac, (long)s + 1);
        }
        float decay = fminf(st->ema_decay, (1.0f + (float)s) / (10.0f + (float)s));
        ns_ema_update(m.weights, m.train_w, m.n_params, decay);
        st->step = s + 1;
        st->elapsed_s = elapsed0 + (now_s() - t0);
        flops += ns_model_step_flops(&m.cfg, bt.B, bt.T);
        res->last_loss = loss;
        loss_log_add(&lg, loss, parts, bt.B);

        int last = st->step == st->steps;
        if (st->eval_every > 0 && (st->step % st->eval_every == 0 || last) && smp.n_val) {
            if ((rc = ns_train_validate(&m, ds, smp.val, smp.n_val, &res->val_loss))) goto done;
            if (o->progress) fprintf(o->progress, "step %lld: validation loss %.4f (EMA weights)\n",
                                     (long long)st->step, res->val_loss);
        }
        if (o->progress && st->log_every > 0 && (st->step % st->log_every == 0 || last))
            progress_line(o->progress, st, &lg, ac.lr);
        if (o->ckpt_path && st->ckpt_every > 0 && st->step % st->ckpt_every == 0 && !last)
            if ((rc = ns_modelfile_save(&m, o->ckpt_path, 1))) goto done;
    }
    res->steps_done = st->step;
    res->seconds = st->elapsed_s;
    res->flows_per_s = st->elapsed_s > 0 ? (double)st->step * st->batch / st->elapsed_s : 0;
    double run_s = st->elapsed_s - elapsed0;
    res->gflops = run_s > 0 ? flops / run_s * 1e-9 : 0;
    if (o->ckpt_path && (rc = ns_modelfile_save(&m, o->ckpt_path, 1))) goto done;
    if (o->out_path && (rc = ns_modelfile_save(&m, o->out_path, 0))) goto done;

done:
    free(grad);
    free(runs);
    free(chosen);
    ns_model_acts_free(acts);
    batch_free(&bt);
    sampler_free(&smp);
    ns_modelfile_free(&m);
    return rc;
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

int ns_finetune(const ns_modelfile *base, const ns_dataset *ds, const ns_finetune_opts *o, ns_train_result *res)
{
    memset(res, 0, sizeof *res);
    if (o->threads > 0) omp_set_num_threads(o->threads);
    ns_blas_init(o->threads);
    const ns_train_state *st = &o->st;
    if (!ds->n_flows) return ns_error(NS_EARG, "the fine-tune data has no flows");
    if (st->batch < 1 || st->steps < 1 || st->warmup < 1)
        return ns_error(NS_EARG, "batch, steps and warmup must be positive");

    ns_lora a = {0};
    ns_modelfile m = {0};
    sampler smp = {0};
    batch bt = {0};
    ns_model_acts *acts = NULL;
    float *w0 = NULL, *grad = NULL, *ga = NULL, *am = NULL, *av = NULL;
    int32_t *token_map = NULL, *emb_row = NULL;
    uint64_t *chosen = NULL;
    int rc = ns_lora_init(&a, base, ds, o->rank, o->alpha, (uint64_t)st->seed);
    const ns_lora *one = &a;
    if (!rc) rc = ns_lora_merge(&m, base, &one, NULL, 1); /* B = 0: the base, with the new tokens */
    if (!rc) rc = sampler_build(&smp, ds, m.cfg.max_packets, 0, st->balance, (uint64_t)st->seed);
    if (!rc) rc = batch_alloc(&bt, &m.cfg, st->batch, (int)ds->n_attrs);
    if (!rc) rc = ns_model_acts_new(&acts, &m.cfg, st->batch, m.cfg.max_packets);
    if (rc) goto done;
    w0 = malloc(m.n_params * sizeof *w0);
    grad = malloc(m.n_params * sizeof *grad);
    ga = malloc(a.n_params * sizeof *ga);
    am = calloc(a.n_params, sizeof *am);
    av = calloc(a.n_params, sizeof *av);
    token_map = malloc(((size_t)ds->n_tokens + 1) * sizeof *token_map);
    emb_row = malloc(((size_t)a.n_emb + 1) * sizeof *emb_row);
    chosen = malloc(sizeof *chosen * (size_t)st->batch);
    if (!w0 || !grad || !ga || !am || !av || !token_map || !emb_row || !chosen) {
        rc = ns_error(NS_ENOMEM, "out of memory for fine-tuning");
        goto done;
    }
    memcpy(w0, m.weights, m.n_params * sizeof *w0);
    for (uint32_t i = 0; i < ds->n_tokens; i++) token_map[i] = ns_modelfile_token(&m, ds->tokens[i]);
    for (uint32_t t = 0, e = 0; t < a.n_tokens; t++)
        if (a.has_emb[t]) emb_row[e++] = ns_modelfile_token(&m, a.tokens[t]);
    ns_model_params w0p, gp;
    ns_lora_params gap;
    ns_model_params_layout(&w0p, &m.cfg, w0);
    ns_model_params_layout(&gp, &m.cfg, grad);
    ns_lora_layout(&gap, &a, ga);
    ns_model_loss_weights lw;
    weights_of(st, &lw);
    size_t d = (size_t)m.cfg.d;

    if (o->progress) {
        fprintf(o->progress, "fine-tuning %s: rank %d, alpha %g, %zu adapter parameters (%.1f%% of the base's), "
                             "%u new tokens:", o->base_name ? o->base_name : "the model", a.rank, (double)a.alpha,
                a.n_params, 100.0 * (double)a.n_params / (double)base->n_params, a.n_emb);
        for (uint32_t t = 0; t < a.n_tokens; t++)
            if (a.has_emb[t]) fprintf(o->progress, " %s", a.tokens[t]);
        fprintf(o->progress, "; %llu flows\n", (unsigned long long)ds->n_flows);
    }
    double t0 = now_s();
    loss_log lg = {.t = t0};
    ns_train_state prog = *st;
    for (int64_t s = 0; s < st->steps; s++) {
        if (o->stop && *o->stop) {
            res->interrupted = 1;
            break;
        }
        ns_rng r;
        ns_rng_seed(&r, (uint64_t)st->seed, (uint64_t)s + 1);
        sampler_draw(&smp, &r, st->batch, chosen);
        batch_fill(&bt, &m, ds, chosen, st->batch, (uint64_t)st->seed, (uint64_t)s + 1, st->p_uncond,
                   st->p_token_drop, NULL, token_map);
        /* The adapted model: W0 + s B A, and the new tokens' rows. */
        ns_lora_forward(&m.p, &w0p, &m.cfg, &a);
        for (uint32_t e = 0; e < a.n_emb; e++)
            memcpy(m.p.prompt + (size_t)emb_row[e] * d, a.p.emb + e * d, d * sizeof(float));
        ns_model_forward(NULL, acts, &m.p, &m.cfg, bt.x_t, bt.t, bt.prompt, bt.P, bt.len, bt.B, bt.T, NULL);
        float parts[4];
        float loss = ns_model_loss(acts, &m.cfg, bt.cls, bt.iat, bt.dir, &lw, parts);
        memset(grad, 0, m.n_params * sizeof *grad);
        if ((rc = ns_model_backward(&gp, acts, &m.p, &m.cfg, NULL))) goto done;
        memset(ga, 0, a.n_params * sizeof *ga);
        ns_lora_backward(&gap, &gp, &m.cfg, &a);
        for (uint32_t e = 0; e < a.n_emb; e++)
            memcpy(gap.emb + e * d, gp.prompt + (size_t)emb_row[e] * d, d * sizeof(float));
        ns_grad_clip(ga, a.n_params, st->clip);
        ns_adamw_cfg ac = {lr_at(st, s), 0.9f, 0.999f, 1e-8f, 0};
        ns_adamw_update(a.w, am, av, ga, a.n_params, &ac, (long)s + 1);
        res->last_loss = loss;
        res->steps_done = s + 1;
        loss_log_add(&lg, loss, parts, bt.B);
        prog.step = s + 1, prog.elapsed_s = now_s() - t0;
        if (o->progress && st->log_every > 0 && ((s + 1) % st->log_every == 0 || s + 1 == st->steps))
            progress_line(o->progress, &prog, &lg, ac.lr);
    }
    res->seconds = now_s() - t0;
    res->flows_per_s = res->seconds > 0 ? (double)res->steps_done * st->batch / res->seconds : 0;
    if (o->out_path) rc = ns_lora_save(&a, o->out_path);

done:
    free(w0), free(grad), free(ga), free(am), free(av), free(token_map), free(emb_row), free(chosen);
    ns_model_acts_free(acts);
    batch_free(&bt);
    sampler_free(&smp);
    ns_modelfile_free(&m);
    ns_lora_free(&a);
    return rc;
}

/* ---- control branch ---------------------------------------------------------- */

void ns_train_control_opts_init(ns_train_control_opts *o)
{
    memset(o, 0, sizeof *o);
    o->blocks = 2;
    o->steps = 1000;
    o->batch = 32;
    o->lr = 1e-3f;
    o->seed = 1;
    o->log_every = 25;
}

int ns_train_control(const ns_modelfile *base, const ns_dataset *ds, const ns_train_control_opts *o,
                     const char *out_path, ns_train_control_result *res)
{
    memset(res, 0, sizeof *res);
    if (o->threads > 0) omp_set_num_threads(o->threads);
    ns_blas_init(o->threads);
    if (!ds->n_flows) return ns_error(NS_EARG, "dataset has no flows");
    if (o->batch < 1 || o->steps < 1) return ns_error(NS_EARG, "batch and steps must be positive");
    if (ds->n_attrs != base->n_attrs) return ns_error(NS_EMISMATCH, "the dataset's labels are not the model's");
    for (uint32_t i = 0; i < ds->n_tokens; i++)
        if (i >= base->n_tokens || strcmp(base->tokens[i], ds->tokens[i]))
            return ns_error(NS_EMISMATCH, "the dataset's vocabulary is not the model's (token %u: '%s')", i, ds->tokens[i]);
    const ns_model_config *c = &base->cfg;
    int T = c->max_packets, B = o->batch;
    ns_controlnet ctl;
    sampler smp = {0};
    batch bt = {0};
    ns_model_acts *acts = NULL;
    ns_controlnet_acts *cacts = NULL;
    float *grad = NULL, *adam_m = NULL, *adam_v = NULL, *feat = NULL;
    uint64_t *chosen = NULL;
    ns_control_row *crow = NULL;
    uint8_t *mask = NULL;
    int rc = ns_controlnet_init(&ctl, base, o->blocks);
    if (rc) return rc;
    size_t n = ctl.n_params;
    grad = calloc(n, sizeof(float)), adam_m = calloc(n, sizeof(float)), adam_v = calloc(n, sizeof(float));
    feat = malloc((size_t)B * T * NS_CONTROL_FEATURES * sizeof(float));
    chosen = malloc((size_t)B * sizeof *chosen);
    crow = malloc((ds->n_packets + 1) * sizeof *crow);
    mask = malloc(n);
    int8_t *row = malloc(ds->width);
    if (!grad || !adam_m || !adam_v || !feat || !chosen || !crow || !mask || !row) {
        free(row);
        rc = ns_error(NS_ENOMEM, "out of memory for the branch's training");
        goto done;
    }
    /* Every packet's control row, once: the maps are the flows' own. */
    for (uint64_t k = 0; k < ds->n_packets; k++) {
        ns_dataset_row(ds, k, row);
        ns_control_row_of(row, ds->dir[k], &crow[k]);
    }
    free(row);
    ns_controlnet_decay_mask(c, o->blocks, mask);
    if ((rc = sampler_build(&smp, ds, T, 0, base->st.balance > 0 ? base->st.balance : 0.5f, (uint64_t)o->seed)))
        goto done;
    if ((rc = batch_alloc(&bt, c, B, (int)ds->n_attrs))) goto done;
    if ((rc = ns_model_acts_new(&acts, c, B, T))) goto done;
    if ((rc = ns_controlnet_acts_new(&cacts, c, o->blocks, B, T))) goto done;
    ns_controlnet_params gp;
    ns_controlnet_params_layout(&gp, c, o->blocks, grad);
    ns_model_loss_weights lw = {base->st.w_iat, base->st.w_dir, base->st.w_len};
    if (!(lw.w_dir > 0)) lw = (ns_model_loss_weights){0.1f, 0.2f, 0.05f}; /* a model saved without its options */
    ns_train_state sched = {.steps = o->steps, .warmup = o->steps < 500 ? (int32_t)(o->steps / 10 + 1) : 50,
                            .lr = o->lr, .min_lr_frac = 0.05f};
    if (o->progress)
        fprintf(o->progress, "training a control branch: %d of %d blocks, %zu parameters, %llu flows, batch %d, %s\n",
                o->blocks, c->n_layer, n, (unsigned long long)ds->n_flows, B, ns_blas_describe());
    double t0 = now_s(), log_t = t0, acc = 0;
    int64_t acc_n = 0, flows_since = 0;
    for (int64_t s = 0; s < o->steps; s++) {
        ns_rng r;
        ns_rng_seed(&r, (uint64_t)o->seed, (uint64_t)s + 1);
        sampler_draw(&smp, &r, B, chosen);
        /* Prompts dropped as in base training: the guidance's unconditional half runs with the map too. */
        batch_fill(&bt, base, ds, chosen, B, (uint64_t)o->seed, (uint64_t)s + 1, 0.1f, 0.15f, NULL, NULL);
        for (int b = 0; b < B; b++)
            ns_control_features(crow + ds->flows[chosen[b]].first, bt.len[b], bt.T,
                                feat + (size_t)b * bt.T * NS_CONTROL_FEATURES);
        ns_controlnet_model_forward(NULL, acts, cacts, base, &ctl, bt.x_t, bt.t, bt.prompt, bt.P, bt.len, B, bt.T,
                                    feat, 1.0f);
        float loss = ns_model_loss(acts, c, bt.cls, bt.iat, bt.dir, &lw, NULL);
        memset(grad, 0, n * sizeof(float));
        if ((rc = ns_model_backward(NULL, acts, &base->p, c, ns_controlnet_dcontrol(cacts)))) goto done;
        if ((rc = ns_controlnet_backward(&gp, cacts, &ctl.p, c, o->blocks))) goto done;
        ns_grad_clip(grad, n, 1.0f);
        ns_adamw_cfg ac = {lr_at(&sched, s), 0.9f, 0.999f, 1e-8f, 0};
        for (size_t i = 0; i < n;) { /* runs of equal decay flags */
            size_t j = i;
            while (j < n && mask[j] == mask[i]) j++;
            ac.weight_decay = mask[i] ? 0.01f : 0;
            ns_adamw_update(ctl.weights + i, adam_m + i, adam_v + i, grad + i, j - i, &ac, (long)s + 1);
            i = j;
        }
        acc += loss, acc_n++, flows_since += B;
        int last = s + 1 == o->steps;
        if ((o->log_every > 0 && (s + 1) % o->log_every == 0) || last) {
            if (!res->first_loss) res->first_loss = (float)(acc / acc_n);
            res->last_loss = (float)(acc / acc_n);
            double t = now_s(), rate = flows_since / (t - log_t);
            char el[32], eta[32];
            format_duration(el, sizeof el, t - t0);
            format_duration(eta, sizeof eta, (double)(o->steps - s - 1) * B / (rate > 0 ? rate : 1));
            if (o->progress) {
                fprintf(o->progress, "step %lld/%lld  loss %.4f  lr %.2e  %.0f flows/s  %s elapsed, eta %s\n",
                        (long long)(s + 1), (long long)o->steps, acc / acc_n, (double)ac.lr, rate, el, eta);
                fflush(o->progress);
            }
            acc = 0, acc_n = 0, flows_since = 0, log_t = t;
        }
        res->steps_done = s + 1;
    }
    res->seconds = now_s() - t0;
    res->flows_per_s = res->seconds > 0 ? (double)res->steps_done * B / res->seconds : 0;
    rc = ns_controlnet_save(&ctl, out_path);

done:
    free(grad), free(adam_m), free(adam_v), free(feat), free(chosen), free(crow), free(mask);
    ns_controlnet_acts_free(cacts);
    ns_model_acts_free(acts);
    batch_free(&bt);
    sampler_free(&smp);
    ns_controlnet_free(&ctl);
    return rc;
}
