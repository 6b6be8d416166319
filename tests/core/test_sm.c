/*
 * Tests of the replicated key/value state machine on the store interface:
 * put/get/delete, CAS, MVCC reads as of a past HLC, at-most-once execution,
 * the scale the old fixed table refused (keys, clients), retention and
 * client expiry by age, the quota, the canonical export and import that
 * state transfer uses, a reopened store, and stopping at a local store
 * failure. Every behaviour runs on both stores: the in-memory one (the
 * simulator's) and LMDB (the daemon's), which must answer alike.
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
#include "void/kvs.h"
#include "void/sm.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static uint64_t next_reqno = 1;

static struct void_hlc_ts ts(uint64_t wall)
{
    struct void_hlc_ts t = {wall, 0};
    return t;
}

/* ---- fixtures: a state machine on one of the two stores -------------------- */

struct fix {
    int lmdb;
    char dir[256];
    struct void_kvs kvs;
    struct void_sm sm;
    uint64_t seq; /* batch label */
};

static void make_dir(char *dir, size_t cap)
{
    const char *tmp = getenv("TMPDIR");
    snprintf(dir, cap, "%s/void-sm-XXXXXX", tmp != NULL ? tmp : "/tmp");
    assert_non_null(mkdtemp(dir));
}

static void remove_dir(const char *dir)
{
    DIR *d = opendir(dir);
    if (d == NULL) {
        return;
    }
    struct dirent *e;
    char path[512];
    while ((e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0) {
            snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
            unlink(path);
        }
    }
    closedir(d);
    rmdir(dir);
}

/* Opens f's store (a fresh one unless reopen) and sets its sm up. */
static void fix_open(struct fix *f, uint64_t quota, const struct void_sm_config *cfg, int reopen)
{
    if (f->lmdb) {
        if (!reopen) {
            make_dir(f->dir, sizeof(f->dir));
        }
        struct void_kvs_lmdb_config lc = {.quota = quota, .create = 1};
        assert_int_equal(void_kvs_lmdb_open(&f->kvs, f->dir, &lc), 0);
    } else {
        struct void_kvs_mem_config mc = {.quota = quota};
        assert_int_equal(void_kvs_mem_init(&f->kvs, &mc), 0);
    }
    assert_int_equal(void_sm_init(&f->sm, cfg, &f->kvs), 0);
}

static struct fix *fix_new(int lmdb, uint64_t quota, const struct void_sm_config *cfg)
{
    struct fix *f = calloc(1, sizeof(*f));
    assert_non_null(f);
    f->lmdb = lmdb;
    fix_open(f, quota, cfg, 0);
    return f;
}

static void fix_close(struct fix *f)
{
    void_sm_fini(&f->sm);
    void_kvs_close(&f->kvs);
}

static void fix_free(struct fix *f)
{
    fix_close(f);
    if (f->lmdb) {
        remove_dir(f->dir);
    }
    free(f);
}

static int setup_mem(void **state)
{
    *state = fix_new(0, 0, NULL);
    return 0;
}

static int setup_lmdb(void **state)
{
    *state = fix_new(1, 0, NULL);
    return 0;
}

static int teardown(void **state)
{
    fix_free(*state);
    return 0;
}

/* ---- operations ------------------------------------------------------------ */

/* Executes op as (client, reqno) in an open batch and decodes the result
 * into *res (value in a static buffer). */
static void exec_as(struct fix *f,
                    uint64_t client,
                    uint64_t reqno,
                    const struct void_sm_op *op,
                    struct void_sm_result *res)
{
    static uint8_t out[VOID_SM_RESULT_MAX];
    uint8_t enc[VOID_SM_OP_MAX];
    int n = void_sm_op_encode(op, enc, sizeof(enc));
    assert_true(n > 0);
    size_t len = 0;
    assert_int_equal(void_sm_execute(&f->sm, client, reqno, enc, (size_t)n, out, sizeof(out), &len),
                     0);
    assert_int_equal(void_sm_result_decode(out, len, res), 0);
}

static void begin(struct fix *f, uint64_t wall)
{
    assert_int_equal(void_sm_begin_batch(&f->sm, ts(wall), ++f->seq, NULL), 0);
}

static void end(struct fix *f)
{
    assert_int_equal(void_sm_end_batch(&f->sm), 0);
}

/* Executes one op in its own batch stamped at wall, as client 1000. */
static void
run(struct fix *f, uint64_t wall, const struct void_sm_op *op, struct void_sm_result *res)
{
    begin(f, wall);
    exec_as(f, 1000, next_reqno++, op, res);
    end(f);
}

static struct void_sm_op put_op(const char *k, const char *v)
{
    struct void_sm_op op = {.kind = VOID_SM_OP_PUT,
                            .key = (const uint8_t *)k,
                            .key_len = (uint16_t)strlen(k),
                            .value = (const uint8_t *)v,
                            .value_len = (uint16_t)strlen(v)};
    return op;
}

static struct void_sm_result put(struct fix *f, uint64_t wall, const char *k, const char *v)
{
    struct void_sm_op op = put_op(k, v);
    struct void_sm_result r;
    run(f, wall, &op, &r);
    return r;
}

static struct void_sm_result get(struct fix *f, uint64_t wall, const char *k, uint64_t as_of)
{
    struct void_sm_op op = {.kind = as_of ? VOID_SM_OP_GET_AS_OF : VOID_SM_OP_GET,
                            .key = (const uint8_t *)k,
                            .key_len = (uint16_t)strlen(k),
                            .as_of = ts(as_of)};
    struct void_sm_result r;
    run(f, wall, &op, &r);
    return r;
}

static struct void_sm_result del(struct fix *f, uint64_t wall, const char *k)
{
    struct void_sm_op op = {
        .kind = VOID_SM_OP_DELETE, .key = (const uint8_t *)k, .key_len = (uint16_t)strlen(k)};
    struct void_sm_result r;
    run(f, wall, &op, &r);
    return r;
}

static void assert_value(struct void_sm_result r, const char *v)
{
    assert_int_equal(r.status, VOID_SM_OK);
    assert_int_equal(r.value_len, strlen(v));
    assert_memory_equal(r.value, v, r.value_len);
}

static void digest_of(struct fix *f, uint8_t d[32])
{
    void_sm_digest(&f->sm, d);
}

/* ---- behaviour ---------------------------------------------------------------- */

/* Setup: an empty machine. Action: put, get, delete, get, delete again.
 * Expected: the value, then NOT_FOUND, and a second delete NOT_FOUND with no
 * version written. */
static void test_sm_put_get_delete(void **state)
{
    struct fix *f = *state;
    assert_int_equal(put(f, 10, "a", "1").status, VOID_SM_OK);
    assert_value(get(f, 11, "a", 0), "1");
    struct void_sm_result r = del(f, 12, "a");
    assert_int_equal(r.status, VOID_SM_OK);
    assert_int_equal(r.version.wall_ns, 12);
    assert_int_equal(get(f, 13, "a", 0).status, VOID_SM_NOT_FOUND);
    assert_int_equal(del(f, 14, "a").status, VOID_SM_NOT_FOUND);
    assert_int_equal(get(f, 15, "never", 0).status, VOID_SM_NOT_FOUND);
}

/* Setup: key a absent. Action: CAS expecting absence, CAS with a wrong
 * expected value, CAS with the right one. Expected: OK, CAS_FAILED carrying
 * the current value, OK; and a CAS sees a put earlier in its own batch. */
static void test_sm_compare_and_set(void **state)
{
    struct fix *f = *state;
    struct void_sm_op cas = {.kind = VOID_SM_OP_CAS,
                             .key = (const uint8_t *)"a",
                             .key_len = 1,
                             .value = (const uint8_t *)"1",
                             .value_len = 1};
    struct void_sm_result r;
    run(f, 10, &cas, &r);
    assert_int_equal(r.status, VOID_SM_OK);
    cas.expect_present = 1;
    cas.expected = (const uint8_t *)"x";
    cas.expected_len = 1;
    cas.value = (const uint8_t *)"2";
    run(f, 11, &cas, &r);
    assert_int_equal(r.status, VOID_SM_CAS_FAILED);
    assert_int_equal(r.value_len, 1);
    assert_memory_equal(r.value, "1", 1);
    cas.expected = (const uint8_t *)"1";
    run(f, 12, &cas, &r);
    assert_int_equal(r.status, VOID_SM_OK);
    assert_value(get(f, 13, "a", 0), "2");
    /* Same batch: a put then a CAS that expects the put's value. */
    begin(f, 20);
    struct void_sm_op p = put_op("a", "3");
    exec_as(f, 1000, next_reqno++, &p, &r);
    cas.expected = (const uint8_t *)"3";
    cas.value = (const uint8_t *)"4";
    exec_as(f, 1001, 1, &cas, &r);
    assert_int_equal(r.status, VOID_SM_OK);
    end(f);
    assert_value(get(f, 21, "a", 0), "4");
}

/* Setup: a written at 10 and 20, deleted at 30. Action: reads as of 5, 10,
 * 15, 25, 35. Expected: NOT_FOUND, 1, 1, 2, NOT_FOUND with the version
 * stamps of what was read. */
static void test_sm_reads_as_of_past_hlc(void **state)
{
    struct fix *f = *state;
    put(f, 10, "a", "1");
    put(f, 20, "a", "2");
    del(f, 30, "a");
    assert_int_equal(get(f, 40, "a", 5).status, VOID_SM_NOT_FOUND);
    assert_value(get(f, 41, "a", 10), "1");
    struct void_sm_result r = get(f, 42, "a", 15);
    assert_value(r, "1");
    assert_int_equal(r.version.wall_ns, 10);
    assert_value(get(f, 43, "a", 25), "2");
    assert_int_equal(get(f, 44, "a", 35).status, VOID_SM_NOT_FOUND);
}

/* Setup: a put at 200. Action: as-of read at 201 in a batch stamped 200.
 * Expected: FUTURE (a later write could still land before 201), and the
 * status round-trips through the result encoding. */
static void test_sm_refuses_as_of_after_the_batch_stamp(void **state)
{
    struct fix *f = *state;
    put(f, 199, "a", "1");
    struct void_sm_result r = get(f, 200, "a", 201);
    assert_int_equal(r.status, VOID_SM_FUTURE);
    uint8_t buf[VOID_SM_RESULT_MAX];
    struct void_sm_result back;
    int len = void_sm_result_encode(&r, buf, sizeof(buf));
    assert_true(len > 0);
    assert_int_equal(void_sm_result_decode(buf, (size_t)len, &back), 0);
    assert_int_equal(back.status, VOID_SM_FUTURE);
}

/* Setup: a batch at 1000. Action: a batch whose primary time is 500, and
 * the store's own record of the last stamp. Expected: the second stamp is
 * just after the first, and the store's last stamp and label follow. */
static void test_sm_stamps_never_decrease(void **state)
{
    struct fix *f = *state;
    struct void_hlc_ts a, b;
    assert_int_equal(void_sm_begin_batch(&f->sm, ts(1000), 7, &a), 0);
    end(f);
    assert_int_equal(void_sm_begin_batch(&f->sm, ts(500), 8, &b), 0);
    end(f);
    assert_true(void_hlc_compare(b, a) > 0);
    assert_int_equal(b.wall_ns, 1000);
    assert_int_equal(b.logical, 1);
    struct void_kvs_stats st;
    void_kvs_stats(&f->kvs, &st);
    assert_int_equal(void_hlc_compare(st.last, b), 0);
    assert_int_equal(st.applied, 8);
}

/* Setup: client 7 executes request 5 (a CAS that succeeds). Action: request
 * 5 again, then request 4. Expected: the cached OK without a second
 * execution (which would fail the CAS), then STALE; the client table names
 * request 5 with the first reply. */
static void test_sm_executes_each_request_at_most_once(void **state)
{
    struct fix *f = *state;
    struct void_sm_op cas = {.kind = VOID_SM_OP_CAS,
                             .key = (const uint8_t *)"a",
                             .key_len = 1,
                             .value = (const uint8_t *)"1",
                             .value_len = 1};
    struct void_sm_result r;
    begin(f, 10);
    exec_as(f, 7, 5, &cas, &r);
    assert_int_equal(r.status, VOID_SM_OK);
    end(f);
    begin(f, 11);
    exec_as(f, 7, 5, &cas, &r);
    assert_int_equal(r.status, VOID_SM_OK);
    assert_int_equal(r.version.wall_ns, 10);
    exec_as(f, 7, 4, &cas, &r);
    assert_int_equal(r.status, VOID_SM_STALE);
    end(f);
    uint64_t last;
    const uint8_t *res;
    size_t res_len;
    assert_int_equal(void_sm_client_last(&f->sm, 7, &last, &res, &res_len), 1);
    assert_int_equal(last, 5);
    assert_int_equal(void_sm_result_decode(res, res_len, &r), 0);
    assert_int_equal(r.status, VOID_SM_OK);
    assert_int_equal(void_sm_client_last(&f->sm, 8, &last, &res, &res_len), 0);
}

/* Setup: an empty machine with the default quota. Action: 10,000 distinct
 * keys put by 1,000 distinct clients (64-bit ids above 2^32), 100 puts per
 * batch. Expected: every put OK (the old table refused the 1,025th key and
 * the 129th client), every key reads back, and each client's last request
 * is in the client table. */
static void test_sm_takes_10000_keys_and_1000_clients(void **state)
{
    struct fix *f = *state;
    char key[32], val[32];
    struct void_sm_result r;
    for (int b = 0; b < 100; b++) {
        begin(f, 1000 + (uint64_t)b);
        for (int i = b * 100; i < b * 100 + 100; i++) {
            snprintf(key, sizeof(key), "key-%05d", i);
            snprintf(val, sizeof(val), "value-%d", i);
            struct void_sm_op op = put_op(key, val);
            exec_as(f, (1ull << 40) + (uint64_t)(i % 1000), 1 + (uint64_t)(i / 1000), &op, &r);
            assert_int_equal(r.status, VOID_SM_OK);
        }
        end(f);
    }
    struct void_kvs_stats st;
    void_kvs_stats(&f->kvs, &st);
    assert_int_equal(st.keys, 10000);
    assert_int_equal(st.clients, 1000);
    for (int i = 0; i < 10000; i += 37) {
        snprintf(key, sizeof(key), "key-%05d", i);
        snprintf(val, sizeof(val), "value-%d", i);
        void_sm_read(&f->sm, (const uint8_t *)key, strlen(key), NULL, &r);
        assert_value(r, val);
    }
    uint64_t last;
    const uint8_t *res;
    size_t res_len;
    for (uint64_t c = 0; c < 1000; c += 7) {
        assert_int_equal(void_sm_client_last(&f->sm, (1ull << 40) + c, &last, &res, &res_len), 1);
        assert_int_equal(last, 10);
    }
}

/* Setup: retention 100 ns. Action: a written at 1000, 1050 and 1100; then a
 * batch at 1300. Expected: before it, as-of 1000 still reads; after it the
 * horizon is 1200, so as-of 1000 answers TOO_OLD, as-of 1200 and the
 * current value still read the last version, and the store dropped the two
 * hidden versions. */
static void test_sm_keeps_history_for_the_retention_only(void **state)
{
    struct fix *f = *state;
    fix_close(f);
    if (f->lmdb) {
        remove_dir(f->dir);
    }
    struct void_sm_config cfg = {.retention_ns = 100};
    fix_open(f, 0, &cfg, 0);
    put(f, 1000, "a", "1");
    put(f, 1050, "a", "2");
    put(f, 1100, "a", "3");
    assert_value(get(f, 1101, "a", 1001), "1"); /* at the horizon, 1001 */
    struct void_kvs_stats st;
    void_kvs_stats(&f->kvs, &st);
    assert_int_equal(st.versions, 3);
    assert_int_equal(get(f, 1300, "a", 1000).status, VOID_SM_TOO_OLD);
    assert_value(get(f, 1301, "a", 1250), "3");
    assert_value(get(f, 1302, "a", 0), "3");
    void_kvs_stats(&f->kvs, &st);
    assert_int_equal(st.versions, 1);
    assert_int_equal(st.horizon.wall_ns, 1202);
}

/* Setup: client TTL 1000 ns; client 5 executes request 10 at 100, client 6
 * keeps going. Action: a batch at 2000 (client 5 silent 1900 ns), then
 * client 5 sends request 3. Expected: client 5 is forgotten, so request 3
 * executes (not STALE); client 6, seen within the TTL, is kept. */
static void test_sm_forgets_clients_silent_past_the_ttl(void **state)
{
    struct fix *f = *state;
    fix_close(f);
    if (f->lmdb) {
        remove_dir(f->dir);
    }
    struct void_sm_config cfg = {.client_ttl_ns = 1000};
    fix_open(f, 0, &cfg, 0);
    struct void_sm_op op = put_op("k", "v");
    struct void_sm_result r;
    begin(f, 100);
    exec_as(f, 5, 10, &op, &r);
    end(f);
    begin(f, 1050);
    exec_as(f, 6, 1, &op, &r);
    end(f);
    uint64_t last;
    const uint8_t *res;
    size_t len;
    assert_int_equal(void_sm_client_last(&f->sm, 5, &last, &res, &len), 1);
    begin(f, 2000);
    end(f);
    assert_int_equal(void_sm_client_last(&f->sm, 5, &last, &res, &len), 0);
    assert_int_equal(void_sm_client_last(&f->sm, 6, &last, &res, &len), 1);
    assert_int_equal(f->sm.clients_expired, 1);
    begin(f, 2001);
    exec_as(f, 5, 3, &op, &r);
    end(f);
    assert_int_equal(r.status, VOID_SM_OK);
}

/* Setup: a quota of 2,000 bytes (each version costs key + value + 64).
 * Action: 100-byte values until FULL, then delete one key and let the
 * retention compact past the delete. Expected: FULL with nothing written,
 * the store still answers reads, and after compaction a put fits again. */
static void test_sm_answers_full_at_the_quota_and_recovers(void **state)
{
    struct fix *f = *state;
    fix_close(f);
    if (f->lmdb) {
        remove_dir(f->dir);
    }
    struct void_sm_config cfg = {.retention_ns = 10};
    fix_open(f, 2000, &cfg, 0);
    char key[16], val[101];
    memset(val, 'v', 100);
    val[100] = '\0';
    int i = 0;
    struct void_sm_result r;
    for (;; i++) {
        snprintf(key, sizeof(key), "k%03d", i);
        r = put(f, 1000 + (uint64_t)i * 100, key, val);
        if (r.status != VOID_SM_OK) {
            break;
        }
    }
    assert_int_equal(r.status, VOID_SM_FULL);
    assert_true(i >= 8);
    assert_int_equal(get(f, 90000, key, 0).status, VOID_SM_NOT_FOUND);
    assert_int_equal(del(f, 90001, "k000").status, VOID_SM_OK);
    /* A batch 999 ns later compacts past the delete (a small reply, so
     * that the client entry does not grow). */
    assert_int_equal(del(f, 91000, "none").status, VOID_SM_NOT_FOUND);
    assert_int_equal(put(f, 92000, key, val).status, VOID_SM_OK);
    assert_value(get(f, 92001, key, 0), val);
}

/* Applies the same 300 operations (puts over 40 keys, deletes, gets, by 30
 * clients) to f, from batch number `from` to `to`. */
static void workload(struct fix *f, int from, int to)
{
    char key[16], val[16];
    struct void_sm_result r;
    for (int b = from; b < to; b++) {
        begin(f, 5000 + (uint64_t)b * 10);
        for (int i = 0; i < 10; i++) {
            int n = b * 10 + i;
            snprintf(key, sizeof(key), "k%02d", (n * 7) % 40);
            snprintf(val, sizeof(val), "v%d", n);
            struct void_sm_op op = put_op(key, val);
            if (n % 11 == 0) {
                op.kind = VOID_SM_OP_DELETE;
            } else if (n % 13 == 0) {
                op.kind = VOID_SM_OP_GET;
            }
            exec_as(f, 100 + (uint64_t)(n % 30), 1 + (uint64_t)n, &op, &r);
        }
        end(f);
    }
}

/* Setup: a mem store and an LMDB store, retention 500 ns. Action: the first
 * half of a workload on the first; its snapshot exported (after one more
 * batch); the second store, ahead with another history, imports it; the
 * second half on both. Expected: the export is the snapshot's state (its
 * digest); the import refuses, changing nothing, a wrong expected digest, a
 * wrong label, a truncation and a flipped byte; after the import both
 * stores have the same digest and label, and again after the second half
 * (retention and expiry act alike on an imported state). */
static void test_sm_export_and_import_give_the_same_state(void **state)
{
    (void)state;
    struct void_sm_config cfg = {.retention_ns = 500};
    struct fix *a = fix_new(0, 0, &cfg);
    struct fix *b = fix_new(1, 0, &cfg);
    workload(a, 0, 15);
    uint8_t da[32], db[32], other[32];
    digest_of(a, da);
    struct void_kvs_snap *snap = NULL;
    assert_int_equal(void_sm_snapshot_take(&a->sm, &snap), 0);
    workload(a, 15, 16); /* the snapshot stays at batch 15 */
    size_t cap = 1 << 20, len = 0;
    uint8_t *buf = malloc(cap);
    assert_non_null(buf);
    assert_int_equal(void_sm_snapshot_export(&a->sm, snap, buf, 100, &len), VOID_EFULL);
    assert_int_equal(void_sm_snapshot_export(&a->sm, snap, buf, cap, &len), 0);
    void_sm_snapshot_release(&a->sm, snap);
    workload(b, 0, 20); /* b is ahead, with another history: the import replaces it */
    digest_of(b, db);
    memcpy(other, da, 32);
    other[0] ^= 1;
    assert_int_equal(void_sm_import(&b->sm, buf, len, 15, other), VOID_EBAD_FIELD);
    assert_int_equal(void_sm_import(&b->sm, buf, len, 16, da), VOID_EBAD_FIELD);
    for (size_t cut = 0; cut < len; cut += len / 7 + 1) {
        assert_int_equal(void_sm_import(&b->sm, buf, cut, 15, da), VOID_EBAD_FIELD);
    }
    buf[len / 2] ^= 0x40;
    assert_int_equal(void_sm_import(&b->sm, buf, len, 15, da), VOID_EBAD_FIELD);
    buf[len / 2] ^= 0x40;
    digest_of(b, other);
    assert_memory_equal(other, db, 32); /* every refusal left b as it was */
    assert_int_equal(void_sm_failed(&b->sm), 0);
    assert_int_equal(void_sm_import(&b->sm, buf, len, 15, da), 0);
    digest_of(b, db);
    assert_memory_equal(da, db, 32);
    struct void_kvs_stats st;
    void_kvs_stats(&b->kvs, &st);
    assert_int_equal(st.applied, 15);
    b->seq = 15;
    workload(b, 15, 30);
    workload(a, 16, 30);
    digest_of(a, da);
    digest_of(b, db);
    assert_memory_equal(da, db, 32);
    free(buf);
    fix_free(a);
    fix_free(b);
}

/* Setup: an LMDB store with 20 batches. Action: close it without a sync and
 * reopen. Expected: the values, the label and the last stamp are back, and
 * the next batch stamps after the last one even with an older primary
 * time. */
static void test_sm_goes_on_from_a_reopened_store(void **state)
{
    (void)state;
    struct fix *f = fix_new(1, 0, NULL);
    for (int i = 0; i < 20; i++) {
        char v[8];
        snprintf(v, sizeof(v), "%d", i);
        put(f, 100 + (uint64_t)i, "k", v);
    }
    uint8_t before[32], after[32];
    digest_of(f, before);
    fix_close(f);
    fix_open(f, 0, NULL, 1);
    digest_of(f, after);
    assert_memory_equal(before, after, 32);
    struct void_kvs_stats st;
    void_kvs_stats(&f->kvs, &st);
    assert_int_equal(st.applied, 20);
    struct void_sm_result r;
    void_sm_read(&f->sm, (const uint8_t *)"k", 1, NULL, &r);
    assert_value(r, "19");
    struct void_hlc_ts stamp;
    assert_int_equal(void_sm_begin_batch(&f->sm, ts(5), 21, &stamp), 0);
    end(f);
    assert_int_equal(stamp.wall_ns, 119);
    assert_int_equal(stamp.logical, 1);
    fix_free(f);
}

/* Setup: an LMDB store whose 2nd write of a batch fails (fault injection).
 * Action: a batch of two puts, then more calls. Expected: the execution
 * that meets the failure returns VOID_EIO, which sticks: the end of the
 * batch, the next batch and client lookups answer it too, and after a
 * reopen the store is as before the batch. */
static void test_sm_stops_at_a_local_store_failure(void **state)
{
    (void)state;
    struct fix *f = fix_new(1, 0, NULL);
    put(f, 10, "a", "1");
    uint8_t before[32];
    digest_of(f, before);
    fix_close(f);
    struct void_kvs_lmdb_config lc = {.fault_after = 2};
    assert_int_equal(void_kvs_lmdb_open(&f->kvs, f->dir, &lc), 0);
    assert_int_equal(void_sm_init(&f->sm, NULL, &f->kvs), 0);
    uint8_t enc[VOID_SM_OP_MAX], out[VOID_SM_RESULT_MAX];
    struct void_sm_op op = put_op("b", "2");
    int n = void_sm_op_encode(&op, enc, sizeof(enc));
    assert_true(n > 0);
    size_t len;
    int rc = 0;
    assert_int_equal(void_sm_begin_batch(&f->sm, ts(20), 2, NULL), 0);
    for (uint64_t q = 1; q <= 4 && rc == 0; q++) {
        rc = void_sm_execute(&f->sm, 9, q, enc, (size_t)n, out, sizeof(out), &len);
    }
    assert_int_equal(rc, VOID_EIO);
    assert_int_equal(void_sm_failed(&f->sm), VOID_EIO);
    assert_int_equal(void_sm_end_batch(&f->sm), VOID_EIO);
    assert_int_equal(void_sm_begin_batch(&f->sm, ts(30), 3, NULL), VOID_EIO);
    uint64_t last;
    const uint8_t *res;
    assert_int_equal(void_sm_client_last(&f->sm, 9, &last, &res, &len), 0);
    fix_close(f);
    fix_open(f, 0, NULL, 1);
    uint8_t after[32];
    digest_of(f, after);
    assert_memory_equal(before, after, 32);
    fix_free(f);
}

/* Setup: malformed operation bytes. Action: decode, and execute. Expected:
 * distinct decode codes; execution answers BAD_OP (recorded, not a crash). */
static void test_sm_rejects_malformed_operations(void **state)
{
    struct fix *f = *state;
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
    begin(f, 1);
    assert_int_equal(
        void_sm_execute(&f->sm, 3, 1, unknown, sizeof(unknown), out, sizeof(out), &len), 0);
    end(f);
    assert_int_equal(void_sm_result_decode(out, len, &r), 0);
    assert_int_equal(r.status, VOID_SM_BAD_OP);
}

/* ---- state transfer in bounded memory ---------------------------------------- */

/* Puts keys [from, to) with values of vlen bytes, 100 to a batch. */
static void put_range(struct fix *f, int from, int to, size_t vlen)
{
    static char v[2048];
    assert_true(vlen < sizeof(v));
    for (int i = from; i < to; i += 100) {
        begin(f, 1000 + (uint64_t)f->seq);
        for (int k = i; k < to && k < i + 100; k++) {
            char key[32];
            snprintf(key, sizeof(key), "key-%06d", k);
            memset(v, 'a' + k % 26, vlen);
            v[vlen] = '\0';
            struct void_sm_op op = put_op(key, v);
            struct void_sm_result r;
            exec_as(f, 1000, next_reqno++, &op, &r);
            assert_int_equal(r.status, VOID_SM_OK);
        }
        end(f);
    }
}

/* Transfers src's committed state to dst as PBFT does (manifest, then
 * partitions in messages of at most msg_cap bytes, then the install).
 * Returns the install's code; the state's digest goes to want. */
static int transfer(struct fix *src, struct fix *dst, size_t msg_cap, uint8_t want[32])
{
    struct void_kvs_snap *snap;
    assert_int_equal(void_sm_snapshot_take(&src->sm, &snap), 0);
    void_sm_snapshot_digest(&src->sm, snap, want);
    struct void_kvs_stats st;
    void_kvs_stats(&src->kvs, &st);
    uint8_t *buf = malloc(msg_cap > VOID_KVS_MANIFEST_MAX ? msg_cap : VOID_KVS_MANIFEST_MAX);
    assert_non_null(buf);
    size_t len = 0;
    assert_int_equal(void_sm_snapshot_manifest(&src->sm, snap, buf, VOID_KVS_MANIFEST_MAX, &len),
                     0);
    assert_int_equal(void_sm_xfer_begin(&dst->sm, buf, len, st.applied, want, NULL, 0), 0);
    uint16_t wanted[1024];
    size_t n;
    while ((n = void_sm_xfer_want(&dst->sm, wanted, 1024)) > 0) {
        n = n < 1024 ? n : 1024;
        assert_int_equal(void_sm_snapshot_parts(&src->sm, snap, wanted, n, buf, msg_cap, &len), 0);
        size_t taken = 0;
        assert_int_equal(void_sm_xfer_parts(&dst->sm, buf, len, &taken), 0);
        assert_true(taken > 0);
    }
    free(buf);
    void_sm_snapshot_release(&src->sm, snap);
    return void_sm_xfer_install(&dst->sm);
}

/* Setup: a source with about 2.2 MB of state (2,000 keys of 1,000-byte
 * values) and a destination with 40 keys of its own, whose state transfer
 * may hold 128 KiB in memory. Action: a whole transfer, partitions in
 * messages of 256 KiB, then one more batch on both. Expected: the
 * destination ends at the source's digest; at most 128 KiB of fetched
 * partitions were ever in memory (before the bound, all of them: about
 * 2.2 MB); the rest went to the store's stage; the install committed in
 * parts of at most 128 KiB of partitions each; the store is whole
 * (partial = 0) and its stage empty afterwards; and the two go on alike. */
static void test_sm_transfer_holds_at_most_its_buffer_bound(void **state)
{
    struct fix *dst = *state;
    void_sm_fini(&dst->sm);
    struct void_sm_config cfg = {.xfer_buffer_max = 128u << 10};
    assert_int_equal(void_sm_init(&dst->sm, &cfg, &dst->kvs), 0);
    put_range(dst, 0, 40, 10);
    struct fix *src = fix_new(0, 0, NULL);
    put_range(src, 0, 2000, 1000);
    uint8_t want[32], got[32];
    assert_int_equal(transfer(src, dst, 256u << 10, want), 0);
    digest_of(dst, got);
    assert_memory_equal(want, got, 32);
    struct void_sm_xfer_stats xs;
    void_sm_xfer_stats(&dst->sm, &xs);
    assert_true(xs.buffered_peak > 0);
    assert_true(xs.buffered_peak <= cfg.xfer_buffer_max);
    assert_true(xs.staged_bytes > 2000u * 1000u - cfg.xfer_buffer_max);
    assert_true(xs.stage_puts >= 10);
    assert_true(xs.load_commits >= 12);
    assert_true(xs.group_peak <= cfg.xfer_buffer_max);
    struct void_kvs_stats st;
    void_kvs_stats(&dst->kvs, &st);
    assert_int_equal(st.partial, 0);
    assert_int_equal(st.keys, 2000);
    size_t len = 0;
    uint8_t one;
    for (uint32_t b = 0; b < VOID_KVS_BUCKETS; b++) {
        assert_int_equal(void_kvs_stage_get(&dst->kvs, b, &one, 0, &len), VOID_ENOTFOUND);
    }
    uint64_t reqno = next_reqno;
    put_range(src, 2000, 2010, 10);
    dst->seq = src->seq - 1;
    next_reqno = reqno; /* the same requests: the client table is in the digest */
    put_range(dst, 2000, 2010, 10);
    uint8_t a[32], b[32];
    digest_of(src, a);
    digest_of(dst, b);
    assert_memory_equal(a, b, 32);
    fix_free(src);
}

/* Setup: an LMDB store holding a state, and a transfer's install cut
 * short: one part committed (void_kvs_load_commit), then the process dies
 * (the store is closed with the load open). Action: reopen; then empty it
 * as recovery does (void_sm_reset). Expected: the reopened store says
 * partial = 1 (its label and digest are those of no certified state), and
 * the HTTP thread's read-only view refuses it (VOID_EBUSY); the stage is
 * empty after the reopen; the reset store is whole and empty. */
static void test_sm_transfer_cut_short_reopens_partial(void **state)
{
    (void)state;
    struct fix *f = fix_new(1, 0, NULL);
    put_range(f, 0, 300, 100);
    struct void_kvs_stats st;
    void_kvs_stats(&f->kvs, &st);
    uint16_t bucket = 7;
    const uint8_t bytes[3] = {1, 2, 3};
    const uint8_t *bufs[1] = {bytes};
    uint32_t lens[1] = {3};
    assert_int_equal(void_kvs_stage_put(&f->kvs, 1, &bucket, bufs, lens), 0);
    assert_int_equal(void_kvs_load_begin(&f->kvs, 0, st.horizon, st.last, st.applied + 16), 0);
    for (uint32_t b = 0; b < 64; b++) {
        assert_int_equal(void_kvs_load_clear(&f->kvs, b), 0);
    }
    assert_int_equal(void_kvs_load_commit(&f->kvs), 0);
    struct void_kvs_stats mid;
    void_kvs_stats(&f->kvs, &mid);
    assert_int_equal(mid.partial, 1);
    assert_int_equal(void_kvs_load_clear(&f->kvs, 64), 0);
    fix_close(f); /* the crash: the second part is lost */
    fix_open(f, 0, NULL, 1);
    void_kvs_stats(&f->kvs, &mid);
    assert_int_equal(mid.partial, 1);
    assert_int_equal(mid.applied, st.applied + 16);
    assert_true(mid.keys < st.keys);
    uint8_t got[3];
    size_t len = 0;
    assert_int_equal(void_kvs_stage_get(&f->kvs, 7, got, sizeof(got), &len), VOID_ENOTFOUND);
    struct void_kvs_view *view = NULL;
    assert_int_equal(void_kvs_lmdb_view_open(&f->kvs, &view), VOID_EBUSY); /* nothing served */
    assert_null(view);
    assert_int_equal(void_sm_reset(&f->sm), 0);
    assert_int_equal(void_kvs_lmdb_view_open(&f->kvs, &view), 0);
    void_kvs_view_close(view);
    void_kvs_stats(&f->kvs, &mid);
    assert_int_equal(mid.partial, 0);
    assert_int_equal(mid.keys, 0);
    fix_close(f);
    fix_open(f, 0, NULL, 1);
    void_kvs_stats(&f->kvs, &mid);
    assert_int_equal(mid.partial, 0);
    fix_free(f);
}

/* Setup: an LMDB destination whose store fails at its n-th write, for n
 * from 1 up, during a transfer of about 330 KB with a 32 KiB bound (so
 * staging and the install each take several transactions). Action: the
 * transfer; then reopen without the fault and transfer again. Expected:
 * each failure sticks (the store answers it to later calls, and the state
 * machine stops); the reopened store is either whole (never partial when
 * its label is the transfer's and it is not the certified state) or
 * partial, and the second transfer always ends at the certified digest.
 * At least one run must stop inside the install after a part was
 * committed (partial on reopen). */
static void test_sm_transfer_survives_a_store_failure_at_every_write(void **state)
{
    (void)state;
    struct fix *src = fix_new(0, 0, NULL);
    put_range(src, 0, 300, 1000);
    struct void_sm_config cfg = {.xfer_buffer_max = 32u << 10};
    int partial_seen = 0, whole_seen = 0;
    for (uint64_t n = 1; n < 100000; n += 1 + n / 4) {
        struct fix *dst = fix_new(1, 0, &cfg);
        put_range(dst, 0, 30, 10);
        fix_close(dst);
        struct void_kvs_lmdb_config lc = {.fault_after = n};
        assert_int_equal(void_kvs_lmdb_open(&dst->kvs, dst->dir, &lc), 0);
        assert_int_equal(void_sm_init(&dst->sm, &cfg, &dst->kvs), 0);
        uint8_t want[32], got[32];
        int rc;
        struct void_kvs_snap *snap;
        /* transfer() asserts every step succeeds; a failing store fails
         * one of them, so the steps are run by hand here. */
        {
            assert_int_equal(void_sm_snapshot_take(&src->sm, &snap), 0);
            void_sm_snapshot_digest(&src->sm, snap, want);
            struct void_kvs_stats sst;
            void_kvs_stats(&src->kvs, &sst);
            static uint8_t buf[VOID_KVS_MANIFEST_MAX + (64u << 10)];
            size_t len = 0;
            assert_int_equal(
                void_sm_snapshot_manifest(&src->sm, snap, buf, VOID_KVS_MANIFEST_MAX, &len), 0);
            assert_int_equal(void_sm_xfer_begin(&dst->sm, buf, len, sst.applied, want, NULL, 0), 0);
            uint16_t wanted[1024];
            size_t k;
            rc = 0;
            while (rc == 0 && (k = void_sm_xfer_want(&dst->sm, wanted, 1024)) > 0) {
                k = k < 1024 ? k : 1024;
                assert_int_equal(
                    void_sm_snapshot_parts(&src->sm, snap, wanted, k, buf, 48u << 10, &len), 0);
                rc = void_sm_xfer_parts(&dst->sm, buf, len, NULL);
            }
            if (rc == 0) {
                rc = void_sm_xfer_install(&dst->sm);
            }
            void_sm_snapshot_release(&src->sm, snap);
        }
        fix_close(dst);
        if (rc == 0) {
            remove_dir(dst->dir);
            free(dst);
            break; /* n is past every write of the transfer */
        }
        assert_int_equal(rc, VOID_EIO);
        fix_open(dst, 0, &cfg, 1);
        struct void_kvs_stats st;
        void_kvs_stats(&dst->kvs, &st);
        if (st.partial) {
            partial_seen++;
            assert_int_equal(void_sm_reset(&dst->sm), 0);
        } else {
            /* The state from before the transfer, or the certified one
             * (the failure came after the install, emptying the stage). */
            whole_seen++;
            digest_of(dst, got);
            assert_true(st.applied == 1 || memcmp(got, want, 32) == 0);
        }
        assert_int_equal(transfer(src, dst, 48u << 10, want), 0);
        digest_of(dst, got);
        assert_memory_equal(want, got, 32);
        fix_free(dst);
    }
    assert_true(partial_seen > 0);
    assert_true(whole_seen > 0);
    fix_free(src);
}

#define BOTH(test)                                                                                 \
    cmocka_unit_test_prestate_setup_teardown(test, setup_mem, teardown, NULL),                     \
        cmocka_unit_test_prestate_setup_teardown(test, setup_lmdb, teardown, NULL)

int main(void)
{
    const struct CMUnitTest tests[] = {
        BOTH(test_sm_put_get_delete),
        BOTH(test_sm_compare_and_set),
        BOTH(test_sm_reads_as_of_past_hlc),
        BOTH(test_sm_refuses_as_of_after_the_batch_stamp),
        BOTH(test_sm_stamps_never_decrease),
        BOTH(test_sm_executes_each_request_at_most_once),
        BOTH(test_sm_takes_10000_keys_and_1000_clients),
        BOTH(test_sm_keeps_history_for_the_retention_only),
        BOTH(test_sm_forgets_clients_silent_past_the_ttl),
        BOTH(test_sm_answers_full_at_the_quota_and_recovers),
        BOTH(test_sm_rejects_malformed_operations),
        BOTH(test_sm_transfer_holds_at_most_its_buffer_bound),
        cmocka_unit_test(test_sm_export_and_import_give_the_same_state),
        cmocka_unit_test(test_sm_goes_on_from_a_reopened_store),
        cmocka_unit_test(test_sm_stops_at_a_local_store_failure),
        cmocka_unit_test(test_sm_transfer_cut_short_reopens_partial),
        cmocka_unit_test(test_sm_transfer_survives_a_store_failure_at_every_write),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
