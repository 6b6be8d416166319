/*
 * The persisted causal event log (include/void/causal_log.h): one LMDB
 * environment, one table keyed by a native 64-bit integer (MDB_INTEGERKEY:
 * one compare per B+tree step) holding the 72-byte records. Appends are
 * strictly increasing keys, so LMDB fills pages to the end (MDB_APPEND);
 * compaction deletes from the low end, so the window is one key range.
 */
#include "void/causal_log.h"

#include "void/assert.h"
#include "void/error.h"

#include <errno.h>
#include <lmdb.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

_Static_assert(sizeof(size_t) == sizeof(uint64_t), "MDB_INTEGERKEY keys are size_t");

#define MAP_DEF      (1ull << 30) /* no size window: a 1 GiB map */
#define DELETE_BATCH 65536u       /* deletions per compaction transaction */

static int log_err(int rc)
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
    case ENOMEM:
        return VOID_ENOMEM;
    case MDB_NOTFOUND:
        return VOID_ENOTFOUND;
    case MDB_INVALID:
    case MDB_VERSION_MISMATCH:
    case MDB_CORRUPTED:
    case MDB_PAGE_NOTFOUND:
        return VOID_ECORRUPT;
    default:
        return VOID_EIO;
    }
}

static MDB_env *env_of(const struct void_causal_log *l)
{
    VOID_ASSERT(l != NULL && l->env != NULL);
    return (MDB_env *)l->env;
}

int void_causal_log_open(struct void_causal_log *l,
                         const char *dir,
                         const struct void_causal_log_config *cfg)
{
    VOID_ASSERT(l != NULL);
    memset(l, 0, sizeof(*l));
    if (dir == NULL || dir[0] == '\0') {
        return VOID_EINVAL;
    }
    if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
        return log_err(errno);
    }
    l->max_bytes = cfg != NULL ? cfg->max_bytes : 0;
    /* Twice the window: deleted pages are reused only once no reader holds
     * them, and copy-on-write needs room for the pages a commit rewrites. */
    l->map_bytes = l->max_bytes != 0 ? 2 * l->max_bytes + (64ull << 20) : MAP_DEF;
    l->map_bytes = (l->map_bytes + (1ull << 20) - 1) & ~((1ull << 20) - 1);
    unsigned flags = MDB_NOTLS | (cfg != NULL && cfg->sync ? 0u : MDB_NOSYNC);
    MDB_env *env = NULL;
    int rc = mdb_env_create(&env);
    if (rc == 0) {
        l->env = env;
        rc = mdb_env_set_mapsize(env, (size_t)l->map_bytes);
    }
    if (rc == 0) {
        rc = mdb_env_open(env, dir, flags, 0600);
    }
    MDB_txn *txn = NULL;
    if (rc == 0) {
        rc = mdb_txn_begin(env, NULL, 0, &txn);
    }
    MDB_dbi dbi = 0;
    if (rc == 0) {
        rc = mdb_dbi_open(txn, NULL, MDB_INTEGERKEY | MDB_CREATE, &dbi);
        rc = rc == 0 ? mdb_txn_commit(txn) : (mdb_txn_abort(txn), rc);
    }
    if (rc != 0) {
        void_causal_log_close(l);
        return log_err(rc);
    }
    l->dbi = dbi;
    VOID_ASSERT(l->env != NULL);
    return 0;
}

void void_causal_log_close(struct void_causal_log *l)
{
    if (l == NULL || l->env == NULL) {
        return;
    }
    mdb_env_close((MDB_env *)l->env);
    l->env = NULL;
}

int void_causal_log_append(struct void_causal_log *l,
                           const uint64_t *keys,
                           const uint8_t *records,
                           size_t n)
{
    VOID_ASSERT(keys != NULL || n == 0);
    VOID_ASSERT(records != NULL || n == 0);
    if (n == 0) {
        return 0;
    }
    MDB_txn *txn = NULL;
    int rc = mdb_txn_begin(env_of(l), NULL, 0, &txn);
    if (rc != 0) {
        return log_err(rc);
    }
    MDB_cursor *cur = NULL;
    rc = mdb_cursor_open(txn, l->dbi, &cur);
    for (size_t i = 0; rc == 0 && i < n; i++) {
        VOID_ASSERT(keys[i] >= 1);
        size_t k = (size_t)keys[i];
        MDB_val key = {sizeof(k), &k};
        MDB_val val = {VOID_CAUSAL_RECORD_SIZE, (void *)(uintptr_t)(records + i * VOID_CAUSAL_RECORD_SIZE)};
        /* In key order, as a log is written: LMDB appends to the last page. */
        rc = mdb_cursor_put(cur, &key, &val, MDB_APPEND);
        if (rc == MDB_KEYEXIST) {
            rc = mdb_cursor_put(cur, &key, &val, 0); /* a rewrite, or out of order */
        }
    }
    if (cur != NULL) {
        mdb_cursor_close(cur);
    }
    if (rc != 0) {
        mdb_txn_abort(txn);
        return log_err(rc);
    }
    rc = mdb_txn_commit(txn);
    if (rc == 0) {
        l->count_appended += n;
        l->count_commits++;
    }
    return log_err(rc);
}

int void_causal_log_get(struct void_causal_log *l, uint64_t key, struct void_causal_event *ev)
{
    VOID_ASSERT(ev != NULL);
    if (key == 0) {
        return VOID_ENOTFOUND;
    }
    MDB_txn *txn = NULL;
    int rc = mdb_txn_begin(env_of(l), NULL, MDB_RDONLY, &txn);
    if (rc != 0) {
        return log_err(rc);
    }
    size_t k = (size_t)key;
    MDB_val mk = {sizeof(k), &k}, mv;
    rc = mdb_get(txn, l->dbi, &mk, &mv);
    int out = log_err(rc);
    if (rc == 0 && void_causal_decode(mv.mv_data, mv.mv_size, ev) != 0) {
        out = VOID_ECORRUPT;
    }
    mdb_txn_abort(txn);
    return out;
}

/* Positions cur on the first event record (key >= 1). */
static int cursor_first_event(MDB_cursor *cur, MDB_val *k, MDB_val *v)
{
    size_t one = 1;
    k->mv_size = sizeof(one);
    k->mv_data = &one;
    return mdb_cursor_get(cur, k, v, MDB_SET_RANGE);
}

static uint64_t key_of(const MDB_val *k)
{
    size_t v;
    VOID_ASSERT(k->mv_size == sizeof(v));
    memcpy(&v, k->mv_data, sizeof(v));
    return (uint64_t)v;
}

int void_causal_log_bounds(struct void_causal_log *l,
                           uint64_t *first,
                           uint64_t *last,
                           uint64_t *count)
{
    VOID_ASSERT(first != NULL && last != NULL && count != NULL);
    *first = *last = *count = 0;
    MDB_txn *txn = NULL;
    int rc = mdb_txn_begin(env_of(l), NULL, MDB_RDONLY, &txn);
    if (rc != 0) {
        return log_err(rc);
    }
    MDB_cursor *cur = NULL;
    MDB_val k, v;
    MDB_stat st;
    rc = mdb_cursor_open(txn, l->dbi, &cur);
    if (rc == 0 && (rc = cursor_first_event(cur, &k, &v)) == 0) {
        *first = key_of(&k);
        rc = mdb_cursor_get(cur, &k, &v, MDB_LAST);
        *last = rc == 0 ? key_of(&k) : 0;
    }
    if (rc == 0 && (rc = mdb_stat(txn, l->dbi, &st)) == 0) {
        *count = st.ms_entries;
    }
    if (cur != NULL) {
        mdb_cursor_close(cur);
    }
    mdb_txn_abort(txn);
    return rc == MDB_NOTFOUND ? 0 : log_err(rc);
}

int void_causal_log_scan(struct void_causal_log *l,
                         uint64_t from,
                         bool backward,
                         size_t max,
                         void_causal_log_fn fn,
                         void *ctx,
                         size_t *visited)
{
    VOID_ASSERT(fn != NULL && visited != NULL);
    *visited = 0;
    MDB_txn *txn = NULL;
    int rc = mdb_txn_begin(env_of(l), NULL, MDB_RDONLY, &txn);
    if (rc != 0) {
        return log_err(rc);
    }
    MDB_cursor *cur = NULL;
    rc = mdb_cursor_open(txn, l->dbi, &cur);
    size_t start = (size_t)(from > 0 ? from : 1);
    MDB_val k = {sizeof(start), &start}, v;
    if (rc == 0) {
        rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
        if (backward && rc == MDB_NOTFOUND) {
            rc = mdb_cursor_get(cur, &k, &v, MDB_LAST); /* from lies above the last key */
        } else if (backward && rc == 0 && key_of(&k) > from) {
            rc = mdb_cursor_get(cur, &k, &v, MDB_PREV);
        }
    }
    int out = 0;
    while (rc == 0 && *visited < max && key_of(&k) != 0) {
        struct void_causal_event ev;
        if (void_causal_decode(v.mv_data, v.mv_size, &ev) != 0) {
            out = VOID_ECORRUPT;
            break;
        }
        ++*visited;
        if (fn(ctx, key_of(&k), &ev) != 0) {
            break;
        }
        rc = mdb_cursor_get(cur, &k, &v, backward ? MDB_PREV : MDB_NEXT);
    }
    if (out == 0 && rc != 0 && rc != MDB_NOTFOUND) {
        out = log_err(rc);
    }
    if (cur != NULL) {
        mdb_cursor_close(cur);
    }
    mdb_txn_abort(txn);
    return out;
}

static uint64_t tree_bytes(const MDB_stat *st)
{
    return (uint64_t)(st->ms_branch_pages + st->ms_leaf_pages + st->ms_overflow_pages) * st->ms_psize;
}

int void_causal_log_used(struct void_causal_log *l, uint64_t *bytes)
{
    VOID_ASSERT(bytes != NULL);
    MDB_txn *txn = NULL;
    MDB_stat st;
    int rc = mdb_txn_begin(env_of(l), NULL, MDB_RDONLY, &txn);
    if (rc != 0) {
        return log_err(rc);
    }
    rc = mdb_stat(txn, l->dbi, &st);
    *bytes = rc == 0 ? tree_bytes(&st) : 0;
    mdb_txn_abort(txn);
    return log_err(rc);
}

/* One compaction transaction: deletes up to DELETE_BATCH of the oldest
 * records that are too old or over the size window. *more is set when it
 * stopped at the batch limit. */
static int compact_batch(struct void_causal_log *l, uint64_t min_wall_ns, uint64_t *removed, int *more)
{
    *more = 0;
    MDB_txn *txn = NULL;
    int rc = mdb_txn_begin(env_of(l), NULL, 0, &txn);
    if (rc != 0) {
        return log_err(rc);
    }
    MDB_stat st;
    MDB_cursor *cur = NULL;
    rc = mdb_stat(txn, l->dbi, &st);
    /* Over the size window: how many records to drop, at the tree's average
     * bytes per record (pages empty as their records go). */
    uint64_t used = rc == 0 ? tree_bytes(&st) : 0, over = 0;
    if (rc == 0 && l->max_bytes != 0 && used > l->max_bytes && st.ms_entries > 0) {
        uint64_t per = used / st.ms_entries + 1;
        over = (used - l->max_bytes) / per + 1;
    }
    if (rc == 0) {
        rc = mdb_cursor_open(txn, l->dbi, &cur);
    }
    MDB_val k, v;
    uint64_t n = 0;
    if (rc == 0) {
        rc = cursor_first_event(cur, &k, &v);
    }
    int out = 0;
    while (rc == 0 && n < DELETE_BATCH) {
        struct void_causal_event ev;
        if (void_causal_decode(v.mv_data, v.mv_size, &ev) != 0) {
            out = VOID_ECORRUPT;
            break;
        }
        if (n >= over && ev.hlc.wall_ns >= min_wall_ns) {
            break; /* inside both windows: so is everything after it */
        }
        MDB_val nk, nv;
        if (mdb_cursor_get(cur, &nk, &nv, MDB_NEXT) != 0) {
            break; /* the newest record stays: it carries the numbering on */
        }
        (void)mdb_cursor_get(cur, &k, &v, MDB_PREV);
        if ((rc = mdb_cursor_del(cur, 0)) != 0) {
            break;
        }
        n++;
        rc = mdb_cursor_get(cur, &k, &v, MDB_GET_CURRENT);
    }
    *more = n == DELETE_BATCH;
    if (cur != NULL) {
        mdb_cursor_close(cur);
    }
    if (out == 0 && rc != 0 && rc != MDB_NOTFOUND) {
        out = log_err(rc);
    }
    if (out != 0) {
        mdb_txn_abort(txn);
        return out;
    }
    rc = mdb_txn_commit(txn);
    if (rc == 0) {
        *removed += n;
        l->count_compacted += n;
    }
    return log_err(rc);
}

int void_causal_log_compact(struct void_causal_log *l, uint64_t min_wall_ns, uint64_t *removed)
{
    VOID_ASSERT(l != NULL);
    uint64_t total = 0;
    int more = 1, rc = 0;
    /* The size estimate is an average: pages merge as they empty, so check
     * again after each batch and go on while it removed something. */
    for (int round = 0; rc == 0 && more && round < 1024; round++) {
        uint64_t before = total, used = 0;
        rc = compact_batch(l, min_wall_ns, &total, &more);
        if (rc == 0 && !more && total > before && l->max_bytes != 0) {
            rc = void_causal_log_used(l, &used);
            more = used > l->max_bytes;
        }
    }
    if (removed != NULL) {
        *removed = total;
    }
    return rc;
}
