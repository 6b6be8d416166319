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

#include "lib/pbft_net.h"
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

/* The test network: tests/lib/pbft_net.h. */

/* ---- configuration changes -------------------------------------------------- */

static void expect_refused(struct net *t,
                           uint8_t change,
                           uint32_t id,
                           uint64_t epoch,
                           const struct void_sign_keypair *kp,
                           int code)
{
    uint8_t op[VOID_SM_MEMBER_OP_SIZE];
    struct void_sm_result r;
    net_submit_wait(t, 0, op, net_member_op(change, id, epoch, kp, op), &r);
    net_assert_refused(&r, code);
}

/* Submits the change and expects it applied: returns its boundary. */
static void_seq expect_applied(
    struct net *t, uint8_t change, uint32_t id, uint64_t epoch, const struct void_sign_keypair *kp)
{
    uint8_t op[VOID_SM_MEMBER_OP_SIZE];
    struct void_sm_result r;
    net_submit_wait(t, 0, op, net_member_op(change, id, epoch, kp, op), &r);
    assert_int_equal(r.status, VOID_SM_OK);
    assert_int_equal(r.value_len, 16);
    assert_int_equal(void_bytes_get_be64(r.value), epoch + 1);
    return void_bytes_get_be64(r.value + 8);
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
    net_run_to_stable(t, act, &next);
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
    net_run_to_stable(t, act, &next);
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
    net_submit_wait(t, 0, op, (size_t)len, &r);
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
    net_run_to_stable(t, act + 4, &next);
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

/* The digests replica 1 pre-prepared in view 1, by seq (zero: none). */
static uint8_t old_pp[64][32];

static void record_old_primary(struct net *t, const struct msg *m)
{
    (void)t;
    struct void_frame fr;
    struct void_pbft_pre_prepare pp;
    if (m->from != 1 || m->len < 6 || m->bytes[5] != VOID_MSG_PRE_PREPARE ||
        void_codec_decode(m->bytes, m->len, &fr) != 0 ||
        void_pbft_pre_prepare_decode(fr.body, fr.body_len, &pp) != 0 || pp.view != 1 ||
        pp.seq >= 64) {
        return;
    }
    void_pbft_batch_digest(pp.hlc, pp.count, pp.batch, pp.batch_len, old_pp[pp.seq]);
}

/* Submits op from client c without waiting for it. */
static void submit_async(struct net *t, uint32_t c, const uint8_t *op, size_t len)
{
    assert_int_equal(void_pbft_client_submit(&t->cli[c], t->now, op, len, &t->out), 0);
    apply_effects(t, MAXN + c);
}

/* voidsim seed 791 --member-changes (n = 7 to 6) in small (docs/pbft.md,
 * View changes across an epoch boundary). Setup: n = 5, K = 4, pipeline 4,
 * replica 0 down, so view 1 (primary 1 among voters 0..4). Action: the
 * admin's REMOVE of 0 lands at a checkpoint boundary, act, and three puts
 * follow at once, so that the primary pre-prepares act+1..act+3 before
 * anyone executed the change; once they are answered, replica 2 (the
 * primary of view 1 among the new voters 1..4) crashes and one more put
 * must pass a view change in the new epoch. Expected: the old primary
 * pre-prepared nothing above act, nothing it could have pre-prepared there
 * executed, the puts are answered and every live replica agrees. Before
 * the fix, the old primary pre-prepared act+1..act+3 at once and they
 * executed in the new epoch, committed on votes of both epochs under a
 * pre-prepare that the new epoch's view changes check against another
 * primary (in the seed, the NEW-VIEW then dropped a committed batch). */
static void test_epoch_view_change_across_the_boundary_keeps_what_committed(void **state)
{
    (void)state;
    net_pipeline = 4;
    struct net *t = net_new(5, 4, 4, 8, 1);
    net_pipeline = 0;
    int next = 0;
    put_many(t, 0, next, 2, 1000 * MS);
    next += 2;
    replica_crash(t, 0);
    put_many(t, 0, next, 1, 5000 * MS); /* a view change to view 1 */
    next += 1;
    net_run(t, 10 * MS, all_live_at_max);
    assert_int_equal(void_pbft_view(t->rep[1]), 1);
    assert_true(void_pbft_is_primary(t->rep[1]));
    for (uint32_t k = 1; k < 4; k++) {
        put_many(t, k, next++, 1, 5000 * MS); /* each client learns the view */
    }
    for (int guard = 0; guard < 8 && void_pbft_last_executed(t->rep[1]) % 4 != 3; guard++) {
        put_many(t, 0, next++, 1, 1000 * MS);
        net_run(t, 10 * MS, all_live_at_max);
    }
    void_seq c = void_pbft_last_executed(t->rep[1]) + 1;
    assert_int_equal(c % 4, 0);
    memset(old_pp, 0, sizeof(old_pp));
    t->seen = record_old_primary;
    uint8_t op[VOID_SM_MEMBER_OP_SIZE];
    submit_async(t, 0, op, net_member_op(VOID_MEMBERSHIP_REMOVE, 0, 1, &t->admin, op));
    uint8_t put[128];
    for (uint32_t k = 1; k < 4; k++) {
        char key[32], val[32];
        snprintf(key, sizeof(key), "burst-%u", k);
        snprintf(val, sizeof(val), "value-%u", k);
        submit_async(t, k, put, put_op(key, val, put, sizeof(put)));
    }
    if (!net_run(t, 5000 * MS, clients_idle)) {
        fail_msg("the change and the puts after it did not complete");
    }
    void_seq act = c; /* the change executed at a boundary takes effect there */
    net_run(t, 10 * MS, all_live_at_max);
    /* What the old primary of view 1 pre-prepared above act never executed
     * there: with its vote horizon at act it proposes nothing above it
     * before it has executed the change, and after the switch the new
     * epoch decides act+1.. under its own primary and quorum. Before, it
     * proposed act+1..act+3 at once and they executed, certified by a
     * pre-prepare the new epoch's view changes cannot check. */
    t->seen = NULL;
    int proposed_above = 0;
    for (void_seq seq = act + 1; seq <= act + 3; seq++) {
        static const uint8_t zero[32];
        if (memcmp(old_pp[seq], zero, 32) == 0) {
            continue;
        }
        proposed_above++;
        for (uint32_t i = 1; i < 5; i++) {
            assert_memory_not_equal(t->committed[i][seq], old_pp[seq], 32);
        }
    }
    assert_int_equal(proposed_above, 0);
    for (uint32_t i = 1; i < 5; i++) {
        /* act is stable and act+4 not yet: the view change below carries
         * what was prepared above act. */
        assert_int_equal(void_pbft_low_watermark(t->rep[i]), act);
        assert_int_equal(void_pbft_last_executed(t->rep[i]), act + 3);
        assert_int_equal(void_pbft_member_config(t->rep[i])->epoch, 2);
        assert_int_equal(void_pbft_voters(t->rep[i]), 0x1E);
        assert_int_equal(void_pbft_primary_of(t->rep[i], 1), 2);
    }
    replica_crash(t, 2);
    put_many(t, 0, next, 2, 10000 * MS);
    next += 2;
    net_run(t, 10 * MS, all_live_at_max);
    assert_true(void_pbft_view(t->rep[1]) >= 2);
    assert_agree(t, void_pbft_last_executed(t->rep[1]));
    assert_true(void_pbft_last_executed(t->rep[1]) > act + 3);
    net_free(t);
}

int main(void)
{
    assert_int_equal(void_sign_global_init(), 0);
    net_admin = 1; /* every replica takes the test's admin key */
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_epoch_admin_remove_switches_every_replica_at_the_boundary),
        cmocka_unit_test(test_epoch_primary_rotates_over_the_voters),
        cmocka_unit_test(test_epoch_refusals_are_deterministic_results),
        cmocka_unit_test(test_epoch_restart_comes_back_in_the_latest_epoch),
        cmocka_unit_test(test_epoch_view_change_across_the_boundary_keeps_what_committed),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
