/*
 * Locality-aware placement of a batch of tasks: the cost model, its checks,
 * and the two solvers that run inside the replicated state machine (greedy and
 * simulated annealing). Everything here is integer arithmetic and seeded
 * choices, so that every replica computes the same placement for the same
 * batch: no clock, no allocation (the caller's work buffer holds the state),
 * no floating point, no libc randomness. The exact yardstick lives in
 * src/sched/ and is never linked into a replica. docs/scheduler.md explains
 * the model and the determinism argument.
 */
#include "void/sched.h"

#include "void/assert.h"
#include "void/error.h"
#include "void/prng.h"

#include <stdlib.h>
#include <string.h>

#define CPU_MAX       (1u << 20) /* per host; keeps every sum far from 2^64 */
#define BAND_COST_MAX (1u << 20)
#define COST_MAX      (1ull << 62)
#define MEM_MAX       (1ull << 60)  /* bytes per host; sums of two stay in 64 bits */
#define EXP_STEPS     32u           /* Metropolis table resolution: steps per unit of delta/T */
#define EXP_LEN       512u          /* entries: exp(-i/32) down to exp(-16) */
#define EXP_STEP_Q32  4162825044ull /* round(exp(-1/32) * 2^32) */
#define STAGES        64u           /* temperature stages of the annealing schedule */

_Static_assert(VOID_SCHED_BANDS == 3, "defaults below list three bands");
_Static_assert((uint64_t)VOID_SCHED_TASKS_MAX *CPU_MAX *BAND_COST_MAX <= COST_MAX,
               "load penalty of a batch fits below COST_MAX");

void void_sched_params_default(struct void_sched_params *params)
{
    VOID_ASSERT(params != NULL);
    memset(params, 0, sizeof(*params));
    params->distance[VOID_SCHED_SAME_HOST] = 0;
    params->distance[VOID_SCHED_SAME_RACK] = 1;
    params->distance[VOID_SCHED_SAME_DC] = 10;
    params->distance[VOID_SCHED_ACROSS] = 100;
    params->unit_shift = 20;
    params->band_pct[0] = 50;
    params->band_pct[1] = 75;
    params->band_pct[2] = 100;
    params->band_cost[0] = 0;
    params->band_cost[1] = 16;
    params->band_cost[2] = 64;
}

static int name_ok(const char *s)
{
    return s != NULL && strnlen(s, VOID_SCHED_NAME_MAX) < VOID_SCHED_NAME_MAX;
}

int void_sched_topology(struct void_sched_host *hosts,
                        const struct void_sched_location *locations,
                        uint32_t n)
{
    VOID_ASSERT(hosts != NULL);
    VOID_ASSERT(locations != NULL);
    if (n == 0 || n > VOID_SCHED_HOSTS_MAX) {
        return VOID_EINVAL;
    }
    for (uint32_t i = 0; i < n; i++) {
        const struct void_sched_location *a = &locations[i];
        if (!name_ok(a->datacenter) || !name_ok(a->rack) || !name_ok(a->host)) {
            return VOID_EINVAL;
        }
    }
    /* The id of a group is the index of its first member: the smallest j with
     * the same names, found by a scan that stops at i itself. */
    for (uint32_t i = 0; i < n; i++) {
        const struct void_sched_location *a = &locations[i];
        uint32_t dc = i, rack = i, machine = i;
        for (uint32_t j = i; j-- > 0;) {
            const struct void_sched_location *b = &locations[j];
            if (strcmp(a->datacenter, b->datacenter) != 0) {
                continue;
            }
            dc = j;
            if (strcmp(a->rack, b->rack) != 0) {
                continue;
            }
            rack = j;
            if (strcmp(a->host, b->host) == 0) {
                machine = j;
            }
        }
        hosts[i].dc = dc;
        hosts[i].rack = rack;
        hosts[i].machine = machine;
        VOID_ASSERT(dc <= rack && rack <= machine);
    }
    return 0;
}

/* ---- cost model ----------------------------------------------------------- */

static uint64_t units_of(const struct void_sched_problem *p, uint64_t bytes)
{
    uint32_t s = p->params.unit_shift;
    uint64_t mask = (1ull << s) - 1;
    return (bytes >> s) + ((bytes & mask) != 0);
}

static enum void_sched_class class_of(const struct void_sched_host *a,
                                      const struct void_sched_host *b)
{
    if (a->machine == b->machine) {
        return VOID_SCHED_SAME_HOST;
    }
    if (a->rack == b->rack) {
        return VOID_SCHED_SAME_RACK;
    }
    if (a->dc == b->dc) {
        return VOID_SCHED_SAME_DC;
    }
    return VOID_SCHED_ACROSS;
}

/* Class of the nearest holder of object o seen from host h. */
static enum void_sched_class
nearest_class(const struct void_sched_problem *p, uint32_t o, uint32_t h)
{
    const struct void_sched_object *obj = &p->objects[o];
    enum void_sched_class best = VOID_SCHED_ACROSS;
    VOID_ASSERT(obj->holder_count > 0);
    for (uint32_t k = 0; k < obj->holder_count && best != VOID_SCHED_SAME_HOST; k++) {
        uint32_t holder = p->holders[obj->holder_first + k];
        enum void_sched_class c = class_of(&p->hosts[holder], &p->hosts[h]);
        if (c < best) {
            best = c;
        }
    }
    return best;
}

uint64_t void_sched_task_cost(const struct void_sched_problem *p, uint32_t t, uint32_t h)
{
    VOID_ASSERT(t < p->task_count);
    VOID_ASSERT(h < p->host_count);
    const struct void_sched_task *task = &p->tasks[t];
    uint64_t cost = 0;
    for (uint32_t i = 0; i < task->input_count; i++) {
        uint32_t o = p->inputs[task->input_first + i];
        cost += units_of(p, p->objects[o].size_bytes) * p->params.distance[nearest_class(p, o, h)];
    }
    return cost;
}

/* P_h(used): the convex load penalty of host h with `used` CPU units busy.
 * Band i spans (end[i-1], end[i]] units, end[i] = capacity * pct[i] / 100. */
static uint64_t penalty(const struct void_sched_problem *p, uint32_t h, uint64_t used)
{
    const struct void_sched_params *q = &p->params;
    uint64_t cap = p->hosts[h].cpu_capacity, start = 0, sum = 0;
    VOID_ASSERT(used <= cap);
    for (uint32_t i = 0; i < VOID_SCHED_BANDS && used > start; i++) {
        uint64_t end = cap * q->band_pct[i] / 100;
        uint64_t top = used < end ? used : end;
        if (top > start) {
            sum += (top - start) * q->band_cost[i];
            start = top;
        }
    }
    return sum;
}

/* ---- validation ----------------------------------------------------------- */

static int validate_params(const struct void_sched_params *q)
{
    if (q->unit_shift > 40) {
        return VOID_EINVAL;
    }
    for (uint32_t c = 0; c < VOID_SCHED_CLASSES; c++) {
        if (q->distance[c] > VOID_SCHED_DISTANCE_MAX) {
            return VOID_EINVAL;
        }
        if (c > 0 && q->distance[c] < q->distance[c - 1]) {
            return VOID_EINVAL;
        }
    }
    for (uint32_t i = 0; i < VOID_SCHED_BANDS; i++) {
        if (q->band_cost[i] > BAND_COST_MAX || q->band_pct[i] > 100) {
            return VOID_EINVAL;
        }
        if (i > 0 &&
            (q->band_pct[i] < q->band_pct[i - 1] || q->band_cost[i] < q->band_cost[i - 1])) {
            return VOID_EINVAL;
        }
    }
    return q->band_pct[VOID_SCHED_BANDS - 1] == 100 ? 0 : VOID_EINVAL;
}

static int validate_hosts(const struct void_sched_problem *p)
{
    for (uint32_t h = 0; h < p->host_count; h++) {
        const struct void_sched_host *x = &p->hosts[h];
        if (x->cpu_capacity > CPU_MAX || x->cpu_load > x->cpu_capacity ||
            x->mem_capacity > MEM_MAX || x->mem_load > x->mem_capacity) {
            return VOID_EINVAL;
        }
        /* Interned ids point at the first member of the group, which must
         * itself be in the same groups (void_sched_topology's invariant). */
        if (x->dc > h || x->rack > h || x->machine > h) {
            return VOID_EINVAL;
        }
        if (p->hosts[x->rack].dc != x->dc || p->hosts[x->machine].rack != x->rack) {
            return VOID_EINVAL;
        }
    }
    return 0;
}

static int validate_objects(const struct void_sched_problem *p)
{
    for (uint32_t o = 0; o < p->object_count; o++) {
        const struct void_sched_object *obj = &p->objects[o];
        if (obj->holder_count == 0 || obj->holder_first > p->holder_count ||
            obj->holder_count > p->holder_count - obj->holder_first) {
            return VOID_ENOTFOUND;
        }
        for (uint32_t k = 0; k < obj->holder_count; k++) {
            if (p->holders[obj->holder_first + k] >= p->host_count) {
                return VOID_ENOTFOUND;
            }
        }
    }
    return 0;
}

/* Does some host, empty, have room for the task? */
static int task_fits_somewhere(const struct void_sched_problem *p, const struct void_sched_task *t)
{
    for (uint32_t h = 0; h < p->host_count; h++) {
        if (p->hosts[h].cpu_capacity >= t->cpu && p->hosts[h].mem_capacity >= t->mem) {
            return 1;
        }
    }
    return 0;
}

static int validate_tasks(const struct void_sched_problem *p)
{
    uint64_t total = 0;
    uint32_t far = p->params.distance[VOID_SCHED_ACROSS];
    for (uint32_t t = 0; t < p->task_count; t++) {
        const struct void_sched_task *task = &p->tasks[t];
        if (task->cpu == 0) {
            return VOID_EINVAL;
        }
        if (task->input_first > p->input_count ||
            task->input_count > p->input_count - task->input_first) {
            return VOID_ENOTFOUND;
        }
        for (uint32_t i = 0; i < task->input_count; i++) {
            uint32_t o = p->inputs[task->input_first + i];
            if (o >= p->object_count) {
                return VOID_ENOTFOUND;
            }
            uint64_t worst = units_of(p, p->objects[o].size_bytes) * far;
            total += worst;
            if (total > COST_MAX || worst > COST_MAX) {
                return VOID_ERANGE;
            }
        }
        if (!task_fits_somewhere(p, task)) {
            return VOID_ERANGE;
        }
    }
    return 0;
}

int void_sched_validate(const struct void_sched_problem *p)
{
    VOID_ASSERT(p != NULL);
    if (p->host_count == 0 || p->task_count == 0 || p->host_count > VOID_SCHED_HOSTS_MAX ||
        p->task_count > VOID_SCHED_TASKS_MAX || p->object_count > VOID_SCHED_OBJECTS_MAX) {
        return VOID_EINVAL;
    }
    if (p->hosts == NULL || p->tasks == NULL) {
        return VOID_EINVAL;
    }
    int rc = validate_params(&p->params);
    if (rc == 0) {
        rc = validate_hosts(p);
    }
    if (rc == 0) {
        rc = validate_objects(p);
    }
    if (rc == 0) {
        /* Units of at most 2^64 >> unit_shift times a distance of at most
         * 10^6 fit 64 bits only when checked: validate_tasks does. */
        rc = validate_tasks(p);
    }
    return rc;
}

/* ---- evaluation ----------------------------------------------------------- */

static void
add_data(const struct void_sched_problem *p, uint32_t t, uint32_t h, struct void_sched_result *r)
{
    const struct void_sched_task *task = &p->tasks[t];
    for (uint32_t i = 0; i < task->input_count; i++) {
        uint32_t o = p->inputs[task->input_first + i];
        enum void_sched_class c = nearest_class(p, o, h);
        uint64_t bytes = p->objects[o].size_bytes;
        r->data_cost += units_of(p, bytes) * p->params.distance[c];
        r->bytes[c] += bytes;
        if (c != VOID_SCHED_SAME_HOST) {
            r->bytes_moved += bytes;
        }
    }
}

int void_sched_evaluate(const struct void_sched_problem *p,
                        const uint32_t *placement,
                        struct void_sched_result *r)
{
    VOID_ASSERT(p != NULL && placement != NULL);
    VOID_ASSERT(r != NULL);
    memset(r, 0, sizeof(*r));
    for (uint32_t t = 0; t < p->task_count; t++) {
        if (placement[t] >= p->host_count) {
            return VOID_ERANGE;
        }
    }
    int rc = 0;
    /* Host by host, so that no scratch memory is needed: O(hosts * tasks). */
    for (uint32_t h = 0; h < p->host_count; h++) {
        const struct void_sched_host *x = &p->hosts[h];
        uint64_t cpu = x->cpu_load, mem = x->mem_load;
        for (uint32_t t = 0; t < p->task_count; t++) {
            if (placement[t] == h) {
                cpu += p->tasks[t].cpu;
                mem += p->tasks[t].mem;
            }
        }
        if (cpu > x->cpu_capacity || mem > x->mem_capacity) {
            rc = VOID_EFULL;
            continue;
        }
        r->load_cost += penalty(p, h, cpu) - penalty(p, h, x->cpu_load);
    }
    for (uint32_t t = 0; t < p->task_count; t++) {
        add_data(p, t, placement[t], r);
    }
    r->cost = r->data_cost + r->load_cost;
    return rc;
}

/* ---- the work buffer ------------------------------------------------------ */

struct order_key {
    uint64_t units; /* total input units, sorted descending */
    uint32_t cpu;
    uint32_t task;
};

/* Arrays carved from the caller's buffer, 8-byte aligned. */
struct work {
    uint64_t *mem_used;      /* [hosts] */
    uint64_t *tcost;         /* [tasks] data cost of each task where it is */
    uint32_t *cpu_used;      /* [hosts] */
    uint32_t *rack_hosts;    /* [hosts] host indices grouped by rack */
    uint32_t *rack_start;    /* [hosts] by rack id: first index into rack_hosts */
    uint32_t *rack_len;      /* [hosts] by rack id: hosts in that rack */
    uint32_t *best;          /* [tasks] */
    uint32_t *band_end;      /* [hosts * BANDS] last CPU unit of each band */
    uint32_t *mark_machine;  /* [hosts] by machine id: 1 + task whose input it holds */
    uint32_t *mark_rack;     /* [hosts] by rack id: 1 + task with an input held there */
    uint32_t *mark_dc;       /* [hosts] by dc id: likewise */
    uint32_t *have_rack;     /* [hosts] by rack id: 1 + task whose rack_cost is cached */
    uint32_t *have_dc;       /* [hosts] by dc id: likewise */
    uint64_t *rack_cost;     /* [hosts] by rack id: data cost on a non-holder host there */
    uint64_t *dc_cost;       /* [hosts] by dc id: data cost in a rack without holders */
    uint32_t *exp_q32;       /* [EXP_LEN] */
    struct order_key *order; /* [tasks] */
};

static size_t round8(size_t n)
{
    return (n + 7) & ~(size_t)7;
}

size_t void_sched_work_size(const struct void_sched_problem *p)
{
    VOID_ASSERT(p != NULL);
    VOID_ASSERT(p->host_count <= VOID_SCHED_HOSTS_MAX && p->task_count <= VOID_SCHED_TASKS_MAX);
    size_t h = p->host_count, t = p->task_count;
    return 3 * round8(h * 8) + round8(t * 8) + 9 * round8(h * 4) + round8(t * 4) +
           round8(EXP_LEN * 4) + round8(t * sizeof(struct order_key)) +
           round8(h * 4 * VOID_SCHED_BANDS);
}

static void *carve(unsigned char **at, size_t bytes)
{
    void *p = *at;
    *at += round8(bytes);
    return p;
}

static void work_init(struct work *w, const struct void_sched_problem *p, void *buf)
{
    unsigned char *at = buf;
    size_t h = p->host_count, t = p->task_count;
    w->mem_used = carve(&at, h * 8);
    w->tcost = carve(&at, t * 8);
    w->cpu_used = carve(&at, h * 4);
    w->rack_hosts = carve(&at, h * 4);
    w->rack_start = carve(&at, h * 4);
    w->rack_len = carve(&at, h * 4);
    w->best = carve(&at, t * 4);
    w->band_end = carve(&at, h * 4 * VOID_SCHED_BANDS);
    w->mark_machine = carve(&at, h * 4);
    w->mark_rack = carve(&at, h * 4);
    w->mark_dc = carve(&at, h * 4);
    w->have_rack = carve(&at, h * 4);
    w->have_dc = carve(&at, h * 4);
    w->rack_cost = carve(&at, h * 8);
    w->dc_cost = carve(&at, h * 8);
    w->exp_q32 = carve(&at, EXP_LEN * 4);
    w->order = carve(&at, t * sizeof(struct order_key));
    VOID_ASSERT((size_t)(at - (unsigned char *)buf) == void_sched_work_size(p));
    for (uint32_t x = 0; x < p->host_count; x++) {
        for (uint32_t i = 0; i < VOID_SCHED_BANDS; i++) {
            uint64_t end = (uint64_t)p->hosts[x].cpu_capacity * p->params.band_pct[i] / 100;
            w->band_end[x * VOID_SCHED_BANDS + i] = (uint32_t)end;
        }
    }
    memset(w->mark_machine, 0, h * 4);
    memset(w->mark_rack, 0, h * 4);
    memset(w->mark_dc, 0, h * 4);
    memset(w->have_rack, 0, h * 4);
    memset(w->have_dc, 0, h * 4);
}

/* ---- greedy --------------------------------------------------------------- */

static int order_cmp(const void *a, const void *b)
{
    const struct order_key *x = a, *y = b;
    if (x->units != y->units) {
        return x->units < y->units ? 1 : -1;
    }
    if (x->cpu != y->cpu) {
        return x->cpu < y->cpu ? 1 : -1;
    }
    return (x->task > y->task) - (x->task < y->task);
}

static int fits(const struct void_sched_problem *p, const struct work *w, uint32_t h, uint32_t t)
{
    const struct void_sched_host *x = &p->hosts[h];
    const struct void_sched_task *task = &p->tasks[t];
    return (uint64_t)w->cpu_used[h] + task->cpu <= x->cpu_capacity &&
           w->mem_used[h] + task->mem <= x->mem_capacity;
}

/* P_h(used) as penalty() computes it, from the band ends cached in w. */
static uint64_t
penalty_w(const struct void_sched_problem *p, const struct work *w, uint32_t h, uint64_t used)
{
    const uint32_t *end = &w->band_end[h * VOID_SCHED_BANDS];
    uint64_t start = 0, sum = 0;
    for (uint32_t i = 0; i < VOID_SCHED_BANDS && used > start; i++) {
        uint64_t top = used < end[i] ? used : end[i];
        if (top > start) {
            sum += (top - start) * p->params.band_cost[i];
            start = top;
        }
    }
    VOID_ASSERT_SLOW(sum == penalty(p, h, used));
    return sum;
}

/* Penalty added by putting `cpu` more units on host h. */
static uint64_t
penalty_add(const struct void_sched_problem *p, const struct work *w, uint32_t h, uint32_t cpu)
{
    uint64_t u = w->cpu_used[h];
    return penalty_w(p, w, h, u + cpu) - penalty_w(p, w, h, u);
}

/* Data cost of task t on a host of rack `rack` (UINT32_MAX: of a rack holding
 * none of its inputs) in datacenter dc that holds none of its inputs. */
static uint64_t
group_cost(const struct void_sched_problem *p, uint32_t t, uint32_t rack, uint32_t dc)
{
    const struct void_sched_task *task = &p->tasks[t];
    uint64_t cost = 0;
    for (uint32_t i = 0; i < task->input_count; i++) {
        uint32_t o = p->inputs[task->input_first + i];
        const struct void_sched_object *obj = &p->objects[o];
        enum void_sched_class c = VOID_SCHED_ACROSS;
        for (uint32_t k = 0; k < obj->holder_count && c != VOID_SCHED_SAME_RACK; k++) {
            const struct void_sched_host *x = &p->hosts[p->holders[obj->holder_first + k]];
            if (x->rack == rack) {
                c = VOID_SCHED_SAME_RACK;
            } else if (x->dc == dc) {
                c = VOID_SCHED_SAME_DC;
            }
        }
        cost += units_of(p, obj->size_bytes) * p->params.distance[c];
    }
    return cost;
}

/* Marks the machines, racks and datacenters that hold an input of task t, so
 * that host_cost() computes a task's cost on most hosts once per group. */
static void mark_holders(const struct void_sched_problem *p, struct work *w, uint32_t t)
{
    const struct void_sched_task *task = &p->tasks[t];
    for (uint32_t i = 0; i < task->input_count; i++) {
        const struct void_sched_object *obj = &p->objects[p->inputs[task->input_first + i]];
        for (uint32_t k = 0; k < obj->holder_count; k++) {
            const struct void_sched_host *x = &p->hosts[p->holders[obj->holder_first + k]];
            w->mark_machine[x->machine] = t + 1;
            w->mark_rack[x->rack] = t + 1;
            w->mark_dc[x->dc] = t + 1;
        }
    }
}

/* void_sched_task_cost(p, t, h), through the per-group caches of task t
 * (mark_holders(t) first). far is the cost where no datacenter holds. */
static uint64_t
host_cost(const struct void_sched_problem *p, struct work *w, uint32_t t, uint32_t h, uint64_t far)
{
    const struct void_sched_host *x = &p->hosts[h];
    uint64_t c;
    if (w->mark_machine[x->machine] == t + 1) {
        c = void_sched_task_cost(p, t, h);
    } else if (w->mark_rack[x->rack] == t + 1) {
        if (w->have_rack[x->rack] != t + 1) {
            w->rack_cost[x->rack] = group_cost(p, t, x->rack, x->dc);
            w->have_rack[x->rack] = t + 1;
        }
        c = w->rack_cost[x->rack];
    } else if (w->mark_dc[x->dc] == t + 1) {
        if (w->have_dc[x->dc] != t + 1) {
            w->dc_cost[x->dc] = group_cost(p, t, UINT32_MAX, x->dc);
            w->have_dc[x->dc] = t + 1;
        }
        c = w->dc_cost[x->dc];
    } else {
        c = far;
    }
    VOID_ASSERT_SLOW(c == void_sched_task_cost(p, t, h));
    return c;
}

static void assign(const struct void_sched_problem *p, struct work *w, uint32_t t, uint32_t h)
{
    w->cpu_used[h] += p->tasks[t].cpu;
    w->mem_used[h] += p->tasks[t].mem;
    VOID_ASSERT(w->cpu_used[h] <= p->hosts[h].cpu_capacity);
    VOID_ASSERT(w->mem_used[h] <= p->hosts[h].mem_capacity);
}

static void unassign(const struct void_sched_problem *p, struct work *w, uint32_t t, uint32_t h)
{
    VOID_ASSERT(w->cpu_used[h] >= p->tasks[t].cpu);
    VOID_ASSERT(w->mem_used[h] >= p->tasks[t].mem);
    w->cpu_used[h] -= p->tasks[t].cpu;
    w->mem_used[h] -= p->tasks[t].mem;
}

/* Tasks by total input size, largest first (they have the most to lose), each
 * on the feasible host of least data cost plus added penalty, lowest index on
 * a tie. Returns the cost, or UINT64_MAX when some task has no room. */
static uint64_t greedy(const struct void_sched_problem *p, struct work *w, uint32_t *placement)
{
    for (uint32_t h = 0; h < p->host_count; h++) {
        w->cpu_used[h] = p->hosts[h].cpu_load;
        w->mem_used[h] = p->hosts[h].mem_load;
    }
    for (uint32_t t = 0; t < p->task_count; t++) {
        const struct void_sched_task *task = &p->tasks[t];
        uint64_t units = 0;
        for (uint32_t i = 0; i < task->input_count; i++) {
            units += units_of(p, p->objects[p->inputs[task->input_first + i]].size_bytes);
        }
        w->order[t] = (struct order_key){.units = units, .cpu = task->cpu, .task = t};
    }
    qsort(w->order, p->task_count, sizeof(w->order[0]), order_cmp);
    uint64_t total = 0;
    for (uint32_t i = 0; i < p->task_count; i++) {
        uint32_t t = w->order[i].task, pick = UINT32_MAX;
        uint64_t pick_cost = UINT64_MAX, pick_data = 0;
        uint64_t far = w->order[i].units * p->params.distance[VOID_SCHED_ACROSS];
        mark_holders(p, w, t);
        for (uint32_t h = 0; h < p->host_count; h++) {
            if (!fits(p, w, h, t)) {
                continue;
            }
            uint64_t data = host_cost(p, w, t, h, far);
            uint64_t c = data + penalty_add(p, w, h, p->tasks[t].cpu);
            if (c < pick_cost) {
                pick = h, pick_cost = c, pick_data = data;
            }
        }
        if (pick == UINT32_MAX) {
            return UINT64_MAX;
        }
        assign(p, w, t, pick);
        placement[t] = pick;
        w->tcost[t] = pick_data;
        total += pick_cost;
    }
    return total;
}

/* ---- simulated annealing -------------------------------------------------- */

/* exp(-i/EXP_STEPS) in Q32 for i < EXP_LEN, by repeated integer products:
 * the same bits on every machine, unlike a libm exp(). */
static void exp_table(uint32_t *table)
{
    uint64_t v = UINT32_MAX;
    for (uint32_t i = 0; i < EXP_LEN; i++) {
        table[i] = (uint32_t)v;
        v = (v * EXP_STEP_Q32) >> 32;
    }
    VOID_ASSERT(table[EXP_LEN - 1] > 0 && table[EXP_LEN - 1] < table[0]);
}

/* Metropolis: accept a cost rise of delta at temperature temp with
 * probability exp(-delta/temp), read from the table. */
static int metropolis(const struct work *w, struct void_prng *rng, uint64_t delta, uint64_t temp)
{
    if (temp == 0 || delta >= temp * (EXP_LEN / EXP_STEPS)) {
        return 0;
    }
    uint64_t idx = delta * EXP_STEPS / temp;
    VOID_ASSERT(idx < EXP_LEN);
    return (void_prng_next(rng) >> 32) < w->exp_q32[idx];
}

static void rack_index(const struct void_sched_problem *p, struct work *w)
{
    uint32_t n = p->host_count;
    memset(w->rack_len, 0, n * sizeof(uint32_t));
    for (uint32_t h = 0; h < n; h++) {
        w->rack_len[p->hosts[h].rack]++;
    }
    uint32_t at = 0;
    for (uint32_t r = 0; r < n; r++) {
        w->rack_start[r] = at;
        at += w->rack_len[r];
    }
    VOID_ASSERT(at == n);
    memset(w->rack_len, 0, n * sizeof(uint32_t));
    for (uint32_t h = 0; h < n; h++) {
        uint32_t r = p->hosts[h].rack;
        w->rack_hosts[w->rack_start[r] + w->rack_len[r]++] = h;
    }
}

/* A candidate host for task t: uniformly any host, a holder of one of its
 * inputs, or a host in such a holder's rack. */
static uint32_t propose_host(const struct void_sched_problem *p,
                             const struct work *w,
                             struct void_prng *rng,
                             uint32_t t)
{
    const struct void_sched_task *task = &p->tasks[t];
    uint64_t kind = void_prng_below(rng, 3);
    if (kind == 0 || task->input_count == 0) {
        return (uint32_t)void_prng_below(rng, p->host_count);
    }
    uint32_t o = p->inputs[task->input_first + void_prng_below(rng, task->input_count)];
    const struct void_sched_object *obj = &p->objects[o];
    uint32_t holder = p->holders[obj->holder_first + void_prng_below(rng, obj->holder_count)];
    if (kind == 1) {
        return holder;
    }
    uint32_t r = p->hosts[holder].rack;
    return w->rack_hosts[w->rack_start[r] + void_prng_below(rng, w->rack_len[r])];
}

struct anneal {
    const struct void_sched_problem *p;
    struct work *w;
    uint32_t *cur;
    struct void_prng rng;
    uint64_t cost;
    uint64_t temp;
    uint32_t accepted;
};

/* Signed change of the load penalty when host h goes from u to u + d units. */
static int64_t penalty_delta(
    const struct void_sched_problem *p, const struct work *w, uint32_t h, uint64_t u, int64_t d)
{
    uint64_t after = (uint64_t)((int64_t)u + d);
    return (int64_t)penalty_w(p, w, h, after) - (int64_t)penalty_w(p, w, h, u);
}

/* Tries moving task t to host h. */
static void try_move(struct anneal *a, uint32_t t, uint32_t h)
{
    const struct void_sched_problem *p = a->p;
    struct work *w = a->w;
    uint32_t from = a->cur[t], cpu = p->tasks[t].cpu;
    if (h == from || !fits(p, w, h, t)) {
        return;
    }
    uint64_t data = void_sched_task_cost(p, t, h);
    int64_t delta = (int64_t)data - (int64_t)w->tcost[t];
    delta += penalty_delta(p, w, h, w->cpu_used[h], cpu);
    delta += penalty_delta(p, w, from, w->cpu_used[from], -(int64_t)cpu);
    if (delta > 0 && !metropolis(w, &a->rng, (uint64_t)delta, a->temp)) {
        return;
    }
    unassign(p, w, t, from);
    assign(p, w, t, h);
    a->cur[t] = h;
    w->tcost[t] = data;
    a->cost = (uint64_t)((int64_t)a->cost + delta);
    a->accepted++;
}

/* Tries exchanging the hosts of tasks t and u. */
static void try_swap(struct anneal *a, uint32_t t, uint32_t u)
{
    const struct void_sched_problem *p = a->p;
    struct work *w = a->w;
    uint32_t ht = a->cur[t], hu = a->cur[u];
    const struct void_sched_task *x = &p->tasks[t], *y = &p->tasks[u];
    if (ht == hu) {
        return;
    }
    /* Room for the exchange: each host minus its task plus the other's. */
    if ((uint64_t)w->cpu_used[ht] - x->cpu + y->cpu > p->hosts[ht].cpu_capacity ||
        (uint64_t)w->cpu_used[hu] - y->cpu + x->cpu > p->hosts[hu].cpu_capacity ||
        w->mem_used[ht] - x->mem + y->mem > p->hosts[ht].mem_capacity ||
        w->mem_used[hu] - y->mem + x->mem > p->hosts[hu].mem_capacity) {
        return;
    }
    uint64_t dt = void_sched_task_cost(p, t, hu), du = void_sched_task_cost(p, u, ht);
    int64_t delta = (int64_t)(dt + du) - (int64_t)(w->tcost[t] + w->tcost[u]);
    int64_t shift = (int64_t)y->cpu - (int64_t)x->cpu; /* units ht gains */
    delta += penalty_delta(p, w, ht, w->cpu_used[ht], shift);
    delta += penalty_delta(p, w, hu, w->cpu_used[hu], -shift);
    if (delta > 0 && !metropolis(w, &a->rng, (uint64_t)delta, a->temp)) {
        return;
    }
    unassign(p, w, t, ht);
    unassign(p, w, u, hu);
    assign(p, w, t, hu);
    assign(p, w, u, ht);
    a->cur[t] = hu, a->cur[u] = ht;
    w->tcost[t] = dt, w->tcost[u] = du;
    a->cost = (uint64_t)((int64_t)a->cost + delta);
    a->accepted++;
}

/* Annealing from the greedy placement in `placement` (cost `start`); leaves
 * the best placement seen at a stage boundary in `placement`. The schedule
 * cools quadratically from temp0 to 0 over STAGES stages, so the last stage is
 * a pure descent. */
static uint64_t anneal(const struct void_sched_problem *p,
                       struct work *w,
                       const struct void_sched_options *o,
                       uint32_t *placement,
                       uint64_t start,
                       uint32_t *accepted)
{
    struct anneal a = {.p = p, .w = w, .cur = placement, .cost = start};
    void_prng_seed(&a.rng, o->seed);
    exp_table(w->exp_q32);
    rack_index(p, w);
    memcpy(w->best, placement, p->task_count * sizeof(uint32_t));
    uint64_t best = start;
    uint64_t iters = o->iterations != 0 ? o->iterations : 200ull * p->task_count;
    /* Start at 1/128 of the mean cost per task: the greedy start is already
     * within about 1 % of the optimum on generated instances, and hotter
     * starts (1/2, 1/16) measured worse in the same budget (docs/scheduler.md). */
    uint64_t temp0 = start / p->task_count / 128 + 1;
    for (uint32_t s = 0; s < STAGES; s++) {
        uint64_t left = STAGES - 1 - s;
        a.temp = temp0 * left * left / ((uint64_t)STAGES * STAGES);
        for (uint64_t i = iters * s / STAGES; i < iters * (s + 1) / STAGES; i++) {
            uint32_t t = (uint32_t)void_prng_below(&a.rng, p->task_count);
            if (void_prng_below(&a.rng, 4) == 0) {
                try_swap(&a, t, (uint32_t)void_prng_below(&a.rng, p->task_count));
            } else {
                try_move(&a, t, propose_host(p, w, &a.rng, t));
            }
        }
        if (a.cost < best) {
            best = a.cost;
            memcpy(w->best, placement, p->task_count * sizeof(uint32_t));
        }
    }
    memcpy(placement, w->best, p->task_count * sizeof(uint32_t));
    VOID_ASSERT(best <= start);
    *accepted = a.accepted;
    return best;
}

int void_sched_place(const struct void_sched_problem *p,
                     const struct void_sched_options *o,
                     void *work,
                     size_t work_len,
                     uint32_t *placement,
                     struct void_sched_result *r)
{
    VOID_ASSERT(p != NULL && o != NULL);
    VOID_ASSERT(placement != NULL && r != NULL);
    int rc = void_sched_validate(p);
    if (rc != 0) {
        return rc;
    }
    if ((o->solver != VOID_SCHED_GREEDY && o->solver != VOID_SCHED_ANNEAL) || work == NULL ||
        work_len < void_sched_work_size(p) || ((uintptr_t)work & 7) != 0) {
        return VOID_EINVAL;
    }
    struct work w;
    work_init(&w, p, work);
    uint64_t cost = greedy(p, &w, placement);
    if (cost == UINT64_MAX) {
        return VOID_EFULL;
    }
    uint32_t accepted = 0;
    uint64_t greedy_cost = cost;
    if (o->solver == VOID_SCHED_ANNEAL) {
        cost = anneal(p, &w, o, placement, cost, &accepted);
    }
    rc = void_sched_evaluate(p, placement, r);
    /* The solvers keep the capacities and the running cost; the independent
     * evaluation must agree with both. */
    VOID_ASSERT(rc == 0);
    VOID_ASSERT(r->cost == cost && cost <= greedy_cost);
    r->accepted = accepted;
    r->greedy_cost = greedy_cost;
    return 0;
}
