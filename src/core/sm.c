/*
 * The replicated key/value state machine (include/void/sm.h) on the store
 * interface (include/void/kvs.h): MVCC versions stamped with the batch's
 * commit HLC, compare-and-set, reads as of a past HLC, and PBFT's client
 * table for at-most-once execution.
 *
 * The store holds everything: versions, the client table, the horizon and
 * the digest. What this file adds is the protocol around it: the stamp rule,
 * the mapping of operations to store calls and of store answers to result
 * statuses, the retention and expiry policy, and stopping at the first local
 * failure of the store (a replica whose store failed must not answer from a
 * state it no longer knows).
 */
#include "void/sm.h"

#include "void/assert.h"
#include "void/bytes.h"
#include "void/error.h"
#include "void/sign.h"
#include "void/task.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- init ---------------------------------------------------------------- */

int void_sm_init(struct void_sm *sm, const struct void_sm_config *config, struct void_kvs *kvs)
{
    VOID_ASSERT(sm != NULL && kvs != NULL && kvs->ops != NULL);
    memset(sm, 0, sizeof(*sm));
    sm->kvs = kvs;
    sm->retention_ns = VOID_SM_RETENTION_NS_DEF;
    sm->client_ttl_ns = VOID_SM_CLIENT_TTL_NS_DEF;
    if (config != NULL && config->retention_ns != 0) {
        sm->retention_ns = config->retention_ns;
    }
    if (config != NULL && config->client_ttl_ns != 0) {
        sm->client_ttl_ns = config->client_ttl_ns;
    }
    sm->xfer_buffer_max = VOID_SM_XFER_BUFFER_DEF;
    if (config != NULL && config->xfer_buffer_max != 0) {
        sm->xfer_buffer_max = config->xfer_buffer_max;
    }
    /* A reopened store goes on where it stopped: the next stamp must be
     * after its last batch's, as the store checks. */
    struct void_kvs_stats st;
    void_kvs_stats(kvs, &st);
    sm->last_stamp = st.last;
    VOID_ASSERT(sm->retention_ns > 0 && sm->client_ttl_ns > 0);
    return 0;
}

void void_sm_fini(struct void_sm *sm)
{
    VOID_ASSERT(sm != NULL);
    void_sm_xfer_end(sm);
    free(sm->member_scratch);
    sm->member_scratch = NULL;
    sm->kvs = NULL;
    sm->in_batch = 0;
}

int void_sm_failed(const struct void_sm *sm)
{
    VOID_ASSERT(sm != NULL);
    return sm->failed;
}

/* Deterministic answers of the store leave it unchanged; anything else is a
 * local failure that stops this state machine. Returns rc. */
static int store_rc(struct void_sm *sm, int rc)
{
    if (rc != 0 && rc != VOID_EINVAL && rc != VOID_ENOTFOUND && rc != VOID_EFULL &&
        rc != VOID_EKVS_TOO_OLD && sm->failed == 0) {
        sm->failed = rc;
    }
    return rc;
}

/* ---- reads --------------------------------------------------------------- */

/* Reads key as of *as_of (NULL: in the batch, the batch's own writes
 * included) into *out, with the status the client sees. */
static void read_key(struct void_sm *sm,
                     const uint8_t *key,
                     size_t key_len,
                     const struct void_hlc_ts *as_of,
                     struct void_sm_result *out)
{
    memset(out, 0, sizeof(*out));
    out->status = VOID_SM_NOT_FOUND;
    if (key_len == 0 || key_len > VOID_SM_KEY_MAX) {
        out->status = VOID_SM_BAD_OP;
        return;
    }
    struct void_kvs_version v;
    int rc = store_rc(sm, void_kvs_get(sm->kvs, key, key_len, as_of, &v));
    if (rc == VOID_EKVS_TOO_OLD) {
        out->status = VOID_SM_TOO_OLD;
        return;
    }
    if (rc != 0 || v.deleted) {
        return; /* not found, or a local failure that the caller reports */
    }
    VOID_ASSERT(v.value_len <= VOID_SM_VALUE_MAX);
    out->status = VOID_SM_OK;
    out->version = v.hlc;
    out->value = v.value;
    out->value_len = (uint32_t)v.value_len;
}

void void_sm_read(struct void_sm *sm,
                  const uint8_t *key,
                  size_t key_len,
                  const struct void_hlc_ts *as_of,
                  struct void_sm_result *out)
{
    VOID_ASSERT(sm != NULL && out != NULL);
    VOID_ASSERT(!sm->in_batch);
    read_key(sm, key, key_len, as_of, out);
}

/* ---- writes -------------------------------------------------------------- */

/* Maps a store write's answer to the result status. */
static uint8_t write_status(struct void_sm *sm, int rc)
{
    rc = store_rc(sm, rc);
    return rc == 0 ? VOID_SM_OK : rc == VOID_EFULL ? VOID_SM_FULL : VOID_SM_BAD_OP;
}

static void apply_put(struct void_sm *sm, const struct void_sm_op *op, struct void_sm_result *res)
{
    res->status =
        write_status(sm, void_kvs_put(sm->kvs, op->key, op->key_len, op->value, op->value_len));
    res->version = res->status == VOID_SM_OK ? sm->last_stamp : (struct void_hlc_ts){0, 0};
}

static void apply_cas(struct void_sm *sm, const struct void_sm_op *op, struct void_sm_result *res)
{
    struct void_sm_result cur;
    read_key(sm, op->key, op->key_len, NULL, &cur);
    int present = cur.status == VOID_SM_OK;
    int match = op->expect_present ? (present && cur.value_len == op->expected_len &&
                                      memcmp(cur.value, op->expected, cur.value_len) == 0)
                                   : !present;
    if (!match) {
        *res = cur;
        res->status = VOID_SM_CAS_FAILED;
        return;
    }
    apply_put(sm, op, res);
}

/* Whether a key is in the space the state machine keeps for itself. */
static int reserved_key(const uint8_t *key, size_t len)
{
    return len >= VOID_SM_RESERVED_PREFIX_LEN &&
           memcmp(key, VOID_SM_RESERVED_PREFIX, VOID_SM_RESERVED_PREFIX_LEN) == 0;
}

static void apply(struct void_sm *sm, const struct void_sm_op *op, struct void_sm_result *res)
{
    memset(res, 0, sizeof(*res));
    if ((op->kind == VOID_SM_OP_PUT || op->kind == VOID_SM_OP_DELETE ||
         op->kind == VOID_SM_OP_CAS) &&
        reserved_key(op->key, op->key_len)) {
        res->status = VOID_SM_BAD_OP; /* the configuration changes only through member ops */
        return;
    }
    switch ((enum void_sm_op_kind)op->kind) {
    case VOID_SM_OP_GET:
        read_key(sm, op->key, op->key_len, NULL, res);
        return;
    case VOID_SM_OP_GET_AS_OF:
        /* A time after this batch's stamp has no answer yet: a later write
         * could still land before it, so returning the current value would
         * be a read that a later read as of the same time contradicts. Every
         * replica sees the same stamp, so all refuse alike (etcd refuses a
         * future revision the same way). */
        if (void_hlc_compare(op->as_of, sm->last_stamp) > 0) {
            res->status = VOID_SM_FUTURE;
            return;
        }
        read_key(sm, op->key, op->key_len, &op->as_of, res);
        return;
    case VOID_SM_OP_DELETE: {
        int rc = store_rc(sm, void_kvs_del(sm->kvs, op->key, op->key_len));
        if (rc == VOID_ENOTFOUND) {
            res->status = VOID_SM_NOT_FOUND;
            return;
        }
        res->status = write_status(sm, rc);
        res->version = res->status == VOID_SM_OK ? sm->last_stamp : (struct void_hlc_ts){0, 0};
        return;
    }
    case VOID_SM_OP_CAS:
        apply_cas(sm, op, res);
        return;
    case VOID_SM_OP_PUT:
        apply_put(sm, op, res);
        return;
    case VOID_SM_OP_MEMBER: /* member_apply; void_sm_op_decode never yields it */
        break;
    }
    res->status = VOID_SM_BAD_OP;
}

/* ---- batches ------------------------------------------------------------- */

int void_sm_begin_batch(struct void_sm *sm,
                        struct void_hlc_ts hlc,
                        uint64_t label,
                        struct void_hlc_ts *stamp)
{
    VOID_ASSERT(sm != NULL && sm->kvs != NULL);
    VOID_ASSERT(!sm->in_batch);
    if (sm->failed != 0) {
        return sm->failed;
    }
    struct void_hlc_ts prev = sm->last_stamp;
    if (void_hlc_compare(hlc, prev) <= 0) {
        hlc = prev;
        if (hlc.logical == UINT32_MAX) {
            hlc.wall_ns++;
            hlc.logical = 0;
        } else {
            hlc.logical++;
        }
    }
    /* The stamp is after the store's last batch by construction, so a
     * refusal here is the store's fault, not an answer. */
    int rc = void_kvs_begin(sm->kvs, hlc, label);
    if (rc != 0) {
        sm->failed = sm->failed != 0 ? sm->failed : (rc == VOID_EINVAL ? VOID_ECORRUPT : rc);
        return sm->failed;
    }
    sm->in_batch = 1;
    sm->last_stamp = hlc;
    sm->batch_label = label;
    if (stamp != NULL) {
        *stamp = hlc;
    }
    /* Retention and expiry are functions of the stamp alone, which every
     * replica agrees on: all compact and expire at the same batch. A
     * compaction costs what it drops, so doing it at every batch is cheap. */
    if (hlc.wall_ns > sm->retention_ns) {
        struct void_hlc_ts horizon = {hlc.wall_ns - sm->retention_ns, 0};
        rc = store_rc(sm, void_kvs_compact(sm->kvs, horizon));
    }
    if (rc == 0 && hlc.wall_ns > sm->client_ttl_ns) {
        struct void_hlc_ts older = {hlc.wall_ns - sm->client_ttl_ns, 0};
        uint64_t expired = 0;
        rc = store_rc(sm, void_kvs_client_expire(sm->kvs, older, &expired));
        sm->clients_expired += expired;
    }
    VOID_ASSERT(void_hlc_compare(sm->last_stamp, prev) > 0);
    return sm->failed;
}

int void_sm_end_batch(struct void_sm *sm)
{
    VOID_ASSERT(sm != NULL && sm->kvs != NULL);
    if (!sm->in_batch) {
        return sm->failed;
    }
    sm->in_batch = 0;
    if (sm->failed != 0) {
        return sm->failed; /* the store dropped the batch and says so to every call */
    }
    int rc = void_kvs_commit(sm->kvs);
    if (rc != 0 && sm->failed == 0) {
        sm->failed = rc;
    }
    VOID_ASSERT(!sm->in_batch);
    return sm->failed;
}

/* ---- configuration changes ----------------------------------------------- */

/* The record under VOID_SM_MEMBER_KEY:
 *   u8 version (1) | u64 act | u64 prev_act | u32 latest_len | latest | prev
 * (both configurations in void_membership_config_encode's bytes; prev_act
 * is prev's own boundary, 0 for the genesis). */
#define MEMBER_RECORD_HEAD 21
#define MEMBER_RECORD_MAX  (MEMBER_RECORD_HEAD + 2 * VOID_MEMBERSHIP_ENCODED_MAX)
/* member_scratch: latest, prev, next, then the record's bytes. */
#define MEMBER_SCRATCH_SIZE (3 * sizeof(struct void_membership_config) + MEMBER_RECORD_MAX)

int void_sm_member_setup(struct void_sm *sm, const struct void_sm_member_setup *setup)
{
    VOID_ASSERT(sm != NULL && setup != NULL && setup->genesis != NULL);
    VOID_ASSERT(setup->checkpoint_interval > 0 && setup->window >= setup->checkpoint_interval);
    if (sm->member_scratch == NULL) {
        sm->member_scratch = malloc(MEMBER_SCRATCH_SIZE);
        if (sm->member_scratch == NULL) {
            return VOID_ENOMEM;
        }
    }
    sm->member = *setup;
    return 0;
}

int void_sm_member_take_changed(struct void_sm *sm)
{
    VOID_ASSERT(sm != NULL);
    int changed = sm->member_changed;
    sm->member_changed = 0;
    return changed;
}

void void_sm_member_op_message(const struct void_sm_member_op *op,
                               uint8_t msg[VOID_SM_MEMBER_SIGNED])
{
    VOID_ASSERT(op != NULL && msg != NULL);
    msg[0] = VOID_SM_OP_MEMBER;
    msg[1] = op->change;
    void_bytes_put_be32(msg + 2, op->id);
    void_bytes_put_be64(msg + 6, op->epoch);
}

int void_sm_member_op_encode(const struct void_sm_member_op *op, uint8_t *buf, size_t cap)
{
    VOID_ASSERT(op != NULL && buf != NULL);
    if (cap < VOID_SM_MEMBER_OP_SIZE) {
        return VOID_EFULL;
    }
    void_sm_member_op_message(op, buf);
    memcpy(buf + VOID_SM_MEMBER_SIGNED, op->sig, sizeof(op->sig));
    VOID_ASSERT(VOID_SM_MEMBER_SIGNED + sizeof(op->sig) == VOID_SM_MEMBER_OP_SIZE);
    return VOID_SM_MEMBER_OP_SIZE;
}

int void_sm_member_op_decode(const uint8_t *buf, size_t len, struct void_sm_member_op *op)
{
    VOID_ASSERT(buf != NULL && op != NULL);
    memset(op, 0, sizeof(*op));
    if (len < VOID_SM_MEMBER_OP_SIZE) {
        return VOID_ETRUNCATED;
    }
    if (len > VOID_SM_MEMBER_OP_SIZE) {
        return VOID_EBAD_LENGTH;
    }
    if (buf[0] != VOID_SM_OP_MEMBER ||
        (buf[1] != VOID_MEMBERSHIP_REMOVE && buf[1] != VOID_MEMBERSHIP_LEAVE)) {
        return VOID_EBAD_TYPE; /* JOIN and PROMOTE are not changes through PBFT yet */
    }
    op->change = buf[1];
    op->id = void_bytes_get_be32(buf + 2);
    op->epoch = void_bytes_get_be64(buf + 6);
    memcpy(op->sig, buf + VOID_SM_MEMBER_SIGNED, sizeof(op->sig));
    return 0;
}

/* Appends a string as u8 len | bytes; returns the new offset or 0. */
static size_t put_str(uint8_t *buf, size_t off, size_t cap, const char *s, size_t max)
{
    size_t len = strnlen(s, max + 1);
    if (len > max || len > UINT8_MAX || off + 1 + len > cap) {
        return 0;
    }
    buf[off] = (uint8_t)len;
    memcpy(buf + off + 1, s, len);
    return off + 1 + len;
}

/* Reads u8 len | bytes into dst (capacity max + 1, NUL-terminated). */
static size_t get_str(const uint8_t *buf, size_t off, size_t len, char *dst, size_t max)
{
    if (off >= len || buf[off] > max || off + 1 + buf[off] > len) {
        return 0;
    }
    size_t n = buf[off];
    if (memchr(buf + off + 1, 0, n) != NULL) {
        return 0; /* an embedded NUL would hide bytes from the configuration */
    }
    memcpy(dst, buf + off + 1, n);
    dst[n] = '\0';
    return off + 1 + n;
}

int void_sm_member_join_encode(const struct void_sm_member_join *j, uint8_t *buf, size_t cap)
{
    VOID_ASSERT(j != NULL && buf != NULL);
    const struct void_member *m = &j->member;
    if (cap < VOID_SM_MEMBER_JOIN_MIN) {
        return VOID_EFULL;
    }
    buf[0] = VOID_SM_OP_MEMBER;
    buf[1] = VOID_MEMBERSHIP_JOIN;
    void_bytes_put_be32(buf + 2, m->id);
    void_bytes_put_be64(buf + 6, j->epoch);
    memcpy(buf + 14, m->public_key, VOID_SIGN_PUBLIC_KEY_SIZE);
    size_t off = 14 + VOID_SIGN_PUBLIC_KEY_SIZE;
    size_t room = cap - VOID_SIGN_SIZE;
    if (m->address[0] == '\0') {
        return VOID_EBAD_FIELD;
    }
    off = put_str(buf, off, room, m->address, VOID_MEMBERSHIP_ADDR_MAX);
    off = off ? put_str(buf, off, room, m->datacenter, VOID_MEMBERSHIP_LOC_MAX) : 0;
    off = off ? put_str(buf, off, room, m->rack, VOID_MEMBERSHIP_LOC_MAX) : 0;
    off = off ? put_str(buf, off, room, m->host, VOID_MEMBERSHIP_LOC_MAX) : 0;
    if (off == 0) {
        return VOID_EBAD_FIELD;
    }
    memcpy(buf + off, j->sig, VOID_SIGN_SIZE);
    VOID_ASSERT(off + VOID_SIGN_SIZE <= VOID_SM_MEMBER_JOIN_MAX);
    return (int)(off + VOID_SIGN_SIZE);
}

int void_sm_member_join_decode(const uint8_t *buf, size_t len, struct void_sm_member_join *j)
{
    VOID_ASSERT(buf != NULL && j != NULL);
    memset(j, 0, sizeof(*j));
    if (len < VOID_SM_MEMBER_JOIN_MIN) {
        return VOID_ETRUNCATED;
    }
    if (len > VOID_SM_MEMBER_JOIN_MAX) {
        return VOID_EBAD_LENGTH;
    }
    if (buf[0] != VOID_SM_OP_MEMBER || buf[1] != VOID_MEMBERSHIP_JOIN) {
        return VOID_EBAD_TYPE;
    }
    struct void_member *m = &j->member;
    m->id = void_bytes_get_be32(buf + 2);
    m->role = VOID_MEMBER_LEARNER;
    j->epoch = void_bytes_get_be64(buf + 6);
    memcpy(m->public_key, buf + 14, VOID_SIGN_PUBLIC_KEY_SIZE);
    size_t body = len - VOID_SIGN_SIZE;
    size_t off = 14 + VOID_SIGN_PUBLIC_KEY_SIZE;
    off = get_str(buf, off, body, m->address, VOID_MEMBERSHIP_ADDR_MAX);
    off = off ? get_str(buf, off, body, m->datacenter, VOID_MEMBERSHIP_LOC_MAX) : 0;
    off = off ? get_str(buf, off, body, m->rack, VOID_MEMBERSHIP_LOC_MAX) : 0;
    off = off ? get_str(buf, off, body, m->host, VOID_MEMBERSHIP_LOC_MAX) : 0;
    if (off == 0 || m->address[0] == '\0') {
        return VOID_EBAD_FIELD;
    }
    if (off != body) {
        return VOID_EBAD_LENGTH;
    }
    memcpy(j->sig, buf + body, VOID_SIGN_SIZE);
    return 0;
}

void void_sm_member_progress_message(uint32_t id,
                                     uint64_t executed,
                                     uint8_t msg[VOID_SM_MEMBER_PROGRESS_SIZE])
{
    VOID_ASSERT(msg != NULL);
    void_bytes_put_be32(msg, id);
    void_bytes_put_be64(msg + 4, executed);
}

int void_sm_member_promote_encode(const struct void_sm_member_promote *p, uint8_t *buf, size_t cap)
{
    VOID_ASSERT(p != NULL && buf != NULL);
    if (cap < VOID_SM_MEMBER_PROMOTE_SIZE) {
        return VOID_EFULL;
    }
    buf[0] = VOID_SM_OP_MEMBER;
    buf[1] = VOID_MEMBERSHIP_PROMOTE;
    void_bytes_put_be32(buf + 2, p->id);
    void_bytes_put_be64(buf + 6, p->epoch);
    void_bytes_put_be64(buf + 14, p->executed);
    memcpy(buf + 22, p->learner_sig, VOID_SIGN_SIZE);
    memcpy(buf + VOID_SM_MEMBER_PROMOTE_SIGNED, p->sig, VOID_SIGN_SIZE);
    VOID_ASSERT(VOID_SM_MEMBER_PROMOTE_SIGNED + VOID_SIGN_SIZE == VOID_SM_MEMBER_PROMOTE_SIZE);
    return VOID_SM_MEMBER_PROMOTE_SIZE;
}

int void_sm_member_promote_decode(const uint8_t *buf, size_t len, struct void_sm_member_promote *p)
{
    VOID_ASSERT(buf != NULL && p != NULL);
    memset(p, 0, sizeof(*p));
    if (len < VOID_SM_MEMBER_PROMOTE_SIZE) {
        return VOID_ETRUNCATED;
    }
    if (len > VOID_SM_MEMBER_PROMOTE_SIZE) {
        return VOID_EBAD_LENGTH;
    }
    if (buf[0] != VOID_SM_OP_MEMBER || buf[1] != VOID_MEMBERSHIP_PROMOTE) {
        return VOID_EBAD_TYPE;
    }
    p->id = void_bytes_get_be32(buf + 2);
    p->epoch = void_bytes_get_be64(buf + 6);
    p->executed = void_bytes_get_be64(buf + 14);
    memcpy(p->learner_sig, buf + 22, VOID_SIGN_SIZE);
    memcpy(p->sig, buf + VOID_SM_MEMBER_PROMOTE_SIGNED, VOID_SIGN_SIZE);
    return 0;
}

/* One suspicion item of a certified REMOVE (either form) at p. */
static void cert_item_put(const struct void_sm_member_cert *op, uint32_t k, uint8_t *p)
{
    const struct void_suspicion *s = &op->cert.items[k];
    /* The section's epoch and suspect are the items': only these travel. */
    VOID_ASSERT(s->epoch == op->cert.epoch && s->suspect == op->cert.suspect);
    void_bytes_put_be32(p, s->suspector);
    void_bytes_put_be64(p + 4, s->hlc.wall_ns);
    void_bytes_put_be32(p + 12, s->hlc.logical);
    memcpy(p + 16, op->sig[k], 64);
}

int void_sm_member_cert_encode(const struct void_sm_member_cert *op, uint8_t *buf, size_t cap)
{
    VOID_ASSERT(op != NULL && buf != NULL);
    const struct void_suspicion_cert *c = &op->cert;
    if (c->count == 0 || c->count > VOID_MEMBERSHIP_MEMBERS_MAX) {
        return VOID_EINVAL;
    }
    size_t len = VOID_SM_MEMBER_CERT_SIZE(c->count);
    if (cap < len) {
        return VOID_EFULL;
    }
    buf[0] = VOID_SM_OP_MEMBER;
    buf[1] = VOID_SM_MEMBER_CERT_REMOVE;
    void_bytes_put_be32(buf + 2, c->suspect);
    void_bytes_put_be64(buf + 6, c->epoch);
    buf[14] = (uint8_t)c->count;
    uint8_t *p = buf + VOID_SM_MEMBER_CERT_HEAD;
    for (uint32_t k = 0; k < c->count; k++, p += VOID_SM_MEMBER_CERT_ITEM) {
        cert_item_put(op, k, p);
    }
    return (int)len;
}

int void_sm_member_cert_decode(const uint8_t *buf, size_t len, struct void_sm_member_cert *op)
{
    VOID_ASSERT(op != NULL);
    VOID_ASSERT(buf != NULL || len == 0);
    memset(&op->cert, 0, sizeof(op->cert));
    if (len < VOID_SM_MEMBER_CERT_HEAD) {
        return VOID_ETRUNCATED;
    }
    if (buf[0] != VOID_SM_OP_MEMBER || buf[1] != VOID_SM_MEMBER_CERT_REMOVE) {
        return VOID_EBAD_TYPE;
    }
    uint32_t count = buf[14];
    if (count == 0 || count > VOID_MEMBERSHIP_MEMBERS_MAX) {
        return VOID_EBAD_FIELD;
    }
    if (len < VOID_SM_MEMBER_CERT_SIZE(count)) {
        return VOID_ETRUNCATED;
    }
    if (len > VOID_SM_MEMBER_CERT_SIZE(count)) {
        return VOID_EBAD_LENGTH;
    }
    struct void_suspicion_cert *c = &op->cert;
    c->suspect = void_bytes_get_be32(buf + 2);
    c->epoch = void_bytes_get_be64(buf + 6);
    c->count = count;
    const uint8_t *p = buf + VOID_SM_MEMBER_CERT_HEAD;
    for (uint32_t k = 0; k < count; k++, p += VOID_SM_MEMBER_CERT_ITEM) {
        c->items[k].epoch = c->epoch;
        c->items[k].suspect = c->suspect;
        c->items[k].suspector = void_bytes_get_be32(p);
        c->items[k].hlc.wall_ns = void_bytes_get_be64(p + 4);
        c->items[k].hlc.logical = void_bytes_get_be32(p + 12);
        memcpy(op->sig[k], p + 16, 64);
    }
    return 0;
}

int void_sm_member_certs_encode(const struct void_sm_member_cert *const *certs,
                                uint32_t k,
                                uint8_t *buf,
                                size_t cap)
{
    VOID_ASSERT(certs != NULL && buf != NULL);
    if (k == 0 || k > VOID_SM_MEMBER_CERTS_MAX) {
        return VOID_EINVAL;
    }
    size_t len = VOID_SM_MEMBER_CERTS_HEAD;
    for (uint32_t i = 0; i < k; i++) {
        const struct void_suspicion_cert *c = &certs[i]->cert;
        if (c->count == 0 || c->count > VOID_MEMBERSHIP_MEMBERS_MAX || c->epoch != certs[0]->cert.epoch) {
            return VOID_EINVAL;
        }
        len += VOID_SM_MEMBER_CERTS_SECTION + (size_t)c->count * VOID_SM_MEMBER_CERT_ITEM;
    }
    if (cap < len) {
        return VOID_EFULL;
    }
    buf[0] = VOID_SM_OP_MEMBER;
    buf[1] = VOID_SM_MEMBER_CERTS_REMOVE;
    void_bytes_put_be64(buf + 2, certs[0]->cert.epoch);
    buf[10] = (uint8_t)k;
    uint8_t *p = buf + VOID_SM_MEMBER_CERTS_HEAD;
    for (uint32_t i = 0; i < k; i++) {
        const struct void_suspicion_cert *c = &certs[i]->cert;
        void_bytes_put_be32(p, c->suspect);
        p[4] = (uint8_t)c->count;
        p += VOID_SM_MEMBER_CERTS_SECTION;
        for (uint32_t j = 0; j < c->count; j++, p += VOID_SM_MEMBER_CERT_ITEM) {
            cert_item_put(certs[i], j, p);
        }
    }
    VOID_ASSERT((size_t)(p - buf) == len);
    return (int)len;
}

int void_sm_member_certs_decode(const uint8_t *buf,
                                size_t len,
                                uint32_t index,
                                uint32_t *k,
                                struct void_sm_member_cert *op)
{
    VOID_ASSERT(k != NULL && op != NULL);
    VOID_ASSERT(buf != NULL || len == 0);
    memset(&op->cert, 0, sizeof(op->cert));
    *k = 0;
    if (len < VOID_SM_MEMBER_CERTS_HEAD) {
        return VOID_ETRUNCATED;
    }
    if (buf[0] != VOID_SM_OP_MEMBER || buf[1] != VOID_SM_MEMBER_CERTS_REMOVE) {
        return VOID_EBAD_TYPE;
    }
    uint32_t count_k = buf[10];
    if (count_k == 0 || count_k > VOID_SM_MEMBER_CERTS_MAX) {
        return VOID_EBAD_FIELD;
    }
    /* The whole layout first: a section past `index` that does not fit
     * makes the op malformed whichever section is asked for. */
    size_t off = VOID_SM_MEMBER_CERTS_HEAD, at = 0;
    for (uint32_t i = 0; i < count_k; i++) {
        if (len - off < VOID_SM_MEMBER_CERTS_SECTION) {
            return VOID_ETRUNCATED;
        }
        uint32_t count = buf[off + 4];
        if (count == 0 || count > VOID_MEMBERSHIP_MEMBERS_MAX) {
            return VOID_EBAD_FIELD;
        }
        size_t section = VOID_SM_MEMBER_CERTS_SECTION + (size_t)count * VOID_SM_MEMBER_CERT_ITEM;
        if (len - off < section) {
            return VOID_ETRUNCATED;
        }
        at = i == index ? off : at;
        off += section;
    }
    if (off != len) {
        return VOID_EBAD_LENGTH;
    }
    *k = count_k;
    if (index >= count_k) {
        return VOID_ERANGE;
    }
    struct void_suspicion_cert *c = &op->cert;
    c->epoch = void_bytes_get_be64(buf + 2);
    c->suspect = void_bytes_get_be32(buf + at);
    c->count = buf[at + 4];
    const uint8_t *p = buf + at + VOID_SM_MEMBER_CERTS_SECTION;
    for (uint32_t j = 0; j < c->count; j++, p += VOID_SM_MEMBER_CERT_ITEM) {
        c->items[j].epoch = c->epoch;
        c->items[j].suspect = c->suspect;
        c->items[j].suspector = void_bytes_get_be32(p);
        c->items[j].hlc.wall_ns = void_bytes_get_be64(p + 4);
        c->items[j].hlc.logical = void_bytes_get_be32(p + 12);
        memcpy(op->sig[j], p + 16, 64);
    }
    VOID_ASSERT(c->count >= 1 && c->count <= VOID_MEMBERSHIP_MEMBERS_MAX);
    return 0;
}

/* Reads the record (in a batch or not) into latest, act, prev, prev_act. */
static int member_read(struct void_sm *sm,
                       struct void_membership_config *latest,
                       uint64_t *act,
                       struct void_membership_config *prev,
                       uint64_t *prev_act)
{
    struct void_sm_result cur;
    read_key(sm, (const uint8_t *)VOID_SM_MEMBER_KEY, VOID_SM_MEMBER_KEY_LEN, NULL, &cur);
    if (sm->failed != 0) {
        return sm->failed;
    }
    if (cur.status != VOID_SM_OK) {
        *latest = *sm->member.genesis;
        *prev = *sm->member.genesis;
        *act = 0;
        *prev_act = 0;
        return 0;
    }
    return void_sm_member_record_decode(cur.value, cur.value_len, latest, act, prev, prev_act);
}

int void_sm_member_record_decode(const uint8_t *v,
                                 size_t len,
                                 struct void_membership_config *latest,
                                 uint64_t *act,
                                 struct void_membership_config *prev,
                                 uint64_t *prev_act)
{
    VOID_ASSERT(v != NULL || len == 0);
    VOID_ASSERT(latest != NULL && act != NULL && prev != NULL && prev_act != NULL);
    if (len < MEMBER_RECORD_HEAD || v[0] != 1) {
        return VOID_ECORRUPT;
    }
    *act = void_bytes_get_be64(v + 1);
    *prev_act = void_bytes_get_be64(v + 9);
    uint32_t latest_len = void_bytes_get_be32(v + 17);
    if (latest_len > len - MEMBER_RECORD_HEAD) {
        return VOID_ECORRUPT;
    }
    const uint8_t *p = v + MEMBER_RECORD_HEAD;
    if (void_membership_config_decode(latest, p, latest_len) != 0 ||
        void_membership_config_decode(
            prev, p + latest_len, len - MEMBER_RECORD_HEAD - latest_len) != 0) {
        return VOID_ECORRUPT;
    }
    return 0;
}

int void_sm_member_get(struct void_sm *sm,
                       struct void_membership_config *latest,
                       uint64_t *act,
                       struct void_membership_config *prev,
                       uint64_t *prev_act)
{
    VOID_ASSERT(sm != NULL && latest != NULL && act != NULL && prev != NULL);
    VOID_ASSERT(prev_act != NULL && !sm->in_batch);
    if (sm->member.genesis == NULL) {
        return VOID_EINVAL;
    }
    return member_read(sm, latest, act, prev, prev_act);
}

/* A refusal: the result's value names the code and says why. */
static void member_refuse(struct void_sm *sm, int code, struct void_sm_result *res)
{
    char *text = (char *)sm->member_scratch + 3 * sizeof(struct void_membership_config);
    int n = snprintf(text, 256, "%s: %s", void_err_name(code), void_strerror(code));
    VOID_ASSERT(n > 0);
    res->status = VOID_SM_REFUSED;
    res->value = (const uint8_t *)text;
    res->value_len = (uint32_t)(n < 256 ? n : 255);
}

/* Writes the record for next (the change just validated against latest,
 * whose boundary is act) and answers: the tail shared by every kind of
 * change. One change at a time, and the next only once the last is in
 * effect at every replica that could see this one: a replica that executed
 * the change at s has its stable checkpoint at or above s - L, so with
 * s > act + L it knows the configuration for every sequence number it may
 * still vote on from this record alone (latest, or prev before act). */
static void member_commit(struct void_sm *sm,
                          const struct void_membership_config *latest,
                          uint64_t act,
                          const struct void_membership_config *next,
                          struct void_sm_result *res)
{
    VOID_ASSERT(next->epoch == latest->epoch + 1);
    uint8_t *rec = (uint8_t *)(sm->member_scratch + 3);
    uint64_t s = sm->batch_label;
    if (act != 0 && s <= act + sm->member.window) {
        member_refuse(sm, VOID_EMEMBER_PENDING, res);
        return;
    }
    uint64_t k = sm->member.checkpoint_interval;
    uint64_t next_act = (s + k - 1) / k * k;
    int latest_len = void_membership_config_encode(next, rec + MEMBER_RECORD_HEAD,
                                                   VOID_MEMBERSHIP_ENCODED_MAX);
    int prev_len = void_membership_config_encode(latest,
                                                 rec + MEMBER_RECORD_HEAD + latest_len,
                                                 VOID_MEMBERSHIP_ENCODED_MAX);
    VOID_ASSERT(latest_len > 0 && prev_len > 0);
    rec[0] = 1;
    void_bytes_put_be64(rec + 1, next_act);
    void_bytes_put_be64(rec + 9, act);
    void_bytes_put_be32(rec + 17, (uint32_t)latest_len);
    uint8_t status = write_status(sm,
                                  void_kvs_put(sm->kvs,
                                               (const uint8_t *)VOID_SM_MEMBER_KEY,
                                               VOID_SM_MEMBER_KEY_LEN,
                                               rec,
                                               MEMBER_RECORD_HEAD + (size_t)latest_len +
                                                   (size_t)prev_len));
    res->status = status;
    if (status != VOID_SM_OK) {
        return;
    }
    sm->member_changed = 1;
    res->version = sm->last_stamp;
    /* value: u64 new epoch | u64 the sequence number above which it is in effect */
    uint8_t *v = rec; /* the record is written: its bytes may serve as the answer */
    void_bytes_put_be64(v, next->epoch);
    void_bytes_put_be64(v + 8, next_act);
    res->value = v;
    res->value_len = 16;
}

/* The prelude every configuration change shares: a decoded operation on a
 * replica that tracks membership, and the latest configuration read from the
 * store into scratch slot 0 (slot 1 holds the one before, slot 2 is free for
 * the next). Returns 0 when the change must stop here, with res or
 * sm->failed saying why. */
static int member_begin(struct void_sm *sm,
                        int decode_rc,
                        struct void_sm_result *res,
                        struct void_membership_config **latest,
                        uint64_t *act)
{
    VOID_ASSERT(sm->in_batch && res != NULL && latest != NULL && act != NULL);
    if (sm->member.genesis == NULL || sm->member_scratch == NULL || decode_rc != 0) {
        res->status = VOID_SM_BAD_OP;
        return 0;
    }
    *latest = sm->member_scratch;
    uint64_t prev_act = 0;
    int rc = member_read(sm, *latest, act, *latest + 1, &prev_act);
    if (rc != 0) {
        if (sm->failed == 0) {
            sm->failed = rc; /* our own record does not decode: the store is broken */
        }
        return 0;
    }
    VOID_ASSERT((*latest)->count > 0);
    return 1;
}

/* The evidence of one suspect of a certified REMOVE, against latest
 * (docs/membership.md, "Removal by certificate"), all but the signatures: 0
 * or the refusal. Every input is replicated: the op's bytes, the record,
 * the batch's stamp and the setup every replica shares. */
static int cert_evidence(const struct void_sm *sm,
                         const struct void_membership_config *latest,
                         const struct void_suspicion_cert *c)
{
    VOID_ASSERT(c->count >= 1 && c->count <= VOID_MEMBERSHIP_MEMBERS_MAX);
    uint64_t window = sm->member.suspicion_window_ns != 0 ? sm->member.suspicion_window_ns
                                                          : VOID_SUSPICION_WINDOW_NS_DEF;
    if (c->epoch != latest->epoch) {
        return VOID_EMEMBER_EPOCH; /* evidence of another epoch: no replay */
    }
    /* Suspect a member, suspectors distinct voters (ascending), spread
     * within the window, at least 2f + 1 of them. */
    int rc = void_suspicion_cert_check(latest, c, window);
    if (rc != 0) {
        return rc;
    }
    /* Not old evidence kept for later, nor stamped in the future: within
     * the window before the batch's stamp, at most the HLC bound after it. */
    uint64_t now = sm->last_stamp.wall_ns;
    for (uint32_t k = 0; k < c->count; k++) {
        uint64_t w = c->items[k].hlc.wall_ns;
        if (now > window && w < now - window) {
            return VOID_EMEMBER_STALE;
        }
        if (w > now + VOID_HLC_MAX_OFFSET_NS_DEF) {
            return VOID_EHLC_AHEAD;
        }
    }
    return 0;
}

/* Each suspicion of m signed by its suspector's key in latest
 * (cert_evidence made each one a voter of it): 0 or VOID_EBAD_SIG. */
static int cert_signatures(const struct void_membership_config *latest,
                           const struct void_sm_member_cert *m)
{
    const struct void_suspicion_cert *c = &m->cert;
    for (uint32_t k = 0; k < c->count; k++) {
        uint8_t msg[VOID_SUSPICION_ENCODED_SIZE];
        void_suspicion_encode(&c->items[k], msg);
        int i = void_membership_find(latest, c->items[k].suspector);
        VOID_ASSERT(i >= 0);
        if (void_sign_verify(latest->members[i].public_key,
                             VOID_SIGN_DOMAIN_SUSPICION,
                             msg,
                             sizeof(msg),
                             m->sig[k]) != 0) {
            return VOID_EBAD_SIG;
        }
    }
    return 0;
}

/* Section i of a certified REMOVE of either form (0x83: one section). */
static int cert_section(const uint8_t *op,
                        size_t op_len,
                        uint32_t i,
                        uint32_t *k,
                        struct void_sm_member_cert *mc)
{
    if (op[1] == VOID_SM_MEMBER_CERT_REMOVE) {
        *k = 1;
        return i == 0 ? void_sm_member_cert_decode(op, op_len, mc) : VOID_ERANGE;
    }
    return void_sm_member_certs_decode(op, op_len, i, k, mc);
}

/* Executes a certified REMOVE of one suspect (0x83) or several (0x84) as
 * ONE change: every section's evidence against latest, then the removals
 * together through void_membership_apply (a suspect twice:
 * VOID_EMEMBER_BATCH_DUP; below voters_min after all of them:
 * VOID_EMEMBER_TOO_FEW), then, as they cost the most, every signature. Any
 * refusal refuses the whole op. Sections are decoded one at a time, twice,
 * so that the stack holds one certificate (5.7 KB), not k. */
static void member_remove_certs(struct void_sm *sm,
                                const uint8_t *op,
                                size_t op_len,
                                struct void_sm_result *res)
{
    VOID_ASSERT(op_len > 1);
    VOID_ASSERT(op[1] == VOID_SM_MEMBER_CERT_REMOVE || op[1] == VOID_SM_MEMBER_CERTS_REMOVE);
    struct void_sm_member_cert mc; /* 5.7 KB */
    uint32_t k = 0;
    int drc = cert_section(op, op_len, 0, &k, &mc);
    struct void_membership_config *latest = NULL;
    uint64_t act = 0;
    if (!member_begin(sm, drc, res, &latest, &act)) {
        return;
    }
    VOID_ASSERT(k >= 1 && k <= VOID_SM_MEMBER_CERTS_MAX);
    struct void_membership_change ch[VOID_SM_MEMBER_CERTS_MAX];
    int rc = 0;
    for (uint32_t i = 0; i < k && rc == 0; i++) {
        if (i > 0) {
            rc = cert_section(op, op_len, i, &k, &mc);
            VOID_ASSERT(rc == 0); /* the layout was checked whole with section 0 */
        }
        rc = cert_evidence(sm, latest, &mc.cert);
        ch[i] = (struct void_membership_change){.op = VOID_MEMBERSHIP_REMOVE, .id = mc.cert.suspect};
    }
    struct void_membership_config *next = latest + 2;
    if (rc == 0) {
        rc = void_membership_apply(latest, ch, k, next);
    }
    for (uint32_t i = 0; i < k && rc == 0; i++) {
        rc = cert_section(op, op_len, i, &k, &mc);
        VOID_ASSERT(rc == 0);
        rc = cert_signatures(latest, &mc);
    }
    if (rc != 0) {
        member_refuse(sm, rc, res);
        return;
    }
    member_commit(sm, latest, act, next, res);
}

/* Executes a JOIN or a PROMOTE (docs/membership.md, "Join and promote"):
 * both signed by the admin key; a PROMOTE also by the learner, whose
 * signed progress must be within one checkpoint interval of this batch. */
static void member_grow(struct void_sm *sm,
                        const uint8_t *op,
                        size_t op_len,
                        struct void_sm_result *res)
{
    VOID_ASSERT(op_len > 1 && (op[1] == VOID_MEMBERSHIP_JOIN || op[1] == VOID_MEMBERSHIP_PROMOTE));
    int join = op[1] == VOID_MEMBERSHIP_JOIN;
    struct void_sm_member_join j;
    struct void_sm_member_promote p;
    int drc = join ? void_sm_member_join_decode(op, op_len, &j)
                   : void_sm_member_promote_decode(op, op_len, &p);
    struct void_membership_config *latest = NULL;
    uint64_t act = 0;
    if (!member_begin(sm, drc, res, &latest, &act)) {
        return;
    }
    struct void_membership_config *next = latest + 2;
    if ((join ? j.epoch : p.epoch) != latest->epoch) {
        member_refuse(sm, VOID_EMEMBER_EPOCH, res); /* signed for another epoch: no replay */
        return;
    }
    struct void_membership_change ch = {.op = op[1], .id = join ? j.member.id : p.id};
    if (join) {
        ch.member = j.member;
        if (sm->member.id_limit != 0 && j.member.id >= sm->member.id_limit) {
            member_refuse(sm, VOID_ERANGE, res); /* no replica slot for that id */
            return;
        }
    }
    int rc = void_membership_apply(latest, &ch, 1, next);
    if (rc != 0) {
        member_refuse(sm, rc, res);
        return;
    }
    static const uint8_t zero[VOID_SIGN_PUBLIC_KEY_SIZE] = {0};
    if (memcmp(latest->admin_key, zero, sizeof(zero)) == 0) {
        member_refuse(sm, VOID_EPERM, res); /* no admin key configured */
        return;
    }
    size_t signed_len = join ? op_len - VOID_SIGN_SIZE : VOID_SM_MEMBER_PROMOTE_SIGNED;
    if (void_sign_verify(latest->admin_key,
                         VOID_SIGN_DOMAIN_MEMBER,
                         op,
                         signed_len,
                         join ? j.sig : p.sig) != 0) {
        member_refuse(sm, VOID_EBAD_SIG, res);
        return;
    }
    if (!join) {
        /* The learner's own word for how far it executed, checked against
         * this batch's sequence number: the same numbers at every replica.
         * An honest learner cannot claim more than it has; a learner that
         * lies is one the admin vouched for (docs/membership.md). */
        uint8_t msg[VOID_SM_MEMBER_PROGRESS_SIZE];
        void_sm_member_progress_message(p.id, p.executed, msg);
        const struct void_member *lm = &latest->members[void_membership_find(latest, p.id)];
        if (void_sign_verify(
                lm->public_key, VOID_SIGN_DOMAIN_PROGRESS, msg, sizeof(msg), p.learner_sig) != 0) {
            member_refuse(sm, VOID_EBAD_SIG, res);
            return;
        }
        if (p.executed + sm->member.checkpoint_interval < sm->batch_label) {
            member_refuse(sm, VOID_EMEMBER_BEHIND, res);
            return;
        }
    }
    member_commit(sm, latest, act, next, res);
}

/* Executes a configuration change at the current batch (docs/membership.md,
 * "Changes through PBFT"). Every check reads replicated state only, so every
 * replica refuses or applies alike. */
static void member_apply(struct void_sm *sm,
                         const uint8_t *op,
                         size_t op_len,
                         struct void_sm_result *res)
{
    VOID_ASSERT(sm->in_batch && op_len > 0 && op[0] == VOID_SM_OP_MEMBER);
    if (op_len > 1 && (op[1] == VOID_MEMBERSHIP_JOIN || op[1] == VOID_MEMBERSHIP_PROMOTE)) {
        member_grow(sm, op, op_len, res);
        return;
    }
    if (op_len > 1 && (op[1] == VOID_SM_MEMBER_CERT_REMOVE || op[1] == VOID_SM_MEMBER_CERTS_REMOVE)) {
        member_remove_certs(sm, op, op_len, res);
        return;
    }
    struct void_sm_member_op m;
    int drc = void_sm_member_op_decode(op, op_len, &m);
    struct void_membership_config *latest = NULL;
    uint64_t act = 0;
    if (!member_begin(sm, drc, res, &latest, &act)) {
        return;
    }
    struct void_membership_config *next = latest + 2;
    int rc = 0;
    if (m.epoch != latest->epoch) {
        member_refuse(sm, VOID_EMEMBER_EPOCH, res); /* signed for another epoch: no replay */
        return;
    }
    struct void_membership_change ch = {.op = m.change, .id = m.id};
    rc = void_membership_apply(latest, &ch, 1, next);
    if (rc != 0) {
        member_refuse(sm, rc, res);
        return;
    }
    /* REMOVE: the admin's key; LEAVE: the member's own. */
    static const uint8_t zero[VOID_SIGN_PUBLIC_KEY_SIZE] = {0};
    const uint8_t *key = latest->admin_key;
    if (m.change == VOID_MEMBERSHIP_LEAVE) {
        key = latest->members[void_membership_find(latest, m.id)].public_key;
    }
    uint8_t msg[VOID_SM_MEMBER_SIGNED];
    void_sm_member_op_message(&m, msg);
    if (memcmp(key, zero, sizeof(zero)) == 0) {
        member_refuse(sm, VOID_EPERM, res); /* no admin key configured */
        return;
    }
    if (void_sign_verify(key, VOID_SIGN_DOMAIN_MEMBER, msg, sizeof(msg), m.sig) != 0) {
        member_refuse(sm, VOID_EBAD_SIG, res);
        return;
    }
    member_commit(sm, latest, act, next, res);
}

/* ---- client table -------------------------------------------------------- */

int void_sm_client_last(struct void_sm *sm,
                        uint64_t client,
                        uint64_t *reqno,
                        const uint8_t **result,
                        size_t *result_len)
{
    VOID_ASSERT(sm != NULL && reqno != NULL && result != NULL && result_len != NULL);
    if (sm->failed != 0) {
        return 0;
    }
    struct void_kvs_client c;
    if (store_rc(sm, void_kvs_client_get(sm->kvs, client, &c)) != 0) {
        return 0;
    }
    *reqno = c.reqno;
    *result = c.reply;
    *result_len = c.reply_len;
    return 1;
}

int void_sm_execute(struct void_sm *sm,
                    uint64_t client,
                    uint64_t reqno,
                    const uint8_t *op,
                    size_t op_len,
                    uint8_t *result,
                    size_t cap,
                    size_t *result_len)
{
    VOID_ASSERT(sm != NULL && sm->in_batch);
    VOID_ASSERT(result != NULL && result_len != NULL && (op != NULL || op_len == 0));
    if (cap < VOID_SM_RESULT_MAX) {
        return VOID_EFULL;
    }
    if (sm->failed != 0) {
        return sm->failed;
    }
    struct void_kvs_client c;
    int rc = store_rc(sm, void_kvs_client_get(sm->kvs, client, &c));
    if (sm->failed != 0) {
        return sm->failed;
    }
    int known = rc == 0;
#if defined(VOID_MUTANT_NO_AT_MOST_ONCE) && VOID_MUTANT_NO_AT_MOST_ONCE
    /* Test-only mutant (bench/clients_10k.sh --mutant): no reply cache, the
     * request executes again. */
    if (known && reqno == c.reqno) {
        known = 0;
    }
#endif
    if (known && reqno == c.reqno) {
        VOID_ASSERT(c.reply_len <= cap);
        memcpy(result, c.reply, c.reply_len);
        *result_len = c.reply_len;
        return 0;
    }
    struct void_sm_result res = {0};
    uint8_t above[8];
    uint8_t task_value[512]; /* a task op's answer (include/void/task.h) */
    if (known && reqno < c.reqno) {
        /* Superseded: the answer names the number above which the client's
         * next request must go (as the replicas' unordered STALE does). */
        void_bytes_put_be64(above, c.reqno);
        res.status = VOID_SM_STALE;
        res.value = above;
        res.value_len = sizeof(above);
    } else if (op_len > 0 && op[0] == VOID_SM_OP_MEMBER) {
        member_apply(sm, op, op_len, &res);
    } else if (op_len > 0 && op[0] == VOID_SM_OP_TASK) {
        void__sm_task_apply(sm, client, op, op_len, task_value, sizeof(task_value), &res);
    } else {
        struct void_sm_op o;
        if (void_sm_op_decode(op, op_len, &o) != 0) {
            res.status = VOID_SM_BAD_OP;
        } else {
            apply(sm, &o, &res);
        }
    }
    if (sm->failed != 0) {
        return sm->failed;
    }
    int len = void_sm_result_encode(&res, result, cap);
    VOID_ASSERT(len > 0);
    *result_len = (size_t)len;
    if (res.status != VOID_SM_STALE) {
        /* Past the quota's reserve the reply is not cached: the same on
         * every replica, and the client's retransmission executes again
         * (a write that went through answers the same, or CAS_FAILED). */
        (void)store_rc(sm, void_kvs_client_put(sm->kvs, client, reqno, result, (size_t)len));
    }
    return sm->failed;
}

/* ---- digest -------------------------------------------------------------- */

void void_sm_digest(struct void_sm *sm, uint8_t digest[VOID_SM_DIGEST_SIZE])
{
    VOID_ASSERT(sm != NULL && digest != NULL);
    VOID_ASSERT(!sm->in_batch);
    int rc = void_kvs_digest(sm->kvs, digest);
    VOID_ASSERT(rc == 0);
}

/* ---- checkpoints and state transfer ---------------------------------------- */

int void_sm_snapshot_take(struct void_sm *sm, struct void_kvs_snap **out)
{
    VOID_ASSERT(sm != NULL && out != NULL);
    VOID_ASSERT(!sm->in_batch);
    if (sm->failed != 0) {
        return sm->failed;
    }
    return store_rc(sm, void_kvs_snapshot_take(sm->kvs, out));
}

void void_sm_snapshot_release(struct void_sm *sm, struct void_kvs_snap *snap)
{
    VOID_ASSERT(sm != NULL && sm->kvs != NULL);
    if (snap != NULL) {
        void_kvs_snapshot_release(sm->kvs, snap);
    }
}

void void_sm_snapshot_digest(struct void_sm *sm,
                             struct void_kvs_snap *snap,
                             uint8_t digest[VOID_SM_DIGEST_SIZE])
{
    VOID_ASSERT(sm != NULL && snap != NULL && digest != NULL);
    int rc = void_kvs_snapshot_digest(sm->kvs, snap, digest);
    VOID_ASSERT(rc == 0);
}

int void_sm_snapshot_export(
    struct void_sm *sm, struct void_kvs_snap *snap, uint8_t *buf, size_t cap, size_t *len)
{
    VOID_ASSERT(sm != NULL && snap != NULL && buf != NULL && len != NULL);
    uint8_t *all = NULL;
    size_t n = 0;
    int rc = void_sm_snapshot_export_alloc(sm, snap, &all, &n);
    if (rc == 0 && n > cap) {
        rc = VOID_EFULL; /* too large for cap: not a failure of the store */
    }
    if (rc == 0) {
        memcpy(buf, all, n);
        *len = n;
    }
    free(all);
    return rc;
}

/* Where an export goes when its size is not known: a growing heap buffer. */
struct grower {
    uint8_t *buf;
    size_t cap, len;
};

static int write_grow(void *arg, const uint8_t *data, size_t n)
{
    struct grower *g = arg;
    if (n > g->cap - g->len) {
        size_t cap = g->cap > 0 ? g->cap : 64 * 1024;
        while (n > cap - g->len) {
            cap *= 2;
        }
        uint8_t *nb = realloc(g->buf, cap);
        if (nb == NULL) {
            return VOID_ENOMEM;
        }
        g->buf = nb;
        g->cap = cap;
    }
    memcpy(g->buf + g->len, data, n);
    g->len += n;
    return 0;
}

/* The VKX1 stream of void_kvs_export, byte for byte, but encoding only the
 * buckets whose digest is not the empty one: void_kvs_export encodes all
 * 4,096 (an allocation each), which made a checkpoint of a small state cost
 * seconds under the sanitizers. void_kvs_import checks what this writes. */
static int export_stream(struct void_sm *sm, struct void_kvs_snap *snap, struct grower *g)
{
    static const uint8_t zero[VOID_KVS_DIGEST_SIZE] = {0};
    uint8_t live[VOID_KVS_BUCKETS];
    uint8_t digest[VOID_KVS_DIGEST_SIZE], d[VOID_KVS_DIGEST_SIZE];
    int rc = void_kvs_snapshot_digest(sm->kvs, snap, digest);
    struct void_kvs_stats st;
    void_kvs_snapshot_stats(sm->kvs, snap, &st);
    uint32_t count = 0;
    for (uint32_t b = 0; b < VOID_KVS_BUCKETS && rc == 0; b++) {
        rc = void_kvs_snapshot_bucket_digest(sm->kvs, snap, b, d);
        live[b] = memcmp(d, zero, sizeof(d)) != 0;
        count += live[b];
    }
    uint8_t head[VOID_KVS_EXPORT_HEADER_SIZE];
    memcpy(head, "VKX1", 4);
    void_hlc_encode(st.horizon, head + 4);
    void_hlc_encode(st.last, head + 4 + VOID_HLC_ENCODED_SIZE);
    void_bytes_put_be64(head + 4 + 2 * VOID_HLC_ENCODED_SIZE, st.applied);
    void_bytes_put_be32(head + 12 + 2 * VOID_HLC_ENCODED_SIZE, count);
    if (rc == 0) {
        rc = write_grow(g, head, sizeof(head));
    }
    size_t cap = 64 * 1024, n = 0;
    uint8_t *part = rc == 0 ? malloc(8 + cap) : NULL;
    rc = rc == 0 && part == NULL ? VOID_ENOMEM : rc;
    for (uint32_t b = 0; b < VOID_KVS_BUCKETS && rc == 0; b++) {
        if (!live[b]) {
            continue;
        }
        rc = void_kvs_encode_partition(sm->kvs, snap, b, part + 8, cap, &n);
        if (rc == VOID_EFULL) {
            uint8_t *bigger = realloc(part, 8 + n);
            rc = bigger == NULL ? VOID_ENOMEM : 0;
            part = bigger != NULL ? bigger : part;
            cap = bigger != NULL ? n : cap;
            rc = rc == 0 ? void_kvs_encode_partition(sm->kvs, snap, b, part + 8, cap, &n) : rc;
        }
        if (rc == 0 && n == 0) {
            rc = VOID_EINTERNAL; /* a bucket with the empty digest and entries, or the reverse */
        }
        if (rc == 0) {
            void_bytes_put_be64(part, n);
            rc = write_grow(g, part, 8 + n);
        }
    }
    free(part);
    return rc == 0 ? write_grow(g, digest, sizeof(digest)) : rc;
}

int void_sm_snapshot_export_alloc(struct void_sm *sm,
                                  struct void_kvs_snap *snap,
                                  uint8_t **buf,
                                  size_t *len)
{
    VOID_ASSERT(sm != NULL && snap != NULL && buf != NULL && len != NULL);
    struct grower g = {0};
    int rc = export_stream(sm, snap, &g);
    if (rc != 0) {
        free(g.buf);
        return rc == VOID_ENOMEM ? rc : store_rc(sm, rc);
    }
    *buf = g.buf;
    *len = g.len;
    return 0;
}

int void_sm_reset(struct void_sm *sm)
{
    VOID_ASSERT(sm != NULL && sm->kvs != NULL);
    VOID_ASSERT(!sm->in_batch);
    if (sm->failed != 0) {
        return sm->failed;
    }
    struct void_hlc_ts zero = {0, 0};
    int rc = store_rc(sm, void_kvs_load_begin(sm->kvs, 1, zero, zero, 0));
    if (rc == 0) {
        rc = store_rc(sm, void_kvs_load_end(sm->kvs));
    }
    if (rc != 0) {
        sm->failed = sm->failed != 0 ? sm->failed : rc;
        return sm->failed;
    }
    sm->last_stamp = zero;
    return 0;
}

int void_sm_import(struct void_sm *sm,
                   const uint8_t *buf,
                   size_t len,
                   uint64_t label,
                   const uint8_t expect[VOID_SM_DIGEST_SIZE])
{
    VOID_ASSERT(sm != NULL && buf != NULL && expect != NULL);
    VOID_ASSERT(!sm->in_batch);
    if (sm->failed != 0) {
        return sm->failed;
    }
    /* The export ends with the digest of the state it carries, and the
     * import checks the rest against it before it touches the store: so a
     * trailer that is not the expected digest refuses the export here,
     * and one that is refuses any content but the certified state. */
    if (len < VOID_KVS_EXPORT_HEADER_SIZE + VOID_SM_DIGEST_SIZE ||
        memcmp(buf + len - VOID_SM_DIGEST_SIZE, expect, VOID_SM_DIGEST_SIZE) != 0) {
        return VOID_EBAD_FIELD;
    }
    /* The label (the sequence number the state is at) is outside the
     * digest: it must be the one the caller expects, or a sender could make
     * this replica resume from the wrong place after a restart. */
    if (void_bytes_get_be64(buf + 4 + 2 * VOID_HLC_ENCODED_SIZE) != label) {
        return VOID_EBAD_FIELD;
    }
    uint8_t got[VOID_SM_DIGEST_SIZE];
    int rc = void_kvs_import(sm->kvs, buf, len, got);
    if (rc == VOID_EBAD_MAGIC || rc == VOID_ETRUNCATED || rc == VOID_EBAD_LENGTH ||
        rc == VOID_EBAD_FIELD) {
        return VOID_EBAD_FIELD; /* refused before the store was touched */
    }
    if (rc == VOID_ECORRUPT) {
        /* Either the content does not match the trailer (refused, nothing
         * changed) or the store failed while loading, which it then
         * answers to every call: ask it. */
        struct void_kvs_client c;
        int probe = void_kvs_client_get(sm->kvs, 0, &c);
        if (probe != VOID_ECORRUPT) {
            return VOID_EBAD_FIELD;
        }
    }
    if (rc != 0) {
        sm->failed = rc;
        return rc;
    }
    VOID_ASSERT(memcmp(got, expect, VOID_SM_DIGEST_SIZE) == 0);
    struct void_kvs_stats st;
    void_kvs_stats(sm->kvs, &st);
    sm->last_stamp = st.last;
    return 0;
}

/* Bounds-checked reader over an operation or a result. */
struct reader {
    const uint8_t *p;
    size_t left;
};

static const uint8_t *take(struct reader *r, size_t n)
{
    if (r->left < n) {
        return NULL;
    }
    const uint8_t *p = r->p;
    r->p += n;
    r->left -= n;
    return p;
}

/* ---- operation and result encoding ---------------------------------------- */

int void_sm_op_encode(const struct void_sm_op *op, uint8_t *buf, size_t cap)
{
    VOID_ASSERT(op != NULL && buf != NULL);
    if (op->key_len == 0 || op->key_len > VOID_SM_KEY_MAX || op->value_len > VOID_SM_VALUE_MAX ||
        op->expected_len > VOID_SM_VALUE_MAX) {
        return VOID_EINVAL;
    }
    size_t need = 3u + op->key_len;
    switch ((enum void_sm_op_kind)op->kind) {
    case VOID_SM_OP_PUT:
        need += 4u + (size_t)op->value_len;
        break;
    case VOID_SM_OP_CAS:
        need += 1u + 4u + (size_t)op->expected_len + 4u + op->value_len;
        break;
    case VOID_SM_OP_GET_AS_OF:
        need += VOID_HLC_ENCODED_SIZE;
        break;
    case VOID_SM_OP_GET:
    case VOID_SM_OP_DELETE:
        break;
    case VOID_SM_OP_MEMBER: /* void_sm_member_op_encode */
    default:
        return VOID_EINVAL;
    }
    if (need > cap) {
        return VOID_EFULL;
    }
    uint8_t *p = buf;
    *p++ = op->kind;
    void_bytes_put_be16(p, op->key_len);
    memcpy(p + 2, op->key, op->key_len);
    p += 2 + op->key_len;
    if (op->kind == VOID_SM_OP_CAS) {
        *p++ = op->expect_present ? 1 : 0;
        void_bytes_put_be32(p, op->expected_len);
        if (op->expected_len > 0) {
            memcpy(p + 4, op->expected, op->expected_len);
        }
        p += 4 + op->expected_len;
    }
    if (op->kind == VOID_SM_OP_PUT || op->kind == VOID_SM_OP_CAS) {
        void_bytes_put_be32(p, op->value_len);
        if (op->value_len > 0) {
            memcpy(p + 4, op->value, op->value_len);
        }
        p += 4 + op->value_len;
    }
    if (op->kind == VOID_SM_OP_GET_AS_OF) {
        void_hlc_encode(op->as_of, p);
        p += VOID_HLC_ENCODED_SIZE;
    }
    VOID_ASSERT((size_t)(p - buf) == need);
    return (int)need;
}

/* Reads a u16-length-prefixed field (a key) of at most max bytes. */
static int take_field(struct reader *r, size_t max, const uint8_t **data, uint16_t *len)
{
    const uint8_t *p = take(r, 2);
    if (p == NULL) {
        return VOID_ETRUNCATED;
    }
    *len = void_bytes_get_be16(p);
    if (*len > max) {
        return VOID_EBAD_LENGTH;
    }
    *data = take(r, *len);
    return *data == NULL ? VOID_ETRUNCATED : 0;
}

/* Reads a u32-length-prefixed field (a value) of at most max bytes. */
static int take_field32(struct reader *r, size_t max, const uint8_t **data, uint32_t *len)
{
    const uint8_t *p = take(r, 4);
    if (p == NULL) {
        return VOID_ETRUNCATED;
    }
    *len = void_bytes_get_be32(p);
    if (*len > max) {
        return VOID_EBAD_LENGTH;
    }
    *data = take(r, *len);
    return *data == NULL ? VOID_ETRUNCATED : 0;
}

int void_sm_op_decode(const uint8_t *buf, size_t len, struct void_sm_op *op)
{
    VOID_ASSERT(buf != NULL && op != NULL);
    memset(op, 0, sizeof(*op));
    struct reader r = {buf, len};
    const uint8_t *k = take(&r, 1);
    if (k == NULL) {
        return VOID_ETRUNCATED;
    }
    op->kind = k[0];
    if (op->kind < VOID_SM_OP_PUT || op->kind > VOID_SM_OP_GET_AS_OF) {
        return VOID_EBAD_TYPE;
    }
    int rc = take_field(&r, VOID_SM_KEY_MAX, &op->key, &op->key_len);
    if (rc == 0 && op->key_len == 0) {
        rc = VOID_EBAD_LENGTH;
    }
    if (rc == 0 && op->kind == VOID_SM_OP_CAS) {
        const uint8_t *e = take(&r, 1);
        rc = e == NULL ? VOID_ETRUNCATED : (e[0] > 1 ? VOID_EBAD_LENGTH : 0);
        op->expect_present = e != NULL ? e[0] : 0;
        if (rc == 0) {
            rc = take_field32(&r, VOID_SM_VALUE_MAX, &op->expected, &op->expected_len);
        }
    }
    if (rc == 0 && (op->kind == VOID_SM_OP_PUT || op->kind == VOID_SM_OP_CAS)) {
        rc = take_field32(&r, VOID_SM_VALUE_MAX, &op->value, &op->value_len);
    }
    if (rc == 0 && op->kind == VOID_SM_OP_GET_AS_OF) {
        const uint8_t *t = take(&r, VOID_HLC_ENCODED_SIZE);
        rc = t == NULL ? VOID_ETRUNCATED : 0;
        if (t != NULL) {
            op->as_of = void_hlc_decode(t);
        }
    }
    if (rc == 0 && r.left != 0) {
        rc = VOID_EBAD_LENGTH;
    }
    return rc;
}

int void_sm_result_encode(const struct void_sm_result *res, uint8_t *buf, size_t cap)
{
    VOID_ASSERT(res != NULL && buf != NULL);
    if (res->value_len > VOID_SM_VALUE_MAX) {
        return VOID_EINVAL;
    }
    size_t need = 1 + VOID_HLC_ENCODED_SIZE + 4 + (size_t)res->value_len;
    if (need > cap) {
        return VOID_EFULL;
    }
    buf[0] = res->status;
    void_hlc_encode(res->version, buf + 1);
    void_bytes_put_be32(buf + 1 + VOID_HLC_ENCODED_SIZE, res->value_len);
    if (res->value_len > 0) {
        memcpy(buf + 5 + VOID_HLC_ENCODED_SIZE, res->value, res->value_len);
    }
    VOID_ASSERT(need <= VOID_SM_RESULT_MAX);
    return (int)need;
}

int void_sm_result_decode(const uint8_t *buf, size_t len, struct void_sm_result *res)
{
    VOID_ASSERT(buf != NULL && res != NULL);
    memset(res, 0, sizeof(*res));
    struct reader r = {buf, len};
    const uint8_t *h = take(&r, 1 + VOID_HLC_ENCODED_SIZE);
    if (h == NULL) {
        return VOID_ETRUNCATED;
    }
    res->status = h[0];
    if (res->status > VOID_SM_REFUSED) {
        return VOID_EBAD_TYPE;
    }
    res->version = void_hlc_decode(h + 1);
    int rc = take_field32(&r, VOID_SM_VALUE_MAX, &res->value, &res->value_len);
    if (rc == 0 && r.left != 0) {
        rc = VOID_EBAD_LENGTH;
    }
    return rc;
}

/* ---- read-only requests (docs/pbft.md, "Read-only requests") ------------- */

int void_sm_op_read_only(const uint8_t *op, size_t op_len)
{
    VOID_ASSERT(op != NULL || op_len == 0);
    struct void_sm_op o;
    return void_sm_op_decode(op, op_len, &o) == 0 && o.kind == VOID_SM_OP_GET;
}

int void_sm_execute_read(struct void_sm *sm,
                         const uint8_t *op,
                         size_t op_len,
                         uint8_t *result,
                         size_t cap,
                         size_t *result_len)
{
    VOID_ASSERT(sm != NULL && !sm->in_batch);
    VOID_ASSERT(result != NULL && result_len != NULL && (op != NULL || op_len == 0));
    if (cap < VOID_SM_RESULT_MAX) {
        return VOID_EFULL;
    }
    if (sm->failed != 0) {
        return sm->failed;
    }
    struct void_sm_op o;
    if (void_sm_op_decode(op, op_len, &o) != 0 || o.kind != VOID_SM_OP_GET) {
        return VOID_EPERM; /* only a GET is a read: anything else is ordered */
    }
    struct void_sm_result res;
    read_key(sm, o.key, o.key_len, NULL, &res);
    if (res.status == VOID_SM_NOT_FOUND) {
        /* "No value" names the stretch of the key's history it holds in:
         * since its tombstone's stamp, or, with no version stored, since the
         * horizon (0: nothing was ever compacted, so never written; else a
         * function of the last batch's stamp, so equal only in equal
         * states). Matching answers must come from one stretch, as a value's
         * stamp pins the write that made it (docs/pbft.md, Read-only
         * requests): a bare NOT_FOUND would match a replica that never saw
         * the key's first write with one past its delete. */
        struct void_kvs_version v;
        int rc = store_rc(sm, void_kvs_get(sm->kvs, o.key, o.key_len, NULL, &v));
        if (rc == 0 && v.deleted) {
            res.version = v.hlc;
        } else {
            struct void_kvs_stats st;
            void_kvs_stats(sm->kvs, &st);
            res.version = st.horizon;
        }
    }
    if (sm->failed != 0) {
        return sm->failed;
    }
    int len = void_sm_result_encode(&res, result, cap);
    VOID_ASSERT(len > 0);
    *result_len = (size_t)len;
    return 0;
}
