/* generate.c: prompted sampling and writing the results (see generate.h). */
#include "netsynth/generate.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "netsynth/blas.h"
#include "netsynth/capture.h"
#include "netsynth/error.h"
#include "netsynth/fileio.h"
#include "netsynth/nprint.h"
#include "netsynth/rng.h"

enum { W = NS_NP_MODEL_WIDTH };

void ns_gen_opts_init(ns_gen_opts *o)
{
    o->sampler.kind = NS_SAMPLER_DPMPP_2M;
    o->sampler.steps = 8; /* as good as 20 on the IoT corpus (BENCHMARK.md, Fidelity) */
    o->sampler.eta = 0;
    o->guidance = 2.0f;
    o->guided_steps = 0;
    o->seed = 1;
    o->batch = 0;
    o->length = 0;
    o->length_guidance = 1.0f;
    o->fix = NULL;
    o->controlnet = NULL;
    o->control = NULL;
    o->control_scale = 1.0f;
    o->control_hard = 1;
}

void ns_gen_flows_free(ns_gen_flows *g)
{
    free(g->len), free(g->first), free(g->labels), free(g->rows), free(g->dir), free(g->iat_ns);
    memset(g, 0, sizeof *g);
}

/* Room for `flows` more flows and `rows` more rows. */
static int reserve(ns_gen_flows *g, size_t flows, size_t rows)
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

/* ---- constraints -------------------------------------------------------- */

void ns_gen_fix_init(ns_gen_fix *f)
{
    f->n = 0;
    memset(f->col, NS_GEN_FREE, sizeof f->col);
}

/* Column c of direction d takes v, when it agrees with what is there. */
static int fix_put(ns_gen_fix *f, int d, int c, int v)
{
    int8_t *at = &f->col[d][c];
    if (*at == NS_GEN_FREE || *at == v || (*at == NS_GEN_PRESENT && v >= 0)) *at = (int8_t)v;
    else if (!(v == NS_GEN_PRESENT && *at >= 0)) return 0;
    return 1;
}

/* The same value v in width columns from c, both directions; 0 on a contradiction. */
static int fix_span(ns_gen_fix *f, int c, int width, int v)
{
    int ok = 1;
    for (int d = 0; d < 2; d++)
        for (int k = 0; k < width; k++) ok &= fix_put(f, d, c + k, v);
    return ok;
}

/* The number `value` in width columns from c (most significant first) of direction d. */
static int fix_number(ns_gen_fix *f, int d, int c, int width, uint64_t value)
{
    int ok = 1;
    for (int k = 0; k < width; k++) {
        int shift = width - 1 - k;
        ok &= fix_put(f, d, c + k, shift < 64 ? (int)(value >> shift & 1) : 0);
    }
    return ok;
}

/* IPv4 with this transport: its fixed header present, the others absent. */
static int fix_proto(ns_gen_fix *f, int proto)
{
    static const struct { int col, bits, proto, fixed_bits; } l4[3] = {
        {NS_NP_COL_TCP, NS_NP_BITS_TCP, NS_PROTO_TCP, NS_NP_COL_TCP_OPT - NS_NP_COL_TCP},
        {NS_NP_COL_UDP, NS_NP_BITS_UDP, NS_PROTO_UDP, NS_NP_BITS_UDP},
        {NS_NP_COL_ICMP, NS_NP_BITS_ICMP, NS_PROTO_ICMP, NS_NP_BITS_ICMP}};
    int ok = fix_span(f, NS_NP_COL_IPV4, NS_NP_COL_IPV4_OPT - NS_NP_COL_IPV4, NS_GEN_PRESENT);
    for (int d = 0; d < 2; d++) ok &= fix_number(f, d, NS_NP_COL_IPV4_PROTO, NS_NP_BITS_IPV4_PROTO, (uint64_t)proto);
    for (int i = 0; i < 3; i++) {
        if (l4[i].proto == proto) ok &= fix_span(f, l4[i].col, l4[i].fixed_bits, NS_GEN_PRESENT);
        else ok &= fix_span(f, l4[i].col, l4[i].bits, -1);
    }
    return ok;
}

static int parse_proto(const char *v)
{
    return !strcmp(v, "tcp") || !strcmp(v, "6") ? 6 : !strcmp(v, "udp") || !strcmp(v, "17") ? 17
           : !strcmp(v, "icmp") || !strcmp(v, "1") ? 1 : -1;
}

int ns_gen_fix_add(ns_gen_fix *f, const char *text)
{
    static const ns_nprint_field_id by_repair[] = {NS_NPF_IPV4_SRC,   NS_NPF_IPV4_DST,  NS_NPF_IPV4_CKSUM,
                                                   NS_NPF_TCP_CKSUM,  NS_NPF_UDP_CKSUM, NS_NPF_ICMP_CKSUM,
                                                   NS_NPF_TCP_SPRT,   NS_NPF_UDP_SPORT};
    const char *eq = strchr(text, '=');
    if (!eq || eq == text || !eq[1])
        return ns_error(NS_EARG, "--fix %s: expected FIELD=VALUE, e.g. tcp_dprt=443 or proto=udp", text);
    char name[64];
    snprintf(name, sizeof name, "%.*s", (int)(eq - text) < 63 ? (int)(eq - text) : 63, text);
    const char *value = eq + 1;
    ns_gen_fix next = *f;
    int ok;
    if (!strcmp(name, "proto")) {
        int proto = parse_proto(value);
        if (proto < 0) return ns_error(NS_EARG, "--fix %s: proto is tcp, udp or icmp", text);
        ok = fix_proto(&next, proto);
    } else {
        int id = ns_nprint_field_find(name);
        int col = id < 0 ? -1 : ns_nprint_field_col(NS_NP_MODEL_LAYERS, id);
        if (col < 0) return ns_error(NS_EARG, "--fix %s: no field '%s' in the model's rows (ipv4, tcp, udp, icmp)", text, name);
        size_t n;
        const ns_nprint_field *fd = &ns_nprint_fields(&n)[id];
        for (size_t i = 0; i < sizeof by_repair / sizeof by_repair[0]; i++)
            if (id == (int)by_repair[i])
                return ns_error(NS_EARG, "--fix %s: repair sets %s itself (addresses from --client-net/--server-net, "
                                         "checksums, the client's ephemeral port)", text, name);
        char *end;
        errno = 0;
        int hex = value[0] == '0' && (value[1] == 'x' || value[1] == 'X');
        unsigned long long v = strtoull(value, &end, hex ? 16 : 10);
        if (end == value || *end || errno || value[0] == '-')
            return ns_error(NS_EARG, "--fix %s: '%s' is not a number", text, value);
        if (fd->width < 64 && v >> fd->width)
            return ns_error(NS_EARG, "--fix %s: %llu does not fit %s's %d bits", text, v, name, fd->width);
        if (id == NS_NPF_IPV4_TTL && !v) return ns_error(NS_EARG, "--fix %s: a packet with TTL 0 is never sent", text);
        if (id == NS_NPF_IPV4_VER && v != 4) return ns_error(NS_EARG, "--fix %s: the model's rows are IPv4", text);
        ok = fd->layer == NS_NP_TCP ? fix_proto(&next, NS_PROTO_TCP) : fd->layer == NS_NP_UDP ? fix_proto(&next, NS_PROTO_UDP)
             : fd->layer == NS_NP_ICMP ? fix_proto(&next, NS_PROTO_ICMP)
             : fix_span(&next, NS_NP_COL_IPV4, NS_NP_COL_IPV4_OPT - NS_NP_COL_IPV4, NS_GEN_PRESENT);
        /* A server->client row has the server's port as its source. */
        int back = id == NS_NPF_TCP_DPRT ? NS_NP_COL_TCP_SPRT : id == NS_NPF_UDP_DPORT ? NS_NP_COL_UDP_SPORT : col;
        ok &= fix_number(&next, 0, col, fd->width, v) & fix_number(&next, 1, back, fd->width, v);
    }
    if (!ok) return ns_error(NS_EARG, "--fix %s contradicts an earlier --fix", text);
    next.n++;
    *f = next;
    return NS_OK;
}

/* The modelled values a constraint clamps, per direction. */
typedef struct clamp {
    int n[2];
    int j[2][NS_NP_MODEL_WIDTH];     /* value index (repr cols) */
    int8_t v[2][NS_NP_MODEL_WIDTH];
    int jof[NS_NP_MODEL_WIDTH];      /* column -> value index, or -1 when constant */
} clamp;

static void clamp_init(clamp *cl, const ns_gen_fix *fix, const ns_repr *r)
{
    for (int c = 0; c < NS_NP_MODEL_WIDTH; c++) cl->jof[c] = -1;
    for (int j = 0; j < r->n_bits; j++) cl->jof[r->cols[j]] = j;
    for (int d = 0; d < 2; d++) {
        cl->n[d] = 0;
        for (int c = 0; fix && c < NS_NP_MODEL_WIDTH; c++)
            if (fix->col[d][c] != NS_GEN_FREE && cl->jof[c] >= 0)
                cl->j[d][cl->n[d]] = cl->jof[c], cl->v[d][cl->n[d]++] = fix->col[d][c];
    }
}

/* Inpainting: the clamped values of an x_0 estimate row (direction from its own channel) set to their encodings. */
static void clamp_x0(const clamp *cl, int K, float *x)
{
    int d = x[2 * K + 1] > 0;
    for (int i = 0; i < cl->n[d]; i++) {
        int j = cl->j[d][i], v = cl->v[d][i];
        x[2 * j] = v == -1 ? -1.0f : 1.0f;
        if (v != NS_GEN_PRESENT) x[2 * j + 1] = v == 1 ? 1.0f : v == 0 ? -1.0f : 0.0f;
    }
}

/* The constraints on a decoded row; a "present" value decoded absent takes its likelier bit. */
static void clamp_row(const clamp *cl, const ns_gen_fix *fix, const float *out, int8_t *row, int d)
{
    for (int c = 0; c < NS_NP_MODEL_WIDTH; c++) {
        int v = fix->col[d][c], j = cl->jof[c];
        if (v == NS_GEN_FREE || (v == NS_GEN_PRESENT && row[c] >= 0)) continue;
        if (v == NS_GEN_PRESENT) row[c] = (int8_t)(j >= 0 && out[3 * j + 2] > out[3 * j + 1]);
        else row[c] = (int8_t)v;
    }
}

/* Holding rows to their control maps (ns_gen_opts.control_hard): a clamp
 * per transport, and the TCP flag columns' value indices. */
typedef struct hard_ctl {
    ns_gen_fix fix[3];               /* tcp, udp, icmp */
    clamp cl[3];
    int flag_col;                    /* tcp_cwr's column; FIN is 7 later */
} hard_ctl;

static void hard_init(hard_ctl *h, const ns_repr *r)
{
    static const int protos[3] = {NS_PROTO_TCP, NS_PROTO_UDP, NS_PROTO_ICMP};
    for (int i = 0; i < 3; i++) {
        ns_gen_fix_init(&h->fix[i]);
        fix_proto(&h->fix[i], protos[i]);
        clamp_init(&h->cl[i], &h->fix[i], r);
    }
    h->flag_col = NS_NP_COL_TCP_CWR;
}

static int hard_index(const ns_control_row *m) { return m->proto == 6 ? 0 : m->proto == 17 ? 1 : m->proto == 1 ? 2 : -1; }

/* The x_0 estimate of one row held to its map row. */
static void hard_x0(const hard_ctl *h, const ns_control_row *m, int K, float *x)
{
    x[2 * K + 1] = m->dir ? 1.0f : -1.0f;
    int i = hard_index(m);
    if (i < 0) return;
    clamp_x0(&h->cl[i], K, x);
    for (int k = 0; i == 0 && k < 8; k++) {
        int j = h->cl[0].jof[h->flag_col + k];
        if (j >= 0) x[2 * j] = 1.0f, x[2 * j + 1] = m->flags >> (7 - k) & 1 ? 1.0f : -1.0f;
    }
}

/* A decoded row held to its map row. */
static void hard_row(const hard_ctl *h, const ns_control_row *m, const float *out, int8_t *row, uint8_t *dir)
{
    *dir = m->dir;
    int i = hard_index(m);
    if (i < 0) return;
    clamp_row(&h->cl[i], &h->fix[i], out, row, m->dir);
    for (int k = 0; i == 0 && k < 8; k++) row[h->flag_col + k] = (int8_t)(m->flags >> (7 - k) & 1);
}

/* ---- sampling ---------------------------------------------------------- */

typedef struct denoise_ctx {
    const ns_modelfile *m;
    ns_model_acts *acts;
    int B, T, P, guided;
    int step, steps, guided_steps; /* this batch's network call; guidance from steps - guided_steps */
    float guidance;
    int *prompt;          /* [2B, P]: conditional rows, then unconditional (all -1) */
    int *len;             /* [2B] */
    float *t;             /* [2B] */
    float *x_in;          /* [B, T, in]: the sampler's state, the network's input for both halves
                           * ([2B, T, in] with a control branch, whose input is not shared) */
    float *out;           /* [B, T, out] guided outputs of the latest call */
    const clamp *cl;      /* NULL, or values to hold */
    const ns_controlnet *ctl;     /* NULL, or a control branch: */
    ns_controlnet_acts *cacts;
    float *feat;                  /* [2B, T, NS_CONTROL_FEATURES] */
    float scale;
    const hard_ctl *hard;         /* NULL, or rows held to: */
    const ns_control_row **map;   /* [B] each flow's map rows */
} denoise_ctx;

/* The sampler's network: x_t -> guided outputs -> expected x_0. */
static int denoise(void *vctx, float *x0, const float *x_t, double t, size_t n)
{
    denoise_ctx *c = vctx;
    const ns_model_config *cfg = &c->m->cfg;
    /* Unguided steps (before the last guided_steps) run the conditional half alone. */
    int guided = c->guided && (c->guided_steps <= 0 || c->step >= c->steps - c->guided_steps);
    c->step++;
    int B = c->B, T = c->T, in = cfg->in_dim, BB = guided ? 2 * B : B;
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
        ns_model_acts_share_input(c->acts, guided);
        ns_model_forward(NULL, c->acts, &c->m->p, cfg, c->x_in, c->t, c->prompt, c->P, c->len, BB, T, NULL);
    }
    const float *raw = ns_model_output(c->acts);
    /* Guidance and the expectation in one pass over the outputs. */
    ns_repr_expect_guided(&c->m->repr, x0, c->out, raw, guided ? raw + per : NULL, c->guidance, rows);
    if (c->cl)
        for (int b = 0; b < B; b++)
            for (int r = 0; r < c->len[b]; r++) clamp_x0(c->cl, c->m->repr.n_bits, x0 + ((size_t)b * T + r) * in);
    if (c->hard)
        for (int b = 0; b < B; b++)
            for (int r = 0; r < c->len[b]; r++) hard_x0(c->hard, &c->map[b][r], c->m->repr.n_bits, x0 + ((size_t)b * T + r) * in);
    for (int b = 0; b < B; b++) /* rows past a flow's end stay empty */
        memset(x0 + ((size_t)b * T + c->len[b]) * in, 0, (size_t)(T - c->len[b]) * in * sizeof(float));
    return NS_OK;
}

/* Draw a length 1..T from logits[T] with u in [0, 1). */
static int draw_length(const float *logits, int T, double u)
{
    double m = logits[0], s = 0;
    for (int k = 1; k < T; k++) m = fmax(m, logits[k]);
    for (int k = 0; k < T; k++) s += exp(logits[k] - m);
    double acc = 0;
    for (int k = 0; k < T; k++) {
        acc += exp(logits[k] - m) / s;
        if (u < acc) return k + 1;
    }
    return T;
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
    int T = cfg->max_packets, P = (int)m->n_attrs;
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
typedef struct weight_shape {
    const float *w;
    int N, K;
} weight_shape;

static int pack_weights(const ns_model_params *p, const ns_model_config *c, int pack)
{
    int d = c->d, h = d * c->mlp_ratio, n = 0;
    weight_shape w[5 + 5 * NS_MODEL_MAX_LAYERS];
    w[n++] = (weight_shape){p->in_w, d, c->in_dim};
    w[n++] = (weight_shape){p->t1_w, d, d};
    w[n++] = (weight_shape){p->t2_w, d, d};
    w[n++] = (weight_shape){p->fada_w, 2 * d, d};
    for (int l = 0; l < c->n_layer; l++) {
        w[n++] = (weight_shape){p->ada_w[l], 6 * d, d};
        w[n++] = (weight_shape){p->qkv_w[l], 3 * d, d};
        w[n++] = (weight_shape){p->proj_w[l], d, d};
        w[n++] = (weight_shape){p->fc_w[l], h, d};
        w[n++] = (weight_shape){p->fc2_w[l], d, h};
    }
    w[n++] = (weight_shape){p->out_w, c->out_dim, d};
    if (!pack) {
        for (int i = 0; i < n; i++) ns_blas_unpack_weight(w[i].w);
        return NS_OK;
    }
    for (int i = 0; i < n; i++) {
        int rc = ns_blas_pack_weight(w[i].w, w[i].N, w[i].K);
        if (rc) {
            while (i--) ns_blas_unpack_weight(w[i].w);
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
    free(w->c.prompt), free(w->c.len), free(w->c.t), free(w->c.x_in), free(w->c.out), free(w->scratch);
    memset(w, 0, sizeof *w);
}

static int worker_new(worker *w, const ns_modelfile *m, const ns_gen_opts *o, const clamp *cl, const hard_ctl *hard,
                      int Bmax)
{
    const ns_model_config *cfg = &m->cfg;
    int P = (int)m->n_attrs, in = cfg->in_dim, od = cfg->out_dim;
    size_t N = (size_t)Bmax * cfg->max_packets;
    memset(w, 0, sizeof *w);
    denoise_ctx *c = &w->c;
    *c = (denoise_ctx){.m = m, .P = P, .guided = o->guidance != 1.0f, .guidance = o->guidance, .cl = cl,
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
    w->scratch = malloc(3 * N * in * sizeof(float));
    if (!c->prompt || !c->len || !c->t || !c->x_in || !c->out || !w->scratch || (ctl && (!c->feat || !c->map))) {
        worker_free(w);
        return ns_error(NS_ENOMEM, "out of memory for sampling");
    }
    int rc = ns_model_acts_new(&c->acts, cfg, 2 * Bmax, cfg->max_packets);
    if (!rc && ctl) rc = ns_controlnet_acts_new(&c->cacts, cfg, o->controlnet->n_blocks, 2 * Bmax, cfg->max_packets);
    if (rc) worker_free(w);
    return rc;
}

/* Denoise the B flows order[at..at+B) and decode them into out's rows. */
static int sample_batch(worker *w, const ns_gen_opts *o, const int32_t *ids, const by_len *order, size_t at,
                        size_t B, ns_rng *rngs, ns_gen_flows *out, size_t f0)
{
    denoise_ctx *c = &w->c;
    const ns_modelfile *m = c->m;
    int P = c->P, in = m->cfg.in_dim, od = m->cfg.out_dim, Tb = order[at + B - 1].len;
    float *x = c->x_in; /* the sampler's state */
    c->B = (int)B, c->T = Tb;
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
    for (int b = 0; b < (int)B; b++) {
        size_t i = order[at + (size_t)b].index, row = out->first[f0 + i];
        for (int r = 0; r < c->len[b]; r++, row++) {
            const float *o_r = c->out + ((size_t)b * Tb + r) * od;
            ns_repr_decode_row(&m->repr, o_r, out->rows + row * W, &out->dir[row], &out->iat_ns[row]);
            if (c->cl) clamp_row(c->cl, o->fix, o_r, out->rows + row * W, out->dir[row]);
            if (c->hard) hard_row(c->hard, &c->map[b][r], o_r, out->rows + row * W, &out->dir[row]);
        }
        out->iat_ns[out->first[f0 + i]] = 0; /* a flow's first packet has no predecessor */
    }
    return NS_OK;
}

int ns_generate_many(const ns_modelfile *m, const ns_gen_opts *o, const int32_t *ids, size_t n, uint64_t stream0,
                     ns_gen_flows *out)
{
    const ns_model_config *cfg = &m->cfg;
    int T = cfg->max_packets, P = (int)m->n_attrs, Bmax = o->batch > 0 ? o->batch : 64;
    out->n_attrs = m->n_attrs;
    if (!n) return NS_OK;

    clamp *cl = o->fix && o->fix->n ? malloc(sizeof *cl) : NULL;
    if (cl) clamp_init(cl, o->fix, &m->repr);
    const ns_control_maps *maps = o->controlnet && o->control && o->control->n_maps ? o->control : NULL;
    hard_ctl *hard = maps && o->control_hard ? malloc(sizeof *hard) : NULL;
    if (hard) hard_init(hard, &m->repr);
    by_len *order = malloc(n * sizeof *order);
    ns_rng *rngs = malloc(n * sizeof *rngs);
    float *logits = malloc(n * (size_t)T * sizeof *logits);
    size_t *batch_at = malloc((n + 1) * sizeof *batch_at);
    int threads = omp_get_max_threads(), n_workers = 1;
    worker *workers = calloc((size_t)threads, sizeof *workers);
    int rc = NS_OK, packed = 0;
    if ((o->fix && o->fix->n && !cl) || (maps && o->control_hard && !hard) || !order || !rngs || !logits || !batch_at || !workers) {
        rc = ns_error(NS_ENOMEM, "out of memory for sampling");
        goto done;
    }
    if ((rc = worker_new(&workers[0], m, o, cl, hard, Bmax))) goto done;
    if ((rc = pack_weights(&m->p, cfg, 1))) goto done;
    packed = 1;

    length_logits(logits, workers[0].c.acts, workers[0].c.prompt, 2 * Bmax, m, o, ids, n);
    size_t total_rows = 0;
    for (size_t i = 0; i < n; i++) {
        ns_rng_seed(&rngs[i], o->seed, stream0 + i);
        double u = ns_rng_double(&rngs[i]); /* drawn always, so --length leaves the noise as it was */
        order[i].len = o->length > 0 ? (o->length < T ? o->length : T) : draw_length(logits + i * T, T, u);
        if (maps) /* the map decides the length */
            order[i].len = (int)maps->len[i % maps->n_maps] < T ? (int)maps->len[i % maps->n_maps] : T;
        order[i].index = i;
        total_rows += (size_t)order[i].len;
    }
    if ((rc = reserve(out, n, total_rows))) goto done;
    size_t f0 = out->n_flows, r0 = out->n_rows;
    for (size_t i = 0, row = r0; i < n; i++) {
        out->first[f0 + i] = row;
        out->len[f0 + i] = (uint32_t)order[i].len;
        for (int a = 0; a < P; a++) out->labels[(f0 + i) * P + a] = ids[i * P + a];
        row += (size_t)order[i].len;
    }
    qsort(order, n, sizeof *order, cmp_len);

    /* Batches of up to Bmax flows (by default: up to NS_GEN_BATCH_ROWS rows)
     * whose lengths are within a factor of two (sorted, so the last is the
     * longest): little padding to compute. */
    size_t n_batches = 0;
    for (size_t at = 0, B; at < n; at += B) {
        for (B = 1; B < (size_t)Bmax && at + B < n && order[at + B].len <= 2 * order[at].len; B++)
            if (o->batch <= 0 && (B + 1) * (size_t)order[at + B].len > NS_GEN_BATCH_ROWS) break;
        batch_at[n_batches++] = at;
    }
    batch_at[n_batches] = n;

    /* Small batches, one per thread at a time: a batch's activations then
     * stay in the core's cache, where the products of one large batch
     * split over the threads went to memory and back (measured: 1.5x).
     * A batch gives the same flows whichever thread takes it. With fewer
     * batches than threads, one at a time, each product split instead. */
    if (n_batches >= (size_t)threads && threads > 1) {
        for (n_workers = 1; n_workers < threads; n_workers++)
            if ((rc = worker_new(&workers[n_workers], m, o, cl, hard, Bmax))) goto done;
    }
    char why[1024] = "";
#pragma omp parallel for schedule(dynamic, 1) num_threads(n_workers) if (n_workers > 1)
    for (size_t k = 0; k < n_batches; k++) {
        int brc;
#pragma omp atomic read
        brc = rc;
        if (brc) continue;
        worker *w = &workers[n_workers > 1 ? omp_get_thread_num() : 0];
        brc = sample_batch(w, o, ids, order, batch_at[k], batch_at[k + 1] - batch_at[k], rngs, out, f0);
        if (brc) {
#pragma omp critical(generate_error)
            if (!rc) {
                snprintf(why, sizeof why, "%s", ns_errmsg());
#pragma omp atomic write
                rc = brc;
            }
        }
    }
    if (rc) {
        rc = ns_error(rc, "%s", why); /* the message, on the calling thread */
        goto done;
    }
    out->n_flows += n;
    out->n_rows += total_rows;

done:
    if (packed) pack_weights(&m->p, cfg, 0);
    for (int t = 0; workers && t < threads; t++) worker_free(&workers[t]);
    free(workers);
    free(cl), free(hard);
    free(order), free(rngs), free(logits), free(batch_at);
    return rc;
}

/* ---- writing ---------------------------------------------------------- */

int ns_gen_write_dataset(const ns_gen_flows *g, const ns_modelfile *m, const char *source, const char *path)
{
    ns_dataset ds = {0};
    ds.width = W;
    ds.row_bytes = (W + 3) / 4;
    ds.max_packets = (uint32_t)m->cfg.max_packets;
    ds.n_flows = g->n_flows;
    ds.n_packets = g->n_rows;
    ds.n_attrs = m->n_attrs;
    ds.n_tokens = m->n_tokens;
    ds.n_files = 1;
    ds.attr_names = (const char **)m->attr_names;
    ds.attr_first = m->attr_first;
    ds.tokens = (const char **)m->tokens;
    ds.files = &source;
    ns_ds_flow *flows = calloc(g->n_flows + 1, sizeof *flows);
    uint8_t *bits = malloc(g->n_rows * ds.row_bytes + 1);
    int rc = NS_OK;
    if (!flows || !bits) {
        rc = ns_error(NS_ENOMEM, "%s: out of memory", path);
        goto done;
    }
    int64_t clock = 0;
    for (size_t i = 0; i < g->n_flows; i++) {
        ns_ds_flow *f = &flows[i];
        f->first = g->first[i];
        f->n_packets = f->seen = g->len[i];
        f->start_ns = clock;
        clock += 1000000000; /* flows one second apart: they are independent draws */
        /* The protocol and ports as the first row says (blank when it has none). */
        const int8_t *row = g->rows + g->first[i] * W;
        int tcp = row[NS_NP_COL_TCP_SPRT] >= 0, udp = !tcp && row[NS_NP_COL_UDP_SPORT] >= 0;
        f->proto = tcp ? NS_PROTO_TCP : udp ? NS_PROTO_UDP : NS_PROTO_ICMP;
        if (tcp || udp) {
            uint32_t sp = (uint32_t)ns_nprint_get(row, tcp ? NS_NPF_TCP_SPRT : NS_NPF_UDP_SPORT);
            uint32_t dp = (uint32_t)ns_nprint_get(row, tcp ? NS_NPF_TCP_DPRT : NS_NPF_UDP_DPORT);
            int from_server = g->dir[g->first[i]];
            f->client_port = (uint16_t)(from_server ? dp : sp);
            f->server_port = (uint16_t)(from_server ? sp : dp);
        }
    }
    for (size_t k = 0; k < g->n_rows; k++) ns_dataset_pack_row(g->rows + k * W, W, bits + k * ds.row_bytes);
    ds.flows = flows;
    ds.labels = g->labels;
    ds.iat_ns = g->iat_ns;
    ds.dir = g->dir;
    ds.bits = bits;
    rc = ns_dataset_write(&ds, path);
done:
    free(flows);
    free(bits);
    return rc;
}

int ns_gen_write_csv(const ns_gen_flows *g, const char *path)
{
    ns_outfile o;
    int rc = ns_outfile_open(&o, path);
    if (rc) return rc;
    rc = ns_nprint_csv_write_header(o.fp, "flow", 1, NS_NP_MODEL_LAYERS);
    char index[32];
    for (size_t i = 0; i < g->n_flows && !rc; i++) {
        snprintf(index, sizeof index, "%zu", i);
        for (uint32_t r = 0; r < g->len[i] && !rc; r++) {
            size_t k = g->first[i] + r;
            rc = ns_nprint_csv_write_row(o.fp, index, g->iat_ns[k] / 1000, g->rows + k * W, NS_NP_MODEL_LAYERS);
        }
    }
    if (rc) {
        ns_outfile_abort(&o);
        return ns_error_wrap(rc, "%s", path);
    }
    return ns_outfile_commit(&o);
}

void ns_gen_flow_path(char *buf, size_t size, const char *path, size_t i)
{
    const char *slash = strrchr(path, '/'), *base = slash ? slash + 1 : path, *dot = strrchr(base, '.');
    if (!dot || dot == base) snprintf(buf, size, "%s-%zu", path, i);
    else snprintf(buf, size, "%.*s-%zu%s", (int)(dot - path), path, i, dot);
}

/* ---- sets of files, staged ------------------------------------------------ */

/* p without trailing slashes ("/" stays "/"), malloc'd. */
static char *without_slashes(const char *p)
{
    size_t n = strlen(p);
    while (n > 1 && p[n - 1] == '/') n--;
    return strndup(p, n);
}

/* The directory part of path ("." for a bare name), in buf. */
static void dir_of(char *buf, size_t size, const char *path)
{
    const char *slash = strrchr(path, '/');
    if (!slash) snprintf(buf, size, ".");
    else if (slash == path) snprintf(buf, size, "/");
    else snprintf(buf, size, "%.*s", (int)(slash - path), path);
}

/* Make a rename in dir durable (as ns_outfile does for a file). */
static void sync_dir(const char *dir)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY);
    if (fd >= 0) {
        fsync(fd);
        close(fd);
    }
}

/* Remove path: a file, or a directory with everything under it (staging
 * directories hold files, and --per-flow's staging directories of their own). */
static void remove_tree(const char *path, int depth)
{
    DIR *d = depth < 4 ? opendir(path) : NULL;
    if (!d) {
        if (unlink(path) != 0 && errno == EISDIR) rmdir(path);
        return;
    }
    char sub[4096];
    for (struct dirent *e; (e = readdir(d));) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
        snprintf(sub, sizeof sub, "%s/%s", path, e->d_name);
        remove_tree(sub, depth + 1);
    }
    closedir(d);
    rmdir(path);
}

/* A run holds an flock on its staging directory until it ends, so one that
 * can be locked was left by a run that died (kill -9, a crash, power loss):
 * remove those of this stem, and only those ("STEM.tmp." + 6 characters). */
static void remove_stale_stages(const char *base)
{
    char dir[4096];
    dir_of(dir, sizeof dir, base);
    const char *slash = strrchr(base, '/'), *name = slash ? slash + 1 : base;
    size_t n = strlen(name);
    DIR *d = opendir(dir);
    char path[4096 + 258];
    for (struct dirent *e; d && (e = readdir(d));) {
        if (strncmp(e->d_name, name, n) || strncmp(e->d_name + n, ".tmp.", 5) || strlen(e->d_name + n + 5) != 6)
            continue;
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        int fd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0) continue;
        if (flock(fd, LOCK_EX | LOCK_NB) == 0) remove_tree(path, 0);
        close(fd);
    }
    if (d) closedir(d);
}

int ns_gen_stage_open(ns_gen_stage *s, const char *dest, const char *stem, int whole)
{
    memset(s, 0, sizeof *s);
    s->fd = -1;
    struct stat st;
    int there = stat(dest, &st) == 0;
    if (there && !S_ISDIR(st.st_mode)) return ns_error(NS_EIO, "%s: exists and is not a directory", dest);
    if (!there && !whole) return ns_error(NS_EIO, "%s: no such directory", dest);
    char *base = without_slashes(stem ? stem : dest);
    size_t n = base ? strlen(base) + 16 : 0;
    s->dest = without_slashes(dest);
    s->tmp = base ? malloc(n) : NULL;
    s->whole = whole;
    if (!s->dest || !s->tmp) {
        free(base), free(s->dest), free(s->tmp);
        memset(s, 0, sizeof *s);
        return ns_error(NS_ENOMEM, "%s: out of memory", dest);
    }
    remove_stale_stages(base);
    snprintf(s->tmp, n, "%s.tmp.XXXXXX", base);
    free(base);
    if (!mkdtemp(s->tmp)) {
        int rc = ns_error(NS_EIO, "%s: cannot create the staging directory %s: %s", dest, s->tmp, strerror(errno));
        free(s->dest), free(s->tmp);
        memset(s, 0, sizeof *s);
        return rc;
    }
    s->fd = open(s->tmp, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (s->fd >= 0) flock(s->fd, LOCK_EX);
    /* mkdtemp makes it 0700; when renamed into place it is the user's
     * directory, so it gets the mode mkdir would have given it. */
    mode_t mask = umask(0);
    umask(mask);
    chmod(s->tmp, 0777 & ~mask);
    return NS_OK;
}

void ns_gen_stage_path(const ns_gen_stage *s, const char *name, char *buf, size_t size)
{
    snprintf(buf, size, "%s/%s", s->tmp, name);
}

static void stage_free(ns_gen_stage *s)
{
    if (s->fd >= 0) close(s->fd); /* and with it the lock */
    free(s->dest), free(s->tmp);
    memset(s, 0, sizeof *s);
    s->fd = -1;
}

void ns_gen_stage_abort(ns_gen_stage *s)
{
    if (!s->tmp) return;
    remove_tree(s->tmp, 0);
    stage_free(s);
}

int ns_gen_stage_commit(ns_gen_stage *s)
{
    /* One rename when dest is absent or an empty directory of its own (not
     * a link to one: rename would replace the link). */
    struct stat st;
    int whole = s->whole && (lstat(s->dest, &st) != 0 || S_ISDIR(st.st_mode));
    if (whole && rename(s->tmp, s->dest) == 0) {
        char parent[4096];
        dir_of(parent, sizeof parent, s->dest);
        sync_dir(parent);
        stage_free(s);
        return NS_OK;
    }
    if (whole && errno != ENOTEMPTY && errno != EEXIST && errno != EBUSY && errno != EINVAL) {
        int rc = ns_error(NS_EIO, "%s: cannot rename %s to it: %s", s->dest, s->tmp, strerror(errno));
        ns_gen_stage_abort(s);
        return rc;
    }
    /* dest holds other files: ours go in one by one. */
    DIR *d = opendir(s->tmp);
    if (!d) {
        int rc = ns_error(NS_EIO, "%s: cannot read: %s", s->tmp, strerror(errno));
        ns_gen_stage_abort(s);
        return rc;
    }
    int rc = NS_OK;
    char from[4096], to[4096];
    for (struct dirent *e; !rc && (e = readdir(d));) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
        ns_gen_stage_path(s, e->d_name, from, sizeof from);
        snprintf(to, sizeof to, "%s/%s", s->dest, e->d_name);
        if (rename(from, to))
            rc = ns_error(NS_EIO, "%s: cannot move %s into place: %s", to, from, strerror(errno));
    }
    closedir(d);
    sync_dir(s->dest);
    ns_gen_stage_abort(s); /* removes what a failed move left, and the directory */
    return rc;
}

/* Repaired packets, in the order given, as a pcap. */
static int write_frames(const ns_repair_out *r, int linktype, const char *path)
{
    ns_outfile o;
    int rc = ns_outfile_open(&o, path);
    if (rc) return rc;
    ns_pcap_writer w;
    rc = ns_pcap_writer_begin(&w, o.fp, linktype, 0);
    for (size_t i = 0; i < r->n_pkts && !rc; i++) {
        const ns_repair_pkt *p = &r->pkts[i];
        rc = ns_pcap_write(&w, p->ts_ns, r->bytes + p->off, p->len, p->len);
    }
    if (rc) {
        ns_outfile_abort(&o);
        return ns_error_wrap(rc, "%s", path);
    }
    return ns_outfile_commit(&o);
}

int ns_gen_write_pcap(const ns_gen_flows *g, size_t first, size_t count, const ns_repair_opts *ro, int per_flow,
                      const char *path, uint64_t *written, ns_repair_stats *st)
{
    *written = 0;
    int rc = ns_repair_check_opts(ro);
    if (rc) return rc;
    ns_repair_out r = {0};
    char name[4096], staged[4096];
    /* One file per flow: all of them or none (see ns_gen_stage). */
    ns_gen_stage stage = {0};
    const char *slash = strrchr(path, '/'), *base = slash ? slash + 1 : path;
    if (per_flow) {
        char dir[4096];
        dir_of(dir, sizeof dir, path);
        if ((rc = ns_gen_stage_open(&stage, dir, path, 0))) return ns_error_wrap(rc, "%s", path);
    }
    for (size_t i = 0; i < count && !rc; i++) {
        size_t f = first + i, at = g->first[f];
        /* The plan index is the flow's index in g, not in this file: the files
         * of one --per-class/--like directory never share a 5-tuple, so they
         * can be merged (eval's compliance does) without colliding. */
        rc = ns_repair_flow(ro, f, g->rows + at * W, g->dir + at, g->iat_ns + at, g->len[f], &r, st);
        if (rc) rc = ns_error_wrap(rc, "%s", path);
        if (rc || !per_flow) continue;
        ns_gen_flow_path(name, sizeof name, base, i);
        ns_gen_stage_path(&stage, name, staged, sizeof staged);
        rc = write_frames(&r, ro->linktype, staged);
        *written += r.n_pkts;
        ns_repair_out_clear(&r);
    }
    if (!rc && !per_flow && !(rc = ns_repair_merge(&r))) {
        rc = write_frames(&r, ro->linktype, path);
        *written = r.n_pkts;
    }
    ns_repair_out_free(&r);
    if (per_flow && rc) ns_gen_stage_abort(&stage);
    else if (per_flow) rc = ns_gen_stage_commit(&stage);
    return rc;
}
