/*
 * The node's fault-injection control, POST /fault (docs/chaos.md): off
 * unless [fault] control = 1; then each request must carry a timestamp, a
 * nonce and a signature by the admin key over the target node and the knobs
 * (include/void/fault_auth.h). A request refused for any of these is
 * answered 403 (405 for another method) and counted by reason in
 * void_fault_refused_total.
 *
 * Threads: the handler and the metrics run on the HTTP server's thread; the
 * state is under its own lock all the same.
 */
#ifndef VOID_IO_NODE_FAULT_H
#define VOID_IO_NODE_FAULT_H

#include "metrics.h"
#include "void/config.h"
#include "void/fault_auth.h"
#include "void/http.h"
#include "void/transport.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

/* Why a request was refused (the `reason` label). */
#define VOID__NODE_FAULT_REASONS(X)                                                                \
    X(METHOD, "method")       /* not POST */                                                       \
    X(OFF, "off")             /* [fault] control is not 1 */                                       \
    X(UNSIGNED, "unsigned")   /* no ts_ms, nonce or sig, or malformed ones */                      \
    X(SIGNATURE, "signature") /* the signature is not the admin key's over this request */         \
    X(STALE, "stale")         /* timestamp outside the window or below the floor */                \
    X(REPLAY, "replay")       /* the nonce was taken before */

enum void__node_fault_reason {
#define VOID__X(name, text) VOID__NODE_FAULT_##name,
    VOID__NODE_FAULT_REASONS(VOID__X)
#undef VOID__X
        VOID__NODE_FAULT_REASON_COUNT
};

struct void__node_fault {
    pthread_mutex_t lock;
    int ready;
    struct void_fault_replay replay;
    _Atomic int64_t skew_ns; /* added to the node's clock (node.c physical_now_ns) */
    uint64_t applied;
    uint64_t bad; /* signed, fresh, but a knob out of range (400) */
    uint64_t refused[VOID__NODE_FAULT_REASON_COUNT];
};

/* Sets up f. Returns 0 or VOID_ENOMEM. */
int void__node_fault_init(struct void__node_fault *f);

/* Safe after a failed init. Cannot fail. */
void void__node_fault_fini(struct void__node_fault *f);

/* Answers a request to /fault: checks method, switch, signature and
 * freshness, then the knobs, and sets them on t (the clock skew on f, read
 * by void__node_fault_skew_ns). Writes a JSON body into
 * out[0..cap), sets *len, returns the HTTP status (200, 400, 403, 405). c
 * and t are borrowed for the call. */
int void__node_fault_http(struct void__node_fault *f,
                          const struct void_config *c,
                          struct void_transport *t,
                          const char *method,
                          void_http_arg_fn arg,
                          void *req,
                          char *out,
                          size_t cap,
                          size_t *len);

/* The clock skew /fault set, in ns (0 when none). Callable from any thread. */
int64_t void__node_fault_skew_ns(const struct void__node_fault *f);

/* Writes void_fault_requests_total and void_fault_refused_total. Cannot
 * fail. */
void void__node_fault_metrics(struct void__node_fault *f, struct void__metrics_writer *w);

#endif
