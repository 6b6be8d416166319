/*
 * A small HTTP server (libmicrohttpd, its own thread) for status, metrics and
 * test controls. The owner supplies one handler that renders a response body
 * into a buffer; the handler runs on the server's thread, so whatever it reads
 * must be safe to read from there (the node hands it a snapshot under a lock).
 */
#ifndef VOID_HTTP_H
#define VOID_HTTP_H

#include <stddef.h>
#include <stdint.h>

#define VOID_HTTP_BODY_MAX (256u * 1024u)

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

struct void_http {
    void *daemon; /* struct MHD_Daemon * */
    void_http_handler_fn handler;
    void *ctx;
};

/* Starts serving on host:port (a numeric IPv4 or IPv6 address). handler and
 * ctx are borrowed until void_http_fini. On failure errbuf (may be NULL) says
 * why. Errors: VOID_EINVAL (host not numeric), VOID_EBUSY (cannot bind, e.g.
 * port in use). */
int void_http_init(struct void_http *h,
                   const char *host,
                   uint16_t port,
                   void_http_handler_fn handler,
                   void *ctx,
                   char *errbuf,
                   size_t errcap);

/* Stops the server and joins its thread. Safe after a failed init. Cannot
 * fail. */
void void_http_fini(struct void_http *h);

#endif
