/*
 * Encoding and decoding of the PBFT message bodies (include/void/pbft_msg.h).
 * Pure and bounds-checked: decoders never read outside the given buffer and
 * return a distinct code per kind of malformation, because every byte they
 * see may come from a Byzantine peer. A client request is a whole signed
 * REQUEST frame, which also travels verbatim inside batches; it is made,
 * parsed and checked here as well.
 */
#include "void/pbft_msg.h"

#include "core/pbft_int.h"
#include "void/assert.h"
#include "void/error.h"
#include "void/hash.h"

#include <string.h>

void void__put16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}

void void__put32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++) {
        p[i] = (uint8_t)(v >> (24 - 8 * i));
    }
}

void void__put64(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++) {
        p[i] = (uint8_t)(v >> (56 - 8 * i));
    }
}

uint16_t void__get16(const uint8_t *p)
{
    return (uint16_t)((p[0] << 8) | p[1]);
}

uint32_t void__get32(const uint8_t *p)
{
    return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
}

uint64_t void__get64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++) {
        v = (v << 8) | p[i];
    }
    return v;
}

const uint8_t *void__take(struct void__reader *r, size_t n)
{
    if (r->left < n) {
        r->err = VOID_ETRUNCATED;
        return NULL;
    }
    const uint8_t *p = r->p;
    r->p += n;
    r->left -= n;
    return p;
}

uint64_t void__take64(struct void__reader *r)
{
    const uint8_t *p = void__take(r, 8);
    return p == NULL ? 0 : void__get64(p);
}

uint32_t void__take32(struct void__reader *r)
{
    const uint8_t *p = void__take(r, 4);
    return p == NULL ? 0 : void__get32(p);
}

uint16_t void__take16(struct void__reader *r)
{
    const uint8_t *p = void__take(r, 2);
    return p == NULL ? 0 : void__get16(p);
}

/* ---- requests ------------------------------------------------------------ */

_Static_assert(VOID_PBFT_N_MAX <= 16, "a request's repliers mask has 16 bits");

static int request_encode_as(const struct void_pbft_request *m,
                             const struct void_sign_keypair *kp,
                             uint8_t *buf,
                             size_t cap,
                             uint8_t type)
{
    VOID_ASSERT(m != NULL && kp != NULL && buf != NULL);
    if (m->op == NULL || m->op_len == 0 || m->op_len > VOID_PBFT_OP_MAX || m->repliers == 0 ||
        m->mac_count > VOID_PBFT_MACS_MAX || (m->mac_keys == NULL && m->mac_count > 0)) {
        return VOID_EINVAL;
    }
    size_t cert_len = m->cert != NULL ? VOID_CLIENT_CERT_SIZE : 0;
    /* body bytes the tags cover */
    size_t tagged = VOID_PBFT_REQUEST_HEAD + (size_t)m->op_len + cert_len + 1;
    size_t body_len = tagged + (size_t)m->mac_count * VOID_MAC_SIZE;
    if (VOID_PBFT_FRAME_OVERHEAD + body_len > cap) {
        return VOID_EFULL;
    }
    uint8_t *body = buf + VOID_CODEC_HEADER_SIZE; /* built in place */
    memmove(body + VOID_PBFT_REQUEST_HEAD, m->op, m->op_len);
    void__put64(body, m->ev);
    void__put64(body + 8, m->reqno);
    void__put16(body + 16, m->repliers);
    void__put32(body + 18, m->op_len);
    void__put32(body + 22, m->session);
    void__put16(body + 26, (uint16_t)cert_len);
    if (cert_len > 0) {
        memmove(body + VOID_PBFT_REQUEST_HEAD + m->op_len, m->cert, cert_len);
    }
    body[tagged - 1] = m->mac_count;
    struct void_frame fr = {.type = type,
                            .sender = m->client,
                            .hlc = m->hlc,
                            .body = body,
                            .body_len = (uint32_t)body_len};
    size_t len = 0;
    int rc = void_codec_encode_unsigned(&fr, buf, cap, &len);
    if (rc != 0) {
        return rc;
    }
    for (uint32_t i = 0; i < m->mac_count; i++) {
        void_mac_compute(m->mac_keys[i],
                         buf,
                         VOID_CODEC_HEADER_SIZE + tagged,
                         body + tagged + (size_t)i * VOID_MAC_SIZE);
    }
    rc = void_sign(
        kp, VOID_SIGN_DOMAIN_FRAME, buf, len - VOID_SIGN_SIZE, buf + len - VOID_SIGN_SIZE);
    if (rc != 0) {
        return rc;
    }
    VOID_ASSERT(len <= VOID_PBFT_REQUEST_FRAME_MAX);
    return (int)len;
}

int void_pbft_request_encode(const struct void_pbft_request *m,
                             const struct void_sign_keypair *kp,
                             uint8_t *buf,
                             size_t cap)
{
    return request_encode_as(m, kp, buf, cap, VOID_MSG_REQUEST);
}

int void_pbft_read_encode(const struct void_pbft_request *m,
                          const struct void_sign_keypair *kp,
                          uint8_t *buf,
                          size_t cap)
{
    return request_encode_as(m, kp, buf, cap, VOID_MSG_READ);
}

static int request_decode_as(
    const uint8_t *buf, size_t len, struct void_pbft_request *req, size_t *consumed, uint8_t type)
{
    VOID_ASSERT(buf != NULL && req != NULL && consumed != NULL);
    memset(req, 0, sizeof(*req));
    long size = void_codec_peek_size(buf, len);
    if (size == 0 || (size > 0 && (size_t)size > len)) {
        return VOID_ETRUNCATED;
    }
    if (size < 0) {
        return (int)size;
    }
    struct void_frame fr;
    int rc = void_codec_decode(buf, (size_t)size, &fr);
    if (rc != 0) {
        return rc;
    }
    if (fr.type != type) {
        return VOID_EBAD_TYPE;
    }
    if (fr.body_len < VOID_PBFT_REQUEST_HEAD) {
        return VOID_ETRUNCATED;
    }
    req->client = fr.sender;
    req->hlc = fr.hlc;
    req->ev = void__get64(fr.body);
    req->reqno = void__get64(fr.body + 8);
    req->repliers = void__get16(fr.body + 16);
    req->op_len = void__get32(fr.body + 18);
    req->session = void__get32(fr.body + 22);
    uint16_t cert_len = void__get16(fr.body + 26);
    if (req->op_len == 0 || req->op_len > VOID_PBFT_OP_MAX || req->repliers == 0) {
        return VOID_EBAD_FIELD;
    }
    if (cert_len != 0 && cert_len != VOID_CLIENT_CERT_SIZE) {
        return VOID_EBAD_FIELD;
    }
    size_t tagged = VOID_PBFT_REQUEST_HEAD + (size_t)req->op_len + cert_len + 1;
    if (fr.body_len < tagged) {
        return VOID_ETRUNCATED;
    }
    req->mac_count = fr.body[tagged - 1];
    if (req->mac_count > VOID_PBFT_MACS_MAX) {
        return VOID_EBAD_FIELD;
    }
    size_t need = tagged + (size_t)req->mac_count * VOID_MAC_SIZE;
    if (fr.body_len != need) {
        return fr.body_len < need ? VOID_ETRUNCATED : VOID_EBAD_LENGTH;
    }
    req->op = fr.body + VOID_PBFT_REQUEST_HEAD;
    req->cert = cert_len > 0 ? req->op + req->op_len : NULL;
    req->macs = fr.body + tagged;
    req->sig = fr.sig;
    req->record = buf;
    req->record_len = (size_t)size;
    *consumed = (size_t)size;
    return 0;
}

int void_pbft_request_decode(const uint8_t *buf,
                             size_t len,
                             struct void_pbft_request *req,
                             size_t *consumed)
{
    return request_decode_as(buf, len, req, consumed, VOID_MSG_REQUEST);
}

int void_pbft_read_decode(const uint8_t *buf,
                          size_t len,
                          struct void_pbft_request *req,
                          size_t *consumed)
{
    return request_decode_as(buf, len, req, consumed, VOID_MSG_READ);
}

int void_pbft_batch_item_decode(const uint8_t *buf,
                                size_t len,
                                struct void_pbft_batch_item *it,
                                size_t *consumed)
{
    VOID_ASSERT(buf != NULL && it != NULL && consumed != NULL);
    memset(it, 0, sizeof(*it));
    if (len == 0) {
        return VOID_ETRUNCATED;
    }
    if (buf[0] != 0) { /* a REQUEST frame starts with the magic "VOID" */
        int rc = void_pbft_request_decode(buf, len, &it->req, consumed);
        if (rc == 0 && *consumed > VOID_PBFT_INLINE_MAX) {
            return VOID_EBAD_FIELD; /* a large request travels by reference only */
        }
        return rc;
    }
    if (len < VOID_PBFT_REF_SIZE) {
        return VOID_ETRUNCATED;
    }
    it->is_ref = 1;
    it->client = void__get32(buf + 1);
    it->reqno = void__get64(buf + 5);
    it->frame_len = void__get32(buf + 13);
    memcpy(it->digest, buf + 17, VOID_PBFT_DIGEST_SIZE);
    if (it->frame_len <= VOID_PBFT_INLINE_MAX || it->frame_len > VOID_PBFT_REQUEST_FRAME_MAX) {
        return VOID_EBAD_FIELD;
    }
    *consumed = VOID_PBFT_REF_SIZE;
    return 0;
}

void void_pbft_ref_encode(const struct void_pbft_request *req,
                          const uint8_t *frame,
                          size_t len,
                          uint8_t buf[VOID_PBFT_REF_SIZE])
{
    VOID_ASSERT(req != NULL && frame != NULL && buf != NULL);
    VOID_ASSERT(len > VOID_PBFT_INLINE_MAX && len <= VOID_PBFT_REQUEST_FRAME_MAX);
    buf[0] = 0;
    void__put32(buf + 1, req->client);
    void__put64(buf + 5, req->reqno);
    void__put32(buf + 13, (uint32_t)len);
    void_hash_digest(frame, len, buf + 17);
}

int void_pbft_fetch_encode(uint64_t ev,
                           const uint8_t (*digests)[VOID_PBFT_DIGEST_SIZE],
                           uint16_t count,
                           uint8_t *buf,
                           size_t cap)
{
    VOID_ASSERT(buf != NULL && (digests != NULL || count == 0));
    if (count == 0 || count > VOID_PBFT_FETCH_MAX) {
        return VOID_EINVAL;
    }
    size_t need = 8 + 2 + (size_t)count * VOID_PBFT_DIGEST_SIZE;
    if (need > cap) {
        return VOID_EFULL;
    }
    void__put64(buf, ev);
    void__put16(buf + 8, count);
    memcpy(buf + 10, digests, (size_t)count * VOID_PBFT_DIGEST_SIZE);
    return (int)need;
}

int void_pbft_fetch_decode(const uint8_t *buf,
                           size_t len,
                           uint16_t *count,
                           const uint8_t **digests)
{
    VOID_ASSERT(buf != NULL && count != NULL && digests != NULL);
    if (len < 10) {
        return VOID_ETRUNCATED;
    }
    *count = void__get16(buf + 8);
    if (*count == 0 || *count > VOID_PBFT_FETCH_MAX) {
        return VOID_EBAD_FIELD;
    }
    size_t need = 10 + (size_t)*count * VOID_PBFT_DIGEST_SIZE;
    if (len != need) {
        return len < need ? VOID_ETRUNCATED : VOID_EBAD_LENGTH;
    }
    *digests = buf + 10;
    return 0;
}

int void_pbft_request_verify(const struct void_pbft_request *req, const struct void_keyring *ring)
{
    VOID_ASSERT(req != NULL && ring != NULL);
    VOID_ASSERT(req->record_len == VOID_PBFT_FRAME_OVERHEAD + VOID_PBFT_REQUEST_HEAD +
                                       (size_t)req->op_len +
                                       (req->cert != NULL ? VOID_CLIENT_CERT_SIZE : 0u) + 1 +
                                       (size_t)req->mac_count * VOID_MAC_SIZE);
    return void_keyring_verify(ring,
                               req->client,
                               VOID_SIGN_DOMAIN_FRAME,
                               req->record,
                               req->record_len - VOID_SIGN_SIZE,
                               req->sig);
}

int void_pbft_request_check_mac(const struct void_pbft_request *req,
                                uint32_t replica,
                                const uint8_t key[VOID_MAC_KEY_SIZE])
{
    VOID_ASSERT(req != NULL && key != NULL);
    if (replica >= req->mac_count) {
        return VOID_ENOTFOUND;
    }
    size_t tagged = (size_t)(req->macs - req->record);
    return void_mac_verify(key, req->record, tagged, req->macs + (size_t)replica * VOID_MAC_SIZE);
}

void void_pbft_batch_digest(struct void_hlc_ts hlc,
                            uint16_t count,
                            const uint8_t *batch,
                            size_t batch_len,
                            uint8_t digest[VOID_PBFT_DIGEST_SIZE])
{
    VOID_ASSERT(digest != NULL);
    VOID_ASSERT(batch != NULL || batch_len == 0);
    uint8_t head[VOID_HLC_ENCODED_SIZE + 2];
    void_hlc_encode(hlc, head);
    void__put16(head + VOID_HLC_ENCODED_SIZE, count);
    struct void_hash_ctx h;
    void_hash_init(&h);
    void_hash_update(&h, head, sizeof(head));
    void_hash_update(&h, batch, batch_len);
    void_hash_final(&h, digest);
}

/* ---- fixed bodies -------------------------------------------------------- */

int void_pbft_body_event(const uint8_t *body, size_t len, uint64_t *ev)
{
    VOID_ASSERT(ev != NULL);
    if (body == NULL || len < 8) {
        return VOID_ETRUNCATED;
    }
    *ev = void__get64(body);
    return 0;
}

int void_pbft_pre_prepare_encode(const struct void_pbft_pre_prepare *m, uint8_t *buf, size_t cap)
{
    VOID_ASSERT(m != NULL && buf != NULL);
    if (m->batch_len > VOID_PBFT_BATCH_BYTES_MAX || m->count > VOID_PBFT_BATCH_MAX) {
        return VOID_EINVAL;
    }
    size_t need = VOID_PBFT_PP_HEAD + m->batch_len;
    if (need > cap) {
        return VOID_EFULL;
    }
    void__put64(buf, m->ev);
    void__put64(buf + 8, m->view);
    void__put64(buf + 16, m->seq);
    void_hlc_encode(m->hlc, buf + 24);
    void__put16(buf + 24 + VOID_HLC_ENCODED_SIZE, m->count);
    void__put32(buf + 26 + VOID_HLC_ENCODED_SIZE, m->batch_len);
    if (m->batch_len > 0) {
        memcpy(buf + VOID_PBFT_PP_HEAD, m->batch, m->batch_len);
    }
    return (int)need;
}

int void_pbft_pre_prepare_decode(const uint8_t *buf, size_t len, struct void_pbft_pre_prepare *m)
{
    VOID_ASSERT(buf != NULL && m != NULL);
    memset(m, 0, sizeof(*m));
    if (len < VOID_PBFT_PP_HEAD) {
        return VOID_ETRUNCATED;
    }
    m->ev = void__get64(buf);
    m->view = void__get64(buf + 8);
    m->seq = void__get64(buf + 16);
    m->hlc = void_hlc_decode(buf + 24);
    m->count = void__get16(buf + 24 + VOID_HLC_ENCODED_SIZE);
    m->batch_len = void__get32(buf + 26 + VOID_HLC_ENCODED_SIZE);
    if (m->count > VOID_PBFT_BATCH_MAX || m->batch_len > VOID_PBFT_BATCH_BYTES_MAX) {
        return VOID_EBAD_FIELD;
    }
    if (len != VOID_PBFT_PP_HEAD + (size_t)m->batch_len) {
        return len < VOID_PBFT_PP_HEAD + (size_t)m->batch_len ? VOID_ETRUNCATED : VOID_EBAD_LENGTH;
    }
    m->batch = buf + VOID_PBFT_PP_HEAD;
    return 0;
}

int void_pbft_vote_encode(const struct void_pbft_vote *m, uint8_t *buf, size_t cap)
{
    VOID_ASSERT(m != NULL && buf != NULL);
    if (cap < 24 + VOID_PBFT_DIGEST_SIZE) {
        return VOID_EFULL;
    }
    void__put64(buf, m->ev);
    void__put64(buf + 8, m->view);
    void__put64(buf + 16, m->seq);
    memcpy(buf + 24, m->digest, VOID_PBFT_DIGEST_SIZE);
    return 24 + VOID_PBFT_DIGEST_SIZE;
}

int void_pbft_vote_decode(const uint8_t *buf, size_t len, struct void_pbft_vote *m)
{
    VOID_ASSERT(buf != NULL && m != NULL);
    if (len < 24 + VOID_PBFT_DIGEST_SIZE) {
        return VOID_ETRUNCATED;
    }
    if (len > 24 + VOID_PBFT_DIGEST_SIZE) {
        return VOID_EBAD_LENGTH;
    }
    m->ev = void__get64(buf);
    m->view = void__get64(buf + 8);
    m->seq = void__get64(buf + 16);
    memcpy(m->digest, buf + 24, VOID_PBFT_DIGEST_SIZE);
    m->mac_count = 0;
    m->macs = NULL;
    return 0;
}

int void_pbft_commit_encode(const struct void_pbft_vote *m, uint8_t *buf, size_t cap)
{
    VOID_ASSERT(m != NULL && buf != NULL);
    if (m->mac_count > VOID_PBFT_MACS_MAX) {
        return VOID_EINVAL;
    }
    size_t len = VOID_PBFT_VOTE_SIZE + 1 + (size_t)m->mac_count * VOID_MAC_SIZE;
    if (cap < len) {
        return VOID_EFULL;
    }
    int rc = void_pbft_vote_encode(m, buf, cap);
    VOID_ASSERT(rc == VOID_PBFT_VOTE_SIZE);
    buf[VOID_PBFT_VOTE_SIZE] = m->mac_count;
    memset(buf + VOID_PBFT_VOTE_SIZE + 1, 0, (size_t)m->mac_count * VOID_MAC_SIZE);
    return (int)len;
}

int void_pbft_commit_decode(const uint8_t *buf, size_t len, struct void_pbft_vote *m)
{
    VOID_ASSERT(buf != NULL && m != NULL);
    if (len <= VOID_PBFT_VOTE_SIZE) {
        return VOID_ETRUNCATED;
    }
    int rc = void_pbft_vote_decode(buf, VOID_PBFT_VOTE_SIZE, m);
    VOID_ASSERT(rc == 0);
    m->mac_count = buf[VOID_PBFT_VOTE_SIZE];
    if (m->mac_count > VOID_PBFT_MACS_MAX) {
        return VOID_EBAD_FIELD;
    }
    size_t need = VOID_PBFT_VOTE_SIZE + 1 + (size_t)m->mac_count * VOID_MAC_SIZE;
    if (len != need) {
        return len < need ? VOID_ETRUNCATED : VOID_EBAD_LENGTH;
    }
    m->macs = buf + VOID_PBFT_VOTE_SIZE + 1;
    return 0;
}

void void_pbft_commit_tag(uint8_t *frame,
                          size_t len,
                          const uint8_t (*keys)[VOID_MAC_KEY_SIZE],
                          uint32_t key_mask)
{
    VOID_ASSERT(frame != NULL && keys != NULL);
    VOID_ASSERT(len > VOID_PBFT_COMMIT_TAGGED + VOID_SIGN_SIZE);
    uint8_t count = frame[VOID_PBFT_COMMIT_TAGGED - 1];
    VOID_ASSERT(len == VOID_PBFT_COMMIT_TAGGED + (size_t)count * VOID_MAC_SIZE + VOID_SIGN_SIZE);
    for (uint32_t i = 0; i < count; i++) {
        if (key_mask & (UINT32_C(1) << i)) {
            void_mac_compute(keys[i],
                             frame,
                             VOID_PBFT_COMMIT_TAGGED,
                             frame + VOID_PBFT_COMMIT_TAGGED + (size_t)i * VOID_MAC_SIZE);
        }
    }
}

int void_pbft_commit_check_mac(const uint8_t *frame,
                               size_t len,
                               const struct void_frame *fr,
                               uint32_t replica,
                               const uint8_t key[VOID_MAC_KEY_SIZE])
{
    VOID_ASSERT(frame != NULL && fr != NULL && key != NULL);
    struct void_pbft_vote v;
    int rc = void_pbft_commit_decode(fr->body, fr->body_len, &v);
    if (rc != 0) {
        return rc;
    }
    if (replica >= v.mac_count) {
        return VOID_ENOTFOUND;
    }
    VOID_ASSERT(fr->body == frame + VOID_CODEC_HEADER_SIZE && len >= VOID_PBFT_COMMIT_TAGGED);
    return void_mac_verify(
        key, frame, VOID_PBFT_COMMIT_TAGGED, v.macs + (size_t)replica * VOID_MAC_SIZE);
}

int void_pbft_checkpoint_encode(const struct void_pbft_checkpoint *m, uint8_t *buf, size_t cap)
{
    VOID_ASSERT(m != NULL && buf != NULL);
    if (cap < 16 + VOID_PBFT_DIGEST_SIZE) {
        return VOID_EFULL;
    }
    void__put64(buf, m->ev);
    void__put64(buf + 8, m->seq);
    memcpy(buf + 16, m->digest, VOID_PBFT_DIGEST_SIZE);
    return 16 + VOID_PBFT_DIGEST_SIZE;
}

int void_pbft_checkpoint_decode(const uint8_t *buf, size_t len, struct void_pbft_checkpoint *m)
{
    VOID_ASSERT(buf != NULL && m != NULL);
    if (len < 16 + VOID_PBFT_DIGEST_SIZE) {
        return VOID_ETRUNCATED;
    }
    if (len > 16 + VOID_PBFT_DIGEST_SIZE) {
        return VOID_EBAD_LENGTH;
    }
    m->ev = void__get64(buf);
    m->seq = void__get64(buf + 8);
    memcpy(m->digest, buf + 16, VOID_PBFT_DIGEST_SIZE);
    return 0;
}

#define REPLY_HEAD (8 + 8 + 4 + 8 + 4) /* ev, view, client, reqno, result_len */

size_t void_pbft_reply_size(uint32_t result_len, uint16_t index, uint16_t count)
{
    return REPLY_HEAD + (size_t)result_len + 4 + 8 + 4 +
           (size_t)void_merkle_path_len(index, count) * VOID_MERKLE_HASH_SIZE + VOID_MAC_SIZE;
}

int void_pbft_reply_encode(const struct void_pbft_reply *m, uint8_t *buf, size_t cap)
{
    VOID_ASSERT(m != NULL && buf != NULL);
    if (m->result_len > VOID_PBFT_RESULT_MAX || m->index >= m->count) {
        return VOID_EINVAL;
    }
    size_t need = void_pbft_reply_size(m->result_len, m->index, m->count);
    if (need > cap) {
        return VOID_EFULL;
    }
    void__put64(buf, m->ev);
    void__put64(buf + 8, m->view);
    void__put32(buf + 16, m->client);
    void__put64(buf + 20, m->reqno);
    void__put32(buf + 28, m->result_len);
    uint8_t *p = buf + REPLY_HEAD;
    if (m->result_len > 0) {
        memcpy(p, m->result, m->result_len);
    }
    p += m->result_len;
    void__put32(p, m->session);
    void__put64(p + 4, m->epoch);
    p += 12;
    void__put16(p, m->index);
    void__put16(p + 2, m->count);
    size_t path_bytes = need - VOID_MAC_SIZE - (size_t)(p + 4 - buf);
    if (m->path != NULL) {
        memcpy(p + 4, m->path, path_bytes);
    } else {
        memset(p + 4, 0, path_bytes);
    }
    memset(p + 4 + path_bytes, 0, VOID_MAC_SIZE);
    return (int)need;
}

int void_pbft_reply_decode(const uint8_t *buf, size_t len, struct void_pbft_reply *m)
{
    VOID_ASSERT(buf != NULL && m != NULL);
    memset(m, 0, sizeof(*m));
    if (len < REPLY_HEAD) {
        return VOID_ETRUNCATED;
    }
    m->ev = void__get64(buf);
    m->view = void__get64(buf + 8);
    m->client = void__get32(buf + 16);
    m->reqno = void__get64(buf + 20);
    m->result_len = void__get32(buf + 28);
    if (m->result_len > VOID_PBFT_RESULT_MAX) {
        return VOID_EBAD_FIELD;
    }
    size_t at = REPLY_HEAD + (size_t)m->result_len + 12; /* session, epoch */
    if (len < at + 4) {
        return VOID_ETRUNCATED;
    }
    m->result = buf + REPLY_HEAD;
    m->session = void__get32(buf + at - 12);
    m->epoch = void__get64(buf + at - 8);
    m->index = void__get16(buf + at);
    m->count = void__get16(buf + at + 2);
    if (m->count == 0 || m->index >= m->count) {
        return VOID_EBAD_FIELD;
    }
    m->path_len = void_merkle_path_len(m->index, m->count);
    size_t need = at + 4 + (size_t)m->path_len * VOID_MERKLE_HASH_SIZE + VOID_MAC_SIZE;
    if (len != need) {
        return len < need ? VOID_ETRUNCATED : VOID_EBAD_LENGTH;
    }
    m->path = buf + at + 4;
    return 0;
}

size_t void_pbft_reply_leaf_len(size_t len, const struct void_pbft_reply *m)
{
    size_t path_bytes = (size_t)m->path_len * VOID_MERKLE_HASH_SIZE;
    VOID_ASSERT(len >= VOID_PBFT_FRAME_OVERHEAD + path_bytes + VOID_MAC_SIZE);
    return len - VOID_SIGN_SIZE - VOID_MAC_SIZE - path_bytes;
}

void void_pbft_reply_tag(uint8_t *frame, size_t len, const uint8_t key[VOID_MAC_KEY_SIZE])
{
    VOID_ASSERT(frame != NULL && key != NULL);
    VOID_ASSERT(len >= VOID_PBFT_FRAME_OVERHEAD + VOID_MAC_SIZE);
    size_t covered = len - VOID_SIGN_SIZE - VOID_MAC_SIZE;
    void_mac_compute(key, frame, covered, frame + covered);
}

int void_pbft_reply_check_mac(const uint8_t *frame,
                              size_t len,
                              const uint8_t key[VOID_MAC_KEY_SIZE])
{
    VOID_ASSERT(frame != NULL && key != NULL);
    VOID_ASSERT(len >= VOID_PBFT_FRAME_OVERHEAD + VOID_MAC_SIZE);
    size_t covered = len - VOID_SIGN_SIZE - VOID_MAC_SIZE;
    return void_mac_verify(key, frame, covered, frame + covered);
}

/* Decodes a REPLY frame and computes the root it claims. */
static int reply_root(const uint8_t *frame,
                      size_t len,
                      struct void_frame *fr,
                      struct void_pbft_reply *m,
                      uint8_t root[VOID_MERKLE_HASH_SIZE])
{
    int rc = void_codec_decode(frame, len, fr);
    if (rc != 0) {
        return rc;
    }
    if (fr->type != VOID_MSG_REPLY) {
        return VOID_EBAD_TYPE;
    }
    rc = void_pbft_reply_decode(fr->body, fr->body_len, m);
    if (rc != 0) {
        return rc;
    }
    uint8_t leaf[VOID_MERKLE_HASH_SIZE];
    void_merkle_leaf(frame, void_pbft_reply_leaf_len(len, m), leaf);
    return void_merkle_root_from_path(leaf, m->index, m->count, m->path, m->path_len, root);
}

int void_pbft_reply_sign(uint8_t *frame, size_t len, const struct void_sign_keypair *kp)
{
    VOID_ASSERT(frame != NULL && kp != NULL);
    struct void_frame fr;
    struct void_pbft_reply m;
    uint8_t root[VOID_MERKLE_HASH_SIZE];
    int rc = reply_root(frame, len, &fr, &m, root);
    if (rc != 0) {
        return rc;
    }
    rc = void_sign(kp, VOID_SIGN_DOMAIN_REPLY, root, sizeof(root), frame + len - VOID_SIGN_SIZE);
    VOID_ASSERT(rc == 0); /* a 32-byte message in a known domain */
    return 0;
}

int void_pbft_reply_verify(const uint8_t *frame,
                           size_t len,
                           const struct void_keyring *ring,
                           struct void_frame *fr,
                           struct void_pbft_reply *m)
{
    VOID_ASSERT(frame != NULL && ring != NULL && fr != NULL && m != NULL);
    uint8_t root[VOID_MERKLE_HASH_SIZE];
    int rc = reply_root(frame, len, fr, m, root);
    if (rc != 0) {
        return rc;
    }
    return void_keyring_verify(
        ring, fr->sender, VOID_SIGN_DOMAIN_REPLY, root, sizeof(root), fr->sig);
}

int void_pbft_reply_verify_key(const uint8_t *frame,
                               size_t len,
                               const uint8_t key[VOID_SIGN_PUBLIC_KEY_SIZE],
                               struct void_frame *fr,
                               struct void_pbft_reply *m)
{
    VOID_ASSERT(frame != NULL && key != NULL && fr != NULL && m != NULL);
    uint8_t root[VOID_MERKLE_HASH_SIZE];
    int rc = reply_root(frame, len, fr, m, root);
    if (rc != 0) {
        return rc;
    }
    return void_sign_verify(key, VOID_SIGN_DOMAIN_REPLY, root, sizeof(root), fr->sig);
}
