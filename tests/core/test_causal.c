/*
 * Tests of the causal event DAG (src/core/causal.c): the record codec, the
 * online verifier on seeded random valid DAGs (no alarm, also with parents
 * arriving late within the bound) and with each violation injected (detected
 * with its kind and both event ids), walks on a long chain without recursion,
 * the retention horizon, consistent cuts, and the ShiViz and DOT exports.
 *
 * VOID_CAUSAL_CHAIN_EVENTS=10000000 makes the chain test walk 10M events.
 */

/* cmocka.h needs these first, in this order. */
/* clang-format off */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
/* clang-format on */

#include "void/causal.h"
#include "void/error.h"
#include "void/hlc.h"
#include "void/prng.h"

#include <inttypes.h>
#include <jansson.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define NODES 4
#define T0    1795564800000000000ull /* 2026-11-25T00:00:00Z in ns */

/* ---- a seeded generator of valid DAGs ----------------------------------- */

struct dag {
    struct void_causal_event *ev; /* in generation order: a topological order */
    size_t n;
    uint32_t nodes;
    uint64_t count[NODES]; /* events per node */
};

struct flight {
    size_t send; /* index of the send in dag.ev */
    uint32_t to;
};

static struct void_causal_event *
add(struct dag *d, uint32_t node, uint8_t kind, struct void_hlc_ts t)
{
    struct void_causal_event *e = &d->ev[d->n++];
    memset(e, 0, sizeof(*e));
    e->id.node = node;
    e->id.seq = ++d->count[node];
    e->hlc = t;
    e->kind = kind;
    return e;
}

/* n events on `nodes` nodes: local events, sends to 1..3 peers and receives,
 * stamped by real HLCs over physical clocks skewed by up to 1 ms. */
static void dag_gen(struct dag *d, uint64_t seed, uint32_t nodes, size_t n)
{
    struct void_prng p;
    void_prng_seed(&p, seed);
    memset(d, 0, sizeof(*d));
    d->ev = calloc(n, sizeof(*d->ev));
    struct flight *fl = calloc(n * 3 + 1, sizeof(*fl));
    assert_non_null(d->ev);
    assert_non_null(fl);
    d->nodes = nodes;
    struct void_hlc h[NODES];
    uint64_t skew[NODES];
    for (uint32_t i = 0; i < nodes; i++) {
        void_hlc_init(&h[i], NULL);
        skew[i] = void_prng_below(&p, 1000000);
    }
    uint64_t phys = T0;
    size_t inflight = 0;
    while (d->n < n) {
        phys += void_prng_range(&p, 1, 2000);
        uint32_t node = (uint32_t)void_prng_below(&p, nodes);
        uint64_t roll = void_prng_below(&p, 100);
        if (roll < 45 && inflight > 0) {
            size_t k = (size_t)void_prng_below(&p, inflight);
            struct flight f = fl[k];
            fl[k] = fl[--inflight];
            struct void_causal_event s = d->ev[f.send];
            struct void_hlc_ts t;
            assert_int_equal(void_hlc_update_at(&h[f.to], phys + skew[f.to], s.hlc, &t), 0);
            struct void_causal_event *r = add(d, f.to, VOID_CAUSAL_RECEIVE, t);
            r->from = s.id;
            r->msg_type = s.msg_type;
            r->view = s.view;
            r->op_seq = s.op_seq;
            r->client_id = s.client_id;
            r->request_no = s.request_no;
        } else if (roll < 80 && nodes > 1) {
            struct void_causal_event *s =
                add(d, node, VOID_CAUSAL_SEND, void_hlc_now_at(&h[node], phys + skew[node]));
            s->msg_type = (uint8_t)void_prng_range(&p, 1, 9);
            s->view = void_prng_below(&p, 3);
            s->op_seq = void_prng_below(&p, 1000);
            s->client_id = void_prng_below(&p, 5);
            s->request_no = void_prng_below(&p, 100);
            uint64_t fan = void_prng_range(&p, 1, nodes - 1 < 3 ? nodes - 1 : 3);
            for (uint64_t k = 0; k < fan; k++) {
                uint32_t to = (node + 1 + (uint32_t)k) % nodes;
                fl[inflight].send = d->n - 1;
                fl[inflight].to = to;
                inflight++;
            }
        } else {
            static const uint8_t local_kinds[] = {VOID_CAUSAL_CLIENT_REQUEST,
                                                  VOID_CAUSAL_PRE_PREPARED,
                                                  VOID_CAUSAL_PREPARED,
                                                  VOID_CAUSAL_COMMITTED,
                                                  VOID_CAUSAL_EXECUTE,
                                                  VOID_CAUSAL_REPLY,
                                                  VOID_CAUSAL_CHECKPOINT,
                                                  VOID_CAUSAL_VIEW_CHANGE,
                                                  VOID_CAUSAL_MEMBERSHIP,
                                                  VOID_CAUSAL_LOCAL};
            uint8_t kind = local_kinds[void_prng_below(&p, sizeof(local_kinds))];
            struct void_causal_event *e =
                add(d, node, kind, void_hlc_now_at(&h[node], phys + skew[node]));
            e->view = void_prng_below(&p, 3);
            e->op_seq = void_prng_below(&p, 1000);
        }
    }
    free(fl);
}

static void dag_free(struct dag *d)
{
    free(d->ev);
    d->ev = NULL;
}

static const struct void_causal_event *dag_find(const struct dag *d, struct void_causal_id id)
{
    for (size_t i = 0; i < d->n; i++) {
        if (d->ev[i].id.node == id.node && d->ev[i].id.seq == id.seq) {
            return &d->ev[i];
        }
    }
    return NULL;
}

static void
causal_open(struct void_causal *c, uint32_t nodes, size_t capacity, size_t orphans, uint64_t wait)
{
    struct void_causal_config cfg = {
        .nodes = nodes, .capacity = capacity, .orphans_max = orphans, .orphan_wait_max = wait};
    assert_int_equal(void_causal_init(c, &cfg), 0);
}

/* Submits events[0..n) and returns how many were accepted (directly or when
 * released from the orphan buffer is not counted here: see void_causal_count_accepted). */
static void submit_all(struct void_causal *c, const struct void_causal_event *ev, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        int rc = void_causal_submit(c, &ev[i]);
        assert_true(rc >= 0);
    }
}

static void assert_id(struct void_causal_id got, struct void_causal_id want)
{
    assert_int_equal(got.node, want.node);
    assert_int_equal(got.seq, want.seq);
}

static void count_lines(void *ctx, const char *line, size_t len)
{
    (void)ctx;
    (void)line;
    (void)len;
    fail_msg("no line may be written");
}

/* ---- record codec ------------------------------------------------------- */

/* Every generated event survives encode then decode unchanged; short, long
 * and malformed records are refused with their codes. */
static void test_causal_record_decode_after_encode_is_identity(void **state)
{
    (void)state;
    struct dag d;
    dag_gen(&d, 7, NODES, 2000);
    uint8_t rec[VOID_CAUSAL_RECORD_SIZE + 1];
    for (size_t i = 0; i < d.n; i++) {
        struct void_causal_event back;
        void_causal_encode(&d.ev[i], rec);
        assert_int_equal(void_causal_decode(rec, VOID_CAUSAL_RECORD_SIZE, &back), 0);
        assert_memory_equal(&back.id.seq, &d.ev[i].id.seq, sizeof(uint64_t));
        uint8_t again[VOID_CAUSAL_RECORD_SIZE];
        void_causal_encode(&back, again);
        assert_memory_equal(again, rec, VOID_CAUSAL_RECORD_SIZE);
        assert_int_equal(back.kind, d.ev[i].kind);
        assert_int_equal(back.hlc.logical, d.ev[i].hlc.logical);
        assert_id(back.from, d.ev[i].from);
    }
    struct void_causal_event e;
    void_causal_encode(&d.ev[0], rec);
    assert_int_equal(void_causal_decode(rec, VOID_CAUSAL_RECORD_SIZE - 1, &e), VOID_ETRUNCATED);
    assert_int_equal(void_causal_decode(rec, VOID_CAUSAL_RECORD_SIZE + 1, &e), VOID_EBAD_LENGTH);
    rec[26] = 1; /* reserved */
    assert_int_equal(void_causal_decode(rec, VOID_CAUSAL_RECORD_SIZE, &e), VOID_EBAD_FIELD);
    rec[26] = 0;
    rec[24] = VOID_CAUSAL_KIND_MAX + 1;
    assert_int_equal(void_causal_decode(rec, VOID_CAUSAL_RECORD_SIZE, &e), VOID_EBAD_FIELD);
    rec[24] = VOID_CAUSAL_RECEIVE; /* a receive naming no send */
    memset(rec + 28, 0, 12);
    assert_int_equal(void_causal_decode(rec, VOID_CAUSAL_RECORD_SIZE, &e), VOID_EBAD_FIELD);
    memset(rec + 4, 0, 8); /* seq 0 */
    assert_int_equal(void_causal_decode(rec, VOID_CAUSAL_RECORD_SIZE, &e), VOID_EBAD_FIELD);
    dag_free(&d);
}

/* ---- verifier: valid DAGs ----------------------------------------------- */

/* Random valid DAGs over 10 seeds, submitted in generation order into one
 * verifier reset between seeds: every event accepted, no alert, no halt; a
 * second submission is a duplicate. */
static void test_causal_valid_random_dags_raise_no_alert(void **state)
{
    (void)state;
    struct void_causal c;
    causal_open(&c, NODES, 20000, 64, 64);
    for (uint64_t seed = 1; seed <= 10; seed++) {
        struct dag d;
        dag_gen(&d, seed, NODES, 20000);
        void_causal_reset(&c);
        for (size_t i = 0; i < d.n; i++) {
            assert_int_equal(void_causal_submit(&c, &d.ev[i]), VOID_CAUSAL_ACCEPTED);
        }
        assert_int_equal(void_causal_submit(&c, &d.ev[d.n / 2]), VOID_CAUSAL_DUPLICATE);
        if (c.alert_count != 0) {
            print_message(
                "seed %" PRIu64 ": alert %s\n", seed, void_causal_violation_name(c.alerts[0].kind));
        }
        assert_int_equal(c.alert_count, 0);
        assert_false(c.halt);
        assert_int_equal(void_causal_count_accepted(&c), d.n);
        assert_int_equal(c.count_duplicates, 1);
        dag_free(&d);
    }
    void_causal_fini(&c);
}

/* Parents arriving after their children, within the bound: the stream is
 * shuffled inside windows of 16, the buffer holds 64 and waits 64 submits.
 * Every event ends up accepted, no alert. */
static void test_causal_late_parent_within_bound_is_not_a_violation(void **state)
{
    (void)state;
    for (uint64_t seed = 11; seed <= 15; seed++) {
        struct dag d;
        dag_gen(&d, seed, NODES, 20000);
        struct void_prng p;
        void_prng_seed(&p, seed);
        for (size_t w = 0; w + 16 <= d.n; w += 16) {
            for (size_t i = 15; i > 0; i--) { /* Fisher-Yates inside the window */
                size_t j = (size_t)void_prng_below(&p, i + 1);
                struct void_causal_event t = d.ev[w + i];
                d.ev[w + i] = d.ev[w + j];
                d.ev[w + j] = t;
            }
        }
        struct void_causal c;
        causal_open(&c, NODES, 20000, 64, 64);
        submit_all(&c, d.ev, d.n);
        assert_int_equal(void_causal_flush(&c), 0);
        assert_int_equal(c.alert_count, 0);
        assert_false(c.halt);
        assert_int_equal(void_causal_count_accepted(&c), d.n);
        assert_true(c.count_buffered > 0); /* the test did shuffle parents late */
        void_causal_fini(&c);
        dag_free(&d);
    }
}

/* ---- verifier: injected violations -------------------------------------- */

enum inject { INJ_HLC, INJ_GAP, INJ_MISSING, INJ_FORGED_KIND, INJ_FORGED_PAYLOAD, INJ_EQUIV };

/* Index of a random receive at least `after` into the stream. */
static size_t pick_receive(const struct dag *d, struct void_prng *p)
{
    for (;;) {
        size_t i = (size_t)void_prng_range(p, d->n / 4, d->n - 1);
        if (d->ev[i].kind == VOID_CAUSAL_RECEIVE) {
            return i;
        }
    }
}

/* Mutates d (n grows by at most 1) and says which alert must come first. */
static void
inject(struct dag *d, enum inject what, struct void_prng *p, struct void_causal_alert *want)
{
    memset(want, 0, sizeof(*want));
    size_t i = pick_receive(d, p);
    struct void_causal_event *r = &d->ev[i];
    const struct void_causal_event *s = dag_find(d, r->from);
    want->event = r->id;
    switch (what) {
    case INJ_HLC: { /* receive stamped at its send's time */
        /* Pick a receive whose node's clock was behind the send, so that
         * only the send -> receive edge breaks, not the local one. */
        const struct void_causal_event *pred = NULL;
        for (int tries = 0; tries < 1000; tries++) {
            r = &d->ev[pick_receive(d, p)];
            s = dag_find(d, r->from);
            pred = r->id.seq > 1 ? dag_find(d, (struct void_causal_id){r->id.node, r->id.seq - 1})
                                 : NULL;
            if (pred == NULL || void_hlc_compare(pred->hlc, s->hlc) < 0) {
                break;
            }
        }
        r->hlc = s->hlc;
        want->event = r->id;
        want->kind = VOID_CAUSAL_HLC_ORDER;
        want->other = (pred != NULL && void_hlc_compare(pred->hlc, r->hlc) >= 0) ? pred->id : s->id;
        break;
    }
    case INJ_GAP: { /* drop the receive: its node's next event waits forever */
        struct void_causal_id next = {r->id.node, r->id.seq + 1};
        want->kind = VOID_CAUSAL_SEQ_GAP;
        want->other = r->id;
        want->event = next;
        memmove(r, r + 1, (d->n - i - 1) * sizeof(*r));
        d->n--;
        if (dag_find(d, next) == NULL) { /* it was the node's last event */
            want->kind = 0;
        }
        break;
    }
    case INJ_MISSING: /* names a send its sender will never make */
        r->from.seq = d->count[r->from.node] + 1000;
        want->kind = VOID_CAUSAL_MISSING_PARENT;
        want->other = r->from;
        break;
    case INJ_FORGED_KIND: /* names an event of the sender that is not a send */
        want->kind = 0;
        for (uint64_t q = s->id.seq - 1; q >= 1; q--) {
            const struct void_causal_event *o = dag_find(d, (struct void_causal_id){s->id.node, q});
            if (o->kind != VOID_CAUSAL_SEND) {
                r->from = o->id;
                want->kind = VOID_CAUSAL_FORGED_PARENT;
                want->other = o->id;
                break;
            }
        }
        break;
    case INJ_FORGED_PAYLOAD: /* claims a message the send did not carry */
        r->view += 1;
        want->kind = VOID_CAUSAL_FORGED_PARENT;
        want->other = s->id;
        break;
    case INJ_EQUIV: { /* a second, different event with the receive's id */
        struct void_causal_event twin = *r;
        twin.hlc.logical += 1;
        memmove(r + 2, r + 1, (d->n - i - 1) * sizeof(*r));
        d->ev[i + 1] = twin;
        d->n++;
        want->kind = VOID_CAUSAL_EQUIVOCATION;
        want->other = r->id;
        want->other_hlc = r->hlc;
        break;
    }
    }
}

/* Each violation kind injected into a random valid DAG, 20 seeds each: the
 * first alert has the injected kind and names both events; halt is set. */
static void test_causal_each_injected_violation_is_detected_with_both_ids(void **state)
{
    (void)state;
    int remote_hlc = 0;
    for (int what = INJ_HLC; what <= INJ_EQUIV; what++) {
        int detected = 0;
        for (uint64_t seed = 100; seed < 120; seed++) {
            struct dag d;
            dag_gen(&d, seed * 10 + (uint64_t)what, NODES, 3001);
            d.ev = realloc(d.ev, (d.n + 1) * sizeof(*d.ev));
            struct void_prng p;
            void_prng_seed(&p, seed);
            struct void_causal_alert want;
            inject(&d, (enum inject)what, &p, &want);
            if (want.kind == 0) { /* nothing to inject at this pick */
                dag_free(&d);
                continue;
            }
            struct void_causal c;
            causal_open(&c, NODES, 4096, 256, 128);
            submit_all(&c, d.ev, d.n);
            void_causal_flush(&c);
            struct void_causal_alert got;
            if (void_causal_alerts_take(&c, &got, 1) != 1 || got.kind != want.kind) {
                print_message("inject %d seed %" PRIu64 ": first alert %s\n",
                              what,
                              seed,
                              c.alert_count ? void_causal_violation_name(got.kind) : "none");
                fail();
            }
            assert_id(got.event, want.event);
            assert_id(got.other, want.other);
            if (what == INJ_EQUIV) {
                assert_int_equal(got.other_hlc.logical, want.other_hlc.logical);
                assert_int_equal(got.event_hlc.logical, want.other_hlc.logical + 1);
            }
            assert_true(c.halt);
            detected++;
            remote_hlc += what == INJ_HLC && got.other.node != got.event.node;
            void_causal_fini(&c);
            dag_free(&d);
        }
        assert_true(detected >= 10); /* the injection did happen in most seeds */
    }
    assert_true(remote_hlc >= 10); /* the send -> receive HLC check was exercised */
}

/* A full orphan buffer evicts its oldest orphan with a buffer_overflow
 * alert naming the orphan and the parent it waited for. */
static void test_causal_orphan_buffer_overflow_alerts(void **state)
{
    (void)state;
    struct void_causal c;
    causal_open(&c, 2, 16, 2, 100);
    struct void_causal_event e = {.id = {0, 5}, .hlc = {T0 + 5, 0}, .kind = VOID_CAUSAL_LOCAL};
    assert_int_equal(void_causal_submit(&c, &e), VOID_CAUSAL_BUFFERED);
    e.id.seq = 6;
    e.hlc.wall_ns++;
    assert_int_equal(void_causal_submit(&c, &e), VOID_CAUSAL_BUFFERED);
    assert_false(c.halt);
    e.id.seq = 7;
    e.hlc.wall_ns++;
    assert_int_equal(void_causal_submit(&c, &e), VOID_CAUSAL_BUFFERED);
    struct void_causal_alert a;
    assert_int_equal(void_causal_alerts_take(&c, &a, 1), 1);
    assert_int_equal(a.kind, VOID_CAUSAL_BUFFER_OVERFLOW);
    assert_id(a.event, (struct void_causal_id){0, 5});
    assert_id(a.other, (struct void_causal_id){0, 4});
    assert_true(c.halt);
    void_causal_fini(&c);
}

/* Bad input is an error code, never an assertion: a node id beyond the
 * cluster, a malformed event, a bad config, too small a ShiViz scratch. */
static void test_causal_rejects_bad_input_with_codes(void **state)
{
    (void)state;
    struct void_causal c;
    struct void_causal_config bad = {
        .nodes = 0, .capacity = 8, .orphans_max = 1, .orphan_wait_max = 1};
    assert_int_equal(void_causal_init(&c, &bad), VOID_EINVAL);
    void_causal_fini(&c);
    causal_open(&c, 2, 8, 1, 1);
    struct void_causal_event e = {.id = {2, 1}, .hlc = {T0, 0}, .kind = VOID_CAUSAL_LOCAL};
    assert_int_equal(void_causal_submit(&c, &e), VOID_EBAD_FIELD);
    e.id.node = 0;
    e.kind = VOID_CAUSAL_RECEIVE;
    e.from = (struct void_causal_id){7, 1};
    assert_int_equal(void_causal_submit(&c, &e), VOID_EBAD_FIELD);
    e.kind = 0;
    assert_int_equal(void_causal_submit(&c, &e), VOID_EBAD_FIELD);
    uint32_t scratch[4];
    assert_int_equal(void_causal_export_shiviz(&c, scratch, 4, count_lines, NULL), VOID_ERANGE);
    assert_false(c.halt);
    void_causal_fini(&c);
}

/* The fast path of void_causal_submit (an index with no orphan waiting, an
 * event whose parents are in) tests the fields in its own cheaper way: for
 * every malformed variant of a node's next event, a receive and a local
 * one, it must answer what void_causal_event_check and the node range say
 * (VOID_EBAD_FIELD) and change nothing; the seq range ends exactly at
 * VOID_CAUSAL_SEQ_MAX. Setup: 3 nodes, 0.1 a send, 1.1 local, then the
 * variants of 1.2 (a receive of 0.1, or a local event). */
static void test_causal_fast_path_refuses_what_event_check_refuses(void **state)
{
    (void)state;
    struct void_causal c;
    causal_open(&c, 3, 64, 4, 4);
    struct void_causal_event send = {.id = {0, 1}, .hlc = {T0, 0}, .kind = VOID_CAUSAL_SEND};
    send.msg_type = 3;
    struct void_causal_event first = {.id = {1, 1}, .hlc = {T0, 1}, .kind = VOID_CAUSAL_LOCAL};
    assert_int_equal(void_causal_submit(&c, &send), VOID_CAUSAL_ACCEPTED);
    assert_int_equal(void_causal_submit(&c, &first), VOID_CAUSAL_ACCEPTED);
    struct void_causal_event recv = {
        .id = {1, 2}, .hlc = {T0 + 5, 0}, .kind = VOID_CAUSAL_RECEIVE, .from = {0, 1}};
    recv.msg_type = 3;
    struct void_causal_event local = {
        .id = {1, 2}, .hlc = {T0 + 5, 0}, .kind = VOID_CAUSAL_EXECUTE};
    struct void_causal_event bad[16];
    size_t n = 0;
    bad[n] = local, bad[n++].from.seq = 1;  /* a from on a non-receive */
    bad[n] = local, bad[n++].from.node = 2; /* its node alone */
    bad[n] = local, bad[n++].kind = 0;      /* kinds out of range */
    bad[n] = local, bad[n++].kind = VOID_CAUSAL_KIND_MAX + 1;
    bad[n] = local, bad[n++].kind = 255;
    bad[n] = local, bad[n++].id.node = 3;  /* beyond the cluster */
    bad[n] = recv, bad[n++].from.node = 1; /* a receive from itself */
    bad[n] = recv, bad[n++].from.node = 3; /* from beyond the cluster */
    bad[n] = recv, bad[n++].from.seq = 0;  /* names no send */
    bad[n] = recv, bad[n++].from.seq = VOID_CAUSAL_SEQ_MAX + 1;
    bad[n] = recv, bad[n++].id.node = 3;
    for (size_t i = 0; i < n; i++) {
        assert_true(void_causal_event_check(&bad[i]) != 0 || bad[i].id.node >= 3 ||
                    bad[i].from.node >= 3);
        assert_int_equal(void_causal_submit(&c, &bad[i]), VOID_EBAD_FIELD);
    }
    assert_int_equal(void_causal_count_accepted(&c), 2);
    assert_int_equal(c.last[1], 1);
    assert_false(c.halt);
    assert_int_equal(void_causal_submit(&c, &recv), VOID_CAUSAL_ACCEPTED);
    local.id.seq = 3;
    local.hlc.wall_ns = T0 + 6;
    assert_int_equal(void_causal_submit(&c, &local), VOID_CAUSAL_ACCEPTED);
    void_causal_fini(&c);

    /* The top of the seq range: SEQ_MAX follows SEQ_MAX - 1 (open start),
     * and nothing follows SEQ_MAX. */
    struct void_causal_config cfg = {
        .nodes = 1, .capacity = 8, .orphans_max = 1, .orphan_wait_max = 1, .open_start = true};
    assert_int_equal(void_causal_init(&c, &cfg), 0);
    struct void_causal_event top = {
        .id = {0, VOID_CAUSAL_SEQ_MAX - 1}, .hlc = {T0, 0}, .kind = VOID_CAUSAL_LOCAL};
    assert_int_equal(void_causal_submit(&c, &top), VOID_CAUSAL_ACCEPTED);
    top.id.seq++;
    top.hlc.logical++;
    assert_int_equal(void_causal_submit(&c, &top), VOID_CAUSAL_ACCEPTED);
    top.id.seq++;
    top.hlc.logical++;
    assert_int_equal(void_causal_submit(&c, &top), VOID_EBAD_FIELD);
    assert_int_equal(c.last[0], VOID_CAUSAL_SEQ_MAX);
    assert_false(c.halt);
    void_causal_fini(&c);
}

/* ---- walks -------------------------------------------------------------- */

static size_t chain_events(void)
{
    const char *env = getenv("VOID_CAUSAL_CHAIN_EVENTS");
    return env != NULL ? (size_t)strtoull(env, NULL, 10) : 200000;
}

/* A ping-pong chain: node 0 sends, node 1 receives and sends back, ...:
 * every event is an ancestor of the last one, through alternating edges. */
static void chain_fill(struct void_causal *c, size_t n)
{
    struct void_causal_event e;
    uint64_t seq[2] = {0, 0};
    struct void_causal_id prev = {0, 0};
    for (size_t i = 0; i < n; i++) {
        uint32_t node = (uint32_t)((i / 2) % 2);
        memset(&e, 0, sizeof(e));
        e.id = (struct void_causal_id){node, ++seq[node]};
        e.hlc = (struct void_hlc_ts){T0 + i, 0};
        e.kind = (i % 2 == 0) ? VOID_CAUSAL_RECEIVE : VOID_CAUSAL_SEND;
        if (i == 0) {
            e.kind = VOID_CAUSAL_LOCAL;
        } else if (e.kind == VOID_CAUSAL_RECEIVE) {
            e.from = prev;
        }
        assert_int_equal(void_causal_submit(c, &e), VOID_CAUSAL_ACCEPTED);
        prev = e.id;
    }
}

/* 200k events (10M with the env var) walked end to end both ways: no
 * recursion, so no stack overflow, and every event is found. */
static void test_causal_long_chain_walks_without_recursion(void **state)
{
    (void)state;
    size_t n = chain_events();
    struct void_causal c;
    causal_open(&c, 2, n, 4, 4);
    chain_fill(&c, n);
    struct void_causal_id *out = malloc(n * sizeof(*out));
    assert_non_null(out);
    struct void_causal_walk w;
    struct void_causal_event last;
    last.id = (struct void_causal_id){(uint32_t)(((n - 1) / 2) % 2), 0};
    last.id.seq = c.last[last.id.node];
    assert_int_equal(void_causal_ancestors(&c, last.id, UINT32_MAX, out, n, &w), 0);
    assert_int_equal(w.count, n);
    assert_false(w.past_horizon || w.depth_limited || w.size_limited);
    assert_int_equal(
        void_causal_descendants(&c, (struct void_causal_id){0, 1}, UINT32_MAX, out, n, &w), 0);
    assert_int_equal(w.count, n);
    print_message("chain of %zu events walked both ways\n", n);
    free(out);
    void_causal_fini(&c);
}

/* Depth and size limits stop a walk and say so; the BFS order puts nearer
 * ancestors first. */
static void test_causal_walk_limits_are_reported(void **state)
{
    (void)state;
    struct void_causal c;
    causal_open(&c, 2, 100, 4, 4);
    for (uint64_t s = 1; s <= 100; s++) { /* local events on node 0 */
        struct void_causal_event e = {.id = {0, s}, .hlc = {T0 + s, 0}, .kind = VOID_CAUSAL_LOCAL};
        assert_int_equal(void_causal_submit(&c, &e), VOID_CAUSAL_ACCEPTED);
    }
    struct void_causal_id out[100];
    struct void_causal_walk w;
    struct void_causal_id from = {0, 50};
    assert_int_equal(void_causal_ancestors(&c, from, 3, out, 100, &w), 0);
    assert_int_equal(w.count, 4); /* itself and 3 edges back along the chain */
    assert_true(w.depth_limited);
    assert_false(w.size_limited);
    assert_id(out[1], (struct void_causal_id){0, 49});
    assert_id(out[3], (struct void_causal_id){0, 47});
    assert_int_equal(void_causal_descendants(&c, from, 2, out, 100, &w), 0);
    assert_int_equal(w.count, 3);
    assert_id(out[2], (struct void_causal_id){0, 52});
    assert_int_equal(void_causal_ancestors(&c, from, UINT32_MAX, out, 2, &w), 0);
    assert_int_equal(w.count, 2);
    assert_true(w.size_limited);
    assert_int_equal(void_causal_ancestors(&c, (struct void_causal_id){1, 99}, 1, out, 2, &w),
                     VOID_ENOTFOUND);
    void_causal_fini(&c);
}

/* Past the retention horizon: old events are dropped, a walk that reaches
 * them says past_horizon, and a lookup of one says too old, not not-found. */
static void test_causal_horizon_drops_old_events_and_walks_say_so(void **state)
{
    (void)state;
    struct void_causal c;
    causal_open(&c, 2, 1000, 4, 4);
    chain_fill(&c, 5000);
    struct void_causal_id out[1000];
    struct void_causal_walk w;
    struct void_causal_id last = {1, c.last[1]};
    assert_int_equal(void_causal_ancestors(&c, last, UINT32_MAX, out, 1000, &w), 0);
    assert_int_equal(w.count, 1000);
    assert_true(w.past_horizon);
    assert_false(w.size_limited);
    struct void_causal_event e;
    assert_int_equal(void_causal_get(&c, (struct void_causal_id){0, 1}, &e), VOID_EKVS_TOO_OLD);
    assert_int_equal(void_causal_get(&c, (struct void_causal_id){0, 1u << 30}, &e), VOID_ENOTFOUND);
    assert_int_equal(void_causal_get(&c, last, &e), 0);
    assert_int_equal(void_causal_count_dropped(&c), 4000);
    void_causal_fini(&c);
}

/* ---- consistent cut ----------------------------------------------------- */

/* 100 random times over a random DAG: the cut is each node's last event at or
 * before t (checked by a scan of the generated events), no receive in it
 * lacks its send, and the verifier had nothing to fix. */
static void test_causal_cut_at_random_times_is_consistent(void **state)
{
    (void)state;
    struct dag d;
    dag_gen(&d, 42, NODES, 20000);
    struct void_causal c;
    causal_open(&c, NODES, 20000, 16, 16);
    submit_all(&c, d.ev, d.n);
    assert_int_equal(void_causal_count_accepted(&c), d.n);
    struct void_prng p;
    void_prng_seed(&p, 42);
    uint64_t lo = d.ev[0].hlc.wall_ns - 10, hi = d.ev[d.n - 1].hlc.wall_ns + 2000000;
    for (int k = 0; k < 100; k++) {
        struct void_hlc_ts t = {void_prng_range(&p, lo, hi), (uint32_t)void_prng_below(&p, 3)};
        uint64_t f[VOID_CAUSAL_NODES_MAX], want[NODES] = {0};
        bool past;
        assert_int_equal(void_causal_cut(&c, t, f, &past), 0);
        assert_false(past);
        for (size_t i = 0; i < d.n; i++) {
            if (void_hlc_compare(d.ev[i].hlc, t) <= 0 && d.ev[i].id.seq > want[d.ev[i].id.node]) {
                want[d.ev[i].id.node] = d.ev[i].id.seq;
            }
        }
        for (size_t i = 0; i < d.n; i++) {
            const struct void_causal_event *e = &d.ev[i];
            if (e->kind == VOID_CAUSAL_RECEIVE && e->id.seq <= f[e->id.node]) {
                assert_true(e->from.seq <= f[e->from.node]);
            }
        }
        for (uint32_t n = 0; n < NODES; n++) {
            assert_int_equal(f[n], want[n]);
        }
    }
    void_causal_fini(&c);
    dag_free(&d);
}

/* The cut's own consistency check: an index tampered so that a send's HLC
 * lies after t while its receive's lies before (which the verifier never
 * accepts) gets the receive pulled out of the cut, and the fix is counted. */
static void test_causal_cut_pulls_out_a_receive_whose_send_is_outside(void **state)
{
    (void)state;
    struct void_causal c;
    causal_open(&c, 2, 16, 4, 4);
    struct void_causal_event e1 = {.id = {0, 1}, .hlc = {T0 + 1, 0}, .kind = VOID_CAUSAL_LOCAL};
    struct void_causal_event e2 = {.id = {0, 2}, .hlc = {T0 + 2, 0}, .kind = VOID_CAUSAL_SEND};
    struct void_causal_event r = {
        .id = {1, 1}, .hlc = {T0 + 3, 0}, .kind = VOID_CAUSAL_RECEIVE, .from = {0, 2}};
    assert_int_equal(void_causal_submit(&c, &e1), VOID_CAUSAL_ACCEPTED);
    assert_int_equal(void_causal_submit(&c, &e2), VOID_CAUSAL_ACCEPTED);
    assert_int_equal(void_causal_submit(&c, &r), VOID_CAUSAL_ACCEPTED);
    uint64_t f[VOID_CAUSAL_NODES_MAX];
    bool past;
    struct void_hlc_ts t = {T0 + 5, 0};
    assert_int_equal(void_causal_cut(&c, t, f, &past), 0); /* untampered: nothing to fix */
    assert_int_equal(f[0], 2);
    assert_int_equal(f[1], 1);
    c.ring[1].wall_ns = T0 + 10; /* the send, ord 1, now after t */
    c.last_hlc[0].wall_ns = T0 + 10;
    assert_int_equal(void_causal_cut(&c, t, f, &past), 1);
    assert_int_equal(f[0], 1);
    assert_int_equal(f[1], 0);
    assert_false(past);
    void_causal_fini(&c);
}

/* ---- exports ------------------------------------------------------------ */

struct lines {
    char **v;
    size_t n, cap;
};

static void collect(void *ctx, const char *line, size_t len)
{
    struct lines *l = ctx;
    assert_int_equal(strlen(line), len);
    assert_null(memchr(line, '\n', len));
    if (l->n == l->cap) {
        l->cap = l->cap ? 2 * l->cap : 1024;
        l->v = realloc(l->v, l->cap * sizeof(*l->v));
        assert_non_null(l->v);
    }
    l->v[l->n++] = strndup(line, len);
}

static void lines_free(struct lines *l)
{
    for (size_t i = 0; i < l->n; i++) {
        free(l->v[i]);
    }
    free(l->v);
}

/* The documented regex as a POSIX ERE: named groups (?<x>...) become plain
 * groups, anchored to the whole line. */
static void shiviz_regex(regex_t *re)
{
    char src[256] = "^", *o = src + 1;
    for (const char *s = VOID_CAUSAL_SHIVIZ_REGEX; *s; s++) {
        if (s[0] == '?' && s[1] == '<') {
            s = strchr(s, '>');
            continue;
        }
        *o++ = *s;
    }
    strcpy(o, "$");
    assert_int_equal(regcomp(re, src, REG_EXTENDED), 0);
}

/* The ShiViz export of a random DAG (with a horizon cutting its start):
 * every line matches the documented regex with groups host, clock, event;
 * the clock is JSON holding its own host; each host counts 1, 2, 3, ...; and
 * every clock is exactly the join of its parents' clocks plus its own tick,
 * which is ShiViz's own check and implies VC(a) <= VC(b) componentwise,
 * strictly in b's node, for every edge a -> b. */
static void test_causal_shiviz_export_clocks_match_the_dag(void **state)
{
    (void)state;
    struct dag d;
    dag_gen(&d, 9, NODES, 6000);
    struct void_causal c;
    causal_open(&c, NODES, 5000, 16, 16); /* the first 1000 fall past the horizon */
    submit_all(&c, d.ev, d.n);
    uint32_t *scratch = calloc(5000 * NODES, sizeof(*scratch));
    struct lines l = {0};
    int n = void_causal_export_shiviz(&c, scratch, 5000 * NODES, collect, &l);
    assert_int_equal(n, 5000);
    regex_t re;
    shiviz_regex(&re);
    /* vc[i] = clock of the i-th retained event (d.ev[1000 + i]). */
    uint32_t(*vc)[NODES] = calloc(5000, sizeof(*vc));
    uint32_t own[NODES] = {0};
    for (size_t i = 0; i < l.n; i++) {
        regmatch_t m[4];
        assert_int_equal(regexec(&re, l.v[i], 4, m, 0), 0);
        const struct void_causal_event *e = &d.ev[1000 + i];
        assert_int_equal(strtoul(l.v[i] + m[1].rm_so + 1, NULL, 10), e->id.node);
        assert_true(m[3].rm_eo > m[3].rm_so);
        json_error_t err;
        json_t *clock = json_loadb(l.v[i] + m[2].rm_so, (size_t)(m[2].rm_eo - m[2].rm_so), 0, &err);
        assert_non_null(clock);
        const char *key;
        json_t *val;
        json_object_foreach(clock, key, val)
        {
            assert_true(json_is_integer(val));
            vc[i][strtoul(key + 1, NULL, 10)] = (uint32_t)json_integer_value(val);
        }
        json_decref(clock);
        assert_int_equal(vc[i][e->id.node], ++own[e->id.node]);
        /* the join of the parents' clocks, from the DAG itself */
        uint32_t want[NODES] = {0};
        for (size_t j = i; j-- > 0;) {
            const struct void_causal_event *a = &d.ev[1000 + j];
            bool edge = (a->id.node == e->id.node && a->id.seq + 1 == e->id.seq) ||
                        (e->kind == VOID_CAUSAL_RECEIVE && a->id.node == e->from.node &&
                         a->id.seq == e->from.seq);
            if (!edge) {
                continue;
            }
            for (int k = 0; k < NODES; k++) {
                assert_true(vc[j][k] <= vc[i][k]);
                want[k] = vc[j][k] > want[k] ? vc[j][k] : want[k];
            }
            /* b ticks its own entry; a receive copies (not exceeds) the
             * sender's entry of its send, so strictness is in b's node. */
            assert_true(vc[j][e->id.node] < vc[i][e->id.node]);
            assert_memory_not_equal(vc[j], vc[i], sizeof(vc[i]));
        }
        want[e->id.node] = own[e->id.node];
        assert_memory_equal(want, vc[i], sizeof(want));
    }
    regfree(&re);
    free(vc);
    free(scratch);
    lines_free(&l);
    void_causal_fini(&c);
    dag_free(&d);
}

/* The DOT export has one cluster per node and one edge per parent link; it
 * renders with `dot -Tsvg` when graphviz is installed. */
static void test_causal_dot_export_renders(void **state)
{
    (void)state;
    struct dag d;
    dag_gen(&d, 5, NODES, 300);
    struct void_causal c;
    causal_open(&c, NODES, 300, 16, 16);
    submit_all(&c, d.ev, d.n);
    struct lines l = {0};
    int n = void_causal_export_dot(&c, collect, &l);
    assert_int_equal((size_t)n, l.n);
    size_t clusters = 0, edges = 0, receives = 0;
    for (size_t i = 0; i < l.n; i++) {
        clusters += strstr(l.v[i], "subgraph cluster_n") != NULL;
        edges += strstr(l.v[i], " -> ") != NULL;
    }
    for (size_t i = 0; i < d.n; i++) {
        receives += d.ev[i].kind == VOID_CAUSAL_RECEIVE;
    }
    assert_int_equal(clusters, NODES);
    assert_int_equal(edges, d.n - NODES + receives);
    char path[] = "/tmp/void_causal_dot_XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    FILE *f = fdopen(fd, "w");
    for (size_t i = 0; i < l.n; i++) {
        fprintf(f, "%s\n", l.v[i]);
    }
    fclose(f);
    if (system("command -v dot >/dev/null 2>&1") != 0) {
        print_message("note: graphviz `dot` not installed; DOT render check skipped\n");
    } else {
        char cmd[256];
        snprintf(cmd, sizeof(cmd), "dot -Tsvg %s -o /dev/null", path);
        assert_int_equal(system(cmd), 0);
    }
    unlink(path);
    lines_free(&l);
    void_causal_fini(&c);
    dag_free(&d);
}


/* ---- partial (one node's log) and open-start indexes -------------------- */

static struct void_causal_event mk(uint32_t node, uint64_t seq, uint8_t kind, uint64_t wall)
{
    struct void_causal_event e;
    memset(&e, 0, sizeof(e));
    e.id.node = node;
    e.id.seq = seq;
    e.kind = kind;
    e.hlc.wall_ns = wall;
    return e;
}

static void partial_init(struct void_causal *c)
{
    struct void_causal_config cfg = {
        .nodes = NODES, .capacity = 64, .orphans_max = 8, .orphan_wait_max = 8, .partial = true, .self = 2};
    assert_int_equal(void_causal_init(c, &cfg), 0);
}

/* Setup: node 2's log starting at seq 1000 (a restart numbered higher).
 * Action: its events, a receive whose send's HLC (from the frame) is
 * earlier, another remote send seen later with a later HLC. Expected: all
 * accepted, no alert; the walk up from the receive stops at this node
 * (no past_horizon for the remote edge); the cut gives node 2's frontier. */
static void test_causal_partial_log_accepts_a_consistent_history(void **state)
{
    (void)state;
    struct void_causal c;
    partial_init(&c);
    struct void_causal_event e = mk(2, 1000, VOID_CAUSAL_LOCAL, T0 + 10);
    assert_int_equal(void_causal_submit(&c, &e), VOID_CAUSAL_ACCEPTED);
    struct void_causal_event r = mk(2, 1001, VOID_CAUSAL_RECEIVE, T0 + 20);
    r.from = (struct void_causal_id){0, 7};
    r.msg_type = 3;
    assert_int_equal(void_causal_submit_receive(&c, &r, (struct void_hlc_ts){T0 + 15, 0}),
                     VOID_CAUSAL_ACCEPTED);
    struct void_causal_event r2 = mk(2, 1002, VOID_CAUSAL_RECEIVE, T0 + 30);
    r2.from = (struct void_causal_id){0, 9};
    assert_int_equal(void_causal_submit_receive(&c, &r2, (struct void_hlc_ts){T0 + 25, 0}),
                     VOID_CAUSAL_ACCEPTED);
    assert_int_equal(c.alert_count, 0);
    struct void_causal_id out[8];
    struct void_causal_walk w;
    assert_int_equal(void_causal_ancestors(&c, r2.id, 10, out, 8, &w), 0);
    assert_int_equal(w.count, 3); /* r2, r, e */
    assert_true(w.past_horizon);  /* e's predecessors (before seq 1000) are gone */
    assert_int_equal(void_causal_ancestors(&c, r.id, 0, out, 8, &w), 0);
    assert_int_equal(w.count, 1);
    assert_true(w.depth_limited); /* e is a parent: depth 0 stops short */
    uint64_t frontier[VOID_CAUSAL_NODES_MAX];
    bool past = false;
    assert_int_equal(void_causal_cut(&c, (struct void_hlc_ts){T0 + 20, 0}, frontier, &past), 0);
    assert_int_equal(frontier[2], 1001);
    assert_int_equal(frontier[0], 0);
    /* Only node 2's own events, and receives only with the frame's HLC. */
    struct void_causal_event other = mk(1, 1, VOID_CAUSAL_LOCAL, T0 + 40);
    assert_int_equal(void_causal_submit(&c, &other), VOID_EBAD_FIELD);
    struct void_causal_event r3 = mk(2, 1003, VOID_CAUSAL_RECEIVE, T0 + 40);
    r3.from = (struct void_causal_id){0, 10};
    assert_int_equal(void_causal_submit(&c, &r3), VOID_EBAD_FIELD);
    void_causal_fini(&c);
}

/* Setup: node 2's log. Action: (a) a receive whose frame's HLC is not before
 * it; (b) a later send of node 0 stamped before an earlier one; (c) the same
 * send seq with another HLC. Expected: hlc_order, hlc_order, equivocation,
 * each naming the receive and the remote event, and halt set. */
static void test_causal_partial_log_flags_remote_edges(void **state)
{
    (void)state;
    struct void_causal c;
    partial_init(&c);
    struct void_causal_event r = mk(2, 1, VOID_CAUSAL_RECEIVE, T0 + 20);
    r.from = (struct void_causal_id){0, 5};
    assert_int_equal(void_causal_submit_receive(&c, &r, (struct void_hlc_ts){T0 + 20, 0}),
                     VOID_CAUSAL_REJECTED);
    struct void_causal_alert a;
    assert_int_equal(void_causal_alerts_take(&c, &a, 1), 1);
    assert_int_equal(a.kind, VOID_CAUSAL_HLC_ORDER);
    assert_int_equal(a.event.seq, 1);
    assert_int_equal(a.other.node, 0);
    assert_int_equal(a.other.seq, 5);
    assert_true(c.halt);
    assert_int_equal(void_causal_submit_receive(&c, &r, (struct void_hlc_ts){T0 + 10, 0}),
                     VOID_CAUSAL_ACCEPTED);
    struct void_causal_event r2 = mk(2, 2, VOID_CAUSAL_RECEIVE, T0 + 30);
    r2.from = (struct void_causal_id){0, 6}; /* later send, earlier HLC */
    assert_int_equal(void_causal_submit_receive(&c, &r2, (struct void_hlc_ts){T0 + 5, 0}),
                     VOID_CAUSAL_REJECTED);
    assert_int_equal(void_causal_alerts_take(&c, &a, 1), 1);
    assert_int_equal(a.kind, VOID_CAUSAL_HLC_ORDER);
    assert_int_equal(a.other.seq, 5);
    r2.from.seq = 5; /* the same send, another HLC */
    assert_int_equal(void_causal_submit_receive(&c, &r2, (struct void_hlc_ts){T0 + 11, 0}),
                     VOID_CAUSAL_REJECTED);
    assert_int_equal(void_causal_alerts_take(&c, &a, 1), 1);
    assert_int_equal(a.kind, VOID_CAUSAL_EQUIVOCATION);
    void_causal_fini(&c);
}

/* Setup: an open-start index of 4 nodes. Action: node 0 starts at seq 50
 * with a send, node 1 receives it, then a receive naming a send below node
 * 0's first event. Expected: all accepted without alert; the walk up from the
 * first receive reaches the send; the second is past the horizon. */
static void test_causal_open_start_accepts_windows_of_history(void **state)
{
    (void)state;
    struct void_causal c;
    struct void_causal_config cfg = {
        .nodes = NODES, .capacity = 64, .orphans_max = 8, .orphan_wait_max = 8, .open_start = true};
    assert_int_equal(void_causal_init(&c, &cfg), 0);
    struct void_causal_event s = mk(0, 50, VOID_CAUSAL_SEND, T0 + 10);
    s.msg_type = 4;
    assert_int_equal(void_causal_submit(&c, &s), VOID_CAUSAL_ACCEPTED);
    struct void_causal_event r = mk(1, 7, VOID_CAUSAL_RECEIVE, T0 + 20);
    r.from = s.id;
    r.msg_type = 4;
    assert_int_equal(void_causal_submit(&c, &r), VOID_CAUSAL_ACCEPTED);
    struct void_causal_event r2 = mk(1, 8, VOID_CAUSAL_RECEIVE, T0 + 30);
    r2.from = (struct void_causal_id){0, 10};
    assert_int_equal(void_causal_submit(&c, &r2), VOID_CAUSAL_ACCEPTED);
    assert_int_equal(c.alert_count, 0);
    struct void_causal_id out[8];
    struct void_causal_walk w;
    assert_int_equal(void_causal_ancestors(&c, r.id, 5, out, 8, &w), 0);
    assert_int_equal(w.count, 2);
    assert_int_equal(out[1].node, 0);
    assert_int_equal(out[1].seq, 50);
    struct void_causal_event gap = mk(0, 52, VOID_CAUSAL_LOCAL, T0 + 40);
    assert_int_equal(void_causal_submit(&c, &gap), VOID_CAUSAL_BUFFERED); /* 51 is missing */
    assert_int_equal(void_causal_flush(&c), 1);
    struct void_causal_alert a;
    assert_int_equal(void_causal_alerts_take(&c, &a, 1), 1);
    assert_int_equal(a.kind, VOID_CAUSAL_SEQ_GAP);
    void_causal_fini(&c);
}


/* ---- the digest of a state or diff answer ------------------------------------ */

/* One answer's digest with field `vary` changed (0: none). */
static void kv_digest_variant(int vary, uint8_t out[VOID_HASH_SIZE])
{
    struct void_causal_kv_digest d;
    struct void_hlc_ts from = {100, 0}, at = {200, vary == 3 ? 1u : 0u};
    if (vary == 2) {
        from.wall_ns = 101;
    }
    const uint8_t *prefix = (const uint8_t *)(vary == 4 ? "u0" : "u/");
    const uint8_t *after = (const uint8_t *)"u/a";
    void_causal_kv_digest_init(&d, vary != 1, from, at, prefix, 2, vary != 5, after, vary == 6 ? 2 : 3, vary == 7 ? 11 : 10);
    struct void_causal_kv_side old_side = {.present = vary != 8, .hlc = {150, 0}, .value = (const uint8_t *)"1", .len = 1};
    struct void_causal_kv_side new_side = {.present = true, .hlc = {180, vary == 9 ? 1u : 0u}, .value = (const uint8_t *)(vary == 10 ? "3" : "2"), .len = 1};
    void_causal_kv_digest_entry(&d, (const uint8_t *)(vary == 11 ? "u/c" : "u/b"), 3, &old_side, &new_side);
    if (vary == 12) {
        void_causal_kv_digest_entry(&d, (const uint8_t *)"u/d", 3, NULL, &new_side);
    }
    void_causal_kv_digest_final(&d, vary == 13, out);
}

static void test_causal_kv_digest_binds_the_query_every_entry_and_the_end(void **state)
{
    (void)state;
    enum { VARIANTS = 14 };
    uint8_t dig[VARIANTS][VOID_HASH_SIZE], again[VOID_HASH_SIZE];
    for (int v = 0; v < VARIANTS; v++) {
        kv_digest_variant(v, dig[v]);
    }
    kv_digest_variant(0, again);
    assert_memory_equal(again, dig[0], VOID_HASH_SIZE); /* a function of its input */
    for (int a = 0; a < VARIANTS; a++) {
        for (int b = a + 1; b < VARIANTS; b++) {
            if (memcmp(dig[a], dig[b], VOID_HASH_SIZE) == 0) {
                fail_msg("variants %d and %d give one digest", a, b);
            }
        }
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_causal_record_decode_after_encode_is_identity),
        cmocka_unit_test(test_causal_valid_random_dags_raise_no_alert),
        cmocka_unit_test(test_causal_late_parent_within_bound_is_not_a_violation),
        cmocka_unit_test(test_causal_each_injected_violation_is_detected_with_both_ids),
        cmocka_unit_test(test_causal_orphan_buffer_overflow_alerts),
        cmocka_unit_test(test_causal_rejects_bad_input_with_codes),
        cmocka_unit_test(test_causal_fast_path_refuses_what_event_check_refuses),
        cmocka_unit_test(test_causal_long_chain_walks_without_recursion),
        cmocka_unit_test(test_causal_walk_limits_are_reported),
        cmocka_unit_test(test_causal_horizon_drops_old_events_and_walks_say_so),
        cmocka_unit_test(test_causal_cut_at_random_times_is_consistent),
        cmocka_unit_test(test_causal_cut_pulls_out_a_receive_whose_send_is_outside),
        cmocka_unit_test(test_causal_shiviz_export_clocks_match_the_dag),
        cmocka_unit_test(test_causal_dot_export_renders),
        cmocka_unit_test(test_causal_partial_log_accepts_a_consistent_history),
        cmocka_unit_test(test_causal_partial_log_flags_remote_edges),
        cmocka_unit_test(test_causal_open_start_accepts_windows_of_history),
        cmocka_unit_test(test_causal_kv_digest_binds_the_query_every_entry_and_the_end),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
