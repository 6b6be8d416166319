/*
 * The daemon's causal event log: maps the replica core's EVENT effects to
 * causal events, verifies them online in a partial index (this node's
 * events; see include/void/causal.h), reports alerts (log line, metric, and
 * in halt mode the node stops sending), and answers the /trace/ queries
 * that voidctl trace assembles into the cluster's DAG (docs/causality.md).
 *
 * The receive's remote parent is the (node, seq) the sender wrote into the
 * first 8 bytes of the message body and its HLC is the frame's: both are
 * under the sender's signature (or the COMMIT's MAC, itself keyed per
 * pair), which the core checked before it emitted the receive. Clients are
 * not nodes of the DAG: a client's request is a client_request event naming
 * the client, a reply a reply event.
 *
 * Persistence: accepted events wait in `pending` and go to DATA_DIR/causal in
 * one LMDB transaction when 256 have gathered, before any SEND effect goes
 * out (void__node_causal_flush, once for the sends of one run of effects),
 * and before any query is answered. A seq
 * a peer saw is therefore on disk, and a restart, which numbers on from the
 * last persisted event, never gives it to another event; a seq nobody saw
 * may be lost in a crash and numbered again, harmlessly.
 */
#include "node_causal.h"

#include "void/assert.h"
#include "void/bytes.h"
#include "void/codec.h"
#include "void/error.h"
#include "void/hash.h"
#include "void/kvs.h"
#include "void/log.h"
#include "void/pbft_msg.h"

#include <inttypes.h>
#include <jansson.h>
#include <microhttpd.h>
#include <sodium.h>
#include <stdarg.h>
#include <sys/types.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static uint64_t clock_ns(clockid_t id)
{
    struct timespec ts;
    clock_gettime(id, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void format_hlc(struct void_hlc_ts t, char *buf, size_t cap);
static void take_alerts(struct void__node_causal *nc);

uint64_t void__node_causal_seq_start(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    uint64_t us = (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
    VOID_ASSERT(us < VOID_CAUSAL_SEQ_MAX / 2);
    return us > 0 ? us : 1;
}

/* ---- persistence ------------------------------------------------------ */

/* Compacts the persisted log to its windows: events older than retention_s
 * (by their HLC wall time) and whatever is over max_mb. Under lock. */
static void compact_locked(struct void__node_causal *nc)
{
    uint64_t now = clock_ns(CLOCK_REALTIME), removed = 0;
    uint64_t min_wall = now > nc->retention_ns ? now - nc->retention_ns : 0;
    int rc = void_causal_log_compact(&nc->log, min_wall, &removed);
    nc->compact_after_ns = clock_ns(CLOCK_MONOTONIC) + VOID_NODE_CAUSAL_COMPACT_NS;
    nc->compacted_total += removed;
    if (rc != 0) {
        nc->persist_errors++;
        void_log(VOID_LOG_WARN, "causal log: compaction failed: %s", void_strerror(rc));
    }
}

/* Notes that the events [lo, hi] of this node are not on disk (a failed
 * write): sends carrying those seqs must not leave. Under lock. */
static void lost_add(struct void__node_causal *nc, uint64_t lo, uint64_t hi)
{
    VOID_ASSERT(lo <= hi);
    VOID_ASSERT(nc->lost_count <= VOID_NODE_CAUSAL_LOST_MAX);
    uint32_t n = nc->lost_count;
    if (n > 0 && (lo <= nc->lost_hi[n - 1] + 1 || n == VOID_NODE_CAUSAL_LOST_MAX)) {
        /* Adjacent to the newest range, or no slot left: widen the newest
         * (holding back a few sends whose events are on disk is safe). */
        nc->lost_lo[n - 1] = lo < nc->lost_lo[n - 1] ? lo : nc->lost_lo[n - 1];
        nc->lost_hi[n - 1] = hi > nc->lost_hi[n - 1] ? hi : nc->lost_hi[n - 1];
    } else {
        nc->lost_lo[n] = lo;
        nc->lost_hi[n] = hi;
        nc->lost_count = n + 1;
    }
    atomic_store(&nc->lost_any, 1);
}

/* Writes the pending events in one transaction. Under lock (or alone). A
 * failure is logged and counted; the events stay in memory only, and their
 * seqs are noted as lost (lost_add). */
static void flush_locked(struct void__node_causal *nc)
{
    if (!nc->persist || nc->pending_count == 0) {
        return;
    }
    int rc = nc->test_fail_appends
                 ? VOID_EIO
                 : void_causal_log_append(&nc->log, nc->pending_keys, nc->pending, nc->pending_count);
    if (rc == VOID_ENOSPC) {
        compact_locked(nc); /* the map is full: make room, once */
        rc = void_causal_log_append(&nc->log, nc->pending_keys, nc->pending, nc->pending_count);
    }
    nc->flush_failed |= rc != 0;
    if (rc != 0) {
        uint64_t lo = nc->pending_keys[0], hi = nc->pending_keys[0];
        for (size_t i = 1; i < nc->pending_count; i++) {
            lo = nc->pending_keys[i] < lo ? nc->pending_keys[i] : lo;
            hi = nc->pending_keys[i] > hi ? nc->pending_keys[i] : hi;
        }
        lost_add(nc, lo, hi);
    }
    if (rc != 0 && nc->persist_errors++ % 1000 == 0) {
        void_log(VOID_LOG_WARN,
                 "causal log: %zu events not persisted: %s (%" PRIu64 " failures so far)",
                 nc->pending_count,
                 void_strerror(rc),
                 nc->persist_errors);
    }
    nc->pending_count = 0;
    if (clock_ns(CLOCK_MONOTONIC) >= nc->compact_after_ns) {
        compact_locked(nc);
    }
}

static void pending_add(struct void__node_causal *nc, const struct void_causal_event *ce)
{
    VOID_ASSERT(nc->pending_count < VOID_NODE_CAUSAL_PENDING_MAX);
    nc->pending_keys[nc->pending_count] = ce->id.seq;
    void_causal_encode(ce, nc->pending + nc->pending_count * VOID_CAUSAL_RECORD_SIZE);
    if (++nc->pending_count == VOID_NODE_CAUSAL_PENDING_MAX) {
        flush_locked(nc);
    }
}

/* Queues for the log every event of this node accepted since its last
 * accepted seq was `before`: the one just submitted and any orphans it
 * released (a local event recorded before the core's earlier events were
 * performed waits for them). Under lock. */
static void persist_new(struct void__node_causal *nc, uint64_t before)
{
    uint32_t self = nc->self;
    uint64_t s = before + 1 > nc->c.base[self] ? before + 1 : nc->c.base[self];
    for (; nc->persist && s <= nc->c.last[self]; s++) {
        struct void_causal_event ev;
        if (void_causal_get(&nc->c, (struct void_causal_id){self, s}, &ev) == 0) {
            pending_add(nc, &ev);
        }
    }
}

/* Reloads one persisted event into the index (void_causal_log_fn). */
static int restore_one(void *ctx, uint64_t key, const struct void_causal_event *ev)
{
    struct void__node_causal *nc = ctx;
    uint64_t last = nc->c.last[nc->self];
    if (ev->id.node != nc->self || ev->id.seq != key) {
        return 0; /* not this node's: another id once used this directory */
    }
    if (last != 0 && ev->id.seq != last + 1) {
        void_causal_reset(&nc->c); /* a gap the log had restarted at before */
    }
    if (void_causal_submit_restored(&nc->c, ev) == VOID_CAUSAL_ACCEPTED) {
        nc->restored++;
    }
    nc->restored_hlc = ev->hlc;
    return 0;
}

/* Opens DATA_DIR/causal, compacts it to its windows and reloads its newest
 * events (up to the index's capacity) so that queries and the numbering go
 * on across a restart. */
static int persist_open(struct void__node_causal *nc, const struct void_config *config)
{
    char dir[VOID_CONFIG_PATH_MAX + 16];
    int n = snprintf(dir, sizeof(dir), "%s/causal", config->data_dir);
    if (n < 0 || (size_t)n >= sizeof(dir)) {
        return VOID_EINVAL;
    }
    uint64_t mb = config->causal_max_mb != 0 ? config->causal_max_mb : VOID_NODE_CAUSAL_MAX_MB_DEF;
    struct void_causal_log_config lc = {.max_bytes = mb << 20};
    int rc = void_causal_log_open(&nc->log, dir, &lc);
    if (rc != 0) {
        void_log(VOID_LOG_ERROR, "causal log: cannot open %s: %s", dir, void_strerror(rc));
        return rc;
    }
    nc->persist = 1;
    uint64_t keep_s = config->causal_retention_s != 0 ? config->causal_retention_s
                                                      : VOID_NODE_CAUSAL_RETENTION_DEF;
    nc->retention_ns = keep_s * 1000000000ull;
    compact_locked(nc);
    uint64_t first = 0, last = 0, count = 0;
    rc = void_causal_log_bounds(&nc->log, &first, &last, &count);
    if (rc != 0 || count == 0) {
        return rc;
    }
    uint64_t want = count < nc->c.cfg.capacity ? count : nc->c.cfg.capacity;
    uint64_t from = last - want + 1 > first ? last - want + 1 : first;
    size_t seen = 0;
    rc = void_causal_log_scan(&nc->log, from, false, (size_t)want, restore_one, nc, &seen);
    if (rc != 0) {
        void_log(VOID_LOG_ERROR, "causal log: cannot reload %s: %s", dir, void_strerror(rc));
        return rc;
    }
    if (nc->c.alert_count > 0 || nc->c.halt) {
        /* The log was verified when it was written: say so, do not halt. */
        void_log(VOID_LOG_WARN, "causal log: the persisted events raised alerts on reload");
        struct void_causal_alert a[8];
        while (void_causal_alerts_take(&nc->c, a, VOID_ARRAY_LEN(a)) > 0) {
        }
        nc->c.halt = false;
    }
    nc->next_seq = last + 1;
    char t[VOID_HLC_FORMAT_MAX];
    format_hlc(nc->restored_hlc, t, sizeof(t));
    void_log(VOID_LOG_INFO,
             "causal log: opened %s: %" PRIu64 " events (%" PRIu32 ".%" PRIu64 " .. %" PRIu32
             ".%" PRIu64 ", the last at %s), %" PRIu64 " reloaded; numbering goes on at %" PRIu64,
             dir,
             count,
             nc->self,
             first,
             nc->self,
             last,
             t,
             nc->restored,
             nc->next_seq);
    return 0;
}

uint64_t void__node_causal_next_seq(const struct void__node_causal *nc)
{
    VOID_ASSERT(nc != NULL);
    return nc->next_seq != 0 ? nc->next_seq : void__node_causal_seq_start();
}

void void__node_causal_restore_hlc(const struct void__node_causal *nc, struct void_hlc *hlc)
{
    VOID_ASSERT(nc != NULL && hlc != NULL);
    if (nc->restored_hlc.wall_ns == 0) {
        return;
    }
    struct void_hlc_ts out;
    /* The replica's HLC has no clock of its own (the core is given time). */
    int rc = void_hlc_update_at(hlc, clock_ns(CLOCK_REALTIME), nc->restored_hlc, &out);
    if (rc != 0) {
        void_log(VOID_LOG_WARN,
                 "causal log: the last persisted event is ahead of this clock (%s): the "
                 "first events may be flagged hlc_order",
                 void_strerror(rc));
    }
}

int void__node_causal_init(struct void__node_causal *nc, const struct void_config *config)
{
    VOID_ASSERT(nc != NULL && config != NULL);
    memset(nc, 0, sizeof(*nc));
    nc->on = !config->causal_off;
    nc->halt_mode = config->causal_halt != 0;
    nc->test_hooks = config->causal_test_hooks != 0;
    nc->self = config->self_id;
    /* Every replica id that may ever be a member (docs/membership.md,
     * "Joining a running cluster"): a member that joined later is a node of
     * the DAG like a founding one, not a client, whether or not this file
     * lists it. */
    nc->nodes = config->slots;
    for (uint32_t i = 0; i < config->count_replicas && nc->forge_peer == nc->self; i++) {
        nc->forge_peer = config->replicas[i].id;
    }
    nc->keypair = &config->keypair;
    atomic_init(&nc->halted, 0);
    atomic_init(&nc->sends_withheld, 0);
    atomic_init(&nc->kvs_ready, 0);
    atomic_init(&nc->lost_any, 0);
    if (!nc->on) {
        return 0;
    }
    if (nc->nodes > VOID_CAUSAL_NODES_MAX || nc->self >= nc->nodes) {
        return VOID_EINVAL;
    }
    if (pthread_mutex_init(&nc->lock, NULL) != 0) {
        return VOID_ENOMEM;
    }
    nc->lock_ready = 1;
    struct void_causal_config cc = {
        .nodes = nc->nodes,
        .capacity = config->causal_capacity != 0 ? config->causal_capacity
                                                 : VOID_NODE_CAUSAL_CAPACITY_DEF,
        .orphans_max = 64,
        .orphan_wait_max = 1024,
        .partial = true,
        .self = nc->self,
    };
    nc->walk = calloc(VOID_NODE_CAUSAL_WALK_MAX, sizeof(*nc->walk));
    if (nc->walk == NULL) {
        return VOID_ENOMEM;
    }
    int rc = void_causal_init(&nc->c, &cc);
    if (rc != 0 || config->causal_persist_off || config->data_dir[0] == '\0') {
        return rc;
    }
    return persist_open(nc, config);
}

void void__node_causal_fini(struct void__node_causal *nc)
{
    if (nc == NULL) {
        return;
    }
    if (nc->persist) {
        flush_locked(nc); /* the loop has stopped: nothing else holds the lock */
        void_causal_log_close(&nc->log);
        nc->persist = 0;
    }
    if (nc->c.ring != NULL) {
        void_causal_fini(&nc->c);
    }
    free(nc->walk);
    nc->walk = NULL;
    if (nc->lock_ready) {
        pthread_mutex_destroy(&nc->lock);
        nc->lock_ready = 0;
    }
}

/* The causal event of pe; *remote is set for a receive with a remote edge. */
static void map_event(const struct void__node_causal *nc,
                      const struct void_pbft_event *pe,
                      struct void_causal_event *ce,
                      int *remote)
{
    memset(ce, 0, sizeof(*ce));
    *remote = 0;
    ce->id.node = pe->node;
    ce->id.seq = pe->local_seq;
    ce->hlc = pe->hlc;
    ce->kind = void_causal_kind_of_pbft(pe->kind);
    uint32_t peer = pe->remote_node;
    int is_replica = peer < nc->nodes;
    if (ce->kind == VOID_CAUSAL_SEND) {
        ce->msg_type = pe->msg_type;
        if (!is_replica && peer != VOID_PBFT_TO_ALL) {
            ce->kind = VOID_CAUSAL_REPLY; /* to a client: not a node of the DAG */
            ce->client_id = peer;
        }
    } else if (ce->kind == VOID_CAUSAL_RECEIVE) {
        ce->msg_type = pe->msg_type;
        if (!is_replica) {
            ce->kind = VOID_CAUSAL_CLIENT_REQUEST;
            ce->client_id = peer;
        } else if (pe->remote_seq == 0 || peer == pe->node) {
            ce->kind = VOID_CAUSAL_LOCAL; /* no edge to check */
        } else {
            ce->from.node = peer;
            ce->from.seq = pe->remote_seq;
            *remote = 1;
        }
    } else if (ce->kind != VOID_CAUSAL_LOCAL) {
        ce->view = pe->view;
        ce->op_seq = pe->seq;
    }
}

static void format_hlc(struct void_hlc_ts t, char *buf, size_t cap)
{
    if (void_hlc_format(t, buf, cap) < 0) {
        snprintf(buf, cap, "%" PRIu64 "/%" PRIu32, t.wall_ns, t.logical);
    }
}

/* Logs, counts and keeps the queued alerts. Under lock. */
static void take_alerts(struct void__node_causal *nc)
{
    struct void_causal_alert a[8];
    size_t got;
    while ((got = void_causal_alerts_take(&nc->c, a, VOID_ARRAY_LEN(a))) > 0) {
        for (size_t i = 0; i < got; i++) {
            char t1[VOID_HLC_FORMAT_MAX], t2[VOID_HLC_FORMAT_MAX];
            format_hlc(a[i].event_hlc, t1, sizeof(t1));
            format_hlc(a[i].other_hlc, t2, sizeof(t2));
            void_log(VOID_LOG_ERROR,
                     "causality violation: %s: event %" PRIu32 ".%" PRIu64 " at %s against %" PRIu32
                     ".%" PRIu64 " at %s%s",
                     void_causal_violation_name(a[i].kind),
                     a[i].event.node,
                     a[i].event.seq,
                     t1,
                     a[i].other.node,
                     a[i].other.seq,
                     t2,
                     nc->halt_mode ? "; on_violation = halt: this node stops voting" : "");
            if (a[i].kind <= VOID_CAUSAL_BUFFER_OVERFLOW) {
                nc->alerts_total[a[i].kind]++;
            }
            nc->recent[nc->recent_count++ % VOID_NODE_CAUSAL_RECENT] = a[i];
        }
    }
    if (nc->halt_mode && nc->c.halt) {
        atomic_store(&nc->halted, 1);
    }
}

/* Submits ce (with the frame's HLC for a remote receive). Under lock. */
static int submit_locked(struct void__node_causal *nc,
                         const struct void_causal_event *ce,
                         int remote,
                         struct void_hlc_ts send_hlc)
{
    int rc = remote ? void_causal_submit_receive(&nc->c, ce, send_hlc)
                    : void_causal_submit(&nc->c, ce);
    if (rc < 0) {
        void_log(VOID_LOG_WARN,
                 "causal log: event %" PRIu32 ".%" PRIu64 " not recorded: %s",
                 ce->id.node,
                 ce->id.seq,
                 void_strerror(rc));
    }
    if (nc->c.alert_count > 0) {
        take_alerts(nc);
    }
    return rc;
}

void void__node_causal_event(struct void__node_causal *nc, const struct void_pbft_event *ev)
{
    VOID_ASSERT(nc != NULL && ev != NULL);
    if (!nc->on) {
        return;
    }
    VOID_ASSERT(ev->node == nc->self);
    struct void_causal_event ce;
    int remote = 0;
    map_event(nc, ev, &ce, &remote);
    pthread_mutex_lock(&nc->lock);
    uint64_t last = nc->c.last[nc->self];
    if (last != 0 && ce.id.seq > last + 1) {
        /* The core numbers an event even when its output is full and drops
         * it (void_effects_overflow_total): the gap is known, not a lie, and
         * would leave every later event waiting. Start the log afresh. */
        void_log(VOID_LOG_WARN,
                 "causal log: events %" PRIu64 "..%" PRIu64 " lost (output full): log restarted",
                 last + 1,
                 ce.id.seq - 1);
        void_causal_reset(&nc->c);
    }
    last = nc->c.last[nc->self];
    if (submit_locked(nc, &ce, remote, ev->remote_hlc) == VOID_CAUSAL_ACCEPTED) {
        persist_new(nc, last);
    }
    pthread_mutex_unlock(&nc->lock);
}

void void__node_causal_local(struct void__node_causal *nc,
                             struct void_pbft *r,
                             uint64_t phys_ns,
                             const struct void_causal_event *what)
{
    VOID_ASSERT(nc != NULL && what != NULL);
    if (!nc->on || r == NULL) {
        return;
    }
    VOID_ASSERT(what->kind == VOID_CAUSAL_MEMBERSHIP || what->kind == VOID_CAUSAL_LOCAL);
    struct void_causal_event ce = *what;
    /* One numbering per node: the replica core's, on this (the loop) thread. */
    ce.id.node = nc->self;
    ce.id.seq = ++r->event_seq;
    ce.hlc = void_hlc_now_at(&r->hlc, phys_ns);
    pthread_mutex_lock(&nc->lock);
    uint64_t last = nc->c.last[nc->self];
    if (submit_locked(nc, &ce, 0, ce.hlc) == VOID_CAUSAL_ACCEPTED) {
        persist_new(nc, last);
    }
    pthread_mutex_unlock(&nc->lock);
}

int void__node_causal_flush(struct void__node_causal *nc)
{
    VOID_ASSERT(nc != NULL);
    int rc = 0;
    if (nc->persist) {
        /* The sends' events go to disk before the sends go out: one
         * transaction for every event gathered since the last flush. */
        pthread_mutex_lock(&nc->lock);
        flush_locked(nc);
        rc = nc->flush_failed ? VOID_EIO : 0;
        nc->flush_failed = 0;
        VOID_ASSERT(nc->pending_count == 0);
        pthread_mutex_unlock(&nc->lock);
    }
    return rc;
}

int void__node_causal_lost_send(struct void__node_causal *nc, const uint8_t *frame, size_t len)
{
    VOID_ASSERT(nc != NULL && frame != NULL);
    if (!atomic_load(&nc->lost_any)) {
        return 0;
    }
    struct void_frame fr;
    if (void_codec_decode(frame, len, &fr) != 0 || fr.sender != nc->self || fr.body_len < 8) {
        return 0; /* not a frame of this node's core (every one starts with its seq) */
    }
    uint64_t seq = void_bytes_get_be64(fr.body);
    int lost = 0;
    pthread_mutex_lock(&nc->lock);
    VOID_ASSERT(nc->lost_count <= VOID_NODE_CAUSAL_LOST_MAX);
    for (uint32_t i = nc->lost_count; i-- > 0 && !lost;) {
        lost = seq >= nc->lost_lo[i] && seq <= nc->lost_hi[i];
    }
    pthread_mutex_unlock(&nc->lock);
    return lost;
}

void void__node_causal_skip_to(struct void__node_causal *nc, uint64_t next)
{
    VOID_ASSERT(nc != NULL);
    if (!nc->on) {
        return;
    }
    pthread_mutex_lock(&nc->lock);
    uint64_t last = nc->c.last[nc->self];
    VOID_ASSERT(next > last);
    void_log(VOID_LOG_WARN,
             "causal log: the record log holds frames of this node numbered up to %" PRIu64
             " whose events were not persisted (a crash or a failed write): numbering goes "
             "on at %" PRIu64 ", never again giving a seq a peer may have seen",
             next - 1,
             next);
    if (last != 0 && next > last + 1) {
        void_causal_reset(&nc->c); /* the chain has a known gap: start afresh at next */
    }
    nc->next_seq = next;
    pthread_mutex_unlock(&nc->lock);
}

void void__node_causal_drop_sends(struct void__node_causal *nc, uint32_t n)
{
    VOID_ASSERT(nc != NULL && nc->persist);
    pthread_mutex_lock(&nc->lock);
    if (nc->sends_unpersisted == 0 && n > 0) {
        void_log(VOID_LOG_WARN,
                 "causal log: %u send%s dropped: their events could not be written, and a seq a "
                 "peer saw must be on disk (counted in void_causal_sends_unpersisted_total)",
                 n,
                 n == 1 ? "" : "s");
    }
    nc->sends_unpersisted += n;
    pthread_mutex_unlock(&nc->lock);
}

int void__node_causal_withhold(struct void__node_causal *nc, const struct void_pbft_effect *e)
{
    VOID_ASSERT(e->kind == VOID_PBFT_EFFECT_SEND);
    if (!atomic_load(&nc->halted)) {
        return 0;
    }
    atomic_fetch_add(&nc->sends_withheld, 1);
    return 1;
}

/* ---- metrics ------------------------------------------------------------- */

void void__node_causal_metrics(struct void__node_causal *nc, struct void__metrics_writer *w)
{
    VOID_ASSERT(nc != NULL && w != NULL);
    if (!nc->on) {
        return;
    }
    pthread_mutex_lock(&nc->lock);
    void__metrics_family(
        w, "void_causal_events_total", VOID_METRICS_COUNTER, "Causal events recorded.");
    void__metrics_u64(w, NULL, NULL, void_causal_count_accepted(&nc->c));
    void__metrics_family(w,
                         "void_causal_events_retained",
                         VOID_METRICS_GAUGE,
                         "Causal events kept in memory.");
    void__metrics_u64(w, NULL, NULL, nc->c.ord_next - nc->c.ord_oldest);
    void__metrics_family(w,
                         "void_causal_events_dropped_total",
                         VOID_METRICS_COUNTER,
                         "Causal events dropped from memory past the horizon.");
    void__metrics_u64(w, NULL, NULL, void_causal_count_dropped(&nc->c));
    void__metrics_family(w,
                         "void_causal_halted",
                         VOID_METRICS_GAUGE,
                         "1 once on_violation = halt stopped this node from sending.");
    void__metrics_u64(w, NULL, NULL, (uint64_t)atomic_load(&nc->halted));
    void__metrics_family(w,
                         "void_causal_sends_withheld_total",
                         VOID_METRICS_COUNTER,
                         "Sends held back since the node halted on a causality violation.");
    void__metrics_u64(w, NULL, NULL, (uint64_t)atomic_load(&nc->sends_withheld));
    if (nc->persist) {
        void__metrics_family(w,
                             "void_causal_persisted_total",
                             VOID_METRICS_COUNTER,
                             "Causal events written to DATA_DIR/causal.");
        void__metrics_u64(w, NULL, NULL, nc->log.count_appended);
        void__metrics_family(w,
                             "void_causal_log_commits_total",
                             VOID_METRICS_COUNTER,
                             "LMDB transactions that wrote causal events to DATA_DIR/causal.");
        void__metrics_u64(w, NULL, NULL, nc->log.count_commits);
        void__metrics_family(w,
                             "void_causal_compacted_total",
                             VOID_METRICS_COUNTER,
                             "Causal events removed from disk by the retention window.");
        void__metrics_u64(w, NULL, NULL, nc->compacted_total);
        void__metrics_family(w,
                             "void_causal_persist_errors_total",
                             VOID_METRICS_COUNTER,
                             "Causal event writes that failed (those events stay in memory only).");
        void__metrics_u64(w, NULL, NULL, nc->persist_errors);
        void__metrics_family(w,
                             "void_causal_sends_unpersisted_total",
                             VOID_METRICS_COUNTER,
                             "Sends dropped because their events could not be written.");
        void__metrics_u64(w, NULL, NULL, nc->sends_unpersisted);
    }
    void__metrics_family(w,
                         "void_causal_alerts_total",
                         VOID_METRICS_COUNTER,
                         "Causality violations raised by this node's verifier, by kind.");
    for (int k = VOID_CAUSAL_HLC_ORDER; k <= VOID_CAUSAL_BUFFER_OVERFLOW; k++) {
        void__metrics_u64(w, "kind", void_causal_violation_name(k), nc->alerts_total[k]);
    }
    pthread_mutex_unlock(&nc->lock);
}

/* ---- HTTP ---------------------------------------------------------------- */

size_t void__node_json_answer(json_t *root, char *out, size_t cap)
{
    VOID_ASSERT(out != NULL && cap > 0);
    char *text = root != NULL ? json_dumps(root, JSON_COMPACT) : NULL;
    json_decref(root);
    size_t len = text != NULL ? strlen(text) : 0;
    if (text == NULL || len + 1 >= cap) {
        free(text);
        return 0;
    }
    memcpy(out, text, len);
    out[len++] = '\n';
    free(text);
    return len;
}

static int error_answer(int code, const char *msg, char *out, size_t cap, size_t *len)
{
    *len = void__node_json_answer(json_pack("{s:s}", "error", msg), out, cap);
    return code;
}

static json_t *id_json(struct void_causal_id id)
{
    char buf[48];
    snprintf(buf, sizeof(buf), "%" PRIu32 ".%" PRIu64, id.node, id.seq);
    return json_string(buf);
}

/* One event as voidctl trace reads it back (docs/causality.md). */
static json_t *event_json(const struct void_causal_event *ev)
{
    char hlc[VOID_HLC_FORMAT_MAX];
    format_hlc(ev->hlc, hlc, sizeof(hlc));
    json_t *j = json_pack("{s:o, s:I, s:I, s:s, s:I, s:i, s:s, s:i, s:I, s:I, s:I, s:I}",
                          "id",
                          id_json(ev->id),
                          "node",
                          (json_int_t)ev->id.node,
                          "seq",
                          (json_int_t)ev->id.seq,
                          "hlc",
                          hlc,
                          "hlc_wall_ns",
                          (json_int_t)ev->hlc.wall_ns,
                          "hlc_logical",
                          (int)ev->hlc.logical,
                          "kind",
                          void_causal_kind_name(ev->kind),
                          "msg_type",
                          (int)ev->msg_type,
                          "view",
                          (json_int_t)ev->view,
                          "op_seq",
                          (json_int_t)ev->op_seq,
                          "client_id",
                          (json_int_t)ev->client_id,
                          "request_no",
                          (json_int_t)ev->request_no);
    if (j != NULL && ev->kind == VOID_CAUSAL_RECEIVE) {
        json_object_set_new(j, "from", id_json(ev->from));
    }
    if (j != NULL) {
        json_object_set_new(j, "kind_code", json_integer(ev->kind));
    }
    const char *type = ev->msg_type != 0 ? void_msg_type_name(ev->msg_type) : NULL;
    if (j != NULL && type != NULL) {
        json_object_set_new(j, "msg", json_string(type));
    }
    return j;
}

/* Reads "NODE.SEQ". Returns 0 or VOID_EPARSE. */
static int parse_id(const char *text, struct void_causal_id *id)
{
    if (text == NULL) {
        return VOID_EPARSE;
    }
    char *end = NULL;
    unsigned long long node = strtoull(text, &end, 10);
    if (end == text || *end != '.' || node >= VOID_CAUSAL_NODES_MAX) {
        return VOID_EPARSE;
    }
    const char *s = end + 1;
    unsigned long long seq = strtoull(s, &end, 10);
    if (end == s || *end != '\0' || seq == 0 || seq > VOID_CAUSAL_SEQ_MAX) {
        return VOID_EPARSE;
    }
    id->node = (uint32_t)node;
    id->seq = seq;
    return 0;
}

/* An optional decimal argument in [lo, hi]; def when absent. */
static int parse_num(const char *text, uint64_t lo, uint64_t hi, uint64_t def, uint64_t *out)
{
    if (text == NULL) {
        *out = def;
        return 0;
    }
    char *end = NULL;
    if (*text < '0' || *text > '9') {
        return VOID_EPARSE;
    }
    unsigned long long v = strtoull(text, &end, 10);
    if (*end != '\0' || v < lo || v > hi) {
        return VOID_EPARSE;
    }
    *out = v;
    return 0;
}

/* The signature over a /trace/events page (docs/causality.md, "Signed
 * answers"): domain TRACE over node (4) || after (8) || count (4) || the
 * records of the page's events in order, so that voidctl can tell this
 * node's events from anything a proxy or another node made up. Adds "sig"
 * (hex) to root; nothing when the list cannot be encoded. */
static void sign_page(const struct void__node_causal *nc, uint64_t after, json_t *list, json_t *root)
{
    size_t n = json_array_size(list);
    size_t len = 16 + n * VOID_CAUSAL_RECORD_SIZE;
    uint8_t *msg = malloc(len);
    if (msg == NULL || root == NULL) {
        free(msg);
        return;
    }
    void_bytes_put_be32(msg, nc->self);
    void_bytes_put_be64(msg + 4, after);
    void_bytes_put_be32(msg + 12, (uint32_t)n);
    for (size_t i = 0; i < n; i++) {
        json_t *j = json_array_get(list, i);
        struct void_causal_event ev;
        memset(&ev, 0, sizeof(ev));
        /* The page's own JSON, read back as voidctl will read it. */
        ev.id.node = (uint32_t)json_integer_value(json_object_get(j, "node"));
        ev.id.seq = (uint64_t)json_integer_value(json_object_get(j, "seq"));
        ev.hlc.wall_ns = (uint64_t)json_integer_value(json_object_get(j, "hlc_wall_ns"));
        ev.hlc.logical = (uint32_t)json_integer_value(json_object_get(j, "hlc_logical"));
        ev.kind = (uint8_t)json_integer_value(json_object_get(j, "kind_code"));
        ev.msg_type = (uint8_t)json_integer_value(json_object_get(j, "msg_type"));
        ev.view = (uint64_t)json_integer_value(json_object_get(j, "view"));
        ev.op_seq = (uint64_t)json_integer_value(json_object_get(j, "op_seq"));
        ev.client_id = (uint64_t)json_integer_value(json_object_get(j, "client_id"));
        ev.request_no = (uint64_t)json_integer_value(json_object_get(j, "request_no"));
        json_t *from = json_object_get(j, "from");
        if (from != NULL && parse_id(json_string_value(from), &ev.from) != 0) {
            free(msg);
            return;
        }
        if (void_causal_event_check(&ev) != 0) {
            free(msg);
            return;
        }
        void_causal_encode(&ev, msg + 16 + i * VOID_CAUSAL_RECORD_SIZE);
    }
    uint8_t sig[VOID_SIGN_SIZE];
    if (void_sign(nc->keypair, VOID_SIGN_DOMAIN_TRACE, msg, len, sig) == 0) {
        char hex[2 * VOID_SIGN_SIZE + 1];
        for (size_t i = 0; i < VOID_SIGN_SIZE; i++) {
            snprintf(hex + 2 * i, 3, "%02x", sig[i]);
        }
        json_object_set_new(root, "sig", json_string(hex));
    }
    free(msg);
}

/* Appends each scanned event to a JSON list (void_causal_log_fn). For a
 * walk, stops at a gap in the numbering: the chain is broken there. */
struct collect {
    json_t *list;
    uint64_t expect; /* walks: the seq the next event must have; 0: no check */
    int step;        /* +1 descendants, -1 ancestors */
    int gap;
    uint64_t last_seq;
};

static int collect_one(void *ctx, uint64_t key, const struct void_causal_event *ev)
{
    struct collect *c = ctx;
    (void)key;
    if (c->expect != 0 && ev->id.seq != c->expect) {
        c->gap = 1;
        return 1;
    }
    c->expect = c->expect != 0 ? (c->step > 0 ? ev->id.seq + 1 : ev->id.seq - 1) : 0;
    c->last_seq = ev->id.seq;
    json_array_append_new(c->list, event_json(ev));
    return 0;
}

/* /trace/events from the persisted window. */
static int http_events_persisted(
    struct void__node_causal *nc, uint64_t after, uint64_t limit, char *out, size_t cap, size_t *len)
{
    uint64_t first = 0, last = 0, count = 0;
    int rc = void_causal_log_bounds(&nc->log, &first, &last, &count);
    struct collect col = {.list = json_array()};
    size_t seen = 0;
    if (rc == 0 && after < last) {
        rc = void_causal_log_scan(&nc->log, after + 1, false, (size_t)limit, collect_one, &col, &seen);
    }
    if (rc != 0) {
        json_decref(col.list);
        return error_answer(500, void_strerror(rc), out, cap, len);
    }
    json_t *root = json_pack("{s:I, s:I, s:I, s:I, s:b, s:b, s:b, s:I, s:O}",
                            "node",
                            (json_int_t)nc->self,
                            "base",
                            (json_int_t)first,
                            "last",
                            (json_int_t)last,
                            "dropped",
                            (json_int_t)(nc->compacted_total + void_causal_count_dropped(&nc->c)),
                            "more",
                            seen > 0 && col.last_seq < last,
                            "halted",
                            atomic_load(&nc->halted) != 0,
                            "persisted",
                            1,
                            "retention_s",
                            (json_int_t)(nc->retention_ns / 1000000000u),
                            "events",
                            col.list);
    sign_page(nc, after, col.list, root);
    json_decref(col.list);
    *len = void__node_json_answer(root, out, cap);
    return *len > 0 ? 200 : 500;
}

/* The window check of a query about id: 0 if it is inside (or persistence
 * is off), else the HTTP answer: 410 for an event compacted out of the
 * window, 404 for one that never was here. */
static int window_check(struct void__node_causal *nc,
                        struct void_causal_id id,
                        uint64_t *first,
                        uint64_t *last,
                        char *out,
                        size_t cap,
                        size_t *len)
{
    uint64_t count = 0;
    *first = *last = 0;
    if (!nc->persist) {
        return 0;
    }
    int rc = void_causal_log_bounds(&nc->log, first, last, &count);
    if (rc != 0) {
        return error_answer(500, void_strerror(rc), out, cap, len);
    }
    if (id.node == nc->self && count > 0 && id.seq < *first) {
        char msg[200];
        snprintf(msg,
                 sizeof(msg),
                 "event %" PRIu32 ".%" PRIu64 " is outside this node's retention window "
                 "(oldest retained event: %" PRIu32 ".%" PRIu64 ")",
                 id.node,
                 id.seq,
                 nc->self,
                 *first);
        char oldest[48];
        snprintf(oldest, sizeof(oldest), "%" PRIu32 ".%" PRIu64, nc->self, *first);
        json_t *j = json_pack("{s:s, s:s, s:b}", "error", msg, "oldest", oldest, "outside_window", 1);
        *len = void__node_json_answer(j, out, cap);
        return 410;
    }
    return 0;
}

/* A walk over the persisted window: a node's own events form one chain
 * (receives' remote parents live on other nodes), so ancestors are the
 * seqs below id and descendants those above, up to a gap or the window's
 * end. */
static int walk_persisted(struct void__node_causal *nc,
                          struct void_causal_id id,
                          int up,
                          uint64_t depth,
                          uint64_t limit,
                          uint64_t first,
                          uint64_t last,
                          char *out,
                          size_t cap,
                          size_t *len)
{
    uint64_t want = depth + 1 < limit ? depth + 1 : limit;
    struct collect col = {.list = json_array(), .expect = id.seq, .step = up ? -1 : 1};
    size_t seen = 0;
    int rc = void_causal_log_scan(&nc->log, id.seq, up, (size_t)want, collect_one, &col, &seen);
    if (rc != 0 || json_array_size(col.list) == 0) {
        json_decref(col.list);
        return rc != 0 ? error_answer(500, void_strerror(rc), out, cap, len)
                       : error_answer(404, "no such event here", out, cap, len);
    }
    size_t got = json_array_size(col.list);
    int more = up ? col.last_seq > 1 : col.last_seq < last;
    int at_end = up ? col.last_seq == first : col.last_seq == last;
    *len = void__node_json_answer(json_pack("{s:o, s:b, s:b, s:b, s:b, s:o}",
                            "id",
                            id_json(id),
                            "past_horizon",
                            more && (col.gap || (up && at_end)),
                            "depth_limited",
                            more && !col.gap && !at_end && got == depth + 1,
                            "size_limited",
                            more && !col.gap && !at_end && got == limit && got < depth + 1,
                            "persisted",
                            1,
                            "events",
                            col.list),
                  out,
                  cap);
    return *len > 0 ? 200 : 500;
}

/* /trace/events?after=SEQ&limit=N: this node's retained events above after. */
static int http_events(
    struct void__node_causal *nc, void_http_arg_fn arg, void *req, char *out, size_t cap, size_t *len)
{
    uint64_t after = 0, limit = 0;
    if (parse_num(arg(req, "after"), 0, VOID_CAUSAL_SEQ_MAX, 0, &after) != 0 ||
        parse_num(arg(req, "limit"), 1, VOID_NODE_CAUSAL_PAGE_MAX, 500, &limit) != 0) {
        return error_answer(400, "want after=SEQ and limit=1..800", out, cap, len);
    }
    if (nc->persist) {
        return http_events_persisted(nc, after, limit, out, cap, len);
    }
    json_t *list = json_array();
    uint32_t self = nc->self;
    uint64_t base = nc->c.base[self], last = nc->c.last[self];
    uint64_t s = after + 1 > base ? after + 1 : base;
    uint64_t count = 0;
    for (; s <= last && count < limit; s++, count++) {
        struct void_causal_event ev;
        if (void_causal_get(&nc->c, (struct void_causal_id){self, s}, &ev) == 0) {
            json_array_append_new(list, event_json(&ev));
        }
    }
    json_t *root = json_pack("{s:I, s:I, s:I, s:I, s:b, s:b, s:O}",
                            "node",
                            (json_int_t)self,
                            "base",
                            (json_int_t)(last == 0 ? 0 : base),
                            "last",
                            (json_int_t)last,
                            "dropped",
                            (json_int_t)void_causal_count_dropped(&nc->c),
                            "more",
                            s <= last,
                            "halted",
                            atomic_load(&nc->halted) != 0,
                            "events",
                            list);
    sign_page(nc, after, list, root);
    json_decref(list);
    *len = void__node_json_answer(root, out, cap);
    return *len > 0 ? 200 : 500;
}

/* /trace/ancestors|descendants?id=N.S&depth=D&limit=K over this node's log. */
static int http_walk(struct void__node_causal *nc,
                     int up,
                     void_http_arg_fn arg,
                     void *req,
                     char *out,
                     size_t cap,
                     size_t *len)
{
    struct void_causal_id id;
    uint64_t depth = 0, limit = 0;
    if (parse_id(arg(req, "id"), &id) != 0 ||
        parse_num(arg(req, "depth"), 0, UINT32_MAX, 100, &depth) != 0 ||
        parse_num(arg(req, "limit"), 1, VOID_NODE_CAUSAL_PAGE_MAX, 200, &limit) != 0) {
        return error_answer(400, "want id=NODE.SEQ, depth=D and limit=1..800", out, cap, len);
    }
    uint64_t first = 0, last = 0;
    int code = window_check(nc, id, &first, &last, out, cap, len);
    if (code != 0) {
        return code;
    }
    if (nc->persist && id.node == nc->self) {
        /* From the persisted window, whose edge the answer then respects
         * even where the index in memory still holds older events. */
        return walk_persisted(nc, id, up, depth, limit, first, last, out, cap, len);
    }
    struct void_causal_walk w;
    int rc = up ? void_causal_ancestors(&nc->c, id, (uint32_t)depth, nc->walk, limit, &w)
                : void_causal_descendants(&nc->c, id, (uint32_t)depth, nc->walk, limit, &w);
    if (rc == VOID_ENOTFOUND || rc == VOID_EKVS_TOO_OLD) {
        return error_answer(404,
                            rc == VOID_ENOTFOUND ? "no such event here"
                                                 : "event past the retention horizon",
                            out,
                            cap,
                            len);
    }
    json_t *list = json_array();
    for (size_t i = 0; i < w.count; i++) {
        struct void_causal_event ev;
        if (void_causal_get(&nc->c, nc->walk[i], &ev) == 0) {
            json_array_append_new(list, event_json(&ev));
        }
    }
    *len = void__node_json_answer(json_pack("{s:o, s:b, s:b, s:b, s:o}",
                            "id",
                            id_json(id),
                            "past_horizon",
                            w.past_horizon,
                            "depth_limited",
                            w.depth_limited,
                            "size_limited",
                            w.size_limited,
                            "events",
                            list),
                  out,
                  cap);
    return *len > 0 ? 200 : 500;
}

struct cut_search {
    struct void_hlc_ts t;
    uint64_t found; /* seq of the newest event at or before t; 0: none */
};

static int cut_one(void *ctx, uint64_t key, const struct void_causal_event *ev)
{
    struct cut_search *cs = ctx;
    (void)key;
    if (void_hlc_compare(ev->hlc, cs->t) <= 0) {
        cs->found = ev->id.seq;
        return 1;
    }
    return 0;
}

/* /trace/cut?at=HLC: this node's frontier. */
static int http_cut(
    struct void__node_causal *nc, void_http_arg_fn arg, void *req, char *out, size_t cap, size_t *len)
{
    struct void_hlc_ts t;
    const char *at = arg(req, "at");
    if (at == NULL || void_hlc_parse(at, &t) != 0) {
        return error_answer(400, "want at=HLC", out, cap, len);
    }
    uint64_t frontier[VOID_CAUSAL_NODES_MAX];
    bool past = false;
    (void)void_causal_cut(&nc->c, t, frontier, &past);
    if (past && nc->persist) {
        /* Before the index in memory: search the persisted window down. */
        struct cut_search cs = {.t = t};
        size_t seen = 0;
        uint64_t first = 0, last = 0, count = 0;
        if (void_causal_log_bounds(&nc->log, &first, &last, &count) == 0 && count > 0 &&
            void_causal_log_scan(&nc->log, frontier[nc->self], true, SIZE_MAX, cut_one, &cs, &seen) == 0) {
            frontier[nc->self] = cs.found != 0 ? cs.found : first - 1;
            past = cs.found == 0 && first > 1;
        }
    }
    *len = void__node_json_answer(json_pack("{s:I, s:I, s:b}",
                            "node",
                            (json_int_t)nc->self,
                            "frontier",
                            (json_int_t)frontier[nc->self],
                            "past_horizon",
                            past),
                  out,
                  cap);
    return *len > 0 ? 200 : 500;
}

static int http_alerts(struct void__node_causal *nc, char *out, size_t cap, size_t *len)
{
    json_t *counts = json_object();
    for (int k = VOID_CAUSAL_HLC_ORDER; k <= VOID_CAUSAL_BUFFER_OVERFLOW; k++) {
        json_object_set_new(
            counts, void_causal_violation_name(k), json_integer((json_int_t)nc->alerts_total[k]));
    }
    json_t *recent = json_array();
    uint64_t first = nc->recent_count > VOID_NODE_CAUSAL_RECENT
                         ? nc->recent_count - VOID_NODE_CAUSAL_RECENT
                         : 0;
    for (uint64_t i = first; i < nc->recent_count; i++) {
        const struct void_causal_alert *a = &nc->recent[i % VOID_NODE_CAUSAL_RECENT];
        char t1[VOID_HLC_FORMAT_MAX], t2[VOID_HLC_FORMAT_MAX];
        format_hlc(a->event_hlc, t1, sizeof(t1));
        format_hlc(a->other_hlc, t2, sizeof(t2));
        json_array_append_new(recent,
                              json_pack("{s:s, s:o, s:s, s:o, s:s}",
                                        "kind",
                                        void_causal_violation_name(a->kind),
                                        "event",
                                        id_json(a->event),
                                        "event_hlc",
                                        t1,
                                        "other",
                                        id_json(a->other),
                                        "other_hlc",
                                        t2));
    }
    *len = void__node_json_answer(json_pack("{s:b, s:b, s:I, s:o, s:o}",
                            "halt_mode",
                            nc->halt_mode != 0,
                            "halted",
                            atomic_load(&nc->halted) != 0,
                            "sends_withheld",
                            (json_int_t)atomic_load(&nc->sends_withheld),
                            "alerts_total",
                            counts,
                            "recent",
                            recent),
                  out,
                  cap);
    return *len > 0 ? 200 : 500;
}

/* /trace/forge (test_hooks only): feeds the verifier a receive stamped
 * before its send, as a frame from a lying peer would, through the same
 * path as a real receive. It takes the next local seq: rejected, it never
 * enters the index, so the core's next event still fits. */
static int http_forge(struct void__node_causal *nc, char *out, size_t cap, size_t *len)
{
    struct void_causal_event ce;
    memset(&ce, 0, sizeof(ce));
    uint32_t peer = nc->forge_peer;
    ce.id.node = nc->self;
    ce.id.seq = nc->c.last[nc->self] + 1;
    ce.hlc = nc->c.last_hlc[nc->self];
    ce.hlc.logical++;
    ce.kind = VOID_CAUSAL_RECEIVE;
    ce.msg_type = VOID_MSG_PREPARE;
    ce.from.node = peer;
    ce.from.seq = nc->c.seen_seq[peer] + 1;
    struct void_hlc_ts send = ce.hlc;
    send.wall_ns += 1000000000ull; /* the send, one second after its receive */
    void_log(VOID_LOG_WARN, "test hook: feeding the causal verifier a forged receive");
    (void)submit_locked(nc, &ce, peer != nc->self, send);
    json_t *j = json_pack("{s:o, s:b}", "forged", id_json(ce.id), "halted", atomic_load(&nc->halted) != 0);
    *len = void__node_json_answer(j, out, cap);
    return 200;
}

int void__node_causal_http(struct void__node_causal *nc,
                           const char *path,
                           void_http_arg_fn arg,
                           void *req,
                           char *out,
                           size_t cap,
                           size_t *len,
                           const char **content_type)
{
    VOID_ASSERT(strncmp(path, "/trace", 6) == 0);
    *content_type = "application/json";
    if (!nc->on) {
        return error_answer(404, "the causal event log is off ([causal] events = 0)", out, cap, len);
    }
    int code = 404;
    pthread_mutex_lock(&nc->lock);
    flush_locked(nc); /* answer from everything recorded so far */
    if (strcmp(path, "/trace/events") == 0) {
        code = http_events(nc, arg, req, out, cap, len);
    } else if (strcmp(path, "/trace/ancestors") == 0 || strcmp(path, "/trace/descendants") == 0) {
        code = http_walk(nc, path[7] == 'a', arg, req, out, cap, len);
    } else if (strcmp(path, "/trace/cut") == 0) {
        code = http_cut(nc, arg, req, out, cap, len);
    } else if (strcmp(path, "/trace/alerts") == 0) {
        code = http_alerts(nc, out, cap, len);
    } else if (strcmp(path, "/trace/forge") == 0 && nc->test_hooks) {
        code = http_forge(nc, out, cap, len);
    } else {
        code = error_answer(404,
                            "try /trace/events, /trace/ancestors, /trace/descendants, "
                            "/trace/cut or /trace/alerts",
                            out,
                            cap,
                            len);
    }
    pthread_mutex_unlock(&nc->lock);
    return code;
}

/* ---- the web module's reads (node_web.c) ---------------------------------- */

size_t void__node_causal_each(struct void__node_causal *nc,
                              uint64_t after,
                              struct void_hlc_ts from,
                              struct void_hlc_ts to,
                              size_t limit,
                              void__node_causal_each_fn fn,
                              void *ctx,
                              int *more,
                              uint64_t *base,
                              uint64_t *last)
{
    VOID_ASSERT(nc != NULL);
    VOID_ASSERT(fn != NULL || limit == 0);
    int more_local = 0;
    uint64_t b = 0, l = 0;
    size_t taken = 0;
    if (nc->on) {
        pthread_mutex_lock(&nc->lock);
        uint32_t self = nc->self;
        l = nc->c.last[self];
        b = l == 0 ? 0 : nc->c.base[self];
        uint64_t lo = after + 1 > b ? after + 1 : b, hi = l + 1;
        /* A node's HLCs rise with its seq: the first event at or after
         * `from` is found by bisection, not by a scan of the horizon. */
        while (l != 0 && lo < hi) {
            uint64_t mid = lo + (hi - lo) / 2;
            struct void_causal_event ev;
            if (void_causal_get(&nc->c, (struct void_causal_id){self, mid}, &ev) == 0 &&
                void_hlc_compare(ev.hlc, from) >= 0) {
                hi = mid;
            } else {
                lo = mid + 1;
            }
        }
        for (uint64_t s = lo; l != 0 && s <= l; s++) {
            struct void_causal_event ev;
            if (void_causal_get(&nc->c, (struct void_causal_id){self, s}, &ev) != 0) {
                continue;
            }
            if (void_hlc_compare(ev.hlc, to) > 0) {
                break;
            }
            if (taken >= limit || fn(ctx, &ev) != 0) {
                more_local = 1;
                break;
            }
            taken++;
        }
        pthread_mutex_unlock(&nc->lock);
    }
    if (more != NULL) {
        *more = more_local;
    }
    if (base != NULL) {
        *base = b;
    }
    if (last != NULL) {
        *last = l;
    }
    return taken;
}

int void__node_causal_halted(struct void__node_causal *nc)
{
    VOID_ASSERT(nc != NULL);
    return atomic_load(&nc->halted) != 0;
}

/* ---- streamed answers: /trace/state and /trace/diff ----------------------- */

/*
 * The key/value state as of a time, and the changes between two times, read
 * from this node's executed state through a read-only view of its LMDB store
 * (void_kvs_lmdb_view_open: one committed state, whatever the loop thread
 * commits meanwhile). A time is answered only at or below the node's
 * executed horizon (the stamp of its last executed batch, `executed`):
 * later batches carry later stamps, so the state as of such a time is final
 * and the same on every correct replica that has executed that far, and
 * voidctl compares the signed digests of several replicas (docs/causality.md,
 * "State and diff"). Before the store's retention horizon the versions are
 * gone: 410, "too_old".
 *
 * The answer is NDJSON sent as a chunked stream (libmicrohttpd's response
 * from a callback): a header line, one line per key, and an end line with the
 * count, `more` and the cursor to resume from, the digest of the answer and
 * this node's signature over it. Each refill opens a view of its own and
 * checks that the time is still inside the retention window, so a slow
 * reader never holds an LMDB transaction open between chunks.
 */

#define STREAM_FILL      (64u * 1024u) /* a refill stops adding lines past this */
#define STREAM_KEYS      256u          /* keys looked at per refill */
#define STREAM_KEYS_SUMS 4096u         /* the same, digest_only */

/* Output waiting to be sent: what a refill wrote, from off on. */
struct sbuf {
    char *buf;
    size_t len, off, cap;
    int oom;
};

struct kv_stream {
    struct void__node_causal *nc;
    int diff, digest_only, done;
    struct void_hlc_ts at, from; /* state: at; diff: from .. at */
    uint8_t prefix[VOID_KVS_KEY_MAX], prefix_end[VOID_KVS_KEY_MAX];
    size_t prefix_len;
    uint8_t cursor[VOID_KVS_KEY_MAX]; /* resume after this key */
    size_t cursor_len;
    uint8_t start[VOID_KVS_KEY_MAX]; /* a refill's copy of the cursor (kv_fill) */
    int have_cursor;
    uint64_t limit, count; /* limit 0: none */
    int more;
    struct void_hlc_ts executed;
    struct void_causal_kv_digest hash;
    struct sbuf o;
};

static void sbuf_add(struct sbuf *s, const void *p, size_t n)
{
    if (s->oom) {
        return;
    }
    if (s->len + n + 1 > s->cap) {
        size_t cap = s->cap == 0 ? STREAM_FILL * 2 : s->cap;
        while (cap < s->len + n + 1) {
            cap *= 2;
        }
        char *grown = realloc(s->buf, cap);
        if (grown == NULL) {
            s->oom = 1;
            return;
        }
        s->buf = grown;
        s->cap = cap;
    }
    memcpy(s->buf + s->len, p, n);
    s->len += n;
}

static void sbuf_str(struct sbuf *s, const char *text)
{
    sbuf_add(s, text, strlen(text));
}

static void sbuf_fmt(struct sbuf *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void sbuf_fmt(struct sbuf *s, const char *fmt, ...)
{
    char line[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    VOID_ASSERT(n >= 0 && (size_t)n < sizeof(line));
    sbuf_add(s, line, (size_t)n);
}

static void sbuf_b64(struct sbuf *s, const uint8_t *p, size_t n)
{
    size_t cap = sodium_base64_ENCODED_LEN(n, sodium_base64_VARIANT_ORIGINAL);
    char *b64 = malloc(cap);
    if (b64 == NULL) {
        s->oom = 1;
        return;
    }
    sodium_bin2base64(b64, cap, p, n, sodium_base64_VARIANT_ORIGINAL);
    sbuf_str(s, b64);
    free(b64);
}

/* `"name":"HLC","name_wall_ns":W,"name_logical":L` */
static void sbuf_hlc(struct sbuf *s, const char *name, struct void_hlc_ts t)
{
    char text[VOID_HLC_FORMAT_MAX];
    format_hlc(t, text, sizeof(text));
    sbuf_fmt(s,
             "\"%s\":\"%s\",\"%s_wall_ns\":%" PRIu64 ",\"%s_logical\":%" PRIu32,
             name,
             text,
             name,
             t.wall_ns,
             name,
             t.logical);
}

static struct void_causal_kv_side side_of(const struct void_kvs_version *v)
{
    struct void_causal_kv_side sd = {.present = v != NULL};
    if (v != NULL) {
        sd.hlc = v->hlc;
        sd.value = v->value;
        sd.len = v->value_len;
    }
    return sd;
}

static void remember_cursor(struct kv_stream *s, const uint8_t *key, size_t klen)
{
    memcpy(s->cursor, key, klen);
    s->cursor_len = klen;
    s->have_cursor = 1;
}

static int stream_key(void *arg, const uint8_t *key, size_t klen, const struct void_kvs_version *v)
{
    struct kv_stream *s = arg;
    struct void_causal_kv_side now = side_of(v);
    void_causal_kv_digest_entry(&s->hash, key, klen, NULL, &now);
    remember_cursor(s, key, klen);
    s->count++;
    if (!s->digest_only) {
        sbuf_str(&s->o, "{\"key_b64\":\"");
        sbuf_b64(&s->o, key, klen);
        sbuf_str(&s->o, "\",\"value_b64\":\"");
        sbuf_b64(&s->o, v->value, v->value_len);
        sbuf_str(&s->o, "\",");
        sbuf_hlc(&s->o, "hlc", v->hlc);
        sbuf_str(&s->o, "}\n");
    }
    return s->o.len >= STREAM_FILL || s->o.oom ? 1 : 0; /* 1: pause, the buffer is full */
}

static void stream_side(struct kv_stream *s, const char *name, const struct void_kvs_version *v)
{
    if (v == NULL) {
        return;
    }
    sbuf_fmt(&s->o, ",\"%s_b64\":\"", name);
    sbuf_b64(&s->o, v->value, v->value_len);
    sbuf_str(&s->o, "\",");
    sbuf_hlc(&s->o, name[0] == 'o' ? "old_hlc" : "new_hlc", v->hlc);
}

static int stream_change(void *arg,
                         const uint8_t *key,
                         size_t klen,
                         const struct void_kvs_version *was,
                         const struct void_kvs_version *now)
{
    struct kv_stream *s = arg;
    struct void_causal_kv_side old_side = side_of(was), new_side = side_of(now);
    void_causal_kv_digest_entry(&s->hash, key, klen, &old_side, &new_side);
    remember_cursor(s, key, klen);
    s->count++;
    if (!s->digest_only) {
        sbuf_str(&s->o, "{\"key_b64\":\"");
        sbuf_b64(&s->o, key, klen);
        sbuf_fmt(&s->o,
                 "\",\"change\":\"%s\"",
                 was == NULL   ? "created"
                 : now == NULL ? "deleted"
                               : "changed");
        stream_side(s, "old", was);
        stream_side(s, "new", now);
        sbuf_str(&s->o, "}\n");
    }
    return s->o.len >= STREAM_FILL || s->o.oom ? 1 : 0;
}

static void stream_error(struct kv_stream *s, const char *code, const char *msg)
{
    sbuf_fmt(&s->o, "{\"error\":\"%s\",\"code\":\"%s\"}\n", msg, code);
    s->done = 1;
}

/* The end line: count, more, the cursor, the digest and the signature over
 * node (4) || digest (32), domain TRACE (docs/causality.md). */
static void stream_end(struct kv_stream *s)
{
    uint8_t msg[4 + VOID_HASH_SIZE];
    void_bytes_put_be32(msg, s->nc->self);
    void_causal_kv_digest_final(&s->hash, s->more != 0, msg + 4);
    sbuf_fmt(&s->o,
             "{\"end\":true,\"count\":%" PRIu64 ",\"more\":%s",
             s->count,
             s->more ? "true" : "false");
    if (s->more && s->have_cursor) {
        sbuf_str(&s->o, ",\"next_after_b64\":\"");
        sbuf_b64(&s->o, s->cursor, s->cursor_len);
        sbuf_str(&s->o, "\"");
    }
    char hex[2 * VOID_SIGN_SIZE + 1];
    for (size_t i = 0; i < VOID_HASH_SIZE; i++) {
        snprintf(hex + 2 * i, 3, "%02x", msg[4 + i]);
    }
    sbuf_fmt(&s->o, ",\"digest\":\"%s\"", hex);
    uint8_t sig[VOID_SIGN_SIZE];
    if (void_sign(s->nc->keypair, VOID_SIGN_DOMAIN_TRACE, msg, sizeof(msg), sig) == 0) {
        for (size_t i = 0; i < VOID_SIGN_SIZE; i++) {
            snprintf(hex + 2 * i, 3, "%02x", sig[i]);
        }
        sbuf_fmt(&s->o, ",\"sig\":\"%s\"", hex);
    }
    sbuf_str(&s->o, "}\n");
    s->done = 1;
}

/* Appends the next keys to the buffer (or the end line). */
static void kv_fill(struct kv_stream *s)
{
    struct void_kvs_view *v = NULL;
    int rc = void_kvs_lmdb_view_open(s->nc->kvs, &v);
    if (rc != 0) {
        stream_error(s, "store", void_strerror(rc));
        return;
    }
    /* The range starts at a copy: each key the scan emits moves the cursor,
     * and a start that moved with it skipped keys (after "ack-59", "ack-6"
     * made the start "ack-69": ack-60..69 were never sent, and the digest,
     * taken over what was sent, did not match the other replicas'). */
    if (s->have_cursor) {
        memcpy(s->start, s->cursor, s->cursor_len);
    }
    struct void_kvs_range r = {.start = s->have_cursor ? s->start : NULL,
                               .start_len = s->have_cursor ? s->cursor_len : 0,
                               .start_after = 1};
    if (!s->have_cursor && s->prefix_len > 0) {
        r.start = s->prefix;
        r.start_len = s->prefix_len;
        r.start_after = 0;
    }
    if (s->prefix_len > 0) {
        struct void_kvs_range pr;
        void_kvs_prefix_range(s->prefix, s->prefix_len, s->prefix_end, &pr);
        r.end = pr.end;
        r.end_len = pr.end_len;
    }
    size_t chunk = s->digest_only ? STREAM_KEYS_SUMS : STREAM_KEYS;
    uint64_t left = s->limit == 0 ? UINT64_MAX : s->limit - s->count;
    size_t lim = left < chunk ? (size_t)left : chunk;
    size_t emitted = 0;
    int more = 0;
    rc = s->diff
             ? void_kvs_view_changes(v, &r, s->from, s->at, lim, stream_change, s, &emitted, &more)
             : void_kvs_view_scan(v, &r, &s->at, lim, stream_key, s, &emitted, &more);
    void_kvs_view_close(v);
    if (s->o.oom) {
        stream_error(s, "oom", "out of memory");
    } else if (rc == VOID_EKVS_TOO_OLD) {
        stream_error(s, "too_old", "the time fell out of the retention window during the answer");
    } else if (rc == 1) {
        /* paused on a full buffer: go on from the cursor next time */
    } else if (rc != 0) {
        stream_error(s, "store", void_strerror(rc));
    } else if (!more) {
        s->more = 0;
        stream_end(s);
    } else if (s->limit != 0 && s->count >= s->limit) {
        s->more = 1;
        stream_end(s);
    }
    if (s->digest_only && !s->done && s->o.len == 0) {
        sbuf_str(&s->o, "\n"); /* keeps the stream alive while the digest is computed */
    }
}

static ssize_t on_kv_read(void *cls, uint64_t pos, char *out, size_t max)
{
    struct kv_stream *s = cls;
    (void)pos;
    if (s->o.off == s->o.len) {
        s->o.off = s->o.len = 0;
        if (s->done) {
            return MHD_CONTENT_READER_END_OF_STREAM;
        }
        kv_fill(s);
    }
    size_t n = s->o.len - s->o.off < max ? s->o.len - s->o.off : max;
    memcpy(out, s->o.buf + s->o.off, n);
    s->o.off += n;
    return (ssize_t)n;
}

static void on_kv_free(void *cls)
{
    struct kv_stream *s = cls;
    free(s->o.buf);
    free(s);
}

static enum MHD_Result queue_json(struct MHD_Connection *conn, unsigned code, json_t *root)
{
    char *text = root != NULL ? json_dumps(root, JSON_COMPACT) : NULL;
    json_decref(root);
    if (text == NULL) {
        return MHD_NO;
    }
    size_t len = strlen(text);
    text[len] = '\n'; /* json_dumps' NUL becomes the line's end */
    struct MHD_Response *resp =
        MHD_create_response_from_buffer(len + 1, text, MHD_RESPMEM_MUST_FREE);
    if (resp == NULL) {
        free(text);
        return MHD_NO;
    }
    (void)MHD_add_response_header(resp, "Content-Type", "application/json");
    (void)MHD_add_response_header(resp, "Access-Control-Allow-Origin", "*");
    enum MHD_Result rc = MHD_queue_response(conn, code, resp);
    MHD_destroy_response(resp);
    return rc;
}

static enum MHD_Result
queue_error(struct MHD_Connection *conn, unsigned code, const char *kind, const char *msg)
{
    return queue_json(conn, code, json_pack("{s:s, s:s}", "error", msg, "code", kind));
}

/* Decodes an optional base64 argument into out[cap]. 0, or -1 when bad. */
static int arg_b64(struct MHD_Connection *conn,
                   const char *name,
                   uint8_t *out,
                   size_t cap,
                   size_t *len,
                   int *given)
{
    const char *text = MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, name);
    *len = 0;
    *given = text != NULL;
    if (text == NULL) {
        return 0;
    }
    return sodium_base642bin(
               out, cap, text, strlen(text), NULL, len, NULL, sodium_base64_VARIANT_ORIGINAL) == 0
               ? 0
               : -1;
}

static int arg_hlc(struct MHD_Connection *conn, const char *name, struct void_hlc_ts *t)
{
    const char *text = MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, name);
    return text != NULL && void_hlc_parse(text, t) == 0 ? 0 : -1;
}

/* GET /trace/state?at=HLC or /trace/diff?from=HLC&to=HLC, with prefix=B64,
 * after=B64 (resume after this key), limit=N (0 or absent: all) and
 * digest_only=1 (no key lines: the end line alone). */
static enum MHD_Result serve_kv(struct void__node_causal *nc, struct MHD_Connection *conn, int diff)
{
    struct kv_stream *s = calloc(1, sizeof(*s));
    if (s == NULL) {
        return MHD_NO;
    }
    s->nc = nc;
    s->diff = diff;
    uint8_t *after = malloc(VOID_KVS_KEY_MAX);
    size_t after_len = 0;
    int has_after = 0, has_prefix = 0;
    const char *bad = NULL;
    if (after == NULL) {
        free(s);
        return MHD_NO;
    }
    if (diff ? arg_hlc(conn, "from", &s->from) != 0 || arg_hlc(conn, "to", &s->at) != 0
             : arg_hlc(conn, "at", &s->at) != 0) {
        bad = diff ? "want from=HLC and to=HLC (e.g. 2026-12-07T09:00:00Z/0 or WALLNS/LOGICAL)"
                   : "want at=HLC (e.g. 2026-12-07T09:00:00Z/0 or WALLNS/LOGICAL)";
    } else if (diff && void_hlc_compare(s->from, s->at) > 0) {
        bad = "from is after to";
    } else if (arg_b64(conn, "prefix", s->prefix, sizeof(s->prefix), &s->prefix_len, &has_prefix) !=
                   0 ||
               arg_b64(conn, "after", after, VOID_KVS_KEY_MAX, &after_len, &has_after) != 0 ||
               (has_after && after_len == 0)) {
        bad = "prefix and after are base64 keys of at most 4096 bytes";
    } else if (parse_num(MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "limit"),
                         0,
                         100000000,
                         0,
                         &s->limit) != 0) {
        bad = "want limit=0..100000000 (0: no limit)";
    }
    const char *d = MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "digest_only");
    s->digest_only = d != NULL && strcmp(d, "1") == 0;
    if (bad != NULL) {
        free(after);
        free(s);
        return queue_error(conn, MHD_HTTP_BAD_REQUEST, "bad_request", bad);
    }
    if (has_after) {
        memcpy(s->cursor, after, after_len);
        s->cursor_len = after_len;
        s->have_cursor = 1;
    }
    void_causal_kv_digest_init(&s->hash,
                               diff != 0,
                               s->from,
                               s->at,
                               s->prefix,
                               s->prefix_len,
                               has_after != 0,
                               after,
                               after_len,
                               s->limit);
    free(after);
    struct void_kvs *kvs = atomic_load(&nc->kvs_ready) ? nc->kvs : NULL;
    struct void_kvs_view *v = NULL;
    int rc = kvs != NULL ? void_kvs_lmdb_view_open(kvs, &v) : VOID_ENOTFOUND;
    if (rc != 0) {
        free(s);
        return queue_error(
            conn, MHD_HTTP_SERVICE_UNAVAILABLE, "store", "this node's state store is not open");
    }
    struct void_kvs_stats st;
    void_kvs_view_stats(v, &st);
    void_kvs_view_close(v);
    s->executed = st.last;
    char t1[VOID_HLC_FORMAT_MAX], t2[VOID_HLC_FORMAT_MAX], msg[300];
    struct void_hlc_ts first = diff ? s->from : s->at;
    if (void_hlc_compare(first, st.horizon) < 0) {
        format_hlc(first, t1, sizeof(t1));
        format_hlc(st.horizon, t2, sizeof(t2));
        snprintf(
            msg,
            sizeof(msg),
            "%s is before this node's retention horizon %s: the versions of then are compacted",
            t1,
            t2);
        free(s);
        return queue_json(
            conn,
            MHD_HTTP_GONE,
            json_pack("{s:s, s:s, s:s}", "error", msg, "code", "too_old", "horizon", t2));
    }
    if (void_hlc_compare(s->at, st.last) > 0) {
        format_hlc(s->at, t1, sizeof(t1));
        format_hlc(st.last, t2, sizeof(t2));
        snprintf(msg,
                 sizeof(msg),
                 "%s is after this node's executed horizon %s (its last executed batch): the "
                 "state as of then is not final yet",
                 t1,
                 t2);
        free(s);
        return queue_json(
            conn,
            MHD_HTTP_TOO_EARLY,
            json_pack("{s:s, s:s, s:s}", "error", msg, "code", "not_executed", "executed", t2));
    }
    /* The header line. */
    sbuf_fmt(&s->o, "{\"node\":%" PRIu32 ",\"query\":\"%s\",", nc->self, diff ? "diff" : "state");
    if (diff) {
        sbuf_hlc(&s->o, "from", s->from);
        sbuf_str(&s->o, ",");
    }
    sbuf_hlc(&s->o, diff ? "to" : "at", s->at);
    sbuf_str(&s->o, ",");
    sbuf_hlc(&s->o, "executed", st.last);
    sbuf_str(&s->o, ",");
    sbuf_hlc(&s->o, "horizon", st.horizon);
    sbuf_fmt(&s->o, ",\"applied\":%" PRIu64 "}\n", st.applied);
    struct MHD_Response *resp =
        MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 32 * 1024, on_kv_read, s, on_kv_free);
    if (resp == NULL) {
        on_kv_free(s);
        return MHD_NO;
    }
    (void)MHD_add_response_header(resp, "Content-Type", "application/x-ndjson");
    (void)MHD_add_response_header(resp, "Access-Control-Allow-Origin", "*");
    enum MHD_Result mrc = MHD_queue_response(conn, MHD_HTTP_OK, resp);
    MHD_destroy_response(resp); /* on_kv_free runs when the stream ends */
    return mrc;
}

/* ---- /trace/events, streamed ------------------------------------------------ */

/*
 * GET /trace/events?after=SEQ[&to=HLC] without `limit`: every retained event
 * above SEQ, up to the newest at the start of the answer (and none stamped
 * after `to`: a node's HLCs rise with its seq, so the answer stops at the
 * first), as NDJSON sent chunked:
 * a header line (node, base, last, dropped, halted, persisted,
 * retention_s), one line per event (as in a page), and an end line with the
 * count, the last seq sent and this node's signature over node (4) ||
 * after (8) || count (8) || to (12, all ones when absent) || SHA-256 of the
 * events' 72-byte records in order (domain TRACE). A refill takes the lock for 512 events at most,
 * so the loop thread never waits on a slow reader. With `limit` the answer is one JSON page as
 * before (void__node_causal_http).
 */
#define EV_STREAM_BATCH 512

struct ev_stream {
    struct void__node_causal *nc;
    uint64_t after, next, last, count;
    struct void_hlc_ts to; /* events stamped later are not sent */
    struct void_hash_ctx records;
    int done;
    struct sbuf o;
};

static void ev_line(struct ev_stream *s, const struct void_causal_event *ev)
{
    uint8_t rec[VOID_CAUSAL_RECORD_SIZE];
    void_causal_encode(ev, rec);
    void_hash_update(&s->records, rec, sizeof(rec));
    json_t *j = event_json(ev);
    char *text = j != NULL ? json_dumps(j, JSON_COMPACT) : NULL;
    json_decref(j);
    if (text == NULL) {
        s->o.oom = 1;
        return;
    }
    sbuf_str(&s->o, text);
    sbuf_str(&s->o, "\n");
    free(text);
    s->count++;
    s->next = ev->id.seq;
}

static int ev_scan_one(void *ctx, uint64_t key, const struct void_causal_event *ev)
{
    struct ev_stream *s = ctx;
    (void)key;
    if (ev->id.seq > s->last || void_hlc_compare(ev->hlc, s->to) > 0) {
        s->last = s->next; /* a node's HLCs rise with its seq: nothing later is wanted */
        return 1;
    }
    ev_line(s, ev);
    return 0;
}

static void ev_end(struct ev_stream *s)
{
    uint8_t msg[4 + 8 + 8 + VOID_HLC_ENCODED_SIZE + VOID_HASH_SIZE];
    void_bytes_put_be32(msg, s->nc->self);
    void_bytes_put_be64(msg + 4, s->after);
    void_bytes_put_be64(msg + 12, s->count);
    void_hlc_encode(s->to, msg + 20);
    void_hash_final(&s->records, msg + 20 + VOID_HLC_ENCODED_SIZE);
    sbuf_fmt(&s->o, "{\"end\":true,\"count\":%" PRIu64 ",\"last_seq\":%" PRIu64, s->count, s->next);
    uint8_t sig[VOID_SIGN_SIZE];
    if (void_sign(s->nc->keypair, VOID_SIGN_DOMAIN_TRACE, msg, sizeof(msg), sig) == 0) {
        char hex[2 * VOID_SIGN_SIZE + 1];
        for (size_t i = 0; i < VOID_SIGN_SIZE; i++) {
            snprintf(hex + 2 * i, 3, "%02x", sig[i]);
        }
        sbuf_fmt(&s->o, ",\"sig\":\"%s\"", hex);
    }
    sbuf_str(&s->o, "}\n");
    s->done = 1;
}

static void ev_fill(struct ev_stream *s)
{
    struct void__node_causal *nc = s->nc;
    uint64_t before = s->count;
    int rc = 0;
    pthread_mutex_lock(&nc->lock);
    if (nc->persist) {
        size_t seen = 0;
        if (s->next < s->last) {
            rc = void_causal_log_scan(
                &nc->log, s->next + 1, false, EV_STREAM_BATCH, ev_scan_one, s, &seen);
        }
    } else {
        uint32_t self = nc->self;
        uint64_t q = s->next + 1 > nc->c.base[self] ? s->next + 1 : nc->c.base[self];
        for (; q <= s->last && s->count - before < EV_STREAM_BATCH; q++) {
            struct void_causal_event ev;
            if (void_causal_get(&nc->c, (struct void_causal_id){self, q}, &ev) != 0) {
                continue;
            }
            if (void_hlc_compare(ev.hlc, s->to) > 0) {
                s->last = q - 1;
                break;
            }
            ev_line(s, &ev);
        }
        s->next = q - 1 > s->next ? q - 1 : s->next;
    }
    pthread_mutex_unlock(&nc->lock);
    if (rc != 0 || s->o.oom) {
        sbuf_fmt(&s->o,
                 "{\"error\":\"%s\",\"code\":\"store\"}\n",
                 rc != 0 ? void_strerror(rc) : "out of memory");
        s->done = 1;
    } else if (s->count - before < EV_STREAM_BATCH || s->next >= s->last) {
        ev_end(s); /* the log's end, or the newest at the start, reached */
    }
}

static ssize_t on_ev_read(void *cls, uint64_t pos, char *out, size_t max)
{
    struct ev_stream *s = cls;
    (void)pos;
    if (s->o.off == s->o.len) {
        s->o.off = s->o.len = 0;
        if (s->done) {
            return MHD_CONTENT_READER_END_OF_STREAM;
        }
        ev_fill(s);
    }
    size_t n = s->o.len - s->o.off < max ? s->o.len - s->o.off : max;
    memcpy(out, s->o.buf + s->o.off, n);
    s->o.off += n;
    return (ssize_t)n;
}

static void on_ev_free(void *cls)
{
    struct ev_stream *s = cls;
    free(s->o.buf);
    free(s);
}

static enum MHD_Result serve_events(struct void__node_causal *nc,
                                    struct MHD_Connection *conn,
                                    uint64_t after,
                                    struct void_hlc_ts to)
{
    struct ev_stream *s = calloc(1, sizeof(*s));
    if (s == NULL) {
        return MHD_NO;
    }
    s->nc = nc;
    s->to = to;
    s->after = s->next = after;
    void_hash_init(&s->records);
    uint64_t base = 0, last = 0, count = 0;
    pthread_mutex_lock(&nc->lock);
    flush_locked(nc); /* answer from everything recorded so far */
    if (nc->persist) {
        (void)void_causal_log_bounds(&nc->log, &base, &last, &count);
    } else {
        last = nc->c.last[nc->self];
        base = last == 0 ? 0 : nc->c.base[nc->self];
    }
    uint64_t dropped = void_causal_count_dropped(&nc->c) + (nc->persist ? nc->compacted_total : 0);
    pthread_mutex_unlock(&nc->lock);
    s->last = last;
    sbuf_fmt(&s->o,
             "{\"node\":%" PRIu32 ",\"base\":%" PRIu64 ",\"last\":%" PRIu64 ",\"dropped\":%" PRIu64
             ",\"halted\":%s,\"persisted\":%s,\"retention_s\":%" PRIu64 ",\"stream\":true}\n",
             nc->self,
             base,
             last,
             dropped,
             atomic_load(&nc->halted) ? "true" : "false",
             nc->persist ? "true" : "false",
             nc->retention_ns / 1000000000u);
    if (after >= last) {
        ev_end(s);
    }
    struct MHD_Response *resp =
        MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 32 * 1024, on_ev_read, s, on_ev_free);
    if (resp == NULL) {
        on_ev_free(s);
        return MHD_NO;
    }
    (void)MHD_add_response_header(resp, "Content-Type", "application/x-ndjson");
    (void)MHD_add_response_header(resp, "Access-Control-Allow-Origin", "*");
    enum MHD_Result mrc = MHD_queue_response(conn, MHD_HTTP_OK, resp);
    MHD_destroy_response(resp);
    return mrc;
}

void void__node_causal_set_state(struct void__node_causal *nc, struct void_kvs *kvs)
{
    VOID_ASSERT(nc != NULL && kvs != NULL);
    nc->kvs = kvs;
    atomic_store(&nc->kvs_ready, 1);
}

int void__node_causal_raw(void *ctx, void *conn, const char *method, const char *path, int *result)
{
    struct void__node_causal *nc = ctx;
    VOID_ASSERT(nc != NULL && conn != NULL);
    (void)method;
    if (strcmp(path, "/trace/events") == 0) {
        uint64_t after = 0;
        struct MHD_Connection *c = conn;
        struct void_hlc_ts to = {UINT64_MAX, UINT32_MAX};
        const char *to_text = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "to");
        if (!nc->on || MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "limit") != NULL ||
            parse_num(MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "after"),
                      0,
                      VOID_CAUSAL_SEQ_MAX,
                      0,
                      &after) != 0) {
            return 0; /* a page, the log off, or a bad argument: the handler answers */
        }
        if (to_text != NULL && void_hlc_parse(to_text, &to) != 0) {
            *result = (int)queue_error(c, MHD_HTTP_BAD_REQUEST, "bad_request", "want to=HLC");
            return 1;
        }
        *result = (int)serve_events(nc, c, after, to);
        return 1;
    }
    int diff = strcmp(path, "/trace/diff") == 0;
    if (!diff && strcmp(path, "/trace/state") != 0) {
        return 0;
    }
    *result = (int)serve_kv(nc, conn, diff);
    return 1;
}
