/*
 * SHA-256 of 64 KiB chunks (the store's average chunk) with the
 * implementation the store uses, OpenSSL libcrypto (SHA-NI), against
 * libsodium's crypto_hash_sha256, on the same buffer in paired rounds. The
 * ratio is openssl/libsodium time: below 1 means OpenSSL is faster, which is
 * why src/crypto/hash.c uses it. Also prints the chunker's throughput and
 * that of void_hash_compute_many (the ingest's two-lane SHA-NI hashing of
 * several chunks at once) on the same 64 KiB chunks.
 */
#include "bench.h"
#include "void/cdc.h"
#include "void/hash.h"
#include "void/prng.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>

#define ROUNDS 31
#define CHUNK  (64u << 10)
#define BYTES  (16u << 20)

static uint8_t *buf;
static volatile uint8_t sink;

static double hash_us(int sodium)
{
    struct void_hash h;
    uint64_t t0 = bench_now_ns();
    for (size_t off = 0; off < BYTES; off += CHUNK) {
        if (sodium) {
            void_hash_compute_sodium(buf + off, CHUNK, &h);
        } else {
            void_hash_compute(buf + off, CHUNK, &h);
        }
        sink ^= h.b[0];
    }
    return (double)(bench_now_ns() - t0) / 1e3 / (BYTES / CHUNK); /* us per chunk */
}

/* void_hash_compute_many over the same chunks, eight at a time. */
static double many_us(void)
{
    const uint8_t *data[8];
    size_t len[8];
    struct void_hash h[8];
    uint64_t t0 = bench_now_ns();
    for (size_t off = 0; off < BYTES; off += 8 * CHUNK) {
        for (size_t i = 0; i < 8; i++) {
            data[i] = buf + off + i * CHUNK;
            len[i] = CHUNK;
        }
        void_hash_compute_many(data, len, 8, h);
        sink ^= h[7].b[0];
    }
    return (double)(bench_now_ns() - t0) / 1e3 / (BYTES / CHUNK); /* us per chunk */
}

static double cdc_us(const struct void_cdc *c)
{
    uint64_t t0 = bench_now_ns();
    size_t off = 0, n = 0;
    while (off < BYTES) {
        off += void_cdc_cut(c, buf + off, BYTES - off);
        n++;
    }
    sink ^= (uint8_t)n;
    return (double)(bench_now_ns() - t0) / 1e3;
}

int main(void)
{
    buf = malloc(BYTES);
    struct void_prng p;
    void_prng_seed(&p, 1);
    for (size_t i = 0; i < BYTES; i += 8) {
        uint64_t r = void_prng_next(&p);
        memcpy(buf + i, &r, 8);
    }
    double ours[ROUNDS], peer[ROUNDS], cdc[ROUNDS], many[ROUNDS];
    struct void_cdc c;
    struct void_cdc_config cfg;
    void_cdc_config_default(&cfg);
    if (void_cdc_init(&c, &cfg) != 0) {
        return 1;
    }
    for (int r = 0; r < ROUNDS; r++) {
        if (r % 2 == 0) {
            ours[r] = hash_us(0);
            peer[r] = hash_us(1);
        } else {
            peer[r] = hash_us(1);
            ours[r] = hash_us(0);
        }
        cdc[r] = cdc_us(&c);
        many[r] = many_us();
    }
    double o = bench_median(ours, ROUNDS), q = bench_median(peer, ROUNDS);
    printf("sha256 of 64 KiB: openssl %.0f MB/s, libsodium %.0f MB/s; FastCDC %.0f MB/s\n",
           CHUNK / o,
           CHUNK / q,
           BYTES / bench_median(cdc, ROUNDS));
    printf("void_hash_compute_many (%s), 8 chunks of 64 KiB at a time: %.0f MB/s\n",
           void_hash_x2_accelerated() ? "two lanes on SHA-NI" : "fallback: one at a time",
           CHUNK / bench_median(many, ROUNDS));
    double ro[ROUNDS], rp[ROUNDS];
    for (int r = 0; r < ROUNDS; r++) {
        ro[r] = ours[r];
        rp[r] = peer[r];
    }
    bench_report_rounds("sha256_64k", "libsodium crypto_hash_sha256", "us", ro, rp, ROUNDS);
    free(buf);
    return 0;
}
