/* rng.h: small, fast, reproducible random numbers (xoshiro256** seeded by
 * splitmix64). Streams are derived from (seed, stream id) so parallel work
 * gets the same numbers whatever the thread count: same seed, same output. */
#ifndef NETSYNTH_RNG_H
#define NETSYNTH_RNG_H
#ifdef __cplusplus
extern "C" {
#endif
#pragma GCC visibility push(default)

#include <stddef.h>
#include <stdint.h>

typedef struct ns_rng {
    uint64_t s[4];
} ns_rng;

/* splitmix64's finaliser, a bijective mix of 64 bits: for choices seeded
 * by what they are about (a flow, a row) rather than drawn from a stream,
 * so that they do not depend on what was drawn before. */
uint64_t ns_rng_mix(uint64_t z);
/* Independent stream `stream` of generator `seed`. */
void ns_rng_seed(ns_rng *r, uint64_t seed, uint64_t stream);
uint64_t ns_rng_u64(ns_rng *r);
/* Uniform in [0, 1) with 24 bits (float) / 53 bits (double). */
float ns_rng_float(ns_rng *r);
double ns_rng_double(ns_rng *r);
/* Uniform integer in [0, n), n > 0, without modulo bias. */
uint64_t ns_rng_below(ns_rng *r, uint64_t n);
/* Standard normal (Box-Muller; one value per call, so a stream position
 * never depends on a cached spare). */
float ns_rng_normal(ns_rng *r);
/* n standard normals at once, twice as fast per value (both Box-Muller
 * values used, in float). A different sequence from ns_rng_normal's. */
void ns_rng_normals(ns_rng *r, float *out, size_t n);

#pragma GCC visibility pop
#ifdef __cplusplus
}
#endif

#endif
