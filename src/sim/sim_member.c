/*
 * Membership changes in the simulator (docs/simulator.md, Membership;
 * docs/membership.md, "Changes through PBFT"). With config.member_changes,
 * an admin key is in every replica's configuration and, at a time drawn
 * from the seed inside the fault window, the first client sends an
 * admin-signed REMOVE of one replica (a Byzantine one if there is any, so
 * that the cluster after the change still has at most f faulty voters) in
 * place of its next operation. The removed replica goes on running (and a
 * Byzantine one goes on with its strategies): its frames must be dropped
 * and counted.
 *
 * The checker: every honest replica enters the same epochs at the same
 * sequence numbers (the EPOCH events), and after each step no honest
 * replica holds a vote from a replica outside its epoch's voters (the vote
 * masks of its log window and checkpoint slots).
 */
#include "sim_int.h"
#include "void/assert.h"
#include "void/bytes.h"
#include "void/error.h"
#include "void/sign.h"
#include "void/sm.h"

#include <inttypes.h>
#include <string.h>

void void__sim_member_plan(struct sim *s)
{
    VOID_ASSERT(s != NULL && s->cfg != NULL);
    memset(&s->member, 0, sizeof(s->member));
    if (!s->cfg->member_changes) {
        return;
    }
    /* A stream of its own, so that the other draws of a seed stay as they
     * were without membership changes. */
    struct void_prng rng;
    void_prng_seed(&rng, s->cfg->seed ^ 0x6d656d6265727321ull);
    uint8_t seed[VOID_SIGN_SEED_SIZE] = {'a', 'd', 'm', 'i', 'n'};
    int rc = void_sign_keypair_from_seed(&s->member.admin, seed);
    VOID_ASSERT(rc == 0);
    s->member.on = 1;
    s->member.target = UINT32_MAX;
    for (uint32_t i = 0; i < s->n && s->member.target == UINT32_MAX; i++) {
        if (s->nodes[i].byzantine) {
            s->member.target = i;
        }
    }
    if (s->member.target == UINT32_MAX) {
        s->member.target = (uint32_t)void_prng_below(&rng, s->n);
    }
    uint64_t window = s->cfg->fault_window_ns > 0 ? s->cfg->fault_window_ns : 1000000000ull;
    s->member.at_ns = void_prng_range(&rng, window / 10, window);
    VOID_ASSERT(s->member.target < s->n);
}

int void__sim_member_due(const struct sim *s, const struct sim_node *node)
{
    VOID_ASSERT(s != NULL && node != NULL);
    return s->member.on && !s->member.sent && node->id == s->n && s->now >= s->member.at_ns;
}

int void__sim_member_op(struct sim *s, uint8_t *enc, size_t cap)
{
    VOID_ASSERT(s->member.on && !s->member.sent);
    VOID_ASSERT(cap >= VOID_SM_MEMBER_OP_SIZE);
    struct void_sm_member_op m = {
        .change = VOID_MEMBERSHIP_REMOVE, .id = s->member.target, .epoch = 1};
    uint8_t msg[VOID_SM_MEMBER_SIGNED];
    void_sm_member_op_message(&m, msg);
    int rc = void_sign(&s->member.admin, VOID_SIGN_DOMAIN_MEMBER, msg, sizeof(msg), m.sig);
    VOID_ASSERT(rc == 0);
    s->member.sent = 1;
    void__sim_trace(s, "admin: remove n%u", s->member.target);
    return void_sm_member_op_encode(&m, enc, cap);
}

void void__sim_member_result(struct sim *s, const struct void_sm_result *res)
{
    VOID_ASSERT(s != NULL && res != NULL);
    if (res->status == VOID_SM_OK && res->value_len == 16) {
        s->member.applied = 1;
        s->member.act = void_bytes_get_be64(res->value + 8);
        void__sim_trace(s,
                        "admin: epoch %" PRIu64 " above seq %" PRIu64,
                        void_bytes_get_be64(res->value),
                        s->member.act);
    } else if (res->status == VOID_SM_REFUSED) {
        /* Deterministic, but the removal was valid: a replica refused it. */
        void__sim_violation(s,
                            "membership: the admin's removal of n%u was refused: %.*s",
                            s->member.target,
                            (int)res->value_len,
                            (const char *)res->value);
    } else {
        void__sim_violation(
            s, "membership: the admin's removal answered status %u", (unsigned)res->status);
    }
}

/* Called for every event of an honest replica. */
void void__sim_member_event(struct sim *s, struct sim_node *node, const struct void_pbft_event *ev)
{
    VOID_ASSERT(s != NULL && node != NULL && ev != NULL);
    if (ev->kind != VOID_PBFT_EVENT_EPOCH || node->byzantine) {
        return;
    }
    uint64_t epoch = void_pbft_member_config(node->replica)->epoch;
    struct sim_member_log *log = &s->member.log[node->id];
    void__sim_trace(s, "n%u epoch %" PRIu64 " above seq %" PRIu64, node->id, epoch, ev->seq);
    s->res->epoch_changes++;
    /* A restarted replica comes back in the epoch its checkpoint proves:
     * an epoch it had entered before its crash is entered again, at the
     * same boundary. */
    for (uint32_t k = 0; k < log->count; k++) {
        if (log->epoch[k] == epoch) {
            if (log->at[k] != ev->seq) {
                void__sim_violation(s,
                                    "membership: n%u entered epoch %" PRIu64 " above seq %" PRIu64
                                    " and again above %" PRIu64,
                                    node->id,
                                    epoch,
                                    log->at[k],
                                    ev->seq);
            }
            return;
        }
    }
    if (log->count < SIM_EPOCHS_MAX) {
        log->epoch[log->count] = epoch;
        log->at[log->count++] = ev->seq;
    }
    /* Every honest replica that entered this epoch entered it at the same
     * sequence number. */
    for (uint32_t j = 0; j < s->n; j++) {
        const struct sim_member_log *o = &s->member.log[j];
        for (uint32_t k = 0; k < o->count && !s->nodes[j].byzantine; k++) {
            if (o->epoch[k] == epoch && o->at[k] != ev->seq) {
                void__sim_violation(s,
                                    "membership: n%u entered epoch %" PRIu64 " above seq %" PRIu64
                                    ", n%u above seq %" PRIu64,
                                    node->id,
                                    epoch,
                                    ev->seq,
                                    j,
                                    o->at[k]);
            }
        }
    }
}

/* After each step of an honest replica: it holds no vote from outside its
 * epoch's voters. */
void void__sim_member_step(struct sim *s, struct sim_node *node)
{
    VOID_ASSERT(s != NULL && node != NULL);
    if (!s->member.on || node->byzantine || !node->up || node->is_client) {
        return;
    }
    const struct void_pbft *r = node->replica;
    if (!(void_pbft_voters(r) & (1u << node->id))) {
        return; /* removed: it runs on, and the others drop what it sends */
    }
    uint32_t out = ~void_pbft_voters(r);
    uint32_t bad = 0;
    for (uint32_t i = 0; i < r->cfg.window; i++) {
        const struct void__pbft_entry *e = &r->log[i];
        if (e->used && e->seq > r->low) {
            bad |= (e->prepare_mask | e->commit_mask) & out;
        }
    }
    for (uint32_t i = 0; i < VOID_PBFT_CKPT_SLOTS; i++) {
        if (r->ckpt[i].seq > r->low) {
            bad |= r->ckpt[i].mask & out;
        }
    }
    if (bad != 0 && s->member.bad_votes++ == 0) {
        void__sim_violation(s,
                            "membership: n%u in epoch %" PRIu64 " holds votes from non-voters %#x",
                            node->id,
                            void_pbft_member_config(r)->epoch,
                            bad);
    }
}

void void__sim_member_finish(struct sim *s)
{
    VOID_ASSERT(s != NULL);
    for (uint32_t i = 0; i < s->n && s->member.on; i++) {
        const struct sim_node *node = &s->nodes[i];
        if (node->byzantine || !node->up) {
            continue;
        }
        s->res->not_member_dropped += void_pbft_stats(node->replica)->rx_not_member;
        /* A replica whose stable checkpoint passed the boundary is in the
         * new epoch. */
        if (s->member.applied && void_pbft_low_watermark(node->replica) >= s->member.act &&
            void_pbft_member_config(node->replica)->epoch != 2) {
            void__sim_violation(s,
                                "membership: n%u is past seq %" PRIu64 " in epoch %" PRIu64,
                                node->id,
                                s->member.act,
                                void_pbft_member_config(node->replica)->epoch);
        }
    }
}

int void__sim_member_removed(const struct sim *s, uint32_t id)
{
    VOID_ASSERT(s != NULL && id < SIM_NODES_MAX);
    return s->member.applied && id == s->member.target;
}
