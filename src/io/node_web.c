/*
 * The node's web module (contract in node_web.h, user guide in docs/web.md):
 * /events, /edges, /health, /nodes, the /stream of Server-Sent Events, and
 * the web view's static files.
 *
 * JSON here is written with snprintf into the caller's buffer, event by
 * event, so that a page stops cleanly where the buffer ends ("more": true)
 * instead of failing whole; the same writer makes the stream's events.
 *
 * Streams: libmicrohttpd asks the content reader for bytes; with none
 * waiting, the reader suspends the connection (under the module's lock, so
 * that the feeder cannot miss it) and the feeder resumes it, outside the
 * lock, once it has queued more. libmicrohttpd's free callback only sets an
 * atomic flag: it may run with libmicrohttpd's own locks held, so it takes
 * none of ours, and the slot is reclaimed by the next feeder round.
 */
#define _XOPEN_SOURCE 700 /* realpath */
#include "node_web.h"

#include "void/assert.h"
#include "void/codec.h"
#include "void/error.h"
#include "void/log.h"
#include "void/membership.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <microhttpd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static uint64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* ---- a bounded text writer ------------------------------------------------ */

struct wbuf {
    char *out;
    size_t cap;
    size_t len;
    int full; /* something did not fit: len is where it would have begun */
};

static void wb_printf(struct wbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void wb_printf(struct wbuf *b, const char *fmt, ...)
{
    if (b->full) {
        return;
    }
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(b->out + b->len, b->cap - b->len, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= b->cap - b->len) {
        b->full = 1;
        b->out[b->len] = '\0';
        return;
    }
    b->len += (size_t)n;
}

/* One event as JSON (docs/web.md, "Event APIs"); returns its length. The
 * exact HLC is a string ("WALLNS/LOGICAL", what ?from= takes back); t is
 * its wall time in milliseconds, which a JavaScript number holds. */
static size_t event_json(const struct void_causal_event *ev, char *out, size_t cap)
{
    VOID_ASSERT(cap >= VOID_NODE_WEB_EVENT_JSON_MAX);
    struct wbuf b = {.out = out, .cap = cap};
    wb_printf(&b,
              "{\"id\":\"%" PRIu32 ".%" PRIu64 "\",\"node\":%" PRIu32 ",\"seq\":%" PRIu64
              ",\"hlc\":\"%" PRIu64 "/%" PRIu32 "\",\"t\":%" PRIu64 ".%06" PRIu64
              ",\"kind\":\"%s\"",
              ev->id.node,
              ev->id.seq,
              ev->id.node,
              ev->id.seq,
              ev->hlc.wall_ns,
              ev->hlc.logical,
              ev->hlc.wall_ns / 1000000u,
              ev->hlc.wall_ns % 1000000u,
              void_causal_kind_name(ev->kind));
    const char *msg = ev->msg_type != 0 ? void_msg_type_name(ev->msg_type) : NULL;
    if (msg != NULL) {
        wb_printf(&b, ",\"msg\":\"%s\"", msg);
    }
    if (ev->kind == VOID_CAUSAL_RECEIVE) {
        wb_printf(&b, ",\"from\":\"%" PRIu32 ".%" PRIu64 "\"", ev->from.node, ev->from.seq);
    }
    wb_printf(&b,
              ",\"view\":%" PRIu64 ",\"op\":%" PRIu64 ",\"client\":%" PRIu64 "}",
              ev->view,
              ev->op_seq,
              ev->client_id);
    VOID_ASSERT(!b.full);
    return b.len;
}

/* ---- setup ------------------------------------------------------------------ */

static int has_index(const char *dir)
{
    char path[VOID_CONFIG_PATH_MAX + 16];
    int n = snprintf(path, sizeof(path), "%s/index.html", dir);
    struct stat st;
    return n > 0 && (size_t)n < sizeof(path) && stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

/* Where the web view's built files are when [http] web_root names none:
 * the source tree this binary was built from, whatever the build directory
 * (CMake compiles its path in; a binary built elsewhere than beside it, say
 * in /tmp, finds it only this way). */
#ifndef VOID_WEB_DIST_BUILT
#define VOID_WEB_DIST_BUILT ""
#endif

#define WEB_CANDIDATES_MAX 4

/* The directories to look in when [http] web_root names none, each by its
 * real path when it has one, without repeats (a build tree inside the
 * source tree reaches web/dist both ways), in order of preference: a source
 * tree above the binary (build/bin, build/<tree>/bin), an installed
 * share/void/web beside it, the source tree it was built from. Returns
 * their count. */
static size_t web_candidates(char cand[WEB_CANDIDATES_MAX][PATH_MAX])
{
    static const char *const rel[] = {"/../../web/dist", "/../../../web/dist", "/../share/void/web"};
    _Static_assert(VOID_ARRAY_LEN(rel) + 1 <= WEB_CANDIDATES_MAX, "room for every candidate");
    char exe[VOID_CONFIG_PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
    exe[n > 0 ? n : 0] = '\0';
    char *slash = strrchr(exe, '/');
    if (slash != NULL) {
        *slash = '\0';
    }
    size_t count = 0;
    for (size_t i = 0; i <= VOID_ARRAY_LEN(rel); i++) {
        char path[VOID_CONFIG_PATH_MAX + 32];
        if (i < VOID_ARRAY_LEN(rel) && n > 0) {
            (void)snprintf(path, sizeof(path), "%s%s", exe, rel[i]);
        } else if (i == VOID_ARRAY_LEN(rel) && VOID_WEB_DIST_BUILT[0] != '\0') {
            (void)snprintf(path, sizeof(path), "%s", VOID_WEB_DIST_BUILT);
        } else {
            continue;
        }
        if (realpath(path, cand[count]) == NULL) {
            (void)snprintf(cand[count], PATH_MAX, "%s", path);
        }
        int seen = 0;
        for (size_t k = 0; k < count; k++) {
            seen |= strcmp(cand[k], cand[count]) == 0;
        }
        count += seen ? 0 : 1;
    }
    VOID_ASSERT(count <= WEB_CANDIDATES_MAX);
    return count;
}

/* [http] web_root, else the first of web_candidates with an index.html.
 * Says in the log which directory it serves, or that it found none and
 * where it looked (the 404 at / says the same). */
static void find_root(struct void__node_web *web)
{
    struct wbuf looked = {.out = web->looked, .cap = sizeof(web->looked)};
    web->root[0] = '\0';
    web->looked[0] = '\0';
    if (web->config->web_root[0] != '\0') {
        wb_printf(&looked, "%s ([http] web_root)", web->config->web_root);
        if (has_index(web->config->web_root)) {
            (void)snprintf(web->root, sizeof(web->root), "%s", web->config->web_root);
        }
    } else {
        char cand[WEB_CANDIDATES_MAX][PATH_MAX];
        size_t count = web_candidates(cand);
        for (size_t i = 0; i < count; i++) {
            wb_printf(&looked, "%s%s", i > 0 ? ", " : "", cand[i]);
            size_t len = strlen(cand[i]);
            if (web->root[0] == '\0' && len < sizeof(web->root) && has_index(cand[i])) {
                memcpy(web->root, cand[i], len + 1); /* fits: checked (gcc -O0 cannot see it) */
            }
        }
    }
    if (web->root[0] != '\0') {
        void_log(VOID_LOG_INFO, "web view: serving %s at /", web->root);
    } else {
        void_log(VOID_LOG_WARN,
                 "web view: no built files found, / answers 404 (run scripts/web, or set "
                 "[http] web_root); looked in: %s",
                 web->looked[0] != '\0' ? web->looked : "nowhere");
    }
}

int void__node_web_init(struct void__node_web *web,
                        const struct void_config *config,
                        struct void__node_causal *causal,
                        void__node_web_snap_fn snap,
                        void *snap_ctx)
{
    VOID_ASSERT(web != NULL && config != NULL);
    VOID_ASSERT(causal != NULL && snap != NULL);
    memset(web, 0, sizeof(*web));
    web->config = config;
    web->causal = causal;
    web->snap = snap;
    web->snap_ctx = snap_ctx;
    atomic_init(&web->stop, 0);
    for (size_t i = 0; i < VOID_NODE_WEB_STREAMS_MAX; i++) {
        web->streams[i].owner = web;
        atomic_init(&web->streams[i].closed, 0);
    }
    if (pthread_mutex_init(&web->lock, NULL) != 0) {
        return VOID_ENOMEM;
    }
    web->lock_ready = 1;
    for (size_t i = 0; i < VOID_NODE_WEB_STREAMS_MAX; i++) {
        web->streams[i].buf = malloc(VOID_NODE_WEB_STREAM_BUF);
        if (web->streams[i].buf == NULL) {
            return VOID_ENOMEM;
        }
    }
    find_root(web);
    return 0;
}

void void__node_web_fini(struct void__node_web *web)
{
    if (web == NULL) {
        return;
    }
    VOID_ASSERT(!web->feeder_running);
    for (size_t i = 0; i < VOID_NODE_WEB_STREAMS_MAX; i++) {
        free(web->streams[i].buf);
        web->streams[i].buf = NULL;
    }
    if (web->lock_ready) {
        pthread_mutex_destroy(&web->lock);
        web->lock_ready = 0;
    }
}

/* ---- /health ------------------------------------------------------------------ */

static const char *state_name(uint8_t s)
{
    return s == VOID_FD_ALIVE ? "alive" : s == VOID_FD_SUSPECT ? "suspect" : "dead";
}

/* Writes the reasons the node is not healthy as JSON strings separated by
 * commas; returns how many. */
static int health_reasons(struct void__node_web *web,
                          const struct void__node_web_snap *s,
                          struct wbuf *b,
                          uint32_t *alive_out,
                          uint32_t *voters_out)
{
    int count = 0;
    uint32_t alive = 0, voters = 0;
    uint8_t primary_state = VOID_FD_ALIVE;
    for (uint32_t i = 0; i < s->count; i++) {
        if (s->voter[i]) {
            voters++;
            alive += s->state[i] == VOID_FD_ALIVE;
        }
        if (s->id[i] == s->primary) {
            primary_state = s->state[i];
        }
    }
    *alive_out = alive;
    *voters_out = voters;
    if (void__node_causal_halted(web->causal)) {
        wb_printf(
            b, "%s\"halted on a causality violation (on_violation = halt)\"", count++ ? "," : "");
    }
    if (voters > 0 && alive < s->quorum) {
        wb_printf(b,
                  "%s\"%" PRIu32 " of %" PRIu32 " voters alive here, a quorum is %" PRIu32 "\"",
                  count++ ? "," : "",
                  alive,
                  voters,
                  s->quorum);
    }
    if (s->primary != s->self && primary_state != VOID_FD_ALIVE) {
        wb_printf(b,
                  "%s\"primary %" PRIu32 " is %s\"",
                  count++ ? "," : "",
                  s->primary,
                  state_name(primary_state));
    }
    if (s->view_changing) {
        wb_printf(b, "%s\"view change under way\"", count++ ? "," : "");
    }
    int64_t off = s->clock_offset_ns;
    if (off > VOID_NODE_WEB_CLOCK_MAX_NS || off < -VOID_NODE_WEB_CLOCK_MAX_NS) {
        wb_printf(b,
                  "%s\"clock offset %" PRId64 " ms from the time sources\"",
                  count++ ? "," : "",
                  off / 1000000);
    }
    return count;
}

static int http_health(struct void__node_web *web, char *out, size_t cap, size_t *len)
{
    struct void__node_web_snap s;
    memset(&s, 0, sizeof(s));
    web->snap(web->snap_ctx, &s);
    struct wbuf b = {.out = out, .cap = cap};
    char reasons[1024];
    struct wbuf r = {.out = reasons, .cap = sizeof(reasons)};
    reasons[0] = '\0';
    uint32_t alive = 0, voters = 0;
    int count = health_reasons(web, &s, &r, &alive, &voters);
    wb_printf(&b,
              "{\"id\":%" PRIu32 ",\"healthy\":%s,\"reasons\":[%s],\"view\":%" PRIu64
              ",\"primary\":%" PRIu32 ",\"alive\":%" PRIu32 ",\"voters\":%" PRIu32
              ",\"quorum\":%" PRIu32 ",\"last_executed\":%" PRIu64 "}\n",
              s.self,
              count == 0 ? "true" : "false",
              reasons,
              s.view,
              s.primary,
              alive,
              voters,
              s.quorum,
              s.last_executed);
    *len = b.full ? 0 : b.len;
    return count == 0 ? 200 : 503;
}

/* The stream's status event: what changes when the cluster does (not the
 * counters that move every millisecond). Returns its length. */
static size_t status_json(struct void__node_web *web, char *out, size_t cap)
{
    struct void__node_web_snap s;
    memset(&s, 0, sizeof(s));
    web->snap(web->snap_ctx, &s);
    char reasons[512];
    struct wbuf r = {.out = reasons, .cap = sizeof(reasons)};
    reasons[0] = '\0';
    uint32_t alive = 0, voters = 0;
    int count = health_reasons(web, &s, &r, &alive, &voters);
    struct wbuf b = {.out = out, .cap = cap};
    wb_printf(&b,
              "{\"id\":%" PRIu32 ",\"view\":%" PRIu64 ",\"primary\":%" PRIu32
              ",\"view_changing\":%s,\"epoch\":%" PRIu64 ",\"healthy\":%s,\"reasons\":[%s]"
              ",\"members\":{",
              s.self,
              s.view,
              s.primary,
              s.view_changing ? "true" : "false",
              s.epoch,
              count == 0 ? "true" : "false",
              reasons);
    for (uint32_t i = 0; i < s.count; i++) {
        wb_printf(&b, "%s\"%" PRIu32 "\":\"%s\"", i ? "," : "", s.id[i], state_name(s.state[i]));
    }
    wb_printf(&b, "}}");
    return b.full ? 0 : b.len;
}

/* ---- /events and /edges -------------------------------------------------------- */

/* An optional decimal argument in [lo, hi]; def when absent. */
static int parse_num(const char *text, uint64_t lo, uint64_t hi, uint64_t def, uint64_t *out)
{
    if (text == NULL) {
        *out = def;
        return 0;
    }
    if (*text < '0' || *text > '9') {
        return VOID_EPARSE;
    }
    char *end = NULL;
    errno = 0;
    unsigned long long v = strtoull(text, &end, 10);
    if (errno != 0 || *end != '\0' || v < lo || v > hi) {
        return VOID_EPARSE;
    }
    *out = v;
    return 0;
}

struct range {
    uint64_t after, limit;
    struct void_hlc_ts from, to;
};

static int parse_range(void_http_arg_fn arg, void *req, struct range *r)
{
    const char *from = arg(req, "from"), *to = arg(req, "to");
    r->from = (struct void_hlc_ts){0, 0};
    r->to = (struct void_hlc_ts){UINT64_MAX, UINT32_MAX};
    if ((from != NULL && void_hlc_parse(from, &r->from) != 0) ||
        (to != NULL && void_hlc_parse(to, &r->to) != 0)) {
        return VOID_EPARSE;
    }
    if (parse_num(arg(req, "after"), 0, VOID_CAUSAL_SEQ_MAX, 0, &r->after) != 0 ||
        parse_num(
            arg(req, "limit"), 1, VOID_NODE_WEB_PAGE_MAX, VOID_NODE_WEB_PAGE_DEF, &r->limit) != 0) {
        return VOID_EPARSE;
    }
    return 0;
}

struct list_ctx {
    struct wbuf *b;
    size_t count;
    uint64_t next_after; /* seq of the last event written */
    uint64_t base;       /* the log's oldest seq, for edges */
    int edges;
};

/* Appends one event, or the edges into it, unless that would leave no room
 * for the answer's tail (64 bytes): then stops the walk ("more"). */
static int list_one(void *ctx, const struct void_causal_event *ev)
{
    struct list_ctx *lc = ctx;
    char item[2 * VOID_NODE_WEB_EVENT_JSON_MAX];
    struct wbuf e = {.out = item, .cap = sizeof(item)};
    const char *sep = lc->count == 0 ? "" : ",";
    if (!lc->edges) {
        wb_printf(&e, "%s", sep);
        e.len += event_json(ev, item + e.len, sizeof(item) - e.len);
    } else {
        if (ev->id.seq > lc->base) {
            wb_printf(&e,
                      "%s[\"%" PRIu32 ".%" PRIu64 "\",\"%" PRIu32 ".%" PRIu64 "\",\"local\"]",
                      sep,
                      ev->id.node,
                      ev->id.seq - 1,
                      ev->id.node,
                      ev->id.seq);
            sep = ",";
        }
        if (ev->kind == VOID_CAUSAL_RECEIVE) {
            wb_printf(&e,
                      "%s[\"%" PRIu32 ".%" PRIu64 "\",\"%" PRIu32 ".%" PRIu64 "\",\"message\"]",
                      sep,
                      ev->from.node,
                      ev->from.seq,
                      ev->id.node,
                      ev->id.seq);
        }
    }
    VOID_ASSERT(!e.full);
    if (lc->b->len + e.len + 64 >= lc->b->cap) {
        return 1;
    }
    memcpy(lc->b->out + lc->b->len, item, e.len);
    lc->b->len += e.len;
    lc->count += e.len > 0;
    lc->next_after = ev->id.seq;
    return 0;
}

static int http_list(struct void__node_web *web,
                     int edges,
                     void_http_arg_fn arg,
                     void *req,
                     char *out,
                     size_t cap,
                     size_t *len)
{
    struct wbuf b = {.out = out, .cap = cap};
    struct range r;
    if (parse_range(arg, req, &r) != 0) {
        wb_printf(&b,
                  "{\"error\":\"want from=HLC, to=HLC (WALLNS/LOGICAL, WALLNS or an ISO "
                  "time), after=SEQ and limit=1..%d\"}\n",
                  VOID_NODE_WEB_PAGE_MAX);
        *len = b.len;
        return 400;
    }
    wb_printf(
        &b, "{\"node\":%" PRIu32 ",\"%s\":[", web->config->self_id, edges ? "edges" : "events");
    uint64_t base = 0, last = 0;
    int more = 0;
    struct list_ctx lc = {.b = &b, .next_after = r.after, .edges = edges};
    /* The log's base is needed before the walk for the edges: ask first. */
    if (edges) {
        (void)void__node_causal_each(
            web->causal, UINT64_MAX - 1, r.from, r.to, 0, list_one, &lc, NULL, &lc.base, NULL);
    }
    (void)void__node_causal_each(
        web->causal, r.after, r.from, r.to, r.limit, list_one, &lc, &more, &base, &last);
    wb_printf(&b,
              "],\"more\":%s,\"next_after\":%" PRIu64 ",\"base\":%" PRIu64 ",\"last\":%" PRIu64
              "}\n",
              more ? "true" : "false",
              lc.next_after,
              base,
              last);
    VOID_ASSERT(!b.full);
    *len = b.len;
    return 200;
}

/* ---- /nodes ----------------------------------------------------------------------- */

static void json_str(struct wbuf *b, const char *s)
{
    wb_printf(b, "\"");
    for (; *s != '\0'; s++) {
        unsigned char ch = (unsigned char)*s;
        if (ch == '"' || ch == '\\') {
            wb_printf(b, "\\%c", ch);
        } else if (ch < 0x20) {
            wb_printf(b, "\\u%04x", ch);
        } else {
            wb_printf(b, "%c", ch);
        }
    }
    wb_printf(b, "\"");
}

static int http_nodes(struct void__node_web *web, char *out, size_t cap, size_t *len)
{
    const struct void_config *c = web->config;
    struct wbuf b = {.out = out, .cap = cap};
    wb_printf(&b, "{\"self\":%" PRIu32 ",\"nodes\":[", c->self_id);
    for (uint32_t i = 0; i < c->count_replicas; i++) {
        const struct void_config_replica *r = &c->replicas[i];
        /* The node's own [node] topology wins over the cluster file's. */
        const struct void_config_topology *t =
            r->id == c->self_id && c->topology.datacenter[0] != '\0' ? &c->topology : &r->topology;
        wb_printf(&b, "%s{\"id\":%" PRIu32 ",\"http\":", i ? "," : "", r->id);
        json_str(&b, r->id == c->self_id ? c->http.text : r->http.text);
        wb_printf(&b, ",\"address\":");
        json_str(&b, r->address.text);
        wb_printf(&b, ",\"datacenter\":");
        json_str(&b, t->datacenter);
        wb_printf(&b, ",\"rack\":");
        json_str(&b, t->rack);
        wb_printf(&b, ",\"host\":");
        json_str(&b, t->host);
        wb_printf(&b, "}");
    }
    wb_printf(&b, "]}\n");
    *len = b.full ? 0 : b.len;
    return b.full ? 500 : 200;
}

int void__node_web_owns(const char *path)
{
    return strcmp(path, "/events") == 0 || strcmp(path, "/edges") == 0 ||
           strcmp(path, "/health") == 0 || strcmp(path, "/nodes") == 0;
}

int void__node_web_http(struct void__node_web *web,
                        const char *path,
                        void_http_arg_fn arg,
                        void *req,
                        char *out,
                        size_t cap,
                        size_t *len,
                        const char **content_type)
{
    VOID_ASSERT(web != NULL && void__node_web_owns(path));
    VOID_ASSERT(cap >= 4096);
    *content_type = "application/json";
    if (strcmp(path, "/health") == 0) {
        return http_health(web, out, cap, len);
    }
    if (strcmp(path, "/nodes") == 0) {
        return http_nodes(web, out, cap, len);
    }
    if (web->causal->on == 0) {
        int n = snprintf(
            out, cap, "{\"error\":\"the causal event log is off ([causal] events = 0)\"}\n");
        *len = n > 0 ? (size_t)n : 0;
        return 404;
    }
    return http_list(web, strcmp(path, "/edges") == 0, arg, req, out, cap, len);
}

/* ---- streams -------------------------------------------------------------------------- */

int void__node_web_stream_open(struct void__node_web *web, void *conn, uint64_t after, int from_now)
{
    VOID_ASSERT(web != NULL && web->lock_ready);
    uint64_t last = 0;
    if (from_now) {
        (void)void__node_causal_each(web->causal,
                                     UINT64_MAX - 1,
                                     (struct void_hlc_ts){0, 0},
                                     (struct void_hlc_ts){UINT64_MAX, UINT32_MAX},
                                     0,
                                     NULL,
                                     NULL,
                                     NULL,
                                     NULL,
                                     &last);
        after = last;
    }
    int slot = -1;
    pthread_mutex_lock(&web->lock);
    for (int i = 0; i < VOID_NODE_WEB_STREAMS_MAX; i++) {
        struct void__node_web_stream *s = &web->streams[i];
        if (s->used && atomic_load(&s->closed)) {
            s->used = 0; /* closed since the last feeder round */
        }
        if (!s->used && slot < 0) {
            slot = i;
        }
    }
    if (slot >= 0) {
        struct void__node_web_stream *s = &web->streams[slot];
        s->used = 1;
        atomic_store(&s->closed, 0);
        s->closing = 0;
        s->suspended = 0;
        s->conn = conn;
        s->cursor = after;
        s->status_gen = 0;             /* a new stream gets the status at once */
        s->last_write_ms = UINT64_MAX; /* the first feeder round sets it */
        s->head = 0;
        /* retry: how long EventSource waits before it reconnects */
        int n = snprintf(s->buf, VOID_NODE_WEB_STREAM_BUF, "retry: 1000\n\n");
        s->len = n > 0 ? (size_t)n : 0;
        web->streams_opened++;
    } else {
        web->streams_refused++;
    }
    pthread_mutex_unlock(&web->lock);
    return slot;
}

/* Appends text to s when it fits whole; returns whether it did. */
static int stream_put(struct void__node_web_stream *s, const char *text, size_t len)
{
    if (s->head > 0 && s->head + s->len + len > VOID_NODE_WEB_STREAM_BUF) {
        memmove(s->buf, s->buf + s->head, s->len);
        s->head = 0;
    }
    if (s->head + s->len + len > VOID_NODE_WEB_STREAM_BUF) {
        return 0;
    }
    memcpy(s->buf + s->head + s->len, text, len);
    s->len += len;
    return 1;
}

struct feed_ctx {
    struct void__node_web_stream *s;
};

static int feed_one(void *ctx, const struct void_causal_event *ev)
{
    struct feed_ctx *fc = ctx;
    char text[VOID_NODE_WEB_EVENT_JSON_MAX + 64];
    int n = snprintf(text, sizeof(text), "id: %" PRIu64 "\nevent: ev\ndata: ", ev->id.seq);
    VOID_ASSERT(n > 0 && (size_t)n < sizeof(text));
    size_t len = (size_t)n;
    len += event_json(ev, text + len, sizeof(text) - len - 2);
    text[len++] = '\n';
    text[len++] = '\n';
    if (!stream_put(fc->s, text, len)) {
        return 1; /* full: the rest waits for the reader */
    }
    fc->s->cursor = ev->id.seq;
    return 0;
}

size_t void__node_web_feed(struct void__node_web *web, uint64_t now_ms, void **resume, size_t cap)
{
    VOID_ASSERT(web != NULL && web->lock_ready);
    char status[sizeof(web->status)];
    size_t slen = status_json(web, status, sizeof(status));
    size_t count = 0;
    pthread_mutex_lock(&web->lock);
    if (slen > 0 && (slen != strlen(web->status) || memcmp(status, web->status, slen) != 0)) {
        memcpy(web->status, status, slen);
        web->status[slen] = '\0';
        web->status_gen++;
    }
    for (int i = 0; i < VOID_NODE_WEB_STREAMS_MAX; i++) {
        struct void__node_web_stream *s = &web->streams[i];
        if (!s->used) {
            continue;
        }
        if (atomic_load(&s->closed)) {
            s->used = 0;
            continue;
        }
        size_t before = s->len;
        if (s->last_write_ms == UINT64_MAX) {
            s->last_write_ms = now_ms;
        }
        if (s->status_gen != web->status_gen && web->status[0] != '\0') {
            char text[sizeof(web->status) + 32];
            int n = snprintf(text, sizeof(text), "event: status\ndata: %s\n\n", web->status);
            if (n > 0 && (size_t)n < sizeof(text) && stream_put(s, text, (size_t)n)) {
                s->status_gen = web->status_gen;
            }
        }
        uint64_t base = 0, last = 0;
        struct feed_ctx fc = {.s = s};
        (void)void__node_causal_each(web->causal,
                                     s->cursor,
                                     (struct void_hlc_ts){0, 0},
                                     (struct void_hlc_ts){UINT64_MAX, UINT32_MAX},
                                     SIZE_MAX,
                                     feed_one,
                                     &fc,
                                     NULL,
                                     &base,
                                     &last);
        if (base > 0 && s->cursor + 1 < base) {
            /* It fell behind the horizon (or the log restarted): say so,
             * so that the page reloads through /events. */
            char text[96];
            int n = snprintf(
                text, sizeof(text), "event: lag\ndata: {\"skipped_to\":%" PRIu64 "}\n\n", base);
            if (n > 0 && stream_put(s, text, (size_t)n)) {
                s->cursor = base - 1;
            }
        } else if (last < s->cursor) {
            s->cursor = last; /* the log restarted lower: follow it */
        }
        if (s->len == before && now_ms - s->last_write_ms >= VOID_NODE_WEB_KEEPALIVE_MS) {
            (void)stream_put(s, ": keepalive\n\n", 13);
        }
        if (s->len != before) {
            s->last_write_ms = now_ms;
        }
        if (s->len > 0 && s->suspended) {
            s->suspended = 0;
            if (s->conn != NULL && count < cap) {
                resume[count++] = s->conn;
            }
        }
    }
    pthread_mutex_unlock(&web->lock);
    return count;
}

ssize_t void__node_web_stream_read(struct void__node_web *web, int slot, char *buf, size_t max)
{
    VOID_ASSERT(slot >= 0 && slot < VOID_NODE_WEB_STREAMS_MAX);
    struct void__node_web_stream *s = &web->streams[slot];
    ssize_t got = 0;
    pthread_mutex_lock(&web->lock);
    VOID_ASSERT(s->used);
    if (s->len > 0) {
        size_t n = s->len < max ? s->len : max;
        memcpy(buf, s->buf + s->head, n);
        s->head += n;
        s->len -= n;
        if (s->len == 0) {
            s->head = 0;
        }
        got = (ssize_t)n;
    } else if (s->closing) {
        got = -1;
    } else {
        s->suspended = 1;
        if (s->conn != NULL) {
            /* Under the lock: the feeder sees `suspended` only once
             * libmicrohttpd has it, so its resume is never lost. */
            MHD_suspend_connection(s->conn);
        }
    }
    pthread_mutex_unlock(&web->lock);
    return got;
}

void void__node_web_stream_closed(struct void__node_web *web, int slot)
{
    VOID_ASSERT(slot >= 0 && slot < VOID_NODE_WEB_STREAMS_MAX);
    atomic_store(&web->streams[slot].closed, 1);
}

static ssize_t on_stream_read(void *cls, uint64_t pos, char *buf, size_t max)
{
    (void)pos;
    struct void__node_web_stream *s = cls;
    struct void__node_web *web = s->owner;
    ssize_t n = void__node_web_stream_read(web, (int)(s - web->streams), buf, max);
    return n < 0 ? MHD_CONTENT_READER_END_OF_STREAM : n;
}

static void on_stream_free(void *cls)
{
    struct void__node_web_stream *s = cls;
    void__node_web_stream_closed(s->owner, (int)(s - s->owner->streams));
}

static void *feeder_main(void *arg)
{
    struct void__node_web *web = arg;
    void *resume[VOID_NODE_WEB_STREAMS_MAX];
    while (!atomic_load(&web->stop)) {
        size_t n = void__node_web_feed(web, mono_ms(), resume, VOID_NODE_WEB_STREAMS_MAX);
        for (size_t i = 0; i < n; i++) {
            MHD_resume_connection(resume[i]);
        }
        struct timespec ts = {.tv_sec = 0, .tv_nsec = VOID_NODE_WEB_TICK_MS * 1000000L};
        (void)nanosleep(&ts, NULL);
    }
    return NULL;
}

int void__node_web_start(struct void__node_web *web)
{
    VOID_ASSERT(web != NULL && web->lock_ready);
    VOID_ASSERT(!web->feeder_running);
    if (pthread_create(&web->feeder, NULL, feeder_main, web) != 0) {
        return VOID_ENOMEM;
    }
    web->feeder_running = 1;
    return 0;
}

void void__node_web_stop(struct void__node_web *web)
{
    if (web == NULL || !web->lock_ready) {
        return;
    }
    if (web->feeder_running) {
        atomic_store(&web->stop, 1);
        pthread_join(web->feeder, NULL);
        web->feeder_running = 0;
    }
    void *resume[VOID_NODE_WEB_STREAMS_MAX];
    size_t n = 0;
    pthread_mutex_lock(&web->lock);
    for (int i = 0; i < VOID_NODE_WEB_STREAMS_MAX; i++) {
        struct void__node_web_stream *s = &web->streams[i];
        s->closing = 1;
        if (s->used && s->suspended && !atomic_load(&s->closed)) {
            s->suspended = 0;
            if (s->conn != NULL) {
                resume[n++] = s->conn;
            }
        }
    }
    pthread_mutex_unlock(&web->lock);
    /* libmicrohttpd must not be stopped with a connection suspended. */
    for (size_t i = 0; i < n; i++) {
        MHD_resume_connection(resume[i]);
    }
}

/* ---- the web view's files --------------------------------------------------------------- */

static enum MHD_Result queue_text(struct MHD_Connection *conn, unsigned status, const char *text)
{
    struct MHD_Response *resp = MHD_create_response_from_buffer(
        strlen(text), (void *)(uintptr_t)text, MHD_RESPMEM_MUST_COPY);
    if (resp == NULL) {
        return MHD_NO;
    }
    (void)MHD_add_response_header(resp, "Content-Type", "text/plain; charset=utf-8");
    (void)MHD_add_response_header(resp, "Access-Control-Allow-Origin", "*");
    enum MHD_Result rc = MHD_queue_response(conn, status, resp);
    MHD_destroy_response(resp);
    return rc;
}

static const char *mime_of(const char *path)
{
    static const struct {
        const char *ext, *type;
    } types[] = {
        {".html", "text/html; charset=utf-8"},
        {".js", "text/javascript; charset=utf-8"},
        {".mjs", "text/javascript; charset=utf-8"},
        {".css", "text/css; charset=utf-8"},
        {".json", "application/json"},
        {".map", "application/json"},
        {".png", "image/png"},
        {".svg", "image/svg+xml"},
        {".ico", "image/x-icon"},
        {".txt", "text/plain; charset=utf-8"},
        {".woff2", "font/woff2"},
    };
    const char *dot = strrchr(path, '.');
    for (size_t i = 0; dot != NULL && i < VOID_ARRAY_LEN(types); i++) {
        if (strcmp(dot, types[i].ext) == 0) {
            return types[i].type;
        }
    }
    return NULL;
}

/* A path the view's files may have: "/" or /name.ext, /dir/name.ext of
 * [A-Za-z0-9._-] with a known type, no "..", no hidden file. */
static int static_path(const char *path)
{
    if (strcmp(path, "/") == 0) {
        return 1;
    }
    if (mime_of(path) == NULL || strlen(path) >= 256) {
        return 0;
    }
    for (const char *p = path; *p != '\0'; p++) {
        char ch = *p;
        int ok = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
                 ch == '.' || ch == '_' || ch == '-' || ch == '/';
        if (!ok || (ch == '/' && (p[1] == '.' || p[1] == '/'))) {
            return 0;
        }
    }
    return 1;
}

static enum MHD_Result
serve_file(struct void__node_web *web, struct MHD_Connection *conn, const char *path)
{
    if (web->root[0] == '\0') {
        char text[sizeof(web->looked) + 256];
        (void)snprintf(text,
                       sizeof(text),
                       "the web view is not built: run scripts/web (npm ci and the bundle in "
                       "web/dist), or set [http] web_root (docs/web.md). Looked in: %s\n",
                       web->looked);
        return queue_text(conn, MHD_HTTP_NOT_FOUND, text);
    }
    const char *rel = strcmp(path, "/") == 0 ? "/index.html" : path;
    char full[VOID_CONFIG_PATH_MAX + 300];
    (void)snprintf(full, sizeof(full), "%s%s", web->root, rel);
    int fd = open(full, O_RDONLY | O_CLOEXEC);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        if (fd >= 0) {
            (void)close(fd);
        }
        return queue_text(conn, MHD_HTTP_NOT_FOUND, "not found in the web view's files\n");
    }
    struct MHD_Response *resp = MHD_create_response_from_fd((uint64_t)st.st_size, fd);
    if (resp == NULL) {
        (void)close(fd);
        return MHD_NO;
    }
    (void)MHD_add_response_header(resp, "Content-Type", mime_of(rel));
    /* index.html names the bundle: a rebuilt page is seen on reload. */
    (void)MHD_add_response_header(resp, "Cache-Control", "no-cache");
    enum MHD_Result rc = MHD_queue_response(conn, MHD_HTTP_OK, resp);
    MHD_destroy_response(resp);
    return rc;
}

static enum MHD_Result serve_stream(struct void__node_web *web, struct MHD_Connection *conn)
{
    uint64_t after = 0;
    int from_now = 1;
    const char *a = MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "after");
    const char *last_id = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Last-Event-ID");
    const char *given = a != NULL ? a : last_id;
    if (given != NULL) {
        if (parse_num(given, 0, VOID_CAUSAL_SEQ_MAX, 0, &after) != 0) {
            return queue_text(conn, MHD_HTTP_BAD_REQUEST, "want after=SEQ (an event seq)\n");
        }
        from_now = 0;
    }
    int slot = void__node_web_stream_open(web, conn, after, from_now);
    if (slot < 0) {
        return queue_text(conn,
                          MHD_HTTP_SERVICE_UNAVAILABLE,
                          "too many streams open on this node; try again later\n");
    }
    struct MHD_Response *resp = MHD_create_response_from_callback(
        MHD_SIZE_UNKNOWN, 4096, on_stream_read, &web->streams[slot], on_stream_free);
    if (resp == NULL) {
        void__node_web_stream_closed(web, slot);
        return MHD_NO;
    }
    (void)MHD_add_response_header(resp, "Content-Type", "text/event-stream");
    (void)MHD_add_response_header(resp, "Cache-Control", "no-cache");
    (void)MHD_add_response_header(resp, "Access-Control-Allow-Origin", "*");
    enum MHD_Result rc = MHD_queue_response(conn, MHD_HTTP_OK, resp);
    MHD_destroy_response(resp); /* the free callback runs when the stream ends */
    return rc;
}

int void__node_web_raw(void *ctx, void *conn, const char *method, const char *path, int *result)
{
    struct void__node_web *web = ctx;
    VOID_ASSERT(web != NULL && conn != NULL);
    (void)method;
    if (strcmp(path, "/stream") == 0) {
        *result = (int)serve_stream(web, conn);
        return 1;
    }
    if (static_path(path)) {
        *result = (int)serve_file(web, conn, path);
        return 1;
    }
    return 0;
}
