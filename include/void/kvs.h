/*
 * The storage interface of the replicated state (issue 17; docs/kvs.md).
 *
 * In the spirit of canonical/raft's raft_io: a struct of function pointers
 * and an implementation pointer. The state machine core calls only this
 * interface, so it stays pure; the daemon plugs in LMDB
 * (void_kvs_lmdb_open, src/store/kvs_lmdb.c) and the simulator an in-memory
 * store (void_kvs_mem_init, src/core/kvs_mem.c). Both give the same answers
 * and the same digests for the same sequence of calls: tests/store/test_kvs.c
 * checks that against a reference model.
 *
 * What is stored:
 *  - versions: (key, hlc) -> value or tombstone. Every write happens inside a
 *    batch (begin .. commit) and is stamped with the batch's HLC; a read as of
 *    t sees the newest version at or before t.
 *  - the client table: client id -> last request number, reply bytes and the
 *    HLC of the batch that last wrote it (for at-most-once execution), with a
 *    deterministic expiry.
 *  - the horizon: compaction to h keeps the state as of h readable and drops
 *    the history it hides; a read as of t < h answers VOID_EKVS_TOO_OLD.
 *
 * Quota: every version costs key + value + VOID_KVS_VERSION_OVERHEAD bytes,
 * every client entry reply + VOID_KVS_CLIENT_OVERHEAD bytes, whatever the
 * implementation's real layout, so that "full" is the same answer on every
 * replica. A put that would take the total over the quota answers VOID_EFULL
 * and changes nothing. Deletes and client-table writes may go on into a
 * reserve of quota / 8 beyond it (etcd's NOSPACE alarm also lets deletes
 * through), so a full store can always be emptied: delete, compact past the
 * deletes, and puts succeed again.
 *
 * Digest: the versions and clients are split into VOID_KVS_BUCKETS partitions
 * by the first 12 bits of SHA-256 of the key (or client id); each bucket has a
 * SHA-256 digest over its entries in canonical order, recomputed at commit
 * for the buckets the batch touched; the buckets are the leaves of an RFC 9162
 * Merkle tree kept in memory, so a digest costs what changed since the last
 * one, not what exists.
 *
 * Lifetimes: pointers that a read returns (value, reply) point into the
 * store and stay valid until the next call on the same store; scan and
 * partition callbacks get pointers valid during the callback only. Arguments
 * are borrowed for the call. One thread at a time per store.
 *
 * Errors: VOID_EINVAL (key empty or over VOID_KVS_KEY_MAX, value over
 * VOID_KVS_VALUE_MAX, reply over VOID_KVS_REPLY_MAX, a batch HLC not after
 * the last, compaction past the batch), VOID_ENOTFOUND, VOID_EFULL (quota),
 * VOID_EKVS_TOO_OLD (as_of before the horizon); these are deterministic
 * answers that leave the store unchanged. Everything else (VOID_EIO,
 * VOID_ENOSPC, VOID_ENOMEM, VOID_ECORRUPT) is a local failure of this
 * replica's store: the batch is lost, the store answers the same error to
 * every later call, and the caller must stop and recover (reopen, replay the
 * record log or fetch the state).
 */
#ifndef VOID_KVS_H
#define VOID_KVS_H

#include "void/hlc.h"

#include <stddef.h>
#include <stdint.h>

#define VOID_KVS_KEY_MAX          4096u                        /* bytes in a key (at least 1) */
#define VOID_KVS_VALUE_MAX        (1u << 20)                   /* bytes in a value (may be 0) */
#define VOID_KVS_REPLY_MAX        (VOID_KVS_VALUE_MAX + 1024u) /* bytes of a cached reply */
#define VOID_KVS_DIGEST_SIZE      32
#define VOID_KVS_BUCKET_BITS      12
#define VOID_KVS_BUCKETS          (1u << VOID_KVS_BUCKET_BITS) /* digest partitions */
#define VOID_KVS_VERSION_OVERHEAD 64u          /* quota bytes per version beyond key and value */
#define VOID_KVS_CLIENT_OVERHEAD  64u          /* quota bytes per client entry beyond its reply */
#define VOID_KVS_QUOTA_DEF        (2ull << 30) /* 2 GiB, etcd's default backend quota */
#define VOID_KVS_MERKLE_PATH_MAX  VOID_KVS_BUCKET_BITS /* hashes in a bucket's audit path */
#define VOID_KVS_SNAPSHOTS_MAX    4u /* live snapshots per store at once */

/* A frozen committed state (void_kvs_snapshot_take). Opaque; owned by the
 * store that took it. */
struct void_kvs_snap;

/* One version as read. value points into the store (see "Lifetimes"). */
struct void_kvs_version {
    struct void_hlc_ts hlc; /* stamp of the batch that wrote it */
    uint8_t deleted;        /* 1: a tombstone (value empty) */
    const uint8_t *value;
    size_t value_len;
};

/* One client-table entry as read. reply points into the store. */
struct void_kvs_client {
    uint64_t id;
    uint64_t reqno;
    struct void_hlc_ts last_seen; /* HLC of the batch that last wrote the entry */
    const uint8_t *reply;
    size_t reply_len;
};

/* Keys k with start <= k (start < k when start_after) and k < end, in byte
 * order (a shorter key before its extensions). start NULL: from the first
 * key; end NULL: to the last. Resume a paginated scan by passing the last
 * key it gave as start with start_after = 1. */
struct void_kvs_range {
    const uint8_t *start;
    size_t start_len;
    int start_after;
    const uint8_t *end;
    size_t end_len;
};

/* Counters of the committed state (inside a batch: including the batch). */
struct void_kvs_stats {
    uint64_t bytes_used; /* quota bytes (see "Quota") */
    uint64_t quota;
    uint64_t keys;     /* keys with at least one stored version (tombstones included) */
    uint64_t versions; /* stored versions, tombstones included */
    uint64_t clients;
    struct void_hlc_ts horizon; /* reads as of an earlier time answer TOO_OLD */
    struct void_hlc_ts last;    /* HLC of the last committed batch */
    uint64_t applied;           /* label of the last committed batch (void_kvs_begin) */
    /* 1: a load committed part of its work (void_kvs_load_commit) and has
     * not ended: the state mixes two states, is no state the replicas
     * certified, and must be emptied or loaded to the end before it is
     * used (after a crash it stays 1: LMDB keeps the mark on disk). */
    int partial;
};

/* Scan callback: a live key and its version visible at the scan's as_of.
 * Return 0 to go on, anything else to stop (the scan returns it). */
typedef int (*void_kvs_scan_fn)(void *arg,
                                const uint8_t *key,
                                size_t key_len,
                                const struct void_kvs_version *version);

/* Partition callbacks: every stored version (tombstones included) and every
 * client entry of one bucket, in the bucket digest's canonical order. */
typedef int (*void_kvs_client_fn)(void *arg, const struct void_kvs_client *client);

struct void_kvs_ops {
    int (*begin)(void *impl, struct void_hlc_ts hlc, uint64_t label);
    int (*commit)(void *impl);
    int (*put)(void *impl, const uint8_t *key, size_t key_len, const uint8_t *value, size_t len);
    int (*del)(void *impl, const uint8_t *key, size_t key_len);
    int (*get)(void *impl,
               const uint8_t *key,
               size_t key_len,
               const struct void_hlc_ts *as_of,
               struct void_kvs_version *out);
    int (*scan)(void *impl,
                const struct void_kvs_range *range,
                const struct void_hlc_ts *as_of,
                size_t limit,
                void_kvs_scan_fn fn,
                void *arg,
                size_t *emitted,
                int *more);
    int (*compact)(void *impl, struct void_hlc_ts horizon);
    int (*client_put)(void *impl, uint64_t id, uint64_t reqno, const uint8_t *reply, size_t len);
    int (*client_get)(void *impl, uint64_t id, struct void_kvs_client *out);
    int (*client_expire)(void *impl, struct void_hlc_ts older_than, uint64_t *expired);
    int (*partition)(void *impl,
                     uint32_t bucket,
                     void_kvs_scan_fn version_fn,
                     void_kvs_client_fn client_fn,
                     void *arg);
    int (*bucket_digest)(void *impl, uint32_t bucket, uint8_t out[VOID_KVS_DIGEST_SIZE]);
    int (*digest)(void *impl, uint8_t out[VOID_KVS_DIGEST_SIZE]);
    int (*sync)(void *impl);
    void (*stats)(void *impl, struct void_kvs_stats *out);
    void (*close)(void *impl);
    int (*snapshot_take)(void *impl, struct void_kvs_snap **out);
    void (*snapshot_release)(void *impl, struct void_kvs_snap *snap);
    int (*snap_partition)(void *impl,
                          struct void_kvs_snap *snap,
                          uint32_t bucket,
                          void_kvs_scan_fn version_fn,
                          void_kvs_client_fn client_fn,
                          void *arg);
    int (*snap_bucket_digest)(void *impl,
                              struct void_kvs_snap *snap,
                              uint32_t bucket,
                              uint8_t out[VOID_KVS_DIGEST_SIZE]);
    int (*snap_digest)(void *impl, struct void_kvs_snap *snap, uint8_t out[VOID_KVS_DIGEST_SIZE]);
    void (*snap_stats)(void *impl, struct void_kvs_snap *snap, struct void_kvs_stats *out);
    int (*load_begin)(void *impl,
                      int empty,
                      struct void_hlc_ts horizon,
                      struct void_hlc_ts last,
                      uint64_t label);
    int (*load_clear)(void *impl, uint32_t bucket);
    int (*load_version)(void *impl,
                        const uint8_t *key,
                        size_t key_len,
                        const struct void_kvs_version *version);
    int (*load_client)(void *impl, const struct void_kvs_client *client);
    int (*load_end)(void *impl);
    int (*load_commit)(void *impl);
    int (*stage_put)(void *impl,
                     size_t n,
                     const uint16_t *buckets,
                     const uint8_t *const *bufs,
                     const uint32_t *lens);
    int (*stage_get)(void *impl, uint32_t bucket, uint8_t *buf, size_t cap, size_t *len);
    int (*stage_clear)(void *impl);
};

/* A store: the ops table and the implementation's data. Caller-owned. */
struct void_kvs {
    const struct void_kvs_ops *ops;
    void *impl;
};

/* ---- implementations ------------------------------------------------------ */

struct void_kvs_mem_config {
    uint64_t quota; /* 0 means VOID_KVS_QUOTA_DEF */
};

/* Opens an empty in-memory store (pure: no I/O, no clock, no randomness;
 * memory is allocated as entries are written, bounded by the quota plus the
 * reserve). Returns 0 or VOID_ENOMEM. */
int void_kvs_mem_init(struct void_kvs *kvs, const struct void_kvs_mem_config *config);

struct void_kvs_lmdb_config {
    uint64_t quota;       /* 0 means VOID_KVS_QUOTA_DEF; the map size follows from it */
    int create;           /* 1: create the directory's environment if absent */
    int sync_each_commit; /* 0 (default): sync only in void_kvs_sync; see docs/kvs.md */
    uint64_t fault_after; /* test hook: when nonzero, that many-th write of a batch
                             (put, delete or commit in LMDB) fails with VOID_EIO */
};

/* Opens (or with config->create, creates) the LMDB store in directory dir.
 * Returns 0, VOID_EINVAL, VOID_ENOTFOUND (no store there and not create),
 * VOID_EPERM, VOID_ECORRUPT (not a void kvs, or an unknown format), VOID_ENOMEM
 * or VOID_EIO. */
int void_kvs_lmdb_open(struct void_kvs *kvs,
                       const char *dir,
                       const struct void_kvs_lmdb_config *config);

/* Syncs the LMDB store's committed transactions to disk. Unlike void_kvs_sync
 * it may run on another thread while the owner's thread is in a batch (voidd
 * calls it on its disk thread before a CHECKPOINT record goes to the record
 * log, which then truncates the batches the store holds: docs/pbft.md,
 * Recovery). Returns 0 or VOID_EIO. */
int void_kvs_lmdb_flush(struct void_kvs *kvs);

/* A read-only view of an LMDB store's committed state for another thread
 * than the owner's (voidd's HTTP thread answers /trace/state and /trace/diff
 * with it, docs/causality.md): one LMDB read transaction, which sees the
 * last batch committed before void_kvs_lmdb_view_open, all of it and
 * nothing after, whatever the owner does meanwhile. Opaque; the store must
 * outlive it. A view is used by one thread at a time. */
struct void_kvs_view;

/* Called for a key whose state differs between two times: old and new are
 * its live versions then (NULL: absent or deleted). Pointers valid during
 * the call. Return 0 to go on, anything else to stop (the call returns it). */
typedef int (*void_kvs_change_fn)(void *arg,
                                  const uint8_t *key,
                                  size_t key_len,
                                  const struct void_kvs_version *old_version,
                                  const struct void_kvs_version *new_version);

/* Opens a view of kvs (an LMDB store). Any thread. Returns 0, VOID_ENOMEM,
 * VOID_EBUSY (the committed state is partial: a state transfer's install
 * between two of its commits, or cut short by a crash; no answer may come
 * from it), VOID_ECORRUPT or VOID_EIO. */
int void_kvs_lmdb_view_open(struct void_kvs *kvs, struct void_kvs_view **out);

/* The counters of the state the view sees (horizon, last, applied, ...). */
void void_kvs_view_stats(const struct void_kvs_view *v, struct void_kvs_stats *out);

/* void_kvs_scan over the view's state (same arguments and answers). */
int void_kvs_view_scan(struct void_kvs_view *v,
                       const struct void_kvs_range *range,
                       const struct void_hlc_ts *as_of,
                       size_t limit,
                       void_kvs_scan_fn fn,
                       void *arg,
                       size_t *emitted,
                       int *more);

/* Calls fn, in key order, for each key of range whose state as of `to`
 * differs from its state as of `from` (created, deleted, or another value;
 * a key rewritten with the same value, or created and deleted in between,
 * is not a change), at most limit times (0: no limit). Sets *emitted and
 * *more as void_kvs_scan. Returns 0, VOID_EINVAL (from after to, a bad
 * range), VOID_EKVS_TOO_OLD (from before the horizon), a local failure or
 * fn's nonzero answer. */
int void_kvs_view_changes(struct void_kvs_view *v,
                          const struct void_kvs_range *range,
                          struct void_hlc_ts from,
                          struct void_hlc_ts to,
                          size_t limit,
                          void_kvs_change_fn fn,
                          void *arg,
                          size_t *emitted,
                          int *more);

/* Ends the view (NULL: nothing). Cannot fail. */
void void_kvs_view_close(struct void_kvs_view *v);

/* ---- calls ------------------------------------------------------------------ */

/* Starts a write batch stamped hlc (must be after the last batch's) and
 * labelled label (the caller's sequence number, kept in stats.applied).
 * Returns 0 or VOID_EINVAL. */
static inline int void_kvs_begin(struct void_kvs *kvs, struct void_hlc_ts hlc, uint64_t label)
{
    return kvs->ops->begin(kvs->impl, hlc, label);
}

/* Makes the batch's writes durable as one unit (as far as the store's sync
 * policy goes) and updates the digests of the buckets it touched. Returns 0
 * or a local failure. */
static inline int void_kvs_commit(struct void_kvs *kvs)
{
    return kvs->ops->commit(kvs->impl);
}

/* Writes value as the version of key at the batch's HLC (replacing a version
 * the same batch wrote). Inside a batch only. Returns 0, VOID_EINVAL or
 * VOID_EFULL. */
static inline int void_kvs_put(
    struct void_kvs *kvs, const uint8_t *key, size_t key_len, const uint8_t *value, size_t len)
{
    return kvs->ops->put(kvs->impl, key, key_len, value, len);
}

/* Writes a tombstone for key at the batch's HLC. Inside a batch only.
 * Returns 0, VOID_EINVAL, VOID_ENOTFOUND (no live value: nothing written) or
 * VOID_EFULL (beyond the reserve). */
static inline int void_kvs_del(struct void_kvs *kvs, const uint8_t *key, size_t key_len)
{
    return kvs->ops->del(kvs->impl, key, key_len);
}

/* The newest version of key at or before *as_of (as_of NULL: the newest),
 * tombstones included (out->deleted). Returns 0, VOID_EINVAL, VOID_ENOTFOUND
 * (no version then) or VOID_EKVS_TOO_OLD. */
static inline int void_kvs_get(struct void_kvs *kvs,
                               const uint8_t *key,
                               size_t key_len,
                               const struct void_hlc_ts *as_of,
                               struct void_kvs_version *out)
{
    return kvs->ops->get(kvs->impl, key, key_len, as_of, out);
}

/* Calls fn for each key of range whose version visible at as_of (NULL: the
 * newest) is live, in key order, at most limit times (0: no limit). Sets
 * *emitted, and *more to 1 when a further live key exists in the range.
 * Returns 0, VOID_EINVAL, VOID_EKVS_TOO_OLD or fn's nonzero answer. */
static inline int void_kvs_scan(struct void_kvs *kvs,
                                const struct void_kvs_range *range,
                                const struct void_hlc_ts *as_of,
                                size_t limit,
                                void_kvs_scan_fn fn,
                                void *arg,
                                size_t *emitted,
                                int *more)
{
    return kvs->ops->scan(kvs->impl, range, as_of, limit, fn, arg, emitted, more);
}

/* Raises the horizon to horizon (no-op if not above it) and drops every
 * version that a newer version at or before it hides, and every tombstone at
 * or before it. Inside a batch only; horizon at most the batch's HLC.
 * Returns 0 or VOID_EINVAL. */
static inline int void_kvs_compact(struct void_kvs *kvs, struct void_hlc_ts horizon)
{
    return kvs->ops->compact(kvs->impl, horizon);
}

/* Sets client id's entry (last_seen = the batch's HLC). Inside a batch only.
 * Returns 0, VOID_EINVAL or VOID_EFULL (beyond the reserve). */
static inline int void_kvs_client_put(
    struct void_kvs *kvs, uint64_t id, uint64_t reqno, const uint8_t *reply, size_t len)
{
    return kvs->ops->client_put(kvs->impl, id, reqno, reply, len);
}

/* Reads client id's entry. Returns 0 or VOID_ENOTFOUND. */
static inline int
void_kvs_client_get(struct void_kvs *kvs, uint64_t id, struct void_kvs_client *out)
{
    return kvs->ops->client_get(kvs->impl, id, out);
}

/* Removes every client whose last_seen is before older_than; sets *expired
 * (may be NULL). Inside a batch only. Returns 0. */
static inline int
void_kvs_client_expire(struct void_kvs *kvs, struct void_hlc_ts older_than, uint64_t *expired)
{
    return kvs->ops->client_expire(kvs->impl, older_than, expired);
}

/* Calls version_fn for every stored version of bucket (tombstones included;
 * as_of in the version is its stamp) and client_fn for every client entry of
 * it, in canonical order: what state transfer sends for one partition.
 * Outside a batch. Returns 0, VOID_EINVAL or a callback's nonzero answer. */
static inline int void_kvs_partition(struct void_kvs *kvs,
                                     uint32_t bucket,
                                     void_kvs_scan_fn version_fn,
                                     void_kvs_client_fn client_fn,
                                     void *arg)
{
    return kvs->ops->partition(kvs->impl, bucket, version_fn, client_fn, arg);
}

/* The committed digest of one bucket (all zero when it is empty). Outside a
 * batch. Returns 0 or VOID_EINVAL. */
static inline int
void_kvs_bucket_digest(struct void_kvs *kvs, uint32_t bucket, uint8_t out[VOID_KVS_DIGEST_SIZE])
{
    return kvs->ops->bucket_digest(kvs->impl, bucket, out);
}

/* The committed state digest (void_kvs_root of the bucket tree, the horizon
 * and the last batch's HLC). Outside a batch. Returns 0. */
static inline int void_kvs_digest(struct void_kvs *kvs, uint8_t out[VOID_KVS_DIGEST_SIZE])
{
    return kvs->ops->digest(kvs->impl, out);
}

/* Makes every committed batch durable (LMDB: mdb_env_sync; memory: no-op).
 * Outside a batch. Returns 0 or a local failure. */
static inline int void_kvs_sync(struct void_kvs *kvs)
{
    return kvs->ops->sync(kvs->impl);
}

static inline void void_kvs_stats(struct void_kvs *kvs, struct void_kvs_stats *out)
{
    kvs->ops->stats(kvs->impl, out);
}

/* ---- snapshots (PBFT checkpoints) ------------------------------------------- */

/* Freezes the committed state: the snapshot's reads below answer what the
 * store answered at this call, while later batches and loads go on changing
 * the store. Cost: O(1) at the call (LMDB: a read-only transaction; memory:
 * nothing), then the memory store copies a bucket before the first change to
 * it (O(entries of the buckets changed), never the whole state). Outside a
 * batch or load. Returns 0, VOID_EFULL (VOID_KVS_SNAPSHOTS_MAX live already)
 * or a local failure. */
static inline int void_kvs_snapshot_take(struct void_kvs *kvs, struct void_kvs_snap **out)
{
    return kvs->ops->snapshot_take(kvs->impl, out);
}

/* Releases a snapshot (every snapshot before void_kvs_close; close releases
 * those left). Cannot fail. */
static inline void void_kvs_snapshot_release(struct void_kvs *kvs, struct void_kvs_snap *snap)
{
    kvs->ops->snapshot_release(kvs->impl, snap);
}

/* void_kvs_partition, void_kvs_bucket_digest, void_kvs_digest and
 * void_kvs_stats as they were when snap was taken. Allowed at any time, also
 * inside a batch or load. Same answers as the live calls. */
static inline int void_kvs_snapshot_partition(struct void_kvs *kvs,
                                              struct void_kvs_snap *snap,
                                              uint32_t bucket,
                                              void_kvs_scan_fn version_fn,
                                              void_kvs_client_fn client_fn,
                                              void *arg)
{
    return kvs->ops->snap_partition(kvs->impl, snap, bucket, version_fn, client_fn, arg);
}

static inline int void_kvs_snapshot_bucket_digest(struct void_kvs *kvs,
                                                  struct void_kvs_snap *snap,
                                                  uint32_t bucket,
                                                  uint8_t out[VOID_KVS_DIGEST_SIZE])
{
    return kvs->ops->snap_bucket_digest(kvs->impl, snap, bucket, out);
}

static inline int void_kvs_snapshot_digest(struct void_kvs *kvs,
                                           struct void_kvs_snap *snap,
                                           uint8_t out[VOID_KVS_DIGEST_SIZE])
{
    return kvs->ops->snap_digest(kvs->impl, snap, out);
}

static inline void
void_kvs_snapshot_stats(struct void_kvs *kvs, struct void_kvs_snap *snap, struct void_kvs_stats *out)
{
    kvs->ops->snap_stats(kvs->impl, snap, out);
}

/* ---- loading a state (state transfer, restore) ---------------------------- */

/* Starts a load: the one way to install entries with their own stamps, as
 * void_kvs_partition gives them. Like a batch, a load commits as one unit at
 * void_kvs_load_end (LMDB: one write transaction) unless it commits in
 * parts (void_kvs_load_commit), and between the two only load calls, stage
 * reads and reads are allowed. empty = 1 first removes everything;
 * empty = 0 keeps the buckets the load does not clear (incremental state
 * transfer: void_kvs_load_clear each bucket whose digest differs, then load
 * its entries). horizon, last and label become the state's (stats.horizon,
 * .last, .applied) at load_end; the next batch must be after last. Outside a
 * batch. Returns 0, VOID_EINVAL (horizon after last) or a local failure. */
static inline int void_kvs_load_begin(struct void_kvs *kvs,
                                      int empty,
                                      struct void_hlc_ts horizon,
                                      struct void_hlc_ts last,
                                      uint64_t label)
{
    return kvs->ops->load_begin(kvs->impl, empty, horizon, last, label);
}

/* Removes every version and client entry of bucket. Inside a load. Returns 0,
 * VOID_EINVAL or a local failure. */
static inline int void_kvs_load_clear(struct void_kvs *kvs, uint32_t bucket)
{
    return kvs->ops->load_clear(kvs->impl, bucket);
}

/* Installs one version of key with its own stamp (version->hlc, ->deleted,
 * ->value). Inside a load; a key's versions oldest first. The quota is not
 * checked (the replicas that wrote the state admitted it). Refused with
 * VOID_EINVAL, and nothing changed, unless the result is a state that the
 * batch calls could have produced at the load's horizon and last: key and
 * value within the limits, a tombstone without a value, the stamp at most
 * last and after the key's newest stored version,
 * and nothing left that the compaction to the horizon dropped (a tombstone
 * before the horizon, or an older version when this one is before it; at
 * the horizon is allowed, as a batch may write after compacting to its own
 * stamp). Returns 0, VOID_EINVAL or a local failure. */
static inline int void_kvs_load_version(struct void_kvs *kvs,
                                        const uint8_t *key,
                                        size_t key_len,
                                        const struct void_kvs_version *version)
{
    return kvs->ops->load_version(kvs->impl, key, key_len, version);
}

/* Installs a client entry as given (last_seen included). Inside a load.
 * Returns 0, VOID_EINVAL (reply too long, last_seen after the load's last,
 * or the id already present) or a local failure. */
static inline int void_kvs_load_client(struct void_kvs *kvs, const struct void_kvs_client *client)
{
    return kvs->ops->load_client(kvs->impl, client);
}

/* Ends the load: rebuilds the digests of the buckets it changed and commits.
 * The caller compares void_kvs_digest with the digest it expected. Returns 0
 * or a local failure. */
static inline int void_kvs_load_end(struct void_kvs *kvs)
{
    return kvs->ops->load_end(kvs->impl);
}

/* Commits what the load has done so far and goes on with the same load
 * (LMDB: commits the write transaction and begins the next one), so that
 * a load of a large state holds a bounded amount of uncommitted work
 * (LMDB's dirty pages, kept in memory until the commit). From the first
 * such commit until load_end, stats.partial is 1 and, in LMDB, a mark on
 * disk says so: a crash in between leaves a store that reopens with
 * partial = 1, which the caller must empty (a load with empty = 1) or load
 * to the end, never use as a state. Inside a load. Returns 0 or a local
 * failure. */
static inline int void_kvs_load_commit(struct void_kvs *kvs)
{
    return kvs->ops->load_commit(kvs->impl);
}

/* ---- staging (state transfer) --------------------------------------------
 * Bytes kept beside the state, by bucket, outside the digest and the
 * quota: the partitions a state transfer fetched and checked but has not
 * installed yet (src/core/sm_xfer.c), so that they wait on disk in LMDB
 * instead of in memory. A reopened store has none (LMDB empties the table
 * at open). */

/* Stores bufs[i][0..lens[i]) under buckets[i] for i < n, replacing what a
 * bucket held, in one unit (LMDB: one write transaction). Outside a batch
 * and a load. Returns 0, VOID_EINVAL (a bucket out of range) or a local
 * failure. */
static inline int void_kvs_stage_put(struct void_kvs *kvs,
                                     size_t n,
                                     const uint16_t *buckets,
                                     const uint8_t *const *bufs,
                                     const uint32_t *lens)
{
    return kvs->ops->stage_put(kvs->impl, n, buckets, bufs, lens);
}

/* Copies what is staged under bucket to buf[cap] and sets *len. Outside a
 * batch, or inside a load. Returns 0, VOID_ENOTFOUND (nothing staged),
 * VOID_EFULL (cap too small: *len is the size needed) or a local failure. */
static inline int
void_kvs_stage_get(struct void_kvs *kvs, uint32_t bucket, uint8_t *buf, size_t cap, size_t *len)
{
    return kvs->ops->stage_get(kvs->impl, bucket, buf, cap, len);
}

/* Removes everything staged. Outside a batch and a load. Returns 0 or a
 * local failure. */
static inline int void_kvs_stage_clear(struct void_kvs *kvs)
{
    return kvs->ops->stage_clear(kvs->impl);
}

/* Closes the store (a batch not committed is dropped) and frees it. */
static inline void void_kvs_close(struct void_kvs *kvs)
{
    kvs->ops->close(kvs->impl);
    kvs->ops = NULL;
    kvs->impl = NULL;
}

/* ---- the canonical digest, shared by the implementations and checkers ------ */

/* SHA-256 of a key (domain 'K'); its first 12 bits are the key's bucket. */
void void_kvs_key_hash(const uint8_t *key, size_t key_len, uint8_t out[VOID_KVS_DIGEST_SIZE]);

/* SHA-256 of a client id (domain 'I'); its first 12 bits are the bucket. */
void void_kvs_client_id_hash(uint64_t id, uint8_t out[VOID_KVS_DIGEST_SIZE]);

/* The bucket of a key or client-id hash. Cannot fail. */
uint32_t void_kvs_bucket_of(const uint8_t hash[VOID_KVS_DIGEST_SIZE]);

/* Entry hashes: SHA-256('V' || be16 key_len || key || hlc || deleted ||
 * be32 len || value) and SHA-256('C' || be64 id || be64 reqno || last_seen ||
 * be32 len || reply). Cannot fail. */
void void_kvs_version_hash(const uint8_t *key,
                           size_t key_len,
                           struct void_hlc_ts hlc,
                           int deleted,
                           const uint8_t *value,
                           size_t len,
                           uint8_t out[VOID_KVS_DIGEST_SIZE]);
void void_kvs_client_hash(const struct void_kvs_client *client, uint8_t out[VOID_KVS_DIGEST_SIZE]);

/* A bucket digest under construction: feed the version hashes in the order
 * (key hash, hlc) and the client hashes in client-id-hash order. */
struct void_kvs_bucket_ctx {
    uint8_t opaque[2][128];
    uint64_t versions, clients;
    uint32_t bucket;
};
void void_kvs_bucket_init(struct void_kvs_bucket_ctx *c, uint32_t bucket);
void void_kvs_bucket_add_version(struct void_kvs_bucket_ctx *c,
                                 const uint8_t hash[VOID_KVS_DIGEST_SIZE]);
void void_kvs_bucket_add_client(struct void_kvs_bucket_ctx *c,
                                const uint8_t hash[VOID_KVS_DIGEST_SIZE]);
/* All zero for an empty bucket, else SHA-256("VKB1" || be16 bucket ||
 * SHA-256(version hashes) || SHA-256(client hashes)). */
void void_kvs_bucket_final(struct void_kvs_bucket_ctx *c, uint8_t out[VOID_KVS_DIGEST_SIZE]);

/* The state digest from the Merkle root over the bucket digests (RFC 9162,
 * leaf i = bucket i's digest): SHA-256("VKS1" || root || horizon || last). */
void void_kvs_root(const uint8_t merkle_root[VOID_KVS_DIGEST_SIZE],
                   struct void_hlc_ts horizon,
                   struct void_hlc_ts last,
                   uint8_t out[VOID_KVS_DIGEST_SIZE]);

/* ---- the canonical export format (VKX1; docs/kvs.md "Export and import") --- */

#define VOID_KVS_EXPORT_HEADER_SIZE (4u + 2u * VOID_HLC_ENCODED_SIZE + 8u + 4u)

/* Encodes partition bucket of snap (snap NULL: of the committed state,
 * outside a batch) into buf[cap]: be16 bucket, be32 keys, be32 clients, then
 * per key (key-hash order) be16 key length, key, be32 versions and per
 * version (oldest first) HLC, deleted, be32 length, value; then per client
 * (id-hash order) be64 id, be64 reqno, last_seen, be32 length, reply. Sets
 * *len to the size; 0 for an empty bucket. Returns 0, VOID_EINVAL or
 * VOID_EFULL when cap is too small (*len then says how much is needed). */
int void_kvs_encode_partition(struct void_kvs *kvs,
                              struct void_kvs_snap *snap,
                              uint32_t bucket,
                              uint8_t *buf,
                              size_t cap,
                              size_t *len);

/* Checks an encoded partition as sent by a possibly Byzantine peer and
 * computes its bucket digest: every length within the limits and the
 * buffer, keys and clients of the bucket it names and in canonical order,
 * versions that void_kvs_load_version would take at horizon and last,
 * nothing after the end. Calls version_fn and client_fn (either may be
 * NULL) for each entry, pointers into buf. Sets *bucket and digest. Pure.
 * Returns 0, VOID_ETRUNCATED, VOID_EBAD_LENGTH, VOID_EBAD_FIELD or a
 * callback's nonzero answer. */
int void_kvs_decode_partition(const uint8_t *buf,
                              size_t len,
                              struct void_hlc_ts horizon,
                              struct void_hlc_ts last,
                              void_kvs_scan_fn version_fn,
                              void_kvs_client_fn client_fn,
                              void *arg,
                              uint32_t *bucket,
                              uint8_t digest[VOID_KVS_DIGEST_SIZE]);

/* Inside a load begun with this horizon and last: checks the partition
 * (void_kvs_decode_partition) and, when expect is not NULL, that its digest
 * is expect (the certified bucket digest); then replaces its bucket with it
 * (void_kvs_load_clear, then the entries). A refused partition changes
 * nothing. Returns 0, a decode error, VOID_ECORRUPT (digest differs),
 * VOID_EINVAL (horizon or last not the load's) or a local failure. */
int void_kvs_load_partition(struct void_kvs *kvs,
                            const uint8_t *buf,
                            size_t len,
                            struct void_hlc_ts horizon,
                            struct void_hlc_ts last,
                            const uint8_t expect[VOID_KVS_DIGEST_SIZE]);

/* The manifest of a state, for incremental state transfer (docs/kvs.md,
 * "Loading and state transfer"): "VKM1", horizon, last, be64 label, be16
 * count, then (be16 bucket, digest) for each non-empty bucket, increasing.
 * At most VOID_KVS_MANIFEST_MAX bytes (139,304). */
#define VOID_KVS_MANIFEST_HEADER_SIZE (4u + 2u * VOID_HLC_ENCODED_SIZE + 8u + 2u)
#define VOID_KVS_MANIFEST_MAX                                                                      \
    (VOID_KVS_MANIFEST_HEADER_SIZE + VOID_KVS_BUCKETS * (2u + VOID_KVS_DIGEST_SIZE))

/* A checked manifest: every bucket's digest (zero: empty). 128 KiB. */
struct void_kvs_manifest {
    struct void_hlc_ts horizon, last;
    uint64_t label;
    uint8_t digest[VOID_KVS_BUCKETS][VOID_KVS_DIGEST_SIZE];
};

/* Writes the manifest of snap (NULL: the committed state, outside a batch)
 * to buf[cap], setting *len. O(buckets), not O(state). Returns 0, VOID_EFULL
 * (cap too small; *len is then VOID_KVS_MANIFEST_MAX) or a store error. */
int void_kvs_manifest(
    struct void_kvs *kvs, struct void_kvs_snap *snap, uint8_t *buf, size_t cap, size_t *len);

/* Decodes a manifest sent by a possibly Byzantine peer into *m and computes
 * the state digest it implies (the Merkle root over its bucket digests, with
 * its horizon and last), which the caller compares with the certified one.
 * Pure. Returns 0, VOID_ETRUNCATED, VOID_EBAD_MAGIC, VOID_EBAD_LENGTH,
 * VOID_EBAD_FIELD (buckets out of order, an empty digest listed, horizon
 * after last) or VOID_ENOMEM. */
int void_kvs_manifest_check(const uint8_t *buf,
                            size_t len,
                            struct void_kvs_manifest *m,
                            uint8_t digest[VOID_KVS_DIGEST_SIZE]);

/* Writes len bytes somewhere; 0 or an error that stops the export. */
typedef int (*void_kvs_write_fn)(void *arg, const uint8_t *data, size_t len);

/* Writes snap as one stream: "VKX1", horizon, last, be64 label, be32 count
 * of partitions, the non-empty partitions in bucket order (as
 * void_kvs_encode_partition), then the state digest (32 bytes). Returns 0,
 * VOID_ENOMEM, a store error or write's nonzero answer. */
int void_kvs_export(struct void_kvs *kvs,
                    struct void_kvs_snap *snap,
                    void_kvs_write_fn write,
                    void *arg);

/* Replaces the whole state of kvs (outside a batch) with the stream in buf,
 * after checking all of it: the header, each partition as
 * void_kvs_decode_partition, buckets increasing, the count, and the digest
 * rebuilt from the partitions equal to the trailer's. A refused stream
 * changes nothing. Sets digest (may be NULL) to the state digest, which the
 * caller compares with the one it trusts. Returns 0, VOID_EBAD_MAGIC,
 * VOID_ETRUNCATED, VOID_EBAD_LENGTH, VOID_EBAD_FIELD, VOID_ECORRUPT (digest
 * differs), VOID_ENOMEM or a local failure. */
int void_kvs_import(struct void_kvs *kvs,
                    const uint8_t *buf,
                    size_t len,
                    uint8_t digest[VOID_KVS_DIGEST_SIZE]);

/* Fills range with the keys that start with prefix (end_buf: room for
 * prefix_len bytes, the exclusive end). Cannot fail. */
void void_kvs_prefix_range(const uint8_t *prefix,
                           size_t prefix_len,
                           uint8_t *end_buf,
                           struct void_kvs_range *range);

/* -1, 0 or 1 as key a sorts before, equal to or after key b. */
int void_kvs_key_compare(const uint8_t *a, size_t a_len, const uint8_t *b, size_t b_len);

#endif
