/*
 * Tests of the signature memo (the simulator's and voidload's) (include/void/sigmemo.h): it
 * answers a repeated check without libsodium, and it never accepts what
 * Ed25519 rejects — an altered frame, a flipped signature bit, a frame that
 * claims another sender, a key pair whose halves disagree — also when the
 * memo is full and forgets, and also when the same forgery comes again.
 */
/* cmocka.h needs these first, in this order. */
/* clang-format off */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
/* clang-format on */

#include "void/codec.h"
#include "void/error.h"
#include "void/sigmemo.h"
#include "void/sign.h"

#include <string.h>

#define NODES 3

struct fixture {
    struct void_sign_keypair kp[NODES];
    struct void_keyring ring;
    struct void_sigmemo memo;
    uint8_t frame[512];
    size_t frame_len;
};

static struct fixture fx;

/* Node i's key from a seed of i + 1 in every byte; ids 0..NODES-1. */
static int setup(void **state)
{
    (void)state;
    if (void_sign_global_init() != 0) {
        return -1;
    }
    memset(&fx, 0, sizeof(fx));
    void_keyring_init(&fx.ring);
    for (uint32_t i = 0; i < NODES; i++) {
        uint8_t seed[VOID_SIGN_SEED_SIZE];
        memset(seed, (int)i + 1, sizeof(seed));
        if (void_sign_keypair_from_seed(&fx.kp[i], seed) != 0 ||
            void_keyring_add(&fx.ring, i, fx.kp[i].public_key) != 0) {
            return -1;
        }
    }
    return void_sigmemo_init(&fx.memo, 10);
}

static int teardown(void **state)
{
    (void)state;
    void_sigmemo_uninstall();
    void_sigmemo_fini(&fx.memo);
    return 0;
}

/* Encodes a PREPARE frame from node 0 with body "hello, replicas" into fx.frame
 * (signed while the memo, if installed, watches). */
static void encode_frame(void)
{
    static const uint8_t body[] = "hello, replicas";
    struct void_frame f = {
        .type = VOID_MSG_PREPARE,
        .sender = 0,
        .hlc = {.wall_ns = 1764000000000000000ull, .logical = 3},
        .body = body,
        .body_len = sizeof(body),
    };
    assert_int_equal(void_codec_encode(&f, &fx.kp[0], fx.frame, sizeof(fx.frame), &fx.frame_len),
                     0);
}

static int verify_frame(const uint8_t *buf, size_t len)
{
    struct void_frame out;
    return void_codec_decode_verified(buf, len, &fx.ring, &out);
}

/* Setup: memo installed, a frame signed by node 0. Action: three receivers
 * verify it. Expected: all accept it, and the memo answered all three (the
 * signature was recorded when it was made), so libsodium verified nothing. */
static void test_sigmemo_answers_checks_of_signatures_it_saw_made(void **state)
{
    (void)state;
    void_sigmemo_install(&fx.memo);
    encode_frame();
    assert_int_equal(fx.memo.records, 1);
    for (int i = 0; i < 3; i++) {
        assert_int_equal(verify_frame(fx.frame, fx.frame_len), 0);
    }
    assert_int_equal(fx.memo.hits, 3);
    assert_int_equal(fx.memo.misses, 0);
}

/* Setup: memo installed, a valid frame signed (and so recorded). Action:
 * verify copies with one body byte changed, one signature bit flipped, and
 * the sender id changed to node 1 — each twice. Expected: every copy is
 * rejected with VOID_EBAD_SIG, the first time by libsodium (a miss), the
 * second time by the memo remembering the rejection; the original still
 * verifies. */
static void test_sigmemo_still_rejects_tampered_frames(void **state)
{
    (void)state;
    void_sigmemo_install(&fx.memo);
    encode_frame();
    struct void_frame parsed;
    assert_int_equal(void_codec_decode(fx.frame, fx.frame_len, &parsed), 0);
    size_t body_at = (size_t)(parsed.body - fx.frame);
    size_t sig_at = (size_t)(parsed.sig - fx.frame);
    size_t sender_at = 8; /* codec header: magic 4, version 1, type 1, flags 2, sender */
    assert_int_equal(fx.frame[sender_at + 3], 0);
    size_t flips[3][2] = {{body_at + 2, 0x01}, {sig_at + 17, 0x80}, {sender_at + 3, 0x01}};
    for (int k = 0; k < 3; k++) {
        uint8_t bad[sizeof(fx.frame)];
        memcpy(bad, fx.frame, fx.frame_len);
        bad[flips[k][0]] ^= (uint8_t)flips[k][1];
        uint64_t misses = fx.memo.misses, hits = fx.memo.hits;
        assert_int_equal(verify_frame(bad, fx.frame_len), VOID_EBAD_SIG);
        assert_int_equal(fx.memo.misses, misses + 1);
        assert_int_equal(verify_frame(bad, fx.frame_len), VOID_EBAD_SIG);
        assert_int_equal(fx.memo.hits, hits + 1);
    }
    assert_int_equal(verify_frame(fx.frame, fx.frame_len), 0);
}

/* Setup: a key pair whose public half is node 1's key but whose secret key is
 * node 0's (a signer that lies about its key). Action: sign with it under the
 * memo, verify against node 1's key. Expected: signing recorded nothing,
 * libsodium checked the signature and rejected it. */
static void test_sigmemo_does_not_vouch_for_an_inconsistent_key_pair(void **state)
{
    (void)state;
    void_sigmemo_install(&fx.memo);
    struct void_sign_keypair liar = fx.kp[0];
    memcpy(liar.public_key, fx.kp[1].public_key, VOID_SIGN_PUBLIC_KEY_SIZE);
    static const uint8_t msg[] = "checkpoint 7";
    uint8_t sig[VOID_SIGN_SIZE];
    assert_int_equal(void_sign(&liar, VOID_SIGN_DOMAIN_TEST, msg, sizeof(msg), sig), 0);
    assert_int_equal(fx.memo.records, 0);
    assert_int_equal(void_keyring_verify(&fx.ring, 1, VOID_SIGN_DOMAIN_TEST, msg, sizeof(msg), sig),
                     VOID_EBAD_SIG);
    assert_int_equal(fx.memo.misses, 1);
    void_sign_keypair_wipe(&liar);
}

/* Setup: a memo of 16 slots (forgets at 8). Action: sign 40 distinct
 * messages with alternating keys, then verify each against the right and the
 * wrong key. Expected: the memo was cleared several times, every right
 * check passes and every wrong one fails, as without a memo. */
static void test_sigmemo_that_forgets_keeps_answers_right(void **state)
{
    (void)state;
    struct void_sigmemo small;
    assert_int_equal(void_sigmemo_init(&small, 4), 0);
    void_sigmemo_install(&small);
    uint8_t sigs[40][VOID_SIGN_SIZE];
    uint8_t msg[8];
    for (uint32_t i = 0; i < 40; i++) {
        memset(msg, (int)i, sizeof(msg));
        assert_int_equal(void_sign(&fx.kp[i % 2], VOID_SIGN_DOMAIN_TEST, msg, sizeof(msg), sigs[i]),
                         0);
    }
    for (uint32_t i = 0; i < 40; i++) {
        memset(msg, (int)i, sizeof(msg));
        assert_int_equal(
            void_keyring_verify(&fx.ring, i % 2, VOID_SIGN_DOMAIN_TEST, msg, sizeof(msg), sigs[i]),
            0);
        assert_int_equal(void_keyring_verify(
                             &fx.ring, 1 - i % 2, VOID_SIGN_DOMAIN_TEST, msg, sizeof(msg), sigs[i]),
                         VOID_EBAD_SIG);
    }
    assert_true(small.clears >= 5);
    assert_true(small.count < small.cap / 2 + 1);
    void_sigmemo_uninstall();
    void_sigmemo_fini(&small);
}

/* Setup: a memo installed, then uninstalled. Action: sign and verify.
 * Expected: the memo saw nothing (signing and verification are back on the
 * plain libsodium path, as in voidd). */
static void test_sigmemo_uninstalled_sees_nothing(void **state)
{
    (void)state;
    void_sigmemo_install(&fx.memo);
    void_sigmemo_uninstall();
    encode_frame();
    assert_int_equal(verify_frame(fx.frame, fx.frame_len), 0);
    assert_int_equal(fx.memo.records, 0);
    assert_int_equal(fx.memo.hits + fx.memo.misses, 0);
}

/* Expected: sizes outside 2^4..2^24 slots are refused, and fini after the
 * failed init is safe. */
static void test_sigmemo_rejects_bad_sizes(void **state)
{
    (void)state;
    struct void_sigmemo m;
    assert_int_equal(void_sigmemo_init(&m, 3), VOID_EINVAL);
    void_sigmemo_fini(&m);
    assert_int_equal(void_sigmemo_init(&m, 25), VOID_EINVAL);
    void_sigmemo_fini(&m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(
            test_sigmemo_answers_checks_of_signatures_it_saw_made, setup, teardown),
        cmocka_unit_test_setup_teardown(
            test_sigmemo_still_rejects_tampered_frames, setup, teardown),
        cmocka_unit_test_setup_teardown(
            test_sigmemo_does_not_vouch_for_an_inconsistent_key_pair, setup, teardown),
        cmocka_unit_test_setup_teardown(
            test_sigmemo_that_forgets_keeps_answers_right, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sigmemo_uninstalled_sees_nothing, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sigmemo_rejects_bad_sizes, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
