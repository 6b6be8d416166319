/*
 * Tests of the log line format (issue 15): a line starts with the wall-clock
 * time it was written (RFC 3339, UTC, microseconds), then the level, the node
 * id and the node's HLC as a separate "hlc=" field ("-" before the first
 * event). The HLC must not stand in for the time: a line written long after
 * the last event carries the current time and the old HLC.
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
#include "void/hlc.h"
#include "void/log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* 2026-12-06T21:46:35.213293576Z */
#define T0 1796593595213293576ull

/* Setup: a known time and HLC. Action: format a head. Expected: the exact
 * text, microseconds truncated, the HLC in its own field. */
static void test_log_head_has_wall_time_then_level_node_and_hlc(void **state)
{
    (void)state;
    char out[VOID_LOG_HEAD_MAX];
    struct void_hlc_ts hlc = {.wall_ns = T0 - 5000000000ull, .logical = 3};
    int n = void_log_format_head(out, sizeof(out), T0, VOID_LOG_INFO, 2, &hlc);
    assert_string_equal(out,
                        "2026-12-06T21:46:35.213293Z INFO  node=2 "
                        "hlc=2026-12-06T21:46:30.213293576Z/3 ");
    assert_int_equal(n, (int)strlen(out));
    n = void_log_format_head(out, sizeof(out), T0, VOID_LOG_ERROR, 0, &hlc);
    assert_true(n > 0);
    assert_non_null(strstr(out, "Z ERROR node=0 hlc="));
}

/* Setup: no HLC, then a zero HLC. Action: format. Expected: "hlc=-" while
 * the time is still printed. */
static void test_log_head_without_hlc_prints_dash(void **state)
{
    (void)state;
    char out[VOID_LOG_HEAD_MAX];
    assert_true(void_log_format_head(out, sizeof(out), T0, VOID_LOG_WARN, 7, NULL) > 0);
    assert_string_equal(out, "2026-12-06T21:46:35.213293Z WARN  node=7 hlc=- ");
    struct void_hlc_ts zero = {0};
    assert_true(void_log_format_head(out, sizeof(out), T0, VOID_LOG_DEBUG, 7, &zero) > 0);
    assert_string_equal(out, "2026-12-06T21:46:35.213293Z DEBUG node=7 hlc=- ");
}

/* Setup: the epoch and a buffer one byte too small. Expected: the epoch
 * formats as 1970-01-01T00:00:00.000000Z; a short buffer is VOID_ERANGE. */
static void test_log_head_limits(void **state)
{
    (void)state;
    char out[VOID_LOG_HEAD_MAX];
    int n = void_log_format_head(out, sizeof(out), 0, VOID_LOG_INFO, 1, NULL);
    assert_string_equal(out, "1970-01-01T00:00:00.000000Z INFO  node=1 hlc=- ");
    char small[VOID_LOG_HEAD_MAX];
    assert_int_equal(void_log_format_head(small, (size_t)n, 0, VOID_LOG_INFO, 1, NULL),
                     VOID_ERANGE);
    assert_int_equal(void_log_format_head(small, (size_t)n + 1, 0, VOID_LOG_INFO, 1, NULL), n);
}

/* Seconds since the epoch of a UTC civil time (timegm is not POSIX):
 * Howard Hinnant's days_from_civil. */
static long long utc_seconds(int y, int m, int d, int hh, int mm, int ss)
{
    y -= m <= 2;
    long long era = (y >= 0 ? y : y - 399) / 400;
    long long yoe = y - era * 400;
    long long doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    long long doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    long long days = era * 146097 + doe - 719468;
    return days * 86400 + hh * 3600 + mm * 60 + ss;
}

/* Setup: stderr redirected to a pipe; a node HLC last ticked an hour ago.
 * Action: void_log. Expected: the line's time is now (within 5 s of the
 * clock read around the call), not the HLC; the HLC is in "hlc=". */
static void test_log_line_is_stamped_with_the_time_of_the_line(void **state)
{
    (void)state;
    int fds[2];
    assert_int_equal(pipe(fds), 0);
    int saved = dup(STDERR_FILENO);
    assert_true(saved >= 0);
    assert_int_equal(dup2(fds[1], STDERR_FILENO), STDERR_FILENO);
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    struct void_hlc hlc;
    memset(&hlc, 0, sizeof(hlc));
    hlc.last.wall_ns = ((uint64_t)now.tv_sec - 3600) * 1000000000ull;
    void_log_setup(VOID_LOG_INFO, 4, &hlc);
    void_log(VOID_LOG_INFO, "hello %d", 42);
    void_log(VOID_LOG_DEBUG, "below the threshold");
    void_log_setup(VOID_LOG_INFO, 0, NULL);
    assert_int_equal(dup2(saved, STDERR_FILENO), STDERR_FILENO);
    close(saved);
    close(fds[1]);
    char line[512] = "";
    ssize_t got = read(fds[0], line, sizeof(line) - 1);
    close(fds[0]);
    assert_true(got > 0);
    line[got] = '\0';
    assert_non_null(strstr(line, " INFO  node=4 hlc="));
    assert_non_null(strstr(line, "Z/0 hello 42\n"));
    assert_null(strstr(line, "below"));
    int y = 0, mo = 0, d = 0, hh = 0, mi = 0, ss = 0;
    unsigned usec = 0;
    assert_int_equal(
        sscanf(line, "%4d-%2d-%2dT%2d:%2d:%2d.%6uZ", &y, &mo, &d, &hh, &mi, &ss, &usec), 7);
    long long skew = utc_seconds(y, mo, d, hh, mi, ss) - (long long)now.tv_sec;
    assert_true(skew >= -1 && skew <= 5);
    assert_true(usec < 1000000u);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_log_head_has_wall_time_then_level_node_and_hlc),
        cmocka_unit_test(test_log_head_without_hlc_prints_dash),
        cmocka_unit_test(test_log_head_limits),
        cmocka_unit_test(test_log_line_is_stamped_with_the_time_of_the_line),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
