/*
 * Automatic removal in voidd: suspicions signed, gossiped and collected,
 * certified REMOVEs submitted through PBFT, and the configuration record
 * read by a node that may have been removed while it was down
 * (node_member.h; docs/membership.md, "Automatic removal in voidd").
 */
#include "node_member.h"

#include "void/assert.h"
#include "void/error.h"
#include "void/hlc.h"
#include "void/log.h"
#include "void/sm.h"

#include <stdlib.h>
#include <string.h>

#define MS                 1000000ull
#define RANK_BACKOFF_NS    (1000 * MS)  /* a voter of rank r waits r of these after the certificate */
#define RETRY_NS           (2000 * MS)  /* between two submissions for one suspect */
#define ABANDON_NS         (15000 * MS) /* an outstanding request is given up after this */
#define RECORD_PERIOD_NS   (3000 * MS)  /* between two reads of the record */
#define FRESH_MARGIN_NS    (1000 * MS)  /* a certificate this close to the window's end waits */
#define PUMP_NS            (10000 * MS) /* ordering no-ops to the boundary, at most this long */
#define ARENA_SIZE         (64u << 10)
#define HEARD_MIN          15 /* heartbeats (3 s at 200 ms) before a peer may be suspected */
#define LONG_SILENCE_NS    (30000 * MS) /* ... or this long without any */

static const char *const refusal_text[] = {
#define VOID__X(name, text) text,
    VOID__NODE_MEMBER_REFUSALS(VOID__X)
#undef VOID__X
};

static void count_refused(struct void__node_member *m, enum void__node_member_refusal r)
{
    pthread_mutex_lock(&m->lock);
    m->counts.refused[r]++;
    pthread_mutex_unlock(&m->lock);
}

#define COUNT(m, field)                                                                            \
    do {                                                                                           \
        pthread_mutex_lock(&(m)->lock);                                                            \
        (m)->counts.field++;                                                                       \
        pthread_mutex_unlock(&(m)->lock);                                                          \
    } while (0)

int void__node_member_ring_add(struct void_keyring *ring, const struct void_config *c)
{
    VOID_ASSERT(ring != NULL && c != NULL);
    for (uint32_t i = 0; i < c->count_replicas; i++) {
        if (c->replicas[i].id >= VOID_CONFIG_REPLICAS_MAX) {
            continue; /* never a PBFT replica id (config.c refuses ids >= n) */
        }
        int rc = void_keyring_add(
            ring, VOID_CONFIG_MEMBER_CLIENT_BASE + c->replicas[i].id, c->replicas[i].public_key);
        if (rc != 0) {
            return rc;
        }
    }
    return 0;
}

int void__node_member_route(const struct void__node_member *m, uint32_t to, uint32_t *replica)
{
    VOID_ASSERT(m != NULL && replica != NULL);
    const struct void_config *c = m->env.config;
    if (to < VOID_CONFIG_MEMBER_CLIENT_BASE || to == VOID_PBFT_TO_ALL) {
        return 0;
    }
    uint32_t id = to - VOID_CONFIG_MEMBER_CLIENT_BASE;
    for (uint32_t i = 0; i < c->count_replicas; i++) {
        if (c->replicas[i].id == id) {
            *replica = id;
            return 1;
        }
    }
    return 0;
}

/* ---- our own client ------------------------------------------------------ */

static void on_retry(uv_timer_t *t);
static void on_inject(uv_timer_t *t);

static int client_start(struct void__node_member *m)
{
    const struct void_config *c = m->env.config;
    struct void_pbft_client_config cc = {
        .id = m->client_id,
        .n = c->slots,
        .genesis_n = c->genesis_n,
        /* Request numbers above any earlier life's: the replicated client
         * table refuses a number at or below the last one it executed. */
        .first_reqno = m->env.wall_now(m->env.ctx) / 1000u,
        .verify_signatures = 1,
        .broadcast_first = 1,
        .reply_all = 1,
        .keyring = m->env.ring,
        .keypair = &c->keypair,
        .big = m->big,
        .big_len = VOID_PBFT_CLIENT_BIG,
    };
    int rc = void_pbft_client_init(m->client, &cc);
    if (rc != 0) {
        return rc;
    }
    const struct void_membership_config *cur = void_pbft_member_config(m->env.replica);
    if (cur->epoch > 1) {
        (void)void_pbft_client_set_config(m->client, cur);
    }
    m->busy = 0;
    return 0;
}

int void__node_member_init(struct void__node_member *m, const struct void__node_member_env *env)
{
    VOID_ASSERT(m != NULL && env != NULL);
    VOID_ASSERT(env->config != NULL && env->replica != NULL && env->fd != NULL);
    memset(m, 0, sizeof(*m));
    m->env = *env;
    m->self = env->config->self_id;
    m->client_id = VOID_CONFIG_MEMBER_CLIENT_BASE + m->self;
    if (pthread_mutex_init(&m->lock, NULL) != 0) {
        return VOID_ENOMEM;
    }
    m->ready = 1;
    m->client = calloc(1, sizeof(*m->client));
    m->arena = malloc(ARENA_SIZE);
    m->big = malloc(VOID_PBFT_CLIENT_BIG);
    m->cfgs = malloc(2 * sizeof(*m->cfgs));
    m->mcs = malloc(VOID__NODE_MEMBER_N * sizeof(*m->mcs));
    m->op = malloc(VOID__NODE_MEMBER_OP_MAX);
    if (m->client == NULL || m->arena == NULL || m->big == NULL || m->cfgs == NULL ||
        m->mcs == NULL || m->op == NULL) {
        return VOID_ENOMEM;
    }
    void_pbft_out_init(&m->out, m->effects, VOID_ARRAY_LEN(m->effects), m->arena, ARENA_SIZE);
    int rc = client_start(m);
    if (rc != 0) {
        return rc;
    }
    uv_timer_init(env->loop, &m->retry);
    uv_timer_init(env->loop, &m->inject_timer);
    m->retry.data = m;
    m->inject_timer.data = m;
    m->timers_ready = 1;
    return 0;
}

void void__node_member_close(struct void__node_member *m)
{
    VOID_ASSERT(m != NULL);
    if (m->timers_ready) {
        uv_close((uv_handle_t *)&m->retry, NULL);
        uv_close((uv_handle_t *)&m->inject_timer, NULL);
        m->timers_ready = 0;
    }
}

void void__node_member_fini(struct void__node_member *m)
{
    VOID_ASSERT(m != NULL);
    VOID_ASSERT(!m->timers_ready);
    free(m->client);
    free(m->arena);
    free(m->big);
    free(m->cfgs);
    free(m->mcs);
    free(m->op);
    if (m->ready) {
        pthread_mutex_destroy(&m->lock);
    }
    m->client = NULL;
    m->arena = m->big = NULL;
    m->cfgs = NULL;
    m->mcs = NULL;
    m->op = NULL;
    m->ready = 0;
}

/* Queues a frame for our own replica: handed over from a timer, so that a
 * step never runs inside another (this may be called while the node
 * performs a step's effects). */
static void inject_later(struct void__node_member *m, const uint8_t *frame, size_t len)
{
    if (m->inject_count == VOID__NODE_MEMBER_INJECT || len > sizeof(m->inject[0])) {
        return; /* the client's retransmission brings it again */
    }
    memcpy(m->inject[m->inject_count], frame, len);
    m->inject_len[m->inject_count++] = len;
    if (m->timers_ready) {
        uv_timer_start(&m->inject_timer, on_inject, 0, 0);
    }
}

static void on_inject(uv_timer_t *t)
{
    struct void__node_member *m = t->data;
    uint32_t k = m->inject_count;
    m->inject_count = 0;
    for (uint32_t i = 0; i < k; i++) {
        m->env.inject(m->env.ctx, m->inject[i], m->inject_len[i]);
    }
}

/* Performs the client's effects: its requests go to the replicas over our
 * links (a REQUEST is relayable, codec.h) and to our own replica. */
static void perform(struct void__node_member *m)
{
    const struct void_config *c = m->env.config;
    for (uint32_t i = 0; i < m->out.count; i++) {
        const struct void_pbft_effect *e = &m->out.effects[i];
        if (e->kind == VOID_PBFT_EFFECT_SEND) {
            for (uint32_t r = 0; r < c->count_replicas; r++) {
                uint32_t id = c->replicas[r].id;
                if (e->u.send.to != VOID_PBFT_TO_ALL && e->u.send.to != id) {
                    continue;
                }
                if (id == m->self) {
                    inject_later(m, e->u.send.frame, e->u.send.len);
                } else {
                    (void)void_transport_send(
                        m->env.transport, id, e->u.send.frame, e->u.send.len);
                }
            }
        } else if (e->kind == VOID_PBFT_EFFECT_TIMER_SET && m->timers_ready) {
            uint64_t ms = (e->u.timer.delay_ns + 999999u) / 1000000u;
            uv_timer_start(&m->retry, on_retry, ms == 0 ? 1 : ms, 0);
        } else if (e->kind == VOID_PBFT_EFFECT_TIMER_CANCEL && m->timers_ready) {
            uv_timer_stop(&m->retry);
        }
    }
    void_pbft_out_reset(&m->out);
}

static void on_retry(uv_timer_t *t)
{
    struct void__node_member *m = t->data;
    if (m->busy != 0) {
        (void)void_pbft_client_step_timer(m->client, m->env.wall_now(m->env.ctx), &m->out);
        perform(m);
    }
}

static int submit(struct void__node_member *m, const uint8_t *op, size_t len, int kind, uint64_t now)
{
    VOID_ASSERT(m->busy == 0);
    const struct void_membership_config *cur = void_pbft_member_config(m->env.replica);
    if (cur->epoch > void_pbft_client_epoch(m->client)) {
        (void)void_pbft_client_set_config(m->client, cur); /* idle: allowed */
    }
    int rc = void_pbft_client_submit(m->client, m->env.wall_now(m->env.ctx), op, len, &m->out);
    perform(m);
    if (rc == 0) {
        m->busy = kind;
        m->busy_ns = now;
    }
    return rc;
}

/* ---- results ------------------------------------------------------------- */

/* A certified REMOVE was answered: OK (applied: the new epoch and its
 * boundary) or REFUSED (the state machine's reason). */
static void remove_done(struct void__node_member *m, const struct void_sm_result *res)
{
    uint32_t mask = m->busy_mask;
    char ids[VOID__NODE_MEMBER_N * 4 + 1];
    size_t at = 0;
    ids[0] = '\0';
    for (uint32_t i = 0; i < VOID__NODE_MEMBER_N; i++) {
        if (mask & (1u << i)) {
            int w = snprintf(ids + at, sizeof(ids) - at, at == 0 ? "%u" : ",%u", (unsigned)i);
            at += w > 0 ? (size_t)w : 0;
        }
    }
    VOID_ASSERT(at < sizeof(ids));
    if (res->status == VOID_SM_OK && res->value_len >= 16) {
        COUNT(m, removals);
        uint64_t epoch = 0, act = 0;
        for (int i = 0; i < 8; i++) {
            epoch = epoch << 8 | res->value[i];
            act = act << 8 | res->value[8 + i];
        }
        /* One line per member (scripts grep "member N removed"), all of one
         * change: the same epoch and boundary. */
        for (uint32_t i = 0; i < VOID__NODE_MEMBER_N; i++) {
            if (mask & (1u << i)) {
                void_log(VOID_LOG_WARN,
                         "member %u removed by a certificate of suspicions: epoch %llu, in effect "
                         "above sequence number %llu (members %s in one change)",
                         (unsigned)i,
                         (unsigned long long)epoch,
                         (unsigned long long)act,
                         ids);
            }
        }
        m->pump_epoch = epoch;
        m->pump_act = act;
        m->pump_until = uv_hrtime() + PUMP_NS;
        return;
    }
    COUNT(m, submit_refused);
    void_log(VOID_LOG_INFO,
             "certified removal of members %s refused: %.*s",
             ids,
             res->status == VOID_SM_REFUSED ? (int)res->value_len : 9,
             res->status == VOID_SM_REFUSED ? (const char *)res->value : "bad reply");
}

/* The configuration record was read (f + 1 voters of the epoch we know
 * vouch for it): a node absent from its latest configuration was removed. */
static void record_done(struct void__node_member *m, const struct void_sm_result *res)
{
    if (res->status != VOID_SM_OK) {
        return; /* no record: the genesis, which holds every replica */
    }
    uint64_t act = 0, prev_act = 0;
    if (void_sm_member_record_decode(
            res->value, res->value_len, &m->cfgs[0], &act, &m->cfgs[1], &prev_act) != 0) {
        return;
    }
    /* Admitted once (an id below id_next) and absent: removed. A joiner
     * whose JOIN has not executed yet is absent too, but not below id_next. */
    if (void_membership_find(&m->cfgs[0], m->self) < 0 && m->self < m->cfgs[0].id_next &&
        m->cfgs[0].epoch > void_pbft_member_config(m->env.replica)->epoch) {
        m->env.removed(m->env.ctx, m->cfgs[0].epoch);
    }
}

static int submit_get_record(struct void__node_member *m, int kind, uint64_t now);

/* The submitter of a removal that executed orders reads of the record until
 * its replica has executed the boundary above which the change takes effect
 * (the next checkpoint): a lightly loaded cluster would otherwise run on
 * in the old epoch until clients' batches got there (seconds), an idle one
 * for ever. Each read is one small batch; a busy cluster gets there first. */
static void pump(struct void__node_member *m, uint64_t now)
{
    if (m->pump_act == 0) {
        return;
    }
    if (void_pbft_member_config(m->env.replica)->epoch >= m->pump_epoch ||
        void_pbft_last_executed(m->env.replica) >= m->pump_act || now > m->pump_until) {
        m->pump_act = 0;
        return;
    }
    if (m->busy == 0) {
        (void)submit_get_record(m, 3, now);
    }
}

static void on_reply(struct void__node_member *m, const uint8_t *buf, size_t len)
{
    if (m->busy == 0) {
        return;
    }
    int rc = void_pbft_client_step_receive(m->client, m->env.wall_now(m->env.ctx), buf, len, &m->out);
    perform(m);
    if (rc != 1) {
        return;
    }
    const uint8_t *result = NULL;
    int n = void_pbft_client_result(m->client, &result);
    int kind = m->busy;
    m->busy = 0;
    struct void_sm_result res;
    if (n < 0 || void_sm_result_decode(result, (size_t)n, &res) != 0) {
        return;
    }
    if (kind == 1) {
        remove_done(m, &res);
    } else if (kind == 2) {
        record_done(m, &res);
    }
    pump(m, uv_hrtime());
}

/* ---- suspicions ---------------------------------------------------------- */

static int is_voter(const struct void_membership_config *cfg, uint32_t id)
{
    int i = void_membership_find(cfg, id);
    return i >= 0 && cfg->members[i].role == VOID_MEMBER_VOTER;
}

/* Offers a signed suspicion (ours, or a verified one) to the collector; an
 * accepted one is held with its signature, and a certificate that
 * completes is kept for submission. Returns the collector's verdict. */
static int offer(struct void__node_member *m, const struct void_suspicion_signed *ss, uint64_t now)
{
    static struct void_suspicion_cert cert; /* 2 KB; the loop thread only */
    uint64_t wall = m->env.wall_now(m->env.ctx);
    int rc = void_suspicion_collector_add(&m->col, &ss->s, wall, &cert);
    if (rc < 0) {
        return rc;
    }
    VOID_ASSERT(ss->s.suspect < VOID__NODE_MEMBER_N && ss->s.suspector < VOID__NODE_MEMBER_N);
    m->held[ss->s.suspect][ss->s.suspector] = *ss;
    if (rc == 1) {
        if (m->cert[ss->s.suspect].count == 0) {
            m->cert_ns[ss->s.suspect] = now;
            COUNT(m, certificates);
            void_log(VOID_LOG_WARN,
                     "member %u: %u voters hold it dead (2f+1 = %u): a removal certificate",
                     (unsigned)ss->s.suspect,
                     (unsigned)cert.count,
                     (unsigned)(2 * m->col.f + 1));
        }
        m->cert[ss->s.suspect] = cert;
    }
    return rc;
}

/* Whether this node's detector has heard HEARD_MIN heartbeats of id since
 * the node started. A peer not heard so is not suspected for removal: at a
 * cluster's start the nodes come up one by one (seconds apart under load),
 * and a node starting stalls its loop for more than the dead threshold
 * (ASan builds on a loaded machine: 1.5 to 2 s), so the first ones would
 * otherwise certify the last ones dead before they ran steadily. */
static int heard(const struct void__node_member *m, uint32_t id, uint64_t now)
{
    const struct void_fd *fd = m->env.fd;
    for (uint32_t i = 0; i < fd->count; i++) {
        if (fd->peers[i].id == id) {
            /* ...or silent for LONG_SILENCE_NS: a node restarted while a peer
             * was down never hears it, and its suspicion may be one of the
             * 2f + 1 needed. */
            return fd->peers[i].count_heartbeats >= HEARD_MIN ||
                   now >= fd->peers[i].last_recv_ns + LONG_SILENCE_NS;
        }
    }
    return 0;
}

static void sign_own(struct void__node_member *m, uint32_t suspect, uint64_t now)
{
    if (suspect >= VOID__NODE_MEMBER_N || !heard(m, suspect, now)) {
        return;
    }
    struct void_suspicion_signed *o = &m->own[suspect];
    o->s = (struct void_suspicion){
        .epoch = m->epoch,
        .suspect = suspect,
        .suspector = m->self,
        /* A send event of the node's clock: a suspicion stamped like its
         * frames, never ahead of what peers accept. */
        .hlc = void_hlc_now_at(&m->env.replica->hlc, m->env.wall_now(m->env.ctx)),
    };
    uint8_t msg[VOID_SUSPICION_ENCODED_SIZE];
    void_suspicion_encode(&o->s, msg);
    if (void_sign(&m->env.config->keypair, VOID_SIGN_DOMAIN_SUSPICION, msg, sizeof(msg), o->sig) != 0) {
        memset(o, 0, sizeof(*o));
        return;
    }
    COUNT(m, signed_own);
    (void)offer(m, o, now);
    m->gossip_due = 1;
}

/* Follows the replica's epoch: the collector starts over (suspicions and
 * certificates name their epoch), and every peer still dead is suspected
 * anew under the new epoch. */
static void sync_epoch(struct void__node_member *m, uint64_t now)
{
    const struct void_membership_config *cur = void_pbft_member_config(m->env.replica);
    if (cur->epoch == m->epoch) {
        return;
    }
    m->epoch = cur->epoch;
    void_suspicion_collector_reset(&m->col, cur, m->env.replica->sm.member.suspicion_window_ns);
    memset(m->own, 0, sizeof(m->own));
    memset(m->held, 0, sizeof(m->held));
    memset(m->last, 0, sizeof(m->last));
    memset(m->cert, 0, sizeof(m->cert));
    m->floor_logged = 0;
    if (!m->env.auto_remove || !is_voter(cur, m->self)) {
        return;
    }
    for (uint32_t i = 0; i < cur->count; i++) {
        uint32_t id = cur->members[i].id;
        if (id != m->self && void_fd_state(m->env.fd, id) == VOID_FD_DEAD) {
            sign_own(m, id, now);
        }
    }
}

/* Sends our own suspicions to every other voter of the epoch. */
static void gossip(struct void__node_member *m)
{
    struct void_suspicion_signed items[VOID_SUSPICION_GOSSIP_MAX];
    uint32_t k = 0;
    for (uint32_t i = 0; i < VOID__NODE_MEMBER_N && k < VOID_SUSPICION_GOSSIP_MAX; i++) {
        if (m->own[i].s.hlc.wall_ns != 0) {
            items[k++] = m->own[i];
        }
    }
    m->gossip_due = 0;
    if (k == 0) {
        return;
    }
    uint8_t body[1 + VOID_SUSPICION_GOSSIP_MAX * VOID_SUSPICION_SIGNED_SIZE];
    int blen = void_suspicion_gossip_encode(items, k, body, sizeof(body));
    VOID_ASSERT(blen > 0);
    const struct void_config *c = m->env.config;
    struct void_frame fr = {.type = VOID_MSG_SUSPICION,
                            .sender = m->self,
                            .hlc = void_hlc_now_at(&m->env.replica->hlc, m->env.wall_now(m->env.ctx)),
                            .body = body,
                            .body_len = (uint32_t)blen};
    uint8_t frame[VOID_CODEC_HEADER_SIZE + sizeof(body) + VOID_SIGN_SIZE];
    size_t len = 0;
    if (void_codec_encode(&fr, &c->keypair, frame, sizeof(frame), &len) != 0) {
        return;
    }
    const struct void_membership_config *cur = void_pbft_member_config(m->env.replica);
    for (uint32_t i = 0; i < cur->count; i++) {
        uint32_t id = cur->members[i].id;
        if (id != m->self && cur->members[i].role == VOID_MEMBER_VOTER &&
            void_transport_send(m->env.transport, id, frame, len) == 0) {
            COUNT(m, frames_sent);
        }
    }
}

static enum void__node_member_refusal refusal_of(int rc)
{
    switch (rc) {
    case VOID_EMEMBER_EPOCH:
        return VOID__NODE_MEMBER_REFUSED_EPOCH;
    case VOID_EMEMBER_STALE:
    case VOID_EHLC_AHEAD:
        return VOID__NODE_MEMBER_REFUSED_STALE;
    case VOID_EMEMBER_DUP_SUSPICION:
        return VOID__NODE_MEMBER_REFUSED_DUPLICATE;
    case VOID_EINVAL:
        return VOID__NODE_MEMBER_REFUSED_MALFORMED;
    default:
        return VOID__NODE_MEMBER_REFUSED_NOT_VOTER;
    }
}

static void on_suspicion(struct void__node_member *m, const uint8_t *buf, size_t len)
{
    const struct void_membership_config *cur = void_pbft_member_config(m->env.replica);
    struct void_frame fr;
    int rc = void_codec_decode_verified(buf, len, m->env.ring, &fr);
    if (rc == VOID_EBAD_SIG) {
        count_refused(m, VOID__NODE_MEMBER_REFUSED_SIGNATURE);
        return;
    }
    static struct void_suspicion_signed items[VOID_SUSPICION_GOSSIP_MAX];
    uint32_t k = 0;
    if (rc != 0 || void_suspicion_gossip_decode(fr.body, fr.body_len, items, &k) != 0) {
        count_refused(m, VOID__NODE_MEMBER_REFUSED_MALFORMED);
        return;
    }
    if (!m->env.auto_remove || !is_voter(cur, fr.sender) || fr.sender == m->self) {
        count_refused(m, VOID__NODE_MEMBER_REFUSED_NOT_VOTER);
        return;
    }
    uint64_t now = uv_hrtime(), wall = m->env.wall_now(m->env.ctx);
    for (uint32_t i = 0; i < k; i++) {
        const struct void_suspicion *s = &items[i].s;
        if (s->suspect >= VOID__NODE_MEMBER_N || s->suspector >= VOID__NODE_MEMBER_N) {
            count_refused(m, VOID__NODE_MEMBER_REFUSED_NOT_VOTER);
            continue;
        }
        /* The last one taken or refused for good: voters resend theirs
         * every period, and a repeat costs a compare, not a signature check. */
        struct void_suspicion *last = &m->last[s->suspect][s->suspector];
        if (memcmp(last, s, sizeof(*s)) == 0) {
            continue;
        }
        if (s->epoch != m->epoch) {
            count_refused(m, VOID__NODE_MEMBER_REFUSED_EPOCH); /* may be ours later */
            continue;
        }
        /* A newer one while the held one is inside the window: the
         * collector would refuse it (at most one per suspector); it is
         * taken when the held one expires, from a later resend. */
        const struct void_suspicion_signed *h = &m->held[s->suspect][s->suspector];
        if (h->s.hlc.wall_ns != 0 && wall < h->s.hlc.wall_ns + m->col.window_ns) {
            continue;
        }
        int si = void_membership_find(cur, s->suspector);
        uint8_t msg[VOID_SUSPICION_ENCODED_SIZE];
        void_suspicion_encode(s, msg);
        if (si < 0 || cur->members[si].role != VOID_MEMBER_VOTER) {
            *last = *s;
            count_refused(m, VOID__NODE_MEMBER_REFUSED_NOT_VOTER);
            continue;
        }
        if (void_sign_verify(cur->members[si].public_key,
                             VOID_SIGN_DOMAIN_SUSPICION,
                             msg,
                             sizeof(msg),
                             items[i].sig) != 0) {
            *last = *s;
            count_refused(m, VOID__NODE_MEMBER_REFUSED_SIGNATURE);
            continue;
        }
        rc = offer(m, &items[i], now);
        if (rc < 0) {
            count_refused(m, refusal_of(rc));
            if (rc != VOID_EHLC_AHEAD && rc != VOID_EMEMBER_DUP_SUSPICION) {
                *last = *s; /* stale or not a member's: it stays so */
            }
        } else {
            *last = *s;
            COUNT(m, received);
        }
    }
}

void void__node_member_frame(struct void__node_member *m,
                             const uint8_t *buf,
                             size_t len,
                             const struct void_frame *fr)
{
    VOID_ASSERT(m != NULL && m->ready);
    VOID_ASSERT(buf != NULL && fr != NULL);
    if (m->epoch == 0) {
        return; /* not ticked yet: no collector */
    }
    if (fr->type == VOID_MSG_SUSPICION) {
        on_suspicion(m, buf, len);
    } else if (fr->type == VOID_MSG_REPLY) {
        on_reply(m, buf, len);
    }
}

/* ---- submission ---------------------------------------------------------- */

/* The 2f + 1 freshest suspicions of cert (ascending suspectors, as the
 * state machine wants them) with the signatures we hold, into *mc. Returns
 * 1, or 0 when the oldest of them is too close to the end of the window to
 * be taken. */
static int assemble(struct void__node_member *m,
                    const struct void_suspicion_cert *cert,
                    uint64_t wall,
                    struct void_sm_member_cert *mc)
{
    memset(mc, 0, sizeof(*mc));
    uint32_t need = 2 * m->col.f + 1;
    uint8_t keep[VOID_MEMBERSHIP_MEMBERS_MAX] = {0};
    for (uint32_t n = 0; n < need && n < cert->count; n++) {
        int best = -1; /* the newest not yet kept */
        for (uint32_t k = 0; k < cert->count; k++) {
            if (!keep[k] && (best < 0 || cert->items[k].hlc.wall_ns > cert->items[best].hlc.wall_ns)) {
                best = (int)k;
            }
        }
        keep[best] = 1;
    }
    mc->cert.epoch = cert->epoch;
    mc->cert.suspect = cert->suspect;
    uint64_t window = m->col.window_ns;
    for (uint32_t k = 0; k < cert->count; k++) {
        if (!keep[k]) {
            continue;
        }
        const struct void_suspicion *s = &cert->items[k];
        const struct void_suspicion_signed *h = &m->held[s->suspect][s->suspector];
        if (memcmp(&h->s, s, sizeof(*s)) != 0 || s->hlc.wall_ns + window < wall + FRESH_MARGIN_NS) {
            return 0; /* replaced since, or about to leave the window */
        }
        mc->cert.items[mc->cert.count] = *s;
        memcpy(mc->sig[mc->cert.count], h->sig, VOID_SIGN_SIZE);
        mc->cert.count++;
    }
    VOID_ASSERT(mc->cert.count <= need);
    return mc->cert.count == need;
}

uint32_t void__node_member_gather(uint32_t complete,
                                  uint32_t pending,
                                  uint32_t room,
                                  uint64_t waited_ns)
{
    VOID_ASSERT((complete & pending) == 0);
    if (complete == 0 || (pending != 0 && waited_ns < VOID__NODE_MEMBER_GATHER_NS)) {
        return 0;
    }
    uint32_t take = 0, n = 0;
    for (uint32_t i = 0; i < 32 && n < room; i++) {
        if (complete & (1u << i)) {
            take |= 1u << i;
            n++;
        }
    }
    VOID_ASSERT((take & ~complete) == 0);
    return take;
}

/* A read in flight (kind 2, the record; kind 3, a no-op towards a
 * boundary) gives way to a removal that is due: both are asked again later.
 * Kind 3 once did not, and a node that had just pumped its own removal to
 * its boundary asserted in submit() when its next certificate came due
 * (scripts/member_kill3.sh order 1: node 1 stopped, and was removed). */
int void__node_member_remove_take(int busy)
{
    VOID_ASSERT(busy >= 0 && busy <= 3);
    return busy == 0   ? VOID__NODE_MEMBER_TAKE_GO
           : busy == 1 ? VOID__NODE_MEMBER_TAKE_WAIT
                       : VOID__NODE_MEMBER_TAKE_RESTART;
}

/* The suspects whose certificates are complete (bit per id; a suspect
 * heard again, or no longer a member, loses its certificate) and the other
 * voters the detector holds suspect or dead without one; *first_ns, when
 * the earliest complete one completed. */
static uint32_t complete_certs(struct void__node_member *m, uint32_t *pending, uint64_t *first_ns)
{
    const struct void_membership_config *cur = void_pbft_member_config(m->env.replica);
    uint32_t complete = 0;
    *pending = 0;
    *first_ns = UINT64_MAX;
    for (uint32_t s = 0; s < VOID__NODE_MEMBER_N; s++) {
        struct void_suspicion_cert *cert = &m->cert[s];
        int state = void_fd_state(m->env.fd, s);
        if (cert->count != 0 && (state != VOID_FD_DEAD || void_membership_find(cur, s) < 0)) {
            cert->count = 0; /* heard again, or removed: nothing to submit */
        }
        if (cert->count != 0) {
            complete |= 1u << s;
            *first_ns = m->cert_ns[s] < *first_ns ? m->cert_ns[s] : *first_ns;
        } else if (s != m->self && is_voter(cur, s) &&
                   (state == VOID_FD_SUSPECT || state == VOID_FD_DEAD)) {
            *pending |= 1u << s;
        }
    }
    VOID_ASSERT((complete & *pending) == 0);
    return complete;
}

/* Logs once per suspect that voters_min keeps it in. */
static void log_floor(struct void__node_member *m,
                      uint32_t held,
                      const struct void_membership_config *latest)
{
    for (uint32_t s = 0; s < VOID__NODE_MEMBER_N; s++) {
        if ((held & (1u << s)) && !(m->floor_logged & (1u << s))) {
            m->floor_logged |= 1u << s;
            void_log(VOID_LOG_WARN,
                     "member %u is dead but not removed: %u voters, voters_min = %u",
                     (unsigned)s,
                     (unsigned)void_membership_voters(latest),
                     (unsigned)latest->voters_min);
        }
    }
}

/* Submits ONE certified REMOVE of every suspect whose certificate is
 * complete (docs/membership.md, "Submitting"), if it is this voter's turn:
 * the lowest live voter at once, the next a back-off later if the removal
 * has not executed by then (duplicates are refused by the state machine
 * anyway: VOID_EMEMBER_REMOVED). While other voters are suspect or dead
 * without a certificate it waits up to VOID__NODE_MEMBER_GATHER_NS for
 * theirs (void__node_member_gather), so that members that died together
 * leave in one change. */
static void try_submit(struct void__node_member *m, uint64_t now)
{
    const struct void_membership_config *cur = void_pbft_member_config(m->env.replica);
    uint32_t pending = 0;
    uint64_t first_ns = 0;
    uint32_t complete = complete_certs(m, &pending, &first_ns);
    if (complete == 0 || m->busy == 1 || now < m->submit_next) {
        return;
    }
    uint32_t alive[VOID_MEMBERSHIP_MEMBERS_MAX];
    uint32_t k = void_fd_alive(m->env.fd, alive, VOID_MEMBERSHIP_MEMBERS_MAX);
    uint32_t lowest = (uint32_t)__builtin_ctz(complete);
    uint32_t rank = void_suspicion_submit_rank(cur, alive, k, m->self, lowest);
    if (rank == UINT32_MAX || now < first_ns + (uint64_t)rank * RANK_BACKOFF_NS) {
        return;
    }
    uint64_t waited = now - (first_ns + (uint64_t)rank * RANK_BACKOFF_NS);
    /* The latest configuration (maybe executed, not yet in effect): a
     * removal already ordered, another change pending or a cluster at its
     * floor is not asked for. */
    uint64_t act = 0, prev_act = 0;
    if (void_sm_member_get(&m->env.replica->sm, &m->cfgs[0], &act, &m->cfgs[1], &prev_act) != 0) {
        m->submit_next = now + RETRY_NS;
        return;
    }
    const struct void_membership_config *latest = &m->cfgs[0];
    if (latest->epoch != m->epoch) {
        m->submit_next = now + RETRY_NS; /* a change executed, waiting for its boundary */
        return;
    }
    uint64_t window_end = act + m->env.replica->sm.member.window;
    uint32_t voters = void_membership_voters(latest);
    if (act != 0 && void_pbft_last_executed(m->env.replica) < window_end) {
        /* The previous change is not a window of batches old: on an idle
         * cluster it never would be, so order no-ops up to it as for a
         * boundary (pump), and try again after RETRY_NS. */
        if (m->pump_act == 0 && voters > latest->voters_min) {
            m->pump_epoch = latest->epoch + 1;
            m->pump_act = window_end;
            m->pump_until = now + PUMP_NS;
        }
        m->submit_next = now + RETRY_NS;
        return;
    }
    uint32_t room = voters > latest->voters_min ? voters - latest->voters_min : 0;
    uint32_t take = void__node_member_gather(complete, pending, room, waited);
    if (take == 0 && room != 0) {
        return; /* waiting for the certificates of the other suspects */
    }
    log_floor(m, complete & ~take, latest);
    m->submit_next = now + RETRY_NS;
    const struct void_sm_member_cert *certs[VOID__NODE_MEMBER_N];
    uint32_t n = 0, mask = 0;
    uint64_t wall = m->env.wall_now(m->env.ctx);
    for (uint32_t s = 0; s < VOID__NODE_MEMBER_N; s++) {
        if ((take & (1u << s)) && assemble(m, &m->cert[s], wall, &m->mcs[n])) {
            certs[n] = &m->mcs[n];
            n++;
            mask |= 1u << s;
        }
    }
    int len = n == 0 ? 0 : void_sm_member_certs_encode(certs, n, m->op, VOID__NODE_MEMBER_OP_MAX);
    if (len <= 0) {
        return;
    }
    int go = void__node_member_remove_take(m->busy);
    if (go == VOID__NODE_MEMBER_TAKE_WAIT ||
        (go == VOID__NODE_MEMBER_TAKE_RESTART && client_start(m) != 0)) {
        return;
    }
    m->busy_mask = mask;
    if (submit(m, m->op, (size_t)len, 1, now) == 0) {
        COUNT(m, submitted);
        void_log(VOID_LOG_WARN,
                 "submitting the certified removal of %u member(s) in one change (mask %#x, "
                 "epoch %llu, %u suspicions each)",
                 (unsigned)n,
                 (unsigned)mask,
                 (unsigned long long)m->epoch,
                 (unsigned)(2 * m->col.f + 1));
    }
}

/* A node whose live peers cannot form a quorum with it may have been
 * removed while it was down (the others then send it no heartbeats and
 * drop its frames): it reads the configuration record, ordered by the
 * voters of the epoch it knows, every few seconds. */
static void maybe_read_record(struct void__node_member *m, uint64_t now)
{
    const struct void_membership_config *cur = void_pbft_member_config(m->env.replica);
    uint32_t alive[VOID_MEMBERSHIP_MEMBERS_MAX];
    uint32_t k = void_fd_alive(m->env.fd, alive, VOID_MEMBERSHIP_MEMBERS_MAX);
    uint32_t live = 1; /* ourselves */
    for (uint32_t i = 0; i < k; i++) {
        live += (uint32_t)is_voter(cur, alive[i]);
    }
    if (m->busy != 0 || now < m->record_next ||
        live >= void_membership_quorum(void_membership_voters(cur))) {
        return;
    }
    m->record_next = now + RECORD_PERIOD_NS;
    if (submit_get_record(m, 2, now) == 0) {
        COUNT(m, record_reads);
    }
}

/* An ordered GET of the configuration record (kind 2: a read to learn
 * whether we were removed; 3: a no-op that moves the sequence on). */
static int submit_get_record(struct void__node_member *m, int kind, uint64_t now)
{
    uint8_t op[64];
    struct void_sm_op get = {.kind = VOID_SM_OP_GET,
                             .key = (const uint8_t *)VOID_SM_MEMBER_KEY,
                             .key_len = VOID_SM_MEMBER_KEY_LEN};
    int len = void_sm_op_encode(&get, op, sizeof(op));
    VOID_ASSERT(len > 0);
    return submit(m, op, (size_t)len, kind, now);
}

void void__node_member_tick(struct void__node_member *m,
                            uint64_t now_ns,
                            const struct void_fd_transition *tr,
                            uint32_t count)
{
    VOID_ASSERT(m != NULL && m->ready);
    VOID_ASSERT(tr != NULL || count == 0);
    sync_epoch(m, now_ns);
    if (m->busy != 0 && now_ns - m->busy_ns > ABANDON_NS) {
        (void)client_start(m); /* give the request up; numbers go on from the clock */
    }
    const struct void_membership_config *cur = void_pbft_member_config(m->env.replica);
    int voter = m->env.auto_remove && is_voter(cur, m->self);
    for (uint32_t i = 0; i < count && voter; i++) {
        if (tr[i].to == VOID_FD_DEAD) {
            sign_own(m, tr[i].id, now_ns);
        }
    }
    /* A dead voter not suspected yet (not heard steadily when it died): once
     * its silence is long, it is. */
    for (uint32_t i = 0; i < cur->count && voter && m->ticks % 20 == 0; i++) {
        uint32_t id = cur->members[i].id;
        if (id != m->self && id < VOID__NODE_MEMBER_N && m->own[id].s.hlc.wall_ns == 0 &&
            void_fd_state(m->env.fd, id) == VOID_FD_DEAD) {
            sign_own(m, id, now_ns);
        }
    }
    /* An own suspicion is dropped when its suspect is heard again, and
     * signed anew at half the window while it stays dead, so that a late
     * certificate still finds it fresh. */
    uint64_t wall = m->env.wall_now(m->env.ctx);
    for (uint32_t i = 0; i < VOID__NODE_MEMBER_N && voter; i++) {
        struct void_suspicion_signed *o = &m->own[i];
        if (o->s.hlc.wall_ns == 0) {
            continue;
        }
        if (void_fd_state(m->env.fd, i) != VOID_FD_DEAD) {
            memset(o, 0, sizeof(*o));
        } else if (wall > o->s.hlc.wall_ns + m->col.window_ns / 2) {
            sign_own(m, i, now_ns);
        } else if (memcmp(&m->held[i][m->self].s, &o->s, sizeof(o->s)) != 0) {
            (void)offer(m, o, now_ns); /* re-signed earlier, refused while the old one was held */
        }
    }
    /* Resent every heartbeat period: a voter that missed one (a lossy link,
     * a restart) gets it again; repeats cost the receiver a compare. */
    if (voter && (m->gossip_due || ++m->ticks % 4 == 0)) {
        gossip(m);
    }
    if (voter) {
        try_submit(m, now_ns);
    }
    pump(m, now_ns);
    maybe_read_record(m, now_ns);
}

void void__node_member_metrics(struct void__node_member *m, struct void__metrics_writer *w)
{
    VOID_ASSERT(m != NULL && m->ready);
    VOID_ASSERT(w != NULL);
    pthread_mutex_lock(&m->lock);
    const struct void__node_member_counts *c = &m->counts;
    void__metrics_family(w,
                         "void_suspicions_signed_total",
                         VOID_METRICS_COUNTER,
                         "Suspicions this node signed (a voter its detector declared dead).");
    void__metrics_u64(w, NULL, NULL, c->signed_own);
    void__metrics_family(w,
                         "void_suspicion_frames_sent_total",
                         VOID_METRICS_COUNTER,
                         "SUSPICION frames queued to voters.");
    void__metrics_u64(w, NULL, NULL, c->frames_sent);
    void__metrics_family(w,
                         "void_suspicions_received_total",
                         VOID_METRICS_COUNTER,
                         "Other voters' suspicions taken into the collector.");
    void__metrics_u64(w, NULL, NULL, c->received);
    void__metrics_family(w,
                         "void_suspicions_refused_total",
                         VOID_METRICS_COUNTER,
                         "Gossiped suspicions not taken, by reason.");
    for (int i = 0; i < VOID__NODE_MEMBER_REFUSAL_COUNT; i++) {
        void__metrics_u64(w, "reason", refusal_text[i], c->refused[i]);
    }
    void__metrics_family(w,
                         "void_removal_certificates_total",
                         VOID_METRICS_COUNTER,
                         "Removal certificates completed (2f+1 suspicions within the window).");
    void__metrics_u64(w, NULL, NULL, c->certificates);
    void__metrics_family(w,
                         "void_auto_removals_total",
                         VOID_METRICS_COUNTER,
                         "Certified REMOVEs this node submitted, by result.");
    void__metrics_u64(w, "result", "submitted", c->submitted);
    void__metrics_u64(w, "result", "applied", c->removals);
    void__metrics_u64(w, "result", "refused", c->submit_refused);
    void__metrics_family(w,
                         "void_member_record_reads_total",
                         VOID_METRICS_COUNTER,
                         "Configuration record reads by a node whose live peers lack a quorum.");
    void__metrics_u64(w, NULL, NULL, c->record_reads);
    pthread_mutex_unlock(&m->lock);
}
