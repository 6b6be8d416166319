/*
 * Incremental state transfer for the state machine (include/void/sm.h;
 * docs/pbft.md, State transfer): a manifest of the certified checkpoint's
 * bucket digests, checked against its state digest, then only the
 * partitions whose digest differs from ours, each checked against its
 * certified bucket digest on arrival and kept apart from the state until
 * none is missing, then installed. The live state never mixes two
 * checkpoints where anyone can see it: the replica goes on executing
 * meanwhile, and the install runs within one call.
 *
 * Memory stays bounded whatever the state's size (issue 17): at most
 * xfer_buffer_max bytes of checked partitions wait in memory; beyond that
 * they wait in the store's stage (on disk in LMDB), and the install loads
 * them in store transactions of at most that many bytes each
 * (void_kvs_load_commit), so LMDB's dirty pages are bounded too. A crash
 * between two of those commits leaves a store marked partial, which
 * recovery empties and fetches again (src/core/pbft_state.c,
 * resume_store). Pure.
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
    struct void_kvs_manifest m;          /* the certified bucket digests */
    uint8_t *part[VOID_KVS_BUCKETS];     /* fetched and checked partitions in memory, or NULL */
    uint32_t part_len[VOID_KVS_BUCKETS]; /* in memory or staged */
    uint8_t staged[VOID_KVS_BUCKETS];    /* 1: fetched, checked and in the store's stage */
    uint64_t buffered;                   /* sum of part_len over part != NULL */
    /* The arguments of one stage write (not on the stack: 56 KB). */
    uint16_t flush_buckets[VOID_KVS_BUCKETS];
    const uint8_t *flush_bufs[VOID_KVS_BUCKETS];
    uint32_t flush_lens[VOID_KVS_BUCKETS];
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
        if (memcmp(old->m.digest[b], x->m.digest[b], VOID_KVS_DIGEST_SIZE) != 0) {
            continue; /* a staged copy of it is overwritten if fetched again */
        }
        x->staged[b] = old->staged[b];
        x->part_len[b] = old->staged[b] != 0 ? old->part_len[b] : 0;
        if (old->part[b] != NULL) {
            x->part[b] = old->part[b];
            x->part_len[b] = old->part_len[b];
            x->buffered += old->part_len[b];
            old->part[b] = NULL;
        }
    }
    VOID_ASSERT(old == NULL || x->buffered <= old->buffered);
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
        if (is_zero(sm->xfer->m.digest[b]) || sm->xfer->part[b] != NULL ||
            sm->xfer->staged[b] != 0 || bucket_matches(sm, b)) {
            continue;
        }
        if (n < max) {
            buckets[n] = (uint16_t)b;
        }
        n++;
    }
    return n;
}

/* Moves every partition held in memory to the store's stage, in one
 * write. Returns 0 or the store's failure (sticky in sm). */
static int stage_flush(struct void_sm *sm)
{
    struct void_sm_xfer *x = sm->xfer;
    VOID_ASSERT(x != NULL && !sm->in_batch);
    /* At most one partition per bucket: the arrays are the manifest's size. */
    uint16_t *buckets = x->flush_buckets;
    const uint8_t **bufs = x->flush_bufs;
    uint32_t *lens = x->flush_lens;
    size_t n = 0;
    for (uint32_t b = 0; b < VOID_KVS_BUCKETS; b++) {
        if (x->part[b] != NULL) {
            buckets[n] = (uint16_t)b;
            bufs[n] = x->part[b];
            lens[n++] = x->part_len[b];
        }
    }
    if (n == 0) {
        return 0;
    }
    sm->xfer_staged = 1;
    int rc = void_kvs_stage_put(sm->kvs, n, buckets, bufs, lens);
    if (rc != 0) {
        sm->failed = sm->failed != 0 ? sm->failed : rc;
        return rc;
    }
    sm->xfer_stats.stage_puts++;
    sm->xfer_stats.staged_bytes += x->buffered;
    for (size_t i = 0; i < n; i++) {
        free(x->part[buckets[i]]);
        x->part[buckets[i]] = NULL;
        x->staged[buckets[i]] = 1;
    }
    x->buffered = 0;
    return 0;
}

/* Keeps checked partition p[0..plen) of bucket b: in memory while the
 * bound allows, else in the stage. Returns 0, VOID_ENOMEM or a store
 * failure. */
static int keep_part(struct void_sm *sm, uint32_t b, const uint8_t *p, uint32_t plen)
{
    struct void_sm_xfer *x = sm->xfer;
    VOID_ASSERT(x->part[b] == NULL && x->staged[b] == 0);
    if (plen > sm->xfer_buffer_max) {
        /* Larger than the bound by itself (up to a message): straight to the
         * stage, without copying it. */
        uint16_t bucket = (uint16_t)b;
        sm->xfer_staged = 1;
        int rc = void_kvs_stage_put(sm->kvs, 1, &bucket, &p, &plen);
        if (rc != 0) {
            sm->failed = sm->failed != 0 ? sm->failed : rc;
            return rc;
        }
        sm->xfer_stats.stage_puts++;
        sm->xfer_stats.staged_bytes += plen;
        x->staged[b] = 1;
        x->part_len[b] = plen;
        return 0;
    }
    if (x->buffered + plen > sm->xfer_buffer_max) {
        int rc = stage_flush(sm);
        if (rc != 0) {
            return rc;
        }
    }
    x->part[b] = malloc(plen);
    if (x->part[b] == NULL) {
        return VOID_ENOMEM;
    }
    memcpy(x->part[b], p, plen);
    x->part_len[b] = plen;
    x->buffered += plen;
    if (x->buffered > sm->xfer_stats.buffered_peak) {
        sm->xfer_stats.buffered_peak = x->buffered;
    }
    VOID_ASSERT(x->buffered <= sm->xfer_buffer_max);
    return 0;
}

int void_sm_xfer_parts(struct void_sm *sm, const uint8_t *buf, size_t len, size_t *taken)
{
    VOID_ASSERT(sm != NULL && sm->xfer != NULL && (buf != NULL || len == 0));
    VOID_ASSERT(!sm->in_batch);
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
        if (x->part[b] != NULL || x->staged[b] != 0) {
            continue; /* a duplicate (two answers to one ask) */
        }
        if ((rc = keep_part(sm, b, p, plen)) != 0) {
            break;
        }
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

/* Loads bucket b's certified partition (in memory, or read back from the
 * stage into *scratch, grown as needed) inside the install's load. Adds
 * its size to *loaded. Returns 0 or a local failure. */
static int
load_one(struct void_sm *sm, uint32_t b, uint8_t **scratch, size_t *cap, uint64_t *loaded)
{
    struct void_sm_xfer *x = sm->xfer;
    const uint8_t *p = x->part[b];
    size_t plen = x->part_len[b];
    if (p == NULL) {
        VOID_ASSERT(x->staged[b] != 0);
        size_t want = plen;
        int rc = void_kvs_stage_get(sm->kvs, b, *scratch, *cap, &plen);
        if (rc == VOID_EFULL) {
            uint8_t *bigger = realloc(*scratch, plen);
            if (bigger == NULL) {
                return VOID_ENOMEM;
            }
            *scratch = bigger;
            *cap = plen;
            rc = void_kvs_stage_get(sm->kvs, b, *scratch, *cap, &plen);
        }
        if (rc == 0 && plen != want) {
            rc = VOID_EFULL; /* not what was staged */
        }
        if (rc != 0) {
            /* Gone, unreadable or another size: what we staged, our own
             * store lost. */
            return rc == VOID_ENOTFOUND || rc == VOID_EFULL ? VOID_ECORRUPT : rc;
        }
        p = *scratch;
    }
    *loaded += plen;
    /* Checked on arrival; checked again, since the stage is the store's. */
    return void_kvs_load_partition(sm->kvs, p, plen, x->m.horizon, x->m.last, x->m.digest[b]);
}

/* The install's load: every bucket in todo, in store transactions of at
 * most xfer_buffer_max bytes of partitions each (one partition larger
 * than that alone). Returns 0 or a local failure. */
static int install_load(struct void_sm *sm, const uint8_t *todo)
{
    struct void_sm_xfer *x = sm->xfer;
    uint8_t *scratch = NULL;
    size_t cap = 0;
    uint64_t loaded = 0;
    int rc = void_kvs_load_begin(sm->kvs, 0, x->m.horizon, x->m.last, x->label);
    for (uint32_t b = 0; b < VOID_KVS_BUCKETS && rc == 0; b++) {
        if (!todo[b]) {
            continue;
        }
        if (x->part[b] == NULL && x->staged[b] == 0) {
            VOID_ASSERT(is_zero(x->m.digest[b])); /* else void_sm_xfer_want lists it */
            rc = void_kvs_load_clear(sm->kvs, b);
            continue;
        }
        if (loaded > 0 && loaded + x->part_len[b] > sm->xfer_buffer_max) {
            if (loaded > sm->xfer_stats.group_peak) {
                sm->xfer_stats.group_peak = loaded;
            }
            rc = void_kvs_load_commit(sm->kvs);
            sm->xfer_stats.load_commits++;
            loaded = 0;
        }
        if (rc == 0) {
            rc = load_one(sm, b, &scratch, &cap, &loaded);
        }
    }
    free(scratch);
    if (loaded > sm->xfer_stats.group_peak) {
        sm->xfer_stats.group_peak = loaded;
    }
    if (rc == 0) {
        rc = void_kvs_load_end(sm->kvs);
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
        todo[b] = (uint8_t)(x->part[b] != NULL || x->staged[b] != 0 || !bucket_matches(sm, b));
    }
    int rc = install_load(sm, todo);
    free(todo);
    /* Every partition was checked on arrival at this horizon and last, so
     * a refusal now is the store's own failure: the load cannot be undone. */
    uint8_t got[VOID_SM_DIGEST_SIZE];
    if (rc == 0 && (rc = void_kvs_digest(sm->kvs, got)) == 0) {
        if (memcmp(got, x->expect, VOID_SM_DIGEST_SIZE) != 0) {
            rc = VOID_ECORRUPT; /* our own bucket digests lied: a damaged store */
        }
    }
    if (rc == 0 && sm->xfer_staged) {
        rc = void_kvs_stage_clear(sm->kvs); /* give the pages back for reuse */
        sm->xfer_staged = rc != 0;
    }
    if (rc != 0) {
        sm->failed = sm->failed != 0 ? sm->failed : rc;
        return sm->failed;
    }
    struct void_kvs_stats st;
    void_kvs_stats(sm->kvs, &st);
    sm->last_stamp = st.last;
    VOID_ASSERT(st.applied == x->label && !st.partial);
    void_sm_xfer_end(sm);
    return 0;
}

void void_sm_xfer_stats(const struct void_sm *sm, struct void_sm_xfer_stats *out)
{
    VOID_ASSERT(sm != NULL && out != NULL);
    *out = sm->xfer_stats;
}
