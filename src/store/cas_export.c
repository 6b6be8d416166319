/*
 * Reading trees back out of the CAS store: a file to a descriptor, a file
 * or directory tree to a path (modes and symlinks restored), listings and
 * tree summaries. Every block is verified against its hash by
 * void_cas_get_block on the way out, so a corrupted block stops the export
 * with VOID_ECAS_HASH_MISMATCH rather than producing wrong bytes.
 */
#include "store/cas_int.h"
#include "void/assert.h"
#include "void/error.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

struct export
{
    struct void_cas *cas;
    void_cas_progress_fn progress;
    void *progress_arg;
    uint64_t done, total;
};

static int write_full(int fd, const uint8_t *p, size_t len)
{
    while (len > 0) {
        ssize_t n = write(fd, p, len);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n < 0) {
            return void__cas_err(errno);
        }
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

/* Fetches block h, checking that it is of the expected kind. */
static int
get_kind(struct void_cas *cas, const struct void_hash *h, uint8_t want, uint8_t **data, size_t *len)
{
    uint8_t kind;
    int rc = void_cas_get_block(cas, h, data, len, &kind);
    if (rc == 0 && kind != want) {
        free(*data);
        *data = NULL;
        return VOID_EINVAL;
    }
    return rc;
}

/* Writes the chunks of the decoded file object f to fd. */
static int write_chunks(struct export *ex, const struct void_casobj_file *f, int fd)
{
    int rc = 0;
    for (uint32_t i = 0; i < f->count && rc == 0; i++) {
        struct void_casobj_chunk c;
        uint8_t *data;
        size_t len;
        void_casobj_file_chunk(f, i, &c);
        if ((rc = get_kind(ex->cas, &c.hash, VOID_CAS_BLOB, &data, &len)) != 0) {
            return rc == VOID_EINVAL ? VOID_ECAS_BAD_RECORD : rc;
        }
        rc = len == c.size ? write_full(fd, data, len) : VOID_ECAS_BAD_RECORD;
        free(data);
        ex->done += c.size;
        if (ex->progress != NULL) {
            ex->progress(ex->progress_arg, ex->done, ex->total);
        }
    }
    return rc;
}

static int export_file(struct export *ex, const struct void_hash *h, int fd)
{
    uint8_t *obj;
    size_t len;
    int rc = get_kind(ex->cas, h, VOID_CAS_FILE, &obj, &len);
    if (rc != 0) {
        return rc;
    }
    struct void_casobj_file f;
    rc = void_casobj_file_decode(obj, len, &f);
    if (rc == 0) {
        ex->total = ex->total != 0 ? ex->total : f.size;
        rc = write_chunks(ex, &f, fd);
    } else {
        rc = VOID_ECAS_BAD_RECORD;
    }
    free(obj);
    return rc;
}

int void_cas_get_fd(struct void_cas *cas,
                    const struct void_hash *h,
                    int fd,
                    void_cas_progress_fn progress,
                    void *progress_arg)
{
    VOID_ASSERT(cas != NULL && h != NULL);
    VOID_ASSERT(fd >= 0);
    struct export ex = {cas, progress, progress_arg, 0, 0};
    return export_file(&ex, h, fd);
}

static int export_dir(struct export *ex, const struct void_hash *h, int dfd, unsigned depth);

/* Recreates entry e inside directory dfd. */
static int
export_entry(struct export *ex, const struct void_casobj_entry *e, int dfd, unsigned depth)
{
    char name[VOID_CASOBJ_NAME_MAX + 1];
    memcpy(name, e->name, e->name_len);
    name[e->name_len] = '\0';
    if (e->type == VOID_CAS_SYMLINK) {
        char target[VOID_CASOBJ_TARGET_MAX + 1];
        memcpy(target, e->target, e->target_len);
        target[e->target_len] = '\0';
        return symlinkat(target, dfd, name) == 0 ? 0 : void__cas_err(errno);
    }
    if (e->type == VOID_CAS_FILE) {
        int fd = openat(dfd, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
        if (fd < 0) {
            return void__cas_err(errno);
        }
        int rc = export_file(ex, &e->hash, fd);
        if (rc == 0 && fchmod(fd, (mode_t)e->mode) != 0) {
            rc = void__cas_err(errno);
        }
        if (close(fd) != 0 && rc == 0) {
            rc = void__cas_err(errno);
        }
        return rc;
    }
    VOID_ASSERT(e->type == VOID_CAS_DIR);
    if (mkdirat(dfd, name, 0700) != 0) {
        return void__cas_err(errno);
    }
    int fd = openat(dfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) {
        return void__cas_err(errno);
    }
    int rc = export_dir(ex, &e->hash, fd, depth + 1);
    /* Set the mode last, so that a read-only directory could be filled. */
    if (rc == 0 && fchmod(fd, (mode_t)e->mode) != 0) {
        rc = void__cas_err(errno);
    }
    close(fd);
    return rc;
}

static int export_dir(struct export *ex, const struct void_hash *h, int dfd, unsigned depth)
{
    if (depth > VOID_CAS_DEPTH_MAX) {
        return VOID_ERANGE;
    }
    uint8_t *obj;
    size_t len;
    int rc = get_kind(ex->cas, h, VOID_CAS_DIR, &obj, &len);
    if (rc != 0) {
        return rc == VOID_EINVAL ? VOID_ECAS_BAD_RECORD : rc;
    }
    struct void_casobj_dir d;
    struct void_casobj_entry e;
    if (void_casobj_dir_decode(obj, len, &d) != 0) {
        free(obj);
        return VOID_ECAS_BAD_RECORD;
    }
    while (rc == 0 && void_casobj_dir_next(&d, &e)) {
        rc = export_entry(ex, &e, dfd, depth);
    }
    free(obj);
    return rc;
}

int void_cas_get_path(struct void_cas *cas,
                      const struct void_hash *h,
                      const char *dest,
                      void_cas_progress_fn progress,
                      void *progress_arg)
{
    VOID_ASSERT(cas != NULL && h != NULL);
    VOID_ASSERT(dest != NULL);
    struct export ex = {cas, progress, progress_arg, 0, 0};
    struct void_cas_tree_stat st;
    int rc = void_cas_tree_stat(cas, h, &st);
    if (rc != 0) {
        return rc;
    }
    ex.total = st.logical_bytes;
    if (st.kind == VOID_CAS_FILE) {
        int fd = open(dest, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
        if (fd < 0) {
            return void__cas_err(errno);
        }
        rc = export_file(&ex, h, fd);
        if (close(fd) != 0 && rc == 0) {
            rc = void__cas_err(errno);
        }
        return rc;
    }
    if (st.kind != VOID_CAS_DIR) {
        return VOID_EINVAL;
    }
    if (mkdir(dest, 0755) != 0) {
        return void__cas_err(errno);
    }
    int fd = open(dest, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) {
        return void__cas_err(errno);
    }
    rc = export_dir(&ex, h, fd, 0);
    close(fd);
    return rc;
}

int void_cas_ls(struct void_cas *cas, const struct void_hash *h, void_cas_ls_fn fn, void *arg)
{
    VOID_ASSERT(cas != NULL && h != NULL);
    VOID_ASSERT(fn != NULL);
    uint8_t *obj, kind;
    size_t len;
    int rc = void_cas_get_block(cas, h, &obj, &len, &kind);
    if (rc != 0) {
        return rc;
    }
    struct void_casobj_entry e;
    if (kind == VOID_CAS_DIR) {
        struct void_casobj_dir d;
        rc = void_casobj_dir_decode(obj, len, &d) == 0 ? 0 : VOID_ECAS_BAD_RECORD;
        while (rc == 0 && void_casobj_dir_next(&d, &e)) {
            fn(arg, &e);
        }
    } else if (kind == VOID_CAS_FILE) {
        struct void_casobj_file f;
        rc = void_casobj_file_decode(obj, len, &f) == 0 ? 0 : VOID_ECAS_BAD_RECORD;
        for (uint32_t i = 0; rc == 0 && i < f.count; i++) {
            struct void_casobj_chunk c;
            void_casobj_file_chunk(&f, i, &c);
            memset(&e, 0, sizeof(e));
            e.type = VOID_CAS_BLOB;
            e.size = c.size;
            e.hash = c.hash;
            fn(arg, &e);
        }
    } else {
        rc = VOID_EINVAL;
    }
    free(obj);
    return rc;
}

static int stat_walk(struct void_cas *cas,
                     const struct void_hash *h,
                     unsigned depth,
                     struct void_cas_tree_stat *out);

static int stat_dir(struct void_cas *cas,
                    const uint8_t *obj,
                    size_t len,
                    unsigned depth,
                    struct void_cas_tree_stat *out)
{
    struct void_casobj_dir d;
    struct void_casobj_entry e;
    if (void_casobj_dir_decode(obj, len, &d) != 0) {
        return VOID_ECAS_BAD_RECORD;
    }
    out->dirs++;
    int rc = 0;
    while (rc == 0 && void_casobj_dir_next(&d, &e)) {
        if (e.type == VOID_CAS_SYMLINK) {
            out->symlinks++;
        } else {
            rc = stat_walk(cas, &e.hash, depth + 1, out);
        }
    }
    return rc;
}

static int stat_walk(struct void_cas *cas,
                     const struct void_hash *h,
                     unsigned depth,
                     struct void_cas_tree_stat *out)
{
    if (depth > VOID_CAS_DEPTH_MAX) {
        return VOID_ERANGE;
    }
    uint8_t *obj, kind;
    size_t len;
    int rc = void_cas_get_block(cas, h, &obj, &len, &kind);
    if (rc != 0) {
        return rc;
    }
    if (depth == 0) {
        out->kind = kind;
    }
    if (kind == VOID_CAS_FILE) {
        struct void_casobj_file f;
        rc = void_casobj_file_decode(obj, len, &f) == 0 ? 0 : VOID_ECAS_BAD_RECORD;
        out->files += rc == 0;
        out->logical_bytes += rc == 0 ? f.size : 0;
        out->chunks += rc == 0 ? f.count : 0;
    } else if (kind == VOID_CAS_DIR) {
        rc = stat_dir(cas, obj, len, depth, out);
    } else {
        out->logical_bytes += len;
        out->chunks++;
    }
    free(obj);
    return rc;
}

int void_cas_tree_stat(struct void_cas *cas,
                       const struct void_hash *h,
                       struct void_cas_tree_stat *out)
{
    VOID_ASSERT(cas != NULL && h != NULL);
    VOID_ASSERT(out != NULL);
    memset(out, 0, sizeof(*out));
    return stat_walk(cas, h, 0, out);
}
