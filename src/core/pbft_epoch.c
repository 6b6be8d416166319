/*
 * Membership epochs of the PBFT replica (docs/membership.md, "Changes
 * through PBFT"). The configuration is replicated state: the state machine
 * executes a change (src/core/sm.c, member_apply) and records the new
 * configuration with the sequence number `act' (a checkpoint boundary)
 * above which it is in effect. This file turns that record into the
 * replica's epoch: the voters whose votes count, n, f, the quorum and the
 * primary rotation.
 *
 * The rule that makes every honest replica switch at the same sequence
 * number: the epoch of a replica is the configuration in effect above its
 * stable checkpoint (low). Between executing a change and its boundary
 * becoming stable, the replica holds everything above the boundary (no
 * proposal, no pre-prepare or vote accepted, no execution): so nothing above
 * act is ever decided under the old epoch's quorums, and nothing at or
 * below act under the new one's.
 *
 * Replica ids are member ids: the keyring's ids 0..n-1 of the config file,
 * stable while the member list changes (a removed id is never reused; the
 * primary of view v is the (v mod n)-th voter in id order, not replica
 * v mod n).
 */
#include "core/pbft_int.h"
#include "void/assert.h"
#include "void/error.h"
#include "void/sm.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int void__pbft_epoch_init(struct void_pbft *r)
{
    VOID_ASSERT(r != NULL && r->cfg.n > 0 && r->cfg.n <= VOID_PBFT_N_MAX);
    r->member = calloc(4, sizeof(*r->member));
    if (r->member == NULL) {
        return VOID_ENOMEM;
    }
    /* Replicas 0..g-1 found the cluster; ids g..n-1 are slots for joins. */
    uint32_t g = r->cfg.genesis_n != 0 ? r->cfg.genesis_n : r->cfg.n;
    VOID_ASSERT(g <= r->cfg.n);
    struct void_member m[VOID_PBFT_N_MAX];
    memset(m, 0, sizeof(m));
    for (uint32_t i = 0; i < g; i++) {
        m[i].id = i;
        m[i].role = VOID_MEMBER_VOTER;
        const uint8_t *pk = void_keyring_get(r->cfg.keyring, i);
        if (pk != NULL) {
            memcpy(m[i].public_key, pk, VOID_SIGN_PUBLIC_KEY_SIZE);
        } else {
            m[i].public_key[0] = (uint8_t)(i + 1); /* distinct; its frames never verify */
        }
        int len = snprintf(m[i].address, sizeof(m[i].address), "replica-%u", i);
        VOID_ASSERT(len > 0 && (size_t)len < sizeof(m[i].address));
    }
    uint16_t vmin = r->cfg.voters_min;
    if (vmin == 0) {
        vmin = (uint16_t)(g < 4 ? g : 4);
    }
    if (vmin > g) {
        return VOID_EINVAL;
    }
    struct void_membership_config *genesis = &r->member[1];
    int rc = void_membership_config_init(genesis, m, g, vmin);
    if (rc != 0) {
        return VOID_EINVAL; /* two replicas with one key */
    }
    if (r->cfg.admin_key != NULL) {
        memcpy(genesis->admin_key, r->cfg.admin_key, VOID_SIGN_PUBLIC_KEY_SIZE);
    }
    r->member[0] = *genesis;
    r->voters = g == 32 ? UINT32_MAX : (VOID__BIT(g) - 1);
    r->nv = g;
    r->members_any = r->voters;
    r->f = void_membership_f(r->nv);
    r->epoch_act = 0;
    r->era_voters[0] = r->era_voters[1] = r->voters;
    r->era_bound = 0;
    r->vote_released = 0;
    struct void_sm_member_setup setup = {.genesis = genesis,
                                         .checkpoint_interval = r->cfg.checkpoint_interval,
                                         .window = r->cfg.window,
                                         .id_limit = r->cfg.n};
    rc = void_sm_member_setup(&r->sm, &setup);
    VOID_ASSERT(rc != 0 || r->nv == void_membership_voters(genesis));
    return rc;
}

void void__pbft_epoch_fini(struct void_pbft *r)
{
    VOID_ASSERT(r != NULL);
    free(r->member);
    r->member = NULL;
}

int void__pbft_is_voter(const struct void_pbft *r, uint32_t id)
{
    VOID_ASSERT(r != NULL);
    return id < VOID_PBFT_N_MAX && (r->voters & VOID__BIT(id)) != 0;
}

int void__pbft_epoch_holds(const struct void_pbft *r, void_seq seq)
{
    VOID_ASSERT(r != NULL);
    VOID_ASSERT(r->epoch_act == 0 || r->epoch_act > r->low);
    return r->epoch_act != 0 && seq > r->epoch_act;
}

uint32_t void__pbft_primary_in(uint32_t voters, void_view v)
{
    VOID_ASSERT(voters != 0);
    uint32_t want = (uint32_t)(v % void__popcount(voters));
    for (uint32_t i = 0; i < VOID_PBFT_N_MAX; i++) {
        if ((voters & VOID__BIT(i)) && want-- == 0) {
            return i;
        }
    }
    VOID_ASSERT(0 && "a voter below VOID_PBFT_N_MAX");
    return 0;
}

uint32_t void_pbft_primary_of(const struct void_pbft *r, void_view v)
{
    VOID_ASSERT(r != NULL && r->nv > 0);
    VOID_ASSERT(r->nv == void__popcount(r->voters));
    return void__pbft_primary_in(r->voters, v);
}

uint32_t void__pbft_era_voters(const struct void_pbft *r, void_seq seq)
{
    VOID_ASSERT(r != NULL && r->era_voters[0] != 0 && r->era_voters[1] != 0);
    /* Our own epoch is one of the two: prev up to the bound, latest above. */
    VOID_ASSERT(r->voters == r->era_voters[r->low >= r->era_bound ? 1 : 0]);
    return seq > r->era_bound ? r->era_voters[1] : r->era_voters[0];
}

void_seq void__pbft_vote_horizon(const struct void_pbft *r)
{
    VOID_ASSERT(r != NULL && r->cfg.checkpoint_interval > 0);
    void_seq k = r->cfg.checkpoint_interval;
    void_seq h = r->last_executed / k * k + k;
    /* A change we have not executed takes effect at a boundary at or above
     * h (it lies above last_executed); one we have executed, at epoch_act. */
    if (r->epoch_act != 0 && r->epoch_act < h) {
        h = r->epoch_act;
    }
    VOID_ASSERT(h > r->low || (r->epoch_act != 0 && h == r->epoch_act));
    return h;
}

int void__pbft_may_vote(const struct void_pbft *r, void_seq seq)
{
    return seq <= void__pbft_vote_horizon(r);
}

/* Makes the key of every member of cfg the one its frames verify by, and
 * derives the MAC key shared with it. A member that joined brings its key
 * in its JOIN; the configuration, replicated, wins over the config file. */
static void ring_follow(struct void_pbft *r, const struct void_membership_config *cfg)
{
    VOID_ASSERT(r->ring != NULL && cfg != NULL);
    for (uint32_t i = 0; i < cfg->count; i++) {
        const struct void_member *m = &cfg->members[i];
        if (m->id >= r->cfg.n) {
            continue; /* JOIN refuses ids without a slot (id_limit) */
        }
        const uint8_t *have = void_keyring_get(r->ring, m->id);
        if (have != NULL && memcmp(have, m->public_key, VOID_SIGN_PUBLIC_KEY_SIZE) == 0) {
            continue;
        }
        if (have != NULL) {
            for (uint32_t k = 0; k < r->ring->count; k++) {
                if (r->ring->ids[k] == m->id) {
                    memcpy(r->ring->keys[k], m->public_key, VOID_SIGN_PUBLIC_KEY_SIZE);
                }
            }
        } else if (void_keyring_add(r->ring, m->id, m->public_key) != 0) {
            continue; /* a full keyring: its frames do not verify here */
        }
        r->peer_mac_have &= ~VOID__BIT(m->id);
        if (m->id != r->cfg.self && r->cfg.verify_signatures &&
            void_mac_key_derive(r->cfg.keypair, m->public_key, r->peer_mac[m->id]) == 0) {
            r->peer_mac_have |= VOID__BIT(m->id);
        }
    }
}

static uint32_t config_ids(const struct void_membership_config *cfg)
{
    uint32_t ids = 0;
    for (uint32_t i = 0; i < cfg->count; i++) {
        if (cfg->members[i].id < VOID_PBFT_N_MAX) {
            ids |= VOID__BIT(cfg->members[i].id);
        }
    }
    return ids;
}

static uint32_t config_voters(const struct void_membership_config *cfg)
{
    uint32_t voters = 0;
    for (uint32_t i = 0; i < cfg->count; i++) {
        if (cfg->members[i].role == VOID_MEMBER_VOTER && cfg->members[i].id < VOID_PBFT_N_MAX) {
            voters |= VOID__BIT(cfg->members[i].id);
        }
    }
    return voters;
}

/* Enters the epoch of cfg: its voters' votes are the only ones counted from
 * now on, also those already stored for sequence numbers above low.
 *
 * A started replica also clears its log above low. What it holds there came
 * in under the old epoch: pre-prepares of the old epoch's primaries (the
 * primary of a view moves with the voters), re-proposals of an old-epoch
 * NEW-VIEW, votes counted by the old quorum. None of it carries a vote of
 * ours (we vote only up to the vote horizon, at or below the boundary, until
 * we have executed the change) and nothing above the boundary was decided
 * under the old epoch, so nothing decided is lost; the new epoch's primary
 * proposes from low + 1. Without this, seed 791 of `voidsim --member-changes`
 * (n = 7 to 6) committed at seq 17 and 18 a batch that the old primary of
 * view 1 had proposed before the change executed, certified by votes of both
 * epochs; the next view change, checking that certificate by the new
 * epoch's primary of view 1, dropped it (pbft_view.c, install_new_view). */
static void epoch_switch(struct void_pbft *r, const struct void_membership_config *cfg)
{
    uint32_t voters = 0;
    for (uint32_t i = 0; i < cfg->count; i++) {
        const struct void_member *m = &cfg->members[i];
        /* A JOIN takes an id below the slots (id_limit in sm.c). */
        VOID_ASSERT(m->id < r->cfg.n);
        if (m->role == VOID_MEMBER_VOTER) {
            voters |= VOID__BIT(m->id);
        }
    }
    VOID_ASSERT(voters != 0);
    r->member[0] = *cfg;
    r->voters = voters;
    r->nv = void__popcount(voters);
    r->f = void_membership_f(r->nv);
    for (uint32_t i = 0; i < r->cfg.window; i++) {
        struct void__pbft_entry *e = &r->log[i];
        e->prepare_mask &= voters;
        e->commit_mask &= voters;
        e->commit_unchecked &= voters;
    }
    for (uint32_t i = 0; i < VOID_PBFT_CKPT_SLOTS; i++) {
        r->ckpt[i].mask &= voters;
    }
    /* A removed replica's view change stays stored (a NEW-VIEW of the old
     * epoch may name it, and its primary re-sends what it names), but the
     * view-change counts skip non-voters (pbft_view.c). */
    r->peer_mac_mask = r->peer_mac_have & r->members_any; /* learners get tags too */
    r->stats.epoch_changes++;
}

/* A started replica that has just switched (see epoch_switch).
 *
 * One kind of entry above low stays: one our own records gave back with a
 * vote of ours. A running replica never holds one (the vote horizon), but a
 * restarted one whose store could not be vouched for recovers in the genesis
 * epoch at low 0 with its records' entries of the first window, and a state
 * transfer then brings it to a boundary it had passed before the crash: its
 * votes above that boundary were cast in the epoch it is entering (a vote
 * above a boundary waits for that boundary to be stable, and the window
 * ends at the next one), so they, the pre-prepare they vouch for and the
 * certificates recorded with them are this epoch's, and forgetting them
 * would let it vote again differently (seed 6219 of `voidsim
 * --member-changes`: the joined replica 6 crashed after voting at seq 17 of
 * epoch 2, which begins above 16, and aborted here on its way back). What
 * the others sent since the restart was counted by no quorum (check_prepared
 * and check_committed stop at the vote horizon) and epoch_switch has
 * dropped the votes of non-voters. */
static void epoch_enter(struct void_pbft *r, uint64_t now_ns, struct void_pbft_out *out)
{
    VOID_ASSERT(r->started);
    VOID_ASSERT(r->last_executed == r->low);
    for (uint32_t i = 0; i < r->cfg.window; i++) {
        struct void__pbft_entry *e = &r->log[i];
        if (e->used && e->seq > r->low) {
            VOID_ASSERT(!e->executed);
            if (e->sent_prepare || e->sent_commit) {
                VOID_ASSERT(e->seq <= r->recovered_vote_max);
                continue;
            }
            e->used = 0;
        }
    }
    r->next_seq = r->low + 1;
    r->vote_released = 0;
    for (uint32_t i = 0; i < r->pending_count; i++) {
        r->pending[i].batched = 0; /* the new epoch's primary orders them */
    }
    void__pbft_view_epoch_switch(r, now_ns, out);
}

/* A change executed here takes effect above act: what the old epoch may
 * have decided above it (only a faulty primary proposes there, to replicas
 * that had not executed the change yet) is undone, to be decided again
 * under the new epoch's quorums. Our own votes stay what they were. */
static void epoch_hold(struct void_pbft *r, void_seq act)
{
    VOID_ASSERT(act > r->low && act % r->cfg.checkpoint_interval == 0);
    for (uint32_t i = 0; i < r->cfg.window; i++) {
        struct void__pbft_entry *e = &r->log[i];
        if (e->used && e->seq > act) {
            /* The vote horizon kept us from voting or deciding above act
             * before we executed the change: act is at or above it. */
            VOID_ASSERT(!e->executed && !e->prepared && !e->committed);
            VOID_ASSERT(!e->sent_prepare && !e->sent_commit);
            e->used = 0;
        }
    }
    r->epoch_act = act;
}

void void__pbft_epoch_refresh(struct void_pbft *r, uint64_t now_ns, struct void_pbft_out *out)
{
    VOID_ASSERT(r != NULL && out != NULL && r->member != NULL);
    struct void_membership_config *latest = &r->member[2], *prev = &r->member[3];
    uint64_t act = 0, prev_act = 0;
    if (void_sm_member_get(&r->sm, latest, &act, prev, &prev_act) != 0) {
        return; /* a local failure of the store: sticky, the step reports it */
    }
    /* The record in the state we executed: prev is in effect up to act,
     * latest above it. A change is refused until its predecessor's act is
     * a window behind (member_apply), so prev's own boundary is at or below
     * low and these two cover every sequence number we may still see. */
    const struct void_membership_config *cur = act <= r->low ? latest : prev;
    r->era_voters[0] = config_voters(prev);
    r->era_voters[1] = config_voters(latest);
    r->era_bound = act;
    VOID_ASSERT(r->era_voters[0] != 0 && r->era_voters[1] != 0);
    ring_follow(r, prev);
    ring_follow(r, latest);
    r->members_any = config_ids(cur) | config_ids(latest);
    r->peer_mac_mask = r->peer_mac_have & r->members_any;
    int switched = cur->epoch != r->member[0].epoch;
    if (switched) {
        epoch_switch(r, cur);
        /* The event names the boundary, the same at every replica, also
         * for one that reached it by state transfer or a restart. */
        if (r->started) { /* recovery's events would precede its clock */
            void__pbft_note(
                r, out, VOID_PBFT_EVENT_EPOCH, r->view, cur == latest ? act : prev_act);
        }
    }
    void_seq pending = act > r->low ? act : 0;
    if (pending != 0 && r->epoch_act != pending) {
        epoch_hold(r, pending);
    }
    r->epoch_act = pending;
    VOID_ASSERT(r->nv == void_membership_voters(&r->member[0]));
    if (switched && r->started) {
        /* Recovery reads its records next, written in this epoch. */
        epoch_enter(r, now_ns, out);
    }
}

const struct void_membership_config *void_pbft_member_config(const struct void_pbft *r)
{
    VOID_ASSERT(r != NULL && r->member != NULL);
    return &r->member[0];
}

uint32_t void_pbft_voters(const struct void_pbft *r)
{
    VOID_ASSERT(r != NULL);
    return r->voters;
}

void_seq void_pbft_epoch_pending(const struct void_pbft *r)
{
    VOID_ASSERT(r != NULL);
    return r->epoch_act;
}
