/*
 * The persisted causal event log (docs/causality.md, "Persistence"): the
 * 72-byte records of include/void/causal.h in an LMDB environment of their
 * own, keyed by a 64-bit number in the order they were recorded (a node's
 * own log: its event seq; a recorded DAG: its acceptance order), with a
 * retention window by age (the event's HLC wall time) and by size.
 *
 * Compaction only ever removes a prefix (the oldest keys), so the window is
 * the contiguous key range [first, last]: anything at or above `first` that
 * was appended is still there, and a key below it is known to be gone.
 *
 * I/O: this is a store (src/store), not a core: it does file I/O but reads
 * no clock; the caller gives compaction its cut-off time. Not thread-safe:
 * the caller serialises calls (LMDB itself allows one writer).
 */
#ifndef VOID_CAUSAL_LOG_H
#define VOID_CAUSAL_LOG_H

#include "void/causal.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct void_causal_log_config {
    /* Size window: compaction keeps the B+tree at or below this many bytes
     * (0: no size limit). The map is sized for twice this plus slack. */
    uint64_t max_bytes;
    /* fsync every commit (1), or leave writing back to the OS (0, the
     * default: a crash of the process loses nothing, a power cut the tail). */
    int sync;
};

struct void_causal_log {
    void *env;    /* MDB_env */
    unsigned dbi; /* MDB_dbi */
    uint64_t map_bytes;
    uint64_t max_bytes;
    uint64_t count_appended;
    uint64_t count_commits; /* write transactions of void_causal_log_append that committed */
    uint64_t count_compacted; /* records removed by compaction */
};

/* Opens (creating dir and the environment if needed) the log in dir.
 * Returns 0, VOID_EINVAL, VOID_EPERM, VOID_ENOMEM, VOID_ECORRUPT or
 * VOID_EIO. void_causal_log_close is safe after a failure. */
int void_causal_log_open(struct void_causal_log *l,
                         const char *dir,
                         const struct void_causal_log_config *cfg);
void void_causal_log_close(struct void_causal_log *l);

/* Appends n records (n * VOID_CAUSAL_RECORD_SIZE bytes) under keys[i] >= 1,
 * in one transaction. Returns 0, VOID_ENOSPC (map full: compact first) or
 * VOID_EIO; on error nothing is written. */
int void_causal_log_append(struct void_causal_log *l,
                           const uint64_t *keys,
                           const uint8_t *records,
                           size_t n);

/* The record under key, decoded. Returns 0, VOID_ENOTFOUND, VOID_ECORRUPT
 * (a record that does not decode) or VOID_EIO. */
int void_causal_log_get(struct void_causal_log *l, uint64_t key, struct void_causal_event *ev);

/* The window: first and last key and the number of records (all 0 when
 * empty). Returns 0 or VOID_EIO. */
int void_causal_log_bounds(struct void_causal_log *l,
                           uint64_t *first,
                           uint64_t *last,
                           uint64_t *count);

/* Called per record by a scan (the event borrowed for the call); a non-zero
 * return stops the scan. */
typedef int (*void_causal_log_fn)(void *ctx, uint64_t key, const struct void_causal_event *ev);

/* Visits up to max records from the first key >= from upwards (backward:
 * from the last key <= from downwards), in key order, in one read
 * transaction. *visited counts the calls. Returns 0, VOID_ECORRUPT (a
 * record that does not decode; the scan stops there) or VOID_EIO. */
int void_causal_log_scan(struct void_causal_log *l,
                         uint64_t from,
                         bool backward,
                         size_t max,
                         void_causal_log_fn fn,
                         void *ctx,
                         size_t *visited);

/* Removes the oldest records while their HLC wall time is below
 * min_wall_ns, and further while the tree is above the size window. Never
 * removes the newest record. *removed (optional) counts them. Returns 0,
 * VOID_ECORRUPT or VOID_EIO. */
int void_causal_log_compact(struct void_causal_log *l, uint64_t min_wall_ns, uint64_t *removed);

/* Bytes of the B+tree (its pages), what the size window bounds. */
int void_causal_log_used(struct void_causal_log *l, uint64_t *bytes);

#endif
