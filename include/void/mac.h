/*
 * Message authentication codes between a client and each replica, for the
 * authenticator a client request carries (docs/wire.md, REQUEST).
 *
 * A client signs its request (Ed25519) and also tags it once per replica
 * with a key it shares with that replica alone. The primary checks the
 * signature; a backup checks its own tag, a keyed BLAKE2b of the frame that
 * costs about a microsecond instead of the signature's ~86 us, and falls back
 * to the signature when the tag does not check (docs/pbft.md). This is the
 * authenticator of Castro and Liskov's PBFT, kept beside the signature.
 *
 * The shared key is derived from the two nodes' Ed25519 keys, so no key is
 * configured twice: each side converts its secret key and the other's public
 * key to Curve25519 (libsodium), takes their X25519 shared point, and hashes
 *     "void/1/mac-key\0" || point || lower public key || higher public key
 * (BLAKE2b-256), so both ends get the same 32 bytes.
 */
#ifndef VOID_MAC_H
#define VOID_MAC_H

#include "void/sign.h"

#include <stddef.h>
#include <stdint.h>

#define VOID_MAC_KEY_SIZE 32
#define VOID_MAC_SIZE     16 /* bytes of a tag */

/* Derives the key that the owner of self shares with the owner of
 * peer_public_key. Returns 0, or VOID_EBAD_FIELD when the peer's key is not
 * a usable curve point (or is self's own key). Both pointers borrowed. */
int void_mac_key_derive(const struct void_sign_keypair *self,
                        const uint8_t peer_public_key[VOID_SIGN_PUBLIC_KEY_SIZE],
                        uint8_t key[VOID_MAC_KEY_SIZE]);

/* The key the owner of self shares with itself: a replica and the client
 * it runs under its own key (VOID_CONFIG_MEMBER_CLIENT_BASE + id,
 * src/io/node_member.c). Only the holder of the secret key can compute it
 * (a hash of its secret scalar times its own point, under a domain of its
 * own). Returns 0, or VOID_EBAD_FIELD when the key does not convert. */
int void_mac_key_self(const struct void_sign_keypair *self, uint8_t key[VOID_MAC_KEY_SIZE]);

/* A memo of derived keys, for a process that derives the same pairs again
 * and again: the simulator, whose nodes have the same keys in every run, set
 * up a replica or client per run and restart them (deriving was 14 % of a
 * run's instructions). It answers only a pair (self's public key, peer's
 * public key) it derived before, with the same key. Not for voidd, which
 * derives each pair once anyway; not thread-safe. */
struct void_mac_memo_slot;
struct void_mac_memo {
    struct void_mac_memo_slot *slots; /* owned; open addressing */
    size_t cap;                       /* slots, a power of two */
    size_t count;
    uint64_t hits, misses;
};

/* Sets up an empty memo of 2^cap_log2 slots (cap_log2 in 4..20); it forgets
 * everything when half full. Returns 0, VOID_EINVAL or VOID_ENOMEM. fini is
 * safe after a failed init. */
int void_mac_memo_init(struct void_mac_memo *memo, unsigned cap_log2);
void void_mac_memo_fini(struct void_mac_memo *memo);

/* Makes void_mac_key_derive consult memo (NULL: none) until uninstalled;
 * memo must stay alive meanwhile. Cannot fail. */
void void_mac_memo_install(struct void_mac_memo *memo);

/* tag = BLAKE2b-128 of msg[0..len) keyed with key. Cannot fail. */
void void_mac_compute(const uint8_t key[VOID_MAC_KEY_SIZE],
                      const uint8_t *msg,
                      size_t len,
                      uint8_t tag[VOID_MAC_SIZE]);

/* 0 when tag is msg's tag under key (compared in constant time), else
 * VOID_EBAD_SIG. */
int void_mac_verify(const uint8_t key[VOID_MAC_KEY_SIZE],
                    const uint8_t *msg,
                    size_t len,
                    const uint8_t tag[VOID_MAC_SIZE]);

#endif
