/* eval.c: train/test runs of the random forest on real and synthetic flows. */
#include "netsynth/eval.h"

#include <errno.h>
#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "netsynth/distance.h"
#include "netsynth/error.h"
#include "netsynth/features.h"
#include "netsynth/flow.h"
#include "netsynth/fileio.h"
#include "netsynth/forest.h"
#include "netsynth/labels.h"
#include "netsynth/nprint.h"

void ns_eval_opts_init(ns_eval_opts *o)
{
    memset(o, 0, sizeof *o);
    o->labels = "device,device_type";
    o->packets = 16;
    o->trees = 100;
    o->netflow = 1;
}

/* ---- metrics -------------------------------------------------------------- */

double ns_eval_accuracy(const uint64_t *cm, int k)
{
    uint64_t ok = 0, all = 0;
    for (int i = 0; i < k; i++)
        for (int j = 0; j < k; j++) {
            all += cm[(size_t)i * k + j];
            if (i == j) ok += cm[(size_t)i * k + j];
        }
    return all ? (double)ok / (double)all : 0;
}

double ns_eval_macro_f1(const uint64_t *cm, int k)
{
    double sum = 0;
    int classes = 0;
    for (int c = 0; c < k; c++) {
        uint64_t truth = 0, predicted = 0;
        for (int j = 0; j < k; j++) {
            truth += cm[(size_t)c * k + j];
            predicted += cm[(size_t)j * k + c];
        }
        if (!truth && !predicted) continue;
        sum += 2.0 * (double)cm[(size_t)c * k + c] / (double)(truth + predicted);
        classes++;
    }
    return classes ? sum / classes : 0;
}

void ns_eval_class_metrics(const uint64_t *cm, int k, int c, double *precision, double *recall, double *f1,
                           uint64_t *support)
{
    uint64_t truth = 0, predicted = 0, tp = cm[(size_t)c * k + c];
    for (int j = 0; j < k; j++) {
        truth += cm[(size_t)c * k + j];
        predicted += cm[(size_t)j * k + c];
    }
    *precision = predicted ? (double)tp / (double)predicted : NAN;
    *recall = truth ? (double)tp / (double)truth : NAN;
    *f1 = truth + predicted ? 2.0 * (double)tp / (double)(truth + predicted) : NAN;
    if (support) *support = truth;
}

double ns_eval_majority_rate(const uint64_t *cm, int k)
{
    uint64_t all = 0, top = 0;
    for (int i = 0; i < k; i++) {
        uint64_t row = 0;
        for (int j = 0; j < k; j++) row += cm[(size_t)i * k + j];
        all += row;
        if (row > top) top = row;
    }
    return all ? (double)top / (double)all : 0;
}

/* ---- flows and classes ------------------------------------------------------ */

/* Some flows of one dataset. */
typedef struct set {
    const ns_dataset *ds;
    const char *name;
    uint64_t *idx;
    size_t n;
} set;

enum { TRAIN, TEST, SYNTH, NSETS };
static const char *const set_names[NSETS] = {"train", "test", "synth"};

static void sets_free(set *s)
{
    for (int i = 0; i < NSETS; i++) free(s[i].idx);
}

/* Flows of ds whose file index taken modulo 5 is (test) or is not (train) 4;
 * every flow when mod is 0. */
static int set_init(set *s, const ns_dataset *ds, const char *name, int mod, int test)
{
    s->ds = ds;
    s->name = name;
    s->n = 0;
    s->idx = malloc((ds->n_flows ? ds->n_flows : 1) * sizeof *s->idx);
    if (!s->idx) return ns_error(NS_ENOMEM, "%s: out of memory", name);
    for (uint64_t i = 0; i < ds->n_flows; i++)
        if (!mod || ((ds->flows[i].file % (uint32_t)mod == (uint32_t)mod - 1) == test)) s->idx[s->n++] = i;
    return NS_OK;
}

static int sets_init(set *s, const ns_eval_inputs *in)
{
    memset(s, 0, NSETS * sizeof *s);
    int rc;
    if (in->real_test) {
        rc = set_init(&s[TRAIN], in->real, in->real_name, 0, 0);
        if (!rc) rc = set_init(&s[TEST], in->real_test, in->real_test_name, 0, 0);
    } else {
        rc = set_init(&s[TRAIN], in->real, in->real_name, 5, 0);
        if (!rc) rc = set_init(&s[TEST], in->real, in->real_name, 5, 1);
    }
    if (!rc && in->synth) rc = set_init(&s[SYNTH], in->synth, in->synth_name, 0, 0);
    for (int i = 0; !rc && i < NSETS; i++)
        if (s[i].ds && !s[i].n) rc = ns_error(NS_EARG, "%s: no flows for the %s side", s[i].name, set_names[i]);
    if (rc) sets_free(s);
    return rc;
}

/* "device=HueBridge" -> "HueBridge" */
static const char *token_value(const char *token)
{
    const char *eq = strchr(token, '=');
    return eq ? eq + 1 : token;
}

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

static void level_free(ns_eval_level *lv)
{
    for (int c = 0; c < lv->n_classes && lv->classes; c++) free(lv->classes[c]);
    free(lv->classes);
    free(lv->name);
}

/* The union of the attribute's values over the sets' datasets, sorted. */
static int level_init(ns_eval_level *lv, const char *attr, size_t len, const set *s)
{
    memset(lv, 0, sizeof *lv);
    if (!(lv->name = strndup(attr, len))) return ns_error(NS_ENOMEM, "out of memory");
    size_t cap = 0;
    for (int i = 0; i < NSETS; i++) {
        if (!s[i].ds) continue;
        int a = ns_dataset_attr(s[i].ds, lv->name);
        if (a < 0) return ns_error(NS_EARG, "%s: no attribute '%s'", s[i].name, lv->name);
        cap += s[i].ds->attr_first[a + 1] - s[i].ds->attr_first[a];
    }
    if (!(lv->classes = calloc(cap ? cap : 1, sizeof *lv->classes))) return ns_error(NS_ENOMEM, "out of memory");
    for (int i = 0; i < NSETS; i++) {
        if (!s[i].ds) continue;
        int a = ns_dataset_attr(s[i].ds, lv->name);
        for (uint32_t t = s[i].ds->attr_first[a]; t < s[i].ds->attr_first[a + 1]; t++) {
            const char *v = token_value(s[i].ds->tokens[t]);
            int seen = 0;
            for (int c = 0; c < lv->n_classes && !seen; c++) seen = !strcmp(lv->classes[c], v);
            if (seen) continue;
            if (!(lv->classes[lv->n_classes] = strdup(v))) return ns_error(NS_ENOMEM, "out of memory");
            lv->n_classes++;
        }
    }
    if (!lv->n_classes) return ns_error(NS_EARG, "attribute '%s' has no values", lv->name);
    qsort(lv->classes, (size_t)lv->n_classes, sizeof *lv->classes, cmp_str);
    return NS_OK;
}

static int levels_init(ns_eval_report *r, const char *labels, const set *s)
{
    size_t n = 1;
    for (const char *p = labels; *p; p++) n += *p == ',';
    if (!(r->levels = calloc(n, sizeof *r->levels))) return ns_error(NS_ENOMEM, "out of memory");
    for (const char *p = labels;;) {
        size_t len = strcspn(p, ",");
        if (!len) return ns_error(NS_EARG, "empty name in label list '%s'", labels);
        int rc = level_init(&r->levels[r->n_levels++], p, len, s);
        if (rc) return rc;
        if (!p[len]) break;
        p += len + 1;
    }
    return NS_OK;
}

/* Class id of every flow of the set for the level, -1 where it has none. */
static int set_classes(const set *s, const ns_eval_level *lv, int32_t *y)
{
    const ns_dataset *ds = s->ds;
    int a = ns_dataset_attr(ds, lv->name);
    uint32_t n_tok = ds->attr_first[a + 1] - ds->attr_first[a];
    int32_t *map = malloc((n_tok ? n_tok : 1) * sizeof *map);
    if (!map) return ns_error(NS_ENOMEM, "out of memory");
    for (uint32_t t = 0; t < n_tok; t++) {
        const char *v = token_value(ds->tokens[ds->attr_first[a] + t]);
        char **hit = bsearch(&v, lv->classes, (size_t)lv->n_classes, sizeof *lv->classes, cmp_str);
        map[t] = (int32_t)(hit - lv->classes);
    }
    for (size_t i = 0; i < s->n; i++) {
        int32_t tok = ds->labels[s->idx[i] * ds->n_attrs + (uint64_t)a];
        y[i] = tok >= (int32_t)ds->attr_first[a] && tok < (int32_t)ds->attr_first[a + 1]
                   ? map[tok - (int32_t)ds->attr_first[a]] : -1;
    }
    free(map);
    return NS_OK;
}

/* ---- features --------------------------------------------------------------- */

/* One set's features of one kind, with its class ids for one level; when
 * some flows lack a class, x and y are compacted copies. */
typedef struct fmat {
    ns_forest_x x;
    int32_t *y;
    void *own;    /* a compacted copy of the features, or NULL */
} fmat;

static size_t kind_dim(ns_eval_kind kind, int packets)
{
    return kind == NS_EVAL_NPRINT ? ns_features_nprint_dim(packets) : NS_FEATURES_NETFLOW_DIM;
}

/* packets: nPrint's first packets; NetFlow's (0: the whole flow) is o->netflow_packets, given here for it. */
static int features_of(const set *s, ns_eval_kind kind, int packets, void **out)
{
    size_t dim = kind_dim(kind, packets), esz = kind == NS_EVAL_NPRINT ? 1 : sizeof(float);
    *out = malloc(s->n * dim * esz);
    if (!*out) return ns_error(NS_ENOMEM, "%s: out of memory for %zu x %zu features", s->name, s->n, dim);
    int rc = kind == NS_EVAL_NPRINT ? ns_features_nprint(s->ds, s->idx, s->n, packets, *out)
                                    : ns_features_netflow(s->ds, s->idx, s->n, packets, *out);
    if (rc) {
        free(*out);
        *out = NULL;
        rc = ns_error_wrap(rc, "%s", s->name);
    }
    return rc;
}

static void fmat_free(fmat *m)
{
    free(m->y);
    free(m->own);
    memset(m, 0, sizeof *m);
}

static int fmat_init(fmat *m, const set *s, const void *feat, ns_eval_kind kind, int packets,
                     const ns_eval_level *lv)
{
    memset(m, 0, sizeof *m);
    size_t dim = kind_dim(kind, packets), esz = kind == NS_EVAL_NPRINT ? 1 : sizeof(float);
    if (!(m->y = malloc(s->n * sizeof *m->y))) return ns_error(NS_ENOMEM, "out of memory");
    int rc = set_classes(s, lv, m->y);
    if (rc) return rc;
    size_t kept = 0;
    for (size_t i = 0; i < s->n; i++) kept += m->y[i] >= 0;
    if (!kept) return ns_error(NS_EARG, "%s: no flow has a value for '%s'", s->name, lv->name);
    const void *x = feat;
    if (kept < s->n) {
        uint8_t *c = malloc(kept * dim * esz);
        if (!c) return ns_error(NS_ENOMEM, "out of memory");
        for (size_t i = 0, j = 0; i < s->n; i++) {
            if (m->y[i] < 0) continue;
            memcpy(c + j * dim * esz, (const uint8_t *)feat + i * dim * esz, dim * esz);
            m->y[j++] = m->y[i];
        }
        m->own = c;
        x = c;
    }
    m->x = (ns_forest_x){.n = kept, .d = dim};
    if (kind == NS_EVAL_NPRINT) m->x.i8 = x;
    else m->x.f32 = x;
    return NS_OK;
}

/* ---- runs -------------------------------------------------------------------- */

/* right: NULL, or one flag per tested flow, cleared where this level errs. */
static int test_into(ns_eval_result *res, const ns_forest *f, const fmat *te, int k, uint8_t *right)
{
    int32_t *pred = malloc(te->x.n * sizeof *pred);
    res->confusion = calloc((size_t)k * k, sizeof *res->confusion);
    if (!pred || !res->confusion) {
        free(pred);
        return ns_error(NS_ENOMEM, "out of memory");
    }
    double t0 = omp_get_wtime();
    int rc = ns_forest_predict(f, &te->x, pred);
    res->test_s = omp_get_wtime() - t0;
    for (size_t i = 0; !rc && i < te->x.n; i++) {
        res->confusion[(size_t)te->y[i] * k + pred[i]]++;
        if (right) right[i] &= pred[i] == te->y[i];
    }
    res->n_test = te->x.n;
    res->accuracy = ns_eval_accuracy(res->confusion, k);
    res->macro_f1 = ns_eval_macro_f1(res->confusion, k);
    free(pred);
    return rc;
}

static ns_eval_result *new_result(ns_eval_report *r, int level, ns_eval_kind kind, ns_eval_run run)
{
    ns_eval_result *res = &r->results[r->n_results++];
    memset(res, 0, sizeof *res);
    res->level = level;
    res->kind = kind;
    res->run = run;
    return res;
}

/* real and TRTS from one forest trained on real-train; TSTR from another.
 * right[run] are the flags test_into keeps per tested flow. */
static int eval_level(ns_eval_report *r, int level, ns_eval_kind kind, void *const *feat, const set *s,
                      const ns_eval_opts *o, uint8_t *const right[3])
{
    const ns_eval_level *lv = &r->levels[level];
    fmat m[NSETS];
    memset(m, 0, sizeof m);
    int rc = NS_OK;
    for (int i = 0; !rc && i < NSETS; i++)
        if (s[i].ds) rc = fmat_init(&m[i], &s[i], feat[i], kind, o->packets, lv);
    ns_forest_opts fo;
    ns_forest_opts_init(&fo);
    fo.n_trees = o->trees;
    fo.seed = o->seed;
    fo.threads = o->threads;
    static const int sides[2] = {TRAIN, SYNTH};
    for (int t = 0; !rc && t < 2; t++) {
        const int side = sides[t];
        if (!s[side].ds) continue;
        ns_forest *f = NULL;
        double t0 = omp_get_wtime();
        rc = ns_forest_train(&f, &m[side].x, m[side].y, lv->n_classes, &fo);
        double train_s = omp_get_wtime() - t0;
        if (rc) break;
        ns_eval_result *res = new_result(r, level, kind, side == TRAIN ? NS_EVAL_REAL : NS_EVAL_TSTR);
        res->n_train = m[side].x.n;
        res->train_s = train_s;
        rc = test_into(res, f, &m[TEST], lv->n_classes, right[res->run]);
        if (!rc && side == TRAIN && s[SYNTH].ds) {
            res = new_result(r, level, kind, NS_EVAL_TRTS);
            res->n_train = m[side].x.n;
            res->train_s = train_s;
            rc = test_into(res, f, &m[SYNTH], lv->n_classes, right[NS_EVAL_TRTS]);
        }
        ns_forest_free(f);
    }
    for (int i = 0; i < NSETS; i++) fmat_free(&m[i]);
    return rc;
}

static const ns_eval_result *find_result(const ns_eval_report *r, size_t level, int kind, int run)
{
    for (size_t i = 0; i < r->n_results; i++)
        if (r->results[i].level == (int)level && (int)r->results[i].kind == kind && (int)r->results[i].run == run)
            return &r->results[i];
    return NULL;
}

static int check_inputs(const ns_eval_inputs *in, const ns_eval_opts *o)
{
    if (!in->real) return ns_error(NS_EARG, "no real dataset");
    if (!o->labels || !*o->labels) return ns_error(NS_EARG, "no label attribute given");
    if (o->trees < 1 || o->packets < 1)
        return ns_error(NS_EARG, "need at least 1 tree and 1 packet (got %d, %d)", o->trees, o->packets);
    if (o->netflow_packets < 0 || o->netflow_packets > NS_FLOW_MAX_PACKETS)
        return ns_error(NS_EARG, "NetFlow features over %d packets: expected 0 (whole flows) to %d", o->netflow_packets,
                        NS_FLOW_MAX_PACKETS);
    return NS_OK;
}

int ns_eval(ns_eval_report *r, const ns_eval_inputs *in, const ns_eval_opts *o)
{
    memset(r, 0, sizeof *r);
    r->opts = *o;
    int rc = check_inputs(in, o);
    if (rc) return rc;
    double t0 = omp_get_wtime();
    set s[NSETS];
    if ((rc = sets_init(s, in))) return rc;
    rc = levels_init(r, o->labels, s);
    size_t max_results = r->n_levels * 2 * 3;
    if (!rc && !(r->results = calloc(max_results, sizeof *r->results)))
        rc = ns_error(NS_ENOMEM, "out of memory");
    for (int kind = 0; kind < 2; kind++)
        for (int run = 0; run < 3; run++) r->joint_accuracy[kind][run] = -1;
    for (int kind = NS_EVAL_NPRINT; !rc && kind <= (o->netflow ? NS_EVAL_NETFLOW : NS_EVAL_NPRINT); kind++) {
        void *feat[NSETS] = {0};
        /* Real and TSTR test on the test side, TRTS on the synthetic one. */
        size_t tested[3] = {s[TEST].n, s[TEST].n, s[SYNTH].ds ? s[SYNTH].n : 0};
        uint8_t *right[3] = {0};
        for (int run = 0; !rc && run < 3; run++)
            if (!(right[run] = malloc(tested[run] + 1))) rc = ns_error(NS_ENOMEM, "out of memory");
            else memset(right[run], 1, tested[run]);
        for (int i = 0; !rc && i < NSETS; i++)
            if (s[i].ds) rc = features_of(&s[i], (ns_eval_kind)kind, kind == NS_EVAL_NPRINT ? o->packets : o->netflow_packets,
                                          &feat[i]);
        size_t kinds = o->netflow ? 2 : 1;
        for (size_t lv = 0; !rc && lv < r->n_levels; lv++) {
            if (o->progress) o->progress(o->progress_ctx, "forests", kind * r->n_levels + lv, kinds * r->n_levels);
            rc = eval_level(r, (int)lv, (ns_eval_kind)kind, feat, s, o, right);
        }
        for (int run = 0; !rc && run < 3; run++) {
            if (!find_result(r, 0, kind, run)) continue;
            size_t ok = 0;
            for (size_t i = 0; i < tested[run]; i++) ok += right[run][i];
            r->joint_accuracy[kind][run] = tested[run] ? (double)ok / (double)tested[run] : 0;
        }
        for (int run = 0; run < 3; run++) free(right[run]);
        for (int i = 0; i < NSETS; i++) free(feat[i]);
    }
    sets_free(s);
    r->seconds = omp_get_wtime() - t0;
    if (rc) ns_eval_report_free(r);
    return rc;
}

void ns_eval_report_free(ns_eval_report *r)
{
    for (size_t i = 0; i < r->n_levels; i++) level_free(&r->levels[i]);
    for (size_t i = 0; i < r->n_results; i++) free(r->results[i].confusion);
    free(r->levels);
    free(r->results);
    memset(r, 0, sizeof *r);
}

/* ---- output -------------------------------------------------------------------- */

static const char *const kind_names[] = {"nprint", "netflow"};
static const char *const run_names[] = {"real", "TSTR", "TRTS"};


void ns_eval_print(const ns_eval_report *r, FILE *fp)
{
    char nf[64] = "whole flows";
    if (r->opts.netflow_packets > 0) snprintf(nf, sizeof nf, "first %d packets", r->opts.netflow_packets);
    fprintf(fp, "random forest, %d trees, first %d packets (NetFlow: %s), seed %llu (%.1f s)\n", r->opts.trees,
            r->opts.packets, r->opts.netflow ? nf : "off", (unsigned long long)r->opts.seed, r->seconds);
    fprintf(fp, "%-14s %-8s %7s   %-15s %-15s %-15s\n", "", "", "", "real->real", "TSTR", "TRTS");
    fprintf(fp, "%-14s %-8s %7s   %-7s %-7s %-7s %-7s %-7s %-7s\n", "label", "features", "classes", "acc",
            "F1", "acc", "F1", "acc", "F1");
    for (size_t lv = 0; lv < r->n_levels; lv++)
        for (int kind = 0; kind < 2; kind++) {
            if (!find_result(r, lv, kind, NS_EVAL_REAL)) continue;
            fprintf(fp, "%-14s %-8s %7d  ", r->levels[lv].name, kind_names[kind], r->levels[lv].n_classes);
            for (int run = 0; run < 3; run++) {
                const ns_eval_result *res = find_result(r, lv, kind, run);
                if (res) fprintf(fp, " %-7.3f %-7.3f", res->accuracy, res->macro_f1);
                else fprintf(fp, " %-7s %-7s", "-", "-");
            }
            fputc('\n', fp);
        }
    /* With several levels: how often every one of them was right at once. */
    for (int kind = 0; kind < 2 && r->n_levels > 1; kind++) {
        if (r->joint_accuracy[kind][NS_EVAL_REAL] < 0) continue;
        fprintf(fp, "%-14s %-8s %7s  ", "all at once", kind_names[kind], "");
        for (int run = 0; run < 3; run++)
            if (r->joint_accuracy[kind][run] >= 0) fprintf(fp, " %-7.3f %-7s", r->joint_accuracy[kind][run], "");
            else fprintf(fp, " %-7s %-7s", "-", "");
        fputc('\n', fp);
    }
}

void ns_json_string(FILE *fp, const char *s)
{
    fputc('"', fp);
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\') fprintf(fp, "\\%c", c);
        else if (c < 0x20) fprintf(fp, "\\u%04x", c);
        else fputc(c, fp);
    }
    fputc('"', fp);
}

void ns_eval_json_members(const ns_eval_report *r, FILE *fp)
{
    fprintf(fp, "  \"classifier\": \"random forest\",\n  \"trees\": %d,\n  \"packets\": %d,\n  \"seed\": %llu,\n",
            r->opts.trees, r->opts.packets, (unsigned long long)r->opts.seed);
    fprintf(fp, "  \"netflow_packets\": %d,\n", r->opts.netflow_packets); /* 0: whole flows */
    fprintf(fp, "  \"seconds\": %.3f,\n  \"levels\": [\n", r->seconds);
    for (size_t lv = 0; lv < r->n_levels; lv++) {
        const ns_eval_level *L = &r->levels[lv];
        fprintf(fp, "    {\"label\": ");
        ns_json_string(fp, L->name);
        fprintf(fp, ", \"classes\": [");
        for (int c = 0; c < L->n_classes; c++) {
            if (c) fputs(", ", fp);
            ns_json_string(fp, L->classes[c]);
        }
        fprintf(fp, "],\n     \"results\": [");
        int first = 1;
        for (size_t i = 0; i < r->n_results; i++) {
            const ns_eval_result *res = &r->results[i];
            if (res->level != (int)lv) continue;
            fprintf(fp, "%s\n       {\"features\": \"%s\", \"run\": \"%s\", \"n_train\": %zu, \"n_test\": %zu,"
                        " \"accuracy\": %.6f, \"macro_f1\": %.6f, \"train_s\": %.3f, \"test_s\": %.3f,\n"
                        "        \"chance_majority\": %.6f, \"chance_uniform\": %.6f,\n"
                        "        \"confusion\": [",
                    first ? "" : ",", kind_names[res->kind], run_names[res->run], res->n_train, res->n_test,
                    res->accuracy, res->macro_f1, res->train_s, res->test_s,
                    ns_eval_majority_rate(res->confusion, L->n_classes), L->n_classes ? 1.0 / L->n_classes : 0.0);
            first = 0;
            for (int a = 0; a < L->n_classes; a++) {
                fputs(a ? ", [" : "[", fp);
                for (int b = 0; b < L->n_classes; b++)
                    fprintf(fp, "%s%llu", b ? ", " : "",
                            (unsigned long long)res->confusion[(size_t)a * L->n_classes + b]);
                fputc(']', fp);
            }
            /* Per class, as scikit-learn's classification_report: null where undefined. */
            fputs("],\n        \"per_class\": [", fp);
            for (int c = 0; c < L->n_classes; c++) {
                double m[3];
                uint64_t support;
                ns_eval_class_metrics(res->confusion, L->n_classes, c, &m[0], &m[1], &m[2], &support);
                fprintf(fp, "%s{\"support\": %llu", c ? ", " : "", (unsigned long long)support);
                static const char *const names[3] = {"precision", "recall", "f1"};
                for (int q = 0; q < 3; q++)
                    if (isnan(m[q])) fprintf(fp, ", \"%s\": null", names[q]);
                    else fprintf(fp, ", \"%s\": %.6f", names[q], m[q]);
                fputc('}', fp);
            }
            fputs("]}", fp);
        }
        fprintf(fp, "]}%s\n", lv + 1 < r->n_levels ? "," : "");
    }
    fprintf(fp, "  ],\n  \"all_levels_accuracy\": {");
    for (int kind = 0, first = 1; kind < 2; kind++)
        for (int run = 0; run < 3; run++) {
            if (r->joint_accuracy[kind][run] < 0) continue;
            fprintf(fp, "%s\"%s %s\": %.6f", first ? "" : ", ", kind_names[kind], run_names[run],
                    r->joint_accuracy[kind][run]);
            first = 0;
        }
    fprintf(fp, "}");
}

int ns_eval_write_json(const ns_eval_report *r, const char *path)
{
    ns_outfile out;
    int rc = ns_outfile_open(&out, path);
    if (rc) return rc;
    fputs("{\n", out.fp);
    ns_eval_json_members(r, out.fp);
    fputs("\n}\n", out.fp);
    if (ferror(out.fp)) {
        ns_outfile_abort(&out);
        return ns_error(NS_EIO, "%s: write failed", path);
    }
    return ns_outfile_commit(&out);
}

/* ---- feature export ------------------------------------------------------------ */

/* A C-order .npy file (format 1.0) of an n x d (d 0: a vector) array. */
static int write_npy(const char *path, const char *descr, size_t n, size_t d, const void *data, size_t esz)
{
    char hdr[128];
    int len = d ? snprintf(hdr, sizeof hdr, "{'descr': '%s', 'fortran_order': False, 'shape': (%zu, %zu), }", descr, n, d)
                : snprintf(hdr, sizeof hdr, "{'descr': '%s', 'fortran_order': False, 'shape': (%zu,), }", descr, n);
    int total = 10 + len + 1, pad = (64 - total % 64) % 64;
    ns_outfile out;
    int rc = ns_outfile_open(&out, path);
    if (rc) return rc;
    uint16_t hlen = (uint16_t)(len + pad + 1);
    fwrite("\x93NUMPY\x01\x00", 1, 8, out.fp);
    fputc(hlen & 0xff, out.fp);
    fputc(hlen >> 8, out.fp);
    fprintf(out.fp, "%s%*s\n", hdr, pad, "");
    fwrite(data, esz, n * (d ? d : 1), out.fp);
    if (ferror(out.fp)) {
        ns_outfile_abort(&out);
        return ns_error(NS_EIO, "%s: write failed", path);
    }
    return ns_outfile_commit(&out);
}

static int dump_set(const set *s, const char *side, const ns_eval_report *r, const ns_eval_opts *o,
                    const char *dir)
{
    char path[4096];
    int rc = NS_OK;
    for (int kind = NS_EVAL_NPRINT; !rc && kind <= NS_EVAL_NETFLOW; kind++) {
        void *feat;
        if ((rc = features_of(s, (ns_eval_kind)kind, kind == NS_EVAL_NPRINT ? o->packets : o->netflow_packets, &feat)))
            break;
        snprintf(path, sizeof path, "%s/%s_%s.npy", dir, side, kind_names[kind]);
        rc = kind == NS_EVAL_NPRINT ? write_npy(path, "|i1", s->n, kind_dim(kind, o->packets), feat, 1)
                                    : write_npy(path, "<f4", s->n, kind_dim(kind, o->packets), feat, sizeof(float));
        free(feat);
    }
    int32_t *y = malloc(s->n * sizeof *y);
    if (!rc && !y) rc = ns_error(NS_ENOMEM, "out of memory");
    for (size_t lv = 0; !rc && lv < r->n_levels; lv++) {
        if ((rc = set_classes(s, &r->levels[lv], y))) break;
        snprintf(path, sizeof path, "%s/%s_%s.npy", dir, side, r->levels[lv].name);
        rc = write_npy(path, "<i4", s->n, 0, y, sizeof *y);
    }
    free(y);
    return rc;
}

int ns_eval_dump_features(const ns_eval_inputs *in, const ns_eval_opts *o, const char *dir)
{
    int rc = check_inputs(in, o);
    if (rc) return rc;
    set s[NSETS];
    if ((rc = sets_init(s, in))) return rc;
    ns_eval_report r = {0};
    rc = levels_init(&r, o->labels, s);
    if (!rc) rc = dump_set(&s[TRAIN], "train", &r, o, dir);
    if (!rc) rc = dump_set(&s[TEST], "test", &r, o, dir);
    char path[4096];
    for (size_t lv = 0; !rc && lv < r.n_levels; lv++) {
        snprintf(path, sizeof path, "%s/%s_classes.txt", dir, r.levels[lv].name);
        ns_outfile out;
        if ((rc = ns_outfile_open(&out, path))) break;
        for (int c = 0; c < r.levels[lv].n_classes; c++) fprintf(out.fp, "%s\n", r.levels[lv].classes[c]);
        rc = ns_outfile_commit(&out);
    }
    ns_eval_report_free(&r);
    sets_free(s);
    return rc;
}

/* ---- sides, for the other measures ------------------------------------------------- */

int ns_eval_sides(ns_eval_side *sides, const ns_eval_report *r, const ns_eval_inputs *in)
{
    memset(sides, 0, NS_EVAL_SIDES * sizeof *sides);
    set s[NSETS];
    int rc = sets_init(s, in);
    if (rc) return rc;
    for (int i = 0; i < NSETS; i++) {
        sides[i] = (ns_eval_side){s[i].ds, s[i].name, s[i].idx, s[i].n, NULL};
        if (!s[i].ds) continue;
        if (!(sides[i].cls = calloc(r->n_levels + 1, sizeof *sides[i].cls))) rc = ns_error(NS_ENOMEM, "out of memory");
        for (size_t lv = 0; !rc && lv < r->n_levels; lv++) {
            if (!(sides[i].cls[lv] = malloc((s[i].n + 1) * sizeof **sides[i].cls)))
                rc = ns_error(NS_ENOMEM, "out of memory");
            else rc = set_classes(&s[i], &r->levels[lv], sides[i].cls[lv]);
        }
    }
    if (rc) ns_eval_sides_free(sides, r->n_levels);
    return rc;
}

void ns_eval_sides_free(ns_eval_side *sides, size_t n_levels)
{
    for (int i = 0; i < NS_EVAL_SIDES; i++) {
        for (size_t lv = 0; sides[i].cls && lv < n_levels; lv++) free(sides[i].cls[lv]);
        free(sides[i].cls);
        free(sides[i].idx);
    }
    memset(sides, 0, NS_EVAL_SIDES * sizeof *sides);
}

/* ---- inputs -------------------------------------------------------------------- */

void ns_eval_source_free(ns_eval_source *s)
{
    ns_dataset_free(&s->train);
    ns_dataset_free(&s->test);
    for (size_t i = 0; i < s->n_captures; i++) free(s->captures[i]);
    free(s->captures);
    for (size_t i = 0; i < s->n_warnings; i++) free(s->warnings[i]);
    free(s->warnings);
    memset(s, 0, sizeof *s);
}

static int is_dataset_file(const char *path, int *yes)
{
    FILE *fp = fopen(path, "rb");
    if (!fp) return ns_error(NS_EIO, "%s: cannot open: %s", path, strerror(errno));
    char magic[8] = {0};
    size_t got = fread(magic, 1, sizeof magic, fp);
    fclose(fp);
    /* Any netsynth file ("NSYN..."), or one cut inside the magic, goes to the
     * dataset reader, which says what it is (truncated, a model): read as a
     * table it would only lack a 'path' column. */
    *yes = got > 0 && !memcmp(magic, NS_DATASET_MAGIC, got < 4 ? got : 4);
    return NS_OK;
}

/* A truncated capture's message, kept for the caller to print. */
static void keep_warning(void *ctx, const char *msg)
{
    ns_eval_source *s = ctx;
    char **more = realloc(s->warnings, (s->n_warnings + 1) * sizeof *more);
    if (!more) return;   /* out of memory: the warning is lost, not the evaluation */
    s->warnings = more;
    if ((more[s->n_warnings] = strdup(msg))) s->n_warnings++;
}

/* Build the table's rows of `split` (NULL: all) into ds through a temporary file. */
static int build_from_table(ns_eval_source *s, ns_dataset *ds, const char *path, const char *labels, int max_packets,
                            const char *split, int flags)
{
    const char *tmpdir = getenv("TMPDIR");
    char tmp[4096];
    snprintf(tmp, sizeof tmp, "%s/netsynth-eval-XXXXXX", tmpdir && *tmpdir ? tmpdir : "/tmp");
    int fd = mkstemp(tmp);
    if (fd < 0) return ns_error(NS_EIO, "%s: cannot create a temporary dataset %s: %s", path, tmp, strerror(errno));
    close(fd);
    ns_dataset_opts o;
    ns_dataset_opts_init(&o);
    o.labels_path = path;
    o.label_cols = labels;
    o.split = split;
    o.max_packets = max_packets;
    o.allow_duplicate_captures = (flags & NS_EVAL_ALLOW_DUPLICATES) != 0;
    if ((unsigned)flags >> 8) o.payload_bytes = (int)(((unsigned)flags >> 8) - 1);
    o.warn = keep_warning;
    o.warn_ctx = s;
    ns_dataset_stats st;
    int rc = ns_dataset_build(&o, tmp, &st);
    if (!rc) rc = ns_dataset_load(ds, tmp);
    if (!rc) s->packets_read += st.packets_read;
    unlink(tmp);
    return rc;
}

/* Every row's capture path, resolved against the table's folder. */
static int table_captures(ns_eval_source *s, const char *path)
{
    ns_labels t = {0};
    int rc = ns_labels_load(&t, path);
    if (rc) return rc;
    int col = ns_labels_column(&t, "path");
    if (col < 0) rc = ns_error(NS_EFORMAT, "%s: no 'path' column", path);
    const char *slash = strrchr(path, '/');
    int dir_len = slash ? (int)(slash - path) + 1 : 0;
    if (!rc && !(s->captures = calloc(t.n_rows + 1, sizeof *s->captures))) rc = ns_error(NS_ENOMEM, "%s: out of memory", path);
    for (size_t r = 0; !rc && r < t.n_rows; r++) {
        const char *p = ns_labels_cell(&t, r, col);
        size_t len = strlen(p) + (size_t)dir_len + 1;
        if (!(s->captures[r] = malloc(len))) rc = ns_error(NS_ENOMEM, "%s: out of memory", path);
        else snprintf(s->captures[r], len, "%.*s%s", p[0] == '/' ? 0 : dir_len, path, p);
        s->n_captures = r + 1;
    }
    ns_labels_free(&t);
    return rc;
}

int ns_eval_source_load(ns_eval_source *s, const char *path, const char *labels, int max_packets, int flags)
{
    memset(s, 0, sizeof *s);
    int rc = is_dataset_file(path, &s->is_table);
    if (rc) return rc;
    s->is_table = !s->is_table;
    if (!s->is_table) return ns_dataset_load(&s->train, path);
    if ((rc = table_captures(s, path))) {
        ns_eval_source_free(s);
        return rc;
    }
    int split = 0;
    if (flags & NS_EVAL_SPLIT) { /* a split column with both "train" and "test" rows */
        ns_labels t = {0};
        if (!(rc = ns_labels_load(&t, path))) {
            int col = ns_labels_column(&t, "split"), train = 0, test = 0;
            for (size_t r = 0; col >= 0 && r < t.n_rows; r++) {
                train |= !strcmp(ns_labels_cell(&t, r, col), "train");
                test |= !strcmp(ns_labels_cell(&t, r, col), "test");
            }
            split = train && test;
        }
        ns_labels_free(&t);
    }
    if (!rc) rc = build_from_table(s, &s->train, path, labels, max_packets, split ? "train" : NULL, flags);
    if (!rc && split) {
        rc = build_from_table(s, &s->test, path, labels, max_packets, "test", flags);
        s->has_test = !rc;
    }
    if (rc) ns_eval_source_free(s);
    return rc;
}

/* ---- whole flows ------------------------------------------------------------ */

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

enum { LOG2_BINS = 20 }; /* 2^19 and up in the last: past the dataset cap */

static int log2_bin(uint64_t n)
{
    int b = 0;
    while (n > 1 && b < LOG2_BINS - 1) n >>= 1, b++;
    return b;
}

static long field_value(const int8_t *row, ns_nprint_field_id f)
{
    return ns_nprint_has(row, f) ? (long)ns_nprint_get(row, f) : -1;
}

/* Flow f of ds: packets, bytes, and whether TCP, ended by FIN, by RST. */
static void whole_flow(const ns_dataset *ds, uint64_t f, uint64_t *packets, uint64_t *bytes, int *tcp, int *fin,
                       int *rst)
{
    const ns_ds_flow *fl = &ds->flows[f];
    *tcp = fl->proto == 6;
    if (ds->totals) {
        const ns_ds_totals *t = &ds->totals[f];
        *packets = t->packets[0] + t->packets[1], *bytes = t->bytes[0] + t->bytes[1];
        *rst = t->end == NS_DS_END_RST, *fin = t->end == NS_DS_END_FIN;
        return;
    }
    int8_t row[NS_NP_MODEL_WIDTH];
    uint8_t flags = 0;
    *packets = fl->n_packets, *bytes = 0;
    for (uint32_t p = 0; p < fl->n_packets; p++) {
        ns_dataset_row(ds, fl->first + p, row);
        long tl = field_value(row, NS_NPF_IPV4_TL);
        *bytes += tl > 0 ? (uint64_t)tl : 0;
        if (row[NS_NP_COL_TCP_CWR] >= 0) flags |= (uint8_t)ns_nprint_bits_get(row, NS_NP_COL_TCP_CWR, 8);
    }
    *rst = (flags & 0x04) != 0, *fin = !*rst && (flags & 0x01);
}

int ns_eval_whole_flows(ns_eval_whole *w, int n_classes, const ns_eval_side *real, const ns_eval_side *synth)
{
    size_t K = (size_t)n_classes + 1, most = real->n + (synth ? synth->n : 0);
    memset(w, 0, K * sizeof *w);
    uint64_t *len = malloc((most + 1) * sizeof *len);
    double *hist = calloc(K * 2 * LOG2_BINS, sizeof *hist);
    int *which = malloc((most + 1) * sizeof *which);
    if (!len || !hist || !which) {
        free(len), free(hist), free(which);
        return ns_error(NS_ENOMEM, "whole flows: out of memory");
    }
    const ns_eval_side *sides[2] = {real, synth};
    for (int s = 0; s < 2; s++) {
        const ns_eval_side *e = sides[s];
        if (!e || !e->ds) continue;
        for (size_t i = 0; i < e->n; i++) {
            uint64_t f = e->idx ? e->idx[i] : i, pk, by;
            int tcp, fin, rst;
            whole_flow(e->ds, f, &pk, &by, &tcp, &fin, &rst);
            int c = e->cls ? e->cls[0][i] : -1;
            len[i] = pk;
            which[i] = c;
            for (int k = 0; k < 2; k++) {
                size_t at = k ? (size_t)n_classes : (size_t)c;
                if (!k && c < 0) continue;
                ns_eval_whole_side *x = &w[at].side[s];
                x->flows++, x->packets += pk, x->bytes += by;
                x->tcp += tcp, x->tcp_fin += tcp && fin, x->tcp_rst += tcp && rst;
                hist[(at * 2 + (size_t)s) * LOG2_BINS + (size_t)log2_bin(pk)] += 1;
            }
        }
        /* Percentiles per class: the side's lengths of each class, sorted. */
        uint64_t *tmp = malloc((e->n + 1) * sizeof *tmp);
        if (!tmp) {
            free(len), free(hist), free(which);
            return ns_error(NS_ENOMEM, "whole flows: out of memory");
        }
        for (size_t at = 0; at < K; at++) {
            size_t m = 0;
            for (size_t i = 0; i < e->n; i++)
                if (at == (size_t)n_classes || which[i] == (int)at) tmp[m++] = len[i];
            if (!m) continue;
            qsort(tmp, m, sizeof *tmp, cmp_u64);
            ns_eval_whole_side *x = &w[at].side[s];
            x->p50 = tmp[(m * 50 + 99) / 100 - 1], x->p90 = tmp[(m * 90 + 99) / 100 - 1];
            x->p99 = tmp[(m * 99 + 99) / 100 - 1], x->max = tmp[m - 1];
        }
        free(tmp);
    }
    /* each flow counts in one bin: a histogram sums to its side's flows (none: NaN) */
    for (size_t at = 0; at < K; at++)
        w[at].jsd = ns_dist_measures(hist + at * 2 * LOG2_BINS, hist + (at * 2 + 1) * LOG2_BINS, NULL, LOG2_BINS).jsd;
    free(len), free(hist), free(which);
    return NS_OK;
}
