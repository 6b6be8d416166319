/*
 * bench_sched: the scheduler's placement quality and speed (docs/scheduler.md).
 *
 * Over N generated instances (3 datacenters x 4 racks x 5-50 hosts, 1,000
 * tasks, seeds 1..N; src/sched/sched_gen.c) it places each batch with
 * annealing (seeded by the instance's seed), greedy, the exact min-cost flow
 * (LEMON network simplex, checked against GLPK out-of-kilter), a locality-blind round-robin and a
 * least-loaded placement, and prints BENCH sched_place        median cost ratio annealing / exact
 * optimum BENCH sched_place_p99    the 99th percentile of that ratio BENCH sched_anneal_time  time
 * per instance, annealing vs the exact solver BENCH sched_exact_10k    exact solver (LEMON) time at
 * 10,000 tasks x 1,000 hosts vs the 1 s goal BENCH sched_exact_10k_engine  the same, LEMON vs
 * GLPK's out-of-kilter BENCH sched_bytes_rr     input bytes moved (not local), annealing vs
 * round-robin BENCH sched_bytes_ll     the same vs least-loaded All ratios are ours / peer: lower
 * is better.
 *
 * Usage: bench_sched [--instances N] [--no-10k] [--help]
 */
#include "bench.h"
#include "void/error.h"
#include "void/sched.h"

#include <string.h>

/* Locality-blind round-robin: task i on the next host in turn that has room. */
static int place_round_robin(const struct void_sched_problem *p, uint32_t *placement)
{
    uint32_t *cpu = calloc(p->host_count, sizeof(uint32_t));
    uint64_t *mem = calloc(p->host_count, sizeof(uint64_t));
    uint32_t cursor = 0;
    int rc = cpu == NULL || mem == NULL ? -1 : 0;
    for (uint32_t h = 0; rc == 0 && h < p->host_count; h++) {
        cpu[h] = p->hosts[h].cpu_load, mem[h] = p->hosts[h].mem_load;
    }
    for (uint32_t t = 0; rc == 0 && t < p->task_count; t++) {
        const struct void_sched_task *x = &p->tasks[t];
        uint32_t k = 0;
        for (; k < p->host_count; k++, cursor = (cursor + 1) % p->host_count) {
            const struct void_sched_host *h = &p->hosts[cursor];
            if (cpu[cursor] + x->cpu <= h->cpu_capacity &&
                mem[cursor] + x->mem <= h->mem_capacity) {
                break;
            }
        }
        if (k == p->host_count) {
            rc = -1;
            break;
        }
        placement[t] = cursor;
        cpu[cursor] += x->cpu, mem[cursor] += x->mem;
        cursor = (cursor + 1) % p->host_count;
    }
    free(cpu);
    free(mem);
    return rc;
}

/* Least-loaded: each task on the host with the largest free CPU fraction. */
static int place_least_loaded(const struct void_sched_problem *p, uint32_t *placement)
{
    uint32_t *cpu = calloc(p->host_count, sizeof(uint32_t));
    uint64_t *mem = calloc(p->host_count, sizeof(uint64_t));
    int rc = cpu == NULL || mem == NULL ? -1 : 0;
    for (uint32_t h = 0; rc == 0 && h < p->host_count; h++) {
        cpu[h] = p->hosts[h].cpu_load, mem[h] = p->hosts[h].mem_load;
    }
    for (uint32_t t = 0; rc == 0 && t < p->task_count; t++) {
        const struct void_sched_task *x = &p->tasks[t];
        uint32_t best = UINT32_MAX;
        for (uint32_t h = 0; h < p->host_count; h++) {
            const struct void_sched_host *y = &p->hosts[h];
            if (cpu[h] + x->cpu > y->cpu_capacity || mem[h] + x->mem > y->mem_capacity) {
                continue;
            }
            /* free_h / cap_h > free_b / cap_b, cross-multiplied. */
            if (best == UINT32_MAX ||
                (uint64_t)(y->cpu_capacity - cpu[h]) * p->hosts[best].cpu_capacity >
                    (uint64_t)(p->hosts[best].cpu_capacity - cpu[best]) * y->cpu_capacity) {
                best = h;
            }
        }
        if (best == UINT32_MAX) {
            rc = -1;
            break;
        }
        placement[t] = best;
        cpu[best] += x->cpu, mem[best] += x->mem;
    }
    free(cpu);
    free(mem);
    return rc;
}

static double quantile(double *v, int n, int pct)
{
    qsort(v, (size_t)n, sizeof(v[0]), bench_cmp_double);
    int i = (n * pct + 99) / 100 - 1;
    return v[i < 0 ? 0 : i];
}

struct sample {
    double ratio_anneal, ratio_greedy, ms_anneal, ms_greedy, ms_exact, ms_glpk;
    double moved_anneal, moved_rr, moved_ll, moved_exact;
    double cross_rack_anneal, cross_rack_rr;
};

static void fail(const char *what, int rc)
{
    fprintf(stderr, "bench_sched: %s: %s\n", what, void_strerror(rc));
    exit(1);
}

/* Times are CPU time of this thread: the machine is shared by several
 * sessions, and CPU time is what "on one core" means. */
static uint64_t cpu_now_ns(void)
{
    struct timespec t;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
    return (uint64_t)t.tv_sec * 1000000000ull + (uint64_t)t.tv_nsec;
}

static double ms_since(uint64_t t0)
{
    return (double)(cpu_now_ns() - t0) / 1e6;
}

static void run_instance(uint64_t seed, struct sample *s)
{
    struct void_sched_gen_config gc = {.seed = seed};
    struct void_sched_instance in;
    int rc = void_sched_generate(&in, &gc);
    if (rc != 0) {
        fail("generate", rc);
    }
    const struct void_sched_problem *p = &in.problem;
    size_t len = void_sched_work_size(p);
    void *work = aligned_alloc(8, (len + 7) & ~(size_t)7);
    uint32_t *pl = malloc(p->task_count * sizeof(uint32_t));
    if (work == NULL || pl == NULL) {
        fail("alloc", VOID_ENOMEM);
    }
    struct void_sched_result ra, rg, rr, rl, re;
    struct void_sched_exact_result ex;
    uint64_t t0 = cpu_now_ns();
    rc = void_sched_place_exact(p, VOID_SCHED_EXACT_GLPK, pl, &ex);
    s->ms_glpk = ms_since(t0);
    uint64_t glpk_bound = ex.bound;
    t0 = cpu_now_ns();
    rc = rc != 0 ? rc : void_sched_place_exact(p, VOID_SCHED_EXACT_LEMON, pl, &ex);
    s->ms_exact = ms_since(t0);
    if (rc != 0 || void_sched_evaluate(p, pl, &re) != 0 || !ex.integral || ex.bound != glpk_bound) {
        fail("exact (LEMON and GLPK must agree, integral)", rc != 0 ? rc : VOID_EINTERNAL);
    }
    struct void_sched_options og = {.solver = VOID_SCHED_GREEDY};
    t0 = cpu_now_ns();
    rc = void_sched_place(p, &og, work, len, pl, &rg);
    s->ms_greedy = ms_since(t0);
    if (rc != 0) {
        fail("greedy", rc);
    }
    struct void_sched_options oa = {.solver = VOID_SCHED_ANNEAL, .seed = seed};
    t0 = cpu_now_ns();
    rc = void_sched_place(p, &oa, work, len, pl, &ra);
    s->ms_anneal = ms_since(t0);
    if (rc != 0) {
        fail("anneal", rc);
    }
    if (place_round_robin(p, pl) != 0 || void_sched_evaluate(p, pl, &rr) != 0 ||
        place_least_loaded(p, pl) != 0 || void_sched_evaluate(p, pl, &rl) != 0) {
        fail("baseline", VOID_EFULL);
    }
    s->ratio_anneal = (double)ra.cost / (double)ex.bound;
    s->ratio_greedy = (double)rg.cost / (double)ex.bound;
    s->moved_anneal = (double)ra.bytes_moved, s->moved_exact = (double)re.bytes_moved;
    s->moved_rr = (double)rr.bytes_moved, s->moved_ll = (double)rl.bytes_moved;
    s->cross_rack_anneal = (double)(ra.bytes[2] + ra.bytes[3]);
    s->cross_rack_rr = (double)(rr.bytes[2] + rr.bytes[3]);
    free(work);
    free(pl);
    void_sched_instance_fini(&in);
}

/* The exact solver at 10,000 tasks on 4 datacenters x 5 racks x 50 hosts,
 * with LEMON (three seeds, median) and once with GLPK (*glpk_s). */
static double exact_10k_seconds(double *glpk_s)
{
    double t[3];
    for (int r = 0; r < 3; r++) {
        struct void_sched_gen_config gc = {.seed = 1000 + (uint64_t)r,
                                           .datacenters = 4,
                                           .racks = 5,
                                           .hosts_min = 50,
                                           .hosts_max = 50,
                                           .tasks = 10000};
        struct void_sched_instance in;
        int rc = void_sched_generate(&in, &gc);
        uint32_t *pl = malloc(gc.tasks * sizeof(uint32_t));
        if (rc != 0 || pl == NULL) {
            fail("generate 10k", rc);
        }
        struct void_sched_exact_result ex;
        uint64_t t0 = cpu_now_ns();
        rc = void_sched_place_exact(&in.problem, VOID_SCHED_EXACT_LEMON, pl, &ex);
        t[r] = ms_since(t0) / 1e3;
        if (rc != 0) {
            fail("exact 10k", rc);
        }
        printf("exact 10k (LEMON): seed %d, %u hosts, %u nodes, %u arcs, %.3f s, integral %d, cost "
               "%llu\n",
               1000 + r,
               in.problem.host_count,
               ex.nodes,
               ex.arcs,
               t[r],
               ex.integral,
               (unsigned long long)ex.bound);
        if (r == 0) {
            struct void_sched_exact_result eg;
            t0 = cpu_now_ns();
            rc = void_sched_place_exact(&in.problem, VOID_SCHED_EXACT_GLPK, pl, &eg);
            *glpk_s = ms_since(t0) / 1e3;
            if (rc != 0 || eg.bound != ex.bound) {
                fail("exact 10k (GLPK must agree)", rc != 0 ? rc : VOID_EINTERNAL);
            }
            printf("exact 10k (GLPK okalg): seed %d, %.3f s, cost %llu\n",
                   1000 + r,
                   *glpk_s,
                   (unsigned long long)eg.bound);
        }
        free(pl);
        void_sched_instance_fini(&in);
    }
    return bench_median(t, 3);
}

int main(int argc, char **argv)
{
    int n = 100, big = 1;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--instances") == 0 && i + 1 < argc) {
            n = atoi(argv[++i]);
        } else if (strcmp(argv[i], "--no-10k") == 0) {
            big = 0;
        } else {
            printf("Usage: bench_sched [--instances N] [--no-10k]\n"
                   "Placement quality and time of the scheduler's solvers on N generated\n"
                   "instances (docs/scheduler.md); prints BENCH lines.\n\n"
                   "Options:\n"
                   "  --instances N  instances of 1,000 tasks, seeds 1..N (default 100)\n"
                   "  --no-10k       skip the exact solver at 10,000 tasks x 1,000 hosts\n"
                   "  -h, --help     this help\n\n"
                   "Example: bench_sched --instances 20 --no-10k\n");
            return strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0 ? 0 : 2;
        }
    }
    if (n < 1 || n > 1000) {
        fprintf(stderr, "bench_sched: --instances must be 1..1000\n");
        return 2;
    }
    struct sample *s = calloc((size_t)n, sizeof(*s));
    double *a = malloc((size_t)n * sizeof(double)), *b = malloc((size_t)n * sizeof(double));
    if (s == NULL || a == NULL || b == NULL) {
        return 1;
    }
    for (int i = 0; i < n; i++) {
        run_instance((uint64_t)i + 1, &s[i]);
    }
#define COLLECT(dst, field)                                                                        \
    for (int i = 0; i < n; i++) {                                                                  \
        dst[i] = s[i].field;                                                                       \
    }
    COLLECT(a, ratio_greedy);
    double gm = quantile(a, n, 50), gp = quantile(a, n, 99);
    printf("greedy / exact: median %.4f, p99 %.4f, max %.4f\n", gm, gp, a[n - 1]);
    COLLECT(a, ms_greedy);
    printf("greedy time: median %.2f ms, p99 %.2f ms\n", quantile(a, n, 50), quantile(a, n, 99));
    COLLECT(a, ratio_anneal);
    double med = quantile(a, n, 50), p99 = quantile(a, n, 99);
    printf("annealing / exact: median %.4f, p99 %.4f, max %.4f\n", med, p99, a[n - 1]);
    COLLECT(a, ms_anneal);
    COLLECT(b, ms_exact);
    double am = quantile(a, n, 50), ap = quantile(a, n, 99), em = quantile(b, n, 50);
    COLLECT(b, ms_glpk);
    printf("annealing time: median %.2f ms, p99 %.2f ms; exact median %.2f ms (LEMON), %.2f ms "
           "(GLPK)\n",
           am,
           ap,
           em,
           quantile(b, n, 50));
    double moved[4] = {0, 0, 0, 0}, cross[2] = {0, 0};
    for (int i = 0; i < n; i++) {
        moved[0] += s[i].moved_anneal, moved[1] += s[i].moved_rr;
        moved[2] += s[i].moved_ll, moved[3] += s[i].moved_exact;
        cross[0] += s[i].cross_rack_anneal, cross[1] += s[i].cross_rack_rr;
    }
    printf("bytes moved per instance: annealing %.1f GB, exact %.1f GB, round-robin %.1f GB, "
           "least-loaded %.1f GB; across racks: annealing %.1f GB, round-robin %.1f GB\n",
           moved[0] / n / 1e9,
           moved[3] / n / 1e9,
           moved[1] / n / 1e9,
           moved[2] / n / 1e9,
           cross[0] / n / 1e9,
           cross[1] / n / 1e9);
    double glpk10k = 0, e10k = big ? exact_10k_seconds(&glpk10k) : 0;
    bench_report("sched_place", "exact min-cost flow", "", med, 1.0);
    bench_report("sched_place_p99", "exact min-cost flow", "", p99, 1.0);
    bench_report("sched_anneal_time", "exact min-cost flow", "ms", am, em);
    bench_report("sched_anneal_time_p99", "goal 50 ms", "ms", ap, 50.0);
    if (big) {
        bench_report("sched_exact_10k", "goal 1 s", "s", e10k, 1.0);
        bench_report("sched_exact_10k_engine", "GLPK out-of-kilter", "s", e10k, glpk10k);
    }
    bench_report("sched_bytes_rr", "round-robin", "GB", moved[0] / n / 1e9, moved[1] / n / 1e9);
    bench_report("sched_bytes_ll", "least-loaded", "GB", moved[0] / n / 1e9, moved[2] / n / 1e9);
    free(s);
    free(a);
    free(b);
    return 0;
}
