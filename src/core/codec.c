/*
 * The wire envelope: a fixed 28-byte header, the body, and an Ed25519
 * signature (domain FRAME) over header and body. Every byte that reaches
 * this file may come from a Byzantine peer, so decoding checks each field
 * against the buffer's length before it reads it and turns every kind of
 * malformed input into its own error code; nothing here asserts on input.
 * The format and the rationale are in docs/wire.md.
 */
#include "void/codec.h"

#include "void/assert.h"
#include "void/bytes.h"
#include "void/error.h"

#include <string.h>

/* Header field offsets (see include/void/codec.h). */
#define OFF_MAGIC   0
#define OFF_VERSION 4
#define OFF_TYPE    5
#define OFF_FLAGS   6
#define OFF_SENDER  8
#define OFF_HLC     12
#define OFF_LEN     24

_Static_assert(OFF_HLC + VOID_HLC_ENCODED_SIZE == OFF_LEN, "HLC sits right before the length");
_Static_assert(OFF_LEN + 4 == VOID_CODEC_HEADER_SIZE, "length is the last header field");
_Static_assert(VOID_CODEC_FRAME_MAX <= VOID_SIGN_MSG_MAX, "a whole frame can be signed");
_Static_assert(VOID_CODEC_FRAME_MAX < 0x7fffffffu, "frame sizes fit a long and an int");

int void_msg_relayable(int type)
{
    return type == VOID_MSG_REQUEST || type == VOID_MSG_VIEW_CHANGE;
}

const char *void_msg_type_name(int type)
{
    switch (type) {
#define VOID__X(name, value)                                                                       \
    case value:                                                                                    \
        return #name;
        VOID_MSG_TYPE_MAP(VOID__X)
#undef VOID__X
    default:
        return NULL;
    }
}

size_t void_codec_frame_size(uint32_t body_len)
{
    return (size_t)VOID_CODEC_HEADER_SIZE + body_len + VOID_SIGN_SIZE;
}

/* Checks the fixed header fields of buf[0..VOID_CODEC_HEADER_SIZE) and
 * returns the body length, or a negative code. */
static long check_header(const uint8_t *buf)
{
    VOID_ASSERT(buf != NULL);
    if (void_bytes_get_be32(buf + OFF_MAGIC) != VOID_CODEC_MAGIC) {
        return VOID_EBAD_MAGIC;
    }
    if (buf[OFF_VERSION] != VOID_CODEC_VERSION) {
        return VOID_EBAD_VERSION;
    }
    if (void_msg_type_name(buf[OFF_TYPE]) == NULL) {
        return VOID_EBAD_TYPE;
    }
    if (void_bytes_get_be16(buf + OFF_FLAGS) != 0) {
        return VOID_EBAD_FIELD;
    }
    uint32_t body_len = void_bytes_get_be32(buf + OFF_LEN);
    if (body_len > VOID_CODEC_BODY_MAX) {
        return VOID_EOVERSIZED;
    }
    return (long)body_len;
}

long void_codec_peek_size(const uint8_t *buf, size_t len)
{
    VOID_ASSERT(buf != NULL || len == 0);
    if (len < VOID_CODEC_HEADER_SIZE) {
        return 0;
    }
    long body_len = check_header(buf);
    if (body_len < 0) {
        return body_len;
    }
    size_t size = void_codec_frame_size((uint32_t)body_len);
    VOID_ASSERT(size <= VOID_CODEC_FRAME_MAX);
    return (long)size;
}

int void_codec_decode(const uint8_t *buf, size_t len, struct void_frame *frame)
{
    VOID_ASSERT(buf != NULL || len == 0);
    VOID_ASSERT(frame != NULL);
    long size = void_codec_peek_size(buf, len);
    if (size == 0) {
        return VOID_ETRUNCATED;
    }
    if (size < 0) {
        return (int)size;
    }
    if (len < (size_t)size) {
        return VOID_ETRUNCATED;
    }
    if (len > (size_t)size) {
        return VOID_EBAD_LENGTH;
    }
    frame->type = buf[OFF_TYPE];
    frame->sender = void_bytes_get_be32(buf + OFF_SENDER);
    frame->hlc = void_hlc_decode(buf + OFF_HLC);
    frame->body_len = void_bytes_get_be32(buf + OFF_LEN);
    frame->body = buf + VOID_CODEC_HEADER_SIZE;
    frame->sig = frame->body + frame->body_len;
    VOID_ASSERT(frame->sig + VOID_SIGN_SIZE == buf + len);
    return 0;
}

int void_codec_encode_unsigned(const struct void_frame *frame,
                               uint8_t *buf,
                               size_t cap,
                               size_t *out_len)
{
    VOID_ASSERT(frame != NULL);
    VOID_ASSERT(buf != NULL);
    VOID_ASSERT(frame->body != NULL || frame->body_len == 0);
    if (frame->body_len > VOID_CODEC_BODY_MAX) {
        return VOID_EOVERSIZED;
    }
    if (void_msg_type_name(frame->type) == NULL) {
        return VOID_EBAD_TYPE;
    }
    size_t size = void_codec_frame_size(frame->body_len);
    if (cap < size) {
        return VOID_EFULL;
    }
    /* The body first: it may already sit at buf + header (built in place),
     * and memmove handles that overlap. */
    if (frame->body_len > 0) {
        memmove(buf + VOID_CODEC_HEADER_SIZE, frame->body, frame->body_len);
    }
    void_bytes_put_be32(buf + OFF_MAGIC, VOID_CODEC_MAGIC);
    buf[OFF_VERSION] = VOID_CODEC_VERSION;
    buf[OFF_TYPE] = frame->type;
    void_bytes_put_be16(buf + OFF_FLAGS, 0);
    void_bytes_put_be32(buf + OFF_SENDER, frame->sender);
    void_hlc_encode(frame->hlc, buf + OFF_HLC);
    void_bytes_put_be32(buf + OFF_LEN, frame->body_len);
    memset(buf + size - VOID_SIGN_SIZE, 0, VOID_SIGN_SIZE);
    struct void_frame check;
    VOID_ASSERT(void_codec_decode(buf, size, &check) == 0);
    VOID_ASSERT(check.body_len == frame->body_len);
    *out_len = size;
    return 0;
}

int void_codec_encode(const struct void_frame *frame,
                      const struct void_sign_keypair *kp,
                      uint8_t *buf,
                      size_t cap,
                      size_t *out_len)
{
    VOID_ASSERT(kp != NULL);
    size_t size;
    int rc = void_codec_encode_unsigned(frame, buf, cap, &size);
    if (rc != 0) {
        return rc;
    }
    size_t signed_len = size - VOID_SIGN_SIZE;
    rc = void_sign(kp, VOID_SIGN_DOMAIN_FRAME, buf, signed_len, buf + signed_len);
    if (rc != 0) {
        return rc;
    }
    *out_len = size;
    return 0;
}

int void_codec_decode_verified(const uint8_t *buf,
                               size_t len,
                               const struct void_keyring *ring,
                               struct void_frame *frame)
{
    VOID_ASSERT(ring != NULL);
    VOID_ASSERT(frame != NULL);
    struct void_frame f;
    int rc = void_codec_decode(buf, len, &f);
    if (rc != 0) {
        return rc;
    }
    size_t signed_len = len - VOID_SIGN_SIZE;
    VOID_ASSERT(f.sig == buf + signed_len);
    rc = void_keyring_verify(ring, f.sender, VOID_SIGN_DOMAIN_FRAME, buf, signed_len, f.sig);
    if (rc != 0) {
        return rc;
    }
    *frame = f;
    return 0;
}
