/* controlnet.c: the control branch and its file (see controlnet.h).
 *
 * Forward, per batch of B flows of T rows (N = B*T), after the base's embed:
 *   h[0]   = tokens + cin(feat)                 (tokens: the base's res[0])
 *   h[k+1] = block_k(h[k]; sc, len)             (model_block.h, the branch's weights)
 *   ctl[k] = scale * zero_k(h[k+1])             -> the base adds it after its block k
 * Backward: the base's backward gives d loss / d ctl[k]; then back down
 * through the projections and the blocks to cin. The base is frozen: nothing
 * flows into tokens or sc.
 *
 * File layout, version 2, little-endian:
 *   0  char[8] "NSYNCTRL"   8  u32 version   12 u32 flags (0)
 *   16 i32[9] the base's config (as in the model file)
 *   52 u32 CRC-32 of the base's weights     56 i32 K     60 i32 features
 *   64 u64 n_params   72 u64 weights offset (128)   80 u64 file size
 *   88 u32 CRC-32 of the file with these 4 bytes zero    92 zero
 *   96 u64 provenance offset, 104 u64 provenance length     112..127 zero
 *   128 f32[n_params], then (8-byte aligned) the provenance section (modelfile.h)
 * Version 1 is the same without provenance (96..111 zero, the file ends with
 * the weights, which its readers insist on): a branch without provenance is
 * still written as version 1, so that older builds read it. */
#include "netsynth/controlnet.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "netsynth/error.h"
#include "netsynth/fileio.h"
#include "netsynth/nn.h"
#include "filehead.h"
#include "model_block.h"

enum { HEADER = 128, F = NS_CONTROL_FEATURES };

static const ns_filehead head = {NS_CONTROL_MAGIC, "control branch file", "netsynth train-control makes one", HEADER,
                                 80, 88, 1, NS_CONTROL_VERSION, NULL};

/* ---- parameters ---------------------------------------------------------- */

size_t ns_controlnet_params_layout(ns_controlnet_params *p, const ns_model_config *c, int K, float *mem)
{
    size_t d = (size_t)c->d, n = 0;
    ns_controlnet_params dummy;
    if (!p) p = &dummy;
    memset(&p->blk, 0, sizeof p->blk);
#define TAKE(ptr, count) NS_CARVE(ptr, mem, n, count)
    TAKE(p->cin_w, d * F);
    TAKE(p->cin_b, d);
    for (int k = 0; k < K; k++) {
        model_block_take(&p->blk, k, c, mem, &n);
        TAKE(p->zero_w[k], d * d);
        TAKE(p->zero_b[k], d);
    }
#undef TAKE
    return n;
}

void ns_controlnet_decay_mask(const ns_model_config *c, int K, uint8_t *mask)
{
    ns_controlnet_params p;
    float *base = (float *)(uintptr_t)sizeof(float); /* fake non-NULL base: offsets only */
    size_t n = ns_controlnet_params_layout(&p, c, K, base);
    size_t d = (size_t)c->d;
    memset(mask, 0, n);
    memset(mask + (p.cin_w - base), 1, d * F);
    for (int k = 0; k < K; k++) {
        model_block_decay(&p.blk, k, c, base, mask);
        memset(mask + (p.zero_w[k] - base), 1, d * d);
    }
}

static int alloc(ns_controlnet *ctl, const ns_model_config *c, int K)
{
    ctl->cfg = *c;
    ctl->n_blocks = K;
    ctl->n_params = ns_controlnet_params_layout(NULL, c, K, NULL);
    ctl->weights = calloc(ctl->n_params, sizeof(float));
    if (!ctl->weights) return ns_error(NS_ENOMEM, "out of memory for %zu branch parameters", ctl->n_params);
    ns_controlnet_params_layout(&ctl->p, c, K, ctl->weights);
    return NS_OK;
}

uint32_t ns_controlnet_base_crc(const ns_modelfile *base)
{
    return ns_crc32(0, base->weights, base->n_params * sizeof(float));
}

int ns_controlnet_init(ns_controlnet *ctl, const ns_modelfile *base, int K)
{
    memset(ctl, 0, sizeof *ctl);
    /* The branch's input map and its residuals are one token a packet; a
     * grouped base's would be G tokens (model.h), which the branch file
     * cannot say. */
    if (base->cfg.groups > 1)
        return ns_error(NS_EARG, "the base model has %d tokens per packet: control branches are for models of one "
                        "(train the base with --groups 1)", base->cfg.groups);
    if (base->cfg.self_cond) /* the branch's forward would have to pass the estimate along */
        return ns_error(NS_EARG, "the base model is self-conditioned: control branches are for models without it "
                        "(train the base with --self-cond 0)");
    if (K < 1 || K > base->cfg.n_layer)
        return ns_error(NS_EARG, "--blocks %d: the base has %d blocks (1 to %d)", K, base->cfg.n_layer,
                        base->cfg.n_layer);
    int rc = alloc(ctl, &base->cfg, K);
    if (rc) return rc;
    ctl->base_crc = ns_controlnet_base_crc(base);
    /* The blocks start as the base's own (each one contiguous span in both
     * layouts, model_block_take): the branch begins where the base is, and
     * cin / zero (calloc'd) keep its first outputs at exactly 0. */
    size_t span = 0;
    model_block_take(&(ns_model_params){0}, 0, &base->cfg, NULL, &span);
    for (int k = 0; k < K; k++) memcpy(ctl->p.blk.ada_w[k], base->p.ada_w[k], span * sizeof(float));
    return NS_OK;
}

void ns_controlnet_free(ns_controlnet *ctl)
{
    free(ctl->weights);
    free(ctl->provenance);
    memset(ctl, 0, sizeof *ctl);
}

static void config_ints(const ns_model_config *c, int32_t out[9])
{
    const int32_t v[9] = {c->d, c->n_layer, c->n_head, c->mlp_ratio, c->max_packets,
                          c->in_dim, c->out_dim, c->n_bits, c->vocab};
    memcpy(out, v, sizeof v);
}

int ns_controlnet_check_base(const ns_controlnet *ctl, const char *ctl_name, const ns_modelfile *base,
                             const char *base_name)
{
    int32_t a[9], b[9];
    config_ints(&ctl->cfg, a);
    config_ints(&base->cfg, b);
    if (memcmp(a, b, sizeof a) || base->cfg.groups > 1)
        return ns_error(NS_EARG, "%s: a control branch for another model (d %d, %d layers, %d bits), not %s (d %d, %d "
                                 "layers, %d bits)",
                        ctl_name, ctl->cfg.d, ctl->cfg.n_layer, ctl->cfg.n_bits, base_name, base->cfg.d,
                        base->cfg.n_layer, base->cfg.n_bits);
    uint32_t crc = ns_controlnet_base_crc(base);
    if (crc != ctl->base_crc)
        return ns_error(NS_EARG, "%s: a control branch trained for another model (weights CRC %08x), not %s (%08x)",
                        ctl_name, ctl->base_crc, base_name, crc);
    return NS_OK;
}

/* ---- file ---------------------------------------------------------- */


int ns_controlnet_save(const ns_controlnet *ctl, const char *path)
{
    size_t size = HEADER + ctl->n_params * 4, off_prov = 0, prov_len = ns_prov_section_size(ctl->provenance);
    if (ctl->provenance) {
        int rc = ns_prov_check(ctl->provenance, strlen(ctl->provenance), path);
        if (rc) return rc;
        off_prov = (size + 7) & ~(size_t)7, size = off_prov + prov_len;
    }
    uint8_t *buf = calloc(1, size);
    if (!buf) return ns_error(NS_ENOMEM, "%s: out of memory", path);
    if (ctl->provenance) ns_prov_section_write(ctl->provenance, buf + off_prov);
    ns_store_le64(buf + 96, off_prov), ns_store_le64(buf + 104, prov_len);
    int32_t cfg[9];
    config_ints(&ctl->cfg, cfg);
    memcpy(buf + 16, cfg, sizeof cfg);
    ns_store_le32(buf + 52, ctl->base_crc);
    ns_store_le32(buf + 56, (uint32_t)ctl->n_blocks), ns_store_le32(buf + 60, F);
    ns_store_le64(buf + 64, ctl->n_params), ns_store_le64(buf + 72, HEADER);
    memcpy(buf + HEADER, ctl->weights, ctl->n_params * 4);
    ns_filehead_seal(&head, buf, size, ctl->provenance ? NS_CONTROL_VERSION : 1);
    int rc = ns_write_file(path, buf, size);
    free(buf);
    return rc;
}

static int parse(ns_controlnet *ctl, const uint8_t *buf, size_t size, const char *path)
{
    uint32_t version;
    int rc = ns_filehead_check(&head, buf, size, path, &version);
    if (rc) return rc;
    int32_t v[9];
    memcpy(v, buf + 16, sizeof v);
    ns_model_config c = {v[0], v[1], v[2], v[3], v[4], v[5], v[6], v[7], v[8], 0, 0, 1, 0}; /* one token a packet, no self-conditioning */
    int64_t nt = (int64_t)c.out_dim - 3 * (int64_t)c.n_bits - 1; /* the base's timing outputs */
    c.timing_bins = nt > 1 && nt <= NS_MODEL_MAX_TIMING_BINS + NS_MODEL_TIMING_SUB ? (int32_t)(nt - NS_MODEL_TIMING_SUB) : 0;
    int32_t K = (int32_t)ns_load_le32(buf + 56), nf = (int32_t)ns_load_le32(buf + 60);
    if (!ns_model_config_valid(&c) || K < 1 || K > c.n_layer)
        return ns_error(NS_ECORRUPT, "%s: impossible config in header", path);
    if (nf != F)
        return ns_error(NS_EVERSION, "%s: %d control features per packet, this build has %d", path, nf, F);
    uint64_t n = ns_load_le64(buf + 64);
    uint64_t off_prov = ns_load_le64(buf + 96), prov_len = ns_load_le64(buf + 104);
    uint64_t end = version >= 2 && prov_len ? off_prov : size; /* where the weights end, or their padding */
    if (n != ns_controlnet_params_layout(NULL, &c, K, NULL) || ns_load_le64(buf + 72) != HEADER || end < HEADER ||
        end > size || n > (end - HEADER) / 4 || (end - HEADER) - n * 4 != (prov_len ? (8 - n * 4 % 8) % 8 : 0))
        return ns_error(NS_ECORRUPT, "%s: header counts do not match the config", path);
    if (off_prov || prov_len) {
        if (version < 2 || !prov_len || off_prov % 8 || prov_len != size - off_prov)
            return ns_error(NS_ECORRUPT, "%s: the provenance section lies outside the file", path);
        rc = ns_prov_section_parse(buf + off_prov, prov_len, path, &ctl->provenance);
        if (rc) return rc;
    }
    rc = alloc(ctl, &c, K);
    if (rc) return rc;
    ctl->base_crc = ns_load_le32(buf + 52);
    return ns_read_weights(ctl->weights, buf + HEADER, n, path);
}

int ns_controlnet_parse(ns_controlnet *ctl, const uint8_t *buf, size_t size, const char *name)
{
    memset(ctl, 0, sizeof *ctl);
    int rc = parse(ctl, buf, size, name);
    if (rc) ns_controlnet_free(ctl);
    return rc;
}

int ns_controlnet_load(ns_controlnet *ctl, const char *path)
{
    memset(ctl, 0, sizeof *ctl);
    uint8_t *buf;
    size_t size;
    int rc = ns_read_file(path, &buf, &size);
    if (rc) return rc;
    rc = ns_controlnet_parse(ctl, buf, size, path);
    free(buf);
    return rc;
}

/* ---- activations ---------------------------------------------------------- */

struct ns_controlnet_acts {
    int K, B, T;
    const int *len;
    float scale;
    const float *feat, *sc;
    float *h[NS_MODEL_MAX_LAYERS + 1];         /* [N, d] each */
    model_block_acts layer[NS_MODEL_MAX_LAYERS];
    model_block_scratch bs;
    float *ctl[NS_MODEL_MAX_LAYERS];           /* [N, d]; NULL past K */
    float *dctl[NS_MODEL_MAX_LAYERS];          /* [N, d]; NULL past K */
    float *dh, *dh2, *dz, *d_sc;               /* backward scratch */
    float *mem;
};

int ns_controlnet_acts_new(ns_controlnet_acts **out, const ns_model_config *c, int K, int max_b, int max_t)
{
    *out = NULL;
    ns_controlnet_acts *a = calloc(1, sizeof *a);
    if (!a) return ns_error(NS_ENOMEM, "out of memory for branch activations");
    a->K = K;
    size_t Nd = (size_t)max_b * max_t * c->d, Bd = (size_t)max_b * c->d;
    for (int pass = 0; pass < 2; pass++) {
        size_t n = 0;
        float *m = pass ? a->mem : NULL;
#define A(ptr, count) NS_CARVE(ptr, m, n, count)
        for (int k = 0; k <= K; k++) A(a->h[k], Nd);
        for (int k = 0; k < K; k++) {
            model_block_acts_carve(&a->layer[k], k ? NULL : &a->bs, m, &n, c, max_b, max_t);
            A(a->ctl[k], Nd);
            A(a->dctl[k], Nd);
        }
        A(a->dh, Nd); A(a->dh2, Nd); A(a->dz, Nd); A(a->d_sc, Bd);
#undef A
        if (!pass && !(a->mem = malloc(n * sizeof(float)))) {
            free(a);
            return ns_error(NS_ENOMEM, "out of memory for branch activations (%zu MB)", n * sizeof(float) >> 20);
        }
    }
    *out = a;
    return NS_OK;
}

void ns_controlnet_acts_free(ns_controlnet_acts *a)
{
    if (!a) return;
    free(a->mem);
    free(a);
}

float *const *ns_controlnet_dcontrol(ns_controlnet_acts *ca) { return ca->dctl; }

/* ---- forward and backward ---------------------------------------------------------- */

const float *const *ns_controlnet_forward(ns_controlnet_acts *ca, const ns_controlnet_params *p,
                                          const ns_model_config *c, int K, const ns_model_acts *base,
                                          const float *feat, const int *len, int B, int T, float scale)
{
    size_t N = (size_t)B * T, Nd = N * c->d;
    ca->B = B, ca->T = T, ca->len = len, ca->feat = feat, ca->scale = scale, ca->sc = ns_model_condition(base);
    ns_linear_forward(ca->h[0], feat, p->cin_w, p->cin_b, (int)N, F, c->d);
    const float *tokens = ns_model_tokens(base);
    for (size_t i = 0; i < Nd; i++) ca->h[0][i] += tokens[i];
    for (int k = 0; k < K; k++) {
        model_block_w w = model_block_of(&p->blk, k);
        model_block_forward(ca->h[k + 1], &ca->layer[k], ca->h[k], ca->sc, &w, c, len, B, T);
        ns_linear_forward(ca->ctl[k], ca->h[k + 1], p->zero_w[k], p->zero_b[k], (int)N, c->d, c->d);
        if (scale != 1.0f)
            for (size_t i = 0; i < Nd; i++) ca->ctl[k][i] *= scale;
    }
    return (const float *const *)ca->ctl;
}

int ns_controlnet_backward(ns_controlnet_params *g, ns_controlnet_acts *ca, const ns_controlnet_params *p,
                           const ns_model_config *c, int K)
{
    int B = ca->B, T = ca->T, N = B * T, d = c->d;
    size_t Nd = (size_t)N * d;
    float *dh = ca->dh, *dnext = ca->dh2;
    memset(dh, 0, Nd * sizeof(float));
    for (int k = K - 1; k >= 0; k--) {
        /* ctl[k] = scale zero_k(h[k+1]): into h[k+1]'s gradient, beside what block k+1 sent down. */
        const float *dz = ca->dctl[k];
        if (ca->scale != 1.0f) {
            for (size_t i = 0; i < Nd; i++) ca->dz[i] = ca->scale * ca->dctl[k][i];
            dz = ca->dz;
        }
        ns_linear_backward(dh, g->zero_w[k], g->zero_b[k], dz, ca->h[k + 1], p->zero_w[k], N, d, d);
        model_block_w w = model_block_of(&p->blk, k), gw = model_block_of(&g->blk, k);
        memset(ca->d_sc, 0, (size_t)B * d * sizeof(float)); /* the condition is the frozen base's */
        int rc = model_block_backward(dnext, ca->d_sc, &gw, &ca->bs, dh, &ca->layer[k], ca->h[k], ca->sc, &w, c,
                                      ca->len, B, T);
        if (rc) return rc;
        float *swap = dh;
        dh = dnext;
        dnext = swap;
    }
    /* h[0] = tokens + cin(feat): only cin learns. */
    ns_linear_backward(NULL, g->cin_w, g->cin_b, dh, ca->feat, p->cin_w, N, F, d);
    return NS_OK;
}

void ns_controlnet_model_forward(float *out, ns_model_acts *a, ns_controlnet_acts *ca, const ns_modelfile *base,
                                 const ns_controlnet *ctl, const float *x_t, const float *t, const int *prompt, int P,
                                 const int *len, int B, int T, const float *feat, float scale)
{
    ns_model_embed(a, &base->p, &base->cfg, x_t, t, prompt, P, len, B, T);
    const float *const *control =
        ns_controlnet_forward(ca, &ctl->p, &base->cfg, ctl->n_blocks, a, feat, len, B, T, scale);
    ns_model_run_blocks(out, a, &base->p, &base->cfg, control);
}
