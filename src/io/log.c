/*
 * Process-wide logging for voidd and the tools. Each line carries the level,
 * the node's latest HLC (so log lines of different nodes can be merged in
 * causal order) and the node id, and is written with one write(2) call.
 * The HLC is only read here: logging must not create events.
 */
#include "void/log.h"

#include "void/assert.h"
#include "void/error.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
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

void void_log(enum void_log_level level, const char *fmt, ...)
{
    VOID_ASSERT(level <= VOID_LOG_ERROR);
    VOID_ASSERT(fmt != NULL);
    if (level < log_threshold) {
        return;
    }
    char hlc_text[VOID_HLC_FORMAT_MAX] = "-";
    if (log_hlc != NULL && log_hlc->last.wall_ns != 0) { /* "-" until the first event */
        (void)void_hlc_format(log_hlc->last, hlc_text, sizeof(hlc_text));
    }
    char line[1024];
    int head = snprintf(
        line, sizeof(line), "%s %s node=%u ", level_names[level], hlc_text, (unsigned)log_node_id);
    if (head < 0 || (size_t)head >= sizeof(line)) {
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
