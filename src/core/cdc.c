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

/* Scans data[*i, stop) for the first position p where the gear hash,
 * rolled on from *fp, has zeros under mask, and returns 1 with *i = p + 1;
 * otherwise returns 0 with *i = stop and *fp the hash there. Four bytes per
 * iteration with one branch over the four hashes: the same sequence of
 * hashes, and hence the same cut, as one byte at a time, with a quarter of
 * the branches (about 1.15x the speed of the plain loop on this machine). */
static inline int scan(const uint64_t gear[256],
                       const uint8_t *data,
                       size_t *i,
                       size_t stop,
                       uint64_t *fp,
                       uint64_t mask)
{
    size_t p = *i;
    uint64_t h = *fp;
    for (; p + 4 <= stop; p += 4) {
        uint64_t a = (h << 1) + gear[data[p]];
        uint64_t b = (a << 1) + gear[data[p + 1]];
        uint64_t c = (b << 1) + gear[data[p + 2]];
        h = (c << 1) + gear[data[p + 3]];
        if (((a & mask) == 0) | ((b & mask) == 0) | ((c & mask) == 0) | ((h & mask) == 0)) {
            *i = p + ((a & mask) == 0 ? 1 : (b & mask) == 0 ? 2 : (c & mask) == 0 ? 3 : 4);
            return 1;
        }
    }
    for (; p < stop; p++) {
        h = (h << 1) + gear[data[p]];
        if ((h & mask) == 0) {
            *i = p + 1;
            return 1;
        }
    }
    VOID_ASSERT(p == stop);
    *i = p;
    *fp = h;
    return 0;
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
    if (scan(c->gear, data, &i, mid, &fp, c->mask_strict) ||
        scan(c->gear, data, &i, end, &fp, c->mask_loose)) {
        VOID_ASSERT(i > lo && i <= end);
        return i;
    }
    VOID_ASSERT(end <= len && end <= hi);
    return end;
}
