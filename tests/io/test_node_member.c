/*
 * Tests of voidd's automatic removal driver (src/io/node_member.c): what a
 * certified REMOVE that comes due does with the request the node's own
 * client has in flight. The client carries one request at a time, and
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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_node_member_removal_goes_when_idle_and_waits_behind_a_removal),
        cmocka_unit_test(test_node_member_removal_takes_the_client_from_any_read),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
