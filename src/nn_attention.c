/* nn_attention.c: multi-head self-attention with a key padding mask.
 *
 * Plain loops, one (sequence, head) pair per OpenMP iteration in the
 * backward (so the key and value gradients have one writer), one query row
 * per iteration in the forward. Keys past a sequence's length are skipped,
 * not just masked, so short flows cost less. At T = 64 this is under a tenth
 * of a block's FLOPs; for long flows (T ~ 1024) a BLAS-batched version would
 * pay. */
#include "netsynth/nn.h"

#include <math.h>
#include <string.h>

#include "nn_math.h"

static inline float dot(const float *restrict a, const float *restrict b, int n)
{
    float s = 0.0f;
#pragma omp simd reduction(+ : s)
    for (int i = 0; i < n; i++) s += a[i] * b[i];
    return s;
}

/* Number of valid keys of sequence b. */
static inline int keys_of(const int *len, int b, int T)
{
    if (!len) return T;
    return len[b] < 0 ? 0 : len[b] > T ? T : len[b];
}

void ns_attention_forward(float *out, float *att, const float *qkv, const int *len, int B, int T,
                          int C, int NH)
{
    int hs = C / NH;
    float scale = 1.0f / sqrtf((float)hs);
    size_t C3 = (size_t)3 * C;
#pragma omp parallel for collapse(3) if ((size_t)B * NH * T * T * hs > 100000)
    for (int b = 0; b < B; b++)
        for (int h = 0; h < NH; h++)
            for (int t = 0; t < T; t++) {
                int L = keys_of(len, b, T);
                const float *q = qkv + ((size_t)b * T + t) * C3 + (size_t)h * hs;
                const float *kbase = qkv + (size_t)b * T * C3 + C + (size_t)h * hs;
                const float *vbase = kbase + C;
                float *a = att + (((size_t)b * NH + h) * T + t) * T;
                float *o = out + ((size_t)b * T + t) * C + (size_t)h * hs;
                memset(o, 0, (size_t)hs * sizeof *o);
                memset(a + L, 0, (size_t)(T - L) * sizeof *a);
                if (L == 0) continue;

                float mx = -INFINITY;
                for (int t2 = 0; t2 < L; t2++) {
                    a[t2] = dot(q, kbase + t2 * C3, hs) * scale;
                    if (a[t2] > mx) mx = a[t2];
                }
                float sum = 0.0f;
#pragma omp simd reduction(+ : sum)
                for (int t2 = 0; t2 < L; t2++) sum += (a[t2] = ns_expf(a[t2] - mx));
                float inv = 1.0f / sum;
                for (int t2 = 0; t2 < L; t2++) {
                    a[t2] *= inv;
                    const float *v = vbase + t2 * C3;
#pragma omp simd
                    for (int i = 0; i < hs; i++) o[i] += a[t2] * v[i];
                }
            }
}

void ns_attention_backward(float *dqkv, const float *dout, const float *qkv, const float *att,
                           const int *len, int B, int T, int C, int NH)
{
    int hs = C / NH;
    float scale = 1.0f / sqrtf((float)hs);
    size_t C3 = (size_t)3 * C;
#pragma omp parallel for collapse(2) if ((size_t)B * NH * T * T * hs > 100000)
    for (int b = 0; b < B; b++)
        for (int h = 0; h < NH; h++) {
            int L = keys_of(len, b, T);
            size_t base = (size_t)b * T * C3 + (size_t)h * hs;
            const float *kbase = qkv + base + C, *vbase = kbase + C;
            float *dkbase = dqkv + base + C, *dvbase = dkbase + C;
            for (int t = 0; t < T && L > 0; t++) {
                const float *q = qkv + base + t * C3;
                float *dq = dqkv + base + t * C3;
                const float *a = att + (((size_t)b * NH + h) * T + t) * T;
                const float *g = dout + ((size_t)b * T + t) * C + (size_t)h * hs;
                /* d score_t2 = a_t2 (da_t2 - sum_j a_j da_j), da_t2 = g . v_t2 */
                float s = 0.0f;
                for (int t2 = 0; t2 < L; t2++) s += a[t2] * dot(g, vbase + t2 * C3, hs);
                for (int t2 = 0; t2 < L; t2++) {
                    const float *k = kbase + t2 * C3, *v = vbase + t2 * C3;
                    float *dk = dkbase + t2 * C3, *dv = dvbase + t2 * C3;
                    float dpre = a[t2] * (dot(g, v, hs) - s) * scale;
#pragma omp simd
                    for (int i = 0; i < hs; i++) {
                        dq[i] += dpre * k[i];
                        dk[i] += dpre * q[i];
                        dv[i] += a[t2] * g[i];
                    }
                }
            }
        }
}
