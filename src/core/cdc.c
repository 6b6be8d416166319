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
    for (; i < mid; i++) {
        fp = (fp << 1) + c->gear[data[i]];
        if ((fp & c->mask_strict) == 0) {
            return i + 1;
        }
    }
    for (; i < end; i++) {
        fp = (fp << 1) + c->gear[data[i]];
        if ((fp & c->mask_loose) == 0) {
            return i + 1;
        }
    }
    VOID_ASSERT(end <= len && end <= hi);
    return end;
}
