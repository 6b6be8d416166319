/*
 * Loading and validating the INI configuration of a node or a client
 * (format in include/void/config.h). inih calls one handler per key; the
 * handler dispatches on the section name and records which keys each section
 * has set, so that a repeated section (a duplicate replica id) or a repeated
 * key is reported instead of silently overwriting. Cross-key checks (required
 * keys, duplicate addresses, the node being one of the replicas) and reading
 * the key files run after the parse, when the whole file is known.
 */
#include "void/config.h"

#include "void/assert.h"
#include "void/error.h"
#include "void/pbft.h"
#include "void/pstore.h"

#include <errno.h>
#include <ini.h>
#include <limits.h>
#include <netdb.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

/* Per-section bit of each key, to find repeated keys. */
enum {
    SEEN_ID = 1u << 0,
    SEEN_KEY = 1u << 1,
    SEEN_DATA_DIR = 1u << 2,
    SEEN_HTTP = 1u << 3,
    SEEN_NTP = 1u << 4,
    SEEN_DC = 1u << 5,
    SEEN_RACK = 1u << 6,
    SEEN_HOST = 1u << 7,
    SEEN_LOG = 1u << 8,
    SEEN_ADDRESS = 1u << 9,
    SEEN_PUBKEY = 1u << 10,
    SEEN_DELAY = 1u << 11,
    SEEN_LOSS = 1u << 12,
    SEEN_PIPELINE = 1u << 13,
    SEEN_BATCH = 1u << 14,
    SEEN_HANDSHAKE = 1u << 15,
    SEEN_UNAUTH = 1u << 16,
    SEEN_UNAUTH_ADDR = 1u << 17,
    SEEN_CONN_MAX = 1u << 18,
    SEEN_FD_RESERVE = 1u << 19,
    SEEN_RX_BUFFER = 1u << 20,
    SEEN_HTTP_CONN = 1u << 21,
    SEEN_HTTP_PER_IP = 1u << 22,
    SEEN_SEGMENT = 1u << 23,
    SEEN_CERT = 1u << 24, /* [client] cert */
    SEEN_PBFT_WINDOW = 1u << 25, /* [pbft] window */
    SEEN_PBFT_RETAIN = 1u << 26, /* [pbft] retain_mb */
    /* Sections added later have masks of their own (seen_membership,
     * seen_causal, seen_state), so their bits start again at 0. */
    SEEN_HEARTBEAT = 1u << 0,
    SEEN_VOTERS_MIN = 1u << 1,
    SEEN_AUTO_REMOVE = 1u << 2,
    SEEN_SLOTS = 1u << 3,
    SEEN_GENESIS = 1u << 4,
    SEEN_CAUSAL_EVENTS = 1u << 0,
    SEEN_CAUSAL_CAPACITY = 1u << 1,
    SEEN_CAUSAL_HALT = 1u << 2,
    SEEN_CAUSAL_HOOKS = 1u << 3,
    SEEN_CAUSAL_PERSIST = 1u << 4,
    SEEN_CAUSAL_RETENTION = 1u << 5,
    SEEN_CAUSAL_MAX_MB = 1u << 6,
    SEEN_QUOTA = 1u << 0,
    SEEN_RETENTION = 1u << 1,
    SEEN_CLIENT_TTL = 1u << 2,
    SEEN_WEB_ROOT = 1u << 0,  /* seen_http: [http] */
    SEEN_ADMIN_KEY = 1u << 0, /* seen_clients: [clients] */
    SEEN_FAULT_CONTROL = 1u << 0, /* seen_fault: [fault] control (delay, loss: above) */
    SEEN_FAULT_BYZANTINE = 1u << 1,
    SEEN_TASK_CLIENT = 1u << 0,   /* seen_tasks: [tasks] */
    SEEN_TASK_SUBMITTERS = 1u << 1,
};

struct load_state {
    struct void_config *config;
    char *err;
    size_t errcap;
    char dir[VOID_CONFIG_PATH_MAX]; /* directory of the config file, for relative paths */
    uint32_t seen_node;
    uint32_t seen_client;
    uint32_t seen_tasks;
    uint32_t seen_fault;
    uint32_t seen_pbft;
    uint32_t seen_limits;
    uint32_t seen_membership;
    uint32_t seen_causal;
    uint32_t seen_state;
    uint32_t seen_http;
    uint32_t seen_clients;
    char admin_keyfile[VOID_CONFIG_PATH_MAX];
    char client_cert_path[VOID_CONFIG_PATH_MAX];
    uint32_t seen_replica[VOID_CONFIG_REPLICAS_MAX];
    uint32_t seen_client_entry[VOID_CONFIG_CLIENTS_MAX];
    char replica_keyfile[VOID_CONFIG_REPLICAS_MAX][VOID_CONFIG_PATH_MAX];
    char client_keyfile[VOID_CONFIG_CLIENTS_MAX][VOID_CONFIG_PATH_MAX];
};

static int fail(struct load_state *st, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Records the first error message; returns 0 so that inih stops with the line. */
static int fail(struct load_state *st, const char *fmt, ...)
{
    if (st->err != NULL && st->errcap > 0 && st->err[0] == '\0') {
        va_list ap;
        va_start(ap, fmt);
        (void)vsnprintf(st->err, st->errcap, fmt, ap);
        va_end(ap);
    }
    return 0;
}

static int parse_u32(const char *text, uint32_t max, uint32_t *out)
{
    char *end = NULL;
    errno = 0;
    unsigned long long v = strtoull(text, &end, 10);
    if (errno != 0 || end == text || *end != '\0' || text[0] == '-' || v > max) {
        return VOID_EPARSE;
    }
    *out = (uint32_t)v;
    return 0;
}

/* A port: 1..65535 in decimal digits only (no sign, no space, no "0x"). */
static int parse_port(const char *text, uint16_t *port)
{
    uint32_t v = 0;
    if (text[0] < '0' || text[0] > '9' || parse_u32(text, 65535, &v) != 0 || v == 0) {
        return VOID_EPARSE;
    }
    *port = (uint16_t)v;
    return 0;
}

int void_hostport_parse(
    const char *text, uint16_t default_port, char *host, size_t host_cap, uint16_t *port)
{
    VOID_ASSERT(host != NULL && port != NULL);
    VOID_ASSERT(host_cap > 0);
    if (text == NULL) {
        return VOID_EPARSE;
    }
    const char *start = text;
    const char *end = NULL;
    const char *port_text = NULL;
    if (text[0] == '[') {
        start = text + 1;
        end = strchr(start, ']');
        if (end == NULL || (end[1] != '\0' && end[1] != ':')) {
            return VOID_EPARSE;
        }
        port_text = end[1] == ':' ? end + 2 : NULL;
    } else {
        const char *colon = strchr(text, ':');
        if (colon != NULL && strchr(colon + 1, ':') != NULL) {
            return VOID_EPARSE; /* a bare IPv6 literal needs brackets */
        }
        end = colon != NULL ? colon : text + strlen(text);
        port_text = colon != NULL ? colon + 1 : NULL;
    }
    size_t len = (size_t)(end - start);
    if (len == 0 || len >= host_cap) {
        return VOID_EPARSE;
    }
    uint16_t p = default_port;
    if (port_text != NULL ? parse_port(port_text, &p) != 0 : default_port == 0) {
        return VOID_EPARSE;
    }
    memcpy(host, start, len);
    host[len] = '\0';
    *port = p;
    VOID_ASSERT(*port != 0);
    return 0;
}

int void_config_addr_parse(const char *text, struct void_config_addr *out)
{
    VOID_ASSERT(text != NULL);
    VOID_ASSERT(out != NULL);
    memset(out, 0, sizeof(*out));
    size_t len = strlen(text);
    if (len == 0 || len >= sizeof(out->text)) {
        return VOID_EPARSE;
    }
    memcpy(out->text, text, len + 1);
    if (void_hostport_parse(text, 0, out->host, sizeof(out->host), &out->port) != 0) {
        return VOID_EPARSE;
    }
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM};
    struct addrinfo *res = NULL;
    if (getaddrinfo(out->host, NULL, &hints, &res) != 0) {
        return VOID_EPARSE;
    }
    freeaddrinfo(res);
    return 0;
}

static int set_string(char *dst, size_t cap, const char *value)
{
    size_t len = strlen(value);
    if (len == 0 || len >= cap) {
        return VOID_EPARSE;
    }
    memcpy(dst, value, len + 1);
    return 0;
}

/* Makes a path given in the file relative to the file's directory. */
static int set_path(struct load_state *st, char *dst, const char *value)
{
    if (value[0] == '/' || st->dir[0] == '\0') {
        return set_string(dst, VOID_CONFIG_PATH_MAX, value);
    }
    int n = snprintf(dst, VOID_CONFIG_PATH_MAX, "%s/%s", st->dir, value);
    return (n < 0 || n >= VOID_CONFIG_PATH_MAX || value[0] == '\0') ? VOID_EPARSE : 0;
}

static int
mark(struct load_state *st, uint32_t *seen, uint32_t bit, const char *section, const char *name)
{
    if ((*seen & bit) != 0) {
        return fail(st, "key '%s' given twice in [%s] (a duplicate section or id?)", name, section);
    }
    *seen |= bit;
    return 1;
}

static int topology_key(struct load_state *st,
                        uint32_t *seen,
                        struct void_config_topology *t,
                        const char *section,
                        const char *name,
                        const char *value)
{
    char *dst = NULL;
    uint32_t bit = 0;
    if (strcmp(name, "datacenter") == 0) {
        dst = t->datacenter, bit = SEEN_DC;
    } else if (strcmp(name, "rack") == 0) {
        dst = t->rack, bit = SEEN_RACK;
    } else if (strcmp(name, "host") == 0) {
        dst = t->host, bit = SEEN_HOST;
    } else {
        return -1; /* not a topology key */
    }
    if (!mark(st, seen, bit, section, name)) {
        return 0;
    }
    if (set_string(dst, VOID_CONFIG_NAME_MAX, value) != 0) {
        return fail(st,
                    "[%s] %s: empty or longer than %d characters",
                    section,
                    name,
                    VOID_CONFIG_NAME_MAX - 1);
    }
    return 1;
}

static int ntp_list(struct load_state *st, const char *value)
{
    struct void_config *c = st->config;
    char buf[VOID_CONFIG_NTP_MAX * VOID_CONFIG_ADDR_MAX];
    if (set_string(buf, sizeof(buf), value) != 0) {
        return fail(st, "[node] ntp_servers: empty or too long");
    }
    char *save = NULL;
    for (char *tok = strtok_r(buf, ", ", &save); tok != NULL; tok = strtok_r(NULL, ", ", &save)) {
        if (c->count_ntp == VOID_CONFIG_NTP_MAX) {
            return fail(st, "[node] ntp_servers: more than %d servers", VOID_CONFIG_NTP_MAX);
        }
        if (void_config_addr_parse(tok, &c->ntp[c->count_ntp]) != 0) {
            return fail(st, "[node] ntp_servers: malformed address '%s' (want host:port)", tok);
        }
        c->count_ntp++;
    }
    return 1;
}

/* A numeric key of a section: its name, its bit in the section's seen mask,
 * its bounds and where its value goes. */
struct num_key {
    const char *name;
    uint32_t seen;
    uint32_t lo, hi;
    uint32_t *out;
};

/* Sets the key `name` of [section] from keys[0..count); returns 1, or 0
 * after recording why (unknown, repeated, not a number in range). */
static int num_key(struct load_state *st,
                   uint32_t *seen,
                   const char *section,
                   const struct num_key *keys,
                   size_t count,
                   const char *name,
                   const char *value)
{
    for (size_t i = 0; i < count; i++) {
        const struct num_key *k = &keys[i];
        if (strcmp(name, k->name) != 0) {
            continue;
        }
        if (!mark(st, seen, k->seen, section, name)) {
            return 0;
        }
        uint32_t v = 0;
        if (parse_u32(value, k->hi, &v) != 0 || v < k->lo) {
            return fail(st,
                        "[%s] %s: want %u..%u, got '%s'",
                        section,
                        name,
                        (unsigned)k->lo,
                        (unsigned)k->hi,
                        value);
        }
        *k->out = v;
        return 1;
    }
    return fail(st, "unknown key '%s' in [%s]", name, section);
}

static int node_key(struct load_state *st, const char *name, const char *value)
{
    struct void_config *c = st->config;
    int topo = topology_key(st, &st->seen_node, &c->topology, "node", name, value);
    if (topo >= 0) {
        return topo;
    }
    if (strcmp(name, "id") == 0) {
        if (!mark(st, &st->seen_node, SEEN_ID, "node", name)) {
            return 0;
        }
        return parse_u32(value, UINT32_MAX, &c->self_id) == 0
                   ? 1
                   : fail(st, "[node] id: '%s' is not a number", value);
    }
    if (strcmp(name, "key") == 0) {
        if (!mark(st, &st->seen_node, SEEN_KEY, "node", name)) {
            return 0;
        }
        return set_path(st, c->key_path, value) == 0 ? 1 : fail(st, "[node] key: bad path");
    }
    if (strcmp(name, "data_dir") == 0) {
        if (!mark(st, &st->seen_node, SEEN_DATA_DIR, "node", name)) {
            return 0;
        }
        return set_path(st, c->data_dir, value) == 0 ? 1 : fail(st, "[node] data_dir: bad path");
    }
    if (strcmp(name, "http") == 0) {
        if (!mark(st, &st->seen_node, SEEN_HTTP, "node", name)) {
            return 0;
        }
        return void_config_addr_parse(value, &c->http) == 0
                   ? 1
                   : fail(st, "[node] http: malformed address '%s' (want host:port)", value);
    }
    if (strcmp(name, "ntp_servers") == 0) {
        return mark(st, &st->seen_node, SEEN_NTP, "node", name) ? ntp_list(st, value) : 0;
    }
    if (strcmp(name, "log_level") == 0) {
        if (!mark(st, &st->seen_node, SEEN_LOG, "node", name)) {
            return 0;
        }
        return void_log_level_parse(value, &c->log_level) == 0
                   ? 1
                   : fail(st, "[node] log_level: '%s' is not debug, info, warn or error", value);
    }
    if (strcmp(name, "record_log_segment_bytes") == 0) {
        const struct num_key keys[] = {{name,
                                        SEEN_SEGMENT,
                                        VOID_PSTORE_SEGMENT_SIZE_MIN,
                                        VOID_CONFIG_SEGMENT_BYTES_MAX,
                                        &c->record_log_segment_bytes}};
        return num_key(st, &st->seen_node, "node", keys, 1, name, value);
    }
    return fail(st, "unknown key '%s' in [node]", name);
}

static int client_key(struct load_state *st, const char *name, const char *value)
{
    struct void_config *c = st->config;
    if (strcmp(name, "id") == 0) {
        if (!mark(st, &st->seen_client, SEEN_ID, "client", name)) {
            return 0;
        }
        return parse_u32(value, UINT32_MAX, &c->self_id) == 0
                   ? 1
                   : fail(st, "[client] id: '%s' is not a number", value);
    }
    if (strcmp(name, "key") == 0) {
        if (!mark(st, &st->seen_client, SEEN_KEY, "client", name)) {
            return 0;
        }
        return set_path(st, c->key_path, value) == 0 ? 1 : fail(st, "[client] key: bad path");
    }
    if (strcmp(name, "cert") == 0) {
        if (!mark(st, &st->seen_client, SEEN_CERT, "client", name)) {
            return 0;
        }
        return set_path(st, st->client_cert_path, value) == 0 ? 1
                                                              : fail(st, "[client] cert: bad path");
    }
    return fail(st, "unknown key '%s' in [client]", name);
}

static int fault_key(struct load_state *st, const char *name, const char *value)
{
    struct void_config *c = st->config;
    const struct num_key keys[] = {
        {"delay_ms", SEEN_DELAY, 0, 60000, &c->fault_delay_ms},
        {"loss_pct", SEEN_LOSS, 0, 100, &c->fault_loss_pct},
        {"control", SEEN_FAULT_CONTROL, 0, 1, &c->fault_control},
        {"byzantine", SEEN_FAULT_BYZANTINE, 0, 1, &c->fault_byzantine},
    };
    return num_key(st, &st->seen_fault, "fault", keys, VOID_ARRAY_LEN(keys), name, value);
}

static int pbft_key(struct load_state *st, const char *name, const char *value)
{
    struct void_config *c = st->config;
    const struct num_key keys[] = {
        {"pipeline", SEEN_PIPELINE, 1, VOID_PBFT_WINDOW_MAX, &c->pbft_pipeline},
        {"batch_max", SEEN_BATCH, 1, VOID_PBFT_BATCH_MAX, &c->pbft_batch_max},
        {"window", SEEN_PBFT_WINDOW, 16, VOID_PBFT_WINDOW_MAX, &c->pbft_window},
        {"retain_mb", SEEN_PBFT_RETAIN, 0, 4095, &c->pbft_retain_mb},
    };
    return num_key(st, &st->seen_pbft, "pbft", keys, VOID_ARRAY_LEN(keys), name, value);
}

/* [membership]: the failure detector (docs/membership.md). */
static int membership_key(struct load_state *st, const char *name, const char *value)
{
    const struct num_key keys[] = {
        {"heartbeat_ms", SEEN_HEARTBEAT, 20, 10000, &st->config->heartbeat_ms},
        {"voters_min", SEEN_VOTERS_MIN, 1, VOID_CONFIG_REPLICAS_MAX, &st->config->voters_min},
        {"auto_remove", SEEN_AUTO_REMOVE, 0, 1, &st->config->auto_remove},
        {"slots", SEEN_SLOTS, 1, VOID_PBFT_N_MAX, &st->config->slots},
        {"genesis", SEEN_GENESIS, 1, VOID_PBFT_N_MAX, &st->config->genesis_n},
    };
    return num_key(
        st, &st->seen_membership, "membership", keys, VOID_ARRAY_LEN(keys), name, value);
}

/* [causal]: the event log (docs/causality.md). */
static int causal_key(struct load_state *st, const char *name, const char *value)
{
    struct void_config *c = st->config;
    if (strcmp(name, "on_violation") == 0) {
        if (!mark(st, &st->seen_causal, SEEN_CAUSAL_HALT, "causal", name)) {
            return 0;
        }
        if (strcmp(value, "alert") != 0 && strcmp(value, "halt") != 0) {
            return fail(st, "[causal] on_violation: want alert or halt, got '%s'", value);
        }
        c->causal_halt = strcmp(value, "halt") == 0;
        return 1;
    }
    uint32_t events = 1, persist = 1;
    const struct num_key keys[] = {
        {"events", SEEN_CAUSAL_EVENTS, 0, 1, &events},
        {"capacity", SEEN_CAUSAL_CAPACITY, 1024, 16777216, &c->causal_capacity},
        {"test_hooks", SEEN_CAUSAL_HOOKS, 0, 1, &c->causal_test_hooks},
        {"persist", SEEN_CAUSAL_PERSIST, 0, 1, &persist},
        {"retention_s", SEEN_CAUSAL_RETENTION, 1, 10u * 365 * 86400, &c->causal_retention_s},
        {"max_mb", SEEN_CAUSAL_MAX_MB, 1, 1u << 20, &c->causal_max_mb},
    };
    int rc = num_key(st, &st->seen_causal, "causal", keys, VOID_ARRAY_LEN(keys), name, value);
    if (rc == 1 && strcmp(name, "events") == 0) {
        c->causal_off = events == 0;
    }
    if (rc == 1 && strcmp(name, "persist") == 0) {
        c->causal_persist_off = persist == 0;
    }
    return rc;
}

/* [http]: the web view's files (docs/web.md). */
static int http_key(struct load_state *st, const char *name, const char *value)
{
    if (strcmp(name, "web_root") != 0) {
        return fail(st, "unknown key '%s' in [http]", name);
    }
    if (!mark(st, &st->seen_http, SEEN_WEB_ROOT, "http", name)) {
        return 0;
    }
    return set_path(st, st->config->web_root, value) == 0 ? 1
                                                          : fail(st, "[http] web_root: bad path");
}

/* [limits]: bounds on what strangers can make a node hold (issue 16). */
static int limits_key(struct load_state *st, const char *name, const char *value)
{
    struct void_config_limits *l = &st->config->limits;
    const struct num_key keys[] = {
        {"handshake_ms", SEEN_HANDSHAKE, 100, 60000, &l->handshake_ms},
        {"unauth_max", SEEN_UNAUTH, 1, 65536, &l->unauth_max},
        {"unauth_per_addr_max", SEEN_UNAUTH_ADDR, 1, 65536, &l->unauth_per_addr_max},
        {"conn_max", SEEN_CONN_MAX, 1, 1000000, &l->conn_max},
        {"fd_reserve", SEEN_FD_RESERVE, 16, 65536, &l->fd_reserve},
        {"rx_buffer_mb", SEEN_RX_BUFFER, 8, 65536, &l->rx_buffer_mb},
        {"http_conn_max", SEEN_HTTP_CONN, 1, 4096, &l->http_conn_max},
        {"http_per_ip_max", SEEN_HTTP_PER_IP, 1, 4096, &l->http_per_ip_max},
    };
    return num_key(st, &st->seen_limits, "limits", keys, VOID_ARRAY_LEN(keys), name, value);
}

/* [state]: the replicated state's quota, history retention and client
 * expiry. They decide answers (full, too_old, a forgotten client), so every
 * replica must be given the same values (docs/operations.md). */
static int state_key(struct load_state *st, const char *name, const char *value)
{
    struct void_config *c = st->config;
    const struct num_key keys[] = {
        {"quota_mb", SEEN_QUOTA, 1, 1u << 24, &c->state_quota_mb},
        {"retention_s", SEEN_RETENTION, 1, 10u * 365 * 86400, &c->state_retention_s},
        {"client_ttl_s", SEEN_CLIENT_TTL, 1, 10u * 365 * 86400, &c->state_client_ttl_s},
    };
    return num_key(st, &st->seen_state, "state", keys, VOID_ARRAY_LEN(keys), name, value);
}

/* [tasks] (docs/scheduler.md, "Execution"): the client file this node
 * reports its tasks' results under, and the clients that may submit tasks
 * (a replicated rule: every replica must list the same ones). */
static int tasks_key(struct load_state *st, const char *name, const char *value)
{
    struct void_config *c = st->config;
    if (strcmp(name, "client_file") == 0) {
        if (!mark(st, &st->seen_tasks, SEEN_TASK_CLIENT, "tasks", name)) {
            return 0;
        }
        return set_path(st, c->task_client_file, value) == 0
                   ? 1
                   : fail(st, "[tasks] client_file: bad path");
    }
    if (strcmp(name, "submitters") != 0) {
        return fail(st, "unknown key '%s' in [tasks] (client_file or submitters)", name);
    }
    if (!mark(st, &st->seen_tasks, SEEN_TASK_SUBMITTERS, "tasks", name)) {
        return 0;
    }
    const char *p = value;
    while (*(p += strspn(p, ", \t")) != '\0') {
        char item[16];
        size_t len = strcspn(p, ", \t");
        uint32_t id = 0;
        if (len >= sizeof(item)) {
            return fail(st, "[tasks] submitters: '%s' is not a list of client ids", value);
        }
        memcpy(item, p, len);
        item[len] = '\0';
        if (parse_u32(item, UINT32_MAX, &id) != 0) {
            return fail(st, "[tasks] submitters: '%s' is not a client id", item);
        }
        if (c->task_submitter_count == VOID_CONFIG_SUBMITTERS_MAX) {
            return fail(st, "[tasks] submitters: more than %u ids", VOID_CONFIG_SUBMITTERS_MAX);
        }
        c->task_submitters[c->task_submitter_count++] = id;
        p += len;
    }
    return c->task_submitter_count > 0
               ? 1
               : fail(st, "[tasks] submitters: empty (leave the key out to let every client submit)");
}

static int public_key_value(struct load_state *st,
                            const char *section,
                            const char *name,
                            const char *value,
                            uint8_t key[VOID_SIGN_PUBLIC_KEY_SIZE],
                            char keyfile[VOID_CONFIG_PATH_MAX]);

/* [clients]: the admin key whose certificates admit clients. */
static int clients_key(struct load_state *st, const char *name, const char *value)
{
    struct void_config *c = st->config;
    if (strcmp(name, "admin_key") != 0 && strcmp(name, "admin_key_file") != 0) {
        return fail(st, "unknown key '%s' in [clients] (admin_key or admin_key_file)", name);
    }
    if (!mark(st, &st->seen_clients, SEEN_ADMIN_KEY, "clients", "admin_key")) {
        return 0;
    }
    c->has_admin_key = 1;
    return public_key_value(st,
                            "clients",
                            strcmp(name, "admin_key") == 0 ? "public_key" : name,
                            value,
                            c->admin_key,
                            st->admin_keyfile);
}

/* Index of the entry with this id in ids[0..*count), appending it if new. */
static int entry_index(
    uint32_t *count, uint32_t max, uint32_t id, uint32_t (*get_id)(void *, uint32_t), void *arr)
{
    for (uint32_t i = 0; i < *count; i++) {
        if (get_id(arr, i) == id) {
            return (int)i;
        }
    }
    if (*count == max) {
        return -1;
    }
    return (int)(*count)++;
}

static uint32_t replica_id_at(void *arr, uint32_t i)
{
    return ((struct void_config_replica *)arr)[i].id;
}

static uint32_t client_id_at(void *arr, uint32_t i)
{
    return ((struct void_config_client *)arr)[i].id;
}

static int public_key_value(struct load_state *st,
                            const char *section,
                            const char *name,
                            const char *value,
                            uint8_t key[VOID_SIGN_PUBLIC_KEY_SIZE],
                            char keyfile[VOID_CONFIG_PATH_MAX])
{
    if (strcmp(name, "public_key") == 0) {
        return void_sign_public_key_from_hex(value, key) == 0
                   ? 1
                   : fail(st, "[%s] public_key: want 64 hex digits", section);
    }
    return set_path(st, keyfile, value) == 0 ? 1 : fail(st, "[%s] %s: bad path", section, name);
}

static int replica_key(
    struct load_state *st, const char *section, uint32_t id, const char *name, const char *value)
{
    struct void_config *c = st->config;
    int i =
        entry_index(&c->count_replicas, VOID_CONFIG_REPLICAS_MAX, id, replica_id_at, c->replicas);
    if (i < 0) {
        return fail(st, "more than %d replicas", VOID_CONFIG_REPLICAS_MAX);
    }
    struct void_config_replica *r = &c->replicas[i];
    r->id = id;
    int topo = topology_key(st, &st->seen_replica[i], &r->topology, section, name, value);
    if (topo >= 0) {
        return topo;
    }
    if (strcmp(name, "address") == 0) {
        if (!mark(st, &st->seen_replica[i], SEEN_ADDRESS, section, name)) {
            return 0;
        }
        return void_config_addr_parse(value, &r->address) == 0
                   ? 1
                   : fail(st,
                          "[%s] address: malformed or unresolvable address '%s' (want host:port)",
                          section,
                          value);
    }
    if (strcmp(name, "http") == 0) {
        if (!mark(st, &st->seen_replica[i], SEEN_HTTP, section, name)) {
            return 0;
        }
        return void_config_addr_parse(value, &r->http) == 0
                   ? 1
                   : fail(st, "[%s] http: malformed address '%s' (want host:port)", section, value);
    }
    if (strcmp(name, "public_key") == 0 || strcmp(name, "public_key_file") == 0) {
        if (!mark(st, &st->seen_replica[i], SEEN_PUBKEY, section, "public_key")) {
            return 0;
        }
        return public_key_value(st, section, name, value, r->public_key, st->replica_keyfile[i]);
    }
    return fail(st, "unknown key '%s' in [%s]", name, section);
}

static int client_entry_key(
    struct load_state *st, const char *section, uint32_t id, const char *name, const char *value)
{
    struct void_config *c = st->config;
    int i = entry_index(&c->count_clients, VOID_CONFIG_CLIENTS_MAX, id, client_id_at, c->clients);
    if (i < 0) {
        return fail(st, "more than %d clients", VOID_CONFIG_CLIENTS_MAX);
    }
    c->clients[i].id = id;
    if (strcmp(name, "public_key") == 0 || strcmp(name, "public_key_file") == 0) {
        if (!mark(st, &st->seen_client_entry[i], SEEN_PUBKEY, section, "public_key")) {
            return 0;
        }
        return public_key_value(
            st, section, name, value, c->clients[i].public_key, st->client_keyfile[i]);
    }
    return fail(st, "unknown key '%s' in [%s]", name, section);
}

static int handler(void *user, const char *section, const char *name, const char *value)
{
    struct load_state *st = user;
    if (strcmp(section, "node") == 0) {
        return node_key(st, name, value);
    }
    if (strcmp(section, "client") == 0) {
        return client_key(st, name, value);
    }
    if (strcmp(section, "fault") == 0) {
        return fault_key(st, name, value);
    }
    if (strcmp(section, "pbft") == 0) {
        return pbft_key(st, name, value);
    }
    if (strcmp(section, "limits") == 0) {
        return limits_key(st, name, value);
    }
    if (strcmp(section, "membership") == 0) {
        return membership_key(st, name, value);
    }
    if (strcmp(section, "causal") == 0) {
        return causal_key(st, name, value);
    }
    if (strcmp(section, "state") == 0) {
        return state_key(st, name, value);
    }
    if (strcmp(section, "http") == 0) {
        return http_key(st, name, value);
    }
    if (strcmp(section, "clients") == 0) {
        return clients_key(st, name, value);
    }
    if (strcmp(section, "tasks") == 0) {
        return tasks_key(st, name, value);
    }
    uint32_t id = 0;
    if (strncmp(section, "replica.", 8) == 0) {
        if (parse_u32(section + 8, UINT32_MAX, &id) != 0) {
            return fail(st, "section [%s]: want [replica.<number>]", section);
        }
        return replica_key(st, section, id, name, value);
    }
    if (strncmp(section, "client.", 7) == 0) {
        if (parse_u32(section + 7, UINT32_MAX, &id) != 0) {
            return fail(st, "section [%s]: want [client.<number>]", section);
        }
        return client_entry_key(st, section, id, name, value);
    }
    return fail(st, "unknown section [%s]", section);
}

static int read_public_keys(struct load_state *st)
{
    struct void_config *c = st->config;
    char kerr[256];
    for (uint32_t i = 0; i < c->count_replicas; i++) {
        const char *path = st->replica_keyfile[i];
        if ((st->seen_replica[i] & SEEN_PUBKEY) == 0) {
            fail(st, "[replica.%u] has no public_key or public_key_file", c->replicas[i].id);
            return VOID_EPARSE;
        }
        if (path[0] != '\0') {
            int rc =
                void_sign_keyfile_read_public(path, c->replicas[i].public_key, kerr, sizeof(kerr));
            if (rc != 0) {
                fail(st, "[replica.%u] public_key_file %s: %s", c->replicas[i].id, path, kerr);
                return rc;
            }
        }
    }
    if (st->admin_keyfile[0] != '\0') {
        int rc = void_sign_keyfile_read_public(st->admin_keyfile, c->admin_key, kerr, sizeof(kerr));
        if (rc != 0) {
            fail(st, "[clients] admin_key_file %s: %s", st->admin_keyfile, kerr);
            return rc;
        }
    }
    if (c->fault_control && !c->has_admin_key) {
        /* The admin key is what authenticates fault requests. */
        fail(st, "[fault] control = 1 needs [clients] admin_key or admin_key_file");
        return VOID_EPARSE;
    }
#ifndef VOID_TEST_HOOKS
    if (c->fault_byzantine) {
        /* A production build cannot lie, whatever its config says. */
        fail(st,
             "[fault] byzantine = 1: this build refuses it (a test build only: cmake "
             "-DVOID_TEST_HOOKS=ON, docs/chaos.md)");
        return VOID_EPARSE;
    }
#endif
    if (c->fault_byzantine && !c->fault_control) {
        fail(st, "[fault] byzantine = 1 needs [fault] control = 1 (it is switched on by /fault)");
        return VOID_EPARSE;
    }
    for (uint32_t i = 0; i < c->count_clients; i++) {
        const char *path = st->client_keyfile[i];
        if ((st->seen_client_entry[i] & SEEN_PUBKEY) == 0) {
            fail(st, "[client.%u] has no public_key or public_key_file", c->clients[i].id);
            return VOID_EPARSE;
        }
        if (path[0] != '\0') {
            int rc =
                void_sign_keyfile_read_public(path, c->clients[i].public_key, kerr, sizeof(kerr));
            if (rc != 0) {
                fail(st, "[client.%u] public_key_file %s: %s", c->clients[i].id, path, kerr);
                return rc;
            }
        }
    }
    return 0;
}

/* [membership] slots and genesis (docs/membership.md, "Joining a running
 * cluster"): the founding voters are replicas 0..genesis-1, every one of
 * them listed; a [replica] section at or above genesis is a member that
 * joined later (or this node, about to join), listed for its address.
 * Replica ids stay below slots, the ids that may ever be members: a JOIN
 * takes one of them, and every node and client of the cluster must name the
 * same slots (a request carries a tag per slot). Defaults: genesis = every
 * replica listed, slots = genesis (no room to join). */
static int check_slots(struct load_state *st)
{
    struct void_config *c = st->config;
    uint32_t top = 0; /* the highest listed id + 1, at most UINT32_MAX */
    for (uint32_t i = 0; i < c->count_replicas; i++) {
        uint32_t id = c->replicas[i].id;
        top = id == UINT32_MAX ? UINT32_MAX : id + 1 > top ? id + 1 : top;
    }
    if ((st->seen_membership & SEEN_GENESIS) == 0) {
        c->genesis_n = c->count_replicas;
    }
    if (c->genesis_n > c->count_replicas) {
        fail(st,
             "[membership] genesis = %u but only %u [replica] sections: list every founding "
             "replica 0..%u",
             c->genesis_n,
             c->count_replicas,
             c->genesis_n - 1);
        return VOID_EPARSE;
    }
    for (uint32_t id = 0; id < c->genesis_n && (st->seen_membership & SEEN_GENESIS); id++) {
        if (void_config_replica_get(c, id) == NULL) {
            fail(st,
                 "[membership] genesis = %u: the founding replicas are ids 0..%u, but "
                 "[replica.%u] is missing",
                 c->genesis_n,
                 c->genesis_n - 1,
                 id);
            return VOID_EPARSE;
        }
    }
    if ((st->seen_membership & SEEN_SLOTS) == 0) {
        c->slots = top > c->genesis_n ? top : c->genesis_n;
    }
    if (c->slots < top || c->slots < c->genesis_n) {
        fail(st,
             "[membership] slots = %u: replica ids must be below it, but [replica.%u] is listed",
             c->slots,
             top - 1);
        return VOID_EPARSE;
    }
    VOID_ASSERT(c->genesis_n <= c->slots);
    return 0;
}

static int check_replicas(struct load_state *st)
{
    struct void_config *c = st->config;
    if (c->count_replicas == 0) {
        fail(st, "no [replica.<id>] sections: a cluster needs replicas");
        return VOID_EPARSE;
    }
    for (uint32_t i = 0; i < c->count_replicas; i++) {
        struct void_config_replica *r = &c->replicas[i];
        if ((st->seen_replica[i] & SEEN_ADDRESS) == 0) {
            fail(st, "[replica.%u] has no address", r->id);
            return VOID_EPARSE;
        }
        if ((st->seen_replica[i] & SEEN_HTTP) == 0) {
            /* Loopback by default, port next to the replica port; it used
             * to wrap around 65535 into an unrelated port. */
            uint32_t port = (uint32_t)r->address.port + 1000u;
            if (port > 65535u) {
                fail(st,
                     "[replica.%u] has no http and port %u + 1000 is above 65535: give http = "
                     "host:port",
                     r->id,
                     (unsigned)r->address.port);
                return VOID_EPARSE;
            }
            char text[VOID_CONFIG_ADDR_MAX];
            (void)snprintf(text, sizeof(text), "127.0.0.1:%u", (unsigned)port);
            int rc = void_config_addr_parse(text, &r->http);
            VOID_ASSERT(rc == 0);
        }
        for (uint32_t j = 0; j < i; j++) {
            if (strcmp(c->replicas[j].address.host, r->address.host) == 0 &&
                c->replicas[j].address.port == r->address.port) {
                fail(st,
                     "replicas %u and %u have the same address %s",
                     c->replicas[j].id,
                     r->id,
                     r->address.text);
                return VOID_EPARSE;
            }
        }
    }
    for (uint32_t i = 0; i < c->count_clients; i++) {
        if (void_config_replica_get(c, c->clients[i].id) != NULL) {
            fail(st, "id %u is both a replica and a client", c->clients[i].id);
            return VOID_EPARSE;
        }
        if (c->clients[i].id >= VOID_CONFIG_MEMBER_CLIENT_BASE) {
            fail(st,
                 "client id %u is reserved for the replicas' own requests (ids from %u)",
                 c->clients[i].id,
                 VOID_CONFIG_MEMBER_CLIENT_BASE);
            return VOID_EPARSE;
        }
    }
    int rc = check_slots(st);
    if (rc != 0) {
        return rc;
    }
    if (c->genesis_n == 2 || c->genesis_n == 3) {
        /* f = (n - 1) / 3 = 0: every replica is needed in every quorum, so
         * one failure stops the cluster. Any n from 4 works: the quorums
         * follow n (void_membership_quorum). */
        fail(st,
             "%u replicas: a cluster needs at least 4 to tolerate a faulty one "
             "(n tolerates (n - 1) / 3; 1 replica is a test cluster); add replicas",
             c->genesis_n);
        return VOID_EPARSE;
    }
    return 0;
}

static int check_role(struct load_state *st)
{
    struct void_config *c = st->config;
    if (st->seen_node != 0 && st->seen_client != 0) {
        fail(st, "a file has either a [node] or a [client] section, not both");
        return VOID_EPARSE;
    }
    c->role = st->seen_node != 0     ? VOID_CONFIG_ROLE_NODE
              : st->seen_client != 0 ? VOID_CONFIG_ROLE_CLIENT
                                     : VOID_CONFIG_ROLE_NONE;
    uint32_t seen = st->seen_node | st->seen_client;
    const char *sec = c->role == VOID_CONFIG_ROLE_NODE ? "node" : "client";
    if (c->role != VOID_CONFIG_ROLE_NONE && (seen & SEEN_ID) == 0) {
        fail(st, "[%s] has no id", sec);
        return VOID_EPARSE;
    }
    if (c->role != VOID_CONFIG_ROLE_NONE && (seen & SEEN_KEY) == 0) {
        fail(st, "[%s] has no key (the secret key file; make one with voidctl keygen)", sec);
        return VOID_EPARSE;
    }
    if (c->role != VOID_CONFIG_ROLE_NODE) {
        return 0;
    }
    if ((seen & SEEN_DATA_DIR) == 0) {
        fail(st, "[node] has no data_dir");
        return VOID_EPARSE;
    }
    const struct void_config_replica *self = void_config_replica_get(c, c->self_id);
    if (self == NULL) {
        fail(st, "[node] id %u is not one of the [replica.<id>] sections", c->self_id);
        return VOID_EPARSE;
    }
    if ((seen & SEEN_HTTP) == 0) {
        c->http = self->http;
    }
    if ((seen & (SEEN_DC | SEEN_RACK | SEEN_HOST)) == 0) {
        c->topology = self->topology; /* the location given in the replica's section */
    }
    return 0;
}

static int read_secret_key(struct load_state *st)
{
    struct void_config *c = st->config;
    if (c->role == VOID_CONFIG_ROLE_NONE) {
        return 0;
    }
    char kerr[256] = "";
    int rc = void_sign_keyfile_read_secret(c->key_path, &c->keypair, kerr, sizeof(kerr));
    if (rc != 0) {
        if (kerr[0] != '\0') {
            fail(st, "%s", kerr); /* the key module's message names the file */
        } else {
            fail(st, "key file %s: %s", c->key_path, void_strerror(rc));
        }
        return rc;
    }
    const uint8_t *expected = NULL;
    if (c->role == VOID_CONFIG_ROLE_NODE) {
        expected = void_config_replica_get(c, c->self_id)->public_key;
    } else {
        for (uint32_t i = 0; i < c->count_clients; i++) {
            if (c->clients[i].id == c->self_id) {
                expected = c->clients[i].public_key;
            }
        }
    }
    if (expected != NULL &&
        memcmp(expected, c->keypair.public_key, VOID_SIGN_PUBLIC_KEY_SIZE) != 0) {
        fail(st,
             "key file %s does not match the public key listed for id %u",
             c->key_path,
             c->self_id);
        return VOID_EKEY_FORMAT;
    }
    return 0;
}

/* The directory of the config file, against which relative paths are
 * taken. VOID_EPARSE when it does not fit (it used to be cut short, so that
 * relative key paths named another directory). */
static int set_dir(struct load_state *st, const char *path)
{
    const char *slash = strrchr(path, '/');
    if (slash == NULL) {
        st->dir[0] = '\0';
        return 0;
    }
    size_t len = (size_t)(slash - path);
    if (len == 0) {
        len = 1; /* "/file" */
    }
    if (len >= sizeof(st->dir)) {
        return VOID_EPARSE;
    }
    memcpy(st->dir, path, len);
    st->dir[len] = '\0';
    return 0;
}

/* Reads [client] cert: the hex text voidctl cert issue writes (lines
 * starting with '#' are comments), which must name this client's id and
 * key. Its admin signature is the replicas' to check. */
static int read_client_cert(struct load_state *st)
{
    struct void_config *c = st->config;
    const char *path = st->client_cert_path;
    if (path[0] == '\0') {
        return 0;
    }
    FILE *f = fopen(path, "r");
    if (f == NULL) {
        fail(st, "[client] cert %s: %s", path, strerror(errno));
        return VOID_ENOTFOUND;
    }
    char line[4 * VOID_CLIENT_CERT_SIZE];
    int got = 0;
    while (!got && fgets(line, sizeof(line), f) != NULL) {
        size_t n = strcspn(line, "\r\n");
        line[n] = '\0';
        if (line[0] == '#' || n == 0) {
            continue;
        }
        size_t bin_len = 0;
        got = n == 2 * VOID_CLIENT_CERT_SIZE &&
              sodium_hex2bin(
                  c->client_cert, VOID_CLIENT_CERT_SIZE, line, n, NULL, &bin_len, NULL) == 0 &&
              bin_len == VOID_CLIENT_CERT_SIZE;
        break; /* the first line that is not a comment is the certificate */
    }
    (void)fclose(f);
    struct void_client_cert cert;
    if (!got || void_client_cert_decode(c->client_cert, &cert) != 0) {
        fail(st,
             "[client] cert %s: not a client certificate (one line of %d hex digits; make "
             "one with voidctl cert issue)",
             path,
             2 * VOID_CLIENT_CERT_SIZE);
        return VOID_EPARSE;
    }
    if (cert.id != c->self_id ||
        memcmp(cert.public_key, c->keypair.public_key, VOID_SIGN_PUBLIC_KEY_SIZE) != 0) {
        fail(st,
             "[client] cert %s is for client %u and another key, not for id %u with key %s",
             path,
             (unsigned)cert.id,
             (unsigned)c->self_id,
             c->key_path);
        return VOID_EKEY_FORMAT;
    }
    c->has_client_cert = 1;
    return 0;
}

int void_config_load(struct void_config *config, const char *path, char *errbuf, size_t errcap)
{
    VOID_ASSERT(config != NULL);
    VOID_ASSERT(path != NULL);
    memset(config, 0, sizeof(*config));
    config->log_level = VOID_LOG_INFO;
    static struct load_state st; /* large; loading is single-threaded and not reentrant */
    memset(&st, 0, sizeof(st));
    char msg[VOID_CONFIG_ERR_MAX] = "";
    st.config = config;
    st.err = msg;
    st.errcap = sizeof(msg);
    int rc = 0;
    int dir_ok = set_dir(&st, path) == 0;
    int line = dir_ok ? ini_parse(path, handler, &st) : 0;
    if (!dir_ok) {
        rc = VOID_EPARSE;
        (void)snprintf(msg,
                       sizeof(msg),
                       "the directory of the file is longer than %d characters",
                       VOID_CONFIG_PATH_MAX - 1);
    } else if (line == -1) {
        rc = VOID_ENOTFOUND;
        (void)snprintf(msg, sizeof(msg), "cannot open: %s", strerror(errno));
    } else if (line != 0) {
        rc = VOID_EPARSE;
        if (msg[0] == '\0') {
            (void)snprintf(msg, sizeof(msg), "syntax error");
        }
    } else if ((rc = check_replicas(&st)) == 0 && (rc = check_role(&st)) == 0 &&
               (rc = read_public_keys(&st)) == 0) {
        rc = read_secret_key(&st);
        rc = rc == 0 ? read_client_cert(&st) : rc;
    }
    if (!(st.seen_pbft & SEEN_PBFT_RETAIN)) {
        config->pbft_retain_mb = VOID_CONFIG_RETAIN_UNSET; /* 0 is "none" */
    }
    if (rc != 0 && errbuf != NULL && errcap > 0) {
        if (line > 0) {
            (void)snprintf(errbuf, errcap, "%s:%d: %s", path, line, msg);
        } else {
            (void)snprintf(errbuf, errcap, "%s: %s", path, msg);
        }
    }
    VOID_ASSERT(rc <= 0);
    return rc;
}

void void_config_fini(struct void_config *config)
{
    VOID_ASSERT(config != NULL);
    void_sign_keypair_wipe(&config->keypair);
}

const struct void_config_replica *void_config_replica_get(const struct void_config *config,
                                                          uint32_t id)
{
    VOID_ASSERT(config != NULL);
    VOID_ASSERT(config->count_replicas <= VOID_CONFIG_REPLICAS_MAX);
    for (uint32_t i = 0; i < config->count_replicas; i++) {
        if (config->replicas[i].id == id) {
            return &config->replicas[i];
        }
    }
    return NULL;
}
