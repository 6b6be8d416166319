/*
 * Tests of the seeded PRNG: determinism per seed, independence across seeds,
 * and range/bias sanity of the bounded draws.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "void/prng.h"

/* Two generators with the same seed produce the same stream; a different
 * seed produces a different one. */
static void test_prng_same_seed_same_stream(void **state)
{
    (void)state;
    struct void_prng a, b, c;
    void_prng_seed(&a, 42);
    void_prng_seed(&b, 42);
    void_prng_seed(&c, 43);
    int differ = 0;
    for (int i = 0; i < 1000; i++) {
        uint64_t x = void_prng_next(&a);
        assert_int_equal(x, void_prng_next(&b));
        differ += x != void_prng_next(&c);
    }
    assert_true(differ > 990);
}

/* The first outputs for seed 0 match the reference xoshiro256** seeded by
 * splitmix64 (values computed from the published reference C code). */
static void test_prng_matches_reference_for_seed_zero(void **state)
{
    (void)state;
    uint64_t sm = 0;
    assert_int_equal(void_prng_splitmix64(&sm), 0xe220a8397b1dcdafull);
    assert_int_equal(void_prng_splitmix64(&sm), 0x6e789e6aa1b965f4ull);
}

/* below(n) stays in range and hits every value of a small range about
 * equally often (chi-square-ish bound, loose enough never to flake). */
static void test_prng_below_uniform(void **state)
{
    (void)state;
    struct void_prng p;
    void_prng_seed(&p, 7);
    unsigned counts[10] = {0};
    for (int i = 0; i < 100000; i++) {
        uint64_t v = void_prng_below(&p, 10);
        assert_true(v < 10);
        counts[v]++;
    }
    for (int i = 0; i < 10; i++) {
        assert_in_range(counts[i], 9000, 11000);
    }
    for (int i = 0; i < 1000; i++) {
        uint64_t v = void_prng_range(&p, 5, 9);
        assert_in_range(v, 5, 9);
        double d = void_prng_double(&p);
        assert_true(d >= 0.0 && d < 1.0);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_prng_same_seed_same_stream),
        cmocka_unit_test(test_prng_matches_reference_for_seed_zero),
        cmocka_unit_test(test_prng_below_uniform),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
