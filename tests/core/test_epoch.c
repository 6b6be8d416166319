/*
 * Tests of membership epochs in the PBFT core (docs/membership.md, "Changes
 * through PBFT"): a configuration change is a request executed by the state
 * machine, refused or applied alike everywhere, and in effect above the next
 * checkpoint boundary at every replica. The harness is test_pbft.c's message
 * pump (FIFO delivery, virtual time, crash and recovery from the records),
 * with the admin key set and the epoch events recorded.
 */

/* cmocka.h needs these first, in this order. */
/* clang-format off */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
/* clang-format on */

#include "void/bytes.h"
#include "void/codec.h"
#include "void/error.h"
#include "void/pbft.h"
#include "void/pbft_client.h"
#include "void/prng.h"
#include "void/sign.h"
#include "void/sm.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAXN        16
#define MAXC        200
#define CLIENT_BASE 100
#define MS          (1000ull * 1000)
#define T0          (1700000000ull * 1000 * 1000 * 1000)

struct msg {
    uint32_t from, to;
    size_t len;
    uint8_t *bytes;
};

struct record {
    uint8_t kind;
    uint64_t key;
    size_t len;
    uint8_t *data;
};

struct net;
typedef int (*drop_fn)(struct net *t, uint32_t from, uint32_t to, uint8_t type);
struct msg;
typedef void (*seen_fn)(struct net *t, const struct msg *m);

struct net {
    uint32_t n, nclients;
    uint64_t now;
    struct void_keyring ring;
    struct void_sign_keypair keys[MAXN], ckeys[MAXC];
    struct void_pbft *rep[MAXN];
    struct void_kvs kvs[MAXN]; /* each replica's store, kept across its crashes */
    struct void_pbft_config cfg[MAXN];
    struct void_pbft_client cli[MAXC];
    int crashed[MAXN];
    uint64_t timers[MAXN + MAXC][4]; /* deadline, 0 = off */
    uint64_t last_event[MAXN + MAXC];
    struct record *records[MAXN];
    size_t nrecords[MAXN];
    struct msg *q;
    size_t qhead, qlen, qcap;
    drop_fn drop;
    seen_fn seen; /* called with every message before delivery */
    uint64_t delivered;
    int chaos; /* random reordering, loss and duplication */
    struct void_prng prng;
    uint8_t committed[MAXN][512][32]; /* digest executed at each seq, per replica */
    void_seq epoch_at[MAXN][8];       /* the boundary of each epoch entered, per replica */
    uint32_t epochs[MAXN];
    struct void_sign_keypair admin;
    uint8_t has_commit[MAXN][512];
    crypto_hash_sha256_state trace;
    struct void_pbft_out out;
    struct void_pbft_effect *effects;
    uint8_t *arena;
};

static void make_key(struct void_sign_keypair *kp, uint32_t id)
{
    uint8_t seed[VOID_SIGN_SEED_SIZE] = {0};
    memcpy(seed, &id, sizeof(id));
    seed[31] = 0x5a;
    assert_int_equal(void_sign_keypair_from_seed(kp, seed), 0);
}

static void enqueue(struct net *t, uint32_t from, uint32_t to, const uint8_t *bytes, size_t len)
{
    if (t->qhead + t->qlen == t->qcap) {
        if (t->qhead > 0) {
            memmove(t->q, t->q + t->qhead, t->qlen * sizeof(*t->q));
            t->qhead = 0;
        } else {
            t->qcap = t->qcap ? t->qcap * 2 : 1024;
            t->q = realloc(t->q, t->qcap * sizeof(*t->q));
            assert_non_null(t->q);
        }
    }
    struct msg *m = &t->q[t->qhead + t->qlen++];
    m->from = from;
    m->to = to;
    m->len = len;
    m->bytes = malloc(len);
    assert_non_null(m->bytes);
    memcpy(m->bytes, bytes, len);
}

static void store_record(struct net *t, uint32_t i, const struct void_pbft_effect *e)
{
    if (e->u.persist.record_kind == VOID_PBFT_RECORD_TRUNCATE) {
        for (size_t k = 0; k < t->nrecords[i];) {
            struct record *r = &t->records[i][k];
            if (r->kind == VOID_PBFT_RECORD_ENTRY && r->key <= e->u.persist.key) {
                free(r->data);
                *r = t->records[i][--t->nrecords[i]];
            } else {
                k++;
            }
        }
        return;
    }
    struct record *slot = NULL;
    for (size_t k = 0; k < t->nrecords[i]; k++) {
        if (t->records[i][k].kind == e->u.persist.record_kind &&
            t->records[i][k].key == e->u.persist.key) {
            slot = &t->records[i][k];
            free(slot->data);
        }
    }
    if (slot == NULL) {
        t->records[i] = realloc(t->records[i], (t->nrecords[i] + 1) * sizeof(struct record));
        slot = &t->records[i][t->nrecords[i]++];
    }
    slot->kind = e->u.persist.record_kind;
    slot->key = e->u.persist.key;
    slot->len = e->u.persist.len;
    slot->data = malloc(slot->len + 1);
    memcpy(slot->data, e->u.persist.data, slot->len);
}

/* Executes the effects of node (replica index, or MAXN + client index). */
static void apply_effects(struct net *t, uint32_t node)
{
    uint32_t self = node < MAXN ? node : CLIENT_BASE + (node - MAXN);
    for (uint32_t k = 0; k < t->out.count; k++) {
        const struct void_pbft_effect *e = &t->out.effects[k];
        switch (e->kind) {
        case VOID_PBFT_EFFECT_SEND:
            if (e->u.send.to == VOID_PBFT_TO_ALL) {
                for (uint32_t j = 0; j < t->n; j++) {
                    if (j != self) {
                        enqueue(t, self, j, e->u.send.frame, e->u.send.len);
                    }
                }
            } else {
                enqueue(t, self, e->u.send.to, e->u.send.frame, e->u.send.len);
            }
            break;
        case VOID_PBFT_EFFECT_TIMER_SET:
            t->timers[node][e->u.timer.timer & 3] = t->now + e->u.timer.delay_ns;
            break;
        case VOID_PBFT_EFFECT_TIMER_CANCEL:
            t->timers[node][e->u.timer.timer & 3] = 0;
            break;
        case VOID_PBFT_EFFECT_PERSIST:
            assert_true(node < MAXN);
            store_record(t, node, e);
            break;
        case VOID_PBFT_EFFECT_EVENT:
            if (e->u.event.kind == VOID_PBFT_EVENT_COMMIT && node < MAXN && e->u.event.seq < 512) {
                /* Agreement: a replica never executes two batches at one seq. */
                uint64_t sq = e->u.event.seq;
                if (t->has_commit[node][sq]) {
                    assert_memory_equal(t->committed[node][sq], e->u.event.digest, 32);
                }
                memcpy(t->committed[node][sq], e->u.event.digest, 32);
                t->has_commit[node][sq] = 1;
            }
            if (e->u.event.kind == VOID_PBFT_EVENT_EPOCH && node < MAXN) {
                assert_true(t->epochs[node] < 8);
                t->epoch_at[node][t->epochs[node]++] = e->u.event.seq;
            }
            /* The causal log has no gaps and each event names its predecessor. */
            assert_int_equal(e->u.event.parent_seq, t->last_event[node]);
            assert_int_equal(e->u.event.local_seq, t->last_event[node] + 1);
            t->last_event[node] = e->u.event.local_seq;
            break;
        default:
            fail_msg("unknown effect %d", e->kind);
        }
    }
    assert_int_equal(t->out.overflow, 0);
    void_pbft_out_reset(&t->out);
}

static void replica_start(struct net *t, uint32_t i, int recover)
{
    t->rep[i] = calloc(1, sizeof(struct void_pbft));
    assert_non_null(t->rep[i]);
    t->cfg[i].event_seq_start = t->last_event[i] + 1;
    assert_int_equal(void_pbft_init(t->rep[i], &t->cfg[i]), 0);
    memset(t->timers[i], 0, sizeof(t->timers[i]));
    if (recover) {
        struct void_pbft_record recs[512];
        assert_true(t->nrecords[i] <= 512);
        for (size_t k = 0; k < t->nrecords[i]; k++) {
            recs[k] = (struct void_pbft_record){t->records[i][k].kind,
                                                t->records[i][k].key,
                                                t->records[i][k].data,
                                                t->records[i][k].len};
        }
        assert_int_equal(void_pbft_recover(t->rep[i], t->now, recs, t->nrecords[i], &t->out), 0);
    } else {
        assert_int_equal(void_pbft_start(t->rep[i], t->now, &t->out), 0);
    }
    apply_effects(t, i);
}

/* Replicas of the next net_new get config.rejoin_beacon (docs/pbft.md, Rejoining):
 * 0, the default, and 1 are on; -1 is off. */
static int net_rejoin_beacon;
/* config.voters_min of the next net_new (0: the default, 4). */
static uint16_t net_voters_min;

/* n replicas and nclients clients; K checkpoint interval, L window. */
static struct net *net_new(uint32_t n, uint32_t nclients, uint32_t k, uint32_t window, int verify)
{
    struct net *t = calloc(1, sizeof(*t));
    assert_non_null(t);
    t->n = n;
    t->nclients = nclients;
    t->now = T0;
    crypto_hash_sha256_init(&t->trace);
    t->effects = calloc(VOID_PBFT_OUT_EFFECTS_DEF, sizeof(*t->effects));
    t->arena = malloc(VOID_PBFT_OUT_ARENA_DEF);
    void_pbft_out_init(
        &t->out, t->effects, VOID_PBFT_OUT_EFFECTS_DEF, t->arena, VOID_PBFT_OUT_ARENA_DEF);
    void_keyring_init(&t->ring);
    for (uint32_t i = 0; i < n; i++) {
        make_key(&t->keys[i], i);
        assert_int_equal(void_keyring_add(&t->ring, i, t->keys[i].public_key), 0);
    }
    make_key(&t->admin, 9999);
    for (uint32_t c = 0; c < nclients; c++) {
        make_key(&t->ckeys[c], CLIENT_BASE + c);
        assert_int_equal(void_keyring_add(&t->ring, CLIENT_BASE + c, t->ckeys[c].public_key), 0);
    }
    for (uint32_t i = 0; i < n; i++) {
        t->cfg[i] = (struct void_pbft_config){.n = n,
                                              .self = i,
                                              .checkpoint_interval = k,
                                              .window = window,
                                              .request_timeout_ns = 200 * MS,
                                              .view_change_timeout_ns = 200 * MS,
                                              .retransmit_ns = 50 * MS,
                                              .verify_signatures = verify,
                                              .rejoin_beacon = net_rejoin_beacon,
                                              .keyring = &t->ring,
                                              .keypair = &t->keys[i],
                                              .admin_key = t->admin.public_key,
                                              .voters_min = net_voters_min,
                                              .kvs = &t->kvs[i]};
        assert_int_equal(void_kvs_mem_init(&t->kvs[i], NULL), 0);
        replica_start(t, i, 0);
    }
    for (uint32_t c = 0; c < nclients; c++) {
        struct void_pbft_client_config cc = {.id = CLIENT_BASE + c,
                                             .n = n,
                                             .timeout_ns = 150 * MS,
                                             .verify_signatures = verify,
                                             .keyring = &t->ring,
                                             .keypair = &t->ckeys[c]};
        assert_int_equal(void_pbft_client_init(&t->cli[c], &cc), 0);
    }
    return t;
}

static void replica_crash(struct net *t, uint32_t i)
{
    void_pbft_fini(t->rep[i]);
    free(t->rep[i]);
    t->rep[i] = NULL;
    t->crashed[i] = 1;
    memset(t->timers[i], 0, sizeof(t->timers[i]));
}

static void net_free(struct net *t)
{
    for (uint32_t i = 0; i < t->n; i++) {
        if (t->rep[i] != NULL) {
            void_pbft_fini(t->rep[i]);
            free(t->rep[i]);
        }
        void_kvs_close(&t->kvs[i]);
        for (size_t k = 0; k < t->nrecords[i]; k++) {
            free(t->records[i][k].data);
        }
        free(t->records[i]);
    }
    for (size_t k = t->qhead; k < t->qhead + t->qlen; k++) {
        free(t->q[k].bytes);
    }
    free(t->q);
    free(t->effects);
    free(t->arena);
    free(t);
}

static void deliver(struct net *t, struct msg *m)
{
    uint8_t type = m->len > 5 ? m->bytes[5] : 0;
    if (t->seen != NULL) {
        t->seen(t, m);
    }
    if (t->drop != NULL && t->drop(t, m->from, m->to, type)) {
        return;
    }
    crypto_hash_sha256_update(&t->trace, m->bytes, m->len);
    t->delivered++;
    if (m->to >= CLIENT_BASE) {
        uint32_t c = m->to - CLIENT_BASE;
        assert_true(c < t->nclients);
        assert_true(void_pbft_client_step_receive(&t->cli[c], t->now, m->bytes, m->len, &t->out) >=
                    0);
        apply_effects(t, MAXN + c);
    } else if (!t->crashed[m->to] && (m->from >= CLIENT_BASE || !t->crashed[m->from])) {
        assert_int_equal(void_pbft_step_receive(t->rep[m->to], t->now, m->bytes, m->len, &t->out),
                         0);
        apply_effects(t, m->to);
    }
}

/* Fires the earliest timer (if any before limit). Returns 0 if none. */
static int fire_timer(struct net *t, uint64_t limit)
{
    uint64_t best = UINT64_MAX;
    uint32_t bn = 0, bt = 0;
    for (uint32_t node = 0; node < MAXN + MAXC; node++) {
        for (uint32_t k = 0; k < 4; k++) {
            if (t->timers[node][k] != 0 && t->timers[node][k] < best) {
                best = t->timers[node][k];
                bn = node;
                bt = k;
            }
        }
    }
    if (best == UINT64_MAX || best > limit) {
        return 0;
    }
    t->now = best > t->now ? best : t->now;
    t->timers[bn][bt] = 0;
    if (bn < MAXN) {
        assert_int_equal(
            void_pbft_step_timer(t->rep[bn], t->now, (enum void_pbft_timer)bt, &t->out), 0);
    } else {
        assert_int_equal(void_pbft_client_step_timer(&t->cli[bn - MAXN], t->now, &t->out), 0);
    }
    apply_effects(t, bn);
    return 1;
}

typedef int (*cond_fn)(struct net *t);

/* Runs until cond holds (returns 1) or virtual time passes limit_ns from now
 * (returns 0). Delivery takes 10 us of virtual time per message. */
static int net_run(struct net *t, uint64_t limit_ns, cond_fn cond)
{
    uint64_t limit = t->now + limit_ns;
    for (uint64_t step = 0; step < 5000000; step++) {
        if (cond != NULL && cond(t)) {
            return 1;
        }
        if (t->qlen > 0) {
            if (t->chaos) {
                size_t pick = t->qhead + void_prng_below(&t->prng, t->qlen < 8 ? t->qlen : 8);
                struct msg tmp = t->q[pick];
                t->q[pick] = t->q[t->qhead];
                t->q[t->qhead] = tmp;
                if (void_prng_chance(&t->prng, 1, 20)) {
                    free(t->q[t->qhead].bytes);
                    t->qhead++;
                    t->qlen--;
                    continue;
                }
                if (void_prng_chance(&t->prng, 1, 30)) {
                    struct msg *d = &t->q[t->qhead];
                    enqueue(t, d->from, d->to, d->bytes, d->len);
                }
            }
            struct msg m = t->q[t->qhead++];
            t->qlen--;
            t->now += 10000;
            deliver(t, &m);
            free(m.bytes);
        } else if (!fire_timer(t, limit)) {
            return cond != NULL ? cond(t) : 1;
        }
        if (t->now > limit) {
            return cond != NULL ? cond(t) : 1;
        }
    }
    return 0;
}

static int clients_idle(struct net *t)
{
    for (uint32_t c = 0; c < t->nclients; c++) {
        if (t->cli[c].busy) {
            return 0;
        }
    }
    return 1;
}

/* Encodes a put of key = value into op; returns its length. */
static size_t put_op(const char *key, const char *value, uint8_t *op, size_t cap)
{
    struct void_sm_op o = {.kind = VOID_SM_OP_PUT,
                           .key = (const uint8_t *)key,
                           .key_len = (uint16_t)strlen(key),
                           .value = (const uint8_t *)value,
                           .value_len = (uint16_t)strlen(value)};
    int len = void_sm_op_encode(&o, op, cap);
    assert_true(len > 0);
    return (size_t)len;
}

static void submit_put(struct net *t, uint32_t c, const char *key, const char *value)
{
    uint8_t op[VOID_SM_OP_MAX];
    size_t len = put_op(key, value, op, sizeof(op));
    assert_int_equal(void_pbft_client_submit(&t->cli[c], t->now, op, len, &t->out), 0);
    apply_effects(t, MAXN + c);
}

/* Client c puts count keys one after the other; each must complete within
 * limit_ns of virtual time. */
static void put_many(struct net *t, uint32_t c, int from, int count, uint64_t limit_ns)
{
    char key[32], val[32];
    for (int i = from; i < from + count; i++) {
        snprintf(key, sizeof(key), "key-%d", i % 50);
        snprintf(val, sizeof(val), "value-%d", i);
        submit_put(t, c, key, val);
        if (!net_run(t, limit_ns, clients_idle)) {
            fail_msg("request %d did not complete", i);
        }
        const uint8_t *res;
        int len = void_pbft_client_result(&t->cli[c], &res);
        assert_true(len > 0);
        struct void_sm_result r;
        assert_int_equal(void_sm_result_decode(res, (size_t)len, &r), 0);
        assert_int_equal(r.status, VOID_SM_OK);
    }
}

/* Every live replica executed up to seq and holds the same state. */
static void assert_agree(struct net *t, void_seq seq)
{
    uint8_t d0[32], d[32];
    int first = 1;
    for (uint32_t i = 0; i < t->n; i++) {
        if (t->crashed[i] && t->rep[i] == NULL) {
            continue;
        }
        assert_int_equal(void_pbft_last_executed(t->rep[i]), seq);
        void_sm_digest((struct void_sm *)(uintptr_t)void_pbft_sm(t->rep[i]), first ? d0 : d);
        if (!first) {
            assert_memory_equal(d0, d, 32);
        }
        first = 0;
    }
}

static int all_live_at_max(struct net *t)
{
    void_seq top = 0;
    for (uint32_t i = 0; i < t->n; i++) {
        if (t->rep[i] != NULL && void_pbft_last_executed(t->rep[i]) > top) {
            top = void_pbft_last_executed(t->rep[i]);
        }
    }
    for (uint32_t i = 0; i < t->n; i++) {
        if (t->rep[i] != NULL && void_pbft_last_executed(t->rep[i]) != top) {
            return 0;
        }
    }
    return 1;
}

/* ---- configuration changes -------------------------------------------------- */

/* Encodes the change (change, id) for epoch, signed by kp. */
static size_t member_op(
    uint8_t change, uint32_t id, uint64_t epoch, const struct void_sign_keypair *kp, uint8_t *buf)
{
    struct void_sm_member_op m = {.change = change, .id = id, .epoch = epoch};
    uint8_t msg[VOID_SM_MEMBER_SIGNED];
    void_sm_member_op_message(&m, msg);
    assert_int_equal(void_sign(kp, VOID_SIGN_DOMAIN_MEMBER, msg, sizeof(msg), m.sig), 0);
    int len = void_sm_member_op_encode(&m, buf, VOID_SM_MEMBER_OP_SIZE);
    assert_int_equal(len, VOID_SM_MEMBER_OP_SIZE);
    return (size_t)len;
}

/* Client c submits op and waits for its result, decoded into *r (the value
 * points into the client, valid until its next request). */
static void
submit_wait(struct net *t, uint32_t c, const uint8_t *op, size_t len, struct void_sm_result *r)
{
    assert_int_equal(void_pbft_client_submit(&t->cli[c], t->now, op, len, &t->out), 0);
    apply_effects(t, MAXN + c);
    if (!net_run(t, 5000 * MS, clients_idle)) {
        fail_msg("the request did not complete");
    }
    const uint8_t *res;
    int n = void_pbft_client_result(&t->cli[c], &res);
    assert_true(n > 0);
    assert_int_equal(void_sm_result_decode(res, (size_t)n, r), 0);
}

/* Submits the change and expects a refusal naming code. */
static void expect_refused(struct net *t,
                           uint8_t change,
                           uint32_t id,
                           uint64_t epoch,
                           const struct void_sign_keypair *kp,
                           int code)
{
    uint8_t op[VOID_SM_MEMBER_OP_SIZE];
    struct void_sm_result r;
    submit_wait(t, 0, op, member_op(change, id, epoch, kp, op), &r);
    assert_int_equal(r.status, VOID_SM_REFUSED);
    char text[256];
    assert_true(r.value_len < sizeof(text));
    memcpy(text, r.value, r.value_len);
    text[r.value_len] = 0;
    const char *name = void_err_name(code);
    if (strncmp(text, name, strlen(name)) != 0) {
        fail_msg("refused with \"%s\", expected %s", text, name);
    }
}

/* Submits the change and expects it applied: returns its boundary. */
static void_seq expect_applied(
    struct net *t, uint8_t change, uint32_t id, uint64_t epoch, const struct void_sign_keypair *kp)
{
    uint8_t op[VOID_SM_MEMBER_OP_SIZE];
    struct void_sm_result r;
    submit_wait(t, 0, op, member_op(change, id, epoch, kp, op), &r);
    assert_int_equal(r.status, VOID_SM_OK);
    assert_int_equal(r.value_len, 16);
    assert_int_equal(void_bytes_get_be64(r.value), epoch + 1);
    return void_bytes_get_be64(r.value + 8);
}

static void_seq boundary; /* what low_past waits for */

static int live_low_past(struct net *t)
{
    for (uint32_t i = 0; i < t->n; i++) {
        if (t->rep[i] != NULL && !t->crashed[i] && void_pbft_low_watermark(t->rep[i]) < boundary) {
            return 0;
        }
    }
    return 1;
}

/* Puts until every live replica's stable checkpoint reached seq. */
static void run_to_stable(struct net *t, void_seq seq, int *next_put)
{
    boundary = seq;
    for (int guard = 0; guard < 64 && !live_low_past(t); guard++) {
        put_many(t, 0, (*next_put)++, 1, 5000 * MS);
    }
    assert_true(live_low_past(t));
}

/* Every live replica entered epoch `epoch' at seq act, with voters mask. */
static void assert_epoch(struct net *t, uint64_t epoch, void_seq act, uint32_t voters)
{
    for (uint32_t i = 0; i < t->n; i++) {
        if (t->rep[i] == NULL || t->crashed[i]) {
            continue;
        }
        const struct void_membership_config *c = void_pbft_member_config(t->rep[i]);
        assert_int_equal(c->epoch, epoch);
        assert_int_equal(void_pbft_voters(t->rep[i]), voters);
        assert_int_equal(void_pbft_epoch_pending(t->rep[i]), 0);
        assert_true(t->epochs[i] > 0);
        assert_int_equal(t->epoch_at[i][t->epochs[i] - 1], act);
    }
}

/* Setup: n = 5 (q = 4), K = 4, L = 8, an admin key. Action: a few puts,
 * the admin removes replica 4, puts go on. Expected: the change answers
 * epoch 2 and its boundary (the checkpoint at or after the seq it executed
 * at); every replica enters epoch 2 at exactly that boundary, with voters
 * 0..3 (n = 4, q = 3); replica 4, still running, has its frames dropped and
 * counted by the others; then with replica 4 and replica 3 crashed, the
 * three left (a quorum of 4, not of 5) still commit. */
static void test_epoch_admin_remove_switches_every_replica_at_the_boundary(void **state)
{
    (void)state;
    struct net *t = net_new(5, 1, 4, 8, 1);
    int next = 0;
    put_many(t, 0, next, 5, 1000 * MS);
    next += 5;
    assert_int_equal(void_pbft_member_config(t->rep[0])->epoch, 1);
    void_seq act = expect_applied(t, VOID_MEMBERSHIP_REMOVE, 4, 1, &t->admin);
    assert_int_equal(act % 4, 0);
    assert_true(act >= 6 && act <= 8);
    for (uint32_t i = 0; i < 5; i++) {
        assert_int_equal(void_pbft_epoch_pending(t->rep[i]), act);
    }
    run_to_stable(t, act, &next);
    assert_epoch(t, 2, act, 0x0F);
    uint64_t dropped = 0;
    for (uint32_t i = 0; i < 4; i++) {
        assert_int_equal(void_pbft_member_config(t->rep[i])->count, 4);
        dropped += void_pbft_stats(t->rep[i])->rx_not_member;
    }
    /* Replica 4 keeps sending (its own epoch says it is out, but it still
     * retransmits what it sent): the others drop it. */
    put_many(t, 0, next, 3, 1000 * MS);
    next += 3;
    uint64_t dropped_after = 0;
    for (uint32_t i = 0; i < 4; i++) {
        dropped_after += void_pbft_stats(t->rep[i])->rx_not_member;
    }
    assert_true(dropped_after > dropped || dropped > 0);
    replica_crash(t, 4);
    replica_crash(t, 3);
    put_many(t, 0, next, 6, 3000 * MS);
    next += 6;
    for (uint32_t i = 0; i < 3; i++) {
        assert_int_equal(void_pbft_view(t->rep[i]), 0);
    }
    net_run(t, 10 * MS, all_live_at_max);
    assert_agree(t, void_pbft_last_executed(t->rep[0]));
    net_free(t);
}

/* Setup: n = 5. Action: the admin removes replica 0, the primary of view
 * 0. Expected: once the boundary is stable the primary of view 0 is
 * replica 1 (the first voter), not 0 mod 4: with replica 0 crashed, puts
 * commit in view 0 without a view change. */
static void test_epoch_primary_rotates_over_the_voters(void **state)
{
    (void)state;
    struct net *t = net_new(5, 1, 4, 8, 1);
    int next = 0;
    put_many(t, 0, next, 2, 1000 * MS);
    next += 2;
    void_seq act = expect_applied(t, VOID_MEMBERSHIP_REMOVE, 0, 1, &t->admin);
    run_to_stable(t, act, &next);
    assert_epoch(t, 2, act, 0x1E);
    for (uint32_t i = 1; i < 5; i++) {
        assert_int_equal(void_pbft_primary_of(t->rep[i], 0), 1);
        assert_int_equal(void_pbft_primary_of(t->rep[i], 3), 4);
        assert_int_equal(void_pbft_primary_of(t->rep[i], 4), 1);
        assert_int_equal(void_pbft_is_primary(t->rep[i]), i == 1);
    }
    replica_crash(t, 0);
    uint64_t vc = void_pbft_stats(t->rep[1])->view_changes;
    put_many(t, 0, next, 5, 3000 * MS);
    assert_int_equal(void_pbft_stats(t->rep[1])->view_changes, vc);
    assert_int_equal(void_pbft_view(t->rep[1]), 0);
    net_run(t, 10 * MS, all_live_at_max);
    assert_agree(t, void_pbft_last_executed(t->rep[1]));
    net_free(t);
}

/* Setup: n = 5, voters_min 4 (the default), then 3. Action: changes that
 * must be refused, each a committed request. Expected: each answer names
 * its reason, the same at every replica (their states stay equal), and the
 * epoch does not move. */
static void test_epoch_refusals_are_deterministic_results(void **state)
{
    (void)state;
    struct net *t = net_new(5, 1, 4, 8, 1);
    struct void_sign_keypair stranger;
    make_key(&stranger, 4242);
    expect_refused(t, VOID_MEMBERSHIP_REMOVE, 7, 1, &t->admin, VOID_EMEMBER_UNKNOWN);
    expect_refused(t, VOID_MEMBERSHIP_REMOVE, 2, 1, &stranger, VOID_EBAD_SIG);
    expect_refused(t, VOID_MEMBERSHIP_REMOVE, 2, 5, &t->admin, VOID_EMEMBER_EPOCH);
    /* A member leaves with its own signature, not the admin's. */
    expect_refused(t, VOID_MEMBERSHIP_LEAVE, 2, 1, &t->admin, VOID_EBAD_SIG);
    expect_applied(t, VOID_MEMBERSHIP_LEAVE, 2, 1, &t->keys[2]);
    expect_refused(t, VOID_MEMBERSHIP_REMOVE, 2, 2, &t->admin, VOID_EMEMBER_REMOVED);
    /* Four voters left: a removal would leave three. */
    expect_refused(t, VOID_MEMBERSHIP_REMOVE, 3, 2, &t->admin, VOID_EMEMBER_TOO_FEW);
    /* Clients cannot write the configuration's key. */
    uint8_t op[64];
    struct void_sm_op o = {.kind = VOID_SM_OP_PUT,
                           .key = (const uint8_t *)VOID_SM_MEMBER_KEY,
                           .key_len = VOID_SM_MEMBER_KEY_LEN,
                           .value = (const uint8_t *)"x",
                           .value_len = 1};
    int len = void_sm_op_encode(&o, op, sizeof(op));
    assert_true(len > 0);
    struct void_sm_result r;
    submit_wait(t, 0, op, (size_t)len, &r);
    assert_int_equal(r.status, VOID_SM_BAD_OP);
    net_run(t, 10 * MS, all_live_at_max);
    assert_agree(t, void_pbft_last_executed(t->rep[0]));
    net_free(t);

    net_voters_min = 3;
    t = net_new(5, 1, 4, 8, 1);
    expect_applied(t, VOID_MEMBERSHIP_REMOVE, 4, 1, &t->admin);
    /* The next change waits for the last one to be in effect a window. */
    expect_refused(t, VOID_MEMBERSHIP_REMOVE, 3, 2, &t->admin, VOID_EMEMBER_PENDING);
    net_voters_min = 0;
    net_free(t);
}

/* Setup: n = 5. Action: remove 4, run past the boundary and one more
 * checkpoint, crash every replica, recover each from its records. Expected:
 * all come back in epoch 2 (their checkpoint's state carries the
 * configuration) with every write, and go on committing with replica 4 gone. */
static void test_epoch_restart_comes_back_in_the_latest_epoch(void **state)
{
    (void)state;
    struct net *t = net_new(5, 1, 4, 8, 1);
    int next = 0;
    put_many(t, 0, next, 3, 1000 * MS);
    next += 3;
    void_seq act = expect_applied(t, VOID_MEMBERSHIP_REMOVE, 4, 1, &t->admin);
    run_to_stable(t, act + 4, &next);
    assert_epoch(t, 2, act, 0x0F);
    for (uint32_t i = 0; i < 5; i++) {
        replica_crash(t, i);
    }
    for (uint32_t i = 0; i < 4; i++) {
        t->crashed[i] = 0;
        replica_start(t, i, 1);
        assert_int_equal(void_pbft_member_config(t->rep[i])->epoch, 2);
        assert_int_equal(void_pbft_voters(t->rep[i]), 0x0F);
    }
    put_many(t, 0, next, 4, 5000 * MS);
    next += 4;
    net_run(t, 10 * MS, all_live_at_max);
    assert_agree(t, void_pbft_last_executed(t->rep[0]));
    /* Every key written before the crash is there. */
    for (int i = 0; i < next && i < 50; i++) {
        char key[32];
        snprintf(key, sizeof(key), "key-%d", i);
        struct void_sm_result r;
        void_sm_read((struct void_sm *)(uintptr_t)void_pbft_sm(t->rep[1]),
                     (const uint8_t *)key,
                     strlen(key),
                     NULL,
                     &r);
        assert_int_equal(r.status, VOID_SM_OK);
    }
    net_free(t);
}

int main(void)
{
    assert_int_equal(void_sign_global_init(), 0);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_epoch_admin_remove_switches_every_replica_at_the_boundary),
        cmocka_unit_test(test_epoch_primary_rotates_over_the_voters),
        cmocka_unit_test(test_epoch_refusals_are_deterministic_results),
        cmocka_unit_test(test_epoch_restart_comes_back_in_the_latest_epoch),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
