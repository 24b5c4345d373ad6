/* forest.c: random forest on binned features, grown depth-first like
 * scikit-learn's DepthFirstTreeBuilder + BestSplitter.
 *
 * Training first turns the row-major input into a feature-major matrix of
 * uint8 bin codes, keeping only the features that vary in the training set:
 * an int8 value v becomes v - min (nPrint bits: 3 bins), a float its bin
 * among at most 256 (midpoints between distinct values, or quantiles). Per
 * node, a feature's split comes from a histogram of weighted class counts
 * per bin: one pass over the node's samples, then a sweep over the bins.
 * Each bin remembers the smallest and largest training value it holds, so a
 * split between bins a and b stores the threshold (max of a + min of b) / 2
 * in the feature's own units, and prediction compares raw values (x <= t:
 * left).
 *
 * Features drawn per node follow scikit-learn: max_features draws without
 * replacement, constant features included (more when none of those drawn
 * varies in the node); a feature found constant in a node stays known-constant
 * in its subtree and is never scanned again there, which keeps deep nodes
 * cheap when most features are. Features constant in the whole training set
 * are known-constant from the root on: they are drawn, count, and cost
 * nothing. (Drawing among varying features only, as an earlier version did,
 * tries more useful features per node: +0.04 device accuracy on the corpus,
 * but no longer the forest the reference numbers were measured with.) */
#include "netsynth/forest.h"

#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "netsynth/error.h"
#include "netsynth/rng.h"

#define MAX_BINS 256

typedef struct fnode {
    int32_t feature;  /* original feature index; -1 for a leaf */
    float thr;        /* x <= thr goes left */
    int32_t left;     /* child, or (leaf) offset of its distribution in dist */
    int32_t right;
} fnode;

typedef struct tree {
    fnode *nodes;
    size_t n_nodes, cap;
    float *dist;      /* n_leaves * n_classes */
    size_t n_leaves, dist_cap;
    int depth;
} tree;

struct ns_forest {
    int n_trees, n_classes, is_float;
    size_t d;
    tree *trees;
};

/* The binned training set, shared read-only by every tree. */
typedef struct binned {
    size_t n, d, m;      /* samples, features, kept (non-constant) features */
    const int32_t *y;
    int n_classes;
    uint32_t *feat;      /* [m] original index */
    uint16_t *nbins;     /* [m] */
    float *bmin, *bmax;  /* [m * MAX_BINS] smallest / largest value per bin */
    uint8_t *codes;      /* [m * n] feature-major */
    int max_bins;        /* largest nbins */
} binned;

void ns_forest_opts_init(ns_forest_opts *o)
{
    memset(o, 0, sizeof *o);
    o->n_trees = 100;
    o->max_depth = NS_FOREST_MAX_DEPTH;
    o->min_samples_leaf = 1;
    o->bootstrap = 1;
}

/* ---- binning ------------------------------------------------------------- */

static void binned_free(binned *b)
{
    free(b->feat);
    free(b->nbins);
    free(b->bmin);
    free(b->bmax);
    free(b->codes);
}

static int cmp_float(const void *a, const void *b)
{
    float x = *(const float *)a, y = *(const float *)b;
    return (x > y) - (x < y);
}

/* int8 input: code = v - min per feature; constant features are dropped. */
static int bin_i8(binned *b, const ns_forest_x *x)
{
    size_t n = x->n, d = x->d;
    int8_t *lo = malloc(d), *hi = malloc(d);
    if (!lo || !hi) {
        free(lo);
        free(hi);
        return ns_error(NS_ENOMEM, "forest: out of memory for %zu features", d);
    }
    memcpy(lo, x->i8, d);
    memcpy(hi, x->i8, d);
    for (size_t i = 1; i < n; i++) {
        const int8_t *r = x->i8 + i * d;
        for (size_t j = 0; j < d; j++) {
            lo[j] = r[j] < lo[j] ? r[j] : lo[j];
            hi[j] = r[j] > hi[j] ? r[j] : hi[j];
        }
    }
    size_t m = 0;
    for (size_t j = 0; j < d; j++) m += lo[j] != hi[j];
    b->m = m;
    b->feat = malloc((m ? m : 1) * sizeof *b->feat);
    b->nbins = malloc((m ? m : 1) * sizeof *b->nbins);
    b->bmin = malloc((m ? m : 1) * MAX_BINS * sizeof(float));
    b->bmax = malloc((m ? m : 1) * MAX_BINS * sizeof(float));
    b->codes = malloc((m ? m : 1) * n);
    if (!b->feat || !b->nbins || !b->bmin || !b->bmax || !b->codes) {
        free(lo);
        free(hi);
        return ns_error(NS_ENOMEM, "forest: out of memory binning %zu x %zu features", n, m);
    }
    b->max_bins = 1;
    for (size_t j = 0, k = 0; j < d; j++) {
        if (lo[j] == hi[j]) continue;
        b->feat[k] = (uint32_t)j;
        b->nbins[k] = (uint16_t)(hi[j] - lo[j] + 1);
        if (b->nbins[k] > b->max_bins) b->max_bins = b->nbins[k];
        for (int v = 0; v < b->nbins[k]; v++)
            b->bmin[k * MAX_BINS + v] = b->bmax[k * MAX_BINS + v] = (float)(lo[j] + v);
        k++;
    }
    /* Transpose in blocks of 64 kept features so each row read is short. */
    const size_t blk = 64;
#pragma omp parallel for schedule(static)
    for (size_t k0 = 0; k0 < m; k0 += blk) {
        size_t k1 = k0 + blk < m ? k0 + blk : m;
        for (size_t i = 0; i < n; i++) {
            const int8_t *r = x->i8 + i * d;
            for (size_t k = k0; k < k1; k++)
                b->codes[k * n + i] = (uint8_t)(r[b->feat[k]] - lo[b->feat[k]]);
        }
    }
    free(lo);
    free(hi);
    return NS_OK;
}

/* One float feature: sorted values -> at most MAX_BINS bins of whole runs of
 * equal values, cut at quantiles when there are more distinct values. */
static int bin_f32_feature(binned *b, size_t k, const float *sorted, size_t n)
{
    float *bmin = b->bmin + k * MAX_BINS, *bmax = b->bmax + k * MAX_BINS;
    size_t distinct = 1;
    for (size_t i = 1; i < n; i++) distinct += sorted[i] != sorted[i - 1];
    int nb = 0;
    size_t i = 0;
    while (i < n) {
        /* The bin ends at the run holding the next quantile position. */
        size_t end = distinct <= MAX_BINS ? i + 1 : (size_t)(((double)(nb + 1) * n) / MAX_BINS);
        if (end <= i) end = i + 1;
        if (end > n) end = n;
        while (end < n && sorted[end] == sorted[end - 1]) end++;
        bmin[nb] = sorted[i];
        bmax[nb] = sorted[end - 1];
        nb++;
        i = end;
        if (nb == MAX_BINS && i < n) { /* the last bin takes what is left */
            bmax[nb - 1] = sorted[n - 1];
            break;
        }
    }
    b->nbins[k] = (uint16_t)nb;
    return nb;
}

static uint8_t float_code(const float *bmax, int nb, float v)
{
    int lo = 0, hi = nb - 1; /* first bin whose max >= v */
    while (lo < hi) {
        int mid = (lo + hi) / 2;
        if (bmax[mid] >= v) hi = mid;
        else lo = mid + 1;
    }
    return (uint8_t)lo;
}

static int bin_f32(binned *b, const ns_forest_x *x)
{
    size_t n = x->n, d = x->d;
    for (size_t i = 0; i < n * d; i++)
        if (isnan(x->f32[i]))
            return ns_error(NS_EARG, "forest: feature %zu of sample %zu is NaN", i % d, i / d);
    b->feat = malloc(d * sizeof *b->feat);
    b->nbins = malloc(d * sizeof *b->nbins);
    b->bmin = malloc(d * MAX_BINS * sizeof(float));
    b->bmax = malloc(d * MAX_BINS * sizeof(float));
    b->codes = malloc(d * n);
    float *col = malloc(n * sizeof *col);
    if (!b->feat || !b->nbins || !b->bmin || !b->bmax || !b->codes || !col) {
        free(col);
        return ns_error(NS_ENOMEM, "forest: out of memory binning %zu x %zu features", n, d);
    }
    size_t m = 0;
    b->max_bins = 1;
    for (size_t j = 0; j < d; j++) {
        for (size_t i = 0; i < n; i++) col[i] = x->f32[i * d + j];
        qsort(col, n, sizeof *col, cmp_float);
        if (col[0] == col[n - 1]) continue;
        b->feat[m] = (uint32_t)j;
        int nb = bin_f32_feature(b, m, col, n);
        if (nb > b->max_bins) b->max_bins = nb;
        for (size_t i = 0; i < n; i++)
            b->codes[m * n + i] = float_code(b->bmax + m * MAX_BINS, nb, x->f32[i * d + j]);
        m++;
    }
    b->m = m;
    free(col);
    return NS_OK;
}

/* ---- one tree ------------------------------------------------------------- */

/* A sample in a node, with its class and bootstrap weight beside it so the
 * histogram pass reads them in order rather than by sample id. */
typedef struct item {
    uint32_t s, y, w;
} item;

typedef struct work {
    const binned *b;
    const ns_forest_opts *o;
    int max_features;
    ns_rng rng;
    uint32_t *w;         /* [n] bootstrap weight per sample */
    item *samples;       /* [n] in-bag samples, each node a range sorted by id */
    item *tmp;           /* [n] partition scratch */
    uint32_t *F, *CF;    /* [d] kept-feature ids with a known-constant prefix, and
                            its saved copy; ids >= m stand for globally constant ones */
    uint64_t *hist;      /* [max_bins * C] weighted class counts per bin */
    uint32_t *cnt;       /* [max_bins] samples per bin */
    uint64_t *cc, *left; /* [C] */
} work;

typedef struct record {
    size_t start, end;
    int depth;
    int32_t parent;  /* -1 for the root */
    int is_left;
    size_t n_constant;
} record;

typedef struct split {
    int found;
    size_t col;      /* kept-feature index */
    int lo_bin;      /* left: code <= lo_bin */
    int hi_bin;      /* the first bin on the right */
    double proxy;
} split;

static int tree_push_node(tree *t, int32_t *id)
{
    if (t->n_nodes == t->cap) {
        size_t cap = t->cap ? 2 * t->cap : 64;
        fnode *p = realloc(t->nodes, cap * sizeof *p);
        if (!p) return NS_ENOMEM;
        t->nodes = p;
        t->cap = cap;
    }
    if (t->n_nodes >= INT32_MAX) return NS_ERANGE;
    *id = (int32_t)t->n_nodes++;
    return NS_OK;
}

static int tree_make_leaf(tree *t, fnode *nd, const uint64_t *cc, int C)
{
    if (t->n_leaves == t->dist_cap) {
        size_t cap = t->dist_cap ? 2 * t->dist_cap : 32;
        float *p = realloc(t->dist, cap * (size_t)C * sizeof *p);
        if (!p) return NS_ENOMEM;
        t->dist = p;
        t->dist_cap = cap;
    }
    double total = 0;
    for (int c = 0; c < C; c++) total += (double)cc[c];
    float *dst = t->dist + t->n_leaves * (size_t)C;
    for (int c = 0; c < C; c++) dst[c] = (float)((double)cc[c] / total);
    nd->feature = -1;
    nd->thr = 0;
    nd->left = (int32_t)t->n_leaves++;
    nd->right = -1;
    return NS_OK;
}

/* Histogram one kept feature over the node; returns 1 if it is constant
 * there, else updates *best with its best split. hist and cnt are all zero
 * on entry and on return. */
static int try_feature(work *wk, size_t col, const record *r, uint64_t wn, split *best)
{
    const binned *b = wk->b;
    const int C = b->n_classes;
    const uint8_t *codes = b->codes + col * b->n;
    int lo = MAX_BINS, hi = -1;
    for (size_t p = r->start; p < r->end; p++) {
        const item it = wk->samples[p];
        int k = codes[it.s];
        wk->hist[(size_t)k * C + it.y] += it.w;
        wk->cnt[k]++;
        lo = k < lo ? k : lo;
        hi = k > hi ? k : hi;
    }
    int constant = lo == hi;
    if (!constant) {
        const size_t n_node = r->end - r->start;
        const size_t min_leaf = (size_t)wk->o->min_samples_leaf;
        uint64_t *L = wk->left, wl = 0;
        size_t nl = 0;
        memset(L, 0, (size_t)C * sizeof *L);
        int prev = -1;
        for (int k = lo; k <= hi; k++) {
            if (!wk->cnt[k]) continue;
            if (prev >= 0 && nl >= min_leaf && n_node - nl >= min_leaf) {
                double sl = 0, sr = 0;
                for (int c = 0; c < C; c++) {
                    double l = (double)L[c], rr = (double)(wk->cc[c] - L[c]);
                    sl += l * l;
                    sr += rr * rr;
                }
                double proxy = sl / (double)wl + sr / (double)(wn - wl);
                if (!best->found || proxy > best->proxy) {
                    best->found = 1;
                    best->proxy = proxy;
                    best->col = col;
                    best->lo_bin = prev;
                    best->hi_bin = k;
                }
            }
            const uint64_t *h = wk->hist + (size_t)k * C;
            for (int c = 0; c < C; c++) {
                L[c] += h[c];
                wl += h[c];
            }
            nl += wk->cnt[k];
            prev = k;
        }
    }
    memset(wk->hist + (size_t)lo * C, 0, (size_t)(hi - lo + 1) * C * sizeof *wk->hist);
    memset(wk->cnt + lo, 0, (size_t)(hi - lo + 1) * sizeof *wk->cnt);
    return constant;
}

/* scikit-learn's feature drawing (BestSplitter.node_split), see the top. */
static split find_split(work *wk, const record *r, uint64_t wn, size_t *n_constant_out)
{
    split best = {0};
    uint32_t *F = wk->F, *CF = wk->CF;
    const size_t n_known = r->n_constant;
    size_t n_total = n_known, n_found = 0, n_drawn = 0, visited = 0, f_i = wk->b->d;
    const size_t max_features = (size_t)wk->max_features;
    while (f_i > n_total && (visited < max_features || visited <= n_found + n_drawn)) {
        visited++;
        size_t f_j = n_drawn + (size_t)ns_rng_below(&wk->rng, f_i - n_found - n_drawn);
        uint32_t t;
        if (f_j < n_known) {
            t = F[n_drawn], F[n_drawn] = F[f_j], F[f_j] = t;
            n_drawn++;
            continue;
        }
        f_j += n_found;
        if (try_feature(wk, F[f_j], r, wn, &best)) {
            t = F[f_j], F[f_j] = F[n_total], F[n_total] = t;
            n_found++;
            n_total++;
            continue;
        }
        f_i--;
        t = F[f_i], F[f_i] = F[f_j], F[f_j] = t;
    }
    /* The known-constant prefix keeps its order for siblings and children. */
    memcpy(F, CF, n_known * sizeof *F);
    memcpy(CF + n_known, F + n_known, n_found * sizeof *F);
    *n_constant_out = n_total;
    return best;
}

static float split_threshold(const binned *b, const split *s)
{
    float a = b->bmax[s->col * MAX_BINS + s->lo_bin];
    float c = b->bmin[s->col * MAX_BINS + s->hi_bin];
    float t = (float)(((double)a + (double)c) / 2);
    if (!(t < c) || isinf(t)) t = a; /* rounding put the midpoint on c */
    return t;
}

/* Stable partition of samples[start, end) by the split; returns the middle. */
static size_t partition(work *wk, const record *r, const split *s)
{
    const uint8_t *codes = wk->b->codes + s->col * wk->b->n;
    size_t nl = r->start, nr = 0;
    for (size_t p = r->start; p < r->end; p++) {
        item x = wk->samples[p];
        if (codes[x.s] <= s->lo_bin) wk->samples[nl++] = x;
        else wk->tmp[nr++] = x;
    }
    memcpy(wk->samples + nl, wk->tmp, nr * sizeof *wk->tmp);
    return nl;
}

static int grow_tree(work *wk, tree *t, int tree_index)
{
    const binned *b = wk->b;
    const ns_forest_opts *o = wk->o;
    const int C = b->n_classes;
    const size_t n = b->n;
    ns_rng_seed(&wk->rng, o->seed, (uint64_t)tree_index);

    memset(wk->w, 0, n * sizeof *wk->w);
    if (o->bootstrap)
        for (size_t i = 0; i < n; i++) wk->w[ns_rng_below(&wk->rng, n)]++;
    else
        for (size_t i = 0; i < n; i++) wk->w[i] = 1;
    size_t n_in = 0;
    for (size_t i = 0; i < n; i++)
        if (wk->w[i]) wk->samples[n_in++] = (item){(uint32_t)i, (uint32_t)b->y[i], wk->w[i]};
    const size_t n_global_constant = b->d - b->m;
    for (size_t j = 0; j < b->d; j++)
        wk->F[j] = wk->CF[j] = (uint32_t)(j < n_global_constant ? b->m + j : j - n_global_constant);

    size_t stack_cap = 2 * (size_t)o->max_depth + 4, top = 0;
    record *stack = malloc(stack_cap * sizeof *stack);
    if (!stack) return NS_ENOMEM;
    stack[top++] = (record){0, n_in, 0, -1, 0, n_global_constant};
    int rc = NS_OK;
    while (top > 0 && rc == NS_OK) {
        record r = stack[--top];
        int32_t id;
        if ((rc = tree_push_node(t, &id))) break;
        if (r.parent >= 0) {
            if (r.is_left) t->nodes[r.parent].left = id;
            else t->nodes[r.parent].right = id;
        }
        if (r.depth > t->depth) t->depth = r.depth;

        memset(wk->cc, 0, (size_t)C * sizeof *wk->cc);
        uint64_t wn = 0;
        for (size_t p = r.start; p < r.end; p++) {
            wk->cc[wk->samples[p].y] += wk->samples[p].w;
            wn += wk->samples[p].w;
        }
        int classes = 0;
        for (int c = 0; c < C; c++) classes += wk->cc[c] != 0;
        size_t n_node = r.end - r.start;
        int leaf = r.depth >= o->max_depth || n_node < 2 ||
                   n_node < 2 * (size_t)o->min_samples_leaf || classes <= 1;
        split s = {0};
        size_t n_constant = 0;
        if (!leaf) {
            s = find_split(wk, &r, wn, &n_constant);
            leaf = !s.found;
        }
        if (leaf) {
            rc = tree_make_leaf(t, &t->nodes[id], wk->cc, C);
            continue;
        }
        size_t mid = partition(wk, &r, &s);
        fnode *nd = &t->nodes[id];
        nd->feature = (int32_t)b->feat[s.col];
        nd->thr = split_threshold(b, &s);
        nd->left = nd->right = -1;
        stack[top++] = (record){mid, r.end, r.depth + 1, id, 0, n_constant};
        stack[top++] = (record){r.start, mid, r.depth + 1, id, 1, n_constant};
    }
    free(stack);
    return rc;
}

static void work_free(work *wk)
{
    free(wk->w);
    free(wk->samples);
    free(wk->tmp);
    free(wk->F);
    free(wk->CF);
    free(wk->hist);
    free(wk->cnt);
    free(wk->cc);
    free(wk->left);
}

static int work_init(work *wk, const binned *b, const ns_forest_opts *o, int max_features)
{
    memset(wk, 0, sizeof *wk);
    wk->b = b;
    wk->o = o;
    wk->max_features = max_features;
    size_t n = b->n, m = b->d, C = (size_t)b->n_classes;
    wk->w = malloc(n * sizeof *wk->w);
    wk->samples = malloc(n * sizeof *wk->samples);
    wk->tmp = malloc(n * sizeof *wk->tmp);
    wk->F = malloc(m * sizeof *wk->F);
    wk->CF = malloc(m * sizeof *wk->CF);
    wk->hist = calloc((size_t)MAX_BINS * C, sizeof *wk->hist);
    wk->cnt = calloc(MAX_BINS, sizeof *wk->cnt);
    wk->cc = malloc(C * sizeof *wk->cc);
    wk->left = malloc(C * sizeof *wk->left);
    if (!wk->w || !wk->samples || !wk->tmp || !wk->F || !wk->CF || !wk->hist || !wk->cnt ||
        !wk->cc || !wk->left) {
        work_free(wk);
        return NS_ENOMEM;
    }
    return NS_OK;
}

/* ---- forest ------------------------------------------------------------- */

void ns_forest_free(ns_forest *f)
{
    if (!f) return;
    for (int i = 0; i < f->n_trees && f->trees; i++) {
        free(f->trees[i].nodes);
        free(f->trees[i].dist);
    }
    free(f->trees);
    free(f);
}

static int check_x(const ns_forest_x *x, const char *what)
{
    if (!x || !x->n || !x->d || (!x->i8) == (!x->f32))
        return ns_error(NS_EARG, "forest %s: need n > 0 samples, d > 0 features and exactly one of int8 / float data", what);
    if (x->d > UINT32_MAX || x->n > UINT32_MAX)
        return ns_error(NS_ERANGE, "forest %s: %zu x %zu is too large", what, x->n, x->d);
    return NS_OK;
}

static int threads_for(int requested)
{
    return requested > 0 ? requested : omp_get_max_threads();
}

int ns_forest_train(ns_forest **out, const ns_forest_x *x, const int32_t *y, int n_classes,
                    const ns_forest_opts *opts)
{
    *out = NULL;
    ns_forest_opts o;
    if (opts) o = *opts;
    else ns_forest_opts_init(&o);
    int rc = check_x(x, "train");
    if (rc) return rc;
    if (n_classes < 1 || n_classes > NS_FOREST_MAX_CLASSES || o.n_trees < 1 || o.max_depth < 1 ||
        o.max_depth > NS_FOREST_MAX_DEPTH || o.min_samples_leaf < 1 || o.max_features < 0)
        return ns_error(NS_EARG, "forest train: invalid options (classes %d, trees %d, depth %d, leaf %d, features %d)",
                        n_classes, o.n_trees, o.max_depth, o.min_samples_leaf, o.max_features);
    for (size_t i = 0; i < x->n; i++)
        if (y[i] < 0 || y[i] >= n_classes)
            return ns_error(NS_EARG, "forest train: label %d of sample %zu is outside [0, %d)", (int)y[i], i, n_classes);
    int max_features = o.max_features ? o.max_features : (int)floor(sqrt((double)x->d));
    if (max_features < 1) max_features = 1;
    if ((size_t)max_features > x->d) max_features = (int)x->d;

    binned b = {.n = x->n, .d = x->d, .y = y, .n_classes = n_classes};
    rc = x->i8 ? bin_i8(&b, x) : bin_f32(&b, x);
    ns_forest *f = calloc(1, sizeof *f);
    if (!rc && (!f || !(f->trees = calloc((size_t)o.n_trees, sizeof *f->trees))))
        rc = ns_error(NS_ENOMEM, "forest: out of memory for %d trees", o.n_trees);
    if (rc) {
        binned_free(&b);
        ns_forest_free(f);
        return rc;
    }
    f->n_trees = o.n_trees;
    f->n_classes = n_classes;
    f->is_float = x->f32 != NULL;
    f->d = x->d;

    int failed = 0;
#pragma omp parallel num_threads(threads_for(o.threads))
    {
        work wk;
        int ok = work_init(&wk, &b, &o, max_features) == NS_OK;
        if (!ok) {
#pragma omp atomic write
            failed = NS_ENOMEM;
        }
#pragma omp for schedule(dynamic, 1)
        for (int i = 0; i < o.n_trees; i++) {
            int r = ok ? grow_tree(&wk, &f->trees[i], i) : NS_ENOMEM;
            if (r) {
#pragma omp atomic write
                failed = r;
            }
        }
        if (ok) work_free(&wk);
    }
    binned_free(&b);
    if (failed) {
        ns_forest_free(f);
        return ns_error(failed, "forest train: %s growing %d trees on %zu x %zu samples",
                        failed == NS_ENOMEM ? "out of memory" : "too many nodes", o.n_trees, x->n, x->d);
    }
    *out = f;
    return NS_OK;
}

static const float *tree_leaf(const tree *t, const ns_forest_x *x, size_t i, int C)
{
    const fnode *nd = t->nodes;
    if (x->i8) {
        const int8_t *r = x->i8 + i * x->d;
        while (nd->feature >= 0) nd = t->nodes + ((float)r[nd->feature] <= nd->thr ? nd->left : nd->right);
    } else {
        const float *r = x->f32 + i * x->d;
        while (nd->feature >= 0) nd = t->nodes + (r[nd->feature] <= nd->thr ? nd->left : nd->right);
    }
    return t->dist + (size_t)nd->left * C;
}

int ns_forest_predict_proba(const ns_forest *f, const ns_forest_x *x, float *proba)
{
    int rc = check_x(x, "predict");
    if (rc) return rc;
    if (x->d != f->d || (x->f32 != NULL) != f->is_float)
        return ns_error(NS_EARG, "forest predict: trained on %zu %s features, given %zu %s ones", f->d,
                        f->is_float ? "float" : "int8", x->d, x->f32 ? "float" : "int8");
    const int C = f->n_classes;
    const int nt = omp_get_max_threads();
    double *acc_all = malloc((size_t)nt * (size_t)C * sizeof *acc_all);
    if (!acc_all) return ns_error(NS_ENOMEM, "forest predict: out of memory for %d x %d sums", nt, C);
#pragma omp parallel num_threads(nt)
    {
        double *acc = acc_all + (size_t)omp_get_thread_num() * (size_t)C;
#pragma omp for schedule(static)
        for (size_t i = 0; i < x->n; i++) {
            memset(acc, 0, (size_t)C * sizeof *acc);
            for (int t = 0; t < f->n_trees; t++) {
                const float *leaf = tree_leaf(&f->trees[t], x, i, C);
                for (int c = 0; c < C; c++) acc[c] += leaf[c];
            }
            float *out = proba + i * (size_t)C;
            for (int c = 0; c < C; c++) out[c] = (float)(acc[c] / f->n_trees);
        }
    }
    free(acc_all);
    return NS_OK;
}

int ns_forest_predict(const ns_forest *f, const ns_forest_x *x, int32_t *pred)
{
    int rc = check_x(x, "predict");
    if (rc) return rc;
    const int C = f->n_classes;
    float *p = malloc(x->n * (size_t)C * sizeof *p);
    if (!p) return ns_error(NS_ENOMEM, "forest predict: out of memory for %zu x %d probabilities", x->n, C);
    rc = ns_forest_predict_proba(f, x, p);
    for (size_t i = 0; !rc && i < x->n; i++) {
        const float *r = p + i * (size_t)C;
        int best = 0;
        for (int c = 1; c < C; c++)
            if (r[c] > r[best]) best = c;
        pred[i] = best;
    }
    free(p);
    return rc;
}

int ns_forest_n_classes(const ns_forest *f) { return f->n_classes; }

size_t ns_forest_n_nodes(const ns_forest *f)
{
    size_t s = 0;
    for (int i = 0; i < f->n_trees; i++) s += f->trees[i].n_nodes;
    return s;
}

int ns_forest_depth(const ns_forest *f)
{
    int d = 0;
    for (int i = 0; i < f->n_trees; i++) d = f->trees[i].depth > d ? f->trees[i].depth : d;
    return d;
}
