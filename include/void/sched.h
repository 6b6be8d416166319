/*
 * Locality-aware task placement (DESIGN.md section 7, docs/scheduler.md).
 *
 * A batch of waiting tasks is placed on hosts so that the cost
 *
 *     sum over tasks t, inputs o of t:  units(o) * distance(nearest holder of o, host of t)
 *   + sum over hosts h:                 P_h(cpu used after the batch) - P_h(cpu used before)
 *
 * is small while no host's CPU or memory capacity is exceeded. units(o) is the
 * object's size in bytes divided by 2^unit_shift, rounded up (MiB by default);
 * distance is 0 on the same host, 1 in the same rack, 10 in the same
 * datacenter and 100 across datacenters by default; P_h is a convex,
 * piecewise linear load penalty whose per-CPU-unit price rises in bands of
 * utilisation (0 up to 50 %, 16 up to 75 %, 64 above by default).
 *
 * Every cost is an unsigned 64-bit integer and every choice is made by integer
 * comparison or by the seeded PRNG of include/void/prng.h, so that every
 * replica computes the same placement for the same batch and seed (the
 * sequence number of the batch). Nothing here reads a clock, allocates, or
 * uses floating point: the solvers of void_sched_place() work in a buffer the
 * caller provides (void_sched_work_size()).
 *
 * Solvers of the replicated path (libvoid, src/core/sched.c):
 *   VOID_SCHED_GREEDY  tasks by input size, largest first, each on the host of
 *                      least marginal cost that has room;
 *   VOID_SCHED_ANNEAL  simulated annealing from the greedy placement, with an
 *                      integer Metropolis rule; returns the best placement seen,
 *                      so it is never worse than greedy.
 * The yardstick (libvoidsched, src/sched/, linked by the tests and the bench,
 * never by a replica): void_sched_place_exact(), a min-cost flow solved by
 * LEMON's network simplex or GLPK's out-of-kilter; and void_sched_generate(),
 * the seeded instance generator.
 */
#ifndef VOID_SCHED_H
#define VOID_SCHED_H

#include <stddef.h>
#include <stdint.h>

#define VOID_SCHED_HOSTS_MAX    65536u     /* hosts in one problem */
#define VOID_SCHED_TASKS_MAX    (1u << 20) /* tasks in one batch */
#define VOID_SCHED_OBJECTS_MAX  (1u << 22) /* input objects of one batch */
#define VOID_SCHED_BANDS        3          /* load-penalty bands */
#define VOID_SCHED_CLASSES      4          /* distance classes: host, rack, datacenter, across */
#define VOID_SCHED_DISTANCE_MAX 1000000u   /* largest configurable distance */
#define VOID_SCHED_NAME_MAX     64         /* bytes of a location name, NUL included */

enum void_sched_class {
    VOID_SCHED_SAME_HOST = 0,
    VOID_SCHED_SAME_RACK = 1,
    VOID_SCHED_SAME_DC = 2,
    VOID_SCHED_ACROSS = 3,
};

/* Where a member runs, as in its [replica] section (datacenter, rack, host).
 * Empty strings are names like any other: members that leave all three empty
 * share one host. */
struct void_sched_location {
    const char *datacenter;
    const char *rack;
    const char *host;
};

/* One host (a member that can run tasks). dc, rack and machine are interned
 * ids filled by void_sched_topology(): two hosts are on the same machine,
 * rack or datacenter exactly when these ids are equal. */
struct void_sched_host {
    uint32_t dc;
    uint32_t rack;
    uint32_t machine;
    uint32_t cpu_capacity; /* CPU units (e.g. cores) */
    uint32_t cpu_load;     /* units already in use, <= cpu_capacity */
    uint64_t mem_capacity; /* bytes */
    uint64_t mem_load;     /* bytes already in use, <= mem_capacity */
};

/* An input object: its size and the hosts that hold a replica of it,
 * holders[holder_first .. holder_first + holder_count) of the problem. */
struct void_sched_object {
    uint64_t size_bytes;
    uint32_t holder_first;
    uint32_t holder_count;
};

/* A task: its demand and its inputs, inputs[input_first .. +input_count). */
struct void_sched_task {
    uint32_t cpu; /* CPU units, >= 1 */
    uint64_t mem; /* bytes */
    uint32_t input_first;
    uint32_t input_count;
};

struct void_sched_params {
    /* Distance by class (enum void_sched_class); must not decrease from
     * same host to across (the exact solver's network relies on it). */
    uint32_t distance[VOID_SCHED_CLASSES];
    /* Bytes are charged in units of 2^unit_shift bytes, rounded up per
     * object (20: MiB). At most 40. */
    uint32_t unit_shift;
    /* Band i covers CPU utilisation above band_pct[i-1] % up to band_pct[i] %
     * of a host's capacity (band_pct[-1] = 0, band_pct[last] = 100) and costs
     * band_cost[i] per CPU unit; costs must not decrease (convex penalty). */
    uint32_t band_pct[VOID_SCHED_BANDS];
    uint64_t band_cost[VOID_SCHED_BANDS];
};

/* A batch to place. Every pointer is borrowed for the duration of a call. */
struct void_sched_problem {
    const struct void_sched_host *hosts;
    uint32_t host_count;
    const struct void_sched_object *objects;
    uint32_t object_count;
    const uint32_t *holders; /* host indices */
    uint32_t holder_count;
    const struct void_sched_task *tasks;
    uint32_t task_count;
    const uint32_t *inputs; /* object indices */
    uint32_t input_count;
    struct void_sched_params params;
};

enum void_sched_solver {
    VOID_SCHED_GREEDY = 1,
    VOID_SCHED_ANNEAL = 2,
};

struct void_sched_options {
    enum void_sched_solver solver;
    uint64_t seed;       /* annealing: the batch's sequence number */
    uint32_t iterations; /* annealing moves; 0: 200 per task */
};

/* What a placement costs and moves. */
struct void_sched_result {
    uint64_t cost;      /* data_cost + load_cost */
    uint64_t data_cost; /* sum of units * distance */
    uint64_t load_cost; /* sum of P_h(after) - P_h(before) */
    /* Input bytes read by class of the nearest holder: bytes[0] are local. */
    uint64_t bytes[VOID_SCHED_CLASSES];
    uint64_t bytes_moved; /* bytes[1] + bytes[2] + bytes[3] */
    uint32_t accepted;    /* annealing: moves accepted */
    uint64_t greedy_cost; /* void_sched_place: greedy's cost (annealing's start) */
};

/* The defaults: distances 0/1/10/100, MiB units, bands 50/75/100 % priced
 * 0/16/64 per CPU unit. Cannot fail. */
void void_sched_params_default(struct void_sched_params *params);

/* Fills hosts[i].dc, .rack and .machine from locations[i] for i < n, leaving
 * the other fields alone: the id of a datacenter (rack, machine) is the index
 * of the first host in it. Racks are named within their datacenter, machines
 * within their rack. Both arrays are borrowed. O(n^2) string comparisons.
 * Returns 0, or VOID_EINVAL if n is 0 or above VOID_SCHED_HOSTS_MAX, or a name
 * is NULL or VOID_SCHED_NAME_MAX bytes or longer. */
int void_sched_topology(struct void_sched_host *hosts,
                        const struct void_sched_location *locations,
                        uint32_t n);

/* Checks a problem. Returns 0, or
 *   VOID_EINVAL   no hosts or no tasks, a count above its limit, a host loaded
 *                 above its capacity, a task demanding 0 CPU, bad topology ids,
 *                 parameters out of their rules;
 *   VOID_ENOTFOUND a task names an input that is not in objects[], or an
 *                 object has no holder or a holder that is not a host;
 *   VOID_ERANGE   a task's CPU or memory demand fits no host even when empty,
 *                 or the costs could overflow 64 bits. */
int void_sched_validate(const struct void_sched_problem *problem);

/* Bytes of work buffer void_sched_place() needs for this problem (the
 * problem must have passed void_sched_validate()). Cannot fail. */
size_t void_sched_work_size(const struct void_sched_problem *problem);

/* Places every task: placement[t] becomes the host index of task t. work is a
 * buffer of work_len >= void_sched_work_size() bytes, borrowed for the call;
 * placement (task_count entries) and result are written. The same problem,
 * options and seed give the same placement, byte for byte, on every machine.
 * Returns 0, an error of void_sched_validate(), VOID_EINVAL for a bad solver
 * or a short buffer, or VOID_EFULL when the greedy start finds no host with
 * room for some task (the tasks then wait for capacity). */
int void_sched_place(const struct void_sched_problem *problem,
                     const struct void_sched_options *options,
                     void *work,
                     size_t work_len,
                     uint32_t *placement,
                     struct void_sched_result *result);

/* Cost of a given placement, and its check. Returns 0, VOID_ERANGE if a
 * placement entry is not a host, or VOID_EFULL if some host's CPU or memory
 * would exceed its capacity (result is still filled). The problem must have
 * passed void_sched_validate(). */
int void_sched_evaluate(const struct void_sched_problem *problem,
                        const uint32_t *placement,
                        struct void_sched_result *result);

/* Data cost of running task t on host h: sum of units * distance to the
 * nearest holder of each input. Cannot fail on a validated problem. */
uint64_t void_sched_task_cost(const struct void_sched_problem *problem, uint32_t t, uint32_t h);

/* ---- libvoidsched (src/sched/): the yardstick and the generator ---------- */

struct void_sched_exact_result {
    /* The optimum of the min-cost flow relaxation (docs/scheduler.md): a lower
     * bound on the cost of every feasible placement. */
    uint64_t bound;
    /* 1 when the flow's optimum is itself a placement (every task sent whole
     * to one host, memory within capacity): then placement[] holds it and
     * bound is its cost, the true optimum. 0 otherwise (placement undefined). */
    int integral;
    uint32_t arcs; /* size of the network */
    uint32_t nodes;
};

/* Min-cost flow engines: both solve the same network to the same optimum. */
enum void_sched_exact_engine {
    VOID_SCHED_EXACT_LEMON = 1, /* LEMON's network simplex: the fast one */
    VOID_SCHED_EXACT_GLPK = 2,  /* GLPK's out-of-kilter (glp_mincost_okalg) */
};

/* Solves the placement as a min-cost flow (docs/scheduler.md, "The exact
 * solver") with the given engine. placement has task_count entries.
 * Allocates and is not for replicas. Returns 0, an error of
 * void_sched_validate(), VOID_EINVAL for an unknown engine, VOID_EFULL if the
 * free CPU cannot take the batch, VOID_ERANGE if an arc's scaled cost exceeds
 * 2^29 - 1 (raise unit_shift) or the demands' lcm exceeds 720720,
 * VOID_ENOMEM, or VOID_EINTERNAL if GLPK fails otherwise. */
int void_sched_place_exact(const struct void_sched_problem *problem,
                           enum void_sched_exact_engine engine,
                           uint32_t *placement,
                           struct void_sched_exact_result *result);

struct void_sched_gen_config {
    uint64_t seed;
    uint32_t datacenters;  /* default 3 */
    uint32_t racks;        /* per datacenter, default 4 */
    uint32_t hosts_min;    /* per rack, default 5 */
    uint32_t hosts_max;    /* per rack, default 50 */
    uint32_t tasks;        /* default 1000 */
    uint32_t objects;      /* default 2 * tasks */
    uint32_t cpu_max;      /* a task demands 1..cpu_max CPU units; default 1 */
    uint32_t load_pct_max; /* existing load up to this % of capacity, default 70 */
};

/* A generated instance; everything is owned by the instance. */
struct void_sched_instance {
    struct void_sched_problem problem;
    struct void_sched_host *hosts;
    struct void_sched_object *objects;
    uint32_t *holders;
    struct void_sched_task *tasks;
    uint32_t *inputs;
};

/* Generates an instance (docs/scheduler.md, "Generated instances"): the same
 * config gives the same instance, byte for byte. Zero fields of config take
 * their defaults. Returns 0, VOID_EINVAL for a config out of range, or
 * VOID_ENOMEM. void_sched_instance_fini() is safe after a failure. */
int void_sched_generate(struct void_sched_instance *instance,
                        const struct void_sched_gen_config *config);
void void_sched_instance_fini(struct void_sched_instance *instance);

#endif
