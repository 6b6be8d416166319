/*
 * Tests of signed fault-injection requests (include/void/fault_auth.h): the
 * signature binds every knob and the target node, and the replay filter
 * refuses a request taken before, one outside the window, and one whose
 * nonce it had to forget.
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
#include "void/fault_auth.h"
#include "void/sign.h"

#include <string.h>

static void keypair(struct void_sign_keypair *kp, uint8_t seed_byte)
{
    uint8_t seed[VOID_SIGN_SEED_SIZE];
    memset(seed, seed_byte, sizeof(seed));
    assert_int_equal(void_sign_global_init(), 0);
    assert_int_equal(void_sign_keypair_from_seed(kp, seed), 0);
}

static struct void_fault_request request(void)
{
    struct void_fault_request r;
    memset(&r, 0, sizeof(r));
    r.node = 2;
    r.delay_ms = 20;
    r.loss_pct = 10;
    r.count_blocked = 2;
    r.blocked[0] = 1;
    r.blocked[1] = 3;
    r.ts_ms = 1700000000000ull;
    memset(r.nonce, 0xab, sizeof(r.nonce));
    return r;
}

/* Setup: a request signed by the admin key. Action: verify it, then with
 * each field changed in turn, then under another key. Expected: only the
 * original verifies. */
static void test_fault_auth_signature_binds_every_field(void **state)
{
    (void)state;
    struct void_sign_keypair admin, other;
    keypair(&admin, 1);
    keypair(&other, 2);
    struct void_fault_request r = request();
    uint8_t sig[VOID_SIGN_SIZE];
    assert_int_equal(void_fault_request_sign(&r, &admin, sig), 0);
    assert_int_equal(void_fault_request_verify(&r, admin.public_key, sig), 0);
    assert_int_equal(void_fault_request_verify(&r, other.public_key, sig), VOID_EBAD_SIG);
    for (int field = 0; field < 10; field++) {
        struct void_fault_request t = request();
        switch (field) {
        case 0:
            t.node = 3;
            break;
        case 1:
            t.delay_ms = 21;
            break;
        case 2:
            t.loss_pct = 0;
            break;
        case 3:
            t.isolate = 1;
            break;
        case 4:
            t.count_blocked = 1;
            break;
        case 5:
            t.blocked[1] = 2;
            break;
        case 6:
            t.ts_ms++;
            break;
        case 7:
            t.skew_ms = -2000;
            break;
        case 8:
            t.byz = 2;
            break;
        default:
            t.nonce[15] ^= 1;
            break;
        }
        assert_int_equal(void_fault_request_verify(&t, admin.public_key, sig), VOID_EBAD_SIG);
    }
}

/* Setup: a request without skew or Byzantine strategy, then with each.
 * Action: its canonical text. Expected: the text of before these knobs
 * existed (so old signatures still verify), then " skew_ms=-2000" and
 * " byz=3" appended. */
static void test_fault_auth_text_appends_skew_and_byz_only_when_set(void **state)
{
    (void)state;
    struct void_fault_request r = request();
    char text[VOID_FAULT_AUTH_MSG_MAX];
    int n = void_fault_request_text(&r, text, sizeof(text));
    assert_int_equal(n, (int)strlen(text));
    assert_string_equal(text,
                        "void-fault/1 node=2 ts_ms=1700000000000 nonce="
                        "abababababababababababababababab delay_ms=20 loss_pct=10 isolate=0 "
                        "block=1,3");
    r.skew_ms = -2000;
    r.byz = 3;
    assert_true(void_fault_request_text(&r, text, sizeof(text)) > n);
    assert_non_null(strstr(text, "block=1,3 skew_ms=-2000 byz=3"));
}

/* Setup: an empty replay filter at now. Action: admit a request, the same
 * again, one 31 s old, one 31 s ahead, one at the edge of the window.
 * Expected: taken, EEXIST, ERANGE, ERANGE, taken. */
static void test_fault_replay_refuses_repeats_and_stale_requests(void **state)
{
    (void)state;
    static struct void_fault_replay rp;
    memset(&rp, 0, sizeof(rp));
    uint64_t now = 1700000000000ull;
    uint8_t a[VOID_FAULT_AUTH_NONCE_SIZE], b[VOID_FAULT_AUTH_NONCE_SIZE];
    memset(a, 1, sizeof(a));
    memset(b, 2, sizeof(b));
    assert_int_equal(void_fault_replay_admit(&rp, now, a, now), 0);
    assert_int_equal(void_fault_replay_admit(&rp, now, a, now + 5), VOID_EEXIST);
    assert_int_equal(void_fault_replay_admit(&rp, now - 31000, b, now), VOID_ERANGE);
    assert_int_equal(void_fault_replay_admit(&rp, now + 31000, b, now), VOID_ERANGE);
    assert_int_equal(void_fault_replay_admit(&rp, now - VOID_FAULT_AUTH_WINDOW_MS, b, now), 0);
}

/* Setup: a filter filled past its capacity with fresh nonces. Action:
 * replay the first (forgotten) one within the window. Expected: refused
 * (ERANGE: at or below the floor), and a newer request is still taken. */
static void test_fault_replay_refuses_a_forgotten_nonce_by_its_floor(void **state)
{
    (void)state;
    static struct void_fault_replay rp;
    memset(&rp, 0, sizeof(rp));
    uint64_t now = 1700000000000ull;
    uint8_t n[VOID_FAULT_AUTH_NONCE_SIZE];
    for (uint32_t i = 0; i < VOID_FAULT_AUTH_SEEN_MAX + 10; i++) {
        memset(n, 0, sizeof(n));
        memcpy(n, &i, sizeof(i));
        assert_int_equal(void_fault_replay_admit(&rp, now + i, n, now + i), 0);
    }
    uint32_t first = 0;
    memset(n, 0, sizeof(n));
    memcpy(n, &first, sizeof(first));
    assert_int_equal(void_fault_replay_admit(&rp, now, n, now + 300), VOID_ERANGE);
    n[8] = 9;
    assert_int_equal(void_fault_replay_admit(&rp, now + 400, n, now + 400), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fault_auth_signature_binds_every_field),
        cmocka_unit_test(test_fault_auth_text_appends_skew_and_byz_only_when_set),
        cmocka_unit_test(test_fault_replay_refuses_repeats_and_stale_requests),
        cmocka_unit_test(test_fault_replay_refuses_a_forgotten_nonce_by_its_floor),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
