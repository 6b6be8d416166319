/*
 * Automatic removal in voidd (docs/membership.md, "Automatic removal in
 * voidd"): the node signs a suspicion of each voter its failure detector
 * declares dead, gossips its suspicions to the voters in SUSPICION frames
 * (include/void/codec.h, type 17), collects everyone's in the core's
 * collector (void_suspicion_collector), and once it holds 2f + 1 within the
 * window submits the certified REMOVE as a PBFT client operation, under its
 * own client id (VOID_CONFIG_MEMBER_CLIENT_BASE + its replica id, signed
 * with its replica key). The same client reads the configuration record when
 * the node's live peers cannot form a quorum with it: a node that was
 * removed while it was down learns so from f + 1 voters of the epoch it
 * knows, and stops with the clear message.
 *
 * Threads: everything runs on the node's loop thread but the metrics, which
 * the HTTP thread reads under the counts' lock.
 */
#ifndef VOID_IO_NODE_MEMBER_H
#define VOID_IO_NODE_MEMBER_H

#include "metrics.h"
#include "void/codec.h"
#include "void/config.h"
#include "void/membership.h"
#include "void/pbft.h"
#include "void/pbft_client.h"
#include "void/sign.h"
#include "void/sm.h"
#include "void/transport.h"

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#define VOID__NODE_MEMBER_N      VOID_PBFT_N_MAX /* member ids are replica ids */
#define VOID__NODE_MEMBER_INJECT 4               /* frames queued for our own replica */
/* The largest certified REMOVE this node submits: every member id a
 * suspect, each with as many suspicions as there are ids. */
#define VOID__NODE_MEMBER_OP_MAX VOID_SM_MEMBER_CERTS_SIZE(VOID__NODE_MEMBER_N, VOID__NODE_MEMBER_N)
/* ... as a REQUEST frame (header, request head, a tag per replica, signature). */
#define VOID__NODE_MEMBER_FRAME_MAX                                                                \
    (VOID_PBFT_FRAME_OVERHEAD + VOID_PBFT_REQUEST_HEAD + VOID__NODE_MEMBER_OP_MAX +                \
     VOID_PBFT_MACS_MAX * 16 + 64)

/* Why a gossiped suspicion was not taken (the `reason` label). */
#define VOID__NODE_MEMBER_REFUSALS(X)                                                              \
    X(MALFORMED, "malformed")     /* the frame or an item does not decode */                       \
    X(SIGNATURE, "signature")     /* the frame or the suspector's signature fails */               \
    X(NOT_VOTER, "not_voter")     /* sender or suspector not a voter, suspect not a member */      \
    X(EPOCH, "epoch")             /* another epoch than ours */                                    \
    X(STALE, "stale")             /* older than the window, or too far ahead */                    \
    X(DUPLICATE, "duplicate")     /* that suspector already holds one inside the window */

enum void__node_member_refusal {
#define VOID__X(name, text) VOID__NODE_MEMBER_REFUSED_##name,
    VOID__NODE_MEMBER_REFUSALS(VOID__X)
#undef VOID__X
        VOID__NODE_MEMBER_REFUSAL_COUNT
};

struct void__node_member_counts {
    uint64_t signed_own;     /* suspicions this node signed */
    uint64_t frames_sent;    /* SUSPICION frames queued to voters */
    uint64_t received;       /* others' suspicions taken into the collector */
    uint64_t refused[VOID__NODE_MEMBER_REFUSAL_COUNT];
    uint64_t certificates;   /* certificates completed (2f + 1 within the window) */
    uint64_t submitted;      /* certified REMOVEs submitted through PBFT */
    uint64_t removals;       /* of them, applied (answered OK) */
    uint64_t submit_refused; /* answered REFUSED (already removed, pending, stale...) */
    uint64_t record_reads;   /* configuration record reads (a node that may have been removed) */
};

/* What node.c lends (borrowed for the node's lifetime). */
struct void__node_member_env {
    const struct void_config *config;
    uv_loop_t *loop;
    struct void_transport *transport;
    const struct void_keyring *ring; /* with the aliases of void__node_member_ring_add */
    struct void_pbft *replica;
    const struct void_fd *fd;
    int auto_remove; /* [membership] auto_remove */
    void *ctx;
    /* Hands a REQUEST frame of our own client to our own replica, as if it
     * came from the network (called from a timer, never inside a step). */
    void (*inject)(void *ctx, const uint8_t *frame, size_t len);
    /* The node's physical clock (the HLC's wall source). */
    uint64_t (*wall_now)(void *ctx);
    /* The record says this node is not a member of the latest epoch. */
    void (*removed)(void *ctx, uint64_t epoch);
};

struct void__node_member {
    struct void__node_member_env env;
    int ready;
    uint32_t self;
    uint32_t client_id;
    uint64_t epoch; /* of the collector: the replica's epoch */
    struct void_suspicion_collector col;
    struct void_suspicion_signed own[VOID__NODE_MEMBER_N]; /* ours; wall 0: none */
    /* [suspect][suspector]: accepted by the collector, with its signature */
    struct void_suspicion_signed held[VOID__NODE_MEMBER_N][VOID__NODE_MEMBER_N];
    /* [suspect][suspector]: the last gossiped one looked at; a repeat is
     * skipped before its signature is checked (voters resend every period) */
    struct void_suspicion last[VOID__NODE_MEMBER_N][VOID__NODE_MEMBER_N];
    struct void_suspicion_cert cert[VOID__NODE_MEMBER_N]; /* count 0: none complete */
    uint64_t cert_ns[VOID__NODE_MEMBER_N]; /* monotonic: when it first completed */
    uint64_t submit_next;                  /* monotonic: no submission before */
    struct void_sm_member_cert *mcs;       /* VOID__NODE_MEMBER_N: a REMOVE being assembled */
    uint8_t *op;                           /* VOID__NODE_MEMBER_OP_MAX: its encoding */
    int gossip_due;
    uint32_t ticks;
    uint32_t floor_logged; /* suspects already logged as held back by voters_min */
    /* The node's own client (VOID_CONFIG_MEMBER_CLIENT_BASE + self). */
    struct void_pbft_client *client;
    struct void_pbft_effect effects[32];
    uint8_t *arena;
    uint8_t *big;
    struct void_pbft_out out;
    int busy;             /* 0 idle, 1 a REMOVE, 2 a record read, 3 a no-op read (pump) */
    uint32_t busy_mask;   /* the suspects of the REMOVE in flight (bit per id) */
    uint64_t busy_ns;     /* monotonic: submitted */
    uint64_t record_next; /* monotonic: the next record read may go */
    uint64_t pump_epoch;  /* a removal we submitted executed: its epoch, */
    uint64_t pump_act;    /* the boundary it waits for (0: none), */
    uint64_t pump_until;  /* and until when we order no-ops to get there */
    uv_timer_t retry;
    uv_timer_t inject_timer;
    int timers_ready;
    uint8_t inject[VOID__NODE_MEMBER_INJECT][VOID__NODE_MEMBER_FRAME_MAX];
    size_t inject_len[VOID__NODE_MEMBER_INJECT];
    uint32_t inject_count;
    struct void_membership_config *cfgs; /* 2: latest and prev, read from the record */
    pthread_mutex_t lock;                /* counts */
    struct void__node_member_counts counts;
};

/* What a certified REMOVE that is due does with the request the node's
 * client has in flight (busy: 0 idle, 1 a REMOVE, 2 a record read, 3 a
 * no-op read): go, wait for the REMOVE in flight, or restart the client
 * (abandoning the read) and go. Cannot fail. */
enum void__node_member_take {
    VOID__NODE_MEMBER_TAKE_GO = 0,
    VOID__NODE_MEMBER_TAKE_WAIT = 1,
    VOID__NODE_MEMBER_TAKE_RESTART = 2,
};
int void__node_member_remove_take(int busy);

/* Which suspects one certified REMOVE carries (docs/membership.md,
 * "Submitting"): complete holds the suspects whose certificates are
 * complete (bit per id), pending the other voters this node's detector
 * holds suspect or dead without one yet, room how many removals voters_min
 * still allows, waited_ns how long the submission has been due. While some
 * are pending and waited_ns < VOID__NODE_MEMBER_GATHER_NS it returns 0
 * (wait: their certificates usually complete within a heartbeat or two of
 * the first, and one change then removes them all); else the complete ones,
 * at most room of them, lowest ids first (0 when room is 0). Cannot fail. */
#define VOID__NODE_MEMBER_GATHER_NS (600ull * 1000000ull)
uint32_t void__node_member_gather(uint32_t complete,
                                  uint32_t pending,
                                  uint32_t room,
                                  uint64_t waited_ns);

/* Adds the replicas' own client ids (VOID_CONFIG_MEMBER_CLIENT_BASE + id,
 * each replica's key) to ring, so that every replica admits the requests
 * its peers submit themselves: those the file lists. A member that joined
 * gets its alias when its JOIN executes (src/io/node.c, ring_sync), with
 * the key the JOIN carried. Returns 0 or the keyring's error. */
int void__node_member_ring_add(struct void_keyring *ring, const struct void_config *c);

/* Sets m up (env copied). Returns 0, VOID_ENOMEM or the client's error. */
int void__node_member_init(struct void__node_member *m, const struct void__node_member_env *env);

/* Closes m's timers (before the loop's last run). Safe after a failed init. */
void void__node_member_close(struct void__node_member *m);

/* Frees m (after the loop stopped). Safe after a failed init. */
void void__node_member_fini(struct void__node_member *m);

/* Runs after each detector tick with its transitions: signs, gossips,
 * submits, reads the record when the live peers cannot form a quorum. */
void void__node_member_tick(struct void__node_member *m,
                            uint64_t now_ns,
                            const struct void_fd_transition *tr,
                            uint32_t count);

/* A SUSPICION frame, or a REPLY to our own client (from the network or
 * our own replica). buf[0..len) borrowed for the call. */
void void__node_member_frame(struct void__node_member *m,
                             const uint8_t *buf,
                             size_t len,
                             const struct void_frame *fr);

/* Where a frame addressed to `to` goes: a replica's own client id maps to
 * that replica. Returns 1 and sets *replica for such an id, else 0. */
int void__node_member_route(const struct void__node_member *m, uint32_t to, uint32_t *replica);

/* Writes the void_suspicion* and void_auto_* series. Cannot fail. */
void void__node_member_metrics(struct void__node_member *m, struct void__metrics_writer *w);

#endif
