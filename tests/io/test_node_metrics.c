/*
 * Tests of the node's histograms (src/io/node_metrics.c): commit latency
 * from a batch's PRE_PREPARED to its COMMIT, request latency from a client's
 * REQUEST to our REPLY to it (a retransmission keeps the first arrival, a
 * stale one is forgotten), view-change duration, persist time per commit.
 * Times are given, so nothing reads a clock.
 */
/* cmocka.h needs these first, in this order. */
/* clang-format off */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
/* clang-format on */

#include "io/node_metrics.h"
#include "void/codec.h"

#include <string.h>

#define MS 1000000ull

static struct void__node_metrics m;
static struct void_pbft_effect effects[8];

static struct void_pbft_event ev(uint8_t kind, uint8_t msg_type, uint32_t remote, void_seq seq)
{
    struct void_pbft_event e;
    memset(&e, 0, sizeof(e));
    e.kind = kind;
    e.msg_type = msg_type;
    e.remote_node = remote;
    e.seq = seq;
    return e;
}

/* One step that emitted e, at time t. */
static void step(struct void_pbft_event e, uint64_t t)
{
    struct void_pbft_out out = {.effects = effects, .count = 1, .cap = 8};
    effects[0].kind = VOID_PBFT_EFFECT_EVENT;
    effects[0].u.event = e;
    void__node_metrics_step(&m, &out, 0, t);
}

/* e performed by the driver at time t. */
static void perform(struct void_pbft_event e, uint64_t t)
{
    void__node_metrics_event(&m, &e, &t);
}

/* Setup: batch 7 pre-prepared at 10 ms, pre-prepared again in a new view at
 * 50 ms. Action: it executes at 62 ms; a COMMIT of batch 8, never
 * pre-prepared here (state transfer), at 70 ms. Expected: one commit latency
 * of 52 ms, in the 0.1 s bucket; nothing for batch 8. */
static void test_node_metrics_commit_latency_from_first_pre_prepare_to_execution(void **state)
{
    (void)state;
    void__node_metrics_init(&m);
    step(ev(VOID_PBFT_EVENT_PRE_PREPARED, 0, 0, 7), 10 * MS);
    step(ev(VOID_PBFT_EVENT_PRE_PREPARED, 0, 0, 7), 50 * MS);
    perform(ev(VOID_PBFT_EVENT_COMMIT, 0, 0, 7), 62 * MS);
    perform(ev(VOID_PBFT_EVENT_COMMIT, 0, 0, 8), 70 * MS);
    assert_int_equal(m.h.commit.count, 1);
    assert_int_equal(m.h.commit.sum, 52 * MS);
    assert_int_equal(m.h.commit.counts[9], 1); /* (50 ms, 100 ms] */
}

/* Setup: client 100's request arrives at 1 ms and again (a retransmission)
 * at 3 ms; a PREPARE received meanwhile. Action: the REPLY to 100 at 5 ms,
 * then a second REPLY to 100 at 6 ms (a cached reply resent). Expected: one
 * request latency of 4 ms; the second reply has no request to pair with. */
static void test_node_metrics_request_latency_keeps_first_arrival(void **state)
{
    (void)state;
    void__node_metrics_init(&m);
    step(ev(VOID_PBFT_EVENT_RECEIVE, VOID_MSG_REQUEST, 100, 0), 1 * MS);
    step(ev(VOID_PBFT_EVENT_RECEIVE, VOID_MSG_PREPARE, 2, 0), 2 * MS);
    step(ev(VOID_PBFT_EVENT_RECEIVE, VOID_MSG_REQUEST, 100, 0), 3 * MS);
    perform(ev(VOID_PBFT_EVENT_SEND, VOID_MSG_REPLY, 100, 0), 5 * MS);
    perform(ev(VOID_PBFT_EVENT_SEND, VOID_MSG_REPLY, 100, 0), 6 * MS);
    assert_int_equal(m.h.request.count, 1);
    assert_int_equal(m.h.request.sum, 4 * MS);
}

/* Setup: client 101's request at 0 s was never answered. Action: a new
 * request from it after VOID_NODE_METRICS_REQUEST_MAX_NS, replied 2 ms
 * later. Expected: 2 ms, not a minute. */
static void test_node_metrics_request_forgotten_after_max_age(void **state)
{
    (void)state;
    void__node_metrics_init(&m);
    uint64_t t0 = 1 * MS;
    uint64_t t1 = t0 + VOID_NODE_METRICS_REQUEST_MAX_NS + MS;
    step(ev(VOID_PBFT_EVENT_RECEIVE, VOID_MSG_REQUEST, 101, 0), t0);
    step(ev(VOID_PBFT_EVENT_RECEIVE, VOID_MSG_REQUEST, 101, 0), t1);
    perform(ev(VOID_PBFT_EVENT_SEND, VOID_MSG_REPLY, 101, 0), t1 + 2 * MS);
    assert_int_equal(m.h.request.count, 1);
    assert_int_equal(m.h.request.sum, 2 * MS);
}

/* Setup: a view change starts at 100 ms and goes on to a later view at
 * 600 ms. Action: the new view installed at 1100 ms; another "done" with no
 * start. Expected: one duration of 1 s. */
static void test_node_metrics_view_change_from_first_start_to_install(void **state)
{
    (void)state;
    void__node_metrics_init(&m);
    void__node_metrics_view_change(&m, 1, 100 * MS);
    void__node_metrics_view_change(&m, 1, 600 * MS);
    void__node_metrics_view_change(&m, 0, 1100 * MS);
    void__node_metrics_view_change(&m, 0, 1200 * MS);
    assert_int_equal(m.h.view_change.count, 1);
    assert_int_equal(m.h.view_change.sum, 1000 * MS);
}

/* Setup: the record log's time counter at 3 ms, then 4.5 ms. Action: two
 * commits noted. Expected: durations 3 ms and 1.5 ms. */
static void test_node_metrics_persist_observes_each_commit(void **state)
{
    (void)state;
    void__node_metrics_init(&m);
    void__node_metrics_persist(&m, 3 * MS);
    void__node_metrics_persist(&m, 4500000);
    assert_int_equal(m.h.persist.count, 2);
    assert_int_equal(m.h.persist.sum, 4500000);
    assert_int_equal(m.h.persist.counts[5], 1); /* (1 ms, 2.5 ms] */
    assert_int_equal(m.h.persist.counts[6], 1); /* (2.5 ms, 5 ms] */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_node_metrics_commit_latency_from_first_pre_prepare_to_execution),
        cmocka_unit_test(test_node_metrics_request_latency_keeps_first_arrival),
        cmocka_unit_test(test_node_metrics_request_forgotten_after_max_age),
        cmocka_unit_test(test_node_metrics_view_change_from_first_start_to_install),
        cmocka_unit_test(test_node_metrics_persist_observes_each_commit),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
