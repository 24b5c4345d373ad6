/* rng.c: xoshiro256** (Blackman & Vigna), seeded through splitmix64. */
#include "netsynth/rng.h"

#include <math.h>

uint64_t ns_rng_mix(uint64_t z)
{
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static uint64_t splitmix64(uint64_t *x) { return ns_rng_mix(*x += 0x9e3779b97f4a7c15ull); }

void ns_rng_seed(ns_rng *r, uint64_t seed, uint64_t stream)
{
    /* Mix the stream id in through a second splitmix pass so that nearby
     * (seed, stream) pairs give unrelated states. */
    uint64_t x = seed;
    uint64_t y = splitmix64(&x) ^ (stream * 0xd1342543de82ef95ull + 0x632be59bd9b4e019ull);
    for (int i = 0; i < 4; i++) r->s[i] = splitmix64(&y);
}

static inline uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

uint64_t ns_rng_u64(ns_rng *r)
{
    uint64_t *s = r->s;
    uint64_t result = rotl(s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
}

float ns_rng_float(ns_rng *r) { return (float)(ns_rng_u64(r) >> 40) * 0x1.0p-24f; }

double ns_rng_double(ns_rng *r) { return (double)(ns_rng_u64(r) >> 11) * 0x1.0p-53; }

uint64_t ns_rng_below(ns_rng *r, uint64_t n)
{
    /* Lemire's rejection: take the high word of a 128-bit product. */
    unsigned __int128 m = (unsigned __int128)ns_rng_u64(r) * n;
    uint64_t low = (uint64_t)m;
    if (low < n) {
        uint64_t threshold = -n % n;
        while (low < threshold) {
            m = (unsigned __int128)ns_rng_u64(r) * n;
            low = (uint64_t)m;
        }
    }
    return (uint64_t)(m >> 64);
}

float ns_rng_normal(ns_rng *r)
{
    /* Box-Muller without caching, so the stream position never depends on
     * whether a spare value was pending: reproducible by construction. */
    double u1 = ns_rng_double(r), u2 = ns_rng_double(r);
    if (u1 < 1e-300) u1 = 1e-300;
    return (float)(sqrt(-2.0 * log(u1)) * cos(2.0 * M_PI * u2));
}

void ns_rng_normals(ns_rng *r, float *out, size_t n)
{
    for (size_t i = 0; i < n; i += 2) {
        /* u1 in (0, 1]: 24 random bits plus one half-step, never 0. */
        float u1 = ((float)(ns_rng_u64(r) >> 40) + 0.5f) * 0x1.0p-24f;
        float u2 = (float)(ns_rng_u64(r) >> 40) * 0x1.0p-24f;
        float rad = sqrtf(-2.0f * logf(u1)), angle = 6.2831853f * u2;
        out[i] = rad * cosf(angle);
        if (i + 1 < n) out[i + 1] = rad * sinf(angle);
    }
}
