/*
 * Self-tests of the simulator's checkers on hand-made histories: a checker
 * that cannot reject a bad history proves nothing, so each property gets at
 * least one history that must pass and one that must fail.
 */
/* cmocka.h needs these first, in this order. */
/* clang-format off */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
/* clang-format on */

#include "void/error.h"
#include "void/sim_check.h"

#include <string.h>

#define PUT(c, k, v, t0, t1)                                                                       \
    {                                                                                              \
        .client = c, .kind = VOID_CHECK_PUT, .key = k, .value = v, .invoke_ns = t0,                \
        .return_ns = t1, .completed = 1                                                            \
    }
#define GET(c, k, out, t0, t1)                                                                     \
    {                                                                                              \
        .client = c, .kind = VOID_CHECK_GET, .key = k, .out_value = out, .invoke_ns = t0,          \
        .return_ns = t1, .completed = 1                                                            \
    }
#define CAS(c, k, exp, v, ok, t0, t1)                                                              \
    {                                                                                              \
        .client = c, .kind = VOID_CHECK_CAS, .key = k, .expected = exp, .value = v, .out_ok = ok,  \
        .invoke_ns = t0, .return_ns = t1, .completed = 1                                           \
    }

/* Setup: two overlapping writes and reads that see them in one consistent
 * order. Action: check. Expected: linearizable (0). */
static void test_lin_accepts_concurrent_history(void **state)
{
    (void)state;
    struct void_check_op ops[] = {
        PUT(1, 7, 100, 0, 50),
        PUT(2, 7, 200, 10, 60),
        GET(3, 7, 100, 20, 70),
        GET(3, 7, 200, 80, 90),
        GET(1, 7, 200, 95, 99),
    };
    char msg[VOID_CHECK_MSG_MAX] = "";
    assert_int_equal(void_check_linearizable(ops, 5, 0, msg, sizeof(msg)), 0);
}

/* Setup: a write completes, then a later read (invoked after the write
 * returned) sees the old absent value. Action: check. Expected: one key
 * rejected, with a message naming it. */
static void test_lin_rejects_stale_read(void **state)
{
    (void)state;
    struct void_check_op ops[] = {
        PUT(1, 3, 100, 0, 10),
        GET(2, 3, 0, 20, 30),
        PUT(1, 4, 5, 0, 10), /* an unrelated key that is fine */
    };
    char msg[VOID_CHECK_MSG_MAX] = "";
    assert_int_equal(void_check_linearizable(ops, 3, 0, msg, sizeof(msg)), 1);
    assert_non_null(strstr(msg, "key 3"));
}

/* Setup: reads that go back in time: 100 then 200 written sequentially, a
 * reader sees 200 and then 100. Expected: rejected. */
static void test_lin_rejects_reads_going_back(void **state)
{
    (void)state;
    struct void_check_op ops[] = {
        PUT(1, 1, 100, 0, 10),
        PUT(1, 1, 200, 20, 30),
        GET(2, 1, 200, 5, 40),
        GET(2, 1, 100, 50, 60),
    };
    assert_int_equal(void_check_linearizable(ops, 4, 0, NULL, 0), 1);
}

/* Setup: a write whose answer never came (pending) and two reads, one before
 * and one after, that see absent then the value. Expected: accepted, since a
 * pending op may take effect at any point after its invocation; a read seeing
 * the pending value before the write was invoked is rejected. */
static void test_lin_pending_write_may_take_effect(void **state)
{
    (void)state;
    struct void_check_op ok[] = {
        {.client = 1, .kind = VOID_CHECK_PUT, .key = 9, .value = 5, .invoke_ns = 10},
        GET(2, 9, 0, 20, 30),
        GET(2, 9, 5, 40, 50),
    };
    assert_int_equal(void_check_linearizable(ok, 3, 0, NULL, 0), 0);
    struct void_check_op bad[] = {
        GET(2, 9, 5, 0, 5),
        {.client = 1, .kind = VOID_CHECK_PUT, .key = 9, .value = 5, .invoke_ns = 10},
    };
    assert_int_equal(void_check_linearizable(bad, 2, 0, NULL, 0), 1);
}

/* Setup: two sequential compare-and-sets from absent; both claim success.
 * Expected: rejected (the second must fail); with the second failing it is
 * accepted. */
static void test_lin_checks_cas_outcomes(void **state)
{
    (void)state;
    struct void_check_op bad[] = {
        CAS(1, 2, 0, 10, 1, 0, 10),
        CAS(2, 2, 0, 20, 1, 20, 30),
    };
    assert_int_equal(void_check_linearizable(bad, 2, 0, NULL, 0), 1);
    struct void_check_op good[] = {
        CAS(1, 2, 0, 10, 1, 0, 10),
        CAS(2, 2, 0, 20, 0, 20, 30),
        GET(3, 2, 10, 40, 50),
    };
    assert_int_equal(void_check_linearizable(good, 3, 0, NULL, 0), 0);
}

/* Setup: 60 clients write and read one key concurrently in a consistent
 * order. Action: check with a normal budget. Expected: accepted quickly
 * (memoisation keeps the search small). */
static void test_lin_handles_many_concurrent_ops(void **state)
{
    (void)state;
    struct void_check_op ops[120];
    for (uint32_t i = 0; i < 60; i++) {
        ops[2 * i] = (struct void_check_op)PUT(i, 1, 1000 + i, i * 10, i * 10 + 300);
        ops[2 * i + 1] = (struct void_check_op)GET(i, 1, 1000 + i, i * 10 + 1, i * 10 + 301);
    }
    assert_int_equal(void_check_linearizable(ops, 120, 0, NULL, 0), 0);
}

/* Setup: three replicas execute seq 1 identically; a fourth executes a
 * different batch at seq 2 than the first. Expected: the first three records
 * pass, the conflicting one returns 1 with a message naming both replicas. */
static void test_agreement_detects_divergent_batch(void **state)
{
    (void)state;
    struct void_check_agreement a;
    void_check_agreement_init(&a);
    uint8_t d1[32] = {1}, d2[32] = {2}, d3[32] = {3};
    for (uint32_t r = 0; r < 3; r++) {
        assert_int_equal(void_check_agreement_record(&a, r, 1, d1), 0);
    }
    assert_int_equal(void_check_agreement_record(&a, 0, 2, d2), 0);
    assert_int_equal(void_check_agreement_record(&a, 1, 2, d2), 0);
    assert_int_equal(void_check_agreement_record(&a, 3, 2, d3), 1);
    assert_int_equal(a.count_violations, 1);
    assert_non_null(strstr(a.msg, "replicas 0 and 3"));
    assert_non_null(strstr(a.msg, "seq 2"));
    /* a large sequence number grows the table */
    assert_int_equal(void_check_agreement_record(&a, 0, 100000, d1), 0);
    void_check_agreement_fini(&a);
}

#define SEC (1000ull * 1000 * 1000)

/* Setup: four honest replicas, quorum 3, heal at 1 s, bound 2 s; replica 3
 * goes to view 1 alone at 1.5 s while the others stay in view 0 and commit
 * there every 100 ms. Expected: no violation before it has been out for
 * 2 s of the others' commits, one (naming replica 3 and both views) after;
 * out time before the heal never counts. */
static void test_view_flags_a_replica_left_out_while_the_others_commit(void **state)
{
    (void)state;
    struct void_check_view c;
    assert_int_equal(void_check_view_init(&c, 4, 3, 1 * SEC, 2 * SEC), 0);
    struct void_check_view_node nodes[4] = {
        {1, 0, 0}, {1, 0, 0}, {1, 0, 0}, {1, 1, 1}}; /* replica 3 out from the start */
    assert_int_equal(void_check_view_step(&c, SEC / 2, nodes), 0); /* before the heal */
    nodes[3] = (struct void_check_view_node){1, 0, 0};
    assert_int_equal(void_check_view_step(&c, 1 * SEC, nodes), 0);
    nodes[3] = (struct void_check_view_node){1, 1, 1};
    int fired = 0;
    uint64_t t = 1 * SEC + SEC / 2;
    for (; t <= 5 * SEC && !fired; t += SEC / 10) {
        void_check_view_commit(&c, t, 0);
        fired = void_check_view_step(&c, t, nodes);
    }
    assert_true(fired);
    assert_true(t > 3 * SEC + SEC / 2); /* not before 2 s of commits */
    assert_true(t < 4 * SEC);
    assert_int_equal(c.count_violations, 1);
    assert_non_null(strstr(c.msg, "replica 3"));
    assert_non_null(strstr(c.msg, "view 0"));
    assert_non_null(strstr(c.msg, "in view 1, changing"));
}

/* Setup: as above, but the cluster commits nothing while replica 3 is out,
 * then replica 3 comes back; later two replicas change view together (no
 * view has a quorum). Expected: no violation in either case: a stuck
 * cluster is the liveness checker's business, and during a real view
 * change there is no cluster view to be out of. A replica that is down is
 * never out. */
static void test_view_spares_a_stuck_cluster_and_a_real_view_change(void **state)
{
    (void)state;
    struct void_check_view c;
    assert_int_equal(void_check_view_init(&c, 4, 3, 0, 2 * SEC), 0);
    struct void_check_view_node nodes[4] = {{1, 0, 0}, {1, 0, 0}, {1, 0, 0}, {1, 1, 1}};
    void_check_view_commit(&c, 0, 0);
    for (uint64_t t = SEC / 10; t <= 6 * SEC; t += SEC / 10) {
        assert_int_equal(void_check_view_step(&c, t, nodes), 0);
    }
    nodes[1] = (struct void_check_view_node){1, 1, 1};
    nodes[2] = (struct void_check_view_node){0, 0, 0}; /* down */
    for (uint64_t t = 6 * SEC; t <= 12 * SEC; t += SEC / 10) {
        void_check_view_commit(&c, t, 0);
        assert_int_equal(void_check_view_step(&c, t, nodes), 0);
    }
    assert_int_equal(c.count_violations, 0);
    assert_true(c.out_ns_max == 0);
    assert_int_equal(void_check_view_init(&c, 4, 5, 0, SEC), VOID_EINVAL);
    assert_int_equal(void_check_view_init(&c, 0, 1, 0, SEC), VOID_EINVAL);
}

/* Setup: node 0 sends (seq 1), node 1 receives it with a larger HLC.
 * Expected: accepted. Then node 1 receives with an HLC below the send: flagged;
 * a gap in node 0's sequence: flagged; an unknown parent: flagged. */
static void test_hlc_checks_edges_and_gaps(void **state)
{
    (void)state;
    struct void_check_hlc h;
    assert_int_equal(void_check_hlc_init(&h, 2), 0);
    struct void_check_event send = {.node = 0, .seq = 1, .hlc = {100, 0}};
    struct void_check_event recv = {
        .node = 1, .seq = 1, .hlc = {100, 1}, .remote_node = 0, .remote_seq = 1};
    assert_int_equal(void_check_hlc_event(&h, &send), 0);
    assert_int_equal(void_check_hlc_event(&h, &recv), 0);
    struct void_check_event early = {
        .node = 1, .seq = 2, .hlc = {100, 2}, .remote_node = 0, .remote_seq = 1};
    assert_int_equal(void_check_hlc_event(&h, &early), 0); /* 100/0 < 100/2: fine */
    struct void_check_event send2 = {.node = 0, .seq = 2, .hlc = {500, 0}};
    assert_int_equal(void_check_hlc_event(&h, &send2), 0);
    struct void_check_event before = {
        .node = 1, .seq = 3, .hlc = {400, 0}, .remote_node = 0, .remote_seq = 2};
    assert_int_equal(void_check_hlc_event(&h, &before), 1);
    assert_non_null(strstr(h.msg, "receive before send"));
    struct void_check_event gap = {.node = 0, .seq = 5, .hlc = {900, 0}};
    assert_int_equal(void_check_hlc_event(&h, &gap), 1);
    struct void_check_event ghost = {
        .node = 1, .seq = 4, .hlc = {990, 0}, .remote_node = 0, .remote_seq = 40};
    assert_int_equal(void_check_hlc_event(&h, &ghost), 1);
    struct void_check_event back = {.node = 0, .seq = 3, .hlc = {499, 0}};
    assert_int_equal(void_check_hlc_event(&h, &back), 1);
    assert_int_equal(h.count_violations, 4);
    void_check_hlc_fini(&h);
}

/* Setup: key 1 written at HLC 10 (value 5) and 20 (value 6), deleted at 30.
 * Expected: reads as of 5, 15, 25, 35 returning absent, 5, 6, absent pass; a
 * read as of 25 returning 5 is flagged. */
static void test_asof_reads_match_committed_versions(void **state)
{
    (void)state;
    struct void_check_version v[] = {
        {.key = 1, .value = 5, .hlc = {10, 0}},
        {.key = 2, .value = 9, .hlc = {12, 0}},
        {.key = 1, .value = 6, .hlc = {20, 0}},
        {.key = 1, .value = 0, .hlc = {30, 0}},
    };
    struct void_check_asof good[] = {
        {.key = 1, .as_of = {5, 0}, .out_value = 0},
        {.key = 1, .as_of = {15, 0}, .out_value = 5},
        {.key = 1, .as_of = {25, 0}, .out_value = 6},
        {.key = 1, .as_of = {35, 0}, .out_value = 0},
        {.key = 2, .as_of = {35, 0}, .out_value = 9},
    };
    assert_int_equal(void_check_asof_reads(v, 4, good, 5, NULL, 0), 0);
    struct void_check_asof bad[] = {{.key = 1, .as_of = {25, 0}, .out_value = 5}};
    char msg[VOID_CHECK_MSG_MAX] = "";
    assert_int_equal(void_check_asof_reads(v, 4, bad, 1, msg, sizeof(msg)), 1);
    assert_non_null(strstr(msg, "key 1"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_lin_accepts_concurrent_history),
        cmocka_unit_test(test_lin_rejects_stale_read),
        cmocka_unit_test(test_lin_rejects_reads_going_back),
        cmocka_unit_test(test_lin_pending_write_may_take_effect),
        cmocka_unit_test(test_lin_checks_cas_outcomes),
        cmocka_unit_test(test_lin_handles_many_concurrent_ops),
        cmocka_unit_test(test_agreement_detects_divergent_batch),
        cmocka_unit_test(test_hlc_checks_edges_and_gaps),
        cmocka_unit_test(test_asof_reads_match_committed_versions),
        cmocka_unit_test(test_view_flags_a_replica_left_out_while_the_others_commit),
        cmocka_unit_test(test_view_spares_a_stuck_cluster_and_a_real_view_change),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
