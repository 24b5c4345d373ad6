/* modelfile.h: a trained generator on disk and in memory.
 *
 * One file holds everything `generate` needs: the network's config and its
 * EMA weights, the flow representation (repr.h), the prompt vocabulary
 * grouped by attribute, and the label combinations seen in training with
 * their flow counts, and (version 2) the trace model (tmodel.h) learned
 * from the same dataset, and (optional) its provenance. A checkpoint adds the training state (raw weights,
 * AdamW moments, step, options) so that `train --resume` continues exactly.
 *
 * File (little-endian): a 256-byte header ("NSYNMODL", version, config,
 * counts, section offsets, CRC-32 of the whole file with its CRC field
 * zeroed), then 8-byte aligned sections. Loading checks magic, version,
 * sizes against the file length, every count against its section, the CRC,
 * and that the config is one this build can run; a truncated, foreign or
 * corrupted file is a clear error naming the file. */
#ifndef NETSYNTH_MODELFILE_H
#define NETSYNTH_MODELFILE_H
#ifdef __cplusplus
extern "C" {
#endif
#pragma GCC visibility push(default)

#include <stddef.h>
#include <stdint.h>

#include "netsynth/diffusion.h"
#include "netsynth/model.h"
#include "netsynth/repr.h"
#include "netsynth/tmodel.h"

#define NS_MODEL_MAGIC "NSYNMODL"
#define NS_MODEL_VERSION 5   /* 2 added the trace section, 3 the IPv6 and payload layers (1920-value rows), 4 tokens
                              * per packet (config groups), 5 self-conditioning (config self_cond); a model is
                              * written with the oldest version that can say it (ns_modelfile_version); 1 and 2
                              * are refused */

/* The version a model of config c is written as: 3 for one token a packet,
 * 4 for several, 5 when self-conditioned, so that the files of models
 * without the newer fields stay byte for byte what older builds wrote and
 * read, and older builds refuse the newer ones by their version. */
static inline int ns_modelfile_version(const ns_model_config *c) { return c->self_cond ? 5 : c->groups > 1 ? 4 : 3; }

/* What a checkpoint remembers of training besides the weights. Options are
 * kept so that --resume needs no flags repeated. */
typedef struct ns_train_state {
    int64_t step;             /* optimizer steps done */
    int64_t steps;            /* the run's total */
    int64_t seed;
    int32_t batch, warmup, eval_every, ckpt_every, log_every;
    float lr, min_lr_frac, weight_decay, clip, ema_decay;
    float p_uncond, p_token_drop, balance, val_frac;
    float w_iat, w_dir, w_len;
    /* Of the draws of a flow longer than the window (whole-flow datasets),
     * the share that takes a window inside it rather than its first (train
     * --continuation-share; NS_TRAIN_CONT_SHARE, the only share before it
     * was an option, for checkpoints that do not record one). */
    float cont_share;
    double elapsed_s;         /* training time so far, for the progress line */
    int64_t data_sum;         /* the dataset trained on: 1 << 32 | CRC-32 of what training
                               * reads of it (ns_train_data_sum); 0: not recorded (older files) */
    /* Self-conditioning (train --self-cond): the share of flows whose step
     * first runs the network without an estimate of x_0 and then trains it
     * with that estimate (model.h, ns_model_acts_self_cond); 0: none, the
     * model has no sc_w (config self_cond 0), as every file before it. */
    float self_cond;
} ns_train_state;

#define NS_TRAIN_CONT_SHARE 0.5f

/* NS_OK when every field of s is one training can run with (counts in range,
 * step <= steps, rates finite and within their bounds); otherwise NS_ECORRUPT
 * (NS_EARG when name is NULL: options, not a file) naming `name` and the field. */
int ns_train_state_check(const ns_train_state *s, const char *name);

typedef struct ns_modelfile {
    ns_model_config cfg;
    ns_schedule sched;
    ns_repr repr;
    /* prompt vocabulary: attribute a owns tokens attr_first[a] .. attr_first[a+1]-1 */
    uint32_t n_attrs, n_tokens;
    char **attr_names;        /* [n_attrs] */
    uint32_t *attr_first;     /* [n_attrs + 1] */
    char **tokens;            /* [n_tokens], "attr=value" */
    /* label combinations of the training flows: ids[n_combos * n_attrs] (-1
     * where a flow had no value for that attribute) and their flow counts */
    uint32_t n_combos;
    int32_t *combo_ids;
    uint32_t *combo_count;
    uint32_t data_max_packets; /* the dataset's --packets */
    ns_tmodel *trace;         /* NULL: none (a version 1 file): generation keeps repair's fixed plan */
    size_t n_params;
    float *weights;           /* [n_params] for sampling (the EMA) */
    ns_model_params p;        /* named slices of weights */
    /* training state: present in checkpoints only */
    int has_state;
    float *train_w, *adam_m, *adam_v; /* [n_params] each */
    ns_train_state st;
    char *provenance;         /* how the file was made (ns_prov_*), or NULL: none recorded */
} ns_modelfile;

/* Provenance: how a file was made, as "key=value" lines each ended by '\n'
 * (config, steps, losses, dataset and its checksum, build version, date,
 * command line), in an optional section of model, adapter and control
 * branch files. On disk: "NSPROV01", u32 text length, u32 CRC-32 of the
 * text, the text; at most NS_PROV_MAX bytes of printable UTF-8, no NUL. */
#define NS_PROV_MAGIC "NSPROV01"
#define NS_PROV_MAX 65536
/* Append "key=value\n" to *text (NULL: empty) with value printf-formatted;
 * control bytes in the value become spaces; past NS_PROV_MAX the line is
 * left out. */
int ns_prov_add(char **text, const char *key, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* NS_OK when text[0..len) is provenance a file may hold, else NS_ECORRUPT naming `name`. */
int ns_prov_check(const char *text, size_t len, const char *name);
/* The section's bytes for text: its size (0 for NULL), and writing them to out. */
size_t ns_prov_section_size(const char *text);
void ns_prov_section_write(const char *text, uint8_t *out);
/* Check a section and copy its text out (*text malloc'd, NUL-ended). */
int ns_prov_section_parse(const uint8_t *sec, size_t len, const char *name, char **text);

/* Allocate weights (and the training state when with_state) for m->cfg,
 * which must be complete; vocabulary and combos are set by the caller
 * (ns_modelfile_set_vocab). */
int ns_modelfile_alloc(ns_modelfile *m, int with_state);
/* Copy the vocabulary and the label combinations of a dataset. */
int ns_modelfile_set_vocab(ns_modelfile *m, const ns_dataset *ds);
int ns_modelfile_save(const ns_modelfile *m, const char *path, int with_state);
int ns_modelfile_load(ns_modelfile *m, const char *path);
/* The same from memory (buf is not kept); `name` names it in messages. */
int ns_modelfile_parse(ns_modelfile *m, const uint8_t *buf, size_t size, const char *name);
void ns_modelfile_free(ns_modelfile *m);

/* A dataset's vocabulary in the model's ids, by name: attr[ds->n_attrs]
 * gets the model's index of each attribute of ds, tok[ds->n_tokens] the
 * model's id of each token of ds, or -1 where the model lacks it (either
 * may be NULL). NS_EMISMATCH when ds has an attribute the model does not. */
int ns_modelfile_map_vocab(const ns_modelfile *m, const ns_dataset *ds, int32_t *attr, int32_t *tok);
/* NS_OK when ds's ids are the model's own (its attributes in the model's
 * order, its token i the model's token i), as training on it requires;
 * else NS_EMISMATCH saying which differs. */
int ns_modelfile_check_vocab(const ns_modelfile *m, const ns_dataset *ds);
/* The id of "attr=value" in the vocabulary, or -1. */
int32_t ns_modelfile_token(const ns_modelfile *m, const char *text);
/* Whether token id is in a label combination the model was trained on
 * (a token of the vocabulary whose flows were all left out is not). */
int ns_modelfile_token_trained(const ns_modelfile *m, int32_t id);
/* The attribute index of a token id. */
int ns_modelfile_token_attr(const ns_modelfile *m, int32_t id);
/* The value of token id: "HueBridge" of "device=HueBridge". */
const char *ns_modelfile_token_value(const ns_modelfile *m, int32_t id);

#pragma GCC visibility pop
#ifdef __cplusplus
}
#endif

#endif
