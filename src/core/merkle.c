/*
 * RFC 9162 Merkle tree hash and audit paths (include/void/merkle.h).
 */
#include "void/merkle.h"

#include "void/assert.h"
#include "void/error.h"
#include "void/hash.h"

#include <string.h>

void void_merkle_leaf(const uint8_t *data, size_t len, uint8_t out[VOID_MERKLE_HASH_SIZE])
{
    VOID_ASSERT(data != NULL || len == 0);
    static const uint8_t prefix = 0x00;
    struct void_hash_ctx h;
    void_hash_init(&h);
    void_hash_update(&h, &prefix, 1);
    void_hash_update(&h, data, len);
    void_hash_final(&h, out);
}

static void node_hash(const uint8_t *left, const uint8_t *right, uint8_t out[VOID_MERKLE_HASH_SIZE])
{
    uint8_t buf[1 + 2 * VOID_MERKLE_HASH_SIZE];
    buf[0] = 0x01;
    memcpy(buf + 1, left, VOID_MERKLE_HASH_SIZE);
    memcpy(buf + 1 + VOID_MERKLE_HASH_SIZE, right, VOID_MERKLE_HASH_SIZE);
    void_hash_digest(buf, sizeof(buf), out);
}

/* The largest power of two below n (n >= 2). */
static uint32_t split(uint32_t n)
{
    VOID_ASSERT(n >= 2);
    uint32_t k = 1;
    while (k * 2 < n) {
        k *= 2;
    }
    return k;
}

uint32_t void_merkle_path_len(uint32_t index, uint32_t count)
{
    VOID_ASSERT(index < count && count <= VOID_MERKLE_LEAVES_MAX);
    uint32_t len = 0;
    while (count > 1) {
        uint32_t k = split(count);
        if (index < k) {
            count = k;
        } else {
            index -= k;
            count -= k;
        }
        len++;
    }
    VOID_ASSERT(len <= VOID_MERKLE_PATH_MAX);
    return len;
}

/* MTH(leaves[lo, lo + n)) into out; the subtree sits `depth` levels below
 * the root of the whole tree of `count` leaves. Each leaf's path gets the
 * sibling subtree's hash at each level, deepest first. */
static void build(const uint8_t (*leaves)[VOID_MERKLE_HASH_SIZE],
                  uint32_t count,
                  uint32_t lo,
                  uint32_t n,
                  uint32_t depth,
                  uint8_t *const *paths,
                  uint8_t out[VOID_MERKLE_HASH_SIZE])
{
    VOID_ASSERT(n >= 1 && depth <= VOID_MERKLE_PATH_MAX);
    if (n == 1) {
        memcpy(out, leaves[lo], VOID_MERKLE_HASH_SIZE);
        return;
    }
    uint32_t k = split(n);
    uint8_t left[VOID_MERKLE_HASH_SIZE];
    uint8_t right[VOID_MERKLE_HASH_SIZE];
    build(leaves, count, lo, k, depth + 1, paths, left);
    build(leaves, count, lo + k, n - k, depth + 1, paths, right);
    for (uint32_t i = lo; paths != NULL && i < lo + n; i++) {
        if (paths[i] != NULL) {
            /* Path entries run from the leaf up: this level is entry
             * path_len - 1 - depth of leaf i. */
            uint32_t at = void_merkle_path_len(i, count) - 1 - depth;
            memcpy(paths[i] + (size_t)at * VOID_MERKLE_HASH_SIZE,
                   i < lo + k ? right : left,
                   VOID_MERKLE_HASH_SIZE);
        }
    }
    node_hash(left, right, out);
}

void void_merkle_build(const uint8_t (*leaves)[VOID_MERKLE_HASH_SIZE],
                       uint32_t count,
                       uint8_t *const *paths,
                       uint8_t root[VOID_MERKLE_HASH_SIZE])
{
    VOID_ASSERT(leaves != NULL && root != NULL);
    VOID_ASSERT(count >= 1 && count <= VOID_MERKLE_LEAVES_MAX);
    build(leaves, count, 0, count, 0, paths, root);
}

int void_merkle_root_from_path(const uint8_t leaf[VOID_MERKLE_HASH_SIZE],
                               uint32_t index,
                               uint32_t count,
                               const uint8_t *path,
                               uint32_t path_len,
                               uint8_t root[VOID_MERKLE_HASH_SIZE])
{
    VOID_ASSERT(leaf != NULL && root != NULL && (path != NULL || path_len == 0));
    if (count == 0 || count > VOID_MERKLE_LEAVES_MAX || index >= count ||
        path_len != void_merkle_path_len(index, count)) {
        return VOID_EBAD_FIELD;
    }
    /* RFC 9162, 2.1.3.2: fn walks the leaf's position up, sn the last
     * position at each level; a left child with no right sibling (fn == sn)
     * is carried up unhashed. */
    uint32_t fn = index;
    uint32_t sn = count - 1;
    uint8_t r[VOID_MERKLE_HASH_SIZE];
    memcpy(r, leaf, VOID_MERKLE_HASH_SIZE);
    for (uint32_t i = 0; i < path_len; i++) {
        const uint8_t *p = path + (size_t)i * VOID_MERKLE_HASH_SIZE;
        VOID_ASSERT(sn != 0); /* path_len matched the position */
        if ((fn & 1) || fn == sn) {
            node_hash(p, r, r);
            while (!(fn & 1) && fn != 0) {
                fn >>= 1;
                sn >>= 1;
            }
        } else {
            node_hash(r, p, r);
        }
        fn >>= 1;
        sn >>= 1;
    }
    VOID_ASSERT(sn == 0);
    memcpy(root, r, VOID_MERKLE_HASH_SIZE);
    return 0;
}
