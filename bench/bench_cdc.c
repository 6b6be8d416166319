/*
 * The FastCDC chunker (void_cdc_cut: two-lane scan) against the format's
 * definition run as written, one gear-hash step and one test per byte
 * (tests/core/test_cdc.c has the same reference). Both cut the same 4 MiB
 * slices of seeded random bytes with the store's default sizes, in
 * alternating order, a different slice each round; the cost is CPU
 * nanoseconds per byte (thread CPU time, so a busy machine costs both the
 * same), and the ratio is ours/reference: below 1 means faster. The cuts
 * are compared too: a different cut fails the bench.
 */
#include "bench.h"
#include "void/cdc.h"
#include "void/prng.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>

#define ROUNDS 61
#define SLICE  (4u << 20)
#define BYTES  (64u << 20)

static uint8_t *buf;
static struct void_cdc cdc;
static size_t slice_off;
static volatile size_t sink;

static uint64_t cpu_ns(void)
{
    struct timespec t;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
    return (uint64_t)t.tv_sec * 1000000000ull + (uint64_t)t.tv_nsec;
}

/* The cut as docs/cas-format.md defines it, one byte at a time. */
static size_t reference_cut(const struct void_cdc *c, const uint8_t *data, size_t len)
{
    size_t lo = c->config.size_min, avg = c->config.size_avg, hi = c->config.size_max;
    if (len <= lo) {
        return len;
    }
    uint64_t fp = 0;
    for (size_t i = lo; i < len && i < hi; i++) {
        fp = (fp << 1) + c->gear[data[i]];
        if ((fp & (i < avg ? c->mask_strict : c->mask_loose)) == 0) {
            return i + 1;
        }
    }
    return len < hi ? len : hi;
}

/* Cuts the current slice with cut (ours or the reference); returns CPU ns
 * per byte. The sum of the cut lengths feeds a volatile sink so that the
 * compiler keeps every call. */
static double run(size_t (*cut)(const struct void_cdc *, const uint8_t *, size_t))
{
    const uint8_t *s = buf + slice_off;
    size_t avail = BYTES - slice_off, off = 0, mix = 0;
    uint64_t t0 = cpu_ns();
    while (off < SLICE) {
        size_t n = cut(&cdc, s + off, avail - off);
        mix = mix * 31 + n;
        off += n;
    }
    double ns = (double)(cpu_ns() - t0);
    sink += mix;
    return ns / (double)off;
}

static double ours(void)
{
    return run(void_cdc_cut);
}

static double peer(void)
{
    return run(reference_cut);
}

int main(void)
{
    buf = malloc(BYTES);
    if (buf == NULL) {
        return 1;
    }
    struct void_prng p;
    void_prng_seed(&p, 1);
    for (size_t i = 0; i < BYTES; i += 8) {
        uint64_t r = void_prng_next(&p);
        memcpy(buf + i, &r, 8);
    }
    struct void_cdc_config cfg;
    void_cdc_config_default(&cfg);
    if (void_cdc_init(&cdc, &cfg) != 0) {
        return 1;
    }
    size_t off = 0, n = 0;
    while (off < BYTES) {
        size_t k = void_cdc_cut(&cdc, buf + off, BYTES - off);
        if (k != reference_cut(&cdc, buf + off, BYTES - off)) {
            fprintf(
                stderr, "bench_cdc: cut %zu at offset %zu differs from the reference\n", n, off);
            return 1;
        }
        off += k;
        n++;
    }
    double o[ROUNDS], q[ROUNDS];
    for (int r = 0; r < ROUNDS; r++) {
        slice_off = ((size_t)r * SLICE) % (BYTES - SLICE);
        if (r % 2 == 0) {
            o[r] = ours();
            q[r] = peer();
        } else {
            q[r] = peer();
            o[r] = ours();
        }
    }
    printf("%zu chunks in %u MiB agree with the reference\n", n, BYTES >> 20);
    bench_report_rounds("cdc_cut", "byte-at-a-time reference", "ns/B", o, q, ROUNDS);
    free(buf);
    return 0;
}
