/*
 * HTTP server for /status, /metrics and test controls, on libmicrohttpd with
 * its internal polling thread (contract in include/void/http.h). The body is
 * rendered into a per-request heap buffer by the owner's handler and handed
 * to MHD, which frees it once sent.
 *
 * The port is as open as the replica's, so the server is bounded like the
 * transport: a connection cap in all and per address, methods other than GET
 * and HEAD refused before any work, and libmicrohttpd's own error log
 * rate-limited (with descriptors exhausted it once wrote "Error accepting
 * connection: Too many open files" 1.9 million times in 20 s).
 */
#include "void/http.h"

#include "void/assert.h"
#include "void/error.h"
#include "void/log.h"

#include <arpa/inet.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#define ALLOWED_METHODS "GET, HEAD"

static const char *arg_lookup(void *req, const char *name)
{
    return MHD_lookup_connection_value(req, MHD_GET_ARGUMENT_KIND, name);
}

static int64_t monotonic_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec;
}

/* libmicrohttpd's logger: at most VOID_HTTP_LOG_BURST lines a window, then a
 * count of what was suppressed when the next window opens. Anyone who can
 * reach the port can make it log, so an unbounded log is a way to fill the
 * disk. */
static void on_mhd_log(void *cls, const char *fmt, va_list ap)
    __attribute__((format(printf, 2, 0)));

static void on_mhd_log(void *cls, const char *fmt, va_list ap)
{
    struct void_http *h = cls;
    char line[256];
    (void)vsnprintf(line, sizeof(line), fmt, ap);
    size_t len = strlen(line);
    while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r')) {
        line[--len] = '\0';
    }
    int64_t now = monotonic_s();
    uint64_t suppressed = 0;
    int print = 0;
    pthread_mutex_lock(&h->log_lock);
    h->log_total++;
    if (now - h->log_window_s >= VOID_HTTP_LOG_WINDOW_S) {
        suppressed = h->log_suppressed;
        h->log_window_s = now;
        h->log_lines = 0;
        h->log_suppressed = 0;
    }
    if (h->log_lines < VOID_HTTP_LOG_BURST) {
        h->log_lines++;
        print = 1;
    } else {
        h->log_suppressed++;
    }
    pthread_mutex_unlock(&h->log_lock);
    if (suppressed > 0) {
        void_log(VOID_LOG_WARN,
                 "http: %llu more libmicrohttpd messages suppressed",
                 (unsigned long long)suppressed);
    }
    if (print) {
        void_log(VOID_LOG_WARN, "http: %s", line);
    }
}

/* GET and HEAD everywhere; POST only at the one path the owner opened for
 * it (void_http_allow_post: the signed /fault control). */
static int method_allowed(struct void_http *h, const char *method, const char *url)
{
    if (strcmp(method, MHD_HTTP_METHOD_POST) == 0) {
        pthread_mutex_lock(&h->log_lock);
        const char *post = h->post_path;
        pthread_mutex_unlock(&h->log_lock);
        return post != NULL && strcmp(url, post) == 0;
    }
    return strcmp(method, MHD_HTTP_METHOD_GET) == 0 || strcmp(method, MHD_HTTP_METHOD_HEAD) == 0;
}

/* Queues a response with a static body. */
static enum MHD_Result
answer(struct MHD_Connection *conn, unsigned status, const char *body, const char *allow)
{
    struct MHD_Response *resp = MHD_create_response_from_buffer(
        strlen(body), (void *)(uintptr_t)body, MHD_RESPMEM_PERSISTENT);
    if (resp == NULL) {
        return MHD_NO;
    }
    (void)MHD_add_response_header(resp, "Content-Type", "text/plain; charset=utf-8");
    if (allow != NULL) {
        (void)MHD_add_response_header(resp, "Allow", allow);
    }
    enum MHD_Result rc = MHD_queue_response(conn, status, resp);
    MHD_destroy_response(resp);
    return rc;
}

static enum MHD_Result on_request(void *cls,
                                  struct MHD_Connection *conn,
                                  const char *url,
                                  const char *method,
                                  const char *version,
                                  const char *upload,
                                  size_t *upload_size,
                                  void **con_cls)
{
    (void)version;
    (void)upload;
    struct void_http *h = cls;
    if (!method_allowed(h, method, url)) {
        /* At once, on the headers: a body it might carry is never read. */
        return answer(conn,
                      MHD_HTTP_METHOD_NOT_ALLOWED,
                      "method not allowed; every resource here takes GET\n",
                      ALLOWED_METHODS);
    }
    if (*con_cls == NULL) {
        *con_cls = h; /* first call: headers only; answer on the next */
        return MHD_YES;
    }
    if (*upload_size != 0) {
        *upload_size = 0; /* bodies are ignored: controls use query arguments */
        return MHD_YES;
    }
    int raw_rc = MHD_NO;
    pthread_mutex_lock(&h->log_lock);
    void_http_raw_fn raw = h->raw;
    void *raw_ctx = h->raw_ctx;
    pthread_mutex_unlock(&h->log_lock);
    if (raw != NULL && raw(raw_ctx, conn, method, url, &raw_rc)) {
        return raw_rc == MHD_YES ? MHD_YES : MHD_NO;
    }
    char *body = malloc(VOID_HTTP_BODY_MAX);
    if (body == NULL) {
        return MHD_NO;
    }
    size_t len = 0;
    const char *type = "text/plain; charset=utf-8";
    int status =
        h->handler(h->ctx, method, url, arg_lookup, conn, body, VOID_HTTP_BODY_MAX, &len, &type);
    VOID_ASSERT(len <= VOID_HTTP_BODY_MAX);
    struct MHD_Response *resp = MHD_create_response_from_buffer(len, body, MHD_RESPMEM_MUST_FREE);
    if (resp == NULL) {
        free(body);
        return MHD_NO;
    }
    (void)MHD_add_response_header(resp, "Content-Type", type);
    (void)MHD_add_response_header(resp, "Access-Control-Allow-Origin", "*");
    enum MHD_Result rc = MHD_queue_response(conn, (unsigned)status, resp);
    MHD_destroy_response(resp);
    return rc;
}

int void_http_init(struct void_http *h,
                   const char *host,
                   uint16_t port,
                   uint32_t conn_max,
                   uint32_t per_ip_max,
                   void_http_handler_fn handler,
                   void *ctx,
                   char *errbuf,
                   size_t errcap)
{
    VOID_ASSERT(h != NULL && host != NULL);
    VOID_ASSERT(handler != NULL);
    memset(h, 0, sizeof(*h));
    h->handler = handler;
    h->ctx = ctx;
    struct sockaddr_in a4 = {.sin_family = AF_INET, .sin_port = htons(port)};
    struct sockaddr_in6 a6 = {.sin6_family = AF_INET6, .sin6_port = htons(port)};
    const struct sockaddr *sa = NULL;
    /* AUTO: epoll or poll; select could not watch a descriptor past 1023. */
    /* Suspend and resume: a raw handler's streams wait suspended for data. */
    unsigned flags = MHD_USE_AUTO_INTERNAL_THREAD | MHD_USE_ERROR_LOG | MHD_ALLOW_SUSPEND_RESUME;
    if (inet_pton(AF_INET, host, &a4.sin_addr) == 1) {
        sa = (const struct sockaddr *)&a4;
    } else if (inet_pton(AF_INET6, host, &a6.sin6_addr) == 1) {
        sa = (const struct sockaddr *)&a6;
        flags |= MHD_USE_IPv6;
    } else {
        (void)snprintf(errbuf,
                       errbuf != NULL ? errcap : 0,
                       "http address %s: want a numeric IP address",
                       host);
        return VOID_EINVAL;
    }
    if (pthread_mutex_init(&h->log_lock, NULL) != 0) {
        return VOID_ENOMEM;
    }
    h->log_lock_ready = 1;
    h->log_window_s = monotonic_s();
    unsigned limit = conn_max != 0 ? conn_max : VOID_HTTP_CONN_MAX_DEFAULT;
    unsigned per_ip = per_ip_max != 0 ? per_ip_max : VOID_HTTP_PER_IP_MAX_DEFAULT;
    h->daemon = MHD_start_daemon(flags,
                                 port,
                                 NULL,
                                 NULL,
                                 on_request,
                                 h,
                                 MHD_OPTION_EXTERNAL_LOGGER, /* first, to catch every message */
                                 on_mhd_log,
                                 h,
                                 MHD_OPTION_SOCK_ADDR,
                                 sa,
                                 MHD_OPTION_CONNECTION_TIMEOUT,
                                 10u,
                                 MHD_OPTION_CONNECTION_LIMIT,
                                 limit,
                                 MHD_OPTION_PER_IP_CONNECTION_LIMIT,
                                 per_ip,
                                 MHD_OPTION_END);
    if (h->daemon == NULL) {
        (void)snprintf(errbuf,
                       errbuf != NULL ? errcap : 0,
                       "cannot serve http on %s:%u (port in use?)",
                       host,
                       (unsigned)port);
        return VOID_EBUSY;
    }
    return 0;
}

void void_http_set_raw(struct void_http *h, void_http_raw_fn raw, void *ctx)
{
    VOID_ASSERT(h != NULL && h->log_lock_ready);
    pthread_mutex_lock(&h->log_lock);
    h->raw = raw;
    h->raw_ctx = ctx;
    pthread_mutex_unlock(&h->log_lock);
}

void void_http_allow_post(struct void_http *h, const char *path)
{
    VOID_ASSERT(h != NULL && h->log_lock_ready);
    VOID_ASSERT(path != NULL && path[0] == '/');
    pthread_mutex_lock(&h->log_lock);
    h->post_path = path;
    pthread_mutex_unlock(&h->log_lock);
}

void void_http_fini(struct void_http *h)
{
    VOID_ASSERT(h != NULL);
    if (h->daemon != NULL) {
        MHD_stop_daemon(h->daemon);
    }
    h->daemon = NULL;
    if (h->log_lock_ready) {
        pthread_mutex_destroy(&h->log_lock);
        h->log_lock_ready = 0;
    }
}
