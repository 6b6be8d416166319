/*
 * Byzantine replicas. A Byzantine replica runs an honest core (so that it
 * knows the protocol state and can lie convincingly) and every frame that
 * core sends passes through byz_send, which applies the run's strategies:
 *
 *  equivocate  the colluding Byzantine replicas show group B of the honest
 *              replicas a different pre-prepare (same requests, a timestamp
 *              1 ns later, so a different digest) than the rest, and vote
 *              for whichever digest each recipient was shown; all validly
 *              signed, so only the quorum rules stand in the way
 *  forge       a broken signature, or another replica named as the sender
 *  replay      an old frame (seen or sent earlier) re-sent next to the new one
 *  digest      validly signed votes, checkpoints, replies or batches with one
 *              byte of the digest/result changed, or of the operation of a
 *              batch's last request (whose client signature then fails);
 *              as primary, for a quarter of the sequence numbers, the same
 *              such batch to every backup
 *  future      validly signed frames whose HLC is tens of seconds ahead
 *  silent      nothing to a fixed subset of the replicas
 *  garbage     random bytes or a truncated frame
 *  split       the Byzantine replicas vote only towards f honest "victims":
 *              with every PREPARE they send them a COMMIT as well, without
 *              ever becoming prepared themselves (they ignore all votes, so
 *              their view changes honestly report nothing prepared), while
 *              the network, which the adversary controls in PBFT's model,
 *              holds back what the victims send to the other honest replicas
 *              during the fault window. A victim thus sees 2f matching
 *              commits for a batch that no other honest replica prepared:
 *              exactly the case the 2f+1 commit quorum exists for (TOCS'02
 *              4.5), and what the weak-commit mutant gets wrong
 *
 * Signing with its own key where the strategy needs a valid signature forces
 * the honest replicas to catch the protocol-level lie, not just the
 * cryptographic one.
 */
#include "sim/sim_int.h"
#include "void/assert.h"
#include "void/bytes.h"
#include "void/codec.h"
#include "void/error.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#define SEC (UINT64_C(1000) * 1000 * 1000)

void void__sim_byz_remember(struct sim_node *node, const uint8_t *frame, size_t len)
{
    VOID_ASSERT(node->byzantine);
    if (len > 4096) {
        return; /* big state transfers are not worth replaying */
    }
    uint32_t slot = node->replay_next++ % SIM_REPLAY_RING;
    uint8_t *copy = realloc(node->replay[slot], len == 0 ? 1 : len);
    if (copy == NULL) {
        return; /* a missed replay candidate is harmless */
    }
    memcpy(copy, frame, len);
    node->replay[slot] = copy;
    node->replay_len[slot] = len;
}

void void__sim_byz_fini(struct sim_node *node)
{
    for (uint32_t i = 0; i < SIM_REPLAY_RING; i++) {
        free(node->replay[i]);
        node->replay[i] = NULL;
    }
}

/* Re-encodes fr with body[0..body_len) and hlc, signed with node's key, and
 * sends it. */
static int resign_send(struct sim *s,
                       struct sim_node *node,
                       uint32_t to,
                       struct void_frame fr,
                       const uint8_t *body,
                       size_t body_len)
{
    fr.body = body;
    fr.body_len = (uint32_t)body_len;
    size_t len;
    int rc = void_codec_encode(&fr, &node->kp, s->scratch, VOID_CODEC_FRAME_MAX, &len);
    if (rc != 0) {
        return rc == VOID_ENOMEM ? rc : 0;
    }
    /* A reply is signed through its batch root: sign the lie as its own
     * root, with the path it carries. Half the time tag it for its client
     * too, which takes it on the tag; else the client falls back to the
     * signature. Either way it is this replica's word, and f + 1 matching
     * replies outvote it. */
    if (fr.type == VOID_MSG_REPLY) {
        struct void_pbft_reply m;
        if (void_pbft_reply_sign(s->scratch, len, &node->kp) != 0 ||
            void_pbft_reply_decode(body, body_len, &m) != 0) {
            return 0;
        }
        uint8_t key[VOID_MAC_KEY_SIZE];
        if (m.client < s->count_nodes && s->nodes[m.client].is_client &&
            void_prng_chance(&s->rng_byz, 1, 2) &&
            void_mac_key_derive(&node->kp, s->nodes[m.client].kp.public_key, key) == 0) {
            void_pbft_reply_tag(s->scratch, len, key);
        }
    }
    return void__sim_transmit(s, node->id, to, s->scratch, len);
}

static struct sim_equiv *equiv_find(struct sim *s, uint64_t view, uint64_t seq)
{
    for (uint32_t i = 0; i < s->count_equiv; i++) {
        if (s->equiv[i].view == view && s->equiv[i].seq == seq) {
            return &s->equiv[i];
        }
    }
    return NULL;
}

/* The B side of a pre-prepare: the same batch stamped 1 ns later. */
static int equivocate_pre_prepare(struct sim *s,
                                  struct sim_node *node,
                                  uint32_t to,
                                  const struct void_frame *fr)
{
    struct void_pbft_pre_prepare pp;
    if (void_pbft_pre_prepare_decode(fr->body, fr->body_len, &pp) != 0 || pp.count == 0) {
        return 1; /* not ours to twist: send as is */
    }
    struct sim_equiv *e = equiv_find(s, pp.view, pp.seq);
    if (e == NULL) {
        e = &s->equiv[s->count_equiv < SIM_EQUIV_MAX ? s->count_equiv++ : SIM_EQUIV_MAX - 1];
        e->view = pp.view;
        e->seq = pp.seq;
        void_pbft_batch_digest(pp.hlc, pp.count, pp.batch, pp.batch_len, e->digest_a);
        struct void_hlc_ts b = {pp.hlc.wall_ns + 1, pp.hlc.logical};
        void_pbft_batch_digest(b, pp.count, pp.batch, pp.batch_len, e->digest_b);
        void__sim_trace(
            s, "byz n%u equivocates view=%" PRIu64 " seq=%" PRIu64, node->id, pp.view, pp.seq);
    }
    if ((s->byz_group_b & (1u << to)) == 0) {
        return 1;
    }
    pp.hlc.wall_ns += 1;
    size_t cap = fr->body_len + 16;
    uint8_t *body = malloc(cap);
    if (body == NULL) {
        return VOID_ENOMEM;
    }
    int len = void_pbft_pre_prepare_encode(&pp, body, cap);
    int rc = len > 0 ? resign_send(s, node, to, *fr, body, (size_t)len) : 1;
    free(body);
    s->res->byz_frames++;
    return rc;
}

/* A PREPARE's or COMMIT's body. A COMMIT that a Byzantine replica makes up
 * carries no tags (mac_count 0): the receivers check its signature. */
static int vote_decode_as(uint8_t type, const uint8_t *body, size_t len, struct void_pbft_vote *v)
{
    return type == VOID_MSG_COMMIT ? void_pbft_commit_decode(body, len, v)
                                   : void_pbft_vote_decode(body, len, v);
}

static int vote_encode_as(uint8_t type, struct void_pbft_vote *v, uint8_t *buf, size_t cap)
{
    v->mac_count = 0;
    return type == VOID_MSG_COMMIT ? void_pbft_commit_encode(v, buf, cap)
                                   : void_pbft_vote_encode(v, buf, cap);
}

/* A vote for an equivocated batch: group B gets the B digest. */
static int
equivocate_vote(struct sim *s, struct sim_node *node, uint32_t to, const struct void_frame *fr)
{
    struct void_pbft_vote v;
    if (vote_decode_as(fr->type, fr->body, fr->body_len, &v) != 0) {
        return 1;
    }
    const struct sim_equiv *e = equiv_find(s, v.view, v.seq);
    if (e == NULL || (s->byz_group_b & (1u << to)) == 0 ||
        memcmp(v.digest, e->digest_a, sizeof(v.digest)) != 0) {
        return 1;
    }
    memcpy(v.digest, e->digest_b, sizeof(v.digest));
    uint8_t body[128];
    int len = vote_encode_as(fr->type, &v, body, sizeof(body));
    s->res->byz_frames++;
    return len > 0 ? resign_send(s, node, to, *fr, body, (size_t)len) : 1;
}

/* The offset in a PRE-PREPARE body of the last byte of its last request's
 * operation, or 0 for a null or malformed batch. Changing it makes a batch
 * with an operation the client never sent: the client's tags and signature
 * no longer check. */
static size_t last_op_byte(const uint8_t *body, size_t body_len)
{
    struct void_pbft_pre_prepare m;
    if (void_pbft_pre_prepare_decode(body, body_len, &m) != 0 || m.count == 0) {
        return 0;
    }
    size_t off = 0, at = 0;
    for (uint16_t i = 0; i < m.count; i++) {
        struct void_pbft_request q;
        size_t used = 0;
        if (void_pbft_request_decode(m.batch + off, m.batch_len - off, &q, &used) != 0) {
            return 0;
        }
        at = (size_t)(q.op + q.op_len - 1 - body);
        off += used;
    }
    return at;
}

/* Flips a byte of the part of the body that a digest or result covers and
 * re-signs: the frame is authentic, its content a lie. */
static int
lie_about_content(struct sim *s, struct sim_node *node, uint32_t to, const struct void_frame *fr)
{
    size_t at;
    switch (fr->type) {
    case VOID_MSG_PREPARE:
    case VOID_MSG_COMMIT:
        at = 24; /* ev | view | seq | digest */
        break;
    case VOID_MSG_CHECKPOINT:
        at = 16; /* ev | seq | digest */
        break;
    case VOID_MSG_PRE_PREPARE:
        /* A batch with an operation the client never sent, which only the
         * replicas that authenticate client requests see. */
        at = last_op_byte(fr->body, fr->body_len);
        if (at == 0) {
            return 1;
        }
        break;
    case VOID_MSG_REPLY: {
        struct void_pbft_reply m;
        if (void_pbft_reply_decode(fr->body, fr->body_len, &m) != 0 || m.result_len == 0) {
            return 1;
        }
        at = (size_t)(m.result - fr->body) + m.result_len - 1; /* the result's last byte */
        break;
    }
    default:
        if (fr->body_len <= 8) {
            return 1;
        }
        at = fr->body_len - 1; /* the end of a batch */
        break;
    }
    if (at >= fr->body_len) {
        return 1;
    }
    uint8_t *body = malloc(fr->body_len);
    if (body == NULL) {
        return VOID_ENOMEM;
    }
    memcpy(body, fr->body, fr->body_len);
    body[at] ^= (uint8_t)(1u + void_prng_below(&s->rng_byz, 255));
    int rc = resign_send(s, node, to, *fr, body, fr->body_len);
    free(body);
    return rc;
}

static int
forge(struct sim *s, struct sim_node *node, uint32_t to, const uint8_t *frame, size_t len)
{
    uint8_t *copy = malloc(len);
    if (copy == NULL) {
        return VOID_ENOMEM;
    }
    memcpy(copy, frame, len);
    if (void_prng_chance(&s->rng_byz, 1, 2)) {
        copy[len - 1 - void_prng_below(&s->rng_byz, VOID_SIGN_SIZE)] ^= 0x40; /* bad signature */
    } else {
        uint32_t other = (uint32_t)void_prng_below(&s->rng_byz, s->n); /* claim another sender */
        copy[8] = (uint8_t)(other >> 24);
        copy[9] = (uint8_t)(other >> 16);
        copy[10] = (uint8_t)(other >> 8);
        copy[11] = (uint8_t)other;
    }
    int rc = void__sim_transmit(s, node->id, to, copy, len);
    free(copy);
    return rc;
}

static int
garbage(struct sim *s, struct sim_node *node, uint32_t to, const uint8_t *frame, size_t len)
{
    uint8_t junk[300];
    if (void_prng_chance(&s->rng_byz, 1, 2)) {
        size_t n = (size_t)void_prng_range(&s->rng_byz, 1, sizeof(junk));
        for (size_t i = 0; i < n; i++) {
            junk[i] = (uint8_t)void_prng_next(&s->rng_byz);
        }
        return void__sim_transmit(s, node->id, to, junk, n);
    }
    return void__sim_transmit(s, node->id, to, frame, (size_t)void_prng_below(&s->rng_byz, len));
}

static int future(struct sim *s, struct sim_node *node, uint32_t to, struct void_frame fr)
{
    fr.hlc.wall_ns += void_prng_range(&s->rng_byz, 2 * SEC, 60 * SEC);
    return resign_send(s, node, to, fr, fr.body, fr.body_len);
}

static int replay(struct sim *s, struct sim_node *node, uint32_t to)
{
    uint32_t have = node->replay_next < SIM_REPLAY_RING ? node->replay_next : SIM_REPLAY_RING;
    if (have == 0) {
        return 0;
    }
    uint32_t slot = (uint32_t)void_prng_below(&s->rng_byz, have);
    return void__sim_transmit(s, node->id, to, node->replay[slot], node->replay_len[slot]);
}

static int split_on(const struct sim *s)
{
    return (s->cfg->strategies & (1u << VOID_SIM_BYZ_SPLIT_BIT)) != 0 && s->split_victims != 0;
}

static int is_vote(const uint8_t *frame, size_t len)
{
    return len > 5 && (frame[5] == VOID_MSG_PREPARE || frame[5] == VOID_MSG_COMMIT);
}

void void__sim_byz_plan(struct sim *s)
{
    if ((s->cfg->strategies & (1u << VOID_SIM_BYZ_SPLIT_BIT)) == 0 || s->cfg->byzantine == 0) {
        return;
    }
    /* f honest backups of view 0, starting at a random one. */
    uint32_t start = (uint32_t)void_prng_below(&s->rng_byz, s->n);
    uint32_t chosen = 0;
    for (uint32_t k = 0; k < s->n && chosen < s->f; k++) {
        uint32_t r = (start + k) % s->n;
        if (r != void_pbft_primary(0, s->n) && !s->nodes[r].byzantine) {
            s->split_victims |= 1u << r;
            chosen++;
        }
    }
}

int void__sim_byz_ignores(const struct sim *s, uint32_t from, const uint8_t *frame, size_t len)
{
    (void)from;
    return split_on(s) && is_vote(frame, len);
}

/* SPLIT as primary: a victim gets the pre-prepare and, right behind it, a
 * COMMIT for its batch. */
static int split_pre_prepare(
    struct sim *s, struct sim_node *node, uint32_t to, const uint8_t *frame, size_t len)
{
    struct void_frame fr;
    struct void_pbft_pre_prepare pp;
    int rc = void__sim_transmit(s, node->id, to, frame, len);
    if (rc != 0 || void_codec_decode(frame, len, &fr) != 0 ||
        void_pbft_pre_prepare_decode(fr.body, fr.body_len, &pp) != 0) {
        return rc;
    }
    struct void_pbft_vote v = {.ev = pp.ev, .view = pp.view, .seq = pp.seq};
    void_pbft_batch_digest(pp.hlc, pp.count, pp.batch, pp.batch_len, v.digest);
    uint8_t body[128];
    int body_len = vote_encode_as(VOID_MSG_COMMIT, &v, body, sizeof(body));
    if (body_len <= 0) {
        return 0;
    }
    fr.type = VOID_MSG_COMMIT;
    s->res->byz_frames++;
    return resign_send(s, node, to, fr, body, (size_t)body_len);
}

/* SPLIT: votes go to the victims only, each PREPARE (or pre-prepare) followed
 * by a COMMIT for the same batch that the sender never prepared. Returns 1
 * when the frame is not one of those (left to the other strategies). */
static int
split_send(struct sim *s, struct sim_node *node, uint32_t to, const uint8_t *frame, size_t len)
{
    if (!split_on(s) || to >= s->n) {
        return 1;
    }
    if (len > 5 && frame[5] == VOID_MSG_PRE_PREPARE && (s->split_victims & (1u << to)) != 0) {
        return split_pre_prepare(s, node, to, frame, len);
    }
    if (!is_vote(frame, len)) {
        return 1;
    }
    s->res->byz_frames++;
    if ((s->split_victims & (1u << to)) == 0) {
        return 0;
    }
    int rc = void__sim_transmit(s, node->id, to, frame, len);
    struct void_frame fr;
    struct void_pbft_vote v;
    if (rc != 0 || frame[5] != VOID_MSG_PREPARE || void_codec_decode(frame, len, &fr) != 0 ||
        void_pbft_vote_decode(fr.body, fr.body_len, &v) != 0) {
        return rc;
    }
    uint8_t body[128];
    int body_len = vote_encode_as(VOID_MSG_COMMIT, &v, body, sizeof(body));
    if (body_len <= 0) {
        return 0;
    }
    fr.type = VOID_MSG_COMMIT;
    return resign_send(s, node, to, fr, body, (size_t)body_len);
}

/* For a quarter of the sequence numbers (fixed by seed and seq), a Byzantine
 * primary sends every backup the same pre-prepare with the last byte of the
 * last request's operation changed and the frame re-signed: a batch with an
 * operation no client sent, consistent across the backups, so that only the
 * backups' authentication of client requests (tag, else signature;
 * docs/pbft.md) stands in its way. Returns 1 to leave the frame alone. */
static int
forge_batch(struct sim *s, struct sim_node *node, uint32_t to, const struct void_frame *fr)
{
    size_t at = last_op_byte(fr->body, fr->body_len);
    if (at == 0) {
        return 1; /* a null batch */
    }
    uint64_t seq = void_bytes_get_be64(fr->body + 16);
    if (((seq ^ s->cfg->seed) * 0x9e3779b97f4a7c15ull) >> 62 != 0) {
        return 1;
    }
    uint8_t *body = malloc(fr->body_len);
    if (body == NULL) {
        return VOID_ENOMEM;
    }
    memcpy(body, fr->body, fr->body_len);
    body[at] ^= 0x01;
    s->res->byz_frames++;
    int rc = resign_send(s, node, to, *fr, body, fr->body_len);
    free(body);
    return rc;
}

/* Picks one of the enabled per-frame strategies, or -1 for "behave". */
static int pick_strategy(struct sim *s)
{
    static const enum void_sim_byz per_frame[] = {VOID_SIM_BYZ_FORGE_BIT,
                                                  VOID_SIM_BYZ_REPLAY_BIT,
                                                  VOID_SIM_BYZ_DIGEST_BIT,
                                                  VOID_SIM_BYZ_FUTURE_BIT,
                                                  VOID_SIM_BYZ_GARBAGE_BIT};
    if (!void_prng_chance(&s->rng_byz, 1, 4)) {
        return -1;
    }
    enum void_sim_byz pick = per_frame[void_prng_below(&s->rng_byz, VOID_ARRAY_LEN(per_frame))];
    return (s->cfg->strategies & (1u << pick)) != 0 ? (int)pick : -1;
}

static int apply_strategy(struct sim *s,
                          struct sim_node *node,
                          uint32_t to,
                          const uint8_t *frame,
                          size_t len,
                          const struct void_frame *fr,
                          int strategy)
{
    s->res->byz_frames++;
    switch ((enum void_sim_byz)strategy) {
    case VOID_SIM_BYZ_FORGE_BIT:
        return forge(s, node, to, frame, len);
    case VOID_SIM_BYZ_REPLAY_BIT: {
        int rc = void__sim_transmit(s, node->id, to, frame, len);
        return rc != 0 ? rc : replay(s, node, to);
    }
    case VOID_SIM_BYZ_DIGEST_BIT: {
        int rc = lie_about_content(s, node, to, fr);
        return rc == 1 ? void__sim_transmit(s, node->id, to, frame, len) : rc;
    }
    case VOID_SIM_BYZ_FUTURE_BIT:
        return future(s, node, to, *fr);
    case VOID_SIM_BYZ_GARBAGE_BIT:
        return garbage(s, node, to, frame, len);
    case VOID_SIM_BYZ_EQUIVOCATE_BIT:
    case VOID_SIM_BYZ_SILENT_BIT:
    case VOID_SIM_BYZ_SPLIT_BIT:
    case VOID_SIM_BYZ_CAUSAL_BIT: /* lies in its event log only (sim_causal.c) */
    case VOID_SIM_BYZ_SUSPECT_BIT: /* lies in its suspicions only (void__sim_byz_suspect) */
    case VOID_SIM_BYZ_COUNT:
        break;
    }
    return void__sim_transmit(s, node->id, to, frame, len);
}

int void__sim_byz_send(
    struct sim *s, struct sim_node *node, uint32_t to, const uint8_t *frame, size_t len)
{
    VOID_ASSERT(node->byzantine);
    VOID_ASSERT(to < s->count_nodes);
    uint32_t strategies = s->cfg->strategies;
    if (len <= 4096) {
        void__sim_byz_remember(node, frame, len);
    }
    if ((strategies & (1u << VOID_SIM_BYZ_SILENT_BIT)) && to < s->n &&
        (node->silent_mask & (1u << to)) != 0) {
        s->res->byz_frames++;
        return 0;
    }
    int rc = split_send(s, node, to, frame, len);
    if (rc != 1) {
        return rc;
    }
    struct void_frame fr;
    if (void_codec_decode(frame, len, &fr) != 0) {
        return void__sim_transmit(s, node->id, to, frame, len);
    }
    if ((strategies & (1u << VOID_SIM_BYZ_EQUIVOCATE_BIT)) && to < s->n) {
        rc = 1;
        if (fr.type == VOID_MSG_PRE_PREPARE) {
            rc = equivocate_pre_prepare(s, node, to, &fr);
        } else if (fr.type == VOID_MSG_PREPARE || fr.type == VOID_MSG_COMMIT) {
            rc = equivocate_vote(s, node, to, &fr);
        }
        if (rc != 1) {
            return rc;
        }
    }
    if ((strategies & (1u << VOID_SIM_BYZ_DIGEST_BIT)) && fr.type == VOID_MSG_PRE_PREPARE) {
        rc = forge_batch(s, node, to, &fr);
        if (rc != 1) {
            return rc;
        }
    }
    int strategy = pick_strategy(s);
    if (strategy < 0) {
        return void__sim_transmit(s, node->id, to, frame, len);
    }
    return apply_strategy(s, node, to, frame, len, &fr, strategy);
}

/* The SUSPECT strategy (with auto_remove): at each of its heartbeats, the
 * Byzantine replica claims every honest voter dead, signing the suspicions
 * with its own key (valid signatures: only the 2f + 1 rule stands in the
 * way), and, once per victim and epoch, submits a certified REMOVE of it
 * made of the Byzantine replicas' genuine suspicions padded with ones it
 * forges in honest voters' names. */
void void__sim_byz_suspect(struct sim *s, struct sim_node *node)
{
    VOID_ASSERT(node->byzantine && s->member.autorm);
    struct sim_detector *d = s->member.det[node->id];
    const struct void_membership_config *cfg = void_pbft_member_config(node->replica);
    uint32_t need = 2 * void_membership_f(void_membership_voters(cfg)) + 1;
    uint64_t wall = void_simclock_read(&node->clock, s->now);
    for (uint32_t i = 0; i < cfg->count; i++) {
        uint32_t v = cfg->members[i].id;
        if (v == node->id || v >= s->n || s->nodes[v].byzantine ||
            cfg->members[i].role != VOID_MEMBER_VOTER) {
            continue;
        }
        struct sim_signed_suspicion *o = &d->own[v];
        if (o->s.hlc.wall_ns == 0 || wall > o->s.hlc.wall_ns + VOID_SUSPICION_WINDOW_NS_DEF / 2) {
            void__sim_member_sign(s, node, v, o);
            s->res->suspicions_false++;
        }
        if (d->forged_mask & (1u << v)) {
            continue;
        }
        d->forged_mask |= 1u << v;
        static struct void_sm_member_cert mc;
        memset(&mc, 0, sizeof(mc));
        mc.cert.epoch = d->epoch;
        mc.cert.suspect = v;
        for (uint32_t j = 0; j < cfg->count && mc.cert.count < need; j++) {
            uint32_t by = cfg->members[j].id;
            if (by == v || by >= s->n || cfg->members[j].role != VOID_MEMBER_VOTER) {
                continue;
            }
            struct void_suspicion *it = &mc.cert.items[mc.cert.count];
            *it = (struct void_suspicion){
                .epoch = d->epoch, .suspect = v, .suspector = by, .hlc = o->s.hlc};
            uint8_t msg[VOID_SUSPICION_ENCODED_SIZE];
            void_suspicion_encode(it, msg);
            /* The colluders sign their own; the honest names are forged. */
            const struct void_sign_keypair *kp =
                s->nodes[by].byzantine ? &s->nodes[by].kp : &node->kp;
            int rc = void_sign(kp, VOID_SIGN_DOMAIN_SUSPICION, msg, sizeof(msg), mc.sig[mc.cert.count]);
            VOID_ASSERT(rc == 0);
            mc.cert.count++;
        }
        s->res->byz_frames++;
        (void)void__sim_member_queue_cert(s, node->id, &mc);
    }
}
