/*
 * HTTP server for /status, /metrics and test controls, on libmicrohttpd with
 * its internal polling thread (contract in include/void/http.h). The body is
 * rendered into a per-request heap buffer by the owner's handler and handed
 * to MHD, which frees it once sent.
 */
#include "void/http.h"

#include "void/assert.h"
#include "void/error.h"

#include <arpa/inet.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

static const char *arg_lookup(void *req, const char *name)
{
    return MHD_lookup_connection_value(req, MHD_GET_ARGUMENT_KIND, name);
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
    if (*con_cls == NULL) {
        *con_cls = h; /* first call: headers only; answer on the next */
        return MHD_YES;
    }
    if (*upload_size != 0) {
        *upload_size = 0; /* bodies are ignored: controls use query arguments */
        return MHD_YES;
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
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG;
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
    h->daemon = MHD_start_daemon(flags,
                                 port,
                                 NULL,
                                 NULL,
                                 on_request,
                                 h,
                                 MHD_OPTION_SOCK_ADDR,
                                 sa,
                                 MHD_OPTION_CONNECTION_TIMEOUT,
                                 10u,
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

void void_http_fini(struct void_http *h)
{
    VOID_ASSERT(h != NULL);
    if (h->daemon != NULL) {
        MHD_stop_daemon(h->daemon);
    }
    h->daemon = NULL;
}
