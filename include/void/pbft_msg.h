/*
 * Bodies of the PBFT messages, inside codec frames (include/void/codec.h).
 *
 * All integers are big-endian. Every body starts with the sender's send event
 * sequence (u64), so that a receiver can name the send event as the parent of
 * its receive event in the causal log. Then, per type:
 *
 *   REQUEST      ev | reqno u64 | repliers u16 | op_len u32 | session u32 |
 *                cert_len u16 | op | cert | mac_count u8 | mac_count x tag[16]
 *                The client is the frame's sender and the frame's signature is
 *                the client's. session names one process of the client
 *                (its own at-most-once entry; 0: the client's only one);
 *                cert is empty or a client certificate
 *                (include/void/client_cert.h) that vouches for the client's
 *                key when the replicas' keyring does not hold it. Tag i
 *                authenticates the frame up to and with mac_count for
 *                replica i (include/void/mac.h); a batch carries
 *                whole REQUEST frames verbatim.
 *   READ         a REQUEST body under type READ: a read-only request,
 *                answered from the executed state without ordering (a REPLY
 *                of a batch of one); never in a batch
 *   PRE_PREPARE  ev | view u64 | seq u64 | hlc[12] | count u16 | batch_len u32 | batch
 *                batch = count items back to back: a REQUEST frame of at
 *                most VOID_PBFT_INLINE_MAX bytes, or the reference to a
 *                larger one (0x00 | client u32 | reqno u64 | frame_len u32 |
 *                SHA-256 of the frame[32]), whose frame every replica gets
 *                from the client (or fetches, REQ_FETCH): PBFT's separate
 *                request transmission (TOCS'02 5.1)
 *   REQ_FETCH    ev | count u16 | count x digest[32] (1..VOID_PBFT_FETCH_MAX):
 *                send me these request frames; answered with each frame
 *                held, verbatim (a REQUEST frame, relayable)
 *   PREPARE      ev | view u64 | seq u64 | digest[32]
 *   COMMIT       ev | view u64 | seq u64 | digest[32]
 *   CHECKPOINT   ev | seq u64 | state digest[32]
 *   REPLY        ev | view u64 | client u32 | reqno u64 | result_len u32 | result |
 *                session u32 | index u16 | count u16 |
 *                path[32 * void_merkle_path_len(index, count)] | tag[16]
 *                signature: Ed25519, domain REPLY, over the RFC 9162 Merkle root
 *                of the `count` replies the replica sent for one batch; this
 *                reply is leaf `index`, and its leaf hash covers the frame
 *                from its first byte up to the path (header included). The
 *                tag authenticates the frame up to the tag (path included)
 *                for the client, under the key the replica shares with it:
 *                the client takes it instead of the signature.
 *   VIEW_CHANGE, NEW_VIEW, FETCH_STATE, STATE: see docs/pbft.md.
 *
 * The batch digest is SHA-256(hlc[12] | count u16 | batch): it binds the
 * primary's timestamp (the MVCC stamp of the batch) to its requests. A null
 * batch (view change gap filler) has count 0, no bytes and a zero hlc.
 *
 * Decoders are pure and bounds-checked: they never read outside
 * [buf, buf + len), point into buf (borrowed, valid as long as it is), and
 * return 0, VOID_ETRUNCATED (too short), VOID_EBAD_LENGTH (a length field
 * disagrees with the data, or trailing bytes) or VOID_EBAD_FIELD (a value out
 * of range). Encoders return the number of bytes written or VOID_EFULL (cap
 * too small) / VOID_EINVAL (argument out of range).
 */
#ifndef VOID_PBFT_MSG_H
#define VOID_PBFT_MSG_H

#include "void/client_cert.h"
#include "void/codec.h"
#include "void/hlc.h"
#include "void/mac.h"
#include "void/merkle.h"
#include "void/sign.h"
#include "void/sm.h"

#include <stddef.h>
#include <stdint.h>

#define VOID_PBFT_DIGEST_SIZE     32
#define VOID_PBFT_OP_MAX          VOID_SM_OP_MAX
#define VOID_PBFT_RESULT_MAX      VOID_SM_RESULT_MAX
#define VOID_PBFT_BATCH_MAX       128 /* requests in one batch */
#define VOID_PBFT_BATCH_BYTES_MAX (16u << 10)
#define VOID_PBFT_FRAME_OVERHEAD  (VOID_CODEC_HEADER_SIZE + VOID_SIGN_SIZE)
/* A REQUEST body: ev u64, reqno u64, repliers u16, op_len u32, session u32,
 * cert_len u16, op, cert, then mac_count u8 and that many tags (one per
 * replica, at most MACS_MAX). */
#define VOID_PBFT_REQUEST_HEAD (8 + 8 + 2 + 4 + 4 + 2)
#define VOID_PBFT_MACS_MAX     16
#define VOID_PBFT_REQUEST_FRAME_MAX                                                                \
    (VOID_PBFT_FRAME_OVERHEAD + VOID_PBFT_REQUEST_HEAD + VOID_PBFT_OP_MAX +                        \
     VOID_CLIENT_CERT_SIZE + 1 + VOID_PBFT_MACS_MAX * VOID_MAC_SIZE)
/* Separate request transmission (docs/pbft.md, "Large requests"): a request
 * frame longer than INLINE_MAX is not carried in the batch, which orders the
 * REF_SIZE-byte reference to it instead. 1 KiB keeps every request of the
 * small-op workload (keys of tens of bytes, values up to a few hundred)
 * inline, as before, so a small put costs no extra round; a 16 KiB batch
 * still carries at least 16 inline requests; and a larger request saves the
 * primary n - 1 copies of it in its pre-prepare, the bandwidth that caps a
 * primary with large values. */
#define VOID_PBFT_INLINE_MAX 1024u
#define VOID_PBFT_REF_SIZE   (1 + 4 + 8 + 4 + VOID_PBFT_DIGEST_SIZE)
#define VOID_PBFT_FETCH_MAX  16 /* digests in one REQ_FETCH */
#define VOID_PBFT_PP_HEAD    (8 + 8 + 8 + VOID_HLC_ENCODED_SIZE + 2 + 4)
#define VOID_PBFT_PP_FRAME_MAX                                                                     \
    (VOID_PBFT_FRAME_OVERHEAD + VOID_PBFT_PP_HEAD + VOID_PBFT_BATCH_BYTES_MAX)
/* Prepare and checkpoint frames are the small ones. */
#define VOID_PBFT_VOTE_SIZE       (8 + 8 + 8 + VOID_PBFT_DIGEST_SIZE)
#define VOID_PBFT_SMALL_FRAME_MAX (VOID_PBFT_FRAME_OVERHEAD + VOID_PBFT_VOTE_SIZE)
/* A COMMIT is a vote followed by an authenticator: mac_count u8 and that
 * many tags, tag i for replica i (the sender's own slot is zeros). */
#define VOID_PBFT_COMMIT_FRAME_MAX                                                                 \
    (VOID_PBFT_SMALL_FRAME_MAX + 1 + VOID_PBFT_MACS_MAX * VOID_MAC_SIZE)
/* The bytes of a COMMIT frame its tags cover: the header and the body up to
 * and including mac_count. */
#define VOID_PBFT_COMMIT_TAGGED (VOID_CODEC_HEADER_SIZE + VOID_PBFT_VOTE_SIZE + 1)

/* Every replica answers a request that names them all. */
#define VOID_PBFT_REPLIERS_ALL 0xffffu

/* A decoded request: a client's signed REQUEST frame. The same bytes travel
 * from the client to the replicas and, verbatim, inside the batch of a
 * pre-prepare, so each replica checks the one signature the client made. */
struct void_pbft_request {
    uint32_t client; /* the frame's sender */
    struct void_hlc_ts hlc;
    uint64_t ev; /* the client's send event */
    uint64_t reqno;
    uint16_t repliers; /* bit i: replica i replies once it executes it (never 0) */
    const uint8_t *op;
    uint32_t op_len;
    uint32_t session;    /* the client's process; at-most-once per (client, session) */
    const uint8_t *cert; /* NULL, or VOID_CLIENT_CERT_SIZE bytes: the client's certificate */
    /* The authenticator: tag i for replica i. Encode reads mac_keys (the
     * keys shared with replicas 0..mac_count-1, or NULL and mac_count 0 for
     * none); decode sets macs (mac_count tags in the frame). */
    uint8_t mac_count;
    const uint8_t (*mac_keys)[VOID_MAC_KEY_SIZE];
    const uint8_t *macs;
    const uint8_t *sig;    /* VOID_SIGN_SIZE bytes: the frame's signature */
    const uint8_t *record; /* the whole frame */
    size_t record_len;
};

struct void_pbft_pre_prepare {
    uint64_t ev;
    uint64_t view;
    uint64_t seq;
    struct void_hlc_ts hlc;
    uint16_t count;
    const uint8_t *batch;
    uint32_t batch_len;
};

/* PREPARE and COMMIT share this body; a COMMIT adds its authenticator. */
struct void_pbft_vote {
    uint64_t ev;
    uint64_t view;
    uint64_t seq;
    uint8_t digest[VOID_PBFT_DIGEST_SIZE];
    /* COMMIT only: encode writes mac_count zeroed tags (void_pbft_commit_tag
     * fills them in the finished frame); decode sets macs to the tags. */
    uint8_t mac_count;
    const uint8_t *macs;
};

struct void_pbft_checkpoint {
    uint64_t ev;
    uint64_t seq;
    uint8_t digest[VOID_PBFT_DIGEST_SIZE];
};

/* A REPLY body. One signature covers every reply a replica sends for a
 * batch: the reply is leaf `index` of `count`, and path is its audit path. */
struct void_pbft_reply {
    uint64_t ev;
    uint64_t view;
    uint32_t client;
    uint64_t reqno;
    const uint8_t *result;
    uint32_t result_len;
    uint32_t session; /* of the request answered */
    uint64_t epoch;   /* the replier's membership epoch (docs/membership.md) */
    uint16_t index;
    uint16_t count;      /* >= 1 */
    const uint8_t *path; /* path_len hashes; encode writes zeros for NULL */
    uint32_t path_len;   /* void_merkle_path_len(index, count); set by decode */
};

/* The REPLY body size for a result of result_len bytes as leaf index of
 * count. Cannot fail (index < count). */
size_t void_pbft_reply_size(uint32_t result_len, uint16_t index, uint16_t count);

/* Writes the REQUEST frame of m (client, hlc, ev, reqno, repliers, session,
 * cert (NULL: none), op[0..op_len) and, for mac_keys, mac_count tags; macs, record, record_len
 * and sig are ignored), signed with kp's secret key (domain FRAME), into
 * buf. repliers is a nonzero mask of the
 * replicas that reply when they execute it (VOID_PBFT_REPLIERS_ALL: every
 * one); a retransmitted request is answered by every replica that receives
 * it. op_len must be 1..VOID_PBFT_OP_MAX, mac_count at most MACS_MAX (0
 * when mac_keys is NULL). Returns the frame length, VOID_EINVAL or
 * VOID_EFULL. */
int void_pbft_request_encode(const struct void_pbft_request *m,
                             const struct void_sign_keypair *kp,
                             uint8_t *buf,
                             size_t cap);

/* Decodes the REQUEST frame at the start of buf[0..len) (more may follow,
 * as in a batch) and sets *consumed to its length. Returns 0,
 * VOID_ETRUNCATED, VOID_EBAD_LENGTH (the body is not exactly its fields) or
 * VOID_EBAD_FIELD (op_len 0 or too large, repliers 0, cert_len neither 0
 * nor VOID_CLIENT_CERT_SIZE), or the codec's error
 * for a malformed header or another type. The signature is not checked. */
int void_pbft_request_decode(const uint8_t *buf,
                             size_t len,
                             struct void_pbft_request *req,
                             size_t *consumed);

/* READ (PBFT's read-only optimisation, docs/pbft.md "Read-only requests"):
 * the body and signature of a REQUEST, under its own frame type, so that a
 * read-only request can never be taken for one to order (the type is
 * signed) nor ride in a batch. Same arguments and errors as
 * void_pbft_request_encode / _decode; decode refuses any other type with
 * VOID_EBAD_TYPE. */
int void_pbft_read_encode(const struct void_pbft_request *m,
                          const struct void_sign_keypair *kp,
                          uint8_t *buf,
                          size_t cap);
int void_pbft_read_decode(const uint8_t *buf,
                          size_t len,
                          struct void_pbft_request *req,
                          size_t *consumed);

/* One item of a batch: an inline request (req decoded, is_ref 0) or the
 * reference to a request frame sent apart (is_ref 1: client, reqno,
 * frame_len and digest). */
struct void_pbft_batch_item {
    int is_ref;
    struct void_pbft_request req;
    uint32_t client;
    uint64_t reqno;
    uint32_t frame_len;
    uint8_t digest[VOID_PBFT_DIGEST_SIZE];
};

/* Decodes the item at the start of buf[0..len) and sets *consumed. An
 * inline request must be at most VOID_PBFT_INLINE_MAX bytes and a reference
 * name a longer frame (at most VOID_PBFT_REQUEST_FRAME_MAX), so each request
 * has one form. Returns 0, VOID_ETRUNCATED, VOID_EBAD_FIELD or the errors
 * of void_pbft_request_decode. */
int void_pbft_batch_item_decode(const uint8_t *buf,
                                size_t len,
                                struct void_pbft_batch_item *it,
                                size_t *consumed);

/* Writes the reference to the request frame[0..len) (decoded as req) to
 * buf[0..VOID_PBFT_REF_SIZE). Cannot fail. */
void void_pbft_ref_encode(const struct void_pbft_request *req,
                          const uint8_t *frame,
                          size_t len,
                          uint8_t buf[VOID_PBFT_REF_SIZE]);

/* REQ_FETCH bodies. Encode returns the length or VOID_EINVAL (count 0 or
 * over VOID_PBFT_FETCH_MAX) / VOID_EFULL; decode sets *count and *digests
 * (pointing into buf) and returns 0, VOID_ETRUNCATED, VOID_EBAD_FIELD or
 * VOID_EBAD_LENGTH. */
int void_pbft_fetch_encode(uint64_t ev,
                           const uint8_t (*digests)[VOID_PBFT_DIGEST_SIZE],
                           uint16_t count,
                           uint8_t *buf,
                           size_t cap);
int void_pbft_fetch_decode(const uint8_t *buf,
                           size_t len,
                           uint16_t *count,
                           const uint8_t **digests);

/* Checks the client's signature on the request frame with its key in ring:
 * 0, VOID_EUNKNOWN_SENDER or VOID_EBAD_SIG. */
int void_pbft_request_verify(const struct void_pbft_request *req, const struct void_keyring *ring);

/* Checks the request's tag for replica `replica` with the key that replica
 * shares with the client: 0, VOID_EBAD_SIG, or VOID_ENOTFOUND when the
 * authenticator has no tag for it. */
int void_pbft_request_check_mac(const struct void_pbft_request *req,
                                uint32_t replica,
                                const uint8_t key[VOID_MAC_KEY_SIZE]);

/* SHA-256(hlc | count | batch). Cannot fail. */
void void_pbft_batch_digest(struct void_hlc_ts hlc,
                            uint16_t count,
                            const uint8_t *batch,
                            size_t batch_len,
                            uint8_t digest[VOID_PBFT_DIGEST_SIZE]);

int void_pbft_pre_prepare_encode(const struct void_pbft_pre_prepare *m, uint8_t *buf, size_t cap);
int void_pbft_pre_prepare_decode(const uint8_t *buf, size_t len, struct void_pbft_pre_prepare *m);
int void_pbft_vote_encode(const struct void_pbft_vote *m, uint8_t *buf, size_t cap);
int void_pbft_vote_decode(const uint8_t *buf, size_t len, struct void_pbft_vote *m);
/* A COMMIT body: the vote, mac_count (at most MACS_MAX) and that many tags,
 * zeroed by encode. Decode returns VOID_ETRUNCATED, VOID_EBAD_FIELD or
 * VOID_EBAD_LENGTH for a body that is not exactly that. */
int void_pbft_commit_encode(const struct void_pbft_vote *m, uint8_t *buf, size_t cap);
int void_pbft_commit_decode(const uint8_t *buf, size_t len, struct void_pbft_vote *m);
/* Fills the tags of a finished, not yet signed COMMIT frame (encoded with
 * void_pbft_commit_encode): tag i with keys[i] for every i below its
 * mac_count whose bit is set in key_mask; the others stay zero. */
void void_pbft_commit_tag(uint8_t *frame,
                          size_t len,
                          const uint8_t (*keys)[VOID_MAC_KEY_SIZE],
                          uint32_t key_mask);
/* Checks the tag for replica `replica` of the COMMIT frame[0..len) (fr its
 * decoded header and body) with the key that replica shares with the
 * sender: 0, VOID_EBAD_SIG, VOID_ENOTFOUND (no tag for it) or a decode
 * error. */
int void_pbft_commit_check_mac(const uint8_t *frame,
                               size_t len,
                               const struct void_frame *fr,
                               uint32_t replica,
                               const uint8_t key[VOID_MAC_KEY_SIZE]);
int void_pbft_checkpoint_encode(const struct void_pbft_checkpoint *m, uint8_t *buf, size_t cap);
int void_pbft_checkpoint_decode(const uint8_t *buf, size_t len, struct void_pbft_checkpoint *m);
/* Encodes m's body (its path_len is ignored: the position gives it).
 * Returns the length, VOID_EINVAL (result too long, index >= count) or
 * VOID_EFULL. */
int void_pbft_reply_encode(const struct void_pbft_reply *m, uint8_t *buf, size_t cap);
int void_pbft_reply_decode(const uint8_t *buf, size_t len, struct void_pbft_reply *m);

/* The number of bytes at the start of a REPLY frame (its len bytes decoded
 * into *m) that its leaf hash covers: everything before the path. */
size_t void_pbft_reply_leaf_len(size_t len, const struct void_pbft_reply *m);

/* Signs the REPLY frame[0..len) on its own: computes the root its leaf and
 * path imply and writes kp's signature of it (domain REPLY) over the
 * frame's last 64 bytes. Returns 0, or the decode error of a malformed
 * frame (nothing is written). */
int void_pbft_reply_sign(uint8_t *frame, size_t len, const struct void_sign_keypair *kp);

/* Fills the tag of a finished REPLY frame[0..len) (its path included) with
 * the key the replica shares with the frame's client. The frame must be a
 * REPLY of at least VOID_PBFT_FRAME_OVERHEAD + VOID_MAC_SIZE bytes; the
 * signature after the tag is not touched. */
void void_pbft_reply_tag(uint8_t *frame, size_t len, const uint8_t key[VOID_MAC_KEY_SIZE]);

/* Checks the tag of a REPLY frame[0..len) that void_pbft_reply_decode
 * accepted (through void_codec_decode) with the key the client shares with
 * the sender: 0 or VOID_EBAD_SIG. */
int void_pbft_reply_check_mac(const uint8_t *frame,
                              size_t len,
                              const uint8_t key[VOID_MAC_KEY_SIZE]);

/* Decodes a REPLY frame into *fr and *m and checks its signature: the root
 * of its leaf and path, signed by the sender's key in ring (domain REPLY).
 * Returns 0, the codec's or the body's decode error, VOID_EBAD_TYPE (not a
 * REPLY), VOID_EUNKNOWN_SENDER or VOID_EBAD_SIG. */
/* The same with the sender's key given (key borrowed for the call). */
int void_pbft_reply_verify_key(const uint8_t *frame,
                               size_t len,
                               const uint8_t key[VOID_SIGN_PUBLIC_KEY_SIZE],
                               struct void_frame *fr,
                               struct void_pbft_reply *m);
int void_pbft_reply_verify(const uint8_t *frame,
                           size_t len,
                           const struct void_keyring *ring,
                           struct void_frame *fr,
                           struct void_pbft_reply *m);

/* The send event sequence at the start of any PBFT body: 0 and *ev, or
 * VOID_ETRUNCATED. */
int void_pbft_body_event(const uint8_t *body, size_t len, uint64_t *ev);

#endif
