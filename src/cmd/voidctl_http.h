/*
 * The command-line tools' plain HTTP client pieces, shared by every voidctl
 * command that talks to a node's HTTP server (status, members, member
 * promote, fault, trace, chaos) and by voidload's etcd mode: one libcurl
 * body collector, one URL builder for a configured address, and one easy
 * handle set up the same way everywhere (a total timeout, no signals, never
 * through a proxy: replicas are never behind one). The streamed NDJSON
 * answers of trace state / diff go through voidctl_get_lines instead
 * (voidctl_trace.h), which hands on lines rather than keeping a body.
 */
#ifndef VOID_CMD_VOIDCTL_HTTP_H
#define VOID_CMD_VOIDCTL_HTTP_H

#include "void/config.h"

#include <curl/curl.h>
#include <jansson.h>
#include <stddef.h>

/* A buffer that holds any of a node's small answers: /metrics is about
 * 20 KiB, /status under 2 KiB. */
#define VOIDCTL_HTTP_BODY_MAX 65536

/* A response body, always NUL-terminated. Either the caller's buffer of cap
 * bytes (voidctl_body_init), or a heap buffer grown up to max bytes
 * (voidctl_body_init_heap). What does not fit is dropped and marks the body
 * cut; the transfer itself goes on (a longer body is not a transfer error). */
struct voidctl_body {
    char *text;
    size_t len;
    size_t cap; /* bytes of text, its NUL included */
    size_t max; /* 0: text is the caller's; else the heap's, at most max + 1 bytes */
    int cut;    /* bytes arrived that were not kept */
};

/* A body kept in buf (cap >= 1 bytes, borrowed while b is used). Cannot fail. */
void voidctl_body_init(struct voidctl_body *b, char *buf, size_t cap);

/* A body kept on the heap, at most max bytes; voidctl_body_fini frees it.
 * Cannot fail (the buffer is allocated as bytes arrive; a failed allocation
 * cuts the body). */
void voidctl_body_init_heap(struct voidctl_body *b, size_t max);

/* Empties b for the next transfer (keeps its buffer). Cannot fail. */
void voidctl_body_reset(struct voidctl_body *b);

/* Frees a heap body's buffer; nothing for a caller's buffer. Safe twice. */
void voidctl_body_fini(struct voidctl_body *b);

/* libcurl's CURLOPT_WRITEFUNCTION for a struct voidctl_body (CURLOPT_WRITEDATA):
 * appends what fits, keeps the text terminated, and takes every byte. */
size_t voidctl_body_write(char *data, size_t size, size_t nmemb, void *ctx);

/* "http://HOST:PORT" + path into url (cap bytes), an IPv6 literal in
 * brackets; path may carry a query. Cannot fail (a too long URL is cut). */
void voidctl_http_url(const struct void_config_addr *a, const char *path, char *url, size_t cap);

/* A new easy handle for url (copied by libcurl) that writes into b within
 * timeout_ms in all, bypassing any proxy; b is reset. The caller owns the
 * handle (curl_easy_cleanup). NULL when libcurl cannot start one. */
CURL *voidctl_http_easy(const char *url, long timeout_ms, struct voidctl_body *b);

/* GETs url into b (or POSTs an empty body when post is 1) within
 * timeout_ms. Returns the HTTP status, or 0 when nothing answered; *result
 * (may be NULL) receives libcurl's code (CURLE_FAILED_INIT when no handle
 * could be made). */
long voidctl_http_get(
    const char *url, int post, long timeout_ms, struct voidctl_body *b, CURLcode *result);

/* voidctl_http_get of path at the HTTP address a. */
long voidctl_http_get_addr(const struct void_config_addr *a,
                           const char *path,
                           long timeout_ms,
                           struct voidctl_body *b);

/* GETs path (/status, /members) of every replica of cl at once (libcurl's
 * multi interface), within timeout_ms in all. out[i] (count_replicas
 * entries) receives the parsed JSON object of replica i (a new reference),
 * or NULL when it did not answer 200 with a JSON object of at most 4 MiB.
 * Not reentrant (its transfers are static). Cannot fail otherwise. */
void voidctl_http_get_all(const struct void_config *cl,
                          const char *path,
                          long timeout_ms,
                          json_t **out);

#endif
