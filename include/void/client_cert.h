/*
 * Client certificates: admission of a client without editing every
 * replica's configuration. An administrator whose public key every replica's
 * configuration names ([clients] admin_key) signs a client's id, public key
 * and expiry; the client carries the certificate in each request, and a
 * replica that finds the client's id missing from its keyring takes the key
 * from the certificate once the admin signature checks (docs/operations.md,
 * "Client certificates").
 *
 * Whether a certificate is valid is a function of its bytes and the admin
 * key alone, so every honest replica decides alike; its expiry is compared
 * with the stamp of the batch that executes the request (the replicated
 * HLC), never with a local clock, so an expired certificate gets the same
 * answer (VOID_SM_EXPIRED) from every replica.
 *
 * Layout (VOID_CLIENT_CERT_SIZE bytes, big-endian):
 *   version u8 (1) | id u32 | public_key[32] | expires_ns u64 | signature[64]
 * signature: Ed25519 by the admin key, domain CLIENT, over the bytes before it.
 */
#ifndef VOID_CLIENT_CERT_H
#define VOID_CLIENT_CERT_H

#include "void/sign.h"

#include <stddef.h>
#include <stdint.h>

#define VOID_CLIENT_CERT_VERSION 1
#define VOID_CLIENT_CERT_SIGNED  (1 + 4 + VOID_SIGN_PUBLIC_KEY_SIZE + 8)
#define VOID_CLIENT_CERT_SIZE    (VOID_CLIENT_CERT_SIGNED + VOID_SIGN_SIZE)

/* A decoded certificate. */
struct void_client_cert {
    uint32_t id;
    uint8_t public_key[VOID_SIGN_PUBLIC_KEY_SIZE];
    uint64_t expires_ns; /* HLC wall time (ns since the Unix epoch) after which it is refused */
};

/* Writes the certificate of c, signed with admin, into out. Returns 0,
 * VOID_EINVAL (expires_ns 0) or the signing error. */
int void_client_cert_issue(const struct void_client_cert *c,
                           const struct void_sign_keypair *admin,
                           uint8_t out[VOID_CLIENT_CERT_SIZE]);

/* Decodes in (borrowed for the call) into *c without checking the
 * signature. Returns 0 or VOID_EBAD_FIELD (unknown version, expiry 0). */
int void_client_cert_decode(const uint8_t in[VOID_CLIENT_CERT_SIZE], struct void_client_cert *c);

/* Decodes in and checks its signature by admin_public_key. Returns 0,
 * VOID_EBAD_FIELD or VOID_EBAD_SIG. */
int void_client_cert_verify(const uint8_t in[VOID_CLIENT_CERT_SIZE],
                            const uint8_t admin_public_key[VOID_SIGN_PUBLIC_KEY_SIZE],
                            struct void_client_cert *c);

#endif
