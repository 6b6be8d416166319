/*
 * A key/value client on a libuv loop: the pure PBFT client core
 * (include/void/pbft_client.h) driven over the TCP transport. Used by voidctl
 * and by the load generator of the kv_put bench.
 *
 * One request is outstanding per client (PBFT's model); run many clients on
 * one loop for concurrency, each with its own id and key. Each client is a
 * session of its own under its id (random unless configured), so processes
 * sharing a client id and key do not supersede each other; request numbers
 * start at the wall clock in microseconds, so that a process reusing a
 * session also numbers above what came before it.
 */
#ifndef VOID_KVCLIENT_H
#define VOID_KVCLIENT_H

#include "void/config.h"
#include "void/pbft.h"
#include "void/pbft_client.h"
#include "void/transport.h"

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

/* Completion of a request: result[0..len) is the encoded void_sm_result that
 * f + 1 replicas agreed on, borrowed for the call. There is no failure
 * callback: the core retries until it gets an answer, so callers bound the
 * wait with a timer of their own (voidctl's --timeout). */
typedef void (*void_kvclient_done_fn)(void *ctx, const uint8_t *result, size_t len);

struct void_kvclient_config {
    uv_loop_t *loop;                         /* borrowed */
    const struct void_config *cluster;       /* borrowed: replicas and their keys */
    uint32_t id;                             /* client id, listed in the replicas' configs */
    const struct void_sign_keypair *keypair; /* borrowed */
    uint64_t retry_ns;                       /* first retry; 0 = core default */
    /* This process's session under the client id (include/void/pbft_client.h);
     * 0: a random one, so that processes sharing an identity never supersede
     * each other's requests. */
    uint32_t session;
    /* NULL, or the client's certificate (VOID_CLIENT_CERT_SIZE bytes,
     * borrowed): sent in the HELLO and in every request, for replicas whose
     * configuration does not list this client (docs/operations.md). */
    const uint8_t *cert;
    /* 1: every replica replies to each request (a one-shot command, which
     * cannot know yet which replicas are down); 0: f + 1 chosen ones, half
     * the reply work at n = 4 (a long-lived client; include/void/pbft_client.h). */
    int reply_all;
    /* Frames other than PBFT replies (CAS_BLOCK, CAS_FETCH), delivered after
     * their signature was verified; may be NULL. */
    void_transport_frame_fn on_other;
    void *other_ctx;
};

struct void_kvclient {
    struct void_kvclient_config config;
    struct void_keyring ring;
    struct void_transport transport;
    int transport_ready;
    struct void_pbft_client core;
    struct void_pbft_out out;
    struct void_pbft_effect effects[64];
    /* On the heap (init): a request frame is up to two megabytes, and the
     * client core keeps ops and results up to the state machine's limits
     * in big (VOID_PBFT_CLIENT_BIG bytes). */
    uint8_t *arena;
    uint8_t *big;
    uv_timer_t retry;
    int retry_ready;
    void_kvclient_done_fn done;
    void *done_ctx;
    uint64_t submitted_ns; /* for latency measurement */
};

/* Sets up c and starts dialling every replica. config is copied, its pointers
 * borrowed. Errors: VOID_EINVAL (bad ids, no replicas), VOID_ENOMEM, and
 * those of void_transport_init; errbuf (may be NULL) says why. */
int void_kvclient_init(struct void_kvclient *c,
                       const struct void_kvclient_config *config,
                       char *errbuf,
                       size_t errcap);

/* Submits op[0..len) (an encoded void_sm_op, copied); done(ctx, ...) runs on
 * the loop when f + 1 replicas agree. Returns 0, VOID_EBUSY (one is already
 * outstanding) or VOID_EINVAL. */
int void_kvclient_submit(
    struct void_kvclient *c, const uint8_t *op, size_t len, void_kvclient_done_fn done, void *ctx);

/* Submits the read-only op[0..len) (a GET) as PBFT's read-only request:
 * sent to every replica, answered without ordering by a quorum of matching
 * replies, else ordered (void_pbft_client_submit_read). done runs as for
 * void_kvclient_submit. Returns 0, VOID_EBUSY or VOID_EINVAL (also for an op
 * that is not read-only). */
int void_kvclient_submit_read(
    struct void_kvclient *c, const uint8_t *op, size_t len, void_kvclient_done_fn done, void *ctx);

/* Retransmits the last completed ordered request (the same client, session
 * and request number) to replica `to` or to every replica
 * (VOID_PBFT_TO_ALL), and runs done(ctx, ...) with what f + 1 replicas
 * answer now: at-most-once execution makes it the first answer
 * (void_pbft_client_resend). Returns 0, VOID_EBUSY or VOID_EINVAL. */
int void_kvclient_resend(struct void_kvclient *c,
                         uint32_t to,
                         void_kvclient_done_fn done,
                         void *ctx);

/* Closes connections and timers; run the loop afterwards to finish closing.
 * Safe after a failed init. Cannot fail. */
void void_kvclient_fini(struct void_kvclient *c);

/* Signs and sends a frame of type with body[0..len) (borrowed) to replica to,
 * or to every replica when to is VOID_PBFT_TO_ALL. Returns 0 or the errors of
 * void_casnet_send. */
int void_kvclient_send(
    struct void_kvclient *c, uint32_t to, uint8_t type, const uint8_t *body, size_t len);

/* Adds a replica the cluster file does not list (a member that joined
 * later): id, its key (copied) and its transport address host:port. Frames
 * from it (CAS_BLOCK, CAS_FETCH) are verified with that key and
 * void_kvclient_send reaches it; the PBFT client core is not told (it
 * learns members from the configuration record). Returns 0 (also when it
 * is there already), or the errors of void_keyring_add and
 * void_transport_add_peer. */
int void_kvclient_add_replica(struct void_kvclient *c,
                              uint32_t id,
                              const uint8_t key[VOID_SIGN_PUBLIC_KEY_SIZE],
                              const char *host,
                              uint16_t port);

/* Number of replicas whose connection is up. Cannot fail. */
uint32_t void_kvclient_connected(const struct void_kvclient *c);

/* Wall-clock time in ns (CLOCK_REALTIME), the physical time of clients. */
uint64_t void_kvclient_now_ns(void);

#endif
