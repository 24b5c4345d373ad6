/* test_diffusion.c: schedule properties, and every sampler against data whose
 * optimal denoiser is known in closed form (a Gaussian), plus the RNG. */
#include "testutil.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "netsynth/diffusion.h"
#include "netsynth/error.h"
#include "netsynth/rng.h"

static void test_schedule_is_monotone_and_normalised(void **state)
{
    (void)state;
    ns_schedule s = ns_schedule_default();
    double prev = INFINITY;
    for (int i = 0; i <= 100; i++) {
        double t = i / 100.0, l = ns_schedule_logsnr(&s, t);
        assert_true(l < prev);
        prev = l;
        float a, g;
        ns_schedule_alpha_sigma(&s, t, &a, &g);
        assert_float_equal(a * a + g * g, 1.0f, 1e-5f);
    }
    float a0, g0, a1, g1;
    ns_schedule_alpha_sigma(&s, 0, &a0, &g0);
    ns_schedule_alpha_sigma(&s, 1, &a1, &g1);
    assert_true(a0 > 0.999f && g1 > 0.999f);
    /* A negative shift makes every t noisier. */
    ns_schedule shifted = s;
    shifted.logsnr_shift = -2;
    assert_float_equal(ns_schedule_logsnr(&shifted, 0.3), ns_schedule_logsnr(&s, 0.3) - 2, 1e-9);
}

static void test_timesteps(void **state)
{
    (void)state;
    ns_schedule s = ns_schedule_default();
    double t[11];
    ns_diffusion_timesteps(&s, 10, t);
    assert_float_equal(t[0], s.t_max, 1e-6);
    assert_true(t[10] == 0);
    for (int i = 1; i < 10; i++) assert_true(t[i] < t[i - 1]);
    /* Uniform spacing in log-SNR. */
    double d0 = ns_schedule_logsnr(&s, t[1]) - ns_schedule_logsnr(&s, t[0]);
    double d5 = ns_schedule_logsnr(&s, t[6]) - ns_schedule_logsnr(&s, t[5]);
    assert_float_equal(d0, d5, 1e-6);
}

/* Data: every coordinate ~ N(mu, sd^2); E[x0 | x_t] is then linear in x_t. */
typedef struct gauss {
    const ns_schedule *s;
    double mu, sd;
    int calls;
} gauss;

static int gauss_denoise(void *ctx, float *x0, const float *x_t, double t, size_t n)
{
    gauss *g = ctx;
    float a, s;
    ns_schedule_alpha_sigma(g->s, t, &a, &s);
    double v = g->sd * g->sd, gain = a * v / (a * a * v + (double)s * s);
    for (size_t i = 0; i < n; i++) x0[i] = (float)(g->mu + gain * (x_t[i] - a * g->mu));
    g->calls++;
    return 0;
}

static void sample_moments(ns_sampler sp, double *mean, double *sd, int *calls)
{
    enum { N = 20000 };
    ns_schedule s = ns_schedule_default();
    gauss g = {&s, 1.5, 0.4, 0};
    float *x = malloc(N * sizeof *x), *scratch = malloc(3 * N * sizeof *x);
    ns_rng rng;
    ns_rng_seed(&rng, 7, 0);
    for (int i = 0; i < N; i++) x[i] = ns_rng_normal(&rng);
    assert_int_equal(ns_diffusion_sample(&s, &sp, gauss_denoise, &g, x, N, scratch, &rng), NS_OK);
    double m = 0, q = 0;
    for (int i = 0; i < N; i++) m += x[i];
    m /= N;
    for (int i = 0; i < N; i++) q += (x[i] - m) * (x[i] - m);
    *mean = m;
    *sd = sqrt(q / (N - 1));
    *calls = g.calls;
    free(x);
    free(scratch);
}

static void test_ddim_recovers_gaussian(void **state)
{
    (void)state;
    double m, sd;
    int calls;
    ns_sampler sp = {NS_SAMPLER_DDIM, 100, 0};
    sample_moments(sp, &m, &sd, &calls);
    assert_int_equal(calls, 100);
    assert_float_equal(m, 1.5, 0.02);
    assert_float_equal(sd, 0.4, 0.02);
}

static void test_ddpm_noise_recovers_gaussian(void **state)
{
    (void)state;
    double m, sd;
    int calls;
    ns_sampler sp = {NS_SAMPLER_DDIM, 200, 1.0f};
    sample_moments(sp, &m, &sd, &calls);
    assert_float_equal(m, 1.5, 0.02);
    assert_float_equal(sd, 0.4, 0.02);
}

static void test_dpmpp_is_accurate_in_few_steps(void **state)
{
    (void)state;
    double m, sd, m1, sd1;
    int calls;
    ns_sampler fast = {NS_SAMPLER_DPMPP_2M, 8, 0};
    sample_moments(fast, &m, &sd, &calls);
    assert_int_equal(calls, 8);
    assert_float_equal(m, 1.5, 0.02);
    assert_float_equal(sd, 0.4, 0.03);
    /* DDIM with as few steps is measurably worse: the second-order solver earns its keep. */
    ns_sampler slow = {NS_SAMPLER_DDIM, 8, 0};
    sample_moments(slow, &m1, &sd1, &calls);
    assert_true(fabs(sd - 0.4) < fabs(sd1 - 0.4));
}

static int failing_denoise(void *ctx, float *x0, const float *x_t, double t, size_t n)
{
    return ns_error(NS_EARG, "no");
}

static void test_errors(void **state)
{
    (void)state;
    ns_schedule s = ns_schedule_default();
    float x[4] = {0}, scratch[12];
    ns_rng rng;
    ns_rng_seed(&rng, 1, 0);
    ns_sampler bad = {NS_SAMPLER_DDIM, 0, 0};
    assert_int_equal(ns_diffusion_sample(&s, &bad, failing_denoise, NULL, x, 4, scratch, &rng), NS_EARG);
    ns_sampler ok = {NS_SAMPLER_DDIM, 5, 0};
    assert_int_equal(ns_diffusion_sample(&s, &ok, failing_denoise, NULL, x, 4, scratch, &rng), NS_EARG);
}

static void test_rng(void **state)
{
    (void)state;
    ns_rng a, b, c;
    ns_rng_seed(&a, 42, 3);
    ns_rng_seed(&b, 42, 3);
    ns_rng_seed(&c, 42, 4);
    int same_stream = 1, other_stream = 0;
    for (int i = 0; i < 100; i++) {
        uint64_t x = ns_rng_u64(&a), y = ns_rng_u64(&b), z = ns_rng_u64(&c);
        same_stream &= x == y;
        other_stream += x == z;
    }
    assert_true(same_stream);
    assert_int_equal(other_stream, 0);
    /* Moments of the normal and the uniform; ns_rng_below stays in range and hits every value. */
    double m = 0, q = 0;
    int hits[7] = {0};
    for (int i = 0; i < 100000; i++) {
        float z = ns_rng_normal(&a);
        m += z, q += z * z;
        float u = ns_rng_float(&a);
        assert_true(u >= 0 && u < 1);
        hits[ns_rng_below(&a, 7)]++;
    }
    assert_float_equal(m / 100000, 0, 0.02);
    assert_float_equal(q / 100000, 1, 0.02);
    for (int i = 0; i < 7; i++) assert_true(hits[i] > 13000 && hits[i] < 15600);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_schedule_is_monotone_and_normalised),
        cmocka_unit_test(test_timesteps),
        cmocka_unit_test(test_ddim_recovers_gaussian),
        cmocka_unit_test(test_ddpm_noise_recovers_gaussian),
        cmocka_unit_test(test_dpmpp_is_accurate_in_few_steps),
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_rng),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    tu_cleanup();
    return rc;
}
