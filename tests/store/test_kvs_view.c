/*
 * Tests of the LMDB store's read-only views (include/void/kvs.h,
 * void_kvs_lmdb_view_*): the state as of a time and the changes between two
 * times that voidd's /trace/state and /trace/diff answer from
 * (docs/causality.md), their refusals, and that a view sees one committed
 * state whole while another thread goes on writing.
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

#include <dirent.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static struct void_hlc_ts ts(uint64_t wall)
{
    struct void_hlc_ts t = {wall, 0};
    return t;
}

static void make_dir(char *dir, size_t cap)
{
    const char *tmp = getenv("TMPDIR");
    snprintf(dir, cap, "%s/void-kview-XXXXXX", tmp != NULL ? tmp : "/tmp");
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

static void put(struct void_kvs *kvs, const char *k, const char *v)
{
    assert_int_equal(
        void_kvs_put(kvs, (const uint8_t *)k, strlen(k), (const uint8_t *)v, strlen(v)), 0);
}

static void del(struct void_kvs *kvs, const char *k)
{
    assert_int_equal(void_kvs_del(kvs, (const uint8_t *)k, strlen(k)), 0);
}

/* What a scan or a change walk gave, as text: "k=v;" or "k:old>new;". */
struct seen {
    char text[8192];
    size_t len;
};

static void seen_put(struct seen *s, const void *p, size_t n)
{
    assert_true(n < sizeof(s->text) - s->len);
    memcpy(s->text + s->len, p, n);
    s->len += n;
    s->text[s->len] = '\0';
}

static void seen_str(struct seen *s, const char *text)
{
    seen_put(s, text, strlen(text));
}

static int on_key(void *arg, const uint8_t *key, size_t klen, const struct void_kvs_version *v)
{
    struct seen *s = arg;
    /* Long keys are shown by their length and last byte. */
    if (klen > 64) {
        char tag[32];
        snprintf(tag, sizeof(tag), "long%zu", klen);
        seen_str(s, tag);
    } else {
        seen_put(s, key, klen);
    }
    seen_str(s, "=");
    seen_put(s, v->value, v->value_len);
    seen_str(s, ";");
    return 0;
}

static int on_change(void *arg,
                     const uint8_t *key,
                     size_t klen,
                     const struct void_kvs_version *was,
                     const struct void_kvs_version *now)
{
    struct seen *s = arg;
    seen_put(s, key, klen);
    seen_str(s, ":");
    if (was != NULL) {
        seen_put(s, was->value, was->value_len);
    } else {
        seen_str(s, "-");
    }
    seen_str(s, ">");
    if (now != NULL) {
        seen_put(s, now->value, now->value_len);
    } else {
        seen_str(s, "-");
    }
    seen_str(s, ";");
    return 0;
}

static const char *
state_at(struct void_kvs_view *v, uint64_t wall, const char *prefix, size_t limit, int *more)
{
    static struct seen s;
    memset(&s, 0, sizeof(s));
    struct void_kvs_range r, *rp = NULL;
    uint8_t end[64];
    if (prefix != NULL) {
        void_kvs_prefix_range((const uint8_t *)prefix, strlen(prefix), end, &r);
        rp = &r;
    }
    struct void_hlc_ts t = ts(wall);
    size_t n = 0;
    int m = 0;
    assert_int_equal(void_kvs_view_scan(v, rp, &t, limit, on_key, &s, &n, &m), 0);
    if (more != NULL) {
        *more = m;
    }
    return s.text;
}

static const char *
changes(struct void_kvs_view *v, uint64_t from, uint64_t to, size_t limit, int *more)
{
    static struct seen s;
    memset(&s, 0, sizeof(s));
    size_t n = 0;
    int m = 0;
    assert_int_equal(void_kvs_view_changes(v, NULL, ts(from), ts(to), limit, on_change, &s, &n, &m),
                     0);
    if (more != NULL) {
        *more = m;
    }
    return s.text;
}

/* A store written at known times: 10 {a=1, b=2, d=7, e=5}; 20 {a=3, b
 * deleted, c=4, d=7 again, x=9}; 25 {x deleted}; 30 {a long key}. */
static void write_history(struct void_kvs *kvs)
{
    assert_int_equal(void_kvs_begin(kvs, ts(10), 1), 0);
    put(kvs, "a", "1");
    put(kvs, "b", "2");
    put(kvs, "d", "7");
    put(kvs, "e", "5");
    assert_int_equal(void_kvs_commit(kvs), 0);
    assert_int_equal(void_kvs_begin(kvs, ts(20), 2), 0);
    put(kvs, "a", "3");
    del(kvs, "b");
    put(kvs, "c", "4");
    put(kvs, "d", "7");
    put(kvs, "x", "9");
    assert_int_equal(void_kvs_commit(kvs), 0);
    assert_int_equal(void_kvs_begin(kvs, ts(25), 3), 0);
    del(kvs, "x");
    assert_int_equal(void_kvs_commit(kvs), 0);
    assert_int_equal(void_kvs_begin(kvs, ts(30), 4), 0);
    uint8_t longkey[1000];
    memset(longkey, 'z', sizeof(longkey));
    assert_int_equal(void_kvs_put(kvs, longkey, sizeof(longkey), (const uint8_t *)"L", 1), 0);
    assert_int_equal(void_kvs_commit(kvs), 0);
}

static void test_view_answers_the_state_as_of_each_time_between_writes(void **state)
{
    (void)state;
    char dir[256];
    make_dir(dir, sizeof(dir));
    struct void_kvs kvs;
    struct void_kvs_lmdb_config cfg = {.create = 1};
    assert_int_equal(void_kvs_lmdb_open(&kvs, dir, &cfg), 0);
    write_history(&kvs);
    struct void_kvs_view *v = NULL;
    assert_int_equal(void_kvs_lmdb_view_open(&kvs, &v), 0);
    struct void_kvs_stats st;
    void_kvs_view_stats(v, &st);
    assert_int_equal(st.last.wall_ns, 30);
    assert_int_equal(st.applied, 4);
    assert_string_equal(state_at(v, 5, NULL, 0, NULL), "");
    assert_string_equal(state_at(v, 10, NULL, 0, NULL), "a=1;b=2;d=7;e=5;");
    assert_string_equal(state_at(v, 19, NULL, 0, NULL), "a=1;b=2;d=7;e=5;");
    assert_string_equal(state_at(v, 20, NULL, 0, NULL), "a=3;c=4;d=7;e=5;x=9;");
    assert_string_equal(state_at(v, 25, NULL, 0, NULL), "a=3;c=4;d=7;e=5;");
    assert_string_equal(state_at(v, 30, NULL, 0, NULL), "a=3;c=4;d=7;e=5;long1000=L;");
    int more = 0;
    assert_string_equal(state_at(v, 20, NULL, 2, &more), "a=3;c=4;");
    assert_true(more);
    assert_string_equal(state_at(v, 20, "c", 0, &more), "c=4;");
    assert_false(more);
    /* A batch committed after the view opened is not in it; a new view has it. */
    assert_int_equal(void_kvs_begin(&kvs, ts(50), 5), 0);
    put(&kvs, "b", "new");
    assert_int_equal(void_kvs_commit(&kvs), 0);
    assert_string_equal(state_at(v, 60, NULL, 0, NULL), "a=3;c=4;d=7;e=5;long1000=L;");
    void_kvs_view_close(v);
    assert_int_equal(void_kvs_lmdb_view_open(&kvs, &v), 0);
    assert_string_equal(state_at(v, 60, NULL, 0, NULL), "a=3;b=new;c=4;d=7;e=5;long1000=L;");
    void_kvs_view_close(v);
    void_kvs_close(&kvs);
    remove_dir(dir);
}

static void test_view_lists_created_changed_and_deleted_keys_between_two_times(void **state)
{
    (void)state;
    char dir[256];
    make_dir(dir, sizeof(dir));
    struct void_kvs kvs;
    struct void_kvs_lmdb_config cfg = {.create = 1};
    assert_int_equal(void_kvs_lmdb_open(&kvs, dir, &cfg), 0);
    write_history(&kvs);
    struct void_kvs_view *v = NULL;
    assert_int_equal(void_kvs_lmdb_view_open(&kvs, &v), 0);
    /* d rewritten with its value and x born and gone are no change. */
    assert_string_equal(changes(v, 10, 25, 0, NULL), "a:1>3;b:2>-;c:->4;");
    assert_string_equal(changes(v, 10, 20, 0, NULL), "a:1>3;b:2>-;c:->4;x:->9;");
    assert_string_equal(changes(v, 20, 25, 0, NULL), "x:9>-;");
    assert_string_equal(changes(v, 0, 10, 0, NULL), "a:->1;b:->2;d:->7;e:->5;");
    assert_string_equal(changes(v, 12, 18, 0, NULL), "");
    int more = 0;
    assert_string_equal(changes(v, 10, 25, 2, &more), "a:1>3;b:2>-;");
    assert_true(more);
    assert_string_equal(changes(v, 10, 25, 3, &more), "a:1>3;b:2>-;c:->4;");
    assert_false(more); /* d and e did not change: no more */
    /* Resume after the last key given. */
    struct void_kvs_range r = {.start = (const uint8_t *)"b", .start_len = 1, .start_after = 1};
    struct seen s;
    memset(&s, 0, sizeof(s));
    size_t n = 0;
    assert_int_equal(void_kvs_view_changes(v, &r, ts(10), ts(25), 0, on_change, &s, &n, &more), 0);
    assert_string_equal(s.text, "c:->4;");
    assert_int_equal(n, 1);
    assert_int_equal(void_kvs_view_changes(v, NULL, ts(25), ts(10), 0, on_change, &s, &n, &more),
                     VOID_EINVAL);
    void_kvs_view_close(v);
    void_kvs_close(&kvs);
    remove_dir(dir);
}

static void test_view_refuses_times_before_the_horizon(void **state)
{
    (void)state;
    char dir[256];
    make_dir(dir, sizeof(dir));
    struct void_kvs kvs;
    struct void_kvs_lmdb_config cfg = {.create = 1};
    assert_int_equal(void_kvs_lmdb_open(&kvs, dir, &cfg), 0);
    write_history(&kvs);
    assert_int_equal(void_kvs_begin(&kvs, ts(40), 5), 0);
    assert_int_equal(void_kvs_compact(&kvs, ts(22)), 0);
    assert_int_equal(void_kvs_commit(&kvs), 0);
    struct void_kvs_view *v = NULL;
    assert_int_equal(void_kvs_lmdb_view_open(&kvs, &v), 0);
    struct void_kvs_stats st;
    void_kvs_view_stats(v, &st);
    assert_int_equal(st.horizon.wall_ns, 22);
    struct seen s;
    size_t n = 0;
    int more = 0;
    struct void_hlc_ts t = ts(21);
    assert_int_equal(void_kvs_view_scan(v, NULL, &t, 0, on_key, &s, &n, &more), VOID_EKVS_TOO_OLD);
    assert_int_equal(void_kvs_view_changes(v, NULL, ts(10), ts(30), 0, on_change, &s, &n, &more),
                     VOID_EKVS_TOO_OLD);
    assert_string_equal(state_at(v, 22, NULL, 0, NULL), "a=3;c=4;d=7;e=5;x=9;");
    assert_string_equal(changes(v, 22, 29, 0, NULL), "x:9>-;");
    void_kvs_view_close(v);
    void_kvs_close(&kvs);
    remove_dir(dir);
}

/* ---- a view on another thread while batches commit ---------------------- */

struct reader {
    struct void_kvs *kvs;
    atomic_int stop;
    long views, torn;
};

static int count_key(void *arg, const uint8_t *key, size_t klen, const struct void_kvs_version *v)
{
    (void)key;
    (void)klen;
    (void)v;
    (*(uint64_t *)arg)++;
    return 0;
}

/* Batch i (label i) writes key i: a view that saw label L must hold exactly
 * L keys as of its last batch, and as many as of the newest. */
static void *read_loop(void *arg)
{
    struct reader *r = arg;
    while (!atomic_load(&r->stop)) {
        struct void_kvs_view *v = NULL;
        if (void_kvs_lmdb_view_open(r->kvs, &v) != 0) {
            r->torn++;
            continue;
        }
        struct void_kvs_stats st;
        void_kvs_view_stats(v, &st);
        uint64_t a = 0, b = 0;
        size_t n = 0;
        int more = 0;
        (void)void_kvs_view_scan(v, NULL, &st.last, 0, count_key, &a, &n, &more);
        for (int i = 0; i < 20; i++) {
            sched_yield(); /* let the writer commit while this view is open */
        }
        (void)void_kvs_view_scan(v, NULL, NULL, 0, count_key, &b, &n, &more);
        if (a != st.applied || b != st.applied) {
            r->torn++;
        }
        r->views++;
        void_kvs_view_close(v);
    }
    return NULL;
}

static void test_view_sees_one_committed_state_while_another_thread_writes(void **state)
{
    (void)state;
    char dir[256];
    make_dir(dir, sizeof(dir));
    struct void_kvs kvs;
    struct void_kvs_lmdb_config cfg = {.create = 1};
    assert_int_equal(void_kvs_lmdb_open(&kvs, dir, &cfg), 0);
    assert_int_equal(void_kvs_begin(&kvs, ts(1), 1), 0);
    put(&kvs, "k00001", "v");
    assert_int_equal(void_kvs_commit(&kvs), 0);
    struct reader r = {.kvs = &kvs};
    atomic_init(&r.stop, 0);
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, read_loop, &r), 0);
    for (uint64_t i = 2; i <= 400; i++) {
        char k[16];
        snprintf(k, sizeof(k), "k%05u", (unsigned)i);
        assert_int_equal(void_kvs_begin(&kvs, ts(i), i), 0);
        put(&kvs, k, "v");
        assert_int_equal(void_kvs_commit(&kvs), 0);
    }
    atomic_store(&r.stop, 1);
    assert_int_equal(pthread_join(th, NULL), 0);
    assert_true(r.views > 0);
    assert_int_equal(r.torn, 0);
    void_kvs_close(&kvs);
    remove_dir(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_view_answers_the_state_as_of_each_time_between_writes),
        cmocka_unit_test(test_view_lists_created_changed_and_deleted_keys_between_two_times),
        cmocka_unit_test(test_view_refuses_times_before_the_horizon),
        cmocka_unit_test(test_view_sees_one_committed_state_while_another_thread_writes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
