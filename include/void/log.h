/*
 * Log lines of the daemon and tools on stderr, one line per call, written
 * with a single write(2) so that lines of concurrent threads do not
 * interleave:
 *
 *     2026-12-06T21:46:35.213293Z INFO  node=2 hlc=2026-12-06T21:46:35.201000000Z/3 msg
 *
 * The first field is the wall-clock time of the line (RFC 3339, UTC,
 * microseconds), then the level (padded to 5), the node id and the node's
 * latest hybrid logical clock reading ("hlc=-" before its first event); the
 * HLC orders lines of different nodes causally, the wall time dates them.
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

/* Writes the head of a line ("TIME LEVEL node=ID hlc=HLC ", trailing space
 * included) for a line written at realtime_ns (ns since the Unix epoch,
 * UTC) into out (cap bytes, NUL-terminated); hlc (borrowed for the call) may
 * be NULL or zero: "hlc=-". Returns the length, or VOID_ERANGE when cap is
 * too small (VOID_LOG_HEAD_MAX is enough) or the time is out of range. */
#define VOID_LOG_HEAD_MAX 128
int void_log_format_head(char *out,
                         size_t cap,
                         uint64_t realtime_ns,
                         enum void_log_level level,
                         uint32_t node_id,
                         const struct void_hlc_ts *hlc);

/* Writes one line when level >= the threshold. Cannot fail (a failed write to
 * stderr is ignored). */
void void_log(enum void_log_level level, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

#endif
