/*
 * PBFT state transfer, persistence records and crash recovery.
 *
 * State transfer (TOCS'02 section 5.3, simplified): a replica that is behind
 * (it sees a checkpoint it cannot match, committed entries it cannot execute,
 * or a NEW-VIEW whose checkpoint is ahead of it) broadcasts FETCH_STATE with
 * its last executed sequence number. A replica ahead of it answers STATE:
 * its stable checkpoint (sequence number, digest, the 2f+1 signed checkpoint
 * frames that prove it, and the manifest of the state frozen at it: its
 * bucket digests) when the requester is behind that checkpoint, plus the
 * batches it executed after it (each as the pre-prepare frame that carried
 * it), with the commits that committed each. The requester then fetches
 * the partitions that differ from its own (incremental state transfer,
 * below) and installs the state only if 2f+1 valid checkpoint signatures
 * vouch for its digest, the manifest rebuilds that digest and each
 * partition matches its certified bucket digest; it executes a batch only
 * when 2f+1 commits for its digest arrived: one Byzantine responder can
 * make it do work, never install a wrong state.
 *
 * Records (see docs/pbft.md for the byte layout): VIEW, ENTRY (an accepted
 * batch with the promises made for it: prepare sent, prepared certificate),
 * CHECKPOINT (stable checkpoint with its proof; the state is in the store)
 * and TRUNCATE.
 */
#include "core/pbft_int.h"
#include "void/assert.h"
#include "void/codec.h"
#include "void/error.h"
#include "void/hash.h"

#include <stdlib.h>
#include <string.h>

#define ENTRY_FLAG_SENT_PREPARE 1u
#define ENTRY_FLAG_PREPARED     2u
#define ENTRY_FLAG_COMMITTED    4u /* the commit certificate follows the record */

/* The commit frames of e that a certificate carries: matching its digest,
 * signature checked (commits_certified checked a quorum of them), at most a
 * quorum. Returns their mask. */
static uint32_t cert_frames(const struct void_pbft *r, const struct void__pbft_entry *e)
{
    uint32_t mask = 0;
    uint32_t n = 0;
    for (uint32_t i = 0; i < VOID_PBFT_N_MAX && n < void__pbft_commit_quorum(r); i++) {
        if ((e->commit_mask & VOID__BIT(i)) && !(e->commit_unchecked & VOID__BIT(i)) &&
            e->commit_len[i] > 0 &&
            memcmp(e->commit_digest[i], e->digest, VOID_PBFT_DIGEST_SIZE) == 0) {
            mask |= VOID__BIT(i);
            n++;
        }
    }
    return mask;
}

/* ---- records -------------------------------------------------------------- */

/* VIEW record: view u64, changing u8, prepare horizon u64, the lowest view
 * we may vote in u64 (vote_view_min). Records of 9 bytes (view and changing
 * only) come from older versions; recovery reads both. */
#define VIEW_RECORD_LEN     25
#define VIEW_RECORD_LEN_OLD 9

void void__pbft_persist_view(struct void_pbft *r, struct void_pbft_out *out)
{
    VOID_ASSERT(out != NULL);
    VOID_ASSERT(!r->view_changing || r->prepare_horizon == 0); /* no prepare while changing */
    uint8_t *p = void__pbft_persist(r, out, VOID_PBFT_RECORD_VIEW, 0, VIEW_RECORD_LEN);
    if (p != NULL) {
        void__put64(p, r->view);
        p[8] = (uint8_t)(r->view_changing != 0);
        void__put64(p + 9, r->prepare_horizon);
        void__put64(p + 17, r->vote_view_min);
    }
}

void void__pbft_raise_horizon(struct void_pbft *r,
                              void_seq seq,
                              int ahead,
                              struct void_pbft_out *out)
{
    VOID_ASSERT(!r->view_changing);
    VOID_ASSERT(seq > r->low);
    void_seq margin = ahead ? VOID_PBFT_PREPARE_SLACK / 2 : 0;
    if (seq + margin <= r->prepare_horizon) {
        return;
    }
    /* The record precedes every PREPARE it covers (the persistence rule), so
     * after a crash the recovered horizon bounds every prepare we sent in
     * this view: above it, a prepare contradicts nothing we said. */
    r->prepare_horizon = seq + VOID_PBFT_PREPARE_SLACK;
    void__pbft_persist_view(r, out);
    VOID_ASSERT(r->prepare_horizon > seq);
}

void void__pbft_persist_entry(struct void_pbft *r,
                              const struct void__pbft_entry *e,
                              struct void_pbft_out *out)
{
    VOID_ASSERT(e->used && e->have_batch);
    size_t len = 8 + 8 + VOID_PBFT_DIGEST_SIZE + 1 + 4 + e->pp_len + 2;
    for (uint32_t i = 0; i < VOID_PBFT_N_MAX; i++) {
        if (e->prepare_mask & VOID__BIT(i)) {
            len += 2u + e->prepare_len[i];
        }
    }
    len += 1; /* the certificate kept from an earlier view, if any */
    if (e->pc_valid) {
        len += 8 + VOID_PBFT_DIGEST_SIZE + 4 + e->pc_pp_len + 2;
        for (uint16_t i = 0; i < e->pc_count; i++) {
            len += 2u + e->pc_prepare_len[i];
        }
    }
    /* A committed batch's record also keeps its commit certificate. */
    uint32_t cert = e->committed ? cert_frames(r, e) : 0;
    if (e->committed) {
        len += 2;
        for (uint32_t i = 0; i < VOID_PBFT_N_MAX; i++) {
            len += (cert & VOID__BIT(i)) ? 2u + e->commit_len[i] : 0u;
        }
    }
    uint8_t *p = void__pbft_persist(r, out, VOID_PBFT_RECORD_ENTRY, e->seq, len);
    if (p == NULL) {
        return;
    }
    void__put64(p, e->view);
    void__put64(p + 8, e->seq);
    memcpy(p + 16, e->digest, VOID_PBFT_DIGEST_SIZE);
    p[48] = (uint8_t)((e->sent_prepare ? ENTRY_FLAG_SENT_PREPARE : 0) |
                      (e->prepared ? ENTRY_FLAG_PREPARED : 0) |
                      (e->committed ? ENTRY_FLAG_COMMITTED : 0));
    void__put32(p + 49, e->pp_len);
    memcpy(p + 53, e->pp_frame, e->pp_len);
    size_t off = 53 + (size_t)e->pp_len;
    size_t count_at = off;
    uint16_t n = 0;
    off += 2;
    for (uint32_t i = 0; i < VOID_PBFT_N_MAX; i++) {
        if (e->prepare_mask & VOID__BIT(i)) {
            void__put16(p + off, e->prepare_len[i]);
            memcpy(p + off + 2, e->prepare_frame[i], e->prepare_len[i]);
            off += 2u + e->prepare_len[i];
            n++;
        }
    }
    void__put16(p + count_at, n);
    p[off++] = e->pc_valid;
    if (e->pc_valid) {
        void__put64(p + off, e->pc_view);
        memcpy(p + off + 8, e->pc_digest, VOID_PBFT_DIGEST_SIZE);
        void__put32(p + off + 8 + VOID_PBFT_DIGEST_SIZE, e->pc_pp_len);
        off += 12 + VOID_PBFT_DIGEST_SIZE;
        memcpy(p + off, e->pc_pp_frame, e->pc_pp_len);
        off += e->pc_pp_len;
        void__put16(p + off, e->pc_count);
        off += 2;
        for (uint16_t i = 0; i < e->pc_count; i++) {
            void__put16(p + off, e->pc_prepare_len[i]);
            memcpy(p + off + 2, e->pc_prepare_frame[i], e->pc_prepare_len[i]);
            off += 2u + e->pc_prepare_len[i];
        }
    }
    if (e->committed) {
        void__put16(p + off, (uint16_t)void__popcount(cert));
        off += 2;
        for (uint32_t i = 0; i < VOID_PBFT_N_MAX; i++) {
            if (cert & VOID__BIT(i)) {
                void__put16(p + off, e->commit_len[i]);
                memcpy(p + off + 2, e->commit_frame[i], e->commit_len[i]);
                off += 2u + e->commit_len[i];
            }
        }
    }
    VOID_ASSERT(off == len);
}

/* Writes a checkpoint part (seq, digest, the proof frames in mask, the
 * manifest of snap, or none when snap is NULL) at p, or just measures it
 * when p is NULL (only without snap). Returns its length, or 0 when the
 * manifest does not fit in cap. */
static size_t put_ckpt_part(struct void_pbft *r,
                            uint8_t *p,
                            size_t cap,
                            void_seq seq,
                            const uint8_t digest[VOID_PBFT_DIGEST_SIZE],
                            const uint8_t (*frames)[VOID_PBFT_SMALL_FRAME_MAX],
                            const uint16_t *lens,
                            uint32_t mask,
                            struct void_kvs_snap *snap)
{
    VOID_ASSERT(p != NULL || snap == NULL);
    size_t off = 8 + VOID_PBFT_DIGEST_SIZE + 2;
    if (p != NULL) {
        void__put64(p, seq);
        memcpy(p + 8, digest, VOID_PBFT_DIGEST_SIZE);
        void__put16(p + 8 + VOID_PBFT_DIGEST_SIZE, (uint16_t)void__popcount(mask));
    }
    for (uint32_t i = 0; i < VOID_PBFT_N_MAX; i++) {
        if (mask & VOID__BIT(i)) {
            if (p != NULL) {
                void__put16(p + off, lens[i]);
                memcpy(p + off + 2, frames[i], lens[i]);
            }
            off += 2u + lens[i];
        }
    }
    /* A STATE carries the manifest of the state (its bucket digests), not
     * the state: the requester then asks for the partitions it lacks
     * (incremental state transfer, below). */
    size_t snap_len = 0;
    if (snap != NULL &&
        (off + 4 > cap ||
         void_sm_snapshot_manifest(&r->sm, snap, p + off + 4, cap - off - 4, &snap_len) != 0)) {
        return 0; /* no room, or the store failed */
    }
    if (p != NULL) {
        void__put32(p + off, (uint32_t)snap_len);
    }
    return off + 4 + snap_len;
}

/* Writes the stable checkpoint with its proof at p (with the manifest of
 * snap unless it is NULL), or measures it. Returns 0 when it does not fit. */
static size_t
put_checkpoint(struct void_pbft *r, uint8_t *p, size_t cap, struct void_kvs_snap *snap)
{
    VOID_ASSERT(r->stable_proof_count <= VOID_PBFT_N_MAX);
    uint32_t mask = (uint32_t)((UINT64_C(1) << r->stable_proof_count) - 1u);
    return put_ckpt_part(r,
                         p,
                         cap,
                         r->low,
                         r->low_digest,
                         (const uint8_t(*)[VOID_PBFT_SMALL_FRAME_MAX])r->stable_proof,
                         r->stable_proof_len,
                         mask,
                         snap);
}

/* Our latest checkpoint, not stable yet, with the CHECKPOINTs we hold that
 * match it (ours among them): a weak certificate when there are f+1 of them,
 * for a replica that lags behind it (void__pbft_on_state). Returns the
 * slot, or NULL when there is none to offer. */
static const struct void__pbft_ckpt *weak_checkpoint(const struct void_pbft *r, uint32_t *mask)
{
    void_seq seq = r->ckpt_snap_seq;
    if (seq <= r->low || seq > r->last_executed) {
        return NULL;
    }
    const struct void__pbft_ckpt *c =
        &r->ckpt[(seq / r->cfg.checkpoint_interval) % VOID_PBFT_CKPT_SLOTS];
    uint32_t self = r->cfg.self;
    if (c->seq != seq || !(c->mask & VOID__BIT(self))) {
        return NULL;
    }
    *mask = 0;
    for (uint32_t i = 0; i < VOID_PBFT_N_MAX; i++) {
        if ((c->mask & VOID__BIT(i)) && c->frame_len[i] > 0 &&
            memcmp(c->digest[i], c->digest[self], VOID_PBFT_DIGEST_SIZE) == 0) {
            *mask |= VOID__BIT(i);
        }
    }
    return void__popcount(*mask) >= r->f + 1 ? c : NULL;
}

void void__pbft_persist_checkpoint(struct void_pbft *r, struct void_pbft_out *out)
{
    VOID_ASSERT(r->low > 0 && r->low <= r->last_executed);
    VOID_ASSERT(r->stable_proof_count <= VOID_PBFT_N_MAX);
    /* (seq, digest, proof) only, O(1) in the state: the state is the
     * store's, at or past low, and every batch the store executed past low
     * has its commit certificate in an ENTRY record (check_committed), which
     * this truncation keeps. A driver whose store does not sync each commit
     * syncs it before this record is durable (docs/pbft.md, Recovery). */
    size_t len = put_checkpoint(r, NULL, SIZE_MAX, NULL);
    uint8_t *p = void__pbft_persist(r, out, VOID_PBFT_RECORD_CHECKPOINT, 0, len);
    if (p != NULL) {
        VOID_ASSERT(put_checkpoint(r, p, len, NULL) == len);
    }
    void__pbft_persist(r, out, VOID_PBFT_RECORD_TRUNCATE, r->low, 0);
}

/* ---- installing a checkpoint ------------------------------------------------ */

/* Parsed checkpoint part (of a STATE message or a CHECKPOINT record). */
struct ckpt_part {
    void_seq seq;
    const uint8_t *digest;
    uint16_t nproof;
    const uint8_t *proofs;
    size_t proofs_len;
    const uint8_t *snap;
    uint32_t snap_len;
};

static int ckpt_parse(struct void__reader *rd, struct ckpt_part *c)
{
    c->seq = void__take64(rd);
    c->digest = void__take(rd, VOID_PBFT_DIGEST_SIZE);
    c->nproof = void__take16(rd);
    c->proofs = rd->p;
    for (uint16_t i = 0; i < c->nproof && rd->err == 0; i++) {
        void__take(rd, void__take16(rd));
    }
    c->proofs_len = (size_t)(rd->p - c->proofs);
    c->snap_len = void__take32(rd);
    c->snap = void__take(rd, c->snap_len);
    return rd->err;
}

/* Releases both frozen states (the state they froze is being replaced). */
static void drop_snapshots(struct void_pbft *r)
{
    void_sm_snapshot_release(&r->sm, r->snapshot);
    void_sm_snapshot_release(&r->sm, r->ckpt_snap);
    r->snapshot = r->ckpt_snap = NULL;
    r->snapshot_seq = r->ckpt_snap_seq = 0;
}

/* Puts the store to c's state: from its export (a CHECKPOINT record), or,
 * without one, from the finished incremental transfer to it. Returns 0,
 * VOID_EBAD_FIELD (not the certified state: nothing changed) or a local
 * failure. */
static int take_state(struct void_pbft *r, const struct ckpt_part *c)
{
    if (c->snap != NULL && c->snap_len > 0) {
        return void_sm_import(&r->sm, c->snap, c->snap_len, c->seq, c->digest);
    }
    uint64_t seq = 0;
    uint8_t d[VOID_PBFT_DIGEST_SIZE];
    int active = void_sm_xfer_target(&r->sm, &seq, d);
    VOID_ASSERT(active && seq == c->seq && memcmp(d, c->digest, VOID_PBFT_DIGEST_SIZE) == 0);
    int rc = void_sm_xfer_install(&r->sm);
    return rc == VOID_EAGAIN ? VOID_EBAD_FIELD : rc;
}

/* Takes up checkpoint c (authenticated) as our stable checkpoint: the store
 * gets its state (take_state). Returns 0, VOID_EBAD_FIELD (not the
 * certified state: nothing changed) or a local failure of the store. */
static int install_checkpoint(struct void_pbft *r,
                              uint64_t now_ns,
                              const struct ckpt_part *c,
                              struct void_pbft_out *out,
                              int persist)
{
    VOID_ASSERT(c->nproof <= VOID_PBFT_N_MAX);
    int rc = take_state(r, c);
    if (rc != 0) {
        return rc; /* refused: our state and snapshots are untouched */
    }
    drop_snapshots(r);
    rc = void_sm_snapshot_take(&r->sm, &r->snapshot);
    if (rc != 0) {
        return rc;
    }
    r->snapshot_seq = c->seq;
    r->low = c->seq;
    r->last_executed = c->seq;
    memcpy(r->low_digest, c->digest, VOID_PBFT_DIGEST_SIZE);
    struct void__reader rd = {c->proofs, c->proofs_len, 0};
    r->stable_proof_count = 0;
    for (uint16_t i = 0; i < c->nproof; i++) {
        uint16_t len = void__take16(&rd);
        const uint8_t *f = void__take(&rd, len);
        if (f != NULL && len <= VOID_PBFT_SMALL_FRAME_MAX) {
            memcpy(r->stable_proof[r->stable_proof_count], f, len);
            r->stable_proof_len[r->stable_proof_count++] = len;
        }
    }
    void__pbft_gc(r);
    void__pbft_pending_prune(r);
    void__pbft_epoch_refresh(r, now_ns, out); /* the state carries its configuration */
    if (persist) {
        void__pbft_persist_checkpoint(r, out);
    }
    VOID_ASSERT(r->low == r->last_executed);
    return 0;
}

/* ---- FETCH_STATE / STATE ------------------------------------------------------ */

void void__pbft_fetch_state(struct void_pbft *r,
                            uint64_t now_ns,
                            struct void_pbft_out *out,
                            int force)
{
    if (!force && r->last_fetch_ns != 0 && now_ns - r->last_fetch_ns < r->cfg.retransmit_ns) {
        return;
    }
    r->last_fetch_ns = now_ns == 0 ? 1 : now_ns;
    /* One peer, in turn, answers with the batches we missed (catch-up by
     * batches); the others would send the same bytes again. A silent or
     * faulty one costs a fetch period: the next fetch names the next. */
    for (uint32_t k = 0; k < r->cfg.n; k++) {
        r->fetch_peer = (r->fetch_peer + 1) % r->cfg.n;
        if (r->fetch_peer != r->cfg.self && void__pbft_is_voter(r, r->fetch_peer)) {
            break;
        }
    }
    void__put64(r->scratch + 8, r->last_executed);
    void__put64(r->scratch + 16, r->low);
    void__put64(r->scratch + 24, r->view); /* a peer in a later view tells us (Rejoining) */
    /* A replica whose records hold votes above what its store executed
     * (its store was emptied at recovery) asks for the state, as before
     * catch-up by batches: executing a membership change itself would find
     * entries above the change's boundary already decided from its records
     * (voidsim --member-changes seed 6219; pbft_epoch.c, epoch_hold). n
     * names no peer. */
    int state_only = r->recovered_vote_max > r->last_executed;
    void__put64(r->scratch + 32, state_only ? r->cfg.n : r->fetch_peer);
    void__pbft_send_body(r, now_ns, out, VOID_PBFT_TO_ALL, VOID_MSG_FETCH_STATE, 40);
}

/* Writes a batch we executed with its commit certificate: (view, seq,
 * digest), the carrier pre-prepare frame and 2f+1 matching commit frames
 * we hold, or fewer if that is all we have. A commit its tag authenticated
 * to us has its signature checked here first, since the receiver checks
 * every signature: one that fails is dropped (its sender is faulty) and a
 * spare takes its place. */
static size_t put_committed(struct void_pbft *r, struct void__pbft_entry *e, uint8_t *p)
{
    void__put64(p, e->view);
    void__put64(p + 8, e->seq);
    memcpy(p + 16, e->digest, VOID_PBFT_DIGEST_SIZE);
    void__put32(p + 48, e->pp_len);
    memcpy(p + 52, e->pp_frame, e->pp_len);
    size_t off = 52 + (size_t)e->pp_len;
    size_t count_at = off;
    uint16_t n = 0;
    off += 2;
    for (uint32_t i = 0; i < VOID_PBFT_N_MAX && n < void__pbft_quorum(r); i++) {
        if (!(e->commit_mask & VOID__BIT(i)) || e->commit_len[i] == 0 ||
            memcmp(e->commit_digest[i], e->digest, VOID_PBFT_DIGEST_SIZE) != 0) {
            continue;
        }
        if (e->commit_unchecked & VOID__BIT(i)) {
            e->commit_unchecked &= ~VOID__BIT(i);
            r->stats.verifies++;
            if (void_keyring_verify(r->ring,
                                    i,
                                    VOID_SIGN_DOMAIN_FRAME,
                                    e->commit_frame[i],
                                    e->commit_len[i] - VOID_SIGN_SIZE,
                                    e->commit_frame[i] + e->commit_len[i] - VOID_SIGN_SIZE) != 0) {
                r->stats.rx_bad_sig++;
                e->commit_mask &= ~VOID__BIT(i);
                e->commit_len[i] = 0;
                continue;
            }
        }
        void__put16(p + off, e->commit_len[i]);
        memcpy(p + off + 2, e->commit_frame[i], e->commit_len[i]);
        off += 2u + e->commit_len[i];
        n++;
    }
    void__put16(p + count_at, n);
    return off;
}

/* Sends a STATE body built in scratch, counting its bytes (what catch-up
 * and state transfer cost the sender: void_state_sent_bytes_total). */
static void state_send(
    struct void_pbft *r, uint64_t now_ns, uint32_t to, size_t body_len, struct void_pbft_out *out)
{
    VOID_ASSERT(to < r->cfg.n && body_len >= 8);
    r->stats.state_sent++;
    r->stats.state_sent_bytes += body_len;
    void__pbft_send_body(r, now_ns, out, to, VOID_MSG_STATE, body_len);
}

/* ---- catch-up by batches ------------------------------------------------------
 *
 * A replica behind our low watermark by less than what we keep catches up
 * on the batches it missed, each with the 2f+1 signed COMMITs that
 * committed it, and on the proofs of the stable checkpoints among them:
 * what it fetches is proportional to what it missed, not to the state
 * (docs/pbft.md, Catch-up by batches). We keep the batches the log drops
 * at each stable checkpoint in kept_buf, oldest first, bounded by
 * cfg.retain_bytes; the oldest go when it is full. */

static void kept_clear(struct void_pbft *r)
{
    r->kept_count = 0;
    r->kept_used = 0;
    r->kept_lo = r->kept_hi = 0;
}

/* Makes room for one more record of up to len bytes by dropping the
 * oldest quarter of what is kept (or more, as len needs) in one move.
 * Returns 0, or -1 when a record of len bytes can never be kept. */
static int kept_room(struct void_pbft *r, size_t len)
{
    VOID_ASSERT(r->kept_buf != NULL && r->kept_used <= r->kept_cap);
    if (len > r->kept_cap / 2) {
        return -1;
    }
    if (r->kept_used + len <= r->kept_cap && r->kept_count < VOID_PBFT_RETAIN_RECS_MAX) {
        return 0;
    }
    size_t room = r->kept_cap - r->kept_cap / 4;
    uint32_t drop = 0;
    while (drop < r->kept_count &&
           ((r->kept_used - r->kept[drop].off) + len > room ||
            r->kept_count - drop > VOID_PBFT_RETAIN_RECS_MAX - VOID_PBFT_RETAIN_RECS_MAX / 4)) {
        drop++;
    }
    uint32_t base = drop < r->kept_count ? r->kept[drop].off : r->kept_used;
    memmove(r->kept_buf, r->kept_buf + base, r->kept_used - base);
    memmove(r->kept, r->kept + drop, (r->kept_count - drop) * sizeof(*r->kept));
    r->kept_used -= base;
    r->kept_count -= drop;
    r->kept_lo = 0;
    for (uint32_t i = 0; i < r->kept_count; i++) {
        r->kept[i].off -= base;
        if (r->kept_lo == 0 && r->kept[i].kind == 0) {
            r->kept_lo = r->kept[i].seq;
        }
    }
    if (r->kept_lo == 0) {
        kept_clear(r); /* proofs without batches serve nothing */
    }
    VOID_ASSERT(r->kept_used + len <= r->kept_cap);
    return 0;
}

/* Keeps one executed entry with its commit certificate; 0, or -1 when it
 * cannot be kept (no full certificate here, or too large). */
static int keep_entry(struct void_pbft *r, struct void__pbft_entry *e)
{
    uint16_t nbody = 0;
    long bodies = void__pbft_entry_bodies(r, e, NULL, 0, &nbody, 0, NULL);
    if (bodies < 0) {
        return -1; /* a body it names is not here: a requester could not execute it */
    }
    size_t max = 54 + (size_t)e->pp_len + VOID_PBFT_N_MAX * (2 + VOID_PBFT_COMMIT_FRAME_MAX);
    if (kept_room(r, max + (size_t)bodies) != 0) {
        return -1;
    }
    uint8_t *p = r->kept_buf + r->kept_used;
    size_t len = put_committed(r, e, p);
    VOID_ASSERT(len <= max);
    if (void__get16(p + 52 + e->pp_len) < void__pbft_commit_quorum(r)) {
        return -1; /* fewer signed commits than a requester needs */
    }
    uint16_t again = 0;
    long put = void__pbft_entry_bodies(r, e, p + len, (size_t)bodies, &again, 0, NULL);
    VOID_ASSERT(put == bodies && again == nbody);
    struct void__pbft_kept *k = &r->kept[r->kept_count++];
    k->seq = e->seq;
    k->kind = 0;
    k->nbody = nbody;
    k->off = r->kept_used;
    k->clen = (uint32_t)len;
    k->len = (uint32_t)(len + (size_t)bodies);
    r->kept_used += k->len;
    r->kept_lo = r->kept_lo == 0 ? e->seq : r->kept_lo;
    r->kept_hi = e->seq;
    return 0;
}

void void__pbft_keep_batches(struct void_pbft *r)
{
    if (r->kept_buf == NULL) {
        return;
    }
    void_seq from = r->low > r->cfg.window ? r->low - r->cfg.window + 1 : 1;
    from = r->kept_hi >= from ? r->kept_hi + 1 : from;
    for (void_seq seq = from; seq <= r->low; seq++) {
        struct void__pbft_entry *e = void__pbft_slot(r, seq);
        if (r->kept_hi != 0 && seq != r->kept_hi + 1) {
            kept_clear(r); /* a gap (we took a state up): start again */
        }
        if (!e->used || e->seq != seq || !e->executed || !e->have_batch || keep_entry(r, e) != 0) {
            kept_clear(r);
        }
    }
    VOID_ASSERT(r->kept_hi == 0 || r->kept_hi <= r->low);
    VOID_ASSERT(r->kept_lo <= r->kept_hi);
}

void void__pbft_keep_proof(struct void_pbft *r)
{
    if (r->kept_buf == NULL || r->kept_hi != r->low || r->low == 0) {
        return; /* a proof serves only with the batches up to it */
    }
    size_t len = put_checkpoint(r, NULL, SIZE_MAX, NULL);
    if (kept_room(r, len) != 0 || r->kept_hi != r->low) {
        kept_clear(r);
        return;
    }
    VOID_ASSERT(put_checkpoint(r, r->kept_buf + r->kept_used, len, NULL) == len);
    struct void__pbft_kept *k = &r->kept[r->kept_count++];
    k->seq = r->low;
    k->kind = 1;
    k->nbody = 0;
    k->clen = (uint32_t)len;
    k->off = r->kept_used;
    k->len = (uint32_t)len;
    r->kept_used += (uint32_t)len;
}

/* The index of the first kept record at or above seq of kind (or
 * kept_count): records are in seq order, batches before the proof at
 * the same seq. */
static uint32_t kept_find(const struct void_pbft *r, void_seq seq, uint8_t kind)
{
    uint32_t lo = 0;
    uint32_t hi = r->kept_count;
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        if (r->kept[mid].seq < seq || (r->kept[mid].seq == seq && r->kept[mid].kind < kind)) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    return lo;
}

/* Sends the bodies of the kept batches in records [first, last) and of
 * the log's batches [log_from, log_to) to replica `to`, as the clients'
 * REQUEST frames (on_request keeps them for the batches that name them). */
static void catchup_bodies(struct void_pbft *r,
                           uint32_t first,
                           uint32_t last,
                           void_seq log_from,
                           void_seq log_to,
                           uint32_t to,
                           struct void_pbft_out *out)
{
    VOID_ASSERT(first <= last && last <= r->kept_count);
    VOID_ASSERT(log_from <= log_to);
    for (uint32_t i = first; i < last; i++) {
        const struct void__pbft_kept *k = &r->kept[i];
        const uint8_t *p = r->kept_buf + k->off + k->clen;
        for (uint16_t j = 0; k->kind == 0 && j < k->nbody; j++) {
            uint32_t len = void__get32(p);
            void__pbft_send_copy(r, out, to, VOID_MSG_REQUEST, p + 4, len);
            p += 4 + len;
        }
    }
    for (void_seq seq = log_from; seq < log_to; seq++) {
        uint16_t nb = 0;
        (void)void__pbft_entry_bodies(r, void__pbft_slot(r, seq), NULL, 0, &nb, to, out);
    }
}

/* Answers a FETCH_STATE from a replica that executed `theirs` (< our low)
 * and whose stable checkpoint is their_low, with the batches it lacks up
 * to the top of its window and the proof of the highest stable checkpoint
 * among them: it executes them, takes its checkpoint there, which the
 * proof makes stable, and its window moves on for the next answer.
 * Returns 1 when it answered, or would have if the requester had named us
 * (named 0), and 0 when we do not keep enough (a state transfer then). */
static int catchup_answer(struct void_pbft *r,
                          uint64_t now_ns,
                          uint32_t to,
                          void_seq theirs,
                          void_seq their_low,
                          int named,
                          struct void_pbft_out *out)
{
    if (r->kept_lo == 0 || r->kept_hi != r->low || theirs >= r->low || theirs + 1 < r->kept_lo ||
        their_low > theirs) {
        return 0;
    }
    if (!named) {
        return 1; /* the peer it named sends them */
    }
    void_seq top = their_low + r->cfg.window;
    uint32_t p = kept_find(r, top + 1, 0);
    while (p > 0 && r->kept[p - 1].kind != 1) {
        p--;
    }
    if (p == 0 || r->kept[p - 1].seq <= their_low) {
        return 0; /* no proof of ours fits its window */
    }
    const struct void__pbft_kept *proof = &r->kept[p - 1];
    uint8_t *b = r->scratch;
    size_t off = 8;
    memcpy(b + off, r->kept_buf + proof->off, proof->len);
    off += proof->len;
    size_t count_at = off;
    uint16_t n = 0;
    off += 2;
    /* The large requests the batches name go after the STATE, as the
     * clients' REQUESTs (which peers drop once executed): at most half the
     * requester's body slots per answer, which the batches in its log
     * then hold until it executes them. */
    uint32_t bodies = 0;
    void_seq seq = theirs + 1;
    uint32_t first = kept_find(r, seq, 0);
    uint32_t last = first;
    for (; last < r->kept_count && seq <= top; last++) {
        const struct void__pbft_kept *k = &r->kept[last];
        if (k->kind != 0) {
            continue;
        }
        VOID_ASSERT(k->seq == seq);
        if (off + k->clen > r->scratch_cap ||
            (n > 0 && bodies + k->nbody > VOID_PBFT_BODIES_MAX / 2)) {
            top = 0; /* full: nothing from the log either */
            break;
        }
        memcpy(b + off, r->kept_buf + k->off, k->clen);
        off += k->clen;
        bodies += k->nbody;
        n++;
        seq++;
    }
    void_seq log_from = seq;
    for (; seq <= top && seq <= r->last_executed && seq > r->low; seq++) {
        struct void__pbft_entry *e = void__pbft_slot(r, seq);
        uint16_t nb = 0;
        if (!e->used || e->seq != seq || !e->executed ||
            off + 54 + e->pp_len + VOID_PBFT_N_MAX * (2 + VOID_PBFT_COMMIT_FRAME_MAX) >
                r->scratch_cap ||
            void__pbft_entry_bodies(r, e, NULL, 0, &nb, 0, NULL) < 0 ||
            (n > 0 && bodies + nb > VOID_PBFT_BODIES_MAX / 2)) {
            break;
        }
        off += put_committed(r, e, b + off);
        bodies += nb;
        n++;
    }
    void__put16(b + count_at, n);
    r->stats.catchup_answers++;
    state_send(r, now_ns, to, off, out);
    catchup_bodies(r, first, last, log_from, seq, to, out);
    return 1;
}

/* ---- incremental state transfer ------------------------------------------------
 *
 * A STATE names a checkpoint and carries its manifest (the bucket digests,
 * void_kvs_manifest), which the requester checks against the certified
 * digest. It then asks one peer at a time for the partitions whose digest
 * differs from its own: a FETCH_STATE that also names the checkpoint
 * (seq, digest) and up to XFER_ASK_MAX buckets, answered by a STATE with
 * that checkpoint, no proof and the partitions ("VKP1", as many as fit in
 * one message), each checked against its certified bucket digest on
 * arrival (void_sm_xfer_parts), held in bounded memory or the store's
 * stage. When none is missing, the state is installed by one call (in
 * store commits of bounded size) and the checkpoint taken up as before. */

#define XFER_ASK_HEAD (8 + 24 + 8 + VOID_PBFT_DIGEST_SIZE + 2) /* then be16 buckets */
#define XFER_ASK_MAX  1024

/* Our frozen state at checkpoint (seq, digest), or NULL. */
static struct void_kvs_snap *snap_at(struct void_pbft *r, void_seq seq, const uint8_t *digest)
{
    struct void_kvs_snap *snap = NULL;
    if (r->snapshot != NULL && r->snapshot_seq == seq) {
        snap = r->snapshot;
    } else if (r->ckpt_snap != NULL && r->ckpt_snap_seq == seq) {
        snap = r->ckpt_snap;
    }
    uint8_t d[VOID_PBFT_DIGEST_SIZE];
    if (snap != NULL) {
        void_sm_snapshot_digest(&r->sm, snap, d);
        if (memcmp(d, digest, VOID_PBFT_DIGEST_SIZE) != 0) {
            snap = NULL;
        }
    }
    return snap;
}

/* Answers a peer's ask for partitions of a checkpoint we hold frozen. */
static void on_fetch_parts(struct void_pbft *r,
                           uint64_t now_ns,
                           const struct void_frame *fr,
                           struct void_pbft_out *out)
{
    VOID_ASSERT(fr->body_len >= XFER_ASK_HEAD);
    void_seq seq = void__get64(fr->body + 32);
    const uint8_t *digest = fr->body + 40;
    uint16_t n = void__get16(fr->body + 40 + VOID_PBFT_DIGEST_SIZE);
    if (n == 0 || n > XFER_ASK_MAX || fr->body_len != XFER_ASK_HEAD + 2u * n) {
        r->stats.rx_malformed++;
        return;
    }
    struct void_kvs_snap *snap = snap_at(r, seq, digest);
    if (snap == NULL) {
        return; /* gone since (the requester fetches the newer one) */
    }
    uint16_t buckets[XFER_ASK_MAX];
    for (uint16_t i = 0; i < n; i++) {
        buckets[i] = void__get16(fr->body + XFER_ASK_HEAD + 2u * i);
    }
    /* One message per ask: a peer that asks in a loop costs us what any
     * stream of messages costs, never more than one message each. */
    uint8_t *b = r->scratch;
    size_t off = 8;
    void__put64(b + off, seq);
    memcpy(b + off + 8, digest, VOID_PBFT_DIGEST_SIZE);
    void__put16(b + off + 8 + VOID_PBFT_DIGEST_SIZE, 0);
    off += 8 + VOID_PBFT_DIGEST_SIZE + 2;
    size_t len = 0;
    int rc = void_sm_snapshot_parts(
        &r->sm, snap, buckets, n, b + off + 4, r->scratch_cap - off - 4 - 2, &len);
    if (rc != 0) {
        return; /* a partition larger than a message (docs/pbft.md), or a local failure */
    }
    void__put32(b + off, (uint32_t)len);
    off += 4 + len;
    void__put16(b + off, 0); /* no batches */
    off += 2;
    state_send(r, now_ns, fr->sender, off, out);
}

/* Asks peer `to` for the partitions the transfer under way still lacks. */
static void xfer_ask(struct void_pbft *r, uint64_t now_ns, uint32_t to, struct void_pbft_out *out)
{
    uint64_t seq = 0;
    uint8_t digest[VOID_PBFT_DIGEST_SIZE];
    int active = void_sm_xfer_target(&r->sm, &seq, digest);
    VOID_ASSERT(active && to < r->cfg.n && to != r->cfg.self);
    uint16_t want[XFER_ASK_MAX];
    size_t n = void_sm_xfer_want(&r->sm, want, XFER_ASK_MAX);
    n = n < XFER_ASK_MAX ? n : XFER_ASK_MAX;
    if (n == 0) {
        return;
    }
    uint8_t *b = r->scratch;
    void__put64(b + 8, r->last_executed);
    void__put64(b + 16, r->low);
    void__put64(b + 24, r->view);
    void__put64(b + 32, seq);
    memcpy(b + 40, digest, VOID_PBFT_DIGEST_SIZE);
    void__put16(b + 40 + VOID_PBFT_DIGEST_SIZE, (uint16_t)n);
    for (size_t i = 0; i < n; i++) {
        void__put16(b + XFER_ASK_HEAD + 2 * i, want[i]);
    }
    r->xfer_asked_ns = now_ns == 0 ? 1 : now_ns;
    void__pbft_send_body(r, now_ns, out, to, VOID_MSG_FETCH_STATE, XFER_ASK_HEAD + 2 * n);
}

/* The aux bytes kept with a transfer: stable u8, nproof u16, the proofs. */
static int xfer_start(struct void_pbft *r, const struct ckpt_part *c, int stable)
{
    uint8_t aux[3 + VOID_PBFT_N_MAX * (2 + VOID_PBFT_SMALL_FRAME_MAX)];
    if (c->proofs_len > sizeof(aux) - 3) {
        return VOID_EBAD_FIELD;
    }
    aux[0] = (uint8_t)stable;
    void__put16(aux + 1, c->nproof);
    memcpy(aux + 3, c->proofs, c->proofs_len);
    return void_sm_xfer_begin(
        &r->sm, c->snap, c->snap_len, c->seq, c->digest, aux, 3 + c->proofs_len);
}

static int adopt_state(struct void_pbft *r,
                       uint64_t now_ns,
                       const struct ckpt_part *c,
                       struct void_pbft_out *out);

/* When the transfer under way lacks nothing: takes its state up as the
 * checkpoint it was certified as (stable, or weakly: adopt_state), if that
 * still moves us forward; else drops it. Returns 1 when it installed. */
static int xfer_finish(struct void_pbft *r, uint64_t now_ns, struct void_pbft_out *out)
{
    uint64_t seq = 0;
    uint8_t digest[VOID_PBFT_DIGEST_SIZE];
    if (!void_sm_xfer_target(&r->sm, &seq, digest) || void_sm_xfer_want(&r->sm, NULL, 0) != 0) {
        return 0;
    }
    size_t aux_len = 0;
    const uint8_t *a = void_sm_xfer_aux(&r->sm, &aux_len);
    uint8_t aux[3 + VOID_PBFT_N_MAX * (2 + VOID_PBFT_SMALL_FRAME_MAX)];
    VOID_ASSERT(aux_len >= 3 && aux_len <= sizeof(aux));
    memcpy(aux, a, aux_len); /* the install frees the transfer's copy */
    int stable = aux[0] != 0;
    struct ckpt_part c = {seq, digest, void__get16(aux + 1), aux + 3, aux_len - 3, NULL, 0};
    if (seq <= r->last_executed || (!stable && (seq <= r->low || seq > r->low + r->cfg.window))) {
        void_sm_xfer_end(&r->sm); /* we got there (or past) another way */
        return 0;
    }
    int rc = stable ? install_checkpoint(r, now_ns, &c, out, 1) : adopt_state(r, now_ns, &c, out);
    if (rc != 0) {
        void_sm_xfer_end(&r->sm);
        return 0; /* a local failure of the store: the step reports it */
    }
    r->stats.state_transfers++;
    return 1;
}

/* A STATE with partitions of the transfer under way, from fr's sender. */
static void on_state_parts(struct void_pbft *r,
                           uint64_t now_ns,
                           const struct void_frame *fr,
                           const struct ckpt_part *c,
                           struct void_pbft_out *out)
{
    uint64_t seq = 0;
    uint8_t digest[VOID_PBFT_DIGEST_SIZE];
    if (!void_sm_xfer_target(&r->sm, &seq, digest) || seq != c->seq ||
        memcmp(digest, c->digest, VOID_PBFT_DIGEST_SIZE) != 0) {
        return; /* a late answer for a transfer we ended */
    }
    size_t taken = 0;
    int rc = void_sm_xfer_parts(&r->sm, c->snap, c->snap_len, &taken);
    r->stats.state_parts += taken;
    if (rc == VOID_EBAD_FIELD) {
        r->stats.rx_bad_digest++; /* a lie: ask again after the next fetch */
        return;
    }
    if (rc != 0) {
        return; /* out of memory: the next fetch tries again */
    }
    if (xfer_finish(r, now_ns, out)) {
        void__pbft_execute_ready(r, now_ns, out);
    } else if (void_sm_xfer_target(&r->sm, &seq, NULL) && taken > 0) {
        xfer_ask(r, now_ns, fr->sender, out); /* the next message's worth */
    }
}

void void__pbft_on_fetch_state(struct void_pbft *r,
                               uint64_t now_ns,
                               const struct void_frame *fr,
                               struct void_pbft_out *out)
{
    if (fr->body_len >= XFER_ASK_HEAD + 2) {
        on_fetch_parts(r, now_ns, fr, out);
        return;
    }
    if (fr->body_len != 24 && fr->body_len != 32 && fr->body_len != 40) {
        r->stats.rx_malformed++;
        return;
    }
    /* The peer the requester named to answer with batches (the 40-byte
     * form; before it, every peer did). */
    uint64_t peer = fr->body_len == 40 ? void__get64(fr->body + 32) : r->cfg.self;
    /* Batches only to a voter of our configuration: a learner that joined
     * far behind (tests/core/test_member_join.c) did not get past its first
     * answer of batches, and a state transfer brings it in one step. */
    int batches_ok = peer < r->cfg.n && void__pbft_is_voter(r, fr->sender); /* else the state */
    void_seq theirs = void__get64(fr->body + 8);
    void_seq their_low = void__get64(fr->body + 16);
    /* A requester in an older view (restarted while the cluster changed
     * view, and the clients idle): nothing else would tell it (Rejoining). */
    if (fr->body_len >= 32 && void__get64(fr->body + 24) < r->view) {
        void__pbft_resend_new_view(r, now_ns, fr->sender, out);
    }
    /* A requester that is not behind us still gets an answer, an empty STATE:
     * a recovering backup waits for one before it may suspect the primary
     * (void_pbft_recover), and "nothing newer here" is an answer too. */
    /* A STATE can carry the whole snapshot: answer a replica at most twice
     * per retransmit period. An honest one asks at most once per period
     * (half of it leaves room for jitter), so only a flood is cut short. */
    VOID_ASSERT(fr->sender < r->cfg.n);
    uint64_t last = r->state_sent_ns[fr->sender];
    if (last != 0 && now_ns >= last && now_ns - last < r->cfg.retransmit_ns / 2) {
        r->stats.rx_rate_limited++;
        return;
    }
    r->state_sent_ns[fr->sender] = now_ns == 0 ? 1 : now_ns;
    if (batches_ok &&
        catchup_answer(r, now_ns, fr->sender, theirs, their_low, peer == r->cfg.self, out)) {
        return; /* the batches it missed (or another peer sends them), not our state */
    }
    uint8_t *b = r->scratch;
    size_t off = 8;
    /* Our stable checkpoint helps a replica that has not executed it, and
     * one that executed past it but never saw it become stable: the others
     * stopped sending those CHECKPOINTs once it was stable for them, and
     * without it that replica's high watermark stays below the cluster's
     * work (voidsim seed 30780). */
    int with_ckpt = (theirs < r->low || their_low < r->low) && r->snapshot != NULL &&
                    r->snapshot_seq == r->low && r->stable_proof_count >= void__pbft_quorum(r);
    /* Else our latest checkpoint, if f+1 replicas vouch for it: with commits
     * that went by their tags, the batches below it may have no commit
     * certificate of 2f+1 valid signatures anywhere (voidsim seed 9251). */
    uint32_t weak_mask = 0;
    const struct void__pbft_ckpt *weak =
        with_ckpt || theirs >= r->ckpt_snap_seq ? NULL : weak_checkpoint(r, &weak_mask);
    void_seq from = theirs > r->low ? theirs : r->low;
    /* The export goes whole into one STATE, within snapshot_cap: a state
     * larger than that cannot be sent (docs/pbft.md, State transfer). */
    size_t part = 0;
    size_t cap = r->snapshot_cap + 8 + VOID_PBFT_DIGEST_SIZE + 2 +
                 VOID_PBFT_N_MAX * (2 + VOID_PBFT_SMALL_FRAME_MAX) + 4;
    if (with_ckpt) {
        part = put_checkpoint(r, b + off, cap, r->snapshot);
    } else if (weak != NULL && r->ckpt_snap != NULL) {
        part = put_ckpt_part(r,
                             b + off,
                             cap,
                             weak->seq,
                             weak->digest[r->cfg.self],
                             (const uint8_t(*)[VOID_PBFT_SMALL_FRAME_MAX])weak->frame,
                             weak->frame_len,
                             weak_mask,
                             r->ckpt_snap);
        from = part > 0 ? weak->seq : from;
    }
    if (part > 0) {
        off += part;
    } else {
        memset(b + off, 0, 8 + VOID_PBFT_DIGEST_SIZE + 2 + 4);
        off += 8 + VOID_PBFT_DIGEST_SIZE + 2 + 4;
    }
    size_t count_at = off;
    uint16_t n = 0;
    off += 2;
    for (void_seq seq = from + 1; seq <= r->last_executed; seq++) {
        struct void__pbft_entry *e = void__pbft_slot(r, seq);
        if (!e->used || e->seq != seq || !e->executed ||
            off + 54 + e->pp_len + VOID_PBFT_N_MAX * (2 + VOID_PBFT_COMMIT_FRAME_MAX) >
                r->scratch_cap) {
            break;
        }
        off += put_committed(r, e, b + off);
        n++;
    }
    void__put16(b + count_at, n);
    state_send(r, now_ns, fr->sender, off, out);
}

/* Checks a list of n commit frames for (view, seq, digest); returns the mask
 * of distinct replicas whose valid commit it holds. */
static uint32_t commit_cert(struct void_pbft *r,
                            struct void__reader *rd,
                            uint16_t n,
                            void_view view,
                            void_seq seq,
                            const uint8_t *digest,
                            const uint8_t **frames,
                            uint16_t *lens)
{
    uint32_t mask = 0;
    for (uint16_t i = 0; i < n; i++) {
        uint16_t flen = void__take16(rd);
        const uint8_t *f = void__take(rd, flen);
        struct void_frame fr;
        struct void_pbft_vote v;
        if (rd->err != 0) {
            return 0;
        }
        if (flen <= VOID_PBFT_COMMIT_FRAME_MAX &&
            void__pbft_frame_check(r, f, flen, VOID_MSG_COMMIT, &fr) == 0 &&
            void_pbft_commit_decode(fr.body, fr.body_len, &v) == 0 && v.view == view &&
            v.seq == seq && memcmp(v.digest, digest, VOID_PBFT_DIGEST_SIZE) == 0) {
            mask |= VOID__BIT(fr.sender);
            frames[fr.sender] = f;
            lens[fr.sender] = flen;
        }
    }
    return mask;
}

/* Installs the batches of a STATE message that we lack, each with the commit
 * certificate that lets us execute it: 2f+1 commits signed by distinct
 * replicas for its (view, seq, digest). */
static void state_entries(struct void_pbft *r,
                          uint64_t now_ns,
                          struct void__reader *rd,
                          struct void_pbft_out *out)
{
    uint16_t n = void__take16(rd);
    for (uint16_t i = 0; i < n; i++) {
        void_view view = void__take64(rd);
        void_seq seq = void__take64(rd);
        const uint8_t *digest = void__take(rd, VOID_PBFT_DIGEST_SIZE);
        uint32_t pp_len = void__take32(rd);
        const uint8_t *pp = void__take(rd, pp_len);
        uint16_t ncommit = void__take16(rd);
        const uint8_t *frames[VOID_PBFT_N_MAX];
        uint16_t lens[VOID_PBFT_N_MAX];
        uint32_t mask =
            rd->err == 0 ? commit_cert(r, rd, ncommit, view, seq, digest, frames, lens) : 0;
        if (rd->err != 0) {
            r->stats.rx_malformed++;
            return;
        }
        struct void__pbft_entry *e = void__pbft_slot(r, seq);
        if (seq <= r->last_executed || seq > r->low + r->cfg.window ||
            (e->used && e->seq == seq && e->committed)) {
            continue;
        }
        struct void_pbft_pre_prepare m;
        if (pp_len > VOID_PBFT_PP_FRAME_MAX ||
            void__pbft_carrier_check(r, pp, pp_len, digest, &m) != 0) {
            r->stats.rx_bad_digest++;
            return;
        }
        if (void__popcount(mask) < void__pbft_commit_quorum(r)) {
            r->stats.rx_bad_certificate++;
            return;
        }
        if (!(e->used && e->seq == seq && e->view == view)) {
            void__pbft_entry_reset(r, e, view, seq);
        }
        void__pbft_entry_set_batch(e, pp, pp_len, &m, digest);
        r->stats.catchup_batches++;
        for (uint32_t k = 0; k < VOID_PBFT_N_MAX; k++) {
            if (mask & VOID__BIT(k)) {
                e->commit_mask |= VOID__BIT(k);
                e->commit_unchecked &= ~VOID__BIT(k); /* commit_cert checked its signature */
                memcpy(e->commit_digest[k], digest, VOID_PBFT_DIGEST_SIZE);
                memcpy(e->commit_frame[k], frames[k], lens[k]);
                e->commit_len[k] = lens[k];
            }
        }
        void__pbft_check_committed(r, now_ns, e, out);
    }
}

/* Counts each CHECKPOINT of a stable checkpoint's proof as if received: for a
 * replica that executed past c.seq but missed the messages that made it
 * stable. If 2f+1 of them match our own checkpoint, it becomes stable here
 * as it would have on the network. */
static void adopt_checkpoint_proof(struct void_pbft *r,
                                   uint64_t now_ns,
                                   const struct ckpt_part *c,
                                   struct void_pbft_out *out)
{
    VOID_ASSERT(c->seq > r->low && c->seq <= r->last_executed);
    struct void__reader rd = {c->proofs, c->proofs_len, 0};
    for (uint16_t i = 0; i < c->nproof && i < VOID_PBFT_N_MAX; i++) {
        uint16_t len = void__take16(&rd);
        const uint8_t *f = void__take(&rd, len);
        if (rd.err != 0 || r->low >= c->seq) {
            return;
        }
        void__pbft_on_checkpoint_proof(r, now_ns, f, len, out);
    }
}

/* Takes up the state of a checkpoint that f+1 replicas vouch for but that
 * is not stable: execution jumps to c->seq, the window stays. We then take
 * our own checkpoint there and count the vouchers' CHECKPOINTs, so with ours
 * the checkpoint can become stable (at n = 4, f+1 and ours are 2f+1). Until
 * it is, nothing of this is persisted: after a crash we recover the older
 * state and fetch again. */
static int adopt_state(struct void_pbft *r,
                       uint64_t now_ns,
                       const struct ckpt_part *c,
                       struct void_pbft_out *out)
{
    VOID_ASSERT(c->seq > r->last_executed && c->seq > r->low);
    VOID_ASSERT(c->seq <= r->low + r->cfg.window);
    VOID_ASSERT(c->nproof <= VOID_PBFT_N_MAX);
    int rc = take_state(r, c);
    if (rc != 0) {
        return rc;
    }
    /* The stable snapshot (at low, below c) stays: it still serves the
     * replicas behind our low. */
    void_sm_snapshot_release(&r->sm, r->ckpt_snap);
    r->ckpt_snap = NULL;
    r->ckpt_snap_seq = 0;
    r->last_executed = c->seq;
    void__pbft_pending_prune(r);
    void__pbft_take_checkpoint(r, now_ns, out);
    if (void_sm_failed(&r->sm) != 0) {
        return void_sm_failed(&r->sm);
    }
    /* Digests are canonical: ours is the one we took up (in snapshot if the
     * checkpoint became stable just now, else in ckpt_snap). */
    int now_stable = r->snapshot_seq == c->seq;
    VOID_ASSERT(now_stable || r->ckpt_snap_seq == c->seq);
    uint8_t d[VOID_PBFT_DIGEST_SIZE];
    void_sm_snapshot_digest(&r->sm, now_stable ? r->snapshot : r->ckpt_snap, d);
    VOID_ASSERT(memcmp(d, c->digest, VOID_PBFT_DIGEST_SIZE) == 0);
    if (r->low < c->seq) {
        adopt_checkpoint_proof(r, now_ns, c, out);
    }
    return 0;
}

/* Counts the frames of a stable checkpoint's proof that lies above what we
 * executed, within our window, as received CHECKPOINTs (each checked by its
 * own signature): catch-up by batches, whose batches follow in the STATE. */
static void catchup_proof(struct void_pbft *r,
                          uint64_t now_ns,
                          const struct ckpt_part *c,
                          struct void_pbft_out *out)
{
    VOID_ASSERT(c->seq > r->last_executed && c->seq > r->low);
    VOID_ASSERT(c->seq <= r->low + r->cfg.window);
    r->seen_max = c->seq > r->seen_max ? c->seq : r->seen_max; /* fetch on until there */
    struct void__reader rd = {c->proofs, c->proofs_len, 0};
    for (uint16_t i = 0; i < c->nproof && i < VOID_PBFT_N_MAX; i++) {
        uint16_t len = void__take16(&rd);
        const uint8_t *f = void__take(&rd, len);
        if (rd.err != 0) {
            return;
        }
        void__pbft_on_checkpoint_proof(r, now_ns, f, len, out);
    }
}

void void__pbft_on_state(struct void_pbft *r,
                         uint64_t now_ns,
                         const struct void_frame *fr,
                         struct void_pbft_out *out)
{
    struct void__reader rd = {fr->body + 8, fr->body_len - 8, 0};
    struct ckpt_part c;
    if (ckpt_parse(&rd, &c) != 0) {
        r->stats.rx_malformed++;
        return;
    }
    /* A peer answered our fetch: we are as far as it could bring us, so a
     * recovering backup's request timer may suspect the primary again. */
    r->catch_up_left = 0;
    if (c.snap_len >= 4 && memcmp(c.snap, "VKP1", 4) == 0) {
        on_state_parts(r, now_ns, fr, &c, out);
        return;
    }
    uint64_t xseq = 0;
    if (void_sm_xfer_target(&r->sm, &xseq, NULL) && xseq <= r->last_executed) {
        void_sm_xfer_end(&r->sm); /* we executed past it meanwhile */
    }
    if (c.seq > r->last_executed) {
        int proof =
            c.seq % r->cfg.checkpoint_interval != 0
                ? 0
                : void__pbft_ckpt_proof_count(r, c.proofs, c.proofs_len, c.nproof, c.seq, c.digest);
        int stable = proof >= (int)void__pbft_quorum(r);
        /* f+1 signatures (one of them honest) vouch for the state; only 2f+1
         * make it stable. A weakly vouched state must lie in our window. */
        if (proof < (int)r->f + 1 ||
            (!stable && (c.seq <= r->low || c.seq > r->low + r->cfg.window))) {
            r->stats.rx_bad_certificate++;
            return;
        }
        /* The signatures vouch for the digest, so an export whose digest
         * (checked from its entries before anything is installed:
         * void_sm_import) is another is a lie of this sender: drop it,
         * keep our state. */
        if (c.snap_len == 0 && stable && c.seq <= r->low + r->cfg.window) {
            /* Catch-up by batches: the proof of a checkpoint in our window
             * counts as its CHECKPOINTs would, and the batches up to it
             * follow; we take our own checkpoint there on executing them. */
            catchup_proof(r, now_ns, &c, out);
        } else if (c.snap_len == 0 || c.nproof > VOID_PBFT_N_MAX) {
            r->stats.rx_bad_digest++;
            return;
        } else if (c.snap_len >= 4 && memcmp(c.snap, "VKM1", 4) == 0) {
            /* A manifest: fetch what differs, then install (xfer_finish). */
            uint64_t was = 0;
            int had = void_sm_xfer_target(&r->sm, &was, NULL);
            int rc = xfer_start(r, &c, stable);
            if (rc == VOID_EBAD_FIELD) {
                r->stats.rx_bad_digest++;
                return;
            }
            if (rc != 0) {
                return; /* out of memory: the next fetch tries again */
            }
            /* f+1 replicas vouch that the cluster executed c.seq: until we
             * get there, the retransmit tick fetches again, and a lost ask
             * or answer is asked again from the manifest that brings. */
            r->seen_max = c.seq > r->seen_max ? c.seq : r->seen_max;
            if (xfer_finish(r, now_ns, out)) {
                /* nothing differed */
            } else if (!had || was != c.seq || r->xfer_asked_ns == 0 ||
                       now_ns - r->xfer_asked_ns >= r->cfg.retransmit_ns) {
                xfer_ask(r, now_ns, fr->sender, out); /* new, or the last ask went unanswered */
            }
        } else {
            int rc = stable ? install_checkpoint(r, now_ns, &c, out, 1) : adopt_state(r, now_ns, &c, out);
            if (rc == VOID_EBAD_FIELD) {
                r->stats.rx_bad_digest++;
                return;
            }
            if (rc != 0) {
                return; /* a local failure of the store: the step reports it */
            }
            r->stats.state_transfers++;
        }
    } else if (c.seq > r->low) {
        /* We executed past it ourselves: its proof is what we lack. */
        adopt_checkpoint_proof(r, now_ns, &c, out);
    }
    state_entries(r, now_ns, &rd, out);
    if (rd.err == 0 && rd.left != 0) {
        r->stats.rx_malformed++;
    }
    void__pbft_execute_ready(r, now_ns, out);
}

/* ---- recovery ---------------------------------------------------------------- */

/* A frame of ours that a record kept may leave again as it is (the
 * retransmit tick sends copies): its body starts with the seq of our send
 * event, which the causal log may not hold (the process died, or the log's
 * write failed, after the record was written). Our next event is numbered
 * after it, so that no peer sees one seq on two events (docs/causality.md,
 * Persistence). Runs before recovery emits any event. */
static void own_frame_seen(struct void_pbft *r, const uint8_t *frame, size_t len)
{
    VOID_ASSERT(!r->started);
    struct void_frame fr;
    if (frame == NULL || void_codec_decode(frame, len, &fr) != 0 || fr.sender != r->cfg.self ||
        fr.body_len < 8) {
        return;
    }
    uint64_t ev = void__get64(fr.body);
    r->recovered_event_seq = ev > r->recovered_event_seq ? ev : r->recovered_event_seq;
    r->event_seq = ev > r->event_seq ? ev : r->event_seq;
    VOID_ASSERT(r->event_seq >= ev);
}

/* Restores the certificate an ENTRY record kept from an earlier view. */
static int
recover_certificate(struct void_pbft *r, struct void__pbft_entry *e, struct void__reader *rd)
{
    e->pc_view = void__take64(rd);
    const uint8_t *digest = void__take(rd, VOID_PBFT_DIGEST_SIZE);
    e->pc_pp_len = void__take32(rd);
    const uint8_t *pp = void__take(rd, e->pc_pp_len);
    e->pc_count = void__take16(rd);
    struct void_pbft_pre_prepare m;
    if (rd->err != 0 || e->pc_pp_len > VOID_PBFT_PP_FRAME_MAX || e->pc_count > VOID_PBFT_N_MAX ||
        void__pbft_carrier_check(r, pp, e->pc_pp_len, digest, &m) != 0) {
        return VOID_ECORRUPT;
    }
    memcpy(e->pc_digest, digest, VOID_PBFT_DIGEST_SIZE);
    memcpy(e->pc_pp_frame, pp, e->pc_pp_len);
    own_frame_seen(r, pp, e->pc_pp_len);
    for (uint16_t i = 0; i < e->pc_count; i++) {
        uint16_t flen = void__take16(rd);
        const uint8_t *f = void__take(rd, flen);
        if (rd->err != 0 || flen > VOID_PBFT_SMALL_FRAME_MAX) {
            return VOID_ECORRUPT;
        }
        memcpy(e->pc_prepare_frame[i], f, flen);
        e->pc_prepare_len[i] = flen;
        own_frame_seen(r, f, flen);
    }
    e->pc_valid = 1;
    return 0;
}

/* Restores one ENTRY record. Returns 0 or a decode error. */
static int recover_entry(struct void_pbft *r, const uint8_t *data, size_t len)
{
    struct void__reader rd = {data, len, 0};
    void_view view = void__take64(&rd);
    void_seq seq = void__take64(&rd);
    const uint8_t *digest = void__take(&rd, VOID_PBFT_DIGEST_SIZE);
    const uint8_t *flags = void__take(&rd, 1);
    uint32_t pp_len = void__take32(&rd);
    const uint8_t *pp = void__take(&rd, pp_len);
    uint16_t n = void__take16(&rd);
    struct void_pbft_pre_prepare m;
    if (rd.err != 0 || pp_len > VOID_PBFT_PP_FRAME_MAX ||
        void__pbft_carrier_check(r, pp, pp_len, digest, &m) != 0) {
        return VOID_ECORRUPT;
    }
    if (seq <= r->low || seq > r->low + r->cfg.window) {
        return 0; /* garbage collected by a later checkpoint */
    }
    struct void__pbft_entry *e = void__pbft_slot(r, seq);
    void__pbft_entry_reset(r, e, view, seq);
    void__pbft_entry_set_batch(e, pp, pp_len, &m, digest);
    own_frame_seen(r, pp, pp_len);
    e->sent_prepare = (flags[0] & ENTRY_FLAG_SENT_PREPARE) != 0;
    e->prepared = (flags[0] & ENTRY_FLAG_PREPARED) != 0;
    e->sent_commit = e->prepared;
    if ((e->sent_prepare || e->sent_commit) && seq > r->recovered_vote_max) {
        r->recovered_vote_max = seq; /* epoch_enter keeps it (pbft_epoch.c) */
    }
    if (e->prepared) {
        /* We sent our commit before the crash: it still counts. */
        e->commit_mask |= VOID__BIT(r->cfg.self);
        memcpy(e->commit_digest[r->cfg.self], digest, VOID_PBFT_DIGEST_SIZE);
    }
    for (uint16_t i = 0; i < n; i++) {
        uint16_t flen = void__take16(&rd);
        const uint8_t *f = void__take(&rd, flen);
        struct void_frame fr;
        struct void_pbft_vote v;
        if (rd.err != 0 || void__pbft_frame_check(r, f, flen, VOID_MSG_PREPARE, &fr) != 0 ||
            void_pbft_vote_decode(fr.body, fr.body_len, &v) != 0 ||
            flen > VOID_PBFT_SMALL_FRAME_MAX) {
            return VOID_ECORRUPT;
        }
        e->prepare_mask |= VOID__BIT(fr.sender);
        memcpy(e->prepare_digest[fr.sender], v.digest, VOID_PBFT_DIGEST_SIZE);
        memcpy(e->prepare_frame[fr.sender], f, flen);
        e->prepare_len[fr.sender] = flen;
        own_frame_seen(r, f, flen);
    }
    const uint8_t *pc = void__take(&rd, 1);
    if (pc != NULL && pc[0] == 1 && recover_certificate(r, e, &rd) != 0) {
        return VOID_ECORRUPT;
    }
    if (flags[0] & ENTRY_FLAG_COMMITTED) {
        /* The commit certificate: the batch may execute (again) at once,
         * and we can serve it in STATE. */
        const uint8_t *frames[VOID_PBFT_N_MAX];
        uint16_t lens[VOID_PBFT_N_MAX];
        uint16_t ncommit = void__take16(&rd);
        uint32_t mask = rd.err == 0 && ncommit <= VOID_PBFT_N_MAX
                            ? commit_cert(r, &rd, ncommit, view, seq, digest, frames, lens)
                            : 0;
        if (rd.err != 0 || void__popcount(mask) < void__pbft_commit_quorum(r)) {
            return VOID_ECORRUPT;
        }
        for (uint32_t k = 0; k < VOID_PBFT_N_MAX; k++) {
            if (mask & VOID__BIT(k)) {
                e->commit_mask |= VOID__BIT(k);
                memcpy(e->commit_digest[k], digest, VOID_PBFT_DIGEST_SIZE);
                memcpy(e->commit_frame[k], frames[k], lens[k]);
                e->commit_len[k] = lens[k];
                own_frame_seen(r, frames[k], lens[k]);
            }
        }
        e->committed = 1;
    }
    if (r->next_seq <= seq) {
        r->next_seq = seq + 1;
    }
    return 0;
}

/* An ENTRY record says that we prepared its batch, and so sent our COMMIT,
 * but it does not keep that COMMIT's frame, which every commit certificate
 * we serve in STATE must carry. Without it a replica that executes after
 * recovering offers only the others' commits (2f of them when one replica
 * is silent), and a peer that lost its log can never catch up from it
 * (voidsim seed 20463). Sign our vote again -- the same (view, seq, digest)
 * we voted for before the crash, so it promises nothing new -- keep it and
 * send it, as the retransmission it is. */
static void restore_own_commits(struct void_pbft *r, uint64_t now_ns, struct void_pbft_out *out)
{
    VOID_ASSERT(r->started);
    for (uint32_t i = 0; i < r->cfg.window; i++) {
        struct void__pbft_entry *e = &r->log[i];
        if (!e->used || !e->prepared || e->commit_len[r->cfg.self] > 0) {
            continue;
        }
        const uint8_t *frame;
        size_t frame_len;
        if (void__pbft_commit_frame(r, now_ns, out, e, &frame, &frame_len) != 0) {
            return; /* out of space: recover reports the overflow */
        }
        memcpy(e->commit_frame[r->cfg.self], frame, frame_len);
        e->commit_len[r->cfg.self] = (uint16_t)frame_len;
        void__pbft_send(r, out, VOID_PBFT_TO_ALL, VOID_MSG_COMMIT, frame, frame_len);
    }
}

/* Takes up checkpoint record c (seq, digest, proof) as our stable
 * checkpoint without touching the store: the state is the store's. */
static void take_record(struct void_pbft *r, const struct ckpt_part *c)
{
    VOID_ASSERT(c->nproof <= VOID_PBFT_N_MAX);
    r->low = c->seq;
    r->last_executed = c->seq;
    r->next_seq = c->seq + 1;
    memcpy(r->low_digest, c->digest, VOID_PBFT_DIGEST_SIZE);
    struct void__reader rd = {c->proofs, c->proofs_len, 0};
    r->stable_proof_count = 0;
    for (uint16_t i = 0; i < c->nproof; i++) {
        uint16_t len = void__take16(&rd);
        const uint8_t *f = void__take(&rd, len);
        if (f != NULL && len <= VOID_PBFT_SMALL_FRAME_MAX) {
            memcpy(r->stable_proof[r->stable_proof_count], f, len);
            r->stable_proof_len[r->stable_proof_count++] = len;
            own_frame_seen(r, f, len);
        }
    }
    VOID_ASSERT(r->low == r->last_executed);
}

/* Restores the VIEW and ENTRY records (the window is the one low sets). */
static void recover_records(struct void_pbft *r,
                            const struct void_pbft_record *records,
                            size_t count,
                            int *changing,
                            int *horizon_known)
{
    for (size_t i = 0; i < count; i++) {
        const struct void_pbft_record *rec = &records[i];
        if (rec->kind == VOID_PBFT_RECORD_VIEW &&
            (rec->len == VIEW_RECORD_LEN || rec->len == VIEW_RECORD_LEN_OLD)) {
            r->view = void__get64(rec->data);
            *changing = rec->data[8] != 0;
            *horizon_known = rec->len == VIEW_RECORD_LEN;
            if (*horizon_known) {
                r->prepare_horizon = void__get64(rec->data + 9);
                r->vote_view_min = void__get64(rec->data + 17);
            }
        } else if (rec->kind == VOID_PBFT_RECORD_ENTRY) {
            if (recover_entry(r, rec->data, rec->len) != 0) {
                r->stats.rx_malformed++;
            }
        } else if (rec->kind != VOID_PBFT_RECORD_CHECKPOINT) {
            r->stats.rx_malformed++;
        }
    }
}

/* Whether the store can be gone on from: whole (not a state transfer's
 * install cut short), at the checkpoint (low) with its certified digest,
 * or past it with a commit certificate recovered for every batch it
 * executed past it. Then marks those batches executed. The store cannot be
 * ahead of the records by an execution (execute_after_durable), only by a
 * state transfer installed just before the crash, or torn. */
static int resume_store(struct void_pbft *r)
{
    struct void_kvs_stats st;
    void_kvs_stats(r->kvs, &st);
    if (st.partial) {
        /* A state transfer's install crashed between two of its store
         * commits: part old state, part new, whatever its label says (a
         * label with certificates would otherwise be gone on from). */
        return 0;
    }
    if (st.applied < r->low) {
        return 0;
    }
    if (st.applied == r->low) {
        uint8_t d[VOID_PBFT_DIGEST_SIZE];
        void_sm_digest(&r->sm, d);
        return memcmp(d, r->low_digest, VOID_PBFT_DIGEST_SIZE) == 0;
    }
    if (st.applied > r->low + r->cfg.window) {
        return 0;
    }
    for (void_seq seq = r->low + 1; seq <= st.applied; seq++) {
        struct void__pbft_entry *e = void__pbft_slot(r, seq);
        if (!e->used || e->seq != seq || !e->committed) {
            return 0;
        }
    }
    for (void_seq seq = r->low + 1; seq <= st.applied; seq++) {
        void__pbft_slot(r, seq)->executed = 1;
    }
    r->stats.recover_resumed += st.applied - r->low;
    r->last_executed = st.applied;
    VOID_ASSERT(r->low < r->last_executed);
    return 1;
}

int void_pbft_recover(struct void_pbft *r,
                      uint64_t now_ns,
                      const struct void_pbft_record *records,
                      size_t count,
                      struct void_pbft_out *out)
{
    VOID_ASSERT(r != NULL && out != NULL && (records != NULL || count == 0));
    VOID_ASSERT(!r->started);
    int changing = 0;
    int horizon_known = 0;
    int imported = 0;
    /* Checkpoint first: it sets the window that entries must fall in. */
    for (size_t i = 0; i < count; i++) {
        if (records[i].kind != VOID_PBFT_RECORD_CHECKPOINT) {
            continue;
        }
        struct void__reader rd = {records[i].data, records[i].len, 0};
        struct ckpt_part c;
        if (ckpt_parse(&rd, &c) != 0 || rd.left != 0 || c.nproof > VOID_PBFT_N_MAX) {
            return VOID_ECORRUPT;
        }
        if (c.snap_len > 0) {
            /* An older version's record, with the export of the state. */
            int rc = install_checkpoint(r, now_ns, &c, out, 0);
            if (rc != 0) {
                return rc == VOID_EBAD_FIELD ? VOID_ECORRUPT : rc; /* not the certified state */
            }
            r->next_seq = r->low + 1;
            imported = 1;
        } else {
            take_record(r, &c);
        }
    }
    /* The epoch the store's configuration record puts in effect at low (it
     * keeps the change before the latest and its boundary, so a store that
     * executed past low still gives the epoch of low, the latest pending). */
    void__pbft_epoch_refresh(r, now_ns, out);
    recover_records(r, records, count, &changing, &horizon_known);
    /* Go on from the store where it is (docs/pbft.md, Recovery). A store we
     * cannot vouch for is emptied, and the state fetched from the others,
     * as by a replica that lost its disk: the checkpoint record and the
     * entries beyond the first window go with it, since the state they
     * stand on is gone. */
    if (!imported && !resume_store(r)) {
        int rc = void_sm_reset(&r->sm);
        if (rc != 0) {
            return rc;
        }
        r->stats.recover_resets++;
        for (uint32_t i = 0; i < r->cfg.window; i++) {
            r->log[i].used = 0;
        }
        r->low = r->last_executed = 0;
        r->next_seq = 1;
        r->stable_proof_count = 0;
        memcpy(r->low_digest, r->genesis_digest, VOID_PBFT_DIGEST_SIZE);
        void__pbft_epoch_refresh(r, now_ns, out); /* the empty state's: the genesis */
        recover_records(r, records, count, &changing, &horizon_known);
    }
    if (r->snapshot == NULL && r->low > 0 && r->last_executed == r->low) {
        /* At the stable checkpoint: its frozen state serves state transfer
         * again, as before the crash. */
        int rc = void_sm_snapshot_take(&r->sm, &r->snapshot);
        if (rc != 0) {
            return rc;
        }
        r->snapshot_seq = r->low;
    }
    for (void_seq seq = r->last_executed + 1; seq <= r->low + r->cfg.window; seq++) {
        struct void__pbft_entry *e = void__pbft_slot(r, seq);
        r->stats.recover_replayed += e->used && e->seq == seq && e->committed ? 1u : 0u;
    }
    r->started = 1;
    /* Prepares leave no record (send_prepare): in the installed view we
     * recovered in we may have sent some we forgot, but none above the
     * prepare horizon of the VIEW record (void__pbft_raise_horizon), so we
     * send none at or below it. A record without a horizon (an older
     * version) bounds nothing: then we send none in that view. A view we
     * were still changing to saw none of ours (installing it persists the
     * view first, and that record orders before every vote of the view). */
    r->prepare_view_min = changing || horizon_known ? r->view : r->view + 1;
    r->view_installed = changing ? 0 : r->view; /* changing: which one is not recorded */
    r->prepare_seq_floor = changing ? 0 : r->prepare_horizon;
    if (changing) {
        r->prepare_horizon = 0; /* written so while changing: no prepare in that view yet */
    }
    if (!horizon_known && changing) {
        r->vote_view_min = r->view; /* the VIEW-CHANGE we were sending */
    }
    VOID_ASSERT(r->prepare_view_min >= r->view);
    /* The entries we recovered are sequence numbers the others have reached:
     * the retransmit tick fetches state until we have executed them, also
     * when the fetch below is lost (a driver's links are still connecting). */
    r->seen_max = VOID__MUTANT_NO_REJOIN ? 0 : r->next_seq - 1;
    restore_own_commits(r, now_ns, out);
    void__pbft_timer_set(r, out, VOID_PBFT_TIMER_RETRANSMIT, r->cfg.retransmit_ns);
    if (changing) {
        r->view_changing = 1; /* resume the view change we were in */
        void__pbft_start_view_change(r, now_ns, r->view, out);
    } else if (void_pbft_primary_of(r, r->view) == r->cfg.self) {
        /* We were the primary of an installed view. Two reasons not to go on
         * in it. (1) A pre-prepare leaves no record (send_pre_prepare), so we
         * may have forgotten pre-prepares we sent:
         * proposing again in this view could bind a sequence number to a
         * second batch. (2) For v > 0, the NEW-VIEW and the view changes it
         * names are not persisted: we can no longer re-send them to a replica
         * that missed them, so a replica still in an older view (or already
         * changing to a later one) could never join ours. Hand the view off
         * instead: move to v+1 as if the NEW-VIEW timer had fired. Replicas
         * that see VIEW-CHANGEs for higher views from f+1 others join the
         * smallest of them (TOCS'02 4.5.2), so the laggards and the replicas
         * ahead of us meet in one view. */
        void__pbft_start_view_change(r, now_ns, r->view + 1, out);
    } else {
        /* A backup that has not caught up cannot tell a slow primary from its
         * own lag: while its fetch is under way, its request timer fetches
         * again instead of starting a view change that the others, who see
         * the primary make progress, would not join (issue 16: the restarted
         * backup then sat alone in the next view). Bounded, so that a faulty
         * primary is still suspected, and ended by the first STATE. */
        r->catch_up_left = VOID__MUTANT_NO_REJOIN ? 0 : VOID_PBFT_CATCH_UP_TIMEOUTS;
        void__pbft_arm_request_timer(r, out, 1);
    }
    if (r->last_executed > r->low && r->last_executed % r->cfg.checkpoint_interval == 0) {
        /* The store is at a checkpoint it took before the crash: take it
         * again (the same digest, so the same vote) to serve and count it. */
        void__pbft_take_checkpoint(r, now_ns, out);
    }
    /* Certified batches the store had not executed (the crash came between
     * their records and their execution) execute again from the records. */
    void__pbft_execute_ready(r, now_ns, out);
    void__pbft_fetch_state(r, now_ns, out, 1); /* what the others executed meanwhile */
    if (void_sm_failed(&r->sm) != 0) {
        return void_sm_failed(&r->sm);
    }
    return out->overflow ? VOID_EFULL : 0;
}
