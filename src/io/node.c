/*
 * The node driver (contract in include/void/node.h): wires the PBFT replica
 * core to the transport, the record log (pstore), libuv timers and the HTTP
 * status server.
 *
 * Every input goes through the same path: take physical time, step the core
 * into the filling effects buffer; once per loop iteration the buffer goes to
 * the disk (pipeline_start): its PERSIST records in one synced append to the
 * record log on a worker thread, then its other effects in order (those
 * before its first record at once), while new steps fill the other buffer.
 * A failed commit stops the node, because performing the effects after it
 * could contradict what a restarted node recovers.
 *
 * The HTTP server runs on its own thread and never touches the core: it reads
 * the snapshot under a mutex. Fault-injection knobs go straight to the
 * transport, whose knobs are atomics.
 */
#include "void/node.h"

#include "void/assert.h"
#include "void/bytes.h"
#include "void/casnet.h"
#include "void/error.h"
#include "void/http.h"
#include "void/kvs.h"
#include "void/log.h"
#include "void/membership.h"
#include "void/ntp_client.h"
#include "void/pbft.h"
#include "void/pstore.h"
#include "void/sched.h"
#include "void/task.h"
#include "void/transport.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <pthread.h>
#include <signal.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <time.h>
#include <unistd.h>
#include <uv.h>

#include "metrics.h"
#include "node_causal.h"
#include "node_fault.h"
#include "node_member.h"
#include "node_metrics.h"
#include "node_web.h"
#include "taskrun.h"

#define TIMER_COUNT 4 /* enum void_pbft_timer values are 1..3 */

/* Heartbeats and the failure detector (docs/membership.md), counted. */
struct hb_counts {
    uint64_t sent;     /* heartbeat frames queued, one per peer per period */
    uint64_t received; /* accepted: signed by a member of our epoch, fresh */
    uint64_t bad_signature, not_member, epoch, hlc_ahead, malformed, stale; /* rejected */
    uint64_t suspicions;       /* peers that went suspect (or straight to dead) */
    uint64_t deaths;           /* peers that went dead */
    uint64_t recoveries;       /* suspect or dead peers heard again */
    uint64_t primary_suspects; /* view changes started because the primary was suspect */
    uint64_t removals;         /* members removed by the epochs this node entered */
    uint64_t joins;            /* members that joined (JOINs) by the epochs this node entered */
    uint64_t promotions;       /* learners made voters by the epochs this node entered */
    uint64_t removed_frames;   /* frames from removed members, dropped unread */
};

/* What the HTTP thread may read: copied from the core after every step. */
struct node_status {
    uint64_t view;
    uint32_t primary;
    int view_changing;
    uint64_t last_executed;
    uint64_t stable_checkpoint;
    struct void_hlc_ts hlc; /* formatted when /status is asked: publish runs per disk commit */
    struct void_pbft_stats pbft;
    struct void_transport_stats transport;
    uint64_t persist_commits;
    uint64_t persist_bytes;
    uint64_t state_flush_us, state_flushes; /* the state store's syncs at checkpoints */
    uint64_t persist_ns;
    uint64_t persist_compactions;
    uint64_t persist_retries; /* commits retried after VOID_EPRESSURE */
    uint64_t out_full;
    uint64_t drop_busy;
    uint64_t cas_stored, cas_served, cas_fetched, cas_rejected, cas_duplicate, cas_busy;
    int peer_up[VOID_CONFIG_REPLICAS_MAX];
    uint64_t peer_seen_ms[VOID_CONFIG_REPLICAS_MAX]; /* loop time of the last
                                                        frame, 0 never */
    uint64_t now_ms;
    int64_t clock_offset_ns;
    uint64_t clock_alerts;
    /* membership, indexed like config->replicas */
    uint64_t epoch;
    uint32_t removed_mask; /* node->removed_mask */
    struct hb_counts hb;
    uint8_t fd_state[VOID_CONFIG_REPLICAS_MAX];     /* enum void_fd_state; self alive */
    uint64_t hb_last_ns[VOID_CONFIG_REPLICAS_MAX];  /* monotonic (uv_hrtime); 0 never */
    uint64_t hb_executed[VOID_CONFIG_REPLICAS_MAX]; /* from its last heartbeat */
    uint32_t lhm;
    uint64_t suspect_ns, dead_ns;
    struct void_kvs_stats state;                /* the replicated state's store */
    uint8_t state_digest[VOID_KVS_DIGEST_SIZE]; /* at last_executed */
    struct void__node_hists hist;               /* node_metrics.h */
    uint64_t peer_queued;                       /* frames queued to peers */
    uint64_t requests_pending;                  /* requests waiting for a batch */
    uint64_t cas_queued;                        /* blocks in the block writer's ring */
};

/* Effects of one or more steps and the records among them, ready for one
 * synced append to the record log. */
struct effect_buf {
    struct void_pbft_out out;
    struct void_pbft_effect *effects;
    uint8_t *arena;
    struct void_pstore_op *persist; /* one per effect at most */
    size_t persist_count;
    uint32_t performed; /* effects before this index have been performed */
    uint64_t mark;      /* the replica's persist mark when the buffer went to the disk */
    int checkpoint;     /* it holds a CHECKPOINT record: sync the state store first */
};

struct void_node {
    const struct void_config *config;
    int lock_fd; /* DATA_DIR/LOCK, flock'ed for the node's lifetime; -1 none */
    uv_loop_t loop;
    int loop_ready;
    struct void_keyring ring;
    struct void_transport transport;
    int transport_ready;
    struct void_pstore store;
    struct void_kvs state; /* the replicated state (DATA_DIR/state, LMDB) */
    uint64_t state_flush_ns_last, state_flush_ns, state_flushes; /* its syncs at checkpoints */
    int state_open;
    struct void_cas cas; /* blocks of files, uploaded by clients (data/cas) */
    int cas_ready;
    struct void_casserve casserve;
    struct void_caswriter caswriter; /* stores uploaded blocks off the loop thread */
    struct void_http http;
    struct void_ntp_client ntp;
    int ntp_ready;
    uint64_t clock_alerts;
    struct void_pbft *replica;
    int replica_ready;
    uint64_t durable_mark; /* the persist mark last reported durable (durable_step) */
    /* Effects pipeline: steps append to bufs[filling] while the records of
     * bufs[filling ^ 1] are being committed on a worker thread. */
    struct effect_buf bufs[2];
    int filling;
    int committing;
    int commit_rc;
    int stats_stale; /* file-block counters moved since the last publish */
    uv_work_t work;
    /* A commit that found no free descriptor waits on this timer and runs
     * again: pressure is not damage (issue 16). */
    uv_timer_t retry_timer;
    uint64_t retry_ms;      /* current backoff, 0 when the last commit succeeded */
    uint64_t retry_count;   /* commits retried, for the metric */
    uint64_t retry_warned;  /* retry_count at the last warning */
    uint64_t retry_warn_ms; /* loop time of the last warning */
    uint64_t drop_busy;     /* inputs dropped because both buffers were full */
    /* The frame behind the step on_frame reports: its cause, formatted
     * only when the log says something (cause_text). */
    uint8_t step_msg_type;
    uint32_t step_sender;
    /* What the operator's log has been told (report_step). */
    void_view view_installed;       /* the view of the last "view change ... done" */
    int state_fetching;             /* a state transfer was reported started, not done */
    uint64_t state_fetch_start_ms;  /* loop time it started */
    void_seq state_fetch_from;      /* last_executed when it started */
    uint64_t state_fetch_snapshots; /* snapshots installed since */
    uint64_t state_fetch_parts0;    /* stats.state_parts at the start */
    uint64_t state_fetch_batches0;  /* stats.catchup_batches at the start */
    uint64_t compactions_logged;    /* store.count_compactions already reported */
    uv_timer_t timers[TIMER_COUNT];
    uv_signal_t sig_term;
    uv_signal_t sig_int;
    uv_check_t check;     /* starts a group commit once per loop iteration */
    uv_prepare_t prepare; /* ... and before the loop polls */
    int dirty;            /* bufs[filling] holds effects not yet performed */
    int handles_ready;
    int fatal;
    int disk_full; /* fatal is a write that failed for lack of space */
    uint64_t out_full;
    uint64_t peer_seen_ms[VOID_CONFIG_REPLICAS_MAX];
    /* Membership (docs/membership.md): the configuration in effect (the
     * replica's epoch: follow_epoch), with the addresses and locations of
     * the file, and the failure detector over its other members, fed by
     * their signed heartbeats on the monotonic clock. Written on the loop
     * thread under the lock (the HTTP thread renders it). */
    struct void_membership_config members;
    uint32_t removed_mask; /* ids of the file's replicas that were removed */
    /* Joins (docs/membership.md, "Joining a running cluster"): the config
     * voidd loaded, writable so that a member that joined gets a [replica]
     * entry (follow_epoch, under the lock); the replica ids whose keys ring
     * holds (broadcasts go to them: do_send); how many keys of the core's
     * keyring ring_sync has looked at. */
    struct void_config *config_rw;
    uint32_t slot_ids;
    /* Ids whose [replica] entry follow_epoch added (table_add): their HTTP
     * address is the one their heartbeats state (heartbeat_http). */
    uint32_t table_joined;
    uint32_t ring_synced;
    uint64_t removed_stop_ms; /* this node was removed: loop time it began to stop, else 0 */
    uint64_t removed_commits; /* store.count_commits then */
    struct void_fd fd;
    int fd_ready;       /* fd and its two timers are set up */
    uv_timer_t hb_timer; /* sends our heartbeat every heartbeat period */
    uv_timer_t fd_timer; /* ticks the detector */
    uint64_t hb_last_ns[VOID_CONFIG_REPLICAS_MAX];
    uint64_t hb_executed[VOID_CONFIG_REPLICAS_MAX];
    struct hb_counts hb;
    void_seq fd_exec_seen; /* last_executed at the previous detector tick */
    uint64_t fd_exec_ns;   /* monotonic time it last moved */
    pthread_mutex_t lock;
    struct node_status status;
    struct void__node_causal causal; /* the event log (node_causal.c) */
    struct void__node_fault fault;   /* POST /fault (node_fault.c) */
    struct void__node_member member; /* suspicions and certified removals (node_member.c) */
    int member_ready;
    struct void__node_metrics metrics; /* histograms (node_metrics.c), loop thread */
    struct void__node_web web;       /* event APIs, streams, the web view (node_web.c) */
    int web_ready;
    struct void__taskrun taskrun; /* tasks placed on this node (taskrun.c) */
    /* Task placement's locations by member id, from the [replica] sections
     * (the genesis configuration carries none). */
    struct void_sm_task_setup task_setup;
    struct void_sched_location task_loc[VOID_CONFIG_REPLICAS_MAX];
};

static uint64_t realtime_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* Physical time for the core: the timekeeper's disciplined clock when NTP
 * servers are configured, else the system clock. */
/* The node's clock: the timekeeper's (or the system's) time, shifted by the
 * clock skew a chaos experiment set through /fault (node_fault.c; 0 else). */
static uint64_t physical_now_ns(const struct void_node *node)
{
    uint64_t skew = (uint64_t)void__node_fault_skew_ns(&node->fault);
    if (node->ntp_ready) {
        return void_ntp_client_now((void *)(uintptr_t)&node->ntp) + skew;
    }
    return realtime_ns() + skew;
}

static void node_stop(struct void_node *node);
static int follow_epoch(struct void_node *node);
static void ring_sync(struct void_node *node);
static int removed_stop(struct void_node *node);

/* ---- effects ------------------------------------------------------------ */

static struct void_pbft_out *filling_out(struct void_node *node)
{
    return &node->bufs[node->filling].out;
}

static struct void_pstore_op persist_op(const struct void_pbft_effect *e)
{
    if (e->u.persist.record_kind == VOID_PBFT_RECORD_TRUNCATE) {
        return (struct void_pstore_op){
            .op = VOID_PSTORE_DELETE_UPTO, .kind = VOID_PBFT_RECORD_ENTRY, .key = e->u.persist.key};
    }
    return (struct void_pstore_op){.op = VOID_PSTORE_PUT,
                                   .kind = e->u.persist.record_kind,
                                   .key = e->u.persist.key,
                                   .data = e->u.persist.data,
                                   .len = e->u.persist.len};
}

/* Transmits a SEND effect that void__node_causal_withhold let through, after
 * void__node_causal_flush. */
static void do_send(struct void_node *node, const struct void_pbft_effect *e)
{
    const struct void_config *c = node->config;
    uint32_t via = 0; /* a reply to a replica's own client goes over that replica's link */
    if (node->member_ready && void__node_member_route(&node->member, e->u.send.to, &via)) {
        if (via == c->self_id) {
            struct void_frame fr;
            if (void_codec_decode(e->u.send.frame, e->u.send.len, &fr) == 0) {
                void__node_member_frame(&node->member, e->u.send.frame, e->u.send.len, &fr);
            }
        } else {
            (void)void_transport_send(&node->transport, via, e->u.send.frame, e->u.send.len);
        }
        return;
    }
    if (e->u.send.to != VOID_PBFT_TO_ALL) {
        (void)void_transport_send(&node->transport, e->u.send.to, e->u.send.frame, e->u.send.len);
        return;
    }
    /* Every replica slot whose key we hold: the file's replicas and members
     * that joined (ring_sync), a learner included from its JOIN on. */
    for (uint32_t id = 0; id < c->slots; id++) {
        if (id != c->self_id && (node->slot_ids & (1u << id))) {
            (void)void_transport_send(&node->transport, id, e->u.send.frame, e->u.send.len);
        }
    }
}

static void on_timer(uv_timer_t *timer);

static void do_timer(struct void_node *node, const struct void_pbft_effect *e)
{
    uint8_t which = e->u.timer.timer;
    if (which == 0 || which >= TIMER_COUNT) {
        return;
    }
    if (e->kind == VOID_PBFT_EFFECT_TIMER_CANCEL) {
        uv_timer_stop(&node->timers[which]);
        return;
    }
    uint64_t ms = (e->u.timer.delay_ns + 999999u) / 1000000u;
    uv_timer_start(&node->timers[which], on_timer, ms == 0 ? 1 : ms, 0);
}

static void do_event(const struct void_pbft_effect *e)
{
    const struct void_pbft_event *ev = &e->u.event;
    if (ev->kind == VOID_PBFT_EVENT_COMMIT) {
        void_log(VOID_LOG_DEBUG,
                 "commit view=%llu seq=%llu",
                 (unsigned long long)ev->view,
                 (unsigned long long)ev->seq);
    }
}

#define SENDS_HELD 256u /* sends of one run of effects behind one causal-log write */

/* Flushes the causal log once, then transmits the held sends in order,
 * except those whose events a failed write lost: a restart would number
 * their seqs again, and the peers would see two events under one seq. The
 * check is per send, not per run: a send's event may have been written (and
 * lost) in an earlier run than the send itself (a record between them), and
 * a retransmitted copy carries the seq of the first send. */
static void send_held(struct void_node *node, const struct void_pbft_out *out, const uint32_t *held, uint32_t *n)
{
    if (*n > 0 && node->handles_ready) {
        (void)void__node_causal_flush(&node->causal); /* a failure marks its seqs lost */
        uint32_t dropped = 0;
        for (uint32_t j = 0; j < *n; j++) {
            const struct void_pbft_effect *e = &out->effects[held[j]];
            if (void__node_causal_lost_send(&node->causal, e->u.send.frame, e->u.send.len)) {
                dropped++;
            } else {
                do_send(node, e);
            }
        }
        if (dropped > 0) {
            void__node_causal_drop_sends(&node->causal, dropped);
        }
    }
    *n = 0;
}

/* Performs b's effects other than PERSIST from b->performed up to `to`, in
 * order, except that the sends leave together at the end, after one write
 * of the causal log for all their events (was one write per send). */
static void perform_upto(struct void_node *node, struct effect_buf *b, uint32_t to)
{
    struct void_pbft_out *out = &b->out;
    VOID_ASSERT(to <= out->count && out->count <= out->cap);
    VOID_ASSERT(b->performed <= to);
    uint64_t now_ns = 0; /* read once, by the first event that is timed */
    uint32_t held[SENDS_HELD], nheld = 0;
    for (uint32_t i = b->performed; i < to && node->fatal == 0 && node->handles_ready; i++) {
        const struct void_pbft_effect *e = &out->effects[i];
        switch ((enum void_pbft_effect_kind)e->kind) {
        case VOID_PBFT_EFFECT_SEND:
            if (void__node_causal_withhold(&node->causal, e)) {
                break; /* halted on a causality violation: no vote leaves */
            }
            if (nheld == SENDS_HELD) {
                send_held(node, out, held, &nheld);
            }
            held[nheld++] = i;
            break;
        case VOID_PBFT_EFFECT_TIMER_SET:
        case VOID_PBFT_EFFECT_TIMER_CANCEL:
            do_timer(node, e);
            break;
        case VOID_PBFT_EFFECT_EVENT:
            do_event(e);
            void__node_metrics_event(&node->metrics, &e->u.event, &now_ns);
            void__node_causal_event(&node->causal, &e->u.event);
            break;
        case VOID_PBFT_EFFECT_PERSIST:
            break;
        }
    }
    send_held(node, out, held, &nheld);
    b->performed = to;
}

/* Performs the rest of b's effects and empties b. Called once b's records
 * are durable. */
static void perform_rest(struct void_node *node, struct effect_buf *b)
{
    perform_upto(node, b, b->out.count);
    node->out_full += b->out.overflow ? 1u : 0u;
    void_pbft_out_reset(&b->out);
    b->persist_count = 0;
    b->performed = 0;
}

static void pipeline_start(struct void_node *node);
static void publish(struct void_node *node);
static void report_compaction(struct void_node *node);

/* Worker thread: the synced append to the record log. Only one runs at a
 * time, and the loop thread does not touch the store meanwhile. */
static void commit_work(uv_work_t *work)
{
    struct void_node *node = work->data;
    struct effect_buf *b = &node->bufs[node->filling ^ 1];
    /* A CHECKPOINT record lets the log truncate the batches up to it, whose
     * state then lives in the store alone: the store (which syncs no
     * commit of its own, MDB_NOSYNC) goes to disk first. */
    uint64_t t0 = b->checkpoint ? uv_hrtime() : 0;
    node->commit_rc = b->checkpoint ? void_kvs_lmdb_flush(&node->state) : 0;
    node->state_flush_ns_last = b->checkpoint ? uv_hrtime() - t0 : 0; /* commit_done adds it */
    if (node->commit_rc == 0) {
        node->commit_rc = void_pstore_write(&node->store, b->persist, b->persist_count);
    }
}

#define RETRY_MS_MIN     10u
#define RETRY_MS_MAX     1000u
#define RETRY_WARN_EVERY 10000u /* ms between two warnings about retries */

static void commit_done(uv_work_t *work, int status);
static int make_room(struct void_node *node);
static int state_failed(struct void_node *node, int rc);

/* Whether the data directory's file system has no room left (under 64 KiB
 * for an unprivileged writer): what turns a failed write into "disk full". */
static int disk_full(const struct void_node *node)
{
    struct statvfs fs;
    return statvfs(node->config->data_dir, &fs) == 0 &&
           (uint64_t)fs.f_bavail * fs.f_frsize < (64u << 10);
}

/* Tells the replica that its records up to mark are durable. */
static void durable_step(struct void_node *node, uint64_t mark)
{
    VOID_ASSERT(!node->committing);
    if (mark <= node->durable_mark) {
        return; /* no commit certificate in that buffer */
    }
    node->durable_mark = mark;
    (void)make_room(node); /* the disk is idle: there is room */
    int rc = void_pbft_step_durable(node->replica, physical_now_ns(node), mark, filling_out(node));
    node->dirty = 1;
    (void)state_failed(node, rc);
}

static int commit_queue(struct void_node *node)
{
    node->work.data = node;
    return uv_queue_work(&node->loop, &node->work, commit_work, commit_done);
}

static void on_commit_retry(uv_timer_t *timer)
{
    struct void_node *node = timer->data;
    VOID_ASSERT(node->committing);
    if (node->fatal != 0 || !node->handles_ready) {
        return;
    }
    if (commit_queue(node) != 0) {
        node->fatal = VOID_EIO;
        void_log(VOID_LOG_ERROR, "cannot queue a disk commit; stopping");
        node_stop(node);
    }
}

/* The record log could not open a segment file for lack of descriptors:
 * nothing of the commit is on disk and the store is intact, so the same
 * records are committed again after a backoff (10 ms doubling to 1 s). The
 * buffer's effects wait, as for a slow disk; new inputs fill the other
 * buffer, then are dropped as disk_busy (the protocol retransmits). */
static void commit_retry_later(struct void_node *node)
{
    VOID_ASSERT(node->committing);
    node->retry_ms = node->retry_ms == 0 ? RETRY_MS_MIN : node->retry_ms * 2;
    node->retry_ms = node->retry_ms > RETRY_MS_MAX ? RETRY_MS_MAX : node->retry_ms;
    node->retry_count++;
    uint64_t now = uv_now(&node->loop);
    if (node->retry_warned == 0 || now - node->retry_warn_ms >= RETRY_WARN_EVERY) {
        void_log(VOID_LOG_WARN,
                 "record log: %s while starting a segment; commit retried %llu times, "
                 "next in %llu ms (free descriptors or raise ulimit -n)",
                 void_strerror(VOID_EPRESSURE),
                 (unsigned long long)node->retry_count,
                 (unsigned long long)node->retry_ms);
        node->retry_warned = node->retry_count;
        node->retry_warn_ms = now;
    }
    uv_timer_start(&node->retry_timer, on_commit_retry, node->retry_ms, 0);
}

static void commit_done(uv_work_t *work, int status)
{
    struct void_node *node = work->data;
    struct effect_buf *b = &node->bufs[node->filling ^ 1];
    VOID_ASSERT(node->committing);
    node->state_flush_ns += node->state_flush_ns_last; /* the checkpoint's store sync */
    node->state_flushes += node->state_flush_ns_last != 0;
    if (status == 0 && node->commit_rc == VOID_EPRESSURE && node->handles_ready &&
        node->fatal == 0) {
        commit_retry_later(node);
        publish(node);
        return;
    }
    if (status == 0 && node->commit_rc == 0 && node->retry_ms != 0) {
        void_log(VOID_LOG_INFO,
                 "record log: commit succeeded after retries (%llu in all)",
                 (unsigned long long)node->retry_count);
        node->retry_ms = 0;
    }
    node->committing = 0;
    if (status == 0 && node->commit_rc != 0 &&
        (node->commit_rc == VOID_ENOSPC || disk_full(node))) {
        /* Named apart: voidd waits for space, then starts again in place
         * (void_node_stopped_disk_full); the record log and the state
         * recover as after a crash. */
        void_log(VOID_LOG_ERROR,
                 "disk full: cannot persist records in %s (%s); this replica stops taking "
                 "work (closes its ports) until space returns",
                 node->config->data_dir,
                 void_strerror(node->commit_rc));
        node->disk_full = 1;
    } else if (status == 0 && node->commit_rc != 0) {
        void_log(
            VOID_LOG_ERROR, "cannot persist records: %s; stopping", void_strerror(node->commit_rc));
    }
    if (status == 0 && node->commit_rc != 0) {
        node->fatal = node->commit_rc;
        node_stop(node);
    }
    if (status == 0 && node->commit_rc == 0) {
        void__node_metrics_persist(&node->metrics, node->store.count_ns);
    }
    report_compaction(node);
    perform_rest(node, b); /* performs nothing when stopping */
    if (node->handles_ready && node->fatal == 0 && node->commit_rc == 0) {
        /* The commit certificates among b's records are durable: their
         * batches execute now, and the store never runs ahead of the log
         * (execute_after_durable; docs/pbft.md, Recovery). */
        durable_step(node, b->mark);
    }
    if (node->handles_ready) {
        publish(node);
        if (node->dirty && !node->committing) {
            pipeline_start(node);
        }
    }
}

/* Hands the filling buffer to the disk: its PERSIST records go to the record
 * log in one synced append on a worker thread (group commit: one fdatasync
 * for every frame that arrived meanwhile). The effects that come before the
 * buffer's first record are performed at once: they rely only on records of
 * earlier buffers, which are durable because the previous commit has
 * completed (a reply to an executed batch does not wait for the next batch's
 * records, nor a primary's pre-prepare for its own record). The other
 * effects are performed, in order, when the commit is done; steps go on into
 * the other buffer meanwhile.
 * Hoisting the records ahead of the buffer's sends is safe: a record becoming
 * durable early is what a faster disk would do, and a message held back is
 * indistinguishable from a slow network. The persistence rule -- no effect
 * before the records that precede it are on disk -- holds, and effects of
 * later steps wait for earlier ones because buffers are handled in turn. */
static void pipeline_start(struct void_node *node)
{
    VOID_ASSERT(!node->committing);
    struct effect_buf *b = &node->bufs[node->filling];
    VOID_ASSERT(b->persist_count == 0 && b->performed == 0);
    uint32_t first_persist = b->out.count;
    b->checkpoint = 0;
    for (uint32_t i = 0; i < b->out.count; i++) {
        if (b->out.effects[i].kind == VOID_PBFT_EFFECT_PERSIST) {
            first_persist = b->persist_count == 0 ? i : first_persist;
            b->persist[b->persist_count++] = persist_op(&b->out.effects[i]);
            b->checkpoint |=
                b->out.effects[i].u.persist.record_kind == VOID_PBFT_RECORD_CHECKPOINT;
        }
    }
    b->mark = node->replica_ready ? void_pbft_persist_mark(node->replica) : 0;
    node->dirty = 0;
    node->filling ^= 1;
    if (b->persist_count == 0) {
        perform_rest(node, b);
        publish(node);
        return;
    }
    /* What comes before the first record relies only on earlier buffers'
     * records, which are durable: the previous commit has completed. */
    perform_upto(node, b, first_persist);
    node->committing = 1;
    if (commit_queue(node) != 0) {
        node->committing = 0;
        node->fatal = VOID_EIO;
        void_log(VOID_LOG_ERROR, "cannot queue a disk commit; stopping");
        node_stop(node);
    }
}

/* Whether the filling buffer has room for another step (the largest single
 * output is a STATE message). When it is half full and the disk is idle, it
 * is handed over now; when the disk is busy with the other buffer, the input
 * must wait: the caller drops it (the protocol retransmits). */
static int make_room(struct void_node *node)
{
    const struct void_pbft_out *out = filling_out(node);
    if (out->count <= out->cap / 2 && out->used <= out->arena_cap / 2) {
        return 1;
    }
    if (node->committing) {
        node->drop_busy++;
        return 0;
    }
    pipeline_start(node);
    return 1;
}

/* ---- status ------------------------------------------------------------- */

static void publish(struct void_node *node)
{
    const struct void_pbft *r = node->replica;
    const struct void_config *c = node->config;
    node->stats_stale = 0;
    pthread_mutex_lock(&node->lock);
    struct node_status *s = &node->status;
    s->view = void_pbft_view(r);
    s->primary = void_pbft_primary_of(r, s->view);
    s->view_changing = void_pbft_view_changing(r);
    s->last_executed = void_pbft_last_executed(r);
    s->stable_checkpoint = void_pbft_low_watermark(r);
    s->hlc = r->hlc.last;
    if (node->state_open) {
        void_kvs_stats(&node->state, &s->state);
        (void)void_kvs_digest(&node->state, s->state_digest);
    }
    s->pbft = *void_pbft_stats(r);
    s->transport = node->transport.stats;
    s->persist_commits = node->store.count_commits;
    s->persist_bytes = node->store.count_bytes;
    s->state_flush_us = node->state_flush_ns / 1000u;
    s->state_flushes = node->state_flushes;
    s->persist_ns = node->store.count_ns;
    s->persist_compactions = node->store.count_compactions;
    s->persist_retries = node->retry_count;
    s->out_full = node->out_full;
    s->drop_busy = node->drop_busy;
    s->cas_stored = node->casserve.count_stored;
    s->cas_served = node->casserve.count_served;
    s->cas_fetched = node->casserve.count_fetched;
    s->cas_rejected = node->casserve.count_rejected;
    s->cas_duplicate = node->casserve.count_duplicate;
    s->cas_busy = node->casserve.count_busy;
    for (uint32_t i = 0; i < c->count_replicas; i++) {
        uint32_t id = c->replicas[i].id;
        s->peer_up[i] = id == c->self_id || void_transport_peer_up(&node->transport, id);
        s->peer_seen_ms[i] = node->peer_seen_ms[i];
    }
    s->now_ms = uv_now(&node->loop);
    s->clock_offset_ns = (node->ntp_ready ? void_clockdisc_correction_ns(&node->ntp.disc) : 0) +
                         void__node_fault_skew_ns(&node->fault);
    s->clock_alerts = node->clock_alerts;
    s->epoch = node->members.epoch;
    s->removed_mask = node->removed_mask;
    s->hb = node->hb;
    for (uint32_t i = 0; i < c->count_replicas && node->fd_ready; i++) {
        int st = void_fd_state(&node->fd, c->replicas[i].id);
        s->fd_state[i] = st < 0 ? VOID_FD_ALIVE : (uint8_t)st; /* self: alive */
        s->hb_last_ns[i] = node->hb_last_ns[i];
        s->hb_executed[i] = node->hb_executed[i];
    }
    s->lhm = node->fd.lhm;
    s->suspect_ns = node->fd_ready ? void_fd_suspect_ns(&node->fd) : 0;
    s->dead_ns = node->fd_ready ? void_fd_dead_ns(&node->fd) : 0;
    s->hist = node->metrics.h;
    s->peer_queued = void_transport_peer_queued(&node->transport);
    s->requests_pending = r->pending_count;
    if (node->caswriter.running) {
        struct void_caswriter_stats cw;
        void_caswriter_stats_get(&node->caswriter, &cw); /* its own lock, never node's */
        s->cas_queued = cw.queued;
    }
    pthread_mutex_unlock(&node->lock);
}

/* ---- what the operator's log says about a step ---------------------------- */

/* The replica's state before a step, to tell what the step changed. */
struct step_mark {
    void_view view;
    int view_changing;
    void_seq executed;
    uint64_t installs;  /* stats.view_changes: views installed */
    uint64_t transfers; /* stats.state_transfers: snapshots installed */
    uint32_t count;     /* effects in the filling buffer before the step */
};

static void mark_take(struct void_node *node, struct step_mark *m)
{
    const struct void_pbft *r = node->replica;
    *m = (struct step_mark){.view = void_pbft_view(r),
                            .view_changing = void_pbft_view_changing(r),
                            .executed = void_pbft_last_executed(r),
                            .installs = void_pbft_stats(r)->view_changes,
                            .transfers = void_pbft_stats(r)->state_transfers,
                            .count = filling_out(node)->count};
}

/* Whether the step behind m asked the peers for state (a FETCH_STATE). */
static int step_fetched_state(struct void_node *node, const struct step_mark *m)
{
    const struct void_pbft_out *out = filling_out(node);
    VOID_ASSERT(m->count <= out->count);
    for (uint32_t i = m->count; i < out->count; i++) {
        const struct void_pbft_effect *e = &out->effects[i];
        if (e->kind == VOID_PBFT_EFFECT_SEND && e->u.send.msg_type == VOID_MSG_FETCH_STATE) {
            return 1;
        }
    }
    return 0;
}

/* The cause a log line names: `cause`, or with NULL the frame on_frame
 * stepped, formatted here because most steps log nothing (a snprintf per
 * frame was measurable: bench/README.md, kv_put). */
static const char *cause_text(const struct void_node *node, const char *cause, char *buf, size_t cap)
{
    VOID_ASSERT(buf != NULL && cap > 0);
    if (cause != NULL) {
        return cause;
    }
    const char *type = void_msg_type_name(node->step_msg_type);
    (void)snprintf(buf,
                   cap,
                   "%s from replica %u",
                   type != NULL ? type : "a message",
                   (unsigned)node->step_sender);
    return buf;
}

static void report_view(struct void_node *node, const struct step_mark *m, const char *cause)
{
    const struct void_pbft *r = node->replica;
    char buf[64];
    void_view view = void_pbft_view(r);
    if (void_pbft_stats(r)->view_changes != m->installs) {
        void_log(VOID_LOG_INFO,
                 "view change: view %llu -> %llu done, primary %u (after %s)",
                 (unsigned long long)node->view_installed,
                 (unsigned long long)view,
                 (unsigned)void_pbft_primary_of(r, view),
                 cause_text(node, cause, buf, sizeof(buf)));
        node->view_installed = view;
        void__node_metrics_view_change(&node->metrics, 0, uv_hrtime());
    } else if (void_pbft_view_changing(r) && (!m->view_changing || view != m->view)) {
        void_log(VOID_LOG_INFO,
                 "view change: view %llu -> %llu started (%s)",
                 (unsigned long long)m->view,
                 (unsigned long long)view,
                 cause_text(node, cause, buf, sizeof(buf)));
        void__node_metrics_view_change(&node->metrics, 1, uv_hrtime());
    }
}

/* A state transfer, as the log tells it: from the first FETCH_STATE while
 * none is under way to the first retransmit tick that fetches nothing (the
 * replica no longer thinks it is behind), however many rounds of STATE it
 * took in between. */
static void
report_state(struct void_node *node, const struct step_mark *m, const char *cause, int tick)
{
    const struct void_pbft *r = node->replica;
    void_seq executed = void_pbft_last_executed(r);
    int fetched = step_fetched_state(node, m);
    if (!node->state_fetching) {
        if (fetched) {
            char buf[64];
            void_log(VOID_LOG_INFO,
                     "state transfer: started at executed %llu, stable checkpoint %llu (after %s)",
                     (unsigned long long)executed,
                     (unsigned long long)void_pbft_low_watermark(r),
                     cause_text(node, cause, buf, sizeof(buf)));
            node->state_fetching = 1;
            node->state_fetch_start_ms = uv_now(&node->loop);
            node->state_fetch_from = executed;
            node->state_fetch_snapshots = 0;
            node->state_fetch_parts0 = void_pbft_stats(r)->state_parts;
            node->state_fetch_batches0 = void_pbft_stats(r)->catchup_batches;
        }
        return;
    }
    node->state_fetch_snapshots += void_pbft_stats(r)->state_transfers - m->transfers;
    if (tick && !fetched) {
        struct void_sm_xfer_stats xs;
        void_sm_xfer_stats(void_pbft_sm(r), &xs);
        void_log(VOID_LOG_INFO,
                 "state transfer: done in %llu ms: executed %llu -> %llu, stable checkpoint "
                 "%llu, %llu snapshot(s) installed from %llu partition(s), %llu batch(es) "
                 "taken with their certificates; since start: at most %llu bytes of "
                 "partitions in memory, %llu bytes staged, %llu intermediate install commits",
                 (unsigned long long)(uv_now(&node->loop) - node->state_fetch_start_ms),
                 (unsigned long long)node->state_fetch_from,
                 (unsigned long long)executed,
                 (unsigned long long)void_pbft_low_watermark(r),
                 (unsigned long long)node->state_fetch_snapshots,
                 (unsigned long long)(void_pbft_stats(r)->state_parts - node->state_fetch_parts0),
                 (unsigned long long)(void_pbft_stats(r)->catchup_batches -
                                      node->state_fetch_batches0),
                 (unsigned long long)xs.buffered_peak,
                 (unsigned long long)xs.staged_bytes,
                 (unsigned long long)xs.load_commits);
        node->state_fetching = 0;
    }
}

/* Logs at INFO what the step behind m did that an operator wants to see:
 * view changes (old -> new view and why), state transfers starting and
 * ending. The core emits no event for these (it has no I/O), so they are
 * read off its state and effects; cause says what the step handled. The
 * step's start events are timed here too (node_metrics.h). A NULL cause is
 * the frame in node->step_msg_type and step_sender (cause_text). */
static void
report_step(struct void_node *node, const struct step_mark *m, const char *cause, int tick)
{
    VOID_ASSERT(node->replica_ready);
    report_view(node, m, cause);
    report_state(node, m, cause, tick);
    void__node_metrics_step(&node->metrics, filling_out(node), m->count, 0);
}

/* The record log started a new segment in the last commit: say so. */
static void report_compaction(struct void_node *node)
{
    const struct void_pstore *st = &node->store;
    if (st->count_compactions == node->compactions_logged) {
        return;
    }
    node->compactions_logged = st->count_compactions;
    void_log(VOID_LOG_INFO,
             "record log: compacted into segment %llu: %zu live records, %llu bytes of %llu",
             (unsigned long long)st->segment,
             st->count_slots,
             (unsigned long long)st->offset,
             (unsigned long long)st->file_size);
}

/* ---- heartbeats and the failure detector ---------------------------------- */

static uint64_t mono_ns(void)
{
    return uv_hrtime();
}

/* Index of replica id in config->replicas, or -1. */
static int replica_index(const struct void_config *c, uint32_t id)
{
    for (uint32_t i = 0; i < c->count_replicas; i++) {
        if (c->replicas[i].id == id) {
            return (int)i;
        }
    }
    return -1;
}

/* A member that joined and that the file does not list states its HTTP
 * address in its heartbeats (as its own file gives it): its [replica] entry
 * takes it, so that /nodes (which the web view reads) points at the server
 * it runs. The file's entries are the operator's and are kept. */
static void heartbeat_http(struct void_node *node, int idx, const char *http)
{
    struct void_config *c = node->config_rw;
    VOID_ASSERT(idx >= 0 && (uint32_t)idx < node->config->count_replicas);
    struct void_config_replica *r = &c->replicas[idx];
    if (http[0] == '\0' || r->id >= 32 || (node->table_joined & (1u << r->id)) == 0 ||
        strcmp(r->http.text, http) == 0) {
        return;
    }
    struct void_config_addr a;
    memset(&a, 0, sizeof(a));
    if (strlen(http) >= sizeof(a.text) ||
        void_hostport_parse(http, 0, a.host, sizeof(a.host), &a.port) != 0) {
        return; /* not an address: the entry keeps what it had */
    }
    (void)snprintf(a.text, sizeof(a.text), "%s", http);
    pthread_mutex_lock(&node->lock);
    r->http = a;
    pthread_mutex_unlock(&node->lock);
    VOID_ASSERT(strcmp(r->http.text, http) == 0);
    void_log(VOID_LOG_INFO,
             "membership: member %u's HTTP address is %s (its heartbeat)",
             (unsigned)r->id,
             http);
}

/* A HEARTBEAT frame from the transport: checked here, not by the core
 * (membership is the driver's; docs/membership.md). Signature by the
 * sender's key, sender a member other than us, our epoch, an HLC not
 * further ahead of our clock than the HLC bound (a sender whose clock ran
 * ahead would otherwise make its later, honest heartbeats stale); then the
 * detector decides whether it is fresh. */
static void on_heartbeat(struct void_node *node, const uint8_t *buf, size_t len)
{
    VOID_ASSERT(node->fd_ready);
    const struct void_config *c = node->config;
    struct void_frame fr;
    int rc = void_codec_decode_verified(buf, len, &node->ring, &fr);
    int idx = rc == 0 ? replica_index(c, fr.sender) : -1;
    uint64_t epoch = 0, executed = 0;
    char http[VOID_HEARTBEAT_ADDR_MAX + 1];
    if (rc == VOID_EBAD_SIG) {
        node->hb.bad_signature++;
        return;
    }
    if (rc == VOID_EUNKNOWN_SENDER) {
        node->hb.not_member++;
        return;
    }
    if (rc != 0 ||
        void_heartbeat_body_decode_addr(fr.body, fr.body_len, &epoch, &executed, http) != 0) {
        node->hb.malformed++;
        return;
    }
    if (idx < 0 || fr.sender == c->self_id ||
        void_membership_find(&node->members, fr.sender) < 0) {
        node->hb.not_member++;
        return;
    }
    if (epoch != node->members.epoch) {
        node->hb.epoch++;
        return;
    }
    if (fr.hlc.wall_ns > physical_now_ns(node) + VOID_HLC_MAX_OFFSET_NS_DEF) {
        node->hb.hlc_ahead++;
        return;
    }
    struct void_fd_heartbeat hb = {.sender = fr.sender, .hlc = fr.hlc, .executed = executed};
    uint64_t now = mono_ns();
    rc = void_fd_heartbeat(&node->fd, &hb, now);
    if (rc == VOID_EAGAIN) {
        node->hb.stale++;
        return;
    }
    if (rc < 0) {
        node->hb.not_member++;
        return;
    }
    node->hb.received++;
    node->hb_last_ns[idx] = now;
    node->hb_executed[idx] = executed;
    heartbeat_http(node, idx, http);
    if (rc == 1) {
        node->hb.recoveries++;
        void_log(VOID_LOG_INFO, "member %u: alive again (heartbeat)", (unsigned)fr.sender);
        publish(node);
    }
}

static void on_hb_timer(uv_timer_t *timer)
{
    struct void_node *node = timer->data;
    const struct void_config *c = node->config;
    if (node->fatal != 0 || !node->replica_ready) {
        return;
    }
    uint8_t body[VOID_HEARTBEAT_BODY_MAX];
    /* With our HTTP address: a node whose file does not list us (we joined
     * later) learns where our status server is from it. */
    size_t body_len = void_heartbeat_body_encode_addr(
        node->members.epoch, void_pbft_last_executed(node->replica), c->http.text, body);
    /* The node's HLC (the replica's clock): every heartbeat is a send event,
     * so its stamps strictly increase and the detector can tell a replay. */
    struct void_frame fr = {.type = VOID_MSG_HEARTBEAT,
                            .sender = c->self_id,
                            .hlc = void_hlc_now_at(&node->replica->hlc, physical_now_ns(node)),
                            .body = body,
                            .body_len = (uint32_t)body_len};
    uint8_t frame[VOID_CODEC_HEADER_SIZE + VOID_HEARTBEAT_BODY_MAX + VOID_SIGN_SIZE];
    size_t len = 0;
    if (void_codec_encode(&fr, &c->keypair, frame, sizeof(frame), &len) != 0) {
        return;
    }
    for (uint32_t i = 0; i < node->members.count; i++) {
        uint32_t id = node->members.members[i].id;
        if (id != c->self_id && void_transport_send(&node->transport, id, frame, len) == 0) {
            node->hb.sent++;
        }
    }
}

/* The detector holds the primary of our view suspect (or dead): feed the
 * core the input it has for that, its request timer (docs/membership.md,
 * "The detector in voidd"). The core starts a view change only if it has
 * work that made no progress since the timer was armed, so an idle cluster
 * changes view on its next request, within a tick instead of a request
 * timeout. Only after a heartbeat interval without any batch executed: the
 * core re-arms its timer on every execution, so right after one "no
 * progress since" holds trivially, and a primary that is slow to send
 * heartbeats but still commits (a CPU-starved one) is not replaced for it.
 * A recovering backup waiting for its STATE is left alone: it fetches on
 * its own timer (docs/pbft.md, Rejoining). */
static void suspect_primary(struct void_node *node, uint64_t now)
{
    const struct void_pbft *r = node->replica;
    const struct void_config *c = node->config;
    if (void_pbft_last_executed(r) != node->fd_exec_seen) {
        node->fd_exec_seen = void_pbft_last_executed(r);
        node->fd_exec_ns = now;
    }
    if (void_pbft_view_changing(r) || r->catch_up_left > 0 ||
        now - node->fd_exec_ns < node->fd.cfg.interval_ns) {
        return;
    }
    uint32_t primary = void_pbft_primary_of(r, void_pbft_view(r));
    if (primary == c->self_id || void_fd_state(&node->fd, primary) < VOID_FD_SUSPECT ||
        !make_room(node)) {
        return;
    }
    struct step_mark m;
    mark_take(node, &m);
    (void)void_pbft_step_timer(
        node->replica, physical_now_ns(node), VOID_PBFT_TIMER_REQUEST, filling_out(node));
    node->dirty = 1;
    if (void_pbft_view_changing(r)) {
        node->hb.primary_suspects++;
    }
    char cause[96];
    (void)snprintf(cause,
                   sizeof(cause),
                   "failure detector: primary %u of view %llu is %s",
                   (unsigned)primary,
                   (unsigned long long)m.view,
                   void_fd_state(&node->fd, primary) == VOID_FD_DEAD ? "dead" : "suspect");
    report_step(node, &m, cause, 0);
}

static const char *fd_state_name(int state)
{
    return state == VOID_FD_ALIVE ? "alive" : state == VOID_FD_SUSPECT ? "suspect" : "dead";
}

static void on_fd_timer(uv_timer_t *timer)
{
    struct void_node *node = timer->data;
    if (node->fatal != 0 || !node->replica_ready) {
        return;
    }
    ring_sync(node);
    if (removed_stop(node) || follow_epoch(node)) {
        return;
    }
    struct void_fd_transition tr[VOID_CONFIG_REPLICAS_MAX];
    uint64_t now = mono_ns();
    uint32_t k = void_fd_tick(&node->fd, now, tr, VOID_CONFIG_REPLICAS_MAX);
    for (uint32_t i = 0; i < k; i++) {
        node->hb.suspicions += tr[i].from == VOID_FD_ALIVE;
        node->hb.deaths += tr[i].to == VOID_FD_DEAD;
        if (tr[i].to == VOID_FD_DEAD) {
            void__metrics_histogram_observe(&node->metrics.h.detection, tr[i].silence_ns);
        }
        void_log(VOID_LOG_WARN,
                 "member %u: %s -> %s after %llu ms without a heartbeat (local health %u)",
                 (unsigned)tr[i].id,
                 fd_state_name(tr[i].from),
                 fd_state_name(tr[i].to),
                 (unsigned long long)(tr[i].silence_ns / 1000000u),
                 (unsigned)node->fd.lhm);
        void__node_causal_local(&node->causal, node->replica, physical_now_ns(node), &(struct void_causal_event){.kind = VOID_CAUSAL_MEMBERSHIP, .op_seq = tr[i].id, .view = (uint64_t)tr[i].to, .client_id = (uint64_t)tr[i].from, .request_no = tr[i].silence_ns / 1000000u});
    }
    suspect_primary(node, now);
    if (node->member_ready) {
        void__node_member_tick(&node->member, now, tr, k);
    }
    publish(node);
}

/* The message of a node whose id the configuration in effect no longer
 * holds. */
static void removed_message(const struct void_node *node, char *buf, size_t cap)
{
    (void)snprintf(buf,
                   cap,
                   "node %u was removed from the cluster in epoch %llu (docs/membership.md): "
                   "it must not run as a voter; a node that should rejoin needs a new id",
                   (unsigned)node->config->self_id,
                   (unsigned long long)void_pbft_member_config(node->replica)->epoch);
}

/* A [replica] entry for a member that joined and that the file does not
 * list: its address and location as its JOIN gave them, its HTTP server as
 * its heartbeats state it (heartbeat_http). The caller holds the lock (the
 * HTTP thread reads the table). */
static void table_add(struct void_node *node, const struct void_member *m)
{
    struct void_config *c = node->config_rw;
    VOID_ASSERT(c != NULL && m != NULL);
    if (replica_index(c, m->id) >= 0 || c->count_replicas >= VOID_CONFIG_REPLICAS_MAX) {
        return;
    }
    struct void_config_replica *r = &c->replicas[c->count_replicas];
    memset(r, 0, sizeof(*r));
    r->id = m->id;
    memcpy(r->public_key, m->public_key, sizeof(r->public_key));
    (void)snprintf(r->address.text, sizeof(r->address.text), "%s", m->address);
    /* Not resolved here (no DNS on the loop): the JOIN's address was
     * parsed by voidctl member add, and sends to the member go over the
     * connection it opened (transport.h). */
    (void)void_hostport_parse(
        m->address, 0, r->address.host, sizeof(r->address.host), &r->address.port);
    /* Its HTTP address is not in the configuration: it comes with its first
     * heartbeat (heartbeat_http), as its own file states it. Until then
     * none is guessed (/nodes gives ""). */
    node->table_joined |= m->id < 32 ? 1u << m->id : 0;
    (void)snprintf(r->topology.datacenter, sizeof(r->topology.datacenter), "%s", m->datacenter);
    (void)snprintf(r->topology.rack, sizeof(r->topology.rack), "%s", m->rack);
    (void)snprintf(r->topology.host, sizeof(r->topology.host), "%s", m->host);
    c->count_replicas++;
    VOID_ASSERT(replica_index(c, m->id) >= 0);
}

/* Copies into the node's keyring the keys the core learned from JOINs
 * (ring_follow, src/core/pbft_epoch.c: as soon as a JOIN executes, before
 * its boundary): the transport then accepts the new member's HELLO, its
 * heartbeats verify, and broadcasts reach it (do_send), so that a learner
 * fetches state and follows the log before it is a learner in effect. */
static void ring_sync(struct void_node *node)
{
    const struct void_keyring *core = node->replica->ring;
    const struct void_config *c = node->config;
    if (core == NULL || core->count == node->ring_synced) {
        return;
    }
    VOID_ASSERT(core->count > node->ring_synced);
    int grew = 0;
    for (uint32_t k = 0; k < core->count; k++) {
        uint32_t id = core->ids[k];
        if (id >= c->slots || (node->slot_ids & (1u << id))) {
            continue;
        }
        /* Its own client (automatic removal, the removed-while-down read:
         * src/io/node_member.c) signs with the same key under its alias,
         * as the founding replicas' do (void__node_member_ring_add). */
        uint32_t alias = VOID_CONFIG_MEMBER_CLIENT_BASE + id;
        if (void_keyring_add(&node->ring, id, core->keys[k]) == 0 &&
            void_keyring_add(&node->ring, alias, core->keys[k]) == 0) {
            node->slot_ids |= 1u << id;
            grew = 1;
            void_log(VOID_LOG_INFO,
                     "membership: member %u joined (its JOIN executed): its frames and its "
                     "own client's requests are accepted from now on",
                     (unsigned)id);
        }
    }
    if (grew) {
        void_pbft_keyring_grew(node->replica); /* its client may have been refused before */
    }
    node->ring_synced = core->count;
    VOID_ASSERT(node->ring_synced == core->count);
}

/* Makes the node follow the replica's epoch (the configuration in effect
 * above its stable checkpoint, src/core/pbft_epoch.c): its members (with
 * the file's addresses and locations, or a joined member's from its JOIN),
 * their roles, the peers its detector watches and its heartbeats go to, the
 * removed ids whose frames are dropped. A node that finds itself removed
 * stops with a clear message: it must not run as a voter. A node that was
 * never admitted (its id at or above id_next: it is waiting for its JOIN)
 * runs on and watches nobody. Returns 1 when it stopped. */
static int follow_epoch(struct void_node *node)
{
    const struct void_membership_config *cur = void_pbft_member_config(node->replica);
    const struct void_config *c = node->config;
    if (cur->epoch == node->members.epoch) {
        return 0;
    }
    VOID_ASSERT(cur->epoch > node->members.epoch);
    struct void_membership_config *was = malloc(sizeof(*was));
    if (was == NULL) {
        return 0; /* the next tick tries again */
    }
    int admitted = void_membership_find(cur, c->self_id) >= 0;
    uint32_t peers[VOID_CONFIG_REPLICAS_MAX], npeers = 0, removed = 0, joined = 0, learners = 0;
    uint32_t promoted = 0;
    uint32_t cas_replicas = c->self_id < 32 ? 1u << c->self_id : 0;
    pthread_mutex_lock(&node->lock);
    *was = node->members;
    struct void_membership_config *m = &node->members;
    *m = *cur;
    for (uint32_t i = 0; i < m->count; i++) {
        struct void_member *mi = &m->members[i];
        int k = void_membership_find(was, mi->id);
        if (k >= 0 && was->members[k].role != VOID_MEMBER_VOTER && mi->role == VOID_MEMBER_VOTER) {
            promoted++;
        }
        if (k >= 0) { /* keep the file's address and location */
            memcpy(mi->address, was->members[k].address, sizeof(mi->address));
            memcpy(mi->datacenter, was->members[k].datacenter, sizeof(mi->datacenter));
            memcpy(mi->rack, was->members[k].rack, sizeof(mi->rack));
            memcpy(mi->host, was->members[k].host, sizeof(mi->host));
        } else {
            joined++;
            table_add(node, mi);
        }
        learners += mi->role != VOID_MEMBER_VOTER;
        cas_replicas |= mi->id < 32 ? 1u << mi->id : 0;
        if (mi->id != c->self_id && admitted) {
            peers[npeers++] = mi->id;
        }
    }
    for (uint32_t i = 0; i < was->count; i++) {
        if (void_membership_find(cur, was->members[i].id) < 0) {
            node->removed_mask |= was->members[i].id < 32 ? 1u << was->members[i].id : 0;
            removed++;
        }
    }
    node->hb.removals += removed;
    node->hb.joins += joined;
    node->hb.promotions += promoted;
    pthread_mutex_unlock(&node->lock);
    free(was);
    /* The block server serves, asks and relays among the members in effect,
     * a member that joined included (the file lists only some of them). */
    node->casserve.replicas = cas_replicas;
    (void)void_fd_set_peers(&node->fd, peers, npeers, mono_ns());
    void_log(VOID_LOG_INFO,
             "membership: epoch %llu, %u voters (f=%u), %u learner(s); %u member(s) joined, %u "
             "removed",
             (unsigned long long)cur->epoch,
             (unsigned)void_membership_voters(cur),
             (unsigned)void_membership_f(void_membership_voters(cur)),
             (unsigned)learners,
             (unsigned)joined,
             (unsigned)removed);
    if (!admitted && c->self_id >= cur->id_next) {
        void_log(VOID_LOG_INFO,
                 "membership: node %u is not a member yet: waiting for its JOIN (voidctl member "
                 "add)",
                 (unsigned)c->self_id);
        return 0;
    }
    if (!admitted) {
        char msg[256];
        removed_message(node, msg, sizeof(msg));
        void_log(VOID_LOG_ERROR, "%s; stopping", msg);
        node->removed_stop_ms = uv_now(&node->loop) | 1;
        node->removed_commits = node->store.count_commits;
        return 1;
    }
    return 0;
}

/* A removed node stops once the records of the step that made it switch
 * (its stable checkpoint at the boundary) are on disk, so that it comes
 * back in the epoch that removed it and refuses to run; it takes no frame
 * meanwhile (on_frame). Those records were in the buffer being committed
 * or the one filling when it decided: two more commits, or nothing left to
 * commit, cover both, never during a commit. A disk that does not drain
 * within five seconds does not keep it running. Returns 1 while it is stopping. */
static int removed_stop(struct void_node *node)
{
    if (node->removed_stop_ms == 0) {
        return 0;
    }
    int drained = !node->committing &&
                  (!node->dirty || node->store.count_commits >= node->removed_commits + 2);
    if (!drained && uv_now(&node->loop) - node->removed_stop_ms < 5000) {
        return 1;
    }
    node->fatal = VOID_EMEMBER_REMOVED;
    node_stop(node);
    return 1;
}

/* The genesis configuration of the file as the membership core's value
 * (epoch 1, replicas 0..genesis-1 voters), and the detector over the other
 * replicas; a node waiting to join watches nobody yet (follow_epoch). */
static int setup_membership(struct void_node *node, char *errbuf, size_t errcap)
{
    const struct void_config *c = node->config;
    struct void_member *ms = calloc(c->genesis_n, sizeof(*ms));
    uint32_t peers[VOID_CONFIG_REPLICAS_MAX], npeers = 0;
    if (ms == NULL) {
        return VOID_ENOMEM;
    }
    int rc = 0;
    for (uint32_t i = 0; i < c->genesis_n && rc == 0; i++) {
        const struct void_config_replica *r = void_config_replica_get(c, i);
        VOID_ASSERT(r != NULL); /* check_ids */
        const struct void_config_topology *t =
            r->id == c->self_id && r->topology.datacenter[0] == '\0' ? &c->topology : &r->topology;
        ms[i].id = r->id;
        ms[i].role = VOID_MEMBER_VOTER;
        memcpy(ms[i].public_key, r->public_key, sizeof(ms[i].public_key));
        if (strlen(r->address.text) > VOID_MEMBERSHIP_ADDR_MAX ||
            strlen(t->datacenter) > VOID_MEMBERSHIP_LOC_MAX ||
            strlen(t->rack) > VOID_MEMBERSHIP_LOC_MAX || strlen(t->host) > VOID_MEMBERSHIP_LOC_MAX) {
            (void)snprintf(errbuf,
                           errcap,
                           "[replica.%u]: an address longer than %d bytes or a datacenter, rack "
                           "or host longer than %d",
                           (unsigned)r->id,
                           VOID_MEMBERSHIP_ADDR_MAX,
                           VOID_MEMBERSHIP_LOC_MAX);
            rc = VOID_EINVAL;
            break;
        }
        (void)snprintf(ms[i].address, sizeof(ms[i].address), "%s", r->address.text);
        (void)snprintf(ms[i].datacenter, sizeof(ms[i].datacenter), "%s", t->datacenter);
        (void)snprintf(ms[i].rack, sizeof(ms[i].rack), "%s", t->rack);
        (void)snprintf(ms[i].host, sizeof(ms[i].host), "%s", t->host);
        if (r->id != c->self_id && c->self_id < c->genesis_n) {
            peers[npeers++] = r->id;
        }
    }
    uint16_t voters_min = (uint16_t)(c->genesis_n < 4 ? c->genesis_n : 4);
    if (c->voters_min != 0) {
        if (c->voters_min > c->genesis_n) {
            (void)snprintf(errbuf,
                           errcap,
                           "[membership] voters_min = %u is above the %u replicas",
                           (unsigned)c->voters_min,
                           (unsigned)c->genesis_n);
            free(ms);
            return VOID_EINVAL;
        }
        voters_min = (uint16_t)c->voters_min;
    }
    struct void_membership_config *mc = malloc(sizeof(*mc));
    if (rc == 0 && mc == NULL) {
        rc = VOID_ENOMEM;
    }
    if (rc == 0 && (rc = void_membership_config_init(mc, ms, c->genesis_n, voters_min)) != 0) {
        (void)snprintf(errbuf, errcap, "membership: %s", void_strerror(rc));
    }
    if (rc == 0) {
        pthread_mutex_lock(&node->lock); /* the HTTP thread reads it (render_members) */
        node->members = *mc;
        pthread_mutex_unlock(&node->lock);
    }
    free(mc);
    free(ms);
    uint64_t interval = (uint64_t)(c->heartbeat_ms != 0 ? c->heartbeat_ms : 200) * 1000000u;
    struct void_fd_config fc = {.interval_ns = interval};
    uint64_t now = mono_ns();
    if (rc == 0 && ((rc = void_fd_init(&node->fd, &fc, now)) != 0 ||
                    (rc = void_fd_set_peers(&node->fd, peers, npeers, now)) != 0)) {
        (void)snprintf(errbuf, errcap, "failure detector: %s", void_strerror(rc));
    }
    if (rc != 0) {
        return rc;
    }
    uv_timer_init(&node->loop, &node->hb_timer);
    uv_timer_init(&node->loop, &node->fd_timer);
    node->hb_timer.data = node;
    node->fd_timer.data = node;
    node->fd_ready = 1;
    uint64_t hb_ms = interval / 1000000u, tick_ms = node->fd.cfg.tick_ns / 1000000u;
    uv_timer_start(&node->hb_timer, on_hb_timer, 0, hb_ms);
    uv_timer_start(&node->fd_timer, on_fd_timer, tick_ms, tick_ms == 0 ? 1 : tick_ms);
    return 0;
}

/* ---- inputs ------------------------------------------------------------- */

/* A step that returns anything but 0 or VOID_EFULL (effects dropped, which
 * retransmission covers) met a local failure of the state store: the
 * replica no longer knows its state, so the node stops; a restart reopens
 * the store and replays (docs/kvs.md). Returns 1 when it stopped. */
static int state_failed(struct void_node *node, int rc)
{
    if (rc == 0 || rc == VOID_EFULL) {
        return 0;
    }
    node->fatal = rc;
    if (rc == VOID_ENOSPC || disk_full(node)) {
        /* The state store reports a failed write as an I/O error: the file
         * system says whether it was for lack of space. */
        void_log(VOID_LOG_ERROR,
                 "disk full: the state store cannot write in %s (%s); this replica stops "
                 "taking work (closes its ports) until space returns, then reopens the store "
                 "and catches up",
                 node->config->data_dir,
                 void_strerror(rc));
        node->disk_full = 1;
    } else {
        void_log(VOID_LOG_ERROR,
                 "state store failed: %s; stopping (a restart reopens it and catches up)",
                 void_strerror(rc));
    }
    node_stop(node);
    return 1;
}

static void on_frame(void *ctx, const uint8_t *buf, size_t len, const struct void_frame *frame)
{
    struct void_node *node = ctx;
    if (node->fatal != 0) {
        return;
    }
    const struct void_config *c = node->config;
    if (node->removed_stop_ms != 0) {
        return; /* removed: stopping once its records are durable */
    }
    /* A removed member may run on: nothing it sends counts any more, and
     * the core would only drop it later (docs/membership.md). */
    if (frame->sender < 32 && (node->removed_mask & (1u << frame->sender))) {
        node->hb.removed_frames++;
        return;
    }
    for (uint32_t i = 0; i < c->count_replicas; i++) {
        if (c->replicas[i].id == frame->sender) {
            node->peer_seen_ms[i] = uv_now(&node->loop);
        }
    }
    if (frame->type == VOID_MSG_HEARTBEAT) {
        on_heartbeat(node, buf, len); /* the failure detector's, not the core's */
        return;
    }
    if (frame->type == VOID_MSG_SUSPICION || frame->type == VOID_MSG_REPLY) {
        if (node->member_ready) { /* gossip, and replies to our own client */
            void__node_member_frame(&node->member, buf, len, frame);
        }
        return;
    }
    if (frame->type == VOID_MSG_CAS_BLOCK || frame->type == VOID_MSG_CAS_FETCH) {
        if (node->cas_ready) {
            uint64_t served = node->casserve.count_served;
            void_casserve_frame(&node->casserve, buf, len); /* file data bypasses consensus */
            if (node->casserve.count_served != served) {
                void__metrics_histogram_observe(&node->metrics.h.cas_get,
                                                node->casserve.served_len);
            }
            node->stats_stale = 1;
        }
        return;
    }
    if (!make_room(node)) {
        return;
    }
    struct step_mark m;
    mark_take(node, &m);
    int rc =
        void_pbft_step_receive(node->replica, physical_now_ns(node), buf, len, filling_out(node));
    node->dirty = 1;
    if (state_failed(node, rc)) {
        return;
    }
    node->step_msg_type = frame->type;
    node->step_sender = frame->sender;
    report_step(node, &m, NULL, 0);
}

static void on_timer(uv_timer_t *timer)
{
    struct void_node *node = timer->data;
    if (node->fatal != 0) {
        return;
    }
    enum void_pbft_timer which = (enum void_pbft_timer)(timer - node->timers);
    VOID_ASSERT(which > 0 && which < TIMER_COUNT);
    if (!make_room(node)) {
        uv_timer_start(timer, on_timer, 1, 0); /* try again once the disk is done */
        return;
    }
    struct step_mark m;
    mark_take(node, &m);
    int rc = void_pbft_step_timer(node->replica, physical_now_ns(node), which, filling_out(node));
    node->dirty = 1;
    if (state_failed(node, rc)) {
        return;
    }
    char cause[96];
    if (which == VOID_PBFT_TIMER_REQUEST) {
        (void)snprintf(cause,
                       sizeof(cause),
                       "request timer: primary %u of view %llu made no progress",
                       (unsigned)void_pbft_primary_of(node->replica, m.view),
                       (unsigned long long)m.view);
    } else if (which == VOID_PBFT_TIMER_VIEW_CHANGE) {
        (void)snprintf(cause,
                       sizeof(cause),
                       "view-change timer: no NEW-VIEW for view %llu",
                       (unsigned long long)m.view);
    } else {
        (void)snprintf(cause, sizeof(cause), "retransmit timer");
    }
    report_step(node, &m, cause, which == VOID_PBFT_TIMER_RETRANSMIT);
}

/* Hands the steps taken so far to the disk, if it is idle. */
static void flush_steps(struct void_node *node)
{
    if (node->dirty && !node->committing && node->fatal == 0) {
        pipeline_start(node);
    }
    if (node->stats_stale) {
        publish(node); /* file traffic steps no core, so nothing else would */
    }
}

/* Runs once per loop iteration, after the I/O callbacks: performs the
 * effects of every step taken in this iteration together. */
static void on_check(uv_check_t *check)
{
    flush_steps(check->data);
}

/* Runs before the loop polls: the steps of timer callbacks (which run before
 * the poll) go to the disk now. Left for the check, they would wait for the
 * next I/O event, and a node with no timer left armed (its TIMER_SET
 * effects are among them) and no frame coming in (every link down, as when
 * it has run out of descriptors) would wait forever. */
static void on_prepare(uv_prepare_t *prepare)
{
    flush_steps(prepare->data);
}

/* The block writer made a batch durable: acknowledge it, count it. */
static void on_block_written(void *ctx, const struct void_caswriter_item *item)
{
    struct void_node *node = ctx;
    void_casserve_written(&node->casserve, item);
    if (item->block.rc == 0) {
        void__metrics_histogram_observe(&node->metrics.h.cas_put, item->block.len);
    }
    node->stats_stale = 1;
}

static void on_link(void *ctx, uint32_t peer, int up)
{
    struct void_node *node = ctx;
    void_log(up ? VOID_LOG_INFO : VOID_LOG_WARN,
             "link to replica %u %s",
             (unsigned)peer,
             up ? "up" : "down");
    publish(node);
}

static void on_signal(uv_signal_t *sig, int signum)
{
    struct void_node *node = sig->data;
    void_log(VOID_LOG_INFO, "signal %d: shutting down", signum);
    node_stop(node);
}

static void node_stop(struct void_node *node)
{
    void__taskrun_stop(&node->taskrun);
    void_caswriter_close(&node->caswriter); /* writes what is queued, then joins */
    if (!node->handles_ready) {
        return;
    }
    node->handles_ready = 0;
    for (int i = 0; i < TIMER_COUNT; i++) {
        uv_close((uv_handle_t *)&node->timers[i], NULL);
    }
    uv_close((uv_handle_t *)&node->retry_timer, NULL);
    if (node->fd_ready) {
        uv_close((uv_handle_t *)&node->hb_timer, NULL);
        uv_close((uv_handle_t *)&node->fd_timer, NULL);
    }
    void__node_member_close(&node->member);
    uv_close((uv_handle_t *)&node->sig_term, NULL);
    uv_close((uv_handle_t *)&node->sig_int, NULL);
    uv_close((uv_handle_t *)&node->check, NULL);
    uv_close((uv_handle_t *)&node->prepare, NULL);
    void_transport_fini(&node->transport);
    node->transport_ready = 0;
    if (node->ntp_ready) {
        void_ntp_client_close(&node->ntp, NULL);
        node->ntp_ready = 0;
    }
}

/* ---- HTTP --------------------------------------------------------------- */

static size_t render_status(struct void_node *node, char *out, size_t cap)
{
    const struct void_config *c = node->config;
    pthread_mutex_lock(&node->lock);
    const struct node_status *s = &node->status;
    char hlc[VOID_HLC_FORMAT_MAX];
    (void)void_hlc_format(s->hlc, hlc, sizeof(hlc));
    json_t *members = json_array();
    for (uint32_t i = 0; i < c->count_replicas; i++) {
        const struct void_config_replica *r = &c->replicas[i];
        int self = r->id == c->self_id;
        json_t *m = json_pack("{s:i, s:s, s:b, s:b}",
                              "id",
                              (json_int_t)r->id,
                              "address",
                              r->address.text,
                              "self",
                              self,
                              "connected",
                              s->peer_up[i]);
        if (!self && s->peer_seen_ms[i] != 0) {
            json_object_set_new(
                m, "last_heard_ms_ago", json_integer((json_int_t)(s->now_ms - s->peer_seen_ms[i])));
        }
        json_array_append_new(members, m);
    }
    json_t *root =
        json_pack("{s:i, s:i, s:i, s:b, s:b, s:I, s:I, s:s, s:o, s:I, s:{s:s, s:s, s:s}}",
                  "id",
                  (json_int_t)c->self_id,
                  "n",
                  (json_int_t)c->count_replicas,
                  "view",
                  (json_int_t)s->view,
                  "primary_is_self",
                  s->primary == c->self_id,
                  "view_changing",
                  s->view_changing,
                  "last_executed",
                  (json_int_t)s->last_executed,
                  "stable_checkpoint",
                  (json_int_t)s->stable_checkpoint,
                  "hlc",
                  hlc,
                  "members",
                  members,
                  "clock_offset_ns",
                  (json_int_t)s->clock_offset_ns,
                  "topology",
                  "datacenter",
                  c->topology.datacenter,
                  "rack",
                  c->topology.rack,
                  "host",
                  c->topology.host);
    json_object_set_new(root, "primary", json_integer((json_int_t)s->primary));
    /* The state store: equal digests at equal last_executed mean equal
     * states (docs/kvs.md, The digest). */
    char digest[2 * VOID_KVS_DIGEST_SIZE + 1];
    for (size_t i = 0; i < VOID_KVS_DIGEST_SIZE; i++) {
        (void)snprintf(digest + 2 * i, 3, "%02x", s->state_digest[i]);
    }
    json_object_set_new(root, "state_keys", json_integer((json_int_t)s->state.keys));
    json_object_set_new(root, "state_clients", json_integer((json_int_t)s->state.clients));
    json_object_set_new(root, "state_versions", json_integer((json_int_t)s->state.versions));
    json_object_set_new(root, "state_bytes", json_integer((json_int_t)s->state.bytes_used));
    json_object_set_new(root, "state_digest", json_string(digest));
    pthread_mutex_unlock(&node->lock);
    return void__node_json_answer(root, out, cap);
}

/* A family of one unlabelled sample. */
static void one(struct void__metrics_writer *w,
                const char *name,
                enum void__metrics_type type,
                const char *help,
                uint64_t v)
{
    void__metrics_family(w, name, type, help);
    void__metrics_u64(w, NULL, NULL, v);
}

/* A family with one label: count samples label=names[i] of values[i]. */
static void labelled(struct void__metrics_writer *w,
                     const char *name,
                     enum void__metrics_type type,
                     const char *help,
                     const char *label,
                     size_t count,
                     const char *const *names,
                     const uint64_t *values)
{
    VOID_ASSERT(label != NULL && names != NULL && values != NULL);
    void__metrics_family(w, name, type, help);
    for (size_t i = 0; i < count; i++) {
        void__metrics_u64(w, label, names[i], values[i]);
    }
}

#define LABELLED(w, name, type, help, label, names, values)                                        \
    do {                                                                                           \
        _Static_assert(VOID_ARRAY_LEN(names) == VOID_ARRAY_LEN(values), "one value per label");   \
        labelled(w, name, type, help, label, VOID_ARRAY_LEN(names), names, values);                \
    } while (0)

/* void_messages_dropped_total: input rejected, one sample per reason. */
static void render_drops(struct void__metrics_writer *w, const struct node_status *s)
{
    const struct void_pbft_stats *p = &s->pbft;
    const struct void_transport_stats *t = &s->transport;
    static const char *const reasons[] = {
        "malformed",       "bad_signature",       "unknown_sender",         "wrong_view",
        "bad_digest",      "out_of_window",       "conflicting",            "not_primary",
        "hlc_ahead",       "bad_certificate",     "duplicate",              "stale",
        "surplus",         "pending_full",        "rate_limited",           "transport_bad_frame",
        "transport_wrong_sender", "transport_hello_rejected", "disk_busy"};
    const uint64_t values[] = {
        p->rx_malformed,   p->rx_bad_sig,         p->rx_unknown_sender,     p->rx_wrong_view,
        p->rx_bad_digest,  p->rx_out_of_window,   p->rx_conflicting,        p->rx_not_primary,
        p->rx_hlc_ahead,   p->rx_bad_certificate, p->rx_duplicate,          p->rx_stale,
        p->rx_surplus,     p->rx_pending_full,    p->rx_rate_limited,       t->drop_bad_frame,
        t->drop_wrong_sender, t->hello_rejected,  s->drop_busy};
    LABELLED(w,
             "void_messages_dropped_total",
             VOID_METRICS_COUNTER,
             "Input rejected, by reason (docs/operations.md, section 4).",
             "reason",
             reasons,
             values);
}

/* The transport's families: frames, bytes, drops, connections, queues. */
static void render_transport(struct void__metrics_writer *w, const struct node_status *s)
{
    const struct void_transport_stats *t = &s->transport;
    static const char *const drops[] = {"queue_full", "fault_loss", "fault_blocked", "no_route"};
    const uint64_t drop_v[] = {t->drop_queue_full, t->drop_loss, t->drop_blocked, t->drop_no_route};
    LABELLED(w,
             "void_transport_queue_drops_total",
             VOID_METRICS_COUNTER,
             "Frames not sent to a peer, by reason.",
             "reason",
             drops,
             drop_v);
    static const char *const dirs[] = {"sent", "received"};
    const uint64_t frames[] = {t->frames_sent, t->frames_received};
    const uint64_t bytes[] = {t->bytes_sent, t->bytes_received};
    LABELLED(w,
             "void_transport_frames_total",
             VOID_METRICS_COUNTER,
             "Frames sent and received.",
             "dir",
             dirs,
             frames);
    LABELLED(w,
             "void_transport_bytes_total",
             VOID_METRICS_COUNTER,
             "Bytes sent and received.",
             "dir",
             dirs,
             bytes);
    one(w,
        "void_transport_connects_total",
        VOID_METRICS_COUNTER,
        "Outbound connections established.",
        t->connects);
    static const char *const strangers[] = {"deadline", "bad_header", "shed"};
    const uint64_t stranger_v[] = {t->stranger_timeouts, t->stranger_bad_header, t->stranger_shed};
    LABELLED(w,
             "void_transport_strangers_closed_total",
             VOID_METRICS_COUNTER,
             "Inbound connections closed before their HELLO, by reason.",
             "reason",
             strangers,
             stranger_v);
    one(w,
        "void_transport_accepts_refused_total",
        VOID_METRICS_COUNTER,
        "Connections closed at accept (inbound cap full) or accepts that failed.",
        t->accept_refused + t->accept_errors);
    static const char *const hello[] = {"no", "any"};
    const uint64_t inbound[] = {t->strangers_open, t->inbound_open};
    LABELLED(w,
             "void_transport_inbound_connections",
             VOID_METRICS_GAUGE,
             "Inbound connections open: without a HELLO yet (no), and in all (any).",
             "hello",
             hello,
             inbound);
    one(w,
        "void_transport_send_queue_frames",
        VOID_METRICS_GAUGE,
        "Frames queued to the peers, not yet written.",
        s->peer_queued);
}

/* Membership series: the epoch, members by the detector's state (this node
 * counts itself alive), heartbeats and what the detector concluded. */
static void render_membership_metrics(struct void__metrics_writer *w,
                                      const struct void_config *c,
                                      const struct node_status *s)
{
    uint64_t by_state[3] = {0, 0, 0};
    for (uint32_t i = 0; i < c->count_replicas; i++) {
        uint32_t id = c->replicas[i].id;
        if (id < 32 && (s->removed_mask & (1u << id))) {
            continue; /* not a member any more */
        }
        by_state[s->fd_state[i] <= VOID_FD_DEAD ? s->fd_state[i] : VOID_FD_DEAD]++;
    }
    const struct hb_counts *h = &s->hb;
    one(w,
        "void_epoch",
        VOID_METRICS_GAUGE,
        "The epoch of the configuration in effect at this replica (1: the config file's).",
        s->epoch);
    one(w,
        "void_member_removals_total",
        VOID_METRICS_COUNTER,
        "Members removed (admin REMOVE or LEAVE) by the epochs this node entered.",
        h->removals);
    one(w,
        "void_member_joins_total",
        VOID_METRICS_COUNTER,
        "Members that joined (JOIN, as learners) by the epochs this node entered.",
        h->joins);
    one(w,
        "void_member_promotions_total",
        VOID_METRICS_COUNTER,
        "Learners made voters (PROMOTE) by the epochs this node entered.",
        h->promotions);
    one(w,
        "void_removed_member_frames_total",
        VOID_METRICS_COUNTER,
        "Frames from removed members, dropped unread.",
        h->removed_frames);
    static const char *const states[] = {"alive", "suspect", "dead"};
    const uint64_t members[] = {
        by_state[VOID_FD_ALIVE], by_state[VOID_FD_SUSPECT], by_state[VOID_FD_DEAD]};
    LABELLED(w,
             "void_members",
             VOID_METRICS_GAUGE,
             "Members by the state this node's failure detector holds (itself alive).",
             "state",
             states,
             members);
    static const char *const dirs[] = {"sent", "received"};
    const uint64_t hb[] = {h->sent, h->received};
    LABELLED(w,
             "void_heartbeats_total",
             VOID_METRICS_COUNTER,
             "Signed heartbeats queued to peers (sent) and accepted from them (received).",
             "dir",
             dirs,
             hb);
    static const char *const reasons[] = {
        "bad_signature", "not_member", "epoch", "hlc_ahead", "malformed", "stale"};
    const uint64_t rejected[] = {
        h->bad_signature, h->not_member, h->epoch, h->hlc_ahead, h->malformed, h->stale};
    LABELLED(w,
             "void_heartbeats_rejected_total",
             VOID_METRICS_COUNTER,
             "Heartbeats rejected, by reason.",
             "reason",
             reasons,
             rejected);
    one(w,
        "void_suspicions_total",
        VOID_METRICS_COUNTER,
        "Peers that went suspect (or straight to dead).",
        h->suspicions);
    one(w, "void_member_deaths_total", VOID_METRICS_COUNTER, "Peers that went dead.", h->deaths);
    one(w,
        "void_member_recoveries_total",
        VOID_METRICS_COUNTER,
        "Suspect or dead peers heard again.",
        h->recoveries);
    one(w,
        "void_primary_suspected_view_changes_total",
        VOID_METRICS_COUNTER,
        "View changes started because the primary was suspect or dead with a request pending.",
        h->primary_suspects);
    one(w,
        "void_fd_local_health",
        VOID_METRICS_GAUGE,
        "The failure detector's Lifeguard multiplier (thresholds stretched by it + 1).",
        s->lhm);
}

/* GET /members: the configuration and this node's detector's view of it. */
static size_t render_members(struct void_node *node, char *out, size_t cap)
{
    const struct void_config *c = node->config;
    /* node->members is written under the lock, by setup_membership (which
     * may run after the HTTP server's thread has started) and follow_epoch. */
    const struct void_membership_config *mc = &node->members;
    uint64_t now = mono_ns();
    pthread_mutex_lock(&node->lock);
    const struct node_status *s = &node->status;
    json_t *members = json_array();
    for (uint32_t i = 0; i < mc->count; i++) {
        const struct void_member *m = &mc->members[i];
        int k = replica_index(c, m->id);
        VOID_ASSERT(k >= 0);
        int self = m->id == c->self_id;
        json_t *j = json_pack("{s:I, s:s, s:s, s:s, s:s, s:s, s:b, s:s}",
                              "id",
                              (json_int_t)m->id,
                              "address",
                              m->address,
                              "datacenter",
                              m->datacenter,
                              "rack",
                              m->rack,
                              "host",
                              m->host,
                              "role",
                              m->role == VOID_MEMBER_VOTER ? "voter" : "learner",
                              "self",
                              self,
                              "state",
                              self ? "alive" : fd_state_name(s->fd_state[k]));
        /* Its key and HTTP address, so that a client whose file does not
         * list a member that joined can reach it (voidctl trace, which
         * takes them only as f + 1 replicas state them). The HTTP address
         * of such a member is "" until its first heartbeat. */
        char key[2 * VOID_SIGN_PUBLIC_KEY_SIZE + 1];
        (void)sodium_bin2hex(key, sizeof(key), m->public_key, sizeof(m->public_key));
        json_object_set_new(j, "public_key", json_string(key));
        json_object_set_new(j, "http", json_string(c->replicas[k].http.text));
        if (!self && s->hb_last_ns[k] != 0) {
            uint64_t age = now > s->hb_last_ns[k] ? now - s->hb_last_ns[k] : 0;
            json_object_set_new(j, "last_heartbeat_ms_ago", json_integer((json_int_t)(age / 1000000u)));
            json_object_set_new(j, "executed", json_integer((json_int_t)s->hb_executed[k]));
        }
        json_array_append_new(members, j);
    }
    uint32_t n = void_membership_voters(mc);
    json_t *root = json_pack("{s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:o}",
                             "id",
                             (json_int_t)c->self_id,
                             "epoch",
                             (json_int_t)mc->epoch,
                             "n",
                             (json_int_t)n,
                             "f",
                             (json_int_t)void_membership_f(n),
                             "quorum",
                             (json_int_t)void_membership_quorum(n),
                             "suspect_after_ms",
                             (json_int_t)(s->suspect_ns / 1000000u),
                             "dead_after_ms",
                             (json_int_t)(s->dead_ns / 1000000u),
                             "local_health",
                             (json_int_t)s->lhm,
                             "members",
                             members);
    /* Ids removed by the epochs this node entered: never readmitted. */
    json_t *removed = json_array();
    for (uint32_t id = 0; id < 32; id++) {
        if (node->removed_mask & (1u << id)) {
            json_array_append_new(removed, json_integer((json_int_t)id));
        }
    }
    json_object_set_new(root, "removed", removed);
    pthread_mutex_unlock(&node->lock);
    return void__node_json_answer(root, out, cap);
}

/* GET /member/progress: how far this node has executed, signed with its
 * own key (domain progress over void_sm_member_progress_message), which
 * `voidctl member promote` puts into the PROMOTE it asks the admin key to
 * sign (docs/membership.md, "Join and promote"). The state machine refuses
 * the PROMOTE unless executed + K reaches the sequence number that orders
 * it, so a statement fetched long before the promote is refused by itself;
 * anyone may ask for it, as it promotes nobody without the admin. */
static size_t render_progress(struct void_node *node, char *out, size_t cap)
{
    const struct void_config *c = node->config;
    pthread_mutex_lock(&node->lock);
    uint64_t executed = node->status.last_executed, epoch = node->members.epoch;
    int k = void_membership_find(&node->members, c->self_id);
    const char *role = k < 0                                                 ? "none"
                       : node->members.members[k].role == VOID_MEMBER_VOTER ? "voter"
                                                                            : "learner";
    pthread_mutex_unlock(&node->lock);
    uint8_t msg[VOID_SM_MEMBER_PROGRESS_SIZE], sig[VOID_SIGN_SIZE];
    void_sm_member_progress_message(c->self_id, executed, msg);
    int rc = void_sign(&c->keypair, VOID_SIGN_DOMAIN_PROGRESS, msg, sizeof(msg), sig);
    VOID_ASSERT(rc == 0);
    char hex[2 * VOID_SIGN_SIZE + 1];
    (void)sodium_bin2hex(hex, sizeof(hex), sig, sizeof(sig));
    json_t *root = json_pack("{s:I, s:I, s:I, s:s, s:s}",
                             "id",
                             (json_int_t)c->self_id,
                             "executed",
                             (json_int_t)executed,
                             "epoch",
                             (json_int_t)epoch,
                             "role",
                             role,
                             "signature",
                             hex);
    VOID_ASSERT(root != NULL);
    return void__node_json_answer(root, out, cap);
}

/* The replica's own families: protocol progress and what it refused. */
static void render_replica(struct void__metrics_writer *w, const struct node_status *s)
{
    const struct void_pbft_stats *p = &s->pbft;
    one(w, "void_view", VOID_METRICS_GAUGE, "The view this replica is in.", s->view);
    one(w,
        "void_view_changing",
        VOID_METRICS_GAUGE,
        "1 while this replica is changing view.",
        s->view_changing ? 1u : 0u);
    one(w,
        "void_last_executed_seq",
        VOID_METRICS_GAUGE,
        "Sequence number of the last batch executed.",
        s->last_executed);
    one(w,
        "void_stable_checkpoint_seq",
        VOID_METRICS_GAUGE,
        "Sequence number of the stable checkpoint (the low watermark).",
        s->stable_checkpoint);
    static const char *const units[] = {"batch", "request"};
    const uint64_t commits[] = {p->batches_committed, p->requests_executed};
    LABELLED(w,
             "void_commits_total",
             VOID_METRICS_COUNTER,
             "Batches committed (unit=batch) and requests executed (unit=request).",
             "unit",
             units,
             commits);
    one(w, "void_view_changes_total", VOID_METRICS_COUNTER, "Views entered.", p->view_changes);
    one(w,
        "void_state_transfers_total",
        VOID_METRICS_COUNTER,
        "Snapshots installed from peers.",
        p->state_transfers);
    one(w,
        "void_state_parts_total",
        VOID_METRICS_COUNTER,
        "State partitions fetched from peers (incremental state transfer).",
        p->state_parts);
    one(w,
        "void_catchup_batches_total",
        VOID_METRICS_COUNTER,
        "Committed batches taken from peers' STATE answers with their certificates.",
        p->catchup_batches);
    one(w,
        "void_catchup_answers_total",
        VOID_METRICS_COUNTER,
        "STATE answers that carried the batches a peer missed instead of a manifest.",
        p->catchup_answers);
    one(w,
        "void_state_sent_bytes_total",
        VOID_METRICS_COUNTER,
        "Bytes of STATE message bodies sent (catch-up and state transfer).",
        p->state_sent_bytes);
    one(w,
        "void_checkpoints_stable_total",
        VOID_METRICS_COUNTER,
        "Checkpoints that became stable.",
        p->checkpoints_stable);
    void__metrics_family(w,
                         "void_state_flush_seconds_total",
                         VOID_METRICS_COUNTER,
                         "Time spent syncing the state store before CHECKPOINT records.");
    void__metrics_fixed(w, NULL, NULL, (int64_t)s->state_flush_us, 6);
    one(w,
        "void_state_flushes_total",
        VOID_METRICS_COUNTER,
        "Syncs of the state store before CHECKPOINT records.",
        s->state_flushes);
    one(w,
        "void_hlc_rejections_total",
        VOID_METRICS_COUNTER,
        "Messages whose HLC was beyond the maximum offset.",
        p->rx_hlc_ahead);
    one(w,
        "void_requests_pending",
        VOID_METRICS_GAUGE,
        "Client requests queued at this replica, waiting for a batch.",
        s->requests_pending);
    render_drops(w, s);
    static const char *const ops[] = {"sign", "verify"};
    const uint64_t sigs[] = {p->signs, p->verifies};
    LABELLED(w,
             "void_signatures_total",
             VOID_METRICS_COUNTER,
             "Ed25519 signatures made (sign) and checked (verify).",
             "op",
             ops,
             sigs);
    one(w,
        "void_prepares_withheld_total",
        VOID_METRICS_COUNTER,
        "Prepares not sent after a restart or below a view this replica left (docs/pbft.md).",
        p->prepares_withheld);
    one(w,
        "void_commits_withheld_total",
        VOID_METRICS_COUNTER,
        "Commits not sent in a view below one this replica sent a VIEW-CHANGE for.",
        p->commits_withheld);
    one(w,
        "void_catch_up_waits_total",
        VOID_METRICS_COUNTER,
        "Request timeouts a restarted backup spent fetching state instead of suspecting.",
        p->catch_up_waits);
    one(w,
        "void_view_rejoins_total",
        VOID_METRICS_COUNTER,
        "Times this replica left a lone view change for the view the others commit in.",
        p->view_rejoins);
    static const char *const results[] = {"ok", "bad"};
    const uint64_t macs[] = {p->macs_ok, p->macs_bad};
    LABELLED(w,
             "void_request_macs_total",
             VOID_METRICS_COUNTER,
             "Client requests authenticated by their tag (ok), or whose tag failed (bad).",
             "result",
             results,
             macs);
    /* Large requests, sent apart from the batches (docs/pbft.md). */
    static const char *const body_events[] = {"dropped", "fetched", "served", "evicted"};
    const uint64_t bodies[] = {
        p->bodies_dropped, p->bodies_fetched, p->bodies_served, p->bodies_evicted};
    LABELLED(w,
             "void_request_bodies_total",
             VOID_METRICS_COUNTER,
             "Large request bodies dropped, fetched from peers, served to them, and evicted "
             "(executed, to make room).",
             "event",
             body_events,
             bodies);
    const uint64_t commit_macs[] = {p->commit_macs_ok, p->commit_macs_bad};
    LABELLED(w,
             "void_commit_macs_total",
             VOID_METRICS_COUNTER,
             "COMMITs authenticated by their tag (ok), or whose tag failed (bad).",
             "result",
             results,
             commit_macs);
    one(w,
        "void_effects_overflow_total",
        VOID_METRICS_COUNTER,
        "Steps whose effects did not fit in the output buffer.",
        s->out_full + p->out_overflow);
}

/* The record log, the clock and the file-block store. */
static void render_storage(struct void__metrics_writer *w, const struct node_status *s)
{
    one(w,
        "void_persist_bytes_total",
        VOID_METRICS_COUNTER,
        "Bytes written to the record log, compactions included.",
        s->persist_bytes);
    one(w,
        "void_persist_compactions_total",
        VOID_METRICS_COUNTER,
        "Record-log segments compacted.",
        s->persist_compactions);
    static const char *const fd[] = {"fd_pressure"};
    const uint64_t retries[] = {s->persist_retries};
    LABELLED(w,
             "void_persist_retries_total",
             VOID_METRICS_COUNTER,
             "Record-log commits retried because no file descriptor was free.",
             "reason",
             fd,
             retries);
    one(w,
        "void_clock_alerts_total",
        VOID_METRICS_COUNTER,
        "Alerts raised by the timekeeper.",
        s->clock_alerts);
    void__metrics_family(w,
                         "void_clock_offset_seconds",
                         VOID_METRICS_GAUGE,
                         "The timekeeper's correction of the system clock (0 without NTP).");
    void__metrics_fixed(w, NULL, NULL, s->clock_offset_ns, 9);
    static const char *const ops[] = {
        "stored", "served", "fetched_from_peer", "rejected", "duplicate", "dropped_busy"};
    const uint64_t blocks[] = {s->cas_stored,
                               s->cas_served,
                               s->cas_fetched,
                               s->cas_rejected,
                               s->cas_duplicate,
                               s->cas_busy};
    LABELLED(w,
             "void_cas_blocks_total",
             VOID_METRICS_COUNTER,
             "File blocks, by what became of them.",
             "op",
             ops,
             blocks);
    one(w,
        "void_cas_write_queue_blocks",
        VOID_METRICS_GAUGE,
        "File blocks queued for the block writer.",
        s->cas_queued);
}

/* GET /metrics: every family once, from a copy of the snapshot taken under
 * the lock (formatting does not hold up the loop thread). */
static size_t render_metrics(struct void_node *node, char *out, size_t cap)
{
    static _Thread_local struct node_status s; /* too big for a small stack */
    pthread_mutex_lock(&node->lock);
    s = node->status;
    pthread_mutex_unlock(&node->lock);
    struct void__metrics_writer w;
    void__metrics_init(&w, out, cap);
    render_replica(&w, &s);
    render_transport(&w, &s);
    render_storage(&w, &s);
    render_membership_metrics(&w, node->config, &s);
    void__node_metrics_render(&s.hist, &w);
    void__node_causal_metrics(&node->causal, &w);
    void__node_fault_metrics(&node->fault, &w);
    void__taskrun_metrics(&node->taskrun, &w);
    if (node->member_ready) {
        void__node_member_metrics(&node->member, &w);
    }
    size_t len = 0;
    if (void__metrics_finish(&w, &len) != 0) {
        void_log(VOID_LOG_WARN,
                 "/metrics: cut before family %s: the families do not fit in %zu bytes",
                 w.first_cut,
                 cap);
    }
    VOID_ASSERT(len <= cap);
    return len;
}

static int http_handler(void *ctx,
                        const char *method,
                        const char *path,
                        void_http_arg_fn arg,
                        void *req,
                        char *out,
                        size_t cap,
                        size_t *len,
                        const char **content_type)
{
    struct void_node *node = ctx;
    if (strcmp(path, "/status") == 0) {
        *content_type = "application/json";
        *len = render_status(node, out, cap);
        return 200;
    }
    if (strcmp(path, "/metrics") == 0) {
        *content_type = "text/plain; version=0.0.4";
        *len = render_metrics(node, out, cap);
        return 200;
    }
    if (strcmp(path, "/members") == 0) {
        *content_type = "application/json";
        *len = render_members(node, out, cap);
        return 200;
    }
    if (strcmp(path, "/member/progress") == 0) {
        *content_type = "application/json";
        *len = render_progress(node, out, cap);
        return 200;
    }
    if (strcmp(path, "/fault") == 0) {
        *content_type = "application/json";
        return void__node_fault_http(
            &node->fault, node->config, &node->transport, method, arg, req, out, cap, len);
    }
    if (strncmp(path, "/trace", 6) == 0) {
        return void__node_causal_http(&node->causal, path, arg, req, out, cap, len, content_type);
    }
    if (void__node_web_owns(path)) {
        return void__node_web_http(&node->web, path, arg, req, out, cap, len, content_type);
    }
    int n = snprintf(out,
                     cap,
                     "not found; try / (the web view), /status, /members, /health, /events, "
                     "/edges, /stream, /trace/events or /metrics\n");
    *len = n > 0 ? (size_t)n : 0;
    return 404;
}

/* The web module's view of the node (node_web.h): under the lock, like
 * /status. */
static void web_snap(void *ctx, struct void__node_web_snap *out)
{
    struct void_node *node = ctx;
    const struct void_config *c = node->config;
    const struct void_membership_config *mc = &node->members;
    pthread_mutex_lock(&node->lock);
    const struct node_status *s = &node->status;
    out->self = c->self_id;
    out->view = s->view;
    out->primary = s->primary;
    out->view_changing = s->view_changing;
    out->last_executed = s->last_executed;
    out->epoch = s->epoch;
    out->quorum = void_membership_quorum(void_membership_voters(mc));
    out->count = 0;
    for (uint32_t i = 0; i < mc->count && i < VOID_CONFIG_REPLICAS_MAX; i++) {
        int k = replica_index(c, mc->members[i].id);
        out->id[i] = mc->members[i].id;
        out->voter[i] = mc->members[i].role == VOID_MEMBER_VOTER;
        out->state[i] = mc->members[i].id == c->self_id || k < 0 ? VOID_FD_ALIVE : s->fd_state[k];
        out->count++;
    }
    out->clock_offset_ns = s->clock_offset_ns;
    pthread_mutex_unlock(&node->lock);
}

/* ---- lifecycle ---------------------------------------------------------- */

/* The founding replicas are 0..genesis-1, all listed; every listed id (a
 * member that joined, or this node about to join) is below the slots. */
static int check_ids(const struct void_config *c, char *errbuf, size_t errcap)
{
    for (uint32_t id = 0; id < c->genesis_n; id++) {
        if (void_config_replica_get(c, id) == NULL) {
            (void)snprintf(errbuf,
                           errcap,
                           "replica ids must be 0..%u (n = %u), but [replica.%u] is missing",
                           (unsigned)c->genesis_n - 1,
                           (unsigned)c->genesis_n,
                           (unsigned)id);
            return VOID_EINVAL;
        }
    }
    if (c->slots > VOID_PBFT_N_MAX) {
        (void)snprintf(errbuf,
                       errcap,
                       "%u replica ids ([membership] slots, else the highest id + 1): at most %d "
                       "are supported",
                       (unsigned)c->slots,
                       VOID_PBFT_N_MAX);
        return VOID_EINVAL;
    }
    VOID_ASSERT(c->genesis_n <= c->slots);
    return 0;
}

static int setup_ring(struct void_node *node)
{
    const struct void_config *c = node->config;
    void_keyring_init(&node->ring);
    for (uint32_t i = 0; i < c->count_replicas; i++) {
        int rc = void_keyring_add(&node->ring, c->replicas[i].id, c->replicas[i].public_key);
        if (rc != 0) {
            return rc;
        }
        node->slot_ids |= c->replicas[i].id < c->slots ? 1u << c->replicas[i].id : 0;
    }
    for (uint32_t i = 0; i < c->count_clients; i++) {
        int rc = void_keyring_add(&node->ring, c->clients[i].id, c->clients[i].public_key);
        if (rc != 0) {
            return rc;
        }
    }
    return void__node_member_ring_add(&node->ring, c);
}

/* Opens (or creates) the replicated state's store, DATA_DIR/state. It is
 * never synced for durability: recovery puts it back to the state that the
 * record log's CHECKPOINT record carries (docs/pbft.md, Recovery). */
static int setup_state(struct void_node *node, char *errbuf, size_t errcap)
{
    const struct void_config *c = node->config;
    char dir[VOID_CONFIG_PATH_MAX + 8];
    int n = snprintf(dir, sizeof(dir), "%s/state", c->data_dir);
    if (n < 0 || (size_t)n >= sizeof(dir)) {
        (void)snprintf(errbuf, errcap, "state store: data directory path too long");
        return VOID_EINVAL;
    }
    if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
        (void)snprintf(errbuf, errcap, "state store: cannot create %s: %s", dir, strerror(errno));
        return VOID_EIO;
    }
    struct void_kvs_lmdb_config lc = {
        .quota = c->state_quota_mb != 0 ? (uint64_t)c->state_quota_mb << 20 : VOID_SM_QUOTA_DEF,
        .create = 1};
    int rc = void_kvs_lmdb_open(&node->state, dir, &lc);
    if (rc != 0) {
        (void)snprintf(errbuf, errcap, "state store: cannot open %s: %s", dir, void_strerror(rc));
        return rc;
    }
    node->state_open = 1;
    struct void_kvs_stats st;
    void_kvs_stats(&node->state, &st);
    void_log(VOID_LOG_INFO,
             "state store: opened %s: %llu keys, %llu clients, %llu bytes of %llu, at batch %llu",
             dir,
             (unsigned long long)st.keys,
             (unsigned long long)st.clients,
             (unsigned long long)st.bytes_used,
             (unsigned long long)st.quota,
             (unsigned long long)st.applied);
    return 0;
}

static int setup_replica(struct void_node *node, char *errbuf, size_t errcap)
{
    const struct void_config *c = node->config;
    int rc = setup_state(node, errbuf, errcap);
    if (rc != 0) {
        return rc;
    }
    struct void_pbft_config pc = {
        .n = c->slots,
        .genesis_n = c->genesis_n,
        .self = c->self_id,
        .pipeline_max = c->pbft_pipeline,
        .batch_max = c->pbft_batch_max,
        .window = c->pbft_window,
        .retain_bytes = c->pbft_retain_mb == VOID_CONFIG_RETAIN_UNSET ? 0
                        : c->pbft_retain_mb == 0                      ? VOID_PBFT_RETAIN_OFF
                                                                      : c->pbft_retain_mb << 20,
        .verify_signatures = 1,
        .execute_after_durable = 1, /* durable_step */
        .keyring = &node->ring,
        .admin_key = c->has_admin_key ? c->admin_key : NULL, /* certificates, changes */
        .voters_min = (uint16_t)c->voters_min,
        .event_seq_start = void__node_causal_next_seq(&node->causal),
        .keypair = &c->keypair,
        .sm = {.retention_ns = (uint64_t)c->state_retention_s * 1000000000u,
               .client_ttl_ns = (uint64_t)c->state_client_ttl_s * 1000000000u},
        .kvs = &node->state};
    node->replica = calloc(1, sizeof(*node->replica));
    if (node->replica == NULL) {
        return VOID_ENOMEM;
    }
    for (int i = 0; i < 2; i++) {
        struct effect_buf *b = &node->bufs[i];
        b->effects = calloc(VOID_PBFT_OUT_EFFECTS_DEF, sizeof(*b->effects));
        b->persist = calloc(VOID_PBFT_OUT_EFFECTS_DEF, sizeof(*b->persist));
        b->arena = malloc(VOID_PBFT_OUT_ARENA_DEF);
        if (b->effects == NULL || b->persist == NULL || b->arena == NULL) {
            return VOID_ENOMEM;
        }
        void_pbft_out_init(
            &b->out, b->effects, VOID_PBFT_OUT_EFFECTS_DEF, b->arena, VOID_PBFT_OUT_ARENA_DEF);
    }
    rc = void_pbft_init(node->replica, &pc);
    if (rc != 0) {
        (void)snprintf(errbuf, errcap, "cannot set up the replica: %s", void_strerror(rc));
        return rc;
    }
    node->replica_ready = 1;
    return 0;
}

/* Feeds the persisted records to the core, or starts fresh. */
/* node_member.c's hooks: our own client's requests reach our replica as
 * if from the network; a record that no longer holds us stops the node as
 * a removal seen at run time does (removed_stop). */
static void member_inject(void *ctx, const uint8_t *frame, size_t len)
{
    struct void_node *node = ctx;
    struct void_frame fr;
    if (node->handles_ready && void_codec_decode(frame, len, &fr) == 0) {
        on_frame(node, frame, len, &fr);
    }
}

static uint64_t member_wall_now(void *ctx)
{
    return physical_now_ns(ctx);
}

static void member_removed(void *ctx, uint64_t epoch)
{
    struct void_node *node = ctx;
    if (node->removed_stop_ms != 0) {
        return;
    }
    void_log(VOID_LOG_ERROR,
             "node %u was removed from the cluster in epoch %llu while it was down (the "
             "configuration record, read from its peers; docs/membership.md): it must not run as "
             "a voter; a node that should rejoin needs a new id; stopping",
             (unsigned)node->config->self_id,
             (unsigned long long)epoch);
    node->removed_stop_ms = uv_now(&node->loop) | 1;
    node->removed_commits = node->store.count_commits;
}

static int setup_member(struct void_node *node, char *errbuf, size_t errcap)
{
    struct void__node_member_env env = {.config = node->config,
                                        .loop = &node->loop,
                                        .transport = &node->transport,
                                        .ring = &node->ring,
                                        .replica = node->replica,
                                        .fd = &node->fd,
                                        .auto_remove = node->config->auto_remove != 0,
                                        .ctx = node,
                                        .inject = member_inject,
                                        .wall_now = member_wall_now,
                                        .removed = member_removed};
    int rc = void__node_member_init(&node->member, &env);
    if (rc != 0) {
        (void)snprintf(errbuf, errcap, "membership client: %s", void_strerror(rc));
        return rc;
    }
    node->member_ready = 1;
    return 0;
}

static int recover(struct void_node *node, char *errbuf, size_t errcap)
{
    struct void_pstore_rec *recs = NULL;
    size_t count = 0;
    int rc = void_pstore_read_all(&node->store, &recs, &count);
    if (rc != 0) {
        (void)snprintf(errbuf, errcap, "cannot read the store: %s", void_strerror(rc));
        return rc;
    }
    uint64_t now = physical_now_ns(node);
    if (count == 0) {
        void_log(VOID_LOG_INFO, "empty data directory: starting fresh");
        rc = void_pbft_start(node->replica, now, filling_out(node));
    } else {
        struct void_pbft_record *pr = calloc(count, sizeof(*pr));
        if (pr == NULL) {
            free(recs);
            return VOID_ENOMEM;
        }
        for (size_t i = 0; i < count; i++) {
            pr[i] = (struct void_pbft_record){
                .kind = recs[i].kind, .key = recs[i].key, .data = recs[i].data, .len = recs[i].len};
        }
        struct step_mark m;
        mark_take(node, &m);
        uint64_t numbered = node->replica->event_seq;
        rc = void_pbft_recover(node->replica, now, pr, count, filling_out(node));
        free(pr);
        if (rc == 0 && node->replica->recovered_event_seq > numbered) {
            void__node_causal_skip_to(&node->causal, node->replica->recovered_event_seq + 1);
        }
        const struct void_pbft_stats *ps = void_pbft_stats(node->replica);
        void_log(VOID_LOG_INFO,
                 "recovery: recovered from %zu records: view=%llu executed=%llu stable=%llu "
                 "store_resumed=%llu replayed=%llu store_reset=%llu",
                 count,
                 (unsigned long long)void_pbft_view(node->replica),
                 (unsigned long long)void_pbft_last_executed(node->replica),
                 (unsigned long long)void_pbft_low_watermark(node->replica),
                 (unsigned long long)ps->recover_resumed,
                 (unsigned long long)ps->recover_replayed,
                 (unsigned long long)ps->recover_resets);
        /* The view the node was in when it stopped: its VIEW record (view
         * u64, changing u8; docs/pbft.md). A primary recovering hands that
         * view off, which the log reports as a view change started. */
        for (size_t i = 0; i < count; i++) {
            if (recs[i].kind == VOID_PBFT_RECORD_VIEW && recs[i].len >= 9) {
                m.view = void_bytes_get_be64(recs[i].data);
                m.view_changing = recs[i].data[8] != 0;
            }
        }
        node->view_installed = m.view_changing && m.view > 0 ? m.view - 1 : m.view;
        report_step(node, &m, "recovery", 0);
    }
    free(recs);
    if (rc == VOID_ECORRUPT) {
        (void)snprintf(errbuf, errcap, "the stored checkpoint does not match its digest");
    } else if (rc != 0 && rc != VOID_EFULL) {
        (void)snprintf(errbuf, errcap, "state store: %s", void_strerror(rc));
    }
    return rc == VOID_EFULL ? 0 : rc;
}

static void on_clock_alert(void *ctx, const struct void_clockdisc_alert *alert)
{
    struct void_node *node = ctx;
    node->clock_alerts++;
    void_log(VOID_LOG_WARN, "clock alert %d from the timekeeper", (int)alert->kind);
    void__node_causal_local(&node->causal, node->replica_ready ? node->replica : NULL, alert->sys_ns, &(struct void_causal_event){.kind = VOID_CAUSAL_LOCAL, .view = (uint64_t)alert->kind, .op_seq = alert->value_ns < 0 ? 0 - (uint64_t)alert->value_ns : (uint64_t)alert->value_ns, .client_id = alert->server});
}

/* An NTP exchange ended: an accepted sample goes into the histograms (its
 * offset and delay are the newest entry of the server's clock filter). */
static void on_ntp_event(void *ctx, uint32_t server, int rc)
{
    struct void_node *node = ctx;
    if (rc != 0 || server >= VOID_CLOCKDISC_SERVERS_MAX) {
        return;
    }
    const struct void_clockdisc_server *s = &node->ntp.disc.servers[server];
    if (s->count_filter == 0 || s->state == VOID_CLOCKDISC_DENIED) {
        return;
    }
    const struct void_clockdisc_filter_entry *e =
        &s->filter[(s->next_filter + VOID_CLOCKDISC_FILTER - 1) % VOID_CLOCKDISC_FILTER];
    uint64_t offset = e->offset_ns < 0 ? 0 - (uint64_t)e->offset_ns : (uint64_t)e->offset_ns;
    void__metrics_histogram_observe(&node->metrics.h.ntp_offset, offset);
    void__metrics_histogram_observe(&node->metrics.h.ntp_delay,
                                    e->delay_ns > 0 ? (uint64_t)e->delay_ns : 0);
    node->stats_stale = 1;
}

/* Starts the timekeeper when NTP servers are configured. */
static int setup_ntp(struct void_node *node, char *errbuf, size_t errcap)
{
    const struct void_config *c = node->config;
    if (c->count_ntp == 0) {
        return 0;
    }
    const char *servers[VOID_CONFIG_NTP_MAX];
    for (uint32_t i = 0; i < c->count_ntp; i++) {
        servers[i] = c->ntp[i].text;
    }
    struct void_ntp_client_config nc = {.servers = servers,
                                        .count_servers = c->count_ntp,
                                        .disc = {.alert = on_clock_alert, .alert_ctx = node},
                                        .on_event = on_ntp_event,
                                        .event_ctx = node};
    int rc = void_ntp_client_init(&node->ntp, &node->loop, &nc);
    if (rc == 0) {
        rc = void_ntp_client_start(&node->ntp);
        node->ntp_ready = 1;
    }
    if (rc != 0) {
        (void)snprintf(errbuf, errcap, "cannot start the NTP client: %s", void_strerror(rc));
    }
    return rc;
}

/* The streamed and raw answers: /trace/state and /trace/diff (the causal
 * module), then /stream and the static files (the web module). */
static int node_http_raw(void *ctx, void *conn, const char *method, const char *path, int *result)
{
    struct void_node *node = ctx;
    if (void__node_causal_raw(&node->causal, conn, method, path, result)) {
        return 1;
    }
    return void__node_web_raw(&node->web, conn, method, path, result);
}

static int setup_io(struct void_node *node, char *errbuf, size_t errcap)
{
    const struct void_config *c = node->config;
    const struct void_config_replica *self = void_config_replica_get(c, c->self_id);
    struct void_transport_peer peers[VOID_CONFIG_REPLICAS_MAX];
    uint32_t count = 0;
    for (uint32_t i = 0; i < c->count_replicas; i++) {
        if (c->replicas[i].id != c->self_id) {
            peers[count].id = c->replicas[i].id;
            (void)snprintf(
                peers[count].host, sizeof(peers[count].host), "%s", c->replicas[i].address.host);
            peers[count].port = c->replicas[i].address.port;
            count++;
        }
    }
    struct void_transport_config tc = {.loop = &node->loop,
                                       .self_id = c->self_id,
                                       .keypair = &c->keypair,
                                       .ring = &node->ring,
                                       .admin_key = c->has_admin_key ? c->admin_key : NULL,
                                       .listen_host = self->address.host,
                                       .listen_port = self->address.port,
                                       .count_peers = count,
                                       .peers = peers,
                                       .on_frame = on_frame,
                                       .on_link = on_link,
                                       .ctx = node,
                                       .delay_ms = c->fault_delay_ms,
                                       .loss_pct = c->fault_loss_pct,
                                       .seed = realtime_ns() ^ c->self_id,
                                       /* the core verifies every frame */
                                       .skip_verify = 1,
                                       .handshake_ms = c->limits.handshake_ms,
                                       .unauth_max = c->limits.unauth_max,
                                       .unauth_per_addr_max = c->limits.unauth_per_addr_max,
                                       .conn_max = c->limits.conn_max,
                                       .fd_reserve = c->limits.fd_reserve,
                                       .rx_bytes_max = (uint64_t)c->limits.rx_buffer_mb << 20};
    int rc = setup_ntp(node, errbuf, errcap);
    if (rc != 0) {
        return rc;
    }
    rc = void_transport_init(&node->transport, &tc, errbuf, errcap);
    node->transport_ready = 1;
    if (rc != 0) {
        return rc;
    }
    rc = void__node_web_init(&node->web, c, &node->causal, web_snap, node);
    node->web_ready = 1;
    if (rc != 0) {
        return rc;
    }
    rc = void_http_init(&node->http,
                        c->http.host,
                        c->http.port,
                        c->limits.http_conn_max,
                        c->limits.http_per_ip_max,
                        http_handler,
                        node,
                        errbuf,
                        errcap);
    if (rc != 0) {
        return rc;
    }
    void_http_set_raw(&node->http, node_http_raw, node);
    void_http_allow_post(&node->http, "/fault");
    if ((rc = void__node_web_start(&node->web)) != 0) {
        return rc;
    }
    for (int i = 0; i < TIMER_COUNT; i++) {
        uv_timer_init(&node->loop, &node->timers[i]);
        node->timers[i].data = node;
    }
    uv_timer_init(&node->loop, &node->retry_timer);
    node->retry_timer.data = node;
    uv_signal_init(&node->loop, &node->sig_term);
    uv_signal_init(&node->loop, &node->sig_int);
    node->sig_term.data = node;
    node->sig_int.data = node;
    uv_signal_start(&node->sig_term, on_signal, SIGTERM);
    uv_signal_start(&node->sig_int, on_signal, SIGINT);
    uv_check_init(&node->loop, &node->check);
    node->check.data = node;
    uv_check_start(&node->check, on_check);
    uv_prepare_init(&node->loop, &node->prepare);
    node->prepare.data = node;
    uv_prepare_start(&node->prepare, on_prepare);
    node->handles_ready = 1;
    return 0;
}

/* Opens the node's block store (data_dir/cas) and its server. */
static int setup_cas(struct void_node *node, char *errbuf, size_t errcap)
{
    const struct void_config *c = node->config;
    char dir[VOID_CONFIG_PATH_MAX + 8];
    (void)snprintf(dir, sizeof(dir), "%s/cas", c->data_dir);
    struct void_cas_config cc;
    void_cas_config_default(&cc);
    cc.create = 1;
    cc.threads = 1;
    int rc = void_cas_init(&node->cas, dir, &cc);
    char owner[VOID_CAS_OWNER_MAX + 1];
    if (rc == 0 && (rc = void_cas_owner(&node->cas, owner, sizeof(owner))) == 0 &&
        strcmp(owner, VOID_NODE_CAS_OWNER) != 0) {
        /* Its live names are in the replicated state: voidctl cas gc refuses it. */
        rc = void_cas_set_owner(&node->cas, VOID_NODE_CAS_OWNER);
    }
    if (rc != 0) {
        (void)snprintf(
            errbuf, errcap, "cannot open the block store %s: %s", dir, void_strerror(rc));
        return rc;
    }
    struct void_caswriter_config wc = {.ring = &node->ring};
    rc =
        void_caswriter_init(&node->caswriter, &node->loop, &node->cas, &wc, on_block_written, node);
    if (rc != 0) {
        (void)snprintf(errbuf, errcap, "cannot start the block writer: %s", void_strerror(rc));
        return rc;
    }
    node->cas_ready = 1;
    node->casserve = (struct void_casserve){.cas = &node->cas,
                                            .writer = &node->caswriter,
                                            .transport = &node->transport,
                                            .ring = &node->ring,
                                            .keypair = &c->keypair,
                                            .self_id = c->self_id};
    for (uint32_t i = 0; i < c->count_replicas; i++) {
        VOID_ASSERT(c->replicas[i].id < 32); /* below the slots, at most 16 */
        node->casserve.replicas |= 1u << c->replicas[i].id;
    }
    return 0;
}

/* Reads the pid written in the lock file behind fd; 0 when there is none. */
static long lock_holder(int fd)
{
    char text[32];
    ssize_t n = pread(fd, text, sizeof(text) - 1, 0);
    if (n <= 0) {
        return 0;
    }
    text[n] = '\0';
    char *end = NULL;
    long pid = strtol(text, &end, 10);
    return end != text && pid > 0 ? pid : 0;
}

int void_node_lock_data_dir(const char *dir, int *fd_out, char *errbuf, size_t errcap)
{
    VOID_ASSERT(dir != NULL && fd_out != NULL);
    VOID_ASSERT(errbuf != NULL && errcap > 0);
    *fd_out = -1;
    if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
        (void)snprintf(errbuf, errcap, "cannot create %s: %s", dir, strerror(errno));
        return VOID_EIO;
    }
    char path[VOID_CONFIG_PATH_MAX + 8];
    int n = snprintf(path, sizeof(path), "%s/" VOID_NODE_LOCK_NAME, dir);
    if (n < 0 || (size_t)n >= sizeof(path)) {
        (void)snprintf(errbuf, errcap, "data directory path too long: %s", dir);
        return VOID_EINVAL;
    }
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0) {
        (void)snprintf(errbuf, errcap, "cannot open %s: %s", path, strerror(errno));
        return errno == EACCES ? VOID_EPERM : VOID_EIO;
    }
    int rc = 0;
    while ((rc = flock(fd, LOCK_EX | LOCK_NB)) != 0 && errno == EINTR) {
    }
    if (rc != 0) {
        int e = errno;
        long holder = e == EWOULDBLOCK ? lock_holder(fd) : 0;
        if (e != EWOULDBLOCK) {
            (void)snprintf(errbuf, errcap, "cannot lock %s: %s", path, strerror(e));
        } else if (holder > 0) {
            (void)snprintf(errbuf,
                           errcap,
                           "data directory %s is in use by pid %ld (it holds %s): stop that "
                           "node first; two processes on one record log lose data",
                           dir,
                           holder,
                           path);
        } else {
            (void)snprintf(
                errbuf, errcap, "data directory %s is in use: another process holds %s", dir, path);
        }
        (void)close(fd);
        return e == EWOULDBLOCK ? VOID_EBUSY : VOID_EIO;
    }
    /* Ours now: record who holds it, for the message a second node prints. */
    char text[32];
    int len = snprintf(text, sizeof(text), "%ld\n", (long)getpid());
    VOID_ASSERT(len > 0 && (size_t)len < sizeof(text));
    if (ftruncate(fd, 0) != 0 || pwrite(fd, text, (size_t)len, 0) != (ssize_t)len) {
        (void)snprintf(errbuf, errcap, "cannot write %s: %s", path, strerror(errno));
        (void)close(fd);
        return VOID_EIO;
    }
    *fd_out = fd;
    return 0;
}

int void_node_new(struct void_node **out,
                  struct void_config *config,
                  char *errbuf,
                  size_t errcap)
{
    VOID_ASSERT(out != NULL && config != NULL);
    VOID_ASSERT(config->role == VOID_CONFIG_ROLE_NODE);
    struct void_node *node = calloc(1, sizeof(*node));
    if (node == NULL) {
        return VOID_ENOMEM;
    }
    node->config = config;
    node->config_rw = config;
    node->lock_fd = -1;
    pthread_mutex_init(&node->lock, NULL);
    void__node_metrics_init(&node->metrics);
    node->status.hist = node->metrics.h;
    int rc = void__node_fault_init(&node->fault);
    rc = rc == 0 ? check_ids(config, errbuf, errcap) : rc;
    /* Before anything reads or writes the data directory: opening the record
     * log compacts it, which would pull it from under a running node. */
    if (rc == 0) {
        rc = void_node_lock_data_dir(config->data_dir, &node->lock_fd, errbuf, errcap);
    }
    if (rc == 0) {
        rc = uv_loop_init(&node->loop) == 0 ? 0 : VOID_EIO;
        node->loop_ready = rc == 0;
    }
    if (rc == 0 && (rc = void__node_causal_init(&node->causal, config)) != 0) {
        (void)snprintf(errbuf, errcap, "cannot set up the causal log: %s", void_strerror(rc));
    }
    /* Name this node and honour its level from the first line (the state
     * store logs before the replica and its HLC exist). */
    void_log_setup(config->log_level, config->self_id, NULL);
    if (rc == 0 && (rc = setup_ring(node)) != 0) {
        (void)snprintf(errbuf, errcap, "cannot build the keyring: %s", void_strerror(rc));
    }
    if (rc == 0 && (rc = setup_replica(node, errbuf, errcap)) == 0) {
        void__node_causal_restore_hlc(&node->causal, &node->replica->hlc);
        void__node_causal_set_state(&node->causal, &node->state);
        void_log_setup(config->log_level, config->self_id, &node->replica->hlc);
        struct void_pstore_config pc = {.segment_size = config->record_log_segment_bytes};
        rc = void_pstore_open(&node->store, config->data_dir, &pc, errbuf, errcap);
        node->compactions_logged = node->store.count_compactions;
        if (rc == 0) {
            void_log(VOID_LOG_INFO,
                     "record log: opened %s: segment %llu, %zu live records",
                     config->data_dir,
                     (unsigned long long)node->store.segment,
                     node->store.count_slots);
        }
        if (rc == 0 && node->store.count_torn > 0) {
            void_log(VOID_LOG_WARN,
                     "record log: dropped a torn last entry (a write cut by a crash)");
        }
    }
    /* I/O first, so that a port in use fails before anything is recovered. */
    if (rc == 0) {
        rc = setup_io(node, errbuf, errcap);
    }
    if (rc == 0) {
        rc = setup_membership(node, errbuf, errcap);
    }
    if (rc == 0) {
        rc = setup_cas(node, errbuf, errcap);
    }
    if (rc == 0) {
        rc = recover(node, errbuf, errcap);
    }
    /* A node removed while it was running stopped at its boundary; started
     * again, its records prove it removed: it says so and does not start. */
    const struct void_membership_config *cur =
        rc == 0 ? void_pbft_member_config(node->replica) : NULL;
    if (rc == 0 && void_membership_find(cur, config->self_id) < 0 &&
        config->self_id < cur->id_next) {
        removed_message(node, errbuf, errcap);
        rc = VOID_EMEMBER_REMOVED;
    } else if (rc == 0 && void_membership_find(cur, config->self_id) < 0) {
        /* Never admitted: a node joining (docs/membership.md, "Joining a
         * running cluster"). The voters refuse its connections until its
         * JOIN executes; then it fetches state as a learner. */
        void_log(VOID_LOG_INFO,
                 "membership: node %u is not a member of epoch %llu: waiting for its JOIN "
                 "(voidctl member add --id %u ...)",
                 (unsigned)config->self_id,
                 (unsigned long long)cur->epoch,
                 (unsigned)config->self_id);
    }
    if (rc == 0) {
        (void)follow_epoch(node);
        rc = setup_member(node, errbuf, errcap);
    }
    for (uint32_t i = 0; rc == 0 && i < config->count_replicas; i++) {
        const struct void_config_replica *rp = &config->replicas[i];
        if (rp->id < VOID_CONFIG_REPLICAS_MAX) {
            node->task_loc[rp->id] = (struct void_sched_location){
                rp->topology.datacenter, rp->topology.rack, rp->topology.host};
        }
    }
    if (rc == 0) {
        node->task_setup.locations = node->task_loc;
        node->task_setup.location_count = VOID_CONFIG_REPLICAS_MAX;
        node->task_setup.submitters = config->task_submitters;
        node->task_setup.submitter_count = config->task_submitter_count;
        node->task_setup.observe = void__taskrun_observe;
        node->task_setup.observe_ctx = &node->taskrun;
        void_sm_task_setup(&node->replica->sm, &node->task_setup);
        /* Tasks (docs/scheduler.md, "Execution"): only with a client
         * identity to report under ([tasks] client_file; the environment
         * variable VOID_TASK_CLIENT overrides it). */
        const char *task_client = getenv("VOID_TASK_CLIENT");
        rc = void__taskrun_start(&node->taskrun, &node->loop, config, &node->cas, node->replica,
                                 &node->caswriter, task_client != NULL ? task_client : config->task_client_file,
                                 errbuf, errcap);
    }
    if (rc != 0) {
        void_node_free(node);
        return rc;
    }
    node->dirty = 1; /* the first loop iteration performs start's effects */
    publish(node);
    *out = node;
    return 0;
}

int void_node_run(struct void_node *node)
{
    VOID_ASSERT(node != NULL);
    VOID_ASSERT(node->loop_ready);
    const struct void_config_replica *self =
        void_config_replica_get(node->config, node->config->self_id);
    void_log(VOID_LOG_INFO,
             "listening on %s, http on %s, %u replicas (f=%u)",
             self->address.text,
             node->config->http.text,
             (unsigned)node->config->count_replicas,
             (unsigned)(node->config->count_replicas - 1) / 3);
    uv_run(&node->loop, UV_RUN_DEFAULT);
    void_log(VOID_LOG_INFO,
             "stopped: view=%llu executed=%llu",
             (unsigned long long)void_pbft_view(node->replica),
             (unsigned long long)void_pbft_last_executed(node->replica));
    return node->fatal;
}

int void_node_stopped_disk_full(const struct void_node *node)
{
    VOID_ASSERT(node != NULL);
    VOID_ASSERT(!node->disk_full || node->fatal != 0);
    return node->disk_full;
}

void void_node_free(struct void_node *node)
{
    if (node == NULL) {
        return;
    }
    if (node->web_ready) {
        void__node_web_stop(&node->web); /* ends the streams: before the server */
    }
    void_http_fini(&node->http);
    if (node->web_ready) {
        void__node_web_fini(&node->web);
        node->web_ready = 0;
    }
    if (node->loop_ready) {
        node_stop(node);
        if (node->transport_ready) {
            void_transport_fini(&node->transport);
        }
        if (node->ntp_ready) {
            void_ntp_client_close(&node->ntp, NULL);
        }
        uv_run(&node->loop, UV_RUN_DEFAULT); /* close callbacks */
        (void)uv_loop_close(&node->loop);
    }
    void_pstore_close(&node->store);
    void_cas_fini(&node->cas);
    if (node->replica_ready) {
        void_pbft_fini(node->replica);
    }
    if (node->state_open) {
        void_kvs_close(&node->state);
        node->state_open = 0;
    }
    void_log_setup(VOID_LOG_INFO, node->config->self_id, NULL);
    void__node_causal_fini(&node->causal);
    free(node->replica);
    for (int i = 0; i < 2; i++) {
        free(node->bufs[i].effects);
        free(node->bufs[i].persist);
        free(node->bufs[i].arena);
    }
    pthread_mutex_destroy(&node->lock);
    void__node_fault_fini(&node->fault);
    void__node_member_fini(&node->member);
    if (node->lock_fd >= 0) {
        (void)close(node->lock_fd); /* releases the flock: the last use of the directory */
    }
    free(node);
}
