/*
 * Tests of the simulator's world model: event order in virtual time, the
 * link model's loss/duplication/partition decisions, clocks as a transform of
 * virtual time, and the disk's crash semantics.
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
#include "void/sim_model.h"

#include <string.h>

/* Setup: events pushed out of order, three of them at the same time.
 * Action: pop all. Expected: time order, ties in insertion order; an empty
 * queue reports VOID_ENOTFOUND and peeks UINT64_MAX. */
static void test_simq_orders_by_time_then_insertion(void **state)
{
    (void)state;
    struct void_simq q;
    void_simq_init(&q);
    uint64_t times[] = {50, 10, 30, 10, 10, 20, 1000};
    for (uint64_t i = 0; i < 7; i++) {
        struct void_simq_item it = {.at_ns = times[i], .arg = i};
        assert_int_equal(void_simq_push(&q, &it), 0);
    }
    uint64_t want[] = {1, 3, 4, 5, 2, 0, 6};
    for (int i = 0; i < 7; i++) {
        struct void_simq_item it;
        assert_int_equal(void_simq_pop(&q, &it), 0);
        assert_int_equal(it.arg, want[i]);
    }
    struct void_simq_item it;
    assert_int_equal(void_simq_pop(&q, &it), VOID_ENOTFOUND);
    assert_int_equal(void_simq_peek_time(&q), UINT64_MAX);
    void_simq_fini(&q);
}

/* Setup: many random times. Action: pop all. Expected: non-decreasing. */
static void test_simq_heap_stays_sorted(void **state)
{
    (void)state;
    struct void_simq q;
    void_simq_init(&q);
    struct void_prng p;
    void_prng_seed(&p, 1);
    for (int i = 0; i < 5000; i++) {
        struct void_simq_item it = {.at_ns = void_prng_below(&p, 1000)};
        assert_int_equal(void_simq_push(&q, &it), 0);
    }
    uint64_t last = 0, last_seq = 0;
    for (int i = 0; i < 5000; i++) {
        struct void_simq_item it;
        assert_int_equal(void_simq_pop(&q, &it), 0);
        assert_true(it.at_ns >= last);
        if (it.at_ns == last && i > 0) {
            assert_true(it.seq > last_seq);
        }
        last = it.at_ns;
        last_seq = it.seq;
    }
    void_simq_fini(&q);
}

/* Setup: a link with 10% loss and 10% duplication. Action: route 100k
 * frames. Expected: about 10% lost and 10% of the rest duplicated, delays in
 * range; after a cut nothing is delivered, after healing delivery resumes. */
static void test_simnet_loss_dup_and_partition(void **state)
{
    (void)state;
    struct void_simnet net;
    struct void_simnet_link link = {
        .delay_ns_min = 100, .delay_ns_max = 200, .loss_ppm = 100000, .dup_ppm = 100000};
    assert_int_equal(void_simnet_init(&net, 3, &link), 0);
    struct void_prng p;
    void_prng_seed(&p, 2);
    int delivered = 0, dups = 0;
    for (int i = 0; i < 100000; i++) {
        uint64_t at[2];
        int k = void_simnet_route(&net, &p, 0, 1, 1000, at);
        delivered += k > 0;
        dups += k == 2;
        for (int j = 0; j < k; j++) {
            assert_true(at[j] >= 1100 && at[j] <= 1200);
        }
    }
    assert_in_range(delivered, 88000, 92000);
    assert_in_range(dups, 8000, 10000);
    void_simnet_isolate(&net, 1);
    uint64_t at[2];
    for (int i = 0; i < 100; i++) {
        assert_int_equal(void_simnet_route(&net, &p, 2, 1, 0, at), 0);
        assert_int_equal(void_simnet_route(&net, &p, 1, 0, 0, at), 0);
    }
    net.links[0][2].loss_ppm = 0;
    net.links[0][2].dup_ppm = 0;
    assert_int_equal(void_simnet_route(&net, &p, 0, 2, 0, at), 1);
    void_simnet_heal_all(&net);
    net.links[2][1].loss_ppm = 0;
    assert_true(void_simnet_route(&net, &p, 2, 1, 0, at) >= 1);
    assert_int_equal(void_simnet_init(&net, 0, &link), VOID_EINVAL);
}

/* Setup: a clock with +1 ms offset and +100 ppm drift. Expected: reads are
 * epoch + vt + offset + drift; a large negative offset saturates at 0. */
static void test_simclock_offset_and_drift(void **state)
{
    (void)state;
    struct void_simclock c = {
        .epoch_ns = 1000000000000ull, .offset_ns = 1000000, .drift_ppb = 100000};
    assert_int_equal(void_simclock_read(&c, 0), 1000001000000ull);
    /* after 10 s of virtual time: +1 ms offset, +1 ms drift */
    assert_int_equal(void_simclock_read(&c, 10000000000ull),
                     1000000000000ull + 10000000000ull + 2000000);
    c.offset_ns = -2000000000000ll;
    assert_int_equal(void_simclock_read(&c, 0), 0);
}

/* Setup: three records, sync after two, one more. Action: crash. Expected:
 * the two synced survive, the rest are lost and counted. */
static void test_simdisk_crash_loses_unsynced(void **state)
{
    (void)state;
    struct void_simdisk d;
    void_simdisk_init(&d);
    const uint8_t a[] = "a", b[] = "bb", c[] = "ccc";
    assert_int_equal(void_simdisk_append(&d, a, 1), 0);
    assert_int_equal(void_simdisk_append(&d, b, 2), 0);
    void_simdisk_sync(&d);
    assert_int_equal(void_simdisk_append(&d, c, 3), 0);
    assert_int_equal(void_simdisk_crash(&d), 1);
    assert_int_equal(d.count, 2);
    assert_memory_equal(d.records[1].data, "bb", 2);
    assert_int_equal(void_simdisk_crash(&d), 0);
    assert_int_equal(d.count_lost, 1);
    void_simdisk_fini(&d);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_simq_orders_by_time_then_insertion),
        cmocka_unit_test(test_simq_heap_stays_sorted),
        cmocka_unit_test(test_simnet_loss_dup_and_partition),
        cmocka_unit_test(test_simclock_offset_and_drift),
        cmocka_unit_test(test_simdisk_crash_loses_unsynced),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
