/*
 * Task operations in the replicated state machine (include/void/task.h,
 * docs/scheduler.md "Tasks through PBFT"): HOLD, SUBMIT, REPORT, CANCEL and
 * EXPIRE, executed by every replica alike, with placement by the placement
 * core (include/void/sched.h) inside the batch.
 *
 * Determinism: every input of a decision is replicated state (the task
 * records, the table of active tasks, the hold records, the membership
 * record) or the batch's label and stamp, which every replica agrees on;
 * the placement is the sched core's annealing seeded by the label, all
 * integers. The heap serves as scratch only: an allocation failure is a
 * local failure of this replica (sm->failed = VOID_ENOMEM), never an
 * answer, so replicas cannot diverge on it.
 */
#include "void/assert.h"
#include "void/bytes.h"
#include "void/error.h"
#include "void/membership.h"
#include "void/sched.h"
#include "void/sm.h"
#include "void/task.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TABLE_VERSION   1
#define TABLE_HEAD      (1 + 8 + 4)
#define TABLE_ENTRY     (8 + 1 + 4 + 4 + 8)
#define HOLD_RECORD_MAX (VOID_HASH_SIZE + 8 + 1 + 4 * VOID_TASK_HOLDERS_MAX)
#define MEMBER_HEAD     21 /* the membership record's head (src/core/sm.c) */

/* One entry of the table of active tasks ("\0void/tasks"), in id order. */
struct active {
    uint64_t id;
    uint8_t state; /* WAITING or RUNNING */
    uint32_t node;
    uint32_t cpu;
    uint64_t mem;
};

struct ctx {
    struct void_sm *sm;
    uint64_t client;
    uint8_t *value; /* the answer's value (caller's buffer) */
    size_t value_cap;
    struct void_sm_result *res;
    uint64_t next_id;
    uint32_t count;
    struct active *act;                 /* VOID_TASK_ACTIVE_MAX entries */
    struct void_membership_config *cfg; /* latest configuration */
    uint8_t *copy;                      /* a record read, copied out of the store */
    uint8_t *rec;                       /* a record to write */
};

/* ---- store access --------------------------------------------------------- */

/* As sm.c's store_rc: deterministic answers leave the state machine going,
 * anything else stops it. */
static int kvs_rc(struct void_sm *sm, int rc)
{
    if (rc != 0 && rc != VOID_EINVAL && rc != VOID_ENOTFOUND && rc != VOID_EFULL &&
        rc != VOID_EKVS_TOO_OLD && sm->failed == 0) {
        sm->failed = rc;
    }
    return rc;
}

/* Reads key's live value into c->copy (cap VOID_TASK_RECORD_MAX) and sets
 * *len. Returns 0, VOID_ENOTFOUND, VOID_ECORRUPT (too large) or a failure. */
static int read_copy(struct ctx *c, const uint8_t *key, size_t key_len, size_t cap, size_t *len)
{
    struct void_kvs_version v;
    int rc = kvs_rc(c->sm, void_kvs_get(c->sm->kvs, key, key_len, NULL, &v));
    if (rc != 0 || v.deleted) {
        return rc != 0 ? rc : VOID_ENOTFOUND;
    }
    if (v.value_len > cap) {
        return VOID_ECORRUPT;
    }
    memcpy(c->copy, v.value, v.value_len);
    *len = v.value_len;
    return 0;
}

/* A write; sets the answer's status. Returns 0 or nonzero (answered). */
static int write_key(struct ctx *c, const uint8_t *key, size_t key_len, const uint8_t *v, size_t n)
{
    int rc = kvs_rc(c->sm, void_kvs_put(c->sm->kvs, key, key_len, v, n));
    if (rc != 0) {
        c->res->status = rc == VOID_EFULL ? VOID_SM_FULL : VOID_SM_BAD_OP;
        c->res->value_len = 0;
    }
    return rc;
}

/* A refusal: "VOID_E...: reason" in the answer. Returns 0 (answered). */
static int refuse(struct ctx *c, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int refuse(struct ctx *c, int code, const char *fmt, ...)
{
    int n = snprintf((char *)c->value, c->value_cap, "%s: ", void_err_name(code));
    VOID_ASSERT(n > 0 && (size_t)n < c->value_cap);
    va_list ap;
    va_start(ap, fmt);
    int m = vsnprintf((char *)c->value + n, c->value_cap - (size_t)n, fmt, ap);
    va_end(ap);
    size_t len = (size_t)n + (m > 0 ? (size_t)m : 0);
    c->res->status = VOID_SM_REFUSED;
    c->res->value = c->value;
    c->res->value_len = (uint32_t)(len < c->value_cap ? len : c->value_cap - 1);
    return 0;
}

/* ---- the table of active tasks ------------------------------------------- */

static int table_read(struct ctx *c)
{
    /* Parsed straight from the store: c->copy may hold the task record
     * the caller is working on. */
    struct void_kvs_version v;
    int rc = kvs_rc(
        c->sm,
        void_kvs_get(
            c->sm->kvs, (const uint8_t *)VOID_TASK_TABLE_KEY, VOID_TASK_TABLE_KEY_LEN, NULL, &v));
    c->next_id = 1;
    c->count = 0;
    if (rc == VOID_ENOTFOUND || (rc == 0 && v.deleted)) {
        return 0;
    }
    if (rc != 0) {
        return rc;
    }
    const uint8_t *p = v.value;
    if (v.value_len < TABLE_HEAD || p[0] != TABLE_VERSION) {
        return VOID_ECORRUPT;
    }
    c->next_id = void_bytes_get_be64(p + 1);
    c->count = void_bytes_get_be32(p + 9);
    if (c->count > VOID_TASK_ACTIVE_MAX ||
        v.value_len != TABLE_HEAD + (size_t)c->count * TABLE_ENTRY) {
        return VOID_ECORRUPT;
    }
    for (uint32_t i = 0; i < c->count; i++) {
        const uint8_t *e = p + TABLE_HEAD + (size_t)i * TABLE_ENTRY;
        c->act[i] = (struct active){void_bytes_get_be64(e),
                                    e[8],
                                    void_bytes_get_be32(e + 9),
                                    void_bytes_get_be32(e + 13),
                                    void_bytes_get_be64(e + 17)};
    }
    return 0;
}

static int table_write(struct ctx *c)
{
    uint8_t *p = c->rec;
    p[0] = TABLE_VERSION;
    void_bytes_put_be64(p + 1, c->next_id);
    void_bytes_put_be32(p + 9, c->count);
    for (uint32_t i = 0; i < c->count; i++) {
        uint8_t *e = p + TABLE_HEAD + (size_t)i * TABLE_ENTRY;
        void_bytes_put_be64(e, c->act[i].id);
        e[8] = c->act[i].state;
        void_bytes_put_be32(e + 9, c->act[i].node);
        void_bytes_put_be32(e + 13, c->act[i].cpu);
        void_bytes_put_be64(e + 17, c->act[i].mem);
    }
    return write_key(c,
                     (const uint8_t *)VOID_TASK_TABLE_KEY,
                     VOID_TASK_TABLE_KEY_LEN,
                     p,
                     TABLE_HEAD + (size_t)c->count * TABLE_ENTRY);
}

static int table_find(const struct ctx *c, uint64_t id)
{
    for (uint32_t i = 0; i < c->count; i++) {
        if (c->act[i].id == id) {
            return (int)i;
        }
    }
    return -1;
}

static void table_remove(struct ctx *c, uint64_t id)
{
    int at = table_find(c, id);
    VOID_ASSERT(at >= 0);
    memmove(&c->act[at], &c->act[at + 1], (c->count - (uint32_t)at - 1) * sizeof(c->act[0]));
    c->count--;
}

/* ---- records -------------------------------------------------------------- */

/* Reads task id into *t (pointing into c->copy). */
static int task_read(struct ctx *c, uint64_t id, struct void_task *t)
{
    uint8_t key[VOID_TASK_KEY_LEN];
    void_task_key(id, key);
    size_t len = 0;
    int rc = read_copy(c, key, sizeof(key), VOID_TASK_RECORD_MAX, &len);
    if (rc == 0 && void_task_decode(c->copy, len, t) != 0) {
        rc = VOID_ECORRUPT;
    }
    return rc;
}

static int task_write(struct ctx *c, const struct void_task *t)
{
    uint8_t key[VOID_TASK_KEY_LEN];
    void_task_key(t->id, key);
    int n = void_task_encode(t, c->rec, VOID_TASK_RECORD_MAX);
    VOID_ASSERT(n > 0);
    return write_key(c, key, sizeof(key), c->rec, (size_t)n);
}

/* The latest configuration (the genesis when no change was made). */
static int members_read(struct ctx *c)
{
    static const uint8_t key[] = VOID_SM_MEMBER_KEY;
    struct void_kvs_version v;
    int rc = kvs_rc(c->sm, void_kvs_get(c->sm->kvs, key, VOID_SM_MEMBER_KEY_LEN, NULL, &v));
    if (rc == VOID_ENOTFOUND || (rc == 0 && v.deleted)) {
        *c->cfg = *c->sm->member.genesis;
        return 0;
    }
    if (rc != 0) {
        return rc;
    }
    if (v.value_len < MEMBER_HEAD || v.value[0] != 1) {
        return VOID_ECORRUPT;
    }
    uint32_t latest_len = void_bytes_get_be32(v.value + 17);
    if (latest_len > v.value_len - MEMBER_HEAD ||
        void_membership_config_decode(c->cfg, v.value + MEMBER_HEAD, latest_len) != 0) {
        return VOID_ECORRUPT;
    }
    return 0;
}

static uint32_t cap_cpu(const struct void_sm *sm)
{
    return sm->task_setup != NULL && sm->task_setup->cpu != 0 ? sm->task_setup->cpu
                                                              : VOID_TASK_CPU_DEF;
}

static uint64_t cap_mem(const struct void_sm *sm)
{
    return sm->task_setup != NULL && sm->task_setup->mem != 0 ? sm->task_setup->mem
                                                              : VOID_TASK_MEM_DEF;
}

/* Where member m is: its configuration entry, or the setup's location for
 * its id when the entry names none. */
static struct void_sched_location location_of(const struct void_sm *sm, const struct void_member *m)
{
    const struct void_sm_task_setup *ts = sm->task_setup;
    int named = m->datacenter[0] != '\0' || m->rack[0] != '\0' || m->host[0] != '\0';
    if (!named && ts != NULL && ts->locations != NULL && m->id < ts->location_count &&
        ts->locations[m->id].datacenter != NULL && ts->locations[m->id].rack != NULL &&
        ts->locations[m->id].host != NULL) {
        return ts->locations[m->id];
    }
    return (struct void_sched_location){m->datacenter, m->rack, m->host};
}

/* ---- placement ------------------------------------------------------------ */

/* The waiting tasks as a placement problem. */
struct batch {
    struct void_sched_host hosts[VOID_MEMBERSHIP_MEMBERS_MAX];
    struct void_sched_location loc[VOID_MEMBERSHIP_MEMBERS_MAX];
    uint32_t n_tasks, n_objects, n_holders;
    uint64_t *ids; /* task ids, n_tasks */
    struct void_sched_task *tasks;
    struct void_sched_object *objects;
    uint32_t *holders; /* host indices */
    uint32_t *inputs;  /* object indices */
};

static void batch_free(struct batch *b)
{
    free(b->ids);
    free(b->tasks);
    free(b->objects);
    free(b->holders);
    free(b->inputs);
}

static struct void_sched_problem
batch_problem(const struct batch *b, uint32_t hosts, uint32_t t0, uint32_t n)
{
    struct void_sched_problem p = {.hosts = b->hosts,
                                   .host_count = hosts,
                                   .objects = b->objects,
                                   .object_count = b->n_objects,
                                   .holders = b->holders,
                                   .holder_count = b->n_holders,
                                   .tasks = b->tasks + t0,
                                   .task_count = n,
                                   .inputs = b->inputs,
                                   .input_count = b->n_objects};
    void_sched_params_default(&p.params);
    return p;
}

/* Collects the waiting tasks (inputs whose holders are still members
 * become objects; an input no member holds costs nothing anywhere: it must
 * be fetched whatever the choice) and the hosts with their load. A host
 * that lost a waiting task takes no task in this round. */
static int batch_build(struct ctx *c, struct batch *b)
{
    const struct void_membership_config *cfg = c->cfg;
    uint32_t n = cfg->count;
    for (uint32_t h = 0; h < n; h++) {
        const struct void_member *m = &cfg->members[h];
        b->loc[h] = location_of(c->sm, m);
        b->hosts[h] = (struct void_sched_host){.cpu_capacity = cap_cpu(c->sm),
                                               .mem_capacity = cap_mem(c->sm)};
    }
    int rc = void_sched_topology(b->hosts, b->loc, n);
    if (rc != 0) {
        return VOID_EINVAL; /* a setup location over VOID_SCHED_NAME_MAX: the driver's bug */
    }
    uint32_t waiting = 0;
    for (uint32_t i = 0; i < c->count; i++) {
        const struct active *a = &c->act[i];
        int h = void_membership_find(cfg, a->node);
        if (a->state == VOID_TASK_RUNNING && h >= 0) {
            struct void_sched_host *host = &b->hosts[h];
            host->cpu_load = a->cpu > host->cpu_capacity - host->cpu_load ? host->cpu_capacity
                                                                          : host->cpu_load + a->cpu;
            host->mem_load = a->mem > host->mem_capacity - host->mem_load ? host->mem_capacity
                                                                          : host->mem_load + a->mem;
        }
        waiting += a->state == VOID_TASK_WAITING;
    }
    b->ids = calloc(waiting + 1, sizeof(*b->ids));
    b->tasks = calloc(waiting + 1, sizeof(*b->tasks));
    b->objects = calloc((size_t)waiting * VOID_TASK_INPUTS_MAX + 1, sizeof(*b->objects));
    b->inputs = calloc((size_t)waiting * VOID_TASK_INPUTS_MAX + 1, sizeof(*b->inputs));
    b->holders = calloc((size_t)waiting * VOID_TASK_INPUTS_MAX * VOID_TASK_HOLDERS_MAX + 1,
                        sizeof(*b->holders));
    if (b->ids == NULL || b->tasks == NULL || b->objects == NULL || b->inputs == NULL ||
        b->holders == NULL) {
        return VOID_ENOMEM;
    }
    struct void_task t;
    for (uint32_t i = 0; i < c->count && rc == 0; i++) {
        if (c->act[i].state != VOID_TASK_WAITING) {
            continue;
        }
        rc = task_read(c, c->act[i].id, &t);
        if (rc != 0) {
            return rc == VOID_ENOTFOUND ? VOID_ECORRUPT : rc; /* the table names it */
        }
        int avoid = void_membership_find(cfg, t.avoid);
        if (avoid >= 0) {
            b->hosts[avoid].cpu_load = b->hosts[avoid].cpu_capacity;
        }
        struct void_sched_task *st = &b->tasks[b->n_tasks];
        *st = (struct void_sched_task){.cpu = t.cpu, .mem = t.mem, .input_first = b->n_objects};
        b->ids[b->n_tasks++] = t.id;
        for (uint32_t k = 0; k < t.input_count; k++) {
            struct void_sched_object *o = &b->objects[b->n_objects];
            *o = (struct void_sched_object){.size_bytes = t.inputs[k].bytes,
                                            .holder_first = b->n_holders};
            for (uint32_t j = 0; j < t.inputs[k].holder_count; j++) {
                int h = void_membership_find(cfg, t.inputs[k].holders[j]);
                if (h >= 0) {
                    b->holders[b->n_holders++] = (uint32_t)h;
                    o->holder_count++;
                }
            }
            if (o->holder_count > 0) {
                b->inputs[b->n_objects] = b->n_objects;
                b->n_objects++;
                st->input_count++;
            }
        }
    }
    return rc;
}

/* Marks task id placed on host h of the batch; writes its record and adds
 * its input bytes by distance class to bytes[] (inputs no member holds
 * count as across). */
static int place_one(
    struct ctx *c, const struct batch *b, uint32_t bt, uint32_t h, uint64_t bytes[VOID_SCHED_CLASSES])
{
    struct void_task t;
    int rc = task_read(c, b->ids[bt], &t);
    if (rc != 0) {
        return rc;
    }
    /* This task's own data cost and bytes moved, by the core's evaluation
     * of it alone on h. Inputs no member holds are moved whatever. */
    struct void_sched_problem one = batch_problem(b, c->cfg->count, bt, 1);
    struct void_sched_host empty[VOID_MEMBERSHIP_MEMBERS_MAX];
    memcpy(empty, b->hosts, sizeof(empty));
    for (uint32_t i = 0; i < c->cfg->count; i++) {
        empty[i].cpu_load = 0;
        empty[i].mem_load = 0;
    }
    one.hosts = empty;
    struct void_sched_result r;
    rc = void_sched_evaluate(&one, &h, &r);
    VOID_ASSERT(rc == 0);
    t.state = VOID_TASK_RUNNING;
    t.attempt++;
    t.node = c->cfg->members[h].id;
    t.avoid = VOID_TASK_NO_NODE;
    t.placed = c->sm->batch_label;
    t.started_ns = c->sm->last_stamp.wall_ns;
    t.cost = r.data_cost;
    uint64_t held = 0;
    for (uint32_t k = 0; k < b->tasks[bt].input_count; k++) {
        held += b->objects[b->inputs[b->tasks[bt].input_first + k]].size_bytes;
    }
    t.bytes_moved = r.bytes_moved + (t.bytes_in - held);
    for (int k = 0; k < VOID_SCHED_CLASSES; k++) {
        bytes[k] += r.bytes[k];
    }
    bytes[VOID_SCHED_CLASSES - 1] += t.bytes_in - held;
    int at = table_find(c, t.id);
    VOID_ASSERT(at >= 0);
    c->act[at].state = VOID_TASK_RUNNING;
    c->act[at].node = t.node;
    return task_write(c, &t);
}

/* Places every waiting task that fits: all in one batch by annealing
 * seeded by the sequence number; when the batch does not fit as a whole,
 * one by one in id order (the oldest first), each alone. */
static int place_waiting(struct ctx *c)
{
    struct batch b;
    memset(&b, 0, sizeof(b));
    int rc = batch_build(c, &b);
    if (rc != 0 || b.n_tasks == 0) {
        batch_free(&b);
        return rc;
    }
    const struct void_sm_task_setup *ts = c->sm->task_setup;
    struct void_sm_task_placement seen = {.begin = 1, .batch = b.n_tasks};
    if (ts != NULL && ts->observe != NULL) {
        ts->observe(ts->observe_ctx, &seen);
    }
    seen.begin = 0;
    uint32_t hosts = c->cfg->count;
    uint32_t *where = calloc(b.n_tasks, sizeof(*where));
    struct void_sched_problem p = batch_problem(&b, hosts, 0, b.n_tasks);
    int solved = void_sched_validate(&p);
    void *work = NULL;
    if (solved == 0 && where != NULL) {
        size_t need = void_sched_work_size(&p);
        work = malloc(need);
        struct void_sched_options o = {.solver = VOID_SCHED_ANNEAL, .seed = c->sm->batch_label};
        struct void_sched_result r;
        solved = work == NULL ? VOID_ENOMEM : void_sched_place(&p, &o, work, need, where, &r);
        free(work);
        work = NULL;
        if (solved == 0) {
            seen.whole = 1;
            seen.cost = r.cost;
            seen.greedy_cost = r.greedy_cost;
        }
    }
    rc = where == NULL || solved == VOID_ENOMEM ? VOID_ENOMEM : 0;
    for (uint32_t t = 0; t < b.n_tasks && rc == 0; t++) {
        uint32_t h = where[t];
        if (solved != 0) {
            /* One at a time on the load so far: greedy on one task is its
             * cheapest host with room. */
            struct void_sched_problem one = batch_problem(&b, hosts, t, 1);
            size_t need = void_sched_work_size(&one);
            work = malloc(need);
            struct void_sched_options o = {.solver = VOID_SCHED_GREEDY, .seed = c->sm->batch_label};
            struct void_sched_result r;
            int placed =
                work == NULL ? VOID_ENOMEM : void_sched_place(&one, &o, work, need, &h, &r);
            free(work);
            if (placed == VOID_ENOMEM) {
                rc = VOID_ENOMEM;
                break;
            }
            if (placed != 0) {
                continue; /* no room: it waits */
            }
        }
        b.hosts[h].cpu_load += b.tasks[t].cpu;
        b.hosts[h].mem_load += b.tasks[t].mem;
        rc = place_one(c, &b, t, h, seen.bytes);
        seen.placed += rc == 0;
    }
    if (ts != NULL && ts->observe != NULL) {
        ts->observe(ts->observe_ctx, &seen);
    }
    free(where);
    batch_free(&b);
    return rc;
}

/* ---- the operations ------------------------------------------------------- */

static int name_is_file_name(struct void_task_str s)
{
    if ((s.len == 1 && s.p[0] == '.') || (s.len == 2 && s.p[0] == '.' && s.p[1] == '.')) {
        return 0;
    }
    return memchr(s.p, '/', s.len) == NULL && memchr(s.p, '\0', s.len) == NULL;
}

/* Reads the hold record of name into in. Returns 0, VOID_ENOTFOUND or a
 * failure. */
static int hold_read(struct ctx *c, struct void_task_str name, struct void_task_input *in)
{
    uint8_t key[VOID_TASK_HOLD_PREFIX_LEN + VOID_TASK_NAME_MAX];
    memcpy(key, VOID_TASK_HOLD_PREFIX, VOID_TASK_HOLD_PREFIX_LEN);
    memcpy(key + VOID_TASK_HOLD_PREFIX_LEN, name.p, name.len);
    struct void_kvs_version v;
    int rc = kvs_rc(c->sm,
                    void_kvs_get(c->sm->kvs, key, VOID_TASK_HOLD_PREFIX_LEN + name.len, NULL, &v));
    if (rc != 0 || v.deleted) {
        return rc != 0 ? rc : VOID_ENOTFOUND;
    }
    if (v.value_len < VOID_HASH_SIZE + 9 ||
        v.value_len != VOID_HASH_SIZE + 9 + 4 * (size_t)v.value[VOID_HASH_SIZE + 8] ||
        v.value[VOID_HASH_SIZE + 8] > VOID_TASK_HOLDERS_MAX) {
        return VOID_ECORRUPT;
    }
    in->name = name;
    memcpy(in->root, v.value, VOID_HASH_SIZE);
    in->bytes = void_bytes_get_be64(v.value + VOID_HASH_SIZE);
    in->holder_count = v.value[VOID_HASH_SIZE + 8];
    for (uint32_t k = 0; k < in->holder_count; k++) {
        in->holders[k] = void_bytes_get_be32(v.value + VOID_HASH_SIZE + 9 + 4 * k);
    }
    return 0;
}

/* The answer to SUBMIT, REPORT, CANCEL and EXPIRE: u64 id | u8 state |
 * u32 node | u32 attempt, from the task's record after the op. */
static int answer_task(struct ctx *c, uint64_t id)
{
    struct void_task t;
    int rc = task_read(c, id, &t);
    if (rc != 0) {
        return rc;
    }
    void_bytes_put_be64(c->value, t.id);
    c->value[8] = t.state;
    void_bytes_put_be32(c->value + 9, t.node);
    void_bytes_put_be32(c->value + 13, t.attempt);
    c->res->status = VOID_SM_OK;
    c->res->version = c->sm->last_stamp;
    c->res->value = c->value;
    c->res->value_len = 17;
    return 0;
}

static uint64_t client_id(uint64_t table_key)
{
    return table_key > UINT32_MAX ? table_key >> 32 : table_key;
}

/* May this client submit tasks? Every client the cluster accepts, unless
 * the setup lists the submitters ([tasks] submitters in voidd). */
static int may_submit(const struct ctx *c)
{
    const struct void_sm_task_setup *ts = c->sm->task_setup;
    if (ts == NULL || ts->submitter_count == 0) {
        return 1;
    }
    for (uint32_t i = 0; i < ts->submitter_count; i++) {
        if (ts->submitters[i] == client_id(c->client)) {
            return 1;
        }
    }
    return 0;
}

static int do_submit(struct ctx *c, const struct void_task_submit *s)
{
    struct void_task t;
    memset(&t, 0, sizeof(t));
    if (!may_submit(c)) {
        return refuse(c,
                      VOID_EPERM,
                      "client %llu may not submit tasks (not among the cluster's task submitters)",
                      (unsigned long long)client_id(c->client));
    }
    if (s->cpu == 0 || s->timeout_s == 0 || s->timeout_s > VOID_TASK_TIMEOUT_MAX) {
        return refuse(c,
                      VOID_EINVAL,
                      "a task wants cpu >= 1 and a timeout of 1..%u s (got cpu %u, timeout %u)",
                      VOID_TASK_TIMEOUT_MAX,
                      s->cpu,
                      s->timeout_s);
    }
    if (s->cpu > cap_cpu(c->sm) || s->mem > cap_mem(c->sm)) {
        return refuse(c,
                      VOID_ERANGE,
                      "limits above any member's capacity: cpu %u of %u units, memory %llu of "
                      "%llu bytes",
                      s->cpu,
                      cap_cpu(c->sm),
                      (unsigned long long)s->mem,
                      (unsigned long long)cap_mem(c->sm));
    }
    for (uint32_t i = 0; i < s->input_count; i++) {
        if (!name_is_file_name(s->inputs[i])) {
            return refuse(c,
                          VOID_EBAD_FIELD,
                          "input name '%.*s' cannot be a file name in the task's directory",
                          (int)s->inputs[i].len,
                          (const char *)s->inputs[i].p);
        }
        for (uint32_t k = 0; k < i; k++) {
            if (s->inputs[k].len == s->inputs[i].len &&
                memcmp(s->inputs[k].p, s->inputs[i].p, s->inputs[i].len) == 0) {
                return refuse(c,
                              VOID_EBAD_FIELD,
                              "input '%.*s' named twice",
                              (int)s->inputs[i].len,
                              (const char *)s->inputs[i].p);
            }
        }
        int rc = hold_read(c, s->inputs[i], &t.inputs[i]);
        if (rc == VOID_ENOTFOUND) {
            return refuse(c,
                          VOID_ENOTFOUND,
                          "no input named '%.*s' (store it with voidctl put --file first)",
                          (int)s->inputs[i].len,
                          (const char *)s->inputs[i].p);
        }
        if (rc != 0) {
            return rc;
        }
        t.bytes_in += t.inputs[i].bytes;
    }
    int rc = table_read(c);
    if (rc != 0) {
        return rc;
    }
    if (c->count >= VOID_TASK_ACTIVE_MAX) {
        return refuse(c, VOID_EFULL, "%u tasks are waiting or running", c->count);
    }
    t.id = c->next_id++;
    t.state = VOID_TASK_WAITING;
    t.client = c->client;
    t.submitted = c->sm->batch_label;
    t.cpu = s->cpu;
    t.mem = s->mem;
    t.timeout_s = s->timeout_s;
    t.node = VOID_TASK_NO_NODE;
    t.avoid = VOID_TASK_NO_NODE;
    t.input_count = s->input_count;
    t.exe = s->exe;
    t.arg_count = s->arg_count;
    memcpy(t.args, s->args, sizeof(t.args));
    if (task_write(c, &t) != 0) {
        return 0; /* answered: full */
    }
    c->act[c->count++] = (struct active){t.id, VOID_TASK_WAITING, VOID_TASK_NO_NODE, t.cpu, t.mem};
    rc = place_waiting(c);
    if (rc == 0 && table_write(c) == 0) {
        rc = answer_task(c, t.id);
    }
    return rc;
}

/* Counts an ended task under "\0void/task-ended" (done, failed,
 * cancelled: three big-endian u64), so that every replica can say how many
 * tasks ended in each state without reading every record. */
static int count_ended(struct ctx *c, uint8_t state)
{
    uint8_t v[24] = {0};
    size_t len = 0;
    int rc = read_copy(c, (const uint8_t *)VOID_TASK_ENDED_KEY, VOID_TASK_ENDED_KEY_LEN, sizeof(v),
                       &len);
    if (rc == 0 && len == sizeof(v)) {
        memcpy(v, c->copy, sizeof(v));
    } else if (rc != 0 && rc != VOID_ENOTFOUND) {
        return rc;
    }
    int at = state == VOID_TASK_DONE ? 0 : state == VOID_TASK_FAILED ? 1 : 2;
    void_bytes_put_be64(v + 8 * at, void_bytes_get_be64(v + 8 * at) + 1);
    return write_key(c, (const uint8_t *)VOID_TASK_ENDED_KEY, VOID_TASK_ENDED_KEY_LEN, v, sizeof(v));
}

/* Ends a running or waiting task t (already updated by the caller). */
static int finish(struct ctx *c, struct void_task *t)
{
    t->finished_ns = c->sm->last_stamp.wall_ns;
    uint64_t id = t->id;
    if (task_write(c, t) != 0 || count_ended(c, t->state) != 0) {
        return 0;
    }
    table_remove(c, id);
    int rc = place_waiting(c);
    if (rc == 0 && table_write(c) == 0) {
        rc = answer_task(c, id);
    }
    return rc;
}

static int refuse_ended(struct ctx *c, const struct void_task *t)
{
    return refuse(c,
                  VOID_EEXIST,
                  "task %llu already ended (%s); its result was taken once",
                  (unsigned long long)t->id,
                  void_task_state_name(t->state));
}

/* The output of a reported task is a file like any other: "file:task-<id>"
 * names its root (voidctl get --file task-<id>) and its hold record names
 * the member that made it, so a later task can take it as an input. */
static int bind_output(struct ctx *c, const struct void_task *t)
{
    char name[32];
    int n = snprintf(name, sizeof(name), "task-%llu", (unsigned long long)t->id);
    VOID_ASSERT(n > 0 && (size_t)n < sizeof(name));
    uint8_t key[VOID_TASK_HOLD_PREFIX_LEN + 32];
    struct void_hash root;
    memcpy(root.b, t->out_root, VOID_HASH_SIZE);
    char hex[VOID_HASH_HEX_SIZE];
    void_hash_to_hex(&root, hex);
    memcpy(key, "file:", 5);
    memcpy(key + 5, name, (size_t)n);
    int rc = write_key(c, key, 5 + (size_t)n, (const uint8_t *)hex, VOID_HASH_HEX_SIZE - 1);
    if (rc != 0) {
        return rc;
    }
    uint8_t rec[VOID_HASH_SIZE + 13];
    memcpy(rec, t->out_root, VOID_HASH_SIZE);
    void_bytes_put_be64(rec + VOID_HASH_SIZE, t->out_bytes);
    rec[VOID_HASH_SIZE + 8] = 1;
    void_bytes_put_be32(rec + VOID_HASH_SIZE + 9, t->node);
    memcpy(key, VOID_TASK_HOLD_PREFIX, VOID_TASK_HOLD_PREFIX_LEN);
    memcpy(key + VOID_TASK_HOLD_PREFIX_LEN, name, (size_t)n);
    return write_key(c, key, VOID_TASK_HOLD_PREFIX_LEN + (size_t)n, rec, sizeof(rec));
}

static int do_report(struct ctx *c, const struct void_task_op *op)
{
    const struct void_task_report *r = &op->report;
    struct void_task t;
    int rc = task_read(c, r->id, &t);
    if (rc == VOID_ENOTFOUND) {
        return refuse(c, VOID_ENOTFOUND, "no task %llu", (unsigned long long)r->id);
    }
    if (rc != 0) {
        return rc;
    }
    if (t.state != VOID_TASK_RUNNING && t.state != VOID_TASK_WAITING) {
        return refuse_ended(c, &t);
    }
    if (t.state != VOID_TASK_RUNNING || r->attempt != t.attempt) {
        return refuse(c,
                      VOID_EBAD_FIELD,
                      "report for attempt %u of task %llu, which is %s at attempt %u",
                      r->attempt,
                      (unsigned long long)t.id,
                      void_task_state_name(t.state),
                      t.attempt);
    }
    if (r->node != t.node) {
        return refuse(c,
                      VOID_EPERM,
                      "task %llu runs on member %u, not %u",
                      (unsigned long long)t.id,
                      t.node,
                      r->node);
    }
    if (r->outcome < VOID_TASK_EXITED || r->outcome > VOID_TASK_ERROR) {
        return refuse(c, VOID_EBAD_FIELD, "unknown outcome %u", r->outcome);
    }
    int at = void_membership_find(c->cfg, r->node);
    uint8_t msg[64 + VOID_TASK_REASON_MAX + VOID_HASH_SIZE];
    int n = void_task_report_message(r, msg, sizeof(msg));
    VOID_ASSERT(n > 0);
    if (at < 0 ||
        void_sign_verify(
            c->cfg->members[at].public_key, VOID_SIGN_DOMAIN_MEMBER, msg, (size_t)n, r->sig) != 0) {
        return refuse(c, VOID_EBAD_SIG, "the report is not signed by member %u", r->node);
    }
    if ((rc = table_read(c)) != 0) {
        return rc;
    }
    t.state = r->outcome == VOID_TASK_EXITED && r->code == 0 ? VOID_TASK_DONE : VOID_TASK_FAILED;
    t.outcome = r->outcome;
    t.code = r->code;
    t.reason = r->reason;
    memcpy(t.out_root, r->out_root, VOID_HASH_SIZE);
    t.out_bytes = r->out_bytes;
    static const uint8_t zero[VOID_HASH_SIZE] = {0};
    if (memcmp(r->out_root, zero, VOID_HASH_SIZE) != 0 && (rc = bind_output(c, &t)) != 0) {
        return rc == VOID_EFULL ? 0 : rc; /* full: answered */
    }
    return finish(c, &t);
}

static int do_cancel(struct ctx *c, uint64_t id)
{
    struct void_task t;
    int rc = task_read(c, id, &t);
    if (rc == VOID_ENOTFOUND) {
        return refuse(c, VOID_ENOTFOUND, "no task %llu", (unsigned long long)id);
    }
    if (rc != 0) {
        return rc;
    }
    if (client_id(t.client) != client_id(c->client)) {
        return refuse(c,
                      VOID_EPERM,
                      "task %llu was submitted by client %llu, not %llu",
                      (unsigned long long)id,
                      (unsigned long long)client_id(t.client),
                      (unsigned long long)client_id(c->client));
    }
    if (t.state != VOID_TASK_RUNNING && t.state != VOID_TASK_WAITING) {
        return refuse_ended(c, &t);
    }
    if ((rc = table_read(c)) != 0) {
        return rc;
    }
    t.state = VOID_TASK_CANCELLED;
    return finish(c, &t);
}

static int do_expire(struct ctx *c, uint64_t id)
{
    struct void_task t;
    int rc = task_read(c, id, &t);
    if (rc == VOID_ENOTFOUND) {
        return refuse(c, VOID_ENOTFOUND, "no task %llu", (unsigned long long)id);
    }
    if (rc != 0) {
        return rc;
    }
    if (t.state != VOID_TASK_RUNNING) {
        return refuse(c,
                      VOID_EINVAL,
                      "task %llu is %s, not running",
                      (unsigned long long)id,
                      void_task_state_name(t.state));
    }
    uint64_t deadline = t.started_ns + (uint64_t)t.timeout_s * 1000000000ull + VOID_TASK_GRACE_NS;
    if (c->sm->last_stamp.wall_ns <= deadline) {
        return refuse(c,
                      VOID_EAGAIN,
                      "task %llu's attempt %u is not overdue for %llu ms more",
                      (unsigned long long)id,
                      t.attempt,
                      (unsigned long long)((deadline - c->sm->last_stamp.wall_ns) / 1000000));
    }
    if ((rc = table_read(c)) != 0) {
        return rc;
    }
    if (t.attempt >= VOID_TASK_ATTEMPTS_MAX) {
        t.state = VOID_TASK_FAILED;
        t.outcome = VOID_TASK_LOST;
        static const char lost[] = "no report before the deadline, attempts exhausted";
        t.reason = (struct void_task_str){(const uint8_t *)lost, sizeof(lost) - 1};
        return finish(c, &t);
    }
    t.state = VOID_TASK_WAITING;
    t.avoid = t.node;
    if (task_write(c, &t) != 0) {
        return 0;
    }
    int at = table_find(c, id);
    VOID_ASSERT(at >= 0);
    c->act[at].state = VOID_TASK_WAITING;
    rc = place_waiting(c);
    if (rc == 0 && table_write(c) == 0) {
        rc = answer_task(c, id);
    }
    return rc;
}

static int do_hold(struct ctx *c, const struct void_task_hold *h)
{
    /* The hold must name what "file:NAME" holds now: a client records where
     * the blocks of its own upload went, not where some other root lives. */
    uint8_t key[5 + VOID_TASK_NAME_MAX];
    memcpy(key, "file:", 5);
    memcpy(key + 5, h->name.p, h->name.len);
    struct void_kvs_version v;
    int rc = kvs_rc(c->sm, void_kvs_get(c->sm->kvs, key, 5 + (size_t)h->name.len, NULL, &v));
    struct void_hash root;
    memcpy(root.b, h->root, VOID_HASH_SIZE);
    char hex[VOID_HASH_HEX_SIZE];
    void_hash_to_hex(&root, hex);
    if (rc != 0 && rc != VOID_ENOTFOUND) {
        return rc;
    }
    if (rc != 0 || v.deleted || v.value_len != VOID_HASH_HEX_SIZE - 1 ||
        memcmp(v.value, hex, VOID_HASH_HEX_SIZE - 1) != 0) {
        return refuse(c,
                      VOID_ENOTFOUND,
                      "no file named '%.*s' with root %.16s...",
                      (int)h->name.len,
                      (const char *)h->name.p,
                      hex);
    }
    uint8_t *rec = c->rec;
    memcpy(rec, h->root, VOID_HASH_SIZE);
    void_bytes_put_be64(rec + VOID_HASH_SIZE, h->bytes);
    uint32_t n = 0;
    for (uint32_t i = 0; i < h->holder_count; i++) {
        if (void_membership_find(c->cfg, h->holders[i]) >= 0) {
            void_bytes_put_be32(rec + VOID_HASH_SIZE + 9 + 4 * n++, h->holders[i]);
        }
    }
    if (n == 0) {
        return refuse(c, VOID_EINVAL, "no holder of the file is a member");
    }
    rec[VOID_HASH_SIZE + 8] = (uint8_t)n;
    memcpy(key, VOID_TASK_HOLD_PREFIX, VOID_TASK_HOLD_PREFIX_LEN);
    memcpy(key + VOID_TASK_HOLD_PREFIX_LEN, h->name.p, h->name.len);
    if (write_key(c,
                  key,
                  VOID_TASK_HOLD_PREFIX_LEN + (size_t)h->name.len,
                  rec,
                  VOID_HASH_SIZE + 9 + 4 * (size_t)n) != 0) {
        return 0;
    }
    c->res->status = VOID_SM_OK;
    c->res->version = c->sm->last_stamp;
    return 0;
}

void void_sm_task_setup(struct void_sm *sm, const struct void_sm_task_setup *setup)
{
    VOID_ASSERT(sm != NULL);
    VOID_ASSERT(setup == NULL || setup->cpu <= (1u << 20)); /* the sched core's bound */
    sm->task_setup = setup;
}

void void__sm_task_apply(struct void_sm *sm,
                         uint64_t client,
                         const uint8_t *op,
                         size_t op_len,
                         uint8_t *value,
                         size_t cap,
                         struct void_sm_result *res)
{
    VOID_ASSERT(sm != NULL && sm->in_batch && op != NULL && res != NULL);
    VOID_ASSERT(value != NULL && cap >= 512);
    memset(res, 0, sizeof(*res));
    struct ctx c = {.sm = sm, .client = client, .value = value, .value_cap = cap, .res = res};
    struct void_task_op o;
    int rc = void_task_op_decode(op, op_len, &o);
    if (rc != 0) {
        refuse(&c, rc, "the task operation does not decode");
        return;
    }
    if (sm->member.genesis == NULL) {
        refuse(&c, VOID_EINVAL, "this state machine has no membership: tasks cannot be placed");
        return;
    }
    c.act = malloc((size_t)VOID_TASK_ACTIVE_MAX * sizeof(*c.act));
    c.cfg = malloc(sizeof(*c.cfg));
    c.copy = malloc(VOID_TASK_RECORD_MAX > TABLE_HEAD + VOID_TASK_ACTIVE_MAX * TABLE_ENTRY
                        ? VOID_TASK_RECORD_MAX
                        : TABLE_HEAD + VOID_TASK_ACTIVE_MAX * TABLE_ENTRY);
    c.rec = malloc(VOID_TASK_RECORD_MAX > TABLE_HEAD + VOID_TASK_ACTIVE_MAX * TABLE_ENTRY
                       ? VOID_TASK_RECORD_MAX
                       : TABLE_HEAD + VOID_TASK_ACTIVE_MAX * TABLE_ENTRY);
    rc = c.act == NULL || c.cfg == NULL || c.copy == NULL || c.rec == NULL ? VOID_ENOMEM : 0;
    if (rc == 0) {
        rc = members_read(&c);
    }
    if (rc == 0) {
        switch (o.op) {
        case VOID_TASK_SUBMIT:
            rc = do_submit(&c, &o.submit);
            break;
        case VOID_TASK_REPORT:
            rc = do_report(&c, &o);
            break;
        case VOID_TASK_CANCEL:
            rc = do_cancel(&c, o.id);
            break;
        case VOID_TASK_EXPIRE:
            rc = do_expire(&c, o.id);
            break;
        case VOID_TASK_HOLD:
            rc = do_hold(&c, &o.hold);
            break;
        default:
            VOID_ASSERT(0); /* void_task_op_decode knows no other */
        }
    }
    if (rc != 0 && sm->failed == 0) {
        /* Our own records do not decode, or no memory: this replica's
         * failure, not an answer (as member_apply treats its record). */
        sm->failed = rc == VOID_ENOMEM ? VOID_ENOMEM : VOID_ECORRUPT;
    }
    free(c.act);
    free(c.cfg);
    free(c.copy);
    free(c.rec);
}
