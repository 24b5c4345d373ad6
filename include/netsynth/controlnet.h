/* controlnet.h: the control branch, a ControlNet-style add-on that holds a
 * trained (frozen) base model to a control map (control.h).
 *
 * The branch is a trainable copy of the base's first K blocks. Its input is
 * the base's embedded tokens, in(x_t) + pos (computed with the base's
 * weights), plus a zero-initialised linear map of the control features; it
 * reads the base's adaLN condition (time + prompt). The output of branch
 * block k goes through a zero-initialised d x d projection and is added to
 * the base's residual stream after base block k (model.h's `control`), times
 * a scale (generate --control-scale). Both projections start at zero, so a
 * fresh branch leaves the base's outputs exactly as they were, and training
 * starts from the base's own behaviour.
 *
 * File (little-endian): a 128-byte header ("NSYNCTRL", version, the base's
 * config, the CRC-32 of the base's weights, K, the feature count, the
 * parameter count, the weights' offset, the file size, CRC-32 of the whole
 * file with its CRC field zeroed), then the weights. Loading checks all of
 * it; a branch trained on another base is an error naming both files.
 * Training: ns_train_control (train.h). */
#ifndef NETSYNTH_CONTROLNET_H
#define NETSYNTH_CONTROLNET_H
#ifdef __cplusplus
extern "C" {
#endif
#pragma GCC visibility push(default)

#include <stddef.h>
#include <stdint.h>

#include "netsynth/control.h"
#include "netsynth/model.h"
#include "netsynth/modelfile.h"

#define NS_CONTROL_MAGIC "NSYNCTRL"
#define NS_CONTROL_VERSION 2   /* 2 added the provenance section; written only with one, so a branch
                                 * without it stays version 1, which older builds read */

/* Parameters, slices of one array; [k] per branch block, shapes as in
 * ns_model_params. */
typedef struct ns_controlnet_params {
    float *cin_w, *cin_b;      /* [d, NS_CONTROL_FEATURES], [d]: zero at start */
    ns_model_params blk;       /* only the per-block slices (ada_w[k] .. fc2_b[k]), k < K */
    float *zero_w[NS_MODEL_MAX_LAYERS], *zero_b[NS_MODEL_MAX_LAYERS]; /* [d, d], [d]: zero at start */
} ns_controlnet_params;

typedef struct ns_controlnet {
    ns_model_config cfg;       /* the base's */
    uint32_t base_crc;         /* CRC-32 of the base's weights */
    int32_t n_blocks;          /* K */
    size_t n_params;
    float *weights;
    ns_controlnet_params p;
    char *provenance;          /* how it was made (modelfile.h), or NULL */
} ns_controlnet;

/* Point p's slices into mem (NULL: just count); returns the float count. */
size_t ns_controlnet_params_layout(ns_controlnet_params *p, const ns_model_config *c, int K, float *mem);
/* Whether float i is a matrix weight (AdamW decays those): mask[n_params]. */
void ns_controlnet_decay_mask(const ns_model_config *c, int K, uint8_t *mask);
/* A fresh branch for base: blocks copied from the base's first K, both
 * projections zero. 1 <= K <= the base's layers. */
int ns_controlnet_init(ns_controlnet *ctl, const ns_modelfile *base, int K);
void ns_controlnet_free(ns_controlnet *ctl);

/* The identity of a base: CRC-32 of its sampling weights. */
uint32_t ns_controlnet_base_crc(const ns_modelfile *base);
/* NS_EARG naming ctl_name and base_name unless ctl belongs to base. */
int ns_controlnet_check_base(const ns_controlnet *ctl, const char *ctl_name, const ns_modelfile *base,
                             const char *base_name);

int ns_controlnet_save(const ns_controlnet *ctl, const char *path);
int ns_controlnet_load(ns_controlnet *ctl, const char *path);
/* The same from memory (buf not kept); `name` names it in messages. */
int ns_controlnet_parse(ns_controlnet *ctl, const uint8_t *buf, size_t size, const char *name);

/* Activations of the branch for at most max_b flows of max_t rows. */
typedef struct ns_controlnet_acts ns_controlnet_acts;
int ns_controlnet_acts_new(ns_controlnet_acts **out, const ns_model_config *c, int K, int max_b, int max_t);
void ns_controlnet_acts_free(ns_controlnet_acts *a);

/* After ns_model_embed(base, ...) on the same batch: runs the branch on
 * feat[B, T, NS_CONTROL_FEATURES] and returns the base's `control` (n_layer
 * pointers, NULL past K) inside ca, each residual times scale. */
const float *const *ns_controlnet_forward(ns_controlnet_acts *ca, const ns_controlnet_params *p,
                                          const ns_model_config *c, int K, const ns_model_acts *base,
                                          const float *feat, const int *len, int B, int T, float scale);
/* The buffers ns_model_backward fills with d loss / d control (n_layer
 * pointers, NULL past K). */
float *const *ns_controlnet_dcontrol(ns_controlnet_acts *ca);
/* Backward of the last forward, from those buffers: ACCUMULATES into g. */
int ns_controlnet_backward(ns_controlnet_params *g, ns_controlnet_acts *ca, const ns_controlnet_params *p,
                           const ns_model_config *c, int K);

/* The base's forward with the branch: ns_model_forward's arguments plus the
 * features and the scale. */
void ns_controlnet_model_forward(float *out, ns_model_acts *a, ns_controlnet_acts *ca, const ns_modelfile *base,
                                 const ns_controlnet *ctl, const float *x_t, const float *t, const int *prompt, int P,
                                 const int *len, int B, int T, const float *feat, float scale);

#pragma GCC visibility pop
#ifdef __cplusplus
}
#endif

#endif
