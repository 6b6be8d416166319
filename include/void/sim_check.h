/*
 * Checkers the simulator runs over every run: linearizability of the
 * client-observed key/value history, agreement of the honest replicas'
 * executions, causal order of HLC timestamps over the event DAG, and as-of
 * reads. They work on plain records, independent of the protocol code, so that
 * they can be tested on hand-made histories (tests/sim/test_sim_check.c).
 *
 * Every checker returns 0 when the property holds, a positive count of
 * violations when it does not (and fills a message for the first one), or a
 * negative VOID_E* code when it could not decide (out of memory, search budget
 * exhausted).
 */
#ifndef VOID_SIM_CHECK_H
#define VOID_SIM_CHECK_H

#include "void/hlc.h"

#include <stddef.h>
#include <stdint.h>

#define VOID_CHECK_MSG_MAX 256

/* ---- linearizability of a key/value history ---------------------------- */

/* Values are opaque 64-bit names (the simulator names each written value
 * uniquely); 0 means "absent". */
enum void_check_op_kind {
    VOID_CHECK_PUT = 1, /* key := value */
    VOID_CHECK_GET,     /* returns out_value */
    VOID_CHECK_DEL,     /* key := absent */
    VOID_CHECK_CAS,     /* if key == expected then key := value; out_ok says which */
};

struct void_check_op {
    uint32_t client;
    uint32_t kind; /* enum void_check_op_kind */
    uint64_t key;
    uint64_t value;     /* PUT and CAS: the new value (non-zero) */
    uint64_t expected;  /* CAS: the expected value (0 = absent) */
    uint64_t invoke_ns; /* virtual real time of the invocation */
    uint64_t return_ns; /* of the return; ignored when !completed */
    int completed;      /* 0: no answer seen, the op may or may not have happened */
    uint64_t out_value; /* GET result */
    int out_ok;         /* CAS result: 1 swapped, 0 not */
};

/* Decides whether ops[0..count) is linearizable for a map of registers
 * (Wing & Gong's search with Lowe's memoisation, as in Porcupine), partitioned
 * per key; real-time order (a returned before b was invoked) is respected.
 * Pending ops may take effect at any point after their invocation or never.
 * ops is borrowed for the call. At most state_budget (0 = 4M) distinct search
 * states are explored per key. Returns 0, the number of keys whose history is
 * not linearizable (msg names the first), VOID_ENOMEM, or VOID_ETIMEOUT when
 * the budget ran out. msg may be NULL. */
int void_check_linearizable(
    const struct void_check_op *ops, size_t count, size_t state_budget, char *msg, size_t msg_cap);

/* ---- agreement ----------------------------------------------------------- */

/* Records which batch (by digest) each replica executed at each sequence
 * number and flags any two honest replicas that differ. */
struct void_check_agreement {
    uint8_t (*digests)[32];
    uint32_t *first_replica;
    uint8_t *have;
    uint64_t cap;
    uint64_t count_records;
    uint64_t count_violations;
    char msg[VOID_CHECK_MSG_MAX];
};

/* Empty record. Cannot fail. */
void void_check_agreement_init(struct void_check_agreement *a);

/* Frees storage. Safe after init. */
void void_check_agreement_fini(struct void_check_agreement *a);

/* Notes that replica executed the batch with digest (32 bytes, copied) at
 * seq (>= 1). Returns 0, 1 when another replica executed a different batch at
 * seq (counted, first described in a->msg), or VOID_ENOMEM. */
int void_check_agreement_record(struct void_check_agreement *a,
                                uint32_t replica,
                                uint64_t seq,
                                const uint8_t digest[32]);

/* ---- HLC order over the causal event DAG -------------------------------- */

/* One event as in DESIGN.md section 8: node, its local sequence number
 * (1, 2, ...), HLC and parents: the node's previous event implicitly and, for
 * a receive, the sender's send event (remote_node, remote_seq; remote_seq 0
 * means none). */
struct void_check_event {
    uint32_t node;
    uint64_t seq;
    struct void_hlc_ts hlc;
    uint32_t remote_node;
    uint64_t remote_seq;
};

struct void_check_hlc_node {
    struct void_hlc_ts *hlcs; /* hlcs[seq - 1] */
    uint64_t count;
    uint64_t cap;
};

struct void_check_hlc {
    struct void_check_hlc_node nodes[64];
    uint32_t count_nodes;
    uint64_t count_events;
    uint64_t count_edges;
    uint64_t count_violations;
    char msg[VOID_CHECK_MSG_MAX];
};

/* Checker for nodes 0..count_nodes-1 (<= 64). Returns 0 or VOID_EINVAL. */
int void_check_hlc_init(struct void_check_hlc *h, uint32_t count_nodes);

/* Frees storage. Safe after init. */
void void_check_hlc_fini(struct void_check_hlc *h);

/* Checks one event online in O(parents): the node's sequence is gap-free, its
 * HLC exceeds the node's previous event's, and a remote parent exists and has
 * a smaller HLC. The event is recorded either way. Returns 0, 1 on a
 * violation (counted, first described in h->msg), or VOID_ENOMEM. */
int void_check_hlc_event(struct void_check_hlc *h, const struct void_check_event *ev);

/* ---- view membership ------------------------------------------------------------ */

/* Once the faults have healed, no honest replica may stay out of the
 * cluster's view longer than a bound (issue 16: a restarted backup sat alone
 * in a higher view, so one more fault stopped the cluster for a full view
 * change). The cluster's view is the view installed (not changing) by at
 * least `quorum` of the honest replicas that are up: the caller passes
 * 2f + 1 minus the Byzantine count, so that with the Byzantine replicas
 * they form a quorum that can commit in it. While no view has that many,
 * the cluster is itself changing view and nobody is out. An honest replica
 * is out while it is up and either in another view or changing view; what
 * counts is how long the cluster goes on committing in its view meanwhile
 * (void_check_view_commit), from the heal on. */
#define VOID_CHECK_VIEW_NODES_MAX 16
struct void_check_view {
    uint64_t bound_ns;
    uint64_t heal_ns;
    uint32_t quorum;
    uint32_t count_nodes;
    uint64_t out_since_ns[VOID_CHECK_VIEW_NODES_MAX]; /* UINT64_MAX: in the view (or down) */
    uint64_t out_ns_max; /* the longest time out (while the view commits) after heal */
    uint64_t commit_view; /* the view of the latest batch an honest replica executed */
    uint64_t commit_ns;   /* and when */
    int have_commit;
    uint64_t count_violations;
    char msg[VOID_CHECK_MSG_MAX];
};

/* One replica's state at a moment, as the checker sees it. */
struct void_check_view_node {
    int honest_up; /* honest and running: the only ones checked and counted */
    uint64_t view;
    int changing;
};

/* Sets up a checker of count_nodes replicas (<= VOID_CHECK_VIEW_NODES_MAX)
 * that tolerates bound_ns out of the view after heal_ns. Returns 0 or
 * VOID_EINVAL (no nodes, too many, or a quorum of 0 or above count_nodes). */
int void_check_view_init(struct void_check_view *c,
                         uint32_t count_nodes,
                         uint32_t quorum,
                         uint64_t heal_ns,
                         uint64_t bound_ns);

/* Notes that an honest replica executed, at now_ns, a batch committed in
 * view: the cluster is live in that view. Time out of the cluster's view
 * counts only while the cluster goes on committing in it (a cluster that is
 * itself stuck is the liveness checker's business). Cannot fail. */
void void_check_view_commit(struct void_check_view *c, uint64_t now_ns, uint64_t view);

/* Looks at the replicas at time now_ns (non-decreasing between calls;
 * nodes[count_nodes] borrowed for the call). Returns 0, or 1 when a replica
 * has now been out of the cluster's view for longer than the bound (counted
 * once per stretch; the first is described in c->msg). Cannot fail. */
int void_check_view_step(struct void_check_view *c,
                         uint64_t now_ns,
                         const struct void_check_view_node *nodes);

/* ---- as-of reads ----------------------------------------------------------- */

/* An MVCC version committed by the replicated state machine: key became value
 * (0 = deleted) at commit HLC. */
struct void_check_version {
    uint64_t key;
    uint64_t value;
    struct void_hlc_ts hlc;
};

/* An as-of read observed by a client: key read as of `as_of` returned
 * out_value (0 = absent). */
struct void_check_asof {
    uint64_t key;
    struct void_hlc_ts as_of;
    uint64_t out_value;
};

/* Checks that every read returned the value of the version of its key with
 * the greatest HLC <= as_of (absent if none; when several versions share that
 * HLC, being written by one batch, any of them). versions is the committed
 * history in execution order, reads only those whose as_of lies below the
 * HLC of every version committed after the read was answered (the caller
 * picks as_of from the past). Both borrowed. Returns 0, the number of wrong
 * reads (msg names the first) or VOID_ENOMEM. */
int void_check_asof_reads(const struct void_check_version *versions,
                          size_t count_versions,
                          const struct void_check_asof *reads,
                          size_t count_reads,
                          char *msg,
                          size_t msg_cap);

#endif
