/*
 * voidctl trace state / diff (src/cmd/voidctl_trace_state.c): the key/value
 * state as of a time, and the changes between two times, streamed from the
 * replicas' /trace/state and /trace/diff (docs/causality.md, "State and
 * diff").
 */
#ifndef VOID_CMD_VOIDCTL_TRACE_H
#define VOID_CMD_VOIDCTL_TRACE_H

#include "cmd/voidctl.h"

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

/* Runs the query against the cluster cl and prints the answer as it
 * streams in. Returns an exit status. */
int voidctl_trace_kv_run(const struct voidctl_opts *o,
                         const struct void_config *cl,
                         const struct voidctl_trace_kv *q);

#endif
