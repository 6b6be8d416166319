/*
 * xoshiro256** 1.0 (Blackman & Vigna, public domain reference algorithm),
 * seeded by splitmix64. Deterministic and fast; not cryptographic.
 */
#include "void/prng.h"

#include "void/assert.h"

#include <stddef.h>

uint64_t void_prng_splitmix64(uint64_t *state)
{
    uint64_t z = (*state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

void void_prng_seed(struct void_prng *p, uint64_t seed)
{
    VOID_ASSERT(p != NULL);
    uint64_t sm = seed;
    for (int i = 0; i < 4; i++) {
        p->s[i] = void_prng_splitmix64(&sm);
    }
    /* splitmix64 is a bijection of distinct counters, so the state cannot be
     * all zero; xoshiro would be stuck there. */
    VOID_ASSERT((p->s[0] | p->s[1] | p->s[2] | p->s[3]) != 0);
}

static inline uint64_t rotl(uint64_t x, int k)
{
    return (x << k) | (x >> (64 - k));
}

uint64_t void_prng_next(struct void_prng *p)
{
    uint64_t *s = p->s;
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

uint64_t void_prng_below(struct void_prng *p, uint64_t bound)
{
    VOID_ASSERT(bound > 0);
    /* Reject the lowest (2^64 mod bound) values so that what remains is a
     * whole number of copies of [0, bound): no modulo bias. */
    uint64_t threshold = (0 - bound) % bound;
    for (;;) {
        uint64_t r = void_prng_next(p);
        if (r >= threshold) {
            return r % bound;
        }
    }
}

uint64_t void_prng_range(struct void_prng *p, uint64_t lo, uint64_t hi)
{
    VOID_ASSERT(lo <= hi);
    if (lo == 0 && hi == UINT64_MAX) {
        return void_prng_next(p);
    }
    return lo + void_prng_below(p, hi - lo + 1);
}

double void_prng_double(struct void_prng *p)
{
    return (double)(void_prng_next(p) >> 11) * 0x1.0p-53;
}

int void_prng_chance(struct void_prng *p, uint64_t num, uint64_t den)
{
    VOID_ASSERT(den > 0);
    return void_prng_below(p, den) < num;
}
