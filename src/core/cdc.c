/*
 * FastCDC chunker with normalized chunking (see include/void/cdc.h). The
 * masks keep their one-bits in the top of the 64-bit gear hash: each step
 * shifts the hash left by one, so the top bits depend on the last 64 bytes,
 * which is the effective window of the rolling hash.
 */
#include "void/cdc.h"

#include "void/assert.h"
#include "void/error.h"
#include "void/prng.h"

#include <string.h>

void void_cdc_config_default(struct void_cdc_config *config)
{
    VOID_ASSERT(config != NULL);
    config->size_min = VOID_CDC_DEFAULT_MIN;
    config->size_avg = VOID_CDC_DEFAULT_AVG;
    config->size_max = VOID_CDC_DEFAULT_MAX;
    VOID_ASSERT(config->size_min < config->size_avg);
}

static unsigned log2_exact(uint32_t v)
{
    unsigned bits = 0;
    while ((1u << bits) < v) {
        bits++;
    }
    return bits;
}

/* A mask with the top `ones` bits set. */
static uint64_t top_mask(unsigned ones)
{
    VOID_ASSERT(ones > 0 && ones < 64);
    return ~0ull << (64 - ones);
}

int void_cdc_init(struct void_cdc *c, const struct void_cdc_config *config)
{
    VOID_ASSERT(c != NULL);
    VOID_ASSERT(config != NULL);
    uint32_t lo = config->size_min, avg = config->size_avg, hi = config->size_max;
    if (lo < VOID_CDC_SIZE_MIN_LOWER || lo >= avg || avg >= hi || hi > VOID_CDC_SIZE_MAX_UPPER) {
        return VOID_EINVAL;
    }
    if ((avg & (avg - 1)) != 0) {
        return VOID_EINVAL;
    }
    memset(c, 0, sizeof(*c));
    c->config = *config;
    unsigned bits = log2_exact(avg);
    VOID_ASSERT(bits >= 7 && bits <= 24);
    c->mask_strict = top_mask(bits + 2);
    c->mask_loose = top_mask(bits - 2);
    struct void_prng p;
    void_prng_seed(&p, VOID_CDC_GEAR_SEED);
    for (size_t i = 0; i < VOID_ARRAY_LEN(c->gear); i++) {
        c->gear[i] = void_prng_next(&p);
    }
    return 0;
}

/* The gear hash after byte q is the sum of gear[data[j]] << (q - j) over the
 * bytes j since the scan began, mod 2^64: bytes 64 or more back have been
 * shifted out. So the hash at any point is also the hash of the WINDOW
 * bytes before it, rolled from 0, which lets a second lane start anywhere
 * at least WINDOW bytes into a scan. */
#define WINDOW 64u
/* Each lane's share of a two-lane round. Each round pays a serial warm-up
 * and a mispredicted loop exit; the round in which the cut falls goes at
 * one lane's pace; and the rest of a region shorter than a round runs on
 * one lane. Measured with bench/bench_cdc.c at the default sizes (the
 * strict region of 48 KiB is three rounds): 1024 0.64-0.72, 2048 0.67-0.72,
 * 4096 0.61-0.69, 8192 0.59-0.62 of the byte-at-a-time loop's time. */
#define LANE 8192u
_Static_assert(LANE >= WINDOW && LANE % 4 == 0, "a lane starts a whole window into the scan");

/* One lane: scans data[*i, stop) for the first position p where the gear
 * hash, rolled on from *fp, is below thr (has zeros under the mask), and
 * returns 1 with *i = p + 1; otherwise returns 0 with *i = stop and *fp
 * the hash there. Four bytes per iteration with one branch over the four
 * hashes: the same sequence of hashes, and hence the same cut, as one
 * byte at a time. */
static int scan_lane(const uint64_t gear[256],
                     const uint8_t *data,
                     size_t *i,
                     size_t stop,
                     uint64_t *fp,
                     uint64_t thr)
{
    size_t p = *i;
    uint64_t h = *fp;
    for (; p + 4 <= stop; p += 4) {
        uint64_t a = (h << 1) + gear[data[p]];
        uint64_t b = (a << 1) + gear[data[p + 1]];
        uint64_t c = (b << 1) + gear[data[p + 2]];
        h = (c << 1) + gear[data[p + 3]];
        if ((a < thr) | (b < thr) | (c < thr) | (h < thr)) {
            *i = p + (a < thr ? 1 : b < thr ? 2 : c < thr ? 3 : 4);
            return 1;
        }
    }
    for (; p < stop; p++) {
        h = (h << 1) + gear[data[p]];
        if (h < thr) {
            *i = p + 1;
            return 1;
        }
    }
    VOID_ASSERT(p == stop);
    *i = p;
    *fp = h;
    return 0;
}

/* The hash of the WINDOW bytes that end at end, rolled from 0. */
static uint64_t warm_up(const uint64_t gear[256], const uint8_t *end)
{
    uint64_t h = 0;
    for (size_t k = WINDOW; k > 0; k--) {
        h = (h << 1) + gear[end[-(ptrdiff_t)k]];
    }
    return h;
}

/* Lane B of a round found a cut just before offset cut_b from a; lane A
 * (hash h before a[k]) has not been checked from a[k] on. Returns the
 * first of A's remaining cuts, if any, else cut_b. */
static size_t
settle(const uint64_t gear[256], const uint8_t *a, size_t k, uint64_t h, uint64_t thr, size_t cut_b)
{
    size_t p = k;
    VOID_ASSERT(k < LANE && cut_b > LANE);
    return scan_lane(gear, a, &p, LANE, &h, thr) ? p : cut_b;
}

/* One round of two lanes: A rolls on from *h over a[0, LANE), B over
 * a[LANE, 2 * LANE) after warming up on the WINDOW bytes before it, both
 * in the same loop, so that the two dependency chains (one add and shift
 * per byte each) overlap. Every hash gets its own branch: a hit in A is the
 * cut, a hit in B is the cut unless A has one later in its half. Returns
 * the offset from a just past the cut, or 0 with *h the hash at a + 2 *
 * LANE. The caller makes sure a - WINDOW is inside the scan. */
static size_t round2(const uint64_t gear[256], const uint8_t *a, uint64_t *h, uint64_t thr)
{
    const uint8_t *b = a + LANE;
    uint64_t ha = *h, hb = warm_up(gear, b);
    for (size_t k = 0; k < LANE; k += 4) {
        uint64_t a0 = (ha << 1) + gear[a[k]], b0 = (hb << 1) + gear[b[k]];
        if (a0 < thr) {
            return k + 1;
        }
        if (b0 < thr) {
            return settle(gear, a, k, ha, thr, LANE + k + 1);
        }
        uint64_t a1 = (a0 << 1) + gear[a[k + 1]], b1 = (b0 << 1) + gear[b[k + 1]];
        if (a1 < thr) {
            return k + 2;
        }
        if (b1 < thr) {
            return settle(gear, a, k, ha, thr, LANE + k + 2);
        }
        uint64_t a2 = (a1 << 1) + gear[a[k + 2]], b2 = (b1 << 1) + gear[b[k + 2]];
        if (a2 < thr) {
            return k + 3;
        }
        if (b2 < thr) {
            return settle(gear, a, k, ha, thr, LANE + k + 3);
        }
        uint64_t a3 = (a2 << 1) + gear[a[k + 3]], b3 = (b2 << 1) + gear[b[k + 3]];
        if (a3 < thr) {
            return k + 4;
        }
        if (b3 < thr) {
            return settle(gear, a, k, ha, thr, LANE + k + 4);
        }
        ha = a3;
        hb = b3;
    }
    *h = hb;
    return 0;
}

/* Scans data[*i, stop) as scan_lane does (the scan began at data[begin]),
 * in two-lane rounds while at least two lanes' worth is left: each byte's
 * hash depends on the previous one, so one lane leaves most of the CPU's
 * execution units idle. A hash has zeros under a mask of top bits exactly
 * when it is below thr. */
static int scan(const uint64_t gear[256],
                const uint8_t *data,
                size_t begin,
                size_t *i,
                size_t stop,
                uint64_t *fp,
                uint64_t mask)
{
    const uint64_t thr = ~mask + 1;
    VOID_ASSERT(thr != 0 && (thr & (thr - 1)) == 0 && ~mask == thr - 1);
    VOID_ASSERT(begin <= *i && *i <= stop);
    size_t p = *i;
    while (stop - p >= 2 * LANE) {
        VOID_ASSERT(p + LANE - WINDOW >= begin);
        size_t cut = round2(gear, data + p, fp, thr);
        if (cut != 0) {
            *i = p + cut;
            return 1;
        }
        p += 2 * LANE;
    }
    *i = p;
    return scan_lane(gear, data, i, stop, fp, thr);
}

size_t void_cdc_cut(const struct void_cdc *c, const uint8_t *data, size_t len)
{
    VOID_ASSERT(c != NULL);
    VOID_ASSERT(data != NULL && len > 0);
    size_t lo = c->config.size_min, avg = c->config.size_avg, hi = c->config.size_max;
    if (len <= lo) {
        return len;
    }
    size_t end = len < hi ? len : hi;
    size_t mid = end < avg ? end : avg;
    uint64_t fp = 0;
    size_t i = lo;
    if (scan(c->gear, data, lo, &i, mid, &fp, c->mask_strict) ||
        scan(c->gear, data, lo, &i, end, &fp, c->mask_loose)) {
        VOID_ASSERT(i > lo && i <= end);
        return i;
    }
    VOID_ASSERT(end <= len && end <= hi);
    return end;
}
