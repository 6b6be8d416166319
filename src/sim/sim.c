/*
 * The simulator's run loop and node drivers. It plays the role the libuv
 * driver plays in voidd: it owns n PBFT replica cores and a few client cores,
 * feeds them frames and timer expiries at virtual times, and performs the
 * effects they return, in order, against the simulated network, clocks and
 * disks of sim_model.c. Persisted records follow the core's persistence rule:
 * a record is synced before the next non-persist effect is performed, so a
 * crash between steps loses exactly the records a real driver could lose.
 *
 * Determinism: one seed is split into per-purpose PRNG streams (network,
 * faults, workload, Byzantine, clocks), the queue breaks ties by insertion
 * order, and nothing reads a real clock, so a run and its trace are a pure
 * function of the configuration.
 */
#include "sim/sim_int.h"
#include "void/assert.h"
#include "void/bytes.h"
#include "void/codec.h"
#include "void/error.h"
#include "void/mac.h"
#include "void/membership.h"
#include "void/sigmemo.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#define SIM_EPOCH_NS   (1764000000ull * 1000000000ull) /* late 2025: a plausible wall clock */
#define SIM_TICK_EVERY 1
/* A replica's records are synced this long after its step (a group commit):
 * the batches they certify execute then (execute_after_durable). */
#define SIM_DURABLE_NS (500ull * 1000)
/* Signature memo size: 32768 slots (768 KiB) and an 8 MiB arena, forgotten
 * when half the slots or the arena are used. A full-size run makes and
 * checks a few thousand distinct signatures, so it rarely forgets. */
#define SIM_SIGMEMO_SLOTS_LOG2 15

/* ---- trace and violations ---------------------------------------------- */

void void__sim_trace(struct sim *s, const char *fmt, ...)
{
    char line[512];
    int head = snprintf(line,
                        sizeof(line),
                        "%" PRIu64 ".%09" PRIu64 " ",
                        s->now / 1000000000u,
                        s->now % 1000000000u);
    VOID_ASSERT(head > 0 && (size_t)head < sizeof(line));
    va_list ap;
    va_start(ap, fmt);
    int body = vsnprintf(line + head, sizeof(line) - (size_t)head - 1, fmt, ap);
    va_end(ap);
    size_t len = (size_t)head + (body < 0 ? 0 : (size_t)body);
    if (len > sizeof(line) - 2) {
        len = sizeof(line) - 2;
    }
    line[len++] = '\n';
    for (size_t i = 0; i < len; i++) {
        s->trace_hash = (s->trace_hash ^ (uint8_t)line[i]) * 0x100000001b3ull;
    }
    if (s->trace != NULL) {
        fwrite(line, 1, len, s->trace);
    }
}

void void__sim_violation(struct sim *s, const char *fmt, ...)
{
    if (s->res->violations++ == 0) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(s->res->violation, sizeof(s->res->violation), fmt, ap);
        va_end(ap);
        void__sim_trace(s, "VIOLATION %s", s->res->violation);
    }
}

static const char *msg_name(int type)
{
    const char *name = void_msg_type_name(type);
    return name != NULL ? name : "?";
}

/* ---- network ----------------------------------------------------------- */

int void__sim_transmit(struct sim *s, uint32_t from, uint32_t to, const uint8_t *frame, size_t len)
{
    VOID_ASSERT(from < s->count_nodes);
    VOID_ASSERT(to < s->count_nodes);
    uint64_t at[2];
    if (s->nodes[from].connect_ns > s->now || s->nodes[to].connect_ns > s->now) {
        /* A restarted node's links are still connecting (restart scenario):
         * what it sends, and what is sent to it, is lost. No draw from the
         * network stream, so the other frames' fates stay what they were. */
        s->res->frames_sent++;
        s->count_connecting++;
        void__sim_trace(s,
                        "drop n%u->n%u %s len=%zu: connecting",
                        from,
                        to,
                        len > 5 ? msg_name(frame[5]) : "short",
                        len);
        return 0;
    }
    int copies = void_simnet_route(&s->net, &s->rng_net, from, to, s->now, at);
    s->res->frames_sent++;
    if (copies == 0) {
        s->res->frames_dropped++;
        void__sim_trace(
            s, "drop n%u->n%u %s len=%zu", from, to, len > 5 ? msg_name(frame[5]) : "short", len);
        return 0;
    }
    for (int i = 0; i < copies; i++) {
        struct sim_frame *fr = malloc(sizeof(*fr) + (len == 0 ? 1 : len));
        if (fr == NULL) {
            return VOID_ENOMEM;
        }
        fr->len = len;
        if (len > 0) {
            memcpy(fr->bytes, frame, len);
        }
        struct void_simq_item it = {
            .at_ns = at[i], .kind = SIM_EV_DELIVER, .node = to, .arg = from, .data = fr};
        if (void_simq_push(&s->q, &it) != 0) {
            free(fr);
            return VOID_ENOMEM;
        }
    }
    return 0;
}

/* Sends one SEND effect of a replica or client: to one endpoint or, for
 * VOID_PBFT_TO_ALL, to every other replica. */
static int perform_send(struct sim *s, struct sim_node *node, const struct void_pbft_effect *e)
{
    uint32_t to = e->u.send.to;
    for (uint32_t r = 0; r < s->n; r++) {
        uint32_t dest = to == VOID_PBFT_TO_ALL ? r : to;
        if (to == VOID_PBFT_TO_ALL && r == node->id) {
            continue;
        }
        if (dest >= s->count_nodes) {
            void__sim_violation(s, "n%u sent to unknown endpoint %u", node->id, dest);
            return 0;
        }
        int rc = node->byzantine
                     ? void__sim_byz_send(s, node, dest, e->u.send.frame, e->u.send.len)
                     : void__sim_transmit(s, node->id, dest, e->u.send.frame, e->u.send.len);
        if (rc != 0) {
            return rc;
        }
        if (to != VOID_PBFT_TO_ALL) {
            break;
        }
    }
    return 0;
}

/* ---- disk ---------------------------------------------------------------- */

/* A disk record: kind u8 | key u64 | data. */
static int persist_record(struct sim_node *node, const struct void_pbft_effect *e)
{
    size_t len = 9 + e->u.persist.len;
    uint8_t *buf = malloc(len);
    if (buf == NULL) {
        return VOID_ENOMEM;
    }
    buf[0] = e->u.persist.record_kind;
    for (int i = 0; i < 8; i++) {
        buf[1 + i] = (uint8_t)(e->u.persist.key >> (56 - 8 * i));
    }
    if (e->u.persist.len > 0) {
        memcpy(buf + 9, e->u.persist.data, e->u.persist.len);
    }
    int rc = void_simdisk_append(&node->disk, buf, len);
    free(buf);
    return rc;
}

static uint64_t record_key(const struct void_simdisk_record *r)
{
    uint64_t key = 0;
    for (int i = 0; i < 8; i++) {
        key = key << 8 | r->data[1 + i];
    }
    return key;
}

/* Marks live[i] for the records that still count: the last one per
 * (kind, key), and no ENTRY covered by a later TRUNCATE. A backward pass. */
static int disk_live(const struct void_simdisk *d, uint8_t *live)
{
    uint64_t trunc = 0;
    int have_trunc = 0;
    size_t seen_cap = d->count + 1, seen_n = 0;
    uint64_t *seen = malloc(seen_cap * sizeof(uint64_t) * 2);
    if (seen == NULL) {
        return VOID_ENOMEM;
    }
    int count = 0;
    for (size_t i = d->count; i-- > 0;) {
        const struct void_simdisk_record *r = &d->records[i];
        live[i] = 0;
        uint8_t kind = r->data[0];
        uint64_t key = record_key(r);
        if (kind == VOID_PBFT_RECORD_TRUNCATE) {
            if (!have_trunc || key > trunc) {
                trunc = key;
                have_trunc = 1;
            }
            continue;
        }
        if (kind == VOID_PBFT_RECORD_ENTRY && have_trunc && key <= trunc) {
            continue;
        }
        int dup = 0;
        for (size_t j = 0; j < seen_n && !dup; j++) {
            dup = seen[2 * j] == kind && seen[2 * j + 1] == key;
        }
        if (!dup) {
            seen[2 * seen_n] = kind;
            seen[2 * seen_n + 1] = key;
            seen_n++;
            live[i] = 1;
            count++;
        }
    }
    free(seen);
    return count;
}

/* Rewrites the (fully synced) disk with only its live records, as a real
 * store's replace-by-key semantics would keep it. */
static int disk_compact(struct sim_node *node)
{
    struct void_simdisk *d = &node->disk;
    VOID_ASSERT(d->synced == d->count);
    uint8_t *live = malloc(d->count + 1);
    if (live == NULL) {
        return VOID_ENOMEM;
    }
    int rc = disk_live(d, live);
    if (rc < 0) {
        free(live);
        return rc;
    }
    size_t w = 0;
    for (size_t i = 0; i < d->count; i++) {
        if (live[i]) {
            d->records[w++] = d->records[i];
        } else {
            free(d->records[i].data);
        }
    }
    d->count = w;
    d->synced = w;
    free(live);
    return 0;
}

/* ---- effects ----------------------------------------------------------- */

static void perform_event(struct sim *s, struct sim_node *node, const struct void_pbft_event *ev)
{
    node->last_event_seq = ev->local_seq;
    void__sim_causal_event(s, node, ev);
    void__sim_member_event(s, node, ev);
    if (ev->kind == VOID_PBFT_EVENT_COMMIT) {
        void__sim_trace(s,
                        "n%u commit view=%" PRIu64 " seq=%" PRIu64 " digest=%02x%02x%02x%02x%s",
                        node->id,
                        ev->view,
                        ev->seq,
                        ev->digest[0],
                        ev->digest[1],
                        ev->digest[2],
                        ev->digest[3],
                        node->byzantine ? " (byzantine)" : "");
        if (!node->byzantine) {
            if (ev->seq > s->res->seq_executed) {
                s->res->seq_executed = ev->seq;
            }
            if (void_check_agreement_record(&s->agree, node->id, ev->seq, ev->digest) == 1) {
                void__sim_violation(s, "%s", s->agree.msg);
            }
            void__sim_task_check(s, node);
            void_check_view_commit(&s->view, s->now, ev->view);
        }
    }
    if (node->byzantine) {
        return;
    }
    struct void_check_event ce = {.node = node->id, .seq = ev->local_seq, .hlc = ev->hlc};
    if (ev->kind == VOID_PBFT_EVENT_RECEIVE && ev->remote_node < s->count_nodes &&
        !s->nodes[ev->remote_node].byzantine) {
        /* An edge from a Byzantine sender proves nothing: its events are not
         * in the log, and it may name any parent it likes. */
        ce.remote_node = ev->remote_node;
        ce.remote_seq = ev->remote_seq;
    }
    int rc = void_check_hlc_event(&s->hlc, &ce);
    if (rc == 1) {
        void__sim_violation(s, "%s", s->hlc.msg);
    } else if (rc < 0) {
        s->oom = 1;
    }
}

static void
perform_timer(struct sim *s, struct sim_node *node, const struct void_pbft_effect *e, int set)
{
    uint32_t t = e->u.timer.timer;
    VOID_ASSERT(t < SIM_TIMERS);
    node->timer_gen[t]++;
    if (!set) {
        return;
    }
    struct void_simq_item it = {.at_ns = s->now + e->u.timer.delay_ns,
                                .kind = SIM_EV_TIMER,
                                .node = node->id,
                                .arg = (uint64_t)t << 32 | node->timer_gen[t]};
    if (void_simq_push(&s->q, &it) != 0) {
        s->oom = 1;
    }
}

int void__sim_perform(struct sim *s, struct sim_node *node)
{
    VOID_ASSERT(node != NULL);
    if (s->out.overflow) {
        void__sim_trace(s, "n%u output overflow", node->id);
    }
    int rc = 0;
    for (uint32_t i = 0; i < s->out.count && rc == 0; i++) {
        const struct void_pbft_effect *e = &s->effects[i];
        if (e->kind == VOID_PBFT_EFFECT_PERSIST) {
            rc = persist_record(node, e);
            continue;
        }
        /* The persistence rule: what was persisted is durable before any
         * later effect is performed. */
        void_simdisk_sync(&node->disk);
        switch ((enum void_pbft_effect_kind)e->kind) {
        case VOID_PBFT_EFFECT_SEND:
            rc = perform_send(s, node, e);
            break;
        case VOID_PBFT_EFFECT_TIMER_SET:
            perform_timer(s, node, e, 1);
            break;
        case VOID_PBFT_EFFECT_TIMER_CANCEL:
            perform_timer(s, node, e, 0);
            break;
        case VOID_PBFT_EFFECT_EVENT:
            perform_event(s, node, &e->u.event);
            break;
        case VOID_PBFT_EFFECT_PERSIST:
            break;
        }
    }
    void_pbft_out_reset(&s->out);
    if (!node->is_client && node->replica != NULL && node->up) {
        void__sim_member_step(s, node);
    }
    if (rc == 0 && !node->is_client && node->disk.synced == node->disk.count &&
        node->disk.count > 4096) {
        rc = disk_compact(node);
    }
    return rc != 0 ? rc : (s->oom ? VOID_ENOMEM : 0);
}

/* ---- replicas: start, crash, restart --------------------------------------- */

static uint64_t phys_now(const struct sim *s, const struct sim_node *node)
{
    return void_simclock_read(&node->clock, s->now);
}

static int replica_init(struct sim *s, struct sim_node *node)
{
    struct void_pbft_config c = {
        .n = s->n,
        .genesis_n = void__sim_member_genesis(s), /* join mode: the last one joins */
        .self = node->id,
        .event_seq_start = node->last_event_seq + 1,
        .verify_signatures = s->cfg->verify_signatures,
        .pipeline_max = s->cfg->pipeline,
        .rejoin_beacon = s->cfg->rejoin_beacon,
        .keyring = &s->ring,
        .keypair = &node->kp,
        .kvs = &node->store,
        /* Membership changes: one removal may leave n - 1 voters. */
        .admin_key = s->member.admin_on ? s->member.admin.public_key : NULL,
        .voters_min = s->member.on ? s->member.voters_min : 0,
        .execute_after_durable = 1, /* as voidd: SIM_EV_DURABLE */
    };
    if (!node->store_open) {
        int rc = void_kvs_mem_init(&node->store, NULL);
        if (rc != 0) {
            return rc;
        }
        node->store_open = 1;
    }
    return void_pbft_init(node->replica, &c);
}

/* With link_hints, every client hears that replica id went down or came
 * back, as a client's transport sees its TCP link drop and reconnect. */
static void link_hint(struct sim *s, uint32_t id, int up)
{
    if (!s->cfg->link_hints) {
        return;
    }
    void__sim_trace(s, "clients see n%u link %s", id, up ? "up" : "down");
    for (uint32_t i = s->n; i < s->count_nodes; i++) {
        if (s->nodes[i].client != NULL) {
            void_pbft_client_link(s->nodes[i].client, id, up);
        }
    }
}

void void__sim_crash(struct sim *s, uint32_t id, uint64_t down_ns)
{
    struct sim_node *node = &s->nodes[id];
    VOID_ASSERT(!node->is_client);
    if (!node->up) {
        return;
    }
    size_t lost = void_simdisk_crash(&node->disk);
    void__sim_trace(s,
                    "n%u CRASH (%zu unsynced records lost), restart in %" PRIu64 " ms",
                    id,
                    lost,
                    down_ns / 1000000u);
    node->up = 0;
    node->crash_gen++;
    node->durable_sched = 0; /* the recovered replica counts its marks from 0 */
    s->res->crashes++;
    link_hint(s, id, 0);
    for (uint32_t t = 0; t < SIM_TIMERS; t++) {
        node->timer_gen[t]++;
    }
    void_pbft_fini(node->replica);
    memset(node->replica, 0, sizeof(*node->replica));
    struct void_simq_item it = {.at_ns = s->now + down_ns, .kind = SIM_EV_RESTART, .node = id};
    if (void_simq_push(&s->q, &it) != 0) {
        s->oom = 1;
    }
}

static int replica_restart(struct sim *s, struct sim_node *node)
{
    int rc = disk_compact(node);
    if (rc != 0) {
        return rc;
    }
    rc = replica_init(s, node);
    if (rc != 0) {
        return rc;
    }
    struct void_pbft_record *recs = calloc(node->disk.count + 1, sizeof(*recs));
    if (recs == NULL) {
        return VOID_ENOMEM;
    }
    for (size_t i = 0; i < node->disk.count; i++) {
        const struct void_simdisk_record *r = &node->disk.records[i];
        recs[i] = (struct void_pbft_record){
            .kind = r->data[0], .key = record_key(r), .data = r->data + 9, .len = r->len - 9};
    }
    rc = void_pbft_recover(node->replica, phys_now(s, node), recs, node->disk.count, &s->out);
    free(recs);
    node->up = 1;
    if (node->connect_delay_ns > 0) {
        node->connect_ns = s->now + node->connect_delay_ns;
        node->connect_delay_ns = 0;
        void__sim_trace(
            s, "n%u links connect in %" PRIu64 " ms", node->id, (node->connect_ns - s->now) / 1000000u);
    }
    link_hint(s, node->id, 1);
    void__sim_trace(s,
                    "n%u RESTART from %zu records: view=%" PRIu64 " executed=%" PRIu64
                    " low=%" PRIu64 " rc=%d",
                    node->id,
                    node->disk.count,
                    void_pbft_view(node->replica),
                    void_pbft_last_executed(node->replica),
                    void_pbft_low_watermark(node->replica),
                    rc);
    if (rc == VOID_ECORRUPT) {
        void__sim_violation(
            s, "n%u cannot recover from its own synced records (%s)", node->id, void_strerror(rc));
        rc = 0;
    }
    rc = void__sim_perform(s, node);
    return rc != 0 ? rc : void__sim_detect_start(s, node);
}

/* ---- event dispatch -------------------------------------------------------- */

/* Performs a replica step's effects. A step that overflowed its output is
 * not an error (the protocol retransmits); any other error is a local
 * failure of the replica's store, which stops the run as voidd stops. */
static int replica_done(struct sim *s, struct sim_node *node, int step_rc)
{
    int rc = void__sim_perform(s, node);
    uint64_t mark = node->up ? void_pbft_persist_mark(node->replica) : 0;
    if (rc == 0 && mark > node->durable_sched) {
        /* The disk syncs the step's records a little later, as voidd's
         * group commit does; the batches they certify execute then
         * (execute_after_durable). A crash in between finds the records
         * durable or not, and the store behind them. */
        VOID_ASSERT(mark < (UINT64_C(1) << 48));
        struct void_simq_item it = {.at_ns = s->now + SIM_DURABLE_NS,
                                    .kind = SIM_EV_DURABLE,
                                    .node = node->id,
                                    .arg = (node->crash_gen & 0xffffu) << 48 | mark};
        node->durable_sched = mark;
        if (void_simq_push(&s->q, &it) != 0) {
            s->oom = 1;
        }
    }
    if (step_rc != 0 && step_rc != VOID_EFULL) {
        void__sim_trace(s, "n%u store failed: %s", node->id, void_strerror(step_rc));
        return step_rc;
    }
    return rc;
}

static int deliver(struct sim *s, struct sim_node *node, uint32_t from, struct sim_frame *fr)
{
    void__sim_trace(s,
                    "recv n%u<-n%u %s len=%zu",
                    node->id,
                    from,
                    fr->len > 5 ? msg_name(fr->bytes[5]) : "short",
                    fr->len);
    if (node->is_client) {
        int rc = void_pbft_client_step_receive(
            node->client, phys_now(s, node), fr->bytes, fr->len, &s->out);
        int prc = void__sim_perform(s, node);
        if (prc != 0) {
            return prc;
        }
        return rc == 1 ? void__sim_client_done(s, node) : 0;
    }
    if (!node->up) {
        return 0;
    }
    if (fr->len >= VOID_CODEC_HEADER_SIZE && void_bytes_get_be32(fr->bytes + 8) != from &&
        !void_msg_relayable(fr->bytes[5])) {
        void__sim_trace(s, "drop n%u<-n%u: not the author's link", node->id, from);
        return 0; /* as the transport does (codec.h) */
    }
    if (s->member.autorm && fr->len > 5 && fr->bytes[5] == VOID_MSG_HEARTBEAT) {
        return void__sim_detect_deliver(s, node, from, fr->bytes, fr->len);
    }
    if (node->byzantine) {
        void__sim_byz_remember(node, fr->bytes, fr->len);
        if (void__sim_byz_ignores(s, from, fr->bytes, fr->len)) {
            return 0;
        }
    }
    int rc = void_pbft_step_receive(node->replica, phys_now(s, node), fr->bytes, fr->len, &s->out);
    return replica_done(s, node, rc);
}

/* The records up to a persist mark are durable (SIM_EV_DURABLE). */
static int fire_durable(struct sim *s, struct sim_node *node, uint64_t arg)
{
    VOID_ASSERT(!node->is_client);
    if (!node->up || (arg >> 48) != (node->crash_gen & 0xffffu)) {
        return 0; /* queued before a crash: that life's records were synced or lost then */
    }
    void_simdisk_sync(&node->disk);
    uint64_t mark = arg & ((UINT64_C(1) << 48) - 1u);
    int rc = void_pbft_step_durable(node->replica, phys_now(s, node), mark, &s->out);
    return replica_done(s, node, rc);
}

static int fire_timer(struct sim *s, struct sim_node *node, uint64_t arg)
{
    uint32_t t = (uint32_t)(arg >> 32);
    uint32_t gen = (uint32_t)arg;
    VOID_ASSERT(t < SIM_TIMERS);
    if ((uint32_t)node->timer_gen[t] != gen) {
        return 0; /* cancelled or re-armed since */
    }
    if (node->is_client) {
        (void)void_pbft_client_step_timer(node->client, phys_now(s, node), &s->out);
        return void__sim_perform(s, node);
    }
    if (!node->up) {
        return 0;
    }
    if (t != VOID_PBFT_TIMER_RETRANSMIT) {
        void__sim_trace(s,
                        "n%u timer %s view=%" PRIu64,
                        node->id,
                        t == VOID_PBFT_TIMER_REQUEST ? "request" : "view-change",
                        void_pbft_view(node->replica));
    }
    int rc =
        void_pbft_step_timer(node->replica, phys_now(s, node), (enum void_pbft_timer)t, &s->out);
    return replica_done(s, node, rc);
}

static int dispatch(struct sim *s, const struct void_simq_item *it)
{
    struct sim_node *node = &s->nodes[it->node];
    switch ((enum sim_ev)it->kind) {
    case SIM_EV_DELIVER: {
        int rc = deliver(s, node, (uint32_t)it->arg, it->data);
        free(it->data);
        return rc;
    }
    case SIM_EV_TIMER:
        return fire_timer(s, node, it->arg);
    case SIM_EV_SUBMIT:
        return void__sim_client_submit(s, node);
    case SIM_EV_FAULT:
        void__sim_fault_fire(s, (size_t)it->arg);
        return s->oom ? VOID_ENOMEM : 0;
    case SIM_EV_RESTART:
        return replica_restart(s, node);
    case SIM_EV_DURABLE:
        return fire_durable(s, node, it->arg);
    case SIM_EV_DETECT:
        return void__sim_detect_tick(s, node, it->arg);
    }
    return VOID_EINTERNAL;
}

/* ---- setup ------------------------------------------------------------------- */

static int node_keys(struct sim *s, struct sim_node *node)
{
    uint8_t seed[VOID_SIGN_SEED_SIZE] = {0};
    /* Keys depend only on the node id, so they are the same in every run
     * (and a failing run's trace reads the same). */
    seed[0] = 'v';
    seed[1] = (uint8_t)node->id;
    int rc = void_sign_keypair_from_seed(&node->kp, seed);
    if (rc != 0) {
        return rc;
    }
    return void_keyring_add(&s->ring, node->id, node->kp.public_key);
}

static int setup_nodes(struct sim *s)
{
    void_keyring_init(&s->ring);
    for (uint32_t i = 0; i < s->count_nodes; i++) {
        struct sim_node *node = &s->nodes[i];
        node->id = i;
        node->is_client = i >= s->n;
        node->clock.epoch_ns = SIM_EPOCH_NS;
        void_simdisk_init(&node->disk);
        int rc = node_keys(s, node);
        if (rc != 0) {
            return rc;
        }
    }
    /* The Byzantine replicas are consecutive from a random one, so that
     * replica 0 (the first primary) is honest in some runs and Byzantine in
     * others, and view changes bring Byzantine primaries. */
    uint32_t first_byz = (uint32_t)void_prng_below(&s->rng_byz, s->n);
    if ((s->cfg->strategies & (1u << VOID_SIM_BYZ_SPLIT_BIT)) != 0) {
        /* SPLIT courts victims among the backups of an honest first
         * primary (a Byzantine primary would have to forge its way into the
         * view change as well). */
        first_byz = 1 + first_byz % (s->n - s->cfg->byzantine);
    }
    for (uint32_t k = 0; k < s->cfg->byzantine; k++) {
        struct sim_node *b = &s->nodes[(first_byz + k) % s->n];
        b->byzantine = 1;
        b->silent_mask = (uint32_t)void_prng_below(&s->rng_byz, 1u << s->n) & ~(1u << b->id);
    }
    for (uint32_t r = 0; r < s->n; r++) {
        if (!s->nodes[r].byzantine && void_prng_chance(&s->rng_byz, 1, 2)) {
            s->byz_group_b |= 1u << r;
        }
    }
    void__sim_byz_plan(s);
    void__sim_member_plan(s);
    return 0;
}

static int start_replicas(struct sim *s)
{
    for (uint32_t i = 0; i < s->n; i++) {
        struct sim_node *node = &s->nodes[i];
        /* Not calloc: void_pbft_init clears all 3 MB of it anyway. */
        node->replica = malloc(sizeof(*node->replica));
        if (node->replica == NULL) {
            return VOID_ENOMEM;
        }
        int rc = replica_init(s, node);
        if (rc != 0) {
            return rc;
        }
        node->up = 1;
        rc = void_pbft_start(node->replica, phys_now(s, node), &s->out);
        if (rc == 0) {
            rc = void__sim_perform(s, node);
        }
        if (rc == 0) {
            rc = void__sim_detect_start(s, node);
        }
        if (rc != 0) {
            return rc;
        }
    }
    return 0;
}

static int start_clients(struct sim *s)
{
    uint32_t clients = s->count_nodes - s->n;
    for (uint32_t c = 0; c < clients; c++) {
        struct sim_node *node = &s->nodes[s->n + c];
        node->client = calloc(1, sizeof(*node->client));
        if (node->client == NULL) {
            return VOID_ENOMEM;
        }
        struct void_pbft_client_config cc = {
            .id = node->id,
            .n = s->n,
            .genesis_n = void__sim_member_genesis(s),
            .first_reqno = 1,
            .event_seq_start = 1,
            .verify_signatures = s->cfg->verify_signatures,
            .keyring = &s->ring,
            .keypair = &node->kp,
        };
        if (s->member.autorm) {
            /* A certified REMOVE of several suspects outgrows the inline
             * 1 KiB (three of n = 10: 1,706 bytes); only these runs pay
             * for the room, so the others run as before. */
            node->big = malloc(VOID_PBFT_CLIENT_BIG);
            if (node->big == NULL) {
                return VOID_ENOMEM;
            }
            cc.big = node->big;
            cc.big_len = VOID_PBFT_CLIENT_BIG;
        }
        int rc = void_pbft_client_init(node->client, &cc);
        if (rc != 0) {
            return rc;
        }
        node->ops_left = s->cfg->requests / clients + (c < s->cfg->requests % clients ? 1 : 0);
        node->up = 1;
        struct void_simq_item it = {.at_ns = void_prng_range(&s->rng_work, 1000000, 50000000),
                                    .kind = SIM_EV_SUBMIT,
                                    .node = node->id};
        if (void_simq_push(&s->q, &it) != 0) {
            return VOID_ENOMEM;
        }
    }
    return 0;
}

static void seed_streams(struct sim *s, uint64_t seed)
{
    uint64_t sm = seed ^ 0x5eed5eed5eed5eedull;
    void_prng_seed(&s->rng_net, void_prng_splitmix64(&sm));
    void_prng_seed(&s->rng_fault, void_prng_splitmix64(&sm));
    void_prng_seed(&s->rng_work, void_prng_splitmix64(&sm));
    void_prng_seed(&s->rng_byz, void_prng_splitmix64(&sm));
    void_prng_seed(&s->rng_clock, void_prng_splitmix64(&sm));
}

static int sim_setup(struct sim *s)
{
    seed_streams(s, s->cfg->seed);
    s->effects = calloc(VOID_PBFT_OUT_EFFECTS_DEF, sizeof(*s->effects));
    s->arena = malloc(VOID_PBFT_OUT_ARENA_DEF);
    s->scratch = malloc(VOID_CODEC_FRAME_MAX);
    if (s->effects == NULL || s->arena == NULL || s->scratch == NULL) {
        return VOID_ENOMEM;
    }
    void_pbft_out_init(
        &s->out, s->effects, VOID_PBFT_OUT_EFFECTS_DEF, s->arena, VOID_PBFT_OUT_ARENA_DEF);
    void_simq_init(&s->q);
    void_check_agreement_init(&s->agree);
    void_check_agreement_init(&s->task_agree);
    int rc = void_check_hlc_init(&s->hlc, s->count_nodes);
    if (rc == 0) {
        rc = void__sim_causal_init(s);
    }
    if (rc == 0) {
        rc = setup_nodes(s);
    }
    if (rc == 0) {
        rc = void_simnet_init(&s->net, s->count_nodes, &s->baseline);
    }
    if (rc == 0) {
        rc = void__sim_faults_plan(s);
    }
    if (rc == 0) {
        uint32_t byz = s->cfg->byzantine;
        uint64_t bound = s->cfg->view_bound_ns != 0 ? s->cfg->view_bound_ns : VOID_SIM_VIEW_BOUND_NS_DEF;
        /* The honest part of a quorum (2f + 1 only when n = 3f + 1): with
         * 2f + 1 - byz, two views could both count as the cluster's at n = 5. */
        rc = void_check_view_init(&s->view, s->n, void_membership_quorum(s->n) - byz, s->heal_ns, bound);
    }
    if (rc == 0) {
        rc = start_replicas(s);
    }
    if (rc == 0) {
        rc = start_clients(s);
    }
    return rc;
}

static void sim_teardown(struct sim *s)
{
    struct void_simq_item it;
    while (void_simq_pop(&s->q, &it) == 0) {
        free(it.data);
    }
    void_simq_fini(&s->q);
    for (uint32_t i = 0; i < s->count_nodes; i++) {
        struct sim_node *node = &s->nodes[i];
        if (node->replica != NULL) {
            void_pbft_fini(node->replica);
            free(node->replica);
        }
        if (node->store_open) {
            void_kvs_close(&node->store);
            node->store_open = 0;
        }
        free(node->client);
        free(node->big);
        void_simdisk_fini(&node->disk);
        void__sim_byz_fini(node);
        void_sign_keypair_wipe(&node->kp);
    }
    void_check_agreement_fini(&s->agree);
    void_check_agreement_fini(&s->task_agree);
    void_check_hlc_fini(&s->hlc);
    void__sim_causal_fini(s);
    void__sim_detect_fini(s);
    free(s->faults);
    free(s->ops);
    free(s->extra);
    free(s->effects);
    free(s->arena);
    free(s->scratch);
}

/* ---- the run ------------------------------------------------------------------- */

static int all_clients_done(const struct sim *s)
{
    if (s->member.count_certs > 0) {
        return 0; /* a certified removal waits for a client */
    }
    for (uint32_t i = s->n; i < s->count_nodes; i++) {
        if (s->nodes[i].ops_left > 0 || s->nodes[i].busy) {
            return 0;
        }
    }
    return 1;
}

/* The view checker looks at the honest replicas after every event. */
static void check_views(struct sim *s)
{
    struct void_check_view_node nodes[VOID_CHECK_VIEW_NODES_MAX];
    VOID_ASSERT(s->n <= VOID_CHECK_VIEW_NODES_MAX);
    VOID_ASSERT(s->now >= s->heal_ns);
    for (uint32_t i = 0; i < s->n; i++) {
        const struct sim_node *node = &s->nodes[i];
        nodes[i].honest_up = !node->byzantine && node->up && !void__sim_member_removed(s, i);
        nodes[i].view = node->up ? void_pbft_view(node->replica) : 0;
        nodes[i].changing = node->up ? void_pbft_view_changing(node->replica) : 0;
    }
    if (void_check_view_step(&s->view, s->now, nodes) != 0 && s->view.count_violations == 1) {
        void__sim_violation(s, "%s", s->view.msg);
    }
}

static int sim_loop(struct sim *s)
{
    struct void_simq_item it;
    while (void_simq_peek_time(&s->q) <= s->stop_ns) {
        int rc = void_simq_pop(&s->q, &it);
        VOID_ASSERT(rc == 0);
        VOID_ASSERT(it.at_ns >= s->now);
        s->now = it.at_ns;
        rc = dispatch(s, &it);
        if (rc != 0) {
            return rc;
        }
        if (s->now >= s->heal_ns) {
            check_views(s);
        }
        if (s->now >= s->heal_ns && all_clients_done(s)) {
            break;
        }
    }
    return 0;
}

static void sim_summarise(struct sim *s)
{
    struct void_sim_result *r = s->res;
    r->end_ns = s->now;
    r->heal_ns = s->heal_ns;
    r->events = s->hlc.count_events;
    for (uint32_t i = 0; i < s->n; i++) {
        const struct sim_node *node = &s->nodes[i];
        if (!node->byzantine && node->up && void_pbft_view(node->replica) > r->view_max) {
            r->view_max = void_pbft_view(node->replica);
        }
        if (!node->byzantine && node->up) {
            r->state_transfers += void_pbft_stats(node->replica)->state_transfers;
            r->catchup_batches += void_pbft_stats(node->replica)->catchup_batches;
        }
    }
    r->frames_dropped = s->net.count_lost + s->net.count_cut + s->count_connecting;
    r->out_of_view_ns_max = s->view.out_ns_max;
    void__sim_causal_finish(s);
    void__sim_member_finish(s);
    void__sim_client_check(s);
    if (r->requests_pending > 0) {
        void__sim_violation(s,
                            "liveness: %" PRIu64 " requests still pending %.1f s after the last "
                            "fault healed (bound %.1f s)",
                            r->requests_pending,
                            (double)(s->now - s->heal_ns) / 1e9,
                            (double)s->cfg->liveness_bound_ns / 1e9);
    }
    void__sim_trace(s,
                    "end seq=%" PRIu64 " view=%" PRIu64 " done=%" PRIu64 " pending=%" PRIu64
                    " violations=%u",
                    r->seq_executed,
                    r->view_max,
                    r->requests_done,
                    r->requests_pending,
                    r->violations);
    r->trace_hash = s->trace_hash;
}

/* The memo of MAC keys lives as long as the process: the nodes' keys are
 * the same in every run (node_keys), so after the first runs every pair is
 * answered from it. */
static struct void_mac_memo mac_memo;

/* sim_setup, sim_loop and sim_summarise under the signature memo and the
 * MAC key memo if the configuration asks for them. The memos change no
 * answer, so nothing of them reaches the trace; the signature memo's
 * counters go to the result. */
static int sim_run_memo(struct sim *s)
{
    struct void_sigmemo memo;
    int rc = 0;
    if (s->cfg->sig_memo) {
        if (mac_memo.slots == NULL && (rc = void_mac_memo_init(&mac_memo, 12)) != 0) {
            return rc;
        }
        rc = void_sigmemo_init(&memo, SIM_SIGMEMO_SLOTS_LOG2);
        if (rc != 0) {
            return rc;
        }
        void_sigmemo_install(&memo);
        void_mac_memo_install(&mac_memo);
    }
    rc = sim_setup(s);
    if (rc == 0) {
        rc = sim_loop(s);
    }
    if (rc == 0) {
        sim_summarise(s);
    }
    if (s->cfg->sig_memo) {
        void_mac_memo_install(NULL);
        void_sigmemo_uninstall();
        s->res->sig_memo_hits = memo.hits;
        s->res->sig_memo_misses = memo.misses;
        void_sigmemo_fini(&memo);
    }
    return rc;
}

int void_sim_run(const struct void_sim_config *config, struct void_sim_result *result)
{
    VOID_ASSERT(config != NULL);
    VOID_ASSERT(result != NULL);
    memset(result, 0, sizeof(*result));
    if (config->n < 4 || config->n > VOID_SIM_N_MAX || config->byzantine > (config->n - 1) / 3 ||
        config->clients == 0 || config->clients > VOID_SIM_CLIENTS_MAX ||
        config->n + config->clients > VOID_KEYRING_MAX ||
        (config->byzantine > 0 && !config->verify_signatures)) {
        /* Byzantine runs always verify: a forged frame must be caught by
         * the signature check, not waved through. */
        return VOID_EINVAL;
    }
    struct sim *s = calloc(1, sizeof(*s));
    if (s == NULL) {
        return VOID_ENOMEM;
    }
    s->cfg = config;
    s->res = result;
    s->n = config->n;
    s->f = (config->n - 1) / 3;
    s->count_nodes = config->n + config->clients;
    s->trace = config->trace;
    s->trace_hash = 0xcbf29ce484222325ull;
    void__sim_trace(s,
                    "voidsim seed=%" PRIu64 " n=%u byzantine=%u faults=%#x strategies=%#x "
                    "clients=%u requests=%u verify=%d",
                    config->seed,
                    config->n,
                    config->byzantine,
                    config->faults,
                    config->strategies,
                    config->clients,
                    config->requests,
                    config->verify_signatures);
    int rc = sim_run_memo(s);
    sim_teardown(s);
    free(s);
    return rc;
}
