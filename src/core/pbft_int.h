/*
 * Helpers shared by the PBFT files of src/core (not API): big-endian byte
 * access and a bounds-checked reader that remembers its first error.
 */
#ifndef VOID_CORE_PBFT_INT_H
#define VOID_CORE_PBFT_INT_H

#include <stddef.h>
#include <stdint.h>

void void__put16(uint8_t *p, uint16_t v);
void void__put32(uint8_t *p, uint32_t v);
void void__put64(uint8_t *p, uint64_t v);
uint16_t void__get16(const uint8_t *p);
uint32_t void__get32(const uint8_t *p);
uint64_t void__get64(const uint8_t *p);

/* Reads forward through [p, p + left); a read past the end returns NULL (or
 * 0) and sets err to VOID_ETRUNCATED, so a decoder checks once at the end. */
struct void__reader {
    const uint8_t *p;
    size_t left;
    int err;
};

const uint8_t *void__take(struct void__reader *r, size_t n);
uint64_t void__take64(struct void__reader *r);
uint32_t void__take32(struct void__reader *r);
uint16_t void__take16(struct void__reader *r);

/* ---- replica internals shared by pbft.c, pbft_view.c, pbft_state.c ---- */

#include "void/pbft.h"

#define VOID__BIT(i) (1u << (i))

/* The test-only mutant that brings back issue 16: a recovering backup's
 * request timer suspects the primary at once, and a replica changing view
 * alone never returns (tests/sim/test_sim_mutant.sh). */
#if defined(VOID_MUTANT_NO_REJOIN) && VOID_MUTANT_NO_REJOIN
#define VOID__MUTANT_NO_REJOIN 1
#else
#define VOID__MUTANT_NO_REJOIN 0
#endif

/* Quorum sizes, all derived from n through void_membership_quorum
 * (docs/membership.md): q = ceil((n + f + 1) / 2), so that any two quorums
 * share f + 1 replicas, one of them honest, for every n, not only 3f + 1
 * (where q = 2f + 1). void__pbft_quorum is q (checkpoint proofs, view
 * changes for a NEW-VIEW, the commit certificates of STATE);
 * void__pbft_prepare_quorum is q - 1, the matching prepares from backups
 * that with the pre-prepare make a batch prepared; void__pbft_commit_quorum
 * is q. Two test-only build flags weaken them so that the simulator's
 * checkers can be shown to catch it: VOID_MUTANT_WEAK_COMMIT (commit on
 * q - 1) and VOID_MUTANT_QUORUM_2F1 (q = 2f + 1 for every n, the rule before
 * issue 18, unsafe when n != 3f + 1). */
uint32_t void__pbft_quorum(const struct void_pbft *r);
/* The quorum of a configuration of nv voters (what void__pbft_quorum is for
 * ours), and the primary of view v among the voters of a mask. */
uint32_t void__pbft_quorum_of(uint32_t nv);
uint32_t void__pbft_primary_in(uint32_t voters, void_view v);
uint32_t void__pbft_prepare_quorum(const struct void_pbft *r);
uint32_t void__pbft_commit_quorum(const struct void_pbft *r);
uint32_t void__popcount(uint32_t x);

/* ---- membership epochs (pbft_epoch.c, docs/membership.md) ---- */

/* Sets up the genesis configuration and the epoch at init. 0 or VOID_ENOMEM. */
int void__pbft_epoch_init(struct void_pbft *r);
void void__pbft_epoch_fini(struct void_pbft *r);
/* Re-reads the configuration record of the executed state: switches the
 * epoch when low has reached a change's boundary, and learns of a change
 * pending above it. Call after low or the state moves (stable checkpoint,
 * state installed, recovery) and after a batch that changed it. A switch of
 * a started replica clears the log above low and re-runs the view change
 * of its view under the new epoch (void__pbft_view_epoch_switch). */
void void__pbft_epoch_refresh(struct void_pbft *r, uint64_t now_ns, struct void_pbft_out *out);
/* The voters of the configuration in effect at seq, as far as the executed
 * state knows: a certificate for seq (a prepared certificate, a checkpoint
 * proof) counts only their votes, and the primary of its view is among
 * them (docs/pbft.md, View changes across an epoch boundary). */
uint32_t void__pbft_era_voters(const struct void_pbft *r, void_seq seq);
/* The vote horizon: the next checkpoint boundary above what we executed, or
 * a pending change's boundary if lower. We send a pre-prepare, PREPARE or
 * COMMIT, and find a batch prepared or committed, only at or below it:
 * so every vote at a sequence number comes from a replica that executed
 * every configuration change in effect there. Votes received above it are
 * kept and counted once it moves (void__pbft_release_votes). */
void_seq void__pbft_vote_horizon(const struct void_pbft *r);
int void__pbft_may_vote(const struct void_pbft *r, void_seq seq);
/* Sends the votes deferred below a vote horizon that has moved up. */
void void__pbft_release_votes(struct void_pbft *r, uint64_t now_ns, struct void_pbft_out *out);
/* Whether seq lies above a pending change's boundary that is not stable
 * here yet: nothing is proposed, accepted, voted on or executed there
 * until it is. */
int void__pbft_epoch_holds(const struct void_pbft *r, void_seq seq);
/* Whether replica id votes in our epoch. */
int void__pbft_is_voter(const struct void_pbft *r, uint32_t id);

struct void__pbft_entry *void__pbft_slot(struct void_pbft *r, void_seq seq);
/* Starts collecting for (view, seq) in e. If e held a prepared certificate
 * of an older view for the same seq, it is kept as e's pc_* certificate. */
void void__pbft_entry_reset(struct void_pbft *r,
                            struct void__pbft_entry *e,
                            void_view view,
                            void_seq seq);

/* Effects. void__pbft_frame signs body (r->scratch[0..body_len), whose
 * first 8 bytes it fills with the send event) into a frame in the out arena
 * and emits the SEND event; void__pbft_send emits the SEND effect itself. */
int void__pbft_frame(struct void_pbft *r,
                     uint64_t now_ns,
                     struct void_pbft_out *out,
                     uint32_t to,
                     uint8_t type,
                     size_t body_len,
                     const uint8_t **frame,
                     size_t *frame_len);
/* Emits a milestone event (enum void_pbft_event_kind >= PRE_PREPARED) for
 * (view, seq), stamped one HLC tick after the replica's last event. */
void void__pbft_note(
    struct void_pbft *r, struct void_pbft_out *out, uint8_t kind, void_view view, void_seq seq);
/* Takes our checkpoint at last_executed (a multiple of K): freezes the
 * state in ckpt_snap (a store snapshot), sends CHECKPOINT with the store's
 * digest and counts it. */
void void__pbft_take_checkpoint(struct void_pbft *r, uint64_t now_ns, struct void_pbft_out *out);
/* What a step returns: the store's local failure (the replica has stopped),
 * else VOID_EFULL when out overflowed, else 0. */
int void__pbft_step_rc(const struct void_pbft *r, const struct void_pbft_out *out);
/* Builds our COMMIT for e's (view, seq, digest) like void__pbft_frame, with
 * a tag for every replica we share a key with (docs/pbft.md). */
int void__pbft_commit_frame(struct void_pbft *r,
                            uint64_t now_ns,
                            struct void_pbft_out *out,
                            const struct void__pbft_entry *e,
                            const uint8_t **frame,
                            size_t *frame_len);
void void__pbft_send(struct void_pbft *r,
                     struct void_pbft_out *out,
                     uint32_t to,
                     uint8_t type,
                     const uint8_t *frame,
                     size_t len);
/* Sends a copy of bytes that do not live in the arena (a retransmission). */
void void__pbft_send_copy(struct void_pbft *r,
                          struct void_pbft_out *out,
                          uint32_t to,
                          uint8_t type,
                          const uint8_t *frame,
                          size_t len);
/* Frames r->scratch[0..body_len) and sends it (persisting nothing). */
void void__pbft_send_body(struct void_pbft *r,
                          uint64_t now_ns,
                          struct void_pbft_out *out,
                          uint32_t to,
                          uint8_t type,
                          size_t body_len);
uint8_t *void__pbft_persist(
    struct void_pbft *r, struct void_pbft_out *out, uint8_t kind, uint64_t key, size_t len);
void void__pbft_timer_set(struct void_pbft *r,
                          struct void_pbft_out *out,
                          uint8_t timer,
                          uint64_t delay_ns);
void void__pbft_timer_cancel(struct void_pbft *r, struct void_pbft_out *out, uint8_t timer);
void void__pbft_arm_request_timer(struct void_pbft *r, struct void_pbft_out *out, int restart);

/* Checks a frame embedded in a certificate: decodes it, checks its type,
 * that the sender is a replica and (if configured) its signature. Returns 0
 * or a VOID_E* code. */
int void__pbft_frame_check(
    struct void_pbft *r, const uint8_t *frame, size_t len, uint8_t type, struct void_frame *fr);
/* The same, for a certificate of another configuration: the sender must be
 * in voters (void__pbft_era_voters) rather than one of our epoch. */
int void__pbft_cert_frame_check(struct void_pbft *r,
                                const uint8_t *frame,
                                size_t len,
                                uint8_t type,
                                uint32_t voters,
                                struct void_frame *fr);
/* Checks the structure of a batch (and the client signatures if verify_sigs):
 * 0, VOID_ETRUNCATED/VOID_EBAD_* (malformed), VOID_EBAD_SIG, VOID_EUNKNOWN_SENDER. */
int void__pbft_batch_check(
    struct void_pbft *r, const uint8_t *batch, uint32_t len, uint16_t count, int verify_sigs);
/* Checks that a pre-prepare frame carries a batch with the given digest and
 * sets the batch location. 0 or a VOID_E* code. */
int void__pbft_carrier_check(struct void_pbft *r,
                             const uint8_t *pp,
                             size_t pp_len,
                             const uint8_t digest[VOID_PBFT_DIGEST_SIZE],
                             struct void_pbft_pre_prepare *m);
/* Copies a carrier (or nothing, for a null batch) into entry e as its batch. */
void void__pbft_entry_set_batch(struct void__pbft_entry *e,
                                const uint8_t *pp,
                                size_t pp_len,
                                const struct void_pbft_pre_prepare *m,
                                const uint8_t digest[VOID_PBFT_DIGEST_SIZE]);
/* Counts distinct replicas with valid CHECKPOINT frames for (seq, digest) in
 * a list of n_frames (u16 length + frame) starting at p. Returns the count,
 * or a negative code for a malformed list. */
int void__pbft_ckpt_proof_count(struct void_pbft *r,
                                const uint8_t *p,
                                size_t len,
                                uint16_t n_frames,
                                void_seq seq,
                                const uint8_t digest[VOID_PBFT_DIGEST_SIZE]);
/* Counts one CHECKPOINT frame of a stable-checkpoint proof (from a STATE
 * message) as if its sender had sent it to us: authenticated by its own
 * signature, then as a received CHECKPOINT. Frame borrowed for the call. */
void void__pbft_on_checkpoint_proof(struct void_pbft *r,
                                    uint64_t now_ns,
                                    const uint8_t *frame,
                                    size_t len,
                                    struct void_pbft_out *out);

void void__pbft_send_prepare(struct void_pbft *r,
                             uint64_t now_ns,
                             struct void__pbft_entry *e,
                             struct void_pbft_out *out);
void void__pbft_check_committed(struct void_pbft *r,
                                uint64_t now_ns,
                                struct void__pbft_entry *e,
                                struct void_pbft_out *out);
void void__pbft_execute_ready(struct void_pbft *r, uint64_t now_ns, struct void_pbft_out *out);
void void__pbft_try_batch(struct void_pbft *r, uint64_t now_ns, struct void_pbft_out *out);
void void__pbft_propose_beacon(struct void_pbft *r,
                               uint64_t now_ns,
                               uint32_t from,
                               struct void_pbft_out *out);
void void__pbft_gc(struct void_pbft *r);
/* Large requests (pbft.c): whether e holds every request body its batch
 * names (else it waits and the retransmit ticks fetch them), and the
 * collection of the bodies nothing names any more. */
int void__pbft_bodies_ready(struct void_pbft *r, struct void__pbft_entry *e);
/* The bodies e's batch names (catch-up by batches): each written at p as
 * (len u32, client frame) within cap bytes unless p is NULL, and sent to
 * replica `to` as the client's REQUEST unless out is NULL. Returns their
 * bytes (4 + len each) and their number in *count, or -1 when one is not
 * here (or does not fit). */
long void__pbft_entry_bodies(struct void_pbft *r,
                             const struct void__pbft_entry *e,
                             uint8_t *p,
                             size_t cap,
                             uint16_t *count,
                             uint32_t to,
                             struct void_pbft_out *out);
void void__pbft_body_gc(struct void_pbft *r);
void void__pbft_pending_prune(struct void_pbft *r);
int void__pbft_has_work(const struct void_pbft *r);

/* pbft_view.c */
void void__pbft_start_view_change(struct void_pbft *r,
                                  uint64_t now_ns,
                                  void_view view,
                                  struct void_pbft_out *out);
void void__pbft_on_view_change(struct void_pbft *r,
                               uint64_t now_ns,
                               const uint8_t *buf,
                               size_t len,
                               const struct void_frame *fr,
                               struct void_pbft_out *out);
void void__pbft_on_new_view(struct void_pbft *r,
                            uint64_t now_ns,
                            const uint8_t *buf,
                            size_t len,
                            const struct void_frame *fr,
                            struct void_pbft_out *out);
void void__pbft_resend_view_change(struct void_pbft *r, struct void_pbft_out *out);
/* We entered a new epoch (low reached a change's boundary): the view
 * changes we hold are checked again by the new rules, and unless we are in
 * view 0 we change to our view again, so that we vote in it only after a
 * NEW-VIEW of the new epoch (docs/pbft.md, View changes across an epoch
 * boundary). */
void void__pbft_view_epoch_switch(struct void_pbft *r, uint64_t now_ns, struct void_pbft_out *out);
void void__pbft_resend_new_view(struct void_pbft *r,
                                uint64_t now_ns,
                                uint32_t to,
                                struct void_pbft_out *out);
size_t void__pbft_vc_frame_max(uint32_t window);
/* We just executed the batch at seq, committed (2f+1 COMMITs) in view, so
 * at least f+1 honest replicas are in that view. If it is above ours, we
 * ask its primary for its NEW-VIEW (a VIEW-CHANGE for it); if we are
 * changing alone to a higher one, we go back to it without casting a vote
 * below the view of our VIEW-CHANGE (docs/pbft.md, Rejoining). */
void void__pbft_rejoin_view(struct void_pbft *r,
                            uint64_t now_ns,
                            void_view view,
                            void_seq seq,
                            struct void_pbft_out *out);

/* pbft_state.c */
void void__pbft_fetch_state(struct void_pbft *r,
                            uint64_t now_ns,
                            struct void_pbft_out *out,
                            int force);
void void__pbft_on_fetch_state(struct void_pbft *r,
                               uint64_t now_ns,
                               const struct void_frame *fr,
                               struct void_pbft_out *out);
void void__pbft_on_state(struct void_pbft *r,
                         uint64_t now_ns,
                         const struct void_frame *fr,
                         struct void_pbft_out *out);
void void__pbft_persist_entry(struct void_pbft *r,
                              const struct void__pbft_entry *e,
                              struct void_pbft_out *out);
void void__pbft_persist_view(struct void_pbft *r, struct void_pbft_out *out);
/* Makes sure the persisted prepare horizon of the current view covers seq,
 * persisting a VIEW record with a higher one (seq + VOID_PBFT_PREPARE_SLACK)
 * if it does not; with ahead, also when it covers seq by less than the
 * slack (so a record rides with an ENTRY record rather than before a
 * PREPARE). */
void void__pbft_raise_horizon(struct void_pbft *r,
                              void_seq seq,
                              int ahead,
                              struct void_pbft_out *out);
void void__pbft_persist_checkpoint(struct void_pbft *r, struct void_pbft_out *out);
/* Catch-up by batches (pbft_state.c, docs/pbft.md): keeps the executed
 * batches at or below low that are still in the log, with their commit
 * certificates (call before the log drops them), and the stable
 * checkpoint's proof (call once low moved). A gap, or a batch without a
 * full certificate, empties what was kept: the kept batches are unbroken. */
void void__pbft_keep_batches(struct void_pbft *r);
void void__pbft_keep_proof(struct void_pbft *r);

#endif
