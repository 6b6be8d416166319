/*
 * Log lines of the daemon and tools: "LEVEL HLC node=<id> msg" on stderr, one
 * line per call, written with a single write(2) so that lines of concurrent
 * threads do not interleave.
 */
#ifndef VOID_LOG_H
#define VOID_LOG_H

#include "void/hlc.h"

#include <stdint.h>

enum void_log_level {
    VOID_LOG_DEBUG = 0,
    VOID_LOG_INFO,
    VOID_LOG_WARN,
    VOID_LOG_ERROR,
};

/* Sets the process-wide threshold and node id. hlc (borrowed until the next
 * call; may be NULL) is read, never ticked, to stamp each line with the
 * node's latest HLC. Call before starting threads that log. Cannot fail. */
void void_log_setup(enum void_log_level threshold, uint32_t node_id, const struct void_hlc *hlc);

/* Parses "debug", "info", "warn" or "error". Returns 0 or VOID_EPARSE. */
int void_log_level_parse(const char *text, enum void_log_level *out);

/* Writes one line when level >= the threshold. Cannot fail (a failed write to
 * stderr is ignored). */
void void_log(enum void_log_level level, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

#endif
