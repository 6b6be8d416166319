/*
 * The scheduler's yardstick: the placement problem of src/core/sched.c as a
 * minimum-cost flow, solved exactly by LEMON's network simplex or by GLPK's
 * out-of-kilter code (glp_mincost_okalg); both solve the same network.
 * It is used by the tests and the bench to measure how far greedy and
 * annealing are from the optimum; replicas never link it (it allocates, and
 * GLPK is not part of the deterministic core).
 *
 * The network (docs/scheduler.md, "The exact solver"), in the style of Quincy
 * (SOSP 2009):
 *
 *   task t  --(cost(t,h) * L/d_t)-->  host h         for every host on a machine holding an input
 *   task t  --(rack cost * L/d_t)-->  rack r         for every rack holding an input
 *   task t  --(dc cost * L/d_t)---->  datacenter d   for every datacenter
 *   dc d    --0-->  rack r of d  --0, cap free CPU-->  host h  --band i: cost band_cost[i] * L,
 *                                                                cap free units in band i-->  sink
 *
 * Each task supplies d_t units (its CPU demand), the sink absorbs them all.
 * Because distances do not decrease from host to datacenter, every path from
 * t to h costs at least the true cost of t on h, and the cheapest path costs
 * exactly that; so with one CPU unit per task (d_t = 1 for all t) every
 * integral flow is a placement and the flow optimum is the placement optimum.
 * With larger demands, the flow may split a task across hosts, and memory is
 * not modelled: the optimum is then a lower bound (the relaxation), and the
 * result says whether the flow found happens to be a placement.
 */
#include "sched_int.h"
#include "void/assert.h"
#include "void/error.h"
#include "void/sched.h"

#include <glpk.h>
#include <limits.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#define ARC_COST_MAX (INT_MAX / 4) /* GLPK: RELAX-IV's `large`; out-of-kilter works in int too */
#define SCALE_MAX    720720u       /* lcm(1..16): demands up to 16 always scale */

struct vdata {
    double rhs;
};

struct adata {
    double cap;
    double cost;
    double x;
};

/* The arcs, as arrays (grown by doubling); flow is the solver's answer. */
struct arcs {
    int *tail, *head;
    int64_t *cap, *cost, *flow;
    uint32_t count, room;
    uint32_t *first_out; /* [nodes + 1] after solving: arcs by tail (CSR) */
    uint32_t *by_tail;   /* [count] */
};

/* The network under construction: node numbers and the arc bookkeeping. */
struct net {
    const struct void_sched_problem *p;
    struct arcs a;
    int64_t *supply; /* [nodes] */
    int nodes;
    uint64_t scale; /* L: lcm of the demands */
    int first_task, first_dc, first_rack, first_host, sink;
    int *dc_node;         /* [hosts] by dc id: its node, 0 if not a dc id */
    int *rack_node;       /* [hosts] by rack id */
    uint32_t *mnext;      /* [hosts] next host on the same machine, UINT32_MAX at the end */
    uint32_t *stamp_host; /* [hosts] 1 + the last task given an arc to host h */
    uint32_t *stamp_rack; /* [hosts] by rack id: 1 + the last task given an arc to it */
    int err;
};

static uint64_t gcd64(uint64_t a, uint64_t b)
{
    while (b != 0) {
        uint64_t r = a % b;
        a = b, b = r;
    }
    return a;
}

static int arcs_grow(struct arcs *a)
{
    uint32_t room = a->room ? 2 * a->room : 4096;
    void *t = realloc(a->tail, room * sizeof(int)), *h = realloc(a->head, room * sizeof(int));
    a->tail = t ? t : a->tail, a->head = h ? h : a->head;
    void *c = realloc(a->cap, room * 8), *k = realloc(a->cost, room * 8),
         *f = realloc(a->flow, room * 8);
    a->cap = c ? c : a->cap, a->cost = k ? k : a->cost, a->flow = f ? f : a->flow;
    if (t == NULL || h == NULL || c == NULL || k == NULL || f == NULL) {
        return VOID_ENOMEM;
    }
    a->room = room;
    return 0;
}

static void add_arc(struct net *n, int from, int to, uint64_t cap, uint64_t cost)
{
    /* Both engines take 64-bit data, but GLPK's out-of-kilter works in int
     * and wants every cost and capacity below INT_MAX/4: one limit for both,
     * so that the two engines always solve the same network. */
    if (cost > ARC_COST_MAX || cap > ARC_COST_MAX) {
        n->err = VOID_ERANGE;
        return;
    }
    struct arcs *a = &n->a;
    if (n->err != 0 || (a->count == a->room && (n->err = arcs_grow(a)) != 0)) {
        return;
    }
    VOID_ASSERT(from >= 1 && from <= n->nodes);
    VOID_ASSERT(to >= 1 && to <= n->nodes);
    a->tail[a->count] = from, a->head[a->count] = to;
    a->cap[a->count] = (int64_t)cap, a->cost[a->count] = (int64_t)cost, a->flow[a->count] = 0;
    a->count++;
}

/* Class of object o's nearest holder seen from a host of rack `rack` (and its
 * datacenter) that is on none of the holders' machines. */
static enum void_sched_class
class_from(const struct void_sched_problem *p, uint32_t o, uint32_t rack, uint32_t dc)
{
    const struct void_sched_object *obj = &p->objects[o];
    enum void_sched_class best = VOID_SCHED_ACROSS;
    for (uint32_t k = 0; k < obj->holder_count; k++) {
        const struct void_sched_host *h = &p->hosts[p->holders[obj->holder_first + k]];
        if (rack != UINT32_MAX && h->rack == rack) {
            return VOID_SCHED_SAME_RACK;
        }
        if (h->dc == dc) {
            best = VOID_SCHED_SAME_DC;
        }
    }
    return best;
}

static uint64_t
group_cost(const struct void_sched_problem *p, uint32_t t, uint32_t rack, uint32_t dc)
{
    const struct void_sched_task *task = &p->tasks[t];
    uint64_t cost = 0;
    for (uint32_t i = 0; i < task->input_count; i++) {
        uint32_t o = p->inputs[task->input_first + i];
        uint64_t bytes = p->objects[o].size_bytes, s = p->params.unit_shift;
        uint64_t units = (bytes >> s) + ((bytes & ((1ull << s) - 1)) != 0);
        cost += units * p->params.distance[class_from(p, o, rack, dc)];
    }
    return cost;
}

/* Arcs out of task t: to the hosts sharing a machine with a holder of one of
 * its inputs, to the racks holding one, and to every datacenter. */
static void task_arcs(struct net *n, uint32_t t)
{
    const struct void_sched_problem *p = n->p;
    const struct void_sched_task *task = &p->tasks[t];
    uint64_t d = task->cpu, per = n->scale / d;
    for (uint32_t i = 0; i < task->input_count; i++) {
        const struct void_sched_object *obj = &p->objects[p->inputs[task->input_first + i]];
        for (uint32_t k = 0; k < obj->holder_count; k++) {
            const struct void_sched_host *hold = &p->hosts[p->holders[obj->holder_first + k]];
            for (uint32_t h = hold->machine; h != UINT32_MAX; h = n->mnext[h]) {
                if (n->stamp_host[h] == t + 1) {
                    continue;
                }
                n->stamp_host[h] = t + 1;
                add_arc(n,
                        n->first_task + (int)t,
                        n->first_host + (int)h,
                        d,
                        void_sched_task_cost(p, t, h) * per);
            }
            if (n->stamp_rack[hold->rack] != t + 1) {
                n->stamp_rack[hold->rack] = t + 1;
                add_arc(n,
                        n->first_task + (int)t,
                        n->rack_node[hold->rack],
                        d,
                        group_cost(p, t, hold->rack, hold->dc) * per);
            }
        }
    }
    for (uint32_t h = 0; h < p->host_count; h++) {
        if (n->dc_node[h] != 0) {
            add_arc(
                n, n->first_task + (int)t, n->dc_node[h], d, group_cost(p, t, UINT32_MAX, h) * per);
        }
    }
}

/* Arcs from host h to the sink, one per load band, priced per unit. */
static void host_arcs(struct net *n, uint32_t h)
{
    const struct void_sched_problem *p = n->p;
    const struct void_sched_host *x = &p->hosts[h];
    uint64_t start = 0, load = x->cpu_load;
    for (uint32_t i = 0; i < VOID_SCHED_BANDS; i++) {
        uint64_t end = (uint64_t)x->cpu_capacity * p->params.band_pct[i] / 100;
        uint64_t lo = load > start ? load : start;
        if (end > lo) {
            add_arc(
                n, n->first_host + (int)h, n->sink, end - lo, p->params.band_cost[i] * n->scale);
        }
        if (end > start) {
            start = end;
        }
    }
}

/* Nodes: tasks, then one per datacenter and rack id, then hosts, then the sink. */
static int build(struct net *n)
{
    const struct void_sched_problem *p = n->p;
    uint64_t supply = 0;
    int dcs = 0, racks = 0;
    for (uint32_t h = 0; h < p->host_count; h++) {
        dcs += p->hosts[h].dc == h;
        racks += p->hosts[h].rack == h;
    }
    n->first_task = 1;
    n->first_dc = n->first_task + (int)p->task_count;
    n->first_rack = n->first_dc + dcs;
    n->first_host = n->first_rack + racks;
    n->sink = n->first_host + (int)p->host_count;
    n->nodes = n->sink;
    n->supply = calloc((size_t)n->nodes + 1, sizeof(int64_t));
    if (n->supply == NULL) {
        return VOID_ENOMEM;
    }
    int di = 0, ri = 0;
    /* Chains of hosts per machine, starting at the machine id (its first
     * host); stamp_rack holds each machine's last host + 1 meanwhile. */
    for (uint32_t h = 0; h < p->host_count; h++) {
        uint32_t m = p->hosts[h].machine;
        n->mnext[h] = UINT32_MAX;
        if (n->stamp_rack[m] != 0) {
            n->mnext[n->stamp_rack[m] - 1] = h;
        }
        n->stamp_rack[m] = h + 1;
    }
    memset(n->stamp_rack, 0, p->host_count * sizeof(uint32_t));
    for (uint32_t h = 0; h < p->host_count; h++) {
        n->dc_node[h] = p->hosts[h].dc == h ? n->first_dc + di++ : 0;
        n->rack_node[h] = p->hosts[h].rack == h ? n->first_rack + ri++ : 0;
    }
    for (uint32_t t = 0; t < p->task_count; t++) {
        n->supply[n->first_task + (int)t] = p->tasks[t].cpu;
        supply += p->tasks[t].cpu;
        task_arcs(n, t);
    }
    if (supply > ARC_COST_MAX) {
        return VOID_ERANGE;
    }
    n->supply[n->sink] = -(int64_t)supply;
    for (uint32_t h = 0; h < p->host_count; h++) {
        const struct void_sched_host *x = &p->hosts[h];
        if (x->rack == h) {
            add_arc(n, n->dc_node[x->dc], n->rack_node[h], supply, 0);
        }
        add_arc(n, n->rack_node[x->rack], n->first_host + (int)h, x->cpu_capacity - x->cpu_load, 0);
        host_arcs(n, h);
    }
    return n->err;
}

/* ---- reading the flow back as a placement --------------------------------- */

/* Tasks waiting at an aggregator node, consumed by its outgoing arcs. */
struct queues {
    uint32_t *next; /* [tasks] linked lists */
    uint32_t *head; /* [nodes] */
};

static void push(struct queues *q, int node, uint32_t t)
{
    q->next[t] = q->head[node];
    q->head[node] = t;
}

/* Moves whole tasks queued at `from` along its outgoing arcs, by their flow.
 * Returns 0 when every task found a whole arc, 1 otherwise. */
static int drain(struct net *n, struct queues *q, int from, uint32_t *placement)
{
    const struct void_sched_problem *p = n->p;
    const struct arcs *a = &n->a;
    for (uint32_t i = a->first_out[from]; i < a->first_out[from + 1]; i++) {
        uint32_t k = a->by_tail[i];
        uint64_t flow = (uint64_t)a->flow[k];
        int to = a->head[k];
        while (flow > 0 && q->head[from] != UINT32_MAX) {
            uint32_t t = q->head[from];
            if (p->tasks[t].cpu > flow) {
                break;
            }
            q->head[from] = q->next[t];
            flow -= p->tasks[t].cpu;
            if (to >= n->first_host) {
                placement[t] = (uint32_t)(to - n->first_host);
            } else {
                push(q, to, t);
            }
        }
    }
    return q->head[from] != UINT32_MAX;
}

/* Arcs grouped by tail (counting sort): first_out[v] .. first_out[v + 1]. */
static int index_arcs(struct net *n)
{
    struct arcs *a = &n->a;
    a->first_out = calloc((size_t)n->nodes + 2, sizeof(uint32_t));
    a->by_tail = malloc(((size_t)a->count + 1) * sizeof(uint32_t));
    if (a->first_out == NULL || a->by_tail == NULL) {
        return VOID_ENOMEM;
    }
    for (uint32_t k = 0; k < a->count; k++) {
        a->first_out[a->tail[k] + 1]++;
    }
    for (int v = 1; v <= n->nodes + 1; v++) {
        a->first_out[v] += a->first_out[v - 1];
    }
    uint32_t *fill = calloc((size_t)n->nodes + 1, sizeof(uint32_t));
    if (fill == NULL) {
        return VOID_ENOMEM;
    }
    for (uint32_t k = 0; k < a->count; k++) {
        a->by_tail[a->first_out[a->tail[k]] + fill[a->tail[k]]++] = k;
    }
    free(fill);
    return 0;
}

static int decode(struct net *n, uint32_t *placement)
{
    const struct void_sched_problem *p = n->p;
    const struct arcs *a = &n->a;
    struct queues q = {.next = calloc(p->task_count, sizeof(uint32_t)),
                       .head = malloc(((size_t)n->sink + 1) * sizeof(uint32_t))};
    int split = q.next == NULL || q.head == NULL || index_arcs(n) != 0 ? -1 : 0;
    for (int v = 0; split == 0 && v <= n->sink; v++) {
        q.head[v] = UINT32_MAX;
    }
    for (uint32_t t = 0; split == 0 && t < p->task_count; t++) {
        int v = n->first_task + (int)t, to = 0;
        for (uint32_t i = a->first_out[v]; i < a->first_out[v + 1]; i++) {
            uint32_t k = a->by_tail[i];
            if (a->flow[k] > 0) {
                split |= to != 0 || a->flow[k] != (int64_t)p->tasks[t].cpu;
                to = a->head[k];
            }
        }
        VOID_ASSERT(to != 0);
        if (to >= n->first_host) {
            placement[t] = (uint32_t)(to - n->first_host);
        } else {
            push(&q, to, t);
        }
    }
    /* Datacenters feed racks, racks feed hosts: drain in node order. */
    for (int v = n->first_dc; split == 0 && v < n->first_host; v++) {
        split |= drain(n, &q, v, placement);
    }
    free(q.next);
    free(q.head);
    return split;
}

/* GLPK's out-of-kilter on a copy of the network in a glp_graph. */
static int run_glpk(struct net *n)
{
    struct arcs *a = &n->a;
    glp_term_out(GLP_OFF);
    glp_graph *g = glp_create_graph(sizeof(struct vdata), sizeof(struct adata));
    glp_add_vertices(g, n->nodes);
    for (int v = 1; v <= n->nodes; v++) {
        ((struct vdata *)g->v[v]->data)->rhs = (double)n->supply[v];
    }
    glp_arc **map = malloc(((size_t)a->count + 1) * sizeof(glp_arc *));
    if (map == NULL) {
        glp_delete_graph(g);
        return VOID_ENOMEM;
    }
    for (uint32_t k = 0; k < a->count; k++) {
        map[k] = glp_add_arc(g, a->tail[k], a->head[k]);
        struct adata *d = map[k]->data;
        d->cap = (double)a->cap[k], d->cost = (double)a->cost[k], d->x = 0;
    }
    int rc = glp_mincost_okalg(g,
                               offsetof(struct vdata, rhs),
                               -1,
                               offsetof(struct adata, cap),
                               offsetof(struct adata, cost),
                               NULL,
                               offsetof(struct adata, x),
                               -1);
    for (uint32_t k = 0; rc == 0 && k < a->count; k++) {
        a->flow[k] = (int64_t)((struct adata *)map[k]->data)->x;
    }
    free(map);
    glp_delete_graph(g);
    if (rc == GLP_ENOPFS) {
        return VOID_EFULL;
    }
    if (rc != 0) {
        return rc == GLP_ERANGE || rc == GLP_EDATA ? VOID_ERANGE : VOID_EINTERNAL;
    }
    return 0;
}

/* LEMON's network simplex; its nodes count from 0, ours from 1 (GLPK's). */
static int run_lemon(struct net *n)
{
    struct arcs *a = &n->a;
    int *tail = malloc(((size_t)a->count + 1) * sizeof(int));
    int *head = malloc(((size_t)a->count + 1) * sizeof(int));
    int rc = tail == NULL || head == NULL ? 2 : 0;
    for (uint32_t k = 0; rc == 0 && k < a->count; k++) {
        tail[k] = a->tail[k] - 1, head[k] = a->head[k] - 1;
    }
    if (rc == 0) {
        rc = void__sched_mcf_lemon(
            n->nodes, (int)a->count, tail, head, a->cap, a->cost, n->supply + 1, a->flow);
    }
    free(tail);
    free(head);
    return rc == 0 ? 0 : rc == 1 ? VOID_EFULL : VOID_ENOMEM;
}

static int solve(struct net *n,
                 enum void_sched_exact_engine engine,
                 uint32_t *placement,
                 struct void_sched_exact_result *r)
{
    const struct void_sched_problem *p = n->p;
    int rc = engine == VOID_SCHED_EXACT_GLPK ? run_glpk(n) : run_lemon(n);
    if (rc != 0) {
        return rc;
    }
    /* The objective, in integers: every flow and cost is integral. */
    uint64_t sum = 0;
    for (uint32_t k = 0; k < n->a.count; k++) {
        VOID_ASSERT(n->a.flow[k] >= 0 && n->a.flow[k] <= n->a.cap[k]);
        sum += (uint64_t)n->a.flow[k] * (uint64_t)n->a.cost[k];
    }
    r->bound = (sum + n->scale - 1) / n->scale;
    int split = decode(n, placement);
    if (split < 0) {
        return VOID_ENOMEM;
    }
    struct void_sched_result check;
    r->integral = split == 0 && void_sched_evaluate(p, placement, &check) == 0;
    if (r->integral && check.cost != r->bound) {
        /* A placement cheaper than the relaxation's optimum would be a bug in
         * the network; a dearer one means the flow used a dominated path. */
        VOID_ASSERT(check.cost > r->bound);
        r->integral = 0;
    }
    return 0;
}

int void_sched_place_exact(const struct void_sched_problem *p,
                           enum void_sched_exact_engine engine,
                           uint32_t *placement,
                           struct void_sched_exact_result *r)
{
    VOID_ASSERT(p != NULL && placement != NULL);
    VOID_ASSERT(r != NULL);
    memset(r, 0, sizeof(*r));
    int rc = void_sched_validate(p);
    if (rc != 0) {
        return rc;
    }
    if (engine != VOID_SCHED_EXACT_LEMON && engine != VOID_SCHED_EXACT_GLPK) {
        return VOID_EINVAL;
    }
    struct net n = {.p = p, .scale = 1};
    for (uint32_t t = 0; t < p->task_count && n.scale <= SCALE_MAX; t++) {
        n.scale = n.scale / gcd64(n.scale, p->tasks[t].cpu) * p->tasks[t].cpu;
    }
    if (n.scale > SCALE_MAX) {
        return VOID_ERANGE;
    }
    n.dc_node = calloc(p->host_count, sizeof(int));
    n.rack_node = calloc(p->host_count, sizeof(int));
    n.mnext = malloc(p->host_count * sizeof(uint32_t));
    n.stamp_host = calloc(p->host_count, sizeof(uint32_t));
    n.stamp_rack = calloc(p->host_count, sizeof(uint32_t));
    rc = n.dc_node == NULL || n.rack_node == NULL || n.mnext == NULL || n.stamp_host == NULL ||
                 n.stamp_rack == NULL
             ? VOID_ENOMEM
             : build(&n);
    if (rc == 0) {
        r->nodes = (uint32_t)n.nodes;
        r->arcs = n.a.count;
        rc = solve(&n, engine, placement, r);
    }
    free(n.a.tail), free(n.a.head), free(n.a.cap), free(n.a.cost), free(n.a.flow);
    free(n.a.first_out), free(n.a.by_tail), free(n.supply);
    free(n.dc_node);
    free(n.rack_node);
    free(n.mnext);
    free(n.stamp_host);
    free(n.stamp_rack);
    return rc;
}
