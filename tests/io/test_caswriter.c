/*
 * Tests of the replica's block writer and of the batch put under it: a batch
 * is one transaction with one sync, a bad block in it fails alone, the done
 * callback (what sends STORED) runs only once its block is committed and
 * synced, a full queue refuses blocks instead of growing, closing writes what
 * is queued, and a process killed with SIGKILL keeps every block it had
 * acknowledged. The writer is held back by taking the store's gc lock
 * exclusively from the test (a writer takes it shared), which makes the
 * queue's content deterministic.
 */

/* cmocka.h needs these first, in this order. */
/* clang-format off */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
/* clang-format on */

#include "void/cas.h"
#include "void/caswriter.h"
#include "void/codec.h"
#include "void/error.h"

#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <uv.h>

#define BLOCK_LEN 4000

struct fixture {
    char dir[64];
    char store[96];
    struct void_cas cas;
    uv_loop_t loop;
    struct void_caswriter w;
    int gate_fd; /* the store's gc.lock, held exclusively to stall the writer */
    size_t done;
    size_t done_not_durable; /* callbacks for blocks the store did not have yet */
    uint64_t syncs_at_done;
    int rcs[8]; /* block.rc and sender of the first done callbacks */
    uint32_t froms[8];
};

static void block_bytes(uint8_t *buf, unsigned i)
{
    for (size_t k = 0; k < BLOCK_LEN; k++) {
        buf[k] = (uint8_t)(i * 31u + k * 7u + (k >> 8));
    }
}

static void on_done(void *ctx, const struct void_caswriter_item *item)
{
    struct fixture *fx = ctx;
    if (fx->done < 8) {
        fx->rcs[fx->done] = item->block.rc;
        fx->froms[fx->done] = item->from;
    }
    fx->done++;
    if (item->block.rc != 0 || void_cas_has(&fx->cas, &item->block.hash) != 1) {
        fx->done_not_durable++;
    }
    fx->syncs_at_done = fx->cas.count_syncs;
}

static void fixture_open(struct fixture *fx, const struct void_caswriter_config *wc)
{
    memset(fx, 0, sizeof(*fx));
    snprintf(fx->dir, sizeof(fx->dir), "/tmp/void-test-caswriter-XXXXXX");
    assert_non_null(mkdtemp(fx->dir));
    snprintf(fx->store, sizeof(fx->store), "%s/store", fx->dir);
    struct void_cas_config cc;
    void_cas_config_default(&cc);
    cc.create = 1;
    cc.threads = 1;
    assert_int_equal(void_cas_init(&fx->cas, fx->store, &cc), 0);
    assert_int_equal(uv_loop_init(&fx->loop), 0);
    assert_int_equal(void_caswriter_init(&fx->w, &fx->loop, &fx->cas, wc, on_done, fx), 0);
    char path[128];
    snprintf(path, sizeof(path), "%s/gc.lock", fx->store);
    fx->gate_fd = open(path, O_RDWR);
    assert_true(fx->gate_fd >= 0);
}

static void gate_close(struct fixture *fx)
{
    assert_int_equal(flock(fx->gate_fd, LOCK_EX), 0);
}

static void gate_open(struct fixture *fx)
{
    assert_int_equal(flock(fx->gate_fd, LOCK_UN), 0);
}

/* Runs the loop until `want` done callbacks arrived or 10 s passed. */
static void run_until_done(struct fixture *fx, size_t want)
{
    for (int i = 0; i < 10000 && fx->done < want; i++) {
        uv_run(&fx->loop, UV_RUN_NOWAIT);
        uv_sleep(1);
    }
}

static void fixture_close(struct fixture *fx)
{
    gate_open(fx);
    close(fx->gate_fd);
    void_caswriter_close(&fx->w);
    uv_run(&fx->loop, UV_RUN_DEFAULT); /* the async handle's close */
    assert_int_equal(uv_loop_close(&fx->loop), 0);
    void_cas_fini(&fx->cas);
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", fx->dir);
    assert_int_equal(system(cmd), 0);
}

static void submit_blob(struct fixture *fx, unsigned i, int expect)
{
    uint8_t buf[BLOCK_LEN];
    block_bytes(buf, i);
    assert_int_equal(void_caswriter_submit(&fx->w, VOID_CAS_BLOB, buf, sizeof(buf), 100, 0),
                     expect);
}

static int has_blob(struct fixture *fx, unsigned i)
{
    uint8_t buf[BLOCK_LEN];
    struct void_hash h;
    block_bytes(buf, i);
    void_hash_compute(buf, sizeof(buf), &h);
    return void_cas_has(&fx->cas, &h);
}

/* Setup: an empty store; 20 blobs, a file object over two of them (after
 * them in the batch), a file object naming an absent chunk and a block of an
 * unknown kind. Action: one void_cas_put_blocks call. Expected: one sync;
 * the blobs and the good object stored (rc 0), the orphan object refused
 * with ECAS_MISSING and the bad kind with EINVAL, neither stored; the store
 * counts exactly 21 blocks. */
static void test_cas_put_blocks_stores_a_batch_with_one_sync(void **state)
{
    (void)state;
    static struct fixture fx;
    fixture_open(&fx, NULL);
    static uint8_t blobs[20][BLOCK_LEN];
    struct void_cas_block b[24];
    memset(b, 0, sizeof(b));
    for (unsigned i = 0; i < 20; i++) {
        block_bytes(blobs[i], i);
        b[i] = (struct void_cas_block){.kind = VOID_CAS_BLOB, .data = blobs[i], .len = BLOCK_LEN};
    }
    struct void_casobj_chunk chunks[2];
    for (unsigned i = 0; i < 2; i++) {
        void_hash_compute(blobs[i], BLOCK_LEN, &chunks[i].hash);
        chunks[i].size = BLOCK_LEN;
    }
    uint8_t good[256], orphan[256];
    size_t good_len = 0, orphan_len = 0;
    assert_int_equal(void_casobj_file_encode(chunks, 2, good, sizeof(good), &good_len), 0);
    memset(chunks[1].hash.b, 0x5a, VOID_HASH_SIZE); /* stored nowhere */
    assert_int_equal(void_casobj_file_encode(chunks, 2, orphan, sizeof(orphan), &orphan_len), 0);
    b[20] = (struct void_cas_block){.kind = VOID_CAS_FILE, .data = good, .len = good_len};
    b[21] = (struct void_cas_block){.kind = VOID_CAS_FILE, .data = orphan, .len = orphan_len};
    b[22] = (struct void_cas_block){.kind = 9, .data = blobs[0], .len = 10};
    uint64_t syncs = fx.cas.count_syncs;
    assert_int_equal(void_cas_put_blocks(&fx.cas, b, 23), 0);
    assert_int_equal(fx.cas.count_syncs, syncs + 1);
    for (unsigned i = 0; i <= 20; i++) {
        assert_int_equal(b[i].rc, 0);
        assert_int_equal(void_cas_has(&fx.cas, &b[i].hash), 1);
    }
    assert_int_equal(b[21].rc, VOID_ECAS_MISSING);
    assert_int_equal(void_cas_has(&fx.cas, &b[21].hash), 0);
    assert_int_equal(b[22].rc, VOID_EINVAL);
    struct void_cas_stats st;
    assert_int_equal(void_cas_stats(&fx.cas, &st), 0);
    assert_int_equal(st.blocks, 21);
    fixture_close(&fx);
}

/* Setup: a writer stalled on the store's lock; 50 blobs submitted. Action:
 * run the loop for 200 ms, then let the writer go and run the loop until
 * every block is done. Expected: no done callback (no STORED) while the
 * write is held back and none of the blocks readable; afterwards 50
 * callbacks, each for a block already in the store and synced; at most two
 * group commits (the first block may have been taken alone before the
 * others arrived), one sync each. */
static void test_caswriter_acknowledges_only_after_the_group_commit(void **state)
{
    (void)state;
    static struct fixture fx;
    fixture_open(&fx, NULL);
    uint64_t syncs = fx.cas.count_syncs;
    gate_close(&fx);
    for (unsigned i = 0; i < 50; i++) {
        submit_blob(&fx, i, 0);
    }
    for (int i = 0; i < 200; i++) {
        uv_run(&fx.loop, UV_RUN_NOWAIT);
        uv_sleep(1);
    }
    assert_int_equal(fx.done, 0);
    assert_int_equal(has_blob(&fx, 49), 0);
    gate_open(&fx);
    run_until_done(&fx, 50);
    assert_int_equal(fx.done, 50);
    assert_int_equal(fx.done_not_durable, 0);
    assert_true(fx.syncs_at_done > syncs);
    struct void_caswriter_stats st;
    void_caswriter_stats_get(&fx.w, &st);
    assert_int_equal(st.blocks, 50);
    assert_true(st.batches >= 1 && st.batches <= 2);
    assert_int_equal(fx.cas.count_syncs - syncs, st.batches);
    assert_int_equal(st.queued, 0);
    fixture_close(&fx);
}

/* Setup: a writer of 8 slots and 3 blocks' worth of bytes, stalled on the
 * store's lock. Action: submit blocks until refused; then let it go, drain,
 * and submit again. Expected: the 4th block is refused with EBUSY (bytes
 * bound) and counted busy; once drained, blocks are accepted again; with a
 * large byte bound the 9th block is refused (slot bound). */
static void test_caswriter_refuses_blocks_when_its_queue_is_full(void **state)
{
    (void)state;
    static struct fixture fx;
    struct void_caswriter_config wc = {.blocks_max = 8, .bytes_max = 3 * BLOCK_LEN};
    fixture_open(&fx, &wc);
    gate_close(&fx);
    for (unsigned i = 0; i < 3; i++) {
        submit_blob(&fx, i, 0);
    }
    submit_blob(&fx, 3, VOID_EBUSY);
    struct void_caswriter_stats st;
    void_caswriter_stats_get(&fx.w, &st);
    assert_int_equal(st.busy, 1);
    assert_int_equal(st.queued, 3);
    gate_open(&fx);
    run_until_done(&fx, 3);
    assert_int_equal(fx.done, 3);
    submit_blob(&fx, 3, 0); /* room again */
    run_until_done(&fx, 4);
    fixture_close(&fx);

    wc.bytes_max = 100 * BLOCK_LEN;
    fixture_open(&fx, &wc);
    gate_close(&fx);
    for (unsigned i = 0; i < 8; i++) {
        submit_blob(&fx, i, 0);
    }
    submit_blob(&fx, 8, VOID_EBUSY);
    fixture_close(&fx);
    assert_int_equal(fx.done, 0); /* closed before the loop delivered anything */
}

/* A CAS_BLOCK frame of blob i signed by kp as sender, into buf; its size. */
static size_t block_frame(
    const struct void_sign_keypair *kp, uint32_t sender, unsigned i, uint8_t *buf, size_t cap)
{
    uint8_t body[1 + BLOCK_LEN];
    body[0] = VOID_CAS_BLOB;
    block_bytes(body + 1, i);
    struct void_frame f = {
        .type = VOID_MSG_CAS_BLOCK, .sender = sender, .body = body, .body_len = sizeof(body)};
    size_t n = 0;
    assert_int_equal(void_codec_encode(&f, kp, buf, cap, &n), 0);
    return n;
}

/* Setup: a writer with a keyring holding client 100's key. Action: submit
 * the frames of three blobs: signed by 100, signed by 100 with one body byte
 * flipped afterwards, signed by an unknown sender 101. Expected: the first
 * is stored and reported from 100; the forged one fails with EBAD_SIG and
 * the unknown sender's with EUNKNOWN_SENDER, neither stored. */
static void test_caswriter_verifies_frames_before_storing_them(void **state)
{
    (void)state;
    static struct fixture fx;
    assert_int_equal(void_sign_global_init(), 0);
    struct void_sign_keypair kp, other;
    assert_int_equal(void_sign_keypair_generate(&kp), 0);
    assert_int_equal(void_sign_keypair_generate(&other), 0);
    static struct void_keyring ring;
    void_keyring_init(&ring);
    assert_int_equal(void_keyring_add(&ring, 100, kp.public_key), 0);
    struct void_caswriter_config wc = {.ring = &ring};
    fixture_open(&fx, &wc);
    static uint8_t buf[2 * BLOCK_LEN];
    size_t n = block_frame(&kp, 100, 0, buf, sizeof(buf));
    assert_int_equal(void_caswriter_submit_frame(&fx.w, buf, n), 0);
    n = block_frame(&kp, 100, 1, buf, sizeof(buf));
    buf[n / 2] ^= 1;
    assert_int_equal(void_caswriter_submit_frame(&fx.w, buf, n), 0);
    n = block_frame(&other, 101, 2, buf, sizeof(buf));
    assert_int_equal(void_caswriter_submit_frame(&fx.w, buf, n), 0);
    run_until_done(&fx, 3);
    assert_int_equal(fx.done, 3);
    assert_int_equal(fx.rcs[0], 0);
    assert_int_equal(fx.froms[0], 100);
    assert_int_equal(has_blob(&fx, 0), 1);
    assert_int_equal(fx.rcs[1], VOID_EBAD_SIG);
    assert_int_equal(has_blob(&fx, 1), 0);
    assert_int_equal(fx.rcs[2], VOID_EUNKNOWN_SENDER);
    assert_int_equal(has_blob(&fx, 2), 0);
    fixture_close(&fx);
}

static void *open_gate_later(void *arg)
{
    struct fixture *fx = arg;
    struct timespec ts = {0, 100 * 1000 * 1000};
    nanosleep(&ts, NULL);
    gate_open(fx);
    return NULL;
}

/* Setup: a writer stalled on the store's lock with 10 blobs queued. Action:
 * close the writer while another thread lets the lock go 100 ms later.
 * Expected: close waits and writes the queued blocks (all 10 are in the
 * store afterwards); no done callback runs after close began. */
static void test_caswriter_close_writes_the_queued_blocks(void **state)
{
    (void)state;
    static struct fixture fx;
    fixture_open(&fx, NULL);
    gate_close(&fx);
    for (unsigned i = 0; i < 10; i++) {
        submit_blob(&fx, i, 0);
    }
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, open_gate_later, &fx), 0);
    void_caswriter_close(&fx.w);
    assert_int_equal(pthread_join(t, NULL), 0);
    for (unsigned i = 0; i < 10; i++) {
        assert_int_equal(has_blob(&fx, i), 1);
    }
    assert_int_equal(fx.done, 0);
    fixture_close(&fx); /* a second close is harmless */
}

/* The child of the SIGKILL test: submits blobs one after another forever and
 * writes the number of each acknowledged one to fd. */
static void ack_pipe(void *ctx, const struct void_caswriter_item *item)
{
    int fd = *(int *)ctx;
    uint32_t i = item->from;
    if (item->block.rc == 0 && write(fd, &i, sizeof(i)) != (ssize_t)sizeof(i)) {
        _exit(3);
    }
}

static void child_upload(const char *store, int fd)
{
    alarm(60); /* never outlives a parent that failed to kill it */
    struct void_cas cas;
    struct void_cas_config cc;
    void_cas_config_default(&cc);
    cc.create = 1;
    cc.threads = 1;
    static struct void_caswriter w;
    uv_loop_t loop;
    if (void_cas_init(&cas, store, &cc) != 0 || uv_loop_init(&loop) != 0 ||
        void_caswriter_init(&w, &loop, &cas, NULL, ack_pipe, &fd) != 0) {
        _exit(2);
    }
    uint8_t buf[BLOCK_LEN];
    for (uint32_t i = 0;; i++) {
        block_bytes(buf, i);
        while (void_caswriter_submit(&w, VOID_CAS_BLOB, buf, sizeof(buf), i, 0) == VOID_EBUSY) {
            uv_run(&loop, UV_RUN_NOWAIT);
        }
        uv_run(&loop, UV_RUN_NOWAIT);
    }
}

static size_t read_acks(int fd, uint32_t *acked, size_t n, size_t want)
{
    while (n < want && read(fd, &acked[n], sizeof(acked[n])) == (ssize_t)sizeof(acked[n])) {
        n++;
    }
    return n;
}

/* Setup: a child process creating a store and storing blobs through a
 * writer, reporting each acknowledged one on a pipe. Action: SIGKILL it
 * after 100 acknowledgements, open the store. Expected: the store opens and
 * every acknowledged blob is there. */
static void test_caswriter_sigkill_keeps_every_acknowledged_block(void **state)
{
    (void)state;
    char dir[] = "/tmp/void-test-caswriter-kill-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char store[96];
    snprintf(store, sizeof(store), "%s/store", dir);
    int fds[2];
    assert_int_equal(pipe(fds), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        close(fds[0]);
        child_upload(store, fds[1]);
    }
    close(fds[1]);
    static uint32_t acked[1 << 16];
    size_t n = read_acks(fds[0], acked, 0, 100);
    kill(pid, SIGKILL);
    int status = 0;
    pid_t waited = waitpid(pid, &status, 0);
    n = read_acks(fds[0], acked, n, 1 << 16); /* acknowledged before it died */
    close(fds[0]);
    assert_int_equal(waited, pid);
    assert_true(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
    assert_true(n >= 100);
    struct void_cas cas;
    struct void_cas_config cc;
    void_cas_config_default(&cc);
    assert_int_equal(void_cas_init(&cas, store, &cc), 0);
    uint8_t buf[BLOCK_LEN];
    struct void_hash h;
    for (size_t i = 0; i < n; i++) {
        block_bytes(buf, acked[i]);
        void_hash_compute(buf, sizeof(buf), &h);
        assert_int_equal(void_cas_has(&cas, &h), 1);
    }
    void_cas_fini(&cas);
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    assert_int_equal(system(cmd), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cas_put_blocks_stores_a_batch_with_one_sync),
        cmocka_unit_test(test_caswriter_acknowledges_only_after_the_group_commit),
        cmocka_unit_test(test_caswriter_refuses_blocks_when_its_queue_is_full),
        cmocka_unit_test(test_caswriter_close_writes_the_queued_blocks),
        cmocka_unit_test(test_caswriter_verifies_frames_before_storing_them),
        cmocka_unit_test(test_caswriter_sigkill_keeps_every_acknowledged_block),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
