/*
 * The CAS store on LMDB: opening a store directory, the block record
 * format, reference counting, pins and usage counters (the guarantees are
 * described in include/void/cas.h). Ingest lives in cas_ingest.c, export in
 * cas_export.c, garbage collection and fsck in cas_gc.c.
 *
 * Four named databases: "blocks" (hash -> record), "refs" (hash -> u64
 * refcount, absent when 0), "pins" (name -> hash) and "meta" ("format" ->
 * u32, "stats" -> three u64 counters). All integers are big-endian.
 */
#include "store/cas_int.h"
#include "void/assert.h"
#include "void/bytes.h"
#include "void/error.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>
#include <zstd.h>

#define DEFAULT_ZSTD_LEVEL 5
#define OWNER_LOCK         "store.lock"
#define PID_WIDTH          11 /* "%10ld\n": every opener writes the same width */

int void__cas_err(int rc)
{
    /* VOID_E* codes pass through; LMDB's own codes sit near -30800. */
    if (rc < 0 && rc > MDB_KEYEXIST + 1000) {
        return rc;
    }
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
    case EEXIST:
        return VOID_EEXIST;
    case ENOENT:
    case ENOTDIR:
    case MDB_NOTFOUND:
        return VOID_ENOTFOUND;
    case ENOMEM:
        return VOID_ENOMEM;
    case MDB_VERSION_MISMATCH:
        return VOID_ECAS_NOT_STORE;
    case MDB_INVALID:
    case MDB_CORRUPTED:
    case MDB_PAGE_NOTFOUND:
        return VOID_ECAS_DAMAGED;
    default:
        return VOID_EIO;
    }
}

void void_cas_config_default(struct void_cas_config *config)
{
    VOID_ASSERT(config != NULL);
    memset(config, 0, sizeof(*config));
    void_cdc_config_default(&config->cdc);
    config->zstd_level = DEFAULT_ZSTD_LEVEL;
}

/* 1 if the directory open as dfd has no entries (dfd stays open). */
static int dir_is_empty(int dfd)
{
    int fd = dup(dfd);
    DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
    if (d == NULL) {
        if (fd >= 0) {
            close(fd);
        }
        return 0;
    }
    int empty = 1;
    struct dirent *de;
    while (empty && (de = readdir(d)) != NULL) {
        /* The lock file alone is left by a create that failed. */
        empty = strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0 ||
                strcmp(de->d_name, OWNER_LOCK) == 0;
    }
    closedir(d);
    return empty;
}

/* Checks that dir exists (creating it if asked) and that it either holds a
 * store or, when creating, is empty. */
static int check_dir(const char *dir, int create)
{
    struct stat st;
    if (stat(dir, &st) != 0) {
        if (errno != ENOENT || !create) {
            return void__cas_err(errno);
        }
        if (mkdir(dir, 0700) != 0) {
            return void__cas_err(errno);
        }
        return 0;
    }
    if (!S_ISDIR(st.st_mode)) {
        return VOID_ECAS_NOT_STORE;
    }
    int dfd = open(dir, O_RDONLY | O_DIRECTORY);
    if (dfd < 0) {
        return void__cas_err(errno);
    }
    int has_data = faccessat(dfd, "data.mdb", F_OK, 0) == 0;
    int empty = !has_data && create && dir_is_empty(dfd);
    close(dfd);
    /* Never create a store among someone else's files. */
    return has_data || empty ? 0 : VOID_ECAS_NOT_STORE;
}

/* The chunk sizes are fixed when a store is created (record "cdc": three
 * big-endian u32), since other sizes would cut the same files differently
 * and defeat dedup: a store always chunks with its own. */
static int cdc_record(struct void_cas *cas, MDB_txn *txn, int write)
{
    MDB_val k = {3, (void *)(uintptr_t) "cdc"}, v;
    uint8_t buf[12];
    if (write) {
        const uint32_t f[3] = {
            cas->cdc.config.size_min, cas->cdc.config.size_avg, cas->cdc.config.size_max};
        for (int i = 0; i < 12; i++) {
            buf[i] = (uint8_t)(f[i / 4] >> (24 - 8 * (i % 4)));
        }
        v = (MDB_val){sizeof(buf), buf};
        return void__cas_err(mdb_put(txn, cas->meta, &k, &v, 0));
    }
    int rc = mdb_get(txn, cas->meta, &k, &v);
    if (rc != 0 || v.mv_size != sizeof(buf)) {
        return rc == 0 ? VOID_ECAS_BAD_RECORD : void__cas_err(rc);
    }
    const uint8_t *p = v.mv_data;
    uint32_t f[3];
    for (int i = 0; i < 3; i++) {
        f[i] = (uint32_t)p[4 * i] << 24 | (uint32_t)p[4 * i + 1] << 16 |
               (uint32_t)p[4 * i + 2] << 8 | p[4 * i + 3];
    }
    struct void_cdc_config c = {f[0], f[1], f[2]};
    rc = void_cdc_init(&cas->cdc, &c);
    return rc == 0 ? 0 : VOID_ECAS_BAD_RECORD;
}

/* Checks the "format" record, writing it into a new store, and loads (or
 * records) the chunk sizes. */
static int check_format(struct void_cas *cas, MDB_txn *txn, int create)
{
    MDB_val k = {6, (void *)(uintptr_t) "format"}, v;
    int rc = mdb_get(txn, cas->meta, &k, &v);
    if (rc == MDB_NOTFOUND && create) {
        uint8_t fmt[4] = {0, 0, 0, VOID_CAS_FORMAT};
        v = (MDB_val){4, fmt};
        rc = void__cas_err(mdb_put(txn, cas->meta, &k, &v, 0));
        return rc == 0 ? cdc_record(cas, txn, 1) : rc;
    }
    if (rc == MDB_NOTFOUND) {
        return VOID_ECAS_NOT_STORE;
    }
    if (rc != 0) {
        return void__cas_err(rc);
    }
    const uint8_t *f = v.mv_data;
    int ok = v.mv_size == 4 && f[0] == 0 && f[1] == 0 && f[2] == 0 && f[3] == VOID_CAS_FORMAT;
    return ok ? cdc_record(cas, txn, 0) : VOID_ECAS_NOT_STORE;
}

/* Opens the databases and checks (or, on a new store, writes) the format. */
static int open_dbs(struct void_cas *cas, int create)
{
    MDB_txn *txn;
    int rc = mdb_txn_begin(cas->env, NULL, 0, &txn);
    if (rc != 0) {
        return void__cas_err(rc);
    }
    rc = mdb_dbi_open(txn, "meta", create ? MDB_CREATE : 0, &cas->meta);
    rc = rc == MDB_NOTFOUND ? VOID_ECAS_NOT_STORE : void__cas_err(rc);
    if (rc == 0) {
        rc = check_format(cas, txn, create);
    }
    if (rc == 0) {
        int mrc = mdb_dbi_open(txn, "blocks", MDB_CREATE, &cas->blocks);
        if (mrc == 0) {
            mrc = mdb_dbi_open(txn, "refs", MDB_CREATE, &cas->refs);
        }
        if (mrc == 0) {
            mrc = mdb_dbi_open(txn, "pins", MDB_CREATE, &cas->pins);
        }
        rc = void__cas_err(mrc);
    }
    if (rc != 0) {
        mdb_txn_abort(txn);
        return rc;
    }
    return void__cas_commit_sync(cas, txn);
}

static int open_files(struct void_cas *cas, const char *dir)
{
    int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd < 0) {
        return void__cas_err(errno);
    }
    cas->lock_fd = openat(dfd, "gc.lock", O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    int rc = cas->lock_fd < 0 ? void__cas_err(errno) : void__cas_packs_open(cas, dfd);
    close(dfd);
    return rc;
}

/* The pid written in the lock file by whoever holds it, or 0 when there is
 * none or that process is gone. */
static long lock_holder(int fd)
{
    char buf[PID_WIDTH + 1];
    ssize_t n = pread(fd, buf, PID_WIDTH, 0);
    if (n <= 0) {
        return 0;
    }
    buf[n] = '\0';
    char *end = NULL;
    long pid = strtol(buf, &end, 10);
    if (end == buf || pid <= 0 || (kill((pid_t)pid, 0) != 0 && errno == ESRCH)) {
        return 0;
    }
    VOID_ASSERT(pid > 0);
    return pid;
}

/* Explains in cas->error who holds the store that this open could not lock.
 * A shared opener fails only beside an exclusive holder, the store's owner;
 * an exclusive one probes with a shared lock to tell a cooperating tool
 * (shared) from an owner. */
static void lock_explain(struct void_cas *cas, const char *dir, int exclusive)
{
    int holder_shared = exclusive && flock(cas->owner_fd, LOCK_SH | LOCK_NB) == 0;
    if (holder_shared) {
        (void)flock(cas->owner_fd, LOCK_UN);
    }
    long pid = lock_holder(cas->owner_fd);
    char who[48] = "another process";
    if (pid > 0) {
        (void)snprintf(who, sizeof(who), "process %ld", pid);
    }
    if (holder_shared) {
        (void)snprintf(cas->error,
                       sizeof(cas->error),
                       "%s is in use by %s, which has it open through %s/" OWNER_LOCK
                       ": wait for it to finish, or stop it",
                       dir,
                       who,
                       dir);
        return;
    }
    (void)snprintf(cas->error,
                   sizeof(cas->error),
                   "%s is owned by %s, which holds %s/" OWNER_LOCK
                   " (a running voidd, if this is a replica's block store): stop it "
                   "before opening the store, or work on a copy",
                   dir,
                   who,
                   dir);
}

/* Takes DIR/store.lock for as long as the store stays open, without
 * waiting: two owners of one store would each believe the store is theirs
 * (a voidctl gc beside a replica's voidd frees blocks its replicated state
 * names). gc.lock cannot do this: it is held only during an operation, and
 * puts, which run beside each other, all take it shared. */
static int owner_lock(struct void_cas *cas, const char *dir, int exclusive)
{
    int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd < 0) {
        return void__cas_err(errno);
    }
    cas->owner_fd = openat(dfd, OWNER_LOCK, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    int err = errno;
    close(dfd);
    if (cas->owner_fd < 0) {
        return void__cas_err(err);
    }
    int rc;
    do {
        rc = flock(cas->owner_fd, (exclusive ? LOCK_EX : LOCK_SH) | LOCK_NB);
    } while (rc != 0 && errno == EINTR);
    if (rc != 0) {
        if (errno != EWOULDBLOCK) {
            return void__cas_err(errno);
        }
        lock_explain(cas, dir, exclusive);
        return VOID_ECAS_LOCKED;
    }
    /* Same width from every opener, so that shared holders writing at once
     * leave one whole pid. Best effort: the lock is what protects. */
    char pid[32]; /* room for any long; a pid (< 2^22 on Linux) fills PID_WIDTH */
    int len = snprintf(pid, sizeof(pid), "%10ld\n", (long)getpid());
    VOID_ASSERT(len == PID_WIDTH);
    int written = ftruncate(cas->owner_fd, PID_WIDTH) == 0 &&
                  pwrite(cas->owner_fd, pid, PID_WIDTH, 0) == PID_WIDTH;
    (void)written;
    return 0;
}

/* Says in cas->error that the LMDB file of dir does not open, when there is
 * one (an empty directory or a stranger's files are not a store at all). */
static int damage_explain(struct void_cas *cas, const char *dir, int mdb_rc)
{
    struct stat st;
    char path[VOID_CAS_ERROR_MAX / 2];
    (void)snprintf(path, sizeof(path), "%s/data.mdb", dir);
    if (stat(path, &st) != 0 || st.st_size == 0) {
        return VOID_ECAS_NOT_STORE;
    }
    (void)snprintf(cas->error,
                   sizeof(cas->error),
                   "%s: cas store damaged: LMDB cannot read it (%s). Move %s aside, then "
                   "let the blocks come back: a replica refetches them from its peers when "
                   "asked; a voidctl store is rebuilt by putting its sources again. "
                   "`voidctl store fsck` checks a store that still opens",
                   path,
                   mdb_strerror(mdb_rc),
                   dir);
    return VOID_ECAS_DAMAGED;
}

int void_cas_init(struct void_cas *cas, const char *dir, const struct void_cas_config *config)
{
    VOID_ASSERT(cas != NULL && dir != NULL);
    VOID_ASSERT(config != NULL);
    memset(cas, 0, sizeof(*cas));
    cas->lock_fd = -1;
    cas->owner_fd = -1;
    cas->packs_fd = -1;
    cas->read_pack_fd = -1;
    struct void_cdc_config cdc = config->cdc;
    if (cdc.size_min == 0 || cdc.size_avg == 0 || cdc.size_max == 0) {
        void_cdc_config_default(&cdc);
    }
    int rc = void_cdc_init(&cas->cdc, &cdc);
    if (rc != 0) {
        return rc;
    }
    long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
    cas->threads = config->threads != 0 ? config->threads : (unsigned)(ncpu > 0 ? ncpu : 1);
    cas->zstd_level = config->zstd_level != 0 ? config->zstd_level : DEFAULT_ZSTD_LEVEL;
    if ((rc = check_dir(dir, config->create)) != 0) {
        return rc;
    }
    if ((rc = owner_lock(cas, dir, !config->shared)) != 0) {
        return rc;
    }
    if ((rc = mdb_env_create(&cas->env)) != 0 || (rc = mdb_env_set_maxdbs(cas->env, 4)) != 0 ||
        (rc = mdb_env_set_mapsize(cas->env, (size_t)VOID_CAS_MAP_SIZE)) != 0 ||
        (rc = mdb_env_open(cas->env, dir, MDB_NOSYNC | MDB_NOTLS, 0600)) != 0) {
        rc = void__cas_err(rc) == VOID_ECAS_DAMAGED ? damage_explain(cas, dir, rc)
                                                    : void__cas_err(rc);
        return rc;
    }
    if ((rc = open_dbs(cas, config->create)) != 0) {
        return rc;
    }
    return open_files(cas, dir);
}

void void_cas_fini(struct void_cas *cas)
{
    VOID_ASSERT(cas != NULL);
    if (cas->env != NULL) {
        mdb_env_close(cas->env);
        cas->env = NULL;
    }
    if (cas->lock_fd >= 0) {
        close(cas->lock_fd);
    }
    cas->lock_fd = -1;
    void__cas_packs_close(cas);
    if (cas->owner_fd >= 0) {
        close(cas->owner_fd); /* last: releases the store to other processes */
    }
    cas->owner_fd = -1;
}

int void__cas_lock(struct void_cas *cas, int exclusive)
{
    VOID_ASSERT(cas->lock_fd >= 0);
    int rc;
    do {
        rc = flock(cas->lock_fd, exclusive ? LOCK_EX : LOCK_SH);
    } while (rc != 0 && errno == EINTR);
    return rc == 0 ? 0 : void__cas_err(errno);
}

void void__cas_unlock(struct void_cas *cas)
{
    VOID_ASSERT(cas->lock_fd >= 0);
    int rc = flock(cas->lock_fd, LOCK_UN);
    VOID_ASSERT(rc == 0);
}

/* LMDB reports a short write (what a full disk gives) as EIO. Tell the
 * user the real cause when the store's filesystem has (almost) no room. */
static int explain_eio(struct void_cas *cas, int rc)
{
    struct statvfs vfs;
    if (rc == VOID_EIO && cas->lock_fd >= 0 && fstatvfs(cas->lock_fd, &vfs) == 0 &&
        (uint64_t)vfs.f_bavail * vfs.f_frsize < (1u << 20)) {
        return VOID_ENOSPC;
    }
    return rc;
}

int void__cas_commit(struct void_cas *cas, MDB_txn *txn)
{
    VOID_ASSERT(cas->env != NULL && txn != NULL);
    return explain_eio(cas, void__cas_err(mdb_txn_commit(txn)));
}

int void__cas_sync(struct void_cas *cas)
{
    VOID_ASSERT(cas->env != NULL);
    cas->count_syncs++;
    return explain_eio(cas, void__cas_err(mdb_env_sync(cas->env, 1)));
}

int void__cas_commit_sync(struct void_cas *cas, MDB_txn *txn)
{
    int rc = void__cas_commit(cas, txn);
    return rc == 0 ? void__cas_sync(cas) : rc;
}

void void__cas_record_header(uint8_t hdr[VOID__CAS_RECORD_HEADER],
                             uint8_t kind,
                             uint8_t flags,
                             uint32_t raw_len)
{
    VOID_ASSERT(kind >= VOID_CAS_BLOB && kind <= VOID_CAS_DIR);
    VOID_ASSERT((flags & ~(VOID__CAS_FLAG_ZSTD | VOID__CAS_FLAG_PACKED)) == 0);
    hdr[0] = VOID__CAS_RECORD_VERSION;
    hdr[1] = kind;
    hdr[2] = flags;
    hdr[3] = 0;
    for (int i = 0; i < 4; i++) {
        hdr[4 + i] = (uint8_t)(raw_len >> (24 - 8 * i));
    }
}

int void__cas_record_locator(const MDB_val *v, uint32_t *id, uint64_t *off, uint32_t *len)
{
    const uint8_t *p = v->mv_data;
    if (v->mv_size != VOID__CAS_RECORD_HEADER + VOID__CAS_LOCATOR ||
        (p[2] & VOID__CAS_FLAG_PACKED) == 0) {
        return VOID_ECAS_BAD_RECORD;
    }
    p += VOID__CAS_RECORD_HEADER;
    *id = void_bytes_get_be32(p);
    *off = void_bytes_get_be64(p + 4);
    *len = void_bytes_get_be32(p + 12);
    return 0;
}

/* Returns the stored payload of record v: in the record, or read from its
 * pack into *owned (malloc'd; the caller frees it). */
static int record_payload(
    struct void_cas *cas, const MDB_val *v, const uint8_t **payload, size_t *len, uint8_t **owned)
{
    const uint8_t *p = v->mv_data;
    *owned = NULL;
    if ((p[2] & VOID__CAS_FLAG_PACKED) == 0) {
        *payload = p + VOID__CAS_RECORD_HEADER;
        *len = v->mv_size - VOID__CAS_RECORD_HEADER;
        return 0;
    }
    uint32_t id, n;
    uint64_t off;
    if (void__cas_record_locator(v, &id, &off, &n) != 0) {
        return VOID_ECAS_BAD_RECORD;
    }
    if ((*owned = malloc(n > 0 ? n : 1)) == NULL) {
        return VOID_ENOMEM;
    }
    int rc = void__cas_pack_read(cas, id, off, n, *owned);
    if (rc != 0) {
        free(*owned);
        *owned = NULL;
        return rc;
    }
    *payload = *owned;
    *len = n;
    return 0;
}

/* Fills out (raw_len bytes) from the stored payload. */
static int unpack(const uint8_t *payload, size_t stored, int zstd, uint8_t *out, size_t raw_len)
{
    if (!zstd) {
        if (stored != raw_len) {
            return VOID_ECAS_BAD_RECORD;
        }
        if (raw_len > 0) {
            memcpy(out, payload, raw_len);
        }
        return 0;
    }
    size_t n = ZSTD_decompress(out, raw_len, payload, stored);
    return ZSTD_isError(n) || n != raw_len ? VOID_ECAS_BAD_RECORD : 0;
}

int void__cas_record_decode(struct void_cas *cas,
                            const MDB_val *v,
                            const struct void_hash *h,
                            uint8_t **data,
                            size_t *len,
                            uint8_t *kind)
{
    VOID_ASSERT(v != NULL && h != NULL);
    VOID_ASSERT(data != NULL && len != NULL && kind != NULL);
    const uint8_t *p = v->mv_data;
    const uint8_t known = VOID__CAS_FLAG_ZSTD | VOID__CAS_FLAG_PACKED;
    if (v->mv_size < VOID__CAS_RECORD_HEADER || p[0] != VOID__CAS_RECORD_VERSION ||
        p[1] < VOID_CAS_BLOB || p[1] > VOID_CAS_DIR || (p[2] & ~known) != 0) {
        return VOID_ECAS_BAD_RECORD;
    }
    size_t raw_len = void_bytes_get_be32(p + 4);
    const uint8_t *payload;
    size_t stored;
    uint8_t *owned;
    int rc = record_payload(cas, v, &payload, &stored, &owned);
    uint8_t *out = rc == 0 ? malloc(raw_len > 0 ? raw_len : 1) : NULL;
    if (rc == 0 && out == NULL) {
        rc = VOID_ENOMEM;
    }
    if (rc == 0) {
        rc = unpack(payload, stored, (p[2] & VOID__CAS_FLAG_ZSTD) != 0, out, raw_len);
    }
    free(owned);
    struct void_hash got;
    if (rc == 0) {
        void_hash_compute(out, raw_len, &got);
        rc = void_hash_equal(&got, h) ? 0 : VOID_ECAS_HASH_MISMATCH;
    }
    if (rc != 0) {
        free(out);
        return rc;
    }
    *data = out;
    *len = raw_len;
    *kind = p[1];
    return 0;
}

int void__cas_children(uint8_t kind,
                       const uint8_t *raw,
                       size_t len,
                       int (*fn)(void *arg, const struct void_hash *child),
                       void *arg)
{
    VOID_ASSERT(fn != NULL);
    VOID_ASSERT(raw != NULL || len == 0);
    int rc = 0;
    if (kind == VOID_CAS_FILE) {
        struct void_casobj_file f;
        if ((rc = void_casobj_file_decode(raw, len, &f)) != 0) {
            return rc;
        }
        for (uint32_t i = 0; i < f.count && rc == 0; i++) {
            struct void_casobj_chunk c;
            void_casobj_file_chunk(&f, i, &c);
            rc = fn(arg, &c.hash);
        }
    } else if (kind == VOID_CAS_DIR) {
        struct void_casobj_dir d;
        struct void_casobj_entry e;
        if ((rc = void_casobj_dir_decode(raw, len, &d)) != 0) {
            return rc;
        }
        while (rc == 0 && void_casobj_dir_next(&d, &e)) {
            rc = e.type == VOID_CAS_SYMLINK ? 0 : fn(arg, &e.hash);
        }
    }
    return rc;
}

int void__cas_refs_get(struct void_cas *cas, MDB_txn *txn, const struct void_hash *h, uint64_t *out)
{
    VOID_ASSERT(txn != NULL && h != NULL && out != NULL);
    MDB_val k = {VOID_HASH_SIZE, (void *)(uintptr_t)h->b}, v;
    int rc = mdb_get(txn, cas->refs, &k, &v);
    if (rc == MDB_NOTFOUND) {
        *out = 0;
        return 0;
    }
    if (rc != 0) {
        return void__cas_err(rc);
    }
    if (v.mv_size != 8) {
        return VOID_ECAS_BAD_RECORD;
    }
    *out = void_bytes_get_be64(v.mv_data);
    return 0;
}

int void__cas_refs_add(
    struct void_cas *cas, MDB_txn *txn, const struct void_hash *h, int64_t delta, uint64_t *after)
{
    VOID_ASSERT(txn != NULL && h != NULL);
    uint64_t n;
    int rc = void__cas_refs_get(cas, txn, h, &n);
    if (rc != 0) {
        return rc;
    }
    if (delta < 0 && n < (uint64_t)-delta) {
        return VOID_ECAS_BAD_RECORD;
    }
    n = (uint64_t)((int64_t)n + delta);
    MDB_val k = {VOID_HASH_SIZE, (void *)(uintptr_t)h->b};
    if (n == 0) {
        rc = mdb_del(txn, cas->refs, &k, NULL);
        rc = rc == MDB_NOTFOUND ? 0 : rc;
    } else {
        uint8_t buf[8];
        void_bytes_put_be64(buf, n);
        MDB_val v = {8, buf};
        rc = mdb_put(txn, cas->refs, &k, &v, 0);
    }
    if (after != NULL) {
        *after = n;
    }
    return void__cas_err(rc);
}

struct incr_ctx {
    struct void_cas *cas;
    MDB_txn *txn;
};

static int incr_child(void *arg, const struct void_hash *child)
{
    struct incr_ctx *ctx = arg;
    MDB_val k = {VOID_HASH_SIZE, (void *)(uintptr_t)child->b}, v;
    int rc = mdb_get(ctx->txn, ctx->cas->blocks, &k, &v);
    if (rc != 0) {
        return rc == MDB_NOTFOUND ? VOID_ECAS_MISSING : void__cas_err(rc);
    }
    return void__cas_refs_add(ctx->cas, ctx->txn, child, 1, NULL);
}

int void__cas_insert(struct void_cas *cas,
                     MDB_txn *txn,
                     uint8_t kind,
                     const struct void_hash *h,
                     const uint8_t *raw,
                     size_t raw_len,
                     const uint8_t *payload,
                     size_t payload_len,
                     uint8_t flags,
                     struct void__cas_delta *delta)
{
    VOID_ASSERT(txn != NULL && h != NULL && delta != NULL);
    VOID_ASSERT(raw_len <= UINT32_MAX && (payload != NULL || payload_len == 0));
    MDB_val k = {VOID_HASH_SIZE, (void *)(uintptr_t)h->b};
    MDB_val v = {VOID__CAS_RECORD_HEADER + payload_len, NULL};
    int rc = mdb_put(txn, cas->blocks, &k, &v, MDB_NOOVERWRITE | MDB_RESERVE);
    if (rc == MDB_KEYEXIST) {
        return 0;
    }
    if (rc != 0) {
        return void__cas_err(rc);
    }
    void__cas_record_header(v.mv_data, kind, flags, (uint32_t)raw_len);
    if (payload_len > 0) {
        memcpy((uint8_t *)v.mv_data + VOID__CAS_RECORD_HEADER, payload, payload_len);
    }
    if (kind != VOID_CAS_BLOB) {
        struct incr_ctx ctx = {cas, txn};
        if ((rc = void__cas_children(kind, raw, raw_len, incr_child, &ctx)) != 0) {
            return rc;
        }
    }
    delta->blocks += 1;
    delta->raw_bytes += (int64_t)raw_len;
    delta->stored_bytes += (int64_t)(VOID__CAS_RECORD_HEADER + payload_len);
    return 1;
}

static const MDB_val stats_key = {5, (void *)(uintptr_t) "stats"};

int void__cas_delta_apply(struct void_cas *cas, MDB_txn *txn, const struct void__cas_delta *delta)
{
    VOID_ASSERT(txn != NULL && delta != NULL);
    uint8_t buf[24] = {0};
    MDB_val k = stats_key, v;
    int rc = mdb_get(txn, cas->meta, &k, &v);
    if (rc == 0 && v.mv_size == sizeof(buf)) {
        memcpy(buf, v.mv_data, sizeof(buf));
    } else if (rc != MDB_NOTFOUND && rc != 0) {
        return void__cas_err(rc);
    }
    const int64_t d[3] = {delta->blocks, delta->raw_bytes, delta->stored_bytes};
    for (int i = 0; i < 3; i++) {
        uint64_t cur = void_bytes_get_be64(buf + 8 * i);
        VOID_ASSERT(d[i] >= 0 || cur >= (uint64_t)-d[i]);
        void_bytes_put_be64(buf + 8 * i, (uint64_t)((int64_t)cur + d[i]));
    }
    v = (MDB_val){sizeof(buf), buf};
    return void__cas_err(mdb_put(txn, cas->meta, &k, &v, 0));
}

int void_cas_has(struct void_cas *cas, const struct void_hash *h)
{
    VOID_ASSERT(cas != NULL && cas->env != NULL);
    VOID_ASSERT(h != NULL);
    MDB_txn *txn;
    int rc = mdb_txn_begin(cas->env, NULL, MDB_RDONLY, &txn);
    if (rc != 0) {
        return void__cas_err(rc);
    }
    MDB_val k = {VOID_HASH_SIZE, (void *)(uintptr_t)h->b}, v;
    rc = mdb_get(txn, cas->blocks, &k, &v);
    mdb_txn_abort(txn);
    return rc == 0 ? 1 : (rc == MDB_NOTFOUND ? 0 : void__cas_err(rc));
}

int void_cas_get_block(
    struct void_cas *cas, const struct void_hash *h, uint8_t **data, size_t *len, uint8_t *kind)
{
    VOID_ASSERT(cas != NULL && cas->env != NULL);
    VOID_ASSERT(h != NULL && data != NULL);
    MDB_txn *txn;
    int rc = mdb_txn_begin(cas->env, NULL, MDB_RDONLY, &txn);
    if (rc != 0) {
        return void__cas_err(rc);
    }
    MDB_val k = {VOID_HASH_SIZE, (void *)(uintptr_t)h->b}, v;
    rc = mdb_get(txn, cas->blocks, &k, &v);
    if (rc == 0) {
        rc = void__cas_record_decode(cas, &v, h, data, len, kind);
    } else {
        rc = rc == MDB_NOTFOUND ? VOID_ECAS_MISSING : void__cas_err(rc);
    }
    mdb_txn_abort(txn);
    return rc;
}

/* 0 if every child of an object block is stored (inside txn, so blocks
 * inserted earlier in the same transaction count), else VOID_ECAS_MISSING,
 * a decoder error or VOID_EIO. Checked before the insert writes anything, so
 * a block that fails leaves the transaction as it was. */
static int check_children(void *arg, const struct void_hash *child)
{
    struct incr_ctx *ctx = arg;
    MDB_val k = {VOID_HASH_SIZE, (void *)(uintptr_t)child->b}, v;
    int rc = mdb_get(ctx->txn, ctx->cas->blocks, &k, &v);
    return rc == 0 ? 0 : (rc == MDB_NOTFOUND ? VOID_ECAS_MISSING : void__cas_err(rc));
}

/* Inserts one block of a batch; its own failure goes to b->rc, and only an
 * LMDB failure (which spoils the transaction) is returned. */
static int
put_one(struct void_cas *cas, MDB_txn *txn, struct void_cas_block *b, struct void__cas_delta *delta)
{
    VOID_ASSERT(b->data != NULL || b->len == 0);
    if (b->kind < VOID_CAS_BLOB || b->kind > VOID_CAS_DIR || b->len > UINT32_MAX) {
        b->rc = VOID_EINVAL;
        return 0;
    }
    void_hash_compute(b->data, b->len, &b->hash);
    struct incr_ctx ctx = {cas, txn};
    b->rc = void__cas_children(b->kind, b->data, b->len, check_children, &ctx);
    if (b->rc == VOID_EIO || b->rc == VOID_ENOMEM) {
        return b->rc;
    }
    if (b->rc != 0) {
        return 0;
    }
    int rc =
        void__cas_insert(cas, txn, b->kind, &b->hash, b->data, b->len, b->data, b->len, 0, delta);
    VOID_ASSERT(rc != VOID_ECAS_MISSING); /* children were checked above */
    return rc < 0 ? rc : 0;
}

int void_cas_put_blocks(struct void_cas *cas, struct void_cas_block *blocks, size_t count)
{
    VOID_ASSERT(cas != NULL && cas->env != NULL);
    VOID_ASSERT(blocks != NULL || count == 0);
    int rc = void__cas_lock(cas, 0);
    if (rc != 0) {
        goto fail;
    }
    MDB_txn *txn;
    struct void__cas_delta delta = {0, 0, 0};
    if ((rc = void__cas_err(mdb_txn_begin(cas->env, NULL, 0, &txn))) != 0) {
        void__cas_unlock(cas);
        goto fail;
    }
    for (size_t i = 0; i < count && rc == 0; i++) {
        rc = put_one(cas, txn, &blocks[i], &delta);
    }
    if (rc == 0) {
        rc = void__cas_delta_apply(cas, txn, &delta);
    }
    if (rc == 0) {
        rc = void__cas_commit_sync(cas, txn);
    } else {
        mdb_txn_abort(txn);
    }
    void__cas_unlock(cas);
    if (rc == 0) {
        return 0;
    }
fail:
    for (size_t i = 0; i < count; i++) {
        blocks[i].rc = rc; /* nothing of this call is stored */
    }
    return rc;
}

int void_cas_put_block(
    struct void_cas *cas, uint8_t kind, const uint8_t *data, size_t len, struct void_hash *out)
{
    VOID_ASSERT(cas != NULL && out != NULL);
    VOID_ASSERT(data != NULL || len == 0);
    struct void_cas_block b = {.kind = kind, .data = data, .len = len};
    int rc = void_cas_put_blocks(cas, &b, 1);
    if (rc == 0) {
        rc = b.rc;
    }
    *out = b.hash;
    return rc;
}

static int pin_name_check(const char *name, MDB_val *k)
{
    size_t n = strlen(name);
    if (n == 0 || n > VOID_CAS_PIN_NAME_MAX) {
        return VOID_EINVAL;
    }
    *k = (MDB_val){n, (void *)(uintptr_t)name};
    return 0;
}

/* Drops the reference held by pin k, if any, and deletes the pin. */
static int pin_drop(struct void_cas *cas, MDB_txn *txn, MDB_val *k)
{
    MDB_val v;
    int rc = mdb_get(txn, cas->pins, k, &v);
    if (rc != 0) {
        return void__cas_err(rc);
    }
    if (v.mv_size != VOID_HASH_SIZE) {
        return VOID_ECAS_BAD_RECORD;
    }
    struct void_hash old;
    memcpy(old.b, v.mv_data, VOID_HASH_SIZE);
    if ((rc = void__cas_refs_add(cas, txn, &old, -1, NULL)) != 0) {
        return rc;
    }
    return void__cas_err(mdb_del(txn, cas->pins, k, NULL));
}

int void__cas_pin_txn(struct void_cas *cas,
                      MDB_txn *txn,
                      const char *name,
                      const struct void_hash *h)
{
    VOID_ASSERT(txn != NULL);
    VOID_ASSERT(name != NULL && h != NULL);
    MDB_val k, hk = {VOID_HASH_SIZE, (void *)(uintptr_t)h->b}, v;
    int rc = pin_name_check(name, &k);
    if (rc != 0) {
        return rc;
    }
    rc = mdb_get(txn, cas->blocks, &hk, &v);
    rc = rc == MDB_NOTFOUND ? VOID_ECAS_MISSING : void__cas_err(rc);
    if (rc == 0) {
        rc = pin_drop(cas, txn, &k);
        rc = rc == VOID_ENOTFOUND ? 0 : rc;
    }
    if (rc == 0 && (rc = void__cas_refs_add(cas, txn, h, 1, NULL)) == 0) {
        rc = void__cas_err(mdb_put(txn, cas->pins, &k, &hk, 0));
    }
    return rc;
}

int void_cas_pin(struct void_cas *cas, const char *name, const struct void_hash *h)
{
    VOID_ASSERT(cas != NULL && cas->env != NULL);
    VOID_ASSERT(name != NULL && h != NULL);
    MDB_txn *txn;
    int rc = mdb_txn_begin(cas->env, NULL, 0, &txn);
    if (rc != 0) {
        return void__cas_err(rc);
    }
    if ((rc = void__cas_pin_txn(cas, txn, name, h)) != 0) {
        mdb_txn_abort(txn);
        return rc;
    }
    return void__cas_commit_sync(cas, txn);
}

int void_cas_unpin(struct void_cas *cas, const char *name)
{
    VOID_ASSERT(cas != NULL && cas->env != NULL);
    VOID_ASSERT(name != NULL);
    MDB_val k;
    int rc = pin_name_check(name, &k);
    if (rc != 0) {
        return rc;
    }
    MDB_txn *txn;
    if ((rc = mdb_txn_begin(cas->env, NULL, 0, &txn)) != 0) {
        return void__cas_err(rc);
    }
    if ((rc = pin_drop(cas, txn, &k)) != 0) {
        mdb_txn_abort(txn);
        return rc;
    }
    return void__cas_commit_sync(cas, txn);
}

int void_cas_pin_get(struct void_cas *cas, const char *name, struct void_hash *out)
{
    VOID_ASSERT(cas != NULL && cas->env != NULL);
    VOID_ASSERT(name != NULL && out != NULL);
    MDB_val k, v;
    int rc = pin_name_check(name, &k);
    if (rc != 0) {
        return rc;
    }
    MDB_txn *txn;
    if ((rc = mdb_txn_begin(cas->env, NULL, MDB_RDONLY, &txn)) != 0) {
        return void__cas_err(rc);
    }
    rc = mdb_get(txn, cas->pins, &k, &v);
    if (rc == 0 && v.mv_size == VOID_HASH_SIZE) {
        memcpy(out->b, v.mv_data, VOID_HASH_SIZE);
    } else {
        rc = rc == 0 ? VOID_ECAS_BAD_RECORD : void__cas_err(rc);
    }
    mdb_txn_abort(txn);
    return rc;
}

static const MDB_val owner_key = {5, (void *)(uintptr_t) "owner"};

int void_cas_set_owner(struct void_cas *cas, const char *owner)
{
    VOID_ASSERT(cas != NULL && cas->env != NULL);
    VOID_ASSERT(owner != NULL);
    size_t len = strlen(owner);
    if (len > VOID_CAS_OWNER_MAX) {
        return VOID_EINVAL;
    }
    MDB_txn *txn;
    int rc = mdb_txn_begin(cas->env, NULL, 0, &txn);
    if (rc != 0) {
        return void__cas_err(rc);
    }
    MDB_val k = owner_key, v = {len, (void *)(uintptr_t)owner};
    rc = len > 0 ? mdb_put(txn, cas->meta, &k, &v, 0) : mdb_del(txn, cas->meta, &k, NULL);
    if (rc != 0 && rc != MDB_NOTFOUND) {
        mdb_txn_abort(txn);
        return void__cas_err(rc);
    }
    return void__cas_commit_sync(cas, txn);
}

int void_cas_owner(struct void_cas *cas, char *out, size_t cap)
{
    VOID_ASSERT(cas != NULL && cas->env != NULL);
    VOID_ASSERT(out != NULL && cap > VOID_CAS_OWNER_MAX);
    MDB_txn *txn;
    int rc = mdb_txn_begin(cas->env, NULL, MDB_RDONLY, &txn);
    if (rc != 0) {
        return void__cas_err(rc);
    }
    MDB_val k = owner_key, v;
    out[0] = '\0';
    rc = mdb_get(txn, cas->meta, &k, &v);
    if (rc == 0 && (v.mv_size == 0 || v.mv_size > VOID_CAS_OWNER_MAX ||
                    memchr(v.mv_data, '\0', v.mv_size) != NULL)) {
        rc = VOID_ECAS_BAD_RECORD;
    } else if (rc == 0) {
        memcpy(out, v.mv_data, v.mv_size);
        out[v.mv_size] = '\0';
    } else {
        rc = rc == MDB_NOTFOUND ? 0 : void__cas_err(rc);
    }
    mdb_txn_abort(txn);
    return rc;
}

int void_cas_pins(struct void_cas *cas,
                  void (*fn)(void *arg, const char *name, const struct void_hash *h),
                  void *arg)
{
    VOID_ASSERT(cas != NULL && cas->env != NULL);
    VOID_ASSERT(fn != NULL);
    MDB_txn *txn;
    MDB_cursor *cur;
    int rc = mdb_txn_begin(cas->env, NULL, MDB_RDONLY, &txn);
    if (rc != 0) {
        return void__cas_err(rc);
    }
    if ((rc = mdb_cursor_open(txn, cas->pins, &cur)) != 0) {
        mdb_txn_abort(txn);
        return void__cas_err(rc);
    }
    MDB_val k, v;
    char name[VOID_CAS_PIN_NAME_MAX + 1];
    for (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0;
         rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
        if (k.mv_size > VOID_CAS_PIN_NAME_MAX || v.mv_size != VOID_HASH_SIZE) {
            continue;
        }
        struct void_hash h;
        memcpy(name, k.mv_data, k.mv_size);
        name[k.mv_size] = '\0';
        memcpy(h.b, v.mv_data, VOID_HASH_SIZE);
        fn(arg, name, &h);
    }
    mdb_cursor_close(cur);
    mdb_txn_abort(txn);
    return rc == MDB_NOTFOUND ? 0 : void__cas_err(rc);
}

struct logical_ctx {
    struct void_cas *cas;
    uint64_t bytes;
    int rc;
};

static void add_pin_size(void *arg, const char *name, const struct void_hash *h)
{
    struct logical_ctx *ctx = arg;
    (void)name;
    uint8_t *data;
    size_t len;
    uint8_t kind;
    if (void_cas_get_block(ctx->cas, h, &data, &len, &kind) != 0) {
        return; /* fsck reports it; stats stay best effort */
    }
    if (kind == VOID_CAS_FILE) {
        struct void_casobj_file f;
        if (void_casobj_file_decode(data, len, &f) == 0) {
            ctx->bytes += f.size;
        }
    } else if (kind == VOID_CAS_DIR) {
        struct void_casobj_dir d;
        struct void_casobj_entry e;
        if (void_casobj_dir_decode(data, len, &d) == 0) {
            while (void_casobj_dir_next(&d, &e)) {
                ctx->bytes += e.size;
            }
        }
    } else {
        ctx->bytes += len;
    }
    free(data);
}

int void_cas_stats(struct void_cas *cas, struct void_cas_stats *out)
{
    VOID_ASSERT(cas != NULL && cas->env != NULL);
    VOID_ASSERT(out != NULL);
    memset(out, 0, sizeof(*out));
    MDB_txn *txn;
    int rc = mdb_txn_begin(cas->env, NULL, MDB_RDONLY, &txn);
    if (rc != 0) {
        return void__cas_err(rc);
    }
    MDB_val k = stats_key, v;
    MDB_stat ms;
    rc = mdb_get(txn, cas->meta, &k, &v);
    if (rc == 0 && v.mv_size == 24) {
        out->blocks = void_bytes_get_be64(v.mv_data);
        out->raw_bytes = void_bytes_get_be64((const uint8_t *)v.mv_data + 8);
        out->stored_bytes = void_bytes_get_be64((const uint8_t *)v.mv_data + 16);
    }
    rc = mdb_stat(txn, cas->pins, &ms);
    out->pins = ms.ms_entries;
    mdb_txn_abort(txn);
    if (rc != 0) {
        return void__cas_err(rc);
    }
    struct logical_ctx ctx = {cas, 0, 0};
    rc = void_cas_pins(cas, add_pin_size, &ctx);
    out->logical_bytes = ctx.bytes;
    return rc;
}
