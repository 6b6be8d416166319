/*
 * The LMDB store (include/void/kvs.h) that the daemon runs the state machine
 * on; layout and durability argued in docs/kvs.md.
 *
 * One environment, named tables:
 *   versions  key-hash(32) || hlc(12)        -> deleted(1) || entry hash(32) || value
 *   vhash     key-hash(32) || hlc(12)        -> entry hash(32)  (the bucket digest's input)
 *   keys      key-hash(32)                   -> key bytes
 *   names     node(32) || chunk || flag(1)   -> (empty)   ordered index of the keys
 *   shadow    t(12) || key-hash(32) || t0(12) -> (empty)  version t0 hidden from horizon t
 *   clients   id-hash(32)                    -> id(8) reqno(8) seen(12) hash(32) reply
 *   seen      seen(12) || id(8)              -> (empty)   expiry index
 *   buckets   bucket(2)                      -> digest(32) (non-empty buckets only;
 *             a bucket marked in meta "unflushed" may be stale: flush_buckets)
 *   meta      "format" -> "VKS1", "state" -> counters, horizon, last, label,
 *             "loading" -> "1" while a load is committed in parts (stats.partial),
 *             "unflushed" -> bitmap(512): buckets whose row lags the data
 *   stage     bucket(2)                      -> partition bytes (state transfer;
 *             not in the digest, emptied at open)
 *
 * Versions are keyed by the key's hash, so a point read is one B+tree seek
 * on (hash, as_of) and a bucket's entries are contiguous, in the canonical
 * order of the bucket digest. Key order for scans comes from "names", a trie
 * over 464-byte chunks of the key: LMDB keys are limited to 511 bytes and
 * ours go to 4 KiB. A key of up to 464 bytes is one entry under the root
 * node (32 zero bytes); a longer key's chunks hang below nodes named by the
 * SHA-256 of the prefix they continue. Within a node, entries sort by chunk
 * then flag (0 = a key ends here, 1 = keys continue below), which is the
 * byte order of the full keys (argued in docs/kvs.md), so a depth-first walk
 * yields keys in order.
 */
#include "core/kvs_int.h"
#include "void/assert.h"
#include "void/bytes.h"
#include "void/error.h"
#include "void/hash.h"
#include "void/kvs.h"

#include <errno.h>
#include <lmdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* The mutant VOID_MUTANT_NO_FSYNC (CMakeLists.txt; scripts/chaos-powerloss)
 * never syncs the state store (which runs MDB_NOSYNC and syncs at a
 * checkpoint): a checkpoint then truncates the record log of batches whose
 * state is only in the page cache. */
#if defined(VOID_MUTANT_NO_FSYNC) && VOID_MUTANT_NO_FSYNC
#define state_sync(env) ((void)(env), 0)
#else
#define state_sync(env) mdb_env_sync((env), 1)
#endif

#define H            VOID_KVS_DIGEST_SIZE
#define TS           VOID_HLC_ENCODED_SIZE
#define CHUNK        464u
#define VHDR         (1u + H)           /* version value header */
#define CHDR         (8u + 8u + TS + H) /* client value header */
#define NAME_MAX_LEN (H + CHUNK + 1u)
#define STATE_LEN    (8u * 4u + 2u * TS + 8u)
#define DEPTH_MAX    ((VOID_KVS_KEY_MAX + CHUNK - 1u) / CHUNK)
/* Unflushed bucket rows that make a batch's commit write them all. */
#define UNFLUSHED_MAX (VOID_KVS_BUCKETS / 4u)

_Static_assert(NAME_MAX_LEN <= 511, "names entries fit LMDB's default key limit");

/* A snapshot: a read-only transaction held open (LMDB's MVCC keeps what it
 * sees), with the counters and state digest of the moment it began. */
struct lsnap {
    MDB_txn *txn;
    struct void_kvs_stats st;
    uint8_t digest[VOID_KVS_DIGEST_SIZE];
};

struct lm {
    MDB_env *env;
    MDB_dbi versions, vhash, keys, names, shadow, clients, seen, buckets, meta, stage;
    MDB_txn *wtxn; /* the batch */
    MDB_txn *rtxn; /* reads outside a batch; reset between calls */
    int rtxn_live;
    int in_batch;
    int failed;
    struct void_hlc_ts batch;
    uint64_t quota;
    struct void_kvs_stats st, committed;
    uint64_t fault_after; /* test hook: the n-th write fails (0: never) */
    struct void__kvs_dirty dirty;
    uint8_t pending[VOID_KVS_BUCKETS][H];
    struct void__kvs_tree tree;
    /* Buckets whose "buckets" row lags the data (bit b of byte b / 8), as
     * committed in meta "unflushed"; unflushed_count bits are set. */
    uint8_t unflushed[VOID_KVS_BUCKETS / 8];
    uint32_t unflushed_count;
    uint8_t keybuf[VOID_KVS_KEY_MAX];
    struct lsnap *snaps[VOID_KVS_SNAPSHOTS_MAX]; /* NULL: free slot */
    int loading;                                 /* between load_begin and load_end */
    struct void_hlc_ts load_horizon;
};

static const struct void_hlc_ts hlc_max = {UINT64_MAX, UINT32_MAX};
static const uint8_t root_node[H] = {0};
static const MDB_val loading_key = {7, (void *)(uintptr_t) "loading"};

static int lm_err(int rc)
{
    switch (rc) {
    case 0:
        return 0;
    case MDB_MAP_FULL:
    case ENOSPC:
    case EDQUOT:
        return VOID_ENOSPC;
    case EACCES:
    case EPERM:
    case EROFS:
        return VOID_EPERM;
    case ENOENT:
    case ENOTDIR:
        return VOID_ENOTFOUND;
    case ENOMEM:
        return VOID_ENOMEM;
    case MDB_INVALID:
    case MDB_VERSION_MISMATCH:
    case MDB_CORRUPTED:
    case MDB_PAGE_NOTFOUND:
        return VOID_ECORRUPT;
    default:
        return VOID_EIO;
    }
}

/* A local failure: the batch is lost and the store answers rc from now on. */
static int fail(struct lm *l, int mdb_rc)
{
    int rc = lm_err(mdb_rc);
    VOID_ASSERT(rc != 0);
    if (l->wtxn != NULL) {
        mdb_txn_abort(l->wtxn);
        l->wtxn = NULL;
    }
    if (l->failed == 0) {
        l->failed = rc;
    }
    return l->failed;
}

/* The batch's writes, through the fault-injection countdown of the tests. */
static int injected(struct lm *l)
{
    return l->fault_after != 0 && --l->fault_after == 0;
}

static int lput(struct lm *l, MDB_dbi dbi, MDB_val *k, MDB_val *v, unsigned flags)
{
    VOID_ASSERT(l->wtxn != NULL);
    return injected(l) ? EIO : mdb_put(l->wtxn, dbi, k, v, flags);
}

static int ldel(struct lm *l, MDB_dbi dbi, MDB_val *k, MDB_val *v)
{
    VOID_ASSERT(l->wtxn != NULL);
    return injected(l) ? EIO : mdb_del(l->wtxn, dbi, k, v);
}

static int lcommit(struct lm *l)
{
    VOID_ASSERT(l->wtxn != NULL);
    if (injected(l)) {
        mdb_txn_abort(l->wtxn); /* as a failed mdb_txn_commit frees it */
        return EIO;
    }
    return mdb_txn_commit(l->wtxn);
}

/* The transaction reads go through: the batch's, or a renewed read-only one
 * (so a read sees the last commit and its pointers live until the next call). */
static int read_txn(struct lm *l, MDB_txn **txn)
{
    if (l->failed) {
        return l->failed;
    }
    if (l->in_batch) {
        *txn = l->wtxn;
        return 0;
    }
    int rc;
    if (l->rtxn == NULL) {
        rc = mdb_txn_begin(l->env, NULL, MDB_RDONLY, &l->rtxn);
    } else {
        if (l->rtxn_live) {
            mdb_txn_reset(l->rtxn);
        }
        rc = mdb_txn_renew(l->rtxn);
    }
    l->rtxn_live = rc == 0;
    if (rc != 0) {
        return lm_err(rc);
    }
    *txn = l->rtxn;
    return 0;
}

/* ---- versions ------------------------------------------------------------------ */

/* The newest version of hash h at or before as_of: 0, MDB_NOTFOUND or an
 * LMDB error. */
static int newest_at(MDB_txn *txn,
                     MDB_dbi dbi,
                     const uint8_t h[H],
                     struct void_hlc_ts as_of,
                     struct void_kvs_version *out)
{
    uint8_t kb[H + TS];
    memcpy(kb, h, H);
    void_hlc_encode(as_of, kb + H);
    MDB_cursor *c;
    int rc = mdb_cursor_open(txn, dbi, &c);
    if (rc != 0) {
        return rc;
    }
    MDB_val k = {sizeof(kb), kb}, v;
    rc = mdb_cursor_get(c, &k, &v, MDB_SET_RANGE);
    if (rc == 0 && (k.mv_size != sizeof(kb) || memcmp(k.mv_data, kb, sizeof(kb)) != 0)) {
        rc = mdb_cursor_get(c, &k, &v, MDB_PREV);
    } else if (rc == MDB_NOTFOUND) {
        rc = mdb_cursor_get(c, &k, &v, MDB_LAST);
    }
    if (rc == 0 && (k.mv_size != H + TS || memcmp(k.mv_data, h, H) != 0)) {
        rc = MDB_NOTFOUND;
    }
    if (rc == 0 && v.mv_size < VHDR) {
        rc = MDB_CORRUPTED;
    }
    if (rc == 0) {
        const uint8_t *p = v.mv_data;
        out->hlc = void_hlc_decode((const uint8_t *)k.mv_data + H);
        out->deleted = p[0];
        out->value = p + VHDR;
        out->value_len = v.mv_size - VHDR;
    }
    mdb_cursor_close(c);
    return rc;
}

/* ---- the names trie ----------------------------------------------------------------- */

static void node_id(const uint8_t *prefix, size_t len, uint8_t out[H])
{
    if (len == 0) {
        memset(out, 0, H);
        return;
    }
    struct void_hash_ctx c;
    void_hash_init(&c);
    void_hash_update(&c, "N", 1);
    void_hash_update(&c, prefix, len);
    void_hash_final(&c, out);
}

/* The names entry of chunk i of key (terminal when it is the last). */
static size_t name_entry(const uint8_t *key, size_t len, size_t i, uint8_t out[NAME_MAX_LEN])
{
    size_t off = i * CHUNK;
    VOID_ASSERT(off < len);
    size_t clen = len - off < CHUNK ? len - off : CHUNK;
    node_id(key, off, out);
    memcpy(out + H, key + off, clen);
    out[H + clen] = off + clen < len ? 1 : 0;
    return H + clen + 1;
}

static int names_insert(struct lm *l, const uint8_t *key, size_t len)
{
    uint8_t e[NAME_MAX_LEN];
    size_t n = (len + CHUNK - 1) / CHUNK;
    for (size_t i = 0; i < n; i++) {
        MDB_val k = {name_entry(key, len, i, e), e}, v = {0, NULL};
        int rc = lput(l, l->names, &k, &v, 0);
        if (rc != 0) {
            return rc;
        }
    }
    return 0;
}

/* 1 when node id has an entry, 0 when not, or an LMDB error (negative). */
static int node_used(struct lm *l, const uint8_t id[H])
{
    MDB_cursor *c;
    int rc = mdb_cursor_open(l->wtxn, l->names, &c);
    if (rc != 0) {
        return rc;
    }
    MDB_val k = {H, (void *)(uintptr_t)id}, v;
    rc = mdb_cursor_get(c, &k, &v, MDB_SET_RANGE);
    mdb_cursor_close(c);
    if (rc == MDB_NOTFOUND) {
        return 0;
    }
    if (rc != 0) {
        return rc;
    }
    return k.mv_size > H && memcmp(k.mv_data, id, H) == 0;
}

static int names_remove(struct lm *l, const uint8_t *key, size_t len)
{
    uint8_t e[NAME_MAX_LEN];
    size_t n = (len + CHUNK - 1) / CHUNK;
    MDB_val k = {name_entry(key, len, n - 1, e), e};
    int rc = ldel(l, l->names, &k, NULL);
    /* Remove the continuation entries of nodes left empty, bottom up. */
    for (size_t i = n - 1; rc == 0 && i >= 1; i--) {
        uint8_t id[H];
        node_id(key, i * CHUNK, id);
        rc = node_used(l, id);
        if (rc != 0) {
            return rc > 0 ? 0 : rc;
        }
        k = (MDB_val){name_entry(key, len, i - 1, e), e};
        rc = ldel(l, l->names, &k, NULL);
    }
    return rc;
}

/* ---- writes ------------------------------------------------------------------------ */

/* The vhash table mirrors every version's entry hash under the version's own
 * key, so that a commit rehashes a dirty bucket by walking 76-byte entries
 * instead of the versions with their values (docs/kvs.md, "The digest"). */
static int vhash_put(struct lm *l, const uint8_t vk[H + TS], const uint8_t eh[H])
{
    MDB_val k = {H + TS, (void *)(uintptr_t)vk}, v = {H, (void *)(uintptr_t)eh};
    return lput(l, l->vhash, &k, &v, 0);
}

/* Removes version vk's entry hash; a version without one is corruption. */
static int vhash_del(struct lm *l, const uint8_t vk[H + TS])
{
    MDB_val k = {H + TS, (void *)(uintptr_t)vk};
    int rc = ldel(l, l->vhash, &k, NULL);
    return rc == MDB_NOTFOUND ? MDB_CORRUPTED : rc;
}

static int shadow_put(struct lm *l, struct void_hlc_ts t, const uint8_t h[H], struct void_hlc_ts t0)
{
    uint8_t b[TS + H + TS];
    void_hlc_encode(t, b);
    memcpy(b + TS, h, H);
    void_hlc_encode(t0, b + TS + H);
    MDB_val k = {sizeof(b), b}, v = {0, NULL};
    return lput(l, l->shadow, &k, &v, 0);
}

static int write_version(
    struct lm *l, const uint8_t *key, size_t klen, int deleted, const uint8_t *value, size_t len)
{
    uint8_t h[H];
    void_kvs_key_hash(key, klen, h);
    struct void_kvs_version nv;
    int rc = newest_at(l->wtxn, l->versions, h, hlc_max, &nv);
    if (rc != 0 && rc != MDB_NOTFOUND) {
        return fail(l, rc);
    }
    int found = rc == 0;
    if (deleted && (!found || nv.deleted)) {
        return VOID_ENOTFOUND;
    }
    int replace = found && void_hlc_compare(nv.hlc, l->batch) == 0;
    uint64_t freed = replace ? void__kvs_version_cost(klen, nv.value_len) : 0;
    uint64_t added = void__kvs_version_cost(klen, len);
    if (!void__kvs_fits(l->st.bytes_used, freed, added, l->quota, deleted)) {
        return VOID_EFULL;
    }
    struct void_hlc_ts older = nv.hlc; /* nv's pointers die with the next write */
    uint8_t kb[H + TS];
    memcpy(kb, h, H);
    void_hlc_encode(l->batch, kb + H);
    uint8_t eh[H];
    void_kvs_version_hash(key, klen, l->batch, deleted, value, len, eh);
    MDB_val k = {sizeof(kb), kb}, v = {VHDR + len, NULL};
    rc = lput(l, l->versions, &k, &v, MDB_RESERVE);
    if (rc == 0) {
        uint8_t *p = v.mv_data;
        p[0] = deleted ? 1 : 0;
        memcpy(p + 1, eh, H);
        if (len > 0) {
            memcpy(p + VHDR, value, len);
        }
        rc = vhash_put(l, kb, eh);
    }
    if (rc == 0 && !found) {
        MDB_val hk = {H, h}, kv = {klen, (void *)(uintptr_t)key};
        rc = lput(l, l->keys, &hk, &kv, 0);
        if (rc == 0) {
            rc = names_insert(l, key, klen);
        }
        l->st.keys++;
    }
    if (rc == 0 && found && !replace) {
        rc = shadow_put(l, l->batch, h, older);
    }
    if (rc == 0 && deleted) {
        rc = shadow_put(l, l->batch, h, l->batch);
    }
    if (rc != 0) {
        return fail(l, rc);
    }
    l->st.versions += replace ? 0 : 1;
    l->st.bytes_used = l->st.bytes_used - freed + added;
    void__kvs_dirty_add(&l->dirty, void_kvs_bucket_of(h));
    return 0;
}

/* ---- batches ----------------------------------------------------------------------- */

static int lm_begin(void *impl, struct void_hlc_ts hlc, uint64_t label)
{
    struct lm *l = impl;
    VOID_ASSERT(!l->in_batch);
    if (l->failed) {
        return l->failed;
    }
    if (void_hlc_compare(hlc, l->st.last) <= 0) {
        return VOID_EINVAL;
    }
    if (l->rtxn_live) {
        mdb_txn_reset(l->rtxn);
        l->rtxn_live = 0;
    }
    int rc = mdb_txn_begin(l->env, NULL, 0, &l->wtxn);
    if (rc != 0) {
        return fail(l, rc);
    }
    l->in_batch = 1;
    l->batch = hlc;
    l->st.last = hlc;
    l->st.applied = label;
    VOID_ASSERT(l->dirty.count == 0);
    return 0;
}

static void state_encode(const struct void_kvs_stats *st, uint8_t b[STATE_LEN])
{
    void_bytes_put_be64(b, st->bytes_used);
    void_bytes_put_be64(b + 8, st->keys);
    void_bytes_put_be64(b + 16, st->versions);
    void_bytes_put_be64(b + 24, st->clients);
    void_hlc_encode(st->horizon, b + 32);
    void_hlc_encode(st->last, b + 32 + TS);
    void_bytes_put_be64(b + 32 + 2 * TS, st->applied);
}

static void state_decode(const uint8_t b[STATE_LEN], struct void_kvs_stats *st)
{
    st->bytes_used = void_bytes_get_be64(b);
    st->keys = void_bytes_get_be64(b + 8);
    st->versions = void_bytes_get_be64(b + 16);
    st->clients = void_bytes_get_be64(b + 24);
    st->horizon = void_hlc_decode(b + 32);
    st->last = void_hlc_decode(b + 32 + TS);
    st->applied = void_bytes_get_be64(b + 32 + 2 * TS);
}

/* Positions c at the first entry of bucket b in a table keyed by a hash. */
static int seek_bucket(MDB_cursor *c, uint32_t b, MDB_val *k, MDB_val *v)
{
    uint8_t lo[2] = {(uint8_t)(b >> 4), (uint8_t)((b & 15u) << 4)};
    *k = (MDB_val){sizeof(lo), lo};
    int rc = mdb_cursor_get(c, k, v, MDB_SET_RANGE);
    if (rc == 0 && (k->mv_size < H || void_kvs_bucket_of(k->mv_data) != b)) {
        rc = MDB_NOTFOUND;
    }
    return rc;
}

/* Walks bucket b of table dbi; calls each(arg, key, value) per entry. */
static int walk_bucket(MDB_txn *txn,
                       MDB_dbi dbi,
                       uint32_t b,
                       int (*each)(void *arg, const MDB_val *k, const MDB_val *v),
                       void *arg)
{
    MDB_cursor *c;
    int rc = mdb_cursor_open(txn, dbi, &c);
    if (rc != 0) {
        return rc;
    }
    MDB_val k, v;
    for (rc = seek_bucket(c, b, &k, &v); rc == 0; rc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
        if (k.mv_size < H || void_kvs_bucket_of(k.mv_data) != b) {
            break;
        }
        if ((rc = each(arg, &k, &v)) != 0) {
            break;
        }
    }
    mdb_cursor_close(c);
    return rc == MDB_NOTFOUND ? 0 : rc;
}

/* One entry of the vhash table: the version's entry hash. */
static int add_version_hash(void *arg, const MDB_val *k, const MDB_val *v)
{
    if (k->mv_size != H + TS || v->mv_size != H) {
        return MDB_CORRUPTED;
    }
    void_kvs_bucket_add_version(arg, v->mv_data);
    return 0;
}

static int add_client_hash(void *arg, const MDB_val *k, const MDB_val *v)
{
    (void)k;
    if (v->mv_size < CHDR) {
        return MDB_CORRUPTED;
    }
    void_kvs_bucket_add_client(arg, (const uint8_t *)v->mv_data + 8 + 8 + TS);
    return 0;
}

/* Bucket b's digest into its "buckets" row: no row for an empty bucket
 * (its digest is zero, void_kvs_bucket_final). */
static int bucket_row_put(struct lm *l, uint32_t b, const uint8_t digest[H])
{
    static const uint8_t zero[H] = {0};
    VOID_ASSERT(b < VOID_KVS_BUCKETS);
    uint8_t bk[2];
    void_bytes_put_be16(bk, (uint16_t)b);
    MDB_val k = {2, bk}, v = {H, (void *)(uintptr_t)digest};
    if (memcmp(digest, zero, H) == 0) {
        int rc = ldel(l, l->buckets, &k, NULL);
        return rc == MDB_NOTFOUND ? 0 : rc;
    }
    return lput(l, l->buckets, &k, &v, 0);
}

static int unflushed_has(const uint8_t *bits, uint32_t b)
{
    return (bits[b >> 3] >> (b & 7u)) & 1u;
}

/* Writes meta "unflushed" (the key goes once no bit is set, so a store
 * without lagging rows reads as before the bitmap existed). */
static int unflushed_put(struct lm *l, const uint8_t *bits, uint32_t count)
{
    MDB_val k = {9, (void *)(uintptr_t) "unflushed"},
            v = {VOID_KVS_BUCKETS / 8, (void *)(uintptr_t)bits};
    if (count == 0) {
        int rc = ldel(l, l->meta, &k, NULL);
        return rc == MDB_NOTFOUND ? 0 : rc;
    }
    return lput(l, l->meta, &k, &v, 0);
}

/* In the write transaction: the rows of the batch's dirty buckets (digests
 * in l->pending), and with `all` those of every bucket still unflushed
 * (digests in the tree: unchanged by this batch). Without `all`, a batch's
 * dirty buckets are only marked in meta "unflushed", which shares the page
 * of the counters that every commit writes anyway: their rows, about one
 * random leaf page of the table per request, were a quarter of the pages a
 * commit wrote (bench/README.md, kv_put). The digests live in the tree; a
 * marked row is rewritten at the next snapshot (checkpoints take one), once
 * UNFLUSHED_MAX rows lag, or at close, and recomputed from the data at open
 * (load), so "buckets" plus the marks always give the data's digests. */
static int commit_buckets(struct lm *l, uint8_t *bits, uint32_t *count)
{
    memcpy(bits, l->unflushed, sizeof(l->unflushed));
    *count = l->unflushed_count;
    for (uint32_t i = 0; i < l->dirty.count; i++) {
        uint32_t b = l->dirty.list[i];
        *count += unflushed_has(bits, b) ? 0u : 1u;
        bits[b >> 3] = (uint8_t)(bits[b >> 3] | 1u << (b & 7u));
    }
    int all = *count >= UNFLUSHED_MAX;
    int rc = 0;
    for (uint32_t i = 0; all && i < l->dirty.count && rc == 0; i++) {
        uint32_t b = l->dirty.list[i];
        rc = bucket_row_put(l, b, l->pending[i]);
        bits[b >> 3] = (uint8_t)(bits[b >> 3] & ~(1u << (b & 7u)));
    }
    for (uint32_t b = 0; all && b < VOID_KVS_BUCKETS && rc == 0; b++) {
        if (unflushed_has(bits, b)) {
            rc = bucket_row_put(l, b, l->tree.digest[b]);
            bits[b >> 3] = (uint8_t)(bits[b >> 3] & ~(1u << (b & 7u)));
        }
    }
    *count = all ? 0 : *count;
    VOID_ASSERT(*count <= VOID_KVS_BUCKETS);
    return rc != 0 ? rc : unflushed_put(l, bits, *count);
}

static int lm_commit(void *impl)
{
    struct lm *l = impl;
    VOID_ASSERT(l->in_batch && !l->loading);
    l->in_batch = 0;
    int rc = 0;
    for (uint32_t i = 0; i < l->dirty.count && rc == 0 && !l->failed; i++) {
        uint32_t b = l->dirty.list[i];
        struct void_kvs_bucket_ctx c;
        void_kvs_bucket_init(&c, b);
        rc = walk_bucket(l->wtxn, l->vhash, b, add_version_hash, &c);
        if (rc == 0) {
            rc = walk_bucket(l->wtxn, l->clients, b, add_client_hash, &c);
        }
        if (rc != 0) {
            break;
        }
        void_kvs_bucket_final(&c, l->pending[i]);
    }
    uint8_t bits[VOID_KVS_BUCKETS / 8];
    uint32_t count = 0;
    if (rc == 0 && !l->failed) {
        rc = commit_buckets(l, bits, &count);
    }
    if (rc == 0 && !l->failed) {
        uint8_t sb[STATE_LEN];
        state_encode(&l->st, sb);
        MDB_val k = {5, (void *)(uintptr_t) "state"}, v = {sizeof(sb), sb};
        rc = lput(l, l->meta, &k, &v, 0);
    }
    if (rc == 0 && !l->failed) {
        rc = lcommit(l);
        l->wtxn = NULL;
    }
    if (rc != 0 || l->failed) {
        void__kvs_dirty_clear(&l->dirty);
        return rc != 0 ? fail(l, rc) : l->failed;
    }
    memcpy(l->unflushed, bits, sizeof(bits));
    l->unflushed_count = count;
    void__kvs_tree_set_many(
        &l->tree, l->dirty.list, (const uint8_t(*)[H])l->pending, l->dirty.count);
    void__kvs_dirty_clear(&l->dirty);
    l->committed = l->st;
    return 0;
}

/* Outside a batch: one transaction that rewrites every unflushed bucket row
 * from the tree (commit_buckets), so that a snapshot reads current rows. */
static int flush_buckets(struct lm *l)
{
    VOID_ASSERT(!l->in_batch && l->wtxn == NULL);
    if (l->unflushed_count == 0) {
        return 0;
    }
    if (l->rtxn_live) {
        mdb_txn_reset(l->rtxn);
        l->rtxn_live = 0;
    }
    int rc = mdb_txn_begin(l->env, NULL, 0, &l->wtxn);
    if (rc != 0) {
        return fail(l, rc);
    }
    for (uint32_t b = 0; b < VOID_KVS_BUCKETS && rc == 0; b++) {
        if (unflushed_has(l->unflushed, b)) {
            rc = bucket_row_put(l, b, l->tree.digest[b]);
        }
    }
    static const uint8_t none[VOID_KVS_BUCKETS / 8];
    rc = rc == 0 ? unflushed_put(l, none, 0) : rc;
    if (rc == 0) {
        rc = lcommit(l);
    } else {
        mdb_txn_abort(l->wtxn);
    }
    l->wtxn = NULL;
    if (rc != 0) {
        return fail(l, rc);
    }
    memset(l->unflushed, 0, sizeof(l->unflushed));
    l->unflushed_count = 0;
    return 0;
}

/* ---- ops ----------------------------------------------------------------------------- */

static int lm_put(void *impl, const uint8_t *key, size_t klen, const uint8_t *value, size_t len)
{
    struct lm *l = impl;
    VOID_ASSERT(l->in_batch && !l->loading);
    if (l->failed) {
        return l->failed;
    }
    if (void__kvs_check_key(key, klen) != 0 || len > VOID_KVS_VALUE_MAX ||
        (value == NULL && len != 0)) {
        return VOID_EINVAL;
    }
    return write_version(l, key, klen, 0, value, len);
}

static int lm_del(void *impl, const uint8_t *key, size_t klen)
{
    struct lm *l = impl;
    VOID_ASSERT(l->in_batch && !l->loading);
    if (l->failed) {
        return l->failed;
    }
    if (void__kvs_check_key(key, klen) != 0) {
        return VOID_EINVAL;
    }
    return write_version(l, key, klen, 1, NULL, 0);
}

static int lm_get(void *impl,
                  const uint8_t *key,
                  size_t klen,
                  const struct void_hlc_ts *as_of,
                  struct void_kvs_version *out)
{
    struct lm *l = impl;
    VOID_ASSERT(out != NULL);
    memset(out, 0, sizeof(*out));
    int rc = void__kvs_check_key(key, klen);
    if (rc == 0) {
        rc = void__kvs_check_read(NULL, as_of, l->st.horizon);
    }
    MDB_txn *txn = NULL;
    if (rc == 0) {
        rc = read_txn(l, &txn);
    }
    if (rc != 0) {
        return rc;
    }
    uint8_t h[H];
    void_kvs_key_hash(key, klen, h);
    rc = newest_at(txn, l->versions, h, as_of != NULL ? *as_of : hlc_max, out);
    if (rc == MDB_NOTFOUND) {
        return VOID_ENOTFOUND;
    }
    return rc == 0 ? 0 : fail(l, rc);
}

/* A depth-first walk of the names trie in key order (walk_node); each key
 * in the range goes to step, which emits it or not. */
struct scan;
typedef int (*scan_step_fn)(struct scan *s, const uint8_t *key, size_t klen, const uint8_t h[H]);
struct scan {
    scan_step_fn step;          /* scan_step (scans) or changes_step (a view's changes) */
    struct void_kvs_view *view; /* changes_step's */
    struct lm *l;
    MDB_txn *txn;
    uint8_t *kb; /* the key being built: the store's, or a view's own */
    const struct void_kvs_range *r;
    struct void_hlc_ts at;
    size_t limit;
    void_kvs_scan_fn fn;
    void *arg;
    size_t *emitted;
    int *more;
    int done;
    int cb_rc; /* the callback's answer that stopped the walk */
};

/* A scan's step: the key's newest version at s->at, unless it is deleted. */
static int scan_step(struct scan *s, const uint8_t *key, size_t klen, const uint8_t h[H])
{
    struct void_kvs_version ver;
    int rc = newest_at(s->txn, s->l->versions, h, s->at, &ver);
    if (rc == MDB_NOTFOUND || (rc == 0 && ver.deleted)) {
        return 0;
    }
    if (rc != 0) {
        return rc;
    }
    if (s->limit != 0 && *s->emitted == s->limit) {
        *s->more = 1;
        s->done = 1;
        return 0;
    }
    (*s->emitted)++;
    if ((s->cb_rc = s->fn(s->arg, key, klen, &ver)) != 0) {
        s->done = 1;
    }
    return 0;
}

static int walk_node(struct scan *s, const uint8_t id[H], size_t plen, int bounded)
{
    uint8_t *kb = s->kb;
    const struct void_kvs_range *r = s->r;
    uint8_t seek[NAME_MAX_LEN];
    size_t seek_len = H;
    memcpy(seek, id, H);
    if (bounded && r->start_len > plen) {
        size_t n = r->start_len - plen < CHUNK ? r->start_len - plen : CHUNK;
        memcpy(seek + H, r->start + plen, n);
        seek_len += n;
    }
    MDB_cursor *c;
    int rc = mdb_cursor_open(s->txn, s->l->names, &c);
    if (rc != 0) {
        return rc;
    }
    MDB_val k = {seek_len, seek}, v;
    for (rc = mdb_cursor_get(c, &k, &v, MDB_SET_RANGE); rc == 0 && !s->done;
         rc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
        const uint8_t *e = k.mv_data;
        if (k.mv_size < H + 2 || memcmp(e, id, H) != 0) {
            break;
        }
        size_t clen = k.mv_size - H - 1;
        if (clen > CHUNK || plen + clen > VOID_KVS_KEY_MAX) {
            rc = MDB_CORRUPTED;
            break;
        }
        memcpy(kb + plen, e + H, clen);
        size_t klen = plen + clen;
        if (e[H + clen] == 1) {
            if (!void__kvs_below_end(r, kb, klen)) {
                s->done = 1; /* every key below is after this prefix, so past the end */
                break;
            }
            uint8_t child[H];
            node_id(kb, klen, child);
            int b = bounded && r != NULL && r->start != NULL && r->start_len > klen &&
                    memcmp(r->start + plen, e + H, clen) == 0;
            if ((rc = walk_node(s, child, klen, b)) != 0) {
                break;
            }
            continue;
        }
        if (!void__kvs_after_start(r, kb, klen)) {
            continue;
        }
        if (!void__kvs_below_end(r, kb, klen)) {
            s->done = 1;
            break;
        }
        uint8_t h[H];
        void_kvs_key_hash(kb, klen, h);
        if ((rc = s->step(s, kb, klen, h)) != 0 || s->done) {
            break;
        }
    }
    mdb_cursor_close(c);
    return rc == MDB_NOTFOUND ? 0 : rc;
}

static int lm_scan(void *impl,
                   const struct void_kvs_range *r,
                   const struct void_hlc_ts *as_of,
                   size_t limit,
                   void_kvs_scan_fn fn,
                   void *arg,
                   size_t *emitted,
                   int *more)
{
    struct lm *l = impl;
    VOID_ASSERT(fn != NULL && emitted != NULL && more != NULL);
    *emitted = 0;
    *more = 0;
    int rc = void__kvs_check_read(r, as_of, l->st.horizon);
    MDB_txn *txn = NULL;
    if (rc == 0) {
        rc = read_txn(l, &txn);
    }
    if (rc != 0) {
        return rc;
    }
    struct scan s = {scan_step,
                     NULL,
                     l,
                     txn,
                     l->keybuf,
                     r,
                     as_of != NULL ? *as_of : hlc_max,
                     limit,
                     fn,
                     arg,
                     emitted,
                     more,
                     0,
                     0};
    rc = walk_node(&s, root_node, 0, r != NULL && r->start != NULL);
    return rc != 0 ? fail(l, rc) : s.cb_rc;
}

/* ---- views: reads from another thread (include/void/kvs.h) ----------------------- */

static const struct void_kvs_ops lm_ops; /* defined with the ops below */

struct void_kvs_view {
    struct lm *l; /* only its environment and table handles, fixed since open */
    MDB_txn *txn;
    struct void_kvs_stats st; /* as the transaction sees the "state" record */
    uint8_t kb[VOID_KVS_KEY_MAX];
    /* void_kvs_view_changes: the walk's callback and its interval */
    void_kvs_change_fn change_fn;
    void *change_arg;
    struct void_hlc_ts from;
};

int void_kvs_lmdb_view_open(struct void_kvs *kvs, struct void_kvs_view **out)
{
    VOID_ASSERT(kvs != NULL && kvs->ops == &lm_ops && out != NULL);
    struct lm *l = kvs->impl;
    *out = NULL;
    struct void_kvs_view *v = calloc(1, sizeof(*v));
    if (v == NULL) {
        return VOID_ENOMEM;
    }
    v->l = l;
    /* MDB_NOTLS (set at open): a read transaction of any thread, beside the
     * owner's batches; it sees the last commit and keeps it while open. */
    int rc = mdb_txn_begin(l->env, NULL, MDB_RDONLY, &v->txn);
    MDB_val k = {5, (void *)(uintptr_t) "state"}, val;
    if (rc == 0) {
        rc = mdb_get(v->txn, l->meta, &k, &val);
        rc = rc == 0 && val.mv_size != STATE_LEN ? MDB_CORRUPTED : rc;
    }
    int partial = 0;
    if (rc == 0) {
        /* A state transfer's install between two of its commits: a mix of
         * two states, which no answer may be read from. */
        MDB_val lk = loading_key, lv;
        int lrc = mdb_get(v->txn, l->meta, &lk, &lv);
        partial = lrc == 0;
        rc = lrc == MDB_NOTFOUND ? 0 : lrc;
    }
    if (rc != 0 || partial) {
        if (v->txn != NULL) {
            mdb_txn_abort(v->txn);
        }
        free(v);
        return partial ? VOID_EBUSY : rc == MDB_NOTFOUND ? VOID_ECORRUPT : lm_err(rc);
    }
    state_decode(val.mv_data, &v->st);
    v->st.quota = l->quota;
    *out = v;
    return 0;
}

void void_kvs_view_stats(const struct void_kvs_view *v, struct void_kvs_stats *out)
{
    VOID_ASSERT(v != NULL && out != NULL);
    *out = v->st;
}

int void_kvs_view_scan(struct void_kvs_view *v,
                       const struct void_kvs_range *r,
                       const struct void_hlc_ts *as_of,
                       size_t limit,
                       void_kvs_scan_fn fn,
                       void *arg,
                       size_t *emitted,
                       int *more)
{
    VOID_ASSERT(v != NULL && v->txn != NULL);
    VOID_ASSERT(fn != NULL && emitted != NULL && more != NULL);
    *emitted = 0;
    *more = 0;
    int rc = void__kvs_check_read(r, as_of, v->st.horizon);
    if (rc != 0) {
        return rc;
    }
    struct scan s = {scan_step,
                     NULL,
                     v->l,
                     v->txn,
                     v->kb,
                     r,
                     as_of != NULL ? *as_of : hlc_max,
                     limit,
                     fn,
                     arg,
                     emitted,
                     more,
                     0,
                     0};
    rc = walk_node(&s, root_node, 0, r != NULL && r->start != NULL);
    return rc != 0 ? lm_err(rc) : s.cb_rc;
}

/* Whether a key's state differs between its version at `from` (was) and at
 * `to` (now): live against dead, or another value. NULL: no version. */
static int state_differs(const struct void_kvs_version *was, const struct void_kvs_version *now)
{
    int was_live = was != NULL && !was->deleted, now_live = now != NULL && !now->deleted;
    if (was_live != now_live) {
        return 1;
    }
    return was_live &&
           (was->value_len != now->value_len ||
            (was->value_len != 0 && memcmp(was->value, now->value, was->value_len) != 0));
}

/* A view's changes step: the key's state at s->at (to) against its state
 * at the view's from; emitted only when they differ (walk_node visits every
 * stored key, dead ones too). */
static int changes_step(struct scan *s, const uint8_t *key, size_t klen, const uint8_t h[H])
{
    struct void_kvs_view *v = s->view;
    struct void_kvs_version now;
    int rc = newest_at(s->txn, v->l->versions, h, s->at, &now);
    if (rc != 0 && rc != MDB_NOTFOUND) {
        return rc;
    }
    const struct void_kvs_version *np = rc == 0 ? &now : NULL;
    if (np != NULL && void_hlc_compare(now.hlc, v->from) <= 0) {
        return 0; /* no version in (from, to]: unchanged */
    }
    struct void_kvs_version was;
    rc = newest_at(s->txn, v->l->versions, h, v->from, &was);
    if (rc != 0 && rc != MDB_NOTFOUND) {
        return rc;
    }
    const struct void_kvs_version *wp = rc == 0 ? &was : NULL;
    if (!state_differs(wp, np)) {
        return 0; /* rewritten with the same value, or born and gone within */
    }
    if (s->limit != 0 && *s->emitted == s->limit) {
        *s->more = 1;
        s->done = 1;
        return 0;
    }
    (*s->emitted)++;
    const struct void_kvs_version *wl = wp != NULL && !wp->deleted ? wp : NULL;
    const struct void_kvs_version *nl = np != NULL && !np->deleted ? np : NULL;
    if ((s->cb_rc = v->change_fn(v->change_arg, key, klen, wl, nl)) != 0) {
        s->done = 1;
    }
    return 0;
}

int void_kvs_view_changes(struct void_kvs_view *v,
                          const struct void_kvs_range *r,
                          struct void_hlc_ts from,
                          struct void_hlc_ts to,
                          size_t limit,
                          void_kvs_change_fn fn,
                          void *arg,
                          size_t *emitted,
                          int *more)
{
    VOID_ASSERT(v != NULL && v->txn != NULL);
    VOID_ASSERT(fn != NULL && emitted != NULL && more != NULL);
    *emitted = 0;
    *more = 0;
    if (void_hlc_compare(from, to) > 0) {
        return VOID_EINVAL;
    }
    int rc = void__kvs_check_read(r, &from, v->st.horizon);
    if (rc != 0) {
        return rc;
    }
    v->change_fn = fn;
    v->change_arg = arg;
    v->from = from;
    struct scan s = {
        changes_step, v, v->l, v->txn, v->kb, r, to, limit, NULL, NULL, emitted, more, 0, 0};
    rc = walk_node(&s, root_node, 0, r != NULL && r->start != NULL);
    return rc != 0 ? lm_err(rc) : s.cb_rc;
}

void void_kvs_view_close(struct void_kvs_view *v)
{
    if (v == NULL) {
        return;
    }
    mdb_txn_abort(v->txn);
    free(v);
}

/* ---- retention ------------------------------------------------------------------------ */

/* Applies shadow entry (t, h, t0): drops version t0 of hash h when it is
 * still there and still hidden at t (a tombstone when t == t0, else the
 * version at t still exists), and the key when nothing is left of it. */
static int
drop_version(struct lm *l, struct void_hlc_ts t, const uint8_t h[H], struct void_hlc_ts t0)
{
    uint8_t vk[H + TS];
    memcpy(vk, h, H);
    int own = void_hlc_compare(t, t0) == 0;
    MDB_val k = {sizeof(vk), vk}, v;
    int rc = 0;
    if (!own) {
        /* The hiding version must still be there: after a bucket was
         * replaced by a load, an entry of the old contents must not drop a
         * version of the new (docs/kvs.md, "Loading"). */
        void_hlc_encode(t, vk + H);
        rc = mdb_get(l->wtxn, l->versions, &k, &v);
        if (rc != 0) {
            return rc == MDB_NOTFOUND ? 0 : rc;
        }
    }
    void_hlc_encode(t0, vk + H);
    rc = mdb_get(l->wtxn, l->versions, &k, &v);
    if (rc == MDB_NOTFOUND) {
        return 0; /* already dropped, or replaced within its batch */
    }
    if (rc == 0 && v.mv_size < VHDR) {
        rc = MDB_CORRUPTED;
    }
    if (rc != 0 || (own && ((const uint8_t *)v.mv_data)[0] == 0)) {
        return rc;
    }
    size_t vlen = v.mv_size - VHDR;
    MDB_val hk = {H, (void *)(uintptr_t)h}, kv;
    if ((rc = mdb_get(l->wtxn, l->keys, &hk, &kv)) != 0 ||
        (rc = ldel(l, l->versions, &k, NULL)) != 0 || (rc = vhash_del(l, vk)) != 0) {
        return rc == MDB_NOTFOUND ? MDB_CORRUPTED : rc;
    }
    l->st.bytes_used -= void__kvs_version_cost(kv.mv_size, vlen);
    l->st.versions--;
    void__kvs_dirty_add(&l->dirty, void_kvs_bucket_of(h));
    struct void_kvs_version left;
    rc = newest_at(l->wtxn, l->versions, h, hlc_max, &left);
    if (rc != MDB_NOTFOUND) {
        return rc;
    }
    /* Nothing left of the key: the name goes too. kv lives in the txn's
     * pages until they change, so copy it before the deletes. */
    size_t klen = kv.mv_size;
    if (klen == 0 || klen > VOID_KVS_KEY_MAX) {
        return MDB_CORRUPTED;
    }
    memcpy(l->keybuf, kv.mv_data, klen);
    if ((rc = ldel(l, l->keys, &hk, NULL)) != 0 || (rc = names_remove(l, l->keybuf, klen)) != 0) {
        return rc == MDB_NOTFOUND ? MDB_CORRUPTED : rc;
    }
    l->st.keys--;
    return 0;
}

static int lm_compact(void *impl, struct void_hlc_ts horizon)
{
    struct lm *l = impl;
    VOID_ASSERT(l->in_batch && !l->loading);
    if (l->failed) {
        return l->failed;
    }
    if (void_hlc_compare(horizon, l->batch) > 0) {
        return VOID_EINVAL;
    }
    if (void_hlc_compare(horizon, l->st.horizon) <= 0) {
        return 0;
    }
    l->st.horizon = horizon;
    MDB_cursor *c;
    int rc = mdb_cursor_open(l->wtxn, l->shadow, &c);
    if (rc != 0) {
        return fail(l, rc);
    }
    MDB_val k, v;
    while ((rc = mdb_cursor_get(c, &k, &v, MDB_FIRST)) == 0) {
        if (k.mv_size != TS + H + TS) {
            rc = MDB_CORRUPTED;
            break;
        }
        uint8_t e[TS + H + TS];
        memcpy(e, k.mv_data, sizeof(e));
        struct void_hlc_ts t = void_hlc_decode(e), t0 = void_hlc_decode(e + TS + H);
        if (void_hlc_compare(t, horizon) > 0) {
            break;
        }
        if ((rc = mdb_cursor_del(c, 0)) != 0 || (rc = drop_version(l, t, e + TS, t0)) != 0) {
            break;
        }
    }
    mdb_cursor_close(c);
    return rc == 0 || rc == MDB_NOTFOUND ? 0 : fail(l, rc);
}

/* ---- clients ---------------------------------------------------------------------------- */

static int client_decode(const MDB_val *v, struct void_kvs_client *out)
{
    if (v->mv_size < CHDR) {
        return MDB_CORRUPTED;
    }
    const uint8_t *p = v->mv_data;
    out->id = void_bytes_get_be64(p);
    out->reqno = void_bytes_get_be64(p + 8);
    out->last_seen = void_hlc_decode(p + 16);
    out->reply = p + CHDR;
    out->reply_len = v->mv_size - CHDR;
    return 0;
}

static int seen_del(struct lm *l, struct void_hlc_ts seen, uint64_t id)
{
    uint8_t b[TS + 8];
    void_hlc_encode(seen, b);
    void_bytes_put_be64(b + TS, id);
    MDB_val k = {sizeof(b), b};
    int rc = ldel(l, l->seen, &k, NULL);
    return rc == MDB_NOTFOUND ? MDB_CORRUPTED : rc;
}

static int lm_client_put(void *impl, uint64_t id, uint64_t reqno, const uint8_t *reply, size_t len)
{
    struct lm *l = impl;
    VOID_ASSERT(l->in_batch && !l->loading);
    if (l->failed) {
        return l->failed;
    }
    if (len > VOID_KVS_REPLY_MAX || (reply == NULL && len != 0)) {
        return VOID_EINVAL;
    }
    uint8_t h[H];
    void_kvs_client_id_hash(id, h);
    MDB_val k = {H, h}, v;
    struct void_kvs_client old;
    int rc = mdb_get(l->wtxn, l->clients, &k, &v);
    int found = rc == 0;
    if (rc == 0) {
        rc = client_decode(&v, &old);
    }
    if (rc != 0 && rc != MDB_NOTFOUND) {
        return fail(l, rc);
    }
    uint64_t freed = found ? void__kvs_client_cost(old.reply_len) : 0;
    if (!void__kvs_fits(l->st.bytes_used, freed, void__kvs_client_cost(len), l->quota, 1)) {
        return VOID_EFULL;
    }
    rc = found ? seen_del(l, old.last_seen, id) : 0;
    v = (MDB_val){CHDR + len, NULL};
    if (rc == 0) {
        rc = lput(l, l->clients, &k, &v, MDB_RESERVE);
    }
    if (rc == 0) {
        uint8_t *p = v.mv_data;
        struct void_kvs_client view = {id, reqno, l->batch, reply, len};
        void_bytes_put_be64(p, id);
        void_bytes_put_be64(p + 8, reqno);
        void_hlc_encode(l->batch, p + 16);
        void_kvs_client_hash(&view, p + 16 + TS);
        if (len > 0) {
            memcpy(p + CHDR, reply, len);
        }
        uint8_t sb[TS + 8];
        void_hlc_encode(l->batch, sb);
        void_bytes_put_be64(sb + TS, id);
        MDB_val sk = {sizeof(sb), sb}, sv = {0, NULL};
        rc = lput(l, l->seen, &sk, &sv, 0);
    }
    if (rc != 0) {
        return fail(l, rc);
    }
    l->st.clients += found ? 0 : 1;
    l->st.bytes_used = l->st.bytes_used - freed + void__kvs_client_cost(len);
    void__kvs_dirty_add(&l->dirty, void_kvs_bucket_of(h));
    return 0;
}

static int lm_client_get(void *impl, uint64_t id, struct void_kvs_client *out)
{
    struct lm *l = impl;
    VOID_ASSERT(out != NULL);
    memset(out, 0, sizeof(*out));
    MDB_txn *txn;
    int rc = read_txn(l, &txn);
    if (rc != 0) {
        return rc;
    }
    uint8_t h[H];
    void_kvs_client_id_hash(id, h);
    MDB_val k = {H, h}, v;
    rc = mdb_get(txn, l->clients, &k, &v);
    if (rc == MDB_NOTFOUND) {
        return VOID_ENOTFOUND;
    }
    if (rc == 0) {
        rc = client_decode(&v, out);
    }
    return rc == 0 ? 0 : fail(l, rc);
}

static int lm_client_expire(void *impl, struct void_hlc_ts older_than, uint64_t *expired)
{
    struct lm *l = impl;
    VOID_ASSERT(l->in_batch && !l->loading);
    uint64_t n = 0;
    if (expired != NULL) {
        *expired = 0;
    }
    if (l->failed) {
        return l->failed;
    }
    MDB_cursor *c;
    int rc = mdb_cursor_open(l->wtxn, l->seen, &c);
    if (rc != 0) {
        return fail(l, rc);
    }
    MDB_val k, v;
    while ((rc = mdb_cursor_get(c, &k, &v, MDB_FIRST)) == 0) {
        if (k.mv_size != TS + 8) {
            rc = MDB_CORRUPTED;
            break;
        }
        if (void_hlc_compare(void_hlc_decode(k.mv_data), older_than) >= 0) {
            break;
        }
        uint64_t id = void_bytes_get_be64((const uint8_t *)k.mv_data + TS);
        uint8_t h[H];
        void_kvs_client_id_hash(id, h);
        MDB_val ck = {H, h}, cv;
        struct void_kvs_client old;
        if ((rc = mdb_cursor_del(c, 0)) != 0 ||
            (rc = mdb_get(l->wtxn, l->clients, &ck, &cv)) != 0 ||
            (rc = client_decode(&cv, &old)) != 0) {
            rc = rc == MDB_NOTFOUND ? MDB_CORRUPTED : rc;
            break;
        }
        l->st.bytes_used -= void__kvs_client_cost(old.reply_len);
        if ((rc = ldel(l, l->clients, &ck, NULL)) != 0) {
            break;
        }
        void__kvs_dirty_add(&l->dirty, void_kvs_bucket_of(h));
        n++;
    }
    mdb_cursor_close(c);
    if (rc != 0 && rc != MDB_NOTFOUND) {
        return fail(l, rc);
    }
    l->st.clients -= n;
    if (expired != NULL) {
        *expired = n;
    }
    return 0;
}

/* ---- partitions and digests ------------------------------------------------------------ */

struct part {
    struct lm *l;
    MDB_txn *txn;
    void_kvs_scan_fn version_fn;
    void_kvs_client_fn client_fn;
    void *arg;
    uint8_t last[H]; /* hash of the key in keybuf */
    size_t klen;
    int cb_rc;
};

static int part_version(void *arg, const MDB_val *k, const MDB_val *v)
{
    struct part *p = arg;
    if (k->mv_size != H + TS || v->mv_size < VHDR) {
        return MDB_CORRUPTED;
    }
    if (p->klen == 0 || memcmp(p->last, k->mv_data, H) != 0) {
        MDB_val hk = {H, k->mv_data}, kv;
        int rc = mdb_get(p->txn, p->l->keys, &hk, &kv);
        if (rc != 0 || kv.mv_size == 0 || kv.mv_size > VOID_KVS_KEY_MAX) {
            return rc == 0 || rc == MDB_NOTFOUND ? MDB_CORRUPTED : rc;
        }
        memcpy(p->l->keybuf, kv.mv_data, kv.mv_size);
        memcpy(p->last, k->mv_data, H);
        p->klen = kv.mv_size;
    }
    const uint8_t *d = v->mv_data;
    struct void_kvs_version ver = {
        void_hlc_decode((const uint8_t *)k->mv_data + H), d[0], d + VHDR, v->mv_size - VHDR};
    p->cb_rc = p->version_fn(p->arg, p->l->keybuf, p->klen, &ver);
    return p->cb_rc != 0 ? MDB_NOTFOUND : 0; /* stops the walk */
}

static int part_client(void *arg, const MDB_val *k, const MDB_val *v)
{
    struct part *p = arg;
    struct void_kvs_client c;
    int rc = client_decode(v, &c);
    (void)k;
    if (rc != 0) {
        return rc;
    }
    p->cb_rc = p->client_fn(p->arg, &c);
    return p->cb_rc != 0 ? MDB_NOTFOUND : 0;
}

/* Partition b as txn sees it. */
static int partition_txn(struct lm *l,
                         MDB_txn *txn,
                         uint32_t b,
                         void_kvs_scan_fn version_fn,
                         void_kvs_client_fn client_fn,
                         void *arg)
{
    int rc = 0;
    struct part p = {
        .l = l, .txn = txn, .version_fn = version_fn, .client_fn = client_fn, .arg = arg};
    if (version_fn != NULL) {
        rc = walk_bucket(txn, l->versions, b, part_version, &p);
    }
    if (rc == 0 && p.cb_rc == 0 && client_fn != NULL) {
        rc = walk_bucket(txn, l->clients, b, part_client, &p);
    }
    if (rc != 0) {
        return fail(l, rc);
    }
    return p.cb_rc;
}

static int lm_partition(
    void *impl, uint32_t b, void_kvs_scan_fn version_fn, void_kvs_client_fn client_fn, void *arg)
{
    struct lm *l = impl;
    VOID_ASSERT(!l->in_batch);
    if (b >= VOID_KVS_BUCKETS) {
        return VOID_EINVAL;
    }
    MDB_txn *txn;
    int rc = read_txn(l, &txn);
    if (rc != 0) {
        return rc;
    }
    return partition_txn(l, txn, b, version_fn, client_fn, arg);
}

/* ---- snapshots ---------------------------------------------------------------------- */

static int lm_snapshot_take(void *impl, struct void_kvs_snap **out)
{
    struct lm *l = impl;
    VOID_ASSERT(!l->in_batch && out != NULL);
    *out = NULL;
    if (l->failed) {
        return l->failed;
    }
    uint32_t slot = 0;
    while (slot < VOID_KVS_SNAPSHOTS_MAX && l->snaps[slot] != NULL) {
        slot++;
    }
    if (slot == VOID_KVS_SNAPSHOTS_MAX) {
        return VOID_EFULL;
    }
    int rc = flush_buckets(l); /* the snapshot reads the rows */
    if (rc != 0) {
        return rc;
    }
    struct lsnap *s = calloc(1, sizeof(*s));
    if (s == NULL) {
        return VOID_ENOMEM;
    }
    /* MDB_NOTLS (set at open) lets this transaction stay open beside the
     * per-call read transaction and the batches of the same thread. The
     * bucket digests are read from the "buckets" table through it, so only
     * the root is copied here. */
    rc = mdb_txn_begin(l->env, NULL, MDB_RDONLY, &s->txn);
    if (rc != 0) {
        free(s);
        return lm_err(rc);
    }
    s->st = l->committed;
    s->st.quota = l->quota;
    void_kvs_root(l->tree.node[1], l->committed.horizon, l->committed.last, s->digest);
    l->snaps[slot] = s;
    *out = (struct void_kvs_snap *)(void *)s;
    return 0;
}

static uint32_t snap_slot(const struct lm *l, const struct void_kvs_snap *snap)
{
    uint32_t slot = 0;
    while (slot < VOID_KVS_SNAPSHOTS_MAX &&
           (snap == NULL || l->snaps[slot] != (const struct lsnap *)(const void *)snap)) {
        slot++;
    }
    VOID_ASSERT(slot < VOID_KVS_SNAPSHOTS_MAX); /* not released, and of this store */
    return slot;
}

static void lm_snapshot_release(void *impl, struct void_kvs_snap *snap)
{
    struct lm *l = impl;
    uint32_t slot = snap_slot(l, snap);
    mdb_txn_abort(l->snaps[slot]->txn);
    free(l->snaps[slot]);
    l->snaps[slot] = NULL;
}

static int lm_snap_partition(void *impl,
                             struct void_kvs_snap *snap,
                             uint32_t b,
                             void_kvs_scan_fn version_fn,
                             void_kvs_client_fn client_fn,
                             void *arg)
{
    struct lm *l = impl;
    const struct lsnap *s = l->snaps[snap_slot(l, snap)];
    if (l->failed) {
        return l->failed;
    }
    if (b >= VOID_KVS_BUCKETS) {
        return VOID_EINVAL;
    }
    return partition_txn(l, s->txn, b, version_fn, client_fn, arg);
}

static int lm_snap_bucket_digest(void *impl, struct void_kvs_snap *snap, uint32_t b, uint8_t out[H])
{
    struct lm *l = impl;
    const struct lsnap *s = l->snaps[snap_slot(l, snap)];
    if (b >= VOID_KVS_BUCKETS) {
        return VOID_EINVAL;
    }
    if (l->failed) {
        return l->failed;
    }
    uint8_t bk[2];
    void_bytes_put_be16(bk, (uint16_t)b);
    MDB_val k = {2, bk}, v;
    int rc = mdb_get(s->txn, l->buckets, &k, &v);
    if (rc == MDB_NOTFOUND) {
        memset(out, 0, H); /* empty buckets have no row */
        return 0;
    }
    if (rc == 0 && v.mv_size != H) {
        rc = MDB_CORRUPTED;
    }
    if (rc != 0) {
        return fail(l, rc);
    }
    memcpy(out, v.mv_data, H);
    return 0;
}

static int lm_snap_digest(void *impl, struct void_kvs_snap *snap, uint8_t out[H])
{
    struct lm *l = impl;
    memcpy(out, l->snaps[snap_slot(l, snap)]->digest, H);
    return l->failed;
}

static void lm_snap_stats(void *impl, struct void_kvs_snap *snap, struct void_kvs_stats *out)
{
    struct lm *l = impl;
    VOID_ASSERT(out != NULL);
    *out = l->snaps[snap_slot(l, snap)]->st;
}

/* ---- loading ---------------------------------------------------------------------------- */

static int lm_load_begin(
    void *impl, int empty, struct void_hlc_ts horizon, struct void_hlc_ts last, uint64_t label)
{
    struct lm *l = impl;
    VOID_ASSERT(!l->in_batch);
    if (l->failed) {
        return l->failed;
    }
    if (void_hlc_compare(horizon, last) > 0) {
        return VOID_EINVAL;
    }
    if (l->rtxn_live) {
        mdb_txn_reset(l->rtxn);
        l->rtxn_live = 0;
    }
    int rc = mdb_txn_begin(l->env, NULL, 0, &l->wtxn);
    if (rc != 0) {
        return fail(l, rc);
    }
    l->in_batch = 1;
    l->loading = 1;
    l->load_horizon = horizon;
    l->st.horizon = horizon;
    l->st.last = last;
    l->st.applied = label;
    if (!empty) {
        return 0;
    }
    MDB_dbi all[] = {
        l->versions, l->vhash, l->keys, l->names, l->shadow, l->clients, l->seen, l->buckets};
    for (size_t i = 0; i < VOID_ARRAY_LEN(all); i++) {
        if ((rc = mdb_drop(l->wtxn, all[i], 0)) != 0) {
            return fail(l, rc);
        }
    }
    static const uint8_t zero[H] = {0};
    for (uint32_t b = 0; b < VOID_KVS_BUCKETS; b++) {
        if (memcmp(l->tree.digest[b], zero, H) != 0) {
            void__kvs_dirty_add(&l->dirty, b); /* commit sets it empty */
        }
    }
    l->st.bytes_used = l->st.keys = l->st.versions = l->st.clients = 0;
    return 0;
}

/* Removes the versions, keys and client entries of bucket b (its shadow
 * entries stay: drop_version ignores them). */
static int clear_bucket(struct lm *l, uint32_t b)
{
    int rc = 0;
    MDB_val k, v;
    for (;;) {
        MDB_cursor *c;
        if ((rc = mdb_cursor_open(l->wtxn, l->versions, &c)) != 0) {
            return rc;
        }
        rc = seek_bucket(c, b, &k, &v);
        uint8_t vk[H + TS];
        size_t vlen = 0;
        if (rc == 0 && (k.mv_size != H + TS || v.mv_size < VHDR)) {
            rc = MDB_CORRUPTED;
        }
        if (rc == 0) {
            memcpy(vk, k.mv_data, sizeof(vk));
            vlen = v.mv_size - VHDR;
        }
        mdb_cursor_close(c);
        if (rc != 0) {
            break;
        }
        MDB_val hk = {H, vk}, kv, dk = {sizeof(vk), vk};
        if ((rc = mdb_get(l->wtxn, l->keys, &hk, &kv)) != 0 ||
            (rc = ldel(l, l->versions, &dk, NULL)) != 0 || (rc = vhash_del(l, vk)) != 0) {
            return rc == MDB_NOTFOUND ? MDB_CORRUPTED : rc;
        }
        size_t klen = kv.mv_size;
        if (klen == 0 || klen > VOID_KVS_KEY_MAX) {
            return MDB_CORRUPTED;
        }
        memcpy(l->keybuf, kv.mv_data, klen); /* kv dies with the next write */
        l->st.bytes_used -= void__kvs_version_cost(klen, vlen);
        l->st.versions--;
        struct void_kvs_version left;
        rc = newest_at(l->wtxn, l->versions, vk, hlc_max, &left);
        if (rc == MDB_NOTFOUND) {
            if ((rc = ldel(l, l->keys, &hk, NULL)) != 0 ||
                (rc = names_remove(l, l->keybuf, klen)) != 0) {
                return rc == MDB_NOTFOUND ? MDB_CORRUPTED : rc;
            }
            l->st.keys--;
        } else if (rc != 0) {
            return rc;
        }
    }
    for (rc = rc == MDB_NOTFOUND ? 0 : rc; rc == 0;) {
        MDB_cursor *c;
        if ((rc = mdb_cursor_open(l->wtxn, l->clients, &c)) != 0) {
            return rc;
        }
        struct void_kvs_client old;
        uint8_t h[H];
        rc = seek_bucket(c, b, &k, &v);
        if (rc == 0 && k.mv_size != H) {
            rc = MDB_CORRUPTED;
        }
        if (rc == 0) {
            memcpy(h, k.mv_data, H);
            rc = client_decode(&v, &old);
        }
        mdb_cursor_close(c);
        if (rc != 0) {
            break;
        }
        MDB_val ck = {H, h};
        l->st.bytes_used -= void__kvs_client_cost(old.reply_len);
        l->st.clients--;
        if ((rc = seen_del(l, old.last_seen, old.id)) != 0 ||
            (rc = ldel(l, l->clients, &ck, NULL)) != 0) {
            return rc;
        }
    }
    void__kvs_dirty_add(&l->dirty, b);
    return rc == MDB_NOTFOUND ? 0 : rc;
}

static int lm_load_clear(void *impl, uint32_t b)
{
    struct lm *l = impl;
    VOID_ASSERT(l->loading);
    if (l->failed) {
        return l->failed;
    }
    if (b >= VOID_KVS_BUCKETS) {
        return VOID_EINVAL;
    }
    int rc = clear_bucket(l, b);
    return rc == 0 ? 0 : fail(l, rc);
}

static int
lm_load_version(void *impl, const uint8_t *key, size_t klen, const struct void_kvs_version *ver)
{
    struct lm *l = impl;
    VOID_ASSERT(l->loading && ver != NULL);
    if (l->failed) {
        return l->failed;
    }
    if (void__kvs_check_key(key, klen) != 0 || ver->value_len > VOID_KVS_VALUE_MAX ||
        (ver->value == NULL && ver->value_len != 0) || (ver->deleted && ver->value_len != 0) ||
        ver->deleted > 1 || void_hlc_compare(ver->hlc, l->st.last) > 0) {
        return VOID_EINVAL;
    }
    uint8_t h[H];
    void_kvs_key_hash(key, klen, h);
    struct void_kvs_version prev;
    int rc = newest_at(l->wtxn, l->versions, h, hlc_max, &prev);
    if (rc != 0 && rc != MDB_NOTFOUND) {
        return fail(l, rc);
    }
    int found = rc == 0;
    if (!void__kvs_load_fits(found ? &prev.hlc : NULL, ver->hlc, ver->deleted, l->load_horizon)) {
        return VOID_EINVAL;
    }
    uint8_t kb[H + TS];
    memcpy(kb, h, H);
    void_hlc_encode(ver->hlc, kb + H);
    uint8_t eh[H];
    void_kvs_version_hash(key, klen, ver->hlc, ver->deleted, ver->value, ver->value_len, eh);
    MDB_val k = {sizeof(kb), kb}, v = {VHDR + ver->value_len, NULL};
    rc = lput(l, l->versions, &k, &v, MDB_RESERVE);
    if (rc == 0) {
        uint8_t *p = v.mv_data;
        p[0] = ver->deleted;
        memcpy(p + 1, eh, H);
        if (ver->value_len > 0) {
            memcpy(p + VHDR, ver->value, ver->value_len);
        }
        rc = vhash_put(l, kb, eh);
    }
    if (rc == 0 && !found) {
        MDB_val hk = {H, h}, kv = {klen, (void *)(uintptr_t)key};
        rc = lput(l, l->keys, &hk, &kv, 0);
        if (rc == 0) {
            rc = names_insert(l, key, klen);
        }
        l->st.keys++;
    }
    /* The shadow entries a batch would have left (docs/kvs.md, "Loading"). */
    if (rc == 0 && found) {
        rc = shadow_put(l, ver->hlc, h, prev.hlc);
    }
    if (rc == 0 && ver->deleted) {
        rc = shadow_put(l, ver->hlc, h, ver->hlc);
    }
    if (rc != 0) {
        return fail(l, rc);
    }
    l->st.versions++;
    l->st.bytes_used += void__kvs_version_cost(klen, ver->value_len);
    void__kvs_dirty_add(&l->dirty, void_kvs_bucket_of(h));
    return 0;
}

static int lm_load_client(void *impl, const struct void_kvs_client *cl)
{
    struct lm *l = impl;
    VOID_ASSERT(l->loading && cl != NULL);
    if (l->failed) {
        return l->failed;
    }
    if (cl->reply_len > VOID_KVS_REPLY_MAX || (cl->reply == NULL && cl->reply_len != 0) ||
        void_hlc_compare(cl->last_seen, l->st.last) > 0) {
        return VOID_EINVAL;
    }
    uint8_t h[H];
    void_kvs_client_id_hash(cl->id, h);
    MDB_val k = {H, h}, v;
    int rc = mdb_get(l->wtxn, l->clients, &k, &v);
    if (rc == 0) {
        return VOID_EINVAL; /* already there */
    }
    if (rc != MDB_NOTFOUND) {
        return fail(l, rc);
    }
    v = (MDB_val){CHDR + cl->reply_len, NULL};
    rc = lput(l, l->clients, &k, &v, MDB_RESERVE);
    if (rc == 0) {
        uint8_t *p = v.mv_data;
        void_bytes_put_be64(p, cl->id);
        void_bytes_put_be64(p + 8, cl->reqno);
        void_hlc_encode(cl->last_seen, p + 16);
        void_kvs_client_hash(cl, p + 16 + TS);
        if (cl->reply_len > 0) {
            memcpy(p + CHDR, cl->reply, cl->reply_len);
        }
        uint8_t sb[TS + 8];
        void_hlc_encode(cl->last_seen, sb);
        void_bytes_put_be64(sb + TS, cl->id);
        MDB_val sk = {sizeof(sb), sb}, sv = {0, NULL};
        rc = lput(l, l->seen, &sk, &sv, 0);
    }
    if (rc != 0) {
        return fail(l, rc);
    }
    l->st.clients++;
    l->st.bytes_used += void__kvs_client_cost(cl->reply_len);
    void__kvs_dirty_add(&l->dirty, void_kvs_bucket_of(h));
    return 0;
}

/* The load's work so far goes to disk in its own transaction, with the
 * "loading" mark, and the load goes on in a new one: LMDB keeps a write
 * transaction's dirty pages in memory (malloc'd, and afterwards on its own
 * free list, me_dpages) until the commit, so a large load committed in
 * parts holds what one part dirtied, not what the whole load does. */
static int lm_load_commit(void *impl)
{
    struct lm *l = impl;
    VOID_ASSERT(l->loading && l->in_batch);
    if (l->failed) {
        return l->failed;
    }
    if (!l->st.partial) {
        MDB_val k = loading_key, v = {1, (void *)(uintptr_t) "1"};
        int rc = lput(l, l->meta, &k, &v, 0);
        if (rc != 0) {
            return fail(l, rc);
        }
        l->st.partial = 1;
    }
    l->loading = 0;
    int rc = lm_commit(l);
    l->in_batch = 1; /* the load goes on, or answers the failure to its calls */
    l->loading = 1;
    if (rc != 0) {
        return rc;
    }
    if ((rc = mdb_txn_begin(l->env, NULL, 0, &l->wtxn)) != 0) {
        return fail(l, rc);
    }
    VOID_ASSERT(l->committed.partial && l->dirty.count == 0);
    return 0;
}

static int lm_load_end(void *impl)
{
    struct lm *l = impl;
    VOID_ASSERT(l->loading);
    l->loading = 0;
    if (l->st.partial && !l->failed) {
        /* The mark goes in the load's last transaction: the store is a
         * whole state again exactly when that commit is on disk. */
        MDB_val k = loading_key;
        int rc = ldel(l, l->meta, &k, NULL);
        if (rc != 0 && rc != MDB_NOTFOUND) {
            l->in_batch = 0;
            return fail(l, rc);
        }
        l->st.partial = 0;
    }
    return lm_commit(l);
}

/* ---- staging -------------------------------------------------------------------------- */

static int lm_stage_put(
    void *impl, size_t n, const uint16_t *buckets, const uint8_t *const *bufs, const uint32_t *lens)
{
    struct lm *l = impl;
    VOID_ASSERT(!l->in_batch && (n == 0 || (buckets != NULL && bufs != NULL && lens != NULL)));
    if (l->failed) {
        return l->failed;
    }
    for (size_t i = 0; i < n; i++) {
        if (buckets[i] >= VOID_KVS_BUCKETS) {
            return VOID_EINVAL;
        }
    }
    if (l->rtxn_live) {
        mdb_txn_reset(l->rtxn);
        l->rtxn_live = 0;
    }
    int rc = mdb_txn_begin(l->env, NULL, 0, &l->wtxn);
    for (size_t i = 0; i < n && rc == 0; i++) {
        uint8_t bk[2];
        void_bytes_put_be16(bk, buckets[i]);
        MDB_val k = {2, bk}, v = {lens[i], (void *)(uintptr_t)bufs[i]};
        rc = lput(l, l->stage, &k, &v, 0);
    }
    if (rc == 0) {
        rc = lcommit(l);
        l->wtxn = NULL;
    }
    VOID_ASSERT(rc != 0 || l->wtxn == NULL);
    return rc == 0 ? 0 : fail(l, rc);
}

static int lm_stage_get(void *impl, uint32_t b, uint8_t *buf, size_t cap, size_t *len)
{
    struct lm *l = impl;
    VOID_ASSERT(len != NULL && (buf != NULL || cap == 0));
    VOID_ASSERT(!l->in_batch || l->loading);
    if (b >= VOID_KVS_BUCKETS) {
        return VOID_EINVAL;
    }
    MDB_txn *txn;
    int rc = read_txn(l, &txn);
    if (rc != 0) {
        return rc;
    }
    uint8_t bk[2];
    void_bytes_put_be16(bk, (uint16_t)b);
    MDB_val k = {2, bk}, v;
    rc = mdb_get(txn, l->stage, &k, &v);
    if (rc == MDB_NOTFOUND) {
        return VOID_ENOTFOUND;
    }
    if (rc != 0) {
        return fail(l, rc);
    }
    *len = v.mv_size;
    if (cap < v.mv_size) {
        return VOID_EFULL;
    }
    memcpy(buf, v.mv_data, v.mv_size);
    return 0;
}

static int lm_stage_clear(void *impl)
{
    struct lm *l = impl;
    VOID_ASSERT(!l->in_batch);
    if (l->failed) {
        return l->failed;
    }
    if (l->rtxn_live) {
        mdb_txn_reset(l->rtxn);
        l->rtxn_live = 0;
    }
    int rc = mdb_txn_begin(l->env, NULL, 0, &l->wtxn);
    if (rc == 0) {
        rc = mdb_drop(l->wtxn, l->stage, 0);
    }
    if (rc == 0) {
        rc = lcommit(l);
        l->wtxn = NULL;
    }
    return rc == 0 ? 0 : fail(l, rc);
}

static int lm_bucket_digest(void *impl, uint32_t b, uint8_t out[H])
{
    struct lm *l = impl;
    VOID_ASSERT(!l->in_batch);
    if (b >= VOID_KVS_BUCKETS) {
        return VOID_EINVAL;
    }
    memcpy(out, l->tree.digest[b], H);
    return l->failed;
}

static int lm_digest(void *impl, uint8_t out[H])
{
    struct lm *l = impl;
    VOID_ASSERT(!l->in_batch);
    if (l->failed) {
        return l->failed;
    }
    void_kvs_root(l->tree.node[1], l->committed.horizon, l->committed.last, out);
    return 0;
}

static int lm_sync(void *impl)
{
    struct lm *l = impl;
    VOID_ASSERT(!l->in_batch);
    if (l->failed) {
        return l->failed;
    }
    int rc = state_sync(l->env);
    return rc == 0 ? 0 : fail(l, rc);
}

static void lm_stats(void *impl, struct void_kvs_stats *out)
{
    struct lm *l = impl;
    VOID_ASSERT(out != NULL);
    *out = l->in_batch ? l->st : l->committed;
    out->quota = l->quota;
}

static void lm_close(void *impl)
{
    struct lm *l = impl;
    VOID_ASSERT(l != NULL);
    if (l->wtxn != NULL) {
        mdb_txn_abort(l->wtxn);
        l->wtxn = NULL;
        l->in_batch = 0; /* a batch left open is dropped, as by a crash */
    } else if (l->env != NULL && !l->failed && !l->loading && !l->in_batch) {
        (void)flush_buckets(l); /* else open recomputes them */
    }
    if (l->rtxn != NULL) {
        mdb_txn_abort(l->rtxn);
    }
    for (uint32_t i = 0; i < VOID_KVS_SNAPSHOTS_MAX; i++) {
        if (l->snaps[i] != NULL) {
            lm_snapshot_release(l, (struct void_kvs_snap *)(void *)l->snaps[i]);
        }
    }
    if (l->env != NULL) {
        mdb_env_close(l->env);
    }
    free(l);
}

static const struct void_kvs_ops lm_ops = {
    .begin = lm_begin,
    .commit = lm_commit,
    .put = lm_put,
    .del = lm_del,
    .get = lm_get,
    .scan = lm_scan,
    .compact = lm_compact,
    .client_put = lm_client_put,
    .client_get = lm_client_get,
    .client_expire = lm_client_expire,
    .partition = lm_partition,
    .bucket_digest = lm_bucket_digest,
    .digest = lm_digest,
    .sync = lm_sync,
    .stats = lm_stats,
    .close = lm_close,
    .snapshot_take = lm_snapshot_take,
    .snapshot_release = lm_snapshot_release,
    .snap_partition = lm_snap_partition,
    .snap_bucket_digest = lm_snap_bucket_digest,
    .snap_digest = lm_snap_digest,
    .snap_stats = lm_snap_stats,
    .load_begin = lm_load_begin,
    .load_clear = lm_load_clear,
    .load_version = lm_load_version,
    .load_client = lm_load_client,
    .load_end = lm_load_end,
    .load_commit = lm_load_commit,
    .stage_put = lm_stage_put,
    .stage_get = lm_stage_get,
    .stage_clear = lm_stage_clear,
};

/* ---- open ------------------------------------------------------------------------------ */

/* Opens the vhash table; a store written before it existed gets it filled
 * from the versions, once, in the opening transaction. */
static int open_vhash(MDB_txn *txn, struct lm *l)
{
    int rc = mdb_dbi_open(txn, "vhash", 0, &l->vhash);
    if (rc != MDB_NOTFOUND) {
        return rc;
    }
    if ((rc = mdb_dbi_open(txn, "vhash", MDB_CREATE, &l->vhash)) != 0) {
        return rc;
    }
    MDB_cursor *c;
    if ((rc = mdb_cursor_open(txn, l->versions, &c)) != 0) {
        return rc;
    }
    MDB_val k, v;
    for (rc = mdb_cursor_get(c, &k, &v, MDB_FIRST); rc == 0;
         rc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
        if (k.mv_size != H + TS || v.mv_size < VHDR) {
            rc = MDB_CORRUPTED;
            break;
        }
        MDB_val hv = {H, (uint8_t *)v.mv_data + 1};
        if ((rc = mdb_put(txn, l->vhash, &k, &hv, MDB_APPEND)) != 0) {
            break;
        }
    }
    mdb_cursor_close(c);
    return rc == MDB_NOTFOUND ? 0 : rc;
}

/* The buckets that meta "unflushed" marks: their digests from the data, as
 * a commit computes them (their rows may be stale: commit_buckets). They
 * stay marked until the next flush writes the rows. */
static int load_unflushed(struct lm *l, MDB_txn *txn)
{
    MDB_val k = {9, (void *)(uintptr_t) "unflushed"}, v;
    int rc = mdb_get(txn, l->meta, &k, &v);
    if (rc == MDB_NOTFOUND) {
        return 0;
    }
    if (rc == 0 && v.mv_size != sizeof(l->unflushed)) {
        rc = MDB_CORRUPTED;
    }
    if (rc != 0) {
        return rc;
    }
    memcpy(l->unflushed, v.mv_data, sizeof(l->unflushed));
    l->unflushed_count = 0;
    for (uint32_t b = 0; b < VOID_KVS_BUCKETS && rc == 0; b++) {
        if (!unflushed_has(l->unflushed, b)) {
            continue;
        }
        struct void_kvs_bucket_ctx c;
        void_kvs_bucket_init(&c, b);
        rc = walk_bucket(txn, l->vhash, b, add_version_hash, &c);
        if (rc == 0) {
            rc = walk_bucket(txn, l->clients, b, add_client_hash, &c);
        }
        if (rc == 0) {
            void_kvs_bucket_final(&c, l->tree.digest[b]);
            l->unflushed_count++;
        }
    }
    VOID_ASSERT(rc != 0 || l->unflushed_count <= VOID_KVS_BUCKETS);
    return rc;
}

/* Opens the tables, checks or writes the format, loads the counters and the
 * bucket digests. */
static int load(struct lm *l, int create)
{
    MDB_txn *txn;
    int rc = mdb_txn_begin(l->env, NULL, 0, &txn);
    if (rc != 0) {
        return lm_err(rc);
    }
    rc = mdb_dbi_open(txn, "meta", create ? MDB_CREATE : 0, &l->meta);
    if (rc == MDB_NOTFOUND) {
        mdb_txn_abort(txn);
        return VOID_ECORRUPT; /* an LMDB environment, but not a void kvs */
    }
    static const char *const names[] = {
        "versions", "keys", "names", "shadow", "clients", "seen", "buckets"};
    MDB_dbi *dbis[] = {
        &l->versions, &l->keys, &l->names, &l->shadow, &l->clients, &l->seen, &l->buckets};
    for (size_t i = 0; i < VOID_ARRAY_LEN(names) && rc == 0; i++) {
        rc = mdb_dbi_open(txn, names[i], MDB_CREATE, dbis[i]);
    }
    if (rc == 0) {
        rc = open_vhash(txn, l);
    }
    /* What a transfer staged before a restart belongs to a transfer that
     * is gone (include/void/kvs.h, staging). */
    if (rc == 0) {
        rc = mdb_dbi_open(txn, "stage", MDB_CREATE, &l->stage);
    }
    if (rc == 0) {
        rc = mdb_drop(txn, l->stage, 0);
    }
    MDB_val k = {6, (void *)(uintptr_t) "format"}, v;
    if (rc == 0) {
        rc = mdb_get(txn, l->meta, &k, &v);
    }
    if (rc == MDB_NOTFOUND) {
        v = (MDB_val){4, (void *)(uintptr_t) "VKS1"};
        rc = mdb_put(txn, l->meta, &k, &v, 0);
    } else if (rc == 0 && (v.mv_size != 4 || memcmp(v.mv_data, "VKS1", 4) != 0)) {
        rc = MDB_INVALID;
    }
    k = (MDB_val){5, (void *)(uintptr_t) "state"};
    int src = rc == 0 ? mdb_get(txn, l->meta, &k, &v) : rc;
    if (src == 0 && v.mv_size == STATE_LEN) {
        state_decode(v.mv_data, &l->st);
    } else if (src != MDB_NOTFOUND) {
        rc = src == 0 ? MDB_CORRUPTED : src;
    }
    MDB_val lk = loading_key;
    int lrc = rc == 0 ? mdb_get(txn, l->meta, &lk, &v) : rc;
    if (lrc == 0) {
        l->st.partial = 1; /* a load committed in parts did not end */
    } else if (lrc != MDB_NOTFOUND) {
        rc = lrc;
    }
    MDB_cursor *c = NULL;
    if (rc == 0) {
        rc = mdb_cursor_open(txn, l->buckets, &c);
    }
    for (int brc = rc == 0 ? mdb_cursor_get(c, &k, &v, MDB_FIRST) : MDB_NOTFOUND;
         brc != MDB_NOTFOUND;
         brc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
        uint32_t b = k.mv_size == 2 ? void_bytes_get_be16(k.mv_data) : VOID_KVS_BUCKETS;
        if (brc != 0 || b >= VOID_KVS_BUCKETS || v.mv_size != H) {
            rc = brc != 0 ? brc : MDB_CORRUPTED;
            break;
        }
        memcpy(l->tree.digest[b], v.mv_data, H);
    }
    if (c != NULL) {
        mdb_cursor_close(c);
    }
    if (rc == 0) {
        rc = load_unflushed(l, txn);
    }
    if (rc == 0) {
        rc = mdb_txn_commit(txn);
    } else {
        mdb_txn_abort(txn);
    }
    void__kvs_tree_rebuild(&l->tree);
    l->st.quota = l->quota;
    l->committed = l->st;
    return lm_err(rc);
}

int void_kvs_lmdb_open(struct void_kvs *kvs,
                       const char *dir,
                       const struct void_kvs_lmdb_config *config)
{
    VOID_ASSERT(kvs != NULL);
    memset(kvs, 0, sizeof(*kvs));
    if (dir == NULL || dir[0] == '\0') {
        return VOID_EINVAL;
    }
    int create = config != NULL && config->create;
    if (create && mkdir(dir, 0700) != 0 && errno != EEXIST) {
        return lm_err(errno);
    }
    if (!create) {
        /* mdb_env_open would create an empty environment: refuse instead. */
        char path[4096];
        struct stat sb;
        int n = snprintf(path, sizeof(path), "%s/data.mdb", dir);
        if (n < 0 || (size_t)n >= sizeof(path)) {
            return VOID_EINVAL;
        }
        if (stat(path, &sb) != 0) {
            return lm_err(errno);
        }
    }
    struct lm *l = calloc(1, sizeof(*l));
    if (l == NULL) {
        return VOID_ENOMEM;
    }
    l->quota = config != NULL && config->quota != 0 ? config->quota : VOID_KVS_QUOTA_DEF;
    l->fault_after = config != NULL ? config->fault_after : 0;
    /* Room for the quota and its reserve three times over (docs/kvs.md): B+tree
     * pages half full after splits, the index tables, and the copy-on-write
     * pages of the last commit; rounded to MiB. */
    uint64_t limit = l->quota + l->quota / VOID__KVS_RESERVE_DIV;
    uint64_t map = ((3 * limit + (64ull << 20)) + (1ull << 20) - 1) & ~((1ull << 20) - 1);
    unsigned flags = MDB_NOTLS | (config != NULL && config->sync_each_commit ? 0u : MDB_NOSYNC);
    int rc = mdb_env_create(&l->env);
    if (rc == 0) {
        rc = mdb_env_set_maxdbs(l->env, 10);
    }
    if (rc == 0) {
        rc = mdb_env_set_mapsize(l->env, (size_t)map);
    }
    if (rc == 0) {
        rc = mdb_env_open(l->env, dir, flags, 0600);
    }
    rc = lm_err(rc);
    if (rc == 0) {
        void__kvs_tree_init(&l->tree);
        rc = load(l, create);
    }
    if (rc != 0) {
        lm_close(l);
        return rc;
    }
    kvs->ops = &lm_ops;
    kvs->impl = l;
    VOID_ASSERT(l->wtxn == NULL);
    return 0;
}

int void_kvs_lmdb_flush(struct void_kvs *kvs)
{
    VOID_ASSERT(kvs != NULL && kvs->ops == &lm_ops);
    struct lm *l = kvs->impl;
    VOID_ASSERT(l->env != NULL);
    /* Only the environment: no field another thread's batch writes. LMDB
     * lets mdb_env_sync run beside a write transaction (it flushes what
     * earlier commits wrote). */
    int rc = state_sync(l->env);
    return rc == 0 ? 0 : rc == ENOSPC || rc == EDQUOT ? VOID_ENOSPC : VOID_EIO;
}
