/*
 * Two SHA-256 digests at once with the x86 SHA extensions (SHA-NI).
 *
 * The round instruction sha256rnds2 does two rounds with a latency of four
 * cycles but can start one per cycle (measured on this AMD EPYC: 1.33 ns per
 * instruction in one dependency chain, 0.67 ns with two chains, 0.34 ns with
 * four). One message is a single chain of 32 of them per 64-byte block, so
 * the single-message code of OpenSSL (and any other) leaves the unit idle
 * three cycles in four. The store hashes chunk after chunk, so two chunks
 * can share the unit: their rounds are interleaved instruction by
 * instruction, here group of four rounds by group of four rounds, and the
 * out-of-order core runs the two chains side by side. A list of messages
 * keeps both lanes busy: a lane takes the next message when its own ends. The block code is the
 * standard SHA-NI sequence (Intel's "New Instructions Supporting the Secure
 * Hash Algorithm on Intel Architecture Processors", 2013), written once and
 * applied to two lanes.
 *
 * Without SHA-NI (checked once with cpuid), or on another architecture, the
 * two digests come from void_hash_compute one after the other. The results
 * are the same bytes either way; tests/crypto/test_hash.c compares both
 * paths with OpenSSL and libsodium over every length up to a few blocks and
 * over large random inputs.
 */
#include "void/assert.h"
#include "void/hash.h"

#include <stdint.h>
#include <string.h>

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define VOID_SHA_NI 1
#include <cpuid.h>
#include <immintrin.h>
#include <pthread.h>
#endif

#ifdef VOID_SHA_NI

#define TARGET __attribute__((target("sha,ssse3,sse4.1")))
#define INLINE static inline __attribute__((always_inline)) TARGET

static const uint32_t K[64] = {
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
    0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
    0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
    0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
    0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
};

static const uint32_t H0[8] = {
    0x6a09e667,
    0xbb67ae85,
    0x3c6ef372,
    0xa54ff53a,
    0x510e527f,
    0x9b05688c,
    0x1f83d9ab,
    0x5be0cd19,
};

/* One message in flight: the state as the SHA-NI instructions want it
 * (abef: words a, b, e, f; cdgh: c, d, g, h) and the four registers of
 * message schedule that a block's rounds rotate through. */
struct lane {
    __m128i abef, cdgh;
    __m128i m[4];
    __m128i abef_save, cdgh_save;
};

/* Rounds 4g .. 4g+3 of the block at p, with the message schedule work that
 * belongs to them: load (groups 0-3), sha256msg1 for group g+3 (groups
 * 1-12), and completing group g+1's words (groups 3-14). */
INLINE void group(struct lane *l, const uint8_t *p, int g)
{
    const __m128i bswap = _mm_set_epi64x(0x0c0d0e0f08090a0bll, 0x0405060700010203ll);
    __m128i *m = l->m;
    if (g < 4) {
        m[g] =
            _mm_shuffle_epi8(_mm_loadu_si128((const __m128i *)(const void *)(p + 16 * g)), bswap);
    }
    __m128i w = _mm_add_epi32(m[g & 3], _mm_loadu_si128((const __m128i *)(const void *)&K[4 * g]));
    l->cdgh = _mm_sha256rnds2_epu32(l->cdgh, l->abef, w);
    if (g >= 3 && g <= 14) {
        __m128i t = _mm_alignr_epi8(m[g & 3], m[(g - 1) & 3], 4);
        m[(g + 1) & 3] = _mm_add_epi32(m[(g + 1) & 3], t);
        m[(g + 1) & 3] = _mm_sha256msg2_epu32(m[(g + 1) & 3], m[g & 3]);
    }
    w = _mm_shuffle_epi32(w, 0x0e);
    l->abef = _mm_sha256rnds2_epu32(l->abef, l->cdgh, w);
    if (g >= 1 && g <= 12) {
        m[(g - 1) & 3] = _mm_sha256msg1_epu32(m[(g - 1) & 3], m[g & 3]);
    }
}

INLINE void block_begin(struct lane *l)
{
    l->abef_save = l->abef;
    l->cdgh_save = l->cdgh;
}

INLINE void block_end(struct lane *l)
{
    l->abef = _mm_add_epi32(l->abef, l->abef_save);
    l->cdgh = _mm_add_epi32(l->cdgh, l->cdgh_save);
}

/* The sixteen groups spelled out, so that every index into the message
 * registers is a constant and they stay in registers. */
#define GROUPS(X)                                                                                  \
    X(0) X(1) X(2) X(3) X(4) X(5) X(6) X(7) X(8) X(9) X(10) X(11) X(12) X(13) X(14) X(15)

/* The 64 rounds of one block for each of two lanes, interleaved. */
INLINE void blocks2(struct lane *a, const uint8_t *pa, struct lane *b, const uint8_t *pb)
{
    block_begin(a);
    block_begin(b);
#define TWO(g)                                                                                     \
    group(a, pa, g);                                                                               \
    group(b, pb, g);
    GROUPS(TWO)
#undef TWO
    block_end(a);
    block_end(b);
}

static TARGET void block1(struct lane *l, const uint8_t *p)
{
    block_begin(l);
#define ONE(g) group(l, p, g);
    GROUPS(ONE)
#undef ONE
    block_end(l);
}

static TARGET void lane_init(struct lane *l)
{
    __m128i dcba = _mm_loadu_si128((const __m128i *)(const void *)&H0[0]);
    __m128i hgfe = _mm_loadu_si128((const __m128i *)(const void *)&H0[4]);
    __m128i cdab = _mm_shuffle_epi32(dcba, 0xb1);
    __m128i efgh = _mm_shuffle_epi32(hgfe, 0x1b);
    l->abef = _mm_alignr_epi8(cdab, efgh, 8);
    l->cdgh = _mm_blend_epi16(efgh, cdab, 0xf0);
}

/* A message being hashed on a lane: its full blocks are read in place, its
 * last bytes with the padding and the length come from pad, so that every
 * block of it, the padding too, can be paired with another lane's. */
struct message {
    const uint8_t *p;
    size_t nfull, nblocks, done, index;
    uint8_t pad[128];
};

static void message_start(struct message *m, const uint8_t *p, size_t len, size_t index)
{
    static const uint8_t empty[1];
    size_t rest = len % 64;
    m->p = p != NULL ? p : empty;
    m->nfull = len / 64;
    m->nblocks = m->nfull + (rest < 56 ? 1 : 2);
    m->done = 0;
    m->index = index;
    memset(m->pad, 0, sizeof(m->pad));
    if (rest > 0) {
        memcpy(m->pad, m->p + 64 * m->nfull, rest);
    }
    m->pad[rest] = 0x80;
    uint64_t bits = (uint64_t)len * 8;
    for (size_t i = 0; i < 8; i++) {
        m->pad[64 * (m->nblocks - m->nfull) - 1 - i] = (uint8_t)(bits >> (8 * i));
    }
}

/* Block i of message m (i < m->nblocks). */
static const uint8_t *message_block(const struct message *m, size_t i)
{
    VOID_ASSERT(i < m->nblocks);
    return i < m->nfull ? m->p + 64 * i : m->pad + 64 * (i - m->nfull);
}

/* Writes the digest of the lane's state. */
static TARGET void lane_digest(const struct lane *l, struct void_hash *out)
{
    __m128i feba = _mm_shuffle_epi32(l->abef, 0x1b);
    __m128i dchg = _mm_shuffle_epi32(l->cdgh, 0xb1);
    __m128i dcba = _mm_blend_epi16(feba, dchg, 0xf0);
    __m128i hgfe = _mm_alignr_epi8(dchg, feba, 8);
    const __m128i bswap = _mm_set_epi64x(0x0c0d0e0f08090a0bll, 0x0405060700010203ll);
    _mm_storeu_si128((__m128i *)(void *)&out->b[0], _mm_shuffle_epi8(dcba, bswap));
    _mm_storeu_si128((__m128i *)(void *)&out->b[16], _mm_shuffle_epi8(hgfe, bswap));
}

/* Hashes n messages on two lanes: each lane takes the next message as soon
 * as its own ends (padding blocks included), so the two run side by side
 * until the last message, whose excess over the other lane's runs alone. */
static TARGET void
sha_ni_many(const uint8_t *const *data, const size_t *len, size_t n, struct void_hash *out)
{
    struct lane l[2];
    struct message m[2];
    int busy[2] = {0, 0};
    size_t next = 0;
    for (;;) {
        for (int i = 0; i < 2; i++) {
            if (!busy[i] && next < n) {
                lane_init(&l[i]);
                message_start(&m[i], data[next], len[next], next);
                busy[i] = 1;
                next++;
            }
        }
        if (busy[0] && busy[1]) {
            size_t a = m[0].nblocks - m[0].done, b = m[1].nblocks - m[1].done;
            for (size_t k = 0; k < (a < b ? a : b); k++) {
                blocks2(&l[0],
                        message_block(&m[0], m[0].done++),
                        &l[1],
                        message_block(&m[1], m[1].done++));
            }
        } else if (busy[0] || busy[1]) {
            int i = busy[0] ? 0 : 1;
            while (m[i].done < m[i].nblocks) {
                block1(&l[i], message_block(&m[i], m[i].done++));
            }
        } else {
            return;
        }
        for (int i = 0; i < 2; i++) {
            if (busy[i] && m[i].done == m[i].nblocks) {
                lane_digest(&l[i], &out[m[i].index]);
                busy[i] = 0;
            }
        }
    }
}

static pthread_once_t probe_once = PTHREAD_ONCE_INIT;
static int have_sha_ni;

/* SHA (leaf 7, ebx bit 29), SSSE3 (leaf 1, ecx bit 9), SSE4.1 (ecx bit 19). */
static void probe(void)
{
    unsigned a, b, c, d;
    if (__get_cpuid(1, &a, &b, &c, &d) == 0 || (c & (1u << 9)) == 0 || (c & (1u << 19)) == 0) {
        return;
    }
    if (__get_cpuid_count(7, 0, &a, &b, &c, &d) == 0) {
        return;
    }
    have_sha_ni = (b & (1u << 29)) != 0;
}

#endif /* VOID_SHA_NI */

int void_hash_x2_accelerated(void)
{
#ifdef VOID_SHA_NI
    int rc = pthread_once(&probe_once, probe);
    VOID_ASSERT(rc == 0);
    return have_sha_ni;
#else
    return 0;
#endif
}

void void_hash_compute_many(const uint8_t *const *data,
                            const size_t *len,
                            size_t n,
                            struct void_hash *out)
{
    VOID_ASSERT(n == 0 || (data != NULL && len != NULL && out != NULL));
#ifdef VOID_SHA_NI
    if (n >= 2 && void_hash_x2_accelerated()) {
        sha_ni_many(data, len, n, out);
        return;
    }
#endif
    for (size_t i = 0; i < n; i++) {
        void_hash_compute(data[i], len[i], &out[i]);
    }
}

void void_hash_compute2(const void *a,
                        size_t alen,
                        const void *b,
                        size_t blen,
                        struct void_hash *ha,
                        struct void_hash *hb)
{
    VOID_ASSERT(ha != NULL && hb != NULL);
    VOID_ASSERT((a != NULL || alen == 0) && (b != NULL || blen == 0));
    const uint8_t *data[2] = {a, b};
    size_t len[2] = {alen, blen};
    struct void_hash out[2];
    void_hash_compute_many(data, len, 2, out);
    *ha = out[0];
    *hb = out[1];
}
