/*
 * Tests of the daemon's causal event log (src/io/node_causal.c) without a
 * network: PBFT events are fed as the node performs them. They are mapped
 * (client requests and replies, receives with the frame's HLC), verified in
 * the partial index and served under /trace/; a receive stamped before its
 * send raises an alert, counted and, in halt mode, stops every send; a gap
 * the core made by dropping an event for lack of output space restarts the
 * log instead of raising alerts forever; with the log off nothing happens.
 */
/* cmocka.h needs these first, in this order. */
/* clang-format off */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
/* clang-format on */

#include "io/node_causal.h"
#include "void/codec.h"
#include "void/config.h"
#include "void/error.h"
#include "void/pbft_msg.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define T0 1796600000000000000ull

static char out[VOID_HTTP_BODY_MAX];

/* The node's causal metric families, rendered into out; returns their
 * length. */
static size_t metrics_of(struct void__node_causal *nc)
{
    struct void__metrics_writer w;
    void__metrics_init(&w, out, sizeof(out));
    void__node_causal_metrics(nc, &w);
    size_t len = 0;
    assert_int_equal(void__metrics_finish(&w, &len), 0);
    out[len] = '\0';
    return len;
}

static void cfg_for(struct void_config *c, int halt, int off)
{
    memset(c, 0, sizeof(*c));
    c->self_id = 1;
    c->count_replicas = 4;
    c->slots = 4;
    c->causal_halt = (uint32_t)halt;
    c->causal_off = (uint32_t)off;
    c->causal_capacity = 1024;
}

static struct void_pbft_event pev(uint8_t kind, uint64_t seq, uint64_t wall)
{
    struct void_pbft_event e;
    memset(&e, 0, sizeof(e));
    e.kind = kind;
    e.node = 1;
    e.local_seq = seq;
    e.parent_seq = seq - 1;
    e.hlc.wall_ns = wall;
    return e;
}

/* A receive from replica `from`'s send `send_seq`, whose frame said send_wall. */
static struct void_pbft_event
recv_ev(uint64_t seq, uint64_t wall, uint32_t from, uint64_t send_seq, uint64_t send_wall)
{
    struct void_pbft_event e = pev(VOID_PBFT_EVENT_RECEIVE, seq, wall);
    e.msg_type = VOID_MSG_PREPARE;
    e.remote_node = from;
    e.remote_seq = send_seq;
    e.remote_hlc.wall_ns = send_wall;
    return e;
}

static const char *no_args(void *req, const char *name)
{
    (void)req;
    (void)name;
    return NULL;
}

static json_t *get(struct void__node_causal *nc, const char *path, int want)
{
    size_t len = 0;
    const char *type = NULL;
    int code = void__node_causal_http(nc, path, no_args, NULL, out, sizeof(out), &len, &type);
    assert_int_equal(code, want);
    json_t *j = json_loadb(out, len, 0, NULL);
    assert_non_null(j);
    return j;
}

static struct void_pbft_effect send_effect(void)
{
    struct void_pbft_effect e;
    memset(&e, 0, sizeof(e));
    e.kind = VOID_PBFT_EFFECT_SEND;
    e.u.send.to = VOID_PBFT_TO_ALL;
    e.u.send.msg_type = VOID_MSG_COMMIT;
    return e;
}

/* Setup: node 1 of 4, numbering from 5000. Action: a client's request, a
 * send to all, a receive from replica 0 whose frame's HLC is earlier, a
 * reply to the client, an execute. Expected: all five accepted, no alert;
 * /trace/events lists them with their kinds and the receive's parent. */
static void test_node_causal_records_and_serves_events(void **state)
{
    (void)state;
    struct void_config cfg;
    cfg_for(&cfg, 0, 0);
    struct void__node_causal nc;
    assert_int_equal(void__node_causal_init(&nc, &cfg), 0);
    struct void_pbft_event e = pev(VOID_PBFT_EVENT_RECEIVE, 5000, T0 + 10);
    e.msg_type = VOID_MSG_REQUEST;
    e.remote_node = 100; /* a client */
    void__node_causal_event(&nc, &e);
    e = pev(VOID_PBFT_EVENT_SEND, 5001, T0 + 20);
    e.msg_type = VOID_MSG_PREPARE;
    e.remote_node = VOID_PBFT_TO_ALL;
    void__node_causal_event(&nc, &e);
    e = recv_ev(5002, T0 + 30, 0, 77, T0 + 25);
    void__node_causal_event(&nc, &e);
    e = pev(VOID_PBFT_EVENT_SEND, 5003, T0 + 40);
    e.msg_type = VOID_MSG_REPLY;
    e.remote_node = 100;
    void__node_causal_event(&nc, &e);
    e = pev(VOID_PBFT_EVENT_COMMIT, 5004, T0 + 50);
    e.view = 2;
    e.seq = 9;
    void__node_causal_event(&nc, &e);
    assert_int_equal(void_causal_count_accepted(&nc.c), 5);
    json_t *j = get(&nc, "/trace/events", 200);
    json_t *evs = json_object_get(j, "events");
    assert_int_equal(json_array_size(evs), 5);
    const char *kinds[] = {"client_request", "send", "receive", "reply", "execute"};
    for (size_t i = 0; i < 5; i++) {
        assert_string_equal(json_string_value(json_object_get(json_array_get(evs, i), "kind")),
                            kinds[i]);
    }
    assert_string_equal(json_string_value(json_object_get(json_array_get(evs, 2), "from")), "0.77");
    assert_int_equal(json_integer_value(json_object_get(json_array_get(evs, 4), "op_seq")), 9);
    json_decref(j);
    j = get(&nc, "/trace/alerts", 200);
    assert_false(json_is_true(json_object_get(j, "halted")));
    json_decref(j);
    json_decref(get(&nc, "/trace/nothing", 404));
    struct void_pbft_effect s = send_effect();
    assert_int_equal(void__node_causal_withhold(&nc, &s), 0);
    void__node_causal_fini(&nc);
}

/* Setup: node 1 of a file that lists replicas 0..3 with [membership] slots
 * = 8 (room for joins). Action: a receive from replica 5 (a member that
 * joined and that this file does not list), a send to it, a receive from
 * client 100. Expected: the first two are a receive with its remote parent
 * 5.40 and a send, node 5 being a node of the DAG; only the third is a
 * client's request. (Sized by the listed replicas, 5 was a client: its
 * PREPARE became a client_request and its send a reply.) */
static void test_node_causal_a_joined_member_is_a_node_not_a_client(void **state)
{
    (void)state;
    struct void_config cfg;
    cfg_for(&cfg, 0, 0);
    cfg.slots = 8;
    struct void__node_causal nc;
    assert_int_equal(void__node_causal_init(&nc, &cfg), 0);
    struct void_pbft_event e = recv_ev(6000, T0 + 30, 5, 40, T0 + 25);
    void__node_causal_event(&nc, &e);
    e = pev(VOID_PBFT_EVENT_SEND, 6001, T0 + 40);
    e.msg_type = VOID_MSG_PREPARE;
    e.remote_node = 5;
    void__node_causal_event(&nc, &e);
    e = pev(VOID_PBFT_EVENT_RECEIVE, 6002, T0 + 50);
    e.msg_type = VOID_MSG_REQUEST;
    e.remote_node = 100;
    void__node_causal_event(&nc, &e);
    assert_int_equal(void_causal_count_accepted(&nc.c), 3);
    json_t *j = get(&nc, "/trace/events", 200);
    json_t *evs = json_object_get(j, "events");
    assert_int_equal(json_array_size(evs), 3);
    const char *kinds[] = {"receive", "send", "client_request"};
    for (size_t i = 0; i < 3; i++) {
        assert_string_equal(json_string_value(json_object_get(json_array_get(evs, i), "kind")),
                            kinds[i]);
    }
    assert_string_equal(json_string_value(json_object_get(json_array_get(evs, 0), "from")), "5.40");
    assert_int_equal(json_integer_value(json_object_get(json_array_get(evs, 1), "client_id")), 0);
    json_decref(j);
    assert_int_equal(nc.nodes, 8);
    void__node_causal_fini(&nc);
}

/* Setup: on_violation = halt. Action: a receive whose frame's HLC is a
 * second after the receive. Expected: an hlc_order alert naming both
 * events, halted, every send held back and counted, the metrics say so. */
static void test_node_causal_halt_mode_stops_sending_at_a_forged_receive(void **state)
{
    (void)state;
    struct void_config cfg;
    cfg_for(&cfg, 1, 0);
    struct void__node_causal nc;
    assert_int_equal(void__node_causal_init(&nc, &cfg), 0);
    struct void_pbft_event e = pev(VOID_PBFT_EVENT_LOCAL, 10, T0);
    void__node_causal_event(&nc, &e);
    struct void_pbft_effect s = send_effect();
    assert_int_equal(void__node_causal_withhold(&nc, &s), 0);
    e = recv_ev(11, T0 + 10, 2, 40, T0 + 1000000000ull);
    void__node_causal_event(&nc, &e);
    assert_int_equal(nc.alerts_total[VOID_CAUSAL_HLC_ORDER], 1);
    assert_int_equal(nc.recent[0].event.seq, 11);
    assert_int_equal(nc.recent[0].other.node, 2);
    assert_int_equal(nc.recent[0].other.seq, 40);
    assert_int_equal(void__node_causal_withhold(&nc, &s), 1);
    assert_int_equal(void__node_causal_withhold(&nc, &s), 1);
    assert_true(metrics_of(&nc) > 0);
    assert_non_null(strstr(out, "# TYPE void_causal_halted gauge\n"));
    assert_non_null(strstr(out, "void_causal_halted 1\n"));
    assert_non_null(strstr(out, "void_causal_sends_withheld_total 2\n"));
    assert_non_null(strstr(out, "void_causal_alerts_total{kind=\"hlc_order\"} 1\n"));
    /* The rejected receive never entered the log: the next event fits. */
    e = pev(VOID_PBFT_EVENT_LOCAL, 11, T0 + 20);
    void__node_causal_event(&nc, &e);
    assert_int_equal(void_causal_count_accepted(&nc.c), 2);
    void__node_causal_fini(&nc);
}

/* Setup: alert mode (the default). Action: the same forged receive.
 * Expected: counted, but sends go on. */
static void test_node_causal_alert_mode_counts_but_keeps_sending(void **state)
{
    (void)state;
    struct void_config cfg;
    cfg_for(&cfg, 0, 0);
    struct void__node_causal nc;
    assert_int_equal(void__node_causal_init(&nc, &cfg), 0);
    struct void_pbft_event e = recv_ev(1, T0 + 10, 2, 40, T0 + 10);
    void__node_causal_event(&nc, &e);
    assert_int_equal(nc.alerts_total[VOID_CAUSAL_HLC_ORDER], 1);
    struct void_pbft_effect s = send_effect();
    assert_int_equal(void__node_causal_withhold(&nc, &s), 0);
    void__node_causal_fini(&nc);
}

/* Setup: events 100, 101. Action: event 104 (102 and 103 dropped by the
 * core for lack of output space), then 105. Expected: no alert, the log
 * restarted at 104 and goes on. */
static void test_node_causal_gap_from_a_full_output_restarts_the_log(void **state)
{
    (void)state;
    struct void_config cfg;
    cfg_for(&cfg, 1, 0);
    struct void__node_causal nc;
    assert_int_equal(void__node_causal_init(&nc, &cfg), 0);
    for (uint64_t s = 100; s <= 101; s++) {
        struct void_pbft_event e = pev(VOID_PBFT_EVENT_LOCAL, s, T0 + s);
        void__node_causal_event(&nc, &e);
    }
    for (uint64_t s = 104; s <= 105; s++) {
        struct void_pbft_event e = pev(VOID_PBFT_EVENT_LOCAL, s, T0 + s);
        void__node_causal_event(&nc, &e);
    }
    assert_int_equal(nc.c.base[1], 104);
    assert_int_equal(nc.c.last[1], 105);
    for (int k = 0; k <= VOID_CAUSAL_BUFFER_OVERFLOW; k++) {
        assert_int_equal(nc.alerts_total[k], 0);
    }
    assert_int_equal(nc.c.orphan_count, 0);
    struct void_pbft_effect s = send_effect();
    assert_int_equal(void__node_causal_withhold(&nc, &s), 0);
    void__node_causal_fini(&nc);
}

/* Setup: [causal] events = 0. Action: feed an event, ask /trace/events.
 * Expected: nothing recorded, 404, no metrics. */
static void test_node_causal_off_records_nothing(void **state)
{
    (void)state;
    struct void_config cfg;
    cfg_for(&cfg, 0, 1);
    struct void__node_causal nc;
    assert_int_equal(void__node_causal_init(&nc, &cfg), 0);
    struct void_pbft_event e = pev(VOID_PBFT_EVENT_LOCAL, 1, T0);
    void__node_causal_event(&nc, &e);
    assert_null(nc.c.ring);
    json_decref(get(&nc, "/trace/events", 404));
    assert_int_equal(metrics_of(&nc), 0);
    void__node_causal_fini(&nc);
}

/* Setup: a persisted log (data_dir set). Action: eight events, each followed
 * by a send the node lets through, as one run of effects performs them, then
 * the flush node.c does before those sends leave. Expected: the sends' checks
 * write nothing; the flush writes all eight events in one LMDB transaction
 * (it was one per send), and a second flush with nothing new writes none. */
static void test_node_causal_sends_of_one_run_share_one_log_write(void **state)
{
    (void)state;
    struct void_config cfg;
    cfg_for(&cfg, 0, 0);
    char dir[] = "/tmp/void-test-node-causal-XXXXXX";
    assert_non_null(mkdtemp(dir));
    snprintf(cfg.data_dir, sizeof(cfg.data_dir), "%s", dir);
    struct void__node_causal nc;
    assert_int_equal(void__node_causal_init(&nc, &cfg), 0);
    assert_int_equal(nc.persist, 1);
    uint64_t commits = nc.log.count_commits;
    struct void_pbft_effect s = send_effect();
    for (uint64_t q = 1; q <= 8; q++) {
        struct void_pbft_event e = pev(VOID_PBFT_EVENT_LOCAL, q, T0 + q);
        void__node_causal_event(&nc, &e);
        assert_int_equal(void__node_causal_withhold(&nc, &s), 0);
    }
    assert_int_equal(nc.log.count_commits, commits);
    assert_int_equal(nc.log.count_appended, 0);
    void__node_causal_flush(&nc);
    assert_int_equal(nc.log.count_commits, commits + 1);
    assert_int_equal(nc.log.count_appended, 8);
    void__node_causal_flush(&nc);
    assert_int_equal(nc.log.count_commits, commits + 1);
    metrics_of(&nc);
    assert_non_null(strstr(out, "void_causal_log_commits_total "));
    void__node_causal_fini(&nc);
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    assert_int_equal(system(cmd), 0);
}

/* Setup: a persisted log whose appends fail (a full disk). Action: an
 * event, then the flush node.c does before the sends of its run leave;
 * then appends work again, another event and flush. Expected: the first
 * flush answers VOID_EIO (the sends must be dropped: a seq a peer saw must
 * be on disk), counted once dropped; the second answers 0 and writes. */
static void test_node_causal_failed_write_holds_back_the_sends(void **state)
{
    (void)state;
    struct void_config cfg;
    cfg_for(&cfg, 0, 0);
    char dir[] = "/tmp/void-test-node-causal-XXXXXX";
    assert_non_null(mkdtemp(dir));
    snprintf(cfg.data_dir, sizeof(cfg.data_dir), "%s", dir);
    struct void__node_causal nc;
    assert_int_equal(void__node_causal_init(&nc, &cfg), 0);
    assert_int_equal(nc.persist, 1);
    nc.test_fail_appends = 1;
    struct void_pbft_event e = pev(VOID_PBFT_EVENT_LOCAL, 1, T0 + 1);
    void__node_causal_event(&nc, &e);
    assert_int_equal(void__node_causal_flush(&nc), VOID_EIO);
    void__node_causal_drop_sends(&nc, 3);
    assert_int_equal(nc.sends_unpersisted, 3);
    assert_int_equal(nc.log.count_appended, 0);
    nc.test_fail_appends = 0;
    e = pev(VOID_PBFT_EVENT_LOCAL, 2, T0 + 2);
    void__node_causal_event(&nc, &e);
    assert_int_equal(void__node_causal_flush(&nc), 0);
    assert_int_equal(nc.log.count_appended, 1);
    assert_int_equal(void__node_causal_flush(&nc), 0); /* nothing new, no failure kept */
    metrics_of(&nc);
    assert_non_null(strstr(out, "void_causal_sends_unpersisted_total 3"));
    void__node_causal_fini(&nc);
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    assert_int_equal(system(cmd), 0);
}

/* A frame of `sender` whose body starts with event seq `seq`, as the
 * replica core frames every message, into buf; its length. */
static size_t frame_with_seq(uint8_t *buf, size_t cap, uint32_t sender, uint64_t seq)
{
    uint8_t body[16] = {0};
    for (int i = 0; i < 8; i++) {
        body[i] = (uint8_t)(seq >> (56 - 8 * i));
    }
    struct void_frame fr = {
        .type = VOID_MSG_PREPARE, .sender = sender, .body = body, .body_len = sizeof(body)};
    size_t len = 0;
    assert_int_equal(void_codec_encode_unsigned(&fr, buf, cap, &len), 0);
    return len;
}

/* Setup: a persisted log whose appends fail (a full disk). Action: a send
 * event (seq 1) and a flush, which fails; appends work again; a send event
 * (seq 2) and a flush, which writes it. Expected: a frame carrying seq 1 is
 * held back also after the successful flush (a send whose event came in an
 * earlier run of effects, or a retransmitted copy of its frame: chaos
 * `disk`, 2026-12-08, where such sends left and the peers raised hlc_order
 * once the replica numbered seq 1 again after its restart); frames with
 * seq 2, or from another node, leave. Before the fix only the sends of the
 * failed flush's own run were dropped. */
static void test_node_causal_lost_seq_is_held_back_in_later_runs(void **state)
{
    (void)state;
    struct void_config cfg;
    cfg_for(&cfg, 0, 0);
    char dir[] = "/tmp/void-test-node-causal-XXXXXX";
    assert_non_null(mkdtemp(dir));
    snprintf(cfg.data_dir, sizeof(cfg.data_dir), "%s", dir);
    struct void__node_causal nc;
    assert_int_equal(void__node_causal_init(&nc, &cfg), 0);
    uint8_t f1[128], f2[128], other[128];
    size_t l1 = frame_with_seq(f1, sizeof(f1), 1, 1);
    size_t l2 = frame_with_seq(f2, sizeof(f2), 1, 2);
    size_t lo = frame_with_seq(other, sizeof(other), 2, 1);
    assert_int_equal(void__node_causal_lost_send(&nc, f1, l1), 0); /* nothing failed yet */
    nc.test_fail_appends = 1;
    struct void_pbft_event e = pev(VOID_PBFT_EVENT_SEND, 1, T0 + 1);
    e.remote_node = VOID_PBFT_TO_ALL;
    void__node_causal_event(&nc, &e);
    assert_int_equal(void__node_causal_flush(&nc), VOID_EIO);
    nc.test_fail_appends = 0;
    e = pev(VOID_PBFT_EVENT_SEND, 2, T0 + 2);
    e.remote_node = VOID_PBFT_TO_ALL;
    void__node_causal_event(&nc, &e);
    assert_int_equal(void__node_causal_flush(&nc), 0);
    assert_int_equal(nc.log.count_appended, 1);
    assert_int_equal(void__node_causal_lost_send(&nc, f1, l1), 1);
    assert_int_equal(void__node_causal_lost_send(&nc, f2, l2), 0);
    assert_int_equal(void__node_causal_lost_send(&nc, other, lo), 0);
    assert_int_equal(void__node_causal_flush(&nc), 0); /* later runs: still held back */
    assert_int_equal(void__node_causal_lost_send(&nc, f1, l1), 1);
    void__node_causal_fini(&nc);
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    assert_int_equal(system(cmd), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_node_causal_sends_of_one_run_share_one_log_write),
        cmocka_unit_test(test_node_causal_failed_write_holds_back_the_sends),
        cmocka_unit_test(test_node_causal_lost_seq_is_held_back_in_later_runs),
        cmocka_unit_test(test_node_causal_records_and_serves_events),
        cmocka_unit_test(test_node_causal_a_joined_member_is_a_node_not_a_client),
        cmocka_unit_test(test_node_causal_halt_mode_stops_sending_at_a_forged_receive),
        cmocka_unit_test(test_node_causal_alert_mode_counts_but_keeps_sending),
        cmocka_unit_test(test_node_causal_gap_from_a_full_output_restarts_the_log),
        cmocka_unit_test(test_node_causal_off_records_nothing),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
