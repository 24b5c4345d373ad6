/* generate.c: prompted sampling and writing the results (see generate.h). */
#include "netsynth/generate.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "netsynth/capture.h"
#include "netsynth/error.h"
#include "netsynth/fileio.h"
#include "netsynth/nprint.h"
#include "netsynth/rng.h"

enum { W = NS_NP_MODEL_WIDTH };

void ns_gen_opts_init(ns_gen_opts *o)
{
    o->sampler.kind = NS_SAMPLER_DPMPP_2M;
    o->sampler.steps = 20;
    o->sampler.eta = 0;
    o->guidance = 2.0f;
    o->seed = 1;
    o->batch = 64;
    o->length = 0;
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
    float guidance;
    int *prompt;          /* [2B, P]: conditional rows, then unconditional (all -1) */
    int *len;             /* [2B] */
    float *t;             /* [2B] */
    float *x_in;          /* [2B, T, in] */
    float *raw;           /* [2B, T, out] the network's outputs */
    float *out;           /* [B, T, out] guided outputs of the latest call */
} denoise_ctx;

/* The sampler's network: x_t -> guided outputs -> expected x_0. */
static int denoise(void *vctx, float *x0, const float *x_t, double t, size_t n)
{
    denoise_ctx *c = vctx;
    const ns_model_config *cfg = &c->m->cfg;
    int B = c->B, T = c->T, in = cfg->in_dim, od = cfg->out_dim, BB = c->guided ? 2 * B : B;
    size_t rows = (size_t)B * T, per = rows * od;
    memcpy(c->x_in, x_t, n * sizeof(float));
    if (c->guided) memcpy(c->x_in + n, x_t, n * sizeof(float));
    for (int b = 0; b < BB; b++) c->t[b] = (float)t;
    ns_model_forward(c->raw, c->acts, &c->m->p, cfg, c->x_in, c->t, c->prompt, c->P, c->len, BB, T, NULL);
    if (c->guided) {
        const float *cond = c->raw, *uncond = c->raw + per;
        float g = c->guidance;
        for (size_t i = 0; i < per; i++) c->out[i] = uncond[i] + g * (cond[i] - uncond[i]);
    } else {
        memcpy(c->out, c->raw, per * sizeof(float));
    }
    ns_repr_expect(&c->m->repr, x0, c->out, rows);
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
    const ns_model_config *cfg = &m->cfg;
    int Bmax = o->batch > 0 ? o->batch : 64, T = cfg->max_packets, P = (int)m->n_attrs;
    int in = cfg->in_dim, od = cfg->out_dim, guided = o->guidance != 1.0f;
    out->n_attrs = m->n_attrs;
    if (!n) return NS_OK;

    denoise_ctx c = {m, NULL, 0, 0, P, guided, o->guidance, NULL, NULL, NULL, NULL, NULL, NULL};
    by_len *order = malloc(n * sizeof *order);
    ns_rng *rngs = malloc(n * sizeof *rngs);
    float *logits = malloc((size_t)T * sizeof *logits);
    size_t N = (size_t)Bmax * T;
    c.prompt = malloc((size_t)2 * Bmax * (P ? P : 1) * sizeof(int));
    c.len = malloc((size_t)2 * Bmax * sizeof(int));
    c.t = malloc((size_t)2 * Bmax * sizeof(float));
    c.x_in = malloc(2 * N * in * sizeof(float));
    c.raw = malloc(2 * N * od * sizeof(float));
    c.out = malloc(N * od * sizeof(float));
    float *x = malloc(N * in * sizeof(float)), *scratch = malloc(3 * N * in * sizeof(float));
    int rc = NS_OK;
    if (!order || !rngs || !logits || !c.prompt || !c.len || !c.t || !c.x_in || !c.raw || !c.out || !x || !scratch) {
        rc = ns_error(NS_ENOMEM, "out of memory for sampling");
        goto done;
    }
    if ((rc = ns_model_acts_new(&c.acts, cfg, 2 * Bmax, T))) goto done;

    /* Lengths, from the conditional length head. */
    for (int a = 0; a < P; a++) c.prompt[a] = ids[a];
    ns_model_length_logits(logits, c.acts, &m->p, cfg, c.prompt, P, 1);
    size_t total_rows = 0;
    for (size_t i = 0; i < n; i++) {
        ns_rng_seed(&rngs[i], o->seed, stream0 + i);
        double u = ns_rng_double(&rngs[i]); /* drawn always, so --length leaves the noise as it was */
        order[i].len = o->length > 0 ? (o->length < T ? o->length : T) : draw_length(logits, T, u);
        order[i].index = i;
        total_rows += (size_t)order[i].len;
    }
    if ((rc = reserve(out, n, total_rows))) goto done;
    size_t f0 = out->n_flows, r0 = out->n_rows;
    for (size_t i = 0, row = r0; i < n; i++) {
        out->first[f0 + i] = row;
        out->len[f0 + i] = (uint32_t)order[i].len;
        for (int a = 0; a < P; a++) out->labels[(f0 + i) * P + a] = ids[a];
        row += (size_t)order[i].len;
    }
    qsort(order, n, sizeof *order, cmp_len);

    /* Batches of up to Bmax flows whose lengths are within a factor of two
     * (sorted, so the last is the longest): little padding to compute. */
    for (size_t at = 0, B; at < n; at += B) {
        for (B = 1; B < (size_t)Bmax && at + B < n && order[at + B].len <= 2 * order[at].len; B++) {}
        int Tb = order[at + B - 1].len;
        c.B = (int)B, c.T = Tb;
        for (int b = 0; b < (int)B; b++) {
            c.len[b] = c.len[B + (size_t)b] = order[at + (size_t)b].len;
            for (int a = 0; a < P; a++) c.prompt[b * P + a] = ids[a], c.prompt[((int)B + b) * P + a] = -1;
            ns_rng *r = &rngs[order[at + (size_t)b].index];
            float *xb = x + (size_t)b * Tb * in;
            size_t valid = (size_t)c.len[b] * in;
            ns_rng_normals(r, xb, valid);
            memset(xb + valid, 0, ((size_t)Tb * in - valid) * sizeof(float));
        }
        ns_rng batch_rng = rngs[order[at].index]; /* only for eta > 0 */
        rc = ns_diffusion_sample(&m->sched, &o->sampler, denoise, &c, x, B * (size_t)Tb * in, scratch, &batch_rng);
        if (rc) goto done;
        for (int b = 0; b < (int)B; b++) {
            size_t i = order[at + (size_t)b].index, row = out->first[f0 + i];
            for (int r = 0; r < c.len[b]; r++, row++)
                ns_repr_decode_row(&m->repr, c.out + ((size_t)b * Tb + r) * od, out->rows + row * W, &out->dir[row],
                                   &out->iat_ns[row]);
            out->iat_ns[out->first[f0 + i]] = 0; /* a flow's first packet has no predecessor */
        }
    }
    out->n_flows += n;
    out->n_rows += total_rows;

done:
    ns_model_acts_free(c.acts);
    free(order), free(rngs), free(logits), free(c.prompt), free(c.len), free(c.t), free(c.x_in), free(c.raw);
    free(c.out), free(x), free(scratch);
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
        int tcp = ns_nprint_layer_offset(NS_NP_MODEL_LAYERS, NS_NP_TCP);
        int udp = ns_nprint_layer_offset(NS_NP_MODEL_LAYERS, NS_NP_UDP);
        int l4 = row[tcp] >= 0 ? tcp : row[udp] >= 0 ? udp : -1;
        f->proto = l4 == tcp ? 6 : l4 == udp ? 17 : 1;
        if (l4 >= 0) {
            uint32_t sp = 0, dp = 0;
            for (int k = 0; k < 16; k++) sp = sp << 1 | (row[l4 + k] == 1), dp = dp << 1 | (row[l4 + 16 + k] == 1);
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
        return ns_error(rc, "%s: write failed", path);
    }
    return ns_outfile_commit(&o);
}

/* Set `width` bits of row at col to value, most significant first. */
static void put_bits(int8_t *row, int col, int width, uint32_t value)
{
    for (int k = 0; k < width; k++) row[col + k] = (int8_t)(value >> (width - 1 - k) & 1);
}

static uint32_t get_bits(const int8_t *row, int col, int width)
{
    uint32_t v = 0;
    for (int k = 0; k < width; k++) v = v << 1 | (row[col + k] == 1);
    return v;
}

int ns_gen_write_pcap(const ns_gen_flows *g, size_t first, size_t count, int64_t start_ns, const char *path,
                      uint64_t *written, uint64_t *skipped)
{
    const int ip = ns_nprint_layer_offset(NS_NP_MODEL_LAYERS, NS_NP_IPV4);
    const int tcp = ns_nprint_layer_offset(NS_NP_MODEL_LAYERS, NS_NP_TCP);
    const int udp = ns_nprint_layer_offset(NS_NP_MODEL_LAYERS, NS_NP_UDP);
    *written = *skipped = 0;
    ns_outfile o;
    int rc = ns_outfile_open(&o, path);
    if (rc) return rc;
    ns_pcap_writer w;
    rc = ns_pcap_writer_begin(&w, o.fp, NS_LINKTYPE_ETHERNET, 0);
    uint8_t *pkt = malloc(NS_NP_MAX_PACKET);
    int8_t row[W];
    if (!pkt) rc = ns_error(NS_ENOMEM, "out of memory");
    int64_t clock = start_ns;
    for (size_t f = first; f < first + count && !rc; f++) {
        size_t id = f - first;
        uint32_t client = 0x0A000000u | (uint32_t)(1 + id / 16384 % 254);   /* 10.0.0.x */
        uint32_t server = 0xC6336400u | (uint32_t)(1 + id % 254);           /* 198.51.100.x */
        uint32_t cport = 49152 + (uint32_t)(id % 16384);
        const int8_t *r0 = g->rows + g->first[f] * W;
        int l4 = r0[tcp] >= 0 ? tcp : r0[udp] >= 0 ? udp : -1;
        uint32_t sport = l4 >= 0 ? get_bits(r0, l4 + (g->dir[g->first[f]] ? 0 : 16), 16) : 0;
        for (uint32_t k = 0; k < g->len[f] && !rc; k++) {
            size_t at = g->first[f] + k;
            int back = g->dir[at];
            memcpy(row, g->rows + at * W, W);
            if (row[ip] >= 0) {
                put_bits(row, ip + 96, 32, back ? server : client);
                put_bits(row, ip + 128, 32, back ? client : server);
            }
            int l = row[tcp] >= 0 ? tcp : row[udp] >= 0 ? udp : -1;
            if (l >= 0) {
                put_bits(row, l, 16, back ? sport : cport);
                put_bits(row, l + 16, 16, back ? cport : sport);
            }
            clock += k ? (g->iat_ns[at] > 1000 ? g->iat_ns[at] : 1000) : 1000000; /* strictly increasing */
            size_t len;
            if (ns_nprint_row_to_packet(row, NS_NP_MODEL_LAYERS, 1, pkt, &len) != NS_OK) {
                (*skipped)++;
                continue;
            }
            rc = ns_pcap_write(&w, clock, pkt, (uint32_t)len, (uint32_t)len);
            (*written)++;
        }
    }
    free(pkt);
    if (rc) {
        char why[512];
        snprintf(why, sizeof why, "%s", ns_errmsg());
        ns_outfile_abort(&o);
        return ns_error(rc, "%s: write failed: %s", path, why);
    }
    return ns_outfile_commit(&o);
}
