/*
 * Pack files of the CAS store: the payloads of chunk blobs are appended to
 * DIR/packs/<id>.pack and LMDB keeps only a 16-byte locator (pack id,
 * offset, length). LMDB stores a large value in whole overflow pages, which
 * wasted about a quarter of the space on the dedup corpus; packs waste
 * nothing, and appending with write() is cheaper than LMDB's dirty-page
 * copies.
 *
 * Safety: a payload is written (and, before every commit, fdatasync'ed)
 * before the LMDB transaction that references it commits, so a crash
 * leaves at worst unreferenced bytes at the end of a pack, never a locator
 * pointing at missing data. Each put appends to a pack of its own, created
 * with O_EXCL, so concurrent puts never share one. gc frees the payloads
 * of deleted blocks by punching holes (fallocate PUNCH_HOLE) once its
 * transaction has committed.
 */
#define _GNU_SOURCE
#include "store/cas_int.h"
#include "void/assert.h"
#include "void/error.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static void pack_name(uint32_t id, char name[32])
{
    int n = snprintf(name, 32, "%08x.pack", (unsigned)id);
    VOID_ASSERT(n > 0 && n < 32);
}

static int truncate_at(int dir_fd, const char *name, uint64_t len)
{
    int fd = openat(dir_fd, name, O_WRONLY | O_CLOEXEC);
    if (fd < 0) {
        return -1;
    }
    int rc = ftruncate(fd, (off_t)len);
    close(fd);
    return rc;
}

int void__cas_packs_open(struct void_cas *cas, int dir_fd)
{
    VOID_ASSERT(cas != NULL && dir_fd >= 0);
    if (mkdirat(dir_fd, "packs", 0700) != 0 && errno != EEXIST) {
        return void__cas_err(errno);
    }
    cas->packs_fd = openat(dir_fd, "packs", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    cas->read_pack_fd = -1;
    return cas->packs_fd < 0 ? void__cas_err(errno) : 0;
}

void void__cas_packs_close(struct void_cas *cas)
{
    VOID_ASSERT(cas != NULL);
    if (cas->read_pack_fd >= 0) {
        close(cas->read_pack_fd);
    }
    if (cas->packs_fd >= 0) {
        close(cas->packs_fd);
    }
    cas->read_pack_fd = -1;
    cas->packs_fd = -1;
}

/* Opens pack id for reading, keeping the last one open. */
static int pack_fd(struct void_cas *cas, uint32_t id)
{
    if (cas->read_pack_fd >= 0 && cas->read_pack_id == id) {
        return cas->read_pack_fd;
    }
    char name[32];
    pack_name(id, name);
    int fd = openat(cas->packs_fd, name, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        return -1;
    }
    if (cas->read_pack_fd >= 0) {
        close(cas->read_pack_fd);
    }
    cas->read_pack_fd = fd;
    cas->read_pack_id = id;
    return fd;
}

int void__cas_pack_read(struct void_cas *cas, uint32_t id, uint64_t off, size_t len, uint8_t *out)
{
    VOID_ASSERT(cas != NULL && out != NULL);
    int fd = pack_fd(cas, id);
    if (fd < 0) {
        return errno == ENOENT ? VOID_ECAS_BAD_RECORD : void__cas_err(errno);
    }
    size_t got = 0;
    while (got < len) {
        ssize_t n = pread(fd, out + got, len - got, (off_t)(off + got));
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            return n == 0 ? VOID_ECAS_BAD_RECORD : void__cas_err(errno);
        }
        got += (size_t)n;
    }
    VOID_ASSERT(got == len);
    return 0;
}

/* Creates the writer's pack: the first free id from the hint on. */
static int pack_create(struct void_cas *cas, struct void__cas_pack_writer *w)
{
    for (uint32_t tries = 0; tries < 1u << 20; tries++) {
        char name[32];
        uint32_t id = w->id_hint + tries;
        pack_name(id, name);
        int fd = openat(cas->packs_fd, name, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
        if (fd >= 0) {
            w->fd = fd;
            w->id = id;
            w->off = 0;
            w->flushed = 0;
            w->committed = 0;
            return 0;
        }
        if (errno != EEXIST) {
            return void__cas_err(errno);
        }
    }
    return VOID_EFULL;
}

int void__cas_pack_append(struct void_cas *cas,
                          struct void__cas_pack_writer *w,
                          const uint8_t *data,
                          size_t len,
                          uint32_t *id,
                          uint64_t *off)
{
    VOID_ASSERT(cas != NULL && w != NULL);
    VOID_ASSERT(data != NULL && len > 0);
    int rc = w->fd < 0 ? pack_create(cas, w) : 0;
    if (rc != 0) {
        return rc;
    }
    size_t done = 0;
    while (done < len) {
        ssize_t n = write(w->fd, data + done, len - done);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n < 0) {
            /* Drop the partial payload so the next append starts clean. */
            int err = errno;
            if (ftruncate(w->fd, (off_t)w->off) != 0) {
                w->broken = 1;
            }
            return void__cas_err(err);
        }
        done += (size_t)n;
    }
    *id = w->id;
    *off = w->off;
    w->off += len;
    w->dirty = 1;
    if (w->off - w->flushed >= VOID__CAS_WRITEBACK_BYTES) {
        /* Start writing back what is behind us, without waiting, so that the
         * fdatasync before the next commit finds little left to do and the
         * disk works while the pipeline goes on (advice only: errors show up
         * at that fdatasync). */
        (void)sync_file_range(
            w->fd, (off_t)w->flushed, (off_t)(w->off - w->flushed), SYNC_FILE_RANGE_WRITE);
        w->flushed = w->off;
    }
    return w->broken ? VOID_EIO : 0;
}

int void__cas_pack_sync(struct void__cas_pack_writer *w)
{
    VOID_ASSERT(w != NULL);
    if (w->fd < 0 || !w->dirty) {
        return 0;
    }
    if (fdatasync(w->fd) != 0) {
        return void__cas_err(errno);
    }
    w->dirty = 0;
    return 0;
}

void void__cas_pack_writer_close(struct void__cas_pack_writer *w)
{
    VOID_ASSERT(w != NULL);
    if (w->fd >= 0) {
        close(w->fd);
    }
    w->fd = -1;
}

void void__cas_pack_discard(struct void_cas *cas, struct void__cas_pack_writer *w)
{
    VOID_ASSERT(cas != NULL && w != NULL);
    if (w->fd < 0) {
        return;
    }
    VOID_ASSERT(w->committed <= w->off);
    if (w->committed == 0) {
        char name[32];
        pack_name(w->id, name);
        (void)unlinkat(cas->packs_fd, name, 0);
    } else {
        if (ftruncate(w->fd, (off_t)w->committed) != 0) {
            /* best effort: the bytes stay, unreferenced, until a gc trims them */
        }
    }
    void__cas_pack_writer_close(w);
}

uint64_t void__cas_packs_trim(struct void_cas *cas, const uint64_t *ends, size_t n, int dry_run)
{
    VOID_ASSERT(cas != NULL && (ends != NULL || n == 0));
    int fd = dup(cas->packs_fd);
    DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
    if (d == NULL) {
        if (fd >= 0) {
            close(fd);
        }
        return 0;
    }
    rewinddir(d);
    uint64_t released = 0;
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        char *end;
        unsigned long id = strtoul(de->d_name, &end, 16);
        struct stat st;
        if (strcmp(end, ".pack") != 0 || end - de->d_name != 8 ||
            fstatat(cas->packs_fd, de->d_name, &st, 0) != 0) {
            continue;
        }
        uint64_t keep = id < n ? ends[id] : 0;
        if ((uint64_t)st.st_size <= keep && keep > 0) {
            continue;
        }
        int ok = dry_run || (keep == 0 ? unlinkat(cas->packs_fd, de->d_name, 0) == 0
                                       : truncate_at(cas->packs_fd, de->d_name, keep) == 0);
        released += ok ? (uint64_t)st.st_size - keep : 0;
    }
    closedir(d);
    return released;
}

void void__cas_pack_punch(struct void_cas *cas, uint32_t id, uint64_t off, uint64_t len)
{
    VOID_ASSERT(cas != NULL);
    char name[32];
    pack_name(id, name);
    int fd = openat(cas->packs_fd, name, O_WRONLY | O_CLOEXEC);
    if (fd < 0) {
        return;
    }
    /* Best effort: on a filesystem without hole punching the space stays
     * allocated, which wastes room but is never wrong. */
    (void)fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, (off_t)off, (off_t)len);
    close(fd);
}
