/*
 * Tests of the MACs (src/crypto/mac.c): both ends derive the same key from
 * their Ed25519 keys, every pair gets its own, unusable keys are refused, a
 * tag checks only for its key and its exact bytes, and the memo of derived
 * keys answers what deriving would.
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
#include "void/mac.h"
#include "void/sign.h"

#include <string.h>

static void keypair(struct void_sign_keypair *kp, uint8_t b)
{
    uint8_t seed[VOID_SIGN_SEED_SIZE];
    memset(seed, b, sizeof(seed));
    assert_int_equal(void_sign_keypair_from_seed(kp, seed), 0);
}

/* Setup: three key pairs. Action: derive the key of each ordered pair.
 * Expected: a and b get the same key from either end; the three pairs get
 * three different keys. */
static void test_mac_key_is_shared_and_per_pair(void **state)
{
    (void)state;
    struct void_sign_keypair a, b, c;
    keypair(&a, 1);
    keypair(&b, 2);
    keypair(&c, 3);
    uint8_t ab[VOID_MAC_KEY_SIZE], ba[VOID_MAC_KEY_SIZE], ac[VOID_MAC_KEY_SIZE],
        bc[VOID_MAC_KEY_SIZE];
    assert_int_equal(void_mac_key_derive(&a, b.public_key, ab), 0);
    assert_int_equal(void_mac_key_derive(&b, a.public_key, ba), 0);
    assert_int_equal(void_mac_key_derive(&a, c.public_key, ac), 0);
    assert_int_equal(void_mac_key_derive(&b, c.public_key, bc), 0);
    assert_memory_equal(ab, ba, VOID_MAC_KEY_SIZE);
    assert_memory_not_equal(ab, ac, VOID_MAC_KEY_SIZE);
    assert_memory_not_equal(ab, bc, VOID_MAC_KEY_SIZE);
    assert_memory_not_equal(ac, bc, VOID_MAC_KEY_SIZE);
}

/* Action: derive with one's own public key, with the identity point and
 * with bytes that are no curve point. Expected: VOID_EBAD_FIELD each. */
static void test_mac_key_refuses_unusable_keys(void **state)
{
    (void)state;
    struct void_sign_keypair a;
    keypair(&a, 1);
    uint8_t key[VOID_MAC_KEY_SIZE];
    assert_int_equal(void_mac_key_derive(&a, a.public_key, key), VOID_EBAD_FIELD);
    uint8_t identity[VOID_SIGN_PUBLIC_KEY_SIZE] = {1}; /* y = 1: the neutral element */
    assert_int_equal(void_mac_key_derive(&a, identity, key), VOID_EBAD_FIELD);
    uint8_t junk[VOID_SIGN_PUBLIC_KEY_SIZE];
    memset(junk, 0xff, sizeof(junk)); /* y >= p: not canonical */
    assert_int_equal(void_mac_key_derive(&a, junk, key), VOID_EBAD_FIELD);
}

/* Setup: a key and a message. Action: tag it, then check the tag with the
 * same key and bytes, another key, each byte of the message flipped in
 * turn, one byte shorter, and a flipped tag bit. Expected: only the first
 * checks. */
static void test_mac_tag_checks_only_its_key_and_bytes(void **state)
{
    (void)state;
    uint8_t k1[VOID_MAC_KEY_SIZE], k2[VOID_MAC_KEY_SIZE];
    memset(k1, 0x11, sizeof(k1));
    memset(k2, 0x11, sizeof(k2));
    k2[31] ^= 1;
    uint8_t msg[100];
    for (size_t i = 0; i < sizeof(msg); i++) {
        msg[i] = (uint8_t)(i * 7);
    }
    uint8_t tag[VOID_MAC_SIZE];
    void_mac_compute(k1, msg, sizeof(msg), tag);
    assert_int_equal(void_mac_verify(k1, msg, sizeof(msg), tag), 0);
    assert_int_equal(void_mac_verify(k2, msg, sizeof(msg), tag), VOID_EBAD_SIG);
    for (size_t i = 0; i < sizeof(msg); i++) {
        msg[i] ^= 0x80;
        assert_int_equal(void_mac_verify(k1, msg, sizeof(msg), tag), VOID_EBAD_SIG);
        msg[i] ^= 0x80;
    }
    assert_int_equal(void_mac_verify(k1, msg, sizeof(msg) - 1, tag), VOID_EBAD_SIG);
    tag[5] ^= 4;
    assert_int_equal(void_mac_verify(k1, msg, sizeof(msg), tag), VOID_EBAD_SIG);
}

/* Setup: 20 key pairs and a memo of 16 slots (it starts over at 8).
 * Action: derive every ordered pair among the first 5 with and without the
 * memo installed, twice (more pairs than the memo holds), then 15 more
 * pairs, then the last pair again, then an unusable peer key. Expected: the
 * memo's key always equals the one derived without it (also after it
 * started over); the pair just stored is a hit; a failure is reported and
 * not stored. */
static void test_mac_memo_answers_exactly_what_derive_would(void **state)
{
    (void)state;
    struct void_sign_keypair kp[20];
    for (uint8_t i = 0; i < 20; i++) {
        keypair(&kp[i], (uint8_t)(i + 1));
    }
    struct void_mac_memo memo;
    assert_int_equal(void_mac_memo_init(&memo, 3), VOID_EINVAL);
    void_mac_memo_fini(&memo);
    assert_int_equal(void_mac_memo_init(&memo, 4), 0);
    uint8_t want[VOID_MAC_KEY_SIZE], got[VOID_MAC_KEY_SIZE];
    for (int pass = 0; pass < 2; pass++) {
        for (int i = 0; i < 5; i++) {
            for (int j = 0; j < 5; j++) {
                if (i == j) {
                    continue;
                }
                assert_int_equal(void_mac_key_derive(&kp[i], kp[j].public_key, want), 0);
                void_mac_memo_install(&memo);
                assert_int_equal(void_mac_key_derive(&kp[i], kp[j].public_key, got), 0);
                void_mac_memo_install(NULL);
                assert_memory_equal(want, got, VOID_MAC_KEY_SIZE);
            }
        }
        if (pass == 0) {
            assert_int_equal(memo.misses, 20);
        }
    }
    /* 20 pairs into a memo that starts over at 8: some second-pass lookups
     * missed, but every answer was right. */
    assert_int_equal(memo.hits + memo.misses, 40);
    assert_true(memo.count <= 8);
    void_mac_memo_install(&memo);
    for (int i = 5; i < 20; i++) {
        assert_int_equal(void_mac_key_derive(&kp[i], kp[0].public_key, got), 0);
        void_mac_memo_install(NULL);
        assert_int_equal(void_mac_key_derive(&kp[i], kp[0].public_key, want), 0);
        void_mac_memo_install(&memo);
        assert_memory_equal(want, got, VOID_MAC_KEY_SIZE);
    }
    uint64_t before = memo.hits;
    assert_int_equal(void_mac_key_derive(&kp[19], kp[0].public_key, got), 0);
    assert_int_equal(memo.hits, before + 1);
    assert_memory_equal(want, got, VOID_MAC_KEY_SIZE);
    size_t count = memo.count;
    assert_int_equal(void_mac_key_derive(&kp[1], kp[1].public_key, got), VOID_EBAD_FIELD);
    assert_int_equal(memo.count, count);
    void_mac_memo_install(NULL);
    void_mac_memo_fini(&memo);
}

/* Action: the key a keypair shares with itself (a replica and its own
 * client), twice, for another keypair, and a pair's key. Expected: the same
 * key each time for one keypair, another for another keypair, and neither
 * is the key of the pair (a, b). */
static void test_mac_key_self_is_its_owners_alone(void **state)
{
    (void)state;
    struct void_sign_keypair a, b;
    keypair(&a, 1);
    keypair(&b, 2);
    uint8_t k1[VOID_MAC_KEY_SIZE], k2[VOID_MAC_KEY_SIZE], kb[VOID_MAC_KEY_SIZE], ab[VOID_MAC_KEY_SIZE];
    assert_int_equal(void_mac_key_self(&a, k1), 0);
    assert_int_equal(void_mac_key_self(&a, k2), 0);
    assert_memory_equal(k1, k2, VOID_MAC_KEY_SIZE);
    assert_int_equal(void_mac_key_self(&b, kb), 0);
    assert_memory_not_equal(k1, kb, VOID_MAC_KEY_SIZE);
    assert_int_equal(void_mac_key_derive(&a, b.public_key, ab), 0);
    assert_memory_not_equal(k1, ab, VOID_MAC_KEY_SIZE);
    assert_memory_not_equal(kb, ab, VOID_MAC_KEY_SIZE);
}

int main(void)
{
    assert_int_equal(void_sign_global_init(), 0);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_mac_key_is_shared_and_per_pair),
        cmocka_unit_test(test_mac_key_refuses_unusable_keys),
        cmocka_unit_test(test_mac_key_self_is_its_owners_alone),
        cmocka_unit_test(test_mac_tag_checks_only_its_key_and_bytes),
        cmocka_unit_test(test_mac_memo_answers_exactly_what_derive_would),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
