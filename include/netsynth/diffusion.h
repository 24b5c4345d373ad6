/* diffusion.h: the noise schedule and the samplers, independent of the network.
 *
 * Continuous time t in [0, 1]: x_t = alpha(t) x_0 + sigma(t) eps, with the
 * cosine schedule (Nichol & Dhariwal) shifted in log-SNR by `logsnr_shift`
 * (negative = noisier at every t; for data in {-1, 1} a shift below zero
 * spends more of the steps where bits are still undecided, the "analog bits"
 * finding of Chen et al.). alpha^2 + sigma^2 = 1.
 *
 * The network is a callback that predicts x_0 from x_t (data prediction):
 * both samplers take that form, which is what lets the model decode ternary
 * bits through a softmax and hand back the expected value. */
#ifndef NETSYNTH_DIFFUSION_H
#define NETSYNTH_DIFFUSION_H
#ifdef __cplusplus
extern "C" {
#endif
#pragma GCC visibility push(default)

#include <stddef.h>

#include "netsynth/rng.h"

typedef struct ns_schedule {
    float logsnr_shift;   /* added to the cosine schedule's log-SNR */
    float t_min, t_max;   /* clamp, so log-SNR stays finite: [1e-4, 1 - 1e-4] */
} ns_schedule;

ns_schedule ns_schedule_default(void);
/* log(alpha^2 / sigma^2) at t. Decreasing in t. */
double ns_schedule_logsnr(const ns_schedule *s, double t);
/* alpha and sigma at t. */
void ns_schedule_alpha_sigma(const ns_schedule *s, double t, float *alpha, float *sigma);

/* Training: x_t = alpha x0 + sigma eps for one item of n values; eps is
 * drawn from rng and also written to eps_out when it is not NULL. */
void ns_diffusion_noise(float *x_t, float *eps_out, const float *x0, size_t n, float alpha, float sigma,
                        ns_rng *rng);

/* The network: write the x_0 prediction for x_t (n values) at time t. */
typedef int (*ns_denoise_fn)(void *ctx, float *x0_out, const float *x_t, double t, size_t n);

typedef enum ns_sampler_kind {
    NS_SAMPLER_DDIM,      /* first order; eta > 0 adds fresh noise each step */
    NS_SAMPLER_DPMPP_2M,  /* DPM-Solver++(2M): second order, multistep, few steps */
} ns_sampler_kind;

typedef struct ns_sampler {
    ns_sampler_kind kind;
    int steps;            /* network calls */
    float eta;            /* DDIM only: 0 deterministic, 1 DDPM-like */
} ns_sampler;

/* Start from x (n values of pure noise, e.g. ns_rng_normal) at t = 1 and
 * integrate to t = 0 in `steps` calls of fn; on return x holds the final
 * x_0 prediction. scratch needs 3 * n floats. rng is used for eta > 0 only.
 * Returns fn's first non-zero status, else NS_OK. */
int ns_diffusion_sample(const ns_schedule *s, const ns_sampler *sp, ns_denoise_fn fn, void *ctx, float *x,
                        size_t n, float *scratch, ns_rng *rng);

/* The time grid of a sampler run (steps + 1 values from t_max down to 0),
 * uniform in log-SNR, which spends steps evenly in "information". */
void ns_diffusion_timesteps(const ns_schedule *s, int steps, double *t_out);

#pragma GCC visibility pop
#ifdef __cplusplus
}
#endif

#endif
