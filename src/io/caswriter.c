/*
 * The replica's block writer (contract in include/void/caswriter.h): a ring
 * of blocks filled by the loop thread, drained in batches by one writer
 * thread that stores each batch with one synced LMDB transaction, and handed
 * back to the loop thread through a uv_async_t once durable. The loop thread
 * never waits for the disk: when the ring is full it refuses the block
 * (back-pressure) instead of queueing without bound. Blocks move through
 * four sequence counters (submitted, taken, written, delivered) under one
 * mutex; each slot is touched by one thread at a time: the loop thread
 * fills slots at submitted and empties them below written, the writer
 * thread reads and updates the slots between taken and written.
 */
#include "void/caswriter.h"

#include "void/assert.h"
#include "void/codec.h"
#include "void/error.h"

#include <stdlib.h>
#include <string.h>

static struct void_caswriter_item *slot(struct void_caswriter *w, uint64_t seq)
{
    return &w->items[seq % VOID_CASWRITER_BLOCKS_MAX];
}

/* Writer thread: checks a submitted frame and points its block at the body.
 * A frame that fails gets kind 0, which void_cas_put_blocks refuses without
 * touching the store; its error is put back after the batch. */
static int open_frame(struct void_caswriter *w, struct void_caswriter_item *it)
{
    struct void_frame f;
    int rc = void_codec_decode_verified(it->buf, it->buf_len, w->ring, &f);
    if (rc == 0 && (f.type != VOID_MSG_CAS_BLOCK || f.body_len < 1)) {
        rc = VOID_EBAD_TYPE;
    }
    if (rc != 0) {
        it->block = (struct void_cas_block){.kind = 0, .data = it->buf, .len = 0};
        return rc;
    }
    it->from = f.sender;
    it->block =
        (struct void_cas_block){.kind = f.body[0], .data = f.body + 1, .len = f.body_len - 1};
    return 0;
}

/* Writer thread: the blocks queued since the last batch, in one group
 * commit. Waits for work; on close, writes what is left, then exits. */
static void *writer_main(void *arg)
{
    struct void_caswriter *w = arg;
    pthread_mutex_lock(&w->lock);
    for (;;) {
        while (w->taken == w->submitted && !w->stopping) {
            pthread_cond_wait(&w->wake, &w->lock);
        }
        if (w->taken == w->submitted) {
            break; /* stopping, and nothing left */
        }
        uint64_t first = w->taken, end = w->submitted;
        w->taken = end;
        pthread_mutex_unlock(&w->lock);
        size_t n = (size_t)(end - first);
        VOID_ASSERT(n >= 1 && n <= VOID_CASWRITER_BLOCKS_MAX);
        for (size_t i = 0; i < n; i++) {
            struct void_caswriter_item *it = slot(w, first + i);
            it->block.rc = it->frame ? open_frame(w, it) : 0;
            w->batch[i] = it->block;
        }
        (void)void_cas_put_blocks(w->cas, w->batch, n); /* per-block results in batch */
        for (size_t i = 0; i < n; i++) {
            struct void_caswriter_item *it = slot(w, first + i);
            it->block.hash = w->batch[i].hash;
            it->block.rc = it->block.rc != 0 ? it->block.rc : w->batch[i].rc;
        }
        pthread_mutex_lock(&w->lock);
        VOID_ASSERT(w->written == first);
        w->written = end;
        w->stats.batches++;
        w->stats.blocks += n;
        if (!w->stopping) {
            uv_async_send(&w->async);
        }
    }
    pthread_mutex_unlock(&w->lock);
    return NULL;
}

/* Loop thread: runs the done callback for every durable block, in order,
 * and frees its slot. */
static void on_written(uv_async_t *async)
{
    struct void_caswriter *w = async->data;
    pthread_mutex_lock(&w->lock);
    uint64_t from = w->delivered, to = w->written;
    pthread_mutex_unlock(&w->lock);
    size_t bytes = 0;
    for (uint64_t s = from; s < to; s++) {
        struct void_caswriter_item *it = slot(w, s);
        w->done(w->ctx, it);
        bytes += it->buf_len;
        free(it->buf);
        it->buf = NULL;
    }
    pthread_mutex_lock(&w->lock);
    VOID_ASSERT(w->delivered == from && w->bytes >= bytes);
    w->delivered = to;
    w->bytes -= bytes;
    pthread_mutex_unlock(&w->lock);
}

int void_caswriter_init(struct void_caswriter *w,
                        uv_loop_t *loop,
                        struct void_cas *cas,
                        const struct void_caswriter_config *config,
                        void_caswriter_done_fn done,
                        void *ctx)
{
    VOID_ASSERT(w != NULL && loop != NULL);
    VOID_ASSERT(cas != NULL && done != NULL);
    memset(w, 0, sizeof(*w));
    struct void_caswriter_config c = config != NULL ? *config : (struct void_caswriter_config){0};
    w->blocks_max = c.blocks_max != 0 ? c.blocks_max : VOID_CASWRITER_BLOCKS_MAX;
    w->bytes_max = c.bytes_max != 0 ? c.bytes_max : VOID_CASWRITER_BYTES_MAX;
    w->ring = c.ring;
    if (w->blocks_max > VOID_CASWRITER_BLOCKS_MAX) {
        return VOID_EINVAL;
    }
    w->cas = cas;
    w->done = done;
    w->ctx = ctx;
    pthread_mutex_init(&w->lock, NULL);
    pthread_cond_init(&w->wake, NULL);
    if (uv_async_init(loop, &w->async, on_written) != 0) {
        return VOID_EIO;
    }
    w->async.data = w;
    if (pthread_create(&w->thread, NULL, writer_main, w) != 0) {
        uv_close((uv_handle_t *)&w->async, NULL);
        return VOID_EIO;
    }
    w->running = 1;
    return 0;
}

/* Loop thread: appends item (whose buf it takes) unless the ring is full. */
static int enqueue(struct void_caswriter *w, struct void_caswriter_item *item)
{
    VOID_ASSERT(w != NULL);
    VOID_ASSERT(item->buf != NULL);
    if (!w->running) {
        free(item->buf); /* closed: a frame that arrived during shutdown */
        return VOID_EINVAL;
    }
    int rc = 0;
    pthread_mutex_lock(&w->lock);
    size_t queued = (size_t)(w->submitted - w->delivered);
    if (w->stopping) {
        rc = VOID_EINVAL;
    } else if (queued >= w->blocks_max || (queued > 0 && w->bytes + item->buf_len > w->bytes_max)) {
        w->stats.busy++;
        rc = VOID_EBUSY;
    } else {
        *slot(w, w->submitted) = *item;
        w->submitted++;
        w->bytes += item->buf_len;
        pthread_cond_signal(&w->wake);
    }
    pthread_mutex_unlock(&w->lock);
    if (rc != 0) {
        free(item->buf);
    }
    return rc;
}

static uint8_t *copy_of(const uint8_t *data, size_t len)
{
    uint8_t *copy = malloc(len > 0 ? len : 1);
    if (copy != NULL && len > 0) {
        memcpy(copy, data, len);
    }
    return copy;
}

int void_caswriter_submit(struct void_caswriter *w,
                          uint8_t kind,
                          const uint8_t *data,
                          size_t len,
                          uint32_t from,
                          int fetched)
{
    VOID_ASSERT(w != NULL);
    VOID_ASSERT(data != NULL || len == 0);
    struct void_caswriter_item it = {
        .buf = copy_of(data, len), .buf_len = len, .from = from, .fetched = fetched};
    if (it.buf == NULL) {
        return VOID_ENOMEM;
    }
    it.block = (struct void_cas_block){.kind = kind, .data = it.buf, .len = len};
    return enqueue(w, &it);
}

int void_caswriter_submit_frame(struct void_caswriter *w, const uint8_t *buf, size_t len)
{
    VOID_ASSERT(w != NULL);
    VOID_ASSERT(buf != NULL);
    if (w->ring == NULL) {
        return VOID_EINVAL;
    }
    struct void_caswriter_item it = {.buf = copy_of(buf, len), .buf_len = len, .frame = 1};
    if (it.buf == NULL) {
        return VOID_ENOMEM;
    }
    it.block = (struct void_cas_block){.kind = 0, .data = it.buf, .len = 0};
    return enqueue(w, &it);
}

void void_caswriter_stats_get(struct void_caswriter *w, struct void_caswriter_stats *out)
{
    VOID_ASSERT(w != NULL && out != NULL);
    VOID_ASSERT(w->running);
    pthread_mutex_lock(&w->lock);
    *out = w->stats;
    out->queued = w->submitted - w->delivered;
    pthread_mutex_unlock(&w->lock);
}

void void_caswriter_close(struct void_caswriter *w)
{
    VOID_ASSERT(w != NULL);
    if (!w->running) {
        return;
    }
    pthread_mutex_lock(&w->lock);
    w->stopping = 1;
    pthread_cond_signal(&w->wake);
    pthread_mutex_unlock(&w->lock);
    pthread_join(w->thread, NULL); /* it writes every queued block first */
    VOID_ASSERT(w->written == w->submitted);
    for (uint64_t s = w->delivered; s < w->submitted; s++) {
        free(slot(w, s)->buf);
        slot(w, s)->buf = NULL;
    }
    w->delivered = w->submitted;
    uv_close((uv_handle_t *)&w->async, NULL);
    pthread_mutex_destroy(&w->lock);
    pthread_cond_destroy(&w->wake);
    w->running = 0;
}
