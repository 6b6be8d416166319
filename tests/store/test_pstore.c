/*
 * Tests of the LMDB record store: records come back in (kind, key) order,
 * a put replaces, DELETE_UPTO removes exactly the keys at or below its bound
 * within one kind, and what a write returned for survives closing and
 * reopening the store.
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
#include "void/pstore.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char dir[256];

static int setup(void **state)
{
    (void)state;
    snprintf(dir, sizeof(dir), "/tmp/void-test-pstore-XXXXXX");
    return mkdtemp(dir) != NULL ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    char cmd[300];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    return system(cmd) == 0 ? 0 : -1;
}

static struct void_pstore_op put(uint8_t kind, uint64_t key, const char *text)
{
    return (struct void_pstore_op){.op = VOID_PSTORE_PUT,
                                   .kind = kind,
                                   .key = key,
                                   .data = (const uint8_t *)text,
                                   .len = strlen(text)};
}

/* Setup: empty store. Action: write records of two kinds out of order, one
 * key twice, then read all. Expected: sorted by (kind, key), the later put
 * wins. */
static void test_pstore_reads_back_sorted_and_replaced(void **state)
{
    (void)state;
    struct void_pstore s;
    char sub[300];
    snprintf(sub, sizeof(sub), "%s/a", dir);
    assert_int_equal(void_pstore_open(&s, sub, NULL, 0), 0);
    struct void_pstore_op ops[] = {
        put(2, 300, "c"), put(1, 0, "view"), put(2, 5, "a"), put(2, 256, "b"), put(2, 5, "a2")};
    assert_int_equal(void_pstore_write(&s, ops, 5), 0);
    struct void_pstore_rec *recs = NULL;
    size_t n = 0;
    assert_int_equal(void_pstore_read_all(&s, &recs, &n), 0);
    assert_int_equal(n, 4);
    assert_int_equal(recs[0].kind, 1);
    assert_int_equal(recs[1].key, 5);
    assert_memory_equal(recs[1].data, "a2", 2);
    assert_int_equal(recs[2].key, 256);
    assert_int_equal(recs[3].key, 300);
    free(recs);
    void_pstore_close(&s);
}

/* Setup: entries 1..10 of kind 2 and one record of kind 3. Action:
 * DELETE_UPTO(kind 2, 7). Expected: entries 8..10 and the kind-3 record
 * remain. */
static void test_pstore_delete_upto_stays_within_kind_and_bound(void **state)
{
    (void)state;
    struct void_pstore s;
    char sub[300];
    snprintf(sub, sizeof(sub), "%s/b", dir);
    assert_int_equal(void_pstore_open(&s, sub, NULL, 0), 0);
    for (uint64_t k = 1; k <= 10; k++) {
        struct void_pstore_op op = put(2, k, "x");
        assert_int_equal(void_pstore_write(&s, &op, 1), 0);
    }
    struct void_pstore_op ops[] = {put(3, 0, "ckpt"),
                                   {.op = VOID_PSTORE_DELETE_UPTO, .kind = 2, .key = 7}};
    assert_int_equal(void_pstore_write(&s, ops, 2), 0);
    struct void_pstore_rec *recs = NULL;
    size_t n = 0;
    assert_int_equal(void_pstore_read_all(&s, &recs, &n), 0);
    assert_int_equal(n, 4);
    assert_int_equal(recs[0].key, 8);
    assert_int_equal(recs[2].key, 10);
    assert_int_equal(recs[3].kind, 3);
    free(recs);
    void_pstore_close(&s);
}

/* Setup: a store with one record. Action: close and reopen. Expected: the
 * record is there; a bad op is refused with VOID_EINVAL and changes nothing. */
static void test_pstore_survives_reopen_and_rejects_bad_op(void **state)
{
    (void)state;
    struct void_pstore s;
    char sub[300];
    snprintf(sub, sizeof(sub), "%s/c", dir);
    assert_int_equal(void_pstore_open(&s, sub, NULL, 0), 0);
    struct void_pstore_op op = put(1, 0, "durable");
    assert_int_equal(void_pstore_write(&s, &op, 1), 0);
    void_pstore_close(&s);
    assert_int_equal(void_pstore_open(&s, sub, NULL, 0), 0);
    struct void_pstore_op bad[] = {put(1, 0, "lost"), {.op = 9}};
    assert_int_equal(void_pstore_write(&s, bad, 2), VOID_EINVAL);
    struct void_pstore_rec *recs = NULL;
    size_t n = 0;
    assert_int_equal(void_pstore_read_all(&s, &recs, &n), 0);
    assert_int_equal(n, 1);
    assert_int_equal(recs[0].len, 7);
    assert_memory_equal(recs[0].data, "durable", 7);
    free(recs);
    void_pstore_close(&s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pstore_reads_back_sorted_and_replaced),
        cmocka_unit_test(test_pstore_delete_upto_stays_within_kind_and_bound),
        cmocka_unit_test(test_pstore_survives_reopen_and_rejects_bad_op),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
