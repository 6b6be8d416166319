/*
 * Cost of the wire envelope around a signature: void_codec_encode (header,
 * body copy, domain-prefixed signature) and void_codec_decode_verified
 * (bounds checks, keyring lookup, verification) of a frame with a 128-byte
 * body, against raw libsodium signing / verifying the same 156 header+body
 * bytes. The ratio is what framing adds on top of the cryptography.
 */
#include "bench.h"
#include "void/codec.h"
#include "void/sign.h"

#include <sodium.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#define ROUNDS   301
#define OPS      40
#define BODY_LEN 128

static struct void_sign_keypair kp;
static struct void_keyring ring;
static uint8_t body[BODY_LEN];
static uint8_t frame[VOID_CODEC_HEADER_SIZE + BODY_LEN + VOID_SIGN_SIZE];
static uint8_t raw_sig[VOID_SIGN_SIZE];
static volatile int sink;

static double encode_ours(void)
{
    struct void_frame f = {
        .type = VOID_MSG_PREPARE, .sender = 1, .body = body, .body_len = BODY_LEN};
    size_t n;
    uint64_t t0 = bench_now_ns();
    for (int i = 0; i < OPS; i++) {
        f.hlc.logical = (uint32_t)i;
        sink += void_codec_encode(&f, &kp, frame, sizeof(frame), &n);
    }
    return (double)(bench_now_ns() - t0) / OPS / 1000.0;
}

static double encode_raw(void)
{
    uint64_t t0 = bench_now_ns();
    for (int i = 0; i < OPS; i++) {
        frame[23] = (uint8_t)i;
        sink += crypto_sign_detached(
            raw_sig, NULL, frame, sizeof(frame) - VOID_SIGN_SIZE, kp.secret_key);
    }
    return (double)(bench_now_ns() - t0) / OPS / 1000.0;
}

static double decode_ours(void)
{
    struct void_frame f;
    uint64_t t0 = bench_now_ns();
    for (int i = 0; i < OPS; i++) {
        sink += void_codec_decode_verified(frame, sizeof(frame), &ring, &f);
    }
    return (double)(bench_now_ns() - t0) / OPS / 1000.0;
}

static double decode_raw(void)
{
    uint64_t t0 = bench_now_ns();
    for (int i = 0; i < OPS; i++) {
        sink += crypto_sign_verify_detached(
            raw_sig, frame, sizeof(frame) - VOID_SIGN_SIZE, kp.public_key);
    }
    return (double)(bench_now_ns() - t0) / OPS / 1000.0;
}

int main(void)
{
    uint8_t seed[VOID_SIGN_SEED_SIZE];
    memset(seed, 0x43, sizeof(seed));
    void_keyring_init(&ring);
    if (void_sign_global_init() != 0 || void_sign_keypair_from_seed(&kp, seed) != 0 ||
        void_keyring_add(&ring, 1, kp.public_key) != 0) {
        return 1;
    }
    for (int i = 0; i < BODY_LEN; i++) {
        body[i] = (uint8_t)(i * 5);
    }
    printf("codec: %d rounds x %d ops, %d-byte body (%zu-byte frame)\n",
           ROUNDS,
           OPS,
           BODY_LEN,
           sizeof(frame));
    bench_compare_rounds(
        "codec_encode", "crypto_sign_detached", "us", encode_ours, encode_raw, ROUNDS);
    /* One fixed frame for decoding: its own signature and a raw one. */
    struct void_frame f = {
        .type = VOID_MSG_PREPARE, .sender = 1, .body = body, .body_len = BODY_LEN};
    size_t n;
    sink = void_codec_encode(&f, &kp, frame, sizeof(frame), &n);
    crypto_sign_detached(raw_sig, NULL, frame, sizeof(frame) - VOID_SIGN_SIZE, kp.secret_key);
    bench_compare_rounds("codec_decode_verified",
                         "crypto_sign_verify_detached",
                         "us",
                         decode_ours,
                         decode_raw,
                         ROUNDS);
    if (sink != 0) {
        fprintf(stderr, "bench_codec: an encode or a verification failed\n");
        return 1;
    }
    return 0;
}
