/*
 * Tests of the PBFT client following membership epochs
 * (include/void/pbft_client.h; docs/membership.md, "The client follows the
 * epoch"): after a removal, f, the quorum of matching replies, the repliers
 * and the believed primary come from the voters of the current epoch, which
 * the client learns from the configuration record once f + 1 voters' replies
 * name a newer epoch; replies from a removed replica do not count. The
 * harness is the PBFT test network of tests/lib/pbft_net.h with an admin key.
 */

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
#include "void/pbft.h"
#include "void/pbft_client.h"
#include "void/pbft_msg.h"
#include "void/sign.h"
#include "void/sm.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The admin removes id (client 0 submits it), and puts run until every live
 * replica's stable checkpoint passed the change's boundary. */
static void remove_and_settle(struct net *t, uint32_t id, uint64_t epoch, int *next)
{
    uint8_t op[VOID_SM_MEMBER_OP_SIZE];
    struct void_sm_result r;
    net_submit_wait(t, 0, op, net_member_op(VOID_MEMBERSHIP_REMOVE, id, epoch, &t->admin, op), &r);
    assert_int_equal(r.status, VOID_SM_OK);
    void_seq act = void_bytes_get_be64(r.value + 8);
    for (int guard = 0; guard < 64; guard++) {
        int past = 1;
        for (uint32_t i = 0; i < t->n; i++) {
            past &= t->rep[i] == NULL || t->crashed[i] || void_pbft_low_watermark(t->rep[i]) >= act;
        }
        if (past) {
            return;
        }
        put_many(t, 0, (*next)++, 1, 5000 * MS);
    }
    fail_msg("the boundary %llu did not become stable", (unsigned long long)act);
}

/* A REPLY from replica `from` to client `client` for reqno with result,
 * naming epoch, signed by replica `signer`'s key (no tag: the client checks
 * the signature). Returns its length. */
static size_t forged_reply(struct net *t,
                           uint32_t from,
                           uint32_t signer,
                           uint32_t client,
                           uint64_t reqno,
                           uint64_t epoch,
                           const uint8_t *result,
                           size_t result_len,
                           uint8_t *buf,
                           size_t cap)
{
    struct void_pbft_reply m = {.ev = 1,
                                .client = client,
                                .reqno = reqno,
                                .result = result,
                                .result_len = (uint32_t)result_len,
                                .epoch = epoch,
                                .index = 0,
                                .count = 1};
    uint8_t body[512];
    int blen = void_pbft_reply_encode(&m, body, sizeof(body));
    assert_true(blen > 0);
    struct void_frame fr = {.type = VOID_MSG_REPLY,
                            .sender = from,
                            .hlc = {t->now - 1000, 0},
                            .body = body,
                            .body_len = (uint32_t)blen};
    size_t len;
    assert_int_equal(void_codec_encode_unsigned(&fr, buf, cap, &len), 0);
    assert_int_equal(void_pbft_reply_sign(buf, len, &t->keys[signer]), 0);
    return len;
}

/* Setup: n = 5 (f = 1, q = 4), two clients on the genesis configuration.
 * Action: the admin removes replica 4; client 1, which took no part, puts
 * twice. Expected: its first put's replies name epoch 2, so its second put
 * first reads the configuration record and adopts epoch 2: voters 0..3,
 * f = 1. Then with replicas 3 and 4 crashed, a read completes on a quorum of
 * the three left (q = 3 of n = 4; of n = 5 it would need 4 and be ordered). */
static void test_client_learns_the_epoch_from_replies_and_the_record(void **state)
{
    (void)state;
    net_admin = 1;
    struct net *t = net_new(5, 2, 4, 8, 1);
    net_admin = 0;
    int next = 0;
    put_many(t, 0, next, 3, 1000 * MS);
    next += 3;
    struct void_pbft_client *c = &t->cli[1];
    assert_int_equal(void_pbft_client_epoch(c), 1);
    assert_int_equal(void_pbft_client_voters(c), 0x1F);
    remove_and_settle(t, 4, 1, &next);
    put_many(t, 1, 100, 1, 1000 * MS);
    assert_int_equal(c->stats.learns, 0);
    assert_int_equal(void_pbft_client_epoch(c), 1); /* learned at the next submit */
    put_many(t, 1, 101, 1, 1000 * MS);
    assert_int_equal(c->stats.learns, 1);
    assert_int_equal(void_pbft_client_epoch(c), 2);
    assert_int_equal(void_pbft_client_voters(c), 0x0F);
    assert_int_equal(void_pbft_client_f(c), 1);
    /* Learned once: the next put goes straight out. */
    put_many(t, 1, 102, 1, 1000 * MS);
    assert_int_equal(c->stats.learns, 1);
    replica_crash(t, 4);
    replica_crash(t, 3);
    uint8_t op[64];
    struct void_sm_op get = {.kind = VOID_SM_OP_GET, .key = (const uint8_t *)"key-1", .key_len = 5};
    int len = void_sm_op_encode(&get, op, sizeof(op));
    assert_true(len > 0);
    uint64_t ordered = c->stats.reads_ordered, quorum = c->stats.reads_quorum;
    assert_int_equal(void_pbft_client_submit_read(c, t->now, op, (size_t)len, &t->out), 0);
    apply_effects(t, MAXN + 1);
    assert_true(net_run(t, 2000 * MS, clients_idle));
    assert_int_equal(c->stats.reads_ordered, ordered);
    assert_int_equal(c->stats.reads_quorum, quorum + 1);
    net_free(t);
}

/* Setup: n = 5, the admin removes replica 4, client 1 learns epoch 2 (f =
 * 1). Action: client 1 puts; before the replicas answer, a lie arrives from
 * replica 3 (a voter, faulty) and the same lie from replica 4 (removed, its
 * key still valid). Expected: replica 4's reply is dropped and counted
 * (rx_not_member), so the lie has one vote, not f + 1 = 2, and the put
 * completes with the replicas' real answer. Counting the removed replica, the
 * lie would have been accepted. */
static void test_client_ignores_replies_from_a_removed_replica(void **state)
{
    (void)state;
    net_admin = 1;
    struct net *t = net_new(5, 2, 4, 8, 1);
    net_admin = 0;
    int next = 0;
    remove_and_settle(t, 4, 1, &next);
    put_many(t, 1, 100, 2, 1000 * MS);
    struct void_pbft_client *c = &t->cli[1];
    assert_int_equal(void_pbft_client_epoch(c), 2);
    submit_put(t, 1, "key-7", "truth");
    uint8_t lie[32];
    struct void_sm_result res = {
        .status = VOID_SM_OK, .value = (const uint8_t *)"lie", .value_len = 3};
    int lie_len = void_sm_result_encode(&res, lie, sizeof(lie));
    assert_true(lie_len > 0);
    uint8_t frame[1024];
    uint64_t reqno = void_pbft_client_reqno(c);
    for (uint32_t from = 3; from <= 4; from++) {
        size_t flen = forged_reply(
            t, from, from, CLIENT_BASE + 1, reqno, 2, lie, (size_t)lie_len, frame, sizeof(frame));
        assert_int_equal(void_pbft_client_step_receive(c, t->now, frame, flen, &t->out), 0);
        apply_effects(t, MAXN + 1);
    }
    assert_int_equal(c->stats.rx_not_member, 1);
    assert_true(c->busy);
    assert_true(net_run(t, 2000 * MS, clients_idle));
    const uint8_t *out;
    int n = void_pbft_client_result(c, &out);
    assert_true(n > 0);
    struct void_sm_result r;
    assert_int_equal(void_sm_result_decode(out, (size_t)n, &r), 0);
    assert_int_equal(r.status, VOID_SM_OK);
    assert_int_equal(r.value_len, 0); /* a put's answer, not the lie */
    net_free(t);
}

/* Setup: n = 5, the admin removes replica 0 (the primary of view 0 in the
 * genesis), a client created afterwards with learn_first. Action: replica 0
 * crashes; the client puts twice. Expected: its first put reads the record
 * first and adopts epoch 2, whose primary of view 0 is replica 1 (the first
 * voter, not 0 mod 4); so its puts go to replica 1 and complete without a
 * retry (to replica 0 it would wait out a retry timeout each). */
static void test_client_learn_first_takes_the_primary_from_the_voters(void **state)
{
    (void)state;
    net_admin = 1;
    struct net *t = net_new(5, 2, 4, 8, 1);
    net_admin = 0;
    int next = 0;
    remove_and_settle(t, 0, 1, &next);
    replica_crash(t, 0);
    struct void_pbft_client *c = &t->cli[1];
    struct void_pbft_client_config cc = c->cfg;
    cc.learn_first = 1;
    assert_int_equal(void_pbft_client_init(c, &cc), 0);
    assert_int_equal(void_pbft_client_primary(c), 0); /* the genesis' guess */
    put_many(t, 1, 100, 2, 1000 * MS);
    assert_int_equal(c->stats.learns, 1);
    assert_int_equal(void_pbft_client_epoch(c), 2);
    assert_int_equal(void_pbft_client_voters(c), 0x1E);
    assert_int_equal(void_pbft_client_primary(c), 1);
    assert_int_equal(c->stats.retries, 0);
    net_free(t);
}

/* Setup: a client on the genesis of n = 5. Action: configurations that it
 * must not adopt, then one it must. Expected: an epoch not newer is
 * VOID_EMEMBER_EPOCH, a voter it has no key for (or another key) or no voter
 * VOID_EINVAL, and nothing changes; a good one is adopted with f from its
 * voters. */
static void test_client_set_config_checks_what_it_adopts(void **state)
{
    (void)state;
    struct net *t = net_new(5, 1, 4, 8, 1);
    struct void_pbft_client *c = &t->cli[0];
    struct void_membership_config *cfg = calloc(1, sizeof(*cfg));
    assert_non_null(cfg);
    struct void_member m[5];
    memset(m, 0, sizeof(m));
    for (uint32_t i = 0; i < 5; i++) {
        m[i].id = i;
        m[i].role = VOID_MEMBER_VOTER;
        memcpy(m[i].public_key, t->keys[i].public_key, VOID_SIGN_PUBLIC_KEY_SIZE);
        snprintf(m[i].address, sizeof(m[i].address), "replica-%u", i);
    }
    assert_int_equal(void_membership_config_init(cfg, m, 4, 1), 0);
    assert_int_equal(void_pbft_client_set_config(c, cfg), VOID_EMEMBER_EPOCH); /* epoch 1 */
    cfg->epoch = 2;
    cfg->members[2].public_key[0] ^= 1;
    assert_int_equal(void_pbft_client_set_config(c, cfg), VOID_EINVAL);
    cfg->members[2].public_key[0] ^= 1;
    for (uint32_t i = 0; i < 4; i++) {
        cfg->members[i].role = VOID_MEMBER_LEARNER;
    }
    assert_int_equal(void_pbft_client_set_config(c, cfg), VOID_EINVAL);
    assert_int_equal(void_pbft_client_voters(c), 0x1F);
    cfg->members[0].role = VOID_MEMBER_VOTER;
    cfg->members[3].role = VOID_MEMBER_VOTER;
    assert_int_equal(void_pbft_client_set_config(c, cfg), 0);
    assert_int_equal(void_pbft_client_voters(c), 0x09);
    assert_int_equal(void_pbft_client_f(c), 0);
    assert_int_equal(void_pbft_client_epoch(c), 2);
    free(cfg);
    net_free(t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_client_learns_the_epoch_from_replies_and_the_record),
        cmocka_unit_test(test_client_ignores_replies_from_a_removed_replica),
        cmocka_unit_test(test_client_learn_first_takes_the_primary_from_the_voters),
        cmocka_unit_test(test_client_set_config_checks_what_it_adopts),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
