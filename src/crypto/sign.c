/*
 * Ed25519 signatures over libsodium with a domain-separation prefix, the key
 * files a node keeps on disk, and the registry of node id -> public key that
 * every verifier consults.
 *
 * libsodium's Ed25519 has no streaming interface for the pure (non-prehashed)
 * scheme, so the prefix and the message must sit in one contiguous buffer.
 * Messages up to SIGN_STACK_MAX bytes (every protocol message but state
 * transfer and CAS blocks) are copied into a stack buffer, so the common path
 * allocates nothing and costs one memcpy more than raw libsodium; larger ones
 * use a heap buffer of the exact size.
 *
 * A process may install a memo of signature checks (void_sign_memo_install;
 * only the simulator does): signing records the signature it made, and
 * verification asks the memo first and records what libsodium answered.
 */
#include "void/sign.h"

#include "void/assert.h"
#include "void/error.h"

#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Messages up to this size are prefixed in a stack buffer. */
#define SIGN_STACK_MAX 4096
/* Longest prefix: "void/1/" + the longest domain name + NUL. */
#define SIGN_PREFIX_MAX 32

_Static_assert(VOID_SIGN_PUBLIC_KEY_SIZE == crypto_sign_PUBLICKEYBYTES, "public key size");
_Static_assert(VOID_SIGN_SECRET_KEY_SIZE == crypto_sign_SECRETKEYBYTES, "secret key size");
_Static_assert(VOID_SIGN_SEED_SIZE == crypto_sign_SEEDBYTES, "seed size");
_Static_assert(VOID_SIGN_SIZE == crypto_sign_BYTES, "signature size");

/* The prefixes, NUL included in the length: "void/1/frame\0" is 13 bytes. */
static const struct {
    const char *text;
    size_t len;
} prefixes[] = {
#define VOID__X(name, str) {"void/1/" str, sizeof("void/1/" str)},
    VOID_SIGN_DOMAIN_MAP(VOID__X)
#undef VOID__X
};

_Static_assert(sizeof(prefixes) / sizeof(prefixes[0]) == VOID_SIGN_DOMAIN_COUNT,
               "one prefix per domain");

/* The installed memo, or NULL (always, in voidd). */
static const struct void_sign_memo *memo_installed;

void void_sign_memo_install(const struct void_sign_memo *memo)
{
    VOID_ASSERT(memo == NULL || memo->lookup != NULL);
    VOID_ASSERT(memo == NULL || memo->record != NULL);
    memo_installed = memo;
}

int void_sign_global_init(void)
{
    /* sodium_init returns 1 when already initialised: that is success too. */
    return sodium_init() < 0 ? VOID_EINTERNAL : 0;
}

int void_sign_keypair_generate(struct void_sign_keypair *kp)
{
    VOID_ASSERT(kp != NULL);
    if (crypto_sign_keypair(kp->public_key, kp->secret_key) != 0) {
        return VOID_EINTERNAL;
    }
    return 0;
}

int void_sign_keypair_from_seed(struct void_sign_keypair *kp,
                                const uint8_t seed[VOID_SIGN_SEED_SIZE])
{
    VOID_ASSERT(kp != NULL);
    VOID_ASSERT(seed != NULL);
    if (crypto_sign_seed_keypair(kp->public_key, kp->secret_key, seed) != 0) {
        return VOID_EINTERNAL;
    }
    return 0;
}

void void_sign_keypair_wipe(struct void_sign_keypair *kp)
{
    VOID_ASSERT(kp != NULL);
    sodium_memzero(kp->secret_key, sizeof(kp->secret_key));
}

/* Builds prefix || msg in stack (capacity SIGN_STACK_MAX + SIGN_PREFIX_MAX)
 * or, if too small, in a fresh heap buffer stored in *heap (caller frees).
 * Returns the buffer and its length in *out_len, or NULL if malloc failed. */
static uint8_t *prefixed(enum void_sign_domain domain,
                         const uint8_t *msg,
                         size_t len,
                         uint8_t *stack,
                         uint8_t **heap,
                         size_t *out_len)
{
    VOID_ASSERT((unsigned)domain < VOID_SIGN_DOMAIN_COUNT);
    VOID_ASSERT(len <= VOID_SIGN_MSG_MAX);
    size_t plen = prefixes[domain].len;
    VOID_ASSERT(plen <= SIGN_PREFIX_MAX);
    uint8_t *buf = stack;
    *heap = NULL;
    if (len > SIGN_STACK_MAX) {
        *heap = malloc(plen + len);
        if (*heap == NULL) {
            return NULL;
        }
        buf = *heap;
    }
    memcpy(buf, prefixes[domain].text, plen);
    if (len > 0) {
        memcpy(buf + plen, msg, len);
    }
    *out_len = plen + len;
    return buf;
}

int void_sign(const struct void_sign_keypair *kp,
              enum void_sign_domain domain,
              const uint8_t *msg,
              size_t len,
              uint8_t sig[VOID_SIGN_SIZE])
{
    VOID_ASSERT(kp != NULL);
    VOID_ASSERT(sig != NULL);
    VOID_ASSERT(msg != NULL || len == 0);
    if ((unsigned)domain >= VOID_SIGN_DOMAIN_COUNT) {
        return VOID_EINVAL;
    }
    if (len > VOID_SIGN_MSG_MAX) {
        return VOID_EOVERSIZED;
    }
    uint8_t stack[SIGN_PREFIX_MAX + SIGN_STACK_MAX];
    uint8_t *heap;
    size_t n;
    const uint8_t *buf = prefixed(domain, msg, len, stack, &heap, &n);
    if (buf == NULL) {
        return VOID_ENOMEM;
    }
    int rc = crypto_sign_detached(sig, NULL, buf, n, kp->secret_key);
    /* The signature verifies under the public key libsodium signed with
     * (the second half of its secret key), which the module's constructors
     * derive from the seed; a key pair whose halves disagree is not vouched for. */
    if (rc == 0 && memo_installed != NULL &&
        memcmp(kp->public_key, kp->secret_key + VOID_SIGN_SEED_SIZE, VOID_SIGN_PUBLIC_KEY_SIZE) ==
            0) {
        memo_installed->record(memo_installed->ctx, kp->public_key, buf, n, sig, 0);
    }
    free(heap);
    return rc == 0 ? 0 : VOID_EINTERNAL;
}

int void_sign_verify(const uint8_t public_key[VOID_SIGN_PUBLIC_KEY_SIZE],
                     enum void_sign_domain domain,
                     const uint8_t *msg,
                     size_t len,
                     const uint8_t sig[VOID_SIGN_SIZE])
{
    VOID_ASSERT(public_key != NULL);
    VOID_ASSERT(sig != NULL);
    VOID_ASSERT(msg != NULL || len == 0);
    if ((unsigned)domain >= VOID_SIGN_DOMAIN_COUNT || len > VOID_SIGN_MSG_MAX) {
        return VOID_EBAD_SIG;
    }
    uint8_t stack[SIGN_PREFIX_MAX + SIGN_STACK_MAX];
    uint8_t *heap;
    size_t n;
    const uint8_t *buf = prefixed(domain, msg, len, stack, &heap, &n);
    if (buf == NULL) {
        return VOID_ENOMEM;
    }
    int rc = memo_installed == NULL
                 ? VOID_ENOTFOUND
                 : memo_installed->lookup(memo_installed->ctx, public_key, buf, n, sig);
    if (rc == VOID_ENOTFOUND) {
        rc = crypto_sign_verify_detached(sig, buf, n, public_key) == 0 ? 0 : VOID_EBAD_SIG;
        if (memo_installed != NULL) {
            memo_installed->record(memo_installed->ctx, public_key, buf, n, sig, rc);
        }
    }
    VOID_ASSERT(rc == 0 || rc == VOID_EBAD_SIG);
    free(heap);
    return rc;
}

int void_sign_ct_equal(const uint8_t *a, const uint8_t *b, size_t len)
{
    VOID_ASSERT(a != NULL || len == 0);
    VOID_ASSERT(b != NULL || len == 0);
    return sodium_memcmp(a, b, len) == 0;
}

/* ---- hex ------------------------------------------------------------- */

void void_sign_public_key_to_hex(const uint8_t public_key[VOID_SIGN_PUBLIC_KEY_SIZE], char out[65])
{
    VOID_ASSERT(public_key != NULL);
    VOID_ASSERT(out != NULL);
    sodium_bin2hex(out, 65, public_key, VOID_SIGN_PUBLIC_KEY_SIZE);
}

/* Parses exactly 2*size hex digits (nothing before or after) into out. */
static int hex_exact(const char *hex, size_t hex_len, uint8_t *out, size_t size)
{
    size_t bin_len = 0;
    const char *end = NULL;
    if (hex_len != 2 * size) {
        return VOID_EPARSE;
    }
    if (sodium_hex2bin(out, size, hex, hex_len, NULL, &bin_len, &end) != 0 || bin_len != size ||
        end != hex + hex_len) {
        return VOID_EPARSE;
    }
    return 0;
}

int void_sign_public_key_from_hex(const char *hex, uint8_t public_key[VOID_SIGN_PUBLIC_KEY_SIZE])
{
    VOID_ASSERT(hex != NULL);
    VOID_ASSERT(public_key != NULL);
    return hex_exact(hex, strlen(hex), public_key, VOID_SIGN_PUBLIC_KEY_SIZE);
}

/* ---- key files ------------------------------------------------------- */

#define SECRET_TAG "void-ed25519-secret "
#define PUBLIC_TAG "void-ed25519-public "
/* Tag + 64 hex digits + newline, and room to notice trailing junk. */
#define KEYFILE_MAX 128

static void errmsg(char *errbuf, size_t errcap, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void errmsg(char *errbuf, size_t errcap, const char *fmt, ...)
{
    if (errbuf == NULL || errcap == 0) {
        return;
    }
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(errbuf, errcap, fmt, ap);
    va_end(ap);
}

/* Creates path exclusively with mode and writes text to it. */
static int write_new_file(
    const char *path, mode_t mode, const char *text, size_t len, char *errbuf, size_t errcap)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, mode);
    if (fd < 0) {
        int e = errno;
        errmsg(errbuf,
               errcap,
               "%s: %s%s",
               path,
               strerror(e),
               e == EEXIST ? " (refusing to overwrite a key file)" : "");
        return e == EEXIST ? VOID_EEXIST : VOID_EIO;
    }
    /* The umask may have narrowed mode; make it exact (never wider). */
    int rc = 0;
    if (fchmod(fd, mode) != 0 || write(fd, text, len) != (ssize_t)len || fsync(fd) != 0) {
        errmsg(errbuf, errcap, "%s: %s", path, strerror(errno));
        rc = VOID_EIO;
    }
    if (close(fd) != 0 && rc == 0) {
        errmsg(errbuf, errcap, "%s: %s", path, strerror(errno));
        rc = VOID_EIO;
    }
    if (rc != 0) {
        unlink(path);
    }
    return rc;
}

int void_sign_keyfile_write(const char *secret_path,
                            const char *public_path,
                            const struct void_sign_keypair *kp,
                            char *errbuf,
                            size_t errcap)
{
    VOID_ASSERT(secret_path != NULL);
    VOID_ASSERT(public_path != NULL);
    VOID_ASSERT(kp != NULL);
    /* The seed is the first half of libsodium's secret key. */
    char text[KEYFILE_MAX];
    char hex[2 * VOID_SIGN_SEED_SIZE + 1];
    sodium_bin2hex(hex, sizeof(hex), kp->secret_key, VOID_SIGN_SEED_SIZE);
    int n = snprintf(text, sizeof(text), SECRET_TAG "%s\n", hex);
    VOID_ASSERT(n > 0 && (size_t)n < sizeof(text));
    int rc = write_new_file(secret_path, 0600, text, (size_t)n, errbuf, errcap);
    sodium_memzero(hex, sizeof(hex));
    sodium_memzero(text, sizeof(text));
    if (rc != 0) {
        return rc;
    }
    void_sign_public_key_to_hex(kp->public_key, hex);
    n = snprintf(text, sizeof(text), PUBLIC_TAG "%s\n", hex);
    VOID_ASSERT(n > 0 && (size_t)n < sizeof(text));
    rc = write_new_file(public_path, 0644, text, (size_t)n, errbuf, errcap);
    if (rc != 0) {
        /* Leave no half-written identity behind. */
        unlink(secret_path);
    }
    return rc;
}

/* Reads a whole small key file into text (NUL-terminated), checking its mode
 * if secret. Returns the length or a negative code. */
static int
read_key_text(const char *path, int secret, char text[KEYFILE_MAX], char *errbuf, size_t errcap)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        int e = errno;
        errmsg(errbuf, errcap, "%s: %s", path, strerror(e));
        return e == ENOENT ? VOID_ENOTFOUND : VOID_EIO;
    }
    struct stat st;
    int rc = 0;
    if (fstat(fd, &st) != 0) {
        errmsg(errbuf, errcap, "%s: %s", path, strerror(errno));
        rc = VOID_EIO;
    } else if (secret && (st.st_mode & 0077) != 0) {
        errmsg(errbuf,
               errcap,
               "private key file %s has mode %04o and is accessible by group or others; "
               "fix it with: chmod 600 %s",
               path,
               (unsigned)(st.st_mode & 07777),
               path);
        rc = VOID_EKEY_PERM;
    } else {
        ssize_t got = read(fd, text, KEYFILE_MAX - 1);
        if (got < 0) {
            errmsg(errbuf, errcap, "%s: %s", path, strerror(errno));
            rc = VOID_EIO;
        } else {
            text[got] = '\0';
            rc = (int)got;
        }
    }
    close(fd);
    return rc;
}

/* Parses "<tag><hex>\n" (newline optional) into out[size]. */
static int parse_key_text(const char *text, size_t len, const char *tag, uint8_t *out, size_t size)
{
    size_t tag_len = strlen(tag);
    if (len < tag_len || memcmp(text, tag, tag_len) != 0) {
        return VOID_EKEY_FORMAT;
    }
    size_t hex_len = len - tag_len;
    if (hex_len > 0 && text[len - 1] == '\n') {
        hex_len--;
    }
    return hex_exact(text + tag_len, hex_len, out, size) == 0 ? 0 : VOID_EKEY_FORMAT;
}

int void_sign_keyfile_read_secret(const char *path,
                                  struct void_sign_keypair *kp,
                                  char *errbuf,
                                  size_t errcap)
{
    VOID_ASSERT(path != NULL);
    VOID_ASSERT(kp != NULL);
    char text[KEYFILE_MAX];
    uint8_t seed[VOID_SIGN_SEED_SIZE];
    int rc = read_key_text(path, 1, text, errbuf, errcap);
    if (rc >= 0) {
        rc = parse_key_text(text, (size_t)rc, SECRET_TAG, seed, sizeof(seed));
        if (rc != 0) {
            errmsg(errbuf, errcap, "%s: not a Void secret key file (" SECRET_TAG "<64 hex>)", path);
        } else {
            rc = void_sign_keypair_from_seed(kp, seed);
        }
    }
    sodium_memzero(text, sizeof(text));
    sodium_memzero(seed, sizeof(seed));
    return rc;
}

int void_sign_keyfile_read_public(const char *path,
                                  uint8_t public_key[VOID_SIGN_PUBLIC_KEY_SIZE],
                                  char *errbuf,
                                  size_t errcap)
{
    VOID_ASSERT(path != NULL);
    VOID_ASSERT(public_key != NULL);
    char text[KEYFILE_MAX];
    int rc = read_key_text(path, 0, text, errbuf, errcap);
    if (rc < 0) {
        return rc;
    }
    rc = parse_key_text(text, (size_t)rc, PUBLIC_TAG, public_key, VOID_SIGN_PUBLIC_KEY_SIZE);
    if (rc != 0) {
        errmsg(errbuf, errcap, "%s: not a Void public key file (" PUBLIC_TAG "<64 hex>)", path);
    }
    return rc;
}

/* ---- keyring --------------------------------------------------------- */

void void_keyring_init(struct void_keyring *ring)
{
    VOID_ASSERT(ring != NULL);
    memset(ring, 0, sizeof(*ring));
}

/* Index of id in ring, or -1. Linear: rings hold a cluster's members, and a
 * scan of even VOID_KEYRING_MAX ids costs far less than one verification. */
static int keyring_find(const struct void_keyring *ring, uint32_t id)
{
    VOID_ASSERT(ring->count <= VOID_KEYRING_MAX);
    for (uint32_t i = 0; i < ring->count; i++) {
        if (ring->ids[i] == id) {
            return (int)i;
        }
    }
    return -1;
}

int void_keyring_add(struct void_keyring *ring,
                     uint32_t id,
                     const uint8_t key[VOID_SIGN_PUBLIC_KEY_SIZE])
{
    VOID_ASSERT(ring != NULL);
    VOID_ASSERT(key != NULL);
    int at = keyring_find(ring, id);
    if (at >= 0) {
        return memcmp(ring->keys[at], key, VOID_SIGN_PUBLIC_KEY_SIZE) == 0 ? 0 : VOID_EEXIST;
    }
    if (ring->count == VOID_KEYRING_MAX) {
        return VOID_EFULL;
    }
    ring->ids[ring->count] = id;
    memcpy(ring->keys[ring->count], key, VOID_SIGN_PUBLIC_KEY_SIZE);
    ring->count++;
    return 0;
}

const uint8_t *void_keyring_get(const struct void_keyring *ring, uint32_t id)
{
    VOID_ASSERT(ring != NULL);
    int at = keyring_find(ring, id);
    return at < 0 ? NULL : ring->keys[at];
}

int void_keyring_verify(const struct void_keyring *ring,
                        uint32_t id,
                        enum void_sign_domain domain,
                        const uint8_t *msg,
                        size_t len,
                        const uint8_t sig[VOID_SIGN_SIZE])
{
    VOID_ASSERT(ring != NULL);
    VOID_ASSERT(sig != NULL);
    const uint8_t *key = void_keyring_get(ring, id);
    if (key == NULL) {
        return VOID_EUNKNOWN_SENDER;
    }
    return void_sign_verify(key, domain, msg, len, sig);
}
