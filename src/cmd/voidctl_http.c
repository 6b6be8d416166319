/*
 * The tools' HTTP client pieces (voidctl_http.h): the one body collector
 * every libcurl caller in src/cmd writes into, the URL of a configured
 * address, and the easy handle's common options.
 */
#include "cmd/voidctl_http.h"

#include "void/assert.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void voidctl_body_init(struct voidctl_body *b, char *buf, size_t cap)
{
    VOID_ASSERT(b != NULL && buf != NULL);
    VOID_ASSERT(cap >= 1);
    memset(b, 0, sizeof(*b));
    b->text = buf;
    b->cap = cap;
    b->text[0] = '\0';
}

void voidctl_body_init_heap(struct voidctl_body *b, size_t max)
{
    VOID_ASSERT(b != NULL);
    VOID_ASSERT(max >= 1);
    memset(b, 0, sizeof(*b));
    b->max = max;
}

void voidctl_body_reset(struct voidctl_body *b)
{
    VOID_ASSERT(b != NULL);
    b->len = 0;
    b->cut = 0;
    if (b->text != NULL) {
        b->text[0] = '\0';
    }
}

void voidctl_body_fini(struct voidctl_body *b)
{
    VOID_ASSERT(b != NULL);
    if (b->max > 0) {
        free(b->text);
        b->text = NULL;
        b->cap = 0;
    }
    b->len = 0;
}

/* Room for n more bytes and the NUL in a heap body, grown by doubling up
 * to max + 1; the room there is (fewer than n when max or memory ends). */
static size_t heap_room(struct voidctl_body *b, size_t n)
{
    size_t want = b->len + n + 1;
    want = want > b->max + 1 ? b->max + 1 : want;
    if (want > b->cap) {
        size_t cap = b->cap < 4096 ? 4096 : b->cap;
        while (cap < want) {
            cap *= 2;
        }
        cap = cap > b->max + 1 ? b->max + 1 : cap;
        char *grown = realloc(b->text, cap);
        if (grown != NULL) {
            b->text = grown;
            b->cap = cap;
        }
    }
    return b->cap > b->len ? b->cap - 1 - b->len : 0;
}

size_t voidctl_body_write(char *data, size_t size, size_t nmemb, void *ctx)
{
    struct voidctl_body *b = ctx;
    VOID_ASSERT(b != NULL);
    VOID_ASSERT(b->text == NULL || b->len < b->cap);
    size_t n = size * nmemb;
    size_t room = b->max > 0 ? heap_room(b, n) : b->cap - 1 - b->len;
    size_t take = n < room ? n : room;
    if (take < n) {
        b->cut = 1;
    }
    if (b->text != NULL) {
        memcpy(b->text + b->len, data, take);
        b->len += take;
        b->text[b->len] = '\0';
    }
    return n;
}

void voidctl_http_url(const struct void_config_addr *a, const char *path, char *url, size_t cap)
{
    VOID_ASSERT(a != NULL && path != NULL);
    VOID_ASSERT(url != NULL && cap > 0);
    int v6 = strchr(a->host, ':') != NULL; /* an IPv6 literal goes in brackets */
    (void)snprintf(url,
                   cap,
                   "http://%s%s%s:%u%s",
                   v6 ? "[" : "",
                   a->host,
                   v6 ? "]" : "",
                   (unsigned)a->port,
                   path);
}

CURL *voidctl_http_easy(const char *url, long timeout_ms, struct voidctl_body *b)
{
    VOID_ASSERT(url != NULL && b != NULL);
    VOID_ASSERT(timeout_ms > 0);
    voidctl_body_reset(b);
    CURL *e = curl_easy_init();
    if (e == NULL) {
        return NULL;
    }
    curl_easy_setopt(e, CURLOPT_URL, url);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, voidctl_body_write);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, b);
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, timeout_ms);
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_NOPROXY, "*");
    return e;
}

long voidctl_http_get(
    const char *url, int post, long timeout_ms, struct voidctl_body *b, CURLcode *result)
{
    VOID_ASSERT(post == 0 || post == 1);
    CURL *e = voidctl_http_easy(url, timeout_ms, b);
    CURLcode cc = CURLE_FAILED_INIT;
    long code = 0;
    if (e != NULL) {
        if (post) {
            curl_easy_setopt(e, CURLOPT_POST, 1L);
            curl_easy_setopt(e, CURLOPT_POSTFIELDS, "");
            curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE, 0L);
        }
        cc = curl_easy_perform(e);
        if (cc == CURLE_OK) {
            curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &code);
        }
        curl_easy_cleanup(e);
    }
    if (result != NULL) {
        *result = cc;
    }
    VOID_ASSERT(cc == CURLE_OK || code == 0);
    return code;
}

long voidctl_http_get_addr(const struct void_config_addr *a,
                           const char *path,
                           long timeout_ms,
                           struct voidctl_body *b)
{
    char url[VOID_CONFIG_ADDR_MAX + 128];
    voidctl_http_url(a, path, url, sizeof(url));
    return voidctl_http_get(url, 0, timeout_ms, b, NULL);
}

/* Largest answer voidctl_http_get_all accepts (a 64-member cluster's
 * /status or /members is ~20 KiB). */
#define GET_ALL_BODY_MAX (4u << 20)

struct fetch {
    CURL *easy;
    struct voidctl_body body;
    char url[VOID_CONFIG_ADDR_MAX + 32];
};

void voidctl_http_get_all(const struct void_config *cl,
                          const char *path,
                          long timeout_ms,
                          json_t **out)
{
    VOID_ASSERT(cl != NULL && path != NULL && out != NULL);
    VOID_ASSERT(cl->count_replicas <= VOID_CONFIG_REPLICAS_MAX);
    static struct fetch fs[VOID_CONFIG_REPLICAS_MAX];
    CURLM *multi = curl_multi_init();
    for (uint32_t i = 0; i < cl->count_replicas; i++) {
        struct fetch *f = &fs[i];
        const struct void_config_addr *a = &cl->replicas[i].http;
        memset(f, 0, sizeof(*f));
        voidctl_body_init_heap(&f->body, GET_ALL_BODY_MAX);
        out[i] = NULL;
        voidctl_http_url(a, path, f->url, sizeof(f->url));
        f->easy = multi != NULL ? voidctl_http_easy(f->url, timeout_ms, &f->body) : NULL;
        if (f->easy == NULL) {
            continue;
        }
        curl_multi_add_handle(multi, f->easy);
    }
    int running = 1;
    while (multi != NULL && running > 0) {
        if (curl_multi_perform(multi, &running) != CURLM_OK) {
            break;
        }
        if (running > 0) {
            curl_multi_poll(multi, NULL, 0, 100, NULL);
        }
    }
    CURLMsg *msg;
    int left;
    while (multi != NULL && (msg = curl_multi_info_read(multi, &left)) != NULL) {
        for (uint32_t i = 0; i < cl->count_replicas; i++) {
            long code = 0;
            if (msg->msg != CURLMSG_DONE || msg->easy_handle != fs[i].easy ||
                msg->data.result != CURLE_OK || fs[i].body.text == NULL || fs[i].body.cut) {
                continue;
            }
            curl_easy_getinfo(fs[i].easy, CURLINFO_RESPONSE_CODE, &code);
            json_t *j = code == 200 ? json_loadb(fs[i].body.text, fs[i].body.len, 0, NULL) : NULL;
            if (json_is_object(j)) {
                out[i] = j;
            } else {
                json_decref(j);
            }
        }
    }
    for (uint32_t i = 0; i < cl->count_replicas; i++) {
        if (fs[i].easy != NULL) {
            if (multi != NULL) {
                curl_multi_remove_handle(multi, fs[i].easy);
            }
            curl_easy_cleanup(fs[i].easy);
        }
        voidctl_body_fini(&fs[i].body);
    }
    curl_multi_cleanup(multi);
}
