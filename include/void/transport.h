/*
 * TCP transport between nodes, and between clients and nodes, on a libuv loop.
 *
 * Frames are the codec's signed envelopes (include/void/codec.h), delimited on
 * the stream with void_codec_peek_size. A connection is bound to a node id by
 * a signed HELLO frame (body: the 4-byte big-endian id of the node dialled,
 * then, from a client that no ring lists, its certificate: hello_cert),
 * sent first by the dialling side and stamped with its wall clock (a HELLO
 * more than VOID_TRANSPORT_HELLO_WINDOW_S away from the receiver's clock is
 * refused, which bounds how long a recorded HELLO can be replayed to hijack
 * a client's replies); every later frame on it must be signed by
 * that id and is verified against the keyring before it is delivered, so a
 * frame delivered to on_frame is authentic.
 *
 * Each side dials every configured peer and keeps that outbound connection up
 * (reconnecting with exponential backoff, 50 ms doubling to 2 s); it accepts
 * inbound connections from anyone whose key is in the ring (peers and
 * clients). Sending to id X uses the outbound connection to X when X is a
 * configured peer, else every inbound connection bound to X, newest first, up
 * to VOID_TRANSPORT_SHARED_ID_MAX (so replies reach clients on the
 * connections they opened, also several processes under one client id, each
 * of which keeps the replies of its own session).
 *
 * Strangers are bounded before they have proved who they are. A connection
 * that has not completed its HELLO ("unauthenticated") may send one
 * HELLO-sized frame and nothing else: a header announcing anything larger
 * closes it at once, so its receive buffer never grows past 96 bytes; it must
 * complete the HELLO within handshake_ms (default 2 s) or it is closed. At
 * most unauth_max such connections are open at once, and unauth_per_addr_max
 * from one IP address; a new one over either cap closes the oldest (of its
 * address first), which keeps room for a real client whose HELLO follows its
 * connect within milliseconds. Inbound connections in total are capped by
 * the descriptor limit: RLIMIT_NOFILE less fd_reserve descriptors left to the
 * rest of the process (the record log must always be able to open its next
 * segment, the HTTP server its connections) and one per peer; a connection
 * over the cap closes the oldest stranger, else it is closed itself. Should
 * accept still fail for want of descriptors (EMFILE, ENFILE), that is
 * pressure, never a reason to stop: the oldest half of the strangers are
 * closed (with none, a reserved descriptor is released, and as a last resort
 * the listener is closed and reopened) and accepting pauses for
 * VOID_TRANSPORT_ACCEPT_PAUSE_MS. The receive buffers of
 * all connections together stay under rx_bytes_max; a connection whose frame
 * would not fit is closed (its peer reconnects). Warnings about strangers are
 * rate-limited (VOID_TRANSPORT_LOG_BURST lines per
 * VOID_TRANSPORT_LOG_WINDOW_MS, then one line saying how many were
 * suppressed) and name the remote address, as the sender id of an
 * unauthenticated connection means nothing.
 *
 * Send queues are bounded per destination: when full, the oldest queued frame
 * is dropped and counted. A fault-injection layer delays every outbound frame
 * by delay_ms, drops a fraction loss_pct of them, and drops everything to and
 * from blocked ids; its knobs can change at run time from another thread
 * (void_transport_set_fault), as the HTTP endpoint does for the tests.
 *
 * In a build with VOID_TEST_HOOKS (a CMake option, on by default only in the
 * sanitizer test build) the layer can also make the node Byzantine at run
 * time (void_transport_set_byzantine): a few of the simulator's strategies
 * (src/sim/sim_byz.c) applied to every frame sent to a replica. A build
 * without it refuses, and so does a node whose config lacks [fault]
 * byzantine = 1 (node_fault.c, config.c).
 */
#ifndef VOID_TRANSPORT_H
#define VOID_TRANSPORT_H

#include "void/codec.h"
#include "void/prng.h"
#include "void/sign.h"

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#define VOID_TRANSPORT_PEERS_MAX      64
#define VOID_TRANSPORT_QUEUE_MAX      4096 /* frames queued per destination */
#define VOID_TRANSPORT_HOST_MAX       128
#define VOID_TRANSPORT_BACKOFF_MS_MIN 50
#define VOID_TRANSPORT_BACKOFF_MS_MAX 2000
#define VOID_TRANSPORT_HELLO_WINDOW_S 60
#define VOID_TRANSPORT_SHARED_ID_MAX  64 /* inbound links of one client id a send reaches */

/* Defaults of the limits on inbound connections (config value 0). */
#define VOID_TRANSPORT_HANDSHAKE_MS_DEFAULT    2000
#define VOID_TRANSPORT_UNAUTH_MAX_DEFAULT      128
#define VOID_TRANSPORT_UNAUTH_PER_ADDR_DEFAULT 16
#define VOID_TRANSPORT_FD_RESERVE_DEFAULT      128
#define VOID_TRANSPORT_RX_BYTES_MAX_DEFAULT    (256ull << 20)
#define VOID_TRANSPORT_CONN_MIN                8 /* inbound cap however low the fd limit */
#define VOID_TRANSPORT_ACCEPT_PAUSE_MS         100
#define VOID_TRANSPORT_LOG_BURST               10
#define VOID_TRANSPORT_LOG_WINDOW_MS           10000
#define VOID_TRANSPORT_ADDR_TEXT_MAX           64 /* "[v6 address]:port" */

/* Delivers one verified frame. buf[0..len) is the whole frame and frame points
 * into it; both are borrowed for the call only. */
typedef void (*void_transport_frame_fn)(void *ctx,
                                        const uint8_t *buf,
                                        size_t len,
                                        const struct void_frame *frame);

/* Reports a peer's outbound connection going up (up = 1) or down (0). */
typedef void (*void_transport_link_fn)(void *ctx, uint32_t peer_id, int up);

struct void_transport_peer {
    uint32_t id;
    char host[VOID_TRANSPORT_HOST_MAX];
    uint16_t port;
};

struct void_transport_config {
    uv_loop_t *loop; /* borrowed for the transport's life */
    uint32_t self_id;
    const struct void_sign_keypair *keypair; /* borrowed for the transport's life */
    const struct void_keyring *ring;         /* borrowed; everyone who may connect */
    const char *listen_host;                 /* NULL: do not listen (a client) */
    uint16_t listen_port;
    uint32_t count_peers;
    const struct void_transport_peer *peers; /* copied */
    void_transport_frame_fn on_frame;
    void_transport_link_fn on_link; /* may be NULL */
    void *ctx;
    uint32_t delay_ms; /* fault injection at start */
    uint32_t loss_pct;
    uint64_t seed;   /* for the loss coin */
    int skip_verify; /* 1: deliver frames unverified (the receiver verifies) */
    /* NULL, or this side's client certificate (VOID_CLIENT_CERT_SIZE bytes,
     * borrowed), sent in its HELLOs: for replicas whose ring lacks it. */
    const uint8_t *hello_cert;
    /* NULL, or the admin's public key (borrowed): a stranger whose id is not
     * in the ring may bind its connection with a HELLO that carries a client
     * certificate this key signed for that id, unexpired by our clock; its
     * frames are then checked with the certificate's key. */
    const uint8_t *admin_key;
    /* Limits on inbound connections; 0 picks the default (see above). */
    uint32_t handshake_ms;        /* time a stranger has to complete its HELLO */
    uint32_t unauth_max;          /* connections without a HELLO, in total */
    uint32_t unauth_per_addr_max; /* connections without a HELLO from one IP address */
    uint32_t conn_max;            /* inbound connections; 0: RLIMIT_NOFILE - reserve */
    uint32_t fd_reserve;          /* descriptors left to the rest of the process */
    uint64_t rx_bytes_max;        /* receive buffers of all connections together */
};

/* Counters, read by metrics. Updated on the loop thread only. */
struct void_transport_stats {
    uint64_t frames_sent;
    uint64_t frames_received;
    uint64_t bytes_sent;
    uint64_t bytes_received;
    uint64_t drop_queue_full;
    uint64_t drop_loss;
    uint64_t drop_blocked;
    uint64_t drop_no_route;
    uint64_t drop_bad_frame; /* undecodable or bad signature: the connection is closed */
    uint64_t drop_wrong_sender;
    uint64_t hello_rejected;
    uint64_t connects;
    uint64_t disconnects;
    uint64_t stranger_bad_header; /* first header not a HELLO's: closed at once */
    uint64_t stranger_timeouts;   /* no HELLO within handshake_ms: closed */
    uint64_t stranger_shed;       /* closed to make room for a newer connection */
    uint64_t accept_refused;      /* closed at accept: the inbound cap is reached */
    uint64_t accept_errors;       /* accept failed (EMFILE, ENFILE...): accepting paused */
    uint64_t rx_budget_closed;    /* closed: its frame did not fit in rx_bytes_max */
    /* Gauges. */
    uint64_t inbound_open;
    uint64_t strangers_open;
    uint64_t rx_bytes; /* receive buffers allocated, all connections */
};

struct void__conn;
struct sockaddr_storage;

struct void_transport {
    struct void_transport_config config;
    struct void_transport_peer peers[VOID_TRANSPORT_PEERS_MAX];
    struct void__conn *outbound[VOID_TRANSPORT_PEERS_MAX];
    struct sockaddr_storage *peer_addrs; /* resolved at init, one per peer */
    struct void__conn *inbound;          /* list */
    struct void__conn *strangers;        /* inbound without HELLO, oldest first */
    struct void__conn *strangers_tail;
    uint32_t conn_max;   /* effective inbound cap */
    uint32_t unauth_max; /* effective caps on strangers */
    uint32_t unauth_per_addr_max;
    uint32_t handshake_ms;
    uint64_t rx_bytes_max;
    uv_timer_t handshake_timer; /* due when the oldest stranger's deadline passes */
    uv_timer_t accept_timer;    /* ends a pause of accepting */
    int accept_paused;
    int accept_pending;     /* a connection waits in libuv until the pause ends */
    int reserve_fd;         /* /dev/null, closed to free a descriptor under EMFILE */
    int relisten;           /* the listener was closed under EMFILE: reopen it */
    int listener_closed;    /* its close callback has run */
    uint64_t log_window_ms; /* rate limit of warnings about inbound connections */
    uint32_t log_lines;
    uint64_t log_suppressed;
    uv_tcp_t listener;
    uv_timer_t delay_timer; /* flushes delayed frames while delay_ms > 0 */
    int delay_timer_on;
    int listening;
    int closing;
    struct void_prng prng;
    struct void_transport_stats stats;
    /* Fault knobs, writable from any thread. */
    _Atomic uint32_t fault_delay_ms;
    _Atomic uint32_t fault_loss_pct;
    _Atomic uint64_t fault_blocked;  /* bit i set: peer index i blocked both ways */
    _Atomic uint32_t fault_isolated; /* 1: drop everything to and from every node */
    _Atomic uint32_t fault_byz;      /* enum void_transport_byz (VOID_TEST_HOOKS builds) */
};

/* Initialises t, binds and listens (unless listen_host is NULL) and starts
 * dialling every peer. config is copied; the pointers inside it are borrowed
 * as noted. The inbound cap is computed here from the descriptor limit in
 * force (and logged when it is low). On failure errbuf (may be NULL) says
 * why, e.g. that the port is in use. Errors: VOID_EINVAL, VOID_EBUSY (address
 * in use), VOID_EIO. */
int void_transport_init(struct void_transport *t,
                        const struct void_transport_config *config,
                        char *errbuf,
                        size_t errcap);

/* Adds peer (copied) to a running transport and starts dialling it, as
 * init does for the configured ones: a member that joined after the
 * transport started (the tasks' client, src/io/taskrun.c). Its frames are
 * verified with the ring's key for its id, which the caller adds first.
 * Returns 0 (also when a peer of that id is there already), VOID_EFULL
 * (VOID_TRANSPORT_PEERS_MAX peers), VOID_EINVAL (the address does not
 * resolve) or VOID_ENOMEM. Call on the loop's thread. */
int void_transport_add_peer(struct void_transport *t, const struct void_transport_peer *peer);

/* Closes every connection and the listener. The loop must run afterwards for
 * the close callbacks; memory is freed in them. Safe after a failed init.
 * Cannot fail. */
void void_transport_fini(struct void_transport *t);

/* Queues a copy of frame[0..len) (an encoded, signed frame) for node id to.
 * Returns 0 when queued (it may still be dropped by fault injection, which is
 * what a lossy network does), VOID_ENOTFOUND when there is no route to `to`
 * (not a peer and no inbound connection from it), VOID_ENOMEM. */
int void_transport_send(struct void_transport *t, uint32_t to, const uint8_t *frame, size_t len);

/* Sets the fault knobs; callable from any thread. blocked_ids[0..count)
 * lists peer ids whose traffic is dropped both ways (replacing the previous
 * set); isolate drops all traffic. Cannot fail (unknown ids are ignored). */
void void_transport_set_fault(struct void_transport *t,
                              uint32_t delay_ms,
                              uint32_t loss_pct,
                              const uint32_t *blocked_ids,
                              uint32_t count,
                              int isolate);

/* Byzantine strategies of the fault layer, after src/sim/sim_byz.c. */
#define VOID_TRANSPORT_BYZ_MAP(X)                                                                  \
    X(NONE, 0, "none")                                                                             \
    X(SILENT, 1, "silent")         /* nothing to the replicas at even peer indices */              \
    X(GARBAGE, 2, "garbage")       /* one random byte of every frame flipped */                    \
    X(FUTURE, 3, "future")         /* frames re-signed with an HLC 30 s ahead */                   \
    X(EQUIVOCATE, 4, "equivocate") /* another pre-prepare digest to odd peer indices */

enum void_transport_byz {
#define VOID__X(name, value, text) VOID_TRANSPORT_BYZ_##name = value,
    VOID_TRANSPORT_BYZ_MAP(VOID__X)
#undef VOID__X
        VOID_TRANSPORT_BYZ_COUNT
};

/* The strategy's name ("silent"...), or NULL for an unknown one. */
const char *void_transport_byz_name(uint32_t byz);

/* The strategy named name, or -1. */
int void_transport_byz_parse(const char *name);

/* Whether this build can make a node Byzantine (VOID_TEST_HOOKS). */
int void_transport_byz_built(void);

/* Sends every later frame to a replica through strategy byz (0: honest
 * again); callable from any thread. Returns 0, VOID_EINVAL (unknown
 * strategy) or VOID_EPERM (built without VOID_TEST_HOOKS: production
 * builds cannot lie). */
int void_transport_set_byzantine(struct void_transport *t, uint32_t byz);

/* Frames queued on the outbound connections to the peers now, not yet
 * written (a gauge for /metrics; O(peers)). Cannot fail. */
uint64_t void_transport_peer_queued(const struct void_transport *t);

/* 1 when the outbound connection to peer_id has completed its HELLO. */
int void_transport_peer_up(const struct void_transport *t, uint32_t peer_id);

#endif
