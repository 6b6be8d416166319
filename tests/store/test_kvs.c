/*
 * Tests of the replicated state's storage interface (include/void/kvs.h):
 * the in-memory store and the LMDB store driven by one seeded random sequence
 * of batches against a reference model kept in this file (plain sorted arrays,
 * the retention rule written out directly), with every result, counter and
 * state digest compared at every step, plus targeted tests of the limits,
 * the quota, the horizon and reopening.
 *
 * VOID_KVS_SEED=N runs only seed N; VOID_KVS_SEEDS=N runs N seeds (default
 * 3); VOID_KVS_OPS=N sets the operations per seed (default 3000). A failure
 * prints the seed and the step to replay it.
 */

/* cmocka.h needs these first, in this order. */
/* clang-format off */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
/* clang-format on */

#include "void/assert.h"
#include "void/error.h"
#include "void/hash.h"
#include "void/kvs.h"
#include "void/merkle.h"
#include "void/prng.h"

#include <dirent.h>
#include <inttypes.h>
#include <lmdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static uint64_t cur_seed;
static long cur_step;

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            print_error("%s:%d: seed %" PRIu64 " step %ld: check failed: %s\n",                    \
                        __FILE__,                                                                  \
                        __LINE__,                                                                  \
                        cur_seed,                                                                  \
                        cur_step,                                                                  \
                        #cond);                                                                    \
            fail();                                                                                \
        }                                                                                          \
    } while (0)

#define CHECK_RC(a, b)                                                                             \
    do {                                                                                           \
        int ra_ = (a), rb_ = (b);                                                                  \
        if (ra_ != rb_) {                                                                          \
            print_error("%s:%d: seed %" PRIu64 " step %ld: %s (%d) != %s (%d)\n",                  \
                        __FILE__,                                                                  \
                        __LINE__,                                                                  \
                        cur_seed,                                                                  \
                        cur_step,                                                                  \
                        void_err_name(ra_),                                                        \
                        ra_,                                                                       \
                        void_err_name(rb_),                                                        \
                        rb_);                                                                      \
            fail();                                                                                \
        }                                                                                          \
    } while (0)

static struct void_hlc_ts ts(uint64_t wall, uint32_t logical)
{
    struct void_hlc_ts t = {wall, logical};
    return t;
}

/* ---- temporary LMDB directories ------------------------------------------- */

static void make_dir(char *dir, size_t cap)
{
    const char *tmp = getenv("TMPDIR");
    snprintf(dir, cap, "%s/void-kvs-XXXXXX", tmp != NULL ? tmp : "/tmp");
    assert_non_null(mkdtemp(dir));
}

static void remove_dir(const char *dir)
{
    DIR *d = opendir(dir);
    if (d == NULL) {
        return;
    }
    struct dirent *e;
    char path[512];
    while ((e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0) {
            snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
            unlink(path);
        }
    }
    closedir(d);
    rmdir(dir);
}

/* ---- the reference model ----------------------------------------------------- */

struct model_ver {
    struct void_hlc_ts hlc;
    int deleted;
    uint8_t *value;
    size_t len;
};

struct model_key {
    uint8_t *key;
    size_t klen;
    struct model_ver *v;
    size_t n;
};

struct model_client {
    uint64_t id, reqno;
    struct void_hlc_ts seen;
    uint8_t *reply;
    size_t len;
};

struct model {
    struct model_key *keys; /* sorted by key bytes */
    size_t n;
    struct model_client *clients;
    size_t nclients;
    struct void_hlc_ts horizon, last, batch;
    uint64_t used, quota, applied;
    int in_batch;
};

static uint8_t *dup_bytes(const uint8_t *p, size_t n)
{
    uint8_t *d = malloc(n > 0 ? n : 1);
    assert_non_null(d);
    if (n > 0) {
        memcpy(d, p, n);
    }
    return d;
}

/* Index of key, or where it would go (*found says which). */
static size_t model_find(const struct model *m, const uint8_t *key, size_t klen, int *found)
{
    size_t lo = 0, hi = m->n;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        int c = void_kvs_key_compare(m->keys[mid].key, m->keys[mid].klen, key, klen);
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
    *found = 0;
    return lo;
}

/* The newest version at or before at, or NULL. */
static const struct model_ver *model_visible(const struct model_key *k, struct void_hlc_ts at)
{
    for (size_t i = k->n; i > 0; i--) {
        if (void_hlc_compare(k->v[i - 1].hlc, at) <= 0) {
            return &k->v[i - 1];
        }
    }
    return NULL;
}

static uint64_t limit_of(const struct model *m, int reserve)
{
    return m->quota + (reserve ? m->quota / 8 : 0);
}

static int model_write(
    struct model *m, const uint8_t *key, size_t klen, int deleted, const uint8_t *value, size_t len)
{
    if (klen == 0 || klen > VOID_KVS_KEY_MAX || len > VOID_KVS_VALUE_MAX) {
        return VOID_EINVAL;
    }
    int found;
    size_t i = model_find(m, key, klen, &found);
    struct model_key *k = found ? &m->keys[i] : NULL;
    struct model_ver *newest = k != NULL && k->n > 0 ? &k->v[k->n - 1] : NULL;
    if (deleted && (newest == NULL || newest->deleted)) {
        return VOID_ENOTFOUND;
    }
    int replace = newest != NULL && void_hlc_compare(newest->hlc, m->batch) == 0;
    uint64_t freed = replace ? klen + newest->len + VOID_KVS_VERSION_OVERHEAD : 0;
    uint64_t added = klen + len + VOID_KVS_VERSION_OVERHEAD;
    if (m->used - freed + added > limit_of(m, deleted)) {
        return VOID_EFULL;
    }
    if (k == NULL) {
        m->keys = realloc(m->keys, (m->n + 1) * sizeof(*m->keys));
        assert_non_null(m->keys);
        memmove(&m->keys[i + 1], &m->keys[i], (m->n - i) * sizeof(*m->keys));
        m->n++;
        k = &m->keys[i];
        memset(k, 0, sizeof(*k));
        k->key = dup_bytes(key, klen);
        k->klen = klen;
    }
    struct model_ver *v;
    if (replace) {
        v = &k->v[k->n - 1];
        free(v->value);
    } else {
        k->v = realloc(k->v, (k->n + 1) * sizeof(*k->v));
        assert_non_null(k->v);
        v = &k->v[k->n++];
    }
    v->hlc = m->batch;
    v->deleted = deleted;
    v->value = dup_bytes(value, len);
    v->len = len;
    m->used = m->used - freed + added;
    return 0;
}

static void model_remove_key(struct model *m, size_t i)
{
    free(m->keys[i].key);
    free(m->keys[i].v);
    memmove(&m->keys[i], &m->keys[i + 1], (m->n - i - 1) * sizeof(*m->keys));
    m->n--;
}

/* The retention rule, written out: keep the versions after the horizon and
 * the newest at or before it, unless that one is a tombstone. */
static int model_compact(struct model *m, struct void_hlc_ts h)
{
    if (void_hlc_compare(h, m->batch) > 0) {
        return VOID_EINVAL;
    }
    if (void_hlc_compare(h, m->horizon) <= 0) {
        return 0;
    }
    m->horizon = h;
    for (size_t i = m->n; i > 0; i--) {
        struct model_key *k = &m->keys[i - 1];
        size_t keep_from = 0;
        for (size_t j = 0; j < k->n; j++) {
            if (void_hlc_compare(k->v[j].hlc, h) <= 0) {
                keep_from = j + (k->v[j].deleted ? 1 : 0);
            }
        }
        for (size_t j = 0; j < keep_from; j++) {
            m->used -= k->klen + k->v[j].len + VOID_KVS_VERSION_OVERHEAD;
            free(k->v[j].value);
        }
        memmove(k->v, k->v + keep_from, (k->n - keep_from) * sizeof(*k->v));
        k->n -= keep_from;
        if (k->n == 0) {
            model_remove_key(m, i - 1);
        }
    }
    return 0;
}

static struct model_client *model_client(struct model *m, uint64_t id)
{
    for (size_t i = 0; i < m->nclients; i++) {
        if (m->clients[i].id == id) {
            return &m->clients[i];
        }
    }
    return NULL;
}

static int
model_client_put(struct model *m, uint64_t id, uint64_t reqno, const uint8_t *reply, size_t len)
{
    struct model_client *c = model_client(m, id);
    uint64_t freed = c != NULL ? c->len + VOID_KVS_CLIENT_OVERHEAD : 0;
    if (m->used - freed + len + VOID_KVS_CLIENT_OVERHEAD > limit_of(m, 1)) {
        return VOID_EFULL;
    }
    if (c == NULL) {
        m->clients = realloc(m->clients, (m->nclients + 1) * sizeof(*m->clients));
        assert_non_null(m->clients);
        c = &m->clients[m->nclients++];
        memset(c, 0, sizeof(*c));
        c->id = id;
    }
    free(c->reply);
    c->reply = dup_bytes(reply, len);
    c->len = len;
    c->reqno = reqno;
    c->seen = m->batch;
    m->used = m->used - freed + len + VOID_KVS_CLIENT_OVERHEAD;
    return 0;
}

static uint64_t model_expire(struct model *m, struct void_hlc_ts older_than)
{
    size_t keep = 0;
    uint64_t n = 0;
    for (size_t i = 0; i < m->nclients; i++) {
        if (void_hlc_compare(m->clients[i].seen, older_than) < 0) {
            m->used -= m->clients[i].len + VOID_KVS_CLIENT_OVERHEAD;
            free(m->clients[i].reply);
            n++;
        } else {
            m->clients[keep++] = m->clients[i];
        }
    }
    m->nclients = keep;
    return n;
}

static uint64_t model_versions(const struct model *m)
{
    uint64_t n = 0;
    for (size_t i = 0; i < m->n; i++) {
        n += m->keys[i].n;
    }
    return n;
}

struct hashed {
    uint8_t h[32];
    size_t idx;
};

static int cmp_hashed(const void *a, const void *b)
{
    return memcmp(((const struct hashed *)a)->h, ((const struct hashed *)b)->h, 32);
}

/* The bucket digests from the definition: the model's entries sorted by
 * hash. Independent of both stores' incremental bookkeeping. */
static void model_bucket_digests(const struct model *m, uint8_t (*digests)[32])
{
    struct hashed *ks = calloc(m->n + 1, sizeof(*ks));
    struct hashed *cs = calloc(m->nclients + 1, sizeof(*cs));
    assert_true(ks != NULL && cs != NULL);
    for (size_t i = 0; i < m->n; i++) {
        void_kvs_key_hash(m->keys[i].key, m->keys[i].klen, ks[i].h);
        ks[i].idx = i;
    }
    for (size_t i = 0; i < m->nclients; i++) {
        void_kvs_client_id_hash(m->clients[i].id, cs[i].h);
        cs[i].idx = i;
    }
    qsort(ks, m->n, sizeof(*ks), cmp_hashed);
    qsort(cs, m->nclients, sizeof(*cs), cmp_hashed);
    size_t ki = 0, ci = 0;
    for (uint32_t b = 0; b < VOID_KVS_BUCKETS; b++) {
        struct void_kvs_bucket_ctx c;
        void_kvs_bucket_init(&c, b);
        for (; ki < m->n && void_kvs_bucket_of(ks[ki].h) == b; ki++) {
            const struct model_key *k = &m->keys[ks[ki].idx];
            for (size_t j = 0; j < k->n; j++) {
                uint8_t eh[32];
                void_kvs_version_hash(
                    k->key, k->klen, k->v[j].hlc, k->v[j].deleted, k->v[j].value, k->v[j].len, eh);
                void_kvs_bucket_add_version(&c, eh);
            }
        }
        for (; ci < m->nclients && void_kvs_bucket_of(cs[ci].h) == b; ci++) {
            const struct model_client *mc = &m->clients[cs[ci].idx];
            struct void_kvs_client view = {mc->id, mc->reqno, mc->seen, mc->reply, mc->len};
            uint8_t eh[32];
            void_kvs_client_hash(&view, eh);
            void_kvs_bucket_add_client(&c, eh);
        }
        void_kvs_bucket_final(&c, digests[b]);
    }
    free(ks);
    free(cs);
}

/* The state digest from the definition: the bucket digests, RFC 9162 root
 * by void_merkle_build, then void_kvs_root. */
static void model_digest(const struct model *m, uint8_t out[32])
{
    uint8_t(*digests)[32] = calloc(VOID_KVS_BUCKETS, 32);
    uint8_t(*leaves)[32] = calloc(VOID_KVS_BUCKETS, 32);
    assert_true(digests != NULL && leaves != NULL);
    model_bucket_digests(m, digests);
    for (uint32_t b = 0; b < VOID_KVS_BUCKETS; b++) {
        void_merkle_leaf(digests[b], 32, leaves[b]);
    }
    uint8_t root[32];
    void_merkle_build((const uint8_t(*)[32])leaves, VOID_KVS_BUCKETS, NULL, root);
    void_kvs_root(root, m->horizon, m->last, out);
    free(digests);
    free(leaves);
}

/* A deep copy of the model: what a snapshot must keep answering. */
static void model_clone(const struct model *m, struct model *out)
{
    *out = *m;
    out->keys = calloc(m->n + 1, sizeof(*out->keys));
    out->clients = calloc(m->nclients + 1, sizeof(*out->clients));
    assert_true(out->keys != NULL && out->clients != NULL);
    for (size_t i = 0; i < m->n; i++) {
        const struct model_key *k = &m->keys[i];
        struct model_key *c = &out->keys[i];
        c->key = dup_bytes(k->key, k->klen);
        c->klen = k->klen;
        c->n = k->n;
        c->v = calloc(k->n + 1, sizeof(*c->v));
        assert_non_null(c->v);
        for (size_t j = 0; j < k->n; j++) {
            c->v[j] = k->v[j];
            c->v[j].value = dup_bytes(k->v[j].value, k->v[j].len);
        }
    }
    for (size_t i = 0; i < m->nclients; i++) {
        out->clients[i] = m->clients[i];
        out->clients[i].reply = dup_bytes(m->clients[i].reply, m->clients[i].len);
    }
}

static void model_free(struct model *m)
{
    while (m->n > 0) {
        struct model_key *k = &m->keys[m->n - 1];
        for (size_t j = 0; j < k->n; j++) {
            free(k->v[j].value);
        }
        model_remove_key(m, m->n - 1);
    }
    free(m->keys);
    for (size_t i = 0; i < m->nclients; i++) {
        free(m->clients[i].reply);
    }
    free(m->clients);
    memset(m, 0, sizeof(*m));
}

/* ---- scan results as a digest ------------------------------------------------------ */

struct collect {
    struct void_hash_ctx h;
    size_t n;
    uint8_t last[VOID_KVS_KEY_MAX];
    size_t last_len;
};

static int collect_fn(void *arg, const uint8_t *key, size_t klen, const struct void_kvs_version *v)
{
    struct collect *c = arg;
    uint8_t eh[32];
    void_kvs_version_hash(key, klen, v->hlc, v->deleted, v->value, v->value_len, eh);
    void_hash_update(&c->h, eh, sizeof(eh));
    memcpy(c->last, key, klen);
    c->last_len = klen;
    c->n++;
    return 0;
}

static int in_range(const struct void_kvs_range *r, const uint8_t *key, size_t klen)
{
    if (r->start != NULL) {
        int c = void_kvs_key_compare(key, klen, r->start, r->start_len);
        if (c < 0 || (c == 0 && r->start_after)) {
            return 0;
        }
    }
    return r->end == NULL || void_kvs_key_compare(key, klen, r->end, r->end_len) < 0;
}

/* The model's whole scan into c. Returns 0 or VOID_EKVS_TOO_OLD. */
static int model_scan(const struct model *m,
                      const struct void_kvs_range *r,
                      const struct void_hlc_ts *as_of,
                      struct collect *c)
{
    if (as_of != NULL && void_hlc_compare(*as_of, m->horizon) < 0) {
        return VOID_EKVS_TOO_OLD;
    }
    struct void_hlc_ts at = as_of != NULL ? *as_of : ts(UINT64_MAX, UINT32_MAX);
    for (size_t i = 0; i < m->n; i++) {
        const struct model_key *k = &m->keys[i];
        const struct model_ver *v = model_visible(k, at);
        if (in_range(r, k->key, k->klen) && v != NULL && !v->deleted) {
            struct void_kvs_version vv = {v->hlc, 0, v->value, v->len};
            collect_fn(c, k->key, k->klen, &vv);
        }
    }
    return 0;
}

/* A scan of the whole range in pages of `page` keys through the store, each
 * page resumed after the last key of the one before. */
static int paged_scan(struct void_kvs *kvs,
                      const struct void_kvs_range *r0,
                      const struct void_hlc_ts *as_of,
                      size_t page,
                      struct collect *c)
{
    struct void_kvs_range r = *r0;
    uint8_t *cursor = malloc(VOID_KVS_KEY_MAX);
    assert_non_null(cursor);
    int rc;
    for (int pages = 0;; pages++) {
        size_t emitted;
        int more;
        rc = void_kvs_scan(kvs, &r, as_of, page, collect_fn, c, &emitted, &more);
        CHECK(emitted <= page);
        if (rc != 0 || !more) {
            break;
        }
        CHECK(emitted == page);
        memcpy(cursor, c->last, c->last_len);
        r.start = cursor;
        r.start_len = c->last_len;
        r.start_after = 1;
        CHECK(pages < 100000);
    }
    free(cursor);
    return rc;
}

/* ---- the harness ------------------------------------------------------------------- */

/* A snapshot of both stores and the model as it was at the take. */
struct tsnap {
    int live;
    struct void_kvs_snap *a, *b;
    struct model m;
    uint8_t digest[32];
    uint8_t (*bd)[32];
};

/* A growable buffer for exports. */
struct membuf {
    uint8_t *p;
    size_t len, cap;
};

static int membuf_write(void *arg, const uint8_t *data, size_t n)
{
    struct membuf *b = arg;
    if (b->len + n > b->cap) {
        size_t cap = b->cap == 0 ? 4096 : b->cap;
        while (cap < b->len + n) {
            cap *= 2;
        }
        b->p = realloc(b->p, cap);
        assert_non_null(b->p);
        b->cap = cap;
    }
    if (n > 0) {
        memcpy(b->p + b->len, data, n);
    }
    b->len += n;
    return 0;
}

struct sut {
    struct model m;
    struct void_kvs mem, lm;
    char dir[256];
    uint64_t quota;
    struct void_prng rng;
    uint8_t keys[48][VOID_KVS_KEY_MAX];
    size_t key_len[48];
    uint8_t *val;
    uint64_t restarts, fulls, too_olds, compactions, expired, pages;
    struct tsnap snaps[2];
    uint64_t snaps_taken, snap_checks, imports;
};

static void open_lm(struct sut *s, int create)
{
    struct void_kvs_lmdb_config cfg = {.quota = s->quota, .create = create};
    CHECK_RC(void_kvs_lmdb_open(&s->lm, s->dir, &cfg), 0);
}

/* The key pool: short binary keys, keys that are prefixes of each other,
 * and long keys (past the 464-byte chunk of the LMDB trie) sharing long
 * prefixes. */
static void make_keys(struct sut *s)
{
    for (size_t i = 0; i < 48; i++) {
        uint8_t *k = s->keys[i];
        size_t len;
        if (i < 20) {
            len = 1 + void_prng_below(&s->rng, 6);
            for (size_t j = 0; j < len; j++) {
                static const uint8_t alphabet[] = {0x00, 0x01, 'a', 'b', 0x7f, 0xfe, 0xff};
                k[j] = alphabet[void_prng_below(&s->rng, sizeof(alphabet))];
            }
        } else if (i < 28) {
            /* Prefix chains: "p", "p\0", "p\0\xff", ... */
            len = i - 19;
            memcpy(k, "p\0\xff\0q\x01r\xfe", len);
        } else {
            static const size_t lens[] = {464, 465, 927, 928, 929, 1500, 4095, 4096};
            len = lens[void_prng_below(&s->rng, VOID_ARRAY_LEN(lens))];
            memset(k, 'L', len);
            /* Vary a byte near the end or at a chunk border so that long keys
             * share prefixes of 464 and 928 bytes. */
            size_t at = void_prng_below(&s->rng, 3) == 0
                            ? len - 1
                            : (len > 464 ? 463 + void_prng_below(&s->rng, 3) : len - 1);
            k[at < len ? at : len - 1] = (uint8_t)void_prng_below(&s->rng, 256);
        }
        s->key_len[i] = len;
    }
}

static size_t pick_key(struct sut *s)
{
    return (size_t)void_prng_below(&s->rng, 48);
}

static size_t pick_len(struct sut *s)
{
    uint64_t r = void_prng_below(&s->rng, 100);
    if (r < 75) {
        return (size_t)void_prng_below(&s->rng, 33);
    }
    if (r < 97) {
        return (size_t)void_prng_below(&s->rng, 3000);
    }
    return (size_t)void_prng_below(&s->rng, 120000);
}

static void fill_value(struct sut *s, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        s->val[i] = (uint8_t)void_prng_next(&s->rng);
    }
}

static void same_version(const struct void_kvs_version *a, const struct void_kvs_version *b)
{
    CHECK(void_hlc_compare(a->hlc, b->hlc) == 0);
    CHECK(a->deleted == b->deleted);
    CHECK(a->value_len == b->value_len);
    CHECK(a->value_len == 0 || memcmp(a->value, b->value, a->value_len) == 0);
}

static void check_get(struct sut *s, size_t ki, const struct void_hlc_ts *as_of)
{
    const uint8_t *key = s->keys[ki];
    size_t klen = s->key_len[ki];
    struct void_kvs_version a, b;
    int ra = void_kvs_get(&s->mem, key, klen, as_of, &a);
    int rb = void_kvs_get(&s->lm, key, klen, as_of, &b);
    int rm;
    const struct model_ver *mv = NULL;
    if (as_of != NULL && void_hlc_compare(*as_of, s->m.horizon) < 0) {
        rm = VOID_EKVS_TOO_OLD;
        s->too_olds++;
    } else {
        int found;
        size_t i = model_find(&s->m, key, klen, &found);
        mv = found
                 ? model_visible(&s->m.keys[i], as_of != NULL ? *as_of : ts(UINT64_MAX, UINT32_MAX))
                 : NULL;
        rm = mv != NULL ? 0 : VOID_ENOTFOUND;
    }
    CHECK_RC(ra, rm);
    CHECK_RC(rb, rm);
    if (rm == 0) {
        struct void_kvs_version mvv = {mv->hlc, (uint8_t)mv->deleted, mv->value, mv->len};
        same_version(&a, &mvv);
        same_version(&b, &mvv);
    }
}

/* A range (from the key pool, a prefix, or everything) and a paginated scan
 * of it at as_of through both stores, against the model's. */
static void check_scan(struct sut *s, const struct void_hlc_ts *as_of)
{
    struct void_kvs_range r = {0};
    uint8_t endbuf[VOID_KVS_KEY_MAX];
    uint64_t kind = void_prng_below(&s->rng, 4);
    size_t a = pick_key(s), b = pick_key(s);
    if (kind == 1) {
        size_t plen = 1 + void_prng_below(&s->rng, s->key_len[a]);
        void_kvs_prefix_range(s->keys[a], plen, endbuf, &r);
    } else if (kind >= 2) {
        r.start = s->keys[a];
        r.start_len = s->key_len[a];
        r.start_after = (int)void_prng_below(&s->rng, 2);
        if (kind == 3) {
            r.end = s->keys[b];
            r.end_len = s->key_len[b];
        }
    }
    size_t page = 1 + void_prng_below(&s->rng, 6);
    struct collect cm, ca, cb;
    void_hash_init(&cm.h);
    void_hash_init(&ca.h);
    void_hash_init(&cb.h);
    cm.n = ca.n = cb.n = 0;
    int rm = model_scan(&s->m, &r, as_of, &cm);
    CHECK_RC(paged_scan(&s->mem, &r, as_of, page, &ca), rm);
    CHECK_RC(paged_scan(&s->lm, &r, as_of, page, &cb), rm);
    CHECK(ca.n == cm.n && cb.n == cm.n);
    uint8_t hm[32], ha[32], hb[32];
    void_hash_final(&cm.h, hm);
    void_hash_final(&ca.h, ha);
    void_hash_final(&cb.h, hb);
    CHECK(memcmp(ha, hm, 32) == 0);
    CHECK(memcmp(hb, hm, 32) == 0);
    s->pages += cm.n / page;
    /* A count is a scan without a limit. */
    size_t na, nb;
    int more;
    struct collect tmp;
    void_hash_init(&tmp.h);
    tmp.n = 0;
    CHECK_RC(void_kvs_scan(&s->mem, &r, as_of, 0, collect_fn, &tmp, &na, &more), rm);
    CHECK_RC(void_kvs_scan(&s->lm, &r, as_of, 0, collect_fn, &tmp, &nb, &more), rm);
    CHECK(na == cm.n && nb == cm.n && !more);
}

static void check_stats(struct sut *s)
{
    struct void_kvs_stats a, b;
    void_kvs_stats(&s->mem, &a);
    void_kvs_stats(&s->lm, &b);
    CHECK(a.bytes_used == s->m.used && b.bytes_used == s->m.used);
    CHECK(a.keys == s->m.n && b.keys == s->m.n);
    CHECK(a.versions == model_versions(&s->m) && b.versions == a.versions);
    CHECK(a.clients == s->m.nclients && b.clients == s->m.nclients);
    CHECK(void_hlc_compare(a.horizon, s->m.horizon) == 0 &&
          void_hlc_compare(b.horizon, a.horizon) == 0);
    CHECK(void_hlc_compare(a.last, s->m.last) == 0 && void_hlc_compare(b.last, a.last) == 0);
    CHECK(a.applied == s->m.applied && b.applied == a.applied);
}

static void check_digests(struct sut *s, int with_model)
{
    uint8_t a[32], b[32], m[32];
    CHECK_RC(void_kvs_digest(&s->mem, a), 0);
    CHECK_RC(void_kvs_digest(&s->lm, b), 0);
    CHECK(memcmp(a, b, 32) == 0);
    if (with_model) {
        model_digest(&s->m, m);
        CHECK(memcmp(a, m, 32) == 0);
    }
}

/* Partition iteration: what each store sends for a bucket rebuilds the
 * bucket's digest, and both stores send the same. */
struct part_sink {
    struct void_kvs_bucket_ctx c;
    struct void_hash_ctx all;
};

static int
part_version(void *arg, const uint8_t *key, size_t klen, const struct void_kvs_version *v)
{
    struct part_sink *p = arg;
    uint8_t eh[32];
    void_kvs_version_hash(key, klen, v->hlc, v->deleted, v->value, v->value_len, eh);
    void_kvs_bucket_add_version(&p->c, eh);
    void_hash_update(&p->all, eh, 32);
    return 0;
}

static int part_client(void *arg, const struct void_kvs_client *c)
{
    struct part_sink *p = arg;
    uint8_t eh[32];
    void_kvs_client_hash(c, eh);
    void_kvs_bucket_add_client(&p->c, eh);
    void_hash_update(&p->all, eh, 32);
    return 0;
}

static void check_partition(struct sut *s, uint32_t b)
{
    struct part_sink pa, pb;
    uint8_t da[32], db[32], sa[32], sb[32], ba[32], bb[32];
    void_kvs_bucket_init(&pa.c, b);
    void_kvs_bucket_init(&pb.c, b);
    void_hash_init(&pa.all);
    void_hash_init(&pb.all);
    CHECK_RC(void_kvs_partition(&s->mem, b, part_version, part_client, &pa), 0);
    CHECK_RC(void_kvs_partition(&s->lm, b, part_version, part_client, &pb), 0);
    void_kvs_bucket_final(&pa.c, da);
    void_kvs_bucket_final(&pb.c, db);
    void_hash_final(&pa.all, sa);
    void_hash_final(&pb.all, sb);
    CHECK_RC(void_kvs_bucket_digest(&s->mem, b, ba), 0);
    CHECK_RC(void_kvs_bucket_digest(&s->lm, b, bb), 0);
    CHECK(memcmp(da, ba, 32) == 0);
    CHECK(memcmp(db, bb, 32) == 0);
    CHECK(memcmp(sa, sb, 32) == 0);
}

/* ---- snapshots, export and import in the random run ----------------------------------- */

static void snap_take(struct sut *s, struct tsnap *t)
{
    CHECK(!t->live);
    CHECK_RC(void_kvs_snapshot_take(&s->mem, &t->a), 0);
    CHECK_RC(void_kvs_snapshot_take(&s->lm, &t->b), 0);
    model_clone(&s->m, &t->m);
    t->bd = calloc(VOID_KVS_BUCKETS, 32);
    assert_non_null(t->bd);
    model_bucket_digests(&t->m, t->bd);
    model_digest(&t->m, t->digest);
    t->live = 1;
    s->snaps_taken++;
}

static void snap_release(struct sut *s, struct tsnap *t)
{
    CHECK(t->live);
    void_kvs_snapshot_release(&s->mem, t->a);
    void_kvs_snapshot_release(&s->lm, t->b);
    model_free(&t->m);
    free(t->bd);
    memset(t, 0, sizeof(*t));
}

static void snap_release_all(struct sut *s)
{
    for (size_t i = 0; i < 2; i++) {
        if (s->snaps[i].live) {
            snap_release(s, &s->snaps[i]);
        }
    }
}

/* What both snapshots send for bucket b rebuilds the model's digest of b at
 * the take, and both send the same entries. */
static void check_snap_partition(struct sut *s, struct tsnap *t, uint32_t b)
{
    struct part_sink pa, pb;
    uint8_t da[32], db[32], sa[32], sb[32], ba[32], bb[32];
    void_kvs_bucket_init(&pa.c, b);
    void_kvs_bucket_init(&pb.c, b);
    void_hash_init(&pa.all);
    void_hash_init(&pb.all);
    CHECK_RC(void_kvs_snapshot_partition(&s->mem, t->a, b, part_version, part_client, &pa), 0);
    CHECK_RC(void_kvs_snapshot_partition(&s->lm, t->b, b, part_version, part_client, &pb), 0);
    void_kvs_bucket_final(&pa.c, da);
    void_kvs_bucket_final(&pb.c, db);
    void_hash_final(&pa.all, sa);
    void_hash_final(&pb.all, sb);
    CHECK_RC(void_kvs_snapshot_bucket_digest(&s->mem, t->a, b, ba), 0);
    CHECK_RC(void_kvs_snapshot_bucket_digest(&s->lm, t->b, b, bb), 0);
    CHECK(memcmp(da, t->bd[b], 32) == 0);
    CHECK(memcmp(db, t->bd[b], 32) == 0);
    CHECK(memcmp(ba, t->bd[b], 32) == 0);
    CHECK(memcmp(bb, t->bd[b], 32) == 0);
    CHECK(memcmp(sa, sb, 32) == 0);
    s->snap_checks++;
}

static uint32_t random_bucket(struct sut *s)
{
    uint8_t h[32];
    if (void_prng_below(&s->rng, 2) == 0) {
        size_t ki = pick_key(s);
        void_kvs_key_hash(s->keys[ki], s->key_len[ki], h);
    } else {
        void_kvs_client_id_hash(void_prng_below(&s->rng, 40), h);
    }
    return void_kvs_bucket_of(h);
}

/* The snapshot's digest, counters and some partitions (all bucket digests
 * when all) are the model's at the take. */
static void check_snap(struct sut *s, struct tsnap *t, int all)
{
    uint8_t a[32], b[32];
    CHECK_RC(void_kvs_snapshot_digest(&s->mem, t->a, a), 0);
    CHECK_RC(void_kvs_snapshot_digest(&s->lm, t->b, b), 0);
    CHECK(memcmp(a, t->digest, 32) == 0);
    CHECK(memcmp(b, t->digest, 32) == 0);
    struct void_kvs_stats sa, sb;
    void_kvs_snapshot_stats(&s->mem, t->a, &sa);
    void_kvs_snapshot_stats(&s->lm, t->b, &sb);
    CHECK(sa.bytes_used == t->m.used && sb.bytes_used == t->m.used);
    CHECK(sa.keys == t->m.n && sb.keys == t->m.n);
    CHECK(sa.versions == model_versions(&t->m) && sb.versions == sa.versions);
    CHECK(sa.clients == t->m.nclients && sb.clients == t->m.nclients);
    CHECK(void_hlc_compare(sa.horizon, t->m.horizon) == 0 &&
          void_hlc_compare(sb.horizon, t->m.horizon) == 0);
    CHECK(void_hlc_compare(sa.last, t->m.last) == 0 && void_hlc_compare(sb.last, t->m.last) == 0);
    CHECK(sa.applied == t->m.applied && sb.applied == t->m.applied);
    check_snap_partition(s, t, random_bucket(s));
    check_snap_partition(s, t, random_bucket(s));
    for (uint32_t bi = 0; all && bi < VOID_KVS_BUCKETS; bi++) {
        CHECK_RC(void_kvs_snapshot_bucket_digest(&s->mem, t->a, bi, a), 0);
        CHECK_RC(void_kvs_snapshot_bucket_digest(&s->lm, t->b, bi, b), 0);
        CHECK(memcmp(a, t->bd[bi], 32) == 0 && memcmp(b, t->bd[bi], 32) == 0);
    }
}

/* Both stores export the same bytes (live or from a snapshot taken now);
 * each store is then replaced by an import of the other's export, and the
 * run goes on with them against the model: the imported stores must also
 * compact, expire and digest as the originals would have. */
static void swap_by_import(struct sut *s)
{
    snap_release_all(s);
    struct membuf ea = {0}, eb = {0};
    struct void_kvs_snap *sa = NULL, *sb = NULL;
    if (void_prng_below(&s->rng, 2) == 0) {
        CHECK_RC(void_kvs_snapshot_take(&s->mem, &sa), 0);
        CHECK_RC(void_kvs_snapshot_take(&s->lm, &sb), 0);
    }
    CHECK_RC(void_kvs_export(&s->mem, sa, membuf_write, &ea), 0);
    CHECK_RC(void_kvs_export(&s->lm, sb, membuf_write, &eb), 0);
    CHECK(ea.len == eb.len && memcmp(ea.p, eb.p, ea.len) == 0);
    if (sa != NULL) {
        void_kvs_snapshot_release(&s->mem, sa);
        void_kvs_snapshot_release(&s->lm, sb);
    }
    uint8_t want[32], got[32];
    model_digest(&s->m, want);
    struct void_kvs fresh;
    struct void_kvs_mem_config mc = {.quota = s->quota};
    CHECK_RC(void_kvs_mem_init(&fresh, &mc), 0);
    CHECK_RC(void_kvs_import(&fresh, eb.p, eb.len, got), 0);
    CHECK(memcmp(got, want, 32) == 0);
    void_kvs_close(&s->mem);
    s->mem = fresh;
    /* Into the existing LMDB store: the load empties it first. */
    CHECK_RC(void_kvs_import(&s->lm, ea.p, ea.len, got), 0);
    CHECK(memcmp(got, want, 32) == 0);
    free(ea.p);
    free(eb.p);
    check_stats(s);
    check_digests(s, 1);
    s->imports++;
}

static struct void_hlc_ts random_time(struct sut *s)
{
    /* Around the retained history: some before the horizon, some after the
     * last batch. */
    uint64_t lo = s->m.horizon.wall_ns > 3 ? s->m.horizon.wall_ns - 3 : 0;
    uint64_t hi = s->m.last.wall_ns + 2;
    return ts(void_prng_range(&s->rng, lo, hi), (uint32_t)void_prng_below(&s->rng, 3));
}

/* One operation inside a batch, applied to all three. */
static void batch_op(struct sut *s)
{
    uint64_t r = void_prng_below(&s->rng, 100);
    size_t ki = pick_key(s);
    const uint8_t *key = s->keys[ki];
    size_t klen = s->key_len[ki];
    if (r < 38) {
        size_t len = pick_len(s);
        fill_value(s, len);
        int rm = model_write(&s->m, key, klen, 0, s->val, len);
        CHECK_RC(void_kvs_put(&s->mem, key, klen, s->val, len), rm);
        CHECK_RC(void_kvs_put(&s->lm, key, klen, s->val, len), rm);
        s->fulls += rm == VOID_EFULL;
        struct tsnap *t = &s->snaps[void_prng_below(&s->rng, 2)];
        if (t->live && void_prng_below(&s->rng, 4) == 0) {
            /* Inside the batch, right after the write to that bucket. */
            uint8_t h[32];
            void_kvs_key_hash(key, klen, h);
            check_snap_partition(s, t, void_kvs_bucket_of(h));
        }
    } else if (r < 50) {
        int rm = model_write(&s->m, key, klen, 1, NULL, 0);
        CHECK_RC(void_kvs_del(&s->mem, key, klen), rm);
        CHECK_RC(void_kvs_del(&s->lm, key, klen), rm);
    } else if (r < 58) {
        /* Compare-and-set as the state machine will do it: read the newest
         * value, write only when it is the expected one (here: when it is
         * live and its first byte is even). */
        struct void_kvs_version a, b;
        int ra = void_kvs_get(&s->mem, key, klen, NULL, &a);
        int rb = void_kvs_get(&s->lm, key, klen, NULL, &b);
        CHECK_RC(ra, rb);
        if (ra == 0) {
            same_version(&a, &b);
        }
        if (ra == 0 && !a.deleted && (a.value_len == 0 || a.value[0] % 2 == 0)) {
            size_t len = pick_len(s);
            fill_value(s, len);
            int rm = model_write(&s->m, key, klen, 0, s->val, len);
            CHECK_RC(void_kvs_put(&s->mem, key, klen, s->val, len), rm);
            CHECK_RC(void_kvs_put(&s->lm, key, klen, s->val, len), rm);
        }
    } else if (r < 66) {
        check_get(s, ki, NULL);
    } else if (r < 74) {
        struct void_hlc_ts t = random_time(s);
        check_get(s, ki, &t);
    } else if (r < 78) {
        struct void_hlc_ts t = random_time(s);
        check_scan(s, void_prng_below(&s->rng, 2) ? &t : NULL);
    } else if (r < 88) {
        uint64_t id = void_prng_below(&s->rng, 40);
        size_t len =
            void_prng_below(&s->rng, 4) == 0 ? pick_len(s) : (size_t)void_prng_below(&s->rng, 40);
        fill_value(s, len);
        uint64_t reqno = void_prng_next(&s->rng);
        int rm = model_client_put(&s->m, id, reqno, s->val, len);
        CHECK_RC(void_kvs_client_put(&s->mem, id, reqno, s->val, len), rm);
        CHECK_RC(void_kvs_client_put(&s->lm, id, reqno, s->val, len), rm);
    } else if (r < 92) {
        uint64_t id = void_prng_below(&s->rng, 40);
        struct void_kvs_client a, b;
        const struct model_client *mc = model_client(&s->m, id);
        int rm = mc != NULL ? 0 : VOID_ENOTFOUND;
        CHECK_RC(void_kvs_client_get(&s->mem, id, &a), rm);
        CHECK_RC(void_kvs_client_get(&s->lm, id, &b), rm);
        if (mc != NULL) {
            CHECK(a.id == id && b.id == id && a.reqno == mc->reqno && b.reqno == mc->reqno);
            CHECK(void_hlc_compare(a.last_seen, mc->seen) == 0 &&
                  void_hlc_compare(b.last_seen, mc->seen) == 0);
            CHECK(a.reply_len == mc->len && b.reply_len == mc->len);
            CHECK(mc->len == 0 || (memcmp(a.reply, mc->reply, mc->len) == 0 &&
                                   memcmp(b.reply, mc->reply, mc->len) == 0));
        }
    } else if (r < 97) {
        /* Retention: a horizon between the current one and the batch, now and
         * then past the batch (refused). */
        struct void_hlc_ts h = random_time(s);
        if (void_prng_below(&s->rng, 4) != 0 && void_hlc_compare(h, s->m.batch) > 0) {
            h = s->m.batch;
        }
        int rm = model_compact(&s->m, h);
        CHECK_RC(void_kvs_compact(&s->mem, h), rm);
        CHECK_RC(void_kvs_compact(&s->lm, h), rm);
        s->compactions++;
    } else {
        struct void_hlc_ts t = random_time(s);
        uint64_t nm = model_expire(&s->m, t), na = 99, nb = 99;
        CHECK_RC(void_kvs_client_expire(&s->mem, t, &na), 0);
        CHECK_RC(void_kvs_client_expire(&s->lm, t, &nb), 0);
        CHECK(na == nm && nb == nm);
        s->expired += nm;
    }
}

static long env_long(const char *name, long def)
{
    const char *v = getenv(name);
    return v != NULL && *v != '\0' ? strtol(v, NULL, 10) : def;
}

/* What the seeds exercised, summed: a run that never hit the quota, never
 * compacted or never restarted would test less than it claims. */
static uint64_t total_fulls, total_compactions, total_restarts, total_snap_checks, total_imports;

static void run_seed(uint64_t seed, long ops)
{
    struct sut *s = calloc(1, sizeof(*s));
    assert_non_null(s);
    cur_seed = seed;
    cur_step = 0;
    void_prng_seed(&s->rng, seed);
    s->val = malloc(VOID_KVS_VALUE_MAX);
    assert_non_null(s->val);
    /* Small enough that the quota is hit and freed again many times. */
    s->quota = 96 * 1024 + void_prng_below(&s->rng, 256 * 1024);
    s->m.quota = s->quota;
    make_keys(s);
    struct void_kvs_mem_config mc = {.quota = s->quota};
    assert_int_equal(void_kvs_mem_init(&s->mem, &mc), 0);
    make_dir(s->dir, sizeof(s->dir));
    open_lm(s, 1);
    uint64_t wall = 1000;
    uint64_t label = 0;
    for (cur_step = 0; cur_step < ops;) {
        /* A batch: a new stamp (sometimes refused: not after the last). */
        if (void_prng_below(&s->rng, 50) == 0) {
            CHECK_RC(void_kvs_begin(&s->mem, s->m.last, label), VOID_EINVAL);
            CHECK_RC(void_kvs_begin(&s->lm, s->m.last, label), VOID_EINVAL);
        }
        wall += 1 + void_prng_below(&s->rng, 3);
        struct void_hlc_ts t = ts(wall, (uint32_t)void_prng_below(&s->rng, 3));
        label++;
        CHECK_RC(void_kvs_begin(&s->mem, t, label), 0);
        CHECK_RC(void_kvs_begin(&s->lm, t, label), 0);
        s->m.batch = s->m.last = t;
        s->m.applied = label;
        long n = 1 + (long)void_prng_below(&s->rng, 8);
        for (long i = 0; i < n; i++, cur_step++) {
            batch_op(s);
        }
        CHECK_RC(void_kvs_commit(&s->mem), 0);
        CHECK_RC(void_kvs_commit(&s->lm), 0);
        check_stats(s);
        check_digests(s, label % 16 == 0);
        for (size_t i = 0; i < 2; i++) {
            if (s->snaps[i].live) {
                check_snap(s, &s->snaps[i], label % 16 == 0);
            }
        }
        /* Snapshots as PBFT takes them: one at a checkpoint, kept until the
         * next is stable; sometimes two live at once. */
        uint64_t sr = void_prng_below(&s->rng, 100);
        struct tsnap *ts_ = &s->snaps[void_prng_below(&s->rng, 2)];
        if (sr < 6 && !ts_->live) {
            snap_take(s, ts_);
        } else if (sr < 9 && ts_->live) {
            snap_release(s, ts_);
        }
        uint64_t r = void_prng_below(&s->rng, 100);
        if (r < 10) {
            struct void_hlc_ts at = random_time(s);
            check_scan(s, void_prng_below(&s->rng, 2) ? &at : NULL);
        } else if (r < 16) {
            uint8_t h[32];
            size_t ki = pick_key(s);
            void_kvs_key_hash(s->keys[ki], s->key_len[ki], h);
            check_partition(s, void_kvs_bucket_of(h));
            void_kvs_client_id_hash(void_prng_below(&s->rng, 40), h);
            check_partition(s, void_kvs_bucket_of(h));
        } else if (r < 18) {
            /* A restart: the LMDB store closed and opened again (its
             * snapshots end with it). */
            snap_release_all(s);
            if (void_prng_below(&s->rng, 2) == 0) {
                CHECK_RC(void_kvs_sync(&s->lm), 0);
            }
            void_kvs_close(&s->lm);
            open_lm(s, 0);
            check_stats(s);
            check_digests(s, 0);
            s->restarts++;
        } else if (r < 19) {
            /* A batch that never commits is dropped by a restart. */
            snap_release_all(s);
            CHECK_RC(void_kvs_begin(&s->lm, ts(wall + 1, 0), label + 1), 0);
            int rc = void_kvs_put(&s->lm, (const uint8_t *)"lost", 4, (const uint8_t *)"x", 1);
            CHECK(rc == 0 || rc == VOID_EFULL); /* the store may be at its quota */
            void_kvs_close(&s->lm);
            open_lm(s, 0);
            check_stats(s);
            check_digests(s, 0);
            s->restarts++;
        } else if (r < 21) {
            swap_by_import(s);
        }
    }
    check_stats(s);
    check_digests(s, 1);
    for (size_t i = 0; i < 2; i++) {
        if (s->snaps[i].live) {
            check_snap(s, &s->snaps[i], 1);
        }
    }
    snap_release_all(s);
    total_fulls += s->fulls;
    total_compactions += s->compactions;
    total_restarts += s->restarts;
    total_snap_checks += s->snap_checks;
    total_imports += s->imports;
    print_message("seed %" PRIu64 ": %ld ops, %" PRIu64 " keys, %" PRIu64 " full, %" PRIu64
                  " too old, %" PRIu64 " compactions, %" PRIu64 " expired, %" PRIu64
                  " restarts, %" PRIu64 " snapshots, %" PRIu64 " snapshot partitions checked, %" PRIu64
                  " imports\n",
                  seed,
                  ops,
                  (uint64_t)s->m.n,
                  s->fulls,
                  s->too_olds,
                  s->compactions,
                  s->expired,
                  s->restarts,
                  s->snaps_taken,
                  s->snap_checks,
                  s->imports);
    void_kvs_close(&s->mem);
    void_kvs_close(&s->lm);
    remove_dir(s->dir);
    model_free(&s->m);
    free(s->val);
    free(s);
}

/* Setup: both stores and the model; action: thousands of random batches of
 * puts, deletes, CAS, gets as of past times, paginated range and prefix
 * scans, counts, compactions, quota hits, client-table writes and expiry,
 * LMDB restarts; expected: every answer, counter and digest equal to the
 * model's at every step. */
static void test_kvs_stores_match_the_model_on_random_batches(void **state)
{
    (void)state;
    long ops = env_long("VOID_KVS_OPS", 3000);
    long one = env_long("VOID_KVS_SEED", -1);
    if (one >= 0) {
        run_seed((uint64_t)one, ops);
        return;
    }
    long seeds = env_long("VOID_KVS_SEEDS", 3);
    for (long i = 0; i < seeds; i++) {
        run_seed(0x6b7673u + (uint64_t)i * 7919u, ops);
    }
    assert_true(seeds == 0 || ops < 1000 ||
                (total_fulls > 0 && total_compactions > 0 && total_restarts > 0 &&
                 total_snap_checks > 0 && total_imports > 0));
}

/* ---- targeted tests ----------------------------------------------------------------- */

struct pair {
    struct void_kvs mem, lm;
    char dir[256];
};

static void pair_open(struct pair *p, uint64_t quota)
{
    struct void_kvs_mem_config mc = {.quota = quota};
    assert_int_equal(void_kvs_mem_init(&p->mem, &mc), 0);
    make_dir(p->dir, sizeof(p->dir));
    struct void_kvs_lmdb_config lc = {.quota = quota, .create = 1};
    assert_int_equal(void_kvs_lmdb_open(&p->lm, p->dir, &lc), 0);
}

static void pair_close(struct pair *p)
{
    void_kvs_close(&p->mem);
    void_kvs_close(&p->lm);
    remove_dir(p->dir);
}

/* Setup: both stores, a big quota; action: keys of 1, 4096 and 4097 bytes,
 * values of 1 MiB and 1 MiB + 1; expected: the limits pass byte-identical,
 * one byte more is VOID_EINVAL, and an LMDB reopen keeps them. */
static void test_kvs_takes_4k_keys_and_1mib_values_and_refuses_more(void **state)
{
    (void)state;
    struct pair p;
    pair_open(&p, 64ull << 20);
    uint8_t *key = malloc(VOID_KVS_KEY_MAX + 1);
    uint8_t *val = malloc(VOID_KVS_VALUE_MAX + 1);
    assert_true(key != NULL && val != NULL);
    for (size_t i = 0; i <= VOID_KVS_KEY_MAX; i++) {
        key[i] = (uint8_t)(i * 7);
    }
    for (size_t i = 0; i <= VOID_KVS_VALUE_MAX; i++) {
        val[i] = (uint8_t)(i * 13 + 1);
    }
    struct void_kvs *both[2] = {&p.mem, &p.lm};
    for (int i = 0; i < 2; i++) {
        assert_int_equal(void_kvs_begin(both[i], ts(10, 0), 1), 0);
        assert_int_equal(void_kvs_put(both[i], key, VOID_KVS_KEY_MAX, val, VOID_KVS_VALUE_MAX), 0);
        assert_int_equal(void_kvs_put(both[i], key, 1, val, 0), 0);
        assert_int_equal(void_kvs_put(both[i], key, VOID_KVS_KEY_MAX + 1, val, 1), VOID_EINVAL);
        assert_int_equal(void_kvs_put(both[i], key, 0, val, 1), VOID_EINVAL);
        assert_int_equal(void_kvs_put(both[i], key, 2, val, VOID_KVS_VALUE_MAX + 1), VOID_EINVAL);
        assert_int_equal(void_kvs_client_put(both[i], 1, 1, val, VOID_KVS_REPLY_MAX + 1),
                         VOID_EINVAL);
        assert_int_equal(void_kvs_commit(both[i]), 0);
    }
    void_kvs_close(&p.lm);
    struct void_kvs_lmdb_config lc = {.quota = 64ull << 20};
    assert_int_equal(void_kvs_lmdb_open(&p.lm, p.dir, &lc), 0);
    for (int i = 0; i < 2; i++) {
        struct void_kvs_version v;
        assert_int_equal(void_kvs_get(both[i], key, VOID_KVS_KEY_MAX, NULL, &v), 0);
        assert_int_equal(v.value_len, VOID_KVS_VALUE_MAX);
        assert_memory_equal(v.value, val, VOID_KVS_VALUE_MAX);
        assert_int_equal(void_kvs_get(both[i], key, VOID_KVS_KEY_MAX - 1, NULL, &v),
                         VOID_ENOTFOUND);
    }
    uint8_t a[32], b[32];
    assert_int_equal(void_kvs_digest(&p.mem, a), 0);
    assert_int_equal(void_kvs_digest(&p.lm, b), 0);
    assert_memory_equal(a, b, 32);
    free(key);
    free(val);
    pair_close(&p);
}

/* Setup: a store with a 10,000-byte quota; action: puts until full, a put
 * past it, deletes, compaction past the deletes, a put again; expected:
 * VOID_EFULL with nothing changed, deletes go through the reserve, and the
 * compaction frees enough for the put (etcd's NOSPACE alarm and recovery). */
static void test_kvs_answers_full_at_the_quota_and_recovers_after_compaction(void **state)
{
    (void)state;
    struct pair p;
    pair_open(&p, 10000);
    struct void_kvs *both[2] = {&p.mem, &p.lm};
    uint8_t val[1000];
    memset(val, 'v', sizeof(val));
    for (int i = 0; i < 2; i++) {
        struct void_kvs *k = both[i];
        int n = 0;
        assert_int_equal(void_kvs_begin(k, ts(10, 0), 1), 0);
        char key[16];
        for (;; n++) {
            snprintf(key, sizeof(key), "k%03d", n);
            int rc = void_kvs_put(k, (const uint8_t *)key, 4, val, sizeof(val));
            if (rc != 0) {
                assert_int_equal(rc, VOID_EFULL);
                break;
            }
        }
        assert_int_equal(n, 10000 / (4 + 1000 + VOID_KVS_VERSION_OVERHEAD));
        struct void_kvs_stats before, after;
        void_kvs_stats(k, &before);
        assert_int_equal(void_kvs_put(k, (const uint8_t *)key, 4, val, 500), VOID_EFULL);
        void_kvs_stats(k, &after);
        assert_int_equal(before.bytes_used, after.bytes_used);
        assert_int_equal(void_kvs_commit(k), 0);
        assert_int_equal(void_kvs_begin(k, ts(20, 0), 2), 0);
        for (int j = 0; j < n; j++) {
            snprintf(key, sizeof(key), "k%03d", j);
            assert_int_equal(void_kvs_del(k, (const uint8_t *)key, 4), 0);
        }
        assert_int_equal(void_kvs_put(k, (const uint8_t *)"new", 3, val, sizeof(val)), VOID_EFULL);
        assert_int_equal(void_kvs_commit(k), 0);
        assert_int_equal(void_kvs_begin(k, ts(30, 0), 3), 0);
        assert_int_equal(void_kvs_compact(k, ts(20, 0)), 0);
        void_kvs_stats(k, &after);
        assert_int_equal(after.bytes_used, 0);
        assert_int_equal(after.keys, 0);
        assert_int_equal(void_kvs_put(k, (const uint8_t *)"new", 3, val, sizeof(val)), 0);
        assert_int_equal(void_kvs_commit(k), 0);
    }
    uint8_t a[32], b[32];
    assert_int_equal(void_kvs_digest(&p.mem, a), 0);
    assert_int_equal(void_kvs_digest(&p.lm, b), 0);
    assert_memory_equal(a, b, 32);
    pair_close(&p);
}

/* Setup: versions of one key at 10, 20 and 30; action: compact to 25;
 * expected: as of 25 and later the state is unchanged (the version of 20),
 * as of 24 answers VOID_EKVS_TOO_OLD, the version of 10 is gone, and a
 * horizon past the batch is VOID_EINVAL. */
static void test_kvs_keeps_the_state_at_the_horizon_and_refuses_reads_before(void **state)
{
    (void)state;
    struct pair p;
    pair_open(&p, 1 << 20);
    struct void_kvs *both[2] = {&p.mem, &p.lm};
    for (int i = 0; i < 2; i++) {
        struct void_kvs *k = both[i];
        const uint8_t *key = (const uint8_t *)"key";
        for (uint64_t t = 10; t <= 30; t += 10) {
            uint8_t v = (uint8_t)t;
            assert_int_equal(void_kvs_begin(k, ts(t, 0), t), 0);
            assert_int_equal(void_kvs_put(k, key, 3, &v, 1), 0);
            assert_int_equal(void_kvs_commit(k), 0);
        }
        assert_int_equal(void_kvs_begin(k, ts(40, 0), 40), 0);
        assert_int_equal(void_kvs_compact(k, ts(41, 0)), VOID_EINVAL);
        assert_int_equal(void_kvs_compact(k, ts(25, 0)), 0);
        assert_int_equal(void_kvs_commit(k), 0);
        struct void_kvs_version v;
        struct void_hlc_ts at = ts(25, 0);
        assert_int_equal(void_kvs_get(k, key, 3, &at, &v), 0);
        assert_int_equal(v.value[0], 20);
        at = ts(24, 5);
        assert_int_equal(void_kvs_get(k, key, 3, &at, &v), VOID_EKVS_TOO_OLD);
        struct void_kvs_stats st;
        void_kvs_stats(k, &st);
        assert_int_equal(st.versions, 2);
    }
    pair_close(&p);
}

/* Setup: no directory, then a directory holding something else than a store;
 * action: open without create; expected: VOID_ENOTFOUND, then VOID_ECORRUPT
 * for an LMDB environment that is not a kvs. */
static void test_kvs_lmdb_open_refuses_missing_and_foreign_stores(void **state)
{
    (void)state;
    char dir[256];
    make_dir(dir, sizeof(dir));
    struct void_kvs kvs;
    struct void_kvs_lmdb_config lc = {0};
    char sub[300];
    snprintf(sub, sizeof(sub), "%s/none", dir);
    assert_int_equal(void_kvs_lmdb_open(&kvs, sub, &lc), VOID_ENOTFOUND);
    assert_int_equal(void_kvs_lmdb_open(&kvs, dir, &lc), VOID_ENOTFOUND);
    /* An empty data.mdb is not an LMDB environment. */
    snprintf(sub, sizeof(sub), "%s/data.mdb", dir);
    FILE *f = fopen(sub, "w");
    assert_non_null(f);
    fputs("not lmdb", f);
    fclose(f);
    int rc = void_kvs_lmdb_open(&kvs, dir, &lc);
    assert_true(rc == VOID_ECORRUPT || rc == VOID_EIO);
    remove_dir(dir);
}

/* One batch of every kind of write, the same each time it runs. Returns the
 * first nonzero answer (ENOTFOUND from a delete does not count). */
static int mixed_batch(struct void_kvs *k)
{
    static const char *const keys[] = {"a", "b", "c", "d"};
    uint8_t *long_key = calloc(1, 1000);
    assert_non_null(long_key);
    memset(long_key, 'L', 1000);
    int rc = void_kvs_begin(k, ts(50, 0), 5);
    for (size_t i = 0; i < 4 && rc == 0; i++) {
        rc = void_kvs_put(k, (const uint8_t *)keys[i], 1, (const uint8_t *)"new", 3);
    }
    if (rc == 0) {
        rc = void_kvs_put(k, long_key, 1000, (const uint8_t *)"long", 4);
    }
    if (rc == 0) {
        rc = void_kvs_del(k, (const uint8_t *)"x", 1);
    }
    if (rc == 0) {
        rc = void_kvs_compact(k, ts(45, 0));
    }
    if (rc == 0) {
        rc = void_kvs_client_put(k, 7, 2, (const uint8_t *)"reply", 5);
    }
    if (rc == 0) {
        rc = void_kvs_client_expire(k, ts(41, 0), NULL);
    }
    /* After a failure every call answers it again, and so does the commit. */
    int again = void_kvs_put(k, (const uint8_t *)"z", 1, NULL, 0);
    if (rc != 0) {
        assert_int_equal(again, rc);
    } else {
        rc = again;
    }
    int crc = void_kvs_commit(k);
    assert_true(rc == 0 || crc == rc);
    free(long_key);
    return rc != 0 ? rc : crc;
}

/* Setup: an LMDB store with history (versions, a tombstone, clients); action:
 * the same batch again and again with the n-th LMDB write failing, n = 1, 2,
 * ... until the batch gets through; expected: each failure is VOID_EIO, the
 * store answers it to every later call, and after a reopen the state (digest
 * and counters) is the one before the batch; the batch that gets through ends
 * with the same digest as the in-memory store. */
static void test_kvs_lmdb_loses_a_failed_batch_whole(void **state)
{
    (void)state;
    struct pair p;
    pair_open(&p, 1 << 20);
    struct void_kvs *both[2] = {&p.mem, &p.lm};
    for (int i = 0; i < 2; i++) {
        struct void_kvs *k = both[i];
        assert_int_equal(void_kvs_begin(k, ts(30, 0), 3), 0);
        assert_int_equal(void_kvs_put(k, (const uint8_t *)"a", 1, (const uint8_t *)"old", 3), 0);
        assert_int_equal(void_kvs_put(k, (const uint8_t *)"x", 1, (const uint8_t *)"gone", 4), 0);
        assert_int_equal(void_kvs_client_put(k, 7, 1, (const uint8_t *)"r", 1), 0);
        assert_int_equal(void_kvs_client_put(k, 8, 1, (const uint8_t *)"s", 1), 0);
        assert_int_equal(void_kvs_commit(k), 0);
        assert_int_equal(void_kvs_begin(k, ts(40, 0), 4), 0);
        assert_int_equal(void_kvs_put(k, (const uint8_t *)"a", 1, (const uint8_t *)"mid", 3), 0);
        assert_int_equal(void_kvs_client_put(k, 7, 1, (const uint8_t *)"r", 1), 0);
        assert_int_equal(void_kvs_commit(k), 0);
    }
    uint8_t before[32], after[32], mem[32];
    struct void_kvs_stats st0, st1;
    assert_int_equal(void_kvs_digest(&p.lm, before), 0);
    void_kvs_stats(&p.lm, &st0);
    assert_int_equal(mixed_batch(&p.mem), 0);
    assert_int_equal(void_kvs_digest(&p.mem, mem), 0);
    int failures = 0;
    for (uint64_t n = 1;; n++) {
        void_kvs_close(&p.lm);
        struct void_kvs_lmdb_config lc = {.quota = 1 << 20, .fault_after = n};
        assert_int_equal(void_kvs_lmdb_open(&p.lm, p.dir, &lc), 0);
        int rc = mixed_batch(&p.lm);
        if (rc == 0) {
            break;
        }
        assert_int_equal(rc, VOID_EIO);
        struct void_kvs_version v;
        assert_int_equal(void_kvs_get(&p.lm, (const uint8_t *)"a", 1, NULL, &v), VOID_EIO);
        failures++;
        void_kvs_close(&p.lm);
        struct void_kvs_lmdb_config clean = {.quota = 1 << 20};
        assert_int_equal(void_kvs_lmdb_open(&p.lm, p.dir, &clean), 0);
        assert_int_equal(void_kvs_digest(&p.lm, after), 0);
        assert_memory_equal(after, before, 32);
        void_kvs_stats(&p.lm, &st1);
        assert_true(st1.bytes_used == st0.bytes_used && st1.keys == st0.keys &&
                    st1.versions == st0.versions && st1.clients == st0.clients &&
                    st1.applied == st0.applied);
        assert_true(void_hlc_compare(st1.horizon, st0.horizon) == 0 &&
                    void_hlc_compare(st1.last, st0.last) == 0);
        assert_true(n < 1000);
    }
    assert_true(failures >= 10); /* every write of the batch and its commit */
    assert_int_equal(void_kvs_digest(&p.lm, after), 0);
    assert_memory_equal(after, mem, 32);
    pair_close(&p);
}

/* ---- snapshots, state transfer, export and import -------------------------------------- */

/* Batch t of a deterministic history: puts over a key space, a delete now
 * and then, client entries, and from `compact_from` on a compaction. */
static void history_batch(struct void_kvs *k, uint64_t t, uint32_t keys, uint64_t compact_from)
{
    assert_int_equal(void_kvs_begin(k, ts(t * 10, 0), t), 0);
    char key[32], val[64];
    for (uint32_t i = 0; i < 40; i++) {
        uint32_t id = (uint32_t)((t * 7919u + i * 104729u) % keys);
        snprintf(key, sizeof(key), "key/%05u", id);
        snprintf(val, sizeof(val), "v%" PRIu64 "-%u", t, i);
        assert_int_equal(void_kvs_put(k, (const uint8_t *)key, strlen(key), (const uint8_t *)val,
                                      strlen(val)),
                         0);
    }
    snprintf(key, sizeof(key), "key/%05u", (uint32_t)(t * 31u % keys));
    int rc = void_kvs_del(k, (const uint8_t *)key, strlen(key));
    assert_true(rc == 0 || rc == VOID_ENOTFOUND);
    assert_int_equal(void_kvs_client_put(k, t % 17, t, (const uint8_t *)"reply", 5), 0);
    if (t >= compact_from) {
        assert_int_equal(void_kvs_compact(k, ts((t - 3) * 10, 0)), 0);
        assert_int_equal(void_kvs_client_expire(k, ts((t - 12) * 10, 0), NULL), 0);
    }
    assert_int_equal(void_kvs_commit(k), 0);
}

/* Setup: both stores through 20 batches of history; the LMDB store closed
 * and its vhash table (each version's entry hash, the input of a bucket's
 * digest) dropped with raw LMDB, as a store written before the table
 * existed. Action: reopen it, 20 more batches with compactions on both.
 * Expected: the table existed (a commit rehashes dirty buckets from it, not
 * from the versions and their values); the reopen rebuilds it, so the
 * digests and every bucket digest stay those of the memory store; without
 * the rebuild the first commit would hash the touched buckets from an
 * empty table. */
/* Setup: a store whose batches ran in a process that exited without
 * closing it (a crash), so their bucket rows were never rewritten (meta
 * "unflushed" marks them); action: reopen; expected: every bucket digest and
 * the root match the in-memory store that ran the same batches, before and
 * after a snapshot rewrites the rows (read through the snapshot). Fails if
 * open takes the stale rows as they are. */
static void test_kvs_lmdb_recomputes_unflushed_bucket_rows_after_a_crash(void **state)
{
    (void)state;
    struct pair p;
    pair_open(&p, 64ull << 20);
    uint64_t t = 1;
    for (; t <= 5; t++) {
        history_batch(&p.mem, t, 300, 1000);
        history_batch(&p.lm, t, 300, 1000);
    }
    void_kvs_close(&p.lm);
    pid_t child = fork();
    assert_true(child >= 0);
    if (child == 0) {
        struct void_kvs lm;
        struct void_kvs_lmdb_config lc = {.quota = 64ull << 20};
        if (void_kvs_lmdb_open(&lm, p.dir, &lc) != 0) {
            _exit(2);
        }
        for (uint64_t u = 6; u <= 10; u++) {
            history_batch(&lm, u, 300, 1000);
        }
        _exit(0); /* no close: the rows stay unflushed */
    }
    int status = 0;
    assert_int_equal(waitpid(child, &status, 0), child);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    for (; t <= 10; t++) {
        history_batch(&p.mem, t, 300, 1000);
    }
    MDB_env *env;
    MDB_txn *txn;
    MDB_dbi dbi;
    MDB_val k = {9, (void *)(uintptr_t) "unflushed"}, v;
    assert_int_equal(mdb_env_create(&env), 0);
    assert_int_equal(mdb_env_set_maxdbs(env, 16), 0);
    assert_int_equal(mdb_env_set_mapsize(env, 1ull << 30), 0);
    assert_int_equal(mdb_env_open(env, p.dir, MDB_NOSYNC | MDB_RDONLY, 0600), 0);
    assert_int_equal(mdb_txn_begin(env, NULL, MDB_RDONLY, &txn), 0);
    assert_int_equal(mdb_dbi_open(txn, "meta", 0, &dbi), 0);
    assert_int_equal(mdb_get(txn, dbi, &k, &v), 0); /* the crash left marks */
    assert_int_equal(v.mv_size, VOID_KVS_BUCKETS / 8);
    mdb_txn_abort(txn);
    mdb_env_close(env);
    struct void_kvs_lmdb_config lc = {.quota = 64ull << 20};
    assert_int_equal(void_kvs_lmdb_open(&p.lm, p.dir, &lc), 0);
    uint8_t a[32], b[32];
    for (uint32_t bk = 0; bk < VOID_KVS_BUCKETS; bk++) {
        assert_int_equal(void_kvs_bucket_digest(&p.mem, bk, a), 0);
        assert_int_equal(void_kvs_bucket_digest(&p.lm, bk, b), 0);
        assert_memory_equal(a, b, 32);
    }
    assert_int_equal(void_kvs_digest(&p.mem, a), 0);
    assert_int_equal(void_kvs_digest(&p.lm, b), 0);
    assert_memory_equal(a, b, 32);
    struct void_kvs_snap *snap = NULL;
    assert_int_equal(void_kvs_snapshot_take(&p.lm, &snap), 0);
    for (uint32_t bk = 0; bk < VOID_KVS_BUCKETS; bk++) {
        assert_int_equal(void_kvs_bucket_digest(&p.mem, bk, a), 0);
        assert_int_equal(void_kvs_snapshot_bucket_digest(&p.lm, snap, bk, b), 0);
        assert_memory_equal(a, b, 32);
    }
    void_kvs_snapshot_release(&p.lm, snap);
    pair_close(&p);
}

static void test_kvs_lmdb_rebuilds_the_entry_hash_table_of_an_older_store(void **state)
{
    (void)state;
    struct pair p;
    pair_open(&p, 64ull << 20);
    uint64_t t = 1;
    for (; t <= 20; t++) {
        history_batch(&p.mem, t, 300, 1000);
        history_batch(&p.lm, t, 300, 1000);
    }
    void_kvs_close(&p.lm);
    MDB_env *env;
    MDB_txn *txn;
    MDB_dbi dbi;
    assert_int_equal(mdb_env_create(&env), 0);
    assert_int_equal(mdb_env_set_maxdbs(env, 16), 0);
    assert_int_equal(mdb_env_set_mapsize(env, 1ull << 30), 0);
    assert_int_equal(mdb_env_open(env, p.dir, MDB_NOSYNC, 0600), 0);
    assert_int_equal(mdb_txn_begin(env, NULL, 0, &txn), 0);
    assert_int_equal(mdb_dbi_open(txn, "vhash", 0, &dbi), 0);
    MDB_stat st;
    assert_int_equal(mdb_stat(txn, dbi, &st), 0);
    struct void_kvs_stats ks;
    void_kvs_stats(&p.mem, &ks);
    assert_int_equal(st.ms_entries, ks.versions);
    assert_int_equal(mdb_drop(txn, dbi, 1), 0);
    assert_int_equal(mdb_txn_commit(txn), 0);
    mdb_env_close(env);
    struct void_kvs_lmdb_config lc = {.quota = 64ull << 20};
    assert_int_equal(void_kvs_lmdb_open(&p.lm, p.dir, &lc), 0);
    for (; t <= 40; t++) {
        history_batch(&p.mem, t, 300, 25);
        history_batch(&p.lm, t, 300, 25);
        uint8_t a[32], b[32];
        assert_int_equal(void_kvs_digest(&p.mem, a), 0);
        assert_int_equal(void_kvs_digest(&p.lm, b), 0);
        assert_memory_equal(a, b, 32);
    }
    for (uint32_t bk = 0; bk < VOID_KVS_BUCKETS; bk++) {
        uint8_t a[32], b[32];
        assert_int_equal(void_kvs_bucket_digest(&p.mem, bk, a), 0);
        assert_int_equal(void_kvs_bucket_digest(&p.lm, bk, b), 0);
        assert_memory_equal(a, b, 32);
    }
    pair_close(&p);
}

/* Incremental state transfer from src (at a snapshot) to dst: the buckets
 * whose digests differ, each checked against the snapshot's digest. Returns
 * how many buckets were sent. */
static uint32_t transfer(struct void_kvs *src, struct void_kvs *dst)
{
    struct void_kvs_snap *snap;
    assert_int_equal(void_kvs_snapshot_take(src, &snap), 0);
    struct void_kvs_stats st;
    void_kvs_snapshot_stats(src, snap, &st);
    static uint8_t want[VOID_KVS_BUCKETS][32];
    static uint8_t differ[VOID_KVS_BUCKETS];
    static const uint8_t zero[32] = {0};
    for (uint32_t b = 0; b < VOID_KVS_BUCKETS; b++) {
        uint8_t have[32];
        assert_int_equal(void_kvs_snapshot_bucket_digest(src, snap, b, want[b]), 0);
        assert_int_equal(void_kvs_bucket_digest(dst, b, have), 0);
        differ[b] = memcmp(have, want[b], 32) != 0;
    }
    /* The source goes on committing: the snapshot still sends the old state. */
    history_batch(src, st.applied + 1, 1000, 0);
    size_t cap = 1 << 20, len;
    uint8_t *buf = malloc(cap);
    assert_non_null(buf);
    uint32_t sent = 0;
    assert_int_equal(void_kvs_load_begin(dst, 0, st.horizon, st.last, st.applied), 0);
    for (uint32_t b = 0; b < VOID_KVS_BUCKETS; b++) {
        if (!differ[b]) {
            continue;
        }
        sent++;
        if (memcmp(want[b], zero, 32) == 0) {
            assert_int_equal(void_kvs_load_clear(dst, b), 0);
            continue;
        }
        assert_int_equal(void_kvs_encode_partition(src, snap, b, buf, 8, &len), VOID_EFULL);
        assert_true(len > 8);
        assert_int_equal(void_kvs_encode_partition(src, snap, b, buf, cap, &len), 0);
        /* A partition that is not the certified one is refused whole. */
        uint8_t wrong[32];
        memcpy(wrong, want[b], 32);
        wrong[0] ^= 1;
        assert_int_equal(void_kvs_load_partition(dst, buf, len, st.horizon, st.last, wrong),
                         VOID_ECORRUPT);
        /* Checked at another horizon than the load's: refused up front. */
        assert_int_equal(
            void_kvs_load_partition(dst, buf, len, st.last, st.last, want[b]), VOID_EINVAL);
        assert_int_equal(void_kvs_load_partition(dst, buf, len, st.horizon, st.last, want[b]), 0);
    }
    assert_int_equal(void_kvs_load_end(dst), 0);
    uint8_t a[32], d[32];
    assert_int_equal(void_kvs_snapshot_digest(src, snap, a), 0);
    assert_int_equal(void_kvs_digest(dst, d), 0);
    assert_memory_equal(a, d, 32);
    struct void_kvs_stats ds;
    void_kvs_stats(dst, &ds);
    assert_true(ds.bytes_used == st.bytes_used && ds.keys == st.keys &&
                ds.versions == st.versions && ds.clients == st.clients &&
                ds.applied == st.applied);
    void_kvs_snapshot_release(src, snap);
    free(buf);
    print_message("state transfer: %u of %u buckets sent\n", sent, VOID_KVS_BUCKETS);
    return sent;
}

/* Setup: an in-memory and an LMDB store with a common history, then the
 * in-memory one 12 batches ahead (puts, deletes, compactions, client
 * expiry); action: incremental state transfer of the buckets whose digests
 * differ, from a snapshot while the source keeps committing, then the other
 * way round; expected: only changed buckets are sent, a partition with the
 * wrong digest is refused, the destination ends at the snapshot's digest
 * and counters, and after the same further batches (compactions that need
 * the rebuilt shadow entries) both stores still agree. */
static void test_kvs_state_transfer_replaces_only_the_buckets_that_differ(void **state)
{
    (void)state;
    struct pair p;
    pair_open(&p, 64ull << 20);
    for (uint64_t t = 1; t <= 30; t++) {
        history_batch(&p.mem, t, 1000, 10);
        history_batch(&p.lm, t, 1000, 10);
    }
    for (uint64_t t = 31; t <= 42; t++) {
        history_batch(&p.mem, t, 1000, 10);
    }
    uint32_t sent = transfer(&p.mem, &p.lm);
    assert_true(sent > 0 && sent < 2000);
    /* The source is one batch further (committed during the transfer). */
    history_batch(&p.lm, 43, 1000, 10);
    for (uint64_t t = 44; t <= 60; t++) {
        history_batch(&p.mem, t, 1000, 10);
        history_batch(&p.lm, t, 1000, 10);
        uint8_t a[32], b[32];
        assert_int_equal(void_kvs_digest(&p.mem, a), 0);
        assert_int_equal(void_kvs_digest(&p.lm, b), 0);
        assert_memory_equal(a, b, 32);
    }
    /* And back: the LMDB store ahead, the in-memory one catching up. */
    for (uint64_t t = 61; t <= 66; t++) {
        history_batch(&p.lm, t, 1000, 10);
    }
    sent = transfer(&p.lm, &p.mem);
    assert_true(sent > 0);
    history_batch(&p.mem, 67, 1000, 10);
    for (uint64_t t = 68; t <= 80; t++) {
        history_batch(&p.mem, t, 1000, 10);
        history_batch(&p.lm, t, 1000, 10);
    }
    uint8_t a[32], b[32];
    assert_int_equal(void_kvs_digest(&p.mem, a), 0);
    assert_int_equal(void_kvs_digest(&p.lm, b), 0);
    assert_memory_equal(a, b, 32);
    pair_close(&p);
}

/* Setup: both stores; action: take VOID_KVS_SNAPSHOTS_MAX snapshots, one
 * more, commit, release, close with one still live; expected: the extra one
 * is VOID_EFULL, released slots can be taken again, the snapshot digest
 * stays the old one, and close frees what is left (ASan checks). */
static void test_kvs_snapshots_are_bounded_and_released_by_close(void **state)
{
    (void)state;
    struct pair p;
    pair_open(&p, 1 << 20);
    struct void_kvs *both[2] = {&p.mem, &p.lm};
    for (int i = 0; i < 2; i++) {
        struct void_kvs *k = both[i];
        history_batch(k, 1, 50, 100);
        struct void_kvs_snap *s[VOID_KVS_SNAPSHOTS_MAX + 1];
        for (uint32_t j = 0; j < VOID_KVS_SNAPSHOTS_MAX; j++) {
            assert_int_equal(void_kvs_snapshot_take(k, &s[j]), 0);
        }
        assert_int_equal(void_kvs_snapshot_take(k, &s[VOID_KVS_SNAPSHOTS_MAX]), VOID_EFULL);
        uint8_t before[32], now[32], snapd[32];
        assert_int_equal(void_kvs_digest(k, before), 0);
        history_batch(k, 2, 50, 100);
        assert_int_equal(void_kvs_digest(k, now), 0);
        assert_memory_not_equal(before, now, 32);
        for (uint32_t j = 0; j < VOID_KVS_SNAPSHOTS_MAX; j++) {
            assert_int_equal(void_kvs_snapshot_digest(k, s[j], snapd), 0);
            assert_memory_equal(snapd, before, 32);
        }
        void_kvs_snapshot_release(k, s[1]);
        assert_int_equal(void_kvs_snapshot_take(k, &s[1]), 0);
        assert_int_equal(void_kvs_snapshot_digest(k, s[1], snapd), 0);
        assert_memory_equal(snapd, now, 32);
        for (uint32_t j = 0; j + 1 < VOID_KVS_SNAPSHOTS_MAX; j++) {
            void_kvs_snapshot_release(k, s[j]);
        }
    }
    pair_close(&p);
}

/* The export of a small state with every kind of entry. */
static void small_export(struct membuf *out, uint8_t digest[32])
{
    struct void_kvs k;
    assert_int_equal(void_kvs_mem_init(&k, NULL), 0);
    for (uint64_t t = 1; t <= 14; t++) {
        history_batch(&k, t, 12, 8);
    }
    assert_int_equal(void_kvs_export(&k, NULL, membuf_write, out), 0);
    assert_int_equal(void_kvs_digest(&k, digest), 0);
    void_kvs_close(&k);
}

/* Setup: a small state (versions, tombstones, clients, a horizon), then a
 * snapshot and more batches. Action: its manifest, checked; every
 * truncation and every single-bit flip of it, checked. Expected: the check
 * gives the store's digest and every bucket digest; the snapshot's
 * manifest still gives the snapshot's digest after the batches; a
 * truncation is refused; a flip is refused or implies another state digest,
 * except in the label (outside the digest), which the caller compares. */
static void test_kvs_manifest_certifies_every_bucket_digest(void **state)
{
    (void)state;
    struct void_kvs k;
    assert_int_equal(void_kvs_mem_init(&k, NULL), 0);
    for (uint64_t t = 1; t <= 14; t++) {
        history_batch(&k, t, 12, 8);
    }
    uint8_t digest[32], got[32];
    assert_int_equal(void_kvs_digest(&k, digest), 0);
    uint8_t *buf = malloc(VOID_KVS_MANIFEST_MAX);
    uint8_t *bad = malloc(VOID_KVS_MANIFEST_MAX);
    struct void_kvs_manifest *m = malloc(sizeof(*m));
    assert_true(buf != NULL && bad != NULL && m != NULL);
    size_t len = 0;
    assert_int_equal(void_kvs_manifest(&k, NULL, buf, 10, &len), VOID_EFULL);
    assert_int_equal(len, VOID_KVS_MANIFEST_MAX);
    assert_int_equal(void_kvs_manifest(&k, NULL, buf, VOID_KVS_MANIFEST_MAX, &len), 0);
    assert_true(len > VOID_KVS_MANIFEST_HEADER_SIZE && len < VOID_KVS_MANIFEST_MAX);
    assert_int_equal(void_kvs_manifest_check(buf, len, m, got), 0);
    assert_memory_equal(got, digest, 32);
    for (uint32_t b = 0; b < VOID_KVS_BUCKETS; b++) {
        uint8_t d[32];
        assert_int_equal(void_kvs_bucket_digest(&k, b, d), 0);
        assert_memory_equal(m->digest[b], d, 32);
    }
    /* A snapshot's manifest is the state at the take, batches after it
     * notwithstanding. */
    struct void_kvs_snap *snap = NULL;
    assert_int_equal(void_kvs_snapshot_take(&k, &snap), 0);
    history_batch(&k, 15, 12, 8);
    size_t slen = 0;
    assert_int_equal(void_kvs_manifest(&k, snap, bad, VOID_KVS_MANIFEST_MAX, &slen), 0);
    assert_int_equal(slen, len);
    assert_memory_equal(bad, buf, len);
    void_kvs_snapshot_release(&k, snap);
    for (size_t n = 0; n < len; n++) {
        assert_int_not_equal(void_kvs_manifest_check(buf, n, m, got), 0);
    }
    const size_t label_at = 4 + 2 * VOID_HLC_ENCODED_SIZE;
    for (size_t i = 0; i < len; i++) {
        memcpy(bad, buf, len);
        bad[i] ^= (uint8_t)(1u << (i % 8));
        int rc = void_kvs_manifest_check(bad, len, m, got);
        if (i >= label_at && i < label_at + 8) {
            assert_int_equal(rc, 0);
            assert_memory_equal(got, digest, 32);
            continue;
        }
        assert_true(rc != 0 || memcmp(got, digest, 32) != 0);
    }
    /* Two buckets swapped (out of order) and an empty digest listed. */
    memcpy(bad, buf, len);
    size_t at = VOID_KVS_MANIFEST_HEADER_SIZE, entry = 2 + 32;
    uint8_t tmp[34];
    memcpy(tmp, bad + at, entry);
    memcpy(bad + at, bad + at + entry, entry);
    memcpy(bad + at + entry, tmp, entry);
    assert_int_equal(void_kvs_manifest_check(bad, len, m, got), VOID_EBAD_FIELD);
    memcpy(bad, buf, len);
    memset(bad + at + 2, 0, 32);
    assert_int_equal(void_kvs_manifest_check(bad, len, m, got), VOID_EBAD_FIELD);
    free(m);
    free(bad);
    free(buf);
    void_kvs_close(&k);
}

/* Setup: the export of a small state (versions, tombstones, clients, a
 * horizon); action: import every truncation of it, every single-bit flip of
 * it, and random bytes after a valid header, each into a fresh store;
 * expected: each is refused with a decode error or VOID_ECORRUPT and the
 * store stays empty, except flips in the label (not part of the state
 * digest), which load the state with another stats.applied; the intact
 * stream imports to the source's digest. */
static void test_kvs_import_refuses_truncated_and_corrupted_streams(void **state)
{
    (void)state;
    struct membuf e = {0};
    uint8_t digest[32], got[32], empty[32];
    small_export(&e, digest);
    assert_true(e.len > 200);
    struct void_kvs k;
    assert_int_equal(void_kvs_mem_init(&k, NULL), 0);
    assert_int_equal(void_kvs_digest(&k, empty), 0);
    for (size_t n = 0; n < e.len; n++) {
        int rc = void_kvs_import(&k, e.p, n, got);
        assert_true(rc == VOID_ETRUNCATED || rc == VOID_EBAD_LENGTH || rc == VOID_EBAD_FIELD ||
                    rc == VOID_ECORRUPT);
    }
    const size_t label_at = 4 + 2 * VOID_HLC_ENCODED_SIZE;
    uint8_t *bad = malloc(e.len);
    assert_non_null(bad);
    size_t accepted = 0;
    for (size_t i = 0; i < e.len; i++) {
        memcpy(bad, e.p, e.len);
        bad[i] ^= (uint8_t)(1u << (i % 8));
        int rc = void_kvs_import(&k, bad, e.len, got);
        if (i >= label_at && i < label_at + 8) {
            assert_int_equal(rc, 0);
            assert_memory_equal(got, digest, 32);
            accepted++;
            void_kvs_close(&k);
            assert_int_equal(void_kvs_mem_init(&k, NULL), 0);
            continue;
        }
        if (rc == 0) {
            print_error("a flip at byte %zu of %zu was taken\n", i, e.len);
        }
        assert_int_not_equal(rc, 0);
        assert_true(rc == VOID_ETRUNCATED || rc == VOID_EBAD_LENGTH || rc == VOID_EBAD_FIELD ||
                    rc == VOID_ECORRUPT || rc == VOID_EBAD_MAGIC);
    }
    assert_int_equal(accepted, 8);
    /* A byte slipped in at the end of the first partition, its length raised
     * to cover it: every entry still decodes, but the partition has more
     * than its entries and is refused. */
    {
        size_t at = VOID_KVS_EXPORT_HEADER_SIZE;
        uint64_t plen = 0;
        for (int i = 0; i < 8; i++) {
            plen = plen << 8 | e.p[at + (size_t)i];
        }
        uint8_t *grown = malloc(e.len + 1);
        assert_non_null(grown);
        size_t end = at + 8 + (size_t)plen;
        memcpy(grown, e.p, end);
        grown[end] = 0;
        memcpy(grown + end + 1, e.p + end, e.len - end);
        for (int i = 0; i < 8; i++) {
            grown[at + (size_t)i] = (uint8_t)((plen + 1) >> (56 - 8 * i));
        }
        assert_int_equal(void_kvs_import(&k, grown, e.len + 1, got), VOID_EBAD_LENGTH);
        uint32_t bucket;
        uint8_t d[32];
        struct void_hlc_ts far = ts(UINT64_MAX, 0);
        assert_int_equal(void_kvs_decode_partition(
                             e.p + at + 8, (size_t)plen, ts(0, 0), far, NULL, NULL, NULL, &bucket, d),
                         0);
        assert_int_equal(
            void_kvs_decode_partition(
                grown + at + 8, (size_t)plen + 1, ts(0, 0), far, NULL, NULL, NULL, &bucket, d),
            VOID_EBAD_LENGTH);
        free(grown);
    }
    /* Random bytes after an intact header. */
    struct void_prng rng;
    void_prng_seed(&rng, 17);
    for (int round = 0; round < 2000; round++) {
        size_t n = VOID_KVS_EXPORT_HEADER_SIZE +
                   (size_t)void_prng_below(&rng, e.len - VOID_KVS_EXPORT_HEADER_SIZE);
        memcpy(bad, e.p, VOID_KVS_EXPORT_HEADER_SIZE);
        for (size_t i = VOID_KVS_EXPORT_HEADER_SIZE; i < n; i++) {
            bad[i] = (uint8_t)void_prng_next(&rng);
        }
        /* Small counts, so the decoder gets past the first fields now and then. */
        if (n >= VOID_KVS_EXPORT_HEADER_SIZE + 20 && round % 2 == 0) {
            memset(bad + VOID_KVS_EXPORT_HEADER_SIZE, 0, 6);
            bad[VOID_KVS_EXPORT_HEADER_SIZE + 7] = (uint8_t)(n - VOID_KVS_EXPORT_HEADER_SIZE - 8);
        }
        assert_int_not_equal(void_kvs_import(&k, bad, n, got), 0);
    }
    uint8_t now[32];
    assert_int_equal(void_kvs_digest(&k, now), 0);
    assert_memory_equal(now, empty, 32);
    assert_int_equal(void_kvs_import(&k, e.p, e.len, got), 0);
    assert_memory_equal(got, digest, 32);
    /* The LMDB store takes the same stream to the same digest. */
    char dir[256];
    make_dir(dir, sizeof(dir));
    struct void_kvs lm;
    struct void_kvs_lmdb_config lc = {.create = 1, .quota = 1 << 20};
    assert_int_equal(void_kvs_lmdb_open(&lm, dir, &lc), 0);
    assert_int_equal(void_kvs_import(&lm, e.p, e.len, got), 0);
    assert_memory_equal(got, digest, 32);
    void_kvs_close(&lm);
    remove_dir(dir);
    void_kvs_close(&k);
    free(bad);
    free(e.p);
}

/* Setup: key k with versions at 10 and 20 (so a shadow entry says "10 is
 * hidden once the horizon reaches 20"); action: a load replaces k's bucket
 * with k at 10 only (a state from another history), then a compaction to
 * 30; expected: the stale entry does not drop the loaded version (the
 * hiding version at 20 is gone), in both stores, and the digests agree. */
static void test_kvs_stale_shadow_entries_do_not_drop_loaded_versions(void **state)
{
    (void)state;
    struct pair p;
    pair_open(&p, 1 << 20);
    struct void_kvs *both[2] = {&p.mem, &p.lm};
    const uint8_t *key = (const uint8_t *)"k";
    uint8_t h[32];
    void_kvs_key_hash(key, 1, h);
    for (int i = 0; i < 2; i++) {
        struct void_kvs *k = both[i];
        for (uint64_t t = 10; t <= 20; t += 10) {
            assert_int_equal(void_kvs_begin(k, ts(t, 0), t), 0);
            assert_int_equal(void_kvs_put(k, key, 1, (const uint8_t *)"v", 1), 0);
            assert_int_equal(void_kvs_commit(k), 0);
        }
        assert_int_equal(void_kvs_load_begin(k, 0, ts(0, 0), ts(25, 0), 25), 0);
        assert_int_equal(void_kvs_load_clear(k, void_kvs_bucket_of(h)), 0);
        struct void_kvs_version v = {ts(10, 0), 0, (const uint8_t *)"old", 3};
        assert_int_equal(void_kvs_load_version(k, key, 1, &v), 0);
        /* Not after the key's newest version: refused, nothing changed. */
        assert_int_equal(void_kvs_load_version(k, key, 1, &v), VOID_EINVAL);
        assert_int_equal(void_kvs_load_end(k), 0);
        assert_int_equal(void_kvs_begin(k, ts(30, 0), 30), 0);
        assert_int_equal(void_kvs_compact(k, ts(30, 0)), 0);
        assert_int_equal(void_kvs_commit(k), 0);
        struct void_kvs_version got;
        assert_int_equal(void_kvs_get(k, key, 1, NULL, &got), 0);
        assert_int_equal(got.value_len, 3);
        assert_memory_equal(got.value, "old", 3);
    }
    uint8_t a[32], b[32];
    assert_int_equal(void_kvs_digest(&p.mem, a), 0);
    assert_int_equal(void_kvs_digest(&p.lm, b), 0);
    assert_memory_equal(a, b, 32);
    pair_close(&p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_kvs_stores_match_the_model_on_random_batches),
        cmocka_unit_test(test_kvs_takes_4k_keys_and_1mib_values_and_refuses_more),
        cmocka_unit_test(test_kvs_answers_full_at_the_quota_and_recovers_after_compaction),
        cmocka_unit_test(test_kvs_keeps_the_state_at_the_horizon_and_refuses_reads_before),
        cmocka_unit_test(test_kvs_lmdb_open_refuses_missing_and_foreign_stores),
        cmocka_unit_test(test_kvs_lmdb_loses_a_failed_batch_whole),
        cmocka_unit_test(test_kvs_state_transfer_replaces_only_the_buckets_that_differ),
        cmocka_unit_test(test_kvs_snapshots_are_bounded_and_released_by_close),
        cmocka_unit_test(test_kvs_import_refuses_truncated_and_corrupted_streams),
        cmocka_unit_test(test_kvs_manifest_certifies_every_bucket_digest),
        cmocka_unit_test(test_kvs_stale_shadow_entries_do_not_drop_loaded_versions),
        cmocka_unit_test(test_kvs_lmdb_rebuilds_the_entry_hash_table_of_an_older_store),
        cmocka_unit_test(test_kvs_lmdb_recomputes_unflushed_bucket_rows_after_a_crash),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
