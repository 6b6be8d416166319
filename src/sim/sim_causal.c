/*
 * The simulator's causality checker (DESIGN.md section 8, docs/causality.md):
 * every event a node performs (the EVENT effects of the PBFT replica and
 * client cores) goes through the pure verifier of include/void/causal.h, in
 * the order the simulation performs it. A receive names the sender's send
 * event, whose (node, seq) travelled in the frame body under the sender's
 * signature, exactly as in the daemon. Every alert is a violation of the run.
 *
 * Byzantine replicas: their frames may be anything, so by default their
 * events are left out and a receive from one is recorded as a local event
 * (an edge from a liar proves nothing, as in the HLC checker). With the
 * CAUSAL strategy, the first Byzantine replica's events are submitted and it
 * lies once in its log, at its causal_at-th receive, in the way the seed
 * picks: a receive stamped at its send's HLC, a sequence number skipped, a
 * receive naming a send that never comes, or one naming an event that is
 * not its send. The verifier must report exactly that kind first
 * (tests/sim/test_sim_causal.c). The strategy draws from its own stream, so
 * the run is otherwise the same as without it.
 */
#include "sim_int.h"
#include "void/assert.h"
#include "void/error.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

/* The verifier retains this many events (older ones drop behind the
 * horizon; edges into them are checked when both ends are retained). */
#define SIM_CAUSAL_CAPACITY (1u << 16)
#define SIM_CAUSAL_ORPHANS  4096
#define SIM_CAUSAL_WAIT     256 /* submits an orphan may wait: events come in order here */
/* How far back the forged-parent lie looks for an event that is not a send. */
#define SIM_CAUSAL_FORGE_SCAN 64

static bool causal_on(const struct sim *s)
{
    return (s->cfg->strategies & (1u << VOID_SIM_BYZ_CAUSAL_BIT)) != 0 && s->cfg->byzantine > 0;
}

/* Whether node's events go to the verifier. */
static bool recorded(const struct sim *s, const struct sim_node *node)
{
    return !node->byzantine || causal_on(s);
}

/* The first Byzantine replica: the one that lies under CAUSAL. */
static bool is_liar(const struct sim *s, const struct sim_node *node)
{
    if (!node->byzantine || !causal_on(s)) {
        return false;
    }
    for (uint32_t i = 0; i < node->id; i++) {
        if (s->nodes[i].byzantine) {
            return false;
        }
    }
    return true;
}

int void__sim_causal_init(struct sim *s)
{
    VOID_ASSERT(s->causal == NULL);
    VOID_ASSERT(s->count_nodes <= VOID_CAUSAL_NODES_MAX);
    s->causal = calloc(1, sizeof(*s->causal));
    if (s->causal == NULL) {
        return VOID_ENOMEM;
    }
    struct void_causal_config cc = {.nodes = s->count_nodes,
                                    .capacity = SIM_CAUSAL_CAPACITY,
                                    .orphans_max = SIM_CAUSAL_ORPHANS,
                                    .orphan_wait_max = SIM_CAUSAL_WAIT};
    int rc = void_causal_init(s->causal, &cc);
    if (rc != 0) {
        return rc;
    }
    void_prng_seed(&s->rng_causal, s->cfg->seed ^ 0xca05a1ca05a1ull);
    s->causal_kind = (uint32_t)(1 + s->cfg->seed % 4); /* HLC_ORDER .. FORGED_PARENT */
    s->causal_at = void_prng_range(&s->rng_causal, 5, 60);
    s->causal_receives = 0;
    return 0;
}

void void__sim_causal_fini(struct sim *s)
{
    if (s->causal != NULL) {
        void_causal_fini(s->causal);
        free(s->causal);
        s->causal = NULL;
    }
}

/* The causal event for pe. A send or receive carries the message type only
 * (what both ends know); the milestones carry (view, seq). */
static void map_event(const struct sim *s,
                      const struct void_pbft_event *pe,
                      struct void_causal_event *ce)
{
    memset(ce, 0, sizeof(*ce));
    ce->id.node = pe->node;
    ce->id.seq = pe->local_seq;
    ce->hlc = pe->hlc;
    ce->kind = void_causal_kind_of_pbft(pe->kind);
    if (ce->kind == VOID_CAUSAL_SEND || ce->kind == VOID_CAUSAL_RECEIVE) {
        ce->msg_type = pe->msg_type;
    } else if (ce->kind != VOID_CAUSAL_LOCAL) {
        ce->view = pe->view;
        ce->op_seq = pe->seq;
    }
    if (ce->kind == VOID_CAUSAL_RECEIVE) {
        uint32_t from = pe->remote_node;
        if (pe->remote_seq == 0 || from >= s->count_nodes || from == pe->node ||
            !recorded(s, &s->nodes[from])) {
            ce->kind = VOID_CAUSAL_LOCAL; /* no verifiable edge: a local event */
        } else {
            ce->from.node = from;
            ce->from.seq = pe->remote_seq;
        }
    }
}

/* An event of node `node` that is not a send, near its newest, or {0, 0}. */
static struct void_causal_id non_send_of(const struct void_causal *c, uint32_t node)
{
    struct void_causal_id none = {0, 0};
    uint64_t last = c->last[node];
    for (uint64_t k = 0; k < SIM_CAUSAL_FORGE_SCAN && k < last; k++) {
        struct void_causal_id id = {node, last - k};
        struct void_causal_event ev;
        if (void_causal_get(c, id, &ev) == 0 && ev.kind != VOID_CAUSAL_SEND) {
            return id;
        }
    }
    return none;
}

/* The CAUSAL strategy's one lie, on the liar's causal_at-th receive.
 * Returns false when the event is to be dropped from the log. */
static bool lie(struct sim *s, struct void_causal_event *ce)
{
    if (ce->kind != VOID_CAUSAL_RECEIVE || s->res->causal_injected != 0 ||
        ++s->causal_receives < s->causal_at) {
        return true;
    }
    struct void_causal_event send;
    switch ((enum void_causal_violation)s->causal_kind) {
    case VOID_CAUSAL_HLC_ORDER:
        if (void_causal_get(s->causal, ce->from, &send) != 0) {
            s->causal_at++; /* its send is gone: lie on the next receive */
            return true;
        }
        ce->hlc = send.hlc; /* the receive stamped no later than its send */
        break;
    case VOID_CAUSAL_SEQ_GAP:
        s->res->causal_injected = s->causal_kind;
        return false; /* the event vanishes from the log: the next one has a gap */
    case VOID_CAUSAL_MISSING_PARENT:
        ce->from.seq = s->causal->last[ce->from.node] + 1000000u; /* a send that never comes */
        break;
    case VOID_CAUSAL_FORGED_PARENT: {
        struct void_causal_id other = non_send_of(s->causal, ce->from.node);
        if (other.seq != 0) {
            ce->from = other; /* names an event that sent nothing */
        } else {
            ce->msg_type ^= 0x80; /* claims a message its send did not carry */
        }
        break;
    }
    case VOID_CAUSAL_EQUIVOCATION:
    case VOID_CAUSAL_BUFFER_OVERFLOW:
        VOID_ASSERT(0 && "CAUSAL injects kinds 1..4 only");
        break;
    }
    s->res->causal_injected = s->causal_kind;
    return true;
}

static void report_alerts(struct sim *s)
{
    struct void_causal_alert a[8];
    size_t got;
    while ((got = void_causal_alerts_take(s->causal, a, VOID_ARRAY_LEN(a))) > 0) {
        for (size_t i = 0; i < got; i++) {
            if (s->res->causal_first == 0) {
                s->res->causal_first = a[i].kind;
            }
            void__sim_violation(s,
                                "causality: %s: event n%u.%" PRIu64 " (hlc %" PRIu64
                                "/%u) against n%u.%" PRIu64 " (hlc %" PRIu64 "/%u)",
                                void_causal_violation_name(a[i].kind),
                                a[i].event.node,
                                a[i].event.seq,
                                a[i].event_hlc.wall_ns,
                                a[i].event_hlc.logical,
                                a[i].other.node,
                                a[i].other.seq,
                                a[i].other_hlc.wall_ns,
                                a[i].other_hlc.logical);
        }
    }
}

void void__sim_causal_event(struct sim *s, struct sim_node *node, const struct void_pbft_event *ev)
{
    VOID_ASSERT(s->causal != NULL);
    VOID_ASSERT(ev->node == node->id);
    if (!recorded(s, node)) {
        return;
    }
    struct void_causal_event ce;
    map_event(s, ev, &ce);
    if (is_liar(s, node) && !lie(s, &ce)) {
        return;
    }
    int rc = void_causal_submit(s->causal, &ce);
    if (rc < 0) {
        void__sim_violation(s,
                            "causality: n%u event %" PRIu64 " malformed: %s",
                            node->id,
                            ev->local_seq,
                            void_strerror(rc));
        return;
    }
    if (s->causal->alert_count > 0) {
        report_alerts(s);
    }
}

void void__sim_causal_finish(struct sim *s)
{
    VOID_ASSERT(s->causal != NULL);
    void_causal_flush(s->causal);
    report_alerts(s);
    s->res->causal_accepted = void_causal_count_accepted(s->causal);
    VOID_ASSERT(s->causal->orphan_count == 0);
}
