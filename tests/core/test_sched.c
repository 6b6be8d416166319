/*
 * Tests of the locality-aware placement (src/core/sched.c) and its yardstick
 * (src/sched/sched_exact.c, LEMON and GLPK): determinism, capacity never exceeded over
 * many generated instances for every solver, annealing never worse than its
 * greedy start, the exact solver at most every heuristic and equal to a brute
 * force optimum on tiny instances, hand-checked costs, and bad input refused.
 */
/* clang-format off */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
/* clang-format on */

#include "void/error.h"
#include "void/prng.h"
#include "void/sched.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MIB (1ull << 20)
#define GIB (1ull << 30)

/* ---- helpers -------------------------------------------------------------- */

static void *work_for(const struct void_sched_problem *p, size_t *len)
{
    *len = void_sched_work_size(p);
    void *w = aligned_alloc(8, (*len + 7) & ~(size_t)7);
    assert_non_null(w);
    return w;
}

/* Places with one solver; asserts success. */
static void place(const struct void_sched_problem *p,
                  enum void_sched_solver solver,
                  uint64_t seed,
                  uint32_t *placement,
                  struct void_sched_result *r)
{
    size_t len;
    void *w = work_for(p, &len);
    struct void_sched_options o = {.solver = solver, .seed = seed};
    int rc = void_sched_place(p, &o, w, len, placement, r);
    if (rc != 0) {
        fprintf(stderr,
                "place: solver %d seed %llu: %s\n",
                solver,
                (unsigned long long)seed,
                void_strerror(rc));
    }
    assert_int_equal(rc, 0);
    free(w);
}

/* Capacity check written independently of void_sched_evaluate: per-host sums
 * of the demands plus the existing load. */
static void assert_within_capacity(const struct void_sched_problem *p, const uint32_t *placement)
{
    uint64_t *cpu = calloc(p->host_count, sizeof(uint64_t));
    uint64_t *mem = calloc(p->host_count, sizeof(uint64_t));
    assert_non_null(cpu);
    assert_non_null(mem);
    for (uint32_t t = 0; t < p->task_count; t++) {
        assert_true(placement[t] < p->host_count);
        cpu[placement[t]] += p->tasks[t].cpu;
        mem[placement[t]] += p->tasks[t].mem;
    }
    for (uint32_t h = 0; h < p->host_count; h++) {
        assert_true(cpu[h] + p->hosts[h].cpu_load <= p->hosts[h].cpu_capacity);
        assert_true(mem[h] + p->hosts[h].mem_load <= p->hosts[h].mem_capacity);
    }
    free(cpu);
    free(mem);
}

/* A small hand-built cluster: dc1/r1/{h0,h1}, dc1/r2/{h2}, dc2/r3/{h3}. */
struct tiny {
    struct void_sched_host hosts[4];
    struct void_sched_object objects[4];
    uint32_t holders[8];
    struct void_sched_task tasks[8];
    uint32_t inputs[16];
    struct void_sched_problem p;
};

static void tiny_init(struct tiny *x, uint32_t cpu_capacity)
{
    memset(x, 0, sizeof(*x));
    static const struct void_sched_location loc[4] = {
        {"dc1", "r1", "h0"}, {"dc1", "r1", "h1"}, {"dc1", "r2", "h2"}, {"dc2", "r3", "h3"}};
    assert_int_equal(void_sched_topology(x->hosts, loc, 4), 0);
    for (int h = 0; h < 4; h++) {
        x->hosts[h].cpu_capacity = cpu_capacity;
        x->hosts[h].mem_capacity = 16 * GIB;
    }
    x->p.hosts = x->hosts;
    x->p.host_count = 4;
    x->p.objects = x->objects;
    x->p.holders = x->holders;
    x->p.tasks = x->tasks;
    x->p.inputs = x->inputs;
    void_sched_params_default(&x->p.params);
}

static void tiny_object(struct tiny *x, uint64_t size, uint32_t holder_a, uint32_t holder_b)
{
    struct void_sched_object *o = &x->objects[x->p.object_count++];
    o->size_bytes = size;
    o->holder_first = x->p.holder_count;
    x->holders[x->p.holder_count++] = holder_a;
    if (holder_b != UINT32_MAX) {
        x->holders[x->p.holder_count++] = holder_b;
    }
    o->holder_count = x->p.holder_count - o->holder_first;
}

static void tiny_task(struct tiny *x, uint32_t cpu, uint32_t input)
{
    struct void_sched_task *t = &x->tasks[x->p.task_count++];
    t->cpu = cpu;
    t->mem = GIB;
    t->input_first = x->p.input_count;
    t->input_count = input == UINT32_MAX ? 0 : 1;
    if (input != UINT32_MAX) {
        x->inputs[x->p.input_count++] = input;
    }
}

/* The optimum by enumerating every placement (host_count^task_count). */
static uint64_t brute_force(const struct void_sched_problem *p)
{
    uint32_t pl[8] = {0};
    uint64_t best = UINT64_MAX;
    assert_true(p->task_count <= 8);
    for (;;) {
        struct void_sched_result r;
        if (void_sched_evaluate(p, pl, &r) == 0 && r.cost < best) {
            best = r.cost;
        }
        uint32_t i = 0;
        while (i < p->task_count && ++pl[i] == p->host_count) {
            pl[i++] = 0;
        }
        if (i == p->task_count) {
            return best;
        }
    }
}

/* ---- topology and cost model ---------------------------------------------- */

/* Racks are named within a datacenter and hosts within a rack: "r1" in two
 * datacenters are two racks; the same host strings are one machine. */
static void test_sched_topology_interns_names_per_level(void **state)
{
    (void)state;
    static const struct void_sched_location loc[5] = {{"dc1", "r1", "a"},
                                                      {"dc1", "r1", "b"},
                                                      {"dc2", "r1", "a"},
                                                      {"dc1", "r2", "a"},
                                                      {"dc1", "r1", "a"}};
    struct void_sched_host h[5];
    memset(h, 0, sizeof(h));
    assert_int_equal(void_sched_topology(h, loc, 5), 0);
    assert_int_equal(h[1].rack, 0);
    assert_int_equal(h[1].machine, 1);
    assert_int_equal(h[2].dc, 2);
    assert_int_equal(h[2].rack, 2);
    assert_int_equal(h[3].dc, 0);
    assert_int_equal(h[3].rack, 3);
    assert_int_equal(h[4].machine, 0);
    /* Bad names are refused. */
    char long_name[VOID_SCHED_NAME_MAX + 1];
    memset(long_name, 'x', sizeof(long_name) - 1);
    long_name[sizeof(long_name) - 1] = '\0';
    struct void_sched_location bad[1] = {{"dc1", long_name, "a"}};
    assert_int_equal(void_sched_topology(h, bad, 1), VOID_EINVAL);
    struct void_sched_location null_name[1] = {{"dc1", NULL, "a"}};
    assert_int_equal(void_sched_topology(h, null_name, 1), VOID_EINVAL);
    assert_int_equal(void_sched_topology(h, loc, 0), VOID_EINVAL);
}

/* An object of 10 MiB costs 0, 10, 100 or 1000 from the same host, rack,
 * datacenter or across (default distances); bytes are counted per class;
 * sizes round up to whole MiB. */
static void test_sched_cost_counts_bytes_by_distance(void **state)
{
    (void)state;
    struct tiny x;
    tiny_init(&x, 8);
    tiny_object(&x, 10 * MIB, 0, UINT32_MAX);
    tiny_object(&x, MIB + 1, 0, UINT32_MAX); /* 2 units */
    tiny_task(&x, 1, 0);
    tiny_task(&x, 1, 1);
    assert_int_equal(void_sched_validate(&x.p), 0);
    assert_int_equal(void_sched_task_cost(&x.p, 0, 0), 0);
    assert_int_equal(void_sched_task_cost(&x.p, 0, 1), 10);
    assert_int_equal(void_sched_task_cost(&x.p, 0, 2), 100);
    assert_int_equal(void_sched_task_cost(&x.p, 0, 3), 1000);
    assert_int_equal(void_sched_task_cost(&x.p, 1, 3), 200);
    uint32_t pl[2] = {2, 3};
    struct void_sched_result r;
    assert_int_equal(void_sched_evaluate(&x.p, pl, &r), 0);
    assert_int_equal(r.data_cost, 300);
    assert_int_equal(r.bytes[VOID_SCHED_SAME_DC], 10 * MIB);
    assert_int_equal(r.bytes[VOID_SCHED_ACROSS], MIB + 1);
    assert_int_equal(r.bytes_moved, 11 * MIB + 1);
}

/* With capacity 4 and bands 50/75/100 % priced 0/16/64: 2 tasks cost 0,
 * a third 16, a fourth 64 more; existing load counts toward the bands but its
 * own penalty is not charged to the batch. */
static void test_sched_load_penalty_follows_bands(void **state)
{
    (void)state;
    struct tiny x;
    tiny_init(&x, 4);
    tiny_object(&x, MIB, 0, UINT32_MAX);
    for (int i = 0; i < 4; i++) {
        tiny_task(&x, 1, 0);
    }
    uint32_t pl[4] = {0, 0, 0, 0};
    struct void_sched_result r;
    assert_int_equal(void_sched_evaluate(&x.p, pl, &r), 0);
    assert_int_equal(r.load_cost, 80);
    assert_int_equal(r.cost, 80);
    x.p.task_count = 2;
    x.hosts[0].cpu_load = 2;
    assert_int_equal(void_sched_evaluate(&x.p, pl, &r), 0);
    assert_int_equal(r.load_cost, 80);
    x.p.task_count = 3; /* 2 + 3 > 4 */
    assert_int_equal(void_sched_evaluate(&x.p, pl, &r), VOID_EFULL);
}

/* ---- hand-checked optimum ------------------------------------------------- */

/* Greedy's trap: the bigger task (200 MiB, held on h0 and h1) goes first and
 * takes h0, the lowest index; the smaller one (100 MiB, only on h0) must then
 * read across the rack: cost 100. The optimum swaps them: cost 0. Annealing
 * and the exact solver find it; greedy does not. Hosts have one CPU unit, so
 * every task pays the top band (64) wherever it goes. */
static void test_sched_hand_checked_optimum_beats_greedy(void **state)
{
    (void)state;
    struct tiny x;
    tiny_init(&x, 1);
    tiny_object(&x, 100 * MIB, 0, UINT32_MAX);
    tiny_object(&x, 200 * MIB, 0, 1);
    tiny_task(&x, 1, 0);
    tiny_task(&x, 1, 1);
    uint32_t pl[2];
    struct void_sched_result r;
    place(&x.p, VOID_SCHED_GREEDY, 0, pl, &r);
    assert_int_equal(pl[1], 0);
    assert_int_equal(r.data_cost, 100);
    assert_int_equal(r.cost, 100 + 2 * 64);
    place(&x.p, VOID_SCHED_ANNEAL, 1, pl, &r);
    assert_int_equal(pl[0], 0);
    assert_int_equal(pl[1], 1);
    assert_int_equal(r.cost, 2 * 64);
    struct void_sched_exact_result ex;
    assert_int_equal(void_sched_place_exact(&x.p, VOID_SCHED_EXACT_LEMON, pl, &ex), 0);
    assert_true(ex.integral);
    assert_int_equal(ex.bound, 2 * 64);
    assert_int_equal(pl[0], 0);
    assert_int_equal(pl[1], 1);
    assert_int_equal(brute_force(&x.p), 2 * 64);
}

/* On tiny random instances (4 hosts, up to 6 unit tasks, random holders and
 * sizes, capacity 1..3), the exact solver's bound equals the brute-force
 * optimum and its placement costs exactly that; annealing and greedy are
 * never below it. */
static void test_sched_exact_matches_brute_force_on_tiny_instances(void **state)
{
    (void)state;
    for (uint64_t seed = 1; seed <= 60; seed++) {
        struct void_prng rng;
        void_prng_seed(&rng, seed);
        struct tiny x;
        tiny_init(&x, (uint32_t)void_prng_range(&rng, 1, 3));
        for (int o = 0; o < 4; o++) {
            uint32_t a = (uint32_t)void_prng_below(&rng, 4), b = (uint32_t)void_prng_below(&rng, 4);
            tiny_object(&x, void_prng_range(&rng, 1, 500) * MIB, a, b == a ? UINT32_MAX : b);
        }
        uint32_t n = (uint32_t)void_prng_range(&rng, 1, 6);
        for (uint32_t t = 0; t < n && t < x.hosts[0].cpu_capacity * 4; t++) {
            tiny_task(&x, 1, (uint32_t)void_prng_below(&rng, 4));
        }
        uint64_t opt = brute_force(&x.p);
        uint32_t pl[8];
        struct void_sched_exact_result ex;
        struct void_sched_result r;
        assert_int_equal(void_sched_place_exact(&x.p, VOID_SCHED_EXACT_GLPK, pl, &ex), 0);
        assert_true(ex.integral);
        assert_int_equal(ex.bound, opt);
        assert_int_equal(void_sched_place_exact(&x.p, VOID_SCHED_EXACT_LEMON, pl, &ex), 0);
        assert_true(ex.integral);
        assert_int_equal(ex.bound, opt);
        assert_int_equal(void_sched_evaluate(&x.p, pl, &r), 0);
        assert_int_equal(r.cost, opt);
        place(&x.p, VOID_SCHED_GREEDY, seed, pl, &r);
        assert_true(r.cost >= opt);
        place(&x.p, VOID_SCHED_ANNEAL, seed, pl, &r);
        assert_true(r.cost >= opt);
    }
}

/* Memory is a capacity like CPU: two tasks of 10 GiB reading the same
 * 100 MiB object on h0 (16 GiB) cannot both run there, so one reads from the
 * rack: optimum 100, which greedy and annealing reach. The flow network does
 * not model memory: its bound (0, both on h0) stays below, and it says that
 * its flow is not a placement. */
static void test_sched_memory_binds_and_exact_reports_its_relaxation(void **state)
{
    (void)state;
    struct tiny x;
    tiny_init(&x, 8);
    tiny_object(&x, 100 * MIB, 0, UINT32_MAX);
    tiny_task(&x, 1, 0);
    tiny_task(&x, 1, 0);
    x.tasks[0].mem = x.tasks[1].mem = 10 * GIB;
    assert_int_equal(brute_force(&x.p), 100);
    uint32_t pl[2];
    struct void_sched_result r;
    place(&x.p, VOID_SCHED_GREEDY, 0, pl, &r);
    assert_int_equal(r.cost, 100);
    assert_within_capacity(&x.p, pl);
    place(&x.p, VOID_SCHED_ANNEAL, 3, pl, &r);
    assert_int_equal(r.cost, 100);
    assert_within_capacity(&x.p, pl);
    struct void_sched_exact_result ex;
    assert_int_equal(void_sched_place_exact(&x.p, VOID_SCHED_EXACT_LEMON, pl, &ex), 0);
    assert_int_equal(ex.bound, 0);
    assert_false(ex.integral);
}

/* ---- determinism ---------------------------------------------------------- */

/* Two independent runs with the same seed (separate work buffers, separately
 * generated instances) agree byte for byte; the generator too. Another seed
 * takes another path (a different count of accepted moves). */
static void test_sched_same_seed_same_placement(void **state)
{
    (void)state;
    struct void_sched_gen_config gc = {.seed = 11, .tasks = 400, .hosts_max = 20, .cpu_max = 3};
    struct void_sched_instance a, b;
    assert_int_equal(void_sched_generate(&a, &gc), 0);
    assert_int_equal(void_sched_generate(&b, &gc), 0);
    assert_memory_equal(a.hosts, b.hosts, a.problem.host_count * sizeof(a.hosts[0]));
    assert_memory_equal(a.objects, b.objects, a.problem.object_count * sizeof(a.objects[0]));
    assert_memory_equal(a.holders, b.holders, a.problem.holder_count * sizeof(uint32_t));
    assert_memory_equal(a.tasks, b.tasks, a.problem.task_count * sizeof(a.tasks[0]));
    assert_memory_equal(a.inputs, b.inputs, a.problem.input_count * sizeof(uint32_t));
    uint32_t n = a.problem.task_count;
    uint32_t *pa = calloc(n, 4), *pb = calloc(n, 4), *pc = calloc(n, 4);
    struct void_sched_result ra, rb, rc;
    memset(&ra, 0xa5, sizeof(ra));
    memset(&rb, 0x5a, sizeof(rb));
    place(&a.problem, VOID_SCHED_ANNEAL, 77, pa, &ra);
    place(&b.problem, VOID_SCHED_ANNEAL, 77, pb, &rb);
    assert_memory_equal(pa, pb, n * sizeof(uint32_t));
    assert_memory_equal(&ra, &rb, sizeof(ra));
    place(&a.problem, VOID_SCHED_ANNEAL, 78, pc, &rc);
    assert_int_not_equal(ra.accepted, rc.accepted);
    free(pa);
    free(pb);
    free(pc);
    void_sched_instance_fini(&a);
    void_sched_instance_fini(&b);
}

/* ---- properties over generated instances ----------------------------------- */

/* Over many generated instances, tight (existing load up to 95 %, 1-4 CPU
 * units per task) and loose: no solver ever exceeds a host's CPU or memory;
 * annealing is never worse than greedy; the exact solver's bound is at most
 * every heuristic's cost, and when its flow is a placement, that placement
 * also respects capacity and costs the bound. */
static void test_sched_properties_over_generated_instances(void **state)
{
    (void)state;
    int integral = 0, runs = 0;
    for (uint64_t seed = 1; seed <= 24; seed++) {
        struct void_sched_gen_config gc = {.seed = seed,
                                           .tasks = 150 + (uint32_t)(seed * 13 % 150),
                                           .hosts_min = 2,
                                           .hosts_max = 12,
                                           .cpu_max = seed % 2 ? 1 : 4,
                                           .load_pct_max = seed % 3 ? 95 : 60};
        struct void_sched_instance in;
        assert_int_equal(void_sched_generate(&in, &gc), 0);
        const struct void_sched_problem *p = &in.problem;
        uint32_t *pl = calloc(p->task_count, 4);
        struct void_sched_result rg, ra;
        size_t len;
        void *w = work_for(p, &len);
        struct void_sched_options og = {.solver = VOID_SCHED_GREEDY};
        int rc = void_sched_place(p, &og, w, len, pl, &rg);
        free(w);
        if (rc == VOID_EFULL) {
            /* Too tight for greedy's packing: every solver must say so or
             * fit; nothing may overfill. */
            free(pl);
            void_sched_instance_fini(&in);
            continue;
        }
        assert_int_equal(rc, 0);
        runs++;
        assert_within_capacity(p, pl);
        place(p, VOID_SCHED_ANNEAL, seed, pl, &ra);
        assert_within_capacity(p, pl);
        assert_true(ra.cost <= rg.cost);
        struct void_sched_exact_result ex;
        struct void_sched_exact_result eg;
        assert_int_equal(void_sched_place_exact(p, VOID_SCHED_EXACT_GLPK, pl, &eg), 0);
        assert_int_equal(void_sched_place_exact(p, VOID_SCHED_EXACT_LEMON, pl, &ex), 0);
        assert_int_equal(eg.bound, ex.bound); /* two engines, one optimum */
        assert_true(ex.bound <= ra.cost);
        assert_true(ex.bound <= rg.cost);
        if (ex.integral) {
            integral++;
            struct void_sched_result re;
            assert_within_capacity(p, pl);
            assert_int_equal(void_sched_evaluate(p, pl, &re), 0);
            assert_int_equal(re.cost, ex.bound);
        }
        if (gc.cpu_max == 1) {
            /* One unit per task: a transportation problem, integral. */
            assert_true(ex.integral);
        }
        free(pl);
        void_sched_instance_fini(&in);
    }
    /* The property must have been exercised, not skipped. */
    assert_true(runs >= 18);
    assert_true(integral >= runs / 2);
}

/* ---- bad input ------------------------------------------------------------ */

static int place_rc(const struct void_sched_problem *p)
{
    size_t len = void_sched_work_size(p);
    void *w = aligned_alloc(8, ((len + 7) & ~(size_t)7) + 8);
    uint32_t pl[8];
    struct void_sched_result r;
    struct void_sched_options o = {.solver = VOID_SCHED_ANNEAL, .seed = 1};
    int rc = void_sched_place(p, &o, w, len, pl, &r);
    struct void_sched_exact_result ex;
    int rc_exact = void_sched_place_exact(p, VOID_SCHED_EXACT_LEMON, pl, &ex);
    int rc_glpk = void_sched_place_exact(p, VOID_SCHED_EXACT_GLPK, pl, &ex);
    free(w);
    assert_int_equal(rc, rc_exact); /* every entry point refuses alike */
    assert_int_equal(rc, rc_glpk);
    return rc;
}

/* A task larger than any host, an unknown input, an object nobody holds, a
 * holder that is not a host, zero hosts, a task of 0 CPU, distances that
 * shrink with distance, more demand than free capacity: each refused with its
 * code by the heuristics and the exact solver alike. */
static void test_sched_refuses_bad_input(void **state)
{
    (void)state;
    struct tiny x;
    tiny_init(&x, 2);
    tiny_object(&x, MIB, 0, UINT32_MAX);
    tiny_task(&x, 1, 0);
    assert_int_equal(place_rc(&x.p), 0);

    x.tasks[0].cpu = 3; /* every host has 2 */
    assert_int_equal(place_rc(&x.p), VOID_ERANGE);
    x.tasks[0].cpu = 1;
    x.tasks[0].mem = 17 * GIB; /* every host has 16 GiB */
    assert_int_equal(place_rc(&x.p), VOID_ERANGE);
    x.tasks[0].mem = GIB;

    x.inputs[0] = 5; /* only one object */
    assert_int_equal(place_rc(&x.p), VOID_ENOTFOUND);
    x.inputs[0] = 0;
    x.holders[0] = 9; /* not a host */
    assert_int_equal(place_rc(&x.p), VOID_ENOTFOUND);
    x.holders[0] = 0;
    x.objects[0].holder_count = 0;
    assert_int_equal(place_rc(&x.p), VOID_ENOTFOUND);
    x.objects[0].holder_count = 1;

    x.p.host_count = 0;
    assert_int_equal(void_sched_validate(&x.p), VOID_EINVAL);
    x.p.host_count = 4;
    x.tasks[0].cpu = 0;
    assert_int_equal(place_rc(&x.p), VOID_EINVAL);
    x.tasks[0].cpu = 1;
    x.p.params.distance[VOID_SCHED_SAME_DC] = 0;
    assert_int_equal(place_rc(&x.p), VOID_EINVAL);
    void_sched_params_default(&x.p.params);
    x.hosts[2].cpu_load = 3; /* above its capacity */
    assert_int_equal(place_rc(&x.p), VOID_EINVAL);
    x.hosts[2].cpu_load = 0;

    for (int i = 0; i < 4; i++) {
        x.hosts[i].cpu_load = i < 3 ? 2 : 1;
    }
    tiny_task(&x, 2, 0); /* fits an empty host, but 1 unit is free in all */
    assert_int_equal(place_rc(&x.p), VOID_EFULL);

    /* A short or missing work buffer, an unknown solver. */
    x.p.task_count = 1;
    size_t len = void_sched_work_size(&x.p);
    void *w = aligned_alloc(8, (len + 7) & ~(size_t)7);
    uint32_t pl[8];
    struct void_sched_result r;
    struct void_sched_options o = {.solver = VOID_SCHED_GREEDY};
    assert_int_equal(void_sched_place(&x.p, &o, w, len - 8, pl, &r), VOID_EINVAL);
    assert_int_equal(void_sched_place(&x.p, &o, NULL, len, pl, &r), VOID_EINVAL);
    o.solver = (enum void_sched_solver)9;
    assert_int_equal(void_sched_place(&x.p, &o, w, len, pl, &r), VOID_EINVAL);
    free(w);
    struct void_sched_exact_result ex;
    assert_int_equal(void_sched_place_exact(&x.p, (enum void_sched_exact_engine)7, pl, &ex),
                     VOID_EINVAL);
    /* A placement naming no host. */
    pl[0] = 4;
    assert_int_equal(void_sched_evaluate(&x.p, pl, &r), VOID_ERANGE);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sched_topology_interns_names_per_level),
        cmocka_unit_test(test_sched_cost_counts_bytes_by_distance),
        cmocka_unit_test(test_sched_load_penalty_follows_bands),
        cmocka_unit_test(test_sched_hand_checked_optimum_beats_greedy),
        cmocka_unit_test(test_sched_exact_matches_brute_force_on_tiny_instances),
        cmocka_unit_test(test_sched_memory_binds_and_exact_reports_its_relaxation),
        cmocka_unit_test(test_sched_same_seed_same_placement),
        cmocka_unit_test(test_sched_properties_over_generated_instances),
        cmocka_unit_test(test_sched_refuses_bad_input),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
