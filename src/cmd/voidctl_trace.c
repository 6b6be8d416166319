/*
 * voidctl trace: questions about the cluster's causal event DAG
 * (docs/causality.md). Each node keeps its own events (a partial index,
 * src/io/node_causal.c) and serves them under /trace/ on its HTTP address;
 * this command fetches every node's retained events, assembles them in one
 * open-start index of include/void/causal.h (submitted in HLC order, which
 * is a topological order of the DAG, so that the full verifier checks every
 * cross-node edge on the way: a receive's send is a send with its payload
 * and an earlier HLC), and answers from it:
 *
 *   ancestors EVENT / descendants EVENT  the causal history or future
 *   cut --at HLC                         the consistent frontier per node
 *   explain KEY                          request -> pre-prepare -> prepare ->
 *                                        commit -> execute of the key's
 *                                        latest version on every replica
 *   export --format dot|shiviz           Graphviz, or a ShiViz log
 *
 * A receive whose send lies outside what was fetched (its node down, or the
 * send past that node's horizon) is kept as a local event and counted.
 */
#include "cmd/voidctl.h"
#include "cmd/voidctl_http.h"
#include "cmd/voidctl_trace.h"
#include "void/assert.h"
#include "void/causal.h"
#include "void/codec.h"
#include "void/config.h"
#include "void/error.h"
#include "void/bytes.h"
#include "void/sign.h"
#include "void/hash.h"
#include "void/hlc.h"
#include "void/kvclient.h"
#include "void/membership.h"
#include "void/sm.h"

#include <curl/curl.h>
#include <getopt.h>
#include <inttypes.h>
#include <jansson.h>
#include <signal.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TRACE_DEPTH_DEF 1000
#define TRACE_LIMIT_DEF 10000
#define TRACE_AT_MAX    1000 /* --at given more than once: one cut each */
/* Events assembled at most (--max-events): each costs about 88 bytes here
 * and 100 + 4 * nodes in the core's index, so 1,000,000 of 4 nodes about
 * 200 MB. Beyond it voidctl stops reading and says so. */
#define TRACE_MAX_EVENTS_DEF 1000000
#define TRACE_MAX_EVENTS_MAX 100000000

struct trace_opts {
    struct voidctl_opts base;
    uint32_t depth;
    size_t limit;
    const char *at[TRACE_AT_MAX];
    size_t count_at;
    const char *format;
    const char *out;
    const char *version;
    const char *prefix, *after, *from, *to; /* state, diff */
    struct void_hlc_ts fetch_to;   /* events stamped later are not fetched (cut, ancestors) */
    struct void_hlc_ts fetch_from; /* events stamped earlier are not kept (descendants) */
    struct void_hlc_ts fetch_since; /* events stamped before it are not fetched (explain); 0: all */
    size_t max_events;             /* events assembled at most */
    int limit_given;
};

/* The assembled DAG. */
struct trace_dag {
    struct void_causal_event *ev;
    size_t count, cap;
    uint32_t nodes;
    int reached[VOID_CAUSAL_NODES_MAX];
    int listed[VOID_CAUSAL_NODES_MAX]; /* a replica of the cluster file (ids below nodes) */
    uint64_t lo[VOID_CAUSAL_NODES_MAX], hi[VOID_CAUSAL_NODES_MAX]; /* fetched seq range */
    uint64_t base[VOID_CAUSAL_NODES_MAX]; /* each node's oldest retained seq (its window) */
    size_t edges_outside; /* receives whose send was not fetched */
    size_t max_events;    /* dag_push refuses more (VOID_ERANGE) */
    struct void_hlc_ts keep_from; /* events stamped before it are not kept */
    struct void_causal c;
    size_t alerts;
    struct void_causal_alert first_alert;
};

static void usage(FILE *out)
{
    fprintf(out,
            "usage: voidctl trace <query> [args] [options]\n"
            "\n"
            "Questions about the cluster's causal event DAG (docs/causality.md). Every\n"
            "node keeps its events in DATA_DIR/causal for its retention window; trace\n"
            "fetches them from every replica's HTTP address, checks every edge across\n"
            "nodes, and answers (an event compacted out of its node's window: exit 3):\n"
            "\n"
            "  ancestors EVENT [--depth N] [--limit K]   what caused EVENT (NODE.SEQ)\n"
            "  descendants EVENT [--depth N] [--limit K] what EVENT caused\n"
            "  cut --at HLC                              the consistent frontier per node\n"
            "  explain KEY [--version HLC]               the chain of KEY's latest version:\n"
            "                                            request, pre-prepare, prepare,\n"
            "                                            commit and execute on every replica\n"
            "                                            (fetches the seconds around it only)\n"
            "  export --format dot|shiviz [--out FILE]   Graphviz DOT, or a ShiViz log\n"
            "                                            (the regex to paste goes to stderr)\n"
            "  state --at HLC                            the key/value state as of HLC\n"
            "  diff --from HLC --to HLC                  keys created, changed and deleted\n"
            "                                            between two times, old and new values\n"
            "    (state, diff: [--prefix P] [--after KEY] [--limit K]; answered from the\n"
            "    replicas' executed state: f + 1 must sign the same digest; a time before\n"
            "    the retention horizon, or after the executed horizon: exit 3)\n"
            "\n"
            "options:\n"
            "  --depth N      edges to follow (default %d)\n"
            "  --max-events M events voidctl assembles in memory at most (default %d,\n"
            "                 about 200 bytes each); more: exit 1, saying so. ancestors\n"
            "                 fetch only the events before EVENT, descendants those after\n"
            "                 it, cut those up to its latest --at\n"
            "  --limit K      events at most (default %d); state, diff: keys at most\n"
            "                 (default all), then `more` and the key to resume --after\n"
            "  --prefix P     state, diff: only the keys that start with P\n"
            "  --after KEY    state, diff: only the keys after KEY (the next page)\n"
            "  --from HLC, --to HLC  diff: the two times\n"
            "  --at HLC       a time: 2026-12-07T00:11:45.5Z/0, or WALLNS[/LOGICAL];\n"
            "                 cut: repeat it for several cuts of one fetch (one JSON\n"
            "                 line each with --json)\n"
            "  --version HLC  explain: the version's stamp (default: read KEY now)\n"
            "  --format F     export: dot or shiviz\n"
            "  --out FILE     export: write there instead of stdout\n"
            "  --cluster FILE, --timeout S, --json, --help as for every command\n"
            "\n",
            TRACE_DEPTH_DEF,
            TRACE_MAX_EVENTS_DEF,
            TRACE_LIMIT_DEF);
    voidctl_print_exit_codes(out);
    fprintf(out,
            "\n"
            "examples:\n"
            "  voidctl trace explain motd\n"
            "  voidctl trace ancestors 2.1796602303242528 --depth 20 --json\n"
            "  voidctl trace export --format dot --out run.dot && dot -Tsvg run.dot > run.svg\n"
            "  voidctl trace state --at 2026-12-07T09:00:00Z/0 --prefix user/ --limit 100\n"
            "  voidctl trace diff --from 2026-12-07T09:00:00Z/0 --to 2026-12-07T10:00:00Z/0 --json\n");
}

static int parse_u64(const char *text, uint64_t max, uint64_t *out)
{
    char *end = NULL;
    if (text == NULL || *text < '0' || *text > '9') {
        return -1;
    }
    unsigned long long v = strtoull(text, &end, 10);
    if (*end != '\0' || v > max) {
        return -1;
    }
    *out = v;
    return 0;
}

/* Parses the options; returns the number of positionals or -1. */
static int parse_opts(int argc, char **argv, struct trace_opts *o, char **pos, int cap)
{
    static const struct option longopts[] = {{"cluster", required_argument, NULL, 'c'},
                                             {"config", required_argument, NULL, 'c'},
                                             {"timeout", required_argument, NULL, 't'},
                                             {"json", no_argument, NULL, 'j'},
                                             {"quiet", no_argument, NULL, 'q'},
                                             {"help", no_argument, NULL, 'h'},
                                             {"depth", required_argument, NULL, 'd'},
                                             {"limit", required_argument, NULL, 'l'},
                                             {"at", required_argument, NULL, 'a'},
                                             {"format", required_argument, NULL, 'f'},
                                             {"out", required_argument, NULL, 'o'},
                                             {"version", required_argument, NULL, 'v'},
                                             {"prefix", required_argument, NULL, 'P'},
                                             {"after", required_argument, NULL, 'A'},
                                             {"from", required_argument, NULL, 'F'},
                                             {"to", required_argument, NULL, 'T'},
                                             {"max-events", required_argument, NULL, 'M'},
                                             {NULL, 0, NULL, 0}};
    memset(o, 0, sizeof(*o));
    o->base.timeout_s = 5.0;
    o->depth = TRACE_DEPTH_DEF;
    o->limit = TRACE_LIMIT_DEF;
    o->fetch_to = (struct void_hlc_ts){UINT64_MAX, UINT32_MAX};
    o->fetch_from = (struct void_hlc_ts){0, 0};
    o->max_events = TRACE_MAX_EVENTS_DEF;
    optind = 0;
    opterr = 0;
    int c;
    uint64_t v = 0;
    while ((c = getopt_long(argc, argv, ":hq", longopts, NULL)) != -1) {
        switch (c) {
        case 'c':
            o->base.cluster = optarg;
            break;
        case 't': {
            char *end = NULL;
            double t = strtod(optarg, &end);
            if (end == optarg || *end != '\0' || !(t > 0 && t <= 86400)) {
                fprintf(stderr, "voidctl trace: --timeout wants seconds in (0, 86400]\n");
                return -1;
            }
            o->base.timeout_s = t;
            break;
        }
        case 'j':
            o->base.json = 1;
            break;
        case 'q':
            o->base.quiet = 1;
            break;
        case 'h':
            o->base.help = 1;
            break;
        case 'd':
            if (parse_u64(optarg, UINT32_MAX, &v) != 0) {
                fprintf(stderr, "voidctl trace: --depth wants 0..%u, not '%s'\n", UINT32_MAX, optarg);
                return -1;
            }
            o->depth = (uint32_t)v;
            break;
        case 'l':
            if (parse_u64(optarg, 100000000, &v) != 0 || v == 0) {
                fprintf(stderr, "voidctl trace: --limit wants 1..100000000, not '%s'\n", optarg);
                return -1;
            }
            o->limit = (size_t)v;
            o->limit_given = 1;
            break;
        case 'a':
            if (o->count_at == TRACE_AT_MAX) {
                fprintf(stderr, "voidctl trace: --at at most %d times\n", TRACE_AT_MAX);
                return -1;
            }
            o->at[o->count_at++] = optarg;
            break;
        case 'f':
            o->format = optarg;
            break;
        case 'o':
            o->out = optarg;
            break;
        case 'v':
            o->version = optarg;
            break;
        case 'P':
            o->prefix = optarg;
            break;
        case 'A':
            o->after = optarg;
            break;
        case 'F':
            o->from = optarg;
            break;
        case 'T':
            o->to = optarg;
            break;
        case 'M':
            if (parse_u64(optarg, TRACE_MAX_EVENTS_MAX, &v) != 0 || v == 0) {
                fprintf(stderr,
                        "voidctl trace: --max-events wants 1..%d, not '%s'\n",
                        TRACE_MAX_EVENTS_MAX,
                        optarg);
                return -1;
            }
            o->max_events = (size_t)v;
            break;
        default:
            fprintf(stderr,
                    "voidctl trace: %s option '%s' (see voidctl trace --help)\n",
                    c == ':' ? "missing value for" : "unknown",
                    optind > 0 ? argv[optind - 1] : "?");
            return -1;
        }
    }
    int npos = argc - optind;
    if (npos > cap) {
        fprintf(stderr, "voidctl trace: too many arguments (see voidctl trace --help)\n");
        return -1;
    }
    for (int i = 0; i < npos; i++) {
        pos[i] = argv[optind + i];
    }
    return npos;
}

/* ---- fetching ------------------------------------------------------------ */

static int kind_from_name(const char *name)
{
    for (int k = 1; k <= VOID_CAUSAL_KIND_MAX; k++) {
        if (strcmp(void_causal_kind_name(k), name) == 0) {
            return k;
        }
    }
    return -1;
}

static int parse_id(const char *text, struct void_causal_id *id)
{
    char *end = NULL;
    if (text == NULL || *text < '0' || *text > '9') {
        return -1;
    }
    unsigned long long node = strtoull(text, &end, 10);
    if (*end != '.' || node >= VOID_CAUSAL_NODES_MAX) {
        return -1;
    }
    const char *s = end + 1;
    if (*s < '0' || *s > '9') {
        return -1;
    }
    unsigned long long seq = strtoull(s, &end, 10);
    if (*end != '\0' || seq == 0 || seq > VOID_CAUSAL_SEQ_MAX) {
        return -1;
    }
    id->node = (uint32_t)node;
    id->seq = seq;
    return 0;
}

static uint64_t jnum(json_t *o, const char *key)
{
    json_t *v = json_object_get(o, key);
    return json_is_integer(v) ? (uint64_t)json_integer_value(v) : 0;
}

/* One event of a /trace/events answer. Returns 0 or -1 (malformed). */
static int event_from_json(json_t *j, struct void_causal_event *ev)
{
    memset(ev, 0, sizeof(*ev));
    json_t *kind = json_object_get(j, "kind");
    int k = json_is_string(kind) ? kind_from_name(json_string_value(kind)) : -1;
    if (k < 0) {
        return -1;
    }
    ev->kind = (uint8_t)k;
    ev->id.node = (uint32_t)jnum(j, "node");
    ev->id.seq = jnum(j, "seq");
    ev->hlc.wall_ns = jnum(j, "hlc_wall_ns");
    ev->hlc.logical = (uint32_t)jnum(j, "hlc_logical");
    ev->msg_type = (uint8_t)jnum(j, "msg_type");
    ev->view = jnum(j, "view");
    ev->op_seq = jnum(j, "op_seq");
    ev->client_id = jnum(j, "client_id");
    ev->request_no = jnum(j, "request_no");
    if (ev->kind == VOID_CAUSAL_RECEIVE) {
        json_t *from = json_object_get(j, "from");
        if (!json_is_string(from) || parse_id(json_string_value(from), &ev->from) != 0) {
            return -1;
        }
    }
    return void_causal_event_check(ev) == 0 ? 0 : -1;
}

static int dag_push(struct trace_dag *d, const struct void_causal_event *ev)
{
    if (d->count >= d->max_events) {
        return VOID_ERANGE; /* the memory bound: the caller stops reading */
    }
    if (d->count == d->cap) {
        size_t cap = d->cap == 0 ? 4096 : d->cap * 2;
        cap = cap > d->max_events ? d->max_events : cap;
        struct void_causal_event *p = realloc(d->ev, cap * sizeof(*p));
        if (p == NULL) {
            return VOID_ENOMEM;
        }
        d->ev = p;
        d->cap = cap;
    }
    d->ev[d->count++] = *ev;
    return 0;
}

/* One replica's /trace/events stream being read (fetch_node). */
struct fetch {
    struct trace_dag *d;
    uint32_t id;
    uint64_t after;
    size_t first; /* d->count before this node's events */
    int header, end, bad, oom, full;
    uint64_t count, last_seq;
    uint64_t hashed; /* events in the answer (kept or not) */
    struct void_hash_ctx records;
    uint8_t sig[VOID_SIGN_SIZE];
    int have_sig;
};

static int fetch_line(void *ctx, const char *line, size_t len)
{
    struct fetch *f = ctx;
    json_t *j = json_loadb(line, len, 0, NULL);
    if (!json_is_object(j) || json_object_get(j, "error") != NULL) {
        json_decref(j);
        f->bad = 1;
        return 1;
    }
    if (!f->header) {
        f->header = 1;
        f->d->base[f->id] = jnum(j, "base");
        json_decref(j);
        return 0;
    }
    if (json_is_true(json_object_get(j, "end"))) {
        f->end = 1;
        f->count = jnum(j, "count");
        const char *hex = json_string_value(json_object_get(j, "sig"));
        f->have_sig = hex != NULL && strlen(hex) == 2 * VOID_SIGN_SIZE;
        for (size_t b = 0; f->have_sig && b < VOID_SIGN_SIZE; b++) {
            unsigned v;
            f->have_sig = sscanf(hex + 2 * b, "%2x", &v) == 1;
            f->sig[b] = (uint8_t)v;
        }
        json_decref(j);
        return 1;
    }
    struct void_causal_event ev;
    int ok = event_from_json(j, &ev) == 0 && ev.id.node == f->id && ev.id.seq > f->after &&
             ev.id.seq > f->last_seq;
    json_decref(j);
    if (!ok) {
        f->bad = 1;
        return 1;
    }
    /* The node signed the records of its events: rebuilt from what we parsed. */
    uint8_t rec[VOID_CAUSAL_RECORD_SIZE];
    void_causal_encode(&ev, rec);
    f->hashed++;
    void_hash_update(&f->records, rec, sizeof(rec));
    /* Hashed for the signature, but only kept when the question needs it. */
    int rc = void_hlc_compare(ev.hlc, f->d->keep_from) >= 0 ? dag_push(f->d, &ev) : 0;
    if (rc != 0) {
        f->oom = rc == VOID_ENOMEM;
        f->full = rc == VOID_ERANGE;
        return 1;
    }
    f->last_seq = ev.id.seq;
    return 0;
}

/* Streams replica i's retained events (/trace/events without a limit: one
 * chunked answer, read line by line) into d, and checks the node's
 * signature over them; a node whose answer is not signed by its key leaves
 * no event in d. */
static int fetch_node(const struct void_config *cl,
                      uint32_t i,
                      double timeout_s,
                      uint64_t after,
                      struct void_hlc_ts to,
                      struct trace_dag *d)
{
    struct fetch f = {.d = d, .id = cl->replicas[i].id, .first = d->count};
    void_hash_init(&f.records);
    char url[VOID_CONFIG_ADDR_MAX + 128], path[128];
    snprintf(path,
             sizeof(path),
             "/trace/events?after=%" PRIu64 "&to=%" PRIu64 "/%" PRIu32,
             after,
             to.wall_ns,
             to.logical);
    voidctl_http_url(&cl->replicas[i].http, path, url, sizeof(url));
    long code = 0;
    int rc = voidctl_get_lines(url, timeout_s, fetch_line, &f, &code);
    if (code == 404) {
        return VOID_ENOTFOUND;
    }
    if (rc != 0 || f.oom || f.full || !f.header || !f.end) {
        d->count = f.first;
        return f.oom    ? VOID_ENOMEM
               : f.full ? VOID_ERANGE
               : f.bad  ? VOID_EBAD_FIELD
                        : VOID_ETIMEOUT;
    }
    uint8_t msg[4 + 8 + 8 + VOID_HLC_ENCODED_SIZE + VOID_HASH_SIZE];
    void_bytes_put_be32(msg, f.id);
    void_bytes_put_be64(msg + 4, after);
    void_bytes_put_be64(msg + 12, f.hashed);
    void_hlc_encode(to, msg + 20);
    void_hash_final(&f.records, msg + 20 + VOID_HLC_ENCODED_SIZE);
    if (f.bad || !f.have_sig || f.count != f.hashed ||
        void_sign_verify(cl->replicas[i].public_key, VOID_SIGN_DOMAIN_TRACE, msg, sizeof(msg), f.sig) != 0) {
        d->count = f.first;
        return VOID_EBAD_SIG;
    }
    for (size_t k = f.first; k < d->count; k++) {
        uint64_t seq = d->ev[k].id.seq;
        d->lo[f.id] = d->lo[f.id] == 0 || seq < d->lo[f.id] ? seq : d->lo[f.id];
        d->hi[f.id] = seq > d->hi[f.id] ? seq : d->hi[f.id];
    }
    return 0;
}

/* One page of node id.node's log: is the event there, and its HLC. */
struct probe {
    struct void_causal_id id;
    int answered, found;
    uint64_t base, last;
    struct void_hlc_ts hlc;
};

static int probe_line(void *ctx, const char *line, size_t len)
{
    struct probe *p = ctx;
    json_t *j = json_loadb(line, len, 0, NULL);
    json_t *list = json_object_get(j, "events");
    if (json_is_object(j) && json_is_array(list)) {
        p->answered = 1;
        p->base = jnum(j, "base");
        p->last = jnum(j, "last");
        struct void_causal_event ev;
        if (json_array_size(list) > 0 && event_from_json(json_array_get(list, 0), &ev) == 0 &&
            ev.id.node == p->id.node && ev.id.seq == p->id.seq) {
            p->found = 1;
            p->hlc = ev.hlc;
        }
    }
    json_decref(j);
    return 1;
}

/* Asks the event's own node for it (a one-event page), so that a walk
 * fetches only the events on its side of the event's HLC: every ancestor
 * is stamped before it and every descendant after (the verifier holds each
 * edge to that). The page is not trusted beyond that: the event is fetched
 * again in its node's signed stream, and a wrong HLC only leaves it out. */
static void probe_event(const struct void_config *cl, double timeout_s, struct probe *p)
{
    for (uint32_t i = 0; i < cl->count_replicas; i++) {
        if (cl->replicas[i].id != p->id.node) {
            continue;
        }
        char url[VOID_CONFIG_ADDR_MAX + 128], path[96];
        snprintf(path, sizeof(path), "/trace/events?after=%" PRIu64 "&limit=1", p->id.seq - 1);
        voidctl_http_url(&cl->replicas[i].http, path, url, sizeof(url));
        long code = 0;
        (void)voidctl_get_lines(url, timeout_s, probe_line, p, &code);
        return;
    }
}

static int by_hlc(const void *pa, const void *pb)
{
    const struct void_causal_event *a = pa, *b = pb;
    int c = void_hlc_compare(a->hlc, b->hlc);
    if (c != 0) {
        return c;
    }
    if (a->id.node != b->id.node) {
        return a->id.node < b->id.node ? -1 : 1;
    }
    return a->id.seq < b->id.seq ? -1 : (a->id.seq > b->id.seq);
}

/* Replica i's last own event stamped at or before t (/trace/cut?at=t), so
 * that a fetch can start after it; 0 (fetch from the start of its window)
 * when it does not answer or t is past its horizon. Only a starting point:
 * the events fetched are still checked against the node's signature. */
static uint64_t frontier_at(const struct void_config *cl, uint32_t i, double timeout_s, struct void_hlc_ts t)
{
    char path[96];
    snprintf(path, sizeof(path), "/trace/cut?at=%" PRIu64 "/%" PRIu32, t.wall_ns, t.logical);
    char buf[512];
    struct voidctl_body b;
    voidctl_body_init(&b, buf, sizeof(buf));
    long code = voidctl_http_get_addr(&cl->replicas[i].http, path, (long)(timeout_s * 1000), &b);
    json_t *j = code == 200 ? json_loads(b.text, 0, NULL) : NULL;
    uint64_t seq = 0;
    if (json_is_object(j) && !json_is_true(json_object_get(j, "past_horizon"))) {
        seq = jnum(j, "frontier");
    }
    json_decref(j);
    return seq;
}

/* Fetches every replica's events and assembles the DAG. Returns an exit
 * status. */
static int assemble(const struct void_config *cl, const struct trace_opts *o, struct trace_dag *d)
{
    memset(d, 0, sizeof(*d));
    d->nodes = cl->slots; /* a member that joined has an id below the slots */
    d->max_events = o->max_events;
    d->keep_from = o->fetch_from;
    uint32_t reached = 0;
    for (uint32_t i = 0; i < cl->count_replicas; i++) {
        VOID_ASSERT(cl->replicas[i].id < d->nodes);
        d->listed[cl->replicas[i].id] = 1;
    }
    for (uint32_t i = 0; i < cl->count_replicas; i++) {
        uint64_t after = o->fetch_since.wall_ns != 0
                             ? frontier_at(cl, i, o->base.timeout_s, o->fetch_since)
                             : 0;
        int rc = fetch_node(cl, i, o->base.timeout_s, after, o->fetch_to, d);
        if (rc == VOID_ERANGE) {
            fprintf(stderr,
                    "voidctl trace: the replicas hold more than %zu events for this question "
                    "(--max-events, about %zu MB of memory here); ask about one event "
                    "(ancestors and descendants fetch only its past or its future) or a "
                    "cut (only up to its latest --at), or raise --max-events\n",
                    d->max_events,
                    d->max_events * 200 / 1000000);
            return VOIDCTL_EXIT_FAILED;
        }
        if (rc == 0) {
            d->reached[cl->replicas[i].id] = 1;
            reached++;
        } else {
            fprintf(stderr,
                    "voidctl trace: replica %u: %s\n",
                    (unsigned)cl->replicas[i].id,
                    rc == VOID_ENOTFOUND ? "its causal log is off"
                    : rc == VOID_EBAD_SIG
                        ? "its /trace/events answer is not signed by its key: its events are left out"
                        : void_strerror(rc));
        }
    }
    if (reached == 0) {
        fprintf(stderr, "voidctl trace: no replica answered on its HTTP address\n");
        return VOIDCTL_EXIT_UNREACHABLE;
    }
    qsort(d->ev, d->count, sizeof(*d->ev), by_hlc);
    for (size_t i = 0; i < d->count; i++) {
        struct void_causal_event *ev = &d->ev[i];
        uint32_t n = ev->from.node;
        if (ev->kind == VOID_CAUSAL_RECEIVE &&
            (n >= d->nodes || !d->reached[n] || ev->from.seq < d->lo[n] || ev->from.seq > d->hi[n])) {
            ev->kind = VOID_CAUSAL_LOCAL; /* its send was not fetched: no edge to draw */
            memset(&ev->from, 0, sizeof(ev->from));
            d->edges_outside++;
        }
    }
    struct void_causal_config cc = {.nodes = d->nodes,
                                    .capacity = d->count > 2 ? d->count : 2,
                                    .orphans_max = 1024,
                                    .orphan_wait_max = d->count + 1,
                                    .open_start = true};
    int rc = void_causal_init(&d->c, &cc);
    if (rc != 0) {
        fprintf(stderr, "voidctl trace: %s\n", void_strerror(rc));
        return VOIDCTL_EXIT_FAILED;
    }
    for (size_t i = 0; i < d->count; i++) {
        (void)void_causal_submit(&d->c, &d->ev[i]);
    }
    (void)void_causal_flush(&d->c);
    struct void_causal_alert a[VOID_CAUSAL_ALERTS_MAX];
    d->alerts = void_causal_alerts_take(&d->c, a, VOID_CAUSAL_ALERTS_MAX);
    if (d->alerts > 0) {
        d->first_alert = a[0];
        fprintf(stderr,
                "voidctl trace: warning: %zu causality alerts across nodes, the first: %s at "
                "%" PRIu32 ".%" PRIu64 " against %" PRIu32 ".%" PRIu64 "\n",
                d->alerts,
                void_causal_violation_name(a[0].kind),
                a[0].event.node,
                a[0].event.seq,
                a[0].other.node,
                a[0].other.seq);
    }
    return VOIDCTL_EXIT_OK;
}

static void dag_free(struct trace_dag *d)
{
    if (d->c.ring != NULL) {
        void_causal_fini(&d->c);
    }
    free(d->ev);
}

/* ---- output -------------------------------------------------------------- */

static void hlc_text(struct void_hlc_ts t, char *buf, size_t cap)
{
    if (void_hlc_format(t, buf, cap) < 0) {
        snprintf(buf, cap, "%" PRIu64 "/%" PRIu32, t.wall_ns, t.logical);
    }
}

static json_t *event_json(const struct void_causal_event *ev)
{
    char hlc[VOID_HLC_FORMAT_MAX], id[48];
    hlc_text(ev->hlc, hlc, sizeof(hlc));
    snprintf(id, sizeof(id), "%" PRIu32 ".%" PRIu64, ev->id.node, ev->id.seq);
    json_t *j = json_pack("{s:s, s:I, s:s, s:s}",
                          "id",
                          id,
                          "node",
                          (json_int_t)ev->id.node,
                          "hlc",
                          hlc,
                          "kind",
                          void_causal_kind_name(ev->kind));
    const char *msg = ev->msg_type != 0 ? void_msg_type_name(ev->msg_type) : NULL;
    if (msg != NULL) {
        json_object_set_new(j, "msg", json_string(msg));
    }
    if (ev->kind == VOID_CAUSAL_RECEIVE) {
        snprintf(id, sizeof(id), "%" PRIu32 ".%" PRIu64, ev->from.node, ev->from.seq);
        json_object_set_new(j, "from", json_string(id));
    }
    if (ev->view != 0 || ev->op_seq != 0) {
        json_object_set_new(j, "view", json_integer((json_int_t)ev->view));
        json_object_set_new(j, "op_seq", json_integer((json_int_t)ev->op_seq));
    }
    if (ev->client_id != 0) {
        json_object_set_new(j, "client_id", json_integer((json_int_t)ev->client_id));
    }
    return j;
}

static void print_event(const char *prefix, const struct void_causal_event *ev)
{
    char hlc[VOID_HLC_FORMAT_MAX];
    hlc_text(ev->hlc, hlc, sizeof(hlc));
    const char *msg = ev->msg_type != 0 ? void_msg_type_name(ev->msg_type) : NULL;
    printf("%s%" PRIu32 ".%" PRIu64 "  %s  %s%s%s",
           prefix,
           ev->id.node,
           ev->id.seq,
           hlc,
           void_causal_kind_name(ev->kind),
           msg != NULL ? " " : "",
           msg != NULL ? msg : "");
    if (ev->kind == VOID_CAUSAL_RECEIVE) {
        printf(" from %" PRIu32 ".%" PRIu64, ev->from.node, ev->from.seq);
    }
    if (ev->view != 0 || ev->op_seq != 0) {
        printf(" view=%" PRIu64 " seq=%" PRIu64, ev->view, ev->op_seq);
    }
    if (ev->client_id != 0) {
        printf(" client=%" PRIu64, ev->client_id);
    }
    printf("\n");
}

static void print_json(json_t *j)
{
    char *text = json_dumps(j, JSON_COMPACT);
    printf("%s\n", text != NULL ? text : "{}");
    free(text);
    json_decref(j);
}

/* ---- queries ------------------------------------------------------------- */

static int cmd_walk(struct trace_opts *o, struct trace_dag *d, const char *arg, int up)
{
    struct void_causal_id id;
    if (parse_id(arg, &id) != 0) {
        fprintf(stderr, "voidctl trace: '%s' is not an event id (NODE.SEQ)\n", arg);
        return VOIDCTL_EXIT_USAGE;
    }
    struct void_causal_id *out = calloc(o->limit, sizeof(*out));
    if (out == NULL) {
        return VOIDCTL_EXIT_FAILED;
    }
    struct void_causal_walk w;
    int rc = up ? void_causal_ancestors(&d->c, id, o->depth, out, o->limit, &w)
                : void_causal_descendants(&d->c, id, o->depth, out, o->limit, &w);
    if (rc != 0 && id.node < d->nodes && d->reached[id.node] && id.seq < d->base[id.node]) {
        /* Compacted out of that node's window: a known past, not a typo. */
        fprintf(stderr,
                "voidctl trace: event %s is outside node %" PRIu32 "'s retention window "
                "(its oldest retained event is %" PRIu32 ".%" PRIu64 ")\n",
                arg,
                id.node,
                id.node,
                d->base[id.node]);
        free(out);
        return VOIDCTL_EXIT_REFUSED;
    }
    if (rc != 0) {
        fprintf(stderr,
                "voidctl trace: event %s %s\n",
                arg,
                rc == VOID_ENOTFOUND ? "not found on any replica that answered"
                                     : "is past the retention horizon");
        free(out);
        return VOIDCTL_EXIT_FAILED;
    }
    /* Printed as the events are read from the index, the JSON too (one
     * object, written piece by piece): the answer is never held as text. */
    if (o->base.json) {
        printf("{\"query\":\"%s\",\"events\":[", up ? "ancestors" : "descendants");
    }
    for (size_t i = 0; i < w.count; i++) {
        struct void_causal_event ev;
        VOID_ASSERT(void_causal_get(&d->c, out[i], &ev) == 0);
        if (o->base.json) {
            json_t *j = event_json(&ev);
            char *text = json_dumps(j, JSON_COMPACT);
            printf("%s%s", i == 0 ? "" : ",", text != NULL ? text : "{}");
            free(text);
            json_decref(j);
        } else {
            print_event(i == 0 ? "" : "  ", &ev);
        }
    }
    if (o->base.json) {
        printf("],\"past_horizon\":%s,\"depth_limited\":%s,\"size_limited\":%s,"
               "\"edges_outside\":%zu,\"fetched\":%zu}\n",
               w.past_horizon ? "true" : "false",
               w.depth_limited ? "true" : "false",
               w.size_limited ? "true" : "false",
               d->edges_outside,
               d->count);
    } else if (w.past_horizon || w.depth_limited || w.size_limited) {
        printf("(cut short:%s%s%s)\n",
               w.past_horizon ? " history past the retention horizon" : "",
               w.depth_limited ? " --depth reached" : "",
               w.size_limited ? " --limit reached" : "");
    }
    free(out);
    return VOIDCTL_EXIT_OK;
}

/* One cut at o->at[k]. */
static void cut_one(const struct trace_opts *o, struct trace_dag *d, size_t k, struct void_hlc_ts t)
{
    uint64_t frontier[VOID_CAUSAL_NODES_MAX];
    bool past = false;
    size_t fixes = void_causal_cut(&d->c, t, frontier, &past);
    json_t *nodes = o->base.json ? json_array() : NULL;
    for (uint32_t n = 0; n < d->nodes; n++) {
        struct void_causal_event ev;
        int have = frontier[n] != 0 &&
                   void_causal_get(&d->c, (struct void_causal_id){n, frontier[n]}, &ev) == 0;
        if (nodes != NULL) {
            json_t *j = have ? event_json(&ev) : json_null();
            json_array_append_new(nodes, j);
        } else if (!have && !d->listed[n]) {
            continue; /* a free replica id slot, or a member the file does not list */
        } else if (have) {
            printf("node %" PRIu32 ": ", n);
            print_event("", &ev);
        } else {
            printf("node %" PRIu32 ": nothing at or before that time%s\n",
                   n,
                   d->reached[n] ? "" : " (did not answer)");
        }
    }
    if (nodes != NULL) {
        print_json(json_pack("{s:s, s:o, s:I, s:b}",
                             "at",
                             o->at[k],
                             "frontier",
                             nodes,
                             "fixes",
                             (json_int_t)fixes,
                             "past_horizon",
                             past));
    } else if (fixes > 0) {
        printf("(%zu receives pulled out to keep the cut consistent)\n", fixes);
    }
}

static int cmd_cut(struct trace_opts *o, struct trace_dag *d)
{
    struct void_hlc_ts t[TRACE_AT_MAX];
    if (o->count_at == 0) {
        fprintf(stderr, "voidctl trace cut: --at HLC is required (e.g. 2026-12-07T00:11:45Z/0)\n");
        return VOIDCTL_EXIT_USAGE;
    }
    for (size_t k = 0; k < o->count_at; k++) {
        if (void_hlc_parse(o->at[k], &t[k]) != 0) {
            fprintf(stderr, "voidctl trace cut: '%s' is not an HLC\n", o->at[k]);
            return VOIDCTL_EXIT_USAGE;
        }
    }
    for (size_t k = 0; k < o->count_at; k++) {
        if (!o->base.json && o->count_at > 1) {
            printf("at %s:\n", o->at[k]);
        }
        cut_one(o, d, k, t[k]);
    }
    return VOIDCTL_EXIT_OK;
}

struct emit_ctx {
    FILE *f;
};

static void emit_line(void *ctx, const char *line, size_t len)
{
    struct emit_ctx *e = ctx;
    fwrite(line, 1, len, e->f);
    fputc('\n', e->f);
}

static int cmd_export(struct trace_opts *o, struct trace_dag *d)
{
    int dot = o->format != NULL && strcmp(o->format, "dot") == 0;
    int shiviz = o->format != NULL && strcmp(o->format, "shiviz") == 0;
    if (!dot && !shiviz) {
        fprintf(stderr, "voidctl trace export: --format dot or --format shiviz\n");
        return VOIDCTL_EXIT_USAGE;
    }
    struct emit_ctx e = {.f = stdout};
    if (o->out != NULL && (e.f = fopen(o->out, "w")) == NULL) {
        fprintf(stderr, "voidctl trace export: cannot write %s\n", o->out);
        return VOIDCTL_EXIT_FAILED;
    }
    int rc = 0;
    if (dot) {
        rc = void_causal_export_dot(&d->c, emit_line, &e);
    } else {
        size_t len = d->c.cfg.capacity * d->nodes;
        uint32_t *scratch = calloc(len, sizeof(*scratch));
        rc = scratch == NULL ? VOID_ENOMEM
                             : void_causal_export_shiviz(&d->c, scratch, len, emit_line, &e);
        free(scratch);
        fprintf(stderr, "paste into ShiViz as the log parsing regular expression:\n%s\n",
                VOID_CAUSAL_SHIVIZ_REGEX);
    }
    if (e.f != stdout && fclose(e.f) != 0) {
        rc = VOID_EIO;
    }
    if (rc < 0) {
        fprintf(stderr, "voidctl trace export: %s\n", void_strerror(rc));
        return VOIDCTL_EXIT_FAILED;
    }
    return VOIDCTL_EXIT_OK;
}

/* ---- explain -------------------------------------------------------------- */

struct read_run {
    struct void_kvclient client;
    uv_timer_t deadline;
    int finished, timed_out;
    uint8_t result[VOID_SM_RESULT_MAX];
    size_t result_len;
};

static void on_read(void *ctx, const uint8_t *result, size_t len)
{
    struct read_run *run = ctx;
    len = len < sizeof(run->result) ? len : sizeof(run->result);
    memcpy(run->result, result, len);
    run->result_len = len;
    run->finished = 1;
    uv_timer_stop(&run->deadline);
    void_kvclient_fini(&run->client);
    uv_close((uv_handle_t *)&run->deadline, NULL);
}

static void on_read_deadline(uv_timer_t *timer)
{
    struct read_run *run = timer->data;
    run->timed_out = 1;
    void_kvclient_fini(&run->client);
    uv_close((uv_handle_t *)&run->deadline, NULL);
}

/* Reads KEY through PBFT for the stamp of its latest version. */
static int read_version(const struct trace_opts *o,
                        const struct void_config *cl,
                        const char *key,
                        struct void_hlc_ts *version)
{
    if (cl->role != VOID_CONFIG_ROLE_CLIENT) {
        fprintf(stderr, "voidctl trace explain: the cluster file has no [client] section; "
                        "pass --version HLC\n");
        return VOIDCTL_EXIT_FAILED;
    }
    size_t klen = strlen(key);
    if (klen == 0 || klen > VOID_SM_KEY_MAX) {
        fprintf(stderr, "voidctl trace explain: a key is 1..%d bytes\n", VOID_SM_KEY_MAX);
        return VOIDCTL_EXIT_USAGE;
    }
    struct void_sm_op op = {.kind = VOID_SM_OP_GET, .key = (const uint8_t *)key, .key_len = (uint16_t)klen};
    uint8_t enc[VOID_SM_OP_MAX];
    int len = void_sm_op_encode(&op, enc, sizeof(enc));
    VOID_ASSERT(len > 0);
    signal(SIGPIPE, SIG_IGN);
    uv_loop_t loop;
    uv_loop_init(&loop);
    static struct read_run run;
    memset(&run, 0, sizeof(run));
    struct void_kvclient_config kc = {
        .loop = &loop, .cluster = cl, .id = cl->self_id, .keypair = &cl->keypair, .reply_all = 1};
    char err[512] = "";
    if (void_kvclient_init(&run.client, &kc, err, sizeof(err)) != 0) {
        fprintf(stderr, "voidctl trace explain: %s\n", err);
        void_kvclient_fini(&run.client);
        uv_run(&loop, UV_RUN_DEFAULT);
        uv_loop_close(&loop);
        return VOIDCTL_EXIT_FAILED;
    }
    uv_timer_init(&loop, &run.deadline);
    run.deadline.data = &run;
    uv_timer_start(&run.deadline, on_read_deadline, (uint64_t)(o->base.timeout_s * 1000.0), 0);
    VOID_ASSERT(void_kvclient_submit(&run.client, enc, (size_t)len, on_read, &run) == 0);
    while (!run.finished && !run.timed_out) {
        uv_run(&loop, UV_RUN_ONCE);
    }
    uv_run(&loop, UV_RUN_DEFAULT);
    uv_loop_close(&loop);
    struct void_sm_result res;
    if (run.timed_out) {
        fprintf(stderr, "voidctl trace explain: timed out reading %s\n", key);
        return VOIDCTL_EXIT_UNREACHABLE;
    }
    if (void_sm_result_decode(run.result, run.result_len, &res) != 0 || res.status != VOID_SM_OK) {
        fprintf(stderr, "voidctl trace explain: %s has no live value\n", key);
        return VOIDCTL_EXIT_FAILED;
    }
    *version = res.version;
    return VOIDCTL_EXIT_OK;
}

/* The batch that wrote a version: the primary stamps the batch one HLC tick
 * before it sends the PRE-PREPARE and records pre_prepared right after, so
 * the pre_prepared event that follows the first PRE-PREPARE send stamped
 * above the version names the batch's (view, seq). */
static int find_batch(const struct trace_dag *d, struct void_hlc_ts version, size_t *pp)
{
    for (size_t i = 0; i < d->count; i++) {
        const struct void_causal_event *ev = &d->ev[i];
        if (ev->kind != VOID_CAUSAL_SEND || ev->msg_type != VOID_MSG_PRE_PREPARE ||
            void_hlc_compare(ev->hlc, version) <= 0) {
            continue;
        }
        for (size_t k = i + 1; k < d->count; k++) {
            if (d->ev[k].id.node == ev->id.node) {
                if (d->ev[k].kind != VOID_CAUSAL_PRE_PREPARED) {
                    break;
                }
                *pp = k;
                return 0;
            }
        }
    }
    return -1;
}

static int explain_kind(uint8_t kind)
{
    return kind == VOID_CAUSAL_PRE_PREPARED || kind == VOID_CAUSAL_PREPARED ||
           kind == VOID_CAUSAL_COMMITTED || kind == VOID_CAUSAL_EXECUTE;
}

/* The client requests the primary took into the batch pre-prepared at
 * d->ev[pp] are those it received since its previous PRE-PREPARE send:
 * *from receives the index after that send (0 when it was not fetched).
 * Returns 1 when the start is known: that send was fetched, or the fetch
 * began at the start of the primary's window (there is none before). */
static int explain_start(const struct trace_dag *d, size_t pp, size_t *from)
{
    VOID_ASSERT(pp < d->count && from != NULL);
    uint32_t primary = d->ev[pp].id.node;
    VOID_ASSERT(primary < VOID_CAUSAL_NODES_MAX);
    *from = 0;
    for (size_t k = pp; k-- > 0;) {
        const struct void_causal_event *ev = &d->ev[k];
        if (ev->id.node == primary && ev->kind == VOID_CAUSAL_SEND &&
            ev->msg_type == VOID_MSG_PRE_PREPARE && k + 1 < pp) {
            *from = k + 1;
            return 1;
        }
    }
    return d->lo[primary] <= d->base[primary] + 1;
}

static int cmd_explain(struct trace_opts *o, const struct void_config *cl, const char *key)
{
    struct void_hlc_ts version;
    if (o->version != NULL) {
        if (void_hlc_parse(o->version, &version) != 0) {
            fprintf(stderr, "voidctl trace explain: --version wants an HLC\n");
            return VOIDCTL_EXIT_USAGE;
        }
    } else {
        int rc = read_version(o, cl, key, &version);
        if (rc != VOIDCTL_EXIT_OK) {
            return rc;
        }
    }
    /* Only the events stamped within w of the version are fetched (a batch's
     * requests, votes and executions lie within a few seconds of its stamp):
     * on a busy cluster the whole window is hundreds of thousands of events.
     * While the batch, or the PRE-PREPARE its primary sent before it (where
     * its requests start), is not among them, w grows fourfold; past an hour
     * the whole window is fetched. */
    struct trace_dag d;
    int rc;
    size_t pp = 0, from = 0;
    uint64_t w = 4000000000ull; /* 4 s; 0: the whole window */
    for (;;) {
        struct trace_opts narrow = *o;
        if (w != 0 && version.wall_ns > w) {
            narrow.fetch_since = (struct void_hlc_ts){version.wall_ns - w, 0};
            narrow.fetch_to = (struct void_hlc_ts){version.wall_ns + w, 0};
        } else {
            w = 0;
        }
        rc = assemble(cl, &narrow, &d);
        if (rc != VOIDCTL_EXIT_OK) {
            break;
        }
        int found = find_batch(&d, version, &pp) == 0, start = 0;
        if (found) {
            VOID_ASSERT(pp < d.count);
            start = explain_start(&d, pp, &from);
        }
        if (w == 0 || (found && start)) {
            break;
        }
        dag_free(&d);
        w = w < 900000000000ull ? 4 * w : 0;
    }
    if (rc == VOIDCTL_EXIT_OK && find_batch(&d, version, &pp) != 0) {
        char v[VOID_HLC_FORMAT_MAX];
        hlc_text(version, v, sizeof(v));
        fprintf(stderr,
                "voidctl trace explain: the batch of %s's version %s is not in the retained "
                "events (past the horizon, or its primary did not answer)\n",
                key,
                v);
        rc = VOIDCTL_EXIT_FAILED;
    }
    if (rc != VOIDCTL_EXIT_OK) {
        dag_free(&d);
        return rc;
    }
    const struct void_causal_event *pre = &d.ev[pp];
    uint64_t view = pre->view, seq = pre->op_seq;
    uint32_t primary = pre->id.node;
    json_t *chain = o->base.json ? json_array() : NULL;
    char v[VOID_HLC_FORMAT_MAX];
    hlc_text(version, v, sizeof(v));
    if (chain == NULL) {
        printf("%s: version %s, batch view=%" PRIu64 " seq=%" PRIu64 ", primary %" PRIu32 "\n",
               key, v, view, seq, primary);
    }
    for (size_t k = from; k < d.count; k++) {
        const struct void_causal_event *ev = &d.ev[k];
        int request = k < pp && ev->id.node == primary && ev->kind == VOID_CAUSAL_CLIENT_REQUEST;
        int step = explain_kind(ev->kind) && ev->view == view && ev->op_seq == seq;
        int pp_send = k + 1 == pp;
        if (!request && !step && !pp_send) {
            continue;
        }
        if (chain != NULL) {
            json_array_append_new(chain, event_json(ev));
        } else {
            print_event("  ", ev);
        }
    }
    if (chain != NULL) {
        print_json(json_pack("{s:s, s:s, s:I, s:I, s:I, s:o}",
                             "key", key, "version", v, "view", (json_int_t)view, "seq",
                             (json_int_t)seq, "primary", (json_int_t)primary, "chain", chain));
    }
    dag_free(&d);
    return VOIDCTL_EXIT_OK;
}

/* ---- members the client file does not list --------------------------------- */

/* A member as a listed replica's /members states it: id, key, replica
 * address (its JOIN's: a query that reads through PBFT dials it) and HTTP
 * address. */
struct stated_member {
    uint32_t id;
    uint8_t key[VOID_SIGN_PUBLIC_KEY_SIZE];
    char address[VOID_CONFIG_ADDR_MAX];
    char http[VOID_CONFIG_ADDR_MAX];
    uint32_t votes;      /* listed replicas that state exactly this */
    uint32_t last_voter; /* index + 1 of the last one counted (one vote each) */
};

#define STATED_MAX (4 * VOID_MEMBERSHIP_MEMBERS_MAX)

static int listed_in(const struct void_config *cl, uint32_t id)
{
    for (uint32_t i = 0; i < cl->count_replicas; i++) {
        if (cl->replicas[i].id == id) {
            return 1;
        }
    }
    return 0;
}

/* Counts replica `voter`'s statement of member j into st (count entries). */
static void stated_count(struct stated_member *st, size_t *count, uint32_t voter, json_t *j)
{
    json_t *id = json_object_get(j, "id");
    const char *key = json_string_value(json_object_get(j, "public_key"));
    const char *http = json_string_value(json_object_get(j, "http"));
    const char *address = json_string_value(json_object_get(j, "address"));
    struct stated_member m = {.votes = 1, .last_voter = voter + 1};
    if (!json_is_integer(id) || json_integer_value(id) < 0 || json_integer_value(id) > 1000000 ||
        key == NULL || http == NULL || http[0] == '\0' || strlen(http) >= sizeof(m.http) ||
        address == NULL || strlen(address) >= sizeof(m.address) ||
        sodium_hex2bin(m.key, sizeof(m.key), key, strlen(key), NULL, NULL, NULL) != 0 ||
        strlen(key) != 2 * sizeof(m.key)) {
        return; /* not one we could ask (an HTTP address not known yet: "") */
    }
    m.id = (uint32_t)json_integer_value(id);
    memcpy(m.http, http, strlen(http) + 1);
    memcpy(m.address, address, strlen(address) + 1);
    for (size_t k = 0; k < *count; k++) {
        struct stated_member *o = &st[k];
        if (o->id == m.id && memcmp(o->key, m.key, sizeof(m.key)) == 0 &&
            strcmp(o->http, m.http) == 0 && strcmp(o->address, m.address) == 0) {
            o->votes += o->last_voter != voter + 1 ? 1 : 0;
            o->last_voter = voter + 1;
            return;
        }
    }
    if (*count < STATED_MAX) {
        st[(*count)++] = m;
    }
}

/* Adds to cl (the client file's configuration) the members that joined
 * after the file was written: every member that f + 1 of the replicas the
 * file lists state in their /members with one key, one replica address and
 * one HTTP address (f
 * of the listed replicas, so at least one correct replica vouches for it:
 * a faulty one alone cannot add a node, or give a member a key of its
 * choosing). Without answers it adds nothing: the file's replicas are
 * asked as before. Returns how many it added. */
static uint32_t add_joined(struct void_config *cl, double timeout_s)
{
    VOID_ASSERT(cl != NULL);
    VOID_ASSERT(cl->count_replicas >= 1 && cl->count_replicas <= VOID_CONFIG_REPLICAS_MAX);
    static json_t *answers[VOID_CONFIG_REPLICAS_MAX];
    static struct stated_member st[STATED_MAX];
    uint32_t listed = cl->count_replicas, f = (listed - 1) / 3, added = 0;
    size_t count = 0;
    voidctl_http_get_all(cl, "/members", (long)(timeout_s * 1000), answers);
    for (uint32_t i = 0; i < listed; i++) {
        json_t *members = json_object_get(answers[i], "members");
        for (size_t k = 0; k < json_array_size(members); k++) {
            json_t *j = json_array_get(members, k);
            json_t *id = json_object_get(j, "id");
            if (json_is_integer(id) && !listed_in(cl, (uint32_t)json_integer_value(id))) {
                stated_count(st, &count, i, j);
            }
        }
        json_decref(answers[i]);
        answers[i] = NULL;
    }
    for (size_t k = 0; k < count; k++) {
        struct stated_member *m = &st[k];
        if (m->votes < f + 1 || m->id >= cl->slots || listed_in(cl, m->id) ||
            cl->count_replicas >= VOID_CONFIG_REPLICAS_MAX) {
            continue; /* too few say so, no slot of the DAG, or taken already */
        }
        struct void_config_replica *r = &cl->replicas[cl->count_replicas];
        memset(r, 0, sizeof(*r));
        if (void_hostport_parse(m->http, 0, r->http.host, sizeof(r->http.host), &r->http.port) !=
                0 ||
            void_hostport_parse(
                m->address, 0, r->address.host, sizeof(r->address.host), &r->address.port) != 0) {
            continue;
        }
        memcpy(r->address.text, m->address, sizeof(r->address.text));
        r->id = m->id;
        memcpy(r->public_key, m->key, sizeof(r->public_key));
        memcpy(r->http.text, m->http, sizeof(r->http.text));
        cl->count_replicas++;
        added++;
        fprintf(stderr,
                "voidctl trace: member %u (http %s) is not in the client file: asked as %u of "
                "its replicas state it\n",
                (unsigned)m->id,
                m->http,
                (unsigned)m->votes);
    }
    VOID_ASSERT(cl->count_replicas == listed + added);
    return added;
}

/* ---- entry ---------------------------------------------------------------- */

int voidctl_trace(int argc, char **argv)
{
    struct trace_opts o;
    char *pos[3] = {NULL, NULL, NULL};
    int npos = parse_opts(argc, argv, &o, pos, 2);
    if (npos < 0) {
        return VOIDCTL_EXIT_USAGE;
    }
    if (o.base.help) {
        usage(stdout);
        return VOIDCTL_EXIT_OK;
    }
    if (npos == 0) {
        usage(stderr);
        return VOIDCTL_EXIT_USAGE;
    }
    const char *q = pos[0];
    int walk = strcmp(q, "ancestors") == 0 || strcmp(q, "descendants") == 0;
    int one_arg = walk || strcmp(q, "explain") == 0;
    int kv = strcmp(q, "state") == 0 || strcmp(q, "diff") == 0;
    if (!one_arg && !kv && strcmp(q, "cut") != 0 && strcmp(q, "export") != 0) {
        fprintf(stderr, "voidctl trace: unknown query '%s' (see voidctl trace --help)\n", q);
        return VOIDCTL_EXIT_USAGE;
    }
    if (npos != (one_arg ? 2 : 1)) {
        fprintf(stderr, "voidctl trace %s: %s\n", q, one_arg ? "wants one argument" : "takes no argument");
        return VOIDCTL_EXIT_USAGE;
    }
    struct void_config cl;
    int rc = voidctl_load_cluster(&o.base, &cl);
    if (rc != VOIDCTL_EXIT_OK) {
        return rc;
    }
    curl_global_init(CURL_GLOBAL_DEFAULT);
    (void)add_joined(&cl, o.base.timeout_s);
    if (kv) {
        struct voidctl_trace_kv k = {.diff = q[0] == 'd',
                                     .at = o.count_at > 0 ? o.at[0] : NULL,
                                     .from = o.from,
                                     .to = o.to,
                                     .prefix = o.prefix,
                                     .after = o.after,
                                     .limit = o.limit_given ? o.limit : 0};
        rc = o.count_at > 1 ? VOIDCTL_EXIT_USAGE : voidctl_trace_kv_run(&o.base, &cl, &k);
        if (o.count_at > 1) {
            fprintf(stderr, "voidctl trace state: --at once\n");
        }
    } else if (strcmp(q, "explain") == 0) {
        rc = cmd_explain(&o, &cl, pos[1]);
    } else {
        struct trace_dag d;
        memset(&d, 0, sizeof(d));
        if (strcmp(q, "cut") == 0 && o.count_at > 0) {
            /* A cut at t needs no event stamped after the latest t: each
             * node's events up to t are a prefix of its answer. */
            struct void_hlc_ts latest = {0, 0}, t;
            for (size_t k = 0; k < o.count_at; k++) {
                if (void_hlc_parse(o.at[k], &t) != 0) {
                    latest = o.fetch_to; /* cmd_cut says what is wrong */
                    break;
                }
                latest = void_hlc_compare(t, latest) > 0 ? t : latest;
            }
            o.fetch_to = latest;
        }
        struct probe p = {.answered = 0};
        if (walk && parse_id(pos[1], &p.id) == 0) {
            probe_event(&cl, o.base.timeout_s, &p);
        }
        if (p.found && q[0] == 'a') {
            o.fetch_to = p.hlc;
        } else if (p.found) {
            o.fetch_from = p.hlc;
        }
        if (p.answered && !p.found && p.id.seq > p.last) {
            fprintf(stderr, "voidctl trace: event %s not found on its node\n", pos[1]);
            rc = VOIDCTL_EXIT_FAILED;
        } else {
            rc = assemble(&cl, &o, &d);
        }
        if (rc == VOIDCTL_EXIT_OK) {
            rc = walk ? cmd_walk(&o, &d, pos[1], q[0] == 'a')
                 : strcmp(q, "cut") == 0 ? cmd_cut(&o, &d)
                                         : cmd_export(&o, &d);
        }
        dag_free(&d);
    }
    curl_global_cleanup();
    void_config_fini(&cl);
    return rc;
}
