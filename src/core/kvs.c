/*
 * What both store implementations share (include/void/kvs.h): the canonical
 * entry hashes, bucket digests and state digest, which must be bit-identical
 * across implementations and replicas, and the small checks and tree
 * bookkeeping in src/core/kvs_int.h. Pure; no allocation.
 */
#include "core/kvs_int.h"
#include "void/assert.h"
#include "void/bytes.h"
#include "void/error.h"
#include "void/hash.h"
#include "void/merkle.h"

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
