/* lora.c: low-rank adapters (see lora.h). */
#include "netsynth/lora.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "netsynth/blas.h"
#include "netsynth/error.h"
#include "netsynth/fileio.h"
#include "netsynth/rng.h"
#include "filehead.h"
#include "model_block.h"

enum { HEADER = 128, MAX_RANK = 256, MAX_ATTRS = 64, MAX_TOKENS = 1 << 20 };

static const ns_filehead head = {NS_LORA_MAGIC, "adapter file", "netsynth finetune makes those", HEADER, 104, 112,
                                 NS_LORA_VERSION, NS_LORA_VERSION, NULL};

static size_t align8(size_t n) { return (n + 7) & ~(size_t)7; }

/* ---- layout and the adapted matrices ---------------------------------------- */

/* One adapted matrix: W [out, in] and its A [r, in], B [out, r]. */
typedef struct adapted {
    float *w, *a, *b;
    int out, in;
} adapted;

/* The adapted matrices of model slices w (of config c) and adapter slices
 * p; returns their count. */
static int adapted_of(adapted *m, const ns_model_params *w, const ns_lora_params *p, const ns_model_config *c)
{
    ns_model_matrix mat[NS_MODEL_MAX_MATRICES];
    int all = ns_model_matrices(c, mat), n = 0;
    for (int k = 0; k < all; k++)
        if (mat[k].flags & NS_MODEL_MAT_LORA) {
            m[n] = (adapted){ns_model_matrix_of(w, &mat[k]), p->a[n], p->b[n], mat[k].rows, mat[k].cols};
            n++;
        }
    return n;
}

/* The adapter's shape as a model config: enough for the adapted matrices'
 * shapes (not for their places in a model's array). */
static ns_model_config shape_of(const ns_lora *a)
{
    ns_model_config c = {0};
    c.d = a->d, c.n_layer = a->n_layer, c.mlp_ratio = a->mlp_ratio, c.out_dim = a->out_dim;
    return c;
}

size_t ns_lora_layout(ns_lora_params *p, const ns_lora *a, float *mem)
{
    size_t r = (size_t)a->rank, n = 0;
    ns_lora_params dummy;
    if (!p) p = &dummy;
    ns_model_config c = shape_of(a);
    ns_model_matrix mat[NS_MODEL_MAX_MATRICES];
    int all = ns_model_matrices(&c, mat);
    p->n_adapted = 0;
    for (int k = 0; k < all; k++)
        if (mat[k].flags & NS_MODEL_MAT_LORA) {
            NS_CARVE(p->a[p->n_adapted], mem, n, r * (size_t)mat[k].cols);
            NS_CARVE(p->b[p->n_adapted], mem, n, (size_t)mat[k].rows * r);
            p->n_adapted++;
        }
    NS_CARVE(p->emb, mem, n, (size_t)a->n_emb * (size_t)a->d);
    return n;
}

void ns_lora_decay_mask(const ns_lora *a, const ns_model_config *c, uint8_t *mask)
{
    memset(mask, 0, a->n_params);
    ns_model_matrix mat[NS_MODEL_MAX_MATRICES];
    int all = ns_model_matrices(c, mat), k = 0;
    size_t r = (size_t)a->rank;
    for (int i = 0; i < all; i++) {
        if (!(mat[i].flags & NS_MODEL_MAT_LORA)) continue;
        if (mat[i].flags & NS_MODEL_MAT_DECAY) {
            memset(mask + (a->p.a[k] - a->w), 1, r * (size_t)mat[i].cols);
            memset(mask + (a->p.b[k] - a->w), 1, (size_t)mat[i].rows * r);
        }
        k++;
    }
}

void ns_lora_forward(ns_model_params *w, const ns_model_params *w0, const ns_model_config *c, const ns_lora *a)
{
    adapted m[NS_LORA_MAX_ADAPTED], m0[NS_LORA_MAX_ADAPTED];
    int n = adapted_of(m, w, &a->p, c);
    adapted_of(m0, w0, &a->p, c);
    for (int k = 0; k < n; k++) {
        if (m[k].w != m0[k].w) memcpy(m[k].w, m0[k].w, (size_t)m[k].out * m[k].in * sizeof(float));
        /* W[out, in] += s B[out, r] A[r, in] */
        ns_sgemm(false, false, m[k].out, m[k].in, a->rank, a->alpha / (float)a->rank, m[k].b, a->rank, m[k].a,
                 m[k].in, 1.0f, m[k].w, m[k].in);
    }
}

void ns_lora_backward(ns_lora_params *g, const ns_model_params *dw, const ns_model_config *c, const ns_lora *a)
{
    float s = a->alpha / (float)a->rank;
    int r = a->rank;
    adapted m[NS_LORA_MAX_ADAPTED], gm[NS_LORA_MAX_ADAPTED];
    int n = adapted_of(m, dw, &a->p, c); /* m[k].w is dW, m[k].a/b the adapter's A and B */
    adapted_of(gm, dw, g, c);            /* gm[k].a/b their gradients */
    for (int k = 0; k < n; k++) {
        int out = m[k].out, in = m[k].in;
        /* dB[out, r] += s dW[out, in] A^T;  dA[r, in] += s B^T dW */
        ns_sgemm(false, true, out, r, in, s, m[k].w, in, m[k].a, in, 1.0f, gm[k].b, r);
        ns_sgemm(true, false, r, in, out, s, m[k].b, r, m[k].w, in, 1.0f, gm[k].a, in);
    }
}

uint32_t ns_lora_base_crc(const ns_modelfile *base)
{
    return ns_crc32(0, base->weights, base->n_params * sizeof(float));
}

/* ---- building ------------------------------------------------------------------ */

void ns_lora_free(ns_lora *a)
{
    for (uint32_t i = 0; a->attr_names && i < a->n_attrs; i++) free(a->attr_names[i]);
    for (uint32_t i = 0; a->tokens && i < a->n_tokens; i++) free(a->tokens[i]);
    free(a->attr_names), free(a->tokens), free(a->has_emb), free(a->combo_tok), free(a->combo_count), free(a->w);
    free(a->provenance);
    memset(a, 0, sizeof *a);
}

/* Allocate the arrays of a (counts set) and point the weight slices. */
static int alloc_arrays(ns_lora *a)
{
    size_t A = a->n_attrs ? a->n_attrs : 1;
    a->attr_names = calloc(A, sizeof *a->attr_names);
    a->tokens = calloc((size_t)a->n_tokens + 1, sizeof *a->tokens);
    a->has_emb = calloc((size_t)a->n_tokens + 1, 1);
    a->combo_tok = malloc(((size_t)a->n_combos + 1) * A * sizeof *a->combo_tok);
    a->combo_count = calloc((size_t)a->n_combos + 1, sizeof *a->combo_count);
    a->n_params = ns_lora_layout(NULL, a, NULL);
    a->w = calloc(a->n_params + 1, sizeof(float));
    if (!a->attr_names || !a->tokens || !a->has_emb || !a->combo_tok || !a->combo_count || !a->w)
        return ns_error(NS_ENOMEM, "out of memory for an adapter");
    ns_lora_layout(&a->p, a, a->w);
    return NS_OK;
}

int ns_lora_init(ns_lora *a, const ns_modelfile *base, const ns_dataset *ds, int rank, float alpha, uint64_t seed)
{
    memset(a, 0, sizeof *a);
    if (rank < 1 || rank > MAX_RANK || !(alpha > 0))
        return ns_error(NS_EARG, "adapter rank must be 1..%d and alpha positive", MAX_RANK);
    if (base->cfg.groups > 1) /* the adapter file keeps the one-token shapes (shape_of) */
        return ns_error(NS_EARG, "the base model has %d tokens per packet: adapters are for models of one (train the "
                        "base with --groups 1)", base->cfg.groups);
    if (base->cfg.self_cond) /* its fine-tuning would have to train the estimate's pass too */
        return ns_error(NS_EARG, "the base model is self-conditioned: adapters are for models without it (train the "
                        "base with --self-cond 0)");
    /* The data's attributes by the base's index, its tokens by the base's id. */
    if (ds->n_attrs > MAX_ATTRS) return ns_error(NS_EARG, "the fine-tune data has too many attributes");
    int32_t amap[MAX_ATTRS + 1];
    int32_t *base_id = malloc(((size_t)ds->n_tokens + 1) * sizeof *base_id);
    if (!base_id) return ns_error(NS_ENOMEM, "out of memory");
    int rc = ns_modelfile_map_vocab(base, ds, amap, base_id);
    if (rc) {
        free(base_id);
        return ns_error_wrap(NS_EARG, "the fine-tune data");
    }
    /* The tokens the data uses, in the data's id order. */
    int32_t *idx = malloc(((size_t)ds->n_tokens + 1) * sizeof *idx);
    if (!idx) {
        free(base_id);
        return ns_error(NS_ENOMEM, "out of memory");
    }
    for (uint32_t i = 0; i < ds->n_tokens; i++) idx[i] = -1;
    for (uint64_t i = 0; i < ds->n_flows * ds->n_attrs; i++)
        if (ds->labels[i] >= 0) idx[ds->labels[i]] = 0;
    for (uint32_t i = 0; i < ds->n_tokens; i++)
        if (!idx[i]) {
            idx[i] = (int32_t)a->n_tokens++;
            a->n_emb += base_id[i] < 0 || !ns_modelfile_token_trained(base, base_id[i]);
        }
    /* Label combinations, in the base's attribute order and the adapter's token ids. */
    size_t A = base->n_attrs;
    int32_t *combo = NULL;
    uint32_t *count = NULL, n_combos = 0;
    if ((rc = ns_dataset_combos(ds, amap, idx, base->n_attrs, &combo, &count, &n_combos))) {
        free(idx), free(base_id);
        return rc;
    }
    a->rank = rank, a->alpha = alpha;
    a->d = base->cfg.d, a->n_layer = base->cfg.n_layer, a->mlp_ratio = base->cfg.mlp_ratio;
    a->out_dim = base->cfg.out_dim;
    a->base_crc = ns_lora_base_crc(base);
    a->n_attrs = base->n_attrs;
    a->n_combos = n_combos;
    rc = alloc_arrays(a);
    for (uint32_t i = 0; !rc && i < base->n_attrs; i++)
        if (!(a->attr_names[i] = strdup(base->attr_names[i]))) rc = ns_error(NS_ENOMEM, "out of memory");
    uint32_t e = 0;
    for (uint32_t i = 0; !rc && i < ds->n_tokens; i++) {
        if (idx[i] < 0) continue;
        if (!(a->tokens[idx[i]] = strdup(ds->tokens[i]))) {
            rc = ns_error(NS_ENOMEM, "out of memory");
            break;
        }
        if (base_id[i] >= 0 && ns_modelfile_token_trained(base, base_id[i])) continue;
        a->has_emb[idx[i]] = 1;
        /* Start where an average value of its attribute sits. */
        int attr = amap[ns_dataset_token_attr(ds, (int32_t)i)];
        float *row = a->p.emb + (size_t)e++ * a->d;
        int n = 0;
        for (uint32_t t = base->attr_first[attr]; t < base->attr_first[attr + 1]; t++) {
            if (!ns_modelfile_token_trained(base, (int32_t)t)) continue;
            for (int j = 0; j < a->d; j++) row[j] += base->p.prompt[(size_t)t * a->d + j];
            n++;
        }
        for (int j = 0; n && j < a->d; j++) row[j] /= (float)n;
    }
    if (!rc) {
        memcpy(a->combo_tok, combo, (size_t)n_combos * A * sizeof *combo);
        memcpy(a->combo_count, count, n_combos * sizeof *count);
        /* A: uniform in +-1/sqrt(in) (fan-in scaled); B stays 0. */
        ns_rng r;
        ns_rng_seed(&r, seed, 0x10ba);
        adapted m[NS_LORA_MAX_ADAPTED];
        int n = adapted_of(m, &base->p, &a->p, &base->cfg);
        for (int k = 0; k < n; k++) {
            float bound = 1.0f / sqrtf((float)m[k].in);
            for (size_t j = 0; j < (size_t)rank * m[k].in; j++) m[k].a[j] = (2 * ns_rng_float(&r) - 1) * bound;
        }
    }
    free(idx), free(base_id), free(combo), free(count);
    if (rc) ns_lora_free(a);
    return rc;
}

/* ---- merging ------------------------------------------------------------------- */

/* The attribute of "attr=value" among names[n], or -1. */
static int attr_of_token(char *const *names, uint32_t n, const char *token)
{
    const char *eq = strchr(token, '=');
    for (uint32_t a = 0; eq && a < n; a++)
        if (strlen(names[a]) == (size_t)(eq - token) && !strncmp(names[a], token, (size_t)(eq - token)))
            return (int)a;
    return -1;
}

static int check_belongs(const ns_lora *a, const ns_modelfile *base, uint32_t crc, const char *name)
{
    if (a->d != base->cfg.d || a->n_layer != base->cfg.n_layer || a->mlp_ratio != base->cfg.mlp_ratio ||
        a->out_dim != base->cfg.out_dim ||
        a->n_attrs != base->n_attrs)
        return ns_error(NS_EARG, "%s: an adapter for a model of another shape (d=%d, %d layers)", name, a->d,
                        a->n_layer);
    for (uint32_t i = 0; i < a->n_attrs; i++)
        if (strcmp(a->attr_names[i], base->attr_names[i]))
            return ns_error(NS_EARG, "%s: an adapter for a model with other attributes ('%s')", name,
                            a->attr_names[i]);
    if (a->base_crc != crc)
        return ns_error(NS_EARG, "%s: an adapter for another base model (its base's weights have CRC %08x, this "
                                 "model's %08x)", name, a->base_crc, crc);
    return NS_OK;
}

int ns_lora_merge(ns_modelfile *out, const ns_modelfile *base, const ns_lora *const *a, const char *const *names,
                  int n)
{
    memset(out, 0, sizeof *out);
    uint32_t crc = ns_lora_base_crc(base), A = base->n_attrs, n_new = 0;
    for (int k = 0; k < n; k++) {
        int rc = check_belongs(a[k], base, crc, names ? names[k] : "adapter");
        if (rc) return rc;
        for (uint32_t t = 0; t < a[k]->n_tokens; t++) {
            if (!a[k]->has_emb[t]) continue;
            for (int j = 0; j < k; j++)
                for (uint32_t u = 0; u < a[j]->n_tokens; u++)
                    if (a[j]->has_emb[u] && !strcmp(a[j]->tokens[u], a[k]->tokens[t]))
                        return ns_error(NS_EARG, "%s and %s both teach '%s'; load one of them",
                                        names ? names[j] : "an adapter", names ? names[k] : "another",
                                        a[k]->tokens[t]);
            n_new += ns_modelfile_token(base, a[k]->tokens[t]) < 0;
        }
    }
    out->cfg = base->cfg;
    out->cfg.vocab = (int32_t)(base->n_tokens + n_new);
    out->sched = base->sched, out->repr = base->repr, out->data_max_packets = base->data_max_packets;
    out->n_attrs = A, out->n_tokens = base->n_tokens + n_new;
    int rc = ns_modelfile_alloc(out, 0);
    out->attr_names = calloc(A + 1, sizeof *out->attr_names);
    out->attr_first = calloc(A + 1, sizeof *out->attr_first);
    out->tokens = calloc((size_t)out->n_tokens + 1, sizeof *out->tokens);
    int32_t *remap = malloc(((size_t)base->n_tokens + 1) * sizeof *remap);
    if (!rc && (!out->attr_names || !out->attr_first || !out->tokens || !remap))
        rc = ns_error(NS_ENOMEM, "out of memory");

    /* Vocabulary: each attribute's base tokens, then the new ones. */
    uint32_t id = 0;
    for (uint32_t at = 0; !rc && at < A; at++) {
        out->attr_first[at] = id;
        if (!(out->attr_names[at] = strdup(base->attr_names[at]))) rc = ns_error(NS_ENOMEM, "out of memory");
        for (uint32_t t = base->attr_first[at]; !rc && t < base->attr_first[at + 1]; t++) {
            remap[t] = (int32_t)id;
            if (!(out->tokens[id++] = strdup(base->tokens[t]))) rc = ns_error(NS_ENOMEM, "out of memory");
        }
        for (int k = 0; !rc && k < n; k++)
            for (uint32_t t = 0; !rc && t < a[k]->n_tokens; t++)
                if (a[k]->has_emb[t] && ns_modelfile_token(base, a[k]->tokens[t]) < 0 &&
                    attr_of_token(base->attr_names, A, a[k]->tokens[t]) == (int)at)
                    if (!(out->tokens[id++] = strdup(a[k]->tokens[t]))) rc = ns_error(NS_ENOMEM, "out of memory");
    }
    if (!rc) out->attr_first[A] = id;

    /* Weights: everything but the prompt table is where it was. */
    if (!rc) {
        size_t d = (size_t)base->cfg.d, pre = (size_t)(base->p.prompt - base->weights);
        size_t after_base = pre + base->n_tokens * d, after_out = pre + out->n_tokens * d;
        memcpy(out->weights, base->weights, pre * sizeof(float));
        memcpy(out->weights + after_out, base->weights + after_base, (base->n_params - after_base) * sizeof(float));
        for (uint32_t t = 0; t < base->n_tokens; t++)
            memcpy(out->p.prompt + (size_t)remap[t] * d, base->p.prompt + t * d, d * sizeof(float));
        for (int k = 0; k < n; k++) {
            for (uint32_t t = 0, e = 0; t < a[k]->n_tokens; t++)
                if (a[k]->has_emb[t])
                    memcpy(out->p.prompt + (size_t)ns_modelfile_token(out, a[k]->tokens[t]) * d,
                           a[k]->p.emb + (size_t)e++ * d, d * sizeof(float));
            ns_lora_forward(&out->p, &out->p, &out->cfg, a[k]);
        }
    }

    /* Label combinations: the base's, then each adapter's. */
    uint32_t n_combos = base->n_combos;
    for (int k = 0; k < n; k++) n_combos += a[k]->n_combos;
    out->combo_ids = malloc(((size_t)n_combos + 1) * (A ? A : 1) * sizeof *out->combo_ids);
    out->combo_count = malloc(((size_t)n_combos + 1) * sizeof *out->combo_count);
    if (!rc && (!out->combo_ids || !out->combo_count)) rc = ns_error(NS_ENOMEM, "out of memory");
    if (!rc) {
        for (size_t i = 0; i < (size_t)base->n_combos * A; i++)
            out->combo_ids[i] = base->combo_ids[i] < 0 ? -1 : remap[base->combo_ids[i]];
        memcpy(out->combo_count, base->combo_count, base->n_combos * sizeof *out->combo_count);
        out->n_combos = base->n_combos;
        for (int k = 0; k < n; k++)
            for (uint32_t c = 0; c < a[k]->n_combos; c++, out->n_combos++) {
                for (uint32_t at = 0; at < A; at++) {
                    int32_t t = a[k]->combo_tok[(size_t)c * A + at];
                    out->combo_ids[(size_t)out->n_combos * A + at] =
                        t < 0 ? -1 : ns_modelfile_token(out, a[k]->tokens[t]);
                }
                out->combo_count[out->n_combos] = a[k]->combo_count[c];
            }
    }
    free(remap);
    /* The base's trace model: an adapter's new classes take its broader classes. */
    if (!rc && base->trace && (!(out->trace = calloc(1, sizeof *out->trace)) || (rc = ns_tmodel_copy(out->trace, base->trace)))) {
        free(out->trace), out->trace = NULL;
        if (!rc) rc = ns_error(NS_ENOMEM, "out of memory");
    }
    if (rc) ns_modelfile_free(out);
    return rc;
}

/* ---- the file ------------------------------------------------------------------ */


int ns_lora_save(const ns_lora *a, const char *path)
{
    size_t A = a->n_attrs, strings_len = 0;
    for (uint32_t i = 0; i < a->n_attrs; i++) strings_len += strlen(a->attr_names[i]) + 1;
    for (uint32_t i = 0; i < a->n_tokens; i++) strings_len += strlen(a->tokens[i]) + 1;
    size_t off_strings = HEADER, off_flags = align8(off_strings + strings_len);
    size_t off_combos = align8(off_flags + a->n_tokens);
    size_t off_weights = align8(off_combos + (size_t)a->n_combos * (A + 1) * 4);
    size_t size = off_weights + a->n_params * 4, off_prov = 0, prov_len = ns_prov_section_size(a->provenance);
    if (a->provenance) {
        int rc = ns_prov_check(a->provenance, strlen(a->provenance), path);
        if (rc) return rc;
        off_prov = align8(size), size = off_prov + prov_len;
        if (off_prov > UINT32_MAX) return ns_error(NS_EARG, "%s: an adapter this large keeps no provenance", path);
    }
    uint8_t *buf = calloc(1, size);
    if (!buf) return ns_error(NS_ENOMEM, "%s: out of memory", path);
    if (a->provenance) ns_prov_section_write(a->provenance, buf + off_prov);
    ns_store_le32(buf + 116, (uint32_t)off_prov), ns_store_le32(buf + 120, (uint32_t)prov_len);
    const int32_t shape[5] = {a->rank, a->d, a->n_layer, a->mlp_ratio, a->out_dim};
    memcpy(buf + 12, shape, sizeof shape);
    memcpy(buf + 52, &a->alpha, 4);
    ns_store_le32(buf + 32, a->base_crc);
    ns_store_le32(buf + 36, a->n_attrs), ns_store_le32(buf + 40, a->n_tokens), ns_store_le32(buf + 44, a->n_emb);
    ns_store_le32(buf + 48, a->n_combos);
    ns_store_le64(buf + 56, a->n_params), ns_store_le64(buf + 64, off_strings), ns_store_le64(buf + 72, strings_len);
    ns_store_le64(buf + 80, off_flags), ns_store_le64(buf + 88, off_combos), ns_store_le64(buf + 96, off_weights);
    char *s = (char *)buf + off_strings;
    for (uint32_t i = 0; i < a->n_attrs; i++) s = stpcpy(s, a->attr_names[i]) + 1;
    for (uint32_t i = 0; i < a->n_tokens; i++) s = stpcpy(s, a->tokens[i]) + 1;
    memcpy(buf + off_flags, a->has_emb, a->n_tokens);
    memcpy(buf + off_combos, a->combo_tok, (size_t)a->n_combos * A * 4);
    memcpy(buf + off_combos + (size_t)a->n_combos * A * 4, a->combo_count, (size_t)a->n_combos * 4);
    memcpy(buf + off_weights, a->w, a->n_params * 4);
    ns_filehead_seal(&head, buf, size, NS_LORA_VERSION);
    int rc = ns_write_file(path, buf, size);
    free(buf);
    return rc;
}

static int section_ok(uint64_t off, uint64_t len, uint64_t size)
{
    return off % 8 == 0 && off >= HEADER && off <= size && len <= size - off;
}

static int parse(ns_lora *a, const uint8_t *buf, size_t size, const char *name)
{
    uint32_t version;
    int rc = ns_filehead_check(&head, buf, size, name, &version);
    if (rc) return rc;

    int32_t shape[5];
    memcpy(shape, buf + 12, sizeof shape);
    a->rank = shape[0], a->d = shape[1], a->n_layer = shape[2], a->mlp_ratio = shape[3], a->out_dim = shape[4];
    memcpy(&a->alpha, buf + 52, 4);
    a->base_crc = ns_load_le32(buf + 32);
    a->n_attrs = ns_load_le32(buf + 36), a->n_tokens = ns_load_le32(buf + 40), a->n_emb = ns_load_le32(buf + 44);
    a->n_combos = ns_load_le32(buf + 48);
    if (a->rank < 1 || a->rank > MAX_RANK || a->d < 1 || a->d > 4096 || a->n_layer < 1 ||
        a->n_layer > NS_MODEL_MAX_LAYERS || a->mlp_ratio < 1 || a->mlp_ratio > 16 || a->out_dim < 1 ||
        a->out_dim > 4 * NS_NP_MODEL_WIDTH || !isfinite(a->alpha) ||
        !(a->alpha > 0) || a->n_attrs > MAX_ATTRS || a->n_tokens > MAX_TOKENS || a->n_emb > a->n_tokens ||
        a->n_combos > MAX_TOKENS || ns_load_le64(buf + 56) != ns_lora_layout(NULL, a, NULL))
        return ns_error(NS_ECORRUPT, "%s: impossible adapter shape or counts in header", name);
    size_t A = a->n_attrs;
    uint64_t off_strings = ns_load_le64(buf + 64), strings_len = ns_load_le64(buf + 72), off_flags = ns_load_le64(buf + 80);
    uint64_t off_combos = ns_load_le64(buf + 88), off_weights = ns_load_le64(buf + 96);
    uint64_t n = ns_load_le64(buf + 56);
    if (!section_ok(off_strings, strings_len, size) || !section_ok(off_flags, a->n_tokens, size) ||
        !section_ok(off_combos, (uint64_t)a->n_combos * (A + 1) * 4, size) || !section_ok(off_weights, n * 4, size))
        return ns_error(NS_ECORRUPT, "%s: a section lies outside the file", name);
    uint32_t off_prov = ns_load_le32(buf + 116), prov_len = ns_load_le32(buf + 120);
    if ((off_prov || prov_len) && (!prov_len || !section_ok(off_prov, prov_len, size)))
        return ns_error(NS_ECORRUPT, "%s: the provenance section lies outside the file", name);
    rc = prov_len ? ns_prov_section_parse(buf + off_prov, prov_len, name, &a->provenance) : NS_OK;
    if (rc) return rc;
    if ((rc = alloc_arrays(a))) return rc;

    const char *s = (const char *)buf + off_strings, *end = s + strings_len;
    for (size_t i = 0; i < A + a->n_tokens; i++) {
        const char *z = memchr(s, 0, (size_t)(end - s));
        if (!z) return ns_error(NS_ECORRUPT, "%s: strings are cut short", name);
        char *copy = strdup(s);
        if (!copy) return ns_error(NS_ENOMEM, "out of memory");
        if (i < A) a->attr_names[i] = copy;
        else a->tokens[i - A] = copy;
        s = z + 1;
    }
    uint32_t n_emb = 0;
    for (uint32_t t = 0; t < a->n_tokens; t++) {
        if (attr_of_token(a->attr_names, a->n_attrs, a->tokens[t]) < 0)
            return ns_error(NS_ECORRUPT, "%s: token '%s' belongs to no attribute", name, a->tokens[t]);
        a->has_emb[t] = buf[off_flags + t];
        if (a->has_emb[t] > 1) return ns_error(NS_ECORRUPT, "%s: bad token flag", name);
        n_emb += a->has_emb[t];
    }
    if (n_emb != a->n_emb) return ns_error(NS_ECORRUPT, "%s: token flags do not match the header", name);
    memcpy(a->combo_tok, buf + off_combos, (size_t)a->n_combos * A * 4);
    memcpy(a->combo_count, buf + off_combos + (size_t)a->n_combos * A * 4, (size_t)a->n_combos * 4);
    for (size_t i = 0; i < (size_t)a->n_combos * A; i++) {
        int32_t t = a->combo_tok[i];
        if (t < -1 || t >= (int32_t)a->n_tokens ||
            (t >= 0 && attr_of_token(a->attr_names, a->n_attrs, a->tokens[t]) != (int)(i % A)))
            return ns_error(NS_ECORRUPT, "%s: bad label combination", name);
    }
    return ns_read_weights(a->w, buf + off_weights, n, name);
}

int ns_lora_parse(ns_lora *a, const uint8_t *buf, size_t size, const char *name)
{
    memset(a, 0, sizeof *a);
    int rc = parse(a, buf, size, name);
    if (rc) ns_lora_free(a);
    return rc;
}

int ns_lora_load(ns_lora *a, const char *path)
{
    memset(a, 0, sizeof *a);
    uint8_t *buf;
    size_t size;
    int rc = ns_read_file(path, &buf, &size);
    if (rc) return rc;
    rc = ns_lora_parse(a, buf, size, path);
    free(buf);
    return rc;
}
