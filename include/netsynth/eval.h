/* eval.h: fidelity of synthetic flows, judged by a classifier.
 *
 * For each label level (dataset attribute, e.g. device, device_type) and
 * each feature kind (nPrint bits of the first packets; NetFlow-style
 * statistics of the whole flow, features.h), a random forest is trained and tested three ways:
 *   real  real-train -> real-test   (the ceiling)
 *   TSTR  synth      -> real-test   (train synthetic, test real)
 *   TRTS  real-train -> synth       (train real, test synthetic)
 * Classes are the attribute's values, matched by name across the datasets
 * (the union, sorted); a flow without a value for the attribute is left out
 * of that level. With no real test set, the real set is split by capture
 * file: every fifth file (file index % 5 == 4) is the test side. */
#ifndef NETSYNTH_EVAL_H
#define NETSYNTH_EVAL_H
#ifdef __cplusplus
extern "C" {
#endif
#pragma GCC visibility push(default)

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "netsynth/dataset.h"

typedef struct ns_eval_inputs {
    const ns_dataset *real, *real_test, *synth; /* real_test, synth may be NULL */
    const char *real_name, *real_test_name, *synth_name; /* for messages */
} ns_eval_inputs;

typedef struct ns_eval_opts {
    const char *labels;  /* comma-separated attributes: "device,device_type" */
    int packets;         /* first N packets per flow: 16 */
    int trees;           /* 100 */
    uint64_t seed;       /* 0 */
    int threads;         /* 0: OpenMP's default */
    int netflow;         /* 1: also on NetFlow features */
    int netflow_packets; /* 0 (default): NetFlow features over the whole flow, as NetFlow
                          * sees it (features.h); N > 0: its first N packets */
    /* NULL, or told what is being done: stage "forests" with the (label,
     * feature kind) pairs done of all, then ns_report_run's stages ("traces",
     * "distances", "memorisation", "compliance") with done 0 of total 1. */
    void (*progress)(void *ctx, const char *stage, size_t done, size_t total);
    void *progress_ctx;
} ns_eval_opts;

void ns_eval_opts_init(ns_eval_opts *o);

typedef enum ns_eval_run { NS_EVAL_REAL, NS_EVAL_TSTR, NS_EVAL_TRTS } ns_eval_run;
typedef enum ns_eval_kind { NS_EVAL_NPRINT, NS_EVAL_NETFLOW } ns_eval_kind;

typedef struct ns_eval_result {
    int level;              /* index into the report's levels */
    ns_eval_kind kind;
    ns_eval_run run;
    size_t n_train, n_test;
    double accuracy, macro_f1;
    uint64_t *confusion;    /* k x k: row = true class, column = predicted */
    double train_s, test_s; /* seconds; train_s is shared by real and TRTS */
} ns_eval_result;

typedef struct ns_eval_level {
    char *name;             /* "device" */
    int n_classes;
    char **classes;         /* [n_classes] values, "HueBridge", sorted */
} ns_eval_level;

typedef struct ns_eval_report {
    ns_eval_opts opts;
    size_t n_levels, n_results;
    ns_eval_level *levels;
    ns_eval_result *results;
    /* [kind][run]: the share of tested flows whose every level was predicted
     * right ("recognised on all attributes"); -1 where not run. */
    double joint_accuracy[2][3];
    double seconds;         /* the whole evaluation */
} ns_eval_report;

int ns_eval(ns_eval_report *r, const ns_eval_inputs *in, const ns_eval_opts *o);
void ns_eval_report_free(ns_eval_report *r);
/* A table, one line per label level and feature kind, runs side by side. */
void ns_eval_print(const ns_eval_report *r, FILE *fp);
/* s as a JSON string literal, quoted and escaped (also report.h's writer). */
void ns_json_string(FILE *fp, const char *s);
/* Everything, confusion matrices included, as JSON (written atomically). */
int ns_eval_write_json(const ns_eval_report *r, const char *path);

/* Metrics of a k x k confusion matrix (row = true). Macro-F1 averages
 * 2 tp / (true + predicted) over the classes that occur in either (as
 * scikit-learn's f1_score(average="macro"): a class never predicted scores 0). */
double ns_eval_accuracy(const uint64_t *confusion, int k);
double ns_eval_macro_f1(const uint64_t *confusion, int k);
/* Class c's precision tp / predicted, recall tp / true and F1 2 tp / (true +
 * predicted), each NaN when its denominator is 0; *support (may be NULL) the
 * flows truly of class c. */
void ns_eval_class_metrics(const uint64_t *confusion, int k, int c, double *precision, double *recall, double *f1,
                           uint64_t *support);
/* Chance: the accuracy of always answering the most frequent true class (the
 * majority rate of the tested flows; 0 when none). 1/k is the other line. */
double ns_eval_majority_rate(const uint64_t *confusion, int k);

/* Write the features and class ids eval would use for the real train and
 * test sets as NumPy .npy files in dir (for outside tools): train_nprint
 * (int8), train_netflow (float32), train_LABEL (int32, -1 when missing),
 * the same for test, and LABEL_classes.txt (one class name a line). */
int ns_eval_dump_features(const ns_eval_inputs *in, const ns_eval_opts *o, const char *dir);

/* The flows of each side an evaluation uses (the real train and test sets as
 * ns_eval splits them, the synthetic set) with their class ids per level of
 * r (cls[level][i], -1: none); ds NULL for a side that is not there. */
enum { NS_EVAL_TRAIN, NS_EVAL_TEST, NS_EVAL_SYNTH, NS_EVAL_SIDES };
typedef struct ns_eval_side {
    const ns_dataset *ds;
    const char *name;
    uint64_t *idx;
    size_t n;
    int32_t **cls;
} ns_eval_side;

int ns_eval_sides(ns_eval_side *sides, const ns_eval_report *r, const ns_eval_inputs *in);
void ns_eval_sides_free(ns_eval_side *sides, size_t n_levels);

/* Whole flows per class (issue 15), real train against synthetic: what a
 * synthetic trace carries and how its flows end. A flow's packets and
 * bytes (IPv4 total lengths) are its totals (dataset.h), or its kept rows
 * where a version 1 file has none; it ended with FIN or RST as its totals
 * say (else as its rows' TCP flags say). */
typedef struct ns_eval_whole_side {
    uint64_t flows, packets, bytes;
    uint64_t tcp, tcp_fin, tcp_rst;      /* TCP flows; of them ended by FIN (no RST), by RST */
    uint64_t p50, p90, p99, max;         /* packets per flow (nearest rank) */
} ns_eval_whole_side;

typedef struct ns_eval_whole {
    ns_eval_whole_side side[2];          /* real train, synthetic */
    double jsd;                          /* packets per flow, over log2 bins (1, 2-3, 4-7, ...), base 2 */
} ns_eval_whole;

/* w[n_classes + 1]: class c of level 0 (sides' cls[0]), then every flow of
 * either side. */
int ns_eval_whole_flows(ns_eval_whole *w, int n_classes, const ns_eval_side *real, const ns_eval_side *synth);

/* The JSON members of the report (no braces), each line indented two spaces;
 * ns_eval_write_json and the fidelity report (report.h) share it. */
void ns_eval_json_members(const ns_eval_report *r, FILE *fp);

/* ---- inputs: dataset files or tables of captures -------------------------------
 * REAL or SYNTH as given on the command line: a dataset file, or a labels.tsv
 * table of captures (a `path` column, label columns; the layout `netsynth
 * generate --per-class/--like DIR` writes and the corpus uses), built into
 * datasets in memory. With NS_EVAL_SPLIT and a `split` column that has
 * both, rows "train" make train and rows "test" make test; otherwise every
 * row makes train. Two rows naming the same capture are an error unless
 * NS_EVAL_ALLOW_DUPLICATES (see ns_dataset_opts); a capture that ends in a
 * cut-short record is used up to the cut and leaves a message in warnings. */
enum { NS_EVAL_SPLIT = 1, NS_EVAL_ALLOW_DUPLICATES = 2 };
/* A table's captures read with `dataset --payload n` (0..NS_DS_MAX_PAYLOAD)
 * bytes of payload; without it, the dataset's default. Both sides of a
 * comparison should keep the same bytes, the ones the model was given. */
#define NS_EVAL_PAYLOAD(n) ((((unsigned)(n) & 0x7fu) + 1u) << 8)
typedef struct ns_eval_source {
    ns_dataset train, test;
    int has_test;          /* test holds the table's split "test" */
    int is_table;
    size_t n_captures;     /* a table's captures (every row), paths resolved */
    char **captures;
    uint64_t packets_read; /* packets read from them (both splits) */
    size_t n_warnings;     /* truncated captures, one message each naming the file */
    char **warnings;
} ns_eval_source;

/* labels: the comma-separated columns to keep; max_packets per flow;
 * flags: NS_EVAL_*. */
int ns_eval_source_load(ns_eval_source *s, const char *path, const char *labels, int max_packets, int flags);
void ns_eval_source_free(ns_eval_source *s);

#pragma GCC visibility pop
#ifdef __cplusplus
}
#endif

#endif
