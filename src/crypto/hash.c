/*
 * SHA-256 for the content-addressable store and the protocol cores. OpenSSL's
 * SHA-256 takes the SHA-NI code path on these CPUs and runs about 4x faster
 * than libsodium's portable implementation (bench/README.md, "cas"), so it is
 * the one the store uses; the libsodium variant stays for the benchmark and
 * as an independent cross-check in the tests.
 */
/* SHA256_Init and friends are deprecated in OpenSSL 3 in favour of EVP,
 * whose contexts are allocated; the low-level calls keep the state on the
 * stack and take the same SHA-NI path as SHA256(). */
#define OPENSSL_SUPPRESS_DEPRECATED
#include "void/hash.h"

#include "void/assert.h"
#include "void/error.h"

#include <openssl/sha.h>
#include <sodium.h>
#include <string.h>

_Static_assert(VOID_HASH_SIZE == SHA256_DIGEST_LENGTH, "digest size");
_Static_assert(VOID_HASH_SIZE == crypto_hash_sha256_BYTES, "digest size");

void void_hash_compute(const void *data, size_t len, struct void_hash *out)
{
    VOID_ASSERT(out != NULL);
    void_hash_digest(data, len, out->b);
}

void void_hash_digest(const void *data, size_t len, uint8_t out[VOID_HASH_SIZE])
{
    VOID_ASSERT(out != NULL);
    VOID_ASSERT(data != NULL || len == 0);
    /* Not the one-shot SHA256(): in OpenSSL 3 it fetches the algorithm,
     * allocates a context and frees both on every call (EVP_Q_digest), which
     * took 450-520 ns for a 200-byte message here against 180-220 ns for the
     * same SHA-NI code through a context on the stack; the replicas hash
     * several short messages per request (bench/README.md, kv_put). */
    SHA256_CTX c;
    int rc = SHA256_Init(&c);
    if (len > 0) {
        rc &= SHA256_Update(&c, data, len);
    }
    rc &= SHA256_Final(out, &c);
    VOID_ASSERT(rc == 1);
}

_Static_assert(sizeof(SHA256_CTX) <= sizeof(((struct void_hash_ctx *)0)->opaque),
               "struct void_hash_ctx holds a SHA256_CTX");
_Static_assert(_Alignof(SHA256_CTX) <= 16, "struct void_hash_ctx is aligned for a SHA256_CTX");

void void_hash_init(struct void_hash_ctx *c)
{
    VOID_ASSERT(c != NULL);
    int rc = SHA256_Init((SHA256_CTX *)(void *)c->opaque);
    VOID_ASSERT(rc == 1);
}

void void_hash_update(struct void_hash_ctx *c, const void *data, size_t len)
{
    VOID_ASSERT(c != NULL);
    VOID_ASSERT(data != NULL || len == 0);
    if (len > 0) {
        int rc = SHA256_Update((SHA256_CTX *)(void *)c->opaque, data, len);
        VOID_ASSERT(rc == 1);
    }
}

void void_hash_final(struct void_hash_ctx *c, uint8_t out[VOID_HASH_SIZE])
{
    VOID_ASSERT(c != NULL && out != NULL);
    int rc = SHA256_Final(out, (SHA256_CTX *)(void *)c->opaque);
    VOID_ASSERT(rc == 1);
}

void void_hash_compute_sodium(const void *data, size_t len, struct void_hash *out)
{
    VOID_ASSERT(out != NULL);
    VOID_ASSERT(data != NULL || len == 0);
    static const unsigned char empty[1];
    const unsigned char *p = data != NULL ? data : empty;
    int rc = crypto_hash_sha256(out->b, p, (unsigned long long)len);
    VOID_ASSERT(rc == 0);
}

_Static_assert(VOID_HASH_HEX_SIZE == 2 * VOID_HASH_SIZE + 1, "hex digits plus NUL");

void void_hash_to_hex(const struct void_hash *h, char hex[VOID_HASH_HEX_SIZE])
{
    VOID_ASSERT(h != NULL);
    VOID_ASSERT(hex != NULL);
    char *r = sodium_bin2hex(hex, VOID_HASH_HEX_SIZE, h->b, VOID_HASH_SIZE);
    VOID_ASSERT(r == hex);
}

int void_hash_from_hex(const char *hex, struct void_hash *out)
{
    VOID_ASSERT(hex != NULL);
    VOID_ASSERT(out != NULL);
    size_t len = strlen(hex);
    if (len != 2 * VOID_HASH_SIZE) {
        return VOID_EPARSE;
    }
    /* No characters to ignore and no hex_end: sodium_hex2bin fails unless it
     * consumed all 64 digits, so a non-hex character anywhere is refused. */
    size_t bin_len = 0;
    if (sodium_hex2bin(out->b, VOID_HASH_SIZE, hex, len, NULL, &bin_len, NULL) != 0 ||
        bin_len != VOID_HASH_SIZE) {
        return VOID_EPARSE;
    }
    return 0;
}

int void_hash_equal(const struct void_hash *a, const struct void_hash *b)
{
    VOID_ASSERT(a != NULL);
    VOID_ASSERT(b != NULL);
    return memcmp(a->b, b->b, VOID_HASH_SIZE) == 0;
}
