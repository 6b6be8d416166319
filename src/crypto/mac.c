/*
 * Client-replica MACs (include/void/mac.h): keys from X25519 over the nodes'
 * Ed25519 keys, tags from keyed BLAKE2b, both libsodium.
 */
#include "void/mac.h"

#include "void/assert.h"
#include "void/error.h"

#include <sodium.h>
#include <stdlib.h>
#include <string.h>

struct void_mac_memo_slot {
    uint8_t used;
    uint8_t self_pk[VOID_SIGN_PUBLIC_KEY_SIZE];
    uint8_t peer_pk[VOID_SIGN_PUBLIC_KEY_SIZE];
    uint8_t key[VOID_MAC_KEY_SIZE];
};

static struct void_mac_memo *installed;

int void_mac_memo_init(struct void_mac_memo *memo, unsigned cap_log2)
{
    VOID_ASSERT(memo != NULL);
    memset(memo, 0, sizeof(*memo));
    if (cap_log2 < 4 || cap_log2 > 20) {
        return VOID_EINVAL;
    }
    memo->cap = (size_t)1 << cap_log2;
    memo->slots = calloc(memo->cap, sizeof(*memo->slots));
    return memo->slots == NULL ? VOID_ENOMEM : 0;
}

void void_mac_memo_fini(struct void_mac_memo *memo)
{
    VOID_ASSERT(memo != NULL && memo != installed);
    if (memo->slots != NULL) {
        sodium_memzero(memo->slots, memo->cap * sizeof(*memo->slots));
    }
    free(memo->slots);
    memo->slots = NULL;
}

void void_mac_memo_install(struct void_mac_memo *memo)
{
    installed = memo;
}

/* The slot holding (self_pk, peer_pk), or the empty slot where it belongs. */
static struct void_mac_memo_slot *
memo_slot(struct void_mac_memo *memo, const uint8_t *self_pk, const uint8_t *peer_pk)
{
    uint64_t h = 1469598103934665603ull; /* FNV-1a over a few bytes of each key */
    for (int i = 0; i < 8; i++) {
        h = (h ^ self_pk[i]) * 1099511628211ull;
        h = (h ^ peer_pk[i]) * 1099511628211ull;
    }
    for (size_t i = (size_t)h & (memo->cap - 1);; i = (i + 1) & (memo->cap - 1)) {
        struct void_mac_memo_slot *slot = &memo->slots[i];
        if (!slot->used || (memcmp(slot->self_pk, self_pk, VOID_SIGN_PUBLIC_KEY_SIZE) == 0 &&
                            memcmp(slot->peer_pk, peer_pk, VOID_SIGN_PUBLIC_KEY_SIZE) == 0)) {
            return slot; /* the table is never over half full: this ends */
        }
    }
}

static int derive(const struct void_sign_keypair *self,
                  const uint8_t peer_public_key[VOID_SIGN_PUBLIC_KEY_SIZE],
                  uint8_t key[VOID_MAC_KEY_SIZE]);

int void_mac_key_derive(const struct void_sign_keypair *self,
                        const uint8_t peer_public_key[VOID_SIGN_PUBLIC_KEY_SIZE],
                        uint8_t key[VOID_MAC_KEY_SIZE])
{
    VOID_ASSERT(self != NULL && peer_public_key != NULL && key != NULL);
    struct void_mac_memo *memo = installed;
    if (memo == NULL) {
        return derive(self, peer_public_key, key);
    }
    struct void_mac_memo_slot *slot = memo_slot(memo, self->public_key, peer_public_key);
    if (slot->used) {
        memo->hits++;
        memcpy(key, slot->key, VOID_MAC_KEY_SIZE);
        return 0;
    }
    memo->misses++;
    int rc = derive(self, peer_public_key, key);
    if (rc != 0) {
        return rc; /* failures are not kept: they are rare and cheap to repeat */
    }
    if (2 * (memo->count + 1) > memo->cap) {
        memset(memo->slots, 0, memo->cap * sizeof(*memo->slots));
        memo->count = 0;
        slot = memo_slot(memo, self->public_key, peer_public_key);
    }
    slot->used = 1;
    memcpy(slot->self_pk, self->public_key, VOID_SIGN_PUBLIC_KEY_SIZE);
    memcpy(slot->peer_pk, peer_public_key, VOID_SIGN_PUBLIC_KEY_SIZE);
    memcpy(slot->key, key, VOID_MAC_KEY_SIZE);
    memo->count++;
    return 0;
}

static int derive(const struct void_sign_keypair *self,
                  const uint8_t peer_public_key[VOID_SIGN_PUBLIC_KEY_SIZE],
                  uint8_t key[VOID_MAC_KEY_SIZE])
{
    int order = memcmp(self->public_key, peer_public_key, VOID_SIGN_PUBLIC_KEY_SIZE);
    if (order == 0) {
        return VOID_EBAD_FIELD;
    }
    uint8_t x_secret[crypto_scalarmult_curve25519_BYTES];
    uint8_t x_peer[crypto_scalarmult_curve25519_BYTES];
    uint8_t point[crypto_scalarmult_curve25519_BYTES];
    int rc = 0;
    if (crypto_sign_ed25519_pk_to_curve25519(x_peer, peer_public_key) != 0 ||
        crypto_sign_ed25519_sk_to_curve25519(x_secret, self->secret_key) != 0 ||
        crypto_scalarmult_curve25519(point, x_secret, x_peer) != 0) {
        rc = VOID_EBAD_FIELD; /* not a point, or a low-order one (all-zero result) */
    } else {
        static const char domain[] = "void/1/mac-key"; /* hashed with its NUL */
        const uint8_t *lo = order < 0 ? self->public_key : peer_public_key;
        const uint8_t *hi = order < 0 ? peer_public_key : self->public_key;
        crypto_generichash_state h;
        crypto_generichash_init(&h, NULL, 0, VOID_MAC_KEY_SIZE);
        crypto_generichash_update(&h, (const uint8_t *)domain, sizeof(domain));
        crypto_generichash_update(&h, point, sizeof(point));
        crypto_generichash_update(&h, lo, VOID_SIGN_PUBLIC_KEY_SIZE);
        crypto_generichash_update(&h, hi, VOID_SIGN_PUBLIC_KEY_SIZE);
        crypto_generichash_final(&h, key, VOID_MAC_KEY_SIZE);
    }
    sodium_memzero(x_secret, sizeof(x_secret));
    sodium_memzero(point, sizeof(point));
    return rc;
}

void void_mac_compute(const uint8_t key[VOID_MAC_KEY_SIZE],
                      const uint8_t *msg,
                      size_t len,
                      uint8_t tag[VOID_MAC_SIZE])
{
    VOID_ASSERT(key != NULL && tag != NULL && (msg != NULL || len == 0));
    int rc = crypto_generichash(tag, VOID_MAC_SIZE, msg, len, key, VOID_MAC_KEY_SIZE);
    VOID_ASSERT(rc == 0);
}

int void_mac_verify(const uint8_t key[VOID_MAC_KEY_SIZE],
                    const uint8_t *msg,
                    size_t len,
                    const uint8_t tag[VOID_MAC_SIZE])
{
    VOID_ASSERT(tag != NULL);
    uint8_t want[VOID_MAC_SIZE];
    void_mac_compute(key, msg, len, want);
    return sodium_memcmp(want, tag, VOID_MAC_SIZE) == 0 ? 0 : VOID_EBAD_SIG;
}

int void_mac_key_self(const struct void_sign_keypair *self, uint8_t key[VOID_MAC_KEY_SIZE])
{
    VOID_ASSERT(self != NULL && key != NULL);
    uint8_t x_secret[crypto_scalarmult_curve25519_BYTES];
    uint8_t x_public[crypto_scalarmult_curve25519_BYTES];
    uint8_t point[crypto_scalarmult_curve25519_BYTES];
    int rc = 0;
    if (crypto_sign_ed25519_pk_to_curve25519(x_public, self->public_key) != 0 ||
        crypto_sign_ed25519_sk_to_curve25519(x_secret, self->secret_key) != 0 ||
        crypto_scalarmult_curve25519(point, x_secret, x_public) != 0) {
        rc = VOID_EBAD_FIELD;
    } else {
        static const char domain[] = "void/1/mac-key-self"; /* not a pair's: no collision */
        crypto_generichash_state h;
        crypto_generichash_init(&h, NULL, 0, VOID_MAC_KEY_SIZE);
        crypto_generichash_update(&h, (const uint8_t *)domain, sizeof(domain));
        crypto_generichash_update(&h, point, sizeof(point));
        crypto_generichash_update(&h, self->public_key, VOID_SIGN_PUBLIC_KEY_SIZE);
        crypto_generichash_final(&h, key, VOID_MAC_KEY_SIZE);
    }
    sodium_memzero(x_secret, sizeof(x_secret));
    sodium_memzero(point, sizeof(point));
    return rc;
}
