/*
 * Copies of a task's output on other members: see taskput.h.
 */
#include "taskput.h"
#include "void/assert.h"
#include "void/casnet.h"
#include "void/error.h"
#include "void/log.h"

#include <stdlib.h>
#include <string.h>

void void__taskput_init(struct void__taskput *p, struct void_cas *cas, struct void_kvclient *kv)
{
    VOID_ASSERT(p != NULL && cas != NULL && kv != NULL);
    memset(p, 0, sizeof(*p));
    p->cas = cas;
    p->kv = kv;
}

void void__taskput_fini(struct void__taskput *p)
{
    VOID_ASSERT(p != NULL);
    free(p->blocks);
    memset(p, 0, sizeof(*p));
}

struct adding {
    struct void__taskput *p;
    uint64_t job, targets, now_ms;
    int added;
};

static int add_block(void *ctx, const struct void_hash *h, uint8_t kind, const uint8_t *data,
                     size_t len)
{
    struct adding *a = ctx;
    struct void__taskput *p = a->p;
    (void)kind;
    (void)data;
    (void)len;
    for (size_t i = 0; i < p->count; i++) {
        if (p->blocks[i].job == a->job && void_hash_equal(&p->blocks[i].hash, h)) {
            return 0; /* shared by several parents: once */
        }
    }
    if (p->count == p->cap) {
        size_t cap = p->cap == 0 ? 64 : p->cap * 2;
        struct void__taskput_block *grown = realloc(p->blocks, cap * sizeof(*grown));
        if (grown == NULL) {
            return VOID_ENOMEM;
        }
        p->blocks = grown;
        p->cap = cap;
    }
    /* The walk gives children before parents, and the list keeps that
     * order: a member stores an object only once it has its children. */
    p->blocks[p->count++] = (struct void__taskput_block){
        .hash = *h, .job = a->job, .targets = a->targets, .begun_ms = a->now_ms};
    a->added++;
    return 0;
}

int void__taskput_add(struct void__taskput *p, uint64_t job, const struct void_hash *root,
                      uint64_t targets, uint64_t now_ms)
{
    VOID_ASSERT(p != NULL && root != NULL);
    if (targets == 0) {
        return 0;
    }
    size_t before = p->count;
    struct adding a = {.p = p, .job = job, .targets = targets, .now_ms = now_ms};
    int rc = void_casnet_walk(p->cas, root, add_block, &a);
    if (rc != 0) {
        p->count = before; /* all or nothing */
        return rc;
    }
    VOID_ASSERT(p->count == before + (size_t)a.added);
    void__taskput_tick(p, now_ms);
    return a.added;
}

size_t void__taskput_pending(const struct void__taskput *p, uint64_t job)
{
    VOID_ASSERT(p != NULL);
    size_t n = 0;
    for (size_t i = 0; i < p->count; i++) {
        const struct void__taskput_block *b = &p->blocks[i];
        n += b->job == job && (b->acks & b->targets) != b->targets;
    }
    return n;
}

uint32_t void__taskput_copies(const struct void__taskput *p, uint64_t job, uint64_t targets)
{
    VOID_ASSERT(p != NULL);
    uint64_t all = targets;
    for (size_t i = 0; i < p->count; i++) {
        if (p->blocks[i].job == job) {
            all &= p->blocks[i].acks;
        }
    }
    return (uint32_t)__builtin_popcountll(all);
}

int void__taskput_frame(struct void__taskput *p, const struct void_frame *f)
{
    VOID_ASSERT(p != NULL && f != NULL);
    int completed = 0;
    uint8_t op = 0;
    struct void_hash h;
    if (f->type != VOID_MSG_CAS_FETCH || f->sender >= 64 ||
        void_casnet_fetch_decode(f->body, f->body_len, &op, &h) != 0 || op != VOID_CASNET_STORED) {
        return 0;
    }
    uint64_t bit = 1ull << f->sender;
    for (size_t i = 0; i < p->count; i++) {
        struct void__taskput_block *b = &p->blocks[i];
        if ((b->targets & bit) == 0 || (b->acks & bit) != 0 || !void_hash_equal(&b->hash, &h)) {
            continue;
        }
        b->acks |= bit;
        p->copies++;
        if ((b->acks & b->targets) == b->targets && b->sent_ms != 0) {
            VOID_ASSERT(p->in_flight > 0);
            p->in_flight--;
            b->sent_ms = 0;
            completed++;
        }
    }
    return completed;
}

/* Sends block b to each target that has not acknowledged it; 0, or the
 * store's error when the block cannot be read back. */
static int send_block(struct void__taskput *p, struct void__taskput_block *b)
{
    uint8_t *body = NULL;
    size_t len = 0;
    int rc = void_casnet_block_body(p->cas, &b->hash, &body, &len);
    if (rc != 0) {
        return rc;
    }
    uint64_t left = b->targets & ~b->acks;
    for (uint32_t id = 0; left != 0 && id < 64; id++) {
        if ((left & (1ull << id)) != 0) {
            (void)void_kvclient_send(p->kv, id, VOID_MSG_CAS_BLOCK, body, len);
        }
    }
    free(body);
    return 0;
}

void void__taskput_tick(struct void__taskput *p, uint64_t now_ms)
{
    VOID_ASSERT(p != NULL);
    p->now_ms = now_ms;
    /* Forget what every target holds, and uploads past their lifetime
     * (order kept: children before parents). */
    size_t kept = 0;
    for (size_t i = 0; i < p->count; i++) {
        struct void__taskput_block *b = &p->blocks[i];
        int done = (b->acks & b->targets) == b->targets;
        int old = now_ms - b->begun_ms >= VOID__TASKPUT_LIFETIME;
        if (!done && b->sent_ms != 0) {
            if (old) {
                p->in_flight--;
            }
        }
        if (done || old) {
            if (!done) {
                p->abandoned++;
                void_log(VOID_LOG_WARN,
                         "task %llu: output block %02x%02x%02x%02x… not acknowledged by every "
                         "chosen member after %u s: given up (fewer copies of the output)",
                         (unsigned long long)b->job, b->hash.b[0], b->hash.b[1], b->hash.b[2],
                         b->hash.b[3], VOID__TASKPUT_LIFETIME / 1000);
            }
            continue;
        }
        p->blocks[kept++] = *b;
    }
    p->count = kept;
    for (size_t i = 0; i < p->count; i++) {
        struct void__taskput_block *b = &p->blocks[i];
        int due = b->sent_ms == 0 ? p->in_flight < VOID__TASKPUT_WINDOW
                                  : now_ms - b->sent_ms >= VOID__TASKPUT_RESEND;
        if (!due) {
            continue;
        }
        if (send_block(p, b) != 0) {
            continue; /* not readable now: tried at the next tick */
        }
        p->in_flight += b->sent_ms == 0;
        b->sent_ms = now_ms != 0 ? now_ms : 1;
    }
    VOID_ASSERT(p->in_flight <= p->count);
}
