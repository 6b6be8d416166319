/*
 * Seeded pseudo-random numbers for the simulator, tests and the protocol
 * cores' randomised choices: xoshiro256** (Blackman & Vigna), seeded through
 * splitmix64 so that any 64-bit seed, including 0, gives a good state.
 *
 * NOT cryptographic: never use it for keys, nonces or anything an adversary
 * must not predict. Use libsodium's randombytes for those (src/crypto).
 */
#ifndef VOID_PRNG_H
#define VOID_PRNG_H

#include <stdint.h>

struct void_prng {
    uint64_t s[4];
};

/* Seeds p deterministically from seed. Cannot fail. */
void void_prng_seed(struct void_prng *p, uint64_t seed);

/* Next 64 random bits. Cannot fail. */
uint64_t void_prng_next(struct void_prng *p);

/* Uniform in [0, bound) without modulo bias (Lemire's method); bound > 0. */
uint64_t void_prng_below(struct void_prng *p, uint64_t bound);

/* Uniform in [lo, hi], lo <= hi. */
uint64_t void_prng_range(struct void_prng *p, uint64_t lo, uint64_t hi);

/* Uniform double in [0, 1) with 53 bits of randomness. */
double void_prng_double(struct void_prng *p);

/* True with probability num/den (den > 0). */
int void_prng_chance(struct void_prng *p, uint64_t num, uint64_t den);

/* splitmix64 step: a good 64-bit mixer, also used to derive child seeds. */
uint64_t void_prng_splitmix64(uint64_t *state);

#endif
