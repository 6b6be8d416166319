/*
 * Content-defined chunking: FastCDC (Xia et al., USENIX ATC 2016) with
 * normalized chunking, so that an insertion in the middle of a file moves
 * only the chunk boundaries next to it.
 *
 * A gear hash rolls over the bytes; a boundary is declared where the hash
 * has zeros under a mask. Between size_min and size_avg a stricter mask
 * (two more bits) is used, after size_avg a looser one (two fewer bits),
 * which pulls chunk sizes towards size_avg. The first size_min bytes of a
 * chunk are skipped without hashing. The 256-entry gear table is derived
 * from void_prng with the fixed seed VOID_CDC_GEAR_SEED, so the boundaries
 * (and hence the object names) are part of the store format
 * (docs/cas-format.md): never change the seed or the masks.
 *
 * Pure: no allocation, no I/O; the struct is caller-owned.
 */
#ifndef VOID_CDC_H
#define VOID_CDC_H

#include <stddef.h>
#include <stdint.h>

#define VOID_CDC_GEAR_SEED      0x766f69642d636463ull /* "void-cdc" */
#define VOID_CDC_SIZE_MIN_LOWER 64u                   /* smallest allowed size_min */
#define VOID_CDC_SIZE_MAX_UPPER (16u << 20)           /* largest allowed size_max */

/* Store defaults, chosen by measurement on the dedup corpus (bench/README.md). */
#define VOID_CDC_DEFAULT_MIN (16u << 10)
#define VOID_CDC_DEFAULT_AVG (64u << 10)
#define VOID_CDC_DEFAULT_MAX (256u << 10)

struct void_cdc_config {
    uint32_t size_min; /* no chunk is shorter, except the last of an input */
    uint32_t size_avg; /* target average; a power of two */
    uint32_t size_max; /* no chunk is longer */
};

struct void_cdc {
    struct void_cdc_config config;
    uint64_t mask_strict; /* used before size_avg */
    uint64_t mask_loose;  /* used from size_avg on */
    uint64_t gear[256];
};

/* Fills config with the store defaults. Cannot fail. */
void void_cdc_config_default(struct void_cdc_config *config);

/* Initialises c from config (copied). Returns 0, or VOID_EINVAL unless
 * VOID_CDC_SIZE_MIN_LOWER <= size_min < size_avg < size_max <=
 * VOID_CDC_SIZE_MAX_UPPER and size_avg is a power of two. */
int void_cdc_init(struct void_cdc *c, const struct void_cdc_config *config);

/* Returns the length of the chunk that starts at data: a value in
 * [1, min(len, size_max)]. The caller passes at least size_max bytes unless
 * data runs to the end of the input, in which case a return equal to len is
 * the final chunk. len must be > 0; data is borrowed for the call. Cannot
 * fail. */
size_t void_cdc_cut(const struct void_cdc *c, const uint8_t *data, size_t len);

#endif
