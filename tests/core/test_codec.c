/*
 * Tests of the wire envelope: round trips of every message type, the exact
 * header layout of docs/wire.md, and one distinct error code for each kind
 * of malformed input (truncated, oversized, bad magic/version/type/flags,
 * bad length, bad signature, unknown sender).
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
#include "void/sign.h"

#include <stdlib.h>
#include <string.h>

#define NODE_A 7
#define NODE_B 8

static struct void_sign_keypair key_a, key_b;
static struct void_keyring ring;

static const enum void_msg_type all_types[] = {
#define VOID__X(name, value) VOID_MSG_##name,
    VOID_MSG_TYPE_MAP(VOID__X)
#undef VOID__X
};

static int setup_keys(void **state)
{
    (void)state;
    if (void_sign_global_init() != 0) {
        return -1;
    }
    uint8_t seed[VOID_SIGN_SEED_SIZE];
    memset(seed, 0xa1, sizeof(seed));
    void_sign_keypair_from_seed(&key_a, seed);
    memset(seed, 0xb2, sizeof(seed));
    void_sign_keypair_from_seed(&key_b, seed);
    void_keyring_init(&ring);
    if (void_keyring_add(&ring, NODE_A, key_a.public_key) != 0 ||
        void_keyring_add(&ring, NODE_B, key_b.public_key) != 0) {
        return -1;
    }
    return 0;
}

/* Encodes a frame of type from NODE_A with body_len patterned bytes into buf
 * and returns its size. */
static size_t make_frame(uint8_t type, uint32_t body_len, uint8_t *buf, size_t cap)
{
    uint8_t *body = malloc(body_len + 1);
    assert_non_null(body);
    for (uint32_t i = 0; i < body_len; i++) {
        body[i] = (uint8_t)(i * 7 + type);
    }
    struct void_frame f = {
        .type = type,
        .sender = NODE_A,
        .hlc = {.wall_ns = 1764080020123456789ull, .logical = 42},
        .body = body,
        .body_len = body_len,
    };
    size_t n = 0;
    assert_int_equal(void_codec_encode(&f, &key_a, buf, cap, &n), 0);
    assert_int_equal(n, void_codec_frame_size(body_len));
    free(body);
    return n;
}

/* Setup: for every message type, bodies of 0, 1, 300 and 5000 bytes.
 * Action: encode, then decode_verified. Expected: every field and the body
 * come back unchanged, and the signature points at the frame's last 64
 * bytes. */
static void test_codec_round_trips_every_message_type(void **state)
{
    (void)state;
    static uint8_t buf[8192];
    const uint32_t lens[] = {0, 1, 300, 5000};
    for (size_t t = 0; t < sizeof(all_types) / sizeof(all_types[0]); t++) {
        for (size_t l = 0; l < 4; l++) {
            uint8_t type = (uint8_t)all_types[t];
            size_t n = make_frame(type, lens[l], buf, sizeof(buf));
            struct void_frame f;
            memset(&f, 0, sizeof(f));
            assert_int_equal(void_codec_decode_verified(buf, n, &ring, &f), 0);
            assert_int_equal(f.type, type);
            assert_int_equal(f.sender, NODE_A);
            assert_int_equal(f.hlc.wall_ns, 1764080020123456789ull);
            assert_int_equal(f.hlc.logical, 42);
            assert_int_equal(f.body_len, lens[l]);
            assert_ptr_equal(f.body, buf + VOID_CODEC_HEADER_SIZE);
            for (uint32_t i = 0; i < lens[l]; i++) {
                assert_int_equal(f.body[i], (uint8_t)(i * 7 + type));
            }
            assert_ptr_equal(f.sig, buf + n - VOID_SIGN_SIZE);
            assert_non_null(void_msg_type_name(type));
        }
    }
}

/* Setup: a frame with a 5-byte body. Expected: the header bytes are exactly
 * those of docs/wire.md: "VOID", version 1, type, zero flags, big-endian
 * sender, HLC, body length; the signature verifies over [0, 28+N) in domain
 * FRAME with the raw sign API. */
static void test_codec_header_layout_matches_docs(void **state)
{
    (void)state;
    uint8_t buf[256];
    struct void_frame f = {
        .type = VOID_MSG_PREPARE,
        .sender = 0x01020304,
        .hlc = {.wall_ns = 0x1122334455667788ull, .logical = 0x99aabbcc},
        .body = (const uint8_t *)"hello",
        .body_len = 5,
    };
    size_t n;
    assert_int_equal(void_codec_encode(&f, &key_a, buf, sizeof(buf), &n), 0);
    assert_int_equal(n, 28 + 5 + 64);
    const uint8_t want[33] = {'V',  'O',  'I',  'D',  1,    4,    0,    0,    1,    2,    3,
                              4,    0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88, 0x99, 0xaa,
                              0xbb, 0xcc, 0,    0,    0,    5,    'h',  'e',  'l',  'l',  'o'};
    assert_memory_equal(buf, want, sizeof(want));
    assert_int_equal(void_sign_verify(key_a.public_key, VOID_SIGN_DOMAIN_FRAME, buf, 33, buf + 33),
                     0);
}

/* Setup: a valid frame of 28 + 100 + 64 bytes. Action: decode (and
 * decode_verified) every proper prefix, from 0 bytes up to one byte short.
 * Expected: each is VOID_ETRUNCATED; peek_size says 0 below the header and
 * the full size from the header on. */
static void test_codec_rejects_every_truncation(void **state)
{
    (void)state;
    uint8_t buf[512];
    size_t n = make_frame(VOID_MSG_COMMIT, 100, buf, sizeof(buf));
    for (size_t len = 0; len < n; len++) {
        /* A copy of exactly len bytes, so ASan catches any read past it. */
        uint8_t *copy = malloc(len + 1);
        assert_non_null(copy);
        memcpy(copy, buf, len);
        struct void_frame f;
        assert_int_equal(void_codec_decode(copy, len, &f), VOID_ETRUNCATED);
        assert_int_equal(void_codec_decode_verified(copy, len, &ring, &f), VOID_ETRUNCATED);
        long want = len < VOID_CODEC_HEADER_SIZE ? 0 : (long)n;
        assert_int_equal(void_codec_peek_size(copy, len), want);
        free(copy);
    }
    struct void_frame f;
    assert_int_equal(void_codec_decode(NULL, 0, &f), VOID_ETRUNCATED);
}

/* Action: corrupt one header field at a time in a valid frame. Expected: the
 * field's own code, from decode, decode_verified and peek_size alike. */
static void test_codec_rejects_bad_header_fields(void **state)
{
    (void)state;
    uint8_t good[256], buf[256];
    size_t n = make_frame(VOID_MSG_PRE_PREPARE, 20, good, sizeof(good));
    struct {
        size_t at;
        uint8_t value;
        int want;
    } cases[] = {
        {0, 'X', VOID_EBAD_MAGIC},
        {3, 'd', VOID_EBAD_MAGIC},
        {4, 0, VOID_EBAD_VERSION},
        {4, 2, VOID_EBAD_VERSION},
        {4, 255, VOID_EBAD_VERSION},
        {5, 0, VOID_EBAD_TYPE},
        {5, 18, VOID_EBAD_TYPE}, /* the first value past the table */
        {5, 255, VOID_EBAD_TYPE},
        {6, 0x80, VOID_EBAD_FIELD},
        {7, 0x01, VOID_EBAD_FIELD},
        {24, 0x01, VOID_EOVERSIZED},
        {24, 0xff, VOID_EOVERSIZED},
        {25, 0x40, VOID_EOVERSIZED},
        {26, 0x01, VOID_ETRUNCATED},
        {27, 21, VOID_ETRUNCATED},
        {27, 19, VOID_EBAD_LENGTH},
        {27, 0, VOID_EBAD_LENGTH},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        memcpy(buf, good, n);
        buf[cases[i].at] = cases[i].value;
        struct void_frame f;
        assert_int_equal(void_codec_decode(buf, n, &f), cases[i].want);
        assert_int_equal(void_codec_decode_verified(buf, n, &ring, &f), cases[i].want);
        long peek = void_codec_peek_size(buf, n);
        if (cases[i].want == VOID_ETRUNCATED || cases[i].want == VOID_EBAD_LENGTH) {
            assert_true(peek > 0); /* the header is fine; the length disagrees with len */
        } else {
            assert_int_equal(peek, cases[i].want);
        }
    }
    /* Every single bit of the flags field is refused. */
    for (int bit = 0; bit < 16; bit++) {
        memcpy(buf, good, n);
        buf[6 + bit / 8] ^= (uint8_t)(1u << (bit % 8));
        struct void_frame f;
        assert_int_equal(void_codec_decode(buf, n, &f), VOID_EBAD_FIELD);
    }
}

/* Setup: a valid frame followed by one extra byte. Expected: VOID_EBAD_LENGTH
 * (a frame must be exactly its length). A length field of exactly
 * VOID_CODEC_BODY_MAX is accepted by peek_size; one more is VOID_EOVERSIZED. */
static void test_codec_rejects_trailing_bytes_and_oversized(void **state)
{
    (void)state;
    uint8_t buf[256];
    size_t n = make_frame(VOID_MSG_REPLY, 10, buf, sizeof(buf) - 1);
    buf[n] = 0;
    struct void_frame f;
    assert_int_equal(void_codec_decode(buf, n + 1, &f), VOID_EBAD_LENGTH);
    assert_int_equal(void_codec_decode(buf, n, &f), 0);

    uint8_t hdr[VOID_CODEC_HEADER_SIZE];
    memcpy(hdr, buf, sizeof(hdr));
    uint32_t max = VOID_CODEC_BODY_MAX;
    hdr[24] = (uint8_t)(max >> 24);
    hdr[25] = (uint8_t)(max >> 16);
    hdr[26] = (uint8_t)(max >> 8);
    hdr[27] = (uint8_t)max;
    assert_int_equal(void_codec_peek_size(hdr, sizeof(hdr)), (long)VOID_CODEC_FRAME_MAX);
    assert_int_equal(void_codec_decode(hdr, sizeof(hdr), &f), VOID_ETRUNCATED);
    max++;
    hdr[26] = (uint8_t)(max >> 8);
    hdr[27] = (uint8_t)max;
    assert_int_equal(void_codec_peek_size(hdr, sizeof(hdr)), VOID_EOVERSIZED);
    assert_int_equal(void_codec_decode(hdr, sizeof(hdr), &f), VOID_EOVERSIZED);
}

/* Setup: a valid frame from NODE_A. Action: flip every bit of the frame, one
 * at a time. Expected: decode_verified never accepts it — a flip in the
 * header gives that field's code or VOID_EBAD_SIG, a flip in the body or
 * signature gives VOID_EBAD_SIG (or VOID_EUNKNOWN_SENDER for a flipped
 * sender id) — and *frame is left untouched. */
static void test_codec_rejects_every_bit_flip(void **state)
{
    (void)state;
    uint8_t buf[256];
    size_t n = make_frame(VOID_MSG_CHECKPOINT, 40, buf, sizeof(buf));
    for (size_t bit = 0; bit < n * 8; bit++) {
        buf[bit / 8] ^= (uint8_t)(1u << (bit % 8));
        struct void_frame f;
        memset(&f, 0xee, sizeof(f));
        int rc = void_codec_decode_verified(buf, n, &ring, &f);
        assert_int_not_equal(rc, 0);
        size_t at = bit / 8;
        if (at >= VOID_CODEC_HEADER_SIZE) {
            assert_int_equal(rc, VOID_EBAD_SIG);
        } else if (at >= 8 && at < 12) {
            assert_true(rc == VOID_EUNKNOWN_SENDER || rc == VOID_EBAD_SIG);
        } else if (at >= 12 && at < 24) {
            assert_int_equal(rc, VOID_EBAD_SIG); /* HLC: any value parses */
        }
        assert_int_equal(f.type, 0xee);
        buf[bit / 8] ^= (uint8_t)(1u << (bit % 8));
    }
    struct void_frame f;
    assert_int_equal(void_codec_decode_verified(buf, n, &ring, &f), 0);
}

/* Setup: a frame signed by NODE_A. Action: verify it with a ring that lacks
 * NODE_A, and with a ring mapping NODE_A to B's key. Expected:
 * VOID_EUNKNOWN_SENDER, then VOID_EBAD_SIG; a frame by B claiming to be A is
 * VOID_EBAD_SIG. */
static void test_codec_rejects_unknown_sender_and_impostor(void **state)
{
    (void)state;
    uint8_t buf[256];
    size_t n = make_frame(VOID_MSG_HEARTBEAT, 8, buf, sizeof(buf));
    struct void_keyring other;
    void_keyring_init(&other);
    assert_int_equal(void_keyring_add(&other, NODE_B, key_b.public_key), 0);
    struct void_frame f;
    assert_int_equal(void_codec_decode_verified(buf, n, &other, &f), VOID_EUNKNOWN_SENDER);
    assert_int_equal(void_keyring_add(&other, NODE_A, key_b.public_key), 0);
    assert_int_equal(void_codec_decode_verified(buf, n, &other, &f), VOID_EBAD_SIG);

    struct void_frame lie = {.type = VOID_MSG_HEARTBEAT, .sender = NODE_A, .body_len = 0};
    assert_int_equal(void_codec_encode(&lie, &key_b, buf, sizeof(buf), &n), 0);
    assert_int_equal(void_codec_decode_verified(buf, n, &ring, &f), VOID_EBAD_SIG);
    assert_int_equal(void_codec_decode(buf, n, &f), 0); /* well-formed, just not authentic */
}

/* Action: encode a REPLY unsigned (the way a replica frames a batch's
 * replies before signing their root), then with a bad type, an oversized
 * body, one byte too little room. Expected: the same header and body as a
 * signed encode, a zero signature that decode_verified refuses
 * (VOID_EBAD_SIG); then VOID_EBAD_TYPE, VOID_EOVERSIZED, VOID_EFULL. */
static void test_codec_encode_unsigned_leaves_the_signature_to_the_caller(void **state)
{
    (void)state;
    uint8_t a[256], b[256], zero[VOID_SIGN_SIZE] = {0};
    uint8_t body[40];
    memset(body, 0x5a, sizeof(body));
    struct void_frame f = {.type = VOID_MSG_REPLY,
                           .sender = NODE_A,
                           .hlc = {7, 1},
                           .body = body,
                           .body_len = sizeof(body)};
    size_t na = 0, nb = 0;
    assert_int_equal(void_codec_encode_unsigned(&f, a, sizeof(a), &na), 0);
    assert_int_equal(void_codec_encode(&f, &key_a, b, sizeof(b), &nb), 0);
    assert_int_equal(na, nb);
    assert_memory_equal(a, b, na - VOID_SIGN_SIZE);
    assert_memory_equal(a + na - VOID_SIGN_SIZE, zero, VOID_SIGN_SIZE);
    struct void_frame out;
    assert_int_equal(void_codec_decode(a, na, &out), 0);
    assert_int_equal(void_codec_decode_verified(a, na, &ring, &out), VOID_EBAD_SIG);
    f.type = 200;
    assert_int_equal(void_codec_encode_unsigned(&f, a, sizeof(a), &na), VOID_EBAD_TYPE);
    f.type = VOID_MSG_REPLY;
    f.body_len = VOID_CODEC_BODY_MAX + 1;
    assert_int_equal(void_codec_encode_unsigned(&f, a, sizeof(a), &na), VOID_EOVERSIZED);
    f.body_len = sizeof(body);
    assert_int_equal(void_codec_encode_unsigned(&f, a, nb - 1, &na), VOID_EFULL);
}

/* Action: encode with an unknown type, an oversized body, a buffer one byte
 * too small. Expected: VOID_EBAD_TYPE, VOID_EOVERSIZED, VOID_EFULL; with the
 * exact capacity it succeeds. */
static void test_codec_encode_rejects_bad_input(void **state)
{
    (void)state;
    uint8_t buf[256];
    uint8_t body[16] = {0};
    size_t n = 0;
    struct void_frame f = {.type = 0, .sender = 1, .body = body, .body_len = sizeof(body)};
    assert_int_equal(void_codec_encode(&f, &key_a, buf, sizeof(buf), &n), VOID_EBAD_TYPE);
    f.type = 200;
    assert_int_equal(void_codec_encode(&f, &key_a, buf, sizeof(buf), &n), VOID_EBAD_TYPE);
    f.type = VOID_MSG_REQUEST;
    f.body_len = VOID_CODEC_BODY_MAX + 1;
    assert_int_equal(void_codec_encode(&f, &key_a, buf, sizeof(buf), &n), VOID_EOVERSIZED);
    f.body_len = sizeof(body);
    size_t size = void_codec_frame_size(sizeof(body));
    assert_int_equal(void_codec_encode(&f, &key_a, buf, size - 1, &n), VOID_EFULL);
    assert_int_equal(void_codec_encode(&f, &key_a, buf, size, &n), 0);
    assert_int_equal(n, size);
}

/* Setup: a body written directly at buf + header. Action: encode with
 * frame.body pointing there. Expected: the frame decodes with that body. */
static void test_codec_encodes_body_built_in_place(void **state)
{
    (void)state;
    uint8_t buf[256];
    memcpy(buf + VOID_CODEC_HEADER_SIZE, "in place body", 13);
    struct void_frame f = {.type = VOID_MSG_CAS_BLOCK,
                           .sender = NODE_B,
                           .body = buf + VOID_CODEC_HEADER_SIZE,
                           .body_len = 13};
    size_t n;
    assert_int_equal(void_codec_encode(&f, &key_b, buf, sizeof(buf), &n), 0);
    struct void_frame out;
    assert_int_equal(void_codec_decode_verified(buf, n, &ring, &out), 0);
    assert_int_equal(out.body_len, 13);
    assert_memory_equal(out.body, "in place body", 13);
}

/* Setup: a frame with a 1 MiB body (heap path of the signer). Expected: it
 * round-trips, and a flipped last body byte is VOID_EBAD_SIG. */
static void test_codec_round_trips_large_body(void **state)
{
    (void)state;
    size_t cap = void_codec_frame_size(1u << 20);
    uint8_t *buf = malloc(cap);
    assert_non_null(buf);
    size_t n = make_frame(VOID_MSG_STATE, 1u << 20, buf, cap);
    struct void_frame f;
    assert_int_equal(void_codec_decode_verified(buf, n, &ring, &f), 0);
    assert_int_equal(f.body_len, 1u << 20);
    buf[VOID_CODEC_HEADER_SIZE + (1u << 20) - 1] ^= 1;
    assert_int_equal(void_codec_decode_verified(buf, n, &ring, &f), VOID_EBAD_SIG);
    free(buf);
}

/* Type names come from the same table as the enum; unknown values give NULL. */
static void test_codec_type_names(void **state)
{
    (void)state;
    assert_string_equal(void_msg_type_name(VOID_MSG_PREPARE), "PREPARE");
    assert_string_equal(void_msg_type_name(VOID_MSG_HELLO), "HELLO");
    assert_null(void_msg_type_name(0));
    assert_null(void_msg_type_name(-1));
    assert_null(void_msg_type_name(1000));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_codec_round_trips_every_message_type),
        cmocka_unit_test(test_codec_header_layout_matches_docs),
        cmocka_unit_test(test_codec_rejects_every_truncation),
        cmocka_unit_test(test_codec_rejects_bad_header_fields),
        cmocka_unit_test(test_codec_rejects_trailing_bytes_and_oversized),
        cmocka_unit_test(test_codec_rejects_every_bit_flip),
        cmocka_unit_test(test_codec_rejects_unknown_sender_and_impostor),
        cmocka_unit_test(test_codec_encode_rejects_bad_input),
        cmocka_unit_test(test_codec_encode_unsigned_leaves_the_signature_to_the_caller),
        cmocka_unit_test(test_codec_encodes_body_built_in_place),
        cmocka_unit_test(test_codec_round_trips_large_body),
        cmocka_unit_test(test_codec_type_names),
    };
    return cmocka_run_group_tests(tests, setup_keys, NULL);
}
