/*
 * Private state of one simulation run, shared by src/sim/sim.c (the run loop
 * and the node drivers), sim_fault.c (the fault schedule), sim_byz.c (the
 * Byzantine mutators) and sim_client.c (the workload and its history).
 */
#ifndef VOID_SIM_INT_H
#define VOID_SIM_INT_H

#include "void/causal.h"
#include "void/hlc.h"
#include "void/kvs.h"
#include "void/membership.h"
#include "void/pbft.h"
#include "void/pbft_client.h"
#include "void/prng.h"
#include "void/sim.h"
#include "void/sim_check.h"
#include "void/sim_model.h"
#include "void/sm.h"

#include <stdint.h>
#include <stdio.h>

#define SIM_NODES_MAX   (VOID_SIM_N_MAX + VOID_SIM_CLIENTS_MAX)
#define SIM_KEYS        5  /* small key space: contention is the point */
#define SIM_TIMERS      17 /* timer kinds, indexed by their enum value */
#define SIM_REPLAY_RING 32
#define SIM_EQUIV_MAX   64

/* Queue event kinds. */
enum sim_ev {
    SIM_EV_DELIVER = 1, /* data: struct sim_frame, arg: sender endpoint */
    SIM_EV_TIMER,       /* arg: timer << 32 | generation */
    SIM_EV_SUBMIT,      /* a client starts its next operation */
    SIM_EV_FAULT,       /* arg: index into the fault schedule */
    SIM_EV_RESTART,     /* a crashed replica comes back */
    SIM_EV_DURABLE,     /* a replica's records are synced; arg: crash generation << 48 | mark */
    SIM_EV_DETECT,      /* auto_remove: a replica's detector tick; arg: crash generation */
};

struct sim_frame {
    size_t len;
    uint8_t bytes[];
};

/* Membership changes (sim_member.c). */
#define SIM_EPOCHS_MAX 8
struct sim_member_log {
    uint32_t count;
    uint64_t epoch[SIM_EPOCHS_MAX]; /* epochs entered, in order */
    uint64_t hash[SIM_EPOCHS_MAX];  /* ... the configuration's (FNV-1a of its encoding) */
    uint64_t at[SIM_EPOCHS_MAX];    /* ... above this sequence number */
};
/* Automatic removal (sim_member.c): one replica's detector and suspicions. */
#define SIM_CERTS_MAX 8
#define SIM_FWD_MAX   32
struct sim_signed_suspicion {
    struct void_suspicion s;
    uint8_t sig[64];
};
struct sim_detector {
    uint64_t epoch; /* of the configuration it follows; 0: not set up since the start */
    struct void_fd fd;
    struct void_suspicion_collector col;
    /* held[suspect][suspector]: the signed suspicion the collector holds */
    struct sim_signed_suspicion held[VOID_SIM_N_MAX][VOID_SIM_N_MAX];
    /* own[suspect]: this replica's own signed suspicion (wall 0: none) */
    struct sim_signed_suspicion own[VOID_SIM_N_MAX];
    uint32_t ticks;
    uint32_t forged_mask; /* SUSPECT: victims it sent a forged certificate against */
    struct sim_signed_suspicion fwd[SIM_FWD_MAX]; /* accepted from others, to forward */
    uint32_t count_fwd;
    /* cert[suspect]: a complete certificate (2f + 1 suspicions with their
     * signatures) not yet queued; cert_at[suspect]: when it completed (0:
     * none). Queued together once the others that died are certified too
     * (det_gather), as voidd submits them. */
    struct void_sm_member_cert cert[VOID_SIM_N_MAX];
    uint64_t cert_at[VOID_SIM_N_MAX];
};
/* Suspects in one certified REMOVE: at most f of n <= VOID_SIM_N_MAX can
 * be certified by the 2f + 1 others. */
#define SIM_CERT_SUSPECTS_MAX ((VOID_SIM_N_MAX - 1) / 3)
struct sim_cert {
    uint64_t epoch;
    uint32_t mask; /* its suspects, a bit per id */
    uint32_t by;   /* the replica that submits it */
    size_t len;
    uint8_t bytes[VOID_SM_MEMBER_CERTS_SIZE(SIM_CERT_SUSPECTS_MAX, 2 * ((VOID_SIM_N_MAX - 1) / 3) + 1)];
};
#define SIM_SIGNED_LOG 64
struct sim_signed_log {
    uint32_t next;
    struct void_suspicion items[SIM_SIGNED_LOG]; /* the last suspicions it really signed */
};
struct sim_member {
    int on, sent, applied;
    int admin_on; /* member_changes: the admin's removal */
    int autorm; /* auto_remove */
    uint16_t voters_min;
    struct sim_detector *det[VOID_SIM_N_MAX];
    struct void_hlc_ts hb_hlc[VOID_SIM_N_MAX]; /* last heartbeat HLC sent (kept across crashes) */
    uint64_t impaired_ns[VOID_SIM_N_MAX];     /* last time it was down or its links cut/degraded */
    uint8_t removed[VOID_SIM_N_MAX];          /* removed by a certificate */
    uint32_t voters_of[VOID_SIM_N_MAX + 2];   /* voters of each epoch an honest replica entered */
    uint64_t submitted[VOID_SIM_N_MAX];       /* epoch for which a certificate of it was queued */
    struct sim_cert certs[SIM_CERTS_MAX];     /* queued for a client */
    uint32_t count_certs;
    struct sim_cert inflight[VOID_SIM_CLIENTS_MAX]; /* the certificate each client sent */
    struct sim_signed_log signed_log[VOID_SIM_N_MAX]; /* honest replicas' (the checker's) */
    /* Join mode (docs/simulator.md, Membership changes): replica `target'
     * (the last one) is outside the genesis (genesis_n = n - 1); the admin
     * JOINs it, then PROMOTEs it once its progress allows. */
    int join;
    int stage;              /* join mode: 0 JOIN due, 1 sent, 2 PROMOTE due, 3 sent, 4 done */
    uint32_t genesis_n;     /* config.genesis_n of every replica and client (0: n) */
    uint32_t applied_count; /* changes the admin got applied */
    uint32_t promote_tries;
    uint64_t promote_at_ns; /* when the PROMOTE is due (retried after PENDING or BEHIND) */
    uint32_t target;  /* the replica the admin removes (or joins) */
    uint64_t at_ns;   /* when the first client sends the removal */
    uint64_t act;     /* its boundary, from the answer */
    uint64_t bad_votes, bad_configs;
    struct void_sign_keypair admin;
    struct sim_member_log log[VOID_SIM_N_MAX];
};

/* A scheduled fault action. */
enum sim_fault_kind {
    SIM_F_LINKS = 1, /* apply the degraded link settings */
    SIM_F_PARTITION, /* cut the replicas into mask / ~mask */
    SIM_F_ISOLATE,   /* isolate the current primary */
    SIM_F_HEAL_CUTS, /* heal every cut */
    SIM_F_FLAP,      /* toggle the link a-b */
    SIM_F_CRASH,     /* crash replica a (if honest and up) */
    SIM_F_JUMP,      /* step node a's clock by amount ns */
    SIM_F_HEAL_ALL,  /* end of the fault window: everything back to normal */
    SIM_F_ONEWAY,    /* cut the frames from the replicas in mask to the other honest ones */
    SIM_F_STOP,      /* stop replica a cleanly (records synced), restart after amount ns */
};

struct sim_fault {
    uint64_t at_ns;
    uint32_t kind;
    uint32_t a, b;
    uint64_t mask;
    int64_t amount;
};

/* One equivocation by the colluding Byzantine replicas: at (view, seq) the
 * honest replicas in group B were shown digest_b, the others digest_a. */
struct sim_equiv {
    uint64_t view, seq;
    uint8_t digest_a[VOID_PBFT_DIGEST_SIZE];
    uint8_t digest_b[VOID_PBFT_DIGEST_SIZE];
};

struct sim_node {
    uint32_t id;
    int is_client;
    int byzantine;
    int up;
    struct void_sign_keypair kp;
    struct void_simclock clock;
    /* replica */
    struct void_pbft *replica;
    struct void_simdisk disk;
    /* The replicated state's store, kept across crashes as voidd's LMDB
     * store is (recovery puts it back to the checkpoint's state:
     * docs/pbft.md, Recovery). */
    struct void_kvs store;
    int store_open;
    uint64_t last_event_seq;
    uint64_t timer_gen[SIM_TIMERS];
    uint64_t connect_delay_ns; /* at its next restart, its links connect this much later */
    uint64_t connect_ns;       /* frames to and from it are lost before this time */
    uint64_t durable_sched;    /* highest persist mark a SIM_EV_DURABLE is queued for */
    uint64_t crash_gen;        /* crashes so far: a queued SIM_EV_DURABLE of an earlier life
                                  is void */
    /* client */
    struct void_pbft_client *client;
    uint8_t *big; /* the client's room for large ops (auto_remove), or NULL */
    uint32_t ops_left;
    int busy; /* an operation is outstanding */
    uint32_t value_counter;
    size_t op_index;              /* history index of the outstanding op */
    uint64_t seen[SIM_KEYS];      /* last value this client saw per key (CAS expectations) */
    struct void_hlc_ts stamps[8]; /* commit stamps it saw (as-of targets) */
    uint32_t count_stamps;
    /* Byzantine */
    uint32_t silent_mask; /* replicas it never talks to under SILENT */
    uint8_t *replay[SIM_REPLAY_RING];
    size_t replay_len[SIM_REPLAY_RING];
    uint32_t replay_next;
};

/* Extra facts about a history op that the linearizability model does not
 * need but the as-of checker does. */
struct sim_op_extra {
    int as_of;                /* a GET_AS_OF (not in the linearizable history) */
    int read_only;            /* a GET sent read-only (in the history like any GET) */
    struct void_hlc_ts at;    /* its as-of time */
    struct void_hlc_ts stamp; /* the version stamp the result carried */
    int status;               /* void_sm_status of the result, -1 while pending */
    int member;               /* the admin's membership change (sim_member.c), not a k/v op */
    int cert;                 /* ... or a certified REMOVE: index + 1 into the answers */
    uint32_t cert_mask;       /* its suspects, a bit per id */
    uint32_t cert_by;         /* the replica that submitted it (a Byzantine one forged it) */
    int task;                 /* with member: a task op (sim_task.c) */
};

struct sim {
    const struct void_sim_config *cfg;
    struct void_sim_result *res;
    uint32_t n, f, count_nodes;
    struct sim_node nodes[SIM_NODES_MAX];
    struct void_keyring ring;
    struct void_simq q;
    struct void_simnet net;
    struct void_simnet_link baseline;
    struct void_simnet_link degraded;
    struct void_prng rng_net, rng_fault, rng_work, rng_byz, rng_clock;
    struct void_pbft_out out;
    struct void_pbft_effect *effects;
    uint8_t *arena;
    uint8_t *scratch; /* VOID_CODEC_FRAME_MAX bytes for building frames */
    uint64_t now;
    uint64_t heal_ns;
    uint64_t stop_ns;
    uint32_t byz_group_b;   /* honest replicas shown the B side of equivocations */
    uint32_t split_victims; /* honest replicas the SPLIT strategy courts */
    struct sim_equiv equiv[SIM_EQUIV_MAX];
    uint32_t count_equiv;
    struct sim_fault *faults;
    size_t count_faults;
    /* history */
    struct void_check_op *ops;
    struct sim_op_extra *extra;
    size_t count_ops, cap_ops;
    uint32_t clients_busy;
    uint32_t requests_issued;
    /* checkers */
    struct void_check_agreement agree;
    struct void_check_agreement task_agree; /* placements by executed seq (sim_task.c) */
    struct void_check_hlc hlc;
    struct void_check_view view;
    uint64_t count_connecting; /* frames lost to links still connecting */
    struct void_causal *causal;  /* the causality verifier over every node's events */
    struct void_prng rng_causal; /* the CAUSAL strategy's own stream (others untouched) */
    uint32_t causal_kind;        /* the violation CAUSAL injects in this run */
    uint64_t causal_at;          /* ... at the Byzantine replica's receive number causal_at */
    uint64_t causal_receives;    /* receives of the first Byzantine replica so far */
    struct sim_member member;
    /* trace */
    FILE *trace;
    uint64_t trace_hash;
    int oom;
};

/* Appends one formatted line ("<virtual time> " prefix added) to the trace
 * text, hashing it and writing it to the trace file if any. */
void void__sim_trace(struct sim *s, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

/* Records a violation (first message kept). */
void void__sim_violation(struct sim *s, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

/* Transmits a frame from endpoint `from` to `to` through the network model
 * (copied). Returns 0 or VOID_ENOMEM. */
int void__sim_transmit(struct sim *s, uint32_t from, uint32_t to, const uint8_t *frame, size_t len);

/* sim_fault.c: draws the fault schedule and link settings from rng_fault and
 * pushes the fault events. Returns 0 or VOID_ENOMEM. */
int void__sim_faults_plan(struct sim *s);

/* sim_fault.c: performs fault number index of the schedule. */
void void__sim_fault_fire(struct sim *s, size_t index);

/* sim.c: crashes replica id now (unsynced records lost, timers and in-flight
 * input dropped) and schedules its restart after down_ns. */
void void__sim_crash(struct sim *s, uint32_t id, uint64_t down_ns);

/* sim_byz.c: sends one SEND effect of Byzantine replica `node` to `to` after
 * mutating it according to the run's strategies. Returns 0 or VOID_ENOMEM. */
int void__sim_byz_send(
    struct sim *s, struct sim_node *node, uint32_t to, const uint8_t *frame, size_t len);

/* sim_byz.c: remembers a frame a Byzantine replica saw, for replays. */
void void__sim_byz_remember(struct sim_node *node, const uint8_t *frame, size_t len);

/* sim_byz.c: whether Byzantine node drops the frame it received from `from`
 * (the SPLIT strategy ignores votes from anyone but its victims). */
int void__sim_byz_ignores(const struct sim *s, uint32_t from, const uint8_t *frame, size_t len);

/* sim_byz.c: picks the SPLIT strategy's victims (when it is on). */
void void__sim_byz_plan(struct sim *s);

/* sim_byz.c: frees the replay ring. */
void void__sim_byz_fini(struct sim_node *node);

/* sim_client.c: starts client node's next operation. */
int void__sim_client_submit(struct sim *s, struct sim_node *node);

/* sim_client.c: a completed request's result: records it in the history and
 * schedules the next operation. */
int void__sim_client_done(struct sim *s, struct sim_node *node);

/* sim_client.c: runs the history checkers (linearizability, as-of) at the end. */
void void__sim_client_check(struct sim *s);

/* sim_causal.c: allocates the causality verifier and plans the CAUSAL
 * strategy. Returns 0 or VOID_ENOMEM. */
int void__sim_causal_init(struct sim *s);

/* sim_causal.c: frees it. Safe after a failed init. */
void void__sim_causal_fini(struct sim *s);

/* sim_causal.c: submits one event node performed to the verifier (through
 * the CAUSAL strategy's lies when node is its liar); alerts are violations. */
void void__sim_causal_event(struct sim *s, struct sim_node *node, const struct void_pbft_event *ev);

/* sim_causal.c: ends every wait (void_causal_flush) and reports the alerts. */
void void__sim_causal_finish(struct sim *s);

/* sim_member.c: membership changes and their checker. plan draws the
 * removal (after setup_nodes); due says whether client node sends it now
 * (op encodes it into enc[cap], returning its length); result takes its
 * answer; event and step check every honest replica; finish ends the run. */
void void__sim_member_plan(struct sim *s);
uint32_t void__sim_member_genesis(const struct sim *s);
/* Join mode: node (the first client) still has the admin's PROMOTE to send,
 * due at *at_ns, even when its workload is done. */
int void__sim_member_wants(const struct sim *s, const struct sim_node *node, uint64_t *at_ns);
int void__sim_member_due(const struct sim *s, const struct sim_node *node);
/* Tasks (sim_task.c): whether the client's next op is a task op, the op,
 * and the placement check after a replica executed. */
int void__sim_task_due(struct sim *s, const struct sim_node *node);
int void__sim_task_op(struct sim *s, struct sim_node *node, uint8_t *enc, size_t cap);
void void__sim_task_check(struct sim *s, struct sim_node *node);
int void__sim_member_op(struct sim *s, uint8_t *enc, size_t cap);
void void__sim_member_result(struct sim *s, const struct void_sm_result *res);
void void__sim_member_event(struct sim *s, struct sim_node *node, const struct void_pbft_event *ev);
void void__sim_member_step(struct sim *s, struct sim_node *node);
void void__sim_member_finish(struct sim *s);
/* auto_remove (sim_member.c): detector set up (after start_replicas), a
 * detector tick (SIM_EV_DETECT), a heartbeat frame delivered to a replica
 * (returns 1 if it was one and is consumed), the start after a restart, and
 * a certificate for client node to send in place of its next operation
 * (returns its length into enc[cap], 0 if none is queued). */
int void__sim_detect_start(struct sim *s, struct sim_node *node);
int void__sim_detect_tick(struct sim *s, struct sim_node *node, uint64_t arg);
int void__sim_detect_deliver(
    struct sim *s, struct sim_node *node, uint32_t from, const uint8_t *frame, size_t len);
int void__sim_member_cert_op(
    struct sim *s, struct sim_node *node, struct sim_op_extra *x, uint8_t *enc, size_t cap);
void void__sim_member_cert_result(struct sim *s,
                                  const struct sim_node *client,
                                  const struct sim_op_extra *x,
                                  const struct void_sm_result *res);
void void__sim_detect_fini(struct sim *s);
/* sim_member.c: node signs a suspicion of suspect in its detector's epoch
 * (its heartbeat HLC); queues a certified REMOVE that replica by submits
 * (returns 1, or 0 when the queue is full). */
void void__sim_member_sign(struct sim *s,
                           struct sim_node *node,
                           uint32_t suspect,
                           struct sim_signed_suspicion *out);
int void__sim_member_queue_cert(struct sim *s, uint32_t by, const struct void_sm_member_cert *mc);
/* sim_byz.c: the SUSPECT strategy of Byzantine node, at each of its heartbeats. */
void void__sim_byz_suspect(struct sim *s, struct sim_node *node);
/* Whether replica id was removed (it runs on, outside the voters). */
int void__sim_member_removed(const struct sim *s, uint32_t id);

/* sim.c: performs the effects in s->out for node (then empties s->out). */
int void__sim_perform(struct sim *s, struct sim_node *node);

#endif
