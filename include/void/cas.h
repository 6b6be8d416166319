/*
 * The content-addressable store of one node: an LMDB environment in a
 * directory holding blocks named by the SHA-256 of their (uncompressed)
 * bytes, reference counts, named pins and usage counters, plus append-only
 * pack files (DIR/packs) with the payloads of the larger chunks. Formats of the
 * blocks are in include/void/casobj.h; the on-disk layout and the
 * guarantees below are in docs/cas-format.md.
 *
 * Reference counts. refs(h) = number of pins naming h + number of
 * occurrences of h among the children of the file and directory objects
 * stored. A blob or object nobody references has refs 0 and is garbage:
 * `void_cas_gc` deletes it and, recursively, children that drop to 0.
 * Each write transaction keeps this invariant, so a process killed at any
 * point (kill -9) leaves a consistent store: at worst, blocks of an
 * unfinished put remain with refs 0 until the next gc, and re-running the
 * put completes it (blocks already present are skipped).
 *
 * Processes. Opening a store takes a flock(2) on DIR/store.lock for as long
 * as it stays open, and writes the opener's pid into it: exclusive by
 * default, for a program that owns the store (voidd: the names keeping its
 * blocks alive are in the replicated state, so nobody may put, pin or gc
 * beside it), or shared when config->shared is set (voidctl store: any number
 * of such tools at once, coordinated as below). An open that cannot get the
 * lock fails at once with VOID_ECAS_LOCKED and names the holder's pid in
 * cas->error, rather than waiting or writing into a store another process
 * owns.
 *
 * Concurrency. LMDB serialises writers and lets readers run beside them,
 * across threads and processes. A put writes its chunks before the object
 * that references them, in separate transactions, so a gc in between would
 * free them; puts therefore hold a shared flock(2) on DIR/gc.lock and gc an
 * exclusive one: gc waits for running puts to finish and puts started
 * during a gc wait for it. The lock dies with its process.
 *
 * Durability. The environment runs with MDB_NOSYNC and every operation
 * that changes the store (put, pin, unpin, gc) ends with mdb_env_sync before
 * it returns success.
 *
 * Integrity. Every read of a block re-hashes it and returns
 * VOID_ECAS_HASH_MISMATCH if the bytes are not those named.
 *
 * A struct void_cas is used by one thread at a time; ingest spreads its
 * hashing and compression over worker threads internally. One exception, for
 * the daemon's block writer thread: void_cas_has and void_cas_get_block may
 * run on one thread while void_cas_put_blocks runs on another (LMDB readers
 * do not wait for the writer; they see what committed before they began).
 */
#ifndef VOID_CAS_H
#define VOID_CAS_H

#include "void/casobj.h"
#include "void/cdc.h"
#include "void/hash.h"

#include <lmdb.h>
#include <stddef.h>
#include <stdint.h>

#define VOID_CAS_FORMAT       1            /* value of meta "format" */
#define VOID_CAS_MAP_SIZE     (1ull << 40) /* LMDB map: 1 TiB of address space */
#define VOID_CAS_PIN_NAME_MAX 255
#define VOID_CAS_OWNER_MAX    64
#define VOID_CAS_DEPTH_MAX    256 /* deepest directory tree put or got */
#define VOID_CAS_ERROR_MAX    512 /* struct void_cas error, with its NUL */

struct void_cas {
    MDB_env *env;
    MDB_dbi blocks, refs, pins, meta;
    int lock_fd;      /* DIR/gc.lock: puts shared, gc exclusive, per operation */
    int owner_fd;     /* DIR/store.lock: held while the store is open */
    int packs_fd;     /* DIR/packs */
    int read_pack_fd; /* last pack read, or -1 */
    uint32_t read_pack_id;
    unsigned threads; /* worker threads for ingest, 0 = inline */
    int zstd_level;
    struct void_cdc cdc;
    uint64_t count_syncs; /* synced commits since init (tests count group commits) */
    /* Why void_cas_init failed, naming the file or the process at fault ("" when
     * it did not fail or has nothing to add to void_strerror). */
    char error[VOID_CAS_ERROR_MAX];
};

/* One block of a void_cas_put_blocks batch. */
struct void_cas_block {
    uint8_t kind;          /* in: VOID_CAS_BLOB, VOID_CAS_FILE or VOID_CAS_DIR */
    const uint8_t *data;   /* in: the block bytes, borrowed for the call */
    size_t len;            /* in */
    struct void_hash hash; /* out: SHA-256 of data (its name) */
    int rc;                /* out: 0 stored (or already present), or why not */
};

struct void_cas_config {
    int create;       /* create DIR and the store if absent */
    unsigned threads; /* ingest workers; 0 picks the number of CPUs */
    /* Chunk sizes of a new store (an existing store keeps its own); zero
     * fields pick the defaults. */
    struct void_cdc_config cdc;
    int zstd_level; /* 0 picks the default (5) */
    /* Take DIR/store.lock shared (tools that cooperate through gc.lock, such
     * as voidctl cas) instead of exclusive (0, the default: the store's owner,
     * such as voidd). Shared and exclusive openers exclude each other. */
    int shared;
};

/* Store-wide counters. */
struct void_cas_stats {
    uint64_t blocks;        /* blocks stored (blobs + objects) */
    uint64_t raw_bytes;     /* their uncompressed bytes */
    uint64_t stored_bytes;  /* bytes of their stored records (compressed) */
    uint64_t pins;          /* named pins */
    uint64_t logical_bytes; /* total file bytes of all pinned trees */
};

/* Progress of a long put or get: bytes done so far, and total (0 if
 * unknown). Called from the calling thread. */
typedef void (*void_cas_progress_fn)(void *arg, uint64_t done, uint64_t total);

struct void_cas_put_result {
    struct void_hash root;
    uint8_t kind;                              /* VOID_CAS_FILE or VOID_CAS_DIR */
    uint64_t logical_bytes;                    /* file bytes read */
    uint64_t new_bytes;                        /* raw bytes of blocks that were new */
    uint64_t stored_bytes;                     /* their stored size (compressed) */
    uint64_t files, dirs, symlinks, skipped;   /* skipped: sockets, fifos, devices */
    char error_name[VOID_CASOBJ_NAME_MAX + 1]; /* on failure: the entry at fault, or "" */
};

struct void_cas_fsck_result {
    uint64_t blocks;        /* blocks checked */
    uint64_t corrupted;     /* unreadable, malformed or not matching their hash */
    uint64_t missing;       /* referenced (by an object or pin) but absent */
    uint64_t bad_refcounts; /* stored refcount differs from the recomputed one */
    uint64_t unreferenced;  /* refs 0: garbage that gc would collect (not an error) */
};

struct void_cas_gc_result {
    uint64_t blocks_freed;
    uint64_t bytes_freed; /* stored bytes */
};

/* Summary of the tree (or file) named by a hash. */
struct void_cas_tree_stat {
    uint8_t kind; /* VOID_CAS_FILE or VOID_CAS_DIR (or VOID_CAS_BLOB) */
    uint64_t logical_bytes;
    uint64_t files, dirs, symlinks, chunks;
};

/* Reports a problem found by fsck: the block's hash and a message. */
typedef void (*void_cas_fsck_fn)(void *arg, const struct void_hash *h, const char *problem);

/* Visits one directory entry (ls of a directory) or one chunk (ls of a
 * file: type VOID_CAS_BLOB, name NULL). entry is borrowed for the call. */
typedef void (*void_cas_ls_fn)(void *arg, const struct void_casobj_entry *entry);

/* Fills config with defaults (no create, threads = CPUs, default chunk
 * sizes). Cannot fail. */
void void_cas_config_default(struct void_cas_config *config);

/* Opens the store in directory dir (borrowed), creating it when
 * config->create, and takes its process lock (see Processes above).
 * Returns 0, VOID_ENOTFOUND (dir does not exist), VOID_ECAS_NOT_STORE (dir
 * exists but holds no store, or another format), VOID_ECAS_DAMAGED (dir holds
 * an LMDB file that does not open: damaged), VOID_ECAS_LOCKED (another
 * process holds the store), VOID_EPERM, VOID_ENOSPC, VOID_EINVAL (bad chunk
 * sizes) or VOID_EIO. On VOID_ECAS_DAMAGED and VOID_ECAS_LOCKED, cas->error
 * says which file or which pid and what to do. void_cas_fini is safe after a
 * failure. */
int void_cas_init(struct void_cas *cas, const char *dir, const struct void_cas_config *config);

/* Closes the store. Safe on a zeroed or failed-init struct. */
void void_cas_fini(struct void_cas *cas);

/* 1 if a block named h is stored, 0 if not, or VOID_EIO. */
int void_cas_has(struct void_cas *cas, const struct void_hash *h);

/* Reads block h, verifies its hash and returns its bytes in *data (malloc'd,
 * owned by the caller, free() it), length in *len and kind in *kind.
 * Returns 0, VOID_ECAS_MISSING, VOID_ECAS_HASH_MISMATCH,
 * VOID_ECAS_BAD_RECORD, VOID_ENOMEM or VOID_EIO. */
int void_cas_get_block(
    struct void_cas *cas, const struct void_hash *h, uint8_t **data, size_t *len, uint8_t *kind);

/* Stores one block of the given kind (a block fetched from a peer, say)
 * and returns its name in *out. data is borrowed. A file or directory
 * object must decode and all its children must already be stored.
 * Returns 0 (also when it was present), VOID_EINVAL (bad kind), a decoder
 * error, VOID_ECAS_MISSING (a child is absent), VOID_ENOSPC or VOID_EIO. */
int void_cas_put_block(
    struct void_cas *cas, uint8_t kind, const uint8_t *data, size_t len, struct void_hash *out);

/* Stores count blocks, in order, in one write transaction ended by one sync
 * (a group commit): each as void_cas_put_block would, and an object may
 * reference blocks earlier in the same batch. A block that cannot be stored
 * (bad kind, decoder error, a child absent) gets its error in blocks[i].rc
 * and the others are stored all the same. Returns 0 once the transaction is
 * durable; on VOID_ENOSPC, VOID_ENOMEM or VOID_EIO nothing of the batch is
 * stored and every blocks[i].rc holds that code. blocks is borrowed. */
int void_cas_put_blocks(struct void_cas *cas, struct void_cas_block *blocks, size_t count);

/* Ingests the file, directory tree or symlink-free root at path (borrowed):
 * regular files become file objects, directories directory objects
 * (entries sorted, permission bits kept, symlinks stored as links, other
 * file types skipped and counted). Fills *result. progress may be NULL.
 * When pin (borrowed) is not NULL, the root is pinned under that name in
 * the same transaction that completes the put, so no gc can collect it in
 * between (pin separately and a gc may free an unpinned root first).
 * Returns 0, VOID_ENOTFOUND, VOID_EPERM (unreadable), VOID_EINVAL (root is
 * neither file nor directory), VOID_ERANGE (too deep, name too long),
 * VOID_ENOSPC, VOID_ENOMEM or VOID_EIO; on error nothing is pinned and the
 * blocks written so far are garbage for the next gc. Regular files larger
 * than 1 MiB are read through a read-only mapping of the size fstat gives
 * (bytes appended later are not read); as with `git add`, a file truncated
 * by another process while it is read raises SIGBUS, which kills the
 * process like a kill -9: the store stays consistent. */
int void_cas_put_path(struct void_cas *cas,
                      const char *path,
                      const char *pin,
                      void_cas_progress_fn progress,
                      void *progress_arg,
                      struct void_cas_put_result *result);

/* Ingests everything readable from fd (a pipe, say) from its current
 * position on as one file object; fd is borrowed (a duplicate is used, so
 * the caller's descriptor stays open). A regular file positioned at its
 * start is read through a mapping, as in void_cas_put_path. Errors as
 * void_cas_put_path. */
int void_cas_put_fd(struct void_cas *cas,
                    int fd,
                    const char *pin,
                    void_cas_progress_fn progress,
                    void *progress_arg,
                    struct void_cas_put_result *result);

/* Writes the file named by h to fd. Returns 0, VOID_EINVAL (h is a
 * directory), the errors of void_cas_get_block, VOID_ENOSPC or VOID_EIO. */
int void_cas_get_fd(struct void_cas *cas,
                    const struct void_hash *h,
                    int fd,
                    void_cas_progress_fn progress,
                    void *progress_arg);

/* Recreates the file or tree named by h at dest (borrowed), which must not
 * exist. Modes and symlinks are restored. Returns 0, VOID_EEXIST, the
 * errors of void_cas_get_block, VOID_EPERM, VOID_ENOSPC or VOID_EIO. */
int void_cas_get_path(struct void_cas *cas,
                      const struct void_hash *h,
                      const char *dest,
                      void_cas_progress_fn progress,
                      void *progress_arg);

/* Lists the entries of directory h, or the chunks of file h, through fn.
 * Returns 0 or the errors of void_cas_get_block. */
int void_cas_ls(struct void_cas *cas, const struct void_hash *h, void_cas_ls_fn fn, void *arg);

/* Walks the tree named by h and fills *out. Errors as void_cas_get_block,
 * plus VOID_ERANGE for a tree deeper than VOID_CAS_DEPTH_MAX. */
int void_cas_tree_stat(struct void_cas *cas,
                       const struct void_hash *h,
                       struct void_cas_tree_stat *out);

/* Points pin name (1..VOID_CAS_PIN_NAME_MAX bytes, NUL-terminated) at h,
 * replacing an older pin of that name. h must be stored. Returns 0,
 * VOID_EINVAL, VOID_ECAS_MISSING, VOID_ENOSPC or VOID_EIO. */
int void_cas_pin(struct void_cas *cas, const char *name, const struct void_hash *h);

/* Removes pin name. Returns 0, VOID_ENOTFOUND, VOID_EINVAL or VOID_EIO. */
int void_cas_unpin(struct void_cas *cas, const char *name);

/* Calls fn for each pin in name order; name is borrowed for the call.
 * Returns 0 or VOID_EIO. */
int void_cas_pins(struct void_cas *cas,
                  void (*fn)(void *arg, const char *name, const struct void_hash *h),
                  void *arg);

/* Looks up pin name into *out. Returns 0, VOID_ENOTFOUND or VOID_EIO. */
int void_cas_pin_get(struct void_cas *cas, const char *name, struct void_hash *out);

/* Records which program owns the store (1..VOID_CAS_OWNER_MAX bytes,
 * NUL-terminated; "" clears it), synced. voidd marks its replica's store
 * "voidd": the names that keep its blocks alive are committed in the
 * replicated state, not pinned here, so `voidctl store gc` refuses to collect
 * such a store unless forced. Returns 0, VOID_EINVAL or VOID_EIO. */
int void_cas_set_owner(struct void_cas *cas, const char *owner);

/* Copies the owner into out[0..cap) ("" when none was recorded; cap must
 * exceed VOID_CAS_OWNER_MAX). Returns 0, VOID_ECAS_BAD_RECORD or VOID_EIO. */
int void_cas_owner(struct void_cas *cas, char *out, size_t cap);

/* Deletes every block with refs 0, and recursively the children that drop
 * to 0, in one write transaction under the exclusive lock. Never frees a
 * block reachable from a pin. Returns 0, VOID_ECAS_BAD_RECORD (a corrupt
 * object blocks the walk: run fsck), VOID_ENOMEM or VOID_EIO. */
int void_cas_gc(struct void_cas *cas, struct void_cas_gc_result *result);

/* What void_cas_gc would free now (the same walk, in a transaction that is
 * aborted; packs are not touched), in *result. Deletes nothing. Returns as
 * void_cas_gc. */
int void_cas_gc_dry_run(struct void_cas *cas, struct void_cas_gc_result *result);

/* Checks every block (hash, format), every reference (present) and every
 * refcount (recomputed), reporting each problem through fn (may be NULL).
 * Returns 0 when it could walk the store, whatever it found (see *result),
 * else VOID_ENOMEM or VOID_EIO. */
int void_cas_fsck(struct void_cas *cas,
                  struct void_cas_fsck_result *result,
                  void_cas_fsck_fn fn,
                  void *arg);

/* Fills *out with the store counters. Returns 0 or VOID_EIO. */
int void_cas_stats(struct void_cas *cas, struct void_cas_stats *out);

#endif
