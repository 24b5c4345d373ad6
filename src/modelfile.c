/* modelfile.c: the model file (see modelfile.h).
 *
 * Byte layout, version 3, little-endian (x86 and ARM both are, so floats and
 * integers are written as they lie in memory):
 *
 *   0   char[8] "NSYNMODL"      8  u32 version      12 u32 flags (1: training state)
 *   16  i32[9]  config: d, n_layer, n_head, mlp_ratio, max_packets, in_dim, out_dim, n_bits, vocab
 *   52  f32     schedule log-SNR shift
 *   56  u32     n_attrs, n_tokens, n_combos, data_max_packets
 *   72  u64     n_params
 *   80  u64     strings offset, strings length (attr names then tokens, each NUL-ended)
 *   96  u64     attr_first offset (u32[n_attrs + 1])
 *   104 u64     repr offset: i32 width, i32 n_bits, u16 cols[1920], i8 fixed[1920], f32 iat mean, std
 *   112 u64     combos offset: i32 ids[n_combos * n_attrs], u32 counts[n_combos]
 *   120 u64     weights offset: f32[n_params]
 *   128 u64     state offset (0 when none): 256-byte ns_train_state block (8-byte
 *               slots in STATE_FIELDS order; slots past the last field are zero, so a
 *               field added at the end reads as 0 from older checkpoints; the
 *               continuation share, after them, is kept as 1 + share so that
 *               its 0 means "not recorded": NS_TRAIN_CONT_SHARE; then the
 *               self-conditioning share, 0 in files before it), then
 *               f32 train weights, AdamW m, AdamW v, n_params each
 *   136 u64     file size        144 u32 CRC-32 of the file with these 4 bytes zero
 *   148 u32     zero
 *   152 u64     trace offset, 160 u64 trace length (both 0: none): the trace
 *               model's own bytes (tmodel.h: magic, CRC, classes), version 2 on
 *   168 i32     timing bins (config timing_bins; the 16 sub-bins of each are
 *               implied), 172 f32 bin_lo, 176 f32 bin_hi (repr.h); all zero: the
 *               regressed timing of the files before the bins, which load and
 *               sample as they did
 *   180 u32     zero
 *   184 u64     provenance offset, 192 u64 provenance length (both 0: none):
 *               the section of ns_prov_section_write (modelfile.h); readers
 *               before it ignore these bytes, so the version stayed 2
 *   200..239    zero
 *   240 i32     length bins past the window (config len_bins); zero in files
 *               before them, whose length head covers 1..max_packets alone
 *   244 i32     version 4: tokens per packet (config groups, 2..16); zero in
 *               version 3, which is every model of one token a packet: those
 *               are still written as version 3, byte for byte as before, so
 *               that older builds keep reading them, and they refuse a
 *               grouped model by its version instead of misreading it
 *   248 i32     version 5: 1, the model is self-conditioned (config self_cond:
 *               sc_w after the other weights); version 5 keeps groups at 244
 *               for any count, 1 included. Models without it are written as
 *               version 3 or 4 as before (ns_modelfile_version)
 *   252..255    zero
 * Version 1 was this without the trace section, version 2 with rows of
 * 1088 values (1600 with the payload layer; no IPv6 layer): both are
 * refused, with what to do.
 * Sections start on 8-byte boundaries. */
#include "netsynth/modelfile.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "netsynth/dataset.h"
#include "netsynth/error.h"
#include "netsynth/fileio.h"

#include "filehead.h"

enum { HEADER = 256, STATE_BLOCK = 256, REPR_BYTES = 4 + 4 + 2 * NS_NP_MODEL_WIDTH + NS_NP_MODEL_WIDTH + 8 };

static const ns_filehead head = {NS_MODEL_MAGIC, "model file", "netsynth train makes those", HEADER, 136, 144, 3,
                                 NS_MODEL_VERSION,
                                 "rebuild the dataset with `netsynth dataset` and train again with `netsynth train` "
                                 "(rows without the IPv6 layer)"};

static size_t align8(size_t n) { return (n + 7) & ~(size_t)7; }

/* ---- allocation ---------------------------------------------------------- */

int ns_modelfile_alloc(ns_modelfile *m, int with_state)
{
    m->n_params = ns_model_params_layout(NULL, &m->cfg, NULL);
    size_t n = m->n_params;
    m->weights = calloc(n, sizeof(float));
    m->has_state = with_state;
    if (with_state) {
        m->train_w = calloc(n, sizeof(float));
        m->adam_m = calloc(n, sizeof(float));
        m->adam_v = calloc(n, sizeof(float));
    }
    if (!m->weights || (with_state && (!m->train_w || !m->adam_m || !m->adam_v)))
        return ns_error(NS_ENOMEM, "out of memory for %zu model parameters", n);
    ns_model_params_layout(&m->p, &m->cfg, m->weights);
    return NS_OK;
}

static char *dup_or_null(const char *s)
{
    size_t n = strlen(s) + 1;
    char *d = malloc(n);
    if (d) memcpy(d, s, n);
    return d;
}

int ns_modelfile_set_vocab(ns_modelfile *m, const ns_dataset *ds)
{
    m->n_attrs = ds->n_attrs;
    m->n_tokens = ds->n_tokens;
    m->attr_names = calloc(ds->n_attrs + 1, sizeof *m->attr_names);
    m->attr_first = calloc(ds->n_attrs + 1, sizeof *m->attr_first);
    m->tokens = calloc(ds->n_tokens + 1, sizeof *m->tokens);
    if (!m->attr_names || !m->attr_first || !m->tokens) return ns_error(NS_ENOMEM, "out of memory");
    for (uint32_t a = 0; a < ds->n_attrs; a++)
        if (!(m->attr_names[a] = dup_or_null(ds->attr_names[a]))) return ns_error(NS_ENOMEM, "out of memory");
    memcpy(m->attr_first, ds->attr_first, (ds->n_attrs + 1) * sizeof *m->attr_first);
    for (uint32_t i = 0; i < ds->n_tokens; i++)
        if (!(m->tokens[i] = dup_or_null(ds->tokens[i]))) return ns_error(NS_ENOMEM, "out of memory");

    int rc = ns_dataset_combos(ds, NULL, NULL, ds->n_attrs, &m->combo_ids, &m->combo_count, &m->n_combos);
    if (rc) return rc;
    m->data_max_packets = ds->max_packets;
    return NS_OK;
}

void ns_modelfile_free(ns_modelfile *m)
{
    for (uint32_t a = 0; m->attr_names && a < m->n_attrs; a++) free(m->attr_names[a]);
    for (uint32_t i = 0; m->tokens && i < m->n_tokens; i++) free(m->tokens[i]);
    free(m->attr_names);
    free(m->attr_first);
    free(m->tokens);
    free(m->combo_ids);
    free(m->combo_count);
    free(m->weights);
    free(m->train_w);
    free(m->adam_m);
    free(m->adam_v);
    if (m->trace) ns_tmodel_free(m->trace);
    free(m->trace);
    free(m->provenance);
    memset(m, 0, sizeof *m);
}

int ns_modelfile_map_vocab(const ns_modelfile *m, const ns_dataset *ds, int32_t *attr, int32_t *tok)
{
    for (uint32_t a = 0; attr && a < ds->n_attrs; a++) {
        attr[a] = -1;
        for (uint32_t b = 0; b < m->n_attrs && attr[a] < 0; b++)
            if (!strcmp(ds->attr_names[a], m->attr_names[b])) attr[a] = (int32_t)b;
        if (attr[a] < 0)
            return ns_error(NS_EMISMATCH, "attribute '%s' is not one of the model's", ds->attr_names[a]);
    }
    for (uint32_t i = 0; tok && i < ds->n_tokens; i++) tok[i] = ns_modelfile_token(m, ds->tokens[i]);
    return NS_OK;
}

int ns_modelfile_check_vocab(const ns_modelfile *m, const ns_dataset *ds)
{
    if (ds->n_attrs != m->n_attrs) return ns_error(NS_EMISMATCH, "the dataset's labels are not the model's");
    int32_t *attr = malloc((ds->n_attrs + 1) * sizeof *attr), *tok = malloc(((size_t)ds->n_tokens + 1) * sizeof *tok);
    int rc = attr && tok ? ns_modelfile_map_vocab(m, ds, attr, tok) : ns_error(NS_ENOMEM, "out of memory");
    for (uint32_t a = 0; !rc && a < ds->n_attrs; a++)
        if (attr[a] != (int32_t)a) rc = ns_error(NS_EMISMATCH, "the dataset's labels are not the model's");
    for (uint32_t i = 0; !rc && i < ds->n_tokens; i++)
        if (tok[i] != (int32_t)i)
            rc = ns_error(NS_EMISMATCH, "the dataset's vocabulary is not the model's (token %u: '%s')", i,
                          ds->tokens[i]);
    free(attr), free(tok);
    return rc;
}

int32_t ns_modelfile_token(const ns_modelfile *m, const char *text)
{
    for (uint32_t i = 0; i < m->n_tokens; i++)
        if (!strcmp(m->tokens[i], text)) return (int32_t)i;
    return -1;
}

int ns_modelfile_token_trained(const ns_modelfile *m, int32_t id)
{
    for (size_t i = 0; i < (size_t)m->n_combos * m->n_attrs; i++)
        if (m->combo_ids[i] == id) return 1;
    return 0;
}

const char *ns_modelfile_token_value(const ns_modelfile *m, int32_t id)
{
    const char *eq = strchr(m->tokens[id], '=');
    return eq ? eq + 1 : m->tokens[id];
}

int ns_modelfile_token_attr(const ns_modelfile *m, int32_t id)
{
    for (uint32_t a = 0; a < m->n_attrs; a++)
        if ((uint32_t)id >= m->attr_first[a] && (uint32_t)id < m->attr_first[a + 1]) return (int)a;
    return -1;
}

/* ---- the training state block: fixed slots, 8 bytes each ---------------- */

#define STATE_FIELDS(X)                                                                                  \
    X(i, step) X(i, steps) X(i, seed) X(i, batch) X(i, warmup) X(i, eval_every) X(i, ckpt_every)      \
    X(i, log_every) X(f, lr) X(f, min_lr_frac) X(f, weight_decay) X(f, clip) X(f, ema_decay)           \
    X(f, p_uncond) X(f, p_token_drop) X(f, balance) X(f, val_frac) X(f, w_iat) X(f, w_dir) X(f, w_len) \
    X(f, elapsed_s) X(i, data_sum)

static void state_pack(const ns_train_state *s, uint8_t *out)
{
    size_t at = 0;
    memset(out, 0, STATE_BLOCK);
#define PUT(kind, name)                                          \
    {                                                            \
        if (#kind[0] == 'i') {                                   \
            int64_t v = (int64_t)s->name;                        \
            memcpy(out + at, &v, 8);                             \
        } else {                                                 \
            double v = (double)s->name;                          \
            memcpy(out + at, &v, 8);                             \
        }                                                        \
        at += 8;                                                 \
    }
    STATE_FIELDS(PUT)
#undef PUT
    double cont = 1.0 + (double)s->cont_share, sc = (double)s->self_cond;
    memcpy(out + at, &cont, 8);
    memcpy(out + at + 8, &sc, 8);
}

static void state_unpack(ns_train_state *s, const uint8_t *in)
{
    size_t at = 0;
#define GET(kind, name)                                          \
    {                                                            \
        if (#kind[0] == 'i') {                                   \
            int64_t v;                                           \
            memcpy(&v, in + at, 8);                              \
            s->name = (__typeof__(s->name))v;                    \
        } else {                                                 \
            double v;                                            \
            memcpy(&v, in + at, 8);                              \
            s->name = (__typeof__(s->name))v;                    \
        }                                                        \
        at += 8;                                                 \
    }
    STATE_FIELDS(GET)
#undef GET
    /* Checkpoints from before the option trained with half, and resume so. */
    double cont;
    memcpy(&cont, in + at, 8);
    s->cont_share = cont == 0 ? NS_TRAIN_CONT_SHARE : (float)(cont - 1.0);
    double sc;
    memcpy(&sc, in + at + 8, 8);
    s->self_cond = (float)sc;
}

/* A checkpoint is internally consistent when its CRC matches, but its
 * options could still say something training cannot do (a step past the end,
 * a NaN rate, a balance that leaves no flow a weight): each would crash or
 * train garbage far from the cause, so every field is checked here. */
int ns_train_state_check(const ns_train_state *s, const char *name)
{
    int code = name ? NS_ECORRUPT : NS_EARG;
    const char *who = name ? name : "training options", *sep = name ? ": training state" : "";
#define BAD(field, fmt, ...) ns_error(code, "%s%s: " field " " fmt, who, sep, __VA_ARGS__)
    if (s->steps < 1 || s->steps > 1000000000) return BAD("steps", "%lld is outside [1, 1e9]", (long long)s->steps);
    if (s->step < 0 || s->step > s->steps)
        return BAD("step", "%lld is outside [0, steps = %lld]", (long long)s->step, (long long)s->steps);
    if (s->seed < 0) return BAD("seed", "%lld is negative", (long long)s->seed);
    if (s->batch < 1 || s->batch > 65536) return BAD("batch", "%d is outside [1, 65536]", s->batch);
    if (s->warmup < 1) return BAD("warmup", "%d is not positive", s->warmup);
    if (s->eval_every < 0 || s->ckpt_every < 0 || s->log_every < 0)
        return BAD("eval/ckpt/log interval", "is negative (%d, %d, %d)", s->eval_every, s->ckpt_every, s->log_every);
    struct {
        const char *field;
        double v, lo, hi;
        int hi_open;
    } r[] = {{"lr", s->lr, 0, 1, 0},
             {"min_lr_frac", s->min_lr_frac, 0, 1, 0},
             {"weight_decay", s->weight_decay, 0, 1e6, 0},
             {"clip", s->clip, 0, 1e30, 0},
             {"ema_decay", s->ema_decay, 0, 1, 0},
             {"p_uncond", s->p_uncond, 0, 1, 0},
             {"p_token_drop", s->p_token_drop, 0, 1, 0},
             {"balance", s->balance, 0, 2, 0},
             {"val_frac", s->val_frac, 0, 1, 1},
             {"w_iat", s->w_iat, 0, 1e6, 0},
             {"w_dir", s->w_dir, 0, 1e6, 0},
             {"w_len", s->w_len, 0, 1e6, 0},
             {"cont_share", s->cont_share, 0, 1, 0},
             {"self_cond", s->self_cond, 0, 1, 0},
             {"elapsed_s", s->elapsed_s, 0, 1e12, 0}};
    for (size_t i = 0; i < sizeof r / sizeof r[0]; i++)
        if (!isfinite(r[i].v) || r[i].v < r[i].lo || r[i].v > r[i].hi || (r[i].hi_open && r[i].v == r[i].hi))
            return BAD("%s", "%g is outside [%g, %g%s", r[i].field, r[i].v, r[i].lo, r[i].hi, r[i].hi_open ? ")" : "]");
    if (!(s->lr > 0)) return BAD("lr", "%g is not positive", (double)s->lr);
#undef BAD
    return NS_OK;
}

/* ---- save ---------------------------------------------------------- */


int ns_modelfile_save(const ns_modelfile *m, const char *path, int with_state)
{
    if (with_state && !m->has_state) return ns_error(NS_EARG, "%s: no training state to save", path);
    size_t A = m->n_attrs, n = m->n_params;
    size_t strings_len = 0;
    for (uint32_t a = 0; a < m->n_attrs; a++) strings_len += strlen(m->attr_names[a]) + 1;
    for (uint32_t i = 0; i < m->n_tokens; i++) strings_len += strlen(m->tokens[i]) + 1;
    size_t off_strings = HEADER, off_first = align8(off_strings + strings_len);
    size_t off_repr = align8(off_first + (A + 1) * 4);
    size_t off_combos = align8(off_repr + REPR_BYTES);
    size_t off_weights = align8(off_combos + (size_t)m->n_combos * (A * 4 + 4));
    size_t off_state = with_state ? align8(off_weights + n * 4) : 0;
    size_t size = with_state ? off_state + STATE_BLOCK + 3 * n * 4 : off_weights + n * 4;
    uint8_t *trace = NULL;
    size_t trace_len = 0, off_trace = 0;
    if (m->trace) {
        int rc = ns_tmodel_encode(m->trace, &trace, &trace_len);
        if (rc) return ns_error_wrap(rc, "%s", path);
        off_trace = align8(size), size = off_trace + trace_len;
    }
    size_t prov_len = ns_prov_section_size(m->provenance), off_prov = 0;
    if (m->provenance) {
        int rc = ns_prov_check(m->provenance, strlen(m->provenance), path);
        if (rc) {
            free(trace);
            return rc;
        }
        off_prov = align8(size), size = off_prov + prov_len;
    }

    uint8_t *buf = calloc(1, size);
    if (!buf) {
        free(trace);
        return ns_error(NS_ENOMEM, "%s: out of memory (%zu MB)", path, size >> 20);
    }
    if (trace) memcpy(buf + off_trace, trace, trace_len);
    free(trace);
    ns_store_le64(buf + 152, off_trace), ns_store_le64(buf + 160, trace_len);
    if (m->provenance) ns_prov_section_write(m->provenance, buf + off_prov);
    ns_store_le64(buf + 184, off_prov), ns_store_le64(buf + 192, prov_len);
    int version = ns_modelfile_version(&m->cfg);
    ns_store_le32(buf + 12, with_state ? 1 : 0);
    const int32_t cfg[9] = {m->cfg.d,      m->cfg.n_layer, m->cfg.n_head, m->cfg.mlp_ratio, m->cfg.max_packets,
                            m->cfg.in_dim, m->cfg.out_dim, m->cfg.n_bits, m->cfg.vocab};
    memcpy(buf + 16, cfg, sizeof cfg);
    memcpy(buf + 52, &m->sched.logsnr_shift, 4);
    ns_store_le32(buf + 168, (uint32_t)m->cfg.timing_bins);
    ns_store_le32(buf + 240, (uint32_t)m->cfg.len_bins);
    if (version >= 4) ns_store_le32(buf + 244, (uint32_t)m->cfg.groups);
    if (version >= 5) ns_store_le32(buf + 248, (uint32_t)m->cfg.self_cond);
    memcpy(buf + 172, &m->repr.bin_lo, 4), memcpy(buf + 176, &m->repr.bin_hi, 4);
    ns_store_le32(buf + 56, m->n_attrs), ns_store_le32(buf + 60, m->n_tokens), ns_store_le32(buf + 64, m->n_combos);
    ns_store_le32(buf + 68, m->data_max_packets);
    ns_store_le64(buf + 72, n);
    ns_store_le64(buf + 80, off_strings), ns_store_le64(buf + 88, strings_len), ns_store_le64(buf + 96, off_first);
    ns_store_le64(buf + 104, off_repr), ns_store_le64(buf + 112, off_combos), ns_store_le64(buf + 120, off_weights);
    ns_store_le64(buf + 128, off_state);

    uint8_t *s = buf + off_strings;
    for (uint32_t a = 0; a < m->n_attrs; a++) s = (uint8_t *)stpcpy((char *)s, m->attr_names[a]) + 1;
    for (uint32_t i = 0; i < m->n_tokens; i++) s = (uint8_t *)stpcpy((char *)s, m->tokens[i]) + 1;
    memcpy(buf + off_first, m->attr_first, (A + 1) * 4);
    uint8_t *r = buf + off_repr;
    memcpy(r, &m->repr.width, 4), memcpy(r + 4, &m->repr.n_bits, 4);
    memcpy(r + 8, m->repr.cols, 2 * NS_NP_MODEL_WIDTH);
    memcpy(r + 8 + 2 * NS_NP_MODEL_WIDTH, m->repr.fixed, NS_NP_MODEL_WIDTH);
    memcpy(r + 8 + 3 * NS_NP_MODEL_WIDTH, &m->repr.iat_mean, 4);
    memcpy(r + 12 + 3 * NS_NP_MODEL_WIDTH, &m->repr.iat_std, 4);
    memcpy(buf + off_combos, m->combo_ids, (size_t)m->n_combos * A * 4);
    memcpy(buf + off_combos + (size_t)m->n_combos * A * 4, m->combo_count, (size_t)m->n_combos * 4);
    memcpy(buf + off_weights, m->weights, n * 4);
    if (with_state) {
        state_pack(&m->st, buf + off_state);
        memcpy(buf + off_state + STATE_BLOCK, m->train_w, n * 4);
        memcpy(buf + off_state + STATE_BLOCK + n * 4, m->adam_m, n * 4);
        memcpy(buf + off_state + STATE_BLOCK + 2 * n * 4, m->adam_v, n * 4);
    }
    ns_filehead_seal(&head, buf, size, (uint32_t)version);

    int rc = ns_write_file(path, buf, size);
    free(buf);
    return rc;
}

/* ---- load ---------------------------------------------------------- */


/* A section [off, off + len) that must lie inside the file, 8-byte aligned. */
static int section_ok(uint64_t off, uint64_t len, uint64_t size)
{
    return off % 8 == 0 && off >= HEADER && off <= size && len <= size - off;
}

static int parse(ns_modelfile *m, const uint8_t *buf, size_t size, const char *path)
{
    uint32_t version;
    int rc = ns_filehead_check(&head, buf, size, path, &version);
    if (rc) return rc;
    uint32_t flags = ns_load_le32(buf + 12);

    int32_t cfg[9];
    memcpy(cfg, buf + 16, sizeof cfg);
    ns_model_config c = {cfg[0], cfg[1], cfg[2], cfg[3], cfg[4], cfg[5], cfg[6], cfg[7], cfg[8],
                         (int32_t)ns_load_le32(buf + 168), (int32_t)ns_load_le32(buf + 240),
                         version >= 4 ? (int32_t)ns_load_le32(buf + 244) : 1,
                         version >= 5 ? (int32_t)ns_load_le32(buf + 248) : 0};
    if (!ns_model_config_valid(&c) || ns_modelfile_version(&c) != (int)version)
        return ns_error(NS_ECORRUPT, "%s: impossible model config in header", path);
    m->cfg = c;
    memcpy(&m->sched.logsnr_shift, buf + 52, 4);
    m->sched.t_min = ns_schedule_default().t_min, m->sched.t_max = ns_schedule_default().t_max;
    if (!isfinite(m->sched.logsnr_shift)) return ns_error(NS_ECORRUPT, "%s: bad schedule in header", path);
    m->n_attrs = ns_load_le32(buf + 56), m->n_tokens = ns_load_le32(buf + 60), m->n_combos = ns_load_le32(buf + 64);
    m->data_max_packets = ns_load_le32(buf + 68);
    uint64_t n = ns_load_le64(buf + 72);
    if ((uint64_t)c.vocab != m->n_tokens || m->n_attrs > 64 || m->n_tokens > (1u << 20) ||
        n != ns_model_params_layout(NULL, &c, NULL))
        return ns_error(NS_ECORRUPT, "%s: header counts do not match the config", path);
    size_t A = m->n_attrs;
    uint64_t off_strings = ns_load_le64(buf + 80), strings_len = ns_load_le64(buf + 88), off_first = ns_load_le64(buf + 96);
    uint64_t off_repr = ns_load_le64(buf + 104), off_combos = ns_load_le64(buf + 112), off_weights = ns_load_le64(buf + 120);
    uint64_t off_state = ns_load_le64(buf + 128);
    if (!section_ok(off_strings, strings_len, size) || !section_ok(off_first, (A + 1) * 4, size) ||
        !section_ok(off_repr, REPR_BYTES, size) ||
        !section_ok(off_combos, (uint64_t)m->n_combos * (A * 4 + 4), size) ||
        !section_ok(off_weights, n * 4, size) ||
        ((flags & 1) && !section_ok(off_state, STATE_BLOCK + 3 * n * 4, size)) || (flags & ~1u))
        return ns_error(NS_ECORRUPT, "%s: a section lies outside the file", path);
    uint64_t off_trace = ns_load_le64(buf + 152), trace_len = ns_load_le64(buf + 160);
    if ((off_trace || trace_len) && (version < 2 || !trace_len || !section_ok(off_trace, trace_len, size)))
        return ns_error(NS_ECORRUPT, "%s: the trace section lies outside the file", path);
    if (trace_len) {
        if (!(m->trace = calloc(1, sizeof *m->trace))) return ns_error(NS_ENOMEM, "out of memory");
        rc = ns_tmodel_parse(m->trace, buf + off_trace, trace_len, path);
        if (rc) {
            free(m->trace), m->trace = NULL;
            return rc;
        }
    }

    uint64_t off_prov = ns_load_le64(buf + 184), prov_len = ns_load_le64(buf + 192);
    if ((off_prov || prov_len) && (!prov_len || !section_ok(off_prov, prov_len, size)))
        return ns_error(NS_ECORRUPT, "%s: the provenance section lies outside the file", path);
    if (prov_len) {
        rc = ns_prov_section_parse(buf + off_prov, prov_len, path, &m->provenance);
        if (rc) return rc;
    }

    /* Strings: exactly n_attrs + n_tokens NUL-terminated names. */
    m->attr_names = calloc(A + 1, sizeof *m->attr_names);
    m->tokens = calloc((size_t)m->n_tokens + 1, sizeof *m->tokens);
    m->attr_first = malloc((A + 1) * 4);
    if (!m->attr_names || !m->tokens || !m->attr_first) return ns_error(NS_ENOMEM, "out of memory");
    const char *s = (const char *)buf + off_strings, *end = s + strings_len;
    for (size_t i = 0; i < A + m->n_tokens; i++) {
        const char *z = memchr(s, 0, (size_t)(end - s));
        if (!z) return ns_error(NS_ECORRUPT, "%s: vocabulary strings are cut short", path);
        char *d = dup_or_null(s);
        if (!d) return ns_error(NS_ENOMEM, "out of memory");
        if (i < A) m->attr_names[i] = d;
        else m->tokens[i - A] = d;
        s = z + 1;
    }
    memcpy(m->attr_first, buf + off_first, (A + 1) * 4);
    if (m->attr_first[0] != 0 || m->attr_first[A] != m->n_tokens)
        return ns_error(NS_ECORRUPT, "%s: vocabulary groups do not cover the tokens", path);
    for (size_t a = 0; a < A; a++)
        if (m->attr_first[a] > m->attr_first[a + 1])
            return ns_error(NS_ECORRUPT, "%s: vocabulary groups out of order", path);

    const uint8_t *r = buf + off_repr;
    memcpy(&m->repr.width, r, 4), memcpy(&m->repr.n_bits, r + 4, 4);
    memcpy(m->repr.cols, r + 8, 2 * NS_NP_MODEL_WIDTH);
    memcpy(m->repr.fixed, r + 8 + 2 * NS_NP_MODEL_WIDTH, NS_NP_MODEL_WIDTH);
    memcpy(&m->repr.iat_mean, r + 8 + 3 * NS_NP_MODEL_WIDTH, 4);
    memcpy(&m->repr.iat_std, r + 12 + 3 * NS_NP_MODEL_WIDTH, 4);
    if (m->repr.width != NS_NP_MODEL_WIDTH || m->repr.n_bits != c.n_bits || !isfinite(m->repr.iat_mean) ||
        !(m->repr.iat_std > 0) || !isfinite(m->repr.iat_std))
        return ns_error(NS_ECORRUPT, "%s: bad flow representation section", path);
    m->repr.timing_bins = c.timing_bins;
    memcpy(&m->repr.bin_lo, buf + 172, 4), memcpy(&m->repr.bin_hi, buf + 176, 4);
    if (c.timing_bins ? !(isfinite(m->repr.bin_lo) && isfinite(m->repr.bin_hi) && m->repr.bin_hi > m->repr.bin_lo)
                      : m->repr.bin_lo != 0 || m->repr.bin_hi != 0)
        return ns_error(NS_ECORRUPT, "%s: bad timing bins in header", path);
    for (int j = 0; j < c.n_bits; j++)
        if (m->repr.cols[j] >= NS_NP_MODEL_WIDTH || (j && m->repr.cols[j] <= m->repr.cols[j - 1]))
            return ns_error(NS_ECORRUPT, "%s: bad column list", path);
    for (int k = 0; k < NS_NP_MODEL_WIDTH; k++)
        if (m->repr.fixed[k] < -1 || m->repr.fixed[k] > 1) return ns_error(NS_ECORRUPT, "%s: bad constant", path);

    m->combo_ids = malloc((size_t)m->n_combos * (A ? A : 1) * 4 + 4);
    m->combo_count = malloc((size_t)m->n_combos * 4 + 4);
    if (!m->combo_ids || !m->combo_count) return ns_error(NS_ENOMEM, "out of memory");
    memcpy(m->combo_ids, buf + off_combos, (size_t)m->n_combos * A * 4);
    memcpy(m->combo_count, buf + off_combos + (size_t)m->n_combos * A * 4, (size_t)m->n_combos * 4);
    for (size_t i = 0; i < (size_t)m->n_combos * A; i++) {
        int32_t id = m->combo_ids[i];
        if (id < -1 || id >= (int32_t)m->n_tokens || (id >= 0 && ns_modelfile_token_attr(m, id) != (int)(i % A)))
            return ns_error(NS_ECORRUPT, "%s: bad label combination", path);
    }

    rc = ns_modelfile_alloc(m, (int)(flags & 1));
    if (rc) return rc;
    if ((rc = ns_read_weights(m->weights, buf + off_weights, n, path))) return rc;
    if (flags & 1) {
        state_unpack(&m->st, buf + off_state);
        if ((rc = ns_train_state_check(&m->st, path))) return rc;
        const uint8_t *w = buf + off_state + STATE_BLOCK;
        float *dst[3] = {m->train_w, m->adam_m, m->adam_v};
        static const char *what[3] = {"raw training weight", "AdamW first moment", "AdamW second moment"};
        for (int k = 0; k < 3; k++) {
            memcpy(dst[k], w + (size_t)k * n * 4, n * 4);
            for (size_t i = 0; i < n; i++)
                if (!isfinite(dst[k][i]) || (k == 2 && dst[k][i] < 0))
                    return ns_error(NS_ECORRUPT, "%s: %s %zu is %g (the checkpoint is corrupt)", path, what[k], i,
                                    (double)dst[k][i]);
        }
    }
    return NS_OK;
}

int ns_modelfile_parse(ns_modelfile *m, const uint8_t *buf, size_t size, const char *name)
{
    memset(m, 0, sizeof *m);
    int rc = parse(m, buf, size, name);
    if (rc) ns_modelfile_free(m);
    return rc;
}

int ns_modelfile_load(ns_modelfile *m, const char *path)
{
    memset(m, 0, sizeof *m);
    uint8_t *buf;
    size_t size;
    int rc = ns_read_file(path, &buf, &size);
    if (rc) return rc;
    rc = ns_modelfile_parse(m, buf, size, path);
    free(buf);
    return rc;
}
