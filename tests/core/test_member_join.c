/*
 * JOIN and PROMOTE through PBFT (docs/membership.md, "Join and promote"):
 * a fifth replica, whose key no other replica has in its keyring, is
 * admitted by an admin-signed JOIN as a learner, catches up by state
 * transfer, is never counted while it learns, becomes a voter by a PROMOTE
 * that carries its signed progress, and the five then survive the loss of
 * any one. The harness is tests/lib/pbft_net.c (FIFO delivery, virtual
 * time) with genesis_n = 4 and n = 5 slots.
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
#include "void/error.h"
#include "void/pbft.h"
#include "void/pbft_client.h"
#include "void/sign.h"
#include "void/sm.h"

#include <stdio.h>
#include <string.h>

static size_t join_op(uint32_t id,
                      uint64_t epoch,
                      const struct void_sign_keypair *member,
                      const char *address,
                      const struct void_sign_keypair *admin,
                      uint8_t *buf)
{
    struct void_sm_member_join j = {.epoch = epoch};
    j.member.id = id;
    j.member.role = VOID_MEMBER_LEARNER;
    memcpy(j.member.public_key, member->public_key, VOID_SIGN_PUBLIC_KEY_SIZE);
    snprintf(j.member.address, sizeof(j.member.address), "%s", address);
    snprintf(j.member.datacenter, sizeof(j.member.datacenter), "dc2");
    snprintf(j.member.rack, sizeof(j.member.rack), "r1");
    snprintf(j.member.host, sizeof(j.member.host), "h%u", id);
    int len = void_sm_member_join_encode(&j, buf, VOID_SM_MEMBER_JOIN_MAX);
    assert_true(len > 0);
    assert_int_equal(
        void_sign(admin, VOID_SIGN_DOMAIN_MEMBER, buf, (size_t)len - 64, buf + len - 64), 0);
    return (size_t)len;
}

static size_t promote_op(uint32_t id,
                         uint64_t epoch,
                         uint64_t executed,
                         const struct void_sign_keypair *learner,
                         const struct void_sign_keypair *admin,
                         uint8_t *buf)
{
    struct void_sm_member_promote p = {.id = id, .epoch = epoch, .executed = executed};
    uint8_t msg[VOID_SM_MEMBER_PROGRESS_SIZE];
    void_sm_member_progress_message(id, executed, msg);
    assert_int_equal(
        void_sign(learner, VOID_SIGN_DOMAIN_PROGRESS, msg, sizeof(msg), p.learner_sig), 0);
    int len = void_sm_member_promote_encode(&p, buf, VOID_SM_MEMBER_PROMOTE_SIZE);
    assert_int_equal(len, VOID_SM_MEMBER_PROMOTE_SIZE);
    assert_int_equal(
        void_sign(admin, VOID_SIGN_DOMAIN_MEMBER, buf, VOID_SM_MEMBER_PROMOTE_SIGNED, buf + 86), 0);
    return (size_t)len;
}

static void expect_result(struct net *t, const uint8_t *op, size_t len, int code)
{
    struct void_sm_result r;
    net_submit_wait(t, 0, op, len, &r);
    if (code == 0) {
        assert_int_equal(r.status, VOID_SM_OK);
        return;
    }
    net_assert_refused(&r, code);
}

/* Submits op and expects it applied: returns its boundary. */
static void_seq expect_applied(struct net *t, const uint8_t *op, size_t len, uint64_t epoch)
{
    struct void_sm_result r;
    net_submit_wait(t, 0, op, len, &r);
    if (r.status != VOID_SM_OK) {
        fail_msg("refused: %.*s", (int)r.value_len, (const char *)r.value);
    }
    assert_int_equal(r.value_len, 16);
    assert_int_equal(void_bytes_get_be64(r.value), epoch + 1);
    return void_bytes_get_be64(r.value + 8);
}

/* A 4-voter cluster with slot 4 free and replica 4 not started; 40 puts
 * (K = 4, L = 8: far past a window, so replica 4 must fetch state). */
static struct net *four_and_a_slot(int *next)
{
    net_admin = 1;
    net_genesis = 4;
    struct net *t = net_new(5, 1, 4, 8, 1);
    net_admin = 0;
    net_genesis = 0;
    replica_crash(t, 4);
    *next = 0;
    put_many(t, 0, *next, 40, 5000 * MS);
    *next += 40;
    for (uint32_t i = 0; i < 4; i++) {
        assert_int_equal(void_pbft_voters(t->rep[i]), 0x0F);
    }
    return t;
}

/* Starts replica 4 fresh (no records). */
static void start_joiner(struct net *t)
{
    t->crashed[4] = 0;
    replica_start(t, 4, 0);
}

/* Joins replica 4 as a learner and runs until its boundary is stable and
 * replica 4 has caught up; returns the epoch after the JOIN (2). */
static void join_and_catch_up(struct net *t, int *next)
{
    uint8_t op[VOID_SM_MEMBER_JOIN_MAX];
    size_t len = join_op(4, 1, &t->keys[4], "127.0.0.1:7004", &t->admin, op);
    start_joiner(t);
    void_seq act = expect_applied(t, op, len, 1);
    /* Virtual time passes only when the queue is empty: let the learner's
     * retransmit timer ask for state again now that it is a member. */
    net_run(t, 200 * MS, NULL);
    net_run_to_stable(t, act, next);
    put_many(t, 0, *next, 8, 5000 * MS);
    *next += 8;
    net_run(t, 2000 * MS, all_live_at_max);
    for (uint32_t i = 0; i < 5; i++) {
        const struct void_membership_config *c = void_pbft_member_config(t->rep[i]);
        assert_int_equal(c->epoch, 2);
        assert_int_equal(c->count, 5);
        assert_int_equal(c->members[4].role, VOID_MEMBER_LEARNER);
        assert_string_equal(c->members[4].address, "127.0.0.1:7004");
        assert_int_equal(void_pbft_voters(t->rep[i]), 0x0F); /* the learner does not vote */
    }
    /* It caught up by state transfer: it never saw the early batches. */
    assert_true(void_pbft_stats(t->rep[4])->state_transfers > 0);
    assert_agree(t, void_pbft_last_executed(t->rep[0]));
}

/* Setup: four voters, slot 4, 40 puts; replica 4 (its key in no keyring)
 * started fresh. Action: the admin JOINs it, puts go on, the admin
 * PROMOTEs it with its signed progress, puts go on; then each of the five
 * in turn is crashed in its own run. Expected: epoch 2 with 4 a learner
 * (voters 0..3), replica 4 catches up by state transfer and agrees; epoch
 * 3 with five voters (q = 4) at every replica; with any one crashed the
 * other four commit and agree. */
static void test_join_promote_then_survive_any_one_loss(void **state)
{
    (void)state;
    for (uint32_t victim = 0; victim < 5; victim++) {
        int next = 0;
        struct net *t = four_and_a_slot(&next);
        join_and_catch_up(t, &next);
        uint8_t op[VOID_SM_MEMBER_PROMOTE_SIZE];
        size_t len =
            promote_op(4, 2, void_pbft_last_executed(t->rep[4]), &t->keys[4], &t->admin, op);
        void_seq act = expect_applied(t, op, len, 2);
        net_run_to_stable(t, act, &next);
        for (uint32_t i = 0; i < 5; i++) {
            assert_int_equal(void_pbft_member_config(t->rep[i])->epoch, 3);
            assert_int_equal(void_pbft_voters(t->rep[i]), 0x1F);
        }
        void_seq before = void_pbft_last_executed(t->rep[victim == 0 ? 1 : 0]);
        replica_crash(t, victim);
        put_many(t, 0, next, 6, 8000 * MS);
        next += 6;
        uint32_t live = victim == 0 ? 1 : 0;
        assert_true(void_pbft_last_executed(t->rep[live]) >= before + 6);
        net_run(t, 10 * MS, all_live_at_max);
        assert_agree(t, void_pbft_last_executed(t->rep[live]));
        net_free(t);
    }
}

/* Setup: as above, replica 4 joined and caught up, still a learner.
 * Action: crash replicas 2 and 3. Expected: voters 0 and 1 plus the
 * learner would be 3 = q(4) if the learner counted; it does not, so
 * nothing more commits; restarting replica 3 brings progress back. */
static void test_join_learner_is_never_counted(void **state)
{
    (void)state;
    int next = 0;
    struct net *t = four_and_a_slot(&next);
    join_and_catch_up(t, &next);
    void_seq before = void_pbft_last_executed(t->rep[0]);
    replica_crash(t, 2);
    replica_crash(t, 3);
    submit_put(t, 0, "stuck", "v");
    net_run(t, 2000 * MS, clients_idle);
    assert_int_equal(void_pbft_last_executed(t->rep[0]), before);
    assert_int_equal(void_pbft_last_executed(t->rep[4]), before);
    t->crashed[3] = 0;
    replica_start(t, 3, 1);
    assert_true(net_run(t, 20000 * MS, clients_idle));
    assert_true(void_pbft_last_executed(t->rep[0]) > before);
    net_free(t);
}

/* Setup: four voters and slot 4. Action: JOINs and PROMOTEs that must be
 * refused. Expected: each names its reason and the epoch stays. */
static void test_join_and_promote_refusals(void **state)
{
    (void)state;
    int next = 0;
    struct net *t = four_and_a_slot(&next);
    struct void_sign_keypair stranger, other;
    make_key(&stranger, 4242);
    make_key(&other, 4343);
    uint8_t op[VOID_SM_MEMBER_JOIN_MAX];
    /* Not the admin's signature. */
    expect_result(t, op, join_op(4, 1, &t->keys[4], "a:1", &stranger, op), VOID_EBAD_SIG);
    /* Another epoch. */
    expect_result(t, op, join_op(4, 5, &t->keys[4], "a:1", &t->admin, op), VOID_EMEMBER_EPOCH);
    /* No slot for id 5 (n = 5: ids 0..4). */
    expect_result(t, op, join_op(5, 1, &other, "a:1", &t->admin, op), VOID_ERANGE);
    /* An id in use, a key in use. */
    expect_result(t, op, join_op(2, 1, &other, "a:1", &t->admin, op), VOID_EMEMBER_EXISTS);
    expect_result(t, op, join_op(4, 1, &t->keys[1], "a:1", &t->admin, op), VOID_EMEMBER_DUP_KEY);
    /* PROMOTE of a voter, of an unknown id. */
    uint8_t pop[VOID_SM_MEMBER_PROMOTE_SIZE];
    expect_result(t, pop, promote_op(1, 1, 40, &t->keys[1], &t->admin, pop), VOID_EMEMBER_ROLE);
    expect_result(t, pop, promote_op(4, 1, 40, &t->keys[4], &t->admin, pop), VOID_EMEMBER_UNKNOWN);
    assert_int_equal(void_pbft_member_config(t->rep[0])->epoch, 1);
    join_and_catch_up(t, &next);
    void_seq top = void_pbft_last_executed(t->rep[0]);
    /* Progress signed by someone else than the learner. */
    expect_result(t, pop, promote_op(4, 2, top, &other, &t->admin, pop), VOID_EBAD_SIG);
    /* The admin's signature missing (a stranger's). */
    expect_result(t, pop, promote_op(4, 2, top, &t->keys[4], &stranger, pop), VOID_EBAD_SIG);
    /* Progress more than K = 4 behind the batch that carries it. */
    expect_result(t, pop, promote_op(4, 2, top - 8, &t->keys[4], &t->admin, pop),
                  VOID_EMEMBER_BEHIND);
    /* Malformed: a JOIN cut short is a bad op, not a crash. */
    struct void_sm_result r;
    size_t len = join_op(4, 2, &other, "a:1", &t->admin, op);
    net_submit_wait(t, 0, op, len - 1, &r);
    assert_int_equal(r.status, VOID_SM_BAD_OP);
    for (uint32_t i = 0; i < 5; i++) {
        assert_int_equal(void_pbft_member_config(t->rep[i])->epoch, 2);
        assert_int_equal(void_pbft_voters(t->rep[i]), 0x0F);
    }
    net_run(t, 10 * MS, all_live_at_max);
    assert_agree(t, void_pbft_last_executed(t->rep[0]));
    net_free(t);
}

/* The JOIN encoding round-trips and its decoder refuses bad input. */
static void test_join_op_codec(void **state)
{
    (void)state;
    struct void_sign_keypair k;
    make_key(&k, 77);
    uint8_t buf[VOID_SM_MEMBER_JOIN_MAX];
    size_t len = join_op(9, 3, &k, "10.0.0.9:7009", &k, buf);
    struct void_sm_member_join j;
    assert_int_equal(void_sm_member_join_decode(buf, len, &j), 0);
    assert_int_equal(j.member.id, 9);
    assert_int_equal(j.epoch, 3);
    assert_string_equal(j.member.address, "10.0.0.9:7009");
    assert_string_equal(j.member.datacenter, "dc2");
    assert_string_equal(j.member.host, "h9");
    assert_int_equal(j.member.role, VOID_MEMBER_LEARNER);
    assert_int_equal(void_sm_member_join_decode(buf, len - 1, &j), VOID_EBAD_FIELD);
    assert_int_equal(void_sm_member_join_decode(buf, len + 1, &j), VOID_EBAD_LENGTH);
    assert_int_equal(void_sm_member_join_decode(buf, 20, &j), VOID_ETRUNCATED);
    buf[46] = 200; /* address length beyond the frame */
    assert_int_equal(void_sm_member_join_decode(buf, len, &j), VOID_EBAD_FIELD);
    buf[46] = 13;
    buf[47] = 0; /* an embedded NUL */
    assert_int_equal(void_sm_member_join_decode(buf, len, &j), VOID_EBAD_FIELD);
    struct void_sm_member_join empty = {.epoch = 1};
    assert_int_equal(void_sm_member_join_encode(&empty, buf, sizeof(buf)), VOID_EBAD_FIELD);
    struct void_sm_member_promote p;
    uint8_t pb[VOID_SM_MEMBER_PROMOTE_SIZE];
    assert_int_equal(promote_op(3, 2, 99, &k, &k, pb), VOID_SM_MEMBER_PROMOTE_SIZE);
    assert_int_equal(void_sm_member_promote_decode(pb, sizeof(pb), &p), 0);
    assert_int_equal(p.executed, 99);
    pb[1] = VOID_MEMBERSHIP_JOIN;
    assert_int_equal(void_sm_member_promote_decode(pb, sizeof(pb), &p), VOID_EBAD_TYPE);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_join_op_codec),
        cmocka_unit_test(test_join_promote_then_survive_any_one_loss),
        cmocka_unit_test(test_join_learner_is_never_counted),
        cmocka_unit_test(test_join_and_promote_refusals),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
