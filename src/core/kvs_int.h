/*
 * Private helpers shared by the two implementations of include/void/kvs.h:
 * argument checks, quota costs, the dirty-bucket set of a batch and the
 * in-memory Merkle tree over the bucket digests. Pure.
 */
#ifndef VOID_KVS_INT_H
#define VOID_KVS_INT_H

#include "void/kvs.h"

#include <stddef.h>
#include <stdint.h>

#define VOID__KVS_RESERVE_DIV 8 /* deletes and client writes may go quota/8 beyond */

/* The in-memory Merkle tree: node[1] is the root, node[BUCKETS + b] the leaf
 * hash of bucket b (RFC 9162 leaf of its digest), digest[b] the bucket digest. */
struct void__kvs_tree {
    uint8_t node[2 * VOID_KVS_BUCKETS][VOID_KVS_DIGEST_SIZE];
    uint8_t digest[VOID_KVS_BUCKETS][VOID_KVS_DIGEST_SIZE];
};

/* The buckets a batch touched, each once, in the order first touched. */
struct void__kvs_dirty {
    uint32_t count;
    uint32_t list[VOID_KVS_BUCKETS];
    uint8_t bits[VOID_KVS_BUCKETS / 8];
};

/* Sets every bucket empty (all-zero digest). Cannot fail. */
void void__kvs_tree_init(struct void__kvs_tree *t);

/* Sets bucket b's digest and rehashes its path to the root. Cannot fail. */
void void__kvs_tree_set(struct void__kvs_tree *t,
                        uint32_t b,
                        const uint8_t digest[VOID_KVS_DIGEST_SIZE]);

/* Sets the digests of buckets list[0..n) to digests[0..n) and rehashes each
 * inner node above them once (a batch's dirty buckets share their upper
 * nodes). Cannot fail. */
void void__kvs_tree_set_many(struct void__kvs_tree *t,
                             const uint32_t *list,
                             const uint8_t (*digests)[VOID_KVS_DIGEST_SIZE],
                             uint32_t n);

/* Rehashes every inner node from the leaves (after loading digests). */
void void__kvs_tree_rebuild(struct void__kvs_tree *t);

void void__kvs_dirty_add(struct void__kvs_dirty *d, uint32_t b);
void void__kvs_dirty_clear(struct void__kvs_dirty *d);

/* 0 or VOID_EINVAL for a key of this length. */
int void__kvs_check_key(const uint8_t *key, size_t len);

/* 0 or VOID_EINVAL / VOID_EKVS_TOO_OLD for a range and as_of. */
int void__kvs_check_read(const struct void_kvs_range *r,
                         const struct void_hlc_ts *as_of,
                         struct void_hlc_ts horizon);

static inline uint64_t void__kvs_version_cost(size_t key_len, size_t value_len)
{
    return (uint64_t)key_len + value_len + VOID_KVS_VERSION_OVERHEAD;
}

static inline uint64_t void__kvs_client_cost(size_t reply_len)
{
    return (uint64_t)reply_len + VOID_KVS_CLIENT_OVERHEAD;
}

/* 1 when used - freed + added stays within limit (quota, or quota plus the
 * reserve when reserve is set). */
int void__kvs_fits(uint64_t used, uint64_t freed, uint64_t added, uint64_t quota, int reserve);

/* 1 when key is within range's upper bound end (or there is none). */
int void__kvs_below_end(const struct void_kvs_range *r, const uint8_t *key, size_t len);

/* 1 when key is at or after range's start (per start_after). */
int void__kvs_after_start(const struct void_kvs_range *r, const uint8_t *key, size_t len);

/* 1 when a loaded version stamped hlc (a tombstone when deleted) may follow
 * the key's newest stored version (prev NULL: none) in a state compacted to horizon: stamps increase, a tombstone
 * is not before the horizon, and a version
 * before the horizon has none before it (a compaction would have dropped it). */
int void__kvs_load_fits(const struct void_hlc_ts *prev,
                        struct void_hlc_ts hlc,
                        int deleted,
                        struct void_hlc_ts horizon);

/* The successor of an HLC (the smallest stamp after t). */
struct void_hlc_ts void__kvs_hlc_next(struct void_hlc_ts t);

#endif
