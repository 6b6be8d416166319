/*
 * Tests of the replicated key/value state machine: put/get/delete, CAS,
 * MVCC reads as of a past HLC, at-most-once execution, digest determinism,
 * snapshot round trips and deterministic pruning of old history.
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
#include "void/sm.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static uint64_t next_reqno = 1;

static struct void_hlc_ts ts(uint64_t wall)
{
    struct void_hlc_ts t = {wall, 0};
    return t;
}

/* Executes one op in its own batch stamped at wall, as client 1000, and
 * decodes the result into *res (value copied to the static buffer). */
static void
run(struct void_sm *sm, uint64_t wall, const struct void_sm_op *op, struct void_sm_result *res)
{
    static uint8_t out[VOID_SM_RESULT_MAX];
    uint8_t enc[VOID_SM_OP_MAX];
    int n = void_sm_op_encode(op, enc, sizeof(enc));
    assert_true(n > 0);
    void_sm_begin_batch(sm, ts(wall));
    size_t len = 0;
    assert_int_equal(
        void_sm_execute(sm, 1000, next_reqno++, enc, (size_t)n, out, sizeof(out), &len), 0);
    assert_int_equal(void_sm_result_decode(out, len, res), 0);
}

static struct void_sm_result put(struct void_sm *sm, uint64_t wall, const char *k, const char *v)
{
    struct void_sm_op op = {.kind = VOID_SM_OP_PUT,
                            .key = (const uint8_t *)k,
                            .key_len = (uint16_t)strlen(k),
                            .value = (const uint8_t *)v,
                            .value_len = (uint16_t)strlen(v)};
    struct void_sm_result r;
    run(sm, wall, &op, &r);
    return r;
}

static struct void_sm_result get(struct void_sm *sm, uint64_t wall, const char *k, uint64_t as_of)
{
    struct void_sm_op op = {.kind = as_of ? VOID_SM_OP_GET_AS_OF : VOID_SM_OP_GET,
                            .key = (const uint8_t *)k,
                            .key_len = (uint16_t)strlen(k),
                            .as_of = ts(as_of)};
    struct void_sm_result r;
    run(sm, wall, &op, &r);
    return r;
}

static void assert_value(struct void_sm_result r, const char *v)
{
    assert_int_equal(r.status, VOID_SM_OK);
    assert_int_equal(r.value_len, strlen(v));
    assert_memory_equal(r.value, v, strlen(v));
}

static int setup(void **state)
{
    struct void_sm *sm = calloc(1, sizeof(*sm));
    assert_non_null(sm);
    assert_int_equal(void_sm_init(sm, NULL), 0);
    *state = sm;
    return 0;
}

static int teardown(void **state)
{
    void_sm_fini(*state);
    free(*state);
    return 0;
}

/* Setup: empty state. Action: put a=1, get a, delete a, get a, delete a.
 * Expected: the get sees 1, the first delete succeeds, then NOT_FOUND twice. */
static void test_sm_put_get_delete(void **state)
{
    struct void_sm *sm = *state;
    assert_int_equal(put(sm, 10, "a", "1").status, VOID_SM_OK);
    assert_value(get(sm, 11, "a", 0), "1");
    struct void_sm_op del = {.kind = VOID_SM_OP_DELETE, .key = (const uint8_t *)"a", .key_len = 1};
    struct void_sm_result r;
    run(sm, 12, &del, &r);
    assert_int_equal(r.status, VOID_SM_OK);
    assert_int_equal(get(sm, 13, "a", 0).status, VOID_SM_NOT_FOUND);
    run(sm, 14, &del, &r);
    assert_int_equal(r.status, VOID_SM_NOT_FOUND);
}

/* Setup: empty state. Action: CAS expecting absence (succeeds), the same
 * again (fails), CAS expecting "x" (succeeds), expecting "x" again (fails).
 * Expected: a failed CAS reports the current value and writes nothing. */
static void test_sm_compare_and_set(void **state)
{
    struct void_sm *sm = *state;
    struct void_sm_op cas = {.kind = VOID_SM_OP_CAS,
                             .key = (const uint8_t *)"k",
                             .key_len = 1,
                             .value = (const uint8_t *)"x",
                             .value_len = 1};
    struct void_sm_result r;
    run(sm, 10, &cas, &r);
    assert_int_equal(r.status, VOID_SM_OK);
    run(sm, 11, &cas, &r);
    assert_int_equal(r.status, VOID_SM_CAS_FAILED);
    assert_memory_equal(r.value, "x", 1);
    cas.expect_present = 1;
    cas.expected = (const uint8_t *)"x";
    cas.expected_len = 1;
    cas.value = (const uint8_t *)"y";
    run(sm, 12, &cas, &r);
    assert_int_equal(r.status, VOID_SM_OK);
    run(sm, 13, &cas, &r);
    assert_int_equal(r.status, VOID_SM_CAS_FAILED);
    assert_value(get(sm, 14, "k", 0), "y");
}

/* Setup: put a=1 at t=100, a=2 at t=200, delete at t=300. Action: read as of
 * 50, 100, 150, 200, 250, 300. Expected: NOT_FOUND, 1, 1, 2, 2, NOT_FOUND,
 * with the version stamp of the version read. */
static void test_sm_reads_as_of_past_hlc(void **state)
{
    struct void_sm *sm = *state;
    put(sm, 100, "a", "1");
    put(sm, 200, "a", "2");
    struct void_sm_op del = {.kind = VOID_SM_OP_DELETE, .key = (const uint8_t *)"a", .key_len = 1};
    struct void_sm_result r;
    run(sm, 300, &del, &r);
    assert_int_equal(get(sm, 400, "a", 50).status, VOID_SM_NOT_FOUND);
    assert_value(get(sm, 401, "a", 100), "1");
    r = get(sm, 402, "a", 150);
    assert_value(r, "1");
    assert_int_equal(r.version.wall_ns, 100);
    assert_value(get(sm, 403, "a", 200), "2");
    assert_value(get(sm, 404, "a", 250), "2");
    assert_int_equal(get(sm, 405, "a", 300).status, VOID_SM_NOT_FOUND);
}

/* Setup: a key written at 100. Action: reads as of a time after the stamp of
 * the batch that executes them, and as of exactly that stamp. Expected: the
 * future read is refused with FUTURE (not answered with the current value);
 * the read at the batch's own stamp is answered. */
static void test_sm_refuses_as_of_after_the_batch_stamp(void **state)
{
    struct void_sm *sm = *state;
    put(sm, 100, "a", "1");
    struct void_sm_result r = get(sm, 200, "a", 201);
    assert_int_equal(r.status, VOID_SM_FUTURE);
    assert_int_equal(r.value_len, 0);
    assert_value(get(sm, 300, "a", 300), "1");
    uint8_t buf[VOID_SM_RESULT_MAX];
    struct void_sm_result back;
    r.status = VOID_SM_FUTURE;
    int len = void_sm_result_encode(&r, buf, sizeof(buf));
    assert_true(len > 0);
    assert_int_equal(void_sm_result_decode(buf, (size_t)len, &back), 0);
    assert_int_equal(back.status, VOID_SM_FUTURE);
}

/* Setup: a batch stamped below the previous one (a new primary with a slower
 * clock). Action: begin_batch. Expected: the stamp still increases. */
static void test_sm_stamps_never_decrease(void **state)
{
    struct void_sm *sm = *state;
    struct void_hlc_ts a = void_sm_begin_batch(sm, ts(1000));
    struct void_hlc_ts b = void_sm_begin_batch(sm, ts(500));
    assert_true(void_hlc_compare(b, a) > 0);
    assert_int_equal(b.wall_ns, 1000);
    assert_int_equal(b.logical, 1);
}

/* Setup: client 7 executes a CAS-on-absent as reqno 5. Action: the same
 * reqno again, then reqno 4. Expected: the cached OK result (not a CAS
 * failure, i.e. not executed twice), then STALE. */
static void test_sm_executes_each_request_at_most_once(void **state)
{
    struct void_sm *sm = *state;
    struct void_sm_op cas = {.kind = VOID_SM_OP_CAS,
                             .key = (const uint8_t *)"k",
                             .key_len = 1,
                             .value = (const uint8_t *)"v",
                             .value_len = 1};
    uint8_t enc[VOID_SM_OP_MAX], out[VOID_SM_RESULT_MAX];
    int n = void_sm_op_encode(&cas, enc, sizeof(enc));
    size_t len;
    struct void_sm_result r;
    void_sm_begin_batch(sm, ts(10));
    assert_int_equal(void_sm_execute(sm, 7, 5, enc, (size_t)n, out, sizeof(out), &len), 0);
    assert_int_equal(void_sm_result_decode(out, len, &r), 0);
    assert_int_equal(r.status, VOID_SM_OK);
    void_sm_begin_batch(sm, ts(11));
    assert_int_equal(void_sm_execute(sm, 7, 5, enc, (size_t)n, out, sizeof(out), &len), 0);
    assert_int_equal(void_sm_result_decode(out, len, &r), 0);
    assert_int_equal(r.status, VOID_SM_OK);
    assert_int_equal(r.version.wall_ns, 10);
    assert_int_equal(void_sm_execute(sm, 7, 4, enc, (size_t)n, out, sizeof(out), &len), 0);
    assert_int_equal(void_sm_result_decode(out, len, &r), 0);
    assert_int_equal(r.status, VOID_SM_STALE);
    uint64_t last;
    const uint8_t *res;
    size_t res_len;
    assert_int_equal(void_sm_client_last(sm, 7, &last, &res, &res_len), 1);
    assert_int_equal(last, 5);
}

/* Setup: two state machines given the same keys in a different order.
 * Action: digest both. Expected: equal; one more put changes it. */
static void test_sm_digest_is_canonical(void **state)
{
    struct void_sm *a = *state, b;
    assert_int_equal(void_sm_init(&b, NULL), 0);
    put(a, 10, "x", "1");
    put(a, 20, "y", "2");
    /* Same versions, other insertion order into the key table. */
    struct void_sm_op op = {.kind = VOID_SM_OP_PUT,
                            .key = (const uint8_t *)"y",
                            .key_len = 1,
                            .value = (const uint8_t *)"2",
                            .value_len = 1};
    uint8_t enc[64], out[VOID_SM_RESULT_MAX];
    size_t len;
    uint8_t da[32], db[32];
    void_sm_digest(a, da);
    /* Rebuild b by restoring a's snapshot: the canonical form is identical. */
    size_t cap = void_sm_snapshot_size(a);
    uint8_t *snap = malloc(cap);
    assert_int_equal(void_sm_snapshot_encode(a, snap, cap, &len), 0);
    assert_int_equal(void_sm_snapshot_decode(&b, snap, len), 0);
    void_sm_digest(&b, db);
    assert_memory_equal(da, db, 32);
    int n = void_sm_op_encode(&op, enc, sizeof(enc));
    void_sm_begin_batch(&b, ts(30));
    assert_int_equal(void_sm_execute(&b, 1, 1, enc, (size_t)n, out, sizeof(out), &len), 0);
    void_sm_digest(&b, db);
    assert_memory_not_equal(da, db, 32);
    free(snap);
    void_sm_fini(&b);
}

/* Setup: a state with several keys, versions, a tombstone and a client.
 * Action: snapshot, restore into a fresh machine. Expected: same digest,
 * same current and past reads; truncations and corruptions are rejected with
 * a code and leave the machine empty. */
static void test_sm_snapshot_round_trip_and_rejects_corruption(void **state)
{
    struct void_sm *a = *state, b;
    assert_int_equal(void_sm_init(&b, NULL), 0);
    put(a, 10, "k1", "v1");
    put(a, 20, "k2", "v2");
    put(a, 30, "k1", "v1b");
    size_t cap = void_sm_snapshot_size(a), len;
    uint8_t *snap = malloc(cap);
    assert_int_equal(void_sm_snapshot_encode(a, snap, cap, &len), 0);
    assert_int_equal(len, cap);
    assert_int_equal(void_sm_snapshot_decode(&b, snap, len), 0);
    uint8_t da[32], db[32];
    void_sm_digest(a, da);
    void_sm_digest(&b, db);
    assert_memory_equal(da, db, 32);
    struct void_sm_result r;
    struct void_hlc_ts t = ts(15);
    void_sm_read(&b, (const uint8_t *)"k1", 2, &t, &r);
    assert_value(r, "v1");
    for (size_t cut = 0; cut < len; cut += 7) {
        assert_int_not_equal(void_sm_snapshot_decode(&b, snap, cut), 0);
        assert_int_equal(void_sm_snapshot_size(&b), 4 + 24 + 8);
    }
    snap[0] ^= 1;
    assert_int_equal(void_sm_snapshot_decode(&b, snap, len), VOID_EBAD_FIELD);
    free(snap);
    void_sm_fini(&b);
}

/* Setup: a tiny machine (4 keys, 8 versions). Action: 40 puts over 3 keys,
 * with a copy restored from a snapshot half way that gets the same later
 * puts. Expected: history is pruned (old as-of reads answer TOO_OLD), the
 * latest values survive, and both copies end with equal digests. */
static void test_sm_prunes_history_deterministically(void **state)
{
    (void)state;
    struct void_sm a, b;
    struct void_sm_config cfg = {.keys_max = 4, .versions_max = 8};
    assert_int_equal(void_sm_init(&a, &cfg), 0);
    assert_int_equal(void_sm_init(&b, &cfg), 0);
    char key[2] = "a", val[8];
    for (int i = 0; i < 40; i++) {
        key[0] = (char)('a' + i % 3);
        snprintf(val, sizeof(val), "%d", i);
        uint64_t rq = next_reqno; /* both copies see the same request numbers */
        assert_int_equal(put(&a, 100 + (uint64_t)i, key, val).status, VOID_SM_OK);
        if (i == 20) {
            uint8_t snap[4096];
            size_t len;
            assert_int_equal(void_sm_snapshot_encode(&a, snap, sizeof(snap), &len), 0);
            assert_int_equal(void_sm_snapshot_decode(&b, snap, len), 0);
        } else if (i > 20) {
            next_reqno = rq;
            assert_int_equal(put(&b, 100 + (uint64_t)i, key, val).status, VOID_SM_OK);
        }
    }
    assert_true(a.count_pruned > 0);
    uint64_t rq = next_reqno;
    assert_int_equal(get(&a, 500, "a", 100).status, VOID_SM_TOO_OLD);
    assert_value(get(&a, 501, "a", 0), "39");
    next_reqno = rq;
    get(&b, 500, "a", 100);
    get(&b, 501, "a", 0);
    uint8_t da[32], db[32];
    void_sm_digest(&a, da);
    void_sm_digest(&b, db);
    assert_memory_equal(da, db, 32);
    void_sm_fini(&a);
    void_sm_fini(&b);
}

/* Setup: a machine with 2 key slots. Action: put a third distinct key.
 * Expected: FULL, and nothing changed. */
static void test_sm_reports_full_when_keys_run_out(void **state)
{
    (void)state;
    struct void_sm a;
    struct void_sm_config cfg = {.keys_max = 2, .versions_max = 2};
    assert_int_equal(void_sm_init(&a, &cfg), 0);
    assert_int_equal(put(&a, 1, "a", "1").status, VOID_SM_OK);
    assert_int_equal(put(&a, 2, "b", "1").status, VOID_SM_OK);
    assert_int_equal(put(&a, 3, "c", "1").status, VOID_SM_FULL);
    assert_int_equal(get(&a, 4, "c", 0).status, VOID_SM_NOT_FOUND);
    assert_value(get(&a, 5, "a", 0), "1");
    void_sm_fini(&a);
}

/* Setup: malformed operation bytes. Action: decode, and execute. Expected:
 * distinct decode codes; execution answers BAD_OP (recorded, not a crash). */
static void test_sm_rejects_malformed_operations(void **state)
{
    struct void_sm *sm = *state;
    struct void_sm_op op;
    const uint8_t unknown[] = {9, 0, 1, 'a'};
    const uint8_t truncated[] = {VOID_SM_OP_PUT, 0, 5, 'a'};
    const uint8_t trailing[] = {VOID_SM_OP_GET, 0, 1, 'a', 0};
    const uint8_t empty_key[] = {VOID_SM_OP_GET, 0, 0};
    assert_int_equal(void_sm_op_decode(unknown, sizeof(unknown), &op), VOID_EBAD_TYPE);
    assert_int_equal(void_sm_op_decode(truncated, sizeof(truncated), &op), VOID_ETRUNCATED);
    assert_int_equal(void_sm_op_decode(trailing, sizeof(trailing), &op), VOID_EBAD_LENGTH);
    assert_int_equal(void_sm_op_decode(empty_key, sizeof(empty_key), &op), VOID_EBAD_LENGTH);
    assert_int_equal(void_sm_op_decode(unknown, 0, &op), VOID_ETRUNCATED);
    uint8_t out[VOID_SM_RESULT_MAX];
    size_t len;
    struct void_sm_result r;
    void_sm_begin_batch(sm, ts(1));
    assert_int_equal(void_sm_execute(sm, 3, 1, unknown, sizeof(unknown), out, sizeof(out), &len),
                     0);
    assert_int_equal(void_sm_result_decode(out, len, &r), 0);
    assert_int_equal(r.status, VOID_SM_BAD_OP);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_sm_put_get_delete, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sm_compare_and_set, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sm_reads_as_of_past_hlc, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sm_refuses_as_of_after_the_batch_stamp, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sm_stamps_never_decrease, setup, teardown),
        cmocka_unit_test_setup_teardown(
            test_sm_executes_each_request_at_most_once, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sm_digest_is_canonical, setup, teardown),
        cmocka_unit_test_setup_teardown(
            test_sm_snapshot_round_trip_and_rejects_corruption, setup, teardown),
        cmocka_unit_test(test_sm_prunes_history_deterministically),
        cmocka_unit_test(test_sm_reports_full_when_keys_run_out),
        cmocka_unit_test_setup_teardown(test_sm_rejects_malformed_operations, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
