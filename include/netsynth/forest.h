/* forest.h: a random forest classifier (Breiman; scikit-learn's defaults).
 *
 * Gini impurity, bootstrap samples, sqrt(d) features drawn per node (those
 * constant in the node count; more are drawn only when none of them varies,
 * as in scikit-learn), trees grown to purity (one sample per leaf at least)
 * up to a depth safeguard; a prediction averages the trees' leaf class
 * distributions. Built for wide, few-valued features such as nPrint bits
 * (int8: 1, 0, -1): every feature is split from a histogram of its values in
 * the node, so the best split of a feature costs one pass over the node's
 * samples and no sort. Float features are first cut into at most 256 bins at
 * the midpoints between training values (quantiles when there are more
 * distinct values than that), so both kinds share the one split finder.
 *
 * Trees are grown in parallel (OpenMP), each from its own random stream
 * (seed, tree index): a seed gives the same forest whatever the thread count. */
#ifndef NETSYNTH_FOREST_H
#define NETSYNTH_FOREST_H
#ifdef __cplusplus
extern "C" {
#endif
#pragma GCC visibility push(default)

#include <stddef.h>
#include <stdint.h>

/* n samples x d features, row-major (sample i is x[i * d .. i * d + d - 1]):
 * exactly one of i8 and f32 is set. */
typedef struct ns_forest_x {
    size_t n, d;
    const int8_t *i8;
    const float *f32;
} ns_forest_x;

#define NS_FOREST_MAX_DEPTH 128
#define NS_FOREST_MAX_CLASSES 65536

typedef struct ns_forest_opts {
    int n_trees;          /* 100 */
    int max_features;     /* tried per node; 0: floor(sqrt(d)), at least 1 */
    int max_depth;        /* 1..NS_FOREST_MAX_DEPTH (default) */
    int min_samples_leaf; /* 1 */
    int bootstrap;        /* 1: each tree sees n draws with replacement; 0: all samples */
    uint64_t seed;
    int threads;          /* 0: OpenMP's default */
} ns_forest_opts;

typedef struct ns_forest ns_forest;

void ns_forest_opts_init(ns_forest_opts *o);

/* Train on x with labels y[n] in [0, n_classes). */
int ns_forest_train(ns_forest **out, const ns_forest_x *x, const int32_t *y, int n_classes,
                    const ns_forest_opts *o);
void ns_forest_free(ns_forest *f);

/* Class probabilities, proba[n * n_classes]; each row sums to 1. x must have
 * the training's d and kind (int8 or float). */
int ns_forest_predict_proba(const ns_forest *f, const ns_forest_x *x, float *proba);
/* The most probable class of each sample (the lowest id on a tie). */
int ns_forest_predict(const ns_forest *f, const ns_forest_x *x, int32_t *pred);

int ns_forest_n_classes(const ns_forest *f);
/* Nodes in all trees, and the deepest leaf's depth (root = 0). */
size_t ns_forest_n_nodes(const ns_forest *f);
int ns_forest_depth(const ns_forest *f);

#pragma GCC visibility pop
#ifdef __cplusplus
}
#endif

#endif
