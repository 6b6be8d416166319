/*
 * Tests of the web module's JSON answers and stream machinery
 * (src/io/node_web.c) without a network: a causal log fed with PBFT events
 * as the node performs them, a node snapshot from a fake hook. /events pages
 * through an HLC range, /edges names the local and message edges, /health
 * says 503 with the reasons, /nodes lists the HTTP addresses, and a stream
 * gets the status first, then every new event once, in order, through a
 * bounded buffer that a slow reader only delays; streams are bounded in
 * number and their slots come back when closed.
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
#include "io/node_web.h"
#include "void/config.h"
#include "void/membership.h"
#include "void/pbft_msg.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define T0 1796600000000000000ull

static char out[VOID_HTTP_BODY_MAX];

struct fixture {
    struct void_config config;
    struct void__node_causal causal;
    struct void__node_web web;
    struct void__node_web_snap snap; /* what the fake hook reports */
    uint64_t seq;                    /* the next local seq */
};

static void fake_snap(void *ctx, struct void__node_web_snap *o)
{
    struct fixture *f = ctx;
    *o = f->snap;
}

static struct fixture *setup(void)
{
    struct fixture *f = calloc(1, sizeof(*f));
    assert_non_null(f);
    struct void_config *c = &f->config;
    c->self_id = 1;
    c->count_replicas = 4;
    c->slots = 4; /* every id a member may have (node_causal sizes its DAG by it) */
    c->causal_capacity = 1024;
    snprintf(c->http.text, sizeof(c->http.text), "127.0.0.1:8001");
    snprintf(c->topology.datacenter, sizeof(c->topology.datacenter), "dc-a");
    for (uint32_t i = 0; i < 4; i++) {
        c->replicas[i].id = i;
        snprintf(
            c->replicas[i].http.text, sizeof(c->replicas[i].http.text), "127.0.0.1:%u", 8000 + i);
        snprintf(c->replicas[i].address.text,
                 sizeof(c->replicas[i].address.text),
                 "127.0.0.1:%u",
                 7000 + i);
        snprintf(c->replicas[i].topology.rack, sizeof(c->replicas[i].topology.rack), "r%u", i % 2);
    }
    snprintf(c->web_root, sizeof(c->web_root), "/nonexistent-web-root");
    assert_int_equal(void__node_causal_init(&f->causal, c), 0);
    assert_int_equal(void__node_web_init(&f->web, c, &f->causal, fake_snap, f), 0);
    f->snap.self = 1;
    f->snap.primary = 0;
    f->snap.quorum = 3;
    f->snap.count = 4;
    f->snap.epoch = 1;
    for (uint32_t i = 0; i < 4; i++) {
        f->snap.id[i] = i;
        f->snap.voter[i] = 1;
        f->snap.state[i] = VOID_FD_ALIVE;
    }
    f->seq = 1;
    return f;
}

static void teardown(struct fixture *f)
{
    void__node_web_stop(&f->web);
    void__node_web_fini(&f->web);
    void__node_causal_fini(&f->causal);
    free(f);
}

/* Performs one local event at wall time T0 + ms milliseconds; every third
 * is a receive of a PREPARE from replica 2. */
static void perform(struct fixture *f, uint64_t ms)
{
    struct void_pbft_event e;
    memset(&e, 0, sizeof(e));
    e.node = 1;
    e.local_seq = f->seq;
    e.parent_seq = f->seq - 1;
    e.hlc.wall_ns = T0 + ms * 1000000u;
    if (f->seq % 3 == 0) {
        e.kind = VOID_PBFT_EVENT_RECEIVE;
        e.msg_type = VOID_MSG_PREPARE;
        e.remote_node = 2;
        e.remote_seq = 100 + f->seq;
        e.remote_hlc.wall_ns = e.hlc.wall_ns - 1000;
    } else {
        e.kind = VOID_PBFT_EVENT_SEND;
        e.msg_type = VOID_MSG_COMMIT;
        e.remote_node = VOID_PBFT_TO_ALL;
    }
    void__node_causal_event(&f->causal, &e);
    f->seq++;
}

struct args {
    const char *names[4];
    const char *values[4];
};

static const char *arg_of(void *req, const char *name)
{
    struct args *a = req;
    for (int i = 0; i < 4 && a != NULL && a->names[i] != NULL; i++) {
        if (strcmp(a->names[i], name) == 0) {
            return a->values[i];
        }
    }
    return NULL;
}

static json_t *get(struct fixture *f, const char *path, struct args *a, int want)
{
    size_t len = 0;
    const char *type = NULL;
    int code = void__node_web_http(&f->web, path, arg_of, a, out, sizeof(out), &len, &type);
    assert_int_equal(code, want);
    assert_string_equal(type, "application/json");
    json_error_t err;
    json_t *j = json_loadb(out, len, 0, &err);
    if (j == NULL) {
        fail_msg("%s: not JSON (%s): %.*s", path, err.text, (int)len, out);
    }
    return j;
}

static void test_events_pages_through_an_hlc_range(void **state)
{
    (void)state;
    struct fixture *f = setup();
    for (uint64_t i = 0; i < 100; i++) {
        perform(f, i * 10); /* events at 0, 10, ..., 990 ms */
    }
    char from[32], to[32];
    snprintf(from, sizeof(from), "%llu", (unsigned long long)(T0 + 200 * 1000000ull));
    snprintf(to, sizeof(to), "%llu/0", (unsigned long long)(T0 + 395 * 1000000ull));
    /* 200..390 ms: 20 events, in pages of 8 */
    struct args a = {{"from", "to", "limit", NULL}, {from, to, "8", NULL}};
    uint64_t after = 0, expect_seq = 21;
    int pages = 0;
    char after_text[32];
    for (;;) {
        json_t *j = get(f, "/events", &a, 200);
        json_t *events = json_object_get(j, "events");
        for (size_t i = 0; i < json_array_size(events); i++) {
            json_t *ev = json_array_get(events, i);
            assert_int_equal(json_integer_value(json_object_get(ev, "seq")), expect_seq);
            assert_int_equal(json_integer_value(json_object_get(ev, "node")), 1);
            char hlc[48];
            snprintf(hlc,
                     sizeof(hlc),
                     "%llu/0",
                     (unsigned long long)(T0 + (expect_seq - 1) * 10000000ull));
            assert_string_equal(json_string_value(json_object_get(ev, "hlc")), hlc);
            expect_seq++;
        }
        pages++;
        after = (uint64_t)json_integer_value(json_object_get(j, "next_after"));
        int more = json_is_true(json_object_get(j, "more"));
        assert_int_equal(json_integer_value(json_object_get(j, "last")), 100);
        json_decref(j);
        if (!more) {
            break;
        }
        snprintf(after_text, sizeof(after_text), "%llu", (unsigned long long)after);
        a.names[3] = "after";
        a.values[3] = after_text;
    }
    assert_int_equal(expect_seq, 41); /* seqs 21..40, each once */
    assert_int_equal(pages, 3);
    /* a receive names its send */
    struct args one = {{"after", "limit", NULL, NULL}, {"2", "1", NULL, NULL}};
    json_t *j = get(f, "/events", &one, 200);
    json_t *ev = json_array_get(json_object_get(j, "events"), 0);
    assert_string_equal(json_string_value(json_object_get(ev, "kind")), "receive");
    assert_string_equal(json_string_value(json_object_get(ev, "from")), "2.103");
    assert_string_equal(json_string_value(json_object_get(ev, "msg")), "PREPARE");
    json_decref(j);
    teardown(f);
}

static void test_events_refuses_bad_arguments(void **state)
{
    (void)state;
    struct fixture *f = setup();
    perform(f, 0);
    const char *bad[][2] = {
        {"from", "yesterday"}, {"to", "12x"}, {"limit", "0"}, {"limit", "1001"}, {"after", "-1"}};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct args a = {{bad[i][0], NULL, NULL, NULL}, {bad[i][1], NULL, NULL, NULL}};
        json_t *j = get(f, "/events", &a, 400);
        assert_non_null(json_object_get(j, "error"));
        json_decref(j);
        j = get(f, "/edges", &a, 400);
        json_decref(j);
    }
    teardown(f);
}

static void test_edges_are_local_and_message_edges(void **state)
{
    (void)state;
    struct fixture *f = setup();
    for (uint64_t i = 0; i < 6; i++) {
        perform(f, i);
    }
    struct args a = {{NULL}, {NULL}};
    json_t *j = get(f, "/edges", &a, 200);
    json_t *edges = json_object_get(j, "edges");
    /* 5 local edges (1.1 has no parent held) + receives 1.3 and 1.6 */
    assert_int_equal(json_array_size(edges), 7);
    int msgs = 0;
    for (size_t i = 0; i < json_array_size(edges); i++) {
        json_t *e = json_array_get(edges, i);
        const char *kind = json_string_value(json_array_get(e, 2));
        if (strcmp(kind, "message") == 0) {
            msgs++;
            assert_string_equal(json_string_value(json_array_get(e, 1)), msgs == 1 ? "1.3" : "1.6");
            assert_string_equal(json_string_value(json_array_get(e, 0)),
                                msgs == 1 ? "2.103" : "2.106");
        } else {
            assert_string_equal(kind, "local");
        }
    }
    assert_int_equal(msgs, 2);
    json_decref(j);
    teardown(f);
}

static void test_health_is_503_with_reasons(void **state)
{
    (void)state;
    struct fixture *f = setup();
    struct args a = {{NULL}, {NULL}};
    json_t *j = get(f, "/health", &a, 200);
    assert_true(json_is_true(json_object_get(j, "healthy")));
    assert_int_equal(json_array_size(json_object_get(j, "reasons")), 0);
    assert_int_equal(json_integer_value(json_object_get(j, "alive")), 4);
    json_decref(j);
    /* the primary and one more dead: no quorum, primary dead */
    f->snap.state[0] = VOID_FD_DEAD;
    f->snap.state[2] = VOID_FD_SUSPECT;
    f->snap.view_changing = 1;
    j = get(f, "/health", &a, 503);
    assert_true(json_is_false(json_object_get(j, "healthy")));
    json_t *r = json_object_get(j, "reasons");
    assert_int_equal(json_array_size(r), 3);
    assert_string_equal(json_string_value(json_array_get(r, 0)),
                        "2 of 4 voters alive here, a quorum is 3");
    assert_string_equal(json_string_value(json_array_get(r, 1)), "primary 0 is dead");
    assert_string_equal(json_string_value(json_array_get(r, 2)), "view change under way");
    json_decref(j);
    f->snap.state[0] = f->snap.state[2] = VOID_FD_ALIVE;
    f->snap.view_changing = 0;
    f->snap.clock_offset_ns = -2000000000ll;
    j = get(f, "/health", &a, 503);
    assert_string_equal(json_string_value(json_array_get(json_object_get(j, "reasons"), 0)),
                        "clock offset -2000 ms from the time sources");
    json_decref(j);
    teardown(f);
}

static void test_nodes_lists_http_and_topology(void **state)
{
    (void)state;
    struct fixture *f = setup();
    struct args a = {{NULL}, {NULL}};
    json_t *j = get(f, "/nodes", &a, 200);
    assert_int_equal(json_integer_value(json_object_get(j, "self")), 1);
    json_t *nodes = json_object_get(j, "nodes");
    assert_int_equal(json_array_size(nodes), 4);
    json_t *n3 = json_array_get(nodes, 3);
    assert_string_equal(json_string_value(json_object_get(n3, "http")), "127.0.0.1:8003");
    assert_string_equal(json_string_value(json_object_get(n3, "rack")), "r1");
    /* the node's own [node] topology wins over the cluster file's */
    json_t *n1 = json_array_get(nodes, 1);
    assert_string_equal(json_string_value(json_object_get(n1, "datacenter")), "dc-a");
    assert_string_equal(json_string_value(json_object_get(n1, "http")), "127.0.0.1:8001");
    json_decref(j);
    teardown(f);
}

/* Reads everything slot has waiting into text (NUL-terminated). */
static size_t drain(struct fixture *f, int slot, char *text, size_t cap)
{
    size_t len = 0;
    for (;;) {
        ssize_t n = void__node_web_stream_read(
            &f->web, slot, text + len, cap - 1 - len < 1000 ? cap - 1 - len : 1000);
        if (n <= 0) {
            break;
        }
        len += (size_t)n;
    }
    text[len] = '\0';
    return len;
}

/* The seqs of the "ev" events in text, in order, into seqs; returns how many. */
static size_t seqs_of(const char *text, uint64_t *seqs, size_t cap)
{
    size_t n = 0;
    for (const char *p = text; (p = strstr(p, "id: ")) != NULL && n < cap; p += 4) {
        seqs[n++] = strtoull(p + 4, NULL, 10);
        assert_memory_equal(strchr(p, '\n') + 1, "event: ev\ndata: {", 17);
    }
    return n;
}

static void test_stream_sends_status_then_each_new_event_once(void **state)
{
    (void)state;
    struct fixture *f = setup();
    for (uint64_t i = 0; i < 5; i++) {
        perform(f, i); /* before the stream: not sent (from now) */
    }
    int slot = void__node_web_stream_open(&f->web, NULL, 0, 1);
    assert_true(slot >= 0);
    static char text[4 * VOID_NODE_WEB_STREAM_BUF];
    void *resume[VOID_NODE_WEB_STREAMS_MAX];
    (void)void__node_web_feed(&f->web, 0, resume, VOID_NODE_WEB_STREAMS_MAX);
    drain(f, slot, text, sizeof(text));
    assert_non_null(strstr(text, "retry: 1000\n\n"));
    assert_non_null(strstr(text, "event: status\ndata: {\"id\":1,\"view\":0,\"primary\":0"));
    assert_non_null(strstr(text, "\"members\":{\"0\":\"alive\",\"1\":\"alive\""));
    assert_null(strstr(text, "event: ev"));
    /* empty: the reader is told nothing is waiting */
    assert_int_equal(void__node_web_stream_read(&f->web, slot, text, 100), 0);
    assert_true(f->web.streams[slot].suspended);
    for (uint64_t i = 5; i < 9; i++) {
        perform(f, i);
    }
    f->snap.state[3] = VOID_FD_SUSPECT; /* a status change */
    (void)void__node_web_feed(&f->web, 10, resume, VOID_NODE_WEB_STREAMS_MAX);
    assert_false(f->web.streams[slot].suspended); /* data came: resumed */
    drain(f, slot, text, sizeof(text));
    uint64_t seqs[64];
    size_t n = seqs_of(text, seqs, 64);
    assert_int_equal(n, 4);
    for (size_t i = 0; i < n; i++) {
        assert_int_equal(seqs[i], 6 + i);
    }
    assert_non_null(strstr(text, "\"3\":\"suspect\""));
    /* nothing new: nothing sent, not even the status again */
    (void)void__node_web_feed(&f->web, 20, resume, VOID_NODE_WEB_STREAMS_MAX);
    assert_int_equal(drain(f, slot, text, sizeof(text)), 0);
    /* idle past the keepalive period: a comment keeps the connection */
    (void)void__node_web_feed(
        &f->web, 20 + VOID_NODE_WEB_KEEPALIVE_MS, resume, VOID_NODE_WEB_STREAMS_MAX);
    drain(f, slot, text, sizeof(text));
    assert_string_equal(text, ": keepalive\n\n");
    /* after=SEQ (or Last-Event-ID) resumes where a reader stopped */
    int again = void__node_web_stream_open(&f->web, NULL, 7, 0);
    (void)void__node_web_feed(&f->web, 30, resume, VOID_NODE_WEB_STREAMS_MAX);
    drain(f, again, text, sizeof(text));
    n = seqs_of(text, seqs, 64);
    assert_int_equal(n, 2);
    assert_int_equal(seqs[0], 8);
    teardown(f);
}

static void test_stream_buffer_is_bounded_and_loses_nothing(void **state)
{
    (void)state;
    struct fixture *f = setup();
    int slot = void__node_web_stream_open(&f->web, NULL, 0, 1);
    void *resume[VOID_NODE_WEB_STREAMS_MAX];
    /* ~190 bytes an event: 1000 events are about 3 buffers' worth */
    for (uint64_t i = 0; i < 1000; i++) {
        perform(f, i);
    }
    static char text[4 * VOID_NODE_WEB_STREAM_BUF];
    uint64_t next = 1, rounds = 0;
    while (next <= 1000 && rounds < 100) {
        (void)void__node_web_feed(&f->web, rounds, resume, VOID_NODE_WEB_STREAMS_MAX);
        assert_true(f->web.streams[slot].len <= VOID_NODE_WEB_STREAM_BUF);
        drain(f, slot, text, sizeof(text));
        static uint64_t seqs[1000];
        size_t n = seqs_of(text, seqs, 1000);
        for (size_t i = 0; i < n; i++) {
            assert_int_equal(seqs[i], next);
            next++;
        }
        rounds++;
    }
    assert_int_equal(next, 1001);
    assert_true(rounds >= 3); /* it took several rounds: the buffer held back */
    teardown(f);
}

static void test_streams_are_bounded_and_slots_come_back(void **state)
{
    (void)state;
    struct fixture *f = setup();
    int slots[VOID_NODE_WEB_STREAMS_MAX];
    for (int i = 0; i < VOID_NODE_WEB_STREAMS_MAX; i++) {
        slots[i] = void__node_web_stream_open(&f->web, NULL, 0, 1);
        assert_int_equal(slots[i], i);
    }
    assert_int_equal(void__node_web_stream_open(&f->web, NULL, 0, 1), -1);
    assert_int_equal(f->web.streams_refused, 1);
    void__node_web_stream_closed(&f->web, slots[3]);
    assert_int_equal(void__node_web_stream_open(&f->web, NULL, 0, 1), 3);
    /* stopping ends every stream: a reader gets the end, not a wait */
    void__node_web_stop(&f->web);
    char buf[64];
    static char text[VOID_NODE_WEB_STREAM_BUF];
    drain(f, 0, text, sizeof(text));
    assert_int_equal(void__node_web_stream_read(&f->web, 0, buf, sizeof(buf)), -1);
    teardown(f);
}

static void test_missing_web_root_is_reported(void **state)
{
    (void)state;
    struct fixture *f = setup();
    assert_string_equal(f->web.root, "");
    assert_non_null(strstr(f->web.looked, "/nonexistent-web-root ([http] web_root)"));
    assert_true(void__node_web_owns("/events") && void__node_web_owns("/health"));
    assert_false(void__node_web_owns("/stream") || void__node_web_owns("/"));
    teardown(f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_events_pages_through_an_hlc_range),
        cmocka_unit_test(test_events_refuses_bad_arguments),
        cmocka_unit_test(test_edges_are_local_and_message_edges),
        cmocka_unit_test(test_health_is_503_with_reasons),
        cmocka_unit_test(test_nodes_lists_http_and_topology),
        cmocka_unit_test(test_stream_sends_status_then_each_new_event_once),
        cmocka_unit_test(test_stream_buffer_is_bounded_and_loses_nothing),
        cmocka_unit_test(test_streams_are_bounded_and_slots_come_back),
        cmocka_unit_test(test_missing_web_root_is_reported),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
