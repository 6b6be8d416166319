/*
 * SHA-256 for the content-addressable store. OpenSSL's one-shot SHA256()
 * dispatches to the SHA-NI code path on these CPUs and runs about 4x faster
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
    static const unsigned char empty[1];
    unsigned char *r = SHA256(data != NULL ? data : empty, len, out);
    VOID_ASSERT(r == out);
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

void void_hash_to_hex(const struct void_hash *h, char hex[VOID_HASH_HEX_SIZE])
{
    static const char digits[] = "0123456789abcdef";
    VOID_ASSERT(h != NULL);
    VOID_ASSERT(hex != NULL);
    for (size_t i = 0; i < VOID_HASH_SIZE; i++) {
        hex[2 * i] = digits[h->b[i] >> 4];
        hex[2 * i + 1] = digits[h->b[i] & 0xf];
    }
    hex[2 * VOID_HASH_SIZE] = '\0';
}

static int hex_value(char c)
{
    if (c >= '0' && c <= '9') {
        return c - '0';
    }
    if (c >= 'a' && c <= 'f') {
        return c - 'a' + 10;
    }
    if (c >= 'A' && c <= 'F') {
        return c - 'A' + 10;
    }
    return -1;
}

int void_hash_from_hex(const char *hex, struct void_hash *out)
{
    VOID_ASSERT(hex != NULL);
    VOID_ASSERT(out != NULL);
    if (strlen(hex) != 2 * VOID_HASH_SIZE) {
        return VOID_EPARSE;
    }
    for (size_t i = 0; i < VOID_HASH_SIZE; i++) {
        int hi = hex_value(hex[2 * i]);
        int lo = hex_value(hex[2 * i + 1]);
        if (hi < 0 || lo < 0) {
            return VOID_EPARSE;
        }
        out->b[i] = (uint8_t)(hi << 4 | lo);
    }
    return 0;
}

int void_hash_equal(const struct void_hash *a, const struct void_hash *b)
{
    VOID_ASSERT(a != NULL);
    VOID_ASSERT(b != NULL);
    return memcmp(a->b, b->b, VOID_HASH_SIZE) == 0;
}
