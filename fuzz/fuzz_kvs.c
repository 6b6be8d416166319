/*
 * libFuzzer target for the replicated state's VKX1 import (src/core/kvs.c):
 * what a possibly Byzantine peer sends in state transfer or a restore. Every
 * input is imported into an in-memory store (one for all inputs, as a
 * replica reuses its store). A refused input must leave the store as it
 * was. An accepted one must
 * export back to exactly the input: the format is canonical, so a stream
 * that imports is the one encoding of the state it installs. The input is
 * also decoded as one partition (after the 44-byte header, as a stream
 * has it), whose digest must be what a load of it gives. Seeds in
 * fuzz/corpus/fuzz_kvs are exports of small states (versions, tombstones,
 * clients, a horizon), so mutations get past the header and the lengths.
 */
#include "void/error.h"
#include "void/kvs.h"

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct buf {
    uint8_t *p;
    size_t len, cap;
};

static int buf_write(void *arg, const uint8_t *data, size_t n)
{
    struct buf *b = arg;
    if (b->len + n > b->cap) {
        size_t cap = b->cap == 0 ? 4096 : b->cap;
        while (cap < b->len + n) {
            cap *= 2;
        }
        uint8_t *p = realloc(b->p, cap);
        if (p == NULL) {
            abort();
        }
        b->p = p;
        b->cap = cap;
    }
    memcpy(b->p + b->len, data, n);
    b->len += n;
    return 0;
}

/* One store for every input, as a replica reuses its store: each import
 * and each load empties it first, so earlier inputs must not matter. */
static struct void_kvs store, part_store;

/* The input as one partition: decode, then load it into a store at the
 * header's horizon and last; the store's bucket digest must be the
 * decoder's. */
static void fuzz_partition(const uint8_t *data, size_t size)
{
    if (size < VOID_KVS_EXPORT_HEADER_SIZE + 8) {
        return;
    }
    struct void_hlc_ts horizon = void_hlc_decode(data + 4);
    struct void_hlc_ts last = void_hlc_decode(data + 4 + VOID_HLC_ENCODED_SIZE);
    if (void_hlc_compare(horizon, last) > 0) {
        return;
    }
    const uint8_t *part = data + VOID_KVS_EXPORT_HEADER_SIZE + 8;
    size_t len = size - VOID_KVS_EXPORT_HEADER_SIZE - 8;
    uint32_t bucket;
    uint8_t d[VOID_KVS_DIGEST_SIZE], got[VOID_KVS_DIGEST_SIZE];
    if (void_kvs_decode_partition(part, len, horizon, last, NULL, NULL, NULL, &bucket, d) != 0) {
        return;
    }
    if (void_kvs_load_begin(&part_store, 1, horizon, last, 1) != 0 ||
        void_kvs_load_partition(&part_store, part, len, horizon, last, d) != 0 ||
        void_kvs_load_end(&part_store) != 0 ||
        void_kvs_bucket_digest(&part_store, bucket, got) != 0 || memcmp(got, d, sizeof(d)) != 0) {
        abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int ready;
    if (!ready) {
        if (void_kvs_mem_init(&store, NULL) != 0 || void_kvs_mem_init(&part_store, NULL) != 0) {
            abort();
        }
        ready = 1;
    }
    uint8_t before[VOID_KVS_DIGEST_SIZE], got[VOID_KVS_DIGEST_SIZE], now[VOID_KVS_DIGEST_SIZE];
    if (void_kvs_digest(&store, before) != 0) {
        abort();
    }
    int rc = void_kvs_import(&store, data, size, got);
    if (void_kvs_digest(&store, now) != 0) {
        abort();
    }
    if (rc != 0) {
        if (memcmp(now, before, sizeof(now)) != 0) {
            abort(); /* a refused stream changed the store */
        }
    } else {
        struct buf out = {0};
        if (memcmp(now, got, sizeof(now)) != 0 ||
            void_kvs_export(&store, NULL, buf_write, &out) != 0 || out.len != size ||
            memcmp(out.p, data, size) != 0) {
            abort(); /* accepted, but not the canonical encoding of what it installed */
        }
        free(out.p);
    }
    fuzz_partition(data, size);
    return 0;
}
