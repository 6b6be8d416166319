/*
 * Tests of the record log when the process runs out of file descriptors
 * (issue 16). The store keeps its spare segment open, so a rotation opens no
 * file: it goes through with no descriptor free. Without a spare (removed
 * from under it), a rotation that cannot open its file reports
 * VOID_EPRESSURE, not an I/O error; it leaves no ".tmp" segment and no other
 * change in the directory; the store stays usable, and the same write
 * succeeds once descriptors are free, with every record durable after a
 * reopen. A write that follows a refused rotation never appends newer
 * records alone (memory holds records that are not on disk yet).
 *
 * The descriptors are used up for real: the soft RLIMIT_NOFILE is lowered
 * and the remaining slots filled with dup().
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

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#define SEGMENT 4096u
#define HOG_MAX 4096

static char dir[256];
static int hog[HOG_MAX];
static int hog_count;
static struct rlimit saved_limit;

static int setup(void **state)
{
    (void)state;
    snprintf(dir, sizeof(dir), "/tmp/void-test-pstore-pressure-XXXXXX");
    if (getrlimit(RLIMIT_NOFILE, &saved_limit) != 0) {
        return -1;
    }
    return mkdtemp(dir) != NULL ? 0 : -1;
}

static void fds_release(void)
{
    for (int i = 0; i < hog_count; i++) {
        (void)close(hog[i]);
    }
    hog_count = 0;
    assert_int_equal(setrlimit(RLIMIT_NOFILE, &saved_limit), 0);
}

static int teardown(void **state)
{
    (void)state;
    fds_release();
    char cmd[300];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    return system(cmd) == 0 ? 0 : -1;
}

/* Uses up every descriptor but `spare` of them: lowers the soft limit near
 * the highest descriptor in use and dups until dup fails with EMFILE. */
static void fds_exhaust(int spare)
{
    int probe = dup(0);
    assert_true(probe >= 0);
    (void)close(probe);
    struct rlimit lim = saved_limit;
    lim.rlim_cur = (rlim_t)probe + 64;
    assert_true(lim.rlim_cur <= saved_limit.rlim_cur);
    assert_int_equal(setrlimit(RLIMIT_NOFILE, &lim), 0);
    for (;;) {
        int fd = dup(0);
        if (fd < 0) {
            assert_int_equal(errno, EMFILE);
            break;
        }
        assert_true(hog_count < HOG_MAX);
        hog[hog_count++] = fd;
    }
    for (int i = 0; i < spare; i++) {
        assert_true(hog_count > 0);
        (void)close(hog[--hog_count]);
    }
}

/* Names of the files in the store's directory, sorted, one per line. Leaves
 * the count of free descriptors as it was. */
static void dir_listing(const char *path, char *out, size_t cap)
{
    char names[32][256];
    int n = 0;
    int borrowed = hog_count > 0; /* listing needs a descriptor: lend one */
    if (borrowed) {
        (void)close(hog[--hog_count]);
    }
    DIR *d = opendir(path);
    assert_non_null(d);
    for (struct dirent *e = readdir(d); e != NULL; e = readdir(d)) {
        if (e->d_name[0] != '.' && n < 32) {
            snprintf(names[n++], sizeof(names[0]), "%s", e->d_name);
        }
    }
    closedir(d);
    if (borrowed) {
        hog[hog_count] = dup(0);
        assert_true(hog[hog_count++] >= 0);
    }
    qsort(names, (size_t)n, sizeof(names[0]), (int (*)(const void *, const void *))strcmp);
    out[0] = '\0';
    for (int i = 0; i < n; i++) {
        strncat(out, names[i], cap - strlen(out) - 2);
        strncat(out, "\n", cap - strlen(out) - 1);
    }
}

static struct void_pstore_op put(uint64_t key, const uint8_t *data, size_t len)
{
    return (struct void_pstore_op){
        .op = VOID_PSTORE_PUT, .kind = 2, .key = key, .data = data, .len = len};
}

/* Writes 100-byte records with keys from *key on until the next write would
 * not fit in the current segment (so it must rotate). */
static void fill_segment(struct void_pstore *s, uint64_t *key, const uint8_t *data)
{
    for (int i = 0; i < 1000; i++) {
        if (s->offset + 32 + 14 + 100 > s->file_size) {
            return;
        }
        struct void_pstore_op op = put((*key)++, data, 100);
        assert_int_equal(void_pstore_write(s, &op, 1), 0);
    }
    fail_msg("the segment never filled");
}

/* Takes the spare away: the reserved descriptor and the file. */
static void drop_spare(struct void_pstore *s, const char *path)
{
    char spare[320];
    snprintf(spare, sizeof(spare), "%s/wal-spare", path);
    assert_true(s->spare_fd >= 0);
    close(s->spare_fd);
    s->spare_fd = -1;
    assert_int_equal(unlink(spare), 0);
}

static void check_reopen(const char *path, uint64_t keys)
{
    struct void_pstore s;
    assert_int_equal(void_pstore_open(&s, path, &(struct void_pstore_config){SEGMENT}, NULL, 0), 0);
    struct void_pstore_rec *recs = NULL;
    size_t n = 0;
    assert_int_equal(void_pstore_read_all(&s, &recs, &n), 0);
    assert_int_equal(n, keys);
    for (size_t i = 0; i < n; i++) {
        assert_int_equal(recs[i].key, i);
        assert_int_equal(recs[i].len, 100);
        assert_int_equal(recs[i].data[0], (uint8_t)'r');
    }
    free(recs);
    void_pstore_close(&s);
}

/* Setup: a store with small segments, one filled up. Action: use up every
 * descriptor and write through three rotations. Expected: each write
 * succeeds (the spare's descriptor was reserved, and each rotation reserves
 * the retired segment's); no .tmp, one segment and a spare; every record
 * back after a reopen. */
static void test_pstore_rotates_with_no_descriptor_free(void **state)
{
    (void)state;
    char path[300];
    snprintf(path, sizeof(path), "%s/r", dir);
    struct void_pstore s;
    assert_int_equal(void_pstore_open(&s, path, &(struct void_pstore_config){SEGMENT}, NULL, 0), 0);
    uint8_t data[100];
    memset(data, 'r', sizeof(data));
    uint64_t key = 0;
    uint64_t compactions = s.count_compactions;
    fds_exhaust(0);
    for (int rotation = 0; rotation < 3; rotation++) {
        fill_segment(&s, &key, data);
        struct void_pstore_op op = put(key++, data, 100);
        assert_int_equal(void_pstore_write(&s, &op, 1), 0);
    }
    assert_int_equal(s.count_compactions, compactions + 3);
    assert_int_equal(s.count_pressure, 0);
    char listing[1024];
    dir_listing(path, listing, sizeof(listing));
    fds_release();
    assert_null(strstr(listing, ".tmp"));
    assert_non_null(strstr(listing, "wal-spare"));
    int segments = 0;
    for (const char *p = strstr(listing, "wal-0"); p != NULL; p = strstr(p + 1, "wal-0")) {
        segments++;
    }
    assert_int_equal(segments, 1);
    void_pstore_close(&s);
    check_reopen(path, key);
}

/* Setup: a store with small segments, one filled up, its spare taken away.
 * Action: use up every descriptor and write the record that needs a new
 * segment, three times; then free descriptors and write it again.
 * Expected: VOID_EPRESSURE each time with the directory unchanged (no
 * .tmp); then 0, a new spare, and every record back after a reopen. */
static void test_pstore_rotation_without_descriptors_is_retryable(void **state)
{
    (void)state;
    char path[300];
    snprintf(path, sizeof(path), "%s/a", dir);
    struct void_pstore s;
    assert_int_equal(void_pstore_open(&s, path, &(struct void_pstore_config){SEGMENT}, NULL, 0), 0);
    uint8_t data[100];
    memset(data, 'r', sizeof(data));
    uint64_t key = 0;
    fill_segment(&s, &key, data);
    drop_spare(&s, path);
    char before[1024], after[1024];
    dir_listing(path, before, sizeof(before));
    uint64_t compactions = s.count_compactions;

    fds_exhaust(0);
    struct void_pstore_op op = put(key, data, 100);
    for (int attempt = 0; attempt < 3; attempt++) {
        assert_int_equal(void_pstore_write(&s, &op, 1), VOID_EPRESSURE);
        dir_listing(path, after, sizeof(after));
        assert_string_equal(after, before);
    }
    assert_int_equal(s.failed, 0);
    assert_int_equal(s.count_pressure, 3);
    assert_int_equal(s.count_compactions, compactions);

    fds_release();
    assert_int_equal(void_pstore_write(&s, &op, 1), 0);
    key++;
    assert_int_equal(s.count_compactions, compactions + 1);
    dir_listing(path, after, sizeof(after));
    assert_null(strstr(after, ".tmp"));
    assert_non_null(strstr(after, "wal-spare"));
    assert_true(s.spare_fd >= 0);
    void_pstore_close(&s);
    check_reopen(path, key);
}

/* Setup: a full segment and no spare file. Action: out of descriptors, write
 * the record that needs a new segment. Expected: VOID_EPRESSURE, no file
 * created; then a different, small write (it would fit in the old segment)
 * goes to a new segment with both records, since the refused one is only in
 * memory: after a reopen both are there. */
static void test_pstore_write_after_refused_rotation_compacts(void **state)
{
    (void)state;
    char path[300];
    snprintf(path, sizeof(path), "%s/b", dir);
    struct void_pstore s;
    assert_int_equal(void_pstore_open(&s, path, &(struct void_pstore_config){SEGMENT}, NULL, 0), 0);
    uint8_t data[100];
    memset(data, 'r', sizeof(data));
    uint64_t key = 0;
    fill_segment(&s, &key, data);
    drop_spare(&s, path);
    char before[1024], after[1024];
    dir_listing(path, before, sizeof(before));

    fds_exhaust(0);
    struct void_pstore_op big[2] = {put(key, data, 100), put(key + 1, data, 100)};
    assert_int_equal(void_pstore_write(&s, big, 2), VOID_EPRESSURE);
    dir_listing(path, after, sizeof(after));
    assert_string_equal(after, before);
    fds_release();

    struct void_pstore_op small = put(key + 2, data, 100);
    assert_int_equal(void_pstore_write(&s, &small, 1), 0);
    void_pstore_close(&s);
    check_reopen(path, key + 3);
}

/* Setup: a full segment, no spare. Action: leave exactly one descriptor free
 * and write the record that needs a new segment. Expected: the write
 * succeeds (the new segment takes that descriptor; the retired one keeps
 * its own as the new spare's): no .tmp, one segment and a spare, and every
 * record back after a reopen. */
static void test_pstore_rotation_needs_one_free_descriptor(void **state)
{
    (void)state;
    char path[300];
    snprintf(path, sizeof(path), "%s/c", dir);
    struct void_pstore s;
    assert_int_equal(void_pstore_open(&s, path, &(struct void_pstore_config){SEGMENT}, NULL, 0), 0);
    uint8_t data[100];
    memset(data, 'r', sizeof(data));
    uint64_t key = 0;
    fill_segment(&s, &key, data);
    drop_spare(&s, path);
    uint64_t compactions = s.count_compactions;
    fds_exhaust(1);
    struct void_pstore_op op = put(key++, data, 100);
    assert_int_equal(void_pstore_write(&s, &op, 1), 0);
    fds_release();
    assert_int_equal(s.count_compactions, compactions + 1);
    char listing[1024];
    dir_listing(path, listing, sizeof(listing));
    assert_null(strstr(listing, ".tmp"));
    int segments = 0;
    for (const char *p = strstr(listing, "wal-0"); p != NULL; p = strstr(p + 1, "wal-0")) {
        segments++;
    }
    assert_int_equal(segments, 1);
    assert_non_null(strstr(listing, "wal-spare"));
    void_pstore_close(&s);
    check_reopen(path, key);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(
            test_pstore_rotates_with_no_descriptor_free, setup, teardown),
        cmocka_unit_test_setup_teardown(
            test_pstore_rotation_without_descriptors_is_retryable, setup, teardown),
        cmocka_unit_test_setup_teardown(
            test_pstore_write_after_refused_rotation_compacts, setup, teardown),
        cmocka_unit_test_setup_teardown(
            test_pstore_rotation_needs_one_free_descriptor, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
