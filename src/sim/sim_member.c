/*
 * Membership changes in the simulator (docs/simulator.md, Membership;
 * docs/membership.md, "Changes through PBFT"). With config.member_changes,
 * an admin key is in every replica's configuration and, at a time drawn
 * from the seed inside the fault window, the first client sends an
 * admin-signed REMOVE of one replica (a Byzantine one if there is any, so
 * that the cluster after the change still has at most f faulty voters) in
 * place of its next operation. The removed replica goes on running (and a
 * Byzantine one goes on with its strategies): its frames must be dropped
 * and counted.
 *
 * The checker: every honest replica enters the same epochs at the same
 * sequence numbers (the EPOCH events), and after each step no honest
 * replica holds a vote from a replica outside its epoch's voters (the vote
 * masks of its log window and checkpoint slots).
 */
#include "sim_int.h"
#include "void/assert.h"
#include "void/bytes.h"
#include "void/codec.h"
#include "void/error.h"
#include "void/membership.h"
#include "void/sign.h"
#include "void/sm.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void void__sim_member_plan(struct sim *s)
{
    VOID_ASSERT(s != NULL && s->cfg != NULL);
    memset(&s->member, 0, sizeof(s->member));
    if (s->cfg->auto_remove && !s->cfg->member_changes) {
        /* Removals must never leave more Byzantine voters than the new f
         * tolerates, nor fewer than 4 voters. */
        uint32_t min = 3 * s->cfg->byzantine + 1;
        s->member.on = 1;
        s->member.autorm = 1;
        s->member.voters_min = (uint16_t)(min > 4 ? min : 4);
        s->member.voters_of[1] = s->n;
        return;
    }
    if (!s->cfg->member_changes) {
        return;
    }
    s->member.admin_on = 1;
    s->member.voters_min = (uint16_t)(s->n - 1);
    /* A stream of its own, so that the other draws of a seed stay as they
     * were without membership changes. */
    struct void_prng rng;
    void_prng_seed(&rng, s->cfg->seed ^ 0x6d656d6265727321ull);
    uint8_t seed[VOID_SIGN_SEED_SIZE] = {'a', 'd', 'm', 'i', 'n'};
    int rc = void_sign_keypair_from_seed(&s->member.admin, seed);
    VOID_ASSERT(rc == 0);
    s->member.on = 1;
    s->member.target = UINT32_MAX;
    for (uint32_t i = 0; i < s->n && s->member.target == UINT32_MAX; i++) {
        if (s->nodes[i].byzantine) {
            s->member.target = i;
        }
    }
    if (s->member.target == UINT32_MAX) {
        s->member.target = (uint32_t)void_prng_below(&rng, s->n);
    }
    uint64_t window = s->cfg->fault_window_ns > 0 ? s->cfg->fault_window_ns : 1000000000ull;
    s->member.at_ns = void_prng_range(&rng, window / 10, window);
    VOID_ASSERT(s->member.target < s->n);
    /* Join mode in half the runs where it keeps the fault bound: the last
     * replica starts outside the genesis and is honest, and the genesis'
     * f covers the Byzantine replicas. */
    uint32_t last = s->n - 1;
    if (void_prng_below(&rng, 2) == 1 && last >= 4 && !s->nodes[last].byzantine &&
        3 * s->cfg->byzantine + 1 <= last) {
        s->member.join = 1;
        s->member.target = last;
        s->member.genesis_n = last;
        s->member.voters_min = (uint16_t)last;
    }
}

/* The genesis of every replica and client: config.genesis_n. */
uint32_t void__sim_member_genesis(const struct sim *s)
{
    VOID_ASSERT(s != NULL);
    return s->member.join ? s->member.genesis_n : 0;
}

int void__sim_member_due(const struct sim *s, const struct sim_node *node)
{
    VOID_ASSERT(s != NULL && node != NULL);
    if (!s->member.admin_on || node->id != s->n) {
        return 0;
    }
    if (s->member.join) {
        const struct sim_node *j = &s->nodes[s->member.target];
        return (s->member.stage == 0 && s->now >= s->member.at_ns) ||
               (s->member.stage == 2 && s->now >= s->member.promote_at_ns && j->up);
    }
    return !s->member.sent && s->now >= s->member.at_ns;
}

int void__sim_member_wants(const struct sim *s, const struct sim_node *node, uint64_t *at_ns)
{
    VOID_ASSERT(s != NULL && node != NULL && at_ns != NULL);
    if (!s->member.join || node->id != s->n || s->member.stage != 2) {
        return 0;
    }
    *at_ns = s->member.promote_at_ns;
    return 1;
}

/* The JOIN of the last replica, or its PROMOTE with its signed progress. */
static int join_op(struct sim *s, uint8_t *enc, size_t cap)
{
    struct sim_node *j = &s->nodes[s->member.target];
    int len;
    if (s->member.stage == 0) {
        struct void_sm_member_join m = {.epoch = 1};
        m.member.id = j->id;
        m.member.role = VOID_MEMBER_LEARNER;
        memcpy(m.member.public_key, j->kp.public_key, VOID_SIGN_PUBLIC_KEY_SIZE);
        snprintf(m.member.address, sizeof(m.member.address), "sim:%u", j->id);
        snprintf(m.member.datacenter, sizeof(m.member.datacenter), "dc%u", j->id % 3);
        len = void_sm_member_join_encode(&m, enc, cap);
        VOID_ASSERT(len > VOID_SIGN_SIZE);
        s->member.stage = 1;
        void__sim_trace(s, "admin: join n%u", j->id);
        int rc = void_sign(&s->member.admin,
                           VOID_SIGN_DOMAIN_MEMBER,
                           enc,
                           (size_t)len - VOID_SIGN_SIZE,
                           enc + len - VOID_SIGN_SIZE);
        VOID_ASSERT(rc == 0);
        return len;
    }
    VOID_ASSERT(s->member.stage == 2 && j->up);
    struct void_sm_member_promote p = {
        .id = j->id, .epoch = 2, .executed = void_pbft_last_executed(j->replica)};
    uint8_t msg[VOID_SM_MEMBER_PROGRESS_SIZE];
    void_sm_member_progress_message(p.id, p.executed, msg);
    int rc = void_sign(&j->kp, VOID_SIGN_DOMAIN_PROGRESS, msg, sizeof(msg), p.learner_sig);
    VOID_ASSERT(rc == 0);
    len = void_sm_member_promote_encode(&p, enc, cap);
    VOID_ASSERT(len == VOID_SM_MEMBER_PROMOTE_SIZE);
    rc = void_sign(&s->member.admin,
                   VOID_SIGN_DOMAIN_MEMBER,
                   enc,
                   VOID_SM_MEMBER_PROMOTE_SIGNED,
                   enc + VOID_SM_MEMBER_PROMOTE_SIGNED);
    VOID_ASSERT(rc == 0);
    s->member.stage = 3;
    s->member.promote_tries++;
    void__sim_trace(s, "admin: promote n%u (executed %" PRIu64 ")", j->id, p.executed);
    return len;
}

int void__sim_member_op(struct sim *s, uint8_t *enc, size_t cap)
{
    VOID_ASSERT(s->member.admin_on && !s->member.sent);
    VOID_ASSERT(cap >= VOID_SM_MEMBER_JOIN_MAX);
    if (s->member.join) {
        return join_op(s, enc, cap);
    }
    struct void_sm_member_op m = {
        .change = VOID_MEMBERSHIP_REMOVE, .id = s->member.target, .epoch = 1};
    uint8_t msg[VOID_SM_MEMBER_SIGNED];
    void_sm_member_op_message(&m, msg);
    int rc = void_sign(&s->member.admin, VOID_SIGN_DOMAIN_MEMBER, msg, sizeof(msg), m.sig);
    VOID_ASSERT(rc == 0);
    s->member.sent = 1;
    void__sim_trace(s, "admin: remove n%u", s->member.target);
    return void_sm_member_op_encode(&m, enc, cap);
}

/* A PROMOTE may be refused while the JOIN is still taking effect (PENDING)
 * or while the learner is more than a checkpoint behind (BEHIND): the
 * admin tries again later, as an operator would. Any other refusal of
 * these valid changes is a violation. */
static int refused_with(const struct void_sm_result *res, int code)
{
    const char *name = void_err_name(code);
    size_t n = strlen(name);
    return res->status == VOID_SM_REFUSED && res->value_len >= n &&
           memcmp(res->value, name, n) == 0;
}

static void join_result(struct sim *s, const struct void_sm_result *res)
{
    int promote = s->member.stage == 3;
    VOID_ASSERT(s->member.stage == 1 || promote);
    if (res->status == VOID_SM_OK && res->value_len == 16) {
        s->member.applied = 1;
        s->member.applied_count++;
        s->member.act = void_bytes_get_be64(res->value + 8);
        s->member.stage = promote ? 4 : 2;
        s->member.promote_at_ns = s->now + 100000000ull;
        void__sim_trace(s,
                        "admin: %s n%u: epoch %" PRIu64 " above seq %" PRIu64,
                        promote ? "promoted" : "joined",
                        s->member.target,
                        void_bytes_get_be64(res->value),
                        s->member.act);
        return;
    }
    if (promote && (refused_with(res, VOID_EMEMBER_PENDING) ||
                    refused_with(res, VOID_EMEMBER_BEHIND))) {
        /* Each refused PROMOTE is ordered too: the sequence numbers move
         * towards the end of the window even when the workload is done. */
        s->member.stage = s->member.promote_tries < 200 ? 2 : 4;
        s->member.promote_at_ns =
            s->now + (refused_with(res, VOID_EMEMBER_PENDING) ? 20000000ull : 200000000ull);
        void__sim_trace(s, "admin: promote refused, later: %.*s", (int)res->value_len,
                        (const char *)res->value);
        return;
    }
    void__sim_violation(s,
                        "membership: the admin's %s of n%u answered status %u: %.*s",
                        promote ? "promote" : "join",
                        s->member.target,
                        (unsigned)res->status,
                        (int)res->value_len,
                        (const char *)res->value);
    s->member.stage = 4;
}

void void__sim_member_result(struct sim *s, const struct void_sm_result *res)
{
    VOID_ASSERT(s != NULL && res != NULL);
    if (s->member.join) {
        join_result(s, res);
        return;
    }
    if (res->status == VOID_SM_OK && res->value_len == 16) {
        s->member.applied = 1;
        s->member.applied_count = 1;
        s->member.act = void_bytes_get_be64(res->value + 8);
        void__sim_trace(s,
                        "admin: epoch %" PRIu64 " above seq %" PRIu64,
                        void_bytes_get_be64(res->value),
                        s->member.act);
    } else if (res->status == VOID_SM_REFUSED) {
        /* Deterministic, but the removal was valid: a replica refused it. */
        void__sim_violation(s,
                            "membership: the admin's removal of n%u was refused: %.*s",
                            s->member.target,
                            (int)res->value_len,
                            (const char *)res->value);
    } else {
        void__sim_violation(
            s, "membership: the admin's removal answered status %u", (unsigned)res->status);
    }
}

/* FNV-1a of a configuration's canonical encoding. */
static uint64_t config_hash(const struct void_membership_config *cfg)
{
    static uint8_t buf[VOID_MEMBERSHIP_ENCODED_MAX];
    int len = void_membership_config_encode(cfg, buf, sizeof(buf));
    VOID_ASSERT(len > 0);
    uint64_t h = 0xcbf29ce484222325ull;
    for (int i = 0; i < len; i++) {
        h = (h ^ buf[i]) * 0x100000001b3ull;
    }
    return h;
}

/* Called for every event of an honest replica. */
void void__sim_member_event(struct sim *s, struct sim_node *node, const struct void_pbft_event *ev)
{
    VOID_ASSERT(s != NULL && node != NULL && ev != NULL);
    if (ev->kind != VOID_PBFT_EVENT_EPOCH || node->byzantine) {
        return;
    }
    uint64_t epoch = void_pbft_member_config(node->replica)->epoch;
    struct sim_member_log *log = &s->member.log[node->id];
    void__sim_trace(s, "n%u epoch %" PRIu64 " above seq %" PRIu64, node->id, epoch, ev->seq);
    s->res->epoch_changes++;
    /* A restarted replica comes back in the epoch its checkpoint proves:
     * an epoch it had entered before its crash is entered again, at the
     * same boundary. */
    for (uint32_t k = 0; k < log->count; k++) {
        if (log->epoch[k] == epoch) {
            if (log->at[k] != ev->seq) {
                void__sim_violation(s,
                                    "membership: n%u entered epoch %" PRIu64 " above seq %" PRIu64
                                    " and again above %" PRIu64,
                                    node->id,
                                    epoch,
                                    log->at[k],
                                    ev->seq);
            }
            return;
        }
    }
    uint64_t hash = config_hash(void_pbft_member_config(node->replica));
    if (epoch < VOID_ARRAY_LEN(s->member.voters_of)) {
        s->member.voters_of[epoch] = void_membership_voters(void_pbft_member_config(node->replica));
    }
    if (log->count < SIM_EPOCHS_MAX) {
        log->epoch[log->count] = epoch;
        log->hash[log->count] = hash;
        log->at[log->count++] = ev->seq;
    }
    /* ... and with the same configuration (members, keys, roles). */
    for (uint32_t j = 0; j < s->n; j++) {
        const struct sim_member_log *o = &s->member.log[j];
        for (uint32_t k = 0; k < o->count && !s->nodes[j].byzantine; k++) {
            if (o->epoch[k] == epoch && o->hash[k] != hash && s->member.bad_configs++ == 0) {
                void__sim_violation(s,
                                    "membership: n%u and n%u entered epoch %" PRIu64
                                    " with different configurations",
                                    node->id,
                                    j,
                                    epoch);
            }
        }
    }
    /* Every honest replica that entered this epoch entered it at the same
     * sequence number. */
    for (uint32_t j = 0; j < s->n; j++) {
        const struct sim_member_log *o = &s->member.log[j];
        for (uint32_t k = 0; k < o->count && !s->nodes[j].byzantine; k++) {
            if (o->epoch[k] == epoch && o->at[k] != ev->seq) {
                void__sim_violation(s,
                                    "membership: n%u entered epoch %" PRIu64 " above seq %" PRIu64
                                    ", n%u above seq %" PRIu64,
                                    node->id,
                                    epoch,
                                    ev->seq,
                                    j,
                                    o->at[k]);
            }
        }
    }
}

/* After each step of an honest replica: it holds no vote from outside its
 * epoch's voters. */
void void__sim_member_step(struct sim *s, struct sim_node *node)
{
    VOID_ASSERT(s != NULL && node != NULL);
    if (!s->member.on || node->byzantine || !node->up || node->is_client) {
        return;
    }
    const struct void_pbft *r = node->replica;
    if (!(void_pbft_voters(r) & (1u << node->id))) {
        return; /* removed: it runs on, and the others drop what it sends */
    }
    uint32_t out = ~void_pbft_voters(r);
    uint32_t bad = 0;
    for (uint32_t i = 0; i < r->cfg.window; i++) {
        const struct void__pbft_entry *e = &r->log[i];
        if (e->used && e->seq > r->low) {
            bad |= (e->prepare_mask | e->commit_mask) & out;
        }
    }
    for (uint32_t i = 0; i < VOID_PBFT_CKPT_SLOTS; i++) {
        if (r->ckpt[i].seq > r->low) {
            bad |= r->ckpt[i].mask & out;
        }
    }
    if (bad != 0 && s->member.bad_votes++ == 0) {
        void__sim_violation(s,
                            "membership: n%u in epoch %" PRIu64 " holds votes from non-voters %#x",
                            node->id,
                            void_pbft_member_config(r)->epoch,
                            bad);
    }
}

void void__sim_member_finish(struct sim *s)
{
    VOID_ASSERT(s != NULL);
    for (uint32_t i = 0; i < s->n && s->member.on; i++) {
        const struct sim_node *node = &s->nodes[i];
        if (node->byzantine || !node->up) {
            continue;
        }
        s->res->not_member_dropped += void_pbft_stats(node->replica)->rx_not_member;
        /* A replica whose stable checkpoint passed the boundary is in the
         * new epoch. */
        if (s->member.admin_on && s->member.applied &&
            void_pbft_low_watermark(node->replica) >= s->member.act &&
            void_pbft_member_config(node->replica)->epoch != 1 + s->member.applied_count) {
            void__sim_violation(s,
                                "membership: n%u is past seq %" PRIu64 " in epoch %" PRIu64,
                                node->id,
                                s->member.act,
                                void_pbft_member_config(node->replica)->epoch);
        }
    }
}

int void__sim_member_removed(const struct sim *s, uint32_t id)
{
    VOID_ASSERT(s != NULL && id < SIM_NODES_MAX);
    /* Join mode: the joiner is not a voter until its PROMOTE is answered
     * (stage 4 after an OK: applied_count 2); the view checker leaves it
     * out as it leaves a removed one out. */
    int outside = s->member.join && id == s->member.target && s->member.applied_count < 2;
    return (s->member.applied && !s->member.join && id == s->member.target) || outside ||
           s->member.removed[id];
}

/* ---- automatic removal (config.auto_remove) ---------------------------------
 *
 * Every replica heartbeats every other one through the simulated network
 * (so loss, cuts and crashes silence it as they would a real link), runs
 * the failure detector (void_fd_*) on virtual time, signs a suspicion of a
 * peer the detector declares dead, and gossips: a heartbeat carries the
 * replica's own signed suspicions of the epoch and those it newly accepted
 * from others. Each replica collects them (void_suspicion_collector); an
 * honest one that completes a certificate queues the certified REMOVE, which
 * the next free client submits through PBFT. The heartbeat body is voidd's
 * (u64 epoch | u64 executed) followed by u8 count | count x (28-byte
 * suspicion | 64-byte signature): the simulator's gossip, which voidd does
 * not speak yet.
 *
 * The checker: a certified REMOVE applied to an honest replica that was up
 * and whose links were neither cut nor degraded during the last
 * SIM_EXCUSE_NS is a violation (an honest, live, connected member removed),
 * as is a forged certificate accepted or an honest one refused for a bad
 * signature; the epochs and configurations checks above apply to every
 * removal. */

#define SIM_SEC          (UINT64_C(1000000000))
#define SIM_HB_NS        VOID_FD_INTERVAL_NS_DEF
#define SIM_TICK_NS      (SIM_HB_NS / 4)
#define SIM_SIGNED_SIZE  (VOID_SUSPICION_ENCODED_SIZE + VOID_SIGN_SIZE)
#define SIM_HB_CARRY_MAX 32 /* suspicions one heartbeat carries */
#define SIM_HB_BODY_MAX  (VOID_HEARTBEAT_BODY_SIZE + 1 + SIM_HB_CARRY_MAX * SIM_SIGNED_SIZE)
/* A removed replica must have been down or cut off within the suspicion
 * window plus the time to be declared dead (and a second of slack for the
 * commit). */
#define SIM_EXCUSE_NS (VOID_SUSPICION_WINDOW_NS_DEF + 3 * SIM_SEC)

static uint64_t wall_of(const struct sim *s, const struct sim_node *node)
{
    return void_simclock_read(&node->clock, s->now);
}

/* Down, still connecting, or a link to or from a replica cut or worse than
 * the baseline (lossier or slower). */
static int impaired(const struct sim *s, uint32_t id)
{
    const struct sim_node *node = &s->nodes[id];
    if (!node->up || node->connect_ns > s->now) {
        return 1;
    }
    for (uint32_t j = 0; j < s->n; j++) {
        if (j == id) {
            continue;
        }
        const struct void_simnet_link *a = &s->net.links[id][j], *b = &s->net.links[j][id];
        if (s->net.cut[id][j] || s->net.cut[j][id] || a->loss_ppm > s->baseline.loss_ppm ||
            b->loss_ppm > s->baseline.loss_ppm || a->delay_ns_max > s->baseline.delay_ns_max ||
            b->delay_ns_max > s->baseline.delay_ns_max) {
            return 1;
        }
    }
    return 0;
}

/* Follows the replica's configuration: a new epoch resets the collector and
 * the suspicions, and makes the peers its voters. */
static void det_sync(struct sim *s, struct sim_node *node)
{
    struct sim_detector *d = s->member.det[node->id];
    const struct void_membership_config *cfg = void_pbft_member_config(node->replica);
    if (d->epoch == cfg->epoch) {
        return;
    }
    if (d->epoch == 0) {
        int rc = void_fd_init(&d->fd, NULL, s->now);
        VOID_ASSERT(rc == 0);
    }
    uint32_t ids[VOID_MEMBERSHIP_MEMBERS_MAX], k = 0;
    for (uint32_t i = 0; i < cfg->count; i++) {
        if (cfg->members[i].role == VOID_MEMBER_VOTER && cfg->members[i].id != node->id) {
            ids[k++] = cfg->members[i].id;
        }
    }
    int rc = void_fd_set_peers(&d->fd, ids, k, s->now);
    VOID_ASSERT(rc == 0);
    void_suspicion_collector_reset(&d->col, cfg, 0);
    memset(d->held, 0, sizeof(d->held));
    memset(d->cert_at, 0, sizeof(d->cert_at));
    memset(d->own, 0, sizeof(d->own));
    d->forged_mask = 0;
    d->epoch = cfg->epoch;
}

void void__sim_member_sign(struct sim *s,
                           struct sim_node *node,
                           uint32_t suspect,
                           struct sim_signed_suspicion *out)
{
    VOID_ASSERT(suspect < VOID_SIM_N_MAX && node->id < VOID_SIM_N_MAX);
    struct sim_detector *d = s->member.det[node->id];
    struct void_hlc_ts *h = &s->member.hb_hlc[node->id];
    uint64_t wall = wall_of(s, node);
    if (wall > h->wall_ns) {
        *h = (struct void_hlc_ts){wall, 0};
    } else {
        h->logical++;
    }
    out->s = (struct void_suspicion){
        .epoch = d->epoch, .suspect = suspect, .suspector = node->id, .hlc = *h};
    uint8_t msg[VOID_SUSPICION_ENCODED_SIZE];
    void_suspicion_encode(&out->s, msg);
    int rc = void_sign(&node->kp, VOID_SIGN_DOMAIN_SUSPICION, msg, sizeof(msg), out->sig);
    VOID_ASSERT(rc == 0);
    if (!node->byzantine) {
        struct sim_signed_log *log = &s->member.signed_log[node->id];
        log->items[log->next++ % SIM_SIGNED_LOG] = out->s;
    }
}

/* Whether honest replica suspector really signed the suspicion x. */
static int honest_signed(const struct sim *s, const struct void_suspicion *x)
{
    if (x->suspector >= s->n || s->nodes[x->suspector].byzantine) {
        return 0;
    }
    const struct sim_signed_log *log = &s->member.signed_log[x->suspector];
    for (uint32_t k = 0; k < SIM_SIGNED_LOG; k++) {
        const struct void_suspicion *y = &log->items[k];
        if (y->epoch == x->epoch && y->suspect == x->suspect && y->hlc.wall_ns == x->hlc.wall_ns &&
            y->hlc.logical == x->hlc.logical && y->hlc.wall_ns != 0) {
            return 1;
        }
    }
    return 0;
}

/* Queues the encoded certified REMOVE enc[0..len) of the suspects in mask,
 * which replica by submits. Returns 1, or 0 when the queue is full. */
static int queue_bytes(struct sim *s,
                       uint32_t by,
                       uint64_t epoch,
                       uint32_t mask,
                       const uint8_t *enc,
                       size_t len)
{
    VOID_ASSERT(by < s->n && mask != 0);
    if (s->member.count_certs >= SIM_CERTS_MAX ||
        (s->nodes[by].byzantine && s->member.count_certs >= SIM_CERTS_MAX / 2)) {
        return 0; /* half the queue is kept for the honest replicas' certificates */
    }
    struct sim_cert *c = &s->member.certs[s->member.count_certs];
    VOID_ASSERT(len <= sizeof(c->bytes));
    memcpy(c->bytes, enc, len);
    c->len = len;
    c->epoch = epoch;
    c->mask = mask;
    c->by = by;
    s->member.count_certs++;
    void__sim_trace(s,
                    "n%u queues a certified remove of %#x (epoch %" PRIu64 ", %zu bytes)",
                    by,
                    mask,
                    epoch,
                    len);
    /* A client with nothing left to do has no submit scheduled: wake one. */
    for (uint32_t i = s->n; i < s->count_nodes; i++) {
        if (s->nodes[i].ops_left == 0 && !s->nodes[i].busy) {
            struct void_simq_item it = {.at_ns = s->now, .kind = SIM_EV_SUBMIT, .node = i};
            if (void_simq_push(&s->q, &it) != 0) {
                s->oom = 1;
            }
            break;
        }
    }
    return 1;
}

int void__sim_member_queue_cert(struct sim *s,
                                uint32_t by,
                                const struct void_sm_member_cert *mc)
{
    VOID_ASSERT(by < s->n && mc->cert.suspect < VOID_SIM_N_MAX);
    static uint8_t enc[VOID_SM_MEMBER_CERT_SIZE(VOID_MEMBERSHIP_MEMBERS_MAX)];
    int len = void_sm_member_cert_encode(mc, enc, sizeof(enc));
    if (len <= 0 || (size_t)len > sizeof(s->member.certs[0].bytes)) {
        return 0;
    }
    return queue_bytes(s, by, mc->cert.epoch, 1u << mc->cert.suspect, enc, (size_t)len);
}

/* An honest replica completed a certificate: its first 2f + 1 suspicions,
 * with the signatures it holds, wait in the detector for det_gather. */
static void det_certified(struct sim *s, struct sim_node *node, const struct void_suspicion_cert *c)
{
    struct sim_detector *d = s->member.det[node->id];
    if (s->member.removed[c->suspect] || s->member.submitted[c->suspect] == c->epoch ||
        d->cert_at[c->suspect] != 0) {
        return;
    }
    struct void_sm_member_cert *mc = &d->cert[c->suspect];
    memset(mc, 0, sizeof(*mc));
    uint32_t need = 2 * d->col.f + 1;
    mc->cert = *c;
    mc->cert.count = c->count < need ? c->count : need;
    for (uint32_t k = 0; k < mc->cert.count; k++) {
        const struct sim_signed_suspicion *h = &d->held[c->suspect][c->items[k].suspector];
        VOID_ASSERT(h->s.hlc.wall_ns == c->items[k].hlc.wall_ns);
        memcpy(mc->sig[k], h->sig, VOID_SIGN_SIZE);
    }
    d->cert_at[c->suspect] = s->now;
}

/* The gather of voidd (src/io/node_member.c, void__node_member_gather):
 * the complete certificates of an honest replica go in ONE certified
 * REMOVE, once no other voter its detector holds suspect or dead lacks one,
 * or SIM_GATHER_NS after the first completed; at most as many as
 * voters_min leaves room for. */
#define SIM_GATHER_NS (600 * UINT64_C(1000000))
static void det_gather(struct sim *s, struct sim_node *node)
{
    struct sim_detector *d = s->member.det[node->id];
    const struct void_membership_config *cfg = void_pbft_member_config(node->replica);
    uint32_t complete = 0, pending = 0;
    uint64_t first = UINT64_MAX;
    for (uint32_t i = 0; i < VOID_SIM_N_MAX; i++) {
        int state = void_fd_state(&d->fd, i);
        if (d->cert_at[i] != 0 && (state != VOID_FD_DEAD || s->member.removed[i] ||
                                   s->member.submitted[i] == d->epoch)) {
            d->cert_at[i] = 0; /* heard again, removed, or queued by another */
        }
        int k = void_membership_find(cfg, i);
        if (d->cert_at[i] != 0) {
            complete |= 1u << i;
            first = d->cert_at[i] < first ? d->cert_at[i] : first;
        } else if (i != node->id && k >= 0 && cfg->members[k].role == VOID_MEMBER_VOTER &&
                   (state == VOID_FD_SUSPECT || state == VOID_FD_DEAD)) {
            pending |= 1u << i;
        }
    }
    if (complete == 0 || (pending != 0 && s->now - first < SIM_GATHER_NS)) {
        return;
    }
    uint32_t voters = void_membership_voters(cfg);
    uint32_t room = voters > s->member.voters_min ? voters - s->member.voters_min : 0;
    room = room < SIM_CERT_SUSPECTS_MAX ? room : SIM_CERT_SUSPECTS_MAX;
    const struct void_sm_member_cert *certs[SIM_CERT_SUSPECTS_MAX];
    uint32_t n = 0, mask = 0;
    for (uint32_t i = 0; i < VOID_SIM_N_MAX && n < room; i++) {
        if (complete & (1u << i)) {
            certs[n++] = &d->cert[i];
            mask |= 1u << i;
        }
    }
    static uint8_t enc[sizeof(s->member.certs[0].bytes)];
    int len = n == 0 ? 0 : void_sm_member_certs_encode(certs, n, enc, sizeof(enc));
    if (len > 0 && queue_bytes(s, node->id, d->epoch, mask, enc, (size_t)len)) {
        for (uint32_t i = 0; i < VOID_SIM_N_MAX; i++) {
            if (mask & (1u << i)) {
                s->member.submitted[i] = d->epoch;
                d->cert_at[i] = 0;
            }
        }
    }
}

/* Offers a signed suspicion (verified, or its own) to the replica's
 * collector; an accepted one from another replica is forwarded with the
 * next heartbeat. */
static void det_offer(struct sim *s, struct sim_node *node, const struct sim_signed_suspicion *ss, int own)
{
    struct sim_detector *d = s->member.det[node->id];
    static struct void_suspicion_cert cert;
    int rc = void_suspicion_collector_add(&d->col, &ss->s, wall_of(s, node), &cert);
    if (rc < 0) {
        return;
    }
    VOID_ASSERT(ss->s.suspect < VOID_SIM_N_MAX && ss->s.suspector < VOID_SIM_N_MAX);
    d->held[ss->s.suspect][ss->s.suspector] = *ss;
    if (!own && d->count_fwd < SIM_FWD_MAX) {
        d->fwd[d->count_fwd++] = *ss;
    }
    if (rc == 1 && !node->byzantine) {
        det_certified(s, node, &cert);
    }
}

/* Sends one heartbeat to every other replica, carrying the replica's own
 * suspicions and the ones it forwards. */
static int det_heartbeat(struct sim *s, struct sim_node *node)
{
    struct sim_detector *d = s->member.det[node->id];
    uint8_t body[SIM_HB_BODY_MAX];
    void_heartbeat_body_encode(d->epoch, void_pbft_last_executed(node->replica), body);
    uint32_t k = 0;
    uint8_t *p = body + VOID_HEARTBEAT_BODY_SIZE + 1;
    for (uint32_t i = 0; i < VOID_SIM_N_MAX && k < SIM_HB_CARRY_MAX; i++) {
        if (d->own[i].s.hlc.wall_ns != 0) {
            void_suspicion_encode(&d->own[i].s, p);
            memcpy(p + VOID_SUSPICION_ENCODED_SIZE, d->own[i].sig, VOID_SIGN_SIZE);
            p += SIM_SIGNED_SIZE;
            k++;
        }
    }
    for (uint32_t i = 0; i < d->count_fwd && k < SIM_HB_CARRY_MAX; i++) {
        void_suspicion_encode(&d->fwd[i].s, p);
        memcpy(p + VOID_SUSPICION_ENCODED_SIZE, d->fwd[i].sig, VOID_SIGN_SIZE);
        p += SIM_SIGNED_SIZE;
        k++;
    }
    d->count_fwd = 0;
    body[VOID_HEARTBEAT_BODY_SIZE] = (uint8_t)k;
    struct void_hlc_ts *h = &s->member.hb_hlc[node->id];
    uint64_t wall = wall_of(s, node);
    if (wall > h->wall_ns) {
        *h = (struct void_hlc_ts){wall, 0};
    } else {
        h->logical++;
    }
    struct void_frame fr = {.type = VOID_MSG_HEARTBEAT,
                            .sender = node->id,
                            .hlc = *h,
                            .body = body,
                            .body_len = (uint32_t)(p - body)};
    uint8_t frame[VOID_CODEC_HEADER_SIZE + SIM_HB_BODY_MAX + VOID_SIGN_SIZE];
    size_t len = 0;
    int rc = void_codec_encode(&fr, &node->kp, frame, sizeof(frame), &len);
    VOID_ASSERT(rc == 0);
    for (uint32_t j = 0; j < s->n && rc == 0; j++) {
        if (j != node->id) {
            rc = void__sim_transmit(s, node->id, j, frame, len);
        }
    }
    return rc;
}

static void det_schedule(struct sim *s, struct sim_node *node, uint64_t at)
{
    struct void_simq_item it = {
        .at_ns = at, .kind = SIM_EV_DETECT, .node = node->id, .arg = node->crash_gen};
    if (void_simq_push(&s->q, &it) != 0) {
        s->oom = 1;
    }
}

int void__sim_detect_start(struct sim *s, struct sim_node *node)
{
    VOID_ASSERT(s != NULL && node != NULL && !node->is_client);
    if (!s->member.autorm) {
        return 0;
    }
    struct sim_detector *d = s->member.det[node->id];
    if (d == NULL) {
        d = s->member.det[node->id] = malloc(sizeof(*d));
        if (d == NULL) {
            return VOID_ENOMEM;
        }
    } else {
        s->member.impaired_ns[node->id] = s->now; /* a restart: it was down until now */
    }
    memset(d, 0, sizeof(*d));
    det_sync(s, node);
    /* Staggered by id, so that the replicas do not tick in lockstep. */
    det_schedule(s, node, s->now + SIM_TICK_NS + node->id * (SIM_TICK_NS / 16));
    return 0;
}

int void__sim_detect_tick(struct sim *s, struct sim_node *node, uint64_t arg)
{
    VOID_ASSERT(s->member.autorm && !node->is_client);
    if (!node->up || arg != node->crash_gen) {
        return 0; /* a tick of an earlier life */
    }
    det_schedule(s, node, s->now + SIM_TICK_NS);
    struct sim_detector *d = s->member.det[node->id];
    det_sync(s, node);
    if (impaired(s, node->id)) {
        s->member.impaired_ns[node->id] = s->now;
    }
    struct void_fd_transition tr[VOID_MEMBERSHIP_MEMBERS_MAX];
    uint32_t count = void_fd_tick(&d->fd, s->now, tr, VOID_MEMBERSHIP_MEMBERS_MAX);
    int voter = (void_pbft_voters(node->replica) >> node->id) & 1u;
    static const char *names[] = {"alive", "suspect", "dead"};
    for (uint32_t i = 0; i < count; i++) {
        VOID_ASSERT(tr[i].id < VOID_SIM_N_MAX);
        void__sim_trace(s,
                        "n%u detector: n%u %s -> %s after %" PRIu64 " ms",
                        node->id,
                        tr[i].id,
                        names[tr[i].from],
                        names[tr[i].to],
                        tr[i].silence_ns / 1000000u);
        if (tr[i].to == VOID_FD_DEAD && voter) {
            void__sim_member_sign(s, node, tr[i].id, &d->own[tr[i].id]);
            s->res->suspicions_signed += !node->byzantine;
            det_offer(s, node, &d->own[tr[i].id], 1);
        }
    }
    /* A suspicion older than half the window is signed anew while the peer
     * stays dead, so that a late certificate still finds it fresh. */
    for (uint32_t i = 0; i < VOID_SIM_N_MAX && voter; i++) {
        struct sim_signed_suspicion *o = &d->own[i];
        if (o->s.hlc.wall_ns == 0) {
            continue;
        }
        if (void_fd_state(&d->fd, i) != VOID_FD_DEAD && !node->byzantine) {
            memset(o, 0, sizeof(*o)); /* alive again: no longer claimed */
        } else if (wall_of(s, node) > o->s.hlc.wall_ns + VOID_SUSPICION_WINDOW_NS_DEF / 2 &&
                   void_fd_state(&d->fd, i) == VOID_FD_DEAD) {
            void__sim_member_sign(s, node, i, o);
            det_offer(s, node, o, 1);
        }
    }
    if (voter && !node->byzantine) {
        det_gather(s, node);
    }
    if (++d->ticks % (uint32_t)(SIM_HB_NS / SIM_TICK_NS) != 0) {
        return 0;
    }
    if (node->byzantine && (s->cfg->strategies & (1u << VOID_SIM_BYZ_SUSPECT_BIT)) && voter) {
        void__sim_byz_suspect(s, node);
    }
    return det_heartbeat(s, node);
}

int void__sim_detect_deliver(
    struct sim *s, struct sim_node *node, uint32_t from, const uint8_t *frame, size_t len)
{
    VOID_ASSERT(s->member.autorm && node->up && !node->is_client);
    struct sim_detector *d = s->member.det[node->id];
    det_sync(s, node);
    struct void_frame fr;
    int rc = void_codec_decode_verified(frame, len, &s->ring, &fr);
    uint64_t epoch = 0, executed = 0;
    if (rc == 0 && fr.body_len > VOID_HEARTBEAT_BODY_SIZE) {
        rc = void_heartbeat_body_decode(fr.body, VOID_HEARTBEAT_BODY_SIZE, &epoch, &executed);
    } else if (rc == 0) {
        rc = VOID_ETRUNCATED;
    }
    uint32_t carried = rc == 0 ? fr.body[VOID_HEARTBEAT_BODY_SIZE] : 0;
    if (rc == 0 && fr.body_len != VOID_HEARTBEAT_BODY_SIZE + 1 + carried * SIM_SIGNED_SIZE) {
        rc = VOID_EBAD_LENGTH;
    }
    if (rc != 0) {
        void__sim_trace(s, "n%u drops a heartbeat from n%u: %s", node->id, from, void_err_name(rc));
        return 0;
    }
    const struct void_membership_config *cfg = void_pbft_member_config(node->replica);
    int i = void_membership_find(cfg, fr.sender);
    if (i < 0 || cfg->members[i].role != VOID_MEMBER_VOTER) {
        /* A removed replica that runs on: dropped and counted. */
        s->res->heartbeats_dropped += !node->byzantine;
        return 0;
    }
    struct void_fd_heartbeat hb = {.sender = fr.sender, .hlc = fr.hlc, .executed = executed};
    if (void_fd_heartbeat(&d->fd, &hb, s->now) == 1) {
        void__sim_trace(s, "n%u detector: n%u alive again", node->id, fr.sender);
    }
    const uint8_t *p = fr.body + VOID_HEARTBEAT_BODY_SIZE + 1;
    for (uint32_t k = 0; k < carried; k++, p += SIM_SIGNED_SIZE) {
        struct sim_signed_suspicion ss;
        rc = void_suspicion_decode(&ss.s, p, VOID_SUSPICION_ENCODED_SIZE);
        VOID_ASSERT(rc == 0);
        memcpy(ss.sig, p + VOID_SUSPICION_ENCODED_SIZE, VOID_SIGN_SIZE);
        int si = void_membership_find(cfg, ss.s.suspector);
        if (si < 0 || ss.s.suspector >= VOID_SIM_N_MAX || ss.s.suspect >= VOID_SIM_N_MAX ||
            void_sign_verify(cfg->members[si].public_key,
                             VOID_SIGN_DOMAIN_SUSPICION,
                             p,
                             VOID_SUSPICION_ENCODED_SIZE,
                             ss.sig) != 0) {
            continue; /* not a member's, or forged: nothing to count */
        }
        det_offer(s, node, &ss, 0);
    }
    return 0;
}

int void__sim_member_cert_op(
    struct sim *s, struct sim_node *node, struct sim_op_extra *x, uint8_t *enc, size_t cap)
{
    VOID_ASSERT(node->is_client);
    if (s->member.count_certs == 0) {
        return 0;
    }
    struct sim_cert *c = &s->member.certs[0];
    VOID_ASSERT(c->len <= cap && node->id - s->n < VOID_SIM_CLIENTS_MAX);
    s->member.inflight[node->id - s->n] = *c;
    memcpy(enc, c->bytes, c->len);
    int len = (int)c->len;
    x->member = 1;
    x->cert = 1;
    x->cert_mask = c->mask;
    x->cert_by = c->by;
    void__sim_trace(s, "client n%u sends n%u's certified remove of %#x", node->id, c->by, c->mask);
    s->member.count_certs--;
    memmove(&s->member.certs[0], &s->member.certs[1], s->member.count_certs * sizeof(*c));
    return len;
}

/* Section i of a certified REMOVE of either form (the Byzantine replicas
 * send the one-suspect form, the honest ones the several-suspect form). */
static int cert_section(const struct sim_cert *c, uint32_t i, uint32_t *k, struct void_sm_member_cert *mc)
{
    if (c->len > 1 && c->bytes[1] == VOID_SM_MEMBER_CERT_REMOVE) {
        *k = 1;
        return i == 0 ? void_sm_member_cert_decode(c->bytes, c->len, mc) : VOID_ERANGE;
    }
    return void_sm_member_certs_decode(c->bytes, c->len, i, k, mc);
}

/* A certified REMOVE was applied: each of its certificates must rest on at
 * least f + 1 suspicions honest replicas really signed (f of the
 * certificate's epoch, from the voters honest replicas entered it with), so
 * that no Byzantine minority evicts anyone, whatever the state machine let
 * through. */
static void check_applied_cert(struct sim *s, const struct sim_cert *c)
{
    static struct void_sm_member_cert mc;
    uint32_t k = 1;
    for (uint32_t i = 0; i < k; i++) {
        if (cert_section(c, i, &k, &mc) != 0) {
            void__sim_violation(s, "membership: an applied certificate does not decode");
            return;
        }
        uint64_t e = mc.cert.epoch;
        uint32_t voters = e < VOID_ARRAY_LEN(s->member.voters_of) ? s->member.voters_of[e] : 0;
        if (voters == 0) {
            void__sim_violation(s,
                                "membership: a certificate of epoch %" PRIu64
                                " applied, an epoch no honest replica entered",
                                e);
            return;
        }
        uint32_t f = void_membership_f(voters), genuine = 0;
        for (uint32_t j = 0; j < mc.cert.count; j++) {
            genuine += (uint32_t)honest_signed(s, &mc.cert.items[j]);
        }
        void__sim_trace(s,
                        "auto-remove: n%u: %u of %u suspicions signed by honest replicas (f = %u)",
                        mc.cert.suspect,
                        genuine,
                        mc.cert.count,
                        f);
        if (genuine < f + 1) {
            void__sim_violation(s,
                                "membership: n%u removed on %u suspicions honest replicas signed, "
                                "fewer than f + 1 = %u",
                                mc.cert.suspect,
                                genuine,
                                f + 1);
        }
    }
    VOID_ASSERT(k >= 1 && k <= VOID_SM_MEMBER_CERTS_MAX);
}

/* A removed suspect must have been Byzantine, or down or cut off lately. */
static void check_excused(struct sim *s, uint32_t id, int forged)
{
    int excused = s->nodes[id].byzantine || impaired(s, id) ||
                  s->now - s->member.impaired_ns[id] <= SIM_EXCUSE_NS ||
                  s->member.impaired_ns[id] > s->now;
    if (!excused) {
        void__sim_violation(s,
                            "membership: honest n%u, up and connected for %.1f s, was removed "
                            "by a certificate%s",
                            id,
                            (double)(s->now - s->member.impaired_ns[id]) / 1e9,
                            forged ? " a Byzantine replica forged" : "");
    } else if (forged && !s->nodes[id].byzantine) {
        /* A crashed member certified by the honest is fine; one that only
         * Byzantine words removed is not (the honest would have certified
         * it themselves had it been dead). */
        void__sim_trace(s, "auto-remove: the certificate came from a Byzantine replica");
    }
}

void void__sim_member_cert_result(struct sim *s,
                                  const struct sim_node *client,
                                  const struct sim_op_extra *x,
                                  const struct void_sm_result *res)
{
    VOID_ASSERT(x->cert && x->cert_mask != 0 && x->cert_by < s->n);
    VOID_ASSERT(client->id - s->n < VOID_SIM_CLIENTS_MAX);
    int forged = s->nodes[x->cert_by].byzantine;
    if (res->status == VOID_SM_OK && res->value_len == 16) {
        check_applied_cert(s, &s->member.inflight[client->id - s->n]);
        void__sim_trace(s,
                        "auto-remove: %#x removed in one change, epoch %" PRIu64 " above seq %" PRIu64,
                        x->cert_mask,
                        void_bytes_get_be64(res->value),
                        void_bytes_get_be64(res->value + 8));
        s->res->auto_removals_multi += (x->cert_mask & (x->cert_mask - 1)) != 0;
        for (uint32_t id = 0; id < VOID_SIM_N_MAX; id++) {
            if (x->cert_mask & (1u << id)) {
                s->member.removed[id] = 1;
                s->res->auto_removals++;
                check_excused(s, id, forged);
            }
        }
        return;
    }
    for (uint32_t id = 0; id < VOID_SIM_N_MAX; id++) {
        if (x->cert_mask & (1u << id)) {
            s->member.submitted[id] = 0; /* may be certified again */
        }
    }
    s->res->certs_refused++;
    if (res->status != VOID_SM_REFUSED) {
        void__sim_violation(s, "membership: a certified remove answered status %u", res->status);
        return;
    }
    void__sim_trace(s,
                    "auto-remove: n%u's certificate of %#x refused: %.*s",
                    x->cert_by,
                    x->cert_mask,
                    (int)res->value_len,
                    (const char *)res->value);
    const char *bad = void_err_name(VOID_EBAD_SIG);
    if (!forged && res->value_len >= strlen(bad) && memcmp(res->value, bad, strlen(bad)) == 0) {
        void__sim_violation(s, "membership: an honest replica's certificate of %#x failed its signatures", x->cert_mask);
    }
}

void void__sim_detect_fini(struct sim *s)
{
    for (uint32_t i = 0; i < VOID_SIM_N_MAX; i++) {
        free(s->member.det[i]);
        s->member.det[i] = NULL;
    }
}
