/*
 * Block transfer between clients and replicas (contract in
 * include/void/casnet.h): the message bodies, a post-order walk of a stored
 * DAG for uploads, and the replica's block server with its relay of fetches
 * to peers. Every block is named by the hash of its bytes, recomputed on
 * receipt, so no peer has to be trusted for content: a relayed block is
 * accepted only if it hashes to the name that was asked for.
 */
#include "void/casnet.h"

#include "void/assert.h"
#include "void/codec.h"
#include "void/error.h"
#include "void/log.h"

#include <stdlib.h>
#include <string.h>

void void_casnet_fetch_encode(uint8_t op,
                              const struct void_hash *h,
                              uint8_t out[VOID_CASNET_FETCH_SIZE])
{
    VOID_ASSERT(h != NULL);
    VOID_ASSERT(op <= VOID_CASNET_MISSING);
    out[0] = op;
    memcpy(out + 1, h->b, VOID_HASH_SIZE);
}

int void_casnet_fetch_decode(const uint8_t *body, size_t len, uint8_t *op, struct void_hash *h)
{
    VOID_ASSERT(op != NULL && h != NULL);
    if (len != VOID_CASNET_FETCH_SIZE) {
        return VOID_EBAD_LENGTH;
    }
    if (body[0] > VOID_CASNET_MISSING) {
        return VOID_EBAD_FIELD;
    }
    *op = body[0];
    memcpy(h->b, body + 1, VOID_HASH_SIZE);
    return 0;
}

int void_casnet_block_decode(const uint8_t *body,
                             size_t len,
                             uint8_t *kind,
                             const uint8_t **data,
                             size_t *data_len,
                             struct void_hash *h)
{
    VOID_ASSERT(kind != NULL && data != NULL);
    VOID_ASSERT(data_len != NULL && h != NULL);
    if (len < 1) {
        return VOID_ETRUNCATED;
    }
    if (body[0] != VOID_CAS_BLOB && body[0] != VOID_CAS_FILE && body[0] != VOID_CAS_DIR) {
        return VOID_EBAD_FIELD;
    }
    *kind = body[0];
    *data = body + 1;
    *data_len = len - 1;
    void_hash_compute(*data, *data_len, h);
    return 0;
}

int void_casnet_children(uint8_t kind,
                         const uint8_t *data,
                         size_t len,
                         int (*fn)(void *ctx, const struct void_hash *h),
                         void *ctx)
{
    VOID_ASSERT(fn != NULL);
    int rc = 0;
    if (kind == VOID_CAS_FILE) {
        struct void_casobj_file f;
        rc = void_casobj_file_decode(data, len, &f);
        for (uint32_t i = 0; rc == 0 && i < f.count; i++) {
            struct void_casobj_chunk chunk;
            void_casobj_file_chunk(&f, i, &chunk);
            rc = fn(ctx, &chunk.hash);
        }
    } else if (kind == VOID_CAS_DIR) {
        struct void_casobj_dir d;
        struct void_casobj_entry e;
        rc = void_casobj_dir_decode(data, len, &d);
        while (rc == 0 && void_casobj_dir_next(&d, &e)) {
            if (e.type != VOID_CAS_SYMLINK) {
                rc = fn(ctx, &e.hash);
            }
        }
    }
    return rc;
}

struct walk {
    struct void_cas *cas;
    void_casnet_walk_fn fn;
    void *ctx;
    unsigned depth;
};

static int walk_block(void *arg, const struct void_hash *h);

/* Post-order: the children (recursively, depth bounded), then the block. */
static int walk_block(void *arg, const struct void_hash *h)
{
    struct walk *w = arg;
    if (w->depth >= VOID_CAS_DEPTH_MAX) {
        return VOID_ERANGE;
    }
    uint8_t *data = NULL;
    size_t len = 0;
    uint8_t kind = 0;
    int rc = void_cas_get_block(w->cas, h, &data, &len, &kind);
    if (rc == 0) {
        w->depth++;
        rc = void_casnet_children(kind, data, len, walk_block, w);
        w->depth--;
    }
    if (rc == 0) {
        rc = w->fn(w->ctx, h, kind, data, len);
    }
    free(data);
    return rc;
}

int void_casnet_walk(struct void_cas *cas,
                     const struct void_hash *root,
                     void_casnet_walk_fn fn,
                     void *ctx)
{
    VOID_ASSERT(cas != NULL && root != NULL);
    VOID_ASSERT(fn != NULL);
    struct walk w = {.cas = cas, .fn = fn, .ctx = ctx};
    return walk_block(&w, root);
}

int void_casnet_send(struct void_transport *t,
                     const struct void_sign_keypair *kp,
                     uint32_t self_id,
                     uint32_t to,
                     uint8_t type,
                     const uint8_t *body,
                     size_t len)
{
    VOID_ASSERT(t != NULL && kp != NULL);
    VOID_ASSERT(len <= VOID_CODEC_BODY_MAX);
    struct void_frame f = {
        .type = type, .sender = self_id, .body = body, .body_len = (uint32_t)len};
    size_t cap = void_codec_frame_size((uint32_t)len);
    uint8_t *buf = malloc(cap);
    size_t n = 0;
    if (buf == NULL) {
        return VOID_ENOMEM;
    }
    int rc = void_codec_encode(&f, kp, buf, cap, &n);
    if (rc == 0) {
        rc = void_transport_send(t, to, buf, n);
    }
    free(buf);
    return rc;
}

/* ---- the replica's block server ------------------------------------------ */

static void
reply_fetch(struct void_casserve *cs, uint32_t to, uint8_t op, const struct void_hash *h)
{
    uint8_t body[VOID_CASNET_FETCH_SIZE];
    void_casnet_fetch_encode(op, h, body);
    (void)void_casnet_send(
        cs->transport, cs->keypair, cs->self_id, to, VOID_MSG_CAS_FETCH, body, sizeof(body));
}

int void_casnet_block_body(struct void_cas *cas,
                           const struct void_hash *h,
                           uint8_t **body,
                           size_t *len)
{
    VOID_ASSERT(cas != NULL && h != NULL && body != NULL && len != NULL);
    uint8_t *data = NULL, kind = 0;
    size_t data_len = 0;
    *body = NULL;
    *len = 0;
    int rc = void_cas_get_block(cas, h, &data, &data_len, &kind);
    if (rc != 0) {
        return rc;
    }
    uint8_t *b = malloc(data_len + 1);
    if (b == NULL) {
        free(data);
        return VOID_ENOMEM;
    }
    b[0] = kind;
    memcpy(b + 1, data, data_len);
    free(data);
    *body = b;
    *len = data_len + 1;
    return 0;
}

/* Sends block h from the store to `to`; returns 0 or VOID_ECAS_MISSING... */
static int serve(struct void_casserve *cs, uint32_t to, const struct void_hash *h)
{
    uint8_t *body = NULL;
    size_t len = 0;
    int rc = void_casnet_block_body(cs->cas, h, &body, &len);
    if (rc == VOID_ECAS_HASH_MISMATCH || rc == VOID_ECAS_BAD_RECORD) {
        /* Damage on this replica's disk: never served (the requester is
         * told MISSING, or a client gets it relayed from a peer). */
        char hex[VOID_HASH_HEX_SIZE];
        void_hash_to_hex(h, hex);
        void_log(VOID_LOG_ERROR,
                 "cas: block %s is corrupt in this replica's block store (%s): not served (a "
                 "client's request goes on to the other replicas)",
                 hex,
                 void_strerror(rc));
    }
    if (rc != 0) {
        return rc;
    }
    rc = void_casnet_send(cs->transport, cs->keypair, cs->self_id, to, VOID_MSG_CAS_BLOCK, body, len);
    free(body);
    cs->count_served += rc == 0;
    cs->served_len = rc == 0 ? len - 1 : cs->served_len;
    return rc;
}

static int is_replica(const struct void_casserve *cs, uint32_t id)
{
    return id < 32 && (cs->replicas & (1u << id)) != 0;
}

/* Peers a relayed fetch goes to: the replicas but self. */
static uint32_t peer_count(const struct void_casserve *cs)
{
    uint32_t self = cs->self_id < 32 ? 1u << cs->self_id : 0;
    uint32_t n = (uint32_t)__builtin_popcount(cs->replicas & ~self);
    VOID_ASSERT(n < 32);
    return n;
}

/* A client asks for a block we lack: remember who, ask every peer. */
static void relay_fetch(struct void_casserve *cs, uint32_t requester, const struct void_hash *h)
{
    struct void_casserve_pending *slot = NULL;
    for (size_t i = 0; i < VOID_CASNET_PENDING_MAX && slot == NULL; i++) {
        if (!cs->pending[i].used) {
            slot = &cs->pending[i];
        }
    }
    if (slot == NULL) {
        reply_fetch(cs, requester, VOID_CASNET_MISSING, h);
        return;
    }
    *slot = (struct void_casserve_pending){.hash = *h, .requester = requester, .used = 1};
    uint8_t body[VOID_CASNET_FETCH_SIZE];
    void_casnet_fetch_encode(VOID_CASNET_FETCH, h, body);
    for (uint32_t id = 0; id < 32; id++) {
        if (id != cs->self_id && is_replica(cs, id)) {
            (void)void_casnet_send(cs->transport,
                                   cs->keypair,
                                   cs->self_id,
                                   id,
                                   VOID_MSG_CAS_FETCH,
                                   body,
                                   sizeof(body));
        }
    }
}

static void on_fetch(struct void_casserve *cs, const struct void_frame *f)
{
    uint8_t op = 0;
    struct void_hash h;
    if (void_casnet_fetch_decode(f->body, f->body_len, &op, &h) != 0) {
        cs->count_rejected++;
        return;
    }
    if (op == VOID_CASNET_MISSING) {
        for (size_t i = 0; i < VOID_CASNET_PENDING_MAX; i++) {
            struct void_casserve_pending *p = &cs->pending[i];
            if (p->used && void_hash_equal(&p->hash, &h) && ++p->missing >= peer_count(cs)) {
                reply_fetch(cs, p->requester, VOID_CASNET_MISSING, &h); /* nobody has it */
                p->used = 0;
            }
        }
        return;
    }
    if (op != VOID_CASNET_FETCH) {
        return; /* STORED acknowledgements are for clients */
    }
    if (serve(cs, f->sender, &h) == 0) {
        return;
    }
    if (is_replica(cs, f->sender)) {
        reply_fetch(cs, f->sender, VOID_CASNET_MISSING, &h);
    } else {
        relay_fetch(cs, f->sender, &h);
    }
}

static void
on_block(struct void_casserve *cs, const uint8_t *buf, size_t len, const struct void_frame *f)
{
    (void)buf;
    (void)len;
    uint8_t kind = 0;
    const uint8_t *data = NULL;
    size_t data_len = 0;
    struct void_hash h;
    if (void_casnet_block_decode(f->body, f->body_len, &kind, &data, &data_len, &h) != 0) {
        cs->count_rejected++;
        return;
    }
    int wanted = 0;
    for (size_t i = 0; i < VOID_CASNET_PENDING_MAX; i++) {
        struct void_casserve_pending *p = &cs->pending[i];
        if (p->used && void_hash_equal(&p->hash, &h)) {
            /* Fetched from a peer and verified: relay it as it came. */
            (void)void_casnet_send(cs->transport,
                                   cs->keypair,
                                   cs->self_id,
                                   p->requester,
                                   VOID_MSG_CAS_BLOCK,
                                   f->body,
                                   f->body_len);
            p->used = 0;
            wanted = 1;
        }
    }
    if (is_replica(cs, f->sender) && !wanted) {
        /* A second peer answering the same fetch, or a block nobody asked for
         * (or that does not hash to what was asked): never stored. */
        if (void_cas_has(cs->cas, &h) == 1) {
            cs->count_duplicate++;
        } else {
            cs->count_rejected++;
        }
        return;
    }
    /* Stored off the loop thread; STORED goes out once it is durable. */
    int rc = void_caswriter_submit(cs->writer, kind, data, data_len, f->sender, wanted);
    if (rc == VOID_EBUSY) {
        cs->count_busy++; /* back-pressure: the client's retry brings it again */
    } else if (rc != 0) {
        cs->count_rejected++;
    }
}

void void_casserve_written(void *ctx, const struct void_caswriter_item *item)
{
    struct void_casserve *cs = ctx;
    VOID_ASSERT(cs != NULL && item != NULL);
    if (item->block.rc == 0) {
        cs->count_stored++;
        cs->count_fetched += (uint64_t)(item->fetched != 0);
        if (!is_replica(cs, item->from)) {
            reply_fetch(cs, item->from, VOID_CASNET_STORED, &item->block.hash);
        }
    } else if (!item->fetched) {
        int disk = item->block.rc == VOID_EIO || item->block.rc == VOID_ENOSPC;
        if (disk || item->block.rc == VOID_ENOMEM) {
            void_log(VOID_LOG_WARN,
                     "cas: block from %u not stored: %s",
                     (unsigned)item->from,
                     void_strerror(item->block.rc));
        }
        cs->count_rejected++; /* a forged or malformed upload is counted only */
    }
}

void void_casserve_frame(struct void_casserve *cs, const uint8_t *buf, size_t len)
{
    VOID_ASSERT(cs != NULL && cs->cas != NULL);
    VOID_ASSERT(buf != NULL);
    struct void_frame f;
    if (void_codec_decode(buf, len, &f) == 0 && f.type == VOID_MSG_CAS_BLOCK &&
        !is_replica(cs, f.sender)) {
        /* A client's upload: its signature is checked, its name computed and
         * the block stored on the writer thread, away from the loop. */
        int rc = void_caswriter_submit_frame(cs->writer, buf, len);
        cs->count_busy += rc == VOID_EBUSY;
        cs->count_rejected += rc != 0 && rc != VOID_EBUSY;
        return;
    }
    if (void_codec_decode_verified(buf, len, cs->ring, &f) != 0) {
        cs->count_rejected++;
        return;
    }
    if (f.type == VOID_MSG_CAS_FETCH) {
        on_fetch(cs, &f);
    } else if (f.type == VOID_MSG_CAS_BLOCK) {
        on_block(cs, buf, len, &f);
    }
}
