/*
 * SHA-256 content hashes: the names of every object in the content-addressable
 * store (docs/cas-format.md).
 *
 * The implementation is OpenSSL libcrypto's SHA-256, which uses the CPU's SHA
 * extensions; bench/bench_hash.c measures it against libsodium's
 * crypto_hash_sha256 (figures in bench/README.md, section "cas"). For many
 * messages at once (the chunks of an ingest), void_hash_compute_many runs two
 * of them interleaved on the SHA extensions (src/crypto/sha256x2.c).
 */
#ifndef VOID_HASH_H
#define VOID_HASH_H

#include <stddef.h>
#include <stdint.h>

#define VOID_HASH_SIZE     32
#define VOID_HASH_HEX_SIZE 65 /* 64 hex digits and a NUL */

/* A SHA-256 digest, by value. */
struct void_hash {
    uint8_t b[VOID_HASH_SIZE];
};

/* Computes the SHA-256 of [data, data+len) into out. data may be NULL when
 * len is 0; both pointers are borrowed for the call. Cannot fail (aborts if
 * libcrypto cannot allocate its context, as hashing must never be skipped). */
void void_hash_compute(const void *data, size_t len, struct void_hash *out);

/* Computes the SHA-256 of [data, data+len) into the bytes at out: the digest
 * of void_hash_compute, for callers that keep digests as plain arrays (the
 * PBFT core: checkpoints, batches, snapshots). Cannot fail. */
void void_hash_digest(const void *data, size_t len, uint8_t out[VOID_HASH_SIZE]);

/* An incremental SHA-256 (libcrypto's, on the SHA extensions), for a message
 * that comes in pieces. It lives on the caller's stack: no allocation.
 * Typical use: void_hash_init, void_hash_update for each piece, then
 * void_hash_final, which writes the digest of the concatenation. */
struct void_hash_ctx {
    _Alignas(16) uint8_t opaque[128];
};

/* Starts c on an empty message. Cannot fail. */
void void_hash_init(struct void_hash_ctx *c);

/* Appends [data, data+len) to c's message; data may be NULL when len is 0.
 * Cannot fail. */
void void_hash_update(struct void_hash_ctx *c, const void *data, size_t len);

/* Writes the digest of c's message into out; c must be started again before
 * it is reused. Cannot fail. */
void void_hash_final(struct void_hash_ctx *c, uint8_t out[VOID_HASH_SIZE]);

/* Same digest computed with libsodium's crypto_hash_sha256, kept for the
 * benchmark that chose between the two and for cross-checking in tests.
 * Cannot fail. */
void void_hash_compute_sodium(const void *data, size_t len, struct void_hash *out);

/* Computes the SHA-256 of [a, a+alen) into ha and of [b, b+blen) into hb:
 * the same digests as two void_hash_compute calls, at up to twice the
 * throughput on CPUs with the SHA extensions, whose round instruction has
 * spare throughput that one message's dependency chain cannot use
 * (src/crypto/sha256x2.c interleaves the two messages). a and b may be NULL
 * when their length is 0; all pointers are borrowed for the call. Cannot
 * fail. */
void void_hash_compute2(const void *a,
                        size_t alen,
                        const void *b,
                        size_t blen,
                        struct void_hash *ha,
                        struct void_hash *hb);

/* Computes out[i] = SHA-256 of [data[i], data[i]+len[i]) for i < n, on
 * SHA-NI two messages at a time: each of the two lanes takes the next
 * message when its own ends, so messages of unequal lengths keep both busy
 * (void_hash_compute on each without SHA-NI). data[i] may be NULL when
 * len[i] is 0; all arrays are borrowed for the call. Cannot fail. */
void void_hash_compute_many(const uint8_t *const *data,
                            const size_t *len,
                            size_t n,
                            struct void_hash *out);

/* 1 when void_hash_compute2 and void_hash_compute_many run their
 * interleaved SHA-NI code on this CPU, 0 when they fall back to
 * void_hash_compute. Cannot fail. */
int void_hash_x2_accelerated(void);

/* Writes h as 64 lower-case hex digits plus NUL into hex. Cannot fail. */
void void_hash_to_hex(const struct void_hash *h, char hex[VOID_HASH_HEX_SIZE]);

/* Parses exactly 64 hex digits (either case) from the NUL-terminated string
 * hex into out. Returns 0, or VOID_EPARSE when hex has another length or a
 * non-hex character (out is then unspecified). */
int void_hash_from_hex(const char *hex, struct void_hash *out);

/* 1 when a and b are the same digest, else 0. Cannot fail. */
int void_hash_equal(const struct void_hash *a, const struct void_hash *b);

#endif
