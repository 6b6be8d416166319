/*
 * Tests of the Prometheus exposition writer (src/io/metrics.c): families with
 * HELP and TYPE, escaped help text and label values, histograms with
 * cumulative buckets, +Inf, _sum and _count, exact fixed-point numbers, and
 * a buffer too small for everything: complete families only, then a comment
 * that says where the output was cut, never a byte past the buffer.
 */
/* cmocka.h needs these first, in this order. */
/* clang-format off */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
/* clang-format on */

#include "io/metrics.h"
#include "void/error.h"

#include <stdio.h>
#include <string.h>

static const struct void__metrics_buckets seconds = {
    .count = 3, .digits = 9, .upper = {250000, 1000000, 2500000000ull}};
static const struct void__metrics_buckets bytes = {.count = 2, .digits = 0, .upper = {1024, 4096}};

static char out[8192];

/* Renders a fixed set of families into buf[0..cap); returns the length. */
static size_t render(char *buf, size_t cap, int *rc)
{
    struct void__metrics_histogram h;
    void__metrics_histogram_init(&h, &seconds);
    void__metrics_histogram_observe(&h, 100000);
    void__metrics_histogram_observe(&h, 3000000000ull);
    struct void__metrics_writer w;
    void__metrics_init(&w, buf, cap);
    void__metrics_family(&w, "void_a_total", VOID_METRICS_COUNTER, "Things counted.");
    void__metrics_u64(&w, "op", "x", 1);
    void__metrics_u64(&w, "op", "y", 2);
    void__metrics_family(&w, "void_b_seconds", VOID_METRICS_HISTOGRAM, "A latency.");
    void__metrics_histogram(&w, NULL, NULL, &h);
    void__metrics_family(&w, "void_c", VOID_METRICS_GAUGE, "A gauge.");
    void__metrics_u64(&w, NULL, NULL, 7);
    size_t len = 0;
    *rc = void__metrics_finish(&w, &len);
    return len;
}

/* Setup: a counter with two labelled samples and a gauge. Action: render.
 * Expected: exactly HELP, TYPE, then the samples, per family. */
static void test_metrics_writes_help_type_and_samples_per_family(void **state)
{
    (void)state;
    struct void__metrics_writer w;
    void__metrics_init(&w, out, sizeof(out));
    void__metrics_family(&w, "void_commits_total", VOID_METRICS_COUNTER, "Commits.");
    void__metrics_u64(&w, "unit", "batch", 3);
    void__metrics_u64(&w, "unit", "request", 18446744073709551615ull);
    void__metrics_family(&w, "void_view", VOID_METRICS_GAUGE, "The view.");
    void__metrics_u64(&w, NULL, NULL, 0);
    void__metrics_family(&w, "void_clock_offset_seconds", VOID_METRICS_GAUGE, "Offset.");
    void__metrics_fixed(&w, NULL, NULL, -1500000, 9);
    size_t len = 0;
    assert_int_equal(void__metrics_finish(&w, &len), 0);
    out[len] = '\0';
    assert_string_equal(out,
                        "# HELP void_commits_total Commits.\n"
                        "# TYPE void_commits_total counter\n"
                        "void_commits_total{unit=\"batch\"} 3\n"
                        "void_commits_total{unit=\"request\"} 18446744073709551615\n"
                        "# HELP void_view The view.\n"
                        "# TYPE void_view gauge\n"
                        "void_view 0\n"
                        "# HELP void_clock_offset_seconds Offset.\n"
                        "# TYPE void_clock_offset_seconds gauge\n"
                        "void_clock_offset_seconds -0.0015\n");
    assert_int_equal(w.families, 3);
}

/* Setup: help text with a backslash, a newline and quotes; a label value
 * with all three. Action: render. Expected: backslash and newline escaped in
 * both, the quote only in the label value (the format's rules). */
static void test_metrics_escapes_help_text_and_label_values(void **state)
{
    (void)state;
    struct void__metrics_writer w;
    void__metrics_init(&w, out, sizeof(out));
    void__metrics_family(&w, "void_x_total", VOID_METRICS_COUNTER, "a\\b \"q\"\nnext");
    void__metrics_u64(&w, "path", "C:\\d \"e\"\nf", 1);
    size_t len = 0;
    assert_int_equal(void__metrics_finish(&w, &len), 0);
    out[len] = '\0';
    assert_string_equal(out,
                        "# HELP void_x_total a\\\\b \"q\"\\nnext\n"
                        "# TYPE void_x_total counter\n"
                        "void_x_total{path=\"C:\\\\d \\\"e\\\"\\nf\"} 1\n");
}

/* Setup: a seconds histogram (bounds 0.25 ms, 1 ms, 2.5 s) observing 0.1 ms,
 * exactly 1 ms, 2 s and 3 s; a labelled bytes histogram. Action: render.
 * Expected: cumulative buckets (a value on a bound counts in it), +Inf equal
 * to _count, the exact sum in seconds; the label before le. */
static void test_metrics_histogram_buckets_are_cumulative_with_inf_sum_count(void **state)
{
    (void)state;
    struct void__metrics_histogram h, b;
    void__metrics_histogram_init(&h, &seconds);
    void__metrics_histogram_observe(&h, 100000);
    void__metrics_histogram_observe(&h, 1000000);
    void__metrics_histogram_observe(&h, 2000000000ull);
    void__metrics_histogram_observe(&h, 3000000000ull);
    void__metrics_histogram_init(&b, &bytes);
    void__metrics_histogram_observe(&b, 4096);
    struct void__metrics_writer w;
    void__metrics_init(&w, out, sizeof(out));
    void__metrics_family(&w, "void_lat_seconds", VOID_METRICS_HISTOGRAM, "Latency.");
    void__metrics_histogram(&w, NULL, NULL, &h);
    void__metrics_family(&w, "void_block_bytes", VOID_METRICS_HISTOGRAM, "Sizes.");
    void__metrics_histogram(&w, "op", "get", &b);
    size_t len = 0;
    assert_int_equal(void__metrics_finish(&w, &len), 0);
    out[len] = '\0';
    assert_string_equal(out,
                        "# HELP void_lat_seconds Latency.\n"
                        "# TYPE void_lat_seconds histogram\n"
                        "void_lat_seconds_bucket{le=\"0.00025\"} 1\n"
                        "void_lat_seconds_bucket{le=\"0.001\"} 2\n"
                        "void_lat_seconds_bucket{le=\"2.5\"} 3\n"
                        "void_lat_seconds_bucket{le=\"+Inf\"} 4\n"
                        "void_lat_seconds_sum 5.0011\n"
                        "void_lat_seconds_count 4\n"
                        "# HELP void_block_bytes Sizes.\n"
                        "# TYPE void_block_bytes histogram\n"
                        "void_block_bytes_bucket{op=\"get\",le=\"1024\"} 0\n"
                        "void_block_bytes_bucket{op=\"get\",le=\"4096\"} 1\n"
                        "void_block_bytes_bucket{op=\"get\",le=\"+Inf\"} 1\n"
                        "void_block_bytes_sum{op=\"get\"} 4096\n"
                        "void_block_bytes_count{op=\"get\"} 1\n");
}

/* Setup: none. Action: format fixed-point numbers. Expected: the shortest
 * exact decimal, a leading 0 before the point, INT64_MIN intact. */
static void test_metrics_formats_fixed_point_exactly(void **state)
{
    (void)state;
    char buf[32];
    const struct {
        int64_t v;
        unsigned digits;
        const char *want;
    } cases[] = {
        {0, 9, "0"},
        {1, 9, "0.000000001"},
        {1000000000, 9, "1"},
        {1500000000, 9, "1.5"},
        {-250000, 9, "-0.00025"},
        {42, 0, "42"},
        {INT64_MIN, 0, "-9223372036854775808"},
        {INT64_MAX, 9, "9223372036.854775807"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        size_t n = void__metrics_format_fixed(cases[i].v, cases[i].digits, buf);
        assert_string_equal(buf, cases[i].want);
        assert_int_equal(n, strlen(cases[i].want));
    }
}

/* Setup: the full rendering of three families. Action: render it again into
 * every buffer size from the smallest allowed to the full size. Expected:
 * nothing written past the buffer; a short buffer yields VOID_EFULL and a
 * prefix of the full output that ends on a family boundary, then one
 * truncation comment naming the first family left out; a big enough one
 * yields everything. */
static void test_metrics_small_buffer_keeps_whole_families_and_says_so(void **state)
{
    (void)state;
    static char full[4096], cut[4096 + 64];
    int rc = -1;
    size_t full_len = render(full, sizeof(full), &rc);
    assert_int_equal(rc, 0);
    full[full_len] = '\0';
    for (size_t cap = VOID_METRICS_TAIL + 1; cap <= full_len + VOID_METRICS_TAIL; cap++) {
        memset(cut, 'Z', sizeof(cut));
        size_t len = render(cut, cap, &rc);
        assert_true(len <= cap);
        assert_int_equal(cut[cap], 'Z'); /* not a byte past the buffer */
        if (rc == 0) {
            assert_int_equal(len, full_len);
            assert_memory_equal(cut, full, full_len);
            continue;
        }
        assert_int_equal(rc, VOID_EFULL);
        cut[len] = '\0';
        char *comment = strstr(cut, "# truncated: family ");
        assert_non_null(comment);
        size_t kept = (size_t)(comment - cut);
        assert_memory_equal(cut, full, kept);
        /* What was kept ends where a family of the full output begins. */
        assert_true(strncmp(full + kept, "# HELP ", 7) == 0);
        char want[128];
        int name_len = (int)strcspn(full + kept + 7, " ");
        (void)snprintf(want, sizeof(want), "# truncated: family %.*s ", name_len, full + kept + 7);
        assert_memory_equal(comment, want, strlen(want));
        assert_int_equal(cut[len - 1], '\n');
    }
}

/* Setup: a buffer that holds the first family and half of the second.
 * Action: render. Expected: the first family whole, no line of the second,
 * the comment names void_b_seconds. */
static void test_metrics_cut_family_leaves_no_partial_lines(void **state)
{
    (void)state;
    int rc = -1;
    static char full[4096];
    size_t full_len = render(full, sizeof(full), &rc);
    full[full_len] = '\0';
    const char *second = strstr(full, "# HELP void_b_seconds");
    assert_non_null(second);
    size_t first_len = (size_t)(second - full);
    size_t len = render(out, first_len + 40 + VOID_METRICS_TAIL, &rc);
    assert_int_equal(rc, VOID_EFULL);
    out[len] = '\0';
    assert_memory_equal(out, full, first_len);
    assert_null(strstr(out, "void_b_seconds_bucket"));
    assert_null(strstr(out, "# TYPE void_b_seconds"));
    assert_non_null(strstr(out + first_len, "# truncated: family void_b_seconds and those after"));
}

/* Setup: a histogram with bounds 1024 and 4096. Action: observe 0, 1024,
 * 1025, 4097. Expected: per-bucket counts 2, 1 and the overflow 1. */
static void test_metrics_histogram_observe_counts_bounds_inclusive(void **state)
{
    (void)state;
    struct void__metrics_histogram h;
    void__metrics_histogram_init(&h, &bytes);
    void__metrics_histogram_observe(&h, 0);
    void__metrics_histogram_observe(&h, 1024);
    void__metrics_histogram_observe(&h, 1025);
    void__metrics_histogram_observe(&h, 4097);
    assert_int_equal(h.counts[0], 2);
    assert_int_equal(h.counts[1], 1);
    assert_int_equal(h.counts[2], 1);
    assert_int_equal(h.count, 4);
    assert_int_equal(h.sum, 0 + 1024 + 1025 + 4097);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_metrics_writes_help_type_and_samples_per_family),
        cmocka_unit_test(test_metrics_escapes_help_text_and_label_values),
        cmocka_unit_test(test_metrics_histogram_buckets_are_cumulative_with_inf_sum_count),
        cmocka_unit_test(test_metrics_formats_fixed_point_exactly),
        cmocka_unit_test(test_metrics_small_buffer_keeps_whole_families_and_says_so),
        cmocka_unit_test(test_metrics_cut_family_leaves_no_partial_lines),
        cmocka_unit_test(test_metrics_histogram_observe_counts_bounds_inclusive),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
