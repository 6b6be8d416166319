/*
 * A small HTTP server (libmicrohttpd, its own thread) for status, metrics and
 * test controls. The owner supplies one handler that renders a response body
 * into a buffer; the handler runs on the server's thread, so whatever it reads
 * must be safe to read from there (the node hands it a snapshot under a lock).
 *
 * Every resource is read with GET (or HEAD); controls take query arguments.
 * Any other method is answered 405 with "Allow: GET, HEAD" before the handler
 * runs, except POST at the one path void_http_allow_post opened (its body,
 * if any, is ignored; the handler sees the method). The server is open to anyone who reaches the port, so it is bounded:
 * at most conn_max connections (default VOID_HTTP_CONN_MAX_DEFAULT) and
 * per_ip_max from one address, each closed after 10 s idle; libmicrohttpd's
 * error messages (it logs one per refused connection, and one per failed
 * accept when descriptors run out) go through a rate-limited logger,
 * VOID_HTTP_LOG_BURST lines a VOID_HTTP_LOG_WINDOW_S window, then one line
 * saying how many were suppressed.
 */
#ifndef VOID_HTTP_H
#define VOID_HTTP_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#define VOID_HTTP_BODY_MAX           (256u * 1024u)
#define VOID_HTTP_CONN_MAX_DEFAULT   64
#define VOID_HTTP_PER_IP_MAX_DEFAULT 32
#define VOID_HTTP_LOG_BURST          10
#define VOID_HTTP_LOG_WINDOW_S       10

/* Looks up query argument name of the current request; NULL when absent. */
typedef const char *(*void_http_arg_fn)(void *req, const char *name);

/* Renders the response to method + path: writes up to cap bytes of body to
 * out, sets *len and *content_type (a static string), and returns the HTTP
 * status code. arg/req look up query arguments; both borrowed for the call. */
typedef int (*void_http_handler_fn)(void *ctx,
                                    const char *method,
                                    const char *path,
                                    void_http_arg_fn arg,
                                    void *req,
                                    char *out,
                                    size_t cap,
                                    size_t *len,
                                    const char **content_type);

/* Answers a GET or HEAD itself, when the body is not a rendered buffer (a
 * file, a Server-Sent Events stream): conn is the libmicrohttpd connection
 * (struct MHD_Connection *). Returns 0 to leave the request to the handler,
 * else 1 with *result set to what MHD_queue_response returned. Connections
 * may be suspended and resumed (MHD_ALLOW_SUSPEND_RESUME); the owner must
 * resume every one it suspended before void_http_fini. */
typedef int (*void_http_raw_fn)(
    void *ctx, void *conn, const char *method, const char *path, int *result);

struct void_http {
    void *daemon; /* struct MHD_Daemon * */
    void_http_handler_fn handler;
    void *ctx;
    void_http_raw_fn raw; /* optional, under log_lock: void_http_set_raw */
    void *raw_ctx;
    const char *post_path; /* under log_lock: void_http_allow_post; NULL none */
    /* Rate limit of libmicrohttpd's messages, under log_lock: they come from
     * its thread, and from the caller's within init and fini. */
    pthread_mutex_t log_lock;
    int log_lock_ready;
    int64_t log_window_s;
    uint32_t log_lines;
    uint64_t log_suppressed;
    uint64_t log_total; /* messages libmicrohttpd reported, printed or not */
};

/* Starts serving on host:port (a numeric IPv4 or IPv6 address), with at most
 * conn_max connections in all and per_ip_max from one address (0: the
 * defaults). handler and ctx are borrowed until void_http_fini. On failure
 * errbuf (may be NULL) says why. Errors: VOID_EINVAL (host not numeric),
 * VOID_EBUSY (cannot bind, e.g. port in use), VOID_ENOMEM. */
int void_http_init(struct void_http *h,
                   const char *host,
                   uint16_t port,
                   uint32_t conn_max,
                   uint32_t per_ip_max,
                   void_http_handler_fn handler,
                   void *ctx,
                   char *errbuf,
                   size_t errcap);

/* Sets the raw handler (borrowed, with ctx, until void_http_fini) after a
 * successful init; requests that came before it went to the handler alone.
 * Cannot fail. */
void void_http_set_raw(struct void_http *h, void_http_raw_fn raw, void *ctx);

/* Lets POST requests to path (borrowed until void_http_fini) reach the
 * handler; every other path still answers POST with 405. Cannot fail. */
void void_http_allow_post(struct void_http *h, const char *path);

/* Stops the server and joins its thread. Safe after a failed init. Cannot
 * fail. */
void void_http_fini(struct void_http *h);

#endif
