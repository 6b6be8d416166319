/*
 * The simulator's memo of signature checks: an open-addressing table from
 * BLAKE2b-256(public key || signature || signed bytes) to the outcome of the
 * Ed25519 check, hooked into the signing layer through void_sign_memo.
 *
 * Soundness rests on two facts, not on anything the simulator believes about
 * a frame: Ed25519 verification is a deterministic function of its inputs, so
 * a recorded outcome is what libsodium answers again; and a signature made by
 * void_sign verifies under its key pair's public key (correctness of the
 * scheme), so recording it as valid at signing time is what verification
 * would have found. The key is a collision-resistant hash of the exact bytes,
 * so an altered frame, another sender's key or a flipped signature bit misses
 * and is checked for real. The memo never changes an answer, only its cost:
 * a run's trace is byte-identical with and without it (tests/sim).
 */
#include "void/sim_sigmemo.h"

#include "void/assert.h"
#include "void/error.h"

#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#define SIGMEMO_KEY_SIZE 32

enum slot_state { SLOT_EMPTY = 0, SLOT_VALID, SLOT_INVALID };

struct void_sim_sigmemo_slot {
    uint8_t key[SIGMEMO_KEY_SIZE];
    uint8_t state; /* enum slot_state */
};

/* The memo key of one check. */
static void memo_key(const uint8_t public_key[VOID_SIGN_PUBLIC_KEY_SIZE],
                     const uint8_t *signed_bytes,
                     size_t len,
                     const uint8_t sig[VOID_SIGN_SIZE],
                     uint8_t key[SIGMEMO_KEY_SIZE])
{
    VOID_ASSERT(public_key != NULL && sig != NULL);
    VOID_ASSERT(signed_bytes != NULL || len == 0);
    crypto_generichash_state st;
    crypto_generichash_init(&st, NULL, 0, SIGMEMO_KEY_SIZE);
    crypto_generichash_update(&st, public_key, VOID_SIGN_PUBLIC_KEY_SIZE);
    crypto_generichash_update(&st, sig, VOID_SIGN_SIZE);
    crypto_generichash_update(&st, signed_bytes, len);
    crypto_generichash_final(&st, key, SIGMEMO_KEY_SIZE);
}

/* The slot holding key, or the empty slot where it belongs. The memo is never
 * more than half full, so the probe meets an empty slot within cap steps. */
static struct void_sim_sigmemo_slot *memo_find(const struct void_sim_sigmemo *memo,
                                               const uint8_t key[SIGMEMO_KEY_SIZE])
{
    VOID_ASSERT(memo->count < memo->cap);
    uint64_t h;
    memcpy(&h, key, sizeof(h));
    size_t mask = memo->cap - 1;
    size_t at = (size_t)h & mask;
    for (size_t probes = 1; memo->slots[at].state != SLOT_EMPTY &&
                            memcmp(memo->slots[at].key, key, SIGMEMO_KEY_SIZE) != 0;
         probes++) {
        VOID_ASSERT(probes < memo->cap);
        at = (at + 1) & mask;
    }
    return &memo->slots[at];
}

static int memo_lookup(void *ctx,
                       const uint8_t public_key[VOID_SIGN_PUBLIC_KEY_SIZE],
                       const uint8_t *signed_bytes,
                       size_t len,
                       const uint8_t sig[VOID_SIGN_SIZE])
{
    struct void_sim_sigmemo *memo = ctx;
    VOID_ASSERT(memo != NULL && memo->slots != NULL);
    uint8_t key[SIGMEMO_KEY_SIZE];
    memo_key(public_key, signed_bytes, len, sig, key);
    const struct void_sim_sigmemo_slot *slot = memo_find(memo, key);
    if (slot->state == SLOT_EMPTY) {
        memo->misses++;
        return VOID_ENOTFOUND;
    }
    memo->hits++;
    return slot->state == SLOT_VALID ? 0 : VOID_EBAD_SIG;
}

static void memo_record(void *ctx,
                        const uint8_t public_key[VOID_SIGN_PUBLIC_KEY_SIZE],
                        const uint8_t *signed_bytes,
                        size_t len,
                        const uint8_t sig[VOID_SIGN_SIZE],
                        int result)
{
    struct void_sim_sigmemo *memo = ctx;
    VOID_ASSERT(memo != NULL && memo->slots != NULL);
    VOID_ASSERT(result == 0 || result == VOID_EBAD_SIG);
    if (memo->count >= memo->cap / 2) {
        /* Forgetting is always sound: a forgotten check is redone for real. */
        memset(memo->slots, 0, memo->cap * sizeof(memo->slots[0]));
        memo->count = 0;
        memo->clears++;
    }
    uint8_t key[SIGMEMO_KEY_SIZE];
    memo_key(public_key, signed_bytes, len, sig, key);
    struct void_sim_sigmemo_slot *slot = memo_find(memo, key);
    uint8_t state = result == 0 ? SLOT_VALID : SLOT_INVALID;
    /* Determinism of Ed25519: a known check can only be recorded again with
     * the same outcome. */
    VOID_ASSERT(slot->state == SLOT_EMPTY || slot->state == state);
    if (slot->state == SLOT_EMPTY) {
        memcpy(slot->key, key, SIGMEMO_KEY_SIZE);
        slot->state = state;
        memo->count++;
    }
    memo->records++;
}

int void_sim_sigmemo_init(struct void_sim_sigmemo *memo, unsigned cap_log2)
{
    VOID_ASSERT(memo != NULL);
    memset(memo, 0, sizeof(*memo));
    if (cap_log2 < 4 || cap_log2 > 24) {
        return VOID_EINVAL;
    }
    memo->cap = (size_t)1 << cap_log2;
    memo->slots = calloc(memo->cap, sizeof(memo->slots[0]));
    if (memo->slots == NULL) {
        memo->cap = 0;
        return VOID_ENOMEM;
    }
    memo->ops.lookup = memo_lookup;
    memo->ops.record = memo_record;
    memo->ops.ctx = memo;
    VOID_ASSERT(memo->count == 0);
    return 0;
}

void void_sim_sigmemo_fini(struct void_sim_sigmemo *memo)
{
    VOID_ASSERT(memo != NULL);
    free(memo->slots);
    memo->slots = NULL;
    memo->cap = 0;
    memo->count = 0;
}

void void_sim_sigmemo_install(struct void_sim_sigmemo *memo)
{
    VOID_ASSERT(memo != NULL && memo->slots != NULL);
    VOID_ASSERT(memo->ops.ctx == memo);
    void_sign_memo_install(&memo->ops);
}

void void_sim_sigmemo_uninstall(void)
{
    void_sign_memo_install(NULL);
}
