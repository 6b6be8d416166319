/*
 * Internals shared by the files of the CAS store (src/store/cas*.c): the
 * block record format inside LMDB, reference counting and usage counters.
 * Each helper works inside a transaction its caller owns.
 */
#ifndef VOID_STORE_CAS_INT_H
#define VOID_STORE_CAS_INT_H

#include "void/cas.h"

#include <lmdb.h>
#include <stdint.h>

/* Record in the "blocks" database, keyed by the 32-byte hash:
 *   0 u8 record version (1)   1 u8 kind   2 u8 flags   3 u8 zero
 *   4 u32 raw length (big-endian)   8.. payload (zstd frame if flagged) */
#define VOID__CAS_RECORD_HEADER   8u
#define VOID__CAS_RECORD_VERSION  1u
#define VOID__CAS_FLAG_ZSTD       1u
#define VOID__CAS_FLAG_PACKED     2u          /* payload is a locator into a pack file */
#define VOID__CAS_WRITEBACK_BYTES (16u << 20) /* start writeback every 16 MiB */
#define VOID__CAS_LOCATOR         16u         /* u32 pack id, u64 offset, u32 length */
#define VOID__CAS_INLINE_MAX      256u        /* smaller blob payloads stay in LMDB */

/* The appending side of one put's pack file (src/store/cas_pack.c). */
struct void__cas_pack_writer {
    int fd; /* -1 until the first append creates the pack */
    uint32_t id;
    uint32_t id_hint;   /* first id to try */
    uint64_t off;       /* bytes written */
    uint64_t flushed;   /* bytes handed to writeback */
    uint64_t committed; /* bytes referenced by committed transactions */
    int dirty;          /* written since the last sync */
    int broken;         /* a failed write could not be rolled back */
};

/* Opens (creating) DIR/packs; dir_fd is borrowed. */
int void__cas_packs_open(struct void_cas *cas, int dir_fd);
void void__cas_packs_close(struct void_cas *cas);

/* Reads len bytes at off of pack id into out. Returns 0,
 * VOID_ECAS_BAD_RECORD (no such pack, or it is too short) or VOID_EIO. */
int void__cas_pack_read(struct void_cas *cas, uint32_t id, uint64_t off, size_t len, uint8_t *out);

/* Appends data to the writer's pack (created on first use) and returns
 * where it went. Returns 0, VOID_ENOSPC or VOID_EIO. */
int void__cas_pack_append(struct void_cas *cas,
                          struct void__cas_pack_writer *w,
                          const uint8_t *data,
                          size_t len,
                          uint32_t *id,
                          uint64_t *off);

/* fdatasyncs what was appended since the last call. */
int void__cas_pack_sync(struct void__cas_pack_writer *w);
void void__cas_pack_writer_close(struct void__cas_pack_writer *w);

/* After a failed put: drops the bytes no committed transaction references
 * (the whole pack if there are none), so a put that failed for lack of space
 * gives the space back. Best effort. */
void void__cas_pack_discard(struct void_cas *cas, struct void__cas_pack_writer *w);

/* Cuts every pack file down to the end of the last byte a record references
 * (ends[id], for id < n; 0 for any other pack, which is then deleted): what
 * lies beyond is left over from puts that were killed. Only under the
 * exclusive gc lock, with ends computed from every record. Returns the bytes
 * released (with dry_run: that would be released; nothing changes). */
uint64_t void__cas_packs_trim(struct void_cas *cas, const uint64_t *ends, size_t n, int dry_run);

/* Frees the bytes [off, off+len) of pack id (hole punching, best effort). */
void void__cas_pack_punch(struct void_cas *cas, uint32_t id, uint64_t off, uint64_t len);

/* Changes to the usage counters made by one transaction. */
struct void__cas_delta {
    int64_t blocks, raw_bytes, stored_bytes;
};

/* Maps an LMDB or errno code to a VOID_E* code; VOID_E* codes pass. */
int void__cas_err(int rc);

/* Writes the record header for a payload into hdr. */
void void__cas_record_header(uint8_t hdr[VOID__CAS_RECORD_HEADER],
                             uint8_t kind,
                             uint8_t flags,
                             uint32_t raw_len);

/* Decodes record v of block h: reads the payload (from a pack if the record
 * is packed), decompresses, verifies the hash, and returns
 * the raw bytes (malloc'd, caller frees) in *data, *len and the kind.
 * Returns 0, VOID_ECAS_BAD_RECORD, VOID_ECAS_HASH_MISMATCH or VOID_ENOMEM. */
int void__cas_record_decode(struct void_cas *cas,
                            const MDB_val *v,
                            const struct void_hash *h,
                            uint8_t **data,
                            size_t *len,
                            uint8_t *kind);

/* Where the payload of a packed record lives; 0 if v is a packed record,
 * VOID_ECAS_BAD_RECORD if it is not one. */
int void__cas_record_locator(const MDB_val *v, uint32_t *id, uint64_t *off, uint32_t *len);

/* Inserts a block unless present. For a file or directory object, raw must
 * decode and every child must be stored (VOID_ECAS_MISSING otherwise); their
 * refs are incremented. payload is the stored form (raw, or zstd of raw when
 * flags has VOID__CAS_FLAG_ZSTD). Returns 1 if inserted, 0 if present, or an
 * error. */
int void__cas_insert(struct void_cas *cas,
                     MDB_txn *txn,
                     uint8_t kind,
                     const struct void_hash *h,
                     const uint8_t *raw,
                     size_t raw_len,
                     const uint8_t *payload,
                     size_t payload_len,
                     uint8_t flags,
                     struct void__cas_delta *delta);

/* Adds delta (may be negative) to refs(h); *after receives the new value.
 * Returns 0, VOID_ECAS_BAD_RECORD (it would go below zero) or VOID_EIO. */
int void__cas_refs_add(
    struct void_cas *cas, MDB_txn *txn, const struct void_hash *h, int64_t delta, uint64_t *after);

/* Reads refs(h) (0 when absent). Returns 0 or VOID_EIO. */
int void__cas_refs_get(struct void_cas *cas,
                       MDB_txn *txn,
                       const struct void_hash *h,
                       uint64_t *out);

/* Applies delta to the stored usage counters. Returns 0 or an error. */
int void__cas_delta_apply(struct void_cas *cas, MDB_txn *txn, const struct void__cas_delta *delta);

/* Calls fn for every child hash of object (kind, raw) in order. Returns 0,
 * a decoder error for a malformed object, or the first non-zero value fn
 * returns. Blobs have no children. */
int void__cas_children(uint8_t kind,
                       const uint8_t *raw,
                       size_t len,
                       int (*fn)(void *arg, const struct void_hash *child),
                       void *arg);

/* Points pin name at stored block h inside txn (see void_cas_pin). */
int void__cas_pin_txn(struct void_cas *cas,
                      MDB_txn *txn,
                      const char *name,
                      const struct void_hash *h);

/* Takes (exclusive != 0: exclusive) or releases (-1) the gc/put lock. */
int void__cas_lock(struct void_cas *cas, int exclusive);
void void__cas_unlock(struct void_cas *cas);

/* Commits txn without syncing. Returns 0 or an error (VOID_ENOSPC when
 * the disk is full); the txn is gone either way. */
int void__cas_commit(struct void_cas *cas, MDB_txn *txn);

/* Flushes the environment to disk. Returns 0 or an error. */
int void__cas_sync(struct void_cas *cas);

/* Commits txn and syncs the environment to disk. Returns 0 or an error;
 * the txn is gone either way. */
int void__cas_commit_sync(struct void_cas *cas, MDB_txn *txn);

#endif
