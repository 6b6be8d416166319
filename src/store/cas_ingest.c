/*
 * Ingest: files, directory trees and streams into the CAS store.
 *
 * The input is cut into segments: windows of a read-only mapping for a
 * regular file (no copy), batch buffers filled by read(2) for a pipe.
 * Worker threads chunk each segment with the FastCDC chunker, hash the
 * chunks, look up whether they are already stored and zstd-compress the
 * new ones, chunk by chunk while it is in the cache; the calling thread
 * writes the finished chunks in input order to the pack and LMDB, so on
 * two cores the pack writes overlap with chunking and hashing. Batches go
 * through a ring of VOID__INGEST_DEPTH slots and are retired strictly in
 * order, so the chunk list of a file comes out in order whatever the
 * workers' timing. Files up to SMALL_FILE_MAX are chunked and hashed on the
 * calling thread and their chunks queued together as one batch: a hand-off
 * per small file would cost more than it saves.
 *
 * Write transactions are committed every COMMIT_BYTES of new data and at
 * the end; each one keeps the refcount invariant (blobs first with refs 0,
 * then the objects that reference them), and the whole put holds the shared
 * gc lock, so a concurrent gc cannot free the blobs of an unfinished put.
 */
#include "store/cas_int.h"
#include "void/assert.h"
#include "void/error.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zstd.h>

#define VOID__INGEST_DEPTH 4
#define INGEST_THREADS_MAX 16
#define BATCH_BYTES_MIN    (8u << 20)
#define COMMIT_BYTES       (4ull << 30) /* each commit waits for an fdatasync of the pack */
#define SAMPLE_BYTES       4096u
#define SMALL_FILE_MAX     (1u << 20) /* read whole and chunked on the calling thread */
#define HASH_GROUP         8          /* chunks cut, then hashed together, then compressed */

enum slot_state { SLOT_FREE, SLOT_QUEUED, SLOT_BUSY, SLOT_DONE };

struct job {
    const uint8_t *data;
    uint32_t len;
    uint32_t zoff, zlen; /* compressed payload in the batch's zbuf, zlen 0 if none */
    struct void_hash hash;
    uint8_t present;
    uint8_t kind; /* items batches: VOID_CAS_BLOB, _FILE or _DIR */
};

/* One segment of the input. Chunks that start in [0, seg_end) belong to
 * it; buf holds size_max bytes more (up to fill) so that any of them fits,
 * except in the final segment, where seg_end == fill. */
struct batch {
    struct job *jobs; /* the segment's chunks as cut from offset 0 */
    size_t njobs;
    const uint8_t *data; /* the segment's bytes: buf, or a window of a mapped file */
    uint8_t *buf;        /* input bytes read from a stream, or an items batch's blocks */
    uint8_t *zbuf;       /* compressed payloads */
    size_t fill, seg_end;
    int items; /* an items batch: ready blocks packed in buf, hashed already */
    enum slot_state state;
};

/* Per-thread scratch for processing a batch. */
struct worker {
    struct ingest *ing;
    ZSTD_CCtx *cctx;
    uint8_t *scratch;
    size_t scratch_cap;
    pthread_t thread;
};

struct ingest {
    struct void_cas *cas;
    size_t batch_bytes, jobs_cap;
    struct batch slots[VOID__INGEST_DEPTH];
    unsigned head, tail; /* next slot to retire, next to fill */
    pthread_mutex_t mu;
    pthread_cond_t cv_work, cv_done;
    int stop;
    unsigned nworkers;
    struct worker workers[INGEST_THREADS_MAX];
    struct worker self; /* the calling thread's scratch */
    MDB_txn *txn;
    struct void__cas_pack_writer pack;
    struct void__cas_delta delta;
    uint64_t txn_bytes;
    int err;          /* first error from retiring */
    size_t next;      /* where the next true chunk starts, from the head batch's start */
    uint64_t resyncs; /* chunks the calling thread had to cut itself */
    struct void_casobj_chunk *chunks; /* chunk list of the current file */
    size_t nchunks, chunks_cap;
    uint8_t *carry;           /* unchunked tail of the last batch */
    uint8_t *small;           /* SMALL_FILE_MAX + 1 bytes for reading a small file */
    struct batch *open_items; /* items batch being filled, not yet submitted */
    struct void_cas_put_result *result;
    void_cas_progress_fn progress;
    void *progress_arg;
    uint64_t total;
};

static int worker_init(struct worker *w, struct ingest *ing)
{
    w->ing = ing;
    w->scratch_cap = ZSTD_compressBound(ing->cas->cdc.config.size_max);
    w->cctx = ZSTD_createCCtx();
    w->scratch = malloc(w->scratch_cap);
    if (w->cctx == NULL || w->scratch == NULL) {
        return VOID_ENOMEM;
    }
    return 0;
}

static void worker_fini(struct worker *w)
{
    ZSTD_freeCCtx(w->cctx);
    free(w->scratch);
    w->cctx = NULL;
    w->scratch = NULL;
}

/* Whether the n bytes at p look uniformly random byte by byte: Pearson's
 * chi-square of their byte histogram against the uniform distribution is
 * below twice its expectation (255 degrees of freedom; random bytes stay
 * more than 10 standard deviations below). Such bytes leave zstd's entropy
 * coder less than 1.1% to gain, below the 1/32 a chunk must save; only
 * repeated strings could shrink them, which compressed or encrypted
 * content does not have. btrfs skips compression on a similar test. */
static int looks_random(const uint8_t *p, size_t n)
{
    VOID_ASSERT(n >= 1024 && n <= SAMPLE_BYTES);
    /* Four histograms, summed at the end: an increment does not wait for
     * the one before when neighbouring bytes are equal (1.5x faster). */
    uint32_t hist[4][256];
    memset(hist, 0, sizeof(hist));
    size_t i = 0;
    for (; i + 4 <= n; i += 4) {
        hist[0][p[i]]++;
        hist[1][p[i + 1]]++;
        hist[2][p[i + 2]]++;
        hist[3][p[i + 3]]++;
    }
    for (; i < n; i++) {
        hist[0][p[i]]++;
    }
    uint64_t sq = 0;
    for (size_t k = 0; k < 256; k++) {
        uint64_t h = (uint64_t)hist[0][k] + hist[1][k] + hist[2][k] + hist[3][k];
        sq += h * h;
    }
    /* chi2 = 256 * sq / n - n < 2 * 255 */
    return 256 * sq < (uint64_t)n * (n + 510);
}

/* Compresses the len bytes at data into w->scratch at the store's level
 * and returns the compressed length, or 0 unless that saves at least 1/32.
 * A 4 KiB sample is tested first: bytes that look random are stored raw
 * without calling zstd, and a sample that even zstd's level 1 cannot
 * shrink (already compressed data) spares the full compression. */
static size_t compress_chunk(struct worker *w, const uint8_t *data, size_t len)
{
    VOID_ASSERT(data != NULL && len > 0);
    size_t sample = len < SAMPLE_BYTES ? len : SAMPLE_BYTES;
    if (sample >= 1024 && looks_random(data, sample)) {
        return 0;
    }
    size_t n = ZSTD_compressCCtx(w->cctx, w->scratch, w->scratch_cap, data, sample, 1);
    if (ZSTD_isError(n) || n >= sample - sample / 32) {
        return 0;
    }
    n = ZSTD_compressCCtx(w->cctx, w->scratch, w->scratch_cap, data, len, w->ing->cas->zstd_level);
    if (ZSTD_isError(n) || n >= len - len / 32) {
        return 0;
    }
    VOID_ASSERT(n > 0 && n < len);
    return n;
}

/* Compresses job j into b->zbuf at *zoff when that pays (compress_chunk). */
static void compress_job(struct worker *w, struct batch *b, struct job *j, size_t *zoff)
{
    size_t n = compress_chunk(w, j->data, j->len);
    if (n == 0) {
        return;
    }
    VOID_ASSERT(*zoff + n <= (size_t)(j->data - b->data) + j->len);
    memcpy(b->zbuf + *zoff, w->scratch, n);
    j->zoff = (uint32_t)*zoff;
    j->zlen = (uint32_t)n;
    *zoff += n;
}

/* Looks chunk j up (as seen by txn) and compresses it unless stored. */
static void
process_job(struct worker *w, struct batch *b, struct job *j, MDB_txn *txn, size_t *zoff)
{
    j->zlen = 0;
    MDB_val k = {VOID_HASH_SIZE, j->hash.b}, v;
    j->present = txn != NULL && mdb_get(txn, w->ing->cas->blocks, &k, &v) == 0;
    if (!j->present && j->len >= 64) {
        compress_job(w, b, j, zoff);
    }
}

/* Cuts the chunk of segment b that starts at *off into the next job and
 * moves *off past it. */
static struct job *cut_job(struct worker *w, struct batch *b, size_t *off)
{
    VOID_ASSERT(b->njobs < w->ing->jobs_cap);
    VOID_ASSERT(*off < b->seg_end);
    size_t n = void_cdc_cut(&w->ing->cas->cdc, b->data + *off, b->fill - *off);
    struct job *j = &b->jobs[b->njobs++];
    *j = (struct job){.data = b->data + *off, .len = (uint32_t)n};
    *off += n;
    return j;
}

/* Processes segment b: chunks it from its first byte, as if a chunk
 * started there, hashes every chunk, marks those already stored (as seen
 * by txn) and compresses the others, HASH_GROUP chunks at a time: they
 * are hashed and compressed while the chunker has just brought them into
 * the cache, and their hashes share the CPU's SHA unit two by two
 * (void_hash_compute_many). In an items batch the blocks are given and
 * hashed already.
 * Compressed payloads are packed in chunk order from offset 0, so each one
 * ends before its raw chunk ends and zbuf (as large as a segment) never
 * overflows. */
static void process_batch(struct worker *w, struct batch *b, MDB_txn *txn)
{
    VOID_ASSERT(w != NULL && b != NULL);
    size_t zoff = 0;
    if (b->items) {
        for (size_t i = 0; i < b->njobs; i++) {
            process_job(w, b, &b->jobs[i], txn, &zoff);
        }
        return;
    }
    size_t off = 0;
    b->njobs = 0;
    while (off < b->seg_end) {
        const uint8_t *data[HASH_GROUP];
        size_t len[HASH_GROUP], first = b->njobs, n = 0;
        struct void_hash hash[HASH_GROUP];
        for (; n < HASH_GROUP && off < b->seg_end; n++) {
            struct job *j = cut_job(w, b, &off);
            data[n] = j->data;
            len[n] = j->len;
        }
        void_hash_compute_many(data, len, n, hash);
        for (size_t i = 0; i < n; i++) {
            b->jobs[first + i].hash = hash[i];
            process_job(w, b, &b->jobs[first + i], txn, &zoff);
        }
    }
    VOID_ASSERT(off <= b->fill && zoff <= b->fill);
}

static void *worker_main(void *arg)
{
    struct worker *w = arg;
    struct ingest *ing = w->ing;
    MDB_txn *rtxn = NULL;
    pthread_mutex_lock(&ing->mu);
    for (;;) {
        struct batch *b = NULL;
        for (unsigned i = 0; i < VOID__INGEST_DEPTH && b == NULL; i++) {
            struct batch *s = &ing->slots[(ing->head + i) % VOID__INGEST_DEPTH];
            b = s->state == SLOT_QUEUED ? s : NULL;
        }
        if (b == NULL && ing->stop) {
            break;
        }
        if (b == NULL) {
            pthread_cond_wait(&ing->cv_work, &ing->mu);
            continue;
        }
        b->state = SLOT_BUSY;
        pthread_mutex_unlock(&ing->mu);
        int rc = rtxn == NULL ? mdb_txn_begin(ing->cas->env, NULL, MDB_RDONLY, &rtxn)
                              : mdb_txn_renew(rtxn);
        if (rc != 0) {
            rtxn = NULL; /* lookups are an optimisation: go on without */
        }
        process_batch(w, b, rtxn);
        if (rtxn != NULL) {
            mdb_txn_reset(rtxn);
        }
        pthread_mutex_lock(&ing->mu);
        b->state = SLOT_DONE;
        pthread_cond_broadcast(&ing->cv_done);
    }
    pthread_mutex_unlock(&ing->mu);
    if (rtxn != NULL) {
        mdb_txn_abort(rtxn);
    }
    return NULL;
}

static int txn_begin(struct ingest *ing)
{
    VOID_ASSERT(ing->txn == NULL);
    memset(&ing->delta, 0, sizeof(ing->delta));
    ing->txn_bytes = 0;
    return void__cas_err(mdb_txn_begin(ing->cas->env, NULL, 0, &ing->txn));
}

/* Commits the current write transaction (with its counter changes) and,
 * when `again`, starts the next one. */
static int txn_cycle(struct ingest *ing, int again)
{
    VOID_ASSERT(ing->txn != NULL);
    /* Pack bytes reach the disk before the locators that point at them. */
    int rc = void__cas_pack_sync(&ing->pack);
    if (rc == 0) {
        rc = void__cas_delta_apply(ing->cas, ing->txn, &ing->delta);
    }
    if (rc != 0) {
        mdb_txn_abort(ing->txn);
    } else {
        rc = void__cas_commit(ing->cas, ing->txn);
        if (rc == 0) {
            ing->pack.committed = ing->pack.off;
        }
    }
    ing->txn = NULL;
    return rc == 0 && again ? txn_begin(ing) : rc;
}

static int chunks_push(struct ingest *ing, const struct void_hash *h, uint32_t len)
{
    if (ing->nchunks == ing->chunks_cap) {
        size_t cap = ing->chunks_cap ? 2 * ing->chunks_cap : 256;
        void *p = realloc(ing->chunks, cap * sizeof(*ing->chunks));
        if (p == NULL) {
            return VOID_ENOMEM;
        }
        ing->chunks = p;
        ing->chunks_cap = cap;
    }
    ing->chunks[ing->nchunks].hash = *h;
    ing->chunks[ing->nchunks].size = len;
    ing->nchunks++;
    return 0;
}

/* Stores one new chunk: a large payload goes to the pack and LMDB gets its
 * locator; a small one stays in LMDB. Returns 1 if stored, 0 if it was
 * already there, or an error. */
static int store_chunk(struct ingest *ing, const struct job *j, const uint8_t *payload, size_t plen)
{
    MDB_val k = {VOID_HASH_SIZE, (void *)(uintptr_t)j->hash.b}, v;
    int rc = mdb_get(ing->txn, ing->cas->blocks, &k, &v);
    if (rc != MDB_NOTFOUND) {
        return rc == 0 ? 0 : void__cas_err(rc);
    }
    uint8_t flags = j->zlen ? VOID__CAS_FLAG_ZSTD : 0;
    if (plen < VOID__CAS_INLINE_MAX) {
        return void__cas_insert(ing->cas,
                                ing->txn,
                                VOID_CAS_BLOB,
                                &j->hash,
                                j->data,
                                j->len,
                                payload,
                                plen,
                                flags,
                                &ing->delta);
    }
    uint32_t id;
    uint64_t off;
    if ((rc = void__cas_pack_append(ing->cas, &ing->pack, payload, plen, &id, &off)) != 0) {
        return rc;
    }
    uint8_t loc[VOID__CAS_LOCATOR];
    for (int i = 0; i < 4; i++) {
        loc[i] = (uint8_t)(id >> (24 - 8 * i));
        loc[12 + i] = (uint8_t)(plen >> (24 - 8 * i));
    }
    for (int i = 0; i < 8; i++) {
        loc[4 + i] = (uint8_t)(off >> (56 - 8 * i));
    }
    rc = void__cas_insert(ing->cas,
                          ing->txn,
                          VOID_CAS_BLOB,
                          &j->hash,
                          j->data,
                          j->len,
                          loc,
                          sizeof(loc),
                          flags | VOID__CAS_FLAG_PACKED,
                          &ing->delta);
    VOID_ASSERT(rc != 0); /* absent above, and this txn is the only writer */
    ing->delta.stored_bytes += (int64_t)plen;
    return rc;
}

static int retire_done(struct ingest *ing, struct batch *b, int rc);

/* Stores chunk j (payload: its stored form) and appends it to the file. */
static int emit(struct ingest *ing, const struct job *j, const uint8_t *payload, size_t plen)
{
    int rc = store_chunk(ing, j, payload, plen);
    if (rc > 0) {
        ing->result->new_bytes += j->len;
        ing->result->stored_bytes += plen;
        ing->txn_bytes += plen;
    }
    ing->result->logical_bytes += j->len;
    return rc < 0 ? rc : chunks_push(ing, &j->hash, j->len);
}

/* Cuts, hashes, compresses and stores the chunk at data on this thread. */
static int emit_resync(struct ingest *ing, struct batch *b, size_t off, size_t *len)
{
    struct worker *w = &ing->self;
    size_t n = void_cdc_cut(&ing->cas->cdc, b->data + off, b->fill - off);
    *len = n;
    struct job j = {.data = b->data + off, .len = (uint32_t)n};
    void_hash_compute(j.data, j.len, &j.hash);
    size_t z = j.len >= 64 ? compress_chunk(w, j.data, j.len) : 0;
    j.zlen = (uint32_t)z;
    ing->resyncs++;
    return emit(ing, &j, z ? w->scratch : j.data, z ? z : n);
}

/* Writes the true chunks of a processed segment, in order, and frees its
 * slot. The workers cut each segment from its first byte, which is not in
 * general where a chunk of the file starts; the true chain of boundaries
 * comes in from the previous segment at ing->next. From there this thread
 * cuts chunks itself until it lands on a boundary the worker found (after
 * one or two chunks, typically), and from then on the worker's chunks are
 * the true ones: a cut depends only on the bytes from its chunk's start. So
 * the result is exactly what cutting the whole file in one pass gives. */
/* Stores the blocks of an items batch in order: chunks of small files, and
 * file and directory objects, each after the blocks it references. */
static int retire_items(struct ingest *ing, struct batch *b)
{
    int rc = 0;
    for (size_t i = 0; i < b->njobs && rc == 0; i++) {
        const struct job *j = &b->jobs[i];
        const uint8_t *payload = j->zlen ? b->zbuf + j->zoff : j->data;
        size_t plen = j->zlen ? j->zlen : j->len;
        if (j->kind == VOID_CAS_BLOB) {
            rc = store_chunk(ing, j, payload, plen);
        } else {
            uint8_t flags = j->zlen ? VOID__CAS_FLAG_ZSTD : 0;
            rc = void__cas_insert(ing->cas,
                                  ing->txn,
                                  j->kind,
                                  &j->hash,
                                  j->data,
                                  j->len,
                                  payload,
                                  plen,
                                  flags,
                                  &ing->delta);
            plen += VOID__CAS_RECORD_HEADER;
        }
        if (rc > 0) {
            ing->result->new_bytes += j->len;
            ing->result->stored_bytes += plen;
            ing->txn_bytes += plen;
            rc = 0;
        }
    }
    return rc;
}

static int retire(struct ingest *ing, struct batch *b)
{
    VOID_ASSERT(b->state == SLOT_DONE);
    int rc = ing->err; /* after a failure, batches in flight are dropped */
    if (b->items) {
        rc = rc == 0 ? retire_items(ing, b) : rc;
        return retire_done(ing, b, rc);
    }
    VOID_ASSERT(ing->next < b->fill || (ing->next == 0 && b->fill == 0));
    size_t next = ing->next, i = 0;
    while (rc == 0 && next < b->seg_end) {
        while (i < b->njobs && (size_t)(b->jobs[i].data - b->data) < next) {
            i++;
        }
        if (i < b->njobs && (size_t)(b->jobs[i].data - b->data) == next) {
            struct job *j = &b->jobs[i];
            rc = emit(ing, j, j->zlen ? b->zbuf + j->zoff : j->data, j->zlen ? j->zlen : j->len);
            next += j->len;
        } else {
            size_t n;
            rc = emit_resync(ing, b, next, &n);
            next += n;
        }
    }
    ing->next = rc == 0 ? next - b->seg_end : 0;
    VOID_ASSERT(rc != 0 || ing->next < ing->cas->cdc.config.size_max);
    return retire_done(ing, b, rc);
}

/* Frees b's slot and commits when enough data has accumulated. */
static int retire_done(struct ingest *ing, struct batch *b, int rc)
{
    b->state = SLOT_FREE;
    b->items = 0;
    b->njobs = 0;
    if (rc == 0 && ing->txn_bytes >= COMMIT_BYTES) {
        rc = txn_cycle(ing, 1);
    }
    if (ing->progress != NULL) {
        ing->progress(ing->progress_arg, ing->result->logical_bytes, ing->total);
    }
    return rc;
}

/* Retires the oldest batch in flight, waiting for its workers. */
static int retire_head(struct ingest *ing)
{
    struct batch *b = &ing->slots[ing->head];
    pthread_mutex_lock(&ing->mu);
    while (b->state != SLOT_DONE) {
        VOID_ASSERT(b->state != SLOT_FREE);
        pthread_cond_wait(&ing->cv_done, &ing->mu);
    }
    pthread_mutex_unlock(&ing->mu);
    ing->head = (ing->head + 1) % VOID__INGEST_DEPTH;
    int rc = retire(ing, b);
    if (ing->err == 0) {
        ing->err = rc;
    }
    return rc;
}

static int drain(struct ingest *ing)
{
    while (ing->slots[ing->head].state != SLOT_FREE) {
        retire_head(ing);
    }
    VOID_ASSERT(ing->head == ing->tail);
    return ing->err;
}

/* Hands b to the workers, or processes it here when inline. */
static int submit(struct ingest *ing, struct batch *b, int inline_)
{
    VOID_ASSERT(b == &ing->slots[ing->tail] && b->state == SLOT_FREE);
    ing->tail = (ing->tail + 1) % VOID__INGEST_DEPTH;
    if (inline_ || ing->nworkers == 0) {
        process_batch(&ing->self, b, ing->txn);
        b->state = SLOT_DONE;
        return drain(ing);
    }
    pthread_mutex_lock(&ing->mu);
    b->state = SLOT_QUEUED;
    pthread_cond_signal(&ing->cv_work);
    pthread_mutex_unlock(&ing->mu);
    return 0;
}

/* Returns the next free slot, retiring the oldest batch if the ring is full. */
static struct batch *acquire(struct ingest *ing)
{
    struct batch *b = &ing->slots[ing->tail];
    if (b->state != SLOT_FREE) {
        VOID_ASSERT(ing->tail == ing->head);
        retire_head(ing);
    }
    VOID_ASSERT(b->state == SLOT_FREE);
    return b;
}

static ssize_t read_full(int fd, uint8_t *buf, size_t len)
{
    size_t got = 0;
    while (got < len) {
        ssize_t n = read(fd, buf + got, len - got);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n < 0) {
            return -1;
        }
        if (n == 0) {
            break;
        }
        got += (size_t)n;
    }
    return (ssize_t)got;
}

/* Chunks everything readable from fd into the current chunk list. Input
 * is read in segments of batch_bytes, each followed by the first size_max
 * bytes of the next (copied over, so pipes work too). */
static int ingest_stream(struct ingest *ing, int fd)
{
    const size_t max = ing->cas->cdc.config.size_max, cap = ing->batch_bytes + max;
    size_t overlap = 0;
    int final = 0;
    ing->nchunks = 0;
    ing->next = 0;
    while (!final) {
        struct batch *b = acquire(ing);
        b->data = b->buf;
        memcpy(b->buf, ing->carry, overlap);
        ssize_t n = read_full(fd, b->buf + overlap, cap - overlap);
        if (n < 0) {
            int err = errno;
            drain(ing);
            return void__cas_err(err == EISDIR ? EINVAL : err);
        }
        b->fill = overlap + (size_t)n;
        final = b->fill < cap;
        b->seg_end = final ? b->fill : b->fill - max;
        overlap = final ? 0 : max;
        memcpy(ing->carry, b->buf + b->seg_end, overlap);
        int rc = b->seg_end > 0 ? submit(ing, b, 0) : 0;
        if (rc != 0 || ing->err != 0) {
            drain(ing);
            return rc != 0 ? rc : ing->err;
        }
    }
    int rc = drain(ing);
    VOID_ASSERT(rc != 0 || ing->next == 0);
    return rc;
}

/* Unmaps the pages of the file mapped at map that lie below the oldest
 * segment still in flight (below `next`, the start of the segment about to
 * be submitted, when none is): no batch reads them again. This spreads the
 * cost of tearing the mapping down over the put instead of paying it at
 * the end, and bounds the mapped pages of a large file. *unmapped is the
 * offset where the mapping now starts. */
static void unmap_behind(struct ingest *ing, const uint8_t *map, size_t next, size_t *unmapped)
{
    const struct batch *h = &ing->slots[ing->head];
    if (h->state != SLOT_FREE && h->items) {
        return; /* blocks queued before this file are in flight */
    }
    size_t low = h->state != SLOT_FREE ? (size_t)(h->data - map) : next;
    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    low -= low % page;
    VOID_ASSERT(low <= next);
    if (low > *unmapped && munmap((void *)(uintptr_t)(map + *unmapped), low - *unmapped) == 0) {
        *unmapped = low;
    }
}

/* Chunks the size bytes of a file mapped at map into the current chunk
 * list: the same segments as ingest_stream, as windows of the mapping, so
 * nothing is copied. Returns once every batch is retired (none refers to
 * the mapping any more); *unmapped tells how much of the mapping's start
 * it has unmapped already. */
static int ingest_mapped(struct ingest *ing, const uint8_t *map, size_t size, size_t *unmapped)
{
    VOID_ASSERT(map != NULL && size > 0);
    const size_t max = ing->cas->cdc.config.size_max, cap = ing->batch_bytes + max;
    size_t start = 0;
    int final = 0, rc = 0;
    ing->nchunks = 0;
    ing->next = 0;
    while (!final && rc == 0) {
        struct batch *b = acquire(ing);
        unmap_behind(ing, map, start, unmapped);
        b->data = map + start;
        b->fill = size - start < cap ? size - start : cap;
        final = b->fill < cap;
        b->seg_end = final ? b->fill : b->fill - max;
        start += b->seg_end;
        rc = b->seg_end > 0 ? submit(ing, b, 0) : 0;
        rc = rc != 0 ? rc : ing->err;
    }
    int drained = drain(ing);
    rc = rc != 0 ? rc : drained;
    VOID_ASSERT(rc != 0 || (ing->next == 0 && start == size));
    return rc;
}

/* Ingests the regular file fd of the given size through a read-only
 * mapping. Returns 1 (nothing done) when it cannot be mapped, so that the
 * caller reads it instead. */
static int ingest_map(struct ingest *ing, int fd, uint64_t size)
{
    if (size == 0 || size > SIZE_MAX) {
        return 1;
    }
    uint8_t *map = mmap(NULL, (size_t)size, PROT_READ, MAP_PRIVATE, fd, 0);
    if (map == MAP_FAILED) {
        return 1;
    }
    size_t unmapped = 0;
    int rc = ingest_mapped(ing, map, (size_t)size, &unmapped);
    VOID_ASSERT(unmapped <= size);
    if (unmapped < size) {
        munmap(map + unmapped, (size_t)size - unmapped);
    }
    return rc;
}

/* Submits the open items batch, if it holds anything. */
static int items_flush(struct ingest *ing)
{
    struct batch *b = ing->open_items;
    ing->open_items = NULL;
    if (b == NULL || b->njobs == 0) {
        if (b != NULL) {
            b->items = 0; /* the slot stays free at the tail */
        }
        return ing->err;
    }
    return submit(ing, b, 0);
}

/* Appends a block whose hash is known to the open items batch (opening one
 * if needed). The workers compress it; retiring stores it, in order. Returns
 * 0, VOID_EOVERSIZED if it is larger than a batch, or an earlier error. */
static int items_add(
    struct ingest *ing, uint8_t kind, const uint8_t *data, size_t len, const struct void_hash *h)
{
    size_t cap = ing->batch_bytes + ing->cas->cdc.config.size_max;
    if (len > cap) {
        return VOID_EOVERSIZED;
    }
    struct batch *b = ing->open_items;
    if (b != NULL && (b->fill + len > cap || b->njobs == ing->jobs_cap)) {
        int rc = items_flush(ing);
        if (rc != 0) {
            return rc;
        }
        b = NULL;
    }
    if (b == NULL) {
        b = acquire(ing);
        b->items = 1;
        b->data = b->buf;
        b->fill = b->seg_end = b->njobs = 0;
        ing->open_items = b;
    }
    memcpy(b->buf + b->fill, data, len);
    b->jobs[b->njobs++] =
        (struct job){.data = b->buf + b->fill, .len = (uint32_t)len, .hash = *h, .kind = kind};
    b->fill += len;
    VOID_ASSERT(b->fill <= cap && b->njobs <= ing->jobs_cap);
    return ing->err;
}

/* Stores an object too large for a batch, directly, once everything queued
 * before it (its children among them) is stored. */
static int put_object_direct(
    struct ingest *ing, uint8_t kind, const uint8_t *buf, size_t len, const struct void_hash *h)
{
    int rc = items_flush(ing);
    rc = rc == 0 ? drain(ing) : rc;
    if (rc != 0) {
        return rc;
    }
    rc = void__cas_insert(ing->cas, ing->txn, kind, h, buf, len, buf, len, 0, &ing->delta);
    if (rc > 0) {
        ing->result->new_bytes += len;
        ing->result->stored_bytes += VOID__CAS_RECORD_HEADER + len;
    }
    return rc < 0 ? rc : 0;
}

/* Hashes an object built in memory and queues it for storing after the
 * blocks queued before it. */
static int
put_object(struct ingest *ing, uint8_t kind, const uint8_t *buf, size_t len, struct void_hash *out)
{
    void_hash_compute(buf, len, out);
    int rc = items_add(ing, kind, buf, len, out);
    return rc == VOID_EOVERSIZED ? put_object_direct(ing, kind, buf, len, out) : rc;
}

/* Chunks and hashes the small file in ing->small[0..n) here and queues its
 * chunks; the workers compress them. */
static int ingest_small(struct ingest *ing, size_t n)
{
    size_t off = 0;
    int rc = 0;
    ing->nchunks = 0;
    while (off < n && rc == 0) {
        size_t k = void_cdc_cut(&ing->cas->cdc, ing->small + off, n - off);
        struct void_hash h;
        void_hash_compute(ing->small + off, k, &h);
        rc = items_add(ing, VOID_CAS_BLOB, ing->small + off, k, &h);
        rc = rc == 0 ? chunks_push(ing, &h, (uint32_t)k) : rc;
        ing->result->logical_bytes += k;
        off += k;
    }
    return rc;
}

/* Reads the file fd into its chunk list: a small regular file whole, on
 * this thread; anything else in segments through the workers. */
static int ingest_data(struct ingest *ing, int fd, uint64_t size_hint)
{
    if (size_hint <= SMALL_FILE_MAX) {
        ssize_t n = read_full(fd, ing->small, SMALL_FILE_MAX + 1);
        if (n < 0) {
            return void__cas_err(errno);
        }
        if ((size_t)n <= SMALL_FILE_MAX) {
            return ingest_small(ing, (size_t)n);
        }
        if (lseek(fd, -(off_t)n, SEEK_CUR) < 0) { /* it grew: go back, take the long way */
            return void__cas_err(errno);
        }
    }
    int rc = items_flush(ing);
    struct stat st;
    /* The mapping covers the whole file: only for a file read from its start
     * (void_cas_put_fd may be given one positioned further on). */
    if (rc == 0 && fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_size > 0 &&
        lseek(fd, 0, SEEK_CUR) == 0) {
        rc = ingest_map(ing, fd, (uint64_t)st.st_size);
        if (rc != 1) {
            return rc;
        }
        rc = 0;
    }
    return rc == 0 ? ingest_stream(ing, fd) : rc;
}

/* Ingests the open file fd; on success *h names its file object. */
static int ingest_file(struct ingest *ing, int fd, uint64_t size_hint, struct void_hash *h)
{
    int rc = ingest_data(ing, fd, size_hint);
    if (rc != 0) {
        return rc;
    }
    if (ing->nchunks > UINT32_MAX) {
        return VOID_ERANGE;
    }
    size_t len = void_casobj_file_encoded_size((uint32_t)ing->nchunks);
    uint8_t *obj = malloc(len);
    if (obj == NULL) {
        return VOID_ENOMEM;
    }
    rc = void_casobj_file_encode(ing->chunks, (uint32_t)ing->nchunks, obj, len, &len);
    if (rc == 0) {
        rc = put_object(ing, VOID_CAS_FILE, obj, len, h);
    }
    free(obj);
    ing->result->files++;
    return rc == VOID_EOVERSIZED ? VOID_ERANGE : rc;
}

/* ---- directory trees ---------------------------------------------------- */

static int name_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Reads the names in directory fd (taken over and closed), sorted. */
static int read_names(int fd, char ***names, size_t *count)
{
    DIR *d = fdopendir(fd);
    if (d == NULL) {
        int err = errno;
        close(fd);
        return void__cas_err(err);
    }
    size_t n = 0, cap = 0;
    char **v = NULL;
    int rc = 0;
    struct dirent *de;
    errno = 0;
    while (rc == 0 && (de = readdir(d)) != NULL) {
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0) {
            continue;
        }
        if (n == cap) {
            cap = cap ? 2 * cap : 16;
            char **nv = realloc(v, cap * sizeof(*v));
            rc = nv == NULL ? VOID_ENOMEM : 0;
            v = nv != NULL ? nv : v;
        }
        if (rc == 0 && (v[n] = strdup(de->d_name)) == NULL) {
            rc = VOID_ENOMEM;
        }
        n += rc == 0;
    }
    if (rc == 0 && errno != 0) {
        rc = void__cas_err(errno);
    }
    closedir(d);
    if (n > 1) {
        qsort(v, n, sizeof(*v), name_cmp);
    }
    *names = v;
    *count = n;
    return rc;
}

static void free_names(char **names, size_t count)
{
    for (size_t i = 0; i < count; i++) {
        free(names[i]);
    }
    free(names);
}

static int put_dir(struct ingest *ing, int fd, unsigned depth, struct void_casobj_entry *out);

/* Ingests entry `name` of directory dfd into *e. Returns 1 when the entry
 * is of a kind the store skips, 0 when stored, or an error. */
static int put_entry(
    struct ingest *ing, int dfd, const char *name, unsigned depth, struct void_casobj_entry *e)
{
    struct stat st;
    if (fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) != 0) {
        return void__cas_err(errno);
    }
    size_t nlen = strlen(name);
    if (nlen > VOID_CASOBJ_NAME_MAX) {
        return VOID_ERANGE;
    }
    memset(e, 0, sizeof(*e));
    e->name = name;
    e->name_len = (uint16_t)nlen;
    e->mode = st.st_mode & 07777;
    if (S_ISLNK(st.st_mode)) {
        char *t = malloc(VOID_CASOBJ_TARGET_MAX + 1);
        ssize_t n = t != NULL ? readlinkat(dfd, name, t, VOID_CASOBJ_TARGET_MAX + 1) : -1;
        if (n <= 0 || n > VOID_CASOBJ_TARGET_MAX) {
            int err = t == NULL ? VOID_ENOMEM : (n < 0 ? void__cas_err(errno) : VOID_ERANGE);
            free(t);
            return err;
        }
        e->type = VOID_CAS_SYMLINK;
        e->target = t; /* freed by the caller */
        e->target_len = (uint16_t)n;
        ing->result->symlinks++;
        return 0;
    }
    if (!S_ISREG(st.st_mode) && !S_ISDIR(st.st_mode)) {
        ing->result->skipped++;
        return 1;
    }
    int flags = O_RDONLY | O_NOFOLLOW | O_CLOEXEC | (S_ISDIR(st.st_mode) ? O_DIRECTORY : 0);
    int fd = openat(dfd, name, flags);
    if (fd < 0) {
        return void__cas_err(errno);
    }
    if (S_ISDIR(st.st_mode)) {
        return put_dir(ing, fd, depth + 1, e);
    }
    e->type = VOID_CAS_FILE;
    uint64_t before = ing->result->logical_bytes;
    int rc = ingest_file(ing, fd, (uint64_t)st.st_size, &e->hash);
    close(fd);
    e->size = ing->result->logical_bytes - before;
    return rc;
}

static void note_error(struct ingest *ing, const char *name)
{
    if (ing->result->error_name[0] == '\0') {
        snprintf(ing->result->error_name, sizeof(ing->result->error_name), "%s", name);
    }
}

/* Encodes and stores the directory object of ents[0..n) into *out. */
static int put_dir_object(struct ingest *ing,
                          const struct void_casobj_entry *ents,
                          size_t n,
                          struct void_casobj_entry *out)
{
    if (n > UINT32_MAX) {
        return VOID_ERANGE;
    }
    size_t len = void_casobj_dir_encoded_size(ents, (uint32_t)n);
    uint8_t *obj = malloc(len);
    if (obj == NULL) {
        return VOID_ENOMEM;
    }
    int rc = void_casobj_dir_encode(ents, (uint32_t)n, obj, len, &len);
    VOID_ASSERT(rc != VOID_EINVAL); /* names come sorted from read_names */
    if (rc == 0) {
        rc = put_object(ing, VOID_CAS_DIR, obj, len, &out->hash);
    }
    free(obj);
    out->type = VOID_CAS_DIR;
    ing->result->dirs++;
    return rc == VOID_EOVERSIZED ? VOID_ERANGE : rc;
}

/* Ingests the directory open as fd (taken over and closed) into *out: its
 * type, total size and hash; the caller fills name and mode. */
static int put_dir(struct ingest *ing, int fd, unsigned depth, struct void_casobj_entry *out)
{
    VOID_ASSERT(fd >= 0 && out != NULL);
    char **names = NULL;
    size_t count = 0;
    int dupfd = depth > VOID_CAS_DEPTH_MAX ? -1 : dup(fd);
    int rc = depth > VOID_CAS_DEPTH_MAX ? VOID_ERANGE : (dupfd < 0 ? void__cas_err(errno) : 0);
    if (rc == 0) {
        rc = read_names(dupfd, &names, &count);
    }
    struct void_casobj_entry *ents = rc == 0 ? calloc(count + 1, sizeof(*ents)) : NULL;
    rc = rc == 0 && ents == NULL ? VOID_ENOMEM : rc;
    size_t n = 0;
    out->size = 0;
    for (size_t i = 0; i < count && rc == 0; i++) {
        int r = put_entry(ing, fd, names[i], depth, &ents[n]);
        if (r < 0) {
            note_error(ing, names[i]);
            rc = r;
        } else if (r == 0) {
            out->size += ents[n].type == VOID_CAS_SYMLINK ? 0 : ents[n].size;
            n++;
        }
    }
    if (rc == 0) {
        rc = put_dir_object(ing, ents, n, out);
    }
    for (size_t i = 0; ents != NULL && i <= n && i <= count; i++) {
        free((void *)(uintptr_t)ents[i].target); /* only symlinks own one */
    }
    free_names(names, count);
    free(ents);
    close(fd);
    return rc;
}

/* ---- setup and the public entry points ---------------------------------- */

static void ingest_fini(struct ingest *ing)
{
    if (ing->nworkers > 0) {
        pthread_mutex_lock(&ing->mu);
        ing->stop = 1;
        pthread_cond_broadcast(&ing->cv_work);
        pthread_mutex_unlock(&ing->mu);
        for (unsigned i = 0; i < ing->nworkers; i++) {
            pthread_join(ing->workers[i].thread, NULL);
            worker_fini(&ing->workers[i]);
        }
    }
    pthread_mutex_destroy(&ing->mu);
    pthread_cond_destroy(&ing->cv_work);
    pthread_cond_destroy(&ing->cv_done);
    for (unsigned i = 0; i < VOID__INGEST_DEPTH; i++) {
        free(ing->slots[i].jobs);
        free(ing->slots[i].buf);
        free(ing->slots[i].zbuf);
    }
    worker_fini(&ing->self);
    void__cas_pack_writer_close(&ing->pack);
    free(ing->chunks);
    free(ing->carry);
    free(ing->small);
    if (ing->txn != NULL) {
        mdb_txn_abort(ing->txn);
    }
}

static int ingest_alloc(struct ingest *ing)
{
    const struct void_cdc_config *cc = &ing->cas->cdc.config;
    ing->batch_bytes = BATCH_BYTES_MIN > 4u * cc->size_max ? BATCH_BYTES_MIN : 4u * cc->size_max;
    size_t cap = ing->batch_bytes + cc->size_max;
    ing->jobs_cap = cap / cc->size_min + 2;
    ing->carry = malloc(cc->size_max);
    ing->small = malloc(SMALL_FILE_MAX + 1);
    int rc = ing->carry == NULL || ing->small == NULL ? VOID_ENOMEM : 0;
    for (unsigned i = 0; i < VOID__INGEST_DEPTH && rc == 0; i++) {
        struct batch *b = &ing->slots[i];
        b->jobs = calloc(ing->jobs_cap, sizeof(*b->jobs));
        b->buf = malloc(cap);
        b->zbuf = malloc(cap);
        rc = b->jobs == NULL || b->buf == NULL || b->zbuf == NULL ? VOID_ENOMEM : 0;
    }
    return rc == 0 ? worker_init(&ing->self, ing) : rc;
}

/* Reserves a pack id for this put (meta "next_pack", its own transaction),
 * so that concurrent puts rarely try the same name; pack creation still
 * uses O_EXCL and moves on if the name is taken. */
static int next_pack_id(struct void_cas *cas, uint32_t *id)
{
    MDB_txn *txn;
    int rc = mdb_txn_begin(cas->env, NULL, 0, &txn);
    if (rc != 0) {
        return void__cas_err(rc);
    }
    MDB_val k = {9, (void *)(uintptr_t) "next_pack"}, v;
    uint8_t buf[4] = {0, 0, 0, 1};
    if (mdb_get(txn, cas->meta, &k, &v) == 0 && v.mv_size == 4) {
        memcpy(buf, v.mv_data, 4);
    }
    *id = (uint32_t)buf[0] << 24 | (uint32_t)buf[1] << 16 | (uint32_t)buf[2] << 8 | buf[3];
    uint32_t next = *id + 1;
    for (int i = 0; i < 4; i++) {
        buf[i] = (uint8_t)(next >> (24 - 8 * i));
    }
    v = (MDB_val){4, buf};
    if ((rc = mdb_put(txn, cas->meta, &k, &v, 0)) != 0) {
        mdb_txn_abort(txn);
        return void__cas_err(rc);
    }
    return void__cas_commit(cas, txn);
}

static int ingest_init(struct ingest *ing,
                       struct void_cas *cas,
                       void_cas_progress_fn progress,
                       void *progress_arg,
                       struct void_cas_put_result *result)
{
    memset(ing, 0, sizeof(*ing));
    memset(result, 0, sizeof(*result));
    ing->cas = cas;
    ing->result = result;
    ing->progress = progress;
    ing->progress_arg = progress_arg;
    ing->pack.fd = -1;
    pthread_mutex_init(&ing->mu, NULL);
    pthread_cond_init(&ing->cv_work, NULL);
    pthread_cond_init(&ing->cv_done, NULL);
    int rc = ingest_alloc(ing);
    unsigned want = cas->threads > INGEST_THREADS_MAX ? INGEST_THREADS_MAX : cas->threads;
    for (unsigned i = 0; i < want && rc == 0; i++) {
        struct worker *w = &ing->workers[i];
        rc = worker_init(w, ing);
        if (rc == 0 && pthread_create(&w->thread, NULL, worker_main, w) != 0) {
            rc = VOID_ENOMEM;
        }
        if (rc != 0) {
            worker_fini(w);
        } else {
            ing->nworkers++;
        }
    }
    if (rc == 0) {
        rc = next_pack_id(cas, &ing->pack.id_hint);
    }
    return rc == 0 ? txn_begin(ing) : rc;
}

/* Pins the root (if asked), commits the last transaction and syncs:
 * success means durable. */
static int ingest_finish(struct ingest *ing, const char *pin)
{
    int rc = items_flush(ing);
    rc = rc == 0 ? drain(ing) : rc;
    if (rc == 0 && pin != NULL) {
        rc = void__cas_pin_txn(ing->cas, ing->txn, pin, &ing->result->root);
    }
    if (rc != 0) {
        return rc;
    }
    rc = txn_cycle(ing, 0);
    return rc == 0 ? void__cas_sync(ing->cas) : rc;
}

/* Ingests the root open as fd with status st. */
static int put_root(struct ingest *ing, int fd, const struct stat *st)
{
    struct void_cas_put_result *r = ing->result;
    ing->total = S_ISREG(st->st_mode) ? (uint64_t)st->st_size : 0;
    if (S_ISDIR(st->st_mode)) {
        struct void_casobj_entry e;
        memset(&e, 0, sizeof(e));
        int rc = put_dir(ing, fd, 0, &e);
        r->root = e.hash;
        r->kind = VOID_CAS_DIR;
        return rc;
    }
    int rc = ingest_file(ing, fd, ing->total != 0 ? ing->total : UINT64_MAX, &r->root);
    r->kind = VOID_CAS_FILE;
    close(fd);
    return rc;
}

static int put_common(struct void_cas *cas,
                      int fd,
                      const char *pin,
                      void_cas_progress_fn progress,
                      void *progress_arg,
                      struct void_cas_put_result *result)
{
    struct stat st;
    if (fstat(fd, &st) != 0) {
        int err = errno;
        close(fd);
        return void__cas_err(err);
    }
    int rc = void__cas_lock(cas, 0);
    if (rc != 0) {
        close(fd);
        return rc;
    }
    struct ingest *ing = malloc(sizeof(*ing));
    rc = ing == NULL ? VOID_ENOMEM : ingest_init(ing, cas, progress, progress_arg, result);
    if (rc == 0) {
        rc = put_root(ing, fd, &st);
        fd = -1;
    }
    if (rc == 0) {
        rc = ingest_finish(ing, pin);
    }
    if (fd >= 0) {
        close(fd);
    }
    if (rc != 0 && ing != NULL) {
        void__cas_pack_discard(cas, &ing->pack);
    }
    if (ing != NULL) {
        ingest_fini(ing);
        free(ing);
    }
    void__cas_unlock(cas);
    return rc;
}

int void_cas_put_path(struct void_cas *cas,
                      const char *path,
                      const char *pin,
                      void_cas_progress_fn progress,
                      void *progress_arg,
                      struct void_cas_put_result *result)
{
    VOID_ASSERT(cas != NULL && cas->env != NULL);
    VOID_ASSERT(path != NULL && result != NULL);
    memset(result, 0, sizeof(*result));
    struct stat st;
    if (lstat(path, &st) != 0) {
        return void__cas_err(errno);
    }
    if (!S_ISREG(st.st_mode) && !S_ISDIR(st.st_mode)) {
        return VOID_EINVAL;
    }
    int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) {
        return void__cas_err(errno);
    }
    return put_common(cas, fd, pin, progress, progress_arg, result);
}

int void_cas_put_fd(struct void_cas *cas,
                    int fd,
                    const char *pin,
                    void_cas_progress_fn progress,
                    void *progress_arg,
                    struct void_cas_put_result *result)
{
    VOID_ASSERT(cas != NULL && cas->env != NULL);
    VOID_ASSERT(fd >= 0 && result != NULL);
    memset(result, 0, sizeof(*result));
    int own = dup(fd);
    if (own < 0) {
        return void__cas_err(errno);
    }
    struct stat st;
    if (fstat(own, &st) != 0 || S_ISDIR(st.st_mode)) {
        close(own);
        return VOID_EINVAL;
    }
    return put_common(cas, own, pin, progress, progress_arg, result);
}
