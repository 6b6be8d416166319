/*
 * PBFT replica core, normal case (Castro & Liskov, TOCS'02 section 4.2-4.3):
 * requests, pre-prepare, prepare, commit, in-order execution with replies,
 * checkpoints with watermarks and log garbage collection, timers and
 * retransmission. View changes live in pbft_view.c, state transfer and
 * persistence in pbft_state.c.
 *
 * The core is a pure state machine: inputs arrive through the step
 * functions, outputs leave as effects (include/void/pbft.h). Every frame from
 * the network is authenticated, checked against the current view and window
 * and either acted on or dropped with exactly one counter incremented; peer
 * input never reaches an assertion.
 */
#include "void/pbft.h"

#include "core/pbft_int.h"
#include "void/assert.h"
#include "void/error.h"
#include "void/hash.h"
#include "void/membership.h"

#include <stdlib.h>
#include <string.h>

/* ---- small helpers -------------------------------------------------------- */

uint32_t void__popcount(uint32_t x)
{
    uint32_t c = 0;
    for (; x != 0; x &= x - 1) {
        c++;
    }
    return c;
}

/* The one place the replica's quorum comes from (pbft_int.h). It takes n
 * from the voters of the replica's epoch (pbft_epoch.c), so an epoch change
 * only has to swap them. */
uint32_t void__pbft_quorum_of(uint32_t nv)
{
    VOID_ASSERT(nv > 0 && nv <= VOID_PBFT_N_MAX);
#if defined(VOID_MUTANT_QUORUM_2F1) && VOID_MUTANT_QUORUM_2F1
    return 2 * void_membership_f(nv) + 1; /* unsafe for n != 3f + 1: for the mutation test only */
#elif defined(VOID_MUTANT_QUORUM_2F) && VOID_MUTANT_QUORUM_2F
    /* Every quorum one short (2f at n = 3f + 1): two quorums may share no
     * replica. For scripts/chaos-mutant only: the live engine must catch it. */
    return void_membership_f(nv) > 0 ? 2 * void_membership_f(nv) : 1;
#else
    uint32_t q = void_membership_quorum(nv);
    VOID_ASSERT(q >= 1 && q + void_membership_f(nv) <= nv); /* n - f live replicas form one */
    return q;
#endif
}

uint32_t void__pbft_quorum(const struct void_pbft *r)
{
    VOID_ASSERT(r->nv > 0 && r->f == void_membership_f(r->nv));
    return void__pbft_quorum_of(r->nv);
}

/* Test-only mutant (bench/clients_10k.sh --mutant): the last request of a
 * client session, executed before, is taken as new when it comes again, and
 * the state machine executes it again (src/core/sm.c). */
#if defined(VOID_MUTANT_NO_AT_MOST_ONCE) && VOID_MUTANT_NO_AT_MOST_ONCE
#define MUTANT_NO_AT_MOST_ONCE 1
#else
#define MUTANT_NO_AT_MOST_ONCE 0
#endif

uint32_t void__pbft_prepare_quorum(const struct void_pbft *r)
{
    return void__pbft_quorum(r) - 1; /* the primary's pre-prepare is its vote */
}

uint32_t void__pbft_commit_quorum(const struct void_pbft *r)
{
    uint32_t q = void__pbft_quorum(r);
#if defined(VOID_MUTANT_WEAK_COMMIT) && VOID_MUTANT_WEAK_COMMIT
    return q > 1 ? q - 1 : 1; /* the weakened quorum: unsafe, for the mutation test only */
#else
    return q;
#endif
}

uint32_t void_pbft_primary(void_view v, uint32_t n)
{
    VOID_ASSERT(n > 0);
    return (uint32_t)(v % n);
}

static int is_primary(const struct void_pbft *r)
{
    return void_pbft_primary_of(r, r->view) == r->cfg.self;
}

struct void__pbft_entry *void__pbft_slot(struct void_pbft *r, void_seq seq)
{
    VOID_ASSERT(r->cfg.window > 0);
    return &r->log[seq % r->cfg.window];
}

/* Keeps e's prepared certificate (batch carrier and q - 1 prepares from
 * backups) as its pc_* certificate. */
static void keep_certificate(struct void_pbft *r, struct void__pbft_entry *e)
{
    VOID_ASSERT(e->prepared && e->have_batch);
    uint32_t primary = void_pbft_primary_of(r, e->view);
    e->pc_valid = 1;
    e->pc_view = e->view;
    memcpy(e->pc_digest, e->digest, VOID_PBFT_DIGEST_SIZE);
    e->pc_pp_len = e->pp_len;
    memcpy(e->pc_pp_frame, e->pp_frame, e->pp_len);
    e->pc_count = 0;
    uint32_t need = void__pbft_prepare_quorum(r);
    for (uint32_t i = 0; i < VOID_PBFT_N_MAX && e->pc_count < need; i++) {
        if ((e->prepare_mask & VOID__BIT(i)) && i != primary && e->prepare_len[i] > 0 &&
            memcmp(e->prepare_digest[i], e->digest, VOID_PBFT_DIGEST_SIZE) == 0) {
            memcpy(e->pc_prepare_frame[e->pc_count], e->prepare_frame[i], e->prepare_len[i]);
            e->pc_prepare_len[e->pc_count++] = e->prepare_len[i];
        }
    }
    VOID_ASSERT(e->pc_count == need);
}

void void__pbft_entry_reset(struct void_pbft *r,
                            struct void__pbft_entry *e,
                            void_view view,
                            void_seq seq)
{
    VOID_ASSERT(seq > 0);
    if (e->used && e->seq == seq) {
        if (e->prepared && e->have_batch && e->view < view) {
            keep_certificate(r, e);
        }
    } else {
        e->pc_valid = 0; /* the slot is taken over by another sequence number */
    }
    memset(e, 0, offsetof(struct void__pbft_entry, pp_frame));
    e->prepare_mask = 0;
    e->commit_mask = 0;
    e->commit_unchecked = 0;
    e->used = 1;
    e->view = view;
    e->seq = seq;
}

/* Senders in mask (minus exclude) whose stored digest equals digest. */
static uint32_t matching(uint32_t mask,
                         const uint8_t *digests, /* VOID_PBFT_N_MAX digests back to back */
                         const uint8_t digest[VOID_PBFT_DIGEST_SIZE],
                         uint32_t exclude)
{
    uint32_t count = 0;
    for (uint32_t i = 0; i < VOID_PBFT_N_MAX; i++) {
        if ((mask & VOID__BIT(i)) && i != exclude &&
            memcmp(digests + (size_t)i * VOID_PBFT_DIGEST_SIZE, digest, VOID_PBFT_DIGEST_SIZE) ==
                0) {
            count++;
        }
    }
    return count;
}

/* ---- effects -------------------------------------------------------------- */

void void_pbft_out_init(struct void_pbft_out *out,
                        struct void_pbft_effect *effects,
                        uint32_t cap,
                        uint8_t *arena,
                        size_t arena_cap)
{
    VOID_ASSERT(out != NULL && effects != NULL && arena != NULL);
    out->effects = effects;
    out->cap = cap;
    out->arena = arena;
    out->arena_cap = arena_cap;
    void_pbft_out_reset(out);
}

void void_pbft_out_reset(struct void_pbft_out *out)
{
    VOID_ASSERT(out != NULL);
    out->count = 0;
    out->used = 0;
    out->overflow = 0;
}

static struct void_pbft_effect *push(struct void_pbft *r, struct void_pbft_out *out, uint8_t kind)
{
    if (out->count == out->cap) {
        out->overflow = 1;
        r->stats.out_overflow++;
        return NULL;
    }
    struct void_pbft_effect *e = &out->effects[out->count++];
    memset(e, 0, sizeof(*e));
    e->kind = kind;
    return e;
}

static uint8_t *arena(struct void_pbft *r, struct void_pbft_out *out, size_t len)
{
    if (out->arena_cap - out->used < len) {
        out->overflow = 1;
        r->stats.out_overflow++;
        return NULL;
    }
    uint8_t *p = out->arena + out->used;
    out->used += len;
    return p;
}

/* Emits the next local event. Returns it (NULL if out is full: the event
 * number is still used, so that numbering never depends on buffer space). */
static struct void_pbft_event *
event(struct void_pbft *r, struct void_pbft_out *out, uint8_t kind, struct void_hlc_ts hlc)
{
    uint64_t parent = r->event_seq;
    r->event_seq++;
    struct void_pbft_effect *e = push(r, out, VOID_PBFT_EFFECT_EVENT);
    if (e == NULL) {
        return NULL;
    }
    struct void_pbft_event *ev = &e->u.event;
    ev->kind = kind;
    ev->node = r->cfg.self;
    ev->local_seq = r->event_seq;
    ev->parent_seq = parent;
    ev->hlc = hlc;
    return ev;
}

void void__pbft_note(
    struct void_pbft *r, struct void_pbft_out *out, uint8_t kind, void_view view, void_seq seq)
{
    VOID_ASSERT(kind >= VOID_PBFT_EVENT_PRE_PREPARED && kind <= VOID_PBFT_EVENT_EPOCH);
    /* A tick at the clock's own wall time: no physical reading needed, and
     * the event still orders strictly after the replica's last one. */
    struct void_hlc_ts ts = void_hlc_now_at(&r->hlc, r->hlc.last.wall_ns);
    struct void_pbft_event *ev = event(r, out, kind, ts);
    if (ev != NULL) {
        ev->view = view;
        ev->seq = seq;
    }
}

/* Frames r->scratch[0..body_len) into the out arena, signed (domain FRAME)
 * or with a zero signature for the caller to fill, and emits the SEND event. */
static int frame_body(struct void_pbft *r,
                      uint64_t now_ns,
                      struct void_pbft_out *out,
                      uint32_t to,
                      uint8_t type,
                      size_t body_len,
                      int sign,
                      uint8_t **frame,
                      size_t *frame_len)
{
    VOID_ASSERT(body_len >= 8 && body_len <= r->scratch_cap);
    struct void_hlc_ts ts = void_hlc_now_at(&r->hlc, now_ns);
    struct void_pbft_event *ev = event(r, out, VOID_PBFT_EVENT_SEND, ts);
    if (ev != NULL) {
        ev->msg_type = type;
        ev->remote_node = to;
    }
    void__put64(r->scratch, r->event_seq);
    size_t size = void_codec_frame_size((uint32_t)body_len);
    uint8_t *buf = arena(r, out, size);
    if (buf == NULL) {
        return VOID_EFULL;
    }
    struct void_frame fr = {.type = type,
                            .sender = r->cfg.self,
                            .hlc = ts,
                            .body = r->scratch,
                            .body_len = (uint32_t)body_len};
    int rc = sign ? void_codec_encode(&fr, r->cfg.keypair, buf, size, frame_len)
                  : void_codec_encode_unsigned(&fr, buf, size, frame_len);
    VOID_ASSERT(rc == 0);
    VOID_ASSERT(*frame_len == size);
    r->stats.signs += (uint64_t)(sign != 0);
    *frame = buf;
    return 0;
}

int void__pbft_frame(struct void_pbft *r,
                     uint64_t now_ns,
                     struct void_pbft_out *out,
                     uint32_t to,
                     uint8_t type,
                     size_t body_len,
                     const uint8_t **frame,
                     size_t *frame_len)
{
    uint8_t *buf = NULL;
    int rc = frame_body(r, now_ns, out, to, type, body_len, 1, &buf, frame_len);
    *frame = buf;
    return rc;
}

int void__pbft_commit_frame(struct void_pbft *r,
                            uint64_t now_ns,
                            struct void_pbft_out *out,
                            const struct void__pbft_entry *e,
                            const uint8_t **frame,
                            size_t *frame_len)
{
    struct void_pbft_vote v = {.view = e->view, .seq = e->seq, .mac_count = (uint8_t)r->cfg.n};
    memcpy(v.digest, e->digest, VOID_PBFT_DIGEST_SIZE);
    int len = void_pbft_commit_encode(&v, r->scratch, r->scratch_cap);
    VOID_ASSERT(len > 0);
    uint8_t *buf = NULL;
    int rc = frame_body(
        r, now_ns, out, VOID_PBFT_TO_ALL, VOID_MSG_COMMIT, (size_t)len, 0, &buf, frame_len);
    if (rc != 0) {
        return rc;
    }
    VOID_ASSERT(*frame_len <= VOID_PBFT_COMMIT_FRAME_MAX);
    /* Tag first (the tags are under the signature), then sign. */
    void_pbft_commit_tag(
        buf, *frame_len, (const uint8_t(*)[VOID_MAC_KEY_SIZE])r->peer_mac, r->peer_mac_mask);
    rc = void_sign(r->cfg.keypair,
                   VOID_SIGN_DOMAIN_FRAME,
                   buf,
                   *frame_len - VOID_SIGN_SIZE,
                   buf + *frame_len - VOID_SIGN_SIZE);
    VOID_ASSERT(rc == 0);
    r->stats.signs++;
    *frame = buf;
    return 0;
}

void void__pbft_send(struct void_pbft *r,
                     struct void_pbft_out *out,
                     uint32_t to,
                     uint8_t type,
                     const uint8_t *frame,
                     size_t len)
{
    VOID_ASSERT(to != r->cfg.self);
    struct void_pbft_effect *e = push(r, out, VOID_PBFT_EFFECT_SEND);
    if (e != NULL) {
        e->u.send.to = to;
        e->u.send.msg_type = type;
        e->u.send.frame = frame;
        e->u.send.len = len;
    }
}

void void__pbft_send_copy(struct void_pbft *r,
                          struct void_pbft_out *out,
                          uint32_t to,
                          uint8_t type,
                          const uint8_t *frame,
                          size_t len)
{
    uint8_t *copy = arena(r, out, len);
    if (copy != NULL) {
        memcpy(copy, frame, len);
        void__pbft_send(r, out, to, type, copy, len);
    }
}

void void__pbft_send_body(struct void_pbft *r,
                          uint64_t now_ns,
                          struct void_pbft_out *out,
                          uint32_t to,
                          uint8_t type,
                          size_t body_len)
{
    const uint8_t *frame;
    size_t len;
    if (void__pbft_frame(r, now_ns, out, to, type, body_len, &frame, &len) == 0) {
        void__pbft_send(r, out, to, type, frame, len);
    }
}

uint8_t *void__pbft_persist(
    struct void_pbft *r, struct void_pbft_out *out, uint8_t kind, uint64_t key, size_t len)
{
    uint8_t *data = arena(r, out, len);
    struct void_pbft_effect *e = data != NULL ? push(r, out, VOID_PBFT_EFFECT_PERSIST) : NULL;
    if (e == NULL) {
        return NULL;
    }
    e->u.persist.record_kind = kind;
    e->u.persist.key = key;
    e->u.persist.data = data;
    e->u.persist.len = len;
    return data;
}

void void__pbft_timer_set(struct void_pbft *r,
                          struct void_pbft_out *out,
                          uint8_t timer,
                          uint64_t delay_ns)
{
    struct void_pbft_effect *e = push(r, out, VOID_PBFT_EFFECT_TIMER_SET);
    if (e != NULL) {
        e->u.timer.timer = timer;
        e->u.timer.delay_ns = delay_ns;
    }
}

void void__pbft_timer_cancel(struct void_pbft *r, struct void_pbft_out *out, uint8_t timer)
{
    struct void_pbft_effect *e = push(r, out, VOID_PBFT_EFFECT_TIMER_CANCEL);
    if (e != NULL) {
        e->u.timer.timer = timer;
    }
}

int void__pbft_has_work(const struct void_pbft *r)
{
    if (r->pending_count > 0) {
        return 1;
    }
    /* An empty batch of an older view that NEW-VIEW did not carry over (an
     * idle primary's rejoin beacon, a null batch) waits for nothing: counted,
     * it fired the request timer in every later view of an idle cluster
     * (voidsim seed 75090: views 9 to 17 in 3.5 s). */
    for (uint32_t i = 0; i < r->cfg.window; i++) {
        const struct void__pbft_entry *e = &r->log[i];
        if (e->used && e->seq > r->last_executed && e->have_batch &&
            (e->count > 0 || e->view == r->view || e->committed)) {
            return 1;
        }
    }
    return 0;
}

/* Arms the request timer if there is work and it is not armed (or, with
 * restart, re-arms it because progress was made); cancels it when idle. */
void void__pbft_arm_request_timer(struct void_pbft *r, struct void_pbft_out *out, int restart)
{
    if (r->view_changing) {
        return;
    }
    if (!void__pbft_has_work(r)) {
        if (r->request_timer_armed) {
            void__pbft_timer_cancel(r, out, VOID_PBFT_TIMER_REQUEST);
            r->request_timer_armed = 0;
        }
        return;
    }
    if (!r->request_timer_armed || restart) {
        void__pbft_timer_set(r, out, VOID_PBFT_TIMER_REQUEST, r->cfg.request_timeout_ns);
        r->request_timer_armed = 1;
        r->progress_mark = r->last_executed;
    }
}

/* ---- init ----------------------------------------------------------------- */

static int config_check(struct void_pbft_config *c)
{
    if (c->keyring == NULL || c->keypair == NULL || c->n == 0 || c->n > VOID_PBFT_N_MAX ||
        c->self >= c->n) {
        return VOID_EINVAL;
    }
    /* n = 2 or 3 tolerate no fault (f = 0) yet need every replica up:
     * refused; 1 is a test cluster. Any n >= 4 works: the quorums follow n
     * (void__pbft_quorum). */
    uint32_t g = c->genesis_n != 0 ? c->genesis_n : c->n;
    if (c->n == 2 || c->n == 3 || g > c->n || g == 2 || g == 3) {
        return VOID_EINVAL;
    }
    c->checkpoint_interval = c->checkpoint_interval ? c->checkpoint_interval : VOID_PBFT_K_DEF;
    c->window = c->window ? c->window : VOID_PBFT_WINDOW_DEF;
    c->batch_max = c->batch_max ? c->batch_max : VOID_PBFT_BATCH_DEF;
    c->pipeline_max = c->pipeline_max ? c->pipeline_max : VOID_PBFT_PIPELINE_DEF;
    c->request_timeout_ns =
        c->request_timeout_ns ? c->request_timeout_ns : VOID_PBFT_REQUEST_TIMEOUT_NS_DEF;
    c->view_change_timeout_ns = c->view_change_timeout_ns ? c->view_change_timeout_ns
                                                          : VOID_PBFT_VIEW_CHANGE_TIMEOUT_NS_DEF;
    c->retransmit_ns = c->retransmit_ns ? c->retransmit_ns : VOID_PBFT_RETRANSMIT_NS_DEF;
    c->retain_bytes = c->retain_bytes ? c->retain_bytes : VOID_PBFT_RETAIN_DEF;
    if (c->rejoin_beacon < -1 || c->rejoin_beacon > 1) {
        return VOID_EINVAL;
    }
    c->rejoin_beacon = c->rejoin_beacon >= 0; /* 0 is the default: on */
    if (c->window > VOID_PBFT_WINDOW_MAX || c->window % c->checkpoint_interval != 0 ||
        c->window / c->checkpoint_interval > VOID_PBFT_CKPT_SLOTS - 2 ||
        c->batch_max > VOID_PBFT_BATCH_MAX) {
        return VOID_EINVAL;
    }
    return 0;
}

int void_pbft_init(struct void_pbft *r, const struct void_pbft_config *config)
{
    VOID_ASSERT(r != NULL && config != NULL);
    memset(r, 0, sizeof(*r));
    r->cfg = *config;
    int rc = config_check(&r->cfg);
    if (rc != 0) {
        return rc;
    }
    r->f = void_membership_f(r->cfg.n);
    void_hlc_init(&r->hlc, &r->cfg.hlc);
    /* The digest of the empty state, checkpoint 0's, whatever the store
     * holds now (a reopened store holds a later state). */
    struct void_kvs empty;
    rc = void_kvs_mem_init(&empty, NULL);
    if (rc != 0) {
        return rc;
    }
    rc = void_kvs_digest(&empty, r->genesis_digest);
    void_kvs_close(&empty);
    VOID_ASSERT(rc == 0);
    r->kvs = r->cfg.kvs;
    if (r->kvs == NULL) {
        rc = void_kvs_mem_init(&r->own_kvs, NULL);
        if (rc != 0) {
            return rc;
        }
        r->kvs = &r->own_kvs;
    }
    rc = void_sm_init(&r->sm, &r->cfg.sm, r->kvs);
    if (rc != 0) {
        void_pbft_fini(r);
        return rc;
    }
    r->vc_frame_max = void__pbft_vc_frame_max(r->cfg.window);
    r->vc_store = malloc(2 * r->cfg.n * r->vc_frame_max);
    /* The largest bodies are a view change and a STATE message (the state's
     * export, the proof and the window's batches). The export gets what the
     * largest body leaves after the rest: a larger state cannot be sent
     * whole (docs/pbft.md, State transfer). */
    size_t state_rest = 8 + 8 + VOID_PBFT_DIGEST_SIZE + 2 +
                        VOID_PBFT_N_MAX * (2 + VOID_PBFT_SMALL_FRAME_MAX) + 4 + 2 +
                        (size_t)r->cfg.window * (52 + VOID_PBFT_PP_FRAME_MAX);
    VOID_ASSERT(state_rest < VOID_CODEC_BODY_MAX / 2);
    r->snapshot_cap = VOID_CODEC_BODY_MAX - state_rest;
    r->scratch_cap = VOID_CODEC_BODY_MAX;
    r->scratch = malloc(r->scratch_cap);
    r->nv_frame = malloc(VOID_PBFT_NV_FRAME_MAX);
    r->mac_cache = calloc(VOID_PBFT_MAC_CACHE, sizeof(*r->mac_cache));
    r->result_buf = malloc(VOID_SM_RESULT_MAX);
    r->ring = malloc(sizeof(*r->ring));
    if (r->ring != NULL) {
        *r->ring = *r->cfg.keyring; /* joined members' keys are added to the copy */
    }
    if (r->cfg.retain_bytes != VOID_PBFT_RETAIN_OFF) {
        r->kept_cap = r->cfg.retain_bytes;
        r->kept_buf = malloc(r->kept_cap);
        r->kept = calloc(VOID_PBFT_RETAIN_RECS_MAX, sizeof(*r->kept));
    }
    int kept_ok = r->cfg.retain_bytes == VOID_PBFT_RETAIN_OFF || (r->kept_buf && r->kept);
    if (r->vc_store == NULL || r->scratch == NULL || r->nv_frame == NULL || r->mac_cache == NULL ||
        r->result_buf == NULL || r->ring == NULL || !kept_ok) {
        void_pbft_fini(r);
        return VOID_ENOMEM;
    }
    rc = void__pbft_epoch_init(r);
    if (rc != 0) {
        void_pbft_fini(r);
        return rc;
    }
    for (uint32_t i = 0; i < r->cfg.n; i++) {
        r->vc[i].frame = r->vc_store + i * r->vc_frame_max;
        r->nv_vc[i].frame = r->vc_store + (r->cfg.n + i) * r->vc_frame_max;
        const uint8_t *pk = void_keyring_get(r->ring, i);
        if (i != r->cfg.self && r->cfg.verify_signatures && pk != NULL &&
            void_mac_key_derive(r->cfg.keypair, pk, r->peer_mac[i]) == 0) {
            r->peer_mac_have |= VOID__BIT(i); /* else its COMMITs go by signature */
        }
    }
    r->peer_mac_mask = r->peer_mac_have & r->members_any;
    r->next_seq = 1;
    r->event_seq = r->cfg.event_seq_start > 0 ? r->cfg.event_seq_start - 1 : 0;
    memcpy(r->low_digest, r->genesis_digest, VOID_PBFT_DIGEST_SIZE);
    r->ro_stamp_min = UINT64_MAX; /* until void_pbft_start: a restart answers no read yet */
    VOID_ASSERT(r->low == 0 && r->snapshot == NULL);
    return 0;
}

static void body_free(struct void__pbft_body *b);

void void_pbft_fini(struct void_pbft *r)
{
    VOID_ASSERT(r != NULL);
    if (r->sm.kvs != NULL) {
        void_sm_snapshot_release(&r->sm, r->snapshot);
        void_sm_snapshot_release(&r->sm, r->ckpt_snap);
        void_sm_fini(&r->sm);
    }
    r->snapshot = r->ckpt_snap = NULL;
    if (r->kvs == &r->own_kvs) {
        void_kvs_close(&r->own_kvs);
    }
    r->kvs = NULL;
    free(r->vc_store);
    free(r->ring);
    r->ring = NULL;
    free(r->kept_buf);
    free(r->kept);
    r->kept_buf = NULL;
    r->kept = NULL;
    r->kept_cap = r->kept_used = r->kept_count = 0;
    free(r->scratch);
    free(r->nv_frame);
    free(r->mac_cache);
    free(r->result_buf);
    void__pbft_epoch_fini(r);
    for (uint32_t i = 0; i < VOID_PBFT_BODIES_MAX; i++) {
        if (r->body[i].used) {
            body_free(&r->body[i]);
        }
    }
    r->result_buf = NULL;
    r->vc_store = r->scratch = r->nv_frame = NULL;
    r->mac_cache = NULL;
}

int void_pbft_start(struct void_pbft *r, uint64_t now_ns, struct void_pbft_out *out)
{
    VOID_ASSERT(r != NULL && out != NULL);
    VOID_ASSERT(!r->started);
    (void)now_ns;
    struct void_kvs_stats st;
    void_kvs_stats(r->kvs, &st);
    if (st.partial) {
        /* A state transfer's install cut short, with no records left to
         * vouch for anything: empty, and fetch the state again. */
        int rc = void_sm_reset(&r->sm);
        if (rc != 0) {
            return rc;
        }
    }
    r->started = 1;
    r->ro_stamp_min = 0; /* a fresh replica lost no executed state */
    /* A replica that has sent anything has a record, so that it restarts
     * through void_pbft_recover (which never proposes again in the view it
     * recovered in), not as a fresh primary of view 0. */
    void__pbft_persist_view(r, out);
    void__pbft_timer_set(r, out, VOID_PBFT_TIMER_RETRANSMIT, r->cfg.retransmit_ns);
    return out->overflow ? VOID_EFULL : 0;
}

/* ---- pending requests ----------------------------------------------------- */

/* The at-most-once entry of a client's session in the replicated client
 * table: the client id alone for session 0 (a client with one process), else
 * the id in the high 32 bits and the session in the low ones. Client ids are
 * >= n >= 1, so the two kinds never meet. */
static uint64_t table_key(uint32_t client, uint32_t session)
{
    return session == 0 ? client : (uint64_t)client << 32 | session;
}

static int pending_find(const struct void_pbft *r, uint32_t client, uint32_t session)
{
    for (uint32_t i = 0; i < r->pending_count; i++) {
        if (r->pending[i].client == client && r->pending[i].session == session) {
            return (int)i;
        }
    }
    return -1;
}

static void pending_remove_at(struct void_pbft *r, uint32_t i)
{
    VOID_ASSERT(i < r->pending_count);
    r->pending_count--;
    if (i != r->pending_count) {
        r->pending[i] = r->pending[r->pending_count];
    }
}

/* Drops pending requests that the state machine has already executed. */
void void__pbft_pending_prune(struct void_pbft *r)
{
    for (uint32_t i = r->pending_count; i-- > 0;) {
        uint64_t last;
        const uint8_t *res;
        size_t len;
        uint64_t key = table_key(r->pending[i].client, r->pending[i].session);
        if (void_sm_client_last(&r->sm, key, &last, &res, &len) && r->pending[i].reqno <= last) {
            pending_remove_at(r, i);
        }
    }
    void__pbft_body_gc(r);
}

/* ---- replies --------------------------------------------------------------
 * A replica signs the replies it sends for a batch once: each REPLY frame is
 * a leaf of a Merkle tree (RFC 9162) and carries its audit path, and one
 * signature covers the root (docs/wire.md). Each also carries a tag under
 * the key the replica shares with its client, which the client checks
 * instead of the signature (about 1 us against 86 us); the signature stays,
 * so a reply is still a proof that others can check. reply_add frames a
 * reply unsigned and keeps its leaf hash; reply_sign_all fills in the paths,
 * the tags and the signature of all count of them before the step returns.
 * A reply sent alone (to a retransmitted request) is a batch of one. */

static const struct void__pbft_mackey *
client_key(struct void_pbft *r, uint32_t client, const uint8_t *cert);

static void reply_add(struct void_pbft *r,
                      uint64_t now_ns,
                      struct void_pbft_out *out,
                      const struct void_pbft_request *q,
                      const uint8_t *result,
                      size_t result_len,
                      uint16_t index,
                      uint16_t count)
{
    VOID_ASSERT(index < count && count <= VOID_PBFT_BATCH_MAX);
    VOID_ASSERT(r->view_installed <= r->view);
    VOID_ASSERT(r->view_changing || r->view_installed == r->view);
    /* The installed view, not one we are changing to: until the others join
     * that view change it has no primary to send requests to (docs/pbft.md,
     * Clients track the view). */
    struct void_pbft_reply m = {.view = r->view_installed,
                                .client = q->client,
                                .reqno = q->reqno,
                                .result = result,
                                .result_len = (uint32_t)result_len,
                                .session = q->session,
                                .epoch = r->member[0].epoch,
                                .index = index,
                                .count = count};
    int len = void_pbft_reply_encode(&m, r->scratch, r->scratch_cap);
    VOID_ASSERT(len > 0);
    uint8_t *frame = NULL;
    size_t frame_len = 0;
    if (frame_body(r, now_ns, out, q->client, VOID_MSG_REPLY, (size_t)len, 0, &frame, &frame_len) !=
        0) {
        /* No room: the client retransmits. The leaf still has a value, so
         * the other replies' paths are sound. */
        memset(r->reply_leaf[index], 0, VOID_MERKLE_HASH_SIZE);
        r->reply_frame[index] = NULL;
        return;
    }
    m.path_len = void_merkle_path_len(index, count);
    void_merkle_leaf(frame, void_pbft_reply_leaf_len(frame_len, &m), r->reply_leaf[index]);
    r->reply_frame[index] = frame;
    r->reply_frame_len[index] = (uint32_t)frame_len;
    r->reply_client[index] = q->client;
    const struct void__pbft_mackey *k = client_key(r, q->client, q->cert);
    r->reply_mac_ok[index] = k != NULL;
    if (k != NULL) {
        memcpy(r->reply_mac[index], k->key, VOID_MAC_KEY_SIZE);
    }
    void__pbft_send(r, out, q->client, VOID_MSG_REPLY, frame, frame_len);
}

static void reply_sign_all(struct void_pbft *r, uint16_t count)
{
    VOID_ASSERT(count >= 1 && count <= VOID_PBFT_BATCH_MAX);
    uint8_t *paths[VOID_PBFT_BATCH_MAX] = {0};
    for (uint16_t i = 0; i < count; i++) {
        size_t path_bytes = (size_t)void_merkle_path_len(i, count) * VOID_MERKLE_HASH_SIZE;
        paths[i] = r->reply_frame[i] == NULL ? NULL
                                             : r->reply_frame[i] + r->reply_frame_len[i] -
                                                   VOID_SIGN_SIZE - VOID_MAC_SIZE - path_bytes;
    }
    uint8_t root[VOID_MERKLE_HASH_SIZE];
    void_merkle_build((const uint8_t(*)[VOID_MERKLE_HASH_SIZE])r->reply_leaf, count, paths, root);
    for (uint16_t i = 0; i < count; i++) {
        /* Without a key the tag stays zero: the client checks the signature. */
        if (r->reply_frame[i] != NULL && r->reply_mac_ok[i]) {
            void_pbft_reply_tag(r->reply_frame[i], r->reply_frame_len[i], r->reply_mac[i]);
        }
    }
    uint8_t sig[VOID_SIGN_SIZE];
    int rc = void_sign(r->cfg.keypair, VOID_SIGN_DOMAIN_REPLY, root, sizeof(root), sig);
    VOID_ASSERT(rc == 0);
    r->stats.signs++;
    for (uint16_t i = 0; i < count; i++) {
        if (r->reply_frame[i] != NULL) {
            memcpy(r->reply_frame[i] + r->reply_frame_len[i] - VOID_SIGN_SIZE, sig, VOID_SIGN_SIZE);
        }
    }
}

static void send_reply(struct void_pbft *r,
                       uint64_t now_ns,
                       struct void_pbft_out *out,
                       const struct void_pbft_request *q,
                       const uint8_t *result,
                       size_t result_len)
{
    reply_add(r, now_ns, out, q, result, result_len, 0, 1);
    reply_sign_all(r, 1);
}

/* Answers a request that another of the same (client, session) superseded:
 * its number is below the last one executed (or pending) for that session,
 * so it will never execute. Dropping it silently left a client that numbers
 * its requests from a lower start waiting for ever; the answer VOID_SM_STALE
 * carries the number that superseded it (docs/wire.md, STALE), so the client
 * can say so and number its next request above it. Not ordered: each
 * replica answers from what it knows, and the client needs f + 1 such
 * answers (include/void/pbft_client.h). */
static void send_stale(struct void_pbft *r,
                       uint64_t now_ns,
                       struct void_pbft_out *out,
                       const struct void_pbft_request *q,
                       uint64_t last)
{
    VOID_ASSERT(q->reqno < last);
    uint8_t above[8];
    void__put64(above, last);
    struct void_sm_result res = {.status = VOID_SM_STALE, .value = above, .value_len = 8};
    uint8_t result[64];
    int len = void_sm_result_encode(&res, result, sizeof(result));
    VOID_ASSERT(len > 0);
    send_reply(r, now_ns, out, q, result, (size_t)len);
}

/* ---- client authentication ----------------------------------------------
 * A request carries the client's signature and an authenticator: a tag per
 * replica under a key the client shares with that replica alone
 * (include/void/mac.h). A backup takes its tag (about a microsecond) and
 * checks the signature (about 86 us) only when the tag is missing or wrong.
 * The primary checks the signature of every request it orders, so a client
 * that spoils some tags cannot make honest backups reject an honest
 * primary's batch: each of them falls back to the signature, which checked.
 * Safety needs no signature at a backup: a batch prepares only with 2f + 1
 * replicas vouching for it, at least f + 1 of them honest, and an honest
 * replica vouches for a request only if the client's key made its tag or
 * its signature; a faulty primary can forge neither. */

/* Client certificates (include/void/client_cert.h): a request whose client
 * carries one is authenticated by the key it names, once the admin
 * signature on it checked; else by the keyring's key. Whether a certificate
 * is valid depends on its bytes and the configured admin key alone, so every
 * honest replica decides alike and a faulty primary cannot slip a forged
 * one past the backups (each checks it, as it checks the request's tag).
 * The check is cached with the derived MAC key, so a client costs one admin
 * signature check per replica while its slot lasts. */
static int cert_key(struct void_pbft *r,
                    uint32_t client,
                    const uint8_t *cert,
                    uint8_t public_key[VOID_SIGN_PUBLIC_KEY_SIZE])
{
    if (r->cfg.admin_key == NULL) {
        return VOID_EPERM; /* no admin: only the keyring admits clients */
    }
    struct void_client_cert c;
    int rc = r->cfg.verify_signatures ? void_client_cert_verify(cert, r->cfg.admin_key, &c)
                                      : void_client_cert_decode(cert, &c);
    r->stats.verifies += (uint64_t)(r->cfg.verify_signatures != 0);
    if (rc != 0 || c.id != client) {
        return rc != 0 ? rc : VOID_EBAD_FIELD;
    }
    memcpy(public_key, c.public_key, VOID_SIGN_PUBLIC_KEY_SIZE);
    return 0;
}

/* The cached key of client (with its certificate, or NULL), or NULL when
 * the client has none: not in the keyring and no valid certificate. */
static const struct void__pbft_mackey *
client_key(struct void_pbft *r, uint32_t client, const uint8_t *cert)
{
    uint32_t slot = (uint32_t)((client * 2654435761u) >> 16) & (VOID_PBFT_MAC_CACHE - 1);
    struct void__pbft_mackey *k = &r->mac_cache[slot];
    int hit = k->state != 0 && k->client == client && k->certified == (cert != NULL) &&
              (cert == NULL || memcmp(k->cert, cert, VOID_CLIENT_CERT_SIZE) == 0);
    if (!hit) {
        k->client = client;
        k->certified = cert != NULL;
        k->state = 2;
        int rc = VOID_ENOTFOUND;
        if (cert != NULL) {
            memcpy(k->cert, cert, VOID_CLIENT_CERT_SIZE);
            rc = cert_key(r, client, cert, k->public_key);
        } else if (void_keyring_get(r->cfg.keyring, client) != NULL) {
            memcpy(k->public_key, void_keyring_get(r->cfg.keyring, client), sizeof(k->public_key));
            rc = 0;
        }
        /* A client under this replica's own key is this replica's own
         * (src/io/node_member.c): their key is the one it shares with itself. */
        if (rc == 0 &&
            (memcmp(k->public_key, r->cfg.keypair->public_key, VOID_SIGN_PUBLIC_KEY_SIZE) == 0
                 ? void_mac_key_self(r->cfg.keypair, k->key)
                 : void_mac_key_derive(r->cfg.keypair, k->public_key, k->key)) == 0) {
            k->state = 1;
        }
        r->stats.mac_keys++;
    }
    VOID_ASSERT(k->client == client);
    return k->state == 1 ? k : NULL;
}

void void_pbft_keyring_grew(struct void_pbft *r)
{
    VOID_ASSERT(r != NULL && r->mac_cache != NULL);
    uint32_t dropped = 0;
    for (uint32_t i = 0; i < VOID_PBFT_MAC_CACHE; i++) {
        struct void__pbft_mackey *k = &r->mac_cache[i];
        if (k->state == 2 && !k->certified) {
            k->state = 0; /* a keyring miss: asked again */
            dropped++;
        }
    }
    VOID_ASSERT(dropped <= VOID_PBFT_MAC_CACHE);
}

/* Authenticates a client's request: by its signature when *sig_checked is
 * 1 on entry, else by its tag for this replica, falling back to the
 * signature; *sig_checked tells on return whether the signature was
 * checked. Returns 0, VOID_EUNKNOWN_SENDER (no key for its client) or
 * VOID_EBAD_SIG. */
static int
request_authentic(struct void_pbft *r, const struct void_pbft_request *q, int *sig_checked)
{
    const struct void__pbft_mackey *k = client_key(r, q->client, q->cert);
    if (k == NULL) {
        return VOID_EUNKNOWN_SENDER;
    }
    if (!r->cfg.verify_signatures) {
        return 0;
    }
    if (!*sig_checked) {
        if (void_pbft_request_check_mac(q, r->cfg.self, k->key) == 0) {
            r->stats.macs_ok++;
            return 0;
        }
        r->stats.macs_bad++;
    }
    *sig_checked = 1;
    r->stats.verifies++;
    VOID_ASSERT(q->record_len > VOID_SIGN_SIZE);
    return void_sign_verify(k->public_key,
                            VOID_SIGN_DOMAIN_FRAME,
                            q->record,
                            q->record_len - VOID_SIGN_SIZE,
                            q->sig) == 0
               ? 0
               : VOID_EBAD_SIG;
}

/* ---- large requests --------------------------------------------------------
 * PBFT's separate request transmission (TOCS'02 5.1; docs/pbft.md, "Large
 * requests"). A request frame longer than VOID_PBFT_INLINE_MAX goes from the
 * client to every replica, which keeps it here (its body); a batch names it
 * by a reference carrying its SHA-256, so the pre-prepare stays small and the
 * batch digest still binds the request's bytes. A backup prepares a batch
 * only once it holds every body it names, authenticated as any request (its
 * tag or the client's signature), and no replica executes a batch before it
 * holds them all; a body that did not come is fetched from the peers
 * (REQ_FETCH), who answer with the client's frame, checked against the
 * digest here. Bodies no batch in the log names are bounded (one per client,
 * the newest, as pending requests; VOID_PBFT_BODY_PENDING_MAX bytes in all;
 * VOID_PBFT_BODIES_MAX slots) and a body over a bound is dropped, in arrival
 * order: the client's retransmission brings it again. Bodies that a batch in
 * the log names stay until the checkpoint collects that batch, so a lagging
 * replica can fetch them; a batch names at most VOID_PBFT_BATCH_REFS_MAX of
 * them and VOID_PBFT_BATCH_BODIES_MAX bytes. Their frames are on the heap: up
 * to a megabyte each, few, freed when collected. */

/* The batch inside a pre-prepare frame. Returns 0 or a decode error. */
static int pp_batch(const uint8_t *pp, size_t pp_len, struct void_pbft_pre_prepare *m)
{
    if (pp_len < VOID_PBFT_FRAME_OVERHEAD) {
        return VOID_ETRUNCATED;
    }
    return void_pbft_pre_prepare_decode(
        pp + VOID_CODEC_HEADER_SIZE, pp_len - VOID_PBFT_FRAME_OVERHEAD, m);
}

/* Whether the batch names digest (with want NULL: whether it names any
 * reference at all). */
static int batch_names(const uint8_t *batch, size_t len, uint16_t count, const uint8_t *want)
{
    size_t off = 0;
    for (uint16_t i = 0; i < count && off < len; i++) {
        if (batch[off] != 0) { /* an inline request: skip it whole */
            long size = void_codec_peek_size(batch + off, len - off);
            if (size <= 0) {
                return 0;
            }
            off += (size_t)size;
            continue;
        }
        if (len - off < VOID_PBFT_REF_SIZE) {
            return 0;
        }
        if (want == NULL || memcmp(batch + off + 17, want, VOID_PBFT_DIGEST_SIZE) == 0) {
            return 1;
        }
        off += VOID_PBFT_REF_SIZE;
    }
    return 0;
}

/* Whether a batch in the log above sequence number `above` (an entry's, or
 * a certificate it keeps for a view change) names digest. */
static int body_ordered_above(const struct void_pbft *r, const uint8_t *digest, void_seq above)
{
    for (uint32_t i = 0; i < r->cfg.window; i++) {
        const struct void__pbft_entry *e = &r->log[i];
        if (!e->used || e->seq <= above) {
            continue;
        }
        if (e->have_batch && e->pp_len > 0 &&
            batch_names(e->pp_frame + e->batch_off, e->batch_len, e->count, digest)) {
            return 1;
        }
        struct void_pbft_pre_prepare m;
        if (e->pc_valid && e->pc_pp_len > 0 && pp_batch(e->pc_pp_frame, e->pc_pp_len, &m) == 0 &&
            batch_names(m.batch, m.batch_len, m.count, digest)) {
            return 1;
        }
    }
    return 0;
}

/* Whether a batch in the log (above the low watermark) names digest. */
static int body_ordered(const struct void_pbft *r, const uint8_t *digest)
{
    return body_ordered_above(r, digest, r->low);
}

static struct void__pbft_body *body_find(struct void_pbft *r, const uint8_t *digest)
{
    for (uint32_t i = 0; i < VOID_PBFT_BODIES_MAX; i++) {
        struct void__pbft_body *b = &r->body[i];
        if (b->used && memcmp(b->digest, digest, VOID_PBFT_DIGEST_SIZE) == 0) {
            return b;
        }
    }
    return NULL;
}

static void body_free(struct void__pbft_body *b)
{
    free(b->frame);
    memset(b, 0, sizeof(*b));
}

/* Whether a pending request is the reference to body b. */
static int body_pending(const struct void_pbft *r, const struct void__pbft_body *b)
{
    for (uint32_t i = 0; i < r->pending_count; i++) {
        const struct void__pbft_pending *p = &r->pending[i];
        if (p->len == VOID_PBFT_REF_SIZE && p->frame[0] == 0 &&
            memcmp(p->frame + 17, b->digest, VOID_PBFT_DIGEST_SIZE) == 0) {
            return 1;
        }
    }
    return 0;
}

/* Frees the bodies that neither a batch in the log nor a pending request
 * names, and recounts the bytes of the unordered ones. */
void void__pbft_body_gc(struct void_pbft *r)
{
    r->body_pending_bytes = 0;
    for (uint32_t i = 0; i < VOID_PBFT_BODIES_MAX; i++) {
        struct void__pbft_body *b = &r->body[i];
        if (!b->used || body_ordered(r, b->digest)) {
            continue;
        }
        if (body_pending(r, b)) {
            r->body_pending_bytes += b->len;
        } else {
            body_free(b);
        }
    }
    VOID_ASSERT(r->body_pending_bytes <= VOID_PBFT_BODY_PENDING_MAX + VOID_PBFT_REQUEST_FRAME_MAX);
}

/* Every slot holds a body that a batch in the log names: frees those of
 * batches this replica has executed (not needed to execute; a peer that
 * still lacks one fetches it from another replica or catches up by state
 * transfer at the next checkpoint). Without this, more bodies ordered
 * between two checkpoints than there are slots (a few hundred requests of
 * over 1 KiB from many clients at once) left no room for the next
 * request's body, so no batch reached the next checkpoint that would have
 * freed them: the cluster stopped for good (bench/README.md, kv_million). */
static void bodies_evict_executed(struct void_pbft *r)
{
    for (uint32_t i = 0; i < VOID_PBFT_BODIES_MAX; i++) {
        struct void__pbft_body *b = &r->body[i];
        if (b->used && !body_ordered_above(r, b->digest, r->last_executed) &&
            !body_pending(r, b)) {
            r->stats.bodies_evicted++;
            body_free(b);
        }
    }
    VOID_ASSERT(r->last_executed >= r->low);
}

/* Steps *off over the next item of e's batch: an inline request is
 * skipped (0); a reference is decoded into *it (1), or -1 when it does not
 * decode. */
static int
entry_item_next(const struct void__pbft_entry *e, size_t *off, struct void_pbft_batch_item *it)
{
    VOID_ASSERT(*off < e->batch_len);
    const uint8_t *batch = e->pp_frame + e->batch_off;
    if (batch[*off] != 0) {
        long size = void_codec_peek_size(batch + *off, e->batch_len - *off);
        VOID_ASSERT(size > 0); /* checked when the batch was accepted */
        *off += (size_t)size;
        return 0;
    }
    size_t used = 0;
    if (void_pbft_batch_item_decode(batch + *off, e->batch_len - *off, it, &used) != 0) {
        return -1;
    }
    *off += used;
    return 1;
}

/* Whether e holds every body its batch names, each the request its
 * reference says; fills missing[] (up to VOID_PBFT_FETCH_MAX) with those it
 * lacks and sets *nmissing. A body that is not what its reference says
 * (a faulty primary's batch) never makes the batch ready. */
static int entry_bodies(struct void_pbft *r,
                        const struct void__pbft_entry *e,
                        uint8_t (*missing)[VOID_PBFT_DIGEST_SIZE],
                        uint16_t *nmissing)
{
    int ready = 1;
    size_t off = 0;
    for (uint16_t i = 0; i < e->count && off < e->batch_len; i++) {
        struct void_pbft_batch_item it;
        int k = entry_item_next(e, &off, &it);
        if (k <= 0) {
            if (k < 0) {
                return 0;
            }
            continue;
        }
        const struct void__pbft_body *b = body_find(r, it.digest);
        if (b == NULL) {
            ready = 0;
            if (missing != NULL && *nmissing < VOID_PBFT_FETCH_MAX) {
                memcpy(missing[(*nmissing)++], it.digest, VOID_PBFT_DIGEST_SIZE);
            }
        } else if (b->client != it.client || b->reqno != it.reqno || b->len != it.frame_len) {
            ready = 0;
        }
    }
    return ready;
}

long void__pbft_entry_bodies(struct void_pbft *r,
                             const struct void__pbft_entry *e,
                             uint8_t *p,
                             size_t cap,
                             uint16_t *count,
                             uint32_t to,
                             struct void_pbft_out *out)
{
    VOID_ASSERT(e->have_batch && count != NULL);
    VOID_ASSERT(out == NULL || to < r->cfg.n);
    *count = 0;
    size_t w = 0;
    size_t off = 0;
    for (uint16_t i = 0; e->pp_len > 0 && i < e->count && off < e->batch_len; i++) {
        struct void_pbft_batch_item it;
        int k = entry_item_next(e, &off, &it);
        if (k <= 0) {
            if (k < 0) {
                return -1;
            }
            continue;
        }
        const struct void__pbft_body *b = body_find(r, it.digest);
        if (b == NULL || (p != NULL && w + 4 + b->len > cap)) {
            return -1;
        }
        if (p != NULL) {
            void__put32(p + w, b->len);
            memcpy(p + w + 4, b->frame, b->len);
        }
        if (out != NULL) {
            void__pbft_send_copy(r, out, to, VOID_MSG_REQUEST, b->frame, b->len);
        }
        w += 4u + b->len;
        (*count)++;
    }
    return (long)w;
}

int void__pbft_bodies_ready(struct void_pbft *r, struct void__pbft_entry *e)
{
    VOID_ASSERT(e->have_batch);
    if (e->pp_len == 0 || !batch_names(e->pp_frame + e->batch_off, e->batch_len, e->count, NULL)) {
        return 1; /* the common case: every request inline */
    }
    if (entry_bodies(r, e, NULL, NULL)) {
        return 1;
    }
    e->bodies_wait = e->bodies_wait > 0 ? e->bodies_wait : 1;
    return 0;
}

/* The request a batch item stands for: the item itself, or the body its
 * reference names (which the caller made sure is here). */
static void item_request(struct void_pbft *r,
                         const struct void_pbft_batch_item *it,
                         struct void_pbft_request *q)
{
    if (!it->is_ref) {
        *q = it->req;
        return;
    }
    const struct void__pbft_body *b = body_find(r, it->digest);
    VOID_ASSERT(b != NULL); /* void__pbft_bodies_ready said so */
    size_t used = 0;
    int rc = void_pbft_request_decode(b->frame, b->len, q, &used);
    VOID_ASSERT(rc == 0 && used == b->len); /* decoded when it arrived */
}

static void check_prepared(struct void_pbft *r,
                           uint64_t now_ns,
                           struct void__pbft_entry *e,
                           struct void_pbft_out *out);

/* A body came: the batches that waited for it may prepare and execute. */
static void bodies_arrived(struct void_pbft *r, uint64_t now_ns, struct void_pbft_out *out)
{
    for (uint32_t i = 0; i < r->cfg.window; i++) {
        struct void__pbft_entry *e = &r->log[i];
        if (!e->used || !e->have_batch || e->bodies_wait == 0 || e->seq <= r->last_executed ||
            !void__pbft_bodies_ready(r, e)) {
            continue;
        }
        e->bodies_wait = 0;
        if (e->view == r->view && !r->view_changing && !e->sent_prepare &&
            !is_primary(r)) {
            void__pbft_send_prepare(r, now_ns, e, out);
            check_prepared(r, now_ns, e, out);
        }
    }
    void__pbft_execute_ready(r, now_ns, out);
}

/* Keeps the large request q (frame buf[0..len), authenticated) as a body.
 * Returns 0 when it was dropped (over a bound), else 1. */
static int body_offer(struct void_pbft *r,
                      uint64_t now_ns,
                      const struct void_pbft_request *q,
                      const uint8_t *buf,
                      size_t len,
                      int sig_checked,
                      struct void_pbft_out *out)
{
    VOID_ASSERT(len > VOID_PBFT_INLINE_MAX && len <= VOID_PBFT_REQUEST_FRAME_MAX);
    uint8_t digest[VOID_PBFT_DIGEST_SIZE];
    void_hash_digest(buf, len, digest);
    if (body_find(r, digest) != NULL) {
        return 1; /* a retransmission */
    }
    int ordered = body_ordered(r, digest);
    if (!ordered) {
        uint64_t last;
        const uint8_t *res;
        size_t res_len;
        if (void_sm_client_last(&r->sm, table_key(q->client, q->session), &last, &res, &res_len) &&
            q->reqno <= last) {
            return 1; /* executed: answered from the reply cache, no body needed */
        }
        for (uint32_t i = 0; i < VOID_PBFT_BODIES_MAX; i++) {
            struct void__pbft_body *b = &r->body[i];
            if (b->used && b->client == q->client && b->session == q->session &&
                !body_ordered(r, b->digest)) {
                if (b->reqno > q->reqno) {
                    return 1; /* an older request of the client's: on_request drops it */
                }
                body_free(b); /* one unordered body per client session: the newest */
            }
        }
        if (r->body_pending_bytes + len > VOID_PBFT_BODY_PENDING_MAX) {
            void__pbft_body_gc(r);
        }
        if (r->body_pending_bytes + len > VOID_PBFT_BODY_PENDING_MAX) {
            r->stats.bodies_dropped++;
            return 0;
        }
    }
    struct void__pbft_body *slot = NULL;
    for (int pass = 0; pass < 3 && slot == NULL; pass++) {
        for (uint32_t i = 0; i < VOID_PBFT_BODIES_MAX && slot == NULL; i++) {
            slot = r->body[i].used ? NULL : &r->body[i];
        }
        if (slot == NULL && pass == 0) {
            void__pbft_body_gc(r);
        } else if (slot == NULL && pass == 1) {
            bodies_evict_executed(r);
        }
    }
    uint8_t *copy = slot != NULL ? malloc(len) : NULL;
    if (copy == NULL) {
        r->stats.bodies_dropped++;
        return 0;
    }
    memcpy(copy, buf, len);
    slot->used = 1;
    slot->sig_checked = (uint8_t)sig_checked;
    slot->client = q->client;
    slot->session = q->session;
    slot->reqno = q->reqno;
    memcpy(slot->digest, digest, VOID_PBFT_DIGEST_SIZE);
    slot->len = (uint32_t)len;
    slot->frame = copy;
    if (!ordered) {
        r->body_pending_bytes += len;
    }
    bodies_arrived(r, now_ns, out);
    return 1;
}

/* Each retransmit tick: a batch that has waited a whole tick for bodies
 * (the client's own copy usually comes first) fetches them from every
 * peer. */
static void bodies_fetch(struct void_pbft *r, uint64_t now_ns, struct void_pbft_out *out)
{
    uint8_t missing[VOID_PBFT_FETCH_MAX][VOID_PBFT_DIGEST_SIZE];
    uint16_t n = 0;
    for (uint32_t i = 0; i < r->cfg.window; i++) {
        struct void__pbft_entry *e = &r->log[i];
        if (!e->used || !e->have_batch || e->bodies_wait == 0 || e->seq <= r->last_executed) {
            continue;
        }
        if (e->bodies_wait < 2) {
            e->bodies_wait++;
            continue;
        }
        (void)entry_bodies(r, e, missing, &n);
    }
    if (n == 0 || r->cfg.n < 2) {
        return;
    }
    int len = void_pbft_fetch_encode(
        0, (const uint8_t(*)[VOID_PBFT_DIGEST_SIZE])missing, n, r->scratch, r->scratch_cap);
    VOID_ASSERT(len > 0);
    r->stats.bodies_fetched++;
    void__pbft_send_body(r, now_ns, out, VOID_PBFT_TO_ALL, VOID_MSG_REQ_FETCH, (size_t)len);
}

/* A peer asks for bodies: each one held goes back as the client's frame. */
static void on_req_fetch(struct void_pbft *r,
                         uint64_t now_ns,
                         const struct void_frame *fr,
                         struct void_pbft_out *out)
{
    uint16_t count = 0;
    const uint8_t *digests = NULL;
    if (void_pbft_fetch_decode(fr->body, fr->body_len, &count, &digests) != 0) {
        r->stats.rx_malformed++;
        return;
    }
    uint64_t *last = &r->body_served_ns[fr->sender];
    if (*last != 0 && now_ns - *last < r->cfg.retransmit_ns / 2) {
        r->stats.rx_rate_limited++; /* a megabyte per body: not on every ask */
        return;
    }
    *last = now_ns == 0 ? 1 : now_ns;
    for (uint16_t i = 0; i < count; i++) {
        const struct void__pbft_body *b =
            body_find(r, digests + (size_t)i * VOID_PBFT_DIGEST_SIZE);
        if (b != NULL) {
            r->stats.bodies_served++;
            void__pbft_send_copy(r, out, fr->sender, VOID_MSG_REQUEST, b->frame, b->len);
        }
    }
}

static int merge_clock(struct void_pbft *r,
                       uint64_t now_ns,
                       const struct void_frame *fr,
                       struct void_pbft_out *out);

static void on_request(struct void_pbft *r,
                       uint64_t now_ns,
                       const uint8_t *buf,
                       size_t len,
                       const struct void_frame *fr,
                       struct void_pbft_out *out)
{
    struct void_pbft_request q;
    size_t used = 0;
    if (void_pbft_request_decode(buf, len, &q, &used) != 0 || used != len) {
        r->stats.rx_malformed++;
        return;
    }
    if (q.client < r->cfg.n) {
        r->stats.rx_unknown_sender++; /* replicas send no requests */
        return;
    }
    /* The primary checks the signature of what it will order; a backup
     * takes the request's tag for it (request_authentic). */
    int sig_checked = is_primary(r);
    int rc = request_authentic(r, &q, &sig_checked);
    if (rc != 0) {
        if (rc == VOID_EUNKNOWN_SENDER) {
            r->stats.rx_unknown_sender++; /* neither in the keyring nor certified */
        } else {
            r->stats.rx_bad_sig++;
        }
        return;
    }
    if (merge_clock(r, now_ns, fr, out) != 0) {
        return;
    }
    if (len > VOID_PBFT_INLINE_MAX && !body_offer(r, now_ns, &q, buf, len, sig_checked, out)) {
        return; /* a large request is ordered by its digest: keep its body */
    }
    uint64_t last;
    const uint8_t *res;
    size_t res_len;
    if (void_sm_client_last(&r->sm, table_key(q.client, q.session), &last, &res, &res_len) &&
        q.reqno <= last && !(MUTANT_NO_AT_MOST_ONCE && q.reqno == last)) {
        if (q.reqno == last) {
            r->stats.rx_duplicate++; /* the client missed our reply: resend it */
            send_reply(r, now_ns, out, &q, res, res_len);
        } else {
            r->stats.rx_stale++;
            send_stale(r, now_ns, out, &q, last);
        }
        return;
    }
    int i = pending_find(r, q.client, q.session);
    if (i >= 0 && r->pending[i].reqno > q.reqno) {
        r->stats.rx_stale++;
        send_stale(r, now_ns, out, &q, r->pending[i].reqno);
        return;
    }
    if (i >= 0 && r->pending[i].reqno == q.reqno) {
        r->stats.rx_duplicate++;
    } else {
        if (i < 0 && r->pending_count == VOID_PBFT_PENDING_MAX) {
            r->stats.rx_pending_full++;
            return;
        }
        /* One outstanding request per client: a newer one replaces the older. */
        struct void__pbft_pending *p = &r->pending[i >= 0 ? (uint32_t)i : r->pending_count++];
        p->client = q.client;
        p->session = q.session;
        p->reqno = q.reqno;
        p->batched = 0;
        p->sig_checked = (uint8_t)sig_checked;
        if (len > VOID_PBFT_INLINE_MAX) { /* the batch item: a reference to the body */
            void_pbft_ref_encode(&q, buf, len, p->frame);
            p->len = VOID_PBFT_REF_SIZE;
        } else {
            VOID_ASSERT(len <= sizeof(p->frame));
            p->len = (uint16_t)len;
            memcpy(p->frame, buf, len);
        }
    }
    if (r->view_changing) {
        return;
    }
    if (is_primary(r)) {
        void__pbft_try_batch(r, now_ns, out);
    } else {
        /* Relay the client's own signed frame to the primary, and start
         * suspecting it (TOCS'02 4.4). A large one the client sent to every
         * replica itself. */
        if (len <= VOID_PBFT_INLINE_MAX) {
            void__pbft_send_copy(
                r, out, void_pbft_primary_of(r, r->view), VOID_MSG_REQUEST, buf, len);
        }
        void__pbft_arm_request_timer(r, out, 0);
    }
}

/* ---- read-only requests -----------------------------------------------------
 * PBFT's read-only optimisation (OSDI'99 5.1, TOCS'02 5.1.3; docs/pbft.md,
 * "Read-only requests"). A READ goes from the client to every replica, which
 * answers it from its executed state without ordering it; the client takes
 * a quorum of matching answers, or orders the read. An honest replica
 * answers only when its executed state holds every batch it sent a COMMIT
 * for or knows committed: a write that completed was committed by a quorum,
 * which shares an honest replica with the read's quorum, and that replica's
 * answer, which the others' match, then reflects the write. Until then it
 * holds the read (a few, the newest per client session) and answers it once
 * execution catches up; a replica changing view holds it too. A replica
 * restarted from its records lost the state it executed since its
 * checkpoint and does not know how far it had got: it answers no read until
 * it executes a batch stamped after its restart (plus twice the HLC's max
 * offset, the skew between the primary's stamp and any replica's clock),
 * which comes after every batch committed before the restart. */

/* Whether this replica may answer reads now (see above). */
static int reads_ready(struct void_pbft *r, uint64_t now_ns)
{
    VOID_ASSERT(r->last_executed <= r->low + r->cfg.window);
    if (r->ro_stamp_min == UINT64_MAX) {
        /* Restarted (void_pbft_recover; void_pbft_start clears it): the
         * first read after the restart fixes the bound, later than the
         * restart itself, so no less safe. */
        r->ro_stamp_min = now_ns + 2 * r->hlc.max_offset_ns;
    }
    if (r->view_changing || r->sm.last_stamp.wall_ns < r->ro_stamp_min) {
        return 0;
    }
    for (uint32_t i = 0; i < r->cfg.window; i++) {
        const struct void__pbft_entry *e = &r->log[i];
        if (e->used && e->seq > r->last_executed && (e->committed || e->sent_commit)) {
            r->ro_floor = e->seq > r->ro_floor ? e->seq : r->ro_floor;
        }
    }
    return r->last_executed >= r->ro_floor;
}

/* Answers the authenticated read-only request q from the executed state:
 * a REPLY on its own (a batch of one), tagged for its client and, when this
 * replica holds the key it shares with the client, not signed. The tag is
 * what the client checks (it verifies a reply's signature only when the tag
 * is missing or wrong), and a read's answer is no proof for anyone else:
 * unlike an ordered reply it commits the replica to nothing in the log, so
 * a signature there bought nothing but an Ed25519 sign per read per
 * replica, a third of a replica's CPU under a read-only load (perf,
 * bench/README.md, kv_get). Without the key the answer is signed: the
 * client then checks the signature, as for any reply. */
static void read_answer(struct void_pbft *r,
                        uint64_t now_ns,
                        const struct void_pbft_request *q,
                        struct void_pbft_out *out)
{
    size_t res_len = 0;
    int rc =
        void_sm_execute_read(&r->sm, q->op, q->op_len, r->result_buf, VOID_SM_RESULT_MAX, &res_len);
    if (rc != 0) {
        VOID_ASSERT(rc != VOID_EPERM); /* checked on arrival */
        return;                        /* a local failure: the step reports it */
    }
    r->stats.reads_answered++;
    reply_add(r, now_ns, out, q, r->result_buf, res_len, 0, 1);
    if (r->reply_frame[0] != NULL && r->reply_mac_ok[0]) {
        /* The signature field stays zero (frame_body framed it unsigned). */
        void_pbft_reply_tag(r->reply_frame[0], r->reply_frame_len[0], r->reply_mac[0]);
        return;
    }
    reply_sign_all(r, 1);
}

/* Answers the reads held while this replica could not (reads_ready). */
static void reads_flush(struct void_pbft *r, uint64_t now_ns, struct void_pbft_out *out)
{
    if (r->read_count == 0 || !reads_ready(r, now_ns)) {
        return;
    }
    for (uint32_t i = 0; i < r->read_count && void_sm_failed(&r->sm) == 0; i++) {
        struct void_pbft_request q;
        size_t used = 0;
        int rc = void_pbft_read_decode(r->reads[i].frame, r->reads[i].len, &q, &used);
        VOID_ASSERT(rc == 0); /* decoded and authenticated when it arrived */
        read_answer(r, now_ns, &q, out);
    }
    r->read_count = 0;
}

/* Holds an authenticated read until this replica may answer it: the newest
 * per (client, session), at most VOID_PBFT_READS_MAX, the oldest dropped (its
 * client orders the read after its timeout). */
static void read_hold(struct void_pbft *r, const struct void_pbft_request *q)
{
    VOID_ASSERT(r->read_count <= VOID_PBFT_READS_MAX);
    if (q->record_len > sizeof(r->reads[0].frame)) {
        r->stats.reads_dropped++; /* a read of a 4 KiB key: not held */
        return;
    }
    uint32_t i = 0;
    while (i < r->read_count &&
           (r->reads[i].client != q->client || r->reads[i].session != q->session)) {
        i++;
    }
    if (i < r->read_count) {
        r->stats.reads_dropped++; /* superseded by the same session's newer read */
        memmove(&r->reads[i], &r->reads[i + 1], (r->read_count - i - 1) * sizeof(r->reads[0]));
        r->read_count--;
    } else if (r->read_count == VOID_PBFT_READS_MAX) {
        r->stats.reads_dropped++;
        memmove(&r->reads[0], &r->reads[1], (r->read_count - 1) * sizeof(r->reads[0]));
        r->read_count--;
    }
    struct void__pbft_read *h = &r->reads[r->read_count++];
    h->client = q->client;
    h->session = q->session;
    h->len = (uint16_t)q->record_len;
    memcpy(h->frame, q->record, q->record_len);
    r->stats.reads_deferred++;
}

static void on_read(struct void_pbft *r,
                    uint64_t now_ns,
                    const uint8_t *buf,
                    size_t len,
                    const struct void_frame *fr,
                    struct void_pbft_out *out)
{
    struct void_pbft_request q;
    size_t used = 0;
    if (void_pbft_read_decode(buf, len, &q, &used) != 0 || used != len) {
        r->stats.rx_malformed++;
        return;
    }
    if (q.client < r->cfg.n) {
        r->stats.rx_unknown_sender++; /* replicas send no requests */
        return;
    }
    int sig_checked = 0; /* our tag, else the client's signature */
    int rc = request_authentic(r, &q, &sig_checked);
    if (rc != 0) {
        if (rc == VOID_EUNKNOWN_SENDER) {
            r->stats.rx_unknown_sender++;
        } else {
            r->stats.rx_bad_sig++;
        }
        return;
    }
    if (merge_clock(r, now_ns, fr, out) != 0) {
        return;
    }
    if (!void_sm_op_read_only(q.op, q.op_len)) {
        r->stats.reads_refused++; /* a write is ordered, never answered here */
        return;
    }
    if (reads_ready(r, now_ns)) {
        read_answer(r, now_ns, &q, out);
    } else {
        read_hold(r, &q);
    }
}

/* ---- batches and pre-prepares ---------------------------------------------- */

int void__pbft_batch_check(
    struct void_pbft *r, const uint8_t *batch, uint32_t len, uint16_t count, int verify_sigs)
{
    size_t off = 0;
    uint32_t refs = 0;
    size_t ref_bytes = 0;
    for (uint16_t i = 0; i < count; i++) {
        struct void_pbft_batch_item it;
        size_t used = 0;
        int rc = void_pbft_batch_item_decode(batch + off, len - off, &it, &used);
        if (rc != 0) {
            return rc;
        }
        off += used;
        if (it.is_ref) {
            /* Its body is checked when it comes (body_offer) and must be
             * here before we prepare (void__pbft_bodies_ready); what a
             * batch may name is bounded, so a faulty primary cannot make
             * us hold more. */
            ref_bytes += it.frame_len;
            if (it.client < r->cfg.n || ++refs > VOID_PBFT_BATCH_REFS_MAX ||
                ref_bytes > VOID_PBFT_BATCH_BODIES_MAX) {
                return it.client < r->cfg.n ? VOID_EUNKNOWN_SENDER : VOID_EBAD_FIELD;
            }
            continue;
        }
        if (it.req.client < r->cfg.n) {
            return VOID_EUNKNOWN_SENDER;
        }
#if defined(VOID_MUTANT_SKIP_CHECKS) && VOID_MUTANT_SKIP_CHECKS
        verify_sigs = 0; /* backups take requests unauthenticated: unsafe, mutation test only */
#endif
        int sig_checked = 0;
        if (verify_sigs && (rc = request_authentic(r, &it.req, &sig_checked)) != 0) {
            return rc;
        }
    }
    return off == len ? 0 : VOID_EBAD_LENGTH;
}

void void__pbft_entry_set_batch(struct void__pbft_entry *e,
                                const uint8_t *pp,
                                size_t pp_len,
                                const struct void_pbft_pre_prepare *m,
                                const uint8_t digest[VOID_PBFT_DIGEST_SIZE])
{
    VOID_ASSERT(pp_len <= sizeof(e->pp_frame));
    memcpy(e->digest, digest, VOID_PBFT_DIGEST_SIZE);
    e->have_batch = 1;
    e->pp_len = (uint32_t)pp_len;
    if (pp_len == 0) {
        memset(&e->hlc, 0, sizeof(e->hlc));
        e->count = 0;
        e->batch_off = 0;
        e->batch_len = 0;
        return;
    }
    memcpy(e->pp_frame, pp, pp_len);
    e->hlc = m->hlc;
    e->count = m->count;
    e->batch_len = m->batch_len;
    e->batch_off = (uint32_t)(m->batch - pp);
    VOID_ASSERT(e->batch_off + e->batch_len == pp_len - VOID_SIGN_SIZE);
}

/* Cuts one batch from the unbatched pending requests into r->scratch after
 * the pre-prepare head. Returns the number of requests. */
static uint16_t cut_batch(struct void_pbft *r, uint32_t *batch_len)
{
    uint8_t *batch = r->scratch + VOID_PBFT_PP_HEAD;
    uint16_t count = 0;
    size_t len = 0;
    uint32_t refs = 0;
    size_t ref_bytes = 0;
    for (uint32_t i = 0; i < r->pending_count && count < r->cfg.batch_max; i++) {
        struct void__pbft_pending *p = &r->pending[i];
        if (p->batched) {
            continue;
        }
        /* The client's signed frame goes into the batch as it came, or the
         * reference to a large one. */
        if (len + p->len > VOID_PBFT_BATCH_BYTES_MAX) {
            break;
        }
        struct void__pbft_body *b = NULL;
        if (p->frame[0] == 0) {
            b = body_find(r, p->frame + 17);
            if (b == NULL) { /* dropped over a bound: the client sends it again */
                pending_remove_at(r, i--); /* the last pending one moved to i */
                continue;
            }
            if (refs + 1 > VOID_PBFT_BATCH_REFS_MAX ||
                (refs > 0 && ref_bytes + b->len > VOID_PBFT_BATCH_BODIES_MAX)) {
                continue; /* the next batch takes it */
            }
            refs++;
            ref_bytes += b->len;
        }
        if (!p->sig_checked && !(b != NULL && b->sig_checked)) { /* taken by its tag */
            struct void_pbft_request q;
            size_t used = 0;
            int rc = b != NULL ? void_pbft_request_decode(b->frame, b->len, &q, &used)
                               : void_pbft_request_decode(p->frame, p->len, &q, &used);
            VOID_ASSERT(rc == 0); /* decoded when it arrived */
            int sig_checked = 1;
            if (request_authentic(r, &q, &sig_checked) != 0) {
                r->stats.rx_bad_sig++;
                pending_remove_at(r, i--); /* the last pending one moved to i */
                continue;
            }
            p->sig_checked = 1;
        }
        memcpy(batch + len, p->frame, p->len);
        len += p->len;
        p->batched = 1;
        count++;
    }
    *batch_len = (uint32_t)len;
    return count;
}

static void
send_pre_prepare(struct void_pbft *r, uint64_t now_ns, int empty_ok, struct void_pbft_out *out)
{
    if (!void__pbft_may_vote(r, r->next_seq)) {
        /* Past the next checkpoint boundary, a change we have not executed
         * yet may put another epoch in effect; past a pending change's
         * boundary, the next epoch proposes once it is stable. */
        return;
    }
    uint32_t batch_len = 0;
    uint16_t count = cut_batch(r, &batch_len);
    if (count == 0 && !empty_ok) {
        return;
    }
    struct void_pbft_pre_prepare m = {.view = r->view,
                                      .seq = r->next_seq,
                                      .hlc = void_hlc_now_at(&r->hlc, now_ns),
                                      .count = count,
                                      .batch = r->scratch + VOID_PBFT_PP_HEAD,
                                      .batch_len = batch_len};
    /* The batch is already in place: encode only the head in front of it. */
    int len = void_pbft_pre_prepare_encode(&m, r->scratch, VOID_PBFT_PP_HEAD + (size_t)batch_len);
    VOID_ASSERT(len == (int)(VOID_PBFT_PP_HEAD + batch_len));
    uint8_t digest[VOID_PBFT_DIGEST_SIZE];
    void_pbft_batch_digest(m.hlc, count, m.batch, batch_len, digest);
    const uint8_t *frame;
    size_t frame_len;
    if (void__pbft_frame(r,
                         now_ns,
                         out,
                         VOID_PBFT_TO_ALL,
                         VOID_MSG_PRE_PREPARE,
                         (size_t)len,
                         &frame,
                         &frame_len) != 0) {
        return;
    }
    struct void__pbft_entry *e = void__pbft_slot(r, r->next_seq);
    /* try_batch skipped every slot that already holds a batch of this view;
     * what may be here are votes that came before our own pre-prepare. */
    VOID_ASSERT(!(e->used && e->seq == r->next_seq && e->view == r->view && e->have_batch));
    void__pbft_entry_reset(r, e, r->view, r->next_seq);
    struct void_pbft_pre_prepare parsed;
    VOID_ASSERT(
        void_pbft_pre_prepare_decode(frame + VOID_CODEC_HEADER_SIZE, (size_t)len, &parsed) == 0);
    void__pbft_entry_set_batch(e, frame, frame_len, &parsed, digest);
    void__pbft_note(r, out, VOID_PBFT_EVENT_PRE_PREPARED, e->view, e->seq);
    r->next_seq++;
    /* Not persisted: the first record of the entry is its prepared
     * certificate, before COMMIT (check_prepared). Safe because a primary
     * that recovers from its records never proposes again in the view it
     * recovered in (it hands the view off, void_pbft_recover), so it cannot
     * contradict a pre-prepare it forgot. docs/pbft.md, "Votes without
     * records". */
    void__pbft_send(r, out, VOID_PBFT_TO_ALL, VOID_MSG_PRE_PREPARE, frame, frame_len);
}

void void__pbft_try_batch(struct void_pbft *r, uint64_t now_ns, struct void_pbft_out *out)
{
    if (!is_primary(r) || r->view_changing) {
        return;
    }
    if (r->next_seq <= r->last_executed) {
        r->next_seq = r->last_executed + 1; /* we caught up through state transfer */
    }
    for (uint32_t guard = 0; guard < r->cfg.window; guard++) {
        /* A slot of this view that holds a batch already (a new view's O set,
         * or our own before a crash) is taken. */
        struct void__pbft_entry *e = void__pbft_slot(r, r->next_seq);
        if (!(e->used && e->seq == r->next_seq && e->view == r->view && e->have_batch)) {
            break;
        }
        r->next_seq++;
    }
    for (uint32_t guard = 0; guard < r->cfg.pipeline_max; guard++) {
        VOID_ASSERT(r->next_seq > r->last_executed);
        if (r->next_seq - 1 - r->last_executed >= r->cfg.pipeline_max ||
            r->next_seq > r->low + r->cfg.window) {
            return;
        }
        uint64_t before = r->next_seq;
        send_pre_prepare(r, now_ns, 0, out);
        if (r->next_seq == before) {
            return; /* nothing left to batch */
        }
    }
    void__pbft_arm_request_timer(r, out, 0);
}

/* Rejoining (docs/pbft.md). A replica changing view alone goes back to our
 * view only on fresh evidence: a batch committed here beyond anything it had
 * seen when it left. An idle cluster commits nothing, so it would stay out
 * until the next client request -- seconds, or for ever -- and count for
 * nothing in the quorum of that request. So the primary of an installed view
 * that hears a VIEW-CHANGE for a later view from `from' while it has no batch
 * in flight and no request waiting proposes an empty one: it goes through
 * the three phases like any other and executes to nothing. This changes
 * nothing a backup accepts (an empty pre-prepare was always valid, and a
 * faulty primary could always send one), so safety is that of any batch.
 * Client requests always go first: a waiting request is batched instead, and
 * its batch is the evidence. The cost is bounded, also when a faulty replica
 * keeps sending VIEW-CHANGEs: at most one empty batch per request timeout in
 * all, and one per view-change timeout for each sender. */
void void__pbft_propose_beacon(struct void_pbft *r,
                               uint64_t now_ns,
                               uint32_t from,
                               struct void_pbft_out *out)
{
    VOID_ASSERT(r->started && from < r->cfg.n);
    if (!r->cfg.rejoin_beacon || !is_primary(r) || r->view_changing ||
        (r->beacon_ns != 0 && now_ns - r->beacon_ns < r->cfg.request_timeout_ns) ||
        (r->beacon_for_ns[from] != 0 &&
         now_ns - r->beacon_for_ns[from] < r->cfg.view_change_timeout_ns)) {
        return;
    }
    void__pbft_try_batch(r, now_ns, out); /* requests waiting go first, and do as well */
    if (r->next_seq - 1 != r->last_executed || r->next_seq > r->low + r->cfg.window) {
        return; /* a batch in flight will do */
    }
    for (uint32_t i = 0; i < r->pending_count; i++) {
        if (!r->pending[i].batched) {
            return; /* a request we could not batch yet: its batch will do */
        }
    }
    uint64_t before = r->next_seq;
    send_pre_prepare(r, now_ns, 1, out);
    if (r->next_seq != before) {
        r->beacon_ns = now_ns == 0 ? 1 : now_ns;
        r->beacon_for_ns[from] = r->beacon_ns;
        r->stats.rejoin_beacons++;
    }
    VOID_ASSERT(r->next_seq - 1 >= r->last_executed);
}

void void__pbft_send_prepare(struct void_pbft *r,
                             uint64_t now_ns,
                             struct void__pbft_entry *e,
                             struct void_pbft_out *out)
{
    VOID_ASSERT(e->view == r->view && !r->view_changing);
    VOID_ASSERT(e->seq > r->low && e->have_batch);
    if (!void__pbft_may_vote(r, e->seq)) {
        return; /* deferred until the vote horizon reaches it: release_votes */
    }
    if (e->view < r->prepare_view_min ||
        (e->view == r->prepare_view_min && e->seq <= r->prepare_seq_floor) ||
        e->view < r->vote_view_min) {
        /* We restarted in this view and may have sent a prepare we no longer
         * know of (prepares are not persisted, below; the horizon bounds
         * them), so a new one could contradict it; or we returned to this
         * view after a VIEW-CHANGE for a later one, which promised no more
         * votes here (docs/pbft.md, Rejoining). We still count the others'
         * prepares. */
        r->stats.prepares_withheld++;
        return;
    }
    if (!void__pbft_bodies_ready(r, e)) {
        return; /* we vouch only for requests we hold: bodies_arrived prepares */
    }
    void__pbft_raise_horizon(r, e->seq, 0, out);
    struct void_pbft_vote v = {.view = e->view, .seq = e->seq};
    memcpy(v.digest, e->digest, VOID_PBFT_DIGEST_SIZE);
    int len = void_pbft_vote_encode(&v, r->scratch, r->scratch_cap);
    const uint8_t *frame;
    size_t frame_len;
    if (void__pbft_frame(
            r, now_ns, out, VOID_PBFT_TO_ALL, VOID_MSG_PREPARE, (size_t)len, &frame, &frame_len) !=
        0) {
        return;
    }
    uint32_t self = r->cfg.self;
    VOID_ASSERT(frame_len <= VOID_PBFT_SMALL_FRAME_MAX);
    e->sent_prepare = 1;
    e->prepare_mask |= VOID__BIT(self);
    memcpy(e->prepare_digest[self], e->digest, VOID_PBFT_DIGEST_SIZE);
    memcpy(e->prepare_frame[self], frame, frame_len);
    e->prepare_len[self] = (uint16_t)frame_len;
    /* Not persisted: a request crosses one sync, the prepared certificate's
     * before COMMIT (check_prepared), and a VIEW record bounding the
     * sequence numbers we prepare in this view (the horizon, raised above;
     * most of the time it rode along with an earlier ENTRY record). Safe
     * because a replica that recovers in view v sends no new prepare in v at
     * or below that horizon (prepare_view_min, prepare_seq_floor, set by
     * void_pbft_recover), so it can never vote for two digests at one
     * (view, seq). docs/pbft.md, "Votes without records". */
    void__pbft_send(r, out, VOID_PBFT_TO_ALL, VOID_MSG_PREPARE, frame, frame_len);
}

static void check_prepared(struct void_pbft *r,
                           uint64_t now_ns,
                           struct void__pbft_entry *e,
                           struct void_pbft_out *out);

static void on_pre_prepare(struct void_pbft *r,
                           uint64_t now_ns,
                           const uint8_t *buf,
                           size_t len,
                           const struct void_frame *fr,
                           struct void_pbft_out *out)
{
    struct void_pbft_pre_prepare m;
    if (void_pbft_pre_prepare_decode(fr->body, fr->body_len, &m) != 0) {
        r->stats.rx_malformed++;
        return;
    }
    if (fr->sender != void_pbft_primary_of(r, m.view)) {
        r->stats.rx_not_primary++;
        return;
    }
    if (m.view != r->view || r->view_changing) {
        r->stats.rx_wrong_view++;
        if (m.view < r->view) {
            void__pbft_resend_new_view(r, now_ns, fr->sender, out); /* the sender lags */
        }
        return;
    }
    if (m.seq <= r->low || m.seq > r->low + r->cfg.window) {
        r->stats.rx_out_of_window++;
        if (m.seq > r->seen_max) {
            r->seen_max = m.seq; /* the next tick fetches state if we are stuck */
        }
        return;
    }
    if (void__pbft_epoch_holds(r, m.seq)) {
        /* The primary retransmits it. The others are past the boundary:
         * if its checkpoint never becomes stable here (they stopped
         * sending CHECKPOINTs), the next tick fetches their stable one. */
        r->stats.rx_epoch_held++;
        r->seen_max = m.seq > r->seen_max ? m.seq : r->seen_max;
        return;
    }
    if (m.hlc.wall_ns > now_ns && m.hlc.wall_ns - now_ns > r->hlc.max_offset_ns) {
        r->stats.rx_hlc_ahead++;
        return;
    }
    uint8_t digest[VOID_PBFT_DIGEST_SIZE];
    void_pbft_batch_digest(m.hlc, m.count, m.batch, m.batch_len, digest);
    struct void__pbft_entry *e = void__pbft_slot(r, m.seq);
    if (e->used && e->seq == m.seq && e->view == m.view && e->have_batch) {
        if (memcmp(e->digest, digest, VOID_PBFT_DIGEST_SIZE) == 0) {
            r->stats.rx_duplicate++;
        } else {
            r->stats.rx_conflicting++; /* an equivocating primary: keep the first */
        }
        return;
    }
    if (e->used && e->seq == m.seq && (e->executed || e->committed)) {
        if (memcmp(e->digest, digest, VOID_PBFT_DIGEST_SIZE) == 0) {
            r->stats.rx_stale++;
        } else {
            r->stats.rx_conflicting++;
        }
        return;
    }
    int rc = void__pbft_batch_check(r, m.batch, m.batch_len, m.count, r->cfg.verify_signatures);
    if (rc != 0) {
        if (rc == VOID_EBAD_SIG) {
            r->stats.rx_bad_sig++;
        } else if (rc == VOID_EUNKNOWN_SENDER) {
            r->stats.rx_unknown_sender++;
        } else {
            r->stats.rx_malformed++;
        }
        return;
    }
    if (!(e->used && e->seq == m.seq && e->view == m.view)) {
        void__pbft_entry_reset(
            r, e, m.view, m.seq); /* votes that came early for it are kept otherwise */
    }
    void__pbft_entry_set_batch(e, buf, len, &m, digest);
    void__pbft_note(r, out, VOID_PBFT_EVENT_PRE_PREPARED, e->view, e->seq);
    void__pbft_send_prepare(r, now_ns, e, out);
    void__pbft_arm_request_timer(r, out, 0);
    check_prepared(r, now_ns, e, out);
}

/* ---- prepares and commits -------------------------------------------------- */

static void check_prepared(struct void_pbft *r,
                           uint64_t now_ns,
                           struct void__pbft_entry *e,
                           struct void_pbft_out *out)
{
    if (!e->have_batch || e->prepared || e->view != r->view || r->view_changing ||
        !void__pbft_may_vote(r, e->seq)) {
        return;
    }
    uint32_t primary = void_pbft_primary_of(r, e->view);
    /* Only our epoch's voters count, ourselves included: a removed replica
     * follows the others but never completes a quorum with its own vote. */
    if (matching(e->prepare_mask & r->voters, &e->prepare_digest[0][0], e->digest, primary) <
        void__pbft_prepare_quorum(r)) {
        return;
    }
    e->prepared = 1;
    void__pbft_note(r, out, VOID_PBFT_EVENT_PREPARED, e->view, e->seq);
    if (e->view < r->vote_view_min) {
        /* We returned to this view after a VIEW-CHANGE for a later one that
         * reports what we had prepared then: a COMMIT now would be a vote
         * that view change does not account for (docs/pbft.md, Rejoining).
         * Others' 2f+1 commits still let us execute. Reporting the
         * certificate in a later view change is harmless: it is valid. */
        r->stats.commits_withheld++;
        return;
    }
    const uint8_t *frame;
    size_t frame_len;
    if (void__pbft_commit_frame(r, now_ns, out, e, &frame, &frame_len) != 0) {
        return;
    }
    e->sent_commit = 1;
    r->ro_floor = e->seq > r->ro_floor ? e->seq : r->ro_floor; /* reads wait for it */
    e->commit_mask |= VOID__BIT(r->cfg.self);
    memcpy(e->commit_digest[r->cfg.self], e->digest, VOID_PBFT_DIGEST_SIZE);
    memcpy(e->commit_frame[r->cfg.self], frame, frame_len);
    e->commit_len[r->cfg.self] = (uint16_t)frame_len;
    /* The prepared certificate is durable before the commit that relies on it. */
    void__pbft_persist_entry(r, e, out);
    if (!is_primary(r)) {
        /* Keep the prepare horizon ahead of us in the same sync, so that the
         * next prepares need no record of their own. */
        void__pbft_raise_horizon(r, e->seq, 1, out);
    }
    void__pbft_send(r, out, VOID_PBFT_TO_ALL, VOID_MSG_COMMIT, frame, frame_len);
    void__pbft_check_committed(r, now_ns, e, out);
}

/* Whether e holds a commit quorum whose every commit others can check too:
 * commits that only their tag authenticated have their signature checked
 * now, as many as the quorum needs, and one that fails is dropped. A tag
 * proves the sender to us alone. A batch executed on a Byzantine replica's
 * tagged commit with a bad signature has no certificate anywhere: the
 * replicas that did not execute it can neither fetch it in STATE nor, with
 * this replica skipping the re-proposals of what it executed, commit it again
 * in a later view, and the cluster changed view for ever (campaign seeds
 * 39246, 62964; docs/pbft.md, Commit authentication). */
static int commits_certified(struct void_pbft *r, struct void__pbft_entry *e)
{
    VOID_ASSERT(e->have_batch && !e->committed);
    uint32_t quorum = void__pbft_commit_quorum(r);
    uint32_t good = 0;
    uint32_t unchecked = 0;
    for (uint32_t i = 0; i < r->cfg.n; i++) {
        if ((e->commit_mask & r->voters & VOID__BIT(i)) &&
            memcmp(e->commit_digest[i], e->digest, VOID_PBFT_DIGEST_SIZE) == 0) {
            if (e->commit_unchecked & VOID__BIT(i)) {
                unchecked |= VOID__BIT(i);
            } else {
                good++;
            }
        }
    }
    for (uint32_t i = 0; i < r->cfg.n && good < quorum; i++) {
        if (!(unchecked & VOID__BIT(i))) {
            continue;
        }
        VOID_ASSERT(e->commit_len[i] > VOID_SIGN_SIZE);
        e->commit_unchecked &= ~VOID__BIT(i);
        r->stats.verifies++;
        if (void_keyring_verify(r->ring,
                                i,
                                VOID_SIGN_DOMAIN_FRAME,
                                e->commit_frame[i],
                                e->commit_len[i] - VOID_SIGN_SIZE,
                                e->commit_frame[i] + e->commit_len[i] - VOID_SIGN_SIZE) != 0) {
            r->stats.rx_bad_sig++;
            e->commit_mask &= ~VOID__BIT(i); /* its sender may send a good one */
            e->commit_len[i] = 0;
            continue;
        }
        good++;
    }
    return good >= quorum;
}

void void__pbft_check_committed(struct void_pbft *r,
                                uint64_t now_ns,
                                struct void__pbft_entry *e,
                                struct void_pbft_out *out)
{
    if (!e->have_batch || e->committed || !void__pbft_may_vote(r, e->seq)) {
        return; /* a commit counted past the horizon might be another epoch's */
    }
    /* 2f+1 commits for (view, seq, digest) mean that at least f+1 honest
     * replicas prepared it, so every later view keeps it (TOCS'02 4.5). */
    if (matching(e->commit_mask & r->voters, &e->commit_digest[0][0], e->digest, UINT32_MAX) <
            void__pbft_commit_quorum(r) ||
        !commits_certified(r, e)) {
        return;
    }
    e->committed = 1;
    void__pbft_note(r, out, VOID_PBFT_EVENT_COMMITTED, e->view, e->seq);
    r->stats.batches_committed++;
    /* The certificate rides in the step's sync, and the batch executes only
     * once it is durable: the store is never ahead of the records, so a
     * restarted replica can serve every batch it executed past its
     * checkpoint (docs/pbft.md, Recovery). */
    void__pbft_persist_entry(r, e, out);
    e->cert_mark = ++r->persist_mark;
    if (!r->cfg.execute_after_durable) {
        r->durable_mark = r->persist_mark;
    }
    void__pbft_execute_ready(r, now_ns, out);
}

/* Finds or prepares the entry that a vote for (view, seq) counts towards;
 * NULL if the vote is obsolete. */
static struct void__pbft_entry *vote_entry(struct void_pbft *r, void_view view, void_seq seq)
{
    struct void__pbft_entry *e = void__pbft_slot(r, seq);
    if (e->used && e->seq == seq) {
        if (e->executed || view < e->view) {
            return NULL;
        }
        if (view == e->view) {
            return e;
        }
        /* A vote of a view we have not reached must not wipe a batch we hold. */
        if (e->committed || (view > r->view && e->have_batch)) {
            return NULL;
        }
    }
    /* A vote that arrived before its pre-prepare (or for a newer view than
     * the entry): start collecting for (view, seq), without a batch. */
    void__pbft_entry_reset(r, e, view, seq);
    return e;
}

/* Decodes a PREPARE's or a COMMIT's body. */
static int vote_decode(const struct void_frame *fr, struct void_pbft_vote *v)
{
    return fr->type == VOID_MSG_COMMIT ? void_pbft_commit_decode(fr->body, fr->body_len, v)
                                       : void_pbft_vote_decode(fr->body, fr->body_len, v);
}

/* Keeps sender s's COMMIT frame in e; admit said whether its tag or its
 * signature authenticated it. */
static void store_commit(
    struct void_pbft *r, struct void__pbft_entry *e, uint32_t s, const uint8_t *buf, size_t len)
{
    VOID_ASSERT(len <= VOID_PBFT_COMMIT_FRAME_MAX);
    memcpy(e->commit_frame[s], buf, len);
    e->commit_len[s] = (uint16_t)len;
    if (r->rx_tagged) {
        e->commit_unchecked |= VOID__BIT(s);
    } else {
        e->commit_unchecked &= ~VOID__BIT(s);
    }
}

/* The executed entry that sender s's COMMIT v would complete as a spare:
 * same (view, seq, digest), and no commit of s held yet. NULL otherwise. */
static struct void__pbft_entry *
spare_entry(struct void_pbft *r, const struct void_pbft_vote *v, uint32_t s)
{
    struct void__pbft_entry *e = void__pbft_slot(r, v->seq);
    if (!e->used || e->seq != v->seq || e->view != v->view || !e->executed ||
        (e->commit_mask & VOID__BIT(s)) ||
        memcmp(e->digest, v->digest, VOID_PBFT_DIGEST_SIZE) != 0) {
        return NULL;
    }
    return e;
}

/* A COMMIT for a batch we executed, from a replica whose commit we do not
 * hold: kept as a spare for the certificate we serve in STATE (a Byzantine
 * replica's tagged commit may carry a bad signature, found only there).
 * Returns 1 if kept. */
static int keep_spare_commit(
    struct void_pbft *r, const struct void_pbft_vote *v, uint32_t s, const uint8_t *buf, size_t len)
{
    struct void__pbft_entry *e = spare_entry(r, v, s);
    if (e == NULL) {
        return 0;
    }
    e->commit_mask |= VOID__BIT(s);
    memcpy(e->commit_digest[s], v->digest, VOID_PBFT_DIGEST_SIZE);
    store_commit(r, e, s, buf, len);
    return 1;
}

static void on_vote(struct void_pbft *r,
                    uint64_t now_ns,
                    const uint8_t *buf,
                    size_t len,
                    const struct void_frame *fr,
                    struct void_pbft_out *out)
{
    struct void_pbft_vote v;
    int is_prepare = fr->type == VOID_MSG_PREPARE;
    if (vote_decode(fr, &v) != 0) {
        r->stats.rx_malformed++;
        return;
    }
    if (is_prepare && fr->sender == void_pbft_primary_of(r, v.view)) {
        r->stats.rx_not_primary++; /* the primary's vote is its pre-prepare */
        return;
    }
    /* Prepares count only in the current view. 2f+1 commits for (view, seq,
     * digest) certify the batch whatever our view, so commits of other views
     * are kept: they let a lagging replica catch up. */
    if (is_prepare && (v.view != r->view || r->view_changing)) {
        r->stats.rx_wrong_view++;
        if (v.view < r->view) {
            void__pbft_resend_new_view(r, now_ns, fr->sender, out); /* the sender lags */
        }
        return;
    }
    if (v.seq <= r->low || v.seq > r->low + r->cfg.window) {
        r->stats.rx_out_of_window++;
        if (v.seq > r->seen_max) {
            r->seen_max = v.seq; /* the next tick fetches state if we are stuck */
        }
        return;
    }
    if (void__pbft_epoch_holds(r, v.seq)) {
        r->stats.rx_epoch_held++; /* its sender retransmits it; see on_pre_prepare */
        r->seen_max = v.seq > r->seen_max ? v.seq : r->seen_max;
        return;
    }
    uint32_t s = fr->sender;
    if (v.seq <= r->last_executed) {
        if (!is_prepare && keep_spare_commit(r, &v, s, buf, len)) {
            return;
        }
        r->stats.rx_stale++;
        return;
    }
    struct void__pbft_entry *e = vote_entry(r, v.view, v.seq);
    if (e == NULL) {
        r->stats.rx_stale++;
        return;
    }
    uint32_t *mask = is_prepare ? &e->prepare_mask : &e->commit_mask;
    uint8_t *stored = is_prepare ? e->prepare_digest[s] : e->commit_digest[s];
    if (*mask & VOID__BIT(s)) {
        if (memcmp(stored, v.digest, VOID_PBFT_DIGEST_SIZE) == 0) {
            r->stats.rx_duplicate++;
        } else {
            r->stats.rx_conflicting++;
        }
        return;
    }
    *mask |= VOID__BIT(s);
    memcpy(stored, v.digest, VOID_PBFT_DIGEST_SIZE);
    r->seen_max = v.seq > r->seen_max ? v.seq : r->seen_max;
    if (is_prepare) {
        VOID_ASSERT(len <= VOID_PBFT_SMALL_FRAME_MAX);
        memcpy(e->prepare_frame[s], buf, len);
        e->prepare_len[s] = (uint16_t)len;
        check_prepared(r, now_ns, e, out);
    } else {
        store_commit(r, e, s, buf, len);
        void__pbft_check_committed(r, now_ns, e, out);
    }
}

/* ---- execution and checkpoints --------------------------------------------- */

/* How many requests of an accepted batch name this replica as a replier. */
static uint16_t
count_replies(struct void_pbft *r, const uint8_t *batch, uint32_t len, uint16_t count)
{
    uint16_t replies = 0;
    size_t off = 0;
    for (uint16_t i = 0; i < count; i++) {
        struct void_pbft_batch_item it;
        struct void_pbft_request q;
        size_t used = 0;
        int rc = void_pbft_batch_item_decode(batch + off, len - off, &it, &used);
        VOID_ASSERT(rc == 0); /* checked when the batch was accepted */
        off += used;
        item_request(r, &it, &q);
        replies = (uint16_t)(replies + ((q.repliers & VOID__BIT(r->cfg.self)) != 0));
    }
    return replies;
}

/* Whether q comes with a certificate that expired before the stamp of the
 * batch executing it: the replicated HLC, the same at every replica, where a
 * local clock would let replicas disagree on the answer. The request is not
 * executed (VOID_SM_EXPIRED), unless it is its session's last one, executed
 * before: its cached answer stands. */
static int cert_expired(struct void_pbft *r, const struct void_pbft_request *q)
{
    if (q->cert == NULL) {
        return 0;
    }
    struct void_client_cert c;
    if (void_client_cert_decode(q->cert, &c) != 0) {
        return 1; /* checked before it was ordered; refused alike everywhere */
    }
    uint64_t last;
    const uint8_t *res;
    size_t len;
    if (void_sm_client_last(&r->sm, table_key(q->client, q->session), &last, &res, &len) &&
        last == q->reqno) {
        return 0;
    }
    VOID_ASSERT(r->sm.in_batch);
    return c.expires_ns < r->sm.last_stamp.wall_ns;
}

static void execute_entry(struct void_pbft *r,
                          uint64_t now_ns,
                          struct void__pbft_entry *e,
                          struct void_pbft_out *out)
{
    VOID_ASSERT(e->seq == r->last_executed + 1);
    VOID_ASSERT(e->committed && !e->executed);
    /* A local failure of the store stops execution here: the batch stays
     * unexecuted and the step reports the failure (void_pbft_step_*). */
    if (void_sm_begin_batch(&r->sm, e->hlc, e->seq, NULL) != 0) {
        return;
    }
    const uint8_t *batch = e->pp_frame + e->batch_off;
    uint16_t replies = count_replies(r, batch, e->batch_len, e->count);
    uint16_t replied = 0;
    size_t off = 0;
    uint8_t *result = r->result_buf; /* VOID_SM_RESULT_MAX: a megabyte, not on the stack */
    for (uint16_t i = 0; i < e->count; i++) {
        struct void_pbft_batch_item it;
        struct void_pbft_request q;
        size_t used = 0;
        int rc = void_pbft_batch_item_decode(batch + off, e->batch_len - off, &it, &used);
        VOID_ASSERT(rc == 0); /* checked when the batch was accepted */
        off += used;
        item_request(r, &it, &q);
        size_t res_len = 0;
        if (cert_expired(r, &q)) {
            struct void_sm_result expired = {.status = VOID_SM_EXPIRED};
            int len = void_sm_result_encode(&expired, result, VOID_SM_RESULT_MAX);
            VOID_ASSERT(len > 0);
            res_len = (size_t)len;
        } else {
            rc = void_sm_execute(&r->sm,
                                 table_key(q.client, q.session),
                                 q.reqno,
                                 q.op,
                                 q.op_len,
                                 result,
                                 VOID_SM_RESULT_MAX,
                                 &res_len);
            if (rc != 0) {
                VOID_ASSERT(rc == void_sm_failed(&r->sm));
                return; /* the replies of this batch are never sent */
            }
        }
        r->stats.requests_executed++;
        if (q.repliers & VOID__BIT(r->cfg.self)) { /* the client asked f + 1 of us, or all */
            reply_add(r, now_ns, out, &q, result, res_len, replied++, replies);
        }
    }
    VOID_ASSERT(off == e->batch_len);
    VOID_ASSERT(replied == replies);
    if (void_sm_end_batch(&r->sm) != 0) {
        return;
    }
    if (void_sm_member_take_changed(&r->sm)) {
        void__pbft_epoch_refresh(r, now_ns, out); /* a change pending above its boundary */
    }
    if (replies > 0) {
        reply_sign_all(r, replies);
    }
    e->executed = 1;
    r->last_executed = e->seq;
    struct void_pbft_event *ev =
        event(r, out, VOID_PBFT_EVENT_COMMIT, void_hlc_now_at(&r->hlc, now_ns));
    if (ev != NULL) {
        ev->view = e->view;
        ev->seq = e->seq;
        memcpy(ev->digest, e->digest, VOID_PBFT_DIGEST_SIZE);
    }
    if (e->seq % r->cfg.checkpoint_interval == 0) {
        void__pbft_take_checkpoint(r, now_ns, out);
    }
}

void void__pbft_execute_ready(struct void_pbft *r, uint64_t now_ns, struct void_pbft_out *out)
{
    void_seq before = r->last_executed;
    void_view committed_in = 0;
    for (uint32_t guard = 0; guard < r->cfg.window; guard++) {
        void_seq seq = r->last_executed + 1;
        struct void__pbft_entry *e = void__pbft_slot(r, seq);
        if (!e->used || e->seq != seq || !e->committed || !e->have_batch ||
            seq > r->low + r->cfg.window || void__pbft_epoch_holds(r, seq) ||
            !void__pbft_bodies_ready(r, e)) {
            break; /* a body we lack: fetched at the next ticks (bodies_fetch) */
        }
        if (e->cert_mark > r->durable_mark) {
            break; /* its certificate's record is not durable yet: step_durable */
        }
        committed_in = e->view;
        execute_entry(r, now_ns, e, out);
        if (void_sm_failed(&r->sm) != 0) {
            return; /* the replica stops: the step reports it */
        }
    }
    VOID_ASSERT(r->low <= r->last_executed && r->last_executed <= r->low + r->cfg.window);
    void__pbft_release_votes(r, now_ns, out);
    if (r->last_executed != before) {
        void__pbft_rejoin_view(r, now_ns, committed_in, r->last_executed, out);
        void__pbft_pending_prune(r);
        void__pbft_arm_request_timer(r, out, 1);
        void__pbft_try_batch(r, now_ns, out);
        reads_flush(r, now_ns, out);
    }
}

void void__pbft_release_votes(struct void_pbft *r, uint64_t now_ns, struct void_pbft_out *out)
{
    void_seq h = void__pbft_vote_horizon(r);
    if (h <= r->vote_released) {
        r->vote_released = h; /* lowered by a pending change: nothing to send */
        return;
    }
    void_seq from = r->vote_released > r->low ? r->vote_released : r->low;
    r->vote_released = h;
    for (void_seq seq = from + 1; seq <= h && seq <= r->low + r->cfg.window; seq++) {
        struct void__pbft_entry *e = void__pbft_slot(r, seq);
        if (!e->used || e->seq != seq || e->executed || !e->have_batch) {
            continue;
        }
        if (e->view == r->view && !r->view_changing && !is_primary(r) && !e->sent_prepare) {
            void__pbft_send_prepare(r, now_ns, e, out);
        }
        check_prepared(r, now_ns, e, out);
        void__pbft_check_committed(r, now_ns, e, out);
    }
}

/* Whether every batch above last_executed up to seq (within the window) is
 * committed here, so that it executes once its record is durable. */
static int committed_through(struct void_pbft *r, void_seq seq)
{
    VOID_ASSERT(seq > r->last_executed);
    if (seq > r->low + r->cfg.window) {
        return 0;
    }
    for (void_seq s = r->last_executed + 1; s <= seq; s++) {
        const struct void__pbft_entry *e = void__pbft_slot(r, s);
        if (!e->used || e->seq != s || !e->committed || !e->have_batch) {
            return 0;
        }
    }
    return 1;
}

static struct void__pbft_ckpt *ckpt_slot(struct void_pbft *r, void_seq seq)
{
    struct void__pbft_ckpt *c = &r->ckpt[(seq / r->cfg.checkpoint_interval) % VOID_PBFT_CKPT_SLOTS];
    if (c->seq != seq) {
        memset(c, 0, offsetof(struct void__pbft_ckpt, frame_len));
        c->seq = seq;
    }
    return c;
}

void void__pbft_gc(struct void_pbft *r)
{
    void__pbft_keep_batches(r); /* before their slots are dropped */
    for (uint32_t i = 0; i < r->cfg.window; i++) {
        if (r->log[i].used && r->log[i].seq <= r->low) {
            r->log[i].used = 0;
        }
    }
    for (uint32_t i = 0; i < VOID_PBFT_CKPT_SLOTS; i++) {
        if (r->ckpt[i].seq <= r->low) {
            r->ckpt[i].seq = 0;
        }
    }
    if (r->next_seq <= r->low) {
        r->next_seq = r->low + 1;
    }
    void__pbft_body_gc(r);
}

/* Checkpoint c has 2f+1 matching votes for digest d from the senders in
 * proof: it becomes the low watermark (TOCS'02 4.3). */
static void make_stable(struct void_pbft *r,
                        uint64_t now_ns,
                        struct void__pbft_ckpt *c,
                        const uint8_t *d,
                        uint32_t proof,
                        struct void_pbft_out *out)
{
    VOID_ASSERT(c->seq > r->low && c->seq <= r->last_executed);
    r->low = c->seq;
    memcpy(r->low_digest, d, VOID_PBFT_DIGEST_SIZE);
    r->stable_proof_count = 0;
    for (uint32_t i = 0; i < VOID_PBFT_N_MAX && r->stable_proof_count < void__pbft_quorum(r); i++) {
        if (proof & VOID__BIT(i)) {
            uint32_t k = r->stable_proof_count++;
            memcpy(r->stable_proof[k], c->frame[i], c->frame_len[i]);
            r->stable_proof_len[k] = c->frame_len[i];
        }
    }
    /* The frozen state of the stable checkpoint serves state transfer; an
     * older one serves nothing any more (a STATE carries the low one). */
    void_sm_snapshot_release(&r->sm, r->snapshot);
    r->snapshot = NULL;
    r->snapshot_seq = 0;
    if (r->ckpt_snap_seq == c->seq) {
        r->snapshot = r->ckpt_snap;
        r->snapshot_seq = c->seq;
        r->ckpt_snap = NULL;
        r->ckpt_snap_seq = 0;
    }
    r->stats.checkpoints_stable++;
    void__pbft_note(r, out, VOID_PBFT_EVENT_CHECKPOINT, r->view, c->seq);
    void__pbft_gc(r);
    void__pbft_keep_proof(r); /* after the batches at or below it */
    void__pbft_epoch_refresh(r, now_ns, out); /* the boundary of a pending change */
    VOID_ASSERT(r->low <= r->last_executed);
    void__pbft_persist_checkpoint(r, out);
}

static void check_stable(struct void_pbft *r,
                         uint64_t now_ns,
                         struct void__pbft_ckpt *c,
                         struct void_pbft_out *out)
{
    for (uint32_t i = 0; i < VOID_PBFT_N_MAX; i++) {
        if (!(c->mask & VOID__BIT(i))) {
            continue;
        }
        uint32_t proof = 0;
        for (uint32_t j = 0; j < VOID_PBFT_N_MAX; j++) {
            if ((c->mask & r->voters & VOID__BIT(j)) &&
                memcmp(c->digest[j], c->digest[i], VOID_PBFT_DIGEST_SIZE) == 0) {
                proof |= VOID__BIT(j);
            }
        }
        if (c->seq > r->last_executed && void__popcount(proof) >= r->f + 1) {
            /* At least one honest replica is ahead of us, and f+1 matching
             * CHECKPOINTs are enough to take up its state (on_state). Not
             * when we hold every batch up to it committed and only wait for
             * our own records to be durable to execute them: a snapshot
             * would skip their execution here, and with it the replies we
             * owe their clients as a named replier (a client then waits a
             * retry timeout). If they stay stuck, the retransmit tick
             * fetches. */
            if (!committed_through(r, c->seq)) {
                r->stats.fetch_checkpoint++;
                void__pbft_fetch_state(r, now_ns, out, 0);
            }
            return;
        }
        if (void__popcount(proof) < void__pbft_quorum(r)) {
            continue;
        }
        /* 2f+1 agree, so at least f+1 honest replicas computed this state:
         * ours must be the same, or deterministic execution is broken (a
         * removed replica's own vote is not among them). */
        VOID_ASSERT(!(c->mask & r->voters & VOID__BIT(r->cfg.self)) ||
                    (proof & VOID__BIT(r->cfg.self)));
        make_stable(r, now_ns, c, c->digest[i], proof, out);
        void__pbft_try_batch(r, now_ns, out);
        return;
    }
}

void void__pbft_take_checkpoint(struct void_pbft *r, uint64_t now_ns, struct void_pbft_out *out)
{
    /* O(1): the store keeps its digest up to date as batches commit, and
     * the snapshot freezes the state for state transfer until a later
     * checkpoint replaces it. */
    struct void_pbft_checkpoint m = {.seq = r->last_executed};
    if (r->ckpt_snap != NULL) {
        void_sm_snapshot_release(&r->sm, r->ckpt_snap);
        r->ckpt_snap = NULL;
        r->ckpt_snap_seq = 0;
    }
    if (void_sm_snapshot_take(&r->sm, &r->ckpt_snap) != 0) {
        VOID_ASSERT(void_sm_failed(&r->sm) != 0); /* two snapshots at most are live */
        return;
    }
    r->ckpt_snap_seq = r->last_executed;
    void_sm_snapshot_digest(&r->sm, r->ckpt_snap, m.digest);
    int len = void_pbft_checkpoint_encode(&m, r->scratch, r->scratch_cap);
    const uint8_t *frame;
    size_t frame_len;
    if (void__pbft_frame(r,
                         now_ns,
                         out,
                         VOID_PBFT_TO_ALL,
                         VOID_MSG_CHECKPOINT,
                         (size_t)len,
                         &frame,
                         &frame_len) != 0) {
        return;
    }
    struct void__pbft_ckpt *c = ckpt_slot(r, m.seq);
    uint32_t self = r->cfg.self;
    c->mask |= VOID__BIT(self);
    memcpy(c->digest[self], m.digest, VOID_PBFT_DIGEST_SIZE);
    memcpy(c->frame[self], frame, frame_len);
    c->frame_len[self] = (uint16_t)frame_len;
    void__pbft_send(r, out, VOID_PBFT_TO_ALL, VOID_MSG_CHECKPOINT, frame, frame_len);
    check_stable(r, now_ns, c, out);
}

static void on_checkpoint(struct void_pbft *r,
                          uint64_t now_ns,
                          const uint8_t *buf,
                          size_t len,
                          const struct void_frame *fr,
                          struct void_pbft_out *out)
{
    struct void_pbft_checkpoint m;
    if (void_pbft_checkpoint_decode(fr->body, fr->body_len, &m) != 0 || m.seq == 0 ||
        m.seq % r->cfg.checkpoint_interval != 0) {
        r->stats.rx_malformed++;
        return;
    }
    if (m.seq <= r->low) {
        r->stats.rx_stale++;
        return;
    }
    if (m.seq > r->low + r->cfg.window) {
        r->stats.rx_out_of_window++;
        r->stats.fetch_out_of_window++;
        void__pbft_fetch_state(r, now_ns, out, 0); /* someone is far ahead: maybe us behind */
        return;
    }
    struct void__pbft_ckpt *c = ckpt_slot(r, m.seq);
    uint32_t s = fr->sender;
    if (c->mask & VOID__BIT(s)) {
        if (memcmp(c->digest[s], m.digest, VOID_PBFT_DIGEST_SIZE) == 0) {
            r->stats.rx_duplicate++;
        } else {
            r->stats.rx_conflicting++;
        }
        return;
    }
    c->mask |= VOID__BIT(s);
    memcpy(c->digest[s], m.digest, VOID_PBFT_DIGEST_SIZE);
    memcpy(c->frame[s], buf, len);
    c->frame_len[s] = (uint16_t)len;
    check_stable(r, now_ns, c, out);
}

void void__pbft_on_checkpoint_proof(struct void_pbft *r,
                                    uint64_t now_ns,
                                    const uint8_t *frame,
                                    size_t len,
                                    struct void_pbft_out *out)
{
    VOID_ASSERT(r != NULL && out != NULL);
    VOID_ASSERT(frame != NULL || len == 0);
    struct void_frame fr;
    if (len > VOID_PBFT_SMALL_FRAME_MAX ||
        void__pbft_frame_check(r, frame, len, VOID_MSG_CHECKPOINT, &fr) != 0) {
        r->stats.rx_bad_certificate++;
        return;
    }
    on_checkpoint(r, now_ns, frame, len, &fr, out);
}

/* ---- receive -------------------------------------------------------------- */

int void__pbft_frame_check(
    struct void_pbft *r, const uint8_t *frame, size_t len, uint8_t type, struct void_frame *fr)
{
    return void__pbft_cert_frame_check(r, frame, len, type, r->voters, fr);
}

int void__pbft_cert_frame_check(struct void_pbft *r,
                                const uint8_t *frame,
                                size_t len,
                                uint8_t type,
                                uint32_t voters,
                                struct void_frame *fr)
{
    VOID_ASSERT(r != NULL && fr != NULL);
    VOID_ASSERT(voters != 0);
    int rc = void_codec_decode(frame, len, fr);
    if (rc != 0) {
        return rc;
    }
    if (fr->type != type || len > VOID_PBFT_PP_FRAME_MAX) {
        return VOID_EBAD_TYPE;
    }
    if (fr->sender >= r->cfg.n) {
        return VOID_EUNKNOWN_SENDER;
    }
    if (!(voters & VOID__BIT(fr->sender))) {
        r->stats.rx_not_member++; /* a vote from outside its epoch counts for nothing */
        return VOID_EMEMBER_NOT_VOTER;
    }
    if (r->cfg.verify_signatures) {
        r->stats.verifies++;
        return void_keyring_verify(r->ring,
                                   fr->sender,
                                   VOID_SIGN_DOMAIN_FRAME,
                                   frame,
                                   len - VOID_SIGN_SIZE,
                                   fr->sig);
    }
    return 0;
}

/* Merges the clock of an authenticated frame and records its receipt;
 * returns 0 if it may be acted on. */
static int merge_clock(struct void_pbft *r,
                       uint64_t now_ns,
                       const struct void_frame *fr,
                       struct void_pbft_out *out)
{
    VOID_ASSERT(fr != NULL && out != NULL);
    VOID_ASSERT(fr->body_len >= 8); /* admit checked it: the body starts with ev */
    struct void_hlc_ts ts;
    if (void_hlc_update_at(&r->hlc, now_ns, fr->hlc, &ts) != 0) {
        r->stats.rx_hlc_ahead++;
        return -1;
    }
    struct void_pbft_event *ev = event(r, out, VOID_PBFT_EVENT_RECEIVE, r->hlc.last);
    if (ev != NULL) {
        ev->msg_type = fr->type;
        ev->remote_node = fr->sender;
        ev->remote_seq = void__get64(fr->body);
        ev->remote_hlc = fr->hlc;
    }
    return 0;
}

/* Whether a prepare or commit would be dropped unused by on_vote whatever its
 * signature: for a batch we executed, a vote we hold already, or a vote for
 * a phase whose quorum we have. Dropping it unverified is as safe as losing
 * it on the network (it changes nothing here), and it spares the signature
 * check of about one vote in four (each replica hears n - 1 votes of a phase
 * and needs 2f of them). A COMMIT beyond the quorum, also for a batch we
 * executed, is not dropped but flagged *surplus: admit keeps it if its tag
 * checks (about 1 us), as a spare for the certificate we serve in STATE (a
 * tagged commit's signature is checked only then, and may fail). Only cases
 * without side effects are taken here; on_vote still checks everything
 * after the signature. */
static int needless_vote(struct void_pbft *r, const struct void_frame *fr, int *surplus)
{
    VOID_ASSERT(r != NULL && fr != NULL && surplus != NULL);
    VOID_ASSERT(fr->sender < r->cfg.n); /* admit checked it: votes come from replicas */
    *surplus = 0;
    struct void_pbft_vote v;
    if ((fr->type != VOID_MSG_PREPARE && fr->type != VOID_MSG_COMMIT) || vote_decode(fr, &v) != 0 ||
        v.seq <= r->low || v.seq > r->low + r->cfg.window) {
        return 0;
    }
    int is_prepare = fr->type == VOID_MSG_PREPARE;
    if (is_prepare && (v.view != r->view || r->view_changing)) {
        return 0; /* on_vote may answer a lagging sender */
    }
    const struct void__pbft_entry *e = void__pbft_slot(r, v.seq);
    int same = e->used && e->seq == v.seq && e->view == v.view;
    uint32_t mask = is_prepare ? e->prepare_mask : e->commit_mask;
    if (v.seq <= r->last_executed) {
        if (!is_prepare && spare_entry(r, &v, fr->sender) != NULL) {
            *surplus = 1;
            return 0;
        }
        r->stats.rx_stale++;
        return 1;
    }
    if (!same) {
        return 0;
    }
    const uint8_t *held = is_prepare ? e->prepare_digest[fr->sender] : e->commit_digest[fr->sender];
    if (mask & VOID__BIT(fr->sender)) {
        if (memcmp(held, v.digest, VOID_PBFT_DIGEST_SIZE) != 0) {
            return 0; /* on_vote counts a conflicting vote, once verified */
        }
        r->stats.rx_duplicate++;
        return 1;
    }
    if (e->have_batch && (is_prepare ? e->prepared : e->committed)) {
        if (!is_prepare) {
            *surplus = 1;
            return 0;
        }
        r->stats.rx_surplus++;
        return 1;
    }
    return 0;
}

/* Whether a COMMIT carries a valid tag for us from its sender. */
static int
commit_tagged(struct void_pbft *r, const uint8_t *buf, size_t len, const struct void_frame *fr)
{
    return (r->peer_mac_mask & VOID__BIT(fr->sender)) &&
           void_pbft_commit_check_mac(buf, len, fr, r->cfg.self, r->peer_mac[fr->sender]) == 0;
}

/* Authenticates a frame from the network and merges its clock; returns 0 if
 * it may be acted on. A client's request is authenticated later, by the
 * signature of the request record it carries (on_request): that is the
 * signature every replica checks in the batch anyway, and its frame's own
 * signature adds nothing a forger could exploit (the header's clock is
 * bounded like any client's clock). */
static int admit(struct void_pbft *r,
                 uint64_t now_ns,
                 const uint8_t *buf,
                 size_t len,
                 struct void_frame *fr,
                 struct void_pbft_out *out)
{
    if (void_codec_decode(buf, len, fr) != 0 || fr->body_len < 8) {
        r->stats.rx_malformed++;
        return -1;
    }
    int from_client = fr->type == VOID_MSG_REQUEST || fr->type == VOID_MSG_READ;
    /* A client may be missing from the keyring: its request's certificate
     * vouches for it (on_request). */
    if ((from_client && fr->sender < r->cfg.n) ||
        (!from_client && (fr->sender >= r->cfg.n ||
                          (fr->sender == r->cfg.self && fr->type != VOID_MSG_VIEW_CHANGE) ||
                          void_keyring_get(r->ring, fr->sender) == NULL))) {
        r->stats.rx_unknown_sender++;
        return -1;
    }
    /* A learner (a member of our or the latest configuration that does not
     * vote) may ask for state: that is how it catches up. Nothing else it
     * sends is acted on. */
    if (!from_client && !void__pbft_is_voter(r, fr->sender) &&
        !(fr->type == VOID_MSG_FETCH_STATE && (r->members_any & VOID__BIT(fr->sender)))) {
        r->stats.rx_not_member++; /* removed (or not yet a voter): dropped, never counted */
        return -1;
    }
    if (from_client) {
        return 0; /* authenticated by its request record's signature: on_request */
    }
    int surplus = 0;
    r->rx_tagged = 0;
    if (needless_vote(r, fr, &surplus)) {
        return -1;
    }
    /* A COMMIT's tag authenticates it to us as well as its signature does;
     * the signature, which others can check too, is checked when the frame
     * is about to serve in a certificate (put_committed, pbft_state.c). */
    if (r->cfg.verify_signatures && fr->type == VOID_MSG_COMMIT) {
        if (commit_tagged(r, buf, len, fr)) {
            r->stats.commit_macs_ok++;
            r->rx_tagged = 1;
            return merge_clock(r, now_ns, fr, out);
        }
        r->stats.commit_macs_bad++;
        if (surplus) {
            r->stats.rx_surplus++; /* a spare is not worth a signature check */
            return -1;
        }
    }
    if (r->cfg.verify_signatures) {
        r->stats.verifies++;
        if (void_keyring_verify(r->ring,
                                fr->sender,
                                VOID_SIGN_DOMAIN_FRAME,
                                buf,
                                len - VOID_SIGN_SIZE,
                                fr->sig) != 0) {
            r->stats.rx_bad_sig++;
            return -1;
        }
    }
    return merge_clock(r, now_ns, fr, out);
}

static void dispatch(struct void_pbft *r,
                     uint64_t now_ns,
                     const uint8_t *buf,
                     size_t len,
                     const struct void_frame *fr,
                     struct void_pbft_out *out)
{
    switch ((enum void_msg_type)fr->type) {
    case VOID_MSG_REQUEST:
        on_request(r, now_ns, buf, len, fr, out);
        return;
    case VOID_MSG_PRE_PREPARE:
        on_pre_prepare(r, now_ns, buf, len, fr, out);
        return;
    case VOID_MSG_PREPARE:
    case VOID_MSG_COMMIT:
        on_vote(r, now_ns, buf, len, fr, out);
        return;
    case VOID_MSG_CHECKPOINT:
        on_checkpoint(r, now_ns, buf, len, fr, out);
        return;
    case VOID_MSG_VIEW_CHANGE:
        void__pbft_on_view_change(r, now_ns, buf, len, fr, out);
        return;
    case VOID_MSG_NEW_VIEW:
        void__pbft_on_new_view(r, now_ns, buf, len, fr, out);
        return;
    case VOID_MSG_FETCH_STATE:
        void__pbft_on_fetch_state(r, now_ns, fr, out);
        return;
    case VOID_MSG_STATE:
        void__pbft_on_state(r, now_ns, fr, out);
        return;
    case VOID_MSG_REQ_FETCH:
        on_req_fetch(r, now_ns, fr, out);
        return;
    case VOID_MSG_READ:
        on_read(r, now_ns, buf, len, fr, out);
        return;
    case VOID_MSG_REPLY:
    case VOID_MSG_HEARTBEAT:
    case VOID_MSG_SUSPICION:
    case VOID_MSG_CAS_FETCH:
    case VOID_MSG_CAS_BLOCK:
    case VOID_MSG_HELLO:
        break;
    }
    r->stats.rx_malformed++; /* not a message for the consensus core */
}

int void__pbft_step_rc(const struct void_pbft *r, const struct void_pbft_out *out)
{
    VOID_ASSERT(r != NULL && out != NULL);
    int failed = void_sm_failed(&r->sm);
    return failed != 0 ? failed : out->overflow ? VOID_EFULL : 0;
}

int void_pbft_step_receive(struct void_pbft *r,
                           uint64_t now_ns,
                           const uint8_t *frame,
                           size_t len,
                           struct void_pbft_out *out)
{
    VOID_ASSERT(r != NULL && out != NULL);
    VOID_ASSERT(frame != NULL || len == 0);
    if (void_sm_failed(&r->sm) != 0) {
        return void_sm_failed(&r->sm); /* stopped: the driver must stop the node */
    }
    r->stats.rx_frames++;
    struct void_frame fr;
    if (admit(r, now_ns, frame, len, &fr, out) == 0) {
        dispatch(r, now_ns, frame, len, &fr, out);
    }
    return void__pbft_step_rc(r, out);
}

/* ---- timers --------------------------------------------------------------- */

/* Periodic: resend what peers may have lost (our own latest messages, as the
 * same bytes where we kept them) and fetch state if we are stuck behind. */
static void retransmit(struct void_pbft *r, uint64_t now_ns, struct void_pbft_out *out)
{
    if (r->view_changing) {
        bodies_fetch(r, now_ns, out); /* a batch committed before may still lack one */
        void__pbft_resend_view_change(r, out);
        if (r->seen_max > r->last_executed && r->last_executed == r->tick_mark) {
            void__pbft_fetch_state(r, now_ns, out, 0);
        }
        r->tick_mark = r->last_executed;
        return;
    }
    int gap = 0;
    for (uint32_t i = 0; i < r->cfg.window; i++) {
        struct void__pbft_entry *e = &r->log[i];
        if (!e->used || e->seq <= r->last_executed || e->view != r->view) {
            continue;
        }
        gap |= e->committed && e->bodies_wait == 0; /* bodies come by REQ_FETCH, not state */
        if (is_primary(r) && e->have_batch && e->pp_len > 0 &&
            void__get64(e->pp_frame + VOID_CODEC_HEADER_SIZE + 8) == r->view) {
            void__pbft_send_copy(
                r, out, VOID_PBFT_TO_ALL, VOID_MSG_PRE_PREPARE, e->pp_frame, e->pp_len);
        }
        if (e->sent_prepare && (e->prepare_mask & VOID__BIT(r->cfg.self))) {
            void__pbft_send_copy(r,
                                 out,
                                 VOID_PBFT_TO_ALL,
                                 VOID_MSG_PREPARE,
                                 e->prepare_frame[r->cfg.self],
                                 e->prepare_len[r->cfg.self]);
        }
        const uint8_t *frame;
        size_t frame_len;
        if (e->sent_commit && void__pbft_commit_frame(r, now_ns, out, e, &frame, &frame_len) == 0) {
            void__pbft_send(r, out, VOID_PBFT_TO_ALL, VOID_MSG_COMMIT, frame, frame_len);
        }
    }
    for (uint32_t i = 0; i < VOID_PBFT_CKPT_SLOTS; i++) {
        struct void__pbft_ckpt *c = &r->ckpt[i];
        if (c->seq > r->low && (c->mask & VOID__BIT(r->cfg.self))) {
            void__pbft_send_copy(r,
                                 out,
                                 VOID_PBFT_TO_ALL,
                                 VOID_MSG_CHECKPOINT,
                                 c->frame[r->cfg.self],
                                 c->frame_len[r->cfg.self]);
        }
    }
    bodies_fetch(r, now_ns, out);
    /* Behind and stuck since the last tick (committed entries we cannot
     * execute, or others voting beyond what we executed): fetch. Only when
     * nothing executed since the last tick: under load a committed entry
     * waiting for its own record to be durable is there at almost every
     * tick, and fetching for it made every replica take a state transfer
     * every 100-300 ms (125 in 10 s of one client on 4 replicas). */
    if ((gap || r->seen_max > r->last_executed) && r->last_executed == r->tick_mark) {
        void__pbft_fetch_state(r, now_ns, out, 0);
    }
    r->tick_mark = r->last_executed;
}

int void_pbft_step_timer(struct void_pbft *r,
                         uint64_t now_ns,
                         enum void_pbft_timer timer,
                         struct void_pbft_out *out)
{
    VOID_ASSERT(r != NULL && out != NULL);
    VOID_ASSERT(r->started);
    if (void_sm_failed(&r->sm) != 0) {
        return void_sm_failed(&r->sm);
    }
    switch (timer) {
    case VOID_PBFT_TIMER_REQUEST:
        r->request_timer_armed = 0;
        if (!r->view_changing && void__pbft_has_work(r)) {
            if (r->last_executed == r->progress_mark && !is_primary(r) && r->catch_up_left > 0) {
                /* Recovering and no STATE yet: ask again rather than suspect
                 * the primary (void_pbft_recover). */
                r->catch_up_left--;
                r->stats.catch_up_waits++;
                void__pbft_fetch_state(r, now_ns, out, 1);
                void__pbft_arm_request_timer(r, out, 1);
            } else if (r->last_executed == r->progress_mark && !is_primary(r) &&
                       !void__pbft_is_voter(r, r->cfg.self)) {
                /* A learner (or a removed replica): its view change would
                 * count for nothing and keep it out of the voters' view;
                 * no progress here means it is behind: fetch. */
                void__pbft_fetch_state(r, now_ns, out, 0);
                void__pbft_arm_request_timer(r, out, 1);
            } else if (r->last_executed == r->progress_mark && !is_primary(r)) {
                void__pbft_start_view_change(r, now_ns, r->view + 1, out);
            } else {
                void__pbft_arm_request_timer(r, out, 1);
            }
        }
        break;
    case VOID_PBFT_TIMER_VIEW_CHANGE:
        r->vc_timer_armed = 0;
        if (r->view_changing) {
            void__pbft_start_view_change(r, now_ns, r->view + 1, out);
        }
        break;
    case VOID_PBFT_TIMER_RETRANSMIT:
        retransmit(r, now_ns, out);
        void__pbft_timer_set(r, out, VOID_PBFT_TIMER_RETRANSMIT, r->cfg.retransmit_ns);
        break;
    }
    return void__pbft_step_rc(r, out);
}

/* ---- accessors ------------------------------------------------------------ */

uint64_t void_pbft_persist_mark(const struct void_pbft *r)
{
    VOID_ASSERT(r != NULL);
    return r->persist_mark;
}

int void_pbft_step_durable(struct void_pbft *r,
                           uint64_t now_ns,
                           uint64_t mark,
                           struct void_pbft_out *out)
{
    VOID_ASSERT(r != NULL && out != NULL);
    VOID_ASSERT(mark <= r->persist_mark);
    if (!r->started || void_sm_failed(&r->sm) != 0) {
        return r->started ? void_sm_failed(&r->sm) : 0;
    }
    if (mark > r->durable_mark) {
        r->durable_mark = mark;
        void__pbft_execute_ready(r, now_ns, out);
    }
    return void__pbft_step_rc(r, out);
}

void_view void_pbft_view(const struct void_pbft *r)
{
    return r->view;
}

int void_pbft_is_primary(const struct void_pbft *r)
{
    return is_primary(r);
}

int void_pbft_view_changing(const struct void_pbft *r)
{
    return r->view_changing;
}

void_seq void_pbft_last_executed(const struct void_pbft *r)
{
    return r->last_executed;
}

void_seq void_pbft_low_watermark(const struct void_pbft *r)
{
    return r->low;
}

const struct void_pbft_stats *void_pbft_stats(const struct void_pbft *r)
{
    return &r->stats;
}

const struct void_sm *void_pbft_sm(const struct void_pbft *r)
{
    return &r->sm;
}
