/*
 * Tests of the CAS object codecs: round trips, and rejection of every kind
 * of malformed input (truncation at each length, bad header fields, bad
 * names, unsorted entries, trailing bytes, random corruption).
 */
/* cmocka.h needs these first, in this order. */
/* clang-format off */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
/* clang-format on */

#include "void/casobj.h"
#include "void/error.h"
#include "void/prng.h"

#include <stdlib.h>
#include <string.h>

static struct void_casobj_entry entry(uint8_t type, const char *name, uint32_t mode)
{
    struct void_casobj_entry e;
    memset(&e, 0, sizeof(e));
    e.type = type;
    e.name = name;
    e.name_len = (uint16_t)strlen(name);
    e.mode = mode;
    e.size = strlen(name) * 1000;
    memset(e.hash.b, name[0], VOID_HASH_SIZE);
    if (type == VOID_CAS_SYMLINK) {
        e.size = 0;
        memset(e.hash.b, 0, VOID_HASH_SIZE);
        e.target = "../some target";
        e.target_len = 14;
    }
    return e;
}

/* Encodes a sample directory into buf; returns its length. */
static size_t sample_dir(uint8_t *buf, size_t cap)
{
    struct void_casobj_entry ents[] = {
        entry(VOID_CAS_FILE, "a file", 0644),
        entry(VOID_CAS_DIR, "b", 0755),
        entry(VOID_CAS_SYMLINK, "bb", 0777),
        entry(VOID_CAS_FILE, "new\nline", 0600),
        entry(VOID_CAS_FILE, "\xc3\xa9t\xc3\xa9", 04755),
    };
    size_t len;
    assert_int_equal(void_casobj_dir_encode(ents, 5, buf, cap, &len), 0);
    return len;
}

/* Setup: a file object of three chunks. Action: encode, decode. Expected:
 * same chunks and total size back; the kind is FILE. */
static void test_casobj_file_round_trip(void **state)
{
    (void)state;
    struct void_casobj_chunk c[3];
    for (int i = 0; i < 3; i++) {
        memset(c[i].hash.b, i + 1, VOID_HASH_SIZE);
        c[i].size = (uint32_t)(1000 * (i + 1));
    }
    uint8_t buf[256];
    size_t len;
    assert_int_equal(void_casobj_file_encode(c, 3, buf, sizeof(buf), &len), 0);
    assert_int_equal(len, void_casobj_file_encoded_size(3));
    assert_int_equal(void_casobj_kind(buf, len), VOID_CAS_FILE);
    struct void_casobj_file f;
    assert_int_equal(void_casobj_file_decode(buf, len, &f), 0);
    assert_int_equal(f.count, 3);
    assert_int_equal(f.size, 6000);
    for (uint32_t i = 0; i < 3; i++) {
        struct void_casobj_chunk got;
        void_casobj_file_chunk(&f, i, &got);
        assert_memory_equal(&got.hash, &c[i].hash, VOID_HASH_SIZE);
        assert_int_equal(got.size, c[i].size);
    }
    /* An empty file has no chunks. */
    assert_int_equal(void_casobj_file_encode(NULL, 0, buf, sizeof(buf), &len), 0);
    assert_int_equal(void_casobj_file_decode(buf, len, &f), 0);
    assert_int_equal(f.count, 0);
    assert_int_equal(f.size, 0);
}

/* Setup: a directory with every entry type and odd names (space, newline,
 * UTF-8). Action: encode, decode, iterate. Expected: the same entries in
 * the same order. */
static void test_casobj_dir_round_trip(void **state)
{
    (void)state;
    uint8_t buf[1024];
    size_t len = sample_dir(buf, sizeof(buf));
    struct void_casobj_dir d;
    struct void_casobj_entry e;
    assert_int_equal(void_casobj_dir_decode(buf, len, &d), 0);
    assert_int_equal(d.count, 5);
    const char *names[] = {"a file", "b", "bb", "new\nline", "\xc3\xa9t\xc3\xa9"};
    for (int i = 0; i < 5; i++) {
        assert_int_equal(void_casobj_dir_next(&d, &e), 1);
        assert_int_equal(e.name_len, strlen(names[i]));
        assert_memory_equal(e.name, names[i], e.name_len);
        if (e.type == VOID_CAS_SYMLINK) {
            assert_memory_equal(e.target, "../some target", 14);
        } else {
            assert_int_equal(e.size, strlen(names[i]) * 1000);
            assert_int_equal(e.hash.b[7], (uint8_t)names[i][0]);
        }
    }
    assert_int_equal(void_casobj_dir_next(&d, &e), 0);
    assert_int_equal(void_casobj_dir_next(&d, &e), 0);
}

/* Every strict prefix of a valid file or directory object is rejected,
 * as are trailing bytes. */
static void test_casobj_rejects_truncation_and_trailing_bytes(void **state)
{
    (void)state;
    uint8_t buf[1024];
    size_t len = sample_dir(buf, sizeof(buf) - 1);
    struct void_casobj_dir d;
    for (size_t n = 0; n < len; n++) {
        assert_true(void_casobj_dir_decode(buf, n, &d) < 0);
    }
    buf[len] = 0;
    assert_int_equal(void_casobj_dir_decode(buf, len + 1, &d), VOID_EBAD_LENGTH);

    struct void_casobj_chunk c = {{{1}}, 10};
    struct void_casobj_file f;
    assert_int_equal(void_casobj_file_encode(&c, 1, buf, sizeof(buf), &len), 0);
    for (size_t n = 0; n < len; n++) {
        assert_true(void_casobj_file_decode(buf, n, &f) < 0);
    }
    assert_int_equal(void_casobj_file_decode(buf, len + 1, &f), VOID_EBAD_LENGTH);
}

/* Header fields: wrong magic, version, kind, reserved bytes; a file whose
 * sizes do not add up; a zero-sized chunk. Each gives its own code. */
static void test_casobj_rejects_bad_header_and_sizes(void **state)
{
    (void)state;
    struct void_casobj_chunk c = {{{1}}, 10};
    uint8_t buf[128], tmp[128];
    size_t len;
    struct void_casobj_file f;
    struct void_casobj_dir d;
    assert_int_equal(void_casobj_file_encode(&c, 1, buf, sizeof(buf), &len), 0);
    memcpy(tmp, buf, len);
    tmp[0] ^= 1;
    assert_int_equal(void_casobj_file_decode(tmp, len, &f), VOID_EBAD_MAGIC);
    memcpy(tmp, buf, len);
    tmp[4] = 2;
    assert_int_equal(void_casobj_file_decode(tmp, len, &f), VOID_EBAD_VERSION);
    memcpy(tmp, buf, len);
    tmp[5] = 9;
    assert_int_equal(void_casobj_file_decode(tmp, len, &f), VOID_EBAD_TYPE);
    assert_int_equal(void_casobj_dir_decode(buf, len, &d), VOID_EBAD_TYPE);
    memcpy(tmp, buf, len);
    tmp[7] = 1;
    assert_int_equal(void_casobj_file_decode(tmp, len, &f), VOID_EBAD_FIELD);
    memcpy(tmp, buf, len);
    tmp[15] = 11; /* total size 11 but the chunk says 10 */
    assert_int_equal(void_casobj_file_decode(tmp, len, &f), VOID_EBAD_LENGTH);
    memcpy(tmp, buf, len);
    memset(tmp + len - 4, 0, 4);
    tmp[15] = 0;
    assert_int_equal(void_casobj_file_decode(tmp, len, &f), VOID_EBAD_FIELD);
    c.size = 0;
    assert_int_equal(void_casobj_file_encode(&c, 1, buf, sizeof(buf), &len), VOID_EINVAL);
}

/* The encoder refuses, and the decoder rejects, names that are empty, ".",
 * "..", contain '/' or NUL, entries out of order or duplicated, modes above
 * 07777 and unknown types. */
static void test_casobj_rejects_bad_entries(void **state)
{
    (void)state;
    uint8_t buf[512];
    size_t len;
    const char *bad_names[] = {".", "..", "a/b"};
    for (int i = 0; i < 3; i++) {
        struct void_casobj_entry e = entry(VOID_CAS_FILE, bad_names[i], 0644);
        assert_int_equal(void_casobj_dir_encode(&e, 1, buf, sizeof(buf), &len), VOID_EINVAL);
    }
    struct void_casobj_entry e = entry(VOID_CAS_FILE, "x", 0644);
    e.name_len = 0;
    assert_int_equal(void_casobj_dir_encode(&e, 1, buf, sizeof(buf), &len), VOID_EINVAL);
    e = entry(VOID_CAS_FILE, "x", 010000);
    assert_int_equal(void_casobj_dir_encode(&e, 1, buf, sizeof(buf), &len), VOID_EINVAL);
    e = entry(7, "x", 0644);
    assert_int_equal(void_casobj_dir_encode(&e, 1, buf, sizeof(buf), &len), VOID_EINVAL);
    struct void_casobj_entry two[2] = {entry(VOID_CAS_FILE, "b", 0644),
                                       entry(VOID_CAS_FILE, "a", 0644)};
    assert_int_equal(void_casobj_dir_encode(two, 2, buf, sizeof(buf), &len), VOID_EINVAL);
    two[1] = entry(VOID_CAS_FILE, "b", 0644);
    assert_int_equal(void_casobj_dir_encode(two, 2, buf, sizeof(buf), &len), VOID_EINVAL);

    /* Decoder: patch a valid one-entry object into each bad shape. */
    struct void_casobj_dir d;
    e = entry(VOID_CAS_FILE, "ab", 0644);
    assert_int_equal(void_casobj_dir_encode(&e, 1, buf, sizeof(buf), &len), 0);
    assert_int_equal(void_casobj_dir_decode(buf, len, &d), 0);
    size_t name_at = 8 + 4 + 7;
    buf[name_at + 1] = '/';
    assert_int_equal(void_casobj_dir_decode(buf, len, &d), VOID_EBAD_FIELD);
    buf[name_at + 1] = '\0';
    assert_int_equal(void_casobj_dir_decode(buf, len, &d), VOID_EBAD_FIELD);
    buf[name_at + 1] = 'b';
    buf[12] = 9; /* type */
    assert_int_equal(void_casobj_dir_decode(buf, len, &d), VOID_EBAD_FIELD);
}

/* Random corruption of a valid directory object: the decoder either
 * rejects it or accepts a well-formed directory, and never reads outside
 * the buffer (checked by ASan, since each input is a fresh allocation). */
static void test_casobj_survives_random_corruption(void **state)
{
    (void)state;
    uint8_t good[1024];
    size_t len = sample_dir(good, sizeof(good));
    struct void_prng p;
    void_prng_seed(&p, 11);
    int rejected = 0;
    for (int i = 0; i < 20000; i++) {
        size_t n = (size_t)void_prng_below(&p, len + 1);
        uint8_t *buf = malloc(n ? n : 1);
        memcpy(buf, good, n);
        for (int k = 0; k < 3 && n > 0; k++) {
            buf[void_prng_below(&p, n)] = (uint8_t)void_prng_next(&p);
        }
        struct void_casobj_dir d;
        struct void_casobj_entry e;
        if (void_casobj_dir_decode(buf, n, &d) == 0) {
            uint32_t seen = 0;
            while (void_casobj_dir_next(&d, &e)) {
                seen++;
            }
            assert_int_equal(seen, d.count);
        } else {
            rejected++;
        }
        free(buf);
    }
    assert_true(rejected > 10000);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_casobj_file_round_trip),
        cmocka_unit_test(test_casobj_dir_round_trip),
        cmocka_unit_test(test_casobj_rejects_truncation_and_trailing_bytes),
        cmocka_unit_test(test_casobj_rejects_bad_header_and_sizes),
        cmocka_unit_test(test_casobj_rejects_bad_entries),
        cmocka_unit_test(test_casobj_survives_random_corruption),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
