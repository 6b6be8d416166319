/*
 * The deterministic simulator: n PBFT replicas (the pure cores of
 * include/void/pbft.h), up to f of them Byzantine, and a few clients, all in
 * one process on virtual time. One seed fixes everything: the workload, the
 * faults, the Byzantine behaviour and every network and clock decision, so
 * that a failing run replays exactly (`voidsim --seed N`). After the run the
 * checkers of include/void/sim_check.h judge it.
 *
 * docs/simulator.md describes the fault model, the Byzantine strategies, the
 * checkers and how to replay a seed.
 */
#ifndef VOID_SIM_H
#define VOID_SIM_H

#include <stdint.h>
#include <stdio.h>

/* Fault types. Bits of void_sim_config.faults; names for --faults. */
#define VOID_SIM_FAULT_MAP(X)                                                                      \
    X(DELAY, "delay")         /* per-link delay distributions, long tails */                       \
    X(LOSS, "loss")           /* random frame loss */                                              \
    X(DUP, "dup")             /* frame duplication */                                              \
    X(REORDER, "reorder")     /* extra random delay so frames overtake */                          \
    X(PARTITION, "partition") /* random partitions of the replicas, healed later */                \
    X(ISOLATE, "isolate")     /* the current primary cut off from everyone */                      \
    X(FLAP, "flap")           /* a link that goes down and up repeatedly */                        \
    X(CRASH, "crash")         /* crash and restart, unsynced disk records lost */                  \
    X(CLOCK, "clock")         /* per-node clock offset, drift and jumps */

enum void_sim_fault {
#define VOID__X(name, str) VOID_SIM_FAULT_##name##_BIT,
    VOID_SIM_FAULT_MAP(VOID__X)
#undef VOID__X
        VOID_SIM_FAULT_COUNT
};

/* Byzantine strategies. Bits of void_sim_config.strategies. */
#define VOID_SIM_BYZ_MAP(X)                                                                        \
    X(EQUIVOCATE, "equivocate") /* as primary: different pre-prepares to different replicas */     \
    X(FORGE, "forge")           /* frames claiming another sender, or with a broken signature */   \
    X(REPLAY, "replay")         /* re-sends old frames it received or sent */                      \
    X(DIGEST, "digest")         /* validly signed messages with a wrong digest */                  \
    X(FUTURE, "future")         /* validly signed messages with a far-future HLC */                \
    X(SILENT, "silent")         /* drops its messages to some replicas */                          \
    X(GARBAGE, "garbage")       /* random bytes and truncated frames */                            \
    X(SPLIT, "split") /* votes only with f honest victims whose words the network delays */    \
    X(CAUSAL, "causal") /* lies in its causal event log (docs/causality.md); not in "all" */  \
    X(SUSPECT, "suspect") /* with auto_remove: signs suspicions of honest live replicas and  \
                             submits certificates padded with forged ones; not in "all" */

enum void_sim_byz {
#define VOID__X(name, str) VOID_SIM_BYZ_##name##_BIT,
    VOID_SIM_BYZ_MAP(VOID__X)
#undef VOID__X
        VOID_SIM_BYZ_COUNT
};

#define VOID_SIM_FAULTS_ALL  ((1u << VOID_SIM_FAULT_COUNT) - 1)
/* The strategies the protocol must survive. CAUSAL is left out: it lies in
 * the event log, a violation by design that the causality checker reports,
 * so a run with it fails on purpose (tests/sim/test_sim_causal.c). */
#define VOID_SIM_BYZ_ALL     ((1u << VOID_SIM_BYZ_CAUSAL_BIT) - 1)
#define VOID_SIM_N_MAX       16
#define VOID_SIM_CLIENTS_MAX 8
/* The view checker's default bound (docs/simulator.md, Checkers): a replica
 * that lags behind a view change catches up within a request timeout, a
 * view change and a NEW-VIEW resend (about 1.5 s); one that left the view
 * alone returns on the next batch the others commit. */
#define VOID_SIM_VIEW_BOUND_NS_DEF (3ull * 1000 * 1000 * 1000)

struct void_sim_config {
    uint64_t seed;
    uint32_t n;                 /* replicas, >= 4 */
    uint32_t byzantine;         /* Byzantine replicas, <= (n - 1) / 3 */
    uint32_t faults;            /* bits of enum void_sim_fault */
    uint32_t strategies;        /* bits of enum void_sim_byz, used by the Byzantine replicas */
    uint32_t clients;           /* 1 .. VOID_SIM_CLIENTS_MAX */
    uint32_t requests;          /* total client operations */
    uint32_t pipeline;          /* batches in flight at a primary (pipeline_max); 0: default */
    int link_hints;             /* 1: clients hear a replica's crash and restart
                                   (void_pbft_client_link), as over TCP */
    int verify_signatures;      /* 0: skip Ed25519 verification (speed); only with byzantine 0 */
    int sig_memo;               /* 1: memoise signature checks (include/void/sigmemo.h)
                                   and MAC keys (include/void/mac.h): same answers
                                   and trace, a fraction of the CPU */
    uint64_t fault_window_ns;   /* faults happen in [0, window); all heal at its end */
    uint64_t liveness_bound_ns; /* every request completes within this after the heal */
    uint64_t view_bound_ns;     /* no honest replica is out of the cluster's view longer
                                   than this after the heal; 0: VOID_SIM_VIEW_BOUND_NS_DEF */
    int rejoin_beacon;          /* config.rejoin_beacon of every replica: 0 (the default)
                                   or 1 on, -1 off (docs/pbft.md, Rejoining) */
    int restart_backup;         /* 1: the restart scenario: a backup of view 0 stops cleanly
                                   (every record synced, as on SIGTERM) at 300 ms and
                                   restarts 1 s later, its links connecting for 300 ms
                                   more (frames to and from it lost, as before a TCP
                                   reconnect); then it must stay in the cluster's view */
    int no_read_only;           /* 1: every GET is ordered; 0: about half of the plain GETs go
                                   read-only (docs/pbft.md, Read-only requests) */
    FILE *trace;                /* borrowed; NULL = no trace file (the hash is computed anyway) */
    int member_changes;         /* 1: an admin key in the replicas' configuration, and an
                                   admin-signed REMOVE of one replica (a Byzantine one if
                                   any) at a random time in the fault window; the
                                   membership checker (docs/simulator.md, Membership) */
    int auto_remove;            /* 1: replicas heartbeat through the network, run the failure
                                   detector, sign and gossip suspicions, and submit a
                                   certified REMOVE (docs/simulator.md, Automatic removal) */
    int tasks;                  /* 1: clients also submit and cancel tasks (include/void/task.h);
                                   every honest replica's placement is compared at each
                                   executed sequence number (docs/scheduler.md) */
};

struct void_sim_result {
    uint64_t seq_executed;     /* highest sequence number executed by an honest replica */
    uint64_t view_max;         /* highest view an honest replica reached */
    uint64_t requests_done;    /* client operations answered */
    uint64_t requests_pending; /* not answered at the end */
    uint64_t faults_injected;  /* fault events (partitions, crashes, jumps, ...) */
    uint64_t byz_frames;       /* frames a Byzantine replica forged, mutated or injected */
    uint64_t frames_sent;
    uint64_t frames_dropped; /* lost or cut */
    uint64_t crashes;
    uint64_t events;          /* causal events checked */
    uint64_t causal_accepted; /* events the causality verifier accepted */
    uint32_t causal_injected; /* CAUSAL strategy: the enum void_causal_violation it
                                 injected (0: none, the run ended first) */
    uint32_t causal_first;    /* the kind of the verifier's first alert (0: none) */
    uint64_t end_ns;          /* virtual time at the end */
    uint64_t heal_ns;         /* virtual time when the last fault healed */
    uint64_t last_done_ns;    /* virtual time of the last answer */
    uint64_t trace_hash;      /* FNV-1a 64 of the trace text */
    uint64_t sig_memo_hits;   /* with the memo: signature checks it answered */
    uint64_t sig_memo_misses; /* with the memo: checks that ran Ed25519 in libsodium */
    uint64_t out_of_view_ns_max; /* longest time an honest replica spent out of the
                                    cluster's view after the heal */
    uint64_t reads_quorum;       /* read-only GETs answered by a quorum, unordered */
    uint64_t reads_ordered;      /* read-only GETs that fell back to ordering */
    uint64_t epoch_changes;      /* epochs entered by honest replicas (member_changes) */
    uint64_t not_member_dropped; /* frames honest replicas dropped from non-voters */
    uint64_t auto_removals;      /* members removed by certified REMOVEs (auto_remove) */
    uint64_t auto_removals_multi; /* ... REMOVEs applied that carried several members */
    uint64_t certs_refused;      /* certified REMOVEs the state machine refused */
    uint64_t suspicions_signed;  /* suspicions honest replicas signed */
    uint64_t suspicions_false;   /* suspicions of honest live replicas Byzantine ones signed */
    uint64_t heartbeats_dropped; /* heartbeats honest replicas dropped from non-voters */
    uint64_t task_checks;        /* placements compared (tasks): replicas x sequence numbers */
    uint64_t tasks_placed;       /* task ops answered with a placement (tasks) */
    uint64_t state_transfers;    /* states installed by honest replicas up at the end */
    uint64_t catchup_batches;    /* batches they took from STATEs with their certificates
                                    (catch-up by batches, docs/pbft.md) */
    uint32_t violations;      /* checker failures (0 = the run passed) */
    char violation[512];      /* the first one, readable */
};

/* Fills *config for seed: n in {4, 7}, a random subset of the faults, 0..f
 * Byzantine replicas with random strategies, and default sizes, all drawn
 * from the seed (so `voidsim --seed N` alone reproduces a campaign run);
 * signatures verified, with the memo. Cannot fail. */
void void_sim_config_from_seed(struct void_sim_config *config, uint64_t seed);

/* Runs one simulation and its checkers, writing a summary into *result.
 * config is borrowed for the call. Returns 0 when the run completed (whether
 * or not a checker fired: see result->violations), VOID_EINVAL for an invalid
 * configuration (n outside 4..VOID_SIM_N_MAX, byzantine > (n - 1) / 3,
 * clients outside 1..VOID_SIM_CLIENTS_MAX, or Byzantine replicas without
 * signature verification), or VOID_ENOMEM. With config->sig_memo the run
 * installs a signature memo process-wide for its duration (see
 * void_sign_memo_install: not while another thread signs). */
int void_sim_run(const struct void_sim_config *config, struct void_sim_result *result);

/* Parses a comma-separated list of fault names ("loss,crash", "all", "none")
 * into *mask. Returns 0 or VOID_EPARSE. */
int void_sim_parse_faults(const char *list, uint32_t *mask);

/* Same for Byzantine strategy names. Returns 0 or VOID_EPARSE. */
int void_sim_parse_strategies(const char *list, uint32_t *mask);

/* Writes the names of the set bits, comma-separated ("none" when empty), into
 * buf (capacity cap, truncated if short). Cannot fail. */
void void_sim_format_faults(uint32_t mask, char *buf, size_t cap);
void void_sim_format_strategies(uint32_t mask, char *buf, size_t cap);

#endif
