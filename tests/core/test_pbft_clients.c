/*
 * Tests of the replicas' client admission and at-most-once execution
 * (issue 17, "Clients without limits"): a request superseded by a newer one
 * of the same client session is answered STALE, sessions under one client
 * identity do not supersede each other, and clients that no replica's
 * keyring lists are admitted by an admin-signed certificate, checked
 * against the replicated batch stamp for expiry.
 *
 * Driven by a small deterministic pump of its own (FIFO delivery, virtual
 * time that jumps to the next timer when the network is idle): unlike the
 * one in test_pbft.c, client processes come and go (10,000 of them) and
 * several may share a client id, in which case a reply to that id reaches
 * every one of them, as the transport does (include/void/transport.h).
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
#include "void/client_cert.h"
#include "void/codec.h"
#include "void/error.h"
#include "void/kvs.h"
#include "void/pbft.h"
#include "void/pbft_client.h"
#include "void/sign.h"
#include "void/sm.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define N         4
#define SLOTS_MAX 128 /* client processes alive at once */
#define BASE      1000
#define MS        (1000ull * 1000)
#define T0        (1700000000ull * 1000 * 1000 * 1000)

struct msg {
    uint32_t to;
    size_t len;
    uint8_t *bytes;
};

/* One client process: a client core under id, which may share its id (and
 * key) with other slots. */
struct slot {
    struct void_pbft_client *c;
    uint32_t id;
    uint64_t timer; /* deadline of its retry timer, 0 = off */
    struct void_sign_keypair kp;
    uint8_t cert[VOID_CLIENT_CERT_SIZE];
};

struct net {
    uint64_t now;
    struct void_keyring ring;
    struct void_sign_keypair keys[N], admin;
    struct void_pbft *rep[N];
    struct void_kvs kvs[N];
    struct void_pbft_config cfg[N];
    uint64_t timers[N][4];
    struct slot slot[SLOTS_MAX];
    struct msg *q;
    size_t qhead, qlen, qcap;
    struct void_pbft_out out;
    struct void_pbft_effect *effects;
    uint8_t *arena;
};

static void seed_key(struct void_sign_keypair *kp, uint32_t id, uint8_t salt)
{
    uint8_t seed[VOID_SIGN_SEED_SIZE] = {0};
    void_bytes_put_be32(seed, id);
    seed[31] = salt;
    assert_int_equal(void_sign_keypair_from_seed(kp, seed), 0);
}

static void enqueue(struct net *t, uint32_t to, const uint8_t *bytes, size_t len)
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
    m->to = to;
    m->len = len;
    m->bytes = malloc(len);
    assert_non_null(m->bytes);
    memcpy(m->bytes, bytes, len);
}

/* Performs the effects in t->out of replica `self` (< N) or of slot s. */
static void apply(struct net *t, uint32_t self, struct slot *s)
{
    for (uint32_t k = 0; k < t->out.count; k++) {
        const struct void_pbft_effect *e = &t->out.effects[k];
        if (e->kind == VOID_PBFT_EFFECT_SEND) {
            for (uint32_t j = 0; j < N; j++) {
                if (e->u.send.to == VOID_PBFT_TO_ALL ? j != self : e->u.send.to == j) {
                    enqueue(t, j, e->u.send.frame, e->u.send.len);
                }
            }
            if (e->u.send.to >= N && e->u.send.to != VOID_PBFT_TO_ALL) {
                enqueue(t, e->u.send.to, e->u.send.frame, e->u.send.len);
            }
        } else if (e->kind == VOID_PBFT_EFFECT_TIMER_SET ||
                   e->kind == VOID_PBFT_EFFECT_TIMER_CANCEL) {
            uint64_t at = e->kind == VOID_PBFT_EFFECT_TIMER_SET ? t->now + e->u.timer.delay_ns : 0;
            if (s != NULL) {
                s->timer = at;
            } else {
                t->timers[self][e->u.timer.timer & 3] = at;
            }
        }
    }
    assert_int_equal(t->out.overflow, 0);
    void_pbft_out_reset(&t->out);
}

/* Four replicas; their keyring holds the replicas and keyring_clients
 * clients (ids BASE..), and they take certificates signed by t->admin when
 * admit_certs is set. */
static struct net *net_new(uint32_t keyring_clients, int admit_certs)
{
    struct net *t = calloc(1, sizeof(*t));
    assert_non_null(t);
    t->now = T0;
    t->effects = calloc(VOID_PBFT_OUT_EFFECTS_DEF, sizeof(*t->effects));
    t->arena = malloc(VOID_PBFT_OUT_ARENA_DEF);
    void_pbft_out_init(
        &t->out, t->effects, VOID_PBFT_OUT_EFFECTS_DEF, t->arena, VOID_PBFT_OUT_ARENA_DEF);
    void_keyring_init(&t->ring);
    seed_key(&t->admin, 0, 0xad);
    for (uint32_t i = 0; i < N; i++) {
        seed_key(&t->keys[i], i, 1);
        assert_int_equal(void_keyring_add(&t->ring, i, t->keys[i].public_key), 0);
    }
    for (uint32_t c = 0; c < keyring_clients; c++) {
        struct void_sign_keypair kp;
        seed_key(&kp, BASE + c, 2);
        assert_int_equal(void_keyring_add(&t->ring, BASE + c, kp.public_key), 0);
    }
    for (uint32_t i = 0; i < N; i++) {
        t->cfg[i] = (struct void_pbft_config){.n = N,
                                              .self = i,
                                              .request_timeout_ns = 500 * MS,
                                              .view_change_timeout_ns = 500 * MS,
                                              .retransmit_ns = 100 * MS,
                                              .verify_signatures = 1,
                                              .keyring = &t->ring,
                                              .keypair = &t->keys[i],
                                              .admin_key = admit_certs ? t->admin.public_key : NULL,
                                              .kvs = &t->kvs[i]};
        assert_int_equal(void_kvs_mem_init(&t->kvs[i], NULL), 0);
        t->rep[i] = calloc(1, sizeof(struct void_pbft));
        assert_non_null(t->rep[i]);
        assert_int_equal(void_pbft_init(t->rep[i], &t->cfg[i]), 0);
        assert_int_equal(void_pbft_start(t->rep[i], t->now, &t->out), 0);
        apply(t, i, NULL);
    }
    return t;
}

/* Starts a client process in slot k under id (key salt 2, as the keyring's
 * clients), with session and first request number, and with a certificate
 * from the admin expiring at expires_ns (0: none). */
static struct slot *client_new(struct net *t,
                               uint32_t k,
                               uint32_t id,
                               uint32_t session,
                               uint64_t first_reqno,
                               uint64_t expires_ns)
{
    assert_true(k < SLOTS_MAX);
    struct slot *s = &t->slot[k];
    assert_null(s->c);
    s->c = calloc(1, sizeof(*s->c));
    assert_non_null(s->c);
    s->id = id;
    s->timer = 0;
    seed_key(&s->kp, id, 2);
    if (expires_ns != 0) {
        struct void_client_cert cert = {.id = id, .expires_ns = expires_ns};
        memcpy(cert.public_key, s->kp.public_key, VOID_SIGN_PUBLIC_KEY_SIZE);
        assert_int_equal(void_client_cert_issue(&cert, &t->admin, s->cert), 0);
    }
    struct void_pbft_client_config cc = {.id = id,
                                         .n = N,
                                         .timeout_ns = 300 * MS,
                                         .first_reqno = first_reqno,
                                         .session = session,
                                         .cert = expires_ns != 0 ? s->cert : NULL,
                                         .verify_signatures = 1,
                                         .keyring = &t->ring,
                                         .keypair = &s->kp};
    assert_int_equal(void_pbft_client_init(s->c, &cc), 0);
    return s;
}

static void client_free(struct slot *s)
{
    free(s->c);
    s->c = NULL;
    s->timer = 0;
}

static void net_free(struct net *t)
{
    for (uint32_t i = 0; i < N; i++) {
        void_pbft_fini(t->rep[i]);
        free(t->rep[i]);
        void_kvs_close(&t->kvs[i]);
    }
    for (uint32_t k = 0; k < SLOTS_MAX; k++) {
        free(t->slot[k].c);
    }
    for (size_t k = t->qhead; k < t->qhead + t->qlen; k++) {
        free(t->q[k].bytes);
    }
    free(t->q);
    free(t->effects);
    free(t->arena);
    free(t);
}

static void deliver(struct net *t, const struct msg *m)
{
    if (m->to < N) {
        assert_int_equal(void_pbft_step_receive(t->rep[m->to], t->now, m->bytes, m->len, &t->out),
                         0);
        apply(t, m->to, NULL);
        return;
    }
    for (uint32_t k = 0; k < SLOTS_MAX; k++) { /* every process under that id */
        struct slot *s = &t->slot[k];
        if (s->c != NULL && s->id == m->to) {
            assert_true(void_pbft_client_step_receive(s->c, t->now, m->bytes, m->len, &t->out) >=
                        0);
            apply(t, m->to, s);
        }
    }
}

/* Fires the earliest timer before limit; returns 0 if there is none. */
static int fire_timer(struct net *t, uint64_t limit)
{
    uint64_t best = UINT64_MAX;
    uint32_t node = 0, timer = 0;
    for (uint32_t i = 0; i < N; i++) {
        for (uint32_t k = 0; k < 4; k++) {
            if (t->timers[i][k] != 0 && t->timers[i][k] < best) {
                best = t->timers[i][k];
                node = i;
                timer = k;
            }
        }
    }
    for (uint32_t k = 0; k < SLOTS_MAX; k++) {
        if (t->slot[k].c != NULL && t->slot[k].timer != 0 && t->slot[k].timer < best) {
            best = t->slot[k].timer;
            node = N + k;
        }
    }
    if (best == UINT64_MAX || best > limit) {
        return 0;
    }
    t->now = best > t->now ? best : t->now;
    if (node < N) {
        t->timers[node][timer] = 0;
        assert_int_equal(
            void_pbft_step_timer(t->rep[node], t->now, (enum void_pbft_timer)timer, &t->out), 0);
        apply(t, node, NULL);
    } else {
        struct slot *s = &t->slot[node - N];
        s->timer = 0;
        assert_int_equal(void_pbft_client_step_timer(s->c, t->now, &t->out), 0);
        apply(t, s->id, s);
    }
    return 1;
}

static int clients_idle(struct net *t)
{
    for (uint32_t k = 0; k < SLOTS_MAX; k++) {
        if (t->slot[k].c != NULL && t->slot[k].c->busy) {
            return 0;
        }
    }
    return 1;
}

/* Runs until every client is idle (returns 1) or limit_ns of virtual time
 * passed (returns whether they are idle then). 10 us per message. */
static int net_run(struct net *t, uint64_t limit_ns)
{
    uint64_t limit = t->now + limit_ns;
    for (uint64_t step = 0; step < 50000000; step++) {
        if (t->qlen == 0 && clients_idle(t)) {
            return 1;
        }
        if (t->qlen > 0) {
            struct msg m = t->q[t->qhead++];
            t->qlen--;
            t->now += 10000;
            deliver(t, &m);
            free(m.bytes);
        } else if (!fire_timer(t, limit)) {
            t->now = limit;
            return clients_idle(t);
        }
        if (t->now > limit) {
            return clients_idle(t);
        }
    }
    return 0;
}

/* Lets virtual time pass (timers fire) for ns. */
static void net_idle(struct net *t, uint64_t ns)
{
    uint64_t limit = t->now + ns;
    while (t->qlen > 0 || fire_timer(t, limit)) {
        if (t->qlen > 0) {
            struct msg m = t->q[t->qhead++];
            t->qlen--;
            t->now += 10000;
            deliver(t, &m);
            free(m.bytes);
        }
    }
    t->now = limit > t->now ? limit : t->now;
}

static void submit_put(struct net *t, struct slot *s, const char *key, const char *value)
{
    struct void_sm_op o = {.kind = VOID_SM_OP_PUT,
                           .key = (const uint8_t *)key,
                           .key_len = (uint16_t)strlen(key),
                           .value = (const uint8_t *)value,
                           .value_len = (uint16_t)strlen(value)};
    uint8_t op[256];
    int len = void_sm_op_encode(&o, op, sizeof(op));
    assert_true(len > 0);
    assert_int_equal(void_pbft_client_submit(s->c, t->now, op, (size_t)len, &t->out), 0);
    apply(t, s->id, s);
}

/* The status of slot s's completed request, decoded into *res. */
static uint8_t result_status(const struct slot *s, struct void_sm_result *res)
{
    const uint8_t *bytes;
    int len = void_pbft_client_result(s->c, &bytes);
    assert_true(len > 0);
    assert_int_equal(void_sm_result_decode(bytes, (size_t)len, res), 0);
    return res->status;
}

/* Setup: a client process (session 0, numbering from 1,000,000 as voidctl
 * numbers from the clock) puts once; a second process under the same id and
 * key numbers from 1 (as a long-running load generator does) and puts.
 * Expected: the second put is answered STALE by the replicas, naming the
 * number that superseded it (1,000,000), instead of waiting for ever; the
 * second process's next request is numbered above it and executes. */
static void test_pbft_superseded_request_is_answered_stale_and_the_client_renumbers(void **state)
{
    (void)state;
    struct net *t = net_new(1, 0);
    struct slot *clock = client_new(t, 0, BASE, 0, 1000000, 0);
    submit_put(t, clock, "a", "1");
    assert_true(net_run(t, 2000 * MS));
    struct void_sm_result res;
    assert_int_equal(result_status(clock, &res), VOID_SM_OK);
    client_free(clock);

    struct slot *load = client_new(t, 1, BASE, 0, 1, 0);
    submit_put(t, load, "b", "1");
    assert_true(net_run(t, 2000 * MS)); /* before the STALE answer: never idle */
    assert_int_equal(result_status(load, &res), VOID_SM_STALE);
    assert_int_equal(res.value_len, 8);
    assert_int_equal(void_bytes_get_be64(res.value), 1000000);
    assert_int_equal(load->c->stats.stale, 1);
    assert_int_equal(void_pbft_client_resend(load->c, t->now, VOID_PBFT_TO_ALL, &t->out),
                     VOID_EINVAL); /* superseded: nothing to retransmit */
    submit_put(t, load, "b", "2");
    assert_true(net_run(t, 2000 * MS));
    assert_int_equal(result_status(load, &res), VOID_SM_OK);
    assert_int_equal(void_pbft_client_reqno(load->c), 1000001);
    for (uint32_t i = 0; i < N; i++) {
        const struct void_pbft_stats *st = void_pbft_stats(t->rep[i]);
        assert_int_equal(st->requests_executed, 2); /* "a", then "b" once */
        assert_true(st->rx_stale >= 1);
    }
    net_free(t);
}

/* Setup: four processes under one client id and key, each its own session,
 * all numbering from 1 (the worst case: the same numbers). Action: each puts
 * 25 distinct keys, all at once. Expected: all 100 puts complete OK, none
 * superseded, each executed once by every replica, and the client table
 * holds four sessions. */
static void test_pbft_sessions_under_one_identity_do_not_supersede_each_other(void **state)
{
    (void)state;
    struct net *t = net_new(1, 0);
    struct slot *s[4];
    for (uint32_t k = 0; k < 4; k++) {
        s[k] = client_new(t, k, BASE, 0x51000000u + k, 1, 0);
    }
    char key[32];
    for (int round = 0; round < 25; round++) {
        for (uint32_t k = 0; k < 4; k++) {
            snprintf(key, sizeof(key), "s%u-%d", (unsigned)k, round);
            submit_put(t, s[k], key, "v");
        }
        if (!net_run(t, 3000 * MS)) {
            fail_msg("round %d: a process under the shared identity got no answer", round);
        }
        for (uint32_t k = 0; k < 4; k++) {
            struct void_sm_result res;
            assert_int_equal(result_status(s[k], &res), VOID_SM_OK);
        }
    }
    for (uint32_t k = 0; k < 4; k++) {
        assert_int_equal(s[k]->c->stats.completed, 25);
        assert_int_equal(s[k]->c->stats.stale, 0);
    }
    for (uint32_t i = 0; i < N; i++) {
        assert_int_equal(void_pbft_stats(t->rep[i])->requests_executed, 100);
        struct void_kvs_stats st;
        void_kvs_stats(&t->kvs[i], &st);
        assert_int_equal(st.versions, 100);
        assert_int_equal(st.clients, 4);
    }
    net_free(t);
}

/* Setup: replicas whose keyring lists no client, with an admin key. Action:
 * 10,000 distinct clients, 100 at a time, each with its own key and an
 * admin-signed certificate, put one key each; then each client's request
 * frame is sent to every replica again (a retransmission). Expected: every
 * put completes OK; every replica executed exactly 10,000 requests, holds
 * 10,000 keys of one version each and 10,000 client entries, and answered
 * each retransmission from its reply cache (at-most-once). */
static void test_pbft_10000_certified_clients_each_put_once_at_most_once(void **state)
{
    (void)state;
    struct net *t = net_new(0, 1);
    const uint32_t clients = 10000, wave = 100;
    char key[32];
    uint8_t frame[VOID_PBFT_REQUEST_FRAME_MAX];
    for (uint32_t first = 0; first < clients; first += wave) {
        for (uint32_t k = 0; k < wave; k++) {
            uint32_t id = BASE + first + k;
            struct slot *s = client_new(t, k, id, id * 7u + 1, 1, T0 + 86400ull * 1000 * MS);
            snprintf(key, sizeof(key), "c%u", (unsigned)id);
            submit_put(t, s, key, "v");
        }
        if (!net_run(t, 5000 * MS)) {
            fail_msg("clients %u..%u did not complete", first, first + wave - 1);
        }
        for (uint32_t k = 0; k < wave; k++) {
            struct slot *s = &t->slot[k];
            struct void_sm_result res;
            assert_int_equal(result_status(s, &res), VOID_SM_OK);
            assert_int_equal(s->c->stats.completed, 1);
            memcpy(frame, s->c->frame, s->c->frame_len);
            for (uint32_t i = 0; i < N; i++) {
                enqueue(t, i, frame, s->c->frame_len);
            }
        }
        net_idle(t, 50 * MS);
        for (uint32_t k = 0; k < wave; k++) {
            client_free(&t->slot[k]);
        }
    }
    for (uint32_t i = 0; i < N; i++) {
        const struct void_pbft_stats *ps = void_pbft_stats(t->rep[i]);
        assert_int_equal(ps->requests_executed, clients);
        assert_true(ps->rx_duplicate >= clients);
        struct void_kvs_stats st;
        void_kvs_stats(&t->kvs[i], &st);
        assert_int_equal(st.keys, clients);
        assert_int_equal(st.versions, clients);
        assert_int_equal(st.clients, clients);
    }
    net_free(t);
}

/* Setup: a certified client whose put completed. Action: it retransmits
 * the same request (void_pbft_client_resend) to one backup, which alone
 * cannot make f + 1 answers, so the retry timer sends it to every replica;
 * then once more to every replica at once. Expected: both complete with the
 * first answer byte for byte (the put's version stamp included), each
 * replica executed the put once, holds one version of the key, and counted
 * the retransmissions as duplicates. A resend needs a completed, not
 * superseded request and no request outstanding. */
static void test_pbft_client_resend_is_answered_from_the_reply_cache(void **state)
{
    (void)state;
    struct net *t = net_new(0, 1);
    struct slot *s = client_new(t, 0, BASE + 7, 3, 1, T0 + 3600ull * 1000 * MS);
    assert_int_equal(void_pbft_client_resend(s->c, t->now, VOID_PBFT_TO_ALL, &t->out), VOID_EINVAL);
    submit_put(t, s, "k", "once");
    assert_int_equal(void_pbft_client_resend(s->c, t->now, 1, &t->out), VOID_EBUSY);
    assert_true(net_run(t, 2000 * MS));
    struct void_sm_result res;
    assert_int_equal(result_status(s, &res), VOID_SM_OK);
    assert_true(res.version.wall_ns != 0);
    const uint8_t *bytes;
    int len = void_pbft_client_result(s->c, &bytes);
    uint8_t first[64];
    assert_true(len > 0 && (size_t)len <= sizeof(first));
    memcpy(first, bytes, (size_t)len);
    int first_len = len;
    uint64_t reqno = void_pbft_client_reqno(s->c);
    uint64_t dup0[N];
    for (uint32_t i = 0; i < N; i++) {
        dup0[i] = void_pbft_stats(t->rep[i])->rx_duplicate;
    }
    uint32_t targets[2] = {1, VOID_PBFT_TO_ALL};
    for (uint32_t k = 0; k < 2; k++) {
        assert_int_equal(void_pbft_client_resend(s->c, t->now, N, &t->out), VOID_EINVAL);
        assert_int_equal(void_pbft_client_resend(s->c, t->now, targets[k], &t->out), 0);
        apply(t, s->id, s);
        assert_int_equal(void_pbft_client_result(s->c, &bytes), VOID_EAGAIN);
        assert_true(net_run(t, 2000 * MS));
        len = void_pbft_client_result(s->c, &bytes);
        assert_int_equal(len, first_len);
        assert_memory_equal(bytes, first, (size_t)first_len);
        assert_int_equal(void_pbft_client_reqno(s->c), reqno);
    }
    assert_int_equal(s->c->stats.resent, 2);
    assert_int_equal(s->c->stats.retries, 1); /* the backup's answer alone was not enough */
    assert_int_equal(s->c->stats.completed, 3);
    for (uint32_t i = 0; i < N; i++) {
        const struct void_pbft_stats *ps = void_pbft_stats(t->rep[i]);
        assert_int_equal(ps->requests_executed, 1);
        assert_true(ps->rx_duplicate >= dup0[i] + 1);
        struct void_kvs_stats st;
        void_kvs_stats(&t->kvs[i], &st);
        assert_int_equal(st.keys, 1);
        assert_int_equal(st.versions, 1);
    }
    net_free(t);
}

/* Sends every replica a get from client, signed with signer and carrying
 * cert: a client that is not who it says it is. */
static void send_forged(struct net *t,
                        uint32_t client,
                        const struct void_sign_keypair *signer,
                        const uint8_t *cert)
{
    static const uint8_t op[] = {2, 0, 1, 'k'};
    struct void_pbft_request m = {.client = client,
                                  .hlc = {t->now, 0},
                                  .ev = 1,
                                  .reqno = 1,
                                  .repliers = VOID_PBFT_REPLIERS_ALL,
                                  .session = 9,
                                  .cert = cert,
                                  .op = op,
                                  .op_len = sizeof(op)};
    uint8_t frame[VOID_PBFT_REQUEST_FRAME_MAX];
    int len = void_pbft_request_encode(&m, signer, frame, sizeof(frame));
    assert_true(len > 0);
    for (uint32_t i = 0; i < N; i++) {
        enqueue(t, i, frame, (size_t)len);
    }
    net_idle(t, 10 * MS);
}

/* Setup: replicas with an admin key, no client in their keyring. Action: a
 * certificate signed by another key; a valid certificate of client 2002
 * presented by client 2001 (signed with 2002's key); and a client whose
 * certificate expires one second in: it puts at once, and again two
 * seconds later. Expected: the first two are refused unexecuted (counted as
 * unknown senders); the certified client's first put executes and its
 * second is answered EXPIRED by every replica alike (the batch stamp is
 * past the expiry), not executed. Replicas without an admin key refuse
 * certificates altogether. */
static void test_pbft_refuses_forged_borrowed_and_expired_certificates(void **state)
{
    (void)state;
    struct net *t = net_new(0, 1);
    struct void_sign_keypair rogue, k2001, k2002;
    seed_key(&rogue, 77, 9);
    seed_key(&k2001, 2001, 2);
    seed_key(&k2002, 2002, 2);
    uint8_t cert[VOID_CLIENT_CERT_SIZE];
    struct void_client_cert c = {.id = 2001, .expires_ns = T0 + 3600ull * 1000 * MS};
    memcpy(c.public_key, k2001.public_key, VOID_SIGN_PUBLIC_KEY_SIZE);
    assert_int_equal(void_client_cert_issue(&c, &rogue, cert), 0); /* not the admin */
    send_forged(t, 2001, &k2001, cert);
    c.id = 2002;
    memcpy(c.public_key, k2002.public_key, VOID_SIGN_PUBLIC_KEY_SIZE);
    assert_int_equal(void_client_cert_issue(&c, &t->admin, cert), 0);
    send_forged(t, 2001, &k2002, cert); /* 2002's certificate, posing as 2001 */
    for (uint32_t i = 0; i < N; i++) {
        const struct void_pbft_stats *ps = void_pbft_stats(t->rep[i]);
        assert_int_equal(ps->rx_unknown_sender, 2);
        assert_int_equal(ps->requests_executed, 0);
    }

    struct slot *s = client_new(t, 0, 3000, 5, 1, T0 + 1000 * MS);
    submit_put(t, s, "x", "1");
    assert_true(net_run(t, 500 * MS));
    struct void_sm_result res;
    assert_int_equal(result_status(s, &res), VOID_SM_OK);
    net_idle(t, 2000 * MS);
    submit_put(t, s, "x", "2");
    assert_true(net_run(t, 2000 * MS));
    assert_int_equal(result_status(s, &res), VOID_SM_EXPIRED);
    for (uint32_t i = 0; i < N; i++) {
        struct void_kvs_stats st;
        void_kvs_stats(&t->kvs[i], &st);
        assert_int_equal(st.versions, 1); /* the expired put did nothing */
    }
    net_free(t);

    t = net_new(0, 0); /* no admin key */
    s = client_new(t, 0, 3000, 5, 1, T0 + 1000 * MS);
    submit_put(t, s, "x", "1");
    assert_false(net_run(t, 1000 * MS));
    assert_true(void_pbft_stats(t->rep[0])->rx_unknown_sender >= 1);
    assert_int_equal(void_pbft_stats(t->rep[0])->requests_executed, 0);
    net_free(t);
}

/* Setup: replicas without an admin key, no client in their keyring.
 * Action: client 3000 puts (refused: no key for it); then its key is added
 * to the keyring the replicas were given, as voidd adds a joined member's
 * own client when the member's JOIN executes (src/io/node.c, ring_sync),
 * and each replica is told (void_pbft_keyring_grew); the client retries.
 * Expected: refused first, unexecuted; then the put executes at every
 * replica. Without the call a replica kept the "no key" it had cached for
 * 3000 and refused it for good (a joiner's own client reads the
 * configuration record before its JOIN executes). */
static void test_pbft_a_client_whose_key_is_added_later_is_admitted(void **state)
{
    (void)state;
    struct net *t = net_new(0, 0);
    struct slot *s = client_new(t, 0, 3000, 5, 1, 0);
    submit_put(t, s, "x", "1");
    assert_false(net_run(t, 1000 * MS));
    for (uint32_t i = 0; i < N; i++) {
        assert_true(void_pbft_stats(t->rep[i])->rx_unknown_sender >= 1);
        assert_int_equal(void_pbft_stats(t->rep[i])->requests_executed, 0);
    }
    assert_int_equal(void_keyring_add(&t->ring, 3000, s->kp.public_key), 0);
    for (uint32_t i = 0; i < N; i++) {
        void_pbft_keyring_grew(t->rep[i]);
    }
    assert_true(net_run(t, 3000 * MS));
    struct void_sm_result res;
    assert_int_equal(result_status(s, &res), VOID_SM_OK);
    for (uint32_t i = 0; i < N; i++) {
        assert_int_equal(void_pbft_stats(t->rep[i])->requests_executed, 1);
    }
    net_free(t);
}

int main(void)
{
    assert_int_equal(void_sign_global_init(), 0);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pbft_superseded_request_is_answered_stale_and_the_client_renumbers),
        cmocka_unit_test(test_pbft_sessions_under_one_identity_do_not_supersede_each_other),
        cmocka_unit_test(test_pbft_refuses_forged_borrowed_and_expired_certificates),
        cmocka_unit_test(test_pbft_10000_certified_clients_each_put_once_at_most_once),
        cmocka_unit_test(test_pbft_client_resend_is_answered_from_the_reply_cache),
        cmocka_unit_test(test_pbft_a_client_whose_key_is_added_later_is_admitted),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
