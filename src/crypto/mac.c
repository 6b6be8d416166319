/*
 * Client-replica MACs (include/void/mac.h): keys from X25519 over the nodes'
 * Ed25519 keys, tags from keyed BLAKE2b, both libsodium.
 */
#include "void/mac.h"

#include "void/assert.h"
#include "void/error.h"

#include <sodium.h>
#include <string.h>

int void_mac_key_derive(const struct void_sign_keypair *self,
                        const uint8_t peer_public_key[VOID_SIGN_PUBLIC_KEY_SIZE],
                        uint8_t key[VOID_MAC_KEY_SIZE])
{
    VOID_ASSERT(self != NULL && peer_public_key != NULL && key != NULL);
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
