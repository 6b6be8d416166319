/*
 * voidctl trace state / diff (src/cmd/voidctl_trace_state.c): the key/value
 * state as of a time, and the changes between two times, streamed from the
 * replicas' /trace/state and /trace/diff (docs/causality.md, "State and
 * diff").
 */
#ifndef VOID_CMD_VOIDCTL_TRACE_H
#define VOID_CMD_VOIDCTL_TRACE_H

#include "cmd/voidctl.h"

#include <stddef.h>
#include <stdint.h>

struct void_config;

/* What `trace state` / `trace diff` was asked (borrowed for the call). */
struct voidctl_trace_kv {
    int diff;
    const char *at;     /* state: --at */
    const char *from;   /* diff: --from */
    const char *to;     /* diff: --to */
    const char *prefix; /* --prefix, NULL: every key */
    const char *after;  /* --after KEY: resume after it, NULL: from the start */
    uint64_t limit;     /* keys at most, 0: all */
};

/* Receives one line of a streamed answer (without its newline; borrowed
 * for the call); returns 0 to go on, nonzero to stop reading. */
typedef int (*voidctl_line_fn)(void *ctx, const char *line, size_t len);

/* GETs url and hands each non-empty line of the body to fn as it arrives,
 * holding only the line being read (a line is at most 4 MiB). No total
 * timeout: the transfer fails when it connects in no timeout_s, or stalls
 * for that long. Sets *code to the HTTP status. Returns 0 when the transfer
 * completed (whatever the status) or fn stopped it, else -1. */
int voidctl_get_lines(const char *url, double timeout_s, voidctl_line_fn fn, void *ctx, long *code);

/* Runs the query against the cluster cl and prints the answer as it
 * streams in. Returns an exit status. */
int voidctl_trace_kv_run(const struct voidctl_opts *o,
                         const struct void_config *cl,
                         const struct voidctl_trace_kv *q);

#endif
