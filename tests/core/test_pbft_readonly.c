/*
 * PBFT's read-only optimisation (docs/pbft.md, "Read-only requests"): four
 * replicas and a client driven by an in-process message pump, plus the
 * client core alone against forged answers. Replica timers are not fired
 * (nothing here needs a view change); the client's retry timer is, on
 * request.
 */
/* cmocka.h needs these first, in this order. */
/* clang-format off */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
/* clang-format on */

#include "void/codec.h"
#include "void/error.h"
#include "void/kvs.h"
#include "void/mac.h"
#include "void/pbft.h"
#include "void/pbft_client.h"
#include "void/pbft_msg.h"
#include "void/sign.h"
#include "void/sm.h"

#include <stdlib.h>
#include <string.h>

#define N      4
#define CLIENT 100
#define MS     1000000ull

struct msg {
    uint32_t from, to;
    size_t len;
    uint8_t *bytes;
};

struct net {
    struct void_pbft *rep[N];
    struct void_pbft_client cli;
    struct void_sign_keypair keys[N + 1];
    struct void_keyring ring;
    struct void_pbft_effect *effects;
    uint8_t *arena;
    struct void_pbft_out out;
    struct msg *q;
    size_t qlen, qcap;
    uint64_t now;
    uint64_t client_timer;              /* 0: not armed */
    int completed;                      /* the client's request completed */
    uint32_t sent_requests, sent_reads; /* by the client */
    /* Returns 1 to drop a frame of type `type` from `from` to `to`. */
    int (*drop)(struct net *t, const struct msg *m, uint8_t type);
};

static void make_key(struct void_sign_keypair *kp, uint32_t id)
{
    uint8_t seed[VOID_SIGN_SEED_SIZE] = {0};
    memcpy(seed, &id, sizeof(id));
    seed[31] = 0x3c;
    assert_int_equal(void_sign_keypair_from_seed(kp, seed), 0);
}

static void enqueue(struct net *t, uint32_t from, uint32_t to, const uint8_t *bytes, size_t len)
{
    if (t->qlen == t->qcap) {
        t->qcap = t->qcap ? t->qcap * 2 : 256;
        t->q = realloc(t->q, t->qcap * sizeof(*t->q));
        assert_non_null(t->q);
    }
    struct msg *m = &t->q[t->qlen++];
    m->from = from;
    m->to = to;
    m->len = len;
    m->bytes = malloc(len);
    assert_non_null(m->bytes);
    memcpy(m->bytes, bytes, len);
}

static void apply_effects(struct net *t, uint32_t self)
{
    for (uint32_t k = 0; k < t->out.count; k++) {
        const struct void_pbft_effect *e = &t->out.effects[k];
        if (e->kind == VOID_PBFT_EFFECT_SEND) {
            if (self == CLIENT) {
                t->sent_requests += e->u.send.msg_type == VOID_MSG_REQUEST;
                t->sent_reads += e->u.send.msg_type == VOID_MSG_READ;
            }
            if (e->u.send.to == VOID_PBFT_TO_ALL) {
                for (uint32_t j = 0; j < N; j++) {
                    if (j != self) {
                        enqueue(t, self, j, e->u.send.frame, e->u.send.len);
                    }
                }
            } else {
                enqueue(t, self, e->u.send.to, e->u.send.frame, e->u.send.len);
            }
        } else if (self == CLIENT && e->kind == VOID_PBFT_EFFECT_TIMER_SET) {
            t->client_timer = t->now + e->u.timer.delay_ns;
        } else if (self == CLIENT && e->kind == VOID_PBFT_EFFECT_TIMER_CANCEL) {
            t->client_timer = 0;
        }
    }
    assert_int_equal(t->out.overflow, 0);
    void_pbft_out_reset(&t->out);
}

static struct net *net_new(void)
{
    struct net *t = calloc(1, sizeof(*t));
    assert_non_null(t);
    t->now = 1000 * MS;
    t->effects = calloc(VOID_PBFT_OUT_EFFECTS_DEF, sizeof(*t->effects));
    t->arena = malloc(VOID_PBFT_OUT_ARENA_DEF);
    assert_true(t->effects != NULL && t->arena != NULL);
    void_pbft_out_init(
        &t->out, t->effects, VOID_PBFT_OUT_EFFECTS_DEF, t->arena, VOID_PBFT_OUT_ARENA_DEF);
    void_keyring_init(&t->ring);
    for (uint32_t i = 0; i <= N; i++) {
        uint32_t id = i < N ? i : CLIENT;
        make_key(&t->keys[i], id);
        assert_int_equal(void_keyring_add(&t->ring, id, t->keys[i].public_key), 0);
    }
    for (uint32_t i = 0; i < N; i++) {
        struct void_pbft_config cfg = {
            .n = N, .self = i, .verify_signatures = 1, .keyring = &t->ring, .keypair = &t->keys[i]};
        t->rep[i] = calloc(1, sizeof(struct void_pbft));
        assert_non_null(t->rep[i]);
        assert_int_equal(void_pbft_init(t->rep[i], &cfg), 0);
        assert_int_equal(void_pbft_start(t->rep[i], t->now, &t->out), 0);
        apply_effects(t, i);
    }
    struct void_pbft_client_config cc = {.id = CLIENT,
                                         .n = N,
                                         .timeout_ns = 100 * MS,
                                         .read_timeout_ns = 20 * MS,
                                         .verify_signatures = 1,
                                         .keyring = &t->ring,
                                         .keypair = &t->keys[N]};
    assert_int_equal(void_pbft_client_init(&t->cli, &cc), 0);
    return t;
}

static void net_free(struct net *t)
{
    for (size_t i = 0; i < t->qlen; i++) {
        free(t->q[i].bytes);
    }
    free(t->q);
    for (uint32_t i = 0; i < N; i++) {
        void_pbft_fini(t->rep[i]);
        free(t->rep[i]);
    }
    free(t->effects);
    free(t->arena);
    free(t);
}

static void deliver_one(struct net *t, const struct msg *m)
{
    struct void_frame fr;
    assert_int_equal(void_codec_decode(m->bytes, m->len, &fr), 0);
    if (t->drop != NULL && t->drop(t, m, fr.type)) {
        return;
    }
    t->now += 10000; /* 10 us a frame */
    if (m->to == CLIENT) {
        int rc = void_pbft_client_step_receive(&t->cli, t->now, m->bytes, m->len, &t->out);
        assert_true(rc == 0 || rc == 1);
        t->completed |= rc == 1;
        apply_effects(t, CLIENT);
    } else {
        assert_true(m->to < N);
        assert_int_equal(void_pbft_step_receive(t->rep[m->to], t->now, m->bytes, m->len, &t->out),
                         0);
        apply_effects(t, m->to);
    }
}

/* Drops every queued frame (what the client sent, in client-only tests). */
static void discard(struct net *t)
{
    for (size_t i = 0; i < t->qlen; i++) {
        free(t->q[i].bytes);
    }
    t->qlen = 0;
}

/* Delivers every queued frame (and those they cause), FIFO. */
static void pump(struct net *t)
{
    while (t->qlen > 0) {
        struct msg m = t->q[0];
        memmove(t->q, t->q + 1, (t->qlen - 1) * sizeof(*t->q));
        t->qlen--;
        deliver_one(t, &m);
        free(m.bytes);
    }
}

/* Pumps, firing the client's retry timer when the network is quiet, until
 * the client's request completes (at most `fires` timer expiries). */
static void run_until_complete(struct net *t, int fires)
{
    for (;;) {
        pump(t);
        if (t->completed || fires-- == 0 || t->client_timer == 0) {
            break;
        }
        assert_true(t->client_timer != 0);
        t->now = t->client_timer;
        t->client_timer = 0;
        assert_int_equal(void_pbft_client_step_timer(&t->cli, t->now, &t->out), 0);
        apply_effects(t, CLIENT);
    }
    assert_true(t->completed);
}

static size_t op_of(uint8_t kind, const char *key, const char *value, uint8_t *op, size_t cap)
{
    struct void_sm_op o = {.kind = kind,
                           .key = (const uint8_t *)key,
                           .key_len = (uint16_t)strlen(key),
                           .value = (const uint8_t *)value,
                           .value_len = value != NULL ? (uint32_t)strlen(value) : 0};
    int len = void_sm_op_encode(&o, op, cap);
    assert_true(len > 0);
    return (size_t)len;
}

static void put(struct net *t, const char *key, const char *value)
{
    uint8_t op[256];
    size_t len = op_of(VOID_SM_OP_PUT, key, value, op, sizeof(op));
    t->completed = 0;
    assert_int_equal(void_pbft_client_submit(&t->cli, t->now, op, len, &t->out), 0);
    apply_effects(t, CLIENT);
}

static void read_only_get(struct net *t, const char *key)
{
    uint8_t op[256];
    size_t len = op_of(VOID_SM_OP_GET, key, NULL, op, sizeof(op));
    t->completed = 0;
    assert_int_equal(void_pbft_client_submit_read(&t->cli, t->now, op, len, &t->out), 0);
    apply_effects(t, CLIENT);
}

/* The value of the completed request's GET result. */
static void assert_result_value(struct net *t, const char *value)
{
    const uint8_t *res;
    int len = void_pbft_client_result(&t->cli, &res);
    assert_true(len > 0);
    struct void_sm_result r;
    assert_int_equal(void_sm_result_decode(res, (size_t)len, &r), 0);
    assert_int_equal(r.status, VOID_SM_OK);
    assert_int_equal(r.value_len, strlen(value));
    assert_memory_equal(r.value, value, r.value_len);
}

/* Setup: four replicas; a put of k=v1 completes. Action: a read-only get of
 * k. Expected: it completes with v1 on the replicas' unordered answers: no
 * replica executes another batch, each answered once, the client sent READs
 * only and counts a quorum read. */
static void test_read_only_get_completes_on_a_quorum_without_ordering(void **state)
{
    (void)state;
    struct net *t = net_new();
    put(t, "k", "v1");
    run_until_complete(t, 0);
    void_seq executed = void_pbft_last_executed(t->rep[0]);
    assert_int_equal(executed, 1);
    t->sent_requests = 0;
    read_only_get(t, "k");
    run_until_complete(t, 0);
    assert_result_value(t, "v1");
    assert_int_equal(t->sent_requests, 0);
    assert_int_equal(t->sent_reads, 1); /* one READ to every replica */
    for (uint32_t i = 0; i < N; i++) {
        assert_int_equal(void_pbft_last_executed(t->rep[i]), executed);
        assert_int_equal(void_pbft_stats(t->rep[i])->reads_answered, 1);
    }
    assert_int_equal(t->cli.stats.reads_quorum, 1);
    assert_int_equal(t->cli.stats.reads_ordered, 0);
    net_free(t);
}

/* Setup: a put of k=v1 completes. Action: a read-only get of k. Expected:
 * no replica signs anything for it (each answer carries only its tag, which
 * the client checks), and the client checks no signature. */
static void test_read_only_answers_are_tagged_not_signed(void **state)
{
    (void)state;
    struct net *t = net_new();
    put(t, "k", "v1");
    run_until_complete(t, 0);
    pump(t);
    uint64_t signs[N];
    for (uint32_t i = 0; i < N; i++) {
        signs[i] = void_pbft_stats(t->rep[i])->signs;
    }
    uint64_t macs_ok = t->cli.stats.macs_ok, verifies = t->cli.stats.verifies;
    read_only_get(t, "k");
    run_until_complete(t, 0);
    pump(t); /* the fourth answer too */
    assert_result_value(t, "v1");
    assert_int_equal(t->cli.stats.reads_quorum, 1);
    for (uint32_t i = 0; i < N; i++) {
        assert_int_equal(void_pbft_stats(t->rep[i])->reads_answered, 1);
        assert_int_equal(void_pbft_stats(t->rep[i])->signs, signs[i]);
    }
    assert_int_equal(t->cli.stats.macs_ok, macs_ok + 3); /* the fourth is stale */
    assert_int_equal(t->cli.stats.verifies, verifies);
    net_free(t);
}

/* Spoils the tag of replica 0's answers to the client while set. */
static int spoil_0;
static int spoil_tag_from_0(struct net *t, const struct msg *m, uint8_t type)
{
    (void)t;
    if (spoil_0 && m->from == 0 && m->to == CLIENT && type == VOID_MSG_REPLY) {
        m->bytes[m->len - VOID_SIGN_SIZE - VOID_MAC_SIZE] ^= 1;
    }
    return 0;
}

/* Setup: k=v1 everywhere; replica 0's answer to a read reaches the client
 * with a spoiled tag. Action: a read-only get of k. Expected: the client
 * refuses that answer (no signature stands behind a read's tag, so nothing
 * else authenticates it) and completes the read on the other three. */
static void test_read_only_answer_with_a_bad_tag_is_refused(void **state)
{
    (void)state;
    struct net *t = net_new();
    t->drop = spoil_tag_from_0;
    put(t, "k", "v1");
    run_until_complete(t, 0);
    pump(t);
    uint64_t bad = t->cli.stats.rx_bad_sig;
    spoil_0 = 1;
    read_only_get(t, "k");
    run_until_complete(t, 0);
    pump(t);
    spoil_0 = 0;
    assert_result_value(t, "v1");
    assert_int_equal(t->cli.stats.reads_quorum, 1);
    assert_int_equal(t->cli.stats.reads_ordered, 0);
    assert_int_equal(t->cli.stats.rx_bad_sig, bad + 1);
    net_free(t);
}

/* Drops every frame to replica 3 while set. */
static int cut_3;
static int drop_to_3(struct net *t, const struct msg *m, uint8_t type)
{
    (void)t;
    (void)type;
    return cut_3 && m->to == 3;
}

/* Setup: k=v1 everywhere; then replica 3 misses all of a put k=v2 (seq 2)
 * but takes part in a put of j=w (seq 3), which it holds committed and
 * cannot execute. Action: a read-only get of k. Expected: replica 3 does
 * not answer (it holds the read): its executed state has v1, and a read
 * quorum with it could miss the write of v2; the other three answer v2 and
 * the read completes with v2. */
static void test_read_only_replica_with_committed_unexecuted_batch_holds_the_read(void **state)
{
    (void)state;
    struct net *t = net_new();
    t->drop = drop_to_3;
    put(t, "k", "v1");
    run_until_complete(t, 0);
    cut_3 = 1;
    put(t, "k", "v2");
    run_until_complete(t, 1); /* a retry when 3 is a chosen replier */
    cut_3 = 0;
    put(t, "j", "w");
    run_until_complete(t, 1);
    pump(t); /* replica 3's votes reach everyone */
    assert_int_equal(void_pbft_last_executed(t->rep[3]), 1);
    const struct void_pbft_stats *s3 = void_pbft_stats(t->rep[3]);
    read_only_get(t, "k");
    run_until_complete(t, 0);
    assert_result_value(t, "v2");
    assert_int_equal(s3->reads_answered, 0);
    assert_int_equal(s3->reads_deferred, 1);
    assert_int_equal(t->cli.stats.reads_quorum, 1);
    cut_3 = 0;
    t->drop = NULL;
    net_free(t);
}

/* Holds back the COMMITs to replica 3 while set (kept in held[], for
 * release), and drops 3's own. */
static int hold_commits;
static struct msg held[16];
static size_t nheld;
static int drop_commits_around_3(struct net *t, const struct msg *m, uint8_t type)
{
    (void)t;
    if (!hold_commits || type != VOID_MSG_COMMIT || (m->from != 3 && m->to != 3)) {
        return 0;
    }
    if (m->to == 3) {
        assert_true(nheld < 16);
        held[nheld] = *m;
        held[nheld].bytes = malloc(m->len);
        assert_non_null(held[nheld].bytes);
        memcpy(held[nheld++].bytes, m->bytes, m->len);
    }
    return 1;
}

/* Setup: k=v1 everywhere; a put of k=v2 that replica 3 prepares and sends
 * its COMMIT for, but whose other commits it never sees (it has voted, not
 * executed). Action: a read-only get of k, then the commits reach 3.
 * Expected: 3 holds the read while v2 is unexecuted there, and answers it
 * with v2 once it executes the batch. */
static void test_read_only_replica_answers_only_after_executing_what_it_committed(void **state)
{
    (void)state;
    struct net *t = net_new();
    put(t, "k", "v1");
    run_until_complete(t, 0);
    t->drop = drop_commits_around_3;
    hold_commits = 1;
    put(t, "k", "v2");
    run_until_complete(t, 1); /* a retry when 3 is a chosen replier */
    const struct void_pbft_stats *s3 = void_pbft_stats(t->rep[3]);
    assert_int_equal(void_pbft_last_executed(t->rep[3]), 1);
    read_only_get(t, "k");
    run_until_complete(t, 0);
    assert_result_value(t, "v2");
    assert_int_equal(s3->reads_answered, 0);
    assert_int_equal(s3->reads_deferred, 1);
    /* The held commits reach 3: it executes v2 and answers the held read
     * (with v2; the client has its result already and drops it as stale). */
    hold_commits = 0;
    t->drop = NULL;
    uint64_t stale = t->cli.stats.rx_stale;
    for (size_t i = 0; i < nheld; i++) {
        enqueue(t, held[i].from, held[i].to, held[i].bytes, held[i].len);
        free(held[i].bytes);
    }
    nheld = 0;
    pump(t);
    assert_int_equal(void_pbft_last_executed(t->rep[3]), 2);
    assert_int_equal(s3->reads_answered, 1);
    assert_true(t->cli.stats.rx_stale > stale); /* its late answers, the read's among them */
    net_free(t);
}

/* Drops READs to replicas 2 and 3 while set. */
static int drop_reads_to_2_3(struct net *t, const struct msg *m, uint8_t type)
{
    (void)t;
    return type == VOID_MSG_READ && m->to >= 2;
}

/* Setup: k=v1 everywhere; READs to replicas 2 and 3 are lost. Action: a
 * read-only get of k; its timer fires. Expected: only two answers, no
 * quorum; after the read timeout the client orders the read (a REQUEST with
 * a new number), which executes as a batch and completes with v1. */
static void test_read_only_falls_back_to_ordered_on_timeout(void **state)
{
    (void)state;
    struct net *t = net_new();
    put(t, "k", "v1");
    run_until_complete(t, 0);
    t->drop = drop_reads_to_2_3;
    uint64_t reqno = void_pbft_client_reqno(&t->cli);
    t->sent_requests = 0;
    read_only_get(t, "k");
    pump(t);
    assert_false(t->completed);
    assert_int_equal(t->sent_requests, 0);
    run_until_complete(t, 1);
    assert_result_value(t, "v1");
    assert_int_equal(t->sent_requests, 1);
    assert_int_equal(void_pbft_client_reqno(&t->cli), reqno + 2);
    assert_int_equal(void_pbft_last_executed(t->rep[0]), 2); /* the get was ordered */
    assert_int_equal(t->cli.stats.reads_ordered, 1);
    assert_int_equal(t->cli.stats.reads_quorum, 0);
    net_free(t);
}

/* ---- the client alone, against forged answers ----------------------------- */

/* A REPLY from replica `from` (signed with its key) to request reqno with
 * result `result`. */
static size_t forged_reply(
    struct net *t, uint32_t from, uint64_t reqno, const char *result, uint8_t *buf, size_t cap)
{
    struct void_sm_result res = {.status = VOID_SM_OK,
                                 .version = {5, 0},
                                 .value = (const uint8_t *)result,
                                 .value_len = (uint32_t)strlen(result)};
    uint8_t enc[128];
    int rlen = void_sm_result_encode(&res, enc, sizeof(enc));
    assert_true(rlen > 0);
    struct void_pbft_reply m = {.ev = 1,
                                .client = CLIENT,
                                .reqno = reqno,
                                .result = enc,
                                .result_len = (uint32_t)rlen,
                                .index = 0,
                                .count = 1};
    uint8_t body[512];
    int blen = void_pbft_reply_encode(&m, body, sizeof(body));
    assert_true(blen > 0);
    struct void_frame fr = {.type = VOID_MSG_REPLY,
                            .sender = from,
                            .hlc = {t->now, 0},
                            .body = body,
                            .body_len = (uint32_t)blen};
    size_t len;
    assert_int_equal(void_codec_encode_unsigned(&fr, buf, cap, &len), 0);
    assert_int_equal(void_pbft_reply_sign(buf, len, &t->keys[from]), 0);
    return len;
}

static int client_gets(struct net *t, uint32_t from, const char *result)
{
    uint8_t buf[512];
    size_t len = forged_reply(t, from, void_pbft_client_reqno(&t->cli), result, buf, sizeof(buf));
    int rc = void_pbft_client_step_receive(&t->cli, t->now, buf, len, &t->out);
    apply_effects(t, CLIENT);
    discard(t); /* what the client sent is not delivered here */
    return rc;
}

/* Setup: n = 4 (f = 1, quorum 3), a read-only get outstanding. Action:
 * faulty replica 3 answers FAKE (twice), honest 0 and 1 answer A, then 2
 * answers A. Expected: FAKE never completes the read, nor do 2 matching
 * answers; the third matching one does, with A. */
static void test_read_only_f_faulty_replicas_cannot_make_a_read_return_their_value(void **state)
{
    (void)state;
    struct net *t = net_new();
    read_only_get(t, "k");
    discard(t);
    assert_int_equal(client_gets(t, 3, "FAKE"), 0);
    assert_int_equal(client_gets(t, 3, "FAKE"), 0);
    assert_int_equal(client_gets(t, 0, "A"), 0);
    assert_int_equal(client_gets(t, 1, "A"), 0);
    assert_int_equal(t->sent_requests, 0); /* FAKE + 2 A: a quorum of A is still possible */
    assert_int_equal(client_gets(t, 2, "A"), 1);
    assert_result_value(t, "A");
    assert_int_equal(t->cli.stats.reads_quorum, 1);
    net_free(t);
}

/* Setup: a read-only get outstanding. Action: three replicas answer three
 * different values (one faulty, two honest replicas at different points of
 * execution). Expected: no quorum can match any more, so the client orders
 * the read at once (a REQUEST with the next number), without waiting for
 * its timeout, and answers to the READ are then dropped. */
static void test_read_only_falls_back_to_ordered_on_mismatch(void **state)
{
    (void)state;
    struct net *t = net_new();
    read_only_get(t, "k");
    discard(t);
    uint64_t reqno = void_pbft_client_reqno(&t->cli);
    assert_int_equal(client_gets(t, 3, "X"), 0);
    assert_int_equal(client_gets(t, 0, "A"), 0);
    assert_int_equal(t->sent_requests, 0);
    assert_int_equal(client_gets(t, 1, "B"), 0);
    assert_int_equal(t->sent_requests, 1);
    assert_int_equal(void_pbft_client_reqno(&t->cli), reqno + 1);
    assert_int_equal(t->cli.stats.reads_ordered, 1);
    /* A late answer to the READ (the old number) completes nothing. */
    uint8_t buf[512];
    size_t len = forged_reply(t, 2, reqno, "A", buf, sizeof(buf));
    assert_int_equal(void_pbft_client_step_receive(&t->cli, t->now, buf, len, &t->out), 0);
    assert_int_equal(t->cli.stats.rx_stale, 1);
    void_pbft_out_reset(&t->out);
    net_free(t);
}

/* Setup: four replicas. Action: the client asks to send a put read-only;
 * then a READ frame carrying a put, correctly signed and tagged by the
 * client, reaches replica 0. Expected: the client core refuses the first
 * (VOID_EINVAL); the replica refuses the second (reads_refused), sends
 * nothing, orders nothing and its state does not change; a READ is not a
 * REQUEST, so it can never ride in a batch either. */
static void test_read_only_request_with_a_write_is_refused(void **state)
{
    (void)state;
    struct net *t = net_new();
    uint8_t op[256];
    size_t op_len = op_of(VOID_SM_OP_PUT, "k", "evil", op, sizeof(op));
    assert_int_equal(void_pbft_client_submit_read(&t->cli, t->now, op, op_len, &t->out),
                     VOID_EINVAL);
    assert_int_equal(t->out.count, 0);
    assert_false(void_sm_op_read_only(op, op_len));
    uint8_t keys[N][VOID_MAC_KEY_SIZE];
    for (uint32_t i = 0; i < N; i++) {
        assert_int_equal(void_mac_key_derive(&t->keys[N], t->keys[i].public_key, keys[i]), 0);
    }
    struct void_pbft_request m = {.client = CLIENT,
                                  .hlc = {t->now, 0},
                                  .ev = 1,
                                  .reqno = 7,
                                  .repliers = VOID_PBFT_REPLIERS_ALL,
                                  .op = op,
                                  .op_len = (uint32_t)op_len,
                                  .mac_count = N,
                                  .mac_keys = (const uint8_t(*)[VOID_MAC_KEY_SIZE])keys};
    uint8_t frame[1024];
    int len = void_pbft_read_encode(&m, &t->keys[N], frame, sizeof(frame));
    assert_true(len > 0);
    struct void_pbft_request q;
    size_t used;
    assert_int_equal(void_pbft_request_decode(frame, (size_t)len, &q, &used), VOID_EBAD_TYPE);
    assert_int_equal(void_pbft_read_decode(frame, (size_t)len, &q, &used), 0);
    assert_int_equal(void_pbft_step_receive(t->rep[0], t->now, frame, (size_t)len, &t->out), 0);
    for (uint32_t k = 0; k < t->out.count; k++) {
        assert_int_not_equal(t->out.effects[k].kind, VOID_PBFT_EFFECT_SEND);
    }
    void_pbft_out_reset(&t->out);
    const struct void_pbft_stats *s = void_pbft_stats(t->rep[0]);
    assert_int_equal(s->reads_refused, 1);
    assert_int_equal(s->reads_answered, 0);
    assert_int_equal(s->macs_ok, 1); /* authenticated first, then refused */
    struct void_sm_result cur;
    void_sm_read((struct void_sm *)void_pbft_sm(t->rep[0]), (const uint8_t *)"k", 1, NULL, &cur);
    assert_int_equal(cur.status, VOID_SM_NOT_FOUND);
    assert_int_equal(void_pbft_last_executed(t->rep[0]), 0);
    net_free(t);
}

/* Setup: a READ of a GET whose client tag for replica 1 is spoiled and whose
 * signature is not the client's. Expected: replica 1 answers nothing
 * (rx_bad_sig): a read is authenticated like any request. */
static void test_read_only_request_must_be_authentic(void **state)
{
    (void)state;
    struct net *t = net_new();
    uint8_t op[64];
    size_t op_len = op_of(VOID_SM_OP_GET, "k", NULL, op, sizeof(op));
    struct void_pbft_request m = {.client = CLIENT,
                                  .hlc = {t->now, 0},
                                  .ev = 1,
                                  .reqno = 1,
                                  .repliers = VOID_PBFT_REPLIERS_ALL,
                                  .op = op,
                                  .op_len = (uint32_t)op_len};
    uint8_t frame[512];
    int len =
        void_pbft_read_encode(&m, &t->keys[2], frame, sizeof(frame)); /* not the client's key */
    assert_true(len > 0);
    assert_int_equal(void_pbft_step_receive(t->rep[1], t->now, frame, (size_t)len, &t->out), 0);
    assert_int_equal(t->out.count, 0);
    assert_int_equal(void_pbft_stats(t->rep[1])->rx_bad_sig, 1);
    assert_int_equal(void_pbft_stats(t->rep[1])->reads_answered, 0);
    net_free(t);
}

/* Executes one batch of op on sm at wall time `at`. */
static void sm_batch(struct void_sm *sm, uint64_t at, uint64_t label, const uint8_t *op, size_t len)
{
    uint8_t *res = malloc(VOID_SM_RESULT_MAX);
    assert_non_null(res);
    size_t res_len = 0;
    assert_int_equal(void_sm_begin_batch(sm, (struct void_hlc_ts){at, 0}, label, NULL), 0);
    assert_int_equal(void_sm_execute(sm, CLIENT, label, op, len, res, VOID_SM_RESULT_MAX, &res_len),
                     0);
    assert_int_equal(void_sm_end_batch(sm), 0);
    free(res);
}

/* Setup: state A saw k put then deleted; state B never saw k (only another
 * key); state C saw nothing. Action: a read-only get of k on each, and a
 * put refused. Expected: all three answer NOT_FOUND, but A's answer differs
 * from B's and C's (it names its tombstone): a quorum of "no value" cannot
 * mix a replica past a delete with one before the key's first write; the
 * put is refused (VOID_EPERM). */
static void test_read_only_not_found_names_where_in_history_it_holds(void **state)
{
    (void)state;
    struct void_kvs kvs[3];
    struct void_sm sm[3];
    for (int i = 0; i < 3; i++) {
        assert_int_equal(void_kvs_mem_init(&kvs[i], NULL), 0);
        assert_int_equal(void_sm_init(&sm[i], NULL, &kvs[i]), 0);
    }
    uint8_t put_k[64], del_k[64], put_j[64], get_k[64];
    size_t lp = op_of(VOID_SM_OP_PUT, "k", "v", put_k, sizeof(put_k));
    size_t ld = op_of(VOID_SM_OP_DELETE, "k", NULL, del_k, sizeof(del_k));
    size_t lj = op_of(VOID_SM_OP_PUT, "j", "w", put_j, sizeof(put_j));
    size_t lg = op_of(VOID_SM_OP_GET, "k", NULL, get_k, sizeof(get_k));
    sm_batch(&sm[0], 1000, 1, put_k, lp);
    sm_batch(&sm[0], 2000, 2, del_k, ld);
    sm_batch(&sm[1], 1000, 1, put_j, lj);
    uint8_t *res[3];
    size_t len[3];
    for (int i = 0; i < 3; i++) {
        res[i] = malloc(VOID_SM_RESULT_MAX);
        assert_non_null(res[i]);
        assert_int_equal(
            void_sm_execute_read(&sm[i], get_k, lg, res[i], VOID_SM_RESULT_MAX, &len[i]), 0);
        struct void_sm_result r;
        assert_int_equal(void_sm_result_decode(res[i], len[i], &r), 0);
        assert_int_equal(r.status, VOID_SM_NOT_FOUND);
    }
    assert_false(len[0] == len[1] && memcmp(res[0], res[1], len[0]) == 0);
    assert_false(len[0] == len[2] && memcmp(res[0], res[2], len[0]) == 0);
    size_t dummy = 0;
    assert_int_equal(void_sm_execute_read(&sm[0], put_k, lp, res[0], VOID_SM_RESULT_MAX, &dummy),
                     VOID_EPERM);
    for (int i = 0; i < 3; i++) {
        free(res[i]);
        void_sm_fini(&sm[i]);
        void_kvs_close(&kvs[i]);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_read_only_get_completes_on_a_quorum_without_ordering),
        cmocka_unit_test(test_read_only_answers_are_tagged_not_signed),
        cmocka_unit_test(test_read_only_answer_with_a_bad_tag_is_refused),
        cmocka_unit_test(test_read_only_replica_with_committed_unexecuted_batch_holds_the_read),
        cmocka_unit_test(test_read_only_replica_answers_only_after_executing_what_it_committed),
        cmocka_unit_test(test_read_only_falls_back_to_ordered_on_timeout),
        cmocka_unit_test(test_read_only_f_faulty_replicas_cannot_make_a_read_return_their_value),
        cmocka_unit_test(test_read_only_falls_back_to_ordered_on_mismatch),
        cmocka_unit_test(test_read_only_request_with_a_write_is_refused),
        cmocka_unit_test(test_read_only_request_must_be_authentic),
        cmocka_unit_test(test_read_only_not_found_names_where_in_history_it_holds),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
