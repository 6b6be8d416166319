/*
 * The wire envelope every node-to-node and client message travels in.
 *
 *   offset size  field
 *   0      4     magic "VOID" (0x56 0x4f 0x49 0x44)
 *   4      1     version (1)
 *   5      1     type (enum void_msg_type)
 *   6      2     flags, must be 0 in version 1
 *   8      4     sender id, big-endian
 *   12     12    sender's HLC (void_hlc_encode)
 *   24     4     body length N, big-endian, <= VOID_CODEC_BODY_MAX
 *   28     N     body (format defined by the module that owns the type)
 *   28+N   64    Ed25519 signature over bytes [0, 28+N), domain FRAME
 *                (REPLY: over the root of its batch's replies, domain REPLY)
 *
 * Decoding is bounds-checked: it never reads outside [buf, buf+len) and
 * returns a distinct code for each kind of malformed input. See
 * docs/wire.md for the full format.
 */
#ifndef VOID_CODEC_H
#define VOID_CODEC_H

#include "void/hlc.h"
#include "void/sign.h"

#include <stddef.h>
#include <stdint.h>

#define VOID_CODEC_MAGIC       0x564f4944u /* "VOID" */
#define VOID_CODEC_VERSION     1
#define VOID_CODEC_HEADER_SIZE 28
#define VOID_CODEC_BODY_MAX    (4u << 20) /* 4 MiB */
#define VOID_CODEC_FRAME_MAX   (VOID_CODEC_HEADER_SIZE + VOID_CODEC_BODY_MAX + VOID_SIGN_SIZE)

/* Message types. Values are on the wire: never renumber, only append. */
#define VOID_MSG_TYPE_MAP(X)                                                                       \
    X(REQUEST, 1) /* client -> replica */                                                          \
    X(REPLY, 2)   /* replica -> client */                                                          \
    X(PRE_PREPARE, 3)                                                                              \
    X(PREPARE, 4)                                                                                  \
    X(COMMIT, 5)                                                                                   \
    X(CHECKPOINT, 6)                                                                               \
    X(VIEW_CHANGE, 7)                                                                              \
    X(NEW_VIEW, 8)                                                                                 \
    X(FETCH_STATE, 9) /* state transfer request */                                                 \
    X(STATE, 10)      /* state transfer reply */                                                   \
    X(HEARTBEAT, 11)                                                                               \
    X(CAS_FETCH, 12) /* ask a peer for a CAS block */                                              \
    X(CAS_BLOCK, 13) /* a CAS block */                                                             \
    X(HELLO, 14)     /* transport handshake */                                                 \
    X(REQ_FETCH, 15) /* ask a replica for request frames ordered by digest */                      \
    X(READ, 16)      /* client -> replicas: a read-only request, answered unordered */          \
    X(SUSPICION, 17) /* membership: signed suspicions gossiped among voters */

enum void_msg_type {
#define VOID__X(name, value) VOID_MSG_##name = value,
    VOID_MSG_TYPE_MAP(VOID__X)
#undef VOID__X
};

/* Name of a type ("PREPARE"), or NULL if unknown. Cannot fail. */
const char *void_msg_type_name(int type);

/* Whether a frame of this type may reach a replica through a third party,
 * verbatim, for its author: a client's request that a backup relays to the
 * primary (authenticated by the client's signature on its record), and a
 * view change that a new primary relays with the NEW-VIEW naming it
 * (authenticated by its author's signature). Every other frame travels only
 * on its author's own link; the transport and the simulator both enforce
 * this. Cannot fail. */
int void_msg_relayable(int type);

/* A decoded frame. body and sig point into the buffer given to decode and
 * are valid as long as it is. */
struct void_frame {
    uint8_t type;
    uint32_t sender;
    struct void_hlc_ts hlc;
    const uint8_t *body;
    uint32_t body_len;
    const uint8_t *sig;
};

/* Size of the frame for a body of body_len bytes. Cannot fail. */
size_t void_codec_frame_size(uint32_t body_len);

/* Writes header, body and signature (by kp, domain FRAME) into buf (capacity
 * cap) and sets *out_len. frame, kp and frame->body are borrowed for the call;
 * frame->body may point at buf + VOID_CODEC_HEADER_SIZE (a body built in
 * place) and frame->sig is ignored. Returns 0, VOID_EOVERSIZED (body too
 * large), VOID_EBAD_TYPE, VOID_EFULL (cap too small) or VOID_ENOMEM (frame
 * over 4 KiB and no memory to sign it). */
int void_codec_encode(const struct void_frame *frame,
                      const struct void_sign_keypair *kp,
                      uint8_t *buf,
                      size_t cap,
                      size_t *out_len);

/* Writes header and body as void_codec_encode does, with the signature's 64
 * bytes zero, for a caller that signs the frame another way: a REPLY, whose
 * signature covers the Merkle root of its batch's replies (docs/wire.md;
 * void_pbft_reply_verify). Returns 0, VOID_EOVERSIZED, VOID_EBAD_TYPE or
 * VOID_EFULL. */
int void_codec_encode_unsigned(const struct void_frame *frame,
                               uint8_t *buf,
                               size_t cap,
                               size_t *out_len);

/* Parses buf[0..len) into *frame without checking the signature. len must be
 * exactly one frame. Checks run in header order, so the first bad field
 * names the error: VOID_ETRUNCATED (fewer bytes than the header, or than the
 * length field promises), VOID_EBAD_MAGIC, VOID_EBAD_VERSION, VOID_EBAD_TYPE,
 * VOID_EBAD_FIELD (flags not 0), VOID_EOVERSIZED (length field over
 * VOID_CODEC_BODY_MAX), VOID_EBAD_LENGTH (bytes left after the signature).
 * Returns 0 on success; *frame is written only then. */
int void_codec_decode(const uint8_t *buf, size_t len, struct void_frame *frame);

/* For a stream: given the first len bytes available, the size of the whole
 * frame once the header is in (0 if fewer than VOID_CODEC_HEADER_SIZE bytes),
 * or a negative code as void_codec_decode for a header that cannot start a
 * valid frame. */
long void_codec_peek_size(const uint8_t *buf, size_t len);

/* Decodes and verifies the signature (domain FRAME) with the sender's key
 * from ring (borrowed for the call); a REPLY fails it (VOID_EBAD_SIG): it is
 * checked with void_pbft_reply_verify. Returns what void_codec_decode returns, or
 * VOID_EUNKNOWN_SENDER, VOID_EBAD_SIG (or VOID_ENOMEM as void_sign_verify);
 * *frame is written only on success. */
int void_codec_decode_verified(const uint8_t *buf,
                               size_t len,
                               const struct void_keyring *ring,
                               struct void_frame *frame);

#endif
