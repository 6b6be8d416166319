/*
 * PBFT client core (include/void/pbft_client.h): one outstanding request,
 * sent to the believed primary and broadcast on timeout; the result is
 * accepted on f+1 matching replies from distinct voters of the configuration
 * the client knows, which it follows from epoch to epoch by reading the
 * configuration record when f+1 voters' replies name a newer epoch. Pure:
 * time comes in as now_ns, effects go out through struct void_pbft_out.
 */
#include "void/pbft_client.h"

#include "core/pbft_int.h"
#include "void/assert.h"
#include "void/bytes.h"
#include "void/error.h"
#include "void/hash.h"
#include "void/membership.h"
#include "void/sm.h"

#include <string.h>

int void_pbft_client_init(struct void_pbft_client *c, const struct void_pbft_client_config *config)
{
    VOID_ASSERT(c != NULL && config != NULL);
    memset(c, 0, sizeof(*c));
    if (config->n == 0 || config->n > VOID_PBFT_N_MAX || config->keyring == NULL ||
        config->keypair == NULL || config->id < config->n ||
        (config->big != NULL && config->big_len < VOID_PBFT_CLIENT_BIG)) {
        return VOID_EINVAL;
    }
    struct void_client_cert cert;
    if (config->cert != NULL &&
        (void_client_cert_decode(config->cert, &cert) != 0 || cert.id != config->id ||
         memcmp(cert.public_key, config->keypair->public_key, VOID_SIGN_PUBLIC_KEY_SIZE) != 0)) {
        return VOID_EINVAL;
    }
    uint32_t g = config->genesis_n != 0 ? config->genesis_n : config->n;
    if (g > config->n) {
        return VOID_EINVAL;
    }
    for (uint32_t i = 0; i < config->n; i++) {
        const uint8_t *pk = void_keyring_get(config->keyring, i);
        if (pk == NULL && i >= g) {
            continue; /* a slot: its key comes with the configuration that names it */
        }
        /* A replica's own client (its key) shares a key with it alone. */
        int self = pk != NULL && memcmp(pk, config->keypair->public_key, VOID_SIGN_PUBLIC_KEY_SIZE) == 0;
        if (pk == NULL || (self ? void_mac_key_self(config->keypair, c->mac_keys[i])
                                : void_mac_key_derive(config->keypair, pk, c->mac_keys[i])) != 0) {
            return VOID_EINVAL;
        }
        memcpy(c->keys[i], pk, VOID_SIGN_PUBLIC_KEY_SIZE);
        c->key_have |= VOID__BIT(i);
    }
    c->cfg = *config;
    if (config->big != NULL) {
        c->op = config->big;
        c->op_cap = VOID_PBFT_OP_MAX;
        c->result = config->big + VOID_PBFT_OP_MAX;
        c->result_cap = VOID_PBFT_RESULT_MAX;
    } else {
        c->op = c->op_small;
        c->op_cap = sizeof(c->op_small);
        c->result = c->result_small;
        c->result_cap = sizeof(c->result_small);
    }
    if (c->cfg.timeout_ns == 0) {
        c->cfg.timeout_ns = VOID_PBFT_CLIENT_TIMEOUT_NS_DEF;
    }
    if (c->cfg.read_timeout_ns == 0) {
        c->cfg.read_timeout_ns = VOID_PBFT_CLIENT_READ_TIMEOUT_NS_DEF;
    }
    c->voters = g >= 32 ? UINT32_MAX : VOID__BIT(g) - 1;
    c->nv = g;
    c->f = void_membership_f(c->nv);
    c->epoch = 1; /* the genesis: replicas 0..n-1, all voters */
    struct void_sm_op get = {.kind = VOID_SM_OP_GET,
                             .key = (const uint8_t *)VOID_SM_MEMBER_KEY,
                             .key_len = VOID_SM_MEMBER_KEY_LEN};
    int len = void_sm_op_encode(&get, c->learn_op, sizeof(c->learn_op));
    VOID_ASSERT(len > 0);
    c->learn_op_len = (uint32_t)len;
    c->reqno = c->cfg.first_reqno > 0 ? c->cfg.first_reqno - 1 : 0;
    c->event_seq = c->cfg.event_seq_start > 0 ? c->cfg.event_seq_start - 1 : 0;
    void_hlc_init(&c->hlc, &c->cfg.hlc);
    VOID_ASSERT(c->f <= c->cfg.n);
    return 0;
}

static struct void_pbft_effect *push(struct void_pbft_out *out, uint8_t kind)
{
    if (out->count == out->cap) {
        out->overflow = 1;
        return NULL;
    }
    struct void_pbft_effect *e = &out->effects[out->count++];
    memset(e, 0, sizeof(*e));
    e->kind = kind;
    return e;
}

static void emit_event(struct void_pbft_client *c,
                       struct void_pbft_out *out,
                       uint8_t kind,
                       uint8_t type,
                       struct void_hlc_ts ts,
                       uint32_t remote,
                       uint64_t remote_seq)
{
    uint64_t parent = c->event_seq++;
    struct void_pbft_effect *e = push(out, VOID_PBFT_EFFECT_EVENT);
    if (e != NULL) {
        e->u.event.kind = kind;
        e->u.event.msg_type = type;
        e->u.event.node = c->cfg.id;
        e->u.event.local_seq = c->event_seq;
        e->u.event.parent_seq = parent;
        e->u.event.hlc = ts;
        e->u.event.remote_node = remote;
        e->u.event.remote_seq = remote_seq;
    }
}

/* Sends the request frame to one replica or all, as a fresh send event: the
 * frame is signed anew (its HLC and event change), one signature per send. */
static int
send_request(struct void_pbft_client *c, uint64_t now_ns, uint32_t to, struct void_pbft_out *out)
{
    uint8_t type = c->ro ? VOID_MSG_READ : VOID_MSG_REQUEST;
    struct void_hlc_ts ts = void_hlc_now_at(&c->hlc, now_ns);
    emit_event(c, out, VOID_PBFT_EVENT_SEND, type, ts, to, 0);
    struct void_pbft_request m = {.client = c->cfg.id,
                                  .hlc = ts,
                                  .ev = c->event_seq,
                                  .reqno = c->reqno,
                                  .repliers = c->repliers,
                                  .session = c->cfg.session,
                                  .cert = c->cfg.cert,
                                  .op = c->learning ? c->learn_op : c->op,
                                  .op_len = c->learning ? c->learn_op_len : c->op_len,
                                  .mac_count = (uint8_t)c->cfg.n,
                                  .mac_keys = (const uint8_t(*)[VOID_MAC_KEY_SIZE])c->mac_keys};
    /* Signed in place in the out arena: a frame may be over a megabyte. */
    uint8_t *copy = out->arena + out->used;
    int len = c->ro
                  ? void_pbft_read_encode(&m, c->cfg.keypair, copy, out->arena_cap - out->used)
                  : void_pbft_request_encode(&m, c->cfg.keypair, copy, out->arena_cap - out->used);
    if (len == VOID_EFULL) {
        out->overflow = 1;
        return VOID_EFULL;
    }
    VOID_ASSERT(len > 0);
    c->frame_len = (size_t)len;
    if (c->frame_len <= sizeof(c->frame)) {
        memcpy(c->frame, copy, c->frame_len);
    }
    out->used += c->frame_len;
    if (c->frame_len > VOID_PBFT_INLINE_MAX) {
        to = VOID_PBFT_TO_ALL; /* ordered by digest: every replica needs the body */
    }
    struct void_pbft_effect *e = push(out, VOID_PBFT_EFFECT_SEND);
    if (e == NULL) {
        return VOID_EFULL;
    }
    e->u.send.to = to;
    e->u.send.msg_type = type;
    e->u.send.frame = copy;
    e->u.send.len = c->frame_len;
    return 0;
}

static void set_timer(struct void_pbft_out *out, uint8_t kind, uint64_t delay)
{
    struct void_pbft_effect *e = push(out, kind);
    if (e != NULL) {
        e->u.timer.timer = VOID_PBFT_CLIENT_TIMER_RETRY;
        e->u.timer.delay_ns = delay;
    }
}

void void_pbft_client_link(struct void_pbft_client *c, uint32_t replica, int up)
{
    VOID_ASSERT(c != NULL);
    if (replica < c->cfg.n) {
        c->down_mask = up ? c->down_mask & ~VOID__BIT(replica) : c->down_mask | VOID__BIT(replica);
    }
}

int void_pbft_client_link_up(struct void_pbft_client *c,
                             uint32_t replica,
                             uint64_t now_ns,
                             struct void_pbft_out *out)
{
    VOID_ASSERT(c != NULL && out != NULL);
    void_pbft_client_link(c, replica, 1);
    if (!c->busy || c->done || replica >= c->cfg.n) {
        return 0;
    }
    c->stats.link_resends++;
    int rc = send_request(c, now_ns, replica, out);
    VOID_ASSERT(c->busy);
    return rc != 0 || out->overflow ? VOID_EFULL : 1;
}

/* The (k mod nv)-th voter of the known configuration, in id order: the
 * primary of view k, and where the repliers of request k start. */
static uint32_t voter_at(const struct void_pbft_client *c, uint64_t k)
{
    VOID_ASSERT(c->nv > 0 && c->voters != 0);
    uint32_t want = (uint32_t)(k % c->nv);
    for (uint32_t i = 0; i < c->cfg.n; i++) {
        if ((c->voters & VOID__BIT(i)) && want-- == 0) {
            return i;
        }
    }
    VOID_ASSERT(0 && "nv counts the voters");
    return 0;
}

/* f + 1 repliers among the voters, starting at the (reqno mod nv)-th and
 * skipping the suspected ones and those whose link is down; every voter
 * when fewer are left, or with reply_all. */
static uint16_t choose_repliers(const struct void_pbft_client *c, uint64_t now_ns)
{
    uint16_t all = (uint16_t)c->voters;
    if (c->cfg.reply_all) {
        return all;
    }
    uint16_t mask = 0;
    uint32_t chosen = 0;
    for (uint32_t k = 0; k < c->nv && chosen < c->f + 1; k++) {
        uint32_t id = voter_at(c, c->reqno + k);
        if (c->suspect_until[id] <= now_ns && !(c->down_mask & VOID__BIT(id))) {
            mask |= (uint16_t)VOID__BIT(id);
            chosen++;
        }
    }
    VOID_ASSERT((mask & ~all) == 0);
    return chosen == c->f + 1 ? mask : all;
}

/* The (f+1)-th largest of per_replica[] over the voters of the known
 * configuration (each voter's value from its last reply): at least one
 * honest voter named that value or a larger one, so no f faulty voters can
 * inflate it alone. 0 while fewer than f + 1 voters are known. */
static uint64_t vouched(const struct void_pbft_client *c, const uint64_t *per_replica)
{
    uint64_t sorted[VOID_PBFT_N_MAX]; /* largest first */
    uint32_t k = 0;
    for (uint32_t i = 0; i < c->cfg.n; i++) {
        if (!(c->voters & VOID__BIT(i))) {
            continue;
        }
        uint32_t at = k++;
        for (; at > 0 && sorted[at - 1] < per_replica[i]; at--) {
            sorted[at] = sorted[at - 1];
        }
        sorted[at] = per_replica[i];
    }
    VOID_ASSERT(k == c->nv);
    return k >= c->f + 1 ? sorted[c->f] : 0;
}

/* The newest epoch that f + 1 voters of the known configuration named in
 * their last replies: at least one honest voter is in it. */
static uint64_t epoch_vouched(const struct void_pbft_client *c)
{
    return vouched(c, c->reply_epoch);
}

/* Whether the next request must first read the configuration record. */
static int learn_wanted(const struct void_pbft_client *c)
{
    if (c->cfg.learn_first && !c->learned_once) {
        return 1;
    }
    uint64_t e = epoch_vouched(c);
    return e > c->epoch && e > c->learn_done;
}

/* Starts the outstanding request (or the configuration read before it)
 * under a new number: read-only to every replica, else to the believed
 * primary (or every replica while the view is unknown or the primary's link
 * is down), and arms the retry timer. */
static int start(struct void_pbft_client *c, uint64_t now_ns, int ro, struct void_pbft_out *out)
{
    VOID_ASSERT(c->busy);
    c->reqno++;
    c->ro = ro;
    c->repliers = ro ? VOID_PBFT_REPLIERS_ALL : choose_repliers(c, now_ns);
    c->retried = 0;
    c->done = 0;
    c->reply_mask = 0;
    c->timeout_ns = ro ? c->cfg.read_timeout_ns : c->cfg.timeout_ns;
    uint32_t primary = voter_at(c, c->view);
    uint32_t to =
        ro || (c->cfg.broadcast_first && !c->view_known) || (c->down_mask & VOID__BIT(primary))
            ? VOID_PBFT_TO_ALL
            : primary;
    int rc = send_request(c, now_ns, to, out);
    set_timer(out, VOID_PBFT_EFFECT_TIMER_SET, c->timeout_ns);
    VOID_ASSERT(c->ro == ro);
    return rc != 0 || out->overflow ? VOID_EFULL : 0;
}

/* Takes the caller's op and starts it, after a read of the configuration
 * record when one is wanted. */
static int begin(struct void_pbft_client *c,
                 uint64_t now_ns,
                 const uint8_t *op,
                 size_t op_len,
                 int ro,
                 struct void_pbft_out *out)
{
    VOID_ASSERT(!c->busy && op_len <= c->op_cap);
    memcpy(c->op, op, op_len);
    c->op_len = (uint32_t)op_len;
    c->busy = 1;
    c->stats.submitted++;
    c->stats.reads += (uint64_t)ro;
    if (learn_wanted(c)) {
        c->learning = 1;
        c->pending_ro = ro;
        c->stats.learns++;
        return start(c, now_ns, 1, out);
    }
    return start(c, now_ns, ro, out);
}

int void_pbft_client_submit(struct void_pbft_client *c,
                            uint64_t now_ns,
                            const uint8_t *op,
                            size_t op_len,
                            struct void_pbft_out *out)
{
    VOID_ASSERT(c != NULL && out != NULL);
    if (c->busy) {
        return VOID_EBUSY;
    }
    if (op == NULL || op_len == 0 || op_len > c->op_cap) {
        return VOID_EINVAL;
    }
    return begin(c, now_ns, op, op_len, 0, out);
}

int void_pbft_client_submit_read(struct void_pbft_client *c,
                                 uint64_t now_ns,
                                 const uint8_t *op,
                                 size_t op_len,
                                 struct void_pbft_out *out)
{
    VOID_ASSERT(c != NULL && out != NULL);
    if (c->busy) {
        return VOID_EBUSY;
    }
    if (op == NULL || op_len == 0 || op_len > c->op_cap || !void_sm_op_read_only(op, op_len)) {
        return VOID_EINVAL;
    }
    return begin(c, now_ns, op, op_len, 1, out);
}

/* The read-only request did not get a quorum of matching answers: it is
 * ordered instead, under a new number (late answers to the READ are then
 * dropped as stale). */
static int read_fallback(struct void_pbft_client *c, uint64_t now_ns, struct void_pbft_out *out)
{
    VOID_ASSERT(c->busy && c->ro);
    c->stats.reads_ordered++;
    return start(c, now_ns, 0, out);
}

/* A read-only request's answers: 1 when a quorum of them match replica i's
 * (accepted), -1 when no quorum can match any more (the answers still
 * missing could not make one), 0 to wait. f faulty replicas cannot make a
 * quorum alone, and a quorum shares an honest replica with the quorum that
 * committed any completed write (docs/pbft.md). */
static int read_quorum(const struct void_pbft_client *c, uint32_t i)
{
    VOID_ASSERT(c->ro && (c->reply_mask & VOID__BIT(i)));
    uint32_t q = void_membership_quorum(c->nv);
    uint32_t best = 0;
    uint32_t got = 0;
    for (uint32_t a = 0; a < c->cfg.n; a++) {
        if (!(c->reply_mask & VOID__BIT(a))) {
            continue;
        }
        got++;
        uint32_t votes = 0;
        for (uint32_t b = 0; b < c->cfg.n; b++) {
            votes += (c->reply_mask & VOID__BIT(b)) && c->reply_len[b] == c->reply_len[a] &&
                     memcmp(c->reply_hash[b], c->reply_hash[a], VOID_PBFT_DIGEST_SIZE) == 0;
        }
        if (a == i && votes >= q) {
            return 1;
        }
        best = votes > best ? votes : best;
    }
    VOID_ASSERT(got <= c->nv); /* only voters' replies are kept */
    return best + (c->nv - got) < q ? -1 : 0;
}

/* Checks whether f+1 stored replies agree with replica i's. On acceptance
 * after a retry, the named repliers that did not give that result are left
 * out of the next requests' repliers for a while. */
static int accept_if_quorum(struct void_pbft_client *c,
                            uint64_t now_ns,
                            uint32_t i,
                            const uint8_t *result,
                            uint32_t result_len)
{
    uint32_t votes = 0;
    for (uint32_t j = 0; j < c->cfg.n; j++) {
        if ((c->reply_mask & VOID__BIT(j)) && c->reply_len[j] == c->reply_len[i] &&
            memcmp(c->reply_hash[j], c->reply_hash[i], VOID_PBFT_DIGEST_SIZE) == 0) {
            votes++;
        }
    }
    if (votes < c->f + 1) {
        return 0;
    }
    VOID_ASSERT(result_len == c->reply_len[i] && result_len <= c->result_cap);
    memcpy(c->result, result, result_len);
    c->result_len = c->reply_len[i];
    for (uint32_t j = 0; j < c->cfg.n && c->retried && !c->cfg.reply_all; j++) {
        int gave = (c->reply_mask & VOID__BIT(j)) && c->reply_len[j] == c->result_len &&
                   memcmp(c->reply_hash[j], c->reply_hash[i], VOID_PBFT_DIGEST_SIZE) == 0;
        if ((c->repliers & VOID__BIT(j)) && !gave) {
            c->suspect_until[j] = now_ns + VOID_PBFT_CLIENT_SUSPECT_NS;
            c->stats.suspected++;
        }
    }
    /* The believed view only grows, and only to a view that f + 1 voters
     * named in their last replies, so at least one honest voter reached it.
     * Taken from the one reply that completed the quorum, a single faulty
     * replica (or one changing view alone, which the others never join)
     * could point the client at a primary that does not order its requests
     * for as long as the cluster stays below that view: one retry timeout
     * on every request (docs/pbft.md, Known gaps). */
    uint64_t view = vouched(c, c->reply_view);
    c->view = view > c->view ? view : c->view;
    c->view_known = 1;
    VOID_ASSERT(c->view >= view);
    return 1;
}

/* The number that superseded a request, from a VOID_SM_STALE result, or 0
 * when result is not one. */
static uint64_t stale_above(const uint8_t *result, size_t len)
{
    struct void_sm_result res;
    if (void_sm_result_decode(result, len, &res) != 0 || res.status != VOID_SM_STALE ||
        res.value_len != 8) {
        return 0;
    }
    return void_bytes_get_be64(res.value);
}

/* f + 1 replicas answered that the outstanding request was superseded, each
 * naming the number that superseded it as far as it knows (the answer is not
 * ordered, so they may differ): the request completes as STALE with the
 * (f+1)-th largest number, which at least one honest replica reached, so no
 * faulty replica can inflate it alone. */
static int accept_stale(struct void_pbft_client *c)
{
    uint64_t above[VOID_PBFT_N_MAX];
    uint32_t k = 0;
    for (uint32_t j = 0; j < c->cfg.n; j++) {
        uint64_t a = (c->reply_mask & VOID__BIT(j)) ? c->reply_stale[j] : 0;
        if (a == 0) {
            continue;
        }
        uint32_t at = k++; /* insertion, largest first */
        for (; at > 0 && above[at - 1] < a; at--) {
            above[at] = above[at - 1];
        }
        above[at] = a;
    }
    if (k < c->f + 1) {
        return 0;
    }
    uint8_t value[8];
    void_bytes_put_be64(value, above[c->f]);
    struct void_sm_result res = {.status = VOID_SM_STALE, .value = value, .value_len = 8};
    int len = void_sm_result_encode(&res, c->result, c->result_cap);
    VOID_ASSERT(len > 0);
    c->result_len = (uint32_t)len;
    return 1;
}

/* After a STALE result, the next request is numbered above the number that
 * superseded this one, so that it is not superseded in turn. */
static void renumber_after_stale(struct void_pbft_client *c)
{
    VOID_ASSERT(c->busy);
    uint64_t above = stale_above(c->result, c->result_len);
    if (above != 0) {
        c->stats.stale++;
        c->reqno = above > c->reqno ? above : c->reqno;
    }
}

/* Checks cfg as a configuration this client can follow and makes it the
 * known one. */
static int adopt(struct void_pbft_client *c, const struct void_membership_config *cfg)
{
    if (cfg->epoch <= c->epoch) {
        return VOID_EMEMBER_EPOCH;
    }
    uint32_t voters = 0;
    for (uint32_t i = 0; i < cfg->count && i < VOID_MEMBERSHIP_MEMBERS_MAX; i++) {
        const struct void_member *m = &cfg->members[i];
        if (m->role != VOID_MEMBER_VOTER) {
            continue;
        }
        /* A voter has a slot, and the key we know for it if we know one;
         * a member that joined brings its key in the configuration, which
         * f + 1 voters of the one we knew vouched for. */
        if (m->id >= c->cfg.n || ((c->key_have & VOID__BIT(m->id)) &&
                                  memcmp(c->keys[m->id], m->public_key,
                                         VOID_SIGN_PUBLIC_KEY_SIZE) != 0)) {
            return VOID_EINVAL;
        }
        voters |= VOID__BIT(m->id);
    }
    if (voters == 0) {
        return VOID_EINVAL;
    }
    for (uint32_t i = 0; i < cfg->count && i < VOID_MEMBERSHIP_MEMBERS_MAX; i++) {
        const struct void_member *m = &cfg->members[i];
        if ((voters & VOID__BIT(m->id)) && !(c->key_have & VOID__BIT(m->id))) {
            int self = memcmp(m->public_key, c->cfg.keypair->public_key, VOID_SIGN_PUBLIC_KEY_SIZE) == 0;
            if ((self ? void_mac_key_self(c->cfg.keypair, c->mac_keys[m->id])
                      : void_mac_key_derive(c->cfg.keypair, m->public_key, c->mac_keys[m->id])) != 0) {
                return VOID_EINVAL; /* not a usable key: nothing adopted */
            }
            memcpy(c->keys[m->id], m->public_key, VOID_SIGN_PUBLIC_KEY_SIZE);
            c->key_have |= VOID__BIT(m->id);
        }
    }
    c->voters = voters;
    c->nv = void__popcount(voters);
    c->f = void_membership_f(c->nv);
    c->epoch = cfg->epoch;
    c->stats.epochs_learned++;
    VOID_ASSERT(c->nv >= 1 && c->f < c->nv);
    return 0;
}

int void_pbft_client_set_config(struct void_pbft_client *c,
                                const struct void_membership_config *cfg)
{
    VOID_ASSERT(c != NULL && cfg != NULL);
    if (c->busy) {
        return VOID_EBUSY;
    }
    return adopt(c, cfg);
}

/* The configuration record read before the caller's request is in c->result:
 * adopts the newest configuration in it that f + 1 voters vouch for (the
 * record's latest may not be in effect yet: a change executed waits for its
 * boundary). A record that does not decode changes nothing; the epoch
 * looked for is not looked for again, so a faulty answer costs one read. */
static void learn_adopt(struct void_pbft_client *c)
{
    uint64_t target = epoch_vouched(c);
    c->learn_done = target > c->learn_done ? target : c->learn_done;
    struct void_sm_result res;
    if (void_sm_result_decode(c->result, c->result_len, &res) != 0 || res.status != VOID_SM_OK) {
        return; /* NOT_FOUND: no change was ever made, the genesis holds */
    }
    struct void_membership_config *latest = &c->learn_cfg[0], *prev = &c->learn_cfg[1];
    uint64_t act = 0, prev_act = 0;
    if (void_sm_member_record_decode(res.value, res.value_len, latest, &act, prev, &prev_act) !=
        0) {
        return;
    }
    const struct void_membership_config *pick = latest->epoch <= target ? latest : prev;
    if (pick->epoch > c->epoch && pick->epoch <= target) {
        (void)adopt(c, pick);
    }
}

/* The outstanding request has its result in c->result. The caller's request
 * completes (1); the configuration read taken before it instead adopts what
 * it read and starts the caller's request (0). */
static int complete(struct void_pbft_client *c, uint64_t now_ns, struct void_pbft_out *out)
{
    VOID_ASSERT(c->busy);
    set_timer(out, VOID_PBFT_EFFECT_TIMER_CANCEL, 0);
    renumber_after_stale(c);
    if (!c->learning) {
        c->busy = 0;
        c->done = 1;
        c->stats.completed++;
        return out->overflow ? VOID_EFULL : 1;
    }
    c->learning = 0;
    c->learned_once = 1;
    learn_adopt(c);
    VOID_ASSERT(c->busy && !c->done);
    return start(c, now_ns, c->pending_ro, out);
}

int void_pbft_client_step_receive(struct void_pbft_client *c,
                                  uint64_t now_ns,
                                  const uint8_t *frame,
                                  size_t len,
                                  struct void_pbft_out *out)
{
    VOID_ASSERT(c != NULL && out != NULL);
    struct void_frame fr;
    struct void_pbft_reply m;
    if (void_codec_decode(frame, len, &fr) != 0 || fr.type != VOID_MSG_REPLY ||
        void_pbft_reply_decode(fr.body, fr.body_len, &m) != 0) {
        c->stats.rx_malformed++;
        return 0;
    }
    if (fr.sender >= c->cfg.n || !(c->key_have & VOID__BIT(fr.sender))) {
        c->stats.rx_unknown_sender++;
        return 0;
    }
    /* A reply to no request of ours in flight (most often the third and
     * fourth reply after f + 1 matching ones completed it) is dropped before
     * its signature is checked: nothing is learned from it, and verifying it
     * would double the client's signature work. */
    if (!c->busy || m.client != c->cfg.id || m.session != c->cfg.session || m.reqno != c->reqno) {
        c->stats.rx_stale++;
        return 0;
    }
    if (m.result_len > c->result_cap) {
        c->stats.rx_malformed++; /* a result we have no room for (cfg.big) */
        return 0;
    }
    /* Only the voters of the configuration we know count: a removed
     * replica may run on (and its key may since have leaked). */
    if (!(c->voters & VOID__BIT(fr.sender))) {
        c->stats.rx_not_member++;
        return 0;
    }
    /* The reply's tag, under the key we share with its sender, authenticates
     * it to us; without a good tag its signature decides: one signature
     * covers the replies the replica sent for a batch, and the frame's leaf
     * and audit path give the root it signed (docs/wire.md). */
    if (c->cfg.verify_signatures) {
        if (void_pbft_reply_check_mac(frame, len, c->mac_keys[fr.sender]) == 0) {
            c->stats.macs_ok++;
        } else {
            c->stats.macs_bad++;
            c->stats.verifies++;
            if (void_pbft_reply_verify_key(frame, len, c->keys[fr.sender], &fr, &m) != 0) {
                c->stats.rx_bad_sig++;
                return 0;
            }
        }
    }
    struct void_hlc_ts ts;
    if (void_hlc_update_at(&c->hlc, now_ns, fr.hlc, &ts) != 0) {
        c->stats.rx_hlc_ahead++;
        return 0;
    }
    emit_event(c, out, VOID_PBFT_EVENT_RECEIVE, VOID_MSG_REPLY, ts, fr.sender, m.ev);
    uint32_t i = fr.sender;
    c->reply_mask |= VOID__BIT(i);
    c->reply_view[i] = m.view;
    c->reply_len[i] = m.result_len;
    /* Replies are compared by hash: n copies of a 1 MiB result are not kept;
     * a STALE answer's number is kept beside it. */
    void_hash_digest(m.result, m.result_len, c->reply_hash[i]);
    c->reply_stale[i] = stale_above(m.result, m.result_len);
    c->reply_epoch[i] = m.epoch > c->reply_epoch[i] ? m.epoch : c->reply_epoch[i];
    if (c->ro) {
        int verdict = read_quorum(c, i);
        if (verdict < 0) {
            return read_fallback(c, now_ns, out) != 0 ? VOID_EFULL : 0;
        }
        if (verdict == 0) {
            return out->overflow ? VOID_EFULL : 0;
        }
        VOID_ASSERT(m.result_len <= c->result_cap);
        memcpy(c->result, m.result, m.result_len);
        c->result_len = m.result_len;
        c->stats.reads_quorum++;
        return complete(c, now_ns, out);
    }
    if (!accept_if_quorum(c, now_ns, i, m.result, m.result_len) && !accept_stale(c)) {
        return out->overflow ? VOID_EFULL : 0;
    }
    return complete(c, now_ns, out);
}

int void_pbft_client_step_timer(struct void_pbft_client *c,
                                uint64_t now_ns,
                                struct void_pbft_out *out)
{
    VOID_ASSERT(c != NULL && out != NULL);
    if (!c->busy) {
        return 0;
    }
    if (c->ro) {
        return read_fallback(c, now_ns, out);
    }
    c->stats.retries++;
    c->retried = 1;
    int rc = send_request(c, now_ns, VOID_PBFT_TO_ALL, out);
    c->timeout_ns = c->timeout_ns * 2 < VOID_PBFT_CLIENT_TIMEOUT_NS_MAX
                        ? c->timeout_ns * 2
                        : VOID_PBFT_CLIENT_TIMEOUT_NS_MAX;
    set_timer(out, VOID_PBFT_EFFECT_TIMER_SET, c->timeout_ns);
    return rc != 0 || out->overflow ? VOID_EFULL : 0;
}

int void_pbft_client_resend(struct void_pbft_client *c,
                            uint64_t now_ns,
                            uint32_t to,
                            struct void_pbft_out *out)
{
    VOID_ASSERT(c != NULL && out != NULL);
    if (c->busy) {
        return VOID_EBUSY;
    }
    if (!c->done || c->ro || stale_above(c->result, c->result_len) != 0 ||
        (to != VOID_PBFT_TO_ALL && to >= c->cfg.n)) {
        return VOID_EINVAL;
    }
    VOID_ASSERT(!c->learning);
    c->busy = 1;
    c->done = 0;
    c->retried = 0; /* no timeout passed: a replier not heard yet is not suspected */
    c->reply_mask = 0;
    c->timeout_ns = c->cfg.timeout_ns;
    c->stats.resent++;
    int rc = send_request(c, now_ns, to, out);
    set_timer(out, VOID_PBFT_EFFECT_TIMER_SET, c->timeout_ns);
    VOID_ASSERT(c->busy && !c->done);
    return rc != 0 || out->overflow ? VOID_EFULL : 0;
}

int void_pbft_client_result(const struct void_pbft_client *c, const uint8_t **result)
{
    VOID_ASSERT(c != NULL && result != NULL);
    if (!c->done) {
        return VOID_EAGAIN;
    }
    *result = c->result;
    return (int)c->result_len;
}

uint64_t void_pbft_client_reqno(const struct void_pbft_client *c)
{
    return c->reqno;
}

uint64_t void_pbft_client_view(const struct void_pbft_client *c)
{
    return c->view;
}

uint32_t void_pbft_client_primary(const struct void_pbft_client *c)
{
    VOID_ASSERT(c != NULL);
    return voter_at(c, c->view);
}

uint64_t void_pbft_client_epoch(const struct void_pbft_client *c)
{
    VOID_ASSERT(c != NULL);
    return c->epoch;
}

uint32_t void_pbft_client_voters(const struct void_pbft_client *c)
{
    VOID_ASSERT(c != NULL);
    return c->voters;
}

uint32_t void_pbft_client_f(const struct void_pbft_client *c)
{
    VOID_ASSERT(c != NULL);
    return c->f;
}
