/*
 * LMDB-backed store of replica records (contract in include/void/pstore.h).
 *
 * One unnamed database; the LMDB key is the record kind (1 byte) followed by
 * the record key (8 bytes, big-endian), so that a cursor walks records in
 * (kind, key) order and DELETE_UPTO is a prefix scan from the kind's first
 * key. Durability comes from LMDB's default: mdb_txn_commit writes the data
 * pages and then the meta page with fdatasync in between, so a commit that
 * returned is on disk and a crash leaves either the old or the new state.
 */
#include "void/pstore.h"

#include "void/assert.h"
#include "void/error.h"

#include <errno.h>
#include <lmdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#define KEY_SIZE 9

static void key_make(uint8_t out[KEY_SIZE], uint8_t kind, uint64_t key)
{
    out[0] = kind;
    for (int i = 0; i < 8; i++) {
        out[1 + i] = (uint8_t)(key >> (56 - 8 * i));
    }
}

static uint64_t key_number(const uint8_t in[KEY_SIZE])
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++) {
        v = v << 8 | in[1 + i];
    }
    return v;
}

static int map_err(int rc)
{
    switch (rc) {
    case MDB_MAP_FULL:
    case ENOSPC:
        return VOID_ENOSPC;
    case ENOMEM:
        return VOID_ENOMEM;
    case EAGAIN:
    case EBUSY:
        return VOID_EBUSY;
    default:
        return VOID_EIO;
    }
}

int void_pstore_open(struct void_pstore *s, const char *dir, char *errbuf, size_t errcap)
{
    VOID_ASSERT(s != NULL);
    VOID_ASSERT(dir != NULL);
    memset(s, 0, sizeof(*s));
    if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
        (void)snprintf(
            errbuf, errbuf != NULL ? errcap : 0, "cannot create %s: %s", dir, strerror(errno));
        return VOID_EIO;
    }
    MDB_env *env = NULL;
    MDB_txn *txn = NULL;
    MDB_dbi dbi = 0;
    int rc = mdb_env_create(&env);
    if (rc == 0) {
        rc = mdb_env_set_mapsize(env, (size_t)VOID_PSTORE_MAP_SIZE_DEF);
    }
    if (rc == 0) {
        rc = mdb_env_open(env, dir, 0, 0600);
    }
    if (rc == 0) {
        rc = mdb_txn_begin(env, NULL, 0, &txn);
    }
    if (rc == 0) {
        rc = mdb_dbi_open(txn, NULL, 0, &dbi);
    }
    if (rc == 0) {
        rc = mdb_txn_commit(txn);
        txn = NULL;
    }
    if (rc != 0) {
        if (txn != NULL) {
            mdb_txn_abort(txn);
        }
        mdb_env_close(env);
        (void)snprintf(errbuf,
                       errbuf != NULL ? errcap : 0,
                       "cannot open the store in %s: %s",
                       dir,
                       mdb_strerror(rc));
        return map_err(rc);
    }
    s->env = env;
    s->dbi = dbi;
    s->open = 1;
    return 0;
}

void void_pstore_close(struct void_pstore *s)
{
    VOID_ASSERT(s != NULL);
    if (s->open) {
        mdb_env_close(s->env);
    }
    s->open = 0;
    s->env = NULL;
}

static int delete_upto(MDB_txn *txn, MDB_dbi dbi, uint8_t kind, uint64_t upto)
{
    MDB_cursor *cur = NULL;
    int rc = mdb_cursor_open(txn, dbi, &cur);
    if (rc != 0) {
        return rc;
    }
    uint8_t first[KEY_SIZE];
    key_make(first, kind, 0);
    MDB_val k = {.mv_size = KEY_SIZE, .mv_data = first};
    MDB_val v;
    rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
    while (rc == 0) {
        const uint8_t *kb = k.mv_data;
        if (k.mv_size != KEY_SIZE || kb[0] != kind || key_number(kb) > upto) {
            break;
        }
        rc = mdb_cursor_del(cur, 0);
        if (rc == 0) {
            rc = mdb_cursor_get(cur, &k, &v, MDB_GET_CURRENT);
            if (rc == EINVAL) {
                rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT);
            }
        }
    }
    mdb_cursor_close(cur);
    return rc == MDB_NOTFOUND ? 0 : rc;
}

static uint64_t mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static int write_ops(struct void_pstore *s, const struct void_pstore_op *ops, size_t count);

int void_pstore_write(struct void_pstore *s, const struct void_pstore_op *ops, size_t count)
{
    uint64_t start = mono_ns();
    int rc = write_ops(s, ops, count);
    s->count_ns += mono_ns() - start;
    return rc;
}

static int write_ops(struct void_pstore *s, const struct void_pstore_op *ops, size_t count)
{
    VOID_ASSERT(s != NULL && s->open);
    VOID_ASSERT(count == 0 || ops != NULL);
    MDB_txn *txn = NULL;
    int rc = mdb_txn_begin(s->env, NULL, 0, &txn);
    for (size_t i = 0; rc == 0 && i < count; i++) {
        const struct void_pstore_op *op = &ops[i];
        if (op->op == VOID_PSTORE_PUT) {
            uint8_t kb[KEY_SIZE];
            key_make(kb, op->kind, op->key);
            MDB_val k = {.mv_size = KEY_SIZE, .mv_data = kb};
            MDB_val v = {.mv_size = op->len, .mv_data = (void *)(uintptr_t)op->data};
            rc = mdb_put(txn, s->dbi, &k, &v, 0);
            s->count_bytes += op->len;
        } else if (op->op == VOID_PSTORE_DELETE_UPTO) {
            rc = delete_upto(txn, s->dbi, op->kind, op->key);
        } else {
            mdb_txn_abort(txn);
            return VOID_EINVAL;
        }
    }
    if (rc != 0) {
        if (txn != NULL) {
            mdb_txn_abort(txn);
        }
        return map_err(rc);
    }
    rc = mdb_txn_commit(txn);
    if (rc != 0) {
        return map_err(rc);
    }
    s->count_commits++;
    return 0;
}

int void_pstore_read_all(struct void_pstore *s, struct void_pstore_rec **out, size_t *count)
{
    VOID_ASSERT(s != NULL && s->open);
    VOID_ASSERT(out != NULL && count != NULL);
    *out = NULL;
    *count = 0;
    MDB_txn *txn = NULL;
    MDB_cursor *cur = NULL;
    int rc = mdb_txn_begin(s->env, NULL, MDB_RDONLY, &txn);
    if (rc == 0) {
        rc = mdb_cursor_open(txn, s->dbi, &cur);
    }
    if (rc != 0) {
        if (txn != NULL) {
            mdb_txn_abort(txn);
        }
        return map_err(rc);
    }
    /* Two passes: size everything, then copy into one allocation. */
    size_t n = 0, bytes = 0;
    MDB_val k, v;
    for (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0;
         rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
        n++;
        bytes += v.mv_size;
    }
    struct void_pstore_rec *recs = malloc(n * sizeof(*recs) + bytes + 1);
    if (recs == NULL) {
        mdb_cursor_close(cur);
        mdb_txn_abort(txn);
        return VOID_ENOMEM;
    }
    uint8_t *data = (uint8_t *)(recs + n);
    size_t i = 0;
    for (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0 && i < n;
         rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
        if (k.mv_size != KEY_SIZE) {
            continue; /* not ours */
        }
        memcpy(data, v.mv_data, v.mv_size);
        recs[i] = (struct void_pstore_rec){.kind = ((const uint8_t *)k.mv_data)[0],
                                           .key = key_number(k.mv_data),
                                           .data = data,
                                           .len = v.mv_size};
        data += v.mv_size;
        i++;
    }
    mdb_cursor_close(cur);
    mdb_txn_abort(txn);
    VOID_ASSERT(i <= n);
    *out = recs;
    *count = i;
    return 0;
}
