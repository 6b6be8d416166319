/*
 * PBFT view changes (Castro & Liskov, TOCS'02 section 4.4-4.5).
 *
 * A backup that suspects the primary moves to view v+1 and broadcasts a
 * VIEW-CHANGE carrying its stable checkpoint with its 2f+1 signed proof (C)
 * and, for every sequence number above it that it prepared, the pre-prepare
 * frame that carried the batch and 2f matching signed prepares (P). The
 * primary of v+1 collects 2f+1 valid view changes and broadcasts NEW-VIEW
 * naming them by digest and listing, for every sequence number from the
 * highest stable checkpoint min-s to the highest prepared max-s, the digest
 * to re-propose: the one prepared in the highest view, or a null batch. Each
 * backup recomputes that list from the same view changes (which it received
 * itself) and accepts NEW-VIEW only if it matches, so the O set is
 * deterministic and a faulty primary cannot smuggle in anything else.
 *
 * Liveness: view-change timeouts double with every failed view; a replica
 * that sees f+1 view changes for higher views joins the smallest of them
 * (so a view change during a view change converges); the new primary
 * re-sends NEW-VIEW to a replica that still asks for the view it installed.
 */
#include "core/pbft_int.h"
#include "void/assert.h"
#include "void/error.h"
#include "void/hash.h"

#include <sodium.h>
#include <string.h>

#define VC_HEAD       (8 + 8 + 8 + VOID_PBFT_DIGEST_SIZE + 2)
#define VC_ENTRY_HEAD (8 + 8 + VOID_PBFT_DIGEST_SIZE + 4)

size_t void__pbft_vc_frame_max(uint32_t window)
{
    size_t frames = (size_t)VOID_PBFT_N_MAX * (2 + VOID_PBFT_SMALL_FRAME_MAX);
    return VOID_PBFT_FRAME_OVERHEAD + VC_HEAD + frames + 2 +
           (size_t)window * (VC_ENTRY_HEAD + VOID_PBFT_PP_FRAME_MAX + 2 + frames);
}

/* A parsed VIEW-CHANGE body; lists point into the frame. */
struct vc_msg {
    uint64_t view, low;
    const uint8_t *low_digest;
    uint16_t nproof;
    const uint8_t *proofs;
    size_t proofs_len;
    uint16_t nprep;
    const uint8_t *preps;
    size_t preps_len;
};

struct vc_entry {
    uint64_t view, seq;
    const uint8_t *digest;
    const uint8_t *pp;
    uint32_t pp_len;
    uint16_t nprepares;
    const uint8_t *prepares;
    size_t prepares_len;
};

/* Skips n (u16 length + bytes) items; returns the section's length. */
static size_t skip_list(struct void__reader *rd, uint16_t n)
{
    const uint8_t *start = rd->p;
    for (uint16_t i = 0; i < n && rd->err == 0; i++) {
        uint16_t len = void__take16(rd);
        void__take(rd, len);
    }
    return (size_t)(rd->p - start);
}

static int vc_next(struct void__reader *rd, struct vc_entry *e)
{
    e->view = void__take64(rd);
    e->seq = void__take64(rd);
    e->digest = void__take(rd, VOID_PBFT_DIGEST_SIZE);
    e->pp_len = void__take32(rd);
    e->pp = void__take(rd, e->pp_len);
    e->nprepares = void__take16(rd);
    e->prepares = rd->p;
    e->prepares_len = skip_list(rd, e->nprepares);
    return rd->err;
}

static int vc_parse(const uint8_t *body, size_t len, struct vc_msg *m)
{
    struct void__reader rd = {body, len, 0};
    void__take64(&rd);
    m->view = void__take64(&rd);
    m->low = void__take64(&rd);
    m->low_digest = void__take(&rd, VOID_PBFT_DIGEST_SIZE);
    m->nproof = void__take16(&rd);
    m->proofs = rd.p;
    m->proofs_len = skip_list(&rd, m->nproof);
    m->nprep = void__take16(&rd);
    m->preps = rd.p;
    m->preps_len = rd.left;
    for (uint16_t i = 0; i < m->nprep && rd.err == 0; i++) {
        struct vc_entry e;
        vc_next(&rd, &e);
    }
    if (rd.err != 0) {
        return rd.err;
    }
    return rd.left == 0 ? 0 : VOID_EBAD_LENGTH;
}

static void null_digest(uint8_t digest[VOID_PBFT_DIGEST_SIZE])
{
    struct void_hlc_ts zero = {0, 0};
    void_pbft_batch_digest(zero, 0, NULL, 0, digest);
}

int void__pbft_carrier_check(struct void_pbft *r,
                             const uint8_t *pp,
                             size_t pp_len,
                             const uint8_t digest[VOID_PBFT_DIGEST_SIZE],
                             struct void_pbft_pre_prepare *m)
{
    uint8_t d[VOID_PBFT_DIGEST_SIZE];
    memset(m, 0, sizeof(*m));
    if (pp_len == 0) {
        null_digest(d);
        return memcmp(d, digest, VOID_PBFT_DIGEST_SIZE) == 0 ? 0 : VOID_EBAD_FIELD;
    }
    /* The pre-prepare of the primary of its view in the configuration in
     * effect at its seq, which need not be our epoch's: the primary of a
     * view moves with the voters. */
    struct void_frame fr;
    int rc = void_codec_decode(pp, pp_len, &fr);
    if (rc == 0) {
        rc = fr.type == VOID_MSG_PRE_PREPARE ? void_pbft_pre_prepare_decode(fr.body, fr.body_len, m)
                                             : VOID_EBAD_TYPE;
    }
    uint32_t voters = rc == 0 ? void__pbft_era_voters(r, m->seq) : 0;
    if (rc == 0) {
        rc = void__pbft_cert_frame_check(r, pp, pp_len, VOID_MSG_PRE_PREPARE, voters, &fr);
    }
    if (rc == 0 && fr.sender != void__pbft_primary_in(voters, m->view)) {
        rc = VOID_EUNKNOWN_SENDER;
    }
    /* Client signatures were checked by the 2f+1 replicas that vouch for
     * this batch; only its structure matters here (execution decodes it). */
    if (rc == 0) {
        rc = void__pbft_batch_check(r, m->batch, m->batch_len, m->count, 0);
    }
    if (rc != 0) {
        return rc;
    }
    void_pbft_batch_digest(m->hlc, m->count, m->batch, m->batch_len, d);
    return memcmp(d, digest, VOID_PBFT_DIGEST_SIZE) == 0 ? 0 : VOID_EBAD_FIELD;
}

int void__pbft_ckpt_proof_count(struct void_pbft *r,
                                const uint8_t *p,
                                size_t len,
                                uint16_t n_frames,
                                void_seq seq,
                                const uint8_t digest[VOID_PBFT_DIGEST_SIZE])
{
    struct void__reader rd = {p, len, 0};
    uint32_t mask = 0;
    /* A checkpoint is certified by the voters in effect at its seq: the one
     * at a change's boundary by the epoch before. */
    uint32_t voters = void__pbft_era_voters(r, seq);
    for (uint16_t i = 0; i < n_frames; i++) {
        uint16_t flen = void__take16(&rd);
        const uint8_t *f = void__take(&rd, flen);
        if (rd.err != 0) {
            return rd.err;
        }
        struct void_frame fr;
        struct void_pbft_checkpoint c;
        if (void__pbft_cert_frame_check(r, f, flen, VOID_MSG_CHECKPOINT, voters, &fr) == 0 &&
            void_pbft_checkpoint_decode(fr.body, fr.body_len, &c) == 0 && c.seq == seq &&
            memcmp(c.digest, digest, VOID_PBFT_DIGEST_SIZE) == 0) {
            mask |= VOID__BIT(fr.sender);
        }
    }
    return (int)void__popcount(mask);
}

/* Counts distinct non-primary replicas with valid prepares for e. */
static uint32_t count_prepares(struct void_pbft *r, const struct vc_entry *e)
{
    struct void__reader rd = {e->prepares, e->prepares_len, 0};
    uint32_t mask = 0;
    uint32_t voters = void__pbft_era_voters(r, e->seq);
    uint32_t primary = void__pbft_primary_in(voters, e->view);
    for (uint16_t i = 0; i < e->nprepares; i++) {
        uint16_t flen = void__take16(&rd);
        const uint8_t *f = void__take(&rd, flen);
        VOID_ASSERT(rd.err == 0); /* the list was walked by vc_parse */
        struct void_frame fr;
        struct void_pbft_vote v;
        if (void__pbft_cert_frame_check(r, f, flen, VOID_MSG_PREPARE, voters, &fr) == 0 &&
            fr.sender != primary && void_pbft_vote_decode(fr.body, fr.body_len, &v) == 0 &&
            v.view == e->view && v.seq == e->seq &&
            memcmp(v.digest, e->digest, VOID_PBFT_DIGEST_SIZE) == 0) {
            mask |= VOID__BIT(fr.sender);
        }
    }
    return void__popcount(mask);
}

/* Checks the C and P sets of a view change (TOCS'02 4.5.1). */
static int vc_validate(struct void_pbft *r, const struct vc_msg *m)
{
    if (m->view == 0 || m->low % r->cfg.checkpoint_interval != 0) {
        return VOID_EBAD_FIELD;
    }
    if (m->low == 0) {
        if (memcmp(m->low_digest, r->genesis_digest, VOID_PBFT_DIGEST_SIZE) != 0) {
            return VOID_EBAD_FIELD;
        }
    } else if (void__pbft_ckpt_proof_count(
                   r, m->proofs, m->proofs_len, m->nproof, m->low, m->low_digest) <
               (int)void__pbft_quorum_of(void__popcount(void__pbft_era_voters(r, m->low)))) {
        return VOID_EBAD_SIG; /* a quorum of the epoch in effect at low */
    }
    struct void__reader rd = {m->preps, m->preps_len, 0};
    uint64_t prev = m->low;
    for (uint16_t i = 0; i < m->nprep; i++) {
        struct vc_entry e;
        struct void_pbft_pre_prepare pp;
        VOID_ASSERT(vc_next(&rd, &e) == 0);
        if (e.seq <= prev || e.seq > m->low + r->cfg.window || e.view >= m->view) {
            return VOID_EBAD_FIELD;
        }
        prev = e.seq;
        /* Prepared in the epoch in effect at its seq, by that epoch's
         * quorum (q - 1 prepares and the primary's pre-prepare). */
        uint32_t q = void__pbft_quorum_of(void__popcount(void__pbft_era_voters(r, e.seq)));
        int bad = void__pbft_carrier_check(r, e.pp, e.pp_len, e.digest, &pp) != 0 ||
                  (e.pp_len > 0 && pp.seq != e.seq);
        if (bad || count_prepares(r, &e) < q - 1) {
            return VOID_EBAD_SIG;
        }
    }
    return 0;
}

/* Copies a view change (frame borrowed) into a slot. */
static void vc_copy(const struct void_pbft *r,
                    struct void__pbft_vc *vc,
                    void_view view,
                    const uint8_t *frame,
                    size_t len,
                    const uint8_t *digest)
{
    VOID_ASSERT(len >= VOID_PBFT_FRAME_OVERHEAD && len <= r->vc_frame_max);
    if (vc->frame != frame) {
        memmove(vc->frame, frame, len);
    }
    vc->len = (uint32_t)len;
    vc->view = view;
    memcpy(vc->digest, digest, VOID_PBFT_DIGEST_SIZE);
}

static int vc_is(const struct void__pbft_vc *vc, void_view view, const uint8_t *digest)
{
    return vc->len > 0 && vc->view == view &&
           memcmp(vc->digest, digest, VOID_PBFT_DIGEST_SIZE) == 0;
}

/* The view change from id for view with this digest, as a NEW-VIEW names
 * it: the latest from id, or the one kept for NEW-VIEW; NULL if neither. */
static const struct void__pbft_vc *
named_vc(const struct void_pbft *r, uint32_t id, void_view view, const uint8_t *digest)
{
    VOID_ASSERT(id < r->cfg.n);
    if (vc_is(&r->vc[id], view, digest)) {
        return &r->vc[id];
    }
    return vc_is(&r->nv_vc[id], view, digest) ? &r->nv_vc[id] : NULL;
}

/* Walks the (replica, digest) names of the stored NEW-VIEW; calls fn on
 * each until it returns nonzero, and returns that (0 if malformed). */
static int nv_each_name(
    struct void_pbft *r,
    int (*fn)(struct void_pbft *r, void_view view, uint32_t id, const uint8_t *digest, void *arg),
    void *arg)
{
    if (r->nv_len < VOID_PBFT_FRAME_OVERHEAD) {
        return 0;
    }
    struct void__reader rd = {
        r->nv_frame + VOID_CODEC_HEADER_SIZE, r->nv_len - VOID_PBFT_FRAME_OVERHEAD, 0};
    void__take64(&rd);
    void_view view = void__take64(&rd);
    uint16_t nvc = void__take16(&rd);
    for (uint16_t i = 0; i < nvc && i < VOID_PBFT_N_MAX; i++) {
        uint32_t id = void__take32(&rd);
        const uint8_t *d = void__take(&rd, VOID_PBFT_DIGEST_SIZE);
        if (rd.err != 0 || id >= r->cfg.n) {
            return 0;
        }
        int rc = fn(r, view, id, d, arg);
        if (rc != 0) {
            return rc;
        }
    }
    return 0;
}

/* The O set of NEW-VIEW, computed from a set of view changes. */
struct o_set {
    void_seq min_s, max_s;
    uint8_t have[VOID_PBFT_WINDOW_MAX];
    uint64_t view[VOID_PBFT_WINDOW_MAX];
    uint8_t digest[VOID_PBFT_WINDOW_MAX][VOID_PBFT_DIGEST_SIZE];
    const uint8_t *pp[VOID_PBFT_WINDOW_MAX];
    uint32_t pp_len[VOID_PBFT_WINDOW_MAX];
};

static void vc_body(const struct void__pbft_vc *vc, const uint8_t **body, size_t *len)
{
    VOID_ASSERT(vc->len >= VOID_PBFT_FRAME_OVERHEAD);
    *body = vc->frame + VOID_CODEC_HEADER_SIZE;
    *len = vc->len - VOID_PBFT_FRAME_OVERHEAD;
}

static void compute_o(struct void_pbft *r,
                      const struct void__pbft_vc *const *vcs,
                      uint32_t nids,
                      struct o_set *o)
{
    memset(o, 0, sizeof(*o));
    struct vc_msg m;
    for (uint32_t i = 0; i < nids; i++) {
        const uint8_t *body;
        size_t len;
        vc_body(vcs[i], &body, &len);
        VOID_ASSERT(vc_parse(body, len, &m) == 0);
        o->min_s = m.low > o->min_s ? m.low : o->min_s;
    }
    o->max_s = o->min_s;
    for (uint32_t i = 0; i < nids; i++) {
        const uint8_t *body;
        size_t len;
        vc_body(vcs[i], &body, &len);
        VOID_ASSERT(vc_parse(body, len, &m) == 0);
        struct void__reader rd = {m.preps, m.preps_len, 0};
        for (uint16_t j = 0; j < m.nprep; j++) {
            struct vc_entry e;
            VOID_ASSERT(vc_next(&rd, &e) == 0);
            if (e.seq <= o->min_s || e.seq > o->min_s + r->cfg.window) {
                continue;
            }
            uint64_t k = e.seq - o->min_s - 1;
            if (!o->have[k] || e.view > o->view[k]) {
                o->have[k] = 1;
                o->view[k] = e.view;
                memcpy(o->digest[k], e.digest, VOID_PBFT_DIGEST_SIZE);
                o->pp[k] = e.pp;
                o->pp_len[k] = e.pp_len;
            }
            o->max_s = e.seq > o->max_s ? e.seq : o->max_s;
        }
    }
    for (uint64_t k = 0; k < o->max_s - o->min_s; k++) {
        if (!o->have[k]) {
            null_digest(o->digest[k]); /* a gap: nobody prepared it, fill with a null batch */
        }
    }
}

static void install_new_view(struct void_pbft *r,
                             uint64_t now_ns,
                             void_view view,
                             const struct o_set *o,
                             struct void_pbft_out *out)
{
    VOID_ASSERT(view >= r->view);
    VOID_ASSERT(o->max_s >= o->min_s);
    if (view > r->view) {
        r->prepare_horizon = 0; /* a view we never changed to: no prepare of ours in it */
    }
    r->view = view;
    r->view_changing = 0;
    r->view_installed = view;
    r->vc_attempts = 0;
    r->request_timer_armed = 0;
    r->stats.view_changes++;
    void__pbft_note(r, out, VOID_PBFT_EVENT_VIEW_CHANGE, view, 0);
    /* The horizon covers the re-proposals we are about to prepare, in the
     * record that installing the view writes anyway. */
    void_seq top = o->max_s > r->low ? o->max_s : r->low;
    if (r->prepare_horizon < top + VOID_PBFT_PREPARE_SLACK) {
        r->prepare_horizon = top + VOID_PBFT_PREPARE_SLACK;
    }
    void__pbft_persist_view(r, out);
    void__pbft_timer_cancel(r, out, VOID_PBFT_TIMER_VIEW_CHANGE);
    r->vc_timer_armed = 0;
    for (uint32_t i = 0; i < r->pending_count; i++) {
        r->pending[i].batched = 0;
    }
    int primary = void_pbft_primary_of(r, view) == r->cfg.self;
    for (uint64_t k = 0; k < o->max_s - o->min_s; k++) {
        void_seq seq = o->min_s + 1 + k;
        if (seq <= r->last_executed || seq <= r->low || seq > r->low + r->cfg.window) {
            continue;
        }
        struct void__pbft_entry *e = void__pbft_slot(r, seq);
        if (e->used && e->seq == seq && e->committed) {
            /* Safety: whatever committed here must be what the new view keeps. */
            VOID_ASSERT(memcmp(e->digest, o->digest[k], VOID_PBFT_DIGEST_SIZE) == 0);
            continue;
        }
        struct void_pbft_pre_prepare m;
        VOID_ASSERT(void__pbft_carrier_check(r, o->pp[k], o->pp_len[k], o->digest[k], &m) == 0);
        void__pbft_entry_reset(r, e, view, seq);
        void__pbft_entry_set_batch(e, o->pp[k], o->pp_len[k], &m, o->digest[k]);
        if (!primary) {
            void__pbft_send_prepare(r, now_ns, e, out);
        }
    }
    top = o->max_s > r->last_executed ? o->max_s : r->last_executed;
    top = top > r->low ? top : r->low;
    r->next_seq = top + 1;
    if (o->min_s > r->last_executed) {
        void__pbft_fetch_state(r, now_ns, out, 1);
    }
    void__pbft_arm_request_timer(r, out, 1);
    void__pbft_try_batch(r, now_ns, out);
}

/* ---- epochs ------------------------------------------------------------------ */

void void__pbft_view_epoch_switch(struct void_pbft *r, uint64_t now_ns, struct void_pbft_out *out)
{
    VOID_ASSERT(r->started);
    VOID_ASSERT(r->low >= r->era_bound); /* the epoch in effect above low is latest */
    /* The view changes we hold were checked by the old epoch's rules: a
     * prepared certificate above the boundary by the old primary of its
     * view and the old quorum. Check them again by the configuration in
     * effect at each sequence number, and drop what no longer holds. */
    for (uint32_t i = 0; i < r->cfg.n; i++) {
        struct void__pbft_vc *slots[2] = {&r->vc[i], &r->nv_vc[i]};
        for (uint32_t k = 0; k < 2; k++) {
            struct vc_msg m;
            const uint8_t *body;
            size_t len;
            if (slots[k]->len == 0) {
                continue;
            }
            vc_body(slots[k], &body, &len);
            if (vc_parse(body, len, &m) != 0 || vc_validate(r, &m) != 0) {
                slots[k]->len = 0;
            }
        }
    }
    /* A NEW-VIEW of the old epoch is no warrant to vote in the new one. */
    r->nv_len = 0;
    r->nv_installed = 0;
    if (r->view == 0 && !r->view_changing) {
        /* No NEW-VIEW of view 0 exists in any epoch, and nothing above low
         * was voted on by anyone honest in the old one: the new epoch's
         * primary of view 0 starts afresh at low + 1, as at genesis. */
        return;
    }
    /* Our view was installed (or is being changed to) under the old epoch,
     * whose primary of it may not be the new one's, and the new epoch's
     * replicas may have installed it by a NEW-VIEW we never checked: vote
     * in it only after a NEW-VIEW of the new epoch. We change to it again;
     * its primary in the new epoch answers with its NEW-VIEW (or builds one
     * from the view changes of the new epoch's voters). */
    if (!r->view_changing) {
        r->view_changing = 1;
        r->vc_attempts = 0;
    }
    /* Our prepares in it lie at or below the boundary, so at or below low:
     * no prepare we send after the new NEW-VIEW can contradict them. */
    r->prepare_horizon = 0;
    void__pbft_start_view_change(r, now_ns, r->view, out);
    /* Our view change went out, unless it completed a NEW-VIEW of ours. */
    VOID_ASSERT(r->vc[r->cfg.self].len == 0 || r->vc[r->cfg.self].view == r->view);
    VOID_ASSERT(r->view_changing || r->nv_installed);
}

/* ---- NEW-VIEW --------------------------------------------------------------- */

/* The new primary: once 2f+1 view changes for its view are in, announce and
 * install the new view. */
static void check_new_view(struct void_pbft *r, uint64_t now_ns, struct void_pbft_out *out)
{
    if (!r->view_changing || void_pbft_primary_of(r, r->view) != r->cfg.self) {
        return;
    }
    uint32_t ids[VOID_PBFT_N_MAX] = {0}, nids = 0;
    for (uint32_t i = 0; i < r->cfg.n && nids < void__pbft_quorum(r); i++) {
        if (r->vc[i].len > 0 && r->vc[i].view == r->view && void__pbft_is_voter(r, i)) {
            ids[nids++] = i;
        }
    }
    if (nids < void__pbft_quorum(r)) {
        return;
    }
    const struct void__pbft_vc *vcs[VOID_PBFT_N_MAX] = {0};
    for (uint32_t i = 0; i < nids; i++) {
        vcs[i] = &r->vc[ids[i]];
    }
    struct o_set o_set;
    struct o_set *o = &o_set;
    compute_o(r, vcs, nids, o);
    uint8_t *b = r->scratch;
    size_t off = 8;
    void__put64(b + off, r->view);
    void__put16(b + off + 8, (uint16_t)nids);
    off += 10;
    for (uint32_t i = 0; i < nids; i++) {
        void__put32(b + off, ids[i]);
        memcpy(b + off + 4, r->vc[ids[i]].digest, VOID_PBFT_DIGEST_SIZE);
        off += 4 + VOID_PBFT_DIGEST_SIZE;
    }
    void__put64(b + off, o->min_s);
    void__put16(b + off + 8, (uint16_t)(o->max_s - o->min_s));
    off += 10;
    for (uint64_t k = 0; k < o->max_s - o->min_s; k++) {
        void__put64(b + off, o->min_s + 1 + k);
        memcpy(b + off + 8, o->digest[k], VOID_PBFT_DIGEST_SIZE);
        off += 8 + VOID_PBFT_DIGEST_SIZE;
    }
    const uint8_t *frame;
    size_t len;
    if (void__pbft_frame(r, now_ns, out, VOID_PBFT_TO_ALL, VOID_MSG_NEW_VIEW, off, &frame, &len) !=
        0) {
        return;
    }
    VOID_ASSERT(len <= VOID_PBFT_NV_FRAME_MAX);
    memcpy(r->nv_frame, frame, len);
    r->nv_len = (uint32_t)len;
    r->nv_installed = 1;
    for (uint32_t i = 0; i < nids; i++) {
        /* Kept for replicas that miss NEW-VIEW, whatever vc[] holds later. */
        const struct void__pbft_vc *vc = &r->vc[ids[i]];
        vc_copy(r, &r->nv_vc[ids[i]], vc->view, vc->frame, vc->len, vc->digest);
    }
    install_new_view(r, now_ns, r->view, o, out);
    void__pbft_send(r, out, VOID_PBFT_TO_ALL, VOID_MSG_NEW_VIEW, frame, len);
}

/* A backup: install the stored NEW-VIEW once every view change it names is
 * here, if its O set is the one those view changes determine. */
static void try_install_new_view(struct void_pbft *r, uint64_t now_ns, struct void_pbft_out *out)
{
    if (r->nv_len == 0 || r->nv_installed) {
        return;
    }
    struct void__reader rd = {
        r->nv_frame + VOID_CODEC_HEADER_SIZE, r->nv_len - VOID_PBFT_FRAME_OVERHEAD, 0};
    void__take64(&rd);
    void_view view = void__take64(&rd);
    uint16_t nvc = void__take16(&rd);
    uint32_t mask = 0;
    const struct void__pbft_vc *vcs[VOID_PBFT_N_MAX] = {0};
    if (view < r->view || (view == r->view && !r->view_changing)) {
        r->nv_len = 0;
        return;
    }
    for (uint16_t i = 0; i < nvc && i < VOID_PBFT_N_MAX; i++) {
        uint32_t id = void__take32(&rd);
        const uint8_t *d = void__take(&rd, VOID_PBFT_DIGEST_SIZE);
        if (rd.err != 0 || id >= r->cfg.n || (mask & VOID__BIT(id)) ||
            !void__pbft_is_voter(r, id)) {
            break; /* a view change from outside our epoch counts for nothing */
        }
        mask |= VOID__BIT(id);
        vcs[i] = named_vc(r, id, view, d);
        if (vcs[i] == NULL) {
            return; /* wait: the new primary re-sends the view changes it names */
        }
    }
    struct o_set o_set;
    struct o_set *o = &o_set;
    void_seq min_s = void__take64(&rd);
    uint16_t no = void__take16(&rd);
    int ok = rd.err == 0 && nvc <= VOID_PBFT_N_MAX && void__popcount(mask) == nvc &&
             nvc >= void__pbft_quorum(r);
    if (ok) {
        compute_o(r, vcs, nvc, o);
        ok = o->min_s == min_s && o->max_s - o->min_s == no;
    }
    for (uint16_t k = 0; ok && k < no; k++) {
        void_seq seq = void__take64(&rd);
        const uint8_t *d = void__take(&rd, VOID_PBFT_DIGEST_SIZE);
        ok = rd.err == 0 && seq == min_s + 1 + k &&
             memcmp(d, o->digest[k], VOID_PBFT_DIGEST_SIZE) == 0;
    }
    if (!ok || rd.left != 0) {
        r->stats.rx_bad_certificate++;
        r->nv_len = 0;
        return;
    }
    r->nv_installed = 1;
    install_new_view(r, now_ns, view, o, out);
}

/* ---- VIEW-CHANGE ------------------------------------------------------------- */

/* Writes one P entry: (view, seq, digest), the carrier pre-prepare frame and
 * count prepare frames. Returns its size. */
static size_t put_cert(uint8_t *p,
                       void_view view,
                       void_seq seq,
                       const uint8_t *digest,
                       const uint8_t *pp,
                       uint32_t pp_len,
                       uint16_t count,
                       const uint8_t *const *frames,
                       const uint16_t *lens)
{
    void__put64(p, view);
    void__put64(p + 8, seq);
    memcpy(p + 16, digest, VOID_PBFT_DIGEST_SIZE);
    void__put32(p + 16 + VOID_PBFT_DIGEST_SIZE, pp_len);
    size_t off = VC_ENTRY_HEAD;
    memcpy(p + off, pp, pp_len);
    off += pp_len;
    void__put16(p + off, count);
    off += 2;
    for (uint16_t i = 0; i < count; i++) {
        void__put16(p + off, lens[i]);
        memcpy(p + off + 2, frames[i], lens[i]);
        off += 2u + lens[i];
    }
    return off;
}

/* The P entry for e: its prepared certificate of the current entry view, or
 * the one it kept from an earlier view. Returns 0 if it has neither. */
static size_t put_prepared(struct void_pbft *r, const struct void__pbft_entry *e, uint8_t *p)
{
    const uint8_t *frames[VOID_PBFT_N_MAX];
    uint16_t lens[VOID_PBFT_N_MAX];
    uint16_t n = 0;
    if (e->prepared && e->have_batch) {
        uint32_t primary = void_pbft_primary_of(r, e->view);
        for (uint32_t i = 0; i < VOID_PBFT_N_MAX && n < void__pbft_prepare_quorum(r); i++) {
            if ((e->prepare_mask & VOID__BIT(i)) && i != primary && e->prepare_len[i] > 0 &&
                memcmp(e->prepare_digest[i], e->digest, VOID_PBFT_DIGEST_SIZE) == 0) {
                frames[n] = e->prepare_frame[i];
                lens[n++] = e->prepare_len[i];
            }
        }
        return put_cert(p, e->view, e->seq, e->digest, e->pp_frame, e->pp_len, n, frames, lens);
    }
    if (!e->pc_valid) {
        return 0;
    }
    for (n = 0; n < e->pc_count; n++) {
        frames[n] = e->pc_prepare_frame[n];
        lens[n] = e->pc_prepare_len[n];
    }
    return put_cert(
        p, e->pc_view, e->seq, e->pc_digest, e->pc_pp_frame, e->pc_pp_len, n, frames, lens);
}

static size_t build_view_change(struct void_pbft *r)
{
    uint8_t *b = r->scratch;
    size_t off = 8;
    void__put64(b + off, r->view);
    void__put64(b + off + 8, r->low);
    memcpy(b + off + 16, r->low_digest, VOID_PBFT_DIGEST_SIZE);
    off += 16 + VOID_PBFT_DIGEST_SIZE;
    uint16_t nproof = r->low > 0 ? (uint16_t)r->stable_proof_count : 0;
    void__put16(b + off, nproof);
    off += 2;
    for (uint16_t i = 0; i < nproof; i++) {
        void__put16(b + off, r->stable_proof_len[i]);
        memcpy(b + off + 2, r->stable_proof[i], r->stable_proof_len[i]);
        off += 2u + r->stable_proof_len[i];
    }
    size_t count_at = off;
    uint16_t nprep = 0;
    off += 2;
    for (void_seq seq = r->low + 1; seq <= r->low + r->cfg.window; seq++) {
        const struct void__pbft_entry *e = void__pbft_slot(r, seq);
        if (!e->used || e->seq != seq) {
            continue;
        }
        size_t len = put_prepared(r, e, b + off);
        off += len;
        nprep = (uint16_t)(nprep + (len > 0));
    }
    void__put16(b + count_at, nprep);
    VOID_ASSERT(off + VOID_PBFT_FRAME_OVERHEAD <= r->vc_frame_max);
    return off;
}

/* The NEW-VIEW timer runs only once 2f+1 view changes for our view (or
 * later ones) are in
 * (TOCS'02 4.5.2): before that, the new primary cannot be blamed, and a
 * replica that timed out alone must not race ahead of the others (it waits,
 * and joins them when f+1 of them are in a higher view). The timeout doubles
 * with each failed view. */
static void arm_view_change_timer(struct void_pbft *r, struct void_pbft_out *out)
{
    if (!r->view_changing || r->vc_timer_armed) {
        return;
    }
    /* A view change for a higher view also gives up on ours. */
    uint32_t count = 0;
    for (uint32_t i = 0; i < r->cfg.n; i++) {
        count += r->vc[i].len > 0 && r->vc[i].view >= r->view && void__pbft_is_voter(r, i);
    }
    if (count < void__pbft_quorum(r)) {
        return;
    }
    VOID_ASSERT(r->vc_attempts >= 1);
    uint32_t shift = r->vc_attempts - 1 < 10 ? r->vc_attempts - 1 : 10;
    void__pbft_timer_set(
        r, out, VOID_PBFT_TIMER_VIEW_CHANGE, r->cfg.view_change_timeout_ns << shift);
    r->vc_timer_armed = 1;
}

void void__pbft_start_view_change(struct void_pbft *r,
                                  uint64_t now_ns,
                                  void_view view,
                                  struct void_pbft_out *out)
{
    VOID_ASSERT(view > r->view || (view == r->view && r->view_changing));
    VOID_ASSERT(r->started);
    if (!r->view_changing || r->vc_attempts == 0) {
        /* Leaving an installed view (or resuming after a crash): a batch
         * beyond everything we have seen so far, committed in a view, is
         * fresh evidence that the others are live in it (rejoin_view). */
        r->vc_exec_mark = r->seen_max > r->last_executed ? r->seen_max : r->last_executed;
        r->vc_since_ns = now_ns;
    }
    if (view > r->view) {
        r->prepare_horizon = 0; /* no prepare in a view we have not installed */
    }
    r->view = view;
    r->view_changing = 1;
    r->vc_attempts++;
    /* The VIEW record below, persisted before the VIEW-CHANGE, keeps this:
     * no vote of ours below it may follow the view change (Rejoining). */
    r->vote_view_min = view > r->vote_view_min ? view : r->vote_view_min;
    if (r->request_timer_armed) {
        void__pbft_timer_cancel(r, out, VOID_PBFT_TIMER_REQUEST);
        r->request_timer_armed = 0;
    }
    for (uint32_t i = 0; i < r->pending_count; i++) {
        r->pending[i].batched = 0;
    }
    void__pbft_persist_view(r, out); /* never go back to an older view after a crash */
    size_t body = build_view_change(r);
    const uint8_t *frame;
    size_t len;
    if (void__pbft_frame(
            r, now_ns, out, VOID_PBFT_TO_ALL, VOID_MSG_VIEW_CHANGE, body, &frame, &len) == 0) {
        struct void_hash digest;
        void_hash_compute(frame, len, &digest);
        vc_copy(r, &r->vc[r->cfg.self], view, frame, len, digest.b);
        void__pbft_send(r, out, VOID_PBFT_TO_ALL, VOID_MSG_VIEW_CHANGE, frame, len);
    }
    r->vc_timer_armed = 0;
    void__pbft_timer_cancel(r, out, VOID_PBFT_TIMER_VIEW_CHANGE);
    arm_view_change_timer(r, out);
    check_new_view(r, now_ns, out);
    try_install_new_view(r, now_ns, out);
}

void void__pbft_resend_view_change(struct void_pbft *r, struct void_pbft_out *out)
{
    const struct void__pbft_vc *vc = &r->vc[r->cfg.self];
    if (vc->len > 0 && vc->view == r->view) {
        void__pbft_send_copy(r, out, VOID_PBFT_TO_ALL, VOID_MSG_VIEW_CHANGE, vc->frame, vc->len);
    }
}

struct resend {
    struct void_pbft_out *out;
    uint32_t to;
};

static int
resend_named(struct void_pbft *r, void_view view, uint32_t id, const uint8_t *digest, void *arg)
{
    const struct resend *x = arg;
    const struct void__pbft_vc *vc = named_vc(r, id, view, digest);
    if (vc == NULL) {
        /* The primary kept every view change it named, but across an epoch
         * change (docs/membership.md) one named in the old epoch may be
         * gone: re-send the others; the receiver that lacks it moves on to
         * the next view on its timer. */
        VOID_ASSERT(r->stats.epoch_changes > 0);
        return 0;
    }
    void__pbft_send_copy(r, x->out, x->to, VOID_MSG_VIEW_CHANGE, vc->frame, vc->len);
    return 0;
}

/* The installed view helps a replica that missed NEW-VIEW (it still sends
 * view changes for it, messages of an older view, or a FETCH_STATE from an
 * older view, as after a restart). Its primary re-sends NEW-VIEW and every
 * view change it names, including the replica's own, which that replica may
 * have lost in a crash, and those whose senders have moved on to later
 * views since (kept in nv_vc). A backup re-sends its own view change for the
 * view, if it sent one: a replica that lost the view changes in a crash
 * and whose new primary is faulty (silent to it) otherwise never sees the
 * 2f+1 that start its view-change timer, and one in an older view never
 * sees the f+1 that make it join (voidsim seed 27805 with the rejoin beacon:
 * two honest replicas waited in different view changes for ever while the
 * third, which had executed every request, stayed in the view). At most
 * once per retransmit period per replica. */
void void__pbft_resend_new_view(struct void_pbft *r,
                                uint64_t now_ns,
                                uint32_t to,
                                struct void_pbft_out *out)
{
    int primary = void_pbft_primary_of(r, r->view) == r->cfg.self;
    const struct void__pbft_vc *own = &r->vc[r->cfg.self];
    if (r->view_changing || to >= r->cfg.n || to == r->cfg.self ||
        (primary && (r->nv_len == 0 || !r->nv_installed)) ||
        (!primary && (!r->cfg.rejoin_beacon || own->len == 0 || own->view != r->view))) {
        return;
    }
    if (r->nv_resent_ns[to] != 0 && now_ns - r->nv_resent_ns[to] < r->cfg.retransmit_ns) {
        return;
    }
    r->nv_resent_ns[to] = now_ns == 0 ? 1 : now_ns;
    if (!primary) {
        void__pbft_send_copy(r, out, to, VOID_MSG_VIEW_CHANGE, own->frame, own->len);
        return;
    }
    void__pbft_send_copy(r, out, to, VOID_MSG_NEW_VIEW, r->nv_frame, r->nv_len);
    struct resend x = {out, to};
    (void)nv_each_name(r, resend_named, &x);
}

/* Rejoining (docs/pbft.md). A replica that changes view alone -- its request
 * timer fired while the primary was fine for everyone else, say because it
 * was starved or cut off -- waits for NEW-VIEW in a view nobody else asks for
 * (TOCS'02 4.5.2 keeps it from racing ahead), while the others go on
 * committing in the view it left. It keeps up through their commits and
 * state transfer, but it counts for nothing in their quorums: one more
 * fault stops the cluster until a full view change. A batch it executes on
 * a certificate of 2f+1 COMMITs of a lower view w, at a sequence number
 * beyond any it had seen when it left (a batch it merely executes late
 * proves nothing new), is evidence that a quorum is live in w, so
 * it goes back to w, unless 2f+1 replicas are with it in a view change.
 * While the clients are idle no such batch comes, so w's primary proposes
 * an empty one when it hears a VIEW-CHANGE for a later view
 * (void__pbft_propose_beacon): a lone replica is back within a few
 * retransmit periods, not at the next client request.
 *
 * Why that is safe. The one thing the VIEW-CHANGE for v' we sent promised is
 * that its P set holds every prepared certificate our later votes in views
 * below v' could contribute to: a NEW-VIEW for v' may still be built with it,
 * and the quorum intersection (TOCS'02 4.5) needs the honest replica common
 * to a commit quorum and the view-change quorum to report what it
 * committed. We cannot un-send it, so we keep that promise instead of
 * withdrawing it: back in w < v' we send no PREPARE and no first COMMIT
 * (vote_view_min, persisted in the VIEW record before the VIEW-CHANGE, so also
 * after a crash). Every vote we cast below v' therefore predates our
 * VIEW-CHANGE, which reports it, exactly as if we had stayed in v'. What we
 * do in w is what any replica may do in any view: execute batches that 2f+1
 * commits certify, take checkpoints, answer clients and FETCH_STATE, and
 * count the others' votes. Our view number goes down, which PBFT never does,
 * but nothing else relies on it: our later view changes carry only truthful
 * certificates, and views we install later are above every view we voted
 * in. Once the cluster reaches v' we vote again.
 *
 * The same evidence for the very view v we are changing to means that v was
 * installed and its NEW-VIEW did not reach us (its primary re-sends it to a
 * replica that asks, unless it is faulty or silent towards us: after a
 * request timeout we stop waiting for it). Without it
 * we do not know the re-proposals v started from, so we join v as a
 * non-voter too (vote_view_min = v + 1) and vote again from v + 1 on. */
void void__pbft_rejoin_view(struct void_pbft *r,
                            uint64_t now_ns,
                            void_view view,
                            void_seq seq,
                            struct void_pbft_out *out)
{
    VOID_ASSERT(r->started);
    VOID_ASSERT(seq == r->last_executed && seq > 0);
    if (void_pbft_primary_of(r, view) == r->cfg.self) {
        return; /* a view of ours that we left (a hand-off): not the others' */
    }
    if (view > r->view) {
        /* The others commit in a view we never installed: we missed its
         * NEW-VIEW, and while we keep up through their commits and STATE our
         * request timer sees progress and never fires, which is how a
         * laggard used to get there. Ask for it now: the primary of that
         * view answers a VIEW-CHANGE for its own view with its NEW-VIEW and
         * the view changes it names (void__pbft_resend_new_view). */
        void__pbft_start_view_change(r, now_ns, view, out);
        return;
    }
    if (VOID__MUTANT_NO_REJOIN || !r->view_changing || seq <= r->vc_exec_mark) {
        return;
    }
    uint32_t with_us = 0;
    for (uint32_t i = 0; i < r->cfg.n; i++) {
        with_us += r->vc[i].len > 0 && r->vc[i].view >= r->view && void__pbft_is_voter(r, i);
    }
    if (view < r->view && with_us >= void__pbft_quorum(r)) {
        return; /* a real view change: NEW-VIEW is due */
    }
    if (view == r->view &&
        (now_ns < r->vc_since_ns || now_ns - r->vc_since_ns < r->cfg.request_timeout_ns)) {
        return; /* its primary re-sends NEW-VIEW within a retransmit period: wait for it */
    }
    /* Into a lower view, or into the one we were changing to but whose
     * NEW-VIEW never reached us (its primary did not re-send it: silent to
     * us, or down): either way without a vote there, below. */
    r->vote_view_min = view + 1 > r->vote_view_min ? view + 1 : r->vote_view_min;
    r->view = view;
    r->view_changing = 0;
    r->view_installed = view;
    r->vc_attempts = 0;
    r->vc_timer_armed = 0;
    r->prepare_horizon = 0;
    r->nv_len = 0;
    r->nv_installed = 0;
    r->stats.view_rejoins++;
    void__pbft_timer_cancel(r, out, VOID_PBFT_TIMER_VIEW_CHANGE);
    void__pbft_persist_view(r, out);
    VOID_ASSERT(r->view < r->vote_view_min && !r->view_changing);
    void__pbft_arm_request_timer(r, out, 1);
}

/* f+1 replicas want views above ours: at least one is honest, so join the
 * smallest of them rather than wait for our own timer (TOCS'02 4.5.2). */
static void join_higher_view(struct void_pbft *r, uint64_t now_ns, struct void_pbft_out *out)
{
    uint32_t count = 0;
    void_view target = UINT64_MAX;
    for (uint32_t i = 0; i < r->cfg.n; i++) {
        if (i != r->cfg.self && r->vc[i].len > 0 && r->vc[i].view > r->view &&
            void__pbft_is_voter(r, i)) {
            count++;
            target = r->vc[i].view < target ? r->vc[i].view : target;
        }
    }
    if (count >= r->f + 1 && target != UINT64_MAX) {
        void__pbft_start_view_change(r, now_ns, target, out);
    }
}

struct wanted {
    uint32_t sender;
    void_view view;
    const uint8_t *digest;
};

/* Whether the stored NEW-VIEW names this view change and we hold it nowhere. */
static int
names_missing(struct void_pbft *r, void_view view, uint32_t id, const uint8_t *digest, void *arg)
{
    const struct wanted *q = arg;
    return view == q->view && id == q->sender &&
           memcmp(digest, q->digest, VOID_PBFT_DIGEST_SIZE) == 0 &&
           named_vc(r, id, view, digest) == NULL;
}

void void__pbft_on_view_change(struct void_pbft *r,
                               uint64_t now_ns,
                               const uint8_t *buf,
                               size_t len,
                               const struct void_frame *fr,
                               struct void_pbft_out *out)
{
    struct vc_msg m;
    if (len > r->vc_frame_max || vc_parse(fr->body, fr->body_len, &m) != 0) {
        r->stats.rx_malformed++;
        return;
    }
    if (m.view < r->view || (m.view == r->view && !r->view_changing)) {
        if (!r->view_changing) {
            void__pbft_resend_new_view(r, now_ns, fr->sender, out); /* it lags behind our view */
        }
        r->stats.rx_stale++;
        return;
    }
    if (m.view > r->view && !r->view_changing) {
        /* It leaves our view; if it is alone, an empty batch lets it come
         * back while the clients are idle (void__pbft_propose_beacon). */
        void__pbft_propose_beacon(r, now_ns, fr->sender, out);
    }
    struct void_hash digest;
    void_hash_compute(buf, len, &digest);
    const struct void__pbft_vc *have = &r->vc[fr->sender];
    int superseded = have->len > 0 && (have->view > m.view ||
                                       memcmp(have->digest, digest.b, VOID_PBFT_DIGEST_SIZE) == 0);
    struct wanted q = {fr->sender, m.view, digest.b};
    int wanted = !r->nv_installed && nv_each_name(r, names_missing, &q);
    if (superseded && !wanted) {
        r->stats.rx_duplicate++;
        return;
    }
    if (vc_validate(r, &m) != 0) {
        r->stats.rx_bad_certificate++;
        return;
    }
    if (superseded) {
        /* Older than the latest from its sender, but the NEW-VIEW we wait
         * for names it (relayed by the new primary): keep it for that. */
        vc_copy(r, &r->nv_vc[fr->sender], m.view, buf, len, digest.b);
        try_install_new_view(r, now_ns, out);
        return;
    }
    vc_copy(r, &r->vc[fr->sender], m.view, buf, len, digest.b);
    arm_view_change_timer(r, out);
    join_higher_view(r, now_ns, out);
    check_new_view(r, now_ns, out);
    try_install_new_view(r, now_ns, out);
}

void void__pbft_on_new_view(struct void_pbft *r,
                            uint64_t now_ns,
                            const uint8_t *buf,
                            size_t len,
                            const struct void_frame *fr,
                            struct void_pbft_out *out)
{
    if (len > VOID_PBFT_NV_FRAME_MAX || fr->body_len < 16) {
        r->stats.rx_malformed++;
        return;
    }
    void_view view = void__get64(fr->body + 8);
    if (fr->sender != void_pbft_primary_of(r, view)) {
        r->stats.rx_not_primary++;
        return;
    }
    if (view < r->view || (view == r->view && !r->view_changing)) {
        r->stats.rx_stale++;
        return;
    }
    memcpy(r->nv_frame, buf, len);
    r->nv_len = (uint32_t)len;
    r->nv_installed = 0;
    try_install_new_view(r, now_ns, out);
}
