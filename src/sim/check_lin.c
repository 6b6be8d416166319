/*
 * Linearizability checker for a key/value history: the Wing & Gong search
 * with Lowe's memoisation ("Testing for linearizability", 2017), the algorithm
 * Porcupine and Knossos use. The history is split per key (a map of
 * registers is linearizable iff every register's sub-history is), which keeps
 * each search small. For one key, the calls and returns are put in a linked
 * list in time order; the search walks it, tentatively "lifting" a call whose
 * operation is legal in the current state, and backtracks at a return whose
 * call is not yet lifted. A cache of (set of linearized ops, state) pairs
 * prunes states that were already explored.
 */
#include "void/assert.h"
#include "void/error.h"
#include "void/sim_check.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define LIN_BUDGET_DEF (4u << 20)

struct lin_entry {
    uint64_t at_ns;
    uint32_t op; /* index into the per-key op array */
    int is_call;
    struct lin_entry *match; /* call <-> return */
    struct lin_entry *prev;
    struct lin_entry *next;
};

/* The memo: an open-addressing set of (bitset, state) keys stored inline. */
struct lin_cache {
    uint64_t *slots; /* each slot: words bitset words + 1 state + 1 used flag */
    size_t count_slots;
    size_t count_used;
    size_t words;
};

struct lin_frame {
    struct lin_entry *entry;
    uint64_t state;
};

static uint64_t mix64(uint64_t x)
{
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdull;
    x ^= x >> 33;
    x *= 0xc4ceb9fe1a85ec53ull;
    return x ^ (x >> 33);
}

static int cache_grow(struct lin_cache *c);

/* Inserts (bits, state); returns 1 if it was new, 0 if present, or
 * VOID_ENOMEM. */
static int cache_insert(struct lin_cache *c, const uint64_t *bits, uint64_t state)
{
    if ((c->count_used + 1) * 2 > c->count_slots) {
        int rc = cache_grow(c);
        if (rc != 0) {
            return rc;
        }
    }
    size_t stride = c->words + 2;
    uint64_t h = mix64(state);
    for (size_t i = 0; i < c->words; i++) {
        h = mix64(h ^ bits[i]);
    }
    size_t mask = c->count_slots - 1;
    for (size_t probe = 0; probe < c->count_slots; probe++) {
        uint64_t *slot = &c->slots[((h + probe) & mask) * stride];
        if (slot[c->words + 1] == 0) {
            memcpy(slot, bits, c->words * sizeof(uint64_t));
            slot[c->words] = state;
            slot[c->words + 1] = 1;
            c->count_used++;
            return 1;
        }
        if (slot[c->words] == state && memcmp(slot, bits, c->words * sizeof(uint64_t)) == 0) {
            return 0;
        }
    }
    VOID_ASSERT(0 && "cache full despite load factor");
    return VOID_EINTERNAL;
}

static int cache_grow(struct lin_cache *c)
{
    struct lin_cache bigger = {.words = c->words, .count_slots = c->count_slots * 2};
    if (bigger.count_slots == 0) {
        bigger.count_slots = 1024;
    }
    bigger.slots = calloc(bigger.count_slots, (c->words + 2) * sizeof(uint64_t));
    if (bigger.slots == NULL) {
        return VOID_ENOMEM;
    }
    size_t stride = c->words + 2;
    for (size_t i = 0; i < c->count_slots; i++) {
        uint64_t *slot = &c->slots[i * stride];
        if (slot[c->words + 1] != 0) {
            int rc = cache_insert(&bigger, slot, slot[c->words]);
            VOID_ASSERT(rc == 1);
        }
    }
    free(c->slots);
    *c = bigger;
    return 0;
}

/* The register model: applies op to state. Returns 1 and sets *next when the
 * op's observed result is possible in state, else 0. */
static int model_step(const struct void_check_op *op, uint64_t state, uint64_t *next)
{
    switch ((enum void_check_op_kind)op->kind) {
    case VOID_CHECK_PUT:
        *next = op->value;
        return 1;
    case VOID_CHECK_DEL:
        *next = 0;
        return 1;
    case VOID_CHECK_GET:
        *next = state;
        return !op->completed || op->out_value == state;
    case VOID_CHECK_CAS: {
        int swaps = state == op->expected;
        *next = swaps ? op->value : state;
        return !op->completed || op->out_ok == swaps;
    }
    }
    return 0;
}

static void entry_lift(struct lin_entry *call)
{
    call->prev->next = call->next;
    if (call->next != NULL) {
        call->next->prev = call->prev;
    }
    struct lin_entry *ret = call->match;
    ret->prev->next = ret->next;
    if (ret->next != NULL) {
        ret->next->prev = ret->prev;
    }
}

static void entry_unlift(struct lin_entry *call)
{
    struct lin_entry *ret = call->match;
    ret->prev->next = ret;
    if (ret->next != NULL) {
        ret->next->prev = ret;
    }
    call->prev->next = call;
    if (call->next != NULL) {
        call->next->prev = call;
    }
}

static int entry_cmp(const void *pa, const void *pb)
{
    const struct lin_entry *a = pa;
    const struct lin_entry *b = pb;
    if (a->at_ns != b->at_ns) {
        return a->at_ns < b->at_ns ? -1 : 1;
    }
    /* At equal times calls go first: the ops count as concurrent. */
    if (a->is_call != b->is_call) {
        return a->is_call ? -1 : 1;
    }
    return a->op < b->op ? -1 : (a->op > b->op ? 1 : 0);
}

/* Builds the sorted, linked entry list for ops[0..n) into entries[2n + 1]
 * (entries[0] is the head sentinel). */
static void
build_entries(const struct void_check_op *const *ops, uint32_t n, struct lin_entry *entries)
{
    struct lin_entry *e = entries + 1;
    for (uint32_t i = 0; i < n; i++) {
        e[2 * i] = (struct lin_entry){.at_ns = ops[i]->invoke_ns, .op = i, .is_call = 1};
        uint64_t ret = ops[i]->completed ? ops[i]->return_ns : UINT64_MAX;
        VOID_ASSERT(ret >= ops[i]->invoke_ns);
        e[2 * i + 1] = (struct lin_entry){.at_ns = ret, .op = i, .is_call = 0};
    }
    qsort(e, 2 * (size_t)n, sizeof(*e), entry_cmp);
    memset(&entries[0], 0, sizeof(entries[0]));
    struct lin_entry *prev = &entries[0];
    for (size_t i = 0; i < 2 * (size_t)n; i++) {
        e[i].prev = prev;
        prev->next = &e[i];
        prev = &e[i];
    }
    prev->next = NULL;
}

/* Pairs each call with its return (after sorting moved them around). */
static int match_entries(struct lin_entry *entries, uint32_t n)
{
    struct lin_entry **calls = calloc(n, sizeof(*calls));
    if (calls == NULL) {
        return VOID_ENOMEM;
    }
    for (struct lin_entry *e = entries[0].next; e != NULL; e = e->next) {
        if (e->is_call) {
            calls[e->op] = e;
        } else {
            VOID_ASSERT(calls[e->op] != NULL);
            calls[e->op]->match = e;
            e->match = calls[e->op];
        }
    }
    free(calls);
    return 0;
}

/* The search for one key. Returns 1 linearizable, 0 not, or a negative code. */
static int check_key(const struct void_check_op *const *ops, uint32_t n, size_t budget)
{
    struct lin_entry *entries = calloc(2 * (size_t)n + 1, sizeof(*entries));
    size_t words = (n + 63) / 64;
    uint64_t *bits = calloc(words, sizeof(uint64_t));
    struct lin_frame *stack = calloc(n + 1, sizeof(*stack));
    struct lin_cache cache = {.words = words};
    int result = VOID_ENOMEM;
    if (entries == NULL || bits == NULL || stack == NULL) {
        goto done;
    }
    build_entries(ops, n, entries);
    if (match_entries(entries, n) != 0) {
        goto done;
    }
    struct lin_entry *head = &entries[0];
    struct lin_entry *e = head->next;
    uint64_t state = 0;
    size_t depth = 0;
    while (head->next != NULL) {
        if (e->is_call) {
            uint64_t next;
            if (model_step(ops[e->op], state, &next)) {
                bits[e->op / 64] |= UINT64_C(1) << (e->op % 64);
                int fresh = cache_insert(&cache, bits, next);
                if (fresh < 0) {
                    result = fresh;
                    goto done;
                }
                if (fresh) {
                    if (cache.count_used > budget) {
                        result = VOID_ETIMEOUT;
                        goto done;
                    }
                    VOID_ASSERT(depth < n);
                    stack[depth++] = (struct lin_frame){.entry = e, .state = state};
                    state = next;
                    entry_lift(e);
                    e = head->next;
                    continue;
                }
                bits[e->op / 64] &= ~(UINT64_C(1) << (e->op % 64));
            }
            e = e->next;
        } else {
            if (depth == 0) {
                result = 0;
                goto done;
            }
            struct lin_frame f = stack[--depth];
            state = f.state;
            bits[f.entry->op / 64] &= ~(UINT64_C(1) << (f.entry->op % 64));
            entry_unlift(f.entry);
            e = f.entry->next;
        }
    }
    result = 1;
done:
    free(cache.slots);
    free(stack);
    free(bits);
    free(entries);
    return result;
}

static int op_key_cmp(const void *pa, const void *pb)
{
    const struct void_check_op *a = *(const struct void_check_op *const *)pa;
    const struct void_check_op *b = *(const struct void_check_op *const *)pb;
    if (a->key != b->key) {
        return a->key < b->key ? -1 : 1;
    }
    /* Stable within a key: by address, i.e. by original position. */
    return a < b ? -1 : (a > b ? 1 : 0);
}

int void_check_linearizable(
    const struct void_check_op *ops, size_t count, size_t state_budget, char *msg, size_t msg_cap)
{
    VOID_ASSERT(ops != NULL || count == 0);
    VOID_ASSERT(count < UINT32_MAX);
    if (count == 0) {
        return 0;
    }
    const struct void_check_op **sorted = calloc(count, sizeof(*sorted));
    if (sorted == NULL) {
        return VOID_ENOMEM;
    }
    for (size_t i = 0; i < count; i++) {
        sorted[i] = &ops[i];
    }
    qsort(sorted, count, sizeof(*sorted), op_key_cmp);
    size_t budget = state_budget == 0 ? LIN_BUDGET_DEF : state_budget;
    int bad = 0;
    int undecided = 0;
    for (size_t lo = 0; lo < count;) {
        size_t hi = lo + 1;
        while (hi < count && sorted[hi]->key == sorted[lo]->key) {
            hi++;
        }
        int rc = check_key(sorted + lo, (uint32_t)(hi - lo), budget);
        if (rc < 0) {
            undecided = rc;
        } else if (rc == 0) {
            if (bad == 0 && msg != NULL && msg_cap > 0) {
                snprintf(msg,
                         msg_cap,
                         "history of key %llu (%zu ops) is not linearizable",
                         (unsigned long long)sorted[lo]->key,
                         hi - lo);
            }
            bad++;
        }
        lo = hi;
    }
    free(sorted);
    if (bad > 0) {
        return bad;
    }
    return undecided;
}
