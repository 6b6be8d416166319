/*
 * The in-memory store (include/void/kvs.h) that the simulator runs the state
 * machine on. Pure and deterministic: no I/O, no clock, no randomness; memory
 * grows with the entries, bounded by the quota plus its reserve.
 *
 * Layout: each key is one record holding its versions in HLC order (writes
 * come in batch order, so a new version is an append). Records are reachable
 * two ways: a treap ordered by key bytes for scans, whose priorities are bits
 * of SHA-256 of the key (deterministic, and not steerable into a degenerate
 * tree by a client choosing keys), and per bucket an array sorted by key hash
 * for lookups, bucket digests and partition iteration. Clients live in per
 * bucket arrays sorted by id hash. A FIFO of shadow entries (t, key hash, t0)
 * says "version t0 of the key is hidden once the horizon reaches t", so that a
 * compaction costs what it drops, not what exists; src/store/kvs_lmdb.c keeps
 * the same entries in a table ordered by t.
 */
#include "core/kvs_int.h"
#include "void/assert.h"
#include "void/bytes.h"
#include "void/error.h"

#include <stdlib.h>
#include <string.h>

#define H VOID_KVS_DIGEST_SIZE

struct mver {
    struct void_hlc_ts hlc;
    uint8_t deleted;
    uint8_t hash[H];
    uint8_t *value; /* owned; NULL when len is 0 */
    uint32_t len;
};

struct mkey {
    uint8_t h[H];              /* first: bsearch_hash reads it through the pointer */
    struct mkey *left, *right; /* treap by key bytes */
    uint64_t prio;
    uint32_t nver, cap;
    struct mver *ver;
    uint32_t klen;
    uint8_t key[]; /* klen bytes */
};

struct mclient {
    uint8_t h[H];
    uint8_t ehash[H];
    uint64_t id, reqno;
    struct void_hlc_ts last_seen;
    uint8_t *reply; /* owned; NULL when len is 0 */
    size_t len;
};

struct mbucket {
    struct mkey **keys; /* sorted by h */
    uint32_t nkeys, kcap;
    struct mclient **clients; /* sorted by h */
    uint32_t nclients, ccap;
};

struct shadow {
    struct void_hlc_ts t, t0;
    uint8_t h[H];
};

/* A bucket as it was when a snapshot was taken: a deep copy made before the
 * first change to the bucket after the take, shared by the snapshots that
 * were live then (refs). One allocation: this, ver[], cl[], then the bytes. */
struct sver {
    const uint8_t *key;
    uint32_t klen;
    struct void_kvs_version v;
};

struct sbucket {
    uint32_t refs;
    uint32_t nver, ncl;
    uint8_t digest[H];
    struct sver *ver;
    struct void_kvs_client *cl;
};

struct msnap {
    struct void_kvs_stats st;
    uint8_t digest[H];
    struct sbucket *saved[VOID_KVS_BUCKETS]; /* NULL: the live bucket is as it was */
};

struct mem {
    uint64_t quota;
    struct void_kvs_stats st;
    int in_batch;
    int failed;
    struct void_hlc_ts batch;
    struct mkey *root;
    struct mbucket buckets[VOID_KVS_BUCKETS];
    struct shadow *shadow;
    size_t shadow_head, shadow_len, shadow_cap;
    struct void__kvs_dirty dirty;
    uint8_t pending[VOID_KVS_BUCKETS][H]; /* new digests of the dirty buckets */
    struct void__kvs_tree tree;
    struct msnap *snaps[VOID_KVS_SNAPSHOTS_MAX]; /* NULL: free slot */
    int loading; /* between load_begin and load_end */
    struct void_hlc_ts load_horizon;
    uint8_t *stage[VOID_KVS_BUCKETS]; /* staged bytes per bucket (void_kvs_stage_put), or NULL */
    uint32_t stage_len[VOID_KVS_BUCKETS];
};

static const struct void_hlc_ts hlc_max = {UINT64_MAX, UINT32_MAX};

/* ---- growth ---------------------------------------------------------------- */

/* Makes room for one more element in *arr (count n, capacity *cap). */
static int grow(void **arr, uint32_t n, uint32_t *cap, size_t elem)
{
    if (n < *cap) {
        return 0;
    }
    uint32_t ncap = *cap == 0 ? 4 : *cap * 2;
    void *p = realloc(*arr, (size_t)ncap * elem);
    if (p == NULL) {
        return VOID_ENOMEM;
    }
    *arr = p;
    *cap = ncap;
    return 0;
}

/* ---- treap by key bytes ---------------------------------------------------- */

static int cmp_node(const struct mkey *n, const uint8_t *key, size_t len)
{
    return void_kvs_key_compare(n->key, n->klen, key, len);
}

static struct mkey *rot_right(struct mkey *n)
{
    struct mkey *l = n->left;
    n->left = l->right;
    l->right = n;
    return l;
}

static struct mkey *rot_left(struct mkey *n)
{
    struct mkey *r = n->right;
    n->right = r->left;
    r->left = n;
    return r;
}

static struct mkey *treap_insert(struct mkey *root, struct mkey *k)
{
    if (root == NULL) {
        return k;
    }
    if (cmp_node(root, k->key, k->klen) > 0) {
        root->left = treap_insert(root->left, k);
        if (root->left->prio > root->prio) {
            root = rot_right(root);
        }
    } else {
        VOID_ASSERT(cmp_node(root, k->key, k->klen) < 0);
        root->right = treap_insert(root->right, k);
        if (root->right->prio > root->prio) {
            root = rot_left(root);
        }
    }
    return root;
}

static struct mkey *treap_remove(struct mkey *root, const struct mkey *k)
{
    VOID_ASSERT(root != NULL);
    int c = cmp_node(root, k->key, k->klen);
    if (c > 0) {
        root->left = treap_remove(root->left, k);
        return root;
    }
    if (c < 0) {
        root->right = treap_remove(root->right, k);
        return root;
    }
    if (root->left == NULL) {
        return root->right;
    }
    if (root->right == NULL) {
        return root->left;
    }
    if (root->left->prio > root->right->prio) {
        root = rot_right(root);
        root->right = treap_remove(root->right, k);
    } else {
        root = rot_left(root);
        root->left = treap_remove(root->left, k);
    }
    return root;
}

/* The first key at or after (after: strictly after) key; key NULL: the
 * first key. */
static struct mkey *treap_seek(struct mkey *n, const uint8_t *key, size_t len, int after)
{
    struct mkey *best = NULL;
    while (n != NULL) {
        int c = key == NULL ? 1 : cmp_node(n, key, len);
        if (c > 0 || (c == 0 && !after)) {
            best = n;
            n = n->left;
        } else {
            n = n->right;
        }
    }
    return best;
}

/* ---- buckets ----------------------------------------------------------------- */

/* Position of hash h in a sorted array of records whose hash is at offset 0
 * of what each pointer points to; *found says whether it is there. */
static uint32_t bsearch_hash(void *const *arr, uint32_t n, const uint8_t h[H], int *found)
{
    uint32_t lo = 0, hi = n;
    *found = 0;
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        const uint8_t *mh = arr[mid];
        int c = memcmp(mh, h, H);
        if (c == 0) {
            *found = 1;
            return mid;
        }
        if (c < 0) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    return lo;
}

static struct mkey *key_lookup(struct mem *m, const uint8_t h[H])
{
    struct mbucket *b = &m->buckets[void_kvs_bucket_of(h)];
    int found;
    uint32_t i = bsearch_hash((void *const *)b->keys, b->nkeys, h, &found);
    return found ? b->keys[i] : NULL;
}

/* The h field must come first for bsearch_hash. */
_Static_assert(offsetof(struct mclient, h) == 0, "client hash first");
_Static_assert(offsetof(struct mkey, h) == 0, "key hash first");

/* ---- copy-on-write for snapshots -------------------------------------------- */

/* A deep copy of bucket bi with its committed digest. NULL when out of memory. */
static struct sbucket *bucket_copy(const struct mem *m, uint32_t bi)
{
    const struct mbucket *b = &m->buckets[bi];
    size_t nver = 0, bytes = 0;
    for (uint32_t i = 0; i < b->nkeys; i++) {
        const struct mkey *k = b->keys[i];
        nver += k->nver;
        bytes += k->klen;
        for (uint32_t j = 0; j < k->nver; j++) {
            bytes += k->ver[j].len;
        }
    }
    for (uint32_t i = 0; i < b->nclients; i++) {
        bytes += b->clients[i]->len;
    }
    size_t head = sizeof(struct sbucket) + nver * sizeof(struct sver) +
                  b->nclients * sizeof(struct void_kvs_client);
    struct sbucket *sb = malloc(head + bytes);
    if (sb == NULL) {
        return NULL;
    }
    sb->refs = 0;
    sb->nver = (uint32_t)nver;
    sb->ncl = b->nclients;
    memcpy(sb->digest, m->tree.digest[bi], H);
    sb->ver = (struct sver *)(void *)(sb + 1);
    sb->cl = (struct void_kvs_client *)(void *)(sb->ver + nver);
    uint8_t *p = (uint8_t *)(sb->cl + b->nclients);
    size_t n = 0;
    for (uint32_t i = 0; i < b->nkeys; i++) {
        const struct mkey *k = b->keys[i];
        const uint8_t *key = p;
        memcpy(p, k->key, k->klen);
        p += k->klen;
        for (uint32_t j = 0; j < k->nver; j++, n++) {
            const struct mver *v = &k->ver[j];
            sb->ver[n] = (struct sver){key, k->klen, {v->hlc, v->deleted, p, v->len}};
            if (v->len > 0) {
                memcpy(p, v->value, v->len);
            }
            p += v->len;
        }
    }
    for (uint32_t i = 0; i < b->nclients; i++) {
        const struct mclient *c = b->clients[i];
        sb->cl[i] = (struct void_kvs_client){c->id, c->reqno, c->last_seen, p, c->len};
        if (c->len > 0) {
            memcpy(p, c->reply, c->len);
        }
        p += c->len;
    }
    VOID_ASSERT(n == nver && p == (uint8_t *)sb + head + bytes);
    return sb;
}

/* Called before every change to bucket bi: gives each live snapshot that
 * still reads the live bucket its copy of it (one copy shared by all). */
static int cow(struct mem *m, uint32_t bi)
{
    VOID_ASSERT(bi < VOID_KVS_BUCKETS);
    struct sbucket *sb = NULL;
    for (uint32_t i = 0; i < VOID_KVS_SNAPSHOTS_MAX; i++) {
        struct msnap *s = m->snaps[i];
        if (s == NULL || s->saved[bi] != NULL) {
            continue;
        }
        if (sb == NULL && (sb = bucket_copy(m, bi)) == NULL) {
            return VOID_ENOMEM;
        }
        sb->refs++;
        s->saved[bi] = sb;
    }
    return 0;
}

static void sbucket_unref(struct sbucket *sb)
{
    VOID_ASSERT(sb == NULL || sb->refs > 0);
    if (sb != NULL && --sb->refs == 0) {
        free(sb);
    }
}

/* ---- versions ------------------------------------------------------------------ */

/* Index of the newest version at or before as_of, or -1. */
static long visible(const struct mkey *k, struct void_hlc_ts as_of)
{
    uint32_t lo = 0, hi = k->nver; /* first version after as_of */
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        if (void_hlc_compare(k->ver[mid].hlc, as_of) <= 0) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    return (long)lo - 1;
}

static void fill_version(const struct mver *v, struct void_kvs_version *out)
{
    out->hlc = v->hlc;
    out->deleted = v->deleted;
    out->value = v->value;
    out->value_len = v->len;
}

static int
shadow_push(struct mem *m, struct void_hlc_ts t, struct void_hlc_ts t0, const uint8_t h[H])
{
    if (m->shadow_len == m->shadow_cap) {
        if (m->shadow_head > 0) {
            memmove(m->shadow,
                    m->shadow + m->shadow_head,
                    (m->shadow_len - m->shadow_head) * sizeof(*m->shadow));
            m->shadow_len -= m->shadow_head;
            m->shadow_head = 0;
        }
        if (m->shadow_len == m->shadow_cap) {
            size_t ncap = m->shadow_cap == 0 ? 64 : m->shadow_cap * 2;
            struct shadow *p = realloc(m->shadow, ncap * sizeof(*p));
            if (p == NULL) {
                return VOID_ENOMEM;
            }
            m->shadow = p;
            m->shadow_cap = ncap;
        }
    }
    struct shadow *s = &m->shadow[m->shadow_len++];
    s->t = t;
    s->t0 = t0;
    memcpy(s->h, h, H);
    return 0;
}

/* Creates the record of a new key (not yet in any index). */
static struct mkey *key_new(const uint8_t *key, size_t len, const uint8_t h[H])
{
    struct mkey *k = calloc(1, sizeof(*k) + len);
    if (k == NULL) {
        return NULL;
    }
    memcpy(k->h, h, H);
    k->prio = void_bytes_get_be64(h + 8);
    k->klen = (uint32_t)len;
    memcpy(k->key, key, len);
    return k;
}

static int key_link(struct mem *m, struct mkey *k)
{
    struct mbucket *b = &m->buckets[void_kvs_bucket_of(k->h)];
    int rc = grow((void **)&b->keys, b->nkeys, &b->kcap, sizeof(*b->keys));
    if (rc != 0) {
        return rc;
    }
    int found;
    uint32_t i = bsearch_hash((void *const *)b->keys, b->nkeys, k->h, &found);
    VOID_ASSERT(!found);
    memmove(&b->keys[i + 1], &b->keys[i], (b->nkeys - i) * sizeof(*b->keys));
    b->keys[i] = k;
    b->nkeys++;
    m->root = treap_insert(m->root, k);
    m->st.keys++;
    return 0;
}

static void key_unlink_free(struct mem *m, struct mkey *k)
{
    VOID_ASSERT(k->nver == 0);
    struct mbucket *b = &m->buckets[void_kvs_bucket_of(k->h)];
    int found;
    uint32_t i = bsearch_hash((void *const *)b->keys, b->nkeys, k->h, &found);
    VOID_ASSERT(found && b->keys[i] == k);
    memmove(&b->keys[i], &b->keys[i + 1], (b->nkeys - i - 1) * sizeof(*b->keys));
    b->nkeys--;
    m->root = treap_remove(m->root, k);
    m->st.keys--;
    free(k->ver);
    free(k);
}

/* Writes a version of key at the batch's HLC: appended, or replacing the
 * newest when the batch already wrote one. */
static int write_version(
    struct mem *m, const uint8_t *key, size_t klen, int deleted, const uint8_t *value, size_t len)
{
    VOID_ASSERT(m->in_batch && !m->failed);
    uint8_t h[H];
    void_kvs_key_hash(key, klen, h);
    struct mkey *k = key_lookup(m, h);
    struct mver *newest = k != NULL && k->nver > 0 ? &k->ver[k->nver - 1] : NULL;
    if (deleted && (newest == NULL || newest->deleted)) {
        return VOID_ENOTFOUND;
    }
    int replace = newest != NULL && void_hlc_compare(newest->hlc, m->batch) == 0;
    uint64_t freed = replace ? void__kvs_version_cost(klen, newest->len) : 0;
    if (!void__kvs_fits(
            m->st.bytes_used, freed, void__kvs_version_cost(klen, len), m->quota, deleted)) {
        return VOID_EFULL;
    }
    int rc = cow(m, void_kvs_bucket_of(h));
    if (rc != 0) {
        return rc;
    }
    uint8_t *copy = NULL;
    if (len > 0 && (copy = malloc(len)) == NULL) {
        return VOID_ENOMEM;
    }
    if (len > 0) {
        memcpy(copy, value, len);
    }
    if (k == NULL && ((k = key_new(key, klen, h)) == NULL || (rc = key_link(m, k)) != 0)) {
        free(k);
        free(copy);
        return VOID_ENOMEM;
    }
    if (!replace && (rc = grow((void **)&k->ver, k->nver, &k->cap, sizeof(*k->ver))) != 0) {
        free(copy);
        return rc;
    }
    if (!replace && newest != NULL) {
        rc = shadow_push(m, m->batch, k->ver[k->nver - 1].hlc, h);
    }
    if (rc == 0 && deleted) {
        rc = shadow_push(m, m->batch, m->batch, h);
    }
    if (rc != 0) {
        free(copy);
        return rc;
    }
    struct mver *v;
    if (replace) {
        v = &k->ver[k->nver - 1];
        free(v->value);
    } else {
        v = &k->ver[k->nver++];
        m->st.versions++;
    }
    v->hlc = m->batch;
    v->deleted = (uint8_t)(deleted != 0);
    v->value = copy;
    v->len = (uint32_t)len;
    void_kvs_version_hash(key, klen, m->batch, deleted, value, len, v->hash);
    m->st.bytes_used = m->st.bytes_used - freed + void__kvs_version_cost(klen, len);
    void__kvs_dirty_add(&m->dirty, void_kvs_bucket_of(h));
    return 0;
}

/* ---- ops ----------------------------------------------------------------------- */

static int mem_begin(void *impl, struct void_hlc_ts hlc, uint64_t label)
{
    struct mem *m = impl;
    VOID_ASSERT(!m->in_batch);
    if (m->failed) {
        return m->failed;
    }
    if (void_hlc_compare(hlc, m->st.last) <= 0) {
        return VOID_EINVAL;
    }
    m->in_batch = 1;
    m->batch = hlc;
    m->st.last = hlc;
    m->st.applied = label;
    VOID_ASSERT(m->dirty.count == 0);
    return 0;
}

static void bucket_digest(struct mem *m, uint32_t bi, uint8_t out[H])
{
    struct mbucket *b = &m->buckets[bi];
    struct void_kvs_bucket_ctx c;
    void_kvs_bucket_init(&c, bi);
    for (uint32_t i = 0; i < b->nkeys; i++) {
        for (uint32_t j = 0; j < b->keys[i]->nver; j++) {
            void_kvs_bucket_add_version(&c, b->keys[i]->ver[j].hash);
        }
    }
    for (uint32_t i = 0; i < b->nclients; i++) {
        void_kvs_bucket_add_client(&c, b->clients[i]->ehash);
    }
    void_kvs_bucket_final(&c, out);
}

static int mem_commit(void *impl)
{
    struct mem *m = impl;
    VOID_ASSERT(m->in_batch && !m->loading);
    m->in_batch = 0;
    if (m->failed) {
        return m->failed;
    }
    for (uint32_t i = 0; i < m->dirty.count; i++) {
        bucket_digest(m, m->dirty.list[i], m->pending[i]);
        for (uint32_t j = 0; j < VOID_KVS_SNAPSHOTS_MAX; j++) {
            /* Every change went through cow() first. */
            VOID_ASSERT(m->snaps[j] == NULL || m->snaps[j]->saved[m->dirty.list[i]] != NULL);
        }
    }
    void__kvs_tree_set_many(
        &m->tree, m->dirty.list, (const uint8_t(*)[H])m->pending, m->dirty.count);
    void__kvs_dirty_clear(&m->dirty);
    return 0;
}

/* A local failure (out of memory) leaves the batch half applied: the store
 * refuses everything from then on, as the interface requires. */
static int fail(struct mem *m, int rc)
{
    if (rc == VOID_ENOMEM) {
        m->failed = rc;
    }
    return rc;
}

static int mem_put(void *impl, const uint8_t *key, size_t klen, const uint8_t *value, size_t len)
{
    struct mem *m = impl;
    VOID_ASSERT(m->in_batch && !m->loading);
    if (m->failed) {
        return m->failed;
    }
    if (void__kvs_check_key(key, klen) != 0 || len > VOID_KVS_VALUE_MAX ||
        (value == NULL && len != 0)) {
        return VOID_EINVAL;
    }
    return fail(m, write_version(m, key, klen, 0, value, len));
}

static int mem_del(void *impl, const uint8_t *key, size_t klen)
{
    struct mem *m = impl;
    VOID_ASSERT(m->in_batch && !m->loading);
    if (m->failed) {
        return m->failed;
    }
    if (void__kvs_check_key(key, klen) != 0) {
        return VOID_EINVAL;
    }
    return fail(m, write_version(m, key, klen, 1, NULL, 0));
}

static int mem_get(void *impl,
                   const uint8_t *key,
                   size_t klen,
                   const struct void_hlc_ts *as_of,
                   struct void_kvs_version *out)
{
    struct mem *m = impl;
    VOID_ASSERT(out != NULL);
    memset(out, 0, sizeof(*out));
    if (m->failed) {
        return m->failed;
    }
    int rc = void__kvs_check_key(key, klen);
    if (rc == 0) {
        rc = void__kvs_check_read(NULL, as_of, m->st.horizon);
    }
    if (rc != 0) {
        return rc;
    }
    uint8_t h[H];
    void_kvs_key_hash(key, klen, h);
    const struct mkey *k = key_lookup(m, h);
    long i = k == NULL ? -1 : visible(k, as_of != NULL ? *as_of : hlc_max);
    if (i < 0) {
        return VOID_ENOTFOUND;
    }
    fill_version(&k->ver[i], out);
    return 0;
}

static int mem_scan(void *impl,
                    const struct void_kvs_range *r,
                    const struct void_hlc_ts *as_of,
                    size_t limit,
                    void_kvs_scan_fn fn,
                    void *arg,
                    size_t *emitted,
                    int *more)
{
    struct mem *m = impl;
    VOID_ASSERT(fn != NULL && emitted != NULL && more != NULL);
    *emitted = 0;
    *more = 0;
    if (m->failed) {
        return m->failed;
    }
    int rc = void__kvs_check_read(r, as_of, m->st.horizon);
    if (rc != 0) {
        return rc;
    }
    struct void_hlc_ts at = as_of != NULL ? *as_of : hlc_max;
    const struct mkey *k = r != NULL && r->start != NULL
                               ? treap_seek(m->root, r->start, r->start_len, r->start_after)
                               : treap_seek(m->root, NULL, 0, 0);
    for (; k != NULL && void__kvs_below_end(r, k->key, k->klen);
         k = treap_seek(m->root, k->key, k->klen, 1)) {
        long i = visible(k, at);
        if (i < 0 || k->ver[i].deleted) {
            continue;
        }
        if (limit != 0 && *emitted == limit) {
            *more = 1;
            break;
        }
        struct void_kvs_version v;
        fill_version(&k->ver[i], &v);
        (*emitted)++;
        if ((rc = fn(arg, k->key, k->klen, &v)) != 0) {
            return rc;
        }
    }
    return 0;
}

/* Applies shadow entry (t, h, t0): drops version t0 of the key with hash h
 * when it is still there and still hidden at t: a tombstone when t == t0,
 * else the version at t still exists. Drops the key when nothing is left. */
static int drop_version(struct mem *m, struct void_hlc_ts t, const uint8_t h[H], struct void_hlc_ts t0)
{
    struct mkey *k = key_lookup(m, h);
    long i = k == NULL ? -1 : visible(k, t0);
    int own = void_hlc_compare(t, t0) == 0;
    if (i < 0 || void_hlc_compare(k->ver[i].hlc, t0) != 0 || (own && !k->ver[i].deleted)) {
        return 0; /* already dropped, or replaced within its batch */
    }
    if (!own) {
        /* The hiding version must still be there: after a bucket was replaced
         * by a load, an entry of the old contents must not drop a version of
         * the new (docs/kvs.md, "Loading"). */
        long j = visible(k, t);
        if (j < 0 || void_hlc_compare(k->ver[j].hlc, t) != 0) {
            return 0;
        }
    }
    int rc = cow(m, void_kvs_bucket_of(h));
    if (rc != 0) {
        return rc;
    }
    struct mver *v = &k->ver[i];
    m->st.bytes_used -= void__kvs_version_cost(k->klen, v->len);
    m->st.versions--;
    free(v->value);
    memmove(v, v + 1, (k->nver - (uint32_t)i - 1) * sizeof(*v));
    k->nver--;
    void__kvs_dirty_add(&m->dirty, void_kvs_bucket_of(h));
    if (k->nver == 0) {
        key_unlink_free(m, k);
    }
    return 0;
}

static int mem_compact(void *impl, struct void_hlc_ts horizon)
{
    struct mem *m = impl;
    VOID_ASSERT(m->in_batch && !m->loading);
    if (m->failed) {
        return m->failed;
    }
    if (void_hlc_compare(horizon, m->batch) > 0) {
        return VOID_EINVAL;
    }
    if (void_hlc_compare(horizon, m->st.horizon) <= 0) {
        return 0;
    }
    m->st.horizon = horizon;
    while (m->shadow_head < m->shadow_len &&
           void_hlc_compare(m->shadow[m->shadow_head].t, horizon) <= 0) {
        const struct shadow *s = &m->shadow[m->shadow_head];
        int rc = drop_version(m, s->t, s->h, s->t0);
        if (rc != 0) {
            return fail(m, rc);
        }
        m->shadow_head++;
    }
    VOID_ASSERT(m->shadow_head <= m->shadow_len);
    return 0;
}

static struct mclient *client_lookup(struct mem *m, uint64_t id, uint32_t *pos, int *found)
{
    uint8_t h[H];
    void_kvs_client_id_hash(id, h);
    struct mbucket *b = &m->buckets[void_kvs_bucket_of(h)];
    *pos = bsearch_hash((void *const *)b->clients, b->nclients, h, found);
    return *found ? b->clients[*pos] : NULL;
}

static int mem_client_put(void *impl, uint64_t id, uint64_t reqno, const uint8_t *reply, size_t len)
{
    struct mem *m = impl;
    VOID_ASSERT(m->in_batch && !m->loading);
    if (m->failed) {
        return m->failed;
    }
    if (len > VOID_KVS_REPLY_MAX || (reply == NULL && len != 0)) {
        return VOID_EINVAL;
    }
    uint32_t pos;
    int found;
    struct mclient *c = client_lookup(m, id, &pos, &found);
    uint64_t freed = c != NULL ? void__kvs_client_cost(c->len) : 0;
    if (!void__kvs_fits(m->st.bytes_used, freed, void__kvs_client_cost(len), m->quota, 1)) {
        return VOID_EFULL;
    }
    uint8_t hh[H];
    void_kvs_client_id_hash(id, hh);
    if (cow(m, void_kvs_bucket_of(hh)) != 0) {
        return fail(m, VOID_ENOMEM);
    }
    uint8_t *copy = NULL;
    if (len > 0 && (copy = malloc(len)) == NULL) {
        return fail(m, VOID_ENOMEM);
    }
    if (len > 0) {
        memcpy(copy, reply, len);
    }
    if (c == NULL) {
        uint8_t h[H];
        void_kvs_client_id_hash(id, h);
        struct mbucket *b = &m->buckets[void_kvs_bucket_of(h)];
        if ((c = calloc(1, sizeof(*c))) == NULL ||
            grow((void **)&b->clients, b->nclients, &b->ccap, sizeof(*b->clients)) != 0) {
            free(c);
            free(copy);
            return fail(m, VOID_ENOMEM);
        }
        memcpy(c->h, h, H);
        c->id = id;
        memmove(&b->clients[pos + 1], &b->clients[pos], (b->nclients - pos) * sizeof(*b->clients));
        b->clients[pos] = c;
        b->nclients++;
        m->st.clients++;
    }
    free(c->reply);
    c->reply = copy;
    c->len = len;
    c->reqno = reqno;
    c->last_seen = m->batch;
    struct void_kvs_client view = {id, reqno, m->batch, copy, len};
    void_kvs_client_hash(&view, c->ehash);
    m->st.bytes_used = m->st.bytes_used - freed + void__kvs_client_cost(len);
    void__kvs_dirty_add(&m->dirty, void_kvs_bucket_of(c->h));
    return 0;
}

static int mem_client_get(void *impl, uint64_t id, struct void_kvs_client *out)
{
    struct mem *m = impl;
    VOID_ASSERT(out != NULL);
    memset(out, 0, sizeof(*out));
    if (m->failed) {
        return m->failed;
    }
    uint32_t pos;
    int found;
    const struct mclient *c = client_lookup(m, id, &pos, &found);
    if (c == NULL) {
        return VOID_ENOTFOUND;
    }
    out->id = c->id;
    out->reqno = c->reqno;
    out->last_seen = c->last_seen;
    out->reply = c->reply;
    out->reply_len = c->len;
    return 0;
}

static int mem_client_expire(void *impl, struct void_hlc_ts older_than, uint64_t *expired)
{
    struct mem *m = impl;
    VOID_ASSERT(m->in_batch && !m->loading);
    uint64_t n = 0;
    if (m->failed) {
        return m->failed;
    }
    /* A sweep over every client: the simulator's client tables are small;
     * the LMDB store walks an index by last_seen instead. */
    for (uint32_t bi = 0; bi < VOID_KVS_BUCKETS; bi++) {
        struct mbucket *b = &m->buckets[bi];
        uint32_t keep = 0, gone = 0;
        for (uint32_t i = 0; i < b->nclients; i++) {
            gone += void_hlc_compare(b->clients[i]->last_seen, older_than) < 0;
        }
        if (gone == 0) {
            continue;
        }
        if (cow(m, bi) != 0) {
            return fail(m, VOID_ENOMEM);
        }
        for (uint32_t i = 0; i < b->nclients; i++) {
            struct mclient *c = b->clients[i];
            if (void_hlc_compare(c->last_seen, older_than) < 0) {
                m->st.bytes_used -= void__kvs_client_cost(c->len);
                free(c->reply);
                free(c);
                n++;
            } else {
                b->clients[keep++] = c;
            }
        }
        if (keep != b->nclients) {
            b->nclients = keep;
            void__kvs_dirty_add(&m->dirty, bi);
        }
    }
    m->st.clients -= n;
    if (expired != NULL) {
        *expired = n;
    }
    return 0;
}

/* Partition bi of the live store. */
static int partition_live(const struct mem *m,
                          uint32_t bi,
                          void_kvs_scan_fn version_fn,
                          void_kvs_client_fn client_fn,
                          void *arg)
{
    VOID_ASSERT(bi < VOID_KVS_BUCKETS);
    const struct mbucket *b = &m->buckets[bi];
    int rc = 0;
    for (uint32_t i = 0; i < b->nkeys && version_fn != NULL && rc == 0; i++) {
        const struct mkey *k = b->keys[i];
        for (uint32_t j = 0; j < k->nver && rc == 0; j++) {
            struct void_kvs_version v;
            fill_version(&k->ver[j], &v);
            rc = version_fn(arg, k->key, k->klen, &v);
        }
    }
    for (uint32_t i = 0; i < b->nclients && client_fn != NULL && rc == 0; i++) {
        const struct mclient *c = b->clients[i];
        struct void_kvs_client view = {c->id, c->reqno, c->last_seen, c->reply, c->len};
        rc = client_fn(arg, &view);
    }
    return rc;
}

static int mem_partition(
    void *impl, uint32_t bi, void_kvs_scan_fn version_fn, void_kvs_client_fn client_fn, void *arg)
{
    struct mem *m = impl;
    VOID_ASSERT(!m->in_batch);
    if (m->failed) {
        return m->failed;
    }
    if (bi >= VOID_KVS_BUCKETS) {
        return VOID_EINVAL;
    }
    return partition_live(m, bi, version_fn, client_fn, arg);
}

/* ---- snapshots ------------------------------------------------------------------- */

static int mem_snapshot_take(void *impl, struct void_kvs_snap **out)
{
    struct mem *m = impl;
    VOID_ASSERT(!m->in_batch && out != NULL);
    *out = NULL;
    if (m->failed) {
        return m->failed;
    }
    uint32_t slot = 0;
    while (slot < VOID_KVS_SNAPSHOTS_MAX && m->snaps[slot] != NULL) {
        slot++;
    }
    if (slot == VOID_KVS_SNAPSHOTS_MAX) {
        return VOID_EFULL;
    }
    /* Every saved[] starts NULL: the snapshot reads the live buckets until
     * cow() gives it a copy. */
    struct msnap *s = calloc(1, sizeof(*s));
    if (s == NULL) {
        return VOID_ENOMEM;
    }
    s->st = m->st;
    s->st.quota = m->quota;
    void_kvs_root(m->tree.node[1], m->st.horizon, m->st.last, s->digest);
    m->snaps[slot] = s;
    *out = (struct void_kvs_snap *)(void *)s;
    return 0;
}

static void mem_snapshot_release(void *impl, struct void_kvs_snap *snap)
{
    struct mem *m = impl;
    struct msnap *s = (struct msnap *)(void *)snap;
    uint32_t slot = 0;
    while (slot < VOID_KVS_SNAPSHOTS_MAX && m->snaps[slot] != s) {
        slot++;
    }
    VOID_ASSERT(s != NULL && slot < VOID_KVS_SNAPSHOTS_MAX); /* a live snapshot of this store */
    for (uint32_t bi = 0; bi < VOID_KVS_BUCKETS; bi++) {
        sbucket_unref(s->saved[bi]);
    }
    free(s);
    m->snaps[slot] = NULL;
}

static struct msnap *snap_of(struct mem *m, struct void_kvs_snap *snap)
{
    struct msnap *s = (struct msnap *)(void *)snap;
    int live = 0;
    for (uint32_t i = 0; i < VOID_KVS_SNAPSHOTS_MAX; i++) {
        live |= s != NULL && m->snaps[i] == s;
    }
    VOID_ASSERT(live); /* not released, and of this store */
    return s;
}

static int mem_snap_partition(void *impl,
                              struct void_kvs_snap *snap,
                              uint32_t bi,
                              void_kvs_scan_fn version_fn,
                              void_kvs_client_fn client_fn,
                              void *arg)
{
    struct mem *m = impl;
    const struct msnap *s = snap_of(m, snap);
    if (m->failed) {
        return m->failed;
    }
    if (bi >= VOID_KVS_BUCKETS) {
        return VOID_EINVAL;
    }
    const struct sbucket *sb = s->saved[bi];
    if (sb == NULL) {
        return partition_live(m, bi, version_fn, client_fn, arg);
    }
    int rc = 0;
    for (uint32_t i = 0; i < sb->nver && version_fn != NULL && rc == 0; i++) {
        rc = version_fn(arg, sb->ver[i].key, sb->ver[i].klen, &sb->ver[i].v);
    }
    for (uint32_t i = 0; i < sb->ncl && client_fn != NULL && rc == 0; i++) {
        rc = client_fn(arg, &sb->cl[i]);
    }
    return rc;
}

static int mem_snap_bucket_digest(void *impl, struct void_kvs_snap *snap, uint32_t bi, uint8_t out[H])
{
    struct mem *m = impl;
    const struct msnap *s = snap_of(m, snap);
    if (bi >= VOID_KVS_BUCKETS) {
        return VOID_EINVAL;
    }
    /* A bucket not copied was not changed since the take, so the tree still
     * holds its digest then (the tree changes only at a commit, and only for
     * buckets changed, which cow() copied first). */
    memcpy(out, s->saved[bi] != NULL ? s->saved[bi]->digest : m->tree.digest[bi], H);
    return m->failed;
}

static int mem_snap_digest(void *impl, struct void_kvs_snap *snap, uint8_t out[H])
{
    struct mem *m = impl;
    const struct msnap *s = snap_of(m, snap);
    memcpy(out, s->digest, H);
    return m->failed;
}

static void mem_snap_stats(void *impl, struct void_kvs_snap *snap, struct void_kvs_stats *out)
{
    struct mem *m = impl;
    VOID_ASSERT(out != NULL);
    *out = snap_of(m, snap)->st;
}

/* ---- loading ----------------------------------------------------------------------- */

/* Frees the records of bucket bi and takes them out of the indexes and
 * counters (its shadow entries stay: drop_version ignores them). */
static int clear_bucket(struct mem *m, uint32_t bi)
{
    struct mbucket *b = &m->buckets[bi];
    if (b->nkeys == 0 && b->nclients == 0) {
        return 0;
    }
    int rc = cow(m, bi);
    if (rc != 0) {
        return rc;
    }
    while (b->nkeys > 0) {
        struct mkey *k = b->keys[b->nkeys - 1];
        for (uint32_t j = 0; j < k->nver; j++) {
            m->st.bytes_used -= void__kvs_version_cost(k->klen, k->ver[j].len);
            free(k->ver[j].value);
        }
        m->st.versions -= k->nver;
        k->nver = 0;
        key_unlink_free(m, k);
    }
    for (uint32_t i = 0; i < b->nclients; i++) {
        m->st.bytes_used -= void__kvs_client_cost(b->clients[i]->len);
        free(b->clients[i]->reply);
        free(b->clients[i]);
    }
    m->st.clients -= b->nclients;
    b->nclients = 0;
    void__kvs_dirty_add(&m->dirty, bi);
    return 0;
}

static int mem_load_begin(
    void *impl, int empty, struct void_hlc_ts horizon, struct void_hlc_ts last, uint64_t label)
{
    struct mem *m = impl;
    VOID_ASSERT(!m->in_batch);
    if (m->failed) {
        return m->failed;
    }
    if (void_hlc_compare(horizon, last) > 0) {
        return VOID_EINVAL;
    }
    m->in_batch = 1;
    m->loading = 1;
    m->load_horizon = horizon;
    m->st.horizon = horizon;
    m->st.last = last;
    m->st.applied = label;
    for (uint32_t bi = 0; empty && bi < VOID_KVS_BUCKETS; bi++) {
        int rc = clear_bucket(m, bi);
        if (rc != 0) {
            return fail(m, rc);
        }
    }
    if (empty) {
        m->shadow_head = m->shadow_len = 0;
    }
    return 0;
}

static int mem_load_clear(void *impl, uint32_t bi)
{
    struct mem *m = impl;
    VOID_ASSERT(m->loading);
    if (m->failed) {
        return m->failed;
    }
    if (bi >= VOID_KVS_BUCKETS) {
        return VOID_EINVAL;
    }
    return fail(m, clear_bucket(m, bi));
}

static int
mem_load_version(void *impl, const uint8_t *key, size_t klen, const struct void_kvs_version *v)
{
    struct mem *m = impl;
    VOID_ASSERT(m->loading && v != NULL);
    if (m->failed) {
        return m->failed;
    }
    if (void__kvs_check_key(key, klen) != 0 || v->value_len > VOID_KVS_VALUE_MAX ||
        (v->value == NULL && v->value_len != 0) || (v->deleted && v->value_len != 0) ||
        v->deleted > 1 || void_hlc_compare(v->hlc, m->st.last) > 0) {
        return VOID_EINVAL;
    }
    uint8_t h[H];
    void_kvs_key_hash(key, klen, h);
    struct mkey *k = key_lookup(m, h);
    const struct mver *prev = k != NULL && k->nver > 0 ? &k->ver[k->nver - 1] : NULL;
    if (!void__kvs_load_fits(prev != NULL ? &prev->hlc : NULL,
                             v->hlc,
                             v->deleted,
                             m->load_horizon)) {
        return VOID_EINVAL;
    }
    int rc = cow(m, void_kvs_bucket_of(h));
    uint8_t *copy = NULL;
    if (rc == 0 && v->value_len > 0 && (copy = malloc(v->value_len)) == NULL) {
        rc = VOID_ENOMEM;
    }
    if (rc == 0 && k == NULL && ((k = key_new(key, klen, h)) == NULL || key_link(m, k) != 0)) {
        free(k);
        rc = VOID_ENOMEM;
    }
    if (rc == 0) {
        rc = grow((void **)&k->ver, k->nver, &k->cap, sizeof(*k->ver));
    }
    /* The shadow entries a batch would have left (docs/kvs.md, "Loading"). */
    if (rc == 0 && k->nver > 0) {
        rc = shadow_push(m, v->hlc, k->ver[k->nver - 1].hlc, h);
    }
    if (rc == 0 && v->deleted) {
        rc = shadow_push(m, v->hlc, v->hlc, h);
    }
    if (rc != 0) {
        free(copy);
        return fail(m, rc);
    }
    if (v->value_len > 0) {
        memcpy(copy, v->value, v->value_len);
    }
    struct mver *nv = &k->ver[k->nver++];
    nv->hlc = v->hlc;
    nv->deleted = v->deleted;
    nv->value = copy;
    nv->len = (uint32_t)v->value_len;
    void_kvs_version_hash(key, klen, v->hlc, v->deleted, copy, v->value_len, nv->hash);
    m->st.versions++;
    m->st.bytes_used += void__kvs_version_cost(klen, v->value_len);
    void__kvs_dirty_add(&m->dirty, void_kvs_bucket_of(h));
    return 0;
}

static int mem_load_client(void *impl, const struct void_kvs_client *c)
{
    struct mem *m = impl;
    VOID_ASSERT(m->loading && c != NULL);
    if (m->failed) {
        return m->failed;
    }
    uint32_t pos;
    int found;
    if (c->reply_len > VOID_KVS_REPLY_MAX || (c->reply == NULL && c->reply_len != 0) ||
        void_hlc_compare(c->last_seen, m->st.last) > 0 ||
        client_lookup(m, c->id, &pos, &found) != NULL) {
        return VOID_EINVAL;
    }
    uint8_t h[H];
    void_kvs_client_id_hash(c->id, h);
    uint32_t bi = void_kvs_bucket_of(h);
    struct mbucket *b = &m->buckets[bi];
    struct mclient *nc = NULL;
    uint8_t *copy = NULL;
    if (cow(m, bi) != 0 || (nc = calloc(1, sizeof(*nc))) == NULL ||
        (c->reply_len > 0 && (copy = malloc(c->reply_len)) == NULL) ||
        grow((void **)&b->clients, b->nclients, &b->ccap, sizeof(*b->clients)) != 0) {
        free(nc);
        free(copy);
        return fail(m, VOID_ENOMEM);
    }
    if (c->reply_len > 0) {
        memcpy(copy, c->reply, c->reply_len);
    }
    memcpy(nc->h, h, H);
    nc->id = c->id;
    nc->reqno = c->reqno;
    nc->last_seen = c->last_seen;
    nc->reply = copy;
    nc->len = c->reply_len;
    struct void_kvs_client view = {c->id, c->reqno, c->last_seen, copy, c->reply_len};
    void_kvs_client_hash(&view, nc->ehash);
    memmove(&b->clients[pos + 1], &b->clients[pos], (b->nclients - pos) * sizeof(*b->clients));
    b->clients[pos] = nc;
    b->nclients++;
    m->st.clients++;
    m->st.bytes_used += void__kvs_client_cost(c->reply_len);
    void__kvs_dirty_add(&m->dirty, bi);
    return 0;
}

static int cmp_shadow(const void *a, const void *b)
{
    const struct shadow *x = a, *y = b;
    int c = void_hlc_compare(x->t, y->t);
    if (c == 0) {
        c = memcmp(x->h, y->h, H);
    }
    return c != 0 ? c : void_hlc_compare(x->t0, y->t0);
}

static int mem_load_end(void *impl)
{
    struct mem *m = impl;
    VOID_ASSERT(m->loading);
    m->loading = 0;
    if (!m->failed) {
        m->st.partial = 0;
    }
    /* Loaded entries came in bucket order, not time order: compaction needs
     * the FIFO ordered by t. (t, h, t0) order is also the LMDB table's. */
    if (m->shadow_len > m->shadow_head) {
        qsort(m->shadow + m->shadow_head,
              m->shadow_len - m->shadow_head,
              sizeof(*m->shadow),
              cmp_shadow);
    }
    return mem_commit(impl);
}

/* The digests of what the load changed so far, as a commit computes them;
 * the load goes on. Nothing here can be lost by a crash (the simulator's
 * crashes fall between steps), but the store says it is partial as LMDB's
 * does, so that both answer alike. */
static int mem_load_commit(void *impl)
{
    struct mem *m = impl;
    VOID_ASSERT(m->loading && m->in_batch);
    m->loading = 0;
    int rc = mem_commit(impl);
    m->in_batch = 1;
    m->loading = 1;
    if (rc == 0) {
        m->st.partial = 1;
    }
    VOID_ASSERT(rc != 0 || m->dirty.count == 0);
    return rc;
}

static int mem_stage_put(void *impl,
                         size_t n,
                         const uint16_t *buckets,
                         const uint8_t *const *bufs,
                         const uint32_t *lens)
{
    struct mem *m = impl;
    VOID_ASSERT(!m->in_batch && (n == 0 || (buckets != NULL && bufs != NULL && lens != NULL)));
    if (m->failed) {
        return m->failed;
    }
    for (size_t i = 0; i < n; i++) {
        if (buckets[i] >= VOID_KVS_BUCKETS) {
            return VOID_EINVAL;
        }
    }
    for (size_t i = 0; i < n; i++) {
        uint8_t *copy = malloc(lens[i] > 0 ? lens[i] : 1);
        if (copy == NULL) {
            return fail(m, VOID_ENOMEM);
        }
        if (lens[i] > 0) {
            memcpy(copy, bufs[i], lens[i]);
        }
        free(m->stage[buckets[i]]);
        m->stage[buckets[i]] = copy;
        m->stage_len[buckets[i]] = lens[i];
    }
    return 0;
}

static int mem_stage_get(void *impl, uint32_t bi, uint8_t *buf, size_t cap, size_t *len)
{
    struct mem *m = impl;
    VOID_ASSERT(len != NULL && (buf != NULL || cap == 0));
    VOID_ASSERT(!m->in_batch || m->loading);
    if (m->failed) {
        return m->failed;
    }
    if (bi >= VOID_KVS_BUCKETS) {
        return VOID_EINVAL;
    }
    if (m->stage[bi] == NULL) {
        return VOID_ENOTFOUND;
    }
    *len = m->stage_len[bi];
    if (cap < m->stage_len[bi]) {
        return VOID_EFULL;
    }
    memcpy(buf, m->stage[bi], m->stage_len[bi]);
    return 0;
}

static void stage_free(struct mem *m)
{
    for (uint32_t bi = 0; bi < VOID_KVS_BUCKETS; bi++) {
        free(m->stage[bi]);
        m->stage[bi] = NULL;
        m->stage_len[bi] = 0;
    }
}

static int mem_stage_clear(void *impl)
{
    struct mem *m = impl;
    VOID_ASSERT(!m->in_batch);
    stage_free(m);
    return m->failed;
}

static int mem_bucket_digest(void *impl, uint32_t bi, uint8_t out[H])
{
    struct mem *m = impl;
    VOID_ASSERT(!m->in_batch);
    if (bi >= VOID_KVS_BUCKETS) {
        return VOID_EINVAL;
    }
    memcpy(out, m->tree.digest[bi], H);
    return 0;
}

static int mem_digest(void *impl, uint8_t out[H])
{
    struct mem *m = impl;
    VOID_ASSERT(!m->in_batch);
    if (m->failed) {
        return m->failed;
    }
    void_kvs_root(m->tree.node[1], m->st.horizon, m->st.last, out);
    return 0;
}

static int mem_sync(void *impl)
{
    struct mem *m = impl;
    VOID_ASSERT(!m->in_batch);
    return m->failed;
}

static void mem_stats(void *impl, struct void_kvs_stats *out)
{
    struct mem *m = impl;
    VOID_ASSERT(out != NULL);
    *out = m->st;
}

static void free_keys(struct mkey *n)
{
    while (n != NULL) {
        free_keys(n->left);
        struct mkey *right = n->right;
        for (uint32_t i = 0; i < n->nver; i++) {
            free(n->ver[i].value);
        }
        free(n->ver);
        free(n);
        n = right;
    }
}

static void mem_close(void *impl)
{
    struct mem *m = impl;
    VOID_ASSERT(m != NULL);
    free_keys(m->root);
    for (uint32_t bi = 0; bi < VOID_KVS_BUCKETS; bi++) {
        for (uint32_t i = 0; i < m->buckets[bi].nclients; i++) {
            free(m->buckets[bi].clients[i]->reply);
            free(m->buckets[bi].clients[i]);
        }
        free(m->buckets[bi].clients);
        free(m->buckets[bi].keys);
    }
    free(m->shadow);
    stage_free(m);
    for (uint32_t i = 0; i < VOID_KVS_SNAPSHOTS_MAX; i++) {
        if (m->snaps[i] != NULL) {
            mem_snapshot_release(m, (struct void_kvs_snap *)(void *)m->snaps[i]);
        }
    }
    free(m);
}

static const struct void_kvs_ops mem_ops = {
    .begin = mem_begin,
    .commit = mem_commit,
    .put = mem_put,
    .del = mem_del,
    .get = mem_get,
    .scan = mem_scan,
    .compact = mem_compact,
    .client_put = mem_client_put,
    .client_get = mem_client_get,
    .client_expire = mem_client_expire,
    .partition = mem_partition,
    .bucket_digest = mem_bucket_digest,
    .digest = mem_digest,
    .sync = mem_sync,
    .stats = mem_stats,
    .close = mem_close,
    .snapshot_take = mem_snapshot_take,
    .snapshot_release = mem_snapshot_release,
    .snap_partition = mem_snap_partition,
    .snap_bucket_digest = mem_snap_bucket_digest,
    .snap_digest = mem_snap_digest,
    .snap_stats = mem_snap_stats,
    .load_begin = mem_load_begin,
    .load_clear = mem_load_clear,
    .load_version = mem_load_version,
    .load_client = mem_load_client,
    .load_end = mem_load_end,
    .load_commit = mem_load_commit,
    .stage_put = mem_stage_put,
    .stage_get = mem_stage_get,
    .stage_clear = mem_stage_clear,
};

int void_kvs_mem_init(struct void_kvs *kvs, const struct void_kvs_mem_config *config)
{
    VOID_ASSERT(kvs != NULL);
    memset(kvs, 0, sizeof(*kvs));
    struct mem *m = calloc(1, sizeof(*m));
    if (m == NULL) {
        return VOID_ENOMEM;
    }
    m->quota = config != NULL && config->quota != 0 ? config->quota : VOID_KVS_QUOTA_DEF;
    m->st.quota = m->quota;
    void__kvs_tree_init(&m->tree);
    kvs->ops = &mem_ops;
    kvs->impl = m;
    VOID_ASSERT(m->root == NULL);
    return 0;
}
