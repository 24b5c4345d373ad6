/* lora.h: low-rank adapters that teach a trained model new classes.
 *
 * An adapter holds W + (alpha/r) B A on every block's attention (qkv, proj)
 * and MLP (fc, fc2) weights and on the output layer, B starting at zero so a
 * fresh adapter changes nothing; and an embedding for each prompt token the
 * base never trained on (a token absent from its vocabulary, or present but
 * in no label combination it saw, e.g. a class `subset --exclude` left out).
 * It also lists the label combinations of its data, so `generate --like`
 * and `--per-class` know the new classes. The base stays frozen; adapters
 * are merged into a copy of it when loaded, so sampling costs nothing more.
 * (The output layer is adapted too because, frozen, it can only express the
 * bit patterns the base's classes had: a toy base of two classes could not
 * learn a third that combined their fields, at any rank, without it. A new
 * class still cannot use a column the base never saw vary: repr.h leaves
 * those out of the model.)
 *
 * An adapter names its base by the CRC-32 of the base's sampling weights and
 * its shape: loading it onto another model is an error.
 *
 * File (little-endian): a 128-byte header ("NSYNLORA", version, rank, alpha,
 * shape, base CRC, counts, section offsets, CRC-32 of the whole file with its
 * CRC field zeroed), then 8-byte aligned sections: strings (attribute names,
 * then tokens), one byte per token (1: it has an embedding), the label
 * combinations (token indices, -1 none) and their flow counts, the weights,
 * and optionally the provenance (modelfile.h; u32 offset at header byte
 * 116, u32 length at 120, both 0: none; readers before it ignore them). */
#ifndef NETSYNTH_LORA_H
#define NETSYNTH_LORA_H
#ifdef __cplusplus
extern "C" {
#endif
#pragma GCC visibility push(default)

#include <stddef.h>
#include <stdint.h>

#include "netsynth/dataset.h"
#include "netsynth/model.h"
#include "netsynth/modelfile.h"

#define NS_LORA_MAGIC "NSYNLORA"
#define NS_LORA_VERSION 1

/* Slices of the adapter's one float array. The adapted matrices are the
 * model's with NS_MODEL_MAT_LORA (ns_model_matrices, in that order: each
 * block's qkv, proj, fc, fc2, then the output layer); the k-th, W [out, in],
 * gets A = a[k] [r, in] and B = b[k] [out, r]. */
#define NS_LORA_MAX_ADAPTED (4 * NS_MODEL_MAX_LAYERS + 1)
typedef struct ns_lora_params {
    float *a[NS_LORA_MAX_ADAPTED], *b[NS_LORA_MAX_ADAPTED];
    int n_adapted;
    float *emb;                /* [n_emb, d] */
} ns_lora_params;

typedef struct ns_lora {
    int32_t rank;
    float alpha;
    int32_t d, n_layer, mlp_ratio, out_dim; /* the base's shape */
    uint32_t base_crc;             /* ns_lora_base_crc of the base */
    uint32_t n_attrs;              /* the base's attributes, in its order */
    char **attr_names;
    uint32_t n_tokens;             /* tokens the adapter's data uses, "attr=value" */
    char **tokens;
    uint8_t *has_emb;              /* [n_tokens]: 1 for the n_emb new ones, in order */
    uint32_t n_emb;
    uint32_t n_combos;             /* label combinations of its data */
    int32_t *combo_tok;            /* [n_combos * n_attrs] index into tokens, or -1 */
    uint32_t *combo_count;
    size_t n_params;
    float *w;                      /* [n_params] */
    ns_lora_params p;
    char *provenance;              /* how it was made (modelfile.h), or NULL */
} ns_lora;

/* Point p's slices into mem (NULL: just count); returns the float count. */
size_t ns_lora_layout(ns_lora_params *p, const ns_lora *a, float *mem);

/* Whether float i of the adapter's array is one AdamW decays (mask[n_params],
 * 0/1): the low-rank factors of a matrix the model decays (ns_model_matrices,
 * with c the base's config), not the new embeddings (the base's are not). */
void ns_lora_decay_mask(const ns_lora *a, const ns_model_config *c, uint8_t *mask);

/* The base's fingerprint: CRC-32 of its sampling weights. */
uint32_t ns_lora_base_crc(const ns_modelfile *base);

/* A fresh adapter of rank r for the tokens and label combinations of ds
 * (every attribute of ds must be one of the base's): A small random
 * (seeded), B zero, each new token's embedding the mean of the base's trained
 * embeddings of its attribute. */
int ns_lora_init(ns_lora *a, const ns_modelfile *base, const ns_dataset *ds, int rank, float alpha, uint64_t seed);

/* out = base with the n adapters merged: the vocabulary grows by their new
 * tokens (grouped by attribute), their embeddings and label combinations are
 * added, and every adapted weight gets its (alpha/r) B A. NS_EARG when an
 * adapter belongs to another base, or two adapters teach one token; `names`
 * (the adapters' paths) name them in messages. out has no training state. */
int ns_lora_merge(ns_modelfile *out, const ns_modelfile *base, const ns_lora *const *a, const char *const *names,
                  int n);

/* The adapted weights, llm.c style: W = W0 + (alpha/r) B A into w's slices
 * (w may be w0: then added in place), and its backward, which ACCUMULATES
 * into g the adapter's gradients from dW (the model's weight gradients). */
void ns_lora_forward(ns_model_params *w, const ns_model_params *w0, const ns_model_config *c, const ns_lora *a);
void ns_lora_backward(ns_lora_params *g, const ns_model_params *dw, const ns_model_config *c, const ns_lora *a);

int ns_lora_save(const ns_lora *a, const char *path);
int ns_lora_load(ns_lora *a, const char *path);
/* The same from memory (buf is not kept); `name` names it in messages. */
int ns_lora_parse(ns_lora *a, const uint8_t *buf, size_t size, const char *name);
void ns_lora_free(ns_lora *a);

#pragma GCC visibility pop
#ifdef __cplusplus
}
#endif

#endif
