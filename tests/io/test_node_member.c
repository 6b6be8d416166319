/*
 * Tests of voidd's automatic removal driver (src/io/node_member.c): what a
 * certified REMOVE that comes due does with the request the node's own
 * client has in flight, and which suspects one REMOVE gathers. The client carries one request at a time, and
 * submit() asserts that it is idle.
 */
/* cmocka.h needs these first, in this order. */
/* clang-format off */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
/* clang-format on */

#include "io/node_member.h"

/* Setup: the client idle, or carrying a REMOVE. Action: a removal comes
 * due. Expected: it goes at once when idle; it waits behind the REMOVE in
 * flight (one change at a time; the state machine would refuse a second
 * as pending). */
static void test_node_member_removal_goes_when_idle_and_waits_behind_a_removal(void **state)
{
    (void)state;
    assert_int_equal(void__node_member_remove_take(0), VOID__NODE_MEMBER_TAKE_GO);
    assert_int_equal(void__node_member_remove_take(1), VOID__NODE_MEMBER_TAKE_WAIT);
}

/* Setup: the client carrying a read of the configuration record (kind 2)
 * or a no-op read that moves the sequence to an executed removal's boundary
 * (kind 3, the pump). Action: a removal comes due. Expected: the client is
 * restarted and the removal goes, for both kinds: going with the no-op in
 * flight hit submit()'s assertion (a node that had just pumped its own
 * removal to its boundary stopped when its next certificate came due,
 * scripts/member_kill3.sh order 1, and the others then removed it). */
static void test_node_member_removal_takes_the_client_from_any_read(void **state)
{
    (void)state;
    assert_int_equal(void__node_member_remove_take(2), VOID__NODE_MEMBER_TAKE_RESTART);
    assert_int_equal(void__node_member_remove_take(3), VOID__NODE_MEMBER_TAKE_RESTART);
}

/* Setup: certificates complete for 7 and 8 while the detector holds 9
 * dead without one (its suspicions still arriving). Action: the gather
 * decision as time passes. Expected: it waits (0) until 9's certificate is
 * complete, then takes all three at once (one change, one epoch); or, if
 * 9's never completes, takes 7 and 8 after VOID__NODE_MEMBER_GATHER_NS. */
static void test_node_member_gathers_the_suspects_that_died_together(void **state)
{
    (void)state;
    uint32_t b7 = 1u << 7, b8 = 1u << 8, b9 = 1u << 9;
    assert_int_equal(void__node_member_gather(b7 | b8, b9, 6, 0), 0);
    assert_int_equal(void__node_member_gather(b7 | b8, b9, 6, VOID__NODE_MEMBER_GATHER_NS - 1), 0);
    assert_int_equal(void__node_member_gather(b7 | b8 | b9, 0, 6, 0), b7 | b8 | b9);
    assert_int_equal(void__node_member_gather(b7 | b8, b9, 6, VOID__NODE_MEMBER_GATHER_NS), b7 | b8);
    /* One dead member and nobody else suspect: no wait at all. */
    assert_int_equal(void__node_member_gather(b9, 0, 6, 0), b9);
    /* Nothing complete: nothing to submit. */
    assert_int_equal(void__node_member_gather(0, b9, 6, VOID__NODE_MEMBER_GATHER_NS), 0);
}

/* Setup: three complete certificates and room for fewer removals than that
 * (voters_min). Expected: at most `room`, lowest ids first; none at room 0. */
static void test_node_member_gather_stops_at_voters_min(void **state)
{
    (void)state;
    uint32_t b7 = 1u << 7, b8 = 1u << 8, b9 = 1u << 9;
    assert_int_equal(void__node_member_gather(b7 | b8 | b9, 0, 2, 0), b7 | b8);
    assert_int_equal(void__node_member_gather(b7 | b8 | b9, 0, 1, 0), b7);
    assert_int_equal(void__node_member_gather(b7 | b8 | b9, 0, 0, 0), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_node_member_removal_goes_when_idle_and_waits_behind_a_removal),
        cmocka_unit_test(test_node_member_removal_takes_the_client_from_any_read),
        cmocka_unit_test(test_node_member_gathers_the_suspects_that_died_together),
        cmocka_unit_test(test_node_member_gather_stops_at_voters_min),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
