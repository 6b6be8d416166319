/*
 * libFuzzer target for the CAS object decoders (include/void/casobj.h).
 * The first byte picks the decoder (file or directory); the rest is the
 * object. Whatever the input, the decoders must not crash or read out of
 * bounds; an accepted object must re-encode to the same bytes, which
 * checks that the decoder accepts nothing the encoder could not produce.
 */
#include "void/assert.h"
#include "void/casobj.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_file(const uint8_t *buf, size_t len)
{
    struct void_casobj_file f;
    if (void_casobj_file_decode(buf, len, &f) != 0) {
        return;
    }
    struct void_casobj_chunk *c = malloc((f.count + 1) * sizeof(*c));
    for (uint32_t i = 0; i < f.count; i++) {
        void_casobj_file_chunk(&f, i, &c[i]);
    }
    uint8_t *out = malloc(len);
    size_t n;
    VOID_ASSERT(void_casobj_file_encode(c, f.count, out, len, &n) == 0);
    VOID_ASSERT(n == len && memcmp(out, buf, len) == 0);
    free(out);
    free(c);
}

static void check_dir(const uint8_t *buf, size_t len)
{
    struct void_casobj_dir d;
    if (void_casobj_dir_decode(buf, len, &d) != 0) {
        return;
    }
    struct void_casobj_entry *e = malloc((d.count + 1) * sizeof(*e));
    uint32_t n = 0;
    while (void_casobj_dir_next(&d, &e[n])) {
        n++;
    }
    VOID_ASSERT(n == d.count);
    uint8_t *out = malloc(len);
    size_t olen;
    VOID_ASSERT(void_casobj_dir_encode(e, n, out, len, &olen) == 0);
    VOID_ASSERT(olen == len && memcmp(out, buf, len) == 0);
    free(out);
    free(e);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0) {
        return 0;
    }
    /* Copy so that ASan sees the exact bounds of the object. */
    uint8_t *buf = malloc(size - 1 ? size - 1 : 1);
    memcpy(buf, data + 1, size - 1);
    if (data[0] & 1) {
        check_dir(buf, size - 1);
    } else {
        check_file(buf, size - 1);
    }
    (void)void_casobj_kind(buf, size - 1);
    free(buf);
    return 0;
}
