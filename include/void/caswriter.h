/*
 * A replica's block writer: stores the blocks that clients upload (and that
 * peers send back for a relayed fetch) on a thread of its own, so that the
 * event-loop thread, which also runs PBFT, never waits for the disk on their
 * account. Blocks queue in a bounded ring; the writer takes everything queued
 * at once and stores it with void_cas_put_blocks (one LMDB transaction, one
 * sync: a group commit), then hands the results back to the loop thread
 * through a uv_async_t, where the done callback runs -- after the sync, so an
 * acknowledgement sent from it promises a durable block.
 *
 * A block may also come as the whole signed CAS_BLOCK frame of a client: the
 * writer thread then checks its signature and computes its name, so that the
 * loop thread spends no time hashing the large frames of an upload.
 *
 * Threads: init, submit, stats and close are called on the loop thread; the
 * done callback runs there too. Only the writer thread writes to the store;
 * the loop thread may read it meanwhile (see include/void/cas.h).
 */
#ifndef VOID_CASWRITER_H
#define VOID_CASWRITER_H

#include "void/cas.h"
#include "void/sign.h"

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#define VOID_CASWRITER_BLOCKS_MAX 1024        /* ring slots: blocks queued or not yet delivered */
#define VOID_CASWRITER_BYTES_MAX  (64u << 20) /* bytes of the blocks in the ring */

/* One queued block and what became of it. */
struct void_caswriter_item {
    struct void_cas_block block; /* block.data points into buf */
    uint8_t *buf;                /* the writer's own copy: the block, or its frame */
    size_t buf_len;
    int frame;     /* buf is a signed frame, not yet verified */
    uint32_t from; /* the node that sent it (of a frame: set once verified) */
    int fetched;   /* 1: the answer to a fetch we relayed; 0: an upload */
};

/* Called on the loop thread for each block once its batch is durable (or
 * failed: item->block.rc). item is borrowed for the call. */
typedef void (*void_caswriter_done_fn)(void *ctx, const struct void_caswriter_item *item);

struct void_caswriter_config {
    size_t blocks_max;               /* 1..VOID_CASWRITER_BLOCKS_MAX; 0 picks the maximum */
    size_t bytes_max;                /* 0 picks VOID_CASWRITER_BYTES_MAX */
    const struct void_keyring *ring; /* verifies submitted frames; borrowed, may be NULL */
};

struct void_caswriter_stats {
    uint64_t batches; /* group commits (one sync each) */
    uint64_t blocks;  /* blocks written in them */
    uint64_t busy;    /* submissions refused because the ring was full */
    uint64_t queued;  /* blocks in the ring now */
};

struct void_caswriter {
    struct void_cas *cas; /* borrowed */
    void_caswriter_done_fn done;
    void *ctx;
    size_t blocks_max, bytes_max;
    const struct void_keyring *ring;
    uv_async_t async;
    pthread_t thread;
    pthread_mutex_t lock;
    pthread_cond_t wake;
    int running; /* the thread and the async handle exist */
    /* Under lock. Sequence numbers of blocks, in arrival order:
     * delivered <= written <= taken <= submitted; block s sits in
     * items[s % VOID_CASWRITER_BLOCKS_MAX]. */
    uint64_t submitted, taken, written, delivered;
    size_t bytes;
    int stopping;
    struct void_caswriter_stats stats;
    struct void_caswriter_item items[VOID_CASWRITER_BLOCKS_MAX];
    struct void_cas_block batch[VOID_CASWRITER_BLOCKS_MAX]; /* the writer thread's */
};

/* Starts the writer thread for cas (borrowed; it must outlive
 * void_caswriter_close) on loop (borrowed). config may be NULL (defaults).
 * done (with ctx) receives every written block on the loop thread.
 * Returns 0, VOID_EINVAL (bad config) or VOID_EIO (no thread or handle).
 * void_caswriter_close is safe after a failure. */
int void_caswriter_init(struct void_caswriter *w,
                        uv_loop_t *loop,
                        struct void_cas *cas,
                        const struct void_caswriter_config *config,
                        void_caswriter_done_fn done,
                        void *ctx);

/* Queues a copy of the block data[0..len) (borrowed for the call) of the
 * given kind, received from node from. Returns 0, or VOID_EBUSY when the
 * ring holds blocks_max blocks or the block would pass bytes_max (counted in
 * stats.busy: the caller drops the block, its sender retries), VOID_ENOMEM,
 * or VOID_EINVAL after close began. */
int void_caswriter_submit(struct void_caswriter *w,
                          uint8_t kind,
                          const uint8_t *data,
                          size_t len,
                          uint32_t from,
                          int fetched);

/* Queues a copy of buf[0..len) (borrowed for the call), an unverified
 * CAS_BLOCK frame. The writer thread verifies it with config->ring; a frame
 * that does not verify or decode is not stored: its done callback gets the
 * codec's error in block.rc (VOID_EBAD_SIG, VOID_EUNKNOWN_SENDER...) or
 * VOID_EBAD_TYPE. Returns as void_caswriter_submit, and VOID_EINVAL when the
 * writer has no keyring. */
int void_caswriter_submit_frame(struct void_caswriter *w, const uint8_t *buf, size_t len);

/* Copies the counters into *out. Cannot fail. */
void void_caswriter_stats_get(struct void_caswriter *w, struct void_caswriter_stats *out);

/* Stops taking blocks, lets the thread write every block already queued
 * (one last group commit: nothing received is abandoned), joins it and
 * closes the async handle (the loop must run once more for its close
 * callback). Blocks not yet delivered get no done callback. Safe on a
 * zeroed or failed-init writer, and twice. */
void void_caswriter_close(struct void_caswriter *w);

#endif
