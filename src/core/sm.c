/*
 * The replicated key/value state machine (include/void/sm.h): MVCC versions
 * stamped with the batch's commit HLC, compare-and-set, reads as of a past
 * HLC, and PBFT's client table for at-most-once execution.
 *
 * Layout: a key table (open addressing over key slots, FNV-1a hash) whose
 * entries point at a newest-first chain of version slots; free version slots
 * form a free list. Every structure is allocated once in void_sm_init.
 * Nothing in the layout is observable: the digest and the snapshot are
 * computed over a canonical form (keys sorted by bytes), and pruning depends
 * only on that canonical content, so two replicas in the same logical state
 * behave identically whatever the history of their memory layout.
 */
#include "void/sm.h"

#include "void/assert.h"
#include "void/bytes.h"
#include "void/error.h"
#include "void/hash.h"

#include <stdlib.h>
#include <string.h>

#define NIL UINT32_MAX

static const uint8_t snapshot_magic[4] = {'V', 'S', 'M', '1'};

/* ---- init ---------------------------------------------------------------- */

static size_t snapshot_worst(uint32_t keys_max, uint32_t versions_max)
{
    return 4 + 2 * VOID_HLC_ENCODED_SIZE + 4 + (size_t)keys_max * (2 + VOID_SM_KEY_MAX + 2) +
           (size_t)versions_max * (VOID_HLC_ENCODED_SIZE + 1 + 2 + VOID_SM_VALUE_MAX) + 4 +
           VOID_SM_CLIENTS_MAX * (4 + 8 + 2 + VOID_SM_RESULT_MAX);
}

int void_sm_init(struct void_sm *sm, const struct void_sm_config *config)
{
    VOID_ASSERT(sm != NULL);
    memset(sm, 0, sizeof(*sm));
    sm->keys_max = VOID_SM_KEYS_DEF;
    sm->versions_max = VOID_SM_VERSIONS_DEF;
    if (config != NULL && config->keys_max != 0) {
        sm->keys_max = config->keys_max;
    }
    if (config != NULL && config->versions_max != 0) {
        sm->versions_max = config->versions_max;
    }
    if (sm->versions_max < sm->keys_max || sm->keys_max > (1u << 24) ||
        snapshot_worst(sm->keys_max, sm->versions_max) > VOID_SM_SNAPSHOT_MAX) {
        return VOID_EINVAL;
    }
    size_t scratch = sm->keys_max * sizeof(void *);
    if (sm->versions_max * sizeof(struct void_hlc_ts) > scratch) {
        scratch = sm->versions_max * sizeof(struct void_hlc_ts);
    }
    sm->table = calloc(2 * (size_t)sm->keys_max, sizeof(*sm->table));
    sm->keys = calloc(sm->keys_max, sizeof(*sm->keys));
    sm->versions = calloc(sm->versions_max, sizeof(*sm->versions));
    sm->scratch = malloc(scratch);
    if (sm->table == NULL || sm->keys == NULL || sm->versions == NULL || sm->scratch == NULL) {
        void_sm_fini(sm);
        return VOID_ENOMEM;
    }
    void_sm_reset(sm);
    VOID_ASSERT(sm->versions_used == 0);
    return 0;
}

void void_sm_fini(struct void_sm *sm)
{
    VOID_ASSERT(sm != NULL);
    free(sm->table);
    free(sm->keys);
    free(sm->versions);
    free(sm->scratch);
    sm->table = NULL;
    sm->keys = NULL;
    sm->versions = NULL;
    sm->scratch = NULL;
}

void void_sm_reset(struct void_sm *sm)
{
    VOID_ASSERT(sm != NULL && sm->versions != NULL);
    memset(sm->table, 0, 2 * (size_t)sm->keys_max * sizeof(*sm->table));
    memset(sm->keys, 0, sm->keys_max * sizeof(*sm->keys));
    for (uint32_t i = 0; i < sm->versions_max; i++) {
        sm->versions[i].next = i + 1 < sm->versions_max ? i + 1 : NIL;
    }
    sm->version_free = 0;
    sm->keys_used = 0;
    sm->versions_used = 0;
    memset(&sm->horizon, 0, sizeof(sm->horizon));
    memset(&sm->last_stamp, 0, sizeof(sm->last_stamp));
    sm->clients_used = 0;
    memset(sm->clients, 0, sizeof(sm->clients));
    VOID_ASSERT(sm->version_free == 0);
}

/* ---- key table ----------------------------------------------------------- */

static uint32_t key_hash(const uint8_t *key, size_t len)
{
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < len; i++) {
        h = (h ^ key[i]) * 16777619u;
    }
    return h;
}

/* Index of key's slot, or NIL. With insert set, creates the key if absent
 * (NIL when the key slots are full). */
static uint32_t key_find(struct void_sm *sm, const uint8_t *key, size_t len, int insert)
{
    VOID_ASSERT(len >= 1 && len <= VOID_SM_KEY_MAX);
    uint32_t size = 2 * sm->keys_max;
    uint32_t pos = key_hash(key, len) % size;
    for (uint32_t probe = 0; probe < size; probe++) {
        uint32_t t = sm->table[pos];
        if (t == 0) {
            break;
        }
        struct void__sm_key *k = &sm->keys[t - 1];
        if (k->len == len && memcmp(k->bytes, key, len) == 0) {
            return t - 1;
        }
        pos = (pos + 1) % size;
    }
    if (!insert || sm->keys_used == sm->keys_max) {
        return NIL;
    }
    /* Table load is at most one half, so the probe above found an empty slot. */
    VOID_ASSERT(sm->table[pos] == 0);
    uint32_t idx = 0;
    while (sm->keys[idx].used) {
        idx++;
    }
    VOID_ASSERT(idx < sm->keys_max);
    struct void__sm_key *k = &sm->keys[idx];
    k->used = 1;
    k->len = (uint16_t)len;
    memcpy(k->bytes, key, len);
    k->head = NIL;
    sm->table[pos] = idx + 1;
    sm->keys_used++;
    return idx;
}

static void table_rebuild(struct void_sm *sm)
{
    uint32_t size = 2 * sm->keys_max;
    memset(sm->table, 0, size * sizeof(*sm->table));
    for (uint32_t i = 0; i < sm->keys_max; i++) {
        if (!sm->keys[i].used) {
            continue;
        }
        uint32_t pos = key_hash(sm->keys[i].bytes, sm->keys[i].len) % size;
        while (sm->table[pos] != 0) {
            pos = (pos + 1) % size;
        }
        sm->table[pos] = i + 1;
    }
}

/* ---- versions and pruning ------------------------------------------------ */

static void version_free(struct void_sm *sm, uint32_t v)
{
    VOID_ASSERT(v < sm->versions_max && sm->versions_used > 0);
    sm->versions[v].next = sm->version_free;
    sm->version_free = v;
    sm->versions_used--;
}

static int cmp_ts(const void *a, const void *b)
{
    return void_hlc_compare(*(const struct void_hlc_ts *)a, *(const struct void_hlc_ts *)b);
}

/* Frees, for one key, every version hidden by a newer one at or below the
 * horizon, and the key itself when all that is left is a tombstone there.
 * Returns the number of versions freed. */
static uint32_t prune_key(struct void_sm *sm, uint32_t ki)
{
    struct void__sm_key *k = &sm->keys[ki];
    uint32_t freed = 0;
    uint32_t base = k->head;
    while (base != NIL && void_hlc_compare(sm->versions[base].stamp, sm->horizon) > 0) {
        base = sm->versions[base].next;
    }
    if (base == NIL) {
        return 0;
    }
    uint32_t v = sm->versions[base].next;
    sm->versions[base].next = NIL;
    for (uint32_t guard = 0; v != NIL && guard < sm->versions_max; guard++) {
        uint32_t next = sm->versions[v].next;
        version_free(sm, v);
        freed++;
        v = next;
    }
    if (k->head == base && sm->versions[base].deleted) {
        version_free(sm, base);
        freed++;
        k->used = 0;
        k->head = NIL;
        sm->keys_used--;
    }
    return freed;
}

/* Raises the horizon to the median stamp and frees the history it hides.
 * Returns the number of versions freed (0: the state is really full). */
static uint32_t prune(struct void_sm *sm)
{
    struct void_hlc_ts *stamps = sm->scratch;
    uint32_t n = 0;
    for (uint32_t i = 0; i < sm->keys_max; i++) {
        uint32_t v = sm->keys[i].used ? sm->keys[i].head : NIL;
        for (; v != NIL && n < sm->versions_max; v = sm->versions[v].next) {
            stamps[n++] = sm->versions[v].stamp;
        }
    }
    VOID_ASSERT(n == sm->versions_used);
    if (n == 0) {
        return 0;
    }
    qsort(stamps, n, sizeof(*stamps), cmp_ts);
    if (void_hlc_compare(stamps[n / 2], sm->horizon) > 0) {
        sm->horizon = stamps[n / 2];
    }
    uint32_t freed = 0;
    uint32_t keys_before = sm->keys_used;
    for (uint32_t i = 0; i < sm->keys_max; i++) {
        if (sm->keys[i].used) {
            freed += prune_key(sm, i);
        }
    }
    if (sm->keys_used != keys_before) {
        table_rebuild(sm);
    }
    sm->count_pruned += freed;
    return freed;
}

/* Prepends a version to key ki. Returns 0 or VOID_EFULL. */
static int version_add(struct void_sm *sm,
                       uint32_t ki,
                       struct void_hlc_ts stamp,
                       int deleted,
                       const uint8_t *value,
                       uint16_t len)
{
    VOID_ASSERT(len <= VOID_SM_VALUE_MAX);
    if (sm->version_free == NIL && prune(sm) == 0) {
        return VOID_EFULL;
    }
    if (!sm->keys[ki].used) {
        return VOID_EFULL; /* pruning removed the key we meant to write: caller retries */
    }
    uint32_t v = sm->version_free;
    VOID_ASSERT(v != NIL);
    sm->version_free = sm->versions[v].next;
    sm->versions_used++;
    struct void__sm_version *ver = &sm->versions[v];
    ver->stamp = stamp;
    ver->deleted = (uint8_t)(deleted != 0);
    ver->len = len;
    if (len > 0) {
        memcpy(ver->value, value, len);
    }
    ver->next = sm->keys[ki].head;
    sm->keys[ki].head = v;
    return 0;
}

/* ---- reads --------------------------------------------------------------- */

/* The version of key visible at as_of (NULL = newest), or NIL. */
static uint32_t visible(const struct void_sm *sm, uint32_t ki, const struct void_hlc_ts *as_of)
{
    uint32_t v = sm->keys[ki].head;
    for (uint32_t guard = 0; v != NIL && guard < sm->versions_max; guard++) {
        if (as_of == NULL || void_hlc_compare(sm->versions[v].stamp, *as_of) <= 0) {
            return v;
        }
        v = sm->versions[v].next;
    }
    return NIL;
}

static uint32_t key_lookup(const struct void_sm *sm, const uint8_t *key, size_t len)
{
    return key_find((struct void_sm *)(uintptr_t)sm, key, len, 0);
}

void void_sm_read(const struct void_sm *sm,
                  const uint8_t *key,
                  size_t key_len,
                  const struct void_hlc_ts *as_of,
                  struct void_sm_result *out)
{
    VOID_ASSERT(sm != NULL && out != NULL);
    memset(out, 0, sizeof(*out));
    out->status = VOID_SM_NOT_FOUND;
    if (key_len == 0 || key_len > VOID_SM_KEY_MAX) {
        out->status = VOID_SM_BAD_OP;
        return;
    }
    if (as_of != NULL && void_hlc_compare(*as_of, sm->horizon) < 0) {
        out->status = VOID_SM_TOO_OLD;
        return;
    }
    uint32_t ki = key_lookup(sm, key, key_len);
    uint32_t v = ki == NIL ? NIL : visible(sm, ki, as_of);
    if (v == NIL || sm->versions[v].deleted) {
        return;
    }
    out->status = VOID_SM_OK;
    out->version = sm->versions[v].stamp;
    out->value = sm->versions[v].value;
    out->value_len = sm->versions[v].len;
}

/* ---- writes -------------------------------------------------------------- */

static int write_version(struct void_sm *sm,
                         const uint8_t *key,
                         uint16_t key_len,
                         int deleted,
                         const uint8_t *value,
                         uint16_t len)
{
    /* Two attempts: pruning can remove the (tombstoned) key we looked up. */
    for (int attempt = 0; attempt < 2; attempt++) {
        uint32_t ki = key_find(sm, key, key_len, 1);
        if (ki == NIL) {
            if (prune(sm) == 0) {
                return VOID_EFULL;
            }
            continue;
        }
        int rc = version_add(sm, ki, sm->last_stamp, deleted, value, len);
        if (rc == 0 || sm->keys[ki].used) {
            return rc;
        }
    }
    return VOID_EFULL;
}

static void apply_put(struct void_sm *sm, const struct void_sm_op *op, struct void_sm_result *res)
{
    int rc = write_version(sm, op->key, op->key_len, 0, op->value, op->value_len);
    res->status = rc == 0 ? VOID_SM_OK : VOID_SM_FULL;
    res->version = sm->last_stamp;
}

static void apply_cas(struct void_sm *sm, const struct void_sm_op *op, struct void_sm_result *res)
{
    struct void_sm_result cur;
    void_sm_read(sm, op->key, op->key_len, NULL, &cur);
    int present = cur.status == VOID_SM_OK;
    int match = op->expect_present ? (present && cur.value_len == op->expected_len &&
                                      memcmp(cur.value, op->expected, cur.value_len) == 0)
                                   : !present;
    if (!match) {
        *res = cur;
        res->status = VOID_SM_CAS_FAILED;
        return;
    }
    apply_put(sm, op, res);
}

static void apply(struct void_sm *sm, const struct void_sm_op *op, struct void_sm_result *res)
{
    memset(res, 0, sizeof(*res));
    switch ((enum void_sm_op_kind)op->kind) {
    case VOID_SM_OP_GET:
        void_sm_read(sm, op->key, op->key_len, NULL, res);
        return;
    case VOID_SM_OP_GET_AS_OF:
        /* A time after this batch's stamp has no answer yet: a later write
         * could still land before it, so returning the current value would
         * be a read that a later read as of the same time contradicts. Every
         * replica sees the same stamp, so all refuse alike (etcd refuses a
         * future revision the same way). */
        if (void_hlc_compare(op->as_of, sm->last_stamp) > 0) {
            res->status = VOID_SM_FUTURE;
            return;
        }
        void_sm_read(sm, op->key, op->key_len, &op->as_of, res);
        return;
    case VOID_SM_OP_DELETE: {
        void_sm_read(sm, op->key, op->key_len, NULL, res);
        if (res->status == VOID_SM_OK) {
            memset(res, 0, sizeof(*res));
            res->status = write_version(sm, op->key, op->key_len, 1, NULL, 0) == 0 ? VOID_SM_OK
                                                                                   : VOID_SM_FULL;
            res->version = sm->last_stamp;
        }
        return;
    }
    case VOID_SM_OP_CAS:
        apply_cas(sm, op, res);
        return;
    case VOID_SM_OP_PUT:
        apply_put(sm, op, res);
        return;
    }
    res->status = VOID_SM_BAD_OP;
}

struct void_hlc_ts void_sm_begin_batch(struct void_sm *sm, struct void_hlc_ts hlc)
{
    VOID_ASSERT(sm != NULL);
    struct void_hlc_ts prev = sm->last_stamp;
    if (void_hlc_compare(hlc, prev) <= 0) {
        hlc = prev;
        if (hlc.logical == UINT32_MAX) {
            hlc.wall_ns++;
            hlc.logical = 0;
        } else {
            hlc.logical++;
        }
    }
    sm->last_stamp = hlc;
    VOID_ASSERT(void_hlc_compare(sm->last_stamp, prev) > 0);
    return hlc;
}

/* ---- client table -------------------------------------------------------- */

static struct void__sm_client *client_find(const struct void_sm *sm, uint32_t id)
{
    for (uint32_t i = 0; i < sm->clients_used; i++) {
        if (sm->clients[i].id == id) {
            return (struct void__sm_client *)(uintptr_t)&sm->clients[i];
        }
    }
    return NULL;
}

/* Inserts client id keeping the table sorted by id; NULL when full. */
static struct void__sm_client *client_add(struct void_sm *sm, uint32_t id)
{
    if (sm->clients_used == VOID_SM_CLIENTS_MAX) {
        return NULL;
    }
    uint32_t pos = 0;
    while (pos < sm->clients_used && sm->clients[pos].id < id) {
        pos++;
    }
    memmove(&sm->clients[pos + 1],
            &sm->clients[pos],
            (sm->clients_used - pos) * sizeof(sm->clients[0]));
    memset(&sm->clients[pos], 0, sizeof(sm->clients[pos]));
    sm->clients[pos].id = id;
    sm->clients_used++;
    return &sm->clients[pos];
}

int void_sm_client_last(const struct void_sm *sm,
                        uint32_t client,
                        uint64_t *reqno,
                        const uint8_t **result,
                        size_t *result_len)
{
    VOID_ASSERT(sm != NULL);
    const struct void__sm_client *c = client_find(sm, client);
    if (c == NULL) {
        return 0;
    }
    *reqno = c->reqno;
    *result = c->result;
    *result_len = c->result_len;
    return 1;
}

int void_sm_execute(struct void_sm *sm,
                    uint32_t client,
                    uint64_t reqno,
                    const uint8_t *op,
                    size_t op_len,
                    uint8_t *result,
                    size_t cap,
                    size_t *result_len)
{
    VOID_ASSERT(sm != NULL && result != NULL && result_len != NULL);
    if (cap < VOID_SM_RESULT_MAX) {
        return VOID_EFULL;
    }
    struct void__sm_client *c = client_find(sm, client);
    struct void_sm_result res = {0};
    if (c != NULL && reqno == c->reqno) {
        memcpy(result, c->result, c->result_len);
        *result_len = c->result_len;
        return 0;
    }
    if (c != NULL && reqno < c->reqno) {
        res.status = VOID_SM_STALE;
    } else {
        struct void_sm_op o;
        if (void_sm_op_decode(op, op_len, &o) != 0) {
            res.status = VOID_SM_BAD_OP;
        } else if (c == NULL && (c = client_add(sm, client)) == NULL) {
            res.status = VOID_SM_FULL;
        } else {
            apply(sm, &o, &res);
        }
    }
    int len = void_sm_result_encode(&res, result, cap);
    VOID_ASSERT(len > 0);
    *result_len = (size_t)len;
    if (res.status != VOID_SM_STALE && c != NULL && c->id == client) {
        c->reqno = reqno;
        c->result_len = (uint16_t)len;
        memcpy(c->result, result, (size_t)len);
    }
    return 0;
}

/* ---- snapshot and digest -------------------------------------------------- */

/* Where canonical bytes go: a buffer, a hash, or just a length count. */
struct sink {
    uint8_t *buf;
    size_t cap, len;
    struct void_hash_ctx *hash;
};

static void sink_put(struct sink *s, const void *data, size_t n)
{
    if (s->hash != NULL) {
        void_hash_update(s->hash, data, n);
    } else if (s->buf != NULL && s->len + n <= s->cap) {
        memcpy(s->buf + s->len, data, n);
    }
    s->len += n;
}

static void sink_ts(struct sink *s, struct void_hlc_ts t)
{
    uint8_t b[VOID_HLC_ENCODED_SIZE];
    void_hlc_encode(t, b);
    sink_put(s, b, sizeof(b));
}

static int cmp_key_ptr(const void *a, const void *b)
{
    const struct void__sm_key *x = *(const struct void__sm_key *const *)a;
    const struct void__sm_key *y = *(const struct void__sm_key *const *)b;
    size_t n = x->len < y->len ? x->len : y->len;
    int c = memcmp(x->bytes, y->bytes, n);
    if (c != 0) {
        return c;
    }
    return (x->len > y->len) - (x->len < y->len);
}

static void sink_key(struct sink *s, const struct void_sm *sm, const struct void__sm_key *k)
{
    uint8_t b[4];
    void_bytes_put_be16(b, k->len);
    sink_put(s, b, 2);
    sink_put(s, k->bytes, k->len);
    uint16_t count = 0;
    for (uint32_t v = k->head; v != NIL; v = sm->versions[v].next) {
        count++;
    }
    void_bytes_put_be16(b, count);
    sink_put(s, b, 2);
    for (uint32_t v = k->head; v != NIL; v = sm->versions[v].next) {
        const struct void__sm_version *ver = &sm->versions[v];
        sink_ts(s, ver->stamp);
        b[0] = ver->deleted;
        void_bytes_put_be16(b + 1, ver->len);
        sink_put(s, b, 3);
        sink_put(s, ver->value, ver->len);
    }
}

static void snapshot_write(struct void_sm *sm, struct sink *s)
{
    const struct void__sm_key **order = sm->scratch;
    uint32_t n = 0;
    for (uint32_t i = 0; i < sm->keys_max; i++) {
        if (sm->keys[i].used) {
            order[n++] = &sm->keys[i];
        }
    }
    VOID_ASSERT(n == sm->keys_used);
    qsort((void *)order, n, sizeof(*order), cmp_key_ptr);
    uint8_t b[16];
    sink_put(s, snapshot_magic, 4);
    sink_ts(s, sm->horizon);
    sink_ts(s, sm->last_stamp);
    void_bytes_put_be32(b, n);
    sink_put(s, b, 4);
    for (uint32_t i = 0; i < n; i++) {
        sink_key(s, sm, order[i]);
    }
    void_bytes_put_be32(b, sm->clients_used);
    sink_put(s, b, 4);
    for (uint32_t i = 0; i < sm->clients_used; i++) {
        const struct void__sm_client *c = &sm->clients[i];
        void_bytes_put_be32(b, c->id);
        void_bytes_put_be64(b + 4, c->reqno);
        void_bytes_put_be16(b + 12, c->result_len);
        sink_put(s, b, 14);
        sink_put(s, c->result, c->result_len);
    }
}

void void_sm_digest(struct void_sm *sm, uint8_t digest[VOID_SM_DIGEST_SIZE])
{
    VOID_ASSERT(sm != NULL && digest != NULL);
    struct void_hash_ctx h;
    void_hash_init(&h);
    struct sink s = {.hash = &h};
    snapshot_write(sm, &s);
    void_hash_final(&h, digest);
    VOID_ASSERT(s.len >= 4);
}

size_t void_sm_snapshot_max(const struct void_sm *sm)
{
    VOID_ASSERT(sm != NULL);
    return snapshot_worst(sm->keys_max, sm->versions_max);
}

size_t void_sm_snapshot_size(const struct void_sm *sm)
{
    VOID_ASSERT(sm != NULL);
    size_t size = 4 + 2 * VOID_HLC_ENCODED_SIZE + 4 + 4;
    for (uint32_t i = 0; i < sm->keys_max; i++) {
        if (!sm->keys[i].used) {
            continue;
        }
        size += 4u + sm->keys[i].len;
        for (uint32_t v = sm->keys[i].head; v != NIL; v = sm->versions[v].next) {
            size += VOID_HLC_ENCODED_SIZE + 3u + sm->versions[v].len;
        }
    }
    for (uint32_t i = 0; i < sm->clients_used; i++) {
        size += 14u + sm->clients[i].result_len;
    }
    return size;
}

int void_sm_snapshot_encode(struct void_sm *sm, uint8_t *buf, size_t cap, size_t *len)
{
    VOID_ASSERT(sm != NULL && buf != NULL && len != NULL);
    struct sink s = {.buf = buf, .cap = cap};
    snapshot_write(sm, &s);
    if (s.len > cap) {
        return VOID_EFULL;
    }
    VOID_ASSERT(s.len == void_sm_snapshot_size(sm));
    *len = s.len;
    return 0;
}

/* Bounds-checked reader over a snapshot. */
struct reader {
    const uint8_t *p;
    size_t left;
};

static const uint8_t *take(struct reader *r, size_t n)
{
    if (r->left < n) {
        return NULL;
    }
    const uint8_t *p = r->p;
    r->p += n;
    r->left -= n;
    return p;
}

/* Decodes one key with its versions into a fresh key slot, *ki. Keys must
 * come in strictly increasing order (prev: the previous key, or NULL). */
static int
decode_key(struct void_sm *sm, struct reader *r, const struct void__sm_key *prev, uint32_t *out_ki)
{
    const uint8_t *p = take(r, 2);
    if (p == NULL) {
        return VOID_ETRUNCATED;
    }
    uint16_t klen = void_bytes_get_be16(p);
    const uint8_t *key = take(r, klen);
    const uint8_t *cnt = take(r, 2);
    if (key == NULL || cnt == NULL) {
        return VOID_ETRUNCATED;
    }
    uint16_t count = void_bytes_get_be16(cnt);
    if (klen == 0 || klen > VOID_SM_KEY_MAX || count == 0) {
        return VOID_EBAD_FIELD;
    }
    uint32_t ki = key_find(sm, key, klen, 1);
    if (ki == NIL) {
        return VOID_EFULL;
    }
    struct void__sm_key *k = &sm->keys[ki];
    const struct void__sm_key *kc = k;
    if (k->head != NIL || (prev != NULL && cmp_key_ptr(&prev, &kc) >= 0)) {
        return VOID_EBAD_FIELD; /* duplicate or out of order */
    }
    *out_ki = ki;
    uint32_t tail = NIL;
    struct void_hlc_ts newer = {UINT64_MAX, UINT32_MAX};
    for (uint16_t i = 0; i < count; i++) {
        const uint8_t *vh = take(r, VOID_HLC_ENCODED_SIZE + 3);
        if (vh == NULL) {
            return VOID_ETRUNCATED;
        }
        uint16_t vlen = void_bytes_get_be16(vh + VOID_HLC_ENCODED_SIZE + 1);
        const uint8_t *val = take(r, vlen);
        struct void_hlc_ts stamp = void_hlc_decode(vh);
        if (val == NULL) {
            return VOID_ETRUNCATED;
        }
        if (vlen > VOID_SM_VALUE_MAX || vh[VOID_HLC_ENCODED_SIZE] > 1 ||
            void_hlc_compare(stamp, newer) > 0) {
            return VOID_EBAD_FIELD;
        }
        if (sm->version_free == NIL) {
            return VOID_EFULL;
        }
        uint32_t v = sm->version_free;
        sm->version_free = sm->versions[v].next;
        sm->versions_used++;
        struct void__sm_version *ver = &sm->versions[v];
        ver->stamp = stamp;
        ver->deleted = vh[VOID_HLC_ENCODED_SIZE];
        ver->len = vlen;
        memcpy(ver->value, val, vlen);
        ver->next = NIL;
        if (tail == NIL) {
            k->head = v;
        } else {
            sm->versions[tail].next = v;
        }
        tail = v;
        newer = stamp;
    }
    return 0;
}

static int decode_clients(struct void_sm *sm, struct reader *r)
{
    const uint8_t *p = take(r, 4);
    if (p == NULL) {
        return VOID_ETRUNCATED;
    }
    uint32_t n = void_bytes_get_be32(p);
    if (n > VOID_SM_CLIENTS_MAX) {
        return VOID_EFULL;
    }
    for (uint32_t i = 0; i < n; i++) {
        const uint8_t *h = take(r, 14);
        if (h == NULL) {
            return VOID_ETRUNCATED;
        }
        uint16_t rlen = void_bytes_get_be16(h + 12);
        const uint8_t *res = take(r, rlen);
        if (res == NULL) {
            return VOID_ETRUNCATED;
        }
        uint32_t id = void_bytes_get_be32(h);
        if (rlen > VOID_SM_RESULT_MAX || (i > 0 && id <= sm->clients[i - 1].id)) {
            return VOID_EBAD_FIELD;
        }
        struct void__sm_client *c = &sm->clients[i];
        c->id = id;
        c->reqno = void_bytes_get_be64(h + 4);
        c->result_len = rlen;
        memcpy(c->result, res, rlen);
        sm->clients_used = i + 1;
    }
    return 0;
}

static int snapshot_decode(struct void_sm *sm, const uint8_t *buf, size_t len)
{
    struct reader r = {buf, len};
    const uint8_t *h = take(&r, 4 + 2 * VOID_HLC_ENCODED_SIZE + 4);
    if (h == NULL) {
        return VOID_ETRUNCATED;
    }
    if (memcmp(h, snapshot_magic, 4) != 0) {
        return VOID_EBAD_FIELD;
    }
    sm->horizon = void_hlc_decode(h + 4);
    sm->last_stamp = void_hlc_decode(h + 4 + VOID_HLC_ENCODED_SIZE);
    uint32_t nkeys = void_bytes_get_be32(h + 4 + 2 * VOID_HLC_ENCODED_SIZE);
    if (nkeys > sm->keys_max) {
        return VOID_EFULL;
    }
    const struct void__sm_key *prev = NULL;
    for (uint32_t i = 0; i < nkeys; i++) {
        uint32_t ki = NIL;
        int rc = decode_key(sm, &r, prev, &ki);
        if (rc != 0) {
            return rc;
        }
        prev = &sm->keys[ki];
    }
    int rc = decode_clients(sm, &r);
    if (rc != 0) {
        return rc;
    }
    return r.left == 0 ? 0 : VOID_EBAD_LENGTH;
}

int void_sm_snapshot_decode(struct void_sm *sm, const uint8_t *buf, size_t len)
{
    VOID_ASSERT(sm != NULL && buf != NULL);
    void_sm_reset(sm);
    int rc = snapshot_decode(sm, buf, len);
    if (rc != 0) {
        void_sm_reset(sm);
        return rc;
    }
    VOID_ASSERT(void_sm_snapshot_size(sm) == len);
    return 0;
}

/* ---- operation and result encoding ---------------------------------------- */

int void_sm_op_encode(const struct void_sm_op *op, uint8_t *buf, size_t cap)
{
    VOID_ASSERT(op != NULL && buf != NULL);
    if (op->key_len == 0 || op->key_len > VOID_SM_KEY_MAX || op->value_len > VOID_SM_VALUE_MAX ||
        op->expected_len > VOID_SM_VALUE_MAX) {
        return VOID_EINVAL;
    }
    size_t need = 3u + op->key_len;
    switch ((enum void_sm_op_kind)op->kind) {
    case VOID_SM_OP_PUT:
        need += 2u + op->value_len;
        break;
    case VOID_SM_OP_CAS:
        need += 1u + 2u + op->expected_len + 2u + op->value_len;
        break;
    case VOID_SM_OP_GET_AS_OF:
        need += VOID_HLC_ENCODED_SIZE;
        break;
    case VOID_SM_OP_GET:
    case VOID_SM_OP_DELETE:
        break;
    default:
        return VOID_EINVAL;
    }
    if (need > cap) {
        return VOID_EFULL;
    }
    uint8_t *p = buf;
    *p++ = op->kind;
    void_bytes_put_be16(p, op->key_len);
    memcpy(p + 2, op->key, op->key_len);
    p += 2 + op->key_len;
    if (op->kind == VOID_SM_OP_CAS) {
        *p++ = op->expect_present ? 1 : 0;
        void_bytes_put_be16(p, op->expected_len);
        if (op->expected_len > 0) {
            memcpy(p + 2, op->expected, op->expected_len);
        }
        p += 2 + op->expected_len;
    }
    if (op->kind == VOID_SM_OP_PUT || op->kind == VOID_SM_OP_CAS) {
        void_bytes_put_be16(p, op->value_len);
        if (op->value_len > 0) {
            memcpy(p + 2, op->value, op->value_len);
        }
        p += 2 + op->value_len;
    }
    if (op->kind == VOID_SM_OP_GET_AS_OF) {
        void_hlc_encode(op->as_of, p);
        p += VOID_HLC_ENCODED_SIZE;
    }
    VOID_ASSERT((size_t)(p - buf) == need);
    return (int)need;
}

/* Reads a u16-length-prefixed field of at most max bytes. */
static int take_field(struct reader *r, size_t max, const uint8_t **data, uint16_t *len)
{
    const uint8_t *p = take(r, 2);
    if (p == NULL) {
        return VOID_ETRUNCATED;
    }
    *len = void_bytes_get_be16(p);
    if (*len > max) {
        return VOID_EBAD_LENGTH;
    }
    *data = take(r, *len);
    return *data == NULL ? VOID_ETRUNCATED : 0;
}

int void_sm_op_decode(const uint8_t *buf, size_t len, struct void_sm_op *op)
{
    VOID_ASSERT(buf != NULL && op != NULL);
    memset(op, 0, sizeof(*op));
    struct reader r = {buf, len};
    const uint8_t *k = take(&r, 1);
    if (k == NULL) {
        return VOID_ETRUNCATED;
    }
    op->kind = k[0];
    if (op->kind < VOID_SM_OP_PUT || op->kind > VOID_SM_OP_GET_AS_OF) {
        return VOID_EBAD_TYPE;
    }
    int rc = take_field(&r, VOID_SM_KEY_MAX, &op->key, &op->key_len);
    if (rc == 0 && op->key_len == 0) {
        rc = VOID_EBAD_LENGTH;
    }
    if (rc == 0 && op->kind == VOID_SM_OP_CAS) {
        const uint8_t *e = take(&r, 1);
        rc = e == NULL ? VOID_ETRUNCATED : (e[0] > 1 ? VOID_EBAD_LENGTH : 0);
        op->expect_present = e != NULL ? e[0] : 0;
        if (rc == 0) {
            rc = take_field(&r, VOID_SM_VALUE_MAX, &op->expected, &op->expected_len);
        }
    }
    if (rc == 0 && (op->kind == VOID_SM_OP_PUT || op->kind == VOID_SM_OP_CAS)) {
        rc = take_field(&r, VOID_SM_VALUE_MAX, &op->value, &op->value_len);
    }
    if (rc == 0 && op->kind == VOID_SM_OP_GET_AS_OF) {
        const uint8_t *t = take(&r, VOID_HLC_ENCODED_SIZE);
        rc = t == NULL ? VOID_ETRUNCATED : 0;
        if (t != NULL) {
            op->as_of = void_hlc_decode(t);
        }
    }
    if (rc == 0 && r.left != 0) {
        rc = VOID_EBAD_LENGTH;
    }
    return rc;
}

int void_sm_result_encode(const struct void_sm_result *res, uint8_t *buf, size_t cap)
{
    VOID_ASSERT(res != NULL && buf != NULL);
    if (res->value_len > VOID_SM_VALUE_MAX) {
        return VOID_EINVAL;
    }
    size_t need = 1 + VOID_HLC_ENCODED_SIZE + 2 + (size_t)res->value_len;
    if (need > cap) {
        return VOID_EFULL;
    }
    buf[0] = res->status;
    void_hlc_encode(res->version, buf + 1);
    void_bytes_put_be16(buf + 1 + VOID_HLC_ENCODED_SIZE, res->value_len);
    if (res->value_len > 0) {
        memcpy(buf + 3 + VOID_HLC_ENCODED_SIZE, res->value, res->value_len);
    }
    VOID_ASSERT(need <= VOID_SM_RESULT_MAX);
    return (int)need;
}

int void_sm_result_decode(const uint8_t *buf, size_t len, struct void_sm_result *res)
{
    VOID_ASSERT(buf != NULL && res != NULL);
    memset(res, 0, sizeof(*res));
    struct reader r = {buf, len};
    const uint8_t *h = take(&r, 1 + VOID_HLC_ENCODED_SIZE);
    if (h == NULL) {
        return VOID_ETRUNCATED;
    }
    res->status = h[0];
    if (res->status > VOID_SM_FUTURE) {
        return VOID_EBAD_TYPE;
    }
    res->version = void_hlc_decode(h + 1);
    int rc = take_field(&r, VOID_SM_VALUE_MAX, &res->value, &res->value_len);
    if (rc == 0 && r.left != 0) {
        rc = VOID_EBAD_LENGTH;
    }
    return rc;
}
