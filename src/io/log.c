/*
 * Process-wide logging for voidd and the tools. Each line starts with the
 * wall-clock time it was written (RFC 3339, UTC, microseconds: when did it
 * happen), then the level, the node id and the node's latest HLC as its own
 * field (so that lines of different nodes can be merged in causal order; the
 * HLC only moves with protocol events, so it cannot date a line), and is
 * written with one write(2) call. The HLC is only read here: logging must
 * not create events.
 */
#include "void/log.h"

#include "void/assert.h"
#include "void/error.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static enum void_log_level log_threshold = VOID_LOG_INFO;
static uint32_t log_node_id;
static const struct void_hlc *log_hlc;

static const char *const level_names[] = {"DEBUG", "INFO", "WARN", "ERROR"};

void void_log_setup(enum void_log_level threshold, uint32_t node_id, const struct void_hlc *hlc)
{
    VOID_ASSERT(threshold <= VOID_LOG_ERROR);
    log_threshold = threshold;
    log_node_id = node_id;
    log_hlc = hlc;
}

int void_log_level_parse(const char *text, enum void_log_level *out)
{
    VOID_ASSERT(text != NULL);
    VOID_ASSERT(out != NULL);
    static const char *const names[] = {"debug", "info", "warn", "error"};
    for (size_t i = 0; i < VOID_ARRAY_LEN(names); i++) {
        if (strcmp(text, names[i]) == 0) {
            *out = (enum void_log_level)i;
            return 0;
        }
    }
    return VOID_EPARSE;
}

int void_log_format_head(char *out,
                         size_t cap,
                         uint64_t realtime_ns,
                         enum void_log_level level,
                         uint32_t node_id,
                         const struct void_hlc_ts *hlc)
{
    VOID_ASSERT(out != NULL && cap > 0);
    VOID_ASSERT(level <= VOID_LOG_ERROR);
    char hlc_text[VOID_HLC_FORMAT_MAX] = "-";
    if (hlc != NULL && hlc->wall_ns != 0) { /* "-" until the first event */
        (void)void_hlc_format(*hlc, hlc_text, sizeof(hlc_text));
    }
    time_t secs = (time_t)(realtime_ns / 1000000000u);
    struct tm tm;
    if (gmtime_r(&secs, &tm) == NULL) {
        return VOID_ERANGE;
    }
    int n = snprintf(out,
                     cap,
                     "%04d-%02d-%02dT%02d:%02d:%02d.%06uZ %-5s node=%u hlc=%s ",
                     tm.tm_year + 1900,
                     tm.tm_mon + 1,
                     tm.tm_mday,
                     tm.tm_hour,
                     tm.tm_min,
                     tm.tm_sec,
                     (unsigned)(realtime_ns % 1000000000u / 1000u),
                     level_names[level],
                     (unsigned)node_id,
                     hlc_text);
    return n >= 0 && (size_t)n < cap ? n : VOID_ERANGE;
}

void void_log(enum void_log_level level, const char *fmt, ...)
{
    VOID_ASSERT(level <= VOID_LOG_ERROR);
    VOID_ASSERT(fmt != NULL);
    if (level < log_threshold) {
        return;
    }
    struct timespec now;
    (void)clock_gettime(CLOCK_REALTIME, &now);
    uint64_t now_ns = (uint64_t)now.tv_sec * 1000000000u + (uint64_t)now.tv_nsec;
    /* A racy read when another thread logs while the loop steps: at worst a
     * line shows an HLC one event old. */
    struct void_hlc_ts hlc = log_hlc != NULL ? log_hlc->last : (struct void_hlc_ts){0};
    char line[1024];
    int head = void_log_format_head(line, sizeof(line), now_ns, level, log_node_id, &hlc);
    if (head < 0) {
        return;
    }
    va_list ap;
    va_start(ap, fmt);
    int body = vsnprintf(line + head, sizeof(line) - (size_t)head, fmt, ap);
    va_end(ap);
    size_t len = (size_t)head + (body < 0 ? 0 : (size_t)body);
    if (len > sizeof(line) - 2) {
        len = sizeof(line) - 2;
    }
    line[len++] = '\n';
    ssize_t written = write(STDERR_FILENO, line, len);
    (void)written;
}
