/*
 * The in-process PBFT test network of tests/core/test_pbft.c and
 * tests/core/test_epoch.c: replicas and clients of the pure cores, a FIFO
 * message pump with drop filters, virtual time that jumps to the next timer
 * when the network is idle, crash and recovery from the records each replica
 * asked to persist. Test-only; assertions are cmocka's.
 */
#ifndef VOID_TESTS_LIB_PBFT_NET_H
#define VOID_TESTS_LIB_PBFT_NET_H

#include "void/pbft.h"
#include "void/pbft_client.h"
#include "void/prng.h"
#include "void/sign.h"

#include <sodium.h>
#include <stddef.h>
#include <stdint.h>

#define MAXN        16
#define MAXC        200
#define CLIENT_BASE 100
#define MS          (1000ull * 1000)
#define T0          (1700000000ull * 1000 * 1000 * 1000)

struct msg {
    uint32_t from, to;
    size_t len;
    uint8_t *bytes;
};

struct record {
    uint8_t kind;
    uint64_t key;
    size_t len;
    uint8_t *data;
};

struct net;
typedef int (*drop_fn)(struct net *t, uint32_t from, uint32_t to, uint8_t type);
struct msg;
typedef void (*seen_fn)(struct net *t, const struct msg *m);

struct net {
    uint32_t n, nclients;
    uint64_t now;
    struct void_keyring ring;
    struct void_sign_keypair keys[MAXN], ckeys[MAXC];
    struct void_pbft *rep[MAXN];
    struct void_kvs kvs[MAXN]; /* each replica's store, kept across its crashes */
    struct void_pbft_config cfg[MAXN];
    struct void_pbft_client cli[MAXC];
    int crashed[MAXN];
    uint64_t timers[MAXN + MAXC][4]; /* deadline, 0 = off */
    uint64_t last_event[MAXN + MAXC];
    struct record *records[MAXN];
    size_t nrecords[MAXN];
    struct msg *q;
    size_t qhead, qlen, qcap;
    drop_fn drop;
    seen_fn seen; /* called with every message before delivery */
    uint64_t delivered;
    int chaos; /* random reordering, loss and duplication */
    struct void_prng prng;
    uint8_t committed[MAXN][512][32]; /* digest executed at each seq, per replica */
    void_seq epoch_at[MAXN][8];       /* the boundary of each epoch entered, per replica */
    uint32_t epochs[MAXN];
    struct void_sign_keypair admin;
    uint8_t has_commit[MAXN][512];
    crypto_hash_sha256_state trace;
    struct void_pbft_out out;
    struct void_pbft_effect *effects;
    uint8_t *arena;
};

typedef int (*cond_fn)(struct net *t);

/* Replicas of the next net_new get config.rejoin_beacon (docs/pbft.md, Rejoining):
 * 0, the default, and 1 are on; -1 is off. */
extern int net_rejoin_beacon;
/* config.voters_min of the next net_new (0: the default, 4). */
extern uint16_t net_voters_min;
/* config.pipeline_max of the next net_new (0: the default). */
extern uint32_t net_pipeline;
/* config.retain_bytes of the next net_new (0: the default;
 * VOID_PBFT_RETAIN_OFF: no catch-up by batches, every gap past the window
 * is a state transfer). */
extern uint32_t net_retain;
/* 1: the replicas of the next net_new take t->admin's key as the admin key
 * of their configuration (membership changes, tests/core/test_epoch.c). */
extern int net_admin;
extern uint32_t net_genesis;

void make_key(struct void_sign_keypair *kp, uint32_t id);
void enqueue(struct net *t, uint32_t from, uint32_t to, const uint8_t *bytes, size_t len);
void store_record(struct net *t, uint32_t i, const struct void_pbft_effect *e);
/* Executes the effects of node (replica index, or MAXN + client index). */
void apply_effects(struct net *t, uint32_t node);
void replica_start(struct net *t, uint32_t i, int recover);
/* n replicas and nclients clients; K checkpoint interval, L window. */
struct net *net_new(uint32_t n, uint32_t nclients, uint32_t k, uint32_t window, int verify);
void replica_crash(struct net *t, uint32_t i);
void net_free(struct net *t);
void deliver(struct net *t, struct msg *m);
/* Fires the earliest timer (if any before limit). Returns 0 if none. */
int fire_timer(struct net *t, uint64_t limit);
/* Runs until cond holds (returns 1) or virtual time passes limit_ns from now
 * (returns 0). Delivery takes 10 us of virtual time per message. */
int net_run(struct net *t, uint64_t limit_ns, cond_fn cond);
int clients_idle(struct net *t);
/* Encodes a put of key = value into op; returns its length. */
size_t put_op(const char *key, const char *value, uint8_t *op, size_t cap);
void submit_put(struct net *t, uint32_t c, const char *key, const char *value);
/* Client c puts count keys one after the other; each must complete within
 * limit_ns of virtual time. */
void put_many(struct net *t, uint32_t c, int from, int count, uint64_t limit_ns);
/* Encodes the membership change (change, id) for epoch, signed by kp, into
 * buf (VOID_SM_MEMBER_OP_SIZE bytes); returns its length. */
size_t net_member_op(
    uint8_t change, uint32_t id, uint64_t epoch, const struct void_sign_keypair *kp, uint8_t *buf);
struct void_sm_result;
/* Client c submits op and runs the network until it completes; the result
 * is decoded into *r (its value points into the client, valid until its next
 * request). */
void net_submit_wait(
    struct net *t, uint32_t c, const uint8_t *op, size_t len, struct void_sm_result *r);
/* r is a refusal whose text starts with the name of error code. */
void net_assert_refused(const struct void_sm_result *r, int code);
/* Client 0 puts one key after another (numbered from *next_put) until every
 * live replica's stable checkpoint reached seq; fails, printing each
 * replica's counters, if 64 puts did not get there. */
void net_run_to_stable(struct net *t, void_seq seq, int *next_put);
/* Every live replica executed up to seq and holds the same state. */
void assert_agree(struct net *t, void_seq seq);
int all_live_at_max(struct net *t);

#endif
