/*
 * The daemon's causal event log (docs/causality.md, "In the daemon"): the
 * EVENT effects of the node's replica go, as they are performed, into a
 * partial index of include/void/causal.h (this node's events; a receive's
 * remote edge checked against the send's HLC carried in the signed frame),
 * whose alerts are logged, counted in /metrics and, with
 * `on_violation = halt`, stop the node from sending anything. The index is
 * served over HTTP under /trace/ (JSON) for voidctl trace.
 *
 * Persistence (docs/causality.md, "Persistence"): accepted events are
 * written to DATA_DIR/causal (include/void/causal_log.h) in batches, and
 * always before a SEND effect leaves, so no peer ever sees a seq that a
 * restart could number again; a restart reloads the newest events into the
 * index and numbers on from the last one. Queries are answered from the
 * persisted window, and one about an event compacted out of it says so
 * (HTTP 410).
 *
 * Threads: events arrive on the loop thread, queries on the HTTP thread;
 * the index is under the struct's own mutex. `halted` is atomic so that the
 * send path reads it without the lock.
 */
#ifndef VOID_IO_NODE_CAUSAL_H
#define VOID_IO_NODE_CAUSAL_H

#include "metrics.h"
#include "void/causal.h"
#include "void/causal_log.h"
#include "void/config.h"
#include "void/http.h"
#include "void/kvs.h"
#include "void/pbft.h"
#include "void/sign.h"

#include <jansson.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#define VOID_NODE_CAUSAL_CAPACITY_DEF 65536
#define VOID_NODE_CAUSAL_RECENT       16 /* alerts kept for /trace/alerts */
#define VOID_NODE_CAUSAL_PAGE_MAX     800 /* events per /trace/events answer */
#define VOID_NODE_CAUSAL_WALK_MAX     4096 /* ids per /trace/ancestors answer */
#define VOID_NODE_CAUSAL_RETENTION_DEF 86400 /* [causal] retention_s */
#define VOID_NODE_CAUSAL_MAX_MB_DEF    256   /* [causal] max_mb */
#define VOID_NODE_CAUSAL_PENDING_MAX   256   /* events written per LMDB transaction at most */
#define VOID_NODE_CAUSAL_COMPACT_NS    1000000000ull /* compaction at most once a second */
#define VOID_NODE_CAUSAL_LOST_MAX      16    /* ranges of seqs a failed write lost */

struct void__node_causal {
    int on; /* [causal] events = 1 */
    int halt_mode;
    int test_hooks;
    uint32_t self, nodes; /* nodes: the replica id slots ([membership] slots) */
    uint32_t forge_peer;  /* /trace/forge's peer: a replica the file lists, not self */
    pthread_mutex_t lock;
    int lock_ready;
    struct void_causal c;
    struct void_causal_id *walk; /* VOID_NODE_CAUSAL_WALK_MAX ids, under lock */
    atomic_int halted;
    uint64_t alerts_total[VOID_CAUSAL_BUFFER_OVERFLOW + 1];
    atomic_uint_fast64_t sends_withheld;
    struct void_causal_alert recent[VOID_NODE_CAUSAL_RECENT];
    uint64_t recent_count; /* alerts ever kept; recent[] is a ring */
    /* persistence ([causal] persist = 1, the default) */
    int persist;
    struct void_causal_log log;
    uint64_t retention_ns;
    uint64_t next_seq;          /* numbering goes on here after a restart; 0: fresh */
    struct void_hlc_ts restored_hlc; /* HLC of the last persisted event */
    uint64_t restored;          /* events reloaded into the index at start */
    uint64_t pending_keys[VOID_NODE_CAUSAL_PENDING_MAX];
    uint8_t pending[VOID_NODE_CAUSAL_PENDING_MAX * VOID_CAUSAL_RECORD_SIZE];
    size_t pending_count;
    uint64_t compact_after_ns; /* CLOCK_MONOTONIC */
    uint64_t persist_errors;
    /* An append failed since the last void__node_causal_flush: events
     * recorded meanwhile may be lost, so the sends that carry their seqs
     * must not leave (a restart would number such a seq again: the
     * campaign of 2026-12-07 saw 638 hlc_order alerts after full disks). */
    int flush_failed;
    /* The seqs of the events such failed writes lost, as ranges [lo, hi]
     * (the newest last; when full, the newest widened over the gap). A
     * send carrying one of them must not leave, in any later run of
     * effects either: a send's EVENT effect may come in an earlier run than
     * the SEND (a record between them), and a retransmitted copy carries
     * the seq of the first send (void__node_causal_lost_send). */
    uint64_t lost_lo[VOID_NODE_CAUSAL_LOST_MAX], lost_hi[VOID_NODE_CAUSAL_LOST_MAX];
    uint32_t lost_count;
    atomic_int lost_any; /* lost_count > 0: the send path reads it without the lock */
    uint64_t sends_unpersisted; /* sends dropped for it */
    int test_fail_appends;      /* unit tests only: every append fails with VOID_EIO */
    uint64_t compacted_total;
    const struct void_sign_keypair *keypair; /* signs /trace/events pages (config's) */
    /* The replicated state, read through views for /trace/state and
     * /trace/diff (void__node_causal_set_state; borrowed, outlives the
     * HTTP server). */
    struct void_kvs *kvs;
    atomic_int kvs_ready;
};

/* The first event number of a daemon run: microseconds since the epoch, so
 * that a restarted node numbers on above what its peers saw (its index is in
 * memory and starts afresh). Cannot fail. */
uint64_t void__node_causal_seq_start(void);

/* Where the replica core numbers its events from (pbft event_seq_start):
 * after the last persisted event, or void__node_causal_seq_start() for a
 * fresh log. Call after void__node_causal_init. Cannot fail. */
uint64_t void__node_causal_next_seq(const struct void__node_causal *nc);

/* Moves the node's HLC past the last persisted event's, so that the first
 * event after a restart comes after it even if the wall clock stepped back.
 * Cannot fail (logs when the clock is too far behind to merge). */
void void__node_causal_restore_hlc(const struct void__node_causal *nc, struct void_hlc *hlc);

/* Sets nc up from config (borrowed for the call): nodes = the replica id
 * slots, so that a member that joined is a node of the DAG everywhere.
 * With [causal] events = 0 it records nothing and answers /trace/ with 404.
 * Returns 0, VOID_EINVAL or VOID_ENOMEM. void__node_causal_fini is safe
 * after a failure. */
int void__node_causal_init(struct void__node_causal *nc, const struct void_config *config);
void void__node_causal_fini(struct void__node_causal *nc);

/* Records one EVENT effect (borrowed) of this node's replica; logs and counts
 * its alerts and halts in halt mode. Loop thread. Cannot fail. */
void void__node_causal_event(struct void__node_causal *nc, const struct void_pbft_event *ev);

/* Records a local event of this node that the replica core does not see:
 * a membership change (kind MEMBERSHIP: op_seq = the member, view = its new
 * state, client_id = its old state, request_no = the silence in ms) or a
 * timekeeper alert (kind LOCAL, msg_type 0: view = the alert kind, op_seq =
 * |the offending offset| in ns, client_id = the server). It takes the next
 * number of r's event sequence and an HLC tick of r's clock at phys_ns, so
 * the node's events stay one chain. Loop thread. Cannot fail. */
void void__node_causal_local(struct void__node_causal *nc,
                             struct void_pbft *r,
                             uint64_t phys_ns,
                             const struct void_causal_event *what);

/* Whether the SEND effect e must not go out: the node halted on a violation.
 * Counts it. Cannot fail. A send that may go out must wait for
 * void__node_causal_flush. */
int void__node_causal_withhold(struct void__node_causal *nc, const struct void_pbft_effect *e);

/* Writes every event recorded so far to the persisted log in one LMDB
 * transaction (nothing without [causal] persist): call it before sends
 * leave, so that any seq a peer sees is on disk (docs/causality.md,
 * Persistence). Returns 0, or VOID_EIO when this write or one since the
 * last call failed (logged and counted): the caller must then drop the
 * sends it holds (void__node_causal_drop_sends). Loop thread. */
int void__node_causal_flush(struct void__node_causal *nc);

/* Whether frame (a SEND effect's, borrowed) is this node's and carries
 * the seq of an event that a failed write lost (docs/causality.md,
 * Persistence): such a send must not leave, whatever run of effects it is
 * in, since a restart would number that seq again. Call after
 * void__node_causal_flush. Loop thread. Cannot fail. */
int void__node_causal_lost_send(struct void__node_causal *nc, const uint8_t *frame, size_t len);

/* Tells nc that the replica core numbers its next event `next`, past
 * void__node_causal_next_seq: its record log held frames of its own with
 * seqs whose events were not persisted (void_pbft_recover numbers after
 * them: recovered_event_seq). Logs the skip and starts the index's chain
 * afresh at `next`. Before the first event is recorded. Cannot fail. */
void void__node_causal_skip_to(struct void__node_causal *nc, uint64_t next);

/* Counts n sends dropped because their events may not be on disk (a
 * PBFT message lost, as the network may lose it). Cannot fail. */
void void__node_causal_drop_sends(struct void__node_causal *nc, uint32_t n);

/* Answers GET /trace/... (path starts with "/trace"); same contract as
 * void_http_handler_fn. HTTP thread. */
/* Writes the JSON value root (consumed, may be NULL) and a newline into
 * out; returns the length, 0 when it is NULL or does not fit. The HTTP
 * answers of node.c and node_causal.c are all written with it. */
size_t void__node_json_answer(json_t *root, char *out, size_t cap);

int void__node_causal_http(struct void__node_causal *nc,
                           const char *path,
                           void_http_arg_fn arg,
                           void *req,
                           char *out,
                           size_t cap,
                           size_t *len,
                           const char **content_type);

/* Writes the void_causal_* metric families to w (nothing when the log is
 * off). HTTP thread. Cannot fail (see void__metrics_family). */
void void__node_causal_metrics(struct void__node_causal *nc, struct void__metrics_writer *w);

/* Receives one event (borrowed for the call) of void__node_causal_each;
 * returns 0 to go on, non-zero to stop before the next. */
typedef int (*void__node_causal_each_fn)(void *ctx, const struct void_causal_event *ev);

/* Calls fn (NULL when limit is 0: only *base and *last are wanted), under
 * the log's lock (fn must not call back into nc), for this
 * node's retained events with seq > after and from <= HLC <= to, oldest
 * first, at most limit of them. Sets *more when a further event matches
 * (when fn stopped early: that event and the rest), *last to the newest seq
 * the log holds and *base to its oldest (0 for none); more, last, base may be
 * NULL. Returns how many events fn took. The log is off: 0. HTTP thread or
 * the web module's stream feeder (node_web.c). */
size_t void__node_causal_each(struct void__node_causal *nc,
                              uint64_t after,
                              struct void_hlc_ts from,
                              struct void_hlc_ts to,
                              size_t limit,
                              void__node_causal_each_fn fn,
                              void *ctx,
                              int *more,
                              uint64_t *base,
                              uint64_t *last);

/* Lends nc the node's state store (an LMDB store, open until after the
 * HTTP server stops) for /trace/state and /trace/diff. Cannot fail. */
void void__node_causal_set_state(struct void__node_causal *nc, struct void_kvs *kvs);

/* The void_http_raw_fn of the streamed answers (ctx: nc): /trace/state and
 * /trace/diff (docs/causality.md, "State and diff"); 0 for any other path. */
int void__node_causal_raw(void *ctx, void *conn, const char *method, const char *path, int *result);

/* Whether the node halted on a causality violation. Cannot fail. */
int void__node_causal_halted(struct void__node_causal *nc);

#endif
