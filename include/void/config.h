/*
 * Configuration of a node (voidd) or a client (voidctl), read from an INI file
 * with inih.
 *
 * One format serves both: a cluster file lists every replica and may list the
 * clients that may talk to it; a node's file adds a [node] section naming which
 * replica it is, a client's file adds a [client] section. Example:
 *
 *     [node]                     ; voidd only
 *     id = 1
 *     key = keys/node1.secret    ; Ed25519 secret key file (mode 0600)
 *     data_dir = data/node1
 *     http = 127.0.0.1:8001      ; status and metrics; default: the replica's http,
 *                                ; else 127.0.0.1 and the replica port + 1000
 *     ntp_servers = 127.0.0.11:123, 127.0.0.12:123   ; optional
 *     datacenter = dc1           ; optional topology
 *     rack = r1
 *     host = h1
 *     log_level = info           ; debug, info, warn, error
 *     record_log_segment_bytes = 16777216  ; optional; 4096..1 GiB, default 16 MiB
 *
 *     [client]                   ; voidctl only
 *     id = 1000
 *     key = keys/client1000.secret
 *     cert = keys/client1000.cert ; optional: a client certificate (voidctl cert
 *                                ; issue), for replicas that do not list this client
 *
 *     [replica.1]                ; one per replica, the node itself included
 *     address = 127.0.0.1:7001
 *     public_key_file = keys/node1.public   ; or public_key = <64 hex digits>
 *     http = 127.0.0.1:8001      ; optional; where voidctl status finds it
 *     datacenter = dc1
 *
 *     [client.1000]              ; clients whose requests replicas accept
 *     public_key_file = keys/client1000.public
 *
 *     [clients]                  ; optional: admission by certificate
 *     admin_key_file = keys/admin.public   ; or admin_key = <64 hex digits>: clients
 *                                ; whose certificate this key signed are accepted
 *
 *     [fault]                    ; transport fault injection, for tests
 *     delay_ms = 0
 *     loss_pct = 0
 *     control = 0                ; 1: POST /fault, signed by [clients] admin_key,
 *                                ; changes them at run time (docs/chaos.md)
 *     byzantine = 0              ; 1: /fault byz= may make this node Byzantine;
 *                                ; refused unless built with VOID_TEST_HOOKS
 *
 *     [pbft]                     ; consensus tuning, optional
 *     pipeline = 1               ; batches in flight at the primary (1..64)
 *     batch_max = 64             ; requests per batch (1..VOID_PBFT_BATCH_MAX)
 *
 *     [membership]               ; failure detector, optional (voidd only)
 *     heartbeat_ms = 200         ; signed heartbeat period (20..10000); suspect
 *                                ; after 4 silent periods, dead after 6
 *     voters_min = 4             ; changes may not leave fewer voters (1..64;
 *                                ; default 4, or n below 4; every replica alike)
 *     auto_remove = 0            ; 1: remove a dead voter by a certificate of
 *                                ; 2f+1 signed suspicions (docs/membership.md)
 *     slots = 8                  ; replica ids that may ever be members (1..16);
 *                                ; default: the listed ids; every node and client alike
 *     genesis = 4                ; the founding voters are replicas 0..genesis-1;
 *                                ; default: every [replica] listed. A node that joins
 *                                ; a running cluster lists them and itself (its id
 *                                ; at or above genesis) and says genesis = 4
 *
 *     [tasks]                    ; tasks (docs/scheduler.md), optional (voidd only)
 *     client_file = client.ini   ; the client identity results are reported under;
 *                                ; absent: this node runs no tasks
 *     submitters = 100, 101      ; clients that may submit tasks; absent: any
 *
 *     [causal]                   ; the causal event log, optional (voidd only)
 *     events = 1                 ; 0: record nothing (docs/causality.md)
 *     capacity = 65536           ; events kept in memory (1024..16777216)
 *     on_violation = alert       ; or halt: stop voting at the first alert
 *     test_hooks = 0             ; 1: GET /trace/forge feeds a forged event (tests)
 *     persist = 1                ; 0: keep events in memory only (no DATA_DIR/causal)
 *     retention_s = 86400        ; persisted events kept this long (by their HLC)
 *     max_mb = 256               ; and in at most this much of DATA_DIR/causal
 *
 *     [state]                    ; the replicated state, optional; every replica
 *     quota_mb = 8192            ; must have the same values (they decide answers)
 *     retention_s = 3600         ; history kept for reads as of a past time
 *     client_ttl_s = 86400       ; a client silent this long is forgotten
 *
 *     [http]                     ; the web view, optional (voidd only)
 *     web_root = web/dist        ; its built files, served at / (docs/web.md);
 *                                ; default: found next to the binary or source
 *
 *     [limits]                   ; inbound connections, optional (voidd only)
 *     handshake_ms = 2000        ; a connection must complete its HELLO in this
 *     unauth_max = 128           ; connections without a HELLO, in all
 *     unauth_per_addr_max = 16   ; ... and from one IP address
 *     conn_max = 0               ; inbound connections; 0: RLIMIT_NOFILE - fd_reserve
 *     fd_reserve = 128           ; descriptors kept for the store, HTTP, libuv
 *     rx_buffer_mb = 256         ; receive buffers of all connections together
 *     http_conn_max = 64         ; HTTP server connections, in all
 *     http_per_ip_max = 32       ; ... and from one IP address
 *
 * Everything is validated at load: unknown sections and keys, duplicate ids
 * and addresses, malformed addresses, missing or unreadable key files. A port
 * that is already in use is found later, when the transport binds.
 */
#ifndef VOID_CONFIG_H
#define VOID_CONFIG_H

#include "void/client_cert.h"
#include "void/log.h"
#include "void/sign.h"

#include <stddef.h>
#include <stdint.h>

#define VOID_CONFIG_REPLICAS_MAX      64
#define VOID_CONFIG_CLIENTS_MAX       128
/* Client ids VOID_CONFIG_MEMBER_CLIENT_BASE + replica id are the replicas'
 * own (the requests voidd submits itself: certified removals, reads of the
 * configuration record; src/io/node_member.c), signed with the replica's
 * key; the file may not name them as clients. */
#define VOID_CONFIG_MEMBER_CLIENT_BASE 0xffffff00u
#define VOID_CONFIG_NTP_MAX           8
#define VOID_CONFIG_PATH_MAX          512
#define VOID_CONFIG_ADDR_MAX          128 /* "host:port" text */
#define VOID_CONFIG_NAME_MAX          64  /* topology names */
#define VOID_CONFIG_ERR_MAX           512
#define VOID_CONFIG_SUBMITTERS_MAX    64 /* [tasks] submitters */
#define VOID_CONFIG_SEGMENT_BYTES_MAX (1u << 30) /* record_log_segment_bytes */

/* A "host:port" address as written plus its parsed parts. host is a numeric
 * IPv4/IPv6 literal or a name that resolves. */
struct void_config_addr {
    char text[VOID_CONFIG_ADDR_MAX];
    char host[VOID_CONFIG_ADDR_MAX];
    uint16_t port;
};

struct void_config_topology {
    char datacenter[VOID_CONFIG_NAME_MAX];
    char rack[VOID_CONFIG_NAME_MAX];
    char host[VOID_CONFIG_NAME_MAX];
};

struct void_config_replica {
    uint32_t id;
    struct void_config_addr address;
    struct void_config_addr http; /* its status server: "http" key, else port + 1000 on 127.0.0.1 */
    uint8_t public_key[VOID_SIGN_PUBLIC_KEY_SIZE];
    struct void_config_topology topology;
};

struct void_config_client {
    uint32_t id;
    uint8_t public_key[VOID_SIGN_PUBLIC_KEY_SIZE];
};

enum void_config_role {
    VOID_CONFIG_ROLE_NONE = 0, /* cluster file only: neither [node] nor [client] */
    VOID_CONFIG_ROLE_NODE,
    VOID_CONFIG_ROLE_CLIENT,
};

/* [limits]; 0 everywhere a key is absent: the module's default applies. */
struct void_config_limits {
    uint32_t handshake_ms;
    uint32_t unauth_max;
    uint32_t unauth_per_addr_max;
    uint32_t conn_max;
    uint32_t fd_reserve;
    uint32_t rx_buffer_mb;
    uint32_t http_conn_max;
    uint32_t http_per_ip_max;
};

struct void_config {
    enum void_config_role role;
    uint32_t self_id; /* [node] id or [client] id */
    char key_path[VOID_CONFIG_PATH_MAX];
    char data_dir[VOID_CONFIG_PATH_MAX];
    struct void_config_addr http;
    struct void_config_topology topology;
    enum void_log_level log_level;
    uint32_t count_ntp;
    struct void_config_addr ntp[VOID_CONFIG_NTP_MAX];
    uint32_t count_replicas;
    struct void_config_replica replicas[VOID_CONFIG_REPLICAS_MAX];
    uint32_t count_clients;
    struct void_config_client clients[VOID_CONFIG_CLIENTS_MAX];
    uint32_t fault_delay_ms;
    uint32_t fault_loss_pct;
    uint32_t fault_control; /* [fault] control = 1: POST /fault signed by the admin key */
    uint32_t fault_byzantine; /* [fault] byzantine = 1: /fault byz= (VOID_TEST_HOOKS builds) */
    uint32_t pbft_pipeline;            /* [pbft] pipeline; 0: the core's default */
    uint32_t pbft_batch_max;           /* [pbft] batch_max; 0: the core's default */
    uint32_t pbft_window;              /* [pbft] window (a multiple of 16); 0: the core's default */
    /* [pbft] retain_mb: MiB of committed batches kept for catch-up by batches;
     * 0: none; unset (VOID_CONFIG_RETAIN_UNSET): the core's default. */
    uint32_t pbft_retain_mb;
#define VOID_CONFIG_RETAIN_UNSET UINT32_MAX
    uint32_t record_log_segment_bytes; /* [node]; 0: the record log's default */
    uint32_t heartbeat_ms;             /* [membership] heartbeat_ms; 0: 200 ms */
    uint32_t voters_min; /* [membership] voters_min; 0: 4, or n below 4 (docs/membership.md) */
    uint32_t auto_remove; /* [membership] auto_remove = 1: certified removals (node_member.c) */
    /* [membership] slots: replica ids 0..slots-1 may ever be members (a JOIN
     * takes one; every node and client alike); default: the highest listed
     * id + 1, at least genesis_n. genesis: the founding voters are replicas
     * 0..genesis_n-1; default: every listed replica (docs/membership.md,
     * "Joining a running cluster"). Always set after a load. */
    uint32_t slots;
    uint32_t genesis_n;
    uint32_t state_quota_mb;           /* [state] quota_mb; 0: VOID_SM_QUOTA_DEF */
    uint32_t state_retention_s;        /* [state] retention_s; 0: VOID_SM_RETENTION_NS_DEF */
    uint32_t state_client_ttl_s;       /* [state] client_ttl_s; 0: VOID_SM_CLIENT_TTL_NS_DEF */
    struct void_config_limits limits;
    uint32_t causal_off;        /* [causal] events = 0 */
    uint32_t causal_capacity;   /* [causal] capacity; 0: VOID_NODE_CAUSAL_CAPACITY_DEF */
    uint32_t causal_halt;       /* [causal] on_violation = halt */
    uint32_t causal_test_hooks; /* [causal] test_hooks = 1 */
    uint32_t causal_persist_off; /* [causal] persist = 0 */
    uint32_t causal_retention_s; /* [causal] retention_s; 0: VOID_NODE_CAUSAL_RETENTION_DEF */
    uint32_t causal_max_mb;      /* [causal] max_mb; 0: VOID_NODE_CAUSAL_MAX_MB_DEF */
    char web_root[VOID_CONFIG_PATH_MAX]; /* [http] web_root; "": the default (docs/web.md) */
    /* [tasks] client_file: the client file this node reports its tasks'
     * results under; "": the node runs no tasks (docs/scheduler.md). */
    char task_client_file[VOID_CONFIG_PATH_MAX];
    /* [tasks] submitters: the clients that may submit tasks; none listed:
     * every client the cluster accepts. Every replica must list the same. */
    uint32_t task_submitter_count;
    uint32_t task_submitters[VOID_CONFIG_SUBMITTERS_MAX];
    /* The secret key read from key_path (wiped by void_config_fini). */
    struct void_sign_keypair keypair;
    /* [clients] admin_key: certificates it signed admit clients that no
     * [client.<id>] lists (include/void/client_cert.h). */
    int has_admin_key;
    uint8_t admin_key[VOID_SIGN_PUBLIC_KEY_SIZE];
    /* [client] cert: this client's certificate, checked at load against its
     * id and key (not its admin signature: the replicas check that). */
    int has_client_cert;
    uint8_t client_cert[VOID_CLIENT_CERT_SIZE];
};

/* Reads and validates the file at path into *config (caller-owned, may be
 * uninitialised). Relative key file paths are taken relative to the directory
 * of the config file. On failure errbuf (capacity errcap, may be NULL) holds a
 * one-line message naming the file, line or key at fault. Errors:
 * VOID_ENOTFOUND (file missing), VOID_EPARSE (syntax, unknown section or key,
 * bad value, malformed address, duplicate id or address, missing required
 * key), VOID_EKEY_PERM / VOID_EKEY_FORMAT / VOID_EIO (key files). */
int void_config_load(struct void_config *config, const char *path, char *errbuf, size_t errcap);

/* Wipes the secret key. Safe after a failed load. Cannot fail. */
void void_config_fini(struct void_config *config);

/* The replica with this id, or NULL. The pointer is into config. */
const struct void_config_replica *void_config_replica_get(const struct void_config *config,
                                                          uint32_t id);

/* Splits "host:port", "[v6addr]:port" or, when default_port is not 0, a bare
 * "host" or "[v6addr]" (port default_port) into host (NUL-terminated, at most
 * host_cap bytes with the NUL) and *port. The one host:port parser of the
 * daemon (config addresses, NTP servers). The port is decimal digits, 1 to
 * 65535; the host is not resolved. Returns 0 or VOID_EPARSE (NULL or empty
 * host, bad brackets, a bare IPv6 literal, a missing port when default_port
 * is 0, a port of 0 or above 65535 or not a number, a host of host_cap bytes
 * or more). */
int void_hostport_parse(
    const char *text, uint16_t default_port, char *host, size_t host_cap, uint16_t *port);

/* Parses "host:port" or "[v6]:port" (void_hostport_parse, port required)
 * into *out and checks that host resolves. Returns 0 or VOID_EPARSE. */
int void_config_addr_parse(const char *text, struct void_config_addr *out);

#endif
