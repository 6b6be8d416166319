/*
 * Tests of the persisted causal event log (src/store/causal_log.c): records
 * survive a reopen, scans both ways, the window's bounds, compaction by age
 * and by size removing only a prefix (never the newest record), and bad input.
 */

/* cmocka.h needs these first, in this order. */
/* clang-format off */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
/* clang-format on */

#include "void/causal.h"
#include "void/causal_log.h"
#include "void/error.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define T0 1795564800000000000ull

struct fx {
    char dir[64];
    struct void_causal_log log;
};

static int setup(void **state)
{
    struct fx *f = calloc(1, sizeof(*f));
    if (f == NULL) {
        return -1;
    }
    snprintf(f->dir, sizeof(f->dir), "/tmp/test_causal_log.XXXXXX");
    if (mkdtemp(f->dir) == NULL) {
        free(f);
        return -1;
    }
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fx *f = *state;
    void_causal_log_close(&f->log);
    char path[128];
    snprintf(path, sizeof(path), "%s/data.mdb", f->dir);
    unlink(path);
    snprintf(path, sizeof(path), "%s/lock.mdb", f->dir);
    unlink(path);
    rmdir(f->dir);
    free(f);
    return 0;
}

/* Event seq of node 2 at T0 + seq seconds. */
static void event_at(uint64_t seq, struct void_causal_event *ev)
{
    memset(ev, 0, sizeof(*ev));
    ev->id.node = 2;
    ev->id.seq = seq;
    ev->hlc.wall_ns = T0 + seq * 1000000000ull;
    ev->kind = seq % 3 == 0 ? VOID_CAUSAL_RECEIVE : VOID_CAUSAL_SEND;
    if (ev->kind == VOID_CAUSAL_RECEIVE) {
        ev->from.node = 1;
        ev->from.seq = seq * 7;
    }
    ev->op_seq = seq;
}

/* Appends seqs lo..hi in one transaction. */
static void append_range(struct void_causal_log *l, uint64_t lo, uint64_t hi)
{
    size_t n = (size_t)(hi - lo + 1);
    uint64_t *keys = calloc(n, sizeof(*keys));
    uint8_t *recs = calloc(n, VOID_CAUSAL_RECORD_SIZE);
    assert_non_null(keys);
    assert_non_null(recs);
    for (size_t i = 0; i < n; i++) {
        struct void_causal_event ev;
        event_at(lo + i, &ev);
        keys[i] = lo + i;
        void_causal_encode(&ev, recs + i * VOID_CAUSAL_RECORD_SIZE);
    }
    assert_int_equal(void_causal_log_append(l, keys, recs, n), 0);
    free(keys);
    free(recs);
}

struct collect {
    uint64_t keys[64];
    size_t n;
    size_t stop_after;
};

static int collect_fn(void *ctx, uint64_t key, const struct void_causal_event *ev)
{
    struct collect *c = ctx;
    assert_int_equal(ev->id.seq, key);
    c->keys[c->n++] = key;
    return c->stop_after != 0 && c->n == c->stop_after;
}

static void test_records_survive_a_reopen(void **state)
{
    struct fx *f = *state;
    assert_int_equal(void_causal_log_open(&f->log, f->dir, NULL), 0);
    append_range(&f->log, 10, 40);
    void_causal_log_close(&f->log);
    assert_int_equal(void_causal_log_open(&f->log, f->dir, NULL), 0);
    uint64_t first, last, count;
    assert_int_equal(void_causal_log_bounds(&f->log, &first, &last, &count), 0);
    assert_int_equal(first, 10);
    assert_int_equal(last, 40);
    assert_int_equal(count, 31);
    struct void_causal_event ev, want;
    assert_int_equal(void_causal_log_get(&f->log, 21, &ev), 0);
    event_at(21, &want);
    assert_memory_equal(&ev.id, &want.id, sizeof(ev.id));
    assert_int_equal(ev.kind, VOID_CAUSAL_RECEIVE);
    assert_int_equal(ev.from.seq, 147);
    assert_int_equal(ev.hlc.wall_ns, want.hlc.wall_ns);
    assert_int_equal(void_causal_log_get(&f->log, 9, &ev), VOID_ENOTFOUND);
    assert_int_equal(void_causal_log_get(&f->log, 41, &ev), VOID_ENOTFOUND);
    assert_int_equal(void_causal_log_get(&f->log, 0, &ev), VOID_ENOTFOUND);
}

static void test_scans_go_both_ways_and_stop_when_asked(void **state)
{
    struct fx *f = *state;
    assert_int_equal(void_causal_log_open(&f->log, f->dir, NULL), 0);
    append_range(&f->log, 5, 20);
    struct collect c = {0};
    size_t visited = 0;
    assert_int_equal(void_causal_log_scan(&f->log, 12, false, 100, collect_fn, &c, &visited), 0);
    assert_int_equal(visited, 9);
    assert_int_equal(c.keys[0], 12);
    assert_int_equal(c.keys[8], 20);
    memset(&c, 0, sizeof(c));
    assert_int_equal(void_causal_log_scan(&f->log, 12, true, 4, collect_fn, &c, &visited), 0);
    assert_int_equal(visited, 4);
    assert_int_equal(c.keys[0], 12);
    assert_int_equal(c.keys[3], 9);
    memset(&c, 0, sizeof(c));
    /* From above the last key backwards: starts at the last one. */
    assert_int_equal(void_causal_log_scan(&f->log, 1000, true, 2, collect_fn, &c, &visited), 0);
    assert_int_equal(c.keys[0], 20);
    assert_int_equal(c.keys[1], 19);
    memset(&c, 0, sizeof(c));
    c.stop_after = 3;
    assert_int_equal(void_causal_log_scan(&f->log, 0, false, 100, collect_fn, &c, &visited), 0);
    assert_int_equal(visited, 3);
    assert_int_equal(c.keys[0], 5);
    memset(&c, 0, sizeof(c));
    assert_int_equal(void_causal_log_scan(&f->log, 21, false, 100, collect_fn, &c, &visited), 0);
    assert_int_equal(visited, 0);
}

static void test_compaction_by_age_removes_a_prefix_only(void **state)
{
    struct fx *f = *state;
    assert_int_equal(void_causal_log_open(&f->log, f->dir, NULL), 0);
    append_range(&f->log, 1, 50);
    uint64_t removed = 0, first, last, count;
    /* Keep events at T0 + 30 s and after: seqs 30..50. */
    assert_int_equal(void_causal_log_compact(&f->log, T0 + 30 * 1000000000ull, &removed), 0);
    assert_int_equal(removed, 29);
    assert_int_equal(void_causal_log_bounds(&f->log, &first, &last, &count), 0);
    assert_int_equal(first, 30);
    assert_int_equal(last, 50);
    assert_int_equal(count, 21);
    struct void_causal_event ev;
    assert_int_equal(void_causal_log_get(&f->log, 29, &ev), VOID_ENOTFOUND);
    assert_int_equal(void_causal_log_get(&f->log, 30, &ev), 0);
    /* Everything too old: the newest record stays, it carries the numbering. */
    assert_int_equal(void_causal_log_compact(&f->log, UINT64_MAX, &removed), 0);
    assert_int_equal(removed, 20);
    assert_int_equal(void_causal_log_bounds(&f->log, &first, &last, &count), 0);
    assert_int_equal(first, 50);
    assert_int_equal(count, 1);
    assert_int_equal(f->log.count_compacted, 49);
}

static void test_compaction_by_size_keeps_the_tree_in_the_window(void **state)
{
    struct fx *f = *state;
    struct void_causal_log_config cfg = {.max_bytes = 256 * 1024};
    assert_int_equal(void_causal_log_open(&f->log, f->dir, &cfg), 0);
    for (uint64_t s = 1; s <= 40000; s += 1000) {
        append_range(&f->log, s, s + 999);
    }
    uint64_t used = 0, removed = 0, first, last, count;
    assert_int_equal(void_causal_log_used(&f->log, &used), 0);
    assert_true(used > cfg.max_bytes); /* 40,000 records of 72 bytes */
    assert_int_equal(void_causal_log_compact(&f->log, 0, &removed), 0);
    assert_true(removed > 0);
    assert_int_equal(void_causal_log_used(&f->log, &used), 0);
    assert_true(used <= cfg.max_bytes);
    assert_int_equal(void_causal_log_bounds(&f->log, &first, &last, &count), 0);
    assert_int_equal(first, removed + 1); /* the oldest went, in order */
    assert_int_equal(last, 40000);
    assert_int_equal(count, 40000 - removed);
    assert_true(count > 1000); /* only what was over the window */
}

static void test_bad_input_is_refused(void **state)
{
    struct fx *f = *state;
    struct void_causal_log l;
    assert_int_equal(void_causal_log_open(&l, "", NULL), VOID_EINVAL);
    void_causal_log_close(&l);
    assert_int_not_equal(void_causal_log_open(&l, "/proc/no/such/dir", NULL), 0);
    void_causal_log_close(&l);
    /* A record that does not decode is reported, not trusted. */
    assert_int_equal(void_causal_log_open(&f->log, f->dir, NULL), 0);
    uint64_t key = 7;
    uint8_t rec[VOID_CAUSAL_RECORD_SIZE] = {0};
    assert_int_equal(void_causal_log_append(&f->log, &key, rec, 1), 0);
    struct void_causal_event ev;
    assert_int_equal(void_causal_log_get(&f->log, 7, &ev), VOID_ECORRUPT);
    struct collect c = {0};
    size_t visited = 0;
    assert_int_equal(void_causal_log_scan(&f->log, 0, false, 10, collect_fn, &c, &visited),
                     VOID_ECORRUPT);
    assert_int_equal(visited, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_records_survive_a_reopen, setup, teardown),
        cmocka_unit_test_setup_teardown(test_scans_go_both_ways_and_stop_when_asked, setup, teardown),
        cmocka_unit_test_setup_teardown(test_compaction_by_age_removes_a_prefix_only, setup, teardown),
        cmocka_unit_test_setup_teardown(
            test_compaction_by_size_keeps_the_tree_in_the_window, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_input_is_refused, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
