/* nn_train.c: losses (3-class cross-entropy, squared error) and the
 * optimiser's loops (AdamW, gradient clipping, EMA). Sums are in double. */
#include "netsynth/nn.h"

#include <math.h>

#include "nn_math.h"

#define PAR_MIN 32768

/* The divisor of a weighted loss: norm, or the sum of the weights. */
static double loss_norm(const float *weight, size_t n, float norm)
{
    if (norm > 0.0f) return norm;
    if (!weight) return (double)n;
    double s = 0.0;
#pragma omp parallel for reduction(+ : s) if (n > PAR_MIN)
    for (size_t i = 0; i < n; i++) s += weight[i];
    return s;
}

/* Softmax of one position's 3 logits into p; returns its cross-entropy. */
static inline float ce3_one(float *restrict p, const float *restrict l, uint8_t target)
{
    float mx = l[0] > l[1] ? l[0] : l[1];
    mx = mx > l[2] ? mx : l[2];
    float e0 = ns_expf(l[0] - mx), e1 = ns_expf(l[1] - mx), e2 = ns_expf(l[2] - mx);
    float sum = e0 + e1 + e2, inv = 1.0f / sum;
    p[0] = e0 * inv, p[1] = e1 * inv, p[2] = e2 * inv;
    return ns_logf(sum) + mx - l[target];
}

/* Positions [0, n): probs, and the sum of (weighted) cross-entropies. The
 * sum is in float within a chunk (NS_CHUNK positions), in double across. */
NS_CLONES static float ce3_chunk(float *restrict probs, const float *restrict logits,
                                 const uint8_t *restrict target, const float *restrict weight,
                                 size_t n)
{
    float total = 0.0f;
    if (weight) {
#pragma omp simd reduction(+ : total)
        for (size_t i = 0; i < n; i++) total += weight[i] * ce3_one(probs + 3 * i, logits + 3 * i, target[i]);
    } else {
#pragma omp simd reduction(+ : total)
        for (size_t i = 0; i < n; i++) total += ce3_one(probs + 3 * i, logits + 3 * i, target[i]);
    }
    return total;
}

float ns_ce3_forward(float *probs, const float *logits, const uint8_t *target, const float *weight,
                     size_t N, float norm)
{
    double total = 0.0;
    size_t chunks = (N + NS_CHUNK - 1) / NS_CHUNK;
#pragma omp parallel for reduction(+ : total) if (chunks > 1)
    for (size_t c = 0; c < chunks; c++) {
        size_t lo = c * NS_CHUNK, hi = lo + NS_CHUNK < N ? lo + NS_CHUNK : N;
        total += ce3_chunk(probs + 3 * lo, logits + 3 * lo, target + lo, weight ? weight + lo : NULL,
                           hi - lo);
    }
    double d = loss_norm(weight, N, norm);
    return d > 0.0 ? (float)(total / d) : 0.0f;
}

void ns_ce3_backward(float *dlogits, float dloss, const float *probs, const uint8_t *target,
                     const float *weight, size_t N, float norm)
{
    double d = loss_norm(weight, N, norm);
    if (d <= 0.0) return;
    float k = (float)(dloss / d);
#pragma omp parallel for if (N > PAR_MIN / 4)
    for (size_t i = 0; i < N; i++) {
        float w = k * (weight ? weight[i] : 1.0f);
        for (int c = 0; c < 3; c++)
            dlogits[3 * i + c] += w * (probs[3 * i + c] - (c == target[i] ? 1.0f : 0.0f));
    }
}

float ns_mse_forward(const float *pred, const float *target, const float *weight, size_t n,
                     float norm)
{
    double total = 0.0;
#pragma omp parallel for reduction(+ : total) if (n > PAR_MIN)
    for (size_t i = 0; i < n; i++) {
        double e = (double)pred[i] - target[i];
        total += (weight ? weight[i] : 1.0f) * e * e;
    }
    double d = loss_norm(weight, n, norm);
    return d > 0.0 ? (float)(total / d) : 0.0f;
}

void ns_mse_backward(float *dpred, float dloss, const float *pred, const float *target,
                     const float *weight, size_t n, float norm)
{
    double d = loss_norm(weight, n, norm);
    if (d <= 0.0) return;
    float k = (float)(2.0 * dloss / d);
#pragma omp parallel for if (n > PAR_MIN)
    for (size_t i = 0; i < n; i++)
        dpred[i] += k * (weight ? weight[i] : 1.0f) * (pred[i] - target[i]);
}

void ns_adamw_update(float *param, float *m, float *v, const float *grad, size_t n,
                     const ns_adamw_cfg *cfg, long t)
{
    float b1 = cfg->beta1, b2 = cfg->beta2, lr = cfg->lr, eps = cfg->eps, wd = cfg->weight_decay;
    float c1 = (float)(1.0 - pow(b1, (double)t)), c2 = (float)(1.0 - pow(b2, (double)t));
#pragma omp parallel for if (n > PAR_MIN)
    for (size_t i = 0; i < n; i++) {
        float g = grad[i];
        m[i] = b1 * m[i] + (1.0f - b1) * g;
        v[i] = b2 * v[i] + (1.0f - b2) * g * g;
        float mhat = m[i] / c1, vhat = v[i] / c2;
        param[i] -= lr * (mhat / (sqrtf(vhat) + eps) + wd * param[i]);
    }
}

float ns_grad_clip(float *grad, size_t n, float max_norm)
{
    double ss = 0.0;
#pragma omp parallel for reduction(+ : ss) if (n > PAR_MIN)
    for (size_t i = 0; i < n; i++) ss += (double)grad[i] * grad[i];
    double norm = sqrt(ss);
    if (max_norm > 0.0f && norm > max_norm) {
        float k = (float)(max_norm / norm);
#pragma omp parallel for if (n > PAR_MIN)
        for (size_t i = 0; i < n; i++) grad[i] *= k;
    }
    return (float)norm;
}

void ns_ema_update(float *ema, const float *param, size_t n, float decay)
{
#pragma omp parallel for if (n > PAR_MIN)
    for (size_t i = 0; i < n; i++) ema[i] = decay * ema[i] + (1.0f - decay) * param[i];
}
