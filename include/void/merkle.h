/*
 * Merkle tree hash and audit paths of RFC 9162 (Certificate Transparency
 * v2), section 2.1, over SHA-256:
 *
 *   leaf  = SHA-256(0x00 || data)
 *   node  = SHA-256(0x01 || left || right)
 *   MTH(D[n]) = MTH(D[0:k]) and MTH(D[k:n]) under a node, with k the largest
 *               power of two below n; MTH of one leaf is its leaf hash.
 *
 * A replica signs the root over the replies of a batch once, and each reply
 * carries its audit path (docs/wire.md, REPLY), so that n replies cost one
 * signature instead of n. The prefixes keep a leaf from passing for a node.
 * Pure; no allocation.
 */
#ifndef VOID_MERKLE_H
#define VOID_MERKLE_H

#include <stddef.h>
#include <stdint.h>

#define VOID_MERKLE_HASH_SIZE  32
#define VOID_MERKLE_LEAVES_MAX 65535u /* a u16 count on the wire */
#define VOID_MERKLE_PATH_MAX   16     /* hashes in the path of a tree that size */

/* The leaf hash of data[0..len) (data may be NULL when len is 0). Cannot
 * fail. */
void void_merkle_leaf(const uint8_t *data, size_t len, uint8_t out[VOID_MERKLE_HASH_SIZE]);

/* The number of hashes in the audit path of leaf `index` of a tree of
 * `count` leaves (0 for a one-leaf tree). index < count <= LEAVES_MAX. */
uint32_t void_merkle_path_len(uint32_t index, uint32_t count);

/* Computes the root of the `count` leaves (1..LEAVES_MAX) into root, and,
 * when paths is not NULL, writes the audit path of leaf i, from the leaf's
 * sibling up to the root's child, to paths[i] (room for
 * void_merkle_path_len(i, count) hashes; a NULL paths[i] skips that leaf).
 * Makes count - 1 node hashes. Cannot fail. */
void void_merkle_build(const uint8_t (*leaves)[VOID_MERKLE_HASH_SIZE],
                       uint32_t count,
                       uint8_t *const *paths,
                       uint8_t root[VOID_MERKLE_HASH_SIZE]);

/* The root implied by a leaf hash at `index` of `count` leaves and its audit
 * path of path_len hashes (RFC 9162, 2.1.3.2). Returns 0, or VOID_EBAD_FIELD
 * when index >= count, count is 0 or over LEAVES_MAX, or path_len is not the
 * path length of that position. */
int void_merkle_root_from_path(const uint8_t leaf[VOID_MERKLE_HASH_SIZE],
                               uint32_t index,
                               uint32_t count,
                               const uint8_t *path,
                               uint32_t path_len,
                               uint8_t root[VOID_MERKLE_HASH_SIZE]);

#endif
