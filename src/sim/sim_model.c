/*
 * The simulator's world model: a binary-heap event queue in virtual time with
 * insertion-order tie-breaking, the link model (delay, loss, duplication,
 * reordering, partitions), clocks as a transformation of virtual time, and a
 * disk whose unsynced tail disappears on a crash. Everything is deterministic
 * given the caller's PRNG; nothing here touches real time, sockets or files.
 */
#include "void/sim_model.h"

#include "void/assert.h"
#include "void/error.h"

#include <stdlib.h>
#include <string.h>

/* ---- event queue ------------------------------------------------------ */

void void_simq_init(struct void_simq *q)
{
    VOID_ASSERT(q != NULL);
    memset(q, 0, sizeof(*q));
}

void void_simq_fini(struct void_simq *q)
{
    VOID_ASSERT(q != NULL);
    free(q->heap);
    memset(q, 0, sizeof(*q));
}

static int item_before(const struct void_simq_item *a, const struct void_simq_item *b)
{
    if (a->at_ns != b->at_ns) {
        return a->at_ns < b->at_ns;
    }
    return a->seq < b->seq;
}

int void_simq_push(struct void_simq *q, const struct void_simq_item *item)
{
    VOID_ASSERT(q != NULL);
    VOID_ASSERT(item != NULL);
    if (q->count == q->cap) {
        size_t cap = q->cap == 0 ? 256 : q->cap * 2;
        struct void_simq_item *heap = realloc(q->heap, cap * sizeof(*heap));
        if (heap == NULL) {
            return VOID_ENOMEM;
        }
        q->heap = heap;
        q->cap = cap;
    }
    size_t i = q->count++;
    q->heap[i] = *item;
    q->heap[i].seq = q->next_seq++;
    while (i > 0) {
        size_t parent = (i - 1) / 2;
        if (!item_before(&q->heap[i], &q->heap[parent])) {
            break;
        }
        struct void_simq_item tmp = q->heap[i];
        q->heap[i] = q->heap[parent];
        q->heap[parent] = tmp;
        i = parent;
    }
    return 0;
}

int void_simq_pop(struct void_simq *q, struct void_simq_item *out)
{
    VOID_ASSERT(q != NULL);
    VOID_ASSERT(out != NULL);
    if (q->count == 0) {
        return VOID_ENOTFOUND;
    }
    *out = q->heap[0];
    q->heap[0] = q->heap[--q->count];
    size_t i = 0;
    for (;;) {
        size_t l = 2 * i + 1;
        size_t r = l + 1;
        size_t m = i;
        if (l < q->count && item_before(&q->heap[l], &q->heap[m])) {
            m = l;
        }
        if (r < q->count && item_before(&q->heap[r], &q->heap[m])) {
            m = r;
        }
        if (m == i) {
            break;
        }
        struct void_simq_item tmp = q->heap[i];
        q->heap[i] = q->heap[m];
        q->heap[m] = tmp;
        i = m;
    }
    return 0;
}

uint64_t void_simq_peek_time(const struct void_simq *q)
{
    VOID_ASSERT(q != NULL);
    return q->count == 0 ? UINT64_MAX : q->heap[0].at_ns;
}

/* ---- network ------------------------------------------------------------ */

int void_simnet_init(struct void_simnet *net,
                     uint32_t count_nodes,
                     const struct void_simnet_link *link)
{
    VOID_ASSERT(net != NULL);
    VOID_ASSERT(link != NULL);
    if (count_nodes == 0 || count_nodes > VOID_SIMNET_NODES_MAX) {
        return VOID_EINVAL;
    }
    memset(net, 0, sizeof(*net));
    net->count_nodes = count_nodes;
    for (uint32_t a = 0; a < count_nodes; a++) {
        for (uint32_t b = 0; b < count_nodes; b++) {
            net->links[a][b] = *link;
        }
    }
    return 0;
}

/* Draws are made in a fixed order whatever the outcome (loss, delay, reorder,
 * dup, second delay), so that a change of one probability shifts only what it
 * must and the stream stays aligned across runs with different link
 * settings. */
int void_simnet_route(struct void_simnet *net,
                      struct void_prng *prng,
                      uint32_t from,
                      uint32_t to,
                      uint64_t now_ns,
                      uint64_t at_ns[2])
{
    VOID_ASSERT(from < net->count_nodes);
    VOID_ASSERT(to < net->count_nodes);
    const struct void_simnet_link *l = &net->links[from][to];
    VOID_ASSERT(l->delay_ns_min <= l->delay_ns_max);
    net->count_sent++;
    int lost = void_prng_chance(prng, l->loss_ppm, 1000000);
    uint64_t delay = void_prng_range(prng, l->delay_ns_min, l->delay_ns_max);
    int reorder = void_prng_chance(prng, l->reorder_ppm, 1000000);
    uint64_t extra = void_prng_range(prng, 0, l->reorder_ns_max);
    int dup = void_prng_chance(prng, l->dup_ppm, 1000000);
    uint64_t delay2 = void_prng_range(prng, l->delay_ns_min, l->delay_ns_max + l->reorder_ns_max);
    if (net->cut[from][to]) {
        net->count_cut++;
        return 0;
    }
    if (lost) {
        net->count_lost++;
        return 0;
    }
    if (reorder) {
        net->count_reordered++;
        delay += extra;
    }
    at_ns[0] = now_ns + delay;
    if (!dup) {
        return 1;
    }
    net->count_dup++;
    at_ns[1] = now_ns + delay2;
    return 2;
}

void void_simnet_set_cut(struct void_simnet *net, uint32_t a, uint32_t b, int cut)
{
    VOID_ASSERT(a < net->count_nodes);
    VOID_ASSERT(b < net->count_nodes);
    net->cut[a][b] = (uint8_t)(cut != 0);
    net->cut[b][a] = (uint8_t)(cut != 0);
}

void void_simnet_isolate(struct void_simnet *net, uint32_t node)
{
    VOID_ASSERT(node < net->count_nodes);
    for (uint32_t i = 0; i < net->count_nodes; i++) {
        if (i != node) {
            void_simnet_set_cut(net, node, i, 1);
        }
    }
}

void void_simnet_heal_all(struct void_simnet *net)
{
    VOID_ASSERT(net != NULL);
    memset(net->cut, 0, sizeof(net->cut));
}

/* ---- clocks ------------------------------------------------------------- */

uint64_t void_simclock_read(const struct void_simclock *c, uint64_t vt_ns)
{
    VOID_ASSERT(c != NULL);
    VOID_ASSERT(vt_ns < (UINT64_C(1) << 62));
    /* vt_ns < 2^62 and |drift| small, so the product fits when split. */
    int64_t drift = (int64_t)(vt_ns / 1000000000u) * c->drift_ppb +
                    (int64_t)(vt_ns % 1000000000u) * c->drift_ppb / 1000000000;
    int64_t delta = c->offset_ns + drift;
    uint64_t base = c->epoch_ns + vt_ns;
    if (delta < 0 && (uint64_t)(-delta) > base) {
        return 0;
    }
    return delta < 0 ? base - (uint64_t)(-delta) : base + (uint64_t)delta;
}

/* ---- disk --------------------------------------------------------------- */

void void_simdisk_init(struct void_simdisk *d)
{
    VOID_ASSERT(d != NULL);
    memset(d, 0, sizeof(*d));
}

void void_simdisk_fini(struct void_simdisk *d)
{
    VOID_ASSERT(d != NULL);
    for (size_t i = 0; i < d->count; i++) {
        free(d->records[i].data);
    }
    free(d->records);
    memset(d, 0, sizeof(*d));
}

int void_simdisk_append(struct void_simdisk *d, const uint8_t *data, size_t len)
{
    VOID_ASSERT(d != NULL);
    VOID_ASSERT(data != NULL || len == 0);
    if (d->count == d->cap) {
        size_t cap = d->cap == 0 ? 64 : d->cap * 2;
        struct void_simdisk_record *r = realloc(d->records, cap * sizeof(*r));
        if (r == NULL) {
            return VOID_ENOMEM;
        }
        d->records = r;
        d->cap = cap;
    }
    uint8_t *copy = malloc(len == 0 ? 1 : len);
    if (copy == NULL) {
        return VOID_ENOMEM;
    }
    if (len > 0) {
        memcpy(copy, data, len);
    }
    d->records[d->count].data = copy;
    d->records[d->count].len = len;
    d->count++;
    return 0;
}

void void_simdisk_sync(struct void_simdisk *d)
{
    VOID_ASSERT(d != NULL);
    d->synced = d->count;
}

size_t void_simdisk_crash(struct void_simdisk *d)
{
    VOID_ASSERT(d != NULL);
    VOID_ASSERT(d->synced <= d->count);
    size_t lost = d->count - d->synced;
    for (size_t i = d->synced; i < d->count; i++) {
        free(d->records[i].data);
    }
    d->count = d->synced;
    d->count_lost += lost;
    return lost;
}
