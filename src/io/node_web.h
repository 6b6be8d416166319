/*
 * The node's web module (docs/web.md): the event APIs the web view reads
 * and the view's own files.
 *
 *   GET /events?from=HLC&to=HLC&after=SEQ&limit=N   this node's causal events
 *   GET /edges?from=HLC&to=HLC&after=SEQ&limit=N    their causal edges
 *   GET /health                                     200 or 503, reasons in JSON
 *   GET /nodes                                      the replicas and their HTTP
 *   GET /stream[?after=SEQ]                         Server-Sent Events: new
 *                                                   events and status changes
 *   GET / and the bundle's files                    [http] web_root
 *
 * Threads: the JSON answers run on the HTTP thread and read the causal log
 * (node_causal.h) and the node's snapshot (a hook, under the node's lock).
 * Streams are libmicrohttpd callback responses: a feeder thread of this
 * module fills each stream's bounded buffer every VOID_NODE_WEB_TICK_MS from
 * its own cursor into the log (a slow reader lags behind, it never makes the
 * node hold more), and a stream with nothing to send is suspended until the
 * feeder has more. At most VOID_NODE_WEB_STREAMS_MAX streams are open at
 * once; one more is answered 503.
 */
#ifndef VOID_IO_NODE_WEB_H
#define VOID_IO_NODE_WEB_H

#include "node_causal.h"
#include "void/config.h"
#include "void/http.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define VOID_NODE_WEB_STREAMS_MAX    8
#define VOID_NODE_WEB_STREAM_BUF     (64u * 1024u) /* bytes waiting per stream */
#define VOID_NODE_WEB_TICK_MS        50            /* the feeder's period */
#define VOID_NODE_WEB_KEEPALIVE_MS   5000          /* an SSE comment when idle */
#define VOID_NODE_WEB_PAGE_DEF       500           /* events per /events answer */
#define VOID_NODE_WEB_PAGE_MAX       1000
#define VOID_NODE_WEB_CLOCK_MAX_NS   1000000000ll /* /health: clock offset bound */
#define VOID_NODE_WEB_EVENT_JSON_MAX 512          /* one event's JSON, always enough */

/* The node's state as /health and the stream's status events need it,
 * filled by the node (under its lock). Members indexed like the epoch's. */
struct void__node_web_snap {
    uint32_t self;
    uint64_t view;
    uint32_t primary;
    int view_changing;
    uint64_t last_executed;
    uint64_t epoch;
    uint32_t quorum;
    uint32_t count; /* members */
    uint32_t id[VOID_CONFIG_REPLICAS_MAX];
    uint8_t state[VOID_CONFIG_REPLICAS_MAX]; /* enum void_fd_state, self alive */
    uint8_t voter[VOID_CONFIG_REPLICAS_MAX];
    int64_t clock_offset_ns;
};

typedef void (*void__node_web_snap_fn)(void *ctx, struct void__node_web_snap *out);

struct void__node_web;

struct void__node_web_stream {
    struct void__node_web *owner;
    int used;
    atomic_int closed; /* set by libmicrohttpd's free callback; slot reclaimed later */
    int closing;       /* the module stops: end the stream */
    int suspended;     /* waiting for data; the feeder resumes it */
    void *conn;        /* struct MHD_Connection *; NULL in the unit tests */
    uint64_t cursor;   /* the last event seq queued */
    uint64_t status_gen;
    uint64_t last_write_ms;
    char *buf;
    size_t head, len; /* bytes waiting: buf[head .. head + len) */
};

struct void__node_web {
    const struct void_config *config;
    struct void__node_causal *causal;
    void__node_web_snap_fn snap;
    void *snap_ctx;
    char root[VOID_CONFIG_PATH_MAX];       /* the web view's files, "" none found */
    char looked[4 * VOID_CONFIG_PATH_MAX]; /* where, for the 404 text */
    pthread_mutex_t lock;                  /* the streams and the status below */
    int lock_ready;
    struct void__node_web_stream streams[VOID_NODE_WEB_STREAMS_MAX];
    char status[1024]; /* the last status event's JSON */
    uint64_t status_gen;
    uint64_t streams_opened, streams_refused;
    pthread_t feeder;
    int feeder_running;
    atomic_int stop;
};

/* Sets web up: config, causal and snap (with snap_ctx) are borrowed until
 * fini. Finds the web root ([http] web_root, else next to the binary). Does
 * not start the feeder. Returns 0 or VOID_ENOMEM; fini is safe after a
 * failure. */
int void__node_web_init(struct void__node_web *web,
                        const struct void_config *config,
                        struct void__node_causal *causal,
                        void__node_web_snap_fn snap,
                        void *snap_ctx);

/* Starts the feeder thread. Returns 0 or VOID_ENOMEM. */
int void__node_web_start(struct void__node_web *web);

/* Stops the feeder and ends every stream (resumed, so that libmicrohttpd
 * can close it): before void_http_fini. Safe when never started. */
void void__node_web_stop(struct void__node_web *web);
void void__node_web_fini(struct void__node_web *web);

/* Whether path is one of the JSON answers of this module. */
int void__node_web_owns(const char *path);

/* Answers GET /events, /edges, /health or /nodes; the contract of
 * void_http_handler_fn. HTTP thread. */
int void__node_web_http(struct void__node_web *web,
                        const char *path,
                        void_http_arg_fn arg,
                        void *req,
                        char *out,
                        size_t cap,
                        size_t *len,
                        const char **content_type);

/* void_http_raw_fn of the module (ctx: web): /stream and the static files. */
int void__node_web_raw(void *ctx, void *conn, const char *method, const char *path, int *result);

/* ---- the stream machinery, exposed for the unit tests ---------------------
 * Opens a stream slot for conn (may be NULL) starting after event seq
 * `after`, or, when from_now, after the newest event. Returns the slot, or
 * -1 when all are taken (counted). */
int void__node_web_stream_open(struct void__node_web *web,
                               void *conn,
                               uint64_t after,
                               int from_now);

/* One feeder round at time now_ms: refreshes the status, fills every open
 * stream, reclaims closed ones; writes up to cap connections that must be
 * resumed into resume and returns how many. */
size_t void__node_web_feed(struct void__node_web *web, uint64_t now_ms, void **resume, size_t cap);

/* Takes up to max waiting bytes of stream slot into buf; 0 when it has none
 * (it is then suspended, when it has a connection); -1 when it ends. */
ssize_t void__node_web_stream_read(struct void__node_web *web, int slot, char *buf, size_t max);

/* Marks slot closed, as libmicrohttpd's free callback does. */
void void__node_web_stream_closed(struct void__node_web *web, int slot);

#endif
