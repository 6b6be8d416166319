/*
 * Tests of the FastCDC chunker: configuration checks, size bounds,
 * determinism, and the property that matters for dedup: an edit in the
 * middle of a large file changes only the chunks next to it.
 */
/* cmocka.h needs these first, in this order. */
/* clang-format off */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
/* clang-format on */

#include "void/cdc.h"
#include "void/error.h"
#include "void/hash.h"
#include "void/prng.h"

#include <stdlib.h>
#include <string.h>

static uint8_t *random_bytes(size_t n, uint64_t seed)
{
    struct void_prng p;
    void_prng_seed(&p, seed);
    uint8_t *b = malloc(n + 8);
    for (size_t i = 0; i < n; i += 8) {
        uint64_t r = void_prng_next(&p);
        memcpy(b + i, &r, 8);
    }
    return b;
}

/* Chunks buf and returns the hashes and sizes of its chunks. */
static size_t chunk_all(const struct void_cdc *c,
                        const uint8_t *buf,
                        size_t len,
                        struct void_hash *hashes,
                        size_t *sizes,
                        size_t cap)
{
    size_t off = 0, n = 0;
    while (off < len) {
        size_t k = void_cdc_cut(c, buf + off, len - off);
        assert_true(n < cap);
        if (hashes != NULL) {
            void_hash_compute(buf + off, k, &hashes[n]);
        }
        sizes[n++] = k;
        off += k;
    }
    return n;
}

/* Setup: invalid configurations. Expected: VOID_EINVAL for min >= avg,
 * avg >= max, a non-power-of-two avg, min below the floor, max above the
 * ceiling; 0 for the defaults. */
static void test_cdc_rejects_bad_config(void **state)
{
    (void)state;
    struct void_cdc c;
    struct void_cdc_config bad[] = {
        {4096, 4096, 65536},
        {4096, 65536, 65536},
        {4096, 3000 * 4, 65536},
        {32, 1024, 4096},
        {4096, 8192, 64u << 20},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        assert_int_equal(void_cdc_init(&c, &bad[i]), VOID_EINVAL);
    }
    struct void_cdc_config def;
    void_cdc_config_default(&def);
    assert_int_equal(void_cdc_init(&c, &def), 0);
}

/* Setup: 16 MiB of random bytes, default sizes. Action: chunk. Expected:
 * every chunk but the last within [min, max], the average within a factor
 * of two of the target, and a second run giving the same boundaries. */
static void test_cdc_sizes_within_bounds_and_deterministic(void **state)
{
    (void)state;
    struct void_cdc c;
    struct void_cdc_config cfg;
    void_cdc_config_default(&cfg);
    assert_int_equal(void_cdc_init(&c, &cfg), 0);
    size_t len = 16u << 20;
    uint8_t *buf = random_bytes(len, 1);
    size_t cap = len / cfg.size_min + 2;
    size_t *a = malloc(cap * sizeof(size_t)), *b = malloc(cap * sizeof(size_t));
    size_t na = chunk_all(&c, buf, len, NULL, a, cap);
    size_t nb = chunk_all(&c, buf, len, NULL, b, cap);
    assert_int_equal(na, nb);
    assert_memory_equal(a, b, na * sizeof(size_t));
    for (size_t i = 0; i + 1 < na; i++) {
        assert_true(a[i] >= cfg.size_min && a[i] <= cfg.size_max);
    }
    size_t avg = len / na;
    assert_true(avg > cfg.size_avg / 2 && avg < cfg.size_avg * 2);
    free(a);
    free(b);
    free(buf);
}

/* Setup: a 64 MiB random file and a copy with 100 random bytes inserted in
 * the middle. Action: chunk both with the default sizes. Expected: at most
 * 3 chunks of the edited file are not chunks of the original (the stated
 * bound; FastCDC typically gives 1 or 2), and only the edited region moved. */
static void test_cdc_insert_in_middle_changes_at_most_three_chunks(void **state)
{
    (void)state;
    struct void_cdc c;
    struct void_cdc_config cfg;
    void_cdc_config_default(&cfg);
    assert_int_equal(void_cdc_init(&c, &cfg), 0);
    size_t len = 64u << 20, mid = len / 2;
    uint8_t *orig = random_bytes(len, 2);
    uint8_t *ins = random_bytes(100, 3);
    uint8_t *edit = malloc(len + 100);
    memcpy(edit, orig, mid);
    memcpy(edit + mid, ins, 100);
    memcpy(edit + mid + 100, orig + mid, len - mid);
    size_t cap = (len + 100) / cfg.size_min + 2;
    struct void_hash *ha = malloc(cap * sizeof(*ha)), *hb = malloc(cap * sizeof(*hb));
    size_t *sa = malloc(cap * sizeof(size_t)), *sb = malloc(cap * sizeof(size_t));
    size_t na = chunk_all(&c, orig, len, ha, sa, cap);
    size_t nb = chunk_all(&c, edit, len + 100, hb, sb, cap);
    size_t changed = 0;
    for (size_t i = 0; i < nb; i++) {
        int found = 0;
        for (size_t j = 0; j < na && !found; j++) {
            found = void_hash_equal(&hb[i], &ha[j]);
        }
        changed += !found;
    }
    print_message("chunks: %zu original, %zu edited, %zu changed\n", na, nb, changed);
    assert_true(changed >= 1);
    assert_true(changed <= 3);
    free(ha);
    free(hb);
    free(sa);
    free(sb);
    free(orig);
    free(ins);
    free(edit);
}

/* Inputs up to size_min are one chunk; on longer inputs every cut lies in
 * [size_min, size_max], also for a run of identical bytes. */
static void test_cdc_short_input_and_forced_max_cut(void **state)
{
    (void)state;
    struct void_cdc c;
    struct void_cdc_config cfg = {1024, 4096, 16384};
    assert_int_equal(void_cdc_init(&c, &cfg), 0);
    uint8_t *zeros = calloc(100000, 1);
    assert_int_equal(void_cdc_cut(&c, zeros, 1), 1);
    assert_int_equal(void_cdc_cut(&c, zeros, 1000), 1000);
    assert_int_equal(void_cdc_cut(&c, zeros, 1024), 1024);
    size_t k = void_cdc_cut(&c, zeros, 100000);
    assert_true(k >= 1024 && k <= 16384);
    uint8_t *rnd = random_bytes(100000, 9);
    for (size_t off = 0; off < 50000; off += 997) {
        k = void_cdc_cut(&c, rnd + off, 100000 - off);
        assert_true(k > 1024 && k <= 16384);
    }
    free(rnd);
    free(zeros);
}

/* The cut as the format defines it, one byte at a time: the gear hash
 * starts at 0 at size_min, the strict mask applies before size_avg and the
 * loose one from there to size_max. */
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

/* Setup: seeded random inputs, cut at many offsets and lengths (odd and
 * even, shorter and longer than each bound) under four configurations,
 * plus runs of one byte value. Action: void_cdc_cut against the byte-at-a-
 * time reference. Expected: the same cut every time, so the unrolled scan
 * keeps the boundaries (and hence the names) of the format. */
static void test_cdc_cut_matches_byte_at_a_time_reference(void **state)
{
    (void)state;
    const struct void_cdc_config cfgs[] = {
        {VOID_CDC_DEFAULT_MIN, VOID_CDC_DEFAULT_AVG, VOID_CDC_DEFAULT_MAX},
        {64, 128, 257},
        {100, 256, 1001},
        {1024, 4096, 16384},
    };
    size_t len = 4u << 20;
    uint8_t *buf = random_bytes(len, 11);
    struct void_prng p;
    void_prng_seed(&p, 12);
    for (size_t k = 0; k < sizeof(cfgs) / sizeof(cfgs[0]); k++) {
        struct void_cdc c;
        assert_int_equal(void_cdc_init(&c, &cfgs[k]), 0);
        for (size_t off = 0; off < len;) {
            size_t n = len - off;
            assert_int_equal(void_cdc_cut(&c, buf + off, n), reference_cut(&c, buf + off, n));
            size_t m = 1 + void_prng_next(&p) % (2 * cfgs[k].size_max);
            m = m < n ? m : n;
            assert_int_equal(void_cdc_cut(&c, buf + off, m), reference_cut(&c, buf + off, m));
            off += void_cdc_cut(&c, buf + off, n) + (size_t)(void_prng_next(&p) % 3);
        }
        memset(buf, 0x5a, cfgs[k].size_max + 1);
        for (size_t m = 1; m <= cfgs[k].size_max + 1; m += 1 + m / 7) {
            assert_int_equal(void_cdc_cut(&c, buf, m), reference_cut(&c, buf, m));
        }
        free(buf);
        buf = random_bytes(len, 13 + k);
    }
    free(buf);
}

/* The scan's lane size (LANE in src/core/cdc.c): rounds of two lanes cover
 * 2 * CDC_LANE bytes from size_min and from size_avg on. */
#define CDC_LANE 8192u

/* Setup: sizes whose loose mask cuts every 2-32 KiB while size_max allows
 * long scans, so that void_cdc_cut's two-lane rounds (two halves of
 * CDC_LANE bytes from size_avg on) end in either half, at every position
 * within a step of four bytes, and sometimes with a cut in both halves;
 * 8 MiB of seeded random bytes cut from every chunk start and from random
 * offsets, with the full length and with a random shorter one. Action:
 * void_cdc_cut against the byte-at-a-time reference. Expected: the same cut
 * every time, and more than 100 cuts in a round's second half, so the
 * lane-B paths were taken. */
static void test_cdc_two_lane_rounds_match_reference(void **state)
{
    (void)state;
    const struct void_cdc_config cfgs[] = {
        {64, 1u << 13, 1u << 20},
        {64, 1u << 15, 1u << 22},
        {64, 1u << 16, 1u << 22},
        {4096, 1u << 17, 1u << 24},
    };
    size_t len = 8u << 20, second_half = 0;
    uint8_t *buf = random_bytes(len, 31);
    struct void_prng p;
    void_prng_seed(&p, 32);
    for (size_t k = 0; k < sizeof(cfgs) / sizeof(cfgs[0]); k++) {
        struct void_cdc c;
        assert_int_equal(void_cdc_init(&c, &cfgs[k]), 0);
        for (size_t off = 0; off < len;) {
            size_t n = len - off, m = 1 + void_prng_next(&p) % n;
            size_t cut = void_cdc_cut(&c, buf + off, n);
            assert_int_equal(cut, reference_cut(&c, buf + off, n));
            assert_int_equal(void_cdc_cut(&c, buf + off, m), reference_cut(&c, buf + off, m));
            if (cut > cfgs[k].size_avg &&
                (cut - 1 - cfgs[k].size_avg) % (2 * CDC_LANE) >= CDC_LANE) {
                second_half++;
            }
            off += void_prng_next(&p) % 4 == 0 ? 1 + void_prng_next(&p) % 4096 : cut;
        }
    }
    print_message("%zu cuts in a second lane\n", second_half);
    assert_true(second_half > 100);
    free(buf);
}

/* Setup: 8 MiB of seeded random bytes, default sizes. Action: chunk it and
 * hash the list of chunk sizes (big-endian u32 each). Expected: the hash
 * recorded when the format was fixed (docs/cas-format.md): a change to the
 * gear table, the masks or the scan would rename every stored object. */
/* Computed with the one-byte-at-a-time chunker of the first store format. */
#define PINNED_SIZES_HASH "9b21be70992072d93c9195f45c4a9c8cb48b6cad003648f0b8ba76a9abb79395"

static void test_cdc_default_boundaries_are_pinned(void **state)
{
    (void)state;
    struct void_cdc c;
    struct void_cdc_config cfg;
    void_cdc_config_default(&cfg);
    assert_int_equal(void_cdc_init(&c, &cfg), 0);
    size_t len = 8u << 20;
    uint8_t *buf = random_bytes(len, 21);
    size_t cap = len / cfg.size_min + 2, n = 0;
    uint8_t *sizes = malloc(4 * cap);
    for (size_t off = 0; off < len; n++) {
        size_t k = void_cdc_cut(&c, buf + off, len - off);
        assert_true(n < cap);
        for (int i = 0; i < 4; i++) {
            sizes[4 * n + (size_t)i] = (uint8_t)(k >> (24 - 8 * i));
        }
        off += k;
    }
    struct void_hash h;
    void_hash_compute(sizes, 4 * n, &h);
    char hex[VOID_HASH_HEX_SIZE];
    void_hash_to_hex(&h, hex);
    print_message("%zu chunks, sizes hash %s\n", n, hex);
    assert_string_equal(hex, PINNED_SIZES_HASH);
    free(sizes);
    free(buf);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cdc_rejects_bad_config),
        cmocka_unit_test(test_cdc_sizes_within_bounds_and_deterministic),
        cmocka_unit_test(test_cdc_insert_in_middle_changes_at_most_three_chunks),
        cmocka_unit_test(test_cdc_short_input_and_forced_max_cut),
        cmocka_unit_test(test_cdc_cut_matches_byte_at_a_time_reference),
        cmocka_unit_test(test_cdc_two_lane_rounds_match_reference),
        cmocka_unit_test(test_cdc_default_boundaries_are_pinned),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
