/*
 * Durable store of a replica's persisted records (the PERSIST effects of the
 * PBFT core: view, log entries, stable checkpoint with its state snapshot) in
 * LMDB under the node's data directory.
 *
 * A record is named by (kind, key) and a write replaces the previous record of
 * the same name. void_pstore_write applies a group of operations in one LMDB
 * transaction whose commit is synchronous (the environment is opened without
 * MDB_NOSYNC / MDB_NOMETASYNC), so when it returns 0 the records are on disk:
 * the driver calls it before it performs the effects that follow them.
 */
#ifndef VOID_PSTORE_H
#define VOID_PSTORE_H

#include <stddef.h>
#include <stdint.h>

#define VOID_PSTORE_MAP_SIZE_DEF (1ull << 30) /* 1 GiB of address space, not disk */

enum void_pstore_op_kind {
    VOID_PSTORE_PUT = 1,        /* store data under (kind, key), replacing */
    VOID_PSTORE_DELETE_UPTO = 2 /* delete every record of kind with key <= key */
};

struct void_pstore_op {
    uint8_t op;   /* enum void_pstore_op_kind */
    uint8_t kind; /* the caller's record kind, 1..255 */
    uint64_t key;
    const uint8_t *data; /* borrowed for the call */
    size_t len;
};

/* A record read back; data is owned by the array returned by read_all. */
struct void_pstore_rec {
    uint8_t kind;
    uint64_t key;
    const uint8_t *data;
    size_t len;
};

struct void_pstore {
    void *env; /* MDB_env * */
    unsigned dbi;
    int open;
    uint64_t count_commits; /* synchronous commits, for metrics */
    uint64_t count_bytes;
    uint64_t count_ns; /* wall time spent in void_pstore_write, for metrics */
};

/* Opens (creating if needed) the store in directory dir, which is created
 * with mode 0700 if missing. On failure errbuf (may be NULL) says why.
 * Errors: VOID_EIO (cannot create or open; errbuf has the cause), VOID_EBUSY
 * (another process holds it). void_pstore_close is safe after a failure. */
int void_pstore_open(struct void_pstore *s, const char *dir, char *errbuf, size_t errcap);

/* Closes the environment. Cannot fail. */
void void_pstore_close(struct void_pstore *s);

/* Applies ops[0..count) atomically and durably. Returns 0, VOID_EINVAL (bad
 * op), VOID_ENOSPC (map or disk full) or VOID_EIO. */
int void_pstore_write(struct void_pstore *s, const struct void_pstore_op *ops, size_t count);

/* Reads every record, ordered by (kind, key), into a newly allocated array
 * *out of *count entries whose data lives in the same allocation: release
 * it with free(*out). Returns 0, VOID_ENOMEM or VOID_EIO. */
int void_pstore_read_all(struct void_pstore *s, struct void_pstore_rec **out, size_t *count);

#endif
