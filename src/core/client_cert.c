/*
 * Client certificates (include/void/client_cert.h): an admin-signed binding
 * of a client id to a public key with an expiry. Pure: the expiry is only
 * decoded here; the replica compares it with the stamp of the batch that
 * executes a request, so every replica gives the same answer.
 */
#include "void/client_cert.h"

#include "void/assert.h"
#include "void/bytes.h"
#include "void/error.h"

#include <string.h>

_Static_assert(VOID_CLIENT_CERT_SIZE == 109, "the certificate layout of docs/operations.md");

int void_client_cert_issue(const struct void_client_cert *c,
                           const struct void_sign_keypair *admin,
                           uint8_t out[VOID_CLIENT_CERT_SIZE])
{
    VOID_ASSERT(c != NULL && admin != NULL);
    VOID_ASSERT(out != NULL);
    if (c->expires_ns == 0) {
        return VOID_EINVAL;
    }
    out[0] = VOID_CLIENT_CERT_VERSION;
    void_bytes_put_be32(out + 1, c->id);
    memcpy(out + 5, c->public_key, VOID_SIGN_PUBLIC_KEY_SIZE);
    void_bytes_put_be64(out + 5 + VOID_SIGN_PUBLIC_KEY_SIZE, c->expires_ns);
    return void_sign(admin,
                     VOID_SIGN_DOMAIN_CLIENT,
                     out,
                     VOID_CLIENT_CERT_SIGNED,
                     out + VOID_CLIENT_CERT_SIGNED);
}

int void_client_cert_decode(const uint8_t in[VOID_CLIENT_CERT_SIZE], struct void_client_cert *c)
{
    VOID_ASSERT(in != NULL && c != NULL);
    memset(c, 0, sizeof(*c));
    if (in[0] != VOID_CLIENT_CERT_VERSION) {
        return VOID_EBAD_FIELD;
    }
    c->id = void_bytes_get_be32(in + 1);
    memcpy(c->public_key, in + 5, VOID_SIGN_PUBLIC_KEY_SIZE);
    c->expires_ns = void_bytes_get_be64(in + 5 + VOID_SIGN_PUBLIC_KEY_SIZE);
    return c->expires_ns == 0 ? VOID_EBAD_FIELD : 0;
}

int void_client_cert_verify(const uint8_t in[VOID_CLIENT_CERT_SIZE],
                            const uint8_t admin_public_key[VOID_SIGN_PUBLIC_KEY_SIZE],
                            struct void_client_cert *c)
{
    VOID_ASSERT(in != NULL && admin_public_key != NULL);
    int rc = void_client_cert_decode(in, c);
    if (rc != 0) {
        return rc;
    }
    rc = void_sign_verify(admin_public_key,
                          VOID_SIGN_DOMAIN_CLIENT,
                          in,
                          VOID_CLIENT_CERT_SIGNED,
                          in + VOID_CLIENT_CERT_SIGNED);
    return rc == 0 ? 0 : VOID_EBAD_SIG;
}
