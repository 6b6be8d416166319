/*
 * The daemon's causal event log: maps the replica core's EVENT effects to
 * causal events, verifies them online in a partial index (this node's
 * events; see include/void/causal.h), reports alerts (log line, metric, and
 * in halt mode the node stops sending), and answers the /trace/ queries
 * that voidctl trace assembles into the cluster's DAG (docs/causality.md).
 *
 * The receive's remote parent is the (node, seq) the sender wrote into the
 * first 8 bytes of the message body and its HLC is the frame's: both are
 * under the sender's signature (or the COMMIT's MAC, itself keyed per
 * pair), which the core checked before it emitted the receive. Clients are
 * not nodes of the DAG: a client's request is a client_request event naming
 * the client, a reply a reply event.
 */
#include "node_causal.h"

#include "void/assert.h"
#include "void/error.h"
#include "void/log.h"
#include "void/pbft_msg.h"

#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

uint64_t void__node_causal_seq_start(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    uint64_t us = (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
    VOID_ASSERT(us < VOID_CAUSAL_SEQ_MAX / 2);
    return us > 0 ? us : 1;
}

int void__node_causal_init(struct void__node_causal *nc, const struct void_config *config)
{
    VOID_ASSERT(nc != NULL && config != NULL);
    memset(nc, 0, sizeof(*nc));
    nc->on = !config->causal_off;
    nc->halt_mode = config->causal_halt != 0;
    nc->test_hooks = config->causal_test_hooks != 0;
    nc->self = config->self_id;
    nc->nodes = config->count_replicas;
    atomic_init(&nc->halted, 0);
    atomic_init(&nc->sends_withheld, 0);
    if (!nc->on) {
        return 0;
    }
    if (nc->nodes > VOID_CAUSAL_NODES_MAX || nc->self >= nc->nodes) {
        return VOID_EINVAL;
    }
    if (pthread_mutex_init(&nc->lock, NULL) != 0) {
        return VOID_ENOMEM;
    }
    nc->lock_ready = 1;
    struct void_causal_config cc = {
        .nodes = nc->nodes,
        .capacity = config->causal_capacity != 0 ? config->causal_capacity
                                                 : VOID_NODE_CAUSAL_CAPACITY_DEF,
        .orphans_max = 64,
        .orphan_wait_max = 1024,
        .partial = true,
        .self = nc->self,
    };
    nc->walk = calloc(VOID_NODE_CAUSAL_WALK_MAX, sizeof(*nc->walk));
    if (nc->walk == NULL) {
        return VOID_ENOMEM;
    }
    return void_causal_init(&nc->c, &cc);
}

void void__node_causal_fini(struct void__node_causal *nc)
{
    if (nc == NULL) {
        return;
    }
    if (nc->c.ring != NULL) {
        void_causal_fini(&nc->c);
    }
    free(nc->walk);
    nc->walk = NULL;
    if (nc->lock_ready) {
        pthread_mutex_destroy(&nc->lock);
        nc->lock_ready = 0;
    }
}

/* The causal event of pe; *remote is set for a receive with a remote edge. */
static void map_event(const struct void__node_causal *nc,
                      const struct void_pbft_event *pe,
                      struct void_causal_event *ce,
                      int *remote)
{
    memset(ce, 0, sizeof(*ce));
    *remote = 0;
    ce->id.node = pe->node;
    ce->id.seq = pe->local_seq;
    ce->hlc = pe->hlc;
    ce->kind = void_causal_kind_of_pbft(pe->kind);
    uint32_t peer = pe->remote_node;
    int is_replica = peer < nc->nodes;
    if (ce->kind == VOID_CAUSAL_SEND) {
        ce->msg_type = pe->msg_type;
        if (!is_replica && peer != VOID_PBFT_TO_ALL) {
            ce->kind = VOID_CAUSAL_REPLY; /* to a client: not a node of the DAG */
            ce->client_id = peer;
        }
    } else if (ce->kind == VOID_CAUSAL_RECEIVE) {
        ce->msg_type = pe->msg_type;
        if (!is_replica) {
            ce->kind = VOID_CAUSAL_CLIENT_REQUEST;
            ce->client_id = peer;
        } else if (pe->remote_seq == 0 || peer == pe->node) {
            ce->kind = VOID_CAUSAL_LOCAL; /* no edge to check */
        } else {
            ce->from.node = peer;
            ce->from.seq = pe->remote_seq;
            *remote = 1;
        }
    } else if (ce->kind != VOID_CAUSAL_LOCAL) {
        ce->view = pe->view;
        ce->op_seq = pe->seq;
    }
}

static void format_hlc(struct void_hlc_ts t, char *buf, size_t cap)
{
    if (void_hlc_format(t, buf, cap) < 0) {
        snprintf(buf, cap, "%" PRIu64 "/%" PRIu32, t.wall_ns, t.logical);
    }
}

/* Logs, counts and keeps the queued alerts. Under lock. */
static void take_alerts(struct void__node_causal *nc)
{
    struct void_causal_alert a[8];
    size_t got;
    while ((got = void_causal_alerts_take(&nc->c, a, VOID_ARRAY_LEN(a))) > 0) {
        for (size_t i = 0; i < got; i++) {
            char t1[VOID_HLC_FORMAT_MAX], t2[VOID_HLC_FORMAT_MAX];
            format_hlc(a[i].event_hlc, t1, sizeof(t1));
            format_hlc(a[i].other_hlc, t2, sizeof(t2));
            void_log(VOID_LOG_ERROR,
                     "causality violation: %s: event %" PRIu32 ".%" PRIu64 " at %s against %" PRIu32
                     ".%" PRIu64 " at %s%s",
                     void_causal_violation_name(a[i].kind),
                     a[i].event.node,
                     a[i].event.seq,
                     t1,
                     a[i].other.node,
                     a[i].other.seq,
                     t2,
                     nc->halt_mode ? "; on_violation = halt: this node stops voting" : "");
            if (a[i].kind <= VOID_CAUSAL_BUFFER_OVERFLOW) {
                nc->alerts_total[a[i].kind]++;
            }
            nc->recent[nc->recent_count++ % VOID_NODE_CAUSAL_RECENT] = a[i];
        }
    }
    if (nc->halt_mode && nc->c.halt) {
        atomic_store(&nc->halted, 1);
    }
}

/* Submits ce (with the frame's HLC for a remote receive). Under lock. */
static void submit_locked(struct void__node_causal *nc,
                          const struct void_causal_event *ce,
                          int remote,
                          struct void_hlc_ts send_hlc)
{
    int rc = remote ? void_causal_submit_receive(&nc->c, ce, send_hlc)
                    : void_causal_submit(&nc->c, ce);
    if (rc < 0) {
        void_log(VOID_LOG_WARN,
                 "causal log: event %" PRIu32 ".%" PRIu64 " not recorded: %s",
                 ce->id.node,
                 ce->id.seq,
                 void_strerror(rc));
    }
    if (nc->c.alert_count > 0) {
        take_alerts(nc);
    }
}

void void__node_causal_event(struct void__node_causal *nc, const struct void_pbft_event *ev)
{
    VOID_ASSERT(nc != NULL && ev != NULL);
    if (!nc->on) {
        return;
    }
    VOID_ASSERT(ev->node == nc->self);
    struct void_causal_event ce;
    int remote = 0;
    map_event(nc, ev, &ce, &remote);
    pthread_mutex_lock(&nc->lock);
    uint64_t last = nc->c.last[nc->self];
    if (last != 0 && ce.id.seq > last + 1) {
        /* The core numbers an event even when its output is full and drops
         * it (void_effects_overflow_total): the gap is known, not a lie, and
         * would leave every later event waiting. Start the log afresh. */
        void_log(VOID_LOG_WARN,
                 "causal log: events %" PRIu64 "..%" PRIu64 " lost (output full): log restarted",
                 last + 1,
                 ce.id.seq - 1);
        void_causal_reset(&nc->c);
    }
    submit_locked(nc, &ce, remote, ev->remote_hlc);
    pthread_mutex_unlock(&nc->lock);
}

int void__node_causal_withhold(struct void__node_causal *nc, const struct void_pbft_effect *e)
{
    VOID_ASSERT(e->kind == VOID_PBFT_EFFECT_SEND);
    if (!atomic_load(&nc->halted)) {
        return 0;
    }
    atomic_fetch_add(&nc->sends_withheld, 1);
    return 1;
}

/* ---- metrics ------------------------------------------------------------- */

size_t void__node_causal_metrics(struct void__node_causal *nc, char *out, size_t cap)
{
    if (!nc->on || cap == 0) {
        return 0;
    }
    size_t len = 0;
    pthread_mutex_lock(&nc->lock);
    int n = snprintf(out,
                     cap,
                     "void_causal_events_total %" PRIu64 "\n"
                     "void_causal_events_retained %" PRIu64 "\n"
                     "void_causal_events_dropped_total %" PRIu64 "\n"
                     "void_causal_halted %d\n"
                     "void_causal_sends_withheld_total %" PRIu64 "\n",
                     nc->c.count_accepted,
                     nc->c.ord_next - nc->c.ord_oldest,
                     nc->c.count_dropped,
                     atomic_load(&nc->halted),
                     (uint64_t)atomic_load(&nc->sends_withheld));
    len = n > 0 && (size_t)n < cap ? (size_t)n : 0;
    for (int k = VOID_CAUSAL_HLC_ORDER; k <= VOID_CAUSAL_BUFFER_OVERFLOW && len < cap; k++) {
        n = snprintf(out + len,
                     cap - len,
                     "void_causal_alerts_total{kind=\"%s\"} %" PRIu64 "\n",
                     void_causal_violation_name(k),
                     nc->alerts_total[k]);
        len += n > 0 && (size_t)n < cap - len ? (size_t)n : 0;
    }
    pthread_mutex_unlock(&nc->lock);
    return len;
}

/* ---- HTTP ---------------------------------------------------------------- */

static size_t answer(json_t *root, char *out, size_t cap)
{
    char *text = root != NULL ? json_dumps(root, JSON_COMPACT) : NULL;
    json_decref(root);
    size_t len = text != NULL ? strlen(text) : 0;
    if (text == NULL || len + 1 >= cap) {
        free(text);
        return 0;
    }
    memcpy(out, text, len);
    out[len++] = '\n';
    free(text);
    return len;
}

static int error_answer(int code, const char *msg, char *out, size_t cap, size_t *len)
{
    *len = answer(json_pack("{s:s}", "error", msg), out, cap);
    return code;
}

static json_t *id_json(struct void_causal_id id)
{
    char buf[48];
    snprintf(buf, sizeof(buf), "%" PRIu32 ".%" PRIu64, id.node, id.seq);
    return json_string(buf);
}

/* One event as voidctl trace reads it back (docs/causality.md). */
static json_t *event_json(const struct void_causal_event *ev)
{
    char hlc[VOID_HLC_FORMAT_MAX];
    format_hlc(ev->hlc, hlc, sizeof(hlc));
    json_t *j = json_pack("{s:o, s:I, s:I, s:s, s:I, s:i, s:s, s:i, s:I, s:I, s:I, s:I}",
                          "id",
                          id_json(ev->id),
                          "node",
                          (json_int_t)ev->id.node,
                          "seq",
                          (json_int_t)ev->id.seq,
                          "hlc",
                          hlc,
                          "hlc_wall_ns",
                          (json_int_t)ev->hlc.wall_ns,
                          "hlc_logical",
                          (int)ev->hlc.logical,
                          "kind",
                          void_causal_kind_name(ev->kind),
                          "msg_type",
                          (int)ev->msg_type,
                          "view",
                          (json_int_t)ev->view,
                          "op_seq",
                          (json_int_t)ev->op_seq,
                          "client_id",
                          (json_int_t)ev->client_id,
                          "request_no",
                          (json_int_t)ev->request_no);
    if (j != NULL && ev->kind == VOID_CAUSAL_RECEIVE) {
        json_object_set_new(j, "from", id_json(ev->from));
    }
    const char *type = ev->msg_type != 0 ? void_msg_type_name(ev->msg_type) : NULL;
    if (j != NULL && type != NULL) {
        json_object_set_new(j, "msg", json_string(type));
    }
    return j;
}

/* Reads "NODE.SEQ". Returns 0 or VOID_EPARSE. */
static int parse_id(const char *text, struct void_causal_id *id)
{
    if (text == NULL) {
        return VOID_EPARSE;
    }
    char *end = NULL;
    unsigned long long node = strtoull(text, &end, 10);
    if (end == text || *end != '.' || node >= VOID_CAUSAL_NODES_MAX) {
        return VOID_EPARSE;
    }
    const char *s = end + 1;
    unsigned long long seq = strtoull(s, &end, 10);
    if (end == s || *end != '\0' || seq == 0 || seq > VOID_CAUSAL_SEQ_MAX) {
        return VOID_EPARSE;
    }
    id->node = (uint32_t)node;
    id->seq = seq;
    return 0;
}

/* An optional decimal argument in [lo, hi]; def when absent. */
static int parse_num(const char *text, uint64_t lo, uint64_t hi, uint64_t def, uint64_t *out)
{
    if (text == NULL) {
        *out = def;
        return 0;
    }
    char *end = NULL;
    if (*text < '0' || *text > '9') {
        return VOID_EPARSE;
    }
    unsigned long long v = strtoull(text, &end, 10);
    if (*end != '\0' || v < lo || v > hi) {
        return VOID_EPARSE;
    }
    *out = v;
    return 0;
}

/* /trace/events?after=SEQ&limit=N: this node's retained events above after. */
static int http_events(
    struct void__node_causal *nc, void_http_arg_fn arg, void *req, char *out, size_t cap, size_t *len)
{
    uint64_t after = 0, limit = 0;
    if (parse_num(arg(req, "after"), 0, VOID_CAUSAL_SEQ_MAX, 0, &after) != 0 ||
        parse_num(arg(req, "limit"), 1, VOID_NODE_CAUSAL_PAGE_MAX, 500, &limit) != 0) {
        return error_answer(400, "want after=SEQ and limit=1..800", out, cap, len);
    }
    json_t *list = json_array();
    uint32_t self = nc->self;
    uint64_t base = nc->c.base[self], last = nc->c.last[self];
    uint64_t s = after + 1 > base ? after + 1 : base;
    uint64_t count = 0;
    for (; s <= last && count < limit; s++, count++) {
        struct void_causal_event ev;
        if (void_causal_get(&nc->c, (struct void_causal_id){self, s}, &ev) == 0) {
            json_array_append_new(list, event_json(&ev));
        }
    }
    *len = answer(json_pack("{s:I, s:I, s:I, s:I, s:b, s:b, s:o}",
                            "node",
                            (json_int_t)self,
                            "base",
                            (json_int_t)(last == 0 ? 0 : base),
                            "last",
                            (json_int_t)last,
                            "dropped",
                            (json_int_t)nc->c.count_dropped,
                            "more",
                            s <= last,
                            "halted",
                            atomic_load(&nc->halted) != 0,
                            "events",
                            list),
                  out,
                  cap);
    return *len > 0 ? 200 : 500;
}

/* /trace/ancestors|descendants?id=N.S&depth=D&limit=K over this node's log. */
static int http_walk(struct void__node_causal *nc,
                     int up,
                     void_http_arg_fn arg,
                     void *req,
                     char *out,
                     size_t cap,
                     size_t *len)
{
    struct void_causal_id id;
    uint64_t depth = 0, limit = 0;
    if (parse_id(arg(req, "id"), &id) != 0 ||
        parse_num(arg(req, "depth"), 0, UINT32_MAX, 100, &depth) != 0 ||
        parse_num(arg(req, "limit"), 1, VOID_NODE_CAUSAL_PAGE_MAX, 200, &limit) != 0) {
        return error_answer(400, "want id=NODE.SEQ, depth=D and limit=1..800", out, cap, len);
    }
    struct void_causal_walk w;
    int rc = up ? void_causal_ancestors(&nc->c, id, (uint32_t)depth, nc->walk, limit, &w)
                : void_causal_descendants(&nc->c, id, (uint32_t)depth, nc->walk, limit, &w);
    if (rc == VOID_ENOTFOUND || rc == VOID_EKVS_TOO_OLD) {
        return error_answer(404,
                            rc == VOID_ENOTFOUND ? "no such event here"
                                                 : "event past the retention horizon",
                            out,
                            cap,
                            len);
    }
    json_t *list = json_array();
    for (size_t i = 0; i < w.count; i++) {
        struct void_causal_event ev;
        if (void_causal_get(&nc->c, nc->walk[i], &ev) == 0) {
            json_array_append_new(list, event_json(&ev));
        }
    }
    *len = answer(json_pack("{s:o, s:b, s:b, s:b, s:o}",
                            "id",
                            id_json(id),
                            "past_horizon",
                            w.past_horizon,
                            "depth_limited",
                            w.depth_limited,
                            "size_limited",
                            w.size_limited,
                            "events",
                            list),
                  out,
                  cap);
    return *len > 0 ? 200 : 500;
}

/* /trace/cut?at=HLC: this node's frontier. */
static int http_cut(
    struct void__node_causal *nc, void_http_arg_fn arg, void *req, char *out, size_t cap, size_t *len)
{
    struct void_hlc_ts t;
    const char *at = arg(req, "at");
    if (at == NULL || void_hlc_parse(at, &t) != 0) {
        return error_answer(400, "want at=HLC", out, cap, len);
    }
    uint64_t frontier[VOID_CAUSAL_NODES_MAX];
    bool past = false;
    (void)void_causal_cut(&nc->c, t, frontier, &past);
    *len = answer(json_pack("{s:I, s:I, s:b}",
                            "node",
                            (json_int_t)nc->self,
                            "frontier",
                            (json_int_t)frontier[nc->self],
                            "past_horizon",
                            past),
                  out,
                  cap);
    return *len > 0 ? 200 : 500;
}

static int http_alerts(struct void__node_causal *nc, char *out, size_t cap, size_t *len)
{
    json_t *counts = json_object();
    for (int k = VOID_CAUSAL_HLC_ORDER; k <= VOID_CAUSAL_BUFFER_OVERFLOW; k++) {
        json_object_set_new(
            counts, void_causal_violation_name(k), json_integer((json_int_t)nc->alerts_total[k]));
    }
    json_t *recent = json_array();
    uint64_t first = nc->recent_count > VOID_NODE_CAUSAL_RECENT
                         ? nc->recent_count - VOID_NODE_CAUSAL_RECENT
                         : 0;
    for (uint64_t i = first; i < nc->recent_count; i++) {
        const struct void_causal_alert *a = &nc->recent[i % VOID_NODE_CAUSAL_RECENT];
        char t1[VOID_HLC_FORMAT_MAX], t2[VOID_HLC_FORMAT_MAX];
        format_hlc(a->event_hlc, t1, sizeof(t1));
        format_hlc(a->other_hlc, t2, sizeof(t2));
        json_array_append_new(recent,
                              json_pack("{s:s, s:o, s:s, s:o, s:s}",
                                        "kind",
                                        void_causal_violation_name(a->kind),
                                        "event",
                                        id_json(a->event),
                                        "event_hlc",
                                        t1,
                                        "other",
                                        id_json(a->other),
                                        "other_hlc",
                                        t2));
    }
    *len = answer(json_pack("{s:b, s:b, s:I, s:o, s:o}",
                            "halt_mode",
                            nc->halt_mode != 0,
                            "halted",
                            atomic_load(&nc->halted) != 0,
                            "sends_withheld",
                            (json_int_t)atomic_load(&nc->sends_withheld),
                            "alerts_total",
                            counts,
                            "recent",
                            recent),
                  out,
                  cap);
    return *len > 0 ? 200 : 500;
}

/* /trace/forge (test_hooks only): feeds the verifier a receive stamped
 * before its send, as a frame from a lying peer would, through the same
 * path as a real receive. It takes the next local seq: rejected, it never
 * enters the index, so the core's next event still fits. */
static int http_forge(struct void__node_causal *nc, char *out, size_t cap, size_t *len)
{
    struct void_causal_event ce;
    memset(&ce, 0, sizeof(ce));
    uint32_t peer = (nc->self + 1) % nc->nodes;
    ce.id.node = nc->self;
    ce.id.seq = nc->c.last[nc->self] + 1;
    ce.hlc = nc->c.last_hlc[nc->self];
    ce.hlc.logical++;
    ce.kind = VOID_CAUSAL_RECEIVE;
    ce.msg_type = VOID_MSG_PREPARE;
    ce.from.node = peer;
    ce.from.seq = nc->c.seen_seq[peer] + 1;
    struct void_hlc_ts send = ce.hlc;
    send.wall_ns += 1000000000ull; /* the send, one second after its receive */
    void_log(VOID_LOG_WARN, "test hook: feeding the causal verifier a forged receive");
    submit_locked(nc, &ce, peer != nc->self, send);
    *len = answer(json_pack("{s:o, s:b}", "forged", id_json(ce.id), "halted", atomic_load(&nc->halted) != 0),
                  out,
                  cap);
    return 200;
}

int void__node_causal_http(struct void__node_causal *nc,
                           const char *path,
                           void_http_arg_fn arg,
                           void *req,
                           char *out,
                           size_t cap,
                           size_t *len,
                           const char **content_type)
{
    VOID_ASSERT(strncmp(path, "/trace", 6) == 0);
    *content_type = "application/json";
    if (!nc->on) {
        return error_answer(404, "the causal event log is off ([causal] events = 0)", out, cap, len);
    }
    int code = 404;
    pthread_mutex_lock(&nc->lock);
    if (strcmp(path, "/trace/events") == 0) {
        code = http_events(nc, arg, req, out, cap, len);
    } else if (strcmp(path, "/trace/ancestors") == 0 || strcmp(path, "/trace/descendants") == 0) {
        code = http_walk(nc, path[7] == 'a', arg, req, out, cap, len);
    } else if (strcmp(path, "/trace/cut") == 0) {
        code = http_cut(nc, arg, req, out, cap, len);
    } else if (strcmp(path, "/trace/alerts") == 0) {
        code = http_alerts(nc, out, cap, len);
    } else if (strcmp(path, "/trace/forge") == 0 && nc->test_hooks) {
        code = http_forge(nc, out, cap, len);
    } else {
        code = error_answer(404,
                            "try /trace/events, /trace/ancestors, /trace/descendants, "
                            "/trace/cut or /trace/alerts",
                            out,
                            cap,
                            len);
    }
    pthread_mutex_unlock(&nc->lock);
    return code;
}

/* ---- the web module's reads (node_web.c) ---------------------------------- */

size_t void__node_causal_each(struct void__node_causal *nc,
                              uint64_t after,
                              struct void_hlc_ts from,
                              struct void_hlc_ts to,
                              size_t limit,
                              void__node_causal_each_fn fn,
                              void *ctx,
                              int *more,
                              uint64_t *base,
                              uint64_t *last)
{
    VOID_ASSERT(nc != NULL);
    VOID_ASSERT(fn != NULL || limit == 0);
    int more_local = 0;
    uint64_t b = 0, l = 0;
    size_t taken = 0;
    if (nc->on) {
        pthread_mutex_lock(&nc->lock);
        uint32_t self = nc->self;
        l = nc->c.last[self];
        b = l == 0 ? 0 : nc->c.base[self];
        uint64_t lo = after + 1 > b ? after + 1 : b, hi = l + 1;
        /* A node's HLCs rise with its seq: the first event at or after
         * `from` is found by bisection, not by a scan of the horizon. */
        while (l != 0 && lo < hi) {
            uint64_t mid = lo + (hi - lo) / 2;
            struct void_causal_event ev;
            if (void_causal_get(&nc->c, (struct void_causal_id){self, mid}, &ev) == 0 &&
                void_hlc_compare(ev.hlc, from) >= 0) {
                hi = mid;
            } else {
                lo = mid + 1;
            }
        }
        for (uint64_t s = lo; l != 0 && s <= l; s++) {
            struct void_causal_event ev;
            if (void_causal_get(&nc->c, (struct void_causal_id){self, s}, &ev) != 0) {
                continue;
            }
            if (void_hlc_compare(ev.hlc, to) > 0) {
                break;
            }
            if (taken >= limit || fn(ctx, &ev) != 0) {
                more_local = 1;
                break;
            }
            taken++;
        }
        pthread_mutex_unlock(&nc->lock);
    }
    if (more != NULL) {
        *more = more_local;
    }
    if (base != NULL) {
        *base = b;
    }
    if (last != NULL) {
        *last = l;
    }
    return taken;
}

int void__node_causal_halted(struct void__node_causal *nc)
{
    VOID_ASSERT(nc != NULL);
    return atomic_load(&nc->halted) != 0;
}
