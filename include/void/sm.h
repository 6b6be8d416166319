/*
 * The replicated state machine: a deterministic key/value store with MVCC
 * versions, executed by every PBFT replica in sequence order.
 *
 * Operations: put, get, delete, compare-and-set, and get "as of" a past HLC.
 * Every write creates a version stamped with the commit HLC of its batch (the
 * timestamp the primary put into the pre-prepare, raised if needed so that
 * stamps never decrease), so every replica stamps the same version with the
 * same time and a read as of time t returns the newest version whose stamp is
 * <= t.
 *
 * The state also holds the client table of PBFT: the last request number and
 * reply per client, which gives at-most-once execution (void_sm_execute
 * returns the cached reply for a repeated request and ignores older ones).
 *
 * The state lives in a store (include/void/kvs.h) that the state machine
 * borrows: LMDB in the daemon, the in-memory store in the simulator and the
 * tests; the same code runs on both (docs/kvs.md). The store bounds the state
 * by its quota (a write beyond it answers VOID_SM_FULL) and keeps any number
 * of keys and clients. History and the client table are trimmed from
 * replicated data only: at each batch, the state machine compacts the store
 * to the batch's stamp minus the retention (a read as of an earlier time then
 * answers VOID_SM_TOO_OLD) and expires the clients last seen longer than the
 * client TTL before it. Every replica shares these two settings.
 *
 * A store error that is not a deterministic answer (VOID_EIO, VOID_ENOSPC,
 * VOID_ENOMEM, VOID_ECORRUPT) is a local failure of this replica: it sticks
 * (void_sm_failed), every later call answers it, and the replica must stop
 * and recover (docs/kvs.md, "Switching sm over").
 *
 * Pure: no I/O, no clock; what the store does is behind its interface.
 */
#ifndef VOID_SM_H
#define VOID_SM_H

#include "void/hlc.h"
#include "void/kvs.h"
#include "void/membership.h"

#include <stddef.h>
#include <stdint.h>

/* Limits of one operation, the store's (include/void/kvs.h): a key of up to
 * 4 KiB, a value of up to 1 MiB. A request larger than a pre-prepare slot
 * travels apart from it (docs/pbft.md, "Large requests"). On the wire a key's
 * length is a u16, a value's a u32. */
#define VOID_SM_KEY_MAX           4096                       /* bytes in a key (at least 1) */
#define VOID_SM_VALUE_MAX         (1 << 20)                  /* bytes in a value (may be 0) */
#define VOID_SM_DIGEST_SIZE       32                         /* SHA-256 */
#define VOID_SM_RETENTION_NS_DEF  (3600ull * 1000000000ull)  /* 1 h of history */
#define VOID_SM_CLIENT_TTL_NS_DEF (86400ull * 1000000000ull) /* 24 h */
#define VOID_SM_QUOTA_DEF         (8ull << 30)               /* 8 GiB, for the daemon's store */
/* Largest encoded operation: kind, key, value and the CAS expected value. */
#define VOID_SM_OP_MAX                                                                             \
    (1 + 2 + VOID_SM_KEY_MAX + 4 + VOID_SM_VALUE_MAX + 1 + 4 + VOID_SM_VALUE_MAX +                 \
     VOID_HLC_ENCODED_SIZE)
/* Largest encoded result: status, version stamp, value length and value. */
#define VOID_SM_RESULT_MAX (1 + VOID_HLC_ENCODED_SIZE + 4 + VOID_SM_VALUE_MAX)

/* Operation kinds. Values are on the wire: only append. */
enum void_sm_op_kind {
    VOID_SM_OP_PUT = 1,
    VOID_SM_OP_GET = 2,
    VOID_SM_OP_DELETE = 3,
    VOID_SM_OP_CAS = 4,      /* put value if the current value equals expected (or is absent) */
    VOID_SM_OP_GET_AS_OF = 5, /* read the value current at a past HLC */
    VOID_SM_OP_MEMBER = 6     /* a configuration change (void_sm_member_op_encode) */
};

/* Result statuses. Values are on the wire: only append. */
enum void_sm_status {
    VOID_SM_OK = 0,
    VOID_SM_NOT_FOUND = 1,  /* get/delete/as-of: no live value */
    VOID_SM_CAS_FAILED = 2, /* cas: current value differs; result carries the current value */
    VOID_SM_FULL = 3,       /* write: the store's quota is reached */
    VOID_SM_TOO_OLD = 4,    /* as-of: time before the retained history */
    VOID_SM_BAD_OP = 5,     /* the operation bytes do not decode */
    VOID_SM_STALE = 6,      /* request number older than the client's last: not executed;
                               value: the superseding request number, u64 big-endian */
    VOID_SM_FUTURE = 7,     /* as-of: time after the stamp of the batch executing the read */
    VOID_SM_EXPIRED = 8,    /* the client's certificate expired before the batch's stamp */
    VOID_SM_REFUSED = 9     /* member: the change is refused; value: "VOID_E...: reason" */
};

/* A decoded operation. key/value/expected point into the decoded buffer. */
struct void_sm_op {
    uint8_t kind; /* enum void_sm_op_kind */
    const uint8_t *key;
    uint16_t key_len;
    const uint8_t *value; /* put, cas */
    uint32_t value_len;
    uint8_t
        expect_present; /* cas: 1 = expected must equal the current value, 0 = key must be absent */
    const uint8_t *expected; /* cas */
    uint32_t expected_len;
    struct void_hlc_ts as_of; /* get-as-of */
};

/* A decoded result. value points into the decoded buffer. */
struct void_sm_result {
    uint8_t status;             /* enum void_sm_status */
    struct void_hlc_ts version; /* stamp of the version read or written (0 when none) */
    const uint8_t *value;
    uint32_t value_len;
};

/* What a state transfer keeps in memory of the partitions it fetched and
 * checked but has not installed, and what one store transaction of its
 * install loads, at most (docs/pbft.md, State transfer): 8 MiB. */
#define VOID_SM_XFER_BUFFER_DEF (8ull << 20)

struct void_sm_config {
    uint64_t retention_ns;  /* history kept behind each batch's stamp; 0: the default */
    uint64_t client_ttl_ns; /* a client silent longer is forgotten; 0: the default */
    /* State transfer's memory bound, in bytes; 0: VOID_SM_XFER_BUFFER_DEF.
     * Local: replicas may differ. */
    uint64_t xfer_buffer_max;
};

/* What the state transfers of this state machine did, since init. */
struct void_sm_xfer_stats {
    uint64_t buffered_peak; /* bytes of fetched partitions held in memory at once, at most */
    uint64_t staged_bytes;  /* bytes of partitions written to the store's stage */
    uint64_t stage_puts;    /* writes to the stage (one store transaction each) */
    uint64_t load_commits;  /* void_kvs_load_commit calls of installs (parts beyond the last) */
    uint64_t group_peak;    /* partition bytes loaded in one store transaction, at most */
};

/* Configuration changes (docs/membership.md, "Changes through PBFT"). The
 * configuration is replicated state: one record under the reserved key
 * VOID_SM_MEMBER_KEY holds the latest configuration, the sequence number
 * `act' above which it is in effect (a checkpoint boundary) and the one
 * before it. A state without the record is in the genesis configuration.
 * Keys that begin with VOID_SM_RESERVED_PREFIX cannot be written by clients
 * (VOID_SM_BAD_OP). */
#define VOID_SM_RESERVED_PREFIX     "\0void/"
#define VOID_SM_RESERVED_PREFIX_LEN 6
#define VOID_SM_MEMBER_KEY          "\0void/membership"
#define VOID_SM_MEMBER_KEY_LEN      16
/* u8 kind | u8 change | u32 id | u64 epoch | 64 B Ed25519 signature: the
 * signature (domain VOID_SIGN_DOMAIN_MEMBER) covers the first 14 bytes. */
#define VOID_SM_MEMBER_OP_SIZE (1 + 1 + 4 + 8 + 64)
#define VOID_SM_MEMBER_SIGNED  14

struct void_sm_member_op {
    uint8_t change; /* VOID_MEMBERSHIP_REMOVE (signed by the admin key) or LEAVE (by the member) */
    uint32_t id;
    uint64_t epoch; /* the epoch of the latest configuration, which the change applies to */
    uint8_t sig[64];
};

/* A REMOVE that carries evidence instead of the admin's signature
 * (docs/membership.md, "Removal by certificate"): a suspicion certificate,
 * 2f+1 suspicions of one member signed by distinct voters of the epoch.
 *   u8 kind (6) | u8 change (VOID_SM_MEMBER_CERT_REMOVE) | u32 suspect |
 *   u64 epoch | u8 count | count x (u32 suspector | u64 hlc wall |
 *   u32 hlc logical | 64 B Ed25519 signature)
 * Each signature (domain VOID_SIGN_DOMAIN_SUSPICION) covers the suspicion's
 * 28-byte encoding (void_suspicion_encode) rebuilt from the header and its
 * item, so a signature cannot be moved to another suspect or epoch. */
#define VOID_SM_MEMBER_CERT_REMOVE    0x83 /* REMOVE (3) | 0x80: by evidence */
#define VOID_SM_MEMBER_CERT_HEAD      15
#define VOID_SM_MEMBER_CERT_ITEM      (4 + 8 + 4 + 64)
#define VOID_SM_MEMBER_CERT_SIZE(cnt) (VOID_SM_MEMBER_CERT_HEAD + (size_t)(cnt)*VOID_SM_MEMBER_CERT_ITEM)

struct void_sm_member_cert {
    struct void_suspicion_cert cert; /* epoch, suspect, count and the suspicions */
    uint8_t sig[VOID_MEMBERSHIP_MEMBERS_MAX][64]; /* sig[k] signs cert.items[k] */
};

/* A REMOVE of several members by evidence, applied as ONE configuration
 * change (one epoch step; docs/membership.md, "Removal by certificate"):
 * each suspect with its own certificate, every certificate valid under the
 * latest configuration (2f+1 signed suspicions of its voters, checked as
 * for VOID_SM_MEMBER_CERT_REMOVE, which stays accepted as the one-suspect
 * form). A suspector may be a suspect of another section: each suspicion
 * is judged by the configuration it was signed in.
 *   u8 kind (6) | u8 change (VOID_SM_MEMBER_CERTS_REMOVE) | u64 epoch | u8 k |
 *   k x ( u32 suspect | u8 count |
 *         count x (u32 suspector | u64 hlc wall | u32 hlc logical | 64 B signature) )
 * with 1 <= k <= VOID_SM_MEMBER_CERTS_MAX and 1 <= count <= 64 per section. */
#define VOID_SM_MEMBER_CERTS_REMOVE  0x84 /* REMOVE (3) | 0x80, several suspects */
#define VOID_SM_MEMBER_CERTS_MAX     VOID_MEMBERSHIP_CHANGES_MAX
#define VOID_SM_MEMBER_CERTS_HEAD    11
#define VOID_SM_MEMBER_CERTS_SECTION 5
#define VOID_SM_MEMBER_CERTS_SIZE(k, cnt)                                                          \
    (VOID_SM_MEMBER_CERTS_HEAD +                                                                   \
     (size_t)(k) * (VOID_SM_MEMBER_CERTS_SECTION + (size_t)(cnt)*VOID_SM_MEMBER_CERT_ITEM))

/* A JOIN (docs/membership.md, "Join and promote"), signed by the admin key:
 *   u8 kind (6) | u8 change (VOID_MEMBERSHIP_JOIN) | u32 id | u64 epoch |
 *   32 B public key | u8 len, address | u8 len, datacenter | u8 len, rack |
 *   u8 len, host | 64 B Ed25519 signature
 * The signature (domain VOID_SIGN_DOMAIN_MEMBER) covers every byte before
 * it. The member joins as a learner. */
#define VOID_SM_MEMBER_JOIN_MIN (14 + 32 + 4 + 64)
#define VOID_SM_MEMBER_JOIN_MAX                                                                    \
    (VOID_SM_MEMBER_JOIN_MIN + VOID_MEMBERSHIP_ADDR_MAX + 3 * VOID_MEMBERSHIP_LOC_MAX)

struct void_sm_member_join {
    uint64_t epoch;           /* the epoch of the latest configuration */
    struct void_member member; /* id, key, address, location; role LEARNER */
    uint8_t sig[64];
};

/* A PROMOTE, signed by the admin key and carrying the learner's own signed
 * progress (docs/membership.md, "Join and promote"):
 *   u8 kind (6) | u8 change (VOID_MEMBERSHIP_PROMOTE) | u32 id | u64 epoch |
 *   u64 executed | 64 B learner signature | 64 B admin signature
 * The learner's signature (domain VOID_SIGN_DOMAIN_PROGRESS) covers
 * void_sm_member_progress_message(id, executed); the admin's (domain
 * VOID_SIGN_DOMAIN_MEMBER) the 86 bytes before it. The state machine refuses
 * it (VOID_EMEMBER_BEHIND) unless executed + K >= the sequence number of the
 * batch that carries it: the learner is within one checkpoint interval. */
#define VOID_SM_MEMBER_PROMOTE_SIZE   (14 + 8 + 64 + 64)
#define VOID_SM_MEMBER_PROMOTE_SIGNED (14 + 8 + 64)
#define VOID_SM_MEMBER_PROGRESS_SIZE  12

struct void_sm_member_promote {
    uint32_t id;
    uint64_t epoch;
    uint64_t executed;       /* the learner's last executed sequence number */
    uint8_t learner_sig[64]; /* the learner's key over its progress */
    uint8_t sig[64];         /* the admin key over the rest */
};

/* What the state machine needs to execute configuration changes. */
struct void_sm_task_setup; /* include/void/task.h */

struct void_sm_member_setup {
    const struct void_membership_config *genesis; /* borrowed; NULL: changes are refused */
    uint32_t checkpoint_interval; /* K: a change executed at s is in effect above ceil(s/K)*K */
    uint32_t window;              /* L: a change is refused until seq act + L of the last one */
    /* A certificate's suspicions lie within this of each other and of the
     * batch's stamp; 0: VOID_SUSPICION_WINDOW_NS_DEF. Part of the
     * replicated rules: every replica must be set up alike. */
    uint64_t suspicion_window_ns;
    /* A JOIN's id must be below this (the PBFT core's replica id slots,
     * void_pbft_config.n); 0: no bound. Replicated: every replica alike. */
    uint32_t id_limit;
};

/* The state machine. Caller-owned; fields are private. */
struct void_sm {
    struct void_kvs *kvs; /* borrowed */
    uint64_t retention_ns, client_ttl_ns;
    struct void_hlc_ts last_stamp; /* stamp of the last batch begun */
    int in_batch;
    int failed; /* a local store failure (sticky), or 0 */
    uint64_t clients_expired;
    struct void_sm_xfer *xfer; /* an incremental state transfer under way, or NULL */
    uint64_t xfer_buffer_max;  /* config.xfer_buffer_max or its default */
    struct void_sm_xfer_stats xfer_stats;
    int xfer_staged; /* the store's stage may hold partitions (emptied at the next install) */
    struct void_sm_member_setup member;
    uint64_t batch_label;   /* the label (sequence number) of the batch under way */
    int member_changed;     /* a change was applied since void_sm_member_take_changed */
    /* Scratch for a change: latest, prev, next (not on the stack: 23 KB each). */
    struct void_membership_config *member_scratch;
    /* Tasks (include/void/task.h): members' capacity and locations, the
     * same on every replica (void_sm_task_setup); NULL: the defaults. */
    const struct void_sm_task_setup *task_setup;
};

/* Sets sm up on kvs (borrowed until void_sm_fini; it may already hold a
 * state: the stamps go on after its last batch) with config (copied; NULL
 * means defaults). Returns 0. */
int void_sm_init(struct void_sm *sm, const struct void_sm_config *config, struct void_kvs *kvs);

/* Forgets the store (which stays open: its owner closes it). Safe on a
 * zeroed struct. */
void void_sm_fini(struct void_sm *sm);

/* The local store failure that stopped this state machine, or 0. */
int void_sm_failed(const struct void_sm *sm);

/* The stamp that a batch with primary-chosen timestamp hlc gets: hlc, or the
 * successor of the previous batch's stamp if that is not smaller. Starts the
 * store batch (labelled label, the sequence number: the store's
 * stats.applied), compacts the history older than the retention and expires
 * silent clients. Call once per batch, before executing its requests, and
 * void_sm_end_batch after them. Sets *stamp (may be NULL). Returns 0 or a
 * local failure. */
int void_sm_begin_batch(struct void_sm *sm,
                        struct void_hlc_ts hlc,
                        uint64_t label,
                        struct void_hlc_ts *stamp);

/* Commits the batch to the store. Returns 0 or a local failure. */
int void_sm_end_batch(struct void_sm *sm);

/* Executes request (client, reqno, op[0..op_len)) at the stamp of the current
 * batch and writes the encoded result to result (capacity cap >=
 * VOID_SM_RESULT_MAX), setting *result_len. At most once: a reqno equal to the
 * client's last returns the cached result without executing again; a smaller
 * one returns a VOID_SM_STALE result. A malformed op gives a VOID_SM_BAD_OP
 * result (it is still recorded, so every replica agrees). Returns 0,
 * VOID_EFULL if cap is too small, or a local failure. op is borrowed for the
 * call. */
int void_sm_execute(struct void_sm *sm,
                    uint64_t client,
                    uint64_t reqno,
                    const uint8_t *op,
                    size_t op_len,
                    uint8_t *result,
                    size_t cap,
                    size_t *result_len);

/* Looks up the cached reply of client: returns 1 and sets *reqno, *result and
 * *result_len (pointing into the store, valid until its next call) when the
 * client is known, else 0 (also after a local failure, which then sticks).
 * Outside a batch. */
int void_sm_client_last(struct void_sm *sm,
                        uint64_t client,
                        uint64_t *reqno,
                        const uint8_t **result,
                        size_t *result_len);

/* Local, non-replicated read of the current (or, with as_of non-NULL, past)
 * value of key, for tests and the state inspector. Fills *out (value points
 * into the store, valid until its next call). Outside a batch. */
void void_sm_read(struct void_sm *sm,
                  const uint8_t *key,
                  size_t key_len,
                  const struct void_hlc_ts *as_of,
                  struct void_sm_result *out);

/* Read-only requests (PBFT's read-only optimisation, docs/pbft.md): whether
 * op[0..op_len) is an operation the state machine answers without ordering
 * it (a GET: it reads and writes nothing, not even the client table). A GET
 * as of a time is not one: its FUTURE answer depends on the stamp of the
 * batch that executes it. Cannot fail (a malformed op is not read-only). */
int void_sm_op_read_only(const uint8_t *op, size_t op_len);

/* Answers the read-only op[0..op_len) from the executed state, outside a
 * batch, changing nothing, and writes the encoded result (what
 * void_sm_execute would answer for it after the same batches, except that a
 * NOT_FOUND carries as its version the stamp of the key's tombstone, or the
 * store's horizon when no version is stored: equal answers then come from
 * one stretch of the key's history) to result
 * (cap >= VOID_SM_RESULT_MAX), setting *result_len. Returns 0, VOID_EPERM
 * (not a read-only op: refused), VOID_EFULL (cap too small) or a local
 * failure. */
int void_sm_execute_read(struct void_sm *sm,
                         const uint8_t *op,
                         size_t op_len,
                         uint8_t *result,
                         size_t cap,
                         size_t *result_len);

/* The store's state digest (void_kvs_digest: O(1)): equal states have equal
 * digests however they were reached. Outside a batch. */
void void_sm_digest(struct void_sm *sm, uint8_t digest[VOID_SM_DIGEST_SIZE]);

/* ---- checkpoints and state transfer (docs/pbft.md, Checkpoints) ---------- */

/* Freezes the committed state for a checkpoint (void_kvs_snapshot_take:
 * O(1) now, copy-on-write later). Outside a batch. Returns 0, VOID_EFULL (too
 * many live snapshots) or a local failure. */
int void_sm_snapshot_take(struct void_sm *sm, struct void_kvs_snap **out);

/* Releases a snapshot (NULL: nothing). Cannot fail. */
void void_sm_snapshot_release(struct void_sm *sm, struct void_kvs_snap *snap);

/* The digest of a snapshot (what it had when taken). Cannot fail. */
void void_sm_snapshot_digest(struct void_sm *sm,
                             struct void_kvs_snap *snap,
                             uint8_t digest[VOID_SM_DIGEST_SIZE]);

/* Writes the canonical export of snap (void_kvs_export, VKX1: the state
 * frozen in snap, its label and its digest last) to buf (capacity cap) and
 * sets *len. Its size is O(state). Returns 0, VOID_EFULL (cap too small) or
 * a local failure. */
int void_sm_snapshot_export(
    struct void_sm *sm, struct void_kvs_snap *snap, uint8_t *buf, size_t cap, size_t *len);

/* Writes snap's export to a heap buffer that the caller frees, setting *buf
 * and *len. Returns 0, VOID_ENOMEM or a local failure. */
int void_sm_snapshot_export_alloc(struct void_sm *sm,
                                  struct void_kvs_snap *snap,
                                  uint8_t **buf,
                                  size_t *len);

/* Empties the state (a load of nothing: horizon, last stamp and label 0).
 * Outside a batch. Returns 0 or a local failure. */
int void_sm_reset(struct void_sm *sm);

/* Replaces the state with an export, if its digest is expect (the
 * certified one) and its label is label (the sequence number it is the
 * state at; the label is outside the digest): checked before the store is
 * touched (void_kvs_import). Outside a batch. Returns 0, VOID_EBAD_FIELD (the
 * export is not that state, or malformed: nothing changed) or a local
 * failure. */
int void_sm_import(struct void_sm *sm,
                   const uint8_t *buf,
                   size_t len,
                   uint64_t label,
                   const uint8_t expect[VOID_SM_DIGEST_SIZE]);

/* ---- incremental state transfer (docs/pbft.md, State transfer) ----------
 * The sender offers a manifest (the bucket digests of a checkpoint's
 * state, void_kvs_manifest); the receiver checks it against the certified
 * digest, asks for the partitions whose digest differs from its own, checks
 * each against the certified bucket digest as it arrives and keeps it apart
 * (the live state goes on executing meanwhile), and installs them all in
 * one load when none is missing. */

/* Writes the manifest of snap to buf[cap] (at most VOID_KVS_MANIFEST_MAX
 * bytes), setting *len. Returns 0, VOID_EFULL or a local failure. */
int void_sm_snapshot_manifest(
    struct void_sm *sm, struct void_kvs_snap *snap, uint8_t *buf, size_t cap, size_t *len);

/* Writes the partitions of snap named in buckets[0..n), in that order, as
 * "VKP1", be16 count, (be32 length, partition)*, to buf[cap], as many as
 * fit; empty ones are skipped. Sets *len. Returns 0, VOID_EFULL (not even
 * the first non-empty one fits: a partition larger than a message) or a
 * local failure. */
int void_sm_snapshot_parts(struct void_sm *sm,
                           struct void_kvs_snap *snap,
                           const uint16_t *buckets,
                           size_t n,
                           uint8_t *buf,
                           size_t cap,
                           size_t *len);

/* Starts a transfer to the state with digest expect (certified) and label
 * (its sequence number), from its manifest, if the manifest is that state.
 * aux[0..aux_len) is kept for the caller (void_sm_xfer_aux). A transfer to
 * the same label and digest goes on with what it fetched; another one
 * replaces it. Outside a batch. Returns 0, VOID_EBAD_FIELD (not that
 * state: nothing changed) or VOID_ENOMEM. */
int void_sm_xfer_begin(struct void_sm *sm,
                       const uint8_t *manifest,
                       size_t len,
                       uint64_t label,
                       const uint8_t expect[VOID_SM_DIGEST_SIZE],
                       const uint8_t *aux,
                       size_t aux_len);

/* The transfer under way: returns 1 and sets *label, digest (may be NULL),
 * or 0 when there is none. Cannot fail. */
int void_sm_xfer_target(const struct void_sm *sm,
                        uint64_t *label,
                        uint8_t digest[VOID_SM_DIGEST_SIZE]);

/* The caller's bytes given to void_sm_xfer_begin. */
const uint8_t *void_sm_xfer_aux(const struct void_sm *sm, size_t *aux_len);

/* Writes to buckets[0..max) the buckets still to fetch: certified non-empty,
 * not equal to ours, not fetched yet. Returns how many there are in all
 * (may exceed max). Outside a batch. */
size_t void_sm_xfer_want(struct void_sm *sm, uint16_t *buckets, size_t max);

/* Takes the partitions of a void_sm_snapshot_parts message: each must be
 * one the transfer wants and match its certified bucket digest. At most
 * xfer_buffer_max bytes of them stay in memory: before one would pass
 * that, the ones held go to the store's stage (void_kvs_stage_put, one
 * write), and a partition larger than the bound goes there alone. Sets
 * *taken (may be NULL) to how many it kept. Returns 0, VOID_EBAD_FIELD (a
 * partition that is not the certified one or malformed; the ones before it
 * are kept), VOID_ENOMEM or a local failure of the store (staging). */
int void_sm_xfer_parts(struct void_sm *sm, const uint8_t *buf, size_t len, size_t *taken);

/* When nothing is left to fetch: replaces every bucket that differs from
 * the certified state in one load and ends the transfer; the state is then
 * the certified one (digest and label). The load commits every
 * xfer_buffer_max bytes of partitions (void_kvs_load_commit), all inside
 * this call: no caller ever sees the state half installed, but a crash in
 * the middle leaves a store that says so (stats.partial), which recovery
 * empties (docs/pbft.md, Recovery). Outside a batch. Returns 0,
 * VOID_EAGAIN (partitions still missing: nothing changed) or a local
 * failure. */
int void_sm_xfer_install(struct void_sm *sm);

/* Ends the transfer under way (if any) and frees what it held in memory;
 * what it staged stays in the store until the next transfer's install or
 * a reopen empties the stage (no store call here: void_sm_fini calls it). */
void void_sm_xfer_end(struct void_sm *sm);

/* What state transfers did so far (the memory bound is checked by tests
 * with it). Cannot fail. */
void void_sm_xfer_stats(const struct void_sm *sm, struct void_sm_xfer_stats *out);

/* ---- configuration changes ------------------------------------------------ */

/* Enables configuration changes: setup is copied, setup->genesis stays
 * borrowed. Returns 0 or VOID_ENOMEM (the scratch configurations). */
int void_sm_member_setup(struct void_sm *sm, const struct void_sm_member_setup *setup);

/* Reads the configuration record of the current state (outside a batch):
 * the latest configuration, the sequence number above which it is in effect
 * (0 for the genesis), the configuration before it (the genesis when none)
 * and its own boundary. latest and prev are caller-owned. Returns 0,
 * VOID_EINVAL (no genesis set up), VOID_ECORRUPT (the record does not
 * decode) or a local failure. */
int void_sm_member_get(struct void_sm *sm,
                       struct void_membership_config *latest,
                       uint64_t *act,
                       struct void_membership_config *prev,
                       uint64_t *prev_act);

/* Decodes the value stored under VOID_SM_MEMBER_KEY (v[0..len), borrowed;
 * what a GET of that key answers) into latest, act, prev and prev_act, as
 * void_sm_member_get reads them. Returns 0 or VOID_ECORRUPT; never asserts
 * on its input (clients decode what replicas sent). */
int void_sm_member_record_decode(const uint8_t *v,
                                 size_t len,
                                 struct void_membership_config *latest,
                                 uint64_t *act,
                                 struct void_membership_config *prev,
                                 uint64_t *prev_act);

/* Returns 1 once after a configuration change was applied, else 0. */
int void_sm_member_take_changed(struct void_sm *sm);

/* The message a member op's signature covers: the first
 * VOID_SM_MEMBER_SIGNED bytes of its encoding (msg). Cannot fail. */
void void_sm_member_op_message(const struct void_sm_member_op *op,
                               uint8_t msg[VOID_SM_MEMBER_SIGNED]);
/* Encodes op into buf[0..cap): VOID_SM_MEMBER_OP_SIZE or VOID_EFULL. Decodes
 * exactly len bytes: 0, VOID_ETRUNCATED, VOID_EBAD_LENGTH or VOID_EBAD_TYPE. */
int void_sm_member_op_encode(const struct void_sm_member_op *op, uint8_t *buf, size_t cap);
int void_sm_member_op_decode(const uint8_t *buf, size_t len, struct void_sm_member_op *op);

/* Encodes a certified REMOVE (op borrowed; 1 <= cert.count <= 64, items of
 * cert.epoch and cert.suspect) into buf[0..cap): returns
 * VOID_SM_MEMBER_CERT_SIZE(count), VOID_EINVAL (count 0 or too large) or
 * VOID_EFULL. Decodes exactly len bytes into *op (caller-owned): 0,
 * VOID_ETRUNCATED, VOID_EBAD_LENGTH, VOID_EBAD_TYPE (not a certified
 * REMOVE) or VOID_EBAD_FIELD (count 0 or above 64). Never asserts on input. */
/* JOIN: encodes j into buf[0..cap) (VOID_SM_MEMBER_JOIN_MAX is always
 * enough): the length, or VOID_EFULL / VOID_EBAD_FIELD (a string too long).
 * The signature covers the first length - 64 bytes: encode, sign those,
 * then copy the signature into the last 64 bytes. Decode returns 0,
 * VOID_ETRUNCATED, VOID_EBAD_LENGTH, VOID_EBAD_TYPE or VOID_EBAD_FIELD. */
int void_sm_member_join_encode(const struct void_sm_member_join *j, uint8_t *buf, size_t cap);
int void_sm_member_join_decode(const uint8_t *buf, size_t len, struct void_sm_member_join *j);
/* PROMOTE: VOID_SM_MEMBER_PROMOTE_SIZE bytes, the admin's signature over
 * the first VOID_SM_MEMBER_PROMOTE_SIGNED. Same returns as above. */
int void_sm_member_promote_encode(const struct void_sm_member_promote *p, uint8_t *buf, size_t cap);
int void_sm_member_promote_decode(const uint8_t *buf, size_t len, struct void_sm_member_promote *p);
/* What a learner signs to show how far it is: u32 id | u64 executed. */
void void_sm_member_progress_message(uint32_t id,
                                     uint64_t executed,
                                     uint8_t msg[VOID_SM_MEMBER_PROGRESS_SIZE]);

int void_sm_member_cert_encode(const struct void_sm_member_cert *op, uint8_t *buf, size_t cap);
int void_sm_member_cert_decode(const uint8_t *buf, size_t len, struct void_sm_member_cert *op);

/* Encodes the REMOVE of k suspects (certs[0..k), each borrowed, all of one
 * epoch, suspects distinct is the state machine's to check) into
 * buf[0..cap): returns the length, VOID_EINVAL (k 0 or above
 * VOID_SM_MEMBER_CERTS_MAX, a count 0 or above 64, or epochs that differ)
 * or VOID_EFULL. */
int void_sm_member_certs_encode(const struct void_sm_member_cert *const *certs,
                                uint32_t k,
                                uint8_t *buf,
                                size_t cap);
/* Checks the whole layout of exactly len bytes, sets *k to the number of
 * suspects and decodes section `index` into *op (caller-owned; one section
 * at a time keeps the state machine's stack small). Returns 0,
 * VOID_ETRUNCATED, VOID_EBAD_LENGTH, VOID_EBAD_TYPE (not a several-suspect
 * REMOVE), VOID_EBAD_FIELD (k or a count 0 or too large) or VOID_ERANGE
 * (index >= k; *k is set). Never asserts on input. */
int void_sm_member_certs_decode(const uint8_t *buf,
                                size_t len,
                                uint32_t index,
                                uint32_t *k,
                                struct void_sm_member_cert *op);

/* Operation and result encoding, for clients. Encoders return the length
 * written, or VOID_EINVAL (key empty or too long, value too long) or
 * VOID_EFULL (cap too small). Decoders point into buf (borrowed) and return 0,
 * VOID_ETRUNCATED, VOID_EBAD_TYPE (unknown kind) or VOID_EBAD_LENGTH. */
int void_sm_op_encode(const struct void_sm_op *op, uint8_t *buf, size_t cap);
int void_sm_op_decode(const uint8_t *buf, size_t len, struct void_sm_op *op);
int void_sm_result_encode(const struct void_sm_result *res, uint8_t *buf, size_t cap);
int void_sm_result_decode(const uint8_t *buf, size_t len, struct void_sm_result *res);

#endif
