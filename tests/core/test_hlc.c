/*
 * Tests of the hybrid logical clock: the update rules of Kulkarni et al.
 * (2014), strict monotonicity across a physical clock that steps back, the
 * max-offset guard, the bounded logical counter, the order-preserving
 * encoding, a randomised message-passing property test, and the human
 * format/parse pair.
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
#include "void/hlc.h"
#include "void/prng.h"

#include <stdio.h>
#include <string.h>

#define SEC 1000000000ull
#define MS  1000000ull
/* 2026-11-25T00:00:00Z, a realistic base for physical time. */
#define T0 (1795564800ull * SEC)

static struct void_hlc_ts ts(uint64_t wall, uint32_t logical)
{
    struct void_hlc_ts t = {wall, logical};
    return t;
}

static void assert_ts(struct void_hlc_ts got, uint64_t wall, uint32_t logical)
{
    assert_int_equal(got.wall_ns, wall);
    assert_int_equal(got.logical, logical);
}

/* Setup: a fresh clock. Action: now() at rising, equal, rising physical
 * times. Expected: a rising physical time gives (phys, 0); an equal one keeps
 * the wall part and counts logical up (paper, send/local rule). */
static void test_hlc_now_follows_physical_time_and_counts_ties(void **state)
{
    (void)state;
    struct void_hlc h;
    void_hlc_init(&h, NULL);
    assert_int_equal(h.max_offset_ns, VOID_HLC_MAX_OFFSET_NS_DEF);
    assert_int_equal(h.logical_max, UINT32_MAX);
    assert_ts(void_hlc_now_at(&h, T0), T0, 0);
    assert_ts(void_hlc_now_at(&h, T0), T0, 1);
    assert_ts(void_hlc_now_at(&h, T0), T0, 2);
    assert_ts(void_hlc_now_at(&h, T0 + 1), T0 + 1, 0);
    assert_int_equal(h.count_backwards, 0);
}

/* The four cases of the receive rule, each from a clock whose last stamp is
 * (T0, 5). Expected: the new wall part is max(last, remote, phys); logical is
 * max of the logical parts of those that share it, plus one, or 0 when
 * physical time alone is the maximum. */
static void test_hlc_update_applies_the_paper_rules(void **state)
{
    (void)state;
    struct void_hlc h;
    struct void_hlc_ts out;
    void_hlc_init(&h, NULL);
    h.last = ts(T0, 5);
    /* remote ahead of both (within max offset): take remote, logical + 1 */
    assert_int_equal(void_hlc_update_at(&h, T0 - 10, ts(T0 + 100, 9), &out), 0);
    assert_ts(out, T0 + 100, 10);
    /* local last ahead of both: keep it, logical + 1 */
    h.last = ts(T0, 5);
    assert_int_equal(void_hlc_update_at(&h, T0 - 10, ts(T0 - 5, 99), &out), 0);
    assert_ts(out, T0, 6);
    /* local and remote tie on the wall part: max logical + 1 */
    h.last = ts(T0, 5);
    assert_int_equal(void_hlc_update_at(&h, T0 - 10, ts(T0, 7), &out), 0);
    assert_ts(out, T0, 8);
    h.last = ts(T0, 9);
    assert_int_equal(void_hlc_update_at(&h, T0 - 10, ts(T0, 7), &out), 0);
    assert_ts(out, T0, 10);
    /* physical time ahead of both: (phys, 0) */
    h.last = ts(T0, 5);
    assert_int_equal(void_hlc_update_at(&h, T0 + 50, ts(T0 + 20, 3), &out), 0);
    assert_ts(out, T0 + 50, 0);
    assert_ts(h.last, T0 + 50, 0);
    /* out may be NULL */
    assert_int_equal(void_hlc_update_at(&h, T0 + 50, ts(T0 + 50, 3), NULL), 0);
    assert_ts(h.last, T0 + 50, 4);
}

/* Setup: a clock stamping events at T0 + 20 s. Action: the physical clock
 * jumps back 10 s and then creeps forward in 1 ms steps for 15 s of events.
 * Expected: every stamp is strictly greater than the one before; while
 * physical time is behind, the wall part holds at the last value and
 * count_backwards counts the reads; once physical time passes it again,
 * stamps follow physical time with logical 0. */
static void test_hlc_monotonic_when_physical_clock_jumps_back_10s(void **state)
{
    (void)state;
    struct void_hlc h;
    void_hlc_init(&h, NULL);
    uint64_t phys = T0 + 20 * SEC;
    struct void_hlc_ts prev = void_hlc_now_at(&h, phys);
    uint64_t high = prev.wall_ns;
    phys -= 10 * SEC;
    uint64_t behind = 0;
    for (int i = 0; i < 15000; i++, phys += MS) {
        struct void_hlc_ts t = void_hlc_now_at(&h, phys);
        assert_true(void_hlc_compare(t, prev) > 0);
        if (phys <= high) {
            assert_int_equal(t.wall_ns, high);
            behind += phys < high;
        } else {
            assert_ts(t, phys, 0);
        }
        prev = t;
    }
    assert_int_equal(h.count_backwards, behind);
    assert_true(behind >= 9999);
    /* receive while behind: still after both the last stamp and the remote */
    struct void_hlc_ts out;
    void_hlc_init(&h, NULL);
    h.last = ts(T0 + 20 * SEC, 3);
    assert_int_equal(void_hlc_update_at(&h, T0 + 10 * SEC, ts(T0 + 10 * SEC, 8), &out), 0);
    assert_ts(out, T0 + 20 * SEC, 4);
    assert_int_equal(h.count_backwards, 1);
}

/* Setup: default max offset (500 ms), then a custom 1 ms. Action: receive
 * remote stamps at exactly the bound and one nanosecond past it. Expected:
 * the bound is merged, past it is VOID_EHLC_AHEAD, counted, and the clock is
 * unchanged (a later now() does not see the poisoned time). */
static void test_hlc_rejects_remote_beyond_max_offset_and_counts(void **state)
{
    (void)state;
    struct void_hlc h;
    struct void_hlc_ts out = ts(1, 1);
    void_hlc_init(&h, NULL);
    void_hlc_now_at(&h, T0);
    struct void_hlc_ts before = h.last;
    assert_int_equal(void_hlc_update_at(&h, T0, ts(T0 + 500 * MS + 1, 0), &out), VOID_EHLC_AHEAD);
    assert_int_equal(h.count_rejected_ahead, 1);
    assert_ts(h.last, before.wall_ns, before.logical);
    assert_ts(out, 1, 1); /* untouched */
    assert_int_equal(void_hlc_update_at(&h, T0, ts(UINT64_MAX, UINT32_MAX), &out), VOID_EHLC_AHEAD);
    assert_int_equal(h.count_rejected_ahead, 2);
    assert_ts(void_hlc_now_at(&h, T0 + 1), T0 + 1, 0);
    assert_int_equal(void_hlc_update_at(&h, T0 + 1, ts(T0 + 1 + 500 * MS, 0), &out), 0);
    assert_ts(out, T0 + 1 + 500 * MS, 1);
    assert_int_equal(h.count_rejected_ahead, 2);

    struct void_hlc_config cfg = {.max_offset_ns = MS};
    void_hlc_init(&h, &cfg);
    assert_int_equal(void_hlc_update_at(&h, T0, ts(T0 + MS, 0), NULL), 0);
    assert_int_equal(void_hlc_update_at(&h, T0, ts(T0 + MS + 1, 0), NULL), VOID_EHLC_AHEAD);
    assert_int_equal(h.count_rejected_ahead, 1);
}

/* Setup: logical_max = 3. Action: stamp events at one fixed physical time,
 * and receive a remote stamp whose logical part is already at the bound.
 * Expected: logical runs 0..3, then the wall part advances by 1 ns and logical
 * restarts at 0 (never wraps), stamps stay strictly increasing, and each
 * overflow is counted. */
static void test_hlc_logical_overflow_advances_wall_not_wraps(void **state)
{
    (void)state;
    struct void_hlc_config cfg = {.logical_max = 3};
    struct void_hlc h;
    void_hlc_init(&h, &cfg);
    struct void_hlc_ts prev = void_hlc_now_at(&h, T0);
    assert_ts(prev, T0, 0);
    for (int i = 1; i <= 20; i++) {
        struct void_hlc_ts t = void_hlc_now_at(&h, T0);
        assert_true(void_hlc_compare(t, prev) > 0);
        assert_true(t.logical <= 3);
        assert_ts(t, T0 + (uint64_t)i / 4, (uint32_t)(i % 4));
        prev = t;
    }
    assert_int_equal(h.count_overflows, 5);
    struct void_hlc_ts out;
    void_hlc_init(&h, &cfg);
    assert_int_equal(void_hlc_update_at(&h, T0 - 1, ts(T0, 3), &out), 0);
    assert_ts(out, T0 + 1, 0);
    assert_int_equal(h.count_overflows, 1);
    /* a remote logical far past our bound still yields a bounded stamp after it */
    assert_int_equal(void_hlc_update_at(&h, T0 - 1, ts(T0 + 1, 1000), &out), 0);
    assert_ts(out, T0 + 2, 0);
    assert_true(void_hlc_compare(out, ts(T0 + 1, 1000)) > 0);
}

/* Setup: 10^6 random pairs of stamps, drawn so that equal wall parts and equal
 * logical parts are common. Expected: memcmp of the encodings has the sign of
 * compare(), and decode(encode(x)) == x. */
static void test_hlc_encoding_order_equals_compare_order(void **state)
{
    (void)state;
    struct void_prng p;
    void_prng_seed(&p, 2014);
    const uint64_t walls[] = {0, 1, 255, 256, T0, T0 + 1, UINT64_MAX - 1, UINT64_MAX};
    for (int i = 0; i < 1000000; i++) {
        struct void_hlc_ts a, b;
        struct void_hlc_ts *both[2] = {&a, &b};
        for (int k = 0; k < 2; k++) {
            uint64_t r = void_prng_next(&p);
            both[k]->wall_ns = (r & 1) ? walls[(r >> 1) & 7] : void_prng_next(&p) >> (r >> 58);
            both[k]->logical = (r & 16) ? (uint32_t)((r >> 8) & 3) : (uint32_t)void_prng_next(&p);
        }
        uint8_t ea[VOID_HLC_ENCODED_SIZE], eb[VOID_HLC_ENCODED_SIZE];
        void_hlc_encode(a, ea);
        void_hlc_encode(b, eb);
        int m = memcmp(ea, eb, sizeof(ea));
        int c = void_hlc_compare(a, b);
        assert_int_equal((m > 0) - (m < 0), c);
        struct void_hlc_ts back = void_hlc_decode(ea);
        assert_int_equal(void_hlc_compare(back, a), 0);
    }
}

/* The simulated nodes of the property test: each has an HLC and a physical
 * clock with its own offset (within +-200 ms of true time) that sometimes
 * steps back. */
#define NODES    5
#define INFLIGHT 64

struct sim_node {
    struct void_hlc h;
    int64_t offset_ns; /* physical clock = true time + offset */
    struct void_hlc_ts last;
};

struct sim_msg {
    struct void_hlc_ts sent;
    int to;
};

static uint64_t sim_phys(const struct sim_node *n, uint64_t true_ns)
{
    return (uint64_t)((int64_t)true_ns + n->offset_ns);
}

/* Delivers message m to its node and checks that the receive event is after
 * both the send and the node's previous event. */
static void sim_deliver(struct sim_node *nodes, const struct sim_msg *m, uint64_t true_ns)
{
    struct sim_node *n = &nodes[m->to];
    struct void_hlc_ts out;
    assert_int_equal(void_hlc_update_at(&n->h, sim_phys(n, true_ns), m->sent, &out), 0);
    assert_true(void_hlc_compare(out, m->sent) > 0);
    assert_true(void_hlc_compare(out, n->last) > 0);
    n->last = out;
}

/* Runs steps random actions among NODES nodes: local events, sends, receives
 * in random order (with duplicates), and physical clocks that step back. */
static void run_interleavings(uint64_t seed, uint32_t logical_max, int steps)
{
    struct void_prng p;
    void_prng_seed(&p, seed);
    struct sim_node nodes[NODES];
    struct void_hlc_config cfg = {.logical_max = logical_max};
    for (int i = 0; i < NODES; i++) {
        void_hlc_init(&nodes[i].h, &cfg);
        nodes[i].offset_ns = (int64_t)void_prng_below(&p, 400 * MS) - (int64_t)(200 * MS);
        nodes[i].last = ts(0, 0);
    }
    struct sim_msg inflight[INFLIGHT];
    int count = 0;
    uint64_t true_ns = T0;
    for (int step = 0; step < steps; step++) {
        true_ns += void_prng_below(&p, 3000); /* many ties at the ns level */
        int i = (int)void_prng_below(&p, NODES);
        struct sim_node *n = &nodes[i];
        uint64_t action = void_prng_below(&p, 1000);
        if (action < 2) {
            /* The physical clock steps back up to 50 ms (staying within
             * +-200 ms of true time, so no stamp exceeds the max offset). */
            n->offset_ns -= (int64_t)void_prng_below(&p, 50 * MS);
            if (n->offset_ns < -(int64_t)(200 * MS)) {
                n->offset_ns = -(int64_t)(200 * MS);
            }
        } else if (action < 400 && count < INFLIGHT) {
            struct void_hlc_ts t = void_hlc_now_at(&n->h, sim_phys(n, true_ns));
            assert_true(void_hlc_compare(t, n->last) > 0);
            n->last = t;
            inflight[count].sent = t;
            inflight[count].to = (int)void_prng_below(&p, NODES);
            count++;
        } else if (action < 800 && count > 0) {
            int k = (int)void_prng_below(&p, (uint64_t)count);
            sim_deliver(nodes, &inflight[k], true_ns);
            if (!void_prng_chance(&p, 1, 10)) { /* else: a duplicate arrives later */
                inflight[k] = inflight[--count];
            }
        } else {
            struct void_hlc_ts t = void_hlc_now_at(&n->h, sim_phys(n, true_ns));
            assert_true(void_hlc_compare(t, n->last) > 0);
            n->last = t;
        }
    }
    for (int i = 0; i < NODES; i++) {
        assert_int_equal(nodes[i].h.count_rejected_ahead, 0);
    }
}

/* Property (the HLC's purpose): over 10^6 random interleavings of now() and
 * update() among 5 nodes with skewed, backward-stepping physical clocks and a
 * network that reorders and duplicates, every receive is stamped later than
 * its send and every node's stamps strictly increase. Run once with the
 * default logical bound and once with a tiny one, so overflows interleave. */
static void test_hlc_receive_always_after_send_random_interleavings(void **state)
{
    (void)state;
    run_interleavings(1, 0, 1000000);
    run_interleavings(2, 2, 200000);
}

static uint64_t fake_clock(void *ctx)
{
    uint64_t *t = ctx;
    *t += 10;
    return *t;
}

/* Setup: a clock function over a counter. Expected: now() and update() read
 * it through the context pointer. */
static void test_hlc_now_reads_configured_clock(void **state)
{
    (void)state;
    uint64_t t = T0;
    struct void_hlc_config cfg = {.clock = fake_clock, .clock_ctx = &t};
    struct void_hlc h;
    void_hlc_init(&h, &cfg);
    assert_ts(void_hlc_now(&h), T0 + 10, 0);
    struct void_hlc_ts out;
    assert_int_equal(void_hlc_update(&h, ts(T0 + 20, 4), &out), 0);
    assert_ts(out, T0 + 20, 5);
    assert_int_equal(t, T0 + 20);
}

/* format writes ISO 8601 UTC with nanoseconds and the logical part; parse
 * reads it and the numeric forms back; 10^5 random stamps round-trip. */
static void test_hlc_format_parse_round_trip(void **state)
{
    (void)state;
    char buf[VOID_HLC_FORMAT_MAX];
    assert_int_equal(void_hlc_format(ts(T0 + 123456789, 7), buf, sizeof(buf)), 32);
    assert_string_equal(buf, "2026-11-25T00:00:00.123456789Z/7");
    void_hlc_format(ts(0, 0), buf, sizeof(buf));
    assert_string_equal(buf, "1970-01-01T00:00:00.000000000Z/0");
    int n = void_hlc_format(ts(UINT64_MAX, UINT32_MAX), buf, sizeof(buf));
    assert_true(n > 0 && n < VOID_HLC_FORMAT_MAX);
    assert_string_equal(buf, "2554-07-21T23:34:33.709551615Z/4294967295");
    struct void_hlc_ts t;
    assert_int_equal(void_hlc_parse(buf, &t), 0); /* the largest stamp round-trips */
    assert_ts(t, UINT64_MAX, UINT32_MAX);
    assert_int_equal(void_hlc_parse("2554-07-21T23:34:33.709551616Z", &t), VOID_EPARSE);
    assert_int_equal(void_hlc_parse("2554-07-21T23:34:34Z", &t), VOID_EPARSE);
    assert_int_equal(void_hlc_format(ts(T0, 7), buf, 10), VOID_ERANGE);

    assert_int_equal(void_hlc_parse("2026-11-25T00:00:00.5Z", &t), 0);
    assert_ts(t, T0 + 500 * MS, 0);
    assert_int_equal(void_hlc_parse("2026-11-25T00:00:01Z/3", &t), 0);
    assert_ts(t, T0 + SEC, 3);
    assert_int_equal(void_hlc_parse("2024-02-29T12:00:00Z", &t), 0);
    assert_int_equal(void_hlc_parse("1795564800000000000/9", &t), 0);
    assert_ts(t, T0, 9);
    assert_int_equal(void_hlc_parse("18446744073709551615", &t), 0);
    assert_ts(t, UINT64_MAX, 0);

    struct void_prng p;
    void_prng_seed(&p, 99);
    for (int i = 0; i < 100000; i++) {
        struct void_hlc_ts a = {void_prng_next(&p), (uint32_t)void_prng_next(&p)};
        if (i % 2) {
            a.wall_ns = T0 + void_prng_below(&p, 100ull * 365 * 86400 * SEC);
        }
        assert_true(void_hlc_format(a, buf, sizeof(buf)) > 0);
        struct void_hlc_ts back;
        assert_int_equal(void_hlc_parse(buf, &back), 0);
        assert_int_equal(void_hlc_compare(a, back), 0);
    }
}

/* Malformed strings are VOID_EPARSE and leave *out unchanged. */
static void test_hlc_parse_rejects_malformed(void **state)
{
    (void)state;
    const char *bad[] = {
        "",
        "abc",
        " 123",
        "+123",
        "-1",
        "123 ",
        "123/",
        "/5",
        "123/-1",
        "123/4294967296",
        "18446744073709551616",
        "99999999999999999999999",
        "2026-13-01T00:00:00Z",
        "2026-00-01T00:00:00Z",
        "2026-02-30T00:00:00Z",
        "2025-02-29T00:00:00Z",
        "2026-04-31T00:00:00Z",
        "2026-11-00T00:00:00Z",
        "2026-11-25T24:00:00Z",
        "2026-11-25T00:60:00Z",
        "2026-11-25 00:00:00Z",
        "2026-11-25T00:00:00",
        "2026-11-25T00:00:00.Z",
        "2026-11-25T00:00:00.1234567890Z",
        "2026-11-25T00:00:00Z/",
        "2026-11-25T00:00:00Z/1x",
        "2026-11-25T00:00:00ZZ",
        "1969-12-31T23:59:59Z",
        "9999-12-31T23:59:59Z",
        "2026-1-25T00:00:00Z",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct void_hlc_ts t = {11, 22};
        if (void_hlc_parse(bad[i], &t) != VOID_EPARSE) {
            fail_msg("accepted malformed \"%s\"", bad[i]);
        }
        assert_ts(t, 11, 22);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hlc_now_follows_physical_time_and_counts_ties),
        cmocka_unit_test(test_hlc_update_applies_the_paper_rules),
        cmocka_unit_test(test_hlc_monotonic_when_physical_clock_jumps_back_10s),
        cmocka_unit_test(test_hlc_rejects_remote_beyond_max_offset_and_counts),
        cmocka_unit_test(test_hlc_logical_overflow_advances_wall_not_wraps),
        cmocka_unit_test(test_hlc_encoding_order_equals_compare_order),
        cmocka_unit_test(test_hlc_receive_always_after_send_random_interleavings),
        cmocka_unit_test(test_hlc_now_reads_configured_clock),
        cmocka_unit_test(test_hlc_format_parse_round_trip),
        cmocka_unit_test(test_hlc_parse_rejects_malformed),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
