/*
 * Cost of taking an HLC timestamp: void_hlc_now() reading physical time
 * through a clock function over clock_gettime(CLOCK_REALTIME), against
 * clock_gettime(CLOCK_REALTIME) alone. The ratio is the HLC's overhead over
 * the clock read it cannot avoid (goal: <= 1.5).
 */
#include "bench.h"
#include "void/hlc.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#define ROUNDS 301
#define OPS    20000

static uint64_t realtime_ns(void *ctx)
{
    (void)ctx;
    struct timespec t;
    clock_gettime(CLOCK_REALTIME, &t);
    return (uint64_t)t.tv_sec * 1000000000ull + (uint64_t)t.tv_nsec;
}

static volatile uint64_t sink;

static double run_peer(void)
{
    uint64_t acc = 0;
    uint64_t t0 = bench_now_ns();
    for (int i = 0; i < OPS; i++) {
        struct timespec t;
        clock_gettime(CLOCK_REALTIME, &t);
        acc += (uint64_t)t.tv_nsec;
    }
    uint64_t t1 = bench_now_ns();
    sink += acc;
    return (double)(t1 - t0) / OPS;
}

static double run_ours(struct void_hlc *h)
{
    uint64_t acc = 0;
    uint64_t t0 = bench_now_ns();
    for (int i = 0; i < OPS; i++) {
        struct void_hlc_ts ts = void_hlc_now(h);
        acc += ts.wall_ns + ts.logical;
    }
    uint64_t t1 = bench_now_ns();
    sink += acc;
    return (double)(t1 - t0) / OPS;
}

int main(void)
{
    struct void_hlc_config cfg = {.clock = realtime_ns};
    struct void_hlc h;
    void_hlc_init(&h, &cfg);
    double ours[ROUNDS], peer[ROUNDS];
    run_peer();
    run_ours(&h); /* warm up */
    for (int r = 0; r < ROUNDS; r++) {
        if (r % 2 == 0) {
            peer[r] = run_peer();
            ours[r] = run_ours(&h);
        } else {
            ours[r] = run_ours(&h);
            peer[r] = run_peer();
        }
    }
    printf("hlc_now: %d rounds x %d calls; %llu physical-clock reads behind the last stamp\n",
           ROUNDS,
           OPS,
           (unsigned long long)h.count_backwards);
    bench_report_rounds("hlc_now", "clock_gettime", "ns", ours, peer, ROUNDS);
    return 0;
}
