/*
 * Garbage collection and fsck of the CAS store.
 *
 * gc runs in one LMDB write transaction under the exclusive gc lock (see
 * include/void/cas.h): it seeds a work list with every block whose refcount
 * is 0, deletes them one by one and decrements the refcounts of their
 * children, pushing those that reach 0. A block reachable from a pin has a
 * refcount >= 1 along the whole path from the pin, so it is never pushed.
 * A dry run does the same walk and aborts the transaction, so it reports
 * exactly what a gc would free at that moment and deletes nothing.
 *
 * Bytes freed are counted once: the stored size of each deleted record
 * (its LMDB record and, for a packed blob, its pack range), plus what
 * trimming the packs releases beyond those ranges (left over by killed
 * puts). A range at a pack's end is both punched and trimmed; it is
 * counted with its record only.
 *
 * fsck reads one consistent snapshot (a read transaction) and recomputes
 * every refcount from the pins and the objects, in an open-addressing table
 * keyed by hash, then compares with the stored ones and checks that every
 * referenced block is present and every block matches its hash.
 */
#include "store/cas_int.h"
#include "void/assert.h"
#include "void/error.h"

#include <stdlib.h>
#include <string.h>

struct hashvec {
    struct void_hash *v;
    size_t n, cap;
};

static int hashvec_push(struct hashvec *hv, const struct void_hash *h)
{
    if (hv->n == hv->cap) {
        size_t cap = hv->cap ? 2 * hv->cap : 1024;
        void *p = realloc(hv->v, cap * sizeof(*hv->v));
        if (p == NULL) {
            return VOID_ENOMEM;
        }
        hv->v = p;
        hv->cap = cap;
    }
    hv->v[hv->n++] = *h;
    return 0;
}

/* Per pack id, the end of the last byte a record references. */
struct packends {
    uint64_t *end;
    size_t n;
    int overflow; /* an id too large to track: trim nothing */
};

#define PACK_IDS_TRACKED (1u << 20)

static int packends_note(struct packends *pe, const MDB_val *v)
{
    uint32_t id, len;
    uint64_t off;
    if (void__cas_record_locator(v, &id, &off, &len) != 0) {
        return 0;
    }
    if (id >= PACK_IDS_TRACKED) {
        pe->overflow = 1;
        return 0;
    }
    if (id >= pe->n) {
        size_t n = (size_t)id * 2 + 16;
        uint64_t *p = realloc(pe->end, n * sizeof(*p));
        if (p == NULL) {
            return VOID_ENOMEM;
        }
        memset(p + pe->n, 0, (n - pe->n) * sizeof(*p));
        pe->end = p;
        pe->n = n;
    }
    pe->end[id] = pe->end[id] > off + len ? pe->end[id] : off + len;
    return 0;
}

/* Notes, for every pack, how far the remaining records reference it. */
static int gc_pack_ends(struct void_cas *cas, MDB_txn *txn, struct packends *pe)
{
    MDB_cursor *cur;
    int rc = mdb_cursor_open(txn, cas->blocks, &cur);
    if (rc != 0) {
        return void__cas_err(rc);
    }
    MDB_val k, v;
    for (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0;
         rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
        if ((rc = packends_note(pe, &v)) != 0) {
            break;
        }
    }
    mdb_cursor_close(cur);
    return rc == MDB_NOTFOUND ? 0 : void__cas_err(rc);
}

/* Pushes every block with refcount 0 onto work. */
static int gc_seed(struct void_cas *cas, MDB_txn *txn, struct hashvec *work)
{
    MDB_cursor *cur;
    int rc = mdb_cursor_open(txn, cas->blocks, &cur);
    if (rc != 0) {
        return void__cas_err(rc);
    }
    MDB_val k, v;
    for (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0;
         rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
        struct void_hash h;
        uint64_t refs;
        if (k.mv_size != VOID_HASH_SIZE) {
            rc = VOID_ECAS_BAD_RECORD;
            break;
        }
        memcpy(h.b, k.mv_data, VOID_HASH_SIZE);
        if ((rc = void__cas_refs_get(cas, txn, &h, &refs)) != 0) {
            break;
        }
        if (refs == 0 && (rc = hashvec_push(work, &h)) != 0) {
            break;
        }
    }
    mdb_cursor_close(cur);
    return rc == MDB_NOTFOUND ? 0 : void__cas_err(rc);
}

/* Pack ranges to punch once the gc transaction has committed. */
struct hole {
    uint32_t pack;
    uint32_t len;
    uint64_t off;
};

struct gc_ctx {
    struct void_cas *cas;
    MDB_txn *txn;
    struct hashvec *work;
    struct hole *holes;
    size_t nholes, holes_cap;
};

static int hole_push(struct gc_ctx *ctx, const MDB_val *v, size_t *stored)
{
    struct hole h;
    if (void__cas_record_locator(v, &h.pack, &h.off, &h.len) != 0) {
        return 0; /* an inline record */
    }
    if (ctx->nholes == ctx->holes_cap) {
        size_t cap = ctx->holes_cap ? 2 * ctx->holes_cap : 256;
        void *p = realloc(ctx->holes, cap * sizeof(*ctx->holes));
        if (p == NULL) {
            return VOID_ENOMEM;
        }
        ctx->holes = p;
        ctx->holes_cap = cap;
    }
    ctx->holes[ctx->nholes++] = h;
    *stored += h.len;
    return 0;
}

static int gc_release_child(void *arg, const struct void_hash *child)
{
    struct gc_ctx *ctx = arg;
    uint64_t after;
    int rc = void__cas_refs_add(ctx->cas, ctx->txn, child, -1, &after);
    if (rc == 0 && after == 0) {
        rc = hashvec_push(ctx->work, child);
    }
    return rc;
}

/* Deletes block h (if still present) and releases its children. */
static int gc_free_one(struct gc_ctx *ctx,
                       const struct void_hash *h,
                       struct void__cas_delta *delta,
                       struct void_cas_gc_result *result)
{
    MDB_val k = {VOID_HASH_SIZE, (void *)(uintptr_t)h->b}, v;
    int rc = mdb_get(ctx->txn, ctx->cas->blocks, &k, &v);
    if (rc == MDB_NOTFOUND) {
        return 0;
    }
    if (rc != 0) {
        return void__cas_err(rc);
    }
    uint8_t *raw, kind;
    size_t len;
    size_t stored = v.mv_size;
    /* Note the pack range now: v is only valid until the next update. */
    if ((rc = hole_push(ctx, &v, &stored)) != 0) {
        return rc;
    }
    const uint8_t *rec = v.mv_data;
    if (v.mv_size >= VOID__CAS_RECORD_HEADER && rec[1] == VOID_CAS_BLOB) {
        /* A blob has no children: no need to read (or trust) its bytes. */
        len = (size_t)rec[4] << 24 | (size_t)rec[5] << 16 | (size_t)rec[6] << 8 | rec[7];
    } else if ((rc = void__cas_record_decode(ctx->cas, &v, h, &raw, &len, &kind)) != 0) {
        return rc == VOID_ENOMEM ? rc : VOID_ECAS_BAD_RECORD;
    } else {
        rc = void__cas_children(kind, raw, len, gc_release_child, ctx);
        free(raw);
    }
    if (rc == 0) {
        rc = void__cas_err(mdb_del(ctx->txn, ctx->cas->blocks, &k, NULL));
    }
    if (rc == 0) {
        delta->blocks -= 1;
        delta->raw_bytes -= (int64_t)len;
        delta->stored_bytes -= (int64_t)stored;
        result->blocks_freed++;
        result->bytes_freed += stored;
    }
    return rc < 0 ? rc : (rc > 0 ? VOID_ECAS_BAD_RECORD : 0);
}

/* Bytes of the freed pack ranges that trimming releases as well: those at
 * or beyond the new end of their pack (ends as in void__cas_packs_trim). */
static uint64_t holes_beyond_ends(const struct gc_ctx *ctx, const struct packends *pe)
{
    uint64_t sum = 0;
    for (size_t i = 0; i < ctx->nholes; i++) {
        const struct hole *h = &ctx->holes[i];
        uint64_t keep = h->pack < pe->n ? pe->end[h->pack] : 0;
        sum += h->off >= keep ? h->len : 0;
    }
    return sum;
}

static int gc_run(struct void_cas *cas, struct void_cas_gc_result *result, int dry_run)
{
    VOID_ASSERT(cas != NULL && cas->env != NULL);
    VOID_ASSERT(result != NULL);
    memset(result, 0, sizeof(*result));
    int rc = void__cas_lock(cas, 1);
    if (rc != 0) {
        return rc;
    }
    MDB_txn *txn;
    struct hashvec work = {NULL, 0, 0};
    struct void__cas_delta delta = {0, 0, 0};
    if ((rc = mdb_txn_begin(cas->env, NULL, 0, &txn)) != 0) {
        void__cas_unlock(cas);
        return void__cas_err(rc);
    }
    struct gc_ctx ctx = {cas, txn, &work, NULL, 0, 0};
    struct packends pe = {NULL, 0, 0};
    rc = gc_seed(cas, txn, &work);
    while (rc == 0 && work.n > 0) {
        struct void_hash h = work.v[--work.n];
        rc = gc_free_one(&ctx, &h, &delta, result);
    }
    if (rc == 0) {
        rc = gc_pack_ends(cas, txn, &pe);
    }
    if (rc == 0 && !dry_run) {
        rc = void__cas_delta_apply(cas, txn, &delta);
    }
    if (rc == 0 && !dry_run) {
        rc = void__cas_commit_sync(cas, txn);
    } else {
        mdb_txn_abort(txn);
    }
    if (rc != 0) {
        memset(result, 0, sizeof(*result));
    }
    /* Only now that no record points at them may the bytes go. */
    for (size_t i = 0; rc == 0 && !dry_run && i < ctx.nholes; i++) {
        void__cas_pack_punch(cas, ctx.holes[i].pack, ctx.holes[i].off, ctx.holes[i].len);
    }
    /* And what killed puts left at the end of their packs. */
    if (rc == 0 && !pe.overflow) {
        uint64_t trimmed = void__cas_packs_trim(cas, pe.end, pe.n, dry_run);
        uint64_t counted = holes_beyond_ends(&ctx, &pe);
        result->bytes_freed += trimmed > counted ? trimmed - counted : 0;
    }
    free(pe.end);
    free(ctx.holes);
    free(work.v);
    void__cas_unlock(cas);
    return rc;
}

int void_cas_gc(struct void_cas *cas, struct void_cas_gc_result *result)
{
    return gc_run(cas, result, 0);
}

int void_cas_gc_dry_run(struct void_cas *cas, struct void_cas_gc_result *result)
{
    return gc_run(cas, result, 1);
}

/* ---- fsck --------------------------------------------------------------- */

struct refslot {
    struct void_hash h;
    uint64_t count;
    uint8_t used;
};

/* Open-addressing table hash -> recomputed refcount, grown at half load. */
struct reftab {
    struct refslot *slots;
    size_t cap, n;
};

static size_t slot_of(const struct reftab *t, const struct void_hash *h)
{
    uint64_t x;
    memcpy(&x, h->b, sizeof(x)); /* SHA-256 bytes are uniform already */
    size_t i = (size_t)x & (t->cap - 1);
    while (t->slots[i].used && !void_hash_equal(&t->slots[i].h, h)) {
        i = (i + 1) & (t->cap - 1);
    }
    return i;
}

static int reftab_grow(struct reftab *t)
{
    struct reftab bigger = {calloc(t->cap * 2, sizeof(struct refslot)), t->cap * 2, t->n};
    if (bigger.slots == NULL) {
        return VOID_ENOMEM;
    }
    for (size_t i = 0; i < t->cap; i++) {
        if (t->slots[i].used) {
            bigger.slots[slot_of(&bigger, &t->slots[i].h)] = t->slots[i];
        }
    }
    free(t->slots);
    *t = bigger;
    return 0;
}

static int reftab_add(struct reftab *t, const struct void_hash *h, uint64_t delta)
{
    if (2 * (t->n + 1) > t->cap) {
        int rc = reftab_grow(t);
        if (rc != 0) {
            return rc;
        }
    }
    struct refslot *s = &t->slots[slot_of(t, h)];
    if (!s->used) {
        s->used = 1;
        s->h = *h;
        t->n++;
    }
    s->count += delta;
    return 0;
}

static uint64_t reftab_get(const struct reftab *t, const struct void_hash *h)
{
    const struct refslot *s = &t->slots[slot_of(t, h)];
    return s->used ? s->count : 0;
}

struct fsck {
    struct void_cas *cas;
    MDB_txn *txn;
    struct reftab refs;
    struct void_cas_fsck_result *result;
    void_cas_fsck_fn fn;
    void *arg;
};

static void report(struct fsck *f, const struct void_hash *h, const char *problem)
{
    if (f->fn != NULL) {
        f->fn(f->arg, h, problem);
    }
}

static int fsck_count_child(void *arg, const struct void_hash *child)
{
    return reftab_add(&((struct fsck *)arg)->refs, child, 1);
}

/* Pass 1: verify every block and count the references its object holds. */
static int fsck_blocks(struct fsck *f)
{
    MDB_cursor *cur;
    int rc = mdb_cursor_open(f->txn, f->cas->blocks, &cur);
    if (rc != 0) {
        return void__cas_err(rc);
    }
    MDB_val k, v;
    for (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0;
         rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
        struct void_hash h = {{0}};
        uint8_t *raw, kind;
        size_t len;
        memcpy(h.b, k.mv_data, k.mv_size < VOID_HASH_SIZE ? k.mv_size : VOID_HASH_SIZE);
        f->result->blocks++;
        int r = k.mv_size == VOID_HASH_SIZE
                    ? void__cas_record_decode(f->cas, &v, &h, &raw, &len, &kind)
                    : VOID_ECAS_BAD_RECORD;
        if (r == VOID_ENOMEM) {
            rc = r;
            break;
        }
        if (r != 0) {
            f->result->corrupted++;
            report(f, &h, void_strerror(r));
            continue;
        }
        r = void__cas_children(kind, raw, len, fsck_count_child, f);
        free(raw);
        if (r == VOID_ENOMEM) {
            rc = r;
            break;
        }
        if (r != 0) {
            f->result->corrupted++;
            report(f, &h, "malformed object");
        }
    }
    mdb_cursor_close(cur);
    return rc == MDB_NOTFOUND ? 0 : void__cas_err(rc);
}

/* Pass 2: count the pins' references. */
static int fsck_pins(struct fsck *f)
{
    MDB_cursor *cur;
    int rc = mdb_cursor_open(f->txn, f->cas->pins, &cur);
    if (rc != 0) {
        return void__cas_err(rc);
    }
    MDB_val k, v;
    for (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0;
         rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
        struct void_hash h;
        if (v.mv_size != VOID_HASH_SIZE) {
            f->result->corrupted++;
            continue;
        }
        memcpy(h.b, v.mv_data, VOID_HASH_SIZE);
        if ((rc = reftab_add(&f->refs, &h, 1)) != 0) {
            break;
        }
    }
    mdb_cursor_close(cur);
    return rc == MDB_NOTFOUND ? 0 : void__cas_err(rc);
}

/* Pass 3: every referenced hash must be a block; every block's stored
 * refcount must equal the recomputed one. */
static int fsck_compare(struct fsck *f)
{
    for (size_t i = 0; i < f->refs.cap; i++) {
        const struct refslot *s = &f->refs.slots[i];
        MDB_val k = {VOID_HASH_SIZE, (void *)(uintptr_t)s->h.b}, v;
        if (s->used && mdb_get(f->txn, f->cas->blocks, &k, &v) == MDB_NOTFOUND) {
            f->result->missing++;
            report(f, &s->h, "missing (referenced but not stored)");
        }
    }
    MDB_cursor *cur;
    int rc = mdb_cursor_open(f->txn, f->cas->blocks, &cur);
    if (rc != 0) {
        return void__cas_err(rc);
    }
    MDB_val k, v;
    for (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0;
         rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
        struct void_hash h;
        uint64_t stored;
        if (k.mv_size != VOID_HASH_SIZE) {
            continue;
        }
        memcpy(h.b, k.mv_data, VOID_HASH_SIZE);
        if ((rc = void__cas_refs_get(f->cas, f->txn, &h, &stored)) != 0) {
            break;
        }
        uint64_t want = reftab_get(&f->refs, &h);
        f->result->unreferenced += want == 0;
        if (stored != want) {
            f->result->bad_refcounts++;
            report(f, &h, "stored refcount differs from the references found");
        }
    }
    mdb_cursor_close(cur);
    return rc == MDB_NOTFOUND ? 0 : void__cas_err(rc);
}

int void_cas_fsck(struct void_cas *cas,
                  struct void_cas_fsck_result *result,
                  void_cas_fsck_fn fn,
                  void *arg)
{
    VOID_ASSERT(cas != NULL && cas->env != NULL);
    VOID_ASSERT(result != NULL);
    memset(result, 0, sizeof(*result));
    struct fsck f = {cas, NULL, {calloc(1024, sizeof(struct refslot)), 1024, 0}, result, fn, arg};
    if (f.refs.slots == NULL) {
        return VOID_ENOMEM;
    }
    int rc = mdb_txn_begin(cas->env, NULL, MDB_RDONLY, &f.txn);
    if (rc != 0) {
        free(f.refs.slots);
        return void__cas_err(rc);
    }
    rc = fsck_blocks(&f);
    if (rc == 0) {
        rc = fsck_pins(&f);
    }
    if (rc == 0) {
        rc = fsck_compare(&f);
    }
    mdb_txn_abort(f.txn);
    free(f.refs.slots);
    return rc;
}
