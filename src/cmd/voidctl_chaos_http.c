/*
 * The chaos engine's HTTP GETs (voidctl_chaos_http.h).
 */
#include "cmd/voidctl_chaos_http.h"

#include "void/assert.h"

#include <curl/curl.h>
#include <stdio.h>
#include <string.h>

size_t chaos_on_body(char *data, size_t size, size_t nmemb, void *ctx)
{
    struct chaos_body *b = ctx;
    VOID_ASSERT(b != NULL && b->len < sizeof(b->text));
    size_t n = size * nmemb;
    size_t room = sizeof(b->text) - 1 - b->len;
    size_t take = n < room ? n : room;
    memcpy(b->text + b->len, data, take);
    b->len += take;
    b->text[b->len] = '\0';
    return n;
}

long chaos_http_get(const struct void_config_addr *a,
                    const char *path,
                    long timeout_ms,
                    struct chaos_body *b)
{
    VOID_ASSERT(a != NULL && path != NULL);
    VOID_ASSERT(b != NULL && timeout_ms > 0);
    char url[VOID_CONFIG_ADDR_MAX + 128];
    int v6 = strchr(a->host, ':') != NULL; /* an IPv6 literal goes in brackets */
    snprintf(url,
             sizeof(url),
             "http://%s%s%s:%u%s",
             v6 ? "[" : "",
             a->host,
             v6 ? "]" : "",
             (unsigned)a->port,
             path);
    b->len = 0;
    b->text[0] = '\0';
    CURL *e = curl_easy_init();
    if (e == NULL) {
        return 0;
    }
    curl_easy_setopt(e, CURLOPT_URL, url);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, chaos_on_body);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, b);
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, timeout_ms);
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_NOPROXY, "*");
    long code = 0;
    if (curl_easy_perform(e) == CURLE_OK) {
        curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &code);
    }
    curl_easy_cleanup(e);
    return code;
}
