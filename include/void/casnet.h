/*
 * Moving content-addressed blocks between clients and replicas (DESIGN.md
 * section 6): file data does not flow through consensus. A client uploads the
 * blocks of a file or tree to the replicas directly, then commits a small
 * "name -> root hash" operation through PBFT; a replica asked for a block it
 * lacks fetches it from its peers and checks its hash before using it.
 *
 * Bodies of the two codec message types (inside signed frames):
 *
 *   CAS_BLOCK  kind u8 | block bytes        (the name is SHA-256 of the bytes:
 *                                            every receiver recomputes it)
 *   CAS_FETCH  op u8 | hash[32]             op: FETCH (send me this block),
 *                                            STORED (I stored it: an upload's
 *                                            acknowledgement), MISSING (I do
 *                                            not have it and cannot get it)
 *
 * A replica serves a FETCH from a client from its store, or else asks every
 * peer and relays the first block whose hash matches; a FETCH from a replica
 * is answered from the local store only (no fetch storms).
 *
 * A replica stores received blocks through its block writer (caswriter.h),
 * off the event-loop thread (a client's CAS_BLOCK frame goes there
 * unverified: the writer thread checks its signature and hashes it), and
 * sends STORED only from the writer's done callback, after the block's group
 * commit is synced. A block still queued
 * is not yet served (FETCH sees what has committed); since a client waits
 * for STORED before it commits a name, every block that a committed name
 * reaches is readable on the replicas that acknowledged it.
 */
#ifndef VOID_CASNET_H
#define VOID_CASNET_H

#include "void/cas.h"
#include "void/caswriter.h"
#include "void/hash.h"
#include "void/transport.h"

#include <stddef.h>
#include <stdint.h>

#define VOID_CASNET_FETCH_SIZE  (1 + VOID_HASH_SIZE)
#define VOID_CASNET_PENDING_MAX 256     /* fetches a replica relays at once */
#define VOID_CASNET_NAME_PREFIX "file:" /* the key that maps a name to its root */

enum void_casnet_op {
    VOID_CASNET_FETCH = 0,
    VOID_CASNET_STORED = 1,
    VOID_CASNET_MISSING = 2,
};

/* Writes a CAS_FETCH body. Cannot fail. */
void void_casnet_fetch_encode(uint8_t op,
                              const struct void_hash *h,
                              uint8_t out[VOID_CASNET_FETCH_SIZE]);

/* Parses a CAS_FETCH body. Returns 0 or VOID_EBAD_LENGTH / VOID_EBAD_FIELD. */
int void_casnet_fetch_decode(const uint8_t *body, size_t len, uint8_t *op, struct void_hash *h);

/* Parses a CAS_BLOCK body: *kind, the block bytes (pointing into body) and
 * their hash, computed here. Returns 0, VOID_ETRUNCATED or VOID_EBAD_FIELD
 * (unknown kind). */
int void_casnet_block_decode(const uint8_t *body,
                             size_t len,
                             uint8_t *kind,
                             const uint8_t **data,
                             size_t *data_len,
                             struct void_hash *h);

/* Reads block h from the store into a CAS_BLOCK body (kind, then the block
 * bytes) in *body (malloc'd, the caller frees it) of *len bytes. Returns 0,
 * VOID_ENOMEM or the errors of void_cas_get_block. */
int void_casnet_block_body(struct void_cas *cas,
                           const struct void_hash *h,
                           uint8_t **body,
                           size_t *len);

/* Calls fn for every block reachable from root in the store, children before
 * their parent (the order in which void_cas_put_block accepts them); a block
 * shared by several parents may be visited more than once. Returns 0, the
 * first non-zero value fn returns, VOID_ERANGE (deeper than
 * VOID_CAS_DEPTH_MAX) or the errors of void_cas_get_block. */
typedef int (*void_casnet_walk_fn)(
    void *ctx, const struct void_hash *h, uint8_t kind, const uint8_t *data, size_t len);
int void_casnet_walk(struct void_cas *cas,
                     const struct void_hash *root,
                     void_casnet_walk_fn fn,
                     void *ctx);

/* The children of an object block (file: its chunks; directory: its files and
 * directories) through fn(ctx, hash). Blobs have none. Returns 0, a decoder
 * error or fn's first non-zero value. data is borrowed. */
int void_casnet_children(uint8_t kind,
                         const uint8_t *data,
                         size_t len,
                         int (*fn)(void *ctx, const struct void_hash *h),
                         void *ctx);

/* A replica's block server. */
struct void_casserve_pending {
    struct void_hash hash;
    uint32_t requester;
    uint32_t missing; /* peers that answered MISSING */
    int used;
};

struct void_casserve {
    struct void_cas *cas;             /* borrowed: read here, written by writer */
    struct void_caswriter *writer;    /* borrowed: stores received blocks */
    struct void_transport *transport; /* borrowed */
    const struct void_keyring *ring;  /* borrowed: verifies CAS frames */
    const struct void_sign_keypair *keypair;
    uint32_t self_id;
    /* The replicas: bit i for replica id i, the members of the epoch in
     * effect (a member that joined included, docs/membership.md) and self.
     * The driver sets it at start (the file's replicas) and at every epoch
     * switch. Frames of other senders are a client's. */
    uint32_t replicas;
    struct void_casserve_pending pending[VOID_CASNET_PENDING_MAX];
    uint64_t count_stored, count_served, count_fetched, count_rejected, count_duplicate;
    uint64_t count_busy; /* blocks dropped because the writer's queue was full */
    size_t served_len;   /* bytes of the block last served (a /metrics histogram) */
};

/* Handles a CAS_BLOCK or CAS_FETCH frame buf[0..len) (borrowed) that the
 * transport delivered unverified: verifies its signature, then stores,
 * serves, relays or acknowledges as described above. Rejected frames are
 * counted, never trusted. Cannot fail (errors are counted). */
void void_casserve_frame(struct void_casserve *cs, const uint8_t *buf, size_t len);

/* The writer's done callback (ctx is the struct void_casserve): counts the
 * block and, for an upload that is now durable, sends STORED to the client.
 * item is borrowed. Cannot fail (errors are logged and counted). */
void void_casserve_written(void *ctx, const struct void_caswriter_item *item);

/* Signs and sends one frame of type with body to node to. Returns 0 or the
 * errors of void_codec_encode and void_transport_send. */
int void_casnet_send(struct void_transport *t,
                     const struct void_sign_keypair *kp,
                     uint32_t self_id,
                     uint32_t to,
                     uint8_t type,
                     const uint8_t *body,
                     size_t len);

#endif
