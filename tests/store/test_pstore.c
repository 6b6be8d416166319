/*
 * Tests of the record log: records come back in (kind, key) order, a put
 * replaces, DELETE_UPTO removes exactly the keys at or below its bound within
 * one kind, and what a write returned for survives closing and reopening the
 * store; a torn last entry is dropped, corruption before the end is refused,
 * compaction keeps exactly the live records, and a writer killed with SIGKILL
 * at random moments (many of them inside a compaction) loses no acknowledged
 * group and never exposes half of one.
 *
 * VOID_PSTORE_KILL_ITERS sets the number of kills (default 60);
 * VOID_PSTORE_KILL_SEED the seed (printed on failure).
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
#include "void/prng.h"
#include "void/pstore.h"

#include <dirent.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
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
    assert_int_equal(void_pstore_open(&s, sub, NULL, NULL, 0), 0);
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
    assert_int_equal(void_pstore_open(&s, sub, NULL, NULL, 0), 0);
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
    assert_int_equal(void_pstore_open(&s, sub, NULL, NULL, 0), 0);
    struct void_pstore_op op = put(1, 0, "durable");
    assert_int_equal(void_pstore_write(&s, &op, 1), 0);
    void_pstore_close(&s);
    assert_int_equal(void_pstore_open(&s, sub, NULL, NULL, 0), 0);
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

/* ---- a deterministic workload and its model ------------------------------- */

#define BIG_LEN 1500

/* Group i of the workload (i >= 1): the view record, entry i, every 10th
 * group a truncation of old entries, every 25th a large checkpoint record.
 * Returns the number of ops; the data lives in bufs. */
static size_t group_make(uint64_t i, struct void_pstore_op ops[4], uint8_t bufs[3][BIG_LEN])
{
    size_t n = 0;
    int len = snprintf((char *)bufs[0], BIG_LEN, "view %" PRIu64, i);
    ops[n++] = (struct void_pstore_op){
        .op = VOID_PSTORE_PUT, .kind = 1, .key = 0, .data = bufs[0], .len = (size_t)len};
    size_t elen = 20 + i % 50;
    memset(bufs[1], (int)('a' + i % 26), elen);
    ops[n++] = (struct void_pstore_op){
        .op = VOID_PSTORE_PUT, .kind = 2, .key = i, .data = bufs[1], .len = elen};
    if (i % 10 == 0) {
        ops[n++] = (struct void_pstore_op){.op = VOID_PSTORE_DELETE_UPTO, .kind = 2, .key = i - 5};
    }
    if (i % 25 == 0) {
        memset(bufs[2], (int)(i % 251), BIG_LEN);
        ops[n++] = (struct void_pstore_op){
            .op = VOID_PSTORE_PUT, .kind = 3, .key = 0, .data = bufs[2], .len = BIG_LEN};
    }
    return n;
}

/* Whether recs[0..n) is exactly the state after groups 1..g. */
static int model_matches(uint64_t g, const struct void_pstore_rec *recs, size_t n)
{
    if (g == 0) {
        return n == 0;
    }
    uint64_t first = g >= 10 ? g / 10 * 10 - 4 : 1;
    size_t want = 1 + (size_t)(g - first + 1) + (g >= 25 ? 1 : 0);
    if (n != want) {
        return 0;
    }
    char view[32];
    int vlen = snprintf(view, sizeof(view), "view %" PRIu64, g);
    if (recs[0].kind != 1 || recs[0].len != (size_t)vlen || memcmp(recs[0].data, view, 5) != 0 ||
        memcmp(recs[0].data, view, (size_t)vlen) != 0) {
        return 0;
    }
    for (uint64_t k = first; k <= g; k++) {
        const struct void_pstore_rec *r = &recs[1 + (k - first)];
        if (r->kind != 2 || r->key != k || r->len != 20 + k % 50 ||
            r->data[r->len - 1] != (uint8_t)('a' + k % 26)) {
            return 0;
        }
    }
    if (g >= 25) {
        const struct void_pstore_rec *r = &recs[n - 1];
        if (r->kind != 3 || r->len != BIG_LEN ||
            r->data[BIG_LEN - 1] != (uint8_t)(g / 25 * 25 % 251)) {
            return 0;
        }
    }
    return 1;
}

static void write_groups(struct void_pstore *s, uint64_t from, uint64_t to)
{
    static uint8_t bufs[3][BIG_LEN];
    for (uint64_t i = from; i <= to; i++) {
        struct void_pstore_op ops[4];
        size_t n = group_make(i, ops, bufs);
        assert_int_equal(void_pstore_write(s, ops, n), 0);
    }
}

static int store_matches(const char *path, const struct void_pstore_config *config, uint64_t g)
{
    struct void_pstore s;
    char err[256];
    int rc = void_pstore_open(&s, path, config, err, sizeof(err));
    if (rc != 0) {
        print_message("open %s: %s\n", path, err);
        return 0;
    }
    struct void_pstore_rec *recs = NULL;
    size_t n = 0;
    assert_int_equal(void_pstore_read_all(&s, &recs, &n), 0);
    int ok = model_matches(g, recs, n);
    free(recs);
    void_pstore_close(&s);
    return ok;
}

/* Path of the current segment of an open store. */
static void segment_path(const struct void_pstore *s, char *out, size_t cap)
{
    snprintf(out, cap, "%s/wal-%016" PRIx64, s->dir, s->segment);
}

static void file_patch(const char *path, uint64_t off, const uint8_t *bytes, size_t len)
{
    int fd = open(path, O_WRONLY);
    assert_true(fd >= 0);
    assert_int_equal(pwrite(fd, bytes, len, (off_t)off), (ssize_t)len);
    assert_int_equal(close(fd), 0);
}

/* ---- torn tail, corruption, compaction ------------------------------------- */

/* Setup: groups 1..5 written, the offsets around group 5 noted. Action: zero
 * the last frame from four cut points (inside the magic, inside the header,
 * inside the body, its last byte), as a crash during its write would leave
 * it, and reopen. Expected: groups 1..4 are there, group 5 is not, the torn
 * entry is counted (once its header names our segment), and the store
 * accepts writes again after it. */
static void test_pstore_drops_torn_last_entry(void **state)
{
    (void)state;
    static const uint64_t cuts[] = {1, 16, 40, 0};
    for (size_t c = 0; c < sizeof(cuts) / sizeof(cuts[0]); c++) {
        char sub[300], seg[400];
        snprintf(sub, sizeof(sub), "%s/torn%zu", dir, c);
        struct void_pstore s;
        assert_int_equal(void_pstore_open(&s, sub, NULL, NULL, 0), 0);
        write_groups(&s, 1, 4);
        uint64_t from = s.offset;
        write_groups(&s, 5, 5);
        uint64_t to = s.offset;
        segment_path(&s, seg, sizeof(seg));
        void_pstore_close(&s);
        uint64_t cut = cuts[c] != 0 ? from + cuts[c] : to - 1;
        static const uint8_t zeros[4096];
        file_patch(seg, cut, zeros, (size_t)(to - cut));
        assert_int_equal(void_pstore_open(&s, sub, NULL, NULL, 0), 0);
        /* Counted once the frame's magic and segment number made it. */
        assert_int_equal(s.count_torn, cuts[c] == 1 ? 0 : 1);
        struct void_pstore_rec *recs = NULL;
        size_t n = 0;
        assert_int_equal(void_pstore_read_all(&s, &recs, &n), 0);
        assert_true(model_matches(4, recs, n));
        free(recs);
        write_groups(&s, 5, 6);
        void_pstore_close(&s);
        assert_true(store_matches(sub, NULL, 6));
    }
}

/* Setup: groups 1..5 written. Action: flip one byte inside group 3's frame
 * (then, in a second store, the last byte of the first frame's body) and
 * reopen. Expected:
 * VOID_ECORRUPT with a message naming the segment, not a silent loss of
 * groups 3..5. */
static void test_pstore_refuses_corruption_before_the_end(void **state)
{
    (void)state;
    for (int where = 0; where < 2; where++) {
        char sub[300], seg[400], err[512];
        snprintf(sub, sizeof(sub), "%s/corrupt%d", dir, where);
        struct void_pstore s;
        assert_int_equal(void_pstore_open(&s, sub, NULL, NULL, 0), 0);
        uint64_t base_end = s.offset;
        write_groups(&s, 1, 2);
        uint64_t third = s.offset;
        write_groups(&s, 3, 5);
        segment_path(&s, seg, sizeof(seg));
        void_pstore_close(&s);
        uint8_t flip = 0x5a;
        file_patch(seg, where == 0 ? third + 40 : base_end - 1, &flip, 1);
        assert_int_equal(void_pstore_open(&s, sub, NULL, err, sizeof(err)), VOID_ECORRUPT);
        void_pstore_close(&s);
        assert_non_null(strstr(err, "wal-"));
        assert_non_null(strstr(err, "corrupt"));
    }
}

/* Opens the store in sub expecting VOID_EDAMAGED, and checks that the message
 * names the damage, the segment file and the way out. */
static void assert_damaged(const char *sub, const char *seg, const char *what)
{
    struct void_pstore s;
    char err[1024];
    assert_int_equal(void_pstore_open(&s, sub, NULL, err, sizeof(err)), VOID_EDAMAGED);
    void_pstore_close(&s);
    print_message("%s\n", err);
    assert_non_null(strstr(err, seg));
    assert_non_null(strstr(err, "record log damaged"));
    assert_non_null(strstr(err, what));
    assert_non_null(strstr(err, "state transfer"));
}

/* A store in sub holding groups 1..n in a fresh 16 MiB segment; *seg gets
 * the segment's path, ends[i] the end of frame i (ends[0]: the BASE). */
static void store_make(const char *sub, uint64_t n, char *seg, size_t cap, uint64_t *ends)
{
    struct void_pstore s;
    assert_int_equal(void_pstore_open(&s, sub, NULL, NULL, 0), 0);
    ends[0] = s.offset;
    for (uint64_t i = 1; i <= n; i++) {
        write_groups(&s, i, i);
        ends[i] = s.offset;
    }
    segment_path(&s, seg, cap);
    assert_int_equal((long long)s.file_size, (long long)VOID_PSTORE_SEGMENT_SIZE_DEF);
    void_pstore_close(&s);
}

/* Setup: groups 1..50 in a preallocated 16 MiB segment. Action: truncate it
 * (at a frame boundary after group 40, so that every entry left is intact;
 * inside group 45's frame; to 20 bytes; inside a BASE holding records) and
 * reopen. Expected: VOID_EDAMAGED with a message naming the file, the
 * truncation and the way out, instead of a store silently behind. */
static void test_pstore_refuses_a_truncated_segment(void **state)
{
    (void)state;
    uint64_t ends[51];
    for (int c = 0; c < 4; c++) {
        char sub[300], seg[400];
        snprintf(sub, sizeof(sub), "%s/trunc%d", dir, c);
        store_make(sub, 50, seg, sizeof(seg), ends);
        if (c == 3) {
            /* Reopening compacts: the new segment's BASE holds the records. */
            struct void_pstore s;
            assert_int_equal(void_pstore_open(&s, sub, NULL, NULL, 0), 0);
            segment_path(&s, seg, sizeof(seg));
            ends[0] = s.offset;
            void_pstore_close(&s);
            assert_true(ends[0] > 1000);
        }
        uint64_t cut = c == 0   ? ends[40]
                       : c == 1 ? ends[44] + (ends[45] - ends[44]) / 2
                       : c == 2 ? 20
                                : ends[0] - 100;
        assert_int_equal(truncate(seg, (off_t)cut), 0);
        assert_damaged(sub, seg, "truncated");
    }
}

/* Setup: groups 1..50 in a fresh 16 MiB segment. Action: write random bytes
 * into the zero fill after the last entry (1 MiB further; over the file's
 * last 16 bytes; 300 bytes right at the end of the last entry, as if a frame
 * had been appended but with no header of ours). Expected: VOID_EDAMAGED
 * naming the file and the garbage, not a silent replay. */
static void test_pstore_refuses_garbage_after_the_last_entry(void **state)
{
    (void)state;
    uint64_t ends[51];
    struct void_prng p;
    void_prng_seed(&p, 7);
    uint8_t junk[300];
    for (size_t i = 0; i < sizeof(junk); i++) {
        junk[i] = (uint8_t)(1 + void_prng_below(&p, 255));
    }
    for (int c = 0; c < 3; c++) {
        char sub[300], seg[400];
        snprintf(sub, sizeof(sub), "%s/garbage%d", dir, c);
        store_make(sub, 50, seg, sizeof(seg), ends);
        uint64_t at = c == 0   ? ends[50] + (1u << 20)
                      : c == 1 ? VOID_PSTORE_SEGMENT_SIZE_DEF - 16
                               : ends[50];
        file_patch(seg, at, junk, c == 1 ? 16 : sizeof(junk));
        assert_damaged(sub, seg, "garbage after the last entry");
    }
}

/* Setup: 4 KiB segments and at least 200 groups, so that the current segment
 * is a recycled file full of an older segment's frames, and room in it for
 * one more group. Action: write the next group, then put the file's old
 * bytes back over the second half of its frame (a crash that let only its
 * first sectors reach the disk), and in a second round over all of it.
 * Expected: both open as a torn last entry (the groups before it; the torn
 * one counted in the first round): stale bytes of a recycled file are not
 * damage. */
static void test_pstore_torn_write_over_a_recycled_file_is_not_damage(void **state)
{
    (void)state;
    struct void_pstore_config cfg = {.segment_size = 4096};
    for (int round = 0; round < 2; round++) {
        char sub[300], seg[400];
        snprintf(sub, sizeof(sub), "%s/recycled%d", dir, round);
        struct void_pstore s;
        assert_int_equal(void_pstore_open(&s, sub, &cfg, NULL, 0), 0);
        uint64_t g = 0;
        while (g < 200 || s.offset + 2 * BIG_LEN > s.file_size) {
            g++;
            write_groups(&s, g, g);
        }
        assert_true(s.count_compactions > 3); /* the spare was recycled */
        segment_path(&s, seg, sizeof(seg));
        uint64_t from = s.offset;
        uint8_t *old = malloc(s.file_size);
        assert_non_null(old);
        int fd = open(seg, O_RDONLY);
        assert_true(fd >= 0);
        assert_int_equal(pread(fd, old, s.file_size, 0), (ssize_t)s.file_size);
        close(fd);
        write_groups(&s, g + 1, g + 1);
        uint64_t to = s.offset;
        void_pstore_close(&s);
        uint64_t keep = round == 0 ? from + (to - from) / 2 : from;
        file_patch(seg, keep, old + keep, (size_t)(to - keep));
        free(old);
        char err[1024] = "";
        int rc = void_pstore_open(&s, sub, &cfg, err, sizeof(err));
        if (rc != 0) {
            fail_msg("round %d: %s", round, err);
        }
        assert_int_equal((long long)s.count_torn, round == 0 ? 1 : 0);
        struct void_pstore_rec *recs = NULL;
        size_t n = 0;
        assert_int_equal(void_pstore_read_all(&s, &recs, &n), 0);
        assert_true(model_matches(g, recs, n));
        free(recs);
        void_pstore_close(&s);
    }
}

/* Files in path whose name starts with prefix (or ends with it, for a prefix
 * starting with a dot); -1 when path does not exist. */
static int count_files(const char *path, const char *prefix)
{
    DIR *d = opendir(path);
    if (d == NULL) {
        return -1;
    }
    int n = 0;
    for (struct dirent *e = readdir(d); e != NULL; e = readdir(d)) {
        size_t len = strlen(e->d_name);
        n += strncmp(e->d_name, prefix, strlen(prefix)) == 0 ||
             (prefix[0] == '.' && len > 4 && strcmp(e->d_name + len - 4, prefix) == 0);
    }
    closedir(d);
    return n;
}

/* Setup: 4 KiB segments. Action: 400 groups (puts, truncations, large
 * records), then reopen. Expected: many compactions happened, the state
 * matches the model before and after reopening, and the directory holds one
 * segment and the spare. */
static void test_pstore_compaction_keeps_exactly_the_live_records(void **state)
{
    (void)state;
    char sub[300];
    snprintf(sub, sizeof(sub), "%s/compact", dir);
    struct void_pstore_config cfg = {.segment_size = 4096};
    struct void_pstore s;
    assert_int_equal(void_pstore_open(&s, sub, &cfg, NULL, 0), 0);
    write_groups(&s, 1, 400);
    print_message("%" PRIu64 " compactions\n", s.count_compactions);
    assert_true(s.count_compactions > 5);
    struct void_pstore_rec *recs = NULL;
    size_t n = 0;
    assert_int_equal(void_pstore_read_all(&s, &recs, &n), 0);
    assert_true(model_matches(400, recs, n));
    free(recs);
    void_pstore_close(&s);
    assert_true(store_matches(sub, &cfg, 400));
    assert_int_equal(count_files(sub, "wal-"), 2);
    assert_int_equal(count_files(sub, "wal-spare"), 1);
}

/* Setup: a directory holding an LMDB data file of an older version. Action:
 * open. Expected: VOID_EIO and a message that says to wipe it. */
static void test_pstore_refuses_an_older_lmdb_data_dir(void **state)
{
    (void)state;
    char sub[300], path[400], err[512];
    snprintf(sub, sizeof(sub), "%s/old", dir);
    assert_int_equal(mkdir(sub, 0700), 0);
    snprintf(path, sizeof(path), "%s/data.mdb", sub);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fclose(f);
    struct void_pstore s;
    assert_int_equal(void_pstore_open(&s, sub, NULL, err, sizeof(err)), VOID_EIO);
    void_pstore_close(&s);
    assert_non_null(strstr(err, "wipe"));
}

/* ---- SIGKILL at random moments ---------------------------------------------- */

/* The child: writes groups from..forever, reporting each acknowledged one. */
static void
child_writer(const char *path, const struct void_pstore_config *cfg, uint64_t from, int fd)
{
    struct void_pstore s;
    if (void_pstore_open(&s, path, cfg, NULL, 0) != 0) {
        _exit(2);
    }
    static uint8_t bufs[3][BIG_LEN];
    for (uint64_t i = from;; i++) {
        struct void_pstore_op ops[4];
        size_t n = group_make(i, ops, bufs);
        if (void_pstore_write(&s, ops, n) != 0 || write(fd, &i, sizeof(i)) != (ssize_t)sizeof(i)) {
            _exit(3);
        }
    }
}

/* Kills a writer after delay_us and returns the last group it acknowledged
 * (from - 1 if none). */
static uint64_t kill_writer(const char *path,
                            const struct void_pstore_config *cfg,
                            uint64_t from,
                            uint64_t delay_us)
{
    int fds[2];
    assert_int_equal(pipe(fds), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        close(fds[0]);
        child_writer(path, cfg, from, fds[1]);
    }
    close(fds[1]);
    struct timespec ts = {.tv_sec = (time_t)(delay_us / 1000000),
                          .tv_nsec = (long)(delay_us % 1000000) * 1000};
    nanosleep(&ts, NULL);
    kill(pid, SIGKILL);
    int status = 0;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFSIGNALED(status)); /* not an early exit with an error */
    uint64_t last = from - 1, v = 0;
    while (read(fds[0], &v, sizeof(v)) == (ssize_t)sizeof(v)) {
        last = v;
    }
    close(fds[0]);
    return last;
}

/* Setup: 4 KiB segments, so that a compaction (with its syncs and renames)
 * runs every dozen groups. Action: repeatedly start a writer that continues
 * the workload, SIGKILL it after a random 0-40 ms, reopen. Expected: the
 * store holds exactly the groups up to the last acknowledged one, or one
 * more (the group in flight may have become durable): never fewer, never
 * half a group; the writer always opens the store it left. */
static void test_pstore_survives_sigkill_at_random_moments(void **state)
{
    (void)state;
    const char *it = getenv("VOID_PSTORE_KILL_ITERS");
    const char *sd = getenv("VOID_PSTORE_KILL_SEED");
    int iters = it != NULL ? atoi(it) : 60;
    uint64_t seed = sd != NULL ? strtoull(sd, NULL, 10) : (uint64_t)time(NULL);
    print_message("kill test: %d kills, seed %" PRIu64 "\n", iters, seed);
    struct void_prng p;
    void_prng_seed(&p, seed);
    char sub[300];
    snprintf(sub, sizeof(sub), "%s/kill", dir);
    struct void_pstore_config cfg = {.segment_size = 4096};
    uint64_t done = 0, in_compaction = 0;
    for (int k = 0; k < iters; k++) {
        uint64_t acked = kill_writer(sub, &cfg, done + 1, void_prng_below(&p, 40000));
        /* Not one segment and the spare: the kill cut a compaction (or the
         * very first open, when no directory exists yet). */
        int files = count_files(sub, "wal-");
        in_compaction += files >= 0 && (files != 2 || count_files(sub, ".tmp") != 0 ||
                                        count_files(sub, "wal-spare") != 1);
        if (store_matches(sub, &cfg, acked)) {
            done = acked;
        } else if (store_matches(sub, &cfg, acked + 1)) {
            done = acked + 1;
        } else {
            fail_msg("seed %" PRIu64 " kill %d: the store holds neither %" PRIu64 " nor %" PRIu64
                     " groups",
                     seed,
                     k,
                     acked,
                     acked + 1);
        }
    }
    print_message("kill test: %" PRIu64 " groups in the end, %" PRIu64
                  " kills inside a compaction\n",
                  done,
                  in_compaction);
    assert_true(done > 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pstore_reads_back_sorted_and_replaced),
        cmocka_unit_test(test_pstore_delete_upto_stays_within_kind_and_bound),
        cmocka_unit_test(test_pstore_survives_reopen_and_rejects_bad_op),
        cmocka_unit_test(test_pstore_drops_torn_last_entry),
        cmocka_unit_test(test_pstore_refuses_corruption_before_the_end),
        cmocka_unit_test(test_pstore_refuses_a_truncated_segment),
        cmocka_unit_test(test_pstore_refuses_garbage_after_the_last_entry),
        cmocka_unit_test(test_pstore_torn_write_over_a_recycled_file_is_not_damage),
        cmocka_unit_test(test_pstore_compaction_keeps_exactly_the_live_records),
        cmocka_unit_test(test_pstore_refuses_an_older_lmdb_data_dir),
        cmocka_unit_test(test_pstore_survives_sigkill_at_random_moments),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
