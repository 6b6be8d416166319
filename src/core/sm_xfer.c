/*
 * Incremental state transfer for the state machine (include/void/sm.h;
 * docs/pbft.md, State transfer): a manifest of the certified checkpoint's
 * bucket digests, checked against its state digest, then only the
 * partitions whose digest differs from ours, each checked against its
 * certified bucket digest on arrival and kept apart until none is missing,
 * then installed in one load. Keeping them apart costs memory (what
 * differs), but the live state never mixes two checkpoints: the replica
 * goes on executing meanwhile, and a crash in the middle leaves the store
 * as it was. Pure.
 */
#include "void/assert.h"
#include "void/bytes.h"
#include "void/error.h"
#include "void/sm.h"

#include <stdlib.h>
#include <string.h>

struct void_sm_xfer {
    uint64_t label;
    uint8_t expect[VOID_SM_DIGEST_SIZE];
    uint8_t *aux;
    size_t aux_len;
    struct void_kvs_manifest m;      /* the certified bucket digests */
    uint8_t *part[VOID_KVS_BUCKETS]; /* fetched and checked partitions, or NULL */
    uint32_t part_len[VOID_KVS_BUCKETS];
};

/* Whether the live store's bucket b already holds the certified partition. */
static int bucket_matches(struct void_sm *sm, uint32_t b)
{
    uint8_t d[VOID_KVS_DIGEST_SIZE];
    if (void_kvs_bucket_digest(sm->kvs, b, d) != 0) {
        return 0; /* a failing store: fetch it (the load then reports the failure) */
    }
    return memcmp(d, sm->xfer->m.digest[b], VOID_KVS_DIGEST_SIZE) == 0;
}

static int is_zero(const uint8_t d[VOID_KVS_DIGEST_SIZE])
{
    static const uint8_t zero[VOID_KVS_DIGEST_SIZE] = {0};
    return memcmp(d, zero, VOID_KVS_DIGEST_SIZE) == 0;
}

int void_sm_snapshot_manifest(
    struct void_sm *sm, struct void_kvs_snap *snap, uint8_t *buf, size_t cap, size_t *len)
{
    VOID_ASSERT(sm != NULL && snap != NULL && buf != NULL && len != NULL);
    if (sm->failed != 0) {
        return sm->failed;
    }
    int rc = void_kvs_manifest(sm->kvs, snap, buf, cap, len);
    if (rc != 0 && rc != VOID_EFULL && sm->failed == 0) {
        sm->failed = rc;
    }
    return rc;
}

int void_sm_snapshot_parts(struct void_sm *sm,
                           struct void_kvs_snap *snap,
                           const uint16_t *buckets,
                           size_t n,
                           uint8_t *buf,
                           size_t cap,
                           size_t *len)
{
    VOID_ASSERT(sm != NULL && snap != NULL && buf != NULL && len != NULL);
    VOID_ASSERT(buckets != NULL || n == 0);
    if (sm->failed != 0) {
        return sm->failed;
    }
    if (cap < 6) {
        return VOID_EFULL;
    }
    memcpy(buf, "VKP1", 4);
    size_t off = 6;
    uint16_t count = 0;
    for (size_t i = 0; i < n && count < UINT16_MAX; i++) {
        if (buckets[i] >= VOID_KVS_BUCKETS || off + 4 > cap) {
            break;
        }
        size_t plen = 0;
        int rc = void_kvs_encode_partition(
            sm->kvs, snap, buckets[i], buf + off + 4, cap - off - 4, &plen);
        if (rc == VOID_EFULL) {
            if (count == 0) {
                return VOID_EFULL; /* a partition larger than a message */
            }
            break; /* the rest goes in the next message */
        }
        if (rc != 0) {
            sm->failed = sm->failed != 0 ? sm->failed : rc;
            return rc;
        }
        if (plen == 0) {
            continue;
        }
        void_bytes_put_be32(buf + off, (uint32_t)plen);
        off += 4 + plen;
        count++;
    }
    void_bytes_put_be16(buf + 4, count);
    *len = off;
    VOID_ASSERT(off <= cap);
    return 0;
}

void void_sm_xfer_end(struct void_sm *sm)
{
    VOID_ASSERT(sm != NULL);
    struct void_sm_xfer *x = sm->xfer;
    if (x == NULL) {
        return;
    }
    for (uint32_t b = 0; b < VOID_KVS_BUCKETS; b++) {
        free(x->part[b]);
    }
    free(x->aux);
    free(x);
    sm->xfer = NULL;
}

int void_sm_xfer_begin(struct void_sm *sm,
                       const uint8_t *manifest,
                       size_t len,
                       uint64_t label,
                       const uint8_t expect[VOID_SM_DIGEST_SIZE],
                       const uint8_t *aux,
                       size_t aux_len)
{
    VOID_ASSERT(sm != NULL && expect != NULL && (manifest != NULL || len == 0));
    VOID_ASSERT(aux != NULL || aux_len == 0);
    if (sm->xfer != NULL && sm->xfer->label == label &&
        memcmp(sm->xfer->expect, expect, VOID_SM_DIGEST_SIZE) == 0) {
        return 0; /* the same target: go on with what we fetched */
    }
    struct void_sm_xfer *x = calloc(1, sizeof(*x));
    uint8_t *a = malloc(aux_len > 0 ? aux_len : 1);
    if (x == NULL || a == NULL) {
        free(x);
        free(a);
        return VOID_ENOMEM;
    }
    uint8_t got[VOID_SM_DIGEST_SIZE];
    int rc = void_kvs_manifest_check(manifest, len, &x->m, got);
    /* The signatures vouch for expect; the label is outside the digest and
     * must be the checkpoint's, or a sender could make us resume from the
     * wrong place. */
    if (rc == VOID_ENOMEM) {
        free(x);
        free(a);
        return rc;
    }
    if (rc != 0 || memcmp(got, expect, VOID_SM_DIGEST_SIZE) != 0 || x->m.label != label) {
        free(x);
        free(a);
        return VOID_EBAD_FIELD;
    }
    /* A newer checkpoint than the one we were fetching (the old one went
     * out of the peers' reach): what we fetched of a bucket that did not
     * change between the two is still the certified partition. */
    struct void_sm_xfer *old = sm->xfer;
    for (uint32_t b = 0; old != NULL && b < VOID_KVS_BUCKETS; b++) {
        if (old->part[b] != NULL &&
            memcmp(old->m.digest[b], x->m.digest[b], VOID_KVS_DIGEST_SIZE) == 0) {
            x->part[b] = old->part[b];
            x->part_len[b] = old->part_len[b];
            old->part[b] = NULL;
        }
    }
    void_sm_xfer_end(sm);
    x->label = label;
    memcpy(x->expect, expect, VOID_SM_DIGEST_SIZE);
    if (aux_len > 0) {
        memcpy(a, aux, aux_len);
    }
    x->aux = a;
    x->aux_len = aux_len;
    sm->xfer = x;
    return 0;
}

int void_sm_xfer_target(const struct void_sm *sm,
                        uint64_t *label,
                        uint8_t digest[VOID_SM_DIGEST_SIZE])
{
    VOID_ASSERT(sm != NULL && label != NULL);
    if (sm->xfer == NULL) {
        return 0;
    }
    *label = sm->xfer->label;
    if (digest != NULL) {
        memcpy(digest, sm->xfer->expect, VOID_SM_DIGEST_SIZE);
    }
    return 1;
}

const uint8_t *void_sm_xfer_aux(const struct void_sm *sm, size_t *aux_len)
{
    VOID_ASSERT(sm != NULL && sm->xfer != NULL && aux_len != NULL);
    *aux_len = sm->xfer->aux_len;
    return sm->xfer->aux;
}

size_t void_sm_xfer_want(struct void_sm *sm, uint16_t *buckets, size_t max)
{
    VOID_ASSERT(sm != NULL && sm->xfer != NULL && !sm->in_batch);
    VOID_ASSERT(buckets != NULL || max == 0);
    size_t n = 0;
    for (uint32_t b = 0; b < VOID_KVS_BUCKETS; b++) {
        if (is_zero(sm->xfer->m.digest[b]) || sm->xfer->part[b] != NULL || bucket_matches(sm, b)) {
            continue;
        }
        if (n < max) {
            buckets[n] = (uint16_t)b;
        }
        n++;
    }
    return n;
}

int void_sm_xfer_parts(struct void_sm *sm, const uint8_t *buf, size_t len, size_t *taken)
{
    VOID_ASSERT(sm != NULL && sm->xfer != NULL && (buf != NULL || len == 0));
    struct void_sm_xfer *x = sm->xfer;
    size_t kept = 0;
    int rc = 0;
    if (len < 6 || memcmp(buf, "VKP1", 4) != 0) {
        rc = VOID_EBAD_FIELD;
    }
    uint32_t count = rc == 0 ? void_bytes_get_be16(buf + 4) : 0;
    size_t off = 6;
    for (uint32_t i = 0; i < count && rc == 0; i++) {
        if (len - off < 4 || void_bytes_get_be32(buf + off) > len - off - 4) {
            rc = VOID_EBAD_FIELD;
            break;
        }
        uint32_t plen = void_bytes_get_be32(buf + off);
        const uint8_t *p = buf + off + 4;
        off += 4 + (size_t)plen;
        uint32_t b;
        uint8_t d[VOID_KVS_DIGEST_SIZE];
        /* Checked against the certified bucket digest, at the certified
         * horizon and last: what void_kvs_load_partition will check again. */
        if (void_kvs_decode_partition(p, plen, x->m.horizon, x->m.last, NULL, NULL, NULL, &b, d) !=
                0 ||
            memcmp(d, x->m.digest[b], VOID_KVS_DIGEST_SIZE) != 0 || is_zero(d)) {
            rc = VOID_EBAD_FIELD;
            break;
        }
        if (x->part[b] != NULL) {
            continue; /* a duplicate (two answers to one ask) */
        }
        x->part[b] = malloc(plen);
        if (x->part[b] == NULL) {
            rc = VOID_ENOMEM;
            break;
        }
        memcpy(x->part[b], p, plen);
        x->part_len[b] = plen;
        kept++;
    }
    if (rc == 0 && off != len) {
        rc = VOID_EBAD_FIELD;
    }
    if (taken != NULL) {
        *taken = kept;
    }
    return rc;
}

int void_sm_xfer_install(struct void_sm *sm)
{
    VOID_ASSERT(sm != NULL && sm->xfer != NULL && !sm->in_batch);
    if (sm->failed != 0) {
        return sm->failed;
    }
    if (void_sm_xfer_want(sm, NULL, 0) != 0) {
        return VOID_EAGAIN;
    }
    struct void_sm_xfer *x = sm->xfer;
    /* Decide what to replace before the load begins: inside it, a bucket
     * digest read may answer the load's state. */
    uint8_t *todo = calloc(VOID_KVS_BUCKETS, 1);
    if (todo == NULL) {
        return VOID_ENOMEM;
    }
    for (uint32_t b = 0; b < VOID_KVS_BUCKETS; b++) {
        todo[b] = (uint8_t)(x->part[b] != NULL || !bucket_matches(sm, b));
    }
    int rc = void_kvs_load_begin(sm->kvs, 0, x->m.horizon, x->m.last, x->label);
    for (uint32_t b = 0; b < VOID_KVS_BUCKETS && rc == 0; b++) {
        if (!todo[b]) {
            continue;
        }
        if (x->part[b] != NULL) {
            rc = void_kvs_load_partition(
                sm->kvs, x->part[b], x->part_len[b], x->m.horizon, x->m.last, x->m.digest[b]);
        } else {
            VOID_ASSERT(is_zero(x->m.digest[b])); /* else void_sm_xfer_want lists it */
            rc = void_kvs_load_clear(sm->kvs, b);
        }
    }
    if (rc == 0) {
        rc = void_kvs_load_end(sm->kvs);
    }
    free(todo);
    /* Every partition was checked on arrival at this horizon and last, so
     * a refusal now is the store's own failure: the load cannot be undone. */
    uint8_t got[VOID_SM_DIGEST_SIZE];
    if (rc == 0 && (rc = void_kvs_digest(sm->kvs, got)) == 0) {
        if (memcmp(got, x->expect, VOID_SM_DIGEST_SIZE) != 0) {
            rc = VOID_ECORRUPT; /* our own bucket digests lied: a damaged store */
        }
    }
    if (rc != 0) {
        sm->failed = sm->failed != 0 ? sm->failed : rc;
        return sm->failed;
    }
    struct void_kvs_stats st;
    void_kvs_stats(sm->kvs, &st);
    sm->last_stamp = st.last;
    VOID_ASSERT(st.applied == x->label);
    void_sm_xfer_end(sm);
    return 0;
}
