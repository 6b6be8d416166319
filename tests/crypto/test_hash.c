/*
 * Tests of the SHA-256 wrapper: published test vectors, agreement between
 * the OpenSSL and libsodium implementations, and the hex codec.
 */
/* cmocka.h needs these first, in this order. */
/* clang-format off */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
/* clang-format on */

#include "void/error.h"
#include "void/hash.h"
#include "void/prng.h"

#include <stdlib.h>
#include <string.h>

/* SHA-256("abc") and SHA-256("") match FIPS 180-2 / well-known digests. */
static void test_hash_matches_published_vectors(void **state)
{
    (void)state;
    struct void_hash h;
    char hex[VOID_HASH_HEX_SIZE];
    void_hash_compute("abc", 3, &h);
    void_hash_to_hex(&h, hex);
    assert_string_equal(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    void_hash_compute(NULL, 0, &h);
    void_hash_to_hex(&h, hex);
    assert_string_equal(hex, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}

/* For random inputs of many lengths, OpenSSL and libsodium agree. */
static void test_hash_openssl_and_sodium_agree(void **state)
{
    (void)state;
    struct void_prng p;
    void_prng_seed(&p, 5);
    uint8_t *buf = malloc(70000);
    for (size_t i = 0; i < 70000; i++) {
        buf[i] = (uint8_t)void_prng_next(&p);
    }
    for (int i = 0; i < 200; i++) {
        size_t len = (size_t)void_prng_below(&p, 70000);
        struct void_hash a, b;
        void_hash_compute(buf, len, &a);
        void_hash_compute_sodium(buf, len, &b);
        assert_true(void_hash_equal(&a, &b));
    }
    free(buf);
}

/* Setup: seeded random bytes. Action: hash random messages of up to 70 KB
 * one-shot with void_hash_digest and incrementally, cut into up to 8 random
 * pieces (empty pieces and NULL with length 0 included). Expected: both equal
 * libsodium's digest of the whole message, and the "abc" vector holds. */
static void test_hash_incremental_matches_one_shot(void **state)
{
    (void)state;
    struct void_prng p;
    void_prng_seed(&p, 11);
    uint8_t *buf = malloc(70000);
    assert_non_null(buf);
    for (size_t i = 0; i < 70000; i++) {
        buf[i] = (uint8_t)void_prng_next(&p);
    }
    for (int i = 0; i < 300; i++) {
        size_t len = (size_t)void_prng_below(&p, 70000);
        struct void_hash want;
        void_hash_compute_sodium(buf, len, &want);
        uint8_t one[VOID_HASH_SIZE], inc[VOID_HASH_SIZE];
        void_hash_digest(buf, len, one);
        assert_memory_equal(one, want.b, VOID_HASH_SIZE);
        struct void_hash_ctx c;
        void_hash_init(&c);
        size_t off = 0;
        for (int piece = 0; piece < 8 && off < len; piece++) {
            size_t n = (size_t)void_prng_below(&p, (uint32_t)(len - off + 1));
            void_hash_update(&c, buf + off, n);
            void_hash_update(&c, NULL, 0);
            off += n;
        }
        void_hash_update(&c, buf + off, len - off);
        void_hash_final(&c, inc);
        assert_memory_equal(inc, want.b, VOID_HASH_SIZE);
    }
    struct void_hash_ctx c;
    void_hash_init(&c);
    void_hash_update(&c, "a", 1);
    void_hash_update(&c, "bc", 2);
    uint8_t d[VOID_HASH_SIZE];
    void_hash_final(&c, d);
    struct void_hash h;
    memcpy(h.b, d, sizeof(d));
    char hex[VOID_HASH_HEX_SIZE];
    void_hash_to_hex(&h, hex);
    assert_string_equal(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    free(buf);
}

/* Setup: seeded random bytes. Action: void_hash_compute2 on pairs of
 * messages: every pair of lengths 0..200 (one to four blocks, with the
 * padding in one or two final blocks, and one message ending before the
 * other), unaligned starts, the published vectors, and 100 pairs of random
 * lengths up to 300 KB. Expected: each digest equals OpenSSL's
 * (void_hash_compute) and libsodium's for the same message, whether the
 * interleaved SHA-NI code runs (printed) or the fallback. */
static void test_hash_compute2_matches_single_digests(void **state)
{
    (void)state;
    struct void_prng p;
    void_prng_seed(&p, 6);
    size_t cap = 300000;
    uint8_t *buf = malloc(cap + 16);
    for (size_t i = 0; i < cap + 16; i++) {
        buf[i] = (uint8_t)void_prng_next(&p);
    }
    print_message("SHA-NI two-message code: %s\n", void_hash_x2_accelerated() ? "yes" : "no");
    struct void_hash a, b, x, y;
    char hex[VOID_HASH_HEX_SIZE];
    void_hash_compute2("abc", 3, NULL, 0, &a, &b);
    void_hash_to_hex(&a, hex);
    assert_string_equal(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    void_hash_to_hex(&b, hex);
    assert_string_equal(hex, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    for (size_t la = 0; la <= 200; la++) {
        for (size_t lb = 0; lb <= 200; lb++) {
            const uint8_t *pa = buf + la % 7, *pb = buf + 1000 + lb % 5;
            void_hash_compute2(pa, la, pb, lb, &a, &b);
            void_hash_compute(pa, la, &x);
            void_hash_compute(pb, lb, &y);
            assert_true(void_hash_equal(&a, &x));
            assert_true(void_hash_equal(&b, &y));
        }
    }
    for (int i = 0; i < 100; i++) {
        size_t la = (size_t)void_prng_below(&p, cap), lb = (size_t)void_prng_below(&p, cap);
        const uint8_t *pa = buf + (size_t)void_prng_below(&p, 16);
        const uint8_t *pb = buf + (cap - lb);
        void_hash_compute2(pa, la, pb, lb, &a, &b);
        void_hash_compute_sodium(pa, la, &x);
        void_hash_compute_sodium(pb, lb, &y);
        assert_true(void_hash_equal(&a, &x));
        assert_true(void_hash_equal(&b, &y));
    }
    free(buf);
}

/* Setup: seeded random bytes. Action: void_hash_compute_many on lists of 0
 * to 12 messages, 300 lists, each message of a random length up to 3000
 * bytes (some empty, one a NULL pointer of length 0) at a random offset,
 * so that the two lanes hand messages over at every relative position.
 * Expected: out[i] equals void_hash_compute of message i for every i. */
static void test_hash_compute_many_matches_single_digests(void **state)
{
    (void)state;
    struct void_prng p;
    void_prng_seed(&p, 7);
    size_t cap = 4096;
    uint8_t *buf = malloc(cap);
    for (size_t i = 0; i < cap; i++) {
        buf[i] = (uint8_t)void_prng_next(&p);
    }
    for (int round = 0; round < 300; round++) {
        const uint8_t *data[12];
        size_t len[12], n = (size_t)void_prng_below(&p, 13);
        struct void_hash out[12], want;
        for (size_t i = 0; i < n; i++) {
            len[i] = void_prng_below(&p, 4) == 0 ? 0 : (size_t)void_prng_below(&p, 3001);
            data[i] = buf + void_prng_below(&p, cap - len[i] + 1);
        }
        if (n > 0 && round % 10 == 0) {
            data[n - 1] = NULL;
            len[n - 1] = 0;
        }
        void_hash_compute_many(data, len, n, out);
        for (size_t i = 0; i < n; i++) {
            void_hash_compute(data[i], len[i], &want);
            assert_true(void_hash_equal(&out[i], &want));
        }
    }
    free(buf);
}

/* Hex round-trips; wrong lengths and non-hex characters are rejected;
 * upper case is accepted. */
static void test_hash_hex_round_trip_and_rejects(void **state)
{
    (void)state;
    struct void_hash h, back;
    char hex[VOID_HASH_HEX_SIZE];
    void_hash_compute("x", 1, &h);
    void_hash_to_hex(&h, hex);
    assert_int_equal(void_hash_from_hex(hex, &back), 0);
    assert_true(void_hash_equal(&h, &back));
    hex[5] = (char)(hex[5] >= 'a' ? hex[5] - 32 : hex[5]);
    assert_int_equal(void_hash_from_hex(hex, &back), 0);
    assert_true(void_hash_equal(&h, &back));
    hex[10] = 'g';
    assert_int_equal(void_hash_from_hex(hex, &back), VOID_EPARSE);
    assert_int_equal(void_hash_from_hex("abcd", &back), VOID_EPARSE);
    assert_int_equal(void_hash_from_hex("", &back), VOID_EPARSE);
}

/* Bad hex is refused wherever it sits (first digit, last digit, a blank, a
 * "0x" prefix in place of two digits, a separator as sodium_hex2bin could
 * be told to ignore), and a string one digit short or long is refused. */
static void test_hash_hex_rejects_bad_input_anywhere(void **state)
{
    (void)state;
    struct void_hash h, back;
    char good[VOID_HASH_HEX_SIZE], hex[VOID_HASH_HEX_SIZE + 2];
    void_hash_compute("abc", 3, &h);
    void_hash_to_hex(&h, good);
    const struct {
        size_t pos;
        char c;
    } bad[] = {{0, 'g'}, {63, 'g'}, {63, ' '}, {0, ' '}, {31, ':'}, {32, '-'}, {1, 'x'}, {62, '\n'}};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        memcpy(hex, good, sizeof(good));
        hex[bad[i].pos] = bad[i].c;
        assert_int_equal(void_hash_from_hex(hex, &back), VOID_EPARSE);
    }
    memcpy(hex, good, sizeof(good));
    hex[63] = '\0'; /* 63 digits */
    assert_int_equal(void_hash_from_hex(hex, &back), VOID_EPARSE);
    memcpy(hex, good, sizeof(good));
    hex[64] = '0'; /* 65 digits */
    hex[65] = '\0';
    assert_int_equal(void_hash_from_hex(hex, &back), VOID_EPARSE);
    hex[64] = '\0';
    assert_int_equal(void_hash_from_hex(hex, &back), 0);
    assert_true(void_hash_equal(&h, &back));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hash_matches_published_vectors),
        cmocka_unit_test(test_hash_openssl_and_sodium_agree),
        cmocka_unit_test(test_hash_incremental_matches_one_shot),
        cmocka_unit_test(test_hash_compute2_matches_single_digests),
        cmocka_unit_test(test_hash_compute_many_matches_single_digests),
        cmocka_unit_test(test_hash_hex_round_trip_and_rejects),
        cmocka_unit_test(test_hash_hex_rejects_bad_input_anywhere),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
