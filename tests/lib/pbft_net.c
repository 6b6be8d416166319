/* The in-process PBFT test network (pbft_net.h). */

/* cmocka.h needs these first, in this order. */
/* clang-format off */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
/* clang-format on */

#include "lib/pbft_net.h"

#include "void/bytes.h"
#include "void/codec.h"
#include "void/error.h"
#include "void/sm.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Replicas of the next net_new get config.rejoin_beacon (docs/pbft.md, Rejoining):
 * 0, the default, and 1 are on; -1 is off. */
int net_rejoin_beacon;
/* config.voters_min of the next net_new (0: the default, 4). */
uint16_t net_voters_min;
uint32_t net_pipeline;
uint32_t net_retain;
/* 1: the replicas of the next net_new take t->admin's key as the admin key
 * of their configuration (membership changes, tests/core/test_epoch.c). */
int net_admin;
/* config.genesis_n of the next net_new (0: n): replicas genesis..n-1 are
 * slots for joins, and their keys are not in the shared keyring (a JOIN
 * brings them; tests/core/test_member_join.c). */
uint32_t net_genesis;

void make_key(struct void_sign_keypair *kp, uint32_t id)
{
    uint8_t seed[VOID_SIGN_SEED_SIZE] = {0};
    memcpy(seed, &id, sizeof(id));
    seed[31] = 0x5a;
    assert_int_equal(void_sign_keypair_from_seed(kp, seed), 0);
}

void enqueue(struct net *t, uint32_t from, uint32_t to, const uint8_t *bytes, size_t len)
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

void store_record(struct net *t, uint32_t i, const struct void_pbft_effect *e)
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
void apply_effects(struct net *t, uint32_t node)
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

void replica_start(struct net *t, uint32_t i, int recover)
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

/* n replicas and nclients clients; K checkpoint interval, L window. */
struct net *net_new(uint32_t n, uint32_t nclients, uint32_t k, uint32_t window, int verify)
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
        if (net_genesis == 0 || i < net_genesis) {
            assert_int_equal(void_keyring_add(&t->ring, i, t->keys[i].public_key), 0);
        }
    }
    make_key(&t->admin, 9999);
    for (uint32_t c = 0; c < nclients; c++) {
        make_key(&t->ckeys[c], CLIENT_BASE + c);
        assert_int_equal(void_keyring_add(&t->ring, CLIENT_BASE + c, t->ckeys[c].public_key), 0);
    }
    for (uint32_t i = 0; i < n; i++) {
        t->cfg[i] = (struct void_pbft_config){.n = n,
                                              .genesis_n = net_genesis,
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
                                              .admin_key = net_admin ? t->admin.public_key : NULL,
                                              .voters_min = net_voters_min,
                                              .pipeline_max = net_pipeline,
                                              .retain_bytes = net_retain,
                                              .kvs = &t->kvs[i]};
        assert_int_equal(void_kvs_mem_init(&t->kvs[i], NULL), 0);
        replica_start(t, i, 0);
    }
    for (uint32_t c = 0; c < nclients; c++) {
        struct void_pbft_client_config cc = {.id = CLIENT_BASE + c,
                                             .n = n,
                                             .genesis_n = net_genesis,
                                             .timeout_ns = 150 * MS,
                                             .verify_signatures = verify,
                                             .keyring = &t->ring,
                                             .keypair = &t->ckeys[c]};
        assert_int_equal(void_pbft_client_init(&t->cli[c], &cc), 0);
    }
    return t;
}

void replica_crash(struct net *t, uint32_t i)
{
    void_pbft_fini(t->rep[i]);
    free(t->rep[i]);
    t->rep[i] = NULL;
    t->crashed[i] = 1;
    memset(t->timers[i], 0, sizeof(t->timers[i]));
}

void net_free(struct net *t)
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

void deliver(struct net *t, struct msg *m)
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
int fire_timer(struct net *t, uint64_t limit)
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

/* Runs until cond holds (returns 1) or virtual time passes limit_ns from now
 * (returns 0). Delivery takes 10 us of virtual time per message. */
int net_run(struct net *t, uint64_t limit_ns, cond_fn cond)
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

int clients_idle(struct net *t)
{
    for (uint32_t c = 0; c < t->nclients; c++) {
        if (t->cli[c].busy) {
            return 0;
        }
    }
    return 1;
}

/* Encodes a put of key = value into op; returns its length. */
size_t put_op(const char *key, const char *value, uint8_t *op, size_t cap)
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

void submit_put(struct net *t, uint32_t c, const char *key, const char *value)
{
    uint8_t op[VOID_SM_OP_MAX];
    size_t len = put_op(key, value, op, sizeof(op));
    assert_int_equal(void_pbft_client_submit(&t->cli[c], t->now, op, len, &t->out), 0);
    apply_effects(t, MAXN + c);
}

/* Client c puts count keys one after the other; each must complete within
 * limit_ns of virtual time. */
void put_many(struct net *t, uint32_t c, int from, int count, uint64_t limit_ns)
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
void assert_agree(struct net *t, void_seq seq)
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

int all_live_at_max(struct net *t)
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

size_t net_member_op(
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

void net_submit_wait(
    struct net *t, uint32_t c, const uint8_t *op, size_t len, struct void_sm_result *r)
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

void net_assert_refused(const struct void_sm_result *r, int code)
{
    assert_int_equal(r->status, VOID_SM_REFUSED);
    char text[256];
    assert_true(r->value_len < sizeof(text));
    memcpy(text, r->value, r->value_len);
    text[r->value_len] = 0;
    const char *name = void_err_name(code);
    if (strncmp(text, name, strlen(name)) != 0) {
        fail_msg("refused with \"%s\", expected %s", text, name);
    }
}

static int live_low_past(struct net *t, void_seq seq)
{
    for (uint32_t i = 0; i < t->n; i++) {
        if (t->rep[i] != NULL && !t->crashed[i] && void_pbft_low_watermark(t->rep[i]) < seq) {
            return 0;
        }
    }
    return 1;
}

void net_run_to_stable(struct net *t, void_seq seq, int *next_put)
{
    for (int guard = 0; guard < 64 && !live_low_past(t, seq); guard++) {
        put_many(t, 0, (*next_put)++, 1, 5000 * MS);
    }
    if (live_low_past(t, seq)) {
        return;
    }
    for (uint32_t i = 0; i < t->n; i++) {
        if (t->rep[i] == NULL) {
            continue;
        }
        const struct void_pbft_stats *st = void_pbft_stats(t->rep[i]);
        print_message("r%u frames %llu unk %llu badsig %llu win %llu stale %llu hlc %llu\n",
                      i,
                      (unsigned long long)st->rx_frames,
                      (unsigned long long)st->rx_unknown_sender,
                      (unsigned long long)st->rx_bad_sig,
                      (unsigned long long)st->rx_out_of_window,
                      (unsigned long long)st->rx_stale,
                      (unsigned long long)st->rx_hlc_ahead);
        print_message("r%u low %llu exec %llu epoch %llu not_member %llu xfers %llu\n",
                      i,
                      (unsigned long long)void_pbft_low_watermark(t->rep[i]),
                      (unsigned long long)void_pbft_last_executed(t->rep[i]),
                      (unsigned long long)void_pbft_member_config(t->rep[i])->epoch,
                      (unsigned long long)st->rx_not_member,
                      (unsigned long long)st->state_transfers);
    }
    fail_msg("the live replicas did not reach seq %llu", (unsigned long long)seq);
}
