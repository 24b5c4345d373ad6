/* diffusion.c: cosine schedule, DDIM and DPM-Solver++(2M) in data-prediction form. */
#include "netsynth/diffusion.h"

#include <math.h>
#include <string.h>

#include "netsynth/error.h"
#include "nn_math.h"

ns_schedule ns_schedule_default(void)
{
    ns_schedule s = {0.0f, 1e-4f, 1.0f - 1e-4f};
    return s;
}

static double clamp_t(const ns_schedule *s, double t)
{
    return t < s->t_min ? s->t_min : t > s->t_max ? s->t_max : t;
}

/* Cosine schedule: alpha_bar(t) = cos^2(pi/2 * (t + c) / (1 + c)), c = 0.008,
 * normalised so alpha_bar(0) = 1; logsnr = log(alpha_bar / (1 - alpha_bar)). */
double ns_schedule_logsnr(const ns_schedule *s, double t)
{
    const double c = 0.008;
    t = clamp_t(s, t);
    double f0 = cos(M_PI / 2 * c / (1 + c));
    double ft = cos(M_PI / 2 * (t + c) / (1 + c));
    double abar = (ft * ft) / (f0 * f0);
    if (abar > 1 - 1e-12) abar = 1 - 1e-12;
    if (abar < 1e-12) abar = 1e-12;
    return log(abar) - log1p(-abar) + s->logsnr_shift;
}

static void alpha_sigma_of_logsnr(double l, double *alpha, double *sigma)
{
    /* alpha^2 = sigmoid(l), sigma^2 = sigmoid(-l), computed stably. */
    *alpha = sqrt(1 / (1 + exp(-l)));
    *sigma = sqrt(1 / (1 + exp(l)));
}

void ns_schedule_alpha_sigma(const ns_schedule *s, double t, float *alpha, float *sigma)
{
    double a, g;
    alpha_sigma_of_logsnr(ns_schedule_logsnr(s, t), &a, &g);
    *alpha = (float)a;
    *sigma = (float)g;
}

void ns_diffusion_noise(float *x_t, float *eps_out, const float *x0, size_t n, float alpha, float sigma,
                        ns_rng *rng)
{
    float e[256];
    for (size_t at = 0; at < n; at += 256) {
        size_t m = n - at < 256 ? n - at : 256;
        ns_rng_normals(rng, e, m);
        for (size_t i = 0; i < m; i++) x_t[at + i] = alpha * x0[at + i] + sigma * e[i];
        if (eps_out) memcpy(eps_out + at, e, m * sizeof *e);
    }
}

void ns_diffusion_timesteps(const ns_schedule *s, int steps, double *t_out)
{
    /* Uniform in log-SNR between the ends, then mapped back to t by
     * bisection (logsnr is monotone in t). The last entry is 0: the final
     * call's x_0 prediction is the answer. */
    double l_hi = ns_schedule_logsnr(s, s->t_min), l_lo = ns_schedule_logsnr(s, s->t_max);
    for (int i = 0; i < steps; i++) {
        double target = l_lo + (l_hi - l_lo) * i / steps;
        double a = s->t_min, b = s->t_max;
        for (int it = 0; it < 60; it++) {
            double m = 0.5 * (a + b);
            if (ns_schedule_logsnr(s, m) > target) a = m;
            else b = m;
        }
        t_out[i] = 0.5 * (a + b);
    }
    t_out[steps] = 0;
}

/* x = cx x + cd D, D = x0 or (with a previous prediction) c1 x0 - c0 x0_prev:
 * one pass, cloned for the SIMD widths (as three loops and a copy it was 4%
 * of a sampling run). The same arithmetic, in the same order, as before. */
NS_CLONES static void dpm_update(float *restrict x, const float *restrict x0, const float *restrict x0_prev,
                                 size_t n, float c1, float c0, float cx, float cd)
{
    if (!x0_prev) {
#pragma omp simd
        for (size_t k = 0; k < n; k++) x[k] = cx * x[k] + cd * x0[k];
        return;
    }
#pragma omp simd
    for (size_t k = 0; k < n; k++) {
        float d = c1 * x0[k] - c0 * x0_prev[k];
        x[k] = cx * x[k] + cd * d;
    }
}

int ns_diffusion_sample(const ns_schedule *s, const ns_sampler *sp, ns_denoise_fn fn, void *ctx, float *x,
                        size_t n, float *scratch, ns_rng *rng)
{
    enum { MAX_STEPS = 1000 };
    if (sp->steps < 1 || sp->steps > MAX_STEPS)
        return ns_error(NS_EARG, "sampler steps must be in [1, %d], got %d", MAX_STEPS, sp->steps);
    double t[MAX_STEPS + 1];
    ns_diffusion_timesteps(s, sp->steps, t);
    float *x0 = scratch, *x0_prev = scratch + n;
    double h_prev = 0;

    for (int i = 0; i < sp->steps; i++) {
        int rc = fn(ctx, x0, x, t[i], n);
        if (rc) return rc;
        if (t[i + 1] <= 0) { /* the last call: its prediction is the sample */
            memcpy(x, x0, n * sizeof *x);
            break;
        }
        double l_now = ns_schedule_logsnr(s, t[i]), l_next = ns_schedule_logsnr(s, t[i + 1]);
        double a_now, s_now, a_next, s_next;
        alpha_sigma_of_logsnr(l_now, &a_now, &s_now);
        alpha_sigma_of_logsnr(l_next, &a_next, &s_next);
        double h = (l_next - l_now) / 2; /* step in log(alpha / sigma) */

        if (sp->kind == NS_SAMPLER_DPMPP_2M) {
            /* x_next = (s_next / s_now) x - a_next (e^-h - 1) D, where D is the
             * x_0 prediction, extrapolated linearly in lambda from the previous
             * step when there is one (Lu et al. 2022, Algorithm 2). */
            float c1 = 1, c0 = 0;
            if (i > 0) {
                double r = h_prev / h;
                c1 = (float)(1 + 1 / (2 * r)), c0 = (float)(1 / (2 * r));
            }
            float cx = (float)(s_next / s_now), cd = (float)(-a_next * expm1(-h));
            dpm_update(x, x0, i > 0 ? x0_prev : NULL, n, c1, c0, cx, cd);
            /* This step's prediction is the next one's previous: swap, no copy. */
            float *swap = x0_prev;
            x0_prev = x0;
            x0 = swap;
            h_prev = h;
        } else {
            /* DDIM with eta: the implied noise eps = (x - a x0) / s, then
             * x_next = a_next x0 + sqrt(s_next^2 - c^2) eps + c z. */
            double c = 0;
            if (sp->eta > 0) {
                /* DDPM's posterior variance between the two times, scaled by eta^2. */
                double var = (s_next * s_next) / (s_now * s_now) * (1 - (a_now * a_now) / (a_next * a_next));
                c = sp->eta * sqrt(var > 0 ? var : 0);
            }
            double keep = sqrt(fmax(s_next * s_next - c * c, 0));
            for (size_t k = 0; k < n; k++) {
                double eps = (x[k] - a_now * x0[k]) / s_now;
                double z = c > 0 ? ns_rng_normal(rng) : 0;
                x[k] = (float)(a_next * x0[k] + keep * eps + c * z);
            }
        }
    }
    return NS_OK;
}
