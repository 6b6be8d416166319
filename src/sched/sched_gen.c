/*
 * Seeded generator of placement instances for the scheduler's tests and
 * bench (docs/scheduler.md, "Generated instances"). Integer arithmetic and
 * the project's xoshiro256** only, so an instance is the same on every
 * machine for the same config:
 *
 * - datacenters x racks x (hosts_min..hosts_max per rack) hosts of 8, 16, 24
 *   or 32 CPU units and 4 GiB of memory per unit, already loaded up to
 *   load_pct_max % of their CPU (and 2 GiB per busy unit of memory);
 * - objects of skewed sizes: 2^e bytes times a uniform factor in [1, 2), with
 *   e = 16 + three uniform draws of 0..6 (64 KiB to 32 GiB, a bell-shaped
 *   exponent around 32 MiB: a coarse integer log-normal), with 1 to 3
 *   replicas placed as HDFS places them (a first host, a second in another
 *   rack, a third in the second's rack);
 * - tasks of 1 to 4 inputs drawn by a Zipf law (weight 1/rank, so a few
 *   objects are hot), 1..cpu_max CPU units and up to 4 GiB of memory per unit.
 *   Memory per task never exceeds 4 GiB per CPU unit, so on these instances
 *   CPU is the binding resource and memory never is.
 */
#include "void/error.h"
#include "void/prng.h"
#include "void/sched.h"

#include <stdlib.h>
#include <string.h>

#define GIB (1ull << 30)

static void defaults(struct void_sched_gen_config *c)
{
    c->datacenters = c->datacenters ? c->datacenters : 3;
    c->racks = c->racks ? c->racks : 4;
    c->hosts_min = c->hosts_min ? c->hosts_min : 5;
    c->hosts_max = c->hosts_max ? c->hosts_max : 50;
    c->tasks = c->tasks ? c->tasks : 1000;
    c->objects = c->objects ? c->objects : 2 * c->tasks;
    c->cpu_max = c->cpu_max ? c->cpu_max : 1;
    c->load_pct_max = c->load_pct_max ? c->load_pct_max : 70;
}

static int gen_hosts(struct void_sched_instance *in,
                     const struct void_sched_gen_config *c,
                     struct void_prng *rng)
{
    uint32_t per_rack[4096], n = 0;
    if ((uint64_t)c->datacenters * c->racks > 4096) {
        return VOID_EINVAL;
    }
    for (uint32_t r = 0; r < c->datacenters * c->racks; r++) {
        per_rack[r] = (uint32_t)void_prng_range(rng, c->hosts_min, c->hosts_max);
        n += per_rack[r];
        if (n > VOID_SCHED_HOSTS_MAX) {
            return VOID_EINVAL;
        }
    }
    in->hosts = calloc(n, sizeof(*in->hosts));
    if (in->hosts == NULL) {
        return VOID_ENOMEM;
    }
    uint32_t h = 0;
    for (uint32_t d = 0; d < c->datacenters; d++) {
        uint32_t dc = h;
        for (uint32_t r = 0; r < c->racks; r++) {
            uint32_t rack = h;
            for (uint32_t i = 0; i < per_rack[d * c->racks + r]; i++, h++) {
                struct void_sched_host *x = &in->hosts[h];
                x->dc = dc, x->rack = rack, x->machine = h;
                x->cpu_capacity = 8 * (uint32_t)void_prng_range(rng, 1, 4);
                x->cpu_load =
                    (uint32_t)void_prng_below(rng, x->cpu_capacity * c->load_pct_max / 100 + 1);
                x->mem_capacity = x->cpu_capacity * 4 * GIB;
                x->mem_load = x->cpu_load * 2 * GIB;
            }
        }
    }
    in->problem.hosts = in->hosts;
    in->problem.host_count = n;
    return 0;
}

/* A host of another rack than `rack` (any host if there is only one rack). */
static uint32_t
other_rack_host(const struct void_sched_instance *in, struct void_prng *rng, uint32_t rack)
{
    uint32_t n = in->problem.host_count, h = 0;
    for (int tries = 0; tries < 64; tries++) {
        h = (uint32_t)void_prng_below(rng, n);
        if (in->hosts[h].rack != rack) {
            break;
        }
    }
    return h;
}

/* Another host of h's rack (h itself if it is alone there). */
static uint32_t
same_rack_host(const struct void_sched_instance *in, struct void_prng *rng, uint32_t h)
{
    uint32_t rack = in->hosts[h].rack, len = 0;
    while (rack + len < in->problem.host_count && in->hosts[rack + len].rack == rack) {
        len++;
    }
    if (len == 1) {
        return h;
    }
    uint32_t k = rack + (uint32_t)void_prng_below(rng, len - 1);
    return k >= h ? k + 1 : k;
}

static int gen_objects(struct void_sched_instance *in,
                       const struct void_sched_gen_config *c,
                       struct void_prng *rng)
{
    in->objects = calloc(c->objects, sizeof(*in->objects));
    in->holders = calloc((size_t)c->objects * 3, sizeof(uint32_t));
    if (in->objects == NULL || in->holders == NULL) {
        return VOID_ENOMEM;
    }
    uint32_t at = 0;
    for (uint32_t o = 0; o < c->objects; o++) {
        struct void_sched_object *obj = &in->objects[o];
        uint32_t e = 16 + (uint32_t)(void_prng_below(rng, 7) + void_prng_below(rng, 7) +
                                     void_prng_below(rng, 7));
        obj->size_bytes = (1ull << e) + void_prng_below(rng, 1ull << e);
        uint32_t replicas = (uint32_t)void_prng_range(rng, 1, 3);
        uint32_t first = (uint32_t)void_prng_below(rng, in->problem.host_count);
        uint32_t second = other_rack_host(in, rng, in->hosts[first].rack);
        uint32_t hs[3] = {first, second, same_rack_host(in, rng, second)};
        obj->holder_first = at;
        for (uint32_t k = 0; k < replicas; k++) {
            int dup = 0;
            for (uint32_t j = 0; j < k; j++) {
                dup |= hs[j] == hs[k];
            }
            if (!dup) {
                in->holders[at++] = hs[k];
            }
        }
        obj->holder_count = at - obj->holder_first;
    }
    in->problem.objects = in->objects;
    in->problem.object_count = c->objects;
    in->problem.holders = in->holders;
    in->problem.holder_count = at;
    return 0;
}

/* Draws an object index by Zipf's law from the cumulative weights cum[]. */
static uint32_t zipf(const uint64_t *cum, uint32_t n, struct void_prng *rng)
{
    uint64_t x = void_prng_below(rng, cum[n - 1]);
    uint32_t lo = 0, hi = n - 1;
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        if (cum[mid] > x) {
            hi = mid;
        } else {
            lo = mid + 1;
        }
    }
    return lo;
}

static int gen_tasks(struct void_sched_instance *in,
                     const struct void_sched_gen_config *c,
                     struct void_prng *rng)
{
    uint64_t *cum = malloc((size_t)c->objects * sizeof(uint64_t));
    in->tasks = calloc(c->tasks, sizeof(*in->tasks));
    in->inputs = calloc((size_t)c->tasks * 4, sizeof(uint32_t));
    if (cum == NULL || in->tasks == NULL || in->inputs == NULL) {
        free(cum);
        return VOID_ENOMEM;
    }
    uint64_t sum = 0;
    for (uint32_t o = 0; o < c->objects; o++) {
        sum += (1ull << 40) / (o + 1);
        cum[o] = sum;
    }
    uint32_t at = 0;
    for (uint32_t t = 0; t < c->tasks; t++) {
        struct void_sched_task *task = &in->tasks[t];
        task->cpu = (uint32_t)void_prng_range(rng, 1, c->cpu_max);
        task->mem = (uint64_t)task->cpu * void_prng_range(rng, 1, 4) * GIB;
        task->input_first = at;
        task->input_count = (uint32_t)void_prng_range(rng, 1, 4);
        for (uint32_t i = 0; i < task->input_count; i++) {
            in->inputs[at++] = zipf(cum, c->objects, rng);
        }
    }
    free(cum);
    in->problem.tasks = in->tasks;
    in->problem.task_count = c->tasks;
    in->problem.inputs = in->inputs;
    in->problem.input_count = at;
    return 0;
}

int void_sched_generate(struct void_sched_instance *in, const struct void_sched_gen_config *config)
{
    memset(in, 0, sizeof(*in));
    struct void_sched_gen_config c = *config;
    defaults(&c);
    if (c.hosts_min > c.hosts_max || c.cpu_max > 32 || c.load_pct_max > 100 ||
        c.tasks > VOID_SCHED_TASKS_MAX || c.objects > VOID_SCHED_OBJECTS_MAX) {
        return VOID_EINVAL;
    }
    struct void_prng rng;
    void_prng_seed(&rng, c.seed);
    void_sched_params_default(&in->problem.params);
    int rc = gen_hosts(in, &c, &rng);
    if (rc == 0) {
        rc = gen_objects(in, &c, &rng);
    }
    if (rc == 0) {
        rc = gen_tasks(in, &c, &rng);
    }
    return rc;
}

void void_sched_instance_fini(struct void_sched_instance *in)
{
    free(in->hosts);
    free(in->objects);
    free(in->holders);
    free(in->tasks);
    free(in->inputs);
    memset(in, 0, sizeof(*in));
}
