/*
 * Ed25519 signatures (libsodium) with domain separation, key files and a
 * registry of node id -> public key.
 *
 * Every signature covers a domain prefix followed by the message bytes:
 *     "void/1/" <domain name> "\0" || message
 * so that a signature made for one kind of message (a PBFT prepare, say) never
 * verifies as another kind (a checkpoint). Domains are fixed below; add new
 * ones at the end of the X-macro.
 */
#ifndef VOID_SIGN_H
#define VOID_SIGN_H

#include <stddef.h>
#include <stdint.h>

#define VOID_SIGN_PUBLIC_KEY_SIZE 32
#define VOID_SIGN_SECRET_KEY_SIZE 64 /* libsodium's seed || public key form */
#define VOID_SIGN_SEED_SIZE       32
#define VOID_SIGN_SIZE            64
#define VOID_SIGN_MSG_MAX         (1u << 24) /* largest message a domain-prefixed sign accepts */

/* Domains of signed data. The name is what goes into the prefix. */
#define VOID_SIGN_DOMAIN_MAP(X)                                                                    \
    X(FRAME, "frame")             /* wire envelope (codec), the default */                         \
    X(CHECKPOINT, "checkpoint")   /* PBFT checkpoint certificates */                               \
    X(VIEW_CHANGE, "view-change") /* PBFT view-change certificates */                              \
    X(CLIENT, "client")           /* client certificates (include/void/client_cert.h) */           \
    X(HEARTBEAT, "heartbeat")     /* membership heartbeats */                                      \
    X(SUSPICION, "suspicion")     /* membership suspicions */                                      \
    X(TEST, "test")               /* tests only */                                                 \
    X(REPLY, "reply")             /* root of a batch's replies (docs/wire.md, REPLY) */        \
    X(TRACE, "trace")             /* a node's /trace/events page (docs/causality.md) */           \
    X(MEMBER, "member")           /* configuration changes (docs/membership.md) */              \
    X(FAULT, "fault")             /* fault-injection requests (include/void/fault_auth.h) */      \
    X(PROGRESS, "progress")       /* a learner's executed seq, in a PROMOTE (docs/membership.md) */

enum void_sign_domain {
#define VOID__X(name, str) VOID_SIGN_DOMAIN_##name,
    VOID_SIGN_DOMAIN_MAP(VOID__X)
#undef VOID__X
        VOID_SIGN_DOMAIN_COUNT
};

struct void_sign_keypair {
    uint8_t public_key[VOID_SIGN_PUBLIC_KEY_SIZE];
    uint8_t secret_key[VOID_SIGN_SECRET_KEY_SIZE];
};

/* Must be called once before anything else here (wraps sodium_init; safe to
 * call many times). Returns 0 or VOID_EINTERNAL. */
int void_sign_global_init(void);

/* New random key pair from libsodium's CSPRNG. Returns 0 or VOID_EINTERNAL. */
int void_sign_keypair_generate(struct void_sign_keypair *kp);

/* Deterministic key pair from a 32-byte seed (tests and the simulator).
 * Returns 0 or VOID_EINTERNAL. */
int void_sign_keypair_from_seed(struct void_sign_keypair *kp,
                                const uint8_t seed[VOID_SIGN_SEED_SIZE]);

/* Wipes the secret key (sodium_memzero). Cannot fail. */
void void_sign_keypair_wipe(struct void_sign_keypair *kp);

/* Signs domain prefix || msg[0..len) with kp's secret key into sig. msg (may be
 * NULL when len is 0) and kp are borrowed for the call. Messages up to 4 KiB
 * are prefixed on the stack; larger ones in a temporary heap buffer. Returns
 * 0, VOID_EINVAL (bad domain), VOID_EOVERSIZED (len > VOID_SIGN_MSG_MAX) or
 * VOID_ENOMEM (large message and no memory). */
int void_sign(const struct void_sign_keypair *kp,
              enum void_sign_domain domain,
              const uint8_t *msg,
              size_t len,
              uint8_t sig[VOID_SIGN_SIZE]);

/* Verifies a signature made by void_sign over the same domain and message.
 * All pointers are borrowed for the call. Returns 0 or VOID_EBAD_SIG (also for
 * a bad domain or oversized message: nothing distinguishes a forgery), or
 * VOID_ENOMEM (message over 4 KiB and no memory for the prefixed copy). */
int void_sign_verify(const uint8_t public_key[VOID_SIGN_PUBLIC_KEY_SIZE],
                     enum void_sign_domain domain,
                     const uint8_t *msg,
                     size_t len,
                     const uint8_t sig[VOID_SIGN_SIZE]);

/* A memo of signature checks, for a process that verifies the same
 * signatures many times: the simulator, where one broadcast frame is checked
 * by every receiver and one client request by every replica, and voidload,
 * whose clients check the same batch-signed reply roots. Ed25519
 * verification is a deterministic function of (public key, signed bytes,
 * signature), and a signature that void_sign makes with a key pair from this
 * module verifies under its public key (the scheme's correctness), so a memo
 * keyed by those exact bytes answers what libsodium would. Bytes that differ
 * in any bit -- a forged or altered frame -- are not in it and are verified
 * for real. The hooks see the signed bytes as libsodium does: the domain
 * prefix followed by the message. src/crypto/sigmemo.c is the memo;
 * voidd never installs one. */
struct void_sign_memo {
    /* Returns 0 (these bytes verify), VOID_EBAD_SIG (they do not) or
     * VOID_ENOTFOUND (not known). All pointers are borrowed for the call. */
    int (*lookup)(void *ctx,
                  const uint8_t public_key[VOID_SIGN_PUBLIC_KEY_SIZE],
                  const uint8_t *signed_bytes,
                  size_t len,
                  const uint8_t sig[VOID_SIGN_SIZE]);
    /* Remembers the outcome (0 or VOID_EBAD_SIG) of a real verification, or 0
     * for a signature void_sign just made. Pointers borrowed for the call.
     * Cannot fail: a full memo may forget. */
    void (*record)(void *ctx,
                   const uint8_t public_key[VOID_SIGN_PUBLIC_KEY_SIZE],
                   const uint8_t *signed_bytes,
                   size_t len,
                   const uint8_t sig[VOID_SIGN_SIZE],
                   int result);
    void *ctx;
};

/* Makes void_sign and void_sign_verify (and every verifier above them)
 * consult memo, process-wide; NULL, the default, removes it. memo is borrowed
 * until it is replaced or removed. Not thread-safe: install and remove only
 * while no other thread signs or verifies. Cannot fail. */
void void_sign_memo_install(const struct void_sign_memo *memo);

/* Key files. The private key file holds the 32-byte seed in hex on one line
 * ("void-ed25519-secret <hex>") and is written with mode 0600; reading it
 * refuses a file that group or others have any access to (mode & 0077,
 * VOID_EKEY_PERM) and fills errbuf with a message that says how to fix it
 * (chmod 600 PATH). The public key file holds "void-ed25519-public <hex>" and
 * is written 0644. Paths and kp are borrowed for the call; errbuf (capacity
 * errcap) may be NULL and receives a one-line reason on any error.
 * Errors: VOID_EIO, VOID_ENOTFOUND, VOID_EKEY_PERM, VOID_EKEY_FORMAT, VOID_EEXIST
 * (write refuses to overwrite). */
int void_sign_keyfile_write(const char *secret_path,
                            const char *public_path,
                            const struct void_sign_keypair *kp,
                            char *errbuf,
                            size_t errcap);
int void_sign_keyfile_read_secret(const char *path,
                                  struct void_sign_keypair *kp,
                                  char *errbuf,
                                  size_t errcap);
int void_sign_keyfile_read_public(const char *path,
                                  uint8_t public_key[VOID_SIGN_PUBLIC_KEY_SIZE],
                                  char *errbuf,
                                  size_t errcap);

/* Hex text of a public key (64 chars + NUL) and back. parse returns 0 or
 * VOID_EPARSE. */
void void_sign_public_key_to_hex(const uint8_t public_key[VOID_SIGN_PUBLIC_KEY_SIZE], char out[65]);
int void_sign_public_key_from_hex(const char *hex, uint8_t public_key[VOID_SIGN_PUBLIC_KEY_SIZE]);

/* Registry of node id -> public key. Fixed capacity, no allocation. */
#define VOID_KEYRING_MAX 256

struct void_keyring {
    uint32_t count;
    uint32_t ids[VOID_KEYRING_MAX];
    uint8_t keys[VOID_KEYRING_MAX][VOID_SIGN_PUBLIC_KEY_SIZE];
};

/* Empties ring (caller-owned storage). Cannot fail. */
void void_keyring_init(struct void_keyring *ring);
/* Adds id -> key (key copied). Returns 0, VOID_EEXIST (id present with another
 * key) or VOID_EFULL. Adding the same (id, key) twice is a no-op. */
int void_keyring_add(struct void_keyring *ring,
                     uint32_t id,
                     const uint8_t key[VOID_SIGN_PUBLIC_KEY_SIZE]);
/* Returns a pointer into ring (valid until the ring changes) or NULL. */
const uint8_t *void_keyring_get(const struct void_keyring *ring, uint32_t id);
/* Verifies sig by node id's key: 0, VOID_EUNKNOWN_SENDER or VOID_EBAD_SIG. */
int void_keyring_verify(const struct void_keyring *ring,
                        uint32_t id,
                        enum void_sign_domain domain,
                        const uint8_t *msg,
                        size_t len,
                        const uint8_t sig[VOID_SIGN_SIZE]);

/* Constant-time equality (sodium_memcmp) of two secrets/digests of len bytes:
 * 1 when equal, 0 otherwise. Cannot fail. */
int void_sign_ct_equal(const uint8_t *a, const uint8_t *b, size_t len);

#endif
