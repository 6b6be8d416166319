/*
 * Durable store of a replica's persisted records (the PERSIST effects of the
 * PBFT core: view, log entries, stable checkpoint with its state snapshot) in
 * an append-only record log under the node's data directory.
 *
 * A record is named by (kind, key) and a write replaces the previous record of
 * the same name. void_pstore_write appends a group of operations as one framed,
 * checksummed entry to the current segment file and makes it durable with one
 * fdatasync, so when it returns 0 the records are on disk: the driver calls it
 * before it performs the effects that follow them. A group is all or nothing
 * after a crash. Segments are preallocated (zero-filled or recycled), so that
 * fdatasync writes data only, no file-size metadata.
 *
 * The store also keeps the live records in memory. When a segment is full it
 * is compacted: a fresh segment starting with every live record is written and
 * synced, then the old one is retired (kept as the spare for the next
 * compaction, with its descriptor open: a compaction opens no file). Opening replays the newest segment whose first entry is intact,
 * drops a torn last entry (a write cut short by a crash; counted in
 * count_torn), refuses corruption before the end (VOID_ECORRUPT) and a segment
 * that is shorter than it was preallocated or holds bytes after its last entry
 * that are neither zero fill, a recycled file's old frames nor the torn entry
 * (VOID_EDAMAGED), and compacts once. It never repairs damage by dropping
 * entries: a replica must not forget records it may have acknowledged (see
 * pstore.c). The on-disk format is described in docs/operations.md.
 */
#ifndef VOID_PSTORE_H
#define VOID_PSTORE_H

#include <stddef.h>
#include <stdint.h>

#define VOID_PSTORE_SEGMENT_SIZE_DEF (16u << 20) /* bytes per segment file */
#define VOID_PSTORE_SEGMENT_SIZE_MIN 4096u

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

struct void_pstore_config {
    size_t segment_size; /* 0: VOID_PSTORE_SEGMENT_SIZE_DEF; else at least _MIN */
};

struct void__pstore_slot; /* a live record in memory (pstore.c) */

struct void_pstore {
    int open;
    int failed;   /* a write failed: memory may be ahead of the disk */
    int pressure; /* a compaction lacked descriptors: the next write compacts */
    int dir_fd;
    int fd;       /* the current segment */
    int spare_fd; /* the spare segment, kept open for the next compaction; -1 none */
    char *dir;
    uint64_t segment_size;
    uint64_t segment;                /* number of the current segment */
    uint64_t frame_seq;              /* sequence number of the next frame in it */
    uint64_t offset;                 /* where the next frame goes */
    uint64_t file_size;              /* of the current segment */
    struct void__pstore_slot *slots; /* sorted by (kind, key) */
    size_t count_slots, cap_slots;
    uint8_t *buf; /* frame being encoded */
    size_t buf_cap;
    uint64_t count_commits; /* synchronous commits, for metrics */
    uint64_t count_bytes;   /* frame bytes written, compactions included */
    uint64_t count_ns;      /* wall time spent in void_pstore_write */
    uint64_t count_compactions;
    uint64_t count_torn;     /* torn last entries dropped when opening */
    uint64_t count_pressure; /* writes refused with VOID_EPRESSURE */
};

/* Opens (creating if needed) the store in directory dir, which is created
 * with mode 0700 if missing; config may be NULL for the defaults. dir is
 * copied. On failure errbuf (may be NULL) says why. Errors: VOID_EIO (cannot
 * create, read or write; or dir holds the LMDB store of an older version),
 * VOID_ECORRUPT (an entry before the end of the log, or every segment's first
 * entry, fails its checksum), VOID_EDAMAGED (the newest segment is truncated
 * or holds garbage after its last entry; errbuf names the file, the damage
 * and what to do), VOID_ENOSPC, VOID_ENOMEM, VOID_EINVAL (bad config). void_pstore_close is safe
 * after a failure. Only one process may open a directory at a time; the caller ensures it. */
int void_pstore_open(struct void_pstore *s,
                     const char *dir,
                     const struct void_pstore_config *config,
                     char *errbuf,
                     size_t errcap);

/* Closes the files and frees memory. Cannot fail. */
void void_pstore_close(struct void_pstore *s);

/* Applies ops[0..count) atomically and durably. Returns 0, VOID_EINVAL (bad
 * op; nothing is changed), VOID_EPRESSURE (out of file descriptors while
 * starting a new segment: nothing of ops is durable yet, nothing is left
 * half done on disk, and the store stays usable: call again with the same
 * ops once descriptors are free; a later successful write also makes these
 * ops durable), VOID_ENOSPC (disk full), VOID_ENOMEM or VOID_EIO. After any
 * other error the store refuses further writes with VOID_EIO: close it;
 * opening again recovers what is on disk. */
int void_pstore_write(struct void_pstore *s, const struct void_pstore_op *ops, size_t count);

/* Reads every record, ordered by (kind, key), into a newly allocated array
 * *out of *count entries whose data lives in the same allocation: release
 * it with free(*out). Returns 0 or VOID_ENOMEM. */
int void_pstore_read_all(struct void_pstore *s, struct void_pstore_rec **out, size_t *count);

#endif
