/*
 * The simulator's memo of signature checks: an open-addressing table of the
 * exact bytes of each check (public key, signature, signed bytes), kept in an
 * arena, with the outcome of Ed25519 on them; hooked into the signing layer
 * through void_sign_memo.
 *
 * Soundness rests on two facts, not on anything the simulator believes about
 * a frame: Ed25519 verification is a deterministic function of its inputs, so
 * a recorded outcome is what libsodium answers again; and a signature made by
 * void_sign verifies under its key pair's public key (correctness of the
 * scheme), so recording it as valid at signing time is what verification
 * would have found. A check matches a stored one only when every byte is
 * equal (the hash merely picks the slot), so an altered frame, another
 * sender's key or a flipped signature bit misses and is checked for real.
 * The memo never changes an answer, only its cost: a run's trace is
 * byte-identical with and without it (tests/sim).
 */
#include "void/sigmemo.h"

#include "void/assert.h"
#include "void/error.h"

#include <stdlib.h>
#include <string.h>

/* Arena bytes per slot: a full-size run's checks average a few hundred bytes,
 * and the memo forgets everything when either the slots or the arena fill. */
#define SIGMEMO_ARENA_PER_SLOT 256

/* Bytes of a stored check before its signed bytes: public key, signature. */
#define SIGMEMO_HEAD (VOID_SIGN_PUBLIC_KEY_SIZE + VOID_SIGN_SIZE)

enum slot_state { SLOT_EMPTY = 0, SLOT_VALID, SLOT_INVALID };

struct void_sigmemo_slot {
    uint64_t hash;   /* of the check's bytes, to skip most memcmps */
    uint32_t offset; /* into the arena: public key || signature || signed bytes */
    uint32_t len;    /* of the signed bytes */
    uint8_t state;   /* enum slot_state */
};

/* A fast 64-bit hash of the check's bytes that picks the slot. It need not
 * resist collisions: a slot matches only when every byte compares equal. */
static uint64_t check_hash(const uint8_t public_key[VOID_SIGN_PUBLIC_KEY_SIZE],
                           const uint8_t *signed_bytes,
                           size_t len,
                           const uint8_t sig[VOID_SIGN_SIZE])
{
    VOID_ASSERT(public_key != NULL && sig != NULL);
    VOID_ASSERT(signed_bytes != NULL || len == 0);
    uint64_t h = 0x9e3779b97f4a7c15ull ^ len;
    const uint8_t *parts[3] = {sig, public_key, signed_bytes};
    size_t sizes[3] = {VOID_SIGN_SIZE, VOID_SIGN_PUBLIC_KEY_SIZE, len};
    for (int p = 0; p < 3; p++) {
        size_t i = 0;
        for (; i + 8 <= sizes[p]; i += 8) {
            uint64_t w;
            memcpy(&w, parts[p] + i, sizeof(w));
            h = (h ^ w) * 0xff51afd7ed558ccdull;
            h ^= h >> 32;
        }
        for (; i < sizes[p]; i++) {
            h = (h ^ parts[p][i]) * 0x100000001b3ull;
        }
    }
    return h ^ (h >> 29);
}

/* Whether slot holds exactly this check. */
static int slot_matches(const struct void_sigmemo *memo,
                        const struct void_sigmemo_slot *slot,
                        uint64_t hash,
                        const uint8_t public_key[VOID_SIGN_PUBLIC_KEY_SIZE],
                        const uint8_t *signed_bytes,
                        size_t len,
                        const uint8_t sig[VOID_SIGN_SIZE])
{
    VOID_ASSERT(slot->state != SLOT_EMPTY);
    VOID_ASSERT((size_t)slot->offset + SIGMEMO_HEAD + slot->len <= memo->arena_used);
    if (slot->hash != hash || slot->len != len) {
        return 0;
    }
    const uint8_t *at = memo->arena + slot->offset;
    return memcmp(at + VOID_SIGN_PUBLIC_KEY_SIZE, sig, VOID_SIGN_SIZE) == 0 &&
           memcmp(at, public_key, VOID_SIGN_PUBLIC_KEY_SIZE) == 0 &&
           (len == 0 || memcmp(at + SIGMEMO_HEAD, signed_bytes, len) == 0);
}

/* The slot holding this check, or the empty slot where it belongs. The memo
 * is never more than half full, so the probe meets an empty slot within cap
 * steps. */
static struct void_sigmemo_slot *memo_find(const struct void_sigmemo *memo,
                                           uint64_t hash,
                                           const uint8_t public_key[VOID_SIGN_PUBLIC_KEY_SIZE],
                                           const uint8_t *signed_bytes,
                                           size_t len,
                                           const uint8_t sig[VOID_SIGN_SIZE])
{
    VOID_ASSERT(memo->count < memo->cap);
    size_t mask = memo->cap - 1;
    size_t at = (size_t)hash & mask;
    for (size_t probes = 1;
         memo->slots[at].state != SLOT_EMPTY &&
         !slot_matches(memo, &memo->slots[at], hash, public_key, signed_bytes, len, sig);
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
    struct void_sigmemo *memo = ctx;
    VOID_ASSERT(memo != NULL && memo->slots != NULL);
    uint64_t hash = check_hash(public_key, signed_bytes, len, sig);
    const struct void_sigmemo_slot *slot =
        memo_find(memo, hash, public_key, signed_bytes, len, sig);
    if (slot->state == SLOT_EMPTY) {
        memo->misses++;
        return VOID_ENOTFOUND;
    }
    memo->hits++;
    return slot->state == SLOT_VALID ? 0 : VOID_EBAD_SIG;
}

/* Forgets everything. Always sound: a forgotten check is redone for real. */
static void memo_clear(struct void_sigmemo *memo)
{
    VOID_ASSERT(memo->slots != NULL);
    memset(memo->slots, 0, memo->cap * sizeof(memo->slots[0]));
    memo->count = 0;
    memo->arena_used = 0;
    memo->clears++;
    VOID_ASSERT(memo->count == 0);
}

static void memo_record(void *ctx,
                        const uint8_t public_key[VOID_SIGN_PUBLIC_KEY_SIZE],
                        const uint8_t *signed_bytes,
                        size_t len,
                        const uint8_t sig[VOID_SIGN_SIZE],
                        int result)
{
    struct void_sigmemo *memo = ctx;
    VOID_ASSERT(memo != NULL && memo->slots != NULL);
    VOID_ASSERT(result == 0 || result == VOID_EBAD_SIG);
    size_t need = SIGMEMO_HEAD + len;
    if (need > memo->arena_cap / 4) {
        return; /* a huge message (state transfer): not worth the space */
    }
    if (memo->count >= memo->cap / 2 || memo->arena_used + need > memo->arena_cap) {
        memo_clear(memo);
    }
    uint64_t hash = check_hash(public_key, signed_bytes, len, sig);
    struct void_sigmemo_slot *slot = memo_find(memo, hash, public_key, signed_bytes, len, sig);
    uint8_t state = result == 0 ? SLOT_VALID : SLOT_INVALID;
    /* Determinism of Ed25519: a known check can only come again with the
     * same outcome. */
    VOID_ASSERT(slot->state == SLOT_EMPTY || slot->state == state);
    memo->records++;
    if (slot->state != SLOT_EMPTY) {
        return;
    }
    uint8_t *at = memo->arena + memo->arena_used;
    memcpy(at, public_key, VOID_SIGN_PUBLIC_KEY_SIZE);
    memcpy(at + VOID_SIGN_PUBLIC_KEY_SIZE, sig, VOID_SIGN_SIZE);
    if (len > 0) {
        memcpy(at + SIGMEMO_HEAD, signed_bytes, len);
    }
    slot->hash = hash;
    slot->offset = (uint32_t)memo->arena_used;
    slot->len = (uint32_t)len;
    slot->state = state;
    memo->arena_used += need;
    memo->count++;
}

int void_sigmemo_init(struct void_sigmemo *memo, unsigned cap_log2)
{
    VOID_ASSERT(memo != NULL);
    memset(memo, 0, sizeof(*memo));
    if (cap_log2 < 4 || cap_log2 > 24) {
        return VOID_EINVAL;
    }
    memo->cap = (size_t)1 << cap_log2;
    memo->arena_cap = memo->cap * SIGMEMO_ARENA_PER_SLOT;
    memo->slots = calloc(memo->cap, sizeof(memo->slots[0]));
    memo->arena = malloc(memo->arena_cap);
    if (memo->slots == NULL || memo->arena == NULL) {
        void_sigmemo_fini(memo);
        return VOID_ENOMEM;
    }
    memo->ops.lookup = memo_lookup;
    memo->ops.record = memo_record;
    memo->ops.ctx = memo;
    VOID_ASSERT(memo->count == 0);
    return 0;
}

void void_sigmemo_fini(struct void_sigmemo *memo)
{
    VOID_ASSERT(memo != NULL);
    free(memo->slots);
    free(memo->arena);
    memo->slots = NULL;
    memo->arena = NULL;
    memo->cap = 0;
    memo->count = 0;
    memo->arena_cap = 0;
    memo->arena_used = 0;
}

void void_sigmemo_install(struct void_sigmemo *memo)
{
    VOID_ASSERT(memo != NULL && memo->slots != NULL);
    VOID_ASSERT(memo->ops.ctx == memo);
    void_sign_memo_install(&memo->ops);
}

void void_sigmemo_uninstall(void)
{
    void_sign_memo_install(NULL);
}
