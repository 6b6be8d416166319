/*
 * What both store implementations share (include/void/kvs.h): the canonical
 * entry hashes, bucket digests and state digest, which must be bit-identical
 * across implementations and replicas, and the small checks and tree
 * bookkeeping in src/core/kvs_int.h, and the canonical export format
 * (VKX1) that state transfer and restores use: encoders over the store's
 * partition iteration and a decoder that trusts nothing in its input. Pure
 * (no I/O, no clock); the export helpers allocate their working buffers.
 */
#include "core/kvs_int.h"
#include "void/assert.h"
#include "void/bytes.h"
#include "void/error.h"
#include "void/hash.h"
#include "void/merkle.h"

#include <stdlib.h>
#include <string.h>

_Static_assert(sizeof(struct void_hash_ctx) <= 128, "bucket ctx holds two hash contexts");

/* ---- entry hashes --------------------------------------------------------- */

void void_kvs_key_hash(const uint8_t *key, size_t key_len, uint8_t out[VOID_KVS_DIGEST_SIZE])
{
    VOID_ASSERT(key != NULL || key_len == 0);
    struct void_hash_ctx h;
    void_hash_init(&h);
    void_hash_update(&h, "K", 1);
    void_hash_update(&h, key, key_len);
    void_hash_final(&h, out);
}

void void_kvs_client_id_hash(uint64_t id, uint8_t out[VOID_KVS_DIGEST_SIZE])
{
    uint8_t b[9];
    b[0] = 'I';
    void_bytes_put_be64(b + 1, id);
    void_hash_digest(b, sizeof(b), out);
    VOID_ASSERT(out != NULL);
}

uint32_t void_kvs_bucket_of(const uint8_t hash[VOID_KVS_DIGEST_SIZE])
{
    VOID_ASSERT(hash != NULL);
    uint32_t b = (uint32_t)hash[0] << 4 | (uint32_t)hash[1] >> 4;
    VOID_ASSERT(b < VOID_KVS_BUCKETS);
    return b;
}

void void_kvs_version_hash(const uint8_t *key,
                           size_t key_len,
                           struct void_hlc_ts hlc,
                           int deleted,
                           const uint8_t *value,
                           size_t len,
                           uint8_t out[VOID_KVS_DIGEST_SIZE])
{
    VOID_ASSERT(key_len <= VOID_KVS_KEY_MAX && len <= VOID_KVS_VALUE_MAX);
    VOID_ASSERT(value != NULL || len == 0);
    uint8_t head[3], mid[VOID_HLC_ENCODED_SIZE + 5];
    head[0] = 'V';
    void_bytes_put_be16(head + 1, (uint16_t)key_len);
    void_hlc_encode(hlc, mid);
    mid[VOID_HLC_ENCODED_SIZE] = deleted ? 1 : 0;
    void_bytes_put_be32(mid + VOID_HLC_ENCODED_SIZE + 1, (uint32_t)len);
    struct void_hash_ctx h;
    void_hash_init(&h);
    void_hash_update(&h, head, sizeof(head));
    void_hash_update(&h, key, key_len);
    void_hash_update(&h, mid, sizeof(mid));
    void_hash_update(&h, value, len);
    void_hash_final(&h, out);
}

void void_kvs_client_hash(const struct void_kvs_client *c, uint8_t out[VOID_KVS_DIGEST_SIZE])
{
    VOID_ASSERT(c != NULL && c->reply_len <= VOID_KVS_REPLY_MAX);
    uint8_t head[1 + 8 + 8 + VOID_HLC_ENCODED_SIZE + 4];
    head[0] = 'C';
    void_bytes_put_be64(head + 1, c->id);
    void_bytes_put_be64(head + 9, c->reqno);
    void_hlc_encode(c->last_seen, head + 17);
    void_bytes_put_be32(head + 17 + VOID_HLC_ENCODED_SIZE, (uint32_t)c->reply_len);
    struct void_hash_ctx h;
    void_hash_init(&h);
    void_hash_update(&h, head, sizeof(head));
    void_hash_update(&h, c->reply, c->reply_len);
    void_hash_final(&h, out);
}

/* ---- bucket and state digests ---------------------------------------------- */

void void_kvs_bucket_init(struct void_kvs_bucket_ctx *c, uint32_t bucket)
{
    VOID_ASSERT(c != NULL && bucket < VOID_KVS_BUCKETS);
    memset(c, 0, sizeof(*c));
    c->bucket = bucket;
    void_hash_init((struct void_hash_ctx *)(void *)c->opaque[0]);
    void_hash_init((struct void_hash_ctx *)(void *)c->opaque[1]);
}

void void_kvs_bucket_add_version(struct void_kvs_bucket_ctx *c,
                                 const uint8_t hash[VOID_KVS_DIGEST_SIZE])
{
    VOID_ASSERT(c != NULL && hash != NULL);
    void_hash_update((struct void_hash_ctx *)(void *)c->opaque[0], hash, VOID_KVS_DIGEST_SIZE);
    c->versions++;
}

void void_kvs_bucket_add_client(struct void_kvs_bucket_ctx *c,
                                const uint8_t hash[VOID_KVS_DIGEST_SIZE])
{
    VOID_ASSERT(c != NULL && hash != NULL);
    void_hash_update((struct void_hash_ctx *)(void *)c->opaque[1], hash, VOID_KVS_DIGEST_SIZE);
    c->clients++;
}

void void_kvs_bucket_final(struct void_kvs_bucket_ctx *c, uint8_t out[VOID_KVS_DIGEST_SIZE])
{
    VOID_ASSERT(c != NULL && out != NULL);
    uint8_t buf[6 + 2 * VOID_KVS_DIGEST_SIZE];
    void_hash_final((struct void_hash_ctx *)(void *)c->opaque[0], buf + 6);
    void_hash_final((struct void_hash_ctx *)(void *)c->opaque[1], buf + 6 + VOID_KVS_DIGEST_SIZE);
    if (c->versions == 0 && c->clients == 0) {
        /* Empty buckets share one value, so that a fresh tree costs no hashing. */
        memset(out, 0, VOID_KVS_DIGEST_SIZE);
        return;
    }
    memcpy(buf, "VKB1", 4);
    void_bytes_put_be16(buf + 4, (uint16_t)c->bucket);
    void_hash_digest(buf, sizeof(buf), out);
}

void void_kvs_root(const uint8_t merkle_root[VOID_KVS_DIGEST_SIZE],
                   struct void_hlc_ts horizon,
                   struct void_hlc_ts last,
                   uint8_t out[VOID_KVS_DIGEST_SIZE])
{
    VOID_ASSERT(merkle_root != NULL && out != NULL);
    uint8_t buf[4 + VOID_KVS_DIGEST_SIZE + 2 * VOID_HLC_ENCODED_SIZE];
    memcpy(buf, "VKS1", 4);
    memcpy(buf + 4, merkle_root, VOID_KVS_DIGEST_SIZE);
    void_hlc_encode(horizon, buf + 4 + VOID_KVS_DIGEST_SIZE);
    void_hlc_encode(last, buf + 4 + VOID_KVS_DIGEST_SIZE + VOID_HLC_ENCODED_SIZE);
    void_hash_digest(buf, sizeof(buf), out);
}

/* ---- the Merkle tree over the buckets --------------------------------------- */

static void node_hash(const uint8_t *l, const uint8_t *r, uint8_t out[VOID_KVS_DIGEST_SIZE])
{
    uint8_t buf[1 + 2 * VOID_KVS_DIGEST_SIZE];
    buf[0] = 0x01;
    memcpy(buf + 1, l, VOID_KVS_DIGEST_SIZE);
    memcpy(buf + 1 + VOID_KVS_DIGEST_SIZE, r, VOID_KVS_DIGEST_SIZE);
    void_hash_digest(buf, sizeof(buf), out);
}

void void__kvs_tree_init(struct void__kvs_tree *t)
{
    VOID_ASSERT(t != NULL);
    /* Every node of a level has the same hash in an empty tree: one hash per
     * level instead of one per node. */
    uint8_t level[VOID_KVS_DIGEST_SIZE];
    memset(t->digest, 0, sizeof(t->digest));
    void_merkle_leaf(t->digest[0], VOID_KVS_DIGEST_SIZE, level);
    for (uint32_t width = VOID_KVS_BUCKETS; width >= 1; width /= 2) {
        for (uint32_t i = width; i < 2 * width; i++) {
            memcpy(t->node[i], level, VOID_KVS_DIGEST_SIZE);
        }
        node_hash(level, level, level);
    }
    VOID_ASSERT(memcmp(t->node[1], t->node[2], VOID_KVS_DIGEST_SIZE) != 0);
}

void void__kvs_tree_set(struct void__kvs_tree *t,
                        uint32_t b,
                        const uint8_t digest[VOID_KVS_DIGEST_SIZE])
{
    VOID_ASSERT(t != NULL && b < VOID_KVS_BUCKETS);
    memcpy(t->digest[b], digest, VOID_KVS_DIGEST_SIZE);
    uint32_t i = VOID_KVS_BUCKETS + b;
    void_merkle_leaf(digest, VOID_KVS_DIGEST_SIZE, t->node[i]);
    for (i /= 2; i >= 1; i /= 2) {
        node_hash(t->node[2 * i], t->node[2 * i + 1], t->node[i]);
    }
    VOID_ASSERT(i == 0);
}

void void__kvs_tree_set_many(struct void__kvs_tree *t,
                             const uint32_t *list,
                             const uint8_t (*digests)[VOID_KVS_DIGEST_SIZE],
                             uint32_t n)
{
    VOID_ASSERT(t != NULL && n <= VOID_KVS_BUCKETS);
    if (n <= 1) {
        for (uint32_t i = 0; i < n; i++) {
            void__kvs_tree_set(t, list[i], digests[i]);
        }
        return;
    }
    uint8_t dirty[VOID_KVS_BUCKETS / 8] = {0}; /* inner nodes 1..BUCKETS-1 to rehash */
    for (uint32_t i = 0; i < n; i++) {
        VOID_ASSERT(list[i] < VOID_KVS_BUCKETS);
        memcpy(t->digest[list[i]], digests[i], VOID_KVS_DIGEST_SIZE);
        uint32_t leaf = VOID_KVS_BUCKETS + list[i];
        void_merkle_leaf(digests[i], VOID_KVS_DIGEST_SIZE, t->node[leaf]);
        dirty[(leaf / 2) / 8] |= (uint8_t)(1u << ((leaf / 2) % 8));
    }
    /* Children have higher indexes than parents: one descending pass. */
    for (uint32_t i = VOID_KVS_BUCKETS - 1; i >= 1; i--) {
        if ((dirty[i / 8] & (1u << (i % 8))) == 0) {
            continue;
        }
        node_hash(t->node[2 * i], t->node[2 * i + 1], t->node[i]);
        dirty[(i / 2) / 8] |= (uint8_t)(1u << ((i / 2) % 8));
    }
    VOID_ASSERT((dirty[0] & 2u) != 0); /* the root was rehashed */
}

void void__kvs_tree_rebuild(struct void__kvs_tree *t)
{
    VOID_ASSERT(t != NULL);
    for (uint32_t b = 0; b < VOID_KVS_BUCKETS; b++) {
        void_merkle_leaf(t->digest[b], VOID_KVS_DIGEST_SIZE, t->node[VOID_KVS_BUCKETS + b]);
    }
    for (uint32_t i = VOID_KVS_BUCKETS - 1; i >= 1; i--) {
        node_hash(t->node[2 * i], t->node[2 * i + 1], t->node[i]);
    }
}

void void__kvs_dirty_add(struct void__kvs_dirty *d, uint32_t b)
{
    VOID_ASSERT(d != NULL && b < VOID_KVS_BUCKETS);
    uint8_t bit = (uint8_t)(1u << (b % 8));
    if ((d->bits[b / 8] & bit) == 0) {
        d->bits[b / 8] |= bit;
        d->list[d->count++] = b;
    }
    VOID_ASSERT(d->count <= VOID_KVS_BUCKETS);
}

void void__kvs_dirty_clear(struct void__kvs_dirty *d)
{
    VOID_ASSERT(d != NULL);
    for (uint32_t i = 0; i < d->count; i++) {
        d->bits[d->list[i] / 8] = 0;
    }
    d->count = 0;
}

/* ---- checks ----------------------------------------------------------------- */

int void__kvs_check_key(const uint8_t *key, size_t len)
{
    if (key == NULL || len == 0 || len > VOID_KVS_KEY_MAX) {
        return VOID_EINVAL;
    }
    return 0;
}

int void__kvs_check_read(const struct void_kvs_range *r,
                         const struct void_hlc_ts *as_of,
                         struct void_hlc_ts horizon)
{
    if (r != NULL && ((r->start == NULL && r->start_len != 0) || r->start_len > VOID_KVS_KEY_MAX ||
                      (r->end == NULL && r->end_len != 0) || r->end_len > VOID_KVS_KEY_MAX)) {
        return VOID_EINVAL;
    }
    if (as_of != NULL && void_hlc_compare(*as_of, horizon) < 0) {
        return VOID_EKVS_TOO_OLD;
    }
    return 0;
}

int void__kvs_fits(uint64_t used, uint64_t freed, uint64_t added, uint64_t quota, int reserve)
{
    VOID_ASSERT(freed <= used);
    uint64_t limit = quota + (reserve ? quota / VOID__KVS_RESERVE_DIV : 0);
    return used - freed + added <= limit;
}

int void_kvs_key_compare(const uint8_t *a, size_t a_len, const uint8_t *b, size_t b_len)
{
    size_t n = a_len < b_len ? a_len : b_len;
    int c = n == 0 ? 0 : memcmp(a, b, n);
    if (c != 0) {
        return c < 0 ? -1 : 1;
    }
    return (a_len > b_len) - (a_len < b_len);
}

int void__kvs_below_end(const struct void_kvs_range *r, const uint8_t *key, size_t len)
{
    if (r == NULL || r->end == NULL) {
        return 1;
    }
    return void_kvs_key_compare(key, len, r->end, r->end_len) < 0;
}

int void__kvs_after_start(const struct void_kvs_range *r, const uint8_t *key, size_t len)
{
    if (r == NULL || r->start == NULL) {
        return 1;
    }
    int c = void_kvs_key_compare(key, len, r->start, r->start_len);
    return r->start_after ? c > 0 : c >= 0;
}

void void_kvs_prefix_range(const uint8_t *prefix,
                           size_t prefix_len,
                           uint8_t *end_buf,
                           struct void_kvs_range *range)
{
    VOID_ASSERT(range != NULL && (prefix != NULL || prefix_len == 0));
    memset(range, 0, sizeof(*range));
    range->start = prefix_len > 0 ? prefix : NULL;
    range->start_len = prefix_len;
    /* The end is the prefix with its last byte below 0xff raised by one and
     * what follows cut off; a prefix of only 0xff bytes has no end. */
    size_t n = prefix_len;
    while (n > 0 && prefix[n - 1] == 0xff) {
        n--;
    }
    if (n > 0) {
        VOID_ASSERT(end_buf != NULL);
        memcpy(end_buf, prefix, n);
        end_buf[n - 1]++;
        range->end = end_buf;
        range->end_len = n;
    }
}

int void__kvs_load_fits(const struct void_hlc_ts *prev,
                        struct void_hlc_ts hlc,
                        int deleted,
                        struct void_hlc_ts horizon)
{
    /* At the horizon itself is allowed: a batch that compacts to its own
     * stamp may write after the compaction, and those writes stay until the
     * next compaction (docs/kvs.md, "Loading"). */
    int before_horizon = void_hlc_compare(hlc, horizon) < 0;
    if (prev != NULL && (void_hlc_compare(hlc, *prev) <= 0 || before_horizon)) {
        return 0;
    }
    /* A tombstone may come first or follow a tombstone: a batch that puts
     * after a tombstone and deletes again leaves two in a row, and the
     * compaction may drop the first with what came before it. */
    return !(deleted && before_horizon);
}

struct void_hlc_ts void__kvs_hlc_next(struct void_hlc_ts t)
{
    if (t.logical == UINT32_MAX) {
        t.wall_ns++;
        t.logical = 0;
    } else {
        t.logical++;
    }
    return t;
}

/* ---- export and import (VKX1) ------------------------------------------------ */

/* An encoder that writes while there is room and counts past it, so a
 * caller whose buffer is too small learns the size it needs. */
struct enc {
    uint8_t *buf;
    size_t cap, len;
    uint32_t nkeys, nclients, nver;
    size_t nver_at; /* where the current key's version count goes */
    size_t klen;
    uint8_t key[VOID_KVS_KEY_MAX]; /* the current key: its versions come in a row */
};

static void enc_put(struct enc *e, const void *p, size_t n)
{
    if (e->len <= e->cap && n <= e->cap - e->len && n > 0) {
        memcpy(e->buf + e->len, p, n);
    }
    e->len += n;
}

static void enc_patch32(struct enc *e, size_t at, uint32_t v)
{
    if (at <= e->cap && e->cap - at >= 4) {
        void_bytes_put_be32(e->buf + at, v);
    }
}

static int enc_version(void *arg, const uint8_t *key, size_t klen, const struct void_kvs_version *v)
{
    struct enc *e = arg;
    VOID_ASSERT(klen > 0 && klen <= VOID_KVS_KEY_MAX && v->value_len <= VOID_KVS_VALUE_MAX);
    if (e->nkeys == 0 || klen != e->klen || memcmp(key, e->key, klen) != 0) {
        if (e->nkeys > 0) {
            enc_patch32(e, e->nver_at, e->nver);
        }
        e->nkeys++;
        e->nver = 0;
        memcpy(e->key, key, klen);
        e->klen = klen;
        uint8_t b[2];
        void_bytes_put_be16(b, (uint16_t)klen);
        enc_put(e, b, 2);
        enc_put(e, key, klen);
        e->nver_at = e->len;
        enc_put(e, "\0\0\0\0", 4);
    }
    e->nver++;
    uint8_t h[VOID_HLC_ENCODED_SIZE + 5];
    void_hlc_encode(v->hlc, h);
    h[VOID_HLC_ENCODED_SIZE] = v->deleted ? 1 : 0;
    void_bytes_put_be32(h + VOID_HLC_ENCODED_SIZE + 1, (uint32_t)v->value_len);
    enc_put(e, h, sizeof(h));
    enc_put(e, v->value, v->value_len);
    return 0;
}

static int enc_client(void *arg, const struct void_kvs_client *c)
{
    struct enc *e = arg;
    VOID_ASSERT(c->reply_len <= VOID_KVS_REPLY_MAX);
    uint8_t h[16 + VOID_HLC_ENCODED_SIZE + 4];
    void_bytes_put_be64(h, c->id);
    void_bytes_put_be64(h + 8, c->reqno);
    void_hlc_encode(c->last_seen, h + 16);
    void_bytes_put_be32(h + 16 + VOID_HLC_ENCODED_SIZE, (uint32_t)c->reply_len);
    enc_put(e, h, sizeof(h));
    enc_put(e, c->reply, c->reply_len);
    e->nclients++;
    return 0;
}

int void_kvs_encode_partition(struct void_kvs *kvs,
                              struct void_kvs_snap *snap,
                              uint32_t bucket,
                              uint8_t *buf,
                              size_t cap,
                              size_t *len)
{
    VOID_ASSERT(kvs != NULL && len != NULL && (buf != NULL || cap == 0));
    *len = 0;
    if (bucket >= VOID_KVS_BUCKETS) {
        return VOID_EINVAL;
    }
    struct enc *e = calloc(1, sizeof(*e));
    if (e == NULL) {
        return VOID_ENOMEM;
    }
    e->buf = buf;
    e->cap = cap;
    uint8_t head[10] = {0};
    void_bytes_put_be16(head, (uint16_t)bucket);
    enc_put(e, head, sizeof(head));
    int rc = snap != NULL
                 ? void_kvs_snapshot_partition(kvs, snap, bucket, enc_version, enc_client, e)
                 : void_kvs_partition(kvs, bucket, enc_version, enc_client, e);
    if (rc == 0 && e->nkeys > 0) {
        enc_patch32(e, e->nver_at, e->nver);
    }
    enc_patch32(e, 2, e->nkeys);
    enc_patch32(e, 6, e->nclients);
    if (rc == 0 && (e->nkeys > 0 || e->nclients > 0)) {
        *len = e->len;
        rc = e->len <= cap ? 0 : VOID_EFULL;
    }
    free(e);
    return rc;
}

/* A reader over a possibly hostile buffer: every take is bounds-checked. */
struct rd {
    const uint8_t *p;
    size_t left;
};

static int rd_take(struct rd *r, size_t n, const uint8_t **out)
{
    if (n > r->left) {
        return VOID_ETRUNCATED;
    }
    *out = r->p;
    r->p += n;
    r->left -= n;
    return 0;
}

/* The decoder. hashed = 0 is for a second pass over a partition that a
 * first pass checked: it skips the hashing (key order, buckets, digest),
 * which the store does again as it loads, and keeps every bounds check. */
static int decode_partition(const uint8_t *buf,
                            size_t len,
                            struct void_hlc_ts horizon,
                            struct void_hlc_ts last,
                            void_kvs_scan_fn version_fn,
                            void_kvs_client_fn client_fn,
                            void *arg,
                            uint32_t *bucket,
                            uint8_t digest[VOID_KVS_DIGEST_SIZE],
                            int hashed)
{
    VOID_ASSERT(buf != NULL || len == 0);
    VOID_ASSERT(bucket != NULL && digest != NULL);
    struct rd r = {buf, len};
    const uint8_t *q;
    int rc = rd_take(&r, 10, &q);
    if (rc != 0) {
        return rc;
    }
    uint32_t b = void_bytes_get_be16(q), nkeys = void_bytes_get_be32(q + 2),
             nclients = void_bytes_get_be32(q + 6);
    if (b >= VOID_KVS_BUCKETS || (nkeys == 0 && nclients == 0)) {
        return VOID_EBAD_FIELD;
    }
    struct void_kvs_bucket_ctx ctx;
    void_kvs_bucket_init(&ctx, b);
    uint8_t prev[VOID_KVS_DIGEST_SIZE], h[VOID_KVS_DIGEST_SIZE], eh[VOID_KVS_DIGEST_SIZE];
    /* Each loop takes at least one byte per round, so a count larger than
     * the buffer ends in VOID_ETRUNCATED, never in a long loop. */
    for (uint32_t i = 0; i < nkeys; i++) {
        const uint8_t *key;
        if ((rc = rd_take(&r, 2, &q)) != 0) {
            return rc;
        }
        size_t klen = void_bytes_get_be16(q);
        if (klen == 0 || klen > VOID_KVS_KEY_MAX) {
            return VOID_EBAD_LENGTH;
        }
        if ((rc = rd_take(&r, klen, &key)) != 0 || (rc = rd_take(&r, 4, &q)) != 0) {
            return rc;
        }
        uint32_t nver = void_bytes_get_be32(q);
        if (nver == 0) {
            return VOID_EBAD_FIELD;
        }
        if (hashed) {
            void_kvs_key_hash(key, klen, h);
            if (void_kvs_bucket_of(h) != b || (i > 0 && memcmp(h, prev, sizeof(h)) <= 0)) {
                return VOID_EBAD_FIELD;
            }
            memcpy(prev, h, sizeof(h));
        }
        struct void_kvs_version before = {0};
        for (uint32_t j = 0; j < nver; j++) {
            if ((rc = rd_take(&r, VOID_HLC_ENCODED_SIZE + 5, &q)) != 0) {
                return rc;
            }
            struct void_kvs_version v = {void_hlc_decode(q), q[VOID_HLC_ENCODED_SIZE], NULL, 0};
            v.value_len = void_bytes_get_be32(q + VOID_HLC_ENCODED_SIZE + 1);
            if (v.value_len > VOID_KVS_VALUE_MAX) {
                return VOID_EBAD_LENGTH;
            }
            if ((rc = rd_take(&r, v.value_len, &v.value)) != 0) {
                return rc;
            }
            if (v.deleted > 1 || (v.deleted && v.value_len != 0) ||
                void_hlc_compare(v.hlc, last) > 0 ||
                !void__kvs_load_fits(
                    j > 0 ? &before.hlc : NULL, v.hlc, v.deleted, horizon)) {
                return VOID_EBAD_FIELD;
            }
            before = v;
            if (hashed) {
                void_kvs_version_hash(key, klen, v.hlc, v.deleted, v.value, v.value_len, eh);
                void_kvs_bucket_add_version(&ctx, eh);
            }
            if (version_fn != NULL && (rc = version_fn(arg, key, klen, &v)) != 0) {
                return rc;
            }
        }
    }
    for (uint32_t i = 0; i < nclients; i++) {
        if ((rc = rd_take(&r, 16 + VOID_HLC_ENCODED_SIZE + 4, &q)) != 0) {
            return rc;
        }
        struct void_kvs_client c = {void_bytes_get_be64(q),
                                    void_bytes_get_be64(q + 8),
                                    void_hlc_decode(q + 16),
                                    NULL,
                                    void_bytes_get_be32(q + 16 + VOID_HLC_ENCODED_SIZE)};
        if (c.reply_len > VOID_KVS_REPLY_MAX) {
            return VOID_EBAD_LENGTH;
        }
        if ((rc = rd_take(&r, c.reply_len, &c.reply)) != 0) {
            return rc;
        }
        if (void_hlc_compare(c.last_seen, last) > 0) {
            return VOID_EBAD_FIELD;
        }
        if (hashed) {
            void_kvs_client_id_hash(c.id, h);
            if (void_kvs_bucket_of(h) != b || (i > 0 && memcmp(h, prev, sizeof(h)) <= 0)) {
                return VOID_EBAD_FIELD;
            }
            memcpy(prev, h, sizeof(h));
            void_kvs_client_hash(&c, eh);
            void_kvs_bucket_add_client(&ctx, eh);
        }
        if (client_fn != NULL && (rc = client_fn(arg, &c)) != 0) {
            return rc;
        }
    }
    if (r.left != 0) {
        return VOID_EBAD_LENGTH;
    }
    void_kvs_bucket_final(&ctx, digest);
    *bucket = b;
    return 0;
}

int void_kvs_decode_partition(const uint8_t *buf,
                              size_t len,
                              struct void_hlc_ts horizon,
                              struct void_hlc_ts last,
                              void_kvs_scan_fn version_fn,
                              void_kvs_client_fn client_fn,
                              void *arg,
                              uint32_t *bucket,
                              uint8_t digest[VOID_KVS_DIGEST_SIZE])
{
    return decode_partition(
        buf, len, horizon, last, version_fn, client_fn, arg, bucket, digest, 1);
}

static int load_version_fn(void *arg,
                           const uint8_t *key,
                           size_t klen,
                           const struct void_kvs_version *v)
{
    return void_kvs_load_version(arg, key, klen, v);
}

static int load_client_fn(void *arg, const struct void_kvs_client *c)
{
    return void_kvs_load_client(arg, c);
}

int void_kvs_load_partition(struct void_kvs *kvs,
                            const uint8_t *buf,
                            size_t len,
                            struct void_hlc_ts horizon,
                            struct void_hlc_ts last,
                            const uint8_t expect[VOID_KVS_DIGEST_SIZE])
{
    VOID_ASSERT(kvs != NULL);
    uint32_t b;
    uint8_t d[VOID_KVS_DIGEST_SIZE];
    /* Inside a load, stats carry the load's horizon and last: checked at
     * another horizon, a partition could pass here and be refused by the
     * store halfway through. */
    struct void_kvs_stats st;
    void_kvs_stats(kvs, &st);
    if (void_hlc_compare(st.horizon, horizon) != 0 || void_hlc_compare(st.last, last) != 0) {
        return VOID_EINVAL;
    }
    /* Check all of it first, so that a bad partition changes nothing. */
    int rc = void_kvs_decode_partition(buf, len, horizon, last, NULL, NULL, NULL, &b, d);
    if (rc != 0) {
        return rc;
    }
    if (expect != NULL && memcmp(d, expect, sizeof(d)) != 0) {
        return VOID_ECORRUPT;
    }
    if ((rc = void_kvs_load_clear(kvs, b)) != 0) {
        return rc;
    }
    rc = decode_partition(buf, len, horizon, last, load_version_fn, load_client_fn, kvs, &b, d, 0);
    VOID_ASSERT(rc != VOID_ETRUNCATED && rc != VOID_EBAD_LENGTH); /* checked above */
    return rc;
}

int void_kvs_export(struct void_kvs *kvs,
                    struct void_kvs_snap *snap,
                    void_kvs_write_fn write,
                    void *arg)
{
    VOID_ASSERT(kvs != NULL && write != NULL);
    struct void_kvs_stats st;
    uint8_t digest[VOID_KVS_DIGEST_SIZE], d[VOID_KVS_DIGEST_SIZE];
    static const uint8_t zero[VOID_KVS_DIGEST_SIZE] = {0};
    int rc = snap != NULL ? void_kvs_snapshot_digest(kvs, snap, digest) : void_kvs_digest(kvs, digest);
    if (rc != 0) {
        return rc;
    }
    if (snap != NULL) {
        void_kvs_snapshot_stats(kvs, snap, &st);
    } else {
        void_kvs_stats(kvs, &st);
    }
    /* The count goes first: the buckets whose digest is not the empty one. */
    uint32_t count = 0;
    for (uint32_t b = 0; b < VOID_KVS_BUCKETS && rc == 0; b++) {
        rc = snap != NULL ? void_kvs_snapshot_bucket_digest(kvs, snap, b, d)
                          : void_kvs_bucket_digest(kvs, b, d);
        count += memcmp(d, zero, sizeof(d)) != 0;
    }
    uint8_t head[VOID_KVS_EXPORT_HEADER_SIZE];
    memcpy(head, "VKX1", 4);
    void_hlc_encode(st.horizon, head + 4);
    void_hlc_encode(st.last, head + 4 + VOID_HLC_ENCODED_SIZE);
    void_bytes_put_be64(head + 4 + 2 * VOID_HLC_ENCODED_SIZE, st.applied);
    void_bytes_put_be32(head + 12 + 2 * VOID_HLC_ENCODED_SIZE, count);
    if (rc == 0) {
        rc = write(arg, head, sizeof(head));
    }
    size_t cap = 64 * 1024, n = 0;
    uint8_t *buf = rc == 0 ? malloc(8 + cap) : NULL;
    if (rc == 0 && buf == NULL) {
        rc = VOID_ENOMEM;
    }
    uint32_t written = 0;
    for (uint32_t b = 0; b < VOID_KVS_BUCKETS && rc == 0; b++) {
        rc = void_kvs_encode_partition(kvs, snap, b, buf + 8, cap, &n);
        if (rc == VOID_EFULL) {
            uint8_t *nb = realloc(buf, 8 + n);
            if (nb == NULL) {
                rc = VOID_ENOMEM;
                break;
            }
            buf = nb;
            cap = n;
            rc = void_kvs_encode_partition(kvs, snap, b, buf + 8, cap, &n);
        }
        if (rc == 0 && n > 0) {
            void_bytes_put_be64(buf, n);
            rc = write(arg, buf, 8 + n);
            written++;
        }
    }
    free(buf);
    if (rc == 0 && written != count) {
        rc = VOID_EINTERNAL; /* a bucket with entries and the empty digest */
    }
    return rc == 0 ? write(arg, digest, sizeof(digest)) : rc;
}

int void_kvs_import(struct void_kvs *kvs,
                    const uint8_t *buf,
                    size_t len,
                    uint8_t digest[VOID_KVS_DIGEST_SIZE])
{
    VOID_ASSERT(kvs != NULL && (buf != NULL || len == 0));
    struct rd r = {buf, len};
    const uint8_t *q;
    int rc = rd_take(&r, VOID_KVS_EXPORT_HEADER_SIZE, &q);
    if (rc != 0) {
        return rc;
    }
    if (memcmp(q, "VKX1", 4) != 0) {
        return VOID_EBAD_MAGIC;
    }
    struct void_hlc_ts horizon = void_hlc_decode(q + 4),
                       last = void_hlc_decode(q + 4 + VOID_HLC_ENCODED_SIZE);
    uint64_t label = void_bytes_get_be64(q + 4 + 2 * VOID_HLC_ENCODED_SIZE);
    uint32_t count = void_bytes_get_be32(q + 12 + 2 * VOID_HLC_ENCODED_SIZE);
    if (void_hlc_compare(horizon, last) > 0 || count > VOID_KVS_BUCKETS) {
        return VOID_EBAD_FIELD;
    }
    /* The partitions' digests, for the tree once all are checked. */
    uint32_t *list = malloc(((size_t)count + 1) * sizeof(*list));
    uint8_t(*digests)[VOID_KVS_DIGEST_SIZE] = malloc(((size_t)count + 1) * sizeof(*digests));
    struct void__kvs_tree *tree = NULL;
    if (list == NULL || digests == NULL) {
        rc = VOID_ENOMEM;
    }
    const struct rd start = r;
    long prev_b = -1;
    /* Pass 1: check everything and rebuild the digest, changing nothing. */
    for (uint32_t i = 0; i < count && rc == 0; i++) {
        uint32_t b;
        const uint8_t *part = NULL;
        if ((rc = rd_take(&r, 8, &q)) != 0) {
            break;
        }
        uint64_t plen = void_bytes_get_be64(q);
        if (plen > r.left) {
            rc = VOID_ETRUNCATED;
            break;
        }
        rd_take(&r, (size_t)plen, &part);
        uint8_t d[VOID_KVS_DIGEST_SIZE];
        rc = void_kvs_decode_partition(part, (size_t)plen, horizon, last, NULL, NULL, NULL, &b, d);
        if (rc == 0 && (long)b <= prev_b) {
            rc = VOID_EBAD_FIELD; /* buckets out of order, or one twice */
        }
        if (rc == 0) {
            list[i] = b;
            memcpy(digests[i], d, sizeof(d));
            prev_b = (long)b;
        }
    }
    uint8_t want[VOID_KVS_DIGEST_SIZE], got[VOID_KVS_DIGEST_SIZE];
    if (rc == 0 && (rc = rd_take(&r, VOID_KVS_DIGEST_SIZE, &q)) == 0) {
        memcpy(want, q, sizeof(want));
        rc = r.left == 0 ? 0 : VOID_EBAD_LENGTH;
    }
    if (rc == 0 && (tree = malloc(sizeof(*tree))) == NULL) {
        rc = VOID_ENOMEM;
    }
    if (rc == 0) {
        /* The tree starts empty (one hash per level) and takes the
         * partitions' digests: about 12 hashes per partition, not 8191. */
        void__kvs_tree_init(tree);
        void__kvs_tree_set_many(
            tree, list, (const uint8_t(*)[VOID_KVS_DIGEST_SIZE])digests, count);
        void_kvs_root(tree->node[1], horizon, last, got);
        rc = memcmp(got, want, sizeof(got)) == 0 ? 0 : VOID_ECORRUPT;
    }
    free(tree);
    free(list);
    free(digests);
    if (rc != 0) {
        return rc;
    }
    /* Pass 2: load. */
    r = start;
    rc = void_kvs_load_begin(kvs, 1, horizon, last, label);
    if (rc != 0) {
        return rc;
    }
    for (uint32_t i = 0; i < count && rc == 0; i++) {
        uint32_t b;
        uint8_t d[VOID_KVS_DIGEST_SIZE];
        const uint8_t *part = NULL;
        rd_take(&r, 8, &q);
        size_t plen = (size_t)void_bytes_get_be64(q);
        rd_take(&r, plen, &part);
        rc = decode_partition(
            part, plen, horizon, last, load_version_fn, load_client_fn, kvs, &b, d, 0);
    }
    /* The load must end even when the store refused an entry that pass 1
     * took (a bug, not bad input): the state is then reported as wrong. */
    int erc = void_kvs_load_end(kvs);
    rc = rc != 0 ? (erc != 0 ? erc : VOID_EINTERNAL) : erc;
    if (rc == 0) {
        rc = void_kvs_digest(kvs, got);
    }
    if (rc == 0 && memcmp(got, want, sizeof(got)) != 0) {
        rc = VOID_EINTERNAL; /* the store disagrees with the checked stream */
    }
    if (rc == 0 && digest != NULL) {
        memcpy(digest, got, sizeof(got));
    }
    return rc;
}

/* ---- manifests (incremental state transfer) ----------------------------------- */

int void_kvs_manifest(
    struct void_kvs *kvs, struct void_kvs_snap *snap, uint8_t *buf, size_t cap, size_t *len)
{
    VOID_ASSERT(kvs != NULL && buf != NULL && len != NULL);
    static const uint8_t zero[VOID_KVS_DIGEST_SIZE] = {0};
    struct void_kvs_stats st;
    if (snap != NULL) {
        void_kvs_snapshot_stats(kvs, snap, &st);
    } else {
        void_kvs_stats(kvs, &st);
    }
    if (cap < VOID_KVS_MANIFEST_HEADER_SIZE) {
        *len = VOID_KVS_MANIFEST_MAX;
        return VOID_EFULL;
    }
    memcpy(buf, "VKM1", 4);
    void_hlc_encode(st.horizon, buf + 4);
    void_hlc_encode(st.last, buf + 4 + VOID_HLC_ENCODED_SIZE);
    void_bytes_put_be64(buf + 4 + 2 * VOID_HLC_ENCODED_SIZE, st.applied);
    size_t off = VOID_KVS_MANIFEST_HEADER_SIZE;
    uint16_t count = 0;
    for (uint32_t b = 0; b < VOID_KVS_BUCKETS; b++) {
        uint8_t d[VOID_KVS_DIGEST_SIZE];
        int rc = snap != NULL ? void_kvs_snapshot_bucket_digest(kvs, snap, b, d)
                              : void_kvs_bucket_digest(kvs, b, d);
        if (rc != 0) {
            return rc;
        }
        if (memcmp(d, zero, sizeof(d)) == 0) {
            continue;
        }
        if (off + 2 + VOID_KVS_DIGEST_SIZE > cap) {
            *len = VOID_KVS_MANIFEST_MAX;
            return VOID_EFULL;
        }
        void_bytes_put_be16(buf + off, (uint16_t)b);
        memcpy(buf + off + 2, d, VOID_KVS_DIGEST_SIZE);
        off += 2 + VOID_KVS_DIGEST_SIZE;
        count++;
    }
    void_bytes_put_be16(buf + 12 + 2 * VOID_HLC_ENCODED_SIZE, count);
    VOID_ASSERT(off == VOID_KVS_MANIFEST_HEADER_SIZE + (size_t)count * (2 + VOID_KVS_DIGEST_SIZE));
    *len = off;
    return 0;
}

int void_kvs_manifest_check(const uint8_t *buf,
                            size_t len,
                            struct void_kvs_manifest *m,
                            uint8_t digest[VOID_KVS_DIGEST_SIZE])
{
    VOID_ASSERT(m != NULL && digest != NULL && (buf != NULL || len == 0));
    static const uint8_t zero[VOID_KVS_DIGEST_SIZE] = {0};
    if (len < VOID_KVS_MANIFEST_HEADER_SIZE) {
        return VOID_ETRUNCATED;
    }
    if (memcmp(buf, "VKM1", 4) != 0) {
        return VOID_EBAD_MAGIC;
    }
    m->horizon = void_hlc_decode(buf + 4);
    m->last = void_hlc_decode(buf + 4 + VOID_HLC_ENCODED_SIZE);
    m->label = void_bytes_get_be64(buf + 4 + 2 * VOID_HLC_ENCODED_SIZE);
    uint32_t count = void_bytes_get_be16(buf + 12 + 2 * VOID_HLC_ENCODED_SIZE);
    if (void_hlc_compare(m->horizon, m->last) > 0 || count > VOID_KVS_BUCKETS) {
        return VOID_EBAD_FIELD;
    }
    if (len != VOID_KVS_MANIFEST_HEADER_SIZE + (size_t)count * (2 + VOID_KVS_DIGEST_SIZE)) {
        return len < VOID_KVS_MANIFEST_HEADER_SIZE + (size_t)count * (2 + VOID_KVS_DIGEST_SIZE)
                   ? VOID_ETRUNCATED
                   : VOID_EBAD_LENGTH;
    }
    struct void__kvs_tree *tree = malloc(sizeof(*tree));
    if (tree == NULL) {
        return VOID_ENOMEM;
    }
    /* Every bucket the manifest does not list is empty; the listed ones are
     * strictly increasing and not the empty digest, so each state has one
     * manifest. The whole tree is rehashed (8,191 hashes, a few ms). */
    memset(m->digest, 0, sizeof(m->digest));
    const uint8_t *p = buf + VOID_KVS_MANIFEST_HEADER_SIZE;
    long prev = -1;
    int rc = 0;
    for (uint32_t i = 0; i < count && rc == 0; i++, p += 2 + VOID_KVS_DIGEST_SIZE) {
        uint32_t b = void_bytes_get_be16(p);
        if (b >= VOID_KVS_BUCKETS || (long)b <= prev ||
            memcmp(p + 2, zero, VOID_KVS_DIGEST_SIZE) == 0) {
            rc = VOID_EBAD_FIELD;
            break;
        }
        memcpy(m->digest[b], p + 2, VOID_KVS_DIGEST_SIZE);
        prev = (long)b;
    }
    if (rc == 0) {
        for (uint32_t b = 0; b < VOID_KVS_BUCKETS; b++) {
            memcpy(tree->digest[b], m->digest[b], VOID_KVS_DIGEST_SIZE);
        }
        void__kvs_tree_rebuild(tree);
        void_kvs_root(tree->node[1], m->horizon, m->last, digest);
    }
    free(tree);
    return rc;
}
