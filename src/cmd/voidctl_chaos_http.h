/*
 * The chaos engine's plain HTTP GETs of a node's /status and /metrics
 * (voidctl_chaos.c resolves the primary and checks the replicas' states,
 * voidctl_chaos_faults.c reads last_executed and the drop counters): one
 * libcurl body collector and one GET for both. /fault goes through
 * voidctl_fault_send instead (signed POSTs).
 */
#ifndef VOID_CMD_VOIDCTL_CHAOS_HTTP_H
#define VOID_CMD_VOIDCTL_CHAOS_HTTP_H

#include "void/config.h"

#include <stddef.h>

/* A response body, cut at sizeof(text) - 1 bytes and always NUL-terminated.
 * 64 KiB: a node's /metrics is about 20 KiB; /status under 2 KiB. */
struct chaos_body {
    char text[65536];
    size_t len;
};

/* libcurl's CURLOPT_WRITEFUNCTION for a struct chaos_body (CURLOPT_WRITEDATA):
 * appends what fits, keeps the text terminated, and takes every byte (a
 * longer body is cut, not an error). */
size_t chaos_on_body(char *data, size_t size, size_t nmemb, void *ctx);

/* GETs path ("/status") from the HTTP address a into b, within timeout_ms,
 * bypassing any proxy. Returns the HTTP status, or 0 when nothing answered. */
long chaos_http_get(const struct void_config_addr *a,
                    const char *path,
                    long timeout_ms,
                    struct chaos_body *b);

#endif
