/*
 * Fetching a task's missing input blocks from the nearest holder (contract
 * in taskfetch.h; docs/scheduler.md, "Execution").
 */
#include "taskfetch.h"

#include "void/assert.h"
#include "void/casnet.h"
#include "void/error.h"
#include "void/log.h"
#include "void/pbft.h"

#include <stdlib.h>
#include <string.h>

void void__taskfetch_init(struct void__taskfetch *f,
                          const struct void_config *node,
                          struct void_cas *cas,
                          struct void_caswriter *writer,
                          struct void_kvclient *kv)
{
    VOID_ASSERT(f != NULL && node != NULL);
    VOID_ASSERT(cas != NULL && writer != NULL && kv != NULL);
    memset(f, 0, sizeof(*f));
    f->node = node;
    f->cas = cas;
    f->writer = writer;
    f->kv = kv;
}

void void__taskfetch_fini(struct void__taskfetch *f)
{
    VOID_ASSERT(f != NULL);
    for (size_t i = 0; i < f->count; i++) {
        free(f->want[i].object);
    }
    free(f->want);
    f->want = NULL;
    f->count = f->cap = 0;
}

int void__taskfetch_class(const struct void_config *node, uint32_t a, uint32_t b)
{
    VOID_ASSERT(node != NULL);
    const struct void_config_replica *ra = void_config_replica_get(node, a);
    const struct void_config_replica *rb = void_config_replica_get(node, b);
    if (ra == NULL || rb == NULL) {
        return VOID__TASKFETCH_CLASSES - 1;
    }
    const struct void_config_topology *x = &ra->topology, *y = &rb->topology;
    if (strcmp(x->datacenter, y->datacenter) != 0) {
        return 3;
    }
    if (strcmp(x->rack, y->rack) != 0) {
        return 2;
    }
    /* Same rack: the same host only when both name one (as in the sched
     * core, where unnamed hosts are one machine per member). */
    return a == b || (x->host[0] != '\0' && strcmp(x->host, y->host) == 0) ? 0 : 1;
}

/* The replica to ask at try k: the holders nearest first, then every other
 * replica by id (a replica without the block relays the fetch to its peers),
 * never this node. UINT32_MAX when every one was asked. */
static uint32_t target(const struct void__taskfetch *f, const struct void__taskfetch_want *w,
                       uint32_t k)
{
    uint32_t self = f->node->self_id;
    for (uint32_t i = 0; i < w->holder_count; i++) {
        if (w->holders[i] != self && k-- == 0) {
            return w->holders[i];
        }
    }
    for (uint32_t i = 0; i < f->node->count_replicas; i++) {
        uint32_t id = f->node->replicas[i].id;
        int holder = 0;
        for (uint32_t h = 0; h < w->holder_count; h++) {
            holder |= w->holders[h] == id;
        }
        if (id != self && !holder && k-- == 0) {
            return id;
        }
    }
    return UINT32_MAX;
}

static struct void__taskfetch_want *find(struct void__taskfetch *f, uint64_t job,
                                         const struct void_hash *h)
{
    for (size_t i = 0; i < f->count; i++) {
        if (f->want[i].job == job && void_hash_equal(&f->want[i].hash, h)) {
            return &f->want[i];
        }
    }
    return NULL;
}

/* Appends a want for block h of job, the holders copied from `like`. */
static int want_add(struct void__taskfetch *f, uint64_t job, const struct void_hash *h,
                    uint64_t *moved, const uint32_t *holders, uint32_t holder_count)
{
    if (find(f, job, h) != NULL) {
        return 0;
    }
    if (f->count == f->cap) {
        size_t cap = f->cap == 0 ? 64 : f->cap * 2;
        struct void__taskfetch_want *grown = realloc(f->want, cap * sizeof(*grown));
        if (grown == NULL) {
            return VOID_ENOMEM;
        }
        f->want = grown;
        f->cap = cap;
    }
    struct void__taskfetch_want *w = &f->want[f->count++];
    memset(w, 0, sizeof(*w));
    w->hash = *h;
    w->job = job;
    w->moved = moved;
    w->holder_count = holder_count;
    memcpy(w->holders, holders, holder_count * sizeof(*holders));
    return 0;
}

int void__taskfetch_add(struct void__taskfetch *f,
                        uint64_t job,
                        const struct void_task_input *in,
                        uint64_t moved[VOID__TASKFETCH_CLASSES])
{
    VOID_ASSERT(f != NULL && in != NULL);
    VOID_ASSERT(in->holder_count <= VOID_TASK_HOLDERS_MAX);
    struct void_hash root;
    memcpy(root.b, in->root, VOID_HASH_SIZE);
    if (void_cas_has(f->cas, &root) == 1) {
        return 0; /* an object is stored only with its whole tree */
    }
    /* Holders nearest first (insertion sort by class, then id). */
    uint32_t order[VOID_TASK_HOLDERS_MAX];
    uint32_t n = in->holder_count;
    uint32_t self = f->node->self_id;
    for (uint32_t i = 0; i < n; i++) {
        uint32_t h = in->holders[i], k = i;
        int ch = void__taskfetch_class(f->node, self, h);
        while (k > 0 && (void__taskfetch_class(f->node, self, order[k - 1]) > ch ||
                         (void__taskfetch_class(f->node, self, order[k - 1]) == ch &&
                          order[k - 1] > h))) {
            order[k] = order[k - 1];
            k--;
        }
        order[k] = h;
    }
    int rc = want_add(f, job, &root, moved, order, n);
    return rc == 0 ? 1 : rc;
}

static void want_remove(struct void__taskfetch *f, size_t i)
{
    if (f->want[i].state == 1) {
        f->in_flight--;
    }
    free(f->want[i].object);
    f->want[i] = f->want[--f->count];
}

int void__taskfetch_status(struct void__taskfetch *f, uint64_t job)
{
    VOID_ASSERT(f != NULL);
    int pending = 0;
    for (size_t i = 0; i < f->count; i++) {
        if (f->want[i].job == job) {
            if (f->want[i].state == 0 && target(f, &f->want[i], f->want[i].tries) == UINT32_MAX) {
                void__taskfetch_drop(f, job);
                return VOID_ECAS_MISSING;
            }
            pending = 1;
        }
    }
    return pending;
}

void void__taskfetch_drop(struct void__taskfetch *f, uint64_t job)
{
    VOID_ASSERT(f != NULL);
    for (size_t i = f->count; i-- > 0;) {
        if (f->want[i].job == job) {
            want_remove(f, i);
        }
    }
}

static void ask(struct void__taskfetch *f, struct void__taskfetch_want *w, uint64_t now_ms)
{
    uint32_t to = target(f, w, w->tries);
    if (to == UINT32_MAX) {
        return; /* every replica was asked: status() reports it */
    }
    uint8_t body[VOID_CASNET_FETCH_SIZE];
    void_casnet_fetch_encode(VOID_CASNET_FETCH, &w->hash, body);
    (void)void_kvclient_send(f->kv, to, VOID_MSG_CAS_FETCH, body, sizeof(body));
    w->asked = to;
    w->tries++;
    w->state = 1;
    w->asked_ms = now_ms;
    f->in_flight++;
}

/* Every child of object w is stored? */
static int child_stored(void *ctx, const struct void_hash *h)
{
    struct void__taskfetch *f = ctx;
    return void_cas_has(f->cas, h) == 1 ? 0 : VOID_ECAS_MISSING;
}

struct adding {
    struct void__taskfetch *f;
    struct void__taskfetch_want parent; /* a copy: want_add may move the array */
};

static int add_child(void *ctx, const struct void_hash *h)
{
    struct adding *a = ctx;
    if (void_cas_has(a->f->cas, h) == 1) {
        return 0;
    }
    const struct void__taskfetch_want *p = &a->parent;
    return want_add(a->f, p->job, h, p->moved, p->holders, p->holder_count);
}

static void got_block(struct void__taskfetch *f, const struct void_frame *fr)
{
    uint8_t kind = 0;
    const uint8_t *data = NULL;
    size_t len = 0;
    struct void_hash h;
    if (void_casnet_block_decode(fr->body, fr->body_len, &kind, &data, &len, &h) != 0) {
        return;
    }
    /* The hash was computed here: a forged block matches no want. Several
     * jobs may want the same block. */
    for (size_t i = 0; i < f->count; i++) {
        struct void__taskfetch_want *w = &f->want[i];
        if (w->state != 1 || !void_hash_equal(&w->hash, &h)) {
            continue;
        }
        f->in_flight--;
        int cls = void__taskfetch_class(f->node, f->node->self_id, fr->sender);
        f->bytes[cls] += len;
        f->blocks[cls]++;
        if (w->moved != NULL) {
            w->moved[cls] += len;
        }
        w->kind = kind;
        w->asked_ms = f->now_ms;
        if (kind == VOID_CAS_BLOB) {
            int rc = void_caswriter_submit(f->writer, kind, data, len, f->node->self_id, 1);
            w->state = rc == 0 ? 3 : 0;
            if (rc != 0) {
                w->tries--; /* the writer was busy: the same replica again, not a new try */
            }
            continue;
        }
        w->object = malloc(len);
        if (w->object == NULL) {
            w->state = 0;
            w->tries--;
            continue;
        }
        memcpy(w->object, data, len);
        w->object_len = len;
        w->state = 2;
        size_t at = i;
        struct adding a = {.f = f, .parent = *w};
        if (void_casnet_children(kind, data, len, add_child, &a) != 0) {
            /* Hash-verified yet undecodable, or out of memory: try later. */
            w = &f->want[at];
            free(w->object);
            w->object = NULL;
            w->state = 0;
        }
    }
}

void void__taskfetch_frame(struct void__taskfetch *f, const struct void_frame *fr)
{
    VOID_ASSERT(f != NULL && fr != NULL);
    if (fr->type == VOID_MSG_CAS_BLOCK) {
        got_block(f, fr);
        return;
    }
    uint8_t op = 0;
    struct void_hash h;
    if (fr->type != VOID_MSG_CAS_FETCH ||
        void_casnet_fetch_decode(fr->body, fr->body_len, &op, &h) != 0 ||
        op != VOID_CASNET_MISSING) {
        return;
    }
    for (size_t i = 0; i < f->count; i++) {
        struct void__taskfetch_want *w = &f->want[i];
        if (w->state == 1 && w->asked == fr->sender && void_hash_equal(&w->hash, &h)) {
            w->state = 0; /* the next replica, at once */
            f->in_flight--;
        }
    }
}

void void__taskfetch_tick(struct void__taskfetch *f, uint64_t now_ms, int full)
{
    VOID_ASSERT(f != NULL);
    f->now_ms = now_ms;
    for (size_t i = 0; i < f->count && !full; i++) {
        /* After a frame: only the next fetches, so that a file of many
         * blocks does not cost a store lookup per block per arrival. */
        if (f->want[i].state == 0 && f->in_flight < VOID__TASKFETCH_WINDOW) {
            ask(f, &f->want[i], now_ms);
        }
    }
    for (size_t i = 0; i < f->count && full; i++) {
        struct void__taskfetch_want *w = &f->want[i];
        if (w->state == 3 && now_ms - w->asked_ms >= 10 * VOID__TASKFETCH_RETRY &&
            void_cas_has(f->cas, &w->hash) != 1) {
            w->state = 0; /* the writer did not store it (a disk error): fetched again */
        }
        if (w->state == 1 && now_ms - w->asked_ms >= VOID__TASKFETCH_RETRY) {
            w->state = 0; /* no answer: a dead or slow replica */
            f->in_flight--;
        }
        if (w->state == 0 && f->in_flight < VOID__TASKFETCH_WINDOW) {
            ask(f, w, now_ms);
        }
        if (w->state == 2 &&
            void_casnet_children(w->kind, w->object, w->object_len, child_stored, f) == 0) {
            /* Post-order: the children are durable, the object may follow. */
            if (void_caswriter_submit(
                    f->writer, w->kind, w->object, w->object_len, f->node->self_id, 1) == 0) {
                free(w->object);
                w->object = NULL;
                w->state = 3;
                w->asked_ms = now_ms;
            }
        }
    }
    /* Written blocks leave the list once the store has them. */
    for (size_t i = f->count; full && i-- > 0;) {
        if (f->want[i].state == 3 && void_cas_has(f->cas, &f->want[i].hash) == 1) {
            want_remove(f, i);
        }
    }
}
