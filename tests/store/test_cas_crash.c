/*
 * Crash test of the CAS store: a child process ingests a tree (with a
 * multi-megabyte file and many small ones), unpins and collects garbage in
 * a loop, and is killed with SIGKILL at a random moment. After each kill
 * the parent opens the store, requires fsck to be clean (no corrupted or
 * missing block, every refcount right), re-puts the tree and checks that
 * it reads back byte-identical; then a gc must leave no pack longer than
 * its last referenced byte, and fsck must still be clean.
 *
 * VOID_CAS_CRASH_ITERS sets the number of kills (default 8, about 20 s
 * under ASan); VOID_CAS_CRASH_SEED the seed (printed on failure).
 */
/* cmocka.h needs these first, in this order. */
/* clang-format off */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
/* clang-format on */

#include "lib/cas_tree.h"
#include "store/cas_int.h"
#include "void/cas.h"
#include "void/error.h"
#include "void/prng.h"

#include <dirent.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static struct void_cas_config store_config(int create)
{
    struct void_cas_config c;
    void_cas_config_default(&c);
    c.create = create;
    c.cdc = (struct void_cdc_config){2048, 8192, 32768};
    return c;
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* The child: put + pin, unpin, gc, forever (or once when once != 0). */
static void child_loop(const char *store, const char *src, int once)
{
    struct void_cas cas;
    struct void_cas_config c = store_config(0);
    if (void_cas_init(&cas, store, &c) != 0) {
        _exit(2);
    }
    for (;;) {
        struct void_cas_put_result r;
        struct void_cas_gc_result g;
        if (void_cas_put_path(&cas, src, "live", NULL, NULL, &r) != 0) {
            _exit(3);
        }
        if (once) {
            _exit(0);
        }
        if (void_cas_unpin(&cas, "live") != 0 || void_cas_gc(&cas, &g) != 0) {
            _exit(4);
        }
    }
}

/* After a gc, no pack file extends past the last byte a record references
 * (what killed puts left behind is gone), and a pack no record uses is
 * deleted. */
static void assert_packs_trimmed(struct void_cas *cas, const char *store)
{
    uint64_t ends[4096] = {0};
    MDB_txn *txn;
    MDB_cursor *cur;
    MDB_val k, v;
    assert_int_equal(mdb_txn_begin(cas->env, NULL, MDB_RDONLY, &txn), 0);
    assert_int_equal(mdb_cursor_open(txn, cas->blocks, &cur), 0);
    while (mdb_cursor_get(cur, &k, &v, MDB_NEXT) == 0) {
        uint32_t id, len;
        uint64_t off;
        if (void__cas_record_locator(&v, &id, &off, &len) == 0) {
            assert_true(id < 4096);
            ends[id] = ends[id] > off + len ? ends[id] : off + len;
        }
    }
    mdb_cursor_close(cur);
    mdb_txn_abort(txn);
    char dir[400];
    if (snprintf(dir, sizeof(dir), "%s/packs", store) < 0) {
        abort();
    }
    DIR *d = opendir(dir);
    assert_non_null(d);
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        if (de->d_name[0] == '.') {
            continue;
        }
        char path[700];
        struct stat st;
        if (snprintf(path, sizeof(path), "%s/%s", dir, de->d_name) < 0) {
            abort();
        }
        assert_int_equal(stat(path, &st), 0);
        unsigned long id = strtoul(de->d_name, NULL, 16);
        assert_true(id < 4096);
        assert_true(ends[id] > 0);
        assert_true((uint64_t)st.st_size <= ends[id]);
    }
    closedir(d);
}

static void check_store(const char *store, const char *src, const char *dst, uint64_t seed)
{
    struct void_cas cas;
    struct void_cas_config c = store_config(0);
    assert_int_equal(void_cas_init(&cas, store, &c), 0);
    struct void_cas_fsck_result fr;
    assert_int_equal(void_cas_fsck(&cas, &fr, NULL, NULL), 0);
    if (fr.corrupted || fr.missing || fr.bad_refcounts) {
        fail_msg("seed %llu: fsck after kill: %llu corrupted, %llu missing, %llu bad refcounts",
                 (unsigned long long)seed,
                 (unsigned long long)fr.corrupted,
                 (unsigned long long)fr.missing,
                 (unsigned long long)fr.bad_refcounts);
    }
    struct void_cas_put_result r;
    assert_int_equal(void_cas_put_path(&cas, src, "checked", NULL, NULL, &r), 0);
    cas_rmrf(dst);
    assert_int_equal(void_cas_get_path(&cas, &r.root, dst, NULL, NULL), 0);
    assert_int_equal(cas_tree_compare(src, dst), 0);
    assert_int_equal(void_cas_unpin(&cas, "checked"), 0);
    struct void_cas_gc_result g;
    assert_int_equal(void_cas_gc(&cas, &g), 0);
    assert_packs_trimmed(&cas, store);
    assert_int_equal(void_cas_fsck(&cas, &fr, NULL, NULL), 0);
    assert_int_equal(fr.corrupted + fr.missing + fr.bad_refcounts, 0);
    void_cas_fini(&cas);
}

/* Setup: a store and a tree. Action: N times, change one file of the tree,
 * start the child and SIGKILL it after a random delay within about two
 * put durations. Expected: after every kill fsck is clean and a re-put
 * round-trips. */
static void test_cas_survives_sigkill_at_random_points(void **state)
{
    (void)state;
    const char *it = getenv("VOID_CAS_CRASH_ITERS");
    const char *sd = getenv("VOID_CAS_CRASH_SEED");
    int iters = it != NULL ? atoi(it) : 8;
    uint64_t seed = sd != NULL ? strtoull(sd, NULL, 10) : (uint64_t)time(NULL);
    print_message("crash test: %d kills, seed %llu\n", iters, (unsigned long long)seed);
    struct void_prng p;
    void_prng_seed(&p, seed);

    char dir[256], store[300], src[300], dst[300], big[400];
    cas_tmpdir(dir, sizeof(dir));
    if (snprintf(store, sizeof(store), "%s/store", dir) < 0) {
        abort();
    }
    if (snprintf(src, sizeof(src), "%s/src", dir) < 0) {
        abort();
    }
    if (snprintf(dst, sizeof(dst), "%s/dst", dir) < 0) {
        abort();
    }
    if (snprintf(big, sizeof(big), "%s/big file", src) < 0) {
        abort();
    }
    struct cas_tree_config tc = {80, 20, 5, 200000, 6};
    cas_tree_make(src, seed, &tc);
    cas_write_random_file(big, 6u << 20, seed);
    struct void_cas cas;
    struct void_cas_config c = store_config(1);
    assert_int_equal(void_cas_init(&cas, store, &c), 0);
    void_cas_fini(&cas);

    /* Calibrate: how long does one put take here? */
    double t0 = now_s();
    pid_t pid = fork();
    if (pid == 0) {
        child_loop(store, src, 1);
    }
    int status;
    waitpid(pid, &status, 0);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    double put_s = now_s() - t0;

    int killed_running = 0;
    for (int i = 0; i < iters; i++) {
        cas_write_random_file(big, 6u << 20, void_prng_next(&p)); /* new data each time */
        uint64_t delay = (uint64_t)(void_prng_double(&p) * 2.0 * put_s * 1e6);
        pid = fork();
        if (pid == 0) {
            child_loop(store, src, 0);
        }
        struct timespec ts = {(time_t)(delay / 1000000), (long)(delay % 1000000) * 1000};
        nanosleep(&ts, NULL);
        kill(pid, SIGKILL);
        waitpid(pid, &status, 0);
        killed_running += WIFSIGNALED(status);
        if (WIFEXITED(status)) {
            fail_msg(
                "seed %llu: child exited with %d", (unsigned long long)seed, WEXITSTATUS(status));
        }
        check_store(store, src, dst, seed);
    }
    print_message(
        "one put: %.0f ms; %d of %d children killed mid-run\n", put_s * 1e3, killed_running, iters);
    cas_rmrf(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cas_survives_sigkill_at_random_points),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
