/*
 * Tasks in the replicated state machine (include/void/task.h): placement at
 * execution, identical on every replica and deterministic in the state;
 * refusals with their reasons; a report taken once; cancel; waiting for
 * capacity; a missed deadline rescheduling away from the lost node; and the
 * state carried by a checkpoint's export.
 *
 * The cluster: 6 members, datacenters dc1 (racks r1: members 1, 2; r2: 3)
 * and dc2 (r1: 4, 5; r2: 6), each on its own host.
 */

/* cmocka.h needs these first, in this order. */
/* clang-format off */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
/* clang-format on */

#include "void/bytes.h"
#include "void/error.h"
#include "void/kvs.h"
#include "void/membership.h"
#include "void/sched.h"
#include "void/sign.h"
#include "void/sm.h"
#include "void/task.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MEMBERS 6
#define SEC     1000000000ull

static struct void_membership_config genesis;
static struct void_sign_keypair keys[MEMBERS + 1]; /* by member id */

static void make_genesis(void)
{
    static const char *where[MEMBERS][3] = {{"dc1", "r1", "h1"},
                                            {"dc1", "r1", "h2"},
                                            {"dc1", "r2", "h3"},
                                            {"dc2", "r1", "h4"},
                                            {"dc2", "r1", "h5"},
                                            {"dc2", "r2", "h6"}};
    struct void_member m[MEMBERS];
    memset(m, 0, sizeof(m));
    assert_int_equal(void_sign_global_init(), 0);
    for (uint32_t i = 0; i < MEMBERS; i++) {
        uint8_t seed[VOID_SIGN_SEED_SIZE] = {(uint8_t)(i + 1)};
        assert_int_equal(void_sign_keypair_from_seed(&keys[i + 1], seed), 0);
        m[i].id = i + 1;
        m[i].role = VOID_MEMBER_VOTER;
        memcpy(m[i].public_key, keys[i + 1].public_key, VOID_SIGN_PUBLIC_KEY_SIZE);
        snprintf(m[i].address, sizeof(m[i].address), "127.0.0.1:%u", 7000 + i);
        snprintf(m[i].datacenter, sizeof(m[i].datacenter), "%s", where[i][0]);
        snprintf(m[i].rack, sizeof(m[i].rack), "%s", where[i][1]);
        snprintf(m[i].host, sizeof(m[i].host), "%s", where[i][2]);
    }
    assert_int_equal(void_membership_config_init(&genesis, m, MEMBERS, 4), 0);
}

/* A replica's state machine on the in-memory store. */
struct rep {
    struct void_kvs kvs;
    struct void_sm sm;
    struct void_sm_task_setup ts;
    uint64_t wall; /* stamp of the next batch, in seconds */
};

static struct rep *rep_new(uint32_t cpu)
{
    struct rep *r = calloc(1, sizeof(*r));
    assert_non_null(r);
    struct void_kvs_mem_config mc = {0};
    assert_int_equal(void_kvs_mem_init(&r->kvs, &mc), 0);
    assert_int_equal(void_sm_init(&r->sm, NULL, &r->kvs), 0);
    struct void_sm_member_setup ms = {.genesis = &genesis, .checkpoint_interval = 8, .window = 16};
    assert_int_equal(void_sm_member_setup(&r->sm, &ms), 0);
    r->ts.cpu = cpu;
    void_sm_task_setup(&r->sm, &r->ts);
    r->wall = 100;
    return r;
}

static void rep_free(struct rep *r)
{
    void_sm_fini(&r->sm);
    void_kvs_close(&r->kvs);
    free(r);
}

static uint8_t result_buf[VOID_SM_RESULT_MAX];
static uint64_t reqno = 1;

/* Executes op as client in a batch of its own, labelled seq; decodes the
 * result into *res (pointing into result_buf). */
static void exec_at(struct rep *r,
                    uint64_t seq,
                    uint64_t client,
                    const uint8_t *op,
                    size_t len,
                    struct void_sm_result *res)
{
    struct void_hlc_ts hlc = {r->wall * SEC, 0};
    r->wall++;
    assert_int_equal(void_sm_begin_batch(&r->sm, hlc, seq, NULL), 0);
    size_t n = 0;
    assert_int_equal(
        void_sm_execute(&r->sm, client, reqno++, op, len, result_buf, sizeof(result_buf), &n), 0);
    assert_int_equal(void_sm_end_batch(&r->sm), 0);
    assert_int_equal(void_sm_result_decode(result_buf, n, res), 0);
}

static uint64_t next_seq = 1;

static void
exec(struct rep *r, uint64_t client, const uint8_t *op, size_t len, struct void_sm_result *res)
{
    exec_at(r, next_seq++, client, op, len, res);
}

static void exec_task_op(struct rep *r,
                         uint64_t client,
                         const struct void_task_op *op,
                         struct void_sm_result *res)
{
    static uint8_t buf[VOID_TASK_OP_MAX];
    int n = void_task_op_encode(op, buf, sizeof(buf));
    assert_true(n > 0);
    exec(r, client, buf, (size_t)n, res);
}

static struct void_task_str str(const char *s)
{
    return (struct void_task_str){(const uint8_t *)s, (uint16_t)strlen(s)};
}

/* Stores "file:NAME" and its hold record: bytes held by the given members. */
static void hold(struct rep *r,
                 const char *name,
                 uint8_t fill,
                 uint64_t bytes,
                 const uint32_t *holders,
                 uint32_t n)
{
    struct void_hash root;
    memset(root.b, fill, sizeof(root.b));
    char hex[VOID_HASH_HEX_SIZE];
    void_hash_to_hex(&root, hex);
    char key[300];
    snprintf(key, sizeof(key), "file:%s", name);
    struct void_sm_op put = {.kind = VOID_SM_OP_PUT,
                             .key = (const uint8_t *)key,
                             .key_len = (uint16_t)strlen(key),
                             .value = (const uint8_t *)hex,
                             .value_len = VOID_HASH_HEX_SIZE - 1};
    uint8_t buf[512];
    int len = void_sm_op_encode(&put, buf, sizeof(buf));
    assert_true(len > 0);
    struct void_sm_result res;
    exec(r, 1000, buf, (size_t)len, &res);
    assert_int_equal(res.status, VOID_SM_OK);
    struct void_task_op op = {.op = VOID_TASK_HOLD};
    op.hold.name = str(name);
    memcpy(op.hold.root, root.b, VOID_HASH_SIZE);
    op.hold.bytes = bytes;
    op.hold.holder_count = n;
    memcpy(op.hold.holders, holders, n * sizeof(*holders));
    exec_task_op(r, 1000, &op, &res);
    assert_int_equal(res.status, VOID_SM_OK);
}

struct answer {
    uint64_t id;
    uint8_t state;
    uint32_t node, attempt;
};

static struct answer answer_of(const struct void_sm_result *res)
{
    assert_int_equal(res->status, VOID_SM_OK);
    assert_int_equal(res->value_len, 17);
    return (struct answer){void_bytes_get_be64(res->value),
                           res->value[8],
                           void_bytes_get_be32(res->value + 9),
                           void_bytes_get_be32(res->value + 13)};
}

static struct void_task_op submit_op(const char *const *inputs, uint32_t n, uint32_t cpu)
{
    struct void_task_op op = {.op = VOID_TASK_SUBMIT};
    op.submit.cpu = cpu;
    op.submit.mem = 1u << 20;
    op.submit.timeout_s = 5;
    op.submit.input_count = n;
    for (uint32_t i = 0; i < n; i++) {
        op.submit.inputs[i] = str(inputs[i]);
    }
    op.submit.exe = str("/bin/cat");
    op.submit.arg_count = 1;
    op.submit.args[0] = str(n > 0 ? inputs[0] : "-");
    return op;
}

static struct answer submit(struct rep *r, uint64_t client, const char *const *inputs, uint32_t n)
{
    struct void_task_op op = submit_op(inputs, n, 1);
    struct void_sm_result res;
    exec_task_op(r, client, &op, &res);
    return answer_of(&res);
}

/* Reads task id's record (copied into out_buf) and decodes it. */
static void read_task(struct rep *r, uint64_t id, struct void_task *t, uint8_t *out_buf)
{
    uint8_t key[VOID_TASK_KEY_LEN];
    void_task_key(id, key);
    struct void_sm_result res;
    void_sm_read(&r->sm, key, sizeof(key), NULL, &res);
    assert_int_equal(res.status, VOID_SM_OK);
    memcpy(out_buf, res.value, res.value_len);
    assert_int_equal(void_task_decode(out_buf, res.value_len, t), 0);
}

static void assert_refused(const struct void_sm_result *res, const char *starts)
{
    assert_int_equal(res->status, VOID_SM_REFUSED);
    char text[600];
    snprintf(text, sizeof(text), "%.*s", (int)res->value_len, (const char *)res->value);
    if (strncmp(text, starts, strlen(starts)) != 0) {
        fail_msg("refusal '%s' does not start with '%s'", text, starts);
    }
}

static void report(struct rep *r,
                   uint64_t id,
                   uint32_t attempt,
                   uint32_t node,
                   uint32_t signer,
                   int32_t code,
                   struct void_sm_result *res)
{
    struct void_task_op op = {.op = VOID_TASK_REPORT};
    op.report.id = id;
    op.report.attempt = attempt;
    op.report.node = node;
    op.report.outcome = VOID_TASK_EXITED;
    op.report.code = code;
    op.report.reason = str(code == 0 ? "" : "exit status");
    memset(op.report.out_root, 0xab, VOID_HASH_SIZE);
    op.report.out_bytes = 42;
    assert_int_equal(void_task_report_sign(&op.report, &keys[signer]), 0);
    exec_task_op(r, 2000 + node, &op, res);
}

/* ---- tests ---------------------------------------------------------------- */

/* Inputs held in one rack put the task there; every replica, executing the
 * same operations at the same sequence numbers, writes the same records and
 * reaches the same digest; a single task's placement does not depend on the
 * sequence number (its optimum is unique here). */
static void test_sm_task_placement_identical_across_replicas(void **state)
{
    (void)state;
    struct rep *reps[3];
    uint8_t digest[3][VOID_SM_DIGEST_SIZE];
    uint32_t nodes[3][8] = {{0}}; /* only 5 used: the rest compared too */
    for (int k = 0; k < 3; k++) {
        reps[k] = rep_new(2);
        /* Replica 2 runs the same operations at other sequence numbers. */
        next_seq = k == 2 ? 1001 : 1;
        reqno = 1;
        static const uint32_t on4[] = {4}, on1_3[] = {1, 3}, on5_6[] = {5, 6};
        hold(reps[k], "big", 1, 512ull << 20, on4, 1);
        hold(reps[k], "mid", 2, 64ull << 20, on1_3, 2);
        hold(reps[k], "small", 3, 1ull << 20, on5_6, 2);
        static const char *const in_big[] = {"big"}, *const in_mid[] = {"mid", "small"},
                                 *const in_small[] = {"small"};
        nodes[k][0] = submit(reps[k], 7, in_big, 1).node;
        nodes[k][1] = submit(reps[k], 7, in_mid, 2).node;
        nodes[k][2] = submit(reps[k], 7, in_small, 1).node;
        nodes[k][3] = submit(reps[k], 7, in_big, 1).node; /* member 4 is full (2 cpu) after it */
        nodes[k][4] = submit(reps[k], 7, in_big, 1).node;
        void_sm_digest(&reps[k]->sm, digest[k]);
    }
    assert_int_equal(nodes[0][0], 4);
    assert_true(nodes[0][1] == 1 || nodes[0][1] == 3); /* 64 MiB local beats 1 MiB */
    assert_true(nodes[0][2] == 5 || nodes[0][2] == 6);
    assert_int_equal(nodes[0][3], 4);
    assert_int_equal(nodes[0][4], 5); /* member 4 full: the same rack, one hop */
    assert_memory_equal(nodes[0], nodes[1], sizeof(nodes[0]));
    assert_memory_equal(digest[0], digest[1], VOID_SM_DIGEST_SIZE);
    for (int i = 0; i < 5; i++) {
        assert_int_equal(nodes[0][i], nodes[2][i]);
    }
    struct void_task t;
    static uint8_t buf[VOID_TASK_RECORD_MAX];
    read_task(reps[0], 5, &t, buf);
    assert_int_equal(t.state, VOID_TASK_RUNNING);
    assert_int_equal(t.attempt, 1);
    assert_int_equal(t.bytes_in, 512ull << 20);
    assert_int_equal(t.bytes_moved, 512ull << 20); /* read across the rack */
    assert_int_equal(t.cost, 512);                 /* 512 MiB x distance 1 */
    assert_int_equal(t.input_count, 1);
    assert_int_equal(t.inputs[0].holder_count, 1);
    assert_int_equal(t.inputs[0].holders[0], 4);
    assert_int_equal(t.exe.len, 8);
    assert_memory_equal(t.exe.p, "/bin/cat", 8);
    for (int k = 0; k < 3; k++) {
        rep_free(reps[k]);
    }
}

static void test_sm_task_refuses_bad_submissions(void **state)
{
    (void)state;
    struct rep *r = rep_new(4);
    static const uint32_t on2[] = {2};
    hold(r, "data", 9, 1000, on2, 1);
    struct void_sm_result res;
    static const char *const unknown[] = {"data", "nosuch"};
    struct void_task_op op = submit_op(unknown, 2, 1);
    exec_task_op(r, 7, &op, &res);
    assert_refused(&res, "VOID_ENOTFOUND: no input named 'nosuch'");

    static const char *const ok[] = {"data"};
    op = submit_op(ok, 1, 5);
    exec_task_op(r, 7, &op, &res);
    assert_refused(&res, "VOID_ERANGE: limits above any member's capacity: cpu 5 of 4");
    op = submit_op(ok, 1, 1);
    op.submit.mem = 9ull << 30;
    exec_task_op(r, 7, &op, &res);
    assert_refused(&res, "VOID_ERANGE: limits above any member's capacity");
    op = submit_op(ok, 1, 0);
    exec_task_op(r, 7, &op, &res);
    assert_refused(&res, "VOID_EINVAL: a task wants cpu >= 1");
    op = submit_op(ok, 1, 1);
    op.submit.timeout_s = VOID_TASK_TIMEOUT_MAX + 1;
    exec_task_op(r, 7, &op, &res);
    assert_refused(&res, "VOID_EINVAL");
    static const char *const twice[] = {"data", "data"};
    op = submit_op(twice, 2, 1);
    exec_task_op(r, 7, &op, &res);
    assert_refused(&res, "VOID_EBAD_FIELD: input 'data' named twice");
    static const char *const slash[] = {"../etc"};
    op = submit_op(slash, 1, 1);
    exec_task_op(r, 7, &op, &res);
    assert_refused(&res, "VOID_EBAD_FIELD: input name '../etc' cannot be a file name");

    /* Malformed bytes: truncated, trailing, an unknown sub-kind. */
    uint8_t buf[VOID_TASK_OP_MAX];
    op = submit_op(ok, 1, 1);
    int n = void_task_op_encode(&op, buf, sizeof(buf));
    assert_true(n > 4);
    exec(r, 7, buf, (size_t)n - 3, &res);
    assert_refused(&res, "VOID_ETRUNCATED: the task operation does not decode");
    buf[n] = 0;
    exec(r, 7, buf, (size_t)n + 1, &res);
    assert_refused(&res, "VOID_EBAD_LENGTH");
    buf[1] = 99;
    exec(r, 7, buf, (size_t)n, &res);
    assert_refused(&res, "VOID_EBAD_TYPE");

    /* A hold for a root that "file:NAME" does not hold, reserved keys. */
    struct void_task_op h = {.op = VOID_TASK_HOLD};
    h.hold.name = str("data");
    memset(h.hold.root, 8, VOID_HASH_SIZE);
    h.hold.holder_count = 1;
    h.hold.holders[0] = 1;
    exec_task_op(r, 7, &h, &res);
    assert_refused(&res, "VOID_ENOTFOUND: no file named 'data' with root");
    uint8_t key[VOID_TASK_KEY_LEN];
    void_task_key(1, key);
    struct void_sm_op put = {.kind = VOID_SM_OP_PUT, .key = key, .key_len = sizeof(key)};
    n = void_sm_op_encode(&put, buf, sizeof(buf));
    exec(r, 7, buf, (size_t)n, &res);
    assert_int_equal(res.status, VOID_SM_BAD_OP);

    /* [tasks] submitters: client 9 (any session) is not listed. */
    static const uint32_t submitters[] = {7, 8};
    r->ts.submitters = submitters;
    r->ts.submitter_count = 2;
    op = submit_op(ok, 1, 1);
    exec_task_op(r, 9ull << 32 | 3, &op, &res);
    assert_refused(&res, "VOID_EPERM: client 9 may not submit tasks");

    /* None of it made a task: the first good one is task 1. */
    assert_int_equal(submit(r, 7ull << 32 | 2, ok, 1).id, 1);
    rep_free(r);
}

static void test_sm_task_report_taken_once(void **state)
{
    (void)state;
    struct rep *r = rep_new(4);
    static const uint32_t on3[] = {3};
    hold(r, "in", 4, 10ull << 20, on3, 1);
    static const char *const in[] = {"in"};
    struct answer a = submit(r, 7, in, 1);
    assert_int_equal(a.node, 3);
    assert_int_equal(a.state, VOID_TASK_RUNNING);
    struct void_sm_result res;
    report(r, a.id, 1, 2, 2, 0, &res); /* member 2 is not running it */
    assert_refused(&res, "VOID_EPERM: task 1 runs on member 3, not 2");
    report(r, a.id, 1, 3, 2, 0, &res); /* signed by another member's key */
    assert_refused(&res, "VOID_EBAD_SIG");
    report(r, a.id, 2, 3, 3, 0, &res); /* an attempt that was never started */
    assert_refused(&res, "VOID_EBAD_FIELD: report for attempt 2 of task 1");
    report(r, 99, 1, 3, 3, 0, &res);
    assert_refused(&res, "VOID_ENOTFOUND: no task 99");
    report(r, a.id, 1, 3, 3, 0, &res);
    struct answer done = answer_of(&res);
    assert_int_equal(done.state, VOID_TASK_DONE);
    report(r, a.id, 1, 3, 3, 1, &res); /* again, with another result */
    assert_refused(&res, "VOID_EEXIST: task 1 already ended (done)");
    struct void_task t;
    static uint8_t buf[VOID_TASK_RECORD_MAX];
    read_task(r, a.id, &t, buf);
    assert_int_equal(t.state, VOID_TASK_DONE);
    assert_int_equal(t.outcome, VOID_TASK_EXITED);
    assert_int_equal(t.code, 0);
    assert_int_equal(t.out_bytes, 42);
    assert_int_equal(t.out_root[0], 0xab);
    /* The output is the file task-1, held by the member that made it: a
     * later task reading it goes there. */
    struct void_sm_result file;
    void_sm_read(&r->sm, (const uint8_t *)"file:task-1", 11, NULL, &file);
    assert_int_equal(file.status, VOID_SM_OK);
    assert_int_equal(file.value_len, 64);
    assert_memory_equal(file.value, "abababab", 8);
    static const char *const chained[] = {"task-1"};
    struct answer next = submit(r, 7, chained, 1);
    assert_int_equal(next.node, 3);
    report(r, next.id, 1, 3, 3, 0, &res);

    /* A failing exit status fails the task. */
    a = submit(r, 7, in, 1);
    report(r, a.id, 1, 3, 3, 2, &res);
    assert_int_equal(answer_of(&res).state, VOID_TASK_FAILED);
    rep_free(r);
}

static void test_sm_task_cancel_by_its_submitter(void **state)
{
    (void)state;
    struct rep *r = rep_new(4);
    struct answer a = submit(r, 7ull << 32 | 5, NULL, 0); /* client 7, session 5 */
    struct void_task_op op = {.op = VOID_TASK_CANCEL, .id = a.id};
    struct void_sm_result res;
    exec_task_op(r, 8, &op, &res);
    assert_refused(&res, "VOID_EPERM: task 1 was submitted by client 7, not 8");
    exec_task_op(r, 7ull << 32 | 9, &op, &res); /* another session of client 7 */
    assert_int_equal(answer_of(&res).state, VOID_TASK_CANCELLED);
    exec_task_op(r, 7, &op, &res);
    assert_refused(&res, "VOID_EEXIST: task 1 already ended (cancelled)");
    report(r, a.id, 1, a.node, a.node, 0, &res); /* the node's late report */
    assert_refused(&res, "VOID_EEXIST");
    rep_free(r);
}

/* One CPU unit per member: the seventh task waits, and runs where the
 * first report frees a unit. */
static void test_sm_task_waits_for_capacity(void **state)
{
    (void)state;
    struct rep *r = rep_new(1);
    struct answer a[MEMBERS + 1];
    uint32_t used = 0;
    for (int i = 0; i <= MEMBERS; i++) {
        a[i] = submit(r, 7, NULL, 0);
        if (i < MEMBERS) {
            assert_int_equal(a[i].state, VOID_TASK_RUNNING);
            assert_int_equal(used & (1u << a[i].node), 0); /* one per member */
            used |= 1u << a[i].node;
        }
    }
    assert_int_equal(a[MEMBERS].state, VOID_TASK_WAITING);
    assert_int_equal(a[MEMBERS].node, VOID_TASK_NO_NODE);
    struct void_sm_result res;
    report(r, a[2].id, 1, a[2].node, a[2].node, 0, &res);
    assert_int_equal(answer_of(&res).state, VOID_TASK_DONE);
    struct void_task t;
    static uint8_t buf[VOID_TASK_RECORD_MAX];
    read_task(r, a[MEMBERS].id, &t, buf);
    assert_int_equal(t.state, VOID_TASK_RUNNING);
    assert_int_equal(t.node, a[2].node);
    rep_free(r);
}

/* A running task whose node never reports: EXPIRE before the deadline is
 * refused; after it the task runs again elsewhere (attempt 2), and the lost
 * attempt's late report is refused; after the last attempt it fails. */
static void test_sm_task_missed_deadline_reschedules(void **state)
{
    (void)state;
    struct rep *r = rep_new(4);
    struct answer a = submit(r, 7, NULL, 0); /* timeout 5 s, grace 10 s */
    struct void_task_op op = {.op = VOID_TASK_EXPIRE, .id = a.id};
    struct void_sm_result res;
    exec_task_op(r, 9, &op, &res);
    assert_refused(&res, "VOID_EAGAIN: task 1's attempt 1 is not overdue");
    for (uint32_t attempt = 2; attempt <= VOID_TASK_ATTEMPTS_MAX; attempt++) {
        r->wall += 20;
        exec_task_op(r, 9, &op, &res);
        struct answer b = answer_of(&res);
        assert_int_equal(b.state, VOID_TASK_RUNNING);
        assert_int_equal(b.attempt, attempt);
        assert_int_not_equal(b.node, a.node); /* away from the node that lost it */
        report(r, a.id, attempt - 1, a.node, a.node, 0, &res);
        assert_refused(&res, "VOID_EBAD_FIELD: report for attempt");
        a = b;
    }
    r->wall += 20;
    exec_task_op(r, 9, &op, &res);
    assert_int_equal(answer_of(&res).state, VOID_TASK_FAILED);
    struct void_task t;
    static uint8_t buf[VOID_TASK_RECORD_MAX];
    read_task(r, a.id, &t, buf);
    assert_int_equal(t.outcome, VOID_TASK_LOST);
    rep_free(r);
}

/* The task state is replicated state: a checkpoint's export carries it to
 * a replica that goes on from it alike. */
static void test_sm_task_state_travels_in_checkpoints(void **state)
{
    (void)state;
    struct rep *a = rep_new(1), *b = rep_new(1);
    for (int i = 0; i < MEMBERS + 2; i++) {
        submit(a, 7, NULL, 0);
    }
    struct void_kvs_snap *snap = NULL;
    assert_int_equal(void_sm_snapshot_take(&a->sm, &snap), 0);
    uint8_t d[VOID_SM_DIGEST_SIZE];
    void_sm_snapshot_digest(&a->sm, snap, d);
    uint8_t *exp = NULL;
    size_t len = 0;
    assert_int_equal(void_sm_snapshot_export_alloc(&a->sm, snap, &exp, &len), 0);
    void_sm_snapshot_release(&a->sm, snap);
    assert_int_equal(void_sm_import(&b->sm, exp, len, next_seq - 1, d), 0);
    free(exp);
    b->wall = a->wall;
    uint64_t seq = next_seq, rq = reqno;
    struct void_sm_result res;
    struct void_task t;
    static uint8_t buf[VOID_TASK_RECORD_MAX];
    read_task(b, 1, &t, buf);
    report(a, 1, 1, t.node, t.node, 0, &res);
    struct answer x = answer_of(&res);
    next_seq = seq;
    reqno = rq;
    report(b, 1, 1, t.node, t.node, 0, &res);
    struct answer y = answer_of(&res);
    assert_int_equal(x.id, y.id);
    assert_int_equal(x.state, y.state);
    assert_int_equal(x.node, y.node);
    assert_int_equal(x.attempt, y.attempt);
    uint8_t da[VOID_SM_DIGEST_SIZE], db[VOID_SM_DIGEST_SIZE];
    void_sm_digest(&a->sm, da);
    void_sm_digest(&b->sm, db);
    assert_memory_equal(da, db, sizeof(da));
    read_task(b, MEMBERS + 1, &t, buf); /* the first waiting one took the freed unit */
    assert_int_equal(t.state, VOID_TASK_RUNNING);
    rep_free(a);
    rep_free(b);
}

/* The daemon's genesis configuration names no locations: the setup's, by
 * member id, stand in for them (and without them every member is on one
 * host, where load alone decides). */
static void test_sm_task_locations_from_the_setup(void **state)
{
    (void)state;
    static struct void_membership_config bare;
    bare = genesis;
    for (uint32_t i = 0; i < bare.count; i++) {
        bare.members[i].datacenter[0] = '\0';
        bare.members[i].rack[0] = '\0';
        bare.members[i].host[0] = '\0';
    }
    static const struct void_sched_location loc[MEMBERS + 1] = {{"", "", ""},
                                                                {"dc1", "r1", "h1"},
                                                                {"dc1", "r1", "h2"},
                                                                {"dc1", "r2", "h3"},
                                                                {"dc2", "r1", "h4"},
                                                                {"dc2", "r1", "h5"},
                                                                {"dc2", "r2", "h6"}};
    uint32_t first[2], second[2];
    for (int with = 0; with < 2; with++) {
        struct rep *r = rep_new(1);
        struct void_sm_member_setup ms = {.genesis = &bare, .checkpoint_interval = 8, .window = 16};
        assert_int_equal(void_sm_member_setup(&r->sm, &ms), 0);
        r->ts.locations = with ? loc : NULL;
        r->ts.location_count = with ? MEMBERS + 1 : 0;
        static const uint32_t on4[] = {4};
        hold(r, "big", 1, 512ull << 20, on4, 1);
        static const char *const in[] = {"big"};
        first[with] = submit(r, 7, in, 1).node;
        second[with] = submit(r, 7, in, 1).node; /* the first's member is full */
        rep_free(r);
    }
    assert_int_equal(first[0], 1); /* one host: the lowest index with room */
    assert_int_equal(second[0], 2);
    assert_int_equal(first[1], 4);  /* the holder */
    assert_int_equal(second[1], 5); /* its rack-mate */
}

static void test_task_op_codec_round_trips(void **state)
{
    (void)state;
    static const char *const in[] = {"a", "bb"};
    struct void_task_op op = submit_op(in, 2, 3);
    op.submit.arg_count = 2;
    op.submit.args[1] = str(""); /* an empty argument is an argument */
    uint8_t buf[VOID_TASK_OP_MAX];
    int n = void_task_op_encode(&op, buf, sizeof(buf));
    assert_true(n > 0);
    struct void_task_op back;
    assert_int_equal(void_task_op_decode(buf, (size_t)n, &back), 0);
    assert_int_equal(back.submit.cpu, 3);
    assert_int_equal(back.submit.input_count, 2);
    assert_int_equal(back.submit.inputs[1].len, 2);
    assert_int_equal(back.submit.arg_count, 2);
    assert_int_equal(back.submit.args[1].len, 0);
    assert_int_equal(void_task_op_encode(&op, buf, 10), VOID_EFULL);
    op.submit.exe = str("");
    assert_int_equal(void_task_op_encode(&op, buf, sizeof(buf)), VOID_EINVAL);
    for (size_t cut = 0; cut < (size_t)n; cut++) {
        assert_int_not_equal(void_task_op_decode(buf, cut, &back), 0);
    }
}

/* What the placement observer saw, summed over the rounds. */
struct seen {
    uint32_t begins, ends, placed, whole;
    uint64_t bytes[4], cost, greedy_cost;
};

static void observe(void *ctx, const struct void_sm_task_placement *p)
{
    struct seen *s = ctx;
    if (p->begin) {
        s->begins++;
        assert_int_equal(p->placed, 0);
        return;
    }
    s->ends++;
    s->placed += p->placed;
    s->whole += (uint32_t)p->whole;
    for (int k = 0; k < 4; k++) {
        s->bytes[k] += p->bytes[k];
    }
    s->cost += p->cost;
    s->greedy_cost += p->greedy_cost;
}

static void ended_counts(struct rep *r, uint64_t out[3])
{
    struct void_sm_result res;
    void_sm_read(&r->sm, (const uint8_t *)VOID_TASK_ENDED_KEY, VOID_TASK_ENDED_KEY_LEN, NULL, &res);
    memset(out, 0, 3 * sizeof(uint64_t));
    if (res.status == VOID_SM_OK) {
        assert_int_equal(res.value_len, 24);
        for (int k = 0; k < 3; k++) {
            for (int b = 0; b < 8; b++) {
                out[k] = out[k] << 8 | res.value[8 * k + b];
            }
        }
    }
}

static void test_sm_task_observer_and_ended_counts(void **state)
{
    (void)state;
    struct rep *r = rep_new(4);
    struct seen seen = {0};
    r->ts.observe = observe;
    r->ts.observe_ctx = &seen;
    static const uint32_t on3[] = {3};
    hold(r, "in", 4, 10ull << 20, on3, 1);
    static const char *const in[] = {"in"};
    struct answer a = submit(r, 7, in, 1);
    assert_int_equal(a.node, 3);
    /* One round around the placement: the task on its holder, so its 10 MiB
     * are at distance class "host"; annealing never above greedy. */
    assert_int_equal(seen.begins, 1);
    assert_int_equal(seen.ends, 1);
    assert_int_equal(seen.placed, 1);
    assert_int_equal(seen.whole, 1);
    assert_true(seen.bytes[0] == 10ull << 20 && seen.bytes[1] + seen.bytes[2] + seen.bytes[3] == 0);
    assert_true(seen.cost <= seen.greedy_cost);
    uint64_t ended[3];
    ended_counts(r, ended);
    assert_true(ended[0] == 0 && ended[1] == 0 && ended[2] == 0);

    struct void_sm_result res;
    report(r, a.id, 1, 3, 3, 0, &res);
    assert_int_equal(res.status, VOID_SM_OK);
    struct answer b = submit(r, 7, in, 1);
    report(r, b.id, 1, 3, 3, 1, &res); /* exit 1: failed */
    struct answer c = submit(r, 7, in, 1);
    struct void_task_op op = {.op = VOID_TASK_CANCEL, .id = c.id};
    exec_task_op(r, 7, &op, &res);
    ended_counts(r, ended);
    assert_int_equal(ended[0], 1); /* done */
    assert_int_equal(ended[1], 1); /* failed */
    assert_int_equal(ended[2], 1); /* cancelled */
    /* A refused second report counts nothing more. */
    report(r, a.id, 1, 3, 3, 0, &res);
    ended_counts(r, ended);
    assert_int_equal(ended[0], 1);
    assert_int_equal(seen.placed, 3);
    rep_free(r);
}

int main(void)
{
    make_genesis();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_task_op_codec_round_trips),
        cmocka_unit_test(test_sm_task_placement_identical_across_replicas),
        cmocka_unit_test(test_sm_task_refuses_bad_submissions),
        cmocka_unit_test(test_sm_task_report_taken_once),
        cmocka_unit_test(test_sm_task_cancel_by_its_submitter),
        cmocka_unit_test(test_sm_task_waits_for_capacity),
        cmocka_unit_test(test_sm_task_missed_deadline_reschedules),
        cmocka_unit_test(test_sm_task_state_travels_in_checkpoints),
        cmocka_unit_test(test_sm_task_locations_from_the_setup),
        cmocka_unit_test(test_sm_task_observer_and_ended_counts),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
