/*
 * Cost of our Ed25519 wrappers (domain prefix, copy into a stack buffer)
 * against raw libsodium crypto_sign_detached / crypto_sign_verify_detached on
 * the same 128-byte message (about a PBFT prepare in its envelope). The ratio
 * is the wrapper's overhead (goal: <= 1.05).
 */
#include "bench.h"
#include "void/sign.h"

#include <sodium.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#define ROUNDS  301
#define OPS     40
#define MSG_LEN 128

static struct void_sign_keypair kp;
static uint8_t msg[MSG_LEN];
static uint8_t sig_ours[VOID_SIGN_SIZE], sig_raw[VOID_SIGN_SIZE];
static volatile int sink;

static double sign_ours(void)
{
    uint64_t t0 = bench_now_ns();
    for (int i = 0; i < OPS; i++) {
        msg[0] = (uint8_t)i;
        sink += void_sign(&kp, VOID_SIGN_DOMAIN_FRAME, msg, MSG_LEN, sig_ours);
    }
    return (double)(bench_now_ns() - t0) / OPS / 1000.0;
}

static double sign_raw(void)
{
    uint64_t t0 = bench_now_ns();
    for (int i = 0; i < OPS; i++) {
        msg[0] = (uint8_t)i;
        sink += crypto_sign_detached(sig_raw, NULL, msg, MSG_LEN, kp.secret_key);
    }
    return (double)(bench_now_ns() - t0) / OPS / 1000.0;
}

static double verify_ours(void)
{
    uint64_t t0 = bench_now_ns();
    for (int i = 0; i < OPS; i++) {
        sink += void_sign_verify(kp.public_key, VOID_SIGN_DOMAIN_FRAME, msg, MSG_LEN, sig_ours);
    }
    return (double)(bench_now_ns() - t0) / OPS / 1000.0;
}

static double verify_raw(void)
{
    uint64_t t0 = bench_now_ns();
    for (int i = 0; i < OPS; i++) {
        sink += crypto_sign_verify_detached(sig_raw, msg, MSG_LEN, kp.public_key);
    }
    return (double)(bench_now_ns() - t0) / OPS / 1000.0;
}

int main(void)
{
    uint8_t seed[VOID_SIGN_SEED_SIZE];
    memset(seed, 0x42, sizeof(seed));
    if (void_sign_global_init() != 0 || void_sign_keypair_from_seed(&kp, seed) != 0) {
        return 1;
    }
    for (int i = 0; i < MSG_LEN; i++) {
        msg[i] = (uint8_t)(i * 13);
    }
    printf("ed25519: %d rounds x %d ops, %d-byte message\n", ROUNDS, OPS, MSG_LEN);
    bench_compare_rounds("ed25519_sign", "crypto_sign_detached", "us", sign_ours, sign_raw, ROUNDS);
    /* The sign loops changed msg[0]; sign the fixed message again. */
    msg[0] = 0;
    void_sign(&kp, VOID_SIGN_DOMAIN_FRAME, msg, MSG_LEN, sig_ours);
    crypto_sign_detached(sig_raw, NULL, msg, MSG_LEN, kp.secret_key);
    sink = 0;
    bench_compare_rounds(
        "ed25519_verify", "crypto_sign_verify_detached", "us", verify_ours, verify_raw, ROUNDS);
    if (sink != 0) {
        fprintf(stderr, "bench_sign: a verification failed\n");
        return 1;
    }
    return 0;
}
